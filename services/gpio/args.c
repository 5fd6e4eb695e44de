/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "args.h"
#include "gpio-error.h"

char *args_describe_type(const GVariantType *type) {
        static const struct {
                const char *type;
                const char *name;
        } names[] = {
                { "s", "string" }, { "u", "uint32" }, { "t", "uint64" },      { "b", "boolean" },
                { "i", "int32" },  { "x", "int64" },  { "y", "byte" },        { "n", "int16" },
                { "q", "uint16" }, { "d", "double" }, { "o", "object path" }, { "v", "variant" },
        };
        g_autofree char *text = g_variant_type_dup_string(type);

        for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
                if (g_str_equal(text, names[i].type))
                        return g_strdup_printf("%s (%s)", names[i].name, text);
        if (g_variant_type_is_array(type)) {
                g_autofree char *element = args_describe_type(g_variant_type_element(type));

                /* "array of int32 (i)" reads better as "array of int32 (ai)". */
                char *paren = strrchr(element, '(');
                if (paren)
                        *paren = '\0';
                return g_strdup_printf("array of %s(%s)", element, text);
        }
        return g_strdup_printf("(%s)", text);
}

/* @what names the value for people: "'Chip'", "element 2 of 'Lines'". */
/* "a string (s)", "a uint32 (u)", "an int32 (i)", "an array of ...". */
static char *describe_type_with_article(const GVariantType *type) {
        g_autofree char *text = args_describe_type(type);

        return g_strconcat(text[0] && strchr("aio", text[0]) ? "an " : "a ", text, NULL);
}

static gboolean wrong_type(const char *what, const char *wanted, GVariant *value, GError **error) {
        g_autofree char *got = describe_type_with_article(g_variant_get_type(value));

        g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT, "%s must be %s, not %s", what, wanted,
                    got);
        return FALSE;
}

gboolean args_lookup(GVariant *message, const char *key, const GVariantType *type, gboolean required,
                     GVariant **ret, GError **error) {
        g_autoptr(GVariant) value = g_variant_lookup_value(message, key, NULL);

        if (!value) {
                if (required) {
                        g_autofree char *wanted = describe_type_with_article(type);

                        g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                                    "'%s' is missing: it must be %s", key, wanted);
                        return FALSE;
                }
                *ret = NULL;
                return TRUE;
        }
        if (!g_variant_is_of_type(value, type)) {
                g_autofree char *wanted = describe_type_with_article(type);
                g_autofree char *what = g_strdup_printf("'%s'", key);

                return wrong_type(what, wanted, value, error);
        }
        *ret = g_steal_pointer(&value);
        return TRUE;
}

gboolean args_lookup_choice(GVariant *message, const char *key, const char *const *names, int fallback,
                            int *ret, GError **error) {
        g_autoptr(GVariant) value = NULL;
        g_autofree char *accepted = NULL;
        const char *text;

        if (!args_lookup(message, key, G_VARIANT_TYPE_STRING, /* required= */ FALSE, &value, error))
                return FALSE;
        if (!value) {
                *ret = fallback;
                return TRUE;
        }
        text = g_variant_get_string(value, NULL);
        for (int i = 0; names[i]; i++)
                if (g_str_equal(text, names[i])) {
                        *ret = i;
                        return TRUE;
                }
        accepted = g_strjoinv("', '", (char **) names);
        g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT, "'%s' cannot be '%s': it accepts '%s'",
                    key, text, accepted);
        return FALSE;
}

void line_ref_clear(LineRef *ref) {
        g_clear_pointer(&ref->name, g_free);
}

/* One line from a u or an s; anything else fails with @what naming where it was. */
static gboolean line_ref_from_value(GVariant *value, const char *what, LineRef *ret, GError **error) {
        if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT32)) {
                *ret = (LineRef){ .offset = g_variant_get_uint32(value) };
                return TRUE;
        }
        if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)) {
                const char *name = g_variant_get_string(value, NULL);

                if (name[0] == '\0') {
                        g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                                    "%s is an empty line name", what);
                        return FALSE;
                }
                *ret = (LineRef){ .name = g_strdup(name) };
                return TRUE;
        }
        return wrong_type(what, "a uint32 (u) offset or a string (s) line name", value, error);
}

gboolean args_lookup_line(GVariant *message, const char *key, LineRef *ret, GError **error) {
        g_autoptr(GVariant) value = g_variant_lookup_value(message, key, NULL);
        g_autofree char *what = g_strdup_printf("'%s'", key);

        if (!value) {
                g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                            "'%s' is missing: it must be a uint32 (u) offset or a string (s) line name",
                            key);
                return FALSE;
        }
        return line_ref_from_value(value, what, ret, error);
}

static gboolean line_refs_equal(const LineRef *a, const LineRef *b) {
        if (a->name || b->name)
                return a->name && b->name && g_str_equal(a->name, b->name);
        return a->offset == b->offset;
}

static gboolean check_no_duplicates(const char *key, GArray *lines, GError **error) {
        for (guint i = 0; i < lines->len; i++)
                for (guint j = 0; j < i; j++) {
                        const LineRef *a = &g_array_index(lines, LineRef, i);

                        if (!line_refs_equal(a, &g_array_index(lines, LineRef, j)))
                                continue;
                        if (a->name)
                                g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                                            "'%s' names line '%s' twice", key, a->name);
                        else
                                g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                                            "'%s' names offset %" G_GUINT32_FORMAT " twice", key, a->offset);
                        return FALSE;
                }
        return TRUE;
}

gboolean args_lookup_lines(GVariant *message, const char *key, GArray **ret, GError **error) {
        g_autoptr(GVariant) value = g_variant_lookup_value(message, key, NULL);
        g_autoptr(GArray) lines = NULL;
        gsize n;

        if (!value) {
                g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                            "'%s' is missing: it must be an array of offsets (au), of names (as) "
                            "or of both (av)",
                            key);
                return FALSE;
        }
        if (!g_variant_is_of_type(value, G_VARIANT_TYPE("au")) &&
            !g_variant_is_of_type(value, G_VARIANT_TYPE("as")) &&
            !g_variant_is_of_type(value, G_VARIANT_TYPE("av"))) {
                g_autofree char *what = g_strdup_printf("'%s'", key);

                return wrong_type(what, "an array of offsets (au), of names (as) or of both (av)", value,
                                  error);
        }

        n = g_variant_n_children(value);
        if (n == 0) {
                g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                            "'%s' is empty: name at least one line", key);
                return FALSE;
        }
        lines = g_array_sized_new(FALSE, TRUE, sizeof(LineRef), n);
        g_array_set_clear_func(lines, (GDestroyNotify) line_ref_clear);
        for (gsize i = 0; i < n; i++) {
                g_autoptr(GVariant) child = g_variant_get_child_value(value, i);
                g_autoptr(GVariant) element = g_variant_is_of_type(child, G_VARIANT_TYPE_VARIANT)
                                                      ? g_variant_get_variant(child)
                                                      : g_variant_ref(child);
                g_autofree char *what = g_strdup_printf("element %zu of '%s'", i, key);
                LineRef ref;

                if (!line_ref_from_value(element, what, &ref, error))
                        return FALSE;
                g_array_append_val(lines, ref);
        }
        if (!check_no_duplicates(key, lines, error))
                return FALSE;
        *ret = g_steal_pointer(&lines);
        return TRUE;
}
