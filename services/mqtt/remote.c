/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Remote: the frames on this node's link topic, handed to the part of their kind; the
 * broker's presence; making and freeing it all. The parts: remote-private.h. */
#include <string.h>

#include "remote-private.h"

/* ---- the link --------------------------------------------------------------------------------- */

/* Who handles a frame of each kind (wire_frame_decode() returns only these kinds). */
static const FrameHandler frame_handlers[_WIRE_KIND_MAX] = {
        [WIRE_OPEN] = remote_frame_open,          /* remote-receive.c */
        [WIRE_OPENED] = remote_frame_opened,      /* remote-open.c */
        [WIRE_REFUSED] = remote_frame_refused,    /* remote-open.c */
        [WIRE_REQUEST] = remote_frame_request,    /* remote-relay.c */
        [WIRE_RESPONSE] = remote_frame_response,  /* remote-relay.c */
        [WIRE_FAILED] = remote_frame_response,    /* remote-relay.c */
        [WIRE_CLOSE] = remote_frame_close,        /* remote-relay.c */
};

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
        if (!remote_node_name_is_valid(from) || g_str_equal(from, r->me)) {
                g_message("dropping a frame on '%.300s': not from a node name", topic);
                return;
        }
        f = wire_frame_decode(payload, size, r->config->max_frame_size, &error);
        if (!f) {
                g_message("dropping a frame from node '%s': %s", from, error->message);
                return;
        }
        n = remote_node_get(r, from, TRUE);
        if (!n)
                return;
        s = remote_session_find(n, f->session);
        /* A session's frames come from the node it is with: `n` is the sender (the ACL). */
        frame_handlers[f->kind](r, n, s, f);
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
                g_autoptr(GPtrArray) all = remote_sessions_of(((Node *) value)->sessions);

                for (guint i = 0; i < all->len; i++) {
                        Session *s = all->pdata[i];

                        remote_send_close(s, CLOSED_CANCELED);
                        remote_session_free(s);
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
        r->nodes = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, remote_node_free);
        r->by_path = g_hash_table_new(g_str_hash, g_str_equal);
        r->cancellable = g_cancellable_new();
        g_queue_init(&r->calls);

        r->watch_id = g_bus_watch_name_on_connection(r->bus, BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                     on_broker_appeared, on_broker_vanished, r, NULL);
        r->signal_id = g_dbus_connection_signal_subscribe(r->bus, BUS_NAME, CONNECTION_IFACE, NULL, NULL, NULL,
                                                          G_DBUS_SIGNAL_FLAGS_NONE, remote_relay_on_signal, r, NULL);

        link_filter = g_strconcat(r->link_prefix, "+", NULL);
        remote_status_watch(r);
        mqtt_link_subscribe(link, link_filter, on_link_frame, r);
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
                remote_call_free(c);
        g_hash_table_iter_init(&iter, r->nodes);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                g_autoptr(GPtrArray) all = remote_sessions_of(((Node *) value)->sessions);

                for (guint i = 0; i < all->len; i++)
                        remote_session_free(all->pdata[i]);
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
