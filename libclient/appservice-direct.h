/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A connection's direct link (io.appservice1.Link): peer-to-peer D-Bus over the socket the broker
 * handed out, between the connection's two endpoints, without the broker in the path. It knows
 * no object of the library: its owner (an AppServiceConnection) attaches with a vtable, and the
 * link calls it only through that, for each request received and when the link ends by itself.
 *
 * - Made from the fd (taken), as the server side of the authentication (the provider's end) or
 *   the client side. Everything, the handshake included, runs in the owner's context, no thread
 *   (the transport: appservice-wire.h); the link is ready once the handshake is done there (or
 *   in a _sync() send, which drives the socket itself when the context is not running).
 * - Memory is bounded: a message over max-message-size plus a header allowance ends the link, and
 *   the link stops reading while its unsent output is over a bound (appservice-wire.h).
 * - Sends issued before it is ready wait for it. A send whose link ends before the response is
 *   held, not completed: the owner fails them with as_direct_link_fail_pending() once it has
 *   told the application why the connection ended.
 * - Received requests are checked as the broker checks SendMessage (ValueSet rules, the link's
 *   max-message-size, max-pending-requests), get an id unique on the link, and time out after
 *   request-timeout-usec.
 *
 * Used in the owner's thread (the thread running the owner's context) only. Every symbol is
 * hidden, as_*. */

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _AsDirectLink AsDirectLink;

typedef struct {
        /* A request arrived and passed the checks: the owner hands it to the application, and
         * answers it with as_direct_link_respond(). */
        void (*request)(gpointer owner, AsDirectLink *link, guint64 id, GVariant *message);
        /* The link ended without as_direct_link_close(): end of file, or the handshake failed. */
        void (*ended)(gpointer owner, AsDirectLink *link);
} AsDirectLinkVTable;

/* Whether a provider takes direct links: unless APPSERVICE_DIRECT=0. */
gboolean as_direct_links_enabled(void);
/* Whether a client asks for them: the same. A response the other side sent right before a close
 * travels apart from the broker's ServiceClosed; as_direct_link_drain() keeps it from being lost. */
gboolean as_direct_links_asked(void);

/* @link_info is the "link" a{sv} of OpenDirectConnection or DirectConnectionOpened (its limits);
 * @fd is taken. @owner (a GObject) is not referenced: as_direct_link_close() detaches it. */
AsDirectLink *as_direct_link_new(gint fd, gboolean server_side, GVariant *link_info,
                                 const gchar *app_service_name, const gchar *connection_path,
                                 GMainContext *context, const AsDirectLinkVTable *vtable, gpointer owner);
AsDirectLink *as_direct_link_ref(AsDirectLink *link);
void as_direct_link_unref(AsDirectLink *link);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AsDirectLink, as_direct_link_unref)

/* The owner closed the connection and waits for the broker before it closes the link: from now
 * on received requests are refused (Closed), those not answered yet can no longer be, and the
 * owner hears nothing more. */
void as_direct_link_detach(AsDirectLink *link);
/* Ends the link: the owner hears nothing more; received requests can no longer be answered;
 * pending sends stay held for as_direct_link_fail_pending(). The socket is closed. Idempotent. */
void as_direct_link_close(AsDirectLink *link);
/* The connection was closed elsewhere (ServiceClosed, the broker gone): sends nothing more
 * (shutting down our writing) and reads on until the other side's end of file, so that a
 * response it wrote before the close still completes its send. The owner then hears "ended", at
 * the end of file or after @timeout_ms. FALSE when there is nothing to drain (not ready). */
gboolean as_direct_link_drain(AsDirectLink *link, guint timeout_ms);
/* Completes every held or pending send with APP_SERVICE_ERROR_CLOSED, @cause ending its message. */
void as_direct_link_fail_pending(AsDirectLink *link, const gchar *cause);

/* SendMessage on the other end: the reply, `(a{sv})`, or the error (remote ones in their
 * domains, a timeout as APP_SERVICE_ERROR_TIMEOUT). */
void as_direct_link_send(AsDirectLink *link, GVariant *message, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data);
GVariant *as_direct_link_send_finish(AsDirectLink *link, GAsyncResult *result, GError **error);
/* Blocks, polling the link's socket in this thread (the owner's context need not run; what
 * else arrives meanwhile is delivered from it later); G_IO_ERROR_CLOSED when the link ended
 * before the response. */
GVariant *as_direct_link_send_sync(AsDirectLink *link, GVariant *message, GCancellable *cancellable,
                                   GError **error);

/* Answers received request @id with @response (may be %NULL: empty). Refused (and the request
 * still pending) when @response breaks the ValueSet rules or the link's size limit;
 * APP_SERVICE_ERROR_UNKNOWN_REQUEST when @id is not pending (answered, timed out, link closed). */
gboolean as_direct_link_respond(AsDirectLink *link, guint64 id, GVariant *response, GError **error);

G_END_DECLS
