/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(APP_SERVICE_INSIDE) && !defined(APP_SERVICE_COMPILATION)
#error "Only <appservice.h> can be included directly."
#endif

#include <gio/gio.h>

#include "appservice-connection.h"

G_BEGIN_DECLS

/**
 * APP_SERVICE_CLOUD_NAME:
 *
 * The name of the app service that takes messages for the cloud, `io.appservice.cloud`: the
 * node's bridge (`appservice-mqtt`). [method@AppService.Provider.submit_message] sends to it.
 *
 * Since: 0.1
 */
#define APP_SERVICE_CLOUD_NAME "io.appservice.cloud"

#define APP_SERVICE_TYPE_PROVIDER (app_service_provider_get_type())
APP_SERVICE_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE(AppServiceProvider, app_service_provider, APP_SERVICE, PROVIDER, GObject)

APP_SERVICE_AVAILABLE_IN_ALL
AppServiceProvider *app_service_provider_new(const gchar *app_service_name);
APP_SERVICE_AVAILABLE_IN_ALL
AppServiceProvider *app_service_provider_new_for_bus(GDBusConnection *bus, const gchar *app_service_name);

APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_provider_get_app_service_name(AppServiceProvider *self);
APP_SERVICE_AVAILABLE_IN_ALL
GDBusConnection *app_service_provider_get_bus(AppServiceProvider *self);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_provider_get_registered(AppServiceProvider *self);
APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_provider_get_node_state(AppServiceProvider *self);
APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_provider_get_property_value(AppServiceProvider *self, const gchar *kind,
                                                     const gchar *name);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_provider_register(AppServiceProvider *self, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_provider_register_finish(AppServiceProvider *self, GAsyncResult *result, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_provider_register_sync(AppServiceProvider *self, GCancellable *cancellable, GError **error);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_provider_unregister(AppServiceProvider *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_provider_unregister_finish(AppServiceProvider *self, GAsyncResult *result, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_provider_unregister_sync(AppServiceProvider *self, GCancellable *cancellable, GError **error);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_provider_submit_action(AppServiceProvider *self, const gchar *destination, const gchar *action,
                                        GVariant *message, GCancellable *cancellable, GAsyncReadyCallback callback,
                                        gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_provider_submit_action_finish(AppServiceProvider *self, GAsyncResult *result,
                                                   GVariant **responses, GVariant **failures, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_provider_submit_action_sync(AppServiceProvider *self, const gchar *destination,
                                                 const gchar *action, GVariant *message, GVariant **responses,
                                                 GVariant **failures, GCancellable *cancellable, GError **error);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_provider_submit_message(AppServiceProvider *self, GVariant *message, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
GVariant *app_service_provider_submit_message_finish(AppServiceProvider *self, GAsyncResult *result,
                                                     GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
GVariant *app_service_provider_submit_message_sync(AppServiceProvider *self, GVariant *message,
                                                   GCancellable *cancellable, GError **error);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_provider_log(AppServiceProvider *self, AppServiceLogLevel level, const gchar *code,
                              const gchar *message, GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_provider_log_finish(AppServiceProvider *self, GAsyncResult *result, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_provider_log_sync(AppServiceProvider *self, AppServiceLogLevel level, const gchar *code,
                                       const gchar *message, GCancellable *cancellable, GError **error);

G_END_DECLS
