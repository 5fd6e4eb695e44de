/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker's method handlers, fed whole D-Bus messages by peers on a real bus.
 *
 * Once: a private dbus-daemon (everything allowed: the policy is not what is tested here) and a
 * directory of three definitions. For each input: a fresh Manager connected to that bus, as
 * appserviced starts it, and three peers (two root, one nobody, since the broker decides by uid).
 * The input is a list of steps; each picks a peer and a call of the io.appservice1 interfaces
 * (or Properties, Introspect, a disconnect), with arguments from the recipe (recipe.h): names of
 * the declared services or others, object paths the broker handed out, request ids it delivered,
 * ValueSets of any shape. After each step every peer pings the broker, so the step is fully
 * processed, in order, without sleeping. At the end the peers leave, and the broker must let go
 * of everything they held.
 *
 * A crash, a sanitizer finding, the broker losing its bus, a step it does not finish within 10 s,
 * or state left behind by peers that are gone (peers, connections, what the limits count), is a
 * finding. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuzz-input.h"
#include "hashmap.h"
#include "log.h"
#include "manager.h"
#include "recipe.h"
#include "service.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define N_PEERS 3
#define MAX_STEPS 24
#define MAX_KNOWN 16
#define STEP_TIMEOUT_USEC (10 * USEC_PER_SEC)

#define FAIL(...) do { fprintf(stderr, "fuzz-broker: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static char *workdir, *services_dir, *bus_address;
static pid_t bus_pid;

static const char *const definitions[][2] = {
        { "com.example.fuzz.appservice",
          "[App Service]\n"
          "Name=com.example.fuzz\n"
          "Provider=com.example.FuzzApp\n"
          "Description=fuzzed\n"
          "MaxMessageSize=4096\n"
          "MaxPendingRequests=4\n"
          "MaxConnectionsPerPeer=3\n"
          "MaxBytesPerUser=8K\n"
          "MaxBytesTotal=12K\n"
          "MaxRequestsPerUser=5\n"
          "MaxPeersPerUser=1\n"
          "ActivationTimeoutSec=1\n"
          "[Properties]\n"
          "Color=blue\n"
          "[Secrets]\n"
          "Token=s3cr3t\n" },
        { "com.example.fuzz.closed.appservice",
          "[App Service]\n"
          "Name=com.example.fuzz.closed\n"
          "Provider=com.example.FuzzApp\n"
          "AllowUsers=root\n"
          "Restart=always\n"
          "RestartSec=0\n" },
        { "com.example.fuzz.systemd.appservice",
          "[App Service]\n"
          "Name=com.example.fuzz.systemd\n"
          "Provider=com.example.Other\n"
          "SystemdService=fuzz.service\n"
          "IdleTimeoutSec=1\n" },
};

static const char bus_config[] =
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
        "<busconfig>\n"
        "  <type>session</type>\n"
        "  <listen>unix:path=%s/bus</listen>\n"
        "  <auth>EXTERNAL</auth>\n"
        "  <policy context=\"default\">\n"
        "    <allow user=\"*\"/>\n"
        "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
        "    <allow eavesdrop=\"true\"/>\n"
        "    <allow own=\"*\"/>\n"
        "  </policy>\n"
        "</busconfig>\n";

static void write_file(const char *dir, const char *name, const char *text) {
        _cleanup_(freep) char *path = NULL;
        FILE *f;

        /* 0600 and root's: a trusted file, whose [Secrets] count. */
        if (asprintf(&path, "%s/%s", dir, name) < 0 || !(f = fopen(path, "we")) || fchmod(fileno(f), 0600) < 0)
                FAIL("cannot write %s", name);
        fputs(text, f);
        if (fclose(f) != 0)
                FAIL("cannot write %s", name);
}

static void stop_bus(void) {
        if (bus_pid > 0) {
                kill(bus_pid, SIGTERM);
                (void) waitpid(bus_pid, NULL, 0);
        }
        if (workdir) {
                _cleanup_(freep) char *cmd = NULL;
                if (asprintf(&cmd, "rm -rf '%s'", workdir) >= 0)
                        (void) system(cmd);
        }
}

static void start_bus(void) {
        _cleanup_(freep) char *config = NULL, *config_text = NULL;
        char address[512];
        int pipefd[2];
        ssize_t n;

        if (asprintf(&config_text, bus_config, workdir) < 0 || asprintf(&config, "%s/bus.conf", workdir) < 0)
                FAIL("out of memory");
        write_file(workdir, "bus.conf", config_text);

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                FAIL("pipe: %m");
        bus_pid = fork();
        if (bus_pid < 0)
                FAIL("fork: %m");
        if (bus_pid == 0) {
                char fd_arg[32], config_arg[1024];

                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (dup2(pipefd[1], 3) < 0)
                        _exit(127);
                snprintf(fd_arg, sizeof fd_arg, "--print-address=3");
                snprintf(config_arg, sizeof config_arg, "--config-file=%s", config);
                execlp("dbus-daemon", "dbus-daemon", config_arg, "--nofork", "--nopidfile", fd_arg, (char *) NULL);
                _exit(127);
        }
        close(pipefd[1]);
        n = read(pipefd[0], address, sizeof address - 1);
        close(pipefd[0]);
        if (n <= 0)
                FAIL("dbus-daemon did not start");
        address[n] = '\0';
        address[strcspn(address, "\n")] = '\0';
        bus_address = strdup(address);
        if (!bus_address)
                FAIL("out of memory");
        atexit(stop_bus);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char template[] = "/tmp/fuzz-broker-XXXXXX";

        log_set_max_level(getenv("FUZZ_BROKER_LOG") ? LOG_DEBUG : LOG_CRIT);
        /* The broker counts on these being blocked (main.c). */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        workdir = mkdtemp(template) ? strdup(template) : NULL;
        if (!workdir || chmod(workdir, 0755) < 0 || asprintf(&services_dir, "%s/services", workdir) < 0 ||
            mkdir(services_dir, 0755) < 0)
                FAIL("cannot make the work directory");
        for (size_t i = 0; i < sizeof definitions / sizeof definitions[0]; i++)
                write_file(services_dir, definitions[i][0], definitions[i][1]);
        start_bus();
        setenv("DBUS_SESSION_BUS_ADDRESS", bus_address, 1);
        return 0;
}

/* ---- one run ---- */

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

typedef struct Run {
        Manager *manager;
        const char *broker;           /* the broker's unique name */
        sd_bus *peers[N_PEERS];
        bool ping_pending[N_PEERS];
        char *paths[MAX_KNOWN];       /* object paths the broker handed out */
        size_t n_paths;
        uint64_t ids[MAX_KNOWN];      /* request ids it delivered */
        size_t n_ids;
} Run;

static void remember_path(Run *run, const char *path) {
        char *copy;

        if (run->n_paths >= MAX_KNOWN)
                return;
        for (size_t i = 0; i < run->n_paths; i++)
                if (strcmp(run->paths[i], path) == 0)
                        return;
        copy = strdup(path);
        if (!copy)
                FAIL("out of memory");
        run->paths[run->n_paths++] = copy;
}

/* Whatever a peer receives: object paths and request ids to use in later steps. */
static int on_peer_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Run *run = userdata;
        const char *path;
        uint64_t id;

        if (sd_bus_message_is_signal(m, "io.appservice1.Connection", "RequestReceived")) {
                if (sd_bus_message_read(m, "t", &id) >= 0 && run->n_ids < MAX_KNOWN)
                        run->ids[run->n_ids++] = id;
                if (sd_bus_message_get_path(m))
                        remember_path(run, sd_bus_message_get_path(m));
        } else {
                /* ConnectionOpened, and the replies of OpenConnection and RegisterProvider. */
                char type;
                const char *contents;
                if (sd_bus_message_peek_type(m, &type, &contents) > 0 && type == 'o' &&
                    sd_bus_message_read(m, "o", &path) >= 0)
                        remember_path(run, path);
        }
        (void) sd_bus_message_rewind(m, true);
        return 0;
}

static int on_ping_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        bool *pending = userdata;

        *pending = false;
        return 0;
}

static sd_bus *connect_peer(Run *run, unsigned i) {
        sd_bus *bus = NULL;
        /* Only root can connect as another user; elsewhere every peer is the same user. */
        bool nobody = i == N_PEERS - 1 && geteuid() == 0;
        int r;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, bus_address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_negotiate_fds(bus, true);
        /* The bus takes the peer's uid from the socket when it connects. */
        if (r >= 0 && nobody && seteuid(65534) < 0)
                FAIL("seteuid: %m");
        if (r >= 0)
                r = sd_bus_start(bus);
        if (nobody && seteuid(0) < 0)
                FAIL("seteuid back: %m");
        if (r >= 0)
                r = sd_bus_add_filter(bus, NULL, on_peer_message, run);
        if (r >= 0)
                r = sd_bus_attach_event(bus, run->manager->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                FAIL("cannot connect peer %u: %s", i, strerror(-r));
        return bus;
}

static void check_broker_alive(Run *run) {
        if (!sd_bus_is_open(run->manager->bus))
                FAIL("the broker lost its bus connection");
}

/* Every peer pings the broker and waits for the answer: everything sent before is processed. */
static void barrier(Run *run) {
        uint64_t deadline = now_usec() + STEP_TIMEOUT_USEC;
        int r;

        for (unsigned i = 0; i < N_PEERS; i++) {
                run->ping_pending[i] = false;
                if (!run->peers[i])
                        continue;
                /* A peer that sent what the bus does not take (a message nested deeper than 64)
                 * is thrown off the bus by dbus-daemon: its own doing, it connects anew later. */
                r = sd_bus_call_method_async(run->peers[i], NULL, run->broker, "/io/appservice1",
                                             "org.freedesktop.DBus.Peer", "Ping", on_ping_reply,
                                             &run->ping_pending[i], "");
                if (r < 0 && !sd_bus_is_open(run->peers[i])) {
                        run->peers[i] = sd_bus_flush_close_unref(run->peers[i]);
                        continue;
                }
                if (r < 0)
                        FAIL("ping: %s", strerror(-r));
                run->ping_pending[i] = true;
        }
        for (;;) {
                bool pending = false;

                for (unsigned i = 0; i < N_PEERS; i++) {
                        if (run->peers[i] && !sd_bus_is_open(run->peers[i])) {
                                run->peers[i] = sd_bus_flush_close_unref(run->peers[i]);
                                run->ping_pending[i] = false;
                        }
                        pending = pending || run->ping_pending[i];
                }
                if (!pending)
                        break;
                r = sd_event_run(run->manager->event, 100000);
                if (r < 0)
                        FAIL("event loop: %s", strerror(-r));
                check_broker_alive(run);
                if (now_usec() > deadline)
                        FAIL("the broker did not finish a step within %llu s",
                             (unsigned long long) (STEP_TIMEOUT_USEC / USEC_PER_SEC));
        }
}

/* ---- arguments ---- */

static const char *const interfaces[] = {
        "io.appservice1.Manager", "io.appservice1.Service", "io.appservice1.Connection",
        "org.freedesktop.DBus.Properties", "org.freedesktop.DBus.Introspectable",
        "org.freedesktop.DBus.ObjectManager", "org.freedesktop.DBus.Peer",
};

static const char *pick_path(Run *run, FuzzInput *in) {
        static const char *const fixed[] = { "/io/appservice1", "/io/appservice1/service", "/", "/io/appservice1/connection/1" };
        static const char *const services[] = { "com.example.fuzz", "com.example.fuzz.closed", "com.example.fuzz.systemd" };
        uint8_t choice = fuzz_input_byte(in);
        Service *s;

        /* The most recent first: usually the connection just opened. */
        if (choice < 64 && run->n_paths > 0)
                return run->paths[run->n_paths - 1 - choice % run->n_paths];
        if (choice < 128) {
                s = manager_find_service(run->manager, services[choice % 3]);
                if (s)
                        return s->path;
        }
        return fixed[choice % 4];
}

static uint64_t pick_id(Run *run, FuzzInput *in) {
        uint8_t choice = fuzz_input_byte(in);

        if (choice < 192 && run->n_ids > 0)
                return run->ids[run->n_ids - 1 - choice % run->n_ids];
        return fuzz_input_u64(in);
}

/* ---- steps ---- */

typedef enum Kind {
        K_OPEN, K_LIST, K_REGISTER, K_UNREGISTER, K_ENABLE, K_START, K_STOP, K_RESTART, K_RELOAD,
        K_SUBMIT, K_MONITOR, K_UNMONITOR, K_SERVICE_SEND, K_LOG, K_SEND, K_RESPOND, K_CLOSE,
        K_GET_ALL, K_GET, K_INTROSPECT, K_MANAGED, K_DISCONNECT, _K_MAX
} Kind;

static int append_string(sd_bus_message *m, FuzzInput *in) {
        _cleanup_(freep) char *s = recipe_string(in);

        return sd_bus_message_append_basic(m, 's', s);
}

static int new_call(Run *run, sd_bus *peer, const char *path, const char *interface, const char *member,
                    sd_bus_message **ret) {
        return sd_bus_message_new_method_call(peer, ret, run->broker, path, interface, member);
}

static int step(Run *run, FuzzInput *in) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        uint8_t choice = fuzz_input_byte(in);
        unsigned p = choice % N_PEERS;
        Kind kind = (Kind) ((choice / N_PEERS) % _K_MAX);
        sd_bus *peer = run->peers[p];
        const char *manager = "/io/appservice1";
        int r = 0;

        if (!peer) {
                run->peers[p] = connect_peer(run, p);
                return 0;
        }

        switch (kind) {
        case K_OPEN:
                r = new_call(run, peer, manager, "io.appservice1.Manager", "OpenConnection", &call);
                if (r >= 0)
                        r = append_string(call, in);
                if (r >= 0)
                        r = append_string(call, in);
                if (r >= 0)
                        r = recipe_append_value_set(call, in, 0);
                break;
        case K_LIST:
        case K_RELOAD:
        case K_UNMONITOR:
                r = new_call(run, peer, manager, "io.appservice1.Manager",
                             kind == K_LIST ? "ListServices" : kind == K_RELOAD ? "Reload" : "StopMonitoring", &call);
                break;
        case K_REGISTER:
                r = new_call(run, peer, manager, "io.appservice1.Manager", "RegisterProvider", &call);
                if (r >= 0)
                        r = append_string(call, in);
                if (r >= 0)
                        r = recipe_append_value_set(call, in, 0);
                break;
        case K_UNREGISTER:
        case K_START:
        case K_STOP:
        case K_RESTART:
                r = new_call(run, peer, manager, "io.appservice1.Manager",
                             kind == K_UNREGISTER ? "UnregisterProvider" : kind == K_START ? "StartService" :
                             kind == K_STOP ? "StopService" : "RestartService", &call);
                if (r >= 0)
                        r = append_string(call, in);
                break;
        case K_ENABLE:
                r = new_call(run, peer, manager, "io.appservice1.Manager", "SetServiceEnabled", &call);
                if (r >= 0)
                        r = append_string(call, in);
                if (r >= 0)
                        r = sd_bus_message_append(call, "b", fuzz_input_byte(in) & 1);
                break;
        case K_SUBMIT:
                r = new_call(run, peer, manager, "io.appservice1.Manager", "SubmitAction", &call);
                if (r >= 0)
                        r = append_string(call, in);
                if (r >= 0)
                        r = append_string(call, in);
                if (r >= 0)
                        r = recipe_append_value_set(call, in, 0);
                break;
        case K_MONITOR:
                r = new_call(run, peer, manager, "io.appservice1.Manager", "StartMonitoring", &call);
                if (r >= 0)
                        r = recipe_append_value_set(call, in, 0);
                break;
        case K_SERVICE_SEND:
        case K_SEND:
                r = new_call(run, peer, pick_path(run, in),
                             kind == K_SEND ? "io.appservice1.Connection" : "io.appservice1.Service",
                             "SendMessage", &call);
                if (r >= 0)
                        r = recipe_append_value_set(call, in, 0);
                break;
        case K_LOG:
                r = new_call(run, peer, pick_path(run, in), "io.appservice1.Service", "Log", &call);
                for (int i = 0; r >= 0 && i < 3; i++)
                        r = append_string(call, in);
                break;
        case K_RESPOND:
                r = new_call(run, peer, pick_path(run, in), "io.appservice1.Connection", "SendResponse", &call);
                if (r >= 0)
                        r = sd_bus_message_append(call, "t", pick_id(run, in));
                if (r >= 0)
                        r = recipe_append_value_set(call, in, 0);
                break;
        case K_CLOSE:
                r = new_call(run, peer, pick_path(run, in), "io.appservice1.Connection", "Close", &call);
                break;
        case K_GET_ALL:
        case K_GET:
                r = new_call(run, peer, pick_path(run, in), "org.freedesktop.DBus.Properties",
                             kind == K_GET ? "Get" : "GetAll", &call);
                if (r >= 0)
                        r = sd_bus_message_append(call, "s", interfaces[fuzz_input_below(in, 3)]);
                if (r >= 0 && kind == K_GET)
                        r = append_string(call, in);
                break;
        case K_INTROSPECT:
                r = new_call(run, peer, pick_path(run, in), "org.freedesktop.DBus.Introspectable", "Introspect", &call);
                break;
        case K_MANAGED:
                r = new_call(run, peer, manager, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", &call);
                break;
        case K_DISCONNECT:
                /* Leaving with everything open; the next step of this peer connects anew. */
                run->peers[p] = sd_bus_flush_close_unref(peer);
                return 0;
        default:
                return 0;
        }
        if (r < 0)
                return 0;  /* sd-bus refused to build it: nothing a peer could send */

        /* sd-bus checks some things only when it seals the message (found by a long run: an
         * OpenConnection it had built without complaint was refused with EINVAL): what it
         * refuses to send, no peer using it can send either. */
        r = sd_bus_call_async(peer, NULL, call, on_peer_message, run, 0);
        if (r < 0 && !sd_bus_is_open(peer))
                run->peers[p] = sd_bus_flush_close_unref(peer);
        if (r < 0)
                return 0;
        return 1;
}

/* As appserviced's main() does, but on the bus of the harness and without signals or the
 * directory watch. */
static int start_broker(Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        r = manager_new(&m);
        if (r < 0)
                return r;
        m->user_bus = true;
        m->services_dirs = calloc(2, sizeof(char *));
        if (!m->services_dirs || !(m->services_dirs[0] = strdup(services_dir)))
                return -ENOMEM;
        r = manager_load_services(m);
        if (r >= 0)
                r = manager_connect_bus(m);
        if (r >= 0)
                r = manager_start_providers(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

static void run_free(Run *run) {
        for (size_t i = 0; i < run->n_paths; i++)
                free(run->paths[i]);
        manager_free(run->manager);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in = fuzz_input(data, size);
        Run run = {};
        uint64_t deadline;
        int r;

        /* libFuzzer's SIGALRM (its -timeout watch) can interrupt the synchronous calls of the
         * start-up: that is the harness's doing, so start again. */
        for (int attempt = 0;; attempt++) {
                r = start_broker(&run.manager);
                if (r != -EINTR || attempt >= 5)
                        break;
        }
        if (r < 0)
                FAIL("cannot start the broker: %s", strerror(-r));
        r = sd_bus_get_unique_name(run.manager->bus, &run.broker);
        if (r < 0)
                FAIL("no unique name: %s", strerror(-r));

        for (unsigned i = 0; i < N_PEERS; i++)
                run.peers[i] = connect_peer(&run, i);

        for (unsigned n = 0; n < MAX_STEPS && !fuzz_input_at_end(&in); n++) {
                step(&run, &in);
                barrier(&run);
        }

        /* The peers leave: whatever they held must go. */
        for (unsigned i = 0; i < N_PEERS; i++)
                run.peers[i] = sd_bus_flush_close_unref(run.peers[i]);
        deadline = now_usec() + STEP_TIMEOUT_USEC;
        while (hashmap_size(run.manager->peers) > 0 || hashmap_size(run.manager->connections) > 0) {
                r = sd_event_run(run.manager->event, 100000);
                if (r < 0)
                        FAIL("event loop: %s", strerror(-r));
                check_broker_alive(&run);
                if (now_usec() > deadline)
                        FAIL("%zu peers and %zu connections are left after every peer left the bus",
                             hashmap_size(run.manager->peers), hashmap_size(run.manager->connections));
        }
        if (run.manager->bytes_held > 0 || hashmap_size(run.manager->usage) > 0 ||
            hashmap_size(run.manager->service_usage) > 0)
                FAIL("%llu bytes are still counted as held, for %zu users and %zu services, after every peer "
                     "left the bus", (unsigned long long) run.manager->bytes_held, hashmap_size(run.manager->usage),
                     hashmap_size(run.manager->service_usage));

        run_free(&run);
        return 0;
}
