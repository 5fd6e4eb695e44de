/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Publishing the spool. `send_from` is the lowest sequence number not published on this
 * connection yet; sequence numbers only grow, so new messages are found from it. Each publish in
 * flight maps its MQTT message id to its sequence number; a lost connection forgets them all and
 * the next one starts again from the spool's first message. A message that can never be published
 * (unreadable, or larger than the MQTT broker's maximum packet size) is moved aside by the spool
 * (spool_reject()), never dropped: it would hold up everything after it. */

#include <gio/gio.h>
#include <mqtt_protocol.h>

#include "outbox.h"

struct Outbox {
        Spool *spool;
        MqttLink *link;
        OutboxAckedFunc acked;
        gpointer acked_data;
        guint64 send_from;
        GHashTable *in_flight; /* mid (int) → seq (guint64 *) */
        GArray *refused;       /* guint64: refused by the MQTT broker, to try again */
        guint retry_source;
};

static gboolean publish_one(Outbox *o, guint64 seq) {
        g_autoptr(GError) error = NULL;
        g_autoptr(SpoolMessage) m = spool_read(o->spool, seq, &error);
        mosquitto_property *props = NULL;
        gconstpointer data;
        gsize size;
        guint64 packet_size, max;
        int mid;
        gboolean ok;

        if (!m) {
                if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
                        return TRUE; /* not in the spool (any more) */
                g_autofree char *why = g_strdup_printf("it cannot be read: %s", error->message);

                spool_reject(o->spool, seq, why);
                return TRUE;
        }
        packet_size = outbox_publish_size(m);
        max = mqtt_link_get_max_packet_size(o->link);
        if (max && packet_size > max) {
                g_autofree char *why = g_strdup_printf(
                        "to '%s', it would be a %" G_GUINT64_FORMAT "-byte MQTT publish, over the MQTT broker's maximum "
                        "packet size of %" G_GUINT64_FORMAT " bytes",
                        m->topic, packet_size, max);

                spool_reject(o->spool, seq, why);
                return TRUE;
        }
        if (m->content_type)
                mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, m->content_type);
        for (char **p = m->user_properties; p && p[0] && p[1]; p += 2)
                mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, p[0], p[1]);
        data = g_bytes_get_data(m->payload, &size);
        ok = mqtt_link_publish(o->link, m->topic, data, size, props, &mid, &error);
        mosquitto_property_free_all(&props);
        if (ok) {
                guint64 *value = g_new(guint64, 1);

                *value = seq;
                g_hash_table_insert(o->in_flight, GINT_TO_POINTER(mid), value);
                return TRUE;
        }
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE) ||
            g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT)) {
                /* It can never go out; keeping it would hold up everything after it. */
                g_autofree char *why = g_strdup_printf("it cannot be published: %s", error->message);

                spool_reject(o->spool, seq, why);
                return TRUE;
        }
        g_debug("spooled message %" G_GUINT64_FORMAT " waits for the link: %s", seq, error->message);
        return FALSE; /* the link is going down; its coming back starts over */
}

guint64 outbox_publish_size(const SpoolMessage *m) {
        return mqtt_link_publish_packet_size(m->topic, g_bytes_get_size(m->payload), m->content_type,
                                             m->user_properties);
}

void outbox_kick(Outbox *o) {
        if (!mqtt_link_is_connected(o->link))
                return;
        while (g_hash_table_size(o->in_flight) < OUTBOX_IN_FLIGHT_MAX) {
                guint64 seq = spool_find_from(o->spool, o->send_from);

                if (!seq)
                        return;
                o->send_from = seq + 1;
                if (!publish_one(o, seq))
                        return;
        }
}

static gboolean on_retry_refused(gpointer user_data) {
        Outbox *o = user_data;
        g_autoptr(GArray) refused = o->refused;

        o->retry_source = 0;
        o->refused = g_array_new(FALSE, FALSE, sizeof(guint64));
        if (!mqtt_link_is_connected(o->link))
                return G_SOURCE_REMOVE; /* the reconnect sends everything again */
        for (guint i = 0; i < refused->len; i++)
                if (!publish_one(o, g_array_index(refused, guint64, i)))
                        break;
        return G_SOURCE_REMOVE;
}

static void on_published(MqttLink *link, int mid, int reason_code, gpointer user_data) {
        Outbox *o = user_data;
        guint64 *value = g_hash_table_lookup(o->in_flight, GINT_TO_POINTER(mid));
        guint64 seq;

        if (!value)
                return; /* not ours (the status), or of a connection gone meanwhile */
        seq = *value;
        g_hash_table_remove(o->in_flight, GINT_TO_POINTER(mid));
        if (reason_code < 0x80) {
                spool_remove(o->spool, seq);
                if (o->acked)
                        o->acked(seq, o->acked_data);
        } else {
                g_warning("the MQTT broker refused spooled message %" G_GUINT64_FORMAT ": %s (0x%02x); it stays in "
                          "the spool and is tried again in %d s",
                          seq, mosquitto_reason_string(reason_code) ? mosquitto_reason_string(reason_code) : "?",
                          reason_code, OUTBOX_RETRY_REFUSED_SEC);
                g_array_append_val(o->refused, seq);
                if (!o->retry_source)
                        o->retry_source = g_timeout_add_seconds(OUTBOX_RETRY_REFUSED_SEC, on_retry_refused, o);
        }
        outbox_kick(o);
}

static void on_state(MqttLink *link, gboolean connected, gpointer user_data) {
        Outbox *o = user_data;

        /* Whatever was in flight is unknown now: all of it goes again, in order. */
        g_hash_table_remove_all(o->in_flight);
        g_array_set_size(o->refused, 0);
        g_clear_handle_id(&o->retry_source, g_source_remove);
        o->send_from = 0;
        if (connected) {
                if (spool_get_length(o->spool) > 0)
                        g_message("publishing the %u spooled message(s)", spool_get_length(o->spool));
                outbox_kick(o);
        }
}

Outbox *outbox_new(Spool *spool, MqttLink *link, OutboxAckedFunc acked, gpointer user_data) {
        Outbox *o = g_new0(Outbox, 1);

        o->spool = spool;
        o->link = link;
        o->acked = acked;
        o->acked_data = user_data;
        o->in_flight = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        o->refused = g_array_new(FALSE, FALSE, sizeof(guint64));
        mqtt_link_add_state_handler(link, on_state, o);
        mqtt_link_add_published_handler(link, on_published, o);
        return o;
}

void outbox_free(Outbox *o) {
        if (!o)
                return;
        /* The link's handlers point at us: the link goes first (main.c frees it before). */
        g_clear_handle_id(&o->retry_source, g_source_remove);
        g_hash_table_unref(o->in_flight);
        g_array_unref(o->refused);
        g_free(o);
}
