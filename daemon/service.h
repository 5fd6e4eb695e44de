/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One declared app service: its definition, its provider, its connections, its activation. */

#include <signal.h>
#include <sys/types.h>

#include "completion.h"
#include "definition.h"
#include "identity.h"
#include "manager.h"

/* Called from the event loop (never from inside the daemon's own calls), so it may free the
 * service. */
typedef void (*ServiceStoppedHandler)(Service *s, void *userdata);

typedef enum ServiceState {
        SERVICE_INACTIVE,
        SERVICE_ACTIVATING,
        SERVICE_ACTIVE,
        SERVICE_FAILED,
        SERVICE_DISABLED,
} ServiceState;

/* An OpenConnection or Service.SendMessage call waiting for the provider to register. */
struct Waiter {
        Service *service;
        Peer *peer;
        sd_bus_message *call;
        Identity identity;
        bool one_shot;
        uint64_t size;               /* a one-shot's ValueSet, checked before it waits */
        Charge charge;               /* what it holds, counted for its caller's uid */
        Completion completion;       /* a one-shot's outcome goes there, when set (completion.h) */
        LIST_FIELDS(Waiter, service);
        LIST_FIELDS(Waiter, peer);
};

struct Service {
        Manager *manager;
        Definition *definition;
        char *path;

        ServiceState state;          /* without "disabled", which is the flag below */
        bool disabled;
        bool reload_mark;            /* reload.c: declared by the files just read */
        Peer *provider;              /* registered provider, or NULL */
        bool provider_direct_links;  /* ... which registered with "direct-links" (link.h) */

        Connection *connections;     /* list "service" */
        unsigned n_connections;
        Waiter *waiters;             /* list "service" */

        /* Activation under way (activation.c). */
        const ActivationEvents *activation_events;  /* who hears of failures and exits (lifecycle.c) */
        sd_event_source *activation_timer;
        Process *process;            /* the provider last spawned through Exec=, while it runs */
        sd_bus_slot *start_unit_slot;
        sd_bus_slot *job_removed_slot;
        char *job_path;

        /* Service.Log rate limit (fault.c). */
        uint64_t fault_interval_usec;    /* CLOCK_MONOTONIC start of the interval; 0: none */
        unsigned n_faults, n_faults_dropped;
        sd_event_source *fault_timer;    /* reports the dropped count at the interval's end */

        /* Lifecycle (lifecycle.c). */
        pid_t provider_pid;          /* the registered provider's pid, when known */
        bool provider_spawned;       /* that provider is the Exec= process the broker started */
        bool started_by_broker;      /* the current provider was started by the broker (not self-registered) */
        bool idle_stoppable;         /* started on demand by an open: IdleTimeoutSec= applies */
        bool run_ended;              /* the outcome of the current run was handled (once per run) */
        bool run_failed;             /* the last run crashed or failed to start: "failed" */
        bool auto_start_pending;     /* AutoStart=yes and neither registered nor failed yet */
        unsigned n_restarts;         /* NRestarts */
        sd_event_source *restart_timer;  /* automatic restart after RestartSec= */
        sd_event_source *idle_timer;     /* IdleTimeoutSec= */
        uint64_t start_limit_begin;      /* start of the StartLimitIntervalSec= window (CLOCK_MONOTONIC) */
        unsigned start_limit_count;      /* starts in that window */
        bool start_limit_hit;
        sd_event_source *retest_timer;   /* RetestSec= after the start limit was hit */

        /* A stop under way (StopRequested, then SIGTERM, then SIGKILL). */
        bool stopping;
        const char *stop_reason;         /* static string: "idle", "stop", "removed" */
        unsigned stop_stage;             /* steps taken, see stop_escalate() */
        sd_event_source *stop_timer;
        sd_bus_slot *stop_unit_slot;
        AdminCall *admin_calls;          /* StartService/StopService/RestartService waiting (list "service") */
        ServiceStoppedHandler on_stopped;/* see service_stop_then() */
        void *on_stopped_userdata;
        sd_event_source *on_stopped_defer;

        LIST_FIELDS(Service, services);
};

typedef enum AdminCallKind {
        ADMIN_START,    /* answered when the provider registered */
        ADMIN_STOP,     /* answered when the stop is done */
        ADMIN_RESTART,  /* a stop, then a start */
} AdminCallKind;

/* An administrative call (or the reload's stop of a removed service) waiting for the work. */
struct AdminCall {
        Service *service;
        AdminCallKind kind;
        Completion done;                 /* answered with no response, or failed; unset when nobody waits */
        LIST_FIELDS(AdminCall, service);
};

int service_new(Manager *m, Definition *d, Service **ret);  /* takes d */
Service *service_free(Service *s);

ServiceState service_get_state(const Service *s);  /* DISABLED when the flag is set */
const char *service_state_to_string(ServiceState s);
void service_set_state(Service *s, ServiceState state);
bool service_is_activatable(const Service *s);

/* Whether the caller passes AllowUsers=/AllowGroups= and the service is enabled (ListServices). */
bool service_may_open(const Service *s, const Identity *caller);
/* The contract's opening checks, in order, for a caller; on refusal fills error and returns < 0.
 * For a remote caller (caller->remote, vouched for by a bridge) AllowRemote= and
 * AllowRemotePrincipals= take the place of AllowUsers= and AllowGroups=. */
int service_check_open(Service *s, const char *provider, Peer *peer, const Identity *caller,
                       sd_bus_error *error);
/* Opens now: the provider is registered. `done` (taken) ends now (opened, or failed) or later
 * (a one-shot's outcome); the caller's identity may be taken. */
void service_open_now(Service *s, sd_bus_message *call, Peer *peer, Identity *caller, bool one_shot, uint64_t size,
                      Completion *done);
/* Opens the waiting opens, oldest first, once the provider registered. */
void service_open_waiters(Service *s);
/* Whether a stop is under way (lifecycle.c). */
bool service_is_stopping(const Service *s);
/* The state to settle in once no provider is registered. */
ServiceState service_state_without_provider(const Service *s);

/* Answers every waiting open with an error and drops the waiters. */
void service_fail_waiters(Service *s, const char *error_name, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
void waiter_free(Waiter *w);

/* Whether AllowUsers=/AllowGroups= let this caller (uid, primary and supplementary groups) open
 * the service; fails closed. */
bool definition_allows_identity(const Definition *d, const Identity *id);

/* activation.c: how a provider is started and stopped (Exec= or StartUnit, StopUnit) */

/* What an activation reports to whoever started it (lifecycle.c). */
struct ActivationEvents {
        /* The activation failed: logged, "failed", the waiters answered already. */
        void (*failed)(Service *s, const char *message);
        /* A provider process spawned through Exec= ended (it was reaped). */
        void (*process_exited)(Service *s, Process *p, const siginfo_t *si);
};

/* Spawns the provider or asks systemd to start its unit, with ActivationTimeoutSec= to register;
 * `events` hears how it ends, and of the process's exit later. */
int service_start_activation(Service *s, const ActivationEvents *events);
/* Fails the activation under way: logs, "failed", answers the waiters with AppUnavailable. */
void service_activation_failed(Service *s, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* Drops what an activation holds (timer, systemd job watch); a spawned provider keeps running. */
void service_stop_activation(Service *s);
/* Asks systemd to stop the provider's unit (SystemdService=). */
int service_stop_unit(Service *s);

/* lifecycle.c: when a provider starts, restarts and stops */

typedef enum StartReason {
        START_OPEN,     /* an open needs the provider: IdleTimeoutSec= applies */
        START_ADMIN,    /* StartService/RestartService */
        START_AUTO,     /* AutoStart=yes at daemon start */
        START_RESTART,  /* Restart= or a trial start after RetestSec= */
} StartReason;

/* Starts the provider unless the start limit forbids it; on failure the waiters and waiting
 * StartService calls have been answered. */
int service_start(Service *s, StartReason why);
/* Stops the provider (StopRequested, then SIGTERM/StopUnit, then SIGKILL or forced unregistration;
 * see Manager.StopService). `reason` is "idle", "stop" or "removed" (a static string). `done`,
 * when set, is answered (no response) once the stop is done, or at once when nothing runs.
 * Cancels a pending automatic restart; never counts as a failure. Returns 0, or < 0 when `done`
 * could not be queued (then it was not taken). */
int service_stop(Service *s, const char *reason, Completion *done);
/* service_stop() with `handler` run once the stop is done (or, when nothing runs, on the next
 * loop iteration); for a reload that removes the service and frees it then. A later call
 * replaces the handler. */
int service_stop_then(Service *s, const char *reason, ServiceStoppedHandler handler, void *userdata);
/* The AppUnavailable text while the start limit holds, or NULL. Free it. */
char *service_start_limit_message(const Service *s);

/* RegisterProvider: the waiting opens go to it. */
int service_register_provider(Service *s, Peer *peer);
/* status: what the clients are told (0 Completed for UnregisterProvider, 1 Canceled when the
 * provider left the bus or was made to go). May start the provider again (Restart=). */
void service_unregister_provider(Service *s, uint32_t status);

/* The node's turns (manager.c): */
/* After every event: arms or cancels IdleTimeoutSec=. */
void service_update_idle_timer(Service *s);
/* At start: whether AutoStart=yes applies (logs why not when it cannot). */
bool service_wants_auto_start(Service *s);
/* A service added by a reload: AutoStart=yes starts it at once. s may be NULL. */
void service_lifecycle_added(Service *s);
/* At shutdown: nothing restarts or stops any more; waiting administrative calls are answered. */
void service_lifecycle_shutdown(Service *s);
/* Before service_free(): timers, slots, the activation; answers waiting admin calls. */
void service_lifecycle_free(Service *s);

/* StartService, StopService and RestartService of an administrator (manager-dbus.c asked polkit):
 * refused at once with error set (< 0, `done` not taken), or `done` (taken) ends when the work
 * is done: the provider registered, the stop is over, or it failed. */
int service_admin_start(Service *s, Completion *done, sd_bus_error *error);
int service_admin_stop(Service *s, Completion *done, sd_bus_error *error);
int service_admin_restart(Service *s, Completion *done, sd_bus_error *error);

/* A provider process spawned through Exec=: reaped, its output logged line by line. */
/* A provider's stdout or stderr, read through a pipe and logged line by line (when the journal
 * does not take it directly: activation.c). */
typedef struct ProcessOutput {
        Process *process;
        sd_event_source *source;         /* NULL once the pipe is closed */
        int level;                       /* of a line without a "<N>" prefix */
        char *buffer;                    /* an incomplete line */
        size_t size;
} ProcessOutput;

struct Process {
        Manager *manager;
        Service *service;
        pid_t pid;
        char *identifier;                /* its lines' "IDENTIFIER[PID]:" (SyslogIdentifier=) */
        sd_event_source *child_source;   /* NULL once reaped */
        ProcessOutput output[2];         /* stdout (info), stderr (warning) */
        bool stop_expected;              /* the broker signalled it: its exit is no crash */
        LIST_FIELDS(Process, processes);
};

Process *process_free(Process *p);
/* SIGTERM to every provider the daemon started (at shutdown). */
void process_kill_all(Manager *m, int sig);
