/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Who sees an app service's live state, and Manager.Subscribe.
 *
 * A service whose definition restricts who may open it (AllowUsers= or AllowGroups=) keeps its
 * existence public, but what changes with use (State, Connections, NRestarts) is shown only to
 * those it concerns: root, its registered provider, the definition's User= uid and the callers
 * it allows. Everyone else reads fixed values, and its State changes are never broadcast: they
 * go unicast to its provider and to the subscribers (Manager.Subscribe) that may see them.
 * Services open to everyone are not affected. */

#include <stdbool.h>

#include "identity.h"
#include "manager.h"

/* Subscribe calls one uid may hold at once (each bus connection counts once); root has no bound. */
#define SUBSCRIBERS_PER_UID_MAX 64u

/* What a peer that may not see a private service reads instead of its live values. */
#define SERVICE_HIDDEN_STATE "unknown"

/* Whether the service's live state is private (AllowUsers= or AllowGroups= set). */
bool service_state_is_private(const Service *s);
/* Whether the peer `sender` (a unique name, may be NULL) with this identity may see it. */
bool service_may_watch(const Service *s, const char *sender, const Identity *id);
/* Whether two definitions of one service show its live state to different peers (AllowUsers=,
 * AllowGroups=, User=). */
bool definition_watchers_differ(const Definition *a, const Definition *b);
/* For a property getter: whether the peer whose Properties.Get or GetAll, or
 * ObjectManager.GetManagedObjects, is being answered may see it. Anything else (a broadcast
 * that sd-bus builds, InterfacesAdded) gets the hidden values of a private service. */
bool service_current_caller_may_watch(const Service *s, sd_bus *bus);

/* Manager.Subscribe: whether `uid` may have one more subscribed bus connection (at most
 * SUBSCRIBERS_PER_UID_MAX, root aside), then the subscription, which takes `who`. */
typedef struct Peer Peer;
int subscription_check(Manager *m, uid_t uid, sd_bus_error *error);
void subscription_start(Peer *p, Identity *who);
/* Ends the peer's subscription, if any (it unsubscribed, or it leaves the bus). */
void subscription_stop(Peer *p);
