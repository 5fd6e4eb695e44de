/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* request.c, the requests in flight on one connection, without a bus: a real sd_event for the
 * timers, the real quota (quota.c) for the charges, and completions that record what reached
 * them. */
#include <string.h>

#include "cleanup.h"
#include "definition.h"
#include "errors.h"
#include "manager.h"
#include "quota.h"
#include "request.h"
#include "unit-test.h"

#define PATH "/nonexistent/com.example.echo.appservice"
#define TEXT "[App Service]\nName=com.example.echo\nProvider=com.example.EchoApp\n"
#define CONNECTION_ID 4711u
#define UID 1000u
#define SIZE 100u

/* The response is handed through to the completion, never read: any distinct pointer will do. */
static char response_token;
#define RESPONSE ((sd_bus_message *) &response_token)

/* What one request's completion saw. */
typedef struct Outcome {
        unsigned sent, answered, failed, replied;
        sd_bus_message *response;
        char *error_name, *error_message;
        /* What the list looked like from inside the completion. */
        unsigned pending_seen;
        uint64_t bytes_held_seen;
        gint64 failed_at;          /* g_get_monotonic_time() */
        unsigned failed_order;     /* 1 for the first to fail in the test, 2 for the next... */
        struct Fixture *fixture;
} Outcome;

typedef struct Fixture {
        sd_event *event;
        Manager quota;             /* only the quota's fields: usage, service_usage, limits, bytes_held */
        Definition *d;
        RequestClock clock;
        RequestList list;
        unsigned n_failing, n_timed_out, n_failed;
        char *failing_name;
        /* The completions' records: here, not on a test's stack, so that the requests a failed
         * test leaves behind can still fail into them at teardown. */
        Outcome o[8];
} Fixture;

static void outcome_done(Outcome *o) {
        g_free(o->error_name);
        g_free(o->error_message);
        *o = (Outcome) {};
}

static void outcome_seen(Outcome *o) {
        if (!o->fixture)
                return;
        o->pending_seen = request_list_pending(&o->fixture->list, ENDPOINT_CLIENT) +
                request_list_pending(&o->fixture->list, ENDPOINT_PROVIDER);
        o->bytes_held_seen = o->fixture->quota.bytes_held;
}

static void outcome_sent(void *userdata) {
        Outcome *o = userdata;

        o->sent++;
}

static void outcome_answered(void *userdata, sd_bus_message *response) {
        Outcome *o = userdata;

        o->answered++;
        o->response = response;
        outcome_seen(o);
}

static void outcome_failed(void *userdata, const sd_bus_error *error) {
        Outcome *o = userdata;

        o->failed++;
        o->failed_at = g_get_monotonic_time();
        if (o->fixture)
                o->failed_order = ++o->fixture->n_failed;
        g_free(o->error_name);
        g_free(o->error_message);
        o->error_name = g_strdup(error->name);
        o->error_message = g_strdup(error->message);
        outcome_seen(o);
}

static const CompletionOps outcome_ops = {
        .sent = outcome_sent,
        .answered = outcome_answered,
        .failed = outcome_failed,
};

/* A completion that makes the message the answer goes into (as SendMessage's does). */
static char reply_token;
#define REPLY ((sd_bus_message *) &reply_token)

static int outcome_new_reply(void *userdata, sd_bus_message **ret) {
        *ret = REPLY;
        return 0;
}

static void outcome_replied(void *userdata, sd_bus_message *reply) {
        Outcome *o = userdata;

        o->replied++;
        o->response = reply;
        outcome_seen(o);
}

static const CompletionOps reply_ops = {
        .sent = outcome_sent,
        .answered = outcome_answered,
        .failed = outcome_failed,
        .new_reply = outcome_new_reply,
        .replied = outcome_replied,
};

static void list_failing(void *userdata, const Request *r, const char *error_name) {
        Fixture *f = userdata;

        f->n_failing++;
        g_free(f->failing_name);
        f->failing_name = g_strdup(error_name);
}

static void list_timed_out(void *userdata) {
        Fixture *f = userdata;

        f->n_timed_out++;
}

static const RequestListOps list_ops = {
        .failing = list_failing,
        .timed_out = list_timed_out,
};

static void fixture_setup(Fixture *f, gconstpointer data) {
        DefinitionError error = {};

        *f = (Fixture) {};
        g_assert_cmpint(sd_event_new(&f->event), >=, 0);
        quota_set_defaults(&f->quota.limits);
        f->quota.usage = hashmap_new(HASHMAP_KEY_UINT64);
        f->quota.service_usage = hashmap_new(HASHMAP_KEY_STRING);
        g_assert_nonnull(f->quota.usage);
        g_assert_nonnull(f->quota.service_usage);
        g_assert_cmpint(definition_parse(PATH, TEXT, strlen(TEXT), false, &f->d, &error), ==, 0);
        definition_error_done(&error);
        request_clock_init(&f->clock, f->event);
        g_assert_cmpint(request_list_init(&f->list, &f->clock, &f->quota, "com.example.echo", CONNECTION_ID), ==, 0);
        f->list.ops = &list_ops;
        f->list.userdata = f;
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        static const char *const reasons[_ENDPOINT_MAX] = { "teardown", "teardown" };

        request_list_close(&f->list, reasons);
        request_list_done(&f->list);
        request_clock_done(&f->clock);
        quota_free_all(&f->quota);
        definition_free(f->d);
        sd_event_unref(f->event);
        g_free(f->failing_name);
        for (size_t i = 0; i < G_N_ELEMENTS(f->o); i++)
                outcome_done(&f->o[i]);
}

/* A request from `from` by UID, started with `o` as its completion. */
static Request *start(Fixture *f, Endpoint from, Outcome *o) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Completion c = { .ops = &outcome_ops, .userdata = o };
        Request *r = NULL;
        int k;

        o->fixture = f;
        k = request_new(&f->list, f->d, from, UID, SIZE, &r, &error);
        if (k < 0)
                g_test_message("request_new: %s: %s", error.name, error.message);
        g_assert_cmpint(k, ==, 0);
        if (!r)
                return NULL;
        request_start(r, &c);
        g_assert_null(c.ops);  /* taken */
        g_assert_cmpuint(o->sent, ==, 1);
        return r;
}

/* Refused: returns the error's name (g_free()). */
static char *refused(Fixture *f, Endpoint from, uid_t uid) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Request *r = NULL;
        int k;

        k = request_new(&f->list, f->d, from, uid, SIZE, &r, &error);
        g_assert_cmpint(k, <, 0);
        g_assert_null(r);
        if (r) {
                request_free(r);
                return NULL;
        }
        g_test_message("refused: %s: %s", strempty(error.name), strempty(error.message));
        if (error.message && strstr(error.message, "(MaxPendingRequests)"))
                g_assert_nonnull(strstr(error.message, "on connection 4711"));
        return g_strdup(error.name);
}

static uint64_t user_requests(Fixture *f, uid_t uid) {
        uint64_t key = uid;
        UserUsage *u = hashmap_get(f->quota.usage, &key);

        return u ? u->requests : 0;
}

static void assert_nothing_charged(Fixture *f) {
        g_assert_cmpuint(f->quota.bytes_held, ==, 0);
        g_assert_cmpuint(hashmap_size(f->quota.usage), ==, 0);
        g_assert_cmpuint(hashmap_size(f->quota.service_usage), ==, 0);
}

/* Runs the loop until *counter reaches `want` or `max_usec` passed; whether it did. */
static bool run_until(Fixture *f, const unsigned *counter, unsigned want, uint64_t max_usec) {
        gint64 deadline = g_get_monotonic_time() + (gint64) max_usec;

        while (*counter < want && g_get_monotonic_time() < deadline)
                g_assert_cmpint(sd_event_run(f->event, 10 * 1000), >=, 0);
        return *counter >= want;
}

/* Runs the loop for `usec`; how many sources it dispatched. */
static unsigned run_for(Fixture *f, uint64_t usec) {
        gint64 deadline = g_get_monotonic_time() + (gint64) usec;
        unsigned n = 0;
        int k;

        while (g_get_monotonic_time() < deadline) {
                k = sd_event_run(f->event, 10 * 1000);
                g_assert_cmpint(k, >=, 0);
                n += k > 0;
        }
        return n;
}

static void test_ids(Fixture *f, gconstpointer data) {
        Outcome *o = f->o;
        Request *r[4];
        Request *unsent = NULL;
        RequestList other;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        r[0] = start(f, ENDPOINT_CLIENT, &o[0]);
        r[1] = start(f, ENDPOINT_PROVIDER, &o[1]);
        r[2] = start(f, ENDPOINT_CLIENT, &o[2]);
        ASSERT_OR_RETURN(r[0] && r[1] && r[2]);
        g_assert_cmpuint(r[0]->id, ==, 1);
        g_assert_cmpuint(r[1]->id, ==, 2);
        g_assert_cmpuint(r[2]->id, ==, 3);
        g_assert_cmpuint(f->clock.last_id, ==, 3);

        /* An answered id is not given again. */
        request_answered(r[1], RESPONSE);
        r[3] = start(f, ENDPOINT_PROVIDER, &o[3]);
        ASSERT_OR_RETURN(r[3]);
        g_assert_cmpuint(r[3]->id, ==, 4);

        /* One never sent leaves its id to the next. */
        g_assert_cmpint(request_new(&f->list, f->d, ENDPOINT_CLIENT, UID, SIZE, &unsent, &error), ==, 0);
        ASSERT_OR_RETURN(unsent);
        g_assert_cmpuint(unsent->id, ==, 5);
        request_free(unsent);
        g_assert_cmpuint(f->clock.last_id, ==, 4);
        g_assert_cmpuint(request_list_pending(&f->list, ENDPOINT_CLIENT), ==, 2);

        /* Another connection's list counts on from the same counter: unique in the daemon. */
        g_assert_cmpint(request_list_init(&other, &f->clock, &f->quota, "com.example.echo", 1), ==, 0);
        g_assert_cmpint(request_new(&other, f->d, ENDPOINT_CLIENT, UID, SIZE, &unsent, &error), ==, 0);
        ASSERT_OR_RETURN(unsent);
        g_assert_cmpuint(unsent->id, ==, 5);
        request_free(unsent);
        request_list_done(&other);

}

static void test_find(Fixture *f, gconstpointer data) {
        Outcome *from_client = &f->o[0], *from_provider = &f->o[1];
        Request *c, *p;
        uint64_t id;

        c = start(f, ENDPOINT_CLIENT, from_client);
        p = start(f, ENDPOINT_PROVIDER, from_provider);
        ASSERT_OR_RETURN(c && p);

        /* Only the other endpoint answers. */
        g_assert_true(request_list_find(&f->list, ENDPOINT_PROVIDER, c->id) == c);
        g_assert_null(request_list_find(&f->list, ENDPOINT_CLIENT, c->id));
        g_assert_true(request_list_find(&f->list, ENDPOINT_CLIENT, p->id) == p);
        g_assert_null(request_list_find(&f->list, ENDPOINT_PROVIDER, p->id));
        /* Never sent. */
        g_assert_null(request_list_find(&f->list, ENDPOINT_PROVIDER, 0));
        g_assert_null(request_list_find(&f->list, ENDPOINT_PROVIDER, p->id + 1));

        /* A peer connected to its own service answers either. */
        f->list.loopback = true;
        g_assert_true(request_list_find(&f->list, ENDPOINT_CLIENT, c->id) == c);
        g_assert_true(request_list_find(&f->list, ENDPOINT_PROVIDER, p->id) == p);
        f->list.loopback = false;

        /* Gone once answered. */
        id = c->id;
        request_answered(c, RESPONSE);
        g_assert_null(request_list_find(&f->list, ENDPOINT_PROVIDER, id));

}

static void test_answer(Fixture *f, gconstpointer data) {
        Outcome *o = &f->o[0];
        Request *r;
        uint64_t id;

        f->d->request_timeout_usec = 20 * 1000;
        r = start(f, ENDPOINT_CLIENT, o);
        ASSERT_OR_RETURN(r);
        id = r->id;
        g_assert_cmpuint(f->quota.bytes_held, ==, SIZE + QUOTA_REQUEST_OVERHEAD);
        g_assert_cmpuint(user_requests(f, UID), ==, 1);

        request_answered(r, RESPONSE);
        g_assert_cmpuint(o->answered, ==, 1);
        g_assert_cmpuint(o->failed, ==, 0);
        g_assert_true(o->response == RESPONSE);
        /* Unlinked and given back before the completion ran. */
        g_assert_cmpuint(o->pending_seen, ==, 0);
        g_assert_cmpuint(o->bytes_held_seen, ==, 0);
        assert_nothing_charged(f);
        g_assert_null(request_list_find(&f->list, ENDPOINT_PROVIDER, id));
        g_assert_true(request_list_is_empty(&f->list));

        /* Nothing more, past the timeout (the shared timer may wake once, for nothing). */
        g_assert_cmpuint(run_for(f, 60 * 1000), <=, 1);
        g_assert_cmpuint(o->answered, ==, 1);
        g_assert_cmpuint(o->failed, ==, 0);
        g_assert_cmpuint(f->n_failing, ==, 0);
        g_assert_cmpuint(f->n_timed_out, ==, 0);
}

/* An answer that went into the requester's own message: handed over as the answer is. */
static void test_replied(Fixture *f, gconstpointer data) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Completion c = { .ops = &reply_ops, .userdata = &f->o[0] };
        sd_bus_message *reply = NULL;
        Outcome *o = &f->o[0];
        Request *r = NULL;

        o->fixture = f;
        g_assert_cmpint(request_new(&f->list, f->d, ENDPOINT_CLIENT, UID, SIZE, &r, &error), ==, 0);
        ASSERT_OR_RETURN(r);
        request_start(r, &c);
        g_assert_cmpint(completion_new_reply(&r->completion, &reply), ==, 0);
        g_assert_true(reply == REPLY);

        request_replied(r, reply);
        g_assert_cmpuint(o->replied, ==, 1);
        g_assert_cmpuint(o->answered + o->failed, ==, 0);
        g_assert_true(o->response == REPLY);
        g_assert_cmpuint(o->pending_seen, ==, 0);
        g_assert_cmpuint(o->bytes_held_seen, ==, 0);
        assert_nothing_charged(f);

        /* One that takes the answer itself makes nothing. */
        reply = REPLY;
        ASSERT_OR_RETURN((r = start(f, ENDPOINT_CLIENT, &f->o[1])));
        g_assert_cmpint(completion_new_reply(&r->completion, &reply), ==, 0);
        g_assert_null(reply);
        request_answered(r, RESPONSE);
}

static void test_timeout(Fixture *f, gconstpointer data) {
        Outcome *slow = &f->o[0], *fast = &f->o[1];
        Request *r;

        f->d->request_timeout_usec = 10 * 1000 * 1000;
        r = start(f, ENDPOINT_PROVIDER, slow);
        f->d->request_timeout_usec = 5 * 1000;
        ASSERT_OR_RETURN(r && start(f, ENDPOINT_CLIENT, fast));
        g_assert_cmpuint(user_requests(f, UID), ==, 2);

        g_assert_true(run_until(f, &fast->failed, 1, 2 * 1000 * 1000));
        g_assert_cmpuint(fast->failed, ==, 1);
        g_assert_cmpuint(fast->answered, ==, 0);
        g_assert_cmpstr(fast->error_name, ==, APPSERVICE_ERROR_TIMEOUT);
        g_assert_cmpstr(fast->error_message, ==, "app service 'com.example.echo': no response within 0.005 s");
        g_assert_cmpuint(f->n_failing, ==, 1);
        g_assert_cmpstr(f->failing_name, ==, APPSERVICE_ERROR_TIMEOUT);
        g_assert_cmpuint(f->n_timed_out, ==, 1);
        g_assert_cmpuint(fast->pending_seen, ==, 1);  /* the slow one only */

        /* Its charge is back; the slow one's is still held. */
        g_assert_cmpuint(user_requests(f, UID), ==, 1);
        g_assert_cmpuint(f->quota.bytes_held, ==, SIZE + QUOTA_REQUEST_OVERHEAD);
        g_assert_cmpuint(request_list_pending(&f->list, ENDPOINT_CLIENT), ==, 0);
        g_assert_cmpuint(request_list_pending(&f->list, ENDPOINT_PROVIDER), ==, 1);
        g_assert_cmpuint(slow->failed + slow->answered, ==, 0);

        request_answered(r, RESPONSE);
        assert_nothing_charged(f);
}

static void test_close(Fixture *f, gconstpointer data) {
        static const char *const reasons[_ENDPOINT_MAX] = {
                [ENDPOINT_CLIENT] = "the provider left the bus",
                [ENDPOINT_PROVIDER] = "the client left the bus",
        };
        Outcome *o = f->o;

        f->d->request_timeout_usec = 5 * 1000;
        ASSERT_OR_RETURN(start(f, ENDPOINT_CLIENT, &o[0]) && start(f, ENDPOINT_PROVIDER, &o[1]) &&
                         start(f, ENDPOINT_CLIENT, &o[2]));
        g_assert_cmpuint(user_requests(f, UID), ==, 3);

        request_list_close(&f->list, reasons);
        for (size_t i = 0; i < 3; i++) {
                g_assert_cmpuint(o[i].failed, ==, 1);
                g_assert_cmpuint(o[i].answered, ==, 0);
                g_assert_cmpstr(o[i].error_name, ==, APPSERVICE_ERROR_CLOSED);
        }
        g_assert_cmpstr(o[0].error_message, ==, "app service 'com.example.echo': connection 4711 closed before "
                        "the response came: the provider left the bus");
        g_assert_cmpstr(o[1].error_message, ==, "app service 'com.example.echo': connection 4711 closed before "
                        "the response came: the client left the bus");
        g_assert_cmpuint(f->n_failing, ==, 3);
        g_assert_cmpstr(f->failing_name, ==, APPSERVICE_ERROR_CLOSED);
        g_assert_true(request_list_is_empty(&f->list));
        g_assert_cmpuint(request_list_pending(&f->list, ENDPOINT_CLIENT), ==, 0);
        g_assert_cmpuint(request_list_pending(&f->list, ENDPOINT_PROVIDER), ==, 0);
        assert_nothing_charged(f);

        /* Their deadlines are gone: exactly once (the shared timer may wake once, for nothing). */
        g_assert_cmpuint(run_for(f, 30 * 1000), <=, 1);
        for (size_t i = 0; i < 3; i++) {
                g_assert_cmpuint(o[i].failed, ==, 1);
        }
        g_assert_cmpuint(f->n_failing, ==, 3);
        g_assert_cmpuint(f->n_timed_out, ==, 0);
}

static void test_fail_one(Fixture *f, gconstpointer data) {
        Outcome *o = f->o;
        Request *r;

        ASSERT_OR_RETURN((r = start(f, ENDPOINT_CLIENT, &o[0])) && start(f, ENDPOINT_CLIENT, &o[1]));
        request_fail(r, "com.example.Error.Test", "test %d", 42);
        g_assert_cmpuint(o[0].failed, ==, 1);
        g_assert_cmpstr(o[0].error_name, ==, "com.example.Error.Test");
        g_assert_cmpstr(o[0].error_message, ==, "test 42");
        g_assert_cmpuint(o[1].failed + o[1].answered, ==, 0);
        g_assert_cmpuint(request_list_pending(&f->list, ENDPOINT_CLIENT), ==, 1);
        g_assert_cmpuint(user_requests(f, UID), ==, 1);
        g_assert_cmpuint(f->n_timed_out, ==, 0);
}

static void test_pending(Fixture *f, gconstpointer data) {
        Outcome *o = f->o;
        Request *r[5];
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Request *unsent = NULL;

        r[0] = start(f, ENDPOINT_CLIENT, &o[0]);
        r[1] = start(f, ENDPOINT_CLIENT, &o[1]);
        r[2] = start(f, ENDPOINT_PROVIDER, &o[2]);
        g_assert_cmpuint(request_list_pending(&f->list, ENDPOINT_CLIENT), ==, 2);
        g_assert_cmpuint(request_list_pending(&f->list, ENDPOINT_PROVIDER), ==, 1);

        /* Not pending until started. */
        g_assert_cmpint(request_new(&f->list, f->d, ENDPOINT_PROVIDER, UID, SIZE, &unsent, &error), ==, 0);
        g_assert_cmpuint(request_list_pending(&f->list, ENDPOINT_PROVIDER), ==, 1);
        request_free(unsent);

        ASSERT_OR_RETURN(r[0] && r[1] && r[2]);
        request_answered(r[0], RESPONSE);
        g_assert_cmpuint(request_list_pending(&f->list, ENDPOINT_CLIENT), ==, 1);
        request_fail(r[2], APPSERVICE_ERROR_TIMEOUT, "gone");
        g_assert_cmpuint(request_list_pending(&f->list, ENDPOINT_PROVIDER), ==, 0);
        g_assert_cmpuint(request_list_pending(&f->list, ENDPOINT_CLIENT), ==, 1);
        g_assert_false(request_list_is_empty(&f->list));
        request_answered(r[1], RESPONSE);
        g_assert_true(request_list_is_empty(&f->list));
        assert_nothing_charged(f);
}

static void test_max_pending(Fixture *f, gconstpointer data) {
        g_autofree char *name = NULL, *again = NULL;
        Outcome *o = f->o;
        Request *first;
        uint64_t held;

        f->d->max_pending_requests = 2;
        first = start(f, ENDPOINT_CLIENT, &o[0]);
        ASSERT_OR_RETURN(first && start(f, ENDPOINT_CLIENT, &o[1]));
        held = f->quota.bytes_held;

        name = refused(f, ENDPOINT_CLIENT, UID);
        g_assert_cmpstr(name, ==, APPSERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED);
        g_assert_cmpuint(f->quota.bytes_held, ==, held);  /* nothing charged for it */
        g_assert_cmpuint(f->clock.last_id, ==, 2);
        g_assert_cmpuint(request_list_pending(&f->list, ENDPOINT_CLIENT), ==, 2);

        /* The limit is per endpoint. */
        ASSERT_OR_RETURN(start(f, ENDPOINT_PROVIDER, &o[2]));

        /* One answered makes room. */
        request_answered(first, RESPONSE);
        outcome_done(&o[0]);
        ASSERT_OR_RETURN(start(f, ENDPOINT_CLIENT, &o[0]));
        again = refused(f, ENDPOINT_CLIENT, UID);
        g_assert_cmpstr(again, ==, APPSERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED);
}

static void test_quota_refused(Fixture *f, gconstpointer data) {
        g_autofree char *name = NULL;
        Outcome *o = &f->o[0];

        f->quota.limits.max_requests_per_user = 1;
        ASSERT_OR_RETURN(start(f, ENDPOINT_CLIENT, o));
        name = refused(f, ENDPOINT_PROVIDER, UID);
        g_assert_cmpstr(name, ==, APPSERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED);
        g_assert_cmpuint(user_requests(f, UID), ==, 1);
        g_assert_cmpuint(request_list_pending(&f->list, ENDPOINT_PROVIDER), ==, 0);
        g_assert_cmpuint(f->n_failing, ==, 0);
}

/* The timer is set for the first deadline; the request it was set for is answered, and the next
 * one still times out at its own deadline, not before. */
static void test_timeout_after_answer(Fixture *f, gconstpointer data) {
        Outcome *first = &f->o[0], *second = &f->o[1];
        Request *r;
        gint64 started;

        f->d->request_timeout_usec = 5 * 1000;
        r = start(f, ENDPOINT_CLIENT, first);
        f->d->request_timeout_usec = 40 * 1000;
        started = g_get_monotonic_time();
        ASSERT_OR_RETURN(r && start(f, ENDPOINT_CLIENT, second));
        request_answered(r, RESPONSE);

        g_assert_true(run_until(f, &second->failed, 1, 2 * 1000 * 1000));
        g_assert_cmpstr(second->error_name, ==, APPSERVICE_ERROR_TIMEOUT);
        g_assert_cmpint(second->failed_at - started, >=, 40 * 1000);
        g_assert_cmpuint(first->failed, ==, 0);
        g_assert_cmpuint(f->n_timed_out, ==, 1);
        assert_nothing_charged(f);
}

/* Due at once: they fail oldest first, in one wake-up or several. */
static void test_timeout_order(Fixture *f, gconstpointer data) {
        Outcome *o = f->o;

        f->d->request_timeout_usec = 5 * 1000;
        for (size_t i = 0; i < 4; i++)
                ASSERT_OR_RETURN(start(f, ENDPOINT_CLIENT, &o[i]));
        g_assert_true(run_until(f, &f->n_timed_out, 4, 2 * 1000 * 1000));
        for (size_t i = 0; i < 4; i++) {
                g_assert_cmpuint(o[i].failed, ==, 1);
                g_assert_cmpuint(o[i].failed_order, ==, i + 1);
        }
        g_assert_true(request_list_is_empty(&f->list));
        assert_nothing_charged(f);
}

/* Another list's owner frees its list when its request times out (a one-shot connection): the
 * timer goes on with this list. */
typedef struct Other {
        RequestList list;
        bool freed;
} Other;

static void other_timed_out(void *userdata) {
        Other *other = userdata;

        request_list_done(&other->list);
        other->freed = true;
}

static const RequestListOps other_ops = {
        .timed_out = other_timed_out,
};

static void test_timeout_lists(Fixture *f, gconstpointer data) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Completion c = { .ops = &outcome_ops, .userdata = &f->o[0] };
        Outcome *mine = &f->o[1], *later = &f->o[2];
        Other other = {};
        Request *r = NULL;

        f->d->request_timeout_usec = 5 * 1000;
        g_assert_cmpint(request_list_init(&other.list, &f->clock, &f->quota, "com.example.echo", 1), ==, 0);
        other.list.ops = &other_ops;
        other.list.userdata = &other;
        f->o[0].fixture = f;
        g_assert_cmpint(request_new(&other.list, f->d, ENDPOINT_CLIENT, UID, SIZE, &r, &error), ==, 0);
        ASSERT_OR_RETURN(r);
        request_start(r, &c);
        ASSERT_OR_RETURN(start(f, ENDPOINT_CLIENT, mine));

        g_assert_true(run_until(f, &mine->failed, 1, 2 * 1000 * 1000));
        g_assert_cmpuint(f->o[0].failed, ==, 1);
        g_assert_cmpstr(f->o[0].error_name, ==, APPSERVICE_ERROR_TIMEOUT);
        g_assert_true(other.freed);
        g_assert_cmpstr(mine->error_name, ==, APPSERVICE_ERROR_TIMEOUT);

        /* And it still keeps time. */
        ASSERT_OR_RETURN(start(f, ENDPOINT_PROVIDER, later));
        g_assert_true(run_until(f, &later->failed, 1, 2 * 1000 * 1000));
        g_assert_cmpstr(later->error_name, ==, APPSERVICE_ERROR_TIMEOUT);
        assert_nothing_charged(f);
}

int main(int argc, char *argv[]) {
        unit_test_init(&argc, &argv);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("/request/ids", test_ids);
        ADD("/request/find", test_find);
        ADD("/request/answer", test_answer);
        ADD("/request/replied", test_replied);
        ADD("/request/timeout", test_timeout);
        ADD("/request/timeout-after-answer", test_timeout_after_answer);
        ADD("/request/timeout-order", test_timeout_order);
        ADD("/request/timeout-lists", test_timeout_lists);
        ADD("/request/close", test_close);
        ADD("/request/fail-one", test_fail_one);
        ADD("/request/pending", test_pending);
        ADD("/request/max-pending", test_max_pending);
        ADD("/request/quota-refused", test_quota_refused);
#undef ADD
        return g_test_run();
}
