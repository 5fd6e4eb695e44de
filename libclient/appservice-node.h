/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(APP_SERVICE_INSIDE) && !defined(APP_SERVICE_COMPILATION)
#error "Only <appservice.h> can be included directly."
#endif

#include <gio/gio.h>

#include "appservice-enums.h"

G_BEGIN_DECLS

#define APP_SERVICE_TYPE_NODE (app_service_node_get_type())
APP_SERVICE_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE(AppServiceNode, app_service_node, APP_SERVICE, NODE, GObject)

APP_SERVICE_AVAILABLE_IN_ALL
AppServiceNode *app_service_node_new(void);
APP_SERVICE_AVAILABLE_IN_ALL
AppServiceNode *app_service_node_new_for_bus(GDBusConnection *bus);

APP_SERVICE_AVAILABLE_IN_ALL
GDBusConnection *app_service_node_get_bus(AppServiceNode *self);
APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_node_get_state(AppServiceNode *self);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_get_monitoring(AppServiceNode *self);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_get_allow_interactive_authorization(AppServiceNode *self);
APP_SERVICE_AVAILABLE_IN_ALL
void app_service_node_set_allow_interactive_authorization(AppServiceNode *self, gboolean allow);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_node_start_service(AppServiceNode *self, const gchar *name, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_start_service_finish(AppServiceNode *self, GAsyncResult *result, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_start_service_sync(AppServiceNode *self, const gchar *name, GCancellable *cancellable,
                                             GError **error);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_node_stop_service(AppServiceNode *self, const gchar *name, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_stop_service_finish(AppServiceNode *self, GAsyncResult *result, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_stop_service_sync(AppServiceNode *self, const gchar *name, GCancellable *cancellable,
                                            GError **error);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_node_restart_service(AppServiceNode *self, const gchar *name, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_restart_service_finish(AppServiceNode *self, GAsyncResult *result, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_restart_service_sync(AppServiceNode *self, const gchar *name, GCancellable *cancellable,
                                               GError **error);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_node_set_service_enabled(AppServiceNode *self, const gchar *name, gboolean enabled,
                                          GCancellable *cancellable, GAsyncReadyCallback callback,
                                          gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_set_service_enabled_finish(AppServiceNode *self, GAsyncResult *result, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_set_service_enabled_sync(AppServiceNode *self, const gchar *name, gboolean enabled,
                                                   GCancellable *cancellable, GError **error);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_node_reload(AppServiceNode *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_reload_finish(AppServiceNode *self, GAsyncResult *result, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_reload_sync(AppServiceNode *self, GCancellable *cancellable, GError **error);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_node_start_monitoring(AppServiceNode *self, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_start_monitoring_finish(AppServiceNode *self, GAsyncResult *result, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_start_monitoring_sync(AppServiceNode *self, GCancellable *cancellable, GError **error);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_node_stop_monitoring(AppServiceNode *self, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_stop_monitoring_finish(AppServiceNode *self, GAsyncResult *result, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_node_stop_monitoring_sync(AppServiceNode *self, GCancellable *cancellable, GError **error);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_node_list_services(AppServiceNode *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
GListModel *app_service_node_list_services_finish(AppServiceNode *self, GAsyncResult *result, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
GListModel *app_service_node_list_services_sync(AppServiceNode *self, GCancellable *cancellable, GError **error);

G_END_DECLS
