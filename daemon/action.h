/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Manager.SubmitAction: one message to one app service or to every one, each over a one-shot
 * connection as Service.SendMessage makes it. The action ends once every receiver answered,
 * failed or timed out; the binding (manager-dbus.c) answers the call from its outcome. */

#include "manager.h"
#include "remote.h"

typedef struct Action Action;
typedef struct ActionTarget ActionTarget;

/* Called once when the action ends, with the SubmitAction call; the action is freed after. */
typedef void (*ActionDone)(const Action *a, sd_bus_message *call);

/* The checks of the arguments that come before the destination is looked up: the action's
 * length and the ValueSet (at the call's current position). */
int action_check_arguments(Manager *m, sd_bus_message *call, const char *action, sd_bus_error *error);
/* Sends the call's ValueSet to `single`, or to every app service when NULL. Returns < 0 with
 * `error` set when refused at once; otherwise `done` runs, now or later. With `remote` (taken;
 * SubmitRemoteAction of a bridge, `single` only) the receiver's caller carries it, and the
 * remote checks (AllowRemote=, AllowRemotePrincipals=) replace AllowUsers=/AllowGroups=. */
int action_submit(Manager *m, sd_bus_message *call, const char *action, Service *single, RemoteCaller **remote,
                  ActionDone done, sd_bus_error *error);

/* Its outcome. With one destination, what refused the open or the message is the call's error
 * (NULL when none); otherwise the responses (a{sv}: receiver → ValueSet) then the failures (a{ss}:
 * receiver → "ErrorName: message") go into `reply`. */
const sd_bus_error *action_get_refusal(const Action *a);
int action_append_outcome(const Action *a, sd_bus_message *reply);
