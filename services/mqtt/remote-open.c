/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The opening node (B): an open for another node (remote_handle_open()), sent as `open`, and
 * Accept()ed or Refuse()d when the other node answers, does not, or is offline. */
#include "remote-private.h"

static void refuse_now(Remote *r, AppServiceConnection *connection, const char *error_name, const char *format, ...)
        G_GNUC_PRINTF(4, 5);
static void refuse_now(Remote *r, AppServiceConnection *connection, const char *error_name, const char *format, ...) {
        g_autofree char *text = NULL;
        va_list ap;

        va_start(ap, format);
        text = g_strdup_vprintf(format, ap);
        va_end(ap);
        g_message("refusing the open of %s: %s", app_service_connection_get_object_path(connection), text);
        remote_call_refuse(r, app_service_connection_get_object_path(connection), connection, error_name, text);
}

/* Who the client is, as far as the other node may know: the opening node's word for it. */
static GVariant *caller_for_frame(GVariant *caller) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        remote_caller_add_keys(&b, caller);
        return g_variant_ref_sink(g_variant_builder_end(&b));
}

/* Refuses the client of an open not yet sent, or not answered, and ends its session. */
static void refuse_session(Session *s, const char *text) {
        g_message("refusing the open of %s: %s", s->path, text);
        remote_call_refuse(s->remote, s->path, s->connection, ERROR_APP_UNAVAILABLE, text);
        remote_session_free(s);
}

static gboolean on_open_timeout(gpointer user_data) {
        Session *s = user_data;
        g_autofree char *text = g_strdup_printf("node '%s' did not answer within %u s", s->node->name,
                                                (s->remote->config->open_timeout_msec + 999) / 1000);

        s->open_timer = 0;
        g_message("session %016" G_GINT64_MODIFIER "x: %s", s->id, text);
        /* A late open there is closed again. */
        remote_send_close(s, CLOSED_CANCELED);
        remote_call_refuse(s->remote, s->path, s->connection, ERROR_APP_UNAVAILABLE, text);
        remote_session_free(s);
        return G_SOURCE_REMOVE;
}

/* Sends the `open` frame and waits for the answer, or refuses the client now. */
void remote_open_send(Session *s) {
        Remote *r = s->remote;
        g_autoptr(GError) error = NULL;
        WireFrame f = { .kind = WIRE_OPEN, .session = s->id, .name = s->name, .provider = s->provider,
                        .caller = s->open_caller };

        s->awaiting_status = FALSE;
        g_clear_handle_id(&s->open_timer, g_source_remove);
        if (!s->node->online || !mqtt_link_is_connected(r->link)) {
                g_autofree char *text = g_strdup_printf("node '%s' is offline", s->node->name);

                refuse_session(s, text);
                return;
        }
        if (!remote_send_frame(r, s->node, &f, &error)) {
                g_autofree char *text = g_strdup_printf("node '%s' cannot be reached: %s", s->node->name,
                                                        error->message);

                refuse_session(s, text);
                return;
        }
        g_debug("session %016" G_GINT64_MODIFIER "x: opening '%s' on node '%s' for %s", s->id, s->name, s->node->name,
                s->path);
        s->open_timer = g_timeout_add(r->config->open_timeout_msec, on_open_timeout, s);
}

static gboolean on_status_settled(gpointer user_data) {
        Session *s = user_data;

        s->open_timer = 0;
        remote_open_send(s);
        return G_SOURCE_REMOVE;
}

/* The node, app service and provider the broker put in the caller's "target". */
static gboolean open_target(GVariant *caller, const char **ret_node, const char **ret_name, const char **ret_provider) {
        g_autoptr(GVariant) target = caller ? g_variant_lookup_value(caller, "target", G_VARIANT_TYPE_VARDICT) : NULL;

        return target && g_variant_lookup(target, "node", "&s", ret_node) &&
               g_variant_lookup(target, "name", "&s", ret_name) && g_variant_lookup(target, "provider", "&s", ret_provider);
}

/* How long the other nodes' retained statuses may still be coming (STATUS_SETTLE_USEC), or 0. */
static gint64 settle_left(Remote *r) {
        gint64 left = r->connected_at > 0 ? r->connected_at + STATUS_SETTLE_USEC - g_get_monotonic_time() : 0;

        return MAX(left, 0);
}

static Session *opener_session_new(Remote *r, Node *n, AppServiceConnection *connection, GVariant *caller,
                                   const char *name, const char *provider) {
        Session *s = remote_session_new(r, n, remote_session_new_id(n), /* opener= */ TRUE, name);

        s->path = g_strdup(app_service_connection_get_object_path(connection));
        s->provider = g_strdup(provider);
        s->open_caller = caller_for_frame(caller);
        s->connection = g_object_ref(connection);
        remote_relay_watch_opener(s);
        return s;
}

void remote_handle_open(Remote *r, AppServiceConnection *connection, GVariant *caller) {
        const char *node = NULL, *name = NULL, *provider = NULL;
        gint64 settle;
        Session *s;
        Node *n;

        g_return_if_fail(r);
        g_return_if_fail(APP_SERVICE_IS_CONNECTION(connection));

        if (!open_target(caller, &node, &name, &provider)) {
                refuse_now(r, connection, ERROR_APP_UNAVAILABLE, "the open names no node, app service and provider");
                return;
        }
        if (!remote_node_name_is_valid(node)) {
                refuse_now(r, connection, ERROR_APP_UNAVAILABLE, "'%.64s' is not a node name", node);
                return;
        }
        settle = settle_left(r);
        n = remote_node_get(r, node, settle > 0);
        if (!mqtt_link_is_connected(r->link) || !n || (!n->online && (n->status_known || settle == 0))) {
                refuse_now(r, connection, ERROR_APP_UNAVAILABLE, "node '%s' is offline", node);
                return;
        }
        if (g_hash_table_size(n->sessions) >= REMOTE_SESSIONS_PER_NODE_MAX || r->n_sessions >= REMOTE_SESSIONS_MAX) {
                refuse_now(r, connection, ERROR_RESOURCE_LIMITS_EXCEEDED, "too many connections with node '%s' (%u) or "
                           "with all nodes (%u)", node, g_hash_table_size(n->sessions), r->n_sessions);
                return;
        }

        s = opener_session_new(r, n, connection, caller, name, provider);
        if (n->online) {
                remote_open_send(s);
                return;
        }
        /* The link came up a moment ago and this node's retained status has not come (yet). */
        s->awaiting_status = TRUE;
        s->open_timer = g_timeout_add((guint) (settle / 1000) + 1, on_status_settled, s);
}

static void on_accepted(Remote *r, GVariant *reply, const GError *error, gpointer data) {
        Session *s = remote_session_ref_find(r, data);

        if (!error || !s)
                return;
        /* The client left, or the broker ended the wait: the other node closes its side. */
        g_message("session %016" G_GINT64_MODIFIER "x: accepting %s failed: %s", s->id, s->path, error->message);
        remote_send_close(s, CLOSED_CANCELED);
        remote_session_free(s);
}

void remote_frame_opened(Remote *r, Node *n, Session *s, const WireFrame *f) {
        if (!s) {
                /* Given up here (timeout) before it came: the other node closes its side. */
                WireFrame close = { .kind = WIRE_CLOSE, .session = f->session, .status = CLOSED_CANCELED };

                remote_send_frame_or_log(r, n, &close);
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
        remote_call(r, s->path, CONNECTION_IFACE, "Accept", NULL, NULL, -1, on_accepted, remote_session_ref_new(s, 0, NULL),
                    remote_session_ref_free);
}

void remote_frame_refused(Remote *r, Node *n, Session *s, const WireFrame *f) {
        const char *error_name = f->error;

        if (!s || !s->opener || s->state != SESSION_OPENING) {
                g_message("dropping a 'refused' frame for session %016" G_GINT64_MODIFIER "x from node '%s': not "
                          "waiting for one", f->session, n->name);
                return;
        }
        if (!remote_error_is_refusal(error_name))
                error_name = ERROR_APP_UNAVAILABLE;
        remote_call_refuse(r, s->path, s->connection, error_name, f->message);
        remote_session_free(s);
}
