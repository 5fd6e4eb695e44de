/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* GLib's criticals and warnings end the run with abort(), which libFuzzer reports as a crash
 * with its input (GLib's own fatal logs raise SIGTRAP, which libFuzzer does not catch). A
 * g_return_if_fail() that fires is a bug of its caller. */

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

static inline void fuzz_glib_fatal(GLogLevelFlags level, const char *domain, const char *message) {
        if (!(level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)))
                return;
        fprintf(stderr, "%s: %s\n", domain ? domain : "(no domain)", message ? message : "");
        abort();
}

static inline void fuzz_glib_log_handler(const gchar *domain, GLogLevelFlags level, const gchar *message,
                                         gpointer user_data) {
        fuzz_glib_fatal(level, domain, message);
}

static inline GLogWriterOutput fuzz_glib_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                                    gpointer user_data) {
        const char *domain = NULL, *message = NULL;

        for (gsize i = 0; i < n_fields; i++) {
                if (g_str_equal(fields[i].key, "GLIB_DOMAIN"))
                        domain = fields[i].value;
                else if (g_str_equal(fields[i].key, "MESSAGE"))
                        message = fields[i].value;
        }
        fuzz_glib_fatal(level, domain, message);
        return G_LOG_WRITER_HANDLED;
}

static inline void fuzz_glib_init(void) {
        g_log_set_default_handler(fuzz_glib_log_handler, NULL);
        g_log_set_writer_func(fuzz_glib_log_writer, NULL, NULL);
}
