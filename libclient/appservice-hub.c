/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "appservice-hub.h"

#include <gio/gunixfdlist.h>

#include "appservice-dbus.h"

/* The hub: one per (bus, main context), shared by every object made in that context. It holds
 * the library's only signal subscriptions and the watch on io.appservice1, so that a process
 * with a thousand connections still has two subscriptions, not two thousand. It knows no class
 * of the library: objects attach as clients (AsHubClient), and it calls them only through their
 * vtable, for the broker's changes of owner and for the signals meant for them.
 *
 * - Connection and Service signals (RequestReceived, ServiceClosed, ConnectionOpened,
 *   StopRequested) are subscribed for every path, before any object needs them, and routed by
 *   object path to the client that bound it. A client binds its path in the reply handler of
 *   the call that made the object (OpenConnection, RegisterProvider, or the provider's
 *   ConnectionOpened), which GDBus dispatches before any signal that followed the reply on the
 *   wire, so none is lost.
 * - Every routed signal must come from the unique name the path was bound with, the one that
 *   answered that call: unicast signals reach us whatever the match rules say, and GLib before
 *   2.80 does not check a well-known sender name itself.
 * - When io.appservice1 changes or loses its owner, every client hears it; each decides what
 *   that means for it (open connections close with Canceled, providers register again).
 * - The Manager's signals (StateUpdate, MonitorEvent) are unicast, so their subscription costs
 *   no traffic; they go to the clients that want them. The Manager's PropertiesChanged is
 *   broadcast: it is subscribed only while a client wants it.
 * - So are the app services' changes (InterfacesAdded and InterfacesRemoved at the Manager's
 *   path, each service's PropertiesChanged): only while a list of the services is alive.
 *
 * - ServiceClosed is also noted, path and status, by a filter in GDBus's worker thread, as it
 *   arrives: the broker sends it before it fails the connection's pending requests with Closed,
 *   and a send that returns in the caller's thread (a _sync() call, or a callback in another
 *   context) would otherwise see Closed while the connection still looks open, its
 *   ServiceClosed still queued in the hub's context. Such a send closes the connection with the
 *   noted status first (as_hub_take_closed()).
 *
 * - The fds of DirectConnectionOpened (the provider's end of a direct link) are kept by the same
 *   filter, by connection path: a signal subscription gives the parameters, not the message's
 *   fds. The provider takes them while the signal is dispatched (as_hub_take_fds()); whatever
 *   is not taken then (a signal from a stranger, for nobody here) is closed right after.
 *
 * All fields but the user count, the closed notes and the fd notes are used only in the hub's
 * context. */

/* More notes than this are stale (spoofed, or for connections of no object here): drop them. */
#define CLOSED_NOTES_MAX 1024

typedef struct {
        gchar *sender;
        guint32 status;
} ClosedNote;

typedef struct {
        gchar *sender;
        GUnixFDList *fds;
} FdNote;

typedef struct {
        AsHubClient *client;
        gchar *owner; /* the only sender of the path's signals */
} PathBinding;

struct _AsHub {
        gint ref_count;    /* memory: the hubs table's user reference, and one per subscription */
        guint users;       /* clients attached; under hubs_lock */
        GDBusConnection *bus;
        GMainContext *context;
        guint connection_subscription;
        guint service_subscription;
        guint manager_subscription;
        guint properties_subscription; /* while properties_wanted */
        guint properties_wanted;
        guint services_subscriptions[2]; /* while services_wanted: ObjectManager, Properties */
        guint services_wanted;
        guint watch;
        gchar *owner;        /* io.appservice1's unique name as last seen, or NULL */
        GQueue clients;      /* AsHubClient (not owned), by order of attaching */
        GHashTable *bound;   /* object path → PathBinding */
        guint closed_filter;
        GMutex closed_lock;
        GHashTable *closed; /* object path → ClosedNote: ServiceClosed seen, not dispatched yet */
        GHashTable *fds;    /* connection path → FdNote: DirectConnectionOpened seen; closed_lock */
};

G_LOCK_DEFINE_STATIC(hubs);
static GPtrArray *hubs; /* AsHub, not owned */

static void closed_note_free(gpointer p) {
        ClosedNote *note = p;

        g_free(note->sender);
        g_free(note);
}

static void fd_note_free(gpointer p) {
        FdNote *note = p;

        g_free(note->sender);
        g_clear_object(&note->fds); /* closes the fds nobody took */
        g_free(note);
}

static void path_binding_free(gpointer p) {
        PathBinding *binding = p;

        binding->client->n_bound--;
        g_free(binding->owner);
        g_free(binding);
}

static AsHub *hub_ref(AsHub *hub) {
        g_atomic_int_inc(&hub->ref_count);
        return hub;
}

static void hub_unref(gpointer p) {
        AsHub *hub = p;

        if (!g_atomic_int_dec_and_test(&hub->ref_count))
                return;
        g_hash_table_unref(hub->bound);
        g_hash_table_unref(hub->closed);
        g_hash_table_unref(hub->fds);
        g_mutex_clear(&hub->closed_lock);
        g_free(hub->owner);
        g_main_context_unref(hub->context);
        g_object_unref(hub->bus);
        g_free(hub);
}

const gchar *as_hub_get_owner(AsHub *hub) {
        return hub->owner;
}

/* ---- ServiceClosed, as it arrives ---- */

/* In GDBus's worker thread, for every incoming message, in the bus's order. */
static void note_fds(AsHub *hub, GDBusMessage *message, GVariant *body, const gchar *sender) {
        GUnixFDList *fds = g_dbus_message_get_unix_fd_list(message);
        const gchar *connection_path;
        FdNote *note;

        if (!fds || !body || !g_variant_is_of_type(body, G_VARIANT_TYPE("(oa{sv}a{sv})")))
                return;
        g_variant_get_child(body, 0, "&o", &connection_path);
        note = g_new0(FdNote, 1);
        note->sender = g_strdup(sender);
        note->fds = g_object_ref(fds);
        g_mutex_lock(&hub->closed_lock);
        if (g_hash_table_size(hub->fds) >= CLOSED_NOTES_MAX)
                g_hash_table_remove_all(hub->fds);
        g_hash_table_replace(hub->fds, g_strdup(connection_path), note);
        g_mutex_unlock(&hub->closed_lock);
}

static GDBusMessage *closed_filter(GDBusConnection *bus, GDBusMessage *message, gboolean incoming,
                                   gpointer user_data) {
        AsHub *hub = user_data;
        GVariant *body = g_dbus_message_get_body(message);
        const gchar *path = g_dbus_message_get_path(message);
        const gchar *sender = g_dbus_message_get_sender(message);
        ClosedNote *note;

        if (incoming && sender && g_dbus_message_get_message_type(message) == G_DBUS_MESSAGE_TYPE_SIGNAL &&
            g_strcmp0(g_dbus_message_get_member(message), "DirectConnectionOpened") == 0 &&
            g_strcmp0(g_dbus_message_get_interface(message), AS_SERVICE_IFACE) == 0) {
                note_fds(hub, message, body, sender);
                return message;
        }

        if (!incoming || g_dbus_message_get_message_type(message) != G_DBUS_MESSAGE_TYPE_SIGNAL ||
            g_strcmp0(g_dbus_message_get_member(message), "ServiceClosed") != 0 ||
            g_strcmp0(g_dbus_message_get_interface(message), AS_CONNECTION_IFACE) != 0 || !path || !sender ||
            !body || !g_variant_is_of_type(body, G_VARIANT_TYPE("(u)")))
                return message;

        note = g_new0(ClosedNote, 1);
        note->sender = g_strdup(sender);
        g_variant_get(body, "(u)", &note->status);
        g_mutex_lock(&hub->closed_lock);
        if (g_hash_table_size(hub->closed) >= CLOSED_NOTES_MAX)
                g_hash_table_remove_all(hub->closed);
        g_hash_table_replace(hub->closed, g_strdup(path), note);
        g_mutex_unlock(&hub->closed_lock);
        return message;
}

static void closed_forget(AsHub *hub, const gchar *object_path) {
        g_mutex_lock(&hub->closed_lock);
        g_hash_table_remove(hub->closed, object_path);
        g_mutex_unlock(&hub->closed_lock);
}

gboolean as_hub_take_closed(AsHub *hub, const gchar *object_path, const gchar *owner, guint32 *ret_status) {
        ClosedNote *note;
        gboolean found = FALSE;

        g_mutex_lock(&hub->closed_lock);
        note = g_hash_table_lookup(hub->closed, object_path);
        if (note && g_strcmp0(note->sender, owner) == 0) {
                *ret_status = note->status;
                g_hash_table_remove(hub->closed, object_path);
                found = TRUE;
        }
        g_mutex_unlock(&hub->closed_lock);
        return found;
}

GUnixFDList *as_hub_take_fds(AsHub *hub, const gchar *connection_path, const gchar *owner) {
        GUnixFDList *fds = NULL;
        FdNote *note;

        g_mutex_lock(&hub->closed_lock);
        note = g_hash_table_lookup(hub->fds, connection_path);
        if (note && g_strcmp0(note->sender, owner) == 0) {
                fds = g_steal_pointer(&note->fds);
                g_hash_table_remove(hub->fds, connection_path);
        }
        g_mutex_unlock(&hub->closed_lock);
        return fds;
}

static void fds_forget(AsHub *hub, GVariant *parameters) {
        const gchar *connection_path;

        if (!g_variant_is_of_type(parameters, G_VARIANT_TYPE("(oa{sv}a{sv})")))
                return;
        g_variant_get_child(parameters, 0, "&o", &connection_path);
        g_mutex_lock(&hub->closed_lock);
        g_hash_table_remove(hub->fds, connection_path);
        g_mutex_unlock(&hub->closed_lock);
}

/* ---- calling the clients ---- */

static void client_release(gpointer p) {
        g_object_unref(((AsHubClient *) p)->instance);
}

/* The clients that want @wants (all for 0), each kept alive: handlers may make and drop
 * objects. */
static GPtrArray *clients_snapshot(AsHub *hub, AsHubWants wants) {
        GPtrArray *clients = g_ptr_array_new_with_free_func(client_release);

        for (GList *l = hub->clients.head; l; l = l->next) {
                AsHubClient *client = l->data;

                if ((client->vtable->wants & wants) == wants) {
                        g_object_ref(client->instance);
                        g_ptr_array_add(clients, client);
                }
        }
        return clients;
}

static void send_signal(AsHubClient *client, const gchar *sender, const gchar *object_path,
                        const gchar *interface_name, const gchar *signal_name, GVariant *parameters) {
        g_autoptr(GObject) instance = g_object_ref(client->instance);

        client->vtable->signal(instance, sender, object_path, interface_name, signal_name, parameters);
}

/* To every client that wants @wants and is still attached when its turn comes. */
static void broadcast_signal(AsHub *hub, AsHubWants wants, const gchar *sender, const gchar *object_path,
                             const gchar *interface_name, const gchar *signal_name, GVariant *parameters) {
        g_autoptr(GPtrArray) clients = clients_snapshot(hub, wants);

        for (guint i = 0; i < clients->len; i++) {
                AsHubClient *client = g_ptr_array_index(clients, i);

                if (client->hub == hub)
                        client->vtable->signal(client->instance, sender, object_path, interface_name,
                                               signal_name, parameters);
        }
}

/* ---- the signals ---- */

static void deliver_path_signal(AsHub *hub, const gchar *sender, const gchar *object_path,
                                const gchar *interface_name, const gchar *signal_name, GVariant *parameters);

static void on_path_signal(GDBusConnection *bus, const gchar *sender, const gchar *object_path,
                           const gchar *interface_name, const gchar *signal_name, GVariant *parameters,
                           gpointer user_data) {
        AsHub *hub = user_data;

        deliver_path_signal(hub, sender, object_path, interface_name, signal_name, parameters);
        /* Dispatched now: fds its client did not take are closed. */
        if (g_str_equal(signal_name, "DirectConnectionOpened"))
                fds_forget(hub, parameters);
}

static void deliver_path_signal(AsHub *hub, const gchar *sender, const gchar *object_path,
                                const gchar *interface_name, const gchar *signal_name, GVariant *parameters) {
        PathBinding *binding;

        if (g_str_equal(signal_name, "ServiceClosed"))
                closed_forget(hub, object_path); /* dispatched now: the note has served */
        binding = g_hash_table_lookup(hub->bound, object_path);
        if (!binding)
                return;
        if (g_strcmp0(sender, binding->owner) != 0) {
                g_debug("%s.%s on %s from %s, not from the broker: ignoring", interface_name, signal_name,
                        object_path, sender);
                return;
        }
        if (!as_signal_parameters_valid(interface_name, signal_name, parameters)) {
                g_debug("%s.%s on %s has parameters %s, not as the contract says: ignoring", interface_name,
                        signal_name, object_path, g_variant_get_type_string(parameters));
                return;
        }
        send_signal(binding->client, sender, object_path, interface_name, signal_name, parameters);
}

/* Whether a signal of the Manager or of the services list comes from io.appservice1's owner. */
static gboolean from_broker(AsHub *hub, const gchar *sender, const gchar *object_path, const gchar *interface_name,
                            const gchar *signal_name) {
        if (g_strcmp0(sender, hub->owner) == 0)
                return TRUE;
        g_debug("%s.%s on %s from %s, not from the broker: ignoring", interface_name, signal_name, object_path,
                sender);
        return FALSE;
}

static void on_manager_signal(GDBusConnection *bus, const gchar *sender, const gchar *object_path,
                              const gchar *interface_name, const gchar *signal_name, GVariant *parameters,
                              gpointer user_data) {
        AsHub *hub = user_data;

        /* The subscription takes only AS_MANAGER_PATH. */
        if (!from_broker(hub, sender, object_path, interface_name, signal_name))
                return;
        if (!as_signal_parameters_valid(interface_name, signal_name, parameters))
                return;
        broadcast_signal(hub, AS_HUB_WANTS_MANAGER_SIGNALS, sender, object_path, interface_name, signal_name,
                         parameters);
}

static void on_manager_properties_changed(GDBusConnection *bus, const gchar *sender, const gchar *object_path,
                                          const gchar *interface_name, const gchar *signal_name,
                                          GVariant *parameters, gpointer user_data) {
        AsHub *hub = user_data;

        if (g_strcmp0(sender, hub->owner) != 0 ||
            !g_variant_is_of_type(parameters, G_VARIANT_TYPE("(sa{sv}as)")))
                return;
        broadcast_signal(hub, AS_HUB_WANTS_MANAGER_PROPERTIES, sender, object_path, interface_name,
                         signal_name, parameters);
}

static void on_service_changes(GDBusConnection *bus, const gchar *sender, const gchar *object_path,
                               const gchar *interface_name, const gchar *signal_name, GVariant *parameters,
                               gpointer user_data) {
        AsHub *hub = user_data;

        if (!from_broker(hub, sender, object_path, interface_name, signal_name))
                return;
        if (g_str_equal(signal_name, "PropertiesChanged") ?
                    !g_str_has_prefix(object_path, AS_SERVICE_PATH_PREFIX) ||
                            !g_variant_is_of_type(parameters, G_VARIANT_TYPE("(sa{sv}as)")) :
                    !g_str_equal(object_path, AS_MANAGER_PATH))
                return;
        broadcast_signal(hub, AS_HUB_WANTS_SERVICE_CHANGES, sender, object_path, interface_name, signal_name,
                         parameters);
}

/* ---- the owner of io.appservice1 ---- */

static void set_owner(AsHub *hub, const gchar *owner) {
        g_autoptr(GPtrArray) clients = NULL;

        g_free(hub->owner);
        hub->owner = g_strdup(owner);
        clients = clients_snapshot(hub, 0);
        for (guint i = 0; i < clients->len; i++) {
                AsHubClient *client = g_ptr_array_index(clients, i);

                if (client->hub == hub)
                        client->vtable->broker_changed(client->instance, hub->owner);
        }
}

static void on_broker_appeared(GDBusConnection *bus, const gchar *name, const gchar *name_owner,
                               gpointer user_data) {
        g_debug("%s is owned by %s", name, name_owner);
        set_owner(user_data, name_owner);
}

static void on_broker_vanished(GDBusConnection *bus, const gchar *name, gpointer user_data) {
        g_debug("%s has no owner", name);
        set_owner(user_data, NULL);
}

/* ---- one hub per (bus, context) ---- */

static guint subscribe(AsHub *hub, const gchar *interface_name, const gchar *member, const gchar *object_path,
                       const gchar *arg0, GDBusSignalCallback callback) {
        return g_dbus_connection_signal_subscribe(hub->bus, AS_BUS_NAME, interface_name, member, object_path, arg0,
                                                  G_DBUS_SIGNAL_FLAGS_NONE, callback, hub_ref(hub), hub_unref);
}

static AsHub *hub_new(GDBusConnection *bus, GMainContext *context) {
        AsHub *hub = g_new0(AsHub, 1);

        hub->ref_count = 1;
        hub->bus = g_object_ref(bus);
        hub->context = g_main_context_ref(context);
        g_queue_init(&hub->clients);
        hub->bound = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, path_binding_free);
        g_mutex_init(&hub->closed_lock);
        hub->closed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, closed_note_free);
        hub->fds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, fd_note_free);
        hub->closed_filter = g_dbus_connection_add_filter(bus, closed_filter, hub_ref(hub), hub_unref);

        /* Subscriptions and the watch deliver to the thread-default context at the time of the
         * call: make sure it is the hub's. */
        g_main_context_push_thread_default(context);
        hub->connection_subscription = subscribe(hub, AS_CONNECTION_IFACE, NULL, NULL, NULL, on_path_signal);
        hub->service_subscription = subscribe(hub, AS_SERVICE_IFACE, NULL, NULL, NULL, on_path_signal);
        hub->manager_subscription = subscribe(hub, AS_MANAGER_IFACE, NULL, AS_MANAGER_PATH, NULL,
                                              on_manager_signal);
        hub->watch = g_bus_watch_name_on_connection(bus, AS_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                    on_broker_appeared, on_broker_vanished, hub_ref(hub),
                                                    hub_unref);
        g_main_context_pop_thread_default(context);
        return hub;
}

static AsHub *hub_get(GDBusConnection *bus, GMainContext *context) {
        AsHub *hub = NULL;

        G_LOCK(hubs);
        if (!hubs)
                hubs = g_ptr_array_new();
        for (guint i = 0; i < hubs->len && !hub; i++) {
                AsHub *h = g_ptr_array_index(hubs, i);

                if (h->bus == bus && h->context == context)
                        hub = h;
        }
        if (!hub) {
                hub = hub_new(bus, context);
                g_ptr_array_add(hubs, hub);
        }
        hub->users++;
        G_UNLOCK(hubs);
        return hub;
}

static void hub_release(AsHub *hub) {
        gboolean last;

        G_LOCK(hubs);
        last = --hub->users == 0;
        if (last)
                g_ptr_array_remove_fast(hubs, hub);
        G_UNLOCK(hubs);
        if (!last)
                return;

        /* Callbacks already queued check that their subscription still exists; the memory goes
         * with the last destroy notification, delivered in the hub's context. */
        g_dbus_connection_signal_unsubscribe(hub->bus, hub->connection_subscription);
        g_dbus_connection_signal_unsubscribe(hub->bus, hub->service_subscription);
        g_dbus_connection_signal_unsubscribe(hub->bus, hub->manager_subscription);
        if (hub->properties_subscription)
                g_dbus_connection_signal_unsubscribe(hub->bus, hub->properties_subscription);
        for (guint i = 0; i < G_N_ELEMENTS(hub->services_subscriptions); i++)
                if (hub->services_subscriptions[i])
                        g_dbus_connection_signal_unsubscribe(hub->bus, hub->services_subscriptions[i]);
        g_bus_unwatch_name(hub->watch);
        g_dbus_connection_remove_filter(hub->bus, hub->closed_filter);
        hub_unref(hub);
}

/* The State is shown by whoever wants PropertiesChanged: without one, the broadcast is not worth
 * its traffic. */
static void want_properties(AsHub *hub, gint delta) {
        hub->properties_wanted += delta;
        if (hub->properties_wanted > 0 && !hub->properties_subscription) {
                g_main_context_push_thread_default(hub->context);
                hub->properties_subscription = subscribe(hub, AS_PROPERTIES_IFACE, "PropertiesChanged",
                                                         AS_MANAGER_PATH, AS_MANAGER_IFACE,
                                                         on_manager_properties_changed);
                g_main_context_pop_thread_default(hub->context);
        } else if (hub->properties_wanted == 0 && hub->properties_subscription) {
                g_dbus_connection_signal_unsubscribe(hub->bus, hub->properties_subscription);
                hub->properties_subscription = 0;
        }
}

/* The services' changes: for the lists of services alone. */
static void want_services(AsHub *hub, gint delta) {
        hub->services_wanted += delta;
        if (hub->services_wanted > 0 && !hub->services_subscriptions[0]) {
                g_main_context_push_thread_default(hub->context);
                hub->services_subscriptions[0] = subscribe(hub, "org.freedesktop.DBus.ObjectManager", NULL,
                                                           AS_MANAGER_PATH, NULL, on_service_changes);
                hub->services_subscriptions[1] = subscribe(hub, AS_PROPERTIES_IFACE, "PropertiesChanged", NULL,
                                                           AS_SERVICE_IFACE, on_service_changes);
                g_main_context_pop_thread_default(hub->context);
        } else if (hub->services_wanted == 0 && hub->services_subscriptions[0]) {
                for (guint i = 0; i < G_N_ELEMENTS(hub->services_subscriptions); i++) {
                        g_dbus_connection_signal_unsubscribe(hub->bus, hub->services_subscriptions[i]);
                        hub->services_subscriptions[i] = 0;
                }
        }
}

/* In the hub's context. */
AsHub *as_hub_attach(GDBusConnection *bus, GMainContext *context, AsHubClient *client) {
        AsHub *hub = hub_get(bus, context);

        client->hub = hub;
        client->node.data = client;
        g_queue_push_tail_link(&hub->clients, &client->node);
        if (client->vtable->wants & AS_HUB_WANTS_MANAGER_PROPERTIES)
                want_properties(hub, +1);
        if (client->vtable->wants & AS_HUB_WANTS_SERVICE_CHANGES)
                want_services(hub, +1);
        if (hub->owner) {
                g_autoptr(GObject) instance = g_object_ref(client->instance);

                client->vtable->broker_changed(instance, hub->owner);
        }
        return hub;
}

static gboolean binding_is_of(gpointer key, gpointer value, gpointer user_data) {
        return ((PathBinding *) value)->client == user_data;
}

void as_hub_detach(AsHub *hub, AsHubClient *client) {
        g_return_if_fail(client->hub == hub);

        if (client->n_bound > 0) /* a client that forgot to unbind must not be called any more */
                g_hash_table_foreach_remove(hub->bound, binding_is_of, client);
        g_queue_unlink(&hub->clients, &client->node);
        client->hub = NULL;
        if (client->vtable->wants & AS_HUB_WANTS_MANAGER_PROPERTIES)
                want_properties(hub, -1);
        if (client->vtable->wants & AS_HUB_WANTS_SERVICE_CHANGES)
                want_services(hub, -1);
        hub_release(hub);
}

/* Called in the reply handler of the call that made the object at @object_path: see above. */
void as_hub_bind_path(AsHub *hub, const gchar *object_path, const gchar *owner, AsHubClient *client) {
        PathBinding *binding = g_new0(PathBinding, 1);

        binding->client = client;
        binding->owner = g_strdup(owner);
        client->n_bound++;
        g_hash_table_replace(hub->bound, g_strdup(object_path), binding);
}

void as_hub_unbind_path(AsHub *hub, const gchar *object_path, AsHubClient *client) {
        PathBinding *binding = object_path ? g_hash_table_lookup(hub->bound, object_path) : NULL;

        if (binding && binding->client == client)
                g_hash_table_remove(hub->bound, object_path);
}
