/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-util.h"
#include "errors.h"
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

int bus_error_no_such_service(const char *name, sd_bus_error *error) {
        return sd_bus_error_setf(error, APPSERVICE_ERROR_APP_SERVICE_UNAVAILABLE,
                                 "no app service named '%s' is declared", name);
}
