/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Who may administer the broker: root, or where polkit runs, whoever it authorizes for the action
 * io.appservice1.manage. */

#include "manager.h"

#define APPSERVICE_POLKIT_ACTION "io.appservice1.manage"

/* Whether this dispatch of `call` is the second, after polkit said yes to it; takes that yes.
 * An administrative handler asks it first, before anything can fail, so that a yes never
 * outlives its call (AUTHORIZE_OR_RETURN() in manager-dbus.c). */
bool authorize_resume(Manager *m, sd_bus_message *call);
/* Whether an administrative method call may go on, asked at the top of its handler as
 * hostnamed does: 1 yes (root, at once); 0 polkit is being
 * asked: the handler returns 1, and runs again with the same call when polkit says yes (a no is
 * answered NotAuthorized here, as is every call where polkit does not run); < 0 with `error`
 * set: refused at once. `what` is for messages ("reload the definitions"). */
int authorize_admin(Manager *m, sd_bus_message *call, const char *what, sd_bus_error *error);

/* Answers every call still waiting for polkit with NotAuthorized (at shutdown). */
void authorize_cancel_all(Manager *m);
