/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * load-provider: the provider side of the load and fault suite (tests/load/load-suite.py), on
 * plain sd-bus so that the provider is never what limits the figures.
 *
 *   load-provider --name=NAME [--mode=echo|shuffle|delay] [--delay-ms=MS] [--batch=N]
 *                 [--window=N] [--pid-file=PATH]
 *
 * It registers NAME with io.appservice1 and answers every RequestReceived with the request's own
 * message (so a client can check that each response carries its request's token):
 *
 *   echo     at once;
 *   shuffle  holds requests until --batch of them are waiting or the oldest waited 5 ms, then
 *            answers the held ones in a random order: responses reach the broker in an order
 *            unrelated to the requests';
 *   delay    each one --delay-ms after it arrived (a slow provider).
 *
 * At most --window SendResponse calls (default 64) are in flight on the bus connection; the rest
 * wait in a queue. dbus-daemon refuses a connection more than max_replies_per_connection (128 on
 * a system bus) calls awaiting replies, and an answer refused there is lost (issue 10, item 3).
 *
 * On SIGTERM, or when the broker leaves the bus, it prints one line of figures on stdout
 * ("provider received=N answered=N refused=N queued=N ...") and exits 0.
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
#include <time.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

#define BROKER_NAME      "io.appservice1"
#define BROKER_PATH      "/io/appservice1"
#define MANAGER_IFACE    "io.appservice1.Manager"
#define CONNECTION_IFACE "io.appservice1.Connection"
#define SHUFFLE_HOLD_USEC (5 * 1000ULL)

typedef enum Mode { MODE_ECHO, MODE_SHUFFLE, MODE_DELAY } Mode;

static const char *arg_name = NULL;
static Mode arg_mode = MODE_ECHO;
static uint64_t arg_delay_usec = 0;
static unsigned arg_batch = 64;
static unsigned arg_window = 64;
static const char *arg_pid_file = NULL;

/* A request to answer: the RequestReceived signal itself, whose a{sv} is copied into the
 * answer. */
typedef struct Pending {
        sd_bus_message *signal;
        uint64_t due;           /* delay mode: when to answer (CLOCK_MONOTONIC) */
} Pending;

/* A growable array of Pending, used as a FIFO (head index) or as a bag (shuffle). */
typedef struct Queue {
        Pending *items;
        size_t head, n, allocated;
} Queue;

typedef struct Context {
        sd_event *event;
        sd_bus *bus;
        sd_event_source *timer;
        char *broker;
        Queue held;             /* shuffle: waiting for the batch to fill */
        Queue ready;            /* to answer, in order, when the window has room */
        unsigned in_flight;
        uint64_t received, answered, refused, send_failed;
        uint64_t max_queued;
} Context;

static void log_msg(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void log_msg(const char *format, ...) {
        va_list ap;

        fputs("load-provider: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static size_t queue_size(const Queue *q) {
        return q->n - q->head;
}

static int queue_push(Queue *q, Pending p) {
        if (q->head > 0 && q->head == q->n)
                q->head = q->n = 0;
        if (q->n == q->allocated) {
                size_t want = q->allocated ? q->allocated * 2 : 256;
                Pending *items;

                /* Reclaim the consumed front before growing. */
                if (q->head > 0) {
                        memmove(q->items, q->items + q->head, (q->n - q->head) * sizeof(Pending));
                        q->n -= q->head;
                        q->head = 0;
                }
                if (q->n == q->allocated) {
                        items = realloc(q->items, want * sizeof(Pending));
                        if (!items)
                                return -ENOMEM;
                        q->items = items;
                        q->allocated = want;
                }
        }
        q->items[q->n++] = p;
        return 0;
}

static void queue_free(Queue *q) {
        for (size_t i = q->head; i < q->n; i++)
                sd_bus_message_unref(q->items[i].signal);
        free(q->items);
        *q = (Queue) {};
}

static void context_done(Context *c) {
        queue_free(&c->held);
        queue_free(&c->ready);
        c->timer = sd_event_source_unref(c->timer);
        c->bus = sd_bus_flush_close_unref(c->bus);
        c->event = sd_event_unref(c->event);
        free(c->broker);
}

static int pump(Context *c);

static int on_response_sent(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Context *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        c->in_flight--;
        if (e)
                /* UnknownRequest: the client vanished or the connection closed meanwhile. */
                c->refused++;
        else
                c->answered++;
        (void) pump(c);
        return 0;
}

static int send_response(Context *c, sd_bus_message *signal) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        uint64_t request;
        int r;

        r = sd_bus_message_rewind(signal, /* complete= */ true);
        if (r >= 0)
                r = sd_bus_message_read(signal, "t", &request);
        if (r >= 0)
                r = sd_bus_message_new_method_call(c->bus, &call, c->broker, sd_bus_message_get_path(signal),
                                                   CONNECTION_IFACE, "SendResponse");
        if (r >= 0)
                r = sd_bus_message_append(call, "t", request);
        if (r >= 0)
                r = sd_bus_message_copy(call, signal, /* all= */ false);
        if (r >= 0)
                r = sd_bus_call_async(c->bus, NULL, call, on_response_sent, c, /* usec= */ 0);
        if (r < 0) {
                c->send_failed++;
                return r;
        }
        c->in_flight++;
        return 0;
}

/* Sends what is ready while the window has room. */
static int pump(Context *c) {
        while (c->in_flight < arg_window && queue_size(&c->ready) > 0) {
                Pending p = c->ready.items[c->ready.head++];
                int r = send_response(c, p.signal);

                sd_bus_message_unref(p.signal);
                if (r < 0)
                        log_msg("Failed to answer a request: %s", strerror(-r));
        }
        return 0;
}

/* Shuffle: the held requests go to the ready queue in a random order (Fisher-Yates). */
static void release_held(Context *c) {
        size_t n = queue_size(&c->held);
        Pending *items = c->held.items + c->held.head;

        for (size_t i = n; i > 1; i--) {
                size_t j = (size_t) random() % i;
                Pending t = items[i - 1];

                items[i - 1] = items[j];
                items[j] = t;
        }
        for (size_t i = 0; i < n; i++)
                if (queue_push(&c->ready, items[i]) < 0) {
                        log_msg("Out of memory, dropping a request");
                        sd_bus_message_unref(items[i].signal);
                }
        c->held.head = c->held.n = 0;
}

static int arm_timer(Context *c, uint64_t when) {
        int r = sd_event_source_set_time(c->timer, when);

        if (r >= 0)
                r = sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
        return r;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Context *c = userdata;
        uint64_t now = now_usec();

        if (arg_mode == MODE_SHUFFLE) {
                release_held(c);
        } else {
                /* Delay: the held queue is in arrival order, so due times are ascending. */
                while (queue_size(&c->held) > 0 && c->held.items[c->held.head].due <= now) {
                        if (queue_push(&c->ready, c->held.items[c->held.head]) < 0)
                                sd_bus_message_unref(c->held.items[c->held.head].signal);
                        c->held.head++;
                }
                if (queue_size(&c->held) > 0)
                        (void) arm_timer(c, c->held.items[c->held.head].due);
        }
        return pump(c);
}

static int on_request_received(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Context *c = userdata;
        const char *sender = sd_bus_message_get_sender(m);
        bool was_empty = queue_size(&c->held) == 0;
        Pending p = {};
        size_t queued;
        int r;

        /* Any peer may send us a signal: believe only the broker. */
        if (!c->broker || !sender || strcmp(sender, c->broker) != 0)
                return 0;
        c->received++;
        p.signal = sd_bus_message_ref(m);

        switch (arg_mode) {
        case MODE_ECHO:
                r = queue_push(&c->ready, p);
                break;
        case MODE_SHUFFLE:
                r = queue_push(&c->held, p);
                if (r >= 0 && queue_size(&c->held) >= arg_batch)
                        release_held(c);
                else if (r >= 0 && was_empty)
                        r = arm_timer(c, now_usec() + SHUFFLE_HOLD_USEC);
                break;
        default:
                p.due = now_usec() + arg_delay_usec;
                r = queue_push(&c->held, p);
                if (r >= 0 && was_empty)
                        r = arm_timer(c, p.due);
                break;
        }
        if (r < 0) {
                log_msg("Failed to queue a request: %s", strerror(-r));
                sd_bus_message_unref(p.signal);
                return 0;
        }
        queued = queue_size(&c->held) + queue_size(&c->ready);
        if (queued > c->max_queued)
                c->max_queued = queued;
        return pump(c);
}

static int on_broker_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Context *c = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !c->broker ||
            strcmp(old_owner, c->broker) != 0)
                return 0;
        log_msg("The broker left the bus, exiting");
        return sd_event_exit(c->event, 0);
}

static int register_provider(Context *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *sender;
        int r;

        r = sd_bus_call_method(c->bus, BROKER_NAME, BROKER_PATH, MANAGER_IFACE, "RegisterProvider",
                               &error, &reply, "sa{sv}", arg_name, (unsigned) 0);
        if (r < 0) {
                log_msg("Failed to register '%s': %s", arg_name, error.message ?: strerror(-r));
                return r;
        }
        sender = sd_bus_message_get_sender(reply);
        c->broker = sender ? strdup(sender) : NULL;
        return c->broker ? 0 : -ENOMEM;
}

static int write_pid_file(void) {
        FILE *f;

        if (!arg_pid_file)
                return 0;
        f = fopen(arg_pid_file, "we");
        if (!f)
                return -errno;
        fprintf(f, "%d\n", (int) getpid());
        return fclose(f) == 0 ? 0 : -errno;
}

static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                { "name",     required_argument, NULL, 'n' },
                { "mode",     required_argument, NULL, 'm' },
                { "delay-ms", required_argument, NULL, 'd' },
                { "batch",    required_argument, NULL, 'b' },
                { "window",   required_argument, NULL, 'w' },
                { "pid-file", required_argument, NULL, 'p' },
                {}
        };
        int o;

        while ((o = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (o) {
                case 'n':
                        arg_name = optarg;
                        break;
                case 'm':
                        if (strcmp(optarg, "echo") == 0)
                                arg_mode = MODE_ECHO;
                        else if (strcmp(optarg, "shuffle") == 0)
                                arg_mode = MODE_SHUFFLE;
                        else if (strcmp(optarg, "delay") == 0)
                                arg_mode = MODE_DELAY;
                        else {
                                log_msg("Unknown --mode=%s", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'd':
                        arg_delay_usec = strtoull(optarg, NULL, 10) * 1000ULL;
                        break;
                case 'b':
                        arg_batch = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'w':
                        arg_window = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'p':
                        arg_pid_file = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        if (!arg_name || arg_batch == 0 || arg_window == 0) {
                log_msg("--name= is required; --batch= and --window= must be positive");
                return -EINVAL;
        }
        return 0;
}

static int setup(Context *c) {
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;

        r = sd_event_default(&c->event);
        if (r >= 0)
                r = sd_event_add_signal(c->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(c->event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                /* Accuracy 1 µs: the default (0) lets sd-event coalesce the wake-up by up to 250 ms. */
                r = sd_event_add_time(c->event, &c->timer, CLOCK_MONOTONIC, 0, 1, on_timer, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_bus_open_system(&c->bus);
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, NULL, BROKER_NAME, NULL, CONNECTION_IFACE,
                                        "RequestReceived", on_request_received, c);
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged",
                                        on_broker_owner_changed, c);
        if (r >= 0)
                r = sd_bus_attach_event(c->bus, c->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_set_exit_on_disconnect(c->bus, true);
        return r;
}

int main(int argc, char *argv[]) {
        _cleanup_(context_done) Context c = {};
        int r;

        if (parse_argv(argc, argv) < 0)
                return EXIT_FAILURE;
        srandom((unsigned) (getpid() ^ now_usec()));

        r = setup(&c);
        if (r < 0) {
                log_msg("Failed to set up: %s", strerror(-r));
                return EXIT_FAILURE;
        }
        r = register_provider(&c);
        if (r < 0)
                return EXIT_FAILURE;
        r = write_pid_file();
        if (r < 0)
                log_msg("Failed to write %s: %s", arg_pid_file, strerror(-r));

        r = sd_event_loop(c.event);
        printf("provider name=%s received=%" PRIu64 " answered=%" PRIu64 " refused=%" PRIu64
               " send_failed=%" PRIu64 " max_queued=%" PRIu64 " unanswered=%zu\n",
               arg_name, c.received, c.answered, c.refused, c.send_failed, c.max_queued,
               queue_size(&c.held) + queue_size(&c.ready) + c.in_flight);
        fflush(stdout);
        return r < 0 || r == EXIT_FAILURE ? EXIT_FAILURE : EXIT_SUCCESS;
}
