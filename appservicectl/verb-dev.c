/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* appservicectl dev: a broker of one's own, to develop app services without root. A private bus
 * (dbus-daemon with its session configuration, so that only this user may connect) and
 * appserviced --user on it, both as the calling user; then COMMAND in an environment that points
 * the library at them or, without COMMAND, the shell assignments that do, until interrupted.
 * Whatever it started is stopped when it ends, and dies with it if it is killed. */

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>

#include "appservicectl.h"
#include "config.h"

/* A broker loads its definitions and takes its name in well under a second; valgrind and a
 * loaded machine are the reason for the margin. */
#define DEV_START_TIMEOUT_SECONDS 60
/* A broker asks its providers to stop and waits for them (their StopTimeoutSec=, 10 s by
 * default) before it exits. */
#define DEV_STOP_TIMEOUT_SECONDS 20

static const char dev_summary[] =
        "Run a broker of your own, as yourself, on a private bus: for developing app services\n"
        "without root.";

static const char dev_description[] =
        "Starts a private bus (dbus-daemon with its session configuration: only you may\n"
        "connect) and appserviced --user on it, serving the definition files of DIR\n"
        "(--services-dir; the current directory when none is given). The providers it starts\n"
        "run as you, with APPSERVICE_BUS=session, and its log (with what they print) goes to\n"
        "standard error.\n"
        "With COMMAND: runs it with DBUS_SESSION_BUS_ADDRESS set to the private bus and\n"
        "APPSERVICE_BUS=session, so that the library, appservicectl --user and busctl --user in\n"
        "it use that broker; stops the broker and the bus when COMMAND ends, and exits with its\n"
        "status. Without COMMAND: prints those two variables as shell assignments and runs\n"
        "until interrupted (Ctrl-C, SIGTERM).\n"
        "The broker is APPSERVICED from the environment if set, else " APPSERVICE_LIBEXECDIR "/appserviced.\n";

typedef struct {
        GMainLoop *loop;
        GSubprocess *bus;
        GSubprocess *broker;
        GSubprocess *command;
        gchar *address;
        gboolean broker_ready;      /* io.appservice1 appeared on the private bus */
        gboolean broker_exited;
        gboolean command_exited;
        gboolean interrupted;
        int command_status;
} Dev;

static void dev_done(Dev *dev) {
        g_clear_pointer(&dev->loop, g_main_loop_unref);
        g_clear_object(&dev->command);
        g_clear_object(&dev->broker);
        g_clear_object(&dev->bus);
        g_clear_pointer(&dev->address, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Dev, dev_done)

static void die_with_parent(gpointer user_data) {
        (void) user_data;
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static GSubprocessLauncher *launcher_new(GSubprocessFlags flags) {
        GSubprocessLauncher *launcher = g_subprocess_launcher_new(flags);

        g_subprocess_launcher_set_child_setup(launcher, die_with_parent, NULL, NULL);
        return launcher;
}

/* dbus-daemon prints its address on the pipe once it listens: that line is the bus. */
static gboolean start_bus(Dev *dev, GError **error) {
        g_autoptr(GSubprocessLauncher) launcher = launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
        g_autoptr(GDataInputStream) lines = NULL;
        g_autofree gchar *line = NULL;

        dev->bus = g_subprocess_launcher_spawn(launcher, error, "dbus-daemon", "--session", "--nofork",
                                               "--nopidfile", "--print-address=1", NULL);
        if (!dev->bus) {
                g_prefix_error(error, "cannot start dbus-daemon: ");
                return FALSE;
        }
        lines = g_data_input_stream_new(g_subprocess_get_stdout_pipe(dev->bus));
        line = g_data_input_stream_read_line(lines, NULL, NULL, error);
        if (!line || !*g_strstrip(line)) {
                if (error && !*error)
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                                    "dbus-daemon ended before it gave its address");
                return FALSE;
        }
        dev->address = g_steal_pointer(&line);
        return TRUE;
}

static void on_broker_exited(GObject *source, GAsyncResult *result, gpointer user_data) {
        Dev *dev = user_data;

        (void) g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL);
        dev->broker_exited = TRUE;
        g_main_loop_quit(dev->loop);
}

static void on_broker_appeared(GDBusConnection *bus, const gchar *name, const gchar *owner, gpointer user_data) {
        Dev *dev = user_data;

        (void) bus;
        (void) name;
        (void) owner;
        dev->broker_ready = TRUE;
        g_main_loop_quit(dev->loop);
}

static gboolean on_timeout(gpointer user_data) {
        Dev *dev = user_data;

        g_main_loop_quit(dev->loop);
        return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer user_data) {
        Dev *dev = user_data;

        dev->interrupted = TRUE;
        /* A Ctrl-C reached COMMAND too (same process group); a SIGTERM sent to us alone did not. */
        if (dev->command && !dev->command_exited)
                g_subprocess_send_signal(dev->command, SIGTERM);
        else
                g_main_loop_quit(dev->loop);
        return G_SOURCE_CONTINUE;
}

static gboolean start_broker(Dev *dev, char **services_dirs, char **contracts_dirs, GError **error) {
        g_autoptr(GSubprocessLauncher) launcher = launcher_new(G_SUBPROCESS_FLAGS_NONE);
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GDBusConnection) bus = NULL;
        guint watch, timeout;

        g_ptr_array_add(argv, g_strdup(ctl_broker_program()));
        g_ptr_array_add(argv, g_strdup("--user"));
        for (char **d = services_dirs; d && *d; d++)
                g_ptr_array_add(argv, g_strconcat("--services-dir=", *d, NULL));
        for (char **d = contracts_dirs; d && *d; d++)
                g_ptr_array_add(argv, g_strconcat("--contracts-dir=", *d, NULL));
        g_ptr_array_add(argv, NULL);

        g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS", dev->address, TRUE);
        dev->broker = g_subprocess_launcher_spawnv(launcher, (const gchar *const *) argv->pdata, error);
        if (!dev->broker) {
                g_prefix_error(error, "cannot start %s: ", (const char *) argv->pdata[0]);
                return FALSE;
        }
        g_subprocess_wait_async(dev->broker, NULL, on_broker_exited, dev);

        bus = g_dbus_connection_new_for_address_sync(dev->address,
                                                     G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                             G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                     NULL, NULL, error);
        if (!bus)
                return FALSE;
        watch = g_bus_watch_name_on_connection(bus, "io.appservice1", G_BUS_NAME_WATCHER_FLAGS_NONE,
                                               on_broker_appeared, NULL, dev, NULL);
        timeout = g_timeout_add_seconds(DEV_START_TIMEOUT_SECONDS, on_timeout, dev);
        g_main_loop_run(dev->loop);
        g_bus_unwatch_name(watch);
        if (!dev->broker_ready || dev->broker_exited) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s",
                            dev->broker_exited ? "appserviced exited before it served (its log is above)"
                            : dev->interrupted ? "interrupted"
                                               : "appserviced did not take io.appservice1 in time");
                return FALSE;
        }
        g_source_remove(timeout);
        return TRUE;
}

static void on_command_exited(GObject *source, GAsyncResult *result, gpointer user_data) {
        Dev *dev = user_data;
        GSubprocess *command = G_SUBPROCESS(source);

        (void) g_subprocess_wait_finish(command, result, NULL);
        dev->command_exited = TRUE;
        /* As a shell reports it: the exit status, or 128 and the signal's number. */
        dev->command_status = g_subprocess_get_if_exited(command) ? g_subprocess_get_exit_status(command)
                                                                  : 128 + g_subprocess_get_term_sig(command);
        g_main_loop_quit(dev->loop);
}

static gboolean run_command(Dev *dev, char **argv, GError **error) {
        g_autoptr(GSubprocessLauncher) launcher = launcher_new(G_SUBPROCESS_FLAGS_NONE);

        g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS", dev->address, TRUE);
        g_subprocess_launcher_setenv(launcher, "APPSERVICE_BUS", "session", TRUE);
        dev->command = g_subprocess_launcher_spawnv(launcher, (const gchar *const *) argv, error);
        if (!dev->command) {
                g_prefix_error(error, "cannot run %s: ", argv[0]);
                return FALSE;
        }
        g_subprocess_wait_async(dev->command, NULL, on_command_exited, dev);
        while (!dev->command_exited)
                g_main_loop_run(dev->loop);
        return TRUE;
}

static void print_assignments(const Dev *dev) {
        g_autofree gchar *quoted = g_shell_quote(dev->address);

        printf("DBUS_SESSION_BUS_ADDRESS=%s; export DBUS_SESSION_BUS_ADDRESS;\n"
               "APPSERVICE_BUS=session; export APPSERVICE_BUS;\n", quoted);
        fflush(stdout);
        fprintf(stderr, "appservicectl dev: the broker is ready; interrupt to stop it\n");
}

static void on_stopped(GObject *source, GAsyncResult *result, gpointer user_data) {
        gboolean *stopped = user_data;

        (void) g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL);
        *stopped = TRUE;
}

static gboolean on_stop_expired(gpointer user_data) {
        gboolean *expired = user_data;

        *expired = TRUE;
        return G_SOURCE_REMOVE;
}

/* SIGTERM, then SIGKILL when it has not ended in time; returns once it has. */
static void stop(GSubprocess *process) {
        gboolean stopped = FALSE, expired = FALSE;
        guint timeout;

        if (!process)
                return;
        g_subprocess_send_signal(process, SIGTERM);
        g_subprocess_wait_async(process, NULL, on_stopped, &stopped);
        timeout = g_timeout_add_seconds(DEV_STOP_TIMEOUT_SECONDS, on_stop_expired, &expired);
        while (!stopped && !expired)
                g_main_context_iteration(NULL, TRUE);
        if (!stopped) {
                g_subprocess_force_exit(process);
                while (!stopped)
                        g_main_context_iteration(NULL, TRUE);
        } else {
                g_source_remove(timeout);
        }
}

static gboolean check_directories(char **dirs, GError **error) {
        for (char **d = dirs; d && *d; d++)
                if (!g_file_test(*d, G_FILE_TEST_IS_DIR)) {
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, "'%s' is not a directory", *d);
                        return FALSE;
                }
        return TRUE;
}

int ctl_verb_dev(Ctl *ctl, int argc, char **argv) {
        g_auto(GStrv) services_dirs = NULL, contracts_dirs = NULL;
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(GError) error = NULL;
        g_auto(Dev) dev = { 0 };
        const GOptionEntry entries[] = {
                { "services-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &services_dirs,
                  "Serve the definition files of DIR (more than once: of each)", "DIR" },
                { "contracts-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &contracts_dirs,
                  "Look for contracts in DIR too (more than once: in each)", "DIR" },
                G_OPTION_ENTRY_NULL
        };
        char **command = NULL;
        guint sigint, sigterm;
        int status;

        /* What follows "--" is COMMAND, as written: the options are only those before it. */
        for (int i = 1; i < argc; i++)
                if (g_str_equal(argv[i], "--")) {
                        command = argc > i + 1 ? argv + i + 1 : NULL;
                        argc = i;
                        break;
                }
        context = ctl_option_context_new(ctl, "dev [-- COMMAND [ARGUMENT...]]", dev_summary, dev_description);
        g_option_context_add_main_entries(context, entries, NULL);
        if (!ctl_parse_verb_options(ctl, context, &argc, &argv, "dev"))
                return CTL_EXIT_USAGE;
        if (argc > 1)
                return ctl_usage_error("dev", "unexpected argument '%s' (COMMAND goes after --)", argv[1]);
        if (ctl->system || ctl->user || ctl->address)
                return ctl_usage_error("dev", "dev starts a bus of its own: --system, --user and --address do not apply");
        if (!services_dirs) {
                services_dirs = g_new0(char *, 2);
                services_dirs[0] = g_strdup(".");
        }
        if (!check_directories(services_dirs, &error) || !check_directories(contracts_dirs, &error))
                return ctl_usage_error("dev", "%s", error->message);

        dev.loop = g_main_loop_new(NULL, FALSE);
        sigint = g_unix_signal_add(SIGINT, on_signal, &dev);
        sigterm = g_unix_signal_add(SIGTERM, on_signal, &dev);
        if (!start_bus(&dev, &error) || !start_broker(&dev, services_dirs, contracts_dirs, &error)) {
                status = CTL_EXIT_NO_BROKER;
        } else if (command) {
                status = run_command(&dev, command, &error) ? dev.command_status : CTL_EXIT_FAILURE;
        } else {
                print_assignments(&dev);
                while (!dev.interrupted && !dev.broker_exited)
                        g_main_loop_run(dev.loop);
                status = dev.broker_exited ? CTL_EXIT_FAILURE : CTL_EXIT_SUCCESS;
                if (dev.broker_exited)
                        g_set_error(&error, G_IO_ERROR, G_IO_ERROR_FAILED, "appserviced exited (its log is above)");
        }
        if (error)
                fprintf(stderr, "appservicectl dev: %s\n", error->message);
        stop(dev.broker);
        stop(dev.bus);
        g_source_remove(sigint);
        g_source_remove(sigterm);
        return status;
}
