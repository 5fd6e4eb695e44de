/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the library's modules share and nobody outside sees: every symbol here is hidden
 * (-fvisibility=hidden) and named as_*, never app_service_*. */

#include "appservice.h"

G_BEGIN_DECLS

#define AS_BUS_NAME "io.appservice1"
#define AS_MANAGER_PATH "/io/appservice1"
#define AS_SERVICE_PATH_PREFIX "/io/appservice1/service/"
#define AS_MANAGER_IFACE "io.appservice1.Manager"
#define AS_SERVICE_IFACE "io.appservice1.Service"
#define AS_CONNECTION_IFACE "io.appservice1.Connection"
#define AS_PROPERTIES_IFACE "org.freedesktop.DBus.Properties"

/* No D-Bus timeout of our own: the broker's RequestTimeoutSec and ActivationTimeoutSec decide. */
#define AS_CALL_TIMEOUT G_MAXINT

/* The largest message dbus-daemon carries by default (max_message_size in its configuration, the
 * same on the system and the session bus of Debian): a bigger one makes the bus drop the sender's
 * whole connection. The library cannot ask the bus for its value, so it assumes this one. */
#define AS_BUS_MAX_MESSAGE_SIZE 33554432u
/* The largest ValueSet (its own D-Bus marshalled size, as MaxMessageSize counts it) the library
 * sends: 64 KiB less than the bus carries, room for the header and for the broker's own
 * arguments when it relays the ValueSet (request id, path). */
#define AS_VALUE_SET_MAX_SIZE (AS_BUS_MAX_MESSAGE_SIZE - 65536u)
/* The deepest nesting the broker accepts in a ValueSet: arrays, dict entries, structs and
 * variants, its own a{sv} and entry included. */
#define AS_VALUE_SET_MAX_DEPTH 32u

/* ---- appservice-valueset.c ---- */

/* %FALSE with an APP_SERVICE_ERROR (INVALID_MESSAGE: too deep; MESSAGE_SIZE_TOO_LARGE: too
 * large) when @value_set (may be %NULL) is not one to put on the bus. */
gboolean as_value_set_check_sendable(GVariant *value_set, GError **error);

/* ---- appservice-dbus.c: calls, errors, the default bus ---- */

GBusType as_bus_default_type(void);
GDBusConnection *as_bus_get_default_sync(GCancellable *cancellable, GError **error);
void as_bus_get_default(GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
GDBusConnection *as_bus_get_default_finish(GAsyncResult *result, GError **error);
gchar *as_service_path_for_name(const gchar *name);
void as_error_prettify(GError *error);
gboolean as_signal_parameters_valid(const gchar *interface_name, const gchar *signal_name,
                                    GVariant *parameters);

/* A method call whose reply says who sent it (the broker's unique name), with a cancellation
 * that never leaves the broker in a state we do not know about: if @cancellable fires, the
 * operation completes at once with G_IO_ERROR_CANCELLED, and when the reply arrives later and
 * is a success, @undo runs with it (to close what was opened, unregister what was registered). */
typedef void (*AsUndoFunc)(GDBusConnection *bus, GDBusMessage *reply, gpointer undo_data);

void as_call_message(GDBusConnection *bus, GDBusMessage *message, GCancellable *cancellable, AsUndoFunc undo,
                     gpointer undo_data, GDestroyNotify undo_data_free, GAsyncReadyCallback callback,
                     gpointer user_data);
GDBusMessage *as_call_message_finish(GAsyncResult *result, GError **error);

void as_call_always(GDBusConnection *bus, const gchar *destination, const gchar *object_path,
                    const gchar *interface_name, const gchar *method_name, GVariant *parameters,
                    GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gboolean as_call_always_finish(GAsyncResult *result, GError **error);
void as_call_always_return_to_task(GObject *source, GAsyncResult *result, gpointer user_data);
gboolean as_call_always_sync(GDBusConnection *bus, const gchar *destination, const gchar *object_path,
                             const gchar *interface_name, const gchar *method_name, GVariant *parameters,
                             GCancellable *cancellable, GError **error);

GDBusMessage *as_call_message_sync(GDBusConnection *bus, GDBusMessage *message, GCancellable *cancellable,
                                   AsUndoFunc undo, gchar *undo_data, GError **error);

/* ---- appservice-hub.c: one per (bus, main context): signal routing and the broker watch ---- */

typedef struct _AsHub AsHub;

AsHub *as_hub_get(GDBusConnection *bus, GMainContext *context);
void as_hub_release(AsHub *hub);
void as_hub_add_connection(AsHub *hub, AppServiceConnection *connection);
void as_hub_remove_connection(AsHub *hub, AppServiceConnection *connection);
void as_hub_add_provider(AsHub *hub, AppServiceProvider *provider);
void as_hub_remove_provider(AsHub *hub, AppServiceProvider *provider);
void as_hub_add_node(AsHub *hub, AppServiceNode *node);
void as_hub_remove_node(AsHub *hub, AppServiceNode *node);
const gchar *as_hub_get_owner(AsHub *hub);
gboolean as_hub_take_closed(AsHub *hub, const gchar *object_path, const gchar *owner,
                            AppServiceClosedStatus *ret_status);

/* ---- what the hub calls ---- */

const gchar *as_connection_get_owner(AppServiceConnection *self);
void as_connection_handle_request(AppServiceConnection *self, guint64 id, GVariant *message);
void as_connection_handle_closed(AppServiceConnection *self, AppServiceClosedStatus status);
AppServiceConnection *as_connection_new_provider_side(GDBusConnection *bus, GMainContext *context,
                                                      const gchar *app_service_name, const gchar *owner,
                                                      const gchar *object_path, GVariant *caller);
void as_connection_forget(AppServiceConnection *self);

const gchar *as_provider_get_service_path(AppServiceProvider *self);
void as_provider_handle_connection_opened(AppServiceProvider *self, const gchar *sender,
                                          const gchar *object_path, GVariant *caller);
void as_provider_handle_broker_vanished(AppServiceProvider *self);
void as_provider_handle_broker_appeared(AppServiceProvider *self);
void as_provider_handle_stop_requested(AppServiceProvider *self, const gchar *sender, GVariant *details);
void as_provider_handle_state_update(AppServiceProvider *self, const gchar *sender, GVariant *state);

void as_node_handle_broker_appeared(AppServiceNode *self);
void as_node_handle_broker_vanished(AppServiceNode *self);
void as_node_handle_state_changed(AppServiceNode *self, const gchar *state);
void as_node_handle_monitor_event(AppServiceNode *self, const gchar *type, GVariant *event);

/* ---- the other objects' private constructors ---- */

AppServiceRequest *as_request_new(GDBusConnection *bus, const gchar *owner, const gchar *object_path, guint64 id,
                                  GVariant *message);
AppServiceResponse *as_response_new(GVariant *message, const GError *error);

G_END_DECLS
