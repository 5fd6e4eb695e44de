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

static int clock_fired(sd_event_source *source, uint64_t usec, void *userdata);

void request_clock_init(RequestClock *k, sd_event *event) {
        assert(k);
        assert(event);

        *k = (RequestClock) { .event = event };
}

void request_clock_done(RequestClock *k) {
        assert(k);
        assert(!k->requests);

        k->timer = sd_event_source_disable_unref(k->timer);
        k->armed_usec = 0;
}

static uint64_t deadline_of(const Request *req) {
        return req->sent_usec + req->timeout_usec;
}

/* Sets the timer for `usec`, or off (0). sd-event sets the timerfd again only when the earliest
 * deadline of all its timers changes. */
static void clock_arm(RequestClock *k, uint64_t usec) {
        int r;

        if (usec == k->armed_usec)
                return;
        if (usec == 0)
                r = sd_event_source_set_enabled(k->timer, SD_EVENT_OFF);
        else {
                r = sd_event_source_set_time(k->timer, usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(k->timer, SD_EVENT_ONESHOT);
        }
        if (r < 0) {
                /* Only when memory runs out (sd-event's queue of timers): the timer stays where
                 * it was, and the next request that starts or the next firing tries again. */
                log_warning_errno(r, "failed to set the requests' timer, ignoring: %m");
                return;
        }
        k->armed_usec = usec;
}

/* The timer, made once (off: UINT64_MAX is never) and kept until request_clock_done(). */
static int clock_make_timer(RequestClock *k) {
        if (k->timer)
                return 0;
        return sd_event_add_time(k->event, &k->timer, CLOCK_MONOTONIC, UINT64_MAX, TIMER_ACCURACY_USEC,
                                 clock_fired, k);
}

/* The earliest deadline of those started, 0 when none is. */
static uint64_t clock_earliest(const RequestClock *k) {
        uint64_t earliest = 0;

        LIST_FOREACH(clock, req, k->requests)
                if (earliest == 0 || deadline_of(req) < earliest)
                        earliest = deadline_of(req);
        return earliest;
}

int request_list_init(RequestList *l, RequestClock *clock, Manager *quota, const char *service,
                      uint64_t connection_id) {
        assert(l);
        assert(clock);
        assert(quota);
        assert(service);

        *l = (RequestList) {
                .clock = clock,
                .quota = quota,
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
                RequestClock *k = l->clock;

                LIST_REMOVE(requests, l->requests, req);
                assert(l->n_pending[req->from] > 0);
                l->n_pending[req->from]--;
                /* The timer stays as it is: when it fires for nothing, it moves on. */
                if (k->oldest == req)
                        k->oldest = req->clock_prev;
                LIST_REMOVE(clock, k->requests, req);
        }
        quota_release(l->quota, &req->charge);
        service_contract_unref(req->contract);
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

void request_replied(Request *req, sd_bus_message *reply) {
        Completion done;

        assert(req);
        assert(reply);

        done = request_take(req);
        completion_replied(&done, reply);
}

/* The oldest started request that is due at `now`, among those that existed when the timer fired
 * (ids up to `last_id`): those its completion starts wait for the next time. */
static Request *clock_due(const RequestClock *k, uint64_t now, uint64_t last_id) {
        for (Request *req = k->oldest; req; req = req->clock_prev)
                if (req->id <= last_id && deadline_of(req) <= now)
                        return req;
        return NULL;
}

static void request_timed_out(Request *req) {
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
}

/* Fails what is due, oldest first, each one found again from the oldest: a completion or an
 * owner may end or start any request meanwhile. Then sets the timer for what is left. */
static int clock_fired(sd_event_source *source, uint64_t usec, void *userdata) {
        RequestClock *k = userdata;
        uint64_t now, last_id = k->last_id;
        Request *req;

        k->armed_usec = 0;  /* a one-shot timer: off now */
        if (sd_event_now(k->event, CLOCK_MONOTONIC, &now) < 0)
                now = usec;
        while ((req = clock_due(k, now, last_id)))
                request_timed_out(req);
        clock_arm(k, clock_earliest(k));
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
                .id = l->clock->last_id + 1,
                .from = from,
                .timeout_usec = d->request_timeout_usec,
        };
        /* Held until the answer: what the sender makes the broker keep. */
        r = quota_charge(l->quota, d, uid, size + QUOTA_REQUEST_OVERHEAD, 1, &req->charge, error);
        if (r < 0)
                return r;
        r = clock_make_timer(l->clock);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(req);
        return 0;
}

void request_start(Request *req, Completion *completion) {
        RequestList *l;
        RequestClock *k;

        assert(req);
        assert(!req->started);
        assert(completion_is_set(completion));

        l = req->list;
        k = l->clock;
        /* Nothing started in between: the id reserved is still the next one. */
        assert(req->id == k->last_id + 1);
        k->last_id = req->id;
        req->sent_usec = monotonic_usec();
        req->started = true;
        l->n_pending[req->from]++;
        LIST_PREPEND(requests, l->requests, req);
        if (!k->oldest)
                k->oldest = req;
        LIST_PREPEND(clock, k->requests, req);
        /* Earlier only: a timer set for later than this deadline would miss it. */
        if (k->armed_usec == 0 || deadline_of(req) < k->armed_usec)
                clock_arm(k, deadline_of(req));
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
