/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The events of one connection without a bus (README.md, "Events"): a sender of our own records
 * what would go out and answers when a test says so, so that the window, the queue's bound, Lost
 * and the forming of `edges` events can be checked exactly. */

#include "event-queue.h"

typedef struct {
        EventQueue *queue;
        GPtrArray *sent; /* GVariant a{sv}, in the order sent */
        guint answered;  /* of them */
        GRefString *chip;
        GRefString *names[8];
        guint64 seqno; /* the last edge made, across the fixture's requests */
        guint64 line_seqno[8];
        gboolean high[8];
} Fixture;

static void record(EventQueue *queue, GVariant *message, gpointer user_data) {
        Fixture *f = user_data;

        g_assert_true(g_variant_is_of_type(message, G_VARIANT_TYPE_VARDICT));
        g_ptr_array_add(f->sent, g_variant_ref_sink(message));
}

static void set_up(Fixture *f, guint window, guint length) {
        f->queue = event_queue_new_with_sender(record, f, NULL, window, length);
        f->sent = g_ptr_array_new_with_free_func((GDestroyNotify) g_variant_unref);
        f->chip = g_ref_string_new("gpiochip7");
        for (guint i = 0; i < G_N_ELEMENTS(f->names); i++) {
                g_autofree char *name = i % 2 ? g_strdup("") : g_strdup_printf("line-%u", i);

                f->names[i] = g_ref_string_new(name);
        }
}

static void tear_down(Fixture *f) {
        event_queue_close(f->queue);
        /* What is in flight still gets its answer after the close, and sends nothing more. */
        while (event_queue_get_in_flight(f->queue) > 0) {
                guint before = f->sent->len;

                event_queue_answered(f->queue);
                g_assert_cmpuint(f->sent->len, ==, before);
        }
        event_queue_unref(f->queue);
        g_ptr_array_unref(f->sent);
        g_ref_string_release(f->chip);
        for (guint i = 0; i < G_N_ELEMENTS(f->names); i++)
                g_ref_string_release(f->names[i]);
}

/* @n edges on @offset of request @id with @edge_batch, read together: alternating, each with the
 * next seqno, its timestamp 1000 × the seqno. */
static void make_edges(Fixture *f, guint32 id, guint edge_batch, guint offset, guint n) {
        g_autofree EdgeEvent *edges = g_new0(EdgeEvent, n);
        g_autofree const char **names = g_new0(const char *, n);
        EdgeSource source = { .request_id = id, .chip = f->chip, .edge_batch = edge_batch };

        for (guint i = 0; i < n; i++) {
                f->high[offset] = !f->high[offset];
                f->seqno++;
                f->line_seqno[offset]++;
                edges[i] = (EdgeEvent){
                        .offset = offset,
                        .rising = f->high[offset],
                        .global_seqno = f->seqno,
                        .line_seqno = f->line_seqno[offset],
                        .timestamp_ns = f->seqno * 1000,
                };
                names[i] = f->names[offset];
        }
        event_queue_push_edges(f->queue, &source, edges, names, n);
}

/* Answers the oldest event not answered yet. */
static void answer(Fixture *f) {
        g_assert_cmpuint(f->answered, <, f->sent->len);
        f->answered++;
        event_queue_answered(f->queue);
}

static void answer_all(Fixture *f) {
        while (f->answered < f->sent->len)
                answer(f);
}

static GVariant *sent(Fixture *f, guint i) {
        g_assert_cmpuint(i, <, f->sent->len);
        return f->sent->pdata[i];
}

static const char *event_of(GVariant *message) {
        const char *event = NULL;

        g_assert_true(g_variant_lookup(message, "Event", "&s", &event));
        return event;
}

static guint64 lost_of(GVariant *message) {
        guint64 lost = G_MAXUINT64;

        g_assert_true(g_variant_lookup(message, "Lost", "t", &lost));
        return lost;
}

/* The keys of an `edges` event, each of its type, and arrays of one length: returns it. */
static gsize check_edges_message(GVariant *message) {
        static const struct {
                const char *key;
                const char *type;
        } keys[] = {
                { "Event", "s" },         { "Request", "u" },      { "Chip", "s" },         { "Lines", "au" },
                { "Edges", "as" },        { "TimestampsNs", "at" }, { "GlobalSeqnos", "at" }, { "LineSeqnos", "at" },
                { "Lost", "t" },
        };
        gsize n = G_MAXSIZE;

        g_assert_cmpstr(event_of(message), ==, "edges");
        g_assert_cmpuint(g_variant_n_children(message), ==, G_N_ELEMENTS(keys));
        for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
                g_autoptr(GVariant) value = g_variant_lookup_value(message, keys[i].key, NULL);

                g_assert_nonnull(value);
                g_assert_cmpstr(g_variant_get_type_string(value), ==, keys[i].type);
                if (keys[i].type[0] != 'a')
                        continue;
                if (n == G_MAXSIZE)
                        n = g_variant_n_children(value);
                g_assert_cmpuint(g_variant_n_children(value), ==, n);
        }
        g_assert_cmpuint(n, >=, 1);
        return n;
}

static GVariant *array_of(GVariant *message, const char *key) {
        GVariant *value = g_variant_lookup_value(message, key, NULL);

        g_assert_nonnull(value);
        return value;
}

static guint64 seqno_at(GVariant *message, gsize i) {
        g_autoptr(GVariant) seqnos = array_of(message, "GlobalSeqnos");
        gsize n;
        const guint64 *v = g_variant_get_fixed_array(seqnos, &n, sizeof(guint64));

        g_assert_cmpuint(i, <, n);
        return v[i];
}

/* Every edge sent, in order, as (request, global seqno) pairs from `edge` and `edges` events. */
typedef struct {
        guint32 request;
        guint64 seqno;
        guint64 lost_before; /* the Lost of its event, on its first edge; 0 on the others */
} Delivered;

static GArray *delivered_edges(Fixture *f) {
        GArray *out = g_array_new(FALSE, TRUE, sizeof(Delivered));

        for (guint i = 0; i < f->sent->len; i++) {
                GVariant *m = sent(f, i);
                guint32 request = 0;
                const char *event = event_of(m);

                g_assert_true(g_variant_lookup(m, "Request", "u", &request));
                if (g_str_equal(event, "edges")) {
                        gsize n = check_edges_message(m);

                        for (gsize k = 0; k < n; k++) {
                                Delivered d = { request, seqno_at(m, k), k == 0 ? lost_of(m) : 0 };

                                g_array_append_val(out, d);
                        }
                } else if (g_str_equal(event, "edge")) {
                        Delivered d = { request, 0, lost_of(m) };

                        g_assert_true(g_variant_lookup(m, "GlobalSeqno", "t", &d.seqno));
                        g_array_append_val(out, d);
                }
        }
        return out;
}

/* ---- the tests ------------------------------------------------------------------------------ */

/* EdgeBatch 0: one `edge` event per edge, with the keys of before, Name included. */
static void test_edge_events_unchanged(void) {
        Fixture f = { 0 };
        const char *name = NULL, *edge = NULL, *chip = NULL;
        guint32 line = 0, request = 0;
        guint64 ts = 0, seqno = 0, line_seqno = 0;

        set_up(&f, 16, 1024);
        make_edges(&f, 3, 0, 2, 5);
        g_assert_cmpuint(f.sent->len, ==, 5);
        for (guint i = 0; i < 5; i++) {
                GVariant *m = sent(&f, i);

                g_assert_cmpstr(event_of(m), ==, "edge");
                g_assert_cmpuint(g_variant_n_children(m), ==, 10);
                g_assert_true(g_variant_lookup(m, "Request", "u", &request));
                g_assert_true(g_variant_lookup(m, "Chip", "&s", &chip));
                g_assert_true(g_variant_lookup(m, "Line", "u", &line));
                g_assert_true(g_variant_lookup(m, "Name", "&s", &name));
                g_assert_true(g_variant_lookup(m, "Edge", "&s", &edge));
                g_assert_true(g_variant_lookup(m, "TimestampNs", "t", &ts));
                g_assert_true(g_variant_lookup(m, "GlobalSeqno", "t", &seqno));
                g_assert_true(g_variant_lookup(m, "LineSeqno", "t", &line_seqno));
                g_assert_cmpuint(request, ==, 3);
                g_assert_cmpstr(chip, ==, "gpiochip7");
                g_assert_cmpuint(line, ==, 2);
                g_assert_cmpstr(name, ==, "line-2");
                g_assert_cmpstr(edge, ==, i % 2 ? "falling" : "rising");
                g_assert_cmpuint(seqno, ==, i + 1);
                g_assert_cmpuint(line_seqno, ==, i + 1);
                g_assert_cmpuint(ts, ==, (i + 1) * 1000);
                g_assert_cmpuint(lost_of(m), ==, 0);
        }
        tear_down(&f);
}

/* An edge that finds the window open leaves at once, alone: no waiting for company. */
static void test_single_edge_leaves_at_once(void) {
        Fixture f = { 0 };
        g_autoptr(GVariant) lines = NULL, edges = NULL, stamps = NULL, line_seqnos = NULL;
        const char *chip = NULL;
        guint32 request = 0;

        set_up(&f, 16, 1024);
        make_edges(&f, 9, 64, 5, 1);
        g_assert_cmpuint(f.sent->len, ==, 1);
        g_assert_cmpuint(check_edges_message(sent(&f, 0)), ==, 1);
        g_assert_true(g_variant_lookup(sent(&f, 0), "Request", "u", &request));
        g_assert_true(g_variant_lookup(sent(&f, 0), "Chip", "&s", &chip));
        g_assert_cmpuint(request, ==, 9);
        g_assert_cmpstr(chip, ==, "gpiochip7");
        lines = array_of(sent(&f, 0), "Lines");
        edges = array_of(sent(&f, 0), "Edges");
        stamps = array_of(sent(&f, 0), "TimestampsNs");
        line_seqnos = array_of(sent(&f, 0), "LineSeqnos");
        {
                g_autoptr(GVariant) first = g_variant_get_child_value(edges, 0);
                g_autoptr(GVariant) line = g_variant_get_child_value(lines, 0);
                g_autoptr(GVariant) stamp = g_variant_get_child_value(stamps, 0);
                g_autoptr(GVariant) line_seqno = g_variant_get_child_value(line_seqnos, 0);

                g_assert_cmpstr(g_variant_get_string(first, NULL), ==, "rising");
                g_assert_cmpuint(g_variant_get_uint32(line), ==, 5);
                g_assert_cmpuint(g_variant_get_uint64(stamp), ==, 1000);
                g_assert_cmpuint(g_variant_get_uint64(line_seqno), ==, 1);
        }
        g_assert_cmpuint(seqno_at(sent(&f, 0), 0), ==, 1);
        g_assert_cmpuint(lost_of(sent(&f, 0)), ==, 0);
        tear_down(&f);
}

/* The edges of one read leave in one event when the window has room. */
static void test_one_read_one_event(void) {
        Fixture f = { 0 };

        set_up(&f, 16, 1024);
        make_edges(&f, 1, 64, 0, 40);
        g_assert_cmpuint(f.sent->len, ==, 1);
        g_assert_cmpuint(check_edges_message(sent(&f, 0)), ==, 40);
        for (guint i = 0; i < 40; i++)
                g_assert_cmpuint(seqno_at(sent(&f, 0), i), ==, i + 1);
        tear_down(&f);
}

/* While the window is full, edges gather; each answer lets out what waits, up to EdgeBatch per
 * event, in order. */
static void test_batches_form_while_the_window_is_full(void) {
        Fixture f = { 0 };
        g_autoptr(GArray) all = NULL;

        set_up(&f, 2, 1024);
        make_edges(&f, 1, 4, 0, 1);
        make_edges(&f, 1, 4, 0, 1);
        g_assert_cmpuint(f.sent->len, ==, 2);
        g_assert_cmpuint(event_queue_get_in_flight(f.queue), ==, 2);
        for (guint i = 0; i < 9; i++)
                make_edges(&f, 1, 4, 0, 1);
        g_assert_cmpuint(f.sent->len, ==, 2);
        g_assert_cmpuint(event_queue_get_waiting_edges(f.queue), ==, 9);

        answer(&f);
        g_assert_cmpuint(f.sent->len, ==, 3);
        g_assert_cmpuint(check_edges_message(sent(&f, 2)), ==, 4);
        answer(&f);
        g_assert_cmpuint(check_edges_message(sent(&f, 3)), ==, 4);
        answer(&f);
        g_assert_cmpuint(check_edges_message(sent(&f, 4)), ==, 1);
        g_assert_cmpuint(event_queue_get_waiting_edges(f.queue), ==, 0);
        answer_all(&f);
        g_assert_cmpuint(f.sent->len, ==, 5);

        all = delivered_edges(&f);
        g_assert_cmpuint(all->len, ==, 11);
        for (guint i = 0; i < all->len; i++) {
                g_assert_cmpuint(g_array_index(all, Delivered, i).seqno, ==, i + 1);
                g_assert_cmpuint(g_array_index(all, Delivered, i).lost_before, ==, 0);
        }
        tear_down(&f);
}

/* A run of one request's edges ends at another request's edge and at a released event: events
 * leave in the order their edges came. Lost rides on whatever goes next. */
static void test_runs_end_at_other_events(void) {
        Fixture f = { 0 };
        g_autoptr(GArray) all = NULL;
        const char *reason = NULL;

        set_up(&f, 1, 1024);
        make_edges(&f, 1, 8, 0, 1); /* in flight */
        make_edges(&f, 1, 8, 0, 3);
        make_edges(&f, 2, 8, 1, 2);
        make_edges(&f, 3, 0, 2, 2); /* `edge` events */
        make_edges(&f, 1, 8, 0, 2);
        event_queue_push_released(f.queue, 2, "gpiochip7", "chip-removed");
        make_edges(&f, 2, 8, 1, 1);
        g_assert_cmpuint(f.sent->len, ==, 1);
        g_assert_cmpuint(event_queue_get_waiting_edges(f.queue), ==, 10);

        answer_all(&f);
        g_assert_cmpuint(f.sent->len, ==, 8);
        g_assert_cmpuint(check_edges_message(sent(&f, 1)), ==, 3);
        g_assert_cmpuint(check_edges_message(sent(&f, 2)), ==, 2);
        g_assert_cmpstr(event_of(sent(&f, 3)), ==, "edge");
        g_assert_cmpstr(event_of(sent(&f, 4)), ==, "edge");
        g_assert_cmpuint(check_edges_message(sent(&f, 5)), ==, 2);
        g_assert_cmpstr(event_of(sent(&f, 6)), ==, "released");
        g_assert_true(g_variant_lookup(sent(&f, 6), "Reason", "&s", &reason));
        g_assert_cmpstr(reason, ==, "chip-removed");
        g_assert_cmpuint(check_edges_message(sent(&f, 7)), ==, 1);

        all = delivered_edges(&f);
        g_assert_cmpuint(all->len, ==, 11);
        for (guint i = 0; i < all->len; i++)
                g_assert_cmpuint(g_array_index(all, Delivered, i).seqno, ==, i + 1);
        tear_down(&f);
}

/* A client that never answers: `window` events in flight, at most `length` edges waiting
 * whatever comes, the rest dropped oldest first and counted; once it answers, the first event
 * sent carries the count, the gaps in the seqnos are exactly what it counted, and nothing is
 * left held. */
static void check_stalled(guint window, guint length, guint edge_batch, guint reads, guint per_read) {
        Fixture f = { 0 };
        g_autoptr(GArray) all = NULL;
        guint64 total = (guint64) reads * per_read, lost = 0, prev = 0;
        guint first_after;

        set_up(&f, window, length);
        for (guint i = 0; i < reads; i++) {
                make_edges(&f, 4, edge_batch, 3, per_read);
                g_assert_cmpuint(event_queue_get_in_flight(f.queue), <=, window);
                g_assert_cmpuint(event_queue_get_waiting_edges(f.queue), <=, length);
        }
        g_assert_cmpuint(f.sent->len, ==, window);
        g_assert_cmpuint(event_queue_get_waiting_edges(f.queue), ==, length);

        first_after = f.sent->len;
        answer_all(&f);
        g_assert_cmpuint(event_queue_get_waiting_edges(f.queue), ==, 0);
        g_assert_cmpuint(event_queue_get_in_flight(f.queue), ==, 0);
        g_assert_cmpuint(event_queue_get_lost(f.queue), ==, 0);

        all = delivered_edges(&f);
        for (guint i = 0; i < all->len; i++) {
                const Delivered *d = &g_array_index(all, Delivered, i);

                g_assert_cmpuint(d->seqno, >, prev);
                g_assert_cmpuint(d->seqno - prev - 1, ==, d->lost_before);
                lost += d->lost_before;
                prev = d->seqno;
        }
        /* The newest edge is always delivered. */
        g_assert_cmpuint(prev, ==, total);
        g_assert_cmpuint(all->len + lost, ==, total);
        g_assert_cmpuint(lost_of(sent(&f, first_after)), ==, lost);
        for (guint i = first_after + 1; i < f.sent->len; i++)
                g_assert_cmpuint(lost_of(sent(&f, i)), ==, 0);
        /* What waited is the newest `length`, all of them delivered after the stall. */
        {
                guint64 after = 0;

                for (guint i = first_after; i < f.sent->len; i++)
                        after += edge_batch ? check_edges_message(sent(&f, i)) : 1;
                g_assert_cmpuint(after, ==, length);
                if (edge_batch)
                        g_assert_cmpuint(f.sent->len - first_after, ==, (length + edge_batch - 1) / edge_batch);
        }
        tear_down(&f);
}

static void test_stalled_client_batched(void) {
        check_stalled(4, 8, 3, 60, 1);
        check_stalled(4, 8, 3, 6, 10);
        check_stalled(16, 1024, 64, 40, 64);
        check_stalled(16, 1024, EDGE_BATCH_MAX, 18, 1024);
        check_stalled(1, 1, 16, 10, 5);
}

static void test_stalled_client_edge_events(void) {
        check_stalled(4, 8, 0, 60, 1);
        check_stalled(16, 1024, 0, 40, 64);
}

/* A read larger than the window and the queue together: the oldest go out, the newest wait, the
 * middle is lost, all counted. */
static void test_one_read_over_the_bound(void) {
        Fixture f = { 0 };

        set_up(&f, 2, 8);
        make_edges(&f, 1, 4, 0, 100);
        g_assert_cmpuint(f.sent->len, ==, 2);
        g_assert_cmpuint(check_edges_message(sent(&f, 0)), ==, 4);
        g_assert_cmpuint(seqno_at(sent(&f, 1), 0), ==, 5);
        g_assert_cmpuint(event_queue_get_waiting_edges(f.queue), ==, 8);
        g_assert_cmpuint(event_queue_get_lost(f.queue), ==, 100 - 8 - 8);
        answer(&f);
        g_assert_cmpuint(lost_of(sent(&f, 2)), ==, 84);
        g_assert_cmpuint(seqno_at(sent(&f, 2), 0), ==, 93);
        tear_down(&f);
}

/* After the connection closed: nothing is sent, edges are only counted. */
static void test_closed(void) {
        Fixture f = { 0 };

        set_up(&f, 2, 8);
        make_edges(&f, 1, 4, 0, 1);
        event_queue_close(f.queue);
        make_edges(&f, 1, 4, 0, 10);
        event_queue_push_released(f.queue, 1, "gpiochip7", "chip-removed");
        answer(&f);
        g_assert_cmpuint(f.sent->len, ==, 1);
        g_assert_cmpuint(event_queue_get_waiting_edges(f.queue), ==, 0);
        tear_down(&f);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/gpio/event-queue/edge-events-unchanged", test_edge_events_unchanged);
        g_test_add_func("/gpio/event-queue/single-edge-leaves-at-once", test_single_edge_leaves_at_once);
        g_test_add_func("/gpio/event-queue/one-read-one-event", test_one_read_one_event);
        g_test_add_func("/gpio/event-queue/batches-form-while-the-window-is-full",
                        test_batches_form_while_the_window_is_full);
        g_test_add_func("/gpio/event-queue/runs-end-at-other-events", test_runs_end_at_other_events);
        g_test_add_func("/gpio/event-queue/stalled-client-batched", test_stalled_client_batched);
        g_test_add_func("/gpio/event-queue/stalled-client-edge-events", test_stalled_client_edge_events);
        g_test_add_func("/gpio/event-queue/one-read-over-the-bound", test_one_read_over_the_bound);
        g_test_add_func("/gpio/event-queue/closed", test_closed);

        return g_test_run();
}
