/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "keyfile.h"
#include "log.h"
#include "manager.h"
#include "quota.h"
#include "util.h"

#define QUOTA_GROUP "Limits"
/* A configuration file is a few lines; anything bigger is a mistake, not a config. */
#define QUOTA_MAX_FILE_SIZE (64u * 1024u)

void quota_set_defaults(Limits *l) {
        *l = (Limits) {
                .max_bytes_per_user = QUOTA_DEFAULT_MAX_BYTES_PER_USER,
                .max_bytes_total = QUOTA_DEFAULT_MAX_BYTES_TOTAL,
                .max_requests_per_user = QUOTA_DEFAULT_MAX_REQUESTS_PER_USER,
                .max_peers_per_user = QUOTA_DEFAULT_MAX_PEERS_PER_USER,
        };
}

/* A count, optionally with K, M or G (powers of 1024), as in systemd's sizes. */
static int parse_size(const char *s, uint64_t max, uint64_t *ret) {
        unsigned long long v;
        uint64_t factor = 1;
        char *end;

        if (!s[0] || s[0] == '-' || s[0] == '+')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s)
                return -EINVAL;
        if (end[0] && !end[1]) {
                switch (end[0]) {
                case 'K': factor = UINT64_C(1) << 10; break;
                case 'M': factor = UINT64_C(1) << 20; break;
                case 'G': factor = UINT64_C(1) << 30; break;
                default: return -EINVAL;
                }
        } else if (end[0])
                return -EINVAL;
        if (v == 0 || v > max / factor)
                return -ERANGE;
        *ret = v * factor;
        return 0;
}

static void load_key(const KeyFile *kf, const char *path, const char *key, uint64_t max, uint64_t *value) {
        const KeyFileEntry *e = keyfile_lookup(kf, QUOTA_GROUP, key);
        uint64_t v;

        if (!e)
                return;
        if (parse_size(e->value, max, &v) < 0) {
                log_warning("%s:%u: %s=%s is not a number from 1 to %" PRIu64 " (K, M, G allowed), "
                            "keeping %" PRIu64, path, e->line, key, e->value, max, *value);
                return;
        }
        *value = v;
}

static void warn_unknown_keys(const KeyFile *kf, const char *path) {
        static const char *const known[] = {
                "MaxBytesPerUser", "MaxBytesTotal", "MaxRequestsPerUser", "MaxPeersPerUser",
        };

        for (size_t i = 0; i < kf->n_entries; i++) {
                const KeyFileEntry *e = &kf->entries[i];
                bool found = false;

                if (!streq(e->group, QUOTA_GROUP)) {
                        log_warning("%s:%u: unknown section [%s], ignoring", path, e->line, e->group);
                        continue;
                }
                for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
                        found = found || streq(e->key, known[k]);
                if (!found)
                        log_warning("%s:%u: unknown key %s, ignoring", path, e->line, e->key);
        }
}

static int read_small_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) char *buf = NULL;
        ssize_t n;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        buf = malloc(QUOTA_MAX_FILE_SIZE + 1);
        if (!buf)
                return -ENOMEM;
        n = read(fd, buf, QUOTA_MAX_FILE_SIZE + 1);
        if (n < 0)
                return -errno;
        if ((size_t) n > QUOTA_MAX_FILE_SIZE)
                return -EFBIG;
        *ret_size = (size_t) n;
        *ret = TAKE_PTR(buf);
        return 0;
}

int quota_load(Limits *l, const char *path, bool must_exist) {
        _cleanup_(freep) char *text = NULL;
        KeyFileError kerr = {};
        KeyFile *kf = NULL;
        uint64_t requests, peers;
        size_t size = 0;
        int r;

        r = read_small_file(path, &text, &size);
        if (r == -ENOENT && !must_exist)
                return 0;
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the configuration: %m", path);

        r = keyfile_parse(text, size, &kf, &kerr);
        if (r < 0) {
                log_warning("%s:%u: %s; using the default limits", path, kerr.line,
                            kerr.message ? kerr.message : "cannot be parsed");
                keyfile_error_done(&kerr);
                return 0;
        }

        warn_unknown_keys(kf, path);
        load_key(kf, path, "MaxBytesPerUser", UINT64_MAX, &l->max_bytes_per_user);
        load_key(kf, path, "MaxBytesTotal", UINT64_MAX, &l->max_bytes_total);
        requests = l->max_requests_per_user;
        peers = l->max_peers_per_user;
        load_key(kf, path, "MaxRequestsPerUser", UINT32_MAX, &requests);
        load_key(kf, path, "MaxPeersPerUser", UINT32_MAX, &peers);
        l->max_requests_per_user = (unsigned) requests;
        l->max_peers_per_user = (unsigned) peers;
        keyfile_free(kf);
        return 0;
}

static UserUsage *usage_get(Manager *m, uid_t uid, bool create) {
        uint64_t key = uid;
        UserUsage *u;

        u = hashmap_get(m->usage, &key);
        if (u || !create)
                return u;
        u = calloc(1, sizeof(UserUsage));
        if (!u)
                return NULL;
        u->uid = uid;
        if (hashmap_put(m->usage, &u->uid, u) < 0)
                return mfree(u);
        return u;
}

static void usage_release_if_unused(Manager *m, UserUsage *u) {
        if (!u || u->bytes > 0 || u->requests > 0 || u->peers > 0)
                return;
        hashmap_remove(m->usage, &u->uid);
        free(u);
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

int quota_charge(Manager *m, uid_t uid, uint64_t bytes, unsigned requests, const char *what, Charge *ret,
                 sd_bus_error *error) {
        const Limits *l = &m->limits;
        UserUsage *u = usage_get(m, uid, /* create= */ false);
        uint64_t user_bytes = u ? u->bytes : 0;
        unsigned user_requests = u ? u->requests : 0;

        if (bytes > l->max_bytes_total || m->bytes_held > l->max_bytes_total - bytes)
                return refuse(error, what, "the broker holds %" PRIu64 " bytes of messages for all users, and %" PRIu64
                              " more would pass the limit of %" PRIu64 " (MaxBytesTotal)",
                              m->bytes_held, bytes, l->max_bytes_total);
        if (uid != 0 && (bytes > l->max_bytes_per_user || user_bytes > l->max_bytes_per_user - bytes))
                return refuse(error, what, "uid " UID_FMT " has %" PRIu64 " bytes of messages held, and %" PRIu64
                              " more would pass the limit of %" PRIu64 " (MaxBytesPerUser)",
                              uid, user_bytes, bytes, l->max_bytes_per_user);
        if (uid != 0 && requests > 0 && user_requests + requests > l->max_requests_per_user)
                return refuse(error, what, "uid " UID_FMT " has %u requests in flight, the limit (MaxRequestsPerUser)",
                              uid, user_requests);

        u = usage_get(m, uid, /* create= */ true);
        if (!u)
                return -ENOMEM;
        u->bytes += bytes;
        u->requests += requests;
        m->bytes_held += bytes;
        *ret = (Charge) { .uid = uid, .bytes = bytes, .requests = requests, .taken = true };
        return 0;
}

void quota_release(Manager *m, Charge *c) {
        UserUsage *u;

        if (!c || !c->taken)
                return;
        u = usage_get(m, c->uid, /* create= */ false);
        if (u) {
                u->bytes -= c->bytes;
                u->requests -= c->requests;
                usage_release_if_unused(m, u);
        }
        m->bytes_held -= c->bytes;
        *c = (Charge) {};
}

int quota_add_peer(Manager *m, uid_t uid, sd_bus_error *error) {
        UserUsage *u = usage_get(m, uid, /* create= */ false);

        if (uid != 0 && u && u->peers >= m->limits.max_peers_per_user)
                return refuse(error, NULL, "uid " UID_FMT " already has %u bus connections that the broker "
                              "keeps state for, the limit (MaxPeersPerUser)", uid, u->peers);
        u = usage_get(m, uid, /* create= */ true);
        if (!u)
                return -ENOMEM;
        u->peers++;
        return 0;
}

void quota_remove_peer(Manager *m, uid_t uid) {
        UserUsage *u = usage_get(m, uid, /* create= */ false);

        if (!u)
                return;
        u->peers--;
        usage_release_if_unused(m, u);
}
