/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The bridge's one MQTT 5 connection (libmosquitto driven from the GLib main loop, no thread):
 * connects, reconnects with a back-off, keeps the node's retained status and will, and hands
 * each received message to the handler whose subscription matches its topic. */

#include <glib.h>
#include <mosquitto.h>

#include "config.h"

typedef struct MqttLink MqttLink;

/* A received message. `props` are its MQTT 5 properties (response topic, correlation data, user
 * properties, content type), valid only during the call. */
typedef void (*MqttLinkMessageFunc)(MqttLink *link, const char *topic, const void *payload, gsize size,
                                    const mosquitto_property *props, gpointer user_data);
/* The link came up (connected TRUE, after the CONNACK and the subscriptions) or went down. */
typedef void (*MqttLinkStateFunc)(MqttLink *link, gboolean connected, gpointer user_data);
/* The broker acknowledged (PUBACK) message `mid` of a QoS 1 publish; `reason_code` is MQTT 5's
 * (0 or 16 is success; >= 0x80 a refusal, e.g. 0x87 not authorized). */
typedef void (*MqttLinkPublishedFunc)(MqttLink *link, int mid, int reason_code, gpointer user_data);

MqttLink *mqtt_link_new(const BridgeConfig *config, GError **error);
void mqtt_link_free(MqttLink *link);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MqttLink, mqtt_link_free)

/* Starts connecting (and keeps reconnecting until freed). */
void mqtt_link_start(MqttLink *link);
gboolean mqtt_link_is_connected(MqttLink *link);

/* What the MQTT broker's last CONNACK told (also while the link is down since): the largest MQTT
 * packet it takes, in bytes; MQTT_LINK_NO_MAX_PACKET_SIZE when it told none (MQTT's own limit);
 * 0 before the first CONNACK (not known yet). */
#define MQTT_LINK_NO_MAX_PACKET_SIZE G_MAXUINT32
guint32 mqtt_link_get_max_packet_size(MqttLink *link);
/* The size of the whole MQTT 5 PUBLISH packet (QoS 1) that mqtt_link_publish() makes of this
 * topic, payload size, content type (may be NULL) and user properties (name, value, ...; may be
 * NULL): what the MQTT broker's maximum packet size is compared with. */
guint64 mqtt_link_publish_packet_size(const char *topic, gsize payload_size, const char *content_type,
                                      char **user_properties);

/* Subscribes (QoS 1) to `filter`, now and after every reconnect; messages whose topic matches it
 * go to `func`. Call before mqtt_link_start(). */
void mqtt_link_subscribe(MqttLink *link, const char *filter, MqttLinkMessageFunc func, gpointer user_data);
/* Several handlers may be added; each is called for every state change and every PUBACK. */
void mqtt_link_add_state_handler(MqttLink *link, MqttLinkStateFunc func, gpointer user_data);
void mqtt_link_add_published_handler(MqttLink *link, MqttLinkPublishedFunc func, gpointer user_data);

/* Publishes with QoS 1 (not retained). `props` (may be NULL) are copied. Fails when the link is
 * down or the payload is over the broker's maximum packet size. *ret_mid (may be NULL) is the
 * message id that the PUBACK handler will see. */
gboolean mqtt_link_publish(MqttLink *link, const char *topic, const void *payload, gsize size,
                           const mosquitto_property *props, int *ret_mid, GError **error);

/* This node's name as the topics spell it (the client id) and the topic prefix. */
const char *mqtt_link_get_node(MqttLink *link);
const char *mqtt_link_get_prefix(MqttLink *link);

/* The random hex of this connection's retained status ({"state":"online","incarnation":...}); a
 * new one on every connect, so that other nodes see a reconnect even if they never saw the will.
 * NULL while the link is down. */
const char *mqtt_link_get_incarnation(MqttLink *link);

/* The clean stop: publishes the retained status {"state":"offline",...}, waits (at most 2 s) for
 * its PUBACK, disconnects (so that the will is not published) and calls `func` once, from the
 * main loop. The link never reconnects after this; free it after `func`. */
typedef void (*MqttLinkStoppedFunc)(MqttLink *link, gpointer user_data);
void mqtt_link_stop(MqttLink *link, MqttLinkStoppedFunc func, gpointer user_data);
