/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "appservice-private.h"

/* The live list of the node's app services behind app_service_node_list_services(): a GListModel
 * of AppServiceInfo, sorted by name, kept up to date from the broker's signals.
 *
 * A load is Subscribe (so that the broker also sends this connection the changes of the
 * services whose state is not broadcast, those it may see), then ListServices (the rows, with
 * whether the caller may open each), then GetManagedObjects (every service's properties, newer
 * than the rows). One load at a time: what happens during one that the replies may not show (a
 * service added or removed, a new broker) makes another follow it. Between loads, the signals
 * apply at once: InterfacesRemoved drops a row, PropertiesChanged updates one, and
 * InterfacesAdded, a changed definition or a new broker load again, since only ListServices says
 * whether the caller may open a service. Signals that arrive during a load are older than its
 * replies and are not applied.
 *
 * The broker's replies and signals are dispatched in the order they arrived, in the list's
 * context; the hub passes on only signals from the current owner of io.appservice1. */

struct _AsServiceList {
        GObject parent_instance;

        AsBrokerLink link;
        GPtrArray *items;     /* AppServiceInfo, sorted by name then object path */
        GHashTable *by_path;  /* object path → AppServiceInfo, borrowed from items */
        gboolean loaded;      /* the first load ended */
        gboolean loading;
        gboolean stale;       /* load again when the current load ends */
        gboolean subscribed;  /* counted in the bus's subscriptions */
        GTask *first;         /* the first load's task, until it ends */
};

static void as_service_list_model_iface_init(GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(AsServiceList, as_service_list, G_TYPE_OBJECT,
                              G_IMPLEMENT_INTERFACE(G_TYPE_LIST_MODEL, as_service_list_model_iface_init))

/* ---- GListModel ---- */

static GType model_get_item_type(GListModel *model) {
        return APP_SERVICE_TYPE_INFO;
}

static guint model_get_n_items(GListModel *model) {
        return AS_SERVICE_LIST(model)->items->len;
}

static gpointer model_get_item(GListModel *model, guint position) {
        AsServiceList *self = AS_SERVICE_LIST(model);

        if (position >= self->items->len)
                return NULL;
        return g_object_ref(g_ptr_array_index(self->items, position));
}

static void as_service_list_model_iface_init(GListModelInterface *iface) {
        iface->get_item_type = model_get_item_type;
        iface->get_n_items = model_get_n_items;
        iface->get_item = model_get_item;
}

/* ---- the subscription, one per bus connection ---- */

/* The broker subscribes a bus connection, not a list: the last list of the connection to go
 * tells it. */
G_LOCK_DEFINE_STATIC(subscribers);

static guint subscribers_add(GDBusConnection *bus, gint delta) {
        static GQuark quark = 0;
        guint n;

        G_LOCK(subscribers);
        if (!quark)
                quark = g_quark_from_static_string("app-service-list-subscribers");
        n = (guint) ((gint) GPOINTER_TO_UINT(g_object_get_qdata(G_OBJECT(bus), quark)) + delta);
        g_object_set_qdata(G_OBJECT(bus), quark, GUINT_TO_POINTER(n));
        G_UNLOCK(subscribers);
        return n;
}

static void on_subscribe_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GError) error = NULL;

        /* Without it the list still works: the services whose state is private stay as read. */
        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        if (!reply)
                g_debug("cannot subscribe to the private app services' changes: %s", error->message);
}

/* ---- merging a load ---- */

static gint compare_infos(gconstpointer a, gconstpointer b) {
        AppServiceInfo *x = *(AppServiceInfo **) a, *y = *(AppServiceInfo **) b;
        gint c = g_strcmp0(app_service_info_get_name(x), app_service_info_get_name(y));

        return c ? c : g_strcmp0(app_service_info_get_object_path(x), app_service_info_get_object_path(y));
}

static void remove_at(AsServiceList *self, guint position) {
        AppServiceInfo *info = g_ptr_array_index(self->items, position);

        g_hash_table_remove(self->by_path, app_service_info_get_object_path(info));
        g_ptr_array_remove_index(self->items, position);
        g_list_model_items_changed(G_LIST_MODEL(self), position, 1, 0);
}

/* Makes the list @wanted (sorted, owned), announcing each removal and insertion where it
 * happens, so that a view keeps its selection and scroll position. A service's name never
 * changes (its path is made from it), so the services in both lists are in the same order. */
static void change_to(AsServiceList *self, GPtrArray *wanted) {
        g_autoptr(GHashTable) keep = g_hash_table_new(NULL, NULL);
        guint position = 0, j = 0;

        for (guint k = 0; k < wanted->len; k++)
                g_hash_table_add(keep, g_ptr_array_index(wanted, k));
        while (position < self->items->len || j < wanted->len) {
                AppServiceInfo *old = position < self->items->len ? g_ptr_array_index(self->items, position) : NULL;
                AppServiceInfo *new = j < wanted->len ? g_ptr_array_index(wanted, j) : NULL;

                if (old && !g_hash_table_contains(keep, old)) {
                        remove_at(self, position);
                } else if (new && new != old) {
                        g_ptr_array_insert(self->items, (gint) position, g_object_ref(new));
                        g_hash_table_replace(self->by_path, (gpointer) app_service_info_get_object_path(new), new);
                        g_list_model_items_changed(G_LIST_MODEL(self), position, 0, 1);
                        position++;
                        j++;
                } else {
                        position++;
                        j++;
                }
        }
}

/* @rows: ListServices' a(ssssbo); @objects: GetManagedObjects' a{oa{sa{sv}}}. */
static void merge(AsServiceList *self, GVariant *rows, GVariant *objects) {
        g_autoptr(GPtrArray) wanted = g_ptr_array_new_with_free_func(g_object_unref);
        GVariantIter iter;
        GVariant *row;

        g_variant_iter_init(&iter, rows);
        while ((row = g_variant_iter_next_value(&iter))) {
                const gchar *path;
                g_autoptr(GVariant) interfaces = NULL;
                g_autoptr(GVariant) properties = NULL;
                AppServiceInfo *info;

                g_variant_get_child(row, 5, "&o", &path);
                info = g_hash_table_lookup(self->by_path, path);
                info = info ? g_object_ref(info) : as_service_info_new(path);
                as_service_info_update_from_row(info, row);
                interfaces = g_variant_lookup_value(objects, path, G_VARIANT_TYPE("a{sa{sv}}"));
                properties = interfaces ? g_variant_lookup_value(interfaces, AS_SERVICE_IFACE,
                                                                 G_VARIANT_TYPE_VARDICT) : NULL;
                if (properties)
                        as_service_info_update_from_properties(info, properties);
                g_ptr_array_add(wanted, info);
                g_variant_unref(row);
        }
        g_ptr_array_sort(wanted, compare_infos);
        change_to(self, wanted);
}

/* ---- loading ---- */

static void load(AsServiceList *self, GCancellable *cancellable);

static void load_ended(AsServiceList *self, GError *error) {
        g_autoptr(GTask) first = g_steal_pointer(&self->first);

        self->loading = FALSE;
        if (first) {
                if (error)
                        g_task_return_error(first, error);
                else
                        g_task_return_pointer(first, g_object_ref(self), g_object_unref);
                if (error)
                        return;
                self->loaded = TRUE;
        } else if (error) {
                g_debug("cannot read the app services again: %s", error->message);
                g_error_free(error);
        }
        if (self->stale)
                load(self, NULL);
}

typedef struct {
        AsServiceList *list;
        GCancellable *cancellable;
        GVariant *rows;
} LoadData;

static void load_data_free(LoadData *data) {
        g_object_unref(data->list);
        g_clear_object(&data->cancellable);
        g_clear_pointer(&data->rows, g_variant_unref);
        g_free(data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(LoadData, load_data_free)

static void on_objects_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(LoadData) data = user_data;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) objects = NULL;
        GError *error = NULL;

        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        if (!reply) {
                as_error_prettify(error);
                load_ended(data->list, error);
                return;
        }
        objects = g_variant_get_child_value(reply, 0);
        merge(data->list, data->rows, objects);
        load_ended(data->list, NULL);
}

static GDBusCallFlags load_flags(AsServiceList *self) {
        /* The first load may start the broker; later ones follow it, and must not. */
        return self->loaded ? G_DBUS_CALL_FLAGS_NO_AUTO_START : G_DBUS_CALL_FLAGS_NONE;
}

static void on_rows_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        LoadData *data = user_data;
        g_autoptr(GVariant) reply = NULL;
        GError *error = NULL;

        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        if (!reply) {
                as_error_prettify(error);
                load_ended(data->list, error);
                load_data_free(data);
                return;
        }
        data->rows = g_variant_get_child_value(reply, 0);
        g_dbus_connection_call(data->list->link.bus, AS_BUS_NAME, AS_MANAGER_PATH,
                               "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL,
                               G_VARIANT_TYPE("(a{oa{sa{sv}}})"), load_flags(data->list), AS_CALL_TIMEOUT,
                               data->cancellable, on_objects_reply, data);
}

static void subscribe(AsServiceList *self) {
        if (!self->subscribed) {
                self->subscribed = TRUE;
                subscribers_add(self->link.bus, +1);
        }
        /* Again at every load: a new broker knows nothing of the last one's subscribers. */
        g_dbus_connection_call(self->link.bus, AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE, "Subscribe", NULL,
                               G_VARIANT_TYPE("()"), load_flags(self), AS_CALL_TIMEOUT, NULL, on_subscribe_reply,
                               NULL);
}

static void load(AsServiceList *self, GCancellable *cancellable) {
        LoadData *data;

        self->loading = TRUE;
        self->stale = FALSE;
        subscribe(self);
        data = g_new0(LoadData, 1);
        data->list = g_object_ref(self);
        data->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
        g_dbus_connection_call(self->link.bus, AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE, "ListServices", NULL,
                               G_VARIANT_TYPE("(a(ssssbo))"), load_flags(self), AS_CALL_TIMEOUT, cancellable,
                               on_rows_reply, data);
}

/* Loads again now, or after the load under way. */
static void reload(AsServiceList *self) {
        if (!self->loaded && !self->loading)
                return;
        if (self->loading)
                self->stale = TRUE;
        else
                load(self, NULL);
}

/* ---- the broker's signals ---- */

static void handle_interfaces_removed(AsServiceList *self, GVariant *parameters) {
        const gchar *path;

        if (!g_variant_is_of_type(parameters, G_VARIANT_TYPE("(oas)")))
                return;
        g_variant_get_child(parameters, 0, "&o", &path);
        for (guint i = 0; i < self->items->len; i++)
                if (g_str_equal(app_service_info_get_object_path(g_ptr_array_index(self->items, i)), path)) {
                        remove_at(self, i);
                        break;
                }
}

/* Properties that only a new definition changes: the caller's right to open may have changed
 * with them, and only ListServices says. */
static gboolean definition_changed(GVariant *changed, const gchar *const *invalidated) {
        GVariantIter iter;
        const gchar *name;

        if (invalidated && invalidated[0])
                return TRUE;
        g_variant_iter_init(&iter, changed);
        while (g_variant_iter_next(&iter, "{&sv}", &name, NULL))
                if (!g_str_equal(name, "State") && !g_str_equal(name, "Connections") &&
                    !g_str_equal(name, "NRestarts"))
                        return TRUE;
        return FALSE;
}

static void handle_properties_changed(AsServiceList *self, const gchar *object_path, GVariant *parameters) {
        const gchar *interface_name;
        g_autoptr(GVariant) changed = NULL;
        g_autofree const gchar **invalidated = NULL;
        AppServiceInfo *info;

        g_variant_get(parameters, "(&s@a{sv}^a&s)", &interface_name, &changed, &invalidated);
        info = g_hash_table_lookup(self->by_path, object_path);
        if (info)
                as_service_info_update_from_properties(info, changed);
        if (!info || definition_changed(changed, invalidated))
                reload(self);
}

static void on_signal(gpointer instance, const gchar *sender, const gchar *object_path, const gchar *interface_name,
                      const gchar *signal_name, GVariant *parameters) {
        AsServiceList *self = instance;

        /* Older than the load's replies, or about to be seen by a load to come. */
        if (self->loading) {
                if (!g_str_equal(signal_name, "PropertiesChanged"))
                        self->stale = TRUE;
                return;
        }
        if (!self->loaded)
                return;
        if (g_str_equal(signal_name, "InterfacesRemoved"))
                handle_interfaces_removed(self, parameters);
        else if (g_str_equal(signal_name, "InterfacesAdded"))
                reload(self);
        else if (g_str_equal(signal_name, "PropertiesChanged"))
                handle_properties_changed(self, object_path, parameters);
}

static void on_broker_changed(gpointer instance, const gchar *owner) {
        /* A broker that left may come back with other definitions; the services stay as they
         * were last seen until it does. */
        if (owner)
                reload(instance);
}

static const AsHubClientVTable hub_vtable = {
        .wants = AS_HUB_WANTS_SERVICE_CHANGES,
        .broker_changed = on_broker_changed,
        .signal = on_signal,
};

/* ---- the object ---- */

static void as_service_list_init(AsServiceList *self) {
        as_broker_link_init(&self->link, G_OBJECT(self), &hub_vtable);
        self->items = g_ptr_array_new_with_free_func(g_object_unref);
        self->by_path = g_hash_table_new(g_str_hash, g_str_equal);
}

static void as_service_list_dispose(GObject *object) {
        AsServiceList *self = AS_SERVICE_LIST(object);

        as_broker_link_detach(&self->link);
        if (self->subscribed && subscribers_add(self->link.bus, -1) == 0)
                g_dbus_connection_call(self->link.bus, AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE, "Unsubscribe",
                                       NULL, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
        self->subscribed = FALSE;

        G_OBJECT_CLASS(as_service_list_parent_class)->dispose(object);
}

static void as_service_list_finalize(GObject *object) {
        AsServiceList *self = AS_SERVICE_LIST(object);

        as_broker_link_clear(&self->link);
        g_hash_table_unref(self->by_path);
        g_ptr_array_unref(self->items);

        G_OBJECT_CLASS(as_service_list_parent_class)->finalize(object);
}

static void as_service_list_class_init(AsServiceListClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->dispose = as_service_list_dispose;
        object_class->finalize = as_service_list_finalize;
}

static AsServiceList *service_list_new(GDBusConnection *bus) {
        AsServiceList *self = g_object_new(AS_TYPE_SERVICE_LIST, NULL);

        as_broker_link_set_bus(&self->link, bus);
        /* With a bus given this only attaches to the hub: the signals flow from now on. */
        as_broker_link_init_sync(&self->link, NULL, NULL);
        return self;
}

/* In the caller's thread-default context, which the list then belongs to. */
void as_service_list_new_async(GDBusConnection *bus, GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data) {
        g_autoptr(AsServiceList) self = service_list_new(bus);

        self->first = g_task_new(NULL, cancellable, callback, user_data);
        g_task_set_source_tag(self->first, as_service_list_new_async);
        load(self, cancellable);
}

GListModel *as_service_list_new_finish(GAsyncResult *result, GError **error) {
        return g_task_propagate_pointer(G_TASK(result), error);
}

/* Ends the loading of the synchronous first load, after the signals that arrived during it. */
static gboolean end_sync_load(gpointer user_data) {
        AsServiceList *self = user_data;

        self->loading = FALSE;
        if (self->stale)
                load(self, NULL);
        return G_SOURCE_REMOVE;
}

GListModel *as_service_list_new_sync(GDBusConnection *bus, GCancellable *cancellable, GError **error) {
        g_autoptr(AsServiceList) self = service_list_new(bus);
        g_autoptr(GVariant) rows = NULL;
        g_autoptr(GVariant) objects = NULL;
        g_autoptr(GVariant) rows_reply = NULL;
        g_autoptr(GVariant) objects_reply = NULL;
        g_autoptr(GSource) source = NULL;
        GError *e = NULL;

        self->loading = TRUE;
        subscribe(self);
        rows_reply = g_dbus_connection_call_sync(bus, AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE, "ListServices",
                                                 NULL, G_VARIANT_TYPE("(a(ssssbo))"), G_DBUS_CALL_FLAGS_NONE,
                                                 AS_CALL_TIMEOUT, cancellable, &e);
        if (rows_reply)
                objects_reply = g_dbus_connection_call_sync(bus, AS_BUS_NAME, AS_MANAGER_PATH,
                                                            "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                                                            NULL, G_VARIANT_TYPE("(a{oa{sa{sv}}})"),
                                                            G_DBUS_CALL_FLAGS_NONE, AS_CALL_TIMEOUT, cancellable, &e);
        if (!objects_reply) {
                as_error_prettify(e);
                g_propagate_error(error, e);
                return NULL;
        }
        rows = g_variant_get_child_value(rows_reply, 0);
        objects = g_variant_get_child_value(objects_reply, 0);
        merge(self, rows, objects);
        self->loaded = TRUE;
        /* The signals that arrived before the replies wait in the context: they are older. An
         * idle of the same priority runs after them. */
        source = g_idle_source_new();
        g_source_set_priority(source, G_PRIORITY_DEFAULT);
        g_source_set_callback(source, end_sync_load, g_object_ref(self), g_object_unref);
        g_source_set_static_name(source, "[appservice] service list loaded");
        g_source_attach(source, self->link.context);
        return G_LIST_MODEL(g_steal_pointer(&self));
}
