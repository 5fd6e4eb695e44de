/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Job 2, actions from the cloud (README.md, "Actions from the cloud"): a request published to
 * `<prefix>/<node>/actions/<service>` goes to the broker's SubmitRemoteAction as the remote
 * principal "cloud"; its outcome is published to the request's response topic. */

#include <appservice.h>

#include "config.h"
#include "link.h"

/* Actions waiting for their outcome at once; more are answered ResourceLimitsExceeded at once. */
#define ACTIONS_IN_FLIGHT_MAX 32

typedef struct Actions Actions;

/* Subscribes on `link` (call before mqtt_link_start()). */
Actions *actions_new(AppServiceProvider *provider, MqttLink *link, const BridgeConfig *config);
void actions_free(Actions *actions);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Actions, actions_free)
