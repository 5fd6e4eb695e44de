/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gio/gio.h>
#include <stddef.h>
#include <string.h>

#include "wire.h"

#define DBUS_SIGNATURE_MAX 255

static const char *const kind_names[_WIRE_KIND_MAX] = {
        [WIRE_OPEN] = "open",
        [WIRE_OPENED] = "opened",
        [WIRE_REFUSED] = "refused",
        [WIRE_REQUEST] = "request",
        [WIRE_RESPONSE] = "response",
        [WIRE_FAILED] = "failed",
        [WIRE_CLOSE] = "close",
};

const char *wire_kind_to_string(WireKind kind) {
        if (kind < 0 || kind >= _WIRE_KIND_MAX)
                return NULL;
        return kind_names[kind];
}

WireKind wire_kind_from_string(const char *s) {
        if (!s)
                return _WIRE_KIND_INVALID;
        for (WireKind k = 0; k < _WIRE_KIND_MAX; k++)
                if (g_str_equal(s, kind_names[k]))
                        return k;
        return _WIRE_KIND_INVALID;
}

/* ---- the ValueSet rules ---- */

static gboolean invalid(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);
static gboolean invalid(GError **error, const char *format, ...) {
        va_list ap;

        if (error) {
                va_start(ap, format);
                *error = g_error_new_valist(G_IO_ERROR, G_IO_ERROR_INVALID_DATA, format, ap);
                va_end(ap);
        }
        return FALSE;
}

/* A type a value of which sits inside `depth` containers: what D-Bus carries, no fds, and its own
 * containers within the depth limit. `where` names the place in messages. */
static gboolean check_type(const GVariantType *t, guint depth, gboolean array_element, const char *where,
                           GError **error) {
        if (g_variant_type_is_basic(t)) {
                if (g_variant_type_equal(t, G_VARIANT_TYPE_HANDLE))
                        return invalid(error, "%s: a unix fd ('h') cannot cross to another node", where);
                return TRUE;
        }
        if (g_variant_type_is_variant(t))
                return depth + 1 <= WIRE_VALUESET_MAX_DEPTH ||
                       invalid(error, "%s: nested deeper than %d containers", where, WIRE_VALUESET_MAX_DEPTH);
        if (depth + 1 > WIRE_VALUESET_MAX_DEPTH)
                return invalid(error, "%s: nested deeper than %d containers", where, WIRE_VALUESET_MAX_DEPTH);
        if (g_variant_type_is_maybe(t))
                return invalid(error, "%s: a maybe type ('m') is not a D-Bus type", where);
        if (g_variant_type_is_array(t))
                return check_type(g_variant_type_element(t), depth + 1, TRUE, where, error);
        if (g_variant_type_is_dict_entry(t)) {
                if (!array_element)
                        return invalid(error, "%s: a dict entry outside an array is not a D-Bus type", where);
        } else if (g_variant_type_n_items(t) == 0)
                return invalid(error, "%s: an empty struct is not a D-Bus type", where);
        for (const GVariantType *item = g_variant_type_first(t); item; item = g_variant_type_next(item))
                if (!check_type(item, depth + 1, FALSE, where, error))
                        return FALSE;
        return TRUE;
}

static gboolean type_has_variant(const GVariantType *t) {
        return strchr(g_variant_type_peek_string(t), 'v') != NULL;
}

static gboolean check_value(GVariant *v, guint depth, const char *where, GError **error);

/* The keys of an a{sv}: 1 to 255 bytes, each once. */
static gboolean check_keys(GVariant *dict, const char *where, GError **error) {
        g_autoptr(GHashTable) seen = NULL;
        gsize n = g_variant_n_children(dict);

        if (n > 1)
                seen = g_hash_table_new(g_str_hash, g_str_equal);
        for (gsize i = 0; i < n; i++) {
                const char *key;
                gsize len;

                g_variant_get_child(dict, i, "{&sv}", &key, NULL);
                len = strlen(key);
                if (len == 0)
                        return invalid(error, "%s: an empty key", where);
                if (len > WIRE_VALUESET_MAX_KEY_LENGTH)
                        return invalid(error, "%s: a key of %zu bytes, more than %d", where, len,
                                       WIRE_VALUESET_MAX_KEY_LENGTH);
                if (seen && !g_hash_table_add(seen, (gpointer) key))
                        return invalid(error, "%s: the key '%.64s' is given twice", where, key);
        }
        return TRUE;
}

/* The value `v`, inside `depth` containers: its own type was checked already; what it holds in
 * variants is checked here, and every a{sv} in it keeps the key rules. */
static gboolean check_value(GVariant *v, guint depth, const char *where, GError **error) {
        const GVariantType *t = g_variant_get_type(v);
        gsize n;

        if (g_variant_type_is_variant(t)) {
                g_autoptr(GVariant) inner = g_variant_get_variant(v);
                const GVariantType *it = g_variant_get_type(inner);

                if (g_variant_type_get_string_length(it) > DBUS_SIGNATURE_MAX)
                        return invalid(error, "%s: a type signature of more than %d bytes", where, DBUS_SIGNATURE_MAX);
                if (!check_type(it, depth + 1, FALSE, where, error))
                        return FALSE;
                return check_value(inner, depth + 1, where, error);
        }
        if (!g_variant_type_is_container(t) || !type_has_variant(t))
                return TRUE;
        if (g_variant_type_equal(t, G_VARIANT_TYPE_VARDICT) && !check_keys(v, where, error))
                return FALSE;
        n = g_variant_n_children(v);
        for (gsize i = 0; i < n; i++) {
                g_autoptr(GVariant) child = g_variant_get_child_value(v, i);

                if (!check_value(child, depth + 1, where, error))
                        return FALSE;
        }
        return TRUE;
}

static gboolean check_value_set(GVariant *value, const char *where, GError **error) {
        if (!g_variant_is_of_type(value, G_VARIANT_TYPE_VARDICT))
                return invalid(error, "%s: a ValueSet is an a{sv}, not '%s'", where, g_variant_get_type_string(value));
        return check_type(g_variant_get_type(value), 0, FALSE, where, error) && check_value(value, 0, where, error);
}

gboolean wire_value_set_check(GVariant *value, GError **error) {
        g_return_val_if_fail(value, FALSE);
        return check_value_set(value, "ValueSet", error);
}

/* ---- bytes ---- */

GBytes *wire_value_encode(GVariant *value) {
        g_autoptr(GVariant) normal = NULL;

        g_return_val_if_fail(value, NULL);

        g_variant_ref_sink(value);
        normal = g_variant_get_normal_form(value);
        g_variant_unref(value);
        if (G_BYTE_ORDER == G_BIG_ENDIAN) {
                GVariant *swapped = g_variant_byteswap(normal);

                g_variant_unref(normal);
                normal = swapped;
        }
        return g_variant_get_data_as_bytes(normal);
}

GVariant *wire_value_decode(const void *data, gsize size, gsize max_size, const GVariantType *type, const char *what,
                            GError **error) {
        g_autoptr(GBytes) bytes = NULL;
        g_autoptr(GVariant) v = NULL;

        if (size > max_size) {
                invalid(error, "%s of %zu bytes, more than the limit of %zu", what, size, max_size);
                return NULL;
        }
        if (size == 0) {
                invalid(error, "%s of 0 bytes", what);
                return NULL;
        }
        bytes = g_bytes_new(data, size);
        v = g_variant_ref_sink(g_variant_new_from_bytes(type, bytes, /* trusted= */ FALSE));
        if (!g_variant_is_normal_form(v)) {
                invalid(error, "%s is not a '%s' in GVariant normal form", what, g_variant_type_peek_string(type));
                return NULL;
        }
        if (G_BYTE_ORDER == G_BIG_ENDIAN) {
                GVariant *swapped = g_variant_byteswap(v);

                g_variant_unref(v);
                v = swapped;
        }
        return g_steal_pointer(&v);
}

GVariant *wire_value_set_decode(const void *data, gsize size, gsize max_size, GError **error) {
        g_autoptr(GVariant) v = wire_value_decode(data, size, max_size, G_VARIANT_TYPE_VARDICT, "a ValueSet", error);

        if (!v || !check_value_set(v, "ValueSet", error))
                return NULL;
        return g_steal_pointer(&v);
}

/* ---- frames ---- */

typedef enum FieldType {
        FIELD_U64,
        FIELD_U32,
        FIELD_STRING,
        FIELD_VALUESET,
} FieldType;

typedef struct Field {
        WireKind kind;
        const char *key;
        FieldType type;
        size_t offset;
} Field;

#define F(k, key, type, member) { k, key, type, offsetof(WireFrame, member) }
static const Field fields[] = {
        F(WIRE_OPEN, "session", FIELD_U64, session),
        F(WIRE_OPEN, "name", FIELD_STRING, name),
        F(WIRE_OPEN, "provider", FIELD_STRING, provider),
        F(WIRE_OPEN, "caller", FIELD_VALUESET, caller),
        F(WIRE_OPENED, "session", FIELD_U64, session),
        F(WIRE_OPENED, "max-message-size", FIELD_U64, max_message_size),
        F(WIRE_REFUSED, "session", FIELD_U64, session),
        F(WIRE_REFUSED, "error", FIELD_STRING, error),
        F(WIRE_REFUSED, "message", FIELD_STRING, message),
        F(WIRE_REQUEST, "session", FIELD_U64, session),
        F(WIRE_REQUEST, "request", FIELD_U64, request),
        F(WIRE_REQUEST, "message", FIELD_VALUESET, values),
        F(WIRE_RESPONSE, "session", FIELD_U64, session),
        F(WIRE_RESPONSE, "request", FIELD_U64, request),
        F(WIRE_RESPONSE, "response", FIELD_VALUESET, values),
        F(WIRE_FAILED, "session", FIELD_U64, session),
        F(WIRE_FAILED, "request", FIELD_U64, request),
        F(WIRE_FAILED, "error", FIELD_STRING, error),
        F(WIRE_FAILED, "message", FIELD_STRING, message),
        F(WIRE_CLOSE, "session", FIELD_U64, session),
        F(WIRE_CLOSE, "status", FIELD_U32, status),
};
#undef F
#define MAX_FIELDS_PER_KIND 4

static const GVariantType *field_variant_type(FieldType type) {
        switch (type) {
        case FIELD_U64:
                return G_VARIANT_TYPE_UINT64;
        case FIELD_U32:
                return G_VARIANT_TYPE_UINT32;
        case FIELD_STRING:
                return G_VARIANT_TYPE_STRING;
        case FIELD_VALUESET:
                return G_VARIANT_TYPE_VARDICT;
        }
        g_assert_not_reached();
}

#define MEMBER(f, field, type) (*(type *) ((char *) (f) + (field)->offset))

GBytes *wire_encode_raw(const char *kind, GVariant *fields_dict) {
        g_return_val_if_fail(kind, NULL);
        g_return_val_if_fail(fields_dict, NULL);

        return wire_value_encode(g_variant_new("(s@a{sv})", kind, fields_dict));
}

GBytes *wire_frame_encode(const WireFrame *f, GError **error) {
        g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        const char *kind;

        g_return_val_if_fail(f, NULL);

        kind = wire_kind_to_string(f->kind);
        if (!kind) {
                invalid(error, "frame kind %d is unknown", (int) f->kind);
                return NULL;
        }
        for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
                const Field *field = &fields[i];
                GVariant *value = NULL;

                if (field->kind != f->kind)
                        continue;
                switch (field->type) {
                case FIELD_U64:
                        value = g_variant_new_uint64(MEMBER(f, field, guint64));
                        break;
                case FIELD_U32:
                        value = g_variant_new_uint32(MEMBER(f, field, guint32));
                        break;
                case FIELD_STRING: {
                        const char *s = MEMBER(f, field, const char *);

                        if (!s || !g_utf8_validate(s, -1, NULL)) {
                                invalid(error, "%s frame: the field '%s' is not a UTF-8 string", kind, field->key);
                                return NULL;
                        }
                        value = g_variant_new_string(s);
                        break;
                }
                case FIELD_VALUESET: {
                        GVariant *vs = MEMBER(f, field, GVariant *);
                        g_autofree char *where = g_strdup_printf("%s frame, field '%s'", kind, field->key);

                        if (!vs || !check_value_set(vs, where, error))
                                return NULL;
                        value = vs;
                        break;
                }
                }
                g_variant_builder_add(&b, "{sv}", field->key, value);
        }
        return wire_encode_raw(kind, g_variant_builder_end(&b));
}

WireFrame *wire_frame_free(WireFrame *f) {
        if (!f)
                return NULL;
        g_clear_pointer(&f->caller, g_variant_unref);
        g_clear_pointer(&f->values, g_variant_unref);
        g_clear_pointer(&f->frame, g_variant_unref);
        g_free(f);
        return NULL;
}

static const Field *find_field(WireKind kind, const char *key, size_t *ret_index) {
        size_t index = 0;

        for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
                if (fields[i].kind != kind)
                        continue;
                if (g_str_equal(fields[i].key, key)) {
                        *ret_index = index;
                        return &fields[i];
                }
                index++;
        }
        return NULL;
}

WireFrame *wire_frame_decode(const void *data, gsize size, gsize max_size, GError **error) {
        g_autoptr(WireFrame) f = g_new0(WireFrame, 1);
        g_autoptr(GVariant) dict = NULL;
        gboolean seen[MAX_FIELDS_PER_KIND] = {};
        const char *kind;
        gsize n;

        f->frame = wire_value_decode(data, size, max_size, G_VARIANT_TYPE("(sa{sv})"), "a frame", error);
        if (!f->frame)
                return NULL;

        g_variant_get(f->frame, "(&s@a{sv})", &kind, &dict);
        f->kind = wire_kind_from_string(kind);
        if (f->kind == _WIRE_KIND_INVALID) {
                invalid(error, "a frame of the unknown kind '%.32s'", kind);
                return NULL;
        }

        n = g_variant_n_children(dict);
        for (gsize i = 0; i < n; i++) {
                g_autoptr(GVariant) value = NULL;
                const Field *field;
                const char *key;
                size_t index;

                /* The value points into f->frame's bytes, which the frame keeps. */
                g_variant_get_child(dict, i, "{&sv}", &key, &value);
                field = find_field(f->kind, key, &index);
                if (!field)
                        continue;  /* a field of a later version */
                if (seen[index]) {
                        invalid(error, "%s frame: the field '%s' is given twice", kind, key);
                        return NULL;
                }
                seen[index] = TRUE;
                if (!g_variant_is_of_type(value, field_variant_type(field->type))) {
                        invalid(error, "%s frame: the field '%s' is of type '%s', not '%s'", kind, key,
                                g_variant_get_type_string(value),
                                g_variant_type_peek_string(field_variant_type(field->type)));
                        return NULL;
                }
                switch (field->type) {
                case FIELD_U64:
                        MEMBER(f, field, guint64) = g_variant_get_uint64(value);
                        break;
                case FIELD_U32:
                        MEMBER(f, field, guint32) = g_variant_get_uint32(value);
                        break;
                case FIELD_STRING:
                        /* A child's data is a slice of the frame's bytes: valid while f->frame is. */
                        MEMBER(f, field, const char *) = g_variant_get_string(value, NULL);
                        break;
                case FIELD_VALUESET: {
                        g_autofree char *where = g_strdup_printf("%s frame, field '%s'", kind, key);

                        if (!check_value_set(value, where, error))
                                return NULL;
                        MEMBER(f, field, GVariant *) = g_steal_pointer(&value);
                        break;
                }
                }
        }

        for (size_t i = 0, index = 0; i < G_N_ELEMENTS(fields); i++) {
                if (fields[i].kind != f->kind)
                        continue;
                if (!seen[index++]) {
                        invalid(error, "%s frame: the field '%s' is missing", kind, fields[i].key);
                        return NULL;
                }
        }
        return g_steal_pointer(&f);
}
