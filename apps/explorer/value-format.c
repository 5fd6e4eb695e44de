/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "explorer-config.h"

#include <glib/gi18n.h>

#include "value-format.h"

gchar *explorer_format_truncate(const gchar *text, gsize max) {
        gsize len = strlen(text);
        const gchar *end;

        if (len <= max)
                return g_strdup(text);
        /* Back up to the start of the character that would be cut. */
        end = g_utf8_find_prev_char(text, text + max + 1);
        if (!end)
                end = text;
        /* Translators: a value cut short; %zu is the number of bytes left out. */
        return g_strdup_printf(_("%.*s…(%zu more bytes)"), (int) (end - text), text, len - (gsize) (end - text));
}

gchar *explorer_format_value(GVariant *value) {
        g_autofree gchar *text = NULL;

        /* g_variant_print() is bounded by GVariant's own nesting limit; the text it makes is
         * bounded by the message size, and cut here before any widget sees it. */
        /* Without type annotations: the type is shown beside the value. */
        text = g_variant_print(value, FALSE);
        return explorer_format_truncate(text, EXPLORER_VALUE_TEXT_MAX);
}

static void value_row_free(gpointer data) {
        ExplorerValueRow *row = data;

        g_free(row->key);
        g_free(row->type);
        g_free(row->value);
        g_free(row->preview);
        g_free(row);
}

/* @whole_left: how much whole-value text the ValueSet may still keep; a cut row beyond it keeps
 * its preview only (and is not marked cut: there is nothing more to show). */
static ExplorerValueRow *value_row_new(const gchar *key, GVariant *value, gsize *whole_left) {
        ExplorerValueRow *row = g_new0(ExplorerValueRow, 1);
        g_autofree gchar *text = g_variant_print(value, FALSE);

        row->key = explorer_format_truncate(key, 256);
        row->type = explorer_format_truncate(g_variant_get_type_string(value), 256);
        row->preview = explorer_format_truncate(text, EXPLORER_VALUE_PREVIEW_MAX);
        row->cut = strlen(text) > EXPLORER_VALUE_PREVIEW_MAX && *whole_left > 0;
        if (row->cut) {
                row->value = explorer_format_truncate(text, MIN(EXPLORER_VALUE_TEXT_MAX, *whole_left));
                *whole_left -= MIN(strlen(row->value), *whole_left);
        } else
                row->value = g_strdup(row->preview);
        return row;
}

GPtrArray *explorer_format_value_set(GVariant *value_set, guint *ret_hidden) {
        g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func(value_row_free);
        gsize n, text = 0, whole_left = EXPLORER_VALUE_SET_WHOLE_MAX;

        *ret_hidden = 0;
        if (!value_set)
                return g_steal_pointer(&rows);
        if (!g_variant_is_of_type(value_set, G_VARIANT_TYPE_VARDICT)) {
                g_ptr_array_add(rows, value_row_new("", value_set, &whole_left));
                return g_steal_pointer(&rows);
        }

        n = g_variant_n_children(value_set);
        for (gsize i = 0; i < n; i++) {
                g_autoptr(GVariant) entry = NULL;
                g_autoptr(GVariant) value = NULL;
                const gchar *key;
                ExplorerValueRow *row;

                if (rows->len >= EXPLORER_VALUE_SET_ROWS_MAX || text >= EXPLORER_VALUE_SET_TEXT_MAX) {
                        *ret_hidden = (guint) (n - i);
                        break;
                }
                entry = g_variant_get_child_value(value_set, i);
                g_variant_get(entry, "{&sv}", &key, &value);
                row = value_row_new(key, value, &whole_left);
                text += strlen(row->preview);
                g_ptr_array_add(rows, row);
        }
        return g_steal_pointer(&rows);
}
