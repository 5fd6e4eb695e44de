/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What one connection owns: its line requests, numbered per connection, and the events on their
 * way to it, with a bounded window and queue so that a slow client never makes us grow. */

#include <appservice.h>

#include "line-request.h"

/* The definition's [Properties] that bound what one connection may hold. */
typedef struct {
        guint event_window;       /* EventWindow: events sent and not yet answered */
        guint event_queue_length; /* EventQueueLength: events waiting behind those */
        guint max_requests;       /* MaxRequests: line requests held at once */
} Limits;

#define LIMITS_DEFAULT ((Limits){ .event_window = 16, .event_queue_length = 1024, .max_requests = 64 })

typedef struct Client Client;

/* @connection may be NULL (tests): events are then dropped. */
Client *client_new(AppServiceConnection *connection, const Limits *limits);
/* The connection closed: releases every request at once and drops the waiting events. */
void client_free(Client *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Client, client_free)

const char *client_get_label(Client *client);

/* limit when the client holds MaxRequests requests already; else the id for the next one. */
gboolean client_reserve_id(Client *client, guint32 *ret_id, GError **error);
/* Takes @request, made with an id from client_reserve_id() and client_on_edges() as its edge
 * callback with @client as data. */
void client_add_request(Client *client, LineRequest *request);
/* unknown-request for ids this client does not hold. Borrowed: valid until released. */
LineRequest *client_lookup_request(Client *client, guint32 id, GError **error);
gboolean client_release_request(Client *client, guint32 id, GError **error);
/* The chip went away: releases the client's requests on it, each with a `released` event. */
void client_release_chip(Client *client, const char *chip_name);

/* The EdgeFunc of the client's requests. */
void client_on_edges(LineRequest *request, const EdgeEvent *edges, guint n_edges, gpointer user_data);
