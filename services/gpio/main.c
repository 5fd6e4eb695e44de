/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * appservice-gpio: the provider of the app service io.appservice.gpio, the GPIO lines of this
 * machine's /dev/gpiochip* through libgpiod v2 (README.md has the protocol). This file is the
 * process: the command line, the provider and its connections, chips going away, and SIGTERM.
 */

#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>

#include <appservice.h>

#include "chips.h"
#include "client.h"
#include "config.h"
#include "log-writer.h"
#include "protocol.h"

#define GPIO_SERVICE_NAME "io.appservice.gpio"

/* Everything the process owns. */
typedef struct {
        GMainLoop *loop;
        AppServiceProvider *provider;
        Chips *chips;
        GHashTable *clients; /* AppServiceConnection * → Client * (owned), while open */
        Limits limits;       /* from the definition's [Properties], read at each registration */
} Context;

static void context_done(Context *c) {
        /* Clients first: their line requests go before anything else does. */
        g_clear_pointer(&c->clients, g_hash_table_unref);
        g_clear_object(&c->provider);
        g_clear_pointer(&c->chips, chips_free);
        g_clear_pointer(&c->loop, g_main_loop_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Context, context_done)

/* ---- limits --------------------------------------------------------------------------------- */

static guint read_limit(AppServiceProvider *provider, const char *name, guint fallback, guint minimum) {
        const char *text = app_service_provider_get_property_value(provider, "static", name);
        guint64 value;
        g_autoptr(GError) error = NULL;

        if (!text)
                return fallback;
        if (!g_ascii_string_to_unsigned(text, 10, minimum, G_MAXUINT32, &value, &error)) {
                g_warning("[Properties] %s='%s' is not a number from %u to %u, using %u instead: %s", name,
                          text, minimum, G_MAXUINT32, fallback, error->message);
                return fallback;
        }
        return (guint) value;
}

static void read_limits(Context *c) {
        Limits defaults = LIMITS_DEFAULT;

        c->limits.event_window = read_limit(c->provider, "EventWindow", defaults.event_window, 1);
        c->limits.event_queue_length =
                read_limit(c->provider, "EventQueueLength", defaults.event_queue_length, 0);
        c->limits.max_requests = read_limit(c->provider, "MaxRequests", defaults.max_requests, 1);
        g_message("limits: EventWindow=%u EventQueueLength=%u MaxRequests=%u", c->limits.event_window,
                  c->limits.event_queue_length, c->limits.max_requests);
}

/* The broker restarted and we registered again: its definition may have changed. */
static void on_registered_changed(GObject *object, GParamSpec *pspec, gpointer user_data) {
        Context *c = user_data;

        if (app_service_provider_get_registered(c->provider))
                read_limits(c);
}

/* ---- connections ---------------------------------------------------------------------------- */

static void on_response_sent(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;
        AppServiceResponseStatus status;

        status = app_service_request_send_response_finish(APP_SERVICE_REQUEST(source), result, &error);
        if (status != APP_SERVICE_RESPONSE_STATUS_SUCCESS)
                g_message("a response was not delivered, ignoring: %s",
                          error ? error->message : "no reason given");
}

static void on_request_received(AppServiceConnection *connection, AppServiceRequest *request,
                                gpointer user_data) {
        Context *c = user_data;
        Client *client = g_hash_table_lookup(c->clients, connection);
        g_autoptr(GVariant) response = NULL;

        if (!client)
                return; /* closed meanwhile; the library answers for us */
        response = protocol_handle(c->chips, client, app_service_request_get_message(request));
        app_service_request_send_response(request, response, /* cancellable= */ NULL, on_response_sent,
                                          /* user_data= */ NULL);
}

static void on_service_closed(AppServiceConnection *connection, AppServiceClosedStatus status,
                              gpointer user_data) {
        g_autoptr(GEnumClass) statuses = g_type_class_ref(APP_SERVICE_TYPE_CLOSED_STATUS);
        GEnumValue *value = g_enum_get_value(statuses, (gint) status);

        g_message("%s: closed by the client's side (%s)", app_service_connection_get_object_path(connection),
                  value ? value->value_nick : "?");
}

/* Every way a connection ends (the client's close or departure, the broker's, our unregistering)
 * makes it not open: release all of its requests then, at once. */
static void on_is_open_changed(GObject *object, GParamSpec *pspec, gpointer user_data) {
        AppServiceConnection *connection = APP_SERVICE_CONNECTION(object);
        Context *c = user_data;

        if (app_service_connection_get_is_open(connection))
                return;
        /* service-closed, which follows, stays connected to log why. */
        g_signal_handlers_disconnect_by_func(connection, on_request_received, c);
        g_signal_handlers_disconnect_by_func(connection, on_is_open_changed, c);
        g_hash_table_remove(c->clients, connection);
}

static void on_connection_received(AppServiceProvider *provider, AppServiceConnection *connection,
                                   GVariant *caller, gpointer user_data) {
        Context *c = user_data;
        guint32 uid = G_MAXUINT32, pid = 0;

        g_variant_lookup(caller, "uid", "u", &uid);
        g_variant_lookup(caller, "pid", "u", &pid);
        g_message("%s: opened by uid %" G_GUINT32_FORMAT ", pid %" G_GUINT32_FORMAT,
                  app_service_connection_get_object_path(connection), uid, pid);

        g_hash_table_insert(c->clients, g_object_ref(connection), client_new(connection, &c->limits));
        g_signal_connect(connection, "request-received", G_CALLBACK(on_request_received), c);
        g_signal_connect(connection, "service-closed", G_CALLBACK(on_service_closed), c);
        g_signal_connect(connection, "notify::is-open", G_CALLBACK(on_is_open_changed), c);
}

/* ---- chips going away ----------------------------------------------------------------------- */

static void on_chip_removed(const char *name, gpointer user_data) {
        Context *c = user_data;
        GHashTableIter iter;
        gpointer client;

        g_hash_table_iter_init(&iter, c->clients);
        while (g_hash_table_iter_next(&iter, NULL, &client))
                client_release_chip(client, name);
}

/* ---- the process ---------------------------------------------------------------------------- */

static gboolean on_quit_signal(gpointer user_data) {
        Context *c = user_data;

        g_message("stopping");
        g_main_loop_quit(c->loop);
        return G_SOURCE_CONTINUE;
}

static void free_client(gpointer p) {
        client_free(p);
}

static gboolean parse_arguments(int *argc, char ***argv, char **ret_dev_dir, GError **error) {
        g_autoptr(GOptionContext) options = g_option_context_new(NULL);
        g_autofree char *dev_dir = NULL;
        gboolean version = FALSE;
        const GOptionEntry entries[] = {
                { "dev-dir", 0, 0, G_OPTION_ARG_FILENAME, &dev_dir,
                  "Where the gpiochip device nodes are (default: /dev)", "DIR" },
                { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
                G_OPTION_ENTRY_NULL,
        };

        g_option_context_set_summary(
                options, "The provider of the app service " GPIO_SERVICE_NAME ": GPIO lines through "
                         "libgpiod.\nStarted by the broker (appserviced) or by systemd.");
        g_option_context_add_main_entries(options, entries, NULL);
        if (!g_option_context_parse(options, argc, argv, error))
                return FALSE;
        if (version) {
                g_print("appservice-gpio %s (libgpiod %s)\n", APPSERVICE_VERSION, gpiod_api_version());
                exit(EXIT_SUCCESS);
        }
        if (*argc > 1) {
                g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "unexpected argument '%s'",
                            (*argv)[1]);
                return FALSE;
        }
        *ret_dev_dir = dev_dir ? g_steal_pointer(&dev_dir) : g_strdup("/dev");
        return TRUE;
}

static gboolean start(Context *c, const char *dev_dir, GError **error) {
        c->loop = g_main_loop_new(NULL, FALSE);
        g_unix_signal_add(SIGTERM, on_quit_signal, c);
        g_unix_signal_add(SIGINT, on_quit_signal, c);

        c->clients = g_hash_table_new_full(g_direct_hash, g_direct_equal, g_object_unref, free_client);
        c->limits = LIMITS_DEFAULT;
        c->chips = chips_new(dev_dir, on_chip_removed, c, error);
        if (!c->chips)
                return FALSE;

        /* The system bus, or the one DBUS_SYSTEM_BUS_ADDRESS names (the broker sets it). */
        c->provider = app_service_provider_new(GPIO_SERVICE_NAME);
        g_signal_connect(c->provider, "connection-received", G_CALLBACK(on_connection_received), c);
        g_signal_connect(c->provider, "notify::registered", G_CALLBACK(on_registered_changed), c);
        return app_service_provider_register_sync(c->provider, /* cancellable= */ NULL, error);
}

int main(int argc, char *argv[]) {
        g_auto(Context) c = { 0 };
        g_autoptr(GError) error = NULL;
        g_autofree char *dev_dir = NULL;

        setlocale(LC_ALL, "");
        log_writer_install();

        if (!parse_arguments(&argc, &argv, &dev_dir, &error)) {
                g_printerr("appservice-gpio: %s (see --help)\n", error->message);
                return 2;
        }
        if (!start(&c, dev_dir, &error)) {
                g_printerr("appservice-gpio: cannot serve '%s': %s\n", GPIO_SERVICE_NAME, error->message);
                return EXIT_FAILURE;
        }
        g_message("serving '%s' with the chips of '%s'", GPIO_SERVICE_NAME, dev_dir);

        g_main_loop_run(c.loop);

        /* Our lines go back before we leave the bus. */
        g_hash_table_remove_all(c.clients);
        if (!app_service_provider_unregister_sync(c.provider, /* cancellable= */ NULL, &error))
                g_message("unregistering failed, ignoring: %s", error->message);
        return EXIT_SUCCESS;
}
