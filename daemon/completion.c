/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdarg.h>

#include "completion.h"
#include "util.h"

void completion_sent(Completion *c) {
        assert(completion_is_set(c));

        if (c->ops->sent)
                c->ops->sent(c->userdata);
}

void completion_opened(Completion *c, const char *path) {
        Completion taken;

        assert(completion_is_set(c));
        assert(c->ops->opened);

        completion_move(&taken, c);
        taken.ops->opened(taken.userdata, path);
}

void completion_opened_with_link(Completion *c, const char *path, const LinkOffer *link) {
        Completion taken;

        assert(completion_takes_link(c));
        assert(link);

        completion_move(&taken, c);
        taken.ops->opened_with_link(taken.userdata, path, link);
}

void completion_answered(Completion *c, sd_bus_message *response) {
        Completion taken;

        assert(completion_is_set(c));

        completion_move(&taken, c);
        taken.ops->answered(taken.userdata, response);
}

int completion_new_reply(const Completion *c, sd_bus_message **ret) {
        assert(completion_is_set(c));
        assert(ret);

        *ret = NULL;
        return c->ops->new_reply ? c->ops->new_reply(c->userdata, ret) : 0;
}

void completion_replied(Completion *c, sd_bus_message *reply) {
        Completion taken;

        assert(completion_is_set(c));
        assert(c->ops->replied);

        completion_move(&taken, c);
        taken.ops->replied(taken.userdata, reply);
}

void completion_fail(Completion *c, const sd_bus_error *error) {
        Completion taken;

        assert(completion_is_set(c));
        assert(error);

        completion_move(&taken, c);
        taken.ops->failed(taken.userdata, error);
}

void completion_fail_errnof(Completion *c, int error, const char *format, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        va_list ap;

        va_start(ap, format);
        sd_bus_error_set_errnofv(&e, error, format, ap);
        va_end(ap);
        completion_fail(c, &e);
}
