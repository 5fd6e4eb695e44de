/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include <appservice.h>

#include "json-map.h"
#include "openapi.h"
#include "server.h"
#include "valueset-json.h"
#include "websocket.h"

#define BUS_NAME "io.appservice1"
#define MANAGER_PATH "/io/appservice1"
#define MANAGER_IFACE "io.appservice1.Manager"
#define SERVICE_IFACE "io.appservice1.Service"
#define NAME_MAX_LENGTH 255

/* ---- answers ---------------------------------------------------------------------------------- */

static void reply_json(SoupServerMessage *msg, guint status, JsonNode *node) {
        g_autofree char *text = json_to_string(node, FALSE);

        soup_server_message_set_status(msg, status, NULL);
        soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control", "no-store");
        /* One request per connection (main.c: libsoup closes connections it did not accept). */
        soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Connection", "close");
        soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_COPY, text, strlen(text));
}

/* Every error is {"error": NAME, "message": SENTENCE}. */
static void reply_error(SoupServerMessage *msg, guint status, const char *name, const char *format, ...)
        G_GNUC_PRINTF(4, 5);
static void reply_error(SoupServerMessage *msg, guint status, const char *name, const char *format, ...) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) node = NULL;
        g_autofree char *message = NULL;
        va_list ap;

        va_start(ap, format);
        message = g_strdup_vprintf(format, ap);
        va_end(ap);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "error");
        json_builder_add_string_value(b, name);
        json_builder_set_member_name(b, "message");
        json_builder_add_string_value(b, message);
        json_builder_end_object(b);
        node = json_builder_get_root(b);
        if (status == SOUP_STATUS_UNAUTHORIZED)
                soup_message_headers_replace(soup_server_message_get_response_headers(msg), "WWW-Authenticate",
                                             "Bearer realm=\"appservice\"");
        reply_json(msg, status, node);
}

/* What the broker and the library said, as an HTTP status. */
static void reply_gerror(SoupServerMessage *msg, const char *service, const GError *error) {
        static const struct {
                AppServiceError code;
                guint status;
                const char *name;
        } map[] = {
                { APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE, SOUP_STATUS_NOT_FOUND, "not-found" },
                { APP_SERVICE_ERROR_APP_NOT_INSTALLED, SOUP_STATUS_NOT_FOUND, "not-found" },
                { APP_SERVICE_ERROR_NOT_AUTHORIZED, SOUP_STATUS_NOT_FOUND, "not-found" },
                { APP_SERVICE_ERROR_DISABLED_BY_POLICY, SOUP_STATUS_SERVICE_UNAVAILABLE, "disabled" },
                { APP_SERVICE_ERROR_APP_UNAVAILABLE, SOUP_STATUS_SERVICE_UNAVAILABLE, "unavailable" },
                { APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too-large" },
                { APP_SERVICE_ERROR_INVALID_MESSAGE, SOUP_STATUS_BAD_REQUEST, "invalid-message" },
                { APP_SERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED, 429, "too-many" },
                { APP_SERVICE_ERROR_TIMEOUT, SOUP_STATUS_GATEWAY_TIMEOUT, "timeout" },
                { APP_SERVICE_ERROR_CLOSED, SOUP_STATUS_BAD_GATEWAY, "closed" },
                { APP_SERVICE_ERROR_CONTRACT_VIOLATION, SOUP_STATUS_BAD_GATEWAY, "contract-violation" },
        };

        for (size_t i = 0; error->domain == APP_SERVICE_ERROR && i < G_N_ELEMENTS(map); i++)
                if ((AppServiceError) error->code == map[i].code) {
                        /* Not there and not allowed read the same: nothing is revealed. */
                        if (map[i].status == SOUP_STATUS_NOT_FOUND)
                                reply_error(msg, map[i].status, map[i].name, "no app service '%s' for you", service);
                        else
                                reply_error(msg, map[i].status, map[i].name, "%s", error->message);
                        return;
                }
        reply_error(msg, SOUP_STATUS_BAD_GATEWAY, "failed", "%s", error->message);
}

/* ---- one call --------------------------------------------------------------------------------- */

typedef struct Call Call;
struct Call {
        GatewayState *state;
        SoupServerMessage *msg;           /* a POST's, or NULL for a WebSocket */
        SoupWebsocketConnection *ws;      /* a WebSocket's, or NULL */
        void (*then)(Call *c);            /* once the service is known to be the caller's to use */
        GDBusConnection *bus;
        char *service;
        char *action;
        char *path;               /* the service's object, from ListServices */
        JsonNode *body;           /* the request's JSON object */
        char *contract_text;
        Contract *contract;
        const ContractMember *method;
};

static void call_free(Call *c) {
        if (c->msg) {
                soup_server_message_unpause(c->msg);
                g_object_unref(c->msg);
        }
        g_clear_object(&c->ws);
        g_clear_object(&c->bus);
        g_free(c->service);
        g_free(c->action);
        g_free(c->path);
        if (c->body)
                json_node_unref(c->body);
        g_free(c->contract_text);
        contract_free(c->contract);
        g_free(c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Call, call_free)

static void not_found(Call *c) {
        g_autofree char *message = g_strdup_printf("no app service '%s' for you", c->service);

        if (c->ws)
                gateway_websocket_refuse(c->ws, 4404, "not-found", message);
        else
                reply_error(c->msg, SOUP_STATUS_NOT_FOUND, "not-found", "%s", message);
}

static void answered(GObject *source, GAsyncResult *result, gpointer data) {
        g_autoptr(Call) c = data;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) node = NULL;
        GVariant *message;
        const char *name = NULL;

        response = app_service_send_message_once_finish(result, &error);
        if (response && app_service_response_get_status(response) != APP_SERVICE_RESPONSE_STATUS_SUCCESS &&
            app_service_response_get_error(response))
                error = g_error_copy(app_service_response_get_error(response));
        if (!response || error) {
                reply_gerror(c->msg, c->service, error);
                return;
        }
        message = app_service_response_get_message(response);
        if (!c->method) {
                g_autofree char *text = valueset_json_print(message);

                node = json_from_string(text, NULL);
                reply_json(c->msg, SOUP_STATUS_OK, node);
                return;
        }
        /* A contract's error: 422 with its name and fields. */
        if (g_variant_lookup(message, "Error", "&s", &name)) {
                const ContractMember *e = contract_find(c->contract, CONTRACT_ERROR, name);
                JsonObject *o;

                node = gateway_record_to_json(message, e ? e->input : c->method->output);
                o = json_node_get_object(node);
                json_object_remove_member(o, "Error");
                json_object_set_string_member(o, "error", name);
                reply_json(c->msg, SOUP_STATUS_UNPROCESSABLE_ENTITY, node);
                return;
        }
        node = gateway_record_to_json(message, c->method->output);
        reply_json(c->msg, SOUP_STATUS_OK, node);
}

/* The body as a ValueSet: by the action's parameters, or by the typed mapping. */
static GVariant *message_of(Call *c, GError **error) {
        JsonObject *object = json_node_get_object(c->body);

        if (c->method)
                return gateway_json_to_record(object, c->method->input, "Action", c->method->name, error);
        {
                g_autofree char *text = json_to_string(c->body, FALSE);
                g_autoptr(GVariant) set = valueset_json_parse(text, -1, error);
                GVariantBuilder b;
                GVariantIter it;
                const char *key;
                GVariant *value;

                if (!set)
                        return NULL;
                g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
                g_variant_builder_add(&b, "{sv}", "Action", g_variant_new_string(c->action));
                g_variant_iter_init(&it, set);
                while (g_variant_iter_next(&it, "{&sv}", &key, &value)) {
                        if (strcmp(key, "Action") != 0)
                                g_variant_builder_add(&b, "{sv}", key, value);
                        g_variant_unref(value);
                }
                return g_variant_builder_end(&b);
        }
}

/* Sends the message, `c` taken. */
static void send_call(Call *c) {
        g_autoptr(GError) error = NULL;
        GVariant *message;

        if (c->contract) {
                c->method = contract_find(c->contract, CONTRACT_METHOD, c->action);
                if (!c->method) {
                        reply_error(c->msg, SOUP_STATUS_NOT_FOUND, "unknown-action",
                                    "app service '%s' has no action '%s'", c->service, c->action);
                        call_free(c);
                        return;
                }
        }
        message = message_of(c, &error);
        if (!message) {
                reply_error(c->msg, SOUP_STATUS_BAD_REQUEST, "bad-request", "%s", error->message);
                call_free(c);
                return;
        }
        app_service_send_message_once(c->bus, c->service, message, NULL, answered, c);
}

static void got_contract(GObject *source, GAsyncResult *result, gpointer data) {
        Call *c = data;
        g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, NULL);
        g_autofree char *message = NULL;

        if (!reply) {
                not_found(c);
                call_free(c);
                return;
        }
        g_variant_get(reply, "(s)", &c->contract_text);
        if (contract_parse(c->contract_text, strlen(c->contract_text), c->service, &c->contract, &message) < 0) {
                if (c->ws)
                        gateway_websocket_refuse(c->ws, 4502, "bad-contract", "the broker's contract does not parse");
                else
                        reply_error(c->msg, SOUP_STATUS_BAD_GATEWAY, "bad-contract",
                                    "the broker's contract does not parse: %s", message ? message : "?");
                call_free(c);
                return;
        }
        c->then(c);
}

/* AllowHTTP= and Contract=, read as the caller (so a service it may not see stays unseen). */
static void got_properties(GObject *source, GAsyncResult *result, gpointer data) {
        Call *c = data;
        g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, NULL);
        g_autoptr(GVariant) props = NULL;
        gboolean allow_http = FALSE;
        const char *contract = "";

        if (reply) {
                props = g_variant_get_child_value(reply, 0);
                g_variant_lookup(props, "AllowHTTP", "b", &allow_http);
                g_variant_lookup(props, "Contract", "&s", &contract);
        }
        if (!allow_http) {
                not_found(c);
                call_free(c);
                return;
        }
        if (!*contract) {
                c->then(c);
                return;
        }
        g_dbus_connection_call(c->bus, BUS_NAME, c->path, SERVICE_IFACE,
                               "GetContract", NULL, G_VARIANT_TYPE("(s)"), G_DBUS_CALL_FLAGS_NO_AUTO_START, 10000,
                               NULL, got_contract, c);
}

/* ListServices as the caller: is it there, and may the caller open it? */
static void got_services(GObject *source, GAsyncResult *result, gpointer data) {
        Call *c = data;
        g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, NULL);
        g_autoptr(GVariantIter) it = NULL;
        const char *name, *path;
        gboolean may_open, found = FALSE;

        if (reply) {
                g_variant_get(reply, "(a(ssssbo))", &it);
                while (!found && g_variant_iter_next(it, "(&s&s&s&sb&o)", &name, NULL, NULL, NULL, &may_open, &path))
                        found = may_open && strcmp(name, c->service) == 0;
        }
        if (found)
                c->path = g_strdup(path);
        if (!found) {
                not_found(c);
                call_free(c);
                return;
        }
        g_dbus_connection_call(c->bus, BUS_NAME, c->path,
                               "org.freedesktop.DBus.Properties", "GetAll", g_variant_new("(s)", SERVICE_IFACE),
                               G_VARIANT_TYPE("(a{sv})"), G_DBUS_CALL_FLAGS_NO_AUTO_START, 10000, NULL, got_properties, c);
}

/* ---- routes ----------------------------------------------------------------------------------- */

static const GatewayCaller *authenticate(GatewayState *state, SoupServerMessage *msg) {
        const char *header = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");

        if (!header || g_ascii_strncasecmp(header, "Bearer ", 7) != 0)
                return NULL;
        return gateway_tokens_find(state->tokens, header + 7);
}

static gboolean is_name(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > NAME_MAX_LENGTH)
                return FALSE;
        for (; *s; s++)
                if (!g_ascii_isalnum(*s) && !strchr(".-_", *s))
                        return FALSE;
        return TRUE;
}

/* The contract's OpenAPI document, once the service is the caller's to see. */
static void openapi_ready(Call *c) {
        g_autoptr(JsonNode) doc = NULL;

        if (!c->contract) {
                reply_error(c->msg, SOUP_STATUS_NOT_FOUND, "no-contract",
                            "app service '%s' has no contract, so no OpenAPI document", c->service);
                call_free(c);
                return;
        }
        doc = gateway_openapi_new(c->contract, c->service);
        reply_json(c->msg, SOUP_STATUS_OK, doc);
        call_free(c);
}

/* GET /v1/services/NAME/openapi.json */
static void handle_openapi(GatewayState *state, SoupServerMessage *msg, GDBusConnection *bus, const char *service) {
        Call *c = g_new0(Call, 1);

        c->state = state;
        c->msg = g_object_ref(msg);
        c->bus = g_object_ref(bus);
        c->service = g_strdup(service);
        c->then = openapi_ready;
        soup_server_message_pause(msg);
        g_dbus_connection_call(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "ListServices", NULL,
                               G_VARIANT_TYPE("(a(ssssbo))"), G_DBUS_CALL_FLAGS_NO_AUTO_START, 10000, NULL, got_services, c);
}

/* POST /v1/services/NAME/ACTION */
static void handle_call(GatewayState *state, SoupServerMessage *msg, GDBusConnection *bus, const char *service,
                        const char *action) {
        SoupMessageBody *body = soup_server_message_get_request_body(msg);
        g_autoptr(GBytes) bytes = soup_message_body_flatten(body);
        g_autoptr(JsonParser) parser = json_parser_new_immutable();
        g_autoptr(GError) error = NULL;
        gsize length;
        const char *data = g_bytes_get_data(bytes, &length);
        Call *c;

        if (!g_utf8_validate(data ? data : "", (gssize) length, NULL) ||
            !json_parser_load_from_data(parser, data ? data : "", (gssize) length, &error) ||
            !json_parser_get_root(parser) || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
                reply_error(msg, SOUP_STATUS_BAD_REQUEST, "bad-request", "the body must be one JSON object%s%s",
                            error ? ": " : "", error ? error->message : "");
                return;
        }
        c = g_new0(Call, 1);
        c->state = state;
        c->msg = g_object_ref(msg);
        c->bus = g_object_ref(bus);
        c->service = g_strdup(service);
        c->action = g_strdup(action);
        c->body = json_node_ref(json_parser_get_root(parser));
        c->then = send_call;
        soup_server_message_pause(msg);
        g_dbus_connection_call(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "ListServices", NULL,
                               G_VARIANT_TYPE("(a(ssssbo))"), G_DBUS_CALL_FLAGS_NO_AUTO_START, 10000, NULL, got_services, c);
}

static void handle(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data) {
        GatewayState *state = data;
        const GatewayCaller *caller = authenticate(state, msg);
        g_auto(GStrv) parts = NULL;
        g_autoptr(GError) error = NULL;
        GDBusConnection *bus;

        if (!caller) {
                reply_error(msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized", "a valid bearer token is needed");
                return;
        }
        parts = g_strsplit(path, "/", -1);
        /* GET /v1/connections/NAME with Upgrade: websocket: left for the WebSocket handler (no
         * status set here), which gets the caller from the message. */
        if (g_strv_length(parts) == 4 && strcmp(parts[1], "v1") == 0 && strcmp(parts[2], "connections") == 0 &&
            strcmp(soup_server_message_get_method(msg), "GET") == 0 && is_name(parts[3])) {
                g_object_set_data(G_OBJECT(msg), "gateway-caller", (gpointer) caller);
                return;
        }
        /* "", "v1", "services", NAME, ACTION */
        if (g_strv_length(parts) != 5 || strcmp(parts[1], "v1") != 0 || strcmp(parts[2], "services") != 0 ||
            !is_name(parts[3]) || !is_name(parts[4])) {
                reply_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such path: POST /v1/services/NAME/ACTION");
                return;
        }
        if (strcmp(parts[4], "openapi.json") == 0 && strcmp(soup_server_message_get_method(msg), "GET") == 0) {
                bus = gateway_identities_get(state->identities, caller, &error);
                if (!bus) {
                        reply_error(msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "unavailable", "the broker cannot be reached");
                        return;
                }
                handle_openapi(state, msg, bus, parts[3]);
                return;
        }
        if (strcmp(soup_server_message_get_method(msg), "POST") != 0) {
                soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow", "POST");
                reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed", "an action is called with POST");
                return;
        }
        bus = gateway_identities_get(state->identities, caller, &error);
        if (!bus) {
                g_warning("principal '%s': %s", caller->principal, error->message);
                reply_error(msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "unavailable", "the broker cannot be reached");
                return;
        }
        handle_call(state, msg, bus, parts[3], parts[4]);
}

/* The WebSocket's connection as the caller, once its service is the caller's to use. */
static void websocket_ready(Call *c) {
        gateway_websocket_start(c->state, c->ws, c->bus, c->service, g_steal_pointer(&c->contract));
        call_free(c);
}

static void handle_websocket(SoupServer *server, SoupServerMessage *msg, const char *path,
                             SoupWebsocketConnection *ws, gpointer data) {
        GatewayState *state = data;
        const GatewayCaller *caller = g_object_get_data(G_OBJECT(msg), "gateway-caller");
        g_auto(GStrv) parts = g_strsplit(path, "/", -1);
        g_autoptr(GError) error = NULL;
        GDBusConnection *bus;
        Call *c;

        /* The tokens may have been reloaded since: look the caller up again. */
        caller = caller ? authenticate(state, msg) : NULL;
        if (!caller || g_strv_length(parts) != 4) {
                gateway_websocket_refuse(ws, 4401, "unauthorized", "a valid bearer token is needed");
                return;
        }
        bus = gateway_identities_get(state->identities, caller, &error);
        if (!bus) {
                gateway_websocket_refuse(ws, 4503, "unavailable", "the broker cannot be reached");
                return;
        }
        c = g_new0(Call, 1);
        c->state = state;
        c->ws = g_object_ref(ws);
        c->bus = g_object_ref(bus);
        c->service = g_strdup(parts[3]);
        c->then = websocket_ready;
        g_dbus_connection_call(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "ListServices", NULL,
                               G_VARIANT_TYPE("(a(ssssbo))"), G_DBUS_CALL_FLAGS_NO_AUTO_START, 10000, NULL, got_services, c);
}

/* Before the body is read: a body over the limit is refused unread, and one without a length
 * (chunked) is not taken at all. */
static void early(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data) {
        GatewayState *state = data;
        SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);

        if (soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CHUNKED) {
                reply_error(msg, SOUP_STATUS_LENGTH_REQUIRED, "length-required", "send the body with a Content-Length");
                return;
        }
        if ((guint64) soup_message_headers_get_content_length(headers) > state->max_body_size)
                reply_error(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too-large", "the body is over %" G_GSIZE_FORMAT " bytes",
                            state->max_body_size);
}

void gateway_server_setup(SoupServer *server, GatewayState *state) {
        soup_server_add_early_handler(server, NULL, early, state, NULL);
        soup_server_add_handler(server, NULL, handle, state, NULL);
        /* The same path's handler runs first: it authenticates, and only a GET of a connection
         * comes through to the WebSocket's (a path of its own: libsoup tries a WebSocket handshake
         * on every request its handler's path takes). */
        soup_server_add_handler(server, "/v1/connections", handle, state, NULL);
        soup_server_add_websocket_handler(server, "/v1/connections", NULL, NULL, handle_websocket, state, NULL);
}
