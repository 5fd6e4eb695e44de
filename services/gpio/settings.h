/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The line settings of Request and Reconfigure (README.md, "Settings"), read from a ValueSet, and
 * the names of libgpiod's enums as the protocol spells them. */

#include <glib.h>
#include <gpiod.h>

#include "gpiod-cleanup.h"

typedef struct {
        enum gpiod_line_direction direction;
        enum gpiod_line_edge edge;
        enum gpiod_line_bias bias;
        enum gpiod_line_drive drive;
        gboolean active_low;
        guint64 debounce_us;
} LineSettings;

/* Reads Direction, Edge, Bias, Drive, ActiveLow and DebounceUs; absent ones take their defaults,
 * so that the result is a whole configuration. */
gboolean line_settings_parse(GVariant *message, LineSettings *ret, GError **error);

/* The libgpiod settings for @settings. Returns NULL with errno set only when out of memory. */
GpiodLineSettings *line_settings_to_gpiod(const LineSettings *settings);

/* `Values` ai for @n_lines lines: each 0 or 1. With @allowed FALSE (inputs) the key must be absent.
 * *ret holds n_lines enum gpiod_line_value, all inactive when the key is absent. */
gboolean values_parse(GVariant *message, gsize n_lines, gboolean allowed, gboolean required, GArray **ret,
                      GError **error);

const char *direction_to_string(enum gpiod_line_direction direction);
const char *edge_to_string(enum gpiod_line_edge edge);
const char *bias_to_string(enum gpiod_line_bias bias);
const char *drive_to_string(enum gpiod_line_drive drive);
