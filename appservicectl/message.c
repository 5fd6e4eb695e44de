/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Messages in, responses out: what `call`, `open` and `submit` share. */

#include <stdio.h>

#include "appservicectl.h"

/* A ValueSet from KEY=VALUE words, read by app_service_value_set_new_from_assignments() (the rule
 * is in CTL_VALUES_HELP). No words: the empty ValueSet. */
GVariant *ctl_message_new(char **words, int n_words, GError **error) {
        g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
        g_auto(GStrv) assignments = NULL;
        GVariant *message;

        for (int i = 0; i < n_words; i++)
                g_strv_builder_add(builder, words[i]);
        assignments = g_strv_builder_end(builder);
        message = app_service_value_set_new_from_assignments((const gchar *const *) assignments, error);
        return message ? g_variant_take_ref(message) : NULL;
}

static const char *response_status_to_string(AppServiceResponseStatus status) {
        static const char *const names[] = {
                [APP_SERVICE_RESPONSE_STATUS_SUCCESS] = "Success",
                [APP_SERVICE_RESPONSE_STATUS_FAILURE] = "Failure",
                [APP_SERVICE_RESPONSE_STATUS_RESOURCE_LIMITS_EXCEEDED] = "ResourceLimitsExceeded",
                [APP_SERVICE_RESPONSE_STATUS_UNKNOWN] = "Unknown",
                [APP_SERVICE_RESPONSE_STATUS_REMOTE_SYSTEM_UNAVAILABLE] = "RemoteSystemUnavailable",
                [APP_SERVICE_RESPONSE_STATUS_MESSAGE_SIZE_TOO_LARGE] = "MessageSizeTooLarge",
                [APP_SERVICE_RESPONSE_STATUS_APP_UNAVAILABLE] = "AppUnavailable",
                [APP_SERVICE_RESPONSE_STATUS_AUTHENTICATION_ERROR] = "AuthenticationError",
                [APP_SERVICE_RESPONSE_STATUS_NETWORK_NOT_AVAILABLE] = "NetworkNotAvailable",
                [APP_SERVICE_RESPONSE_STATUS_DISABLED_BY_POLICY] = "DisabledByPolicy",
                [APP_SERVICE_RESPONSE_STATUS_WEB_SERVICE_UNAVAILABLE] = "WebServiceUnavailable",
        };

        if ((guint) status < G_N_ELEMENTS(names) && names[status])
                return names[status];
        return "Unknown";
}

/* A response whose status is not Success: its error, or failing that its status. */
static int report_failed_response(Ctl *ctl, const char *subject, AppServiceResponse *response) {
        AppServiceResponseStatus status = app_service_response_get_status(response);
        g_autofree gchar *text = NULL;

        if (app_service_response_get_error(response))
                return ctl_report_error(ctl, subject, app_service_response_get_error(response));
        text = g_strdup_printf("the message failed with status %s", response_status_to_string(status));
        ctl_report(ctl, subject, /* name= */ NULL, text);
        return CTL_EXIT_FAILURE;
}

/* With --json: {"type": TYPE, ["id": ID,] "message": {...}}; else `header` if any, then the
 * message's values (indented under a header). */
static void print_message(Ctl *ctl, const char *type, const guint64 *id, const char *header,
                          GVariant *message) {
        if (ctl->json) {
                g_autoptr(GString) doc = g_string_new("{\"type\":");

                valueset_json_append_string(doc, type);
                if (id)
                        g_string_append_printf(doc, ",\"id\":%" G_GUINT64_FORMAT, *id);
                g_string_append(doc, ",\"message\":");
                valueset_json_append(doc, message);
                g_string_append_c(doc, '}');
                ctl_print_json(doc);
                return;
        }
        if (header)
                printf("%s\n", header);
        ctl_print_value_set(message, header ? "  " : "");
}

/* Prints what a send gave: the response's message, or the failure (on stderr, and as a document
 * with --json). `response` and `error` are what the _finish() or _sync() call returned; `header`
 * (text output only) goes above the message. Returns the exit status. */
int ctl_print_response(Ctl *ctl, const char *subject, AppServiceResponse *response, const GError *error,
                       const char *header) {
        g_autoptr(GVariant) empty = NULL;
        GVariant *message;

        if (!response)
                return ctl_report_error(ctl, subject, error);
        if (app_service_response_get_status(response) != APP_SERVICE_RESPONSE_STATUS_SUCCESS)
                return report_failed_response(ctl, subject, response);

        message = app_service_response_get_message(response);
        if (!message)
                message = empty = g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
        print_message(ctl, "response", /* id= */ NULL, header, message);
        return CTL_EXIT_SUCCESS;
}

/* A message that is a response, not an AppServiceResponse (submit): as ctl_print_response()
 * prints a successful one. */
int ctl_print_value_set_response(Ctl *ctl, GVariant *message) {
        print_message(ctl, "response", /* id= */ NULL, /* header= */ NULL, message);
        return CTL_EXIT_SUCCESS;
}

/* A request the provider sent: {"type": "request", "id": ID, "message": {...}}, or its values
 * under "request ID:". */
void ctl_print_request(Ctl *ctl, AppServiceRequest *request) {
        guint64 id = app_service_request_get_id(request);
        g_autofree gchar *header = g_strdup_printf("request %" G_GUINT64_FORMAT ":", id);

        print_message(ctl, "request", &id, header, app_service_request_get_message(request));
}
