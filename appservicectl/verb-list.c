/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* appservicectl list: every declared app service. */

#include <stdio.h>

#include "appservicectl.h"

static const char list_summary[] =
        "List every declared app service: its name, its provider, its state, whether you\n"
        "may open it (ALLOWED) and its description.";

static const char list_description[] =
        "STATE is inactive (no provider registered), activating, active, failed or disabled;\n"
        "unknown when the service restricts who may open it (AllowUsers=, AllowGroups=) and\n"
        "you are not one of them.\n"
        "With --json: one array of objects with the members name, provider, description,\n"
        "state, may_open (true or false) and object_path.\n";

static void append_service_json(GString *out, const CtlServiceInfo *info) {
        g_string_append(out, "{\"name\":");
        valueset_json_append_string(out, info->name);
        g_string_append(out, ",\"provider\":");
        valueset_json_append_string(out, info->provider);
        g_string_append(out, ",\"description\":");
        valueset_json_append_string(out, info->description);
        g_string_append(out, ",\"state\":");
        valueset_json_append_string(out, info->state);
        g_string_append_printf(out, ",\"may_open\":%s", info->may_open ? "true" : "false");
        g_string_append(out, ",\"object_path\":");
        valueset_json_append_string(out, info->object_path);
        g_string_append_c(out, '}');
}

static void print_json(GPtrArray *services) {
        g_autoptr(GString) doc = g_string_new("[");

        for (guint i = 0; i < services->len; i++) {
                if (i > 0)
                        g_string_append_c(doc, ',');
                append_service_json(doc, g_ptr_array_index(services, i));
        }
        g_string_append_c(doc, ']');
        ctl_print_json(doc);
}

static void print_table(GPtrArray *services, gboolean legend) {
        int name_width = 4, provider_width = 8, state_width = 5;

        for (guint i = 0; i < services->len; i++) {
                const CtlServiceInfo *info = g_ptr_array_index(services, i);

                name_width = MAX(name_width, (int) g_utf8_strlen(info->name, -1));
                provider_width = MAX(provider_width, (int) g_utf8_strlen(info->provider, -1));
                state_width = MAX(state_width, (int) g_utf8_strlen(info->state, -1));
        }
        if (legend)
                printf("%-*s  %-*s  %-*s  %-7s  %s\n", name_width, "NAME", provider_width, "PROVIDER",
                       state_width, "STATE", "ALLOWED", "DESCRIPTION");
        for (guint i = 0; i < services->len; i++) {
                const CtlServiceInfo *info = g_ptr_array_index(services, i);

                printf("%-*s  %-*s  %-*s  %-7s  %s\n", name_width, info->name, provider_width,
                       info->provider, state_width, info->state, info->may_open ? "yes" : "no",
                       info->description);
        }
}

int ctl_verb_list(Ctl *ctl, int argc, char **argv) {
        gboolean no_legend = FALSE;
        const GOptionEntry entries[] = {
                { "no-legend", 0, 0, G_OPTION_ARG_NONE, &no_legend, "Do not print the column headings",
                  NULL },
                G_OPTION_ENTRY_NULL
        };
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(GPtrArray) services = NULL;
        g_autoptr(GError) error = NULL;
        int r;

        context = ctl_option_context_new(ctl, "list", list_summary, list_description);
        g_option_context_add_main_entries(context, entries, NULL);
        if (!ctl_parse_verb_options(ctl, context, &argc, &argv, "list"))
                return CTL_EXIT_USAGE;
        if (argc > 1)
                return ctl_usage_error("list", "unexpected argument '%s'", argv[1]);

        r = ctl_connect(ctl);
        if (r != CTL_EXIT_SUCCESS)
                return r;
        services = ctl_list_services(ctl->bus, &error);
        if (!services)
                return ctl_report_error(ctl, "io.appservice1", error);
        if (ctl->json)
                print_json(services);
        else
                print_table(services, !no_legend);
        return CTL_EXIT_SUCCESS;
}
