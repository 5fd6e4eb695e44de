/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The broker sees each of the gateway's callers as the local user the tokens file maps it to: the
 * gateway (root) opens one bus connection per caller with that user's uid and groups, which the
 * bus reads from the socket (SO_PEERCRED, SO_PEERGROUPS) and hands to the broker. AllowUsers=,
 * AllowGroups= and everything else the broker checks apply to the caller's user. */

#include <gio/gio.h>

#include "tokens.h"

typedef struct GatewayIdentities GatewayIdentities;

GatewayIdentities *gateway_identities_new(const char *bus_address);
void gateway_identities_free(GatewayIdentities *ids);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GatewayIdentities, gateway_identities_free)

/* The caller's bus connection (borrowed), made on first use and again once it closed. The
 * connect and the authentication happen with the process's uid, gid and groups switched to the
 * caller's user and back, synchronously: the bus is local and trusted. */
GDBusConnection *gateway_identities_get(GatewayIdentities *ids, const GatewayCaller *caller, GError **error);
/* Forgets every connection (a reload of the tokens file: users may have changed). */
void gateway_identities_reset(GatewayIdentities *ids);
