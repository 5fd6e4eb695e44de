/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyfile.h"
#include "log.h"
#include "parse.h"
#include "quota.h"
#include "remote.h"
#include "settings.h"
#include "util.h"

/* A configuration file is a few lines; anything bigger is a mistake, not a config. */
#define SETTINGS_MAX_FILE_SIZE (64u * 1024u)

typedef struct KnownGroup {
        const char *name;
        const char *const *keys;
} KnownGroup;

static const char *const limits_keys[] = {
        "MaxBytesPerUser", "MaxBytesTotal", "MaxRequestsPerUser", "MaxPeersPerUser", NULL,
};
static const char *const node_keys[] = { "Name", NULL };
static const char *const policy_keys[] = { "AllowDirect", NULL };
static const KnownGroup known_groups[] = {
        { "Limits", limits_keys },
        { "Node", node_keys },
        { "Policy", policy_keys },
};

static bool is_known(const char *group, const char *key, bool *ret_group_known) {
        for (size_t g = 0; g < sizeof known_groups / sizeof known_groups[0]; g++) {
                if (!streq(known_groups[g].name, group))
                        continue;
                *ret_group_known = true;
                for (const char *const *k = known_groups[g].keys; *k; k++)
                        if (streq(*k, key))
                                return true;
                return false;
        }
        *ret_group_known = false;
        return false;
}

static void warn_unknown_keys(const KeyFile *kf, const char *path) {
        for (size_t i = 0; i < kf->n_entries; i++) {
                const KeyFileEntry *e = &kf->entries[i];
                bool group_known;

                if (is_known(e->group, e->key, &group_known))
                        continue;
                if (group_known)
                        log_warning("%s:%u: unknown key %s, ignoring", path, e->line, e->key);
                else
                        log_warning("%s:%u: unknown section [%s], ignoring", path, e->line, e->group);
        }
}

static int read_small_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) char *buf = NULL;
        ssize_t n;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        buf = malloc(SETTINGS_MAX_FILE_SIZE + 1);
        if (!buf)
                return -ENOMEM;
        n = read(fd, buf, SETTINGS_MAX_FILE_SIZE + 1);
        if (n < 0)
                return -errno;
        if ((size_t) n > SETTINGS_MAX_FILE_SIZE)
                return -EFBIG;
        *ret_size = (size_t) n;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Other nodes reach this one by this name through the bridge ("node" open option), so it must be
 * one the option accepts. */
static int load_node_name(Manager *m, const KeyFile *kf, const char *path) {
        const KeyFileEntry *e = keyfile_lookup(kf, "Node", "Name");
        char *name;

        if (!e || !e->value[0])  /* "Name=" is the default, the host name */
                return 0;
        if (!node_name_is_valid(e->value)) {
                log_warning("%s:%u: Name=%s is not a node name (1 to %u letters, digits, '.', '-', '_'), "
                            "keeping '%s'", path, e->line, e->value, (unsigned) NODE_NAME_MAX, m->node_name);
                return 0;
        }
        name = strdup(e->value);
        if (!name)
                return -ENOMEM;
        free(m->node_name);
        m->node_name = name;
        return 0;
}

/* An administrator who wants every message to pass the broker (to see it in the monitors, or to
 * keep one place of enforcement) says AllowDirect=no; a value that is not a boolean keeps what is
 * safe to keep, the broker in the path. */
static void load_policy(Manager *m, const KeyFile *kf, const char *path) {
        const KeyFileEntry *e = keyfile_lookup(kf, "Policy", "AllowDirect");

        if (!e)
                return;
        if (parse_boolean_word(e->value, &m->allow_direct) < 0) {
                log_warning("%s:%u: AllowDirect=%s is not a boolean (yes or no), direct links are off", path,
                            e->line, e->value);
                m->allow_direct = false;
        }
}

int settings_load(Manager *m, const char *path, bool must_exist) {
        _cleanup_(freep) char *text = NULL;
        KeyFileError kerr = {};
        KeyFile *kf = NULL;
        size_t size = 0;
        int r;

        assert(m);
        assert(path);

        r = read_small_file(path, &text, &size);
        if (r == -ENOENT && !must_exist)
                return 0;
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the configuration: %m", path);

        r = keyfile_parse(text, size, &kf, &kerr);
        if (r < 0) {
                log_warning("%s:%u: %s; using the defaults", path, kerr.line,
                            kerr.message ? kerr.message : "cannot be parsed");
                keyfile_error_done(&kerr);
                return 0;
        }

        warn_unknown_keys(kf, path);
        quota_load_keys(&m->limits, kf, path);
        r = load_node_name(m, kf, path);
        load_policy(m, kf, path);
        keyfile_free(kf);
        return r;
}
