/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A D-Bus method call as a Completion: its outcome is the call's reply. Opened: the
 * connection's path (OpenConnection), or the path and the direct link's end or why there is none
 * (OpenDirectConnection, whose completion takes a link); answered: an empty return (the administrative calls);
 * failed: the error. SendMessage's reply, the response's ValueSet, is connection-dbus.c's
 * (connection_call_completion()). Each holds a reference to the call until it ends. */

#include "completion.h"

Completion completion_for_call(sd_bus_message *call);
/* Lets go of a call's completion that was not taken (this one or connection_call_completion()). */
void completion_for_call_drop(Completion *c);
/* The error reply: the failed operation of every call's completion. */
void completion_call_failed(void *userdata, const sd_bus_error *error);
