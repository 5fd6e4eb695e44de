/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "connection.h"
#include "log.h"
#include "monitor.h"
#include "peer.h"
#include "service.h"
#include "visibility.h"

/* The peer left the bus: everything it held ends as the contract's lifetimes say. */
static int peer_vanished(sd_bus_track *track, void *userdata) {
        Peer *p = userdata;
        Manager *m = p->manager;

        log_debug("peer %s left the bus", p->name);
        p->vanishing = true;
        monitor_stop(p);

        while (p->waiters)
                waiter_free(p->waiters);  /* nobody is left to answer */

        while (p->client_connections)
                connection_close(p->client_connections, 1u << ENDPOINT_PROVIDER, CLOSED_CANCELED);

        LIST_FOREACH(services, s, m->services)
                if (s->provider == p) {
                        log_info("app service '%s': provider %s left the bus", s->definition->name, p->name);
                        service_unregister_provider(s, CLOSED_CANCELED);
                }
        /* A removed service whose provider leaves: that ends its stop. */
        LIST_FOREACH(services, s, m->removed_services)
                if (s->provider == p)
                        service_unregister_provider(s, CLOSED_CANCELED);

        /* service_unregister_provider() closed the provider's connections; a peer that is both
         * provider and client of the same connection is gone by now too. */
        peer_free(p);
        return 1;  /* handled; the track goes with the peer */
}

int peer_acquire(Manager *m, const char *name, Peer **ret) {
        _cleanup_(freep) Peer *p = NULL;
        int r;

        p = hashmap_get(m->peers, name);
        if (p) {
                *ret = TAKE_PTR(p);
                return 0;
        }

        p = calloc(1, sizeof(Peer));
        if (!p)
                return -ENOMEM;
        p->manager = m;
        p->name = strdup(name);
        if (!p->name)
                return -ENOMEM;

        r = sd_bus_track_new(m->bus, &p->track, peer_vanished, p);
        if (r >= 0)
                r = sd_bus_track_add_name(p->track, name);
        if (r >= 0)
                r = hashmap_put(m->peers, p->name, p);
        if (r < 0) {
                sd_bus_track_unref(p->track);
                free(p->name);
                return r;
        }

        *ret = TAKE_PTR(p);
        return 0;
}

void peer_release_if_unused(Peer *p) {
        if (!p || p->vanishing || p->n_pins > 0 || p->client_connections || p->provider_connections || p->waiters ||
            p->n_services > 0 || p->monitoring || p->subscribed)
                return;
        peer_free(p);
}

Peer *peer_free(Peer *p) {
        if (!p)
                return NULL;
        monitor_stop(p);
        subscription_stop(p);
        hashmap_remove(p->manager->peers, p->name);
        sd_bus_track_unref(p->track);
        free(p->name);
        free(p);
        return NULL;
}
