/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * load-client: the client side of the load and fault suite (tests/load/load-suite.py), on plain
 * sd-bus, many bus connections in one event loop, so that the client is never what limits the
 * figures. Every figure it has goes to stdout as one line of KEY=VALUE words.
 *
 *   load-client flood --service=NAME [--clients=N] [--requests=M] [--inflight=K] [--reopen]
 *                     [--deadline-sec=S] [--call-timeout-sec=T]
 *       N clients, each its own bus connection with one open app-service connection, send M
 *       requests each, K in flight. Every request carries a token of its own ({"token": <t>},
 *       client index and sequence number); the response must carry the same token back, else
 *       it counts as misrouted. Errors are counted by name; what has no answer when the
 *       deadline passes counts as hung, what was never sent as unsent, and a response that comes
 *       after one to a later request of the same client as reordered. With --reopen a client
 *       whose connection closed (the provider crashed) opens a new one and goes on. Prints
 *       "all-sent" once every request was written to the bus, then "flood ..." with the counts
 *       and latency percentiles.
 *   load-client connections --service=NAME [--clients=N] [--count=M]
 *       Opens M app-service connections spread over N bus connections (32 opens in flight per
 *       bus connection), prints "opened ...", waits for a line on stdin (or its end), closes
 *       them all with Connection.Close and prints "closed ...".
 *   load-client peers --service=NAME [--count=M] [--call-timeout-sec=T]
 *       M distinct peers, one after another: each a bus connection of its own that opens one
 *       app-service connection and makes one checked round trip, and stays. Stops after 3
 *       failures in a row (the broker is gone). Prints "peer-failed ..." for each failure and
 *       "peers ok=... failed=...", waits for a line on stdin (or its end) and exits.
 *
 * The bus is the system bus (DBUS_SYSTEM_BUS_ADDRESS). SIGTERM ends any mode early; its figures
 * are still printed.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

#define BROKER_NAME      "io.appservice1"
#define BROKER_PATH      "/io/appservice1"
#define MANAGER_IFACE    "io.appservice1.Manager"
#define CONNECTION_IFACE "io.appservice1.Connection"
#define MAX_ERROR_NAMES  16
#define OPEN_WINDOW      32
#define USEC_PER_SEC     1000000ULL

static const char *arg_service = NULL;
static unsigned arg_clients = 1;
static unsigned arg_requests = 1000;
static unsigned arg_inflight = 8;
static unsigned arg_count = 1;
static bool arg_reopen = false;
static uint64_t arg_deadline_usec = 120 * USEC_PER_SEC;
static uint64_t arg_call_timeout_usec = 60 * USEC_PER_SEC;

static void log_msg(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void log_msg(const char *format, ...) {
        va_list ap;

        fputs("load-client: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* ---- error names, counted ---------------------------------------------------------------------- */

typedef struct ErrorCount {
        char *name;
        uint64_t count;
} ErrorCount;

static ErrorCount errors[MAX_ERROR_NAMES];

static void count_error(const char *name) {
        size_t i;

        name = name ?: "(none)";
        for (i = 0; i < MAX_ERROR_NAMES && errors[i].name; i++)
                if (strcmp(errors[i].name, name) == 0)
                        break;
        if (i == MAX_ERROR_NAMES)
                i = MAX_ERROR_NAMES - 1; /* the last slot takes the rest, under its first name */
        if (!errors[i].name)
                errors[i].name = strdup(name);
        errors[i].count++;
}

/* " errors=Name:N,Name:N" or " errors=none"; the short error name (after the last dot). */
static void print_errors(void) {
        printf(" errors=");
        if (!errors[0].name)
                printf("none");
        for (size_t i = 0; i < MAX_ERROR_NAMES && errors[i].name; i++) {
                const char *dot = strrchr(errors[i].name, '.');

                printf("%s%s:%" PRIu64, i ? "," : "", dot ? dot + 1 : errors[i].name, errors[i].count);
        }
}

static void reset_errors(void) {
        for (size_t i = 0; i < MAX_ERROR_NAMES; i++) {
                free(errors[i].name);
                errors[i] = (ErrorCount) {};
        }
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

        return x < y ? -1 : x > y;
}

static uint32_t percentile(const uint32_t *sorted, size_t n, double p) {
        size_t i;

        if (n == 0)
                return 0;
        i = (size_t) (p * (double) (n - 1) + 0.5);
        return sorted[i < n ? i : n - 1];
}

/* ---- bus connections --------------------------------------------------------------------------- */

/* A bus connection of its own, ready (Hello answered): dbus-daemon allows only a few
 * connections that have not finished authenticating at a time (max_incomplete_connections). */
static int open_bus(sd_event *event, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetId", &error, NULL, "");
        if (r >= 0 && event)
                r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        *ret = bus;
        bus = NULL;
        return 0;
}

static int append_token_message(sd_bus_message *m, uint64_t token) {
        return sd_bus_message_append(m, "a{sv}", 1, "token", "t", token);
}

/* The token in a response a{sv}, or -ENOENT. */
static int read_token(sd_bus_message *m, uint64_t *ret) {
        const char *key;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0) {
                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r <= 0)
                        break;
                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0 && strcmp(key, "token") == 0) {
                        r = sd_bus_message_read(m, "v", "t", ret);
                        return r < 0 ? r : 0;
                }
                if (r >= 0)
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        return r < 0 ? r : -ENOENT;
}

/* ---- flood ------------------------------------------------------------------------------------- */

typedef struct Client Client;

typedef struct Slot {
        Client *client;
        uint32_t seq;
        uint32_t generation;    /* of the app-service connection it was sent on */
        uint64_t sent_at;
} Slot;

struct Client {
        unsigned index;
        sd_bus *bus;
        char *path;             /* the open app-service connection; NULL while (re)opening */
        uint32_t generation;
        bool opening, finished;
        unsigned next, in_flight, completed;
        uint32_t highest_answered;      /* the highest sequence number answered so far, plus one */
        Slot *slots;
};

typedef struct Flood {
        sd_event *event;
        Client *clients;
        uint32_t *latencies;
        uint64_t n_latencies;
        uint64_t sent, ok, lost, misrouted, reordered, open_failed, reopened, ok_after_reopen;
        unsigned clients_done;
        bool announced;
} Flood;

static Flood flood;

static void client_pump(Client *cl);

static void client_finish(Client *cl) {
        if (cl->finished || cl->completed < arg_requests)
                return;
        cl->finished = true;
        if (++flood.clients_done == arg_clients)
                (void) sd_event_exit(flood.event, 0);
}

static int on_opened(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Client *cl = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *path;

        cl->opening = false;
        if (e || sd_bus_message_read(reply, "o", &path) < 0) {
                /* Without a connection the client cannot send the rest: they count as lost. */
                count_error(e ? e->name : "BadOpenReply");
                flood.open_failed++;
                flood.lost += arg_requests - cl->next;
                cl->completed += arg_requests - cl->next;
                cl->next = arg_requests;
                client_finish(cl);
                return 0;
        }
        free(cl->path);
        cl->path = strdup(path);
        if (cl->generation > 0)
                flood.reopened++;
        cl->generation++;
        client_pump(cl);
        return 0;
}

static void client_open(Client *cl) {
        int r;

        cl->opening = true;
        free(cl->path);
        cl->path = NULL;
        r = sd_bus_call_method_async(cl->bus, NULL, BROKER_NAME, BROKER_PATH, MANAGER_IFACE,
                                     "OpenConnection", on_opened, cl, "ssa{sv}", arg_service, "", 0);
        if (r < 0) {
                log_msg("OpenConnection: %s", strerror(-r));
                cl->opening = false;
        }
}

/* The error says the app-service connection is gone (the provider crashed or left). */
static bool error_means_closed(const sd_bus_error *e) {
        return sd_bus_error_has_name(e, "io.appservice1.Error.Closed") ||
               sd_bus_error_has_name(e, "org.freedesktop.DBus.Error.UnknownObject") ||
               sd_bus_error_has_name(e, "org.freedesktop.DBus.Error.UnknownMethod") ||
               sd_bus_error_has_name(e, "org.freedesktop.DBus.Error.AccessDenied");
}

static int on_response(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Slot *s = userdata;
        Client *cl = s->client;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        uint64_t token, latency = now_usec() - s->sent_at;

        cl->in_flight--;
        cl->completed++;
        if (e) {
                count_error(e->name);
                flood.lost++;
                if (arg_reopen && error_means_closed(e) && s->generation == cl->generation && !cl->opening)
                        client_open(cl);
        } else if (read_token(reply, &token) < 0 ||
                   token != (((uint64_t) cl->index << 32) | s->seq)) {
                flood.misrouted++;
        } else {
                flood.ok++;
                /* Answered after a later request of the same client: the order is not the
                 * requests'. */
                if (s->seq + 1 < cl->highest_answered)
                        flood.reordered++;
                else
                        cl->highest_answered = s->seq + 1;
                if (cl->generation > 1)
                        flood.ok_after_reopen++;
                flood.latencies[flood.n_latencies++] = latency > UINT32_MAX ? UINT32_MAX : (uint32_t) latency;
        }
        client_pump(cl);
        client_finish(cl);
        return 0;
}

static void announce_if_all_sent(void) {
        if (flood.announced || flood.sent < (uint64_t) arg_clients * arg_requests)
                return;
        for (unsigned i = 0; i < arg_clients; i++)
                (void) sd_bus_flush(flood.clients[i].bus);
        flood.announced = true;
        printf("all-sent %" PRIu64 "\n", flood.sent);
        fflush(stdout);
}

static void client_pump(Client *cl) {
        while (cl->path && !cl->opening && cl->in_flight < arg_inflight && cl->next < arg_requests) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                Slot *s = &cl->slots[cl->next];
                int r;

                s->client = cl;
                s->seq = cl->next;
                s->generation = cl->generation;
                r = sd_bus_message_new_method_call(cl->bus, &m, BROKER_NAME, cl->path, CONNECTION_IFACE,
                                                   "SendMessage");
                if (r >= 0)
                        r = append_token_message(m, ((uint64_t) cl->index << 32) | s->seq);
                s->sent_at = now_usec();
                if (r >= 0)
                        r = sd_bus_call_async(cl->bus, NULL, m, on_response, s, arg_call_timeout_usec);
                if (r < 0) {
                        /* The bus connection itself broke: the rest of this client is lost. */
                        count_error("LocalSendFailed");
                        flood.lost += arg_requests - cl->next;
                        cl->completed += arg_requests - cl->next;
                        cl->next = arg_requests;
                        client_finish(cl);
                        return;
                }
                cl->next++;
                cl->in_flight++;
                flood.sent++;
        }
        announce_if_all_sent();
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        log_msg("deadline passed with requests unanswered");
        return sd_event_exit(flood.event, 0);
}

static int run_flood(sd_event *event) {
        uint64_t start, elapsed, hung = 0, unsent = 0;
        int r;

        flood.event = event;
        flood.clients = calloc(arg_clients, sizeof(Client));
        flood.latencies = calloc((size_t) arg_clients * arg_requests, sizeof(uint32_t));
        if (!flood.clients || !flood.latencies)
                return -ENOMEM;

        r = sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, arg_deadline_usec, 0, on_deadline, NULL);
        if (r < 0)
                return r;

        start = now_usec();
        for (unsigned i = 0; i < arg_clients; i++) {
                Client *cl = &flood.clients[i];

                cl->index = i;
                cl->slots = calloc(arg_requests, sizeof(Slot));
                if (!cl->slots)
                        return -ENOMEM;
                r = open_bus(event, &cl->bus);
                if (r < 0) {
                        log_msg("Failed to connect client %u: %s", i, strerror(-r));
                        return r;
                }
                client_open(cl);
        }

        r = sd_event_loop(event);
        elapsed = now_usec() - start;

        /* At the deadline (or SIGTERM): what was sent and never answered, and what never left. */
        for (unsigned i = 0; i < arg_clients; i++) {
                hung += flood.clients[i].in_flight;
                unsent += arg_requests - flood.clients[i].next;
        }
        qsort(flood.latencies, flood.n_latencies, sizeof(uint32_t), cmp_u32);
        printf("flood service=%s clients=%u requests=%" PRIu64 " sent=%" PRIu64 " ok=%" PRIu64
               " lost=%" PRIu64 " misrouted=%" PRIu64 " reordered=%" PRIu64 " hung=%" PRIu64
               " unsent=%" PRIu64 " open_failed=%" PRIu64
               " reopened=%" PRIu64 " ok_after_reopen=%" PRIu64 " elapsed_s=%.2f rate=%.0f"
               " p50_us=%" PRIu32 " p99_us=%" PRIu32 " max_us=%" PRIu32,
               arg_service, arg_clients, (uint64_t) arg_clients * arg_requests, flood.sent, flood.ok,
               flood.lost, flood.misrouted, flood.reordered, hung, unsent, flood.open_failed, flood.reopened,
               flood.ok_after_reopen,
               (double) elapsed / USEC_PER_SEC, (double) flood.ok * USEC_PER_SEC / (double) (elapsed ?: 1),
               percentile(flood.latencies, flood.n_latencies, 0.5),
               percentile(flood.latencies, flood.n_latencies, 0.99),
               percentile(flood.latencies, flood.n_latencies, 1.0));
        print_errors();
        printf("\n");
        fflush(stdout);

        for (unsigned i = 0; i < arg_clients; i++) {
                flood.clients[i].bus = sd_bus_flush_close_unref(flood.clients[i].bus);
                free(flood.clients[i].path);
                free(flood.clients[i].slots);
        }
        free(flood.clients);
        free(flood.latencies);
        return r;
}

/* ---- phases of one event loop ----------------------------------------------------------------- */

static bool interrupted = false;

/* Runs the loop until *done, or until SIGTERM/SIGINT ended it (interrupted). sd_event_exit()
 * would end the loop for good; the modes with several phases need it again. */
static int run_until(sd_event *event, const bool *done) {
        int r;

        while (!*done && !interrupted) {
                r = sd_event_run(event, UINT64_MAX);
                if (r < 0)
                        return r;
                if (sd_event_get_state(event) == SD_EVENT_FINISHED)
                        interrupted = true;
        }
        return 0;
}

static int on_stdin(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        bool *done = userdata;
        char buf[256];

        /* Any line, the end of the input or a broken input is the go-ahead; a signal is not. */
        if (read(fd, buf, sizeof(buf)) < 0 && errno == EINTR)
                return 0;
        *done = true;
        return 0;
}

static int wait_for_stdin(sd_event *event) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *source = NULL;
        bool done = false;
        int r;

        r = sd_event_add_io(event, &source, STDIN_FILENO, EPOLLIN | EPOLLHUP, on_stdin, &done);
        if (r < 0)
                return r;
        return run_until(event, &done);
}

/* ---- connections ------------------------------------------------------------------------------- */

/* One bus connection holding its share of the app-service connections. */
typedef struct Holder {
        sd_bus *bus;
        char **paths;
        unsigned want;          /* connections to open */
        unsigned n_paths;       /* opened */
        unsigned target, issued, done, in_flight; /* of the phase under way */
} Holder;

typedef struct Storm {
        Holder *holders;
        bool closing, phase_done;
        uint64_t opened, closed, failed;
        unsigned holders_done;
} Storm;

static Storm storm;

static void holder_pump(Holder *h);

static void holder_check_done(Holder *h) {
        if (h->done == h->target && ++storm.holders_done == arg_clients)
                storm.phase_done = true;
}

static int on_storm_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Holder *h = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *path;

        h->in_flight--;
        h->done++;
        if (e) {
                count_error(e->name);
                storm.failed++;
        } else if (storm.closing) {
                storm.closed++;
        } else if (sd_bus_message_read(reply, "o", &path) >= 0 && (h->paths[h->n_paths] = strdup(path))) {
                h->n_paths++;
                storm.opened++;
        }
        holder_pump(h);
        holder_check_done(h);
        return 0;
}

static void holder_pump(Holder *h) {
        while (h->in_flight < OPEN_WINDOW && h->issued < h->target) {
                int r;

                if (storm.closing)
                        r = sd_bus_call_method_async(h->bus, NULL, BROKER_NAME, h->paths[h->issued],
                                                     CONNECTION_IFACE, "Close", on_storm_reply, h, "");
                else
                        r = sd_bus_call_method_async(h->bus, NULL, BROKER_NAME, BROKER_PATH, MANAGER_IFACE,
                                                     "OpenConnection", on_storm_reply, h, "ssa{sv}",
                                                     arg_service, "", 0);
                h->issued++;
                if (r < 0) {
                        count_error("LocalSendFailed");
                        storm.failed++;
                        h->done++;
                } else
                        h->in_flight++;
        }
}

/* Runs one phase (opening or closing) over every holder. */
static int storm_phase(sd_event *event) {
        storm.holders_done = 0;
        storm.phase_done = false;
        for (unsigned i = 0; i < arg_clients; i++) {
                Holder *h = &storm.holders[i];

                h->target = storm.closing ? h->n_paths : h->want;
                h->issued = h->done = h->in_flight = 0;
                holder_pump(h);
                if (h->target == 0 || (h->done == h->target && h->in_flight == 0))
                        holder_check_done(h);
        }
        return run_until(event, &storm.phase_done);
}

static int run_connections(sd_event *event) {
        uint64_t start, opened_in, closed_in;
        int r;

        storm.holders = calloc(arg_clients, sizeof(Holder));
        if (!storm.holders)
                return -ENOMEM;
        for (unsigned i = 0; i < arg_clients; i++) {
                Holder *h = &storm.holders[i];

                h->want = arg_count / arg_clients + (i < arg_count % arg_clients);
                h->paths = calloc(h->want ?: 1, sizeof(char *));
                if (!h->paths)
                        return -ENOMEM;
                r = open_bus(event, &h->bus);
                if (r < 0) {
                        log_msg("Failed to connect holder %u: %s", i, strerror(-r));
                        return r;
                }
        }

        start = now_usec();
        r = storm_phase(event);
        opened_in = now_usec() - start;
        printf("opened connections=%" PRIu64 " failed=%" PRIu64 " clients=%u elapsed_s=%.2f",
               storm.opened, storm.failed, arg_clients, (double) opened_in / USEC_PER_SEC);
        print_errors();
        printf("\n");
        fflush(stdout);
        if (r < 0)
                return r;

        r = wait_for_stdin(event);
        if (r < 0)
                return r;

        storm.closing = true;
        storm.failed = 0;
        reset_errors();
        start = now_usec();
        r = storm_phase(event);
        closed_in = now_usec() - start;
        printf("closed connections=%" PRIu64 " failed=%" PRIu64 " elapsed_s=%.2f",
               storm.closed, storm.failed, (double) closed_in / USEC_PER_SEC);
        print_errors();
        printf("\n");
        fflush(stdout);

        for (unsigned i = 0; i < arg_clients; i++) {
                Holder *h = &storm.holders[i];

                for (unsigned j = 0; j < h->n_paths; j++)
                        free(h->paths[j]);
                free(h->paths);
                h->bus = sd_bus_flush_close_unref(h->bus);
        }
        free(storm.holders);
        return r;
}

/* ---- peers ------------------------------------------------------------------------------------- */

/* One peer: a bus connection, an app-service connection, one checked round trip. Returns 0 or
 * a negative errno with the D-Bus error in *error. */
static int peer_round_trip(sd_bus *bus, unsigned index, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *open_reply = NULL, *call = NULL, *reply = NULL;
        const char *path;
        uint64_t token = 0;
        int r;

        r = sd_bus_call_method(bus, BROKER_NAME, BROKER_PATH, MANAGER_IFACE, "OpenConnection", error,
                               &open_reply, "ssa{sv}", arg_service, "", 0);
        if (r >= 0)
                r = sd_bus_message_read(open_reply, "o", &path);
        if (r >= 0)
                r = sd_bus_message_new_method_call(bus, &call, BROKER_NAME, path, CONNECTION_IFACE,
                                                   "SendMessage");
        if (r >= 0)
                r = append_token_message(call, ((uint64_t) getpid() << 32) | index);
        if (r >= 0)
                r = sd_bus_call(bus, call, arg_call_timeout_usec, error, &reply);
        if (r >= 0)
                r = read_token(reply, &token);
        if (r >= 0 && token != (((uint64_t) getpid() << 32) | index)) {
                sd_bus_error_set(error, "local.Misrouted", "the response carried another token");
                r = -EBADMSG;
        }
        return r;
}

static int run_peers(sd_event *event) {
        sd_bus **buses = calloc(arg_count, sizeof(sd_bus *));
        unsigned ok = 0, failed = 0, in_a_row = 0, i;
        uint64_t start = now_usec();
        int r;

        if (!buses)
                return -ENOMEM;
        for (i = 0; i < arg_count && in_a_row < 3; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

                r = open_bus(NULL, &buses[i]);
                if (r >= 0)
                        r = peer_round_trip(buses[i], i, &error);
                if (r < 0) {
                        failed++;
                        in_a_row++;
                        count_error(error.name ?: "LocalFailure");
                        printf("peer-failed index=%u ok_so_far=%u error=%s message=%s\n", i, ok,
                               error.name ?: "-", error.message ?: strerror(-r));
                } else {
                        ok++;
                        in_a_row = 0;
                }
                if ((i + 1) % 100 == 0)
                        printf("peers-progress done=%u ok=%u\n", i + 1, ok);
                fflush(stdout);
        }
        printf("peers ok=%u failed=%u attempted=%u gave_up=%s elapsed_s=%.2f", ok, failed, i,
               in_a_row >= 3 ? "yes" : "no", (double) (now_usec() - start) / USEC_PER_SEC);
        print_errors();
        printf("\n");
        fflush(stdout);

        r = wait_for_stdin(event);
        for (unsigned j = 0; j < arg_count; j++)
                sd_bus_flush_close_unref(buses[j]);
        free(buses);
        return r;
}

/* ---- main -------------------------------------------------------------------------------------- */

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_SERVICE = 0x100, ARG_CLIENTS, ARG_REQUESTS, ARG_INFLIGHT, ARG_COUNT, ARG_REOPEN,
               ARG_DEADLINE, ARG_CALL_TIMEOUT };
        static const struct option options[] = {
                { "service",          required_argument, NULL, ARG_SERVICE      },
                { "clients",          required_argument, NULL, ARG_CLIENTS      },
                { "requests",         required_argument, NULL, ARG_REQUESTS     },
                { "inflight",         required_argument, NULL, ARG_INFLIGHT     },
                { "count",            required_argument, NULL, ARG_COUNT        },
                { "reopen",           no_argument,       NULL, ARG_REOPEN       },
                { "deadline-sec",     required_argument, NULL, ARG_DEADLINE     },
                { "call-timeout-sec", required_argument, NULL, ARG_CALL_TIMEOUT },
                {}
        };
        int o;

        while ((o = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (o) {
                case ARG_SERVICE:
                        arg_service = optarg;
                        break;
                case ARG_CLIENTS:
                        arg_clients = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case ARG_REQUESTS:
                        arg_requests = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case ARG_INFLIGHT:
                        arg_inflight = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case ARG_COUNT:
                        arg_count = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case ARG_REOPEN:
                        arg_reopen = true;
                        break;
                case ARG_DEADLINE:
                        arg_deadline_usec = strtoull(optarg, NULL, 10) * USEC_PER_SEC;
                        break;
                case ARG_CALL_TIMEOUT:
                        arg_call_timeout_usec = strtoull(optarg, NULL, 10) * USEC_PER_SEC;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind + 1 != argc || !arg_service || arg_clients == 0 || arg_inflight == 0) {
                log_msg("usage: load-client flood|connections|peers --service=NAME [OPTIONS...]");
                return -EINVAL;
        }
        return 0;
}

/* Every bus connection is a file descriptor: take the hard limit. */
static void raise_fd_limit(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int main(int argc, char *argv[]) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        const char *mode;
        sigset_t mask;
        int r;

        if (parse_argv(argc, argv) < 0)
                return EXIT_FAILURE;
        mode = argv[optind];
        raise_fd_limit();

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return EXIT_FAILURE;
        r = sd_event_default(&event);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r < 0) {
                log_msg("Failed to set up the event loop: %s", strerror(-r));
                return EXIT_FAILURE;
        }

        if (strcmp(mode, "flood") == 0)
                r = run_flood(event);
        else if (strcmp(mode, "connections") == 0)
                r = run_connections(event);
        else if (strcmp(mode, "peers") == 0)
                r = run_peers(event);
        else {
                log_msg("Unknown mode '%s'", mode);
                return EXIT_FAILURE;
        }
        if (r < 0) {
                log_msg("%s: %s", mode, strerror(-r));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
