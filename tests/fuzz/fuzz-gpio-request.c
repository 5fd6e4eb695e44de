/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The GPIO service's requests: protocol_handle() on a device directory without chips, which reads
 * every argument (Action, Line, Lines, Chip, the line settings, Values) before it looks for a
 * chip, and the argument readers on their own.
 *
 * Input: a mode byte, then a ValueSet, either in the GVariant text format or serialized as GVariant
 * (what GDBus hands the service, from bytes a client chose). */

#include <glib/gstdio.h>
#include <stdint.h>
#include <stdlib.h>

#include "args.h"
#include "fuzz-glib.h"
#include "protocol.h"
#include "settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char *dev_dir;
static Chips *chips;
static Client *client;

static void on_removed(const char *name, gpointer user_data) {
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        Limits limits = LIMITS_DEFAULT;
        g_autoptr(GError) error = NULL;

        fuzz_glib_init();
        dev_dir = g_dir_make_tmp("fuzz-gpio-XXXXXX", &error);
        if (!dev_dir)
                abort();
        chips = chips_new(dev_dir, on_removed, NULL, &error);
        if (!chips)
                abort();
        client = client_new(/* connection= */ NULL, &limits);
        return 0;
}

/* A response is a ValueSet with Status "ok", or "error" with Error and a non-empty Message. */
static void check_response(GVariant *response) {
        const char *status = NULL, *error = NULL, *message = NULL;

        if (!response || !g_variant_is_of_type(response, G_VARIANT_TYPE_VARDICT) ||
            !g_variant_lookup(response, "Status", "&s", &status))
                abort();
        if (g_str_equal(status, "ok"))
                return;
        if (!g_str_equal(status, "error") || !g_variant_lookup(response, "Error", "&s", &error) ||
            !g_variant_lookup(response, "Message", "&s", &message) || !message[0] ||
            !g_utf8_validate(message, -1, NULL))
                abort();
}

static void read_arguments(GVariant *message) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GArray) lines = NULL, values = NULL;
        g_auto(LineRef) line = {};
        LineSettings settings;

        if (!args_lookup_lines(message, "Lines", &lines, &error)) {
                if (!error)
                        abort();
                g_clear_error(&error);
        }
        if (!args_lookup_line(message, "Line", &line, &error)) {
                if (!error)
                        abort();
                g_clear_error(&error);
        }
        if (!line_settings_parse(message, &settings, &error)) {
                if (!error)
                        abort();
                g_clear_error(&error);
        }
        if (!values_parse(message, 4, TRUE, FALSE, &values, &error)) {
                if (!error)
                        abort();
                g_clear_error(&error);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GVariant) message = NULL, response = NULL;

        if (size < 1)
                return 0;

        if (data[0] & 1) {
                g_autofree gchar *text = g_strndup((const gchar *) data + 1, size - 1);

                /* GDBus hands the service UTF-8 strings only (and g_variant_parse() wants it). */
                if (!g_utf8_validate(text, -1, NULL))
                        return 0;
                message = g_variant_parse(G_VARIANT_TYPE_VARDICT, text, NULL, NULL, NULL);  /* not floating */
        } else {
                /* Serialized GVariant, untrusted: GLib brings it to normal form. */
                g_autoptr(GBytes) bytes = g_bytes_new(data + 1, size - 1);
                message = g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE_VARDICT, bytes,
                                                                      /* trusted= */ FALSE));
        }
        if (!message)
                return 0;

        response = protocol_handle(chips, client, message);
        check_response(response);
        read_arguments(message);
        return 0;
}
