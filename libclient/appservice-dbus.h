/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The bottom layer of the library: the io.appservice1 names, the default bus, and D-Bus calls and
 * errors. It knows no object of the library. Every symbol here is hidden (-fvisibility=hidden)
 * and named as_*, never app_service_*. */

#include <gio/gio.h>

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

G_END_DECLS
