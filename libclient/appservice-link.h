/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The broker link: what AppServiceConnection, AppServiceProvider and AppServiceNode each embed
 * to reach the broker: the bus, the main context the object belongs to, and its place in that
 * context's hub.
 *
 * Initializing it (the objects' GInitable and GAsyncInitable) gets the default bus when none was
 * given, which may block, then attaches to the hub; never at construction. It is idempotent: the
 * first outcome stays, a bus or the reason there is none, except a cancellation, after which the
 * next initialization tries again. Used in the owner's thread only. */

#include "appservice-hub.h"

G_BEGIN_DECLS

typedef enum {
        AS_LINK_NEW,
        AS_LINK_GETTING_BUS, /* the default bus, in a worker thread */
        AS_LINK_READY,       /* with a bus, or the error of getting it */
} AsLinkState;

typedef struct {
        AsLinkState state;
        GDBusConnection *bus; /* given at construction, or the default bus once ready */
        GError *error;        /* why there is no bus, once ready */
        GMainContext *context; /* the owner's: its signals are emitted there */
        AsHub *hub;           /* from ready with a bus until detached */
        AsHubClient client;
        GQueue waiting; /* LinkWaiter: asynchronous operations, until ready */
} AsBrokerLink;

/* Continues an asynchronous operation once the link is ready with a bus: @task (owned) holds the
 * operation's data; its source object is the link's owner. */
typedef void (*AsLinkContinueFunc)(GTask *task);

void as_broker_link_init(AsBrokerLink *link, GObject *owner, const AsHubClientVTable *vtable);
void as_broker_link_set_bus(AsBrokerLink *link, GDBusConnection *bus);
void as_broker_link_detach(AsBrokerLink *link);
void as_broker_link_clear(AsBrokerLink *link);

gboolean as_broker_link_init_sync(AsBrokerLink *link, GCancellable *cancellable, GError **error);
void as_broker_link_init_async(AsBrokerLink *link, GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data);
gboolean as_broker_link_init_finish(AsBrokerLink *link, GAsyncResult *result, GError **error);
void as_broker_link_then(AsBrokerLink *link, GTask *task, AsLinkContinueFunc then);

/* The link's owner implements GInitable and GAsyncInitable with these: they initialize the link. */
void as_broker_link_initable_iface_init(GInitableIface *iface);
void as_broker_link_async_initable_iface_init(GAsyncInitableIface *iface);

/* The hub, for a ready link with a bus. */
const gchar *as_broker_link_get_broker(AsBrokerLink *link);
void as_broker_link_bind_path(AsBrokerLink *link, const gchar *object_path, const gchar *owner);
void as_broker_link_unbind_path(AsBrokerLink *link, const gchar *object_path);
gboolean as_broker_link_take_closed(AsBrokerLink *link, const gchar *object_path, const gchar *owner,
                                    guint32 *ret_status);

GUnixFDList *as_broker_link_take_fds(AsBrokerLink *link, const gchar *connection_path, const gchar *owner);

/* The bus for the owner's `bus` property: initializes the link first if needed (which may block). */
GDBusConnection *as_broker_link_get_bus(AsBrokerLink *link);

G_END_DECLS
