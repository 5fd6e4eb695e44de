/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The requests in flight on one connection, the relay's unit of work: each one's id, the endpoint
 * that waits for its answer, its Completion, its quota Charge and its deadline. Nothing here knows
 * a bus, a service or the broker's tables: connection.c routes, the Completion answers
 * (connection-dbus.c builds the reply), quota.c counts; tests/unit/test-request.c runs it on an
 * sd_event alone.
 *
 * Every request ends exactly once: answered, timed out, failed or closed. Whichever it is, the
 * request is unlinked and its charge given back before its Completion runs, so a completion may
 * start new requests; it must not free the list, though, while the list fails them all
 * (request_list_close()).
 *
 * The deadlines of all lists share one timer (RequestClock), which follows them lazily: a request
 * that starts arms it only when it is off or set for later than the new deadline, and one that
 * ends leaves it as it is. When it fires it fails what is due and sets itself for the earliest
 * deadline left, or goes off. So a request costs the loop no timer of its own and no system call
 * (the timerfd is set again only when the timer moves), at the price of one wake-up for nothing
 * when the request it was set for was answered. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "cleanup.h"
#include "completion.h"
#include "list.h"
#include "quota.h"
#include "service-contract.h"

typedef enum Endpoint {
        ENDPOINT_CLIENT,
        ENDPOINT_PROVIDER,
        _ENDPOINT_MAX,
        ENDPOINT_NONE = -1,
} Endpoint;

const char *endpoint_to_string(Endpoint e);

typedef struct Request Request;
typedef struct RequestList RequestList;

/* What the lists of one broker share: the request ids, unique among all of them, and the timer
 * of every deadline. */
typedef struct RequestClock {
        sd_event *event;
        uint64_t last_id;
        sd_event_source *timer;   /* made for the first request; then kept, on or off */
        uint64_t armed_usec;      /* when it fires (CLOCK_MONOTONIC); 0: off */
        Request *requests;        /* every started request of every list, newest first (list "clock") */
        Request *oldest;          /* ... and its last */
} RequestClock;

/* What the list tells its owner; either may be NULL. */
typedef struct RequestListOps {
        /* `r` ends unanswered (timeout, close, request_fail()), just before it is freed. */
        void (*failing)(void *userdata, const Request *r, const char *error_name);
        /* A request timed out and has failed: the last thing the timer does with this list, so
         * the owner may free the list here. */
        void (*timed_out)(void *userdata);
} RequestListOps;

struct Request {
        RequestList *list;
        uint64_t id;
        Endpoint from;            /* who sent it and waits for the answer */
        Completion completion;    /* where the outcome goes: taken by request_start() */
        uint64_t sent_usec;       /* CLOCK_MONOTONIC, for the monitors' latency */
        uint64_t timeout_usec;    /* its deadline is sent_usec + timeout_usec */
        Charge charge;            /* its bytes and itself, counted for the sender's uid */
        bool started;             /* in the lists, its id used */
        /* The service's contract when it has one, and the action the request names: its answer
         * must be that action's results (or a declared error). Held by reference: a reload may
         * give the service a new contract while the request waits. */
        ServiceContract *contract;
        const ContractMember *action;
        LIST_FIELDS(Request, requests);
        LIST_FIELDS(Request, clock);
};

struct RequestList {
        RequestClock *clock;      /* shared by every list: ids are unique within the daemon's lifetime */
        Manager *quota;           /* for quota_charge()/quota_release() only, never looked into */
        char *service;            /* for messages */
        uint64_t connection_id;   /* for messages */
        /* Set by the owner after request_list_init(): */
        bool loopback;            /* the client is the provider: either endpoint may answer */
        const RequestListOps *ops;
        void *userdata;

        Request *requests;        /* started and unanswered, both directions, newest first */
        unsigned n_pending[_ENDPOINT_MAX];
};

void request_clock_init(RequestClock *k, sd_event *event);
/* Frees the timer; no request may be pending. */
void request_clock_done(RequestClock *k);

int request_list_init(RequestList *l, RequestClock *clock, Manager *quota, const char *service,
                      uint64_t connection_id);
/* Frees what the list holds; no request may be pending (request_list_close() first). */
void request_list_done(RequestList *l);

static inline bool request_list_is_empty(const RequestList *l) {
        return !l->requests;
}

static inline unsigned request_list_pending(const RequestList *l, Endpoint from) {
        return l->n_pending[from];
}

/* A would-be request of `size` bytes (its ValueSet) from `from`, sent by `uid`: refused when the
 * sender already has d's MaxPendingRequests here or the quota says no (ResourceLimitsExceeded,
 * in `error`); otherwise charged, given d's RequestTimeoutSec= and its id reserved. It is not
 * pending until request_start(): free it with request_free() if it cannot be sent after all (its
 * id is then left for the next one). */
int request_new(RequestList *l, const Definition *d, Endpoint from, uid_t uid, uint64_t size, Request **ret,
                sd_bus_error *error);
/* The id the next request_new() reserves, on this list or any other of its clock. */
static inline uint64_t request_list_next_id(const RequestList *l) {
        return l->clock->last_id + 1;
}
/* The request went out: pending from now on, its id used up, its deadline counted from now;
 * takes `completion` and tells it that it was sent. */
void request_start(Request *r, Completion *completion);
/* Frees without ending its completion: for a request never started, or one already ended. */
Request *request_free(Request *r);
DEFINE_CLEANUP(Request, request_free);

/* The started request `id` that `answering` may answer: one sent by the other endpoint. */
Request *request_list_find(RequestList *l, Endpoint answering, uint64_t id);

/* Ends `r` with the answer `response`, through its completion; frees it. */
void request_answered(Request *r, sd_bus_message *response);
/* The same, with the answer's ValueSet in `reply`, the message its completion made for it
 * (completion_new_reply()). */
void request_replied(Request *r, sd_bus_message *reply);
/* Ends `r` with the error `error_name`, through its completion; frees it. */
void request_fail(Request *r, const char *error_name, const char *format, ...) __attribute__((format(printf, 3, 4)));
/* The connection closed: every pending request fails with Closed, the message giving
 * `reason[e]` for those that endpoint e waits on. */
void request_list_close(RequestList *l, const char *const reason[_ENDPOINT_MAX]);
