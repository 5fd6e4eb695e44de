/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "explorer-config.h"

#include <adwaita.h>
#include <appservice.h>
#include <glib/gi18n.h>

#include "connection-view.h"
#include "errors.h"
#include "value-format.h"
#include "valueset-editor.h"

/* ---- One entry of the transcript ---------------------------------------------------------- */

typedef enum {
        ENTRY_INFO,
        ENTRY_SENT,
        ENTRY_RESPONSE,
        ENTRY_REQUEST,
        ENTRY_ANSWER,
        ENTRY_ERROR,
} EntryKind;

#define EXPLORER_TYPE_TRANSCRIPT_ENTRY (explorer_transcript_entry_get_type())
G_DECLARE_FINAL_TYPE(ExplorerTranscriptEntry, explorer_transcript_entry, EXPLORER, TRANSCRIPT_ENTRY, GObject)

/* Everything an entry shows is formatted (and bounded) once, when it is made: binding a row to
 * it costs the same whatever came before. */
struct _ExplorerTranscriptEntry {
        GObject parent_instance;

        EntryKind kind;
        gchar *time;
        gchar *title;
        gchar *sentence;                /* nullable: an error in words, under the title */
        gchar *detail;                  /* nullable: the technical text under an error */
        GPtrArray *rows;                /* ExplorerValueRow, nullable */
        guint hidden;                   /* keys left out of rows */
        AppServiceRequest *request;     /* ENTRY_REQUEST: the deferral, until answered or dropped */
        gboolean answered;
};

G_DEFINE_FINAL_TYPE(ExplorerTranscriptEntry, explorer_transcript_entry, G_TYPE_OBJECT)

static void explorer_transcript_entry_finalize(GObject *object) {
        ExplorerTranscriptEntry *self = EXPLORER_TRANSCRIPT_ENTRY(object);

        g_free(self->time);
        g_free(self->title);
        g_free(self->sentence);
        g_free(self->detail);
        g_clear_pointer(&self->rows, g_ptr_array_unref);
        /* Dropping an unanswered request makes the library answer it with an empty ValueSet:
         * a provider is never left waiting on an entry that scrolled out of the transcript. */
        g_clear_object(&self->request);
        G_OBJECT_CLASS(explorer_transcript_entry_parent_class)->finalize(object);
}

static void explorer_transcript_entry_class_init(ExplorerTranscriptEntryClass *klass) {
        G_OBJECT_CLASS(klass)->finalize = explorer_transcript_entry_finalize;
        g_signal_new("answered", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void explorer_transcript_entry_init(ExplorerTranscriptEntry *self) {
}

static ExplorerTranscriptEntry *entry_new(EntryKind kind, const gchar *title, GVariant *value_set) {
        ExplorerTranscriptEntry *entry = g_object_new(EXPLORER_TYPE_TRANSCRIPT_ENTRY, NULL);
        g_autoptr(GDateTime) now = g_date_time_new_now_local();

        entry->kind = kind;
        entry->time = g_date_time_format(now, "%H:%M:%S");
        entry->title = explorer_format_truncate(title, 2 * EXPLORER_VALUE_PREVIEW_MAX);
        if (value_set)
                entry->rows = explorer_format_value_set(value_set, &entry->hidden);
        return entry;
}

static void entry_set_answered(ExplorerTranscriptEntry *entry) {
        entry->answered = TRUE;
        g_clear_object(&entry->request);
        g_signal_emit_by_name(entry, "answered");
}

/* ---- The view ------------------------------------------------------------------------------ */

struct _ExplorerConnectionView {
        GtkBox parent_instance;

        GtkLabel *title;
        GtkWidget *open_button;
        ExplorerValueSetEditor *editor;
        GtkListView *transcript_view;
        GListStore *transcript;
        GQueue unanswered;              /* ExplorerTranscriptEntry (borrowed from the store), oldest first */
        GtkAdjustment *vadjustment;
        guint top_tick;
        guint top_frames;
        GPtrArray *pending;             /* ExplorerTranscriptEntry not yet in the transcript, oldest first */
        guint flush_source;

        AppServiceConnection *connection;
        gchar *service_name;
        gboolean opening;
        GCancellable *cancellable;      /* cancelled when the view goes */
};

G_DEFINE_FINAL_TYPE(ExplorerConnectionView, explorer_connection_view, GTK_TYPE_BOX)

enum {
        SIGNAL_CHANGED,
        N_SIGNALS,
};
static guint signals[N_SIGNALS];

static void emit_changed(ExplorerConnectionView *self) {
        g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
}

/* Rows get their real height in the frames after they come, moving the top: hold the view at
 * the top for a few frames. */
#define TOP_FRAMES 4
#define EXPLORER_FLUSH_MS 200
/* The most requests of the provider held for an answer: each holds its message (up to the
 * service's MaxMessageSize). Beyond it the oldest is let go, and the library answers it with
 * an empty ValueSet. */
#define EXPLORER_HELD_REQUESTS_MAX 32

static gboolean scroll_to_top(GtkWidget *widget, GdkFrameClock *clock, gpointer user_data) {
        ExplorerConnectionView *self = user_data;

        gtk_adjustment_set_value(self->vadjustment, 0);
        if (--self->top_frames > 0)
                return G_SOURCE_CONTINUE;
        self->top_tick = 0;
        return G_SOURCE_REMOVE;
}

/* Drops @entry, the oldest of the transcript, from the unanswered queue: if it is an
 * unanswered request, it is the queue's head (O(1)). */
static void forget_oldest(ExplorerConnectionView *self, ExplorerTranscriptEntry *entry) {
        if (g_queue_peek_head(&self->unanswered) == entry)
                g_queue_pop_head(&self->unanswered);
}

/* Moves the entries that came since the last flush into the transcript in one change of the
 * list (newest on top), and drops the oldest beyond EXPLORER_TRANSCRIPT_MAX. One flush per
 * EXPLORER_FLUSH_MS at most: a flood of requests costs the list one update per flush, not one
 * per request. */
static gboolean flush_entries(gpointer user_data) {
        ExplorerConnectionView *self = user_data;
        GListModel *model = G_LIST_MODEL(self->transcript);
        guint n = g_list_model_get_n_items(model);
        guint k = self->pending->len;
        guint excess = n + k > EXPLORER_TRANSCRIPT_MAX ? n + k - EXPLORER_TRANSCRIPT_MAX : 0;
        guint from_store = MIN(excess, n);
        guint from_pending = excess - from_store;
        g_autofree gpointer *newest_first = NULL;

        self->flush_source = 0;
        /* The oldest first: the store's end, then the pending ones that came first. */
        for (guint i = 0; i < from_store; i++) {
                g_autoptr(ExplorerTranscriptEntry) entry = g_list_model_get_item(model, n - 1 - i);

                forget_oldest(self, entry);
        }
        for (guint i = 0; i < from_pending; i++)
                forget_oldest(self, g_ptr_array_index(self->pending, i));
        if (from_store > 0)
                g_list_store_splice(self->transcript, n - from_store, from_store, NULL, 0);

        newest_first = g_new(gpointer, k - from_pending);
        for (guint i = from_pending; i < k; i++)
                newest_first[k - 1 - i] = g_ptr_array_index(self->pending, i);
        g_list_store_splice(self->transcript, 0, 0, newest_first, k - from_pending);
        g_ptr_array_set_size(self->pending, 0);

        /* The list keeps its first visible row in place when rows come above it: bring the
         * new ones into view (in the next frames), unless the user scrolled away. */
        if (gtk_adjustment_get_value(self->vadjustment) < 1 || self->top_tick != 0) {
                self->top_frames = TOP_FRAMES;
                if (self->top_tick == 0)
                        self->top_tick = gtk_widget_add_tick_callback(GTK_WIDGET(self->transcript_view),
                                                                      scroll_to_top, self, NULL);
        }
        return G_SOURCE_REMOVE;
}

/* Adds @entry (taking it) to the transcript at the next flush. */
static void append_entry(ExplorerConnectionView *self, ExplorerTranscriptEntry *entry) {
        if (entry->kind == ENTRY_REQUEST)
                g_queue_push_tail(&self->unanswered, entry);
        g_ptr_array_add(self->pending, entry);
        if (self->flush_source == 0)
                self->flush_source = g_timeout_add(EXPLORER_FLUSH_MS, flush_entries, self);
}

static void append_info(ExplorerConnectionView *self, const gchar *text) {
        append_entry(self, entry_new(ENTRY_INFO, text, NULL));
}

/* An error entry: @what happened as its title, the error in words, its technical name. */
static void append_error(ExplorerConnectionView *self, const gchar *what, const GError *error) {
        ExplorerTranscriptEntry *entry = entry_new(ENTRY_ERROR, what, NULL);

        g_autofree gchar *sentence = explorer_error_describe(error);
        g_autofree gchar *detail = explorer_error_technical(error);

        /* Error messages may quote what the other side sent: bounded like a preview. */
        entry->sentence = explorer_format_truncate(sentence, 2 * EXPLORER_VALUE_PREVIEW_MAX);
        entry->detail = explorer_format_truncate(detail, 2 * EXPLORER_VALUE_PREVIEW_MAX);
        append_entry(self, entry);
}

static void update_title(ExplorerConnectionView *self) {
        g_autofree gchar *text = NULL;

        if (self->opening)
                text = g_strdup_printf(_("Connecting to %s…"), self->service_name);
        else if (self->connection)
                text = g_strdup_printf(_("Connected to %s"), self->service_name);
        else
                text = g_strdup(_("Not connected"));
        gtk_label_set_text(self->title, text);
}

/* Forgets the connection (its handlers too); the library closes it when the last reference
 * goes, if it is still open. */
static void drop_connection(ExplorerConnectionView *self) {
        if (self->connection)
                g_signal_handlers_disconnect_by_data(self->connection, self);
        g_clear_object(&self->connection);
        self->opening = FALSE;
        /* Requests of a closed connection cannot be answered any more: let them go (their
         * Answer buttons too). */
        while (!g_queue_is_empty(&self->unanswered))
                entry_set_answered(g_queue_pop_head(&self->unanswered));
        update_title(self);
        emit_changed(self);
}

static void on_request_received(AppServiceConnection *connection, AppServiceRequest *request,
                                ExplorerConnectionView *self) {
        ExplorerTranscriptEntry *entry =
                entry_new(ENTRY_REQUEST, _("Request from the provider"), app_service_request_get_message(request));

        if (g_queue_get_length(&self->unanswered) >= EXPLORER_HELD_REQUESTS_MAX) {
                ExplorerTranscriptEntry *oldest = g_queue_pop_head(&self->unanswered);

                /* Its Answer button goes; the library answers it (empty) as the last
                 * reference drops. */
                entry_set_answered(oldest);
        }

        entry->request = g_object_ref(request);
        append_entry(self, entry);
        emit_changed(self);
}

static void on_service_closed(AppServiceConnection *connection, AppServiceClosedStatus status,
                              ExplorerConnectionView *self) {
        g_autofree gchar *text = explorer_closed_status_describe(status);

        append_info(self, text);
        drop_connection(self);
}

static void on_opened(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(ExplorerConnectionView) self = user_data;
        AppServiceConnection *connection = APP_SERVICE_CONNECTION(source);
        g_autoptr(GError) error = NULL;
        g_autofree gchar *text = NULL;

        app_service_connection_open_finish(connection, result, &error);
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || connection != self->connection)
                return;         /* the view went, or another open replaced this one */
        if (error) {
                g_autofree gchar *what = g_strdup_printf(_("Could not connect to %s"), self->service_name);

                append_error(self, what, error);
                drop_connection(self);
                return;
        }
        self->opening = FALSE;
        text = g_strdup_printf(app_service_connection_get_direct(connection)
                                       ? _("Connected to %s (direct link to the provider)")
                                       : _("Connected to %s (through the broker)"),
                               self->service_name);
        append_info(self, text);
        update_title(self);
        emit_changed(self);
}

void explorer_connection_view_open(ExplorerConnectionView *self, const gchar *service_name) {
        g_autofree gchar *text = NULL;

        g_return_if_fail(EXPLORER_IS_CONNECTION_VIEW(self));

        if (self->connection) {
                app_service_connection_close(self->connection, NULL, NULL, NULL);
                append_info(self, _("You closed the connection"));
                drop_connection(self);
        }
        g_free(self->service_name);
        self->service_name = g_strdup(service_name);
        self->connection = app_service_connection_new(service_name, NULL);
        self->opening = TRUE;
        g_signal_connect(self->connection, "request-received", G_CALLBACK(on_request_received), self);
        g_signal_connect(self->connection, "service-closed", G_CALLBACK(on_service_closed), self);
        text = g_strdup_printf(_("Opening a connection to %s"), service_name);
        append_info(self, text);
        update_title(self);
        emit_changed(self);
        app_service_connection_open(self->connection, self->cancellable, on_opened, g_object_ref(self));
}

static void on_sent(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(ExplorerConnectionView) self = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        const GError *refusal;

        response = app_service_connection_send_message_finish(APP_SERVICE_CONNECTION(source), result, &error);
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        if (!response) {
                append_error(self, _("The message could not be sent"), error);
                return;
        }
        if (app_service_response_get_status(response) == APP_SERVICE_RESPONSE_STATUS_SUCCESS) {
                append_entry(self, entry_new(ENTRY_RESPONSE, _("Response"), app_service_response_get_message(response)));
                return;
        }
        refusal = app_service_response_get_error(response);
        if (refusal) {
                append_error(self, _("No response"), refusal);
        } else {
                g_autoptr(GError) failed = g_error_new(APP_SERVICE_ERROR, APP_SERVICE_ERROR_FAILED,
                                                       _("response status %d"),
                                                       (gint) app_service_response_get_status(response));
                append_error(self, _("No response"), failed);
        }
}

void explorer_connection_view_send(ExplorerConnectionView *self) {
        g_autoptr(GVariant) message = NULL;

        g_return_if_fail(EXPLORER_IS_CONNECTION_VIEW(self));

        if (!explorer_connection_view_get_is_open(self))
                return;
        message = explorer_value_set_editor_build(self->editor, NULL);
        if (!message)
                return;         /* the editor shows what is wrong */
        append_entry(self, entry_new(ENTRY_SENT, _("Sent"), message));
        app_service_connection_send_message(self->connection, message, self->cancellable, on_sent,
                                            g_object_ref(self));
}

void explorer_connection_view_set_message(ExplorerConnectionView *self, const gchar *text) {
        g_return_if_fail(EXPLORER_IS_CONNECTION_VIEW(self));

        explorer_value_set_editor_set_text(self->editor, text);
}

static void on_answered(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(ExplorerConnectionView) self = user_data;
        g_autoptr(GError) error = NULL;

        app_service_request_send_response_finish(APP_SERVICE_REQUEST(source), result, &error);
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        if (error)
                append_error(self, _("The answer could not be sent"), error);
}

/* Sends @answer to @entry's request and marks it answered. */
static void answer_entry(ExplorerConnectionView *self, ExplorerTranscriptEntry *entry, GVariant *answer) {
        g_autoptr(AppServiceRequest) request = g_object_ref(entry->request);

        g_queue_remove(&self->unanswered, entry);
        entry_set_answered(entry);
        append_entry(self, entry_new(ENTRY_ANSWER, _("Answer sent"), answer));
        app_service_request_send_response(request, answer, self->cancellable, on_answered, g_object_ref(self));
        emit_changed(self);
}

void explorer_connection_view_answer_oldest(ExplorerConnectionView *self, const gchar *text) {
        ExplorerTranscriptEntry *entry;
        g_autoptr(GVariant) answer = NULL;
        g_autoptr(GError) error = NULL;

        g_return_if_fail(EXPLORER_IS_CONNECTION_VIEW(self));

        entry = g_queue_peek_head(&self->unanswered);
        if (!entry)
                return;
        answer = text[0] ? app_service_value_set_parse(text, &error)
                         : g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
        if (!answer) {
                append_error(self, _("The answer is not a ValueSet"), error);
                return;
        }
        answer_entry(self, entry, answer);
}

static void on_close_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;

        /* The connection is forgotten already; a failed Close leaves nothing to do (the broker
         * drops the connection when it sees the end of our link anyway). */
        if (!app_service_connection_close_finish(APP_SERVICE_CONNECTION(source), result, &error))
                g_debug("closing the connection: %s", error->message);
}

void explorer_connection_view_close(ExplorerConnectionView *self) {
        g_return_if_fail(EXPLORER_IS_CONNECTION_VIEW(self));

        if (!self->connection)
                return;
        app_service_connection_close(self->connection, NULL, on_close_done, NULL);
        append_info(self, _("You closed the connection"));
        drop_connection(self);
}

void explorer_connection_view_focus_open(ExplorerConnectionView *self) {
        g_return_if_fail(EXPLORER_IS_CONNECTION_VIEW(self));

        gtk_widget_grab_focus(self->open_button);
}

gboolean explorer_connection_view_get_is_open(ExplorerConnectionView *self) {
        return self->connection && !self->opening;
}

gboolean explorer_connection_view_get_is_opening(ExplorerConnectionView *self) {
        return self->opening;
}

gboolean explorer_connection_view_get_has_unanswered(ExplorerConnectionView *self) {
        return explorer_connection_view_get_is_open(self) && !g_queue_is_empty(&self->unanswered);
}

/* ---- The answer dialog --------------------------------------------------------------------- */

typedef struct {
        ExplorerConnectionView *view;
        ExplorerTranscriptEntry *entry;
        ExplorerValueSetEditor *editor;
        GtkWindow *window;
} AnswerDialog;

static void answer_dialog_free(gpointer data) {
        AnswerDialog *dialog = data;

        g_object_unref(dialog->view);
        g_object_unref(dialog->entry);
        g_free(dialog);
}

static void on_answer_send(GtkButton *button, AnswerDialog *dialog) {
        g_autoptr(GVariant) answer = explorer_value_set_editor_build(dialog->editor, NULL);

        if (!answer)
                return;         /* the editor shows what is wrong; the dialog stays */
        if (!dialog->entry->answered && dialog->entry->request)
                answer_entry(dialog->view, dialog->entry, answer);
        gtk_window_destroy(dialog->window);
}

static void open_answer_dialog(ExplorerConnectionView *self, ExplorerTranscriptEntry *entry) {
        AnswerDialog *dialog = g_new0(AnswerDialog, 1);
        GtkWidget *window = adw_window_new();
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 12);
        GtkWidget *header = adw_header_bar_new();
        GtkWidget *cancel = gtk_button_new_with_mnemonic(_("_Cancel"));
        GtkWidget *send = gtk_button_new_with_mnemonic(_("Send _Answer"));
        GtkWidget *content = gtk_box_new(GTK_ORIENTATION_VERTICAL, 12);
        GtkWidget *intro = gtk_label_new(_("Compose the answer to the provider's request."));

        dialog->view = g_object_ref(self);
        dialog->entry = g_object_ref(entry);
        dialog->window = GTK_WINDOW(window);
        dialog->editor = EXPLORER_VALUE_SET_EDITOR(explorer_value_set_editor_new());
        g_object_set_data_full(G_OBJECT(window), "explorer-answer", dialog, answer_dialog_free);

        gtk_window_set_title(GTK_WINDOW(window), _("Answer the Request"));
        gtk_window_set_modal(GTK_WINDOW(window), TRUE);
        /* It answers through the view: it must not outlive the window the view is in. */
        gtk_window_set_destroy_with_parent(GTK_WINDOW(window), TRUE);
        gtk_window_set_transient_for(GTK_WINDOW(window), GTK_WINDOW(gtk_widget_get_root(GTK_WIDGET(self))));
        gtk_window_set_default_size(GTK_WINDOW(window), 560, 360);
        gtk_widget_set_name(window, "answer-dialog");

        adw_header_bar_set_show_end_title_buttons(ADW_HEADER_BAR(header), FALSE);
        adw_header_bar_pack_start(ADW_HEADER_BAR(header), cancel);
        adw_header_bar_pack_end(ADW_HEADER_BAR(header), send);
        gtk_widget_add_css_class(send, "suggested-action");
        gtk_widget_set_name(send, "answer-send");
        g_signal_connect_swapped(cancel, "clicked", G_CALLBACK(gtk_window_destroy), window);
        g_signal_connect(send, "clicked", G_CALLBACK(on_answer_send), dialog);

        gtk_label_set_xalign(GTK_LABEL(intro), 0);
        gtk_box_append(GTK_BOX(content), intro);
        gtk_box_append(GTK_BOX(content), GTK_WIDGET(dialog->editor));
        gtk_widget_set_margin_start(content, 12);
        gtk_widget_set_margin_end(content, 12);
        gtk_widget_set_margin_top(content, 12);
        gtk_widget_set_margin_bottom(content, 12);

        gtk_box_append(GTK_BOX(box), header);
        gtk_box_append(GTK_BOX(box), content);
        adw_window_set_content(ADW_WINDOW(window), box);
        gtk_window_set_default_widget(GTK_WINDOW(window), send);
        gtk_window_present(GTK_WINDOW(window));
}

/* ---- Transcript rows ----------------------------------------------------------------------- */

static const gchar *entry_css_class(EntryKind kind) {
        switch (kind) {
        case ENTRY_SENT:
                return "transcript-sent";
        case ENTRY_RESPONSE:
                return "transcript-response";
        case ENTRY_REQUEST:
                return "transcript-request";
        case ENTRY_ANSWER:
                return "transcript-answer";
        case ENTRY_ERROR:
                return "transcript-error";
        case ENTRY_INFO:
                break;
        }
        return "transcript-info";
}

static GtkWidget *small_label(const gchar *text, const gchar *css_class) {
        GtkWidget *label = gtk_label_new(text);

        gtk_label_set_xalign(GTK_LABEL(label), 0);
        gtk_label_set_yalign(GTK_LABEL(label), 0);
        gtk_label_set_wrap(GTK_LABEL(label), TRUE);
        gtk_label_set_wrap_mode(GTK_LABEL(label), PANGO_WRAP_WORD_CHAR);
        gtk_label_set_selectable(GTK_LABEL(label), TRUE);
        if (css_class)
                gtk_widget_add_css_class(label, css_class);
        return label;
}

/* The whole (bounded) value in a text view, which lays out only what it shows. */
static void on_show_value(GtkButton *button, gpointer user_data) {
        const gchar *key = g_object_get_data(G_OBJECT(button), "explorer-key");
        const gchar *text = g_object_get_data(G_OBJECT(button), "explorer-value");
        GtkWidget *window = adw_window_new();
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
        GtkWidget *scrolled = gtk_scrolled_window_new();
        GtkWidget *view = gtk_text_view_new();

        gtk_window_set_title(GTK_WINDOW(window), key);
        gtk_window_set_transient_for(GTK_WINDOW(window), GTK_WINDOW(gtk_widget_get_root(GTK_WIDGET(button))));
        gtk_window_set_destroy_with_parent(GTK_WINDOW(window), TRUE);
        gtk_window_set_default_size(GTK_WINDOW(window), 640, 480);
        gtk_widget_set_name(window, "value-window");
        gtk_text_buffer_set_text(gtk_text_view_get_buffer(GTK_TEXT_VIEW(view)), text, -1);
        gtk_text_view_set_editable(GTK_TEXT_VIEW(view), FALSE);
        gtk_text_view_set_monospace(GTK_TEXT_VIEW(view), TRUE);
        gtk_text_view_set_wrap_mode(GTK_TEXT_VIEW(view), GTK_WRAP_CHAR);
        gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scrolled), view);
        gtk_widget_set_vexpand(scrolled, TRUE);
        gtk_box_append(GTK_BOX(box), adw_header_bar_new());
        gtk_box_append(GTK_BOX(box), scrolled);
        adw_window_set_content(ADW_WINDOW(window), box);
        gtk_window_present(GTK_WINDOW(window));
}

static GtkWidget *show_value_button_new(ExplorerValueRow *row) {
        GtkWidget *button = gtk_button_new_with_mnemonic(_("_Whole Value"));

        gtk_widget_add_css_class(button, "flat");
        gtk_widget_set_valign(button, GTK_ALIGN_START);
        gtk_widget_set_name(button, "transcript-value-button");
        /* The row lives as long as its entry, which the row widget's binding keeps. */
        g_object_set_data(G_OBJECT(button), "explorer-key", row->key);
        g_object_set_data(G_OBJECT(button), "explorer-value", row->value);
        g_signal_connect(button, "clicked", G_CALLBACK(on_show_value), NULL);
        return button;
}

/* A one-line label, ellipsized: cheaper to measure than a wrapping one (keys, types). */
static GtkWidget *line_label(const gchar *text, const gchar *css_class, gint max_chars) {
        GtkWidget *label = small_label(text, css_class);

        gtk_label_set_wrap(GTK_LABEL(label), FALSE);
        gtk_label_set_selectable(GTK_LABEL(label), FALSE);
        gtk_label_set_ellipsize(GTK_LABEL(label), PANGO_ELLIPSIZE_END);
        gtk_label_set_max_width_chars(GTK_LABEL(label), max_chars);
        return label;
}

static GtkWidget *value_grid_new(ExplorerTranscriptEntry *entry) {
        GtkWidget *grid = gtk_grid_new();

        gtk_grid_set_column_spacing(GTK_GRID(grid), 12);
        gtk_grid_set_row_spacing(GTK_GRID(grid), 2);
        gtk_widget_set_name(grid, "transcript-values");
        if (entry->rows->len == 0 && entry->hidden == 0)
                gtk_grid_attach(GTK_GRID(grid), small_label(_("(empty ValueSet)"), "dim-label"), 0, 0, 3, 1);
        for (guint i = 0; i < entry->rows->len; i++) {
                ExplorerValueRow *row = g_ptr_array_index(entry->rows, i);
                GtkWidget *value = small_label(row->preview, "monospace");

                gtk_widget_set_hexpand(value, TRUE);
                gtk_grid_attach(GTK_GRID(grid), line_label(row->key, "caption-heading", 40), 0, (int) i, 1, 1);
                gtk_grid_attach(GTK_GRID(grid), line_label(row->type, "dim-label", 12), 1, (int) i, 1, 1);
                gtk_grid_attach(GTK_GRID(grid), value, 2, (int) i, 1, 1);
                if (row->cut)
                        gtk_grid_attach(GTK_GRID(grid), show_value_button_new(row), 3, (int) i, 1, 1);
        }
        if (entry->hidden > 0) {
                g_autofree gchar *more = g_strdup_printf(
                        g_dngettext(GETTEXT_PACKAGE, "…and %u more key", "…and %u more keys", entry->hidden),
                        entry->hidden);

                gtk_grid_attach(GTK_GRID(grid), small_label(more, "dim-label"), 0, (int) entry->rows->len, 3, 1);
        }
        return grid;
}

static void on_answer_clicked(GtkButton *button, ExplorerConnectionView *self) {
        ExplorerTranscriptEntry *entry = g_object_get_data(G_OBJECT(button), "explorer-entry");

        if (entry && !entry->answered && entry->request)
                open_answer_dialog(self, entry);
}

static void on_entry_answered(ExplorerTranscriptEntry *entry, GtkWidget *button) {
        gtk_widget_set_visible(button, FALSE);
}

static void transcript_setup(GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data) {
        GtkWidget *holder = adw_bin_new();

        gtk_widget_set_margin_top(holder, 4);
        gtk_widget_set_margin_bottom(holder, 4);
        gtk_widget_set_margin_start(holder, 6);
        gtk_widget_set_margin_end(holder, 6);
        gtk_list_item_set_child(item, holder);
        gtk_list_item_set_activatable(item, FALSE);
}

static void transcript_bind(GtkSignalListItemFactory *factory, GtkListItem *item, ExplorerConnectionView *self) {
        ExplorerTranscriptEntry *entry = gtk_list_item_get_item(item);
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 4);
        GtkWidget *header = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
        GtkWidget *title = small_label(entry->title, "heading");
        GtkWidget *time;

        gtk_widget_add_css_class(box, entry_css_class(entry->kind));
        gtk_widget_set_name(box, entry_css_class(entry->kind));
        time = small_label(entry->time, "dim-label");
        gtk_label_set_wrap(GTK_LABEL(time), FALSE);
        gtk_widget_add_css_class(time, "numeric");
        gtk_box_append(GTK_BOX(header), time);
        gtk_widget_set_hexpand(title, TRUE);
        gtk_box_append(GTK_BOX(header), title);
        if (entry->kind == ENTRY_REQUEST && !entry->answered) {
                GtkWidget *answer = gtk_button_new_with_mnemonic(_("_Answer"));

                gtk_widget_set_name(answer, "transcript-answer-button");
                gtk_widget_set_valign(answer, GTK_ALIGN_START);
                g_object_set_data(G_OBJECT(answer), "explorer-entry", entry);
                g_signal_connect(answer, "clicked", G_CALLBACK(on_answer_clicked), self);
                g_signal_connect_object(entry, "answered", G_CALLBACK(on_entry_answered), answer, 0);
                gtk_box_append(GTK_BOX(header), answer);
        }
        gtk_box_append(GTK_BOX(box), header);
        if (entry->sentence)
                gtk_box_append(GTK_BOX(box), small_label(entry->sentence, "error"));
        if (entry->detail) {
                GtkWidget *detail = small_label(entry->detail, "caption");

                gtk_widget_add_css_class(detail, "dim-label");
                gtk_box_append(GTK_BOX(box), detail);
        }
        if (entry->rows)
                gtk_box_append(GTK_BOX(box), value_grid_new(entry));
        adw_bin_set_child(ADW_BIN(gtk_list_item_get_child(item)), box);
}

static void transcript_unbind(GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data) {
        adw_bin_set_child(ADW_BIN(gtk_list_item_get_child(item)), NULL);
}

/* ---- Construction -------------------------------------------------------------------------- */

static GtkWidget *button_for(const gchar *mnemonic, const gchar *action, const gchar *name) {
        GtkWidget *button = gtk_button_new_with_mnemonic(mnemonic);

        gtk_actionable_set_action_name(GTK_ACTIONABLE(button), action);
        gtk_widget_set_name(button, name);
        return button;
}

static GtkWidget *transcript_new(ExplorerConnectionView *self) {
        GtkListItemFactory *factory = gtk_signal_list_item_factory_new();
        GtkWidget *scrolled = gtk_scrolled_window_new();

        g_signal_connect(factory, "setup", G_CALLBACK(transcript_setup), NULL);
        g_signal_connect(factory, "bind", G_CALLBACK(transcript_bind), self);
        g_signal_connect(factory, "unbind", G_CALLBACK(transcript_unbind), NULL);
        self->transcript = g_list_store_new(EXPLORER_TYPE_TRANSCRIPT_ENTRY);
        self->transcript_view = GTK_LIST_VIEW(gtk_list_view_new(
                GTK_SELECTION_MODEL(gtk_no_selection_new(G_LIST_MODEL(g_object_ref(self->transcript)))), factory));
        gtk_widget_set_name(GTK_WIDGET(self->transcript_view), "transcript");
        gtk_accessible_update_property(GTK_ACCESSIBLE(self->transcript_view), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       _("Transcript"), -1);
        gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scrolled), GTK_WIDGET(self->transcript_view));
        gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
        self->vadjustment = gtk_scrolled_window_get_vadjustment(GTK_SCROLLED_WINDOW(scrolled));
        gtk_widget_set_vexpand(scrolled, TRUE);
        gtk_widget_set_size_request(scrolled, -1, 120);
        gtk_widget_add_css_class(scrolled, "card");
        return scrolled;
}

static void explorer_connection_view_init(ExplorerConnectionView *self) {
        GtkWidget *bar = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
        GtkWidget *send_bar = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
        GtkWidget *send = button_for(_("_Send"), "win.send", "send-button");
        GtkWidget *composer_title = gtk_label_new(_("Message"));

        gtk_orientable_set_orientation(GTK_ORIENTABLE(self), GTK_ORIENTATION_VERTICAL);
        gtk_box_set_spacing(GTK_BOX(self), 8);
        g_queue_init(&self->unanswered);
        self->pending = g_ptr_array_new_with_free_func(g_object_unref);
        self->cancellable = g_cancellable_new();

        self->title = GTK_LABEL(gtk_label_new(NULL));
        gtk_label_set_xalign(self->title, 0);
        gtk_label_set_ellipsize(self->title, PANGO_ELLIPSIZE_END);
        gtk_widget_set_hexpand(GTK_WIDGET(self->title), TRUE);
        gtk_widget_add_css_class(GTK_WIDGET(self->title), "title-4");
        gtk_widget_set_name(GTK_WIDGET(self->title), "connection-title");
        gtk_box_append(GTK_BOX(bar), GTK_WIDGET(self->title));
        self->open_button = button_for(_("_Open Connection"), "win.open-connection", "open-button");
        gtk_box_append(GTK_BOX(bar), self->open_button);
        gtk_box_append(GTK_BOX(bar), button_for(_("C_lose Connection"), "win.close-connection", "close-button"));

        gtk_label_set_xalign(GTK_LABEL(composer_title), 0);
        gtk_widget_add_css_class(composer_title, "heading");
        self->editor = EXPLORER_VALUE_SET_EDITOR(explorer_value_set_editor_new());
        gtk_widget_set_name(GTK_WIDGET(self->editor), "composer");
        gtk_widget_add_css_class(send, "suggested-action");
        gtk_widget_set_halign(send_bar, GTK_ALIGN_END);
        gtk_box_append(GTK_BOX(send_bar), send);

        gtk_box_append(GTK_BOX(self), bar);
        gtk_box_append(GTK_BOX(self), composer_title);
        gtk_box_append(GTK_BOX(self), GTK_WIDGET(self->editor));
        gtk_box_append(GTK_BOX(self), send_bar);
        gtk_box_append(GTK_BOX(self), transcript_new(self));
        update_title(self);
}

static void explorer_connection_view_dispose(GObject *object) {
        ExplorerConnectionView *self = EXPLORER_CONNECTION_VIEW(object);

        if (self->cancellable)
                g_cancellable_cancel(self->cancellable);
        if (self->connection)
                g_signal_handlers_disconnect_by_data(self->connection, self);
        g_clear_object(&self->connection);
        if (self->top_tick != 0 && self->transcript_view)
                gtk_widget_remove_tick_callback(GTK_WIDGET(self->transcript_view), self->top_tick);
        self->top_tick = 0;
        g_clear_handle_id(&self->flush_source, g_source_remove);
        g_queue_clear(&self->unanswered);
        if (self->pending)
                g_ptr_array_set_size(self->pending, 0);
        g_clear_object(&self->transcript);
        G_OBJECT_CLASS(explorer_connection_view_parent_class)->dispose(object);
}

static void explorer_connection_view_finalize(GObject *object) {
        ExplorerConnectionView *self = EXPLORER_CONNECTION_VIEW(object);

        g_clear_object(&self->cancellable);
        g_clear_pointer(&self->pending, g_ptr_array_unref);
        g_free(self->service_name);
        G_OBJECT_CLASS(explorer_connection_view_parent_class)->finalize(object);
}

static void explorer_connection_view_class_init(ExplorerConnectionViewClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->dispose = explorer_connection_view_dispose;
        object_class->finalize = explorer_connection_view_finalize;
        signals[SIGNAL_CHANGED] = g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                               NULL, NULL, G_TYPE_NONE, 0);
}

GtkWidget *explorer_connection_view_new(void) {
        return g_object_new(EXPLORER_TYPE_CONNECTION_VIEW, NULL);
}
