/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "openapi.h"

static JsonNode *schema_of(const ContractType *t, gboolean top);

static JsonNode *object_node(JsonObject *o) {
        JsonNode *n = json_node_new(JSON_NODE_OBJECT);

        json_node_take_object(n, o);
        return n;
}

static JsonObject *integer(gint64 min, guint64 max, const char *format) {
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "type", "integer");
        if (format)
                json_object_set_string_member(o, "format", format);
        json_object_set_int_member(o, "minimum", min);
        if (max <= G_MAXINT64)
                json_object_set_int_member(o, "maximum", (gint64) max);
        return o;
}

static JsonNode *scalar(char code) {
        JsonObject *o;

        switch (code) {
        case 'b':
                o = json_object_new();
                json_object_set_string_member(o, "type", "boolean");
                return object_node(o);
        case 'y': return object_node(integer(0, G_MAXUINT8, NULL));
        case 'n': return object_node(integer(G_MININT16, G_MAXINT16, NULL));
        case 'q': return object_node(integer(0, G_MAXUINT16, NULL));
        case 'i': return object_node(integer(G_MININT32, G_MAXINT32, "int32"));
        case 'u': return object_node(integer(0, G_MAXUINT32, "int64"));
        case 'x': return object_node(integer(G_MININT64, G_MAXINT64, "int64"));
        case 't': {
                /* Past 2^63 as a string of digits (JSON numbers lose them). */
                JsonArray *any = json_array_new();
                JsonObject *digits = json_object_new();

                json_array_add_element(any, object_node(integer(0, G_MAXINT64, "int64")));
                json_object_set_string_member(digits, "type", "string");
                json_object_set_string_member(digits, "pattern", "^[0-9]{1,20}$");
                json_array_add_element(any, object_node(digits));
                o = json_object_new();
                json_object_set_array_member(o, "oneOf", any);
                return object_node(o);
        }
        case 'd':
                o = json_object_new();
                json_object_set_string_member(o, "type", "number");
                json_object_set_string_member(o, "format", "double");
                return object_node(o);
        default:
                o = json_object_new();
                json_object_set_string_member(o, "type", "string");
                if (code == 'o')
                        json_object_set_string_member(o, "pattern", "^/([A-Za-z0-9_]+(/[A-Za-z0-9_]+)*)?$");
                return object_node(o);
        }
}

static JsonNode *record(const ContractType *t) {
        JsonObject *o = json_object_new(), *props = json_object_new();
        JsonArray *required = json_array_new();

        json_object_set_string_member(o, "type", "object");
        for (size_t i = 0; i < t->n_fields; i++) {
                const ContractField *f = &t->fields[i];
                JsonNode *s = schema_of(f->type, FALSE);

                if (f->doc && JSON_NODE_HOLDS_OBJECT(s) && !json_object_has_member(json_node_get_object(s), "$ref"))
                        json_object_set_string_member(json_node_get_object(s), "description", f->doc);
                if (f->optional && JSON_NODE_HOLDS_OBJECT(s) && !json_object_has_member(json_node_get_object(s), "$ref"))
                        json_object_set_boolean_member(json_node_get_object(s), "nullable", TRUE);
                json_object_set_member(props, f->name, s);
                if (!f->optional)
                        json_array_add_string_element(required, f->name);
        }
        json_object_set_object_member(o, "properties", props);
        if (json_array_get_length(required) > 0)
                json_object_set_array_member(o, "required", required);
        else
                json_array_unref(required);
        json_object_set_boolean_member(o, "additionalProperties", FALSE);
        return object_node(o);
}

static JsonNode *schema_of(const ContractType *t, gboolean top) {
        JsonObject *o;

        /* A named type is a component, referred to (which lets recursion end). */
        if (!top && t->name && (t->kind == CONTRACT_KIND_RECORD || t->kind == CONTRACT_KIND_ENUM)) {
                g_autofree char *ref = g_strconcat("#/components/schemas/", t->name, NULL);

                o = json_object_new();
                json_object_set_string_member(o, "$ref", ref);
                return object_node(o);
        }
        switch (t->kind) {
        case CONTRACT_KIND_SCALAR:
                return scalar(t->scalar);
        case CONTRACT_KIND_VARIANT:
                o = json_object_new();
                json_object_set_string_member(o, "description",
                                              "any value, in the typed JSON mapping of ValueSets ({\"@TYPE\": VALUE})");
                return object_node(o);
        case CONTRACT_KIND_OBJECT:
                o = json_object_new();
                json_object_set_string_member(o, "type", "object");
                json_object_set_string_member(o, "description", "a ValueSet, in the typed JSON mapping");
                return object_node(o);
        case CONTRACT_KIND_ENUM: {
                JsonArray *values = json_array_new();

                for (size_t i = 0; i < t->n_values; i++)
                        json_array_add_string_element(values, t->values[i]);
                o = json_object_new();
                json_object_set_string_member(o, "type", "string");
                json_object_set_array_member(o, "enum", values);
                return object_node(o);
        }
        case CONTRACT_KIND_RECORD:
                return record(t);
        case CONTRACT_KIND_ARRAY:
                o = json_object_new();
                json_object_set_string_member(o, "type", "array");
                json_object_set_member(o, "items", schema_of(t->element, FALSE));
                return object_node(o);
        case CONTRACT_KIND_MAP:
                o = json_object_new();
                json_object_set_string_member(o, "type", "object");
                json_object_set_member(o, "additionalProperties", schema_of(t->element, FALSE));
                return object_node(o);
        }
        return object_node(json_object_new());
}

/* A response: `description` and, when given, a JSON body of `schema` (taken). */
static JsonNode *response(const char *description, JsonNode *schema) {
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "description", description);
        if (schema) {
                JsonObject *content = json_object_new(), *media = json_object_new();

                json_object_set_member(media, "schema", schema);
                json_object_set_object_member(content, "application/json", media);
                json_object_set_object_member(o, "content", content);
        }
        return object_node(o);
}

static JsonNode *ref(const char *name) {
        g_autofree char *path = g_strconcat("#/components/schemas/", name, NULL);
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "$ref", path);
        return object_node(o);
}

/* {"error": NAME, ...fields}: the 422 answer of one of the contract's errors. */
static JsonNode *error_schema(const ContractMember *e) {
        JsonNode *n = record(e->input);
        JsonObject *o = json_node_get_object(n), *props = json_object_get_object_member(o, "properties");
        JsonObject *name = json_object_new();
        JsonArray *one = json_array_new();
        JsonArray *required = json_object_has_member(o, "required") ? json_object_get_array_member(o, "required") : NULL;

        json_object_set_string_member(name, "type", "string");
        json_array_add_string_element(one, e->name);
        json_object_set_array_member(name, "enum", one);
        json_object_set_object_member(props, "error", name);
        if (!required) {
                required = json_array_new();
                json_object_set_array_member(o, "required", required);
        }
        json_array_add_string_element(required, "error");
        if (e->doc)
                json_object_set_string_member(o, "description", e->doc);
        return n;
}

static JsonNode *operation(const Contract *c, const ContractMember *m) {
        static const struct {
                const char *status, *description;
        } statuses[] = {
                { "400", "the body is not one JSON object, or a member is missing, unknown or of the wrong type" },
                { "401", "no or a wrong bearer token" },
                { "404", "no such app service for this caller (missing, not allowed, or not AllowHTTP=yes), or no such action" },
                { "411", "a body without Content-Length" },
                { "413", "the body is over the gateway's MaxBodySize, or the message over the service's MaxMessageSize" },
                { "429", "the broker's limits" },
                { "502", "the provider's answer broke the contract, or the connection closed" },
                { "503", "the provider cannot be started, or the service is disabled" },
                { "504", "no answer in time" },
        };
        JsonObject *op = json_object_new(), *responses = json_object_new(), *body = json_object_new();
        JsonObject *content = json_object_new(), *media = json_object_new();
        g_autoptr(GPtrArray) errors = g_ptr_array_new();

        json_object_set_string_member(op, "operationId", m->name);
        json_object_set_string_member(op, "summary", m->name);
        if (m->doc)
                json_object_set_string_member(op, "description", m->doc);
        json_object_set_member(media, "schema", schema_of(m->input, TRUE));
        json_object_set_object_member(content, "application/json", media);
        json_object_set_object_member(body, "content", content);
        json_object_set_boolean_member(body, "required", TRUE);
        json_object_set_object_member(op, "requestBody", body);
        json_object_set_member(responses, "200", response("the action's results", schema_of(m->output, TRUE)));
        for (size_t i = 0; i < c->n_members; i++)
                if (c->members[i].kind == CONTRACT_ERROR)
                        g_ptr_array_add(errors, (gpointer) &c->members[i]);
        if (errors->len > 0) {
                JsonArray *one_of = json_array_new();
                JsonObject *o = json_object_new();

                for (guint i = 0; i < errors->len; i++) {
                        g_autofree char *name = g_strconcat("error-", ((ContractMember *) errors->pdata[i])->name, NULL);
                        json_array_add_element(one_of, ref(name));
                }
                json_object_set_array_member(o, "oneOf", one_of);
                json_object_set_member(responses, "422", response("one of the contract's errors", object_node(o)));
        }
        for (size_t i = 0; i < G_N_ELEMENTS(statuses); i++)
                json_object_set_member(responses, statuses[i].status, response(statuses[i].description, ref("GatewayError")));
        json_object_set_object_member(op, "responses", responses);
        return object_node(op);
}

static JsonNode *components(const Contract *c) {
        JsonObject *o = json_object_new(), *schemas = json_object_new(), *schemes = json_object_new();
        JsonObject *bearer = json_object_new(), *gateway_error = json_object_new(), *props = json_object_new();
        JsonObject *name = json_object_new(), *message = json_object_new();
        JsonArray *required = json_array_new();

        for (size_t i = 0; i < c->n_members; i++) {
                const ContractMember *m = &c->members[i];

                if (m->kind == CONTRACT_TYPE) {
                        JsonNode *s = schema_of(m->input, TRUE);

                        if (m->doc)
                                json_object_set_string_member(json_node_get_object(s), "description", m->doc);
                        json_object_set_member(schemas, m->name, s);
                } else if (m->kind == CONTRACT_ERROR) {
                        g_autofree char *key = g_strconcat("error-", m->name, NULL);
                        json_object_set_member(schemas, key, error_schema(m));
                }
        }
        json_object_set_string_member(name, "type", "string");
        json_object_set_string_member(message, "type", "string");
        json_object_set_object_member(props, "error", name);
        json_object_set_object_member(props, "message", message);
        json_array_add_string_element(required, "error");
        json_array_add_string_element(required, "message");
        json_object_set_string_member(gateway_error, "type", "object");
        json_object_set_object_member(gateway_error, "properties", props);
        json_object_set_array_member(gateway_error, "required", required);
        json_object_set_object_member(schemas, "GatewayError", gateway_error);
        json_object_set_string_member(bearer, "type", "http");
        json_object_set_string_member(bearer, "scheme", "bearer");
        json_object_set_object_member(schemes, "bearer", bearer);
        json_object_set_object_member(o, "schemas", schemas);
        json_object_set_object_member(o, "securitySchemes", schemes);
        return object_node(o);
}

JsonNode *gateway_openapi_new(const Contract *c, const char *service) {
        JsonObject *doc = json_object_new(), *info = json_object_new(), *paths = json_object_new();
        JsonArray *security = json_array_new();
        JsonObject *bearer = json_object_new();

        json_object_set_string_member(doc, "openapi", "3.0.3");
        json_object_set_string_member(info, "title", service);
        json_object_set_string_member(info, "version", c->name);
        if (c->doc)
                json_object_set_string_member(info, "description", c->doc);
        json_object_set_object_member(doc, "info", info);
        for (size_t i = 0; i < c->n_members; i++) {
                const ContractMember *m = &c->members[i];
                g_autofree char *path = NULL;
                JsonObject *item;

                if (m->kind != CONTRACT_METHOD)
                        continue;
                path = g_strdup_printf("/v1/services/%s/%s", service, m->name);
                item = json_object_new();
                json_object_set_member(item, "post", operation(c, m));
                json_object_set_object_member(paths, path, item);
        }
        json_object_set_object_member(doc, "paths", paths);
        json_object_set_member(doc, "components", components(c));
        json_object_set_array_member(bearer, "bearer", json_array_new());
        json_array_add_object_element(security, bearer);
        json_object_set_array_member(doc, "security", security);
        return object_node(doc);
}
