/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus-util.h"
#include "completion-dbus.h"
#include "connection-dbus.h"
#include "connection.h"
#include "errors.h"
#include "fault.h"
#include "log.h"
#include "monitor.h"
#include "open.h"
#include "peer.h"
#include "service-dbus.h"
#include "util.h"
#include "visibility.h"

int service_object_path(const char *name, char **ret) {
        return sd_bus_path_encode(APPSERVICE_SERVICE_PREFIX, name, ret);
}

int service_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                        void **ret_found, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_(freep) char *name = NULL;
        Service *s;
        int r;

        r = sd_bus_path_decode(path, APPSERVICE_SERVICE_PREFIX, &name);
        if (r <= 0)
                return r;
        s = manager_find_service(m, name);
        if (!s)
                return 0;
        *ret_found = s;
        return 1;
}

int service_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes,
                            sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_(strv_freep) char **nodes = NULL;
        size_t n = 0;

        nodes = calloc(hashmap_size(m->services_by_name) + 1, sizeof(char *));
        if (!nodes)
                return -ENOMEM;
        LIST_FOREACH(services, s, m->services) {
                nodes[n] = strdup(s->path);
                if (!nodes[n])
                        return -ENOMEM;
                n++;
        }
        *ret_nodes = TAKE_PTR(nodes);
        return 0;
}

static int method_send_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Completion done = connection_call_completion(m);
        int r;

        r = service_handle_open(userdata, m, /* provider= */ NULL, /* one_shot= */ true, &done, error);
        completion_for_call_drop(&done);  /* refused before the open took it */
        return r;
}

static int method_log(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(identity_done) Identity caller = {};
        const char *level, *code, *message;
        Service *s = userdata;
        FaultLevel l;
        int r;

        r = sd_bus_message_read(m, "sss", &level, &code, &message);
        if (r < 0)
                return r;
        if (!s->provider || !streq(s->provider->name, sd_bus_message_get_sender(m)))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_NOT_AUTHORIZED,
                                         "app service '%s': only its registered provider may log for it",
                                         s->definition->name);
        r = fault_check(level, code, message, &l, error);
        if (r < 0)
                return r;
        /* Before the caller's credentials are fetched: a flood costs little. A dropped line is
         * still a success for the caller; the broker logs how many were dropped. */
        if (!fault_ratelimit_pass(s))
                return handled(sd_bus_reply_method_return(m, NULL));
        r = identity_from_message(m, &caller);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "app service '%s': cannot tell who is calling: %m",
                                               s->definition->name);

        fault_report(s, l, code, message, &caller);
        return handled(sd_bus_reply_method_return(m, NULL));
}

static int property_get_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Service *s = userdata;
        return sd_bus_message_append(reply, "s", s->definition->name);
}

static int property_get_provider(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Service *s = userdata;
        return sd_bus_message_append(reply, "s", s->definition->provider);
}

static int property_get_description(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Service *s = userdata;
        return sd_bus_message_append(reply, "s", strempty(s->definition->description));
}

static int property_get_max_message_size(sd_bus *bus, const char *path, const char *interface,
                                         const char *property, sd_bus_message *reply, void *userdata,
                                         sd_bus_error *error) {
        Service *s = userdata;
        return sd_bus_message_append(reply, "t", (uint64_t) s->definition->max_message_size);
}

static int property_get_contract(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Service *s = userdata;
        return sd_bus_message_append(reply, "s", strempty(s->definition->contract_name));
}

static int property_get_allow_http(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Service *s = userdata;
        return sd_bus_message_append(reply, "b", s->definition->allow_http);
}

/* The contract's text, as the broker read it and checks messages by: for those who may open the
 * service (the gateway reads it as the principal it serves). */
static int method_get_contract(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(identity_done) Identity caller = {};
        Service *s = userdata;
        int r;

        r = identity_from_message(m, &caller);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "app service '%s': cannot tell who is calling: %m",
                                               s->definition->name);
        if (!definition_allows_identity(s->definition, &caller))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_NOT_AUTHORIZED,
                                         "app service '%s': you may not open it, so not read its contract",
                                         s->definition->name);
        if (!s->definition->contract)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED, "app service '%s' has no contract",
                                         s->definition->name);
        return handled(sd_bus_reply_method_return(m, "s", s->definition->contract->text));
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Service *s = userdata;

        if (!service_current_caller_may_watch(s, bus))
                return sd_bus_message_append(reply, "s", SERVICE_HIDDEN_STATE);
        return sd_bus_message_append(reply, "s", service_state_to_string(service_get_state(s)));
}

static int property_get_activatable(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Service *s = userdata;
        return sd_bus_message_append(reply, "b", service_is_activatable(s));
}

static int property_get_connections(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Service *s = userdata;
        return sd_bus_message_append(reply, "u", service_current_caller_may_watch(s, bus) ? s->n_connections : 0);
}

static int property_get_n_restarts(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Service *s = userdata;
        return sd_bus_message_append(reply, "u", service_current_caller_may_watch(s, bus) ? s->n_restarts : 0);
}

/* PropertiesChanged for State with this value, addressed to one peer, or broadcast when
 * destination is NULL. */
static int send_state_changed(Service *s, const char *destination, const char *state) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *signal = NULL;
        int r;

        if (destination)
                r = bus_new_unicast_signal(s->manager->bus, destination, s->path, "org.freedesktop.DBus.Properties",
                                               "PropertiesChanged", &signal);
        else
                r = sd_bus_message_new_signal(s->manager->bus, &signal, s->path, "org.freedesktop.DBus.Properties",
                                              "PropertiesChanged");
        if (r >= 0)
                r = sd_bus_message_append(signal, "sa{sv}as", APPSERVICE_SERVICE_IFACE, 1, "State", "s", state, 0);
        if (r >= 0)
                r = sd_bus_send(s->manager->bus, signal, NULL);
        return r;
}

/* A private service's State, unicast to the subscribers that may see it and to its provider:
 * never broadcast, not even as an invalidation. */
static void send_private_state(Service *s) {
        const char *state = service_state_to_string(service_get_state(s));
        int r;

        LIST_FOREACH(subscribers, p, s->manager->subscribers) {
                if (!service_may_watch(s, p->name, &p->subscriber))
                        continue;
                r = send_state_changed(s, p->name, state);
                if (r < 0)
                        log_debug_errno(r, "app service '%s': failed to send PropertiesChanged to %s, ignoring: %m",
                                        s->definition->name, p->name);
        }
        if (s->provider && !s->provider->subscribed) {
                r = send_state_changed(s, s->provider->name, state);
                if (r < 0)
                        log_debug_errno(r, "app service '%s': failed to send PropertiesChanged to %s, ignoring: %m",
                                        s->definition->name, s->provider->name);
        }
}

static void broadcast_state(Service *s) {
        int r;

        r = sd_bus_emit_properties_changed(s->manager->bus, s->path, APPSERVICE_SERVICE_IFACE, "State", NULL);
        if (r < 0)
                log_debug_errno(r, "app service '%s': failed to emit PropertiesChanged, ignoring: %m",
                                s->definition->name);
}

void service_emit_state_changed(Service *s) {
        /* Here rather than in service_set_state(): enabling and disabling change State too. */
        monitor_emit(s->manager, "service-state", "ss", "service", s->definition->name,
                     "state", service_state_to_string(service_get_state(s)));
        if (!s->manager->bus)
                return;
        if (service_state_is_private(s))
                send_private_state(s);
        else
                broadcast_state(s);
}

void service_emit_watchers_changed(Service *s) {
        int r;

        if (!s->manager->bus)
                return;
        /* Everyone's view may have changed: its State goes to everyone when the service is public
         * now; when it is private now, "unknown" goes to everyone, then the real one to those who
         * may see it. */
        if (!service_state_is_private(s)) {
                broadcast_state(s);
                return;
        }
        r = send_state_changed(s, /* destination= */ NULL, SERVICE_HIDDEN_STATE);
        if (r < 0)
                log_debug_errno(r, "app service '%s': failed to emit PropertiesChanged, ignoring: %m",
                                s->definition->name);
        send_private_state(s);
}

int service_emit_connection_opened(Service *s, Connection *c, const LinkOffer *link) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *signal = NULL;
        const char *member = link ? "DirectConnectionOpened" : "ConnectionOpened";
        int r;

        r = bus_new_unicast_signal(s->manager->bus, c->provider->name, s->path, APPSERVICE_SERVICE_IFACE, member,
                                   &signal);
        if (r >= 0)
                r = sd_bus_message_append(signal, "o", c->path);
        if (r >= 0)
                r = identity_append(signal, &c->caller);
        if (r >= 0 && link)
                r = sd_bus_message_append(signal, "a{sv}", 4, "fd", "h", link->fd,
                                          "max-message-size", "t", link->max_message_size,
                                          "max-pending-requests", "u", link->max_pending_requests,
                                          "request-timeout-usec", "t", link->request_timeout_usec);
        if (r >= 0)
                r = sd_bus_send(s->manager->bus, signal, NULL);
        if (r < 0)
                log_warning_errno(r, "app service '%s': failed to send %s, ignoring: %m", s->definition->name,
                                  member);
        return r;
}

void service_emit_added(Service *s) {
        int r;

        if (!s->manager->bus)
                return;
        r = sd_bus_emit_object_added(s->manager->bus, s->path);
        if (r < 0)
                log_debug_errno(r, "app service '%s': failed to emit InterfacesAdded, ignoring: %m",
                                s->definition->name);
}

void service_emit_removed(Service *s) {
        int r;

        if (!s->manager->bus)
                return;
        r = sd_bus_emit_object_removed(s->manager->bus, s->path);
        if (r < 0)
                log_debug_errno(r, "app service '%s': failed to emit InterfacesRemoved, ignoring: %m",
                                s->definition->name);
}

void service_emit_properties_changed(Service *s, char **properties) {
        int r;

        if (!s->manager->bus || !properties || !properties[0])
                return;
        r = sd_bus_emit_properties_changed_strv(s->manager->bus, s->path, APPSERVICE_SERVICE_IFACE, properties);
        if (r < 0)
                log_debug_errno(r, "app service '%s': failed to emit PropertiesChanged, ignoring: %m",
                                s->definition->name);
}

int service_send_stop_requested(Service *s) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *signal = NULL;
        int r;

        assert(s->provider);
        assert(s->stop_reason);

        r = bus_new_unicast_signal(s->manager->bus, s->provider->name, s->path, APPSERVICE_SERVICE_IFACE,
                                   "StopRequested", &signal);
        if (r >= 0)
                r = sd_bus_message_append(signal, "a{sv}", 1, "reason", "s", s->stop_reason);
        if (r >= 0)
                r = sd_bus_send(s->manager->bus, signal, NULL);
        if (r < 0)
                log_warning_errno(r, "app service '%s': failed to send StopRequested, ignoring: %m",
                                  s->definition->name);
        return r;
}

const sd_bus_vtable service_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Provider", "s", property_get_provider, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Description", "s", property_get_description, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Activatable", "b", property_get_activatable, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Connections", "u", property_get_connections, 0, 0),
        SD_BUS_PROPERTY("NRestarts", "u", property_get_n_restarts, 0, 0),
        SD_BUS_PROPERTY("MaxMessageSize", "t", property_get_max_message_size, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Contract", "s", property_get_contract, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("AllowHTTP", "b", property_get_allow_http, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("GetContract",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("s", text),
                                method_get_contract, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SendMessage",
                                SD_BUS_ARGS("a{sv}", message),
                                SD_BUS_RESULT("a{sv}", response),
                                method_send_message, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Log",
                                SD_BUS_ARGS("s", level, "s", code, "s", message),
                                SD_BUS_NO_RESULT,
                                method_log, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("ConnectionOpened", SD_BUS_ARGS("o", connection, "a{sv}", caller), 0),
        SD_BUS_SIGNAL_WITH_ARGS("DirectConnectionOpened",
                                SD_BUS_ARGS("o", connection, "a{sv}", caller, "a{sv}", link), 0),
        SD_BUS_SIGNAL_WITH_ARGS("StopRequested", SD_BUS_ARGS("a{sv}", details), 0),
        SD_BUS_VTABLE_END
};
