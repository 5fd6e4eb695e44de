/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "connection.h"

extern const sd_bus_vtable connection_vtable[];

int connection_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                           void **ret_found, sd_bus_error *error);
