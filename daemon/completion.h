/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Where the outcome of an open or a one-shot message goes. The D-Bus binding passes the call
 * itself as one (completion-dbus.h: the outcome is its reply); a feature built on the model
 * (SubmitAction) passes its own, so that the model calls back without knowing what is above it.
 * A completion ends exactly once, by opened, answered or failed; it is cleared before the
 * callback runs, which may free what held it. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

/* What an open tells a caller that asked for a direct link (OpenDirectConnection): the client's end
 * of the link and the limits it enforces, or why the connection is brokered. */
typedef struct LinkOffer {
        int fd;                        /* the client's end; -1: brokered */
        const char *brokered;          /* why, when fd < 0 */
        uint64_t max_message_size;
        uint32_t max_pending_requests;
        uint64_t request_timeout_usec;
} LinkOffer;

typedef struct CompletionOps {
        /* The message went out as a request: failures from now on are the receiver's. Optional. */
        void (*sent)(void *userdata);
        /* OpenConnection: the connection is open at `path`. */
        void (*opened)(void *userdata, const char *path);
        /* The same for a caller that takes a direct link (it asked for one); optional: set,
         * the open offers it one (link.h). */
        void (*opened_with_link)(void *userdata, const char *path, const LinkOffer *link);
        /* The receiver answered: its SendResponse call, the ValueSet checked; NULL for work that
         * ends with nothing to say (StartService and the other administrative calls). */
        void (*answered)(void *userdata, sd_bus_message *response);
        void (*failed)(void *userdata, const sd_bus_error *error);
        /* Optional, both or neither: for a completion whose outcome is a message that carries the
         * answer's ValueSet (SendMessage's reply), that message, made before the answer is checked
         * so that the ValueSet is checked while it is copied into it (one pass); then `replied`
         * ends it with the message filled, instead of `answered`. */
        int (*new_reply)(void *userdata, sd_bus_message **ret);
        void (*replied)(void *userdata, sd_bus_message *reply);
} CompletionOps;

typedef struct Completion {
        const CompletionOps *ops;  /* NULL: none, or already ended */
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
void completion_opened(Completion *c, const char *path);
/* Whether the caller takes a direct link, and the open with one (or with why there is none). */
static inline bool completion_takes_link(const Completion *c) {
        return completion_is_set(c) && c->ops->opened_with_link;
}
void completion_opened_with_link(Completion *c, const char *path, const LinkOffer *link);
void completion_answered(Completion *c, sd_bus_message *response);
/* The message the answer's ValueSet goes into (new_reply), or NULL (*ret) when the completion takes
 * the answer itself (answered). */
int completion_new_reply(const Completion *c, sd_bus_message **ret);
/* Ends it with that message, the ValueSet in it (replied). */
void completion_replied(Completion *c, sd_bus_message *reply);
void completion_fail(Completion *c, const sd_bus_error *error);
void completion_fail_errnof(Completion *c, int error, const char *format, ...) __attribute__((format(printf, 3, 4)));
