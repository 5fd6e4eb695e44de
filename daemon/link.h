/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Direct links (io.appservice1.Link): whether an open gets one, and the socket pair whose two ends
 * the client and the provider then speak over without the broker. The broker keeps the
 * connection (its object, its counts, its end); it never holds an end of the link once handed
 * out, so a link costs the broker no fd and no buffer. */

#include "completion.h"
#include "service.h"

/* The two ends of a link, in the order they are handed out. */
typedef struct LinkPair {
        int provider_end;
        int client_end;
} LinkPair;

#define LINK_PAIR_NULL ((LinkPair) { .provider_end = -1, .client_end = -1 })

void link_pair_done(LinkPair *p);

/* Why an open of `s` by `client` (with `caller`) gets no direct link: a sentence; NULL when it
 * may have one. */
const char *link_refusal(const Service *s, const Peer *client, const Identity *caller);

/* For an open whose caller takes a link: the pair when the open may have one, else why not (a
 * sentence, and the pair stays empty). */
const char *link_pair_make(const Service *s, const Peer *client, const Identity *caller, LinkPair *ret);

/* What the ends are told besides the fd: the limits the receiving side enforces. */
LinkOffer link_offer(const Definition *d, int fd, const char *brokered);
