/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "args.h"
#include "gpio-error.h"
#include "settings.h"

/* The protocol's names, indexed as args_lookup_choice() returns them, and the enum of each. */
static const char *const direction_names[] = { "input", "output", NULL };
static const enum gpiod_line_direction direction_values[] = { GPIOD_LINE_DIRECTION_INPUT,
                                                              GPIOD_LINE_DIRECTION_OUTPUT };

static const char *const edge_names[] = { "none", "rising", "falling", "both", NULL };
static const enum gpiod_line_edge edge_values[] = { GPIOD_LINE_EDGE_NONE, GPIOD_LINE_EDGE_RISING,
                                                    GPIOD_LINE_EDGE_FALLING, GPIOD_LINE_EDGE_BOTH };

static const char *const bias_names[] = { "as-is", "disabled", "pull-up", "pull-down", NULL };
static const enum gpiod_line_bias bias_values[] = { GPIOD_LINE_BIAS_AS_IS, GPIOD_LINE_BIAS_DISABLED,
                                                    GPIOD_LINE_BIAS_PULL_UP, GPIOD_LINE_BIAS_PULL_DOWN };

static const char *const drive_names[] = { "push-pull", "open-drain", "open-source", NULL };
static const enum gpiod_line_drive drive_values[] = { GPIOD_LINE_DRIVE_PUSH_PULL,
                                                      GPIOD_LINE_DRIVE_OPEN_DRAIN,
                                                      GPIOD_LINE_DRIVE_OPEN_SOURCE };

static gboolean parse_choices(GVariant *message, LineSettings *s, GError **error) {
        int direction, edge, bias, drive;

        if (!args_lookup_choice(message, "Direction", direction_names, 0, &direction, error) ||
            !args_lookup_choice(message, "Edge", edge_names, 0, &edge, error) ||
            !args_lookup_choice(message, "Bias", bias_names, 0, &bias, error) ||
            !args_lookup_choice(message, "Drive", drive_names, 0, &drive, error))
                return FALSE;
        s->direction = direction_values[direction];
        s->edge = edge_values[edge];
        s->bias = bias_values[bias];
        s->drive = drive_values[drive];
        return TRUE;
}

static gboolean parse_flags(GVariant *message, LineSettings *s, GError **error) {
        g_autoptr(GVariant) active_low = NULL;
        g_autoptr(GVariant) debounce = NULL;

        if (!args_lookup(message, "ActiveLow", G_VARIANT_TYPE_BOOLEAN, FALSE, &active_low, error) ||
            !args_lookup(message, "DebounceUs", G_VARIANT_TYPE_UINT64, FALSE, &debounce, error))
                return FALSE;
        s->active_low = active_low && g_variant_get_boolean(active_low);
        s->debounce_us = debounce ? g_variant_get_uint64(debounce) : 0;
        /* The kernel's attribute is 32 bits wide. */
        if (s->debounce_us > G_MAXUINT32) {
                g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                            "'DebounceUs' is %" G_GUINT64_FORMAT ": it accepts at most %u", s->debounce_us,
                            G_MAXUINT32);
                return FALSE;
        }
        return TRUE;
}

/* Edge detection is for inputs, drive modes are for outputs; the defaults go with both. */
static gboolean check_direction(const LineSettings *s, GError **error) {
        if (s->direction == GPIOD_LINE_DIRECTION_OUTPUT && s->edge != GPIOD_LINE_EDGE_NONE) {
                g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                            "'Edge' is '%s' but 'Direction' is 'output': edges are detected on inputs only",
                            edge_to_string(s->edge));
                return FALSE;
        }
        if (s->direction == GPIOD_LINE_DIRECTION_INPUT && s->drive != GPIOD_LINE_DRIVE_PUSH_PULL) {
                g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                            "'Drive' is '%s' but 'Direction' is 'input': drive modes apply to outputs only",
                            drive_to_string(s->drive));
                return FALSE;
        }
        return TRUE;
}

gboolean line_settings_parse(GVariant *message, LineSettings *ret, GError **error) {
        LineSettings s = { 0 };

        if (!parse_choices(message, &s, error) || !parse_flags(message, &s, error) ||
            !check_direction(&s, error))
                return FALSE;
        *ret = s;
        return TRUE;
}

GpiodLineSettings *line_settings_to_gpiod(const LineSettings *s) {
        g_autoptr(GpiodLineSettings) settings = gpiod_line_settings_new();

        /* The values were checked when parsed, so libgpiod accepts each of them. */
        if (!settings)
                return NULL;
        gpiod_line_settings_set_direction(settings, s->direction);
        gpiod_line_settings_set_edge_detection(settings, s->edge);
        gpiod_line_settings_set_bias(settings, s->bias);
        gpiod_line_settings_set_drive(settings, s->drive);
        gpiod_line_settings_set_active_low(settings, s->active_low);
        gpiod_line_settings_set_debounce_period_us(settings, (unsigned long) s->debounce_us);
        /* Timestamps on CLOCK_MONOTONIC, as README.md promises. */
        gpiod_line_settings_set_event_clock(settings, GPIOD_LINE_CLOCK_MONOTONIC);
        return g_steal_pointer(&settings);
}

gboolean values_parse(GVariant *message, gsize n_lines, gboolean allowed, gboolean required, GArray **ret,
                      GError **error) {
        g_autoptr(GVariant) value = NULL;
        g_autoptr(GArray) values = g_array_sized_new(FALSE, TRUE, sizeof(enum gpiod_line_value), n_lines);
        const gint32 *numbers;
        gsize n = 0;

        if (!args_lookup(message, "Values", G_VARIANT_TYPE("ai"), required, &value, error))
                return FALSE;
        if (value && !allowed) {
                g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                            "'Values' is given but the lines are inputs: values are set on outputs only");
                return FALSE;
        }
        g_array_set_size(values, n_lines); /* zeroed: GPIOD_LINE_VALUE_INACTIVE */
        if (!value) {
                *ret = g_steal_pointer(&values);
                return TRUE;
        }
        numbers = g_variant_get_fixed_array(value, &n, sizeof(gint32));
        if (n != n_lines) {
                g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                            "'Values' has %zu value(s) for %zu line(s): give one per line, "
                            "in the request's order",
                            n, n_lines);
                return FALSE;
        }
        for (gsize i = 0; i < n; i++) {
                if (numbers[i] != 0 && numbers[i] != 1) {
                        g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                                    "'Values' has %" G_GINT32_FORMAT " at position %zu: it accepts 0 and 1",
                                    numbers[i], i);
                        return FALSE;
                }
                g_array_index(values, enum gpiod_line_value, i) =
                        numbers[i] ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE;
        }
        *ret = g_steal_pointer(&values);
        return TRUE;
}

const char *direction_to_string(enum gpiod_line_direction direction) {
        /* A line's info is always input or output; "as-is" exists only in requests. */
        return direction == GPIOD_LINE_DIRECTION_OUTPUT ? "output" : "input";
}

const char *edge_to_string(enum gpiod_line_edge edge) {
        for (gsize i = 0; i < G_N_ELEMENTS(edge_values); i++)
                if (edge_values[i] == edge)
                        return edge_names[i];
        return "none";
}

const char *bias_to_string(enum gpiod_line_bias bias) {
        for (gsize i = 0; i < G_N_ELEMENTS(bias_values); i++)
                if (bias_values[i] == bias)
                        return bias_names[i];
        return "unknown";
}

const char *drive_to_string(enum gpiod_line_drive drive) {
        for (gsize i = 0; i < G_N_ELEMENTS(drive_values); i++)
                if (drive_values[i] == drive)
                        return drive_names[i];
        return "push-pull";
}
