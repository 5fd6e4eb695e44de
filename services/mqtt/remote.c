/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "remote.h"
#include "valueset-dbus-size.h"
#include "wire.h"

#define BUS_NAME "io.appservice1"
#define MANAGER_PATH "/io/appservice1"
#define SERVICE_PREFIX "/io/appservice1/service"
#define MANAGER_IFACE "io.appservice1.Manager"
#define SERVICE_IFACE "io.appservice1.Service"
#define CONNECTION_IFACE "io.appservice1.Connection"

#define ERROR_APP_SERVICE_UNAVAILABLE "io.appservice1.Error.AppServiceUnavailable"
#define ERROR_APP_NOT_INSTALLED "io.appservice1.Error.AppNotInstalled"
#define ERROR_APP_UNAVAILABLE "io.appservice1.Error.AppUnavailable"
#define ERROR_NOT_AUTHORIZED "io.appservice1.Error.NotAuthorized"
#define ERROR_DISABLED_BY_POLICY "io.appservice1.Error.DisabledByPolicy"
#define ERROR_RESOURCE_LIMITS_EXCEEDED "io.appservice1.Error.ResourceLimitsExceeded"
#define ERROR_MESSAGE_SIZE_TOO_LARGE "io.appservice1.Error.MessageSizeTooLarge"
#define ERROR_INVALID_MESSAGE "io.appservice1.Error.InvalidMessage"
#define ERROR_TIMEOUT "io.appservice1.Error.Timeout"
#define ERROR_CLOSED "io.appservice1.Error.Closed"

/* ServiceClosed's statuses. */
#define CLOSED_COMPLETED 0u
#define CLOSED_CANCELED 1u
#define CLOSED_UNKNOWN 3u

/* The broker takes at most this many bytes of text with Refuse and FailRequest. */
#define BRIDGE_MESSAGE_MAX 1024
/* The retained statuses of the other nodes come right after the link: for this long after it
 * came up, an open for a node whose status is not known yet waits for it instead of being
 * refused as offline. */
#define STATUS_SETTLE_USEC (1500 * G_TIME_SPAN_MILLISECOND)
/* A status payload is a short JSON object. */
#define STATUS_PAYLOAD_MAX 1024

/* The errors the broker lets a bridge hand on (daemon/connection.c): Refuse's, FailRequest's. */
static const char *const refusals[] = {
        ERROR_APP_SERVICE_UNAVAILABLE, ERROR_APP_NOT_INSTALLED, ERROR_APP_UNAVAILABLE,
        ERROR_NOT_AUTHORIZED,          ERROR_DISABLED_BY_POLICY, ERROR_RESOURCE_LIMITS_EXCEEDED,
};
static const char *const failures[] = {
        ERROR_MESSAGE_SIZE_TOO_LARGE, ERROR_INVALID_MESSAGE, ERROR_RESOURCE_LIMITS_EXCEEDED, ERROR_TIMEOUT,
        ERROR_CLOSED,                 ERROR_APP_UNAVAILABLE, ERROR_NOT_AUTHORIZED,
};

typedef struct Node Node;
typedef struct Session Session;

/* Another node, as its status says. */
struct Node {
        Remote *remote;
        char *name;
        gboolean online;
        gboolean status_known;  /* a status came since the link last came up */
        char *incarnation;     /* of the last "online" seen, NULL before */
        GHashTable *sessions;  /* guint64 id → Session *, both directions (ids are random) */
};

typedef enum SessionState {
        SESSION_OPENING,  /* opener: waiting for opened/refused; receiver: OpenConnection in flight */
        SESSION_OPEN,
} SessionState;

/* One remote connection: the local connection (the bridge is one endpoint of it) and the other
 * node's session id. */
struct Session {
        Remote *remote;
        Node *node;
        guint64 id;
        gboolean opener;       /* this node opened it (the client is here) */
        SessionState state;
        char *name;            /* the app service, on the receiving node */
        char *path;            /* the local connection; NULL while the receiver's open is in flight */
        AppServiceConnection *connection;  /* opener: the library's object of the local connection */
        gulong request_handler, closed_handler;
        guint open_timer;
        gboolean awaiting_status;  /* opener: the node's status is not known yet (STATUS_SETTLE_USEC) */
        char *provider;            /* opener: for the `open` frame */
        GVariant *open_caller;     /* opener: for the `open` frame */
        guint64 far_max;       /* the far service's MaxMessageSize (opener) */
        guint64 told_max;      /* this service's, for `opened` (receiver) */
        GHashTable *sent;      /* local request ids sent as `request` → AppServiceRequest * (opener) or NULL */
        GHashTable *received;  /* the other node's request ids being asked here */
};

typedef void (*CallDone)(Remote *r, GVariant *reply, const GError *error, gpointer data);

/* A method call to the broker, in the queue or in flight. */
typedef struct Call {
        Remote *remote;
        GCancellable *cancellable;  /* the Remote's: cancelled when it is freed */
        char *path;
        const char *interface, *method;
        GVariant *parameters;
        const GVariantType *reply_type;
        int timeout_msec;
        CallDone done;
        gpointer data;
        GDestroyNotify free_data;
} Call;

struct Remote {
        MqttLink *link;
        AppServiceProvider *provider;
        GDBusConnection *bus;
        const BridgeConfig *config;
        char *me;
        char *link_prefix;    /* "<prefix>/<me>/link/" */
        char *status_filter;  /* "<prefix>/+/status" */
        GHashTable *nodes;    /* name → Node * (owned) */
        GHashTable *by_path;  /* receiving sessions' local connection path → Session * */
        guint n_sessions;
        GCancellable *cancellable;
        GQueue calls;
        guint calls_in_flight;
        guint signal_id;
        guint watch_id;
        char *broker_owner;   /* io.appservice1's unique name, NULL while it has none */
        gint64 connected_at;  /* when the link last came up (monotonic), 0 while down */
        gboolean nodes_full_logged;
};

static void session_free(Session *s);

/* ---- helpers -------------------------------------------------------------------------------- */

static gboolean name_in(const char *name, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (g_strcmp0(name, list[i]) == 0)
                        return TRUE;
        return FALSE;
}

/* As the broker's node_name_is_valid(): 1 to 255 letters, digits, '.', '-', '_'; so also one
 * topic level without wildcards. */
static gboolean node_name_is_valid(const char *s) {
        size_t n = 0;

        for (; s[n]; n++)
                if (!g_ascii_isalnum(s[n]) && !strchr(".-_", s[n]))
                        return FALSE;
        return n >= 1 && n <= 255;
}

/* At most BRIDGE_MESSAGE_MAX bytes, cut at a character. */
static char *bridge_message(const char *text) {
        const char *end;

        if (strlen(text) <= BRIDGE_MESSAGE_MAX)
                return g_strdup(text);
        end = g_utf8_find_prev_char(text, text + BRIDGE_MESSAGE_MAX + 1);
        return g_strndup(text, end ? (gsize) (end - text) : 0);
}

/* The D-Bus error name and the text of a failed call. */
static void error_split(const GError *error, char **ret_name, char **ret_message) {
        g_autoptr(GError) copy = g_error_copy(error);
        char *name = g_dbus_error_get_remote_error(copy);

        if (!name)
                name = g_dbus_error_encode_gerror(copy);
        g_dbus_error_strip_remote_error(copy);
        *ret_name = name;
        *ret_message = bridge_message(copy->message);
}

/* The object path of app service `name`, as the broker makes it (sd_bus_path_encode()). */
static char *service_path(const char *name) {
        GString *s = g_string_new(SERVICE_PREFIX "/");

        if (!*name)
                g_string_append_c(s, '_');
        for (const char *p = name; *p; p++) {
                if (g_ascii_isalpha(*p) || (p != name && g_ascii_isdigit(*p)))
                        g_string_append_c(s, *p);
                else
                        g_string_append_printf(s, "_%02x", (guchar) *p);
        }
        return g_string_free(s, FALSE);
}

/* ---- calls to the broker, in order, at most REMOTE_CALLS_IN_FLIGHT_MAX at once -------------- */

static void call_free(Call *c) {
        if (c->free_data)
                c->free_data(c->data);
        g_clear_object(&c->cancellable);
        g_free(c->path);
        g_clear_pointer(&c->parameters, g_variant_unref);
        g_free(c);
}

static void gate_pump(Remote *r);

static void on_call_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        Call *c = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        Remote *r = c->remote;

        if (g_cancellable_is_cancelled(c->cancellable)) {
                /* The Remote is gone. */
                call_free(c);
                return;
        }
        r->calls_in_flight--;
        if (c->done)
                c->done(r, reply, error, c->data);
        call_free(c);
        gate_pump(r);
}

static void gate_pump(Remote *r) {
        Call *c;

        while (r->calls_in_flight < REMOTE_CALLS_IN_FLIGHT_MAX && (c = g_queue_pop_head(&r->calls))) {
                r->calls_in_flight++;
                g_dbus_connection_call(r->bus, BUS_NAME, c->path, c->interface, c->method,
                                       g_steal_pointer(&c->parameters), c->reply_type, G_DBUS_CALL_FLAGS_NO_AUTO_START,
                                       c->timeout_msec, c->cancellable, on_call_reply, c);
        }
}

/* Calls `method`; `done` (may be NULL) gets the outcome, then `free_data` frees `data`. */
static void remote_call(Remote *r, const char *path, const char *interface, const char *method, GVariant *parameters,
                        const GVariantType *reply_type, int timeout_msec, CallDone done, gpointer data,
                        GDestroyNotify free_data) {
        Call *c = g_new0(Call, 1);

        c->remote = r;
        c->cancellable = g_object_ref(r->cancellable);
        c->path = g_strdup(path);
        c->interface = interface;
        c->method = method;
        c->parameters = parameters ? g_variant_ref_sink(parameters) : NULL;
        c->reply_type = reply_type;
        c->timeout_msec = timeout_msec;
        c->done = done;
        c->data = data;
        c->free_data = free_data;
        g_queue_push_tail(&r->calls, c);
        gate_pump(r);
}

/* What a call on a local connection keeps until its reply: the library's connection (closed on
 * our side once the broker took the call), and the requests the library would answer on its own
 * when released (an empty response that must not overtake our call). */
typedef struct Keep {
        char *what;
        AppServiceConnection *connection;
        GPtrArray *requests;
} Keep;

static void keep_free(gpointer p) {
        Keep *k = p;

        g_free(k->what);
        g_clear_object(&k->connection);
        g_clear_pointer(&k->requests, g_ptr_array_unref);
        g_free(k);
}

static void on_lib_closed(GObject *source, GAsyncResult *result, gpointer user_data) {
        /* The broker closed it already: Close fails, as expected. */
        (void) app_service_connection_close_finish(APP_SERVICE_CONNECTION(source), result, NULL);
}

static void on_kept_call_done(Remote *r, GVariant *reply, const GError *error, gpointer data) {
        Keep *k = data;

        if (error && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                g_debug("%s failed, ignoring: %s", k->what, error->message);
        /* The library's object of a connection the broker no longer has: closed on our side. */
        if (k->connection && app_service_connection_get_is_open(k->connection))
                app_service_connection_close(k->connection, NULL, on_lib_closed, NULL);
}

static Keep *keep_new(const char *what, AppServiceConnection *connection) {
        Keep *k = g_new0(Keep, 1);

        k->what = g_strdup(what);
        k->connection = connection ? g_object_ref(connection) : NULL;
        return k;
}

static void keep_request(Keep *k, AppServiceRequest *request) {
        if (!request)
                return;
        if (!k->requests)
                k->requests = g_ptr_array_new_with_free_func(g_object_unref);
        g_ptr_array_add(k->requests, g_object_ref(request));
}

static void call_refuse(Remote *r, const char *path, AppServiceConnection *connection, const char *error_name,
                        const char *message) {
        g_autofree char *text = bridge_message(message);

        remote_call(r, path, CONNECTION_IFACE, "Refuse", g_variant_new("(ss)", error_name, text), NULL, -1,
                    on_kept_call_done, keep_new("Refuse", connection), keep_free);
}

static void call_close(Remote *r, const char *path, AppServiceConnection *connection, guint32 status,
                       GHashTable *requests) {
        Keep *k = keep_new("CloseWithStatus", connection);

        if (requests) {
                GHashTableIter iter;
                gpointer value;

                g_hash_table_iter_init(&iter, requests);
                while (g_hash_table_iter_next(&iter, NULL, &value))
                        keep_request(k, value);
        }
        remote_call(r, path, CONNECTION_IFACE, "CloseWithStatus", g_variant_new("(u)", status), NULL, -1,
                    on_kept_call_done, k, keep_free);
}

static void call_fail_request(Remote *r, const char *path, AppServiceRequest *request, guint64 id,
                              const char *error_name, const char *message) {
        g_autofree char *text = bridge_message(message);
        Keep *k = keep_new("FailRequest", NULL);

        if (!name_in(error_name, failures, G_N_ELEMENTS(failures)))
                error_name = ERROR_APP_UNAVAILABLE;
        keep_request(k, request);
        remote_call(r, path, CONNECTION_IFACE, "FailRequest", g_variant_new("(tss)", id, error_name, text), NULL, -1,
                    on_kept_call_done, k, keep_free);
}

/* ---- nodes and frames ------------------------------------------------------------------------ */

/* The sessions of `n`, to end them one by one (g_hash_table_get_values_as_ptr_array() is GLib 2.76). */
static GPtrArray *sessions_of(GHashTable *sessions) {
        GPtrArray *all = g_ptr_array_sized_new(g_hash_table_size(sessions));
        GHashTableIter iter;
        gpointer value;

        g_hash_table_iter_init(&iter, sessions);
        while (g_hash_table_iter_next(&iter, NULL, &value))
                g_ptr_array_add(all, value);
        return all;
}

static void node_free(gpointer p) {
        Node *n = p;

        g_assert(g_hash_table_size(n->sessions) == 0);
        g_hash_table_unref(n->sessions);
        g_free(n->incarnation);
        g_free(n->name);
        g_free(n);
}

static Node *node_get(Remote *r, const char *name, gboolean create) {
        Node *n = g_hash_table_lookup(r->nodes, name);

        if (n || !create)
                return n;
        if (g_hash_table_size(r->nodes) >= REMOTE_NODES_MAX) {
                if (!r->nodes_full_logged)
                        g_warning("more than %u other nodes seen, ignoring node '%s' and any later one",
                                  REMOTE_NODES_MAX, name);
                r->nodes_full_logged = TRUE;
                return NULL;
        }
        n = g_new0(Node, 1);
        n->remote = r;
        n->name = g_strdup(name);
        n->sessions = g_hash_table_new(g_int64_hash, g_int64_equal);
        g_hash_table_insert(r->nodes, n->name, n);
        return n;
}

static gboolean send_frame(Remote *r, Node *n, const WireFrame *f, GError **error) {
        g_autoptr(GBytes) bytes = wire_frame_encode(f, error);
        g_autofree char *topic = NULL;
        gsize size;

        if (!bytes)
                return FALSE;
        size = g_bytes_get_size(bytes);
        if (size > r->config->max_frame_size) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                            "the frame is %zu bytes, more than MaxFrameSize (%zu)", size, r->config->max_frame_size);
                return FALSE;
        }
        topic = g_strdup_printf("%s/%s/link/%s", mqtt_link_get_prefix(r->link), n->name, r->me);
        return mqtt_link_publish(r->link, topic, g_bytes_get_data(bytes, NULL), size, NULL, NULL, error);
}

/* A frame whose loss only costs a timeout elsewhere: a failure to send is logged. */
static void send_frame_or_log(Remote *r, Node *n, const WireFrame *f) {
        g_autoptr(GError) error = NULL;

        if (!send_frame(r, n, f, &error))
                g_message("cannot send a '%s' frame of session %016" G_GINT64_MODIFIER "x to node '%s', ignoring: %s",
                          wire_kind_to_string(f->kind), f->session, n->name, error->message);
}

static void send_close(Session *s, guint32 status) {
        WireFrame f = { .kind = WIRE_CLOSE, .session = s->id, .status = status };

        if (mqtt_link_is_connected(s->remote->link))
                send_frame_or_log(s->remote, s->node, &f);
}

static void send_failed(Remote *r, Node *n, guint64 session, guint64 request, const char *error_name,
                        const char *message) {
        WireFrame f = { .kind = WIRE_FAILED, .session = session, .request = request, .error = error_name,
                        .message = message };

        send_frame_or_log(r, n, &f);
}

/* ---- sessions -------------------------------------------------------------------------------- */

static guint64 new_session_id(Node *n) {
        guint64 id;

        do
                id = ((guint64) g_random_int() << 32) | g_random_int();
        while (id == 0 || g_hash_table_contains(n->sessions, &id));
        return id;
}

static Session *session_new(Remote *r, Node *n, guint64 id, gboolean opener, const char *name) {
        Session *s = g_new0(Session, 1);

        s->remote = r;
        s->node = n;
        s->id = id;
        s->opener = opener;
        s->state = SESSION_OPENING;
        s->name = g_strdup(name);
        s->far_max = G_MAXUINT64;
        s->told_max = REMOTE_DEFAULT_MAX_MESSAGE_SIZE;
        s->sent = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, opener ? g_object_unref : NULL);
        s->received = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
        g_hash_table_insert(n->sessions, &s->id, s);
        r->n_sessions++;
        return s;
}

static void session_free(Session *s) {
        Remote *r;

        if (!s)
                return;
        r = s->remote;
        g_hash_table_remove(s->node->sessions, &s->id);
        if (s->path && !s->opener)
                g_hash_table_remove(r->by_path, s->path);
        r->n_sessions--;
        if (s->open_timer)
                g_source_remove(s->open_timer);
        if (s->connection) {
                g_clear_signal_handler(&s->request_handler, s->connection);
                g_clear_signal_handler(&s->closed_handler, s->connection);
                g_object_unref(s->connection);
        }
        g_hash_table_unref(s->sent);
        g_hash_table_unref(s->received);
        g_clear_pointer(&s->open_caller, g_variant_unref);
        g_free(s->provider);
        g_free(s->path);
        g_free(s->name);
        g_free(s);
}

static Session *session_find(Node *n, guint64 id) {
        return g_hash_table_lookup(n->sessions, &id);
}

/* Ends a session on this node: the client of an open not yet answered is refused, an open
 * connection is closed with `status` (its pending requests fail with Closed, after ServiceClosed,
 * as the broker does it), and a receiver's open in flight is closed when it comes back. */
static void session_end_here(Session *s, guint32 status, const char *reason) {
        Remote *r = s->remote;

        if (s->opener && s->state == SESSION_OPENING)
                call_refuse(r, s->path, s->connection, ERROR_APP_UNAVAILABLE, reason);
        else if (s->path)
                call_close(r, s->path, s->connection, status, s->sent);
        session_free(s);
}

/* Every session with `n` ends: the link or the node went away. */
static void node_end_sessions(Node *n, const char *why) {
        g_autoptr(GPtrArray) all = sessions_of(n->sessions);
        g_autofree char *reason = g_strdup_printf("node '%s': %s", n->name, why);

        if (all->len > 0)
                g_message("closing %u connection(s) with node '%s': %s", all->len, n->name, why);
        for (guint i = 0; i < all->len; i++)
                session_end_here(all->pdata[i], CLOSED_UNKNOWN, reason);
}

/* ---- local requests, responses and closes ----------------------------------------------------- */

/* A request the bridge received on a session's local connection: to the other node. */
static void session_local_request(Session *s, guint64 id, GVariant *message, AppServiceRequest *request) {
        Remote *r = s->remote;
        g_autoptr(GError) error = NULL;
        WireFrame f = { .kind = WIRE_REQUEST, .session = s->id, .request = id, .values = message };
        guint64 size;

        if (s->state != SESSION_OPEN) {
                call_fail_request(r, s->path, request, id, ERROR_CLOSED, "the connection is not open yet");
                return;
        }
        if (g_hash_table_contains(s->sent, &id)) {
                g_message("request %" G_GUINT64_FORMAT " received twice on %s, ignoring", id, s->path);
                return;
        }
        if (g_hash_table_size(s->sent) >= REMOTE_REQUESTS_PER_SESSION_MAX) {
                g_autofree char *text = g_strdup_printf("more than %u requests in flight to node '%s'",
                                                        REMOTE_REQUESTS_PER_SESSION_MAX, s->node->name);

                call_fail_request(r, s->path, request, id, ERROR_RESOURCE_LIMITS_EXCEEDED, text);
                return;
        }
        size = valueset_dbus_size(message, /* limit= */ G_MAXUINT64).size;
        if (size > s->far_max) {
                g_autofree char *text = g_strdup_printf(
                        "the message is %" G_GUINT64_FORMAT " bytes, more than MaxMessageSize of app service '%s' on "
                        "node '%s' (%" G_GUINT64_FORMAT ")", size, s->name, s->node->name, s->far_max);

                call_fail_request(r, s->path, request, id, ERROR_MESSAGE_SIZE_TOO_LARGE, text);
                return;
        }
        if (!send_frame(r, s->node, &f, &error)) {
                g_autofree char *text = g_strdup_printf("node '%s' cannot be reached: %s", s->node->name,
                                                        error->message);

                call_fail_request(r, s->path, request, id,
                                  g_error_matches(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE) ?
                                          ERROR_MESSAGE_SIZE_TOO_LARGE : ERROR_APP_UNAVAILABLE,
                                  text);
                return;
        }
        g_hash_table_insert(s->sent, g_memdup2(&id, sizeof id), request ? g_object_ref(request) : NULL);
}

/* The local connection closed (the other endpoint here closed it, or the broker did). */
static void session_local_closed(Session *s, guint32 status) {
        send_close(s, s->state == SESSION_OPENING ? CLOSED_CANCELED : MIN(status, CLOSED_UNKNOWN));
        session_free(s);
}

static void on_opener_request(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        Session *s = user_data;

        session_local_request(s, app_service_request_get_id(request), app_service_request_get_message(request),
                              request);
}

static void on_opener_closed(AppServiceConnection *connection, AppServiceClosedStatus status, gpointer user_data) {
        session_local_closed(user_data, (guint32) status);
}

/* The broker's signals on the receiving sessions' connections (the bridge is their client). */
static void on_connection_signal(GDBusConnection *bus, const char *sender, const char *path, const char *interface,
                                 const char *signal, GVariant *parameters, gpointer user_data) {
        Remote *r = user_data;
        Session *s;

        if (!r->broker_owner || g_strcmp0(sender, r->broker_owner) != 0)
                return;
        s = g_hash_table_lookup(r->by_path, path);
        if (!s)
                return;
        if (g_str_equal(signal, "RequestReceived") && g_variant_is_of_type(parameters, G_VARIANT_TYPE("(ta{sv})"))) {
                g_autoptr(GVariant) message = NULL;
                guint64 id;

                g_variant_get(parameters, "(t@a{sv})", &id, &message);
                session_local_request(s, id, message, NULL);
        } else if (g_str_equal(signal, "ServiceClosed") && g_variant_is_of_type(parameters, G_VARIANT_TYPE("(u)"))) {
                guint32 status;

                g_variant_get(parameters, "(u)", &status);
                session_local_closed(s, status);
        }
}

/* ---- the opening node (B) ---------------------------------------------------------------------- */

static void refuse_now(Remote *r, AppServiceConnection *connection, const char *error_name, const char *format, ...)
        G_GNUC_PRINTF(4, 5);
static void refuse_now(Remote *r, AppServiceConnection *connection, const char *error_name, const char *format, ...) {
        g_autofree char *text = NULL;
        va_list ap;

        va_start(ap, format);
        text = g_strdup_vprintf(format, ap);
        va_end(ap);
        g_message("refusing the open of %s: %s", app_service_connection_get_object_path(connection), text);
        call_refuse(r, app_service_connection_get_object_path(connection), connection, error_name, text);
}

/* Who the client is, as far as the other node may know: the opening node's word for it. */
static GVariant *caller_for_frame(GVariant *caller) {
        static const struct {
                const char *key, *type;
        } keys[] = {
                { "uid", "u" }, { "gid", "u" }, { "pid", "u" }, { "app-id", "s" }, { "unit", "s" },
        };
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
                GVariant *v = g_variant_lookup_value(caller, keys[i].key, G_VARIANT_TYPE(keys[i].type));

                if (v)
                        g_variant_builder_add(&b, "{sv}", keys[i].key, v);
                g_clear_pointer(&v, g_variant_unref);
        }
        return g_variant_ref_sink(g_variant_builder_end(&b));
}

static gboolean on_open_timeout(gpointer user_data) {
        Session *s = user_data;
        g_autofree char *text = g_strdup_printf("node '%s' did not answer within %u s", s->node->name,
                                                (s->remote->config->open_timeout_msec + 999) / 1000);

        s->open_timer = 0;
        g_message("session %016" G_GINT64_MODIFIER "x: %s", s->id, text);
        /* A late open there is closed again. */
        send_close(s, CLOSED_CANCELED);
        call_refuse(s->remote, s->path, s->connection, ERROR_APP_UNAVAILABLE, text);
        session_free(s);
        return G_SOURCE_REMOVE;
}

/* Sends the `open` frame and waits for the answer, or refuses the client now. */
static void session_send_open(Session *s) {
        Remote *r = s->remote;
        g_autoptr(GError) error = NULL;
        WireFrame f = { .kind = WIRE_OPEN, .session = s->id, .name = s->name, .provider = s->provider,
                        .caller = s->open_caller };

        s->awaiting_status = FALSE;
        g_clear_handle_id(&s->open_timer, g_source_remove);
        if (!s->node->online || !mqtt_link_is_connected(r->link)) {
                g_autofree char *text = g_strdup_printf("node '%s' is offline", s->node->name);

                g_message("refusing the open of %s: %s", s->path, text);
                call_refuse(r, s->path, s->connection, ERROR_APP_UNAVAILABLE, text);
                session_free(s);
                return;
        }
        if (!send_frame(r, s->node, &f, &error)) {
                g_autofree char *text = g_strdup_printf("node '%s' cannot be reached: %s", s->node->name,
                                                        error->message);

                g_message("refusing the open of %s: %s", s->path, text);
                call_refuse(r, s->path, s->connection, ERROR_APP_UNAVAILABLE, text);
                session_free(s);
                return;
        }
        g_debug("session %016" G_GINT64_MODIFIER "x: opening '%s' on node '%s' for %s", s->id, s->name, s->node->name,
                s->path);
        s->open_timer = g_timeout_add(r->config->open_timeout_msec, on_open_timeout, s);
}

static gboolean on_status_settled(gpointer user_data) {
        Session *s = user_data;

        s->open_timer = 0;
        session_send_open(s);
        return G_SOURCE_REMOVE;
}

void remote_handle_open(Remote *r, AppServiceConnection *connection, GVariant *caller) {
        g_autoptr(GVariant) target = NULL;
        const char *node = NULL, *name = NULL, *provider = NULL;
        gint64 settle_left = 0;
        Session *s;
        Node *n;

        g_return_if_fail(r);
        g_return_if_fail(APP_SERVICE_IS_CONNECTION(connection));

        target = caller ? g_variant_lookup_value(caller, "target", G_VARIANT_TYPE_VARDICT) : NULL;
        if (!target || !g_variant_lookup(target, "node", "&s", &node) || !g_variant_lookup(target, "name", "&s", &name) ||
            !g_variant_lookup(target, "provider", "&s", &provider)) {
                refuse_now(r, connection, ERROR_APP_UNAVAILABLE, "the open names no node, app service and provider");
                return;
        }
        if (!node_name_is_valid(node)) {
                refuse_now(r, connection, ERROR_APP_UNAVAILABLE, "'%.64s' is not a node name", node);
                return;
        }
        if (r->connected_at > 0)
                settle_left = r->connected_at + STATUS_SETTLE_USEC - g_get_monotonic_time();
        n = node_get(r, node, settle_left > 0);
        if (!mqtt_link_is_connected(r->link) || !n || (!n->online && (n->status_known || settle_left <= 0))) {
                refuse_now(r, connection, ERROR_APP_UNAVAILABLE, "node '%s' is offline", node);
                return;
        }
        if (g_hash_table_size(n->sessions) >= REMOTE_SESSIONS_PER_NODE_MAX || r->n_sessions >= REMOTE_SESSIONS_MAX) {
                refuse_now(r, connection, ERROR_RESOURCE_LIMITS_EXCEEDED, "too many connections with node '%s' (%u) or "
                           "with all nodes (%u)", node, g_hash_table_size(n->sessions), r->n_sessions);
                return;
        }

        s = session_new(r, n, new_session_id(n), /* opener= */ TRUE, name);
        s->path = g_strdup(app_service_connection_get_object_path(connection));
        s->provider = g_strdup(provider);
        s->open_caller = caller_for_frame(caller);
        s->connection = g_object_ref(connection);
        s->request_handler = g_signal_connect(connection, "request-received", G_CALLBACK(on_opener_request), s);
        s->closed_handler = g_signal_connect(connection, "service-closed", G_CALLBACK(on_opener_closed), s);

        if (n->online) {
                session_send_open(s);
                return;
        }
        /* The link came up a moment ago and this node's retained status has not come (yet). */
        s->awaiting_status = TRUE;
        s->open_timer = g_timeout_add((guint) (settle_left / 1000) + 1, on_status_settled, s);
}

typedef struct SessionRef {
        char *node;
        guint64 session;
        guint64 request;
        AppServiceRequest *held;  /* released after the call */
} SessionRef;

static SessionRef *session_ref_new(Session *s, guint64 request, AppServiceRequest *held) {
        SessionRef *ref = g_new0(SessionRef, 1);

        ref->node = g_strdup(s->node->name);
        ref->session = s->id;
        ref->request = request;
        ref->held = held ? g_object_ref(held) : NULL;
        return ref;
}

static void session_ref_free(gpointer p) {
        SessionRef *ref = p;

        g_clear_object(&ref->held);
        g_free(ref->node);
        g_free(ref);
}

static Session *session_ref_find(Remote *r, SessionRef *ref) {
        Node *n = node_get(r, ref->node, FALSE);

        return n ? session_find(n, ref->session) : NULL;
}

static void on_accepted(Remote *r, GVariant *reply, const GError *error, gpointer data) {
        Session *s = session_ref_find(r, data);

        if (!error || !s)
                return;
        /* The client left, or the broker ended the wait: the other node closes its side. */
        g_message("session %016" G_GINT64_MODIFIER "x: accepting %s failed: %s", s->id, s->path, error->message);
        send_close(s, CLOSED_CANCELED);
        session_free(s);
}

static void frame_opened(Remote *r, Node *n, Session *s, const WireFrame *f) {
        if (!s) {
                /* Given up here (timeout) before it came: the other node closes its side. */
                WireFrame close = { .kind = WIRE_CLOSE, .session = f->session, .status = CLOSED_CANCELED };

                send_frame_or_log(r, n, &close);
                return;
        }
        if (!s->opener || s->state != SESSION_OPENING) {
                g_message("dropping an 'opened' frame for session %016" G_GINT64_MODIFIER "x from node '%s': not "
                          "waiting for one", f->session, n->name);
                return;
        }
        g_clear_handle_id(&s->open_timer, g_source_remove);
        s->far_max = f->max_message_size;
        /* Open from now on: the other node's requests may follow at once, and they go out after the
         * Accept (one queue, in order). */
        s->state = SESSION_OPEN;
        remote_call(r, s->path, CONNECTION_IFACE, "Accept", NULL, NULL, -1, on_accepted, session_ref_new(s, 0, NULL),
                    session_ref_free);
}

static void frame_refused(Remote *r, Node *n, Session *s, const WireFrame *f) {
        const char *error_name = f->error;

        if (!s || !s->opener || s->state != SESSION_OPENING) {
                g_message("dropping a 'refused' frame for session %016" G_GINT64_MODIFIER "x from node '%s': not "
                          "waiting for one", f->session, n->name);
                return;
        }
        if (!name_in(error_name, refusals, G_N_ELEMENTS(refusals)))
                error_name = ERROR_APP_UNAVAILABLE;
        call_refuse(r, s->path, s->connection, error_name, f->message);
        session_free(s);
}

/* ---- the receiving node (A) ------------------------------------------------------------------- */

static void on_max_message_size(Remote *r, GVariant *reply, const GError *error, gpointer data) {
        Session *s = session_ref_find(r, data);
        g_autoptr(GVariant) value = NULL;

        if (!s)
                return;
        if (reply) {
                g_variant_get(reply, "(v)", &value);
                if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT64))
                        s->told_max = g_variant_get_uint64(value);
        } else
                g_debug("app service '%s': no MaxMessageSize from the broker (%s), telling node '%s' %" G_GUINT64_FORMAT,
                        s->name, error->message, s->node->name, s->told_max);
}

static void on_opened_here(Remote *r, GVariant *reply, const GError *error, gpointer data) {
        SessionRef *ref = data;
        Session *s = session_ref_find(r, ref);
        const char *path = NULL;
        Node *n;

        if (reply)
                g_variant_get(reply, "(&o)", &path);
        if (!s) {
                /* The other node gave up, or the link went down, meanwhile. */
                if (path)
                        call_close(r, path, NULL, CLOSED_CANCELED, NULL);
                return;
        }
        n = s->node;
        if (!reply) {
                g_autofree char *name = NULL, *message = NULL;
                WireFrame f = { .kind = WIRE_REFUSED, .session = s->id };

                error_split(error, &name, &message);
                g_message("node '%s' may not open '%s': %s: %s", n->name, s->name, name, message);
                f.error = name;
                f.message = message;
                send_frame_or_log(r, n, &f);
                session_free(s);
                return;
        }

        s->path = g_strdup(path);
        g_hash_table_insert(r->by_path, s->path, s);
        s->state = SESSION_OPEN;
        {
                WireFrame f = { .kind = WIRE_OPENED, .session = s->id, .max_message_size = s->told_max };
                g_autoptr(GError) send_error = NULL;

                if (!send_frame(r, n, &f, &send_error)) {
                        g_message("session %016" G_GINT64_MODIFIER "x: cannot answer node '%s': %s", s->id, n->name,
                                  send_error->message);
                        session_end_here(s, CLOSED_UNKNOWN, NULL);
                        return;
                }
        }
        g_debug("session %016" G_GINT64_MODIFIER "x: '%s' opened for node '%s' at %s", s->id, s->name, n->name, path);
}

static void frame_open(Remote *r, Node *n, Session *s, const WireFrame *f) {
        g_autofree char *principal = NULL;
        g_autofree char *path = NULL;
        GVariantBuilder remote, options;
        Session *new;

        if (s) {
                g_message("dropping an 'open' frame from node '%s': session %016" G_GINT64_MODIFIER "x exists",
                          n->name, f->session);
                return;
        }
        if (g_hash_table_size(n->sessions) >= REMOTE_SESSIONS_PER_NODE_MAX || r->n_sessions >= REMOTE_SESSIONS_MAX) {
                WireFrame refused = { .kind = WIRE_REFUSED, .session = f->session, .error = ERROR_RESOURCE_LIMITS_EXCEEDED,
                                      .message = "too many connections with this node" };

                send_frame_or_log(r, n, &refused);
                return;
        }
        new = session_new(r, n, f->session, /* opener= */ FALSE, f->name);

        principal = g_strconcat("node:", n->name, NULL);
        g_variant_builder_init(&remote, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&remote, "{sv}", "principal", g_variant_new_string(principal));
        g_variant_builder_add(&remote, "{sv}", "node", g_variant_new_string(n->name));
        {
                static const struct {
                        const char *key, *type;
                } keys[] = {
                        { "uid", "u" }, { "gid", "u" }, { "pid", "u" }, { "app-id", "s" }, { "unit", "s" },
                };

                for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
                        GVariant *v = g_variant_lookup_value(f->caller, keys[i].key, G_VARIANT_TYPE(keys[i].type));

                        if (v)
                                g_variant_builder_add(&remote, "{sv}", keys[i].key, v);
                        g_clear_pointer(&v, g_variant_unref);
                }
        }
        g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&options, "{sv}", "remote", g_variant_builder_end(&remote));

        /* The limit first: its reply comes before the open's (one queue, one broker, in order). */
        path = service_path(f->name);
        remote_call(r, path, "org.freedesktop.DBus.Properties", "Get",
                    g_variant_new("(ss)", SERVICE_IFACE, "MaxMessageSize"), G_VARIANT_TYPE("(v)"), -1,
                    on_max_message_size, session_ref_new(new, 0, NULL), session_ref_free);
        remote_call(r, MANAGER_PATH, MANAGER_IFACE, "OpenConnection",
                    g_variant_new("(ssa{sv})", f->name, f->provider, &options), G_VARIANT_TYPE("(o)"), G_MAXINT,
                    on_opened_here, session_ref_new(new, 0, NULL), session_ref_free);
}

/* ---- relaying --------------------------------------------------------------------------------- */

static void on_asked(Remote *r, GVariant *reply, const GError *error, gpointer data) {
        SessionRef *ref = data;
        Session *s = session_ref_find(r, ref);

        if (!s)
                return;
        g_hash_table_remove(s->received, &ref->request);
        if (reply) {
                g_autoptr(GVariant) response = g_variant_get_child_value(reply, 0);
                WireFrame f = { .kind = WIRE_RESPONSE, .session = s->id, .request = ref->request, .values = response };
                g_autoptr(GError) send_error = NULL;

                if (send_frame(r, s->node, &f, &send_error))
                        return;
                send_failed(r, s->node, s->id, ref->request,
                            g_error_matches(send_error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE) ?
                                    ERROR_MESSAGE_SIZE_TOO_LARGE : ERROR_APP_UNAVAILABLE,
                            send_error->message);
        } else {
                g_autofree char *name = NULL, *message = NULL;

                error_split(error, &name, &message);
                send_failed(r, s->node, s->id, ref->request, name, message);
        }
}

static void frame_request(Remote *r, Node *n, Session *s, const WireFrame *f) {
        if (!s || s->state != SESSION_OPEN || !s->path) {
                /* Closed here meanwhile: the other node has the close on its way, or gets it now. */
                send_failed(r, n, f->session, f->request, ERROR_CLOSED, "the connection is closed");
                return;
        }
        if (g_hash_table_contains(s->received, &f->request)) {
                g_message("dropping a 'request' frame from node '%s': request %" G_GUINT64_FORMAT " is in flight",
                          n->name, f->request);
                return;
        }
        if (g_hash_table_size(s->received) >= REMOTE_REQUESTS_PER_SESSION_MAX) {
                send_failed(r, n, s->id, f->request, ERROR_RESOURCE_LIMITS_EXCEEDED, "too many requests in flight");
                return;
        }
        g_hash_table_add(s->received, g_memdup2(&f->request, sizeof f->request));
        /* No timeout of ours: the broker's RequestTimeoutSec ends the wait. */
        remote_call(r, s->path, CONNECTION_IFACE, "SendMessage", g_variant_new("(@a{sv})", f->values),
                    G_VARIANT_TYPE("(a{sv})"), G_MAXINT, on_asked, session_ref_new(s, f->request, NULL),
                    session_ref_free);
}

static void on_answered(Remote *r, GVariant *reply, const GError *error, gpointer data) {
        SessionRef *ref = data;
        g_autofree char *name = NULL, *message = NULL;
        Session *s;

        if (!error)
                return;
        /* This side refused the response (too large for the service here, invalid): the
         * requester gets that. */
        error_split(error, &name, &message);
        s = session_ref_find(r, ref);
        if (s && s->path && name_in(name, failures, G_N_ELEMENTS(failures)))
                call_fail_request(r, s->path, ref->held, ref->request, name, message);
        else
                g_message("the response to request %" G_GUINT64_FORMAT " could not be given, ignoring: %s",
                          ref->request, error->message);
}

static void frame_response(Remote *r, Node *n, Session *s, const WireFrame *f) {
        g_autoptr(AppServiceRequest) request = NULL;
        gpointer key = NULL, value = NULL;

        if (!s || s->state != SESSION_OPEN ||
            !g_hash_table_steal_extended(s->sent, &f->request, &key, &value)) {
                g_message("dropping a '%s' frame from node '%s': request %" G_GUINT64_FORMAT " of session %016"
                          G_GINT64_MODIFIER "x is not pending", wire_kind_to_string(f->kind), n->name, f->request,
                          f->session);
                return;
        }
        g_free(key);
        request = value;
        if (f->kind == WIRE_RESPONSE)
                remote_call(r, s->path, CONNECTION_IFACE, "SendResponse", g_variant_new("(t@a{sv})", f->request, f->values),
                            NULL, -1, on_answered, session_ref_new(s, f->request, request), session_ref_free);
        else
                call_fail_request(r, s->path, request, f->request, f->error, f->message);
}

static void frame_close(Remote *r, Node *n, Session *s, const WireFrame *f) {
        g_autofree char *reason = NULL;

        if (!s)
                return;  /* closed on both sides at once */
        reason = g_strdup_printf("node '%s' closed the connection", n->name);
        session_end_here(s, MIN(f->status, CLOSED_UNKNOWN), reason);
}

/* ---- the link --------------------------------------------------------------------------------- */

static void on_link_frame(MqttLink *link, const char *topic, const void *payload, gsize size,
                          const mosquitto_property *props, gpointer user_data) {
        Remote *r = user_data;
        g_autoptr(WireFrame) f = NULL;
        g_autoptr(GError) error = NULL;
        const char *from;
        Session *s;
        Node *n;

        if (!g_str_has_prefix(topic, r->link_prefix))
                return;
        from = topic + strlen(r->link_prefix);
        if (!node_name_is_valid(from) || g_str_equal(from, r->me)) {
                g_message("dropping a frame on '%.300s': not from a node name", topic);
                return;
        }
        f = wire_frame_decode(payload, size, r->config->max_frame_size, &error);
        if (!f) {
                g_message("dropping a frame from node '%s': %s", from, error->message);
                return;
        }
        n = node_get(r, from, TRUE);
        if (!n)
                return;
        s = session_find(n, f->session);
        /* A session's frames come from the node it is with: `n` is the sender (the ACL). */
        switch (f->kind) {
        case WIRE_OPEN:
                frame_open(r, n, s, f);
                break;
        case WIRE_OPENED:
                frame_opened(r, n, s, f);
                break;
        case WIRE_REFUSED:
                frame_refused(r, n, s, f);
                break;
        case WIRE_REQUEST:
                frame_request(r, n, s, f);
                break;
        case WIRE_RESPONSE:
        case WIRE_FAILED:
                frame_response(r, n, s, f);
                break;
        case WIRE_CLOSE:
                frame_close(r, n, s, f);
                break;
        default:
                g_assert_not_reached();
        }
}

static void on_status(MqttLink *link, const char *topic, const void *payload, gsize size,
                      const mosquitto_property *props, gpointer user_data) {
        Remote *r = user_data;
        const char *prefix = mqtt_link_get_prefix(r->link);
        g_autofree char *name = NULL;
        g_autoptr(JsonParser) parser = NULL;
        const char *state = NULL, *incarnation = NULL;
        gsize plen = strlen(prefix);
        const char *rest;
        Node *n;

        if (strncmp(topic, prefix, plen) != 0 || topic[plen] != '/' || !g_str_has_suffix(topic, "/status"))
                return;
        rest = topic + plen + 1;
        name = g_strndup(rest, strlen(rest) - strlen("/status"));
        if (!node_name_is_valid(name) || g_str_equal(name, r->me))
                return;

        if (size > 0) {
                JsonNode *root;

                if (size > STATUS_PAYLOAD_MAX) {
                        g_message("ignoring the status of node '%s': %zu bytes", name, size);
                        return;
                }
                parser = json_parser_new();
                if (!json_parser_load_from_data(parser, payload, (gssize) size, NULL) ||
                    !(root = json_parser_get_root(parser)) || !JSON_NODE_HOLDS_OBJECT(root)) {
                        g_message("ignoring the status of node '%s': not a JSON object", name);
                        return;
                }
                state = json_object_get_string_member_with_default(json_node_get_object(root), "state", NULL);
                incarnation = json_object_get_string_member_with_default(json_node_get_object(root), "incarnation", "");
        }

        n = node_get(r, name, g_strcmp0(state, "online") == 0);
        if (!n)
                return;
        n->status_known = TRUE;
        if (g_strcmp0(state, "online") != 0) {
                if (n->online)
                        g_message("node '%s' is offline", n->name);
                n->online = FALSE;
                node_end_sessions(n, "the node went offline");
                return;
        }
        if (n->incarnation && !g_str_equal(n->incarnation, incarnation))
                node_end_sessions(n, "the node's bridge connected again (a new incarnation)");
        if (!n->online)
                g_debug("node '%s' is online (incarnation %s)", n->name, incarnation);
        n->online = TRUE;
        g_free(n->incarnation);
        n->incarnation = g_strdup(incarnation);

        /* Opens that waited for this status go now. */
        {
                g_autoptr(GPtrArray) all = sessions_of(n->sessions);

                for (guint i = 0; i < all->len; i++) {
                        Session *s = all->pdata[i];

                        if (s->awaiting_status)
                                session_send_open(s);
                }
        }
}

static void on_link_state(MqttLink *link, gboolean connected, gpointer user_data) {
        Remote *r = user_data;
        GHashTableIter iter;
        gpointer value;

        if (connected) {
                r->connected_at = g_get_monotonic_time();
                return;
        }
        r->connected_at = 0;
        /* Every other node's status is unknown until the retained ones come again. */
        g_hash_table_iter_init(&iter, r->nodes);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                Node *n = value;

                n->online = FALSE;
                n->status_known = FALSE;
                node_end_sessions(n, "the link to the MQTT broker went down");
        }
}

/* ---- the broker ----------------------------------------------------------------------------- */

static void on_broker_appeared(GDBusConnection *bus, const char *name, const char *owner, gpointer user_data) {
        Remote *r = user_data;

        g_free(r->broker_owner);
        r->broker_owner = g_strdup(owner);
}

static void on_broker_vanished(GDBusConnection *bus, const char *name, gpointer user_data) {
        Remote *r = user_data;
        GHashTableIter iter;
        gpointer value;

        g_clear_pointer(&r->broker_owner, g_free);
        /* Its connections went with it: the other nodes close their sides. */
        g_hash_table_iter_init(&iter, r->nodes);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                g_autoptr(GPtrArray) all = sessions_of(((Node *) value)->sessions);

                for (guint i = 0; i < all->len; i++) {
                        Session *s = all->pdata[i];

                        send_close(s, CLOSED_CANCELED);
                        session_free(s);
                }
        }
}

Remote *remote_new(MqttLink *link, AppServiceProvider *provider, const BridgeConfig *config) {
        Remote *r;
        g_autofree char *link_filter = NULL;

        g_return_val_if_fail(link, NULL);
        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(provider), NULL);
        g_return_val_if_fail(config, NULL);

        r = g_new0(Remote, 1);
        r->link = link;
        r->provider = g_object_ref(provider);
        r->bus = g_object_ref(app_service_provider_get_bus(provider));
        r->config = config;
        r->me = g_strdup(mqtt_link_get_node(link));
        r->link_prefix = g_strdup_printf("%s/%s/link/", mqtt_link_get_prefix(link), r->me);
        r->status_filter = g_strdup_printf("%s/+/status", mqtt_link_get_prefix(link));
        r->nodes = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, node_free);
        r->by_path = g_hash_table_new(g_str_hash, g_str_equal);
        r->cancellable = g_cancellable_new();
        g_queue_init(&r->calls);

        r->watch_id = g_bus_watch_name_on_connection(r->bus, BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                     on_broker_appeared, on_broker_vanished, r, NULL);
        r->signal_id = g_dbus_connection_signal_subscribe(r->bus, BUS_NAME, CONNECTION_IFACE, NULL, NULL, NULL,
                                                          G_DBUS_SIGNAL_FLAGS_NONE, on_connection_signal, r, NULL);

        link_filter = g_strconcat(r->link_prefix, "+", NULL);
        mqtt_link_subscribe(link, r->status_filter, on_status, r);
        mqtt_link_subscribe(link, link_filter, on_link_frame, r);
        mqtt_link_add_state_handler(link, on_link_state, r);
        return r;
}

void remote_free(Remote *r) {
        GHashTableIter iter;
        gpointer value;
        Call *c;

        if (!r)
                return;
        g_cancellable_cancel(r->cancellable);
        while ((c = g_queue_pop_head(&r->calls)))
                call_free(c);
        g_hash_table_iter_init(&iter, r->nodes);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                g_autoptr(GPtrArray) all = sessions_of(((Node *) value)->sessions);

                for (guint i = 0; i < all->len; i++)
                        session_free(all->pdata[i]);
        }
        g_dbus_connection_signal_unsubscribe(r->bus, r->signal_id);
        g_bus_unwatch_name(r->watch_id);
        g_hash_table_unref(r->by_path);
        g_hash_table_unref(r->nodes);
        g_object_unref(r->cancellable);
        g_object_unref(r->bus);
        g_object_unref(r->provider);
        g_free(r->broker_owner);
        g_free(r->status_filter);
        g_free(r->link_prefix);
        g_free(r->me);
        g_free(r);
}
