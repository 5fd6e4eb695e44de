/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>

#include "completion-dbus.h"
#include "errors.h"
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

/* OpenDirectConnection: the path and the link, or why there is none. */
static void call_opened_with_link(void *userdata, const char *path, const LinkOffer *link) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "o", path);
        if (r >= 0 && link->fd >= 0)
                r = sd_bus_message_append(reply, "a{sv}", 4, "fd", "h", link->fd,
                                          "max-message-size", "t", link->max_message_size,
                                          "max-pending-requests", "u", link->max_pending_requests,
                                          "request-timeout-usec", "t", link->request_timeout_usec);
        else if (r >= 0)
                r = sd_bus_message_append(reply, "a{sv}", 1, "brokered", "s", link->brokered);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0)
                log_undelivered(call, r);
}

/* An open that ended without the link code (one for another node, accepted by the bridge). */
static void call_opened_brokered(void *userdata, const char *path) {
        call_opened_with_link(userdata, path, &(const LinkOffer) {
                .fd = -1,
                .brokered = "an open for another node goes through the bridge",
        });
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

static const CompletionOps link_call_ops = {
        .opened = call_opened_brokered,
        .opened_with_link = call_opened_with_link,
        .answered = call_answered,
        .failed = completion_call_failed,
};

Completion completion_for_call(sd_bus_message *call) {
        bool takes_link = sd_bus_message_is_method_call(call, APPSERVICE_MANAGER_IFACE, "OpenDirectConnection") > 0;

        assert(call);

        return (Completion) { .ops = takes_link ? &link_call_ops : &call_ops, .userdata = sd_bus_message_ref(call) };
}

void completion_for_call_drop(Completion *c) {
        if (!completion_is_set(c))
                return;
        assert(c->ops->failed == completion_call_failed);  /* its userdata is the call */
        sd_bus_message_unref(c->userdata);
        *c = (Completion) {};
}
