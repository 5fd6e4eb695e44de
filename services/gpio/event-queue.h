/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The events on their way to one connection (README.md, "Events"): at most `window` in flight
 * (sent, response not yet in), at most `length` edges more waiting; when full, the oldest waiting
 * edges are dropped and counted, and the count goes out in `Lost` of the next event sent.
 *
 * Edges of a request with an EdgeBatch travel as `edges` events: whenever a message may go, the
 * run of that request's edges at the head of the queue goes in one, up to EdgeBatch of them. So
 * batches form by themselves while the window is full and never wait for a timer: an edge that
 * finds the window open leaves at once, alone. */

#include <appservice.h>

#include "line-request.h"

typedef struct EventQueue EventQueue;

/* How the queue's messages leave. Sends @message (floating: take it) and calls
 * event_queue_answered() once its response came or the send failed, from the main loop, never
 * from inside the call. */
typedef void (*EventSendFunc)(EventQueue *queue, GVariant *message, gpointer user_data);

/* Sends to @connection; with a NULL @connection, events are counted as lost. */
EventQueue *event_queue_new(AppServiceConnection *connection, guint window, guint length);
/* Sends through @send (tests); @destroy frees @user_data with the queue. */
EventQueue *event_queue_new_with_sender(EventSendFunc send, gpointer user_data, GDestroyNotify destroy, guint window,
                                        guint length);
/* Drops what waits; events in flight finish on their own, each holding a reference. */
void event_queue_close(EventQueue *queue);
EventQueue *event_queue_ref(EventQueue *queue);
void event_queue_unref(EventQueue *queue);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EventQueue, event_queue_unref)

/* The response to one event sent came (or the send failed): room for the next. */
void event_queue_answered(EventQueue *queue);

/* Where edges come from: one request of the connection. */
typedef struct {
        guint32 request_id;
        const char *chip; /* a GRefString, acquired for each edge kept */
        guint edge_batch; /* EdgeBatch: 0 for `edge` events, else the most edges per `edges` event */
} EdgeSource;

/* @n_edges edges of @source, oldest first, as read together from the kernel. @names (GRefStrings,
 * one per edge: its line's name) is needed only for `edge` events, when edge_batch is 0. */
void event_queue_push_edges(EventQueue *queue, const EdgeSource *source, const EdgeEvent *edges,
                            const char *const *names, guint n_edges);
/* Never dropped to make room: there is at most one per request. */
void event_queue_push_released(EventQueue *queue, guint32 request_id, const char *chip, const char *reason);

/* For tests and logs: events in flight, edges waiting, edges dropped and not yet reported. */
guint event_queue_get_in_flight(EventQueue *queue);
guint event_queue_get_waiting_edges(EventQueue *queue);
guint64 event_queue_get_lost(EventQueue *queue);
