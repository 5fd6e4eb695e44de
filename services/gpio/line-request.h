/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One libgpiod line request: lines of one chip, held with one configuration, read and written
 * together, with their edge events delivered from the main loop. */

#include <glib.h>

#include "chips.h"
#include "settings.h"

typedef struct LineRequest LineRequest;

/* One edge, copied out of libgpiod's buffer. */
typedef struct {
        guint offset;
        gboolean rising;
        guint64 timestamp_ns;
        guint64 global_seqno;
        guint64 line_seqno;
} EdgeEvent;

/* The edges read from the kernel in one go, oldest first (@n_edges >= 1). */
typedef void (*EdgeFunc)(LineRequest *request, const EdgeEvent *edges, guint n_edges, gpointer user_data);

/* The most edges a request may ask to get in one event (EdgeBatch), and the most read from the
 * kernel at once: libgpiod's largest edge event buffer, the kernel's largest per request. */
#define EDGE_BATCH_MAX 1024

/* Requests @offsets (@n_offsets of them, no duplicates, all on @chip) with @settings; @values
 * (enum gpiod_line_value, one per line) are the outputs' first values. @edge_batch (0 to
 * EDGE_BATCH_MAX) is the request's EdgeBatch: with it, up to that many edges are read from the
 * kernel at once. line-busy names a line in use and its consumer; other failures of the kernel
 * are io. */
LineRequest *line_request_new(OpenChip *chip, guint32 id, const guint *offsets, gsize n_offsets,
                              const LineSettings *settings, GArray *values, const char *consumer,
                              guint edge_batch, EdgeFunc on_edge, gpointer user_data, GError **error);
/* Releases the lines. */
void line_request_free(LineRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LineRequest, line_request_free)

guint32 line_request_get_id(LineRequest *request);
/* A GRefString: g_ref_string_acquire() it to keep it beyond the request. */
const char *line_request_get_chip_name(LineRequest *request);
/* The offsets (guint) and names (GRefString, "" for none), in the request's order; owned by
 * @request. */
GArray *line_request_get_offsets(LineRequest *request);
GPtrArray *line_request_get_names(LineRequest *request);
/* A GRefString, as the names are. */
const char *line_request_get_line_name(LineRequest *request, guint offset);
/* EdgeBatch: 0 for one `edge` event per edge, else the most edges per `edges` event. */
guint line_request_get_edge_batch(LineRequest *request);
gboolean line_request_is_output(LineRequest *request);

/* The logical values (enum gpiod_line_value), in the request's order. */
gboolean line_request_read(LineRequest *request, GArray **ret_values, GError **error);
gboolean line_request_write(LineRequest *request, GArray *values, GError **error);
/* Replaces the whole configuration, atomically: on failure the old one stays. */
gboolean line_request_reconfigure(LineRequest *request, const LineSettings *settings, GArray *values,
                                  GError **error);
