/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-lib-echo: an echo provider on libappservice-1, for tools/bench's rows "brokered, library
 * provider" and "direct link, library provider". It serves the app service named on its command
 * line (default com.example.benchlib) and answers every request with the message itself. Whether
 * it takes direct links is the library's business: once the library registers providers with
 * "direct-links", OpenDirectConnection to it gives a link, and until then a brokered connection.
 * Runs until SIGTERM.
 */

#include <glib-unix.h>

#include <appservice.h>

static void on_request(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        app_service_request_send_response(request, app_service_request_get_message(request), NULL, NULL, NULL);
}

static void on_connection(AppServiceProvider *provider, AppServiceConnection *connection, GVariant *caller,
                          gpointer user_data) {
        g_signal_connect(connection, "request-received", G_CALLBACK(on_request), NULL);
}

static gboolean on_sigterm(gpointer user_data) {
        g_main_loop_quit(user_data);
        return G_SOURCE_REMOVE;
}

int main(int argc, char *argv[]) {
        const char *name = argc > 1 ? argv[1] : "com.example.benchlib";
        g_autoptr(AppServiceProvider) provider = app_service_provider_new(name);
        g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
        g_autoptr(GError) error = NULL;

        g_signal_connect(provider, "connection-received", G_CALLBACK(on_connection), NULL);
        if (!app_service_provider_register_sync(provider, NULL, &error)) {
                g_printerr("bench-lib-echo: cannot serve %s: %s\n", name, error->message);
                return 1;
        }
        g_unix_signal_add(SIGTERM, on_sigterm, loop);
        g_main_loop_run(loop);
        (void) app_service_provider_unregister_sync(provider, NULL, NULL);
        return 0;
}
