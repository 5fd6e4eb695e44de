/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Faults and log lines of providers (Service.Log) and of the broker about providers: to the
 * journal with structured fields, or to the daemon's log where no journal runs, and to monitors. */

#include "identity.h"
#include "manager.h"

typedef enum FaultLevel {
        FAULT_DEBUG,
        FAULT_INFO,
        FAULT_WARNING,
        FAULT_ERROR,
        _FAULT_LEVEL_MAX,
        _FAULT_LEVEL_INVALID = -1,
} FaultLevel;

FaultLevel fault_level_from_string(const char *s);

/* The checks of Service.Log's arguments; on a violation, InvalidArgs naming it. */
int fault_check(const char *level, const char *code, const char *message, FaultLevel *ret_level,
                sd_bus_error *error);

/* Reports one fault about service `s`. `caller` is the reporting provider's identity, or NULL when
 * the broker itself reports (a crashed provider: code "provider-crashed"). */
/* Counts one Service.Log line against the service's limit (200 in 10 s); false: drop it. The
 * broker's own reports (a crash) are rare and not counted. */
bool fault_ratelimit_pass(Service *s);
void fault_report(Service *s, FaultLevel level, const char *code, const char *message, const Identity *caller);

/* Drops the rate limit state of a service that goes away (logs what was dropped). */
void fault_service_done(Service *s);
