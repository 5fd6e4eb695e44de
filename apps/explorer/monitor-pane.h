/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gtk/gtk.h>

#include <appservice.h>

G_BEGIN_DECLS

/* The broker's live events. Monitoring runs while the pane is on screen: it starts when the
 * pane is mapped and stops when it is unmapped or goes. Keeps the last EXPLORER_MONITOR_MAX. */
#define EXPLORER_TYPE_MONITOR_PANE (explorer_monitor_pane_get_type())
G_DECLARE_FINAL_TYPE(ExplorerMonitorPane, explorer_monitor_pane, EXPLORER, MONITOR_PANE, GtkBox)

#define EXPLORER_MONITOR_MAX 1000

GtkWidget *explorer_monitor_pane_new(AppServiceNode *node);

G_END_DECLS
