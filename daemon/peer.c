/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"
#include "quota.h"
#include "util.h"

int peer_acquire(Manager *m, const char *name, uid_t uid, Peer **ret, sd_bus_error *error) {
        _cleanup_(freep) Peer *p = NULL;
        int r;

        assert(m);
        assert(ret);

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
        assert(!p->monitoring && !p->subscribed);
        hashmap_remove(p->manager->peers, p->name);
        quota_remove_peer(p->manager, p->uid);
        free(p->name);
        free(p);
        return NULL;
}
