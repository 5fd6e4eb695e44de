/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <unistd.h>

#include "appservice-direct.h"

#include "appservice-dbus-interfaces.h"
#include "appservice-private.h"
#include "valueset-dbus-size.h"

/* See appservice-direct.h. The states, in the owner's thread:
 *
 *   CONNECTING  the GDBusConnection exists (made in the owner's thread, so that its ::closed is
 *               emitted in the owner's context) and authenticates in a worker thread; sends
 *               queue up;
 *   READY       our object is exported, message processing started, queued sends went out;
 *   ENDED       the link ended by itself (end of file, a failed handshake): the owner was told
 *               and will close it;
 *   CLOSED      the owner closed it: the socket is (being) closed, the owner detached.
 *
 * Sends are GTasks in link->sends until completed. One whose link ends before its response is
 * held there, so that the owner can first tell the application why the connection ended and then
 * fail them all (as_direct_link_fail_pending()), as the broker does for a brokered connection. */

#define LINK_PATH "/io/appservice1/link"
#define LINK_IFACE "io.appservice1.Link"
/* A sender gives up this long after the receiving end should have answered (the contract). */
#define SEND_GRACE_USEC G_USEC_PER_SEC

typedef enum {
        LINK_CONNECTING,
        LINK_READY,
        LINK_ENDED,
        LINK_CLOSED,
} LinkState;

struct _AsDirectLink {
        gint ref_count;

        /* The handshake's outcome, set by the worker thread. */
        GMutex lock;
        GCond cond;
        gboolean handshake_done;
        GError *handshake_error;

        /* The rest: the owner's thread only. */
        LinkState state;
        gboolean server_side;
        GDBusConnection *peer;
        GIOStream *stream;    /* the socket's, for closing it when no worker does */
        gboolean initialized; /* the handshake succeeded */
        GCancellable *handshake_cancellable;
        guint registration;
        gulong closed_handler;
        GMainContext *context;
        const AsDirectLinkVTable *vtable;
        gpointer owner; /* until closed */
        gchar *service;
        gchar *connection_path;
        guint64 max_size;
        guint max_pending;
        guint64 timeout_usec;
        guint64 last_id;
        GHashTable *incoming; /* guint64 id → Incoming: received, not answered yet */
        GSource *drain_timer; /* draining: we send nothing more, and read to the end of file */
        GQueue sends;         /* GTask (referenced): sent or waiting, not completed yet */
};

typedef struct {
        AsDirectLink *link; /* not referenced: the table is emptied before the link goes */
        guint64 id;
        GDBusMethodInvocation *invocation;
        GSource *timer;
} Incoming;

typedef struct {
        AsDirectLink *link; /* referenced */
        GVariant *parameters;
        gboolean sent;
} SendData;

gboolean as_direct_links_enabled(void) {
        return g_strcmp0(g_getenv("APPSERVICE_DIRECT"), "0") != 0;
}

gboolean as_direct_links_asked(void) {
        return as_direct_links_enabled();
}

static const gchar *sender_name(AsDirectLink *link) {
        /* What we receive comes from the other end. */
        return link->server_side ? "client" : "provider";
}

/* ---- received requests ---- */

static void incoming_free(gpointer p) {
        Incoming *in = p;

        if (in->timer) {
                g_source_destroy(in->timer);
                g_source_unref(in->timer);
        }
        /* Never dropped without a reply: a link that is closing carries it nowhere. */
        if (in->invocation)
                g_dbus_method_invocation_return_error(in->invocation, APP_SERVICE_ERROR, APP_SERVICE_ERROR_CLOSED,
                                                      "app service '%s': connection %s closed before the response "
                                                      "came: the connection closed",
                                                      in->link->service, in->link->connection_path);
        g_free(in);
}

static gboolean on_incoming_timeout(gpointer user_data) {
        Incoming *in = user_data;
        AsDirectLink *link = in->link;

        g_dbus_method_invocation_return_error(in->invocation, APP_SERVICE_ERROR, APP_SERVICE_ERROR_TIMEOUT,
                                              "app service '%s': no response within %g s", link->service,
                                              (gdouble) link->timeout_usec / G_USEC_PER_SEC);
        in->invocation = NULL;
        g_clear_pointer(&in->timer, g_source_unref); /* returning FALSE destroys it */
        g_hash_table_remove(link->incoming, &in->id);
        return G_SOURCE_REMOVE;
}

/* The checks of io.appservice1.Connection.SendMessage, in its order: the ValueSet rules, the size,
 * the pending requests. The messages are the broker's. */
static gboolean check_received(AsDirectLink *link, GVariant *message, GError **error) {
        g_autoptr(GError) invalid = NULL;
        ValueSetDBusSize size;

        if (!app_service_value_set_is_valid(message, &invalid)) {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE, "app service '%s': %s",
                            link->service, invalid->message);
                return FALSE;
        }
        size = valueset_dbus_size(message, link->max_size);
        if (size.size > link->max_size) {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE,
                            "app service '%s': the ValueSet is %s%" G_GUINT64_FORMAT " bytes, more than the limit of %"
                            G_GUINT64_FORMAT " (MaxMessageSize)",
                            link->service, size.partial ? "at least " : "", size.size, link->max_size);
                return FALSE;
        }
        if (g_hash_table_size(link->incoming) >= link->max_pending) {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED,
                            "app service '%s': the %s already has %u unanswered requests on connection %s "
                            "(MaxPendingRequests)",
                            link->service, sender_name(link), link->max_pending, link->connection_path);
                return FALSE;
        }
        return TRUE;
}

static void on_method_call(GDBusConnection *peer, const gchar *sender, const gchar *object_path,
                           const gchar *interface_name, const gchar *method_name, GVariant *parameters,
                           GDBusMethodInvocation *invocation, gpointer user_data) {
        AsDirectLink *link = user_data;
        g_autoptr(GVariant) message = NULL;
        GError *error = NULL;
        Incoming *in;

        /* GDBus checked the name and the signature against the interface: SendMessage, (a{sv}). */
        if (link->state != LINK_READY || !link->owner) {
                g_dbus_method_invocation_return_error(invocation, APP_SERVICE_ERROR, APP_SERVICE_ERROR_CLOSED,
                                                      "app service '%s': connection %s is closed", link->service,
                                                      link->connection_path);
                return;
        }
        message = g_variant_get_child_value(parameters, 0);
        if (!check_received(link, message, &error)) {
                g_debug("%s: refusing a message on the direct link: %s", link->connection_path, error->message);
                g_dbus_method_invocation_take_error(invocation, error);
                return;
        }

        in = g_new0(Incoming, 1);
        in->link = link;
        in->id = ++link->last_id;
        in->invocation = g_object_ref(invocation);
        if (link->timeout_usec > 0) {
                guint64 ms = (link->timeout_usec + 999) / 1000;

                in->timer = g_timeout_source_new((guint) MIN(ms, (guint64) G_MAXUINT));
                g_source_set_callback(in->timer, on_incoming_timeout, in, NULL);
                g_source_attach(in->timer, link->context);
        }
        g_hash_table_insert(link->incoming, &in->id, in);

        {
                g_autoptr(GObject) owner = g_object_ref(link->owner);

                link->vtable->request(owner, link, in->id, message);
        }
}

static const GDBusInterfaceVTable link_vtable = {
        .method_call = on_method_call,
};

gboolean as_direct_link_respond(AsDirectLink *link, guint64 id, GVariant *response, GError **error) {
        Incoming *in = g_hash_table_lookup(link->incoming, &id);
        g_autoptr(GError) invalid = NULL;

        if (!in || !in->invocation) {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_UNKNOWN_REQUEST,
                            "app service '%s': request %" G_GUINT64_FORMAT " on connection %s is not pending for "
                            "you (never sent to you, answered, timed out or closed)",
                            link->service, id, link->connection_path);
                return FALSE;
        }
        /* As the broker checks a response: a refused one leaves the request pending. */
        if (response) {
                ValueSetDBusSize size;

                if (!app_service_value_set_is_valid(response, &invalid)) {
                        g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE,
                                    "app service '%s': %s", link->service, invalid->message);
                        return FALSE;
                }
                size = valueset_dbus_size(response, link->max_size);
                if (size.size > link->max_size) {
                        g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE,
                                    "app service '%s': the ValueSet is %s%" G_GUINT64_FORMAT " bytes, more than the "
                                    "limit of %" G_GUINT64_FORMAT " (MaxMessageSize)",
                                    link->service, size.partial ? "at least " : "", size.size, link->max_size);
                        return FALSE;
                }
        } else {
                response = g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0);
        }
        g_dbus_method_invocation_return_value(in->invocation, g_variant_new("(@a{sv})", response));
        in->invocation = NULL;
        g_hash_table_remove(link->incoming, &id);
        return TRUE;
}

/* ---- the life of the link ---- */

static void send_start(AsDirectLink *link, GTask *task);

static gboolean notify_ended(gpointer user_data) {
        AsDirectLink *link = user_data;

        if (link->state == LINK_ENDED && link->owner) {
                g_autoptr(GObject) owner = g_object_ref(link->owner);

                link->vtable->ended(owner, link);
        }
        return G_SOURCE_REMOVE;
}

/* From the context, never from inside the call that found the end (a _sync() send). */
static void notify_ended_later(AsDirectLink *link) {
        GSource *idle = g_idle_source_new();

        g_source_set_callback(idle, notify_ended, as_direct_link_ref(link), (GDestroyNotify) as_direct_link_unref);
        g_source_attach(idle, link->context);
        g_source_unref(idle);
}

static void stop_draining(AsDirectLink *link) {
        if (!link->drain_timer)
                return;
        g_source_destroy(link->drain_timer);
        g_clear_pointer(&link->drain_timer, g_source_unref);
}

static void on_peer_closed(GDBusConnection *peer, gboolean remote_peer_vanished, GError *error, gpointer user_data) {
        AsDirectLink *link = user_data;

        if (link->state != LINK_READY)
                return;
        stop_draining(link);
        g_debug("%s: the direct link ended%s%s", link->connection_path, error ? ": " : "",
                error ? error->message : "");
        link->state = LINK_ENDED;
        g_hash_table_remove_all(link->incoming);
        /* The sends stay in link->sends, held until the owner fails them. */
        notify_ended(link);
}

/* Drops the connection and closes the socket, whether the handshake succeeded or not. */
static void close_peer(AsDirectLink *link) {
        if (!link->peer)
                return;
        if (link->closed_handler)
                g_signal_handler_disconnect(link->peer, link->closed_handler);
        link->closed_handler = 0;
        if (link->registration)
                g_dbus_connection_unregister_object(link->peer, link->registration);
        link->registration = 0;
        if (link->initialized && !g_dbus_connection_is_closed(link->peer)) {
                /* Its worker closes the stream, and the socket. */
                g_dbus_connection_close(link->peer, NULL, NULL, NULL);
        } else {
                /* The worker is done with it (end of file), or never had it: the socket closes
                 * now, not when the last reference to the connection goes. */
                /* No worker ever touched the stream. */
                g_io_stream_close(link->stream, NULL, NULL);
        }
        g_clear_object(&link->peer);
        g_clear_object(&link->stream);
}

/* In the owner's thread, once the handshake is over (its callback, or a _sync() send that waited
 * for it). */
static void become_ready(AsDirectLink *link) {
        GError *error;

        g_mutex_lock(&link->lock);
        g_assert(link->handshake_done);
        error = g_steal_pointer(&link->handshake_error);
        g_mutex_unlock(&link->lock);
        /* Its wakeup fd, if the handshake made one, goes now rather than with the last request. */
        g_clear_object(&link->handshake_cancellable);

        if (link->state == LINK_CLOSED) {
                /* Closed while authenticating: the connection waited for the worker to be done. */
                link->initialized = !error;
                close_peer(link);
                g_clear_error(&error);
                return;
        }
        if (link->state != LINK_CONNECTING) {
                g_clear_error(&error);
                return;
        }
        if (error) {
                g_debug("%s: the direct link's handshake failed: %s", link->connection_path, error->message);
                g_error_free(error);
                link->state = LINK_ENDED;
                /* Told from the context, never from inside a _sync() call. */
                notify_ended_later(link);
                return;
        }

        link->initialized = TRUE;
        /* Method calls go to the context that is the thread's default when the object is
         * registered: the owner's. Processing starts only now, so no early call is lost. */
        g_main_context_push_thread_default(link->context);
        link->registration = g_dbus_connection_register_object(
                link->peer, LINK_PATH, (GDBusInterfaceInfo *) &app_service_dbus_link_interface, &link_vtable,
                as_direct_link_ref(link), (GDestroyNotify) as_direct_link_unref, &error);
        g_main_context_pop_thread_default(link->context);
        if (!link->registration) {
                g_warning("%s: cannot export %s on the direct link: %s", link->connection_path, LINK_PATH,
                          error->message);
                g_error_free(error);
                link->state = LINK_ENDED;
                notify_ended_later(link);
                return;
        }
        link->closed_handler = g_signal_connect(link->peer, "closed", G_CALLBACK(on_peer_closed), link);
        link->state = LINK_READY;
        g_dbus_connection_start_message_processing(link->peer);

        for (GList *l = link->sends.head; l; l = l->next) {
                GTask *task = l->data;
                SendData *data = g_task_get_task_data(task);

                if (!data->sent)
                        send_start(link, task);
        }
}

static void handshake_thread(GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable) {
        AsDirectLink *link = task_data;
        GError *error = NULL;

        g_initable_init(G_INITABLE(link->peer), cancellable, &error);
        g_mutex_lock(&link->lock);
        link->handshake_error = error;
        link->handshake_done = TRUE;
        g_cond_broadcast(&link->cond);
        g_mutex_unlock(&link->lock);
        g_task_return_boolean(task, TRUE);
}

static void on_handshake_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        AsDirectLink *link = user_data;

        become_ready(link);
        as_direct_link_unref(link);
}

/* A server offers ANONYMOUS alone: SO_PEERCRED of the pair names the broker, not the peer. */
static gboolean on_allow_mechanism(GDBusAuthObserver *observer, const gchar *mechanism, gpointer user_data) {
        return g_strcmp0(mechanism, "ANONYMOUS") == 0;
}

static guint64 lookup_t(GVariant *info, const gchar *key, guint64 fallback) {
        guint64 value;

        return info && g_variant_lookup(info, key, "t", &value) ? value : fallback;
}

AsDirectLink *as_direct_link_new(gint fd, gboolean server_side, GVariant *link_info, const gchar *app_service_name,
                                 const gchar *connection_path, GMainContext *context,
                                 const AsDirectLinkVTable *vtable, gpointer owner) {
        AsDirectLink *link = g_new0(AsDirectLink, 1);
        g_autoptr(GSocket) socket = NULL;
        g_autoptr(GSocketConnection) stream = NULL;
        g_autoptr(GDBusAuthObserver) observer = NULL;
        g_autofree gchar *guid = NULL;
        g_autoptr(GError) error = NULL;
        GDBusConnectionFlags flags = G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING;
        guint32 max_pending;
        GTask *task;

        link->ref_count = 1;
        g_mutex_init(&link->lock);
        g_cond_init(&link->cond);
        link->server_side = server_side;
        link->context = g_main_context_ref(context);
        link->vtable = vtable;
        link->owner = owner;
        link->service = g_strdup(app_service_name ? app_service_name : "");
        link->connection_path = g_strdup(connection_path);
        /* The broker always gives the limits; these are its defaults, for a peer that did not. */
        link->max_size = lookup_t(link_info, "max-message-size", 1024 * 1024);
        link->timeout_usec = lookup_t(link_info, "request-timeout-usec", 30 * G_USEC_PER_SEC);
        link->max_pending = link_info && g_variant_lookup(link_info, "max-pending-requests", "u", &max_pending)
                                    ? max_pending
                                    : 32;
        link->incoming = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, incoming_free);
        g_queue_init(&link->sends);
        link->handshake_cancellable = g_cancellable_new();
        link->state = LINK_CONNECTING;

        socket = g_socket_new_from_fd(fd, &error);
        if (!socket) {
                g_warning("%s: the direct link's fd is not a socket: %s", connection_path, error->message);
                close(fd);
                g_mutex_lock(&link->lock);
                link->handshake_done = TRUE;
                link->handshake_error = g_steal_pointer(&error);
                g_mutex_unlock(&link->lock);
                /* No peer: become_ready() reports the end from the context. */
                become_ready(link);
                return link;
        }
        stream = g_socket_connection_factory_create_connection(socket);
        link->stream = g_object_ref(G_IO_STREAM(stream));
        if (server_side) {
                flags |= G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER |
                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_ALLOW_ANONYMOUS;
                guid = g_dbus_generate_guid();
                observer = g_dbus_auth_observer_new();
                g_signal_connect(observer, "allow-mechanism", G_CALLBACK(on_allow_mechanism), NULL);
        } else {
                flags |= G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT;
        }

        /* Made here, in the owner's context, so that ::closed is emitted there; initialized (the
         * handshake, which blocks) in a worker, as g_dbus_connection_new() would do, but with an
         * outcome that a _sync() send can wait for without the context running. */
        g_main_context_push_thread_default(context);
        link->peer = g_object_new(G_TYPE_DBUS_CONNECTION, "stream", stream, "guid", guid, "flags", flags,
                                  "authentication-observer", observer, "exit-on-close", FALSE, NULL);
        task = g_task_new(NULL, link->handshake_cancellable, on_handshake_done, as_direct_link_ref(link));
        g_main_context_pop_thread_default(context);
        g_task_set_task_data(task, link, NULL); /* kept by the callback's reference */
        g_task_run_in_thread(task, handshake_thread);
        g_object_unref(task);
        return link;
}

AsDirectLink *as_direct_link_ref(AsDirectLink *link) {
        g_atomic_int_inc(&link->ref_count);
        return link;
}

void as_direct_link_unref(AsDirectLink *link) {
        if (!link || !g_atomic_int_dec_and_test(&link->ref_count))
                return;
        /* Closed by now (the owner closes it; requests and sends hold references). */
        g_warn_if_fail(g_queue_is_empty(&link->sends));
        g_hash_table_unref(link->incoming);
        g_clear_object(&link->peer);
        g_clear_object(&link->stream);
        g_clear_object(&link->handshake_cancellable);
        g_clear_error(&link->handshake_error);
        g_main_context_unref(link->context);
        g_free(link->service);
        g_free(link->connection_path);
        g_mutex_clear(&link->lock);
        g_cond_clear(&link->cond);
        g_free(link);
}

void as_direct_link_detach(AsDirectLink *link) {
        link->owner = NULL;
        g_hash_table_remove_all(link->incoming);
}

/* The other side may still be writing what it sent before the close (a response, typically):
 * its end of file says it is done; a side that never ends its link is not waited for longer. */
static gboolean on_drain_timeout(gpointer user_data) {
        AsDirectLink *link = user_data;

        g_clear_pointer(&link->drain_timer, g_source_unref);
        if (link->state != LINK_READY)
                return G_SOURCE_REMOVE;
        g_debug("%s: the other side did not end the direct link in time", link->connection_path);
        link->state = LINK_ENDED;
        g_hash_table_remove_all(link->incoming);
        notify_ended(link);
        return G_SOURCE_REMOVE;
}

gboolean as_direct_link_drain(AsDirectLink *link, guint timeout_ms) {
        GSocket *socket;

        if (link->state != LINK_READY || !G_IS_SOCKET_CONNECTION(link->stream))
                return FALSE;
        if (link->drain_timer)
                return TRUE;
        /* Our end of file tells the other side that nothing more comes from us, so that it ends
         * its side too once its own writing is done; we read on until its end of file. */
        socket = g_socket_connection_get_socket(G_SOCKET_CONNECTION(link->stream));
        if (!g_socket_shutdown(socket, FALSE, TRUE, NULL))
                return FALSE;
        link->drain_timer = g_timeout_source_new(timeout_ms);
        g_source_set_callback(link->drain_timer, on_drain_timeout, link, NULL);
        g_source_attach(link->drain_timer, link->context);
        return TRUE;
}

void as_direct_link_close(AsDirectLink *link) {
        LinkState was = link->state;

        stop_draining(link);
        if (was == LINK_CLOSED)
                return;
        link->owner = NULL;
        g_hash_table_remove_all(link->incoming);
        if (was == LINK_CONNECTING) {
                /* The worker still uses the connection: become_ready() closes it when it is done. */
                link->state = LINK_CLOSED;
                if (link->handshake_cancellable)
                        g_cancellable_cancel(link->handshake_cancellable);
                return;
        }
        close_peer(link);
        link->state = LINK_CLOSED;
}

void as_direct_link_fail_pending(AsDirectLink *link, const gchar *cause) {
        GTask *task;

        while ((task = g_queue_pop_head(&link->sends))) {
                g_task_return_new_error(task, APP_SERVICE_ERROR, APP_SERVICE_ERROR_CLOSED,
                                        "app service '%s': connection %s closed before the response came: %s",
                                        link->service, link->connection_path, cause);
                g_object_unref(task);
        }
}

/* ---- sending ---- */

static void send_data_free(gpointer p) {
        SendData *data = p;

        as_direct_link_unref(data->link);
        g_variant_unref(data->parameters);
        g_free(data);
}

static gint call_timeout_ms(AsDirectLink *link) {
        guint64 ms = (link->timeout_usec + SEND_GRACE_USEC + 999) / 1000;

        return (gint) MIN(ms, (guint64) G_MAXINT);
}

/* The link ended under a call: the error says so (our end closed, or the other end's Closed). */
static gboolean error_is_link_gone(const GError *error) {
        return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
               g_error_matches(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) ||
               g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
               g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED) ||
               g_error_matches(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_CLOSED);
}

/* A timeout of ours says what the broker's would. */
static GError *send_error_fix(AsDirectLink *link, GError *error) {
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
                g_error_free(error);
                return g_error_new(APP_SERVICE_ERROR, APP_SERVICE_ERROR_TIMEOUT,
                                   "app service '%s': no response within %g s", link->service,
                                   (gdouble) link->timeout_usec / G_USEC_PER_SEC);
        }
        return error;
}

static void on_send_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        SendData *data = g_task_get_task_data(task);
        AsDirectLink *link = data->link;
        GError *error = NULL;
        GVariant *reply;

        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        if (!g_queue_find(&link->sends, task)) {
                /* Failed already, with the connection. */
                g_clear_pointer(&reply, g_variant_unref);
                g_clear_error(&error);
                return;
        }
        if (!reply && error_is_link_gone(error) && !g_cancellable_is_cancelled(g_task_get_cancellable(task))) {
                /* Held until the owner says why the connection ended. */
                g_error_free(error);
                return;
        }
        g_queue_remove(&link->sends, task);
        if (reply)
                g_task_return_pointer(task, reply, (GDestroyNotify) g_variant_unref);
        else
                g_task_return_error(task, send_error_fix(link, error));
        g_object_unref(task); /* the queue's reference */
}

static void send_start(AsDirectLink *link, GTask *task) {
        SendData *data = g_task_get_task_data(task);

        data->sent = TRUE;
        g_main_context_push_thread_default(link->context);
        g_dbus_connection_call(link->peer, NULL, LINK_PATH, LINK_IFACE, "SendMessage", data->parameters,
                               G_VARIANT_TYPE("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, call_timeout_ms(link),
                               g_task_get_cancellable(task), on_send_reply, g_object_ref(task));
        g_main_context_pop_thread_default(link->context);
}

static GVariant *send_parameters(GVariant *message) {
        if (!message)
                message = g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0);
        return g_variant_ref_sink(g_variant_new("(@a{sv})", message));
}

void as_direct_link_send(AsDirectLink *link, GVariant *message, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task;
        SendData *data;

        task = g_task_new(NULL, cancellable, callback, user_data);
        g_task_set_source_tag(task, as_direct_link_send);
        data = g_new0(SendData, 1);
        data->link = as_direct_link_ref(link);
        data->parameters = send_parameters(message);
        g_task_set_task_data(task, data, send_data_free);
        g_queue_push_tail(&link->sends, task);
        /* CONNECTING: sent once ready. ENDED, CLOSED: held, failed with the connection. */
        if (link->state == LINK_READY)
                send_start(link, task);
}

GVariant *as_direct_link_send_finish(AsDirectLink *link, GAsyncResult *result, GError **error) {
        return g_task_propagate_pointer(G_TASK(result), error);
}

/* In the owner's thread: a _sync() send cannot wait for the context to run. */
static gboolean wait_for_handshake(AsDirectLink *link, GError **error) {
        gint64 end = g_get_monotonic_time() + (gint64) MIN(link->timeout_usec + SEND_GRACE_USEC, (guint64) G_MAXINT64 / 2);
        gboolean done;

        g_mutex_lock(&link->lock);
        while (!link->handshake_done && g_cond_wait_until(&link->cond, &link->lock, end))
                ;
        done = link->handshake_done;
        g_mutex_unlock(&link->lock);
        if (!done) {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_TIMEOUT,
                            "app service '%s': the direct link was not ready within %g s", link->service,
                            (gdouble) (link->timeout_usec + SEND_GRACE_USEC) / G_USEC_PER_SEC);
                return FALSE;
        }
        become_ready(link);
        return TRUE;
}

GVariant *as_direct_link_send_sync(AsDirectLink *link, GVariant *message, GCancellable *cancellable,
                                   GError **error) {
        g_autoptr(GVariant) parameters = send_parameters(message);
        g_autoptr(GDBusConnection) peer = NULL;
        GError *e = NULL;
        GVariant *reply;

        if (link->state == LINK_CONNECTING && !wait_for_handshake(link, error))
                return NULL;
        if (link->state != LINK_READY) {
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the direct link ended");
                return NULL;
        }
        peer = g_object_ref(link->peer);
        reply = g_dbus_connection_call_sync(peer, NULL, LINK_PATH, LINK_IFACE, "SendMessage", parameters,
                                            G_VARIANT_TYPE("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, call_timeout_ms(link),
                                            cancellable, &e);
        if (reply)
                return reply;
        if (error_is_link_gone(e) && !g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CLOSED)) {
                g_clear_error(&e);
                e = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CLOSED, "the direct link ended");
        }
        g_propagate_error(error, send_error_fix(link, e));
        return NULL;
}
