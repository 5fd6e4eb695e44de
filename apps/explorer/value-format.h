/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The most text of one value the explorer shows: a hostile provider's megabyte string must not
 * make a label lay out a megabyte. */
#define EXPLORER_VALUE_TEXT_MAX (16 * 1024)
/* The most text of a value's preview, the inline text of the transcript: labels shape all their
 * text at every measure, so a list of rows of 16 KiB labels freezes under a flood (measured:
 * seconds per update); the whole (bounded) value opens on demand in a text view. */
#define EXPLORER_VALUE_PREVIEW_MAX 256
/* The most rows of one ValueSet shown in the transcript, and the most preview text of them all. */
#define EXPLORER_VALUE_SET_ROWS_MAX 16
#define EXPLORER_VALUE_SET_TEXT_MAX (16 * 1024)
/* The most whole-value text kept for one ValueSet (beyond it, a row keeps its preview only). */
#define EXPLORER_VALUE_SET_WHOLE_MAX (64 * 1024)

/* @text cut at @max bytes (at a character boundary), followed by "…(n more bytes)". */
gchar *explorer_format_truncate(const gchar *text, gsize max);

/* A value in GVariant text format (without type annotations: callers show the type), truncated
 * at EXPLORER_VALUE_TEXT_MAX. */
gchar *explorer_format_value(GVariant *value);

/* One row of a formatted ValueSet. */
typedef struct {
        gchar *key;
        gchar *type;
        gchar *value;           /* at most EXPLORER_VALUE_TEXT_MAX, then "…(n more bytes)" */
        gchar *preview;         /* at most EXPLORER_VALUE_PREVIEW_MAX, then "…(n more bytes)" */
        gboolean cut;           /* the preview is not the whole value */
} ExplorerValueRow;

/* A ValueSet as at most EXPLORER_VALUE_SET_ROWS_MAX rows in key order and at most
 * EXPLORER_VALUE_SET_TEXT_MAX of preview text; *ret_hidden counts the keys left out. Free with
 * g_ptr_array_unref(). Works on anything: a value that is not an a{sv} gives one row. */
GPtrArray *explorer_format_value_set(GVariant *value_set, guint *ret_hidden);

G_END_DECLS
