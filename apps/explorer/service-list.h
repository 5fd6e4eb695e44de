/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gtk/gtk.h>

#include <appservice.h>

G_BEGIN_DECLS

/* The left side of the window: the node's app services, live, from the library's list model.
 * Signals: ::selection-changed when the selected service changes, ::service-activated
 * (AppServiceInfo) on Enter or a double click. */
#define EXPLORER_TYPE_SERVICE_LIST (explorer_service_list_get_type())
G_DECLARE_FINAL_TYPE(ExplorerServiceList, explorer_service_list, EXPLORER, SERVICE_LIST, GtkBox)

GtkWidget *explorer_service_list_new(void);
/* @model: a GListModel of AppServiceInfo (the list keeps a reference). */
void explorer_service_list_set_model(ExplorerServiceList *self, GListModel *model);
/* Shows why the list could not be had instead of the list. */
void explorer_service_list_show_error(ExplorerServiceList *self, const GError *error);
/* (transfer none) (nullable): the selected service. */
AppServiceInfo *explorer_service_list_get_selected(ExplorerServiceList *self);
/* Selects the service of that name; FALSE when the list has none. */
gboolean explorer_service_list_select(ExplorerServiceList *self, const gchar *name);

G_END_DECLS
