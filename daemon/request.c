/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "definition.h"
#include "errors.h"
#include "log.h"
#include "request.h"
#include "util.h"

/* Timers fire within a millisecond of their deadline: clients measure our timeouts. */
#define TIMER_ACCURACY_USEC 1000

const char *endpoint_to_string(Endpoint e) {
        return e == ENDPOINT_CLIENT ? "client" : "provider";
}

int request_list_init(RequestList *l, sd_event *event, Manager *quota, uint64_t *last_id, const char *service,
                      uint64_t connection_id) {
        assert(l);
        assert(event);
        assert(quota);
        assert(last_id);
        assert(service);

        *l = (RequestList) {
                .event = event,
                .quota = quota,
                .last_id = last_id,
                .service = strdup(service),
                .connection_id = connection_id,
        };
        return l->service ? 0 : -ENOMEM;
}

void request_list_done(RequestList *l) {
        assert(l);
        assert(request_list_is_empty(l));

        l->service = mfree(l->service);
}

Request *request_free(Request *req) {
        RequestList *l;

        if (!req)
                return NULL;
        /* The outcome must have gone somewhere: ended, or never taken. */
        assert(!completion_is_set(&req->completion));

        l = req->list;
        if (req->started) {
                LIST_REMOVE(requests, l->requests, req);
                assert(l->n_pending[req->from] > 0);
                l->n_pending[req->from]--;
        }
        quota_release(l->quota, &req->charge);
        sd_event_source_disable_unref(req->timer);
        free(req);
        return NULL;
}

/* Unlinks and frees `req`, handing back its completion: whatever that runs finds the list as if
 * the request had never been. */
static Completion request_take(Request *req) {
        Completion done;

        assert(req);
        assert(req->started);

        completion_move(&done, &req->completion);
        request_free(req);
        return done;
}

static void request_fail_with(Request *req, const sd_bus_error *error) {
        const RequestList *l = req->list;
        Completion done;

        if (l->ops && l->ops->failing)
                l->ops->failing(l->userdata, req, error->name);
        done = request_take(req);
        completion_fail(&done, error);
}

void request_fail(Request *req, const char *error_name, const char *format, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        va_list ap;

        assert(req);
        assert(error_name);

        va_start(ap, format);
        (void) sd_bus_error_setfv(&error, error_name, format, ap);
        va_end(ap);
        request_fail_with(req, &error);
}

void request_answered(Request *req, sd_bus_message *response) {
        Completion done;

        assert(req);
        assert(response);

        done = request_take(req);
        completion_answered(&done, response);
}

static int request_timed_out(sd_event_source *source, uint64_t usec, void *userdata) {
        Request *req = userdata;
        const RequestList *l = req->list;
        /* The owner's, read before the completion runs. */
        const RequestListOps *ops = l->ops;
        void *owner = l->userdata;

        log_debug("app service '%s': request %" PRIu64 " on connection %" PRIu64 " timed out",
                  l->service, req->id, l->connection_id);
        request_fail(req, APPSERVICE_ERROR_TIMEOUT, "app service '%s': no response within %g s",
                     l->service, (double) req->timeout_usec / 1e6);
        if (ops && ops->timed_out)
                ops->timed_out(owner);
        return 0;
}

int request_new(RequestList *l, const Definition *d, Endpoint from, uid_t uid, uint64_t size, Request **ret,
                sd_bus_error *error) {
        _cleanup_(request_freep) Request *req = NULL;
        int r;

        assert(l);
        assert(d);
        assert(from >= 0 && from < _ENDPOINT_MAX);
        assert(ret);

        if (l->n_pending[from] >= d->max_pending_requests)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED,
                                         "app service '%s': the %s already has %u unanswered requests on connection %"
                                         PRIu64 " (MaxPendingRequests)",
                                         d->name, endpoint_to_string(from), d->max_pending_requests, l->connection_id);

        req = calloc(1, sizeof(Request));
        if (!req)
                return -ENOMEM;
        *req = (Request) {
                .list = l,
                .id = *l->last_id + 1,
                .from = from,
                .timeout_usec = d->request_timeout_usec,
        };
        /* Held until the answer: what the sender makes the broker keep. */
        r = quota_charge(l->quota, d, uid, size + QUOTA_REQUEST_OVERHEAD, 1, &req->charge, error);
        if (r < 0)
                return r;
        r = sd_event_add_time_relative(l->event, &req->timer, CLOCK_MONOTONIC, req->timeout_usec,
                                       TIMER_ACCURACY_USEC, request_timed_out, req);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(req);
        return 0;
}

void request_start(Request *req, Completion *completion) {
        RequestList *l;

        assert(req);
        assert(!req->started);
        assert(completion_is_set(completion));

        l = req->list;
        /* Nothing started in between: the id reserved is still the next one. */
        assert(req->id == *l->last_id + 1);
        *l->last_id = req->id;
        (void) sd_event_now(l->event, CLOCK_MONOTONIC, &req->sent_usec);
        req->started = true;
        l->n_pending[req->from]++;
        LIST_PREPEND(requests, l->requests, req);
        completion_move(&req->completion, completion);
        completion_sent(&req->completion);
}

Request *request_list_find(RequestList *l, Endpoint answering, uint64_t id) {
        assert(l);

        LIST_FOREACH(requests, req, l->requests)
                if (req->id == id && (req->from != answering || l->loopback))
                        return req;
        return NULL;
}

void request_list_close(RequestList *l, const char *const reason[_ENDPOINT_MAX]) {
        assert(l);
        assert(reason);

        /* Newest first; each one is unlinked before its completion runs. */
        while (l->requests)
                request_fail(l->requests, APPSERVICE_ERROR_CLOSED,
                             "app service '%s': connection %" PRIu64 " closed before the response came: %s",
                             l->service, l->connection_id, reason[l->requests->from]);
}
