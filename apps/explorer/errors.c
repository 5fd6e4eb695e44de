/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "explorer-config.h"

#include <glib/gi18n.h>

#include "errors.h"

static const gchar *describe_app_service_error(gint code) {
        switch ((AppServiceError) code) {
        case APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE:
                return _("No app service of that name is declared on this machine.");
        case APP_SERVICE_ERROR_APP_NOT_INSTALLED:
                return _("The provider you asked for does not offer this app service.");
        case APP_SERVICE_ERROR_APP_UNAVAILABLE:
                return _("The provider of this app service could not be started, or did not answer in time.");
        case APP_SERVICE_ERROR_NOT_AUTHORIZED:
                return _("You are not allowed to do this. Ask an administrator, or run the explorer as a user the service allows.");
        case APP_SERVICE_ERROR_DISABLED_BY_POLICY:
                return _("This app service is disabled by the administrator.");
        case APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE:
                return _("The message is larger than this app service accepts.");
        case APP_SERVICE_ERROR_INVALID_MESSAGE:
                return _("The message breaks the rules of a ValueSet (an empty, too long or repeated key, or a file descriptor).");
        case APP_SERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED:
                return _("Too many connections or unanswered messages: wait for some to finish, then try again.");
        case APP_SERVICE_ERROR_TIMEOUT:
                return _("The other side did not answer in time.");
        case APP_SERVICE_ERROR_CLOSED:
                return _("The connection closed before the answer came.");
        case APP_SERVICE_ERROR_UNKNOWN_REQUEST:
                return _("This request cannot be answered any more: it was answered already, timed out, or its connection closed.");
        case APP_SERVICE_ERROR_ALREADY_REGISTERED:
                return _("Another program already provides this app service.");
        case APP_SERVICE_ERROR_NOT_OPEN:
                return _("The connection is not open.");
        case APP_SERVICE_ERROR_CONTRACT_VIOLATION:
                return _("The message, or the answer to it, does not match the app service’s contract: a key is missing, unknown or of the wrong type.");
        case APP_SERVICE_ERROR_FAILED:
                break;
        }
        return NULL;
}

static const gchar *describe_dbus_error(gint code) {
        switch ((GDBusError) code) {
        case G_DBUS_ERROR_ACCESS_DENIED:
        case G_DBUS_ERROR_AUTH_FAILED:
                return _("Access was denied by the system's security policy.");
        case G_DBUS_ERROR_SERVICE_UNKNOWN:
        case G_DBUS_ERROR_NAME_HAS_NO_OWNER:
                return _("The app service broker is not running on this machine.");
        case G_DBUS_ERROR_NO_REPLY:
                return _("The broker did not reply. It may be busy or stuck.");
        case G_DBUS_ERROR_TIMEOUT:
        case G_DBUS_ERROR_TIMED_OUT:
                return _("The call took too long and was given up.");
        case G_DBUS_ERROR_DISCONNECTED:
        case G_DBUS_ERROR_NO_SERVER:
        case G_DBUS_ERROR_NO_NETWORK:
                return _("The connection to the system bus was lost.");
        case G_DBUS_ERROR_UNKNOWN_METHOD:
        case G_DBUS_ERROR_UNKNOWN_OBJECT:
        case G_DBUS_ERROR_UNKNOWN_INTERFACE:
        case G_DBUS_ERROR_UNKNOWN_PROPERTY:
                return _("The broker does not know this call: it may be an older version.");
        case G_DBUS_ERROR_LIMITS_EXCEEDED:
                return _("A limit of the system bus was exceeded.");
        default:
                return NULL;
        }
}

static const gchar *describe_io_error(gint code) {
        switch ((GIOErrorEnum) code) {
        case G_IO_ERROR_CANCELLED:
                return _("The operation was cancelled.");
        case G_IO_ERROR_TIMED_OUT:
                return _("The operation took too long and was given up.");
        case G_IO_ERROR_CLOSED:
        case G_IO_ERROR_CONNECTION_CLOSED: /* also G_IO_ERROR_BROKEN_PIPE */
                return _("The connection was closed.");
        case G_IO_ERROR_NOT_FOUND:
        case G_IO_ERROR_CONNECTION_REFUSED:
                return _("The system bus cannot be reached.");
        case G_IO_ERROR_PERMISSION_DENIED:
                return _("Permission denied.");
        default:
                return NULL;
        }
}

gchar *explorer_error_describe(const GError *error) {
        const gchar *sentence = NULL;
        g_autoptr(GError) copy = NULL;

        g_return_val_if_fail(error != NULL, NULL);

        if (error->domain == APP_SERVICE_ERROR)
                sentence = describe_app_service_error(error->code);
        else if (error->domain == G_DBUS_ERROR)
                sentence = describe_dbus_error(error->code);
        else if (error->domain == G_IO_ERROR)
                sentence = describe_io_error(error->code);
        else if (error->domain == G_VARIANT_PARSE_ERROR)
                return g_strdup_printf(_("The text is not a ValueSet in GVariant text format: %s"), error->message);

        if (sentence)
                return g_strdup(sentence);
        /* Unknown to us: the library's messages are written for people, so the message itself
         * (without a remote error's "GDBus.Error:name: " prefix) is the best sentence there is. */
        copy = g_error_copy(error);
        g_dbus_error_strip_remote_error(copy);
        return g_strdup_printf(_("Something went wrong: %s"), copy->message);
}

static gchar *enum_nick(GType type, gint value) {
        g_autoptr(GEnumClass) klass = g_type_class_ref(type);
        GEnumValue *v = g_enum_get_value(klass, value);

        return v ? g_strdup(v->value_nick) : g_strdup_printf("%d", value);
}

gchar *explorer_error_technical(const GError *error) {
        g_autofree gchar *name = NULL;
        g_autoptr(GError) copy = NULL;

        g_return_val_if_fail(error != NULL, NULL);

        /* A registered domain's error (ours, GDBus') has its D-Bus name in GLib's map; an
         * unregistered remote error carries its name in the message, stripped here. */
        name = g_dbus_error_get_remote_error(error);
        copy = g_error_copy(error);
        if (name)
                g_dbus_error_strip_remote_error(copy);
        else if (error->domain == APP_SERVICE_ERROR || error->domain == G_DBUS_ERROR)
                name = g_dbus_error_encode_gerror(error);
        else if (error->domain == G_IO_ERROR) {
                g_autofree gchar *nick = enum_nick(G_TYPE_IO_ERROR_ENUM, error->code);
                name = g_strdup_printf("GIOError.%s", nick);
        } else
                name = g_strdup_printf("%s.%d", g_quark_to_string(error->domain), error->code);
        return g_strdup_printf("%s: %s", name, copy->message);
}

GtkWidget *explorer_error_widget_new(const GError *error) {
        g_autofree gchar *sentence = explorer_error_describe(error);
        g_autofree gchar *technical = explorer_error_technical(error);

        return explorer_error_widget_new_text(sentence, technical);
}

GtkWidget *explorer_error_widget_new_text(const gchar *sentence, const gchar *technical) {
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
        GtkWidget *label = gtk_label_new(sentence);
        GtkWidget *small = gtk_label_new(technical);

        gtk_widget_set_name(box, "error");
        gtk_label_set_wrap(GTK_LABEL(label), TRUE);
        gtk_label_set_xalign(GTK_LABEL(label), 0);
        gtk_label_set_selectable(GTK_LABEL(label), TRUE);
        gtk_widget_add_css_class(label, "error");
        gtk_label_set_wrap(GTK_LABEL(small), TRUE);
        gtk_label_set_wrap_mode(GTK_LABEL(small), PANGO_WRAP_WORD_CHAR);
        gtk_label_set_xalign(GTK_LABEL(small), 0);
        gtk_label_set_selectable(GTK_LABEL(small), TRUE);
        gtk_widget_add_css_class(small, "caption");
        gtk_widget_add_css_class(small, "dim-label");
        gtk_box_append(GTK_BOX(box), label);
        gtk_box_append(GTK_BOX(box), small);
        return box;
}

gchar *explorer_closed_status_describe(AppServiceClosedStatus status) {
        switch (status) {
        case APP_SERVICE_CLOSED_STATUS_COMPLETED:
                return g_strdup(_("The provider closed the connection (Completed)"));
        case APP_SERVICE_CLOSED_STATUS_CANCELED:
                return g_strdup(_("The provider went away or was stopped, or the broker stopped (Canceled)"));
        case APP_SERVICE_CLOSED_STATUS_RESOURCE_LIMITS_EXCEEDED:
                return g_strdup(_("The connection was closed because it exceeded a limit (ResourceLimitsExceeded)"));
        case APP_SERVICE_CLOSED_STATUS_UNKNOWN:
                break;
        }
        return g_strdup_printf(_("The connection closed for an unknown reason (Unknown, %d)"), (gint) status);
}
