/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gtk/gtk.h>

#include <appservice.h>

#include "connection-view.h"

G_BEGIN_DECLS

/* The right side for one app service: its details, kept live, the administration buttons, and
 * the connection view below them. */
#define EXPLORER_TYPE_SERVICE_PAGE (explorer_service_page_get_type())
G_DECLARE_FINAL_TYPE(ExplorerServicePage, explorer_service_page, EXPLORER, SERVICE_PAGE, GtkBox)

GtkWidget *explorer_service_page_new(void);
/* @info: (nullable): the service to show (the page keeps a reference). */
void explorer_service_page_set_info(ExplorerServicePage *self, AppServiceInfo *info);
/* (transfer none) */
ExplorerConnectionView *explorer_service_page_get_connection_view(ExplorerServicePage *self);

G_END_DECLS
