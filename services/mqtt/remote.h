/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Remote app services (README.md, "3. Remote app services"): the sessions between this node's
 * broker and other nodes' bridges, over the frames of wire.h on `<prefix>/<to>/link/<from>`.
 *
 * - Opening node (B): an open for another node reaches this bridge as a connection to
 *   io.appservice.cloud whose caller has "target"; remote_handle_open() takes it, sends `open`,
 *   and Accept()s or Refuse()s it when the other node answers (or does not, or is offline).
 * - Receiving node (A): an `open` from node B is opened here with OpenConnection's option
 *   "remote" ({"principal": "node:B", "node": "B", ...}), as the bridge, and answered.
 * - Both: requests, responses, failures and closes are relayed both ways; the link or the other
 *   node going away closes every session with it (ServiceClosed(3), pending requests Closed).
 *
 * Everything from the network is checked (wire.c) and bounded (REMOTE_* below); a bad frame is
 * dropped with a log line. */

#include <appservice.h>
#include <glib.h>

#include "config.h"
#include "link.h"

/* Sessions with one other node, and with all of them. */
#define REMOTE_SESSIONS_PER_NODE_MAX 256u
#define REMOTE_SESSIONS_MAX 4096u
/* Requests from the other node in flight on one session (each side's broker also applies the
 * service's MaxPendingRequests to what the bridge sends it). */
#define REMOTE_REQUESTS_PER_SESSION_MAX 256u
/* Nodes whose status is remembered. */
#define REMOTE_NODES_MAX 65536u
/* The far service's MaxMessageSize when its broker does not tell it (before 0.3.0): the
 * broker's default. Larger messages are then refused by the far broker, not before sending. */
#define REMOTE_DEFAULT_MAX_MESSAGE_SIZE (UINT64_C(1024) * 1024)
/* Method calls to the broker in flight at once; the rest wait in order. A system bus allows a
 * connection 128 calls awaiting their reply. */
#define REMOTE_CALLS_IN_FLIGHT_MAX 64u

typedef struct Remote Remote;

/* Subscribes on `link` to the other nodes' status and to this node's link topic: call before
 * mqtt_link_start(). The calls go out on `provider`'s bus, as the bridge. */
Remote *remote_new(MqttLink *link, AppServiceProvider *provider, const BridgeConfig *config);
/* Frees every session without a word to anyone (the broker closes the connections when the
 * bridge unregisters, the other nodes see this node's status go offline). Before the link. */
void remote_free(Remote *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Remote, remote_free)

/* A connection to io.appservice.cloud whose caller has "target" (an open for another node):
 * taken by the remote part, which answers it with Accept or Refuse. */
void remote_handle_open(Remote *r, AppServiceConnection *connection, GVariant *caller);
