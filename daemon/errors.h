/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Every error name of the io.appservice1 contract, in one place (../shared/design/dbus-api.md). */

#define APPSERVICE_ERROR_APP_SERVICE_UNAVAILABLE "io.appservice1.Error.AppServiceUnavailable"
#define APPSERVICE_ERROR_APP_NOT_INSTALLED       "io.appservice1.Error.AppNotInstalled"
#define APPSERVICE_ERROR_APP_UNAVAILABLE         "io.appservice1.Error.AppUnavailable"
#define APPSERVICE_ERROR_NOT_AUTHORIZED          "io.appservice1.Error.NotAuthorized"
#define APPSERVICE_ERROR_DISABLED_BY_POLICY      "io.appservice1.Error.DisabledByPolicy"
#define APPSERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE  "io.appservice1.Error.MessageSizeTooLarge"
#define APPSERVICE_ERROR_INVALID_MESSAGE         "io.appservice1.Error.InvalidMessage"
#define APPSERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED "io.appservice1.Error.ResourceLimitsExceeded"
#define APPSERVICE_ERROR_TIMEOUT                 "io.appservice1.Error.Timeout"
#define APPSERVICE_ERROR_CLOSED                  "io.appservice1.Error.Closed"
#define APPSERVICE_ERROR_UNKNOWN_REQUEST         "io.appservice1.Error.UnknownRequest"
#define APPSERVICE_ERROR_ALREADY_REGISTERED      "io.appservice1.Error.AlreadyRegistered"
/* A message that breaks the service's contract (Contract=). */
#define APPSERVICE_ERROR_CONTRACT_VIOLATION      "io.appservice1.Error.ContractViolation"

#define APPSERVICE_BUS_NAME        "io.appservice1"
#define APPSERVICE_MANAGER_PATH    "/io/appservice1"
#define APPSERVICE_SERVICE_PREFIX  "/io/appservice1/service"
#define APPSERVICE_CONNECTION_PREFIX "/io/appservice1/connection"
#define APPSERVICE_MANAGER_IFACE   "io.appservice1.Manager"
#define APPSERVICE_SERVICE_IFACE   "io.appservice1.Service"
#define APPSERVICE_CONNECTION_IFACE "io.appservice1.Connection"
