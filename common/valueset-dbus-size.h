/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The size of a ValueSet marshalled for D-Bus, as a bus and the broker measure it against their
 * limits (MaxMessageSize, the bus's message size), without marshalling it; and how deep its
 * containers nest. Used by libappservice before it sends and by the MQTT bridge before a message
 * crosses to another node. */

#include <glib.h>

typedef struct ValueSetDBusSize {
        guint64 size;     /* where the value ends, marshalled from an 8-aligned offset */
        guint max_depth;  /* the deepest container present (arrays, structs, dict entries, variants),
                           * the value's own included; an empty array's element type adds none */
        gboolean partial; /* the walk stopped past the limit: size is a lower bound */
} ValueSetDBusSize;

/* Measures `value` (any type D-Bus carries; a maybe counts as nothing). The walk stops once the
 * size passes `limit` (G_MAXUINT64: never), so that a huge ValueSet costs no more than needed
 * to know that it is too large. */
ValueSetDBusSize valueset_dbus_size(GVariant *value, guint64 limit);
