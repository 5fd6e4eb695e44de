/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "bus-util.h"
#include "errors.h"
#include "log.h"
#include "util.h"

int bus_new_unicast_signal(sd_bus *bus, const char *destination, const char *path, const char *interface,
                           const char *member, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *signal = NULL;
        int r;

        r = sd_bus_message_new_signal(bus, &signal, path, interface, member);
        if (r < 0)
                return r;
        r = sd_bus_message_set_destination(signal, destination);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(signal);
        return 0;
}

struct BusLoop {
        sd_bus *bus;
        sd_event *event;
        sd_event_source *io;    /* the bus's fd */
        sd_event_source *time;  /* the bus's next deadline; "now" while it has work queued */
        unsigned batch;
        /* Whether more than one message is likely to wait: the last wake-up found several, or the
         * loop saw the socket readable again while it dispatched something else. Otherwise a
         * wake-up handles one message, as sd-bus's own does: trying for a second would cost a
         * read that finds nothing (EAGAIN) each time calls come one by one. */
        bool draining;
        bool queued;
};

static bool exit_requested(sd_event *event) {
        int code;

        return sd_event_get_exit_code(event, &code) != -ENODATA;
}

/* Rounds of sd_bus_process(): one, or up to `batch` while it has something to do and nobody asked
 * the loop to end (what follows the exit request waits, as it would with one message a wake-up). */
static int bus_loop_process(BusLoop *l) {
        unsigned limit = l->draining || l->queued ? l->batch : 1, n = 0;
        int r = 0;

        while (n < limit) {
                r = sd_bus_process(l->bus, NULL);
                if (r <= 0)
                        break;
                n++;
                if (exit_requested(l->event))
                        break;
        }
        l->draining = n > 1;
        /* A connection lost is sd-bus's to tell (its Disconnected message, handled or on its
         * way); any other failure leaves the bus unusable. */
        if (r < 0 && r != -ECONNRESET && r != -ENOTCONN && r != -EPIPE && r != -ESHUTDOWN && r != -ECONNABORTED) {
                log_error_errno(r, "failed to process the bus, exiting: %m");
                return sd_event_exit(l->event, r);
        }
        return 0;
}

static int bus_loop_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        return bus_loop_process(userdata);
}

static int bus_loop_time(sd_event_source *s, uint64_t usec, void *userdata) {
        return bus_loop_process(userdata);
}

/* What the bus waits for, and until when. */
static int bus_loop_arm(BusLoop *l) {
        uint64_t until;
        int events, has_timeout, r;

        events = sd_bus_get_events(l->bus);
        if (events < 0) {
                /* Closed for good (after its Disconnected): nothing more to wait for. */
                (void) sd_event_source_set_enabled(l->io, SD_EVENT_OFF);
                return sd_event_source_set_enabled(l->time, SD_EVENT_OFF);
        }
        r = sd_event_source_set_io_events(l->io, events);
        if (r < 0)
                return r;

        /* 0 when it has work queued (messages read during a synchronous call, or its closing). */
        has_timeout = sd_bus_get_timeout(l->bus, &until);
        if (has_timeout < 0)
                return has_timeout;
        if (has_timeout > 0) {
                r = sd_event_source_set_time(l->time, until);
                if (r < 0)
                        return r;
        }
        return sd_event_source_set_enabled(l->time, has_timeout > 0 ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
}

/* Before each iteration. A failure here would leave the bus unwatched (sd-event disables a source
 * whose preparation fails): the broker leaves instead, as when processing fails. */
static int bus_loop_prepare(sd_event_source *s, void *userdata) {
        BusLoop *l = userdata;
        int r;

        /* Pending already: an iteration that dispatched another source (a post source, after
         * every message) found the socket readable again. */
        l->queued = sd_event_source_get_pending(l->io) > 0;

        r = bus_loop_arm(l);
        if (r < 0) {
                log_error_errno(r, "failed to watch the bus, exiting: %m");
                return sd_event_exit(l->event, r);
        }
        return 0;
}

int bus_loop_attach(sd_bus *bus, sd_event *event, int64_t priority, unsigned batch, BusLoop **ret) {
        _cleanup_(bus_loop_freep) BusLoop *l = NULL;
        int fd, r;

        fd = sd_bus_get_fd(bus);
        if (fd < 0)
                return fd;
        l = calloc(1, sizeof(BusLoop));
        if (!l)
                return -ENOMEM;
        *l = (BusLoop) {
                .bus = sd_bus_ref(bus),
                .event = sd_event_ref(event),
                .batch = batch > 0 ? batch : 1,
        };

        r = sd_event_add_io(event, &l->io, fd, 0, bus_loop_io, l);
        if (r < 0)
                return r;
        r = sd_event_source_set_priority(l->io, priority);
        if (r < 0)
                return r;
        r = sd_event_source_set_prepare(l->io, bus_loop_prepare);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(l->io, "bus-input");

        r = sd_event_add_time(event, &l->time, CLOCK_MONOTONIC, 0, 0, bus_loop_time, l);
        if (r < 0)
                return r;
        r = sd_event_source_set_priority(l->time, priority);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(l->time, SD_EVENT_OFF);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(l->time, "bus-time");

        *ret = TAKE_PTR(l);
        return 0;
}

BusLoop *bus_loop_free(BusLoop *l) {
        if (!l)
                return NULL;
        sd_event_source_disable_unref(l->io);
        sd_event_source_disable_unref(l->time);
        sd_event_unref(l->event);
        sd_bus_unref(l->bus);
        free(l);
        return NULL;
}
