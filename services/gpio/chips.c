/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>

#include "chips.h"
#include "gpio-error.h"

struct Chips {
        char *dev_dir;
        GFileMonitor *monitor;
        ChipRemovedFunc on_removed;
        gpointer user_data;
};

void open_chip_free(OpenChip *chip) {
        if (!chip)
                return;
        g_clear_pointer(&chip->chip, gpiod_chip_close);
        g_free(chip->name);
        g_free(chip->label);
        g_free(chip->path);
        g_free(chip);
}

gboolean chips_is_device_name(const char *name) {
        const char *digits;

        if (!g_str_has_prefix(name, "gpiochip"))
                return FALSE;
        digits = name + strlen("gpiochip");
        if (*digits == '\0')
                return FALSE;
        for (; *digits; digits++)
                if (!g_ascii_isdigit(*digits))
                        return FALSE;
        return TRUE;
}

static guint64 device_number(const char *name) {
        return g_ascii_strtoull(name + strlen("gpiochip"), NULL, 10);
}

static gint compare_device_names(gconstpointer a, gconstpointer b) {
        guint64 x = device_number(*(const char *const *) a);
        guint64 y = device_number(*(const char *const *) b);

        return x < y ? -1 : x > y;
}

/* ---- watching the device directory ---------------------------------------------------------- */

static void on_dev_changed(GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                           gpointer user_data) {
        Chips *chips = user_data;
        g_autofree char *name = g_file_get_basename(file);

        if (!name || !chips_is_device_name(name))
                return;
        if (event == G_FILE_MONITOR_EVENT_CREATED)
                g_message("chip '%s' appeared", name);
        else if (event == G_FILE_MONITOR_EVENT_DELETED) {
                g_message("chip '%s' went away, releasing its requests", name);
                chips->on_removed(name, chips->user_data);
        }
}

Chips *chips_new(const char *dev_dir, ChipRemovedFunc on_removed, gpointer user_data, GError **error) {
        g_autoptr(GFile) dir = g_file_new_for_path(dev_dir);
        g_autoptr(GFileMonitor) monitor = NULL;
        Chips *chips;

        if (!g_file_test(dev_dir, G_FILE_TEST_IS_DIR)) {
                g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR, "'%s' is not a directory", dev_dir);
                return NULL;
        }
        monitor = g_file_monitor_directory(dir, G_FILE_MONITOR_NONE, /* cancellable= */ NULL, error);
        if (!monitor)
                return NULL;

        chips = g_new0(Chips, 1);
        chips->dev_dir = g_canonicalize_filename(dev_dir, /* relative_to= */ NULL);
        chips->monitor = g_steal_pointer(&monitor);
        chips->on_removed = on_removed;
        chips->user_data = user_data;
        g_signal_connect(chips->monitor, "changed", G_CALLBACK(on_dev_changed), chips);
        return chips;
}

void chips_free(Chips *chips) {
        if (!chips)
                return;
        if (chips->monitor) {
                g_signal_handlers_disconnect_by_data(chips->monitor, chips);
                g_file_monitor_cancel(chips->monitor);
                g_object_unref(chips->monitor);
        }
        g_free(chips->dev_dir);
        g_free(chips);
}

/* ---- opening chips -------------------------------------------------------------------------- */

/* The device names present now, in device order. */
static GPtrArray *list_device_names(Chips *chips) {
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GDir) dir = NULL;
        g_autoptr(GError) error = NULL;
        const char *entry;

        dir = g_dir_open(chips->dev_dir, 0, &error);
        if (!dir) {
                g_warning("cannot list '%s', ignoring: %s", chips->dev_dir, error->message);
                return g_steal_pointer(&names);
        }
        while ((entry = g_dir_read_name(dir)))
                if (chips_is_device_name(entry))
                        g_ptr_array_add(names, g_strdup(entry));
        g_ptr_array_sort(names, compare_device_names);
        return g_steal_pointer(&names);
}

/* Opens the chip at @path. unknown-chip (naming @what) if there is no such node, io otherwise. */
static OpenChip *open_path(const char *path, const char *what, GError **error) {
        g_autoptr(OpenChip) chip = g_new0(OpenChip, 1);
        g_autoptr(GpiodChipInfo) info = NULL;

        chip->chip = gpiod_chip_open(path);
        if (!chip->chip) {
                if (errno == ENOENT) {
                        g_set_error(error, GPIO_ERROR, GPIO_ERROR_UNKNOWN_CHIP, "no chip '%s'", what);
                        return NULL;
                }
                gpio_error_set_errno(error, errno, "cannot open chip '%s' (%s)", what, path);
                return NULL;
        }
        info = gpiod_chip_get_info(chip->chip);
        if (!info) {
                gpio_error_set_errno(error, errno, "cannot read the information of chip '%s' (%s)", what,
                                     path);
                return NULL;
        }
        chip->name = g_strdup(gpiod_chip_info_get_name(info));
        chip->label = g_strdup(gpiod_chip_info_get_label(info));
        chip->path = g_strdup(gpiod_chip_get_path(chip->chip));
        chip->n_lines = (guint) gpiod_chip_info_get_num_lines(info);
        return g_steal_pointer(&chip);
}

static OpenChip *open_device(Chips *chips, const char *device_name, GError **error) {
        g_autofree char *path = g_build_filename(chips->dev_dir, device_name, NULL);

        return open_path(path, device_name, error);
}

GPtrArray *chips_open_all(Chips *chips) {
        g_autoptr(GPtrArray) names = list_device_names(chips);
        GPtrArray *all = g_ptr_array_new_with_free_func((GDestroyNotify) open_chip_free);

        for (guint i = 0; i < names->len; i++) {
                g_autoptr(GError) error = NULL;
                OpenChip *chip = open_device(chips, names->pdata[i], &error);

                /* Gone since listed, or not ours to open: leave it out of the answer. */
                if (!chip) {
                        g_warning("%s, ignoring", error->message);
                        continue;
                }
                g_ptr_array_add(all, chip);
        }
        return all;
}

/* A path to a chip of our device directory, as its device name; NULL for anything else. */
static char *device_name_from_path(Chips *chips, const char *path) {
        g_autofree char *canonical = g_canonicalize_filename(path, /* relative_to= */ NULL);
        g_autofree char *dir = g_path_get_dirname(canonical);
        g_autofree char *base = g_path_get_basename(canonical);

        if (!g_str_equal(dir, chips->dev_dir) || !chips_is_device_name(base))
                return NULL;
        return g_steal_pointer(&base);
}

static OpenChip *open_by_label(Chips *chips, const char *label, GError **error) {
        g_autoptr(GPtrArray) all = chips_open_all(chips);

        for (guint i = 0; i < all->len; i++) {
                OpenChip *chip = all->pdata[i];

                if (g_str_equal(chip->label, label))
                        return g_ptr_array_steal_index(all, i);
        }
        g_set_error(error, GPIO_ERROR, GPIO_ERROR_UNKNOWN_CHIP, "no chip has the name, path or label '%s'",
                    label);
        return NULL;
}

OpenChip *chips_open(Chips *chips, const char *name, GError **error) {
        g_autofree char *device_name = NULL;

        if (chips_is_device_name(name))
                return open_device(chips, name, error);
        if (g_path_is_absolute(name)) {
                device_name = device_name_from_path(chips, name);
                if (!device_name) {
                        g_set_error(error, GPIO_ERROR, GPIO_ERROR_UNKNOWN_CHIP,
                                    "no chip at '%s': chips are %s/gpiochipN", name, chips->dev_dir);
                        return NULL;
                }
                return open_device(chips, device_name, error);
        }
        return open_by_label(chips, name, error);
}

/* ---- lines ---------------------------------------------------------------------------------- */

/* The offset of the line named @name on @chip: TRUE and *ret_found FALSE when it has none. */
static gboolean lookup_name(OpenChip *chip, const char *name, gboolean *ret_found, guint *ret_offset,
                            GError **error) {
        int offset = gpiod_chip_get_line_offset_from_name(chip->chip, name);

        if (offset < 0) {
                if (errno != ENOENT)
                        return gpio_error_set_errno(error, errno, "cannot look up line '%s' on chip '%s'",
                                                    name, chip->name);
                *ret_found = FALSE;
                return TRUE;
        }
        *ret_found = TRUE;
        *ret_offset = (guint) offset;
        return TRUE;
}

gboolean chips_find_line_on(OpenChip *chip, const LineRef *ref, guint *ret_offset, GError **error) {
        gboolean found;

        if (!ref->name) {
                if (ref->offset >= chip->n_lines) {
                        g_set_error(error, GPIO_ERROR, GPIO_ERROR_UNKNOWN_LINE,
                                    "chip '%s' has no line %" G_GUINT32_FORMAT ": its offsets are 0 to %d",
                                    chip->name, ref->offset, (int) chip->n_lines - 1);
                        return FALSE;
                }
                *ret_offset = ref->offset;
                return TRUE;
        }
        if (!lookup_name(chip, ref->name, &found, ret_offset, error))
                return FALSE;
        if (!found) {
                g_set_error(error, GPIO_ERROR, GPIO_ERROR_UNKNOWN_LINE, "chip '%s' has no line named '%s'",
                            chip->name, ref->name);
                return FALSE;
        }
        return TRUE;
}

OpenChip *chips_find_line(Chips *chips, const char *name, guint *ret_offset, GError **error) {
        g_autoptr(GPtrArray) all = chips_open_all(chips);

        for (guint i = 0; i < all->len; i++) {
                gboolean found;

                if (!lookup_name(all->pdata[i], name, &found, ret_offset, error))
                        return NULL;
                if (found)
                        return g_ptr_array_steal_index(all, i);
        }
        g_set_error(error, GPIO_ERROR, GPIO_ERROR_UNKNOWN_LINE, "no chip has a line named '%s'", name);
        return NULL;
}
