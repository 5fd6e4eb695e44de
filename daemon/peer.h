/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A bus peer the daemon holds state for, as client, provider or waiting opener. Its lifetime is
 * watched with sd_bus_track: when the peer leaves the bus, everything it held is closed. */

#include <sys/types.h>

#include "identity.h"
#include "manager.h"

struct Peer {
        Manager *manager;
        char *name;                      /* unique bus name */
        sd_bus_track *track;

        Connection *client_connections;  /* connections it opened (list "client") */
        Connection *provider_connections;/* connections to services it provides (list "provider") */
        Waiter *waiters;                 /* opens it is waiting on (list "peer") */
        unsigned n_services;             /* services it is registered for */
        bool vanishing;                  /* being torn down: do not free it from below */
        unsigned n_pins;                 /* > 0 while a handler still uses it */
        bool monitoring;                 /* called StartMonitoring (in the list "monitors") */
        LIST_FIELDS(Peer, monitors);
        bool subscribed;                 /* called Manager.Subscribe (in the list "subscribers") */
        Identity subscriber;             /* ... and who it was then: decides what it is sent */
        LIST_FIELDS(Peer, subscribers);
};

/* Finds or creates the peer for a unique name and starts tracking it. */
int peer_acquire(Manager *m, const char *name, Peer **ret);
/* Frees the peer if it no longer holds anything. */
void peer_release_if_unused(Peer *p);
Peer *peer_free(Peer *p);
