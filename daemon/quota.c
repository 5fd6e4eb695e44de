/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "definition.h"
#include "errors.h"
#include "keyfile.h"
#include "log.h"
#include "manager.h"
#include "parse.h"
#include "quota.h"
#include "util.h"

#define QUOTA_GROUP "Limits"

void quota_set_defaults(Limits *l) {
        *l = (Limits) {
                .max_bytes_per_user = QUOTA_DEFAULT_MAX_BYTES_PER_USER,
                .max_bytes_total = QUOTA_DEFAULT_MAX_BYTES_TOTAL,
                .max_requests_per_user = QUOTA_DEFAULT_MAX_REQUESTS_PER_USER,
                .max_peers_per_user = QUOTA_DEFAULT_MAX_PEERS_PER_USER,
        };
}

static void load_key(const KeyFile *kf, const char *path, const char *key, uint64_t max, uint64_t *value) {
        const KeyFileEntry *e = keyfile_lookup(kf, QUOTA_GROUP, key);
        uint64_t v;

        if (!e)
                return;
        if (parse_size(e->value, max, &v) < 0 || v == 0) {
                log_warning("%s:%u: %s=%s is not a number from 1 to %" PRIu64 " (K, M, G allowed), "
                            "keeping %" PRIu64, path, e->line, key, e->value, max, *value);
                return;
        }
        *value = v;
}

void quota_load_keys(Limits *l, const KeyFile *kf, const char *path) {
        uint64_t requests, peers;

        assert(l);
        assert(kf);

        load_key(kf, path, "MaxBytesPerUser", UINT64_MAX, &l->max_bytes_per_user);
        load_key(kf, path, "MaxBytesTotal", UINT64_MAX, &l->max_bytes_total);
        requests = l->max_requests_per_user;
        peers = l->max_peers_per_user;
        load_key(kf, path, "MaxRequestsPerUser", UINT32_MAX, &requests);
        load_key(kf, path, "MaxPeersPerUser", UINT32_MAX, &peers);
        l->max_requests_per_user = (unsigned) requests;
        l->max_peers_per_user = (unsigned) peers;
}

/* One peer with connections or waiting opens at one service: it counts once among its uid's
 * peers there, however many it has. */
typedef struct ServicePeer {
        char *name;  /* the key: its unique bus name */
        uid_t uid;
        unsigned refs;
} ServicePeer;

static UserUsage *usage_get(Hashmap *users, uid_t uid, bool create) {
        uint64_t key = uid;
        UserUsage *u;

        u = hashmap_get(users, &key);
        if (u || !create)
                return u;
        u = calloc(1, sizeof(UserUsage));
        if (!u)
                return NULL;
        u->uid = uid;
        if (hashmap_put(users, &u->uid, u) < 0)
                return mfree(u);
        return u;
}

static void usage_release_if_unused(Hashmap *users, UserUsage *u) {
        if (!u || u->bytes > 0 || u->requests > 0 || u->peers > 0)
                return;
        hashmap_remove(users, &u->uid);
        free(u);
}

static void users_free(Hashmap *users) {
        while (hashmap_size(users) > 0)
                free(hashmap_remove(users, &((UserUsage *) hashmap_first(users))->uid));
        hashmap_free(users);
}

static ServiceUsage *service_usage_get(Manager *m, const char *name, bool create) {
        ServiceUsage *su;

        su = hashmap_get(m->service_usage, name);
        if (su || !create)
                return su;
        su = calloc(1, sizeof(ServiceUsage));
        if (!su)
                return NULL;
        su->name = strdup(name);
        su->users = hashmap_new(HASHMAP_KEY_UINT64);
        su->peers = hashmap_new(HASHMAP_KEY_STRING);
        if (!su->name || !su->users || !su->peers || hashmap_put(m->service_usage, su->name, su) < 0) {
                hashmap_free(su->peers);
                hashmap_free(su->users);
                free(su->name);
                return mfree(su);
        }
        return su;
}

static void service_usage_release_if_unused(Manager *m, ServiceUsage *su) {
        if (!su || su->bytes > 0 || hashmap_size(su->users) > 0 || hashmap_size(su->peers) > 0)
                return;
        hashmap_remove(m->service_usage, su->name);
        hashmap_free(su->peers);
        hashmap_free(su->users);
        free(su->name);
        free(su);
}

void quota_free_all(Manager *m) {
        while (hashmap_size(m->service_usage) > 0) {
                ServiceUsage *su = hashmap_remove(m->service_usage,
                                                  ((ServiceUsage *) hashmap_first(m->service_usage))->name);
                users_free(su->users);
                while (hashmap_size(su->peers) > 0) {
                        ServicePeer *sp = hashmap_remove(su->peers, ((ServicePeer *) hashmap_first(su->peers))->name);
                        free(sp->name);
                        free(sp);
                }
                hashmap_free(su->peers);
                free(su->name);
                free(su);
        }
        hashmap_free(m->service_usage);
        users_free(m->usage);
}

static int refuse(sd_bus_error *error, const char *what, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
static int refuse(sd_bus_error *error, const char *what, const char *format, ...) {
        _cleanup_(freep) char *reason = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&reason, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (what)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED, "app service '%s': %s",
                                         what, reason);
        return sd_bus_error_setf(error, APPSERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED, "%s", reason);
}

/* Whether `bytes` more fit under `limit` next to the `held` ones. */
static bool fits(uint64_t held, uint64_t bytes, uint64_t limit) {
        return bytes <= limit && held <= limit - bytes;
}

static int check_broker(Manager *m, const Definition *d, uid_t uid, uint64_t bytes, unsigned requests,
                        sd_bus_error *error) {
        const Limits *l = &m->limits;
        const UserUsage *u = usage_get(m->usage, uid, /* create= */ false);
        uint64_t user_bytes = u ? u->bytes : 0;
        unsigned user_requests = u ? u->requests : 0;

        if (!fits(m->bytes_held, bytes, l->max_bytes_total))
                return refuse(error, d->name, "the broker holds %" PRIu64 " bytes of messages for all users, and %"
                              PRIu64 " more would pass the limit of %" PRIu64 " (MaxBytesTotal)",
                              m->bytes_held, bytes, l->max_bytes_total);
        if (uid != 0 && !fits(user_bytes, bytes, l->max_bytes_per_user))
                return refuse(error, d->name, "uid " UID_FMT " has %" PRIu64 " bytes of messages held, and %" PRIu64
                              " more would pass the limit of %" PRIu64 " (MaxBytesPerUser)",
                              uid, user_bytes, bytes, l->max_bytes_per_user);
        if (uid != 0 && requests > 0 && user_requests + requests > l->max_requests_per_user)
                return refuse(error, d->name, "uid " UID_FMT " has %u requests in flight, the limit (MaxRequestsPerUser)",
                              uid, user_requests);
        return 0;
}

/* The service's own limits, from its definition; DEFINITION_LIMIT_UNSET passes everything. */
static int check_service(Manager *m, const Definition *d, uid_t uid, uint64_t bytes, unsigned requests,
                         sd_bus_error *error) {
        const ServiceUsage *su = service_usage_get(m, d->name, /* create= */ false);
        const UserUsage *u = su ? usage_get(su->users, uid, /* create= */ false) : NULL;
        uint64_t service_bytes = su ? su->bytes : 0, user_bytes = u ? u->bytes : 0;
        unsigned user_requests = u ? u->requests : 0;

        if (!fits(service_bytes, bytes, d->max_bytes_total))
                return refuse(error, d->name, "it holds %" PRIu64 " bytes of messages for all users, and %" PRIu64
                              " more would pass its limit of %" PRIu64 " (MaxBytesTotal= in %s)",
                              service_bytes, bytes, d->max_bytes_total, d->path);
        if (uid != 0 && !fits(user_bytes, bytes, d->max_bytes_per_user))
                return refuse(error, d->name, "uid " UID_FMT " has %" PRIu64 " bytes of messages held at it, and %"
                              PRIu64 " more would pass its limit of %" PRIu64 " (MaxBytesPerUser= in %s)",
                              uid, user_bytes, bytes, d->max_bytes_per_user, d->path);
        if (uid != 0 && requests > 0 && user_requests + (uint64_t) requests > d->max_requests_per_user)
                return refuse(error, d->name, "uid " UID_FMT " has %u requests in flight to it, its limit "
                              "(MaxRequestsPerUser= in %s)", uid, user_requests, d->path);
        return 0;
}

int quota_charge(Manager *m, const Definition *d, uid_t uid, uint64_t bytes, unsigned requests, Charge *ret,
                 sd_bus_error *error) {
        ServiceUsage *su;
        UserUsage *u, *su_user;
        int r;

        r = check_broker(m, d, uid, bytes, requests, error);
        if (r < 0)
                return r;
        r = check_service(m, d, uid, bytes, requests, error);
        if (r < 0)
                return r;

        u = usage_get(m->usage, uid, /* create= */ true);
        su = service_usage_get(m, d->name, /* create= */ true);
        su_user = su ? usage_get(su->users, uid, /* create= */ true) : NULL;
        if (!u || !su_user) {
                usage_release_if_unused(m->usage, u);
                service_usage_release_if_unused(m, su);
                return -ENOMEM;
        }
        u->bytes += bytes;
        u->requests += requests;
        m->bytes_held += bytes;
        su_user->bytes += bytes;
        su_user->requests += requests;
        su->bytes += bytes;
        *ret = (Charge) { .uid = uid, .bytes = bytes, .requests = requests, .service = su, .taken = true };
        return 0;
}

static void usage_give_back(Hashmap *users, uid_t uid, uint64_t bytes, unsigned requests) {
        UserUsage *u = usage_get(users, uid, /* create= */ false);

        if (!u)
                return;
        u->bytes -= bytes;
        u->requests -= requests;
        usage_release_if_unused(users, u);
}

void quota_release(Manager *m, Charge *c) {
        assert(m);

        if (!c || !c->taken)
                return;
        usage_give_back(m->usage, c->uid, c->bytes, c->requests);
        m->bytes_held -= c->bytes;
        usage_give_back(c->service->users, c->uid, c->bytes, c->requests);
        c->service->bytes -= c->bytes;
        service_usage_release_if_unused(m, c->service);
        *c = (Charge) {};
}

int quota_add_peer(Manager *m, uid_t uid, sd_bus_error *error) {
        UserUsage *u = usage_get(m->usage, uid, /* create= */ false);

        assert(m);

        if (uid != 0 && u && u->peers >= m->limits.max_peers_per_user)
                return refuse(error, NULL, "uid " UID_FMT " already has %u bus connections that the broker "
                              "keeps state for, the limit (MaxPeersPerUser)", uid, u->peers);
        u = usage_get(m->usage, uid, /* create= */ true);
        if (!u)
                return -ENOMEM;
        u->peers++;
        return 0;
}

void quota_remove_peer(Manager *m, uid_t uid) {
        UserUsage *u = usage_get(m->usage, uid, /* create= */ false);

        assert(m);

        if (!u)
                return;
        u->peers--;
        usage_release_if_unused(m->usage, u);
}

int quota_check_service_peer(Manager *m, const Definition *d, const char *peer, uid_t uid, sd_bus_error *error) {
        const ServiceUsage *su = service_usage_get(m, d->name, /* create= */ false);
        const UserUsage *u = su ? usage_get(su->users, uid, /* create= */ false) : NULL;

        assert(m);
        assert(d);
        assert(peer);

        if (su && hashmap_get(su->peers, peer))
                return 0;  /* counted already */
        if (uid != 0 && u && u->peers >= d->max_peers_per_user)
                return refuse(error, d->name, "uid " UID_FMT " already has %u bus connections with connections "
                              "to it, its limit (MaxPeersPerUser= in %s)", uid, u->peers, d->path);
        return 0;
}

int quota_ref_service_peer(Manager *m, const char *service, const char *peer, uid_t uid) {
        ServiceUsage *su = service_usage_get(m, service, /* create= */ true);
        ServicePeer *sp = su ? hashmap_get(su->peers, peer) : NULL;
        UserUsage *u;

        assert(m);
        assert(service);
        assert(peer);

        if (sp) {
                sp->refs++;
                return 0;
        }
        u = su ? usage_get(su->users, uid, /* create= */ true) : NULL;
        sp = u ? calloc(1, sizeof(ServicePeer)) : NULL;
        if (sp) {
                sp->name = strdup(peer);
                sp->uid = uid;
                sp->refs = 1;
        }
        if (!sp || !sp->name || hashmap_put(su->peers, sp->name, sp) < 0) {
                if (sp)
                        free(sp->name);
                free(sp);
                if (u)
                        usage_release_if_unused(su->users, u);
                service_usage_release_if_unused(m, su);
                return -ENOMEM;
        }
        u->peers++;
        return 0;
}

void quota_unref_service_peer(Manager *m, const char *service, const char *peer) {
        ServiceUsage *su = service_usage_get(m, service, /* create= */ false);
        ServicePeer *sp = su ? hashmap_get(su->peers, peer) : NULL;
        UserUsage *u;

        assert(m);
        assert(service);
        assert(peer);

        if (!sp || --sp->refs > 0)
                return;
        hashmap_remove(su->peers, sp->name);
        u = usage_get(su->users, sp->uid, /* create= */ false);
        if (u) {
                u->peers--;
                usage_release_if_unused(su->users, u);
        }
        free(sp->name);
        free(sp);
        service_usage_release_if_unused(m, su);
}
