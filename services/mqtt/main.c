/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * appservice-mqtt: the node's bridge to an MQTT 5 broker (README.md). This file is the process:
 * the command line, the provider of io.appservice.cloud, the configuration (which needs the node
 * name the broker gives at registration), the spool, the link and the jobs on it, and the clean
 * stop (SIGTERM, SIGINT, or the broker's StopRequested): status "offline", then unregister.
 */

#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>

#include <appservice.h>

#include "actions.h"
#include "cloud.h"
#include "config.h"
#include "link.h"
#include "log-writer.h"
#include "remote.h"
#include "spool.h"

#define CLOUD_SERVICE_NAME "io.appservice.cloud"
#define DEFAULT_CONFIG "/etc/appservice/mqtt.conf"

/* Everything the process owns. */
typedef struct {
        GMainLoop *loop;
        AppServiceProvider *provider;
        BridgeConfig *config;
        Spool *spool;
        MqttLink *link;
        Cloud *cloud;
        Actions *actions;
        /* The remote connections (README.md, "Remote app services"): made after the link and the
         * cloud, before mqtt_link_start(), freed before the link. */
        Remote *remote;
        gboolean stopping;
        int exit_status;
} Context;

static void context_done(Context *c) {
        /* The jobs first (their calls in flight are cancelled), then the link they publish on,
         * then what the link's handlers point at. */
        g_clear_pointer(&c->actions, actions_free);
        g_clear_pointer(&c->remote, remote_free);
        g_clear_pointer(&c->link, mqtt_link_free);
        g_clear_pointer(&c->cloud, cloud_free);
        g_clear_pointer(&c->spool, spool_free);
        g_clear_object(&c->provider);
        g_clear_pointer(&c->config, bridge_config_free);
        /* The jobs' calls still in flight were cancelled: GDBus hands each back to its callback
         * in an idle, which frees what the call held. Nothing else is left to dispatch. */
        while (g_main_context_iteration(NULL, /* may_block= */ FALSE))
                ;
        g_clear_pointer(&c->loop, g_main_loop_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Context, context_done)

/* ---- connections ---------------------------------------------------------------------------- */

static void on_connection_received(AppServiceProvider *provider, AppServiceConnection *connection,
                                   GVariant *caller, gpointer user_data) {
        Context *c = user_data;
        g_autoptr(GVariant) target = g_variant_lookup_value(caller, "target", G_VARIANT_TYPE_VARDICT);

        if (target) {
                /* An open for another node: the remote part's. */
                remote_handle_open(c->remote, connection, caller);
                return;
        }
        cloud_handle_connection(c->cloud, connection, caller);
}

/* ---- stopping ------------------------------------------------------------------------------- */

static void on_link_stopped(MqttLink *link, gpointer user_data) {
        Context *c = user_data;

        g_main_loop_quit(c->loop);
}

static void begin_stop(Context *c, const char *why) {
        if (c->stopping) {
                g_message("%s again: stopping at once", why);
                g_main_loop_quit(c->loop);
                return;
        }
        c->stopping = TRUE;
        g_message("stopping (%s)", why);
        if (c->link)
                mqtt_link_stop(c->link, on_link_stopped, c);
        else
                g_main_loop_quit(c->loop);
}

static gboolean on_quit_signal(gpointer user_data) {
        begin_stop(user_data, "signal");
        return G_SOURCE_CONTINUE;
}

/* The broker wants us gone (an administrator's stop, or our definition was removed): the same
 * clean stop, and we unregister at the end ourselves. */
static void on_stop_requested(AppServiceProvider *provider, GVariant *details, gpointer user_data) {
        const char *reason = "?";

        g_variant_lookup(details, "reason", "&s", &reason);
        g_signal_stop_emission_by_name(provider, "stop-requested");
        begin_stop(user_data, reason);
}

/* ---- the process ---------------------------------------------------------------------------- */

static gboolean parse_arguments(int *argc, char ***argv, char **ret_config, GError **error) {
        g_autoptr(GOptionContext) options = g_option_context_new(NULL);
        g_autofree char *config = NULL;
        gboolean version = FALSE;
        const GOptionEntry entries[] = {
                { "config", 0, 0, G_OPTION_ARG_FILENAME, &config,
                  "The configuration file (default: " DEFAULT_CONFIG ")", "FILE" },
                { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
                G_OPTION_ENTRY_NULL,
        };

        g_option_context_set_summary(options,
                                     "The node's bridge to an MQTT 5 broker: the app service " CLOUD_SERVICE_NAME
                                     ", actions from the cloud, remote app services.\n"
                                     "Started by the broker (appserviced) or by systemd.");
        g_option_context_add_main_entries(options, entries, NULL);
        if (!g_option_context_parse(options, argc, argv, error))
                return FALSE;
        if (version) {
                int major, minor, revision;

                mosquitto_lib_version(&major, &minor, &revision);
                g_print("appservice-mqtt %s (libmosquitto %d.%d.%d)\n", APPSERVICE_VERSION, major, minor, revision);
                exit(EXIT_SUCCESS);
        }
        if (*argc > 1) {
                g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "unexpected argument '%s'", (*argv)[1]);
                return FALSE;
        }
        *ret_config = config ? g_steal_pointer(&config) : g_strdup(DEFAULT_CONFIG);
        return TRUE;
}

static gboolean start(Context *c, const char *config_path, GError **error) {
        const char *node;

        c->loop = g_main_loop_new(NULL, FALSE);
        g_unix_signal_add(SIGTERM, on_quit_signal, c);
        g_unix_signal_add(SIGINT, on_quit_signal, c);

        /* The system bus, or the one DBUS_SYSTEM_BUS_ADDRESS names (the broker sets it). The node
         * name comes with the registration, and the configuration needs it. */
        c->provider = app_service_provider_new(CLOUD_SERVICE_NAME);
        g_signal_connect(c->provider, "connection-received", G_CALLBACK(on_connection_received), c);
        g_signal_connect(c->provider, "stop-requested", G_CALLBACK(on_stop_requested), c);
        if (!app_service_provider_register_sync(c->provider, /* cancellable= */ NULL, error))
                return FALSE;
        node = app_service_provider_get_property_value(c->provider, "settings", "node-name");
        if (!node || !*node)
                node = g_get_host_name();

        c->config = bridge_config_load(config_path, node, error);
        if (!c->config)
                return FALSE;
        c->spool = spool_open(c->config->spool_dir, c->config->spool_max_messages, c->config->spool_max_bytes, error);
        if (!c->spool)
                return FALSE;
        c->link = mqtt_link_new(c->config, error);
        if (!c->link)
                return FALSE;
        c->cloud = cloud_new(c->provider, c->link, c->spool, c->config);
        c->actions = actions_new(c->provider, c->link, c->config);
        c->remote = remote_new(c->link, c->provider, c->config);
        mqtt_link_start(c->link);
        return TRUE;
}

int main(int argc, char *argv[]) {
        g_auto(Context) c = { 0 };
        g_autoptr(GError) error = NULL;
        g_autofree char *config_path = NULL;

        setlocale(LC_ALL, "");
        log_writer_install();

        if (!parse_arguments(&argc, &argv, &config_path, &error)) {
                g_printerr("appservice-mqtt: %s (see --help)\n", error->message);
                return 2;
        }
        if (!start(&c, config_path, &error)) {
                g_printerr("appservice-mqtt: cannot serve '%s': %s\n", CLOUD_SERVICE_NAME, error->message);
                if (c.provider && app_service_provider_get_registered(c.provider))
                        app_service_provider_unregister_sync(c.provider, NULL, NULL);
                return EXIT_FAILURE;
        }
        g_message("serving '%s' as node '%s', MQTT broker mqtt%s://%s:%d, spool '%s'", CLOUD_SERVICE_NAME,
                  mqtt_link_get_node(c.link), c.config->tls ? "s" : "", c.config->host, c.config->port,
                  c.config->spool_dir);

        g_main_loop_run(c.loop);

        if (!app_service_provider_unregister_sync(c.provider, /* cancellable= */ NULL, &error))
                g_message("unregistering failed, ignoring: %s", error->message);
        return c.exit_status;
}
