/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The bridge's configuration file (README.md, "Configuration"). */

#include <glib.h>

typedef struct BridgeConfig {
        /* [Broker] */
        char *host;
        int port;
        gboolean tls;
        char *ca_file;
        char *cert_file;
        char *key_file;
        char *username;
        char *password;          /* read from PasswordFile=, NULL when none */
        char *client_id;         /* the node name unless set */
        int keepalive_sec;
        /* [Topics] */
        char *prefix;
        /* [Spool] */
        char *spool_dir;
        guint64 spool_max_messages;
        guint64 spool_max_bytes;
        /* [Cloud] */
        gboolean cloud_gvariant;  /* Format=gvariant */
        guint delivery_wait_msec;
        /* [Remote] */
        guint open_timeout_msec;
        gsize max_frame_size;
} BridgeConfig;

/* Reads `path` (a missing file means every default). `node_name` is the default ClientId=. An
 * error names the file, the key and what was wrong. */
BridgeConfig *bridge_config_load(const char *path, const char *node_name, GError **error);
void bridge_config_free(BridgeConfig *config);

/* mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (1883 and 8883 by default; [ADDRESS] for IPv6). */
gboolean bridge_config_parse_uri(const char *uri, char **ret_host, int *ret_port, gboolean *ret_tls,
                                 GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BridgeConfig, bridge_config_free)
