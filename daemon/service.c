/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "connection.h"
#include "errors.h"
#include "fault.h"
#include "link.h"
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

        assert(m);
        assert(d);
        assert(ret);

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

/* Called at shutdown or when a reload removed it, once connections, waiters and the provider are
 * gone and service_lifecycle_free() released the rest. */
Service *service_free(Service *s) {
        if (!s)
                return NULL;
        assert(!s->provider && !s->connections && !s->waiters && !s->admin_calls);
        assert(!s->activation_timer && !s->start_unit_slot && !s->job_removed_slot && !s->stop_unit_slot);
        assert(!s->restart_timer && !s->idle_timer && !s->retest_timer && !s->stop_timer && !s->on_stopped_defer);
        fault_service_done(s);
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

        assert(s);

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
        assert(s);
        assert(caller);

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

        assert(s);
        assert(peer);
        assert(caller);

        if (provider && *provider && !streq(provider, d->provider))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_APP_NOT_INSTALLED,
                                         "app service '%s' is not provided by '%s'", d->name, provider);
        if (s->disabled)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_DISABLED_BY_POLICY,
                                         "app service '%s' is disabled", d->name);
        if (caller->remote) {
                /* AllowUsers=/AllowGroups= name local users: a remote caller is not one, and the
                 * bridge's own uid must not let it in either. */
                if (!d->allow_remote)
                        return sd_bus_error_setf(error, APPSERVICE_ERROR_NOT_AUTHORIZED,
                                                 "app service '%s' does not allow remote callers", d->name);
                if (!definition_allows_principal(d, caller->remote->principal))
                        return sd_bus_error_setf(error, APPSERVICE_ERROR_NOT_AUTHORIZED,
                                                 "app service '%s' does not allow the remote principal '%s'",
                                                 d->name, caller->remote->principal);
        } else if (!definition_allows_identity(d, caller))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_NOT_AUTHORIZED,
                                         "app service '%s' may not be opened by uid " UID_FMT
                                         " (AllowUsers=, AllowGroups=)", d->name, caller->uid);
        if (peer_connections_to(peer, s) >= d->max_connections_per_peer)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED,
                                         "app service '%s': %s already holds %u connections (MaxConnectionsPerPeer)",
                                         d->name, peer->name, d->max_connections_per_peer);
        return quota_check_service_peer(s->manager, d, peer->name, peer->uid, error);
}

void waiter_free(Waiter *w) {
        Peer *peer;

        if (!w)
                return;
        peer = w->peer;
        if (completion_is_set(&w->completion)) {
                /* Nobody answered it (its sender left the bus, or the daemon exits): a SubmitAction
                 * still must end. */
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_error_setf(&error, APPSERVICE_ERROR_CLOSED, "app service '%s': the open was abandoned",
                                  w->service->definition->name);
                completion_fail(&w->completion, &error);
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

void service_fail_waiters(Service *s, const char *error_name, const char *format, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        va_list ap;

        assert(s);
        assert(error_name);

        va_start(ap, format);
        sd_bus_error_setfv(&error, error_name, format, ap);
        va_end(ap);

        while (s->waiters) {
                Waiter *w = s->waiters;
                completion_fail(&w->completion, &error);
                waiter_free(w);
        }
}

/* The provider is registered: make the connection; an OpenConnection ends with its path, a
 * one-shot (whose ValueSet of `size` bytes passed its checks) sends its message, and its
 * outcome comes later. */
void service_open_now(Service *s, sd_bus_message *call, Peer *peer, Identity *caller, bool one_shot, uint64_t size,
                      Completion *completion) {
        _cleanup_(link_pair_done) LinkPair link = LINK_PAIR_NULL;
        const char *brokered = NULL;
        Connection *c;
        int r;

        assert(s->provider);
        assert(completion_is_set(completion));

        if (!one_shot && completion_takes_link(completion))
                brokered = link_pair_make(s, peer, caller, &link);
        r = connection_new(s, peer, caller, one_shot, link.client_end >= 0, &c);
        if (r < 0) {
                completion_fail_errnof(completion, r, "app service '%s': cannot open a connection: %m",
                                       s->definition->name);
                return;
        }
        if (c->direct) {
                LinkOffer offer = link_offer(s->definition, link.provider_end, NULL);

                (void) service_emit_connection_opened(s, c, &offer);
                offer.fd = link.client_end;
                completion_opened_with_link(completion, c->path, &offer);
                return;
        }
        (void) service_emit_connection_opened(s, c, NULL);

        /* An open for another node: the bridge has it now, and answers for the other node. */
        if (c->caller.target) {
                connection_wait_for_accept(c, completion);
                return;
        }
        if (!one_shot) {
                if (completion_takes_link(completion)) {
                        LinkOffer offer = link_offer(s->definition, -1, brokered);
                        completion_opened_with_link(completion, c->path, &offer);
                } else
                        completion_opened(completion, c->path);
                return;
        }

        (void) connection_send_message(c, ENDPOINT_CLIENT, call, &size, completion);
        if (request_list_is_empty(&c->requests))  /* refused and already answered: the one-shot is over */
                connection_close(c, 1u << ENDPOINT_PROVIDER, CLOSED_COMPLETED);
}

void service_open_waiters(Service *s) {
        assert(s);

        /* Oldest first: waiters were prepended. */
        while (s->waiters) {
                Waiter *w = s->waiters;
                while (w->service_next)
                        w = w->service_next;
                /* Its request takes over what the wait held. */
                quota_release(s->manager, &w->charge);
                service_open_now(s, w->call, w->peer, &w->identity, w->one_shot, w->size, &w->completion);
                waiter_free(w);
        }
}

bool service_is_stopping(const Service *s) {
        return s->stopping;
}

ServiceState service_state_without_provider(const Service *s) {
        if (s->restart_timer || s->activation_timer || s->start_unit_slot || s->job_removed_slot)
                return SERVICE_ACTIVATING;
        return s->run_failed ? SERVICE_FAILED : SERVICE_INACTIVE;
}
