/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * app2app-client: the client half of the App2App sample in C, a port of the Windows IoT Core
 * "PythonApp2App" sample's client (AppClient) to appservice, on libappservice alone.
 *
 * The original's flow, step by step, each wait bounded by --timeout:
 *   1. open a connection to "com.example.app2app" (the broker starts the provider if needed);
 *   2. wait for the provider's greeting (a request from the provider side) and answer it;
 *   3. send {"Command": "TestValues"} and print the typed values that come back;
 *   4. send an Echo with a string, and check that the answer is the message itself;
 *   5. send the test values back with "Command": "Echo" and compare the answer value by value,
 *      type included (GVariant equality);
 *   6. send {"Command": "Disconnect"} and wait for service-closed with status Completed.
 * It exits 0 only if every step succeeded and every value matched; otherwise 1, with the reason
 * on stderr.
 */

#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <appservice.h>

#define APP2APP_NAME     "com.example.app2app"
#define APP2APP_PROVIDER "com.example.App2App"
#define ECHO_TEXT        "this should be echoed back"

static gint arg_timeout = 20;
static gchar *arg_node = NULL;     /* --node: the service on another node, through the bridges */

typedef struct {
        AppServiceConnection *connection;
        GCancellable *cancellable;
        GAsyncResult *result;           /* of the async call being waited for */
        gboolean have_result;
        gboolean greeted;               /* the greeting arrived and was answered */
        gboolean closed;                /* service-closed arrived ... */
        AppServiceClosedStatus closed_status;   /* ... with this status */
} Client;

static void client_done(Client *c) {
        if (c->connection)
                g_signal_handlers_disconnect_by_data(c->connection, c);
        g_clear_object(&c->connection);
        g_clear_object(&c->cancellable);
        g_clear_object(&c->result);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Client, client_done)

static int fail(const char *format, ...) G_GNUC_PRINTF(1, 2);
static int fail(const char *format, ...) {
        va_list ap;

        fflush(stdout);
        fputs("app2app-client: FAILED: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
        return EXIT_FAILURE;
}

static const char *enum_nick(GType type, gint value) {
        g_autoptr(GEnumClass) klass = g_type_class_ref(type);
        GEnumValue *v = g_enum_get_value(klass, value);

        /* Nicks live as long as the type, which is static. */
        return v ? v->value_nick : "(unknown)";
}

/* One value a line: key, D-Bus type, value in GVariant text format (the Python client prints the
 * same lines, so the two transcripts can be compared). */
static void print_value_set(GVariant *value_set) {
        GVariantIter iter;
        const char *key;
        GVariant *value;

        g_variant_iter_init(&iter, value_set);
        while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
                g_autofree char *text = app_service_value_is_null(value) ? g_strdup("null")
                                                                          : g_variant_print(value, FALSE);

                printf("    %-16s %-4s %s\n", key, g_variant_get_type_string(value), text);
        }
}

static GVariant *value_set_new_string(const char *key, const char *value) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&b, "{sv}", key, g_variant_new_string(value));
        return g_variant_builder_end(&b);
}

/* ---- waiting, always with a deadline -------------------------------------------------------- */

static gboolean on_deadline(gpointer user_data) {
        gboolean *expired = user_data;

        *expired = TRUE;
        return G_SOURCE_REMOVE;
}

/* Runs the main context until *flag is set or --timeout seconds pass. Signals (the greeting,
 * service-closed) are delivered while it waits. */
static gboolean wait_for(Client *c, const gboolean *flag, const char *what) {
        gboolean expired = FALSE;
        guint deadline = g_timeout_add_seconds((guint) arg_timeout, on_deadline, &expired);

        while (!*flag && !expired)
                g_main_context_iteration(NULL, /* may_block= */ TRUE);
        if (!expired)
                g_source_remove(deadline);
        if (*flag)
                return TRUE;
        g_cancellable_cancel(c->cancellable);
        fail("timed out after %d s waiting for %s", arg_timeout, what);
        return FALSE;
}

static void on_async_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        Client *c = user_data;

        c->result = g_object_ref(result);
        c->have_result = TRUE;
}

static GAsyncResult *take_result(Client *c) {
        c->have_result = FALSE;
        return g_steal_pointer(&c->result);
}

/* ---- what the provider does to us ----------------------------------------------------------- */

static void on_greeting_answered(GObject *source, GAsyncResult *result, gpointer user_data) {
        Client *c = user_data;
        g_autoptr(GError) error = NULL;
        AppServiceResponseStatus status;

        status = app_service_request_send_response_finish(APP_SERVICE_REQUEST(source), result, &error);
        printf("Response status: %s\n", enum_nick(APP_SERVICE_TYPE_RESPONSE_STATUS, status));
        if (status != APP_SERVICE_RESPONSE_STATUS_SUCCESS)
                printf("    (%s)\n", error ? error->message : "no reason given");
        else
                c->greeted = TRUE;
}

static void on_request_received(AppServiceConnection *connection, AppServiceRequest *request,
                                gpointer user_data) {
        Client *c = user_data;
        GVariant *message = app_service_request_get_message(request);
        const char *greeting = app_service_value_set_get_string(message, "Greeting");

        printf("\nRequest received from the provider:\n");
        print_value_set(message);
        if (greeting)
                printf("Greeting received: %s\n", greeting);
        printf("Sending the response...\n");
        app_service_request_send_response(request, value_set_new_string("Greeting", "Thank you"),
                                          c->cancellable, on_greeting_answered, c);
}

static void on_service_closed(AppServiceConnection *connection, AppServiceClosedStatus status,
                              gpointer user_data) {
        Client *c = user_data;

        c->closed = TRUE;
        c->closed_status = status;
}

/* ---- the steps ------------------------------------------------------------------------------ */

/* Sends `message` (a floating reference is sunk) and waits for the answer; prints the status.
 * NULL (after saying why) unless the provider answered. */
static AppServiceResponse *send_message(Client *c, GVariant *message, const char *what) {
        g_autoptr(GVariant) owned = g_variant_ref_sink(message);
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GAsyncResult) result = NULL;
        g_autoptr(GError) error = NULL;
        AppServiceResponseStatus status;

        app_service_connection_send_message(c->connection, owned, c->cancellable, on_async_done, c);
        if (!wait_for(c, &c->have_result, what))
                return NULL;
        result = take_result(c);
        response = app_service_connection_send_message_finish(c->connection, result, &error);
        if (!response) {
                fail("%s failed: %s", what, error->message);
                return NULL;
        }
        status = app_service_response_get_status(response);
        printf("Status: %s\n", enum_nick(APP_SERVICE_TYPE_RESPONSE_STATUS, status));
        if (status != APP_SERVICE_RESPONSE_STATUS_SUCCESS) {
                const GError *e = app_service_response_get_error(response);

                fail("%s failed with status %s: %s", what,
                     enum_nick(APP_SERVICE_TYPE_RESPONSE_STATUS, status),
                     e ? e->message : "no reason given");
                return NULL;
        }
        return g_steal_pointer(&response);
}

/* Every value of `expected` must be in `got`, equal in type and value. Prints each mismatch;
 * returns how many matched. */
static gsize compare_values(GVariant *expected, GVariant *got) {
        GVariantIter iter;
        const char *key;
        GVariant *value;
        gsize equal = 0;

        g_variant_iter_init(&iter, expected);
        while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
                g_autoptr(GVariant) echoed = g_variant_lookup_value(got, key, NULL);

                if (echoed && g_variant_equal(value, echoed)) {
                        equal++;
                        continue;
                }
                g_autofree char *want = g_variant_print(value, TRUE);
                g_autofree char *have = echoed ? g_variant_print(echoed, TRUE) : g_strdup("(missing)");
                printf("    MISMATCH %s: sent %s, got back %s\n", key, want, have);
        }
        return equal;
}

static int run(Client *c) {
        g_autoptr(AppServiceResponse) test_response = NULL, echo_response = NULL, values_response = NULL,
                                      disconnect_response = NULL;
        g_autoptr(GAsyncResult) result = NULL;
        g_autoptr(GError) error = NULL;
        GVariant *test_values, *echoed;
        AppServiceConnectionStatus open_status;
        GVariantBuilder b;
        gsize n_values, n_equal;

        /* 1. Open. The handlers go on first: the greeting may come at once. */
        c->connection = app_service_connection_new(APP2APP_NAME, APP2APP_PROVIDER);
        if (arg_node)
                g_object_set(c->connection, "node", arg_node, NULL);
        g_signal_connect(c->connection, "request-received", G_CALLBACK(on_request_received), c);
        g_signal_connect(c->connection, "service-closed", G_CALLBACK(on_service_closed), c);

        if (arg_node)
                printf("Opening %s (provider %s) on node %s...\n", APP2APP_NAME, APP2APP_PROVIDER, arg_node);
        else
                printf("Opening %s (provider %s)...\n", APP2APP_NAME, APP2APP_PROVIDER);
        app_service_connection_open(c->connection, c->cancellable, on_async_done, c);
        if (!wait_for(c, &c->have_result, "the connection to open"))
                return EXIT_FAILURE;
        result = take_result(c);
        open_status = app_service_connection_open_finish(c->connection, result, &error);
        printf("Open status: %s\n", enum_nick(APP_SERVICE_TYPE_CONNECTION_STATUS, open_status));
        if (open_status != APP_SERVICE_CONNECTION_STATUS_SUCCESS)
                return fail("cannot open %s: %s", APP2APP_NAME, error ? error->message : "no reason given");

        /* 2. The provider greets us; on_request_received() answers. */
        if (!wait_for(c, &c->greeted, "the provider's greeting"))
                return EXIT_FAILURE;

        /* 3. The test values. */
        printf("\nSending TestValues...\n");
        test_response = send_message(c, value_set_new_string("Command", "TestValues"), "TestValues");
        if (!test_response)
                return EXIT_FAILURE;
        test_values = app_service_response_get_message(test_response);
        n_values = g_variant_n_children(test_values);
        printf("Message: %zu values\n", n_values);
        print_value_set(test_values);
        if (n_values == 0)
                return fail("TestValues came back empty");

        /* 4. A plain echo. */
        printf("\nSending Echo with a string...\n");
        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&b, "{sv}", "Command", g_variant_new_string("Echo"));
        g_variant_builder_add(&b, "{sv}", "String", g_variant_new_string(ECHO_TEXT));
        g_autoptr(GVariant) echo_message = g_variant_ref_sink(g_variant_builder_end(&b));
        echo_response = send_message(c, echo_message, "Echo");
        if (!echo_response)
                return EXIT_FAILURE;
        echoed = app_service_response_get_message(echo_response);
        printf("Message:\n");
        print_value_set(echoed);
        if (!g_variant_equal(echo_message, echoed))
                return fail("the Echo answer differs from the message sent");

        /* 5. The test values, echoed back: the original adds the command to the values. */
        printf("\nSending the test values back with Echo...\n");
        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        {
                GVariantIter iter;
                const char *key;
                GVariant *value;

                g_variant_iter_init(&iter, test_values);
                while (g_variant_iter_loop(&iter, "{&sv}", &key, &value))
                        if (!g_str_equal(key, "Command"))
                                g_variant_builder_add(&b, "{sv}", key, value);
        }
        g_variant_builder_add(&b, "{sv}", "Command", g_variant_new_string("Echo"));
        g_autoptr(GVariant) values_message = g_variant_ref_sink(g_variant_builder_end(&b));
        values_response = send_message(c, values_message, "Echo of the test values");
        if (!values_response)
                return EXIT_FAILURE;
        echoed = app_service_response_get_message(values_response);
        n_equal = compare_values(test_values, echoed);
        printf("%zu of %zu values compared equal (type and value)\n", n_equal, n_values);
        if (n_equal != n_values)
                return fail("%zu of %zu test values came back different", n_values - n_equal, n_values);
        if (!g_variant_equal(values_message, echoed))
                return fail("the echoed test values differ from the message sent (extra or reordered keys)");

        /* 6. Disconnect: the provider answers, then closes; we get service-closed. */
        printf("\nSending Disconnect...\n");
        disconnect_response = send_message(c, value_set_new_string("Command", "Disconnect"), "Disconnect");
        if (!disconnect_response)
                return EXIT_FAILURE;
        printf("Message:\n");
        print_value_set(app_service_response_get_message(disconnect_response));
        if (!wait_for(c, &c->closed, "service-closed after Disconnect"))
                return EXIT_FAILURE;
        printf("Service closed: %s\n", enum_nick(APP_SERVICE_TYPE_CLOSED_STATUS, c->closed_status));
        if (c->closed_status != APP_SERVICE_CLOSED_STATUS_COMPLETED)
                return fail("the connection closed with status %s, expected completed",
                            enum_nick(APP_SERVICE_TYPE_CLOSED_STATUS, c->closed_status));

        printf("\nApp2App client (C): all checks passed\n");
        return EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        static const GOptionEntry options[] = {
                { "timeout", 't', 0, G_OPTION_ARG_INT, &arg_timeout,
                  "Seconds to wait at each step (default 20)", "SECONDS" },
                { "node", 'n', 0, G_OPTION_ARG_STRING, &arg_node,
                  "Open the app service on that node, through the MQTT bridges (default: this one)", "NODE" },
                {}
        };
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(GError) error = NULL;
        g_auto(Client) c = { 0 };
        int r;

        setlocale(LC_ALL, "");
        context = g_option_context_new("- the App2App sample's client, in C");
        g_option_context_set_summary(context,
                                     "Opens com.example.app2app, answers the provider's greeting, fetches "
                                     "typed test values, echoes them back, compares, and disconnects.\n"
                                     "The bus is the system bus, or the one in DBUS_SYSTEM_BUS_ADDRESS.");
        g_option_context_add_main_entries(context, options, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                fprintf(stderr, "app2app-client: %s\n", error->message);
                return 2;
        }
        if (argc > 1 || arg_timeout <= 0 || (arg_node && !arg_node[0])) {
                fprintf(stderr, "app2app-client: usage: %s [--timeout=SECONDS] [--node=NODE]\n", argv[0]);
                return 2;
        }

        /* A line at a time even into a pipe, so that the transcript interleaves in order with
         * the provider's log (as in tools/demo). */
        setvbuf(stdout, NULL, _IOLBF, 0);
        c.cancellable = g_cancellable_new();
        r = run(&c);
        fflush(stdout);
        return r;
}
