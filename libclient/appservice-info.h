/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(APP_SERVICE_INSIDE) && !defined(APP_SERVICE_COMPILATION)
#error "Only <appservice.h> can be included directly."
#endif

#include <gio/gio.h>

#include "appservice-version.h"

G_BEGIN_DECLS

#define APP_SERVICE_TYPE_INFO (app_service_info_get_type())
APP_SERVICE_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE(AppServiceInfo, app_service_info, APP_SERVICE, INFO, GObject)

APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_info_get_name(AppServiceInfo *self);
APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_info_get_provider(AppServiceInfo *self);
APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_info_get_description(AppServiceInfo *self);
APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_info_get_state(AppServiceInfo *self);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_info_get_may_open(AppServiceInfo *self);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_info_get_activatable(AppServiceInfo *self);
APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_info_get_object_path(AppServiceInfo *self);

G_END_DECLS
