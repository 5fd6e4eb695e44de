/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Peer-to-peer D-Bus on one socket, in one GMainContext, no thread: the transport under a direct
 * link (appservice-direct.c). It authenticates (ANONYMOUS only, as the server or the client side),
 * frames GDBusMessages in and out, and bounds its memory:
 *
 * - an incoming message longer than max_message + AS_WIRE_HEADER_ALLOWANCE ends the wire as soon
 *   as its first 16 bytes say so, before it is buffered;
 * - it reads only while its unsent output plus its received but undelivered messages are under
 *   AS_WIRE_QUEUE_FACTOR times that length (twice that while a blocking wait looks for its
 *   reply): a peer that sends and never reads what it is sent then blocks on its own socket.
 *
 * Callbacks come from the context only, never from inside an as_wire_*() call, except "ready" when
 * as_wire_wait_ready() completes the handshake. Used in the context's thread only. Hidden, as_*. */

#include <gio/gio.h>

G_BEGIN_DECLS

/* Room for a message's header and framing beyond the link's max-message-size (our headers take a
 * few hundred bytes): a message a little over the limit is still read, and refused as too large by
 * the application's checks instead of ending the link. */
#define AS_WIRE_HEADER_ALLOWANCE (64 * 1024)
/* How many longest messages may wait, sent or received, before we stop reading. */
#define AS_WIRE_QUEUE_FACTOR 4
/* A handshake not over within this ends the wire. */
#define AS_WIRE_HANDSHAKE_TIMEOUT_USEC (30 * G_USEC_PER_SEC)

typedef struct _AsWire AsWire;

typedef struct {
        /* The handshake succeeded: messages flow. */
        void (*ready)(gpointer user_data);
        /* A message arrived (borrowed). */
        void (*message)(gpointer user_data, GDBusMessage *message);
        /* The wire ended: the handshake failed, end of file, an error, a bad message. Once. */
        void (*ended)(gpointer user_data, const GError *error);
} AsWireVTable;

/* @fd is taken. */
AsWire *as_wire_new(gint fd, gboolean server_side, guint64 max_message, GMainContext *context,
                    const AsWireVTable *vtable, gpointer user_data);
AsWire *as_wire_ref(AsWire *wire);
void as_wire_unref(AsWire *wire);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AsWire, as_wire_unref)

/* Writes what it can of its output without blocking, then closes the socket: no more callbacks. */
void as_wire_close(AsWire *wire);
/* Writes what it can of its output, drops the rest and shuts our writing down; reading goes on
 * until the other side's end of file. FALSE when the socket refused. */
gboolean as_wire_shutdown_write(AsWire *wire);

/* Queues @message with the next serial, which it returns (set on @message too). A wire that ended
 * drops it. */
guint32 as_wire_send(AsWire *wire, GDBusMessage *message);

/* Blocking, in the calling thread, with the context not running: until the handshake is done
 * ("ready" called from here), or the reply to @serial came (returned; what else arrives meanwhile
 * is delivered later from the context). G_IO_ERROR_TIMED_OUT at @deadline (monotonic µs),
 * G_IO_ERROR_CANCELLED, G_IO_ERROR_CLOSED when the wire ended ("ended" comes from the context). */
gboolean as_wire_wait_ready(AsWire *wire, gint64 deadline, GCancellable *cancellable, GError **error);
GDBusMessage *as_wire_wait_reply(AsWire *wire, guint32 serial, gint64 deadline, GCancellable *cancellable,
                                 GError **error);

/* Bytes of unsent output and undelivered input: what the queue bound limits (for tests). */
gsize as_wire_get_queued_bytes(AsWire *wire);

G_END_DECLS
