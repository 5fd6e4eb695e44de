/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bridge's configuration file, a GLib key file (README.md, "Configuration"). Every key is
 * optional; an unknown group or key is logged and ignored (a typo must not stop the bridge), a
 * bad value is an error that names the file, the key and what was wrong. */

#include <errno.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "config.h"

#define DEFAULT_PORT 1883
#define DEFAULT_TLS_PORT 8883

/* Every group and its keys, to warn about the others. */
static const char *const KNOWN_KEYS[][10] = {
        { "Broker", "URI", "CAFile", "CertFile", "KeyFile", "Username", "PasswordFile", "ClientId",
          "KeepaliveSec", NULL },
        { "Topics", "Prefix", NULL },
        { "Spool", "Directory", "MaxMessages", "MaxBytes", NULL },
        { "Cloud", "Format", "DeliveryWaitSec", NULL },
        { "Remote", "OpenTimeoutSec", "MaxFrameSize", NULL },
};

void bridge_config_free(BridgeConfig *config) {
        if (!config)
                return;
        g_free(config->host);
        g_free(config->ca_file);
        g_free(config->cert_file);
        g_free(config->key_file);
        g_free(config->username);
        if (config->password) {
                explicit_bzero(config->password, strlen(config->password));
                g_free(config->password);
        }
        g_free(config->client_id);
        g_free(config->prefix);
        g_free(config->spool_dir);
        g_free(config);
}

static const char *const *known_keys_of(const char *group) {
        for (gsize i = 0; i < G_N_ELEMENTS(KNOWN_KEYS); i++)
                if (g_str_equal(KNOWN_KEYS[i][0], group))
                        return &KNOWN_KEYS[i][1];
        return NULL;
}

static void warn_unknown(GKeyFile *file, const char *path) {
        g_auto(GStrv) groups = g_key_file_get_groups(file, NULL);

        for (char **g = groups; *g; g++) {
                const char *const *known = known_keys_of(*g);
                g_auto(GStrv) keys = NULL;

                if (!known) {
                        g_warning("%s: unknown section [%s], ignoring", path, *g);
                        continue;
                }
                keys = g_key_file_get_keys(file, *g, NULL, NULL);
                for (char **k = keys; k && *k; k++)
                        if (!g_strv_contains(known, *k))
                                g_warning("%s: unknown key [%s] %s, ignoring", path, *g, *k);
        }
}

/* The value of [group] key as a trimmed string, NULL when absent. */
static char *get_string(GKeyFile *file, const char *group, const char *key) {
        char *value = g_key_file_get_string(file, group, key, NULL);

        return value ? g_strstrip(value) : NULL;
}

static gboolean get_unsigned(GKeyFile *file, const char *path, const char *group, const char *key,
                             guint64 min, guint64 max, guint64 *value, GError **error) {
        g_autofree char *text = get_string(file, group, key);
        g_autoptr(GError) local = NULL;

        if (!text)
                return TRUE; /* keep the default */
        if (!g_ascii_string_to_unsigned(text, 10, min, max, value, &local)) {
                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                            "%s: [%s] %s='%s' is not a whole number from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
                            path, group, key, text, min, max);
                return FALSE;
        }
        return TRUE;
}

/* An absolute file name, or a name relative to the configuration file's folder. */
static char *get_path(GKeyFile *file, const char *path, const char *group, const char *key) {
        g_autofree char *text = get_string(file, group, key);
        g_autofree char *dir = NULL;

        if (!text || !*text)
                return NULL;
        if (g_path_is_absolute(text))
                return g_steal_pointer(&text);
        dir = g_path_get_dirname(path);
        return g_build_filename(dir, text, NULL);
}

/* mqtt://HOST[:PORT] or mqtts://HOST[:PORT]; HOST may be an IPv6 literal in brackets. */
gboolean bridge_config_parse_uri(const char *uri, char **ret_host, int *ret_port, gboolean *ret_tls,
                                 GError **error) {
        const char *rest, *port_text = NULL;
        g_autofree char *host = NULL;
        gboolean tls;
        guint64 port;

        if (g_str_has_prefix(uri, "mqtt://")) {
                tls = FALSE;
                rest = uri + strlen("mqtt://");
        } else if (g_str_has_prefix(uri, "mqtts://")) {
                tls = TRUE;
                rest = uri + strlen("mqtts://");
        } else {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "'%s' is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]", uri);
                return FALSE;
        }
        if (rest[0] == '[') {
                const char *end = strchr(rest, ']');

                if (!end || end == rest + 1) {
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                    "'%s': an IPv6 address must be written [ADDRESS]", uri);
                        return FALSE;
                }
                host = g_strndup(rest + 1, end - rest - 1);
                rest = end + 1;
                if (*rest == ':')
                        port_text = rest + 1;
                else if (*rest) {
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                    "'%s': unexpected '%s' after the address", uri, rest);
                        return FALSE;
                }
        } else {
                const char *colon = strchr(rest, ':');

                host = colon ? g_strndup(rest, colon - rest) : g_strdup(rest);
                if (colon)
                        port_text = colon + 1;
        }
        if (!*host || strpbrk(host, "/?#@ \t")) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "'%s' has no host name, or one with a character that cannot be in a host name "
                            "(a path, a user or a query are not supported)",
                            uri);
                return FALSE;
        }
        port = tls ? DEFAULT_TLS_PORT : DEFAULT_PORT;
        if (port_text && !g_ascii_string_to_unsigned(port_text, 10, 1, 65535, &port, NULL)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "'%s': the port '%s' is not a number from 1 to 65535", uri, port_text);
                return FALSE;
        }
        *ret_host = g_steal_pointer(&host);
        *ret_port = (int) port;
        *ret_tls = tls;
        return TRUE;
}

/* The first line of the password file. */
static gboolean read_password(const char *config_path, const char *path, char **ret, GError **error) {
        g_autofree char *contents = NULL;
        g_autoptr(GError) local = NULL;
        gsize length;
        char *newline;

        if (!g_file_get_contents(path, &contents, &length, &local)) {
                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                            "%s: [Broker] PasswordFile='%s' cannot be read: %s", config_path, path, local->message);
                return FALSE;
        }
        newline = strpbrk(contents, "\r\n");
        if (newline)
                *newline = '\0';
        if (strlen(contents) != length && !newline) {
                explicit_bzero(contents, length);
                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                            "%s: [Broker] PasswordFile='%s' holds a NUL byte", config_path, path);
                return FALSE;
        }
        *ret = g_strdup(contents);
        explicit_bzero(contents, length);
        return TRUE;
}

/* A prefix is one or more topic levels: no wildcard, no empty level, no leading or trailing '/'. */
static gboolean prefix_is_valid(const char *prefix) {
        if (!*prefix || prefix[0] == '/' || g_str_has_suffix(prefix, "/") || strstr(prefix, "//"))
                return FALSE;
        if (strpbrk(prefix, "+#") || !g_utf8_validate(prefix, -1, NULL))
                return FALSE;
        return strlen(prefix) <= 1024;
}

/* A client id that can also be one topic level. */
static gboolean client_id_is_valid(const char *id) {
        return *id && strlen(id) <= 255 && !strpbrk(id, "/+#") && g_utf8_validate(id, -1, NULL);
}

static gboolean load_broker(BridgeConfig *c, GKeyFile *file, const char *path, const char *node_name,
                            GError **error) {
        g_autofree char *uri = get_string(file, "Broker", "URI");
        g_autofree char *password_file = NULL;
        g_autoptr(GError) local = NULL;
        guint64 keepalive = 10;

        if (uri && !bridge_config_parse_uri(uri, &c->host, &c->port, &c->tls, &local)) {
                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s: [Broker] URI=%s",
                            path, local->message);
                return FALSE;
        }
        if (!uri) {
                c->host = g_strdup("localhost");
                c->port = DEFAULT_PORT;
        }
        c->ca_file = get_path(file, path, "Broker", "CAFile");
        c->cert_file = get_path(file, path, "Broker", "CertFile");
        c->key_file = get_path(file, path, "Broker", "KeyFile");
        if (!c->cert_file != !c->key_file) {
                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                            "%s: [Broker] CertFile= and KeyFile= go together: one is set without the other", path);
                return FALSE;
        }
        if ((c->ca_file || c->cert_file) && !c->tls) {
                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                            "%s: [Broker] CAFile=, CertFile= and KeyFile= need a mqtts:// URI=", path);
                return FALSE;
        }
        c->client_id = get_string(file, "Broker", "ClientId");
        if (!c->client_id)
                c->client_id = g_strdup(node_name);
        if (!c->client_id || !client_id_is_valid(c->client_id)) {
                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                            "%s: [Broker] ClientId='%s' must be 1-255 bytes of UTF-8 without '/', '+' or '#' "
                            "(it is a topic level)",
                            path, c->client_id ? c->client_id : "");
                return FALSE;
        }
        c->username = get_string(file, "Broker", "Username");
        if (!c->username)
                c->username = g_strdup(c->client_id);
        password_file = get_path(file, path, "Broker", "PasswordFile");
        if (password_file && !read_password(path, password_file, &c->password, error))
                return FALSE;
        if (!get_unsigned(file, path, "Broker", "KeepaliveSec", 5, 65535, &keepalive, error))
                return FALSE;
        c->keepalive_sec = (int) keepalive;
        return TRUE;
}

static gboolean check_readable(const char *path, const char *key, const char *file, GError **error) {
        if (file && g_access(file, R_OK) < 0) {
                int saved = errno;

                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s: [Broker] %s='%s': %s",
                            path, key, file, g_strerror(saved));
                return FALSE;
        }
        return TRUE;
}

BridgeConfig *bridge_config_load(const char *path, const char *node_name, GError **error) {
        g_autoptr(BridgeConfig) c = g_new0(BridgeConfig, 1);
        g_autoptr(GKeyFile) file = g_key_file_new();
        g_autoptr(GError) local = NULL;
        g_autofree char *format = NULL;
        const char *state_dir;
        guint64 value;

        if (!g_key_file_load_from_file(file, path, G_KEY_FILE_NONE, &local)) {
                if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
                        g_set_error(error, local->domain, local->code, "%s: %s", path, local->message);
                        return NULL;
                }
                g_message("%s: no such file, using the defaults", path);
        }
        warn_unknown(file, path);

        if (!load_broker(c, file, path, node_name, error))
                return NULL;
        if (!check_readable(path, "CAFile", c->ca_file, error) ||
            !check_readable(path, "CertFile", c->cert_file, error) ||
            !check_readable(path, "KeyFile", c->key_file, error))
                return NULL;

        c->prefix = get_string(file, "Topics", "Prefix");
        if (!c->prefix)
                c->prefix = g_strdup("appservice");
        if (!prefix_is_valid(c->prefix)) {
                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                            "%s: [Topics] Prefix='%s' must be topic levels separated by '/', none empty, "
                            "without '+' or '#'",
                            path, c->prefix);
                return NULL;
        }

        c->spool_dir = get_path(file, path, "Spool", "Directory");
        if (!c->spool_dir) {
                state_dir = g_getenv("STATE_DIRECTORY");
                /* systemd may list several, separated by ':'; ours is the first. */
                if (state_dir && *state_dir) {
                        const char *colon = strchr(state_dir, ':');

                        c->spool_dir = colon ? g_strndup(state_dir, colon - state_dir) : g_strdup(state_dir);
                } else
                        c->spool_dir = g_strdup("/var/lib/appservice-mqtt");
        }
        c->spool_max_messages = 10000;
        if (!get_unsigned(file, path, "Spool", "MaxMessages", 1, G_MAXUINT32, &c->spool_max_messages, error))
                return NULL;
        c->spool_max_bytes = 64 * 1024 * 1024;
        if (!get_unsigned(file, path, "Spool", "MaxBytes", 1024, G_MAXINT64, &c->spool_max_bytes, error))
                return NULL;

        format = get_string(file, "Cloud", "Format");
        if (format && !g_str_equal(format, "json") && !g_str_equal(format, "gvariant")) {
                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                            "%s: [Cloud] Format='%s' is neither 'json' nor 'gvariant'", path, format);
                return NULL;
        }
        c->cloud_gvariant = format && g_str_equal(format, "gvariant");
        value = 2;
        if (!get_unsigned(file, path, "Cloud", "DeliveryWaitSec", 0, 3600, &value, error))
                return NULL;
        c->delivery_wait_msec = (guint) value * 1000;

        value = 10;
        if (!get_unsigned(file, path, "Remote", "OpenTimeoutSec", 1, 3600, &value, error))
                return NULL;
        c->open_timeout_msec = (guint) value * 1000;
        value = 2 * 1024 * 1024;
        if (!get_unsigned(file, path, "Remote", "MaxFrameSize", 1024, 256 * 1024 * 1024, &value, error))
                return NULL;
        c->max_frame_size = (gsize) value;

        return g_steal_pointer(&c);
}
