/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * echo-overhead: what libappservice-1 adds to an Echo round trip.
 *
 * Opens one connection to the echo app service (com.example.echo, served by the echo example
 * provider) through the library, then sends the same message on it N times each way:
 *
 *   library    app_service_connection_send_message_sync() on the open AppServiceConnection;
 *   raw GDBus  g_dbus_connection_call_sync() of io.appservice1.Connection.SendMessage on the
 *              same bus connection, to the same destination (the broker's unique name, as the
 *              library calls it) and the same connection object path.
 *
 * Both make the very same D-Bus traffic through the same broker and provider; the difference is
 * the library's own work (checks, wrapping the reply in an AppServiceResponse). The two ways
 * alternate in rounds, the one that goes first alternating too, so that drift (CPU frequency,
 * caches, other load) falls on both alike. Each round trip is timed alone: its wall-clock time
 * (CLOCK_MONOTONIC) and the CPU time this process spent on it (CLOCK_PROCESS_CPUTIME_ID, the
 * calling thread and GDBus's worker thread together), which is far less noisy than the wall
 * clock on a busy machine and is where the library's cost shows. Checking the echo and freeing
 * the reply happen outside the timed part, for both alike.
 *
 * Done for a small ValueSet and a 64 KiB one; prints the per-round-trip mean and median wall
 * time of both ways, their mean CPU time, the library's overhead in µs and %, and the standard
 * error of the overhead over the rounds (how much of it is noise).
 *
 *   echo-overhead [--count=N] [--rounds=R] [--warmup=W] [--service=NAME] [--address=ADDRESS]
 *                 [--small-only]
 *
 * The bus is the system bus (DBUS_SYSTEM_BUS_ADDRESS if set) unless --address is given.
 * tests/bench/echo-overhead.py runs it against a private bus with the broker and the echo
 * provider of a build tree. A benchmark: it fails only when something does not work.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <gio/gio.h>

#include <appservice.h>

#define BROKER_NAME "io.appservice1"
#define CONNECTION_IFACE "io.appservice1.Connection"
#define LARGE_SIZE (64 * 1024)

static gint arg_count = 5000;
static gint arg_rounds = 1000;
static gint arg_warmup = 200;
static gchar *arg_service = NULL;
static gchar *arg_address = NULL;
static gboolean arg_small_only = FALSE;

typedef struct {
        GDBusConnection *bus;
        AppServiceConnection *connection;
        gchar *broker; /* the unique name of io.appservice1 */
        const gchar *path;
} Bench;

typedef enum { WAY_LIBRARY, WAY_RAW, N_WAYS } Way;

static const gchar *const way_names[N_WAYS] = {
        [WAY_LIBRARY] = "library",
        [WAY_RAW] = "raw GDBus",
};

/* What one round trip took, in ns. */
typedef struct {
        gint64 wall;
        gint64 cpu;
} Sample;

static gint64 clock_ns(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (gint64) ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
}

/* The serialized forms, compared: g_variant_equal() would print both as text first. */
static gboolean check_echo(GVariant *sent, GVariant *received, GError **error) {
        g_autoptr(GBytes) sent_bytes = g_variant_get_data_as_bytes(sent);
        g_autoptr(GBytes) received_bytes = g_variant_get_data_as_bytes(received);

        if (!g_variant_is_of_type(received, g_variant_get_type(sent)) || !g_bytes_equal(sent_bytes, received_bytes)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "the echo differs from the message sent");
                return FALSE;
        }
        return TRUE;
}

/* One round trip one way, timed into @sample. */
static gboolean round_trip(Bench *b, Way way, GVariant *message, Sample *sample, GError **error) {
        gint64 cpu_start, wall_start, wall_end, cpu_end;

        if (way == WAY_LIBRARY) {
                g_autoptr(AppServiceResponse) response = NULL;

                cpu_start = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
                wall_start = clock_ns(CLOCK_MONOTONIC);
                response = app_service_connection_send_message_sync(b->connection, message, NULL, error);
                wall_end = clock_ns(CLOCK_MONOTONIC);
                cpu_end = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
                if (!response)
                        return FALSE;
                if (app_service_response_get_status(response) != APP_SERVICE_RESPONSE_STATUS_SUCCESS) {
                        const GError *e = app_service_response_get_error(response);

                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "response status %d: %s",
                                    app_service_response_get_status(response), e ? e->message : "no error");
                        return FALSE;
                }
                if (!check_echo(message, app_service_response_get_message(response), error))
                        return FALSE;
        } else {
                g_autoptr(GVariant) reply = NULL;
                g_autoptr(GVariant) echo = NULL;

                cpu_start = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
                wall_start = clock_ns(CLOCK_MONOTONIC);
                reply = g_dbus_connection_call_sync(b->bus, b->broker, b->path, CONNECTION_IFACE, "SendMessage",
                                                    g_variant_new("(@a{sv})", message), G_VARIANT_TYPE("(a{sv})"),
                                                    G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, error);
                wall_end = clock_ns(CLOCK_MONOTONIC);
                cpu_end = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
                if (!reply)
                        return FALSE;
                echo = g_variant_get_child_value(reply, 0);
                if (!check_echo(message, echo, error))
                        return FALSE;
        }
        if (sample) {
                sample->wall = wall_end - wall_start;
                sample->cpu = cpu_end - cpu_start;
        }
        return TRUE;
}

static int compare_gint64(const void *a, const void *b) {
        gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

        return (x > y) - (x < y);
}

/* In µs, of @n samples. */
static double mean_us(const Sample *samples, gsize n, gboolean cpu) {
        double sum = 0;

        for (gsize i = 0; i < n; i++)
                sum += (double) (cpu ? samples[i].cpu : samples[i].wall);
        return sum / (double) n / 1000.0;
}

static double median_wall_us(const Sample *samples, gsize n) {
        g_autofree gint64 *walls = g_new(gint64, n);

        for (gsize i = 0; i < n; i++)
                walls[i] = samples[i].wall;
        qsort(walls, n, sizeof *walls, compare_gint64);
        if (n % 2)
                return (double) walls[n / 2] / 1000.0;
        return ((double) walls[n / 2 - 1] + (double) walls[n / 2]) / 2.0 / 1000.0;
}

/* The standard error of the mean of @values. */
static double standard_error(const double *values, gint n) {
        double mean = 0, sum = 0;

        if (n < 2)
                return NAN;
        for (gint i = 0; i < n; i++)
                mean += values[i] / n;
        for (gint i = 0; i < n; i++)
                sum += (values[i] - mean) * (values[i] - mean);
        return sqrt(sum / (n - 1)) / sqrt(n);
}

static double percent(double overhead, double base) {
        return 100.0 * overhead / base;
}

static gboolean bench_message(Bench *b, const gchar *title, GVariant *message, GError **error) {
        g_autofree Sample *all_samples = g_new0(Sample, (gsize) arg_count * N_WAYS);
        Sample *samples[N_WAYS] = { all_samples, all_samples + arg_count };
        /* Per round: the library's mean minus the raw mean, wall and CPU. */
        g_autofree double *round_wall = g_new0(double, arg_rounds);
        g_autofree double *round_cpu = g_new0(double, arg_rounds);
        gsize done[N_WAYS] = { 0 };
        double wall[N_WAYS], median[N_WAYS], cpu[N_WAYS];

        /* Warm-up, not counted: the first round trips fault in code and buffers. */
        for (gint i = 0; i < arg_warmup; i++)
                for (Way w = 0; w < N_WAYS; w++)
                        if (!round_trip(b, w, message, NULL, error))
                                return FALSE;

        for (gint r = 0; r < arg_rounds; r++) {
                /* The round trips of this round: the count spread as evenly as it goes. */
                gsize end = (gsize) arg_count * (gsize) (r + 1) / (gsize) arg_rounds;
                gsize first = done[WAY_LIBRARY];

                for (gint k = 0; k < N_WAYS; k++) {
                        Way w = (Way) ((k + r) % N_WAYS);

                        for (; done[w] < end; done[w]++)
                                if (!round_trip(b, w, message, &samples[w][done[w]], error))
                                        return FALSE;
                }
                round_wall[r] = mean_us(samples[WAY_LIBRARY] + first, end - first, FALSE) -
                                mean_us(samples[WAY_RAW] + first, end - first, FALSE);
                round_cpu[r] = mean_us(samples[WAY_LIBRARY] + first, end - first, TRUE) -
                               mean_us(samples[WAY_RAW] + first, end - first, TRUE);
        }

        for (Way w = 0; w < N_WAYS; w++) {
                wall[w] = mean_us(samples[w], (gsize) arg_count, FALSE);
                median[w] = median_wall_us(samples[w], (gsize) arg_count);
                cpu[w] = mean_us(samples[w], (gsize) arg_count, TRUE);
        }

        printf("\n%s (%" G_GSIZE_FORMAT " bytes serialized), per round trip:\n", title, g_variant_get_size(message));
        printf("  %-10s %13s %13s %13s\n", "", "wall mean", "wall median", "CPU mean");
        for (Way w = 0; w < N_WAYS; w++)
                printf("  %-10s %10.2f µs %10.2f µs %10.2f µs\n", way_names[w], wall[w], median[w], cpu[w]);
        printf("  %-10s %+10.2f µs %+10.2f µs %+10.2f µs\n", "overhead", wall[WAY_LIBRARY] - wall[WAY_RAW],
               median[WAY_LIBRARY] - median[WAY_RAW], cpu[WAY_LIBRARY] - cpu[WAY_RAW]);
        printf("  %-10s %+11.1f %% %+11.1f %% %+11.1f %%\n", "",
               percent(wall[WAY_LIBRARY] - wall[WAY_RAW], wall[WAY_RAW]),
               percent(median[WAY_LIBRARY] - median[WAY_RAW], median[WAY_RAW]),
               percent(cpu[WAY_LIBRARY] - cpu[WAY_RAW], cpu[WAY_RAW]));
        if (arg_rounds > 1)
                printf("  standard error of the mean overhead over the %d rounds: wall ±%.2f µs, CPU ±%.2f µs\n",
                       arg_rounds, standard_error(round_wall, arg_rounds), standard_error(round_cpu, arg_rounds));
        fflush(stdout);
        return TRUE;
}

static GVariant *small_message(void) {
        g_autoptr(GVariantDict) dict = g_variant_dict_new(NULL);

        g_variant_dict_insert(dict, "Action", "s", "Echo");
        g_variant_dict_insert(dict, "Text", "s", "hello");
        g_variant_dict_insert(dict, "count", "i", 5);
        return g_variant_ref_sink(g_variant_dict_end(dict));
}

/* One 64 KiB string (not a repeating pattern). A string, not a byte array: the broker and the
 * echo provider (sd-bus) read and copy a string in one piece but an array element by element,
 * which makes a 64 KiB `ay` round trip several times slower and would drown the library's share
 * in that noise. */
static GVariant *large_message(void) {
        g_autoptr(GVariantDict) dict = g_variant_dict_new(NULL);
        g_autofree gchar *text = g_malloc(LARGE_SIZE + 1);
        guint32 x = 2463534242u;

        for (gsize i = 0; i < LARGE_SIZE; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                text[i] = (gchar) ('a' + x % 26);
        }
        text[LARGE_SIZE] = '\0';
        g_variant_dict_insert(dict, "Text", "s", text);
        return g_variant_ref_sink(g_variant_dict_end(dict));
}

static GDBusConnection *get_bus(GError **error) {
        if (arg_address)
                return g_dbus_connection_new_for_address_sync(arg_address,
                                                              G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                              G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                              NULL, NULL, error);
        return g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, error);
}

static gchar *get_name_owner(GDBusConnection *bus, const gchar *name, GError **error) {
        g_autoptr(GVariant) reply = g_dbus_connection_call_sync(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                                "org.freedesktop.DBus", "GetNameOwner",
                                                                g_variant_new("(s)", name), G_VARIANT_TYPE("(s)"),
                                                                G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
        gchar *owner = NULL;

        if (reply)
                g_variant_get(reply, "(s)", &owner);
        return owner;
}

int main(int argc, char *argv[]) {
        const GOptionEntry options[] = {
                { "count", 'n', 0, G_OPTION_ARG_INT, &arg_count, "Round trips each way, per message (5000)", "N" },
                { "rounds", 'r', 0, G_OPTION_ARG_INT, &arg_rounds, "Rounds the two ways alternate in (1000)", "R" },
                { "warmup", 0, 0, G_OPTION_ARG_INT, &arg_warmup, "Uncounted round trips each way first (200)", "W" },
                { "service", 0, 0, G_OPTION_ARG_STRING, &arg_service, "The echo app service (com.example.echo)",
                  "NAME" },
                { "address", 0, 0, G_OPTION_ARG_STRING, &arg_address, "The bus (default: the system bus)",
                  "ADDRESS" },
                { "small-only", 0, 0, G_OPTION_ARG_NONE, &arg_small_only,
                  "Only the small message (what monitor-cost.py reads)", NULL },
                { NULL },
        };
        g_autoptr(GOptionContext) context = g_option_context_new("- the library's overhead on an Echo round trip");
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) small = NULL;
        g_autoptr(GVariant) large = NULL;
        Bench b = { 0 };
        AppServiceConnectionStatus status;
        int ret = EXIT_FAILURE;

        g_option_context_add_main_entries(context, options, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                fprintf(stderr, "echo-overhead: %s\n", error->message);
                return 2;
        }
        if (arg_count < 1 || arg_warmup < 0 || arg_rounds < 1)
                g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            "need --count >= 1, --rounds >= 1, --warmup >= 0");
        if (!error && arg_rounds > arg_count)
                arg_rounds = arg_count;
        if (error) {
                fprintf(stderr, "echo-overhead: %s\n", error->message);
                return 2;
        }
        if (!arg_service)
                arg_service = g_strdup("com.example.echo");

        b.bus = get_bus(&error);
        if (!b.bus)
                goto out;
        b.connection = app_service_connection_new_for_bus(b.bus, arg_service, NULL);
        status = app_service_connection_open_sync(b.connection, NULL, &error);
        if (status != APP_SERVICE_CONNECTION_STATUS_SUCCESS) {
                if (!error)
                        g_set_error(&error, G_IO_ERROR, G_IO_ERROR_FAILED, "opening %s: status %d", arg_service,
                                    status);
                goto out;
        }
        b.path = app_service_connection_get_object_path(b.connection);
        b.broker = get_name_owner(b.bus, BROKER_NAME, &error);
        if (!b.broker)
                goto out;

        printf("Echo round trips on one connection to %s (%s), one at a time:\n"
               "  library   = app_service_connection_send_message_sync()\n"
               "  raw GDBus = g_dbus_connection_call_sync(%s, %s, %s.SendMessage)\n"
               "  %d round trips each way, alternating in %d rounds, after %d uncounted each\n",
               arg_service, b.path, b.broker, b.path, CONNECTION_IFACE, arg_count, arg_rounds, arg_warmup);

        small = small_message();
        large = large_message();
        if (!bench_message(&b, "small message: Action, Text, count", small, &error) ||
            (!arg_small_only &&
             !bench_message(&b, "64 KiB message: Text, a string of 65536 letters", large, &error)))
                goto out;

        if (!app_service_connection_close_sync(b.connection, NULL, &error))
                goto out;
        ret = EXIT_SUCCESS;
out:
        if (error)
                fprintf(stderr, "echo-overhead: %s\n", error->message);
        g_clear_object(&b.connection);
        g_clear_object(&b.bus);
        g_free(b.broker);
        g_free(arg_service);
        g_free(arg_address);
        return ret;
}
