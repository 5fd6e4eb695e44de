/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "connection.h"
#include "contract-check.h"
#include "errors.h"
#include "log.h"
#include "monitor.h"
#include "peer.h"
#include "quota.h"
#include "service.h"
#include "util.h"
#include "valueset.h"

/* The accept timer's slack: the client is told "within N s", so keep to it. */
#define TIMER_ACCURACY_USEC 1000

Peer *connection_peer(const Connection *c, Endpoint e) {
        return e == ENDPOINT_CLIENT ? c->client : c->provider;
}

Endpoint connection_endpoint_of(const Connection *c, const char *sender) {
        if (!sender)
                return ENDPOINT_NONE;
        /* Not the client's until the bridge accepted it: to the client it does not exist yet. */
        if (connection_is_waiting(c))
                return streq(c->provider->name, sender) ? ENDPOINT_PROVIDER : ENDPOINT_NONE;
        /* A peer that opened a connection to its own service counts as the client. */
        if (streq(c->client->name, sender))
                return ENDPOINT_CLIENT;
        if (streq(c->provider->name, sender))
                return ENDPOINT_PROVIDER;
        return ENDPOINT_NONE;
}

static void monitor_response_error(Connection *c, uint64_t request, uint64_t sent_usec, const char *error_name) {
        if (!monitor_is_active(c->manager))
                return;
        monitor_emit(c->manager, "response", "sotts", "service", c->service->definition->name,
                     "connection", c->path, "request", request,
                     "latency-usec", sent_usec ? monotonic_usec() - sent_usec : UINT64_C(0),
                     "error", error_name);
}

/* A request ends unanswered: the monitors see its response as the error. */
static void request_failing(void *userdata, const Request *req, const char *error_name) {
        Connection *c = userdata;

        monitor_response_error(c, req->id, req->sent_usec, error_name);
}

/* A one-shot is over once its one request is. */
static void request_timed_out(void *userdata) {
        Connection *c = userdata;

        if (c->one_shot)
                connection_close(c, 1u << ENDPOINT_PROVIDER, CLOSED_COMPLETED);
}

static const RequestListOps request_ops = {
        .failing = request_failing,
        .timed_out = request_timed_out,
};

static int append_caller(sd_bus_message *m, const void *userdata) {
        return identity_append(m, userdata);
}

/* Connection ids are drawn at random, not counted, so that a peer guessing at object paths learns
 * nothing about other users' connections: neither which are open (AccessDenied) nor how many
 * were ever made. 53 bits, so that JavaScript's numbers hold them exactly. The insecure pool is
 * enough for that and never blocks a broker started early in boot. */
#define CONNECTION_ID_MASK ((UINT64_C(1) << 53) - 1)

static uint64_t new_connection_id(Manager *m) {
        for (unsigned attempt = 0; attempt < 16; attempt++) {
                uint64_t id = 0;

                if (getrandom(&id, sizeof id, GRND_INSECURE) != (ssize_t) sizeof id &&
                    getrandom(&id, sizeof id, GRND_NONBLOCK) != (ssize_t) sizeof id)
                        break;
                id &= CONNECTION_ID_MASK;
                if (id != 0 && !hashmap_get(m->connections, &id))
                        return id;
        }
        /* No randomness at all: counted ids still work, only guessable. */
        do
                m->fallback_connection_id = (m->fallback_connection_id + 1) & CONNECTION_ID_MASK;
        while (m->fallback_connection_id == 0 || hashmap_get(m->connections, &m->fallback_connection_id));
        return m->fallback_connection_id;
}

/* Frees what a connection holds itself, once nothing points at it. */
static Connection *connection_free_unlinked(Connection *c) {
        if (!c)
                return NULL;
        assert(!connection_is_waiting(c));
        sd_event_source_disable_unref(c->accept_timer);
        request_list_done(&c->requests);
        identity_done(&c->caller);
        free(c->path);
        free(c);
        return NULL;
}
DEFINE_CLEANUP(Connection, connection_free_unlinked);

int connection_new(Service *s, Peer *client, Identity *caller, bool one_shot, bool direct, Connection **ret) {
        Manager *m = s->manager;
        _cleanup_(connection_free_unlinkedp) Connection *c = NULL;
        char *path;
        int r;

        c = calloc(1, sizeof(Connection));
        if (!c)
                return -ENOMEM;
        *c = (Connection) {
                .manager = m,
                .id = new_connection_id(m),
                .service = s,
                .client = client,
                .provider = s->provider,
                .one_shot = one_shot,
                .direct = direct,
        };
        if (asprintf(&path, APPSERVICE_CONNECTION_PREFIX "/%" PRIu64, c->id) < 0)
                return -ENOMEM;
        c->path = path;
        r = request_list_init(&c->requests, &m->request_clock, m, s->definition->name, c->id);
        if (r < 0)
                return r;
        c->requests.loopback = client == c->provider;
        c->requests.ops = &request_ops;
        c->requests.userdata = c;
        r = quota_ref_service_peer(m, s->definition->name, client->name, client->uid);
        if (r < 0)
                return r;
        r = hashmap_put(m->connections, &c->id, c);
        if (r < 0) {
                quota_unref_service_peer(m, s->definition->name, client->name);
                return r;
        }

        c->caller = *caller;  /* takes the identity */
        *caller = (Identity) {};
        LIST_PREPEND(service, s->connections, c);
        s->n_connections++;
        LIST_PREPEND(client, client->client_connections, c);
        LIST_PREPEND(provider, c->provider->provider_connections, c);

        log_debug("app service '%s': connection %" PRIu64 " opened by %s (uid " UID_FMT ")%s%s",
                  s->definition->name, c->id, client->name, c->caller.uid, one_shot ? ", one-shot" : "",
                  direct ? ", direct link" : "");
        monitor_emit(m, "connection-opened", "so@b", "service", s->definition->name, "connection", c->path,
                     "caller", append_caller, &c->caller, "direct", (int) direct);
        *ret = TAKE_PTR(c);
        return 0;
}

/* Why a request from `waiting` ends unanswered: the other endpoint left the bus (for a provider
 * whose process we saw die first, crashed), or the connection closed. */
static const char *close_reason(const Connection *c, Endpoint waiting) {
        const Service *s = c->service;

        if (waiting == ENDPOINT_CLIENT && c->provider->vanishing)
                return s->run_ended && s->run_failed ? "the provider crashed" : "the provider left the bus";
        if (waiting == ENDPOINT_PROVIDER && c->client->vanishing)
                return "the client left the bus";
        return "the connection closed";
}

/* Ends a waiting open with an error for its client: the connection was never the client's. */
static void fail_waiting_open(Connection *c, const char *error_name, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
static void fail_waiting_open(Connection *c, const char *error_name, const char *format, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        va_list ap;

        va_start(ap, format);
        (void) sd_bus_error_setfv(&error, error_name, format, ap);
        va_end(ap);
        c->accept_timer = sd_event_source_disable_unref(c->accept_timer);
        completion_fail(&c->accepting, &error);
}

/* Why a waiting open ends without the bridge's answer. */
static const char *waiting_close_reason(const Connection *c) {
        if (c->provider->vanishing)
                return "the bridge left the bus";
        if (c->client->vanishing)
                return "the client left the bus";
        if (c->manager->state == MANAGER_STOPPING)
                return "appserviced is shutting down";
        return "the bridge closed the connection or stopped serving";
}

void connection_close(Connection *c, unsigned notify, uint32_t status) {
        Manager *m = c->manager;
        Service *s = c->service;
        Peer *client = c->client, *provider = c->provider;
        const char *reasons[_ENDPOINT_MAX];

        /* A waiting open's client gets its OpenConnection's error instead of ServiceClosed. */
        if (connection_is_waiting(c)) {
                fail_waiting_open(c, APPSERVICE_ERROR_APP_UNAVAILABLE, "node '%s': the open ended before the bridge "
                                  "accepted it (%s)", c->caller.target->node, waiting_close_reason(c));
                notify &= ~(1u << ENDPOINT_CLIENT);
        }

        /* ServiceClosed first, then the failed requests: a client that gets Closed for a request
         * has been told already that the connection is gone, and why (status). */
        for (Endpoint e = 0; e < _ENDPOINT_MAX; e++) {
                /* The caller of a one-shot SendMessage sees nothing but its reply. */
                if (!(notify & (1u << e)) || (c->one_shot && e == ENDPOINT_CLIENT))
                        continue;
                (void) connection_emit_service_closed(c, e, status);
        }

        for (Endpoint e = 0; e < _ENDPOINT_MAX; e++)
                reasons[e] = close_reason(c, e);
        request_list_close(&c->requests, reasons);

        log_debug("app service '%s': connection %" PRIu64 " closed (status %" PRIu32 ")",
                  s->definition->name, c->id, status);
        monitor_emit(m, "connection-closed", "sou", "service", s->definition->name, "connection", c->path,
                     "status", status);

        hashmap_remove(m->connections, &c->id);
        LIST_REMOVE(service, s->connections, c);
        s->n_connections--;
        LIST_REMOVE(client, client->client_connections, c);
        LIST_REMOVE(provider, provider->provider_connections, c);
        quota_unref_service_peer(m, s->definition->name, client->name);
        connection_free_unlinked(c);

        peer_release_if_unused(client);
        peer_release_if_unused(provider);
}

/* The contract's verdict on a message or an answer, as the error the sender gets. */
static int contract_error(const Connection *c, int r, const char *reason, sd_bus_error *error) {
        const Definition *d = c->service->definition;

        if (r != -EBADMSG || !reason)
                return r;
        return sd_bus_error_setf(error, APPSERVICE_ERROR_CONTRACT_VIOLATION, "app service '%s': contract %s: %s",
                                 d->name, d->contract->contract->name, reason);
}

/* A message on a service with a contract names an action of it, with that action's parameters
 * (contract-check.h); *ret_action is that action, NULL when there is no contract. */
static int check_request_contract(const Connection *c, Endpoint from, sd_bus_message *call,
                                  const ContractMember **ret_action, sd_bus_error *error) {
        const Definition *d = c->service->definition;
        _cleanup_(freep) char *reason = NULL;
        int r;

        *ret_action = NULL;
        if (!d->contract)
                return 0;
        r = contract_check_request(d->contract->contract, from == ENDPOINT_PROVIDER, call, ret_action, &reason);
        return r < 0 ? contract_error(c, r, reason, error) : 0;
}

static int send_message_checked(Connection *c, Endpoint from, sd_bus_message *call, const uint64_t *checked_size,
                                Completion *completion, sd_bus_error *error) {
        Manager *m = c->manager;
        const Definition *d = c->service->definition;
        _cleanup_(request_freep) Request *req = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *signal = NULL;
        uint64_t size, id = request_list_next_id(&c->requests);
        const ContractMember *action;
        int r;

        assert(completion_is_set(completion));

        /* RequestReceived takes the ValueSet as it is checked: it is read once, not once to check
         * and once to copy. The signal is thrown away if anything below refuses the message. */
        r = connection_new_request_received(c, from == ENDPOINT_CLIENT ? ENDPOINT_PROVIDER : ENDPOINT_CLIENT, id,
                                            &signal);
        if (r < 0)
                return r;
        r = valueset_seek(call);
        if (r < 0)
                return r;
        if (checked_size) {
                size = *checked_size;
                r = valueset_copy(signal, call);
        } else
                r = valueset_check_copy_for(call, signal, d->name, d->max_message_size, &size, error);
        if (r < 0)
                return r;

        if (connection_is_waiting(c))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_UNKNOWN_REQUEST,
                                         "connection %" PRIu64 " is waiting to be accepted: call Accept before "
                                         "sending on it", c->id);

        if (c->one_shot && from == ENDPOINT_PROVIDER)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_CLOSED,
                                         "app service '%s': connection %" PRIu64 " is a one-shot SendMessage, "
                                         "its caller does not take requests", d->name, c->id);

        r = check_request_contract(c, from, call, &action, error);
        if (r < 0)
                return r;

        /* MaxPendingRequests, the quota, the timer (request.c). */
        r = request_new(&c->requests, d, from, connection_peer(c, from)->uid, size, &req, error);
        if (r < 0)
                return r;
        assert(req->id == id);
        if (action) {
                req->contract = service_contract_ref(d->contract);
                req->action = action;
        }
        r = connection_emit_request_received(c, signal);
        if (r < 0)
                return r;

        request_start(req, completion);
        if (monitor_is_active(m))
                monitor_emit(m, "request", "sotsu", "service", d->name, "connection", c->path, "request", req->id,
                             "from", endpoint_to_string(from), "size", (uint32_t) size);
        TAKE_PTR(req);
        return 0;
}

int connection_send_message(Connection *c, Endpoint from, sd_bus_message *call, const uint64_t *checked_size,
                            Completion *completion) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = send_message_checked(c, from, call, checked_size, completion, &error);
        if (r >= 0)
                return 0;
        if (!sd_bus_error_is_set(&error))
                sd_bus_error_set_errnof(&error, r, "app service '%s': failed to relay the message: %m",
                                        c->service->definition->name);
        /* A refusal is the end of a would-be request too (request id 0: none was made). */
        monitor_response_error(c, 0, 0, error.name);
        completion_fail(completion, &error);
        return 0;
}

/* The request `id` pending for endpoint `from`, or UnknownRequest. */
static int find_pending(Connection *c, Endpoint from, uint64_t id, Request **ret_req, sd_bus_error *error) {
        *ret_req = request_list_find(&c->requests, from, id);
        if (!*ret_req)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_UNKNOWN_REQUEST,
                                         "app service '%s': request %" PRIu64 " on connection %" PRIu64
                                         " is not pending for you (never sent to you, answered, timed out or closed)",
                                         c->service->definition->name, id, c->id);
        return 0;
}

/* An answer that breaks the contract reaches neither side as a value: the responder gets
 * ContractViolation, and so does the requester, whose request ends with it. */
static int check_response_contract(Connection *c, Request *req, sd_bus_message *m, sd_bus_error *error) {
        _cleanup_(freep) char *reason = NULL;
        int r;

        r = contract_check_response(req->contract->contract, req->action, m, &reason);
        if (r >= 0)
                return 0;
        r = contract_error(c, r, reason, error);
        if (!sd_bus_error_is_set(error))
                return r;
        request_fail(req, APPSERVICE_ERROR_CONTRACT_VIOLATION, "%s", error->message);
        if (c->one_shot)
                connection_close(c, 1u << ENDPOINT_PROVIDER, CLOSED_COMPLETED);
        return r;
}

int connection_send_response(Connection *c, Endpoint from, sd_bus_message *m, sd_bus_error *error) {
        const Definition *d = c->service->definition;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Request *req;
        uint64_t id, size = 0;
        int r;

        r = sd_bus_message_read(m, "t", &id);
        if (r < 0)
                return r;

        r = find_pending(c, from, id, &req, error);
        if (r < 0)
                return r;

        /* The requester's reply, when it takes one (SendMessage's): the ValueSet is checked while it
         * is copied into it, one pass. A refused answer leaves the request pending: the responder
         * may answer again. */
        r = completion_new_reply(&req->completion, &reply);
        if (r < 0)
                return r;
        r = valueset_check_copy_for(m, reply, d->name, d->max_message_size, &size, error);
        if (r < 0)
                return r;
        if (req->action) {
                r = check_response_contract(c, req, m, error);
                if (r < 0)
                        return r;
        }

        if (monitor_is_active(c->manager))
                monitor_emit(c->manager, "response", "sottu", "service", d->name, "connection", c->path,
                             "request", id, "latency-usec", monotonic_usec() - req->sent_usec,
                             "size", (uint32_t) size);

        if (reply)
                request_replied(req, reply);
        else
                request_answered(req, m);
        if (c->one_shot)
                connection_close(c, 1u << ENDPOINT_PROVIDER, CLOSED_COMPLETED);
        return 0;
}

/* The errors a bridge may hand on. Refuse: an open can end in these on the other node, as a local
 * open would. */
static const char *const refusals[] = {
        APPSERVICE_ERROR_APP_SERVICE_UNAVAILABLE,
        APPSERVICE_ERROR_APP_NOT_INSTALLED,
        APPSERVICE_ERROR_APP_UNAVAILABLE,
        APPSERVICE_ERROR_NOT_AUTHORIZED,
        APPSERVICE_ERROR_DISABLED_BY_POLICY,
        APPSERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED,
};

/* FailRequest: a request can end in these on the other node (or in the bridge itself: a full
 * spool). */
static const char *const failures[] = {
        APPSERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE,
        APPSERVICE_ERROR_INVALID_MESSAGE,
        APPSERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED,
        APPSERVICE_ERROR_TIMEOUT,
        APPSERVICE_ERROR_CLOSED,
        APPSERVICE_ERROR_APP_UNAVAILABLE,
        APPSERVICE_ERROR_NOT_AUTHORIZED,
        APPSERVICE_ERROR_CONTRACT_VIOLATION,    /* the other node's broker checked the contract */
};

static bool name_in(const char *name, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (streq(name, list[i]))
                        return true;
        return false;
}

static bool refusal_is_valid(const char *error_name) {
        return name_in(error_name, refusals, ELEMENTSOF(refusals));
}

static bool failure_is_valid(const char *error_name) {
        return name_in(error_name, failures, ELEMENTSOF(failures));
}

static int check_bridge_message(const Connection *c, const char *what, const char *error_name, bool valid,
                                const char *message, sd_bus_error *error) {
        if (!valid)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "connection %" PRIu64 ": '%.255s' is not an error %s may give", c->id,
                                         error_name, what);
        if (strlen(message) > CONNECTION_BRIDGE_MESSAGE_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "connection %" PRIu64 ": the message of %s is %zu bytes long, more than %u",
                                         c->id, what, strlen(message), CONNECTION_BRIDGE_MESSAGE_MAX);
        return 0;
}

static int on_accept_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        Connection *c = userdata;
        const Definition *d = c->service->definition;

        log_info("app service '%s': connection %" PRIu64 " to node '%s' not accepted within %g s, closing",
                 d->name, c->id, c->caller.target->node, (double) d->request_timeout_usec / 1e6);
        fail_waiting_open(c, APPSERVICE_ERROR_APP_UNAVAILABLE, "node '%s' did not answer within %g s",
                          c->caller.target->node, (double) d->request_timeout_usec / 1e6);
        connection_close(c, 1u << ENDPOINT_PROVIDER, CLOSED_CANCELED);
        return 0;
}

void connection_wait_for_accept(Connection *c, Completion *done) {
        int r;

        assert(c->caller.target);
        assert(completion_is_set(done));

        completion_move(&c->accepting, done);
        r = sd_event_add_time_relative(c->manager->event, &c->accept_timer, CLOCK_MONOTONIC,
                                       c->service->definition->request_timeout_usec, TIMER_ACCURACY_USEC,
                                       on_accept_timeout, c);
        if (r < 0) {
                /* Unbounded waiting is not an option: give up now. */
                fail_waiting_open(c, APPSERVICE_ERROR_APP_UNAVAILABLE, "node '%s': cannot wait for the bridge: %s",
                                  c->caller.target->node, strerror(-r));
                connection_close(c, 1u << ENDPOINT_PROVIDER, CLOSED_CANCELED);
        }
}

static int not_waiting(const Connection *c, sd_bus_error *error) {
        return sd_bus_error_setf(error, APPSERVICE_ERROR_UNKNOWN_REQUEST,
                                 "connection %" PRIu64 " is not waiting to be accepted", c->id);
}

int connection_accept(Connection *c, sd_bus_error *error) {
        Completion done;

        if (!connection_is_waiting(c))
                return not_waiting(c, error);

        log_debug("app service '%s': connection %" PRIu64 " to node '%s' accepted by the bridge",
                  c->service->definition->name, c->id, c->caller.target->node);
        c->accept_timer = sd_event_source_disable_unref(c->accept_timer);
        /* Taken first: from now on the client is an endpoint, before its reply is on its way. */
        completion_move(&done, &c->accepting);
        completion_opened(&done, c->path);
        return 0;
}

int connection_refuse(Connection *c, const char *error_name, const char *message, sd_bus_error *error) {
        int r;

        if (!connection_is_waiting(c))
                return not_waiting(c, error);
        r = check_bridge_message(c, "Refuse", error_name, refusal_is_valid(error_name), message, error);
        if (r < 0)
                return r;

        log_debug("app service '%s': connection %" PRIu64 " to node '%s' refused by the bridge: %s",
                  c->service->definition->name, c->id, c->caller.target->node, error_name);
        fail_waiting_open(c, error_name, "node '%s': %s", c->caller.target->node, message);
        connection_close(c, /* notify= */ 0, CLOSED_COMPLETED);
        return 0;
}

Endpoint connection_bridge_endpoint(const Connection *c) {
        if (c->service->definition->bridge)
                return ENDPOINT_PROVIDER;
        if (c->caller.remote)
                return ENDPOINT_CLIENT;
        return ENDPOINT_NONE;
}

int connection_fail_request(Connection *c, Endpoint from, uint64_t id, const char *error_name, const char *message,
                            sd_bus_error *error) {
        Request *req;
        int r;

        r = find_pending(c, from, id, &req, error);
        if (r < 0)
                return r;
        r = check_bridge_message(c, "FailRequest", error_name, failure_is_valid(error_name), message, error);
        if (r < 0)
                return r;

        /* The requester sees what failed elsewhere as it was said there. */
        request_fail(req, error_name, "%s", message);
        if (c->one_shot)
                connection_close(c, 1u << ENDPOINT_PROVIDER, CLOSED_COMPLETED);
        return 0;
}
