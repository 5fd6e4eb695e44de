/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Job 1, the app service io.appservice.cloud (README.md, "Messages to the cloud"): each request is
 * a message for the cloud, spooled durably before its answer, then published by the outbox. */

#include <appservice.h>

#include "config.h"
#include "link.h"
#include "spool.h"

typedef struct Cloud Cloud;

Cloud *cloud_new(AppServiceProvider *provider, MqttLink *link, Spool *spool, const BridgeConfig *config);
void cloud_free(Cloud *cloud);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Cloud, cloud_free)

/* A connection to io.appservice.cloud from a local client (not an open for another node). */
void cloud_handle_connection(Cloud *cloud, AppServiceConnection *connection, GVariant *caller);

/* Fails request `request_id` of `connection` with an io.appservice1.Error (Connection.FailRequest,
 * which the broker allows a Bridge=yes provider). Fire and forget; `request` is kept until the
 * broker answered. */
void cloud_fail_request(GDBusConnection *bus, AppServiceConnection *connection, AppServiceRequest *request,
                        const char *error_name, const char *message);
