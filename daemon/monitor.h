/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Monitoring: MonitorEvent signals, unicast to the peers that called StartMonitoring. */

#include "manager.h"

/* Sends a MonitorEvent of `type` to every monitor. `fields` lists the D-Bus types of the event's
 * entries, one character each: 's', 'o', 'u', 'i', 't', 'b'; '@' for an a{sv} written by a
 * callback, whose value is two arguments (a MonitorAppend and its userdata); 'S' for a
 * NULL-terminated string list (char **, sent as "as"). The varargs are
 * pairs: the key (const char *) then the value of that type. "timestamp" is added by itself.
 * Example: monitor_emit(m, "connection-closed", "sou", "service", name, "connection", path,
 * "status", status). Costs nothing when nobody monitors. */
void monitor_emit(Manager *m, const char *type, const char *fields, ...);

/* Appends one a{sv} (for example identity_append()). */
typedef int (*MonitorAppend)(sd_bus_message *m, const void *userdata);

bool monitor_is_active(Manager *m);

/* The peer gets every MonitorEvent from now on (Manager.StartMonitoring, once authorized). */
typedef struct Peer Peer;
void monitor_start(Peer *p);
/* Ends the peer's monitoring, if any (it stopped, or it leaves the bus). */
void monitor_stop(Peer *p);
