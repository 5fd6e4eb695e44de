/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "explorer-config.h"

#include <adwaita.h>
#include <appservice.h>
#include <glib/gi18n.h>

#include "valueset-editor.h"

/* The types a row can have: the ones a person types by hand, and the GVariant text for the
 * rest (structs, dictionaries, nested ValueSets, maybe-types...). */
typedef enum {
        ROW_TYPE_STRING,
        ROW_TYPE_BOOLEAN,
        ROW_TYPE_INT32,
        ROW_TYPE_UINT32,
        ROW_TYPE_INT64,
        ROW_TYPE_UINT64,
        ROW_TYPE_DOUBLE,
        ROW_TYPE_STRING_ARRAY,
        ROW_TYPE_VARIANT_TEXT,
} RowType;

struct _ExplorerValueSetEditor {
        GtkBox parent_instance;

        GtkStack *stack;            /* "rows", "text" */
        GtkListBox *rows;
        GtkTextView *text;
        GtkLabel *error;
};

G_DEFINE_FINAL_TYPE(ExplorerValueSetEditor, explorer_value_set_editor, GTK_TYPE_BOX)

#define ROW_KEY "explorer-key"
#define ROW_TYPE "explorer-type"
#define ROW_VALUE "explorer-value"

static GtkStringList *type_names_new(void) {
        const gchar *names[] = {
                /* Translators: the types of a ValueSet row; the D-Bus type letters stay. */
                N_("s: text"),       N_("b: true/false"),  N_("i: 32-bit integer"),
                N_("u: 32-bit unsigned"), N_("x: 64-bit integer"), N_("t: 64-bit unsigned"),
                N_("d: decimal number"), N_("as: list of texts"), N_("GVariant text"),
        };
        GtkStringList *list = gtk_string_list_new(NULL);

        for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
                gtk_string_list_append(list, _(names[i]));
        return list;
}

static void on_remove_row(GtkButton *button, ExplorerValueSetEditor *self) {
        GtkWidget *row = gtk_widget_get_ancestor(GTK_WIDGET(button), GTK_TYPE_LIST_BOX_ROW);

        gtk_list_box_remove(self->rows, row);
}

static void add_row(ExplorerValueSetEditor *self) {
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
        GtkWidget *key = gtk_entry_new();
        GtkWidget *type = gtk_drop_down_new(G_LIST_MODEL(type_names_new()), NULL);
        GtkWidget *value = gtk_entry_new();
        GtkWidget *remove = gtk_button_new_from_icon_name("list-remove-symbolic");
        GtkWidget *row = gtk_list_box_row_new();

        gtk_entry_set_placeholder_text(GTK_ENTRY(key), _("Key"));
        gtk_accessible_update_property(GTK_ACCESSIBLE(key), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Key"), -1);
        gtk_widget_set_name(key, "editor-key");
        gtk_accessible_update_property(GTK_ACCESSIBLE(type), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Type"), -1);
        gtk_widget_set_name(type, "editor-type");
        gtk_entry_set_placeholder_text(GTK_ENTRY(value), _("Value"));
        gtk_accessible_update_property(GTK_ACCESSIBLE(value), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Value"), -1);
        gtk_widget_set_name(value, "editor-value");
        gtk_widget_set_hexpand(value, TRUE);
        gtk_widget_set_tooltip_text(remove, _("Remove this row"));
        gtk_accessible_update_property(GTK_ACCESSIBLE(remove), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Remove row"), -1);
        g_signal_connect(remove, "clicked", G_CALLBACK(on_remove_row), self);

        gtk_box_append(GTK_BOX(box), key);
        gtk_box_append(GTK_BOX(box), type);
        gtk_box_append(GTK_BOX(box), value);
        gtk_box_append(GTK_BOX(box), remove);
        gtk_list_box_row_set_child(GTK_LIST_BOX_ROW(row), box);
        gtk_list_box_row_set_activatable(GTK_LIST_BOX_ROW(row), FALSE);
        g_object_set_data(G_OBJECT(row), ROW_KEY, key);
        g_object_set_data(G_OBJECT(row), ROW_TYPE, type);
        g_object_set_data(G_OBJECT(row), ROW_VALUE, value);
        gtk_list_box_append(self->rows, row);
}

static void on_add_row(GtkButton *button, ExplorerValueSetEditor *self) {
        add_row(self);
}

static gboolean parse_integer(const gchar *text, gboolean is_signed, gint64 min, guint64 max, GVariant **out,
                              RowType type, GError **error) {
        gint64 s = 0;
        guint64 u = 0;

        if (is_signed ? !g_ascii_string_to_signed(text, 10, min, (gint64) max, &s, NULL)
                      : !g_ascii_string_to_unsigned(text, 10, 0, max, &u, NULL)) {
                /* The bounds as text first: G_GINT64_FORMAT inside a translatable string would
                 * hide it from xgettext. */
                g_autofree gchar *low = g_strdup_printf("%" G_GINT64_FORMAT, is_signed ? min : 0);
                g_autofree gchar *high = is_signed ? g_strdup_printf("%" G_GINT64_FORMAT, (gint64) max)
                                                   : g_strdup_printf("%" G_GUINT64_FORMAT, max);

                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                            _("“%s” is not a whole number from %s to %s"), text, low, high);
                return FALSE;
        }
        switch (type) {
        case ROW_TYPE_INT32:
                *out = g_variant_new_int32((gint32) s);
                break;
        case ROW_TYPE_INT64:
                *out = g_variant_new_int64(s);
                break;
        case ROW_TYPE_UINT32:
                *out = g_variant_new_uint32((guint32) u);
                break;
        default:
                *out = g_variant_new_uint64(u);
                break;
        }
        return TRUE;
}

static GVariant *parse_string_array(const gchar *text, GError **error) {
        g_auto(GStrv) parts = NULL;
        g_autoptr(GStrvBuilder) builder = NULL;
        g_auto(GStrv) items = NULL;

        /* ['a', 'b'] is GVariant text; anything else is a comma-separated list. */
        if (text[0] == '[')
                return g_variant_parse(G_VARIANT_TYPE_STRING_ARRAY, text, NULL, NULL, error);
        builder = g_strv_builder_new();
        if (text[0] != '\0') {
                parts = g_strsplit(text, ",", -1);
                for (gsize i = 0; parts[i]; i++)
                        g_strv_builder_add(builder, g_strstrip(parts[i]));
        }
        items = g_strv_builder_end(builder);
        return g_variant_new_strv((const gchar *const *) items, -1);
}

static GVariant *parse_value(RowType type, const gchar *text, GError **error) {
        GVariant *value = NULL;
        gchar *end = NULL;
        gdouble d;

        switch (type) {
        case ROW_TYPE_STRING:
                return g_variant_new_string(text);
        case ROW_TYPE_BOOLEAN:
                if (g_ascii_strcasecmp(text, "true") == 0 || g_ascii_strcasecmp(text, "yes") == 0 ||
                    g_strcmp0(text, "1") == 0)
                        return g_variant_new_boolean(TRUE);
                if (g_ascii_strcasecmp(text, "false") == 0 || g_ascii_strcasecmp(text, "no") == 0 ||
                    g_strcmp0(text, "0") == 0)
                        return g_variant_new_boolean(FALSE);
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("“%s” is not true or false"), text);
                return NULL;
        case ROW_TYPE_INT32:
                return parse_integer(text, TRUE, G_MININT32, G_MAXINT32, &value, type, error) ? value : NULL;
        case ROW_TYPE_UINT32:
                return parse_integer(text, FALSE, 0, G_MAXUINT32, &value, type, error) ? value : NULL;
        case ROW_TYPE_INT64:
                return parse_integer(text, TRUE, G_MININT64, G_MAXINT64, &value, type, error) ? value : NULL;
        case ROW_TYPE_UINT64:
                return parse_integer(text, FALSE, 0, G_MAXUINT64, &value, type, error) ? value : NULL;
        case ROW_TYPE_DOUBLE:
                d = g_ascii_strtod(text, &end);
                if (text[0] == '\0' || *end != '\0') {
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                    _("“%s” is not a number (write a point for decimals: 2.5)"), text);
                        return NULL;
                }
                return g_variant_new_double(d);
        case ROW_TYPE_STRING_ARRAY:
                return parse_string_array(text, error);
        case ROW_TYPE_VARIANT_TEXT:
                break;
        }
        return g_variant_parse(NULL, text, NULL, NULL, error);
}

static void set_error(ExplorerValueSetEditor *self, const GError *error) {
        gtk_label_set_text(self->error, error ? error->message : "");
        gtk_widget_set_visible(GTK_WIDGET(self->error), error != NULL);
}

static GVariant *build_from_rows(ExplorerValueSetEditor *self, GError **error) {
        g_autoptr(GHashTable) keys = g_hash_table_new(g_str_hash, g_str_equal);
        g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        guint n = 0;

        for (GtkWidget *row = gtk_widget_get_first_child(GTK_WIDGET(self->rows)); row;
             row = gtk_widget_get_next_sibling(row)) {
                const gchar *key = gtk_editable_get_text(GTK_EDITABLE(g_object_get_data(G_OBJECT(row), ROW_KEY)));
                const gchar *text = gtk_editable_get_text(GTK_EDITABLE(g_object_get_data(G_OBJECT(row), ROW_VALUE)));
                RowType type = gtk_drop_down_get_selected(GTK_DROP_DOWN(g_object_get_data(G_OBJECT(row), ROW_TYPE)));
                g_autoptr(GError) local = NULL;
                GVariant *value;
                gpointer first;

                n++;
                if (key[0] == '\0' && text[0] == '\0')
                        continue;       /* a blank row is no row */
                if (key[0] == '\0') {
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Row %u: the key is empty"), n);
                        return NULL;
                }
                if (strlen(key) > 255) {
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                    _("Row %u: the key is longer than 255 bytes"), n);
                        return NULL;
                }
                first = g_hash_table_lookup(keys, key);
                if (first) {
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                    _("Row %u (key “%s”): the key is used already in row %u"), n, key,
                                    GPOINTER_TO_UINT(first));
                        return NULL;
                }
                g_hash_table_insert(keys, (gpointer) key, GUINT_TO_POINTER(n));
                value = parse_value(type, text, &local);
                if (!value) {
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("Row %u (key “%s”): %s"), n, key,
                                    local->message);
                        return NULL;
                }
                g_variant_builder_add(&builder, "{sv}", key, value);
        }
        return g_variant_ref_sink(g_variant_builder_end(&builder));
}

static GVariant *build_from_text(ExplorerValueSetEditor *self, GError **error) {
        GtkTextBuffer *buffer = gtk_text_view_get_buffer(self->text);
        GtkTextIter start, end;
        g_autofree gchar *text = NULL;
        g_autoptr(GError) local = NULL;
        GVariant *value_set;

        gtk_text_buffer_get_bounds(buffer, &start, &end);
        text = gtk_text_buffer_get_text(buffer, &start, &end, FALSE);
        g_strstrip(text);
        if (text[0] == '\0')
                return g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
        value_set = app_service_value_set_parse(text, &local);
        if (!value_set) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("The text is not a ValueSet: %s"),
                            local->message);
                return NULL;
        }
        return value_set;
}

GVariant *explorer_value_set_editor_build(ExplorerValueSetEditor *self, GError **error) {
        g_autoptr(GError) local = NULL;
        g_autoptr(GVariant) value_set = NULL;

        g_return_val_if_fail(EXPLORER_IS_VALUE_SET_EDITOR(self), NULL);

        if (explorer_value_set_editor_get_text_mode(self))
                value_set = build_from_text(self, &local);
        else
                value_set = build_from_rows(self, &local);
        /* The library's own rules too (no fd values, anywhere in the GVariant text). */
        if (value_set && !app_service_value_set_is_valid(value_set, &local))
                g_clear_pointer(&value_set, g_variant_unref);
        set_error(self, local);
        if (!value_set) {
                g_propagate_error(error, g_steal_pointer(&local));
                return NULL;
        }
        return g_steal_pointer(&value_set);
}

void explorer_value_set_editor_set_text(ExplorerValueSetEditor *self, const gchar *text) {
        g_return_if_fail(EXPLORER_IS_VALUE_SET_EDITOR(self));

        gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->text), text, -1);
        gtk_stack_set_visible_child_name(self->stack, "text");
        set_error(self, NULL);
}

gboolean explorer_value_set_editor_get_text_mode(ExplorerValueSetEditor *self) {
        return g_strcmp0(gtk_stack_get_visible_child_name(self->stack), "text") == 0;
}

static GtkWidget *rows_page_new(ExplorerValueSetEditor *self) {
        GtkWidget *page = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
        GtkWidget *add = gtk_button_new_with_mnemonic(_("_Add Row"));

        self->rows = GTK_LIST_BOX(gtk_list_box_new());
        gtk_list_box_set_selection_mode(self->rows, GTK_SELECTION_NONE);
        gtk_widget_add_css_class(GTK_WIDGET(self->rows), "boxed-list");
        gtk_widget_set_name(GTK_WIDGET(self->rows), "editor-rows");
        gtk_widget_set_name(add, "editor-add-row");
        gtk_widget_set_halign(add, GTK_ALIGN_START);
        g_signal_connect(add, "clicked", G_CALLBACK(on_add_row), self);
        gtk_box_append(GTK_BOX(page), GTK_WIDGET(self->rows));
        gtk_box_append(GTK_BOX(page), add);
        add_row(self);
        return page;
}

static GtkWidget *text_page_new(ExplorerValueSetEditor *self) {
        GtkWidget *scrolled = gtk_scrolled_window_new();

        self->text = GTK_TEXT_VIEW(gtk_text_view_new());
        gtk_text_view_set_monospace(self->text, TRUE);
        gtk_text_view_set_wrap_mode(self->text, GTK_WRAP_WORD_CHAR);
        gtk_text_view_set_accepts_tab(self->text, FALSE);
        gtk_widget_set_name(GTK_WIDGET(self->text), "editor-text");
        gtk_accessible_update_property(GTK_ACCESSIBLE(self->text), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       _("ValueSet in GVariant text format"), -1);
        gtk_text_buffer_set_text(gtk_text_view_get_buffer(self->text), "{}", -1);
        gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scrolled), GTK_WIDGET(self->text));
        gtk_scrolled_window_set_min_content_height(GTK_SCROLLED_WINDOW(scrolled), 56);
        gtk_widget_add_css_class(scrolled, "card");
        return scrolled;
}

static void explorer_value_set_editor_init(ExplorerValueSetEditor *self) {
        GtkWidget *switcher = gtk_stack_switcher_new();
        GtkWidget *hint = gtk_label_new(_("Text mode example: {'Action': <'Echo'>, 'Count': <@i 5>}"));

        gtk_orientable_set_orientation(GTK_ORIENTABLE(self), GTK_ORIENTATION_VERTICAL);
        gtk_box_set_spacing(GTK_BOX(self), 6);

        self->stack = GTK_STACK(gtk_stack_new());
        gtk_stack_add_titled(self->stack, rows_page_new(self), "rows", _("Rows"));
        gtk_stack_add_titled(self->stack, text_page_new(self), "text", _("GVariant Text"));
        gtk_stack_set_vhomogeneous(self->stack, FALSE);
        gtk_stack_switcher_set_stack(GTK_STACK_SWITCHER(switcher), self->stack);
        gtk_widget_set_halign(switcher, GTK_ALIGN_START);
        gtk_widget_set_name(switcher, "editor-mode");

        gtk_label_set_xalign(GTK_LABEL(hint), 0);
        gtk_label_set_wrap(GTK_LABEL(hint), TRUE);
        gtk_widget_add_css_class(hint, "caption");
        gtk_widget_add_css_class(hint, "dim-label");

        self->error = GTK_LABEL(gtk_label_new(NULL));
        gtk_label_set_xalign(self->error, 0);
        gtk_label_set_wrap(self->error, TRUE);
        gtk_label_set_selectable(self->error, TRUE);
        gtk_widget_add_css_class(GTK_WIDGET(self->error), "error");
        gtk_widget_set_name(GTK_WIDGET(self->error), "editor-error");
        gtk_widget_set_visible(GTK_WIDGET(self->error), FALSE);

        gtk_box_append(GTK_BOX(self), switcher);
        gtk_box_append(GTK_BOX(self), GTK_WIDGET(self->stack));
        gtk_box_append(GTK_BOX(self), hint);
        gtk_box_append(GTK_BOX(self), GTK_WIDGET(self->error));
}

static void explorer_value_set_editor_class_init(ExplorerValueSetEditorClass *klass) {
}

GtkWidget *explorer_value_set_editor_new(void) {
        return g_object_new(EXPLORER_TYPE_VALUE_SET_EDITOR, NULL);
}
