/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <glib-unix.h>

#include "gpio-error.h"
#include "line-request.h"

/* Edges read from the kernel per wake-up, at least; a request with a larger EdgeBatch reads up to
 * that many. More wait in the kernel's own buffer for the next wake-up. */
#define EDGE_BUFFER_CAPACITY 64
/* Edges the kernel keeps for a request while the service is busy elsewhere: its maximum (16 per
 * line for 64 lines), instead of its default of 16 per line, so that a burst shows as gaps only
 * when the service is really behind. Kernel memory, bounded by the kernel. */
#define KERNEL_EVENT_BUFFER_SIZE 1024

struct LineRequest {
        guint32 id;
        char *chip_name;  /* GRefString */
        GArray *offsets;  /* guint */
        GPtrArray *names; /* GRefString, "" for a line without a name */
        char *no_name;    /* GRefString "": the name of an offset not in the request */
        LineSettings settings;
        guint edge_batch;
        GpiodLineRequest *request;
        GpiodEdgeEventBuffer *edges;
        EdgeEvent *read;  /* the edges of one read, copied out of libgpiod's buffer */
        guint edge_watch;
        EdgeFunc on_edge;
        gpointer user_data;
};

void line_request_free(LineRequest *r) {
        if (!r)
                return;
        g_clear_handle_id(&r->edge_watch, g_source_remove);
        g_clear_pointer(&r->request, gpiod_line_request_release);
        g_clear_pointer(&r->edges, gpiod_edge_event_buffer_free);
        g_clear_pointer(&r->offsets, g_array_unref);
        g_clear_pointer(&r->names, g_ptr_array_unref);
        g_clear_pointer(&r->no_name, g_ref_string_release);
        g_clear_pointer(&r->chip_name, g_ref_string_release);
        g_free(r->read);
        g_free(r);
}

/* ---- configuration -------------------------------------------------------------------------- */

static GpiodLineConfig *line_config_new(const guint *offsets, gsize n, const LineSettings *settings,
                                        GArray *values, GError **error) {
        g_autoptr(GpiodLineSettings) line_settings = line_settings_to_gpiod(settings);
        g_autoptr(GpiodLineConfig) config = gpiod_line_config_new();

        if (!line_settings || !config)
                return (gpio_error_set_errno(error, errno, "cannot make a line configuration"), NULL);
        if (gpiod_line_config_add_line_settings(config, offsets, n, line_settings) < 0)
                return (gpio_error_set_errno(error, errno, "cannot configure the lines"), NULL);
        /* The values follow the order in which the offsets were added: the request's order. */
        if (settings->direction == GPIOD_LINE_DIRECTION_OUTPUT &&
            gpiod_line_config_set_output_values(config, (const enum gpiod_line_value *) values->data,
                                                values->len) < 0)
                return (gpio_error_set_errno(error, errno, "cannot set the output values"), NULL);
        return g_steal_pointer(&config);
}

/* ---- failures ------------------------------------------------------------------------------- */

/* EBUSY says only that some line is taken: find which one, and by whom, for the message. */
static void set_busy_error(OpenChip *chip, const guint *offsets, gsize n, GError **error) {
        for (gsize i = 0; i < n; i++) {
                g_autoptr(GpiodLineInfo) info = gpiod_chip_get_line_info(chip->chip, offsets[i]);
                const char *name, *consumer;

                if (!info || !gpiod_line_info_is_used(info))
                        continue;
                name = gpiod_line_info_get_name(info);
                consumer = gpiod_line_info_get_consumer(info);
                g_set_error(error, GPIO_ERROR, GPIO_ERROR_LINE_BUSY,
                            "line %u%s%s%s of chip '%s' is in use by '%s'", offsets[i], name ? " ('" : "",
                            name ? name : "", name ? "')" : "", chip->name, consumer ? consumer : "?");
                return;
        }
        g_set_error(error, GPIO_ERROR, GPIO_ERROR_LINE_BUSY, "a line of chip '%s' is in use", chip->name);
}

/* ---- edges ---------------------------------------------------------------------------------- */

static void copy_edge(EdgeEvent *edge, struct gpiod_edge_event *event) {
        *edge = (EdgeEvent){
                .offset = gpiod_edge_event_get_line_offset(event),
                .rising = gpiod_edge_event_get_event_type(event) == GPIOD_EDGE_EVENT_RISING_EDGE,
                .timestamp_ns = gpiod_edge_event_get_timestamp_ns(event),
                .global_seqno = gpiod_edge_event_get_global_seqno(event),
                .line_seqno = gpiod_edge_event_get_line_seqno(event),
        };
}

/* One read takes every edge the kernel holds, up to the buffer's capacity, and hands them on
 * together, so that they can leave in one event; what is left over wakes us again at once. */
static gboolean on_edges_readable(int fd, GIOCondition condition, gpointer user_data) {
        LineRequest *r = user_data;
        int n;

        n = gpiod_line_request_read_edge_events(r->request, r->edges,
                                                gpiod_edge_event_buffer_get_capacity(r->edges));
        if (n < 0) {
                /* Typically ENODEV: the chip went away; its removal releases the request. */
                g_warning("request %" G_GUINT32_FORMAT
                          " on chip '%s': cannot read edges, no longer watching: %s",
                          r->id, r->chip_name, g_strerror(errno));
                r->edge_watch = 0;
                return G_SOURCE_REMOVE;
        }
        for (int i = 0; i < n; i++)
                copy_edge(&r->read[i], gpiod_edge_event_buffer_get_event(r->edges, (unsigned long) i));
        if (n > 0)
                r->on_edge(r, r->read, (guint) n, r->user_data);
        return G_SOURCE_CONTINUE;
}

/* ---- the request ---------------------------------------------------------------------------- */

static GPtrArray *line_names_new(OpenChip *chip, const guint *offsets, gsize n) {
        GPtrArray *names = g_ptr_array_new_full((guint) n, (GDestroyNotify) g_ref_string_release);

        for (gsize i = 0; i < n; i++) {
                g_autoptr(GpiodLineInfo) info = gpiod_chip_get_line_info(chip->chip, offsets[i]);
                const char *name = info ? gpiod_line_info_get_name(info) : NULL;

                g_ptr_array_add(names, g_ref_string_new(name ? name : ""));
        }
        return names;
}

static GpiodLineRequest *request_lines(OpenChip *chip, const guint *offsets, gsize n,
                                       const LineSettings *settings, GArray *values, const char *consumer,
                                       GError **error) {
        g_autoptr(GpiodLineConfig) config = line_config_new(offsets, n, settings, values, error);
        g_autoptr(GpiodRequestConfig) request_config = NULL;
        GpiodLineRequest *request;

        if (!config)
                return NULL;
        request_config = gpiod_request_config_new();
        if (!request_config)
                return (gpio_error_set_errno(error, errno, "cannot make a request configuration"), NULL);
        gpiod_request_config_set_consumer(request_config, consumer);
        gpiod_request_config_set_event_buffer_size(request_config, KERNEL_EVENT_BUFFER_SIZE);

        request = gpiod_chip_request_lines(chip->chip, request_config, config);
        if (!request) {
                if (errno == EBUSY)
                        set_busy_error(chip, offsets, n, error);
                else
                        gpio_error_set_errno(error, errno, "the kernel refused the request on chip '%s'",
                                             chip->name);
        }
        return request;
}

LineRequest *line_request_new(OpenChip *chip, guint32 id, const guint *offsets, gsize n_offsets,
                              const LineSettings *settings, GArray *values, const char *consumer,
                              guint edge_batch, EdgeFunc on_edge, gpointer user_data, GError **error) {
        g_autoptr(LineRequest) r = g_new0(LineRequest, 1);
        guint capacity;

        g_return_val_if_fail(edge_batch <= EDGE_BATCH_MAX, NULL);

        r->id = id;
        r->chip_name = g_ref_string_new(chip->name);
        r->no_name = g_ref_string_new("");
        r->offsets = g_array_sized_new(FALSE, FALSE, sizeof(guint), (guint) n_offsets);
        g_array_append_vals(r->offsets, offsets, (guint) n_offsets);
        r->settings = *settings;
        r->edge_batch = edge_batch;
        r->on_edge = on_edge;
        r->user_data = user_data;
        /* Sized to the batch: the edges of one event come out of the kernel in one read. */
        capacity = MAX(edge_batch, EDGE_BUFFER_CAPACITY);
        r->edges = gpiod_edge_event_buffer_new(capacity);
        if (!r->edges)
                return (gpio_error_set_errno(error, errno, "cannot make an edge event buffer"), NULL);
        r->read = g_new(EdgeEvent, gpiod_edge_event_buffer_get_capacity(r->edges));

        r->request = request_lines(chip, offsets, n_offsets, settings, values, consumer, error);
        if (!r->request)
                return NULL;
        r->names = line_names_new(chip, offsets, n_offsets);
        /* Watched whatever the edge setting: with none, nothing arrives; Reconfigure may add some. */
        r->edge_watch = g_unix_fd_add(gpiod_line_request_get_fd(r->request), G_IO_IN, on_edges_readable, r);
        return g_steal_pointer(&r);
}

guint32 line_request_get_id(LineRequest *r) {
        return r->id;
}

const char *line_request_get_chip_name(LineRequest *r) {
        return r->chip_name;
}

GArray *line_request_get_offsets(LineRequest *r) {
        return r->offsets;
}

GPtrArray *line_request_get_names(LineRequest *r) {
        return r->names;
}

const char *line_request_get_line_name(LineRequest *r, guint offset) {
        for (guint i = 0; i < r->offsets->len; i++)
                if (g_array_index(r->offsets, guint, i) == offset)
                        return r->names->pdata[i];
        return r->no_name;
}

guint line_request_get_edge_batch(LineRequest *r) {
        return r->edge_batch;
}

gboolean line_request_is_output(LineRequest *r) {
        return r->settings.direction == GPIOD_LINE_DIRECTION_OUTPUT;
}

gboolean line_request_read(LineRequest *r, GArray **ret_values, GError **error) {
        g_autoptr(GArray) values =
                g_array_sized_new(FALSE, TRUE, sizeof(enum gpiod_line_value), r->offsets->len);

        g_array_set_size(values, r->offsets->len);
        if (gpiod_line_request_get_values(r->request, (enum gpiod_line_value *) values->data) < 0)
                return gpio_error_set_errno(error, errno,
                                            "cannot read the lines of request %" G_GUINT32_FORMAT, r->id);
        *ret_values = g_steal_pointer(&values);
        return TRUE;
}

gboolean line_request_write(LineRequest *r, GArray *values, GError **error) {
        g_return_val_if_fail(values->len == r->offsets->len, FALSE);

        if (gpiod_line_request_set_values(r->request, (const enum gpiod_line_value *) values->data) < 0)
                return gpio_error_set_errno(error, errno,
                                            "cannot write the lines of request %" G_GUINT32_FORMAT, r->id);
        return TRUE;
}

gboolean line_request_reconfigure(LineRequest *r, const LineSettings *settings, GArray *values,
                                  GError **error) {
        g_autoptr(GpiodLineConfig) config = NULL;

        config = line_config_new((const guint *) r->offsets->data, r->offsets->len, settings, values, error);
        if (!config)
                return FALSE;
        /* One ioctl: the kernel applies all of it or none. */
        if (gpiod_line_request_reconfigure_lines(r->request, config) < 0)
                return gpio_error_set_errno(error, errno, "cannot reconfigure request %" G_GUINT32_FORMAT,
                                            r->id);
        r->settings = *settings;
        return TRUE;
}
