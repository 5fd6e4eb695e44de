/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The gateway's callers: one line per principal in a root-owned file that no one else may read,
 *     PRINCIPAL USER TOKEN
 * (README.md here, "Callers"), and who a bearer token makes a caller. */

#include <glib.h>
#include <sys/types.h>

typedef struct {
        char *principal;   /* a name for logs: printable ASCII, no spaces */
        char *user;        /* as written: a user name or a numeric uid */
        uid_t uid;
        gid_t gid;         /* the user's primary group */
        char *token;
} GatewayCaller;

typedef struct GatewayTokens GatewayTokens;

/* Reads `path`: it must be a regular file owned by root with no permission for group or others
 * (0600 or 0400), each line a caller (blank lines and # comments aside), each token at least 16
 * bytes and used once, each user known to the system. Any fault fails the whole file, with the
 * line in the message. */
GatewayTokens *gateway_tokens_load(const char *path, GError **error);
void gateway_tokens_free(GatewayTokens *tokens);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GatewayTokens, gateway_tokens_free)

/* The caller whose token `token` is, or NULL: every token is compared, each in constant time, so
 * that the time taken says nothing about any of them. */
const GatewayCaller *gateway_tokens_find(const GatewayTokens *tokens, const char *token);
guint gateway_tokens_count(const GatewayTokens *tokens);
