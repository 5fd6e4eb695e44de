/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>

#include "monitor.h"

/* One MonitorEvent to one monitor: the event's entries as monitor_emit() describes them, `ap`
 * consumed. */
int monitor_send_event(Peer *to, const char *type, uint64_t timestamp, const char *fields, va_list *ap);
