/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "completion.h"
#include "util.h"

void completion_sent(Completion *c) {
        if (completion_is_set(c) && c->ops->sent)
                c->ops->sent(c->userdata);
}

void completion_answered(Completion *c, sd_bus_message *response) {
        Completion taken;

        completion_move(&taken, c);
        if (taken.ops)
                taken.ops->answered(taken.userdata, response);
}

int completion_fail(Completion *c, sd_bus_message *call, const sd_bus_error *error) {
        Completion taken;

        completion_move(&taken, c);
        if (taken.ops) {
                taken.ops->failed(taken.userdata, error);
                return 0;
        }
        return sd_bus_reply_method_error(call, error);
}

int completion_fail_errnof(Completion *c, sd_bus_message *call, int error, const char *format, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        va_list ap;

        va_start(ap, format);
        sd_bus_error_set_errnofv(&e, error, format, ap);
        va_end(ap);
        return completion_fail(c, call, &e);
}
