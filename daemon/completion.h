/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Where the outcome of a one-shot message goes. Without a completion it is the reply to the
 * D-Bus call that sent it; a feature built on the model (SubmitAction) passes its own, so that
 * the model calls back without knowing what is above it. A completion ends exactly once, by
 * answered or failed; it is cleared before the callback runs, which may free what held it. */

#include <stdbool.h>
#include <systemd/sd-bus.h>

typedef struct CompletionOps {
        /* The message went out as a request: failures from now on are the receiver's. */
        void (*sent)(void *userdata);
        /* The receiver answered: its SendResponse call, the ValueSet checked. */
        void (*answered)(void *userdata, sd_bus_message *response);
        void (*failed)(void *userdata, const sd_bus_error *error);
} CompletionOps;

typedef struct Completion {
        const CompletionOps *ops;  /* NULL: none, the call itself is answered */
        void *userdata;
} Completion;

static inline bool completion_is_set(const Completion *c) {
        return c && c->ops;
}

/* Moves *from into *to, leaving *from empty (from may be NULL: *to is then empty). */
static inline void completion_move(Completion *to, Completion *from) {
        *to = from ? *from : (Completion) {};
        if (from)
                *from = (Completion) {};
}

void completion_sent(Completion *c);
void completion_answered(Completion *c, sd_bus_message *response);

/* Ends a one-shot that failed: through `c` when set, otherwise as the error reply to `call`. */
int completion_fail(Completion *c, sd_bus_message *call, const sd_bus_error *error);
int completion_fail_errnof(Completion *c, sd_bus_message *call, int error, const char *format, ...)
        __attribute__((format(printf, 4, 5)));
