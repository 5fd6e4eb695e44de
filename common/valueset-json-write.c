/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The writer of the typed JSON mapping: ValueSets as JSON, with the GVariant type written out
 * wherever JSON alone would be ambiguous (valueset-json-parse.c reads it back).
 *
 * A ValueSet is an object, one member per key. Each value is written as:
 *   - s                        a string
 *   - b                        true or false
 *   - null (@av [])            null
 *   - a{sv} (a ValueSet)       an object, the same way (recursively); but written as
 *                              {"@a{sv}": {...}} when it has exactly one key and that key starts
 *                              with "@", so that it cannot be taken for the next form
 *   - aa{sv}                   an array of such objects
 *   - anything else            {"@TYPE": PLAIN}: an object with one member whose name is "@"
 *                              followed by the GVariant type string ("@i", "@as", "@(sx)")
 *
 * PLAIN is the value as its type says: integers (y n q i u x t) and doubles (d) are numbers (a
 * double that is not finite is the string "NaN", "Infinity" or "-Infinity"); s o g are strings;
 * b is true or false; arrays and tuples are arrays; an array of dict entries is an object when
 * the key type is s, o or g and an array of [key, value] pairs otherwise; a maybe is [] (nothing)
 * or [PLAIN] (just); a variant (v) is written as a ValueSet value is, by the list above.
 *
 * README.md here has the same table, with examples. */

#include <math.h>
#include <string.h>

#include "valueset-json.h"

void valueset_json_append_string(GString *out, const char *s) {
        g_string_append_c(out, '"');
        for (const char *p = s; *p; p++) {
                unsigned char c = (unsigned char) *p;

                switch (c) {
                case '"':
                        g_string_append(out, "\\\"");
                        break;
                case '\\':
                        g_string_append(out, "\\\\");
                        break;
                case '\n':
                        g_string_append(out, "\\n");
                        break;
                case '\r':
                        g_string_append(out, "\\r");
                        break;
                case '\t':
                        g_string_append(out, "\\t");
                        break;
                case '\b':
                        g_string_append(out, "\\b");
                        break;
                case '\f':
                        g_string_append(out, "\\f");
                        break;
                default:
                        if (c < 0x20 || c == 0x7f)
                                g_string_append_printf(out, "\\u%04x", c);
                        else
                                g_string_append_c(out, (char) c);
                }
        }
        g_string_append_c(out, '"');
}

/* The shortest decimal text that reads back as the same double. */
static void append_double(GString *out, double d) {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];

        if (isnan(d)) {
                g_string_append(out, "\"NaN\"");
                return;
        }
        if (isinf(d)) {
                g_string_append(out, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
                return;
        }
        for (int precision = 1; precision <= 17; precision++) {
                char format[8];

                g_snprintf(format, sizeof format, "%%.%dg", precision);
                g_ascii_formatd(buf, sizeof buf, format, d);
                if (g_ascii_strtod(buf, NULL) == d)
                        break;
        }
        g_string_append(out, buf);
}

static gboolean is_string_type(const GVariantType *type) {
        return g_variant_type_equal(type, G_VARIANT_TYPE_STRING) ||
               g_variant_type_equal(type, G_VARIANT_TYPE_OBJECT_PATH) ||
               g_variant_type_equal(type, G_VARIANT_TYPE_SIGNATURE);
}

static void append_plain(GString *out, GVariant *value);
static void append_value(GString *out, GVariant *value);

static void append_dict_as_object(GString *out, GVariant *array) {
        gsize n = g_variant_n_children(array);

        g_string_append_c(out, '{');
        for (gsize i = 0; i < n; i++) {
                g_autoptr(GVariant) entry = g_variant_get_child_value(array, i);
                g_autoptr(GVariant) key = g_variant_get_child_value(entry, 0);
                g_autoptr(GVariant) value = g_variant_get_child_value(entry, 1);

                if (i > 0)
                        g_string_append_c(out, ',');
                valueset_json_append_string(out, g_variant_get_string(key, NULL));
                g_string_append_c(out, ':');
                append_plain(out, value);
        }
        g_string_append_c(out, '}');
}

static void append_children_as_array(GString *out, GVariant *container) {
        gsize n = g_variant_n_children(container);

        g_string_append_c(out, '[');
        for (gsize i = 0; i < n; i++) {
                g_autoptr(GVariant) child = g_variant_get_child_value(container, i);

                if (i > 0)
                        g_string_append_c(out, ',');
                append_plain(out, child);
        }
        g_string_append_c(out, ']');
}

static void append_array(GString *out, GVariant *array) {
        const GVariantType *element = g_variant_type_element(g_variant_get_type(array));

        if (g_variant_type_is_dict_entry(element) && is_string_type(g_variant_type_key(element)))
                append_dict_as_object(out, array);
        else
                append_children_as_array(out, array);
}

static void append_plain(GString *out, GVariant *value) {
        switch (g_variant_classify(value)) {
        case G_VARIANT_CLASS_BOOLEAN:
                g_string_append(out, g_variant_get_boolean(value) ? "true" : "false");
                break;
        case G_VARIANT_CLASS_BYTE:
                g_string_append_printf(out, "%u", (unsigned) g_variant_get_byte(value));
                break;
        case G_VARIANT_CLASS_INT16:
                g_string_append_printf(out, "%d", (int) g_variant_get_int16(value));
                break;
        case G_VARIANT_CLASS_UINT16:
                g_string_append_printf(out, "%u", (unsigned) g_variant_get_uint16(value));
                break;
        case G_VARIANT_CLASS_INT32:
                g_string_append_printf(out, "%" G_GINT32_FORMAT, g_variant_get_int32(value));
                break;
        case G_VARIANT_CLASS_UINT32:
                g_string_append_printf(out, "%" G_GUINT32_FORMAT, g_variant_get_uint32(value));
                break;
        case G_VARIANT_CLASS_INT64:
                g_string_append_printf(out, "%" G_GINT64_FORMAT, g_variant_get_int64(value));
                break;
        case G_VARIANT_CLASS_UINT64:
                g_string_append_printf(out, "%" G_GUINT64_FORMAT, g_variant_get_uint64(value));
                break;
        case G_VARIANT_CLASS_HANDLE:
                g_string_append_printf(out, "%" G_GINT32_FORMAT, g_variant_get_handle(value));
                break;
        case G_VARIANT_CLASS_DOUBLE:
                append_double(out, g_variant_get_double(value));
                break;
        case G_VARIANT_CLASS_STRING:
        case G_VARIANT_CLASS_OBJECT_PATH:
        case G_VARIANT_CLASS_SIGNATURE:
                valueset_json_append_string(out, g_variant_get_string(value, NULL));
                break;
        case G_VARIANT_CLASS_VARIANT: {
                g_autoptr(GVariant) inner = g_variant_get_variant(value);

                append_value(out, inner);
                break;
        }
        case G_VARIANT_CLASS_ARRAY:
                append_array(out, value);
                break;
        case G_VARIANT_CLASS_MAYBE:
        case G_VARIANT_CLASS_TUPLE:
        case G_VARIANT_CLASS_DICT_ENTRY:
        default:
                append_children_as_array(out, value);
                break;
        }
}

/* Whether a nested ValueSet would read as {"@TYPE": PLAIN}: one key, starting with "@". */
static gboolean value_set_looks_typed(GVariant *value_set) {
        g_autoptr(GVariant) entry = NULL;
        const char *key;

        if (g_variant_n_children(value_set) != 1)
                return FALSE;
        entry = g_variant_get_child_value(value_set, 0);
        g_variant_get_child(entry, 0, "&s", &key);
        return key[0] == '@';
}

static void append_typed(GString *out, GVariant *value) {
        g_autofree gchar *member = g_strconcat("@", g_variant_get_type_string(value), NULL);

        g_string_append_c(out, '{');
        valueset_json_append_string(out, member);
        g_string_append_c(out, ':');
        append_plain(out, value);
        g_string_append_c(out, '}');
}

/* The null value of ValueSets: a variant holding an empty array of variants. */
static gboolean value_is_null(GVariant *value) {
        return g_variant_is_of_type(value, G_VARIANT_TYPE("av")) && g_variant_n_children(value) == 0;
}

/* One value of a ValueSet (what its variant holds). */
static void append_value(GString *out, GVariant *value) {
        if (value_is_null(value))
                g_string_append(out, "null");
        else if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING) ||
                 g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN) ||
                 g_variant_is_of_type(value, G_VARIANT_TYPE("aa{sv}")))
                append_plain(out, value);
        else if (g_variant_is_of_type(value, G_VARIANT_TYPE_VARDICT) && !value_set_looks_typed(value))
                append_plain(out, value);
        else
                append_typed(out, value);
}

void valueset_json_append(GString *out, GVariant *value_set) {
        g_return_if_fail(g_variant_is_of_type(value_set, G_VARIANT_TYPE_VARDICT));

        append_plain(out, value_set);
}

char *valueset_json_print(GVariant *value_set) {
        GString *out = g_string_new(NULL);

        valueset_json_append(out, value_set);
        return g_string_free(out, FALSE);
}
