/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Direct links (io.appservice1.Link) between the library's two ends, against the real daemon:
 * messages in both directions skip the broker (its monitor sees none), deferral out of order
 * with unique ids, every way a link ends, no fd left behind, and APPSERVICE_DIRECT=0. The other
 * libclient tests run over direct links too, since the library asks for them by default; the
 * receiving side's limits are tested from Python with a raw peer (test_python.py). */

#include <signal.h>
#include <string.h>

#include "libclient-test.h"

#define ECHO "com.example.echo"

static void show_fds(void) {
        g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
                g_autofree char *path = g_strdup_printf("/proc/self/fd/%s", name);
                g_autofree char *target = g_file_read_link(path, NULL);

                g_test_message("fd %s -> %s", name, target ? target : "?");
        }
}

/* The process's sockets: a link is one; the helpers' pipes and pidfds come and go besides. */
static guint count_fds(void) {
        g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
        const char *name;
        guint n = 0;

        while (dir && (name = g_dir_read_name(dir))) {
                g_autofree char *path = g_strdup_printf("/proc/self/fd/%s", name);
                g_autofree char *target = g_file_read_link(path, NULL);

                if (target && g_str_has_prefix(target, "socket:"))
                        n++;
        }
        return n;
}

/* The broker's Direct property of a connection. */
static gboolean broker_says_direct(LtBus *b, const char *path) {
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) value = NULL;

        reply = g_dbus_connection_call_sync(b->conn, "io.appservice1", path, "org.freedesktop.DBus.Properties", "Get",
                                            g_variant_new("(ss)", "io.appservice1.Connection", "Direct"),
                                            G_VARIANT_TYPE("(v)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
        if (!reply)
                return FALSE;
        g_variant_get(reply, "(v)", &value);
        return g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN) && g_variant_get_boolean(value);
}

typedef struct {
        GPtrArray *types;
} Events;

static void on_event(AppServiceNode *node, const char *type, GVariant *event, gpointer user_data) {
        g_ptr_array_add(((Events *) user_data)->types, g_strdup(type));
}

static gboolean events_have(Events *e, const char *type) {
        for (guint i = 0; i < e->types->len; i++)
                if (g_str_equal(e->types->pdata[i], type))
                        return TRUE;
        return FALSE;
}

typedef struct {
        guint received;
        GVariant *message;
} Greeted;

static void greeted_cb(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        Greeted *g = user_data;
        g_autoptr(GVariant) reply = lt_value_set("{'reply': <'hi'>}");

        g->received++;
        g_clear_pointer(&g->message, g_variant_unref);
        g->message = g_variant_ref(app_service_request_get_message(request));
        app_service_request_send_response(request, reply, NULL, NULL, NULL);
}

/* Both directions over the link: the provider greets, the client sends; direct on both ends and
 * at the broker, whose monitor sees the connection open but no request or response. */
static void test_echo_both_directions(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceNode) node = NULL;
        g_autoptr(AppServiceConnection) connection = NULL;
        g_autoptr(GVariant) message = lt_value_set("{'n': <int32 7>, 's': <'x'>}");
        g_autoptr(GVariant) greeting = lt_value_set("{'greeting': <'hello'>}");
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *line = NULL;
        Events events = { g_ptr_array_new_with_free_func(g_free) };
        Greeted greeted = { 0 };
        LtHelper *provider;

        if (!b)
                goto out;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_GOTO(lt_bus_start_daemon(b), out);
        node = app_service_node_new_for_bus(b->conn);
        g_signal_connect(node, "monitor-event", G_CALLBACK(on_event), &events);
        LT_CHECK_OR_GOTO(app_service_node_start_monitoring_sync(node, NULL, &error), out);

        provider = lt_helper_start_provider(b, ECHO, "greet-on-connect", NULL);
        LT_CHECK_OR_GOTO(provider, out);
        connection = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        g_signal_connect(connection, "request-received", G_CALLBACK(greeted_cb), &greeted);
        g_assert_cmpint(app_service_connection_open_sync(connection, NULL, &error), ==,
                        APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_no_error(error);
        g_assert_true(app_service_connection_get_direct(connection));
        g_assert_true(broker_says_direct(b, app_service_connection_get_object_path(connection)));

        response = app_service_connection_send_message_sync(connection, message, NULL, &error);
        g_assert_no_error(error);
        LT_CHECK_OR_GOTO(response, out);
        g_assert_cmpint(app_service_response_get_status(response), ==, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
        g_assert_true(lt_value_set_equal(app_service_response_get_message(response), message));

        LT_CHECK_OR_GOTO(LT_WAIT(greeted.received == 1, LT_WAIT_MS, "the provider's greeting"), out);
        g_assert_true(lt_value_set_equal(greeted.message, greeting));
        line = lt_helper_wait_line(provider, "greet-response ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "greet-response 0 {'reply': <'hi'>}");

        g_assert_true(app_service_connection_close_sync(connection, NULL, &error));
        g_assert_no_error(error);
        LT_WAIT(events_have(&events, "connection-closed"), LT_WAIT_MS, "the monitor's connection-closed");
        g_assert_true(events_have(&events, "connection-opened"));
        g_assert_false(events_have(&events, "request"));
        g_assert_false(events_have(&events, "response"));
out:
        if (connection)
                g_signal_handlers_disconnect_by_data(connection, &greeted);
        if (node)
                g_signal_handlers_disconnect_by_data(node, &events);
        g_clear_pointer(&greeted.message, g_variant_unref);
        g_ptr_array_unref(events.types);
}

/* ---- an in-process provider: deferral out of order, ids ---------------------------------------- */

typedef struct {
        GPtrArray *requests; /* AppServiceRequest, kept */
        AppServiceConnection *connection;
} Held;

static void held_request_cb(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        g_ptr_array_add(((Held *) user_data)->requests, g_object_ref(request));
}

static void held_connection_cb(AppServiceProvider *provider, AppServiceConnection *connection, GVariant *caller,
                               gpointer user_data) {
        Held *h = user_data;

        g_set_object(&h->connection, connection);
        g_signal_connect(connection, "request-received", G_CALLBACK(held_request_cb), h);
}

#define N_DEFERRED 5

static void test_deferral_out_of_order(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) provider = NULL;
        g_autoptr(AppServiceConnection) connection = NULL;
        g_autoptr(GError) error = NULL;
        Held held = { g_ptr_array_new_with_free_func(g_object_unref), NULL };
        LtResult results[N_DEFERRED] = { 0 };
        g_autoptr(GHashTable) ids = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);

        if (!b)
                goto out;
        lt_bus_write_definition(b, ECHO, 0644, "RequestTimeoutSec=60\n");
        LT_CHECK_OR_GOTO(lt_bus_start_daemon(b), out);
        /* The provider on a bus connection of its own: another peer for the broker. */
        provider = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_signal_connect(provider, "connection-received", G_CALLBACK(held_connection_cb), &held);
        LT_CHECK_OR_GOTO(app_service_provider_register_sync(provider, NULL, &error), out);

        connection = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        LT_CHECK_OR_GOTO(lt_open(connection, &error) == APP_SERVICE_CONNECTION_STATUS_SUCCESS, out);
        g_assert_true(app_service_connection_get_direct(connection));
        for (guint i = 0; i < N_DEFERRED; i++) {
                g_autofree char *text = g_strdup_printf("{'i': <int32 %u>}", i);
                g_autoptr(GVariant) message = lt_value_set(text);

                app_service_connection_send_message(connection, message, NULL, lt_result_cb, &results[i]);
        }
        LT_CHECK_OR_GOTO(LT_WAIT(held.requests->len == N_DEFERRED, LT_WAIT_MS, "the requests"), out);
        g_assert_true(app_service_connection_get_direct(held.connection));
        for (guint i = 0; i < N_DEFERRED; i++) {
                guint64 id = app_service_request_get_id(held.requests->pdata[i]);

                g_assert_cmpuint(id, !=, 0);
                g_assert_true(g_hash_table_add(ids, g_memdup2(&id, sizeof id)));
        }
        /* Nothing answered yet: nothing came back. */
        LT_RUN_FOR(FALSE, lt_ms(100));
        for (guint i = 0; i < N_DEFERRED; i++)
                g_assert_null(results[i].result);

        /* Answered last first, each with its own message plus a mark. */
        for (guint i = N_DEFERRED; i-- > 0;) {
                AppServiceRequest *request = held.requests->pdata[i];
                gint32 n = -1;
                g_autofree char *text = NULL;
                g_autoptr(GVariant) reply = NULL;

                g_variant_lookup(app_service_request_get_message(request), "i", "i", &n);
                text = g_strdup_printf("{'answer': <int32 %d>}", n);
                reply = lt_value_set(text);
                g_assert_cmpint(app_service_request_send_response_sync(request, reply, NULL, &error), ==,
                                APP_SERVICE_RESPONSE_STATUS_SUCCESS);
                g_assert_no_error(error);
                g_assert_true(app_service_request_get_answered(request));
                /* Once only. */
                g_assert_cmpint(app_service_request_send_response_sync(request, reply, NULL, &error), !=,
                                APP_SERVICE_RESPONSE_STATUS_SUCCESS);
                g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_UNKNOWN_REQUEST);
                g_clear_error(&error);
        }
        for (guint i = 0; i < N_DEFERRED; i++) {
                g_autoptr(AppServiceResponse) response = NULL;
                gint32 n = -1;

                LT_CHECK_OR_GOTO(lt_result_wait(&results[i], LT_WAIT_MS, "a response"), out);
                response = app_service_connection_send_message_finish(connection, results[i].result, &error);
                g_assert_no_error(error);
                LT_CHECK_OR_GOTO(response, out);
                g_assert_true(g_variant_lookup(app_service_response_get_message(response), "answer", "i", &n));
                g_assert_cmpint(n, ==, (gint) i);
        }
out:
        for (guint i = 0; i < N_DEFERRED; i++)
                lt_result_clear(&results[i]);
        g_ptr_array_unref(held.requests);
        if (held.connection)
                g_signal_handlers_disconnect_by_data(held.connection, &held);
        g_clear_object(&held.connection);
        if (provider)
                g_signal_handlers_disconnect_by_data(provider, &held);
}

/* A request nobody answers times out at the receiving end, whose later answer is refused as the
 * broker refuses one; a request dropped unanswered answers empty. */
static void test_timeout_and_dropped(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) provider = NULL;
        g_autoptr(AppServiceConnection) connection = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GVariant) message = lt_value_set("{'n': <int32 1>}");
        Held held = { g_ptr_array_new_with_free_func(g_object_unref), NULL };
        LtResult r = { 0 };
        gint64 start;

        if (!b)
                goto out;
        lt_bus_write_definition(b, ECHO, 0644, "RequestTimeoutSec=1\n");
        LT_CHECK_OR_GOTO(lt_bus_start_daemon(b), out);
        provider = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_signal_connect(provider, "connection-received", G_CALLBACK(held_connection_cb), &held);
        LT_CHECK_OR_GOTO(app_service_provider_register_sync(provider, NULL, &error), out);
        connection = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        LT_CHECK_OR_GOTO(lt_open(connection, &error) == APP_SERVICE_CONNECTION_STATUS_SUCCESS, out);

        start = g_get_monotonic_time();
        app_service_connection_send_message(connection, message, NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, lt_ms(5000), "the timed-out response"), out);
        g_assert_cmpint(g_get_monotonic_time() - start, >=, 900 * 1000);
        response = app_service_connection_send_message_finish(connection, r.result, &error);
        g_assert_no_error(error);
        LT_CHECK_OR_GOTO(response, out);
        g_assert_error(app_service_response_get_error(response), APP_SERVICE_ERROR, APP_SERVICE_ERROR_TIMEOUT);
        g_clear_object(&response);
        LT_CHECK_OR_GOTO(held.requests->len == 1, out);
        g_assert_cmpint(app_service_request_send_response_sync(held.requests->pdata[0], message, NULL, &error), ==,
                        APP_SERVICE_RESPONSE_STATUS_FAILURE);
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_UNKNOWN_REQUEST);
        g_clear_error(&error);

        /* Dropped: the empty answer comes at once. */
        lt_result_clear(&r);
        app_service_connection_send_message(connection, message, NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(LT_WAIT(held.requests->len == 2, LT_WAIT_MS, "the second request"), out);
        g_ptr_array_remove_index(held.requests, 1);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, lt_ms(500), "the empty response"), out);
        response = app_service_connection_send_message_finish(connection, r.result, &error);
        g_assert_no_error(error);
        LT_CHECK_OR_GOTO(response, out);
        g_assert_cmpint(app_service_response_get_status(response), ==, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
        g_assert_cmpuint(g_variant_n_children(app_service_response_get_message(response)), ==, 0);
out:
        lt_result_clear(&r);
        g_ptr_array_unref(held.requests);
        if (held.connection)
                g_signal_handlers_disconnect_by_data(held.connection, &held);
        g_clear_object(&held.connection);
        if (provider)
                g_signal_handlers_disconnect_by_data(provider, &held);
}

/* ---- the ends ---------------------------------------------------------------------------------- */

typedef enum {
        END_CLIENT_CLOSES,
        END_CLIENT_UNREFS,
        END_PROVIDER_CLOSES,
        END_PROVIDER_UNREGISTERS,
        END_PROVIDER_KILLED,
        END_BROKER_STOPS,
} End;

/* A provider-helper that holds requests, one request pending from the client; the link ends as
 * @how says; the client hears @status (or nothing, for its own close), its pending send fails
 * with Closed, and its fd count is back to what it was before the open. */
static void run_end(End how, gboolean tell, AppServiceClosedStatus status) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) connection = NULL;
        g_autoptr(GVariant) message = lt_value_set("{'n': <int32 1>}");
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        LtClosed closed = { 0 };
        LtResult r = { 0 };
        LtHelper *provider;
        guint fds_before;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, "RequestTimeoutSec=60\n");
        LT_CHECK_OR_GOTO(lt_bus_start_daemon(b), out);
        provider = lt_helper_start_provider(b, ECHO, "hold", NULL);
        LT_CHECK_OR_GOTO(provider, out);
        fds_before = count_fds();
        connection = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        g_signal_connect(connection, "service-closed", G_CALLBACK(lt_closed_cb), &closed);
        LT_CHECK_OR_GOTO(lt_open(connection, &error) == APP_SERVICE_CONNECTION_STATUS_SUCCESS, out);
        g_assert_true(app_service_connection_get_direct(connection));
        g_assert_cmpuint(count_fds(), >, fds_before);
        g_free(lt_helper_wait_line(provider, "connection ", LT_WAIT_MS));
        /* A pending send holds the connection (its task's source object): none for the unref. */
        if (how != END_CLIENT_UNREFS) {
                app_service_connection_send_message(connection, message, NULL, lt_result_cb, &r);
                g_free(lt_helper_wait_line(provider, "request ", LT_WAIT_MS));
        }

        switch (how) {
        case END_CLIENT_CLOSES:
                g_assert_true(app_service_connection_close_sync(connection, NULL, &error));
                g_assert_no_error(error);
                g_free(lt_helper_wait_line(provider, "closed 0", LT_WAIT_MS));
                break;
        case END_CLIENT_UNREFS:
                g_signal_handlers_disconnect_by_data(connection, &closed);
                g_clear_object(&connection);
                g_free(lt_helper_wait_line(provider, "closed 0", LT_WAIT_MS));
                break;
        case END_PROVIDER_CLOSES:
                lt_helper_command(provider, "close");
                break;
        case END_PROVIDER_UNREGISTERS:
                lt_helper_command(provider, "unregister");
                break;
        case END_PROVIDER_KILLED:
                lt_helper_kill(provider, SIGKILL);
                break;
        case END_BROKER_STOPS:
                lt_bus_stop_daemon(b);
                break;
        }

        if (connection) {
                LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "the pending send's failure"), out);
                response = app_service_connection_send_message_finish(connection, r.result, &error);
                g_assert_no_error(error);
                LT_CHECK_OR_GOTO(response, out);
                g_assert_error(app_service_response_get_error(response), APP_SERVICE_ERROR, APP_SERVICE_ERROR_CLOSED);
                g_assert_false(app_service_connection_get_is_open(connection));
        }
        if (tell) {
                g_assert_cmpuint(closed.count, ==, 1);
                g_assert_cmpint(closed.status, ==, status);
        } else {
                g_assert_cmpuint(closed.count, ==, 0);
        }
        if (!LT_WAIT(count_fds() <= fds_before, LT_WAIT_MS, "the link's fd closed"))
                show_fds();
out:
        lt_result_clear(&r);
        if (connection)
                g_signal_handlers_disconnect_by_data(connection, &closed);
}

static void test_end_client_closes(void) {
        run_end(END_CLIENT_CLOSES, FALSE, 0);
}

static void test_end_client_unrefs(void) {
        run_end(END_CLIENT_UNREFS, FALSE, 0);
}

static void test_end_provider_closes(void) {
        run_end(END_PROVIDER_CLOSES, TRUE, APP_SERVICE_CLOSED_STATUS_COMPLETED);
}

static void test_end_provider_unregisters(void) {
        run_end(END_PROVIDER_UNREGISTERS, TRUE, APP_SERVICE_CLOSED_STATUS_COMPLETED);
}

static void test_end_provider_killed(void) {
        run_end(END_PROVIDER_KILLED, TRUE, APP_SERVICE_CLOSED_STATUS_CANCELED);
}

static void test_end_broker_stops(void) {
        run_end(END_BROKER_STOPS, TRUE, APP_SERVICE_CLOSED_STATUS_CANCELED);
}

/* The client process is killed while the provider holds its request: the provider's connection
 * ends with Canceled, and the request can no longer be answered. */
static void test_end_client_killed(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) provider = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GVariant) message = lt_value_set("{'n': <int32 1>}");
        Held held = { g_ptr_array_new_with_free_func(g_object_unref), NULL };
        const char *args[] = { "--stay", "client", ECHO, NULL };
        LtClosed closed = { 0 };
        LtResult r = { 0 };
        LtHelper *client;
        guint fds_before;

        if (!b)
                goto out;
        lt_bus_write_definition(b, ECHO, 0644, "RequestTimeoutSec=60\n");
        LT_CHECK_OR_GOTO(lt_bus_start_daemon(b), out);
        provider = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_signal_connect(provider, "connection-received", G_CALLBACK(held_connection_cb), &held);
        LT_CHECK_OR_GOTO(app_service_provider_register_sync(provider, NULL, &error), out);
        fds_before = count_fds();
        client = lt_helper_spawn(b, args);
        LT_CHECK_OR_GOTO(LT_WAIT(held.connection && held.requests->len == 1, LT_WAIT_MS, "the client's ping"), out);
        g_assert_true(app_service_connection_get_direct(held.connection));
        g_signal_connect(held.connection, "service-closed", G_CALLBACK(lt_closed_cb), &closed);
        lt_helper_kill(client, SIGKILL);
        LT_CHECK_OR_GOTO(LT_WAIT(closed.count > 0, LT_WAIT_MS, "service-closed"), out);
        g_assert_false(app_service_connection_get_is_open(held.connection));
        /* A send now is refused at once. */
        app_service_connection_send_message(held.connection, message, NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "the refused send"), out);
        response = app_service_connection_send_message_finish(held.connection, r.result, &error);
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_NOT_OPEN);
        g_clear_error(&error);
        g_assert_cmpuint(closed.count, ==, 1);
        g_assert_cmpint(closed.status, ==, APP_SERVICE_CLOSED_STATUS_CANCELED);
        /* The held request can no longer be answered. */
        g_assert_cmpint(app_service_request_send_response_sync(held.requests->pdata[0], NULL, NULL, &error), !=,
                        APP_SERVICE_RESPONSE_STATUS_SUCCESS);
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_UNKNOWN_REQUEST);
        g_clear_error(&error);
        g_ptr_array_set_size(held.requests, 0);
        if (!LT_WAIT(count_fds() <= fds_before, LT_WAIT_MS, "the link's fd closed"))
                show_fds();
out:
        lt_result_clear(&r);
        g_ptr_array_unref(held.requests);
        if (held.connection)
                g_signal_handlers_disconnect_by_data(held.connection, &held);
        if (held.connection)
                g_signal_handlers_disconnect_by_data(held.connection, &closed);
        g_clear_object(&held.connection);
        if (provider)
                g_signal_handlers_disconnect_by_data(provider, &held);
}

/* APPSERVICE_DIRECT=0: a brokered connection, whose messages the broker relays. */
static void test_disabled_by_environment(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) connection = NULL;
        g_autoptr(GVariant) message = lt_value_set("{'n': <int32 1>}");
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GError) error = NULL;

        if (!b)
                goto out;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_GOTO(lt_bus_start_daemon(b), out);
        lt_helper_start_provider(b, ECHO, "echo", NULL); /* registers with direct-links */
        g_setenv("APPSERVICE_DIRECT", "0", TRUE);
        connection = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        g_assert_cmpint(app_service_connection_open_sync(connection, NULL, &error), ==,
                        APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_unsetenv("APPSERVICE_DIRECT");
        g_assert_no_error(error);
        g_assert_false(app_service_connection_get_direct(connection));
        g_assert_false(broker_says_direct(b, app_service_connection_get_object_path(connection)));
        response = app_service_connection_send_message_sync(connection, message, NULL, &error);
        g_assert_no_error(error);
        LT_CHECK_OR_GOTO(response, out);
        g_assert_true(lt_value_set_equal(app_service_response_get_message(response), message));
out:
        g_unsetenv("APPSERVICE_DIRECT");
}

int main(int argc, char **argv) {
        lt_init(&argc, &argv);
        /* The default: clients ask for direct links, providers take them. */
        g_unsetenv("APPSERVICE_DIRECT");

        g_test_add_func("/direct/echo-both-directions", test_echo_both_directions);
        g_test_add_func("/direct/deferral-out-of-order", test_deferral_out_of_order);
        g_test_add_func("/direct/timeout-and-dropped", test_timeout_and_dropped);
        g_test_add_func("/direct/end/client-closes", test_end_client_closes);
        g_test_add_func("/direct/end/client-unrefs", test_end_client_unrefs);
        g_test_add_func("/direct/end/client-killed", test_end_client_killed);
        g_test_add_func("/direct/end/provider-closes", test_end_provider_closes);
        g_test_add_func("/direct/end/provider-unregisters", test_end_provider_unregisters);
        g_test_add_func("/direct/end/provider-killed", test_end_provider_killed);
        g_test_add_func("/direct/end/broker-stops", test_end_broker_stops);
        g_test_add_func("/direct/disabled-by-environment", test_disabled_by_environment);
        return g_test_run();
}
