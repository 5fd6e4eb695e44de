/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "appservice-private.h"

/* The io.appservice1 error names, in the order of AppServiceError. "Failed" and "NotOpen" are the
 * library's own and never sent by the broker; they are registered so that an error the library
 * raises survives a trip through D-Bus (g_dbus_error_encode_gerror()) unchanged. */
static const GDBusErrorEntry error_entries[] = {
        { APP_SERVICE_ERROR_FAILED, "io.appservice1.Error.Failed" },
        { APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE, "io.appservice1.Error.AppServiceUnavailable" },
        { APP_SERVICE_ERROR_APP_NOT_INSTALLED, "io.appservice1.Error.AppNotInstalled" },
        { APP_SERVICE_ERROR_APP_UNAVAILABLE, "io.appservice1.Error.AppUnavailable" },
        { APP_SERVICE_ERROR_NOT_AUTHORIZED, "io.appservice1.Error.NotAuthorized" },
        { APP_SERVICE_ERROR_DISABLED_BY_POLICY, "io.appservice1.Error.DisabledByPolicy" },
        { APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE, "io.appservice1.Error.MessageSizeTooLarge" },
        { APP_SERVICE_ERROR_INVALID_MESSAGE, "io.appservice1.Error.InvalidMessage" },
        { APP_SERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED, "io.appservice1.Error.ResourceLimitsExceeded" },
        { APP_SERVICE_ERROR_TIMEOUT, "io.appservice1.Error.Timeout" },
        { APP_SERVICE_ERROR_CLOSED, "io.appservice1.Error.Closed" },
        { APP_SERVICE_ERROR_UNKNOWN_REQUEST, "io.appservice1.Error.UnknownRequest" },
        { APP_SERVICE_ERROR_ALREADY_REGISTERED, "io.appservice1.Error.AlreadyRegistered" },
        { APP_SERVICE_ERROR_NOT_OPEN, "io.appservice1.Error.NotOpen" },
        { APP_SERVICE_ERROR_CONTRACT_VIOLATION, "io.appservice1.Error.ContractViolation" },
};

G_STATIC_ASSERT(G_N_ELEMENTS(error_entries) == APP_SERVICE_ERROR_CONTRACT_VIOLATION + 1);

/**
 * app_service_error_quark:
 *
 * The error domain of the library, %APP_SERVICE_ERROR.
 *
 * The domain is registered with g_dbus_error_register_error_domain(): an error the broker
 * replies with, such as `io.appservice1.Error.NotAuthorized`, arrives in this domain with the
 * matching #AppServiceError code.
 *
 * Returns: the error quark
 *
 * Since: 0.1
 */
GQuark app_service_error_quark(void) {
        static gsize quark = 0;

        g_dbus_error_register_error_domain("app-service-error-quark", &quark, error_entries,
                                           G_N_ELEMENTS(error_entries));
        return (GQuark) quark;
}

/* The enum GTypes, by hand: five small tables are clearer than a template. */

#define DEFINE_ENUM_TYPE(func, TypeName, ...)                                                 \
        GType func(void) {                                                                     \
                static gsize type_id = 0;                                                      \
                static const GEnumValue values[] = { __VA_ARGS__, { 0, NULL, NULL } };         \
                if (g_once_init_enter(&type_id)) {                                             \
                        GType t = g_enum_register_static(g_intern_static_string(TypeName),     \
                                                         values);                              \
                        g_once_init_leave(&type_id, t);                                        \
                }                                                                              \
                return type_id;                                                                \
        }

#define V(value, nick) { value, #value, nick }

/**
 * app_service_connection_status_get_type:
 *
 * The #GType of #AppServiceConnectionStatus.
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
DEFINE_ENUM_TYPE(app_service_connection_status_get_type, "AppServiceConnectionStatus",
                 V(APP_SERVICE_CONNECTION_STATUS_SUCCESS, "success"),
                 V(APP_SERVICE_CONNECTION_STATUS_APP_NOT_INSTALLED, "app-not-installed"),
                 V(APP_SERVICE_CONNECTION_STATUS_APP_UNAVAILABLE, "app-unavailable"),
                 V(APP_SERVICE_CONNECTION_STATUS_APP_SERVICE_UNAVAILABLE, "app-service-unavailable"),
                 V(APP_SERVICE_CONNECTION_STATUS_UNKNOWN, "unknown"),
                 V(APP_SERVICE_CONNECTION_STATUS_REMOTE_SYSTEM_UNAVAILABLE, "remote-system-unavailable"),
                 V(APP_SERVICE_CONNECTION_STATUS_REMOTE_SYSTEM_NOT_SUPPORTED_BY_APP,
                   "remote-system-not-supported-by-app"),
                 V(APP_SERVICE_CONNECTION_STATUS_NOT_AUTHORIZED, "not-authorized"),
                 V(APP_SERVICE_CONNECTION_STATUS_AUTHENTICATION_ERROR, "authentication-error"),
                 V(APP_SERVICE_CONNECTION_STATUS_NETWORK_NOT_AVAILABLE, "network-not-available"),
                 V(APP_SERVICE_CONNECTION_STATUS_DISABLED_BY_POLICY, "disabled-by-policy"),
                 V(APP_SERVICE_CONNECTION_STATUS_WEB_SERVICE_UNAVAILABLE, "web-service-unavailable"))

/**
 * app_service_response_status_get_type:
 *
 * The #GType of #AppServiceResponseStatus.
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
DEFINE_ENUM_TYPE(app_service_response_status_get_type, "AppServiceResponseStatus",
                 V(APP_SERVICE_RESPONSE_STATUS_SUCCESS, "success"),
                 V(APP_SERVICE_RESPONSE_STATUS_FAILURE, "failure"),
                 V(APP_SERVICE_RESPONSE_STATUS_RESOURCE_LIMITS_EXCEEDED, "resource-limits-exceeded"),
                 V(APP_SERVICE_RESPONSE_STATUS_UNKNOWN, "unknown"),
                 V(APP_SERVICE_RESPONSE_STATUS_REMOTE_SYSTEM_UNAVAILABLE, "remote-system-unavailable"),
                 V(APP_SERVICE_RESPONSE_STATUS_MESSAGE_SIZE_TOO_LARGE, "message-size-too-large"),
                 V(APP_SERVICE_RESPONSE_STATUS_APP_UNAVAILABLE, "app-unavailable"),
                 V(APP_SERVICE_RESPONSE_STATUS_AUTHENTICATION_ERROR, "authentication-error"),
                 V(APP_SERVICE_RESPONSE_STATUS_NETWORK_NOT_AVAILABLE, "network-not-available"),
                 V(APP_SERVICE_RESPONSE_STATUS_DISABLED_BY_POLICY, "disabled-by-policy"),
                 V(APP_SERVICE_RESPONSE_STATUS_WEB_SERVICE_UNAVAILABLE, "web-service-unavailable"))

/**
 * app_service_closed_status_get_type:
 *
 * The #GType of #AppServiceClosedStatus.
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
DEFINE_ENUM_TYPE(app_service_closed_status_get_type, "AppServiceClosedStatus",
                 V(APP_SERVICE_CLOSED_STATUS_COMPLETED, "completed"),
                 V(APP_SERVICE_CLOSED_STATUS_CANCELED, "canceled"),
                 V(APP_SERVICE_CLOSED_STATUS_RESOURCE_LIMITS_EXCEEDED, "resource-limits-exceeded"),
                 V(APP_SERVICE_CLOSED_STATUS_UNKNOWN, "unknown"))

/**
 * app_service_error_get_type:
 *
 * The #GType of #AppServiceError.
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
DEFINE_ENUM_TYPE(app_service_error_get_type, "AppServiceError",
                 V(APP_SERVICE_ERROR_FAILED, "failed"),
                 V(APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE, "app-service-unavailable"),
                 V(APP_SERVICE_ERROR_APP_NOT_INSTALLED, "app-not-installed"),
                 V(APP_SERVICE_ERROR_APP_UNAVAILABLE, "app-unavailable"),
                 V(APP_SERVICE_ERROR_NOT_AUTHORIZED, "not-authorized"),
                 V(APP_SERVICE_ERROR_DISABLED_BY_POLICY, "disabled-by-policy"),
                 V(APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE, "message-size-too-large"),
                 V(APP_SERVICE_ERROR_INVALID_MESSAGE, "invalid-message"),
                 V(APP_SERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED, "resource-limits-exceeded"),
                 V(APP_SERVICE_ERROR_TIMEOUT, "timeout"),
                 V(APP_SERVICE_ERROR_CLOSED, "closed"),
                 V(APP_SERVICE_ERROR_UNKNOWN_REQUEST, "unknown-request"),
                 V(APP_SERVICE_ERROR_ALREADY_REGISTERED, "already-registered"),
                 V(APP_SERVICE_ERROR_NOT_OPEN, "not-open"),
                 V(APP_SERVICE_ERROR_CONTRACT_VIOLATION, "contract-violation"))

/**
 * app_service_log_level_get_type:
 *
 * The #GType of #AppServiceLogLevel.
 *
 * Returns: the #GType
 *
 * Since: 0.1
 */
DEFINE_ENUM_TYPE(app_service_log_level_get_type, "AppServiceLogLevel",
                 V(APP_SERVICE_LOG_LEVEL_DEBUG, "debug"),
                 V(APP_SERVICE_LOG_LEVEL_INFO, "info"),
                 V(APP_SERVICE_LOG_LEVEL_WARNING, "warning"),
                 V(APP_SERVICE_LOG_LEVEL_ERROR, "error"))

/* The mapping, as appservice-enums.h documents it:
 *
 *   error                                   connection status         response status
 *   NULL                                    SUCCESS                   SUCCESS
 *   AppServiceUnavailable                   APP_SERVICE_UNAVAILABLE   UNKNOWN
 *   AppNotInstalled                         APP_NOT_INSTALLED         UNKNOWN
 *   AppUnavailable                          APP_UNAVAILABLE           APP_UNAVAILABLE
 *   NotAuthorized, DBus.Error.AccessDenied  NOT_AUTHORIZED            UNKNOWN
 *   DisabledByPolicy                        DISABLED_BY_POLICY        DISABLED_BY_POLICY
 *   MessageSizeTooLarge                     UNKNOWN                   MESSAGE_SIZE_TOO_LARGE
 *   ResourceLimitsExceeded                  UNKNOWN                   RESOURCE_LIMITS_EXCEEDED
 *   InvalidMessage, Timeout, Closed,
 *   UnknownRequest, NotOpen,
 *   DBus.Error.NoReply                      UNKNOWN                   FAILURE
 *   anything else                           UNKNOWN                   UNKNOWN
 */

AppServiceConnectionStatus app_service_connection_status_from_error(const GError *error) {
        if (!error)
                return APP_SERVICE_CONNECTION_STATUS_SUCCESS;

        if (error->domain == APP_SERVICE_ERROR) {
                switch ((AppServiceError) error->code) {
                case APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE:
                        return APP_SERVICE_CONNECTION_STATUS_APP_SERVICE_UNAVAILABLE;
                case APP_SERVICE_ERROR_APP_NOT_INSTALLED:
                        return APP_SERVICE_CONNECTION_STATUS_APP_NOT_INSTALLED;
                case APP_SERVICE_ERROR_APP_UNAVAILABLE:
                        return APP_SERVICE_CONNECTION_STATUS_APP_UNAVAILABLE;
                case APP_SERVICE_ERROR_NOT_AUTHORIZED:
                        return APP_SERVICE_CONNECTION_STATUS_NOT_AUTHORIZED;
                case APP_SERVICE_ERROR_DISABLED_BY_POLICY:
                        return APP_SERVICE_CONNECTION_STATUS_DISABLED_BY_POLICY;
                default:
                        return APP_SERVICE_CONNECTION_STATUS_UNKNOWN;
                }
        }
        if (g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
                return APP_SERVICE_CONNECTION_STATUS_NOT_AUTHORIZED;
        return APP_SERVICE_CONNECTION_STATUS_UNKNOWN;
}

AppServiceResponseStatus app_service_response_status_from_error(const GError *error) {
        if (!error)
                return APP_SERVICE_RESPONSE_STATUS_SUCCESS;

        if (error->domain == APP_SERVICE_ERROR) {
                switch ((AppServiceError) error->code) {
                case APP_SERVICE_ERROR_APP_UNAVAILABLE:
                        return APP_SERVICE_RESPONSE_STATUS_APP_UNAVAILABLE;
                case APP_SERVICE_ERROR_DISABLED_BY_POLICY:
                        return APP_SERVICE_RESPONSE_STATUS_DISABLED_BY_POLICY;
                case APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE:
                        return APP_SERVICE_RESPONSE_STATUS_MESSAGE_SIZE_TOO_LARGE;
                case APP_SERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED:
                        return APP_SERVICE_RESPONSE_STATUS_RESOURCE_LIMITS_EXCEEDED;
                case APP_SERVICE_ERROR_INVALID_MESSAGE:
                case APP_SERVICE_ERROR_TIMEOUT:
                case APP_SERVICE_ERROR_CLOSED:
                case APP_SERVICE_ERROR_UNKNOWN_REQUEST:
                case APP_SERVICE_ERROR_NOT_OPEN:
                case APP_SERVICE_ERROR_CONTRACT_VIOLATION:
                        return APP_SERVICE_RESPONSE_STATUS_FAILURE;
                default:
                        return APP_SERVICE_RESPONSE_STATUS_UNKNOWN;
                }
        }
        if (g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY))
                return APP_SERVICE_RESPONSE_STATUS_FAILURE;
        return APP_SERVICE_RESPONSE_STATUS_UNKNOWN;
}
