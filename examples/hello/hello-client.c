/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* hello-client: calls the Quark "Hello" contract, {text: s} -> {result: s}, on com.example.hello.
 * Usage: hello-client [TEXT] */

#include <stdio.h>

#include <appservice.h>

int main(int argc, char *argv[]) {
        g_autoptr(AppServiceConnection) connection = app_service_connection_new("com.example.hello", NULL);
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GError) error = NULL;
        const char *text = argc > 1 ? argv[1] : "world";

        if (app_service_connection_open_sync(connection, NULL, &error) ==
            APP_SERVICE_CONNECTION_STATUS_SUCCESS)
                response = app_service_connection_send_message_sync(
                        connection, g_variant_new_parsed("{'text': <%s>}", text), NULL, &error);
        if (response && !error &&
            app_service_response_get_status(response) != APP_SERVICE_RESPONSE_STATUS_SUCCESS)
                error = g_error_copy(app_service_response_get_error(response));
        if (error) {
                fprintf(stderr, "hello-client: %s\n", error->message);
                return 1;
        }
        printf("Request says: %s\n", text);
        printf("Response says: %s\n",
               app_service_value_set_get_string(app_service_response_get_message(response), "result"));
        return app_service_connection_close_sync(connection, NULL, NULL) ? 0 : 1;
}
