/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Who is calling: what the contract's "caller" a{sv} says about a peer. */

#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "remote.h"

typedef struct Identity {
        uid_t uid;
        gid_t gid;          /* primary group */
        pid_t pid;
        gid_t *groups;      /* supplementary groups, for AllowGroups= */
        size_t n_groups;
        char *app_id;       /* NULL when unknown */
        char *unit;         /* NULL when unknown */
        char *action;       /* a SubmitAction connection: the action; NULL otherwise */
        char *service;      /* ... and the sender's app service when it is a provider; NULL otherwise */
        RemoteCaller *remote; /* a bridge opening for a caller elsewhere: who that is; NULL otherwise */
        NodeTarget *target; /* an open for another node, handed to the bridge: what is wanted there */
} Identity;

/* Fills `id` from the bus credentials of the sender of `m`. */
int identity_from_message(sd_bus_message *m, Identity *id);
void identity_done(Identity *id);
int identity_copy(const Identity *src, Identity *dst);

/* Appends the contract's caller a{sv} ("uid", "gid", "pid", and "app-id", "unit", "action",
 * "service", "remote", "target" where set). */
int identity_append(sd_bus_message *reply, const Identity *id);

/* From a cgroup path such as "/user.slice/user-1000.slice/user@1000.service/app.slice/
 * app-flatpak-org.example.App-1234.scope": the unit the process runs in (the innermost .service
 * or .scope) and the application id where the unit's name carries one (Flatpak
 * app-flatpak-<id>-*.scope, Snap snap.<name>.*, desktop app-<launcher>-<id>-*.scope or
 * app-<launcher>-<id>@*.service; "\x2d" in ids is unescaped). Either result may be NULL. */
int identity_parse_cgroup(const char *cgroup, char **ret_unit, char **ret_app_id);
