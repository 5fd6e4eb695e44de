/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Reloading the definitions: Manager.Reload, SIGHUP, and a watch on the definition directories. */

#include "manager.h"

/* Reads the definition directories again and applies the difference: added services appear,
 * removed ones close and disappear, changed ones get their new definition in place; a file that
 * no longer loads leaves its service as it was. Returns 0 or a negative errno (nothing changed
 * then). */
int manager_reload(Manager *m);

/* SIGHUP and the inotify watches (with a short debounce), once the bus is connected. */
int reload_setup(Manager *m);
/* Drops the watches and a pending debounced reload (shutdown). */
void reload_done(Manager *m);
