/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include <appservice.h>

#include "json-map.h"
#include "valueset-json.h"
#include "websocket.h"

/* Close codes of the application range (4000-4999): the HTTP status they stand for, plus 4000. */
#define CLOSE_NOT_FOUND 4404
#define CLOSE_UNAVAILABLE 4503

typedef struct {
        gint n_ref;
        GatewayState *state;
        SoupWebsocketConnection *ws;
        AppServiceConnection *connection;
        char *service;
        Contract *contract;
        GHashTable *requests;   /* the provider's requests awaiting the client: id -> AppServiceRequest */
        gboolean over;
} Session;

static Session *session_ref(Session *s) {
        g_atomic_int_inc(&s->n_ref);
        return s;
}

static void session_unref(Session *s) {
        if (!g_atomic_int_dec_and_test(&s->n_ref))
                return;
        g_object_unref(s->ws);
        if (s->connection)
                g_signal_handlers_disconnect_by_data(s->connection, s);
        g_clear_object(&s->connection);
        g_free(s->service);
        contract_free(s->contract);
        g_hash_table_unref(s->requests);
        g_free(s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Session, session_unref)

static void send_node(Session *s, JsonNode *node) {
        g_autofree char *text = json_to_string(node, FALSE);

        if (soup_websocket_connection_get_state(s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
                soup_websocket_connection_send_text(s->ws, text);
}

/* {"type": TYPE, KEY: NUMBER} with `body` (taken, may be NULL) under `body_key`. */
static void send_typed(Session *s, const char *type, const char *id_key, guint64 id, const char *body_key, JsonNode *body) {
        g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "type", type);
        if (id_key)
                json_object_set_int_member(o, id_key, (gint64) id);
        if (body_key && body)
                json_object_set_member(o, body_key, body);
        json_node_take_object(node, o);
        send_node(s, node);
}

static void send_error(Session *s, gboolean has_id, guint64 id, const char *name, const char *message) {
        g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "type", "error");
        if (has_id)
                json_object_set_int_member(o, "id", (gint64) id);
        json_object_set_string_member(o, "error", name);
        json_object_set_string_member(o, "message", message);
        json_node_take_object(node, o);
        send_node(s, node);
}

void gateway_websocket_refuse(SoupWebsocketConnection *ws, gushort code, const char *name, const char *message) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) node = NULL;
        g_autofree char *text = NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "type");
        json_builder_add_string_value(b, "error");
        json_builder_set_member_name(b, "error");
        json_builder_add_string_value(b, name);
        json_builder_set_member_name(b, "message");
        json_builder_add_string_value(b, message);
        json_builder_end_object(b);
        node = json_builder_get_root(b);
        text = json_to_string(node, FALSE);
        if (soup_websocket_connection_get_state(ws) == SOUP_WEBSOCKET_STATE_OPEN) {
                soup_websocket_connection_send_text(ws, text);
                soup_websocket_connection_close(ws, code, name);
        }
}

/* A ValueSet as JSON: by `record` when the contract gives one, else the typed mapping. */
static JsonNode *to_json(GVariant *value_set, const ContractType *record) {
        g_autofree char *text = NULL;

        if (record)
                return gateway_record_to_json(value_set, record);
        text = valueset_json_print(value_set);
        return json_from_string(text, NULL);
}

/* A JSON object as a ValueSet, `record` or the typed mapping; with Action when given. */
static GVariant *to_value_set(JsonNode *node, const ContractType *record, const char *action, GError **error) {
        g_autofree char *text = NULL;
        g_autoptr(GVariant) set = NULL;
        GVariantBuilder b;
        GVariantIter it;
        const char *key;
        GVariant *value;

        if (!node || !JSON_NODE_HOLDS_OBJECT(node)) {
                g_set_error(error, GATEWAY_JSON_ERROR, 0, "expected an object");
                return NULL;
        }
        if (record)
                return gateway_json_to_record(json_node_get_object(node), record, action ? "Action" : NULL, action, error);
        text = json_to_string(node, FALSE);
        set = valueset_json_parse(text, -1, error);
        if (!set)
                return NULL;
        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        if (action)
                g_variant_builder_add(&b, "{sv}", "Action", g_variant_new_string(action));
        g_variant_iter_init(&it, set);
        while (g_variant_iter_next(&it, "{&sv}", &key, &value)) {
                if (!action || strcmp(key, "Action") != 0)
                        g_variant_builder_add(&b, "{sv}", key, value);
                g_variant_unref(value);
        }
        return g_variant_builder_end(&b);
}

/* ---- the client's actions ------------------------------------------------------------------- */

typedef struct {
        Session *session;
        guint64 id;
        const ContractMember *method;
} Pending;

static void answered(GObject *source, GAsyncResult *result, gpointer data) {
        Pending *p = data;
        g_autoptr(Session) s = p->session;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GError) error = NULL;
        GVariant *message;
        const char *name = NULL;

        response = app_service_connection_send_message_finish(APP_SERVICE_CONNECTION(source), result, &error);
        if (response && app_service_response_get_status(response) != APP_SERVICE_RESPONSE_STATUS_SUCCESS &&
            app_service_response_get_error(response))
                error = g_error_copy(app_service_response_get_error(response));
        if (!response || error)
                send_error(s, TRUE, p->id, "failed", error ? error->message : "no answer");
        else {
                message = app_service_response_get_message(response);
                if (p->method && g_variant_lookup(message, "Error", "&s", &name)) {
                        const ContractMember *e = contract_find(s->contract, CONTRACT_ERROR, name);

                        send_typed(s, "error", "id", p->id, "result", to_json(message, e ? e->input : NULL));
                } else
                        send_typed(s, "response", "id", p->id, "result",
                                   to_json(message, p->method ? p->method->output : NULL));
        }
        g_free(p);
}

static void client_action(Session *s, JsonObject *o) {
        g_autoptr(GError) error = NULL;
        const char *action = json_object_get_string_member_with_default(o, "action", NULL);
        gint64 id = json_object_get_int_member_with_default(o, "id", -1);
        const ContractMember *method = NULL;
        GVariant *message;
        Pending *p;

        if (!action || id < 0) {
                send_error(s, id >= 0, (guint64) id, "bad-request", "an action frame has \"id\" (a number) and \"action\"");
                return;
        }
        if (s->contract && !(method = contract_find(s->contract, CONTRACT_METHOD, action))) {
                send_error(s, TRUE, (guint64) id, "unknown-action", "no such action in the contract");
                return;
        }
        message = to_value_set(json_object_get_member(o, "parameters"), method ? method->input : NULL, action, &error);
        if (!message) {
                send_error(s, TRUE, (guint64) id, "bad-request", error->message);
                return;
        }
        p = g_new0(Pending, 1);
        p->session = session_ref(s);
        p->id = (guint64) id;
        p->method = method;
        app_service_connection_send_message(s->connection, message, NULL, answered, p);
}

/* The client's answer to a request of the provider's. */
static void client_answer(Session *s, JsonObject *o) {
        g_autoptr(GError) error = NULL;
        gint64 id = json_object_get_int_member_with_default(o, "request", -1);
        AppServiceRequest *request = id >= 0 ? g_hash_table_lookup(s->requests, &id) : NULL;
        const ContractMember *callback = NULL;
        const char *action = NULL;
        GVariant *response;

        if (!request) {
                send_error(s, FALSE, 0, "unknown-request", "no request of the provider's waits with that \"request\"");
                return;
        }
        if (s->contract && g_variant_lookup(app_service_request_get_message(request), "Action", "&s", &action))
                callback = contract_find(s->contract, CONTRACT_CALLBACK, action);
        response = to_value_set(json_object_get_member(o, "result"), callback ? callback->output : NULL, NULL, &error);
        if (!response) {
                send_error(s, FALSE, 0, "bad-request", error->message);
                return;
        }
        app_service_request_send_response(request, response, NULL, NULL, NULL);
        g_hash_table_remove(s->requests, &id);
}

static void on_message(SoupWebsocketConnection *ws, gint type, GBytes *data, gpointer user_data) {
        Session *s = user_data;
        g_autoptr(JsonParser) parser = json_parser_new_immutable();
        gsize length;
        const char *text = g_bytes_get_data(data, &length);
        JsonNode *root;
        const char *kind;

        if (type != SOUP_WEBSOCKET_DATA_TEXT || !s->connection || s->over ||
            !g_utf8_validate(text, (gssize) length, NULL) ||
            !json_parser_load_from_data(parser, text, (gssize) length, NULL) ||
            !(root = json_parser_get_root(parser)) || !JSON_NODE_HOLDS_OBJECT(root)) {
                send_error(s, FALSE, 0, "bad-request", "a frame is one JSON object in a text frame");
                return;
        }
        kind = json_object_get_string_member_with_default(json_node_get_object(root), "type", "action");
        if (strcmp(kind, "action") == 0)
                client_action(s, json_node_get_object(root));
        else if (strcmp(kind, "response-to") == 0)
                client_answer(s, json_node_get_object(root));
        else
                send_error(s, FALSE, 0, "bad-request", "a frame's \"type\" is \"action\" or \"response-to\"");
}

/* ---- the provider's side -------------------------------------------------------------------- */

static void on_request(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        Session *s = user_data;
        GVariant *message = app_service_request_get_message(request);
        guint64 id = app_service_request_get_id(request);
        const ContractMember *callback = NULL;
        const char *action = NULL;
        g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
        JsonObject *o = json_object_new();

        if (g_variant_lookup(message, "Action", "&s", &action) && s->contract)
                callback = contract_find(s->contract, CONTRACT_CALLBACK, action);
        g_hash_table_replace(s->requests, g_memdup2(&id, sizeof id), g_object_ref(request));
        json_object_set_string_member(o, "type", "request");
        json_object_set_int_member(o, "request", (gint64) id);
        if (action)
                json_object_set_string_member(o, "action", action);
        json_object_set_member(o, "parameters", to_json(message, callback ? callback->input : NULL));
        json_node_take_object(node, o);
        send_node(s, node);
}

static void on_service_closed(AppServiceConnection *connection, AppServiceClosedStatus status, gpointer user_data) {
        Session *s = user_data;
        g_autoptr(GEnumClass) statuses = g_type_class_ref(APP_SERVICE_TYPE_CLOSED_STATUS);
        GEnumValue *value = g_enum_get_value(statuses, (gint) status);
        g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
        JsonObject *o = json_object_new();

        s->over = TRUE;
        json_object_set_string_member(o, "type", "closed");
        json_object_set_string_member(o, "status", value ? value->value_nick : "unknown");
        json_node_take_object(node, o);
        send_node(s, node);
        if (soup_websocket_connection_get_state(s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
                soup_websocket_connection_close(s->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, "closed");
}

static void on_ws_closed(SoupWebsocketConnection *ws, gpointer user_data) {
        Session *s = user_data;

        /* The socket went: the app service connection ends with it (the provider sees it). */
        s->over = TRUE;
        g_hash_table_remove_all(s->requests);
        if (s->connection && app_service_connection_get_is_open(s->connection))
                app_service_connection_close(s->connection, NULL, NULL, NULL);
        g_signal_handlers_disconnect_by_data(ws, s);
        session_unref(s);
}

static void opened(GObject *source, GAsyncResult *result, gpointer data) {
        g_autoptr(Session) s = data;
        g_autoptr(GError) error = NULL;
        AppServiceConnectionStatus status;

        status = app_service_connection_open_finish(APP_SERVICE_CONNECTION(source), result, &error);
        if (status != APP_SERVICE_CONNECTION_STATUS_SUCCESS) {
                gboolean hidden = status == APP_SERVICE_CONNECTION_STATUS_APP_SERVICE_UNAVAILABLE ||
                                  status == APP_SERVICE_CONNECTION_STATUS_NOT_AUTHORIZED ||
                                  status == APP_SERVICE_CONNECTION_STATUS_APP_NOT_INSTALLED;

                gateway_websocket_refuse(s->ws, hidden ? CLOSE_NOT_FOUND : CLOSE_UNAVAILABLE,
                                         hidden ? "not-found" : "unavailable",
                                         hidden ? "no app service for you there" : (error ? error->message : "cannot open"));
                return;
        }
        send_typed(s, "opened", NULL, 0, NULL, NULL);
}

void gateway_websocket_start(GatewayState *state, SoupWebsocketConnection *ws, GDBusConnection *bus,
                             const char *service, Contract *contract) {
        Session *s = g_new0(Session, 1);

        s->n_ref = 1;   /* the socket's, given back when it closes */
        s->state = state;
        s->ws = g_object_ref(ws);
        s->service = g_strdup(service);
        s->contract = contract;
        s->requests = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_object_unref);
        soup_websocket_connection_set_max_incoming_payload_size(ws, state->max_body_size);
        g_signal_connect(ws, "message", G_CALLBACK(on_message), s);
        g_signal_connect(ws, "closed", G_CALLBACK(on_ws_closed), s);
        s->connection = app_service_connection_new_for_bus(bus, service, NULL);
        g_signal_connect(s->connection, "request-received", G_CALLBACK(on_request), s);
        g_signal_connect(s->connection, "service-closed", G_CALLBACK(on_service_closed), s);
        app_service_connection_open(s->connection, NULL, opened, session_ref(s));
}
