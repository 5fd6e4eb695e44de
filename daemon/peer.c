/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "connection.h"
#include "log.h"
#include "monitor.h"
#include "peer.h"
#include "quota.h"
#include "service.h"
#include "util.h"
#include "visibility.h"

/* The peer left the bus: everything it held ends as the contract's lifetimes say. */
static void peer_vanished(Peer *p) {
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
}

/* One match for every peer, not one per peer as sd_bus_track would add: dbus-daemon allows a
 * connection 512 match rules by default, and a broker that tracked one rule per peer could be
 * cut off the bus by 512 unprivileged connections. The bus sends NameOwnerChanged after every
 * message the peer sent before leaving, so a peer created while handling its call always sees
 * its own departure afterwards. */
static int on_name_owner_changed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;
        const char *name, *old_owner, *new_owner;
        Peer *p;
        int r;

        r = sd_bus_message_read(message, "sss", &name, &old_owner, &new_owner);
        if (r < 0) {
                log_debug_errno(r, "unreadable NameOwnerChanged, ignoring: %m");
                return 0;
        }
        /* A unique name never changes hands: it only comes and goes. */
        if (name[0] != ':' || new_owner[0] != '\0')
                return 0;
        p = hashmap_get(m->peers, name);
        if (p && !p->vanishing)
                peer_vanished(p);
        return 0;
}

int peer_watch_bus(Manager *m) {
        /* Only the sender and the empty new owner are matched by the bus; the rest is checked
         * above. */
        return sd_bus_add_match(m->bus, &m->name_owner_changed_slot,
                                "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg2=''",
                                on_name_owner_changed, m);
}

int peer_acquire(Manager *m, const char *name, uid_t uid, Peer **ret, sd_bus_error *error) {
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
        p->uid = uid;
        p->name = strdup(name);
        if (!p->name)
                return -ENOMEM;

        r = quota_add_peer(m, uid, error);
        if (r < 0) {
                free(p->name);
                return r;
        }
        r = hashmap_put(m->peers, p->name, p);
        if (r < 0) {
                quota_remove_peer(m, uid);
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
        quota_remove_peer(p->manager, p->uid);
        free(p->name);
        free(p);
        return NULL;
}
