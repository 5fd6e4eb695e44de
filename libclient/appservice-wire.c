/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "appservice-wire.h"

/* See appservice-wire.h. One GSource watches the socket in the owner's context; its ready time
 * also wakes it for the handshake's deadline and for what must be delivered or reported from the
 * context (messages a blocking wait read, the end). Received messages go through the inbox, in
 * order, so that a blocking wait inside a callback cannot reorder them. */

/* The handshake: a line is short (a GUID, a mechanism and its hex data); the exchange too. */
#define AUTH_MAX_LINE 512
#define AUTH_MAX_BYTES 4096
#define AUTH_MAX_LINES 16
/* Read this much at a time; a message's header says its length within its first 16 bytes. */
#define READ_CHUNK (64 * 1024)
#define HEADER_PEEK 16
/* Messages read per dispatch before the context's other sources get their turn. */
#define READS_PER_DISPATCH 16

typedef enum {
        WIRE_AUTH,    /* the handshake */
        WIRE_RUNNING, /* messages */
        WIRE_ENDED,   /* ended (reported, or to be from the context); the socket still open */
        WIRE_CLOSED,  /* the socket closed, no more callbacks */
} WireState;

typedef enum {
        AUTH_WAIT_NUL,   /* server: the client's first byte */
        AUTH_WAIT_AUTH,  /* server: AUTH ANONYMOUS */
        AUTH_WAIT_BEGIN, /* server: sent OK */
        AUTH_WAIT_OK,    /* client: sent AUTH ANONYMOUS */
} AuthStep;

typedef struct {
        GSource base;
        AsWire *wire; /* not referenced: the wire destroys its source */
} WireSource;

struct _AsWire {
        gint ref_count;
        gint fd;
        gboolean server_side;
        WireState state;
        GMainContext *context;
        const AsWireVTable *vtable;
        gpointer user_data;

        GSource *source;
        gpointer fd_tag; /* while the fd is watched */
        GIOCondition watched;

        AuthStep step;
        gsize auth_bytes;
        guint auth_lines;
        gint64 auth_deadline;

        gsize max_message;
        gsize queue_bound;
        guint32 serial;

        GByteArray *in;  /* read, not parsed yet: from in_pos on */
        gsize in_pos;
        gboolean in_eof; /* the other side's end of file */
        GQueue inbox;    /* GDBusMessage: parsed, not delivered yet */
        gsize inbox_bytes;

        GQueue out;      /* GBytes: to write, the head from out_pos on */
        gsize out_pos;
        gsize out_bytes;
        gboolean out_shut; /* nothing more is written: shut down, or the socket refused */

        GError *end_error;
        gboolean end_pending; /* "ended" not reported yet */
};

static void wire_update(AsWire *wire);

/* ---- the end ---- */

static void wire_unwatch(AsWire *wire) {
        if (wire->fd_tag)
                g_source_remove_unix_fd(wire->source, wire->fd_tag);
        wire->fd_tag = NULL;
}

/* Ends the wire; "ended" is reported from the context, after the messages read before. */
static void wire_end(AsWire *wire, GError *error) {
        if (wire->state == WIRE_ENDED || wire->state == WIRE_CLOSED) {
                g_error_free(error);
                return;
        }
        wire->state = WIRE_ENDED;
        wire->end_error = error;
        wire->end_pending = TRUE;
        /* A socket at its end stays readable (hangup): watched no longer, or the context spins. */
        wire_unwatch(wire);
        wire_update(wire);
}

static void wire_end_literal(AsWire *wire, gint code, const gchar *message) {
        wire_end(wire, g_error_new_literal(G_IO_ERROR, code, message));
}

/* ---- output ---- */

static void out_clear(AsWire *wire) {
        g_queue_clear_full(&wire->out, (GDestroyNotify) g_bytes_unref);
        wire->out_pos = 0;
        wire->out_bytes = 0;
}

/* Writes what the socket takes now. A refusal stops our writing; the reading goes on, to the other
 * side's end of file, so that what it sent before it went is still delivered. */
static void out_flush(AsWire *wire) {
        GBytes *head;

        while (!wire->out_shut && (head = g_queue_peek_head(&wire->out))) {
                gsize size;
                const guint8 *data = g_bytes_get_data(head, &size);
                gssize n = send(wire->fd, data + wire->out_pos, size - wire->out_pos, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return;
                        wire->out_shut = TRUE;
                        if (wire->state == WIRE_AUTH)
                                wire_end_literal(wire, g_io_error_from_errno(errno), "cannot write the handshake");
                        break;
                }
                wire->out_pos += n;
                wire->out_bytes -= n;
                if (wire->out_pos == size) {
                        g_bytes_unref(g_queue_pop_head(&wire->out));
                        wire->out_pos = 0;
                }
        }
        if (wire->out_shut)
                out_clear(wire);
}

static void out_push(AsWire *wire, GBytes *bytes) {
        if (wire->out_shut || wire->state == WIRE_CLOSED) {
                g_bytes_unref(bytes);
                return;
        }
        wire->out_bytes += g_bytes_get_size(bytes);
        g_queue_push_tail(&wire->out, bytes);
        /* At once, for latency: a round trip through the context costs a wakeup. */
        if (wire->out.length == 1)
                out_flush(wire);
        wire_update(wire);
}

static void out_push_text(AsWire *wire, const gchar *text, gsize size) {
        out_push(wire, g_bytes_new(text, size));
}

/* ---- input ---- */

/* Whether we read on: a peer that does not read what we send, or floods us faster than the
 * application answers, is left to block on its own socket. */
static gboolean in_has_room(AsWire *wire, gboolean waiting) {
        /* A blocking wait may look twice as far for its reply, past messages the context has yet
         * to deliver: still bounded, and the reply is not stuck behind a burst of requests. */
        return wire->out_bytes + wire->inbox_bytes < (waiting ? 2 : 1) * wire->queue_bound;
}

static gboolean in_may_read_for(AsWire *wire, gboolean waiting) {
        return !wire->in_eof && (wire->state == WIRE_AUTH || wire->state == WIRE_RUNNING) &&
               in_has_room(wire, waiting);
}

static gboolean in_may_read(AsWire *wire) {
        return in_may_read_for(wire, FALSE);
}

static const guint8 *in_data(AsWire *wire, gsize *len) {
        *len = wire->in->len - wire->in_pos;
        return wire->in->data + wire->in_pos;
}

static void in_consume(AsWire *wire, gsize n) {
        wire->in_pos += n;
        if (wire->in_pos == wire->in->len) {
                g_byte_array_set_size(wire->in, 0);
                wire->in_pos = 0;
        }
}

/* One recv(): > 0 bytes read, 0 at the end of file (then in_eof), -1 when nothing is there. */
static gssize in_read(AsWire *wire) {
        gsize len = wire->in->len;
        gssize n;

        if (wire->in_pos > 0) {
                /* Keep what is unparsed at the start, so that the buffer does not creep. */
                memmove(wire->in->data, wire->in->data + wire->in_pos, len - wire->in_pos);
                len -= wire->in_pos;
                wire->in_pos = 0;
        }
        g_byte_array_set_size(wire->in, len + READ_CHUNK);
        do
                n = recv(wire->fd, wire->in->data + len, READ_CHUNK, MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        g_byte_array_set_size(wire->in, len + MAX(n, 0));
        if (n == 0) {
                wire->in_eof = TRUE;
                return 0;
        }
        if (n > 0)
                return n;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
                return -1;
        /* A reset is the other side gone, as an end of file. */
        wire->in_eof = TRUE;
        return 0;
}

/* ---- the handshake (SASL, ANONYMOUS only) ---- */

static void auth_done(AsWire *wire) {
        /* Writing our last line may have ended the wire (the other side gone): it stays ended. */
        if (wire->state != WIRE_AUTH)
                return;
        wire->state = WIRE_RUNNING;
        wire->vtable->ready(wire->user_data);
}

/* The client side: we authenticate as nobody in particular (the broker checked both sides). */
static void auth_start_client(AsWire *wire) {
        static const gchar hello[] = "\0AUTH ANONYMOUS 61707073657276696365\r\n"; /* "appservice" */

        wire->step = AUTH_WAIT_OK;
        out_push_text(wire, hello, sizeof hello - 1);
}

static void auth_reply(AsWire *wire, const gchar *line) {
        g_autofree gchar *text = g_strconcat(line, "\r\n", NULL);

        out_push_text(wire, text, strlen(text));
}

static gboolean auth_is_command(const gchar *line, const gchar *command) {
        gsize n = strlen(command);

        return strncmp(line, command, n) == 0 && (line[n] == '\0' || line[n] == ' ');
}

/* "AUTH ANONYMOUS" with or without its (free-form) trace data. */
static gboolean auth_is_anonymous(const gchar *line) {
        return g_str_equal(line, "AUTH ANONYMOUS") || g_str_has_prefix(line, "AUTH ANONYMOUS ");
}

static void auth_server_line(AsWire *wire, const gchar *line) {
        if (auth_is_command(line, "AUTH")) {
                if (wire->step == AUTH_WAIT_AUTH && auth_is_anonymous(line)) {
                        g_autofree gchar *guid = g_dbus_generate_guid();
                        g_autofree gchar *ok = g_strconcat("OK ", guid, NULL);

                        wire->step = AUTH_WAIT_BEGIN;
                        auth_reply(wire, ok);
                } else {
                        /* Another mechanism, none, or AUTH again: the client may fall back. */
                        wire->step = AUTH_WAIT_AUTH;
                        auth_reply(wire, "REJECTED ANONYMOUS");
                }
        } else if (auth_is_command(line, "BEGIN") && wire->step == AUTH_WAIT_BEGIN) {
                auth_done(wire);
        } else if (auth_is_command(line, "CANCEL") || auth_is_command(line, "ERROR")) {
                wire->step = AUTH_WAIT_AUTH;
                auth_reply(wire, "REJECTED ANONYMOUS");
        } else {
                /* NEGOTIATE_UNIX_FD (a ValueSet carries no fd), DATA, BEGIN too early, unknown. */
                auth_reply(wire, "ERROR");
        }
}

static void auth_client_line(AsWire *wire, const gchar *line) {
        if (auth_is_command(line, "OK")) {
                out_push_text(wire, "BEGIN\r\n", 7);
                auth_done(wire);
                return;
        }
        if (auth_is_command(line, "REJECTED"))
                wire_end_literal(wire, G_IO_ERROR_PERMISSION_DENIED, "the other side refused ANONYMOUS");
        else
                wire_end_literal(wire, G_IO_ERROR_FAILED, "the other side broke off the handshake");
}

/* Handles the complete lines read; stops at BEGIN (server) or OK (client): what follows is
 * messages. */
static void auth_process(AsWire *wire) {
        while (wire->state == WIRE_AUTH) {
                gsize len;
                const guint8 *data = in_data(wire, &len);
                const guint8 *end;
                g_autofree gchar *line = NULL;

                if (len == 0)
                        return; /* (an empty buffer may have no storage at all) */
                if (wire->step == AUTH_WAIT_NUL) {
                        if (data[0] != '\0') {
                                wire_end_literal(wire, G_IO_ERROR_INVALID_DATA, "the handshake did not start with a nul byte");
                                return;
                        }
                        in_consume(wire, 1);
                        wire->step = AUTH_WAIT_AUTH;
                        continue;
                }
                end = memchr(data, '\n', MIN(len, (gsize) AUTH_MAX_LINE));
                if (!end) {
                        if (len >= AUTH_MAX_LINE)
                                wire_end_literal(wire, G_IO_ERROR_INVALID_DATA, "a handshake line is too long");
                        return;
                }
                if (end == data || end[-1] != '\r' || memchr(data, '\0', end - data)) {
                        wire_end_literal(wire, G_IO_ERROR_INVALID_DATA, "a handshake line is malformed");
                        return;
                }
                line = g_strndup((const gchar *) data, end - 1 - data);
                in_consume(wire, end + 1 - data);
                wire->auth_bytes += strlen(line) + 2;
                if (++wire->auth_lines > AUTH_MAX_LINES || wire->auth_bytes > AUTH_MAX_BYTES) {
                        wire_end_literal(wire, G_IO_ERROR_INVALID_DATA, "the handshake is too long");
                        return;
                }
                if (wire->server_side)
                        auth_server_line(wire, line);
                else
                        auth_client_line(wire, line);
        }
}

/* ---- messages ---- */

/* The next complete message in the buffer, NULL when there is none yet (or the wire ended: a
 * message too long, or one GDBus cannot parse). */
static GDBusMessage *msg_parse(AsWire *wire, gsize *size) {
        g_autoptr(GError) error = NULL;
        gsize len;
        const guint8 *data = in_data(wire, &len);
        gssize needed;
        GDBusMessage *message;

        if (len < HEADER_PEEK)
                return NULL;
        needed = g_dbus_message_bytes_needed((guchar *) data, HEADER_PEEK, &error);
        if (needed < 0 || (gsize) needed > wire->max_message) {
                /* Refused before it is buffered: the buffer never outgrows the limit. */
                wire_end(wire, g_error_new(G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                                           "a message is too long or malformed: %s",
                                           error ? error->message : "over the link's limit"));
                return NULL;
        }
        if (len < (gsize) needed)
                return NULL;
        message = g_dbus_message_new_from_blob((guchar *) data, needed, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
        in_consume(wire, needed);
        if (!message) {
                wire_end(wire, g_error_new(G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "a malformed message: %s",
                                           error->message));
                return NULL;
        }
        *size = needed;
        return message;
}

static gboolean msg_is_reply_to(GDBusMessage *message, guint32 serial) {
        GDBusMessageType type = g_dbus_message_get_message_type(message);

        return serial != 0 &&
               (type == G_DBUS_MESSAGE_TYPE_METHOD_RETURN || type == G_DBUS_MESSAGE_TYPE_ERROR) &&
               g_dbus_message_get_reply_serial(message) == serial;
}

/* Parses what was read into the inbox, within the queue bound; the reply to @serial (non-zero:
 * a blocking wait) is returned instead. The handshake first, while it lasts. */
static GDBusMessage *in_process(AsWire *wire, guint32 serial) {
        gboolean stalled = FALSE;

        if (wire->state == WIRE_AUTH)
                auth_process(wire);
        while (wire->state == WIRE_RUNNING) {
                gsize size = 0;
                GDBusMessage *message;

                if (!in_has_room(wire, serial != 0)) {
                        stalled = TRUE;
                        break;
                }
                message = msg_parse(wire, &size);

                if (!message)
                        break;
                if (msg_is_reply_to(message, serial))
                        return message;
                /* Counted by its size on the wire: what it holds in memory is of that order. */
                g_object_set_data(G_OBJECT(message), "as-wire-size", GSIZE_TO_POINTER(size));
                wire->inbox_bytes += size;
                g_queue_push_tail(&wire->inbox, message);
        }
        /* At the end of file, what is left can complete nothing; unless the bound held parsing
         * back: then the end comes once the messages before it are out. */
        if (wire->in_eof && wire->state == WIRE_AUTH)
                wire_end_literal(wire, G_IO_ERROR_CONNECTION_CLOSED, "end of file during the handshake");
        else if (wire->in_eof && wire->state == WIRE_RUNNING && !stalled)
                wire_end_literal(wire, G_IO_ERROR_CONNECTION_CLOSED, "end of file");
        return NULL;
}

static GDBusMessage *inbox_pop(AsWire *wire) {
        GDBusMessage *message = g_queue_pop_head(&wire->inbox);

        if (message)
                wire->inbox_bytes -= GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(message), "as-wire-size"));
        return message;
}

guint32 as_wire_send(AsWire *wire, GDBusMessage *message) {
        g_autoptr(GError) error = NULL;
        guchar *blob;
        gsize size;

        if (++wire->serial == 0)
                wire->serial = 1;
        g_dbus_message_set_serial(message, wire->serial);
        blob = g_dbus_message_to_blob(message, &size, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
        if (!blob) {
                /* Our own messages are well-formed: this is a bug, not the peer's doing. */
                g_warning("cannot serialize a message for a direct link: %s", error->message);
                return wire->serial;
        }
        out_push(wire, g_bytes_new_take(blob, size));
        return wire->serial;
}

/* ---- the context's side ---- */

/* What to watch for, and when to wake anyway. */
static void wire_update(AsWire *wire) {
        GIOCondition events = 0;
        gint64 ready_time = -1;

        if (!wire->source || wire->state == WIRE_CLOSED)
                return;
        if (in_may_read(wire))
                events |= G_IO_IN;
        if (wire->out.length > 0 && !wire->out_shut)
                events |= G_IO_OUT;
        /* Only on a change: each modification wakes the context up. */
        if (wire->fd_tag && events != wire->watched) {
                g_source_modify_unix_fd(wire->source, wire->fd_tag, events);
                wire->watched = events;
        }
        if (wire->inbox.length > 0 || wire->end_pending)
                ready_time = 0;
        else if (wire->state == WIRE_AUTH)
                ready_time = wire->auth_deadline;
        g_source_set_ready_time(wire->source, ready_time);
}

/* Reads and parses while the socket has something and the bound allows. */
static void wire_pump(AsWire *wire) {
        for (guint i = 0; i < READS_PER_DISPATCH && in_may_read(wire); i++) {
                gssize n = in_read(wire);

                in_process(wire, 0);
                if (n <= 0)
                        break;
        }
}

/* Delivers the inbox, then the end; stops when a callback closed the wire. */
static void wire_deliver(AsWire *wire) {
        GDBusMessage *message;

        while (wire->state != WIRE_CLOSED && (message = inbox_pop(wire))) {
                wire->vtable->message(wire->user_data, message);
                g_object_unref(message);
                /* Room again (answers written, the inbox shorter): parse what waits. */
                if (wire->state == WIRE_RUNNING && wire->inbox.length == 0)
                        in_process(wire, 0);
        }
        if (wire->state == WIRE_ENDED && wire->end_pending && wire->inbox.length == 0) {
                wire->end_pending = FALSE;
                wire->vtable->ended(wire->user_data, wire->end_error);
        }
}

static gboolean wire_dispatch(GSource *source, GSourceFunc callback, gpointer user_data) {
        g_autoptr(AsWire) wire = as_wire_ref(((WireSource *) source)->wire);
        GIOCondition revents = wire->fd_tag ? g_source_query_unix_fd(source, wire->fd_tag) : 0;

        if (revents & (G_IO_OUT | G_IO_HUP | G_IO_ERR))
                out_flush(wire);
        /* Written out: room again for what the bound held back in the buffer. */
        in_process(wire, 0);
        if (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR))
                wire_pump(wire);
        if (wire->state == WIRE_AUTH && g_get_monotonic_time() >= wire->auth_deadline)
                wire_end_literal(wire, G_IO_ERROR_TIMED_OUT, "the handshake timed out");
        wire_deliver(wire);
        wire_update(wire);
        return G_SOURCE_CONTINUE;
}

static GSourceFuncs wire_source_funcs = {
        .dispatch = wire_dispatch,
};

AsWire *as_wire_new(gint fd, gboolean server_side, guint64 max_message, GMainContext *context,
                    const AsWireVTable *vtable, gpointer user_data) {
        AsWire *wire = g_new0(AsWire, 1);
        gint flags = fcntl(fd, F_GETFL);

        wire->ref_count = 1;
        wire->fd = fd;
        wire->server_side = server_side;
        wire->context = g_main_context_ref(context);
        wire->vtable = vtable;
        wire->user_data = user_data;
        wire->max_message = (gsize) MIN(max_message, (guint64) G_MAXSIZE / (2 * AS_WIRE_QUEUE_FACTOR)) +
                            AS_WIRE_HEADER_ALLOWANCE;
        wire->queue_bound = AS_WIRE_QUEUE_FACTOR * wire->max_message;
        wire->in = g_byte_array_new();
        g_queue_init(&wire->inbox);
        g_queue_init(&wire->out);
        wire->state = WIRE_AUTH;
        wire->auth_deadline = g_get_monotonic_time() + AS_WIRE_HANDSHAKE_TIMEOUT_USEC;

        wire->source = g_source_new(&wire_source_funcs, sizeof(WireSource));
        ((WireSource *) wire->source)->wire = wire;
        g_source_set_name(wire->source, "appservice direct link");
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
                wire_end_literal(wire, g_io_error_from_errno(errno), "the direct link's fd is unusable");
        } else {
                wire->fd_tag = g_source_add_unix_fd(wire->source, fd, G_IO_IN);
                wire->watched = G_IO_IN;
                if (server_side)
                        wire->step = AUTH_WAIT_NUL;
                else
                        auth_start_client(wire);
        }
        g_source_attach(wire->source, context);
        wire_update(wire);
        return wire;
}

AsWire *as_wire_ref(AsWire *wire) {
        wire->ref_count++;
        return wire;
}

void as_wire_unref(AsWire *wire) {
        if (!wire || --wire->ref_count > 0)
                return;
        as_wire_close(wire);
        g_byte_array_unref(wire->in);
        g_clear_error(&wire->end_error);
        g_main_context_unref(wire->context);
        g_free(wire);
}

void as_wire_close(AsWire *wire) {
        GDBusMessage *message;

        if (wire->state == WIRE_CLOSED)
                return;
        /* Answers already queued (Closed errors, typically) go if the socket takes them now. */
        out_flush(wire);
        wire->state = WIRE_CLOSED;
        wire->end_pending = FALSE;
        wire_unwatch(wire);
        g_source_destroy(wire->source);
        g_clear_pointer(&wire->source, g_source_unref);
        out_clear(wire);
        while ((message = inbox_pop(wire)))
                g_object_unref(message);
        close(wire->fd);
        wire->fd = -1;
}

gboolean as_wire_shutdown_write(AsWire *wire) {
        if (wire->state != WIRE_RUNNING)
                return FALSE;
        out_flush(wire);
        out_clear(wire);
        wire->out_shut = TRUE;
        if (shutdown(wire->fd, SHUT_WR) < 0)
                return FALSE;
        wire_update(wire);
        return TRUE;
}

gsize as_wire_get_queued_bytes(AsWire *wire) {
        return wire->out_bytes + wire->inbox_bytes;
}

/* ---- blocking waits ---- */

/* One poll() of the socket (and the cancellable) until @deadline: reads, writes, parses. */
static GDBusMessage *wait_once(AsWire *wire, guint32 serial, gint64 deadline, GCancellable *cancellable) {
        struct pollfd fds[2] = { { .fd = wire->fd } };
        GPollFD cancel_fd = { .fd = -1 };
        gint64 now = g_get_monotonic_time();
        gint64 until = wire->state == WIRE_AUTH ? MIN(deadline, wire->auth_deadline) : deadline;
        gint timeout_ms = (gint) MIN((MAX(until - now, 0) + 999) / 1000, (gint64) G_MAXINT);
        nfds_t n = 1;
        GDBusMessage *reply = NULL;

        if (in_may_read_for(wire, serial != 0))
                fds[0].events |= POLLIN;
        if (wire->out.length > 0 && !wire->out_shut)
                fds[0].events |= POLLOUT;
        if (cancellable && g_cancellable_make_pollfd(cancellable, &cancel_fd)) {
                fds[1].fd = cancel_fd.fd;
                fds[1].events = POLLIN;
                n = 2;
        }
        if (poll(fds, n, timeout_ms) > 0) {
                if (fds[0].revents & (POLLOUT | POLLHUP | POLLERR))
                        out_flush(wire);
                if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && in_may_read_for(wire, serial != 0)) {
                        in_read(wire);
                        reply = in_process(wire, serial);
                }
        }
        if (cancel_fd.fd >= 0)
                g_cancellable_release_fd(cancellable);
        if (wire->state == WIRE_AUTH && g_get_monotonic_time() >= wire->auth_deadline)
                wire_end_literal(wire, G_IO_ERROR_TIMED_OUT, "the handshake timed out");
        return reply;
}

/* Why a blocking wait cannot go on, if it cannot. */
static gboolean wait_check(AsWire *wire, gint64 deadline, GCancellable *cancellable, GError **error) {
        if (wire->state == WIRE_ENDED || wire->state == WIRE_CLOSED) {
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the direct link ended");
                return FALSE;
        }
        if (g_cancellable_set_error_if_cancelled(cancellable, error))
                return FALSE;
        if (g_get_monotonic_time() >= deadline) {
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "timed out");
                return FALSE;
        }
        return TRUE;
}

gboolean as_wire_wait_ready(AsWire *wire, gint64 deadline, GCancellable *cancellable, GError **error) {
        gboolean ok;

        as_wire_ref(wire);
        while (wire->state == WIRE_AUTH && wait_check(wire, deadline, cancellable, NULL))
                wait_once(wire, 0, deadline, cancellable);
        /* Messages that followed the handshake wait in the inbox: the context delivers them. */
        in_process(wire, 0);
        wire_update(wire);
        ok = wire->state == WIRE_RUNNING || wait_check(wire, deadline, cancellable, error);
        if (ok && wire->state != WIRE_RUNNING) {
                ok = FALSE;
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the direct link ended");
        }
        as_wire_unref(wire);
        return ok;
}

GDBusMessage *as_wire_wait_reply(AsWire *wire, guint32 serial, gint64 deadline, GCancellable *cancellable,
                                 GError **error) {
        GDBusMessage *reply = NULL;

        as_wire_ref(wire);
        /* Parsed already, by an earlier wait, into the inbox? */
        for (GList *l = wire->inbox.head; l && !reply; l = l->next)
                if (msg_is_reply_to(l->data, serial)) {
                        reply = l->data;
                        wire->inbox_bytes -= GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(reply), "as-wire-size"));
                        g_queue_delete_link(&wire->inbox, l);
                }
        while (!reply && (reply = in_process(wire, serial)) == NULL && wait_check(wire, deadline, cancellable, error))
                reply = wait_once(wire, serial, deadline, cancellable);
        wire_update(wire);
        as_wire_unref(wire);
        return reply;
}
