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
        char *chip;
        char *line_name;    /* edges */
        EdgeEvent edge;     /* edges */
        const char *reason; /* released; a literal */
} Event;

struct EventQueue {
        grefcount ref;
        AppServiceConnection *connection;
        guint window;
        guint length;
        GQueue waiting; /* Event * */
        guint n_waiting_edges;
        guint in_flight;
        guint64 lost; /* edges dropped since the last event sent */
        gboolean closed;
};

static void event_free(Event *e) {
        g_free(e->chip);
        g_free(e->line_name);
        g_free(e);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Event, event_free)

EventQueue *event_queue_new(AppServiceConnection *connection, guint window, guint length) {
        EventQueue *q = g_new0(EventQueue, 1);

        g_ref_count_init(&q->ref);
        q->connection = connection ? g_object_ref(connection) : NULL;
        q->window = MAX(window, 1u);
        q->length = length;
        g_queue_init(&q->waiting);
        return q;
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
        g_clear_object(&q->connection);
        g_free(q);
}

/* ---- sending -------------------------------------------------------------------------------- */

static GVariant *edge_message(const Event *e, guint64 lost) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&b, "{sv}", "Event", g_variant_new_string("edge"));
        g_variant_builder_add(&b, "{sv}", "Request", g_variant_new_uint32(e->request_id));
        g_variant_builder_add(&b, "{sv}", "Chip", g_variant_new_string(e->chip));
        g_variant_builder_add(&b, "{sv}", "Line", g_variant_new_uint32(e->edge.offset));
        g_variant_builder_add(&b, "{sv}", "Name", g_variant_new_string(e->line_name));
        g_variant_builder_add(&b, "{sv}", "Edge",
                              g_variant_new_string(e->edge.rising ? "rising" : "falling"));
        g_variant_builder_add(&b, "{sv}", "TimestampNs", g_variant_new_uint64(e->edge.timestamp_ns));
        g_variant_builder_add(&b, "{sv}", "GlobalSeqno", g_variant_new_uint64(e->edge.global_seqno));
        g_variant_builder_add(&b, "{sv}", "LineSeqno", g_variant_new_uint64(e->edge.line_seqno));
        g_variant_builder_add(&b, "{sv}", "Lost", g_variant_new_uint64(lost));
        return g_variant_builder_end(&b);
}

/* Lost rides on released events too: "the next event sent" may be one. */
static GVariant *released_message(const Event *e, guint64 lost) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&b, "{sv}", "Event", g_variant_new_string("released"));
        g_variant_builder_add(&b, "{sv}", "Request", g_variant_new_uint32(e->request_id));
        g_variant_builder_add(&b, "{sv}", "Chip", g_variant_new_string(e->chip));
        g_variant_builder_add(&b, "{sv}", "Reason", g_variant_new_string(e->reason));
        g_variant_builder_add(&b, "{sv}", "Lost", g_variant_new_uint64(lost));
        return g_variant_builder_end(&b);
}

static void pump(EventQueue *q);

static void on_event_answered(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(EventQueue) q = user_data;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GError) error = NULL;

        /* The client's answer is not read; only that it came (or failed) matters. */
        response =
                app_service_connection_send_message_finish(APP_SERVICE_CONNECTION(source), result, &error);
        if (!response)
                g_debug("an event was not delivered: %s", error->message);
        q->in_flight--;
        pump(q);
}

static void send_event(EventQueue *q, Event *e) {
        GVariant *message = e->kind == EVENT_EDGE ? edge_message(e, q->lost) : released_message(e, q->lost);

        q->lost = 0;
        q->in_flight++;
        app_service_connection_send_message(q->connection, message, /* cancellable= */ NULL,
                                            on_event_answered, event_queue_ref(q));
}

static void pump(EventQueue *q) {
        while (!q->closed && q->in_flight < q->window && !g_queue_is_empty(&q->waiting)) {
                g_autoptr(Event) e = g_queue_pop_head(&q->waiting);

                if (e->kind == EVENT_EDGE)
                        q->n_waiting_edges--;
                send_event(q, e);
        }
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

static void push(EventQueue *q, Event *e) {
        if (q->closed || !q->connection) {
                if (e->kind == EVENT_EDGE)
                        q->lost++;
                event_free(e);
                return;
        }
        g_queue_push_tail(&q->waiting, e);
        if (e->kind == EVENT_EDGE)
                q->n_waiting_edges++;
        pump(q);
        trim(q);
}

void event_queue_push_edge(EventQueue *q, guint32 request_id, const char *chip, const char *line_name,
                           const EdgeEvent *edge) {
        Event *e = g_new0(Event, 1);

        e->kind = EVENT_EDGE;
        e->request_id = request_id;
        e->chip = g_strdup(chip);
        e->line_name = g_strdup(line_name);
        e->edge = *edge;
        push(q, e);
}

void event_queue_push_released(EventQueue *q, guint32 request_id, const char *chip, const char *reason) {
        Event *e = g_new0(Event, 1);

        e->kind = EVENT_RELEASED;
        e->request_id = request_id;
        e->chip = g_strdup(chip);
        e->reason = reason;
        push(q, e);
}
