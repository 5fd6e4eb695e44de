/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The spool's way out: publishes the spooled messages over the link in sequence order, at most
 * OUTBOX_IN_FLIGHT_MAX unacknowledged at once, removes each after a PUBACK with a success reason
 * code, and after every reconnect publishes again, in order, everything not yet acknowledged. A
 * message that can never be published is moved aside (spool_reject()), never dropped. */

#include "link.h"
#include "spool.h"

#define OUTBOX_IN_FLIGHT_MAX 64
/* A message the MQTT broker refused (PUBACK >= 0x80) is tried again after this long. */
#define OUTBOX_RETRY_REFUSED_SEC 60

typedef struct Outbox Outbox;

/* Message `seq` was acknowledged and removed from the spool. */
typedef void (*OutboxAckedFunc)(guint64 seq, gpointer user_data);

Outbox *outbox_new(Spool *spool, MqttLink *link, OutboxAckedFunc acked, gpointer user_data);
void outbox_free(Outbox *outbox);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Outbox, outbox_free)

/* The size of the MQTT PUBLISH packet `message` goes out as (compared with the MQTT broker's
 * maximum packet size: over it, the outbox moves a spooled message aside, spool_reject()). */
guint64 outbox_publish_size(const SpoolMessage *message);

/* New messages are in the spool: publish what the window allows. */
void outbox_kick(Outbox *outbox);
