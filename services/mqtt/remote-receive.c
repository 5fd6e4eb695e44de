/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The receiving node (A): an `open` from another node, opened here as the bridge with the
 * OpenConnection option "remote", and answered `opened` or `refused`. */
#include "remote-private.h"

#define MANAGER_PATH "/io/appservice1"
#define SERVICE_PREFIX "/io/appservice1/service"
#define MANAGER_IFACE "io.appservice1.Manager"
#define SERVICE_IFACE "io.appservice1.Service"

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

static void on_max_message_size(Remote *r, GVariant *reply, const GError *error, gpointer data) {
        Session *s = remote_session_ref_find(r, data);
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

/* The broker refused the open: so does this node, to the other. */
static void refuse_open(Remote *r, Session *s, const GError *error) {
        g_autofree char *name = NULL, *message = NULL;
        WireFrame f = { .kind = WIRE_REFUSED, .session = s->id };

        remote_error_split(error, &name, &message);
        g_message("node '%s' may not open '%s': %s: %s", s->node->name, s->name, name, message);
        f.error = name;
        f.message = message;
        remote_send_frame_or_log(r, s->node, &f);
        remote_session_free(s);
}

/* The broker opened it at `path`: the session is open, and the other node is told. */
static void answer_opened(Remote *r, Session *s, const char *path) {
        WireFrame f = { .kind = WIRE_OPENED, .session = s->id, .max_message_size = s->told_max };
        g_autoptr(GError) error = NULL;

        s->path = g_strdup(path);
        g_hash_table_insert(r->by_path, s->path, s);
        s->state = SESSION_OPEN;
        if (!remote_send_frame(r, s->node, &f, &error)) {
                g_message("session %016" G_GINT64_MODIFIER "x: cannot answer node '%s': %s", s->id, s->node->name,
                          error->message);
                remote_session_end_here(s, CLOSED_UNKNOWN, NULL);
                return;
        }
        g_debug("session %016" G_GINT64_MODIFIER "x: '%s' opened for node '%s' at %s", s->id, s->name, s->node->name,
                path);
}

static void on_opened_here(Remote *r, GVariant *reply, const GError *error, gpointer data) {
        Session *s = remote_session_ref_find(r, data);
        const char *path = NULL;

        if (reply)
                g_variant_get(reply, "(&o)", &path);
        if (!s) {
                /* The other node gave up, or the link went down, meanwhile. */
                if (path)
                        remote_call_close(r, path, NULL, CLOSED_CANCELED, NULL);
                return;
        }
        if (reply)
                answer_opened(r, s, path);
        else
                refuse_open(r, s, error);
}

/* OpenConnection's options: "remote", who opens, as this node knows it from node `n`. */
static GVariant *open_options(Node *n, GVariant *caller) {
        g_autofree char *principal = g_strconcat("node:", n->name, NULL);
        GVariantBuilder remote, options;

        g_variant_builder_init(&remote, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&remote, "{sv}", "principal", g_variant_new_string(principal));
        g_variant_builder_add(&remote, "{sv}", "node", g_variant_new_string(n->name));
        remote_caller_add_keys(&remote, caller);
        g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&options, "{sv}", "remote", g_variant_builder_end(&remote));
        return g_variant_builder_end(&options);
}

void remote_frame_open(Remote *r, Node *n, Session *s, const WireFrame *f) {
        g_autofree char *path = NULL;
        Session *new;

        if (s) {
                g_message("dropping an 'open' frame from node '%s': session %016" G_GINT64_MODIFIER "x exists",
                          n->name, f->session);
                return;
        }
        if (g_hash_table_size(n->sessions) >= REMOTE_SESSIONS_PER_NODE_MAX || r->n_sessions >= REMOTE_SESSIONS_MAX) {
                WireFrame refused = { .kind = WIRE_REFUSED, .session = f->session, .error = ERROR_RESOURCE_LIMITS_EXCEEDED,
                                      .message = "too many connections with this node" };

                remote_send_frame_or_log(r, n, &refused);
                return;
        }
        new = remote_session_new(r, n, f->session, /* opener= */ FALSE, f->name);

        /* The limit first: its reply comes before the open's (one queue, one broker, in order). */
        path = service_path(f->name);
        remote_call(r, path, "org.freedesktop.DBus.Properties", "Get",
                    g_variant_new("(ss)", SERVICE_IFACE, "MaxMessageSize"), G_VARIANT_TYPE("(v)"), -1,
                    on_max_message_size, remote_session_ref_new(new, 0, NULL), remote_session_ref_free);
        remote_call(r, MANAGER_PATH, MANAGER_IFACE, "OpenConnection",
                    g_variant_new("(ss@a{sv})", f->name, f->provider, open_options(n, f->caller)), G_VARIANT_TYPE("(o)"),
                    G_MAXINT, on_opened_here, remote_session_ref_new(new, 0, NULL), remote_session_ref_free);
}
