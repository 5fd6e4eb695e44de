/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * load-libclient: a client on libappservice-1 for the fault scenarios of the load suite
 * (tests/load/load-suite.py), written as an application would: one AppServiceConnection on the
 * shared system bus (DBUS_SYSTEM_BUS_ADDRESS), a message every --interval-ms, and a new
 * open_async() whenever the connection is not open (it closed, or the last open failed).
 *
 *   load-libclient --service=NAME [--interval-ms=MS]
 *
 * One line on stdout per event, for the suite to wait for:
 *   "open ok" | "open failed STATUS MESSAGE"
 *   "ok N"                      the Nth response that echoed its message
 *   "fail STATUS MESSAGE"       a send that failed
 *   "closed STATUS"             the service-closed signal
 * and on SIGTERM or SIGINT "libclient ok=N failed=N opens=N closed=N" before exit 0.
 */

#include <stdio.h>
#include <stdlib.h>

#include <glib-unix.h>
#include <gio/gio.h>

#include <appservice.h>

static gchar *arg_service = NULL;
static gint arg_interval_ms = 100;

typedef struct Client {
        GMainLoop *loop;
        AppServiceConnection *connection;
        gboolean busy;          /* an open or a send is under way */
        guint64 sent, ok, failed, opens, closed;
} Client;

static void emit(const char *format, ...) G_GNUC_PRINTF(1, 2);
static void emit(const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vprintf(format, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

static void sent_cb(GObject *source, GAsyncResult *result, gpointer user_data) {
        Client *c = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        GVariant *message;
        guint64 seq = 0;

        c->busy = FALSE;
        response = app_service_connection_send_message_finish(APP_SERVICE_CONNECTION(source), result, &error);
        if (response && app_service_response_get_status(response) == APP_SERVICE_RESPONSE_STATUS_SUCCESS &&
            (message = app_service_response_get_message(response)) &&
            g_variant_lookup(message, "seq", "t", &seq) && seq == c->sent) {
                c->ok++;
                emit("ok %" G_GUINT64_FORMAT, c->ok);
                return;
        }
        c->failed++;
        emit("fail %d %s", response ? (int) app_service_response_get_status(response) : -1,
             error ? error->message : "wrong or empty response");
}

static void opened_cb(GObject *source, GAsyncResult *result, gpointer user_data) {
        Client *c = user_data;
        g_autoptr(GError) error = NULL;
        AppServiceConnectionStatus status;

        c->busy = FALSE;
        status = app_service_connection_open_finish(APP_SERVICE_CONNECTION(source), result, &error);
        if (status == APP_SERVICE_CONNECTION_STATUS_SUCCESS)
                emit("open ok");
        else
                emit("open failed %d %s", (int) status, error ? error->message : "-");
}

static void on_service_closed(AppServiceConnection *connection, AppServiceClosedStatus status, gpointer user_data) {
        Client *c = user_data;

        c->closed++;
        emit("closed %d", (int) status);
}

static gboolean tick_cb(gpointer user_data) {
        Client *c = user_data;
        g_autoptr(GVariant) message = NULL;

        if (c->busy)
                return G_SOURCE_CONTINUE;
        c->busy = TRUE;
        if (!app_service_connection_get_is_open(c->connection)) {
                c->opens++;
                app_service_connection_open(c->connection, NULL, opened_cb, c);
                return G_SOURCE_CONTINUE;
        }
        c->sent++;
        message = g_variant_ref_sink(g_variant_new_parsed("{'seq': <%t>}", c->sent));
        app_service_connection_send_message(c->connection, message, NULL, sent_cb, c);
        return G_SOURCE_CONTINUE;
}

static gboolean quit_cb(gpointer user_data) {
        Client *c = user_data;

        g_main_loop_quit(c->loop);
        return G_SOURCE_REMOVE;
}

int main(int argc, char *argv[]) {
        const GOptionEntry entries[] = {
                { "service", 0, 0, G_OPTION_ARG_STRING, &arg_service, "The app service to talk to", "NAME" },
                { "interval-ms", 0, 0, G_OPTION_ARG_INT, &arg_interval_ms, "Between messages (100)", "MS" },
                G_OPTION_ENTRY_NULL
        };
        g_autoptr(GOptionContext) options = g_option_context_new("- a client that recovers");
        g_autoptr(GError) error = NULL;
        Client c = {};

        g_option_context_add_main_entries(options, entries, NULL);
        if (!g_option_context_parse(options, &argc, &argv, &error) || !arg_service || arg_interval_ms <= 0) {
                g_printerr("load-libclient: %s\n", error ? error->message : "--service=NAME is required");
                return EXIT_FAILURE;
        }

        c.loop = g_main_loop_new(NULL, FALSE);
        c.connection = app_service_connection_new(arg_service, NULL);
        g_signal_connect(c.connection, "service-closed", G_CALLBACK(on_service_closed), &c);
        g_unix_signal_add(SIGTERM, quit_cb, &c);
        g_unix_signal_add(SIGINT, quit_cb, &c);
        g_timeout_add(arg_interval_ms, tick_cb, &c);
        tick_cb(&c);

        g_main_loop_run(c.loop);
        emit("libclient ok=%" G_GUINT64_FORMAT " failed=%" G_GUINT64_FORMAT " opens=%" G_GUINT64_FORMAT
             " closed=%" G_GUINT64_FORMAT, c.ok, c.failed, c.opens, c.closed);
        g_signal_handlers_disconnect_by_data(c.connection, &c);
        g_object_unref(c.connection);
        g_main_loop_unref(c.loop);
        g_free(arg_service);
        return EXIT_SUCCESS;
}
