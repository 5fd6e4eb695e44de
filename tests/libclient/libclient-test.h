/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The fixture of the library's tests: a private system-type dbus-daemon with the project's own
 * policy, a directory of definition files, the real appserviced from the build tree, and helper
 * processes (provider-helper) whose events the test reads line by line from their stdout.
 *
 * Assertions are non-fatal (lt_init()), so that every case is one TAP line: a case whose later
 * steps would use what a failed check let through returns instead (LT_CHECK_OR_RETURN). Every
 * wait has a deadline, scaled by APPSERVICE_TEST_TIME_SCALE (10 when the daemon runs under a
 * wrapper such as valgrind). */

#include <appservice.h>
#include <gio/gio.h>
#include <sys/types.h>

/* g_test_init() with TAP, non-fatal assertions and a sane environment (no session bus, no system
 * bus of the host: each case brings its own; DBUS_SYSTEM_BUS_ADDRESS is LT_NO_BUS_ADDRESS). */
#define LT_NO_BUS_ADDRESS "unix:path=/nonexistent/appservice-test/no-bus"
void lt_init(int *argc, char ***argv);

/* Milliseconds for a deadline of `ms` on an idle machine, scaled as said above. */
guint lt_ms(guint ms);

/* The usual deadline for something that should happen at once. */
#define LT_WAIT_MS lt_ms(10000)

/* Fails the case with `message`, unless it failed already: then the first reason stands (it is
 * the informative one) and this one is only logged. */
void lt_fail(const char *format, ...) G_GNUC_PRINTF(1, 2);

#define LT_CHECK_OR_RETURN(expr)                                                               \
        do {                                                                                   \
                if (!(expr)) {                                                                 \
                        lt_fail("%s:%d: %s is false", __FILE__, __LINE__, #expr);              \
                        return;                                                                \
                }                                                                              \
        } while (0)

#define LT_CHECK_OR_GOTO(expr, label)                                                          \
        do {                                                                                   \
                if (!(expr)) {                                                                 \
                        lt_fail("%s:%d: %s is false", __FILE__, __LINE__, #expr);              \
                        goto label;                                                            \
                }                                                                              \
        } while (0)

/* ---- waiting on the default main context, with a deadline ------------------------------------ */

typedef struct LtDeadline {
        gint64 end_us;
        GSource *wakeup;
} LtDeadline;

void lt_deadline_begin(LtDeadline *d, guint ms);
/* Runs one iteration of the default main context; FALSE once the deadline has passed. */
gboolean lt_deadline_step(LtDeadline *d);
void lt_deadline_end(LtDeadline *d);

/* Iterates the default main context until `cond` holds or `ms` pass. Fails the case (naming
 * `what`) on the deadline. Evaluates to whether `cond` became true. */
#define LT_WAIT(cond, ms, what)                                                                \
        ({                                                                                     \
                LtDeadline lt_d_;                                                              \
                gboolean lt_ok_;                                                               \
                guint lt_ms_ = (ms);                                                           \
                lt_deadline_begin(&lt_d_, lt_ms_);                                             \
                while (!(lt_ok_ = !!(cond)) && lt_deadline_step(&lt_d_))                       \
                        ;                                                                      \
                lt_deadline_end(&lt_d_);                                                       \
                if (!lt_ok_)                                                                   \
                        lt_fail("%s:%d: no %s within %u ms", __FILE__, __LINE__, (what),       \
                                lt_ms_);                                                       \
                lt_ok_;                                                                        \
        })

/* Iterates the default main context for `ms` (or until `cond`), without failing: for checking that
 * something does NOT happen within a time. Evaluates to whether `cond` became true. */
#define LT_RUN_FOR(cond, ms)                                                                   \
        ({                                                                                     \
                LtDeadline lt_d_;                                                              \
                gboolean lt_ok_;                                                               \
                lt_deadline_begin(&lt_d_, (ms));                                               \
                while (!(lt_ok_ = !!(cond)) && lt_deadline_step(&lt_d_))                       \
                        ;                                                                      \
                lt_deadline_end(&lt_d_);                                                       \
                lt_ok_;                                                                        \
        })

/* An async result caught by lt_result_cb(), for the _finish() functions. */
typedef struct LtResult {
        GAsyncResult *result;
        GObject *source;
        gint64 done_us;
} LtResult;

void lt_result_cb(GObject *source, GAsyncResult *result, gpointer user_data);
/* Waits for the callback; returns the result (owned by `r`) or NULL after failing the case. */
GAsyncResult *lt_result_wait(LtResult *r, guint ms, const char *what);
void lt_result_clear(LtResult *r);

/* ---- the bus and the daemon ------------------------------------------------------------------ */

typedef struct LtHelper LtHelper;

typedef struct LtBus {
        char *workdir;
        char *services_dir;
        char *address;
        GPid bus_pid;
        GDBusConnection *conn; /* the test's own connection, as root */
        GPid daemon_pid;       /* 0 while it does not run */
        gboolean daemon_exited;
        int daemon_wait_status;
        guint daemon_watch;
        unsigned daemon_runs;
        char *daemon_log;
        GPtrArray *helpers;
        GPtrArray *extra_conns;
} LtBus;

/* A private bus, or NULL when this machine cannot run one (the case is then skipped with the
 * reason). */
LtBus *lt_bus_new(void);
/* Stops the daemon (failing the case unless it exits 0 on SIGTERM), then the helpers, then the
 * bus; removes the scratch directory. Shows the daemon's log when the case failed. */
void lt_bus_free(LtBus *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LtBus, lt_bus_free)

/* Writes <name>.appservice with "[App Service]\nName=<name>\n" and then `body` (more keys, and
 * sections). Provider= is com.example.TestApp unless `body` has its own. Root-owned, `mode`. */
void lt_bus_write_definition(LtBus *b, const char *name, mode_t mode, const char *body);

/* Starts build/daemon/appserviced --system --services-dir=<dir> on the bus, waits until it owns
 * io.appservice1. */
gboolean lt_bus_start_daemon(LtBus *b);
/* SIGTERM, then waits for the exit and checks that its status is 0. */
gboolean lt_bus_stop_daemon(LtBus *b);
/* The log of the daemon (all runs), for messages. */
char *lt_bus_daemon_log(LtBus *b);

/* A new connection to the bus (a separate unique name, for an in-process second endpoint). Owned
 * by `b`. */
GDBusConnection *lt_bus_connect(LtBus *b);

/* Calls Manager.SetServiceEnabled as root. */
gboolean lt_bus_set_service_enabled(LtBus *b, const char *name, gboolean enabled, GError **error);
/* A property of the manager object (Version, NodeName, State); g_variant_unref() it. */
GVariant *lt_bus_get_manager_property(LtBus *b, const char *property);
/* The State property of a service object, or NULL. g_free() it. */
char *lt_bus_get_service_state(LtBus *b, const char *name);

/* ---- helper processes ------------------------------------------------------------------------ */

/* The path of provider-helper. */
const char *lt_provider_helper_path(void);

/* Starts provider-helper with `args` (NULL-terminated) on the bus, with a pipe on stdin (it
 * exits when that closes) and its stdout read line by line into events. Owned by `b`. */
LtHelper *lt_helper_spawn(LtBus *b, const char *const *args);
/* Waits for the next unconsumed event line that starts with `prefix`; consumes it and returns it
 * (g_free()), or NULL after failing the case. */
char *lt_helper_wait_line(LtHelper *h, const char *prefix, guint ms);
/* Whether an unconsumed event line starting with `prefix` has arrived (no waiting). */
gboolean lt_helper_has_line(LtHelper *h, const char *prefix);
/* Discards the event lines not consumed yet. */
void lt_helper_forget(LtHelper *h);
/* Writes one command line to the helper's stdin. */
gboolean lt_helper_command(LtHelper *h, const char *command);
/* Sends `sig`. */
void lt_helper_kill(LtHelper *h, int sig);
/* Waits for the exit; returns the wait status, or -1 after failing the case. */
int lt_helper_wait_exit(LtHelper *h, guint ms);
GPid lt_helper_pid(LtHelper *h);

/* Starts a provider-helper that registers `name` in `mode` (echo, ignore, hold, defer,
 * greet-on-connect, close-on-request, crash) and waits until it has registered. */
LtHelper *lt_helper_start_provider(LtBus *b, const char *name, const char *mode, const char *arg);

/* ---- signals --------------------------------------------------------------------------------- */

/* Counts AppServiceConnection::service-closed and keeps the last status. */
typedef struct LtClosed {
        guint count;
        AppServiceClosedStatus status;
} LtClosed;

void lt_closed_cb(AppServiceConnection *connection, AppServiceClosedStatus status, gpointer user_data);

/* ---- values ---------------------------------------------------------------------------------- */

/* g_variant_parse() of a{sv} text, floating reference sunk: g_variant_unref() it. */
GVariant *lt_value_set(const char *text);
/* Whether two ValueSets are equal in type and bytes (and prints both when not). */
gboolean lt_value_set_equal(GVariant *a, GVariant *b);

/* Waits for a connection open / send / close started with the async API. */
AppServiceConnectionStatus lt_open(AppServiceConnection *c, GError **error);
AppServiceResponse *lt_send(AppServiceConnection *c, GVariant *message, GError **error);
