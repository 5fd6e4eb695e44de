/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one owner struct of the daemon: event loop, bus, and every table (hostnamed's Context). */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-util.h"
#include "cleanup.h"
#include "definition.h"
#include "hashmap.h"
#include "quota.h"
#include "list.h"
#include "request.h"

typedef struct ActivationEvents ActivationEvents;
typedef struct AdminCall AdminCall;
typedef struct Authorization Authorization;
typedef struct Connection Connection;
typedef struct Peer Peer;
typedef struct Process Process;
typedef struct Request Request;
typedef struct Service Service;
typedef struct Waiter Waiter;

typedef enum ManagerState {
        MANAGER_STARTING,
        MANAGER_RUNNING,
        MANAGER_STOPPING,
} ManagerState;

typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        BusLoop *bus_loop;           /* the bus on the loop, a batch of messages per wake-up */
        bool user_bus;               /* --user: the session bus */
        char **services_dirs;        /* --services-dir; NULL: the contract's search path */
        char **contracts_dirs;       /* --contracts-dir; NULL: the default contract search path */
        uint64_t exit_on_idle_usec;  /* --exit-on-idle; 0: never */
        char *config_path;           /* --config; NULL: SETTINGS_FILE if it exists */

        Limits limits;               /* appserviced.conf [Limits] */
        Hashmap *usage;              /* uid → UserUsage: what each user makes the broker hold */
        Hashmap *service_usage;      /* service name → ServiceUsage: the same at each app service */
        uint64_t bytes_held;         /* message bytes held for everybody */

        ManagerState state;
        char *node_name;
        bool allow_direct;           /* appserviced.conf [Policy] AllowDirect=: direct links at all */

        Service *services;           /* list, in definition order */
        Service *removed_services;   /* removed by a reload, their providers still stopping (list "services") */
        Hashmap *services_by_name;   /* Name= → Service */
        DefinitionLoadErrors load_errors; /* the files of the last load that did not load */
        Hashmap *connections;        /* id → Connection */
        Hashmap *peers;              /* unique bus name → Peer */
        Process *processes;          /* providers spawned through Exec= (list "processes") */
        Peer *monitors;              /* peers that called StartMonitoring (list "monitors") */
        Peer *subscribers;           /* peers that called Subscribe (list "subscribers", visibility.c) */
        uint64_t fallback_connection_id; /* connection.c: the last id counted when no random one was had */
        RequestClock request_clock;  /* request ids, and the one timer of all requests' deadlines */

        sd_event_source *lifecycle_check; /* post source: idle providers, "starting" → "running" */
        bool lifecycle_started;      /* AutoStart= providers were started */

        sd_event_source *idle_check; /* post source: re-evaluates idleness after every event */
        sd_event_source *idle_timer;
        sd_bus_slot *release_name_slot;
        sd_bus_slot *name_owner_changed_slot; /* peers leaving the bus (peer.c) */
        sd_bus_slot *disconnected_slot;       /* our own connection to the bus lost */

        Authorization *authorizations; /* administrative calls waiting for polkit (authorize.c) */
        sd_event_source *reload_timer;  /* debounces directory changes (reload.c) */
        sd_event_source **dir_watches;  /* one inotify watch per existing definition directory */
        size_t n_dir_watches;

        sd_bus_slot *manager_slot, *object_manager_slot, *service_slot, *service_enumerator_slot,
                *connection_slot;
} Manager;

int manager_new(Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_CLEANUP(Manager, manager_free);

/* Loads the definitions and creates one Service per declared app service. */
int manager_load_services(Manager *m);
/* Connects to the bus, publishes the objects and takes the name; in hostnamed's order. */
int manager_connect_bus(Manager *m);
/* Starts the AutoStart=yes providers and watches the node leave "starting" once each registered
 * or failed (after every event, with the idle timers). */
int manager_start_providers(Manager *m);
int manager_run(Manager *m);

/* SIGTERM/SIGINT: close everything as the contract says, release the name, leave the loop. */
void manager_shutdown(Manager *m);
void manager_set_state(Manager *m, ManagerState state);
const char *manager_state_to_string(ManagerState s);

Service *manager_find_service(Manager *m, const char *name);
/* The event loop's CLOCK_MONOTONIC time of the current iteration. */
uint64_t manager_now_usec(Manager *m);
Connection *manager_find_connection(Manager *m, uint64_t id);
/* The bridge to other nodes: the Bridge=yes service whose name sorts first, registered or not;
 * NULL when none is declared. */
Service *manager_find_bridge(Manager *m);
/* The Bridge=yes service whose registered provider is `sender` (a unique bus name), or NULL: a
 * peer found here is a bridge, and may speak for remote callers. */
Service *manager_bridge_of(Manager *m, const char *sender);

