/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* appservicectl status [NAME]: the properties of one app service, or the broker's. */

#include <stdio.h>

#include "appservicectl.h"

static const char status_summary[] =
        "Show the properties of the app service NAME; without NAME, the broker's.";

static const char status_description[] =
        "Name, Provider and Description come from its definition file. State is inactive\n"
        "(no provider registered), activating, active, failed or disabled; unknown (and\n"
        "Connections 0) when the service restricts who may open it and you are not one of\n"
        "them. Activatable: whether the broker can start its provider. Connections: how many\n"
        "are open. Allowed: whether you may open it. When NAME is not declared because its\n"
        "definition file does not load, the error says which file and why.\n"
        "Without NAME: the broker's version, node name and state, how many app services it\n"
        "declares, and each definition file that did not load with what is wrong with it.\n"
        "With --json: one object with the members name, provider, description, state,\n"
        "activatable, connections, may_open and object_path; without NAME, version,\n"
        "node_name, state, services and load_errors (an array of objects with path and\n"
        "error).\n";

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

static gchar *manager_string(Ctl *ctl, const char *property) {
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) value = NULL;

        reply = g_dbus_connection_call_sync(ctl->bus, "io.appservice1", "/io/appservice1",
                                            "org.freedesktop.DBus.Properties", "Get",
                                            g_variant_new("(ss)", "io.appservice1.Manager", property),
                                            G_VARIANT_TYPE("(v)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
        if (reply)
                g_variant_get(reply, "(v)", &value);
        if (!value || !g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
                return g_strdup("unknown");
        return g_variant_dup_string(value, NULL);
}

static void print_broker_json(const char *version, const char *node, const char *state, guint services,
                              GVariant *errors) {
        g_autoptr(GString) doc = g_string_new("{\"version\":");
        GVariantIter iter;
        const char *path, *why;
        gboolean first = TRUE;

        valueset_json_append_string(doc, version);
        g_string_append(doc, ",\"node_name\":");
        valueset_json_append_string(doc, node);
        g_string_append(doc, ",\"state\":");
        valueset_json_append_string(doc, state);
        g_string_append_printf(doc, ",\"services\":%u,\"load_errors\":[", services);
        g_variant_iter_init(&iter, errors);
        while (g_variant_iter_next(&iter, "(&s&s)", &path, &why)) {
                g_string_append(doc, first ? "{\"path\":" : ",{\"path\":");
                valueset_json_append_string(doc, path);
                g_string_append(doc, ",\"error\":");
                valueset_json_append_string(doc, why);
                g_string_append_c(doc, '}');
                first = FALSE;
        }
        g_string_append(doc, "]}");
        ctl_print_json(doc);
}

static void print_broker_text(const char *version, const char *node, const char *state, guint services,
                              GVariant *errors) {
        GVariantIter iter;
        const char *path, *why;

        printf("    Broker: appserviced %s\n", version);
        printf("      Node: %s\n", node);
        printf("     State: %s\n", state);
        printf("  Services: %u declared\n", services);
        if (g_variant_n_children(errors) == 0) {
                printf("Load errors: none\n");
                return;
        }
        printf("Load errors: %zu definition file(s) do not load\n", g_variant_n_children(errors));
        g_variant_iter_init(&iter, errors);
        while (g_variant_iter_next(&iter, "(&s&s)", &path, &why))
                printf("    %s: %s\n", path, why);
}

/* Without NAME: the broker itself. */
static int broker_status(Ctl *ctl) {
        g_autoptr(GPtrArray) services = NULL;
        g_autoptr(GVariant) errors = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree gchar *version = NULL, *node = NULL, *state = NULL;

        services = ctl_list_services(ctl->bus, &error);
        if (!services)
                return ctl_report_error(ctl, "status", error);
        version = manager_string(ctl, "Version");
        node = manager_string(ctl, "NodeName");
        state = manager_string(ctl, "State");
        errors = ctl_load_errors(ctl->bus);
        if (ctl->json)
                print_broker_json(version, node, state, services->len, errors);
        else
                print_broker_text(version, node, state, services->len, errors);
        return CTL_EXIT_SUCCESS;
}

int ctl_verb_status(Ctl *ctl, int argc, char **argv) {
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(CtlServiceInfo) info = NULL;
        g_autoptr(GError) error = NULL;
        int r;

        context = ctl_option_context_new(ctl, "status [NAME]", status_summary, status_description);
        if (!ctl_parse_verb_options(ctl, context, &argc, &argv, "status"))
                return CTL_EXIT_USAGE;
        if (argc > 2)
                return ctl_usage_error("status", "unexpected argument '%s'", argv[2]);

        r = ctl_connect(ctl);
        if (r != CTL_EXIT_SUCCESS)
                return r;
        if (argc < 2)
                return broker_status(ctl);
        info = ctl_service_info_get(ctl->bus, argv[1], &error);
        if (!info)
                return ctl_report_error(ctl, argv[1], error);
        if (ctl->json)
                print_json(info);
        else
                print_text(info);
        return CTL_EXIT_SUCCESS;
}
