/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * app2app-client: the client half of the App2App sample in C, a port of the Windows IoT Core
 * "PythonApp2App" sample's client (AppClient) to appservice, on the code appservice-codegen
 * generates from com.example.app2app.contract (app-to-app-client.h, in the build tree).
 *
 * The original's flow, step by step, each wait bounded by --timeout:
 *   1. open a connection to "com.example.app2app" (the broker starts the provider if needed);
 *   2. wait for the provider's greeting (the contract's callback Greet) and answer it;
 *   3. call TestValues and print the typed values that come back;
 *   4. call Echo with a text, and check that the same text comes back, alone;
 *   5. call Echo with the test values and compare the answer value by value, type included
 *      (GVariant equality);
 *   6. call Disconnect and wait for service-closed with status Completed.
 * It exits 0 only if every step succeeded and every value matched; otherwise 1, with the reason
 * on stderr.
 */

#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <appservice.h>

#include "app-to-app-client.h"

#define APP2APP_NAME     "com.example.app2app"
#define APP2APP_PROVIDER "com.example.App2App"
#define ECHO_TEXT        "this should be echoed back"

static gint arg_timeout = 20;
static gchar *arg_node = NULL;     /* --node: the service on another node, through the bridges */

typedef struct {
        AppServiceConnection *connection;
        AppToAppClient *app2app;        /* the generated client on the connection */
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
        g_clear_object(&c->app2app);
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

/* The contract's callback Greet: the provider's first words on every connection. */
static void on_greet(AppToAppClient *self, AppToAppCallbackInvocation *invocation, const gchar *greeting,
                     GVariant *caller, gpointer user_data) {
        Client *c = user_data;

        printf("\nRequest received from the provider:\n");
        print_value_set(app_service_request_get_message(app_to_app_callback_invocation_get_request(invocation)));
        printf("Greeting received: %s\n", greeting);
        printf("Sending the response...\n");
        app_to_app_callback_invocation_set_answered_callback(invocation, on_greeting_answered, c);
        app_to_app_callback_invocation_return_greet(invocation, "Thank you");
}

static void on_service_closed(AppServiceConnection *connection, AppServiceClosedStatus status,
                              gpointer user_data) {
        Client *c = user_data;

        c->closed = TRUE;
        c->closed_status = status;
}

/* ---- the steps ------------------------------------------------------------------------------ */

/* Waits for the call started with on_async_done and prints its status; the result to finish, or
 * NULL (after saying why) if the wait ran out. */
static GAsyncResult *wait_call(Client *c, const char *what) {
        if (!wait_for(c, &c->have_result, what))
                return NULL;
        return take_result(c);
}

/* The end of a call: its status line, or the reason it failed. */
static gboolean call_done(gboolean ok, GError *error, const char *what) {
        if (!ok) {
                fail("%s failed: %s", what, error->message);
                return FALSE;
        }
        printf("Status: success\n");
        return TRUE;
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
        static const AppToAppClientHandlers handlers = { .greet = on_greet };
        g_autoptr(GVariant) test_values = NULL, echoed_values = NULL, values_only = NULL;
        g_autofree char *echoed_text = NULL, *values_text = NULL, *status = NULL;
        g_autoptr(GAsyncResult) result = NULL;
        g_autoptr(GError) error = NULL;
        AppServiceConnectionStatus open_status;
        gsize n_values, n_equal;

        /* 1. Open. The handlers go on first: the greeting may come at once. */
        c->connection = app_service_connection_new(APP2APP_NAME, APP2APP_PROVIDER);
        if (arg_node)
                g_object_set(c->connection, "node", arg_node, NULL);
        c->app2app = app_to_app_client_new(c->connection, &handlers, c);
        g_signal_connect(c->connection, "service-closed", G_CALLBACK(on_service_closed), c);

        if (arg_node)
                printf("Opening %s (provider %s) on node %s...\n", APP2APP_NAME, APP2APP_PROVIDER, arg_node);
        else
                printf("Opening %s (provider %s)...\n", APP2APP_NAME, APP2APP_PROVIDER);
        app_service_connection_open(c->connection, c->cancellable, on_async_done, c);
        if (!(result = wait_call(c, "the connection to open")))
                return EXIT_FAILURE;
        open_status = app_service_connection_open_finish(c->connection, result, &error);
        g_clear_object(&result);
        printf("Open status: %s\n", enum_nick(APP_SERVICE_TYPE_CONNECTION_STATUS, open_status));
        if (open_status != APP_SERVICE_CONNECTION_STATUS_SUCCESS)
                return fail("cannot open %s: %s", APP2APP_NAME, error ? error->message : "no reason given");

        /* 2. The provider greets us; on_greet() answers. */
        if (!wait_for(c, &c->greeted, "the provider's greeting"))
                return EXIT_FAILURE;

        /* 3. The test values: the record TypedValues. */
        printf("\nCalling TestValues...\n");
        app_to_app_client_call_test_values(c->app2app, c->cancellable, on_async_done, c);
        if (!(result = wait_call(c, "TestValues")))
                return EXIT_FAILURE;
        if (!call_done(app_to_app_client_call_test_values_finish(c->app2app, result, &test_values, &error),
                       error, "TestValues"))
                return EXIT_FAILURE;
        g_clear_object(&result);
        n_values = g_variant_n_children(test_values);
        printf("Values: %zu\n", n_values);
        print_value_set(test_values);

        /* 4. A plain echo: the text, and nothing else. */
        printf("\nCalling Echo with a text...\n");
        app_to_app_client_call_echo(c->app2app, ECHO_TEXT, NULL, c->cancellable, on_async_done, c);
        if (!(result = wait_call(c, "Echo")))
                return EXIT_FAILURE;
        if (!call_done(app_to_app_client_call_echo_finish(c->app2app, result, &echoed_text, &values_only, &error),
                       error, "Echo"))
                return EXIT_FAILURE;
        g_clear_object(&result);
        printf("Text: %s\n", echoed_text ? echoed_text : "(none)");
        if (g_strcmp0(echoed_text, ECHO_TEXT) != 0 || values_only)
                return fail("the Echo answer differs from the text sent");

        /* 5. The test values, echoed back. */
        printf("\nCalling Echo with the test values...\n");
        app_to_app_client_call_echo(c->app2app, NULL, test_values, c->cancellable, on_async_done, c);
        if (!(result = wait_call(c, "Echo of the test values")))
                return EXIT_FAILURE;
        if (!call_done(app_to_app_client_call_echo_finish(c->app2app, result, &values_text, &echoed_values, &error),
                       error, "Echo of the test values"))
                return EXIT_FAILURE;
        g_clear_object(&result);
        if (!echoed_values || values_text)
                return fail("the Echo of the test values came back without them, or with a text");
        n_equal = compare_values(test_values, echoed_values);
        printf("%zu of %zu values compared equal (type and value)\n", n_equal, n_values);
        if (n_equal != n_values)
                return fail("%zu of %zu test values came back different", n_values - n_equal, n_values);
        if (!g_variant_equal(test_values, echoed_values))
                return fail("the echoed test values differ from those sent (extra or reordered keys)");

        /* 6. Disconnect: the provider answers, then closes; we get service-closed. */
        printf("\nCalling Disconnect...\n");
        app_to_app_client_call_disconnect(c->app2app, c->cancellable, on_async_done, c);
        if (!(result = wait_call(c, "Disconnect")))
                return EXIT_FAILURE;
        if (!call_done(app_to_app_client_call_disconnect_finish(c->app2app, result, &status, &error), error,
                       "Disconnect"))
                return EXIT_FAILURE;
        printf("Disconnect status: %s\n", status);
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
                G_OPTION_ENTRY_NULL
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
