/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The library survives a restart of the daemon: with a provider registered and a client
 * connected, appserviced gets SIGTERM (and must exit 0) and is started again. The client's
 * connection reports service-closed(Canceled), the provider re-registers by itself (registered
 * goes FALSE, then TRUE again without any call), and a new client opens and talks. */

#include <signal.h>

#include "libclient-test.h"

#define ECHO "com.example.echo"

static void check_round_trip(AppServiceConnection *c, const char *text) {
        g_autoptr(GVariant) message = g_variant_ref_sink(g_variant_new_parsed("{'text': <%s>}", text));
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;

        response = lt_send(c, message, &error);
        g_assert_no_error(error);
        if (!response)
                return;
        g_assert_cmpint(app_service_response_get_status(response), ==, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
        g_assert_true(lt_value_set_equal(app_service_response_get_message(response), message));
}

/* The provider in another process (provider-helper), the client here. */
static void test_restart_provider_process(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(AppServiceConnection) c2 = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *line = NULL;
        LtClosed closed = { 0 };
        LtHelper *provider;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        provider = lt_helper_start_provider(b, ECHO, "echo", NULL);
        c = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        g_signal_connect(c, "service-closed", G_CALLBACK(lt_closed_cb), &closed);
        g_assert_cmpint(lt_open(c, &error), ==, APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_no_error(error);
        check_round_trip(c, "before");
        /* Everything up to now is history. */
        lt_helper_forget(provider);

        LT_CHECK_OR_GOTO(lt_bus_stop_daemon(b), out);
        LT_WAIT(closed.count > 0, LT_WAIT_MS, "service-closed on the client");
        g_assert_cmpuint(closed.count, ==, 1);
        g_assert_cmpint(closed.status, ==, APP_SERVICE_CLOSED_STATUS_CANCELED);
        g_assert_false(app_service_connection_get_is_open(c));
        line = lt_helper_wait_line(provider, "registered ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "registered 0");
        g_clear_pointer(&line, g_free);
        /* The provider's own connection closed with Canceled too. */
        line = lt_helper_wait_line(provider, "closed ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "closed 1");
        g_clear_pointer(&line, g_free);

        LT_CHECK_OR_GOTO(lt_bus_start_daemon(b), out);
        line = lt_helper_wait_line(provider, "registered ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "registered 1");
        g_clear_pointer(&line, g_free);

        /* A new client opens the provider that re-registered (no activation: it has no Exec=). */
        c2 = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        g_assert_cmpint(lt_open(c2, &error), ==, APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_no_error(error);
        check_round_trip(c2, "after");
        /* The old object may open again too. */
        g_assert_cmpint(app_service_connection_open_sync(c, NULL, &error), ==, APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_no_error(error);
        check_round_trip(c, "again");
        g_assert_cmpuint(closed.count, ==, 1);
out:
        if (c)
                g_signal_handlers_disconnect_by_data(c, &closed);
}

static void echo_request_cb(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        app_service_request_send_response(request, app_service_request_get_message(request), NULL, NULL, NULL);
}

static void keep_connection_cb(AppServiceProvider *provider, AppServiceConnection *connection, GVariant *caller,
                               gpointer user_data) {
        g_ptr_array_add(user_data, g_object_ref(connection));
        g_signal_connect(connection, "request-received", G_CALLBACK(echo_request_cb), NULL);
}

static void registered_notify_cb(GObject *object, GParamSpec *pspec, gpointer user_data) {
        GArray *states = user_data;
        gboolean registered = app_service_provider_get_registered(APP_SERVICE_PROVIDER(object));

        g_array_append_val(states, registered);
}

/* The provider in this process, the client in another (provider-helper --stay client). */
static void test_restart_provider_in_process(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GArray) states = g_array_new(FALSE, FALSE, sizeof(gboolean));
        g_autoptr(GPtrArray) connections = g_ptr_array_new_with_free_func(g_object_unref);
        g_autofree char *line = NULL;
        const char *args[] = { "--stay", "client", ECHO, NULL };
        LtHelper *client;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, "[Properties]\ngreeting=hello\n");
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        p = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_signal_connect(p, "notify::registered", G_CALLBACK(registered_notify_cb), states);
        g_signal_connect(p, "connection-received", G_CALLBACK(keep_connection_cb), connections);
        g_assert_true(app_service_provider_register_sync(p, NULL, &error));
        g_assert_no_error(error);
        client = lt_helper_spawn(b, args);
        line = lt_helper_wait_line(client, "response ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "response 0 {'ping': <1>}");
        g_clear_pointer(&line, g_free);
        g_array_set_size(states, 0);

        LT_CHECK_OR_GOTO(lt_bus_stop_daemon(b), out);
        /* The client process hears Canceled... */
        line = lt_helper_wait_line(client, "closed ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "closed 1");
        g_clear_pointer(&line, g_free);
        /* ... and the provider is no longer registered. */
        LT_WAIT(states->len >= 1, LT_WAIT_MS, "notify::registered");
        g_assert_false(app_service_provider_get_registered(p));

        LT_CHECK_OR_GOTO(lt_bus_start_daemon(b), out);
        LT_WAIT(app_service_provider_get_registered(p), LT_WAIT_MS, "re-registration");
        g_assert_cmpuint(states->len, ==, 2);
        if (states->len == 2) {
                g_assert_false(g_array_index(states, gboolean, 0));
                g_assert_true(g_array_index(states, gboolean, 1));
        }
        /* The configuration came again with the new registration. */
        g_assert_cmpstr(app_service_provider_get_property_value(p, "static", "greeting"), ==, "hello");
        {
                g_autofree char *state = lt_bus_get_service_state(b, ECHO);

                g_assert_cmpstr(state, ==, "active");
        }
out:
        if (p) {
                g_signal_handlers_disconnect_by_data(p, states);
                g_signal_handlers_disconnect_by_data(p, connections);
        }
}

int main(int argc, char **argv) {
        lt_init(&argc, &argv);

        g_test_add_func("/restart/provider-process", test_restart_provider_process);
        g_test_add_func("/restart/provider-in-process", test_restart_provider_in_process);
        return g_test_run();
}
