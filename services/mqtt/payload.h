/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the bridge publishes and reads, as bytes and topics (README.md): cloud messages, action
 * outcomes, the ValueSet wire encoding (application/x-appservice-valueset). Pure functions, no
 * bus, no network: the unit tests call them directly. */

#include <glib.h>

#include "spool.h"

#define PAYLOAD_CONTENT_TYPE_JSON "application/json"
#define PAYLOAD_CONTENT_TYPE_VALUESET "application/x-appservice-valueset"

/* Whether `segment` may be one topic level: 1-255 bytes of UTF-8, no '/', '+', '#', no control
 * characters. */
gboolean payload_topic_segment_is_valid(const char *segment);

/* The `<service>` of a cloud message from the caller a{sv} the broker gave the connection: its
 * "service" (the SubmitAction sender's app service), else "@<app-id>", else "@uid-<uid>". A
 * character that cannot be in a topic level becomes '_'. */
char *payload_sender_of_caller(GVariant *caller);

/* `<node>:<spool id>:<seq>` */
char *payload_message_id(const char *node, const char *spool_id, guint64 seq);
/* RFC 3339, UTC, microseconds: 2026-12-04T14:00:00.123456Z */
char *payload_format_time(GDateTime *time);

/* The cloud message, as spooled and published: to `<prefix>/<node>/messages/<service>`, with the
 * user property message-id (and, in the gvariant format, node, service and time), the content
 * type, and the payload: the JSON document {"id","node","service","time","message"}, or the
 * ValueSet in the wire encoding. */
SpoolMessage *payload_cloud_message(const char *prefix, const char *node, const char *service, const char *id,
                                    const char *time, GVariant *message, gboolean gvariant_format);

/* An action's outcome: {"status":"ok","response":{...}} or
 * {"status":"error","error":NAME,"message":TEXT}, as JSON or in the wire encoding (an a{sv} with
 * the same keys). `response` is NULL for an error. */
GBytes *payload_action_outcome(GVariant *response, const char *error_name, const char *error_message,
                               gboolean wire_format);

/* The action's request: its ValueSet from the payload (JSON unless `content_type` is the
 * ValueSet's), and the action from `action_property` or else the payload's "Action" string. On
 * failure, an io.appservice1.Error name (*ret_error_name, static) and a GError with the reason. */
gboolean payload_parse_action(const char *content_type, const void *data, gsize size, gsize max_size,
                              const char *action_property, GVariant **ret_message, char **ret_action,
                              const char **ret_error_name, GError **error);
