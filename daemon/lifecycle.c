/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The provider lifecycle: registration, starts under a start limit, crashes and Restart=, idle
 * stops, the stop sequence, StartService/StopService/RestartService. How a provider is spawned,
 * started or stopped as a unit is activation.c's; the node's state is manager.c's. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connection.h"
#include "errors.h"
#include "fault.h"
#include "log.h"
#include "monitor.h"
#include "peer.h"
#include "service-dbus.h"
#include "service.h"
#include "util.h"

#define TIMER_ACCURACY_USEC 1000

static const ActivationEvents activation_events;

static double seconds(uint64_t usec) {
        return (double) usec / USEC_PER_SEC;
}

static int arm_timer(Service *s, sd_event_source **source, uint64_t usec, sd_event_time_handler_t handler) {
        *source = sd_event_source_disable_unref(*source);
        return sd_event_add_time_relative(s->manager->event, source, CLOCK_MONOTONIC, usec, TIMER_ACCURACY_USEC,
                                          handler, s);
}

/* Administrative calls waiting for the work */

/* Takes `done` on success only. */
static int admin_call_add(Service *s, AdminCallKind kind, Completion *done) {
        AdminCall *a = calloc(1, sizeof(AdminCall));

        if (!a)
                return -ENOMEM;
        *a = (AdminCall) { .service = s, .kind = kind };
        completion_move(&a->done, done);
        LIST_PREPEND(service, s->admin_calls, a);
        return 0;
}

static void admin_call_free(AdminCall *a) {
        LIST_REMOVE(service, a->service->admin_calls, a);
        free(a);
}

static bool admin_calls_have(const Service *s, AdminCallKind kind) {
        LIST_FOREACH(service, a, s->admin_calls)
                if (a->kind == kind)
                        return true;
        return false;
}

/* Answers the waiting calls of one kind: success when error_name is NULL. */
static void admin_calls_answer(Service *s, AdminCallKind kind, const char *error_name, const char *message) {
        LIST_FOREACH_SAFE(service, a, next, s->admin_calls) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                Completion done;

                if (a->kind != kind)
                        continue;
                completion_move(&done, &a->done);
                admin_call_free(a);
                if (!completion_is_set(&done))
                        continue;
                if (!error_name)
                        completion_answered(&done, NULL);
                else {
                        (void) sd_bus_error_set(&error, error_name, message);
                        completion_fail(&done, &error);
                }
        }
}

/* The start limit */

static void start_limit_reset(Service *s) {
        s->start_limit_begin = 0;
        s->start_limit_count = 0;
        s->start_limit_hit = false;
        s->retest_timer = sd_event_source_disable_unref(s->retest_timer);
}

/* Counts one start; false when it would exceed StartLimitBurst= within StartLimitIntervalSec=. */
static bool start_limit_take(Service *s) {
        const Definition *d = s->definition;
        uint64_t now = manager_now_usec(s->manager);

        if (d->start_limit_interval_usec == 0)
                return true;
        if (s->start_limit_begin == 0 || now >= s->start_limit_begin + d->start_limit_interval_usec) {
                s->start_limit_begin = now;
                s->start_limit_count = 0;
        }
        if (s->start_limit_count >= d->start_limit_burst)
                return false;
        s->start_limit_count++;
        return true;
}

char *service_start_limit_message(const Service *s) {
        uint64_t when = 0, now, left = 0;
        char *message;

        if (!s->start_limit_hit)
                return NULL;
        now = manager_now_usec(s->manager);
        if (s->retest_timer && sd_event_source_get_time(s->retest_timer, &when) >= 0 && when > now)
                left = when - now;
        /* Tenths of a second, rounded up: "0.5", "30". */
        if (asprintf(&message, "app service '%s': start limit hit, retrying after %g s", s->definition->name,
                     (double) ((left + 99999) / 100000) / 10) < 0)
                return NULL;
        return message;
}

static void refuse_start(Service *s) {
        _cleanup_(freep) char *message = service_start_limit_message(s);
        const char *text = message ? message : "start limit hit";

        s->auto_start_pending = false;
        service_fail_waiters(s, APPSERVICE_ERROR_APP_UNAVAILABLE, "%s", text);
        admin_calls_answer(s, ADMIN_START, APPSERVICE_ERROR_APP_UNAVAILABLE, text);
}

static int on_retest_timer(sd_event_source *source, uint64_t usec, void *userdata);

static void start_limit_hit(Service *s) {
        const Definition *d = s->definition;
        int r;

        log_warning("app service '%s': start limit hit (%u starts within %g s, StartLimitBurst=), not starting "
                    "the provider; trying again after %g s (RetestSec=)", d->name, d->start_limit_burst,
                    seconds(d->start_limit_interval_usec), seconds(d->retest_usec));
        s->start_limit_hit = true;
        s->run_failed = true;
        r = arm_timer(s, &s->retest_timer, d->retest_usec, on_retest_timer);
        if (r < 0)
                log_warning_errno(r, "app service '%s': cannot arm the RetestSec= timer, ignoring: %m", d->name);
        if (!s->provider)
                service_set_state(s, SERVICE_FAILED);
        refuse_start(s);
}

static bool restart_applies(const Service *s, bool failed) {
        const Definition *d = s->definition;

        return service_is_activatable(s) &&
                (d->restart == RESTART_ALWAYS || (failed && d->restart == RESTART_ON_FAILURE));
}

static int on_retest_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Service *s = userdata;
        const Definition *d = s->definition;

        s->retest_timer = sd_event_source_disable_unref(s->retest_timer);
        start_limit_reset(s);
        if (s->provider || s->stopping || s->activation_timer)
                return 0;
        if (service_is_activatable(s) && (d->auto_start || restart_applies(s, true))) {
                log_info("app service '%s': RetestSec= passed, trying to start the provider once more", d->name);
                (void) service_start(s, START_RESTART);
                return 0;
        }
        log_info("app service '%s': RetestSec= passed, the next open starts the provider", d->name);
        s->run_failed = false;
        service_set_state(s, SERVICE_INACTIVE);
        return 0;
}

/* Starting */

int service_start(Service *s, StartReason why) {
        assert(s);

        s->restart_timer = sd_event_source_disable_unref(s->restart_timer);

        if (s->start_limit_hit) {
                refuse_start(s);
                return -EAGAIN;
        }
        if (!start_limit_take(s)) {
                start_limit_hit(s);
                return -EAGAIN;
        }

        /* Only a provider that an open needed goes away when idle; a restart keeps what it was. */
        if (why == START_OPEN)
                s->idle_stoppable = true;
        else if (why != START_RESTART)
                s->idle_stoppable = false;
        s->started_by_broker = true;
        s->run_ended = false;
        s->run_failed = false;
        return service_start_activation(s, &activation_events);
}

static int on_restart_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Service *s = userdata;

        if (s->provider && !s->stopping && s->manager->state != MANAGER_STOPPING) {
                /* Its process was reaped before the bus said its connection closed (likely with
                 * RestartSec=0): the run ended, the provider still counts as registered. The timer
                 * (one-shot, off now) stays, so the service stays "activating", and the
                 * unregistration fires it again; a provider that registers cancels it. */
                log_debug("app service '%s': the provider's process ended but it has not left the bus yet, "
                          "restarting it when it has", s->definition->name);
                return 0;
        }
        s->restart_timer = sd_event_source_disable_unref(s->restart_timer);
        if (s->provider || s->stopping || s->manager->state == MANAGER_STOPPING)
                return 0;
        log_info("app service '%s': restarting the provider (Restart=%s)", s->definition->name,
                 restart_policy_to_string(s->definition->restart));
        if (service_start(s, START_RESTART) != -EAGAIN)
                s->n_restarts++;
        return 0;
}

/* A restart timer that fired while the ended run's provider was still registered. */
static bool restart_waits_for_bus(const Service *s) {
        int enabled = SD_EVENT_OFF;

        return s->restart_timer && sd_event_source_get_enabled(s->restart_timer, &enabled) >= 0 &&
                enabled == SD_EVENT_OFF;
}

/* The current run of the provider ended by itself: decide once whether it comes back. */
static void run_ended(Service *s, bool failed) {
        const Definition *d = s->definition;
        int r;

        if (s->run_ended)
                return;
        s->run_ended = true;
        s->run_failed = failed;
        s->auto_start_pending = false;

        if (restart_applies(s, failed) && !s->start_limit_hit) {
                log_info("app service '%s': provider %s, restarting it in %g s (Restart=%s)", d->name,
                         failed ? "failed" : "exited", seconds(d->restart_usec), restart_policy_to_string(d->restart));
                r = arm_timer(s, &s->restart_timer, d->restart_usec, on_restart_timer);
                if (r < 0)
                        log_warning_errno(r, "app service '%s': cannot arm the restart timer, not restarting: %m",
                                          d->name);
        }
        if (!s->provider)
                service_set_state(s, service_state_without_provider(s));
}

static char *describe_exit(const Process *p, const siginfo_t *si) {
        char *text;
        int r;

        if (si->si_code == CLD_EXITED)
                r = asprintf(&text, "provider process " PID_FMT " exited with status %i", p->pid, si->si_status);
        else
                r = asprintf(&text, "provider process " PID_FMT " was killed by signal SIG%s", p->pid,
                             strempty(sigabbrev_np(si->si_status)));
        return r < 0 ? NULL : text;
}

/* Stopping */

static bool service_runs(const Service *s) {
        return s->provider || s->process || s->activation_timer || s->start_unit_slot || s->job_removed_slot;
}

static int on_stopped_defer(sd_event_source *source, void *userdata) {
        Service *s = userdata;
        ServiceStoppedHandler handler = s->on_stopped;

        s->on_stopped_defer = sd_event_source_disable_unref(s->on_stopped_defer);
        s->on_stopped = NULL;
        if (handler)
                handler(s, s->on_stopped_userdata);  /* may free s */
        return 0;
}

/* Nothing runs any more: answer the stops, and start again for whoever waits. */
static void stop_done(Service *s, bool was_running) {
        bool start = false;
        int r;

        admin_calls_answer(s, ADMIN_STOP, NULL, NULL);
        if (s->on_stopped && !s->on_stopped_defer) {
                r = sd_event_add_defer(s->manager->event, &s->on_stopped_defer, on_stopped_defer, s);
                if (r < 0)
                        log_warning_errno(r, "app service '%s': cannot schedule the end of the stop, ignoring: %m",
                                          s->definition->name);
        }
        LIST_FOREACH(service, a, s->admin_calls)
                if (a->kind == ADMIN_RESTART) {
                        a->kind = ADMIN_START;
                        start_limit_reset(s);
                }
        start = admin_calls_have(s, ADMIN_START);

        if (s->manager->state == MANAGER_STOPPING)
                return;
        if (start || s->waiters) {
                if (!service_is_activatable(s)) {
                        service_fail_waiters(s, APPSERVICE_ERROR_APP_UNAVAILABLE,
                                             "app service '%s': no provider is registered, and it cannot be started "
                                             "(no Exec= or SystemdService=)", s->definition->name);
                        admin_calls_answer(s, ADMIN_START, APPSERVICE_ERROR_APP_UNAVAILABLE,
                                           "the app service cannot be started (no Exec= or SystemdService=)");
                } else {
                        (void) service_start(s, start ? START_ADMIN : START_OPEN);
                        return;
                }
        }
        if (was_running)
                service_set_state(s, s->provider ? SERVICE_ACTIVE : SERVICE_INACTIVE);
}

static void stop_check_done(Service *s) {
        if (!s->stopping || s->provider || s->process)
                return;
        log_info("app service '%s': provider stopped (%s)", s->definition->name, s->stop_reason);
        s->stopping = false;
        s->stop_timer = sd_event_source_disable_unref(s->stop_timer);
        s->run_ended = true;
        s->run_failed = false;
        stop_done(s, /* was_running= */ true);
}

/* The provider did not go in time: the next, firmer step. Stage 1: SIGTERM to our process, or
 * StopUnit; stage 2: SIGKILL; the last: a provider still registered (not the process we
 * started, or one we never started) is unregistered, so that every stop ends. */
static void stop_escalate(Service *s) {
        const Definition *d = s->definition;

        s->stop_stage++;
        if (s->process && s->stop_stage <= 2) {
                int sig = s->stop_stage == 1 ? SIGTERM : SIGKILL;

                log_info("app service '%s': sending SIG%s to provider process " PID_FMT, d->name, sigabbrev_np(sig),
                         s->process->pid);
                s->process->stop_expected = true;
                if (kill(s->process->pid, sig) < 0 && errno != ESRCH)
                        log_warning_errno(errno, "app service '%s': cannot signal the provider, ignoring: %m", d->name);
        } else if (s->stop_stage == 1 && d->systemd_service && s->started_by_broker)
                (void) service_stop_unit(s);
        else if (s->provider) {
                log_warning("app service '%s': provider %s did not stop within %g s, unregistering it", d->name,
                            s->provider->name, seconds(d->stop_timeout_usec));
                service_unregister_provider(s, CLOSED_CANCELED);  /* ends the stop */
        }
}

static int on_stop_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Service *s = userdata;
        int r;

        s->stop_timer = sd_event_source_disable_unref(s->stop_timer);
        stop_escalate(s);
        if (s->stopping && s->stop_stage < 3) {
                r = arm_timer(s, &s->stop_timer, s->definition->stop_timeout_usec, on_stop_timer);
                if (r < 0)
                        log_warning_errno(r, "app service '%s': cannot arm the stop timer, ignoring: %m",
                                          s->definition->name);
        }
        return 0;
}

int service_stop(Service *s, const char *reason, Completion *done) {
        const Definition *d = s->definition;
        int r;

        assert(s);
        assert(reason);

        if (completion_is_set(done)) {
                r = admin_call_add(s, ADMIN_STOP, done);
                if (r < 0)
                        return r;
        }
        s->restart_timer = sd_event_source_disable_unref(s->restart_timer);
        s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
        if (s->stopping)
                return 0;  /* joins the stop under way */
        if (!service_runs(s)) {
                if (s->state == SERVICE_ACTIVATING)  /* a restart was pending */
                        service_set_state(s, service_state_without_provider(s));
                stop_done(s, /* was_running= */ false);
                return 0;
        }

        log_info("app service '%s': stopping the provider (%s)", d->name, reason);
        s->stopping = true;
        s->stop_reason = reason;
        s->stop_stage = 0;
        service_stop_activation(s);
        admin_calls_answer(s, ADMIN_START, APPSERVICE_ERROR_APP_UNAVAILABLE,
                           "the app service was stopped before its provider registered");

        r = arm_timer(s, &s->stop_timer, d->stop_timeout_usec, on_stop_timer);
        if (r < 0)
                log_warning_errno(r, "app service '%s': cannot arm the stop timer, ignoring: %m", d->name);
        if (s->provider)
                (void) service_send_stop_requested(s);
        else
                stop_escalate(s);  /* nobody registered to ask */
        stop_check_done(s);
        return 0;
}

int service_stop_then(Service *s, const char *reason, ServiceStoppedHandler handler, void *userdata) {
        assert(s);
        assert(handler);

        s->on_stopped = handler;
        s->on_stopped_userdata = userdata;
        return service_stop(s, reason, NULL);
}

static int on_idle_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Service *s = userdata;

        s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
        log_info("app service '%s': no connection for %g s, stopping the provider", s->definition->name,
                 seconds(s->definition->idle_timeout_usec));
        (void) service_stop(s, "idle", NULL);
        return 0;
}

/* Registration */

/* After a provider registered: a start under way succeeded, or one came by itself. */
static void lifecycle_registered(Service *s) {
        bool started = s->activation_timer != NULL;

        s->restart_timer = sd_event_source_disable_unref(s->restart_timer);
        if (!started) {
                /* It came by itself: not ours to stop when idle, and a new run. */
                s->started_by_broker = false;
                s->idle_stoppable = false;
                s->run_ended = false;
        }
        s->run_failed = false;
        s->provider_spawned = s->process && s->provider_pid > 0 && s->process->pid == s->provider_pid;
        s->auto_start_pending = false;
        admin_calls_answer(s, ADMIN_START, NULL, NULL);
}

int service_register_provider(Service *s, Peer *peer) {
        assert(s);
        assert(peer);
        assert(!s->provider);

        s->provider = peer;
        peer->n_services++;
        log_info("app service '%s': provider %s registered", s->definition->name, peer->name);
        monitor_emit(s->manager, "provider-registered", "ssu", "service", s->definition->name,
                     "peer", peer->name, "pid", (uint32_t) s->provider_pid);
        lifecycle_registered(s);  /* before the activation's traces are dropped */
        service_stop_activation(s);
        service_set_state(s, SERVICE_ACTIVE);
        service_open_waiters(s);
        return 0;
}

/* The provider is gone (unregistered, or left the bus; clean: it unregistered): crash, clean
 * exit or the end of a stop. */
static void lifecycle_unregistered(Service *s, bool clean) {
        Manager *m = s->manager;
        _cleanup_(freep) char *text = NULL;

        s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
        s->provider_pid = 0;
        if (s->stopping) {
                stop_check_done(s);
                return;
        }
        if (restart_waits_for_bus(s) && arm_timer(s, &s->restart_timer, 0, on_restart_timer) < 0)
                /* The restart decided when the process was reaped waited for this. */
                log_warning("app service '%s': cannot arm the restart timer, not restarting", s->definition->name);
        /* The exit status of a process we started tells more: its reaping decides. */
        if (m->state == MANAGER_STOPPING || s->provider_spawned || !service_is_activatable(s))
                return;
        if (!clean && !s->run_ended) {
                if (asprintf(&text, "provider left the bus without unregistering") >= 0)
                        fault_report(s, FAULT_ERROR, "provider-crashed", text, NULL);
        }
        run_ended(s, !clean);
}

void service_unregister_provider(Service *s, uint32_t status) {
        Peer *peer = s->provider;

        assert(s);

        if (!peer)
                return;
        while (s->connections)
                connection_close(s->connections, 1u << ENDPOINT_CLIENT, status);
        s->provider = NULL;
        peer->n_services--;
        monitor_emit(s->manager, "provider-unregistered", "ssu", "service", s->definition->name,
                     "peer", peer->name, "pid", (uint32_t) s->provider_pid);
        /* May start the provider again. */
        lifecycle_unregistered(s, status == CLOSED_COMPLETED);
        if (!s->provider)
                service_set_state(s, service_state_without_provider(s));
        peer_release_if_unused(peer);
}

/* What activation.c reports */

static void on_process_exited(Service *s, Process *p, const siginfo_t *si) {
        bool failed = !(si->si_code == CLD_EXITED && si->si_status == 0);
        _cleanup_(freep) char *text = NULL;

        if (s->stopping) {
                stop_check_done(s);
                return;
        }
        if (p->stop_expected || s->manager->state == MANAGER_STOPPING || s->run_ended)
                return;

        text = describe_exit(p, si);
        if (failed)
                fault_report(s, FAULT_ERROR, "provider-crashed", text ? text : "provider process crashed", NULL);
        if (s->activation_timer && !s->provider) {
                service_activation_failed(s, "app service '%s': %s before registering", s->definition->name,
                                          text ? text : "provider exited");
                return;
        }
        run_ended(s, failed);
}

static void on_activation_failed(Service *s, const char *message) {
        if (s->process)
                s->process->stop_expected = true;  /* killed, or left to die: not a second failure */
        admin_calls_answer(s, ADMIN_START, APPSERVICE_ERROR_APP_UNAVAILABLE, message);
        if (s->stopping || s->manager->state == MANAGER_STOPPING)
                return;
        run_ended(s, /* failed= */ true);
}

static const ActivationEvents activation_events = {
        .failed = on_activation_failed,
        .process_exited = on_process_exited,
};

void service_lifecycle_free(Service *s) {
        assert(s);

        service_stop_activation(s);
        s->restart_timer = sd_event_source_disable_unref(s->restart_timer);
        s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
        s->retest_timer = sd_event_source_disable_unref(s->retest_timer);
        s->stop_timer = sd_event_source_disable_unref(s->stop_timer);
        s->stop_unit_slot = sd_bus_slot_unref(s->stop_unit_slot);
        s->on_stopped_defer = sd_event_source_disable_unref(s->on_stopped_defer);
        s->on_stopped = NULL;
        s->stopping = false;
        admin_calls_answer(s, ADMIN_STOP, NULL, NULL);
        admin_calls_answer(s, ADMIN_START, APPSERVICE_ERROR_APP_SERVICE_UNAVAILABLE, "the app service was removed");
        admin_calls_answer(s, ADMIN_RESTART, APPSERVICE_ERROR_APP_SERVICE_UNAVAILABLE, "the app service was removed");
}

/* The node's turns: after every event, at start, at a reload, at shutdown (manager.c) */

static bool service_is_idle(const Service *s) {
        return s->provider && s->idle_stoppable && !s->stopping && s->n_connections == 0 && !s->waiters &&
                s->definition->idle_timeout_usec > 0;
}

void service_update_idle_timer(Service *s) {
        int r;

        assert(s);

        if (!service_is_idle(s)) {
                s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
                return;
        }
        if (s->idle_timer)
                return;
        r = arm_timer(s, &s->idle_timer, s->definition->idle_timeout_usec, on_idle_timer);
        if (r < 0)
                log_warning_errno(r, "app service '%s': cannot arm the idle timer, ignoring: %m", s->definition->name);
}

bool service_wants_auto_start(Service *s) {
        assert(s);

        if (!s->definition->auto_start || s->disabled)
                return false;
        if (!service_is_activatable(s)) {
                log_warning("app service '%s': AutoStart=yes, but there is no Exec= or SystemdService= to "
                            "start it with, ignoring", s->definition->name);
                return false;
        }
        return true;
}

void service_lifecycle_added(Service *s) {
        if (!s || !s->definition->auto_start || s->disabled || s->provider || !service_is_activatable(s) ||
            s->manager->state == MANAGER_STOPPING)
                return;
        log_info("app service '%s': added with AutoStart=yes, starting the provider", s->definition->name);
        s->auto_start_pending = s->manager->state == MANAGER_STARTING;
        (void) service_start(s, START_AUTO);
}

void service_lifecycle_shutdown(Service *s) {
        assert(s);

        s->restart_timer = sd_event_source_disable_unref(s->restart_timer);
        s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
        s->retest_timer = sd_event_source_disable_unref(s->retest_timer);
        s->stop_timer = sd_event_source_disable_unref(s->stop_timer);
        s->stopping = false;
        /* Everything stops now: a stop is done; a start will not happen. */
        admin_calls_answer(s, ADMIN_STOP, NULL, NULL);
        admin_calls_answer(s, ADMIN_START, APPSERVICE_ERROR_APP_UNAVAILABLE, "appserviced is shutting down");
        admin_calls_answer(s, ADMIN_RESTART, APPSERVICE_ERROR_APP_UNAVAILABLE, "appserviced is shutting down");
}

/* Manager.StartService, StopService, RestartService, once authorized (manager-dbus.c) */

/* The checks StartService and RestartService share; fills error when refused. */
static int admin_check_start(Service *s, sd_bus_error *error) {
        const char *name = s->definition->name;

        if (s->manager->state == MANAGER_STOPPING)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_APP_UNAVAILABLE,
                                         "app service '%s': appserviced is shutting down", name);
        if (s->disabled)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_DISABLED_BY_POLICY, "app service '%s' is disabled",
                                         name);
        if (!service_is_activatable(s) && !(s->provider && !s->stopping))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_APP_UNAVAILABLE,
                                         "app service '%s' cannot be started (no Exec= or SystemdService=)", name);
        return 0;
}

int service_admin_start(Service *s, Completion *done, sd_bus_error *error) {
        int r;

        assert(s);
        assert(done);

        r = admin_check_start(s, error);
        if (r < 0)
                return r;
        if (s->provider && !s->stopping) {
                s->idle_stoppable = false;
                completion_answered(done, NULL);
                return 0;
        }

        log_info("app service '%s': start requested by an administrator", s->definition->name);
        start_limit_reset(s);  /* the administrator's start always tries */
        r = admin_call_add(s, ADMIN_START, done);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "app service '%s': %m", s->definition->name);
        s->idle_stoppable = false;
        if (s->stopping || s->activation_timer)
                return 0;  /* after the stop, or with the activation under way */
        (void) service_start(s, START_ADMIN);
        return 0;
}

int service_admin_stop(Service *s, Completion *done, sd_bus_error *error) {
        int r;

        assert(s);
        assert(done);

        log_info("app service '%s': stop requested by an administrator", s->definition->name);
        r = service_stop(s, "stop", done);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "app service '%s': cannot stop: %m", s->definition->name);
        return 0;
}

int service_admin_restart(Service *s, Completion *done, sd_bus_error *error) {
        int r;

        assert(s);
        assert(done);

        r = admin_check_start(s, error);
        if (r < 0)
                return r;
        if (!service_is_activatable(s))
                return sd_bus_error_setf(error, APPSERVICE_ERROR_APP_UNAVAILABLE,
                                         "app service '%s' cannot be started again (no Exec= or SystemdService=)",
                                         s->definition->name);

        log_info("app service '%s': restart requested by an administrator", s->definition->name);
        r = admin_call_add(s, ADMIN_RESTART, done);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "app service '%s': %m", s->definition->name);
        s->idle_stoppable = false;
        (void) service_stop(s, "stop", NULL);  /* when done, the restart turns into a start */
        return 0;
}
