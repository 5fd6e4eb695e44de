/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bus-util.h"
#include "completion-dbus.h"
#include "connection-dbus.h"
#include "errors.h"
#include "log.h"
#include "peer.h"
#include "service.h"
#include "util.h"
#include "valueset.h"

/* Handed to the vtable for ids that existed and are closed now, so that a late SendResponse gets
 * the contract's UnknownRequest rather than "no such object". */
static Connection closed_connection;

static bool is_closed(const Connection *c) {
        return c == &closed_connection;
}

static Endpoint sender_endpoint(const Connection *c, sd_bus_message *m) {
        return connection_endpoint_of(c, sd_bus_message_get_sender(m));
}

static Endpoint endpoint_other(Endpoint e) {
        return e == ENDPOINT_CLIENT ? ENDPOINT_PROVIDER : ENDPOINT_CLIENT;
}

/* Read by hand: strtoull() goes through glibc's locale-aware parser, some 400 instructions for
 * every call on a connection, more than the rest of the lookup. */
static int parse_connection_id(const char *path, uint64_t *ret) {
        const char *p;
        uint64_t id = 0;

        if (strncmp(path, APPSERVICE_CONNECTION_PREFIX "/", strlen(APPSERVICE_CONNECTION_PREFIX "/")) != 0)
                return -EINVAL;
        p = path + strlen(APPSERVICE_CONNECTION_PREFIX "/");
        if (*p < '1' || *p > '9')  /* decimal, no sign, no leading zero */
                return -EINVAL;
        for (; *p; p++) {
                unsigned digit = (unsigned) (*p - '0');

                if (digit > 9 || id > (UINT64_MAX - digit) / 10)
                        return -EINVAL;
                id = id * 10 + digit;
        }
        *ret = id;
        return 0;
}

int connection_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                           void **ret_found, sd_bus_error *error) {
        Manager *m = userdata;
        sd_bus_message *current;
        Connection *c;
        uint64_t id;

        if (parse_connection_id(path, &id) < 0)
                return 0;

        current = sd_bus_get_current_message(bus);
        c = manager_find_connection(m, id);
        if (!c) {
                /* The object is gone, or never was (ids are random: nobody can tell); the
                 * Connection methods of a former endpoint still get the contract's answers
                 * (UnknownRequest, Closed) instead of UnknownObject. */
                if (!current || sd_bus_message_is_method_call(current, APPSERVICE_CONNECTION_IFACE, NULL) <= 0)
                        return 0;
                *ret_found = &closed_connection;
                return 1;
        }

        /* Only the two endpoints may see or use a connection: checked here, once, for every
         * method, property and introspection call. */
        if (current && sender_endpoint(c, current) == ENDPOINT_NONE)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "connection %" PRIu64 " does not belong to %s",
                                         c->id, strempty(sd_bus_message_get_sender(current)));
        *ret_found = c;
        return 1;
}

/* SendMessage's reply: the response's ValueSet, copied value by value, so that the same types
 * and values give the same bytes on the wire. */
static int reply_with_response(sd_bus_message *call, sd_bus_message *response) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = valueset_seek(response);
        if (r >= 0)
                r = valueset_copy(reply, response);
        if (r < 0)  /* the caller must not wait for a reply that cannot be built */
                return sd_bus_reply_method_errnof(call, r, "cannot relay the response: %m");
        return sd_bus_send(NULL, reply, NULL);
}

static void call_answered(void *userdata, sd_bus_message *response) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata;
        int r;

        r = reply_with_response(call, response);
        if (r < 0)
                log_debug_errno(r, "%s: failed to deliver a response to %s, ignoring: %m",
                                strempty(sd_bus_message_get_path(call)), strempty(sd_bus_message_get_sender(call)));
}

/* SendMessage's reply, made before the answer is checked: the check copies the ValueSet into it. */
static int call_new_reply(void *userdata, sd_bus_message **ret) {
        sd_bus_message *call = userdata;

        return sd_bus_message_new_method_return(call, ret);
}

static void call_replied(void *userdata, sd_bus_message *reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata;
        int r;

        r = sd_bus_send(NULL, reply, NULL);
        if (r < 0)
                log_debug_errno(r, "%s: failed to deliver a response to %s, ignoring: %m",
                                strempty(sd_bus_message_get_path(call)), strempty(sd_bus_message_get_sender(call)));
}

static const CompletionOps call_ops = {
        .answered = call_answered,
        .failed = completion_call_failed,
        .new_reply = call_new_reply,
        .replied = call_replied,
};

Completion connection_call_completion(sd_bus_message *call) {
        return (Completion) { .ops = &call_ops, .userdata = sd_bus_message_ref(call) };
}

static int method_send_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Connection *c = userdata;
        Completion done;

        if (is_closed(c))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_CLOSED, "connection %s is closed",
                                         sd_bus_message_get_path(m));
        /* Answered later: by SendResponse, the request's timeout, or the close. */
        done = connection_call_completion(m);
        return handled(connection_send_message(c, sender_endpoint(c, m), m, /* checked_size= */ NULL, &done));
}

/* A SendResponse sent with NO_REPLY_EXPECTED (the contract allows it, so that a provider need not
 * hold one of the bus's pending replies per answer) gets no error reply: sd-bus drops it. Say at
 * debug what the sender would have been told. */
static int send_response_refused(sd_bus_message *m, int r, sd_bus_error *error) {
        uint64_t id = 0;

        if (sd_bus_message_get_expect_reply(m) > 0)
                return r;
        if (sd_bus_message_rewind(m, /* complete= */ true) >= 0)
                (void) sd_bus_message_read(m, "t", &id);
        if (sd_bus_error_is_set(error))
                log_debug("%s: SendResponse (no reply expected) of request %" PRIu64 " from %s refused: %s: %s",
                          strempty(sd_bus_message_get_path(m)), id, strempty(sd_bus_message_get_sender(m)),
                          error->name, strempty(error->message));
        else
                log_debug_errno(r, "%s: SendResponse (no reply expected) of request %" PRIu64 " from %s failed: %m",
                                strempty(sd_bus_message_get_path(m)), id, strempty(sd_bus_message_get_sender(m)));
        return r;
}

static int method_send_response(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Connection *c = userdata;
        int r;

        if (is_closed(c))
                return send_response_refused(m, sd_bus_error_setf(error, APPSERVICE_ERROR_UNKNOWN_REQUEST,
                                                                  "connection %s is closed: its requests are no "
                                                                  "longer pending", sd_bus_message_get_path(m)),
                                             error);

        r = connection_send_response(c, sender_endpoint(c, m), m, error);
        if (r < 0)
                return send_response_refused(m, r, error);
        /* Without NO_REPLY_EXPECTED only: sd-bus sends nothing otherwise. */
        return handled(sd_bus_reply_method_return(m, NULL));
}

/* Close and CloseWithStatus: the other endpoint is told `status`. A bridge closing a connection
 * that waits for its Accept refuses it: its client gets AppUnavailable (connection_close()). */
static int close_with_status(sd_bus_message *m, Connection *c, uint32_t status) {
        Endpoint from = sender_endpoint(c, m);

        assert(!is_closed(c));
        log_debug("app service '%s': connection %" PRIu64 " closed by its %s (status %" PRIu32 ")",
                  c->service->definition->name, c->id, from == ENDPOINT_CLIENT ? "client" : "provider", status);
        connection_close(c, 1u << endpoint_other(from), status);
        return handled(sd_bus_reply_method_return(m, NULL));
}

static int method_close(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Connection *c = userdata;

        if (is_closed(c))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_CLOSED, "connection %s is already closed",
                                         sd_bus_message_get_path(m));
        return close_with_status(m, c, CLOSED_COMPLETED);
}

static int method_close_with_status(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Connection *c = userdata;
        uint32_t status;
        int r;

        r = sd_bus_message_read(m, "u", &status);
        if (r < 0)
                return r;
        if (status > CLOSED_UNKNOWN)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "status %" PRIu32 " is not a ServiceClosed status (0 to 3)", status);
        if (is_closed(c))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_CLOSED, "connection %s is already closed",
                                         sd_bus_message_get_path(m));
        return close_with_status(m, c, status);
}

/* Accept and Refuse: only the bridge's side of a connection to the bridge may answer for the
 * other node; to anyone else the methods are as closed as the object is to a stranger. */
static int check_bridge_answer(sd_bus_message *m, Connection *c, sd_bus_error *error) {
        Endpoint from = sender_endpoint(c, m);

        if (from != ENDPOINT_PROVIDER || connection_bridge_endpoint(c) != ENDPOINT_PROVIDER)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "connection %" PRIu64 ": only the bridge it was opened to may accept or "
                                         "refuse it", c->id);
        return 0;
}

static int not_waiting(sd_bus_message *m, sd_bus_error *error) {
        return sd_bus_error_setf(error, APPSERVICE_ERROR_UNKNOWN_REQUEST, "connection %s is not waiting to be accepted",
                                 sd_bus_message_get_path(m));
}

static int method_accept(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Connection *c = userdata;
        int r;

        if (is_closed(c))
                return not_waiting(m, error);
        r = check_bridge_answer(m, c, error);
        if (r < 0)
                return r;
        r = connection_accept(c, error);
        if (r < 0)
                return r;
        return handled(sd_bus_reply_method_return(m, NULL));
}

static int method_refuse(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Connection *c = userdata;
        const char *name, *message;
        int r;

        r = sd_bus_message_read(m, "ss", &name, &message);
        if (r < 0)
                return r;
        if (is_closed(c))
                return not_waiting(m, error);
        r = check_bridge_answer(m, c, error);
        if (r < 0)
                return r;
        r = connection_refuse(c, name, message, error);
        if (r < 0)
                return r;
        return handled(sd_bus_reply_method_return(m, NULL));
}

static int method_fail_request(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Connection *c = userdata;
        const char *name, *message;
        uint64_t id;
        Endpoint from;
        int r;

        r = sd_bus_message_read(m, "tss", &id, &name, &message);
        if (r < 0)
                return r;
        if (is_closed(c))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_UNKNOWN_REQUEST,
                                         "connection %s is closed: its requests are no longer pending",
                                         sd_bus_message_get_path(m));
        from = sender_endpoint(c, m);
        if (from == ENDPOINT_NONE || from != connection_bridge_endpoint(c))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_NOT_AUTHORIZED,
                                         "connection %" PRIu64 ": only a bridge may fail a request it received "
                                         "(FailRequest)", c->id);
        r = connection_fail_request(c, from, id, name, message, error);
        if (r < 0)
                return r;
        return handled(sd_bus_reply_method_return(m, NULL));
}

static int property_get_service(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Connection *c = userdata;

        return sd_bus_message_append(reply, "o", c->service->path);
}

static int property_get_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Connection *c = userdata;

        return sd_bus_message_append(reply, "s", c->service->definition->name);
}

static int property_get_direct(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Connection *c = userdata;

        return sd_bus_message_append(reply, "b", c->direct);
}

static int property_get_caller(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Connection *c = userdata;

        return identity_append(reply, &c->caller);
}

static int send_unicast(Connection *c, Endpoint to, const char *member, sd_bus_message **ret) {
        return bus_new_unicast_signal(c->manager->bus, connection_peer(c, to)->name, c->path,
                                          APPSERVICE_CONNECTION_IFACE, member, ret);
}

int connection_new_request_received(Connection *c, Endpoint to, uint64_t id, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *signal = NULL;
        int r;

        r = send_unicast(c, to, "RequestReceived", &signal);
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(signal, 't', &id);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(signal);
        return 0;
}

int connection_emit_request_received(Connection *c, sd_bus_message *signal) {
        return sd_bus_send(c->manager->bus, signal, NULL);
}

int connection_emit_service_closed(Connection *c, Endpoint to, uint32_t status) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *signal = NULL;
        int r;

        r = send_unicast(c, to, "ServiceClosed", &signal);
        if (r >= 0)
                r = sd_bus_message_append(signal, "u", status);
        if (r >= 0)
                r = sd_bus_send(c->manager->bus, signal, NULL);
        if (r < 0)
                log_debug_errno(r, "connection %" PRIu64 ": failed to send ServiceClosed, ignoring: %m", c->id);
        return r;
}

const sd_bus_vtable connection_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Service", "o", property_get_service, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Name", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Caller", "a{sv}", property_get_caller, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Direct", "b", property_get_direct, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("SendMessage",
                                SD_BUS_ARGS("a{sv}", message),
                                SD_BUS_RESULT("a{sv}", response),
                                method_send_message, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SendResponse",
                                SD_BUS_ARGS("t", request, "a{sv}", response),
                                SD_BUS_NO_RESULT,
                                method_send_response, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Close",
                                SD_BUS_NO_ARGS,
                                SD_BUS_NO_RESULT,
                                method_close, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CloseWithStatus",
                                SD_BUS_ARGS("u", status),
                                SD_BUS_NO_RESULT,
                                method_close_with_status, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Accept",
                                SD_BUS_NO_ARGS,
                                SD_BUS_NO_RESULT,
                                method_accept, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Refuse",
                                SD_BUS_ARGS("s", error, "s", message),
                                SD_BUS_NO_RESULT,
                                method_refuse, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("FailRequest",
                                SD_BUS_ARGS("t", request, "s", error, "s", message),
                                SD_BUS_NO_RESULT,
                                method_fail_request, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("RequestReceived", SD_BUS_ARGS("t", request, "a{sv}", message), 0),
        SD_BUS_SIGNAL_WITH_ARGS("ServiceClosed", SD_BUS_ARGS("u", status), 0),
        SD_BUS_VTABLE_END
};
