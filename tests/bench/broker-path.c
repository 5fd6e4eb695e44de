/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * broker-path: the brokered round trip, timed, against the plain D-Bus call it is made of.
 *
 *   broker-path --address=ADDR --service=NAME [--action=ACTION] [--count=N] [--depth=D] [--size=BYTES] [--warmup=W]
 *   broker-path --address=ADDR (--plain | --relay) [--count=N] [--depth=D] [--size=BYTES] [--warmup=W]
 *
 * Brokered: opens one connection to app service NAME (an echo: it answers every message with the
 * message) and sends N messages on it, io.appservice1.Connection.SendMessage with the ValueSet
 * {"Text": <BYTES x's>} ({"Action": <ACTION>, "Text": ...} with --action, for a service with a
 * contract whose echo leaves the action out of its answer: examples/echo --strip-action), D in
 * flight at once (1: one after another). Plain: forks a process that
 * serves one method on the same bus (it replies with the ValueSet it was sent) and makes the same
 * N calls to it directly; that is the floor, the cost of the bus itself. Relay: forks a relay and
 * an echo that exchange the brokered path's five messages and nothing else (the client's call, a
 * unicast signal to the echo, the echo's call back with the answer, the relay's reply to it and
 * its reply to the client), without a check or a table beyond the calls in flight: the floor of
 * the protocol itself on this bus, which no broker can go below.
 *
 * Each call is timed from its send to its reply (CLOCK_MONOTONIC); prints one line:
 *   <brokered|plain|relay> depth=D size=BYTES count=N p50_us=... p99_us=... calls_per_s=...
 * The first W calls (100) are sent and not counted. Every reply is checked (no error, the
 * ValueSet as sent for the first). Plain sd-bus on one connection, no event loop: the client is
 * never what limits the figures. tests/bench/broker-path.py runs both against a private broker.
 * A benchmark: it fails only when something does not work, never on a number.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

#define BROKER_NAME      "io.appservice1"
#define BROKER_PATH      "/io/appservice1"
#define MANAGER_IFACE    "io.appservice1.Manager"
#define CONNECTION_IFACE "io.appservice1.Connection"
#define PLAIN_PATH       "/io/appservice1/bench"
#define PLAIN_IFACE      "io.appservice1.Bench"
#define CALL_TIMEOUT_USEC (30ULL * 1000000ULL)

static const char *arg_address = NULL;
static const char *arg_service = NULL;
static const char *arg_action = NULL;
static bool arg_plain = false;
static bool arg_relay = false;
static unsigned arg_count = 10000;
static unsigned arg_depth = 1;
static unsigned arg_size = 16;
static unsigned arg_warmup = 100;

typedef struct Bench {
        sd_bus *bus;
        const char *destination;
        char *broker;          /* brokered: the broker's unique name */
        char *path;            /* brokered: the connection; plain and relay: PLAIN_PATH */
        const char *interface;
        const char *member;
        char *text;            /* the value sent */

        unsigned total;        /* warm-up and counted */
        unsigned sent, done;
        uint64_t *latency_ns;  /* of the counted calls, by index */
        int error;             /* the first failure */
} Bench;

typedef struct Call {
        Bench *bench;
        unsigned index;
        uint64_t start_ns;
} Call;

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int append_valueset(sd_bus_message *m, const char *text) {
        if (arg_action)
                return sd_bus_message_append(m, "a{sv}", 2, "Action", "s", arg_action, "Text", "s", text);
        return sd_bus_message_append(m, "a{sv}", 1, "Text", "s", text);
}

/* The reply must be a ValueSet; the first one is compared with what was sent. */
static int check_reply(Bench *b, sd_bus_message *reply, bool compare) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *key, *text;
        int r;

        if (e) {
                fprintf(stderr, "broker-path: call failed: %s: %s\n", e->name, e->message ?: "");
                return -EIO;
        }
        if (!compare)
                return 0;
        r = sd_bus_message_read(reply, "a{sv}", 1, &key, "s", &text);
        if (r < 0)
                return r;
        if (strcmp(key, "Text") != 0 || strcmp(text, b->text) != 0) {
                fprintf(stderr, "broker-path: the reply is not the message sent\n");
                return -EBADMSG;
        }
        return 0;
}

static int send_call(Bench *b);

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Call *c = userdata;
        Bench *b = c->bench;
        uint64_t end = now_ns();
        int r;

        r = check_reply(b, reply, c->index == 0);
        if (r < 0 && b->error == 0)
                b->error = r;
        if (c->index >= arg_warmup)
                b->latency_ns[c->index - arg_warmup] = end - c->start_ns;
        b->done++;
        /* Counted calls keep the depth; warm-up ones are sent by run(), one at a time. */
        if (b->error == 0 && c->index >= arg_warmup && b->sent < b->total) {
                r = send_call(b);
                if (r < 0 && b->error == 0)
                        b->error = r;
        }
        free(c);
        return 0;
}

static int send_call(Bench *b) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        Call *c;
        int r;

        r = sd_bus_message_new_method_call(b->bus, &m, b->destination, b->path, b->interface, b->member);
        if (r < 0)
                return r;
        r = append_valueset(m, b->text);
        if (r < 0)
                return r;
        c = malloc(sizeof(Call));
        if (!c)
                return -ENOMEM;
        *c = (Call) { .bench = b, .index = b->sent, .start_ns = now_ns() };
        r = sd_bus_call_async(b->bus, NULL, m, on_reply, c, CALL_TIMEOUT_USEC);
        if (r < 0) {
                free(c);
                return r;
        }
        b->sent++;
        return 0;
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

static double percentile_us(const uint64_t *sorted, unsigned n, double p) {
        unsigned i = (unsigned) (p * (n - 1) + 0.5);

        return sorted[i] / 1000.0;
}

/* Warm-up calls one at a time, then the counted ones `arg_depth` at a time. */
static int run(Bench *b) {
        uint64_t start = 0, elapsed;
        unsigned n = arg_count;
        int r;

        b->total = arg_warmup + arg_count;
        b->latency_ns = calloc(n, sizeof(uint64_t));
        if (!b->latency_ns)
                return -ENOMEM;

        for (;;) {
                if (b->done == arg_warmup && b->sent == arg_warmup) {
                        start = now_ns();
                        for (unsigned i = 0; i < arg_depth && b->sent < b->total; i++) {
                                r = send_call(b);
                                if (r < 0)
                                        return r;
                        }
                } else if (b->sent == b->done && b->sent < arg_warmup) {
                        r = send_call(b);
                        if (r < 0)
                                return r;
                }
                if (b->error != 0)
                        return b->error;
                if (b->done == b->total)
                        break;
                r = sd_bus_process(b->bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                r = sd_bus_wait(b->bus, UINT64_MAX);
                if (r < 0 && r != -EINTR)
                        return r;
        }
        elapsed = now_ns() - start;

        qsort(b->latency_ns, n, sizeof(uint64_t), compare_u64);
        printf("%s depth=%u size=%u count=%u p50_us=%.1f p99_us=%.1f calls_per_s=%.0f\n",
               arg_plain ? "plain" : arg_relay ? "relay" : "brokered", arg_depth, arg_size, n, percentile_us(b->latency_ns, n, 0.50),
               percentile_us(b->latency_ns, n, 0.99), n / (elapsed / 1e9));
        fflush(stdout);
        return 0;
}

static int bus_open(sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, arg_address);
        if (r < 0)
                return r;
        r = sd_bus_set_bus_client(bus, true);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = bus;
        bus = NULL;
        return 0;
}

/* The plain side: replies to every call with the ValueSet it carries, until the parent is gone. */
static int method_echo(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *key, *text;
        int r;

        r = sd_bus_message_read(m, "a{sv}", 1, &key, "s", &text);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "a{sv}", 1, key, "s", text);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static const sd_bus_vtable plain_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Echo", "a{sv}", "a{sv}", method_echo, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

static int serve_loop(sd_bus *bus) {
        int r;

        for (;;) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0 && r != -EINTR)
                        return r;
        }
}

/* The relay's side: the calls in flight, by the id of the signal that carried them. */
#define RELAY_SLOTS 4096u
static sd_bus_message *relay_calls[RELAY_SLOTS];
static uint64_t relay_last_id;
static const char *relay_echo;  /* the echo's unique name */

/* The client's call: a unicast signal to the echo, (t id, a{sv}). */
static int method_relay(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *signal = NULL;
        const char *key, *text;
        uint64_t id = ++relay_last_id;
        int r;

        r = sd_bus_message_read(m, "a{sv}", 1, &key, "s", &text);
        if (r < 0)
                return r;
        r = sd_bus_message_new_signal(sd_bus_message_get_bus(m), &signal, PLAIN_PATH, PLAIN_IFACE, "Request");
        if (r < 0)
                return r;
        r = sd_bus_message_set_destination(signal, relay_echo);
        if (r < 0)
                return r;
        r = sd_bus_message_append(signal, "ta{sv}", id, 1, key, "s", text);
        if (r < 0)
                return r;
        sd_bus_message_unref(relay_calls[id % RELAY_SLOTS]);
        relay_calls[id % RELAY_SLOTS] = sd_bus_message_ref(m);
        return sd_bus_send(NULL, signal, NULL);
}

/* The echo's answer: the client's reply first, then the echo's. */
static int method_answer(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_message *call;
        const char *key, *text;
        uint64_t id;
        int r;

        r = sd_bus_message_read(m, "ta{sv}", &id, 1, &key, "s", &text);
        if (r < 0)
                return r;
        call = relay_calls[id % RELAY_SLOTS];
        relay_calls[id % RELAY_SLOTS] = NULL;
        if (!call)
                return sd_bus_error_set(ret_error, SD_BUS_ERROR_INVALID_ARGS, "unknown request");
        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "a{sv}", 1, key, "s", text);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(call);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable relay_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Echo", "a{sv}", "a{sv}", method_relay, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Answer", "ta{sv}", "", method_answer, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

/* The echo's side: each Request signal is answered by a call back to its sender. */
static int on_answered(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        return 0;
}

static int on_request(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *key, *text;
        uint64_t id;
        int r;

        r = sd_bus_message_read(m, "ta{sv}", &id, 1, &key, "s", &text);
        if (r < 0)
                return r;
        return sd_bus_call_method_async(sd_bus_message_get_bus(m), NULL, sd_bus_message_get_sender(m), PLAIN_PATH,
                                        PLAIN_IFACE, "Answer", on_answered, NULL, "ta{sv}", id, 1, key, "s", text);
}

/* A server for the plain call, the relay or its echo: tells its unique name on `ready_fd`. */
typedef enum Role { ROLE_PLAIN, ROLE_RELAY, ROLE_ECHO } Role;

static int serve(Role role, const char *echo, int ready_fd) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        const char *unique;
        int r;

        r = bus_open(&bus);
        if (r < 0)
                return r;
        if (role == ROLE_PLAIN)
                r = sd_bus_add_object_vtable(bus, NULL, PLAIN_PATH, PLAIN_IFACE, plain_vtable, NULL);
        else if (role == ROLE_RELAY) {
                relay_echo = echo;
                r = sd_bus_add_object_vtable(bus, NULL, PLAIN_PATH, PLAIN_IFACE, relay_vtable, NULL);
        } else
                r = sd_bus_match_signal(bus, NULL, NULL, PLAIN_PATH, PLAIN_IFACE, "Request", on_request, NULL);
        if (r < 0)
                return r;
        r = sd_bus_get_unique_name(bus, &unique);
        if (r < 0)
                return r;
        if (write(ready_fd, unique, strlen(unique) + 1) < 0)
                return -errno;
        close(ready_fd);
        return serve_loop(bus);
}

/* Forks a server; its unique name goes to `ret_name`. */
static int start_server(Role role, const char *echo, pid_t *ret_pid, char ret_name[static 256]) {
        ssize_t n = 0, k;
        int fds[2];
        pid_t pid;

        if (pipe(fds) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                close(fds[0]);
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                _exit(serve(role, echo, fds[1]) < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
        }
        close(fds[1]);
        while (n < 255 && (k = read(fds[0], ret_name + n, 255 - n)) > 0)
                n += k;
        close(fds[0]);
        ret_name[n] = '\0';
        *ret_pid = pid;
        return n > 1 ? 0 : -EIO;
}

/* Opens the connection, and calls the broker by its unique name from then on (as libappservice-1
 * does): the bus does not look the well-known name up for each call. */
static int open_connection(Bench *b) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path, *owner;
        int r;

        r = sd_bus_call_method(b->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "GetNameOwner", &error, &reply, "s", BROKER_NAME);
        if (r < 0) {
                fprintf(stderr, "broker-path: GetNameOwner: %s\n", error.message ?: strerror(-r));
                return r;
        }
        r = sd_bus_message_read(reply, "s", &owner);
        if (r < 0)
                return r;
        b->broker = strdup(owner);
        if (!b->broker)
                return -ENOMEM;
        b->destination = b->broker;
        reply = sd_bus_message_unref(reply);

        r = sd_bus_call_method(b->bus, BROKER_NAME, BROKER_PATH, MANAGER_IFACE, "OpenConnection", &error, &reply,
                               "ssa{sv}", arg_service, "", 0);
        if (r < 0) {
                fprintf(stderr, "broker-path: OpenConnection: %s\n", error.message ?: strerror(-r));
                return r;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        b->path = strdup(path);
        return b->path ? 0 : -ENOMEM;
}

static void help(void) {
        printf("broker-path --address=ADDR (--service=NAME [--action=ACTION] | --plain | --relay) [--count=N] [--depth=D] [--size=BYTES] "
               "[--warmup=W]\n");
}

static int parse_unsigned(const char *s, unsigned min, unsigned *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end || end == s || v < min || v > 100000000UL)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static int parse_args(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help",    no_argument,       NULL, 'h' },
                { "address", required_argument, NULL, 'a' },
                { "service", required_argument, NULL, 's' },
                { "action",  required_argument, NULL, 'A' },
                { "plain",   no_argument,       NULL, 'p' },
                { "relay",   no_argument,       NULL, 'r' },
                { "count",   required_argument, NULL, 'n' },
                { "depth",   required_argument, NULL, 'd' },
                { "size",    required_argument, NULL, 'z' },
                { "warmup",  required_argument, NULL, 'w' },
                {}
        };
        int c, r = 0;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        exit(EXIT_SUCCESS);
                case 'a':
                        arg_address = optarg;
                        break;
                case 's':
                        arg_service = optarg;
                        break;
                case 'A':
                        arg_action = optarg;
                        break;
                case 'p':
                        arg_plain = true;
                        break;
                case 'r':
                        arg_relay = true;
                        break;
                case 'n':
                        r = parse_unsigned(optarg, 1, &arg_count);
                        break;
                case 'd':
                        r = parse_unsigned(optarg, 1, &arg_depth);
                        break;
                case 'z':
                        r = parse_unsigned(optarg, 0, &arg_size);
                        break;
                case 'w':
                        r = parse_unsigned(optarg, 1, &arg_warmup);
                        break;
                default:
                        return -EINVAL;
                }
                if (r < 0) {
                        fprintf(stderr, "broker-path: invalid value '%s'\n", optarg);
                        return r;
                }
        }
        if (!arg_address || arg_plain + arg_relay + !!arg_service != 1) {
                help();
                return -EINVAL;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        Bench b = {};
        char server_name[256], echo_name[256];
        pid_t server_pid = 0, echo_pid = 0;
        int r = 0;

        if (parse_args(argc, argv) < 0)
                return EXIT_FAILURE;

        b.text = malloc(arg_size + 1);
        if (!b.text)
                return EXIT_FAILURE;
        memset(b.text, 'x', arg_size);
        b.text[arg_size] = '\0';

        /* The relay's echo first: the relay sends it its signals. */
        if (arg_relay)
                r = start_server(ROLE_ECHO, NULL, &echo_pid, echo_name);
        if (r >= 0 && (arg_plain || arg_relay))
                r = start_server(arg_plain ? ROLE_PLAIN : ROLE_RELAY, echo_name, &server_pid, server_name);
        if (r < 0) {
                fprintf(stderr, "broker-path: the servers did not start: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }

        r = bus_open(&b.bus);
        if (r >= 0) {
                if (arg_plain || arg_relay) {
                        b.destination = server_name;
                        b.path = strdup(PLAIN_PATH);
                        b.interface = PLAIN_IFACE;
                        b.member = "Echo";
                        r = b.path ? 0 : -ENOMEM;
                } else {
                        b.interface = CONNECTION_IFACE;
                        b.member = "SendMessage";
                        r = open_connection(&b);
                }
        }
        if (r >= 0)
                r = run(&b);
        if (r < 0)
                fprintf(stderr, "broker-path: %s\n", strerror(-r));

        if (b.bus && arg_service && b.path)
                (void) sd_bus_call_method(b.bus, BROKER_NAME, b.path, CONNECTION_IFACE, "Close", NULL, NULL, "");
        sd_bus_flush_close_unref(b.bus);
        for (size_t i = 0; i < 2; i++) {
                pid_t pid = i == 0 ? server_pid : echo_pid;

                if (pid > 0) {
                        kill(pid, SIGTERM);
                        waitpid(pid, NULL, 0);
                }
        }
        free(b.latency_ns);
        free(b.path);
        free(b.broker);
        free(b.text);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
