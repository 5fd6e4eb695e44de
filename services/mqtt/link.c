/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bridge's MQTT 5 connection: libmosquitto driven from the GLib main loop, without its thread.
 *
 * - One mosquitto instance per connection attempt: a fresh one each time, so that nothing of a
 *   lost connection (libmosquitto's own queue of unacknowledged publishes, its message ids)
 *   survives into the next; what must be sent again is the spool's to say.
 * - The attempt itself (mosquitto_connect_bind_async: the name lookup, which blocks, then a
 *   non-blocking connect() and the CONNECT packet queued) runs in a worker thread, which owns the
 *   instance until it is done; the main loop never waits for DNS.
 * - Then the socket is watched for reading, and for writing while mosquitto_want_write(); a
 *   one-second timer calls mosquitto_loop_misc() (keepalive, and the PINGRESP that did not come).
 * - Any error from libmosquitto, a CONNACK that refuses, or no CONNACK within the deadline ends the
 *   connection; the next attempt follows after a back-off (0.5 s doubling to 10 s).
 *
 * libmosquitto calls our callbacks from inside mosquitto_loop_read() & co.; they only note what
 * happened and call the handlers. Tearing the instance down happens after the loop function
 * returned, never inside its callbacks. */

#include <errno.h>
#include <string.h>

#include <glib-unix.h>
#include <gio/gio.h>
#include <mqtt_protocol.h>

#include "link.h"

#define BACKOFF_FIRST_MSEC 500
#define BACKOFF_MAX_MSEC 10000
#define STOP_WAIT_MSEC 2000

typedef struct {
        char *filter;
        MqttLinkMessageFunc func;
        gpointer user_data;
} Subscription;

typedef struct {
        GCallback func;
        gpointer user_data;
} Handler;

/* A connection attempt in the worker thread. The thread owns `mosq` until the attempt returns;
 * if the link was freed meanwhile (`orphaned`), the completion destroys it. */
typedef struct {
        struct mosquitto *mosq;
        char *host;
        int port;
        int keepalive;
        int rc;
        int saved_errno;
        gboolean orphaned;
} ConnectJob;

struct MqttLink {
        const BridgeConfig *config;
        char *node;
        char *prefix;
        char *status_topic;
        char *incarnation; /* of the current connection */

        struct mosquitto *mosq;  /* the connection (TCP up or coming), NULL when down */
        ConnectJob *connecting;  /* an attempt in the worker thread */
        gboolean connected;      /* CONNACK accepted and subscriptions sent */
        gboolean started;
        gboolean lost;           /* set by on_disconnect, acted on after the loop call */
        char *lost_reason;

        guint read_source;
        guint write_source;
        guint misc_source;
        guint retry_source;
        guint deadline_source;
        guint lost_source;
        guint backoff_msec;
        gboolean last_attempt_failed;
        /* The maximum packet size of the last CONNACK (MQTT_LINK_NO_MAX_PACKET_SIZE when it told
         * none), kept while the link is down; 0 until the first CONNACK. */
        guint32 max_packet_size;

        GArray *subscriptions; /* Subscription */
        GArray *state_handlers;     /* Handler */
        GArray *published_handlers; /* Handler */

        /* The clean stop. */
        gboolean stopping;
        int offline_mid;
        guint stop_source;
        MqttLinkStoppedFunc stopped_func;
        gpointer stopped_data;
};

static void connection_down(MqttLink *link, const char *reason);
static void schedule_connect(MqttLink *link);
static void update_write_watch(MqttLink *link);

/* ---- helpers -------------------------------------------------------------------------------- */

static guint varint_size(guint64 value) {
        guint n = 1;

        while (value >= 128) {
                value /= 128;
                n++;
        }
        return n;
}

static char *random_hex(void) {
        return g_strdup_printf("%08" G_GINT32_MODIFIER "x%08" G_GINT32_MODIFIER "x", g_random_int(), g_random_int());
}

static char *status_payload(const char *state, const char *incarnation) {
        /* The incarnation is hex, the state a word of ours: nothing to escape. */
        return g_strdup_printf("{\"state\":\"%s\",\"incarnation\":\"%s\"}", state, incarnation);
}

static const char *reason_string(int reason_code) {
        const char *s = mosquitto_reason_string(reason_code);

        return s ? s : "unknown reason";
}

static void notify_state(MqttLink *link, gboolean connected) {
        /* A handler may add handlers; walk by index over a stable count. */
        guint n = link->state_handlers->len;

        for (guint i = 0; i < n; i++) {
                Handler *h = &g_array_index(link->state_handlers, Handler, i);

                ((MqttLinkStateFunc) h->func)(link, connected, h->user_data);
        }
}

/* ---- libmosquitto's callbacks (inside its loop functions) ------------------------------------ */

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags, const mosquitto_property *props) {
        MqttLink *link = obj;
        g_autofree char *online = NULL;
        int mid;

        g_clear_handle_id(&link->deadline_source, g_source_remove);
        if (rc == 0) {
                uint32_t max = 0;
                guint32 before = link->max_packet_size;

                if (!mosquitto_property_read_int32(props, MQTT_PROP_MAXIMUM_PACKET_SIZE, &max, false) || max == 0)
                        max = MQTT_LINK_NO_MAX_PACKET_SIZE;
                link->max_packet_size = max;
                if (max != before && max != MQTT_LINK_NO_MAX_PACKET_SIZE)
                        g_message("the MQTT broker's maximum packet size is %" G_GUINT32_FORMAT " bytes", max);
        }
        if (rc != 0) {
                /* Refused: bad user name or password (0x86), not authorized (0x87), ... */
                link->lost = TRUE;
                g_free(link->lost_reason);
                link->lost_reason = g_strdup_printf("the MQTT broker refused the connection: %s (0x%02x)",
                                                    reason_string(rc), rc);
                return;
        }

        for (guint i = 0; i < link->subscriptions->len; i++) {
                Subscription *s = &g_array_index(link->subscriptions, Subscription, i);
                int r = mosquitto_subscribe_v5(mosq, NULL, s->filter, 1, 0, NULL);

                if (r != MOSQ_ERR_SUCCESS)
                        g_warning("cannot subscribe to '%s', ignoring: %s", s->filter, mosquitto_strerror(r));
        }
        online = status_payload("online", link->incarnation);
        rc = mosquitto_publish_v5(mosq, &mid, link->status_topic, (int) strlen(online), online, 1, true, NULL);
        if (rc != MOSQ_ERR_SUCCESS)
                g_warning("cannot publish the status 'online' to '%s', ignoring: %s", link->status_topic,
                          mosquitto_strerror(rc));

        g_message("connected to mqtt%s://%s:%d as '%s' (incarnation %s)", link->config->tls ? "s" : "",
                  link->config->host, link->config->port, link->node, link->incarnation);
        link->connected = TRUE;
        link->backoff_msec = BACKOFF_FIRST_MSEC;
        link->last_attempt_failed = FALSE;
        notify_state(link, TRUE);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc, const mosquitto_property *props) {
        MqttLink *link = obj;

        if (link->lost)
                return; /* the first reason is the one worth telling */
        link->lost = TRUE;
        g_free(link->lost_reason);
        link->lost_reason = g_strdup(rc == MOSQ_ERR_KEEPALIVE ? "no answer within the keepalive"
                                     : rc == 0                 ? "disconnected"
                                                               : mosquitto_strerror(rc));
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count, const int *granted_qos,
                         const mosquitto_property *props) {
        for (int i = 0; i < qos_count; i++)
                if (granted_qos[i] >= 0x80)
                        g_warning("the MQTT broker refused a subscription: %s (0x%02x); is the ACL right?",
                                  reason_string(granted_qos[i]), granted_qos[i]);
}

static gboolean finish_stop(gpointer user_data);

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason_code, const mosquitto_property *props) {
        MqttLink *link = obj;
        guint n = link->published_handlers->len;

        if (link->stopping && mid == link->offline_mid && link->stop_source) {
                /* Finish the stop from the main loop, outside this callback. */
                g_source_remove(link->stop_source);
                link->offline_mid = -1;
                link->stop_source = g_idle_add(finish_stop, link);
        }
        for (guint i = 0; i < n; i++) {
                Handler *h = &g_array_index(link->published_handlers, Handler, i);

                ((MqttLinkPublishedFunc) h->func)(link, mid, reason_code, h->user_data);
        }
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *message,
                       const mosquitto_property *props) {
        MqttLink *link = obj;
        guint n = link->subscriptions->len;

        for (guint i = 0; i < n; i++) {
                Subscription *s = &g_array_index(link->subscriptions, Subscription, i);
                bool match = false;

                if (mosquitto_topic_matches_sub(s->filter, message->topic, &match) == MOSQ_ERR_SUCCESS && match)
                        s->func(link, message->topic, message->payload, (gsize) message->payloadlen, props,
                                s->user_data);
        }
}

/* ---- driving the socket ---------------------------------------------------------------------- */

/* After each call into libmosquitto: a lost connection is torn down, else the write watch follows
 * what libmosquitto has to send. */
static void after_loop_call(MqttLink *link, int rc) {
        if (!link->mosq)
                return;
        if (rc != MOSQ_ERR_SUCCESS && !link->lost) {
                link->lost = TRUE;
                g_free(link->lost_reason);
                link->lost_reason = g_strdup(rc == MOSQ_ERR_ERRNO ? g_strerror(errno) : mosquitto_strerror(rc));
        }
        if (link->lost || mosquitto_socket(link->mosq) < 0) {
                g_autofree char *reason = g_steal_pointer(&link->lost_reason);

                connection_down(link, reason ? reason : "connection closed");
                return;
        }
        update_write_watch(link);
}

static gboolean on_readable(int fd, GIOCondition condition, gpointer user_data) {
        MqttLink *link = user_data;
        int rc = mosquitto_loop_read(link->mosq, 1);

        after_loop_call(link, rc);
        return G_SOURCE_CONTINUE; /* connection_down() removed it if it must go */
}

static gboolean on_writable(int fd, GIOCondition condition, gpointer user_data) {
        MqttLink *link = user_data;
        int rc;

        link->write_source = 0; /* update_write_watch() adds it again while there is more */
        rc = mosquitto_loop_write(link->mosq, 1);
        /* A TLS handshake in progress advances on reads only; its wish to write is satisfied by
         * a read call too (libmosquitto's own loop does the same on a writable socket). */
        if (rc == MOSQ_ERR_SUCCESS && link->config->tls && !link->connected && link->mosq && !link->lost)
                rc = mosquitto_loop_read(link->mosq, 1);
        after_loop_call(link, rc);
        return G_SOURCE_REMOVE;
}

static void update_write_watch(MqttLink *link) {
        gboolean want = link->mosq && mosquitto_want_write(link->mosq);

        if (want && !link->write_source)
                link->write_source = g_unix_fd_add(mosquitto_socket(link->mosq), G_IO_OUT, on_writable, link);
        else if (!want)
                g_clear_handle_id(&link->write_source, g_source_remove);
}

static gboolean on_misc(gpointer user_data) {
        MqttLink *link = user_data;

        after_loop_call(link, mosquitto_loop_misc(link->mosq));
        return G_SOURCE_CONTINUE;
}

static gboolean on_deadline(gpointer user_data) {
        MqttLink *link = user_data;

        link->deadline_source = 0;
        connection_down(link, "no CONNACK in time");
        return G_SOURCE_REMOVE;
}

/* ---- connecting ------------------------------------------------------------------------------ */

static void connect_job_free(gpointer p) {
        ConnectJob *job = p;

        g_free(job->host);
        g_free(job);
}

static void connect_in_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable) {
        ConnectJob *job = task_data;

        errno = 0;
        job->rc = mosquitto_connect_bind_async(job->mosq, job->host, job->port, job->keepalive, NULL);
        job->saved_errno = errno;
        g_task_return_boolean(task, TRUE);
}

static void log_attempt_failed(MqttLink *link, const char *reason) {
        /* Once per outage at "message", then quietly until it works again. */
        if (!link->last_attempt_failed)
                g_message("cannot connect to mqtt%s://%s:%d: %s; retrying every %u s at most",
                          link->config->tls ? "s" : "", link->config->host, link->config->port, reason,
                          BACKOFF_MAX_MSEC / 1000);
        else
                g_debug("cannot connect to %s:%d: %s", link->config->host, link->config->port, reason);
        link->last_attempt_failed = TRUE;
}

static void on_connect_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        ConnectJob *job = g_task_get_task_data(G_TASK(result));
        MqttLink *link;
        int fd;

        if (job->orphaned) {
                mosquitto_destroy(job->mosq);
                return;
        }
        link = user_data;
        link->connecting = NULL;
        if (job->rc != MOSQ_ERR_SUCCESS) {
                g_autofree char *reason = NULL;

                reason = g_strdup(job->rc == MOSQ_ERR_ERRNO ? g_strerror(job->saved_errno)
                                  : job->rc == MOSQ_ERR_EAI  ? "the host name cannot be resolved"
                                                             : mosquitto_strerror(job->rc));
                mosquitto_destroy(job->mosq);
                log_attempt_failed(link, reason);
                schedule_connect(link);
                return;
        }
        link->mosq = job->mosq;
        fd = mosquitto_socket(link->mosq);
        if (fd < 0) {
                connection_down(link, "no socket");
                return;
        }
        link->read_source = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, link);
        link->misc_source = g_timeout_add_seconds(1, on_misc, link);
        /* TCP, TLS and the CONNACK within one and a half keepalives, or try again. */
        link->deadline_source = g_timeout_add(MAX(link->config->keepalive_sec * 1500, 5000), on_deadline, link);
        update_write_watch(link);
}

static struct mosquitto *make_instance(MqttLink *link, GError **error) {
        const BridgeConfig *c = link->config;
        struct mosquitto *mosq = mosquitto_new(c->client_id, /* clean_start= */ true, link);
        g_autofree char *offline = NULL;
        int rc;

        if (!mosq) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot make a MQTT client: %s",
                            g_strerror(errno));
                return NULL;
        }
        mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
        mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
        mosquitto_connect_v5_callback_set(mosq, on_connect);
        mosquitto_disconnect_v5_callback_set(mosq, on_disconnect);
        mosquitto_publish_v5_callback_set(mosq, on_publish);
        mosquitto_message_v5_callback_set(mosq, on_message);
        mosquitto_subscribe_v5_callback_set(mosq, on_subscribe);

        rc = mosquitto_username_pw_set(mosq, c->username, c->password);
        if (rc == MOSQ_ERR_SUCCESS && c->tls) {
                if (c->ca_file || c->cert_file)
                        rc = mosquitto_tls_set(mosq, c->ca_file, NULL, c->cert_file, c->key_file, NULL);
                if (rc == MOSQ_ERR_SUCCESS && !c->ca_file)
                        rc = mosquitto_int_option(mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
        }
        if (rc == MOSQ_ERR_SUCCESS) {
                offline = status_payload("offline", link->incarnation);
                rc = mosquitto_will_set_v5(mosq, link->status_topic, (int) strlen(offline), offline, 1, true, NULL);
        }
        if (rc != MOSQ_ERR_SUCCESS) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "cannot set up the MQTT client: %s",
                            rc == MOSQ_ERR_ERRNO ? g_strerror(errno) : mosquitto_strerror(rc));
                mosquitto_destroy(mosq);
                return NULL;
        }
        return mosq;
}

static gboolean start_attempt(gpointer user_data) {
        MqttLink *link = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GTask) task = NULL;
        ConnectJob *job;
        struct mosquitto *mosq;

        link->retry_source = 0;
        g_free(link->incarnation);
        link->incarnation = random_hex();
        mosq = make_instance(link, &error);
        if (!mosq) {
                log_attempt_failed(link, error->message);
                schedule_connect(link);
                return G_SOURCE_REMOVE;
        }
        job = g_new0(ConnectJob, 1);
        job->mosq = mosq;
        job->host = g_strdup(link->config->host);
        job->port = link->config->port;
        job->keepalive = link->config->keepalive_sec;
        link->connecting = job;
        task = g_task_new(NULL, NULL, on_connect_done, link);
        g_task_set_task_data(task, job, connect_job_free);
        g_task_run_in_thread(task, connect_in_thread);
        return G_SOURCE_REMOVE;
}

static void schedule_connect(MqttLink *link) {
        guint delay;

        if (link->stopping || link->retry_source || link->connecting)
                return;
        /* Up to a fifth less, so that nodes that lost the broker together do not come back in step. */
        delay = link->backoff_msec - g_random_int_range(0, (gint32) link->backoff_msec / 5 + 1);
        link->backoff_msec = MIN(link->backoff_msec * 2, BACKOFF_MAX_MSEC);
        link->retry_source = g_timeout_add(delay, start_attempt, link);
}

/* The mosquitto instance and its sources on the main loop, gone; the link is not connected. */
static void drop_connection(MqttLink *link) {
        g_clear_handle_id(&link->read_source, g_source_remove);
        g_clear_handle_id(&link->write_source, g_source_remove);
        g_clear_handle_id(&link->misc_source, g_source_remove);
        g_clear_handle_id(&link->deadline_source, g_source_remove);
        g_clear_handle_id(&link->lost_source, g_source_remove);
        g_clear_pointer(&link->mosq, mosquitto_destroy);
        link->connected = FALSE;
}

/* Tears the connection (or what there was of it) down; tells the handlers if it was up. */
static void connection_down(MqttLink *link, const char *reason) {
        gboolean was_connected = link->connected;

        drop_connection(link);
        g_clear_pointer(&link->lost_reason, g_free);
        link->lost = FALSE;

        if (was_connected) {
                g_message("connection to the MQTT broker lost: %s; reconnecting", reason);
                notify_state(link, FALSE);
        } else if (!link->stopping)
                log_attempt_failed(link, reason);
        schedule_connect(link);
}

/* ---- the object ------------------------------------------------------------------------------ */

MqttLink *mqtt_link_new(const BridgeConfig *config, GError **error) {
        static gsize initialized;
        MqttLink *link;

        if (g_once_init_enter(&initialized)) {
                mosquitto_lib_init();
                g_once_init_leave(&initialized, 1);
        }
        if (!config->client_id || !*config->client_id || !config->prefix) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "no client id or topic prefix");
                return NULL;
        }
        link = g_new0(MqttLink, 1);
        link->config = config;
        link->node = g_strdup(config->client_id);
        link->prefix = g_strdup(config->prefix);
        link->status_topic = g_strdup_printf("%s/%s/status", link->prefix, link->node);
        link->subscriptions = g_array_new(FALSE, TRUE, sizeof(Subscription));
        link->state_handlers = g_array_new(FALSE, TRUE, sizeof(Handler));
        link->published_handlers = g_array_new(FALSE, TRUE, sizeof(Handler));
        link->backoff_msec = BACKOFF_FIRST_MSEC;
        link->offline_mid = -1;
        return link;
}

void mqtt_link_free(MqttLink *link) {
        if (!link)
                return;
        link->stopping = TRUE; /* no reconnect from here on */
        g_clear_handle_id(&link->retry_source, g_source_remove);
        g_clear_handle_id(&link->stop_source, g_source_remove);
        if (link->connecting)
                link->connecting->orphaned = TRUE;
        drop_connection(link);
        for (guint i = 0; i < link->subscriptions->len; i++)
                g_free(g_array_index(link->subscriptions, Subscription, i).filter);
        g_array_unref(link->subscriptions);
        g_array_unref(link->state_handlers);
        g_array_unref(link->published_handlers);
        g_free(link->lost_reason);
        g_free(link->incarnation);
        g_free(link->status_topic);
        g_free(link->prefix);
        g_free(link->node);
        g_free(link);
}

void mqtt_link_start(MqttLink *link) {
        if (link->started)
                return;
        link->started = TRUE;
        start_attempt(link);
}

gboolean mqtt_link_is_connected(MqttLink *link) {
        return link->connected;
}

guint32 mqtt_link_get_max_packet_size(MqttLink *link) {
        return link->max_packet_size;
}

guint64 mqtt_link_publish_packet_size(const char *topic, gsize payload_size, const char *content_type,
                                      char **user_properties) {
        guint64 props = 0, remaining;

        /* MQTT 5, 3.3: a fixed header byte, the remaining length (a variable byte integer), the
         * topic (2 + its length), the packet id (QoS 1), the properties' length (a variable byte
         * integer) and the properties (identifier byte, then 2 + length per string), the payload. */
        if (content_type)
                props += 1 + 2 + strlen(content_type);
        for (char **p = user_properties; p && p[0] && p[1]; p += 2)
                props += 1 + 2 + strlen(p[0]) + 2 + strlen(p[1]);
        remaining = 2 + strlen(topic) + 2 + varint_size(props) + props + payload_size;
        return 1 + varint_size(remaining) + remaining;
}

void mqtt_link_subscribe(MqttLink *link, const char *filter, MqttLinkMessageFunc func, gpointer user_data) {
        Subscription s = { g_strdup(filter), func, user_data };

        g_return_if_fail(mosquitto_sub_topic_check(filter) == MOSQ_ERR_SUCCESS);
        g_array_append_val(link->subscriptions, s);
        if (link->connected)
                after_loop_call(link, mosquitto_subscribe_v5(link->mosq, NULL, filter, 1, 0, NULL));
}

void mqtt_link_add_state_handler(MqttLink *link, MqttLinkStateFunc func, gpointer user_data) {
        Handler h = { (GCallback) func, user_data };

        g_array_append_val(link->state_handlers, h);
}

void mqtt_link_add_published_handler(MqttLink *link, MqttLinkPublishedFunc func, gpointer user_data) {
        Handler h = { (GCallback) func, user_data };

        g_array_append_val(link->published_handlers, h);
}

/* A publish that failed on the socket: the connection is going; tear it down from the loop, not
 * under the caller's feet. */
static gboolean on_lost_later(gpointer user_data) {
        MqttLink *link = user_data;

        link->lost_source = 0;
        if (link->mosq) {
                g_autofree char *reason = g_steal_pointer(&link->lost_reason);

                connection_down(link, reason ? reason : "a write failed");
        }
        return G_SOURCE_REMOVE;
}

gboolean mqtt_link_publish(MqttLink *link, const char *topic, const void *payload, gsize size,
                           const mosquitto_property *props, int *ret_mid, GError **error) {
        int rc, mid = 0;

        if (!link->connected || link->lost || link->stopping) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "not connected to the MQTT broker");
                return FALSE;
        }
        if (size > MQTT_MAX_PAYLOAD) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "%" G_GSIZE_FORMAT " bytes: too large",
                            size);
                return FALSE;
        }
        rc = mosquitto_publish_v5(link->mosq, &mid, topic, (int) size, payload, 1, false, props);
        switch (rc) {
        case MOSQ_ERR_SUCCESS:
                break;
        case MOSQ_ERR_OVERSIZE_PACKET:
        case MOSQ_ERR_PAYLOAD_SIZE:
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                            "%" G_GSIZE_FORMAT " bytes to '%s': over the MQTT broker's maximum packet size", size,
                            topic);
                return FALSE;
        case MOSQ_ERR_INVAL:
        case MOSQ_ERR_MALFORMED_UTF8:
        case MOSQ_ERR_NOT_SUPPORTED:
        case MOSQ_ERR_DUPLICATE_PROPERTY:
        case MOSQ_ERR_QOS_NOT_SUPPORTED:
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "cannot publish to '%s': %s", topic,
                            mosquitto_strerror(rc));
                return FALSE;
        default:
                /* The message may sit in libmosquitto's queue of a connection that is going: it
                 * dies with it, and whoever owns the message publishes it again. */
                if (!link->lost_reason)
                        link->lost_reason = g_strdup(rc == MOSQ_ERR_ERRNO ? g_strerror(errno) : mosquitto_strerror(rc));
                if (!link->lost_source)
                        link->lost_source = g_idle_add(on_lost_later, link);
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "cannot publish to '%s': %s", topic,
                            mosquitto_strerror(rc));
                return FALSE;
        }
        if (ret_mid)
                *ret_mid = mid;
        update_write_watch(link);
        return TRUE;
}

const char *mqtt_link_get_node(MqttLink *link) {
        return link->node;
}

const char *mqtt_link_get_prefix(MqttLink *link) {
        return link->prefix;
}

const char *mqtt_link_get_incarnation(MqttLink *link) {
        return link->connected ? link->incarnation : NULL;
}

/* ---- the clean stop -------------------------------------------------------------------------- */

static gboolean finish_stop(gpointer user_data) {
        MqttLink *link = user_data;
        MqttLinkStoppedFunc func = link->stopped_func;

        link->stop_source = 0;
        link->stopped_func = NULL;
        if (link->mosq) {
                gboolean was_connected = link->connected;

                mosquitto_disconnect_v5(link->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
                /* The DISCONNECT is small: one write to a socket whose buffer has room. */
                mosquitto_loop_write(link->mosq, 1);
                drop_connection(link);
                if (was_connected)
                        notify_state(link, FALSE);
        }
        if (func)
                func(link, link->stopped_data);
        return G_SOURCE_REMOVE;
}

void mqtt_link_stop(MqttLink *link, MqttLinkStoppedFunc func, gpointer user_data) {
        g_autofree char *offline = NULL;
        int rc = MOSQ_ERR_NO_CONN;

        g_return_if_fail(!link->stopping);
        link->stopping = TRUE;
        link->stopped_func = func;
        link->stopped_data = user_data;
        g_clear_handle_id(&link->retry_source, g_source_remove);
        if (link->connecting)
                link->connecting->orphaned = TRUE;
        link->connecting = NULL;

        if (link->connected && !link->lost) {
                offline = status_payload("offline", link->incarnation);
                rc = mosquitto_publish_v5(link->mosq, &link->offline_mid, link->status_topic, (int) strlen(offline),
                                          offline, 1, true, NULL);
        }
        if (rc == MOSQ_ERR_SUCCESS) {
                g_message("stopping: status 'offline'");
                update_write_watch(link);
                link->stop_source = g_timeout_add(STOP_WAIT_MSEC, finish_stop, link);
        } else
                link->stop_source = g_idle_add(finish_stop, link);
}
