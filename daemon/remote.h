/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Callers beyond this node, as a bridge (Bridge=yes) speaks of them: the "remote" caller a bridge
 * opens for (OpenConnection's option "remote", SubmitRemoteAction), and the "target" of an open
 * for another node (OpenConnection's option "node"), which the bridge is told. Both reach the
 * provider inside the caller a{sv}; neither is ever trusted for a local check. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "cleanup.h"

/* Each string a bridge gives: at most this many bytes (D-Bus has made sure it is UTF-8). */
#define REMOTE_STRING_MAX 255u
/* A node name: 1 to 255 bytes of letters, digits, '.', '-' and '_'. */
#define NODE_NAME_MAX 255u

typedef struct RemoteCaller {
        char *principal;     /* required: who the bridge vouches for ("cloud", "node:B") */
        char *node;          /* the rest is optional: NULL or has_* false when not given */
        bool has_uid, has_gid, has_pid;
        uint32_t uid, gid, pid;
        char *app_id;
        char *unit;
} RemoteCaller;

typedef struct NodeTarget {
        char *node;          /* the other node's name */
        char *name;          /* the app service wanted there */
        char *provider;      /* its provider id, "" for any */
} NodeTarget;

RemoteCaller *remote_caller_free(RemoteCaller *r);
DEFINE_CLEANUP(RemoteCaller, remote_caller_free);
int remote_caller_copy(const RemoteCaller *src, RemoteCaller **ret);
/* Reads the a{sv} at the current position of `m` as a remote caller: "principal" s (required,
 * 1 to 255 bytes of printable ASCII without spaces), "node" s, "uid" u, "gid" u, "pid" u,
 * "app-id" s, "unit" s. A wrong type, a missing principal, an over-long string, a repeated or
 * unknown key is InvalidArgs in `error`, naming the key. `what` names the argument in messages. */
int remote_caller_read(sd_bus_message *m, const char *what, RemoteCaller **ret, sd_bus_error *error);
/* Appends the caller a{sv}'s entry "remote" (a{sv}): the keys that were given. */
int remote_caller_append(sd_bus_message *m, const RemoteCaller *r);

bool node_name_is_valid(const char *node);

int node_target_new(const char *node, const char *name, const char *provider, NodeTarget **ret);
NodeTarget *node_target_free(NodeTarget *t);
DEFINE_CLEANUP(NodeTarget, node_target_free);
int node_target_copy(const NodeTarget *src, NodeTarget **ret);
/* Appends the caller a{sv}'s entry "target" (a{sv}): "node", "name", "provider". */
int node_target_append(sd_bus_message *m, const NodeTarget *t);
