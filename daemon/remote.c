/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "definition.h"
#include "remote.h"
#include "util.h"

RemoteCaller *remote_caller_free(RemoteCaller *rc) {
        if (!rc)
                return NULL;
        free(rc->principal);
        free(rc->node);
        free(rc->app_id);
        free(rc->unit);
        free(rc);
        return NULL;
}

static int strdup_maybe(const char *s, char **ret) {
        *ret = NULL;
        if (s && !(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}

int remote_caller_copy(const RemoteCaller *src, RemoteCaller **ret) {
        _cleanup_(remote_caller_freep) RemoteCaller *rc = NULL;

        *ret = NULL;
        if (!src)
                return 0;
        rc = calloc(1, sizeof(RemoteCaller));
        if (!rc)
                return -ENOMEM;
        *rc = (RemoteCaller) {
                .has_uid = src->has_uid, .has_gid = src->has_gid, .has_pid = src->has_pid,
                .uid = src->uid, .gid = src->gid, .pid = src->pid,
        };
        if (strdup_maybe(src->principal, &rc->principal) < 0 || strdup_maybe(src->node, &rc->node) < 0 ||
            strdup_maybe(src->app_id, &rc->app_id) < 0 || strdup_maybe(src->unit, &rc->unit) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(rc);
        return 0;
}

/* The keys a bridge may say of its caller, and the D-Bus type of each. */
typedef enum RemoteKey {
        REMOTE_PRINCIPAL,
        REMOTE_NODE,
        REMOTE_UID,
        REMOTE_GID,
        REMOTE_PID,
        REMOTE_APP_ID,
        REMOTE_UNIT,
        _REMOTE_KEY_MAX,
} RemoteKey;

static const struct {
        const char *name;
        const char *type;
} remote_keys[_REMOTE_KEY_MAX] = {
        [REMOTE_PRINCIPAL] = { "principal", "s" },
        [REMOTE_NODE] = { "node", "s" },
        [REMOTE_UID] = { "uid", "u" },
        [REMOTE_GID] = { "gid", "u" },
        [REMOTE_PID] = { "pid", "u" },
        [REMOTE_APP_ID] = { "app-id", "s" },
        [REMOTE_UNIT] = { "unit", "s" },
};

static int remote_key_from_string(const char *key) {
        for (int k = 0; k < _REMOTE_KEY_MAX; k++)
                if (streq(remote_keys[k].name, key))
                        return k;
        return -1;
}

static char **string_field(RemoteCaller *rc, RemoteKey k) {
        switch (k) {
        case REMOTE_PRINCIPAL: return &rc->principal;
        case REMOTE_NODE: return &rc->node;
        case REMOTE_APP_ID: return &rc->app_id;
        case REMOTE_UNIT: return &rc->unit;
        default: return NULL;
        }
}

/* One value, its variant entered and its type checked. */
static int read_value(sd_bus_message *m, const char *what, RemoteCaller *rc, RemoteKey k, sd_bus_error *error) {
        char **field = string_field(rc, k);
        uint32_t v;
        int r;

        if (field) {
                const char *s;

                r = sd_bus_message_read(m, "s", &s);
                if (r < 0)
                        return r;
                if (strlen(s) > REMOTE_STRING_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "%s: '%s' is %zu bytes long, more than %u", what,
                                                 remote_keys[k].name, strlen(s), REMOTE_STRING_MAX);
                if (k == REMOTE_PRINCIPAL && !definition_principal_is_valid(s))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "%s: 'principal' must be 1 to %u bytes of printable ASCII without "
                                                 "spaces", what, REMOTE_STRING_MAX);
                *field = strdup(s);
                return *field ? 0 : -ENOMEM;
        }

        r = sd_bus_message_read(m, "u", &v);
        if (r < 0)
                return r;
        if (k == REMOTE_UID) {
                rc->uid = v;
                rc->has_uid = true;
        } else if (k == REMOTE_GID) {
                rc->gid = v;
                rc->has_gid = true;
        } else {
                rc->pid = v;
                rc->has_pid = true;
        }
        return 0;
}

/* One dict entry: the key known, not seen before, its value of the right type. */
static int read_entry(sd_bus_message *m, const char *what, RemoteCaller *rc, unsigned *seen, sd_bus_error *error) {
        const char *key, *contents;
        char type;
        int k, r;

        r = sd_bus_message_read(m, "s", &key);
        if (r < 0)
                return r;
        k = remote_key_from_string(key);
        if (k < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s: unknown key '%.64s%s'", what, key,
                                         strlen(key) > 64 ? "..." : "");
        if (*seen & (1u << k))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s: '%s' is given twice", what,
                                         remote_keys[k].name);
        *seen |= 1u << k;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (type != SD_BUS_TYPE_VARIANT || !contents || !streq(contents, remote_keys[k].type))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s: '%s' must be of type '%s', not '%.32s'",
                                         what, remote_keys[k].name, remote_keys[k].type, strempty(contents));
        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, contents);
        if (r < 0)
                return r;
        r = read_value(m, what, rc, (RemoteKey) k, error);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int remote_caller_read(sd_bus_message *m, const char *what, RemoteCaller **ret, sd_bus_error *error) {
        _cleanup_(remote_caller_freep) RemoteCaller *rc = NULL;
        unsigned seen = 0;
        int r;

        rc = calloc(1, sizeof(RemoteCaller));
        if (!rc)
                return -ENOMEM;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;
        /* Every key at most once and only seven are known: the loop ends after eight entries at
         * the latest, however many a hostile bridge sends. */
        for (;;) {
                r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = read_entry(m, what, rc, &seen, error);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        if (!rc->principal)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s: 'principal' is required", what);
        *ret = TAKE_PTR(rc);
        return 0;
}

static int append_string(sd_bus_message *m, const char *key, const char *value) {
        return value ? sd_bus_message_append(m, "{sv}", key, "s", value) : 0;
}

int remote_caller_append(sd_bus_message *m, const RemoteCaller *rc) {
        int r;

        r = sd_bus_message_open_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "remote");
        if (r >= 0)
                r = sd_bus_message_open_container(m, SD_BUS_TYPE_VARIANT, "a{sv}");
        if (r >= 0)
                r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r >= 0)
                r = append_string(m, "principal", rc->principal);
        if (r >= 0)
                r = append_string(m, "node", rc->node);
        if (r >= 0 && rc->has_uid)
                r = sd_bus_message_append(m, "{sv}", "uid", "u", rc->uid);
        if (r >= 0 && rc->has_gid)
                r = sd_bus_message_append(m, "{sv}", "gid", "u", rc->gid);
        if (r >= 0 && rc->has_pid)
                r = sd_bus_message_append(m, "{sv}", "pid", "u", rc->pid);
        if (r >= 0)
                r = append_string(m, "app-id", rc->app_id);
        if (r >= 0)
                r = append_string(m, "unit", rc->unit);
        for (int i = 0; i < 3 && r >= 0; i++)
                r = sd_bus_message_close_container(m);
        return r;
}

bool node_name_is_valid(const char *node) {
        size_t n;

        if (!node)
                return false;
        n = strlen(node);
        if (n == 0 || n > NODE_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = node[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '-' || c == '_'))
                        return false;
        }
        return true;
}

int node_target_new(const char *node, const char *name, const char *provider, NodeTarget **ret) {
        _cleanup_(node_target_freep) NodeTarget *t = NULL;

        t = calloc(1, sizeof(NodeTarget));
        if (!t)
                return -ENOMEM;
        t->node = strdup(node);
        t->name = strdup(name);
        t->provider = strdup(strempty(provider));
        if (!t->node || !t->name || !t->provider)
                return -ENOMEM;
        *ret = TAKE_PTR(t);
        return 0;
}

NodeTarget *node_target_free(NodeTarget *t) {
        if (!t)
                return NULL;
        free(t->node);
        free(t->name);
        free(t->provider);
        free(t);
        return NULL;
}

int node_target_copy(const NodeTarget *src, NodeTarget **ret) {
        *ret = NULL;
        return src ? node_target_new(src->node, src->name, src->provider, ret) : 0;
}

int node_target_append(sd_bus_message *m, const NodeTarget *t) {
        int r;

        r = sd_bus_message_open_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "target");
        if (r >= 0)
                r = sd_bus_message_append(m, "v", "a{sv}", 3, "node", "s", t->node, "name", "s", t->name,
                                          "provider", "s", t->provider);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}
