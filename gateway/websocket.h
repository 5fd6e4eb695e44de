/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A WebSocket on /v1/connections/NAME: one app service connection as the caller's user
 * (README.md here, "The WebSocket"). The client sends actions as text frames and answers the
 * provider's requests; the gateway pushes those requests, the answers, and the connection's end.
 * Closing the socket closes the connection. */

#include <libsoup/soup.h>

#include "contract.h"
#include "server.h"

/* Opens the app service connection and serves `ws` on it. `contract` (NULL without one) is
 * taken. */
void gateway_websocket_start(GatewayState *state, SoupWebsocketConnection *ws, GDBusConnection *bus,
                             const char *service, Contract *contract);

/* Sends {"type": "error", "error": NAME, "message": ...} and closes `ws` with `code`. */
void gateway_websocket_refuse(SoupWebsocketConnection *ws, gushort code, const char *name, const char *message);
