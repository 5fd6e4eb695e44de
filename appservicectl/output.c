/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What goes to stdout: ValueSets as aligned "KEY  TYPE  VALUE" lines, and JSON documents. */

#include <stdio.h>

#include "appservicectl.h"

/* One line: the key and the type point into the ValueSet's values, kept alive by the caller. */
typedef struct {
        const char *key;
        const char *type;
        gchar *value;
} Row;

static int display_width(const char *s) {
        return (int) g_utf8_strlen(s, -1);
}

/* The value column: GVariant text without type annotations (the type has its own column); the
 * null convention (@av []) shows as "null". */
static gchar *value_text(GVariant *value) {
        if (app_service_value_is_null(value))
                return g_strdup("null");
        return g_variant_print(value, /* type_annotate= */ FALSE);
}

static void print_rows(const Row *rows, gsize n, const char *indent) {
        int key_width = 0, type_width = 0;

        for (gsize i = 0; i < n; i++) {
                key_width = MAX(key_width, display_width(rows[i].key));
                type_width = MAX(type_width, display_width(rows[i].type));
        }
        for (gsize i = 0; i < n; i++)
                printf("%s%s%*s  %s%*s  %s\n", indent, rows[i].key,
                       key_width - display_width(rows[i].key), "", rows[i].type,
                       type_width - display_width(rows[i].type), "", rows[i].value);
}

void ctl_print_value_set(GVariant *value_set, const char *indent) {
        gsize n = g_variant_n_children(value_set);
        g_autoptr(GPtrArray) values = NULL;
        g_autofree Row *rows = NULL;

        if (n == 0) {
                printf("%s(empty)\n", indent);
                fflush(stdout);
                return;
        }
        values = g_ptr_array_new_with_free_func((GDestroyNotify) g_variant_unref);
        rows = g_new0(Row, n);
        for (gsize i = 0; i < n; i++) {
                GVariant *value;

                g_variant_get_child(value_set, i, "{&sv}", &rows[i].key, &value);
                g_ptr_array_add(values, value);
                rows[i].type = g_variant_get_type_string(value);
                rows[i].value = value_text(value);
        }
        print_rows(rows, n, indent);
        for (gsize i = 0; i < n; i++)
                g_free(rows[i].value);
        fflush(stdout);
}

/* One document per line, flushed at once: `open` streams them as things happen. */
void ctl_print_json(GString *document) {
        fwrite(document->str, 1, document->len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
}
