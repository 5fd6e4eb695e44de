/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The orchestration API of 0.2 against the real daemon: AppServiceNode (the broker's state,
 * start/stop/restart/enable/disable/reload, monitoring and who sees its events, NotAuthorized for
 * an unprivileged process), and the provider's side (node-state and state-update,
 * stop-requested, submit_action to one service and to all, the action and sender on the
 * receiving connection, log). Nodes and providers under test live in the test process; the
 * other endpoints are provider-helper processes. */

#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "libclient-test.h"

#define ECHO "com.example.echo"
#define SENDER "com.example.sender"
#define SLOW "com.example.slow"

/* ---- collecting monitor events ---------------------------------------------------------------- */

typedef struct {
        GPtrArray *types;  /* gchar* */
        GPtrArray *events; /* GVariant a{sv} */
} Events;

static void events_init(Events *e) {
        e->types = g_ptr_array_new_with_free_func(g_free);
        e->events = g_ptr_array_new_with_free_func((GDestroyNotify) g_variant_unref);
}

static void events_clear(Events *e) {
        g_clear_pointer(&e->types, g_ptr_array_unref);
        g_clear_pointer(&e->events, g_ptr_array_unref);
}

static void on_event(AppServiceNode *node, const char *type, GVariant *event, gpointer user_data) {
        Events *e = user_data;

        g_ptr_array_add(e->types, g_strdup(type));
        g_ptr_array_add(e->events, g_variant_ref(event));
}

/* The first event of `type` about `service` (NULL: any), or NULL. */
static GVariant *events_find(Events *e, const char *type, const char *service) {
        for (guint i = 0; i < e->types->len; i++) {
                const char *s = NULL;

                if (!g_str_equal(e->types->pdata[i], type))
                        continue;
                g_variant_lookup(e->events->pdata[i], "service", "&s", &s);
                if (!service || g_strcmp0(s, service) == 0)
                        return e->events->pdata[i];
        }
        return NULL;
}

static struct passwd *games_user(void) {
        struct passwd *pw = getpwnam("games");

        if (!pw)
                g_test_skip("no user 'games' (base-passwd creates it on Debian)");
        return pw;
}

static char *state_of(LtBus *b, const char *name) {
        return lt_bus_get_service_state(b, name);
}

#define WAIT_SERVICE_STATE(b, name, want)                                                              \
        ({                                                                                             \
                g_autofree char *st_ = NULL;                                                           \
                LT_WAIT((g_free(st_), st_ = state_of((b), (name)), g_strcmp0(st_, (want)) == 0), LT_WAIT_MS, \
                        "service state '" want "'");                                                   \
        })

/* ---- the node's state ---------------------------------------------------------------------------- */

static void test_node_state(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceNode) node = NULL;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        node = app_service_node_new_for_bus(lt_bus_connect(b));
        g_assert_true(APP_SERVICE_IS_NODE(node));
        g_assert_false(app_service_node_get_monitoring(node));
        LT_WAIT(g_strcmp0(app_service_node_get_state(node), "running") == 0, LT_WAIT_MS, "node state 'running'");

        /* The broker goes away: the state is unknown; it comes back: running again. */
        LT_CHECK_OR_RETURN(lt_bus_stop_daemon(b));
        LT_WAIT(app_service_node_get_state(node) == NULL, LT_WAIT_MS, "node state NULL without a broker");
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        LT_WAIT(g_strcmp0(app_service_node_get_state(node), "running") == 0, LT_WAIT_MS,
                "node state 'running' again");
}

/* ---- administration -------------------------------------------------------------------------------- */

static void test_enable_disable(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceNode) node = NULL;
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(GError) error = NULL;
        LtResult r = { 0 };
        GDBusConnection *conn;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        conn = lt_bus_connect(b);
        node = app_service_node_new_for_bus(conn);

        g_assert_true(app_service_node_set_service_enabled_sync(node, ECHO, FALSE, NULL, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        WAIT_SERVICE_STATE(b, ECHO, "disabled");
        c = app_service_connection_new_for_bus(conn, ECHO, NULL);
        g_assert_cmpint(app_service_connection_open_sync(c, NULL, &error), ==,
                        APP_SERVICE_CONNECTION_STATUS_DISABLED_BY_POLICY);
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_DISABLED_BY_POLICY);
        g_clear_error(&error);

        app_service_node_set_service_enabled(node, ECHO, TRUE, NULL, lt_result_cb, &r);
        LT_CHECK_OR_RETURN(lt_result_wait(&r, LT_WAIT_MS, "set_service_enabled() callback"));
        g_assert_true(app_service_node_set_service_enabled_finish(node, r.result, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        lt_result_clear(&r);
        WAIT_SERVICE_STATE(b, ECHO, "inactive");

        g_assert_false(app_service_node_set_service_enabled_sync(node, "com.example.nope", FALSE, NULL, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE);
}

/* An unprivileged process: every administration call and monitoring is refused. */
static void test_not_authorized(void) {
        static const char *const verbs[] = { "disable", "enable", "start", "stop", "restart", "reload", "monitor" };
        g_autoptr(LtBus) b = lt_bus_new();
        g_autofree char *uid_arg = NULL, *gid_arg = NULL;
        struct passwd *pw;

        if (!b || !(pw = games_user()))
                return;
        uid_arg = g_strdup_printf("--uid=%u", (unsigned) pw->pw_uid);
        gid_arg = g_strdup_printf("--gid=%u", (unsigned) pw->pw_gid);
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));

        for (gsize i = 0; i < G_N_ELEMENTS(verbs); i++) {
                const char *args[] = { uid_arg, gid_arg, "admin", ECHO, verbs[i], NULL };
                LtHelper *h = lt_helper_spawn(b, args);
                g_autofree char *line = lt_helper_wait_line(h, "admin ", LT_WAIT_MS);

                g_test_message("%s: %s", verbs[i], line ? line : "(nothing)");
                if (line && !g_str_has_prefix(line, "admin failed app-service-error-quark 4 "))
                        lt_fail("%s as games: %s, not NotAuthorized", verbs[i], line);
        }
        {
                g_autofree char *state = state_of(b, ECHO);

                g_assert_cmpstr(state, ==, "inactive");
        }
}

static void test_start_stop_restart(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceNode) node = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *body = NULL;
        g_autofree char *state = NULL;
        LtResult r = { 0 };

        if (!b)
                return;
        body = g_strdup_printf("Exec=%s echo %s\nActivationTimeoutSec=20\nStopTimeoutSec=5\n",
                               lt_provider_helper_path(), ECHO);
        lt_bus_write_definition(b, ECHO, 0644, body);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        node = app_service_node_new_for_bus(lt_bus_connect(b));

        g_assert_true(app_service_node_start_service_sync(node, ECHO, NULL, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        state = state_of(b, ECHO);
        g_assert_cmpstr(state, ==, "active");

        app_service_node_restart_service(node, ECHO, NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, lt_ms(30000), "restart_service() callback"), out);
        g_assert_true(app_service_node_restart_service_finish(node, r.result, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        lt_result_clear(&r);
        g_free(state);
        state = state_of(b, ECHO);
        g_assert_cmpstr(state, ==, "active");

        app_service_node_stop_service(node, ECHO, NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, lt_ms(30000), "stop_service() callback"), out);
        g_assert_true(app_service_node_stop_service_finish(node, r.result, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        lt_result_clear(&r);
        g_free(state);
        state = state_of(b, ECHO);
        g_assert_cmpstr(state, ==, "inactive");

        /* Stopping what does not run succeeds; starting what is not declared does not. */
        g_assert_true(app_service_node_stop_service_sync(node, ECHO, NULL, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        g_assert_false(app_service_node_start_service_sync(node, "com.example.nope", NULL, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE);
out:
        lt_result_clear(&r);
}

static void on_stop_requested(AppServiceProvider *provider, GVariant *details, gpointer user_data) {
        char **reason = user_data;

        g_free(*reason);
        if (!g_variant_lookup(details, "reason", "s", reason))
                *reason = g_strdup("(none)");
}

/* The provider in this process hears stop-requested; its default handler unregisters. */
static void test_stop_requested(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceNode) node = NULL;
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *reason = NULL;
        LtResult r = { 0 };

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, "StopTimeoutSec=20\n");
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        p = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_signal_connect(p, "stop-requested", G_CALLBACK(on_stop_requested), &reason);
        LT_CHECK_OR_GOTO(app_service_provider_register_sync(p, NULL, &error), out);
        node = app_service_node_new_for_bus(lt_bus_connect(b));

        app_service_node_stop_service(node, ECHO, NULL, lt_result_cb, &r);
        LT_WAIT(reason != NULL, LT_WAIT_MS, "stop-requested");
        g_assert_cmpstr(reason, ==, "stop");
        LT_WAIT(!app_service_provider_get_registered(p), LT_WAIT_MS, "unregistered by the default handler");
        /* Well before StopTimeoutSec: the provider went of its own accord. */
        LT_CHECK_OR_GOTO(lt_result_wait(&r, lt_ms(5000), "stop_service() callback"), out);
        g_assert_true(app_service_node_stop_service_finish(node, r.result, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        {
                g_autofree char *state = state_of(b, ECHO);

                g_assert_cmpstr(state, ==, "inactive");
        }
out:
        lt_result_clear(&r);
        if (p)
                g_signal_handlers_disconnect_by_data(p, &reason);
}

static void test_reload(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceNode) node = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *before = NULL, *after = NULL;
        LtResult r = { 0 };

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        node = app_service_node_new_for_bus(lt_bus_connect(b));
        lt_bus_write_definition(b, "com.example.added", 0644, NULL);

        g_assert_true(app_service_node_reload_sync(node, NULL, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        before = state_of(b, "com.example.added");
        g_assert_cmpstr(before, ==, "inactive");

        lt_bus_write_definition(b, "com.example.later", 0644, NULL);
        app_service_node_reload(node, NULL, lt_result_cb, &r);
        LT_CHECK_OR_RETURN(lt_result_wait(&r, LT_WAIT_MS, "reload() callback"));
        g_assert_true(app_service_node_reload_finish(node, r.result, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        lt_result_clear(&r);
        after = state_of(b, "com.example.later");
        g_assert_cmpstr(after, ==, "inactive");
}

/* ---- monitoring ------------------------------------------------------------------------------------ */

/* Only the node that started monitoring emits events: not another node of the same bus
 * connection, not a node on another connection, not a node in another process. */
static void test_monitor_is_private(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceNode) watcher = NULL, same_conn = NULL, other_conn = NULL, witness = NULL;
        g_autoptr(GError) error = NULL;
        Events seen, same, other, witnessed;
        LtResult r = { 0 };
        GDBusConnection *conn;
        LtHelper *idle;
        guint n;

        if (!b)
                return;
        events_init(&seen);
        events_init(&same);
        events_init(&other);
        events_init(&witnessed);
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_GOTO(lt_bus_start_daemon(b), out);
        conn = lt_bus_connect(b);
        watcher = app_service_node_new_for_bus(conn);
        same_conn = app_service_node_new_for_bus(conn);
        other_conn = app_service_node_new_for_bus(lt_bus_connect(b));
        witness = app_service_node_new_for_bus(lt_bus_connect(b));
        g_signal_connect(watcher, "monitor-event", G_CALLBACK(on_event), &seen);
        g_signal_connect(same_conn, "monitor-event", G_CALLBACK(on_event), &same);
        g_signal_connect(other_conn, "monitor-event", G_CALLBACK(on_event), &other);
        g_signal_connect(witness, "monitor-event", G_CALLBACK(on_event), &witnessed);
        {
                const char *args[] = { "watch", ECHO, NULL };

                idle = lt_helper_spawn(b, args);
                g_free(lt_helper_wait_line(idle, "watching", LT_WAIT_MS));
        }

        app_service_node_start_monitoring(watcher, NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "start_monitoring() callback"), out);
        g_assert_true(app_service_node_start_monitoring_finish(watcher, r.result, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        lt_result_clear(&r);
        g_assert_true(app_service_node_get_monitoring(watcher));
        g_assert_false(app_service_node_get_monitoring(same_conn));
        g_assert_true(app_service_node_start_monitoring_sync(witness, NULL, &error));
        g_assert_no_error(error);
        g_clear_error(&error);

        lt_helper_start_provider(b, ECHO, "echo", NULL);
        LT_WAIT(events_find(&seen, "provider-registered", ECHO), LT_WAIT_MS, "provider-registered event");
        LT_WAIT(events_find(&witnessed, "provider-registered", ECHO), LT_WAIT_MS, "provider-registered (witness)");
        {
                GVariant *event = events_find(&seen, "provider-registered", ECHO);
                guint64 timestamp = 0;
                guint32 pid = 0;

                if (event) {
                        g_assert_true(g_variant_lookup(event, "timestamp", "t", &timestamp));
                        g_assert_cmpuint(timestamp, >, (guint64) (g_get_real_time() - G_USEC_PER_SEC * 600));
                        g_assert_true(g_variant_lookup(event, "pid", "u", &pid));
                        g_assert_cmpuint(pid, >, 0);
                }
        }
        /* Give anything misdirected the time to arrive. */
        LT_RUN_FOR(FALSE, lt_ms(500));
        g_assert_cmpuint(same.types->len, ==, 0);
        g_assert_cmpuint(other.types->len, ==, 0);
        g_assert_false(lt_helper_has_line(idle, "event "));

        /* Stopped: nothing more for the watcher, while the witness still hears. */
        g_assert_true(app_service_node_stop_monitoring_sync(watcher, NULL, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        g_assert_false(app_service_node_get_monitoring(watcher));
        n = seen.types->len;
        g_assert_true(lt_bus_set_service_enabled(b, ECHO, FALSE, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        LT_WAIT(events_find(&witnessed, "service-state", ECHO), LT_WAIT_MS, "service-state event (witness)");
        LT_RUN_FOR(FALSE, lt_ms(500));
        g_assert_cmpuint(seen.types->len, ==, n);
        g_assert_cmpuint(same.types->len, ==, 0);
        g_assert_false(lt_helper_has_line(idle, "event "));
out:
        lt_result_clear(&r);
        if (watcher) {
                g_signal_handlers_disconnect_by_data(watcher, &seen);
                g_signal_handlers_disconnect_by_data(same_conn, &same);
                g_signal_handlers_disconnect_by_data(other_conn, &other);
                g_signal_handlers_disconnect_by_data(witness, &witnessed);
        }
        events_clear(&seen);
        events_clear(&same);
        events_clear(&other);
        events_clear(&witnessed);
}

/* Counts the MonitorEvent signals a bus connection receives, whoever on it subscribed. */
static void on_raw_monitor_event(GDBusConnection *bus, const gchar *sender, const gchar *object_path,
                                 const gchar *interface_name, const gchar *signal_name, GVariant *parameters,
                                 gpointer user_data) {
        guint *count = user_data;

        (*count)++;
}

/* Notes (in GDBus's worker thread) each StopMonitoring the connection sends. */
static GDBusMessage *count_stop_monitoring(GDBusConnection *bus, GDBusMessage *message, gboolean incoming,
                                           gpointer user_data) {
        gint *count = user_data;

        if (!incoming && g_dbus_message_get_message_type(message) == G_DBUS_MESSAGE_TYPE_METHOD_CALL &&
            g_strcmp0(g_dbus_message_get_member(message), "StopMonitoring") == 0)
                g_atomic_int_inc(count);
        return message;
}

/* start_monitoring() cancelled while the call is on its way: the broker, which said yes, is told
 * to stop, and sends the connection no event afterwards. */
static void test_monitor_cancelled(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceNode) node = NULL, witness = NULL;
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) pong = NULL;
        Events witnessed;
        LtResult r = { 0 };
        GDBusConnection *conn = NULL;
        guint subscription = 0, filter = 0, raw_events = 0;
        gint stops = 0;

        if (!b)
                return;
        events_init(&witnessed);
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_GOTO(lt_bus_start_daemon(b), out);
        conn = lt_bus_connect(b);
        node = app_service_node_new_for_bus(conn);
        witness = app_service_node_new_for_bus(lt_bus_connect(b));
        g_signal_connect(witness, "monitor-event", G_CALLBACK(on_event), &witnessed);
        g_assert_true(app_service_node_start_monitoring_sync(witness, NULL, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        subscription = g_dbus_connection_signal_subscribe(conn, NULL, "io.appservice1.Manager", "MonitorEvent",
                                                          "/io/appservice1", NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                          on_raw_monitor_event, &raw_events, NULL);
        filter = g_dbus_connection_add_filter(conn, count_stop_monitoring, &stops, NULL);

        /* The cancellation is handled in the next iteration, long before the reply comes. */
        app_service_node_start_monitoring(node, cancellable, lt_result_cb, &r);
        g_cancellable_cancel(cancellable);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "start_monitoring() callback"), out);
        g_assert_false(app_service_node_start_monitoring_finish(node, r.result, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_clear_error(&error);
        g_assert_false(app_service_node_get_monitoring(node));

        /* The broker's yes comes, and the library takes it back; a round trip on the same
         * connection makes sure the broker handled that before the next event. */
        LT_CHECK_OR_GOTO(LT_WAIT(g_atomic_int_get(&stops) > 0, LT_WAIT_MS, "StopMonitoring after the cancel"), out);
        pong = g_dbus_connection_call_sync(conn, "io.appservice1", "/io/appservice1", "org.freedesktop.DBus.Peer",
                                           "Ping", NULL, NULL, G_DBUS_CALL_FLAGS_NONE, (int) LT_WAIT_MS, NULL,
                                           &error);
        g_assert_no_error(error);
        g_clear_error(&error);

        g_assert_true(lt_bus_set_service_enabled(b, ECHO, FALSE, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        LT_WAIT(events_find(&witnessed, "service-state", ECHO), LT_WAIT_MS, "service-state event (witness)");
        LT_RUN_FOR(FALSE, lt_ms(500));
        g_assert_cmpuint(raw_events, ==, 0);
        g_assert_cmpint(g_atomic_int_get(&stops), ==, 1);
out:
        lt_result_clear(&r);
        if (filter)
                g_dbus_connection_remove_filter(conn, filter);
        if (subscription)
                g_dbus_connection_signal_unsubscribe(conn, subscription);
        if (witness)
                g_signal_handlers_disconnect_by_data(witness, &witnessed);
        events_clear(&witnessed);
}

/* ---- the provider's side ---------------------------------------------------------------------------- */

/* log(): a fault reaches a monitoring node; bad arguments and an unregistered provider fail. */
static void test_log(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceNode) node = NULL;
        g_autoptr(AppServiceProvider) p = NULL, stranger = NULL;
        g_autoptr(GError) error = NULL;
        Events seen;
        LtResult r = { 0 };
        GVariant *fault;
        const char *s;

        if (!b)
                return;
        events_init(&seen);
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        lt_bus_write_definition(b, SENDER, 0644, NULL);
        LT_CHECK_OR_GOTO(lt_bus_start_daemon(b), out);
        node = app_service_node_new_for_bus(lt_bus_connect(b));
        g_signal_connect(node, "monitor-event::fault", G_CALLBACK(on_event), &seen);
        LT_CHECK_OR_GOTO(app_service_node_start_monitoring_sync(node, NULL, &error), out);
        p = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        LT_CHECK_OR_GOTO(app_service_provider_register_sync(p, NULL, &error), out);

        app_service_provider_log(p, APP_SERVICE_LOG_LEVEL_ERROR, "E_SENSOR_TIMEOUT", "the sensor did not answer",
                                 NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "log() callback"), out);
        g_assert_true(app_service_provider_log_finish(p, r.result, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        LT_WAIT((fault = events_find(&seen, "fault", ECHO)) != NULL, LT_WAIT_MS, "fault event");
        if (fault) {
                g_assert_true(g_variant_lookup(fault, "level", "&s", &s));
                g_assert_cmpstr(s, ==, "error");
                g_assert_true(g_variant_lookup(fault, "code", "&s", &s));
                g_assert_cmpstr(s, ==, "E_SENSOR_TIMEOUT");
                g_assert_true(g_variant_lookup(fault, "message", "&s", &s));
                g_assert_cmpstr(s, ==, "the sensor did not answer");
        }
        g_assert_true(app_service_provider_log_sync(p, APP_SERVICE_LOG_LEVEL_DEBUG, NULL, "a debug line", NULL,
                                                    &error));
        g_assert_no_error(error);
        g_clear_error(&error);

        /* An error needs a code; a message may not be empty. */
        g_assert_false(app_service_provider_log_sync(p, APP_SERVICE_LOG_LEVEL_ERROR, "", "no code", NULL, &error));
        g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
        g_clear_error(&error);
        g_assert_false(app_service_provider_log_sync(p, APP_SERVICE_LOG_LEVEL_INFO, NULL, "", NULL, &error));
        g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
        g_clear_error(&error);

        /* Only the registered provider of a service may log for it. */
        stranger = app_service_provider_new_for_bus(lt_bus_connect(b), SENDER);
        g_assert_false(app_service_provider_log_sync(stranger, APP_SERVICE_LOG_LEVEL_INFO, NULL, "hello", NULL,
                                                     &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_NOT_AUTHORIZED);
out:
        lt_result_clear(&r);
        if (node)
                g_signal_handlers_disconnect_by_data(node, &seen);
        events_clear(&seen);
}

static void count_string_cb(GObject *object, GParamSpec *pspec, gpointer user_data) {
        GPtrArray *values = user_data;
        g_autofree char *value = NULL;

        g_object_get(object, pspec->name, &value, NULL);
        g_ptr_array_add(values, g_strdup(value ? value : "(null)"));
}

static void on_state_update(AppServiceProvider *p, GVariant *state, gpointer user_data) {
        GPtrArray *updates = user_data;
        const char *s = "(none)";

        g_variant_lookup(state, "state", "&s", &s);
        g_ptr_array_add(updates, g_strdup(s));
}

/* node-state from the registration, then StateUpdate "stopping" when the broker shuts down, as
 * PropertiesChanged tells the node. */
static void test_node_state_for_providers(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(AppServiceNode) node = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) updates = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) node_states = g_ptr_array_new_with_free_func(g_free);

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        p = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_assert_null(app_service_provider_get_node_state(p));
        g_signal_connect(p, "state-update", G_CALLBACK(on_state_update), updates);
        LT_CHECK_OR_GOTO(app_service_provider_register_sync(p, NULL, &error), out);
        g_assert_cmpstr(app_service_provider_get_node_state(p), ==, "running");
        g_assert_cmpstr(app_service_provider_get_property_value(p, "settings", "state"), ==, "running");
        node = app_service_node_new_for_bus(lt_bus_connect(b));
        LT_WAIT(g_strcmp0(app_service_node_get_state(node), "running") == 0, LT_WAIT_MS, "node state 'running'");
        g_signal_connect(node, "notify::state", G_CALLBACK(count_string_cb), node_states);

        kill(b->daemon_pid, SIGTERM);
        LT_WAIT(updates->len > 0, LT_WAIT_MS, "state-update");
        if (updates->len > 0)
                g_assert_cmpstr(updates->pdata[0], ==, "stopping");
        g_assert_cmpstr(app_service_provider_get_node_state(p), ==, "stopping");
        LT_WAIT(node_states->len >= 2, LT_WAIT_MS, "node state 'stopping', then NULL");
        if (node_states->len >= 2) {
                g_assert_cmpstr(node_states->pdata[0], ==, "stopping");
                g_assert_cmpstr(node_states->pdata[node_states->len - 1], ==, "(null)");
        }
out:
        if (p)
                g_signal_handlers_disconnect_by_data(p, updates);
        if (node)
                g_signal_handlers_disconnect_by_data(node, node_states);
}

static void submit_wait(AppServiceProvider *p, const char *destination, const char *action, GVariant *message,
                        GVariant **responses, GVariant **failures, GError **error) {
        LtResult r = { 0 };

        app_service_provider_submit_action(p, destination, action, message, NULL, lt_result_cb, &r);
        if (lt_result_wait(&r, lt_ms(30000), "submit_action() callback"))
                app_service_provider_submit_action_finish(p, r.result, responses, failures, error);
        else
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no submit_action() callback");
        lt_result_clear(&r);
}

static void test_submit_action(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GVariant) message = lt_value_set("{'celsius': <21>}");
        g_autoptr(GVariant) responses = NULL, failures = NULL;
        g_autoptr(GVariant) answer = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *line = NULL;
        const char *failure = NULL;
        LtHelper *echo, *slow;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        lt_bus_write_definition(b, SLOW, 0644, "RequestTimeoutSec=1\n");
        lt_bus_write_definition(b, SENDER, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        echo = lt_helper_start_provider(b, ECHO, "echo", NULL);
        p = app_service_provider_new_for_bus(lt_bus_connect(b), SENDER);
        LT_CHECK_OR_RETURN(app_service_provider_register_sync(p, NULL, &error));

        /* One receiver: its answer, and on its side the action and who sent it. */
        submit_wait(p, ECHO, "set-temperature", message, &responses, &failures, &error);
        g_assert_no_error(error);
        g_clear_error(&error);
        LT_CHECK_OR_RETURN(responses && failures);
        answer = g_variant_lookup_value(responses, ECHO, G_VARIANT_TYPE_VARDICT);
        g_assert_true(lt_value_set_equal(answer, message));
        g_assert_cmpuint(g_variant_n_children(failures), ==, 0);
        line = lt_helper_wait_line(echo, "action ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "action set-temperature " SENDER);
        g_clear_pointer(&responses, g_variant_unref);
        g_clear_pointer(&failures, g_variant_unref);
        g_clear_pointer(&answer, g_variant_unref);

        /* A broadcast: echo answers, slow does not (a failure, not an error), the sender itself
         * is left out. */
        slow = lt_helper_start_provider(b, SLOW, "hold", NULL);
        submit_wait(p, "*", "ping", NULL, &responses, &failures, &error);
        g_assert_no_error(error);
        g_clear_error(&error);
        LT_CHECK_OR_RETURN(responses && failures);
        g_assert_cmpuint(g_variant_n_children(responses), ==, 1);
        answer = g_variant_lookup_value(responses, ECHO, G_VARIANT_TYPE_VARDICT);
        g_assert_nonnull(answer);
        g_assert_cmpuint(g_variant_n_children(failures), ==, 1);
        g_assert_true(g_variant_lookup(failures, SLOW, "&s", &failure));
        g_assert_true(g_str_has_prefix(failure, "io.appservice1.Error.Timeout: "));
        g_free(lt_helper_wait_line(slow, "action ping " SENDER, LT_WAIT_MS));

        /* Refusals are errors of the call. */
        g_assert_false(app_service_provider_submit_action_sync(p, "com.example.nope", "x", NULL, NULL, NULL, NULL,
                                                               &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE);
        g_clear_error(&error);
        g_assert_false(app_service_provider_submit_action_sync(p, ECHO, "", NULL, NULL, NULL, NULL, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
        g_clear_error(&error);
        g_assert_false(app_service_provider_submit_action_sync(p, ECHO, "x", g_variant_new_int32(1), NULL, NULL,
                                                               NULL, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static void on_action_request(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        app_service_request_send_response(request, app_service_request_get_message(request), NULL, NULL, NULL);
}

static void on_action_connection(AppServiceProvider *p, AppServiceConnection *connection, GVariant *caller,
                                 gpointer user_data) {
        AppServiceConnection **received = user_data;

        /* Here, not after the wait: the request may come in the same main-context iteration. */
        g_signal_connect(connection, "request-received", G_CALLBACK(on_action_request), NULL);
        g_set_object(received, connection);
}

/* The receiving side through the library: action and sender on the connection. */
static void test_submit_action_received(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(AppServiceConnection) received = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *line = NULL;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        lt_bus_write_definition(b, SENDER, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        p = app_service_provider_new_for_bus(lt_bus_connect(b), ECHO);
        g_signal_connect(p, "connection-received", G_CALLBACK(on_action_connection), &received);
        LT_CHECK_OR_GOTO(app_service_provider_register_sync(p, NULL, &error), out);
        {
                const char *args[] = { "submit", SENDER, ECHO, NULL };
                LtHelper *sender = lt_helper_spawn(b, args);

                LT_CHECK_OR_GOTO(LT_WAIT(received != NULL, LT_WAIT_MS, "the SubmitAction connection"), out);
                g_assert_cmpstr(app_service_connection_get_action(received), ==, "test-action");
                g_assert_cmpstr(app_service_connection_get_caller_app_service_name(received), ==, SENDER);
                line = lt_helper_wait_line(sender, "submit ", lt_ms(30000));
                g_assert_cmpstr(line, ==, "submit ok {'" ECHO "': <{'ping': <1>}>} @a{ss} {}");
        }
        /* A client's connection has neither. */
        {
                const char *args[] = { "client", ECHO, NULL };
                LtHelper *client;

                g_signal_handlers_disconnect_by_func(received, on_action_request, NULL);
                g_clear_object(&received);
                client = lt_helper_spawn(b, args);
                LT_CHECK_OR_GOTO(LT_WAIT(received != NULL, LT_WAIT_MS, "the client's connection"), out);
                g_assert_null(app_service_connection_get_action(received));
                g_assert_null(app_service_connection_get_caller_app_service_name(received));
                g_free(lt_helper_wait_line(client, "response 0", LT_WAIT_MS));
        }
out:
        if (received)
                g_signal_handlers_disconnect_by_func(received, on_action_request, NULL);
        if (p)
                g_signal_handlers_disconnect_by_data(p, &received);
}

/* ---- submit_message (0.3.0): to io.appservice.cloud ------------------------------------------ */

typedef struct {
        GPtrArray *actions;  /* "ACTION SENDER" per connection */
        GPtrArray *messages; /* the messages received (GVariant) */
} FakeCloud;

static void on_cloud_request(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        FakeCloud *cloud = user_data;

        g_ptr_array_add(cloud->messages, g_variant_ref(app_service_request_get_message(request)));
        app_service_request_send_response(request, g_variant_new_parsed("{'status': <'queued'>, 'id': <'x'>}"), NULL,
                                          NULL, NULL);
}

static void on_cloud_connection(AppServiceProvider *p, AppServiceConnection *connection, GVariant *caller,
                                gpointer user_data) {
        FakeCloud *cloud = user_data;

        g_ptr_array_add(cloud->actions,
                        g_strdup_printf("%s %s", app_service_connection_get_action(connection),
                                        app_service_connection_get_caller_app_service_name(connection)));
        g_signal_connect(connection, "request-received", G_CALLBACK(on_cloud_request), cloud);
}

static void test_submit_message(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) cloud_provider = NULL;
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GPtrArray) actions = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func((GDestroyNotify) g_variant_unref);
        g_autoptr(GVariant) message = lt_value_set("{'Temperature': <21.5>, 'Unit': <'C'>}");
        g_autoptr(GVariant) expected = lt_value_set("{'status': <'queued'>, 'id': <'x'>}");
        g_autoptr(GVariant) response = NULL;
        g_autoptr(GError) error = NULL;
        FakeCloud cloud = { actions, messages };
        LtResult r = { 0 };

        if (!b)
                return;
        g_assert_cmpstr(APP_SERVICE_CLOUD_NAME, ==, "io.appservice.cloud");
        lt_bus_write_definition(b, APP_SERVICE_CLOUD_NAME, 0644, NULL);
        lt_bus_write_definition(b, SENDER, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        cloud_provider = app_service_provider_new_for_bus(lt_bus_connect(b), APP_SERVICE_CLOUD_NAME);
        g_signal_connect(cloud_provider, "connection-received", G_CALLBACK(on_cloud_connection), &cloud);
        LT_CHECK_OR_GOTO(app_service_provider_register_sync(cloud_provider, NULL, &error), out);
        p = app_service_provider_new_for_bus(lt_bus_connect(b), SENDER);
        LT_CHECK_OR_GOTO(app_service_provider_register_sync(p, NULL, &error), out);

        /* Async: the bridge's response, and on its side the action and the sending service. */
        app_service_provider_submit_message(p, message, NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, lt_ms(30000), "submit_message() callback"), out);
        response = app_service_provider_submit_message_finish(p, r.result, &error);
        lt_result_clear(&r);
        g_assert_no_error(error);
        LT_CHECK_OR_GOTO(response != NULL, out);
        g_assert_false(g_variant_is_floating(response));
        g_assert_true(lt_value_set_equal(response, expected));
        g_assert_cmpuint(actions->len, ==, 1);
        if (actions->len == 1)
                g_assert_cmpstr(actions->pdata[0], ==, "SubmitMessage " SENDER);
        g_assert_cmpuint(messages->len, ==, 1);
        if (messages->len == 1)
                g_assert_true(lt_value_set_equal(messages->pdata[0], message));
        g_clear_pointer(&response, g_variant_unref);

        /* A NULL message is an empty one. */
        app_service_provider_submit_message(p, NULL, NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, lt_ms(30000), "submit_message() callback"), out);
        response = app_service_provider_submit_message_finish(p, r.result, &error);
        lt_result_clear(&r);
        g_assert_no_error(error);
        g_assert_true(lt_value_set_equal(response, expected));
        if (messages->len == 2)
                g_assert_cmpuint(g_variant_n_children(messages->pdata[1]), ==, 0);
        else
                lt_fail("the fake cloud got %u messages, not 2", messages->len);

        /* Not a ValueSet: refused before anything is sent. */
        app_service_provider_submit_message(p, g_variant_new_int32(1), NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "submit_message() callback"), out);
        g_assert_null(app_service_provider_submit_message_finish(p, r.result, &error));
        lt_result_clear(&r);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
out:
        if (cloud_provider)
                g_signal_handlers_disconnect_by_data(cloud_provider, &cloud);
}

/* What SubmitAction reports as a failure of the cloud service (here: no answer in time) and what
 * it refuses (no such service) are errors with their codes. The sync twin, from a thread whose
 * main context nobody runs: the receiver is another process. */
static void test_submit_message_failures(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceProvider) p = NULL;
        g_autoptr(GVariant) response = NULL;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GError) error = NULL;

        if (!b)
                return;
        lt_bus_write_definition(b, SENDER, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        p = app_service_provider_new_for_bus(lt_bus_connect(b), SENDER);
        LT_CHECK_OR_RETURN(app_service_provider_register_sync(p, NULL, &error));

        /* No bridge declared on this node. */
        response = app_service_provider_submit_message_sync(p, g_variant_new_parsed("{'a': <1>}"), NULL, &error);
        g_assert_null(response);
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE);
        if (error)
                g_assert_nonnull(strstr(error->message, APP_SERVICE_CLOUD_NAME));
        g_clear_error(&error);

        /* A bridge that does not answer within RequestTimeoutSec: a failure of SubmitAction. */
        lt_bus_write_definition(b, APP_SERVICE_CLOUD_NAME, 0644, "RequestTimeoutSec=1\n");
        reply = g_dbus_connection_call_sync(b->conn, "io.appservice1", "/io/appservice1", "io.appservice1.Manager",
                                            "Reload", NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
        g_assert_no_error(error);
        LT_CHECK_OR_RETURN(reply != NULL);
        lt_helper_start_provider(b, APP_SERVICE_CLOUD_NAME, "hold", NULL);
        response = app_service_provider_submit_message_sync(p, NULL, NULL, &error);
        g_assert_null(response);
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_TIMEOUT);
        /* The message kept, without the D-Bus name in front. */
        if (error)
                g_assert_false(g_str_has_prefix(error->message, "io.appservice1.Error"));
}

/* ---- the list of app services ------------------------------------------------------------------ */

#define ALPHA "com.example.alpha"
#define PRIVATE "com.example.private"
#define GAMES_ONLY "com.example.games"

/* The row of @name (a new reference), or NULL. */
static AppServiceInfo *row_named(GListModel *list, const char *name) {
        for (guint i = 0; i < g_list_model_get_n_items(list); i++) {
                AppServiceInfo *info = g_list_model_get_item(list, i);

                if (g_str_equal(app_service_info_get_name(info), name))
                        return info;
                g_object_unref(info);
        }
        return NULL;
}

static gboolean row_has_state(GListModel *list, const char *name, const char *state) {
        g_autoptr(AppServiceInfo) info = row_named(list, name);

        return info && g_str_equal(app_service_info_get_state(info), state);
}

/* The names in the list's order, comma-separated. */
static char *row_names(GListModel *list) {
        GString *names = g_string_new(NULL);

        for (guint i = 0; i < g_list_model_get_n_items(list); i++) {
                g_autoptr(AppServiceInfo) info = g_list_model_get_item(list, i);

                g_string_append_printf(names, "%s%s", i ? "," : "", app_service_info_get_name(info));
        }
        return g_string_free(names, FALSE);
}

#define WAIT_ROWS(list, want)                                                                          \
        ({                                                                                             \
                g_autofree char *names_ = NULL;                                                        \
                gboolean ok_ = LT_WAIT((g_free(names_), names_ = row_names(list), g_str_equal(names_, (want))), \
                                       LT_WAIT_MS, "rows " want);                                      \
                if (!ok_)                                                                              \
                        g_test_message("rows: %s", names_);                                            \
                ok_;                                                                                   \
        })

static GListModel *list_services(AppServiceNode *node) {
        g_autoptr(GError) error = NULL;
        LtResult r = { 0 };
        GListModel *list;

        app_service_node_list_services(node, NULL, lt_result_cb, &r);
        if (!lt_result_wait(&r, LT_WAIT_MS, "list_services() callback"))
                return NULL;
        list = app_service_node_list_services_finish(node, r.result, &error);
        g_assert_no_error(error);
        lt_result_clear(&r);
        return list;
}

static void remove_definition(LtBus *b, const char *name) {
        g_autofree char *file = g_strconcat(name, ".appservice", NULL);
        g_autofree char *path = g_build_filename(b->services_dir, file, NULL);

        g_assert_cmpint(unlink(path), ==, 0);
}

/* The list follows starts, stops, enabling, reloads and a new broker, with no polling; a row
 * stays the same object for as long as its service is declared. */
static void test_list(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceNode) node = NULL;
        g_autoptr(GListModel) list = NULL;
        g_autoptr(AppServiceInfo) alpha = NULL, echo = NULL, priv = NULL, echo_later = NULL;
        g_autoptr(GError) error = NULL;
        LtHelper *provider;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        lt_bus_write_definition(b, ALPHA, 0644, "Description=The first one\nExec=/bin/false\n");
        lt_bus_write_definition(b, PRIVATE, 0644, "AllowUsers=root\n");
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        node = app_service_node_new_for_bus(lt_bus_connect(b));
        LT_CHECK_OR_RETURN((list = list_services(node)));

        g_assert_true(g_list_model_get_item_type(list) == APP_SERVICE_TYPE_INFO);
        LT_CHECK_OR_RETURN(WAIT_ROWS(list, ALPHA "," ECHO "," PRIVATE));
        alpha = row_named(list, ALPHA);
        echo = row_named(list, ECHO);
        priv = row_named(list, PRIVATE);
        g_assert_cmpstr(app_service_info_get_description(alpha), ==, "The first one");
        g_assert_cmpstr(app_service_info_get_provider(alpha), ==, "com.example.TestApp");
        g_assert_true(app_service_info_get_activatable(alpha));
        g_assert_false(app_service_info_get_activatable(echo));
        g_assert_true(app_service_info_get_may_open(priv)); /* root */
        g_assert_cmpstr(app_service_info_get_state(priv), ==, "inactive");
        g_assert_true(g_str_has_prefix(app_service_info_get_object_path(echo), "/io/appservice1/service/"));

        provider = lt_helper_start_provider(b, ECHO, "echo", NULL);
        LT_CHECK_OR_RETURN(provider);
        LT_WAIT(g_str_equal(app_service_info_get_state(echo), "active"), LT_WAIT_MS, "echo active");
        lt_helper_kill(provider, SIGKILL);
        LT_WAIT(g_str_equal(app_service_info_get_state(echo), "inactive"), LT_WAIT_MS, "echo inactive");
        g_assert_true(lt_bus_set_service_enabled(b, ECHO, FALSE, NULL));
        LT_WAIT(g_str_equal(app_service_info_get_state(echo), "disabled"), LT_WAIT_MS, "echo disabled");
        g_assert_true(lt_bus_set_service_enabled(b, ECHO, TRUE, NULL));
        LT_WAIT(g_str_equal(app_service_info_get_state(echo), "inactive"), LT_WAIT_MS, "echo enabled");

        /* A reload adds a row and removes one; the others stay the same objects. */
        lt_bus_write_definition(b, "com.example.beta", 0644, NULL);
        remove_definition(b, ALPHA);
        g_assert_true(app_service_node_reload_sync(node, NULL, &error));
        g_assert_no_error(error);
        LT_CHECK_OR_RETURN(WAIT_ROWS(list, "com.example.beta," ECHO "," PRIVATE));
        echo_later = row_named(list, ECHO);
        g_assert_true(echo_later == echo);

        /* A new broker with other definitions: read again. */
        LT_CHECK_OR_RETURN(lt_bus_stop_daemon(b));
        lt_bus_write_definition(b, "com.example.gamma", 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        WAIT_ROWS(list, "com.example.beta," ECHO ",com.example.gamma," PRIVATE);
}

/* An unprivileged lister sees every service, and whether it may open it, but the state of a
 * private service only if it may see it: not in the list, not later by any signal. */
static void test_list_unprivileged(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autofree char *uid_arg = NULL, *gid_arg = NULL, *allow = NULL, *line = NULL;
        struct passwd *pw;
        LtHelper *lister;

        if (!b || !(pw = games_user()))
                return;
        uid_arg = g_strdup_printf("--uid=%u", (unsigned) pw->pw_uid);
        gid_arg = g_strdup_printf("--gid=%u", (unsigned) pw->pw_gid);
        allow = g_strdup_printf("AllowUsers=%u\n", (unsigned) pw->pw_uid);
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        lt_bus_write_definition(b, PRIVATE, 0644, "AllowUsers=root\n");
        lt_bus_write_definition(b, GAMES_ONLY, 0644, allow);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        {
                const char *args[] = { uid_arg, gid_arg, "list", "-", NULL };

                lister = lt_helper_spawn(b, args);
        }
        g_free(line);
        line = lt_helper_wait_line(lister, "listed ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "listed 3");
        g_free(line);
        line = lt_helper_wait_line(lister, "service ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "service " ECHO " inactive 1");
        g_free(line);
        line = lt_helper_wait_line(lister, "service ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "service " GAMES_ONLY " inactive 1");
        g_free(line);
        line = lt_helper_wait_line(lister, "service ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "service " PRIVATE " unknown 0");

        /* The broker sends in order: once the echo's change arrived, the others' would have. */
        LT_CHECK_OR_RETURN(lt_helper_start_provider(b, PRIVATE, "echo", NULL));
        LT_CHECK_OR_RETURN(lt_helper_start_provider(b, GAMES_ONLY, "echo", NULL));
        LT_CHECK_OR_RETURN(lt_helper_start_provider(b, ECHO, "echo", NULL));
        g_free(line);
        line = lt_helper_wait_line(lister, "state " GAMES_ONLY, LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "state " GAMES_ONLY " active");
        g_free(line);
        line = lt_helper_wait_line(lister, "state " ECHO, LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "state " ECHO " active");
        g_assert_false(lt_helper_has_line(lister, "state " PRIVATE));
}

static void emit_properties_changed(GDBusConnection *rogue, const char *destination, const char *path,
                                    const char *state) {
        g_autoptr(GError) error = NULL;

        g_assert_true(g_dbus_connection_emit_signal(
                rogue, destination, path, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                g_variant_new_parsed("('io.appservice1.Service', {'State': <%s>}, @as [])", state), &error));
        g_assert_no_error(error);
}

static void on_marker(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                      const char *signal, GVariant *parameters, gpointer user_data) {
        *(gboolean *) user_data = TRUE;
}

static void on_state_noted(AppServiceInfo *info, GParamSpec *pspec, gpointer user_data) {
        g_string_append_printf(user_data, "%s;", app_service_info_get_state(info));
}

/* Another peer that sends the broker's signals, broadcast or to the lister alone, changes
 * nothing: only the owner of io.appservice1 is heard. */
static void test_list_spoofed(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceNode) node = NULL;
        g_autoptr(GListModel) list = NULL;
        g_autoptr(AppServiceInfo) echo = NULL;
        g_autoptr(GString) states = g_string_new(NULL);
        g_autoptr(GError) error = NULL;
        GDBusConnection *conn, *rogue;
        const char *path, *me;
        gboolean marked = FALSE;
        guint marker;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        lt_bus_write_definition(b, ALPHA, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        conn = lt_bus_connect(b);
        rogue = lt_bus_connect(b);
        me = g_dbus_connection_get_unique_name(conn);
        node = app_service_node_new_for_bus(conn);
        LT_CHECK_OR_RETURN((list = list_services(node)));
        LT_CHECK_OR_RETURN((echo = row_named(list, ECHO)));
        path = app_service_info_get_object_path(echo);
        g_signal_connect(echo, "notify::state", G_CALLBACK(on_state_noted), states);

        emit_properties_changed(rogue, NULL, path, "failed");
        emit_properties_changed(rogue, me, path, "active");
        g_assert_true(g_dbus_connection_emit_signal(rogue, me, "/io/appservice1", "org.freedesktop.DBus.ObjectManager",
                                                    "InterfacesRemoved",
                                                    g_variant_new("(o^as)", path,
                                                                  (const char *const[]) { "io.appservice1.Service", NULL }),
                                                    &error));
        g_assert_no_error(error);
        /* A marker after them, from the same peer: once it is dispatched, they were. */
        marker = g_dbus_connection_signal_subscribe(conn, g_dbus_connection_get_unique_name(rogue), "io.example.Test",
                                                    "Marker", "/", NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_marker, &marked,
                                                    NULL);
        g_assert_true(g_dbus_connection_emit_signal(rogue, me, "/", "io.example.Test", "Marker", NULL, &error));
        g_assert_no_error(error);
        LT_WAIT(marked, LT_WAIT_MS, "the rogue's marker");
        g_dbus_connection_signal_unsubscribe(conn, marker);
        g_assert_cmpstr(states->str, ==, "");
        g_assert_true(lt_bus_set_service_enabled(b, ECHO, FALSE, NULL));
        LT_WAIT(g_str_equal(app_service_info_get_state(echo), "disabled"), LT_WAIT_MS, "echo disabled");
        g_assert_cmpstr(states->str, ==, "disabled;");
        WAIT_ROWS(list, ALPHA "," ECHO);
        g_signal_handlers_disconnect_by_data(echo, states);
}

/* The _sync twin gives a list that follows the broker as well; a cancelled call gives nothing. */
static void test_list_sync_and_cancelled(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceNode) node = NULL;
        g_autoptr(GListModel) list = NULL;
        g_autoptr(GListModel) none = NULL;
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        g_autoptr(GError) error = NULL;
        LtResult r = { 0 };

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        node = app_service_node_new_for_bus(lt_bus_connect(b));
        list = app_service_node_list_services_sync(node, NULL, &error);
        g_assert_no_error(error);
        LT_CHECK_OR_RETURN(list);
        LT_CHECK_OR_RETURN(WAIT_ROWS(list, ECHO));
        LT_CHECK_OR_RETURN(lt_helper_start_provider(b, ECHO, "echo", NULL));
        LT_WAIT(row_has_state(list, ECHO, "active"), LT_WAIT_MS, "echo active in the sync list");

        g_cancellable_cancel(cancellable);
        app_service_node_list_services(node, cancellable, lt_result_cb, &r);
        LT_CHECK_OR_RETURN(lt_result_wait(&r, LT_WAIT_MS, "list_services() callback"));
        none = app_service_node_list_services_finish(node, r.result, &error);
        g_assert_null(none);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        lt_result_clear(&r);
}

int main(int argc, char **argv) {
        lt_init(&argc, &argv);

        g_test_add_func("/node/state", test_node_state);
        g_test_add_func("/node/enable-disable", test_enable_disable);
        g_test_add_func("/node/not-authorized", test_not_authorized);
        g_test_add_func("/node/start-stop-restart", test_start_stop_restart);
        g_test_add_func("/node/stop-requested", test_stop_requested);
        g_test_add_func("/node/reload", test_reload);
        g_test_add_func("/node/monitor-is-private", test_monitor_is_private);
        g_test_add_func("/node/monitor-cancelled", test_monitor_cancelled);
        g_test_add_func("/node/list", test_list);
        g_test_add_func("/node/list-unprivileged", test_list_unprivileged);
        g_test_add_func("/node/list-spoofed", test_list_spoofed);
        g_test_add_func("/node/list-sync-and-cancelled", test_list_sync_and_cancelled);
        g_test_add_func("/provider/log", test_log);
        g_test_add_func("/provider/node-state", test_node_state_for_providers);
        g_test_add_func("/provider/submit-action", test_submit_action);
        g_test_add_func("/provider/submit-action-received", test_submit_action_received);
        g_test_add_func("/provider/submit-message", test_submit_message);
        g_test_add_func("/provider/submit-message-failures", test_submit_message_failures);
        return g_test_run();
}
