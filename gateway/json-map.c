/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <string.h>

#include "json-map.h"
#include "valueset-json.h"

G_DEFINE_QUARK(gateway-json-error-quark, gateway_json_error)

static GVariant *to_variant(JsonNode *node, const ContractType *t, const char *path, unsigned depth, GError **error);

static gboolean fail(GError **error, const char *path, const char *what, JsonNode *node) {
        const char *got = JSON_NODE_HOLDS_NULL(node) ? "null" : JSON_NODE_HOLDS_OBJECT(node) ? "an object" :
                          JSON_NODE_HOLDS_ARRAY(node) ? "an array" : json_node_get_value_type(node) == G_TYPE_STRING ? "a string" :
                          json_node_get_value_type(node) == G_TYPE_BOOLEAN ? "a boolean" : "a number";

        g_set_error(error, GATEWAY_JSON_ERROR, 0, "%s: expected %s, got %s", *path ? path : "the body", what, got);
        return FALSE;
}

/* One value through the typed mapping of common/, as the member "v" of an object. */
static GVariant *typed_value(JsonNode *node, const char *path, GError **error) {
        g_autoptr(JsonNode) wrapper = json_node_new(JSON_NODE_OBJECT);
        g_autoptr(JsonObject) object = json_object_new();
        g_autofree char *text = NULL;
        g_autoptr(GVariant) set = NULL;
        g_autoptr(GError) e = NULL;

        json_object_set_member(object, "v", json_node_copy(node));
        json_node_set_object(wrapper, object);
        text = json_to_string(wrapper, FALSE);
        set = valueset_json_parse(text, -1, &e);
        if (!set) {
                g_set_error(error, GATEWAY_JSON_ERROR, 0, "%s: %s", path, e->message);
                return NULL;
        }
        return g_variant_lookup_value(set, "v", NULL);
}

static GVariant *integer(JsonNode *node, char code, const char *path, GError **error) {
        static const struct {
                char code;
                gint64 min;
                guint64 max;
                const char *name;
        } ranges[] = {
                { 'y', 0, G_MAXUINT8, "an integer from 0 to 255" },
                { 'n', G_MININT16, G_MAXINT16, "an integer from -32768 to 32767" },
                { 'q', 0, G_MAXUINT16, "an integer from 0 to 65535" },
                { 'i', G_MININT32, G_MAXINT32, "an integer from -2147483648 to 2147483647" },
                { 'u', 0, G_MAXUINT32, "an integer from 0 to 4294967295" },
                { 'x', G_MININT64, G_MAXINT64, "a 64-bit integer" },
                { 't', 0, G_MAXUINT64, "an integer from 0 to 18446744073709551615" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(ranges); i++) {
                gint64 v;
                guint64 u;

                if (ranges[i].code != code)
                        continue;
                /* uint64 past int64: written as a string of digits, as JSON numbers lose them. */
                if (code == 't' && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
                        const char *s = json_node_get_string(node);
                        char *end;

                        if (!g_ascii_isdigit(*s) || (u = g_ascii_strtoull(s, &end, 10), *end)) {
                                fail(error, path, ranges[i].name, node);
                                return NULL;
                        }
                        return g_variant_new_uint64(u);
                }
                if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64) {
                        fail(error, path, ranges[i].name, node);
                        return NULL;
                }
                v = json_node_get_int(node);
                if (v < ranges[i].min || (v >= 0 && (guint64) v > ranges[i].max)) {
                        g_set_error(error, GATEWAY_JSON_ERROR, 0, "%s: %" G_GINT64_FORMAT " is out of range: expected %s",
                                    path, v, ranges[i].name);
                        return NULL;
                }
                switch (code) {
                case 'y': return g_variant_new_byte((guint8) v);
                case 'n': return g_variant_new_int16((gint16) v);
                case 'q': return g_variant_new_uint16((guint16) v);
                case 'i': return g_variant_new_int32((gint32) v);
                case 'u': return g_variant_new_uint32((guint32) v);
                case 'x': return g_variant_new_int64(v);
                default: return g_variant_new_uint64((guint64) v);
                }
        }
        return NULL;
}

static GVariant *scalar(JsonNode *node, const ContractType *t, const char *path, GError **error) {
        GType type = JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node) : G_TYPE_INVALID;
        const char *s;

        switch (t->scalar) {
        case 'b':
                if (type != G_TYPE_BOOLEAN)
                        return fail(error, path, "true or false", node), NULL;
                return g_variant_new_boolean(json_node_get_boolean(node));
        case 'd':
                if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64)
                        return fail(error, path, "a number", node), NULL;
                return g_variant_new_double(json_node_get_double(node));
        case 's':
        case 'o':
        case 'g':
                if (type != G_TYPE_STRING)
                        return fail(error, path, "a string", node), NULL;
                s = json_node_get_string(node);
                if ((t->scalar == 'o' && !g_variant_is_object_path(s)) || (t->scalar == 'g' && !g_variant_is_signature(s)) ||
                    !g_utf8_validate(s, -1, NULL)) {
                        g_set_error(error, GATEWAY_JSON_ERROR, 0, "%s: '%.64s' is not a valid %s", path, s,
                                    contract_type_describe(t));
                        return NULL;
                }
                return t->scalar == 'o' ? g_variant_new_object_path(s) : t->scalar == 'g' ? g_variant_new_signature(s)
                                                                                           : g_variant_new_string(s);
        default:
                return integer(node, t->scalar, path, error);
        }
}

static GVariant *elements(JsonNode *node, const ContractType *t, const char *path, unsigned depth, GError **error) {
        gboolean map = t->kind == CONTRACT_KIND_MAP;
        const char *element = t->element->kind == CONTRACT_KIND_VARIANT ? "v" : t->element->signature;
        g_autofree char *entry_type = map ? g_strdup_printf("{s%s}", element) : g_strdup(element);
        GVariantBuilder b;

        if (map ? !JSON_NODE_HOLDS_OBJECT(node) : !JSON_NODE_HOLDS_ARRAY(node))
                return fail(error, path, map ? "an object (a map)" : "an array", node), NULL;
        {
                g_autoptr(GVariantType) array_type = g_variant_type_new_array(G_VARIANT_TYPE(entry_type));

                g_variant_builder_init(&b, array_type);
        }
        if (map) {
                JsonObjectIter it;
                const char *key;
                JsonNode *member;

                json_object_iter_init(&it, json_node_get_object(node));
                while (json_object_iter_next(&it, &key, &member)) {
                        g_autofree char *p = g_strdup_printf("%s.%s", path, key);
                        GVariant *v = to_variant(member, t->element, p, depth + 1, error);

                        if (!v) {
                                g_variant_builder_clear(&b);
                                return NULL;
                        }
                        if (t->element->kind == CONTRACT_KIND_VARIANT)
                                v = g_variant_new_variant(v);
                        g_variant_builder_add_value(&b, g_variant_new_dict_entry(g_variant_new_string(key), v));
                }
        } else {
                JsonArray *array = json_node_get_array(node);

                for (guint i = 0; i < json_array_get_length(array); i++) {
                        g_autofree char *p = g_strdup_printf("%s[%u]", path, i);
                        GVariant *v = to_variant(json_array_get_element(array, i), t->element, p, depth + 1, error);

                        if (!v) {
                                g_variant_builder_clear(&b);
                                return NULL;
                        }
                        g_variant_builder_add_value(&b, t->element->kind == CONTRACT_KIND_VARIANT ? g_variant_new_variant(v) : v);
                }
        }
        return g_variant_builder_end(&b);
}

static GVariant *record(JsonObject *object, const ContractType *t, const char *path, const char *extra_key,
                        const char *extra_value, unsigned depth, GError **error) {
        GVariantBuilder b;
        JsonObjectIter it;
        const char *key;
        JsonNode *member;

        json_object_iter_init(&it, object);
        while (json_object_iter_next(&it, &key, &member))
                if (!contract_type_find_field(t, key)) {
                        g_set_error(error, GATEWAY_JSON_ERROR, 0, "%s%s%s: not in the contract", path, *path ? "." : "", key);
                        return NULL;
                }
        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        if (extra_key)
                g_variant_builder_add(&b, "{sv}", extra_key, g_variant_new_string(extra_value));
        for (size_t i = 0; i < t->n_fields; i++) {
                const ContractField *f = &t->fields[i];
                g_autofree char *p = *path ? g_strdup_printf("%s.%s", path, f->name) : g_strdup(f->name);
                JsonNode *node = json_object_get_member(object, f->name);
                GVariant *v;

                if (!node || JSON_NODE_HOLDS_NULL(node)) {
                        if (f->optional)
                                continue;
                        g_variant_builder_clear(&b);
                        g_set_error(error, GATEWAY_JSON_ERROR, 0, "%s: missing (%s)", p, contract_type_describe(f->type));
                        return NULL;
                }
                v = to_variant(node, f->type, p, depth + 1, error);
                if (!v) {
                        g_variant_builder_clear(&b);
                        return NULL;
                }
                g_variant_builder_add(&b, "{sv}", f->name, v);
        }
        return g_variant_builder_end(&b);
}

static GVariant *to_variant(JsonNode *node, const ContractType *t, const char *path, unsigned depth, GError **error) {
        if (depth > 32) {
                g_set_error(error, GATEWAY_JSON_ERROR, 0, "%s: nested deeper than 32", path);
                return NULL;
        }
        switch (t->kind) {
        case CONTRACT_KIND_SCALAR:
                return scalar(node, t, path, error);
        case CONTRACT_KIND_ENUM:
                if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
                        return fail(error, path, "a string", node), NULL;
                for (size_t i = 0; i < t->n_values; i++)
                        if (strcmp(t->values[i], json_node_get_string(node)) == 0)
                                return g_variant_new_string(t->values[i]);
                g_set_error(error, GATEWAY_JSON_ERROR, 0, "%s: '%.64s' is not one of %s", path, json_node_get_string(node),
                            contract_type_describe(t));
                return NULL;
        case CONTRACT_KIND_RECORD:
                if (!JSON_NODE_HOLDS_OBJECT(node))
                        return fail(error, path, "an object", node), NULL;
                return record(json_node_get_object(node), t, path, NULL, NULL, depth, error);
        case CONTRACT_KIND_ARRAY:
        case CONTRACT_KIND_MAP:
                return elements(node, t, path, depth, error);
        case CONTRACT_KIND_OBJECT:
                if (!JSON_NODE_HOLDS_OBJECT(node))
                        return fail(error, path, "an object", node), NULL;
                return typed_value(node, path, error);
        case CONTRACT_KIND_VARIANT:
                return typed_value(node, path, error);
        }
        return NULL;
}

GVariant *gateway_json_to_record(JsonObject *object, const ContractType *t, const char *extra_key,
                                 const char *extra_value, GError **error) {
        return record(object, t, "", extra_key, extra_value, 0, error);
}

/* ---- back to JSON ---------------------------------------------------------------------------- */

static JsonNode *from_variant(GVariant *v, const ContractType *t);

/* A value through the typed mapping of common/ (variant, object, and keys no type names). */
static JsonNode *typed_json(GVariant *v) {
        g_autoptr(GVariantBuilder) b = g_variant_builder_new(G_VARIANT_TYPE_VARDICT);
        g_autoptr(GVariant) set = NULL;
        g_autofree char *text = NULL;
        g_autoptr(JsonNode) parsed = NULL;
        JsonNode *member;

        g_variant_builder_add(b, "{sv}", "v", v);
        set = g_variant_ref_sink(g_variant_builder_end(b));
        text = valueset_json_print(set);
        parsed = json_from_string(text, NULL);
        if (!parsed || !JSON_NODE_HOLDS_OBJECT(parsed))
                return json_node_new(JSON_NODE_NULL);
        member = json_object_get_member(json_node_get_object(parsed), "v");
        return member ? json_node_copy(member) : json_node_new(JSON_NODE_NULL);
}

static JsonNode *from_scalar(GVariant *v) {
        JsonNode *n = json_node_new(JSON_NODE_VALUE);

        switch (g_variant_classify(v)) {
        case G_VARIANT_CLASS_BOOLEAN: json_node_set_boolean(n, g_variant_get_boolean(v)); break;
        case G_VARIANT_CLASS_BYTE: json_node_set_int(n, g_variant_get_byte(v)); break;
        case G_VARIANT_CLASS_INT16: json_node_set_int(n, g_variant_get_int16(v)); break;
        case G_VARIANT_CLASS_UINT16: json_node_set_int(n, g_variant_get_uint16(v)); break;
        case G_VARIANT_CLASS_INT32: json_node_set_int(n, g_variant_get_int32(v)); break;
        case G_VARIANT_CLASS_UINT32: json_node_set_int(n, g_variant_get_uint32(v)); break;
        case G_VARIANT_CLASS_INT64: json_node_set_int(n, g_variant_get_int64(v)); break;
        case G_VARIANT_CLASS_UINT64: {
                guint64 u = g_variant_get_uint64(v);

                if (u > G_MAXINT64) {
                        g_autofree char *s = g_strdup_printf("%" G_GUINT64_FORMAT, u);
                        json_node_set_string(n, s);
                } else
                        json_node_set_int(n, (gint64) u);
                break;
        }
        case G_VARIANT_CLASS_DOUBLE: json_node_set_double(n, g_variant_get_double(v)); break;
        default: json_node_set_string(n, g_variant_get_string(v, NULL)); break;
        }
        return n;
}

static JsonNode *from_variant(GVariant *v, const ContractType *t) {
        JsonNode *n;

        if (!t || t->kind == CONTRACT_KIND_VARIANT || t->kind == CONTRACT_KIND_OBJECT ||
            (t->signature && !g_variant_is_of_type(v, G_VARIANT_TYPE(t->signature))))
                return typed_json(v);
        switch (t->kind) {
        case CONTRACT_KIND_RECORD:
                return gateway_record_to_json(v, t);
        case CONTRACT_KIND_ARRAY: {
                JsonArray *a = json_array_new();

                for (gsize i = 0; i < g_variant_n_children(v); i++) {
                        g_autoptr(GVariant) c = g_variant_get_child_value(v, i);
                        g_autoptr(GVariant) inner = t->element->kind == CONTRACT_KIND_VARIANT ? g_variant_get_variant(c) : NULL;

                        json_array_add_element(a, from_variant(inner ? inner : c, t->element));
                }
                n = json_node_new(JSON_NODE_ARRAY);
                json_node_take_array(n, a);
                return n;
        }
        case CONTRACT_KIND_MAP: {
                JsonObject *o = json_object_new();

                for (gsize i = 0; i < g_variant_n_children(v); i++) {
                        g_autoptr(GVariant) e = g_variant_get_child_value(v, i);
                        g_autoptr(GVariant) k = g_variant_get_child_value(e, 0);
                        g_autoptr(GVariant) c = g_variant_get_child_value(e, 1);
                        g_autoptr(GVariant) inner = t->element->kind == CONTRACT_KIND_VARIANT ? g_variant_get_variant(c) : NULL;

                        json_object_set_member(o, g_variant_get_string(k, NULL), from_variant(inner ? inner : c, t->element));
                }
                n = json_node_new(JSON_NODE_OBJECT);
                json_node_take_object(n, o);
                return n;
        }
        default:
                return from_scalar(v);
        }
}

JsonNode *gateway_record_to_json(GVariant *value_set, const ContractType *record) {
        JsonObject *o = json_object_new();
        JsonNode *n = json_node_new(JSON_NODE_OBJECT);
        GVariantIter it;
        const char *key;
        GVariant *value;

        g_variant_iter_init(&it, value_set);
        while (g_variant_iter_next(&it, "{&sv}", &key, &value)) {
                const ContractField *f = contract_type_find_field(record, key);

                if (!(f && value && g_variant_is_of_type(value, G_VARIANT_TYPE("av")) && g_variant_n_children(value) == 0 &&
                      f->type->kind != CONTRACT_KIND_ARRAY))
                        json_object_set_member(o, key, from_variant(value, f ? f->type : NULL));
                g_variant_unref(value);
        }
        json_node_take_object(n, o);
        return n;
}
