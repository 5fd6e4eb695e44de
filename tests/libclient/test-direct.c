/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Direct links (io.appservice1.Link) between the library's two ends, against the real daemon:
 * messages in both directions skip the broker (its monitor sees none), deferral out of order
 * with unique ids, every way a link ends, no fd left behind, and APPSERVICE_DIRECT=0. The other
 * libclient tests run over direct links too, since the library asks for them by default; the
 * receiving side's limits are tested from Python with a raw peer (test_python.py). */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>
#include <glib-unix.h>

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

/* ---- a raw client end, spoken by hand: the provider's transport under attack ------------------- */

/* An in-process provider that echoes at once; the connections it got, and the last one's end. */
typedef struct {
        GPtrArray *connections; /* AppServiceConnection, kept */
        LtClosed closed;
} Echoer;

static void echoer_request_cb(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        app_service_request_send_response(request, app_service_request_get_message(request), NULL, NULL, NULL);
}

static void echoer_connection_cb(AppServiceProvider *provider, AppServiceConnection *connection, GVariant *caller,
                                 gpointer user_data) {
        Echoer *e = user_data;

        g_ptr_array_add(e->connections, g_object_ref(connection));
        g_signal_connect(connection, "request-received", G_CALLBACK(echoer_request_cb), e);
        g_signal_connect(connection, "service-closed", G_CALLBACK(lt_closed_cb), &e->closed);
}

static void echoer_clear(Echoer *e) {
        for (guint i = 0; i < e->connections->len; i++) {
                g_signal_handlers_disconnect_by_data(e->connections->pdata[i], e);
                g_signal_handlers_disconnect_by_data(e->connections->pdata[i], &e->closed);
        }
        g_ptr_array_unref(e->connections);
}

static AppServiceProvider *echoer_start(LtBus *b, Echoer *e) {
        g_autoptr(AppServiceProvider) provider = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_autoptr(GError) error = NULL;

        e->connections = g_ptr_array_new_with_free_func(g_object_unref);
        g_signal_connect(provider, "connection-received", G_CALLBACK(echoer_connection_cb), e);
        if (!app_service_provider_register_sync(provider, NULL, &error)) {
                lt_fail("register: %s", error->message);
                g_signal_handlers_disconnect_by_data(provider, e);
                return NULL;
        }
        return g_steal_pointer(&provider);
}

/* A broker serving ECHO (its definition's [App Service] lines beyond the name: @body, may be NULL)
 * and the echoer providing it; NULL after failing the case. */
static AppServiceProvider *echo_world_start(LtBus *b, const char *body, Echoer *e) {
        lt_bus_write_definition(b, ECHO, 0644, body);
        if (!lt_bus_start_daemon(b))
                return NULL;
        return echoer_start(b, e);
}

/* OpenDirectConnection by hand: the client's end of a link, non-blocking, nothing said on it yet;
 * -1 after failing the case. The provider's connection is there once it returns. */
static int raw_link_open(LtBus *b, Echoer *e) {
        g_autoptr(GUnixFDList) fds = NULL;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) link = NULL;
        g_autoptr(GError) error = NULL;
        guint had = e->connections->len;
        LtResult r = { 0 };
        gint32 handle = -1;
        int fd = -1;

        g_dbus_connection_call_with_unix_fd_list(b->conn, "io.appservice1", "/io/appservice1", "io.appservice1.Manager",
                                                 "OpenDirectConnection", g_variant_new("(ssa{sv})", ECHO, "", NULL),
                                                 G_VARIANT_TYPE("(oa{sv})"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL,
                                                 lt_result_cb, &r);
        if (lt_result_wait(&r, LT_WAIT_MS, "OpenDirectConnection's reply"))
                reply = g_dbus_connection_call_with_unix_fd_list_finish(b->conn, &fds, r.result, &error);
        lt_result_clear(&r);
        if (!reply) {
                lt_fail("OpenDirectConnection: %s", error ? error->message : "no reply");
                return -1;
        }
        g_variant_get(reply, "(o@a{sv})", NULL, &link);
        if (!g_variant_lookup(link, "fd", "h", &handle) || !fds || (fd = g_unix_fd_list_get(fds, handle, NULL)) < 0) {
                lt_fail("OpenDirectConnection gave no link");
                return -1;
        }
        g_unix_set_fd_nonblocking(fd, TRUE, NULL);
        if (!LT_WAIT(e->connections->len > had, LT_WAIT_MS, "the provider's connection")) {
                close(fd);
                return -1;
        }
        return fd;
}

static gboolean raw_write(int fd, const void *data, gsize size) {
        gsize done = 0;

        while (done < size) {
                gssize n = send(fd, (const char *) data + done, size - done, MSG_NOSIGNAL);

                if (n > 0)
                        done += n;
                else if (n < 0 && errno == EAGAIN)
                        LT_RUN_FOR(FALSE, 5);
                else
                        return FALSE;
        }
        return TRUE;
}

/* Whether @text occurs in @got, which may hold nul bytes. */
static gboolean has_bytes(GString *got, const char *text) {
        gsize n = strlen(text);

        for (gsize i = 0; i + n <= got->len; i++)
                if (memcmp(got->str + i, text, n) == 0)
                        return TRUE;
        return FALSE;
}

/* Reads what is there into @got, @max bytes at a time: 1 once @done says so, 0 at the end of
 * file or an error, -1 when it waits for more. */
static int raw_read_some(int fd, GString *got, gsize max, gboolean (*done)(GString *got)) {
        char buf[4096];

        for (;;) {
                gssize n = recv(fd, buf, MIN(max, sizeof buf), 0);

                if (n > 0)
                        g_string_append_len(got, buf, n);
                else if (n == 0 || errno != EAGAIN)
                        return 0;
                if (done && done(got))
                        return 1;
                if (n < 0)
                        return -1;
        }
}

/* Reads until @done, or to the end of file when @done is NULL; FALSE otherwise. All that is there
 * is read before the context runs again: it may well wait for nothing else. */
static gboolean raw_read(int fd, GString *got, gsize max, gboolean (*done)(GString *got)) {
        LtDeadline d;
        int r;

        lt_deadline_begin(&d, LT_WAIT_MS);
        while ((r = raw_read_some(fd, got, max, done)) < 0 && lt_deadline_step(&d))
                ;
        lt_deadline_end(&d);
        if (r < 0)
                lt_fail("the provider said nothing more within %u ms", LT_WAIT_MS);
        return r == 1 || (r == 0 && !done);
}

static gboolean is_line(GString *got) {
        return g_str_has_suffix(got->str, "\r\n");
}

static gboolean has_again(GString *got) {
        return has_bytes(got, "again");
}

/* The client side of the handshake: ANONYMOUS, BEGIN right behind it, and the server's OK. */
static gboolean raw_handshake(int fd) {
        static const char hello[] = "\0AUTH ANONYMOUS 74657374\r\nBEGIN\r\n";
        g_autoptr(GString) got = g_string_new(NULL);

        if (!raw_write(fd, hello, sizeof hello - 1))
                return FALSE;
        /* Byte by byte: what follows the OK line is not ours to read here. */
        return raw_read(fd, got, 1, is_line) && g_str_has_prefix(got->str, "OK ") &&
               got->len == strlen("OK \r\n") + 32;
}
/* A SendMessage call as the wire carries it. */
static GBytes *raw_call(guint32 serial, const char *text) {
        g_autoptr(GDBusMessage) call = g_dbus_message_new_method_call(NULL, "/io/appservice1/link",
                                                                       "io.appservice1.Link", "SendMessage");
        gsize size = 0;
        guchar *blob;

        g_dbus_message_set_body(call, g_variant_new_parsed("({'text': <%s>},)", text));
        g_dbus_message_set_serial(call, serial);
        blob = g_dbus_message_to_blob(call, &size, G_DBUS_CAPABILITY_FLAGS_NONE, NULL);
        g_assert_nonnull(blob);
        return g_bytes_new_take(blob, size);
}

#define FLOOD_MAX_MESSAGE 4096
/* The provider's queues stop it reading at 4 × (4096 + 64 KiB), about 272 KiB (appservice-wire.h);
 * the socket buffers hold a few hundred KiB more. A provider that read on would take it all. */
#define FLOOD_BOUND (2 * 1024 * 1024)
#define FLOOD_TOTAL (32 * 1024 * 1024)

/* Writes SendMessage calls and never reads: how much the provider took before the socket stopped
 * taking more (for half a second), at most FLOOD_TOTAL. */
static gsize flood(int fd) {
        g_autoptr(GBytes) one = raw_call(7, "'" "flood, flood, flood, flood, flood, flood" "'");
        g_autoptr(GByteArray) chunk = g_byte_array_new();
        gint64 last = g_get_monotonic_time();
        gsize total = 0, pos = 0;

        while (chunk->len < 64 * 1024)
                g_byte_array_append(chunk, g_bytes_get_data(one, NULL), g_bytes_get_size(one));
        while (total < FLOOD_TOTAL && g_get_monotonic_time() - last < 500 * 1000) {
                gssize n = send(fd, chunk->data + pos, chunk->len - pos, MSG_NOSIGNAL);

                if (n > 0) {
                        total += n;
                        pos = (pos + n) % chunk->len;
                        last = g_get_monotonic_time();
                } else {
                        LT_RUN_FOR(FALSE, 10);
                }
        }
        return total;
}

/* A client end that sends requests and never reads its replies: the provider stops reading it
 * once its queued output is at the bound, so that the flood stalls on the client's own socket;
 * the provider's other connections are served meanwhile. */
static void test_flood_without_reading(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) provider = NULL;
        g_autoptr(AppServiceConnection) other = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GVariant) message = lt_value_set("{'n': <int32 5>}");
        g_autoptr(GError) error = NULL;
        g_autofree char *body = g_strdup_printf("MaxMessageSize=%d\n", FLOOD_MAX_MESSAGE);
        Echoer e = { 0 };
        LtResult r = { 0 };
        gsize total;
        int fd = -1;

        if (!b)
                return;
        provider = echo_world_start(b, body, &e);
        LT_CHECK_OR_GOTO(provider, out);
        fd = raw_link_open(b, &e);
        LT_CHECK_OR_GOTO(fd >= 0 && raw_handshake(fd), out);

        total = flood(fd);
        g_test_message("the provider took %" G_GSIZE_FORMAT " bytes of requests before it stopped reading", total);
        g_assert_cmpuint(total, <, FLOOD_BOUND);
        g_assert_cmpuint(total, >, 0);
        g_assert_cmpuint(e.closed.count, ==, 0);

        /* Another client is served all the while. */
        other = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        app_service_connection_open(other, NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "the other open"), out);
        g_assert_cmpint(app_service_connection_open_finish(other, r.result, &error), ==,
                        APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_no_error(error);
        g_assert_true(app_service_connection_get_direct(other));
        lt_result_clear(&r);
        app_service_connection_send_message(other, message, NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "the other client's response"), out);
        response = app_service_connection_send_message_finish(other, r.result, &error);
        g_assert_no_error(error);
        LT_CHECK_OR_GOTO(response, out);
        g_assert_true(lt_value_set_equal(app_service_response_get_message(response), message));

        /* The flooding end goes: its connection ends (Canceled), the provider lives on. */
        close(g_steal_fd(&fd));
        LT_CHECK_OR_GOTO(LT_WAIT(e.closed.count == 1, LT_WAIT_MS, "the flooded connection's end"), out);
        g_assert_cmpint(e.closed.status, ==, APP_SERVICE_CLOSED_STATUS_CANCELED);
out:
        lt_result_clear(&r);
        if (fd >= 0)
                close(fd);
        if (provider)
                g_signal_handlers_disconnect_by_data(provider, &e);
        if (e.connections)
                echoer_clear(&e);
}

/* A method call as the wire carries it; @flags, e.g. NO_REPLY_EXPECTED. */
static GBytes *raw_message(guint32 serial, const char *path, const char *iface, const char *member, GVariant *body,
                           GDBusMessageFlags flags) {
        g_autoptr(GDBusMessage) call = g_dbus_message_new_method_call(NULL, path, iface, member);
        gsize size = 0;
        guchar *blob;

        if (body)
                g_dbus_message_set_body(call, body);
        g_dbus_message_set_flags(call, flags);
        g_dbus_message_set_serial(call, serial);
        blob = g_dbus_message_to_blob(call, &size, G_DBUS_CAPABILITY_FLAGS_NONE, NULL);
        g_assert_nonnull(blob);
        return g_bytes_new_take(blob, size);
}

/* Whether @got holds @n whole messages. */
static gboolean holds_messages(GString *got, guint n) {
        gsize pos = 0;

        for (guint i = 0; i < n; i++) {
                gssize need;

                if (got->len - pos < 16)
                        return FALSE;
                need = g_dbus_message_bytes_needed((guchar *) got->str + pos, 16, NULL);
                if (need < 0 || got->len - pos < (gsize) need)
                        return FALSE;
                pos += need;
        }
        return TRUE;
}

static gboolean holds_five(GString *got) {
        return holds_messages(got, 5);
}

/* The replies GDBus gave for what is not SendMessage: Ping answered, UnknownMethod for another
 * object, interface or method, InvalidArgs for another signature; nothing for a call that wants
 * no reply (serial 5, sent before 4); Introspect says what the object serves. */
static void test_other_calls(void) {
        static const struct {
                guint32 serial;
                const char *path, *iface, *member, *body;
                const char *error;
        } calls[] = {
                { 1, "/io/appservice1/link", "org.freedesktop.DBus.Peer", "Ping", NULL, NULL },
                { 2, "/elsewhere", "io.appservice1.Link", "SendMessage", "({'a': <1>},)", "UnknownMethod" },
                { 3, "/io/appservice1/link", "io.example.Other", "SendMessage", "({'a': <1>},)", "UnknownMethod" },
                { 5, "/io/appservice1/link", "io.appservice1.Link", "SendMessage", "({'quiet': <1>},)", NULL },
                { 4, "/io/appservice1/link", "io.appservice1.Link", "SendMessage", "('text',)", "InvalidArgs" },
                { 6, "/io/appservice1/link", "org.freedesktop.DBus.Introspectable", "Introspect", NULL, NULL },
        };
        static const guint32 answered[] = { 1, 2, 3, 4, 6 };
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) provider = NULL;
        g_autoptr(GString) got = g_string_new(NULL);
        Echoer e = { 0 };
        gsize pos = 0;
        int fd = -1;

        if (!b)
                return;
        provider = echo_world_start(b, NULL, &e);
        LT_CHECK_OR_GOTO(provider, out);
        fd = raw_link_open(b, &e);
        LT_CHECK_OR_GOTO(fd >= 0 && raw_handshake(fd), out);
        for (guint i = 0; i < G_N_ELEMENTS(calls); i++) {
                GDBusMessageFlags flags = calls[i].serial == 5 ? G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED : 0;
                g_autoptr(GBytes) blob = raw_message(calls[i].serial, calls[i].path, calls[i].iface, calls[i].member,
                                                     calls[i].body ? g_variant_new_parsed(calls[i].body) : NULL, flags);

                LT_CHECK_OR_GOTO(raw_write(fd, g_bytes_get_data(blob, NULL), g_bytes_get_size(blob)), out);
        }
        LT_CHECK_OR_GOTO(raw_read(fd, got, G_MAXSIZE, holds_five), out);

        for (guint n = 0; n < G_N_ELEMENTS(answered); n++) {
                guint32 serial = answered[n];
                gssize need = g_dbus_message_bytes_needed((guchar *) got->str + pos, 16, NULL);
                g_autoptr(GDBusMessage) reply = g_dbus_message_new_from_blob((guchar *) got->str + pos, need,
                                                                              G_DBUS_CAPABILITY_FLAGS_NONE, NULL);
                const char *expected = NULL;

                pos += need;
                LT_CHECK_OR_GOTO(reply, out);
                /* Answered in order; 5 never. */
                g_assert_cmpuint(g_dbus_message_get_reply_serial(reply), ==, serial);
                for (guint i = 0; i < G_N_ELEMENTS(calls); i++)
                        if (calls[i].serial == serial)
                                expected = calls[i].error;
                if (!expected) {
                        g_assert_cmpint(g_dbus_message_get_message_type(reply), ==, G_DBUS_MESSAGE_TYPE_METHOD_RETURN);
                        if (serial == 6) {
                                const char *xml = NULL;

                                g_assert_cmpstr(g_dbus_message_get_signature(reply), ==, "s");
                                g_variant_get(g_dbus_message_get_body(reply), "(&s)", &xml);
                                g_assert_nonnull(strstr(xml, "<interface name=\"io.appservice1.Link\">"));
                                g_assert_nonnull(strstr(xml, "<method name=\"SendMessage\">"));
                                g_assert_nonnull(strstr(xml, "<method name=\"Ping\"/>"));
                        }
                } else {
                        g_autofree char *name = g_strconcat("org.freedesktop.DBus.Error.", expected, NULL);

                        g_assert_cmpint(g_dbus_message_get_message_type(reply), ==, G_DBUS_MESSAGE_TYPE_ERROR);
                        g_assert_cmpstr(g_dbus_message_get_error_name(reply), ==, name);
                }
        }
        g_assert_cmpuint(pos, ==, got->len);
out:
        if (fd >= 0)
                close(fd);
        if (provider)
                g_signal_handlers_disconnect_by_data(provider, &e);
        if (e.connections)
                echoer_clear(&e);
}

typedef enum {
        HOSTILE_NO_NUL,
        HOSTILE_LONG_LINE,
        HOSTILE_EOF_MIDWAY,
        HOSTILE_EXTERNAL,
        HOSTILE_TOO_MANY_LINES,
        HOSTILE_OVERSIZE_HEADER,
} Hostile;

/* What the hostile client end writes (and whether it then shuts its writing down). */
static GBytes *hostile_bytes(Hostile how) {
        g_autoptr(GString) s = g_string_new(NULL);

        switch (how) {
        case HOSTILE_NO_NUL:
                g_string_append(s, "GET / HTTP/1.0\r\n\r\n");
                break;
        case HOSTILE_LONG_LINE:
                g_string_append_len(s, "\0AUTH ANONYMOUS ", 16);
                for (guint i = 0; i < 8192; i++)
                        g_string_append_c(s, 'a');
                break;
        case HOSTILE_EOF_MIDWAY:
                g_string_append_len(s, "\0AUTH ANONY", 11);
                break;
        case HOSTILE_EXTERNAL:
                g_string_append_len(s, "\0AUTH EXTERNAL 30\r\n", 19);
                break;
        case HOSTILE_TOO_MANY_LINES:
                g_string_append_c(s, '\0');
                for (guint i = 0; i < 64; i++)
                        g_string_append(s, "AUTH EXTERNAL\r\n");
                break;
        case HOSTILE_OVERSIZE_HEADER: {
                /* A method call's fixed header: little-endian, version 1, a body of 100 MiB, serial 1,
                 * no header fields. Nothing else follows: the length alone must end the link. */
                static const guint8 header[16] = { 'l', 1, 0, 1, 0, 0, 0x40, 0x06, 1, 0, 0, 0, 0, 0, 0, 0 };

                g_string_append_len(s, (const char *) header, sizeof header);
                break;
        }
        }
        return g_string_free_to_bytes(g_steal_pointer(&s));
}

/* A client end that breaks the rules ends its link cleanly: the provider's connection ends
 * (Canceled), the provider closes its end (our end of file), and it serves the next link. */
static void run_hostile(gconstpointer data) {
        Hostile how = GPOINTER_TO_INT(data);
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) provider = NULL;
        g_autoptr(GBytes) bytes = hostile_bytes(how);
        g_autoptr(GString) got = g_string_new(NULL);
        Echoer e = { 0 };
        int fd = -1;

        if (!b)
                return;
        provider = echo_world_start(b, "MaxMessageSize=4096\n", &e);
        LT_CHECK_OR_GOTO(provider, out);
        fd = raw_link_open(b, &e);
        LT_CHECK_OR_GOTO(fd >= 0, out);
        if (how == HOSTILE_OVERSIZE_HEADER)
                LT_CHECK_OR_GOTO(raw_handshake(fd), out);

        LT_CHECK_OR_GOTO(raw_write(fd, g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes)), out);
        if (how == HOSTILE_EOF_MIDWAY || how == HOSTILE_EXTERNAL)
                shutdown(fd, SHUT_WR);
        LT_CHECK_OR_GOTO(raw_read(fd, got, G_MAXSIZE, NULL), out);
        LT_CHECK_OR_GOTO(LT_WAIT(e.closed.count == 1, LT_WAIT_MS, "the provider's connection's end"), out);
        g_assert_cmpint(e.closed.status, ==, APP_SERVICE_CLOSED_STATUS_CANCELED);
        if (how == HOSTILE_EXTERNAL)
                g_assert_cmpstr(got->str, ==, "REJECTED ANONYMOUS\r\n");
        else if (how == HOSTILE_TOO_MANY_LINES)
                g_assert_true(g_str_has_prefix(got->str, "REJECTED ANONYMOUS\r\n"));
        else
                g_assert_cmpuint(got->len, ==, 0);
        close(g_steal_fd(&fd));

        /* Still serving: a well-behaved link after it gets its echo. */
        fd = raw_link_open(b, &e);
        LT_CHECK_OR_GOTO(fd >= 0 && raw_handshake(fd), out);
        {
                g_autoptr(GBytes) call = raw_call(1, "'again'");

                LT_CHECK_OR_GOTO(raw_write(fd, g_bytes_get_data(call, NULL), g_bytes_get_size(call)), out);
                g_string_truncate(got, 0);
                LT_CHECK_OR_GOTO(raw_read(fd, got, G_MAXSIZE, has_again), out);
                g_assert_true(has_bytes(got, "again"));
        }
out:
        if (fd >= 0)
                close(fd);
        if (provider)
                g_signal_handlers_disconnect_by_data(provider, &e);
        if (e.connections)
                echoer_clear(&e);
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
        g_test_add_func("/direct/wire/flood-without-reading", test_flood_without_reading);
        g_test_add_func("/direct/wire/other-calls", test_other_calls);
        g_test_add_data_func("/direct/wire/hostile/no-nul", GINT_TO_POINTER(HOSTILE_NO_NUL), run_hostile);
        g_test_add_data_func("/direct/wire/hostile/long-line", GINT_TO_POINTER(HOSTILE_LONG_LINE), run_hostile);
        g_test_add_data_func("/direct/wire/hostile/eof-midway", GINT_TO_POINTER(HOSTILE_EOF_MIDWAY), run_hostile);
        g_test_add_data_func("/direct/wire/hostile/external", GINT_TO_POINTER(HOSTILE_EXTERNAL), run_hostile);
        g_test_add_data_func("/direct/wire/hostile/too-many-lines", GINT_TO_POINTER(HOSTILE_TOO_MANY_LINES),
                             run_hostile);
        g_test_add_data_func("/direct/wire/oversize-header", GINT_TO_POINTER(HOSTILE_OVERSIZE_HEADER), run_hostile);
        return g_test_run();
}
