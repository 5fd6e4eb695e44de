/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Strict reading of a request's ValueSet: every key has one type (or a short list of them), and
 * a wrong one is an invalid-argument error that names the key, what it accepts and what came. */

#include <glib.h>

/* Looks @key up in @message. On success returns TRUE with *ret a new reference to the value of
 * type @type, or NULL when the key is absent and not @required. */
gboolean args_lookup(GVariant *message, const char *key, const GVariantType *type, gboolean required,
                     GVariant **ret, GError **error);

/* A string key whose value is one of @names (NULL-terminated): *ret is its index, or @fallback
 * when the key is absent. */
gboolean args_lookup_choice(GVariant *message, const char *key, const char *const *names, int fallback,
                            int *ret, GError **error);

/* "uint32 (u)", "array of int32 (ai)", ...: a type for people, for error messages. */
char *args_describe_type(const GVariantType *type);

/* A line as a request names it: an offset, or a name. */
typedef struct {
        char *name; /* NULL for an offset */
        guint32 offset;
} LineRef;

void line_ref_clear(LineRef *ref);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(LineRef, line_ref_clear)

/* `Line`: u or s. */
gboolean args_lookup_line(GVariant *message, const char *key, LineRef *ret, GError **error);

/* `Lines`: au, as, or av of u and s; not empty, no line twice. *ret is an array of LineRef. */
gboolean args_lookup_lines(GVariant *message, const char *key, GArray **ret, GError **error);
