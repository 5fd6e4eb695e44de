/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* hello-provider: the Quark "Hello" RPC contract as an app service. {text: s} -> {result: s}. */

#include <appservice.h>

static void on_request(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        const char *text =
                app_service_value_set_get_string(app_service_request_get_message(request), "text");
        g_autofree char *result = g_strdup_printf("Hello, %s!", text ? text : "world");

        app_service_request_send_response(request, g_variant_new_parsed("{'result': <%s>}", result), NULL,
                                          NULL, NULL);
}

static void on_connection(AppServiceProvider *provider, AppServiceConnection *connection, GVariant *caller,
                          gpointer user_data) {
        g_signal_connect(connection, "request-received", G_CALLBACK(on_request), NULL);
}

int main(void) {
        g_autoptr(AppServiceProvider) provider = app_service_provider_new("com.example.hello");
        g_autoptr(GError) error = NULL;

        g_signal_connect(provider, "connection-received", G_CALLBACK(on_connection), NULL);
        if (!app_service_provider_register_sync(provider, NULL, &error)) {
                g_printerr("cannot serve com.example.hello: %s\n", error->message);
                return 1;
        }
        g_main_loop_run(g_main_loop_new(NULL, FALSE));     /* until SIGTERM */
        return 0;
}
