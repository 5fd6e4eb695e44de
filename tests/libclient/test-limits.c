/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the library refuses before the bus sees it, and what it does so that the bus never ends
 * the process: a ValueSet over what a message bus carries (MessageSizeTooLarge), one nested
 * deeper than the broker allows (InvalidMessage), and the library's own bus connection, which
 * has exit-on-close unset. Against the real daemon on a private system-type bus; the client that
 * sends is an unprivileged uid (provider-helper in limits mode). */

#include <pwd.h>
#include <string.h>
#include <sys/wait.h>

#include "libclient-test.h"

#define ECHO "com.example.echo"

/* The library's limits (appservice-private.h), as its documentation gives them. */
#define BUS_MAX_MESSAGE_SIZE 33554432
#define VALUE_SET_MAX_SIZE (BUS_MAX_MESSAGE_SIZE - 65536)

/* {'d': <<...<int32 1>...>>}, `depth` containers deep (its a{sv} and entry included). */
static GVariant *nested_value_set(guint depth) {
        GVariant *value = g_variant_new_int32(1);
        GVariantBuilder builder;

        for (guint i = 3; i < depth; i++)
                value = g_variant_new_variant(value);
        g_variant_builder_init(&builder, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&builder, "{sv}", "d", value);
        return g_variant_ref_sink(g_variant_builder_end(&builder));
}

/* {'blob': <ay of `n` bytes>}: marshalled, 28 + n bytes (length and padding 8, key 9, signature 4, padding 3, length 4). */
static GVariant *blob_value_set(gsize n) {
        gpointer data = g_malloc0(n);

        return g_variant_ref_sink(g_variant_new_parsed(
                "{'blob': <%@ay>}", g_variant_new_from_data(G_VARIANT_TYPE_BYTESTRING, data, n, TRUE, g_free, data)));
}

/* An unprivileged client (nobody) sends 34 MiB: before the fix the bus dropped its connection
 * and GDBus's exit-on-close killed it with SIGTERM. Now the library refuses the ValueSet with
 * MessageSizeTooLarge naming the size and the limit, refuses a 33-deep one with InvalidMessage,
 * lets a 32-deep one and a ping through, and the process carries on to a clean exit. */
static void test_oversized_send_unprivileged(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        struct passwd *pw = getpwnam("nobody");
        g_autofree char *uid_arg = NULL, *gid_arg = NULL, *line = NULL;
        LtHelper *client;
        int status;

        if (!b)
                return;
        if (!pw) {
                g_test_skip("no user 'nobody'");
                return;
        }
        uid_arg = g_strdup_printf("--uid=%u", (unsigned) pw->pw_uid);
        gid_arg = g_strdup_printf("--gid=%u", (unsigned) pw->pw_gid);
        /* MaxMessageSize as high as the broker allows: only the bus's ceiling is left. */
        lt_bus_write_definition(b, ECHO, 0644, "MaxMessageSize=134217728\n");
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        lt_helper_start_provider(b, ECHO, "echo", NULL);
        {
                const char *args[] = { uid_arg, gid_arg, "limits", ECHO, NULL };

                client = lt_helper_spawn(b, args);
        }
        line = lt_helper_wait_line(client, "open ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "open 0 none 0");
        g_clear_pointer(&line, g_free);

        line = lt_helper_wait_line(client, "exit-on-close ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "exit-on-close 0");
        g_clear_pointer(&line, g_free);

        line = lt_helper_wait_line(client, "oversize ", lt_ms(60000));
        LT_CHECK_OR_RETURN(line);
        /* Status MessageSizeTooLarge (5), APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE (6). */
        g_assert_true(g_str_has_prefix(line, "oversize 5 app-service-error-quark 6 "));
        g_assert_nonnull(strstr(line, " 35651612 bytes")); /* 34 MiB + 28: the size, exactly */
        g_assert_nonnull(strstr(line, " 33488896 bytes")); /* the limit */
        g_clear_pointer(&line, g_free);

        line = lt_helper_wait_line(client, "deep33 ", LT_WAIT_MS);
        /* Status Failure (1), APP_SERVICE_ERROR_INVALID_MESSAGE (7). */
        g_assert_true(g_str_has_prefix(line, "deep33 1 app-service-error-quark 7 "));
        g_assert_nonnull(strstr(line, "33 containers deep"));
        g_clear_pointer(&line, g_free);

        line = lt_helper_wait_line(client, "deep32 ", LT_WAIT_MS);
        g_assert_true(g_str_has_prefix(line, "deep32 0 none 0"));
        g_clear_pointer(&line, g_free);
        line = lt_helper_wait_line(client, "ping ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "ping 0 none 0 -");
        g_clear_pointer(&line, g_free);
        line = lt_helper_wait_line(client, "is-open ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "is-open 1");

        status = lt_helper_wait_exit(client, LT_WAIT_MS);
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The refusals come without a round trip: sent one-shot to a name nobody declared, a ValueSet the
 * broker saw would get AppServiceUnavailable; these get the library's own errors. The largest
 * ValueSet the library sends passes its check (and gets AppServiceUnavailable). */
static void test_refused_without_round_trip(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(GVariant) too_big = NULL;
        g_autoptr(GVariant) largest = NULL;
        g_autoptr(GVariant) deep33 = nested_value_set(33);
        g_autoptr(GVariant) deep32 = nested_value_set(32);
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL;

        if (!b)
                return;
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        too_big = blob_value_set(VALUE_SET_MAX_SIZE - 28 + 1);
        largest = blob_value_set(VALUE_SET_MAX_SIZE - 28);

        r1 = app_service_send_message_once_sync(b->conn, "com.example.none", too_big, NULL, &error);
        g_assert_no_error(error);
        LT_CHECK_OR_RETURN(r1);
        g_assert_cmpint(app_service_response_get_status(r1), ==, APP_SERVICE_RESPONSE_STATUS_MESSAGE_SIZE_TOO_LARGE);
        g_assert_error(app_service_response_get_error(r1), APP_SERVICE_ERROR, APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE);

        r2 = app_service_send_message_once_sync(b->conn, "com.example.none", deep33, NULL, &error);
        g_assert_no_error(error);
        LT_CHECK_OR_RETURN(r2);
        g_assert_error(app_service_response_get_error(r2), APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);

        r3 = app_service_send_message_once_sync(b->conn, "com.example.none", deep32, NULL, &error);
        g_assert_no_error(error);
        LT_CHECK_OR_RETURN(r3);
        g_assert_error(app_service_response_get_error(r3), APP_SERVICE_ERROR,
                       APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE);

        r4 = app_service_send_message_once_sync(b->conn, "com.example.none", largest, NULL, &error);
        g_assert_no_error(error);
        LT_CHECK_OR_RETURN(r4);
        g_assert_error(app_service_response_get_error(r4), APP_SERVICE_ERROR,
                       APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE);
        /* The test's own connection (exit-on-close unset by the fixture) is still there. */
        g_assert_false(g_dbus_connection_is_closed(b->conn));
}

/* The connection the library makes for objects made without a bus is its own, not the process's
 * shared g_bus_get() one, and a bus that drops it cannot end the process. */
static void test_default_bus_is_private(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c1 = NULL;
        g_autoptr(AppServiceConnection) c2 = NULL;
        g_autoptr(GDBusConnection) shared = NULL;
        g_autoptr(GError) error = NULL;
        GDBusConnection *bus;

        if (!b)
                return;
        g_setenv("DBUS_SYSTEM_BUS_ADDRESS", b->address, TRUE);
        c1 = app_service_connection_new(ECHO, NULL);
        c2 = app_service_connection_new(ECHO, NULL);
        bus = app_service_connection_get_bus(c1);
        LT_CHECK_OR_GOTO(bus, out);
        g_assert_false(g_dbus_connection_get_exit_on_close(bus));
        g_assert_true(app_service_connection_get_bus(c2) == bus); /* one per process, shared */
        shared = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
        g_assert_no_error(error);
        g_assert_true(shared != bus);
        if (shared) {
                /* Left as GLib made it: the library does not touch the process's connection. */
                g_assert_true(g_dbus_connection_get_exit_on_close(shared));
                g_dbus_connection_set_exit_on_close(shared, FALSE); /* the fixture stops this bus */
        }
        /* Closed under it: the process lives on (with exit-on-close this would raise SIGTERM). */
        g_assert_true(g_dbus_connection_close_sync(bus, NULL, &error));
        g_assert_no_error(error);
        g_clear_object(&c1);
        g_clear_object(&c2);
        c1 = app_service_connection_new(ECHO, NULL);
        /* A closed connection is replaced by a new one. */
        g_assert_nonnull(app_service_connection_get_bus(c1));
        g_assert_false(g_dbus_connection_is_closed(app_service_connection_get_bus(c1)));
out:
        g_setenv("DBUS_SYSTEM_BUS_ADDRESS", LT_NO_BUS_ADDRESS, TRUE);
}

int main(int argc, char **argv) {
        lt_init(&argc, &argv);

        g_test_add_func("/limits/oversized-send/unprivileged-client-survives", test_oversized_send_unprivileged);
        g_test_add_func("/limits/refused-without-round-trip", test_refused_without_round_trip);
        g_test_add_func("/limits/default-bus-is-private", test_default_bus_is_private);
        return g_test_run();
}
