/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A connection between a client and a provider: the routing of the requests in flight on it
 * (request.h holds those). */

#include "completion.h"
#include "identity.h"
#include "manager.h"
#include "request.h"

/* ServiceClosed statuses (AppServiceClosedStatus). */
#define CLOSED_COMPLETED 0u
#define CLOSED_CANCELED 1u
#define CLOSED_RESOURCE_LIMITS_EXCEEDED 2u
#define CLOSED_UNKNOWN 3u

struct Connection {
        Manager *manager;
        uint64_t id;
        char *path;
        Service *service;
        Peer *client;
        Peer *provider;
        Identity caller;
        bool one_shot;            /* made by Service.SendMessage or SubmitAction */
        bool direct;              /* its endpoints got a direct link (link.h): its messages pass them alone */

        RequestList requests;     /* unanswered, both directions */

        /* An open for another node (the caller's "target"): the client's OpenConnection, held
         * until the bridge (the provider) calls Accept or Refuse, or accept_timer (the bridge
         * service's RequestTimeoutSec) fires. Until then the connection is the bridge's alone. */
        Completion accepting;
        sd_event_source *accept_timer;

        LIST_FIELDS(Connection, service);
        LIST_FIELDS(Connection, client);
        LIST_FIELDS(Connection, provider);
};

int connection_new(Service *s, Peer *client, Identity *caller, bool one_shot, bool direct, Connection **ret);
/* Closes: ServiceClosed(status) goes to each endpoint in `notify` (a bit mask of 1 << Endpoint),
 * then the unanswered requests fail with Closed, then the connection is freed. */
void connection_close(Connection *c, unsigned notify, uint32_t status);

/* The endpoint `sender` is; while the connection waits to be accepted, the client is none yet. */
Endpoint connection_endpoint_of(const Connection *c, const char *sender);
Peer *connection_peer(const Connection *c, Endpoint e);

/* Relays a message from endpoint `from`: checks it (the ValueSet rules only unless
 * `checked_size` gives the size a one-shot open measured while checking it), creates the request, emits
 * RequestReceived. Its outcome goes to `completion` (taken in every case): the SendMessage call's
 * (connection_call_completion()) or a SubmitAction receiver's; it ends on refusal, or when the
 * answer, the timeout or the close comes. */
int connection_send_message(Connection *c, Endpoint from, sd_bus_message *call, const uint64_t *checked_size,
                            Completion *completion);
/* Handles SendResponse from endpoint `from`; `m` is the SendResponse call. */
int connection_send_response(Connection *c, Endpoint from, sd_bus_message *m, sd_bus_error *error);

/* At most this many bytes of text come with Refuse's and FailRequest's error. */
#define CONNECTION_BRIDGE_MESSAGE_MAX 1024u

/* Whether the connection still waits for the bridge's Accept or Refuse. */
static inline bool connection_is_waiting(const Connection *c) {
        return completion_is_set(&c->accepting);
}
/* Makes a new connection wait for the bridge: takes `done`, arms the timer. */
void connection_wait_for_accept(Connection *c, Completion *done);
/* The bridge's answer to a waiting connection: the client gets the path, or `error_name` with
 * "node 'A': message" and the connection is gone (no ServiceClosed to anyone). UnknownRequest
 * when it is not waiting (any more); Refuse's arguments are checked here (InvalidArgs). */
int connection_accept(Connection *c, sd_bus_error *error);
int connection_refuse(Connection *c, const char *error_name, const char *message, sd_bus_error *error);
/* The endpoint that speaks for callers elsewhere: the provider of a connection to a Bridge=yes
 * service, or the client of one opened with "remote"; ENDPOINT_NONE for the others. */
Endpoint connection_bridge_endpoint(const Connection *c);
/* FailRequest from `from` (the bridge endpoint): request `id` it received fails for its sender
 * with `error_name` and `message` as given. UnknownRequest as SendResponse; InvalidArgs for an
 * error it may not hand on, or a message over CONNECTION_BRIDGE_MESSAGE_MAX. */
int connection_fail_request(Connection *c, Endpoint from, uint64_t id, const char *error_name, const char *message,
                            sd_bus_error *error);

/* connection-dbus.c */
int connection_emit_service_closed(Connection *c, Endpoint to, uint32_t status);
/* RequestReceived of request `id` for endpoint `to`, its ValueSet still to be appended; then sent. */
int connection_new_request_received(Connection *c, Endpoint to, uint64_t id, sd_bus_message **ret);
int connection_emit_request_received(Connection *c, sd_bus_message *signal);
