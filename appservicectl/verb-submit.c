/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* appservicectl submit KEY=VALUE...: a message for the cloud, to io.appservice.cloud (the node's
 * MQTT bridge) through Manager.SubmitAction with the action SubmitMessage. */

#include "appservicectl.h"

static const char submit_summary[] =
        "Send one message to the cloud: to the app service io.appservice.cloud (the node's\n"
        "bridge, appservice-mqtt) as SubmitAction with the action SubmitMessage, and print\n"
        "its response: status (delivered or queued) and the message's id. No KEY=VALUE\n"
        "sends an empty message.";

static const char submit_description[] =
        CTL_VALUES_HELP
        "\n"
        "Output: the response as 'KEY  TYPE  VALUE' lines; with --json one document,\n"
        "{\"type\": \"response\", \"message\": {\"status\": ..., \"id\": ...}}, or on failure\n"
        "{\"type\": \"error\", \"error\": NAME, \"text\": TEXT}. No bridge declared on this\n"
        "node: AppServiceUnavailable (exit status 3); its spool full: ResourceLimitsExceeded.\n";

int ctl_verb_submit(Ctl *ctl, int argc, char **argv) {
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(GVariant) message = NULL;
        g_autoptr(GVariant) response = NULL;
        g_autoptr(GError) error = NULL;
        int r;

        context = ctl_option_context_new(ctl, "submit [KEY=VALUE...]", submit_summary, submit_description);
        if (!ctl_parse_verb_options(ctl, context, &argc, &argv, "submit"))
                return CTL_EXIT_USAGE;
        message = ctl_message_new(argv + 1, argc - 1, &error);
        if (!message)
                return ctl_usage_error("submit", "%s", error->message);

        r = ctl_connect(ctl);
        if (r != CTL_EXIT_SUCCESS)
                return r;
        response = ctl_submit_message(ctl->bus, message, &error);
        if (!response)
                return ctl_report_error(ctl, APP_SERVICE_CLOUD_NAME, error);
        return ctl_print_value_set_response(ctl, response);
}
