/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The HTTP connections the gateway holds: at most MaxConnections at once (the ones past it are
 * closed as they come), each given ConnectionTimeoutSec to deliver its whole request (a client
 * that sends nothing, or trickles, is closed then), so that no client holds more than a slot for
 * a while. Once the request is read, the app service's own timeouts bound the answer, and a
 * WebSocket lives as long as its app service connection. */

#include <libsoup/soup.h>

typedef struct GatewayConnections GatewayConnections;

GatewayConnections *gateway_connections_new(SoupServer *server, guint max, guint timeout_sec);
void gateway_connections_free(GatewayConnections *c);

/* A connection accepted by the listener: handed to libsoup, or closed at once when all the slots
 * are taken. */
void gateway_connections_take(GatewayConnections *c, GSocketConnection *connection);
guint gateway_connections_count(const GatewayConnections *c);
/* `msg`'s request was read: its connection's deadline is over. */
void gateway_connections_request_read(GatewayConnections *c, SoupServerMessage *msg);
