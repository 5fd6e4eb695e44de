/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "monitor.h"
#include "service.h"
#include "util.h"

#define TIMER_ACCURACY_USEC 1000
#define MAX_OUTPUT_LINE 4096
#define EXIT_EXEC_FAILED 203  /* as systemd's EXIT_EXEC, so the log reads the same */

void service_activation_failed(Service *s, const char *format, ...) {
        _cleanup_(freep) char *message = NULL;
        va_list ap;

        assert(s);

        va_start(ap, format);
        if (vasprintf(&message, format, ap) < 0)
                message = NULL;
        va_end(ap);

        log_warning("%s", message ? message : "activation failed");
        service_stop_activation(s);
        service_set_state(s, SERVICE_FAILED);
        service_fail_waiters(s, APPSERVICE_ERROR_APP_UNAVAILABLE, "%s", message ? message : "activation failed");
        if (s->activation_events)
                s->activation_events->failed(s, message ? message : "activation failed");
}

void service_stop_activation(Service *s) {
        assert(s);

        s->activation_timer = sd_event_source_disable_unref(s->activation_timer);
        s->start_unit_slot = sd_bus_slot_unref(s->start_unit_slot);
        s->job_removed_slot = sd_bus_slot_unref(s->job_removed_slot);
        s->job_path = mfree(s->job_path);
}

/* Provider processes */

static bool process_output_open(const Process *p) {
        return p->output[0].source || p->output[1].source;
}

Process *process_free(Process *p) {
        if (!p)
                return NULL;
        if (p->service && p->service->process == p)
                p->service->process = NULL;
        LIST_REMOVE(processes, p->manager->processes, p);
        sd_event_source_disable_unref(p->child_source);
        for (size_t i = 0; i < ELEMENTSOF(p->output); i++) {
                sd_event_source_disable_unref(p->output[i].source);
                free(p->output[i].buffer);
        }
        free(p->identifier);
        free(p);
        return NULL;
}

void process_kill_all(Manager *m, int sig) {
        assert(m);

        LIST_FOREACH(processes, p, m->processes)
                if (p->child_source && kill(p->pid, sig) < 0 && errno != ESRCH)
                        log_warning_errno(errno, "failed to send signal %d to provider process " PID_FMT ", ignoring: %m",
                                          sig, p->pid);
}

static const char *process_label(const Process *p) {
        return p->identifier ? p->identifier : p->service ? p->service->definition->name : "(removed)";
}

/* A line may say its own level, as the journal reads it (sd-daemon(3): "<3>text"). */
static void process_log_line(ProcessOutput *o, const char *line, size_t n) {
        int level = o->level;

        if (n >= 3 && line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>') {
                level = line[1] - '0';
                line += 3;
                n -= 3;
        }
        log_full(level, "%s[" PID_FMT "]: %.*s", process_label(o->process), o->process->pid, (int) n, line);
}

static void process_flush_output(ProcessOutput *o, bool all) {
        char *start = o->buffer, *end = o->buffer + o->size, *nl;

        while ((nl = memchr(start, '\n', end - start))) {
                process_log_line(o, start, nl - start);
                start = nl + 1;
        }
        /* Cut over-long lines rather than growing without bound. */
        if (all || end - start >= MAX_OUTPUT_LINE) {
                if (end > start)
                        process_log_line(o, start, end - start);
                start = end;
        }
        memmove(o->buffer, start, end - start);
        o->size = end - start;
}

static int on_process_output(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ProcessOutput *o = userdata;
        Process *p = o->process;
        char *b;
        ssize_t n;

        b = realloc(o->buffer, o->size + MAX_OUTPUT_LINE);
        if (!b)
                return log_error_errno(ENOMEM, "out of memory reading a provider's output: %m");
        o->buffer = b;

        n = read(fd, o->buffer + o->size, MAX_OUTPUT_LINE);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                process_flush_output(o, /* all= */ true);
                o->source = sd_event_source_disable_unref(o->source);
                if (!p->child_source && !process_output_open(p))
                        process_free(p);
                return 0;
        }
        o->size += n;
        process_flush_output(o, /* all= */ false);
        return 0;
}

static void emit_exited(Process *p, const siginfo_t *si) {
        Manager *m = p->manager;

        if (si->si_code == CLD_EXITED && p->service)
                monitor_emit(m, "provider-exited", "sui", "service", p->service->definition->name, "pid",
                             (uint32_t) p->pid, "status", (int32_t) si->si_status);
        else if (si->si_code == CLD_EXITED)
                monitor_emit(m, "provider-exited", "ui", "pid", (uint32_t) p->pid, "status", (int32_t) si->si_status);
        else {
                char name[32];

                snprintf(name, sizeof name, "SIG%s", strempty(sigabbrev_np(si->si_status)));
                if (p->service)
                        monitor_emit(m, "provider-exited", "sus", "service", p->service->definition->name, "pid",
                                     (uint32_t) p->pid, "signal", name);
                else
                        monitor_emit(m, "provider-exited", "us", "pid", (uint32_t) p->pid, "signal", name);
        }
}

static int on_process_exit(sd_event_source *source, const siginfo_t *si, void *userdata) {
        Process *p = userdata;
        Service *s = p->service;

        if (si->si_code == CLD_EXITED)
                log_full(si->si_status == 0 ? LOG_INFO : LOG_WARNING, "%s[" PID_FMT "]: provider exited with status %i",
                         process_label(p), p->pid, si->si_status);
        else
                log_warning("%s[" PID_FMT "]: provider was killed by signal %s", process_label(p), p->pid,
                            strsignal(si->si_status));
        emit_exited(p, si);

        p->child_source = sd_event_source_disable_unref(p->child_source);
        if (s && s->process == p) {
                s->process = NULL;
                /* Crash or clean exit, restart or not, the end of a stop: lifecycle.c decides. */
                if (s->activation_events)
                        s->activation_events->process_exited(s, p, si);
        }
        if (!process_output_open(p))
                process_free(p);
        return 0;
}

/* What a session broker's providers do not inherit from it: the bus it serves is set below, and
 * what tells a process about its own service manager, socket or log stream is not theirs. */
static bool inherited(const char *assignment) {
        static const char *const dropped[] = {
                "DBUS_SESSION_BUS_ADDRESS=", "DBUS_SYSTEM_BUS_ADDRESS=", "APPSERVICE_BUS=", "APPSERVICE_NAME=",
                "NOTIFY_SOCKET=", "JOURNAL_STREAM=", "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=",
                "WATCHDOG_PID=", "WATCHDOG_USEC=", "INVOCATION_ID=",
        };

        for (size_t i = 0; i < ELEMENTSOF(dropped); i++)
                if (strncmp(assignment, dropped[i], strlen(dropped[i])) == 0)
                        return false;
        return true;
}

static int env_add(char ***env, size_t *n, const char *format, ...) __attribute__((format(printf, 3, 4)));
static int env_add(char ***env, size_t *n, const char *format, ...) {
        char **a = reallocarray(*env, *n + 2, sizeof(char *));
        va_list ap;
        int r;

        if (!a)
                return -ENOMEM;
        *env = a;
        va_start(ap, format);
        r = vasprintf(&a[*n], format, ap);
        va_end(ap);
        if (r < 0) {
                a[*n] = NULL;
                return -ENOMEM;
        }
        a[++*n] = NULL;
        return 0;
}

/* The provider's environment. The system broker gives a fixed few variables. A session broker
 * (--user, as appservicectl dev runs it) is its user's, as systemd --user is: its providers get
 * the environment it was started with (a developer's PATH, LD_LIBRARY_PATH, GI_TYPELIB_PATH,
 * PYTHONPATH ...). Either way the bus variables name the bus this broker serves. */
static char **build_environment(Service *s) {
        const Definition *d = s->definition;
        Manager *m = s->manager;
        const char *address = NULL, *lang = getenv("LANG");
        struct passwd *pw = d->has_user ? getpwuid(d->uid) : getpwuid(geteuid());
        char **env = calloc(1, sizeof(char *));
        size_t n = 0;
        int r = env ? 0 : -ENOMEM;

        (void) sd_bus_get_address(m->bus, &address);
        if (m->user_bus)
                for (char **e = environ; r >= 0 && e && *e; e++)
                        if (inherited(*e))
                                r = env_add(&env, &n, "%s", *e);
        if (r >= 0 && (!m->user_bus || !getenv("PATH")))
                r = env_add(&env, &n, "PATH=%s", DEFINITION_PROVIDER_PATH);
        if (r >= 0)
                r = env_add(&env, &n, "%s=%s", m->user_bus ? "DBUS_SESSION_BUS_ADDRESS" : "DBUS_SYSTEM_BUS_ADDRESS",
                            strempty(address));
        /* The client library's choice of bus: the one this broker serves. */
        if (r >= 0)
                r = env_add(&env, &n, "APPSERVICE_BUS=%s", m->user_bus ? "session" : "system");
        if (r >= 0)
                r = env_add(&env, &n, "APPSERVICE_NAME=%s", d->name);
        if (!m->user_bus) {
                if (r >= 0 && pw)
                        r = env_add(&env, &n, "HOME=%s", pw->pw_dir);
                if (r >= 0 && pw)
                        r = env_add(&env, &n, "USER=%s", pw->pw_name);
                if (r >= 0 && pw)
                        r = env_add(&env, &n, "LOGNAME=%s", pw->pw_name);
                if (r >= 0 && lang)
                        r = env_add(&env, &n, "LANG=%s", lang);
        }
        if (r < 0) {
                strv_free(env);
                return NULL;
        }
        return env;
}

/* Under journald (the broker's stderr is the journal), the provider's stdout and stderr become
 * journal streams of their own: filed under its identifier, at info and warning, its "<N>"
 * prefixes honoured, with its own _PID and _UID (opened here, in the child, once it is the
 * provider's user). Otherwise, or if the journal refuses, they stay the pipes to the broker. */
static void connect_output_to_journal(const char *identifier) {
        int out = sd_journal_stream_fd(identifier, LOG_INFO, /* level_prefix= */ 1);
        int err = out >= 0 ? sd_journal_stream_fd(identifier, LOG_WARNING, /* level_prefix= */ 1) : -1;

        if (out >= 0 && err >= 0) {
                (void) dup2(out, STDOUT_FILENO);
                (void) dup2(err, STDERR_FILENO);
        }
        /* Both close with close_range() below. */
}

/* In the child, between fork() and exec(): only async-signal-safe calls where it matters, and
 * nothing that could return to the daemon's code (the broker is single-threaded: the journal's
 * client calls are safe here too). No parent-death signal: at shutdown the daemon sends SIGTERM
 * itself, and a second one on its exit would kill providers that handle only one; under systemd
 * the unit's control group is stopped as a whole anyway. */
static _Noreturn void run_provider(const Definition *d, const int output_fds[2], bool journal, char **env) {
        sigset_t none;
        int null_fd;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        setsid();

        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
            dup2(output_fds[0], STDOUT_FILENO) < 0 || dup2(output_fds[1], STDERR_FILENO) < 0)
                _exit(EXIT_FAILURE);

        if (d->has_user && d->uid != geteuid()) {
                int r = d->user_name ? initgroups(d->user_name, d->gid) : setgroups(1, &d->gid);
                if (r < 0 || setresgid(d->gid, d->gid, d->gid) < 0 || setresuid(d->uid, d->uid, d->uid) < 0) {
                        fprintf(stderr, "cannot switch to uid " UID_FMT ": %m\n", d->uid);
                        _exit(EXIT_FAILURE);
                }
        }
        if (journal)
                connect_output_to_journal(definition_syslog_identifier(d));

        close_range(3, ~0U, 0);
        if (chdir("/") < 0)
                _exit(EXIT_FAILURE);

        execvpe(d->exec_argv[0], d->exec_argv, env);
        fprintf(stderr, "cannot execute '%s': %m\n", d->exec_argv[0]);
        _exit(EXIT_EXEC_FAILED);
}

static void close_pipes(int fds[2][2]) {
        for (size_t i = 0; i < 2; i++)
                for (size_t j = 0; j < 2; j++)
                        fds[i][j] = safe_close(fds[i][j]);
}

/* The broker's ends of the provider's stdout and stderr on the loop; they own the fds. */
static void watch_output(Process *p, int fds[2][2]) {
        static const int levels[2] = { LOG_INFO, LOG_WARNING };

        for (size_t i = 0; i < 2; i++) {
                ProcessOutput *o = &p->output[i];
                int r;

                *o = (ProcessOutput) { .process = p, .level = levels[i] };
                r = sd_event_add_io(p->manager->event, &o->source, fds[i][0], EPOLLIN, on_process_output, o);
                if (r < 0) {
                        log_warning_errno(r, "%s[" PID_FMT "]: cannot read the provider's %s, ignoring: %m",
                                          process_label(p), p->pid, i == 0 ? "stdout" : "stderr");
                        continue;
                }
                (void) sd_event_source_set_io_fd_own(o->source, true);
                fds[i][0] = -1;
        }
}

static int spawn_provider(Service *s) {
        const Definition *d = s->definition;
        Manager *m = s->manager;
        _cleanup_(strv_freep) char **env = NULL;
        _cleanup_(freep) Process *p = NULL;
        int fds[2][2] = { { -1, -1 }, { -1, -1 } }, r;
        bool journal = log_stderr_is_journal();
        pid_t pid;

        if (d->has_user && d->uid != geteuid() && geteuid() != 0) {
                service_activation_failed(s, "app service '%s': cannot start the provider as uid " UID_FMT
                                  ": appserviced is not running as root", d->name, d->uid);
                return -EPERM;
        }

        env = build_environment(s);
        p = calloc(1, sizeof(Process));
        r = !env || !p ? -ENOMEM : 0;
        if (r >= 0)
                p->identifier = strdup(definition_syslog_identifier(d));
        if (r >= 0 && !p->identifier)
                r = -ENOMEM;
        if (r >= 0 && (pipe2(fds[0], O_CLOEXEC) < 0 || pipe2(fds[1], O_CLOEXEC) < 0))
                r = -errno;
        if (r < 0) {
                close_pipes(fds);
                if (p)
                        free(p->identifier);
                service_activation_failed(s, "app service '%s': cannot start the provider: %s", d->name, strerror(-r));
                return r;
        }

        pid = fork();
        if (pid < 0) {
                r = -errno;
                close_pipes(fds);
                free(p->identifier);
                service_activation_failed(s, "app service '%s': cannot fork the provider: %s", d->name, strerror(errno));
                return r;
        }
        if (pid == 0)
                run_provider(d, (const int[2]) { fds[0][1], fds[1][1] }, journal, env);

        fds[0][1] = safe_close(fds[0][1]);
        fds[1][1] = safe_close(fds[1][1]);
        p->manager = m;
        p->service = s;
        p->pid = pid;
        LIST_PREPEND(processes, m->processes, p);
        s->process = TAKE_PTR(p);
        log_info("app service '%s': started provider '%s' as pid " PID_FMT "%s", d->name, d->exec_argv[0], pid,
                 journal ? ", its output to the journal" : "");
        monitor_emit(m, "provider-started", "su", "service", d->name, "pid", (uint32_t) pid);

        /* Reaping comes after pending bus messages: a provider that registers and exits at once is
         * seen registering first. */
        r = sd_event_add_child(m->event, &s->process->child_source, pid, WEXITED, on_process_exit, s->process);
        if (r >= 0)
                r = sd_event_source_set_priority(s->process->child_source, SD_EVENT_PRIORITY_IDLE);
        if (r < 0) {
                close_pipes(fds);
                (void) kill(pid, SIGKILL);
                service_activation_failed(s, "app service '%s': cannot watch the provider: %s", d->name, strerror(-r));
                return r;
        }

        watch_output(s->process, fds);
        close_pipes(fds);
        return 0;
}

/* systemd */

static bool error_means_no_systemd(const sd_bus_error *e) {
        return sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Service *s = userdata;
        const char *job, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0)
                return 0;
        if (!s->job_path || !streq(job, s->job_path))
                return 0;

        s->job_removed_slot = sd_bus_slot_unref(s->job_removed_slot);
        if (!streq(result, "done"))
                service_activation_failed(s, "app service '%s': systemd could not start %s (%s)",
                                  s->definition->name, unit, result);
        /* "done": the unit runs; the provider now has until the timeout to register. */
        return 0;
}

static int on_start_unit_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Service *s = userdata;
        const Definition *d = s->definition;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *job;

        s->start_unit_slot = sd_bus_slot_unref(s->start_unit_slot);

        if (e && error_means_no_systemd(e)) {
                s->job_removed_slot = sd_bus_slot_unref(s->job_removed_slot);
                if (d->exec_argv) {
                        log_info("app service '%s': systemd is not on the bus, starting the provider with Exec=",
                                 d->name);
                        (void) spawn_provider(s);
                } else
                        service_activation_failed(s, "app service '%s': cannot start %s: systemd is not on the bus",
                                          d->name, d->systemd_service);
                return 0;
        }
        if (e) {
                service_activation_failed(s, "app service '%s': systemd refused to start %s: %s",
                                  d->name, d->systemd_service, e->message ? e->message : e->name);
                return 0;
        }
        if (sd_bus_message_read(m, "o", &job) < 0 || !(s->job_path = strdup(job))) {
                service_activation_failed(s, "app service '%s': unexpected reply from systemd to StartUnit", d->name);
                return 0;
        }
        log_info("app service '%s': asked systemd to start %s (job %s)", d->name, d->systemd_service, job);
        return 0;
}

static int start_unit(Service *s) {
        Manager *m = s->manager;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        int r;

        /* Watch for the job's end before asking, so the answer cannot slip past. */
        r = sd_bus_match_signal_async(m->bus, &s->job_removed_slot, "org.freedesktop.systemd1",
                                      "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                      "JobRemoved", on_job_removed, NULL, s);
        if (r >= 0)
                r = sd_bus_message_new_method_call(m->bus, &call, "org.freedesktop.systemd1",
                                                   "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                                   "StartUnit");
        /* Never bus-activate systemd itself: where it is not PID 1 that would only fail slowly. */
        if (r >= 0)
                r = sd_bus_message_set_auto_start(call, false);
        if (r >= 0)
                r = sd_bus_message_append(call, "ss", s->definition->systemd_service, "replace");
        if (r >= 0)
                r = sd_bus_call_async(m->bus, &s->start_unit_slot, call, on_start_unit_reply, s, 0);
        if (r < 0) {
                service_activation_failed(s, "app service '%s': cannot ask systemd to start %s: %s",
                                  s->definition->name, s->definition->systemd_service, strerror(-r));
                return r;
        }
        return 0;
}

static int on_activation_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        Service *s = userdata;

        /* A provider that is too slow is stopped, so that the next open starts afresh. */
        if (s->process) {
                s->process->stop_expected = true;
                (void) kill(s->process->pid, SIGTERM);
        }
        service_activation_failed(s, "app service '%s': provider did not register within %g s",
                          s->definition->name, (double) s->definition->activation_timeout_usec / USEC_PER_SEC);
        return 0;
}

int service_start_activation(Service *s, const ActivationEvents *events) {
        const Definition *d = s->definition;
        int r;

        assert(events);

        s->activation_events = events;
        service_set_state(s, SERVICE_ACTIVATING);
        r = sd_event_add_time_relative(s->manager->event, &s->activation_timer, CLOCK_MONOTONIC,
                                       d->activation_timeout_usec, TIMER_ACCURACY_USEC, on_activation_timeout, s);
        if (r < 0) {
                service_activation_failed(s, "app service '%s': cannot arm the activation timer: %s", d->name, strerror(-r));
                return r;
        }

        log_info("app service '%s': activating", d->name);
        if (d->systemd_service)
                return start_unit(s);
        return spawn_provider(s);
}

/* StopUnit, for a provider started as a systemd unit */

static int on_stop_unit_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Service *s = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        s->stop_unit_slot = sd_bus_slot_unref(s->stop_unit_slot);
        if (e)
                log_warning("app service '%s': systemd could not stop %s: %s", s->definition->name,
                            s->definition->systemd_service, e->message ? e->message : e->name);
        return 0;
}

int service_stop_unit(Service *s) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        int r;

        assert(s);

        log_info("app service '%s': asking systemd to stop %s", s->definition->name, s->definition->systemd_service);
        r = sd_bus_message_new_method_call(s->manager->bus, &call, "org.freedesktop.systemd1",
                                           "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                           "StopUnit");
        /* As for StartUnit: never bus-activate systemd. */
        if (r >= 0)
                r = sd_bus_message_set_auto_start(call, false);
        if (r >= 0)
                r = sd_bus_message_append(call, "ss", s->definition->systemd_service, "replace");
        if (r >= 0) {
                s->stop_unit_slot = sd_bus_slot_unref(s->stop_unit_slot);
                r = sd_bus_call_async(s->manager->bus, &s->stop_unit_slot, call, on_stop_unit_reply, s, 0);
        }
        if (r < 0)
                log_warning_errno(r, "app service '%s': cannot ask systemd to stop %s, ignoring: %m",
                                  s->definition->name, s->definition->systemd_service);
        return r;
}
