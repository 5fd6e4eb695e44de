/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The MQTT link against a real mosquitto on a loopback port, started and killed by the test:
 * connect, status and will, subscribe and dispatch, PUBACKs, the broker vanishing and coming
 * back, the clean stop. Skipped (77) without a `mosquitto` binary. */

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "link.h"

typedef struct {
        char *dir;
        char *conf;
        int port;
        GPid pid;
} Broker;

static int free_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        g_assert_cmpint(bind(fd, (struct sockaddr *) &a, sizeof a), ==, 0);
        g_assert_cmpint(getsockname(fd, (struct sockaddr *) &a, &len), ==, 0);
        close(fd);
        return ntohs(a.sin_port);
}

static gboolean port_open(int port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                 .sin_port = htons(port) };
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        gboolean ok = connect(fd, (struct sockaddr *) &a, sizeof a) == 0;

        close(fd);
        return ok;
}

static void broker_start(Broker *b) {
        const char *argv[] = { "mosquitto", "-c", b->conf, NULL };
        g_autoptr(GError) error = NULL;

        g_assert_true(g_spawn_async(NULL, (char **) argv, NULL,
                                    G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                                            G_SPAWN_STDERR_TO_DEV_NULL,
                                    NULL, NULL, &b->pid, &error));
        g_assert_no_error(error);
        for (int i = 0; i < 200 && !port_open(b->port); i++)
                g_usleep(20000);
        g_assert_true(port_open(b->port));
}

static void broker_kill(Broker *b) {
        kill(b->pid, SIGKILL);
        waitpid(b->pid, NULL, 0);
        g_spawn_close_pid(b->pid);
        b->pid = 0;
}

static void broker_init(Broker *b) {
        g_autofree char *text = NULL;

        b->dir = g_dir_make_tmp("test-link-XXXXXX", NULL);
        b->port = free_port();
        b->conf = g_build_filename(b->dir, "mosquitto.conf", NULL);
        text = g_strdup_printf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n", b->port);
        g_assert_true(g_file_set_contents(b->conf, text, -1, NULL));
        broker_start(b);
}

static void broker_done(Broker *b) {
        if (b->pid)
                broker_kill(b);
        g_unlink(b->conf);
        g_rmdir(b->dir);
        g_free(b->conf);
        g_free(b->dir);
}

static BridgeConfig *config_for(Broker *b, const char *node) {
        BridgeConfig *c = g_new0(BridgeConfig, 1);

        c->host = g_strdup("127.0.0.1");
        c->port = b->port;
        c->client_id = g_strdup(node);
        c->username = g_strdup(node);
        c->keepalive_sec = 5;
        c->prefix = g_strdup("test");
        return c;
}

/* What the handlers saw. */
typedef struct {
        int ups, downs;
        gboolean connected;
        GPtrArray *topics;
        GPtrArray *payloads;
        int last_mid, last_reason;
        int acks;
} Seen;

static void on_state(MqttLink *link, gboolean connected, gpointer user_data) {
        Seen *s = user_data;

        s->connected = connected;
        if (connected)
                s->ups++;
        else
                s->downs++;
}

static void on_message(MqttLink *link, const char *topic, const void *payload, gsize size,
                       const mosquitto_property *props, gpointer user_data) {
        Seen *s = user_data;

        g_ptr_array_add(s->topics, g_strdup(topic));
        g_ptr_array_add(s->payloads, g_strndup(payload, size));
}

static void on_published(MqttLink *link, int mid, int reason_code, gpointer user_data) {
        Seen *s = user_data;

        s->last_mid = mid;
        s->last_reason = reason_code;
        s->acks++;
}

static gboolean on_timeout(gpointer user_data) {
        g_error("timed out");
        return G_SOURCE_REMOVE;
}

#define WAIT_FOR(condition)                                                                  \
        G_STMT_START {                                                                       \
                guint timer = g_timeout_add_seconds(20, on_timeout, NULL);                   \
                while (!(condition))                                                         \
                        g_main_context_iteration(NULL, TRUE);                                \
                g_source_remove(timer);                                                      \
        }                                                                                    \
        G_STMT_END

static gboolean has_payload(Seen *s, const char *topic, const char *needle) {
        for (guint i = 0; i < s->topics->len; i++)
                if (g_str_equal(s->topics->pdata[i], topic) && strstr(s->payloads->pdata[i], needle))
                        return TRUE;
        return FALSE;
}

static void on_stopped(MqttLink *link, gpointer user_data) {
        *(gboolean *) user_data = TRUE;
}

static void test_link(void) {
        Broker b = { 0 };
        g_autoptr(BridgeConfig) config = NULL, observer_config = NULL;
        g_autoptr(MqttLink) link = NULL, observer = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *mosquitto = g_find_program_in_path("mosquitto");
        Seen seen = { 0 }, watched = { 0 };
        gboolean stopped = FALSE;
        int mid = 0;

        if (!mosquitto) {
                g_test_skip("no mosquitto in PATH");
                return;
        }
        seen.topics = g_ptr_array_new_with_free_func(g_free);
        seen.payloads = g_ptr_array_new_with_free_func(g_free);
        watched.topics = g_ptr_array_new_with_free_func(g_free);
        watched.payloads = g_ptr_array_new_with_free_func(g_free);
        broker_init(&b);

        config = config_for(&b, "node-t");
        link = mqtt_link_new(config, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(mqtt_link_get_node(link), ==, "node-t");
        g_assert_cmpstr(mqtt_link_get_prefix(link), ==, "test");
        mqtt_link_subscribe(link, "test/node-t/echo/+", on_message, &seen);
        mqtt_link_subscribe(link, "test/+/status", on_message, &seen);
        mqtt_link_add_state_handler(link, on_state, &seen);
        mqtt_link_add_published_handler(link, on_published, &seen);
        g_assert_false(mqtt_link_publish(link, "test/x", "a", 1, NULL, NULL, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
        g_clear_error(&error);
        mqtt_link_start(link);

        WAIT_FOR(seen.connected);
        g_assert_nonnull(mqtt_link_get_incarnation(link));
        /* Its own retained status, and a message round trip with its PUBACK. */
        WAIT_FOR(has_payload(&seen, "test/node-t/status", "\"online\""));
        g_assert_true(mqtt_link_publish(link, "test/node-t/echo/a", "hello", 5, NULL, &mid, &error));
        g_assert_no_error(error);
        WAIT_FOR(has_payload(&seen, "test/node-t/echo/a", "hello"));
        WAIT_FOR(seen.last_mid == mid);
        g_assert_cmpint(seen.last_reason, ==, 0);

        /* The broker vanishes: the link goes down, and comes back up when the broker does. */
        broker_kill(&b);
        WAIT_FOR(!seen.connected);
        g_assert_cmpint(seen.downs, ==, 1);
        g_assert_false(mqtt_link_publish(link, "test/node-t/echo/b", "x", 1, NULL, NULL, &error));
        g_clear_error(&error);
        /* A few failed attempts meanwhile. */
        for (int i = 0; i < 15; i++)
                g_main_context_iteration(NULL, FALSE), g_usleep(100000);
        broker_start(&b);
        WAIT_FOR(seen.connected);
        g_assert_cmpint(seen.ups, ==, 2);
        g_ptr_array_set_size(seen.topics, 0);
        g_ptr_array_set_size(seen.payloads, 0);
        g_assert_true(mqtt_link_publish(link, "test/node-t/echo/b", "again", 5, NULL, &mid, &error));
        WAIT_FOR(has_payload(&seen, "test/node-t/echo/b", "again"));
        WAIT_FOR(seen.last_mid == mid);

        /* Another client sees the status; the clean stop makes it offline. */
        observer_config = config_for(&b, "observer");
        observer = mqtt_link_new(observer_config, &error);
        mqtt_link_subscribe(observer, "test/+/status", on_message, &watched);
        mqtt_link_add_state_handler(observer, on_state, &watched);
        mqtt_link_start(observer);
        WAIT_FOR(has_payload(&watched, "test/node-t/status", "\"online\""));
        mqtt_link_stop(link, on_stopped, &stopped);
        WAIT_FOR(stopped);
        WAIT_FOR(has_payload(&watched, "test/node-t/status", "\"offline\""));
        g_assert_false(seen.connected);
        g_clear_pointer(&link, mqtt_link_free);

        /* The will: a link that vanishes without a stop (its socket shut under it) is offline. */
        {
                g_autoptr(BridgeConfig) c2 = config_for(&b, "node-w");
                g_autoptr(MqttLink) l2 = mqtt_link_new(c2, &error);
                Seen s2 = { 0 };

                mqtt_link_add_state_handler(l2, on_state, &s2);
                mqtt_link_start(l2);
                WAIT_FOR(s2.connected);
                WAIT_FOR(has_payload(&watched, "test/node-w/status", "\"online\""));
                /* Freed while connected: no DISCONNECT is sent, the broker sees the socket close. */
                g_clear_pointer(&l2, mqtt_link_free);
                WAIT_FOR(has_payload(&watched, "test/node-w/status", "\"offline\""));
        }

        g_clear_pointer(&observer, mqtt_link_free);
        broker_done(&b);
        g_ptr_array_unref(seen.topics);
        g_ptr_array_unref(seen.payloads);
        g_ptr_array_unref(watched.topics);
        g_ptr_array_unref(watched.payloads);
}

/* Nothing listens: attempts fail quietly and go on; freeing the link stops them. */
static void test_no_broker(void) {
        g_autoptr(BridgeConfig) c = g_new0(BridgeConfig, 1);
        g_autoptr(MqttLink) link = NULL;
        Seen s = { 0 };

        c->host = g_strdup("127.0.0.1");
        c->port = free_port();
        c->client_id = g_strdup("lonely");
        c->keepalive_sec = 5;
        c->prefix = g_strdup("test");
        link = mqtt_link_new(c, NULL);
        mqtt_link_add_state_handler(link, on_state, &s);
        mqtt_link_start(link);
        for (int i = 0; i < 20; i++)
                g_main_context_iteration(NULL, FALSE), g_usleep(50000);
        g_assert_cmpint(s.ups, ==, 0);
        g_assert_false(mqtt_link_is_connected(link));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/mqtt/link/no-broker", test_no_broker);
        g_test_add_func("/mqtt/link/broker", test_link);
        return g_test_run();
}
