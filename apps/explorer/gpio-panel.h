/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* The GPIO panel: the chips and lines of the app service io.appservice.gpio, one line held at a
 * time, as an input (its level and edges, live) or as an output (driven by a switch). It opens
 * its connection while it is shown and closes it when hidden, which releases the line. */
#define EXPLORER_TYPE_GPIO_PANEL (explorer_gpio_panel_get_type())
G_DECLARE_FINAL_TYPE(ExplorerGpioPanel, explorer_gpio_panel, EXPLORER, GPIO_PANEL, AdwBin)

GtkWidget *explorer_gpio_panel_new(void);

/* Adds the panel's actions to @map (the window): gpio-request-input and gpio-request-output
 * (s "CHIP OFFSET"), gpio-set-output (b), gpio-release. */
void explorer_gpio_panel_install_actions(ExplorerGpioPanel *panel, GActionMap *map);

G_END_DECLS
