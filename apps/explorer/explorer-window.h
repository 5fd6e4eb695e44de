/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* The explorer's window: the service list on the left; on the right a stack of the service
 * page ("service"), the monitor pane ("monitor") and the GPIO panel ("gpio"). Its actions (the
 * win.* names in README.md) are the whole of what the tests and the keyboard drive. */
#define EXPLORER_TYPE_WINDOW (explorer_window_get_type())
G_DECLARE_FINAL_TYPE(ExplorerWindow, explorer_window, EXPLORER, WINDOW, AdwApplicationWindow)

ExplorerWindow *explorer_window_new(GtkApplication *application);

/* A short notice at the bottom of the window. */
void explorer_window_toast(ExplorerWindow *self, const gchar *text);

G_END_DECLS
