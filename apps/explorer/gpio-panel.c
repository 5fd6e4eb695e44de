/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The GPIO panel, on the app service io.appservice.gpio (its protocol: services/gpio/README.md).
 *
 * While the panel is shown it holds one connection: ListChips, then GetLineInfo for each line
 * (at most LINES_PER_CHIP_MAX per chip, CHIPS_MAX chips). The user picks a line and holds it as
 * an input (Edge=both, EdgeBatch: its level is read once, then follows its edges) or as an output
 * (a switch writes it). One line is held at a time: holding another releases it first. Hiding
 * the panel closes the connection, and the service releases whatever it held.
 *
 * What the tests read (widget names; labels are their text over AT-SPI):
 *   gpio-status          one line: connecting, the chips found, or what went wrong
 *   gpio-lines           the lines, one row each: "CHIP OFFSET NAME — free|used by CONSUMER"
 *   gpio-held            what is held: "Input gpiochip0 3" / "Output gpiochip0 3" / "Nothing held"
 *   gpio-level           "Level 0" or "Level 1" while an input is held
 *   gpio-output-switch   the output's switch
 *   gpio-edges           the edges, newest first: "rising on gpiochip0 3 (#N)", at most EDGES_MAX */
#include "explorer-config.h"

#include <adwaita.h>
#include <appservice.h>
#include <glib/gi18n.h>

#include "errors.h"
#include "gpio-panel.h"

#define GPIO_SERVICE "io.appservice.gpio"
#define CHIPS_MAX 16u
#define LINES_PER_CHIP_MAX 64u
#define EDGES_MAX 200u
#define EDGE_BATCH 64u

typedef enum {
        HELD_NONE,
        HELD_INPUT,
        HELD_OUTPUT,
} HeldKind;

struct _ExplorerGpioPanel {
        AdwBin parent_instance;

        GtkLabel *status;
        GtkWidget *error_slot;          /* holds the last error's widget, if any */
        GtkListBox *lines;
        GHashTable *line_rows;          /* "CHIP OFFSET" → its row's label (borrowed) */
        GtkLabel *held_label;
        GtkLabel *level;
        GtkSwitch *output_switch;
        GtkWidget *input_button, *output_button, *release_button;
        GtkListBox *edges;
        guint n_edges;

        AppServiceConnection *connection;
        GCancellable *cancellable;      /* this connection's calls; cancelled when hidden */

        HeldKind held;
        guint32 request_id;
        gchar *held_chip;
        guint32 held_offset;
        gboolean writing_switch;        /* the switch moved by the panel, not the user */

        GActionMap *action_map;         /* the window, weak */
};

G_DEFINE_FINAL_TYPE(ExplorerGpioPanel, explorer_gpio_panel, ADW_TYPE_BIN)

static void update_actions(ExplorerGpioPanel *self);

/* ---- what the panel says ---------------------------------------------------------------- */

static void clear_error(ExplorerGpioPanel *self) {
        GtkWidget *child;

        while ((child = gtk_widget_get_first_child(self->error_slot)))
                gtk_box_remove(GTK_BOX(self->error_slot), child);
}

static void show_error(ExplorerGpioPanel *self, const GError *error) {
        clear_error(self);
        gtk_box_append(GTK_BOX(self->error_slot), explorer_error_widget_new(error));
}

/* A refusal of the service itself: its Message names what was wrong. */
static void show_refusal(ExplorerGpioPanel *self, const gchar *what, GVariant *response) {
        const gchar *code = "?", *message = "";
        g_autofree gchar *sentence = NULL;

        g_variant_lookup(response, "Error", "&s", &code);
        g_variant_lookup(response, "Message", "&s", &message);
        /* Translators: %s: the operation (e.g. "Request"), %s: the service's sentence */
        sentence = g_strdup_printf(_("The GPIO service refused “%s”: %s"), what, message);
        clear_error(self);
        gtk_box_append(GTK_BOX(self->error_slot), explorer_error_widget_new_text(sentence, code));
}

static void remove_all_rows(GtkListBox *box) {
        GtkListBoxRow *row;

        while ((row = gtk_list_box_get_row_at_index(box, 0)))
                gtk_list_box_remove(box, GTK_WIDGET(row));
}

static void set_held(ExplorerGpioPanel *self, HeldKind kind, guint32 request_id, const gchar *chip, guint32 offset) {
        g_autofree gchar *text = NULL;

        self->held = kind;
        self->request_id = request_id;
        g_free(self->held_chip);
        self->held_chip = kind == HELD_NONE ? NULL : g_strdup(chip);
        self->held_offset = offset;
        if (kind == HELD_INPUT)
                text = g_strdup_printf(_("Input %s %u"), chip, offset);
        else if (kind == HELD_OUTPUT)
                text = g_strdup_printf(_("Output %s %u"), chip, offset);
        gtk_label_set_text(self->held_label, text ? text : _("Nothing held"));
        gtk_widget_set_visible(GTK_WIDGET(self->level), kind == HELD_INPUT);
        gtk_widget_set_visible(GTK_WIDGET(self->output_switch), kind == HELD_OUTPUT);
        if (kind != HELD_OUTPUT) {
                self->writing_switch = TRUE;
                gtk_switch_set_active(self->output_switch, FALSE);
                self->writing_switch = FALSE;
        }
        update_actions(self);
}

static void set_level(ExplorerGpioPanel *self, gint value) {
        g_autofree gchar *text = g_strdup_printf(_("Level %d"), value);

        gtk_label_set_text(self->level, text);
}

/* ---- one call to the service ---------------------------------------------------------- */

typedef void (*GpioReplyFunc)(ExplorerGpioPanel *self, GVariant *response, gpointer data);

typedef struct {
        ExplorerGpioPanel *panel;
        GCancellable *cancellable;      /* the connection's, at the time of the call */
        gchar *action;
        GpioReplyFunc reply;
        gpointer data;
        GDestroyNotify data_free;
} CallData;

static void call_data_free(CallData *call) {
        g_object_unref(call->panel);
        g_object_unref(call->cancellable);
        g_free(call->action);
        if (call->data_free)
                call->data_free(call->data);
        g_free(call);
}

static void on_sent(GObject *source, GAsyncResult *result, gpointer user_data) {
        CallData *call = user_data;
        ExplorerGpioPanel *self = call->panel;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GError) error = NULL;
        GVariant *message;
        const gchar *status = NULL;

        response = app_service_connection_send_message_finish(APP_SERVICE_CONNECTION(source), result, &error);
        /* A connection closed since: its answers are of no use any more. */
        if (g_cancellable_is_cancelled(call->cancellable)) {
                call_data_free(call);
                return;
        }
        if (!response || app_service_response_get_error(response)) {
                show_error(self, response ? app_service_response_get_error(response) : error);
        } else {
                message = app_service_response_get_message(response);
                g_variant_lookup(message, "Status", "&s", &status);
                if (g_strcmp0(status, "ok") != 0)
                        show_refusal(self, call->action, message);
                else if (call->reply)
                        call->reply(self, message, call->data);
        }
        call_data_free(call);
}

/* Sends @message (floating, consumed; its Action is @action) and calls @reply with a
 * successful response only: errors are shown in the panel. */
static void gpio_call(ExplorerGpioPanel *self, const gchar *action, GVariant *message, GpioReplyFunc reply,
                      gpointer data, GDestroyNotify data_free) {
        CallData *call;

        g_variant_ref_sink(message);
        if (!self->connection) {
                if (data_free)
                        data_free(data);
                g_variant_unref(message);
                return;
        }
        call = g_new0(CallData, 1);
        call->panel = g_object_ref(self);
        call->cancellable = g_object_ref(self->cancellable);
        call->action = g_strdup(action);
        call->reply = reply;
        call->data = data;
        call->data_free = data_free;
        app_service_connection_send_message(self->connection, message, self->cancellable, on_sent, call);
        g_variant_unref(message);
}

/* ---- chips and lines ------------------------------------------------------------------- */

static gchar *line_key(const gchar *chip, guint32 offset) {
        return g_strdup_printf("%s %u", chip, offset);
}

static gint compare_rows(GtkListBoxRow *a, GtkListBoxRow *b, gpointer user_data) {
        const gchar *chip_a = g_object_get_data(G_OBJECT(a), "chip"), *chip_b = g_object_get_data(G_OBJECT(b), "chip");
        gint c = g_strcmp0(chip_a, chip_b);
        guint offset_a = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(a), "offset"));
        guint offset_b = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(b), "offset"));

        if (c)
                return c;
        return offset_a < offset_b ? -1 : offset_a > offset_b;
}

/* GetLineInfo's response: the line's row, made or updated. */
static void on_line_info(ExplorerGpioPanel *self, GVariant *info, gpointer data) {
        const gchar *chip = "", *name = "", *consumer = "", *direction = "";
        gboolean used = FALSE;
        guint32 offset = 0;
        g_autofree gchar *key = NULL, *text = NULL, *use = NULL;
        GtkLabel *label;

        g_variant_lookup(info, "Chip", "&s", &chip);
        g_variant_lookup(info, "Offset", "u", &offset);
        g_variant_lookup(info, "Name", "&s", &name);
        g_variant_lookup(info, "Consumer", "&s", &consumer);
        g_variant_lookup(info, "Used", "b", &used);
        g_variant_lookup(info, "Direction", "&s", &direction);
        /* Translators: %s: the program holding the GPIO line */
        use = used ? g_strdup_printf(_("used by %s"), consumer) : g_strdup(_("free"));
        text = g_strdup_printf("%s %u %s — %s, %s", chip, offset, name, use, direction);
        key = line_key(chip, offset);
        label = g_hash_table_lookup(self->line_rows, key);
        if (!label) {
                GtkWidget *row = gtk_list_box_row_new();

                label = GTK_LABEL(gtk_label_new(NULL));
                gtk_label_set_xalign(label, 0);
                /* Cut on screen, whole for AT-SPI (a label's accessible name is its text). */
                gtk_label_set_ellipsize(label, PANGO_ELLIPSIZE_END);
                gtk_widget_set_margin_start(GTK_WIDGET(label), 6);
                gtk_widget_set_margin_end(GTK_WIDGET(label), 6);
                gtk_widget_set_margin_top(GTK_WIDGET(label), 4);
                gtk_widget_set_margin_bottom(GTK_WIDGET(label), 4);
                gtk_list_box_row_set_child(GTK_LIST_BOX_ROW(row), GTK_WIDGET(label));
                g_object_set_data_full(G_OBJECT(row), "chip", g_strdup(chip), g_free);
                g_object_set_data(G_OBJECT(row), "offset", GUINT_TO_POINTER(offset));
                gtk_list_box_append(self->lines, row);
                g_hash_table_insert(self->line_rows, g_steal_pointer(&key), label);
        }
        gtk_label_set_text(label, text);
}

static void ask_line_info(ExplorerGpioPanel *self, const gchar *chip, guint32 offset) {
        gpio_call(self, "GetLineInfo",
                  g_variant_new_parsed("{'Action': <'GetLineInfo'>, 'Chip': <%s>, 'Line': <%u>}", chip, offset),
                  on_line_info, NULL, NULL);
}

static void on_chips(ExplorerGpioPanel *self, GVariant *response, gpointer data) {
        g_autoptr(GVariant) chips = g_variant_lookup_value(response, "Chips", G_VARIANT_TYPE("aa{sv}"));
        g_autofree gchar *text = NULL;
        gsize n = chips ? g_variant_n_children(chips) : 0;

        if (n == 0) {
                gtk_label_set_text(self->status, _("The GPIO service found no GPIO chip on this machine."));
                return;
        }
        text = g_strdup_printf(g_dngettext(GETTEXT_PACKAGE, "%zu GPIO chip", "%zu GPIO chips", n), n);
        gtk_label_set_text(self->status, text);
        for (gsize i = 0; i < MIN(n, CHIPS_MAX); i++) {
                g_autoptr(GVariant) chip = g_variant_get_child_value(chips, i);
                const gchar *name = NULL;
                guint32 lines = 0;

                if (!g_variant_lookup(chip, "Name", "&s", &name))
                        continue;
                g_variant_lookup(chip, "Lines", "u", &lines);
                for (guint32 offset = 0; offset < MIN(lines, LINES_PER_CHIP_MAX); offset++)
                        ask_line_info(self, name, offset);
        }
}

/* ---- the held line ---------------------------------------------------------------------- */

static void add_edge(ExplorerGpioPanel *self, const gchar *chip, guint32 offset, const gchar *edge, guint64 seqno) {
        g_autofree gchar *text = NULL;
        g_autofree gchar *number = g_strdup_printf("%" G_GUINT64_FORMAT, seqno);
        GtkWidget *label;

        /* Translators: "rising on gpiochip0 3 (#12)": an edge, its line and its sequence number */
        text = g_strdup_printf(_("%s on %s %u (#%s)"), g_str_equal(edge, "rising") ? _("rising") : _("falling"),
                               chip, offset, number);
        label = gtk_label_new(text);
        gtk_label_set_xalign(GTK_LABEL(label), 0);
        gtk_list_box_prepend(self->edges, label);
        if (++self->n_edges > EDGES_MAX) {
                gtk_list_box_remove(self->edges, GTK_WIDGET(gtk_list_box_get_row_at_index(self->edges, EDGES_MAX)));
                self->n_edges--;
        }
        set_level(self, g_str_equal(edge, "rising") ? 1 : 0);
}

/* An `edges` event: parallel arrays, oldest first. */
static void handle_edges(ExplorerGpioPanel *self, GVariant *event, const gchar *chip) {
        g_autoptr(GVariant) lines = g_variant_lookup_value(event, "Lines", G_VARIANT_TYPE("au"));
        g_autoptr(GVariant) edges = g_variant_lookup_value(event, "Edges", G_VARIANT_TYPE("as"));
        g_autoptr(GVariant) seqnos = g_variant_lookup_value(event, "GlobalSeqnos", G_VARIANT_TYPE("at"));
        gsize n;

        if (!lines || !edges || !seqnos)
                return;
        n = MIN(g_variant_n_children(lines), MIN(g_variant_n_children(edges), g_variant_n_children(seqnos)));
        /* Only the last EDGES_MAX can be seen: skip the rest rather than add and drop them. */
        for (gsize i = n > EDGES_MAX ? n - EDGES_MAX : 0; i < n; i++) {
                guint32 offset;
                guint64 seqno;
                const gchar *edge;

                g_variant_get_child(lines, i, "u", &offset);
                g_variant_get_child(edges, i, "&s", &edge);
                g_variant_get_child(seqnos, i, "t", &seqno);
                add_edge(self, chip, offset, edge, seqno);
        }
}

static void on_request_received(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        ExplorerGpioPanel *self = user_data;
        GVariant *event = app_service_request_get_message(request);
        const gchar *kind = "", *chip = "", *edge = "";
        guint32 request_id = 0, offset = 0;
        guint64 seqno = 0;

        /* Answered at once, whatever it is: the service sends more only as answers come. */
        app_service_request_send_response(request, g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0), NULL, NULL,
                                          NULL);
        g_variant_lookup(event, "Event", "&s", &kind);
        g_variant_lookup(event, "Request", "u", &request_id);
        g_variant_lookup(event, "Chip", "&s", &chip);
        if (self->held != HELD_INPUT || request_id != self->request_id) {
                if (g_str_equal(kind, "released") && request_id == self->request_id && self->held != HELD_NONE) {
                        gtk_label_set_text(self->status, _("The GPIO chip went away: its line was released."));
                        set_held(self, HELD_NONE, 0, NULL, 0);
                }
                return;
        }
        if (g_str_equal(kind, "edges")) {
                handle_edges(self, event, chip);
        } else if (g_str_equal(kind, "edge") && g_variant_lookup(event, "Line", "u", &offset) &&
                   g_variant_lookup(event, "Edge", "&s", &edge)) {
                g_variant_lookup(event, "GlobalSeqno", "t", &seqno);
                add_edge(self, chip, offset, edge, seqno);
        } else if (g_str_equal(kind, "released")) {
                gtk_label_set_text(self->status, _("The GPIO chip went away: its line was released."));
                set_held(self, HELD_NONE, 0, NULL, 0);
        }
}

static void on_read(ExplorerGpioPanel *self, GVariant *response, gpointer data) {
        g_autoptr(GVariant) values = g_variant_lookup_value(response, "Values", G_VARIANT_TYPE("ai"));
        gint32 value;

        if (values && g_variant_n_children(values) > 0) {
                g_variant_get_child(values, 0, "i", &value);
                set_level(self, value);
        }
}

typedef struct {
        HeldKind kind;
        gchar *chip;
        guint32 offset;
} HoldData;

static void hold_data_free(gpointer p) {
        HoldData *hold = p;

        g_free(hold->chip);
        g_free(hold);
}

static void on_requested(ExplorerGpioPanel *self, GVariant *response, gpointer data) {
        HoldData *hold = data;
        guint32 request_id = 0;

        if (!g_variant_lookup(response, "Request", "u", &request_id))
                return;
        clear_error(self);
        set_held(self, hold->kind, request_id, hold->chip, hold->offset);
        ask_line_info(self, hold->chip, hold->offset);
        if (hold->kind == HELD_INPUT)
                gpio_call(self, "Read", g_variant_new_parsed("{'Action': <'Read'>, 'Request': <%u>}", request_id),
                          on_read, NULL, NULL);
}

static void release_held(ExplorerGpioPanel *self) {
        g_autofree gchar *chip = g_strdup(self->held_chip);
        guint32 offset = self->held_offset;

        if (self->held == HELD_NONE)
                return;
        gpio_call(self, "Release",
                  g_variant_new_parsed("{'Action': <'Release'>, 'Request': <%u>}", self->request_id), NULL, NULL,
                  NULL);
        set_held(self, HELD_NONE, 0, NULL, 0);
        /* After the release, in the service's order: the row shows the line free again. */
        ask_line_info(self, chip, offset);
}

static void hold_line(ExplorerGpioPanel *self, HeldKind kind, const gchar *chip, guint32 offset) {
        HoldData *hold = g_new0(HoldData, 1);
        GVariant *message;

        release_held(self);
        hold->kind = kind;
        hold->chip = g_strdup(chip);
        hold->offset = offset;
        if (kind == HELD_INPUT)
                message = g_variant_new_parsed("{'Action': <'Request'>, 'Chip': <%s>, 'Lines': <[%u]>, "
                                               "'Direction': <'input'>, 'Edge': <'both'>, 'EdgeBatch': <%u>, "
                                               "'Consumer': <'appservice-explorer'>}",
                                               chip, offset, EDGE_BATCH);
        else
                message = g_variant_new_parsed("{'Action': <'Request'>, 'Chip': <%s>, 'Lines': <[%u]>, "
                                               "'Direction': <'output'>, 'Values': <[0]>, "
                                               "'Consumer': <'appservice-explorer'>}",
                                               chip, offset);
        gpio_call(self, "Request", message, on_requested, hold, hold_data_free);
}

static void on_switch_active(GtkSwitch *sw, GParamSpec *pspec, gpointer user_data) {
        ExplorerGpioPanel *self = user_data;

        if (self->writing_switch || self->held != HELD_OUTPUT)
                return;
        gpio_call(self, "Write",
                  g_variant_new_parsed("{'Action': <'Write'>, 'Request': <%u>, 'Values': <[%i]>}", self->request_id,
                                       (gint32) gtk_switch_get_active(sw)),
                  NULL, NULL, NULL);
}

/* The selected row's line, or FALSE. */
static gboolean selected_line(ExplorerGpioPanel *self, const gchar **chip, guint32 *offset) {
        GtkListBoxRow *row = gtk_list_box_get_selected_row(self->lines);

        if (!row)
                return FALSE;
        *chip = g_object_get_data(G_OBJECT(row), "chip");
        *offset = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(row), "offset"));
        return TRUE;
}

static void on_hold_clicked(GtkButton *button, gpointer user_data) {
        ExplorerGpioPanel *self = user_data;
        const gchar *chip;
        guint32 offset;

        if (selected_line(self, &chip, &offset))
                hold_line(self, GTK_WIDGET(button) == self->input_button ? HELD_INPUT : HELD_OUTPUT, chip, offset);
}

static void on_release_clicked(GtkButton *button, gpointer user_data) {
        release_held(user_data);
}

/* ---- the connection, while shown ------------------------------------------------------- */

static void on_service_closed(AppServiceConnection *connection, AppServiceClosedStatus status, gpointer user_data) {
        ExplorerGpioPanel *self = user_data;
        g_autofree gchar *text = explorer_closed_status_describe(status);

        gtk_label_set_text(self->status, text);
        set_held(self, HELD_NONE, 0, NULL, 0);
        g_cancellable_cancel(self->cancellable);
        g_signal_handlers_disconnect_by_data(self->connection, self);
        g_clear_object(&self->connection);
        update_actions(self);
}

static void on_opened(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(ExplorerGpioPanel) self = user_data;
        AppServiceConnection *connection = APP_SERVICE_CONNECTION(source);
        g_autoptr(GError) error = NULL;

        if (app_service_connection_open_finish(connection, result, &error) == APP_SERVICE_CONNECTION_STATUS_SUCCESS &&
            connection == self->connection) {
                gtk_label_set_text(self->status, _("Reading the GPIO chips…"));
                update_actions(self);
                gpio_call(self, "ListChips", g_variant_new_parsed("{'Action': <'ListChips'>}"), on_chips, NULL, NULL);
                return;
        }
        if (connection != self->connection || g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        gtk_label_set_text(self->status, _("Cannot reach the GPIO service."));
        if (error)
                show_error(self, error);
        g_signal_handlers_disconnect_by_data(self->connection, self);
        g_clear_object(&self->connection);
}

static void connect_service(ExplorerGpioPanel *self) {
        if (self->connection)
                return;
        clear_error(self);
        gtk_label_set_text(self->status, _("Connecting to the GPIO service…"));
        g_clear_object(&self->cancellable);
        self->cancellable = g_cancellable_new();
        self->connection = app_service_connection_new(GPIO_SERVICE, NULL);
        g_signal_connect(self->connection, "request-received", G_CALLBACK(on_request_received), self);
        g_signal_connect(self->connection, "service-closed", G_CALLBACK(on_service_closed), self);
        app_service_connection_open(self->connection, self->cancellable, on_opened, g_object_ref(self));
}

/* Closing the connection releases every line it held (the service's rule). */
static void disconnect_service(ExplorerGpioPanel *self) {
        if (self->cancellable)
                g_cancellable_cancel(self->cancellable);
        if (self->connection) {
                g_signal_handlers_disconnect_by_data(self->connection, self);
                if (app_service_connection_get_is_open(self->connection))
                        app_service_connection_close(self->connection, NULL, NULL, NULL);
                g_clear_object(&self->connection);
        }
        set_held(self, HELD_NONE, 0, NULL, 0);
        remove_all_rows(self->lines);
        g_hash_table_remove_all(self->line_rows);
        remove_all_rows(self->edges);
        self->n_edges = 0;
}

static void on_map(GtkWidget *widget, gpointer user_data) {
        connect_service(EXPLORER_GPIO_PANEL(widget));
}

static void on_unmap(GtkWidget *widget, gpointer user_data) {
        disconnect_service(EXPLORER_GPIO_PANEL(widget));
        gtk_label_set_text(EXPLORER_GPIO_PANEL(widget)->status, _("Not connected."));
}

/* ---- the actions ------------------------------------------------------------------------- */

static void set_action_enabled(ExplorerGpioPanel *self, const gchar *name, gboolean enabled) {
        GAction *action = self->action_map ? g_action_map_lookup_action(self->action_map, name) : NULL;

        if (action)
                g_simple_action_set_enabled(G_SIMPLE_ACTION(action), enabled);
}

static void update_actions(ExplorerGpioPanel *self) {
        gboolean open = self->connection && app_service_connection_get_is_open(self->connection);

        set_action_enabled(self, "gpio-request-input", open);
        set_action_enabled(self, "gpio-request-output", open);
        set_action_enabled(self, "gpio-set-output", open && self->held == HELD_OUTPUT);
        set_action_enabled(self, "gpio-release", open && self->held != HELD_NONE);
        gtk_widget_set_sensitive(self->release_button, self->held != HELD_NONE);
}

/* "CHIP OFFSET" */
static gboolean parse_line(GVariant *parameter, gchar **chip, guint32 *offset) {
        g_auto(GStrv) parts = g_strsplit(g_variant_get_string(parameter, NULL), " ", 2);
        guint64 value;

        if (g_strv_length(parts) != 2 || !g_ascii_string_to_unsigned(parts[1], 10, 0, G_MAXUINT32, &value, NULL))
                return FALSE;
        *chip = g_strdup(parts[0]);
        *offset = (guint32) value;
        return TRUE;
}

static void hold_from_action(ExplorerGpioPanel *self, HeldKind kind, GVariant *parameter) {
        g_autofree gchar *chip = NULL;
        guint32 offset;

        if (!parse_line(parameter, &chip, &offset)) {
                g_warning("GPIO line '%s' is not \"CHIP OFFSET\"", g_variant_get_string(parameter, NULL));
                return;
        }
        hold_line(self, kind, chip, offset);
}

static void action_request_input(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        hold_from_action(user_data, HELD_INPUT, parameter);
}

static void action_request_output(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        hold_from_action(user_data, HELD_OUTPUT, parameter);
}

static void action_set_output(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        gtk_switch_set_active(EXPLORER_GPIO_PANEL(user_data)->output_switch, g_variant_get_boolean(parameter));
}

static void action_release(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        release_held(user_data);
}

void explorer_gpio_panel_install_actions(ExplorerGpioPanel *self, GActionMap *map) {
        const GActionEntry entries[] = {
                { .name = "gpio-request-input", .activate = action_request_input, .parameter_type = "s" },
                { .name = "gpio-request-output", .activate = action_request_output, .parameter_type = "s" },
                { .name = "gpio-set-output", .activate = action_set_output, .parameter_type = "b" },
                { .name = "gpio-release", .activate = action_release },
        };

        g_return_if_fail(EXPLORER_IS_GPIO_PANEL(self));
        g_action_map_add_action_entries(map, entries, G_N_ELEMENTS(entries), self);
        g_set_weak_pointer(&self->action_map, map);
        update_actions(self);
}

/* ---- the widget ------------------------------------------------------------------------- */

static GtkWidget *named(GtkWidget *widget, const gchar *name) {
        gtk_widget_set_name(widget, name);
        return widget;
}

static GtkWidget *scrolled(GtkWidget *child) {
        GtkWidget *window = gtk_scrolled_window_new();

        gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(window), child);
        gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(window), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
        gtk_widget_set_vexpand(window, TRUE);
        return window;
}

static GtkWidget *heading(const gchar *text) {
        GtkWidget *label = gtk_label_new(text);

        gtk_label_set_xalign(GTK_LABEL(label), 0);
        gtk_widget_add_css_class(label, "heading");
        return label;
}

static GtkWidget *build_held_side(ExplorerGpioPanel *self) {
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 8);
        GtkWidget *buttons = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);

        self->input_button = gtk_button_new_with_mnemonic(_("Watch as _Input"));
        self->output_button = gtk_button_new_with_mnemonic(_("Drive as _Output"));
        self->release_button = gtk_button_new_with_mnemonic(_("_Release"));
        g_signal_connect(self->input_button, "clicked", G_CALLBACK(on_hold_clicked), self);
        g_signal_connect(self->output_button, "clicked", G_CALLBACK(on_hold_clicked), self);
        g_signal_connect(self->release_button, "clicked", G_CALLBACK(on_release_clicked), self);
        gtk_box_append(GTK_BOX(buttons), self->input_button);
        gtk_box_append(GTK_BOX(buttons), self->output_button);
        gtk_box_append(GTK_BOX(buttons), self->release_button);
        gtk_box_append(GTK_BOX(box), buttons);

        self->held_label = GTK_LABEL(named(gtk_label_new(_("Nothing held")), "gpio-held"));
        gtk_label_set_xalign(self->held_label, 0);
        gtk_widget_add_css_class(GTK_WIDGET(self->held_label), "title-4");
        gtk_box_append(GTK_BOX(box), GTK_WIDGET(self->held_label));
        self->level = GTK_LABEL(named(gtk_label_new(NULL), "gpio-level"));
        gtk_label_set_xalign(self->level, 0);
        gtk_box_append(GTK_BOX(box), GTK_WIDGET(self->level));
        self->output_switch = GTK_SWITCH(named(gtk_switch_new(), "gpio-output-switch"));
        gtk_widget_set_halign(GTK_WIDGET(self->output_switch), GTK_ALIGN_START);
        gtk_accessible_update_property(GTK_ACCESSIBLE(self->output_switch), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       _("Output value"), -1);
        g_signal_connect(self->output_switch, "notify::active", G_CALLBACK(on_switch_active), self);
        gtk_box_append(GTK_BOX(box), GTK_WIDGET(self->output_switch));

        gtk_box_append(GTK_BOX(box), heading(_("Edges")));
        self->edges = GTK_LIST_BOX(named(gtk_list_box_new(), "gpio-edges"));
        gtk_list_box_set_selection_mode(self->edges, GTK_SELECTION_NONE);
        gtk_box_append(GTK_BOX(box), scrolled(GTK_WIDGET(self->edges)));
        return box;
}

static void explorer_gpio_panel_init(ExplorerGpioPanel *self) {
        GtkWidget *page = gtk_box_new(GTK_ORIENTATION_VERTICAL, 8);
        GtkWidget *sides = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
        GtkWidget *lines_side = gtk_box_new(GTK_ORIENTATION_VERTICAL, 8);
        GtkWidget *held_side;

        self->line_rows = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        gtk_widget_set_margin_start(page, 12);
        gtk_widget_set_margin_end(page, 12);
        gtk_widget_set_margin_top(page, 12);
        gtk_widget_set_margin_bottom(page, 12);

        self->status = GTK_LABEL(named(gtk_label_new(_("Not connected.")), "gpio-status"));
        gtk_label_set_xalign(self->status, 0);
        gtk_label_set_wrap(self->status, TRUE);
        gtk_box_append(GTK_BOX(page), GTK_WIDGET(self->status));
        self->error_slot = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
        gtk_box_append(GTK_BOX(page), self->error_slot);

        gtk_box_append(GTK_BOX(lines_side), heading(_("Lines")));
        self->lines = GTK_LIST_BOX(named(gtk_list_box_new(), "gpio-lines"));
        gtk_list_box_set_sort_func(self->lines, compare_rows, NULL, NULL);
        gtk_widget_add_css_class(GTK_WIDGET(self->lines), "boxed-list");
        gtk_box_append(GTK_BOX(lines_side), scrolled(GTK_WIDGET(self->lines)));
        gtk_widget_set_hexpand(lines_side, TRUE);
        held_side = build_held_side(self);
        gtk_box_append(GTK_BOX(sides), lines_side);
        gtk_box_append(GTK_BOX(sides), held_side);
        gtk_widget_set_vexpand(sides, TRUE);
        gtk_box_append(GTK_BOX(page), sides);
        adw_bin_set_child(ADW_BIN(self), page);

        set_held(self, HELD_NONE, 0, NULL, 0);
        g_signal_connect(self, "map", G_CALLBACK(on_map), NULL);
        g_signal_connect(self, "unmap", G_CALLBACK(on_unmap), NULL);
}

static void explorer_gpio_panel_dispose(GObject *object) {
        ExplorerGpioPanel *self = EXPLORER_GPIO_PANEL(object);

        if (self->cancellable)
                g_cancellable_cancel(self->cancellable);
        if (self->connection) {
                g_signal_handlers_disconnect_by_data(self->connection, self);
                g_clear_object(&self->connection); /* the library closes it as it goes */
        }
        g_clear_weak_pointer(&self->action_map);
        G_OBJECT_CLASS(explorer_gpio_panel_parent_class)->dispose(object);
}

static void explorer_gpio_panel_finalize(GObject *object) {
        ExplorerGpioPanel *self = EXPLORER_GPIO_PANEL(object);

        g_clear_object(&self->cancellable);
        g_hash_table_unref(self->line_rows);
        g_free(self->held_chip);
        G_OBJECT_CLASS(explorer_gpio_panel_parent_class)->finalize(object);
}

static void explorer_gpio_panel_class_init(ExplorerGpioPanelClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->dispose = explorer_gpio_panel_dispose;
        object_class->finalize = explorer_gpio_panel_finalize;
}

GtkWidget *explorer_gpio_panel_new(void) {
        return g_object_new(EXPLORER_TYPE_GPIO_PANEL, NULL);
}
