/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "connections.h"

struct GatewayConnections {
        SoupServer *server;
        guint max;
        guint timeout_sec;
        GHashTable *live;    /* GSocketConnection * (weak) -> Slot */
        GHashTable *by_peer; /* "address:port" of the client -> Slot */
};

typedef struct {
        GatewayConnections *owner;
        GSocketConnection *connection;   /* weak: libsoup holds it while it serves */
        char *peer;
        guint timer;
} Slot;

/* "127.0.0.1:40312": a TCP connection's client end, unique among the live ones. */
static char *peer_of(GSocketAddress *address) {
        g_autofree char *host = NULL;

        if (!G_IS_INET_SOCKET_ADDRESS(address))
                return NULL;
        host = g_inet_address_to_string(g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(address)));
        return g_strdup_printf("%s:%u", host, g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(address)));
}

static void slot_free(gpointer data) {
        Slot *s = data;

        if (s->timer)
                g_source_remove(s->timer);
        if (s->peer)
                g_hash_table_remove(s->owner->by_peer, s->peer);
        g_free(s->peer);
        g_free(s);
}

/* libsoup let the connection go. */
static void gone(gpointer data, GObject *where_the_object_was) {
        Slot *s = data;

        g_hash_table_remove(s->owner->live, where_the_object_was);
}

/* Past its time: closed, which makes libsoup let it go. */
static gboolean expire(gpointer data) {
        Slot *s = data;

        s->timer = 0;
        g_debug("closing a connection open for %u s", s->owner->timeout_sec);
        g_io_stream_close(G_IO_STREAM(s->connection), NULL, NULL);
        return G_SOURCE_REMOVE;
}

GatewayConnections *gateway_connections_new(SoupServer *server, guint max, guint timeout_sec) {
        GatewayConnections *c = g_new0(GatewayConnections, 1);

        c->server = server;
        c->max = max;
        c->timeout_sec = timeout_sec;
        c->by_peer = g_hash_table_new(g_str_hash, g_str_equal);
        c->live = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, slot_free);
        return c;
}

void gateway_connections_free(GatewayConnections *c) {
        GHashTableIter it;
        gpointer key, value;

        if (!c)
                return;
        g_hash_table_iter_init(&it, c->live);
        while (g_hash_table_iter_next(&it, &key, &value))
                g_object_weak_unref(G_OBJECT(key), gone, value);
        g_hash_table_unref(c->live);
        g_hash_table_unref(c->by_peer);
        g_free(c);
}

void gateway_connections_take(GatewayConnections *c, GSocketConnection *connection) {
        g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address(connection, NULL);
        g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address(connection, NULL);
        g_autoptr(GError) error = NULL;
        Slot *s;

        if (g_hash_table_size(c->live) >= c->max) {
                g_debug("all %u connection slots are taken: closing a new one", c->max);
                g_io_stream_close(G_IO_STREAM(connection), NULL, NULL);
                return;
        }
        if (!soup_server_accept_iostream(c->server, G_IO_STREAM(connection), local, remote, &error)) {
                g_warning("cannot take a connection: %s", error->message);
                return;
        }
        s = g_new0(Slot, 1);
        s->owner = c;
        s->connection = connection;
        s->timer = g_timeout_add_seconds(c->timeout_sec, expire, s);
        s->peer = peer_of(remote);
        if (s->peer)
                g_hash_table_replace(c->by_peer, s->peer, s);
        g_hash_table_insert(c->live, connection, s);
        g_object_weak_ref(G_OBJECT(connection), gone, s);
}

void gateway_connections_request_read(GatewayConnections *c, SoupServerMessage *msg) {
        g_autofree char *peer = peer_of(soup_server_message_get_remote_address(msg));
        Slot *s = peer ? g_hash_table_lookup(c->by_peer, peer) : NULL;

        if (s && s->timer) {
                g_source_remove(s->timer);
                s->timer = 0;
        }
}

guint gateway_connections_count(const GatewayConnections *c) {
        return g_hash_table_size(c->live);
}
