/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>

#include "bus-util.h"
#include "errors.h"
#include "monitor-dbus.h"
#include "peer.h"
#include "util.h"

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

int monitor_send_event(Peer *to, const char *type, uint64_t timestamp, const char *fields, va_list *ap) {
        Manager *m = to->manager;
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
