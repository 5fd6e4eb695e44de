/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "action.h"
#include "authorize.h"
#include "bus-util.h"
#include "completion-dbus.h"
#include "config.h"
#include "connection-dbus.h"
#include "connection.h"
#include "errors.h"
#include "log.h"
#include "manager-dbus.h"
#include "monitor.h"
#include "open.h"
#include "peer.h"
#include "reload.h"
#include "service-dbus.h"
#include "service.h"
#include "util.h"
#include "visibility.h"

/* The contract's answer to a name no definition declares, AppServiceUnavailable, saying why when
 * the file that would declare it exists but does not load. The name is the caller's, and may be
 * anything: cut to the longest valid one. */
static int manager_error_no_such_service(Manager *m, const char *name, sd_bus_error *error) {
        const DefinitionLoadError *e = definition_load_errors_find(&m->load_errors, name);

        if (e)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_APP_SERVICE_UNAVAILABLE,
                                         "no app service named '%s' is declared: %s does not load (%s)", name,
                                         e->path, e->message);
        return sd_bus_error_setf(error, APPSERVICE_ERROR_APP_SERVICE_UNAVAILABLE,
                                 "no app service named '%.255s' is declared", name);
}

/* An app service by name: AppServiceUnavailable when no definition declares it. */
static int lookup_service(Manager *m, const char *name, Service **ret, sd_bus_error *error) {
        *ret = manager_find_service(m, name);
        if (!*ret)
                return manager_error_no_such_service(m, name, error);
        return 0;
}

/* The call's first argument, an app service's name, looked up. The rest of the arguments are
 * left to read. */
static int read_service(Manager *m, sd_bus_message *message, const char **ret_name, Service **ret,
                        sd_bus_error *error) {
        const char *name;
        int r;

        *ret = NULL;
        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        if (ret_name)
                *ret_name = name;
        return lookup_service(m, name, ret, error);
}

/* What OpenConnection's options say; unknown keys are ignored, as the contract has it. */
typedef struct OpenOptions {
        const char *node;        /* "node" (s), NULL when not given; points into the call */
        bool has_remote;         /* "remote" was given, well-formed or not */
        RemoteCaller *remote;    /* ... and read */
} OpenOptions;

static void open_options_done(OpenOptions *o) {
        o->remote = remote_caller_free(o->remote);
}

static int read_open_option(sd_bus_message *message, const char *key, void *userdata, sd_bus_error *error) {
        OpenOptions *o = userdata;
        const char *contents;
        bool remote = streq(key, "remote");
        char type;
        int r;

        if ((remote && o->has_remote) || (!remote && o->node))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "option '%s' is given twice", key);
        if (remote)
                o->has_remote = true;
        r = sd_bus_message_peek_type(message, &type, &contents);
        if (r < 0)
                return r;
        if (type != SD_BUS_TYPE_VARIANT || !contents || !streq(contents, remote ? "a{sv}" : "s"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "option '%s' must be of type '%s', not '%.32s'",
                                         key, remote ? "a{sv}" : "s", strempty(contents));
        r = sd_bus_message_enter_container(message, SD_BUS_TYPE_VARIANT, contents);
        if (r < 0)
                return r;
        if (remote)
                r = remote_caller_read(message, "option 'remote'", &o->remote, error);
        else
                r = sd_bus_message_read(message, "s", &o->node);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(message);
}

/* Reads an options a{sv}: `known` is called for each key it names (positioned at the value's
 * variant), other keys are skipped, as the contract has it. */
typedef int (*OptionReader)(sd_bus_message *message, const char *key, void *userdata, sd_bus_error *error);

static bool key_in(const char *const *keys, const char *key) {
        for (; *keys; keys++)
                if (streq(*keys, key))
                        return true;
        return false;
}

static int read_options(sd_bus_message *message, const char *const *keys, OptionReader known, void *userdata,
                        sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(message, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(message, SD_BUS_TYPE_DICT_ENTRY, "sv")) > 0) {
                const char *key;

                r = sd_bus_message_read(message, "s", &key);
                if (r < 0)
                        return r;
                r = key_in(keys, key) ? known(message, key, userdata, error) : sd_bus_message_skip(message, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(message);
}

static int read_open_options(sd_bus_message *message, OpenOptions *o, sd_bus_error *error) {
        static const char *const keys[] = { "node", "remote", NULL };

        return read_options(message, keys, read_open_option, o, error);
}

/* OpenConnection with "node" naming another node: the bridge takes it (open.c). */
static int open_on_node(Manager *m, sd_bus_message *message, const char *node, const char *name,
                        const char *provider, sd_bus_error *error) {
        Completion done;
        int r;

        if (!node_name_is_valid(node))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "option 'node': '%.255s' is not a valid node name (1 to 255 letters, digits, "
                                         "'.', '-' or '_')", node);
        done = completion_for_call(message);
        r = node_handle_open(m, message, node, name, provider, &done, error);
        completion_for_call_drop(&done);  /* refused before the open took it */
        return r;
}

static int method_open_connection(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(open_options_done) OpenOptions o = {};
        Manager *m = userdata;
        const char *name, *provider;
        Completion done;
        Service *s;
        int r;

        r = sd_bus_message_read(message, "ss", &name, &provider);
        if (r < 0)
                return r;
        r = read_open_options(message, &o, error);
        /* Only a bridge speaks for remote callers; anyone else learns nothing more, not even
         * what was wrong with what it said. */
        if (o.has_remote && !manager_bridge_of(m, sd_bus_message_get_sender(message))) {
                sd_bus_error_free(error);
                return sd_bus_error_set(error, APPSERVICE_ERROR_NOT_AUTHORIZED,
                                        "only a bridge may open for a remote caller");
        }
        if (r < 0)
                return r;
        if (o.has_remote && o.node)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "the options 'remote' and 'node' cannot be given together");
        /* "" or this node's own name: an ordinary open here. */
        if (o.node && *o.node && !streq(o.node, m->node_name))
                return open_on_node(m, message, o.node, name, provider, error);

        r = lookup_service(m, name, &s, error);
        if (r < 0)
                return r;
        done = completion_for_call(message);
        if (o.remote)
                r = service_handle_remote_open(s, message, provider, &o.remote, &done, error);
        else
                r = service_handle_open(s, message, provider, /* one_shot= */ false, &done, error);
        completion_for_call_drop(&done);  /* refused before the open took it */
        return r;
}

static void submit_action_done(const Action *a, sd_bus_message *call) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const sd_bus_error *refusal = action_get_refusal(a);
        int r;

        if (refusal)
                r = sd_bus_reply_method_error(call, refusal);
        else {
                r = sd_bus_message_new_method_return(call, &reply);
                if (r >= 0)
                        r = action_append_outcome(a, reply);
                if (r >= 0)
                        r = sd_bus_send(NULL, reply, NULL);
                else
                        r = sd_bus_reply_method_errnof(call, r, "cannot build the answer of SubmitAction: %m");
        }
        if (r < 0)
                log_debug_errno(r, "failed to answer SubmitAction, ignoring: %m");
}

static int method_submit_action(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        const char *destination, *action;
        Manager *m = userdata;
        Service *single = NULL;
        int r;

        r = sd_bus_message_read(call, "ss", &destination, &action);
        if (r < 0)
                return r;
        r = action_check_arguments(m, call, action, error);
        if (r < 0)
                return r;
        if (!streq(destination, "*")) {
                r = lookup_service(m, destination, &single, error);
                if (r < 0)
                        return r;
        }
        return action_submit(m, call, action, single, /* remote= */ NULL, submit_action_done, error);
}

/* SubmitAction for one caller elsewhere, from a bridge: one destination, the remote checks. */
static int method_submit_remote_action(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        _cleanup_(remote_caller_freep) RemoteCaller *remote = NULL;
        const char *destination, *action;
        Manager *m = userdata;
        Service *single;
        int r;

        r = sd_bus_message_read(call, "ss", &destination, &action);
        if (r < 0)
                return r;
        if (!manager_bridge_of(m, sd_bus_message_get_sender(call)))
                return sd_bus_error_set(error, APPSERVICE_ERROR_NOT_AUTHORIZED,
                                        "only a bridge may submit an action for a remote caller");
        if (streq(destination, "*"))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "a remote action goes to one app service, not to every one (\"*\")");
        r = action_check_arguments(m, call, action, error);
        if (r < 0)
                return r;
        /* action_check_arguments() left the call right after the message: "remote" is next. */
        r = remote_caller_read(call, "argument 'remote'", &remote, error);
        if (r < 0)
                return r;
        r = lookup_service(m, destination, &single, error);
        if (r < 0)
                return r;
        return action_submit(m, call, action, single, &remote, submit_action_done, error);
}

static int method_list_services(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(identity_done) Identity caller = {};
        Manager *m = userdata;
        int r;

        r = identity_from_message(message, &caller);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "cannot tell who is calling: %m");

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssssbo)");
        if (r < 0)
                return r;
        LIST_FOREACH(services, s, m->services) {
                const Definition *d = s->definition;
                const char *state = service_may_watch(s, sd_bus_message_get_sender(message), &caller) ?
                        service_state_to_string(service_get_state(s)) : SERVICE_HIDDEN_STATE;

                r = sd_bus_message_append(reply, "(ssssbo)", d->name, d->provider, strempty(d->description),
                                          state, service_may_open(s, &caller), s->path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return handled(sd_bus_send(NULL, reply, NULL));
}

static int append_strings(sd_bus_message *reply, const char *key, const DefinitionProperty *p, size_t n) {
        int r;

        r = sd_bus_message_open_container(reply, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'v', "a{sv}");
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(reply, "{sv}", p[i].key, "s", p[i].value);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

static int reply_registration(sd_bus_message *message, Service *s) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const Definition *d = s->definition;
        const DefinitionProperty settings[] = {
                { .key = (char *) "node-name", .value = s->manager->node_name },
                { .key = (char *) "version", .value = (char *) APPSERVICE_VERSION },
                { .key = (char *) "state", .value = (char *) manager_state_to_string(s->manager->state) },
        };
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "o", s->path);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = append_strings(reply, "properties", d->properties, d->n_properties);
        if (r >= 0)
                r = append_strings(reply, "secrets", d->secrets, d->n_secrets);
        if (r >= 0)
                r = append_strings(reply, "settings", settings, ELEMENTSOF(settings));
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0 && d->n_secrets > 0)
                r = sd_bus_message_sensitive(reply);  /* keep secrets out of dumps */
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* RegisterProvider's option "direct-links" (b). */
static int read_direct_links(sd_bus_message *message, const char *key, void *userdata, sd_bus_error *error) {
        bool *ret = userdata;
        const char *contents;
        char type;
        int value, r;

        r = sd_bus_message_peek_type(message, &type, &contents);
        if (r < 0)
                return r;
        if (!contents || !streq(contents, "b"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "option '%s' must be of type 'b', not '%.32s'",
                                         key, strempty(contents));
        r = sd_bus_message_read(message, "v", "b", &value);
        if (r < 0)
                return r;
        *ret = value;
        return 0;
}

static int read_register_options(sd_bus_message *message, bool *ret_direct_links, sd_bus_error *error) {
        static const char *const keys[] = { "direct-links", NULL };

        *ret_direct_links = false;
        return read_options(message, keys, read_direct_links, ret_direct_links, error);
}

static int method_register_provider(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(identity_done) Identity caller = {};
        Manager *m = userdata;
        const char *name;
        Service *s;
        Peer *peer;
        uid_t allowed;
        bool direct_links;
        int r;

        r = read_service(m, message, &name, &s, error);
        if (r < 0)
                return r;
        r = read_register_options(message, &direct_links, error);
        if (r < 0)
                return r;

        r = identity_from_message(message, &caller);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "app service '%s': cannot tell who is calling: %m", name);
        allowed = s->definition->has_user ? s->definition->uid : geteuid();
        if (caller.uid != 0 && caller.uid != allowed)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_NOT_AUTHORIZED,
                                         "app service '%s' may only be registered by uid " UID_FMT " or root, not uid "
                                         UID_FMT, name, allowed, caller.uid);
        if (s->provider)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_ALREADY_REGISTERED,
                                         "app service '%s' is already served by %s", name, s->provider->name);

        r = peer_acquire(m, sd_bus_message_get_sender(message), caller.uid, &peer, error);
        if (r < 0)
                return sd_bus_error_is_set(error) ? r :
                        sd_bus_error_set_errnof(error, r, "app service '%s': cannot track the provider: %m", name);

        /* The reply goes out before the first ConnectionOpened of waiting opens. */
        r = reply_registration(message, s);
        if (r < 0) {
                peer_release_if_unused(peer);
                return r;
        }
        s->provider_pid = caller.pid;  /* tells whether it is the process the broker started */
        s->provider_direct_links = direct_links;
        return handled(service_register_provider(s, peer));
}

static int method_unregister_provider(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name;
        Service *s;
        int r;

        r = read_service(m, message, &name, &s, error);
        if (r < 0)
                return r;
        if (!s->provider || !streq(s->provider->name, sd_bus_message_get_sender(message)))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_NOT_AUTHORIZED,
                                         "app service '%s' is not served by you", name);

        log_info("app service '%s': provider %s unregistered", name, s->provider->name);
        service_unregister_provider(s, CLOSED_COMPLETED);
        return handled(sd_bus_reply_method_return(message, NULL));
}

/* The administrative methods ask polkit as hostnamed does: authorize_admin() returns 0 when it
 * asked, the handler returns, and runs again with the same call once polkit said yes. Each
 * handler takes that yes first (authorize_resume()), before anything can fail: a call whose
 * service a reload removed meanwhile must not leave it behind. */
#define AUTHORIZE_OR_RETURN(m, call, resumed, what, error)                      \
        do {                                                                    \
                int _r = (resumed) ? 1 : authorize_admin((m), (call), (what), (error)); \
                if (_r <= 0)                                                    \
                        return _r < 0 ? _r : 1;                                 \
        } while (0)

static int method_set_service_enabled(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(freep) char *what = NULL;
        Manager *m = userdata;
        bool resumed = authorize_resume(m, message);
        const char *name;
        Service *s;
        int enabled, r;

        r = read_service(m, message, &name, &s, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(message, "b", &enabled);
        if (r < 0)
                return r;
        if (asprintf(&what, "%s app service '%s'", enabled ? "enable" : "disable", name) < 0)
                return -ENOMEM;
        AUTHORIZE_OR_RETURN(m, message, resumed, what, error);

        if (s->disabled != !enabled) {
                log_info("app service '%s': %s by %s", name, enabled ? "enabled" : "disabled",
                         sd_bus_message_get_sender(message));
                s->disabled = !enabled;
                service_emit_state_changed(s);
        }
        return sd_bus_reply_method_return(message, NULL);
}

static int method_reload(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        bool resumed = authorize_resume(m, message);
        int r;

        AUTHORIZE_OR_RETURN(m, message, resumed, "reload the definitions", error);
        r = manager_reload(m);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "cannot reload the app service definitions: %m");
        return sd_bus_reply_method_return(message, NULL);
}

typedef int (*AdminWork)(Service *s, Completion *done, sd_bus_error *error);

/* StartService, StopService, RestartService: the call waits as the work's completion. After
 * polkit the service is looked up again (polkit may have taken a while, and a reload may have
 * removed it). */
static int admin_method(sd_bus_message *message, Manager *m, const char *what, AdminWork work,
                        sd_bus_error *error) {
        bool resumed = authorize_resume(m, message);
        Completion done;
        Service *s;
        int r;

        r = read_service(m, message, NULL, &s, error);
        if (r < 0)
                return r;
        AUTHORIZE_OR_RETURN(m, message, resumed, what, error);

        done = completion_for_call(message);
        r = work(s, &done, error);
        completion_for_call_drop(&done);  /* refused: not taken */
        return r < 0 ? r : 1;
}

static int method_start_service(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return admin_method(message, userdata, "start app services", service_admin_start, error);
}

static int method_stop_service(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return admin_method(message, userdata, "stop app services", service_admin_stop, error);
}

static int method_restart_service(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return admin_method(message, userdata, "restart app services", service_admin_restart, error);
}

/* Options: none are defined yet, and unknown keys are ignored, so they are not read. */
static int method_start_monitoring(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        _cleanup_(identity_done) Identity caller = {};
        Manager *m = userdata;
        bool resumed = authorize_resume(m, call);
        Peer *p;
        int r;

        AUTHORIZE_OR_RETURN(m, call, resumed, "monitor the broker", error);
        r = identity_from_message(call, &caller);
        if (r >= 0)
                r = peer_acquire(m, sd_bus_message_get_sender(call), caller.uid, &p, error);
        if (r < 0)
                return sd_bus_error_is_set(error) ? r : sd_bus_error_set_errnof(error, r, "cannot track the caller: %m");
        monitor_start(p);
        return sd_bus_reply_method_return(call, NULL);
}

/* StopMonitoring and Unsubscribe: `stop` what the caller holds, if anything, and let the peer go
 * when that was all. */
static int stop_for_caller(Manager *m, sd_bus_message *call, void (*stop)(Peer *p)) {
        Peer *p = hashmap_get(m->peers, sd_bus_message_get_sender(call));

        if (p) {
                stop(p);
                peer_release_if_unused(p);
        }
        return handled(sd_bus_reply_method_return(call, NULL));
}

static int method_stop_monitoring(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        return stop_for_caller(userdata, call, monitor_stop);
}

static int method_subscribe(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        _cleanup_(identity_done) Identity caller = {};
        Manager *m = userdata;
        Peer *p;
        int r;

        p = hashmap_get(m->peers, sd_bus_message_get_sender(call));
        if (p && p->subscribed)
                return handled(sd_bus_reply_method_return(call, NULL));

        r = identity_from_message(call, &caller);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "cannot tell who is calling: %m");
        r = subscription_check(m, caller.uid, error);
        if (r < 0)
                return r;
        r = peer_acquire(m, sd_bus_message_get_sender(call), caller.uid, &p, error);
        if (r < 0)
                return sd_bus_error_is_set(error) ? r : sd_bus_error_set_errnof(error, r, "cannot track the caller: %m");
        subscription_start(p, &caller);
        return handled(sd_bus_reply_method_return(call, NULL));
}

static int method_unsubscribe(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        return stop_for_caller(userdata, call, subscription_stop);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", APPSERVICE_VERSION);
}

static int property_get_node_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", m->node_name);
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", manager_state_to_string(m->state));
}

void manager_emit_state_changed(Manager *m) {
        int r;

        if (!m->bus)
                return;
        r = sd_bus_emit_properties_changed(m->bus, APPSERVICE_MANAGER_PATH, APPSERVICE_MANAGER_IFACE, "State", NULL);
        if (r < 0)
                log_debug_errno(r, "failed to emit PropertiesChanged for State, ignoring: %m");
}

/* LoadErrors: (path, what is wrong) of each definition file that did not load. */
static int property_get_load_errors(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ss)");
        for (size_t i = 0; r >= 0 && i < m->load_errors.n; i++)
                r = sd_bus_message_append(reply, "(ss)", m->load_errors.errors[i].path,
                                          m->load_errors.errors[i].message);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

void manager_emit_load_errors_changed(Manager *m) {
        int r;

        if (!m->bus)
                return;
        r = sd_bus_emit_properties_changed(m->bus, APPSERVICE_MANAGER_PATH, APPSERVICE_MANAGER_IFACE, "LoadErrors",
                                           NULL);
        if (r < 0)
                log_debug_errno(r, "failed to emit PropertiesChanged for LoadErrors, ignoring: %m");
}

static int send_state_update(Manager *m, Peer *p) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *signal = NULL;
        int r;

        r = bus_new_unicast_signal(m->bus, p->name, APPSERVICE_MANAGER_PATH, APPSERVICE_MANAGER_IFACE, "StateUpdate",
                                       &signal);
        if (r >= 0)
                r = sd_bus_message_append(signal, "a{sv}", 3, "state", "s", manager_state_to_string(m->state),
                                          "node-name", "s", m->node_name, "version", "s", APPSERVICE_VERSION);
        if (r >= 0)
                r = sd_bus_send(m->bus, signal, NULL);
        return r;
}

/* StateUpdate, unicast to each registered provider. */
void manager_send_state_update(Manager *m) {
        size_t i = 0;
        void *v;

        if (!m->bus)
                return;
        /* A peer is registered for n_services services: one signal each, however many. */
        while (hashmap_iterate(m->peers, &i, &v)) {
                Peer *p = v;
                int r;

                if (p->n_services == 0 || p->vanishing)
                        continue;
                r = send_state_update(m, p);
                if (r < 0)
                        log_warning_errno(r, "failed to send StateUpdate to %s, ignoring: %m", p->name);
        }
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("NodeName", "s", property_get_node_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LoadErrors", "a(ss)", property_get_load_errors, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("OpenConnection",
                                SD_BUS_ARGS("s", name, "s", provider, "a{sv}", options),
                                SD_BUS_RESULT("o", connection),
                                method_open_connection, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenDirectConnection",
                                SD_BUS_ARGS("s", name, "s", provider, "a{sv}", options),
                                SD_BUS_RESULT("o", connection, "a{sv}", link),
                                method_open_connection, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListServices",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(ssssbo)", services),
                                method_list_services, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RegisterProvider",
                                SD_BUS_ARGS("s", name, "a{sv}", options),
                                SD_BUS_RESULT("o", service, "a{sv}", config),
                                method_register_provider, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("UnregisterProvider",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_NO_RESULT,
                                method_unregister_provider, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetServiceEnabled",
                                SD_BUS_ARGS("s", name, "b", enabled),
                                SD_BUS_NO_RESULT,
                                method_set_service_enabled, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SubmitAction",
                                SD_BUS_ARGS("s", destination, "s", action, "a{sv}", message),
                                SD_BUS_RESULT("a{sv}", responses, "a{ss}", failures),
                                method_submit_action, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SubmitRemoteAction",
                                SD_BUS_ARGS("s", destination, "s", action, "a{sv}", message, "a{sv}", remote),
                                SD_BUS_RESULT("a{sv}", responses, "a{ss}", failures),
                                method_submit_remote_action, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StartMonitoring",
                                SD_BUS_ARGS("a{sv}", options),
                                SD_BUS_NO_RESULT,
                                method_start_monitoring, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StopMonitoring",
                                SD_BUS_NO_ARGS,
                                SD_BUS_NO_RESULT,
                                method_stop_monitoring, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("MonitorEvent", SD_BUS_ARGS("s", type, "a{sv}", event), 0),
        SD_BUS_METHOD_WITH_ARGS("Subscribe",
                                SD_BUS_NO_ARGS,
                                SD_BUS_NO_RESULT,
                                method_subscribe, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Unsubscribe",
                                SD_BUS_NO_ARGS,
                                SD_BUS_NO_RESULT,
                                method_unsubscribe, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StartService",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_NO_RESULT,
                                method_start_service, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StopService",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_NO_RESULT,
                                method_stop_service, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RestartService",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_NO_RESULT,
                                method_restart_service, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("StateUpdate", SD_BUS_ARGS("a{sv}", state), 0),
        SD_BUS_METHOD_WITH_ARGS("Reload",
                                SD_BUS_NO_ARGS,
                                SD_BUS_NO_RESULT,
                                method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int manager_publish_objects(Manager *m) {
        int r;

        r = sd_bus_add_object_vtable(m->bus, &m->manager_slot, APPSERVICE_MANAGER_PATH, APPSERVICE_MANAGER_IFACE,
                                     manager_vtable, m);
        if (r < 0)
                return r;
        r = sd_bus_add_object_manager(m->bus, &m->object_manager_slot, APPSERVICE_MANAGER_PATH);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(m->bus, &m->service_slot, APPSERVICE_SERVICE_PREFIX, APPSERVICE_SERVICE_IFACE,
                                       service_vtable, service_object_find, m);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(m->bus, &m->service_enumerator_slot, APPSERVICE_SERVICE_PREFIX,
                                       service_node_enumerator, m);
        if (r < 0)
                return r;
        /* No enumerator for connections: the contract keeps them out of the ObjectManager. */
        return sd_bus_add_fallback_vtable(m->bus, &m->connection_slot, APPSERVICE_CONNECTION_PREFIX,
                                          APPSERVICE_CONNECTION_IFACE, connection_vtable, connection_object_find, m);
}
