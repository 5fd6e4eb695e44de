/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The other nodes' status (retained on `<prefix>/<node>/status`) and the link's: a node going
 * offline, or coming back as a new incarnation, or the link going down, closes the sessions with
 * it; an open that waited for a node's status goes on. */
#include <json-glib/json-glib.h>
#include <string.h>

#include "remote-private.h"

/* A status payload is a short JSON object. */
#define STATUS_PAYLOAD_MAX 1024

/* The other node a status topic `<prefix>/<node>/status` is of, or NULL (not one, or this node). */
static char *status_node(Remote *r, const char *topic) {
        const char *prefix = mqtt_link_get_prefix(r->link);
        gsize plen = strlen(prefix);
        g_autofree char *name = NULL;
        const char *rest;

        if (strncmp(topic, prefix, plen) != 0 || topic[plen] != '/' || !g_str_has_suffix(topic, "/status"))
                return NULL;
        rest = topic + plen + 1;
        name = g_strndup(rest, strlen(rest) - strlen("/status"));
        if (!remote_node_name_is_valid(name) || g_str_equal(name, r->me))
                return NULL;
        return g_steal_pointer(&name);
}

/* The status's "state" and "incarnation", pointing into *ret_parser; both NULL for an empty
 * (cleared) status. FALSE, logged, for one that is no status. */
static gboolean status_parse(const char *name, const void *payload, gsize size, JsonParser **ret_parser,
                             const char **ret_state, const char **ret_incarnation) {
        JsonObject *object;
        JsonNode *root;

        if (size == 0)
                return TRUE;
        if (size > STATUS_PAYLOAD_MAX) {
                g_message("ignoring the status of node '%s': %zu bytes", name, size);
                return FALSE;
        }
        *ret_parser = json_parser_new();
        if (!json_parser_load_from_data(*ret_parser, payload, (gssize) size, NULL) ||
            !(root = json_parser_get_root(*ret_parser)) || !JSON_NODE_HOLDS_OBJECT(root)) {
                g_message("ignoring the status of node '%s': not a JSON object", name);
                return FALSE;
        }
        object = json_node_get_object(root);
        *ret_state = json_object_get_string_member_with_default(object, "state", NULL);
        *ret_incarnation = json_object_get_string_member_with_default(object, "incarnation", "");
        return TRUE;
}

static void node_offline(Node *n) {
        if (n->online)
                g_message("node '%s' is offline", n->name);
        n->online = FALSE;
        remote_node_end_sessions(n, "the node went offline");
}

static void node_online(Node *n, const char *incarnation) {
        g_autoptr(GPtrArray) all = NULL;

        if (n->incarnation && !g_str_equal(n->incarnation, incarnation))
                remote_node_end_sessions(n, "the node's bridge connected again (a new incarnation)");
        if (!n->online)
                g_debug("node '%s' is online (incarnation %s)", n->name, incarnation);
        n->online = TRUE;
        g_free(n->incarnation);
        n->incarnation = g_strdup(incarnation);

        /* Opens that waited for this status go now. */
        all = remote_sessions_of(n->sessions);
        for (guint i = 0; i < all->len; i++) {
                Session *s = all->pdata[i];

                if (s->awaiting_status)
                        remote_open_send(s);
        }
}

static void on_status(MqttLink *link, const char *topic, const void *payload, gsize size,
                      const mosquitto_property *props, gpointer user_data) {
        Remote *r = user_data;
        g_autofree char *name = status_node(r, topic);
        g_autoptr(JsonParser) parser = NULL;
        const char *state = NULL, *incarnation = NULL;
        gboolean online;
        Node *n;

        if (!name || !status_parse(name, payload, size, &parser, &state, &incarnation))
                return;
        online = g_strcmp0(state, "online") == 0;
        n = remote_node_get(r, name, online);
        if (!n)
                return;
        n->status_known = TRUE;
        if (online)
                node_online(n, incarnation);
        else
                node_offline(n);
}

static void on_link_state(MqttLink *link, gboolean connected, gpointer user_data) {
        Remote *r = user_data;
        GHashTableIter iter;
        gpointer value;

        if (connected) {
                r->connected_at = g_get_monotonic_time();
                return;
        }
        r->connected_at = 0;
        /* Every other node's status is unknown until the retained ones come again. */
        g_hash_table_iter_init(&iter, r->nodes);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                Node *n = value;

                n->online = FALSE;
                n->status_known = FALSE;
                remote_node_end_sessions(n, "the link to the MQTT broker went down");
        }
}

void remote_status_watch(Remote *r) {
        mqtt_link_subscribe(r->link, r->status_filter, on_status, r);
        mqtt_link_add_state_handler(r->link, on_link_state, r);
}
