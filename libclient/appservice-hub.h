/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The hub: one per (bus, main context), the library's only signal subscriptions and watch on
 * io.appservice1, shared by every object of that context (see appservice-hub.c). It knows no
 * class: an object attaches as a client with a vtable, and the hub calls it only through it. */

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

G_BEGIN_DECLS

typedef struct _AsHub AsHub;

typedef enum {
        /* The Manager's unicast signals (StateUpdate, MonitorEvent). */
        AS_HUB_WANTS_MANAGER_SIGNALS = 1 << 0,
        /* The Manager's PropertiesChanged: a broadcast, subscribed only while a client wants it. */
        AS_HUB_WANTS_MANAGER_PROPERTIES = 1 << 1,
        /* The ObjectManager's InterfacesAdded and InterfacesRemoved at the Manager's path, and
         * the app services' PropertiesChanged (broadcast, or unicast to a subscriber): subscribed
         * only while a client wants them. */
        AS_HUB_WANTS_SERVICE_CHANGES = 1 << 2,
} AsHubWants;

typedef struct {
        AsHubWants wants;
        /* io.appservice1's owner is @owner, or it has none (%NULL): called at each change, and at
         * attach when the owner is known already. */
        void (*broker_changed)(gpointer instance, const gchar *owner);
        /* A signal for the client, its parameters as the contract says: at a path it bound (from
         * the owner it bound the path with), or of the Manager (from the current owner). */
        void (*signal)(gpointer instance, const gchar *sender, const gchar *object_path,
                       const gchar *interface_name, const gchar *signal_name, GVariant *parameters);
} AsHubClientVTable;

/* What the hub knows of a client: embedded in the client (its AsBrokerLink). @instance is a
 * GObject, kept alive across each call. The fields after it are the hub's. */
typedef struct {
        const AsHubClientVTable *vtable;
        gpointer instance;
        AsHub *hub;     /* while attached */
        GList node;     /* in the hub's list of clients */
        guint n_bound;  /* paths bound to it */
} AsHubClient;

AsHub *as_hub_attach(GDBusConnection *bus, GMainContext *context, AsHubClient *client);
void as_hub_detach(AsHub *hub, AsHubClient *client);
const gchar *as_hub_get_owner(AsHub *hub);

/* Routes the signals at @object_path from @owner to @client, until unbound. */
void as_hub_bind_path(AsHub *hub, const gchar *object_path, const gchar *owner, AsHubClient *client);
void as_hub_unbind_path(AsHub *hub, const gchar *object_path, AsHubClient *client);

/* Whether ServiceClosed from @owner for @object_path arrived and was not dispatched yet; if so,
 * its status, and the note is taken. */
gboolean as_hub_take_closed(AsHub *hub, const gchar *object_path, const gchar *owner, guint32 *ret_status);

/* The fds of the DirectConnectionOpened for @connection_path from @owner, while that signal is
 * dispatched (they are closed after it); %NULL if none. */
GUnixFDList *as_hub_take_fds(AsHub *hub, const gchar *connection_path, const gchar *owner);

G_END_DECLS
