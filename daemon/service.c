/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "connection.h"
#include "errors.h"
#include "fault.h"
#include "log.h"
#include "monitor.h"
#include "peer.h"
#include "quota.h"
#include "service-dbus.h"
#include "service.h"
#include "util.h"
#include "valueset.h"

static const char *const state_names[] = {
        [SERVICE_INACTIVE] = "inactive",
        [SERVICE_ACTIVATING] = "activating",
        [SERVICE_ACTIVE] = "active",
        [SERVICE_FAILED] = "failed",
        [SERVICE_DISABLED] = "disabled",
};

const char *service_state_to_string(ServiceState s) {
        return state_names[s];
}

int service_new(Manager *m, Definition *d, Service **ret) {
        _cleanup_(freep) Service *s = NULL;
        int r;

        s = calloc(1, sizeof(Service));
        if (!s)
                return -ENOMEM;
        s->manager = m;
        r = service_object_path(d->name, &s->path);
        if (r < 0)
                return r;
        r = hashmap_put(m->services_by_name, d->name, s);
        if (r < 0) {
                free(s->path);
                return r;
        }
        s->definition = d;
        *ret = TAKE_PTR(s);
        return 0;
}

/* Called at shutdown, once connections, waiters and the provider are gone. */
Service *service_free(Service *s) {
        if (!s)
                return NULL;
        service_stop_activation(s);
        fault_service_done(s);
        service_lifecycle_free(s);
        if (s->process)
                s->process->service = NULL;
        /* A removed service may have been declared again by another file since. */
        if (hashmap_get(s->manager->services_by_name, s->definition->name) == s)
                hashmap_remove(s->manager->services_by_name, s->definition->name);
        definition_free(s->definition);
        free(s->path);
        free(s);
        return NULL;
}

ServiceState service_get_state(const Service *s) {
        return s->disabled ? SERVICE_DISABLED : s->state;
}

void service_set_state(Service *s, ServiceState state) {
        ServiceState before = service_get_state(s);

        s->state = state;
        if (service_get_state(s) != before) {
                log_debug("app service '%s': %s → %s", s->definition->name,
                          service_state_to_string(before), service_state_to_string(service_get_state(s)));
                service_emit_state_changed(s);
        }
}

bool service_is_activatable(const Service *s) {
        return s->definition->exec_argv || s->definition->systemd_service;
}

bool definition_allows_identity(const Definition *d, const Identity *id) {
        _cleanup_(freep) gid_t *gids = NULL;

        gids = calloc(id->n_groups + 1, sizeof(gid_t));
        if (!gids)
                return false;  /* fail closed */
        gids[0] = id->gid;
        for (size_t i = 0; i < id->n_groups; i++)
                gids[i + 1] = id->groups[i];
        return definition_allows(d, id->uid, gids, id->n_groups + 1);
}

bool service_may_open(const Service *s, const Identity *caller) {
        return !s->disabled && definition_allows_identity(s->definition, caller);
}

static unsigned peer_connections_to(const Peer *p, const Service *s) {
        unsigned n = 0;

        LIST_FOREACH(client, c, p->client_connections)
                n += c->service == s;
        LIST_FOREACH(peer, w, p->waiters)
                n += w->service == s;
        return n;
}

int service_check_open(Service *s, const char *provider, Peer *peer, const Identity *caller,
                       sd_bus_error *error) {
        const Definition *d = s->definition;

        if (provider && *provider && !streq(provider, d->provider))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_APP_NOT_INSTALLED,
                                         "app service '%s' is not provided by '%s'", d->name, provider);
        if (s->disabled)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_DISABLED_BY_POLICY,
                                         "app service '%s' is disabled", d->name);
        if (!definition_allows_identity(d, caller))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_NOT_AUTHORIZED,
                                         "app service '%s' may not be opened by uid " UID_FMT
                                         " (AllowUsers=, AllowGroups=)", d->name, caller->uid);
        if (peer_connections_to(peer, s) >= d->max_connections_per_peer)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED,
                                         "app service '%s': %s already holds %u connections (MaxConnectionsPerPeer)",
                                         d->name, peer->name, d->max_connections_per_peer);
        return quota_check_service_peer(s->manager, d, peer->name, peer->uid, error);
}

static int reply_error(sd_bus_message *call, Completion *completion, sd_bus_error *error, int r, const char *name) {
        if (sd_bus_error_is_set(error))
                return completion_fail(completion, call, error);
        return completion_fail_errnof(completion, call, r, "app service '%s': %m", name);
}

/* The provider is registered: make the connection and answer the caller. A one-shot (whose
 * ValueSet of `size` bytes passed its checks) with a completion sends its outcome there
 * instead. */
static int open_now(Service *s, sd_bus_message *call, Peer *peer, Identity *caller, bool one_shot, uint64_t size,
                    Completion *completion) {
        Connection *c;
        int r;

        r = connection_new(s, peer, caller, one_shot, &c);
        if (r < 0)
                return completion_fail_errnof(completion, call, r, "app service '%s': cannot open a connection: %m",
                                            s->definition->name);
        (void) service_emit_connection_opened(s, c);

        if (!one_shot)
                return sd_bus_reply_method_return(call, "o", c->path);

        r = connection_send_message(c, ENDPOINT_CLIENT, call, &size, completion);
        if (request_list_is_empty(&c->requests))  /* refused and already answered: the one-shot is over */
                connection_close(c, 1u << ENDPOINT_PROVIDER, CLOSED_COMPLETED);
        return r;
}

void waiter_free(Waiter *w) {
        Peer *peer;

        if (!w)
                return;
        peer = w->peer;
        if (completion_is_set(&w->completion)) {
                /* Nobody answered it (its sender left the bus, or the daemon exits): the
                 * SubmitAction still must end. */
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_error_setf(&error, APPSERVICE_ERROR_CLOSED, "app service '%s': the open was abandoned",
                                  w->service->definition->name);
                (void) completion_fail(&w->completion, w->call, &error);
        }
        LIST_REMOVE(service, w->service->waiters, w);
        LIST_REMOVE(peer, peer->waiters, w);
        quota_unref_service_peer(w->service->manager, w->service->definition->name, peer->name);
        quota_release(w->service->manager, &w->charge);
        sd_bus_message_unref(w->call);
        identity_done(&w->identity);
        free(w);
        peer_release_if_unused(peer);
}

static int open_or_activate(Service *s, sd_bus_message *call, Peer *peer, Identity *caller, bool one_shot,
                            Completion *completion) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(freep) char *limit = NULL;
        bool ready = s->provider && !service_is_stopping(s);
        Charge charge = {};
        uint64_t size = 0;
        Waiter *w;
        int r;

        /* While a stop is under way, the open waits for it and starts the provider again. */
        if (!ready && !service_is_activatable(s) && !service_is_stopping(s)) {
                sd_bus_error_setf(&error, APPSERVICE_ERROR_APP_UNAVAILABLE,
                                  "app service '%s': no provider is registered, and it cannot be "
                                  "started (no Exec= or SystemdService=, or none its definition file may use: "
                                  "see the broker's log)", s->definition->name);
                return completion_fail(completion, call, &error);
        }
        limit = ready ? NULL : service_start_limit_message(s);
        if (limit) {
                sd_bus_error_setf(&error, APPSERVICE_ERROR_APP_UNAVAILABLE, "%s", limit);
                return completion_fail(completion, call, &error);
        }

        if (one_shot) {
                /* The sending checks of a one-shot follow the opening checks that answer at once,
                 * and come before anything is opened or started: nothing is held, and no
                 * provider started, for a message that cannot go out. */
                r = valueset_seek(call);
                if (r >= 0)
                        r = valueset_check_for(call, s->definition->name, s->definition->max_message_size, &size,
                                               &error);
                if (r < 0)
                        return reply_error(call, completion, &error, r, s->definition->name);
        }

        if (ready)
                return open_now(s, call, peer, caller, one_shot, size, completion);

        /* A waiting open holds its call, and a one-shot its message, until the provider is there. */
        r = quota_charge(s->manager, s->definition, caller->uid, size + QUOTA_REQUEST_OVERHEAD, 0, &charge, &error);
        if (r < 0)
                return reply_error(call, completion, &error, r, s->definition->name);

        w = calloc(1, sizeof(Waiter));
        r = w ? quota_ref_service_peer(s->manager, s->definition->name, peer->name, peer->uid) : -ENOMEM;
        if (r < 0) {
                free(w);
                quota_release(s->manager, &charge);
                return completion_fail_errnof(completion, call, -r, "app service '%s': %m", s->definition->name);
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
        completion_move(&w->completion, completion);
        *caller = (Identity) {};
        LIST_PREPEND(service, s->waiters, w);
        LIST_PREPEND(peer, peer->waiters, w);

        /* An activation or an automatic restart is under way, or the stop ends with a start. */
        if (s->state == SERVICE_ACTIVATING || service_is_stopping(s))
                return 0;

        /* On failure the waiters, this one included, have been answered. */
        (void) service_start(s, START_OPEN);
        return 0;
}

int service_open(Service *s, sd_bus_message *call, Peer *peer, Identity *caller, Completion *one_shot) {
        return open_or_activate(s, call, peer, caller, completion_is_set(one_shot), one_shot);
}

int service_open_for_action(Service *s, sd_bus_message *call, Peer *peer, Identity *caller,
                            Completion *completion) {
        return open_or_activate(s, call, peer, caller, /* one_shot= */ true, completion);
}

void service_fail_waiters(Service *s, const char *error_name, const char *format, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        va_list ap;

        va_start(ap, format);
        sd_bus_error_setfv(&error, error_name, format, ap);
        va_end(ap);

        while (s->waiters) {
                Waiter *w = s->waiters;
                int r = completion_fail(&w->completion, w->call, &error);
                if (r < 0)
                        log_debug_errno(r, "app service '%s': failed to answer a waiting open, ignoring: %m",
                                        s->definition->name);
                waiter_free(w);
        }
}

int service_register_provider(Service *s, Peer *peer) {
        s->provider = peer;
        peer->n_services++;
        log_info("app service '%s': provider %s registered", s->definition->name, peer->name);
        monitor_emit(s->manager, "provider-registered", "ssu", "service", s->definition->name,
                     "peer", peer->name, "pid", (uint32_t) s->provider_pid);
        service_lifecycle_registered(s);  /* before the activation's traces are dropped */
        service_stop_activation(s);
        service_set_state(s, SERVICE_ACTIVE);

        /* Oldest first: waiters were prepended. */
        while (s->waiters) {
                Waiter *w = s->waiters;
                while (w->service_next)
                        w = w->service_next;
                /* Its request takes over what the wait held. */
                quota_release(s->manager, &w->charge);
                (void) open_now(s, w->call, w->peer, &w->identity, w->one_shot, w->size, &w->completion);
                waiter_free(w);
        }
        return 0;
}

void service_unregister_provider(Service *s, uint32_t status) {
        Peer *peer = s->provider;

        if (!peer)
                return;
        while (s->connections)
                connection_close(s->connections, 1u << ENDPOINT_CLIENT, status);
        s->provider = NULL;
        peer->n_services--;
        monitor_emit(s->manager, "provider-unregistered", "ssu", "service", s->definition->name,
                     "peer", peer->name, "pid", (uint32_t) s->provider_pid);
        /* Crash, clean exit or the end of a stop; may start the provider again. */
        service_lifecycle_unregistered(s, status == CLOSED_COMPLETED);
        if (!s->provider)
                service_set_state(s, service_state_without_provider(s));
        peer_release_if_unused(peer);
}

int service_handle_open(Service *s, sd_bus_message *call, const char *provider, Completion *one_shot,
                        sd_bus_error *error) {
        _cleanup_(identity_done) Identity caller = {};
        Peer *peer;
        int r;

        r = identity_from_message(call, &caller);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "app service '%s': cannot tell who is calling: %m",
                                               s->definition->name);

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
        r = service_open(s, call, peer, &caller, one_shot);
        peer->n_pins--;
        peer_release_if_unused(peer);  /* when the open failed at once */
        return r < 0 ? r : 1;
}
