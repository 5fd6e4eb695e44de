/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "identity.h"
#include "parse.h"

void identity_done(Identity *id) {
        if (!id)
                return;
        free(id->groups);
        free(id->app_id);
        free(id->unit);
        free(id->action);
        free(id->service);
        remote_caller_free(id->remote);
        node_target_free(id->target);
        *id = (Identity) {};
}

int identity_copy(const Identity *src, Identity *dst) {
        _cleanup_(identity_done) Identity copy = {};

        if (!src || !dst)
                return -EINVAL;

        copy = (Identity) { .uid = src->uid, .gid = src->gid, .pid = src->pid };
        if (src->n_groups > 0) {
                copy.groups = calloc(src->n_groups, sizeof(gid_t));
                if (!copy.groups)
                        return -ENOMEM;
                memcpy(copy.groups, src->groups, src->n_groups * sizeof(gid_t));
                copy.n_groups = src->n_groups;
        }
        if (src->app_id && !(copy.app_id = strdup(src->app_id)))
                return -ENOMEM;
        if (src->unit && !(copy.unit = strdup(src->unit)))
                return -ENOMEM;
        if (src->action && !(copy.action = strdup(src->action)))
                return -ENOMEM;
        if (src->service && !(copy.service = strdup(src->service)))
                return -ENOMEM;
        if (remote_caller_copy(src->remote, &copy.remote) < 0 || node_target_copy(src->target, &copy.target) < 0)
                return -ENOMEM;

        *dst = copy;
        copy = (Identity) {};
        return 0;
}

static bool has_suffix(const char *s, size_t n, const char *suffix) {
        size_t k = strlen(suffix);

        return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static bool has_prefix(const char *s, size_t n, const char *prefix) {
        size_t k = strlen(prefix);

        return n >= k && memcmp(s, prefix, k) == 0;
}

/* Only units that can hold processes matter here; slices are skipped by the caller. */
static bool is_unit_name(const char *s, size_t n) {
        size_t suffix;

        if (has_suffix(s, n, ".service"))
                suffix = strlen(".service");
        else if (has_suffix(s, n, ".scope"))
                suffix = strlen(".scope");
        else
                return false;
        if (n == suffix || n > 255)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!unit_name_char_is_valid(s[i]))
                        return false;
        return true;
}

/* "user@1000.service": the per-user service manager, whose own units lie below it. */
static bool is_user_manager(const char *s, size_t n) {
        size_t i = strlen("user@");

        if (!has_prefix(s, n, "user@") || !has_suffix(s, n, ".service") || n == i + strlen(".service"))
                return false;
        for (; i < n - strlen(".service"); i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Undoes systemd's unit-name escaping ("\x2d" for '-'). Returns NULL (with *ret_oom false) when the
 * result is not a plausible id: app ids are printable ASCII, and anything else would be a lie
 * passed on to providers, or not even a valid D-Bus string. */
static char *unescape_id(const char *s, size_t n, bool *ret_oom) {
        _cleanup_(freep) char *buf = NULL;
        size_t k = 0;

        *ret_oom = false;
        if (n == 0)
                return NULL;
        buf = malloc(n + 1);
        if (!buf) {
                *ret_oom = true;
                return NULL;
        }

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                int hi, lo;

                if (c == '\\') {
                        if (i + 3 >= n || s[i + 1] != 'x')
                                return NULL;
                        hi = hex_digit(s[i + 2]);
                        lo = hex_digit(s[i + 3]);
                        if (hi < 0 || lo < 0)
                                return NULL;
                        c = (unsigned char) (hi << 4 | lo);
                        i += 3;
                }
                if (c <= 0x20 || c >= 0x7f)
                        return NULL;
                buf[k++] = (char) c;
        }
        buf[k] = '\0';
        return TAKE_PTR(buf);
}

/* The span of the app id inside a unit name, following the naming rules of Flatpak, Snap and
 * systemd's desktop-application units. Returns false when the unit carries no app id. */
static bool app_id_span(const char *unit, size_t n, const char **ret_id, size_t *ret_len) {
        const char *body, *end, *dash, *at;
        bool scope = has_suffix(unit, n, ".scope");

        end = unit + n - (scope ? strlen(".scope") : strlen(".service"));

        if (has_prefix(unit, n, "snap.")) {
                /* snap.<name>.<app>… : the snap name is all a snap app is known by. */
                body = unit + strlen("snap.");
                /* "snap.scope": the prefix and the suffix share the dot, nothing lies between. */
                if (end <= body)
                        return false;
                dash = memchr(body, '.', end - body);
                if (!dash || dash == body || dash + 1 >= end)
                        return false;
                *ret_id = body;
                *ret_len = dash - body;
                return true;
        }

        if (!has_prefix(unit, n, "app-"))
                return false;

        /* app-<launcher>-<id>…: the launcher never contains '-'. */
        body = unit + strlen("app-");
        dash = memchr(body, '-', end - body);
        if (!dash || dash == body)
                return false;
        body = dash + 1;

        if (scope) {
                /* …-<random>.scope: the id runs to the last '-', so an unescaped '-' in it still works. */
                dash = NULL;
                for (const char *p = body; p < end; p++)
                        if (*p == '-')
                                dash = p;
                if (!dash || dash + 1 >= end)
                        return false;
                end = dash;
        } else {
                /* …@<random>.service, or without an instance the whole rest. */
                at = memchr(body, '@', end - body);
                if (at) {
                        if (at + 1 >= end)
                                return false;
                        end = at;
                }
        }
        if (end <= body)
                return false;

        *ret_id = body;
        *ret_len = end - body;
        return true;
}

/* Returns the next non-empty component of a '/'-separated path, or false at the end. */
static bool next_component(const char **p, const char **ret, size_t *ret_len) {
        const char *s = *p;

        while (*s == '/')
                s++;
        if (!*s)
                return false;
        *ret = s;
        *ret_len = strcspn(s, "/");
        *p = s + *ret_len;
        return true;
}

int identity_parse_cgroup(const char *cgroup, char **ret_unit, char **ret_app_id) {
        _cleanup_(freep) char *unit = NULL, *app_id = NULL;
        const char *p = cgroup, *c, *u = NULL, *id;
        size_t n, u_len = 0, id_len;
        bool oom, in_user_manager = false;

        if (!ret_unit || !ret_app_id)
                return -EINVAL;

        /* Like systemd's cg_path_get_unit()/cg_path_get_user_unit(): skip slices, the first other
         * component is the unit; below the per-user manager, its own first unit wins. Whatever
         * lies deeper is a delegated subtree that the process itself may have named, so it must
         * not decide the app id. */
        while (cgroup && *cgroup == '/' && next_component(&p, &c, &n)) {
                if (has_suffix(c, n, ".slice"))
                        continue;
                if (!is_unit_name(c, n))
                        break;
                u = c;
                u_len = n;
                if (in_user_manager || !is_user_manager(c, n))
                        break;
                in_user_manager = true;
        }

        if (u) {
                unit = strndup(u, u_len);
                if (!unit)
                        return -ENOMEM;
                if (app_id_span(u, u_len, &id, &id_len)) {
                        app_id = unescape_id(id, id_len, &oom);
                        if (oom)
                                return -ENOMEM;
                }
        }

        *ret_unit = TAKE_PTR(unit);
        *ret_app_id = TAKE_PTR(app_id);
        return 0;
}

/* Prefers what the bus itself vouches for over what sd-bus read from /proc afterwards: /proc is
 * read by pid, and by then the pid may belong to another process. On dbus-daemon the EUID comes
 * from the bus (the socket's peer credentials) and UID only from /proc. */
static int creds_get_uid(sd_bus_creds *creds, uid_t *ret) {
        uint64_t augmented = sd_bus_creds_get_augmented_mask(creds);

        if (!(augmented & SD_BUS_CREDS_EUID) && sd_bus_creds_get_euid(creds, ret) >= 0)
                return 0;
        if (!(augmented & SD_BUS_CREDS_UID) && sd_bus_creds_get_uid(creds, ret) >= 0)
                return 0;
        if (sd_bus_creds_get_euid(creds, ret) >= 0 || sd_bus_creds_get_uid(creds, ret) >= 0)
                return 0;
        return -EPERM;
}

static int creds_get_gid(sd_bus_creds *creds, gid_t *ret) {
        if (sd_bus_creds_get_egid(creds, ret) >= 0 || sd_bus_creds_get_gid(creds, ret) >= 0)
                return 0;
        return -EPERM;
}

int identity_from_message(sd_bus_message *m, Identity *id) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL, *cgroup_creds = NULL;
        _cleanup_(identity_done) Identity new = {};
        const gid_t *groups = NULL;
        const char *cgroup = NULL;
        pid_t pid;
        int n, r;

        if (!m || !id)
                return -EINVAL;

        r = sd_bus_query_sender_creds(m,
                                      SD_BUS_CREDS_PID | SD_BUS_CREDS_EUID | SD_BUS_CREDS_UID |
                                      SD_BUS_CREDS_GID | SD_BUS_CREDS_EGID |
                                      SD_BUS_CREDS_SUPPLEMENTARY_GIDS | SD_BUS_CREDS_AUGMENT,
                                      &creds);
        if (r < 0)
                return r;

        /* Authorization rests on the uid and the groups: without them, refuse. */
        r = creds_get_uid(creds, &new.uid);
        if (r < 0)
                return r;
        r = creds_get_gid(creds, &new.gid);
        if (r < 0)
                return r;

        if (sd_bus_creds_get_pid(creds, &pid) >= 0)
                new.pid = pid;

        n = sd_bus_creds_get_supplementary_gids(creds, &groups);
        if (n > 0) {
                new.groups = calloc((size_t) n, sizeof(gid_t));
                if (!new.groups)
                        return -ENOMEM;
                memcpy(new.groups, groups, (size_t) n * sizeof(gid_t));
                new.n_groups = (size_t) n;
        }

        /* The cgroup only adds "unit" and "app-id", which the contract gives where known: read it
         * apart, so that a system without a readable cgroup tree still serves its callers. */
        if (new.pid > 0 && sd_bus_creds_new_from_pid(&cgroup_creds, new.pid, SD_BUS_CREDS_CGROUP) >= 0 &&
            sd_bus_creds_get_cgroup(cgroup_creds, &cgroup) >= 0) {
                r = identity_parse_cgroup(cgroup, &new.unit, &new.app_id);
                if (r < 0)
                        return r;
        }

        *id = new;
        new = (Identity) {};
        return 0;
}

static int append_u(sd_bus_message *reply, const char *key, uint32_t value) {
        return sd_bus_message_append(reply, "{sv}", key, "u", value);
}

int identity_append(sd_bus_message *reply, const Identity *id) {
        int r;

        if (!reply || !id)
                return -EINVAL;

        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        r = append_u(reply, "uid", (uint32_t) id->uid);
        if (r < 0)
                return r;
        r = append_u(reply, "gid", (uint32_t) id->gid);
        if (r < 0)
                return r;
        r = append_u(reply, "pid", (uint32_t) id->pid);
        if (r < 0)
                return r;
        if (id->app_id) {
                r = sd_bus_message_append(reply, "{sv}", "app-id", "s", id->app_id);
                if (r < 0)
                        return r;
        }
        if (id->unit) {
                r = sd_bus_message_append(reply, "{sv}", "unit", "s", id->unit);
                if (r < 0)
                        return r;
        }
        if (id->action) {
                r = sd_bus_message_append(reply, "{sv}", "action", "s", id->action);
                if (r < 0)
                        return r;
        }
        if (id->service) {
                r = sd_bus_message_append(reply, "{sv}", "service", "s", id->service);
                if (r < 0)
                        return r;
        }
        if (id->remote) {
                r = remote_caller_append(reply, id->remote);
                if (r < 0)
                        return r;
        }
        if (id->target) {
                r = node_target_append(reply, id->target);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}
