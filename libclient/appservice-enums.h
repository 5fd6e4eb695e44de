/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(APP_SERVICE_INSIDE) && !defined(APP_SERVICE_COMPILATION)
#error "Only <appservice.h> can be included directly."
#endif

#include <glib-object.h>

#include "appservice-version.h"

G_BEGIN_DECLS

/**
 * AppServiceConnectionStatus:
 * @APP_SERVICE_CONNECTION_STATUS_SUCCESS: the connection is open.
 * @APP_SERVICE_CONNECTION_STATUS_APP_NOT_INSTALLED: the provider given as package family name does
 *   not offer the app service.
 * @APP_SERVICE_CONNECTION_STATUS_APP_UNAVAILABLE: the provider could not be started, or did not
 *   register in time.
 * @APP_SERVICE_CONNECTION_STATUS_APP_SERVICE_UNAVAILABLE: no app service of that name is declared.
 * @APP_SERVICE_CONNECTION_STATUS_UNKNOWN: any other failure (the #GError says which).
 * @APP_SERVICE_CONNECTION_STATUS_REMOTE_SYSTEM_UNAVAILABLE: not used on Linux (Windows value kept).
 * @APP_SERVICE_CONNECTION_STATUS_REMOTE_SYSTEM_NOT_SUPPORTED_BY_APP: not used on Linux.
 * @APP_SERVICE_CONNECTION_STATUS_NOT_AUTHORIZED: the caller may not open the app service.
 * @APP_SERVICE_CONNECTION_STATUS_AUTHENTICATION_ERROR: not used on Linux.
 * @APP_SERVICE_CONNECTION_STATUS_NETWORK_NOT_AVAILABLE: not used on Linux.
 * @APP_SERVICE_CONNECTION_STATUS_DISABLED_BY_POLICY: the app service is disabled.
 * @APP_SERVICE_CONNECTION_STATUS_WEB_SERVICE_UNAVAILABLE: not used on Linux.
 *
 * The outcome of app_service_connection_open(), with the names and values of
 * Windows.ApplicationModel.AppService.AppServiceConnectionStatus.
 *
 * Since: 0.1
 */
typedef enum {
        APP_SERVICE_CONNECTION_STATUS_SUCCESS = 0,
        APP_SERVICE_CONNECTION_STATUS_APP_NOT_INSTALLED = 1,
        APP_SERVICE_CONNECTION_STATUS_APP_UNAVAILABLE = 2,
        APP_SERVICE_CONNECTION_STATUS_APP_SERVICE_UNAVAILABLE = 3,
        APP_SERVICE_CONNECTION_STATUS_UNKNOWN = 4,
        APP_SERVICE_CONNECTION_STATUS_REMOTE_SYSTEM_UNAVAILABLE = 5,
        APP_SERVICE_CONNECTION_STATUS_REMOTE_SYSTEM_NOT_SUPPORTED_BY_APP = 6,
        APP_SERVICE_CONNECTION_STATUS_NOT_AUTHORIZED = 7,
        APP_SERVICE_CONNECTION_STATUS_AUTHENTICATION_ERROR = 8,
        APP_SERVICE_CONNECTION_STATUS_NETWORK_NOT_AVAILABLE = 9,
        APP_SERVICE_CONNECTION_STATUS_DISABLED_BY_POLICY = 10,
        APP_SERVICE_CONNECTION_STATUS_WEB_SERVICE_UNAVAILABLE = 11,
} AppServiceConnectionStatus;

/**
 * AppServiceResponseStatus:
 * @APP_SERVICE_RESPONSE_STATUS_SUCCESS: the other side answered; the response holds its message.
 * @APP_SERVICE_RESPONSE_STATUS_FAILURE: the message was refused as invalid, was not answered in
 *   time, or the connection closed first.
 * @APP_SERVICE_RESPONSE_STATUS_RESOURCE_LIMITS_EXCEEDED: too many unanswered requests.
 * @APP_SERVICE_RESPONSE_STATUS_UNKNOWN: any other failure (the #GError says which).
 * @APP_SERVICE_RESPONSE_STATUS_REMOTE_SYSTEM_UNAVAILABLE: not used on Linux.
 * @APP_SERVICE_RESPONSE_STATUS_MESSAGE_SIZE_TOO_LARGE: the message is over the service's limit.
 * @APP_SERVICE_RESPONSE_STATUS_APP_UNAVAILABLE: the provider could not be started (one-shot sends).
 * @APP_SERVICE_RESPONSE_STATUS_AUTHENTICATION_ERROR: not used on Linux.
 * @APP_SERVICE_RESPONSE_STATUS_NETWORK_NOT_AVAILABLE: not used on Linux.
 * @APP_SERVICE_RESPONSE_STATUS_DISABLED_BY_POLICY: the app service is disabled (one-shot sends).
 * @APP_SERVICE_RESPONSE_STATUS_WEB_SERVICE_UNAVAILABLE: not used on Linux.
 *
 * The outcome of sending a message or a response, with the names and values of
 * Windows.ApplicationModel.AppService.AppServiceResponseStatus.
 *
 * Since: 0.1
 */
typedef enum {
        APP_SERVICE_RESPONSE_STATUS_SUCCESS = 0,
        APP_SERVICE_RESPONSE_STATUS_FAILURE = 1,
        APP_SERVICE_RESPONSE_STATUS_RESOURCE_LIMITS_EXCEEDED = 2,
        APP_SERVICE_RESPONSE_STATUS_UNKNOWN = 3,
        APP_SERVICE_RESPONSE_STATUS_REMOTE_SYSTEM_UNAVAILABLE = 4,
        APP_SERVICE_RESPONSE_STATUS_MESSAGE_SIZE_TOO_LARGE = 5,
        APP_SERVICE_RESPONSE_STATUS_APP_UNAVAILABLE = 6,
        APP_SERVICE_RESPONSE_STATUS_AUTHENTICATION_ERROR = 7,
        APP_SERVICE_RESPONSE_STATUS_NETWORK_NOT_AVAILABLE = 8,
        APP_SERVICE_RESPONSE_STATUS_DISABLED_BY_POLICY = 9,
        APP_SERVICE_RESPONSE_STATUS_WEB_SERVICE_UNAVAILABLE = 10,
} AppServiceResponseStatus;

/**
 * AppServiceClosedStatus:
 * @APP_SERVICE_CLOSED_STATUS_COMPLETED: the other side closed the connection or unregistered.
 * @APP_SERVICE_CLOSED_STATUS_CANCELED: the other side left the bus or was stopped, or the broker
 *   went away.
 * @APP_SERVICE_CLOSED_STATUS_RESOURCE_LIMITS_EXCEEDED: closed for exceeding a limit.
 * @APP_SERVICE_CLOSED_STATUS_UNKNOWN: any other reason.
 *
 * Why a connection closed (the #AppServiceConnection::service-closed signal), with the names and
 * values of Windows.ApplicationModel.AppService.AppServiceClosedStatus.
 *
 * Since: 0.1
 */
typedef enum {
        APP_SERVICE_CLOSED_STATUS_COMPLETED = 0,
        APP_SERVICE_CLOSED_STATUS_CANCELED = 1,
        APP_SERVICE_CLOSED_STATUS_RESOURCE_LIMITS_EXCEEDED = 2,
        APP_SERVICE_CLOSED_STATUS_UNKNOWN = 3,
} AppServiceClosedStatus;

/**
 * AppServiceError:
 * @APP_SERVICE_ERROR_FAILED: a failure with no more specific code (bus errors keep their own
 *   domains: #G_IO_ERROR, #G_DBUS_ERROR).
 * @APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE: io.appservice1.Error.AppServiceUnavailable.
 * @APP_SERVICE_ERROR_APP_NOT_INSTALLED: io.appservice1.Error.AppNotInstalled.
 * @APP_SERVICE_ERROR_APP_UNAVAILABLE: io.appservice1.Error.AppUnavailable.
 * @APP_SERVICE_ERROR_NOT_AUTHORIZED: io.appservice1.Error.NotAuthorized.
 * @APP_SERVICE_ERROR_DISABLED_BY_POLICY: io.appservice1.Error.DisabledByPolicy.
 * @APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE: io.appservice1.Error.MessageSizeTooLarge.
 * @APP_SERVICE_ERROR_INVALID_MESSAGE: io.appservice1.Error.InvalidMessage.
 * @APP_SERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED: io.appservice1.Error.ResourceLimitsExceeded.
 * @APP_SERVICE_ERROR_TIMEOUT: io.appservice1.Error.Timeout.
 * @APP_SERVICE_ERROR_CLOSED: io.appservice1.Error.Closed.
 * @APP_SERVICE_ERROR_UNKNOWN_REQUEST: io.appservice1.Error.UnknownRequest.
 * @APP_SERVICE_ERROR_ALREADY_REGISTERED: io.appservice1.Error.AlreadyRegistered.
 * @APP_SERVICE_ERROR_NOT_OPEN: the connection is not open (never opened, or closed already).
 * @APP_SERVICE_ERROR_CONTRACT_VIOLATION: io.appservice1.Error.ContractViolation: the message, or
 *   the answer to it, broke the app service's contract (a wrong, missing or extra key, an unknown
 *   action); the message names the action, the key and what was expected.
 *
 * Error codes of the %APP_SERVICE_ERROR domain: one per error of the io.appservice1 D-Bus
 * contract (registered with g_dbus_error_register_error_domain(), so remote errors arrive with
 * these codes), plus the library's own.
 *
 * Since: 0.1
 */
typedef enum {
        APP_SERVICE_ERROR_FAILED,
        APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE,
        APP_SERVICE_ERROR_APP_NOT_INSTALLED,
        APP_SERVICE_ERROR_APP_UNAVAILABLE,
        APP_SERVICE_ERROR_NOT_AUTHORIZED,
        APP_SERVICE_ERROR_DISABLED_BY_POLICY,
        APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE,
        APP_SERVICE_ERROR_INVALID_MESSAGE,
        APP_SERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED,
        APP_SERVICE_ERROR_TIMEOUT,
        APP_SERVICE_ERROR_CLOSED,
        APP_SERVICE_ERROR_UNKNOWN_REQUEST,
        APP_SERVICE_ERROR_ALREADY_REGISTERED,
        APP_SERVICE_ERROR_NOT_OPEN,
        APP_SERVICE_ERROR_CONTRACT_VIOLATION,
} AppServiceError;

/**
 * AppServiceLogLevel:
 * @APP_SERVICE_LOG_LEVEL_DEBUG: a line for debugging (`debug`).
 * @APP_SERVICE_LOG_LEVEL_INFO: a line worth knowing (`info`).
 * @APP_SERVICE_LOG_LEVEL_WARNING: something went wrong, but the provider carries on (`warning`).
 * @APP_SERVICE_LOG_LEVEL_ERROR: a fault: something the provider could not do (`error`); it needs
 *   a fault code.
 *
 * The level of a line a provider reports with [method@AppService.Provider.log]: the levels of
 * the `io.appservice1.Service.Log` method, whose names are the nicks of this enumeration.
 *
 * Since: 0.1
 */
typedef enum {
        APP_SERVICE_LOG_LEVEL_DEBUG,
        APP_SERVICE_LOG_LEVEL_INFO,
        APP_SERVICE_LOG_LEVEL_WARNING,
        APP_SERVICE_LOG_LEVEL_ERROR,
} AppServiceLogLevel;

/**
 * APP_SERVICE_ERROR:
 *
 * The error domain of the library: see #AppServiceError.
 *
 * Since: 0.1
 */
#define APP_SERVICE_ERROR (app_service_error_quark())
APP_SERVICE_AVAILABLE_IN_ALL
GQuark app_service_error_quark(void);

/* GTypes of the enums, for properties, signals and bindings. */
#define APP_SERVICE_TYPE_CONNECTION_STATUS (app_service_connection_status_get_type())
APP_SERVICE_AVAILABLE_IN_ALL
GType app_service_connection_status_get_type(void);
#define APP_SERVICE_TYPE_RESPONSE_STATUS (app_service_response_status_get_type())
APP_SERVICE_AVAILABLE_IN_ALL
GType app_service_response_status_get_type(void);
#define APP_SERVICE_TYPE_CLOSED_STATUS (app_service_closed_status_get_type())
APP_SERVICE_AVAILABLE_IN_ALL
GType app_service_closed_status_get_type(void);
#define APP_SERVICE_TYPE_ERROR (app_service_error_get_type())
APP_SERVICE_AVAILABLE_IN_ALL
GType app_service_error_get_type(void);
#define APP_SERVICE_TYPE_LOG_LEVEL (app_service_log_level_get_type())
APP_SERVICE_AVAILABLE_IN_ALL
GType app_service_log_level_get_type(void);

/**
 * app_service_connection_status_from_error:
 * @error: (nullable): an error from opening, or %NULL for success
 *
 * Maps an error from app_service_connection_open() or a one-shot send to the status Windows
 * would report for it.
 *
 * Returns: the status
 *
 * Since: 0.1
 */
APP_SERVICE_AVAILABLE_IN_ALL
AppServiceConnectionStatus app_service_connection_status_from_error(const GError *error);

/**
 * app_service_response_status_from_error:
 * @error: (nullable): an error from sending a message or a response, or %NULL for success
 *
 * Maps an error from sending to the status Windows would report for it.
 *
 * Returns: the status
 *
 * Since: 0.1
 */
APP_SERVICE_AVAILABLE_IN_ALL
AppServiceResponseStatus app_service_response_status_from_error(const GError *error);

G_END_DECLS
