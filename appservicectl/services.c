/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager.ListServices, the io.appservice1.Service properties, Manager.NodeName and LoadErrors, and
 * SubmitAction for `submit` (the library has it only for providers). libappservice-1 has no
 * wrapper for the others (yet), so they are called here with GDBus, on the same bus the library
 * uses. */

#include <string.h>

#include "appservicectl.h"

#define BUS_NAME "io.appservice1"
#define MANAGER_PATH "/io/appservice1"
#define MANAGER_IFACE "io.appservice1.Manager"
#define SERVICE_IFACE "io.appservice1.Service"
#define PROPERTIES_IFACE "org.freedesktop.DBus.Properties"

void ctl_service_info_free(CtlServiceInfo *info) {
        if (!info)
                return;
        g_free(info->name);
        g_free(info->provider);
        g_free(info->description);
        g_free(info->state);
        g_free(info->object_path);
        g_free(info);
}

static gint compare_by_name(gconstpointer a, gconstpointer b) {
        const CtlServiceInfo *x = *(CtlServiceInfo *const *) a;
        const CtlServiceInfo *y = *(CtlServiceInfo *const *) b;

        return g_strcmp0(x->name, y->name);
}

/* Every declared app service, sorted by name: a GPtrArray of CtlServiceInfo. */
GPtrArray *ctl_list_services(GDBusConnection *bus, GError **error) {
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariantIter) iter = NULL;
        g_autoptr(GPtrArray) services = NULL;
        const char *name, *provider, *description, *state, *path;
        gboolean may_open;

        reply = g_dbus_connection_call_sync(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "ListServices",
                                            /* parameters= */ NULL, G_VARIANT_TYPE("(a(ssssbo))"),
                                            G_DBUS_CALL_FLAGS_NONE, -1, /* cancellable= */ NULL, error);
        if (!reply)
                return NULL;

        services = g_ptr_array_new_with_free_func((GDestroyNotify) ctl_service_info_free);
        g_variant_get(reply, "(a(ssssbo))", &iter);
        while (g_variant_iter_next(iter, "(&s&s&s&sb&o)", &name, &provider, &description, &state, &may_open,
                                   &path)) {
                CtlServiceInfo *info = g_new0(CtlServiceInfo, 1);

                info->name = g_strdup(name);
                info->provider = g_strdup(provider);
                info->description = g_strdup(description);
                info->state = g_strdup(state);
                info->may_open = may_open;
                info->object_path = g_strdup(path);
                g_ptr_array_add(services, info);
        }
        g_ptr_array_sort(services, compare_by_name);
        return g_steal_pointer(&services);
}

static void take_string(GVariant *properties, const char *key, gchar **field) {
        const char *value;

        if (g_variant_lookup(properties, key, "&s", &value)) {
                g_free(*field);
                *field = g_strdup(value);
        }
}

static gboolean read_properties(GDBusConnection *bus, CtlServiceInfo *info, GError **error) {
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) properties = NULL;

        reply = g_dbus_connection_call_sync(bus, BUS_NAME, info->object_path, PROPERTIES_IFACE, "GetAll",
                                            g_variant_new("(s)", SERVICE_IFACE), G_VARIANT_TYPE("(a{sv})"),
                                            G_DBUS_CALL_FLAGS_NONE, -1, /* cancellable= */ NULL, error);
        if (!reply)
                return FALSE;
        properties = g_variant_get_child_value(reply, 0);
        take_string(properties, "Name", &info->name);
        take_string(properties, "Provider", &info->provider);
        take_string(properties, "Description", &info->description);
        take_string(properties, "State", &info->state);
        g_variant_lookup(properties, "Activatable", "b", &info->activatable);
        g_variant_lookup(properties, "Connections", "u", &info->connections);
        return TRUE;
}

/* One app service: its ListServices row (for may-open and the object path) completed with the
 * properties of its object. AppServiceUnavailable when no definition declares `name`. */
CtlServiceInfo *ctl_service_info_get(GDBusConnection *bus, const char *name, GError **error) {
        g_autoptr(GPtrArray) services = ctl_list_services(bus, error);
        g_autoptr(CtlServiceInfo) info = NULL;

        if (!services)
                return NULL;
        for (guint i = 0; i < services->len && !info; i++) {
                CtlServiceInfo *candidate = g_ptr_array_index(services, i);

                if (g_str_equal(candidate->name, name))
                        info = g_ptr_array_steal_index(services, i);
        }
        if (!info) {
                g_autoptr(GVariant) errors = ctl_load_errors(bus);
                const char *path, *why = ctl_load_error_find(errors, name, &path);

                if (why)
                        g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE,
                                    "no app service named '%s' is declared: %s does not load (%s)", name, path,
                                    why);
                else
                        g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE,
                                    "no app service named '%s' is declared", name);
                return NULL;
        }
        if (!read_properties(bus, info, error))
                return NULL;
        return g_steal_pointer(&info);
}

/* The broker's NodeName. */
gchar *ctl_node_name(GDBusConnection *bus, GError **error) {
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) value = NULL;

        reply = g_dbus_connection_call_sync(bus, BUS_NAME, MANAGER_PATH, PROPERTIES_IFACE, "Get",
                                            g_variant_new("(ss)", MANAGER_IFACE, "NodeName"), G_VARIANT_TYPE("(v)"),
                                            G_DBUS_CALL_FLAGS_NONE, -1, /* cancellable= */ NULL, error);
        if (!reply)
                return NULL;
        g_variant_get(reply, "(v)", &value);
        if (!g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)) {
                g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_SIGNATURE, "NodeName is a %s, not a string",
                            g_variant_get_type_string(value));
                return NULL;
        }
        return g_variant_dup_string(value, NULL);
}

/* Manager.LoadErrors: (path, what is wrong) of each definition file that did not load. Empty when
 * it cannot be read (a broker without the property): what it adds is a hint, never a failure. */
GVariant *ctl_load_errors(GDBusConnection *bus) {
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) value = NULL;

        reply = g_dbus_connection_call_sync(bus, BUS_NAME, MANAGER_PATH, PROPERTIES_IFACE, "Get",
                                            g_variant_new("(ss)", MANAGER_IFACE, "LoadErrors"), G_VARIANT_TYPE("(v)"),
                                            G_DBUS_CALL_FLAGS_NONE, -1, /* cancellable= */ NULL, /* error= */ NULL);
        if (reply)
                g_variant_get(reply, "(v)", &value);
        if (!value || !g_variant_is_of_type(value, G_VARIANT_TYPE("a(ss)")))
                return g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("(ss)"), NULL, 0));
        return g_steal_pointer(&value);
}

/* What is wrong with the file that would declare `name` (NAME.appservice: the file name Name=
 * must match), and its path; NULL when no such file is among `errors`. */
const char *ctl_load_error_find(GVariant *errors, const char *name, const char **ret_path) {
        g_autofree char *file = g_strconcat("/", name, ".appservice", NULL);
        GVariantIter iter;
        const char *path, *why;

        g_variant_iter_init(&iter, errors);
        while (g_variant_iter_next(&iter, "(&s&s)", &path, &why))
                if (g_str_has_suffix(path, file)) {
                        *ret_path = path;
                        return why;
                }
        return NULL;
}

/* Manager.SubmitAction(io.appservice.cloud, SubmitMessage, message): the cloud bridge's response,
 * or its failure as the remote error it names ("NAME: message" in the failures). */
GVariant *ctl_submit_message(GDBusConnection *bus, GVariant *message, GError **error) {
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) responses = NULL;
        g_autoptr(GVariant) failures = NULL;
        GVariant *response;
        const char *failure, *separator;

        reply = g_dbus_connection_call_sync(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "SubmitAction",
                                            g_variant_new("(ss@a{sv})", APP_SERVICE_CLOUD_NAME, "SubmitMessage",
                                                          message),
                                            G_VARIANT_TYPE("(a{sv}a{ss})"), G_DBUS_CALL_FLAGS_NONE, G_MAXINT,
                                            /* cancellable= */ NULL, error);
        if (!reply)
                return NULL;
        g_variant_get(reply, "(@a{sv}@a{ss})", &responses, &failures);
        response = g_variant_lookup_value(responses, APP_SERVICE_CLOUD_NAME, G_VARIANT_TYPE_VARDICT);
        if (response)
                return response;
        if (!g_variant_lookup(failures, APP_SERVICE_CLOUD_NAME, "&s", &failure)) {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_FAILED, "no answer");
                return NULL;
        }
        separator = strstr(failure, ": ");
        if (separator) {
                g_autofree gchar *name = g_strndup(failure, separator - failure);

                g_propagate_error(error, g_dbus_error_new_for_dbus_error(name, separator + 2));
        } else {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_FAILED, "%s", failure);
        }
        return NULL;
}
