/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "connection.h"

extern const sd_bus_vtable connection_vtable[];

int connection_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                           void **ret_found, sd_bus_error *error);

/* A SendMessage call (Connection's or Service's one-shot) as the completion of its request: the
 * response's ValueSet is the reply, a failure the error reply (completion-dbus.h). It holds a
 * reference to `call` until it ends; completion_for_call_drop() lets go of one that was not
 * taken. */
Completion connection_call_completion(sd_bus_message *call);
