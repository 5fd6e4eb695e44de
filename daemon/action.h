/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Manager.SubmitAction: one message to one app service or to every one, each over a one-shot
 * connection as Service.SendMessage makes it. The call is answered once every receiver answered,
 * failed or timed out. */

#include "manager.h"

typedef struct Action Action;
typedef struct ActionTarget ActionTarget;

int method_submit_action(sd_bus_message *call, void *userdata, sd_bus_error *error);
