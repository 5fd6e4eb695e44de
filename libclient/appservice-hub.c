/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "appservice-private.h"

/* The hub: one per (bus, main context), shared by every connection and provider made in that
 * context. It holds the library's only signal subscriptions and the watch on io.appservice1, so
 * that a process with a thousand connections still has two subscriptions, not two thousand.
 *
 * - Connection signals (RequestReceived, ServiceClosed) are subscribed for every path, before
 *   any connection opens, and routed by object path. A connection enters the table in the
 *   reply handler of OpenConnection (or of the provider's ConnectionOpened), which GDBus
 *   dispatches before any signal that followed the reply on the wire, so none is lost.
 * - Every routed signal must come from the unique name that answered the call that made the
 *   object: unicast signals reach us whatever the match rules say, and GLib before 2.80 does
 *   not check a well-known sender name itself.
 * - When io.appservice1 loses its owner, every open connection closes with Canceled and every
 *   registered provider becomes unregistered; when it gets one again, providers re-register.
 * - The Manager's signals (StateUpdate for providers, MonitorEvent for nodes) are unicast, so
 *   their subscription costs no traffic. The Manager's PropertiesChanged is broadcast: it is
 *   subscribed only once a node (the one object that shows the State) uses the hub.
 *
 * - ServiceClosed is also noted, path and status, by a filter in GDBus's worker thread, as it
 *   arrives: the broker sends it before it fails the connection's pending requests with Closed,
 *   and a send that returns in the caller's thread (a _sync() call, or a callback in another
 *   context) would otherwise see Closed while the connection still looks open, its
 *   ServiceClosed still queued in the hub's context. Such a send closes the connection with the
 *   noted status first (as_hub_take_closed()).
 *
 * All fields but the user count and the closed notes are used only in the hub's context. */

/* More notes than this are stale (spoofed, or for connections of no object here): drop them. */
#define CLOSED_NOTES_MAX 1024

typedef struct {
        gchar *sender;
        guint32 status;
} ClosedNote;

static void closed_note_free(gpointer p) {
        ClosedNote *note = p;

        g_free(note->sender);
        g_free(note);
}

struct _AsHub {
        gint ref_count;    /* memory: the hubs table's user reference, and one per subscription */
        guint users;       /* objects using the hub; under hubs_lock */
        GDBusConnection *bus;
        GMainContext *context;
        guint connection_subscription;
        guint service_subscription;
        guint manager_subscription;
        guint properties_subscription; /* 0 until the first node */
        guint watch;
        gchar *owner;            /* io.appservice1's unique name as last seen, or NULL */
        GHashTable *connections; /* object path → AppServiceConnection (not owned) */
        GPtrArray *providers;    /* AppServiceProvider (not owned) */
        GPtrArray *nodes;        /* AppServiceNode (not owned) */
        guint closed_filter;
        GMutex closed_lock;
        GHashTable *closed; /* object path → ClosedNote: ServiceClosed seen, not dispatched yet */
};

G_LOCK_DEFINE_STATIC(hubs);
static GPtrArray *hubs; /* AsHub, not owned */

static AsHub *hub_ref(AsHub *hub) {
        g_atomic_int_inc(&hub->ref_count);
        return hub;
}

static void hub_unref(gpointer p) {
        AsHub *hub = p;

        if (!g_atomic_int_dec_and_test(&hub->ref_count))
                return;
        g_hash_table_unref(hub->connections);
        g_hash_table_unref(hub->closed);
        g_mutex_clear(&hub->closed_lock);
        g_ptr_array_unref(hub->providers);
        g_ptr_array_unref(hub->nodes);
        g_free(hub->owner);
        g_main_context_unref(hub->context);
        g_object_unref(hub->bus);
        g_free(hub);
}

const gchar *as_hub_get_owner(AsHub *hub) {
        return hub->owner;
}

/* In GDBus's worker thread, for every incoming message, in the bus's order. */
static GDBusMessage *closed_filter(GDBusConnection *bus, GDBusMessage *message, gboolean incoming,
                                   gpointer user_data) {
        AsHub *hub = user_data;
        GVariant *body = g_dbus_message_get_body(message);
        const gchar *path = g_dbus_message_get_path(message);
        const gchar *sender = g_dbus_message_get_sender(message);
        ClosedNote *note;

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

/* Whether ServiceClosed from @owner for @object_path arrived and was not dispatched yet; if so,
 * its status, and the note is taken. */
gboolean as_hub_take_closed(AsHub *hub, const gchar *object_path, const gchar *owner,
                            AppServiceClosedStatus *ret_status) {
        ClosedNote *note;
        gboolean found = FALSE;

        g_mutex_lock(&hub->closed_lock);
        note = g_hash_table_lookup(hub->closed, object_path);
        if (note && g_strcmp0(note->sender, owner) == 0) {
                *ret_status = MIN(note->status, (guint32) APP_SERVICE_CLOSED_STATUS_UNKNOWN);
                g_hash_table_remove(hub->closed, object_path);
                found = TRUE;
        }
        g_mutex_unlock(&hub->closed_lock);
        return found;
}

static void on_connection_signal(GDBusConnection *bus, const gchar *sender, const gchar *object_path,
                                 const gchar *interface_name, const gchar *signal_name, GVariant *parameters,
                                 gpointer user_data) {
        AsHub *hub = user_data;
        AppServiceConnection *connection;

        if (g_str_equal(signal_name, "ServiceClosed"))
                closed_forget(hub, object_path); /* dispatched now: the note has served */
        connection = g_hash_table_lookup(hub->connections, object_path);
        if (!connection)
                return;
        if (g_strcmp0(sender, as_connection_get_owner(connection)) != 0) {
                g_debug("%s.%s on %s from %s, not from the broker: ignoring", interface_name, signal_name,
                        object_path, sender);
                return;
        }
        if (!as_signal_parameters_valid(interface_name, signal_name, parameters)) {
                g_debug("%s.%s on %s has parameters %s, not as the contract says: ignoring", interface_name,
                        signal_name, object_path, g_variant_get_type_string(parameters));
                return;
        }

        if (g_str_equal(signal_name, "RequestReceived")) {
                guint64 id;
                g_autoptr(GVariant) message = NULL;

                g_variant_get(parameters, "(t@a{sv})", &id, &message);
                as_connection_handle_request(connection, id, message);
        } else if (g_str_equal(signal_name, "ServiceClosed")) {
                guint32 status;

                g_variant_get(parameters, "(u)", &status);
                if (status > APP_SERVICE_CLOSED_STATUS_UNKNOWN)
                        status = APP_SERVICE_CLOSED_STATUS_UNKNOWN;
                as_connection_handle_closed(connection, (AppServiceClosedStatus) status);
        }
}

static void on_service_signal(GDBusConnection *bus, const gchar *sender, const gchar *object_path,
                              const gchar *interface_name, const gchar *signal_name, GVariant *parameters,
                              gpointer user_data) {
        AsHub *hub = user_data;
        AppServiceProvider *provider = NULL;

        if (!as_signal_parameters_valid(interface_name, signal_name, parameters))
                return;
        for (guint i = 0; i < hub->providers->len && !provider; i++)
                if (g_strcmp0(as_provider_get_service_path(g_ptr_array_index(hub->providers, i)), object_path) == 0)
                        provider = g_ptr_array_index(hub->providers, i);
        if (!provider)
                return;

        if (g_str_equal(signal_name, "ConnectionOpened")) {
                const gchar *connection_path;
                g_autoptr(GVariant) caller = NULL;

                g_variant_get(parameters, "(&o@a{sv})", &connection_path, &caller);
                as_provider_handle_connection_opened(provider, sender, connection_path, caller);
        } else if (g_str_equal(signal_name, "StopRequested")) {
                g_autoptr(GVariant) details = g_variant_get_child_value(parameters, 0);

                as_provider_handle_stop_requested(provider, sender, details);
        }
}

static GPtrArray *snapshot(GPtrArray *objects) {
        GPtrArray *copy = g_ptr_array_new_with_free_func(g_object_unref);

        for (guint i = 0; i < objects->len; i++)
                g_ptr_array_add(copy, g_object_ref(g_ptr_array_index(objects, i)));
        return copy;
}

static void on_manager_signal(GDBusConnection *bus, const gchar *sender, const gchar *object_path,
                              const gchar *interface_name, const gchar *signal_name, GVariant *parameters,
                              gpointer user_data) {
        AsHub *hub = user_data;
        g_autoptr(GPtrArray) objects = NULL;

        /* The subscription takes only AS_MANAGER_PATH. */
        if (g_strcmp0(sender, hub->owner) != 0) {
                g_debug("%s.%s on %s from %s, not from the broker: ignoring", interface_name, signal_name,
                        object_path, sender);
                return;
        }
        if (!as_signal_parameters_valid(interface_name, signal_name, parameters))
                return;

        if (g_str_equal(signal_name, "StateUpdate")) {
                g_autoptr(GVariant) state = g_variant_get_child_value(parameters, 0);

                objects = snapshot(hub->providers);
                for (guint i = 0; i < objects->len; i++)
                        as_provider_handle_state_update(g_ptr_array_index(objects, i), sender, state);
        } else if (g_str_equal(signal_name, "MonitorEvent")) {
                const gchar *type;
                g_autoptr(GVariant) event = NULL;

                g_variant_get(parameters, "(&s@a{sv})", &type, &event);
                objects = snapshot(hub->nodes);
                for (guint i = 0; i < objects->len; i++)
                        as_node_handle_monitor_event(g_ptr_array_index(objects, i), type, event);
        }
}

static void on_manager_properties_changed(GDBusConnection *bus, const gchar *sender, const gchar *object_path,
                                          const gchar *interface_name, const gchar *signal_name,
                                          GVariant *parameters, gpointer user_data) {
        AsHub *hub = user_data;
        g_autoptr(GVariant) changed = NULL;
        g_autoptr(GPtrArray) nodes = NULL;
        const gchar *state;

        if (g_strcmp0(sender, hub->owner) != 0 ||
            !g_variant_is_of_type(parameters, G_VARIANT_TYPE("(sa{sv}as)")))
                return;
        changed = g_variant_get_child_value(parameters, 1);
        if (!g_variant_lookup(changed, "State", "&s", &state))
                return;
        nodes = snapshot(hub->nodes);
        for (guint i = 0; i < nodes->len; i++)
                as_node_handle_state_changed(g_ptr_array_index(nodes, i), state);
}

static void close_connections_not_of(AsHub *hub, const gchar *owner) {
        g_autoptr(GPtrArray) closing = g_ptr_array_new_with_free_func(g_object_unref);
        GHashTableIter iter;
        gpointer value;

        g_hash_table_iter_init(&iter, hub->connections);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                if (owner && g_strcmp0(as_connection_get_owner(value), owner) == 0)
                        continue;
                g_ptr_array_add(closing, g_object_ref(value));
                g_hash_table_iter_remove(&iter);
        }
        /* Emitted after the walk: handlers may open, close and drop connections. */
        for (guint i = 0; i < closing->len; i++)
                as_connection_handle_closed(g_ptr_array_index(closing, i), APP_SERVICE_CLOSED_STATUS_CANCELED);
}

static void on_broker_appeared(GDBusConnection *bus, const gchar *name, const gchar *name_owner,
                               gpointer user_data) {
        AsHub *hub = user_data;
        g_autoptr(GPtrArray) providers = NULL;
        g_autoptr(GPtrArray) nodes = NULL;

        g_debug("%s is owned by %s", name, name_owner);
        g_free(hub->owner);
        hub->owner = g_strdup(name_owner);
        close_connections_not_of(hub, name_owner);

        providers = snapshot(hub->providers);
        for (guint i = 0; i < providers->len; i++)
                as_provider_handle_broker_appeared(g_ptr_array_index(providers, i));
        nodes = snapshot(hub->nodes);
        for (guint i = 0; i < nodes->len; i++)
                as_node_handle_broker_appeared(g_ptr_array_index(nodes, i));
}

static void on_broker_vanished(GDBusConnection *bus, const gchar *name, gpointer user_data) {
        AsHub *hub = user_data;
        g_autoptr(GPtrArray) providers = NULL;
        g_autoptr(GPtrArray) nodes = NULL;

        g_debug("%s has no owner", name);
        g_clear_pointer(&hub->owner, g_free);
        close_connections_not_of(hub, NULL);

        providers = snapshot(hub->providers);
        for (guint i = 0; i < providers->len; i++)
                as_provider_handle_broker_vanished(g_ptr_array_index(providers, i));
        nodes = snapshot(hub->nodes);
        for (guint i = 0; i < nodes->len; i++)
                as_node_handle_broker_vanished(g_ptr_array_index(nodes, i));
}

static AsHub *hub_new(GDBusConnection *bus, GMainContext *context) {
        AsHub *hub = g_new0(AsHub, 1);

        hub->ref_count = 1;
        hub->bus = g_object_ref(bus);
        hub->context = g_main_context_ref(context);
        hub->connections = g_hash_table_new(g_str_hash, g_str_equal);
        hub->providers = g_ptr_array_new();
        hub->nodes = g_ptr_array_new();
        g_mutex_init(&hub->closed_lock);
        hub->closed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, closed_note_free);
        hub->closed_filter = g_dbus_connection_add_filter(bus, closed_filter, hub_ref(hub), hub_unref);

        /* Subscriptions and the watch deliver to the thread-default context at the time of the
         * call: make sure it is the hub's. */
        g_main_context_push_thread_default(context);
        hub->connection_subscription = g_dbus_connection_signal_subscribe(
                bus, AS_BUS_NAME, AS_CONNECTION_IFACE, NULL, NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                on_connection_signal, hub_ref(hub), hub_unref);
        hub->service_subscription = g_dbus_connection_signal_subscribe(
                bus, AS_BUS_NAME, AS_SERVICE_IFACE, NULL, NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                on_service_signal, hub_ref(hub), hub_unref);
        hub->manager_subscription = g_dbus_connection_signal_subscribe(
                bus, AS_BUS_NAME, AS_MANAGER_IFACE, NULL, AS_MANAGER_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                on_manager_signal, hub_ref(hub), hub_unref);
        hub->watch = g_bus_watch_name_on_connection(bus, AS_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                    on_broker_appeared, on_broker_vanished, hub_ref(hub),
                                                    hub_unref);
        g_main_context_pop_thread_default(context);
        return hub;
}

AsHub *as_hub_get(GDBusConnection *bus, GMainContext *context) {
        AsHub *hub = NULL;

        G_LOCK(hubs);
        if (!hubs)
                hubs = g_ptr_array_new();
        for (guint i = 0; i < hubs->len; i++) {
                AsHub *h = g_ptr_array_index(hubs, i);

                if (h->bus == bus && h->context == context) {
                        hub = h;
                        break;
                }
        }
        if (!hub) {
                hub = hub_new(bus, context);
                g_ptr_array_add(hubs, hub);
        }
        hub->users++;
        G_UNLOCK(hubs);
        return hub;
}

void as_hub_release(AsHub *hub) {
        gboolean last;

        if (!hub)
                return;

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
        g_bus_unwatch_name(hub->watch);
        g_dbus_connection_remove_filter(hub->bus, hub->closed_filter);
        hub_unref(hub);
}

void as_hub_add_connection(AsHub *hub, AppServiceConnection *connection) {
        g_hash_table_replace(hub->connections, (gpointer) app_service_connection_get_object_path(connection),
                             connection);
}

void as_hub_remove_connection(AsHub *hub, AppServiceConnection *connection) {
        const gchar *path = app_service_connection_get_object_path(connection);

        if (path && g_hash_table_lookup(hub->connections, path) == connection)
                g_hash_table_remove(hub->connections, path);
}

void as_hub_add_provider(AsHub *hub, AppServiceProvider *provider) {
        if (!g_ptr_array_find(hub->providers, provider, NULL))
                g_ptr_array_add(hub->providers, provider);
}

void as_hub_remove_provider(AsHub *hub, AppServiceProvider *provider) {
        g_ptr_array_remove(hub->providers, provider);
}

/* Called in the hub's context (the node's), so the subscription delivers there. */
void as_hub_add_node(AsHub *hub, AppServiceNode *node) {
        if (!hub->properties_subscription)
                hub->properties_subscription = g_dbus_connection_signal_subscribe(
                        hub->bus, AS_BUS_NAME, AS_PROPERTIES_IFACE, "PropertiesChanged", AS_MANAGER_PATH,
                        AS_MANAGER_IFACE, G_DBUS_SIGNAL_FLAGS_NONE, on_manager_properties_changed, hub_ref(hub),
                        hub_unref);
        if (!g_ptr_array_find(hub->nodes, node, NULL))
                g_ptr_array_add(hub->nodes, node);
}

void as_hub_remove_node(AsHub *hub, AppServiceNode *node) {
        g_ptr_array_remove(hub->nodes, node);
        /* No node shows the State any more: the broadcast is not worth its traffic. */
        if (hub->nodes->len == 0 && hub->properties_subscription) {
                g_dbus_connection_signal_unsubscribe(hub->bus, hub->properties_subscription);
                hub->properties_subscription = 0;
        }
}
