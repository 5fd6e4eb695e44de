/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "link.h"
#include "log.h"
#include "peer.h"

void link_pair_done(LinkPair *p) {
        if (p->provider_end >= 0)
                close(p->provider_end);
        if (p->client_end >= 0)
                close(p->client_end);
        *p = LINK_PAIR_NULL;
}

const char *link_refusal(const Service *s, const Peer *client, const Identity *caller) {
        assert(s && s->provider);

        if (!s->manager->allow_direct)
                return "appserviced.conf says AllowDirect=no";
        if (!s->definition->allow_direct)
                return "its definition says AllowDirect=no";
        /* The broker checks every message against the contract: it must see them. */
        if (s->definition->contract)
                return "the app service has a contract, which the broker checks";
        /* The broker's checks of a remote caller's messages are all it has of that caller. */
        if (caller->remote || caller->target)
                return "an open for or from another node goes through the bridge";
        if (client == s->provider)
                return "the client is the provider itself";
        if (!s->provider_direct_links)
                return "the provider did not register with \"direct-links\"";
        return NULL;
}

const char *link_pair_make(const Service *s, const Peer *client, const Identity *caller, LinkPair *ret) {
        const char *refusal = link_refusal(s, client, caller);
        int fds[2];

        *ret = LINK_PAIR_NULL;
        if (refusal)
                return refusal;
        /* Blocking ends: each side sets its own mode; the broker never reads or writes them. */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
                log_warning_errno(errno, "app service '%s': cannot make a socket pair, the connection is brokered: %m",
                                  s->definition->name);
                return "the broker could not make a socket pair";
        }
        *ret = (LinkPair) { .provider_end = fds[0], .client_end = fds[1] };
        return NULL;
}

LinkOffer link_offer(const Definition *d, int fd, const char *brokered) {
        return (LinkOffer) {
                .fd = fd,
                .brokered = brokered,
                .max_message_size = d->max_message_size,
                .max_pending_requests = d->max_pending_requests,
                .request_timeout_usec = d->request_timeout_usec,
        };
}
