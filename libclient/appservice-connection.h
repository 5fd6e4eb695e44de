/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(APP_SERVICE_INSIDE) && !defined(APP_SERVICE_COMPILATION)
#error "Only <appservice.h> can be included directly."
#endif

#include <gio/gio.h>

#include "appservice-enums.h"
#include "appservice-request.h"
#include "appservice-response.h"

G_BEGIN_DECLS

#define APP_SERVICE_TYPE_CONNECTION (app_service_connection_get_type())
APP_SERVICE_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE(AppServiceConnection, app_service_connection, APP_SERVICE, CONNECTION, GObject)

APP_SERVICE_AVAILABLE_IN_ALL
AppServiceConnection *app_service_connection_new(const gchar *app_service_name,
                                                 const gchar *package_family_name);
APP_SERVICE_AVAILABLE_IN_ALL
AppServiceConnection *app_service_connection_new_for_bus(GDBusConnection *bus, const gchar *app_service_name,
                                                         const gchar *package_family_name);

APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_connection_get_app_service_name(AppServiceConnection *self);
APP_SERVICE_AVAILABLE_IN_ALL
void app_service_connection_set_app_service_name(AppServiceConnection *self, const gchar *app_service_name);
APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_connection_get_package_family_name(AppServiceConnection *self);
APP_SERVICE_AVAILABLE_IN_ALL
void app_service_connection_set_package_family_name(AppServiceConnection *self, const gchar *package_family_name);
APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_connection_get_node(AppServiceConnection *self);
APP_SERVICE_AVAILABLE_IN_ALL
void app_service_connection_set_node(AppServiceConnection *self, const gchar *node);
APP_SERVICE_AVAILABLE_IN_ALL
GDBusConnection *app_service_connection_get_bus(AppServiceConnection *self);
APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_connection_get_object_path(AppServiceConnection *self);
APP_SERVICE_AVAILABLE_IN_ALL
GVariant *app_service_connection_get_caller(AppServiceConnection *self);
APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_connection_get_action(AppServiceConnection *self);
APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_connection_get_caller_app_service_name(AppServiceConnection *self);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_connection_get_is_open(AppServiceConnection *self);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_connection_get_direct(AppServiceConnection *self);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_connection_open(AppServiceConnection *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
AppServiceConnectionStatus app_service_connection_open_finish(AppServiceConnection *self, GAsyncResult *result,
                                                              GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
AppServiceConnectionStatus app_service_connection_open_sync(AppServiceConnection *self, GCancellable *cancellable,
                                                            GError **error);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_connection_send_message(AppServiceConnection *self, GVariant *message, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
AppServiceResponse *app_service_connection_send_message_finish(AppServiceConnection *self, GAsyncResult *result,
                                                               GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
AppServiceResponse *app_service_connection_send_message_sync(AppServiceConnection *self, GVariant *message,
                                                             GCancellable *cancellable, GError **error);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_connection_close(AppServiceConnection *self, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_connection_close_finish(AppServiceConnection *self, GAsyncResult *result, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_connection_close_sync(AppServiceConnection *self, GCancellable *cancellable, GError **error);

/* One-shot: Service.SendMessage (open, send, wait for the response, close). */
APP_SERVICE_AVAILABLE_IN_ALL
void app_service_send_message_once(GDBusConnection *bus, const gchar *app_service_name, GVariant *message,
                                   GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
AppServiceResponse *app_service_send_message_once_finish(GAsyncResult *result, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
AppServiceResponse *app_service_send_message_once_sync(GDBusConnection *bus, const gchar *app_service_name,
                                                       GVariant *message, GCancellable *cancellable,
                                                       GError **error);

G_END_DECLS
