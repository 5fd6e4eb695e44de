/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A bus peer the daemon holds state for, as client, provider or waiting opener. manager.c watches
 * them all with one NameOwnerChanged match: when a peer leaves the bus, it closes everything the
 * peer held (the peer-vanished cascade), then frees it. */

#include <sys/types.h>

#include "identity.h"
#include "manager.h"

struct Peer {
        Manager *manager;
        char *name;                      /* unique bus name */
        uid_t uid;                       /* counted in its user's MaxPeersPerUser */

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

/* Finds or creates the peer for a unique name (the sender of a call being handled). */
int peer_acquire(Manager *m, const char *name, uid_t uid, Peer **ret, sd_bus_error *error);
/* Frees the peer if it no longer holds anything. */
void peer_release_if_unused(Peer *p);
/* Frees a peer that neither monitors nor is subscribed (monitor_stop(), subscription_stop()). */
Peer *peer_free(Peer *p);
