/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* appservicectl call NAME KEY=VALUE...: one message, one response (Service.SendMessage; with
 * --node naming another node, OpenConnection with the option "node", SendMessage, Close). */

#include "appservicectl.h"

static const char call_summary[] =
        "Send one message to the app service NAME and print the response: open a\n"
        "connection, send, wait for the response, close (the broker starts the provider\n"
        "when it is not running). No KEY=VALUE sends an empty message.\n"
        "\n"
        "With --node=NODE, the app service NAME on the node NODE (by its node name), through\n"
        "this node's bridge (appservice-mqtt): the connection is opened with the option\n"
        "'node', used for the one message, and closed. NODE naming this node is an\n"
        "ordinary call.";

static const char call_description[] =
        CTL_VALUES_HELP
        "\n"
        "Output: one line per value of the response, 'KEY  TYPE  VALUE', the value in\n"
        "GVariant text; the null value shows as null. With --json: one document,\n"
        "{\"type\": \"response\", \"message\": {...}}, or on failure\n"
        "{\"type\": \"error\", \"error\": NAME, \"text\": TEXT} (see the README for how\n"
        "values are written in JSON).\n";

/* The message on a connection opened with the option "node". */
static AppServiceResponse *send_on_node(Ctl *ctl, const char *name, const char *node, GVariant *message,
                                        GError **error) {
        g_autoptr(AppServiceConnection) connection = app_service_connection_new_for_bus(ctl->bus, name, NULL);
        g_autoptr(AppServiceResponse) response = NULL;

        app_service_connection_set_node(connection, node);
        if (app_service_connection_open_sync(connection, /* cancellable= */ NULL, error) !=
            APP_SERVICE_CONNECTION_STATUS_SUCCESS) {
                if (error && !*error)
                        g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_FAILED,
                                    "the connection could not be opened");
                return NULL;
        }
        response = app_service_connection_send_message_sync(connection, message, /* cancellable= */ NULL, error);
        /* The response is what counts; a failed close leaves nothing open (the broker closes it
         * when we leave the bus). */
        (void) app_service_connection_close_sync(connection, /* cancellable= */ NULL, NULL);
        return g_steal_pointer(&response);
}

/* Whether --node names another node than the broker's own. */
static gboolean node_is_remote(Ctl *ctl, const char *node, GError **error) {
        g_autofree gchar *here = NULL;

        if (!node || !*node)
                return FALSE;
        here = ctl_node_name(ctl->bus, error);
        if (!here)
                return FALSE;
        return !g_str_equal(here, node);
}

int ctl_verb_call(Ctl *ctl, int argc, char **argv) {
        g_autofree gchar *node = NULL;
        const GOptionEntry entries[] = {
                { "node", 0, 0, G_OPTION_ARG_STRING, &node,
                  "Call NAME on the node NODE (by its node name), through this node's bridge", "NODE" },
                G_OPTION_ENTRY_NULL
        };
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(GVariant) message = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GError) error = NULL;
        const char *name;
        int r;

        context = ctl_option_context_new(ctl, "call NAME [KEY=VALUE...]", call_summary, call_description);
        g_option_context_add_main_entries(context, entries, NULL);
        if (!ctl_parse_verb_options(ctl, context, &argc, &argv, "call"))
                return CTL_EXIT_USAGE;
        if (argc < 2)
                return ctl_usage_error("call", "missing app service NAME");
        name = argv[1];
        message = ctl_message_new(argv + 2, argc - 2, &error);
        if (!message)
                return ctl_usage_error("call", "%s", error->message);

        r = ctl_connect(ctl);
        if (r != CTL_EXIT_SUCCESS)
                return r;
        if (node_is_remote(ctl, node, &error))
                response = send_on_node(ctl, name, node, message, &error);
        else if (!error)
                response = app_service_send_message_once_sync(ctl->bus, name, message, /* cancellable= */ NULL,
                                                              &error);
        return ctl_print_response(ctl, name, response, error, /* header= */ NULL);
}
