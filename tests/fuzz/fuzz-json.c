/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The typed JSON mapping of ValueSets (common/valueset-json.h): what the MQTT bridge reads from
 * the cloud (an action's JSON payload) goes through valueset_json_parse().
 *
 * Input: the JSON text as it is. Checks beyond "no crash, no sanitizer finding": a failure has
 * an error of VALUESET_JSON_ERROR with a message; a result is a non-floating a{sv} whose keys
 * keep the ValueSet rules, that nests at most VALUESET_JSON_MAX_DEPTH containers, holds no h,
 * and that writes (valueset_json_print()) as UTF-8 JSON that parses back to the same value, which
 * writes as the same text. GLib criticals are fatal. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-glib.h"
#include "valueset-json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_glib_init();
        return 0;
}

/* The deepest nesting of containers in @value, counting @value itself if it is one. */
static guint depth_of(GVariant *value) {
        guint deepest = 0;
        GVariantIter iter;
        GVariant *child;

        if (!g_variant_is_container(value))
                return 0;
        /* An empty container still counts its type's nesting, as the broker does. */
        if (g_variant_n_children(value) == 0) {
                const char *type = g_variant_get_type_string(value);
                guint d = 0;

                for (const char *c = type; *c && (*c == 'a' || *c == 'm'); c++)
                        d++;
                return MAX(d, 1);
        }
        g_variant_iter_init(&iter, value);
        while ((child = g_variant_iter_next_value(&iter))) {
                guint d = depth_of(child); /* not inside MAX(), which would call it twice */

                deepest = MAX(deepest, d);
                g_variant_unref(child);
        }
        return deepest + 1;
}

static void check_keys(GVariant *value) {
        GVariantIter iter;
        GVariant *child;

        if (g_variant_is_of_type(value, G_VARIANT_TYPE_VARDICT)) {
                g_autoptr(GHashTable) keys = g_hash_table_new(g_str_hash, g_str_equal);
                const char *key;
                GVariant *v;

                g_variant_iter_init(&iter, value);
                while (g_variant_iter_next(&iter, "{&sv}", &key, &v)) {
                        size_t length = strlen(key);

                        if (length == 0 || length > VALUESET_JSON_MAX_KEY || !g_hash_table_add(keys, (gpointer) key)) {
                                fprintf(stderr, "a ValueSet key breaks the rules: '%s'\n", key);
                                abort();
                        }
                        g_variant_unref(v);
                }
        }
        if (!g_variant_is_container(value))
                return;
        g_variant_iter_init(&iter, value);
        while ((child = g_variant_iter_next_value(&iter))) {
                check_keys(child);
                g_variant_unref(child);
        }
}

static void check_value_set(GVariant *value_set) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) again = NULL;
        g_autofree char *json = NULL;
        g_autofree char *json_again = NULL;

        if (g_variant_is_floating(value_set) || !g_variant_is_of_type(value_set, G_VARIANT_TYPE_VARDICT) ||
            !g_variant_is_normal_form(value_set))
                abort();
        if (depth_of(value_set) > VALUESET_JSON_MAX_DEPTH) {
                fprintf(stderr, "nests %u deep\n", depth_of(value_set));
                abort();
        }
        check_keys(value_set);

        json = valueset_json_print(value_set);
        if (!g_utf8_validate(json, -1, NULL))
                abort();
        again = valueset_json_parse(json, -1, &error);
        if (!again) {
                fprintf(stderr, "written JSON does not parse back: %s\n%s\n", error->message, json);
                abort();
        }
        if (!g_variant_equal(value_set, again)) {
                fprintf(stderr, "written JSON parses back to another value:\n%s\n", json);
                abort();
        }
        json_again = valueset_json_print(again);
        if (!g_str_equal(json, json_again))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) value_set = NULL;

        value_set = valueset_json_parse((const char *) data, (gssize) size, &error);
        if (!value_set) {
                if (!error || error->domain != VALUESET_JSON_ERROR || !error->message || !*error->message)
                        abort();
                return 0;
        }
        if (error)
                abort();
        check_value_set(value_set);
        return 0;
}
