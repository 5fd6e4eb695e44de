/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The other nodes and the sessions with them: finding, making, ending; sending frames. */
#include <string.h>

#include "remote-private.h"

/* As the broker's node_name_is_valid(): 1 to 255 letters, digits, '.', '-', '_'; so also one
 * topic level without wildcards. */
gboolean remote_node_name_is_valid(const char *s) {
        size_t n = 0;

        for (; s[n]; n++)
                if (!g_ascii_isalnum(s[n]) && !strchr(".-_", s[n]))
                        return FALSE;
        return n >= 1 && n <= 255;
}

/* The keys of the caller a{sv} that cross to the other node: the opening node's word for who
 * the client is. */
void remote_caller_add_keys(GVariantBuilder *b, GVariant *caller) {
        static const struct {
                const char *key, *type;
        } keys[] = {
                { "uid", "u" }, { "gid", "u" }, { "pid", "u" }, { "app-id", "s" }, { "unit", "s" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
                GVariant *v = g_variant_lookup_value(caller, keys[i].key, G_VARIANT_TYPE(keys[i].type));

                if (v)
                        g_variant_builder_add(b, "{sv}", keys[i].key, v);
                g_clear_pointer(&v, g_variant_unref);
        }
}

/* ---- nodes and frames ------------------------------------------------------------------------ */

/* The sessions of `n`, to end them one by one (g_hash_table_get_values_as_ptr_array() is GLib 2.76). */
GPtrArray *remote_sessions_of(GHashTable *sessions) {
        GPtrArray *all = g_ptr_array_sized_new(g_hash_table_size(sessions));
        GHashTableIter iter;
        gpointer value;

        g_hash_table_iter_init(&iter, sessions);
        while (g_hash_table_iter_next(&iter, NULL, &value))
                g_ptr_array_add(all, value);
        return all;
}

void remote_node_free(gpointer p) {
        Node *n = p;

        g_assert(g_hash_table_size(n->sessions) == 0);
        g_hash_table_unref(n->sessions);
        g_free(n->incarnation);
        g_free(n->name);
        g_free(n);
}

Node *remote_node_get(Remote *r, const char *name, gboolean create) {
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

gboolean remote_send_frame(Remote *r, Node *n, const WireFrame *f, GError **error) {
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
void remote_send_frame_or_log(Remote *r, Node *n, const WireFrame *f) {
        g_autoptr(GError) error = NULL;

        if (!remote_send_frame(r, n, f, &error))
                g_message("cannot send a '%s' frame of session %016" G_GINT64_MODIFIER "x to node '%s', ignoring: %s",
                          wire_kind_to_string(f->kind), f->session, n->name, error->message);
}

void remote_send_close(Session *s, guint32 status) {
        WireFrame f = { .kind = WIRE_CLOSE, .session = s->id, .status = status };

        if (mqtt_link_is_connected(s->remote->link))
                remote_send_frame_or_log(s->remote, s->node, &f);
}

void remote_send_failed(Remote *r, Node *n, guint64 session, guint64 request, const char *error_name,
                        const char *message) {
        WireFrame f = { .kind = WIRE_FAILED, .session = session, .request = request, .error = error_name,
                        .message = message };

        remote_send_frame_or_log(r, n, &f);
}

/* ---- sessions -------------------------------------------------------------------------------- */

guint64 remote_session_new_id(Node *n) {
        guint64 id;

        do
                id = ((guint64) g_random_int() << 32) | g_random_int();
        while (id == 0 || g_hash_table_contains(n->sessions, &id));
        return id;
}

Session *remote_session_new(Remote *r, Node *n, guint64 id, gboolean opener, const char *name) {
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

void remote_session_free(Session *s) {
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

Session *remote_session_find(Node *n, guint64 id) {
        return g_hash_table_lookup(n->sessions, &id);
}

/* Ends a session on this node: the client of an open not yet answered is refused, an open
 * connection is closed with `status` (its pending requests fail with Closed, after ServiceClosed,
 * as the broker does it), and a receiver's open in flight is closed when it comes back. */
void remote_session_end_here(Session *s, guint32 status, const char *reason) {
        Remote *r = s->remote;

        if (s->opener && s->state == SESSION_OPENING)
                remote_call_refuse(r, s->path, s->connection, ERROR_APP_UNAVAILABLE, reason);
        else if (s->path)
                remote_call_close(r, s->path, s->connection, status, s->sent);
        remote_session_free(s);
}

/* Every session with `n` ends: the link or the node went away. */
void remote_node_end_sessions(Node *n, const char *why) {
        g_autoptr(GPtrArray) all = remote_sessions_of(n->sessions);
        g_autofree char *reason = g_strdup_printf("node '%s': %s", n->name, why);

        if (all->len > 0)
                g_message("closing %u connection(s) with node '%s': %s", all->len, n->name, why);
        for (guint i = 0; i < all->len; i++)
                remote_session_end_here(all->pdata[i], CLOSED_UNKNOWN, reason);
}

SessionRef *remote_session_ref_new(Session *s, guint64 request, AppServiceRequest *held) {
        SessionRef *ref = g_new0(SessionRef, 1);

        ref->node = g_strdup(s->node->name);
        ref->session = s->id;
        ref->request = request;
        ref->held = held ? g_object_ref(held) : NULL;
        return ref;
}

void remote_session_ref_free(gpointer p) {
        SessionRef *ref = p;

        g_clear_object(&ref->held);
        g_free(ref->node);
        g_free(ref);
}

Session *remote_session_ref_find(Remote *r, SessionRef *ref) {
        Node *n = remote_node_get(r, ref->node, FALSE);

        return n ? remote_session_find(n, ref->session) : NULL;
}
