/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>

#include "completion-dbus.h"
#include "log.h"
#include "util.h"

static void log_undelivered(sd_bus_message *call, int r) {
        log_debug_errno(r, "%s.%s: failed to answer %s, ignoring: %m", strempty(sd_bus_message_get_path(call)),
                        strempty(sd_bus_message_get_member(call)), strempty(sd_bus_message_get_sender(call)));
}

static void call_opened(void *userdata, const char *path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata;
        int r;

        r = sd_bus_reply_method_return(call, "o", path);
        if (r < 0)
                log_undelivered(call, r);
}

static void call_answered(void *userdata, sd_bus_message *response) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata;
        int r;

        assert(!response);  /* a relayed response is SendMessage's: connection_call_completion() */

        r = sd_bus_reply_method_return(call, NULL);
        if (r < 0)
                log_undelivered(call, r);
}

void completion_call_failed(void *userdata, const sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata;
        int r;

        r = sd_bus_reply_method_error(call, error);
        if (r < 0)
                log_undelivered(call, r);
}

static const CompletionOps call_ops = {
        .opened = call_opened,
        .answered = call_answered,
        .failed = completion_call_failed,
};

Completion completion_for_call(sd_bus_message *call) {
        assert(call);

        return (Completion) { .ops = &call_ops, .userdata = sd_bus_message_ref(call) };
}

void completion_for_call_drop(Completion *c) {
        if (!completion_is_set(c))
                return;
        assert(c->ops->failed == completion_call_failed);  /* its userdata is the call */
        sd_bus_message_unref(c->userdata);
        *c = (Completion) {};
}
