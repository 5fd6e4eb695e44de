/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Who may administer the broker: root, or where polkit runs, whoever it authorizes for the action
 * io.appservice1.manage. */

#include "manager.h"

#define APPSERVICE_POLKIT_ACTION "io.appservice1.manage"

/* Runs `action` for an administrative method call. `action` gets the call (rewound, so it can
 * read its arguments again) and answers it itself, like a method handler. For root it runs at
 * once; otherwise polkit is asked asynchronously and `action` runs when it says yes, or the call
 * is answered NotAuthorized (also where polkit does not run). `what` is for messages ("reload
 * the definitions"). Returns like a method handler. */
typedef int (*AdminAction)(Manager *m, sd_bus_message *call);
int authorize_admin(Manager *m, sd_bus_message *call, const char *what, AdminAction action, sd_bus_error *error);

/* Answers every call still waiting for polkit with NotAuthorized (at shutdown). */
void authorize_cancel_all(Manager *m);
