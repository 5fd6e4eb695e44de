/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The broker's configuration file, appserviced.conf: [Limits] (quota.h) and [Node] Name=, the
 * node's name for other nodes and the bridge (the Manager's NodeName; the host name when unset). */

#include <stdbool.h>

#include "manager.h"

#define SETTINGS_FILE "/etc/appservice/appserviced.conf"

/* Reads `path` into `m`'s limits and node name. A missing file is fine unless `must_exist`; a
 * file that cannot be parsed, an unknown key or a bad value is logged and its default kept. */
int settings_load(Manager *m, const char *path, bool must_exist);
