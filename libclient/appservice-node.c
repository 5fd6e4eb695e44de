/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "appservice-private.h"

/**
 * AppServiceNode:
 *
 * The broker of this machine as administrators see it: its state, the administration of its app
 * services, and its live events.
 *
 * Make one with [ctor@AppService.Node.new] (the default bus, as
 * [ctor@AppService.Connection.new] chooses it) or [ctor@AppService.Node.new_for_bus].
 * [property@AppService.Node:state] follows the broker's `State` (`starting`, `running`,
 * `stopping`) while the node's main context runs.
 *
 * The administration calls ([method@AppService.Node.start_service],
 * [method@AppService.Node.stop_service], [method@AppService.Node.restart_service],
 * [method@AppService.Node.set_service_enabled], [method@AppService.Node.reload]) and
 * [method@AppService.Node.start_monitoring] are allowed for root and, where polkit runs, for
 * the users polkit authorizes for the action `io.appservice1.manage`; others get
 * %APP_SERVICE_ERROR_NOT_AUTHORIZED. Set
 * [property@AppService.Node:allow-interactive-authorization] to let polkit ask the user for a
 * password.
 *
 * ```c
 * g_autoptr(AppServiceNode) node = app_service_node_new ();
 * g_autoptr(GError) error = NULL;
 *
 * if (!app_service_node_restart_service_sync (node, "com.example.echo", NULL, &error))
 *   g_printerr ("restart: %s\n", error->message);
 * ```
 *
 * After [method@AppService.Node.start_monitoring], the broker sends this process its live
 * events, which the node emits as [signal@AppService.Node::monitor-event].
 *
 * Since: 0.1
 */

struct _AppServiceNode {
        GObject parent_instance;

        AsBrokerLink link;

        gchar *state;
        guint state_serial; /* bumped by every news of the state: a Get answered later is stale */
        gboolean allow_interactive;

        gboolean monitor_wanted; /* asked for and not stopped: events are emitted */
        gboolean monitoring;     /* the broker said yes; counted in the bus's monitor count */
        gchar *monitor_owner;    /* the broker that said yes */
};

enum {
        PROP_0,
        PROP_BUS,
        PROP_STATE,
        PROP_MONITORING,
        PROP_ALLOW_INTERACTIVE_AUTHORIZATION,
        N_PROPS
};

enum {
        SIGNAL_MONITOR_EVENT,
        N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE_WITH_CODE(AppServiceNode, app_service_node, G_TYPE_OBJECT,
                              G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE, as_broker_link_initable_iface_init)
                              G_IMPLEMENT_INTERFACE(G_TYPE_ASYNC_INITABLE,
                                                    as_broker_link_async_initable_iface_init))

/* The broker monitors a peer, that is a bus connection, not a node: several nodes of one
 * connection share it, and the last one that stops tells the broker. */
G_LOCK_DEFINE_STATIC(monitors);

static guint monitors_add(GDBusConnection *bus, gint delta) {
        static GQuark quark = 0;
        guint n;

        G_LOCK(monitors);
        if (!quark)
                quark = g_quark_from_static_string("app-service-node-monitors");
        n = GPOINTER_TO_UINT(g_object_get_qdata(G_OBJECT(bus), quark));
        n = (guint) ((gint) n + delta);
        g_object_set_qdata(G_OBJECT(bus), quark, GUINT_TO_POINTER(n));
        G_UNLOCK(monitors);
        return n;
}

static void send_stop_monitoring(GDBusConnection *bus) {
        /* Fire and forget: leaving the bus would do as well. */
        g_dbus_connection_call(bus, AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE, "StopMonitoring", NULL, NULL,
                               G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
}

/* Cancelled while StartMonitoring was on its way, and the broker said yes: unless another node of
 * the connection monitors (then the broker must go on), it must stop. */
static void undo_start_monitoring(GDBusConnection *bus, GDBusMessage *reply, gpointer undo_data) {
        if (monitors_add(bus, 0) == 0)
                send_stop_monitoring(bus);
}

static GVariant *start_monitoring_parameters(void) {
        return g_variant_new("(@a{sv})", g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
}

static void set_state(AppServiceNode *self, const gchar *state) {
        if (g_strcmp0(self->state, state) == 0)
                return;
        g_free(self->state);
        self->state = g_strdup(state);
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_STATE]);
}

static void set_monitoring(AppServiceNode *self, gboolean monitoring, const gchar *owner) {
        if (monitoring && !self->monitoring)
                monitors_add(self->link.bus, +1);
        else if (!monitoring && self->monitoring && monitors_add(self->link.bus, -1) == 0)
                send_stop_monitoring(self->link.bus);
        g_free(self->monitor_owner);
        self->monitor_owner = monitoring ? g_strdup(owner) : NULL;
        if (self->monitoring == monitoring)
                return;
        self->monitoring = monitoring;
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_MONITORING]);
}

/* ---- the State property of the broker ---- */

typedef struct {
        AppServiceNode *node;
        guint serial;
} FetchData;

static void on_state_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        FetchData *data = user_data;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) value = NULL;
        g_autoptr(GError) error = NULL;

        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        if (!reply)
                g_debug("cannot read the broker's State: %s", error->message);
        else if (data->serial == data->node->state_serial) {
                g_variant_get(reply, "(v)", &value);
                if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
                        set_state(data->node, g_variant_get_string(value, NULL));
        }
        g_object_unref(data->node);
        g_free(data);
}

static void fetch_state(AppServiceNode *self) {
        const gchar *owner = as_broker_link_get_broker(&self->link);
        FetchData *data;

        if (!owner)
                return;
        data = g_new0(FetchData, 1);
        data->node = g_object_ref(self);
        data->serial = ++self->state_serial;
        g_main_context_push_thread_default(self->link.context);
        g_dbus_connection_call(self->link.bus, owner, AS_MANAGER_PATH, AS_PROPERTIES_IFACE, "Get",
                               g_variant_new("(ss)", AS_MANAGER_IFACE, "State"), G_VARIANT_TYPE("(v)"),
                               G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, on_state_reply, data);
        g_main_context_pop_thread_default(self->link.context);
}

/* The broker's PropertiesChanged, (sa{sv}as). */
static void handle_properties_changed(AppServiceNode *self, GVariant *parameters) {
        g_autoptr(GVariant) changed = g_variant_get_child_value(parameters, 1);
        const gchar *state;

        if (!g_variant_lookup(changed, "State", "&s", &state))
                return;
        self->state_serial++;
        set_state(self, state);
}

static void on_remonitor_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(AppServiceNode) self = user_data;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GError) error = NULL;

        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        if (!reply) {
                as_error_prettify(error);
                g_warning("cannot monitor the restarted broker: %s", error->message);
                self->monitor_wanted = FALSE;
                set_monitoring(self, FALSE, NULL);
        }
}

static void handle_broker_appeared(AppServiceNode *self, const gchar *owner) {
        fetch_state(self);
        /* A new broker knows nothing of our monitoring: ask it again. */
        if (self->monitoring && g_strcmp0(self->monitor_owner, owner) != 0) {
                g_free(self->monitor_owner);
                self->monitor_owner = g_strdup(owner);
                g_main_context_push_thread_default(self->link.context);
                g_dbus_connection_call(self->link.bus, AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE,
                                       "StartMonitoring", start_monitoring_parameters(), NULL,
                                       G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, on_remonitor_reply,
                                       g_object_ref(self));
                g_main_context_pop_thread_default(self->link.context);
        }
}

static void handle_broker_vanished(AppServiceNode *self) {
        self->state_serial++;
        set_state(self, NULL);
}

static void handle_monitor_event(AppServiceNode *self, GVariant *parameters) {
        const gchar *type;
        g_autoptr(GVariant) event = NULL;

        /* Unicast to this bus connection: only the nodes that asked for events see them. */
        if (!self->monitor_wanted)
                return;
        g_variant_get(parameters, "(&s@a{sv})", &type, &event);
        g_signal_emit(self, signals[SIGNAL_MONITOR_EVENT], g_quark_try_string(type), type, event);
}

/* ---- what the hub tells the node ---- */

/* Also at attach, when the owner is known: the State is read then. */
static void on_broker_changed(gpointer instance, const gchar *owner) {
        if (owner)
                handle_broker_appeared(instance, owner);
        else
                handle_broker_vanished(instance);
}

static void on_signal(gpointer instance, const gchar *sender, const gchar *object_path, const gchar *interface_name,
                      const gchar *signal_name, GVariant *parameters) {
        if (g_str_equal(signal_name, "MonitorEvent"))
                handle_monitor_event(instance, parameters);
        else if (g_str_equal(signal_name, "PropertiesChanged"))
                handle_properties_changed(instance, parameters);
}

static const AsHubClientVTable hub_vtable = {
        .wants = AS_HUB_WANTS_MANAGER_SIGNALS | AS_HUB_WANTS_MANAGER_PROPERTIES,
        .broker_changed = on_broker_changed,
        .signal = on_signal,
};

/* ---- the object ---- */

static void app_service_node_init(AppServiceNode *self) {
        as_broker_link_init(&self->link, G_OBJECT(self), &hub_vtable);
}

static void app_service_node_dispose(GObject *object) {
        AppServiceNode *self = APP_SERVICE_NODE(object);

        self->monitor_wanted = FALSE;
        if (self->monitoring)
                set_monitoring(self, FALSE, NULL);
        as_broker_link_detach(&self->link);

        G_OBJECT_CLASS(app_service_node_parent_class)->dispose(object);
}

static void app_service_node_finalize(GObject *object) {
        AppServiceNode *self = APP_SERVICE_NODE(object);

        as_broker_link_clear(&self->link);
        g_free(self->state);
        g_free(self->monitor_owner);

        G_OBJECT_CLASS(app_service_node_parent_class)->finalize(object);
}

static void app_service_node_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) {
        AppServiceNode *self = APP_SERVICE_NODE(object);

        switch (prop_id) {
        case PROP_BUS:
                g_value_set_object(value, as_broker_link_get_bus(&self->link));
                break;
        case PROP_STATE:
                g_value_set_string(value, self->state);
                break;
        case PROP_MONITORING:
                g_value_set_boolean(value, self->monitoring);
                break;
        case PROP_ALLOW_INTERACTIVE_AUTHORIZATION:
                g_value_set_boolean(value, self->allow_interactive);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

static void app_service_node_set_property(GObject *object, guint prop_id, const GValue *value,
                                          GParamSpec *pspec) {
        AppServiceNode *self = APP_SERVICE_NODE(object);

        switch (prop_id) {
        case PROP_BUS:
                as_broker_link_set_bus(&self->link, g_value_get_object(value));
                break;
        case PROP_ALLOW_INTERACTIVE_AUTHORIZATION:
                app_service_node_set_allow_interactive_authorization(self, g_value_get_boolean(value));
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

static void app_service_node_class_init(AppServiceNodeClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->dispose = app_service_node_dispose;
        object_class->finalize = app_service_node_finalize;
        object_class->get_property = app_service_node_get_property;
        object_class->set_property = app_service_node_set_property;

        /* Remote errors must arrive in APP_SERVICE_ERROR from the first call on. */
        (void) APP_SERVICE_ERROR;

        /**
         * AppServiceNode:bus:
         *
         * The bus the broker is reached on. When none is given at construction, the system bus
         * (the one in `DBUS_SYSTEM_BUS_ADDRESS` if set), or the session bus if the environment
         * variable `APPSERVICE_BUS` is `session`. %NULL only if that bus could not be reached;
         * every call then fails with the reason.
         *
         * The default bus is reached when the node is initialized: by
         * [ctor@AppService.Node.new], by g_initable_init() or g_async_initable_init_async(),
         * or else by the first call that needs it (or by reading this property).
         *
         * Since: 0.1
         */
        properties[PROP_BUS] = g_param_spec_object(
                "bus", NULL, NULL, G_TYPE_DBUS_CONNECTION,
                G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceNode:state:
         *
         * The broker's state, its `State` property: `starting` until every provider it starts
         * at boot (`AutoStart=yes`) has registered or failed, then `running`, and `stopping`
         * once it shuts down. %NULL while it is not known: before the first answer of the
         * broker, and while no broker owns `io.appservice1`. Kept up to date, with a
         * notification at each change, while the node's main context runs.
         *
         * Since: 0.1
         */
        properties[PROP_STATE] = g_param_spec_string(
                "state", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceNode:monitoring:
         *
         * Whether the broker sends this node its live events: from a successful
         * [method@AppService.Node.start_monitoring] until [method@AppService.Node.stop_monitoring].
         * When the broker is replaced, the node asks the new one to monitor again; if that is
         * refused, it becomes %FALSE.
         *
         * Since: 0.1
         */
        properties[PROP_MONITORING] = g_param_spec_boolean(
                "monitoring", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceNode:allow-interactive-authorization:
         *
         * Whether the administration calls may make polkit ask the user to authenticate (the
         * D-Bus flag `ALLOW_INTERACTIVE_AUTHORIZATION`); a call may then wait for as long as the
         * user takes. %FALSE by default: a caller polkit does not authorize at once gets
         * %APP_SERVICE_ERROR_NOT_AUTHORIZED.
         *
         * Since: 0.1
         */
        properties[PROP_ALLOW_INTERACTIVE_AUTHORIZATION] = g_param_spec_boolean(
                "allow-interactive-authorization", NULL, NULL, FALSE,
                G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

        g_object_class_install_properties(object_class, N_PROPS, properties);

        /**
         * AppServiceNode::monitor-event:
         * @self: the node
         * @type: what happened: `state`, `service-state`, `provider-started`,
         *   `provider-registered`, `provider-unregistered`, `provider-exited`,
         *   `connection-opened`, `connection-closed`, `request`, `response`, `fault` or
         *   `reload`; new types may come, ignore those you do not know
         * @event: the details, an `a{sv}`: always `timestamp` (`t`, `CLOCK_REALTIME` in
         *   microseconds), `service` (`s`) for events about one app service, and the keys of
         *   each type as the `io.appservice1.Manager.MonitorEvent` signal documents them
         *
         * A live event of the broker, emitted only while
         * [property@AppService.Node:monitoring] (and from the call to
         * [method@AppService.Node.start_monitoring] on). The broker sends each event to the
         * processes that started monitoring, and to no other (unicast): a node that did not
         * start monitoring never emits it, even when another node of the same process does.
         *
         * The signal is detailed by the type: connect to `monitor-event::fault` for faults
         * only.
         *
         * Since: 0.1
         */
        signals[SIGNAL_MONITOR_EVENT] = g_signal_new("monitor-event", G_TYPE_FROM_CLASS(klass),
                                                     G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED, 0, NULL, NULL, NULL,
                                                     G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_VARIANT);
}

/**
 * app_service_node_new:
 *
 * Makes a node for the broker on the default bus: the system bus (the one in
 * `DBUS_SYSTEM_BUS_ADDRESS` if that is set), or the session bus when the environment variable
 * `APPSERVICE_BUS` is `session`. If that bus cannot be reached, every call reports why.
 *
 * The node belongs to the thread-default main context of the caller: its signals and
 * notifications are emitted there.
 *
 * Returns: (transfer full): a new node; free it with g_object_unref()
 *
 * Since: 0.1
 */
AppServiceNode *app_service_node_new(void) {
        AppServiceNode *self = g_object_new(APP_SERVICE_TYPE_NODE, NULL);

        /* The bus is reached now, as it always was; a failure is for the calls to report. */
        g_initable_init(G_INITABLE(self), NULL, NULL);
        return self;
}

/**
 * app_service_node_new_for_bus:
 * @bus: the bus the broker is on
 *
 * Makes a node for the broker on @bus.
 *
 * The node belongs to the thread-default main context of the caller: its signals and
 * notifications are emitted there.
 *
 * Returns: (transfer full): a new node; free it with g_object_unref()
 *
 * Since: 0.1
 */
AppServiceNode *app_service_node_new_for_bus(GDBusConnection *bus) {
        AppServiceNode *self;

        g_return_val_if_fail(G_IS_DBUS_CONNECTION(bus), NULL);

        self = g_object_new(APP_SERVICE_TYPE_NODE, "bus", bus, NULL);
        g_initable_init(G_INITABLE(self), NULL, NULL); /* no I/O but the State's read */
        return self;
}

/**
 * app_service_node_get_bus:
 * @self: a node
 *
 * Gets [property@AppService.Node:bus].
 *
 * Returns: (nullable) (transfer none): the bus, owned by @self and valid as long as it is; %NULL
 *   if the default bus could not be reached
 *
 * Since: 0.1
 */
GDBusConnection *app_service_node_get_bus(AppServiceNode *self) {
        g_return_val_if_fail(APP_SERVICE_IS_NODE(self), NULL);
        return as_broker_link_get_bus(&self->link);
}

/**
 * app_service_node_get_state:
 * @self: a node
 *
 * Gets [property@AppService.Node:state].
 *
 * Returns: (nullable) (transfer none): `starting`, `running`, `stopping`, or %NULL while not
 *   known; owned by @self and valid until the state changes (copy it to keep it)
 *
 * Since: 0.1
 */
const gchar *app_service_node_get_state(AppServiceNode *self) {
        g_return_val_if_fail(APP_SERVICE_IS_NODE(self), NULL);
        return self->state;
}

/**
 * app_service_node_get_monitoring:
 * @self: a node
 *
 * Gets [property@AppService.Node:monitoring].
 *
 * Returns: whether the broker sends this node its live events
 *
 * Since: 0.1
 */
gboolean app_service_node_get_monitoring(AppServiceNode *self) {
        g_return_val_if_fail(APP_SERVICE_IS_NODE(self), FALSE);
        return self->monitoring;
}

/**
 * app_service_node_get_allow_interactive_authorization:
 * @self: a node
 *
 * Gets [property@AppService.Node:allow-interactive-authorization].
 *
 * Returns: whether polkit may ask the user to authenticate
 *
 * Since: 0.1
 */
gboolean app_service_node_get_allow_interactive_authorization(AppServiceNode *self) {
        g_return_val_if_fail(APP_SERVICE_IS_NODE(self), FALSE);
        return self->allow_interactive;
}

/**
 * app_service_node_set_allow_interactive_authorization:
 * @self: a node
 * @allow: whether polkit may ask the user to authenticate
 *
 * Sets [property@AppService.Node:allow-interactive-authorization], for the calls made from now
 * on.
 *
 * Since: 0.1
 */
void app_service_node_set_allow_interactive_authorization(AppServiceNode *self, gboolean allow) {
        g_return_if_fail(APP_SERVICE_IS_NODE(self));

        allow = !!allow;
        if (self->allow_interactive == allow)
                return;
        self->allow_interactive = allow;
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_ALLOW_INTERACTIVE_AUTHORIZATION]);
}

/* ---- the calls: one D-Bus method each, no answer but success or an error ---- */

static GDBusCallFlags call_flags(AppServiceNode *self) {
        return self->allow_interactive ? G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION : G_DBUS_CALL_FLAGS_NONE;
}

static void on_call_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
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

typedef struct {
        const gchar *method; /* static */
        GVariant *parameters;
} CallData;

static void call_data_free(gpointer p) {
        CallData *data = p;

        g_clear_pointer(&data->parameters, g_variant_unref);
        g_free(data);
}

/* Once the bus is reached. */
static void node_call_start(GTask *task) {
        AppServiceNode *self = g_task_get_source_object(task);
        CallData *data = g_task_get_task_data(task);

        g_dbus_connection_call(self->link.bus, AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE, data->method,
                               data->parameters, G_VARIANT_TYPE("()"), call_flags(self), AS_CALL_TIMEOUT,
                               g_task_get_cancellable(task), on_call_reply, task);
}

/* @method: a static string; @parameters: floating or not, consumed. */
static void node_call(AppServiceNode *self, const gchar *method, GVariant *parameters, GCancellable *cancellable,
                      gpointer source_tag, GAsyncReadyCallback callback, gpointer user_data) {
        CallData *data = g_new0(CallData, 1);
        GTask *task;

        data->method = method;
        data->parameters = parameters ? g_variant_ref_sink(parameters) : NULL;
        task = g_task_new(self, cancellable, callback, user_data);
        g_task_set_source_tag(task, source_tag);
        g_task_set_task_data(task, data, call_data_free);
        as_broker_link_then(&self->link, task, node_call_start);
}

static gboolean node_call_finish(AppServiceNode *self, GAsyncResult *result, gpointer source_tag, GError **error) {
        g_return_val_if_fail(APP_SERVICE_IS_NODE(self), FALSE);
        g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
        g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == source_tag, FALSE);

        return g_task_propagate_boolean(G_TASK(result), error);
}

static gboolean node_call_sync(AppServiceNode *self, const gchar *method, GVariant *parameters,
                               GCancellable *cancellable, GError **error) {
        g_autoptr(GVariant) sunk = parameters ? g_variant_ref_sink(parameters) : NULL;
        g_autoptr(GVariant) reply = NULL;
        GError *e = NULL;

        if (!as_broker_link_init_sync(&self->link, cancellable, error))
                return FALSE;
        reply = g_dbus_connection_call_sync(self->link.bus, AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE, method, sunk,
                                            G_VARIANT_TYPE("()"), call_flags(self), AS_CALL_TIMEOUT, cancellable, &e);
        if (!reply) {
                as_error_prettify(e);
                g_propagate_error(error, e);
                return FALSE;
        }
        return TRUE;
}

/**
 * app_service_node_start_service:
 * @self: a node
 * @name: the app service, for example `com.example.echo`
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the provider has registered, or could
 *   not be started
 * @user_data: data for @callback
 *
 * Starts the provider of the app service @name, if none is registered, and completes once it has
 * registered (`io.appservice1.Manager.StartService`). A service that failed, even one that hit its
 * start limit, is reset first: an administrator's start always tries. A provider started this
 * way is not stopped for being idle.
 *
 * Errors: %APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE (no definition declares @name),
 * %APP_SERVICE_ERROR_NOT_AUTHORIZED (this process may not administer the broker),
 * %APP_SERVICE_ERROR_DISABLED_BY_POLICY (the service is disabled),
 * %APP_SERVICE_ERROR_APP_UNAVAILABLE (the provider could not be started, or did not register in
 * time), or those of the bus.
 *
 * Finish with [method@AppService.Node.start_service_finish].
 *
 * Since: 0.1
 */
void app_service_node_start_service(AppServiceNode *self, const gchar *name, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data) {
        g_return_if_fail(APP_SERVICE_IS_NODE(self));
        g_return_if_fail(name != NULL);
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        node_call(self, "StartService", g_variant_new("(s)", name), cancellable, app_service_node_start_service,
                  callback, user_data);
}

/**
 * app_service_node_start_service_finish:
 * @self: a node
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Node.start_service].
 *
 * Returns: %TRUE if a provider of the service is registered, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_node_start_service_finish(AppServiceNode *self, GAsyncResult *result, GError **error) {
        return node_call_finish(self, result, app_service_node_start_service, error);
}

/**
 * app_service_node_start_service_sync:
 * @self: a node
 * @name: the app service, for example `com.example.echo`
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Starts the provider of an app service, blocking the calling thread: the synchronous twin of
 * [method@AppService.Node.start_service]. It needs no running main loop.
 *
 * Returns: %TRUE if a provider of the service is registered, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_node_start_service_sync(AppServiceNode *self, const gchar *name, GCancellable *cancellable,
                                             GError **error) {
        g_return_val_if_fail(APP_SERVICE_IS_NODE(self), FALSE);
        g_return_val_if_fail(name != NULL, FALSE);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), FALSE);

        return node_call_sync(self, "StartService", g_variant_new("(s)", name), cancellable, error);
}

/**
 * app_service_node_stop_service:
 * @self: a node
 * @name: the app service, for example `com.example.echo`
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the provider is gone
 * @user_data: data for @callback
 *
 * Stops the provider of the app service @name and completes once it is gone
 * (`io.appservice1.Manager.StopService`). The provider is asked first
 * ([signal@AppService.Provider::stop-requested]); one that does not unregister within the
 * service's `StopTimeoutSec=` is made to (a process the broker started gets `SIGTERM`, then
 * `SIGKILL`). Stopping a service that does not run succeeds at once.
 *
 * Errors: %APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE (no definition declares @name),
 * %APP_SERVICE_ERROR_NOT_AUTHORIZED (this process may not administer the broker), or those of
 * the bus.
 *
 * Finish with [method@AppService.Node.stop_service_finish].
 *
 * Since: 0.1
 */
void app_service_node_stop_service(AppServiceNode *self, const gchar *name, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data) {
        g_return_if_fail(APP_SERVICE_IS_NODE(self));
        g_return_if_fail(name != NULL);
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        node_call(self, "StopService", g_variant_new("(s)", name), cancellable, app_service_node_stop_service,
                  callback, user_data);
}

/**
 * app_service_node_stop_service_finish:
 * @self: a node
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Node.stop_service].
 *
 * Returns: %TRUE if no provider of the service runs any more, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_node_stop_service_finish(AppServiceNode *self, GAsyncResult *result, GError **error) {
        return node_call_finish(self, result, app_service_node_stop_service, error);
}

/**
 * app_service_node_stop_service_sync:
 * @self: a node
 * @name: the app service, for example `com.example.echo`
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Stops the provider of an app service, blocking the calling thread: the synchronous twin of
 * [method@AppService.Node.stop_service]. It needs no running main loop; but a provider of the
 * same process, waiting for its main context to run, cannot hear that it should stop: use the
 * asynchronous call to stop a service this process provides.
 *
 * Returns: %TRUE if no provider of the service runs any more, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_node_stop_service_sync(AppServiceNode *self, const gchar *name, GCancellable *cancellable,
                                            GError **error) {
        g_return_val_if_fail(APP_SERVICE_IS_NODE(self), FALSE);
        g_return_val_if_fail(name != NULL, FALSE);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), FALSE);

        return node_call_sync(self, "StopService", g_variant_new("(s)", name), cancellable, error);
}

/**
 * app_service_node_restart_service:
 * @self: a node
 * @name: the app service, for example `com.example.echo`
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the new provider has registered, or
 *   the restart failed
 * @user_data: data for @callback
 *
 * Stops the provider of the app service @name as [method@AppService.Node.stop_service] does,
 * then starts it as [method@AppService.Node.start_service] does, and completes once the new
 * provider has registered (`io.appservice1.Manager.RestartService`).
 *
 * Errors: those of [method@AppService.Node.stop_service] and
 * [method@AppService.Node.start_service].
 *
 * Finish with [method@AppService.Node.restart_service_finish].
 *
 * Since: 0.1
 */
void app_service_node_restart_service(AppServiceNode *self, const gchar *name, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data) {
        g_return_if_fail(APP_SERVICE_IS_NODE(self));
        g_return_if_fail(name != NULL);
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        node_call(self, "RestartService", g_variant_new("(s)", name), cancellable,
                  app_service_node_restart_service, callback, user_data);
}

/**
 * app_service_node_restart_service_finish:
 * @self: a node
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Node.restart_service].
 *
 * Returns: %TRUE if the new provider is registered, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_node_restart_service_finish(AppServiceNode *self, GAsyncResult *result, GError **error) {
        return node_call_finish(self, result, app_service_node_restart_service, error);
}

/**
 * app_service_node_restart_service_sync:
 * @self: a node
 * @name: the app service, for example `com.example.echo`
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Restarts the provider of an app service, blocking the calling thread: the synchronous twin of
 * [method@AppService.Node.restart_service]. It needs no running main loop (but see
 * [method@AppService.Node.stop_service_sync] about a provider of the same process).
 *
 * Returns: %TRUE if the new provider is registered, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_node_restart_service_sync(AppServiceNode *self, const gchar *name, GCancellable *cancellable,
                                               GError **error) {
        g_return_val_if_fail(APP_SERVICE_IS_NODE(self), FALSE);
        g_return_val_if_fail(name != NULL, FALSE);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), FALSE);

        return node_call_sync(self, "RestartService", g_variant_new("(s)", name), cancellable, error);
}

/**
 * app_service_node_set_service_enabled:
 * @self: a node
 * @name: the app service, for example `com.example.echo`
 * @enabled: %FALSE to disable it, %TRUE to enable it again
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the broker applied it
 * @user_data: data for @callback
 *
 * Enables or disables the app service @name (`io.appservice1.Manager.SetServiceEnabled`). While
 * it is disabled, its state is `disabled` and opening it fails with
 * %APP_SERVICE_ERROR_DISABLED_BY_POLICY; connections already open stay open. The setting lasts
 * until the broker exits; a reload keeps it.
 *
 * Errors: %APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE (no definition declares @name),
 * %APP_SERVICE_ERROR_NOT_AUTHORIZED (this process may not administer the broker), or those of
 * the bus.
 *
 * Finish with [method@AppService.Node.set_service_enabled_finish].
 *
 * Since: 0.1
 */
void app_service_node_set_service_enabled(AppServiceNode *self, const gchar *name, gboolean enabled,
                                          GCancellable *cancellable, GAsyncReadyCallback callback,
                                          gpointer user_data) {
        g_return_if_fail(APP_SERVICE_IS_NODE(self));
        g_return_if_fail(name != NULL);
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        node_call(self, "SetServiceEnabled", g_variant_new("(sb)", name, !!enabled), cancellable,
                  app_service_node_set_service_enabled, callback, user_data);
}

/**
 * app_service_node_set_service_enabled_finish:
 * @self: a node
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Node.set_service_enabled].
 *
 * Returns: %TRUE if the broker applied the setting, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_node_set_service_enabled_finish(AppServiceNode *self, GAsyncResult *result, GError **error) {
        return node_call_finish(self, result, app_service_node_set_service_enabled, error);
}

/**
 * app_service_node_set_service_enabled_sync:
 * @self: a node
 * @name: the app service, for example `com.example.echo`
 * @enabled: %FALSE to disable it, %TRUE to enable it again
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Enables or disables an app service, blocking the calling thread: the synchronous twin of
 * [method@AppService.Node.set_service_enabled]. It needs no running main loop.
 *
 * Returns: %TRUE if the broker applied the setting, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_node_set_service_enabled_sync(AppServiceNode *self, const gchar *name, gboolean enabled,
                                                   GCancellable *cancellable, GError **error) {
        g_return_val_if_fail(APP_SERVICE_IS_NODE(self), FALSE);
        g_return_val_if_fail(name != NULL, FALSE);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), FALSE);

        return node_call_sync(self, "SetServiceEnabled", g_variant_new("(sb)", name, !!enabled), cancellable, error);
}

/**
 * app_service_node_reload:
 * @self: a node
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the broker applied the definitions
 * @user_data: data for @callback
 *
 * Makes the broker read its definition directories again and apply the difference without a
 * restart (`io.appservice1.Manager.Reload`): added definitions become new app services, removed
 * ones are stopped and their connections closed, changed ones apply to what comes next.
 *
 * Errors: %APP_SERVICE_ERROR_NOT_AUTHORIZED (this process may not administer the broker), or
 * those of the bus.
 *
 * Finish with [method@AppService.Node.reload_finish].
 *
 * Since: 0.1
 */
void app_service_node_reload(AppServiceNode *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data) {
        g_return_if_fail(APP_SERVICE_IS_NODE(self));
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        node_call(self, "Reload", NULL, cancellable, app_service_node_reload, callback, user_data);
}

/**
 * app_service_node_reload_finish:
 * @self: a node
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Node.reload].
 *
 * Returns: %TRUE if the broker applied the definitions, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_node_reload_finish(AppServiceNode *self, GAsyncResult *result, GError **error) {
        return node_call_finish(self, result, app_service_node_reload, error);
}

/**
 * app_service_node_reload_sync:
 * @self: a node
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Makes the broker reload its definitions, blocking the calling thread: the synchronous twin of
 * [method@AppService.Node.reload]. It needs no running main loop.
 *
 * Returns: %TRUE if the broker applied the definitions, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_node_reload_sync(AppServiceNode *self, GCancellable *cancellable, GError **error) {
        g_return_val_if_fail(APP_SERVICE_IS_NODE(self), FALSE);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), FALSE);

        return node_call_sync(self, "Reload", NULL, cancellable, error);
}

/* ---- monitoring ---- */

/* The broker's answer to StartMonitoring, with the name of the broker that gave it. */
static gboolean start_monitoring_done(AppServiceNode *self, GDBusMessage *reply, GError *error,
                                      GError **ret_error) {
        if (!reply) {
                if (!self->monitoring)
                        self->monitor_wanted = FALSE;
                g_propagate_error(ret_error, error);
                return FALSE;
        }
        if (self->monitor_wanted)
                set_monitoring(self, TRUE, g_dbus_message_get_sender(reply));
        else if (!self->monitoring && monitors_add(self->link.bus, 0) == 0)
                /* Stopped while the start was on its way: the broker must stop too. */
                send_stop_monitoring(self->link.bus);
        g_object_unref(reply);
        return TRUE;
}

static GDBusMessage *start_monitoring_message(void) {
        GDBusMessage *message = g_dbus_message_new_method_call(AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE,
                                                               "StartMonitoring");

        g_dbus_message_set_body(message, start_monitoring_parameters());
        return message;
}

static void on_start_monitoring_reply(GObject *source, GAsyncResult *result, gpointer user_data);

/* Once the bus is reached. */
static void start_monitoring_start(GTask *task) {
        AppServiceNode *self = g_task_get_source_object(task);
        g_autoptr(GDBusMessage) message = NULL;

        if (self->monitoring) {
                g_task_return_boolean(task, TRUE);
                g_object_unref(task);
                return;
        }
        /* Events that come before the reply is handled are emitted too. */
        self->monitor_wanted = TRUE;
        message = start_monitoring_message();
        as_call_message(self->link.bus, message, g_task_get_cancellable(task), undo_start_monitoring, NULL, NULL,
                        on_start_monitoring_reply, task);
}

static void on_start_monitoring_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        AppServiceNode *self = g_task_get_source_object(task);
        GDBusMessage *reply;
        GError *error = NULL;
        GError *start_error = NULL;

        reply = as_call_message_finish(result, &error);
        if (start_monitoring_done(self, reply, error, &start_error))
                g_task_return_boolean(task, TRUE);
        else
                g_task_return_error(task, start_error);
}

/**
 * app_service_node_start_monitoring:
 * @self: a node
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the broker monitors for this node, or
 *   refused
 * @user_data: data for @callback
 *
 * Asks the broker for its live events (`io.appservice1.Manager.StartMonitoring`): from now on,
 * until [method@AppService.Node.stop_monitoring], each one is emitted as
 * [signal@AppService.Node::monitor-event] in the node's main context. The broker sends them to
 * this process alone. Starting a node that monitors already does nothing and succeeds.
 *
 * Errors: %APP_SERVICE_ERROR_NOT_AUTHORIZED (this process may not administer the broker), or
 * those of the bus.
 *
 * Finish with [method@AppService.Node.start_monitoring_finish].
 *
 * Since: 0.1
 */
void app_service_node_start_monitoring(AppServiceNode *self, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task;

        g_return_if_fail(APP_SERVICE_IS_NODE(self));
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        task = g_task_new(self, cancellable, callback, user_data);
        g_task_set_source_tag(task, app_service_node_start_monitoring);
        as_broker_link_then(&self->link, task, start_monitoring_start);
}

/**
 * app_service_node_start_monitoring_finish:
 * @self: a node
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Node.start_monitoring].
 *
 * Returns: %TRUE if the broker sends this node its events, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_node_start_monitoring_finish(AppServiceNode *self, GAsyncResult *result, GError **error) {
        return node_call_finish(self, result, app_service_node_start_monitoring, error);
}

/**
 * app_service_node_start_monitoring_sync:
 * @self: a node
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Asks the broker for its live events, blocking the calling thread: the synchronous twin of
 * [method@AppService.Node.start_monitoring]. It needs no running main loop; the events are
 * emitted in the node's main context once it runs.
 *
 * Returns: %TRUE if the broker sends this node its events, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_node_start_monitoring_sync(AppServiceNode *self, GCancellable *cancellable, GError **error) {
        g_autoptr(GDBusMessage) message = NULL;
        GDBusMessage *reply;
        GError *e = NULL;

        g_return_val_if_fail(APP_SERVICE_IS_NODE(self), FALSE);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), FALSE);

        if (!as_broker_link_init_sync(&self->link, cancellable, error))
                return FALSE;
        if (self->monitoring)
                return TRUE;
        self->monitor_wanted = TRUE;
        message = start_monitoring_message();
        reply = as_call_message_sync(self->link.bus, message, cancellable, undo_start_monitoring, NULL, &e);
        return start_monitoring_done(self, reply, e, error);
}

/* At once on this side: no event is emitted from now on. Whether the broker must be told. */
static gboolean stop_monitoring_locally(AppServiceNode *self) {
        gboolean was = self->monitoring;

        self->monitor_wanted = FALSE;
        if (!was)
                return FALSE;
        self->monitoring = FALSE;
        g_clear_pointer(&self->monitor_owner, g_free);
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_MONITORING]);
        return monitors_add(self->link.bus, -1) == 0;
}

/**
 * app_service_node_stop_monitoring:
 * @self: a node
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the broker stopped sending events
 * @user_data: data for @callback
 *
 * Stops the live events (`io.appservice1.Manager.StopMonitoring`). The node emits no
 * [signal@AppService.Node::monitor-event] from the moment of the call, and
 * [property@AppService.Node:monitoring] is %FALSE at once. The broker is told when no other node
 * of the same bus connection monitors. Stopping a node that does not monitor does nothing and
 * succeeds; so does finalizing a node.
 *
 * Finish with [method@AppService.Node.stop_monitoring_finish].
 *
 * Since: 0.1
 */
void app_service_node_stop_monitoring(AppServiceNode *self, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = NULL;

        g_return_if_fail(APP_SERVICE_IS_NODE(self));
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        task = g_task_new(self, cancellable, callback, user_data);
        g_task_set_source_tag(task, app_service_node_stop_monitoring);
        if (!self->link.bus || !stop_monitoring_locally(self)) {
                g_task_return_boolean(task, TRUE);
                return;
        }
        as_call_always(self->link.bus, AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE, "StopMonitoring", NULL,
                       cancellable, as_call_always_return_to_task, g_steal_pointer(&task));
}

/**
 * app_service_node_stop_monitoring_finish:
 * @self: a node
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Node.stop_monitoring]. The node emits no more events even when
 * the broker could not be told (the error says why; the broker stops anyway when this process
 * leaves the bus).
 *
 * Returns: %TRUE if the broker stopped sending events, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_node_stop_monitoring_finish(AppServiceNode *self, GAsyncResult *result, GError **error) {
        return node_call_finish(self, result, app_service_node_stop_monitoring, error);
}

/**
 * app_service_node_stop_monitoring_sync:
 * @self: a node
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Stops the live events, blocking the calling thread: the synchronous twin of
 * [method@AppService.Node.stop_monitoring]. It needs no running main loop.
 *
 * Returns: %TRUE if the broker stopped sending events, %FALSE with @error set otherwise
 *
 * Since: 0.1
 */
gboolean app_service_node_stop_monitoring_sync(AppServiceNode *self, GCancellable *cancellable, GError **error) {
        g_return_val_if_fail(APP_SERVICE_IS_NODE(self), FALSE);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), FALSE);

        if (!self->link.bus || !stop_monitoring_locally(self))
                return TRUE;
        return as_call_always_sync(self->link.bus, AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE, "StopMonitoring", NULL,
                                   cancellable, error);
}

/* ---- the list of app services ---- */

static void on_list_made(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        GError *error = NULL;
        GListModel *list = as_service_list_new_finish(result, &error);

        if (list)
                g_task_return_pointer(task, list, g_object_unref);
        else
                g_task_return_error(task, error);
}

/* Once the bus is reached. */
static void list_services_start(GTask *task) {
        AppServiceNode *self = g_task_get_source_object(task);

        g_main_context_push_thread_default(self->link.context);
        as_service_list_new_async(self->link.bus, g_task_get_cancellable(task), on_list_made, task);
        g_main_context_pop_thread_default(self->link.context);
}

/**
 * app_service_node_list_services:
 * @self: a node
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the list is read
 * @user_data: data for @callback
 *
 * Reads the node's app services, every one its broker declares, and keeps them up to date.
 *
 * The list is a [iface@Gio.ListModel] of [class@AppService.Info], sorted by name. While it is
 * alive it follows the broker's own signals, with no polling: rows are added and removed as
 * reloads add and remove definitions, and each row's properties change (with `notify`) as the
 * service starts, stops, fails or is enabled and disabled. Changes are announced in the node's
 * main context. Anyone may list: a service the caller may not open is listed too, with
 * [property@AppService.Info:may-open] %FALSE, and the state of one whose definition restricts
 * who may open it is `unknown` to those who may not.
 *
 * If the broker is not running, the call starts it (D-Bus activation). If it later leaves the
 * bus, the rows stay as last seen until a broker comes back, and are then read again.
 *
 * Each call makes a new list. Finish with [method@AppService.Node.list_services_finish].
 *
 * Since: 0.1
 */
void app_service_node_list_services(AppServiceNode *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data) {
        GTask *task;

        g_return_if_fail(APP_SERVICE_IS_NODE(self));
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        task = g_task_new(self, cancellable, callback, user_data);
        g_task_set_source_tag(task, app_service_node_list_services);
        as_broker_link_then(&self->link, task, list_services_start);
}

/**
 * app_service_node_list_services_finish:
 * @self: a node
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@AppService.Node.list_services].
 *
 * Returns: (transfer full) (nullable): the live list of [class@AppService.Info], owned by the caller (free it with g_object_unref()), or %NULL
 *   with @error set
 *
 * Since: 0.1
 */
GListModel *app_service_node_list_services_finish(AppServiceNode *self, GAsyncResult *result, GError **error) {
        g_return_val_if_fail(APP_SERVICE_IS_NODE(self), NULL);
        g_return_val_if_fail(g_task_is_valid(result, self), NULL);
        g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == app_service_node_list_services, NULL);

        return g_task_propagate_pointer(G_TASK(result), error);
}

/**
 * app_service_node_list_services_sync:
 * @self: a node
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Reads the node's app services and keeps them up to date, as
 * [method@AppService.Node.list_services] does, blocking the calling thread until they are read.
 * The list follows the broker's signals in the thread-default main context of the caller, which
 * must be the node's.
 *
 * Returns: (transfer full) (nullable): the live list of [class@AppService.Info], owned by the caller (free it with g_object_unref()), or %NULL
 *   with @error set
 *
 * Since: 0.1
 */
GListModel *app_service_node_list_services_sync(AppServiceNode *self, GCancellable *cancellable, GError **error) {
        g_return_val_if_fail(APP_SERVICE_IS_NODE(self), NULL);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), NULL);

        if (!as_broker_link_init_sync(&self->link, cancellable, error))
                return NULL;
        return as_service_list_new_sync(self->link.bus, cancellable, error);
}
