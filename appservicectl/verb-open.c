/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* appservicectl open NAME: an interactive session on one connection.
 *
 * Each line of stdin is a message (KEY=VALUE words, split as the shell splits them); it is sent,
 * and its response printed, before the next line is read. Requests from the provider are printed
 * and answered with an empty response. The session ends at the end of stdin (the connection is
 * closed), when the other side closes (service-closed is printed), or on SIGINT/SIGTERM (closed
 * too). */

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "appservicectl.h"

static const char open_summary[] =
        "Open a connection to the app service NAME and talk on it: each line of stdin is a\n"
        "message, sent when the previous one has its response; the responses, the requests\n"
        "the provider sends (each answered with an empty response) and the close of the\n"
        "connection by the other side are printed as they come. The end of stdin closes the\n"
        "connection.\n"
        "\n"
        "With --node=NODE, the app service NAME on the node NODE (by its node name), through\n"
        "this node's bridge (appservice-mqtt): the connection is opened with the option\n"
        "'node' and used as a local one.";

static const char open_description[] =
        "A line holds KEY=VALUE words split as the shell splits them: Text='hello world'\n"
        "count='@i 5'. Blank lines and lines starting with # are skipped.\n"
        CTL_VALUES_HELP
        "\n"
        "Output: 'response:', 'request ID:' and their values, one per line, indented;\n"
        "'service-closed: STATUS' (Completed, Canceled, ResourceLimitsExceeded, Unknown).\n"
        "With --json, one document per line: {\"type\": \"opened\", \"service\", \"connection\",\n"
        "\"direct\" (true when the messages go over a direct link, not through the broker)},\n"
        "{\"type\": \"response\", \"message\"}, {\"type\": \"error\", \"error\", \"text\"},\n"
        "{\"type\": \"request\", \"id\", \"message\"}, {\"type\": \"service-closed\", \"status\"}.\n"
        "Each message line gives exactly one response or error document, in order.\n"
        "\n"
        "The session's exit status is 0 when it ended normally (end of stdin, or closed by\n"
        "the provider with Completed) and every line got its response, else the status of\n"
        "the last failure.\n";

typedef struct {
        Ctl *ctl;
        const char *name;
        AppServiceConnection *connection;
        GDataInputStream *input;
        GCancellable *cancellable;
        GMainLoop *loop;
        guint line_number;
        gboolean sending;
        gboolean closing;
        gboolean closed;
        int status;
} Session;

static void session_read_line(Session *s);

static void session_done(Session *s) {
        if (s->connection)
                g_signal_handlers_disconnect_by_data(s->connection, s);
        if (s->ctl && s->ctl->bus)
                g_signal_handlers_disconnect_by_data(s->ctl->bus, s);
        g_clear_object(&s->connection);
        g_clear_object(&s->input);
        g_clear_object(&s->cancellable);
        g_clear_pointer(&s->loop, g_main_loop_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Session, session_done)

static void session_fail(Session *s, int status) {
        if (status != CTL_EXIT_SUCCESS)
                s->status = status;
}

/* The end: nothing in flight any more, or nothing that matters. */
static void session_quit(Session *s) {
        g_cancellable_cancel(s->cancellable);
        g_main_loop_quit(s->loop);
}

static void on_closed(GObject *source, GAsyncResult *result, gpointer user_data) {
        Session *s = user_data;
        g_autoptr(GError) error = NULL;

        if (!app_service_connection_close_finish(APP_SERVICE_CONNECTION(source), result, &error))
                session_fail(s, ctl_report_error(s->ctl, s->name, error));
        session_quit(s);
}

/* We end the session: close the connection, then quit. */
static void session_close(Session *s) {
        if (s->closing)
                return;
        s->closing = TRUE;
        g_cancellable_cancel(s->cancellable);
        if (s->closed) {
                session_quit(s);
                return;
        }
        app_service_connection_close(s->connection, /* cancellable= */ NULL, on_closed, s);
}

static void on_sent(GObject *source, GAsyncResult *result, gpointer user_data) {
        Session *s = user_data;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GError) error = NULL;

        response = app_service_connection_send_message_finish(APP_SERVICE_CONNECTION(source), result,
                                                              &error);
        s->sending = FALSE;
        session_fail(s, ctl_print_response(s->ctl, s->name, response, error, "response:"));
        if (s->closed)
                session_quit(s);
        else if (!s->closing)
                session_read_line(s);
}

static void report_line_error(Session *s, const char *text) {
        g_autofree gchar *line_text = g_strdup_printf("line %u: %s", s->line_number, text);

        ctl_report(s->ctl, /* subject= */ NULL, /* name= */ NULL, line_text);
        session_fail(s, CTL_EXIT_USAGE);
}

/* Sends the message of one line; FALSE when there is nothing to send (blank line, comment,
 * malformed line). */
static gboolean session_send_line(Session *s, const char *line) {
        g_auto(GStrv) words = NULL;
        g_autoptr(GVariant) message = NULL;
        g_autoptr(GError) error = NULL;
        int n_words;

        if (!g_shell_parse_argv(line, &n_words, &words, &error)) {
                if (!g_error_matches(error, G_SHELL_ERROR, G_SHELL_ERROR_EMPTY_STRING))
                        report_line_error(s, error->message);
                return FALSE;
        }
        if (words[0][0] == '#')
                return FALSE;
        message = ctl_message_new(words, n_words, &error);
        if (!message) {
                report_line_error(s, error->message);
                return FALSE;
        }
        s->sending = TRUE;
        app_service_connection_send_message(s->connection, message, /* cancellable= */ NULL, on_sent, s);
        return TRUE;
}

static void on_line(GObject *source, GAsyncResult *result, gpointer user_data) {
        Session *s = user_data;
        g_autoptr(GError) error = NULL;
        g_autofree gchar *line = NULL;

        line = g_data_input_stream_read_line_finish_utf8(G_DATA_INPUT_STREAM(source), result, NULL, &error);
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        if (error) {
                ctl_report(s->ctl, "stdin", /* name= */ NULL, error->message);
                session_fail(s, CTL_EXIT_FAILURE);
                session_close(s);
                return;
        }
        if (!line) {
                session_close(s);
                return;
        }
        s->line_number++;
        if (!session_send_line(s, line))
                session_read_line(s);
}

static void session_read_line(Session *s) {
        g_data_input_stream_read_line_async(s->input, G_PRIORITY_DEFAULT, s->cancellable, on_line, s);
}

static void on_request_answered(GObject *source, GAsyncResult *result, gpointer user_data) {
        Session *s = user_data;
        g_autoptr(GError) error = NULL;

        if (app_service_request_send_response_finish(APP_SERVICE_REQUEST(source), result, &error) !=
                    APP_SERVICE_RESPONSE_STATUS_SUCCESS &&
            !s->closed)
                fprintf(stderr, "appservicectl: %s: cannot answer a request: %s\n", s->name,
                        error ? error->message : "refused");
}

static void on_request_received(AppServiceConnection *connection, AppServiceRequest *request,
                                gpointer user_data) {
        Session *s = user_data;
        g_autoptr(GVariant) empty = g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));

        ctl_print_request(s->ctl, request);
        app_service_request_send_response(request, empty, /* cancellable= */ NULL, on_request_answered, s);
}

static void on_service_closed(AppServiceConnection *connection, AppServiceClosedStatus status,
                              gpointer user_data) {
        Session *s = user_data;

        if (s->ctl->json) {
                g_autoptr(GString) doc = g_string_new("{\"type\":\"service-closed\",\"status\":");

                valueset_json_append_string(doc, ctl_closed_status_to_string(status));
                g_string_append_c(doc, '}');
                ctl_print_json(doc);
        } else {
                printf("service-closed: %s\n", ctl_closed_status_to_string(status));
                fflush(stdout);
        }
        if (status != APP_SERVICE_CLOSED_STATUS_COMPLETED)
                session_fail(s, CTL_EXIT_FAILURE);
        s->closed = TRUE;
        g_cancellable_cancel(s->cancellable);
        /* A message in flight fails with Closed: its callback ends the session. */
        if (!s->sending)
                session_quit(s);
}

static void on_bus_closed(GDBusConnection *bus, gboolean remote_peer_vanished, GError *error,
                          gpointer user_data) {
        Session *s = user_data;

        ctl_report(s->ctl, s->name, /* name= */ NULL, "the bus connection closed");
        session_fail(s, CTL_EXIT_NO_BROKER);
        s->closed = TRUE;
        session_quit(s);
}

static gboolean on_signal(gpointer user_data) {
        Session *s = user_data;

        session_fail(s, CTL_EXIT_FAILURE);
        session_close(s);
        return G_SOURCE_CONTINUE;
}

static void print_opened(Session *s) {
        const char *path = app_service_connection_get_object_path(s->connection);

        if (s->ctl->json) {
                g_autoptr(GString) doc = g_string_new("{\"type\":\"opened\",\"service\":");

                valueset_json_append_string(doc, s->name);
                g_string_append(doc, ",\"connection\":");
                valueset_json_append_string(doc, path ? path : "");
                g_string_append_printf(doc, ",\"direct\":%s}",
                                       app_service_connection_get_direct(s->connection) ? "true" : "false");
                ctl_print_json(doc);
        }
        if (isatty(STDIN_FILENO))
                fprintf(stderr, "Connected to %s%s. Each line is a message (KEY=VALUE...); Ctrl-D closes.\n",
                        s->name, app_service_connection_get_direct(s->connection) ? " (direct link)" : "");
}

static int session_run(Session *s) {
        guint sigint, sigterm;

        sigint = g_unix_signal_add(SIGINT, on_signal, s);
        sigterm = g_unix_signal_add(SIGTERM, on_signal, s);
        print_opened(s);
        session_read_line(s);
        g_main_loop_run(s->loop);
        g_source_remove(sigint);
        g_source_remove(sigterm);
        return s->status;
}

static gboolean open_connection(Session *s, int *ret_status) {
        g_autoptr(GError) error = NULL;
        AppServiceConnectionStatus status;

        status = app_service_connection_open_sync(s->connection, /* cancellable= */ NULL, &error);
        if (status == APP_SERVICE_CONNECTION_STATUS_SUCCESS)
                return TRUE;
        if (!error)
                g_set_error(&error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_FAILED,
                            "the connection could not be opened (status %d)", (int) status);
        *ret_status = ctl_report_error(s->ctl, s->name, error);
        return FALSE;
}

int ctl_verb_open(Ctl *ctl, int argc, char **argv) {
        g_autofree gchar *provider = NULL;
        g_autofree gchar *node = NULL;
        const GOptionEntry entries[] = {
                { "provider", 0, 0, G_OPTION_ARG_STRING, &provider,
                  "Open NAME only as offered by the provider PROVIDER (its package family name)",
                  "PROVIDER" },
                { "node", 0, 0, G_OPTION_ARG_STRING, &node,
                  "Open NAME on the node NODE (by its node name), through this node's bridge", "NODE" },
                G_OPTION_ENTRY_NULL
        };
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(GInputStream) stdin_stream = NULL;
        g_auto(Session) s = { 0 };
        int r;

        context = ctl_option_context_new(ctl, "open NAME", open_summary, open_description);
        g_option_context_add_main_entries(context, entries, NULL);
        if (!ctl_parse_verb_options(ctl, context, &argc, &argv, "open"))
                return CTL_EXIT_USAGE;
        if (argc < 2)
                return ctl_usage_error("open", "missing app service NAME");
        if (argc > 2)
                return ctl_usage_error("open", "unexpected argument '%s'", argv[2]);

        r = ctl_connect(ctl);
        if (r != CTL_EXIT_SUCCESS)
                return r;

        s.ctl = ctl;
        s.name = argv[1];
        s.connection = app_service_connection_new_for_bus(ctl->bus, s.name, provider ? provider : "");
        app_service_connection_set_node(s.connection, node);
        /* Before opening: a provider may greet its client as soon as the connection exists. */
        g_signal_connect(s.connection, "request-received", G_CALLBACK(on_request_received), &s);
        g_signal_connect(s.connection, "service-closed", G_CALLBACK(on_service_closed), &s);
        g_signal_connect(ctl->bus, "closed", G_CALLBACK(on_bus_closed), &s);
        if (!open_connection(&s, &r))
                return r;

        stdin_stream = g_unix_input_stream_new(STDIN_FILENO, /* close_fd= */ FALSE);
        s.input = g_data_input_stream_new(stdin_stream);
        g_data_input_stream_set_newline_type(s.input, G_DATA_STREAM_NEWLINE_TYPE_ANY);
        s.cancellable = g_cancellable_new();
        s.loop = g_main_loop_new(NULL, FALSE);
        return session_run(&s);
}
