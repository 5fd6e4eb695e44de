/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the library's modules share and nobody outside sees: every symbol here is hidden
 * (-fvisibility=hidden) and named as_*, never app_service_*. The layers, top down (see
 * README.md): the public objects; their broker link and the hub (appservice-link.h,
 * appservice-hub.h); the D-Bus helpers (appservice-dbus.h) and the ValueSet checks. */

#include "appservice.h"
#include "appservice-dbus.h"
#include "appservice-direct.h"
#include "appservice-link.h"

G_BEGIN_DECLS

/* ---- appservice-valueset.c ---- */

/* %FALSE with an APP_SERVICE_ERROR (INVALID_MESSAGE: too deep; MESSAGE_SIZE_TOO_LARGE: too
 * large) when @value_set (may be %NULL) is not one to put on the bus. */
gboolean as_value_set_check_sendable(GVariant *value_set, GError **error);

/* ---- what the provider does with its connections ---- */

AppServiceConnection *as_connection_new_provider_side(GDBusConnection *bus, GMainContext *context,
                                                      const gchar *app_service_name, const gchar *owner,
                                                      const gchar *object_path, GVariant *caller, gint link_fd,
                                                      GVariant *link_info);
AsDirectLink *as_connection_forget(AppServiceConnection *self);
void as_connection_cancel(AppServiceConnection *self);

/* ---- the other objects' private constructors ---- */

AppServiceRequest *as_request_new(GDBusConnection *bus, const gchar *owner, const gchar *object_path, guint64 id,
                                  GVariant *message);
AppServiceRequest *as_request_new_direct(AsDirectLink *direct, guint64 id, GVariant *message);
AppServiceResponse *as_response_new(GVariant *message, const GError *error);

/* ---- the node's list of app services (appservice-info.c, appservice-service-list.c) ---- */

AppServiceInfo *as_service_info_new(const gchar *object_path);
void as_service_info_update_from_row(AppServiceInfo *self, GVariant *row);
void as_service_info_update_from_properties(AppServiceInfo *self, GVariant *props);

#define AS_TYPE_SERVICE_LIST (as_service_list_get_type())
G_DECLARE_FINAL_TYPE(AsServiceList, as_service_list, AS, SERVICE_LIST, GObject)

void as_service_list_new_async(GDBusConnection *bus, GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data);
GListModel *as_service_list_new_finish(GAsyncResult *result, GError **error);
GListModel *as_service_list_new_sync(GDBusConnection *bus, GCancellable *cancellable, GError **error);

G_END_DECLS
