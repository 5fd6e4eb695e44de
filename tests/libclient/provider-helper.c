/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* provider-helper: the other endpoint of the library's tests, in a process of its own, built on
 * the library alone.
 *
 *   provider-helper [--uid=UID --gid=GID] [--stay] MODE NAME [ARG]
 *
 * Provider modes register NAME (AppServiceProvider on the system bus of DBUS_SYSTEM_BUS_ADDRESS)
 * and answer each request as MODE says:
 *   echo               the message back, at once
 *   ignore             nothing: the handler lets go of the request unanswered
 *   hold               keeps every request unanswered (for timeouts and limits)
 *   defer MS           keeps the request and answers it with the message back after MS ms
 *   greet-on-connect   sends {"greeting": "hello"} to each new client, answers requests as echo
 *   close-on-request   closes the connection when a request arrives
 *   crash              dies by SIGKILL when a request arrives
 *   submit DEST        as echo, and once registered submits the action "test-action" with
 *                      {"ping": <int32 1>} to DEST (an app service or "*"): "submit ok RESPONSES
 *                      FAILURES" or "submit failed DOMAIN CODE MESSAGE"
 * A connection made by SubmitAction adds a line "action ACTION SERVICE" ("-" for no service)
 * after its "connection" line.
 * Node modes (AppServiceNode on the same bus):
 *   admin VERB         VERB (start, stop, restart, enable, disable: of NAME; reload; monitor):
 *                      "admin ok" or "admin failed DOMAIN CODE MESSAGE"; after monitor, each
 *                      event as "event TYPE SERVICE" until the end
 *   watch              a node that never starts monitoring: "watching", then "event TYPE" for
 *                      any event it emits (none should come)
 *   list               app_service_node_list_services(): "listed N" and one "service NAME STATE
 *                      MAY-OPEN" per row, then every change as it comes: "added NAME STATE
 *                      MAY-OPEN", "removed NAME", "state NAME STATE" (NAME: ignored)
 * The client mode opens NAME (ARG: the package family name), sends {"ping": <int32 1>} and
 * answers requests from the provider as echo does:
 *   client             "open STATUS DOMAIN CODE", then "response STATUS MESSAGE"; then it closes
 *                      and exits, or with --stay stays open (until "close"/"quit"/end of stdin)
 * The limits mode opens NAME on the default bus and sends what the library must refuse itself:
 *   limits             "open ...", "exit-on-close 0|1", then "oversize", "deep33", "deep32" and
 *                      "ping" lines, each "WHAT STATUS DOMAIN CODE MESSAGE", then "is-open 0|1"
 *
 * --uid/--gid switch to that user and group (setgroups, setresgid, setresuid) before anything
 * touches the bus.
 *
 * Everything that happens is one line on stdout ("register ok", "register failed DOMAIN CODE
 * MESSAGE" (exit 3), "registered 1", "connection uid=0 count=1", "request {...}", "answered 0",
 * "closed 1", "greet-response 0 {...}", ...); the test waits for those lines. Commands on stdin, one per line: "unregister", "register",
 * "close" (closes every open connection), "send TEXT" (sends the a{sv} TEXT on every open
 * connection), "answer" (answers every held request with its message), "release" (drops the
 * held requests unanswered), "quit". End of stdin quits too, when stdin is a pipe. SIGTERM and
 * SIGINT quit cleanly (exit 0). */

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <appservice.h>
#include <glib-unix.h>

typedef struct Helper {
        GMainLoop *loop;
        char *mode;
        char *name;
        guint defer_ms;
        AppServiceProvider *provider;
        GPtrArray *connections; /* the open ones, referenced */
        GPtrArray *held;        /* requests kept unanswered */
        GString *stdin_buffer;
        gboolean stay;
        guint stdin_watch;
        int exit_code;
} Helper;

static void emit(const char *format, ...) G_GNUC_PRINTF(1, 2);

static void emit(const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vprintf(format, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

static char *print_value_set(GVariant *v) {
        return v ? g_variant_print(v, TRUE) : g_strdup("(null)");
}

static void emit_error(const char *what, const GError *error) {
        if (error)
                emit("%s failed %s %d %s", what, g_quark_to_string(error->domain), error->code, error->message);
        else
                emit("%s failed none 0 -", what);
}

/* ---- answering --------------------------------------------------------------------------------- */

static void response_sent_cb(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;
        AppServiceResponseStatus status;

        status = app_service_request_send_response_finish(APP_SERVICE_REQUEST(source), result, &error);
        emit("answered %d", (int) status);
        if (error)
                emit_error("answer", error);
}

static void answer_with_message(AppServiceRequest *request) {
        GVariant *message = app_service_request_get_message(request);

        app_service_request_send_response(request, message, NULL, response_sent_cb, NULL);
}

static gboolean deferred_answer_cb(gpointer user_data) {
        AppServiceRequest *request = user_data;

        emit("deferred-answer");
        answer_with_message(request);
        return G_SOURCE_REMOVE;
}

static void close_done_cb(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;

        if (app_service_connection_close_finish(APP_SERVICE_CONNECTION(source), result, &error))
                emit("close-done");
        else
                emit_error("close", error);
}

static void on_request_received(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        Helper *h = user_data;
        g_autofree char *text = print_value_set(app_service_request_get_message(request));

        emit("request %s", text);
        if (g_str_equal(h->mode, "echo") || g_str_equal(h->mode, "greet-on-connect")) {
                answer_with_message(request);
        } else if (g_str_equal(h->mode, "ignore")) {
                /* Nothing: the library completes it with an empty response once released. */
        } else if (g_str_equal(h->mode, "hold")) {
                g_ptr_array_add(h->held, g_object_ref(request));
        } else if (g_str_equal(h->mode, "defer")) {
                g_timeout_add_full(G_PRIORITY_DEFAULT, h->defer_ms, deferred_answer_cb, g_object_ref(request),
                                   g_object_unref);
        } else if (g_str_equal(h->mode, "close-on-request")) {
                app_service_connection_close(connection, NULL, close_done_cb, NULL);
        } else if (g_str_equal(h->mode, "crash")) {
                emit("crashing");
                kill(getpid(), SIGKILL);
        }
}

static void on_service_closed(AppServiceConnection *connection, AppServiceClosedStatus status, gpointer user_data) {
        Helper *h = user_data;

        emit("closed %d", (int) status);
        g_signal_handlers_disconnect_by_data(connection, h);
        g_ptr_array_remove(h->connections, connection);
}

static void greeting_answered_cb(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;

        response = app_service_connection_send_message_finish(APP_SERVICE_CONNECTION(source), result, &error);
        if (response) {
                g_autofree char *text = print_value_set(app_service_response_get_message(response));

                emit("greet-response %d %s", (int) app_service_response_get_status(response), text);
        } else {
                emit("greet-response %d (null)", (int) app_service_response_status_from_error(error));
                emit_error("greet", error);
        }
}

static void on_connection_received(AppServiceProvider *provider, AppServiceConnection *connection, GVariant *caller,
                                   gpointer user_data) {
        Helper *h = user_data;
        guint32 uid = G_MAXUINT32;

        if (caller)
                g_variant_lookup(caller, "uid", "u", &uid);
        g_ptr_array_add(h->connections, g_object_ref(connection));
        g_signal_connect(connection, "request-received", G_CALLBACK(on_request_received), h);
        g_signal_connect(connection, "service-closed", G_CALLBACK(on_service_closed), h);
        emit("connection uid=%u count=%u", uid, h->connections->len);
        if (app_service_connection_get_action(connection)) {
                const char *service = app_service_connection_get_caller_app_service_name(connection);

                emit("action %s %s", app_service_connection_get_action(connection), service ? service : "-");
        }

        if (g_str_equal(h->mode, "greet-on-connect")) {
                g_autoptr(GVariant) greeting = g_variant_ref_sink(g_variant_new_parsed("{'greeting': <'hello'>}"));

                app_service_connection_send_message(connection, greeting, NULL, greeting_answered_cb, h);
        }
}

static void on_registered_changed(GObject *object, GParamSpec *pspec, gpointer user_data) {
        emit("registered %d", app_service_provider_get_registered(APP_SERVICE_PROVIDER(object)) ? 1 : 0);
}

/* ---- commands ---------------------------------------------------------------------------------- */

static void registered_cb(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;

        if (app_service_provider_register_finish(APP_SERVICE_PROVIDER(source), result, &error))
                emit("register ok");
        else
                emit_error("register", error);
}

static void unregistered_cb(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;

        if (app_service_provider_unregister_finish(APP_SERVICE_PROVIDER(source), result, &error))
                emit("unregister ok");
        else
                emit_error("unregister", error);
}

static void sent_cb(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;

        response = app_service_connection_send_message_finish(APP_SERVICE_CONNECTION(source), result, &error);
        if (response) {
                g_autofree char *text = print_value_set(app_service_response_get_message(response));

                emit("send-response %d %s", (int) app_service_response_get_status(response), text);
        } else {
                emit("send-response %d (null)", (int) app_service_response_status_from_error(error));
                emit_error("send", error);
        }
}

static void run_command(Helper *h, const char *line) {
        if (g_str_equal(line, "quit")) {
                g_main_loop_quit(h->loop);
        } else if (g_str_equal(line, "unregister") && h->provider) {
                app_service_provider_unregister(h->provider, NULL, unregistered_cb, h);
        } else if (g_str_equal(line, "register") && h->provider) {
                app_service_provider_register(h->provider, NULL, registered_cb, h);
        } else if (g_str_equal(line, "close")) {
                for (guint i = 0; i < h->connections->len; i++)
                        app_service_connection_close(h->connections->pdata[i], NULL, close_done_cb, NULL);
        } else if (g_str_has_prefix(line, "send ")) {
                g_autoptr(GError) error = NULL;
                GVariant *message = g_variant_parse(G_VARIANT_TYPE_VARDICT, line + 5, NULL, NULL, &error);

                if (!message) {
                        emit_error("parse", error);
                        return;
                }
                g_variant_ref_sink(message);
                for (guint i = 0; i < h->connections->len; i++)
                        app_service_connection_send_message(h->connections->pdata[i], message, NULL, sent_cb, h);
                g_variant_unref(message);
        } else if (g_str_equal(line, "answer")) {
                g_autoptr(GPtrArray) held = g_steal_pointer(&h->held);

                h->held = g_ptr_array_new_with_free_func(g_object_unref);
                for (guint i = 0; i < held->len; i++)
                        answer_with_message(held->pdata[i]);
        } else if (g_str_equal(line, "release")) {
                g_ptr_array_set_size(h->held, 0);
                emit("released");
        } else {
                emit("unknown-command %s", line);
        }
}

static gboolean stdin_cb(int fd, GIOCondition condition, gpointer user_data) {
        Helper *h = user_data;
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf);

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return G_SOURCE_CONTINUE;
        if (n <= 0) {
                h->stdin_watch = 0;
                g_main_loop_quit(h->loop);
                return G_SOURCE_REMOVE;
        }
        g_string_append_len(h->stdin_buffer, buf, n);
        for (;;) {
                char *nl = memchr(h->stdin_buffer->str, '\n', h->stdin_buffer->len);
                g_autofree char *line = NULL;

                if (!nl)
                        break;
                line = g_strndup(h->stdin_buffer->str, nl - h->stdin_buffer->str);
                g_string_erase(h->stdin_buffer, 0, nl - h->stdin_buffer->str + 1);
                run_command(h, line);
        }
        return G_SOURCE_CONTINUE;
}

static gboolean quit_cb(gpointer user_data) {
        Helper *h = user_data;

        emit("terminated");
        g_main_loop_quit(h->loop);
        return G_SOURCE_CONTINUE;
}

/* ---- client mode ------------------------------------------------------------------------------- */

static void ping_answered_cb(GObject *source, GAsyncResult *result, gpointer user_data) {
        Helper *h = user_data;
        AppServiceConnection *connection = APP_SERVICE_CONNECTION(source);
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;

        response = app_service_connection_send_message_finish(connection, result, &error);
        if (response) {
                g_autofree char *text = print_value_set(app_service_response_get_message(response));

                emit("response %d %s", (int) app_service_response_get_status(response), text);
        } else {
                emit("response %d (null)", (int) app_service_response_status_from_error(error));
                emit_error("send", error);
        }
        if (h->stay)
                return;
        g_clear_error(&error);
        if (app_service_connection_close_sync(connection, NULL, &error))
                emit("close-done");
        else
                emit_error("close", error);
        g_main_loop_quit(h->loop);
}

/* Opens NAME, sends {'ping': <int32 1>}, answers requests with their message; then closes and
 * exits, or with --stay waits for commands. */
static int run_client(Helper *h, const char *package_family_name) {
        g_autoptr(AppServiceConnection) connection = app_service_connection_new(h->name, package_family_name);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) message = g_variant_ref_sink(g_variant_new_parsed("{'ping': <int32 1>}"));
        AppServiceConnectionStatus status;

        /* Before open(): a provider may talk first. */
        g_signal_connect(connection, "request-received", G_CALLBACK(on_request_received), h);
        g_signal_connect(connection, "service-closed", G_CALLBACK(on_service_closed), h);
        status = app_service_connection_open_sync(connection, NULL, &error);
        emit("open %d %s %d", (int) status, error ? g_quark_to_string(error->domain) : "none", error ? error->code : 0);
        if (status != APP_SERVICE_CONNECTION_STATUS_SUCCESS) {
                if (error)
                        emit("open-message %s", error->message);
                g_signal_handlers_disconnect_by_data(connection, h);
                return 0;
        }
        g_ptr_array_add(h->connections, g_object_ref(connection));
        app_service_connection_send_message(connection, message, NULL, ping_answered_cb, h);
        g_main_loop_run(h->loop);
        g_signal_handlers_disconnect_by_data(connection, h);
        return 0;
}

/* ---- limits mode ------------------------------------------------------------------------------ */

/* "WHAT STATUS DOMAIN CODE MESSAGE" for a send's outcome. */
static void emit_outcome(const char *what, AppServiceResponse *response, const GError *error) {
        const GError *e = response ? app_service_response_get_error(response) : error;

        emit("%s %d %s %d %s", what,
             response ? (int) app_service_response_get_status(response) : (int) app_service_response_status_from_error(error),
             e ? g_quark_to_string(e->domain) : "none", e ? e->code : 0, e ? e->message : "-");
}

/* {'d': <<...<int32 1>...>>}: a ValueSet `depth` containers deep (its a{sv} and entry count). */
static GVariant *nested_value_set(guint depth) {
        GVariant *value = g_variant_new_int32(1);
        GVariantBuilder builder;

        for (guint i = 3; i < depth; i++)
                value = g_variant_new_variant(value);
        g_variant_builder_init(&builder, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&builder, "{sv}", "d", value);
        return g_variant_ref_sink(g_variant_builder_end(&builder));
}

static void send_and_emit(AppServiceConnection *connection, const char *what, GVariant *message) {
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;

        response = app_service_connection_send_message_sync(connection, message, NULL, &error);
        emit_outcome(what, response, error);
}

/* Opens NAME on the default bus and sends what the library must refuse before the bus sees it:
 * a ValueSet of 34 MiB ("oversize ..."), one 33 containers deep ("deep33 ..."); then one 32 deep
 * ("deep32 ...") and a ping ("ping ..."), which must pass; "exit-on-close 0|1" tells how the
 * library's bus connection is set. A bus that dropped us would end the process (SIGTERM from
 * GDBus) before the last line. */
static int run_limits(Helper *h) {
        g_autoptr(AppServiceConnection) connection = app_service_connection_new(h->name, NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) deep33 = nested_value_set(33);
        g_autoptr(GVariant) deep32 = nested_value_set(32);
        g_autoptr(GVariant) ping = g_variant_ref_sink(g_variant_new_parsed("{'ping': <int32 1>}"));
        g_autoptr(GVariant) big = NULL;
        gsize big_size = 34 * 1024 * 1024;
        gpointer big_data = g_malloc0(big_size);
        AppServiceConnectionStatus status;

        big = g_variant_ref_sink(g_variant_new_parsed(
                "{'blob': <%@ay>}",
                g_variant_new_from_data(G_VARIANT_TYPE_BYTESTRING, big_data, big_size, TRUE, g_free, big_data)));
        status = app_service_connection_open_sync(connection, NULL, &error);
        emit("open %d %s %d", (int) status, error ? g_quark_to_string(error->domain) : "none", error ? error->code : 0);
        if (status != APP_SERVICE_CONNECTION_STATUS_SUCCESS)
                return 0;
        emit("exit-on-close %d", (int) g_dbus_connection_get_exit_on_close(app_service_connection_get_bus(connection)));
        send_and_emit(connection, "oversize", big);
        send_and_emit(connection, "deep33", deep33);
        send_and_emit(connection, "deep32", deep32);
        send_and_emit(connection, "ping", ping);
        emit("is-open %d", (int) app_service_connection_get_is_open(connection));
        return 0;
}

/* ---- submit and node modes ------------------------------------------------------------------- */

static void submitted_cb(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) responses = NULL;
        g_autoptr(GVariant) failures = NULL;

        if (app_service_provider_submit_action_finish(APP_SERVICE_PROVIDER(source), result, &responses, &failures,
                                                      &error)) {
                g_autofree char *r = g_variant_print(responses, TRUE);
                g_autofree char *f = g_variant_print(failures, TRUE);

                emit("submit ok %s %s", r, f);
        } else {
                emit_error("submit", error);
        }
}

static void on_monitor_event(AppServiceNode *node, const char *type, GVariant *event, gpointer user_data) {
        const char *service = "-";

        g_variant_lookup(event, "service", "&s", &service);
        emit("event %s %s", type, service);
}

static gboolean admin_verb(AppServiceNode *node, const char *verb, const char *name, GError **error) {
        if (g_str_equal(verb, "start"))
                return app_service_node_start_service_sync(node, name, NULL, error);
        if (g_str_equal(verb, "stop"))
                return app_service_node_stop_service_sync(node, name, NULL, error);
        if (g_str_equal(verb, "restart"))
                return app_service_node_restart_service_sync(node, name, NULL, error);
        if (g_str_equal(verb, "enable") || g_str_equal(verb, "disable"))
                return app_service_node_set_service_enabled_sync(node, name, g_str_equal(verb, "enable"), NULL,
                                                                 error);
        if (g_str_equal(verb, "reload"))
                return app_service_node_reload_sync(node, NULL, error);
        if (g_str_equal(verb, "monitor"))
                return app_service_node_start_monitoring_sync(node, NULL, error);
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "unknown verb '%s'", verb);
        return FALSE;
}

static int run_node(Helper *h, const char *verb) {
        g_autoptr(AppServiceNode) node = app_service_node_new();
        g_autoptr(GError) error = NULL;

        g_signal_connect(node, "monitor-event", G_CALLBACK(on_monitor_event), h);
        if (!verb) {
                emit("watching");
                g_main_loop_run(h->loop);
        } else if (!admin_verb(node, verb, h->name, &error)) {
                emit_error("admin", error);
        } else {
                emit("admin ok");
                if (g_str_equal(verb, "monitor"))
                        g_main_loop_run(h->loop);
        }
        g_signal_handlers_disconnect_by_data(node, h);
        return 0;
}

static void on_info_state(AppServiceInfo *info, GParamSpec *pspec, gpointer user_data) {
        emit("state %s %s", app_service_info_get_name(info), app_service_info_get_state(info));
}

static void emit_info(const char *what, AppServiceInfo *info) {
        emit("%s %s %s %d", what, app_service_info_get_name(info), app_service_info_get_state(info),
             app_service_info_get_may_open(info));
}

static void on_services_changed(GListModel *list, guint position, guint removed, guint added, gpointer user_data) {
        GPtrArray *shown = user_data; /* what the list held, by position */

        for (guint i = 0; i < removed; i++) {
                AppServiceInfo *info = g_ptr_array_steal_index(shown, position);

                emit("removed %s", app_service_info_get_name(info));
                g_signal_handlers_disconnect_by_func(info, on_info_state, NULL);
                g_object_unref(info);
        }
        for (guint i = 0; i < added; i++) {
                AppServiceInfo *info = g_list_model_get_item(list, position + i);

                emit_info("added", info);
                g_signal_connect(info, "notify::state", G_CALLBACK(on_info_state), NULL);
                g_ptr_array_insert(shown, (gint) (position + i), info);
        }
}

static int run_list(Helper *h) {
        g_autoptr(AppServiceNode) node = app_service_node_new();
        g_autoptr(GListModel) list = NULL;
        g_autoptr(GPtrArray) shown = g_ptr_array_new_with_free_func(g_object_unref);
        g_autoptr(GError) error = NULL;
        guint n;

        list = app_service_node_list_services_sync(node, NULL, &error);
        if (!list) {
                emit_error("list", error);
                return 0;
        }
        n = g_list_model_get_n_items(list);
        emit("listed %u", n);
        for (guint i = 0; i < n; i++) {
                AppServiceInfo *info = g_list_model_get_item(list, i);

                emit_info("service", info);
                g_signal_connect(info, "notify::state", G_CALLBACK(on_info_state), NULL);
                g_ptr_array_add(shown, info);
        }
        g_signal_connect(list, "items-changed", G_CALLBACK(on_services_changed), shown);
        g_main_loop_run(h->loop);
        g_signal_handlers_disconnect_by_data(list, shown);
        for (guint i = 0; i < shown->len; i++)
                g_signal_handlers_disconnect_by_func(shown->pdata[i], on_info_state, NULL);
        return 0;
}

/* ---- main -------------------------------------------------------------------------------------- */

static gboolean switch_user(gint uid, gint gid) {
        gid_t groups[1] = { (gid_t) gid };

        if (uid < 0 && gid < 0)
                return TRUE;
        if (uid < 0 || gid < 0) {
                g_printerr("provider-helper: --uid and --gid go together\n");
                return FALSE;
        }
        if (setgroups(1, groups) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
                g_printerr("provider-helper: cannot switch to uid %d gid %d: %s\n", uid, gid, g_strerror(errno));
                return FALSE;
        }
        return getuid() == (uid_t) uid && geteuid() == (uid_t) uid && getgid() == (gid_t) gid;
}

int main(int argc, char **argv) {
        static const char *const modes[] = { "echo", "ignore", "hold", "defer", "greet-on-connect",
                                             "close-on-request", "crash", "client", "limits", "submit", "admin",
                                             "watch", "list", NULL };
        gint uid = -1, gid = -1;
        gboolean stay = FALSE;
        GOptionEntry entries[] = {
                { "uid", 0, 0, G_OPTION_ARG_INT, &uid, "switch to this uid first", "UID" },
                { "gid", 0, 0, G_OPTION_ARG_INT, &gid, "switch to this gid first", "GID" },
                { "stay", 0, 0, G_OPTION_ARG_NONE, &stay, "client: stay open after the first response", NULL },
                G_OPTION_ENTRY_NULL,
        };
        g_autoptr(GOptionContext) context = g_option_context_new("MODE NAME [ARG]");
        g_autoptr(GError) error = NULL;
        Helper h = { .exit_code = 0 };
        struct stat st;
        guint term_watch, int_watch;

        g_option_context_add_main_entries(context, entries, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                g_printerr("provider-helper: %s\n", error->message);
                return 2;
        }
        if (argc < 3 || !g_strv_contains(modes, argv[1])) {
                g_printerr("usage: provider-helper [--uid=UID --gid=GID] [--stay] MODE NAME [ARG]\n");
                return 2;
        }
        if (!switch_user(uid, gid))
                return 1;

        h.mode = argv[1];
        h.name = argv[2];
        h.stay = stay;
        if (g_str_equal(h.mode, "defer"))
                h.defer_ms = argc > 3 ? (guint) g_ascii_strtoull(argv[3], NULL, 10) : 500;

        h.loop = g_main_loop_new(NULL, FALSE);
        h.connections = g_ptr_array_new_with_free_func(g_object_unref);
        h.held = g_ptr_array_new_with_free_func(g_object_unref);
        h.stdin_buffer = g_string_new(NULL);
        term_watch = g_unix_signal_add(SIGTERM, quit_cb, &h);
        int_watch = g_unix_signal_add(SIGINT, quit_cb, &h);
        /* Started by the test: stdin is a pipe whose end means "quit". Started by the daemon
         * (Exec=): stdin is /dev/null, and SIGTERM ends it. */
        if (fstat(STDIN_FILENO, &st) == 0 && S_ISFIFO(st.st_mode)) {
                g_unix_set_fd_nonblocking(STDIN_FILENO, TRUE, NULL);
                h.stdin_watch = g_unix_fd_add(STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, stdin_cb, &h);
        }

        if (g_str_equal(h.mode, "admin") || g_str_equal(h.mode, "watch")) {
                h.exit_code = run_node(&h, g_str_equal(h.mode, "admin") ? (argc > 3 ? argv[3] : "") : NULL);
        } else if (g_str_equal(h.mode, "list")) {
                h.exit_code = run_list(&h);
        } else if (g_str_equal(h.mode, "limits")) {
                h.exit_code = run_limits(&h);
        } else if (g_str_equal(h.mode, "client")) {
                /* A client answers requests as echo does. */
                h.mode = (char *) "echo";
                h.exit_code = run_client(&h, argc > 3 ? argv[3] : NULL);
        } else {
                h.provider = app_service_provider_new(h.name);
                g_signal_connect(h.provider, "connection-received", G_CALLBACK(on_connection_received), &h);
                g_signal_connect(h.provider, "notify::registered", G_CALLBACK(on_registered_changed), &h);
                if (!app_service_provider_register_sync(h.provider, NULL, &error)) {
                        emit_error("register", error);
                        h.exit_code = 3;
                } else {
                        emit("register ok");
                        if (g_str_equal(h.mode, "submit")) {
                                h.mode = (char *) "echo";
                                app_service_provider_submit_action(
                                        h.provider, argc > 3 ? argv[3] : "*", "test-action",
                                        g_variant_new_parsed("{'ping': <int32 1>}"), NULL, submitted_cb, &h);
                        }
                        g_main_loop_run(h.loop);
                }
                g_signal_handlers_disconnect_by_data(h.provider, &h);
        }

        if (h.stdin_watch)
                g_source_remove(h.stdin_watch);
        g_source_remove(term_watch);
        g_source_remove(int_watch);
        for (guint i = 0; i < h.connections->len; i++)
                g_signal_handlers_disconnect_by_data(h.connections->pdata[i], &h);
        g_ptr_array_unref(h.held);
        g_ptr_array_unref(h.connections);
        g_clear_object(&h.provider);
        g_string_free(h.stdin_buffer, TRUE);
        g_main_loop_unref(h.loop);
        return h.exit_code;
}
