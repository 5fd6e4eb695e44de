/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdarg.h>
#include <time.h>

#include "log.h"
#include "monitor-dbus.h"
#include "monitor.h"
#include "peer.h"
#include "util.h"

bool monitor_is_active(Manager *m) {
        return m && m->monitors;
}

static uint64_t realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

void monitor_emit(Manager *m, const char *type, const char *fields, ...) {
        uint64_t timestamp;

        /* The common case: nobody watches, and this is all it costs. */
        if (!monitor_is_active(m) || !m->bus)
                return;

        timestamp = realtime_usec();
        LIST_FOREACH(monitors, p, m->monitors) {
                va_list ap;
                int r;

                va_start(ap, fields);
                r = monitor_send_event(p, type, timestamp, fields, &ap);
                va_end(ap);
                if (r < 0)
                        log_debug_errno(r, "failed to send a '%s' MonitorEvent to %s, ignoring: %m", type, p->name);
        }
}

void monitor_stop(Peer *p) {
        if (!p || !p->monitoring)
                return;
        LIST_REMOVE(monitors, p->manager->monitors, p);
        p->monitoring = false;
        log_debug("peer %s stopped monitoring", p->name);
}

void monitor_start(Peer *p) {
        assert(p);

        if (p->monitoring)
                return;
        p->monitoring = true;
        LIST_PREPEND(monitors, p->manager->monitors, p);
        log_debug("peer %s started monitoring", p->name);
}
