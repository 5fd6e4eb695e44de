/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(APP_SERVICE_INSIDE) && !defined(APP_SERVICE_COMPILATION)
#error "Only <appservice.h> can be included directly."
#endif

#include <gio/gio.h>

#include "appservice-enums.h"

G_BEGIN_DECLS

#define APP_SERVICE_TYPE_REQUEST (app_service_request_get_type())
APP_SERVICE_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE(AppServiceRequest, app_service_request, APP_SERVICE, REQUEST, GObject)

APP_SERVICE_AVAILABLE_IN_ALL
GVariant *app_service_request_get_message(AppServiceRequest *self);
APP_SERVICE_AVAILABLE_IN_ALL
guint64 app_service_request_get_id(AppServiceRequest *self);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_request_get_answered(AppServiceRequest *self);

APP_SERVICE_AVAILABLE_IN_ALL
void app_service_request_send_response(AppServiceRequest *self, GVariant *response, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data);
APP_SERVICE_AVAILABLE_IN_ALL
AppServiceResponseStatus app_service_request_send_response_finish(AppServiceRequest *self, GAsyncResult *result,
                                                                  GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
AppServiceResponseStatus app_service_request_send_response_sync(AppServiceRequest *self, GVariant *response,
                                                                GCancellable *cancellable, GError **error);

G_END_DECLS
