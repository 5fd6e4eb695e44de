/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small sd-bus helpers that need nothing of the broker's model. */

#include <systemd/sd-bus.h>

/* A signal for `destination` alone. libsystemd 252 has no sd_bus_emit_signal_to(): a destination
 * on the message makes the bus deliver it to that peer only. */
int bus_new_unicast_signal(sd_bus *bus, const char *destination, const char *path, const char *interface,
                           const char *member, sd_bus_message **ret);

/* The contract's answer to a name no definition declares: AppServiceUnavailable. */
int bus_error_no_such_service(const char *name, sd_bus_error *error);
