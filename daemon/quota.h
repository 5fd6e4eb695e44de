/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What one local user, and everybody together, may make the broker hold: the bytes of messages
 * waiting for an answer or for their provider to start, the requests in flight, and the bus peers
 * the broker keeps state for. Set for the whole broker in appserviced.conf, and for one app
 * service by the keys of the same names in its definition file; a charge must fit both. Every
 * refusal is ResourceLimitsExceeded naming the limit. Root is held to the totals only. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "keyfile.h"

typedef struct Definition Definition;
typedef struct Hashmap Hashmap;
typedef struct Manager Manager;

#define QUOTA_DEFAULT_MAX_BYTES_PER_USER (UINT64_C(64) << 20)
#define QUOTA_DEFAULT_MAX_BYTES_TOTAL (UINT64_C(256) << 20)
#define QUOTA_DEFAULT_MAX_REQUESTS_PER_USER 4096u
#define QUOTA_DEFAULT_MAX_PEERS_PER_USER 1024u

/* What a held request costs besides its ValueSet: the request and the message around it. */
#define QUOTA_REQUEST_OVERHEAD 512u

typedef struct Limits {
        uint64_t max_bytes_per_user;
        uint64_t max_bytes_total;
        unsigned max_requests_per_user;
        unsigned max_peers_per_user;
} Limits;

/* What one uid holds now; freed when it holds nothing. */
typedef struct UserUsage {
        uint64_t uid;  /* the key */
        uint64_t bytes;
        unsigned requests;
        unsigned peers;
} UserUsage;

/* What everybody holds at one app service; freed when it holds nothing. Kept by name, not in the
 * Service, so that a charge never outlives what it is counted in. */
typedef struct ServiceUsage {
        char *name;         /* the key */
        uint64_t bytes;
        Hashmap *users;     /* uid → UserUsage at this service; peers are those with connections to it */
        Hashmap *peers;     /* unique name → its connections and waiting opens here (quota.c) */
} ServiceUsage;

/* A charge taken by quota_charge(), to give back with quota_release(). */
typedef struct Charge {
        uid_t uid;
        uint64_t bytes;
        unsigned requests;
        ServiceUsage *service;
        bool taken;
} Charge;

void quota_set_defaults(Limits *l);
/* Takes the [Limits] keys of the broker's configuration file (settings.c); a bad value is logged
 * and the default kept. */
void quota_load_keys(Limits *l, const KeyFile *kf, const char *path);

/* Takes `bytes` and `requests` for `uid` at the app service `d` declares, or refuses with
 * ResourceLimitsExceeded (< 0) and takes nothing. */
int quota_charge(Manager *m, const Definition *d, uid_t uid, uint64_t bytes, unsigned requests, Charge *ret,
                 sd_bus_error *error);
void quota_release(Manager *m, Charge *c);

/* A peer of `uid` that the broker will keep state for. */
int quota_add_peer(Manager *m, uid_t uid, sd_bus_error *error);
void quota_remove_peer(Manager *m, uid_t uid);

/* A peer of `uid` with connections or waiting opens at an app service counts once in its
 * MaxPeersPerUser=: check whether a new one fits (one counted already always does), then take a
 * reference for each connection and waiting open, given back when it ends. */
int quota_check_service_peer(Manager *m, const Definition *d, const char *peer, uid_t uid, sd_bus_error *error);
int quota_ref_service_peer(Manager *m, const char *service, const char *peer, uid_t uid);
void quota_unref_service_peer(Manager *m, const char *service, const char *peer);

void quota_free_all(Manager *m);
