/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "authorize.h"
#include "config.h"
#include "connection.h"
#include "errors.h"
#include "log.h"
#include "manager-dbus.h"
#include "monitor.h"
#include "peer.h"
#include "reload.h"
#include "service.h"
#include "util.h"
#include "visibility.h"

static const char *const manager_state_names[] = {
        [MANAGER_STARTING] = "starting",
        [MANAGER_RUNNING] = "running",
        [MANAGER_STOPPING] = "stopping",
};

const char *manager_state_to_string(ManagerState s) {
        return manager_state_names[s];
}

/* What a peer held that is not a connection: its monitoring and its subscription. */
static void peer_forget(Peer *p) {
        monitor_stop(p);
        subscription_stop(p);
        peer_free(p);
}

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
        peer_forget(p);
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

static int watch_peers(Manager *m) {
        /* Only the sender and the empty new owner are matched by the bus; the rest is checked
         * above. */
        return sd_bus_add_match(m->bus, &m->name_owner_changed_slot,
                                "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg2=''",
                                on_name_owner_changed, m);
}

int manager_new(Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        char hostname[256] = {};
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        m->state = MANAGER_STARTING;

        /* A loop of our own, not the thread's default: sd-event checks gettid() (a system call)
         * twice per iteration of a default loop, and the broker iterates a few times per message. */
        r = sd_event_new(&m->event);
        if (r < 0)
                return r;
        request_clock_init(&m->request_clock, m->event);

        m->services_by_name = hashmap_new(HASHMAP_KEY_STRING);
        m->connections = hashmap_new(HASHMAP_KEY_UINT64);
        m->peers = hashmap_new(HASHMAP_KEY_STRING);
        m->usage = hashmap_new(HASHMAP_KEY_UINT64);
        m->service_usage = hashmap_new(HASHMAP_KEY_STRING);
        if (!m->services_by_name || !m->connections || !m->peers || !m->usage || !m->service_usage)
                return -ENOMEM;
        quota_set_defaults(&m->limits);
        m->allow_direct = true;

        if (gethostname(hostname, sizeof hostname - 1) < 0 || !hostname[0])
                strcpy(hostname, "localhost");
        m->node_name = strdup(hostname);
        if (!m->node_name)
                return -ENOMEM;

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;

        authorize_cancel_all(m);
        reload_done(m);

        /* Processes point at services, connections at peers and services: free in that order. */
        while (m->processes)
                process_free(m->processes);
        while (hashmap_size(m->connections) > 0)
                connection_close(hashmap_first(m->connections), /* notify= */ 0, CLOSED_CANCELED);
        LIST_FOREACH(services, s, m->services)
                while (s->waiters)
                        waiter_free(s->waiters);
        while (m->services) {
                Service *s = m->services;
                LIST_REMOVE(services, m->services, s);
                s->provider = NULL;
                service_lifecycle_free(s);
                service_free(s);
        }
        while (m->removed_services) {
                Service *s = m->removed_services;
                LIST_REMOVE(services, m->removed_services, s);
                s->provider = NULL;
                service_lifecycle_free(s);
                service_free(s);
        }
        while (hashmap_size(m->peers) > 0)
                peer_forget(hashmap_first(m->peers));

        sd_event_source_disable_unref(m->lifecycle_check);
        sd_event_source_disable_unref(m->idle_check);
        sd_event_source_disable_unref(m->idle_timer);
        sd_bus_slot_unref(m->release_name_slot);
        sd_bus_slot_unref(m->name_owner_changed_slot);
        sd_bus_slot_unref(m->disconnected_slot);
        sd_bus_slot_unref(m->manager_slot);
        sd_bus_slot_unref(m->object_manager_slot);
        sd_bus_slot_unref(m->service_slot);
        sd_bus_slot_unref(m->service_enumerator_slot);
        sd_bus_slot_unref(m->connection_slot);
        bus_loop_free(m->bus_loop);
        sd_bus_flush_close_unref(m->bus);
        request_clock_done(&m->request_clock);
        sd_event_unref(m->event);

        hashmap_free(m->services_by_name);
        definition_load_errors_done(&m->load_errors);
        hashmap_free(m->connections);
        hashmap_free(m->peers);
        quota_free_all(m);
        free(m->config_path);
        strv_free(m->services_dirs);
        strv_free(m->contracts_dirs);
        (void) service_contract_set_search_path(NULL);
        free(m->node_name);
        free(m);
        return NULL;
}

int manager_load_services(Manager *m) {
        Definition **defs = NULL;
        Service *tail = NULL;
        size_t n = 0;
        int r;

        r = service_contract_set_search_path(m->contracts_dirs);
        if (r < 0)
                return log_error_errno(r, "%m");
        r = definitions_load_dirs_full(m->services_dirs ? m->services_dirs : definition_default_dirs(), &defs, &n,
                                       &m->load_errors);
        if (r < 0)
                return log_error_errno(r, "failed to load app service definitions: %m");

        for (size_t i = 0; i < n; i++) {
                Service *s;

                r = service_new(m, defs[i], &s);
                if (r < 0) {
                        log_error_errno(r, "app service '%s': cannot be set up, skipping: %m", defs[i]->name);
                        definition_free(defs[i]);
                        continue;
                }
                /* Append, so that ListServices keeps the definitions' order. */
                if (tail) {
                        s->services_prev = tail;
                        tail->services_next = s;
                } else
                        m->services = s;
                tail = s;
        }
        free(defs);

        if (m->load_errors.n > 0)
                log_warning("serving %zu app service(s); %zu definition file(s) do not load (the lines above; "
                            "'appservicectl status' lists them)", hashmap_size(m->services_by_name), m->load_errors.n);
        else
                log_info("serving %zu app service(s)", hashmap_size(m->services_by_name));
        return 0;
}

Service *manager_find_service(Manager *m, const char *name) {
        return hashmap_get(m->services_by_name, name);
}

uint64_t manager_now_usec(Manager *m) {
        uint64_t t = 0;

        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        return t;
}

Connection *manager_find_connection(Manager *m, uint64_t id) {
        return hashmap_get(m->connections, &id);
}

Service *manager_find_bridge(Manager *m) {
        Service *bridge = NULL;

        LIST_FOREACH(services, s, m->services)
                if (s->definition->bridge && (!bridge || strcmp(s->definition->name, bridge->definition->name) < 0))
                        bridge = s;
        return bridge;
}

Service *manager_bridge_of(Manager *m, const char *sender) {
        if (!sender)
                return NULL;
        LIST_FOREACH(services, s, m->services)
                if (s->definition->bridge && s->provider && streq(s->provider->name, sender))
                        return s;
        return NULL;
}

void manager_set_state(Manager *m, ManagerState state) {
        if (m->state == state)
                return;
        m->state = state;
        log_info("node state: %s", manager_state_to_string(state));
        manager_emit_state_changed(m);
        monitor_emit(m, "state", "s", "state", manager_state_to_string(state));
        manager_send_state_update(m);
}

static bool manager_is_idle(Manager *m) {
        if (hashmap_size(m->connections) > 0 || m->authorizations)
                return false;
        LIST_FOREACH(services, s, m->services)
                if (s->provider || s->waiters || s->state == SERVICE_ACTIVATING || s->restart_timer ||
                    service_is_stopping(s))
                        return false;  /* a restart or the end of a stop is still to come */
        return true;
}

static int on_name_released(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;
        int r;

        m->release_name_slot = sd_bus_slot_unref(m->release_name_slot);
        if (manager_is_idle(m)) {
                log_info("idle for %g s, exiting", (double) m->exit_on_idle_usec / USEC_PER_SEC);
                return sd_event_exit(m->event, 0);
        }

        /* Somebody came in while the name was being released: take it back and carry on. */
        log_debug("work arrived while exiting on idle, staying");
        m->idle_timer = sd_event_source_disable_unref(m->idle_timer);
        r = sd_bus_request_name_async(m->bus, NULL, APPSERVICE_BUS_NAME, 0, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "failed to take back %s: %m", APPSERVICE_BUS_NAME);
        return 0;
}

static int on_idle_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r;

        /* Release the name first and exit when the bus confirms: calls that were already on
         * their way to us are still answered. */
        r = sd_bus_call_method_async(m->bus, &m->release_name_slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "ReleaseName", on_name_released, m, "s",
                                     APPSERVICE_BUS_NAME);
        if (r < 0) {
                log_warning_errno(r, "failed to release %s, exiting anyway: %m", APPSERVICE_BUS_NAME);
                return sd_event_exit(m->event, 0);
        }
        return 0;
}

static int on_idle_check(sd_event_source *source, void *userdata) {
        Manager *m = userdata;
        bool idle;
        int r;

        if (m->release_name_slot || m->state == MANAGER_STOPPING)
                return 0;

        idle = manager_is_idle(m);
        if (!idle) {
                m->idle_timer = sd_event_source_disable_unref(m->idle_timer);
                return 0;
        }
        if (m->idle_timer)
                return 0;
        r = sd_event_add_time_relative(m->event, &m->idle_timer, CLOCK_MONOTONIC, m->exit_on_idle_usec, 1000,
                                       on_idle_timeout, m);
        if (r < 0)
                log_warning_errno(r, "failed to arm the idle timer, ignoring: %m");
        return 0;
}

/* After every event: arm or cancel idle timers, and leave "starting" once AutoStart= settled. */
static int on_lifecycle_check(sd_event_source *source, void *userdata) {
        Manager *m = userdata;
        bool pending = false;

        if (m->state == MANAGER_STOPPING)
                return 0;
        LIST_FOREACH(services, s, m->services) {
                pending = pending || s->auto_start_pending;
                service_update_idle_timer(s);
        }
        if (m->state == MANAGER_STARTING && m->lifecycle_started && !pending)
                manager_set_state(m, MANAGER_RUNNING);
        return 0;
}

/* The AutoStart=yes providers; the node is "running" once each registered or failed. */
int manager_start_providers(Manager *m) {
        int r;

        r = sd_event_add_post(m->event, &m->lifecycle_check, on_lifecycle_check, m);
        if (r < 0)
                return log_error_errno(r, "failed to set up the provider lifecycle: %m");

        LIST_FOREACH(services, s, m->services)
                s->auto_start_pending = service_wants_auto_start(s);
        LIST_FOREACH(services, s, m->services)
                if (s->auto_start_pending) {
                        log_info("app service '%s': starting the provider (AutoStart=yes)", s->definition->name);
                        (void) service_start(s, START_AUTO);
                }
        m->lifecycle_started = true;
        return on_lifecycle_check(m->lifecycle_check, m);
}

void manager_shutdown(Manager *m) {
        if (m->state == MANAGER_STOPPING)
                return;
        log_info("shutting down");
        manager_set_state(m, MANAGER_STOPPING);  /* StateUpdate goes out before ServiceClosed */
        reload_done(m);
        authorize_cancel_all(m);
        LIST_FOREACH(services, s, m->services)
                service_lifecycle_shutdown(s);

        LIST_FOREACH(services, s, m->services) {
                service_stop_activation(s);
                service_fail_waiters(s, APPSERVICE_ERROR_APP_UNAVAILABLE,
                                     "app service '%s': appserviced is shutting down", s->definition->name);
        }
        while (hashmap_size(m->connections) > 0)
                connection_close(hashmap_first(m->connections),
                                 (1u << ENDPOINT_CLIENT) | (1u << ENDPOINT_PROVIDER), CLOSED_CANCELED);
        /* ServiceClosed goes out before SIGTERM, so that a provider can still read it. */
        (void) sd_bus_flush(m->bus);
        process_kill_all(m, SIGTERM);

        (void) sd_bus_release_name(m->bus, APPSERVICE_BUS_NAME);
        (void) sd_bus_flush(m->bus);
        (void) sd_event_exit(m->event, 0);
}

static int on_signal(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("received %s", strsignal(si->ssi_signo));
        manager_shutdown(m);
        return 0;
}

/* Messages handled per wake-up at most, when that many wait: under load, a loop iteration (and the
 * post sources after it) serves a batch instead of each message; the other sources wait for at
 * most that many. */
#define BUS_BATCH 32

/* Losing the bus leaves nothing to serve. It is a failure, not a clean exit, so that systemd's
 * Restart=on-failure brings the broker back (sd_bus_set_exit_on_disconnect() would exit 0). */
static int on_bus_disconnected(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;

        if (m->state == MANAGER_STOPPING)
                return sd_event_exit(m->event, 0);
        log_error("lost the connection to the %s bus, exiting", m->user_bus ? "session" : "system");
        return sd_event_exit(m->event, -ECONNRESET);
}

int manager_connect_bus(Manager *m) {
        int r;

        r = m->user_bus ? sd_bus_open_user(&m->bus) : sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "failed to connect to the %s bus: %m", m->user_bus ? "session" : "system");

        r = sd_bus_match_signal(m->bus, &m->disconnected_slot, NULL, "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_bus_disconnected, m);
        if (r < 0)
                return log_error_errno(r, "failed to watch the bus connection: %m");
        /* Before the name: no peer can call before its departure is watched. */
        r = watch_peers(m);
        if (r < 0)
                return log_error_errno(r, "failed to watch for peers leaving the bus: %m");

        r = manager_publish_objects(m);
        if (r < 0)
                return log_error_errno(r, "failed to publish the D-Bus objects: %m");

        r = sd_bus_request_name(m->bus, APPSERVICE_BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "failed to acquire the name %s: %m", APPSERVICE_BUS_NAME);

        r = bus_loop_attach(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL, BUS_BATCH, &m->bus_loop);
        if (r < 0)
                return log_error_errno(r, "failed to attach the bus to the event loop: %m");
        return 0;
}

int manager_run(Manager *m) {
        int r;

        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal, m);
        if (r < 0)
                return log_error_errno(r, "failed to watch for signals: %m");
        r = reload_setup(m);
        if (r < 0)
                return r;

        if (m->exit_on_idle_usec > 0) {
                r = sd_event_add_post(m->event, &m->idle_check, on_idle_check, m);
                if (r < 0)
                        return log_error_errno(r, "failed to set up exit on idle: %m");
                /* Idle from start-up on: D-Bus activation may have started us for nothing. */
                (void) on_idle_check(m->idle_check, m);
        }

        /* "running" at once, or once every AutoStart= provider registered or failed. */
        r = manager_start_providers(m);
        if (r < 0)
                return r;
        (void) sd_notify(/* unset_environment= */ false, "READY=1\nSTATUS=Serving app services");
        log_info("appserviced %s running on the %s bus", APPSERVICE_VERSION, m->user_bus ? "session" : "system");

        r = sd_event_loop(m->event);
        if (r == -ECONNRESET)
                return r;  /* the bus is gone; logged already */
        if (r < 0)
                return log_error_errno(r, "event loop failed: %m");
        (void) sd_notify(false, "STOPPING=1");
        return r;
}
