/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "errors.h"
#include "manager.h"
#include "open.h"
#include "peer.h"
#include "quota.h"
#include "util.h"
#include "valueset.h"

static void fail_open(Service *s, Completion *done, const sd_bus_error *error, int r) {
        if (sd_bus_error_is_set(error))
                completion_fail(done, error);
        else
                completion_fail_errnof(done, r, "app service '%s': %m", s->definition->name);
}

/* Why an open cannot wait for a provider, or NULL when it can: none can be started, or the start
 * limit holds. */
static char *why_no_provider(const Service *s) {
        char *text;

        if (!service_is_activatable(s) && !service_is_stopping(s)) {
                if (asprintf(&text, "app service '%s': no provider is registered, and it cannot be started (no "
                             "Exec= or SystemdService=, or none its definition file may use: see the broker's log)",
                             s->definition->name) < 0)
                        return NULL;
                return text;
        }
        return service_start_limit_message(s);
}

/* A waiting open holds its call, and a one-shot its message, until the provider is there. */
static void wait_for_provider(Service *s, sd_bus_message *call, Peer *peer, Identity *caller, bool one_shot,
                              uint64_t size, Completion *done) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Charge charge = {};
        Waiter *w;
        int r;

        r = quota_charge(s->manager, s->definition, caller->uid, size + QUOTA_REQUEST_OVERHEAD, 0, &charge, &error);
        if (r < 0) {
                fail_open(s, done, &error, r);
                return;
        }

        w = calloc(1, sizeof(Waiter));
        r = w ? quota_ref_service_peer(s->manager, s->definition->name, peer->name, peer->uid) : -ENOMEM;
        if (r < 0) {
                free(w);
                quota_release(s->manager, &charge);
                fail_open(s, done, &error, r);
                return;
        }
        *w = (Waiter) {
                .service = s,
                .peer = peer,
                .call = sd_bus_message_ref(call),
                .identity = *caller,
                .one_shot = one_shot,
                .size = size,
                .charge = charge,
        };
        completion_move(&w->completion, done);
        *caller = (Identity) {};
        LIST_PREPEND(service, s->waiters, w);
        LIST_PREPEND(peer, peer->waiters, w);

        /* An activation or an automatic restart is under way, or the stop ends with a start. */
        if (s->state == SERVICE_ACTIVATING || service_is_stopping(s))
                return;

        /* On failure the waiters, this one included, have been answered. */
        (void) service_start(s, START_OPEN);
}

void service_open(Service *s, sd_bus_message *call, Peer *peer, Identity *caller, bool one_shot, Completion *done) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        bool ready = s->provider && !service_is_stopping(s);
        uint64_t size = 0;
        int r;

        assert(completion_is_set(done));

        /* While a stop is under way, the open waits for it and starts the provider again. */
        if (!ready) {
                _cleanup_(freep) char *refusal = why_no_provider(s);
                if (refusal) {
                        sd_bus_error_setf(&error, APPSERVICE_ERROR_APP_UNAVAILABLE, "%s", refusal);
                        completion_fail(done, &error);
                        return;
                }
        }

        if (one_shot) {
                /* The sending checks of a one-shot follow the opening checks that answer at once,
                 * and come before anything is opened or started: nothing is held, and no
                 * provider started, for a message that cannot go out. */
                r = valueset_seek(call);
                if (r >= 0)
                        r = valueset_check_for(call, s->definition->name, s->definition->max_message_size, &size,
                                               &error);
                if (r < 0) {
                        fail_open(s, done, &error, r);
                        return;
                }
        }

        if (ready)
                service_open_now(s, call, peer, caller, one_shot, size, done);
        else
                wait_for_provider(s, call, peer, caller, one_shot, size, done);
}

static int handle_open(Service *s, sd_bus_message *call, const char *provider, RemoteCaller **remote,
                       NodeTarget **target, bool one_shot, Completion *done, sd_bus_error *error) {
        _cleanup_(identity_done) Identity caller = {};
        Peer *peer;
        int r;

        assert(s);
        assert(call);
        assert(completion_is_set(done));

        r = identity_from_message(call, &caller);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "app service '%s': cannot tell who is calling: %m",
                                               s->definition->name);
        /* What the options add goes with the caller: its checks, and what the provider is told. */
        if (remote)
                caller.remote = TAKE_PTR(*remote);
        if (target)
                caller.target = TAKE_PTR(*target);

        r = peer_acquire(s->manager, sd_bus_message_get_sender(call), caller.uid, &peer, error);
        if (r < 0)
                return sd_bus_error_is_set(error) ? r :
                        sd_bus_error_set_errnof(error, r, "app service '%s': cannot track the caller: %m",
                                                s->definition->name);

        r = service_check_open(s, provider, peer, &caller, error);
        if (r < 0) {
                peer_release_if_unused(peer);
                return r;
        }

        peer->n_pins++;  /* service_open() may drop the peer's last hold on it */
        service_open(s, call, peer, &caller, one_shot, done);
        peer->n_pins--;
        peer_release_if_unused(peer);  /* when the open failed at once */
        return 1;
}

int service_handle_open(Service *s, sd_bus_message *call, const char *provider, bool one_shot, Completion *done,
                        sd_bus_error *error) {
        return handle_open(s, call, provider, /* remote= */ NULL, /* target= */ NULL, one_shot, done, error);
}

int service_handle_remote_open(Service *s, sd_bus_message *call, const char *provider, RemoteCaller **remote,
                               Completion *done, sd_bus_error *error) {
        assert(remote && *remote);

        return handle_open(s, call, provider, remote, /* target= */ NULL, /* one_shot= */ false, done, error);
}

int node_handle_open(Manager *m, sd_bus_message *call, const char *node, const char *name, const char *provider,
                     Completion *done, sd_bus_error *error) {
        _cleanup_(node_target_freep) NodeTarget *target = NULL;
        Service *bridge;
        int r;

        assert(node_name_is_valid(node));

        bridge = manager_find_bridge(m);
        if (!bridge)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_APP_SERVICE_UNAVAILABLE,
                                         "node '%s': no bridge to other nodes is declared (Bridge=yes)", node);
        /* What the other node will be asked must be askable: the names' own rules, as here. */
        if (!definition_name_is_valid(name))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_APP_SERVICE_UNAVAILABLE,
                                         "node '%s': '%.255s' is not a valid app service name", node, name);
        if (*provider && !definition_provider_is_valid(provider))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_APP_NOT_INSTALLED,
                                         "node '%s': '%.255s' is not a valid provider id", node, provider);

        r = node_target_new(node, name, provider, &target);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "node '%s': %m", node);
        /* The opening checks are the bridge service's: it is what the caller opens here. */
        return handle_open(bridge, call, /* provider= */ NULL, /* remote= */ NULL, &target, /* one_shot= */ false,
                           done, error);
}
