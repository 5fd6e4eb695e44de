/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "action.h"
#include "errors.h"
#include "log.h"
#include "open.h"
#include "peer.h"
#include "service.h"
#include "util.h"
#include "valueset.h"

#define ACTION_MAX_LENGTH 255

struct ActionTarget {
        Action *action;
        char *service;             /* the receiver's app service name */
        sd_bus_message *response;  /* its SendResponse call, once answered */
        char *failure;             /* "ErrorName: message", once failed */
        bool sent;
        bool done;
        LIST_FIELDS(ActionTarget, targets);
};

struct Action {
        sd_bus_message *call;      /* the SubmitAction call: relayed to every receiver, answered once */
        ActionDone done;           /* called once with the outcome, then the action is freed */
        bool broadcast;
        bool starting;             /* the handler is still opening: not answered before it is done */
        unsigned n_open;           /* targets not yet done */
        sd_bus_error refusal;      /* one destination, refused before sending: the call's own error */
        ActionTarget *targets;     /* in the order of the definitions */
        ActionTarget *last;
};

static Action *action_free(Action *a) {
        if (!a)
                return NULL;
        while (a->targets) {
                ActionTarget *t = a->targets;
                LIST_REMOVE(targets, a->targets, t);
                sd_bus_message_unref(t->response);
                free(t->failure);
                free(t->service);
                free(t);
        }
        sd_bus_error_free(&a->refusal);
        sd_bus_message_unref(a->call);
        free(a);
        return NULL;
}

static int append_responses(sd_bus_message *reply, const Action *a) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        LIST_FOREACH(targets, t, a->targets) {
                if (!t->response)
                        continue;
                r = sd_bus_message_open_container(reply, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "s", t->service);
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'v', "a{sv}");
                if (r >= 0)
                        r = valueset_seek(t->response);
                if (r >= 0)
                        r = valueset_copy(reply, t->response);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int append_failures(sd_bus_message *reply, const Action *a) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{ss}");
        if (r < 0)
                return r;
        LIST_FOREACH(targets, t, a->targets) {
                if (t->response)
                        continue;
                r = sd_bus_message_append(reply, "{ss}", t->service,
                                          t->failure ?: SD_BUS_ERROR_NO_MEMORY ": out of memory");
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

int action_append_outcome(const Action *a, sd_bus_message *reply) {
        int r;

        assert(!sd_bus_error_is_set(&a->refusal));

        r = append_responses(reply, a);
        if (r < 0)
                return r;
        return append_failures(reply, a);
}

const sd_bus_error *action_get_refusal(const Action *a) {
        return sd_bus_error_is_set(&a->refusal) ? &a->refusal : NULL;
}

/* Ends the action once nothing is open any more. */
static void action_maybe_finish(Action *a) {
        if (a->starting || a->n_open > 0)
                return;
        a->done(a, a->call);
        action_free(a);
}

static void target_done(ActionTarget *t) {
        Action *a = t->action;

        if (t->done)
                return;
        t->done = true;
        a->n_open--;
        action_maybe_finish(a);
}

static void target_sent(void *userdata) {
        ActionTarget *t = userdata;

        t->sent = true;
}

static void target_answered(void *userdata, sd_bus_message *response) {
        ActionTarget *t = userdata;

        t->response = sd_bus_message_ref(response);
        target_done(t);
}

static void target_failed(void *userdata, const sd_bus_error *error) {
        ActionTarget *t = userdata;
        Action *a = t->action;

        if (!t->sent && !a->broadcast) {
                /* One destination: what refused the open or the message is the call's error, as
                 * for Service.SendMessage. */
                if (!sd_bus_error_is_set(&a->refusal))
                        (void) sd_bus_error_copy(&a->refusal, error);
        } else if (asprintf(&t->failure, "%s: %s", error->name, strempty(error->message)) < 0)
                t->failure = NULL;
        target_done(t);
}

/* What the model calls back with each receiver's outcome. */
static const CompletionOps target_ops = {
        .sent = target_sent,
        .answered = target_answered,
        .failed = target_failed,
};

static Completion target_completion(ActionTarget *t) {
        return (Completion) { .ops = &target_ops, .userdata = t };
}

static ActionTarget *action_add_target(Action *a, Service *s) {
        ActionTarget *t;

        t = calloc(1, sizeof(ActionTarget));
        if (!t)
                return NULL;
        t->action = a;
        t->service = strdup(s->definition->name);
        if (!t->service) {
                free(t);
                return NULL;
        }
        /* Append: the answer lists receivers in the definitions' order. */
        if (a->last) {
                a->last->targets_next = t;
                t->targets_prev = a->last;
        } else
                a->targets = t;
        a->last = t;
        a->n_open++;
        return t;
}

/* Opens the one-shot to one receiver. Every outcome, now or later, ends the target. */
static void action_open(Action *a, Service *s, Peer *sender, const Identity *caller) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(identity_done) Identity id = {};
        Completion completion;
        ActionTarget *t;
        int r;

        t = action_add_target(a, s);
        if (!t) {
                log_warning("app service '%s': out of memory for a SubmitAction receiver, skipping",
                            s->definition->name);
                if (!a->broadcast && !sd_bus_error_is_set(&a->refusal))
                        (void) sd_bus_error_set_errno(&a->refusal, ENOMEM);
                return;
        }
        /* For one destination these checks were made before the action existed. */
        if (a->broadcast && service_check_open(s, /* provider= */ NULL, sender, caller, &error) < 0) {
                target_failed(t, &error);
                return;
        }
        completion = target_completion(t);
        r = identity_copy(caller, &id);
        if (r < 0) {
                completion_fail_errnof(&completion, r, "app service '%s': %m", s->definition->name);
                return;
        }
        service_open(s, a->call, sender, &id, /* one_shot= */ true, &completion);
}

/* Who the receivers are told the sender is: its identity, the action, and its own app service when
 * it is a registered provider (the first in definition order when it serves several). */
static int sender_identity(Manager *m, sd_bus_message *call, const char *action, RemoteCaller **remote,
                           Identity *ret, Service **ret_own, sd_bus_error *error) {
        _cleanup_(identity_done) Identity id = {};
        const char *sender = sd_bus_message_get_sender(call);
        Service *own = NULL;
        int r;

        r = identity_from_message(call, &id);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "cannot tell who is calling: %m");
        LIST_FOREACH(services, s, m->services)
                if (s->provider && sender && streq(s->provider->name, sender)) {
                        own = s;
                        break;
                }
        id.action = strdup(action);
        if (!id.action || (own && !(id.service = strdup(own->definition->name))))
                return -ENOMEM;
        if (remote)
                id.remote = TAKE_PTR(*remote);
        *ret = id;
        id = (Identity) {};
        *ret_own = own;
        return 0;
}

/* The largest MaxMessageSize of any service: a ValueSet over it is too large for every receiver. */
static uint64_t largest_message_size(Manager *m) {
        uint64_t max = 0;

        LIST_FOREACH(services, s, m->services)
                if (s->definition->max_message_size > max)
                        max = s->definition->max_message_size;
        return max;
}

int action_check_arguments(Manager *m, sd_bus_message *call, const char *action, sd_bus_error *error) {
        _cleanup_(freep) char *reason = NULL;
        size_t n = strlen(action);
        int r;

        if (n == 0)
                return sd_bus_error_set(error, APPSERVICE_ERROR_INVALID_MESSAGE, "the action is empty");
        if (n > ACTION_MAX_LENGTH)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_INVALID_MESSAGE,
                                         "the action is %zu bytes long, more than %d", n, ACTION_MAX_LENGTH);

        /* The rules hold for every receiver; the size limit is each receiver's own (at the open).
         * The walk still stops at the largest of them, so that a huge ValueSet costs no more. */
        r = valueset_check(call, largest_message_size(m), NULL, &reason);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "cannot read the ValueSet: %m");
        if (r == VALUESET_INVALID)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_INVALID_MESSAGE, "%s", strempty(reason));
        if (r == VALUESET_TOO_LARGE)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE,
                                         "%s, the largest MaxMessageSize of any app service", strempty(reason));
        return 0;
}

static int submit(Manager *m, sd_bus_message *call, Service *single, Peer *sender, const Identity *caller,
                  ActionDone done) {
        Action *a;

        a = calloc(1, sizeof(Action));
        if (!a)
                return -ENOMEM;
        a->call = sd_bus_message_ref(call);
        a->done = done;
        a->broadcast = !single;
        a->starting = true;

        if (single)
                action_open(a, single, sender, caller);
        else
                LIST_FOREACH(services, s, m->services) {
                        /* Only what runs now, is enabled, may be opened by the sender and is not its
                         * own; the rest is skipped without a word. */
                        if (!s->provider || service_is_stopping(s) || s->provider == sender ||
                            !service_may_open(s, caller))
                                continue;
                        action_open(a, s, sender, caller);
                }

        a->starting = false;
        action_maybe_finish(a);
        return 1;
}

int action_submit(Manager *m, sd_bus_message *call, const char *action, Service *single, RemoteCaller **remote,
                  ActionDone done, sd_bus_error *error) {
        _cleanup_(identity_done) Identity caller = {};
        Service *own = NULL;
        Peer *sender;
        int r;

        assert(m);
        assert(call);
        assert(action);
        assert(done);
        assert(single || !remote);

        r = sender_identity(m, call, action, remote, &caller, &own, error);
        if (r < 0)
                return r;
        if (!single && caller.uid != 0 && !own)
                return sd_bus_error_set(error, APPSERVICE_ERROR_NOT_AUTHORIZED,
                                        "only root and registered providers may send an action to every app service");

        r = peer_acquire(m, sd_bus_message_get_sender(call), caller.uid, &sender, error);
        if (r < 0)
                return sd_bus_error_is_set(error) ? r : sd_bus_error_set_errnof(error, r, "cannot track the caller: %m");

        if (single) {
                r = service_check_open(single, /* provider= */ NULL, sender, &caller, error);
                if (r < 0) {
                        peer_release_if_unused(sender);
                        return r;
                }
        }

        sender->n_pins++;  /* the opens may drop and retake the peer's holds */
        r = submit(m, call, single, sender, &caller, done);
        sender->n_pins--;
        peer_release_if_unused(sender);
        return r;
}
