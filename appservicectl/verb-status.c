/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* appservicectl status NAME: the properties of one app service. */

#include <stdio.h>

#include "appservicectl.h"

static const char status_summary[] =
        "Show the properties of the app service NAME.";

static const char status_description[] =
        "Name, Provider and Description come from its definition file. State is inactive\n"
        "(no provider registered), activating, active, failed or disabled; unknown (and\n"
        "Connections 0) when the service restricts who may open it and you are not one of\n"
        "them. Activatable: whether the broker can start its provider. Connections: how many\n"
        "are open. Allowed: whether you may open it.\n"
        "With --json: one object with the members name, provider, description, state,\n"
        "activatable, connections, may_open and object_path.\n";

static void print_json(const CtlServiceInfo *info) {
        g_autoptr(GString) doc = g_string_new("{\"name\":");

        valueset_json_append_string(doc, info->name);
        g_string_append(doc, ",\"provider\":");
        valueset_json_append_string(doc, info->provider);
        g_string_append(doc, ",\"description\":");
        valueset_json_append_string(doc, info->description);
        g_string_append(doc, ",\"state\":");
        valueset_json_append_string(doc, info->state);
        g_string_append_printf(doc, ",\"activatable\":%s,\"connections\":%" G_GUINT32_FORMAT,
                               info->activatable ? "true" : "false", info->connections);
        g_string_append_printf(doc, ",\"may_open\":%s", info->may_open ? "true" : "false");
        g_string_append(doc, ",\"object_path\":");
        valueset_json_append_string(doc, info->object_path);
        g_string_append_c(doc, '}');
        ctl_print_json(doc);
}

static void print_text(const CtlServiceInfo *info) {
        printf("       Name: %s\n", info->name);
        printf("   Provider: %s\n", info->provider);
        printf("Description: %s\n", info->description);
        printf("      State: %s\n", info->state);
        printf("Activatable: %s\n", info->activatable ? "yes" : "no");
        printf("Connections: %" G_GUINT32_FORMAT "\n", info->connections);
        printf("    Allowed: %s\n", info->may_open ? "yes" : "no");
        printf("     Object: %s\n", info->object_path);
}

int ctl_verb_status(Ctl *ctl, int argc, char **argv) {
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(CtlServiceInfo) info = NULL;
        g_autoptr(GError) error = NULL;
        int r;

        context = ctl_option_context_new(ctl, "status NAME", status_summary, status_description);
        if (!ctl_parse_verb_options(ctl, context, &argc, &argv, "status"))
                return CTL_EXIT_USAGE;
        if (argc < 2)
                return ctl_usage_error("status", "missing app service NAME");
        if (argc > 2)
                return ctl_usage_error("status", "unexpected argument '%s'", argv[2]);

        r = ctl_connect(ctl);
        if (r != CTL_EXIT_SUCCESS)
                return r;
        info = ctl_service_info_get(ctl->bus, argv[1], &error);
        if (!info)
                return ctl_report_error(ctl, argv[1], error);
        if (ctl->json)
                print_json(info);
        else
                print_text(info);
        return CTL_EXIT_SUCCESS;
}
