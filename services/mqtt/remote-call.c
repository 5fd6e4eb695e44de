/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Calls to the broker, in order, at most REMOTE_CALLS_IN_FLIGHT_MAX at once; Refuse,
 * CloseWithStatus and FailRequest on a local connection; the errors a bridge may hand on. */
#include <string.h>

#include "remote-private.h"

/* The broker takes at most this many bytes of text with Refuse and FailRequest. */
#define BRIDGE_MESSAGE_MAX 1024

/* The errors the broker lets a bridge hand on (daemon/connection.c): Refuse's, FailRequest's. */
static const char *const refusals[] = {
        ERROR_APP_SERVICE_UNAVAILABLE, ERROR_APP_NOT_INSTALLED, ERROR_APP_UNAVAILABLE,
        ERROR_NOT_AUTHORIZED,          ERROR_DISABLED_BY_POLICY, ERROR_RESOURCE_LIMITS_EXCEEDED,
};
static const char *const failures[] = {
        ERROR_MESSAGE_SIZE_TOO_LARGE, ERROR_INVALID_MESSAGE, ERROR_RESOURCE_LIMITS_EXCEEDED, ERROR_TIMEOUT,
        ERROR_CLOSED,                 ERROR_APP_UNAVAILABLE, ERROR_NOT_AUTHORIZED,
        ERROR_CONTRACT_VIOLATION,     /* the other node's broker checks the service's contract */
};

/* ---- errors --------------------------------------------------------------------------------- */

static gboolean name_in(const char *name, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (g_strcmp0(name, list[i]) == 0)
                        return TRUE;
        return FALSE;
}

gboolean remote_error_is_refusal(const char *name) {
        return name_in(name, refusals, G_N_ELEMENTS(refusals));
}

gboolean remote_error_is_failure(const char *name) {
        return name_in(name, failures, G_N_ELEMENTS(failures));
}

/* At most BRIDGE_MESSAGE_MAX bytes, cut at a character. */
static char *bridge_message(const char *text) {
        const char *end;

        if (strlen(text) <= BRIDGE_MESSAGE_MAX)
                return g_strdup(text);
        end = g_utf8_find_prev_char(text, text + BRIDGE_MESSAGE_MAX + 1);
        return g_strndup(text, end ? (gsize) (end - text) : 0);
}

/* The D-Bus error name and the text of a failed call. */
void remote_error_split(const GError *error, char **ret_name, char **ret_message) {
        g_autoptr(GError) copy = g_error_copy(error);
        char *name = g_dbus_error_get_remote_error(copy);

        if (!name)
                name = g_dbus_error_encode_gerror(copy);
        g_dbus_error_strip_remote_error(copy);
        *ret_name = name;
        *ret_message = bridge_message(copy->message);
}

/* ---- calls to the broker, in order, at most REMOTE_CALLS_IN_FLIGHT_MAX at once -------------- */

void remote_call_free(Call *c) {
        if (c->free_data)
                c->free_data(c->data);
        g_clear_object(&c->cancellable);
        g_free(c->path);
        g_clear_pointer(&c->parameters, g_variant_unref);
        g_free(c);
}

static void gate_pump(Remote *r);

static void on_call_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        Call *c = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        Remote *r = c->remote;

        if (g_cancellable_is_cancelled(c->cancellable)) {
                /* The Remote is gone. */
                remote_call_free(c);
                return;
        }
        r->calls_in_flight--;
        if (c->done)
                c->done(r, reply, error, c->data);
        remote_call_free(c);
        gate_pump(r);
}

static void gate_pump(Remote *r) {
        Call *c;

        /* The call holds its parameters (not floating) until remote_call_free(): GDBus takes a
         * reference of its own. */
        while (r->calls_in_flight < REMOTE_CALLS_IN_FLIGHT_MAX && (c = g_queue_pop_head(&r->calls))) {
                r->calls_in_flight++;
                g_dbus_connection_call(r->bus, BUS_NAME, c->path, c->interface, c->method,
                                       c->parameters, c->reply_type, G_DBUS_CALL_FLAGS_NO_AUTO_START,
                                       c->timeout_msec, c->cancellable, on_call_reply, c);
        }
}

/* Calls `method`; `done` (may be NULL) gets the outcome, then `free_data` frees `data`. */
void remote_call(Remote *r, const char *path, const char *interface, const char *method, GVariant *parameters,
                 const GVariantType *reply_type, int timeout_msec, CallDone done, gpointer data,
                 GDestroyNotify free_data) {
        Call *c = g_new0(Call, 1);

        c->remote = r;
        c->cancellable = g_object_ref(r->cancellable);
        c->path = g_strdup(path);
        c->interface = interface;
        c->method = method;
        c->parameters = parameters ? g_variant_ref_sink(parameters) : NULL;
        c->reply_type = reply_type;
        c->timeout_msec = timeout_msec;
        c->done = done;
        c->data = data;
        c->free_data = free_data;
        g_queue_push_tail(&r->calls, c);
        gate_pump(r);
}

/* What a call on a local connection keeps until its reply: the library's connection (closed on
 * our side once the broker took the call), and the requests the library would answer on its own
 * when released (an empty response that must not overtake our call). */
typedef struct Keep {
        char *what;
        AppServiceConnection *connection;
        GPtrArray *requests;
} Keep;

static void keep_free(gpointer p) {
        Keep *k = p;

        g_free(k->what);
        g_clear_object(&k->connection);
        g_clear_pointer(&k->requests, g_ptr_array_unref);
        g_free(k);
}

static void on_lib_closed(GObject *source, GAsyncResult *result, gpointer user_data) {
        /* The broker closed it already: Close fails, as expected. */
        (void) app_service_connection_close_finish(APP_SERVICE_CONNECTION(source), result, NULL);
}

static void on_kept_call_done(Remote *r, GVariant *reply, const GError *error, gpointer data) {
        Keep *k = data;

        if (error && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                g_debug("%s failed, ignoring: %s", k->what, error->message);
        /* The library's object of a connection the broker no longer has: closed on our side. */
        if (k->connection && app_service_connection_get_is_open(k->connection))
                app_service_connection_close(k->connection, NULL, on_lib_closed, NULL);
}

static Keep *keep_new(const char *what, AppServiceConnection *connection) {
        Keep *k = g_new0(Keep, 1);

        k->what = g_strdup(what);
        k->connection = connection ? g_object_ref(connection) : NULL;
        return k;
}

static void keep_request(Keep *k, AppServiceRequest *request) {
        if (!request)
                return;
        if (!k->requests)
                k->requests = g_ptr_array_new_with_free_func(g_object_unref);
        g_ptr_array_add(k->requests, g_object_ref(request));
}

void remote_call_refuse(Remote *r, const char *path, AppServiceConnection *connection, const char *error_name,
                        const char *message) {
        g_autofree char *text = bridge_message(message);

        remote_call(r, path, CONNECTION_IFACE, "Refuse", g_variant_new("(ss)", error_name, text), NULL, -1,
                    on_kept_call_done, keep_new("Refuse", connection), keep_free);
}

void remote_call_close(Remote *r, const char *path, AppServiceConnection *connection, guint32 status,
                       GHashTable *requests) {
        Keep *k = keep_new("CloseWithStatus", connection);

        if (requests) {
                GHashTableIter iter;
                gpointer value;

                g_hash_table_iter_init(&iter, requests);
                while (g_hash_table_iter_next(&iter, NULL, &value))
                        keep_request(k, value);
        }
        remote_call(r, path, CONNECTION_IFACE, "CloseWithStatus", g_variant_new("(u)", status), NULL, -1,
                    on_kept_call_done, k, keep_free);
}

void remote_call_fail_request(Remote *r, const char *path, AppServiceRequest *request, guint64 id,
                              const char *error_name, const char *message) {
        g_autofree char *text = bridge_message(message);
        Keep *k = keep_new("FailRequest", NULL);

        if (!remote_error_is_failure(error_name))
                error_name = ERROR_APP_UNAVAILABLE;
        keep_request(k, request);
        remote_call(r, path, CONNECTION_IFACE, "FailRequest", g_variant_new("(tss)", id, error_name, text), NULL, -1,
                    on_kept_call_done, k, keep_free);
}
