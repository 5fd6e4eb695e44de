/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One declared app service: its definition, its provider, its connections, its activation. */

#include <sys/types.h>

#include "definition.h"
#include "identity.h"
#include "manager.h"

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

        Connection *connections;     /* list "service" */
        unsigned n_connections;
        Waiter *waiters;             /* list "service" */

        /* Activation under way (activation.c). */
        sd_event_source *activation_timer;
        Process *process;            /* the provider last spawned through Exec=, while it runs */
        sd_bus_slot *start_unit_slot;
        sd_bus_slot *job_removed_slot;
        char *job_path;

        LIST_FIELDS(Service, services);
};

int service_new(Manager *m, Definition *d, Service **ret);  /* takes d */
Service *service_free(Service *s);

ServiceState service_get_state(const Service *s);  /* DISABLED when the flag is set */
const char *service_state_to_string(ServiceState s);
void service_set_state(Service *s, ServiceState state);
bool service_is_activatable(const Service *s);

/* Whether the caller passes AllowUsers=/AllowGroups= and the service is enabled (ListServices). */
bool service_may_open(const Service *s, const Identity *caller);
/* The contract's opening checks, in order, for a caller; on refusal fills error and returns < 0. */
int service_check_open(Service *s, const char *provider, Peer *peer, const Identity *caller,
                       sd_bus_error *error);
/* The whole open of OpenConnection and Service.SendMessage: who calls, the checks, then open now
 * or after activation. Returns < 0 with error set when refused at once; otherwise the call is
 * answered now or later. */
int service_handle_open(Service *s, sd_bus_message *call, const char *provider, bool one_shot,
                        sd_bus_error *error);
/* Opens now if a provider is registered, or queues a waiter and activates. Replies to `call`
 * when done (now or later). */
int service_open(Service *s, sd_bus_message *call, Peer *peer, Identity *caller, bool one_shot);

int service_register_provider(Service *s, Peer *peer);
/* status: what the clients are told (0 Completed for UnregisterProvider, 1 Canceled when the
 * provider left the bus). */
void service_unregister_provider(Service *s, uint32_t status);

/* Answers every waiting open with an error and drops the waiters. */
void service_fail_waiters(Service *s, const char *error_name, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
void waiter_free(Waiter *w);

/* The contract's ValueSet checks (InvalidMessage, then MessageSizeTooLarge) on the a{sv} at the
 * current position of m, with this service's limits. */
int service_check_valueset(Service *s, sd_bus_message *m, sd_bus_error *error);

/* activation.c */
int service_start_activation(Service *s);
/* Drops what an activation holds (timer, systemd job watch); a spawned provider keeps running. */
void service_stop_activation(Service *s);

/* A provider process spawned through Exec=: reaped, its output logged line by line. */
struct Process {
        Manager *manager;
        Service *service;
        pid_t pid;
        sd_event_source *child_source;   /* NULL once reaped */
        sd_event_source *output_source;  /* NULL once the pipe is closed */
        char *buffer;                    /* an incomplete output line */
        size_t size;
        LIST_FIELDS(Process, processes);
};

Process *process_free(Process *p);
/* SIGTERM to every provider the daemon started (at shutdown). */
void manager_kill_processes(Manager *m, int sig);
