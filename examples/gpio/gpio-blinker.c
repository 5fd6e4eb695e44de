/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * gpio-blinker: blinks one GPIO line through the app service io.appservice.gpio, on
 * libappservice alone (services/gpio/README.md has the protocol).
 *
 *   gpio-blinker [--chip=CHIP] LINE [--period-ms=N] [--count=N] [--active-low] [--bus-address=ADDRESS]
 *
 * LINE is a line name (looked up on CHIP, or on every chip without --chip) or an offset on CHIP.
 * The program opens a connection to io.appservice.gpio, requests the line as an output driving 0,
 * then every --period-ms writes the other value and prints it, one line per change:
 *
 *   gpio-blinker: gpiochip0 line 3 "led0" requested as output (request 1), value 0
 *   gpio-blinker: toggle 1: gpiochip0 line 3 "led0" = 1
 *
 * After --count toggles (0, the default, blinks until stopped), or on SIGINT or SIGTERM, it
 * releases the line and closes the connection, and exits 0. An error the service answers is
 * printed with its code and message ("Request failed: line-busy: ...") and the exit status is 1;
 * 2 is a usage error.
 *
 * The bus is the system bus (or the one in DBUS_SYSTEM_BUS_ADDRESS), unless --bus-address is
 * given.
 */

#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <appservice.h>

#define GPIO_SERVICE "io.appservice.gpio"

static gchar *arg_chip = NULL;
static gint arg_period_ms = 500;
static gint arg_count = 0;
static gboolean arg_active_low = FALSE;
static gchar *arg_bus_address = NULL;

typedef struct {
        AppServiceConnection *connection;
        GMainLoop *loop;
        guint32 request;        /* the service's id of our line request; 0: none */
        gchar *chip;            /* what the service answered: the chip's device name, ... */
        guint32 offset;         /* ... the line's offset ... */
        gchar *name;            /* ... and its name ("" when it has none) */
        gint value;             /* what the line drives now, 0 or 1 (logical) */
        gint toggles;
        int exit_status;
        guint timer;
} Blinker;

static void blinker_done(Blinker *b) {
        if (b->timer)
                g_source_remove(b->timer);
        if (b->connection)
                g_signal_handlers_disconnect_by_data(b->connection, b);
        g_clear_object(&b->connection);
        g_clear_pointer(&b->loop, g_main_loop_unref);
        g_clear_pointer(&b->chip, g_free);
        g_clear_pointer(&b->name, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Blinker, blinker_done)

/* The error domain of the answers whose Status is "error": the message is "CODE: Message". */
#define BLINKER_ERROR (g_quark_from_static_string("gpio-blinker-error"))

/* Sends @message (a floating reference is sunk) and waits for the answer. Returns the answer's
 * ValueSet when its Status is "ok"; otherwise NULL with @error saying why: the library's reason
 * when no answer came, or the service's Error and Message. */
static GVariant *call(Blinker *b, GVariant *message, GError **error) {
        g_autoptr(GVariant) owned = g_variant_ref_sink(message);
        g_autoptr(AppServiceResponse) response = NULL;
        GVariant *answer;
        const char *status, *code, *text;

        response = app_service_connection_send_message_sync(b->connection, owned, NULL, error);
        if (!response)
                return NULL;
        if (app_service_response_get_status(response) != APP_SERVICE_RESPONSE_STATUS_SUCCESS) {
                const GError *e = app_service_response_get_error(response);

                g_set_error(error, BLINKER_ERROR, 0, "%s", e ? e->message : "the service did not answer");
                return NULL;
        }
        answer = app_service_response_get_message(response);
        status = app_service_value_set_get_string(answer, "Status");
        if (g_strcmp0(status, "ok") == 0)
                return g_variant_ref(answer);

        code = app_service_value_set_get_string(answer, "Error");
        text = app_service_value_set_get_string(answer, "Message");
        g_set_error(error, BLINKER_ERROR, 0, "%s: %s", code ? code : "(no Error)",
                    text ? text : "(no Message)");
        return NULL;
}

static const char *enum_nick(GType type, gint value) {
        g_autoptr(GEnumClass) klass = g_type_class_ref(type);
        GEnumValue *v = g_enum_get_value(klass, value);

        /* Nicks live as long as the type, which is static. */
        return v ? v->value_nick : "(unknown)";
}

static void print_line(const Blinker *b) {
        printf("%s line %u", b->chip, b->offset);
        if (b->name && *b->name)
                printf(" \"%s\"", b->name);
}

/* ---- the line ------------------------------------------------------------------------------- */

/* LINE as the service takes it in `Lines`: an offset on --chip, or a name. */
static GVariant *lines_for(const char *line) {
        guint64 offset;

        if (arg_chip && g_ascii_string_to_unsigned(line, 10, 0, G_MAXUINT32, &offset, NULL))
                return g_variant_new_parsed("@au [%u]", (guint32) offset);
        return g_variant_new_parsed("@as [%s]", line);
}

static gboolean request_line(Blinker *b, const char *line, GError **error) {
        g_autoptr(GVariant) answer = NULL;
        g_autoptr(GVariant) offsets = NULL;
        g_autoptr(GVariant) names = NULL;
        GVariantDict d;

        g_variant_dict_init(&d, NULL);
        g_variant_dict_insert(&d, "Action", "s", "Request");
        if (arg_chip)
                g_variant_dict_insert(&d, "Chip", "s", arg_chip);
        g_variant_dict_insert_value(&d, "Lines", lines_for(line));
        g_variant_dict_insert(&d, "Direction", "s", "output");
        g_variant_dict_insert(&d, "ActiveLow", "b", arg_active_low);
        g_variant_dict_insert_value(&d, "Values", g_variant_new_parsed("@ai [0]"));
        g_variant_dict_insert(&d, "Consumer", "s", "gpio-blinker");

        answer = call(b, g_variant_dict_end(&d), error);
        if (!answer)
                return FALSE;
        if (!g_variant_lookup(answer, "Request", "u", &b->request) ||
            !g_variant_lookup(answer, "Chip", "s", &b->chip) ||
            !(offsets = g_variant_lookup_value(answer, "Offsets", G_VARIANT_TYPE("au"))) ||
            g_variant_n_children(offsets) != 1) {
                g_set_error(error, BLINKER_ERROR, 0, "the answer lacks Request, Chip or Offsets");
                return FALSE;
        }
        g_variant_get_child(offsets, 0, "u", &b->offset);
        names = g_variant_lookup_value(answer, "Names", G_VARIANT_TYPE("as"));
        if (names && g_variant_n_children(names) == 1)
                g_variant_get_child(names, 0, "s", &b->name);
        b->value = 0;
        return TRUE;
}

static gboolean write_value(Blinker *b, gint value, GError **error) {
        g_autoptr(GVariant) answer = NULL;

        answer = call(b,
                      g_variant_new_parsed("{'Action': <'Write'>, 'Request': <%u>, 'Values': <@ai [%i]>}",
                                           b->request, value),
                      error);
        return answer != NULL;
}

static gboolean release_line(Blinker *b, GError **error) {
        g_autoptr(GVariant) answer = NULL;

        answer = call(b, g_variant_new_parsed("{'Action': <'Release'>, 'Request': <%u>}", b->request), error);
        if (answer)
                b->request = 0;
        return answer != NULL;
}

/* ---- the loop ------------------------------------------------------------------------------- */

static void stop(Blinker *b, int exit_status) {
        if (exit_status != EXIT_SUCCESS)
                b->exit_status = exit_status;
        g_main_loop_quit(b->loop);
}

static gboolean on_tick(gpointer user_data) {
        Blinker *b = user_data;
        g_autoptr(GError) error = NULL;
        gint value = !b->value;

        /* The last value holds for a period, as every other: the line is released only then. */
        if (arg_count > 0 && b->toggles >= arg_count) {
                b->timer = 0;
                stop(b, EXIT_SUCCESS);
                return G_SOURCE_REMOVE;
        }
        if (!write_value(b, value, &error)) {
                fprintf(stderr, "gpio-blinker: Write failed: %s\n", error->message);
                b->timer = 0;
                stop(b, EXIT_FAILURE);
                return G_SOURCE_REMOVE;
        }
        b->value = value;
        b->toggles++;
        printf("gpio-blinker: toggle %d: ", b->toggles);
        print_line(b);
        printf(" = %d\n", value);
        return G_SOURCE_CONTINUE;
}

static gboolean on_signal(gpointer user_data) {
        Blinker *b = user_data;

        printf("gpio-blinker: stopping\n");
        stop(b, EXIT_SUCCESS);
        return G_SOURCE_CONTINUE;
}

static void on_service_closed(AppServiceConnection *connection, AppServiceClosedStatus status,
                              gpointer user_data) {
        Blinker *b = user_data;

        /* The service (or the broker) went away: the line was released with the connection. */
        fprintf(stderr, "gpio-blinker: the connection to %s closed (status %s)\n", GPIO_SERVICE,
                enum_nick(APP_SERVICE_TYPE_CLOSED_STATUS, status));
        b->request = 0;
        stop(b, EXIT_FAILURE);
}

static void on_request_received(AppServiceConnection *connection, AppServiceRequest *request,
                                gpointer user_data) {
        Blinker *b = user_data;
        GVariant *message = app_service_request_get_message(request);

        /* An output line has no edges; the one event we may get is the line going away with its
         * chip. The request answers itself when the library drops it. */
        if (g_strcmp0(app_service_value_set_get_string(message, "Event"), "released") == 0) {
                fprintf(stderr, "gpio-blinker: the service released the line: %s\n",
                        app_service_value_set_get_string(message, "Reason") ?: "no reason given");
                b->request = 0;
                stop(b, EXIT_FAILURE);
        }
}

/* ---- main ----------------------------------------------------------------------------------- */

static AppServiceConnection *connection_new(GError **error) {
        g_autoptr(GDBusConnection) bus = NULL;

        if (!arg_bus_address)
                return app_service_connection_new(GPIO_SERVICE, NULL);
        bus = g_dbus_connection_new_for_address_sync(arg_bus_address,
                                                     G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                             G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                     NULL, NULL, error);
        return bus ? app_service_connection_new_for_bus(bus, GPIO_SERVICE, NULL) : NULL;
}

int main(int argc, char *argv[]) {
        static const GOptionEntry options[] = {
                { "chip", 'c', 0, G_OPTION_ARG_STRING, &arg_chip,
                  "The chip: device name, path or label (required when LINE is an offset)", "CHIP" },
                { "period-ms", 'p', 0, G_OPTION_ARG_INT, &arg_period_ms,
                  "Milliseconds between toggles (default 500)", "N" },
                { "count", 'n', 0, G_OPTION_ARG_INT, &arg_count,
                  "Stop after N toggles (default 0: until SIGINT or SIGTERM)", "N" },
                { "active-low", 'l', 0, G_OPTION_ARG_NONE, &arg_active_low,
                  "The line is active low: a logical 1 drives the pin low", NULL },
                { "bus-address", 0, 0, G_OPTION_ARG_STRING, &arg_bus_address,
                  "The D-Bus address of the bus (default: the system bus)", "ADDRESS" },
                {}
        };
        g_autoptr(GOptionContext) context = NULL;
        g_auto(Blinker) b = { .exit_status = EXIT_SUCCESS };
        g_autoptr(GError) error = NULL;
        AppServiceConnectionStatus status;
        guint sigint, sigterm;

        setlocale(LC_ALL, "");
        context = g_option_context_new("LINE - blink a GPIO line through " GPIO_SERVICE);
        g_option_context_add_main_entries(context, options, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                fprintf(stderr, "gpio-blinker: %s\n", error->message);
                return 2;
        }
        if (argc != 2 || arg_period_ms <= 0 || arg_count < 0) {
                fprintf(stderr, "gpio-blinker: %s\n",
                        argc != 2 ? "give one LINE (a name, or an offset with --chip)"
                                  : "--period-ms must be positive and --count not negative");
                return 2;
        }
        /* A line at a time even into a pipe: whoever watches sees each change as it happens. */
        setvbuf(stdout, NULL, _IOLBF, 0);

        b.loop = g_main_loop_new(NULL, FALSE);
        b.connection = connection_new(&error);
        if (!b.connection) {
                fprintf(stderr, "gpio-blinker: cannot connect to %s: %s\n", arg_bus_address, error->message);
                return EXIT_FAILURE;
        }
        g_signal_connect(b.connection, "service-closed", G_CALLBACK(on_service_closed), &b);
        g_signal_connect(b.connection, "request-received", G_CALLBACK(on_request_received), &b);

        status = app_service_connection_open_sync(b.connection, NULL, &error);
        if (status != APP_SERVICE_CONNECTION_STATUS_SUCCESS) {
                fprintf(stderr, "gpio-blinker: cannot open %s: %s\n", GPIO_SERVICE,
                        error ? error->message : "no reason given");
                return EXIT_FAILURE;
        }

        /* From here on, SIGINT and SIGTERM end the loop, so that the line is released and the
         * connection closed on the way out (the service would release it anyway when the
         * connection goes, but a client says goodbye). */
        sigint = g_unix_signal_add(SIGINT, on_signal, &b);
        sigterm = g_unix_signal_add(SIGTERM, on_signal, &b);

        if (!request_line(&b, argv[1], &error)) {
                fprintf(stderr, "gpio-blinker: Request failed: %s\n", error->message);
                b.exit_status = EXIT_FAILURE;
        } else {
                printf("gpio-blinker: ");
                print_line(&b);
                printf(" requested as output (request %u), value %d\n", b.request, b.value);
                b.timer = g_timeout_add((guint) arg_period_ms, on_tick, &b);
                g_main_loop_run(b.loop);
        }

        if (b.request != 0) {
                g_clear_error(&error);
                if (release_line(&b, &error)) {
                        printf("gpio-blinker: released ");
                        print_line(&b);
                        printf("\n");
                } else {
                        fprintf(stderr, "gpio-blinker: Release failed: %s\n", error->message);
                        b.exit_status = EXIT_FAILURE;
                }
        }
        if (app_service_connection_get_is_open(b.connection)) {
                g_clear_error(&error);
                if (!app_service_connection_close_sync(b.connection, NULL, &error)) {
                        fprintf(stderr, "gpio-blinker: closing the connection failed: %s\n", error->message);
                        b.exit_status = EXIT_FAILURE;
                }
        }
        g_source_remove(sigint);
        g_source_remove(sigterm);
        return b.exit_status;
}
