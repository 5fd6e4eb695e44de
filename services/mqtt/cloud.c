/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* io.appservice.cloud: a request's ValueSet becomes a cloud message (payload.c), written to the
 * spool before the sender hears anything; the answer is "delivered" when the PUBACK comes within
 * DeliveryWaitSec, "queued" otherwise. A full spool fails the request with
 * ResourceLimitsExceeded (Connection.FailRequest); a message whose publish would be over the MQTT
 * broker's maximum packet size (as its last CONNACK told) with MessageSizeTooLarge, unspooled. */

#include "cloud.h"
#include "outbox.h"
#include "payload.h"

#define BROKER_NAME "io.appservice1"
#define CONNECTION_IFACE "io.appservice1.Connection"
#define ERROR_RESOURCE_LIMITS "io.appservice1.Error.ResourceLimitsExceeded"
#define ERROR_TOO_LARGE "io.appservice1.Error.MessageSizeTooLarge"
#define ERROR_APP_UNAVAILABLE "io.appservice1.Error.AppUnavailable"

struct Cloud {
        AppServiceProvider *provider;
        MqttLink *link;
        Spool *spool;
        const BridgeConfig *config;
        Outbox *outbox;
        GHashTable *waiting; /* seq (guint64 *) → Waiting *: answered at the PUBACK or the deadline */
};

typedef struct {
        guint64 seq;
        char *id;
        AppServiceRequest *request;
        guint timer;
        Cloud *cloud;
} Waiting;

static void waiting_free(gpointer p) {
        Waiting *w = p;

        g_clear_handle_id(&w->timer, g_source_remove);
        g_object_unref(w->request);
        g_free(w->id);
        g_free(w);
}

static void on_response_sent(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;

        if (app_service_request_send_response_finish(APP_SERVICE_REQUEST(source), result, &error) !=
            APP_SERVICE_RESPONSE_STATUS_SUCCESS)
                g_debug("a sender did not get its answer (the message is spooled all the same): %s",
                        error ? error->message : "no reason given");
}

static void answer(AppServiceRequest *request, const char *status, const char *id) {
        GVariantDict dict;

        g_variant_dict_init(&dict, NULL);
        g_variant_dict_insert(&dict, "status", "s", status);
        g_variant_dict_insert(&dict, "id", "s", id);
        app_service_request_send_response(request, g_variant_dict_end(&dict), /* cancellable= */ NULL,
                                          on_response_sent, /* user_data= */ NULL);
}

static gboolean on_delivery_deadline(gpointer user_data) {
        Waiting *w = user_data;

        w->timer = 0;
        answer(w->request, "queued", w->id);
        g_hash_table_remove(w->cloud->waiting, &w->seq);
        return G_SOURCE_REMOVE;
}

static void on_acked(guint64 seq, gpointer user_data) {
        Cloud *c = user_data;
        Waiting *w = g_hash_table_lookup(c->waiting, &seq);

        if (!w)
                return;
        answer(w->request, "delivered", w->id);
        g_hash_table_remove(c->waiting, &seq);
}

static void on_request_failed(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(AppServiceRequest) request = user_data;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GError) error = NULL;

        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        if (!reply)
                g_message("request %" G_GUINT64_FORMAT ": FailRequest did not go through, ignoring: %s",
                          app_service_request_get_id(request), error->message);
}

void cloud_fail_request(GDBusConnection *bus, AppServiceConnection *connection, AppServiceRequest *request,
                        const char *error_name, const char *message) {
        g_dbus_connection_call(bus, BROKER_NAME, app_service_connection_get_object_path(connection), CONNECTION_IFACE,
                               "FailRequest",
                               g_variant_new("(tss)", app_service_request_get_id(request), error_name, message),
                               NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, /* cancellable= */ NULL, on_request_failed,
                               g_object_ref(request));
}

static void on_request_received(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        Cloud *c = user_data;
        g_autofree char *service = payload_sender_of_caller(app_service_connection_get_caller(connection));
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autofree char *time = payload_format_time(now);
        g_autofree char *id = NULL;
        g_autoptr(SpoolMessage) m = NULL;
        g_autoptr(GError) error = NULL;
        guint64 seq, packet_size, max;
        Waiting *w;

        id = payload_message_id(mqtt_link_get_node(c->link), spool_get_id(c->spool), spool_get_next_seq(c->spool));
        m = payload_cloud_message(mqtt_link_get_prefix(c->link), mqtt_link_get_node(c->link), service, id, time,
                                  app_service_request_get_message(request), c->config->cloud_gvariant);
        /* What cannot go out is refused at the door, not spooled to be moved aside later. */
        packet_size = outbox_publish_size(m);
        max = mqtt_link_get_max_packet_size(c->link);
        if (max && packet_size > max) {
                g_autofree char *why = g_strdup_printf(
                        "the message would be a %" G_GUINT64_FORMAT "-byte MQTT publish, over the MQTT broker's "
                        "maximum packet size of %" G_GUINT64_FORMAT " bytes",
                        packet_size, max);

                g_message("a message from '%s' was refused: %s", service, why);
                cloud_fail_request(app_service_provider_get_bus(c->provider), connection, request, ERROR_TOO_LARGE,
                                   why);
                return;
        }
        if (!spool_add(c->spool, m, &seq, &error)) {
                gboolean full = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);

                g_warning("a message from '%s' was refused: %s", service, error->message);
                cloud_fail_request(app_service_provider_get_bus(c->provider), connection, request,
                                   full ? ERROR_RESOURCE_LIMITS : ERROR_APP_UNAVAILABLE, error->message);
                return;
        }
        g_debug("message %s from '%s' spooled", id, service);
        if (c->config->delivery_wait_msec == 0) {
                answer(request, "queued", id);
                outbox_kick(c->outbox);
                return;
        }
        w = g_new0(Waiting, 1);
        w->seq = seq;
        w->id = g_steal_pointer(&id);
        w->request = g_object_ref(request);
        w->cloud = c;
        w->timer = g_timeout_add(c->config->delivery_wait_msec, on_delivery_deadline, w);
        g_hash_table_insert(c->waiting, &w->seq, w);
        outbox_kick(c->outbox);
}

static void on_is_open_changed(GObject *object, GParamSpec *pspec, gpointer user_data) {
        AppServiceConnection *connection = APP_SERVICE_CONNECTION(object);

        if (app_service_connection_get_is_open(connection))
                return;
        g_signal_handlers_disconnect_by_data(connection, user_data);
}

void cloud_handle_connection(Cloud *c, AppServiceConnection *connection, GVariant *caller) {
        g_signal_connect(connection, "request-received", G_CALLBACK(on_request_received), c);
        g_signal_connect(connection, "notify::is-open", G_CALLBACK(on_is_open_changed), c);
}

Cloud *cloud_new(AppServiceProvider *provider, MqttLink *link, Spool *spool, const BridgeConfig *config) {
        Cloud *c = g_new0(Cloud, 1);
        guint64 held_bytes;
        guint held;

        c->provider = provider;
        c->link = link;
        c->spool = spool;
        c->config = config;
        c->waiting = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, waiting_free);
        c->outbox = outbox_new(spool, link, on_acked, c);
        if (spool_get_length(spool) > 0)
                g_message("spool '%s' (id %s): %u message(s) waiting, %" G_GUINT64_FORMAT " bytes",
                          config->spool_dir, spool_get_id(spool), spool_get_length(spool), spool_get_bytes(spool));
        held = spool_get_held(spool, &held_bytes);
        if (held > 0)
                g_warning("spool '%s': %u rejected or corrupt file(s) held (*.rejected, *.corrupt), %" G_GUINT64_FORMAT
                          " bytes, counted in Spool.MaxMessages and Spool.MaxBytes until deleted",
                          config->spool_dir, held, held_bytes);
        return c;
}

void cloud_free(Cloud *c) {
        if (!c)
                return;
        /* Senders still waiting hear "queued": their messages are safe in the spool. */
        {
                GHashTableIter iter;
                gpointer value;

                g_hash_table_iter_init(&iter, c->waiting);
                while (g_hash_table_iter_next(&iter, NULL, &value)) {
                        Waiting *w = value;

                        answer(w->request, "queued", w->id);
                }
        }
        g_hash_table_unref(c->waiting);
        outbox_free(c->outbox);
        g_free(c);
}
