/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What appservicectl makes of its command line: KEY=VALUE words through
 * app_service_value_set_new_from_assignments() (ctl_message_new()), ValueSet texts through
 * app_service_value_set_parse(), and the JSON it prints of a ValueSet (--json).
 *
 * Input: a mode byte, then the text; in assignment mode the words are separated by NUL bytes.
 * Whatever parses must be a valid ValueSet, print as text that parses back to the same value,
 * and print as JSON (common/valueset-json.h) that is valid UTF-8. GLib criticals are fatal: a g_return_if_fail() that
 * fires is a bug of the caller. */

#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "appservicectl.h"
#include "fuzz-glib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_glib_init();
        return 0;
}

static void check_value_set(GVariant *value_set) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) again = NULL;
        g_autoptr(GString) json = g_string_new(NULL);
        g_autofree gchar *text = NULL;
        GVariantIter iter;
        const gchar *key;
        GVariant *value;

        if (!g_variant_is_of_type(value_set, G_VARIANT_TYPE_VARDICT) ||
            !app_service_value_set_is_valid(value_set, &error))
                abort();

        /* "which app_service_value_set_parse() reads back to the same value" */
        text = app_service_value_set_print(value_set);
        again = app_service_value_set_parse(text, &error);
        if (!again) {
                fprintf(stderr, "printed ValueSet does not parse back: %s\n%s\n", error->message, text);
                abort();
        }
        if (!g_variant_equal(value_set, again)) {
                g_autofree gchar *text_again = app_service_value_set_print(again);
                fprintf(stderr, "printed ValueSet parses back to another value:\n%s\n%s\n", text, text_again);
                abort();
        }

        valueset_json_append(json, value_set);
        if (!g_utf8_validate(json->str, json->len, NULL))
                abort();

        g_variant_iter_init(&iter, value_set);
        while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
                gboolean b;
                gint64 i;
                guint64 u;
                gdouble d;

                (void) app_service_value_set_get_string(value_set, key);
                (void) app_service_value_set_get_boolean(value_set, key, &b);
                (void) app_service_value_set_get_int64(value_set, key, &i);
                (void) app_service_value_set_get_uint64(value_set, key, &u);
                (void) app_service_value_set_get_double(value_set, key, &d);
                (void) app_service_value_set_contains_null(value_set, key);
                g_variant_unref(app_service_value_set_lookup(value_set, key, NULL));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) value_set = NULL;

        if (size < 1)
                return 0;

        if (data[0] & 1) {
                g_autofree gchar *text = g_strndup((const gchar *) data + 1, size - 1);

                value_set = app_service_value_set_parse(text, &error);
        } else {
                /* The words of a command line: NUL-separated, as argv has them. */
                g_autoptr(GPtrArray) words = g_ptr_array_new_with_free_func(g_free);
                const gchar *p = (const gchar *) data + 1, *end = (const gchar *) data + size;

                while (p < end) {
                        const gchar *nul = memchr(p, '\0', end - p);
                        size_t n = nul ? (size_t) (nul - p) : (size_t) (end - p);

                        g_ptr_array_add(words, g_strndup(p, n));
                        p += n + 1;
                }
                g_ptr_array_add(words, NULL);
                value_set = app_service_value_set_new_from_assignments((const gchar *const *) words->pdata, &error);
        }

        if (!value_set) {
                if (!error || !error->message[0])
                        abort();
                return 0;
        }
        check_value_set(value_set);
        return 0;
}
