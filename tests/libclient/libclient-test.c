/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "libclient-test.h"

#define BUS_NAME "io.appservice1"
#define MANAGER_PATH "/io/appservice1"
#define MANAGER_IFACE "io.appservice1.Manager"
#define SERVICE_IFACE "io.appservice1.Service"

/* Where things are: meson passes them in the environment; the compile-time values are the same
 * paths, for running a test program by hand. */
static const char *path_from_env(const char *variable, const char *fallback) {
        const char *value = g_getenv(variable);

        return value && *value ? value : fallback;
}

static const char *appserviced_path(void) {
        return path_from_env("APPSERVICED", LT_APPSERVICED);
}

static const char *dbus_daemon_path(void) {
        return path_from_env("DBUS_DAEMON", LT_DBUS_DAEMON);
}

static const char *source_root(void) {
        return path_from_env("APPSERVICE_SOURCE_ROOT", LT_SOURCE_ROOT);
}

const char *lt_provider_helper_path(void) {
        return path_from_env("APPSERVICE_PROVIDER_HELPER", LT_PROVIDER_HELPER);
}

/* A warning or critical (from the library, GLib or the test) fails the case that caused it, and
 * the program goes on with the next case instead of aborting: every case stays one TAP line. */
static GLogWriterOutput log_writer_cb(GLogLevelFlags log_level, const GLogField *fields, gsize n_fields,
                                      gpointer user_data) {
        if (log_level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL)) {
                const char *domain = "**", *message = "";

                for (gsize i = 0; i < n_fields; i++) {
                        if (g_str_equal(fields[i].key, "GLIB_DOMAIN") && fields[i].length < 0)
                                domain = fields[i].value;
                        else if (g_str_equal(fields[i].key, "MESSAGE") && fields[i].length < 0)
                                message = fields[i].value;
                }
                lt_fail("%s-%s: %s", domain, (log_level & G_LOG_LEVEL_CRITICAL) ? "CRITICAL" : "WARNING", message);
        }
        return g_log_writer_default(log_level, fields, n_fields, user_data);
}

void lt_init(int *argc, char ***argv) {
        g_test_init(argc, argv, NULL);
        g_test_set_nonfatal_assertions();
        g_log_set_always_fatal(G_LOG_FATAL_MASK);
        g_log_set_writer_func(log_writer_cb, NULL, NULL);
        /* Nothing of the host's buses: every case has its own, passed explicitly. The default
         * bus of this process (objects made without one) leads nowhere. */
        g_unsetenv("DBUS_SESSION_BUS_ADDRESS");
        g_setenv("DBUS_SYSTEM_BUS_ADDRESS", LT_NO_BUS_ADDRESS, TRUE);
        g_unsetenv("APPSERVICE_BUS");
        /* A helper that dies must not take the test with it. */
        signal(SIGPIPE, SIG_IGN);
}

void lt_fail(const char *format, ...) {
        g_autofree char *message = NULL;
        va_list ap;

        va_start(ap, format);
        message = g_strdup_vprintf(format, ap);
        va_end(ap);
        if (g_test_failed())
                g_test_message("also: %s", message);
        else
                g_test_fail_printf("%s", message);
}

guint lt_ms(guint ms) {
        static double scale = 0;

        if (scale == 0) {
                const char *s = g_getenv("APPSERVICE_TEST_TIME_SCALE");
                const char *wrapper = g_getenv("APPSERVICED_WRAPPER");

                scale = s && *s ? g_ascii_strtod(s, NULL) : 0;
                if (scale <= 0)
                        scale = wrapper && *wrapper ? 10 : 1;
        }
        return (guint) (ms * scale);
}

/* ---- waiting ----------------------------------------------------------------------------------- */

static gboolean wakeup_cb(gpointer user_data) {
        return G_SOURCE_CONTINUE;
}

void lt_deadline_begin(LtDeadline *d, guint ms) {
        d->end_us = g_get_monotonic_time() + (gint64) ms * 1000;
        /* Makes the blocking iteration return at the deadline even when nothing else happens. */
        d->wakeup = g_timeout_source_new(ms);
        g_source_set_callback(d->wakeup, wakeup_cb, NULL, NULL);
        g_source_attach(d->wakeup, NULL);
}

gboolean lt_deadline_step(LtDeadline *d) {
        if (g_get_monotonic_time() >= d->end_us)
                return FALSE;
        g_main_context_iteration(NULL, TRUE);
        return TRUE;
}

void lt_deadline_end(LtDeadline *d) {
        if (d->wakeup) {
                g_source_destroy(d->wakeup);
                g_source_unref(d->wakeup);
                d->wakeup = NULL;
        }
}

void lt_result_cb(GObject *source, GAsyncResult *result, gpointer user_data) {
        LtResult *r = user_data;

        g_assert_null(r->result);
        r->result = g_object_ref(result);
        r->source = source ? g_object_ref(source) : NULL;
        r->done_us = g_get_monotonic_time();
}

GAsyncResult *lt_result_wait(LtResult *r, guint ms, const char *what) {
        if (!LT_WAIT(r->result != NULL, ms, what))
                return NULL;
        return r->result;
}

void lt_result_clear(LtResult *r) {
        g_clear_object(&r->result);
        g_clear_object(&r->source);
        r->done_us = 0;
}

/* ---- files ------------------------------------------------------------------------------------- */

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        if (remove(path) < 0 && errno != ENOENT)
                g_printerr("cannot remove %s: %s\n", path, g_strerror(errno));
        return 0;
}

static void remove_tree(const char *path) {
        if (path)
                nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *read_text(const char *path) {
        char *text = NULL;

        if (!g_file_get_contents(path, &text, NULL, NULL))
                return g_strdup("");
        return text;
}

/* ---- spawning ---------------------------------------------------------------------------------- */

static char **environment_for_bus(LtBus *b) {
        char **env = g_get_environ();

        env = g_environ_unsetenv(env, "DBUS_SESSION_BUS_ADDRESS");
        env = g_environ_unsetenv(env, "DBUS_SYSTEM_BUS_ADDRESS");
        if (b && b->address)
                env = g_environ_setenv(env, "DBUS_SYSTEM_BUS_ADDRESS", b->address, TRUE);
        return env;
}

/* In every child, between fork and exec: if the test process dies (a crash, meson's timeout), the
 * child gets SIGTERM, so that no bus, daemon or helper outlives its test. */
static void child_setup(gpointer user_data) {
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Reads one line from `fd` within `ms`. */
static char *read_line_with_deadline(int fd, guint ms) {
        GString *line = g_string_new(NULL);
        gint64 end = g_get_monotonic_time() + (gint64) ms * 1000;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                gint64 left = (end - g_get_monotonic_time()) / 1000;
                char c;
                ssize_t n;

                if (left <= 0)
                        break;
                if (poll(&p, 1, (int) left) <= 0)
                        continue;
                n = read(fd, &c, 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (c == '\n')
                        return g_string_free(line, FALSE);
                g_string_append_c(line, c);
        }
        g_string_free(line, TRUE);
        return NULL;
}

/* ---- the bus ----------------------------------------------------------------------------------- */

static gboolean write_bus_config(LtBus *b, const char *path) {
        g_autofree char *system_policy = g_build_filename(source_root(), "tests", "system-bus-policy.conf", NULL);
        g_autofree char *project_policy = g_build_filename(source_root(), "systemd", "io.appservice1.conf", NULL);
        g_autofree char *text = NULL;
        g_autoptr(GError) error = NULL;

        if (!g_file_test(system_policy, G_FILE_TEST_EXISTS) || !g_file_test(project_policy, G_FILE_TEST_EXISTS)) {
                lt_fail("bus policy files not found under %s (set APPSERVICE_SOURCE_ROOT)",
                                   source_root());
                return FALSE;
        }
        text = g_strdup_printf(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig>\n"
                "  <type>system</type>\n"
                "  <listen>unix:path=%s/system_bus_socket</listen>\n"
                "  <auth>EXTERNAL</auth>\n"
                "  <include>%s</include>\n"
                "  <include>%s</include>\n"
                "</busconfig>\n",
                b->workdir, system_policy, project_policy);
        if (!g_file_set_contents(path, text, -1, &error)) {
                lt_fail("cannot write %s: %s", path, error->message);
                return FALSE;
        }
        return TRUE;
}

static gboolean start_bus(LtBus *b) {
        g_autofree char *config = g_build_filename(b->workdir, "bus.conf", NULL);
        g_autofree char *config_arg = g_strconcat("--config-file=", config, NULL);
        g_autofree char *log_path = g_build_filename(b->workdir, "dbus-daemon.log", NULL);
        const char *argv[] = { dbus_daemon_path(), config_arg, "--nofork", "--nopidfile", "--print-address=1", NULL };
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) env = environment_for_bus(NULL);
        int log_fd, out_fd = -1;
        gboolean ok;

        if (!write_bus_config(b, config))
                return FALSE;
        log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (log_fd < 0) {
                lt_fail("cannot create %s: %s", log_path, g_strerror(errno));
                return FALSE;
        }
        ok = g_spawn_async_with_pipes_and_fds("/", argv, (const char *const *) env, G_SPAWN_DO_NOT_REAP_CHILD,
                                              child_setup, NULL, -1, -1, log_fd, NULL, NULL, 0, &b->bus_pid, NULL,
                                              &out_fd, NULL, &error);
        close(log_fd);
        if (!ok) {
                lt_fail("cannot start %s: %s", argv[0], error->message);
                return FALSE;
        }
        b->address = read_line_with_deadline(out_fd, lt_ms(10000));
        close(out_fd);
        if (!b->address || !*b->address) {
                g_autofree char *log = read_text(log_path);

                lt_fail("dbus-daemon did not print its address:\n%s", log);
                return FALSE;
        }
        b->conn = g_dbus_connection_new_for_address_sync(
                b->address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, NULL, &error);
        if (!b->conn) {
                lt_fail("cannot connect to the test bus %s: %s", b->address, error->message);
                return FALSE;
        }
        g_dbus_connection_set_exit_on_close(b->conn, FALSE);
        return TRUE;
}

LtBus *lt_bus_new(void) {
        g_autoptr(GError) error = NULL;
        LtBus *b;

        if (geteuid() != 0) {
                g_test_skip("the library's integration tests run as root (they act as other uids)");
                return NULL;
        }
        if (!g_file_test(dbus_daemon_path(), G_FILE_TEST_IS_EXECUTABLE)) {
                g_test_skip("dbus-daemon is not installed");
                return NULL;
        }

        b = g_new0(LtBus, 1);
        b->helpers = g_ptr_array_new();
        b->extra_conns = g_ptr_array_new_with_free_func(g_object_unref);
        b->workdir = g_dir_make_tmp("appservice-lib-XXXXXX", &error);
        if (!b->workdir) {
                lt_fail("cannot make a scratch directory: %s", error->message);
                lt_bus_free(b);
                return NULL;
        }
        /* Helpers run as other uids: they must reach the bus socket. */
        g_chmod(b->workdir, 0755);
        b->services_dir = g_build_filename(b->workdir, "services", NULL);
        g_mkdir(b->services_dir, 0755);
        b->daemon_log = g_build_filename(b->workdir, "appserviced.log", NULL);

        if (!start_bus(b)) {
                lt_bus_free(b);
                return NULL;
        }
        return b;
}

/* ---- the daemon -------------------------------------------------------------------------------- */

static void daemon_exited_cb(GPid pid, int wait_status, gpointer user_data) {
        LtBus *b = user_data;

        b->daemon_exited = TRUE;
        b->daemon_wait_status = wait_status;
        b->daemon_watch = 0;
        g_spawn_close_pid(pid);
}

static void name_appeared_cb(GDBusConnection *c, const char *name, const char *owner, gpointer user_data) {
        *(gboolean *) user_data = TRUE;
}

gboolean lt_bus_start_daemon(LtBus *b) {
        g_autofree char *dir_arg = g_strconcat("--services-dir=", b->services_dir, NULL);
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) env = environment_for_bus(b);
        g_auto(GStrv) wrapper = NULL;
        const char *wrapper_line = g_getenv("APPSERVICED_WRAPPER");
        gboolean appeared = FALSE, ok;
        guint watch;
        FILE *log;
        int fd;

        g_assert_cmpint(b->daemon_pid, ==, 0);
        if (!g_file_test(appserviced_path(), G_FILE_TEST_IS_EXECUTABLE)) {
                lt_fail("appserviced not found at %s (build it, or set APPSERVICED)", appserviced_path());
                return FALSE;
        }
        if (wrapper_line && *wrapper_line && !g_shell_parse_argv(wrapper_line, NULL, &wrapper, &error)) {
                lt_fail("APPSERVICED_WRAPPER: %s", error->message);
                return FALSE;
        }
        for (char **w = wrapper; w && *w; w++)
                g_ptr_array_add(argv, g_strdup(*w));
        g_ptr_array_add(argv, g_strdup(appserviced_path()));
        g_ptr_array_add(argv, g_strdup("--system"));
        g_ptr_array_add(argv, g_strdup(dir_arg));
        g_ptr_array_add(argv, g_strdup("--log-level=debug"));
        g_ptr_array_add(argv, NULL);

        log = fopen(b->daemon_log, "ae");
        if (!log) {
                lt_fail("cannot open %s: %s", b->daemon_log, g_strerror(errno));
                return FALSE;
        }
        b->daemon_runs++;
        fprintf(log, "==== run %u\n", b->daemon_runs);
        fflush(log);
        fd = fileno(log);

        ok = g_spawn_async_with_pipes_and_fds("/", (const char *const *) argv->pdata, (const char *const *) env,
                                              G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL |
                                                      G_SPAWN_SEARCH_PATH, child_setup,
                                              NULL, -1, fd, fd, NULL, NULL, 0, &b->daemon_pid, NULL, NULL, NULL, &error);
        fclose(log);
        if (!ok) {
                b->daemon_pid = 0;
                lt_fail("cannot start appserviced: %s", error->message);
                return FALSE;
        }
        b->daemon_exited = FALSE;
        b->daemon_watch = g_child_watch_add(b->daemon_pid, daemon_exited_cb, b);

        watch = g_bus_watch_name_on_connection(b->conn, BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE, name_appeared_cb,
                                               NULL, &appeared, NULL);
        LT_WAIT(appeared || b->daemon_exited, lt_ms(20000), "io.appservice1 on the bus");
        g_bus_unwatch_name(watch);
        if (!appeared) {
                g_autofree char *text = lt_bus_daemon_log(b);

                if (b->daemon_exited)
                        lt_fail("appserviced exited (wait status %d) before owning io.appservice1",
                                           b->daemon_wait_status);
                g_test_message("appserviced log:\n%s", text);
                return FALSE;
        }
        return TRUE;
}

gboolean lt_bus_stop_daemon(LtBus *b) {
        gboolean ok = TRUE;

        if (b->daemon_pid == 0)
                return TRUE;
        if (!b->daemon_exited)
                kill(b->daemon_pid, SIGTERM);
        if (!LT_WAIT(b->daemon_exited, lt_ms(20000), "exit of appserviced after SIGTERM")) {
                kill(b->daemon_pid, SIGKILL);
                LT_RUN_FOR(b->daemon_exited, lt_ms(5000));
                ok = FALSE;
        } else if (!WIFEXITED(b->daemon_wait_status) || WEXITSTATUS(b->daemon_wait_status) != 0) {
                g_autofree char *text = lt_bus_daemon_log(b);

                lt_fail("appserviced did not exit with status 0 on SIGTERM (wait status 0x%x)",
                                   (unsigned) b->daemon_wait_status);
                g_test_message("appserviced log:\n%s", text);
                ok = FALSE;
        }
        if (!b->daemon_exited && b->daemon_watch) {
                g_source_remove(b->daemon_watch);
                b->daemon_watch = 0;
        }
        b->daemon_pid = 0;
        return ok;
}

char *lt_bus_daemon_log(LtBus *b) {
        return read_text(b->daemon_log);
}

void lt_bus_write_definition(LtBus *b, const char *name, mode_t mode, const char *body) {
        g_autofree char *file = g_strconcat(name, ".appservice", NULL);
        g_autofree char *text = NULL;
        g_autofree char *path = g_build_filename(b->services_dir, file, NULL);
        g_autoptr(GError) error = NULL;

        body = body ? body : "";
        text = g_strdup_printf("[App Service]\nName=%s\n%s%s", name,
                               strstr(body, "Provider=") ? "" : "Provider=com.example.TestApp\n", body);
        if (!g_file_set_contents(path, text, -1, &error))
                lt_fail("cannot write %s: %s", path, error->message);
        else if (chown(path, 0, 0) < 0 || chmod(path, mode) < 0)
                lt_fail("cannot set the owner or mode of %s: %s", path, g_strerror(errno));
}

GDBusConnection *lt_bus_connect(LtBus *b) {
        g_autoptr(GError) error = NULL;
        GDBusConnection *c;

        c = g_dbus_connection_new_for_address_sync(
                b->address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                NULL, NULL, &error);
        g_assert_no_error(error);
        if (!c)
                return NULL;
        g_dbus_connection_set_exit_on_close(c, FALSE);
        g_ptr_array_add(b->extra_conns, c);
        return c;
}

gboolean lt_bus_set_service_enabled(LtBus *b, const char *name, gboolean enabled, GError **error) {
        g_autoptr(GVariant) reply = NULL;

        reply = g_dbus_connection_call_sync(b->conn, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "SetServiceEnabled",
                                            g_variant_new("(sb)", name, enabled), NULL, G_DBUS_CALL_FLAGS_NONE,
                                            (int) LT_WAIT_MS, NULL, error);
        return reply != NULL;
}

GVariant *lt_bus_get_manager_property(LtBus *b, const char *property) {
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GError) error = NULL;
        GVariant *value = NULL;

        reply = g_dbus_connection_call_sync(b->conn, BUS_NAME, MANAGER_PATH, "org.freedesktop.DBus.Properties", "Get",
                                            g_variant_new("(ss)", MANAGER_IFACE, property), G_VARIANT_TYPE("(v)"),
                                            G_DBUS_CALL_FLAGS_NONE, (int) LT_WAIT_MS, NULL, &error);
        g_assert_no_error(error);
        if (reply)
                g_variant_get(reply, "(v)", &value);
        return value;
}

/* sd_bus_path_encode(): every byte but [A-Za-z0-9] becomes _xx. */
static char *service_path(const char *name) {
        GString *s = g_string_new("/io/appservice1/service/");

        for (const char *p = name; *p; p++) {
                if (g_ascii_isalnum(*p))
                        g_string_append_c(s, *p);
                else
                        g_string_append_printf(s, "_%02x", (unsigned char) *p);
        }
        return g_string_free(s, FALSE);
}

char *lt_bus_get_service_state(LtBus *b, const char *name) {
        g_autofree char *path = service_path(name);
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) value = NULL;

        reply = g_dbus_connection_call_sync(b->conn, BUS_NAME, path, "org.freedesktop.DBus.Properties", "Get",
                                            g_variant_new("(ss)", SERVICE_IFACE, "State"), G_VARIANT_TYPE("(v)"),
                                            G_DBUS_CALL_FLAGS_NONE, (int) LT_WAIT_MS, NULL, NULL);
        if (!reply)
                return NULL;
        g_variant_get(reply, "(v)", &value);
        return g_variant_dup_string(value, NULL);
}

/* ---- helpers ----------------------------------------------------------------------------------- */

struct LtHelper {
        LtBus *bus;
        char *label;
        GPid pid;
        int stdin_fd;
        int stdout_fd;
        guint stdout_watch;
        guint child_watch;
        GString *partial;
        GPtrArray *lines; /* unconsumed event lines */
        GPtrArray *history; /* every line, for messages */
        gboolean eof;
        gboolean exited;
        int wait_status;
        gboolean exit_expected; /* killed by the test, or its status checked by the test */
};

static void helper_take_line(LtHelper *h, const char *line) {
        g_ptr_array_add(h->lines, g_strdup(line));
        g_ptr_array_add(h->history, g_strdup(line));
        if (g_test_verbose())
                g_test_message("%s: %s", h->label, line);
}

static gboolean helper_stdout_cb(int fd, GIOCondition condition, gpointer user_data) {
        LtHelper *h = user_data;
        char buf[4096];
        ssize_t n;

        n = read(fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return G_SOURCE_CONTINUE;
        if (n <= 0) {
                if (h->partial->len > 0)
                        helper_take_line(h, h->partial->str);
                g_string_truncate(h->partial, 0);
                h->eof = TRUE;
                h->stdout_watch = 0;
                return G_SOURCE_REMOVE;
        }
        for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == '\n') {
                        helper_take_line(h, h->partial->str);
                        g_string_truncate(h->partial, 0);
                } else {
                        g_string_append_c(h->partial, buf[i]);
                }
        }
        return G_SOURCE_CONTINUE;
}

static void helper_exited_cb(GPid pid, int wait_status, gpointer user_data) {
        LtHelper *h = user_data;

        h->exited = TRUE;
        h->wait_status = wait_status;
        h->child_watch = 0;
        g_spawn_close_pid(pid);
}

LtHelper *lt_helper_spawn(LtBus *b, const char *const *args) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) env = environment_for_bus(b);
        LtHelper *h = g_new0(LtHelper, 1);

        g_ptr_array_add(argv, (gpointer) lt_provider_helper_path());
        for (const char *const *a = args; *a; a++)
                g_ptr_array_add(argv, (gpointer) *a);
        g_ptr_array_add(argv, NULL);

        h->bus = b;
        h->label = g_strjoinv(" ", (char **) args);
        h->partial = g_string_new(NULL);
        h->lines = g_ptr_array_new_with_free_func(g_free);
        h->history = g_ptr_array_new_with_free_func(g_free);
        h->stdin_fd = h->stdout_fd = -1;
        g_ptr_array_add(b->helpers, h);

        if (!g_spawn_async_with_pipes_and_fds("/", (const char *const *) argv->pdata, (const char *const *) env,
                                              G_SPAWN_DO_NOT_REAP_CHILD, child_setup, NULL, -1, -1, -1, NULL, NULL,
                                              0, &h->pid, &h->stdin_fd, &h->stdout_fd, NULL, &error)) {
                lt_fail("cannot start %s: %s", lt_provider_helper_path(), error->message);
                h->exited = TRUE;
                h->eof = TRUE;
                return h;
        }
        g_unix_set_fd_nonblocking(h->stdout_fd, TRUE, NULL);
        h->stdout_watch = g_unix_fd_add(h->stdout_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, helper_stdout_cb, h);
        h->child_watch = g_child_watch_add(h->pid, helper_exited_cb, h);
        return h;
}

static char *helper_find_line(LtHelper *h, const char *prefix) {
        for (guint i = 0; i < h->lines->len; i++) {
                const char *line = h->lines->pdata[i];

                if (g_str_has_prefix(line, prefix))
                        return g_ptr_array_steal_index(h->lines, i);
        }
        return NULL;
}

gboolean lt_helper_has_line(LtHelper *h, const char *prefix) {
        for (guint i = 0; i < h->lines->len; i++)
                if (g_str_has_prefix(h->lines->pdata[i], prefix))
                        return TRUE;
        return FALSE;
}

char *lt_helper_wait_line(LtHelper *h, const char *prefix, guint ms) {
        LtDeadline d;
        char *line;

        lt_deadline_begin(&d, ms);
        while (!(line = helper_find_line(h, prefix)) && !(h->eof && h->exited) && lt_deadline_step(&d))
                ;
        lt_deadline_end(&d);
        if (!line) {
                g_autofree char *seen = NULL;

                g_ptr_array_add(h->history, NULL);
                seen = g_strjoinv("\n  ", (char **) h->history->pdata);
                g_ptr_array_remove_index(h->history, h->history->len - 1);
                lt_fail("helper '%s': no line starting with '%s' within %u ms%s; its lines:\n  %s",
                                   h->label, prefix, ms, h->exited ? " (it exited)" : "", seen);
        }
        return line;
}

void lt_helper_forget(LtHelper *h) {
        g_ptr_array_set_size(h->lines, 0);
}

gboolean lt_helper_command(LtHelper *h, const char *command) {
        g_autofree char *line = g_strconcat(command, "\n", NULL);
        size_t len = strlen(line);

        if (h->stdin_fd < 0 || write(h->stdin_fd, line, len) != (ssize_t) len) {
                lt_fail("helper '%s': cannot send command '%s'", h->label, command);
                return FALSE;
        }
        return TRUE;
}

void lt_helper_kill(LtHelper *h, int sig) {
        h->exit_expected = TRUE;
        if (!h->exited && h->pid > 0)
                kill(h->pid, sig);
}

GPid lt_helper_pid(LtHelper *h) {
        return h->pid;
}

int lt_helper_wait_exit(LtHelper *h, guint ms) {
        h->exit_expected = TRUE;
        if (!LT_WAIT(h->exited, ms, "helper exit"))
                return -1;
        return h->wait_status;
}

static void helper_free(LtHelper *h) {
        if (!h->exited && h->pid > 0) {
                /* Closing stdin asks it to quit; SIGTERM then SIGKILL if it does not. */
                if (h->stdin_fd >= 0) {
                        close(h->stdin_fd);
                        h->stdin_fd = -1;
                }
                if (!LT_RUN_FOR(h->exited, lt_ms(10000))) {
                        lt_fail("helper '%s' did not quit when its stdin closed", h->label);
                        h->exit_expected = TRUE;
                        kill(h->pid, SIGTERM);
                        if (!LT_RUN_FOR(h->exited, lt_ms(5000))) {
                                kill(h->pid, SIGKILL);
                                LT_RUN_FOR(h->exited, lt_ms(5000));
                        }
                }
        }
        /* A helper ends with status 0 (under ASan: no leak, no error) unless the test said
         * otherwise. */
        if (h->exited && !h->exit_expected && h->pid > 0 &&
            (!WIFEXITED(h->wait_status) || WEXITSTATUS(h->wait_status) != 0))
                lt_fail("helper '%s' ended with wait status 0x%x", h->label, (unsigned) h->wait_status);
        if (h->child_watch)
                g_source_remove(h->child_watch);
        if (h->stdout_watch)
                g_source_remove(h->stdout_watch);
        if (h->stdin_fd >= 0)
                close(h->stdin_fd);
        if (h->stdout_fd >= 0)
                close(h->stdout_fd);
        g_string_free(h->partial, TRUE);
        g_ptr_array_unref(h->lines);
        g_ptr_array_unref(h->history);
        g_free(h->label);
        g_free(h);
}

LtHelper *lt_helper_start_provider(LtBus *b, const char *name, const char *mode, const char *arg) {
        const char *args[] = { mode, name, arg, NULL };
        LtHelper *h = lt_helper_spawn(b, args);
        g_autofree char *line = lt_helper_wait_line(h, "register ", LT_WAIT_MS);

        if (line && !g_str_equal(line, "register ok"))
                lt_fail("provider helper for %s: %s", name, line);
        return h;
}

/* ---- teardown ---------------------------------------------------------------------------------- */

void lt_bus_free(LtBus *b) {
        if (!b)
                return;
        /* The daemon first: shutting down with live peers is part of what is tested. */
        lt_bus_stop_daemon(b);
        if (g_test_failed() && b->daemon_log) {
                g_autofree char *text = lt_bus_daemon_log(b);

                if (*text)
                        g_test_message("appserviced log:\n%s", text);
        }
        if (b->helpers) {
                for (guint i = 0; i < b->helpers->len; i++)
                        helper_free(b->helpers->pdata[i]);
                g_ptr_array_unref(b->helpers);
        }
        if (b->extra_conns) {
                for (guint i = 0; i < b->extra_conns->len; i++)
                        g_dbus_connection_close_sync(b->extra_conns->pdata[i], NULL, NULL);
                g_ptr_array_unref(b->extra_conns);
        }
        if (b->conn) {
                g_dbus_connection_close_sync(b->conn, NULL, NULL);
                g_object_unref(b->conn);
        }
        if (b->bus_pid > 0) {
                kill(b->bus_pid, SIGTERM);
                waitpid(b->bus_pid, NULL, 0);
                g_spawn_close_pid(b->bus_pid);
        }
        /* Let pending callbacks of closed connections run while their objects still exist. */
        while (g_main_context_iteration(NULL, FALSE))
                ;
        remove_tree(b->workdir);
        g_free(b->workdir);
        g_free(b->services_dir);
        g_free(b->address);
        g_free(b->daemon_log);
        g_free(b);
}

/* ---- signals --------------------------------------------------------------------------------- */

void lt_closed_cb(AppServiceConnection *connection, AppServiceClosedStatus status, gpointer user_data) {
        LtClosed *closed = user_data;

        closed->count++;
        closed->status = status;
}

/* ---- values ------------------------------------------------------------------------------------ */

GVariant *lt_value_set(const char *text) {
        g_autoptr(GError) error = NULL;
        /* A non-floating reference already: sinking it would add one that nobody drops. */
        GVariant *v = g_variant_parse(G_VARIANT_TYPE_VARDICT, text, NULL, NULL, &error);

        g_assert_no_error(error);
        return v;
}

gboolean lt_value_set_equal(GVariant *a, GVariant *b) {
        if (a && b && g_variant_equal(a, b))
                return TRUE;
        {
                g_autofree char *ta = a ? g_variant_print(a, TRUE) : g_strdup("(null)");
                g_autofree char *tb = b ? g_variant_print(b, TRUE) : g_strdup("(null)");

                g_test_message("ValueSets differ:\n  %s\n  %s", ta, tb);
        }
        return FALSE;
}

AppServiceConnectionStatus lt_open(AppServiceConnection *c, GError **error) {
        LtResult r = { 0 };
        AppServiceConnectionStatus status = APP_SERVICE_CONNECTION_STATUS_UNKNOWN;

        app_service_connection_open(c, NULL, lt_result_cb, &r);
        if (lt_result_wait(&r, lt_ms(30000), "open() callback"))
                status = app_service_connection_open_finish(c, r.result, error);
        else
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no open() callback");
        lt_result_clear(&r);
        return status;
}

AppServiceResponse *lt_send(AppServiceConnection *c, GVariant *message, GError **error) {
        LtResult r = { 0 };
        AppServiceResponse *response = NULL;

        app_service_connection_send_message(c, message, NULL, lt_result_cb, &r);
        if (lt_result_wait(&r, lt_ms(30000), "send_message() callback"))
                response = app_service_connection_send_message_finish(c, r.result, error);
        else
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no send_message() callback");
        lt_result_clear(&r);
        return response;
}
