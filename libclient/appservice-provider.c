/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include <gio/gunixfdlist.h>

#include "appservice-private.h"

/**
 * AppServiceProvider:
 *
 * The provider of an app service: the process that serves the connections clients open.
 *
 * Make one with [ctor@AppService.Provider.new], connect to
 * [signal@AppService.Provider::connection-received], and register it with
 * [method@AppService.Provider.register]. From then on, each connection a client opens arrives
 * as an open [class@AppService.Connection]; its requests arrive as
 * [signal@AppService.Connection::request-received] and are answered with
 * [method@AppService.Request.send_response].
 *
 * ```c
 * static void
 * on_request (AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data)
 * {
 *   app_service_request_send_response (request, app_service_request_get_message (request),
 *                                      NULL, NULL, NULL);
 * }
 *
 * static void
 * on_connection (AppServiceProvider *provider, AppServiceConnection *connection,
 *                GVariant *caller, gpointer user_data)
 * {
 *   g_signal_connect (connection, "request-received", G_CALLBACK (on_request), NULL);
 * }
 * ```
 *
 * The provider keeps each connection it received while it is open, so a handler needs no
 * reference of its own.
 *
 * The broker starts a provider when a client needs it (the definition's `Exec=` or
 * `SystemdService=`) and gives it, at registration, the definition's properties and secrets and
 * the node's settings: see [method@AppService.Provider.get_property_value].
 *
 * The node's state (`starting`, `running`, `stopping`) is
 * [property@AppService.Provider:node-state], announced by
 * [signal@AppService.Provider::state-update]: a provider registered while the node starts may
 * wait for `running` before it talks to other services, with
 * [method@AppService.Provider.submit_action]. [method@AppService.Provider.log] reports faults
 * and log lines to the broker. When the broker wants the provider to stop (idle, or an
 * administrator's stop), it emits [signal@AppService.Provider::stop-requested].
 *
 * If the broker goes away (restarted, upgraded), the provider's connections close with
 * %APP_SERVICE_CLOSED_STATUS_CANCELED, [property@AppService.Provider:registered] becomes
 * %FALSE, and when the broker is back the provider registers again by itself.
 *
 * Since: 0.1
 */

struct _AppServiceProvider {
        GObject parent_instance;

        AsBrokerLink link;

        gchar *app_service_name;
        gchar *service_path; /* from the last registration */
        gchar *owner;        /* the broker that registered us */
        GVariant *config;
        GPtrArray *old_configs; /* keep what get_property_value() handed out valid */
        GHashTable *connections; /* AppServiceConnection (owned) → itself, while open */
        gchar *node_state;

        gboolean registered;
        gboolean registering;
        gboolean wanted; /* registered by the application and not unregistered: re-register */
};

enum {
        PROP_0,
        PROP_APP_SERVICE_NAME,
        PROP_BUS,
        PROP_REGISTERED,
        PROP_NODE_STATE,
        N_PROPS
};

enum {
        SIGNAL_CONNECTION_RECEIVED,
        SIGNAL_STATE_UPDATE,
        SIGNAL_STOP_REQUESTED,
        N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE_WITH_CODE(AppServiceProvider, app_service_provider, G_TYPE_OBJECT,
                              G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE, as_broker_link_initable_iface_init)
                              G_IMPLEMENT_INTERFACE(G_TYPE_ASYNC_INITABLE,
                                                    as_broker_link_async_initable_iface_init))

static void register_again(AppServiceProvider *self);
static void handle_connection_opened(AppServiceProvider *self, const gchar *object_path, GVariant *caller,
                                     gint link_fd, GVariant *link_info);
static void handle_direct_connection_opened(AppServiceProvider *self, const gchar *sender,
                                            const gchar *object_path, GVariant *caller, GVariant *link_info);
static void handle_stop_requested(AppServiceProvider *self, const gchar *sender, GVariant *details);
static void handle_state_update(AppServiceProvider *self, const gchar *sender, GVariant *state);

/* Registered, the service object receives the broker's signals for it: ConnectionOpened,
 * StopRequested. */
static void set_registered(AppServiceProvider *self, gboolean registered) {
        if (self->registered == registered)
                return;
        self->registered = registered;
        if (registered)
                as_broker_link_bind_path(&self->link, self->service_path, self->owner);
        else
                as_broker_link_unbind_path(&self->link, self->service_path);
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_REGISTERED]);
}

static void set_node_state(AppServiceProvider *self, const gchar *state) {
        if (g_strcmp0(self->node_state, state) == 0)
                return;
        g_free(self->node_state);
        self->node_state = g_strdup(state);
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_NODE_STATE]);
}

static void on_connection_is_open(GObject *object, GParamSpec *pspec, gpointer user_data) {
        AppServiceProvider *self = user_data;
        AppServiceConnection *connection = APP_SERVICE_CONNECTION(object);

        if (app_service_connection_get_is_open(connection))
                return;
        g_signal_handlers_disconnect_by_func(connection, on_connection_is_open, self);
        /* The emitter holds its own reference while it runs. */
        g_hash_table_remove(self->connections, connection);
}

static void forget_connection(gpointer p) {
        AppServiceConnection *connection = p;

        g_object_unref(connection);
}

/* The direct links of connections we forgot, closed once the broker has our UnregisterProvider. */
static void close_link(gpointer p) {
        AsDirectLink *link = p;

        as_direct_link_close(link);
        as_direct_link_fail_pending(link, "the connection closed");
        as_direct_link_unref(link);
}

static GPtrArray *links_new(void) {
        return g_ptr_array_new_with_free_func(close_link);
}

static void on_unregistered_close_links(GObject *source, GAsyncResult *result, gpointer user_data) {
        GVariant *reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, NULL);

        /* Whatever the broker answered, the links close now (close_link, the array's free). */
        g_clear_pointer(&reply, g_variant_unref);
        g_ptr_array_unref(user_data);
}

/* Our connections closed because we unregistered or left: no signals, as for close(), and their
 * direct links go into @links (when given; else they close now); or because the broker went away
 * (@cancel): service-closed with Canceled. */
static void drop_connections_keeping_links(AppServiceProvider *self, gboolean cancel, GPtrArray *links) {
        g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func(g_object_unref);
        GHashTableIter iter;
        gpointer key;

        g_hash_table_iter_init(&iter, self->connections);
        while (g_hash_table_iter_next(&iter, &key, NULL)) {
                g_signal_handlers_disconnect_by_func(key, on_connection_is_open, self);
                g_ptr_array_add(all, key);
                g_hash_table_iter_steal(&iter);
        }
        for (guint i = 0; i < all->len; i++) {
                AsDirectLink *link;

                if (cancel) {
                        as_connection_cancel(g_ptr_array_index(all, i));
                        continue;
                }
                link = as_connection_forget(g_ptr_array_index(all, i));
                if (link && links)
                        g_ptr_array_add(links, link);
                else if (link)
                        close_link(link);
        }
}

static void drop_connections(AppServiceProvider *self, gboolean cancel) {
        drop_connections_keeping_links(self, cancel, NULL);
}

/* ---- what the hub tells the provider ---- */

static void on_broker_changed(gpointer instance, const gchar *owner) {
        AppServiceProvider *self = instance;

        if (self->registered && g_strcmp0(owner, self->owner) != 0) {
                /* The registration died with its broker, and our connections with it (each may
                 * hear it from the hub first: it is said once). */
                drop_connections(self, /* cancel= */ TRUE);
                set_registered(self, FALSE);
        }
        if (owner && self->wanted && !self->registered && !self->registering)
                register_again(self);
}

static void on_signal(gpointer instance, const gchar *sender, const gchar *object_path, const gchar *interface_name,
                      const gchar *signal_name, GVariant *parameters) {
        AppServiceProvider *self = instance;

        if (g_str_equal(signal_name, "ConnectionOpened")) {
                const gchar *connection_path;
                g_autoptr(GVariant) caller = NULL;

                g_variant_get(parameters, "(&o@a{sv})", &connection_path, &caller);
                handle_connection_opened(self, connection_path, caller, -1, NULL);
        } else if (g_str_equal(signal_name, "DirectConnectionOpened")) {
                const gchar *connection_path;
                g_autoptr(GVariant) caller = NULL;
                g_autoptr(GVariant) link_info = NULL;

                g_variant_get(parameters, "(&o@a{sv}@a{sv})", &connection_path, &caller, &link_info);
                handle_direct_connection_opened(self, sender, connection_path, caller, link_info);
        } else if (g_str_equal(signal_name, "StopRequested")) {
                g_autoptr(GVariant) details = g_variant_get_child_value(parameters, 0);

                handle_stop_requested(self, sender, details);
        } else if (g_str_equal(signal_name, "StateUpdate")) {
                g_autoptr(GVariant) state = g_variant_get_child_value(parameters, 0);

                handle_state_update(self, sender, state);
        }
}

static const AsHubClientVTable hub_vtable = {
        .wants = AS_HUB_WANTS_MANAGER_SIGNALS,
        .broker_changed = on_broker_changed,
        .signal = on_signal,
};

/* ---- the object ---- */

static void app_service_provider_init(AppServiceProvider *self) {
        as_broker_link_init(&self->link, G_OBJECT(self), &hub_vtable);
        self->connections = g_hash_table_new_full(g_direct_hash, g_direct_equal, forget_connection, NULL);
        self->old_configs = g_ptr_array_new_with_free_func((GDestroyNotify) g_variant_unref);
}

static void app_service_provider_dispose(GObject *object) {
        AppServiceProvider *self = APP_SERVICE_PROVIDER(object);

        self->wanted = FALSE;
        if (self->registered) {
                /* Leaving the bus would do as well. The broker closes our connections: forget
                 * them without a call each; their direct links close once it has done so. */
                GPtrArray *links = links_new();

                drop_connections_keeping_links(self, /* cancel= */ FALSE, links);
                g_dbus_connection_call(self->link.bus, self->owner, AS_MANAGER_PATH, AS_MANAGER_IFACE,
                                       "UnregisterProvider", g_variant_new("(s)", self->app_service_name), NULL,
                                       G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, on_unregistered_close_links,
                                       links);
                self->registered = FALSE;
                as_broker_link_unbind_path(&self->link, self->service_path);
        }
        drop_connections(self, /* cancel= */ FALSE);
        as_broker_link_detach(&self->link);

        G_OBJECT_CLASS(app_service_provider_parent_class)->dispose(object);
}

static void app_service_provider_finalize(GObject *object) {
        AppServiceProvider *self = APP_SERVICE_PROVIDER(object);

        g_hash_table_unref(self->connections);
        g_ptr_array_unref(self->old_configs);
        g_clear_pointer(&self->config, g_variant_unref);
        as_broker_link_clear(&self->link);
        g_free(self->app_service_name);
        g_free(self->service_path);
        g_free(self->owner);
        g_free(self->node_state);

        G_OBJECT_CLASS(app_service_provider_parent_class)->finalize(object);
}

static void app_service_provider_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) {
        AppServiceProvider *self = APP_SERVICE_PROVIDER(object);

        switch (prop_id) {
        case PROP_APP_SERVICE_NAME:
                g_value_set_string(value, self->app_service_name);
                break;
        case PROP_BUS:
                g_value_set_object(value, as_broker_link_get_bus(&self->link));
                break;
        case PROP_REGISTERED:
                g_value_set_boolean(value, self->registered);
                break;
        case PROP_NODE_STATE:
                g_value_set_string(value, self->node_state);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

static void app_service_provider_set_property(GObject *object, guint prop_id, const GValue *value,
                                              GParamSpec *pspec) {
        AppServiceProvider *self = APP_SERVICE_PROVIDER(object);

        switch (prop_id) {
        case PROP_APP_SERVICE_NAME:
                self->app_service_name = g_value_dup_string(value);
                break;
        case PROP_BUS:
                as_broker_link_set_bus(&self->link, g_value_get_object(value));
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

/* The default of ::stop-requested: do as asked. */
static void stop_requested_default(AppServiceProvider *self, GVariant *details) {
        g_debug("app service '%s': the broker asks its provider to stop: unregistering", self->app_service_name);
        app_service_provider_unregister(self, NULL, NULL, NULL);
}

static void app_service_provider_class_init(AppServiceProviderClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->dispose = app_service_provider_dispose;
        object_class->finalize = app_service_provider_finalize;
        object_class->get_property = app_service_provider_get_property;
        object_class->set_property = app_service_provider_set_property;

        (void) APP_SERVICE_ERROR;

        /**
         * AppServiceProvider:app-service-name:
         *
         * The app service this provider serves, for example `com.example.echo`. A definition
         * file must declare it, with this process's user allowed to register (`User=`).
         *
         * Since: 0.1
         */
        properties[PROP_APP_SERVICE_NAME] = g_param_spec_string(
                "app-service-name", NULL, NULL, NULL,
                G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceProvider:bus:
         *
         * The bus the broker is reached on. When none is given at construction, the system bus
         * (the one in `DBUS_SYSTEM_BUS_ADDRESS` if set), or the session bus if the environment
         * variable `APPSERVICE_BUS` is `session`. %NULL only if that bus could not be reached;
         * registering then fails with the reason.
         *
         * The default bus is reached when the provider is initialized: by
         * [ctor@AppService.Provider.new], by g_initable_init() or g_async_initable_init_async(),
         * or else by the first call that needs it (or by reading this property).
         *
         * Since: 0.1
         */
        properties[PROP_BUS] = g_param_spec_object(
                "bus", NULL, NULL, G_TYPE_DBUS_CONNECTION,
                G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceProvider:registered:
         *
         * Whether the broker knows this process as the provider of the app service. It becomes
         * %FALSE when the broker goes away, and %TRUE again when the provider registered with
         * the broker that replaced it.
         *
         * Since: 0.1
         */
        properties[PROP_REGISTERED] = g_param_spec_boolean(
                "registered", NULL, NULL, FALSE,
                G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceProvider:node-state:
         *
         * The node's state as the broker last told this provider: `starting` (the broker is
         * still starting the providers it starts at boot), `running` or `stopping`. Given at
         * registration (the `state` of the node's settings), then changed by the broker's
         * `StateUpdate`, with [signal@AppService.Provider::state-update]. %NULL before the first
         * registration (or from a broker older than 0.2).
         *
         * Since: 0.1
         */
        properties[PROP_NODE_STATE] = g_param_spec_string(
                "node-state", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

        g_object_class_install_properties(object_class, N_PROPS, properties);

        /**
         * AppServiceProvider::state-update:
         * @self: the provider
         * @state: the node's state, an `a{sv}`: `state` (`s`), `node-name` (`s`) and `version`
         *   (`s`)
         *
         * The node's state changed (the microServiceBus `StateUpdate`), as the broker tells its
         * registered providers, in order. [property@AppService.Provider:node-state] has the new
         * state already.
         *
         * Since: 0.1
         */
        signals[SIGNAL_STATE_UPDATE] = g_signal_new("state-update", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
                                                    NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_VARIANT);

        /**
         * AppServiceProvider::stop-requested:
         * @self: the provider
         * @details: why, an `a{sv}`: `reason` (`s`): `idle` (no connection for the service's
         *   `IdleTimeoutSec=`), `stop` (an administrator's stop or restart) or `removed` (its
         *   definition was removed)
         *
         * The broker wants this provider to stop. The default handler unregisters the provider
         * ([method@AppService.Provider.unregister]); the process should then exit, for example
         * by quitting its main loop from a handler connected with g_signal_connect_after(), or
         * when [property@AppService.Provider:registered] becomes %FALSE. A handler that must
         * finish some work first may stop the emission (g_signal_stop_emission_by_name()) and
         * unregister itself later; a provider that does not unregister within the service's
         * `StopTimeoutSec=` is made to stop (a process the broker started gets `SIGTERM`).
         *
         * Since: 0.1
         */
        signals[SIGNAL_STOP_REQUESTED] = g_signal_new_class_handler(
                "stop-requested", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, G_CALLBACK(stop_requested_default),
                NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_VARIANT);

        /**
         * AppServiceProvider::connection-received:
         * @self: the provider
         * @connection: the provider's end of the new connection: open, with
         *   [property@AppService.Connection:caller] set
         * @caller: who opened it, an `a{sv}`: at least `uid` (`u`), `gid` (`u`) and `pid`
         *   (`u`), and where known `app-id` (`s`) and `unit` (`s`); for a connection made by
         *   [method@AppService.Provider.submit_action] also `action` (`s`) and, when the sender
         *   is a provider, `service` (`s`)
         *
         * A client opened a connection to the app service. Connect to the connection's
         * [signal@AppService.Connection::request-received] and
         * [signal@AppService.Connection::service-closed]; the connection may send messages
         * to the client too. The provider keeps the connection while it is open.
         *
         * Since: 0.1
         */
        signals[SIGNAL_CONNECTION_RECEIVED] = g_signal_new(
                "connection-received", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                2, APP_SERVICE_TYPE_CONNECTION, G_TYPE_VARIANT);
}

/**
 * app_service_provider_new:
 * @app_service_name: the app service to serve, for example `com.example.echo`
 *
 * Makes a provider, not yet registered, for an app service on the default bus: the system bus
 * (the one in `DBUS_SYSTEM_BUS_ADDRESS` if that is set), or the session bus when the
 * environment variable `APPSERVICE_BUS` is `session`. If that bus cannot be reached,
 * registering reports why.
 *
 * The provider belongs to the thread-default main context of the caller: its signals, and those
 * of its connections, are emitted there.
 *
 * Returns: (transfer full): a new provider; free it with g_object_unref()
 *
 * Since: 0.1
 */
AppServiceProvider *app_service_provider_new(const gchar *app_service_name) {
        AppServiceProvider *self;

        g_return_val_if_fail(app_service_name != NULL, NULL);

        self = g_object_new(APP_SERVICE_TYPE_PROVIDER, "app-service-name", app_service_name, NULL);
        /* The bus is reached now, as it always was; a failure is for registering to report. */
        g_initable_init(G_INITABLE(self), NULL, NULL);
        return self;
}

/**
 * app_service_provider_new_for_bus:
 * @bus: the bus the broker is on
 * @app_service_name: the app service to serve, for example `com.example.echo`
 *
 * Makes a provider, not yet registered, for an app service whose broker is on @bus.
 *
 * The provider belongs to the thread-default main context of the caller: its signals, and those
 * of its connections, are emitted there.
 *
 * Returns: (transfer full): a new provider; free it with g_object_unref()
 *
 * Since: 0.1
 */
AppServiceProvider *app_service_provider_new_for_bus(GDBusConnection *bus, const gchar *app_service_name) {
        AppServiceProvider *self;

        g_return_val_if_fail(G_IS_DBUS_CONNECTION(bus), NULL);
        g_return_val_if_fail(app_service_name != NULL, NULL);

        self = g_object_new(APP_SERVICE_TYPE_PROVIDER, "bus", bus, "app-service-name", app_service_name, NULL);
        g_initable_init(G_INITABLE(self), NULL, NULL); /* no I/O: attaches to the hub */
        return self;
}

/**
 * app_service_provider_get_app_service_name:
 * @self: a provider
 *
 * Gets [property@AppService.Provider:app-service-name].
 *
 * Returns: (transfer none): the app service name, owned by @self and valid as long as it is
 *
 * Since: 0.1
 */
const gchar *app_service_provider_get_app_service_name(AppServiceProvider *self) {
        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(self), NULL);
        return self->app_service_name;
}

/**
 * app_service_provider_get_bus:
 * @self: a provider
 *
 * Gets [property@AppService.Provider:bus].
 *
 * Returns: (nullable) (transfer none): the bus, owned by @self and valid as long as it is; %NULL
 *   if the default bus could not be reached
 *
 * Since: 0.1
 */
GDBusConnection *app_service_provider_get_bus(AppServiceProvider *self) {
        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(self), NULL);
        return as_broker_link_get_bus(&self->link);
}

/**
 * app_service_provider_get_registered:
 * @self: a provider
 *
 * Gets [property@AppService.Provider:registered].
 *
 * Returns: whether the broker knows this process as the provider
 *
 * Since: 0.1
 */
gboolean app_service_provider_get_registered(AppServiceProvider *self) {
        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(self), FALSE);
        return self->registered;
}

/**
 * app_service_provider_get_node_state:
 * @self: a provider
 *
 * Gets [property@AppService.Provider:node-state].
 *
 * Returns: (nullable) (transfer none): `starting`, `running`, `stopping`, or %NULL before the
 *   first registration; owned by @self and valid until the state changes (copy it to keep it)
 *
 * Since: 0.1
 */
const gchar *app_service_provider_get_node_state(AppServiceProvider *self) {
        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(self), NULL);
        return self->node_state;
}

/**
 * app_service_provider_get_property_value:
 * @self: a provider, registered at least once
 * @kind: `"static"` for the definition's `[Properties]`, `"security"` for its `[Secrets]`, or
 *   `"settings"` for the node's settings (`node-name`, `version`, and `state`)
 * @name: the property's name
 *
 * Looks up a value the broker gave the provider when it registered: the microServiceBus
 * `GetPropertyValue`. Values of `[Properties]` and `[Secrets]` are strings as written in the
 * definition file; secrets are given only if the definition file is owned by root and readable
 * by nobody else. The settings are `node-name` (this machine's name for the broker),
 * `version` (the broker's version) and `state` (the node's state at registration; see
 * [property@AppService.Provider:node-state] for the current one).
 *
 * Returns: (nullable) (transfer none): the value, or %NULL if the provider never registered, the
 *   kind is unknown, or there is no such property; owned by @self and valid as long as it is
 *
 * Since: 0.1
 */
const gchar *app_service_provider_get_property_value(AppServiceProvider *self, const gchar *kind,
                                                     const gchar *name) {
        g_autoptr(GVariant) section = NULL;
        const gchar *key;
        const gchar *value = NULL;

        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(self), NULL);
        g_return_val_if_fail(kind != NULL, NULL);
        g_return_val_if_fail(name != NULL, NULL);

        if (!self->config)
                return NULL;
        if (g_str_equal(kind, "static"))
                key = "properties";
        else if (g_str_equal(kind, "security"))
                key = "secrets";
        else if (g_str_equal(kind, "settings"))
                key = "settings";
        else
                return NULL;

        section = g_variant_lookup_value(self->config, key, G_VARIANT_TYPE_VARDICT);
        if (!section || !g_variant_lookup(section, name, "&s", &value))
                return NULL;
        /* Points into self->config, which is kept (in old_configs once replaced). */
        return value;
}

/* ---- the broker's signals ---- */

/* From our broker: the hub routes the service object's signals from the owner it was bound with. */
static void handle_connection_opened(AppServiceProvider *self, const gchar *object_path, GVariant *caller,
                                     gint link_fd, GVariant *link_info) {
        g_autoptr(AppServiceConnection) connection = NULL;

        connection = as_connection_new_provider_side(self->link.bus, self->link.context, self->app_service_name, self->owner,
                                                     object_path, caller, link_fd, link_info);
        g_hash_table_add(self->connections, g_object_ref(connection));
        g_signal_connect(connection, "notify::is-open", G_CALLBACK(on_connection_is_open), self);
        g_signal_emit(self, signals[SIGNAL_CONNECTION_RECEIVED], 0, connection, caller);
}

/* The same with our end of the connection's direct link, whose fd the hub kept from the message. A
 * connection whose fd cannot be had is of no use to its client (it talks on the link alone): it
 * is closed. */
static void handle_direct_connection_opened(AppServiceProvider *self, const gchar *sender,
                                            const gchar *object_path, GVariant *caller, GVariant *link_info) {
        g_autoptr(GUnixFDList) fds = as_broker_link_take_fds(&self->link, object_path, sender);
        g_autoptr(GError) error = NULL;
        gint32 handle;
        gint fd = -1;

        if (!g_variant_lookup(link_info, "fd", "h", &handle))
                g_set_error_literal(&error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS, "no \"fd\" in the link");
        else if (!fds)
                g_set_error_literal(&error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS, "the signal carried no fd");
        else
                fd = g_unix_fd_list_get(fds, handle, &error);
        if (fd < 0) {
                g_warning("app service '%s': cannot take the direct link of connection %s, closing it: %s",
                          self->app_service_name, object_path, error->message);
                g_dbus_connection_call(self->link.bus, sender, object_path, AS_CONNECTION_IFACE, "Close", NULL, NULL,
                                       G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
                return;
        }
        handle_connection_opened(self, object_path, caller, fd, link_info);
}

static void handle_stop_requested(AppServiceProvider *self, const gchar *sender, GVariant *details) {
        if (!self->registered || g_strcmp0(sender, self->owner) != 0) {
                g_debug("StopRequested for '%s' from %s, not from our broker: ignoring", self->app_service_name,
                        sender);
                return;
        }
        g_signal_emit(self, signals[SIGNAL_STOP_REQUESTED], 0, details);
}

/* Sent to every registered provider of this bus connection: each provider of the process may
 * hear one change more than once, so only a change is announced. */
static void handle_state_update(AppServiceProvider *self, const gchar *sender, GVariant *state) {
        const gchar *value;

        if (!self->registered || g_strcmp0(sender, self->owner) != 0)
                return;
        if (!g_variant_lookup(state, "state", "&s", &value) || g_strcmp0(value, self->node_state) == 0)
                return;
        set_node_state(self, value);
        g_signal_emit(self, signals[SIGNAL_STATE_UPDATE], 0, state);
}

/* ---- register ---- */

static gboolean check_can_register(AppServiceProvider *self, GError **error) {
        if (!self->app_service_name || !*self->app_service_name) {
                g_set_error_literal(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE,
                                    "no app service name was set on the provider");
                return FALSE;
        }
        if (self->registering) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_PENDING, "app service '%s' is being registered already",
                            self->app_service_name);
                return FALSE;
        }
        return TRUE;
}

static GDBusMessage *register_message(AppServiceProvider *self) {
        GDBusMessage *message;
        GVariantBuilder options;

        message = g_dbus_message_new_method_call(AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE,
                                                 "RegisterProvider");
        /* Direct links are taken unless APPSERVICE_DIRECT=0; a broker older than 0.4 ignores
         * the option. */
        g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
        if (as_direct_links_enabled())
                g_variant_builder_add(&options, "{sv}", "direct-links", g_variant_new_boolean(TRUE));
        g_dbus_message_set_body(message, g_variant_new("(s@a{sv})", self->app_service_name,
                                                       g_variant_builder_end(&options)));
        return message;
}

static void undo_register(GDBusConnection *bus, GDBusMessage *reply, gpointer undo_data) {
        const gchar *name = undo_data;

        g_dbus_connection_call(bus, g_dbus_message_get_sender(reply), AS_MANAGER_PATH, AS_MANAGER_IFACE,
                               "UnregisterProvider", g_variant_new("(s)", name), NULL,
                               G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
}

static gboolean register_done(AppServiceProvider *self, GDBusMessage *reply, GError *error, GError **ret_error) {
        GVariant *body;
        const gchar *path;
        GVariant *config;
        const gchar *state;

        self->registering = FALSE;
        if (!reply) {
                g_propagate_error(ret_error, error);
                return FALSE;
        }

        body = g_dbus_message_get_body(reply);
        if (!body || !g_variant_is_of_type(body, G_VARIANT_TYPE("(oa{sv})"))) {
                g_set_error(ret_error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_SIGNATURE,
                            "RegisterProvider replied with %s instead of (oa{sv})",
                            body ? g_variant_get_type_string(body) : "nothing");
                g_object_unref(reply);
                return FALSE;
        }
        g_variant_get(body, "(&o@a{sv})", &path, &config);

        g_free(self->service_path);
        self->service_path = g_strdup(path);
        g_free(self->owner);
        self->owner = g_strdup(g_dbus_message_get_sender(reply));
        if (self->config)
                g_ptr_array_add(self->old_configs, self->config);
        self->config = config;
        self->wanted = TRUE;
        state = app_service_provider_get_property_value(self, "settings", "state");
        if (state)
                set_node_state(self, state);
        /* Before anything else runs in this context: a ConnectionOpened that followed the reply
         * finds us (set_registered() binds the service path). */
        set_registered(self, TRUE);
        g_object_unref(reply);
        return TRUE;
}

static void on_register_reply(GObject *source, GAsyncResult *result, gpointer user_data);

/* Once the bus is reached. */
static void register_start(GTask *task) {
        AppServiceProvider *self = g_task_get_source_object(task);
        g_autoptr(GDBusMessage) message = NULL;
        GError *error = NULL;

        if (self->registered) {
                g_task_return_boolean(task, TRUE);
                g_object_unref(task);
                return;
        }
        if (!check_can_register(self, &error)) {
                g_task_return_error(task, error);
                g_object_unref(task);
                return;
        }

        self->registering = TRUE;
        message = register_message(self);
        as_call_message(self->link.bus, message, g_task_get_cancellable(task), undo_register,
                        g_strdup(self->app_service_name), g_free, on_register_reply, task);
}

static void on_register_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        AppServiceProvider *self = g_task_get_source_object(task);
        GDBusMessage *reply;
        GError *error = NULL;
        GError *register_error = NULL;

        reply = as_call_message_finish(result, &error);
        if (register_done(self, reply, error, &register_error))
                g_task_return_boolean(task, TRUE);
        else
                g_task_return_error(task, register_error);
}

/**
 * app_service_provider_register:
 * @self: a provider
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the provider is registered or could
 *   not be
 * @user_data: data for @callback
 *
 * Registers this process with the broker as the provider of
 * [property@AppService.Provider:app-service-name]. Clients waiting for the provider to start
 * are connected right after, so connect to
 * [signal@AppService.Provider::connection-received] first. Registering a provider that is
 * registered does nothing and succeeds.
 *
 * Errors: %APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE (no definition declares the name),
 * %APP_SERVICE_ERROR_NOT_AUTHORIZED (this process's user may not register it),
 * %APP_SERVICE_ERROR_ALREADY_REGISTERED (another process serves it), or those of the bus.
 * Cancelling returns at once with %G_IO_ERROR_CANCELLED; if the broker registered the provider
 * meanwhile, the library unregisters it.
 *
 * Finish with [method@AppService.Provider.register_finish], in the thread-default main context
 * of the caller.
 *
 * Since: 0.1
 */
void app_service_provider_register(AppServiceProvider *self, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task;

        g_return_if_fail(APP_SERVICE_IS_PROVIDER(self));
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        task = g_task_new(self, cancellable, callback, user_data);
        g_task_set_source_tag(task, app_service_provider_register);
        as_broker_link_then(&self->link, task, register_start);
}

/**
 * app_service_provider_register_finish:
 * @self: a provider
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Provider.register].
 *
 * Returns: %TRUE if the provider is registered, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_provider_register_finish(AppServiceProvider *self, GAsyncResult *result, GError **error) {
        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(self), FALSE);
        g_return_val_if_fail(g_task_is_valid(result, self), FALSE);

        return g_task_propagate_boolean(G_TASK(result), error);
}

/**
 * app_service_provider_register_sync:
 * @self: a provider
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Registers the provider, blocking the calling thread: the synchronous twin of
 * [method@AppService.Provider.register]. It needs no running main loop; connections that
 * clients open are announced in the provider's main context once it runs.
 *
 * Returns: %TRUE if the provider is registered, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_provider_register_sync(AppServiceProvider *self, GCancellable *cancellable, GError **error) {
        g_autoptr(GDBusMessage) message = NULL;
        GDBusMessage *reply;
        GError *e = NULL;

        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(self), FALSE);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), FALSE);

        if (self->registered)
                return TRUE;
        if (!as_broker_link_init_sync(&self->link, cancellable, error) || !check_can_register(self, error))
                return FALSE;

        self->registering = TRUE;
        message = register_message(self);
        reply = as_call_message_sync(self->link.bus, message, cancellable, undo_register,
                                     g_strdup(self->app_service_name), &e);
        return register_done(self, reply, e, error);
}

/* ---- the broker went away, and came back ---- */

static void on_reregister_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(AppServiceProvider) self = user_data;
        GDBusMessage *reply;
        GError *error = NULL;
        GError *register_error = NULL;

        reply = as_call_message_finish(result, &error);
        if (!self->wanted) {
                /* Unregistered by the application while this was under way. */
                self->registering = FALSE;
                if (reply)
                        undo_register(self->link.bus, reply, self->app_service_name);
                g_clear_object(&reply);
                g_clear_error(&error);
                return;
        }
        if (!register_done(self, reply, error, &register_error)) {
                g_warning("app service '%s': could not register again with the restarted broker: %s",
                          self->app_service_name, register_error->message);
                g_error_free(register_error);
        }
}

/* A new broker knows nothing of us: wanted registered, we register with it. */
static void register_again(AppServiceProvider *self) {
        g_autoptr(GDBusMessage) message = NULL;

        g_debug("app service '%s': registering again with the new broker", self->app_service_name);
        self->registering = TRUE;
        message = register_message(self);
        as_call_message(self->link.bus, message, NULL, NULL, NULL, NULL, on_reregister_reply, g_object_ref(self));
}

/* ---- unregister ---- */

static gboolean check_can_unregister(AppServiceProvider *self, GError **error) {
        if (!self->app_service_name) {
                g_set_error_literal(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_NOT_AUTHORIZED,
                                    "the provider was never registered");
                return FALSE;
        }
        return TRUE;
}

/* Once the bus is reached. */
static void unregister_start(GTask *task) {
        AppServiceProvider *self = g_task_get_source_object(task);
        GError *error = NULL;

        if (!check_can_unregister(self, &error)) {
                g_task_return_error(task, error);
                g_object_unref(task);
                return;
        }
        /* The broker is told even if the cancellable fires: this side unregistered already. */
        as_call_always(self->link.bus, self->owner ? self->owner : AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE,
                       "UnregisterProvider", g_variant_new("(s)", self->app_service_name),
                       g_task_get_cancellable(task), as_call_always_return_to_task, task);
}

/* At once, like close(): no connection-received from now on, our connections are forgotten.
 * Their direct links are returned, to close once the broker has our UnregisterProvider. */
static GPtrArray *unregister_locally(AppServiceProvider *self) {
        GPtrArray *links = links_new();

        self->wanted = FALSE;
        drop_connections_keeping_links(self, /* cancel= */ FALSE, links);
        set_registered(self, FALSE);
        return links;
}

/**
 * app_service_provider_unregister:
 * @self: a provider
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the broker unregistered the
 *   provider
 * @user_data: data for @callback
 *
 * Stops serving the app service. The broker closes the provider's connections (their clients
 * get [signal@AppService.Connection::service-closed] with
 * %APP_SERVICE_CLOSED_STATUS_COMPLETED); on this side they are closed at once, without
 * [signal@AppService.Connection::service-closed], and
 * [property@AppService.Provider:registered] is %FALSE at once. Leaving the bus, or finalizing
 * the provider, has the same effect.
 *
 * Errors: %APP_SERVICE_ERROR_NOT_AUTHORIZED if this process is not the registered provider (for
 * example, it never registered), or those of the bus.
 *
 * Finish with [method@AppService.Provider.unregister_finish].
 *
 * Since: 0.1
 */
void app_service_provider_unregister(AppServiceProvider *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task;

        g_return_if_fail(APP_SERVICE_IS_PROVIDER(self));
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        task = g_task_new(self, cancellable, callback, user_data);
        g_task_set_source_tag(task, app_service_provider_unregister);
        /* Closed with the task, after the broker's answer. */
        g_task_set_task_data(task, unregister_locally(self), (GDestroyNotify) g_ptr_array_unref);
        as_broker_link_then(&self->link, task, unregister_start);
}

/**
 * app_service_provider_unregister_finish:
 * @self: a provider
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Provider.unregister].
 *
 * Returns: %TRUE if the broker unregistered the provider, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_provider_unregister_finish(AppServiceProvider *self, GAsyncResult *result, GError **error) {
        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(self), FALSE);
        g_return_val_if_fail(g_task_is_valid(result, self), FALSE);

        return g_task_propagate_boolean(G_TASK(result), error);
}

/**
 * app_service_provider_unregister_sync:
 * @self: a provider
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Stops serving the app service, blocking the calling thread: the synchronous twin of
 * [method@AppService.Provider.unregister]. It needs no running main loop.
 *
 * Returns: %TRUE if the broker unregistered the provider, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_provider_unregister_sync(AppServiceProvider *self, GCancellable *cancellable,
                                              GError **error) {
        g_autoptr(GPtrArray) links = NULL; /* closed after the broker's answer */

        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(self), FALSE);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), FALSE);

        links = unregister_locally(self);
        if (!as_broker_link_init_sync(&self->link, cancellable, error) || !check_can_unregister(self, error))
                return FALSE;
        return as_call_always_sync(self->link.bus, self->owner ? self->owner : AS_BUS_NAME, AS_MANAGER_PATH,
                                   AS_MANAGER_IFACE, "UnregisterProvider",
                                   g_variant_new("(s)", self->app_service_name), cancellable, error);
}

/* ---- submit_action ---- */

static gboolean check_can_submit(GVariant *message, GError **error) {
        if (message && !g_variant_is_of_type(message, G_VARIANT_TYPE_VARDICT)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "a message is an a{sv} (a ValueSet), not a %s", g_variant_get_type_string(message));
                return FALSE;
        }
        return as_value_set_check_sendable(message, error);
}

static GVariant *submit_parameters(const gchar *destination, const gchar *action, GVariant *message) {
        if (!message)
                message = g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0);
        return g_variant_new("(ss@a{sv})", destination, action, message);
}

static void split_submit_reply(GVariant *reply, GVariant **ret_responses, GVariant **ret_failures) {
        if (ret_responses)
                *ret_responses = g_variant_get_child_value(reply, 0);
        if (ret_failures)
                *ret_failures = g_variant_get_child_value(reply, 1);
}

typedef struct {
        gchar *destination;
        gchar *action;
        GVariant *message;
} SubmitData;

static void submit_data_free(gpointer p) {
        SubmitData *data = p;

        g_free(data->destination);
        g_free(data->action);
        g_clear_pointer(&data->message, g_variant_unref);
        g_free(data);
}

static void on_submit_reply(GObject *source, GAsyncResult *result, gpointer user_data);

/* Once the bus is reached. */
static void submit_start(GTask *task) {
        AppServiceProvider *self = g_task_get_source_object(task);
        SubmitData *data = g_task_get_task_data(task);
        GError *error = NULL;

        if (!check_can_submit(data->message, &error)) {
                g_task_return_error(task, error);
                g_object_unref(task);
                return;
        }
        g_dbus_connection_call(self->link.bus, AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE, "SubmitAction",
                               submit_parameters(data->destination, data->action, data->message),
                               G_VARIANT_TYPE("(a{sv}a{ss})"), G_DBUS_CALL_FLAGS_NONE, AS_CALL_TIMEOUT,
                               g_task_get_cancellable(task), on_submit_reply, task);
}

static void on_submit_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        GVariant *reply;
        GError *error = NULL;

        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        if (!reply) {
                as_error_prettify(error);
                g_task_return_error(task, error);
                return;
        }
        g_task_return_pointer(task, reply, (GDestroyNotify) g_variant_unref);
}

/**
 * app_service_provider_submit_action:
 * @self: a provider, usually registered
 * @destination: an app service name, or `*` for every app service
 * @action: what the receiver is asked to do, for example `set-temperature`: not empty, at most
 *   255 bytes
 * @message: (nullable): the message, an `a{sv}` ValueSet (if floating, it is consumed); %NULL
 *   for an empty one
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when every receiver answered or timed out
 * @user_data: data for @callback
 *
 * Sends @message to another app service, or to all of them, and collects the answers: the
 * microServiceBus `SubmitAction` (`io.appservice1.Manager.SubmitAction`). The broker opens a
 * one-shot connection to each receiver, whose provider sees a connection with
 * [property@AppService.Connection:action] set to @action and, when this provider is registered,
 * [property@AppService.Connection:caller-app-service-name] set to its app service, then one
 * request with @message.
 *
 * With one app service name, its provider is started if needed, and the errors of opening it
 * are the errors of the call (%APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE,
 * %APP_SERVICE_ERROR_NOT_AUTHORIZED, %APP_SERVICE_ERROR_DISABLED_BY_POLICY, ...). With `*` (a
 * broadcast, allowed for registered providers and root), the message goes to every other app
 * service that is enabled, has a registered provider, and that this process may open; the
 * others are skipped. A receiver that did not answer in time, or closed first, is among the
 * failures, not an error of the call.
 *
 * Errors: those above, %APP_SERVICE_ERROR_INVALID_MESSAGE (@message breaks the ValueSet rules, or
 * @action is empty or too long), %G_IO_ERROR_INVALID_ARGUMENT (@message is not an `a{sv}`), or
 * those of the bus.
 *
 * Finish with [method@AppService.Provider.submit_action_finish].
 *
 * Since: 0.1
 */
void app_service_provider_submit_action(AppServiceProvider *self, const gchar *destination, const gchar *action,
                                        GVariant *message, GCancellable *cancellable, GAsyncReadyCallback callback,
                                        gpointer user_data) {
        g_autoptr(GVariant) sunk = message ? g_variant_ref_sink(message) : NULL;
        SubmitData *data;
        GTask *task;

        g_return_if_fail(APP_SERVICE_IS_PROVIDER(self));
        g_return_if_fail(destination != NULL);
        g_return_if_fail(action != NULL);
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        task = g_task_new(self, cancellable, callback, user_data);
        g_task_set_source_tag(task, app_service_provider_submit_action);
        data = g_new0(SubmitData, 1);
        data->destination = g_strdup(destination);
        data->action = g_strdup(action);
        data->message = g_steal_pointer(&sunk);
        g_task_set_task_data(task, data, submit_data_free);
        as_broker_link_then(&self->link, task, submit_start);
}

/**
 * app_service_provider_submit_action_finish:
 * @self: a provider
 * @result: the result passed to the callback
 * @responses: (out) (optional) (transfer full): the answers, an `a{sv}`: one entry per app
 *   service that answered, its name and its response (a variant holding an `a{sv}`); free it
 *   with g_variant_unref()
 * @failures: (out) (optional) (transfer full): the app services that were sent the message but
 *   gave no answer, an `a{ss}`: the name, and the D-Bus error as `NAME: message`; free it with
 *   g_variant_unref()
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Provider.submit_action].
 *
 * Returns: %TRUE if the message was delivered (@responses and @failures say how each receiver
 *   answered), %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_provider_submit_action_finish(AppServiceProvider *self, GAsyncResult *result,
                                                   GVariant **responses, GVariant **failures, GError **error) {
        g_autoptr(GVariant) reply = NULL;

        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(self), FALSE);
        g_return_val_if_fail(g_task_is_valid(result, self), FALSE);

        reply = g_task_propagate_pointer(G_TASK(result), error);
        if (!reply)
                return FALSE;
        split_submit_reply(reply, responses, failures);
        return TRUE;
}

/**
 * app_service_provider_submit_action_sync:
 * @self: a provider, usually registered
 * @destination: an app service name, or `*` for every app service
 * @action: what the receiver is asked to do: not empty, at most 255 bytes
 * @message: (nullable): the message, an `a{sv}` ValueSet (if floating, it is consumed); %NULL
 *   for an empty one
 * @responses: (out) (optional) (transfer full): the answers, an `a{sv}` of app service names and
 *   their responses (variants holding `a{sv}`); free it with g_variant_unref()
 * @failures: (out) (optional) (transfer full): the receivers that gave no answer, an `a{ss}` of
 *   app service names and `NAME: message` errors; free it with g_variant_unref()
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Sends an action to other app services and collects the answers, blocking the calling thread:
 * the synchronous twin of [method@AppService.Provider.submit_action]. It needs no running main
 * loop; but a receiver served by this same process cannot answer while it blocks: use the
 * asynchronous call for that.
 *
 * Returns: %TRUE if the message was delivered, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_provider_submit_action_sync(AppServiceProvider *self, const gchar *destination,
                                                 const gchar *action, GVariant *message, GVariant **responses,
                                                 GVariant **failures, GCancellable *cancellable, GError **error) {
        g_autoptr(GVariant) sunk G_GNUC_UNUSED = message ? g_variant_ref_sink(message) : NULL;
        g_autoptr(GVariant) reply = NULL;
        GError *e = NULL;

        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(self), FALSE);
        g_return_val_if_fail(destination != NULL, FALSE);
        g_return_val_if_fail(action != NULL, FALSE);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), FALSE);

        if (!as_broker_link_init_sync(&self->link, cancellable, error) || !check_can_submit(message, error))
                return FALSE;
        reply = g_dbus_connection_call_sync(self->link.bus, AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE, "SubmitAction",
                                            submit_parameters(destination, action, message),
                                            G_VARIANT_TYPE("(a{sv}a{ss})"), G_DBUS_CALL_FLAGS_NONE, AS_CALL_TIMEOUT,
                                            cancellable, &e);
        if (!reply) {
                as_error_prettify(e);
                g_propagate_error(error, e);
                return FALSE;
        }
        split_submit_reply(reply, responses, failures);
        return TRUE;
}

/* ---- submit_message ---- */

#define SUBMIT_MESSAGE_ACTION "SubmitMessage"

/* What SubmitAction gave for io.appservice.cloud: its response, or its failure as an error in
 * APP_SERVICE_ERROR (the "NAME: message" of the failures, the code of NAME). */
static GVariant *cloud_response(GVariant *responses, GVariant *failures, GError **error) {
        g_autoptr(GVariant) response = NULL;
        const gchar *failure = NULL;
        const gchar *separator;

        /* The variant's content: lookup_value() unboxes the v of an a{sv}. */
        response = g_variant_lookup_value(responses, APP_SERVICE_CLOUD_NAME, NULL);
        if (response) {
                if (g_variant_is_of_type(response, G_VARIANT_TYPE_VARDICT))
                        return g_steal_pointer(&response);
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_FAILED,
                            "app service '%s' answered with a %s instead of a ValueSet", APP_SERVICE_CLOUD_NAME,
                            g_variant_get_type_string(response));
                return NULL;
        }
        if (!g_variant_lookup(failures, APP_SERVICE_CLOUD_NAME, "&s", &failure)) {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_FAILED,
                            "app service '%s' gave no answer", APP_SERVICE_CLOUD_NAME);
                return NULL;
        }
        separator = strstr(failure, ": ");
        if (separator) {
                g_autofree gchar *name = g_strndup(failure, separator - failure);
                GError *e = g_dbus_error_new_for_dbus_error(name, separator + 2);

                if (e->domain == APP_SERVICE_ERROR) {
                        as_error_prettify(e);
                        g_propagate_error(error, e);
                        return NULL;
                }
                g_error_free(e);
        }
        g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_FAILED, "app service '%s' failed: %s",
                    APP_SERVICE_CLOUD_NAME, failure);
        return NULL;
}

static void on_submit_message_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        g_autoptr(GVariant) responses = NULL;
        g_autoptr(GVariant) failures = NULL;
        GVariant *response;
        GError *error = NULL;

        if (!app_service_provider_submit_action_finish(APP_SERVICE_PROVIDER(source), result, &responses, &failures,
                                                       &error)) {
                g_task_return_error(task, error);
                return;
        }
        response = cloud_response(responses, failures, &error);
        if (!response)
                g_task_return_error(task, error);
        else
                g_task_return_pointer(task, response, (GDestroyNotify) g_variant_unref);
}

/**
 * app_service_provider_submit_message:
 * @self: a provider, usually registered
 * @message: (nullable): the message, an `a{sv}` ValueSet (if floating, it is consumed); %NULL
 *   for an empty one
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the cloud bridge took the message
 *   or it failed
 * @user_data: data for @callback
 *
 * Sends @message to the cloud: the microServiceBus `SubmitMessage`, an IoT Hub device-to-cloud
 * message. It goes to the app service %APP_SERVICE_CLOUD_NAME (the node's bridge,
 * `appservice-mqtt`) through [method@AppService.Provider.submit_action] with the action
 * `SubmitMessage`, so that the bridge learns from the broker which app service sent it (when
 * @self is registered; else the sender's app id or uid) and publishes it under that name.
 *
 * The bridge answers once the message is safe in its spool: its response is
 * `{"status": "delivered" | "queued", "id": s}`, `delivered` when the MQTT broker acknowledged
 * it at once, `queued` when it will be published later (the link is down or slow), and `id` the
 * message's id, unique to the node, which receivers use to drop duplicates.
 *
 * Errors: %APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE (no bridge is declared on this node),
 * %APP_SERVICE_ERROR_APP_UNAVAILABLE (it could not be started),
 * %APP_SERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED (its spool is full: nothing was dropped, try
 * again later), %APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE, %APP_SERVICE_ERROR_TIMEOUT, and the
 * others of [method@AppService.Provider.submit_action]: what the bridge or the broker reports
 * is an error in %APP_SERVICE_ERROR with its code and message.
 *
 * Finish with [method@AppService.Provider.submit_message_finish].
 *
 * Since: 0.1
 */
void app_service_provider_submit_message(AppServiceProvider *self, GVariant *message, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task;

        g_return_if_fail(APP_SERVICE_IS_PROVIDER(self));
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        task = g_task_new(self, cancellable, callback, user_data);
        g_task_set_source_tag(task, app_service_provider_submit_message);
        app_service_provider_submit_action(self, APP_SERVICE_CLOUD_NAME, SUBMIT_MESSAGE_ACTION, message, cancellable,
                                           on_submit_message_done, task);
}

/**
 * app_service_provider_submit_message_finish:
 * @self: a provider
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Provider.submit_message].
 *
 * Returns: (transfer full): the bridge's response, an `a{sv}` with `status` and `id` (see
 *   [method@AppService.Provider.submit_message]); free it with g_variant_unref(). %NULL with
 *   @error set if the message was not taken
 *
 * Since: 0.1
 */
GVariant *app_service_provider_submit_message_finish(AppServiceProvider *self, GAsyncResult *result,
                                                     GError **error) {
        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(self), NULL);
        g_return_val_if_fail(g_task_is_valid(result, self), NULL);

        return g_task_propagate_pointer(G_TASK(result), error);
}

/**
 * app_service_provider_submit_message_sync:
 * @self: a provider, usually registered
 * @message: (nullable): the message, an `a{sv}` ValueSet (if floating, it is consumed); %NULL
 *   for an empty one
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Sends @message to the cloud, blocking the calling thread: the synchronous twin of
 * [method@AppService.Provider.submit_message]. It needs no running main loop.
 *
 * Returns: (transfer full): the bridge's response, an `a{sv}` with `status` and `id`; free it
 *   with g_variant_unref(). %NULL with @error set if the message was not taken
 *
 * Since: 0.1
 */
GVariant *app_service_provider_submit_message_sync(AppServiceProvider *self, GVariant *message,
                                                   GCancellable *cancellable, GError **error) {
        g_autoptr(GVariant) responses = NULL;
        g_autoptr(GVariant) failures = NULL;

        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(self), NULL);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), NULL);

        if (!app_service_provider_submit_action_sync(self, APP_SERVICE_CLOUD_NAME, SUBMIT_MESSAGE_ACTION, message,
                                                     &responses, &failures, cancellable, error))
                return NULL;
        return cloud_response(responses, failures, error);
}

/* ---- log ---- */

static const gchar *log_level_name(AppServiceLogLevel level) {
        static const gchar *const names[] = { "debug", "info", "warning", "error" };

        /* Both callers check that the level is one of these. */
        return names[level];
}

/* The registered provider's service object, at its broker; before registering, the object the
 * name would have (the broker answers NotAuthorized). */
static void log_target(AppServiceProvider *self, gchar **ret_destination, gchar **ret_path) {
        *ret_destination = g_strdup(self->registered ? self->owner : AS_BUS_NAME);
        *ret_path = self->registered ? g_strdup(self->service_path) : as_service_path_for_name(self->app_service_name);
}

static GVariant *log_parameters(AppServiceLogLevel level, const gchar *code, const gchar *message) {
        return g_variant_new("(sss)", log_level_name(level), code ? code : "", message);
}

static void on_log_reply(GObject *source, GAsyncResult *result, gpointer user_data);

/* Once the bus is reached: the task's data are the parameters. */
static void log_start(GTask *task) {
        AppServiceProvider *self = g_task_get_source_object(task);
        g_autofree gchar *destination = NULL;
        g_autofree gchar *path = NULL;

        log_target(self, &destination, &path);
        g_dbus_connection_call(self->link.bus, destination, path, AS_SERVICE_IFACE, "Log", g_task_get_task_data(task),
                               G_VARIANT_TYPE("()"), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, g_task_get_cancellable(task),
                               on_log_reply, task);
}

static void on_log_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        g_autoptr(GVariant) reply = NULL;
        GError *error = NULL;

        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        if (!reply) {
                as_error_prettify(error);
                g_task_return_error(task, error);
                return;
        }
        g_task_return_boolean(task, TRUE);
}

/**
 * app_service_provider_log:
 * @self: a registered provider
 * @level: how serious it is
 * @code: (nullable): the fault code, for example `E_SENSOR_TIMEOUT`: at most 255 printable ASCII
 *   characters without spaces; required for %APP_SERVICE_LOG_LEVEL_ERROR, %NULL or empty
 *   otherwise allowed
 * @message: the description or log text: UTF-8, not empty, at most 4096 bytes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the broker took the line
 * @user_data: data for @callback
 *
 * Reports a fault or a log line to the broker (`io.appservice1.Service.Log`, the
 * microServiceBus `ThrowError` and debug log). The broker writes it to the journal, with the
 * app service's name and this process's identity, and sends it to monitoring administrators as
 * a `fault` event ([signal@AppService.Node::monitor-event]). A provider that reports more than
 * 200 lines in 10 seconds has the rest dropped until the interval ends.
 *
 * Errors: %APP_SERVICE_ERROR_NOT_AUTHORIZED (the provider is not registered),
 * %G_DBUS_ERROR_INVALID_ARGS (a missing or malformed @code, an empty or over-long @message), or
 * those of the bus.
 *
 * Finish with [method@AppService.Provider.log_finish].
 *
 * Since: 0.1
 */
void app_service_provider_log(AppServiceProvider *self, AppServiceLogLevel level, const gchar *code,
                              const gchar *message, GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data) {
        GTask *task;

        g_return_if_fail(APP_SERVICE_IS_PROVIDER(self));
        g_return_if_fail(level <= APP_SERVICE_LOG_LEVEL_ERROR);
        g_return_if_fail(message != NULL);
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        task = g_task_new(self, cancellable, callback, user_data);
        g_task_set_source_tag(task, app_service_provider_log);
        g_task_set_task_data(task, g_variant_ref_sink(log_parameters(level, code, message)),
                             (GDestroyNotify) g_variant_unref);
        as_broker_link_then(&self->link, task, log_start);
}

/**
 * app_service_provider_log_finish:
 * @self: a provider
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Provider.log].
 *
 * Returns: %TRUE if the broker took the line, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_provider_log_finish(AppServiceProvider *self, GAsyncResult *result, GError **error) {
        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(self), FALSE);
        g_return_val_if_fail(g_task_is_valid(result, self), FALSE);

        return g_task_propagate_boolean(G_TASK(result), error);
}

/**
 * app_service_provider_log_sync:
 * @self: a registered provider
 * @level: how serious it is
 * @code: (nullable): the fault code, required for %APP_SERVICE_LOG_LEVEL_ERROR
 * @message: the description or log text: UTF-8, not empty, at most 4096 bytes
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Reports a fault or a log line, blocking the calling thread: the synchronous twin of
 * [method@AppService.Provider.log]. It needs no running main loop.
 *
 * Returns: %TRUE if the broker took the line, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_provider_log_sync(AppServiceProvider *self, AppServiceLogLevel level, const gchar *code,
                                       const gchar *message, GCancellable *cancellable, GError **error) {
        g_autofree gchar *destination = NULL;
        g_autofree gchar *path = NULL;

        g_return_val_if_fail(APP_SERVICE_IS_PROVIDER(self), FALSE);
        g_return_val_if_fail(level <= APP_SERVICE_LOG_LEVEL_ERROR, FALSE);
        g_return_val_if_fail(message != NULL, FALSE);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), FALSE);

        if (!as_broker_link_init_sync(&self->link, cancellable, error))
                return FALSE;
        log_target(self, &destination, &path);
        return as_call_always_sync(self->link.bus, destination, path, AS_SERVICE_IFACE, "Log",
                                   log_parameters(level, code, message), cancellable, error);
}
