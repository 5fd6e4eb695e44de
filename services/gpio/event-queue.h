/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The events on their way to one connection (README.md, "Events"): at most `window` in flight
 * (sent, response not yet in), at most `length` more waiting; when full, the oldest waiting edge
 * is dropped and counted, and the count goes out in `Lost` of the next event sent. */

#include <appservice.h>

#include "line-request.h"

typedef struct EventQueue EventQueue;

/* @connection may be NULL: events are then counted as lost. */
EventQueue *event_queue_new(AppServiceConnection *connection, guint window, guint length);
/* Drops what waits; events in flight finish on their own, each holding a reference. */
void event_queue_close(EventQueue *queue);
EventQueue *event_queue_ref(EventQueue *queue);
void event_queue_unref(EventQueue *queue);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EventQueue, event_queue_unref)

void event_queue_push_edge(EventQueue *queue, guint32 request_id, const char *chip, const char *line_name,
                           const EdgeEvent *edge);
/* Never dropped to make room: there is at most one per request. */
void event_queue_push_released(EventQueue *queue, guint32 request_id, const char *chip, const char *reason);
