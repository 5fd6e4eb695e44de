/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "identity.h"

#define MAX_GROUPS 256

struct GatewayIdentities {
        char *socket_path;
        GHashTable *by_principal;   /* principal -> GDBusConnection */
};

/* "unix:path=/run/dbus/system_bus_socket,guid=..." -> the path; only unix:path= is taken. */
static char *socket_path_of(const char *address) {
        const char *p;
        size_t n;

        if (!address || !g_str_has_prefix(address, "unix:"))
                return NULL;
        p = strstr(address, "path=");
        if (!p)
                return NULL;
        p += 5;
        n = strcspn(p, ",;");
        return n > 0 ? g_strndup(p, n) : NULL;
}

GatewayIdentities *gateway_identities_new(const char *bus_address) {
        GatewayIdentities *ids = g_new0(GatewayIdentities, 1);

        ids->socket_path = socket_path_of(bus_address ? bus_address : "unix:path=/run/dbus/system_bus_socket");
        ids->by_principal = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
        return ids;
}

void gateway_identities_free(GatewayIdentities *ids) {
        if (!ids)
                return;
        g_hash_table_unref(ids->by_principal);
        g_free(ids->socket_path);
        g_free(ids);
}

void gateway_identities_reset(GatewayIdentities *ids) {
        g_hash_table_remove_all(ids->by_principal);
}

/* Becomes the user (real and effective ids, saved ids stay root's so that it can come back), or
 * comes back to root with no supplementary groups. */
static int become(uid_t uid, gid_t gid, const gid_t *groups, int n_groups) {
        if (setgroups((size_t) n_groups, groups) < 0 || setresgid(gid, gid, 0) < 0 || setresuid(uid, uid, 0) < 0)
                return -errno;
        return 0;
}

static void back_to_root(void) {
        /* Failing to come back would leave the gateway as a user: stop rather than go on. */
        if (setresuid(0, 0, 0) < 0 || setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0)
                g_error("cannot return to root after a connection as a caller's user: %s", g_strerror(errno));
}

/* The socket connected as the user; the authentication on it too (GDBus claims the real uid). */
static GDBusConnection *connect_as(GatewayIdentities *ids, const GatewayCaller *caller, GError **error) {
        g_autoptr(GSocket) gsocket = NULL;
        g_autoptr(GSocketConnection) stream = NULL;
        g_autoptr(GDBusConnection) bus = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        gid_t groups[MAX_GROUPS];
        int n_groups = MAX_GROUPS, fd, r;
        struct passwd *pw = getpwuid(caller->uid);

        if (!ids->socket_path || strlen(ids->socket_path) >= sizeof sa.sun_path) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                            "the bus address is not unix:path=PATH, which the gateway needs to connect as its callers");
                return NULL;
        }
        if (!pw || getgrouplist(pw->pw_name, caller->gid, groups, &n_groups) < 0) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "principal '%s': the groups of user %s are unknown",
                            caller->principal, caller->user);
                return NULL;
        }
        strcpy(sa.sun_path, ids->socket_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "socket: %s", g_strerror(errno));
                return NULL;
        }
        gsocket = g_socket_new_from_fd(fd, error);
        if (!gsocket) {
                close(fd);
                return NULL;
        }
        r = become(caller->uid, caller->gid, groups, n_groups);
        if (r >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                r = -errno;
        if (r >= 0) {
                stream = g_socket_connection_factory_create_connection(gsocket);
                bus = g_dbus_connection_new_sync(G_IO_STREAM(stream), NULL,
                                                 G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                         G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                 NULL, NULL, error);
        }
        back_to_root();
        if (r < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-r), "principal '%s': cannot connect to the bus as %s: %s",
                            caller->principal, caller->user, g_strerror(-r));
                return NULL;
        }
        return g_steal_pointer(&bus);
}

GDBusConnection *gateway_identities_get(GatewayIdentities *ids, const GatewayCaller *caller, GError **error) {
        GDBusConnection *bus = g_hash_table_lookup(ids->by_principal, caller->principal);

        if (bus && !g_dbus_connection_is_closed(bus))
                return bus;
        bus = connect_as(ids, caller, error);
        if (!bus)
                return NULL;
        g_hash_table_replace(ids->by_principal, g_strdup(caller->principal), bus);
        return bus;
}
