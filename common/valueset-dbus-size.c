/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "valueset-dbus-size.h"

/* The D-Bus alignment of a type: its first character decides. */
static guint64 dbus_alignment(const gchar *type) {
        switch (type[0]) {
        case 'n':
        case 'q':
                return 2;
        case 'b':
        case 'i':
        case 'u':
        case 'h':
        case 's':
        case 'o':
        case 'a':
                return 4;
        case 'x':
        case 't':
        case 'd':
        case '(':
        case '{':
                return 8;
        default:
                return 1; /* y, g, v */
        }
}

/* The wire size of a fixed-size basic type (a boolean is 4 bytes on D-Bus, 1 in a GVariant), or
 * 0 for any other type. */
static guint64 dbus_fixed_size(const gchar *type) {
        if (type[1] != '\0')
                return 0;
        switch (type[0]) {
        case 'y':
                return 1;
        case 'n':
        case 'q':
                return 2;
        case 'b':
        case 'i':
        case 'u':
        case 'h':
                return 4;
        case 'x':
        case 't':
        case 'd':
                return 8;
        default:
                return 0;
        }
}

static guint64 align_to(guint64 position, guint64 alignment) {
        return (position + alignment - 1) & ~(alignment - 1);
}

typedef struct Measure {
        guint64 limit;
        guint max_depth;
        gboolean partial;
} Measure;

static guint64 measure(GVariant *value, guint64 position, guint depth, Measure *m);

/* The children of a container, one deeper, from @position on; stops past the limit. */
static guint64 measure_children(GVariant *value, guint64 position, guint depth, Measure *m) {
        GVariantIter iter;
        GVariant *child;

        g_variant_iter_init(&iter, value);
        while ((child = g_variant_iter_next_value(&iter))) {
                position = measure(child, position, depth + 1, m);
                g_variant_unref(child);
                if (position > m->limit) {
                        m->partial = TRUE;
                        break;
                }
        }
        return position;
}

/* Where @value ends when marshalled for D-Bus from @position on; @depth is the number of
 * containers around it, and @m->max_depth grows to the deepest container seen. */
static guint64 measure(GVariant *value, guint64 position, guint depth, Measure *m) {
        const gchar *type = g_variant_get_type_string(value);
        guint64 fixed = dbus_fixed_size(type);
        gsize length;

        position = align_to(position, dbus_alignment(type));
        if (fixed)
                return position + fixed;

        switch (type[0]) {
        case 's':
        case 'o':
                g_variant_get_string(value, &length);
                return position + 4 + length + 1;
        case 'g':
                g_variant_get_string(value, &length);
                return position + 1 + length + 1;
        case 'v': {
                g_autoptr(GVariant) inner = g_variant_get_variant(value);

                m->max_depth = MAX(m->max_depth, depth + 1);
                position += 1 + strlen(g_variant_get_type_string(inner)) + 1;
                return measure(inner, position, depth + 1, m);
        }
        case 'a': {
                const gchar *element = type + 1;
                guint64 element_size = dbus_fixed_size(element);

                m->max_depth = MAX(m->max_depth, depth + 1);
                /* The length, then padding to the element's alignment even when empty. */
                position = align_to(position + 4, dbus_alignment(element));
                if (element_size)
                        return position + element_size * g_variant_n_children(value);
                /* Only the containers present count, as the broker counts them while it reads: the
                 * element type of an empty array adds none. */
                return measure_children(value, position, depth, m);
        }
        case '(':
        case '{':
                m->max_depth = MAX(m->max_depth, depth + 1);
                return measure_children(value, position, depth, m);
        default:
                return position; /* maybe types: not D-Bus; GDBus refuses them when it sends */
        }
}

ValueSetDBusSize valueset_dbus_size(GVariant *value, guint64 limit) {
        Measure m = { .limit = limit };
        guint64 size;

        g_return_val_if_fail(value, (ValueSetDBusSize) { 0 });

        size = measure(value, 0, 0, &m);
        return (ValueSetDBusSize) { .size = size, .max_depth = m.max_depth, .partial = m.partial };
}
