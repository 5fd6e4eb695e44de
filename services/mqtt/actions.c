/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Actions from the cloud. Everything that comes from the network is checked before it reaches the
 * bus: the topic's service name, the size, the payload (payload.c), the action; at most
 * ACTIONS_IN_FLIGHT_MAX wait for the broker at once. */

#include <string.h>

#include <mqtt_protocol.h>

#include "actions.h"
#include "payload.h"

#define BROKER_NAME "io.appservice1"
#define MANAGER_PATH "/io/appservice1"
#define MANAGER_IFACE "io.appservice1.Manager"
#define ERROR_RESOURCE_LIMITS "io.appservice1.Error.ResourceLimitsExceeded"
#define ERROR_INVALID_MESSAGE "io.appservice1.Error.InvalidMessage"
#define ERROR_UNAVAILABLE "io.appservice1.Error.AppServiceUnavailable"

struct Actions {
        AppServiceProvider *provider;
        MqttLink *link;
        const BridgeConfig *config;
        char *filter;
        gsize topic_prefix_length; /* of "<prefix>/<node>/actions/" */
        guint in_flight;
        GCancellable *cancellable;
};

/* One action on its way through the broker. */
typedef struct {
        Actions *actions;
        char *service;
        char *action;
        char *response_topic; /* NULL: the outcome is only logged */
        GBytes *correlation;
        gboolean wire_format;
} Action;

static void action_free(Action *a) {
        g_free(a->service);
        g_free(a->action);
        g_free(a->response_topic);
        g_clear_pointer(&a->correlation, g_bytes_unref);
        g_free(a);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Action, action_free)

/* A service name as the broker takes it: 2-255 letters, digits, '.', '-', '_', not starting with
 * '.' (the broker checks it again; this keeps anything else off the bus). */
static gboolean service_name_is_valid(const char *name) {
        gsize n = strlen(name);

        if (n < 2 || n > 255 || name[0] == '.')
                return FALSE;
        return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
}

static void publish_outcome(Action *a, GVariant *response, const char *error_name, const char *error_message) {
        g_autoptr(GBytes) payload = NULL;
        g_autoptr(GError) error = NULL;
        mosquitto_property *props = NULL;
        gconstpointer data;
        gsize size;

        if (response)
                g_message("action '%s' for '%s' from the cloud: ok", a->action, a->service);
        else
                g_message("action '%s' for '%s' from the cloud: %s: %s", a->action ? a->action : "?", a->service,
                          error_name, error_message);
        if (!a->response_topic)
                return;
        payload = payload_action_outcome(response, error_name, error_message, a->wire_format);
        mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE,
                                      a->wire_format ? PAYLOAD_CONTENT_TYPE_VALUESET : PAYLOAD_CONTENT_TYPE_JSON);
        if (a->correlation) {
                data = g_bytes_get_data(a->correlation, &size);
                mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, data, (uint16_t) size);
        }
        data = g_bytes_get_data(payload, &size);
        if (!mqtt_link_publish(a->actions->link, a->response_topic, data, size, props, NULL, &error))
                g_message("the outcome of action '%s' for '%s' is lost: %s", a->action ? a->action : "?", a->service,
                          error->message);
        mosquitto_property_free_all(&props);
}

/* "NAME: message" of SubmitAction's failures. */
static void split_failure(const char *failure, char **ret_name, char **ret_message) {
        const char *colon = strstr(failure, ": ");

        *ret_name = colon ? g_strndup(failure, colon - failure) : g_strdup(failure);
        *ret_message = g_strdup(colon ? colon + 2 : "");
}

static void on_submitted(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(Action) a = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = NULL, responses = NULL, failures = NULL, response = NULL;
        const char *failure;

        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return; /* the bridge is stopping: `a->actions` is gone */
        a->actions->in_flight--;
        if (!reply) {
                g_autofree char *name = g_dbus_error_get_remote_error(error);

                g_dbus_error_strip_remote_error(error);
                publish_outcome(a, NULL, name ? name : ERROR_UNAVAILABLE, error->message);
                return;
        }
        g_variant_get(reply, "(@a{sv}@a{ss})", &responses, &failures);
        response = g_variant_lookup_value(responses, a->service, G_VARIANT_TYPE_VARDICT);
        if (response) {
                publish_outcome(a, response, NULL, NULL);
        } else if (g_variant_lookup(failures, a->service, "&s", &failure)) {
                g_autofree char *name = NULL, *message = NULL;

                split_failure(failure, &name, &message);
                publish_outcome(a, NULL, name, message);
        } else
                publish_outcome(a, NULL, ERROR_UNAVAILABLE, "no answer from the app service");
}

/* The properties we read: response topic, correlation data, content type, the user property
 * "action" (the first one). */
static void read_properties(const mosquitto_property *props, char **ret_response_topic, GBytes **ret_correlation,
                            char **ret_content_type, char **ret_action) {
        const mosquitto_property *p;
        void *data = NULL;
        uint16_t size = 0;

        mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, ret_response_topic, false);
        if (mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &data, &size, false))
                *ret_correlation = g_bytes_new_take(data, size);
        mosquitto_property_read_string(props, MQTT_PROP_CONTENT_TYPE, ret_content_type, false);
        for (p = props; p; p = mosquitto_property_next(p)) {
                char *name = NULL, *value = NULL;

                if (mosquitto_property_identifier(p) != MQTT_PROP_USER_PROPERTY)
                        continue;
                if (mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value, false) &&
                    g_str_equal(name, "action") && !*ret_action) {
                        *ret_action = value;
                        value = NULL;
                }
                free(name);
                free(value);
        }
}

static void on_action_message(MqttLink *link, const char *topic, const void *payload, gsize size,
                              const mosquitto_property *props, gpointer user_data) {
        Actions *actions = user_data;
        g_autoptr(Action) a = g_new0(Action, 1);
        g_autoptr(GVariant) message = NULL;
        g_autoptr(GError) error = NULL;
        char *response_topic = NULL, *content_type = NULL, *action_property = NULL;
        const char *error_name = NULL;
        GVariantBuilder remote;
        GVariant *parameters;

        a->actions = actions;
        read_properties(props, &response_topic, &a->correlation, &content_type, &action_property);
        if (response_topic) {
                if (mosquitto_pub_topic_check(response_topic) == MOSQ_ERR_SUCCESS)
                        a->response_topic = g_strdup(response_topic);
                else
                        g_message("an action's response topic '%s' is not a topic one may publish to, ignoring it",
                                  response_topic);
        }
        a->wire_format = content_type && g_str_equal(content_type, PAYLOAD_CONTENT_TYPE_VALUESET);
        a->service = g_strdup(topic + actions->topic_prefix_length);

        if (!service_name_is_valid(a->service)) {
                g_autofree char *shown = g_strescape(a->service, NULL);

                g_free(a->service);
                a->service = g_steal_pointer(&shown);
                publish_outcome(a, NULL, ERROR_INVALID_MESSAGE, "the topic's last level is not an app service name");
        } else if (actions->in_flight >= ACTIONS_IN_FLIGHT_MAX) {
                publish_outcome(a, NULL, ERROR_RESOURCE_LIMITS, "too many actions from the cloud in flight on this node");
        } else if (!payload_parse_action(content_type, payload, size, actions->config->max_frame_size, action_property,
                                         &message, &a->action, &error_name, &error)) {
                publish_outcome(a, NULL, error_name, error->message);
        } else {
                g_variant_builder_init(&remote, G_VARIANT_TYPE_VARDICT);
                g_variant_builder_add(&remote, "{sv}", "principal", g_variant_new_string("cloud"));
                parameters = g_variant_new("(ss@a{sv}a{sv})", a->service, a->action, message, &remote);

                actions->in_flight++;
                g_dbus_connection_call(app_service_provider_get_bus(actions->provider), BROKER_NAME, MANAGER_PATH,
                                       MANAGER_IFACE, "SubmitRemoteAction",
                                       parameters,
                                       G_VARIANT_TYPE("(a{sv}a{ss})"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
                                       G_MAXINT, /* the broker's RequestTimeoutSec bounds it */
                                       actions->cancellable, on_submitted, g_steal_pointer(&a));
        }
        free(response_topic);
        free(content_type);
        free(action_property);
}

Actions *actions_new(AppServiceProvider *provider, MqttLink *link, const BridgeConfig *config) {
        Actions *actions = g_new0(Actions, 1);

        actions->provider = provider;
        actions->link = link;
        actions->config = config;
        actions->cancellable = g_cancellable_new();
        actions->filter = g_strdup_printf("%s/%s/actions/+", mqtt_link_get_prefix(link), mqtt_link_get_node(link));
        actions->topic_prefix_length = strlen(actions->filter) - 1;
        mqtt_link_subscribe(link, actions->filter, on_action_message, actions);
        return actions;
}

void actions_free(Actions *actions) {
        if (!actions)
                return;
        g_cancellable_cancel(actions->cancellable);
        g_object_unref(actions->cancellable);
        g_free(actions->filter);
        g_free(actions);
}
