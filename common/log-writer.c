/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include <glib.h>

#include "log-writer.h"

static const char *level_prefix(GLogLevelFlags level) {
        if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
                return "error: ";
        if (level & G_LOG_LEVEL_WARNING)
                return "warning: ";
        if (level & G_LOG_LEVEL_DEBUG)
                return "debug: ";
        return "";
}

static GLogWriterOutput write_log(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                  gpointer user_data) {
        if (g_log_writer_is_journald(fileno(stderr)))
                return g_log_writer_journald(level, fields, n_fields, user_data);
        /* Debug messages only with G_MESSAGES_DEBUG, as GLib's own writer does; the services log
         * without a domain of their own. */
        if (g_log_writer_default_would_drop(level, /* log_domain= */ NULL))
                return G_LOG_WRITER_HANDLED;
        for (gsize i = 0; i < n_fields; i++)
                if (g_str_equal(fields[i].key, "MESSAGE")) {
                        fprintf(stderr, "%s%s\n", level_prefix(level), (const char *) fields[i].value);
                        fflush(stderr);
                        break;
                }
        return G_LOG_WRITER_HANDLED;
}

void log_writer_install(void) {
        g_log_set_writer_func(write_log, NULL, NULL);
}
