/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Composes a ValueSet: rows of key, type and value, or the whole ValueSet in GVariant text
 * format. Mistakes are shown inside the editor, naming the row and key. */
#define EXPLORER_TYPE_VALUE_SET_EDITOR (explorer_value_set_editor_get_type())
G_DECLARE_FINAL_TYPE(ExplorerValueSetEditor, explorer_value_set_editor, EXPLORER, VALUE_SET_EDITOR, GtkBox)

GtkWidget *explorer_value_set_editor_new(void);

/* (transfer full): the ValueSet (an a{sv}), or NULL with @error set and shown in the editor. */
GVariant *explorer_value_set_editor_build(ExplorerValueSetEditor *self, GError **error);

/* Switches to the text mode with @text in it. */
void explorer_value_set_editor_set_text(ExplorerValueSetEditor *self, const gchar *text);

/* Whether the text mode is shown. */
gboolean explorer_value_set_editor_get_text_mode(ExplorerValueSetEditor *self);

G_END_DECLS
