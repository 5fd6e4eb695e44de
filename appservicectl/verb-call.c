/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* appservicectl call NAME KEY=VALUE...: one message, one response (Service.SendMessage). */

#include "appservicectl.h"

static const char call_summary[] =
        "Send one message to the app service NAME and print the response: open a\n"
        "connection, send, wait for the response, close (the broker starts the provider\n"
        "when it is not running). No KEY=VALUE sends an empty message.";

static const char call_description[] =
        CTL_VALUES_HELP
        "\n"
        "Output: one line per value of the response, 'KEY  TYPE  VALUE', the value in\n"
        "GVariant text; the null value shows as null. With --json: one document,\n"
        "{\"type\": \"response\", \"message\": {...}}, or on failure\n"
        "{\"type\": \"error\", \"error\": NAME, \"text\": TEXT} (see the README for how\n"
        "values are written in JSON).\n";

int ctl_verb_call(Ctl *ctl, int argc, char **argv) {
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(GVariant) message = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GError) error = NULL;
        const char *name;
        int r;

        context = ctl_option_context_new(ctl, "call NAME [KEY=VALUE...]", call_summary, call_description);
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
        response = app_service_send_message_once_sync(ctl->bus, name, message, /* cancellable= */ NULL,
                                                      &error);
        return ctl_print_response(ctl, name, response, error, /* header= */ NULL);
}
