/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* hello-client: calls the Quark "Hello" contract (com.example.hello.contract) through the code
 * appservice-codegen generated from it. Usage: hello-client [TEXT] */

#include <stdio.h>

#include "hello-client.h"

int main(int argc, char *argv[]) {
        g_autoptr(AppServiceConnection) connection = app_service_connection_new("com.example.hello", NULL);
        g_autoptr(HelloClient) hello = hello_client_new(connection, NULL, NULL);
        g_autoptr(GError) error = NULL;
        g_autofree gchar *result = NULL;
        const char *text = argc > 1 ? argv[1] : "world";

        if (app_service_connection_open_sync(connection, NULL, &error) == APP_SERVICE_CONNECTION_STATUS_SUCCESS)
                hello_client_call_hello_sync(hello, text, &result, NULL, &error);
        if (error) {
                fprintf(stderr, "hello-client: %s\n", error->message);
                return 1;
        }
        printf("Request says: %s\n", text);
        printf("Response says: %s\n", result);
        return app_service_connection_close_sync(connection, NULL, NULL) ? 0 : 1;
}
