/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The GPIO chips of the device directory (/dev): finding them by device name, path or label,
 * resolving line names across them, and noticing chips that come and go. Chips are opened for
 * each use and closed after it: a line request outlives its chip handle in libgpiod v2, and a
 * chip that is not held open can go away cleanly. */

#include <glib.h>

#include "args.h"
#include "gpiod-cleanup.h"

typedef struct Chips Chips;

/* An open chip with what the protocol says about it. */
typedef struct {
        GpiodChip *chip;
        char *name; /* device name, "gpiochip0" */
        char *label;
        char *path;
        guint n_lines;
} OpenChip;

void open_chip_free(OpenChip *chip);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OpenChip, open_chip_free)

/* Called when a chip's device node disappeared, with its device name. */
typedef void (*ChipRemovedFunc)(const char *name, gpointer user_data);

Chips *chips_new(const char *dev_dir, ChipRemovedFunc on_removed, gpointer user_data, GError **error);
void chips_free(Chips *chips);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Chips, chips_free)

/* Every chip that can be opened now, in the order of their device numbers (OpenChip, owned). */
GPtrArray *chips_open_all(Chips *chips);

/* The chip named by device name, path or label: unknown-chip if none, io if it cannot be opened. */
OpenChip *chips_open(Chips *chips, const char *name, GError **error);

/* The offset of @ref on @chip: unknown-line past the last line or for a name @chip lacks. */
gboolean chips_find_line_on(OpenChip *chip, const LineRef *ref, guint *ret_offset, GError **error);

/* The first line named @name across all chips, in device order (as gpiofind): the chip it is on,
 * and its offset. unknown-line if no chip has it. */
OpenChip *chips_find_line(Chips *chips, const char *name, guint *ret_offset, GError **error);

/* Whether @name is a chip device name ("gpiochip" and digits). */
gboolean chips_is_device_name(const char *name);
