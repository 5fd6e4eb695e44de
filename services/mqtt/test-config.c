/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bridge_config_load(): defaults, every key, and bad files whose errors name the file and key. */

#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "config.h"

static char *dir;

static char *write_file(const char *name, const char *text) {
        char *path = g_build_filename(dir, name, NULL);

        g_assert_true(g_file_set_contents(path, text, -1, NULL));
        return path;
}

static void test_defaults(void) {
        g_autofree char *path = g_build_filename(dir, "absent.conf", NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(BridgeConfig) c = NULL;

        g_setenv("STATE_DIRECTORY", "/var/lib/x:/var/lib/y", TRUE);
        c = bridge_config_load(path, "node-a", &error);
        g_assert_no_error(error);
        g_assert_cmpstr(c->host, ==, "localhost");
        g_assert_cmpint(c->port, ==, 1883);
        g_assert_false(c->tls);
        g_assert_cmpstr(c->client_id, ==, "node-a");
        g_assert_cmpstr(c->username, ==, "node-a");
        g_assert_null(c->password);
        g_assert_cmpint(c->keepalive_sec, ==, 10);
        g_assert_cmpstr(c->prefix, ==, "appservice");
        g_assert_cmpstr(c->spool_dir, ==, "/var/lib/x");
        g_assert_cmpuint(c->spool_max_messages, ==, 10000);
        g_assert_cmpuint(c->spool_max_bytes, ==, 67108864);
        g_assert_false(c->cloud_gvariant);
        g_assert_cmpuint(c->delivery_wait_msec, ==, 2000);
        g_assert_cmpuint(c->open_timeout_msec, ==, 10000);
        g_assert_cmpuint(c->max_frame_size, ==, 2097152);
        g_unsetenv("STATE_DIRECTORY");
}

static void test_every_key(void) {
        g_autofree char *ca = write_file("ca.pem", "x");
        g_autofree char *cert = write_file("cert.pem", "x");
        g_autofree char *key = write_file("key.pem", "x");
        g_autofree char *pw G_GNUC_UNUSED = write_file("password", "s3cret\nignored\n");  /* read through PasswordFile= */
        g_autofree char *path = write_file("all.conf", "[Broker]\n"
                                                       "URI=mqtts://mqtt.example.com\n"
                                                       "CAFile=ca.pem\n"
                                                       "CertFile=cert.pem\n"
                                                       "KeyFile=key.pem\n"
                                                       "Username=user\n"
                                                       "PasswordFile=password\n"
                                                       "ClientId=node-b\n"
                                                       "KeepaliveSec=30\n"
                                                       "[Topics]\nPrefix=fleet/one\n"
                                                       "[Spool]\nDirectory=/tmp/spool\nMaxMessages=5\nMaxBytes=4096\n"
                                                       "[Cloud]\nFormat=gvariant\nDeliveryWaitSec=0\n"
                                                       "[Remote]\nOpenTimeoutSec=3\nMaxFrameSize=65536\n");
        g_autoptr(GError) error = NULL;
        g_autoptr(BridgeConfig) c = bridge_config_load(path, "node-a", &error);

        g_assert_no_error(error);
        g_assert_cmpstr(c->host, ==, "mqtt.example.com");
        g_assert_cmpint(c->port, ==, 8883);
        g_assert_true(c->tls);
        g_assert_cmpstr(c->ca_file, ==, ca); /* relative to the file's folder */
        g_assert_cmpstr(c->cert_file, ==, cert);
        g_assert_cmpstr(c->key_file, ==, key);
        g_assert_cmpstr(c->username, ==, "user");
        g_assert_cmpstr(c->password, ==, "s3cret");
        g_assert_cmpstr(c->client_id, ==, "node-b");
        g_assert_cmpint(c->keepalive_sec, ==, 30);
        g_assert_cmpstr(c->prefix, ==, "fleet/one");
        g_assert_cmpstr(c->spool_dir, ==, "/tmp/spool");
        g_assert_cmpuint(c->spool_max_messages, ==, 5);
        g_assert_cmpuint(c->spool_max_bytes, ==, 4096);
        g_assert_true(c->cloud_gvariant);
        g_assert_cmpuint(c->delivery_wait_msec, ==, 0);
        g_assert_cmpuint(c->open_timeout_msec, ==, 3000);
        g_assert_cmpuint(c->max_frame_size, ==, 65536);
}

static void test_uri(void) {
        const struct {
                const char *uri;
                const char *host;
                int port;
                gboolean tls;
        } good[] = {
                { "mqtt://h", "h", 1883, FALSE },       { "mqtt://h:1", "h", 1, FALSE },
                { "mqtts://h", "h", 8883, TRUE },       { "mqtts://10.0.0.1:9999", "10.0.0.1", 9999, TRUE },
                { "mqtt://[::1]", "::1", 1883, FALSE }, { "mqtt://[fe80::1]:18830", "fe80::1", 18830, FALSE },
        };
        const char *bad[] = { "tcp://h", "mqtt://", "mqtt://h:0", "mqtt://h:65536", "mqtt://h:x",
                              "mqtt://h/path", "mqtt://u@h", "mqtt://[::1", "mqtt://[::1]x", "h:1883" };

        for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
                g_autofree char *host = NULL;
                int port;
                gboolean tls;

                g_assert_true(bridge_config_parse_uri(good[i].uri, &host, &port, &tls, NULL));
                g_assert_cmpstr(host, ==, good[i].host);
                g_assert_cmpint(port, ==, good[i].port);
                g_assert_cmpint(tls, ==, good[i].tls);
        }
        for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GError) error = NULL;
                g_autofree char *host = NULL;
                int port;
                gboolean tls;

                g_assert_false(bridge_config_parse_uri(bad[i], &host, &port, &tls, &error));
                g_assert_nonnull(error);
        }
}

/* Each bad file fails, and the message names the file, the key and the value. */
static void test_bad(void) {
        const struct {
                const char *text;
                const char *key;
        } bad[] = {
                { "[Broker]\nURI=http://x\n", "URI" },
                { "[Broker]\nKeepaliveSec=2\n", "KeepaliveSec" },
                { "[Broker]\nKeepaliveSec=ten\n", "KeepaliveSec" },
                { "[Broker]\nClientId=a/b\n", "ClientId" },
                { "[Broker]\nClientId=a+\n", "ClientId" },
                { "[Broker]\nURI=mqtt://h\nCAFile=/etc/hostname\n", "CAFile" },
                { "[Broker]\nURI=mqtts://h\nCertFile=/etc/hostname\n", "KeyFile" },
                { "[Broker]\nURI=mqtts://h\nCAFile=/nonexistent/ca.pem\n", "CAFile" },
                { "[Broker]\nPasswordFile=/nonexistent/pw\n", "PasswordFile" },
                { "[Topics]\nPrefix=a/#\n", "Prefix" },
                { "[Topics]\nPrefix=/a\n", "Prefix" },
                { "[Topics]\nPrefix=a//b\n", "Prefix" },
                { "[Spool]\nMaxMessages=0\n", "MaxMessages" },
                { "[Spool]\nMaxBytes=-1\n", "MaxBytes" },
                { "[Cloud]\nFormat=xml\n", "Format" },
                { "[Cloud]\nDeliveryWaitSec=1.5\n", "DeliveryWaitSec" },
                { "[Remote]\nOpenTimeoutSec=0\n", "OpenTimeoutSec" },
                { "[Remote]\nMaxFrameSize=1\n", "MaxFrameSize" },
                { "not a key file\n", "" },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autofree char *path = write_file("bad.conf", bad[i].text);
                g_autoptr(GError) error = NULL;
                g_autoptr(BridgeConfig) c = bridge_config_load(path, "node-a", &error);

                g_test_message("%s -> %s", bad[i].text, error ? error->message : "(no error)");
                g_assert_null(c);
                g_assert_nonnull(error);
                g_assert_true(strstr(error->message, path) != NULL);
                g_assert_true(strstr(error->message, bad[i].key) != NULL);
        }
}

/* Unknown keys and sections are warnings, not errors. */
static void test_unknown(void) {
        g_autofree char *path = write_file("unknown.conf", "[Broker]\nURL=mqtt://x\n[Nope]\nA=b\n");
        g_autoptr(GError) error = NULL;
        g_autoptr(BridgeConfig) c = NULL;

        g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*unknown key [Broker] URL*");
        g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*unknown section [Nope]*");
        c = bridge_config_load(path, "node-a", &error);
        g_test_assert_expected_messages();
        g_assert_no_error(error);
        g_assert_cmpstr(c->host, ==, "localhost");
}

int main(int argc, char *argv[]) {
        int r;

        g_test_init(&argc, &argv, NULL);
        dir = g_dir_make_tmp("test-config-XXXXXX", NULL);
        g_test_add_func("/mqtt/config/defaults", test_defaults);
        g_test_add_func("/mqtt/config/every-key", test_every_key);
        g_test_add_func("/mqtt/config/uri", test_uri);
        g_test_add_func("/mqtt/config/bad", test_bad);
        g_test_add_func("/mqtt/config/unknown", test_unknown);
        r = g_test_run();
        {
                g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
                const char *name;

                while ((name = g_dir_read_name(d))) {
                        g_autofree char *p = g_build_filename(dir, name, NULL);

                        g_unlink(p);
                }
        }
        g_rmdir(dir);
        g_free(dir);
        return r;
}
