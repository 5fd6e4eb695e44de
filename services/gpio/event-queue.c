/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "event-queue.h"

typedef enum {
        EVENT_EDGE,
        EVENT_RELEASED,
} EventKind;

/* An event waiting to be sent. The message is built when it goes out, with the Lost of then. */
typedef struct {
        EventKind kind;
        guint32 request_id;
        char *chip;         /* GRefString */
        char *line_name;    /* edges with edge_batch 0: GRefString; else NULL */
        guint edge_batch;   /* edges */
        EdgeEvent edge;     /* edges */
        const char *reason; /* released; a literal */
} Event;

struct EventQueue {
        grefcount ref;
        EventSendFunc send; /* NULL: nothing is sent, everything is lost */
        gpointer send_data;
        GDestroyNotify send_data_destroy;
        guint window;
        guint length;
        GQueue waiting; /* Event * */
        guint n_waiting_edges;
        guint in_flight;
        guint64 lost; /* edges dropped since the last event sent */
        gboolean closed;
};

static void event_free(Event *e) {
        g_clear_pointer(&e->chip, g_ref_string_release);
        g_clear_pointer(&e->line_name, g_ref_string_release);
        g_free(e);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Event, event_free)

/* ---- the connection as the sender ----------------------------------------------------------- */

static void on_event_answered(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(EventQueue) q = user_data;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GError) error = NULL;

        /* The client's answer is not read; only that it came (or failed) matters. */
        response =
                app_service_connection_send_message_finish(APP_SERVICE_CONNECTION(source), result, &error);
        if (!response)
                g_debug("an event was not delivered: %s", error->message);
        event_queue_answered(q);
}

static void send_to_connection(EventQueue *q, GVariant *message, gpointer user_data) {
        /* Not waiting for the answer: up to `window` events travel at once. */
        app_service_connection_send_message(APP_SERVICE_CONNECTION(user_data), message, /* cancellable= */ NULL,
                                            on_event_answered, event_queue_ref(q));
}

/* ---- the queue ------------------------------------------------------------------------------ */

EventQueue *event_queue_new_with_sender(EventSendFunc send, gpointer user_data, GDestroyNotify destroy, guint window,
                                        guint length) {
        EventQueue *q = g_new0(EventQueue, 1);

        g_ref_count_init(&q->ref);
        q->send = send;
        q->send_data = user_data;
        q->send_data_destroy = destroy;
        q->window = MAX(window, 1u);
        q->length = length;
        g_queue_init(&q->waiting);
        return q;
}

EventQueue *event_queue_new(AppServiceConnection *connection, guint window, guint length) {
        if (!connection)
                return event_queue_new_with_sender(NULL, NULL, NULL, window, length);
        return event_queue_new_with_sender(send_to_connection, g_object_ref(connection), g_object_unref, window,
                                           length);
}

static void drop_waiting(EventQueue *q) {
        g_queue_clear_full(&q->waiting, (GDestroyNotify) event_free);
        q->n_waiting_edges = 0;
}

void event_queue_close(EventQueue *q) {
        q->closed = TRUE;
        drop_waiting(q);
}

EventQueue *event_queue_ref(EventQueue *q) {
        g_ref_count_inc(&q->ref);
        return q;
}

void event_queue_unref(EventQueue *q) {
        if (!q || !g_ref_count_dec(&q->ref))
                return;
        drop_waiting(q);
        if (q->send_data_destroy)
                q->send_data_destroy(q->send_data);
        g_free(q);
}

guint event_queue_get_in_flight(EventQueue *q) {
        return q->in_flight;
}

guint event_queue_get_waiting_edges(EventQueue *q) {
        return q->n_waiting_edges;
}

guint64 event_queue_get_lost(EventQueue *q) {
        return q->lost;
}

/* ---- messages ------------------------------------------------------------------------------- */

static void add(GVariantBuilder *b, const char *key, GVariant *value) {
        g_variant_builder_add(b, "{sv}", key, value);
}

static const char *edge_name(const EdgeEvent *edge) {
        return edge->rising ? "rising" : "falling";
}

static GVariant *edge_message(const Event *e, guint64 lost) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        add(&b, "Event", g_variant_new_string("edge"));
        add(&b, "Request", g_variant_new_uint32(e->request_id));
        add(&b, "Chip", g_variant_new_string(e->chip));
        add(&b, "Line", g_variant_new_uint32(e->edge.offset));
        add(&b, "Name", g_variant_new_string(e->line_name));
        add(&b, "Edge", g_variant_new_string(edge_name(&e->edge)));
        add(&b, "TimestampNs", g_variant_new_uint64(e->edge.timestamp_ns));
        add(&b, "GlobalSeqno", g_variant_new_uint64(e->edge.global_seqno));
        add(&b, "LineSeqno", g_variant_new_uint64(e->edge.line_seqno));
        add(&b, "Lost", g_variant_new_uint64(lost));
        return g_variant_builder_end(&b);
}

/* Lost rides on released events too: "the next event sent" may be one. */
static GVariant *released_message(const Event *e, guint64 lost) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        add(&b, "Event", g_variant_new_string("released"));
        add(&b, "Request", g_variant_new_uint32(e->request_id));
        add(&b, "Chip", g_variant_new_string(e->chip));
        add(&b, "Reason", g_variant_new_string(e->reason));
        add(&b, "Lost", g_variant_new_uint64(lost));
        return g_variant_builder_end(&b);
}

/* The arrays of one `edges` event, filled edge by edge. */
typedef struct {
        guint n;
        guint32 *lines;
        const char **edges;
        guint64 *timestamps;
        guint64 *global_seqnos;
        guint64 *line_seqnos;
} Batch;

static void batch_init(Batch *batch, guint capacity) {
        batch->n = 0;
        batch->lines = g_new(guint32, capacity);
        batch->edges = g_new(const char *, capacity);
        batch->timestamps = g_new(guint64, capacity);
        batch->global_seqnos = g_new(guint64, capacity);
        batch->line_seqnos = g_new(guint64, capacity);
}

static void batch_clear(Batch *batch) {
        g_free(batch->lines);
        g_free(batch->edges);
        g_free(batch->timestamps);
        g_free(batch->global_seqnos);
        g_free(batch->line_seqnos);
}

static void batch_add(Batch *batch, const EdgeEvent *edge) {
        batch->lines[batch->n] = edge->offset;
        batch->edges[batch->n] = edge_name(edge);
        batch->timestamps[batch->n] = edge->timestamp_ns;
        batch->global_seqnos[batch->n] = edge->global_seqno;
        batch->line_seqnos[batch->n] = edge->line_seqno;
        batch->n++;
}

static GVariant *edges_message(guint32 request_id, const char *chip, const Batch *batch, guint64 lost) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        add(&b, "Event", g_variant_new_string("edges"));
        add(&b, "Request", g_variant_new_uint32(request_id));
        add(&b, "Chip", g_variant_new_string(chip));
        add(&b, "Lines", g_variant_new_fixed_array(G_VARIANT_TYPE_UINT32, batch->lines, batch->n, sizeof(guint32)));
        add(&b, "Edges", g_variant_new_strv(batch->edges, batch->n));
        add(&b, "TimestampsNs", g_variant_new_fixed_array(G_VARIANT_TYPE_UINT64, batch->timestamps, batch->n, sizeof(guint64)));
        add(&b, "GlobalSeqnos", g_variant_new_fixed_array(G_VARIANT_TYPE_UINT64, batch->global_seqnos, batch->n, sizeof(guint64)));
        add(&b, "LineSeqnos", g_variant_new_fixed_array(G_VARIANT_TYPE_UINT64, batch->line_seqnos, batch->n, sizeof(guint64)));
        add(&b, "Lost", g_variant_new_uint64(lost));
        return g_variant_builder_end(&b);
}

/* ---- sending -------------------------------------------------------------------------------- */

static gboolean is_batched_edge(const Event *e) {
        return e && e->kind == EVENT_EDGE && e->edge_batch > 0;
}

/* The `edges` event of the head's request: its edges at the head of the queue, in order, up to
 * its EdgeBatch. An edge of another request or a released event ends the run, so that events
 * leave in the order they came. */
static GVariant *take_batch(EventQueue *q) {
        Event *head = g_queue_peek_head(&q->waiting);
        guint32 request_id = head->request_id;
        guint max = MIN(head->edge_batch, q->n_waiting_edges);
        g_autoptr(GRefString) chip = g_ref_string_acquire(head->chip);
        Batch batch;
        GVariant *message;

        batch_init(&batch, max);
        while (batch.n < max) {
                Event *e = g_queue_peek_head(&q->waiting);

                if (!is_batched_edge(e) || e->request_id != request_id)
                        break;
                batch_add(&batch, &e->edge);
                event_free(g_queue_pop_head(&q->waiting));
                q->n_waiting_edges--;
        }
        message = edges_message(request_id, chip, &batch, q->lost);
        batch_clear(&batch);
        return message;
}

static GVariant *take_one(EventQueue *q) {
        g_autoptr(Event) e = g_queue_pop_head(&q->waiting);

        if (e->kind == EVENT_RELEASED)
                return released_message(e, q->lost);
        q->n_waiting_edges--;
        return edge_message(e, q->lost);
}

static void pump(EventQueue *q) {
        while (!q->closed && q->in_flight < q->window && !g_queue_is_empty(&q->waiting)) {
                GVariant *message = is_batched_edge(g_queue_peek_head(&q->waiting)) ? take_batch(q) : take_one(q);

                q->lost = 0;
                q->in_flight++;
                q->send(q, message, q->send_data);
        }
}

void event_queue_answered(EventQueue *q) {
        g_return_if_fail(q->in_flight > 0);

        q->in_flight--;
        pump(q);
}

/* Drops the oldest waiting edges until at most `length` edges wait. */
static void trim(EventQueue *q) {
        GList *l = q->waiting.head;

        while (l && q->n_waiting_edges > q->length) {
                GList *next = l->next;
                Event *e = l->data;

                if (e->kind == EVENT_EDGE) {
                        g_queue_delete_link(&q->waiting, l);
                        event_free(e);
                        q->n_waiting_edges--;
                        q->lost++;
                }
                l = next;
        }
}

void event_queue_push_edges(EventQueue *q, const EdgeSource *source, const EdgeEvent *edges,
                            const char *const *names, guint n_edges) {
        g_return_if_fail(source->edge_batch > 0 || names);

        if (q->closed || !q->send) {
                q->lost += n_edges;
                return;
        }
        for (guint i = 0; i < n_edges; i++) {
                Event *e = g_new0(Event, 1);

                e->kind = EVENT_EDGE;
                e->request_id = source->request_id;
                e->chip = g_ref_string_acquire((char *) source->chip);
                e->line_name = source->edge_batch ? NULL : g_ref_string_acquire((char *) names[i]);
                e->edge_batch = source->edge_batch;
                e->edge = edges[i];
                g_queue_push_tail(&q->waiting, e);
                q->n_waiting_edges++;
        }
        /* All of one read first, then out as far as the window allows, then the bound: the edges
         * that can go leave together, and only what is left over counts against the queue. */
        pump(q);
        trim(q);
}

void event_queue_push_released(EventQueue *q, guint32 request_id, const char *chip, const char *reason) {
        Event *e;

        if (q->closed || !q->send)
                return;
        e = g_new0(Event, 1);
        e->kind = EVENT_RELEASED;
        e->request_id = request_id;
        e->chip = g_ref_string_new(chip);
        e->reason = reason;
        g_queue_push_tail(&q->waiting, e);
        pump(q);
}
