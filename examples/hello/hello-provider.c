/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* hello-provider: the Quark "Hello" contract (com.example.hello.contract) served on the code
 * appservice-codegen generated from it: one typed handler, no ValueSet in sight. */

#include "hello-provider.h"

static void on_hello(HelloProvider *provider, HelloInvocation *invocation, const gchar *text, gpointer user_data) {
        g_autofree gchar *result = g_strdup_printf("Hello, %s!", text ? text : "world");

        hello_invocation_return_hello(invocation, result);
}

int main(void) {
        g_autoptr(AppServiceProvider) provider = app_service_provider_new("com.example.hello");
        const HelloProviderHandlers handlers = { .hello = on_hello };
        /* Answers each request of each connection while it lives. */
        HelloProvider *hello = hello_provider_new(provider, &handlers, NULL);
        g_autoptr(GError) error = NULL;

        if (!app_service_provider_register_sync(provider, NULL, &error)) {
                g_printerr("cannot serve com.example.hello: %s\n", error->message);
                g_object_unref(hello);
                return 1;
        }
        g_main_loop_run(g_main_loop_new(NULL, FALSE));     /* until SIGTERM */
        g_object_unref(hello);
        return 0;
}
