/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "peer.h"
#include "service.h"
#include "util.h"
#include "visibility.h"

bool service_state_is_private(const Service *s) {
        return s->definition->n_allow_uids > 0 || s->definition->n_allow_gids > 0;
}

bool service_may_watch(const Service *s, const char *sender, const Identity *id) {
        const Definition *d = s->definition;

        assert(s);
        assert(id);

        if (!service_state_is_private(s) || id->uid == 0)
                return true;
        if (s->provider && sender && streq(s->provider->name, sender))
                return true;
        /* Whoever may register the service (RegisterProvider's rule) sees what it would see then. */
        if (id->uid == (d->has_user ? d->uid : geteuid()))
                return true;
        return definition_allows_identity(d, id);
}

bool definition_watchers_differ(const Definition *a, const Definition *b) {
        return a->has_user != b->has_user || (a->has_user && a->uid != b->uid) ||
                a->n_allow_uids != b->n_allow_uids || a->n_allow_gids != b->n_allow_gids ||
                (a->n_allow_uids > 0 && memcmp(a->allow_uids, b->allow_uids, a->n_allow_uids * sizeof(uid_t)) != 0) ||
                (a->n_allow_gids > 0 && memcmp(a->allow_gids, b->allow_gids, a->n_allow_gids * sizeof(gid_t)) != 0);
}

/* The identity of the last peer whose Get, GetAll or GetManagedObjects asked for a private value:
 * GetManagedObjects reads three per service, and each credentials query is a round trip to the
 * bus. A unique name is never reused on a bus, and the credentials the bus reports for it are
 * those it connected with, so the entry never goes stale. */
static struct {
        char *sender;
        Identity identity;
} last_caller;

static int caller_identity(sd_bus_message *call, const Identity **ret) {
        _cleanup_(identity_done) Identity id = {};
        _cleanup_(freep) char *sender = NULL;
        const char *name = sd_bus_message_get_sender(call);
        int r;

        if (!name)
                return -ENXIO;
        if (last_caller.sender && streq(last_caller.sender, name)) {
                *ret = &last_caller.identity;
                return 0;
        }
        r = identity_from_message(call, &id);
        if (r < 0)
                return r;
        sender = strdup(name);
        if (!sender)
                return -ENOMEM;

        free(last_caller.sender);
        identity_done(&last_caller.identity);
        last_caller.sender = TAKE_PTR(sender);
        last_caller.identity = id;
        id = (Identity) {};
        *ret = &last_caller.identity;
        return 0;
}

bool service_current_caller_may_watch(const Service *s, sd_bus *bus) {
        sd_bus_message *call;
        const Identity *id;
        const char *iface;
        int r;

        if (!service_state_is_private(s))
                return true;

        /* sd-bus also runs the getters to build the signals it broadcasts (InterfacesAdded after a
         * reload, say); then the message being dispatched is the one that caused them, and its
         * sender must not decide what everyone is sent. */
        call = sd_bus_get_current_message(bus);
        if (!call || !sd_bus_message_is_method_call(call, NULL, NULL))
                return false;
        iface = sd_bus_message_get_interface(call);
        if (!iface || !(streq(iface, "org.freedesktop.DBus.Properties") ||
                        streq(iface, "org.freedesktop.DBus.ObjectManager")))
                return false;

        r = caller_identity(call, &id);
        if (r < 0) {
                log_debug_errno(r, "app service '%s': cannot tell who reads its state, hiding it: %m",
                                s->definition->name);
                return false;
        }
        return service_may_watch(s, sd_bus_message_get_sender(call), id);
}

/* Manager.Subscribe, Unsubscribe */

void subscription_stop(Peer *p) {
        if (!p || !p->subscribed)
                return;
        LIST_REMOVE(subscribers, p->manager->subscribers, p);
        p->subscribed = false;
        identity_done(&p->subscriber);
        log_debug("peer %s unsubscribed", p->name);
}

static unsigned subscribers_of_uid(Manager *m, uid_t uid) {
        unsigned n = 0;

        LIST_FOREACH(subscribers, p, m->subscribers)
                n += p->subscriber.uid == uid;
        return n;
}

int subscription_check(Manager *m, uid_t uid, sd_bus_error *error) {
        assert(m);

        /* Every state change of a private service costs one signal per subscriber: one user
         * must not make that thousands. */
        if (uid != 0 && subscribers_of_uid(m, uid) >= SUBSCRIBERS_PER_UID_MAX)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED,
                                         "uid " UID_FMT " already has %u subscribed bus connections "
                                         "(the broker's limit of subscribers per uid)",
                                         uid, SUBSCRIBERS_PER_UID_MAX);
        return 0;
}

void subscription_start(Peer *p, Identity *who) {
        assert(p);
        assert(who);

        if (p->subscribed)
                return;
        p->subscriber = *who;
        *who = (Identity) {};
        p->subscribed = true;
        LIST_PREPEND(subscribers, p->manager->subscribers, p);
        log_debug("peer %s subscribed", p->name);
}
