/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <time.h>

#include "authorize.h"
#include "bus-util.h"
#include "errors.h"
#include "identity.h"
#include "log.h"
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

static int append_entry(sd_bus_message *e, char field, const char *key, va_list *ap) {
        const char *type = (const char[]) { field, '\0' };
        MonitorAppend append;
        const void *data;
        int r;

        r = sd_bus_message_open_container(e, 'e', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append(e, "s", key);
        if (r < 0)
                return r;
        switch (field) {
        case 's':
        case 'o':
                r = sd_bus_message_append(e, "v", type, va_arg(*ap, const char *));
                break;
        case 'u':
                r = sd_bus_message_append(e, "v", "u", va_arg(*ap, uint32_t));
                break;
        case 'i':
                r = sd_bus_message_append(e, "v", "i", va_arg(*ap, int32_t));
                break;
        case 't':
                r = sd_bus_message_append(e, "v", "t", va_arg(*ap, uint64_t));
                break;
        case 'b':
                r = sd_bus_message_append(e, "v", "b", va_arg(*ap, int));
                break;
        case 'S':
                r = sd_bus_message_open_container(e, 'v', "as");
                if (r >= 0)
                        r = sd_bus_message_append_strv(e, va_arg(*ap, char **));
                if (r >= 0)
                        r = sd_bus_message_close_container(e);
                break;
        case '@':
                append = va_arg(*ap, MonitorAppend);
                data = va_arg(*ap, const void *);
                r = sd_bus_message_open_container(e, 'v', "a{sv}");
                if (r >= 0)
                        r = append(e, data);
                if (r >= 0)
                        r = sd_bus_message_close_container(e);
                break;
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(e);
}

/* One MonitorEvent to one monitor; `ap` is consumed. */
static int send_event(Manager *m, Peer *to, const char *type, uint64_t timestamp, const char *fields, va_list *ap) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *signal = NULL;
        int r;

        r = bus_new_unicast_signal(m->bus, to->name, APPSERVICE_MANAGER_PATH, APPSERVICE_MANAGER_IFACE,
                                       "MonitorEvent", &signal);
        if (r < 0)
                return r;
        r = sd_bus_message_append(signal, "s", type);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(signal, 'a', "{sv}");
        if (r < 0)
                return r;
        r = sd_bus_message_append(signal, "{sv}", "timestamp", "t", timestamp);
        if (r < 0)
                return r;
        for (const char *f = fields; *f; f++) {
                const char *key = va_arg(*ap, const char *);
                r = append_entry(signal, *f, key, ap);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(signal);
        if (r < 0)
                return r;
        return sd_bus_send(m->bus, signal, NULL);
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
                r = send_event(m, p, type, timestamp, fields, &ap);
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
        if (p->monitoring)
                return;
        p->monitoring = true;
        LIST_PREPEND(monitors, p->manager->monitors, p);
        log_debug("peer %s started monitoring", p->name);
}
