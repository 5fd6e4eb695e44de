/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AppServiceProvider against the real daemon: registration (async and _sync), the registered
 * property, refusals, get_property_value() for static, security and settings values, and the
 * provider's side of a connection: connection-received with the caller, requests, messages from
 * the provider to the client, and closes. The provider is the test process (on a bus
 * connection of its own); clients are provider-helper processes. */

#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libclient-test.h"

#define ECHO "com.example.echo"

static void count_notify_cb(GObject *object, GParamSpec *pspec, gpointer user_data) {
        (*(guint *) user_data)++;
}

/* ---- registration ------------------------------------------------------------------------------ */

static void test_register_sync(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *state = NULL;
        GDBusConnection *conn;
        guint notified = 0;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        conn = lt_bus_connect(b);

        p = app_service_provider_new_for_bus(conn, ECHO);
        g_assert_cmpstr(app_service_provider_get_app_service_name(p), ==, ECHO);
        g_assert_true(app_service_provider_get_bus(p) == conn);
        g_assert_false(app_service_provider_get_registered(p));
        g_signal_connect(p, "notify::registered", G_CALLBACK(count_notify_cb), &notified);

        g_assert_true(app_service_provider_register_sync(p, NULL, &error));
        g_assert_no_error(error);
        g_assert_true(app_service_provider_get_registered(p));
        LT_WAIT(notified == 1, LT_WAIT_MS, "notify::registered");
        state = lt_bus_get_service_state(b, ECHO);
        g_assert_cmpstr(state, ==, "active");

        g_assert_true(app_service_provider_unregister_sync(p, NULL, &error));
        g_assert_no_error(error);
        g_assert_false(app_service_provider_get_registered(p));
        LT_WAIT(notified == 2, LT_WAIT_MS, "notify::registered");
        g_free(state);
        state = lt_bus_get_service_state(b, ECHO);
        g_assert_cmpstr(state, ==, "inactive");
        g_signal_handlers_disconnect_by_data(p, &notified);
}

static void test_register_async(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *state = NULL;
        LtResult r = { 0 };
        guint notified = 0;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));

        p = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_signal_connect(p, "notify::registered", G_CALLBACK(count_notify_cb), &notified);
        app_service_provider_register(p, NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "register() callback"), out);
        g_assert_true(r.source == G_OBJECT(p));
        g_assert_true(app_service_provider_register_finish(p, r.result, &error));
        g_assert_no_error(error);
        g_assert_true(app_service_provider_get_registered(p));
        g_assert_cmpuint(notified, ==, 1);
        lt_result_clear(&r);

        app_service_provider_unregister(p, NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "unregister() callback"), out);
        g_assert_true(app_service_provider_unregister_finish(p, r.result, &error));
        g_assert_no_error(error);
        g_assert_false(app_service_provider_get_registered(p));
        g_assert_cmpuint(notified, ==, 2);
        state = lt_bus_get_service_state(b, ECHO);
        g_assert_cmpstr(state, ==, "inactive");
out:
        lt_result_clear(&r);
        if (p)
                g_signal_handlers_disconnect_by_data(p, &notified);
}

static void test_register_cancelled(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *state = NULL;
        LtResult r = { 0 };

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        g_cancellable_cancel(cancellable);

        p = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        app_service_provider_register(p, cancellable, lt_result_cb, &r);
        LT_CHECK_OR_RETURN(lt_result_wait(&r, LT_WAIT_MS, "register() callback"));
        g_assert_false(app_service_provider_register_finish(p, r.result, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        lt_result_clear(&r);
        g_clear_error(&error);
        g_assert_false(app_service_provider_register_sync(p, cancellable, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_false(app_service_provider_get_registered(p));
        /* Whatever reached the broker is undone: the service ends up without a provider. */
        LT_WAIT((g_free(state), state = lt_bus_get_service_state(b, ECHO), g_strcmp0(state, "inactive") == 0),
                LT_WAIT_MS, "state 'inactive'");
        g_assert_cmpstr(state, ==, "inactive");
        g_assert_false(app_service_provider_get_registered(p));
}

/* Unregistering what was never registered is refused by the broker. */
static void test_unregister_not_registered(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GError) error = NULL;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        p = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_assert_false(app_service_provider_unregister_sync(p, NULL, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_NOT_AUTHORIZED);
        g_assert_false(app_service_provider_get_registered(p));
}

/* Cancelled: registered is FALSE at once all the same. */
static void test_unregister_cancelled(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        g_autoptr(GError) error = NULL;
        LtResult r = { 0 };

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        p = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_assert_true(app_service_provider_register_sync(p, NULL, &error));
        g_assert_no_error(error);
        g_cancellable_cancel(cancellable);

        app_service_provider_unregister(p, cancellable, lt_result_cb, &r);
        g_assert_false(app_service_provider_get_registered(p));
        LT_CHECK_OR_RETURN(lt_result_wait(&r, LT_WAIT_MS, "unregister() callback"));
        g_assert_false(app_service_provider_unregister_finish(p, r.result, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        lt_result_clear(&r);
        g_clear_error(&error);

        /* registered is FALSE: registering again must work (the broker must not still hold the
         * registration that the cancelled unregister() dropped here). */
        g_assert_true(app_service_provider_register_sync(p, NULL, &error));
        g_assert_no_error(error);
        LT_CHECK_OR_RETURN(error == NULL);
        g_assert_false(app_service_provider_unregister_sync(p, cancellable, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_false(app_service_provider_get_registered(p));
}

/* Dropping the last reference to a registered provider unregisters it: its clients hear
 * Completed. */
static void test_unref_unregisters(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *line = NULL, *state = NULL;
        const char *args[] = { "--stay", "client", ECHO, NULL };
        LtHelper *client;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        p = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_assert_true(app_service_provider_register_sync(p, NULL, &error));
        g_assert_no_error(error);
        client = lt_helper_spawn(b, args);
        /* Nobody handles the request here: it is answered empty when released. */
        line = lt_helper_wait_line(client, "response ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "response 0 @a{sv} {}");
        g_clear_pointer(&line, g_free);

        g_clear_object(&p);
        line = lt_helper_wait_line(client, "closed ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "closed 0");
        LT_WAIT((g_free(state), state = lt_bus_get_service_state(b, ECHO), g_strcmp0(state, "inactive") == 0),
                LT_WAIT_MS, "state 'inactive'");
}

static void test_register_already_registered(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) first = NULL;
        g_autoptr(AppServiceProvider) second = NULL;
        g_autoptr(GError) error = NULL;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));

        first = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_assert_true(app_service_provider_register_sync(first, NULL, &error));
        g_assert_no_error(error);
        second = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_assert_false(app_service_provider_register_sync(second, NULL, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_ALREADY_REGISTERED);
        g_assert_false(app_service_provider_get_registered(second));
        g_assert_true(app_service_provider_get_registered(first));
}

static void test_register_undeclared(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GError) error = NULL;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        p = app_service_provider_new_for_bus(lt_bus_connect(b), "com.example.undeclared");
        g_assert_false(app_service_provider_register_sync(p, NULL, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE);
        g_assert_false(app_service_provider_get_registered(p));
}

/* A provider process of the wrong uid (provider-helper switched to games) may not register. */
static void test_register_not_authorized(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autofree char *uid_arg = NULL, *gid_arg = NULL, *line = NULL;
        struct passwd *pw = getpwnam("games");
        LtHelper *h;

        if (!b)
                return;
        if (!pw) {
                g_test_skip("no user 'games' (base-passwd creates it on Debian)");
                return;
        }
        uid_arg = g_strdup_printf("--uid=%u", (unsigned) pw->pw_uid);
        gid_arg = g_strdup_printf("--gid=%u", (unsigned) pw->pw_gid);
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        lt_bus_write_definition(b, "com.example.games", 0644, "User=games\n");
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        {
                const char *args[] = { uid_arg, gid_arg, "echo", ECHO, NULL };

                int status;

                h = lt_helper_spawn(b, args);
                line = lt_helper_wait_line(h, "register ", LT_WAIT_MS);
                g_assert_true(g_str_has_prefix(line ? line : "", "register failed app-service-error-quark 4 "));
                g_clear_pointer(&line, g_free);
                status = lt_helper_wait_exit(h, LT_WAIT_MS);
                g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 3);
        }
        {
                /* User=games: that uid may. */
                const char *args[] = { uid_arg, gid_arg, "echo", "com.example.games", NULL };

                h = lt_helper_spawn(b, args);
                line = lt_helper_wait_line(h, "register ", LT_WAIT_MS);
                g_assert_cmpstr(line, ==, "register ok");
        }
}

/* ---- get_property_value ------------------------------------------------------------------------ */

static void test_property_static_and_security(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GError) error = NULL;

        if (!b)
                return;
        /* Root-owned and 0600: the secrets are honoured. */
        lt_bus_write_definition(b, ECHO, 0600,
                                "[Properties]\ngreeting=hello world\ncolour=blue # not a comment\n\n"
                                "[Secrets]\napi-key=s3cr3t\n");
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));

        p = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        /* Nothing is known before registering. */
        g_assert_null(app_service_provider_get_property_value(p, "static", "greeting"));
        g_assert_true(app_service_provider_register_sync(p, NULL, &error));
        g_assert_no_error(error);

        g_assert_cmpstr(app_service_provider_get_property_value(p, "static", "greeting"), ==, "hello world");
        g_assert_cmpstr(app_service_provider_get_property_value(p, "static", "colour"), ==, "blue # not a comment");
        g_assert_null(app_service_provider_get_property_value(p, "static", "missing"));
        g_assert_cmpstr(app_service_provider_get_property_value(p, "security", "api-key"), ==, "s3cr3t");
        g_assert_null(app_service_provider_get_property_value(p, "security", "greeting"));
        g_assert_null(app_service_provider_get_property_value(p, "static", "api-key"));
        g_assert_null(app_service_provider_get_property_value(p, "no-such-kind", "greeting"));
}

/* A definition others may read: its secrets are ignored, its properties still count. */
static void test_property_security_ignored(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GError) error = NULL;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, "[Properties]\ngreeting=hi\n\n[Secrets]\napi-key=s3cr3t\n");
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));

        p = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_assert_true(app_service_provider_register_sync(p, NULL, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(app_service_provider_get_property_value(p, "static", "greeting"), ==, "hi");
        g_assert_null(app_service_provider_get_property_value(p, "security", "api-key"));
}

static void test_property_settings(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) node_name = NULL;
        g_autoptr(GVariant) version = NULL;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        node_name = lt_bus_get_manager_property(b, "NodeName");
        version = lt_bus_get_manager_property(b, "Version");
        LT_CHECK_OR_RETURN(node_name && version);

        p = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_assert_true(app_service_provider_register_sync(p, NULL, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(app_service_provider_get_property_value(p, "settings", "node-name"), ==,
                        g_variant_get_string(node_name, NULL));
        g_assert_cmpstr(app_service_provider_get_property_value(p, "settings", "version"), ==,
                        g_variant_get_string(version, NULL));
        g_assert_cmpstr(app_service_provider_get_property_value(p, "settings", "version"), ==, LT_PROJECT_VERSION);
        g_assert_null(app_service_provider_get_property_value(p, "settings", "missing"));
}

/* ---- the provider's side of a connection ------------------------------------------------------- */

typedef struct ProviderSide {
        guint connections;
        AppServiceConnection *connection; /* the last one, referenced */
        GVariant *caller;
        guint requests;
        GVariant *request_message;
        AppServiceRequest *held;
        gboolean hold;
        LtClosed closed;
} ProviderSide;

static void provider_request_cb(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        ProviderSide *ps = user_data;

        ps->requests++;
        g_clear_pointer(&ps->request_message, g_variant_unref);
        ps->request_message = g_variant_ref(app_service_request_get_message(request));
        if (ps->hold)
                g_set_object(&ps->held, request);
        else
                app_service_request_send_response(request, app_service_request_get_message(request), NULL, NULL,
                                                  NULL);
}

static void connection_received_cb(AppServiceProvider *provider, AppServiceConnection *connection, GVariant *caller,
                                   gpointer user_data) {
        ProviderSide *ps = user_data;

        ps->connections++;
        g_set_object(&ps->connection, connection);
        g_clear_pointer(&ps->caller, g_variant_unref);
        ps->caller = caller ? g_variant_ref(caller) : NULL;
        g_signal_connect(connection, "request-received", G_CALLBACK(provider_request_cb), ps);
        g_signal_connect(connection, "service-closed", G_CALLBACK(lt_closed_cb), &ps->closed);
}

static void provider_side_clear(ProviderSide *ps) {
        if (ps->connection) {
                g_signal_handlers_disconnect_by_data(ps->connection, ps);
                g_signal_handlers_disconnect_by_data(ps->connection, &ps->closed);
        }
        g_clear_object(&ps->connection);
        g_clear_object(&ps->held);
        g_clear_pointer(&ps->caller, g_variant_unref);
        g_clear_pointer(&ps->request_message, g_variant_unref);
}

/* A registered in-process provider and a provider-helper client that has opened it and sent
 * {'ping': <int32 1>}; with `stay`, the client stays open after the response. */
static AppServiceProvider *start_in_process(LtBus *b, ProviderSide *ps, gboolean stay, LtHelper **ret_client) {
        g_autoptr(GError) error = NULL;
        const char *args_once[] = { "client", ECHO, NULL };
        const char *args_stay[] = { "--stay", "client", ECHO, NULL };
        AppServiceProvider *p;

        lt_bus_write_definition(b, ECHO, 0644, "RequestTimeoutSec=60\n");
        if (!lt_bus_start_daemon(b))
                return NULL;
        p = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_signal_connect(p, "connection-received", G_CALLBACK(connection_received_cb), ps);
        g_assert_true(app_service_provider_register_sync(p, NULL, &error));
        g_assert_no_error(error);
        *ret_client = lt_helper_spawn(b, stay ? args_stay : args_once);
        LT_WAIT(ps->connections == 1, LT_WAIT_MS, "connection-received");
        return p;
}

static void test_connection_received(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GVariant) ping = lt_value_set("{'ping': <int32 1>}");
        g_autofree char *line = NULL;
        ProviderSide ps = { 0 };
        LtHelper *client = NULL;
        guint32 uid = 1, pid = 0;

        if (!b)
                return;
        p = start_in_process(b, &ps, FALSE, &client);
        LT_CHECK_OR_GOTO(p && ps.connection, out);

        /* Who opened it: the helper, as root. */
        LT_CHECK_OR_GOTO(ps.caller != NULL, out);
        g_assert_true(g_variant_lookup(ps.caller, "uid", "u", &uid));
        g_assert_cmpuint(uid, ==, 0);
        g_assert_true(g_variant_lookup(ps.caller, "pid", "u", &pid));
        g_assert_cmpuint(pid, ==, (guint32) lt_helper_pid(client));
        g_assert_true(g_variant_lookup(ps.caller, "gid", "u", NULL));
        /* The connection knows it too. */
        g_assert_nonnull(app_service_connection_get_caller(ps.connection));
        if (app_service_connection_get_caller(ps.connection))
                g_assert_true(g_variant_equal(app_service_connection_get_caller(ps.connection), ps.caller));
        g_assert_true(app_service_connection_get_is_open(ps.connection));
        g_assert_cmpstr(app_service_connection_get_app_service_name(ps.connection), ==, ECHO);
        g_assert_true(g_str_has_prefix(app_service_connection_get_object_path(ps.connection),
                                       "/io/appservice1/connection/"));

        /* request-received on the provider side; the answer reaches the client. */
        LT_WAIT(ps.requests == 1, LT_WAIT_MS, "request-received");
        g_assert_true(lt_value_set_equal(ps.request_message, ping));
        line = lt_helper_wait_line(client, "response ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "response 0 {'ping': <1>}");

        /* The client closes (it does after one message): Completed. */
        LT_WAIT(ps.closed.count == 1, LT_WAIT_MS, "service-closed");
        g_assert_cmpint(ps.closed.status, ==, APP_SERVICE_CLOSED_STATUS_COMPLETED);
        g_assert_false(app_service_connection_get_is_open(ps.connection));
out:
        provider_side_clear(&ps);
}

/* The provider sends on the connection it received; the client's request-received answers. */
static void test_provider_to_client(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GVariant) message = lt_value_set("{'from': <'provider'>, 'n': <uint64 18446744073709551615>}");
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        ProviderSide ps = { .hold = TRUE };
        LtHelper *client = NULL;

        if (!b)
                return;
        /* Hold the client's ping, so that the client stays open while the provider talks. */
        p = start_in_process(b, &ps, TRUE, &client);
        LT_CHECK_OR_GOTO(p && ps.connection, out);
        LT_WAIT(ps.requests == 1, LT_WAIT_MS, "request-received");

        response = lt_send(ps.connection, message, &error);
        g_assert_no_error(error);
        LT_CHECK_OR_GOTO(response != NULL, out);
        g_assert_cmpint(app_service_response_get_status(response), ==, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
        /* The helper's client answers requests with the message itself. */
        g_assert_true(lt_value_set_equal(app_service_response_get_message(response), message));
        g_clear_object(&response);

        /* And the _sync twin, from this side. */
        response = app_service_connection_send_message_sync(ps.connection, message, NULL, &error);
        g_assert_no_error(error);
        LT_CHECK_OR_GOTO(response != NULL, out);
        g_assert_cmpint(app_service_response_get_status(response), ==, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
        g_assert_true(lt_value_set_equal(app_service_response_get_message(response), message));

        /* Now answer the held ping, late: the deferral by reference. */
        g_assert_cmpint(app_service_request_send_response_sync(ps.held, ps.request_message, NULL, &error), ==,
                        APP_SERVICE_RESPONSE_STATUS_SUCCESS);
        g_assert_no_error(error);
        g_free(lt_helper_wait_line(client, "response 0 {'ping': <1>}", LT_WAIT_MS));
out:
        provider_side_clear(&ps);
}

/* The client's process is killed: the provider's connection closes with Canceled. */
static void test_client_killed(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        ProviderSide ps = { .hold = TRUE };
        LtHelper *client = NULL;

        if (!b)
                return;
        p = start_in_process(b, &ps, TRUE, &client);
        LT_CHECK_OR_GOTO(p && ps.connection, out);
        LT_WAIT(ps.requests == 1, LT_WAIT_MS, "request-received");
        lt_helper_kill(client, SIGKILL);
        LT_WAIT(ps.closed.count == 1, LT_WAIT_MS, "service-closed");
        g_assert_cmpint(ps.closed.status, ==, APP_SERVICE_CLOSED_STATUS_CANCELED);
        g_assert_false(app_service_connection_get_is_open(ps.connection));
out:
        provider_side_clear(&ps);
}

/* The provider closes its side: the client hears Completed. */
static void test_provider_closes(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *line = NULL;
        ProviderSide ps = { .hold = TRUE };
        LtHelper *client = NULL;

        if (!b)
                return;
        p = start_in_process(b, &ps, TRUE, &client);
        LT_CHECK_OR_GOTO(p && ps.connection, out);
        LT_WAIT(ps.requests == 1, LT_WAIT_MS, "request-received");
        g_assert_true(app_service_connection_close_sync(ps.connection, NULL, &error));
        g_assert_no_error(error);
        g_assert_false(app_service_connection_get_is_open(ps.connection));
        /* The client's pending ping failed with Closed; it then saw service-closed(Completed). */
        line = lt_helper_wait_line(client, "response ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "response 1 (null)");
        g_clear_pointer(&line, g_free);
        line = lt_helper_wait_line(client, "closed ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "closed 0");
        g_assert_cmpuint(ps.closed.count, ==, 0);
out:
        provider_side_clear(&ps);
}

int main(int argc, char **argv) {
        lt_init(&argc, &argv);

        g_test_add_func("/provider/register/sync", test_register_sync);
        g_test_add_func("/provider/register/async", test_register_async);
        g_test_add_func("/provider/register/cancelled", test_register_cancelled);
        g_test_add_func("/provider/register/already-registered", test_register_already_registered);
        g_test_add_func("/provider/register/undeclared", test_register_undeclared);
        g_test_add_func("/provider/register/not-authorized", test_register_not_authorized);
        g_test_add_func("/provider/unregister/not-registered", test_unregister_not_registered);
        g_test_add_func("/provider/unregister/cancelled", test_unregister_cancelled);
        g_test_add_func("/provider/unregister/last-unref", test_unref_unregisters);
        g_test_add_func("/provider/property/static-and-security", test_property_static_and_security);
        g_test_add_func("/provider/property/security-ignored-when-readable", test_property_security_ignored);
        g_test_add_func("/provider/property/settings", test_property_settings);
        g_test_add_func("/provider/connection-received", test_connection_received);
        g_test_add_func("/provider/send-to-client", test_provider_to_client);
        g_test_add_func("/provider/service-closed/canceled-client-killed", test_client_killed);
        g_test_add_func("/provider/close", test_provider_closes);
        return g_test_run();
}
