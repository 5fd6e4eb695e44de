/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(APP_SERVICE_INSIDE) && !defined(APP_SERVICE_COMPILATION)
#error "Only <appservice.h> can be included directly."
#endif

#include <gio/gio.h>

#include "appservice-connection.h"

G_BEGIN_DECLS

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

G_END_DECLS
