/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"

#define UID_FMT "%u"
#define PID_FMT "%i"

#define USEC_PER_SEC UINT64_C(1000000)

/* CLOCK_MONOTONIC now. Not the event loop's time of the iteration (sd_event_now()): the broker
 * handles a batch of messages per wake-up, so a request and its answer can share one iteration,
 * and a duration between them needs the clock itself. */
static inline uint64_t monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}


static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* sd-bus takes a method handler's 0 as "not mine" and goes on looking (ending in UnknownMethod):
 * a handler that has answered, or will answer later, returns this. */
static inline int handled(int r) {
        return r < 0 ? r : 1;
}
