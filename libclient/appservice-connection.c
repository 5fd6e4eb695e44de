/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gio/gunixfdlist.h>

#include "appservice-private.h"

/**
 * AppServiceConnection:
 *
 * A connection to an app service: the Linux counterpart of
 * `Windows.ApplicationModel.AppService.AppServiceConnection`.
 *
 * A client makes one with [ctor@AppService.Connection.new], opens it with
 * [method@AppService.Connection.open], then sends messages with
 * [method@AppService.Connection.send_message] and closes it with
 * [method@AppService.Connection.close]. A provider receives the other end of each connection a
 * client opened from [signal@AppService.Provider::connection-received].
 *
 * Both ends work alike: either side may send messages (ValueSets, `a{sv}` variants) to the
 * other and receives the other side's messages as
 * [signal@AppService.Connection::request-received]; either side learns that the other one went
 * away from [signal@AppService.Connection::service-closed].
 *
 * ```c
 * g_autoptr(AppServiceConnection) connection = app_service_connection_new ("com.example.echo", NULL);
 * g_autoptr(GError) error = NULL;
 *
 * if (app_service_connection_open_sync (connection, NULL, &error) != APP_SERVICE_CONNECTION_STATUS_SUCCESS)
 *   g_error ("%s", error->message);
 * ```
 *
 * The connection belongs to the bus connection it was opened on: if the process leaves the bus,
 * the broker closes it. Dropping the last reference to an open connection closes it too.
 *
 * Since: 0.1
 */

struct _AppServiceConnection {
        GObject parent_instance;

        AsBrokerLink link;

        gchar *app_service_name;
        gchar *package_family_name;
        gchar *node; /* the node to open on; NULL or empty: this one */
        gchar *object_path;
        gchar *owner; /* the broker's unique name at the other end of object_path */
        GVariant *caller;
        gboolean is_open;
        gboolean opening;
        gboolean direct;       /* opened with a direct link (stays set after the close) */
        AsDirectLink *link_to_peer; /* while open with a direct link */
        gboolean ending;       /* the link ended: Close is on its way to the broker */
        gboolean draining;     /* closed by the broker: the link is read to its end first */
        AppServiceClosedStatus drain_status; /* ... and then this is reported */
        const gchar *last_cause; /* why the pending sends failed at the last close (static) */
};

enum {
        PROP_0,
        PROP_APP_SERVICE_NAME,
        PROP_PACKAGE_FAMILY_NAME,
        PROP_BUS,
        PROP_OBJECT_PATH,
        PROP_CALLER,
        PROP_ACTION,
        PROP_CALLER_APP_SERVICE_NAME,
        PROP_IS_OPEN,
        PROP_NODE,
        PROP_DIRECT,
        N_PROPS
};

enum {
        SIGNAL_REQUEST_RECEIVED,
        SIGNAL_SERVICE_CLOSED,
        N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE_WITH_CODE(AppServiceConnection, app_service_connection, G_TYPE_OBJECT,
                              G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE, as_broker_link_initable_iface_init)
                              G_IMPLEMENT_INTERFACE(G_TYPE_ASYNC_INITABLE,
                                                    as_broker_link_async_initable_iface_init))

static void closed_by_broker(AppServiceConnection *self, AppServiceClosedStatus status);
static void handle_request(AppServiceConnection *self, guint64 id, GVariant *message);
static void direct_request(gpointer owner, AsDirectLink *link, guint64 id, GVariant *message);
static void direct_ended(gpointer owner, AsDirectLink *link);

static const AsDirectLinkVTable direct_vtable = {
        .request = direct_request,
        .ended = direct_ended,
};

/* Why the pending sends of a connection closed with @status fail: in the broker's words. */
static const gchar *closed_cause(AppServiceConnection *self, AppServiceClosedStatus status) {
        if (status == APP_SERVICE_CLOSED_STATUS_CANCELED)
                return self->caller ? "the client left the bus" : "the provider left the bus";
        return "the connection closed";
}

/* The direct link goes with the connection: closed, and our pending sends failed with @cause
 * (after the application heard why, when it is told). */
static AsDirectLink *take_link(AppServiceConnection *self) {
        AsDirectLink *link = g_steal_pointer(&self->link_to_peer);

        if (link)
                as_direct_link_close(link);
        return link;
}

static void fail_link(AsDirectLink *link, const gchar *cause) {
        if (!link)
                return;
        as_direct_link_fail_pending(link, cause);
        as_direct_link_unref(link);
}

static void send_close(GDBusConnection *bus, const gchar *owner, const gchar *object_path) {
        /* Fire and forget: no callback means no reply is asked for. */
        g_dbus_connection_call(bus, owner, object_path, AS_CONNECTION_IFACE, "Close", NULL, NULL,
                               G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
}

/* ---- what the hub tells the connection ---- */

static void on_broker_changed(gpointer instance, const gchar *owner) {
        AppServiceConnection *self = instance;

        /* The broker at the other end is gone: so is the connection. */
        if (self->is_open && g_strcmp0(owner, self->owner) != 0)
                closed_by_broker(self, APP_SERVICE_CLOSED_STATUS_CANCELED);
}

static AppServiceClosedStatus closed_status(guint32 status) {
        return MIN(status, (guint32) APP_SERVICE_CLOSED_STATUS_UNKNOWN);
}

static void on_signal(gpointer instance, const gchar *sender, const gchar *object_path, const gchar *interface_name,
                      const gchar *signal_name, GVariant *parameters) {
        AppServiceConnection *self = instance;

        if (g_str_equal(signal_name, "RequestReceived")) {
                guint64 id;
                g_autoptr(GVariant) message = NULL;

                g_variant_get(parameters, "(t@a{sv})", &id, &message);
                handle_request(self, id, message);
        } else if (g_str_equal(signal_name, "ServiceClosed")) {
                guint32 status;

                g_variant_get(parameters, "(u)", &status);
                closed_by_broker(self, closed_status(status));
        }
}

static const AsHubClientVTable hub_vtable = {
        .wants = 0,
        .broker_changed = on_broker_changed,
        .signal = on_signal,
};

/* ---- the object ---- */

static void app_service_connection_init(AppServiceConnection *self) {
        as_broker_link_init(&self->link, G_OBJECT(self), &hub_vtable);
}

static void on_disposed_close_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        AsDirectLink *link = user_data;
        GVariant *reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, NULL);

        /* Whatever the broker answered (the connection may be gone already), the link ends. */
        g_clear_pointer(&reply, g_variant_unref);
        as_direct_link_close(link);
        fail_link(link, "the connection closed");
}

static void app_service_connection_dispose(GObject *object) {
        AppServiceConnection *self = APP_SERVICE_CONNECTION(object);

        if (self->is_open && self->link_to_peer) {
                /* The link closes once the broker has the Close: the other side must not see
                 * its end of file first, or it would close the connection itself (Canceled). */
                self->is_open = FALSE;
                as_broker_link_unbind_path(&self->link, self->object_path);
                as_direct_link_detach(self->link_to_peer);
                g_dbus_connection_call(self->link.bus, self->owner, self->object_path, AS_CONNECTION_IFACE, "Close",
                                       NULL, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, on_disposed_close_reply,
                                       g_steal_pointer(&self->link_to_peer));
        } else if (self->is_open) {
                self->is_open = FALSE;
                as_broker_link_unbind_path(&self->link, self->object_path);
                send_close(self->link.bus, self->owner, self->object_path);
        }
        fail_link(take_link(self), "the connection closed");
        as_broker_link_detach(&self->link);

        G_OBJECT_CLASS(app_service_connection_parent_class)->dispose(object);
}

static void app_service_connection_finalize(GObject *object) {
        AppServiceConnection *self = APP_SERVICE_CONNECTION(object);

        as_broker_link_clear(&self->link);
        g_free(self->app_service_name);
        g_free(self->package_family_name);
        g_free(self->node);
        g_free(self->object_path);
        g_free(self->owner);
        g_clear_pointer(&self->caller, g_variant_unref);

        G_OBJECT_CLASS(app_service_connection_parent_class)->finalize(object);
}

static void app_service_connection_get_property(GObject *object, guint prop_id, GValue *value,
                                                GParamSpec *pspec) {
        AppServiceConnection *self = APP_SERVICE_CONNECTION(object);

        switch (prop_id) {
        case PROP_APP_SERVICE_NAME:
                g_value_set_string(value, self->app_service_name);
                break;
        case PROP_PACKAGE_FAMILY_NAME:
                g_value_set_string(value, self->package_family_name);
                break;
        case PROP_BUS:
                g_value_set_object(value, as_broker_link_get_bus(&self->link));
                break;
        case PROP_OBJECT_PATH:
                g_value_set_string(value, self->object_path);
                break;
        case PROP_CALLER:
                g_value_set_variant(value, self->caller);
                break;
        case PROP_ACTION:
                g_value_set_string(value, app_service_connection_get_action(self));
                break;
        case PROP_CALLER_APP_SERVICE_NAME:
                g_value_set_string(value, app_service_connection_get_caller_app_service_name(self));
                break;
        case PROP_IS_OPEN:
                g_value_set_boolean(value, self->is_open);
                break;
        case PROP_NODE:
                g_value_set_string(value, self->node);
                break;
        case PROP_DIRECT:
                g_value_set_boolean(value, self->direct);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

static void app_service_connection_set_property(GObject *object, guint prop_id, const GValue *value,
                                                GParamSpec *pspec) {
        AppServiceConnection *self = APP_SERVICE_CONNECTION(object);

        switch (prop_id) {
        case PROP_APP_SERVICE_NAME:
                app_service_connection_set_app_service_name(self, g_value_get_string(value));
                break;
        case PROP_PACKAGE_FAMILY_NAME:
                app_service_connection_set_package_family_name(self, g_value_get_string(value));
                break;
        case PROP_BUS:
                as_broker_link_set_bus(&self->link, g_value_get_object(value));
                break;
        case PROP_NODE:
                app_service_connection_set_node(self, g_value_get_string(value));
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

static void app_service_connection_class_init(AppServiceConnectionClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->dispose = app_service_connection_dispose;
        object_class->finalize = app_service_connection_finalize;
        object_class->get_property = app_service_connection_get_property;
        object_class->set_property = app_service_connection_set_property;

        /* Remote errors must arrive in APP_SERVICE_ERROR from the first call on. */
        (void) APP_SERVICE_ERROR;

        /**
         * AppServiceConnection:app-service-name:
         *
         * The name of the app service to connect to, for example `com.example.echo`: the
         * Windows `AppServiceName`. Set it before opening.
         *
         * Since: 0.1
         */
        properties[PROP_APP_SERVICE_NAME] = g_param_spec_string(
                "app-service-name", NULL, NULL, NULL,
                G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceConnection:package-family-name:
         *
         * The provider id that must offer the app service, for example `com.example.EchoApp`:
         * the Windows `PackageFamilyName`. %NULL or empty: whichever provider declares the app
         * service. Set it before opening. %NULL on the provider side.
         *
         * Since: 0.1
         */
        properties[PROP_PACKAGE_FAMILY_NAME] = g_param_spec_string(
                "package-family-name", NULL, NULL, NULL,
                G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceConnection:node:
         *
         * The node (machine) whose app service to open, by its node name (the broker's
         * `NodeName`), for the Windows `OpenRemoteAsync`. %NULL or empty, the default: this node.
         * When set, the open passes it to the broker as the `OpenConnection` option `node`;
         * the broker opens locally when it names this node, and otherwise hands the open to the
         * node's bridge (an app service declared with `Bridge=yes`, such as `appservice-mqtt`),
         * which opens the service on the other node. Without a bridge, the open fails with
         * %APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE; a node that is not reachable gives
         * %APP_SERVICE_ERROR_APP_UNAVAILABLE. Once open, a remote connection is used as a local
         * one. Set it before opening. %NULL on the provider side.
         *
         * Since: 0.1
         */
        properties[PROP_NODE] = g_param_spec_string(
                "node", NULL, NULL, NULL,
                G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceConnection:bus:
         *
         * The bus the broker is reached on. When none is given at construction, the system bus
         * (the one in `DBUS_SYSTEM_BUS_ADDRESS` if set), or the session bus if the environment
         * variable `APPSERVICE_BUS` is `session`, on a connection of the library's own (shared by
         * the objects of the process, never `g_bus_get()`'s) whose
         * [property@Gio.DBusConnection:exit-on-close] is %FALSE. %NULL only if that bus could
         * not be reached; opening then fails with the reason.
         *
         * The default bus is reached when the connection is initialized: by
         * [ctor@AppService.Connection.new], by g_initable_init() or g_async_initable_init_async(),
         * or else by the first call that needs it (or by reading this property).
         *
         * Since: 0.1
         */
        properties[PROP_BUS] = g_param_spec_object(
                "bus", NULL, NULL, G_TYPE_DBUS_CONNECTION,
                G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceConnection:object-path:
         *
         * The broker's object for the connection, `/io/appservice1/connection/N`: %NULL until
         * the connection is open, then the path of the last connection opened (it stays set
         * after the connection closed).
         *
         * Since: 0.1
         */
        properties[PROP_OBJECT_PATH] = g_param_spec_string(
                "object-path", NULL, NULL, NULL,
                G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceConnection:caller:
         *
         * On the provider side, the identity of the client that opened the connection, an
         * `a{sv}`: at least `uid` (`u`), `gid` (`u`) and `pid` (`u`), and where known `app-id`
         * (`s`) and `unit` (`s`); for a connection made by `SubmitAction` also
         * `action` (`s`) and, when the sender is a provider, `service` (`s`): see
         * [property@AppService.Connection:action] and
         * [property@AppService.Connection:caller-app-service-name]. %NULL on the client side.
         *
         * Since: 0.1
         */
        properties[PROP_CALLER] = g_param_spec_variant(
                "caller", NULL, NULL, G_VARIANT_TYPE_VARDICT, NULL,
                G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceConnection:action:
         *
         * On the provider side of a connection the broker made for another service's
         * [method@AppService.Provider.submit_action], the action it asks for, for example
         * `set-temperature` (the `action` of [property@AppService.Connection:caller]). %NULL for
         * the connections clients open, and on the client side.
         *
         * Since: 0.1
         */
        properties[PROP_ACTION] = g_param_spec_string("action", NULL, NULL, NULL,
                                                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceConnection:caller-app-service-name:
         *
         * On the provider side of a connection made by
         * [method@AppService.Provider.submit_action] from a registered provider, the app service
         * that provider serves (the `service` of [property@AppService.Connection:caller]): who
         * sent the action. %NULL otherwise.
         *
         * Since: 0.1
         */
        properties[PROP_CALLER_APP_SERVICE_NAME] = g_param_spec_string(
                "caller-app-service-name", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceConnection:is-open:
         *
         * Whether the connection is open: from a successful open (or, on the provider side,
         * from the start) until either side closes it or the broker goes away.
         *
         * Since: 0.1
         */
        properties[PROP_IS_OPEN] = g_param_spec_boolean(
                "is-open", NULL, NULL, FALSE,
                G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceConnection:direct:
         *
         * Whether the connection's messages travel over a direct link (the D-Bus interface
         * `io.appservice1.Link`): a socket between the client and the provider that the broker
         * made at the open, so that messages and responses skip the broker. The broker still
         * opens, checks and closes the connection; the receiving side enforces the service's
         * limits itself. %FALSE for a brokered connection: the broker or the service does not
         * allow direct links, the provider does not take them, the open is for another node, or
         * the environment variable `APPSERVICE_DIRECT` is `0`. Set at the open (on the provider
         * side, from the start) and kept after the connection closed. Nothing else changes for
         * the application: see the overview, "Direct links".
         *
         * Since: 0.1
         */
        properties[PROP_DIRECT] = g_param_spec_boolean("direct", NULL, NULL, FALSE,
                                                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY |
                                                               G_PARAM_STATIC_STRINGS);

        g_object_class_install_properties(object_class, N_PROPS, properties);

        /**
         * AppServiceConnection::request-received:
         * @self: the connection
         * @request: the request: its message, and the way to answer it
         *
         * The other side sent a message. Answer it with
         * [method@AppService.Request.send_response], now or later: the request stays
         * answerable as long as someone holds a reference to it (the Windows deferral). The
         * library drops its own reference when the handlers return, and a request finalized
         * unanswered is completed with an empty response, so the sender is never left waiting.
         *
         * Since: 0.1
         */
        signals[SIGNAL_REQUEST_RECEIVED] = g_signal_new("request-received", G_TYPE_FROM_CLASS(klass),
                                                        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                                        1, APP_SERVICE_TYPE_REQUEST);

        /**
         * AppServiceConnection::service-closed:
         * @self: the connection
         * @status: why the connection closed
         *
         * The connection closed for a reason other than our own
         * [method@AppService.Connection.close]: the other side closed it
         * (%APP_SERVICE_CLOSED_STATUS_COMPLETED), left the bus or crashed, or the broker went
         * away (%APP_SERVICE_CLOSED_STATUS_CANCELED), or a limit was exceeded. When it is
         * emitted, [property@AppService.Connection:is-open] is already %FALSE. It comes
         * before the sends still pending on the connection complete (with
         * %APP_SERVICE_ERROR_CLOSED, whose message says why), also for the `_sync()` calls.
         *
         * Since: 0.1
         */
        signals[SIGNAL_SERVICE_CLOSED] = g_signal_new("service-closed", G_TYPE_FROM_CLASS(klass),
                                                      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                                                      APP_SERVICE_TYPE_CLOSED_STATUS);
}

/**
 * app_service_connection_new:
 * @app_service_name: (nullable): the app service to connect to, for example `com.example.echo`
 * @package_family_name: (nullable): the provider id that must offer it, or %NULL (or `""`) for
 *   whichever provider declares it
 *
 * Makes a connection, not yet open, to an app service on the default bus: the system bus (the
 * one in `DBUS_SYSTEM_BUS_ADDRESS` if that is set), or the session bus when the environment
 * variable `APPSERVICE_BUS` is `session`. If that bus cannot be reached, opening reports why.
 * The library reaches it on a bus connection of its own, whose loss never ends the process
 * (see [property@AppService.Connection:bus]).
 *
 * The connection belongs to the thread-default main context of the caller: its signals are
 * emitted there.
 *
 * Returns: (transfer full): a new connection; free it with g_object_unref()
 *
 * Since: 0.1
 */
AppServiceConnection *app_service_connection_new(const gchar *app_service_name, const gchar *package_family_name) {
        AppServiceConnection *self = g_object_new(APP_SERVICE_TYPE_CONNECTION, "app-service-name",
                                                  app_service_name, "package-family-name", package_family_name,
                                                  NULL);

        /* The bus is reached now, as it always was; a failure is for opening to report. */
        g_initable_init(G_INITABLE(self), NULL, NULL);
        return self;
}

/**
 * app_service_connection_new_for_bus:
 * @bus: the bus the broker is on
 * @app_service_name: (nullable): the app service to connect to, for example `com.example.echo`
 * @package_family_name: (nullable): the provider id that must offer it, or %NULL (or `""`) for
 *   whichever provider declares it
 *
 * Makes a connection, not yet open, to an app service whose broker is on @bus (any message bus
 * connection: the system bus, the session bus of a `appserviced --user`, a private bus).
 *
 * The connection belongs to the thread-default main context of the caller: its signals are
 * emitted there.
 *
 * Returns: (transfer full): a new connection; free it with g_object_unref()
 *
 * Since: 0.1
 */
AppServiceConnection *app_service_connection_new_for_bus(GDBusConnection *bus, const gchar *app_service_name,
                                                         const gchar *package_family_name) {
        AppServiceConnection *self;

        g_return_val_if_fail(G_IS_DBUS_CONNECTION(bus), NULL);

        self = g_object_new(APP_SERVICE_TYPE_CONNECTION, "bus", bus, "app-service-name", app_service_name,
                            "package-family-name", package_family_name, NULL);
        g_initable_init(G_INITABLE(self), NULL, NULL); /* no I/O: attaches to the hub */
        return self;
}

/* A provider's end of a connection a client opened, already open. */
AppServiceConnection *as_connection_new_provider_side(GDBusConnection *bus, GMainContext *context,
                                                      const gchar *app_service_name, const gchar *owner,
                                                      const gchar *object_path, GVariant *caller, gint link_fd,
                                                      GVariant *link_info) {
        AppServiceConnection *self;

        /* The provider's context, whichever is the thread's default while its signal runs. */
        g_main_context_push_thread_default(context);
        self = g_object_new(APP_SERVICE_TYPE_CONNECTION, "bus", bus, "app-service-name", app_service_name, NULL);
        g_initable_init(G_INITABLE(self), NULL, NULL);
        g_main_context_pop_thread_default(context);
        self->owner = g_strdup(owner);
        self->object_path = g_strdup(object_path);
        self->caller = g_variant_ref_sink(caller);
        self->is_open = TRUE;
        as_broker_link_bind_path(&self->link, object_path, owner);
        if (link_fd >= 0) {
                self->direct = TRUE;
                self->link_to_peer = as_direct_link_new(link_fd, /* server_side= */ TRUE, link_info, app_service_name,
                                                        object_path, self->link.context, &direct_vtable, self);
        }
        return self;
}

/**
 * app_service_connection_get_app_service_name:
 * @self: a connection
 *
 * Gets [property@AppService.Connection:app-service-name].
 *
 * Returns: (nullable) (transfer none): the app service name, owned by @self and valid until it
 *   is set again or @self is finalized
 *
 * Since: 0.1
 */
const gchar *app_service_connection_get_app_service_name(AppServiceConnection *self) {
        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), NULL);
        return self->app_service_name;
}

/**
 * app_service_connection_set_app_service_name:
 * @self: a connection
 * @app_service_name: (nullable): the app service to connect to
 *
 * Sets [property@AppService.Connection:app-service-name]. It takes effect at the next open.
 *
 * Since: 0.1
 */
void app_service_connection_set_app_service_name(AppServiceConnection *self, const gchar *app_service_name) {
        g_return_if_fail(APP_SERVICE_IS_CONNECTION(self));

        if (g_strcmp0(self->app_service_name, app_service_name) == 0)
                return;
        g_free(self->app_service_name);
        self->app_service_name = g_strdup(app_service_name);
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_APP_SERVICE_NAME]);
}

/**
 * app_service_connection_get_package_family_name:
 * @self: a connection
 *
 * Gets [property@AppService.Connection:package-family-name].
 *
 * Returns: (nullable) (transfer none): the provider id, owned by @self and valid until it is set
 *   again or @self is finalized
 *
 * Since: 0.1
 */
const gchar *app_service_connection_get_package_family_name(AppServiceConnection *self) {
        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), NULL);
        return self->package_family_name;
}

/**
 * app_service_connection_set_package_family_name:
 * @self: a connection
 * @package_family_name: (nullable): the provider id, or %NULL (or `""`) for any provider
 *
 * Sets [property@AppService.Connection:package-family-name]. It takes effect at the next open.
 *
 * Since: 0.1
 */
void app_service_connection_set_package_family_name(AppServiceConnection *self,
                                                    const gchar *package_family_name) {
        g_return_if_fail(APP_SERVICE_IS_CONNECTION(self));

        if (g_strcmp0(self->package_family_name, package_family_name) == 0)
                return;
        g_free(self->package_family_name);
        self->package_family_name = g_strdup(package_family_name);
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_PACKAGE_FAMILY_NAME]);
}

/**
 * app_service_connection_get_node:
 * @self: a connection
 *
 * Gets [property@AppService.Connection:node].
 *
 * Returns: (nullable) (transfer none): the node name, or %NULL for this node; owned by @self and
 *   valid until it is set again or @self is finalized
 *
 * Since: 0.1
 */
const gchar *app_service_connection_get_node(AppServiceConnection *self) {
        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), NULL);
        return self->node;
}

/**
 * app_service_connection_set_node:
 * @self: a connection
 * @node: (nullable): the node name, or %NULL (or `""`) for this node
 *
 * Sets [property@AppService.Connection:node]. It takes effect at the next open.
 *
 * Since: 0.1
 */
void app_service_connection_set_node(AppServiceConnection *self, const gchar *node) {
        g_return_if_fail(APP_SERVICE_IS_CONNECTION(self));

        if (g_strcmp0(self->node, node) == 0)
                return;
        g_free(self->node);
        self->node = g_strdup(node);
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_NODE]);
}

/**
 * app_service_connection_get_bus:
 * @self: a connection
 *
 * Gets [property@AppService.Connection:bus].
 *
 * Returns: (nullable) (transfer none): the bus, owned by @self and valid as long as it is; %NULL
 *   if the default bus could not be reached
 *
 * Since: 0.1
 */
GDBusConnection *app_service_connection_get_bus(AppServiceConnection *self) {
        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), NULL);
        return as_broker_link_get_bus(&self->link);
}

/**
 * app_service_connection_get_object_path:
 * @self: a connection
 *
 * Gets [property@AppService.Connection:object-path].
 *
 * Returns: (nullable) (transfer none): the broker's object path of the connection, or %NULL if it
 *   was never open; owned by @self and valid until it opens again or is finalized
 *
 * Since: 0.1
 */
const gchar *app_service_connection_get_object_path(AppServiceConnection *self) {
        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), NULL);
        return self->object_path;
}

/**
 * app_service_connection_get_caller:
 * @self: a connection
 *
 * Gets [property@AppService.Connection:caller]: on the provider side, who opened the
 * connection.
 *
 * Returns: (nullable) (transfer none): the caller's identity, an `a{sv}`, owned by @self and valid
 *   as long as it is; %NULL on the client side
 *
 * Since: 0.1
 */
GVariant *app_service_connection_get_caller(AppServiceConnection *self) {
        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), NULL);
        return self->caller;
}

/* Points into self->caller, which never changes once set. */
static const gchar *caller_string(AppServiceConnection *self, const gchar *key) {
        return self->caller ? app_service_value_set_get_string(self->caller, key) : NULL;
}

/**
 * app_service_connection_get_action:
 * @self: a connection
 *
 * Gets [property@AppService.Connection:action]: on the provider side of a connection made by
 * `SubmitAction`, the action asked for.
 *
 * Returns: (nullable) (transfer none): the action, or %NULL; owned by @self and valid as long as
 *   it is
 *
 * Since: 0.1
 */
const gchar *app_service_connection_get_action(AppServiceConnection *self) {
        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), NULL);
        return caller_string(self, "action");
}

/**
 * app_service_connection_get_caller_app_service_name:
 * @self: a connection
 *
 * Gets [property@AppService.Connection:caller-app-service-name]: on the provider side of a
 * connection made by `SubmitAction` from a provider, that provider's app service.
 *
 * Returns: (nullable) (transfer none): the app service name, or %NULL; owned by @self and valid
 *   as long as it is
 *
 * Since: 0.1
 */
const gchar *app_service_connection_get_caller_app_service_name(AppServiceConnection *self) {
        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), NULL);
        return caller_string(self, "service");
}

/**
 * app_service_connection_get_is_open:
 * @self: a connection
 *
 * Gets [property@AppService.Connection:is-open].
 *
 * Returns: whether the connection is open
 *
 * Since: 0.1
 */
gboolean app_service_connection_get_is_open(AppServiceConnection *self) {
        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), FALSE);
        return self->is_open;
}

/**
 * app_service_connection_get_direct:
 * @self: a connection
 *
 * Gets [property@AppService.Connection:direct].
 *
 * Returns: whether the connection was opened with a direct link
 *
 * Since: 0.1
 */
gboolean app_service_connection_get_direct(AppServiceConnection *self) {
        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), FALSE);
        return self->direct;
}

/* Closed without our close(): with ::service-closed if @tell. A direct link closes first, and its
 * pending sends fail after the signal, as the broker fails a brokered connection's. */
static void closed_here(AppServiceConnection *self, gboolean tell, AppServiceClosedStatus status) {
        g_autoptr(AppServiceConnection) keep = NULL;
        AsDirectLink *link;

        if (!self->is_open)
                return;

        keep = g_object_ref(self);
        self->is_open = FALSE;
        self->draining = FALSE;
        as_broker_link_unbind_path(&self->link, self->object_path);
        link = take_link(self);
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_IS_OPEN]);
        self->last_cause = tell ? closed_cause(self, status) : "the connection closed";
        if (tell)
                g_signal_emit(self, signals[SIGNAL_SERVICE_CLOSED], 0, status);
        fail_link(link, self->last_cause);
}

/* How long a link closed by the broker is read for what the other side wrote before the close. */
#define DRAIN_TIMEOUT_MS 1000

/* Closed by the broker, the other side or the broker's departure: tell the application. A direct
 * link is read to its end first: a response the other side wrote before it closed travels apart
 * from the broker's ServiceClosed, and would be lost if the close were reported first. */
static void closed_by_broker(AppServiceConnection *self, AppServiceClosedStatus status) {
        if (self->is_open && self->link_to_peer && !self->draining &&
            as_direct_link_drain(self->link_to_peer, DRAIN_TIMEOUT_MS)) {
                self->draining = TRUE;
                self->drain_status = status;
                return;
        }
        if (self->draining)
                return;  /* the drain reports it */
        closed_here(self, TRUE, status);
}

/* The provider's broker went away, and with it this connection the provider received. */
void as_connection_cancel(AppServiceConnection *self) {
        closed_here(self, TRUE, APP_SERVICE_CLOSED_STATUS_CANCELED);
}

/* Closed on our side without a call (the provider unregisters): no signal, as for close(). The
 * direct link, if any, is handed back detached but open: the provider closes it once the broker
 * has its UnregisterProvider, so that the client never sees the link end first. */
AsDirectLink *as_connection_forget(AppServiceConnection *self) {
        AsDirectLink *link = NULL;

        if (self->is_open && self->link_to_peer) {
                link = g_steal_pointer(&self->link_to_peer);
                as_direct_link_detach(link);
        }
        closed_here(self, FALSE, 0);
        return link;
}

/* ---- the direct link ---- */

static void direct_request(gpointer owner, AsDirectLink *link, guint64 id, GVariant *message) {
        AppServiceConnection *self = owner;
        g_autoptr(AppServiceRequest) request = NULL;

        if (!self->is_open) /* closed on our side, the link not yet: it answers Closed */
                return;
        request = as_request_new_direct(link, id, message);
        g_signal_emit(self, signals[SIGNAL_REQUEST_RECEIVED], 0, request);
        /* Our reference goes here: an unanswered request nobody kept answers itself. */
}

/* The status of a connection whose link ended first, from the broker's answer to our Close: it
 * failed, so the connection was gone already and its ServiceClosed (sent before) says why; it
 * succeeded, so the other side broke the link while the connection was open: Canceled. */
static AppServiceClosedStatus ended_status(AppServiceConnection *self, gboolean closed, const gchar *owner,
                                           const gchar *path) {
        guint32 status;

        if (!closed && as_broker_link_take_closed(&self->link, path, owner, &status))
                return closed_status(status);
        return APP_SERVICE_CLOSED_STATUS_CANCELED;
}

typedef struct {
        AppServiceConnection *self;
        gchar *owner;
        gchar *path;
} EndData;

static void on_ended_close_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        EndData *data = user_data;
        AppServiceConnection *self = data->self;
        g_autoptr(GError) error = NULL;
        gboolean closed;

        closed = as_call_always_finish(result, &error);
        self->ending = FALSE;
        /* Still ours, and not closed meanwhile (the ServiceClosed that came first did it). */
        if (self->is_open && g_strcmp0(self->object_path, data->path) == 0)
                closed_by_broker(self, ended_status(self, closed, data->owner, data->path));
        g_object_unref(self);
        g_free(data->owner);
        g_free(data->path);
        g_free(data);
}

static void direct_ended(gpointer owner, AsDirectLink *link) {
        AppServiceConnection *self = owner;
        EndData *data;

        if (self->draining && link == self->link_to_peer) {
                self->draining = FALSE;
                closed_here(self, TRUE, self->drain_status);
                return;
        }

        if (!self->is_open || self->ending || link != self->link_to_peer)
                return;
        self->ending = TRUE;
        data = g_new0(EndData, 1);
        data->self = g_object_ref(self);
        data->owner = g_strdup(self->owner);
        data->path = g_strdup(self->object_path);
        as_call_always(self->link.bus, self->owner, self->object_path, AS_CONNECTION_IFACE, "Close", NULL, NULL,
                       on_ended_close_reply, data);
}

/* A _sync() send found the link ended: the same, blocking, so that the application hears why
 * before the send returns. */
static void direct_ended_sync(AppServiceConnection *self) {
        g_autofree gchar *owner = NULL;
        g_autofree gchar *path = NULL;
        gboolean closed;

        if (!self->is_open)
                return;
        owner = g_strdup(self->owner);
        path = g_strdup(self->object_path);
        closed = as_call_always_sync(self->link.bus, owner, path, AS_CONNECTION_IFACE, "Close", NULL, NULL, NULL);
        if (self->is_open && g_strcmp0(self->object_path, path) == 0)
                closed_here(self, TRUE, ended_status(self, closed, owner, path));
}

static void handle_request(AppServiceConnection *self, guint64 id, GVariant *message) {
        g_autoptr(AppServiceRequest) request = NULL;

        if (!self->is_open)
                return;
        request = as_request_new(self->link.bus, self->owner, self->object_path, id, message);
        g_signal_emit(self, signals[SIGNAL_REQUEST_RECEIVED], 0, request);
        /* Our reference goes here: an unanswered request nobody kept answers itself. */
}

/* ---- open ---- */

static gboolean check_can_open(AppServiceConnection *self, GError **error) {
        if (self->is_open) {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_FAILED,
                            "connection %s to app service '%s' is already open", self->object_path,
                            self->app_service_name);
                return FALSE;
        }
        if (self->opening) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_PENDING,
                            "the connection to app service '%s' is being opened already", self->app_service_name);
                return FALSE;
        }
        if (!self->app_service_name || !*self->app_service_name) {
                g_set_error_literal(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE,
                                    "no app service name was set on the connection");
                return FALSE;
        }
        return TRUE;
}

/* The OpenConnection options: "node" when one is set. */
static GVariant *open_options(AppServiceConnection *self) {
        GVariantBuilder options;

        g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
        if (self->node && *self->node)
                g_variant_builder_add(&options, "{sv}", "node", g_variant_new_string(self->node));
        return g_variant_builder_end(&options);
}

/* OpenDirectConnection, unless direct links are off (APPSERVICE_DIRECT=0) or the broker is too
 * old for it (@direct FALSE, after its UnknownMethod). */
static GDBusMessage *open_message(AppServiceConnection *self, gboolean direct) {
        GDBusMessage *message;

        message = g_dbus_message_new_method_call(AS_BUS_NAME, AS_MANAGER_PATH, AS_MANAGER_IFACE,
                                                 direct ? "OpenDirectConnection" : "OpenConnection");
        g_dbus_message_set_body(message, g_variant_new("(ss@a{sv})", self->app_service_name,
                                                       self->package_family_name ? self->package_family_name : "",
                                                       open_options(self)));
        return message;
}

static void undo_open(GDBusConnection *bus, GDBusMessage *reply, gpointer undo_data) {
        GVariant *body = g_dbus_message_get_body(reply);

        /* The link's fd, if any, closes with the reply. */
        if (body && (g_variant_is_of_type(body, G_VARIANT_TYPE("(o)")) ||
                     g_variant_is_of_type(body, G_VARIANT_TYPE("(oa{sv})")))) {
                const gchar *path;

                g_variant_get_child(body, 0, "&o", &path);
                send_close(bus, g_dbus_message_get_sender(reply), path);
        }
}

static AppServiceConnectionStatus open_done(AppServiceConnection *self, GDBusMessage *reply, GError *error,
                                            GError **ret_error) {
        GVariant *body;
        const gchar *path;
        g_autoptr(GVariant) link_info = NULL;
        gint fd = -1;

        self->opening = FALSE;
        if (!reply)
                goto failed;

        body = g_dbus_message_get_body(reply);
        if (body && g_variant_is_of_type(body, G_VARIANT_TYPE("(oa{sv})"))) {
                gint32 handle;

                g_variant_get(body, "(&o@a{sv})", &path, &link_info);
                if (g_variant_lookup(link_info, "fd", "h", &handle)) {
                        GUnixFDList *fds = g_dbus_message_get_unix_fd_list(reply);

                        fd = fds ? g_unix_fd_list_get(fds, handle, &error) : -1;
                        if (fd < 0) {
                                if (!error)
                                        error = g_error_new(G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                                            "OpenDirectConnection replied without the link's fd");
                                g_prefix_error(&error, "app service '%s': cannot take the direct link: ",
                                               self->app_service_name);
                                send_close(self->link.bus, g_dbus_message_get_sender(reply), path);
                                goto failed;
                        }
                } else {
                        const gchar *why = NULL;

                        g_variant_lookup(link_info, "brokered", "&s", &why);
                        g_debug("app service '%s': the connection is brokered: %s", self->app_service_name,
                                why ? why : "(no reason given)");
                }
        } else if (body && g_variant_is_of_type(body, G_VARIANT_TYPE("(o)"))) {
                g_variant_get(body, "(&o)", &path);
        } else {
                error = g_error_new(G_DBUS_ERROR, G_DBUS_ERROR_INVALID_SIGNATURE,
                                    "OpenConnection replied with %s instead of (o)",
                                    body ? g_variant_get_type_string(body) : "nothing");
                goto failed;
        }

        g_free(self->object_path);
        self->object_path = g_strdup(path);
        g_free(self->owner);
        self->owner = g_strdup(g_dbus_message_get_sender(reply));
        self->is_open = TRUE;
        /* Before anything else runs in this context: signals that followed the reply find us. */
        as_broker_link_bind_path(&self->link, self->object_path, self->owner);
        if (self->direct != (fd >= 0)) {
                self->direct = fd >= 0;
                g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_DIRECT]);
        }
        if (fd >= 0)
                self->link_to_peer = as_direct_link_new(fd, /* server_side= */ FALSE, link_info, self->app_service_name,
                                                        self->object_path, self->link.context, &direct_vtable, self);

        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_OBJECT_PATH]);
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_IS_OPEN]);
        g_object_unref(reply);
        return APP_SERVICE_CONNECTION_STATUS_SUCCESS;

failed:
        g_clear_object(&reply);
        {
                AppServiceConnectionStatus status = app_service_connection_status_from_error(error);

                g_propagate_error(ret_error, error);
                return status;
        }
}

static void on_open_reply(GObject *source, GAsyncResult *result, gpointer user_data);

/* Once the bus is reached. */
static void open_start(GTask *task) {
        AppServiceConnection *self = g_task_get_source_object(task);
        g_autoptr(GDBusMessage) message = NULL;
        GError *error = NULL;

        if (!check_can_open(self, &error)) {
                g_task_return_error(task, error);
                g_object_unref(task);
                return;
        }

        self->opening = TRUE;
        message = open_message(self, as_direct_links_asked());
        g_task_set_task_data(task, GINT_TO_POINTER(as_direct_links_asked()), NULL);
        as_call_message(self->link.bus, message, g_task_get_cancellable(task), undo_open, NULL, NULL, on_open_reply,
                        task);
}

/* A broker older than 0.4 knows no OpenDirectConnection. */
static gboolean error_is_old_broker(const GError *error) {
        return g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD);
}

static void on_open_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        AppServiceConnection *self = g_task_get_source_object(task);
        GDBusMessage *reply;
        GError *error = NULL;
        AppServiceConnectionStatus status;
        GError *open_error = NULL;

        reply = as_call_message_finish(result, &error);
        if (!reply && error_is_old_broker(error) && g_task_get_task_data(task)) {
                g_autoptr(GDBusMessage) message = open_message(self, FALSE);

                g_clear_error(&error);
                g_task_set_task_data(task, GINT_TO_POINTER(FALSE), NULL);
                as_call_message(self->link.bus, message, g_task_get_cancellable(task), undo_open, NULL, NULL,
                                on_open_reply, g_steal_pointer(&task));
                return;
        }
        status = open_done(self, reply, error, &open_error);
        if (open_error)
                g_task_return_error(task, open_error);
        else
                g_task_return_int(task, status);
}

/**
 * app_service_connection_open:
 * @self: a connection, not open
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the connection is open or could not
 *   be opened
 * @user_data: data for @callback
 *
 * Opens the connection to [property@AppService.Connection:app-service-name]: the Windows
 * `OpenAsync`. The broker starts the provider if it is not running and waits for it up to the
 * service's `ActivationTimeoutSec`; the library sets no time limit of its own.
 *
 * Cancelling returns at once with %G_IO_ERROR_CANCELLED; if the broker opened the connection
 * meanwhile, the library closes it.
 *
 * Connect to [signal@AppService.Connection::request-received] before opening: a provider may
 * send its first request (a greeting, say) as soon as the connection exists, and that request
 * can be emitted before @callback runs.
 *
 * Finish with [method@AppService.Connection.open_finish], in the thread-default main context
 * of the caller.
 *
 * Since: 0.1
 */
void app_service_connection_open(AppServiceConnection *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task;

        g_return_if_fail(APP_SERVICE_IS_CONNECTION(self));
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        task = g_task_new(self, cancellable, callback, user_data);
        g_task_set_source_tag(task, app_service_connection_open);
        as_broker_link_then(&self->link, task, open_start);
}

/**
 * app_service_connection_open_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Connection.open].
 *
 * The status says how it went, with the Windows names; when it is not
 * %APP_SERVICE_CONNECTION_STATUS_SUCCESS, @error says why in detail (an %APP_SERVICE_ERROR from
 * the broker, or a #G_DBUS_ERROR or #G_IO_ERROR). In languages where errors are exceptions,
 * every failure raises; [func@AppService.ConnectionStatus.from_error] gives the status of the
 * error.
 *
 * Returns: %APP_SERVICE_CONNECTION_STATUS_SUCCESS if the connection is open, else the reason
 *
 * Since: 0.1
 */
AppServiceConnectionStatus app_service_connection_open_finish(AppServiceConnection *self, GAsyncResult *result,
                                                              GError **error) {
        GError *e = NULL;
        gssize status;

        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), APP_SERVICE_CONNECTION_STATUS_UNKNOWN);
        g_return_val_if_fail(g_task_is_valid(result, self), APP_SERVICE_CONNECTION_STATUS_UNKNOWN);

        status = g_task_propagate_int(G_TASK(result), &e);
        if (e) {
                status = app_service_connection_status_from_error(e);
                g_propagate_error(error, e);
        }
        return (AppServiceConnectionStatus) status;
}

/**
 * app_service_connection_open_sync:
 * @self: a connection, not open
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Opens the connection, blocking the calling thread: the synchronous twin of
 * [method@AppService.Connection.open], with the same result as
 * [method@AppService.Connection.open_finish]. It needs no running main loop. Signals that
 * follow (requests from the provider) are emitted in the connection's main context once it
 * runs.
 *
 * Returns: %APP_SERVICE_CONNECTION_STATUS_SUCCESS if the connection is open, else the reason
 *
 * Since: 0.1
 */
AppServiceConnectionStatus app_service_connection_open_sync(AppServiceConnection *self, GCancellable *cancellable,
                                                            GError **error) {
        g_autoptr(GDBusMessage) message = NULL;
        GDBusMessage *reply;
        GError *e = NULL;

        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), APP_SERVICE_CONNECTION_STATUS_UNKNOWN);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), APP_SERVICE_CONNECTION_STATUS_UNKNOWN);

        if (!as_broker_link_init_sync(&self->link, cancellable, &e) || !check_can_open(self, &e)) {
                AppServiceConnectionStatus status = app_service_connection_status_from_error(e);

                g_propagate_error(error, e);
                return status;
        }

        self->opening = TRUE;
        message = open_message(self, as_direct_links_asked());
        reply = as_call_message_sync(self->link.bus, message, cancellable, undo_open, NULL, &e);
        if (!reply && error_is_old_broker(e) && as_direct_links_asked()) {
                g_clear_error(&e);
                g_clear_object(&message);
                message = open_message(self, FALSE);
                reply = as_call_message_sync(self->link.bus, message, cancellable, undo_open, NULL, &e);
        }
        return open_done(self, reply, e, error);
}

/* ---- send_message ---- */

static gboolean check_can_send(AppServiceConnection *self, GVariant *message, GError **error) {
        if (message && !g_variant_is_of_type(message, G_VARIANT_TYPE_VARDICT)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "a message is an a{sv} (a ValueSet), not a %s", g_variant_get_type_string(message));
                return FALSE;
        }
        if (!self->is_open) {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_NOT_OPEN,
                            "the connection to app service '%s' is not open",
                            self->app_service_name ? self->app_service_name : "");
                return FALSE;
        }
        return TRUE;
}

static GVariant *send_parameters(GVariant *message) {
        if (!message)
                return g_variant_new("(@a{sv})", g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
        return g_variant_new("(@a{sv})", message);
}

/* A send failed with Closed while the connection still looks open: the broker sent ServiceClosed
 * first, but it waits in the hub's context while this send returns in the caller's thread (a
 * _sync() call, a callback in another context). Close with its status now, so that the caller
 * sees service-closed before the failed send, and is-open FALSE. Only in the connection's own
 * context, where its signals belong. */
static void closed_before_send_failed(AppServiceConnection *self, const GError *error) {
        g_autoptr(GMainContext) current = g_main_context_ref_thread_default();
        guint32 status;

        if (!self->is_open || current != self->link.context ||
            !g_error_matches(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_CLOSED))
                return;
        if (as_broker_link_take_closed(&self->link, self->object_path, self->owner, &status))
                closed_here(self, TRUE, closed_status(status));
}

/* A ValueSet the library would not put on the bus gets the response the broker gives one it
 * refuses: a failure status and the error (taken). */
static AppServiceResponse *refused_response(GError *error) {
        AppServiceResponse *response = as_response_new(NULL, error);

        g_error_free(error);
        return response;
}

/* Everything the broker answers becomes a response; only what kept the call from being made
 * (cancelled, the bus closed) is an error. */
static AppServiceResponse *send_done(GVariant *reply, GError *error, GError **ret_error) {
        AppServiceResponse *response;

        if (reply) {
                g_autoptr(GVariant) message = g_variant_get_child_value(reply, 0);

                g_variant_unref(reply);
                return as_response_new(message, NULL);
        }
        if (error->domain == G_IO_ERROR && error->code != G_IO_ERROR_DBUS_ERROR) {
                g_propagate_error(ret_error, error);
                return NULL;
        }
        as_error_prettify(error);
        response = as_response_new(NULL, error);
        g_error_free(error);
        return response;
}

static void on_direct_send_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        AppServiceConnection *self = g_task_get_source_object(task);
        AsDirectLink *link = g_task_get_task_data(task);
        GVariant *reply;
        GError *error = NULL;
        AppServiceResponse *response;
        GError *send_error = NULL;

        reply = as_direct_link_send_finish(link, result, &error);
        response = send_done(reply, error, &send_error);
        if (response && app_service_response_get_error(response))
                closed_before_send_failed(self, app_service_response_get_error(response));
        if (response)
                g_task_return_pointer(task, response, g_object_unref);
        else
                g_task_return_error(task, send_error);
}

static void on_send_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        GVariant *reply;
        GError *error = NULL;
        AppServiceResponse *response;
        GError *send_error = NULL;

        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        response = send_done(reply, error, &send_error);
        if (response && app_service_response_get_error(response))
                closed_before_send_failed(g_task_get_source_object(task), app_service_response_get_error(response));
        if (response)
                g_task_return_pointer(task, response, g_object_unref);
        else
                g_task_return_error(task, send_error);
}

/**
 * app_service_connection_send_message:
 * @self: an open connection
 * @message: (nullable): the message, an `a{sv}` ValueSet (if floating, it is consumed); %NULL
 *   for an empty one
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called with the other side's response
 * @user_data: data for @callback
 *
 * Sends a message to the other side of the connection, which receives it as
 * [signal@AppService.Connection::request-received], and waits for its response: the Windows
 * `SendMessageAsync`. The broker relays the message unchanged, checks it (see
 * [func@AppService.value_set_is_valid]) and limits the wait to the service's
 * `RequestTimeoutSec`; the library sets no time limit of its own. The library first refuses,
 * at once, a message too large for a message bus (over 33488896 bytes marshalled:
 * %APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE) or nested deeper than the broker allows (32
 * containers: %APP_SERVICE_ERROR_INVALID_MESSAGE), as the broker would (see the overview,
 * "Sizes and depth").
 *
 * Finish with [method@AppService.Connection.send_message_finish], in the thread-default main
 * context of the caller.
 *
 * Since: 0.1
 */
void app_service_connection_send_message(AppServiceConnection *self, GVariant *message, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = NULL;
        g_autoptr(GVariant) sunk G_GNUC_UNUSED = message ? g_variant_ref_sink(message) : NULL;
        GError *error = NULL;

        g_return_if_fail(APP_SERVICE_IS_CONNECTION(self));
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        task = g_task_new(self, cancellable, callback, user_data);
        g_task_set_source_tag(task, app_service_connection_send_message);
        if (!check_can_send(self, message, &error)) {
                g_task_return_error(task, error);
                return;
        }
        if (!as_value_set_check_sendable(message, &error)) {
                g_task_return_pointer(task, refused_response(error), g_object_unref);
                return;
        }

        if (self->link_to_peer) {
                /* The link's data: it outlives the connection's end, whose pending sends it fails. */
                g_task_set_task_data(task, as_direct_link_ref(self->link_to_peer),
                                     (GDestroyNotify) as_direct_link_unref);
                as_direct_link_send(self->link_to_peer, message, cancellable, on_direct_send_reply,
                                    g_steal_pointer(&task));
                return;
        }
        g_dbus_connection_call(self->link.bus, self->owner, self->object_path, AS_CONNECTION_IFACE, "SendMessage",
                               send_parameters(message), G_VARIANT_TYPE("(a{sv})"),
                               G_DBUS_CALL_FLAGS_NO_AUTO_START, AS_CALL_TIMEOUT, cancellable, on_send_reply,
                               g_steal_pointer(&task));
}

/**
 * app_service_connection_send_message_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Connection.send_message].
 *
 * Every outcome the broker reports is a response: %APP_SERVICE_RESPONSE_STATUS_SUCCESS with the
 * other side's message, or a failure status with [method@AppService.Response.get_error] saying
 * why (the message was too large or invalid, said by the broker or by the library before
 * sending, too many requests are pending, no response came in time, the connection closed
 * first: then [signal@AppService.Connection::service-closed] was emitted before). Only when the message could not be sent at all is the
 * result %NULL with @error set: %APP_SERVICE_ERROR_NOT_OPEN, %G_IO_ERROR_CANCELLED, the bus
 * closed (%G_IO_ERROR_CLOSED), or @message was not an `a{sv}` (%G_IO_ERROR_INVALID_ARGUMENT).
 *
 * Returns: (transfer full) (nullable): the response; free it with g_object_unref()
 *
 * Since: 0.1
 */
AppServiceResponse *app_service_connection_send_message_finish(AppServiceConnection *self, GAsyncResult *result,
                                                               GError **error) {
        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), NULL);
        g_return_val_if_fail(g_task_is_valid(result, self), NULL);

        return g_task_propagate_pointer(G_TASK(result), error);
}

/**
 * app_service_connection_send_message_sync:
 * @self: an open connection
 * @message: (nullable): the message, an `a{sv}` ValueSet (if floating, it is consumed); %NULL
 *   for an empty one
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Sends a message and waits for the response, blocking the calling thread: the synchronous
 * twin of [method@AppService.Connection.send_message], with the results of
 * [method@AppService.Connection.send_message_finish]. It needs no running main loop; but the
 * other side's requests to us are emitted only when the connection's main context runs, so do
 * not wait here for a response that needs one of ours first.
 *
 * Returns: (transfer full) (nullable): the response; free it with g_object_unref()
 *
 * Since: 0.1
 */
AppServiceResponse *app_service_connection_send_message_sync(AppServiceConnection *self, GVariant *message,
                                                             GCancellable *cancellable, GError **error) {
        g_autoptr(GVariant) sunk G_GNUC_UNUSED = message ? g_variant_ref_sink(message) : NULL;
        AppServiceResponse *response;
        GVariant *reply;
        GError *e = NULL;

        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), NULL);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), NULL);

        if (!check_can_send(self, message, error))
                return NULL;
        if (!as_value_set_check_sendable(message, &e))
                return refused_response(e);

        if (self->link_to_peer) {
                g_autoptr(AsDirectLink) link = as_direct_link_ref(self->link_to_peer);

                reply = as_direct_link_send_sync(link, message, cancellable, &e);
                if (reply || !g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CLOSED))
                        return send_done(reply, e, error);
                /* The link ended under the call: the application hears why first, and the send
                 * fails as a pending one would (if the connection closed already, why it did). */
                g_clear_error(&e);
                direct_ended_sync(self);
                e = g_error_new(APP_SERVICE_ERROR, APP_SERVICE_ERROR_CLOSED,
                                "app service '%s': connection %s closed before the response came: %s",
                                self->app_service_name, self->object_path,
                                self->last_cause ? self->last_cause : "the connection closed");
                return send_done(NULL, e, error);
        }

        reply = g_dbus_connection_call_sync(self->link.bus, self->owner, self->object_path, AS_CONNECTION_IFACE,
                                            "SendMessage", send_parameters(message), G_VARIANT_TYPE("(a{sv})"),
                                            G_DBUS_CALL_FLAGS_NO_AUTO_START, AS_CALL_TIMEOUT, cancellable, &e);
        response = send_done(reply, e, error);
        if (response && app_service_response_get_error(response))
                closed_before_send_failed(self, app_service_response_get_error(response));
        return response;
}

/* ---- close ---- */

/* Our side is closed at once, whatever the broker says: no more signals for us. */
static gboolean close_locally(AppServiceConnection *self, gchar **ret_owner, gchar **ret_path) {
        if (!self->is_open)
                return FALSE;

        self->is_open = FALSE;
        as_broker_link_unbind_path(&self->link, self->object_path);
        if (self->link_to_peer)
                as_direct_link_detach(self->link_to_peer);
        *ret_owner = g_strdup(self->owner);
        *ret_path = g_strdup(self->object_path);
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_IS_OPEN]);
        return TRUE;
}

/* Closed already (by the other side, a moment ago) is what we wanted. */
static gboolean close_done(gboolean closed, GError *error, GError **ret_error) {
        if (closed)
                return TRUE;
        if (g_error_matches(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_CLOSED)) {
                g_error_free(error);
                return TRUE;
        }
        g_propagate_error(ret_error, error);
        return FALSE;
}

static void on_close_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        GError *error = NULL;
        GError *close_error = NULL;
        gboolean closed;

        closed = as_call_always_finish(result, &error);
        /* The broker has it: now the link (the other side may see its end of file first). */
        if (g_task_get_task_data(task)) {
                as_direct_link_close(g_task_get_task_data(task));
                as_direct_link_fail_pending(g_task_get_task_data(task), "the connection closed");
        }
        if (close_done(closed, error, &close_error))
                g_task_return_boolean(task, TRUE);
        else
                g_task_return_error(task, close_error);
}

/**
 * app_service_connection_close:
 * @self: a connection
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the broker closed the connection
 * @user_data: data for @callback
 *
 * Closes the connection: the other side gets
 * [signal@AppService.Connection::service-closed] with
 * %APP_SERVICE_CLOSED_STATUS_COMPLETED, and requests still unanswered in either direction fail.
 * [property@AppService.Connection:is-open] is %FALSE at once, and this side gets no
 * [signal@AppService.Connection::service-closed]. Closing a connection that is not open does
 * nothing and succeeds.
 *
 * Finish with [method@AppService.Connection.close_finish].
 *
 * Since: 0.1
 */
void app_service_connection_close(AppServiceConnection *self, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = NULL;
        g_autofree gchar *owner = NULL;
        g_autofree gchar *path = NULL;

        g_return_if_fail(APP_SERVICE_IS_CONNECTION(self));
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        task = g_task_new(self, cancellable, callback, user_data);
        g_task_set_source_tag(task, app_service_connection_close);
        if (!close_locally(self, &owner, &path)) {
                g_task_return_boolean(task, TRUE);
                return;
        }
        if (self->link_to_peer) {
                /* No signal reaches it any more; closed once the broker answered. */
                g_task_set_task_data(task, g_steal_pointer(&self->link_to_peer), (GDestroyNotify) as_direct_link_unref);
                self->last_cause = "the connection closed";
        }
        /* The broker is told even if @cancellable fires: this side is closed already. */
        as_call_always(self->link.bus, owner, path, AS_CONNECTION_IFACE, "Close", NULL, cancellable, on_close_reply,
                       g_steal_pointer(&task));
}

/**
 * app_service_connection_close_finish:
 * @self: a connection
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Connection.close]. The connection is closed on this side even
 * when the broker could not be told (the error says why; the broker closes it anyway when this
 * process leaves the bus).
 *
 * Returns: %TRUE if the broker closed the connection (or it was not open), %FALSE with @error set
 *   otherwise
 *
 * Since: 0.1
 */
gboolean app_service_connection_close_finish(AppServiceConnection *self, GAsyncResult *result, GError **error) {
        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), FALSE);
        g_return_val_if_fail(g_task_is_valid(result, self), FALSE);

        return g_task_propagate_boolean(G_TASK(result), error);
}

/**
 * app_service_connection_close_sync:
 * @self: a connection
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Closes the connection, blocking the calling thread: the synchronous twin of
 * [method@AppService.Connection.close]. It needs no running main loop.
 *
 * Returns: %TRUE if the broker closed the connection (or it was not open), %FALSE with @error set
 *   otherwise
 *
 * Since: 0.1
 */
gboolean app_service_connection_close_sync(AppServiceConnection *self, GCancellable *cancellable, GError **error) {
        g_autofree gchar *owner = NULL;
        g_autofree gchar *path = NULL;
        AsDirectLink *link;
        GError *e = NULL;
        gboolean closed;

        g_return_val_if_fail(APP_SERVICE_IS_CONNECTION(self), FALSE);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), FALSE);

        if (!close_locally(self, &owner, &path))
                return TRUE;
        link = g_steal_pointer(&self->link_to_peer);
        closed = as_call_always_sync(self->link.bus, owner, path, AS_CONNECTION_IFACE, "Close", NULL, cancellable, &e);
        if (link) {
                self->last_cause = "the connection closed";
                as_direct_link_close(link);
                fail_link(link, self->last_cause);
        }
        return close_done(closed, e, error);
}

/* ---- one-shot ---- */

typedef struct {
        GDBusConnection *bus;
        gchar *app_service_name;
        gchar *path;
        GVariant *message;
} OnceData;

static void once_data_free(gpointer p) {
        OnceData *data = p;

        g_clear_object(&data->bus);
        g_free(data->app_service_name);
        g_free(data->path);
        g_clear_pointer(&data->message, g_variant_unref);
        g_free(data);
}

/* The broker has no object for an undeclared name: say it as OpenConnection would. */
static void once_fix_error(GError *error, const gchar *app_service_name) {
        if (g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT) ||
            g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD)) {
                g_free(error->message);
                error->domain = APP_SERVICE_ERROR;
                error->code = APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE;
                error->message = g_strdup_printf("no app service named '%s' is declared", app_service_name);
        }
}

static void on_once_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        OnceData *data = g_task_get_task_data(task);
        GVariant *reply;
        GError *error = NULL;
        AppServiceResponse *response;
        GError *send_error = NULL;

        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        if (error)
                once_fix_error(error, data->app_service_name);
        response = send_done(reply, error, &send_error);
        if (response)
                g_task_return_pointer(task, response, g_object_unref);
        else
                g_task_return_error(task, send_error);
}

static void once_call(GTask *task) {
        OnceData *data = g_task_get_task_data(task);

        g_dbus_connection_call(data->bus, AS_BUS_NAME, data->path, AS_SERVICE_IFACE, "SendMessage",
                               send_parameters(data->message), G_VARIANT_TYPE("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                               AS_CALL_TIMEOUT, g_task_get_cancellable(task), on_once_reply, task);
}

static void on_once_bus(GObject *source, GAsyncResult *result, gpointer user_data) {
        GTask *task = user_data;
        OnceData *data = g_task_get_task_data(task);
        GError *error = NULL;

        data->bus = as_bus_get_default_finish(result, &error);
        if (!data->bus) {
                g_task_return_error(task, error);
                g_object_unref(task);
                return;
        }
        once_call(task);
}

/**
 * app_service_send_message_once:
 * @bus: (nullable): the bus the broker is on, or %NULL for the default one (as
 *   [ctor@AppService.Connection.new] chooses it)
 * @app_service_name: the app service, for example `com.example.echo`
 * @message: (nullable): the message, an `a{sv}` ValueSet (if floating, it is consumed); %NULL
 *   for an empty one
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called with the provider's response
 * @user_data: data for @callback
 *
 * Sends one message to an app service without a connection object: the broker opens a
 * connection, sends @message, waits for the response and closes the connection (the D-Bus
 * method `io.appservice1.Service.SendMessage`). The provider is started if needed. The
 * provider sees a connection that opens, receives one request and closes.
 *
 * Finish with [func@AppService.send_message_once_finish], in the thread-default main context of
 * the caller.
 *
 * Since: 0.1
 */
void app_service_send_message_once(GDBusConnection *bus, const gchar *app_service_name, GVariant *message,
                                   GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GVariant) sunk G_GNUC_UNUSED = message ? g_variant_ref_sink(message) : NULL;
        GTask *task;
        OnceData *data;
        GError *error = NULL;

        g_return_if_fail(!bus || G_IS_DBUS_CONNECTION(bus));
        g_return_if_fail(app_service_name != NULL);
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        (void) APP_SERVICE_ERROR;
        task = g_task_new(NULL, cancellable, callback, user_data);
        g_task_set_source_tag(task, app_service_send_message_once);
        data = g_new0(OnceData, 1);
        data->app_service_name = g_strdup(app_service_name);
        data->path = as_service_path_for_name(app_service_name);
        data->message = message ? g_variant_ref(message) : NULL;
        g_task_set_task_data(task, data, once_data_free);

        if (message && !g_variant_is_of_type(message, G_VARIANT_TYPE_VARDICT)) {
                g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                        "a message is an a{sv} (a ValueSet), not a %s",
                                        g_variant_get_type_string(message));
                g_object_unref(task);
                return;
        }
        if (!as_value_set_check_sendable(message, &error)) {
                g_task_return_pointer(task, refused_response(error), g_object_unref);
                g_object_unref(task);
                return;
        }

        if (bus) {
                data->bus = g_object_ref(bus);
                once_call(task);
        } else {
                as_bus_get_default(cancellable, on_once_bus, task);
        }
}

/**
 * app_service_send_message_once_finish:
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [func@AppService.send_message_once].
 *
 * As with [method@AppService.Connection.send_message_finish], every outcome the broker reports
 * is a response: %APP_SERVICE_RESPONSE_STATUS_SUCCESS with the provider's message, or a failure
 * status with [method@AppService.Response.get_error] saying why; here that includes the errors
 * of opening (%APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE, %APP_SERVICE_ERROR_NOT_AUTHORIZED,
 * ...; their status is given by [func@AppService.ResponseStatus.from_error]). %NULL with
 * @error set only when the message could not be sent: cancelled, no bus, or @message was not an
 * `a{sv}`.
 *
 * Returns: (transfer full) (nullable): the response; free it with g_object_unref()
 *
 * Since: 0.1
 */
AppServiceResponse *app_service_send_message_once_finish(GAsyncResult *result, GError **error) {
        g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
        g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == app_service_send_message_once, NULL);

        return g_task_propagate_pointer(G_TASK(result), error);
}

/**
 * app_service_send_message_once_sync:
 * @bus: (nullable): the bus the broker is on, or %NULL for the default one (as
 *   [ctor@AppService.Connection.new] chooses it)
 * @app_service_name: the app service, for example `com.example.echo`
 * @message: (nullable): the message, an `a{sv}` ValueSet (if floating, it is consumed); %NULL
 *   for an empty one
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Sends one message to an app service and waits for the response, blocking the calling thread:
 * the synchronous twin of [func@AppService.send_message_once], with the results of
 * [func@AppService.send_message_once_finish]. It needs no running main loop.
 *
 * Returns: (transfer full) (nullable): the response; free it with g_object_unref()
 *
 * Since: 0.1
 */
AppServiceResponse *app_service_send_message_once_sync(GDBusConnection *bus, const gchar *app_service_name,
                                                       GVariant *message, GCancellable *cancellable,
                                                       GError **error) {
        g_autoptr(GVariant) sunk G_GNUC_UNUSED = message ? g_variant_ref_sink(message) : NULL;
        g_autoptr(GDBusConnection) default_bus = NULL;
        g_autofree gchar *path = NULL;
        GVariant *reply;
        GError *e = NULL;

        g_return_val_if_fail(!bus || G_IS_DBUS_CONNECTION(bus), NULL);
        g_return_val_if_fail(app_service_name != NULL, NULL);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), NULL);

        (void) APP_SERVICE_ERROR;
        if (message && !g_variant_is_of_type(message, G_VARIANT_TYPE_VARDICT)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "a message is an a{sv} (a ValueSet), not a %s", g_variant_get_type_string(message));
                return NULL;
        }
        if (!as_value_set_check_sendable(message, &e))
                return refused_response(e);
        if (!bus) {
                default_bus = as_bus_get_default_sync(cancellable, error);
                if (!default_bus)
                        return NULL;
                bus = default_bus;
        }

        path = as_service_path_for_name(app_service_name);
        reply = g_dbus_connection_call_sync(bus, AS_BUS_NAME, path, AS_SERVICE_IFACE, "SendMessage",
                                            send_parameters(message), G_VARIANT_TYPE("(a{sv})"),
                                            G_DBUS_CALL_FLAGS_NONE, AS_CALL_TIMEOUT, cancellable, &e);
        if (e)
                once_fix_error(e, app_service_name);
        return send_done(reply, e, error);
}
