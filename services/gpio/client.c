/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "client.h"
#include "event-queue.h"
#include "gpio-error.h"

struct Client {
        AppServiceConnection *connection; /* NULL in tests */
        char *label;
        Limits limits;
        GHashTable *requests; /* id (GUINT_TO_POINTER) → LineRequest (owned) */
        guint32 next_id;
        EventQueue *events;
};

Client *client_new(AppServiceConnection *connection, const Limits *limits) {
        Client *c = g_new0(Client, 1);
        const char *path = connection ? app_service_connection_get_object_path(connection) : NULL;

        c->connection = connection ? g_object_ref(connection) : NULL;
        c->label = g_strdup(path ? path : "(connection)");
        c->limits = *limits;
        c->requests = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                            (GDestroyNotify) line_request_free);
        c->next_id = 1;
        c->events = event_queue_new(connection, limits->event_window, limits->event_queue_length);
        return c;
}

void client_free(Client *c) {
        guint n;

        if (!c)
                return;
        n = g_hash_table_size(c->requests);
        if (n > 0)
                g_message("%s: closed, releasing its %u request(s)", c->label, n);
        /* Freeing the table releases every line request at once. */
        g_hash_table_unref(c->requests);
        event_queue_close(c->events);
        event_queue_unref(c->events);
        g_clear_object(&c->connection);
        g_free(c->label);
        g_free(c);
}

const char *client_get_label(Client *c) {
        return c->label;
}

gboolean client_reserve_id(Client *c, guint32 *ret_id, GError **error) {
        if (g_hash_table_size(c->requests) >= c->limits.max_requests) {
                g_set_error(error, GPIO_ERROR, GPIO_ERROR_LIMIT,
                            "this connection holds %u requests already, the most it may (MaxRequests): "
                            "release one first",
                            c->limits.max_requests);
                return FALSE;
        }
        /* Ids are not reused while the counter lasts; after 2³² requests, skip 0 and those held. */
        while (c->next_id == 0 || g_hash_table_contains(c->requests, GUINT_TO_POINTER(c->next_id)))
                c->next_id++;
        *ret_id = c->next_id++;
        return TRUE;
}

void client_add_request(Client *c, LineRequest *request) {
        g_hash_table_insert(c->requests, GUINT_TO_POINTER(line_request_get_id(request)), request);
}

LineRequest *client_lookup_request(Client *c, guint32 id, GError **error) {
        LineRequest *request = g_hash_table_lookup(c->requests, GUINT_TO_POINTER(id));

        if (!request)
                g_set_error(error, GPIO_ERROR, GPIO_ERROR_UNKNOWN_REQUEST,
                            "this connection has no request %" G_GUINT32_FORMAT, id);
        return request;
}

gboolean client_release_request(Client *c, guint32 id, GError **error) {
        if (!client_lookup_request(c, id, error))
                return FALSE;
        g_hash_table_remove(c->requests, GUINT_TO_POINTER(id));
        return TRUE;
}

void client_release_chip(Client *c, const char *chip_name) {
        GHashTableIter iter;
        gpointer value;

        g_hash_table_iter_init(&iter, c->requests);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                LineRequest *request = value;
                guint32 id = line_request_get_id(request);

                if (!g_str_equal(line_request_get_chip_name(request), chip_name))
                        continue;
                g_message("%s: request %" G_GUINT32_FORMAT " released: chip '%s' went away", c->label, id,
                          chip_name);
                g_hash_table_iter_remove(&iter);
                event_queue_push_released(c->events, id, chip_name, "chip-removed");
        }
}

void client_on_edges(LineRequest *request, const EdgeEvent *edges, guint n_edges, gpointer user_data) {
        Client *c = user_data;
        EdgeSource source = {
                .request_id = line_request_get_id(request),
                .chip = line_request_get_chip_name(request),
                .edge_batch = line_request_get_edge_batch(request),
        };
        g_autofree const char **names = NULL;

        /* `edge` events name each edge's line; `edges` events do not. */
        if (source.edge_batch == 0) {
                names = g_new(const char *, n_edges);
                for (guint i = 0; i < n_edges; i++)
                        names[i] = line_request_get_line_name(request, edges[i].offset);
        }
        event_queue_push_edges(c->events, &source, edges, names, n_edges);
}
