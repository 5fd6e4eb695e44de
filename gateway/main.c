/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* appservice-http: the HTTP/JSON gateway to the app services that allow it (README.md here). */

#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log-writer.h"
#include "connections.h"
#include "server.h"

#define CONFIG_FILE "/etc/appservice/http.conf"
#define DEFAULT_TOKENS_FILE "/etc/appservice/http-tokens"
#define DEFAULT_LISTEN "127.0.0.1:8470"
#define DEFAULT_MAX_BODY_SIZE (1024 * 1024)
#define DEFAULT_MAX_CONNECTIONS 256
#define DEFAULT_CONNECTION_TIMEOUT_SEC 60

static char *arg_config, *arg_tokens;
static char **arg_listen;
static gboolean arg_version;

static const GOptionEntry entries[] = {
        { "config", 'c', 0, G_OPTION_ARG_FILENAME, &arg_config, "Read the settings from FILE (default: " CONFIG_FILE ")", "FILE" },
        { "listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &arg_listen, "Listen on ADDRESS:PORT (repeatable; default " DEFAULT_LISTEN ")", "ADDRESS:PORT" },
        { "tokens", 't', 0, G_OPTION_ARG_FILENAME, &arg_tokens, "The callers' tokens (default: " DEFAULT_TOKENS_FILE ")", "FILE" },
        { "version", 0, 0, G_OPTION_ARG_NONE, &arg_version, "Show the version", NULL },
        G_OPTION_ENTRY_NULL,
};

typedef struct {
        GatewayState state;
        char *tokens_path;
        char **listen;
        guint max_connections;
        guint connection_timeout_sec;
        GMainLoop *loop;
} Gateway;

/* A positive number of at most `max` from [Gateway] KEY=, or the default already in *value. */
static gboolean get_count(GKeyFile *kf, const char *path, const char *key, guint64 max, guint64 *value, GError **error) {
        g_autoptr(GError) e = NULL;
        guint64 v;

        if (!g_key_file_has_key(kf, "Gateway", key, NULL))
                return TRUE;
        v = g_key_file_get_uint64(kf, "Gateway", key, &e);
        if (e || v == 0 || v > max) {
                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s: %s= must be from 1 to %" G_GUINT64_FORMAT,
                            path, key, max);
                return FALSE;
        }
        *value = v;
        return TRUE;
}

/* [Gateway] in the configuration file: Listen=, TokensFile=, MaxBodySize=. A named file must be
 * there; the default one may be missing. The command line wins. */
static gboolean load_config(Gateway *g, GError **error) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        const char *path = arg_config ? arg_config : CONFIG_FILE;
        g_autoptr(GError) e = NULL;

        g->tokens_path = g_strdup(arg_tokens ? arg_tokens : DEFAULT_TOKENS_FILE);
        g->listen = arg_listen ? g_strdupv(arg_listen) : g_strsplit(DEFAULT_LISTEN, " ", -1);
        g->state.max_body_size = DEFAULT_MAX_BODY_SIZE;
        g->max_connections = DEFAULT_MAX_CONNECTIONS;
        g->connection_timeout_sec = DEFAULT_CONNECTION_TIMEOUT_SEC;
        if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &e)) {
                if (!arg_config && g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT))
                        return TRUE;
                g_propagate_prefixed_error(error, g_steal_pointer(&e), "%s: ", path);
                return FALSE;
        }
        if (!arg_tokens && g_key_file_has_key(kf, "Gateway", "TokensFile", NULL)) {
                g_free(g->tokens_path);
                g->tokens_path = g_key_file_get_string(kf, "Gateway", "TokensFile", NULL);
        }
        if (!arg_listen && g_key_file_has_key(kf, "Gateway", "Listen", NULL)) {
                g_autofree char *value = g_key_file_get_string(kf, "Gateway", "Listen", NULL);

                g_strfreev(g->listen);
                g->listen = g_strsplit_set(g_strstrip(value), " \t", -1);
        }
        {
                guint64 body = g->state.max_body_size, max = g->max_connections, timeout = g->connection_timeout_sec;

                if (!get_count(kf, path, "MaxBodySize", 64 * 1024 * 1024, &body, error) ||
                    !get_count(kf, path, "MaxConnections", 65536, &max, error) ||
                    !get_count(kf, path, "ConnectionTimeoutSec", 86400, &timeout, error))
                        return FALSE;
                g->state.max_body_size = body;
                g->max_connections = (guint) max;
                g->connection_timeout_sec = (guint) timeout;
        }
        return TRUE;
}

/* A connection accepted by the gateway's own listener, handed to libsoup. libsoup 3.2's own
 * listener (Debian 12) leaks each socket it accepts (fixed upstream by "soup-listener: Plug a
 * leak", GNOME/libsoup b545d5f0); soup_server_accept_iostream() does not. Without a listener of
 * its own, libsoup closes each connection after its request. */
static gboolean on_incoming(GSocketService *service, GSocketConnection *connection, GObject *source, gpointer data) {
        gateway_connections_take(data, connection);
        return TRUE;
}

static gboolean listen_on(GSocketService *service, const char *where, GError **error) {
        g_autoptr(GSocketConnectable) address = g_network_address_parse(where, 0, error);
        g_autoptr(GSocketAddressEnumerator) it = NULL;
        g_autoptr(GSocketAddress) sa = NULL;

        if (!address)
                return FALSE;
        it = g_socket_connectable_enumerate(address);
        sa = g_socket_address_enumerator_next(it, NULL, error);
        if (!sa) {
                if (error && !*error)
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s: no address", where);
                return FALSE;
        }
        return g_socket_listener_add_address(G_SOCKET_LISTENER(service), sa, G_SOCKET_TYPE_STREAM,
                                             G_SOCKET_PROTOCOL_TCP, NULL, NULL, error);
}

static gboolean on_sighup(gpointer data) {
        Gateway *g = data;
        g_autoptr(GError) error = NULL;
        GatewayTokens *tokens = gateway_tokens_load(g->tokens_path, &error);

        if (!tokens) {
                g_warning("reloading the tokens failed, keeping the ones loaded: %s", error->message);
                return G_SOURCE_CONTINUE;
        }
        gateway_tokens_free(g->state.tokens);
        g->state.tokens = tokens;
        gateway_identities_reset(g->state.identities);
        g_message("reloaded %u caller(s) from %s", gateway_tokens_count(tokens), g->tokens_path);
        return G_SOURCE_CONTINUE;
}

static gboolean on_quit(gpointer data) {
        g_main_loop_quit(((Gateway *) data)->loop);
        return G_SOURCE_REMOVE;
}

int main(int argc, char *argv[]) {
        g_autoptr(GOptionContext) context = g_option_context_new(NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(SoupServer) server = NULL;
        g_autoptr(GSocketService) service = NULL;
        GatewayConnections *connections = NULL;
        Gateway g = { 0 };
        int status = EXIT_FAILURE;

        setlocale(LC_ALL, "");
        log_writer_install();
        g_option_context_add_main_entries(context, entries, NULL);
        g_option_context_set_summary(context, "Serves the app services that allow it (AllowHTTP=yes) over HTTP and JSON.");
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                fprintf(stderr, "appservice-http: %s\n", error->message);
                return 2;
        }
        if (arg_version) {
                printf("appservice-http %s\n", APPSERVICE_VERSION);
                return 0;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "appservice-http: must run as root: it talks to the broker as each caller's user\n");
                return EXIT_FAILURE;
        }
        if (!load_config(&g, &error) || !(g.state.tokens = gateway_tokens_load(g.tokens_path, &error))) {
                g_printerr("appservice-http: %s\n", error->message);
                goto out;
        }
        g.state.identities = gateway_identities_new(g_getenv("DBUS_SYSTEM_BUS_ADDRESS"));
        server = soup_server_new("server-header", "appservice-http", NULL);
        gateway_server_setup(server, &g.state);
        connections = gateway_connections_new(server, g.max_connections, g.connection_timeout_sec);
        g_signal_connect_swapped(server, "request-read", G_CALLBACK(gateway_connections_request_read), connections);
        service = g_socket_service_new();
        g_signal_connect(service, "incoming", G_CALLBACK(on_incoming), connections);
        for (char **l = g.listen; *l; l++)
                if (**l && !listen_on(service, *l, &error)) {
                        g_printerr("appservice-http: cannot listen on %s: %s\n", *l, error->message);
                        goto out;
                }
        g.loop = g_main_loop_new(NULL, FALSE);
        g_unix_signal_add(SIGHUP, on_sighup, &g);
        g_unix_signal_add(SIGTERM, on_quit, &g);
        g_unix_signal_add(SIGINT, on_quit, &g);
        g_message("serving %u caller(s) on %s", gateway_tokens_count(g.state.tokens), g.listen[0]);
        g_main_loop_run(g.loop);
        status = EXIT_SUCCESS;
out:
        if (service)
                g_socket_service_stop(service);
        g_clear_object(&service);
        gateway_connections_free(connections);
        if (server)
                soup_server_disconnect(server);
        g_clear_object(&server);
        gateway_identities_free(g.state.identities);
        gateway_tokens_free(g.state.tokens);
        g_clear_pointer(&g.loop, g_main_loop_unref);
        g_free(g.tokens_path);
        g_strfreev(g.listen);
        return status;
}
