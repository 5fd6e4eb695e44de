/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "appservice-direct.h"

#include "appservice-dbus-interfaces.h"
#include "appservice-private.h"
#include "appservice-wire.h"
#include "valueset-dbus-size.h"

/* See appservice-direct.h. The link speaks D-Bus through an AsWire (appservice-wire.h): the
 * socket, the handshake and the framing, all in the owner's context. The states, in the owner's
 * thread:
 *
 *   CONNECTING  the handshake runs; sends queue up;
 *   READY       messages flow, queued sends went out;
 *   ENDED       the link ended by itself (end of file, a failed handshake): the owner was told
 *               and will close it;
 *   CLOSED      the owner closed it: the socket is closed, the owner detached.
 *
 * Sends are GTasks in link->sends until completed, and in link->calls by serial while their call
 * is out. One whose link ends before its response is held in link->sends, so that the owner can
 * first tell the application why the connection ended and then fail them all
 * (as_direct_link_fail_pending()), as the broker does for a brokered connection. */

#define LINK_PATH "/io/appservice1/link"
#define LINK_IFACE "io.appservice1.Link"
#define PEER_IFACE "org.freedesktop.DBus.Peer"
#define INTROSPECTABLE_IFACE "org.freedesktop.DBus.Introspectable"
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
        LinkState state;
        gboolean server_side;
        AsWire *wire;
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
        GHashTable *calls;    /* serial → GTask (the queue's reference): sent, reply awaited */
};

typedef struct {
        AsDirectLink *link; /* not referenced: the table is emptied before the link goes */
        guint64 id;
        GDBusMessage *call; /* until answered */
        GSource *timer;
} Incoming;

typedef struct {
        AsDirectLink *link; /* referenced */
        GVariant *parameters;
        guint32 serial; /* once sent */
        GSource *timer;
        GSource *cancelled;
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

/* ---- answering the other end ---- */

static gboolean wants_reply(GDBusMessage *call) {
        return !(g_dbus_message_get_flags(call) & G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED);
}

/* @body is sunk. */
static void reply_value(AsDirectLink *link, GDBusMessage *call, GVariant *body) {
        g_autoptr(GDBusMessage) reply = NULL;

        if (!wants_reply(call)) {
                if (body)
                        g_variant_unref(g_variant_ref_sink(body));
                return;
        }
        reply = g_dbus_message_new_method_reply(call);
        if (body)
                g_dbus_message_set_body(reply, body);
        as_wire_send(link->wire, reply);
}

static void reply_dbus_error(AsDirectLink *link, GDBusMessage *call, const gchar *name, const gchar *message) {
        g_autoptr(GDBusMessage) reply = NULL;

        if (!wants_reply(call))
                return;
        reply = g_dbus_message_new_method_error_literal(call, name, message);
        as_wire_send(link->wire, reply);
}

/* As g_dbus_method_invocation_return_gerror() names it: our domain's registered names. */
static void reply_gerror(AsDirectLink *link, GDBusMessage *call, const GError *error) {
        g_autofree gchar *name = g_dbus_error_encode_gerror(error);

        reply_dbus_error(link, call, name, error->message);
}

static void reply_error(AsDirectLink *link, GDBusMessage *call, gint code, const gchar *format, ...)
        G_GNUC_PRINTF(4, 5);

static void reply_error(AsDirectLink *link, GDBusMessage *call, gint code, const gchar *format, ...) {
        g_autoptr(GError) error = NULL;
        va_list ap;

        va_start(ap, format);
        error = g_error_new_valist(APP_SERVICE_ERROR, code, format, ap);
        va_end(ap);
        reply_gerror(link, call, error);
}

/* ---- received requests ---- */

static void incoming_free(gpointer p) {
        Incoming *in = p;

        if (in->timer) {
                g_source_destroy(in->timer);
                g_source_unref(in->timer);
        }
        /* Never dropped without a reply: a link that is closing carries it nowhere. */
        if (in->call) {
                reply_error(in->link, in->call, APP_SERVICE_ERROR_CLOSED,
                            "app service '%s': connection %s closed before the response came: the connection closed",
                            in->link->service, in->link->connection_path);
                g_object_unref(in->call);
        }
        g_free(in);
}

static gboolean on_incoming_timeout(gpointer user_data) {
        Incoming *in = user_data;
        AsDirectLink *link = in->link;

        reply_error(link, in->call, APP_SERVICE_ERROR_TIMEOUT, "app service '%s': no response within %g s",
                    link->service, (gdouble) link->timeout_usec / G_USEC_PER_SEC);
        g_clear_object(&in->call);
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

static void on_send_message(AsDirectLink *link, GDBusMessage *call) {
        g_autoptr(GVariant) message = NULL;
        GError *error = NULL;
        Incoming *in;

        if (link->state != LINK_READY || !link->owner) {
                reply_error(link, call, APP_SERVICE_ERROR_CLOSED, "app service '%s': connection %s is closed",
                            link->service, link->connection_path);
                return;
        }
        message = g_variant_get_child_value(g_dbus_message_get_body(call), 0);
        if (!check_received(link, message, &error)) {
                g_debug("%s: refusing a message on the direct link: %s", link->connection_path, error->message);
                reply_gerror(link, call, error);
                g_error_free(error);
                return;
        }

        in = g_new0(Incoming, 1);
        in->link = link;
        in->id = ++link->last_id;
        in->call = g_object_ref(call);
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

/* The link's object, for a peer that introspects it (busctl, d-feet): what it serves. */
static GVariant *introspection_xml(void) {
        g_autoptr(GString) xml = g_string_new(
                "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n<node>\n");

        g_dbus_interface_info_generate_xml((GDBusInterfaceInfo *) &app_service_dbus_link_interface, 2, xml);
        g_string_append(xml, "  <interface name=\"" PEER_IFACE "\">\n"
                             "    <method name=\"Ping\"/>\n"
                             "  </interface>\n"
                             "  <interface name=\"" INTROSPECTABLE_IFACE "\">\n"
                             "    <method name=\"Introspect\">\n"
                             "      <arg type=\"s\" name=\"xml_data\" direction=\"out\"/>\n"
                             "    </method>\n"
                             "  </interface>\n"
                             "</node>\n");
        return g_variant_new("(s)", xml->str);
}

/* What GDBus answered for an object that exports io.appservice1.Link alone, at LINK_PATH. */
static void on_method_call(AsDirectLink *link, GDBusMessage *call) {
        const gchar *path = g_dbus_message_get_path(call);
        const gchar *iface = g_dbus_message_get_interface(call);
        const gchar *member = g_dbus_message_get_member(call);
        const gchar *signature = g_dbus_message_get_signature(call);

        if (g_strcmp0(iface, PEER_IFACE) == 0 && g_strcmp0(member, "Ping") == 0) {
                reply_value(link, call, NULL);
        } else if (g_strcmp0(path, LINK_PATH) == 0 && g_strcmp0(iface, INTROSPECTABLE_IFACE) == 0 &&
                   g_strcmp0(member, "Introspect") == 0) {
                reply_value(link, call, introspection_xml());
        } else if (g_strcmp0(path, LINK_PATH) != 0) {
                g_autofree gchar *text = g_strdup_printf("Object does not exist at path “%s”", path);

                /* GDBus 2.74 names an unknown object so too. */
                reply_dbus_error(link, call, "org.freedesktop.DBus.Error.UnknownMethod", text);
        } else if (g_strcmp0(iface, LINK_IFACE) != 0 && iface) {
                g_autofree gchar *text = g_strdup_printf("No such interface “%s” on object at path %s", iface, path);

                reply_dbus_error(link, call, "org.freedesktop.DBus.Error.UnknownMethod", text);
        } else if (g_strcmp0(member, "SendMessage") != 0) {
                g_autofree gchar *text = g_strdup_printf("No such method “%s”", member);

                reply_dbus_error(link, call, "org.freedesktop.DBus.Error.UnknownMethod", text);
        } else if (g_strcmp0(signature, "a{sv}") != 0) {
                g_autofree gchar *text = g_strdup_printf("Type of message, “(%s)”, does not match expected type "
                                                         "“(a{sv})”", signature ? signature : "");

                reply_dbus_error(link, call, "org.freedesktop.DBus.Error.InvalidArgs", text);
        } else {
                on_send_message(link, call);
        }
}

gboolean as_direct_link_respond(AsDirectLink *link, guint64 id, GVariant *response, GError **error) {
        Incoming *in = g_hash_table_lookup(link->incoming, &id);
        g_autoptr(GError) invalid = NULL;

        if (!in || !in->call) {
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
        reply_value(link, in->call, g_variant_new("(@a{sv})", response));
        g_clear_object(&in->call);
        g_hash_table_remove(link->incoming, &id);
        return TRUE;
}

/* ---- the life of the link ---- */

static void send_start(AsDirectLink *link, GTask *task);
static void send_hold(AsDirectLink *link, GTask *task);

static void notify_ended(AsDirectLink *link) {
        if (link->state == LINK_ENDED && link->owner) {
                g_autoptr(GObject) owner = g_object_ref(link->owner);

                link->vtable->ended(owner, link);
        }
}

static void stop_draining(AsDirectLink *link) {
        if (!link->drain_timer)
                return;
        g_source_destroy(link->drain_timer);
        g_clear_pointer(&link->drain_timer, g_source_unref);
}

/* The sends out stay in link->sends, held until the owner fails them. */
static void hold_sends(AsDirectLink *link) {
        for (GList *l = link->sends.head; l; l = l->next)
                send_hold(link, l->data);
}

static void on_wire_ready(gpointer user_data) {
        AsDirectLink *link = user_data;

        if (link->state != LINK_CONNECTING)
                return;
        link->state = LINK_READY;
        for (GList *l = link->sends.head; l; l = l->next)
                send_start(link, l->data);
}

static void on_reply(AsDirectLink *link, GDBusMessage *reply);

static void on_wire_message(gpointer user_data, GDBusMessage *message) {
        g_autoptr(AsDirectLink) link = as_direct_link_ref(user_data);

        switch (g_dbus_message_get_message_type(message)) {
        case G_DBUS_MESSAGE_TYPE_METHOD_CALL:
                on_method_call(link, message);
                break;
        case G_DBUS_MESSAGE_TYPE_METHOD_RETURN:
        case G_DBUS_MESSAGE_TYPE_ERROR:
                on_reply(link, message);
                break;
        default:
                /* Signals, and what D-Bus may define later: nobody listens. */
                break;
        }
}

/* From the context (the wire reports its end from there only). */
static void on_wire_ended(gpointer user_data, const GError *error) {
        g_autoptr(AsDirectLink) link = as_direct_link_ref(user_data);

        if (link->state == LINK_CONNECTING) {
                g_debug("%s: the direct link's handshake failed: %s", link->connection_path, error->message);
        } else if (link->state == LINK_READY) {
                g_debug("%s: the direct link ended: %s", link->connection_path, error->message);
                stop_draining(link);
        } else {
                return;
        }
        link->state = LINK_ENDED;
        g_hash_table_remove_all(link->incoming);
        hold_sends(link);
        notify_ended(link);
}

static const AsWireVTable wire_vtable = {
        .ready = on_wire_ready,
        .message = on_wire_message,
        .ended = on_wire_ended,
};

static guint64 lookup_t(GVariant *info, const gchar *key, guint64 fallback) {
        guint64 value;

        return info && g_variant_lookup(info, key, "t", &value) ? value : fallback;
}

AsDirectLink *as_direct_link_new(gint fd, gboolean server_side, GVariant *link_info, const gchar *app_service_name,
                                 const gchar *connection_path, GMainContext *context,
                                 const AsDirectLinkVTable *vtable, gpointer owner) {
        AsDirectLink *link = g_new0(AsDirectLink, 1);
        guint32 max_pending;

        link->ref_count = 1;
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
        link->calls = g_hash_table_new(NULL, NULL);
        link->state = LINK_CONNECTING;
        /* The provider's end is the authentication's server. A wire that cannot start reports
         * its end from the context. */
        link->wire = as_wire_new(fd, server_side, link->max_size, context, &wire_vtable, link);
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
        stop_draining(link);
        g_hash_table_remove_all(link->incoming);
        /* Closed before the last reference goes: a wire in its dispatch calls us no more. */
        as_wire_close(link->wire);
        as_wire_unref(link->wire);
        g_hash_table_unref(link->incoming);
        g_hash_table_unref(link->calls);
        g_main_context_unref(link->context);
        g_free(link->service);
        g_free(link->connection_path);
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
        if (link->state != LINK_READY)
                return FALSE;
        if (link->drain_timer)
                return TRUE;
        /* Our end of file tells the other side that nothing more comes from us, so that it ends
         * its side too once its own writing is done; we read on until its end of file. */
        if (!as_wire_shutdown_write(link->wire))
                return FALSE;
        link->drain_timer = g_timeout_source_new(timeout_ms);
        g_source_set_callback(link->drain_timer, on_drain_timeout, link, NULL);
        g_source_attach(link->drain_timer, link->context);
        return TRUE;
}

void as_direct_link_close(AsDirectLink *link) {
        stop_draining(link);
        if (link->state == LINK_CLOSED)
                return;
        link->owner = NULL;
        link->state = LINK_CLOSED;
        /* Their Closed answers go out with what is queued, if the socket takes them now. */
        g_hash_table_remove_all(link->incoming);
        hold_sends(link);
        as_wire_close(link->wire);
}

/* ---- sending ---- */

static void send_data_free(gpointer p) {
        SendData *data = p;

        as_direct_link_unref(data->link);
        g_variant_unref(data->parameters);
        g_free(data);
}

static gint64 call_timeout_usec(AsDirectLink *link) {
        return (gint64) MIN(link->timeout_usec + SEND_GRACE_USEC, (guint64) G_MAXINT64 / 4);
}

/* The link ended under a call: the error says so (the other end's Closed, typically). */
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

/* The reply's body, or its error as GDBus gives it (remote errors in their registered domains). */
static GVariant *reply_take(GDBusMessage *reply, GError **error) {
        GVariant *body;

        if (g_dbus_message_to_gerror(reply, error))
                return NULL;
        body = g_dbus_message_get_body(reply);
        if (!body || !g_variant_is_of_type(body, G_VARIANT_TYPE("(a{sv})"))) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "Method 'SendMessage' returned type '%s', but expected '(a{sv})'",
                            body ? g_variant_get_type_string(body) : "()");
                return NULL;
        }
        return g_variant_ref(body);
}

static GDBusMessage *send_message_new(GVariant *parameters) {
        GDBusMessage *call = g_dbus_message_new_method_call(NULL, LINK_PATH, LINK_IFACE, "SendMessage");

        g_dbus_message_set_body(call, parameters);
        return call;
}

/* No more timer, cancellation or reply for @task: completed, or held. */
static void send_disarm(AsDirectLink *link, SendData *data) {
        if (data->timer) {
                g_source_destroy(data->timer);
                g_clear_pointer(&data->timer, g_source_unref);
        }
        if (data->cancelled) {
                g_source_destroy(data->cancelled);
                g_clear_pointer(&data->cancelled, g_source_unref);
        }
        if (data->serial)
                g_hash_table_remove(link->calls, GUINT_TO_POINTER(data->serial));
}

static void send_hold(AsDirectLink *link, GTask *task) {
        send_disarm(link, g_task_get_task_data(task));
}

/* Takes @reply or @error. */
static void send_complete(AsDirectLink *link, GTask *task, GVariant *reply, GError *error) {
        send_disarm(link, g_task_get_task_data(task));
        g_queue_remove(&link->sends, task);
        if (reply)
                g_task_return_pointer(task, reply, (GDestroyNotify) g_variant_unref);
        else
                g_task_return_error(task, send_error_fix(link, error));
        g_object_unref(task); /* the queue's reference */
}

static void on_reply(AsDirectLink *link, GDBusMessage *message) {
        GTask *task = g_hash_table_lookup(link->calls, GUINT_TO_POINTER(g_dbus_message_get_reply_serial(message)));
        GError *error = NULL;
        GVariant *reply;

        if (!task)
                return; /* timed out or cancelled already, or never ours */
        reply = reply_take(message, &error);
        if (!reply && error_is_link_gone(error)) {
                /* Held until the owner says why the connection ended. */
                g_error_free(error);
                send_hold(link, task);
                return;
        }
        send_complete(link, task, reply, error);
}

static gboolean on_send_timeout(gpointer user_data) {
        GTask *task = user_data;
        SendData *data = g_task_get_task_data(task);

        send_complete(data->link, task, NULL, g_error_new_literal(G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "Timeout was reached"));
        return G_SOURCE_REMOVE;
}

static gboolean on_send_cancelled(GCancellable *cancellable, gpointer user_data) {
        GTask *task = user_data;
        SendData *data = g_task_get_task_data(task);
        GError *error = NULL;

        g_cancellable_set_error_if_cancelled(cancellable, &error);
        send_complete(data->link, task, NULL, error);
        return G_SOURCE_REMOVE;
}

static GSource *send_attach(AsDirectLink *link, GSource *source, GSourceFunc callback, GTask *task) {
        g_source_set_callback(source, callback, task, NULL);
        g_source_attach(source, link->context);
        return source;
}

static void send_start(AsDirectLink *link, GTask *task) {
        SendData *data = g_task_get_task_data(task);
        g_autoptr(GDBusMessage) call = send_message_new(data->parameters);
        GCancellable *cancellable = g_task_get_cancellable(task);

        data->serial = as_wire_send(link->wire, call);
        g_hash_table_insert(link->calls, GUINT_TO_POINTER(data->serial), task);
        data->timer = send_attach(link, g_timeout_source_new((guint) (call_timeout_usec(link) / 1000)), on_send_timeout,
                                  task);
        if (cancellable)
                data->cancelled = send_attach(link, g_cancellable_source_new(cancellable),
                                              G_SOURCE_FUNC(on_send_cancelled), task);
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

/* In the owner's thread, with its context not running: the handshake, in this thread. */
static gboolean wait_for_handshake(AsDirectLink *link, GCancellable *cancellable, GError **error) {
        GError *e = NULL;

        if (as_wire_wait_ready(link->wire, g_get_monotonic_time() + call_timeout_usec(link), cancellable, &e))
                return TRUE;
        if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
                g_clear_error(&e);
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_TIMEOUT,
                            "app service '%s': the direct link was not ready within %g s", link->service,
                            (gdouble) call_timeout_usec(link) / G_USEC_PER_SEC);
                return FALSE;
        }
        g_propagate_error(error, e);
        return FALSE;
}

GVariant *as_direct_link_send_sync(AsDirectLink *link, GVariant *message, GCancellable *cancellable,
                                   GError **error) {
        g_autoptr(GVariant) parameters = send_parameters(message);
        g_autoptr(GDBusMessage) call = NULL;
        g_autoptr(GDBusMessage) reply = NULL;
        GError *e = NULL;
        GVariant *body;
        guint32 serial;

        if (link->state == LINK_CONNECTING && !wait_for_handshake(link, cancellable, error))
                return NULL;
        if (link->state != LINK_READY) {
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the direct link ended");
                return NULL;
        }
        call = send_message_new(parameters);
        serial = as_wire_send(link->wire, call);
        /* What else arrives meanwhile (requests, other replies) is delivered later, in order. */
        reply = as_wire_wait_reply(link->wire, serial, g_get_monotonic_time() + call_timeout_usec(link), cancellable,
                                   &e);
        body = reply ? reply_take(reply, &e) : NULL;
        if (body)
                return body;
        if (error_is_link_gone(e) && !g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CLOSED)) {
                g_clear_error(&e);
                e = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CLOSED, "the direct link ended");
        }
        g_propagate_error(error, send_error_fix(link, e));
        return NULL;
}

void as_direct_link_fail_pending(AsDirectLink *link, const gchar *cause) {
        GTask *task;

        while ((task = g_queue_peek_head(&link->sends)))
                send_complete(link, task, NULL,
                              g_error_new(APP_SERVICE_ERROR, APP_SERVICE_ERROR_CLOSED,
                                          "app service '%s': connection %s closed before the response came: %s",
                                          link->service, link->connection_path, cause));
}
