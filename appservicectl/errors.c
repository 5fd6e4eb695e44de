/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Errors: their names as people and scripts see them, and the exit status each one gives. */

#include <stdio.h>
#include <string.h>

#include "appservicectl.h"

#define CONTRACT_ERROR_PREFIX "io.appservice1.Error."

static const struct {
        AppServiceError code;
        const char *name;
        CtlExitStatus exit_status;
} library_errors[] = {
        { APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE, "AppServiceUnavailable", CTL_EXIT_NOT_FOUND },
        { APP_SERVICE_ERROR_APP_NOT_INSTALLED, "AppNotInstalled", CTL_EXIT_NOT_FOUND },
        { APP_SERVICE_ERROR_APP_UNAVAILABLE, "AppUnavailable", CTL_EXIT_UNAVAILABLE },
        { APP_SERVICE_ERROR_NOT_AUTHORIZED, "NotAuthorized", CTL_EXIT_NOT_ALLOWED },
        { APP_SERVICE_ERROR_DISABLED_BY_POLICY, "DisabledByPolicy", CTL_EXIT_NOT_ALLOWED },
        { APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE, "MessageSizeTooLarge", CTL_EXIT_FAILURE },
        { APP_SERVICE_ERROR_INVALID_MESSAGE, "InvalidMessage", CTL_EXIT_FAILURE },
        { APP_SERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED, "ResourceLimitsExceeded", CTL_EXIT_FAILURE },
        { APP_SERVICE_ERROR_TIMEOUT, "Timeout", CTL_EXIT_FAILURE },
        { APP_SERVICE_ERROR_CLOSED, "Closed", CTL_EXIT_FAILURE },
        { APP_SERVICE_ERROR_UNKNOWN_REQUEST, "UnknownRequest", CTL_EXIT_FAILURE },
        { APP_SERVICE_ERROR_ALREADY_REGISTERED, "AlreadyRegistered", CTL_EXIT_FAILURE },
        { APP_SERVICE_ERROR_CONTRACT_VIOLATION, "ContractViolation", CTL_EXIT_FAILURE },
        /* The library's own. */
        { APP_SERVICE_ERROR_NOT_OPEN, "NotOpen", CTL_EXIT_FAILURE },
        { APP_SERVICE_ERROR_FAILED, "Failed", CTL_EXIT_FAILURE },
};

/* The name of an error: the contract's short name (AppServiceUnavailable) for io.appservice1
 * errors, the whole D-Bus name for other remote errors, NULL for a local failure. */
static gchar *error_name(const GError *error) {
        g_autofree gchar *remote = g_dbus_error_get_remote_error(error);

        if (remote && g_str_has_prefix(remote, CONTRACT_ERROR_PREFIX))
                return g_strdup(remote + strlen(CONTRACT_ERROR_PREFIX));
        if (remote)
                return g_steal_pointer(&remote);
        if (error->domain == APP_SERVICE_ERROR)
                for (size_t i = 0; i < G_N_ELEMENTS(library_errors); i++)
                        if ((int) library_errors[i].code == error->code)
                                return g_strdup(library_errors[i].name);
        if (error->domain == G_DBUS_ERROR)
                return g_dbus_error_encode_gerror(error);
        return NULL;
}

/* The error's message without GDBus's "GDBus.Error:name: " prefix. */
static gchar *error_text(const GError *error) {
        g_autoptr(GError) copy = g_error_copy(error);

        g_dbus_error_strip_remote_error(copy);
        return g_strdup(copy->message);
}

static int exit_status_for_dbus_error(int code) {
        switch (code) {
        case G_DBUS_ERROR_ACCESS_DENIED:
        case G_DBUS_ERROR_AUTH_FAILED:
                return CTL_EXIT_NOT_ALLOWED;
        case G_DBUS_ERROR_SERVICE_UNKNOWN:
        case G_DBUS_ERROR_NAME_HAS_NO_OWNER:
        case G_DBUS_ERROR_NO_SERVER:
        case G_DBUS_ERROR_DISCONNECTED:
        case G_DBUS_ERROR_SPAWN_EXEC_FAILED:
        case G_DBUS_ERROR_SPAWN_CHILD_EXITED:
        case G_DBUS_ERROR_SPAWN_CHILD_SIGNALED:
        case G_DBUS_ERROR_SPAWN_FAILED:
        case G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND:
        case G_DBUS_ERROR_SPAWN_SERVICE_INVALID:
        case G_DBUS_ERROR_SPAWN_PERMISSIONS_INVALID:
        case G_DBUS_ERROR_SPAWN_FILE_INVALID:
        case G_DBUS_ERROR_SPAWN_NO_MEMORY:
                return CTL_EXIT_NO_BROKER;
        default:
                return CTL_EXIT_FAILURE;
        }
}

static int error_exit_status(const GError *error) {
        g_autofree gchar *name = error_name(error);

        for (size_t i = 0; name && i < G_N_ELEMENTS(library_errors); i++)
                if (g_str_equal(library_errors[i].name, name))
                        return library_errors[i].exit_status;
        if (error->domain == G_DBUS_ERROR)
                return exit_status_for_dbus_error(error->code);
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CLOSED))
                return CTL_EXIT_NO_BROKER;
        return CTL_EXIT_FAILURE;
}

/* "appservicectl: SUBJECT: NAME: TEXT" on stderr, and with --json an error document on stdout:
 * {"type": "error", "error": NAME or null, "text": TEXT}. */
void ctl_report(Ctl *ctl, const char *subject, const char *name, const char *text) {
        fprintf(stderr, "appservicectl: %s%s%s%s%s\n", subject ? subject : "", subject ? ": " : "",
                name ? name : "", name ? ": " : "", text);
        if (ctl->json) {
                g_autoptr(GString) doc = g_string_new("{\"type\":\"error\",\"error\":");

                if (name)
                        valueset_json_append_string(doc, name);
                else
                        g_string_append(doc, "null");
                g_string_append(doc, ",\"text\":");
                valueset_json_append_string(doc, text);
                g_string_append_c(doc, '}');
                ctl_print_json(doc);
        }
}

int ctl_report_error(Ctl *ctl, const char *subject, const GError *error) {
        g_autofree gchar *name = error_name(error);
        g_autofree gchar *text = error_text(error);

        ctl_report(ctl, subject, name, text);
        return error_exit_status(error);
}

const char *ctl_closed_status_to_string(AppServiceClosedStatus status) {
        switch (status) {
        case APP_SERVICE_CLOSED_STATUS_COMPLETED:
                return "Completed";
        case APP_SERVICE_CLOSED_STATUS_CANCELED:
                return "Canceled";
        case APP_SERVICE_CLOSED_STATUS_RESOURCE_LIMITS_EXCEEDED:
                return "ResourceLimitsExceeded";
        case APP_SERVICE_CLOSED_STATUS_UNKNOWN:
        default:
                return "Unknown";
        }
}
