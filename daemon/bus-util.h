/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small sd-bus helpers that need nothing of the broker's model. */

#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "cleanup.h"

/* A signal for `destination` alone. libsystemd 252 has no sd_bus_emit_signal_to(): a destination
 * on the message makes the bus deliver it to that peer only. */
int bus_new_unicast_signal(sd_bus *bus, const char *destination, const char *path, const char *interface,
                           const char *member, sd_bus_message **ret);

/* sd_bus_attach_event(), but a wake-up handles up to `batch` messages, not one. With one, each
 * message costs a loop iteration (sd_event_prepare(), an epoll_wait(), the post sources after it)
 * when several wait in the socket. The bus's deadlines (its method calls' timeouts) and its
 * closing are followed as sd-bus does it, through sd_bus_get_events() and sd_bus_get_timeout().
 * Processing that fails for good leaves the loop with that error (sd_event_exit()); the bus
 * losing its connection is not that: sd-bus sends its Disconnected message as always. */
typedef struct BusLoop BusLoop;
int bus_loop_attach(sd_bus *bus, sd_event *event, int64_t priority, unsigned batch, BusLoop **ret);
BusLoop *bus_loop_free(BusLoop *l);
DEFINE_CLEANUP(BusLoop, bus_loop_free);
