/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Topics and payloads: the sender's topic level, message ids and times, the cloud message in
 * both formats, action requests (JSON, the wire encoding, hostile input) and outcomes. */

#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "payload.h"
#include "wire.h"

static GVariant *value_set(const char *text) {
        g_autoptr(GError) error = NULL;
        GVariant *v = g_variant_parse(G_VARIANT_TYPE_VARDICT, text, NULL, NULL, &error);

        g_assert_no_error(error);
        return g_variant_ref_sink(v);
}

static char *text_of(GBytes *bytes) {
        return g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
}

static void test_sender(void) {
        const struct {
                const char *caller;
                const char *expected;
        } cases[] = {
                { "{'uid': <@u 1000>, 'service': <'com.example.sensor'>, 'app-id': <'x'>}", "com.example.sensor" },
                { "{'uid': <@u 1000>, 'app-id': <'org.gnome.Foo'>}", "@org.gnome.Foo" },
                { "{'uid': <@u 1000>, 'app-id': <'a/b+c#d'>}", "@a_b_c_d" },
                { "{'uid': <@u 1000>, 'app-id': <''>}", "@uid-1000" },
                { "{'uid': <@u 0>}", "@uid-0" },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GVariant) caller = value_set(cases[i].caller);
                g_autofree char *sender = payload_sender_of_caller(caller);

                g_assert_cmpstr(sender, ==, cases[i].expected);
                g_assert_true(payload_topic_segment_is_valid(sender));
        }
        g_assert_false(payload_topic_segment_is_valid(""));
        g_assert_false(payload_topic_segment_is_valid("a/b"));
        g_assert_false(payload_topic_segment_is_valid("+"));
        g_assert_false(payload_topic_segment_is_valid("#"));
        g_assert_false(payload_topic_segment_is_valid("a\nb"));
}

static void test_id_and_time(void) {
        g_autofree char *id = payload_message_id("node-a", "5f0c", 42);
        g_autoptr(GTimeZone) zone = g_time_zone_new_offset(3600);
        g_autoptr(GDateTime) t = g_date_time_new(zone, 2026, 12, 4, 15, 0, 0.123456);
        g_autofree char *text = payload_format_time(t);

        g_assert_cmpstr(id, ==, "node-a:5f0c:42");
        g_assert_cmpstr(text, ==, "2026-12-04T14:00:00.123456Z");
}

static void test_cloud_json(void) {
        g_autoptr(GVariant) message = value_set("{'Temperature': <21.5>, 'Unit': <'C'>, 'n': <@u 7>}");
        g_autoptr(SpoolMessage) m = payload_cloud_message("appservice", "node-a", "com.example.sensor", "node-a:5f:42",
                                                          "2026-12-04T14:00:00.123456Z", message, FALSE);
        g_autofree char *json = text_of(m->payload);
        g_autoptr(JsonParser) parser = json_parser_new();
        JsonObject *root;

        g_assert_cmpstr(m->topic, ==, "appservice/node-a/messages/com.example.sensor");
        g_assert_cmpstr(m->content_type, ==, "application/json");
        g_assert_cmpstrv(m->user_properties, ((const char *[]){ "message-id", "node-a:5f:42", NULL }));
        g_assert_cmpstr(json, ==,
                        "{\"id\":\"node-a:5f:42\",\"node\":\"node-a\",\"service\":\"com.example.sensor\","
                        "\"time\":\"2026-12-04T14:00:00.123456Z\",\"message\":{\"Temperature\":{\"@d\":21.5},"
                        "\"Unit\":\"C\",\"n\":{\"@u\":7}}}");
        /* Any JSON parser reads it. */
        g_assert_true(json_parser_load_from_data(parser, json, -1, NULL));
        root = json_node_get_object(json_parser_get_root(parser));
        g_assert_cmpstr(json_object_get_string_member(root, "node"), ==, "node-a");
}

static void test_cloud_gvariant(void) {
        g_autoptr(GVariant) message = value_set("{'Temperature': <21.5>}");
        g_autoptr(SpoolMessage) m = payload_cloud_message("p/q", "node-a", "@uid-0", "id1", "T", message, TRUE);
        g_autoptr(GVariant) back = NULL;
        g_autoptr(GError) error = NULL;

        g_assert_cmpstr(m->topic, ==, "p/q/node-a/messages/@uid-0");
        g_assert_cmpstr(m->content_type, ==, PAYLOAD_CONTENT_TYPE_VALUESET);
        g_assert_cmpstrv(m->user_properties, ((const char *[]){ "message-id", "id1", "id", "id1", "node", "node-a",
                                                                "service", "@uid-0", "time", "T", NULL }));
        back = wire_value_set_decode(g_bytes_get_data(m->payload, NULL), g_bytes_get_size(m->payload), 1 << 20, &error);
        g_assert_no_error(error);
        g_assert_true(g_variant_equal(back, message));
}

static void test_action_json(void) {
        const char *text = "{\"Action\":\"set\",\"Level\":{\"@u\":3},\"plain\":5,\"list\":[1,\"a\"]}";
        g_autoptr(GVariant) message = NULL;
        g_autofree char *action = NULL;
        g_autoptr(GError) error = NULL;
        const char *name = NULL;
        guint32 level;
        gint64 plain;

        g_assert_true(payload_parse_action(NULL, text, strlen(text), 1024, NULL, &message, &action, &name, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(action, ==, "set");
        g_assert_true(g_variant_lookup(message, "Level", "u", &level));
        g_assert_cmpuint(level, ==, 3);
        g_assert_true(g_variant_lookup(message, "plain", "x", &plain));
        g_assert_cmpint(plain, ==, 5);
        g_clear_pointer(&message, g_variant_unref);
        g_clear_pointer(&action, g_free);

        /* The user property wins over the payload's "Action". */
        g_assert_true(payload_parse_action("application/json", text, strlen(text), 1024, "other", &message, &action,
                                           &name, &error));
        g_assert_cmpstr(action, ==, "other");
}

static void test_action_wire(void) {
        g_autoptr(GVariant) sent = value_set("{'Action': <'go'>, 'bytes': <@ay [1, 2, 3]>}");
        g_autoptr(GBytes) bytes = wire_value_encode(sent);
        g_autoptr(GVariant) message = NULL;
        g_autofree char *action = NULL;
        g_autoptr(GError) error = NULL;
        const char *name = NULL;

        g_assert_true(payload_parse_action(PAYLOAD_CONTENT_TYPE_VALUESET, g_bytes_get_data(bytes, NULL),
                                           g_bytes_get_size(bytes), 1024, NULL, &message, &action, &name, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(action, ==, "go");
        g_assert_true(g_variant_equal(message, sent));
}

static void test_action_bad(void) {
        const struct {
                const char *content_type;
                const char *text;
                const char *error_name;
        } bad[] = {
                { NULL, "not json", "io.appservice1.Error.InvalidMessage" },
                { NULL, "[1,2]", "io.appservice1.Error.InvalidMessage" },
                { NULL, "{\"x\":1}", "io.appservice1.Error.InvalidMessage" },  /* no action */
                { NULL, "{\"Action\":\"\"}", "io.appservice1.Error.InvalidMessage" },
                { NULL, "{\"Action\":\"a\",\"\":1}", "io.appservice1.Error.InvalidMessage" }, /* empty key */
                { NULL, "{\"Action\":\"a\",\"h\":{\"@h\":1}}", "io.appservice1.Error.InvalidMessage" },
                { "text/plain", "{\"Action\":\"a\"}", "io.appservice1.Error.InvalidMessage" },
                { PAYLOAD_CONTENT_TYPE_VALUESET, "garbage", "io.appservice1.Error.InvalidMessage" },
                { NULL, "{\"Action\":\"a\",\"pad\":\"..........................................\"}",
                  "io.appservice1.Error.MessageSizeTooLarge" },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GVariant) message = NULL;
                g_autofree char *action = NULL;
                g_autoptr(GError) error = NULL;
                const char *name = NULL;

                g_assert_false(payload_parse_action(bad[i].content_type, bad[i].text, strlen(bad[i].text), 48, NULL,
                                                    &message, &action, &name, &error));
                g_test_message("%s -> %s: %s", bad[i].text, name, error->message);
                g_assert_cmpstr(name, ==, bad[i].error_name);
                g_assert_null(message);
        }
}

static void test_outcome(void) {
        g_autoptr(GVariant) response = value_set("{'Result': <'done'>}");
        g_autoptr(GBytes) ok = payload_action_outcome(response, NULL, NULL, FALSE);
        g_autoptr(GBytes) failed = payload_action_outcome(NULL, "io.appservice1.Error.NotAuthorized", "no \"way\"", FALSE);
        g_autoptr(GBytes) wire = payload_action_outcome(response, NULL, NULL, TRUE);
        g_autofree char *ok_text = text_of(ok), *failed_text = text_of(failed);
        g_autoptr(GVariant) back = NULL;
        const char *status;

        g_assert_cmpstr(ok_text, ==, "{\"status\":\"ok\",\"response\":{\"Result\":\"done\"}}");
        g_assert_cmpstr(failed_text, ==,
                        "{\"status\":\"error\",\"error\":\"io.appservice1.Error.NotAuthorized\",\"message\":\"no \\\"way\\\"\"}");
        back = wire_value_set_decode(g_bytes_get_data(wire, NULL), g_bytes_get_size(wire), 1024, NULL);
        g_assert_nonnull(back);
        g_assert_true(g_variant_lookup(back, "status", "&s", &status));
        g_assert_cmpstr(status, ==, "ok");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/mqtt/payload/sender", test_sender);
        g_test_add_func("/mqtt/payload/id-and-time", test_id_and_time);
        g_test_add_func("/mqtt/payload/cloud-json", test_cloud_json);
        g_test_add_func("/mqtt/payload/cloud-gvariant", test_cloud_gvariant);
        g_test_add_func("/mqtt/payload/action-json", test_action_json);
        g_test_add_func("/mqtt/payload/action-wire", test_action_wire);
        g_test_add_func("/mqtt/payload/action-bad", test_action_bad);
        g_test_add_func("/mqtt/payload/outcome", test_outcome);
        return g_test_run();
}
