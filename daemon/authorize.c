/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authorize.h"
#include "errors.h"
#include "identity.h"
#include "log.h"
#include "util.h"

#define POLKIT_NAME  "org.freedesktop.PolicyKit1"
#define POLKIT_PATH  "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_IFACE "org.freedesktop.PolicyKit1.Authority"
#define POLKIT_ALLOW_USER_INTERACTION 1u

/* Checks waiting for polkit, per uid and in all. An interactive one may wait minutes for a
 * password, and each holds one of the method calls the bus lets the broker have awaiting a reply
 * (128 by default): without a bound, one user's flood would leave none for StartUnit. */
#define AUTHORIZATIONS_MAX_PER_USER 4u
#define AUTHORIZATIONS_MAX 32u

/* An interactive check waits for a person to type a password; a plain one answers at once. */
#define POLKIT_TIMEOUT_USEC (UINT64_C(25) * USEC_PER_SEC)
#define POLKIT_INTERACTIVE_TIMEOUT_USEC (UINT64_C(300) * USEC_PER_SEC)

/* An administrative call waiting for polkit's answer, then (authorized) for its handler to run
 * again. It holds the call, so that the call is answered whatever happens: polkit's answer, an
 * error, or the daemon shutting down. */
struct Authorization {
        Manager *manager;
        sd_bus_message *call;
        char *what;
        uid_t uid;
        bool authorized;          /* polkit said yes: the call is queued to be dispatched again */
        sd_bus_slot *slot;
        LIST_FIELDS(Authorization, authorizations);
};

static Authorization *authorization_free(Authorization *a) {
        if (!a)
                return NULL;
        LIST_REMOVE(authorizations, a->manager->authorizations, a);
        sd_bus_slot_unref(a->slot);
        sd_bus_message_unref(a->call);
        free(a->what);
        free(a);
        return NULL;
}

/* "uid U may not WHAT: REASON[: DETAIL] (polkit action ...)" */
static int reply_not_authorized(Authorization *a, const char *reason, const char *detail) {
        int r;

        log_info("uid " UID_FMT " may not %s: %s%s%s", a->uid, a->what, reason, detail ? ": " : "", strempty(detail));
        r = sd_bus_reply_method_errorf(a->call, APPSERVICE_ERROR_NOT_AUTHORIZED,
                                       "uid " UID_FMT " may not %s: %s%s%s (polkit action " APPSERVICE_POLKIT_ACTION ")",
                                       a->uid, a->what, reason, detail ? ": " : "", strempty(detail));
        if (r < 0)
                log_debug_errno(r, "failed to answer a refused administrative call, ignoring: %m");
        return r;
}

/* Dispatches the call again, as if it had just come: its handler asks again and hears yes. */
static int dispatch_again(Authorization *a) {
        int r;

        r = sd_bus_message_rewind(a->call, /* complete= */ true);
        if (r >= 0)
                r = sd_bus_enqueue_for_read(a->manager->bus, a->call);
        return r;
}

static int on_check_authorization(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Authorization *a = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int authorized, challenge, r;

        a->slot = sd_bus_slot_unref(a->slot);

        if (e) {
                if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                        reply_not_authorized(a, "polkit is not running, so only root may", NULL);
                else
                        reply_not_authorized(a, "polkit failed", e->message ? e->message : e->name);
                authorization_free(a);
                return 0;
        }

        /* (bba{ss}): is_authorized, is_challenge, details (unused). */
        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r > 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r <= 0) {  /* 0: an empty reply, which is no yes either */
                reply_not_authorized(a, "unexpected answer from polkit", NULL);
                authorization_free(a);
                return 0;
        }

        if (!authorized)
                reply_not_authorized(a, challenge ? "authentication is required (allow interactive authorization on "
                                             "the call)" : "polkit refused", NULL);
        else {
                log_debug("polkit authorized uid " UID_FMT " to %s", a->uid, a->what);
                r = dispatch_again(a);
                if (r >= 0) {
                        a->authorized = true;  /* kept until the handler runs again */
                        return 0;
                }
                r = sd_bus_reply_method_errnof(a->call, r, "cannot %s: %m", a->what);
                if (r < 0)
                        log_debug_errno(r, "failed to answer an administrative call, ignoring: %m");
        }
        authorization_free(a);
        return 0;
}

static int ask_polkit(Manager *m, sd_bus_message *call, Authorization *a) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *check = NULL;
        bool interactive = sd_bus_message_get_allow_interactive_authorization(call) > 0;
        int r;

        r = sd_bus_message_new_method_call(m->bus, &check, POLKIT_NAME, POLKIT_PATH, POLKIT_IFACE,
                                           "CheckAuthorization");
        /* Auto-start stays on, as systemd's daemons ask: polkitd is bus-activated on demand where
         * it is installed; where it is not, the bus answers ServiceUnknown at once, and that is a no. */
        if (r >= 0)
                r = sd_bus_message_append(check, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s",
                                          sd_bus_message_get_sender(call), APPSERVICE_POLKIT_ACTION,
                                          0, interactive ? POLKIT_ALLOW_USER_INTERACTION : 0u, "");
        if (r >= 0)
                r = sd_bus_call_async(m->bus, &a->slot, check, on_check_authorization, a,
                                      interactive ? POLKIT_INTERACTIVE_TIMEOUT_USEC : POLKIT_TIMEOUT_USEC);
        return r;
}

static int check_waiting(Manager *m, uid_t uid, const char *what, sd_bus_error *error) {
        unsigned n = 0, n_uid = 0;

        LIST_FOREACH(authorizations, a, m->authorizations) {
                n++;
                n_uid += a->uid == uid;
        }
        if (n_uid >= AUTHORIZATIONS_MAX_PER_USER)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED,
                                         "uid " UID_FMT " may not %s now: %u of its administrative calls are "
                                         "waiting for polkit already, the limit", uid, what, n_uid);
        if (n >= AUTHORIZATIONS_MAX)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED,
                                         "uid " UID_FMT " may not %s now: %u administrative calls are waiting for "
                                         "polkit already, the limit", uid, what, n);
        return 0;
}

bool authorize_resume(Manager *m, sd_bus_message *call) {
        assert(m);
        assert(call);

        LIST_FOREACH(authorizations, a, m->authorizations)
                if (a->call == call && a->authorized) {
                        authorization_free(a);
                        return true;
                }
        return false;
}

int authorize_admin(Manager *m, sd_bus_message *call, const char *what, sd_bus_error *error) {
        _cleanup_(identity_done) Identity caller = {};
        Authorization *a;
        int r;

        assert(m);
        assert(call);
        assert(what);

        r = identity_from_message(call, &caller);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "cannot tell who is calling: %m");
        /* Root, and the broker's own user: a broker run by a user on their session bus (a
         * developer's, appservicectl dev) is theirs to administer, as systemd --user is. */
        if (caller.uid == 0 || caller.uid == geteuid())
                return 1;

        if (m->state == MANAGER_STOPPING)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_NOT_AUTHORIZED,
                                         "uid " UID_FMT " may not %s: appserviced is shutting down", caller.uid, what);
        if (!sd_bus_message_get_sender(call))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_NOT_AUTHORIZED,
                                         "uid " UID_FMT " may not %s (no bus name to ask polkit about)",
                                         caller.uid, what);
        r = check_waiting(m, caller.uid, what, error);
        if (r < 0)
                return r;

        a = calloc(1, sizeof(Authorization));
        if (!a)
                return -ENOMEM;
        *a = (Authorization) {
                .manager = m,
                .call = sd_bus_message_ref(call),
                .what = strdup(what),
                .uid = caller.uid,
        };
        LIST_PREPEND(authorizations, m->authorizations, a);
        r = a->what ? ask_polkit(m, call, a) : -ENOMEM;
        if (r < 0) {
                authorization_free(a);
                return sd_bus_error_set_errnof(error, r, "cannot ask polkit whether uid " UID_FMT " may %s: %m",
                                               caller.uid, what);
        }
        return 0;  /* the handler runs again when polkit said yes; a no is answered here */
}

void authorize_cancel_all(Manager *m) {
        /* An authorized call queued again is answered by its handler, if it still runs. */
        while (m->authorizations) {
                if (!m->authorizations->authorized)
                        reply_not_authorized(m->authorizations, "appserviced is shutting down", NULL);
                authorization_free(m->authorizations);
        }
}
