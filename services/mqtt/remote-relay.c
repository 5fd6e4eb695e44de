/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Requests, responses, failures and closes, both ways: from the local connection (the library's
 * object on the opening node, the broker's signals on the receiving node) to frames, and from
 * frames to calls on the local connection. */
#include "remote-private.h"
#include "valueset-dbus-size.h"

/* ---- local requests, responses and closes ----------------------------------------------------- */

/* The error a request gets when its frame could not be sent. */
static const char *send_error_name(const GError *error) {
        return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE) ? ERROR_MESSAGE_SIZE_TOO_LARGE
                                                                                : ERROR_APP_UNAVAILABLE;
}

/* Fails local request `id` of session `s` with `error_name` and a text. */
static void fail_local(Session *s, AppServiceRequest *request, guint64 id, const char *error_name, const char *format,
                       ...) G_GNUC_PRINTF(5, 6);
static void fail_local(Session *s, AppServiceRequest *request, guint64 id, const char *error_name, const char *format,
                       ...) {
        g_autofree char *text = NULL;
        va_list ap;

        va_start(ap, format);
        text = g_strdup_vprintf(format, ap);
        va_end(ap);
        remote_call_fail_request(s->remote, s->path, request, id, error_name, text);
}

/* A request the bridge received on a session's local connection: to the other node. */
static void session_local_request(Session *s, guint64 id, GVariant *message, AppServiceRequest *request) {
        g_autoptr(GError) error = NULL;
        WireFrame f = { .kind = WIRE_REQUEST, .session = s->id, .request = id, .values = message };
        guint64 size;

        if (s->state != SESSION_OPEN) {
                fail_local(s, request, id, ERROR_CLOSED, "the connection is not open yet");
                return;
        }
        if (g_hash_table_contains(s->sent, &id)) {
                g_message("request %" G_GUINT64_FORMAT " received twice on %s, ignoring", id, s->path);
                return;
        }
        if (g_hash_table_size(s->sent) >= REMOTE_REQUESTS_PER_SESSION_MAX) {
                fail_local(s, request, id, ERROR_RESOURCE_LIMITS_EXCEEDED, "more than %u requests in flight to node '%s'",
                           REMOTE_REQUESTS_PER_SESSION_MAX, s->node->name);
                return;
        }
        size = valueset_dbus_size(message, /* limit= */ G_MAXUINT64).size;
        if (size > s->far_max) {
                fail_local(s, request, id, ERROR_MESSAGE_SIZE_TOO_LARGE,
                           "the message is %" G_GUINT64_FORMAT " bytes, more than MaxMessageSize of app service '%s' on "
                           "node '%s' (%" G_GUINT64_FORMAT ")", size, s->name, s->node->name, s->far_max);
                return;
        }
        if (!remote_send_frame(s->remote, s->node, &f, &error)) {
                fail_local(s, request, id, send_error_name(error), "node '%s' cannot be reached: %s", s->node->name,
                           error->message);
                return;
        }
        g_hash_table_insert(s->sent, g_memdup2(&id, sizeof id), request ? g_object_ref(request) : NULL);
}

/* The local connection closed (the other endpoint here closed it, or the broker did). */
static void session_local_closed(Session *s, guint32 status) {
        remote_send_close(s, s->state == SESSION_OPENING ? CLOSED_CANCELED : MIN(status, CLOSED_UNKNOWN));
        remote_session_free(s);
}

static void on_opener_request(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        Session *s = user_data;

        session_local_request(s, app_service_request_get_id(request), app_service_request_get_message(request),
                              request);
}

static void on_opener_closed(AppServiceConnection *connection, AppServiceClosedStatus status, gpointer user_data) {
        session_local_closed(user_data, (guint32) status);
}

/* The opening node's side: the library's object of the local connection tells. */
void remote_relay_watch_opener(Session *s) {
        s->request_handler = g_signal_connect(s->connection, "request-received", G_CALLBACK(on_opener_request), s);
        s->closed_handler = g_signal_connect(s->connection, "service-closed", G_CALLBACK(on_opener_closed), s);
}

/* The broker's signals on the receiving sessions' connections (the bridge is their client). */
void remote_relay_on_signal(GDBusConnection *bus, const char *sender, const char *path, const char *interface,
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

/* ---- relaying --------------------------------------------------------------------------------- */

static void on_asked(Remote *r, GVariant *reply, const GError *error, gpointer data) {
        SessionRef *ref = data;
        Session *s = remote_session_ref_find(r, ref);

        if (!s)
                return;
        g_hash_table_remove(s->received, &ref->request);
        if (reply) {
                g_autoptr(GVariant) response = g_variant_get_child_value(reply, 0);
                WireFrame f = { .kind = WIRE_RESPONSE, .session = s->id, .request = ref->request, .values = response };
                g_autoptr(GError) send_error = NULL;

                if (remote_send_frame(r, s->node, &f, &send_error))
                        return;
                remote_send_failed(r, s->node, s->id, ref->request, send_error_name(send_error), send_error->message);
        } else {
                g_autofree char *name = NULL, *message = NULL;

                remote_error_split(error, &name, &message);
                remote_send_failed(r, s->node, s->id, ref->request, name, message);
        }
}

void remote_frame_request(Remote *r, Node *n, Session *s, const WireFrame *f) {
        if (!s || s->state != SESSION_OPEN || !s->path) {
                /* Closed here meanwhile: the other node has the close on its way, or gets it now. */
                remote_send_failed(r, n, f->session, f->request, ERROR_CLOSED, "the connection is closed");
                return;
        }
        if (g_hash_table_contains(s->received, &f->request)) {
                g_message("dropping a 'request' frame from node '%s': request %" G_GUINT64_FORMAT " is in flight",
                          n->name, f->request);
                return;
        }
        if (g_hash_table_size(s->received) >= REMOTE_REQUESTS_PER_SESSION_MAX) {
                remote_send_failed(r, n, s->id, f->request, ERROR_RESOURCE_LIMITS_EXCEEDED, "too many requests in flight");
                return;
        }
        g_hash_table_add(s->received, g_memdup2(&f->request, sizeof f->request));
        /* No timeout of ours: the broker's RequestTimeoutSec ends the wait. */
        remote_call(r, s->path, CONNECTION_IFACE, "SendMessage", g_variant_new("(@a{sv})", f->values),
                    G_VARIANT_TYPE("(a{sv})"), G_MAXINT, on_asked, remote_session_ref_new(s, f->request, NULL),
                    remote_session_ref_free);
}

static void on_answered(Remote *r, GVariant *reply, const GError *error, gpointer data) {
        SessionRef *ref = data;
        g_autofree char *name = NULL, *message = NULL;
        Session *s;

        if (!error)
                return;
        /* This side refused the response (too large for the service here, invalid): the
         * requester gets that. */
        remote_error_split(error, &name, &message);
        s = remote_session_ref_find(r, ref);
        if (s && s->path && remote_error_is_failure(name))
                remote_call_fail_request(r, s->path, ref->held, ref->request, name, message);
        else
                g_message("the response to request %" G_GUINT64_FORMAT " could not be given, ignoring: %s",
                          ref->request, error->message);
}

void remote_frame_response(Remote *r, Node *n, Session *s, const WireFrame *f) {
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
                            NULL, -1, on_answered, remote_session_ref_new(s, f->request, request), remote_session_ref_free);
        else
                remote_call_fail_request(r, s->path, request, f->request, f->error, f->message);
}

void remote_frame_close(Remote *r, Node *n, Session *s, const WireFrame *f) {
        g_autofree char *reason = NULL;

        if (!s)
                return;  /* closed on both sides at once */
        reason = g_strdup_printf("node '%s' closed the connection", n->name);
        remote_session_end_here(s, MIN(f->status, CLOSED_UNKNOWN), reason);
}
