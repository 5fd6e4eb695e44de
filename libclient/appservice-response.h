/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(APP_SERVICE_INSIDE) && !defined(APP_SERVICE_COMPILATION)
#error "Only <appservice.h> can be included directly."
#endif

#include <glib-object.h>

#include "appservice-enums.h"

G_BEGIN_DECLS

#define APP_SERVICE_TYPE_RESPONSE (app_service_response_get_type())
APP_SERVICE_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE(AppServiceResponse, app_service_response, APP_SERVICE, RESPONSE, GObject)

APP_SERVICE_AVAILABLE_IN_ALL
AppServiceResponseStatus app_service_response_get_status(AppServiceResponse *self);
APP_SERVICE_AVAILABLE_IN_ALL
GVariant *app_service_response_get_message(AppServiceResponse *self);
APP_SERVICE_AVAILABLE_IN_ALL
const GError *app_service_response_get_error(AppServiceResponse *self);

G_END_DECLS
