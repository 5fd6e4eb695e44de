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

        RequestList requests;     /* unanswered, both directions */

        LIST_FIELDS(Connection, service);
        LIST_FIELDS(Connection, client);
        LIST_FIELDS(Connection, provider);
};

int connection_new(Service *s, Peer *client, Identity *caller, bool one_shot, Connection **ret);
/* Closes: ServiceClosed(status) goes to each endpoint in `notify` (a bit mask of 1 << Endpoint),
 * then the unanswered requests fail with Closed, then the connection is freed. */
void connection_close(Connection *c, unsigned notify, uint32_t status);

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

/* connection-dbus.c */
int connection_emit_service_closed(Connection *c, Endpoint to, uint32_t status);
int connection_emit_request_received(Connection *c, Request *r, sd_bus_message *call);
