/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PLACEHOLDER until the polkit work lands: root only. */
#include "authorize.h"
#include "errors.h"
#include "identity.h"
#include "util.h"

int authorize_admin(Manager *m, sd_bus_message *call, const char *what, AdminAction action, sd_bus_error *error) {
        _cleanup_(identity_done) Identity caller = {};
        int r;

        r = identity_from_message(call, &caller);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "cannot tell who is calling: %m");
        if (caller.uid != 0)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_NOT_AUTHORIZED, "only root may %s", what);
        r = sd_bus_message_rewind(call, true);
        if (r < 0)
                return r;
        return handled(action(m, call));
}
