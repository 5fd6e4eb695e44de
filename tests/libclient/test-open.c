/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AppServiceConnection.open against the real daemon: every outcome (success and each failure
 * status with its GError), the async call and its _sync twin, cancellation, activation through
 * Exec=, and the properties of a connection. Providers are provider-helper processes. */

#include <pwd.h>
#include <string.h>

#include "libclient-test.h"

#define ECHO "com.example.echo"

static void check_open_failed(AppServiceConnection *c, AppServiceConnectionStatus status, const GError *error,
                              AppServiceConnectionStatus want_status, AppServiceError want_code) {
        g_assert_cmpint(status, ==, want_status);
        g_assert_error(error, APP_SERVICE_ERROR, (int) want_code);
        if (error) {
                /* A message a person can act on: it names the app service. */
                g_assert_nonnull(strstr(error->message, app_service_connection_get_app_service_name(c)));
                g_assert_cmpint(app_service_connection_status_from_error(error), ==, want_status);
        }
        g_assert_false(app_service_connection_get_is_open(c));
}

/* ---- success ----------------------------------------------------------------------------------- */

static void check_open_connection(LtBus *b, AppServiceConnection *c, LtHelper *provider) {
        g_autoptr(GVariant) message = lt_value_set("{'n': <uint32 7>}");
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autofree char *line = NULL;

        g_assert_true(app_service_connection_get_is_open(c));
        g_assert_true(g_str_has_prefix(app_service_connection_get_object_path(c), "/io/appservice1/connection/"));
        g_assert_true(app_service_connection_get_bus(c) == b->conn);
        line = lt_helper_wait_line(provider, "connection ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "connection uid=0 count=1");

        response = lt_send(c, message, &error);
        g_assert_no_error(error);
        LT_CHECK_OR_RETURN(response != NULL);
        g_assert_cmpint(app_service_response_get_status(response), ==, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
        g_assert_true(lt_value_set_equal(app_service_response_get_message(response), message));
}

static void test_open_async(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(GError) error = NULL;
        LtResult r = { 0 };
        LtHelper *provider;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        provider = lt_helper_start_provider(b, ECHO, "echo", NULL);

        c = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        g_assert_false(app_service_connection_get_is_open(c));
        g_assert_null(app_service_connection_get_object_path(c));
        app_service_connection_open(c, NULL, lt_result_cb, &r);
        LT_CHECK_OR_RETURN(lt_result_wait(&r, LT_WAIT_MS, "open() callback"));
        g_assert_true(r.source == G_OBJECT(c));
        g_assert_cmpint(app_service_connection_open_finish(c, r.result, &error), ==,
                        APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_no_error(error);
        lt_result_clear(&r);
        check_open_connection(b, c, provider);
}

static void test_open_sync(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(GError) error = NULL;
        LtHelper *provider;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        provider = lt_helper_start_provider(b, ECHO, "echo", NULL);

        c = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        g_assert_cmpint(app_service_connection_open_sync(c, NULL, &error), ==, APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_no_error(error);
        check_open_connection(b, c, provider);
}

/* The provider id that must offer the service (Windows' PackageFamilyName): the right one
 * opens. */
static void test_open_with_package_family_name(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(GError) error = NULL;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, "Provider=com.example.EchoApp\n");
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        lt_helper_start_provider(b, ECHO, "echo", NULL);

        c = app_service_connection_new_for_bus(b->conn, ECHO, "com.example.EchoApp");
        g_assert_cmpstr(app_service_connection_get_package_family_name(c), ==, "com.example.EchoApp");
        g_assert_cmpint(lt_open(c, &error), ==, APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_no_error(error);
}

/* Exec= activation: the daemon starts provider-helper, which registers through the library. */
static void test_open_activates_provider(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) message = lt_value_set("{'text': <'activated'>}");
        g_autoptr(AppServiceResponse) response = NULL;
        g_autofree char *body = NULL;
        g_autofree char *state = NULL;

        if (!b)
                return;
        body = g_strdup_printf("Exec=%s echo %s\nActivationTimeoutSec=20\n", lt_provider_helper_path(), ECHO);
        lt_bus_write_definition(b, ECHO, 0644, body);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        state = lt_bus_get_service_state(b, ECHO);
        g_assert_cmpstr(state, ==, "inactive");

        c = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        g_assert_cmpint(lt_open(c, &error), ==, APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_no_error(error);
        response = lt_send(c, message, &error);
        g_assert_no_error(error);
        LT_CHECK_OR_RETURN(response != NULL);
        g_assert_cmpint(app_service_response_get_status(response), ==, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
        g_assert_true(lt_value_set_equal(app_service_response_get_message(response), message));
        g_free(state);
        state = lt_bus_get_service_state(b, ECHO);
        g_assert_cmpstr(state, ==, "active");
}

/* ---- failures ---------------------------------------------------------------------------------- */

static void test_app_service_unavailable(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(AppServiceConnection) c2 = NULL;
        g_autoptr(GError) error = NULL;
        AppServiceConnectionStatus status;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));

        c = app_service_connection_new_for_bus(b->conn, "com.example.nothing", NULL);
        status = lt_open(c, &error);
        check_open_failed(c, status, error, APP_SERVICE_CONNECTION_STATUS_APP_SERVICE_UNAVAILABLE,
                          APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE);
        g_clear_error(&error);

        /* The same through the _sync twin. */
        c2 = app_service_connection_new_for_bus(b->conn, "com.example.nothing", NULL);
        status = app_service_connection_open_sync(c2, NULL, &error);
        check_open_failed(c2, status, error, APP_SERVICE_CONNECTION_STATUS_APP_SERVICE_UNAVAILABLE,
                          APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE);
}

static void test_app_not_installed(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(GError) error = NULL;
        AppServiceConnectionStatus status;
        LtHelper *provider;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, "Provider=com.example.EchoApp\n");
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        provider = lt_helper_start_provider(b, ECHO, "echo", NULL);

        c = app_service_connection_new_for_bus(b->conn, ECHO, "com.example.OtherApp");
        status = lt_open(c, &error);
        check_open_failed(c, status, error, APP_SERVICE_CONNECTION_STATUS_APP_NOT_INSTALLED,
                          APP_SERVICE_ERROR_APP_NOT_INSTALLED);
        g_assert_false(lt_helper_has_line(provider, "connection "));
}

/* Root may open anything; an unprivileged client (provider-helper switched to the games user
 * before connecting) is refused by AllowUsers=, and allowed when it is named. */
static void test_not_authorized(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autofree char *uid_arg = NULL, *gid_arg = NULL, *line = NULL;
        struct passwd *pw = getpwnam("games");
        LtHelper *client;

        if (!b)
                return;
        if (!pw) {
                g_test_skip("no user 'games' (base-passwd creates it on Debian)");
                return;
        }
        uid_arg = g_strdup_printf("--uid=%u", (unsigned) pw->pw_uid);
        gid_arg = g_strdup_printf("--gid=%u", (unsigned) pw->pw_gid);
        lt_bus_write_definition(b, ECHO, 0644, "AllowUsers=man\n");
        lt_bus_write_definition(b, "com.example.games", 0644, "AllowUsers=games\n");
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        lt_helper_start_provider(b, ECHO, "echo", NULL);
        lt_helper_start_provider(b, "com.example.games", "echo", NULL);

        {
                const char *args[] = { uid_arg, gid_arg, "client", ECHO, NULL };

                client = lt_helper_spawn(b, args);
                line = lt_helper_wait_line(client, "open ", LT_WAIT_MS);
                g_assert_cmpstr(line, ==, "open 7 app-service-error-quark 4");
                g_clear_pointer(&line, g_free);
        }
        {
                /* The control: the same unprivileged client, named in AllowUsers=. */
                const char *args[] = { uid_arg, gid_arg, "client", "com.example.games", NULL };

                client = lt_helper_spawn(b, args);
                line = lt_helper_wait_line(client, "open ", LT_WAIT_MS);
                g_assert_cmpstr(line, ==, "open 0 none 0");
                g_clear_pointer(&line, g_free);
                line = lt_helper_wait_line(client, "response ", LT_WAIT_MS);
                g_assert_cmpstr(line, ==, "response 0 {'ping': <1>}");
        }
}

static void test_app_unavailable_exec_fails(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(GError) error = NULL;
        AppServiceConnectionStatus status;
        gint64 start;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, "Exec=/nonexistent/provider\nActivationTimeoutSec=30\n");
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));

        c = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        start = g_get_monotonic_time();
        status = lt_open(c, &error);
        check_open_failed(c, status, error, APP_SERVICE_CONNECTION_STATUS_APP_UNAVAILABLE,
                          APP_SERVICE_ERROR_APP_UNAVAILABLE);
        /* A provider that cannot start fails the open when it exits, not at the timeout. */
        g_assert_cmpint(g_get_monotonic_time() - start, <, (gint64) lt_ms(15000) * 1000);
}

static void test_app_unavailable_no_registration(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(GError) error = NULL;
        AppServiceConnectionStatus status;

        if (!b)
                return;
        /* Starts, but never registers: the open fails after ActivationTimeoutSec. */
        lt_bus_write_definition(b, ECHO, 0644, "Exec=/bin/sleep 60\nActivationTimeoutSec=1\n");
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));

        c = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        status = app_service_connection_open_sync(c, NULL, &error);
        check_open_failed(c, status, error, APP_SERVICE_CONNECTION_STATUS_APP_UNAVAILABLE,
                          APP_SERVICE_ERROR_APP_UNAVAILABLE);
}

static void test_disabled_by_policy(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(GError) error = NULL;
        AppServiceConnectionStatus status;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        lt_helper_start_provider(b, ECHO, "echo", NULL);
        g_assert_true(lt_bus_set_service_enabled(b, ECHO, FALSE, &error));
        g_assert_no_error(error);

        c = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        status = lt_open(c, &error);
        check_open_failed(c, status, error, APP_SERVICE_CONNECTION_STATUS_DISABLED_BY_POLICY,
                          APP_SERVICE_ERROR_DISABLED_BY_POLICY);
        g_clear_error(&error);

        /* Enabled again, the same object opens. */
        g_assert_true(lt_bus_set_service_enabled(b, ECHO, TRUE, &error));
        g_assert_no_error(error);
        g_assert_cmpint(lt_open(c, &error), ==, APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_no_error(error);
        g_assert_true(app_service_connection_get_is_open(c));
}

/* ---- cancellation ------------------------------------------------------------------------------ */

static void test_open_cancelled_before(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        g_autoptr(GError) error = NULL;
        LtResult r = { 0 };
        LtHelper *provider;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        provider = lt_helper_start_provider(b, ECHO, "echo", NULL);
        g_cancellable_cancel(cancellable);

        c = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        app_service_connection_open(c, cancellable, lt_result_cb, &r);
        LT_CHECK_OR_RETURN(lt_result_wait(&r, LT_WAIT_MS, "open() callback"));
        g_assert_cmpint(app_service_connection_open_finish(c, r.result, &error), !=,
                        APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_false(app_service_connection_get_is_open(c));
        lt_result_clear(&r);
        g_clear_error(&error);

        g_assert_cmpint(app_service_connection_open_sync(c, cancellable, &error), !=,
                        APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_false(app_service_connection_get_is_open(c));
        g_clear_error(&error);

        /* Nothing was left open at the broker: the provider never saw a client. A later open
         * works and is the provider's first connection. */
        g_assert_cmpint(lt_open(c, &error), ==, APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_no_error(error);
        g_free(lt_helper_wait_line(provider, "connection uid=0 count=1", LT_WAIT_MS));
}

static gboolean cancel_cb(gpointer user_data) {
        g_cancellable_cancel(user_data);
        return G_SOURCE_REMOVE;
}

/* Cancelled while the daemon waits for the provider to register: the callback comes at once,
 * not at the activation timeout. */
static void test_open_cancelled_during_activation(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *state = NULL;
        LtResult r = { 0 };
        gint64 cancelled_at;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, "Exec=/bin/sleep 60\nActivationTimeoutSec=60\n");
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));

        c = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        app_service_connection_open(c, cancellable, lt_result_cb, &r);
        /* Cancel once the daemon is activating. */
        LT_WAIT((g_free(state), state = lt_bus_get_service_state(b, ECHO), g_strcmp0(state, "activating") == 0),
                LT_WAIT_MS, "state 'activating'");
        g_idle_add(cancel_cb, cancellable);
        LT_WAIT(g_cancellable_is_cancelled(cancellable), LT_WAIT_MS, "cancellation");
        cancelled_at = g_get_monotonic_time();
        LT_CHECK_OR_RETURN(lt_result_wait(&r, lt_ms(5000), "open() callback after cancellation"));
        g_assert_cmpint(r.done_us - cancelled_at, <, (gint64) lt_ms(5000) * 1000);
        g_assert_cmpint(app_service_connection_open_finish(c, r.result, &error), !=,
                        APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_false(app_service_connection_get_is_open(c));
        lt_result_clear(&r);
}

/* ---- the object -------------------------------------------------------------------------------- */

static void count_notify_cb(GObject *object, GParamSpec *pspec, gpointer user_data) {
        (*(guint *) user_data)++;
}

static void test_properties(void) {
        g_autoptr(AppServiceConnection) c = app_service_connection_new("com.example.a", NULL);
        g_autofree char *name = NULL, *pfn = NULL;
        guint notified = 0;

        g_assert_cmpstr(app_service_connection_get_app_service_name(c), ==, "com.example.a");
        g_assert_null(app_service_connection_get_package_family_name(c));
        g_assert_false(app_service_connection_get_is_open(c));
        g_assert_null(app_service_connection_get_caller(c));

        g_signal_connect(c, "notify::app-service-name", G_CALLBACK(count_notify_cb), &notified);
        app_service_connection_set_app_service_name(c, "com.example.b");
        app_service_connection_set_package_family_name(c, "com.example.BApp");
        g_object_get(c, "app-service-name", &name, "package-family-name", &pfn, NULL);
        g_assert_cmpstr(name, ==, "com.example.b");
        g_assert_cmpstr(pfn, ==, "com.example.BApp");
        g_assert_cmpuint(notified, ==, 1);

        g_object_set(c, "app-service-name", "com.example.c", NULL);
        g_assert_cmpstr(app_service_connection_get_app_service_name(c), ==, "com.example.c");
}

/* The default bus cannot be reached (the fixture points DBUS_SYSTEM_BUS_ADDRESS nowhere):
 * opening says why. */
static void test_no_bus(void) {
        g_autoptr(AppServiceConnection) c = app_service_connection_new(ECHO, NULL);
        g_autoptr(GError) error = NULL;
        AppServiceConnectionStatus status;

        g_assert_null(app_service_connection_get_bus(c));
        status = app_service_connection_open_sync(c, NULL, &error);
        g_assert_cmpint(status, ==, APP_SERVICE_CONNECTION_STATUS_UNKNOWN);
        g_assert_nonnull(error);
        g_assert_false(app_service_connection_get_is_open(c));
        g_clear_error(&error);
        g_assert_cmpint(lt_open(c, &error), ==, APP_SERVICE_CONNECTION_STATUS_UNKNOWN);
        g_assert_nonnull(error);
}

/* A connection made without a bus uses the system bus of DBUS_SYSTEM_BUS_ADDRESS: here in a
 * provider-helper client, which is built that way. */
static void test_default_bus(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autofree char *line = NULL;
        const char *args[] = { "client", ECHO, NULL };
        LtHelper *client;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        lt_helper_start_provider(b, ECHO, "echo", NULL);
        client = lt_helper_spawn(b, args);
        line = lt_helper_wait_line(client, "open ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "open 0 none 0");
        g_clear_pointer(&line, g_free);
        line = lt_helper_wait_line(client, "response ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "response 0 {'ping': <1>}");
}

/* ---- the node property (0.3.0) ----------------------------------------------------------------- */

static void on_notify_count(GObject *object, GParamSpec *pspec, gpointer user_data) {
        (*(guint *) user_data)++;
}

/* This node by its name, or by none: an ordinary open here. */
static void test_node_this_node(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(GVariant) node_name = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *node = NULL;
        LtHelper *provider;
        guint notified = 0;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        node_name = lt_bus_get_manager_property(b, "NodeName");
        LT_CHECK_OR_RETURN(node_name != NULL);
        provider = lt_helper_start_provider(b, ECHO, "echo", NULL);

        c = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        g_assert_null(app_service_connection_get_node(c));
        g_signal_connect(c, "notify::node", G_CALLBACK(on_notify_count), &notified);
        app_service_connection_set_node(c, g_variant_get_string(node_name, NULL));
        app_service_connection_set_node(c, g_variant_get_string(node_name, NULL)); /* no change */
        g_assert_cmpuint(notified, ==, 1);
        g_assert_cmpstr(app_service_connection_get_node(c), ==, g_variant_get_string(node_name, NULL));
        g_object_get(c, "node", &node, NULL);
        g_assert_cmpstr(node, ==, g_variant_get_string(node_name, NULL));

        g_assert_cmpint(app_service_connection_open_sync(c, NULL, &error), ==, APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_no_error(error);
        check_open_connection(b, c, provider);
        LT_CHECK_OR_RETURN(app_service_connection_close_sync(c, NULL, &error));
        g_free(lt_helper_wait_line(provider, "closed ", LT_WAIT_MS));

        /* Empty is this node too, and the property keeps what was set. */
        g_object_set(c, "node", "", NULL);
        g_assert_cmpstr(app_service_connection_get_node(c), ==, "");
        g_assert_cmpuint(notified, ==, 2);
        g_assert_cmpint(lt_open(c, &error), ==, APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_no_error(error);
        app_service_connection_set_node(c, NULL);
        g_assert_null(app_service_connection_get_node(c));
        g_signal_handlers_disconnect_by_data(c, &notified);
}

/* Another node, and no bridge declared here: the app service is unavailable. */
static void test_node_without_bridge(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(GError) error = NULL;
        AppServiceConnectionStatus status;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        lt_helper_start_provider(b, ECHO, "echo", NULL);

        c = app_service_connection_new_for_bus(b->conn, ECHO, NULL);
        app_service_connection_set_node(c, "some-other-node");
        status = lt_open(c, &error);
        if (status == APP_SERVICE_CONNECTION_STATUS_SUCCESS) {
                /* A broker before 0.3.0 ignores the option and opens here. */
                g_test_skip("this broker does not route the OpenConnection option 'node' (before 0.3.0)");
                return;
        }
        g_assert_cmpint(status, ==, APP_SERVICE_CONNECTION_STATUS_APP_SERVICE_UNAVAILABLE);
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE);
        g_assert_false(app_service_connection_get_is_open(c));
}

int main(int argc, char **argv) {
        lt_init(&argc, &argv);

        g_test_add_func("/open/success/async", test_open_async);
        g_test_add_func("/open/success/sync", test_open_sync);
        g_test_add_func("/open/success/package-family-name", test_open_with_package_family_name);
        g_test_add_func("/open/success/activation-exec", test_open_activates_provider);
        g_test_add_func("/open/success/default-system-bus", test_default_bus);
        g_test_add_func("/open/app-service-unavailable", test_app_service_unavailable);
        g_test_add_func("/open/app-not-installed", test_app_not_installed);
        g_test_add_func("/open/not-authorized", test_not_authorized);
        g_test_add_func("/open/app-unavailable/exec-fails", test_app_unavailable_exec_fails);
        g_test_add_func("/open/app-unavailable/no-registration", test_app_unavailable_no_registration);
        g_test_add_func("/open/disabled-by-policy", test_disabled_by_policy);
        g_test_add_func("/open/cancelled/before", test_open_cancelled_before);
        g_test_add_func("/open/cancelled/during-activation", test_open_cancelled_during_activation);
        g_test_add_func("/open/properties", test_properties);
        g_test_add_func("/open/no-bus", test_no_bus);
        g_test_add_func("/open/node/this-node", test_node_this_node);
        g_test_add_func("/open/node/without-bridge", test_node_without_bridge);
        return g_test_run();
}
