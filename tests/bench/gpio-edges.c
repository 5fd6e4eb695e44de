/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * gpio-edges: how fast and how late GPIO edges reach a client through io.appservice.gpio,
 * against the floor of reading them from the kernel directly with libgpiod v2.
 *
 * The line is a gpio-sim input: this program makes its edges itself, by writing `pull-up` and
 * `pull-down` in turn to the line's sysfs attribute
 * (/sys/devices/platform/gpio-sim.N/gpiochipM/sim_gpioK/pull), from a thread of its own, so that
 * the moment of each pull and the moment the client sees its edge are read from the same clock
 * (CLOCK_MONOTONIC, which is also the clock of the kernel's edge timestamps). Two ways of
 * receiving the same edges of the same line, one after the other:
 *
 *   floor    gpiod_chip_request_lines() with Edge=both, events read from the request's fd
 *            (poll, gpiod_line_request_read_edge_events()) in the main thread;
 *   service  a connection to io.appservice.gpio through libappservice, a Request with
 *            Edge=both and EdgeBatch=--batch (default 256), and its `edges` events (`edge`
 *            events with --batch=0, the format of before) received as request-received in the
 *            main loop.
 *
 * For each way, after a few uncounted edges:
 *
 *   burst    --edges pulls as fast as the thread can write them; how many edges arrived, how fast
 *            (edges received / time from the first pull to the last arrival), and what went
 *            missing: `lost` (the service's Lost, edges it dropped for a slow client), `gaps`
 *            (holes in the kernel's GlobalSeqno that Lost does not explain: its event buffer
 *            overflowed) and `merged` (pulls
 *            that made no event of their own: two pulls before the kernel's edge thread ran once,
 *            which no reader can see; shown as received < pulls with contiguous seqnos);
 *   paced    --paced-edges pulls at each of the --paced rates: whether all arrived in order with
 *            nothing lost, and how late the last one came after the last pull; the highest rate
 *            kept up with (every edge the kernel made arrived, in order: none lost, no gap, no
 *            seqno going back; the last within 100 ms or ten periods of the last pull: not from a
 *            growing backlog) is the rate delivered without loss. Merged pulls do not count
 *            against it: the kernel made no edge of them, which no reader can receive;
 *   latency  --latency-edges pulls one at a time, each after the previous edge arrived and a
 *            --pause-ms pause: pull to callback (the pull's clock_gettime just before the sysfs
 *            write, the callback's on arrival) and kernel timestamp to callback, min, median and
 *            p99.
 *
 * Then a table, with the service's figures over the floor's, and the two ratios the service is
 * judged by (services/gpio/README.md): the rate without loss, service/floor (the goal: 0.5 or
 * more), and the median latency pull -> callback, service/floor (the goal: 3 or less).
 *
 *   gpio-edges --chip=gpiochipM --offset=K [--pull-path=PATH] [--edges=N] [--paced=R,R,...]
 *              [--paced-edges=N] [--latency-edges=N] [--pause-ms=N] [--only=floor|service]
 *              [--batch=N] [--bus-address=ADDRESS]
 *
 * The service's bus is the system bus (DBUS_SYSTEM_BUS_ADDRESS if set) unless --bus-address is
 * given. tests/bench/gpio-edges.py runs it inside the tests/vm guest, with a gpio-sim chip and a
 * private broker of a build tree. A benchmark: it fails only when something does not work.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gpiod.h>

#include <appservice.h>

#define GPIO_SERVICE "io.appservice.gpio"
#define NS_PER_S G_GINT64_CONSTANT(1000000000)
#define WARMUP_EDGES 20
#define IDLE_TIMEOUT_NS (3 * NS_PER_S)   /* nothing more arrives: the phase is over */
#define EDGE_TIMEOUT_NS (2 * NS_PER_S)   /* latency: one edge that does not come */
#define FLOOR_EVENT_BUFFER 64

static gchar *arg_chip = NULL;
static gint arg_offset = -1;
static gchar *arg_pull_path = NULL;
static gint arg_edges = 5000;
static gchar *arg_paced = NULL;
static gint arg_paced_edges = 500;
static gint arg_latency_edges = 200;
static gint arg_pause_ms = 5;
static gchar *arg_only = NULL;
static gint arg_batch = 256;
static gchar *arg_bus_address = NULL;

static gint64 now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (gint64) ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void sleep_until_ns(gint64 t) {
        struct timespec ts = { .tv_sec = t / NS_PER_S, .tv_nsec = t % NS_PER_S };

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

/* ---- what arrived ---------------------------------------------------------------------------- */

/* Filled in by the receiving side (the main thread), read by the pulling thread: under lock. */
typedef struct {
        GMutex lock;
        GCond cond;
        gsize capacity;
        gint64 *t_cb;           /* when the i-th edge of the phase reached us */
        gint64 *t_kernel;       /* its kernel timestamp */
        guint64 n_received;
        guint64 n_lost;         /* the service's Lost, summed */
        guint64 n_gaps;         /* holes in GlobalSeqno that Lost does not account for */
        guint64 n_disorder;     /* a GlobalSeqno not above the one before */
        guint64 n_messages;     /* the service's events that carried them */
        gint64 last_cb;
        /* Across phases: the seqnos go on. */
        gboolean have_last;
        guint64 last_seqno;
} Tally;

static void tally_reset(Tally *t, gsize capacity) {
        g_mutex_lock(&t->lock);
        g_free(t->t_cb);
        g_free(t->t_kernel);
        t->capacity = capacity;
        t->t_cb = g_new0(gint64, capacity);
        t->t_kernel = g_new0(gint64, capacity);
        t->n_received = t->n_lost = t->n_gaps = t->n_disorder = t->n_messages = 0;
        t->last_cb = 0;
        g_mutex_unlock(&t->lock);
}

/* One edge that arrived at @now (the edges of one read or one event share it), @lost (the
 * service's Lost) edges dropped before it. */
static void tally_record(Tally *t, gint64 now, guint64 kernel_ns, guint64 seqno, guint64 lost) {
        g_mutex_lock(&t->lock);
        if (t->n_received < t->capacity) {
                t->t_cb[t->n_received] = now;
                t->t_kernel[t->n_received] = (gint64) kernel_ns;
        }
        if (t->have_last) {
                /* What the service dropped leaves a hole too: it is lost, not a gap. */
                if (seqno > t->last_seqno + 1 + lost)
                        t->n_gaps += seqno - t->last_seqno - 1 - lost;
                if (seqno <= t->last_seqno)
                        t->n_disorder++;
        }
        t->have_last = TRUE;
        t->last_seqno = seqno;
        t->n_lost += lost;
        t->n_received++;
        t->last_cb = now;
        g_cond_broadcast(&t->cond);
        g_mutex_unlock(&t->lock);
}

static void tally_message(Tally *t) {
        g_mutex_lock(&t->lock);
        t->n_messages++;
        g_mutex_unlock(&t->lock);
}

static guint64 tally_received(Tally *t, gint64 *ret_last_cb) {
        guint64 n;

        g_mutex_lock(&t->lock);
        n = t->n_received;
        if (ret_last_cb)
                *ret_last_cb = t->last_cb;
        g_mutex_unlock(&t->lock);
        return n;
}

/* ---- the pulling thread ---------------------------------------------------------------------- */

typedef enum { PHASE_BURST, PHASE_PACED, PHASE_LATENCY } PhaseKind;

typedef struct {
        int fd;                 /* the sysfs pull attribute */
        gboolean high;          /* what it was pulled to last */
        Tally *tally;
        PhaseKind kind;
        guint64 n;              /* pulls in this phase */
        double rate;            /* PHASE_PACED: pulls per second */
        gint64 *t_write;        /* just before each pull */
        gint64 t_start, t_end;  /* the first pull, after the last */
        gint done;              /* atomic: all pulls made */
        gboolean failed;
} Puller;

static gboolean pull(Puller *p) {
        const char *text = p->high ? "pull-down" : "pull-up";

        if (pwrite(p->fd, text, strlen(text), 0) < 0) {
                fprintf(stderr, "gpio-edges: writing '%s' to %s: %s\n", text, arg_pull_path, g_strerror(errno));
                return FALSE;
        }
        p->high = !p->high;
        return TRUE;
}

static gpointer puller_thread(gpointer user_data) {
        Puller *p = user_data;
        gint64 period = p->kind == PHASE_PACED ? (gint64) (NS_PER_S / p->rate) : 0;

        p->t_start = now_ns();
        for (guint64 i = 0; i < p->n; i++) {
                if (p->kind == PHASE_PACED)
                        sleep_until_ns(p->t_start + (gint64) i * period);
                else if (p->kind == PHASE_LATENCY)
                        g_usleep((gulong) arg_pause_ms * 1000);
                p->t_write[i] = now_ns();
                if (!pull(p)) {
                        p->failed = TRUE;
                        break;
                }
                if (p->kind == PHASE_LATENCY) {
                        /* One at a time: the next pull after this edge arrived (or never will). */
                        gint64 deadline = g_get_monotonic_time() + EDGE_TIMEOUT_NS / 1000;

                        g_mutex_lock(&p->tally->lock);
                        while (p->tally->n_received < i + 1)
                                if (!g_cond_wait_until(&p->tally->cond, &p->tally->lock, deadline))
                                        break;
                        g_mutex_unlock(&p->tally->lock);
                }
        }
        p->t_end = now_ns();
        g_atomic_int_set(&p->done, 1);
        return NULL;
}

/* ---- the two ways of receiving --------------------------------------------------------------- */

typedef enum { WAY_FLOOR, WAY_SERVICE, N_WAYS } WayKind;

static const char *const way_names[N_WAYS] = {
        [WAY_FLOOR] = "floor (libgpiod)",
        [WAY_SERVICE] = "service",
};

typedef struct {
        WayKind kind;
        Tally tally;
        /* floor */
        struct gpiod_chip *chip;
        struct gpiod_line_request *request;
        struct gpiod_edge_event_buffer *events;
        /* service */
        AppServiceConnection *connection;
        guint32 request_id;
        gboolean closed;
} Way;

static void floor_read(Way *w, int timeout_ms) {
        struct pollfd pfd = { .fd = gpiod_line_request_get_fd(w->request), .events = POLLIN };
        gint64 now;
        int n;

        if (poll(&pfd, 1, timeout_ms) <= 0)
                return;
        n = gpiod_line_request_read_edge_events(w->request, w->events, FLOOR_EVENT_BUFFER);
        now = now_ns();
        for (int i = 0; i < n; i++) {
                struct gpiod_edge_event *e = gpiod_edge_event_buffer_get_event(w->events, (unsigned long) i);

                tally_record(&w->tally, now, gpiod_edge_event_get_timestamp_ns(e), gpiod_edge_event_get_global_seqno(e), 0);
        }
}

static gboolean floor_open(Way *w, GError **error) {
        g_autofree char *path = g_strconcat("/dev/", arg_chip, NULL);
        struct gpiod_line_settings *settings = NULL;
        struct gpiod_line_config *line_config = NULL;
        struct gpiod_request_config *request_config = NULL;
        unsigned int offset = (unsigned int) arg_offset;
        gboolean ok = FALSE;

        w->chip = gpiod_chip_open(path);
        if (!w->chip) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "opening %s: %s", path,
                            g_strerror(errno));
                return FALSE;
        }
        settings = gpiod_line_settings_new();
        line_config = gpiod_line_config_new();
        request_config = gpiod_request_config_new();
        if (!settings || !line_config || !request_config)
                g_error("out of memory");
        /* As the service requests a line: input, both edges, a kernel event buffer of 1024. */
        gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_INPUT);
        gpiod_line_settings_set_edge_detection(settings, GPIOD_LINE_EDGE_BOTH);
        gpiod_line_settings_set_event_clock(settings, GPIOD_LINE_CLOCK_MONOTONIC);
        gpiod_request_config_set_consumer(request_config, "gpio-edges");
        gpiod_request_config_set_event_buffer_size(request_config, 1024);
        if (gpiod_line_config_add_line_settings(line_config, &offset, 1, settings) < 0)
                g_error("gpiod_line_config_add_line_settings: %s", g_strerror(errno));
        w->request = gpiod_chip_request_lines(w->chip, request_config, line_config);
        if (!w->request)
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "requesting %s line %d: %s", arg_chip,
                            arg_offset, g_strerror(errno));
        else
                ok = TRUE;
        w->events = gpiod_edge_event_buffer_new(FLOOR_EVENT_BUFFER);
        gpiod_request_config_free(request_config);
        gpiod_line_config_free(line_config);
        gpiod_line_settings_free(settings);
        return ok;
}

static void floor_close(Way *w) {
        g_clear_pointer(&w->request, gpiod_line_request_release);
        g_clear_pointer(&w->events, gpiod_edge_event_buffer_free);
        g_clear_pointer(&w->chip, gpiod_chip_close);
}

static void unexpected(GVariant *message) {
        g_autofree char *text = g_variant_print(message, TRUE);

        fprintf(stderr, "gpio-edges: unexpected message from the service: %s\n", text);
}

/* `edge`: one edge. */
static void record_edge(Way *w, GVariant *message, gint64 now) {
        guint64 timestamp = 0, seqno = 0, lost = 0;

        if (!g_variant_lookup(message, "TimestampNs", "t", &timestamp) || !g_variant_lookup(message, "GlobalSeqno", "t", &seqno) || !g_variant_lookup(message, "Lost", "t", &lost)) {
                unexpected(message);
                return;
        }
        tally_record(&w->tally, now, timestamp, seqno, lost);
}

/* `edges`: the arrays, one element per edge; Lost is of before the first. */
static void record_edges(Way *w, GVariant *message, gint64 now) {
        g_autoptr(GVariant) edges = g_variant_lookup_value(message, "Edges", G_VARIANT_TYPE_STRING_ARRAY);
        g_autoptr(GVariant) stamps = g_variant_lookup_value(message, "TimestampsNs", G_VARIANT_TYPE("at"));
        g_autoptr(GVariant) seqnos = g_variant_lookup_value(message, "GlobalSeqnos", G_VARIANT_TYPE("at"));
        const guint64 *stamp, *seqno;
        gsize n = 0, n_stamps = 0, n_seqnos = 0;
        guint64 lost = 0;

        if (!edges || !stamps || !seqnos || !g_variant_lookup(message, "Lost", "t", &lost)) {
                unexpected(message);
                return;
        }
        n = g_variant_n_children(edges);
        stamp = g_variant_get_fixed_array(stamps, &n_stamps, sizeof(guint64));
        seqno = g_variant_get_fixed_array(seqnos, &n_seqnos, sizeof(guint64));
        if (n == 0 || n_stamps != n || n_seqnos != n) {
                unexpected(message);
                return;
        }
        for (gsize i = 0; i < n; i++)
                tally_record(&w->tally, now, stamp[i], seqno[i], i == 0 ? lost : 0);
        tally_message(&w->tally);
}

static void on_request_received(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        Way *w = user_data;
        GVariant *message = app_service_request_get_message(request);
        gint64 now = now_ns();
        const char *event = NULL;

        /* Not kept: the library answers the event with an empty response when it drops it,
         * which lets the service send the next one. */
        if (!g_variant_lookup(message, "Event", "&s", &event))
                unexpected(message);
        else if (arg_batch > 0 && strcmp(event, "edges") == 0)
                record_edges(w, message, now);
        else if (arg_batch == 0 && strcmp(event, "edge") == 0) {
                record_edge(w, message, now);
                tally_message(&w->tally);
        } else
                unexpected(message);
}

static void on_service_closed(AppServiceConnection *connection, AppServiceClosedStatus status, gpointer user_data) {
        Way *w = user_data;

        fprintf(stderr, "gpio-edges: the connection to %s closed\n", GPIO_SERVICE);
        w->closed = TRUE;
}

/* Sends @message (floating) and checks Status; the service's Error and Message otherwise. */
static GVariant *service_call(Way *w, GVariant *message, GError **error) {
        g_autoptr(GVariant) owned = g_variant_ref_sink(message);
        g_autoptr(AppServiceResponse) response = NULL;
        GVariant *answer;

        response = app_service_connection_send_message_sync(w->connection, owned, NULL, error);
        if (!response)
                return NULL;
        if (app_service_response_get_status(response) != APP_SERVICE_RESPONSE_STATUS_SUCCESS) {
                const GError *e = app_service_response_get_error(response);

                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", e ? e->message : "no answer");
                return NULL;
        }
        answer = app_service_response_get_message(response);
        if (g_strcmp0(app_service_value_set_get_string(answer, "Status"), "ok") != 0) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s",
                            app_service_value_set_get_string(answer, "Error"),
                            app_service_value_set_get_string(answer, "Message"));
                return NULL;
        }
        return g_variant_ref(answer);
}

static gboolean service_open(Way *w, GError **error) {
        g_autoptr(GVariant) answer = NULL;
        g_autoptr(GVariant) base = NULL;
        GVariantDict request;
        guint32 batch = 0;

        if (arg_bus_address) {
                g_autoptr(GDBusConnection) bus = g_dbus_connection_new_for_address_sync(
                        arg_bus_address,
                        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                        NULL, NULL, error);
                if (!bus)
                        return FALSE;
                w->connection = app_service_connection_new_for_bus(bus, GPIO_SERVICE, NULL);
        } else
                w->connection = app_service_connection_new(GPIO_SERVICE, NULL);
        g_signal_connect(w->connection, "request-received", G_CALLBACK(on_request_received), w);
        g_signal_connect(w->connection, "service-closed", G_CALLBACK(on_service_closed), w);
        if (app_service_connection_open_sync(w->connection, NULL, error) != APP_SERVICE_CONNECTION_STATUS_SUCCESS)
                return FALSE;
        base = g_variant_ref_sink(g_variant_new_parsed("{'Action': <'Request'>, 'Chip': <%s>, 'Lines': <@au [%u]>, "
                                                       "'Direction': <'input'>, 'Edge': <'both'>, "
                                                       "'Consumer': <'gpio-edges'>}",
                                                       arg_chip, (guint32) arg_offset));
        g_variant_dict_init(&request, base);
        /* --batch=0 asks as a client from before EdgeBatch does: without the key. */
        if (arg_batch > 0)
                g_variant_dict_insert(&request, "EdgeBatch", "u", (guint32) arg_batch);
        answer = service_call(w, g_variant_dict_end(&request), error);
        if (!answer || !g_variant_lookup(answer, "Request", "u", &w->request_id))
                return FALSE;
        if (arg_batch > 0 && (!g_variant_lookup(answer, "EdgeBatch", "u", &batch) || batch != (guint32) arg_batch)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                            "the service did not take EdgeBatch=%d (a build from before it?): try --batch=0", arg_batch);
                return FALSE;
        }
        return TRUE;
}

static void service_close(Way *w) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) answer = NULL;

        if (!w->connection)
                return;
        if (w->request_id && !w->closed) {
                answer = service_call(
                        w, g_variant_new_parsed("{'Action': <'Release'>, 'Request': <%u>}", w->request_id), &error);
                if (!answer)
                        fprintf(stderr, "gpio-edges: Release failed: %s\n", error->message);
        }
        if (app_service_connection_get_is_open(w->connection))
                app_service_connection_close_sync(w->connection, NULL, NULL);
        g_signal_handlers_disconnect_by_data(w->connection, w);
        g_clear_object(&w->connection);
}

static gboolean on_wakeup(gpointer user_data) {
        return G_SOURCE_CONTINUE;
}

/* Receives in the main thread until the puller is done and every pull's edge arrived, or
 * nothing more comes for IDLE_TIMEOUT_NS. */
static void receive(Way *w, Puller *p) {
        guint wakeup = w->kind == WAY_SERVICE ? g_timeout_add(20, on_wakeup, NULL) : 0;

        for (;;) {
                gint64 last_cb, idle_since;
                guint64 n;

                if (w->kind == WAY_FLOOR)
                        floor_read(w, 20);
                else
                        g_main_context_iteration(NULL, /* may_block= */ TRUE);

                n = tally_received(&w->tally, &last_cb);
                if (!g_atomic_int_get(&p->done))
                        continue;
                if (n >= p->n || p->failed || w->closed)
                        break;
                idle_since = MAX(last_cb, p->t_end);
                if (now_ns() - idle_since > IDLE_TIMEOUT_NS)
                        break;
        }
        if (wakeup)
                g_source_remove(wakeup);
}

/* ---- figures --------------------------------------------------------------------------------- */

typedef struct {
        gboolean valid;
        double min, median, p99; /* µs */
} Spread;

typedef struct {
        guint64 pulls, received, lost, gaps, merged, disorder, messages;
        double pull_rate;       /* pulls/s the thread managed */
        double rate;            /* edges received/s, first pull to last arrival */
        double made_rate;       /* edges received/s, first pull to last pull: what the kernel made */
        double lag_ms;          /* last arrival after the last pull */
} Count;

#define MAX_PACED 16

typedef struct {
        Count burst;
        Count paced[MAX_PACED];
        Spread pull_to_cb, kernel_to_cb, pull_to_kernel;
        guint64 latency_received;
        gboolean ran;
} Result;

static int compare_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

static Spread spread_of(double *v, gsize n) {
        Spread s = { .valid = n > 0 };

        if (n == 0)
                return s;
        qsort(v, n, sizeof *v, compare_double);
        s.min = v[0];
        s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        s.p99 = v[MIN(n - 1, (gsize) ((double) n * 0.99 + 0.999999) - 1)];
        return s;
}

static Count count_of(Way *w, Puller *p) {
        Tally *t = &w->tally;
        Count c = { .pulls = p->n };

        g_mutex_lock(&t->lock);
        c.received = t->n_received;
        c.lost = t->n_lost;
        c.gaps = t->n_gaps;
        c.disorder = t->n_disorder;
        c.messages = t->n_messages;
        c.merged = c.pulls > c.received + c.lost + c.gaps ? c.pulls - c.received - c.lost - c.gaps : 0;
        c.pull_rate = p->t_end > p->t_start ? (double) p->n * NS_PER_S / (double) (p->t_end - p->t_start) : 0;
        c.rate = t->last_cb > p->t_start ? (double) c.received * NS_PER_S / (double) (t->last_cb - p->t_start) : 0;
        c.made_rate = p->t_end > p->t_start ? (double) c.received * NS_PER_S / (double) (p->t_end - p->t_start) : 0;
        c.lag_ms = t->last_cb ? (double) (t->last_cb - p->t_write[p->n - 1]) / 1e6 : 0;
        g_mutex_unlock(&t->lock);
        return c;
}

/* One phase: the puller in a thread, the receiving here. */
static gboolean run_phase(Way *w, Puller *p, PhaseKind kind, guint64 n, double rate) {
        GThread *thread;

        tally_reset(&w->tally, n);
        g_free(p->t_write);
        p->t_write = g_new0(gint64, n);
        p->kind = kind;
        p->n = n;
        p->rate = rate;
        p->t_start = p->t_end = 0;
        p->done = 0;
        p->failed = FALSE;
        thread = g_thread_new("puller", puller_thread, p);
        receive(w, p);
        g_thread_join(thread);
        return !p->failed && !w->closed;
}

static void run_way(Way *w, Puller *p, const double *rates, gsize n_rates, Result *r) {
        Tally *t = &w->tally;
        g_autofree double *a = NULL, *b = NULL, *c = NULL;
        gsize n = 0;

        fprintf(stderr, "gpio-edges: %s: warm-up\n", way_names[w->kind]);
        if (!run_phase(w, p, PHASE_LATENCY, WARMUP_EDGES, 0))
                return;

        fprintf(stderr, "gpio-edges: %s: burst of %d\n", way_names[w->kind], arg_edges);
        if (!run_phase(w, p, PHASE_BURST, (guint64) arg_edges, 0))
                return;
        r->burst = count_of(w, p);

        for (gsize i = 0; i < n_rates; i++) {
                fprintf(stderr, "gpio-edges: %s: %d paced at %.0f/s\n", way_names[w->kind], arg_paced_edges, rates[i]);
                if (!run_phase(w, p, PHASE_PACED, (guint64) arg_paced_edges, rates[i]))
                        return;
                r->paced[i] = count_of(w, p);
        }

        fprintf(stderr, "gpio-edges: %s: latency, %d one at a time\n", way_names[w->kind], arg_latency_edges);
        if (!run_phase(w, p, PHASE_LATENCY, (guint64) arg_latency_edges, 0))
                return;
        g_mutex_lock(&t->lock);
        r->latency_received = t->n_received;
        a = g_new(double, p->n);
        b = g_new(double, p->n);
        c = g_new(double, p->n);
        /* One at a time, so the i-th arrival is the i-th pull's edge (when all arrived). */
        for (guint64 i = 0; i < MIN(p->n, t->n_received); i++, n++) {
                a[n] = (double) (t->t_cb[i] - p->t_write[i]) / 1e3;
                b[n] = (double) (t->t_cb[i] - t->t_kernel[i]) / 1e3;
                c[n] = (double) (t->t_kernel[i] - p->t_write[i]) / 1e3;
        }
        g_mutex_unlock(&t->lock);
        r->pull_to_cb = spread_of(a, n);
        r->kernel_to_cb = spread_of(b, n);
        r->pull_to_kernel = spread_of(c, n);
        r->ran = TRUE;
}

/* ---- the table ------------------------------------------------------------------------------- */

static void print_row(const char *label, const char *floor, const char *service, double ratio) {
        if (ratio > 0)
                printf("  %-34s %22s %22s %10.2f\n", label, floor, service, ratio);
        else
                printf("  %-34s %22s %22s %10s\n", label, floor, service, "");
}

static char *fmt_count(const Result *r, const Count *c) {
        if (!r->ran && c->pulls == 0)
                return g_strdup("-");
        return g_strdup_printf("%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
                               c->received, c->lost, c->gaps, c->merged);
}

/* The service's counts, with the edges per event after them. */
static char *fmt_count_events(const Result *r, const Count *c) {
        g_autofree char *count = fmt_count(r, c);

        if (c->messages == 0)
                return g_steal_pointer(&count);
        return g_strdup_printf("%s %.1f/ev", count, (double) c->received / (double) c->messages);
}

/* A paced phase: the rate the thread really pulled at (below the one asked for when the guest is
 * too slow) and how late the last edge came. */
static char *fmt_paced(const Count *c) {
        return c->pulls ? g_strdup_printf("%.0f; %.1f", c->pull_rate, c->lag_ms) : g_strdup("-");
}

static char *fmt_rate(const Count *c) {
        return c->pulls ? g_strdup_printf("%.0f", c->rate) : g_strdup("-");
}

static char *fmt_spread(const Spread *s) {
        return s->valid ? g_strdup_printf("%.0f/%.0f/%.0f", s->min, s->median, s->p99) : g_strdup("-");
}

static double ratio(double service, double floor) {
        return floor > 0 && service > 0 ? service / floor : 0;
}

/* Kept up at @rate: every edge the kernel made arrived, in order (nothing lost by the service, no
 * gap in the kernel's seqnos, none going back), the last one within 100 ms or ten periods of the
 * last pull (not delivered from a growing backlog). Merged pulls made no edge: no reader can
 * receive them, so they do not count against either way. */
static gboolean keeps_up(const Count *c, double rate) {
        return c->pulls > 0 && c->received > 0 && c->lost == 0 && c->gaps == 0 && c->disorder == 0 &&
               c->lag_ms < MAX(100.0, 10 * 1000.0 / rate);
}

/* The highest paced rate each way kept up with, 0 for none; and the most edges per second the
 * kernel made and that way received in a phase it kept up with (fewer than the pulls when
 * gpio-sim merged some: it merges more while the service's processes take the CPU). */
static void best_rates(const Result *r, const double *rates, gsize n_rates, double best[N_WAYS],
                       double best_made[N_WAYS]) {
        for (WayKind k = 0; k < N_WAYS; k++) {
                best[k] = best_made[k] = 0;
                for (gsize i = 0; i < n_rates; i++) {
                        if (!keeps_up(&r[k].paced[i], rates[i]))
                                continue;
                        best[k] = MAX(best[k], rates[i]);
                        best_made[k] = MAX(best_made[k], r[k].paced[i].made_rate);
                }
        }
}

static guint64 disorder_of(const Result *r, gsize n_rates) {
        guint64 n = r->burst.disorder;

        for (gsize i = 0; i < n_rates; i++)
                n += r->paced[i].disorder;
        return n;
}

static void print_goal(const char *what, double value, gboolean higher_is_better, double goal) {
        if (value <= 0) {
                printf("  %-48s %8s\n", what, "-");
                return;
        }
        printf("  %-48s %8.2f   goal %s %.1f: %s\n", what, value, higher_is_better ? ">=" : "<=", goal,
               (higher_is_better ? value >= goal : value <= goal) ? "met" : "NOT met");
}

/* The two figures the service is judged by, service/floor (services/gpio/README.md, "Events"). */
static void print_ratios(const Result *r, const double *rates, gsize n_rates) {
        const Result *f = &r[WAY_FLOOR], *s = &r[WAY_SERVICE];
        double best[N_WAYS], best_made[N_WAYS], top = 0;

        best_rates(r, rates, n_rates, best, best_made);
        for (gsize i = 0; i < n_rates; i++)
                top = MAX(top, rates[i]);
        if (arg_batch > 0)
                printf("\nservice/floor, with EdgeBatch=%d:\n", arg_batch);
        else
                printf("\nservice/floor, with `edge` events (no EdgeBatch):\n");
        print_goal("rate without loss (highest paced rate kept up)", ratio(best[WAY_SERVICE], best[WAY_FLOOR]), TRUE, 0.5);
        print_goal("  edges/s made and received at such a rate", ratio(best_made[WAY_SERVICE], best_made[WAY_FLOOR]), TRUE,
                   0.5);
        print_goal("median latency, pull -> callback", ratio(s->pull_to_cb.median, f->pull_to_cb.median), FALSE, 3.0);
        if (best[WAY_FLOOR] > 0 && best[WAY_FLOOR] >= top && best[WAY_SERVICE] >= top)
                printf("  (both kept up with the highest rate tried, %.0f/s: give higher --paced rates to tell them "
                       "apart)\n",
                       top);
        for (WayKind k = 0; k < N_WAYS; k++)
                if (disorder_of(&r[k], n_rates) > 0)
                        printf("  %s: %" G_GUINT64_FORMAT " edges came with a seqno not above the one before\n",
                               way_names[k], disorder_of(&r[k], n_rates));
}

static void print_table(const Result *r, const double *rates, gsize n_rates) {
        const Result *f = &r[WAY_FLOOR], *s = &r[WAY_SERVICE];
        g_autofree char *x = NULL, *y = NULL;
        double best[N_WAYS], best_made[N_WAYS];

        best_rates(r, rates, n_rates, best, best_made);

        printf("\n%s line %d, edges made through %s\n", arg_chip, arg_offset, arg_pull_path);
        printf("  %-34s %22s %22s %10s\n", "", way_names[WAY_FLOOR], way_names[WAY_SERVICE], "svc/floor");

#define ROW(label, fx, fy, rt)                              \
        do {                                                \
                g_free(x), g_free(y);                       \
                x = (fx), y = (fy);                         \
                print_row((label), x, y, (rt));             \
        } while (0)

        {
                g_autofree char *label = g_strdup_printf("burst of %d: pulls/s made", arg_edges);

                ROW(label, g_strdup_printf("%.0f", f->burst.pull_rate), g_strdup_printf("%.0f", s->burst.pull_rate), 0);
        }
        ROW("  edges/s received", fmt_rate(&f->burst), fmt_rate(&s->burst), ratio(s->burst.rate, f->burst.rate));
        ROW("  received/lost/gaps/merged", fmt_count(f, &f->burst), fmt_count_events(s, &s->burst), 0);
        ROW("  last edge after last pull, ms", g_strdup_printf("%.1f", f->burst.lag_ms),
            g_strdup_printf("%.1f", s->burst.lag_ms), ratio(s->burst.lag_ms, f->burst.lag_ms));
        for (gsize i = 0; i < n_rates; i++) {
                g_autofree char *label = g_strdup_printf("paced %d at %.0f/s: rcvd/lost/gaps/merged", arg_paced_edges,
                                                         rates[i]);

                ROW(label, fmt_count(f, &f->paced[i]), fmt_count_events(s, &s->paced[i]), 0);
                ROW("  pulls/s made; last edge after, ms", fmt_paced(&f->paced[i]), fmt_paced(&s->paced[i]), 0);
        }
        ROW("highest paced rate kept up with, /s", best[0] > 0 ? g_strdup_printf("%.0f", best[0]) : g_strdup("none"),
            best[1] > 0 ? g_strdup_printf("%.0f", best[1]) : g_strdup("none"), ratio(best[1], best[0]));
        ROW("  most edges/s made and received in one", g_strdup_printf("%.0f", best_made[0]),
            g_strdup_printf("%.0f", best_made[1]), ratio(best_made[1], best_made[0]));
        {
                g_autofree char *label = g_strdup_printf("latency, %d edges (min/med/p99 µs)", arg_latency_edges);

                printf("  %s\n", label);
        }
        ROW("  pull -> callback", fmt_spread(&f->pull_to_cb), fmt_spread(&s->pull_to_cb),
            ratio(s->pull_to_cb.median, f->pull_to_cb.median));
        ROW("  kernel timestamp -> callback", fmt_spread(&f->kernel_to_cb), fmt_spread(&s->kernel_to_cb),
            ratio(s->kernel_to_cb.median, f->kernel_to_cb.median));
        ROW("  pull -> kernel timestamp", fmt_spread(&f->pull_to_kernel), fmt_spread(&s->pull_to_kernel), 0);
        ROW("  edges received", g_strdup_printf("%" G_GUINT64_FORMAT, f->latency_received),
            g_strdup_printf("%" G_GUINT64_FORMAT, s->latency_received), 0);
#undef ROW
        printf("(svc/floor: of rates, below 1 is slower; of latencies, above 1 is later. lost: dropped by the\n"
               " service for a slow client; gaps: kernel buffer overflow; merged: pulls that made no edge of\n"
               " their own, two pulls before the kernel's edge thread ran once; /ev: edges per event. Kept up\n"
               " with: no edge lost, no gap, in order, the last within 100 ms or ten periods of the last pull)\n");
        print_ratios(r, rates, n_rates);
}

/* ---- main ------------------------------------------------------------------------------------ */

static gboolean find_pull_path(GError **error) {
        g_autofree char *link = g_strdup_printf("/sys/bus/gpio/devices/%s", arg_chip);
        g_autofree char *dir = realpath(link, NULL);

        if (!dir) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", link, g_strerror(errno));
                return FALSE;
        }
        arg_pull_path = g_strdup_printf("%s/sim_gpio%d/pull", dir, arg_offset);
        return TRUE;
}

int main(int argc, char *argv[]) {
        static const GOptionEntry options[] = {
                { "chip", 0, 0, G_OPTION_ARG_STRING, &arg_chip, "The gpio-sim chip's device name (gpiochipM)", "NAME" },
                { "offset", 0, 0, G_OPTION_ARG_INT, &arg_offset, "The line's offset", "K" },
                { "pull-path", 0, 0, G_OPTION_ARG_FILENAME, &arg_pull_path,
                  "The line's sysfs pull attribute (default: found from the chip)", "PATH" },
                { "edges", 0, 0, G_OPTION_ARG_INT, &arg_edges, "Pulls in the burst (5000)", "N" },
                { "paced", 0, 0, G_OPTION_ARG_STRING, &arg_paced, "Paced rates, pulls/s (100,250,500,1000,2000,4000,8000)",
                  "R,R,..." },
                { "paced-edges", 0, 0, G_OPTION_ARG_INT, &arg_paced_edges, "Pulls at each paced rate (500)", "N" },
                { "latency-edges", 0, 0, G_OPTION_ARG_INT, &arg_latency_edges, "Pulls timed one at a time (200)",
                  "N" },
                { "pause-ms", 0, 0, G_OPTION_ARG_INT, &arg_pause_ms, "Pause before each timed pull (5)", "N" },
                { "only", 0, 0, G_OPTION_ARG_STRING, &arg_only, "Run only one way: floor or service", "WAY" },
                { "batch", 0, 0, G_OPTION_ARG_INT, &arg_batch,
                  "The service's EdgeBatch (256); 0: `edge` events, as a client from before it", "N" },
                { "bus-address", 0, 0, G_OPTION_ARG_STRING, &arg_bus_address,
                  "The bus of the broker (default: the system bus)", "ADDRESS" },
                {}
        };
        g_autoptr(GOptionContext) context = g_option_context_new("- GPIO edge delivery, the service against libgpiod");
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) rate_texts = NULL;
        double rates[MAX_PACED];
        gsize n_rates = 0;
        Result results[N_WAYS] = {};
        Puller puller = {};
        int status = EXIT_SUCCESS;

        g_option_context_add_main_entries(context, options, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                fprintf(stderr, "gpio-edges: %s\n", error->message);
                return 2;
        }
        if (!arg_chip || arg_offset < 0 || arg_edges < 1 || arg_paced_edges < 1 || arg_latency_edges < 1 ||
            arg_pause_ms < 0 || arg_batch < 0 || (arg_only && strcmp(arg_only, "floor") != 0 && strcmp(arg_only, "service") != 0)) {
                fprintf(stderr, "gpio-edges: --chip and --offset are required; counts must be positive; "
                                "--batch is 0 or more; --only is floor or service\n");
                return 2;
        }
        rate_texts = g_strsplit(arg_paced ? arg_paced : "100,250,500,1000,2000,4000,8000", ",", -1);
        for (char **r = rate_texts; *r && **r; r++) {
                double rate = g_ascii_strtod(*r, NULL);

                if (rate <= 0 || n_rates == MAX_PACED) {
                        fprintf(stderr, "gpio-edges: --paced takes up to %d positive rates\n", MAX_PACED);
                        return 2;
                }
                rates[n_rates++] = rate;
        }
        if (!arg_pull_path && !find_pull_path(&error)) {
                fprintf(stderr, "gpio-edges: cannot find the pull attribute of %s: %s (a gpio-sim chip?)\n",
                        arg_chip, error->message);
                return EXIT_FAILURE;
        }
        puller.fd = open(arg_pull_path, O_WRONLY | O_CLOEXEC);
        if (puller.fd < 0) {
                fprintf(stderr, "gpio-edges: %s: %s\n", arg_pull_path, g_strerror(errno));
                return EXIT_FAILURE;
        }
        /* Low before anything requests the line, so that requesting it makes no edge. */
        puller.high = TRUE;
        if (!pull(&puller))
                return EXIT_FAILURE;

        for (WayKind k = 0; k < N_WAYS; k++) {
                Way w = { .kind = k };
                gboolean opened;

                g_mutex_init(&w.tally.lock);
                g_cond_init(&w.tally.cond);

                if (arg_only && strcmp(arg_only, k == WAY_FLOOR ? "floor" : "service") != 0)
                        continue;
                puller.tally = &w.tally;
                opened = k == WAY_FLOOR ? floor_open(&w, &error) : service_open(&w, &error);
                if (opened)
                        run_way(&w, &puller, rates, n_rates, &results[k]);
                else {
                        fprintf(stderr, "gpio-edges: %s: %s\n", way_names[k], error->message);
                        g_clear_error(&error);
                }
                if (!results[k].ran)
                        status = EXIT_FAILURE;
                if (k == WAY_FLOOR)
                        floor_close(&w);
                else
                        service_close(&w);
                g_free(w.tally.t_cb);
                g_free(w.tally.t_kernel);
                g_mutex_clear(&w.tally.lock);
                g_cond_clear(&w.tally.cond);
        }

        print_table(results, rates, n_rates);
        g_free(puller.t_write);
        close(puller.fd);
        return status;
}
