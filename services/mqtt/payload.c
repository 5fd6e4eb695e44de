/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Topics and payloads of the bridge (README.md): pure functions on strings and GVariants. The
 * typed JSON mapping is common/'s (valueset-json.h), the wire encoding wire.c's. */

#include <string.h>

#include <gio/gio.h>

#include "payload.h"
#include "valueset-json.h"
#include "wire.h"

gboolean payload_topic_segment_is_valid(const char *segment) {
        gsize n = strlen(segment);

        if (n == 0 || n > 255 || !g_utf8_validate(segment, (gssize) n, NULL))
                return FALSE;
        for (const char *p = segment; *p; p++)
                if (*p == '/' || *p == '+' || *p == '#' || (guchar) *p < 0x20 || *p == 0x7f)
                        return FALSE;
        return TRUE;
}

/* A topic level from something a local peer chose (an app id): what cannot be in one becomes
 * '_', and it is cut to 255 bytes at a character boundary. */
static char *sanitize_segment(const char *text) {
        GString *out = g_string_new(NULL);

        for (const char *p = text; *p && out->len < 250; p = g_utf8_next_char(p)) {
                gunichar c = g_utf8_get_char_validated(p, -1);

                if (c == (gunichar) -1 || c == (gunichar) -2) {
                        g_string_append_c(out, '_');
                        break;
                }
                if (c == '/' || c == '+' || c == '#' || c < 0x20 || c == 0x7f)
                        g_string_append_c(out, '_');
                else
                        g_string_append_unichar(out, c);
        }
        return g_string_free(out, FALSE);
}

char *payload_sender_of_caller(GVariant *caller) {
        const char *service = NULL, *app_id = NULL;
        guint32 uid = G_MAXUINT32;

        if (caller && g_variant_lookup(caller, "service", "&s", &service) && *service)
                return sanitize_segment(service);
        if (caller && g_variant_lookup(caller, "app-id", "&s", &app_id) && *app_id) {
                g_autofree char *clean = sanitize_segment(app_id);

                return g_strconcat("@", clean, NULL);
        }
        if (caller)
                g_variant_lookup(caller, "uid", "u", &uid);
        return g_strdup_printf("@uid-%" G_GUINT32_FORMAT, uid);
}

char *payload_message_id(const char *node, const char *spool_id, guint64 seq) {
        return g_strdup_printf("%s:%s:%" G_GUINT64_FORMAT, node, spool_id, seq);
}

char *payload_format_time(GDateTime *time) {
        g_autoptr(GDateTime) utc = g_date_time_to_utc(time);

        return g_date_time_format(utc, "%Y-%m-%dT%H:%M:%S.%fZ");
}

SpoolMessage *payload_cloud_message(const char *prefix, const char *node, const char *service, const char *id,
                                    const char *time, GVariant *message, gboolean gvariant_format) {
        SpoolMessage *m = g_new0(SpoolMessage, 1);

        m->topic = g_strdup_printf("%s/%s/messages/%s", prefix, node, service);
        if (gvariant_format) {
                m->content_type = g_strdup(PAYLOAD_CONTENT_TYPE_VALUESET);
                m->user_properties = g_strdupv((char *[]){ "message-id", (char *) id, "id", (char *) id, "node",
                                                           (char *) node, "service", (char *) service, "time",
                                                           (char *) time, NULL });
                m->payload = wire_value_encode(message);
        } else {
                GString *json = g_string_new("{\"id\":");

                valueset_json_append_string(json, id);
                g_string_append(json, ",\"node\":");
                valueset_json_append_string(json, node);
                g_string_append(json, ",\"service\":");
                valueset_json_append_string(json, service);
                g_string_append(json, ",\"time\":");
                valueset_json_append_string(json, time);
                g_string_append(json, ",\"message\":");
                valueset_json_append(json, message);
                g_string_append_c(json, '}');
                m->content_type = g_strdup(PAYLOAD_CONTENT_TYPE_JSON);
                m->user_properties = g_strdupv((char *[]){ "message-id", (char *) id, NULL });
                m->payload = g_string_free_to_bytes(json);
        }
        return m;
}

GBytes *payload_action_outcome(GVariant *response, const char *error_name, const char *error_message,
                               gboolean wire_format) {
        if (wire_format) {
                g_autoptr(GVariant) outcome = NULL;
                GVariantDict dict;

                g_variant_dict_init(&dict, NULL);
                if (response) {
                        g_variant_dict_insert(&dict, "status", "s", "ok");
                        g_variant_dict_insert_value(&dict, "response", response);
                } else {
                        g_variant_dict_insert(&dict, "status", "s", "error");
                        g_variant_dict_insert(&dict, "error", "s", error_name);
                        g_variant_dict_insert(&dict, "message", "s", error_message ? error_message : "");
                }
                outcome = g_variant_ref_sink(g_variant_dict_end(&dict));
                return wire_value_encode(outcome);
        } else {
                GString *json = g_string_new("{\"status\":");

                if (response) {
                        g_string_append(json, "\"ok\",\"response\":");
                        valueset_json_append(json, response);
                } else {
                        g_string_append(json, "\"error\",\"error\":");
                        valueset_json_append_string(json, error_name);
                        g_string_append(json, ",\"message\":");
                        valueset_json_append_string(json, error_message ? error_message : "");
                }
                g_string_append_c(json, '}');
                return g_string_free_to_bytes(json);
        }
}

gboolean payload_parse_action(const char *content_type, const void *data, gsize size, gsize max_size,
                              const char *action_property, GVariant **ret_message, char **ret_action,
                              const char **ret_error_name, GError **error) {
        g_autoptr(GVariant) message = NULL;
        g_autoptr(GError) local = NULL;
        const char *action = action_property;

        *ret_error_name = "io.appservice1.Error.InvalidMessage";
        if (size > max_size) {
                *ret_error_name = "io.appservice1.Error.MessageSizeTooLarge";
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                            "the request is %" G_GSIZE_FORMAT " bytes, more than %" G_GSIZE_FORMAT, size, max_size);
                return FALSE;
        }
        if (content_type && g_str_equal(content_type, PAYLOAD_CONTENT_TYPE_VALUESET)) {
                message = wire_value_set_decode(data, size, max_size, &local);
        } else if (!content_type || !*content_type || g_str_equal(content_type, PAYLOAD_CONTENT_TYPE_JSON) ||
                   g_str_has_prefix(content_type, PAYLOAD_CONTENT_TYPE_JSON ";")) {
                message = valueset_json_parse(data, (gssize) size, &local);
                if (message && !wire_value_set_check(message, &local))
                        g_clear_pointer(&message, g_variant_unref);
        } else {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                            "content type '%s' is neither " PAYLOAD_CONTENT_TYPE_JSON " nor " PAYLOAD_CONTENT_TYPE_VALUESET,
                            content_type);
                return FALSE;
        }
        if (!message) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the request is not a ValueSet: %s",
                            local->message);
                return FALSE;
        }
        if (!action || !*action)
                g_variant_lookup(message, "Action", "&s", &action);
        if (!action || !*action || strlen(action) > 255 || !g_utf8_validate(action, -1, NULL)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "no action: give 1-255 bytes in the user property 'action' or the string 'Action'");
                return FALSE;
        }
        *ret_action = g_strdup(action);
        *ret_message = g_steal_pointer(&message);
        return TRUE;
}
