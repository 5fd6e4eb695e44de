/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The HTTP side of the gateway (README.md here has the API): authentication, the routes, and
 * each call to an app service as the caller's user. */

#include <libsoup/soup.h>

#include "identity.h"
#include "tokens.h"

typedef struct {
        GatewayTokens *tokens;          /* replaced on SIGHUP */
        GatewayIdentities *identities;
        gsize max_body_size;
        guint request_timeout_sec;
} GatewayState;

/* Adds the gateway's handlers to `server`; `state` must outlive it. */
void gateway_server_setup(SoupServer *server, GatewayState *state);
