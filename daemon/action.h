/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Manager.SubmitAction: one message to one app service or to every one, each over a one-shot
 * connection as Service.SendMessage makes it. The call is answered once every receiver answered,
 * failed or timed out. */

#include "manager.h"

typedef struct Action Action;
typedef struct ActionTarget ActionTarget;

int method_submit_action(sd_bus_message *call, void *userdata, sd_bus_error *error);

/* What happens to one receiver. Each target ends exactly once, by answered() or failed(); the
 * target (and possibly the whole Action) may be freed inside those calls. */

/* The ValueSet went out as a request: failures from now on are the receiver's (in "failures"),
 * before that they are refusals (the call's own error, for one destination). */
void action_target_sent(ActionTarget *t);
/* The receiver answered; `response` is its SendResponse call (ValueSet already checked). */
void action_target_answered(ActionTarget *t, sd_bus_message *response);
void action_target_failed(ActionTarget *t, const sd_bus_error *error);

/* Answers a one-shot open with an error: the caller of Service.SendMessage, or, when t is set,
 * that SubmitAction receiver's entry. */
int oneshot_reply_error(sd_bus_message *call, ActionTarget *t, const sd_bus_error *error);
int oneshot_reply_errnof(sd_bus_message *call, ActionTarget *t, int error, const char *format, ...)
        __attribute__((format(printf, 4, 5)));
