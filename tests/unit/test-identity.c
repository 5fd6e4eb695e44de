/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "identity.h"
#include "unit-test.h"

#define USER_PREFIX "/user.slice/user-1000.slice/user@1000.service"

static void assert_cgroup(const char *cgroup, const char *unit, const char *app_id) {
        _cleanup_(freep) char *u = NULL, *a = NULL;

        g_assert_cmpint(identity_parse_cgroup(cgroup, &u, &a), ==, 0);
        g_assert_cmpstr(u, ==, unit);
        g_assert_cmpstr(a, ==, app_id);
}

static void test_cgroup_flatpak(void) {
        assert_cgroup(USER_PREFIX "/app.slice/app-flatpak-org.example.App-1234.scope",
                      "app-flatpak-org.example.App-1234.scope", "org.example.App");
        assert_cgroup(USER_PREFIX "/app.slice/app-flatpak-com.valvesoftware.Steam-98765.scope",
                      "app-flatpak-com.valvesoftware.Steam-98765.scope", "com.valvesoftware.Steam");
}

static void test_cgroup_snap(void) {
        /* Apps started from a session get a scope, snap daemons a system service. */
        assert_cgroup(USER_PREFIX "/app.slice/snap.firefox.firefox-0b3c52f1-8bc4-4bd0-9b3b-8f0c1c1e0a11.scope",
                      "snap.firefox.firefox-0b3c52f1-8bc4-4bd0-9b3b-8f0c1c1e0a11.scope", "firefox");
        assert_cgroup("/user.slice/user-1000.slice/snap.hello-world.hello-world-1234.scope",
                      "snap.hello-world.hello-world-1234.scope", "hello-world");
        assert_cgroup("/system.slice/snap.lxd.daemon.service", "snap.lxd.daemon.service", "lxd");
        assert_cgroup("/system.slice/snap.lxd.service", "snap.lxd.service", NULL);
        assert_cgroup("/system.slice/snap..x.service", "snap..x.service", NULL);
}

/* Found by tests/fuzz (fuzz-cgroup): a unit named by a prefix and a suffix that overlap, such as
 * "snap.scope" (a user can name a scope so: systemd-run --user --scope --unit=snap), made the app
 * id's span negative and memchr() read past the name. */
static void test_cgroup_prefix_only(void) {
        assert_cgroup("/system.slice/snap.scope", "snap.scope", NULL);
        assert_cgroup("/system.slice/snap.service", "snap.service", NULL);
        assert_cgroup(USER_PREFIX "/snap.scope", "snap.scope", NULL);
        assert_cgroup("/system.slice/app-.scope", "app-.scope", NULL);
        assert_cgroup("/system.slice/app-.service", "app-.service", NULL);
        assert_cgroup("/system.slice/snap.x.scope", "snap.x.scope", NULL);
}

static void test_cgroup_desktop(void) {
        assert_cgroup(USER_PREFIX "/app.slice/app-gnome-org.gnome.Terminal-12345.scope",
                      "app-gnome-org.gnome.Terminal-12345.scope", "org.gnome.Terminal");
        assert_cgroup(USER_PREFIX "/app.slice/app-gnome-org.gnome.Evolution\\x2dalarm\\x2dnotify@autostart.service",
                      "app-gnome-org.gnome.Evolution\\x2dalarm\\x2dnotify@autostart.service",
                      "org.gnome.Evolution-alarm-notify");
        assert_cgroup(USER_PREFIX "/app.slice/app-kde-org.kde.konsole@0f2a.service",
                      "app-kde-org.kde.konsole@0f2a.service", "org.kde.konsole");
        /* A service without an instance: the rest of the name is the id. */
        assert_cgroup(USER_PREFIX "/app.slice/app-gnome-org.gnome.Calendar.service",
                      "app-gnome-org.gnome.Calendar.service", "org.gnome.Calendar");
        /* A scope needs its random suffix. */
        assert_cgroup(USER_PREFIX "/app.slice/app-gnome-firefox.scope", "app-gnome-firefox.scope", NULL);
        assert_cgroup(USER_PREFIX "/app.slice/app-gnome-1234.scope", "app-gnome-1234.scope", NULL);
}

static void test_cgroup_escaped(void) {
        assert_cgroup(USER_PREFIX "/app.slice/app-flatpak-org.example.My\\x2dApp-99.scope",
                      "app-flatpak-org.example.My\\x2dApp-99.scope", "org.example.My-App");
        assert_cgroup(USER_PREFIX "/app.slice/app-gnome-firefox\\x2desr-1.scope",
                      "app-gnome-firefox\\x2desr-1.scope", "firefox-esr");
        /* An unescaped '-' in the id: the random part is what follows the last one. */
        assert_cgroup(USER_PREFIX "/app.slice/app-gnome-my-app-4242.scope", "app-gnome-my-app-4242.scope", "my-app");
        /* Escapes that would yield control characters, or are broken, give no id. */
        assert_cgroup(USER_PREFIX "/app.slice/app-gnome-bad\\x0aid-1.scope", "app-gnome-bad\\x0aid-1.scope", NULL);
        assert_cgroup(USER_PREFIX "/app.slice/app-gnome-bad\\x00id-1.scope", "app-gnome-bad\\x00id-1.scope", NULL);
        assert_cgroup(USER_PREFIX "/app.slice/app-gnome-bad\\xZZ-1.scope", "app-gnome-bad\\xZZ-1.scope", NULL);
        assert_cgroup(USER_PREFIX "/app.slice/app-gnome-bad\\x2-1.scope", "app-gnome-bad\\x2-1.scope", NULL);
        assert_cgroup(USER_PREFIX "/app.slice/app-gnome-\\xc3\\xa9-1.scope", "app-gnome-\\xc3\\xa9-1.scope", NULL);
}

static void test_cgroup_system_service(void) {
        assert_cgroup("/system.slice/dbus.service", "dbus.service", NULL);
        assert_cgroup("/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service", NULL);
        assert_cgroup("/system.slice/dbus.service/", "dbus.service", NULL);
        assert_cgroup("/init.scope", "init.scope", NULL);
        /* A name that only looks like an app unit is still a plain system unit to us. */
        assert_cgroup("/system.slice/appservice.service", "appservice.service", NULL);
}

static void test_cgroup_user_session(void) {
        assert_cgroup("/user.slice/user-1000.slice/session-2.scope", "session-2.scope", NULL);
        assert_cgroup(USER_PREFIX, "user@1000.service", NULL);
        assert_cgroup(USER_PREFIX "/init.scope", "init.scope", NULL);
        assert_cgroup(USER_PREFIX "/session.slice/org.gnome.Shell@wayland.service",
                      "org.gnome.Shell@wayland.service", NULL);
        assert_cgroup(USER_PREFIX "/app.slice/app-gnome-org.gnome.Nautilus-77.scope/extra",
                      "app-gnome-org.gnome.Nautilus-77.scope", "org.gnome.Nautilus");
        assert_cgroup("/user.slice/user-0.slice/user@0.service/app.slice/dbus.service", "dbus.service", NULL);
}

static void test_cgroup_delegated(void) {
        /* Below its unit a process may create and name cgroups itself: those names must not be
         * believed, or any service could pose as a Flatpak app. */
        assert_cgroup("/system.slice/foo.service/app-flatpak-org.bank.App-1.scope", "foo.service", NULL);
        assert_cgroup(USER_PREFIX "/app.slice/app-flatpak-org.evil.App-1.scope/app-flatpak-org.bank.App-2.scope",
                      "app-flatpak-org.evil.App-1.scope", "org.evil.App");
        assert_cgroup(USER_PREFIX "/app.slice/app-flatpak-org.a.A-1.scope/payload/snap.x.y.service",
                      "app-flatpak-org.a.A-1.scope", "org.a.A");
        /* The per-user manager is looked into only once. */
        assert_cgroup(USER_PREFIX "/user@1001.service/app-gnome-x-1.scope", "user@1001.service", NULL);
}

static void test_cgroup_root_and_garbage(void) {
        assert_cgroup("/", NULL, NULL);
        assert_cgroup("", NULL, NULL);
        assert_cgroup(NULL, NULL, NULL);
        assert_cgroup("///", NULL, NULL);
        assert_cgroup("garbage", NULL, NULL);
        assert_cgroup("system.slice/dbus.service", NULL, NULL);
        assert_cgroup("/user.slice/user-1000.slice", NULL, NULL);
        assert_cgroup("/foo/bar.service", NULL, NULL);
        assert_cgroup("/system.slice/bad name.service", NULL, NULL);
        assert_cgroup("/system.slice/.service", NULL, NULL);
        assert_cgroup("/system.slice/x.socket", NULL, NULL);
        assert_cgroup("/system.slice/\xff\xfe.service", NULL, NULL);
        assert_cgroup("/app-flatpak--1.scope", "app-flatpak--1.scope", NULL);
        assert_cgroup("/app-.scope", "app-.scope", NULL);
        assert_cgroup("/app--x-1.scope", "app--x-1.scope", NULL);
        assert_cgroup("/app-gnome-x@.service", "app-gnome-x@.service", NULL);

        g_assert_cmpint(identity_parse_cgroup("/", NULL, NULL), ==, -EINVAL);
}

/* Reads back the caller a{sv} written by identity_append(). */
static void read_caller(sd_bus_message *m, uint32_t *uid, uint32_t *gid, uint32_t *pid, char **app_id,
                        char **unit, unsigned *n_keys) {
        const char *key;

        *n_keys = 0;
        g_assert_cmpint(sd_bus_message_enter_container(m, 'a', "{sv}"), >, 0);
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                const char *s;

                g_assert_cmpint(sd_bus_message_read(m, "s", &key), >, 0);
                if (strcmp(key, "uid") == 0)
                        g_assert_cmpint(sd_bus_message_read(m, "v", "u", uid), >, 0);
                else if (strcmp(key, "gid") == 0)
                        g_assert_cmpint(sd_bus_message_read(m, "v", "u", gid), >, 0);
                else if (strcmp(key, "pid") == 0)
                        g_assert_cmpint(sd_bus_message_read(m, "v", "u", pid), >, 0);
                else if (strcmp(key, "app-id") == 0) {
                        g_assert_cmpint(sd_bus_message_read(m, "v", "s", &s), >, 0);
                        *app_id = g_strdup(s);
                } else if (strcmp(key, "unit") == 0) {
                        g_assert_cmpint(sd_bus_message_read(m, "v", "s", &s), >, 0);
                        *unit = g_strdup(s);
                } else
                        g_assert_not_reached();
                (*n_keys)++;
                g_assert_cmpint(sd_bus_message_exit_container(m), >, 0);
        }
        g_assert_cmpint(sd_bus_message_exit_container(m), >, 0);
}

static void test_append(void) {
        BusPair bus;
        Identity full = {
                .uid = 1000, .gid = 1001, .pid = 4242,
                .app_id = (char *) "org.example.App",
                .unit = (char *) "app-flatpak-org.example.App-1.scope",
        };
        Identity bare = { .uid = 0, .gid = 0, .pid = 1 };
        g_autofree char *app_id = NULL, *unit = NULL;
        uint32_t uid = 7, gid = 7, pid = 7;
        unsigned n;
        sd_bus_message *m;

        ASSERT_OR_RETURN(bus_pair_open(&bus) >= 0);

        m = bus_pair_new_message(&bus);
        g_assert_cmpint(identity_append(m, &full), >=, 0);
        g_assert_cmpint(identity_append(m, &bare), >=, 0);
        g_assert_cmpint(message_seal_for_reading(m), >=, 0);
        g_assert_cmpstr(sd_bus_message_get_signature(m, 1), ==, "a{sv}a{sv}");

        read_caller(m, &uid, &gid, &pid, &app_id, &unit, &n);
        g_assert_cmpuint(n, ==, 5);
        g_assert_cmpuint(uid, ==, 1000);
        g_assert_cmpuint(gid, ==, 1001);
        g_assert_cmpuint(pid, ==, 4242);
        g_assert_cmpstr(app_id, ==, "org.example.App");
        g_assert_cmpstr(unit, ==, "app-flatpak-org.example.App-1.scope");

        g_clear_pointer(&app_id, g_free);
        g_clear_pointer(&unit, g_free);
        read_caller(m, &uid, &gid, &pid, &app_id, &unit, &n);
        /* Unknown app id and unit are left out, not sent as "". */
        g_assert_cmpuint(n, ==, 3);
        g_assert_cmpuint(uid, ==, 0);
        g_assert_cmpuint(gid, ==, 0);
        g_assert_cmpuint(pid, ==, 1);
        g_assert_null(app_id);
        g_assert_null(unit);

        sd_bus_message_unref(m);
        bus_pair_close(&bus);
}

/* The keys of the a{sv} in the variant at m's position, in order, with their values when strings:
 * "key=value other ". */
static char *read_string_keys(sd_bus_message *m) {
        GString *out = g_string_new(NULL);
        const char *key, *contents, *s;
        char type;

        g_assert_cmpint(sd_bus_message_enter_container(m, 'v', "a{sv}"), >, 0);
        g_assert_cmpint(sd_bus_message_enter_container(m, 'a', "{sv}"), >, 0);
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                g_assert_cmpint(sd_bus_message_read(m, "s", &key), >, 0);
                g_assert_cmpint(sd_bus_message_peek_type(m, &type, &contents), >, 0);
                if (strcmp(contents, "s") == 0) {
                        g_assert_cmpint(sd_bus_message_read(m, "v", "s", &s), >, 0);
                        g_string_append_printf(out, "%s=%s ", key, s);
                } else {
                        g_assert_cmpint(sd_bus_message_skip(m, "v"), >, 0);
                        g_string_append_printf(out, "%s ", key);
                }
                g_assert_cmpint(sd_bus_message_exit_container(m), >, 0);
        }
        g_assert_cmpint(sd_bus_message_exit_container(m), >, 0);
        g_assert_cmpint(sd_bus_message_exit_container(m), >, 0);
        return g_string_free(out, false);
}

/* The "remote" a{sv} a bridge gives: read and checked, appended to a caller, copied. */
static void test_remote(void) {
        _cleanup_(remote_caller_freep) RemoteCaller *rc = NULL, *copy = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(node_target_freep) NodeTarget *target = NULL;
        Identity id = { .uid = 7, .gid = 7, .pid = 1 };
        const char *key;
        unsigned n = 0;
        BusPair bus;
        sd_bus_message *m, *out;

        ASSERT_OR_RETURN(bus_pair_open(&bus) >= 0);

        m = bus_pair_new_message(&bus);
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 3, "principal", "s", "node:B", "uid", "u", 1000,
                                              "unit", "s", "x.service"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "uid", "u", 1), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 2, "principal", "s", "cloud", "gid", "s", "0"), >=, 0);
        g_assert_cmpint(message_seal_for_reading(m), >=, 0);

        g_assert_cmpint(remote_caller_read(m, "remote", &rc, &error), >=, 0);
        ASSERT_OR_RETURN(rc);
        g_assert_cmpstr(rc->principal, ==, "node:B");
        g_assert_true(rc->has_uid && rc->uid == 1000 && !rc->has_gid && !rc->has_pid);
        g_assert_cmpstr(rc->unit, ==, "x.service");
        g_assert_null(rc->node);
        g_assert_null(rc->app_id);

        g_assert_cmpint(remote_caller_read(m, "remote", &copy, &error), <, 0);
        g_assert_cmpstr(error.name, ==, SD_BUS_ERROR_INVALID_ARGS);
        g_assert_nonnull(strstr(error.message, "'principal' is required"));
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);

        g_assert_cmpint(remote_caller_copy(rc, &copy), ==, 0);
        ASSERT_OR_RETURN(copy);
        g_assert_true(copy->principal != rc->principal);
        g_assert_cmpstr(copy->unit, ==, "x.service");
        g_assert_cmpint(node_target_new("B", "com.example.echo", NULL, &target), ==, 0);

        /* In the caller a{sv}: "remote" with the keys given, "target" with all three. */
        id.remote = copy;
        id.target = target;
        out = bus_pair_new_message(&bus);
        g_assert_cmpint(identity_append(out, &id), >=, 0);
        g_assert_cmpint(message_seal_for_reading(out), >=, 0);
        g_assert_cmpint(sd_bus_message_enter_container(out, 'a', "{sv}"), >, 0);
        while (sd_bus_message_enter_container(out, 'e', "sv") > 0) {
                g_assert_cmpint(sd_bus_message_read(out, "s", &key), >, 0);
                if (strcmp(key, "remote") == 0 || strcmp(key, "target") == 0) {
                        g_autofree char *keys = read_string_keys(out);
                        g_assert_cmpstr(keys, ==, strcmp(key, "remote") == 0 ? "principal=node:B uid unit=x.service "
                                                                             : "node=B name=com.example.echo provider= ");
                        n++;
                } else
                        g_assert_cmpint(sd_bus_message_skip(out, "v"), >, 0);
                g_assert_cmpint(sd_bus_message_exit_container(out), >, 0);
        }
        g_assert_cmpuint(n, ==, 2);
        sd_bus_message_unref(out);
        copy = NULL;
        target = NULL;
        identity_done(&id);

        g_assert_true(node_name_is_valid("node-a.example_1"));
        g_assert_false(node_name_is_valid(""));
        g_assert_false(node_name_is_valid("a/b"));
        g_assert_false(node_name_is_valid("a b"));
        bus_pair_close(&bus);
}

static void test_copy(void) {
        gid_t groups[] = { 4, 24, 100 };
        Identity src = {
                .uid = 1000, .gid = 1000, .pid = 99,
                .groups = groups, .n_groups = G_N_ELEMENTS(groups),
                .app_id = (char *) "org.example.App", .unit = (char *) "x.scope",
        };
        Identity dst = {}, empty = {}, dst2 = {};

        g_assert_cmpint(identity_copy(&src, &dst), ==, 0);
        g_assert_cmpuint(dst.uid, ==, 1000);
        g_assert_cmpuint(dst.pid, ==, 99);
        g_assert_cmpuint(dst.n_groups, ==, 3);
        g_assert_true(dst.groups != groups);
        ASSERT_OR_RETURN(dst.groups);
        g_assert_cmpuint(dst.groups[2], ==, 100);
        g_assert_true(dst.app_id != src.app_id);
        g_assert_cmpstr(dst.app_id, ==, "org.example.App");
        g_assert_cmpstr(dst.unit, ==, "x.scope");
        identity_done(&dst);
        g_assert_null(dst.groups);
        g_assert_null(dst.app_id);

        g_assert_cmpint(identity_copy(&empty, &dst2), ==, 0);
        g_assert_null(dst2.groups);
        g_assert_null(dst2.app_id);
        g_assert_null(dst2.unit);
        identity_done(&dst2);
        identity_done(NULL);
}

/* A private dbus-daemon, the kind of bus the broker runs on (no kdbus: the credentials come from
 * GetConnectionCredentials plus /proc). */
typedef struct TestBus {
        char *dir;
        GPid pid;
        char *address;
} TestBus;

static bool test_bus_start(TestBus *b) {
        const char *daemon = g_getenv("DBUS_DAEMON");
        g_autoptr(GError) error = NULL;
        g_autofree char *config = NULL, *config_path = NULL, *line = NULL;
        g_autoptr(GIOChannel) channel = NULL;
        int out_fd = -1;

        *b = (TestBus) {};
        if (!daemon)
                daemon = "dbus-daemon";

        b->dir = make_temp_dir();
        /* Reachable by the unprivileged child of test_from_message_other_user(). */
        g_assert_cmpint(chmod(b->dir, 0755), ==, 0);
        config = g_strdup_printf("<busconfig>\n"
                                 "  <type>session</type>\n"
                                 "  <listen>unix:path=%s/bus</listen>\n"
                                 "  <auth>EXTERNAL</auth>\n"
                                 "  <policy context=\"default\">\n"
                                 "    <allow user=\"*\"/>\n"
                                 "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                                 "    <allow eavesdrop=\"true\"/>\n"
                                 "    <allow own=\"*\"/>\n"
                                 "  </policy>\n"
                                 "</busconfig>\n", b->dir);
        config_path = write_file(b->dir, "bus.conf", config, 0644);

        const char *argv[] = { daemon, "--nofork", "--print-address", "--config-file", config_path, NULL };
        if (!g_spawn_async_with_pipes(NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                                      NULL, NULL, &b->pid, NULL, &out_fd, NULL, &error)) {
                g_test_skip_printf("cannot run %s: %s", daemon, error->message);
                return false;
        }

        channel = g_io_channel_unix_new(out_fd);
        g_io_channel_set_close_on_unref(channel, TRUE);
        if (g_io_channel_read_line(channel, &line, NULL, NULL, &error) != G_IO_STATUS_NORMAL || !line) {
                g_test_fail_printf("dbus-daemon printed no address: %s", error ? error->message : "EOF");
                return false;
        }
        b->address = g_strstrip(g_steal_pointer(&line));
        return true;
}

static void test_bus_stop(TestBus *b) {
        if (b->pid > 0) {
                kill(b->pid, SIGTERM);
                waitpid(b->pid, NULL, 0);
                g_spawn_close_pid(b->pid);
        }
        remove_tree(b->dir);
        g_free(b->dir);
        g_free(b->address);
        *b = (TestBus) {};
}

static sd_bus *connect_to(const char *address) {
        sd_bus *bus = NULL;

        if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, address) < 0 || sd_bus_set_bus_client(bus, 1) < 0 ||
            sd_bus_start(bus) < 0)
                return sd_bus_unref(bus);
        return bus;
}

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        sd_bus_message **received = userdata;

        if (sd_bus_message_is_method_call(m, "io.appservice1.Test", "Hello") && !*received) {
                *received = sd_bus_message_ref(m);
                return 1;
        }
        return 0;
}

/* Waits on `receiver` until it has the Hello call. */
static sd_bus_message *wait_for_hello(sd_bus *receiver) {
        sd_bus_message *received = NULL;
        sd_bus_slot *slot = NULL;

        g_assert_cmpint(sd_bus_add_filter(receiver, &slot, on_message, &received), >=, 0);
        for (unsigned i = 0; i < 500 && !received; i++) {
                int r = sd_bus_process(receiver, NULL);

                g_assert_cmpint(r, >=, 0);
                if (r == 0)
                        (void) sd_bus_wait(receiver, 10 * 1000);
        }
        sd_bus_slot_unref(slot);
        return received;
}

/* The cgroup systemd tracks `pid` in: the name=systemd line on legacy and hybrid hierarchies,
 * "0::" on the unified one. */
static char *systemd_cgroup_of(pid_t pid) {
        g_autofree char *path = g_strdup_printf("/proc/%d/cgroup", (int) pid), *text = NULL;
        char *line;

        if (!g_file_get_contents(path, &text, NULL, NULL))
                return NULL;
        if ((line = strstr(text, ":name=systemd:")))
                line += strlen(":name=systemd:");
        else if ((line = strstr(text, "0::")))
                line += strlen("0::");
        else
                return NULL;
        return g_strndup(line, strcspn(line, "\n"));
}

static void assert_identity_matches_cgroup(const Identity *id, pid_t pid) {
        _cleanup_(freep) char *unit = NULL, *app_id = NULL;
        g_autofree char *line = systemd_cgroup_of(pid);

        if (!line) {
                g_test_message("no systemd cgroup for %d, not checking unit", (int) pid);
                return;
        }
        g_assert_cmpint(identity_parse_cgroup(line, &unit, &app_id), ==, 0);
        g_test_message("cgroup %s: unit %s, app id %s", line, unit ?: "(none)", app_id ?: "(none)");
        g_assert_cmpstr(id->unit, ==, unit);
        g_assert_cmpstr(id->app_id, ==, app_id);
}

static void test_from_message_self(void) {
        TestBus b;
        sd_bus *sender = NULL, *receiver = NULL;
        sd_bus_message *received = NULL;
        const char *receiver_name = NULL;
        Identity id = {};
        gid_t groups[256];
        int n;

        if (!test_bus_start(&b))
                goto out;

        sender = connect_to(b.address);
        receiver = connect_to(b.address);
        ASSERT_OR_GOTO(sender && receiver, out);
        g_assert_cmpint(sd_bus_get_unique_name(receiver, &receiver_name), >=, 0);

        g_assert_cmpint(sd_bus_call_method_async(sender, NULL, receiver_name, "/", "io.appservice1.Test", "Hello",
                                                 NULL, NULL, ""), >=, 0);
        g_assert_cmpint(sd_bus_flush(sender), >=, 0);
        received = wait_for_hello(receiver);
        ASSERT_OR_GOTO(received, out);

        g_assert_cmpint(identity_from_message(received, &id), ==, 0);
        g_assert_cmpuint(id.uid, ==, geteuid());
        g_assert_cmpuint(id.gid, ==, getegid());
        g_assert_cmpint(id.pid, ==, getpid());

        /* Every supplementary group of ours must be known, for AllowGroups=. */
        n = getgroups(G_N_ELEMENTS(groups), groups);
        g_assert_cmpint(n, >=, 0);
        for (int i = 0; i < n; i++) {
                bool found = false;

                for (size_t j = 0; j < id.n_groups; j++)
                        found = found || id.groups[j] == groups[i];
                g_assert_true(found);
        }
        assert_identity_matches_cgroup(&id, getpid());

out:
        identity_done(&id);
        sd_bus_message_unref(received);
        sd_bus_flush_close_unref(sender);
        sd_bus_flush_close_unref(receiver);
        test_bus_stop(&b);
}

/* The caller is a child that dropped to nobody/nogroup: the broker must see that uid, not ours. */
static void test_from_message_other_user(void) {
        TestBus b;
        sd_bus *receiver = NULL;
        sd_bus_message *received = NULL;
        const char *receiver_name = NULL;
        Identity id = {};
        pid_t child = 0;

        if (geteuid() != 0) {
                g_test_skip("needs root to run a caller under another uid");
                return;
        }
        if (!test_bus_start(&b))
                goto out;

        receiver = connect_to(b.address);
        ASSERT_OR_GOTO(receiver, out);
        g_assert_cmpint(sd_bus_get_unique_name(receiver, &receiver_name), >=, 0);

        child = fork();
        g_assert_cmpint(child, >=, 0);
        if (child == 0) {
                gid_t extra = 4242;
                sd_bus *sender;

                if (setgroups(1, &extra) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(1);
                sender = connect_to(b.address);
                if (!sender)
                        _exit(2);
                if (sd_bus_call_method_async(sender, NULL, receiver_name, "/", "io.appservice1.Test", "Hello",
                                             NULL, NULL, "") < 0 || sd_bus_flush(sender) < 0)
                        _exit(3);
                /* Stay alive (and connected) until the parent has looked. */
                pause();
                _exit(0);
        }

        received = wait_for_hello(receiver);
        ASSERT_OR_GOTO(received, out);
        g_assert_cmpint(identity_from_message(received, &id), ==, 0);
        g_assert_cmpuint(id.uid, ==, 65534);
        g_assert_cmpuint(id.gid, ==, 65534);
        g_assert_cmpint(id.pid, ==, child);
        g_assert_cmpuint(id.n_groups, >=, 1);
        assert_identity_matches_cgroup(&id, child);

out:
        if (child > 0) {
                kill(child, SIGKILL);
                waitpid(child, NULL, 0);
        }
        identity_done(&id);
        sd_bus_message_unref(received);
        sd_bus_flush_close_unref(receiver);
        test_bus_stop(&b);
}

/* The hierarchies a process may be tracked in: legacy/hybrid name=systemd, hybrid unified, or a
 * unified /sys/fs/cgroup. */
static const char *const cgroup_roots[] = {
        "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup",
};

/* Moves `pid` into cgroup `path` (relative to each root) in every hierarchy that takes it. Returns
 * how many did. */
static unsigned move_to_cgroup(pid_t pid, const char *path) {
        unsigned n = 0;

        for (size_t i = 0; i < G_N_ELEMENTS(cgroup_roots); i++) {
                g_autofree char *dir = g_build_filename(cgroup_roots[i], path, NULL);
                g_autofree char *procs = g_build_filename(dir, "cgroup.procs", NULL);
                g_autofree char *pid_text = g_strdup_printf("%d\n", (int) pid);
                g_autofree char *probe = g_build_filename(cgroup_roots[i], "cgroup.procs", NULL);
                FILE *f;

                if (access(probe, W_OK) < 0 || g_mkdir_with_parents(dir, 0755) < 0)
                        continue;
                f = fopen(procs, "we");
                if (!f)
                        continue;
                if (fputs(pid_text, f) >= 0 && fflush(f) == 0)
                        n++;
                fclose(f);
        }
        return n;
}

static void remove_cgroup(const char *path) {
        for (size_t i = 0; i < G_N_ELEMENTS(cgroup_roots); i++) {
                g_autofree char *dir = g_build_filename(cgroup_roots[i], path, NULL);
                g_autofree char *parent = g_path_get_dirname(dir);

                (void) rmdir(dir);
                (void) rmdir(parent);
        }
}

/* End to end through a real bus and /proc: a caller inside a Flatpak-style scope is reported
 * with that scope as its unit and the Flatpak id as its app id. */
static void test_from_message_app_scope(void) {
        g_autofree char *scope = NULL, *cgroup = NULL, *actual = NULL;
        TestBus b;
        sd_bus *receiver = NULL;
        sd_bus_message *received = NULL;
        const char *receiver_name = NULL;
        Identity id = {};
        pid_t child = 0;
        int go[2] = { -1, -1 };
        char c = 0;

        if (geteuid() != 0) {
                g_test_skip("needs root to create cgroups");
                return;
        }
        if (!test_bus_start(&b))
                goto out;
        receiver = connect_to(b.address);
        ASSERT_OR_GOTO(receiver, out);
        g_assert_cmpint(sd_bus_get_unique_name(receiver, &receiver_name), >=, 0);
        g_assert_cmpint(pipe2(go, O_CLOEXEC), ==, 0);

        child = fork();
        g_assert_cmpint(child, >=, 0);
        if (child == 0) {
                sd_bus *sender;

                /* Connect only once the parent has moved us. */
                close(go[1]);
                if (read(go[0], &c, 1) != 1)
                        _exit(1);
                sender = connect_to(b.address);
                if (!sender)
                        _exit(2);
                if (sd_bus_call_method_async(sender, NULL, receiver_name, "/", "io.appservice1.Test", "Hello",
                                             NULL, NULL, "") < 0 || sd_bus_flush(sender) < 0)
                        _exit(3);
                pause();
                _exit(0);
        }
        close(go[0]);
        go[0] = -1;

        scope = g_strdup_printf("app-flatpak-org.example.Unit\\x2dTest-%d.scope", (int) child);
        cgroup = g_strdup_printf("/appservice-test.slice/%s", scope);
        actual = (move_to_cgroup(child, cgroup), systemd_cgroup_of(child));
        if (!actual || strcmp(actual, cgroup) != 0) {
                g_test_skip_printf("cannot move a process into cgroup %s here", cgroup);
                goto out;
        }
        g_assert_cmpint(write(go[1], "x", 1), ==, 1);

        received = wait_for_hello(receiver);
        ASSERT_OR_GOTO(received, out);
        g_assert_cmpint(identity_from_message(received, &id), ==, 0);
        g_assert_cmpint(id.pid, ==, child);
        g_assert_cmpstr(id.unit, ==, scope);
        g_assert_cmpstr(id.app_id, ==, "org.example.Unit-Test");

out:
        if (go[0] >= 0)
                close(go[0]);
        if (go[1] >= 0)
                close(go[1]);
        if (child > 0) {
                kill(child, SIGKILL);
                waitpid(child, NULL, 0);
        }
        if (cgroup)
                remove_cgroup(cgroup);
        identity_done(&id);
        sd_bus_message_unref(received);
        sd_bus_flush_close_unref(receiver);
        test_bus_stop(&b);
}

int main(int argc, char *argv[]) {
        unit_test_init(&argc, &argv);

        g_test_add_func("/identity/cgroup/flatpak", test_cgroup_flatpak);
        g_test_add_func("/identity/cgroup/snap", test_cgroup_snap);
        g_test_add_func("/identity/cgroup/prefix-only", test_cgroup_prefix_only);
        g_test_add_func("/identity/cgroup/desktop", test_cgroup_desktop);
        g_test_add_func("/identity/cgroup/escaped", test_cgroup_escaped);
        g_test_add_func("/identity/cgroup/system-service", test_cgroup_system_service);
        g_test_add_func("/identity/cgroup/user-session", test_cgroup_user_session);
        g_test_add_func("/identity/cgroup/delegated-subtree", test_cgroup_delegated);
        g_test_add_func("/identity/cgroup/root-and-garbage", test_cgroup_root_and_garbage);
        g_test_add_func("/identity/append", test_append);
        g_test_add_func("/identity/copy", test_copy);
        g_test_add_func("/identity/remote", test_remote);
        g_test_add_func("/identity/from-message/self", test_from_message_self);
        g_test_add_func("/identity/from-message/other-user", test_from_message_other_user);
        g_test_add_func("/identity/from-message/app-scope", test_from_message_app_scope);

        return g_test_run();
}
