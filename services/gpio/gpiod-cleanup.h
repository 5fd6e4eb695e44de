/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* g_autoptr() for the libgpiod v2 types we hold: libgpiod 2.1 ships no GLib cleanup functions of
 * its own. Every libgpiod object we own is freed through one of these or by an explicit _free. */

#include <glib.h>
#include <gpiod.h>

typedef struct gpiod_chip GpiodChip;
typedef struct gpiod_chip_info GpiodChipInfo;
typedef struct gpiod_line_info GpiodLineInfo;
typedef struct gpiod_line_settings GpiodLineSettings;
typedef struct gpiod_line_config GpiodLineConfig;
typedef struct gpiod_request_config GpiodRequestConfig;
typedef struct gpiod_line_request GpiodLineRequest;
typedef struct gpiod_edge_event_buffer GpiodEdgeEventBuffer;

G_DEFINE_AUTOPTR_CLEANUP_FUNC(GpiodChip, gpiod_chip_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GpiodChipInfo, gpiod_chip_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GpiodLineInfo, gpiod_line_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GpiodLineSettings, gpiod_line_settings_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GpiodLineConfig, gpiod_line_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GpiodRequestConfig, gpiod_request_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GpiodLineRequest, gpiod_line_request_release)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GpiodEdgeEventBuffer, gpiod_edge_event_buffer_free)
