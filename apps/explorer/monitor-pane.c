/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "explorer-config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "errors.h"
#include "monitor-pane.h"
#include "value-format.h"

/* ---- One event, formatted once --------------------------------------------------------------- */

#define EXPLORER_TYPE_MONITOR_EVENT (explorer_monitor_event_get_type())
G_DECLARE_FINAL_TYPE(ExplorerMonitorEvent, explorer_monitor_event, EXPLORER, MONITOR_EVENT, GObject)

struct _ExplorerMonitorEvent {
        GObject parent_instance;

        gchar *time;
        gchar *type;
        gchar *service;
        gchar *details;
};

G_DEFINE_FINAL_TYPE(ExplorerMonitorEvent, explorer_monitor_event, G_TYPE_OBJECT)

static void explorer_monitor_event_finalize(GObject *object) {
        ExplorerMonitorEvent *self = EXPLORER_MONITOR_EVENT(object);

        g_free(self->time);
        g_free(self->type);
        g_free(self->service);
        g_free(self->details);
        G_OBJECT_CLASS(explorer_monitor_event_parent_class)->finalize(object);
}

static void explorer_monitor_event_class_init(ExplorerMonitorEventClass *klass) {
        G_OBJECT_CLASS(klass)->finalize = explorer_monitor_event_finalize;
}

static void explorer_monitor_event_init(ExplorerMonitorEvent *self) {
}

static gchar *format_time(GVariant *event) {
        guint64 usec = 0;
        g_autoptr(GDateTime) utc = NULL;
        g_autoptr(GDateTime) local = NULL;
        g_autofree gchar *seconds = NULL;

        if (!g_variant_lookup(event, "timestamp", "t", &usec) ||
            !(utc = g_date_time_new_from_unix_utc((gint64) (usec / G_USEC_PER_SEC))))
                return g_strdup("—");
        local = g_date_time_to_local(utc);
        seconds = g_date_time_format(local, "%H:%M:%S");
        return g_strdup_printf("%s.%03u", seconds, (guint) (usec % G_USEC_PER_SEC / 1000));
}

/* The keys other than the ones with a column of their own, as "key=value" pairs. */
static gchar *format_details(GVariant *event) {
        g_autoptr(GString) text = g_string_new(NULL);
        GVariantIter iter;
        const gchar *key;
        GVariant *value;

        g_variant_iter_init(&iter, event);
        while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
                g_autoptr(GVariant) owned = value;
                g_autofree gchar *printed = NULL;

                if (g_str_equal(key, "timestamp") || g_str_equal(key, "service"))
                        continue;
                if (text->len >= 2 * EXPLORER_VALUE_PREVIEW_MAX)
                        break;
                printed = g_variant_is_of_type(owned, G_VARIANT_TYPE_STRING) ? g_variant_dup_string(owned, NULL)
                                                                               : g_variant_print(owned, FALSE);
                g_string_append_printf(text, "%s%s=%s", text->len ? "  " : "", key, printed);
        }
        /* A line of the list: the preview's bound (a label shapes all its text at each measure). */
        return explorer_format_truncate(text->str, 2 * EXPLORER_VALUE_PREVIEW_MAX);
}

static ExplorerMonitorEvent *monitor_event_new(const gchar *type, GVariant *event) {
        ExplorerMonitorEvent *self = g_object_new(EXPLORER_TYPE_MONITOR_EVENT, NULL);
        const gchar *service = NULL;

        self->time = format_time(event);
        self->type = explorer_format_truncate(type, 256);
        g_variant_lookup(event, "service", "&s", &service);
        self->service = explorer_format_truncate(service ? service : "", 256);
        self->details = format_details(event);
        return self;
}

/* ---- The pane -------------------------------------------------------------------------------- */

struct _ExplorerMonitorPane {
        GtkBox parent_instance;

        AppServiceNode *node;
        GCancellable *cancellable;      /* the pending start; cancelled when unmapped */
        gulong event_handler;
        gboolean wanted;                /* mapped: monitoring should run */

        GtkStack *stack;                /* "events", "starting", "not-authorized", "error" */
        AdwStatusPage *error_page;
        GListStore *events;
        GtkLabel *count;
        GtkAdjustment *vadjustment;     /* the events' scrolling */
        guint top_tick;                 /* holding the view at the top, for a few frames */
        guint top_frames;
};

/* Rows get their real height in the frames after they come, and the list keeps its first
 * visible row in place when rows come above it: the view is held at the top (the newest) for a
 * few frames after each event, unless the user scrolled away. */
#define TOP_FRAMES 4

G_DEFINE_FINAL_TYPE(ExplorerMonitorPane, explorer_monitor_pane, GTK_TYPE_BOX)

static gboolean hold_top(GtkWidget *widget, GdkFrameClock *clock, gpointer user_data) {
        ExplorerMonitorPane *self = user_data;

        gtk_adjustment_set_value(self->vadjustment, 0);
        if (--self->top_frames > 0)
                return G_SOURCE_CONTINUE;
        self->top_tick = 0;
        return G_SOURCE_REMOVE;
}

static void keep_newest_in_view(ExplorerMonitorPane *self) {
        if (gtk_adjustment_get_value(self->vadjustment) >= 1 && self->top_tick == 0)
                return;
        self->top_frames = TOP_FRAMES;
        if (self->top_tick == 0)
                self->top_tick = gtk_widget_add_tick_callback(GTK_WIDGET(self), hold_top, self, NULL);
}

static void on_monitor_event(AppServiceNode *node, const gchar *type, GVariant *event, ExplorerMonitorPane *self) {
        g_autoptr(ExplorerMonitorEvent) item = NULL;
        g_autofree gchar *count = NULL;
        guint n;

        if (!g_variant_is_of_type(event, G_VARIANT_TYPE_VARDICT))
                return;
        item = monitor_event_new(type, event);
        n = g_list_model_get_n_items(G_LIST_MODEL(self->events));
        /* Newest first: the latest event is on top without scrolling. */
        if (n >= EXPLORER_MONITOR_MAX)
                g_list_store_remove(self->events, n - 1);
        g_list_store_insert(self->events, 0, item);
        keep_newest_in_view(self);
        n = g_list_model_get_n_items(G_LIST_MODEL(self->events));
        count = g_strdup_printf(g_dngettext(GETTEXT_PACKAGE, "%u event (the newest on top)",
                                            "%u events (the newest on top)", n),
                                n);
        gtk_label_set_text(self->count, count);
}

static void show_error(ExplorerMonitorPane *self, const GError *error) {
        g_autofree gchar *sentence = explorer_error_describe(error);
        g_autofree gchar *technical = explorer_error_technical(error);
        g_autofree gchar *a = g_markup_escape_text(sentence, -1);
        g_autofree gchar *b = g_markup_escape_text(technical, -1);
        g_autofree gchar *text = g_strdup_printf("%s\n\n<small>%s</small>", a, b);

        adw_status_page_set_description(self->error_page, text);
        gtk_stack_set_visible_child_name(self->stack, "error");
}

static void on_started(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(ExplorerMonitorPane) self = user_data;
        g_autoptr(GError) error = NULL;
        gboolean ok = app_service_node_start_monitoring_finish(APP_SERVICE_NODE(source), result, &error);

        if (!self->wanted || g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
                /* Unmapped (or gone) while starting: the page is not shown; undo a start that
                 * made it anyway. */
                if (ok && !self->wanted)
                        app_service_node_stop_monitoring(APP_SERVICE_NODE(source), NULL, NULL, NULL);
                return;
        }
        if (!ok) {
                if (g_error_matches(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_NOT_AUTHORIZED) ||
                    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
                        gtk_stack_set_visible_child_name(self->stack, "not-authorized");
                else
                        show_error(self, error);
                return;
        }
        gtk_stack_set_visible_child_name(self->stack, "events");
}

static void start(ExplorerMonitorPane *self) {
        self->wanted = TRUE;
        if (!self->node)
                return;
        if (self->event_handler == 0)
                self->event_handler = g_signal_connect(self->node, "monitor-event", G_CALLBACK(on_monitor_event), self);
        g_cancellable_cancel(self->cancellable);
        g_clear_object(&self->cancellable);
        self->cancellable = g_cancellable_new();
        gtk_stack_set_visible_child_name(self->stack, "starting");
        app_service_node_start_monitoring(self->node, self->cancellable, on_started, g_object_ref(self));
}

static void stop(ExplorerMonitorPane *self) {
        self->wanted = FALSE;
        if (self->cancellable)
                g_cancellable_cancel(self->cancellable);
        g_clear_object(&self->cancellable);
        if (!self->node)
                return;
        g_clear_signal_handler(&self->event_handler, self->node);
        if (app_service_node_get_monitoring(self->node))
                app_service_node_stop_monitoring(self->node, NULL, NULL, NULL);
}

static void on_map(GtkWidget *widget, ExplorerMonitorPane *self) {
        start(self);
}

static void on_unmap(GtkWidget *widget, ExplorerMonitorPane *self) {
        stop(self);
}

static GtkWidget *cell(const gchar *name, gint chars, gboolean expand) {
        GtkWidget *label = gtk_label_new(NULL);

        gtk_label_set_xalign(GTK_LABEL(label), 0);
        gtk_label_set_yalign(GTK_LABEL(label), 0);
        gtk_widget_set_name(label, name);
        if (chars > 0)
                gtk_label_set_width_chars(GTK_LABEL(label), chars);
        if (expand) {
                gtk_widget_set_hexpand(label, TRUE);
                gtk_label_set_wrap(GTK_LABEL(label), TRUE);
                gtk_label_set_wrap_mode(GTK_LABEL(label), PANGO_WRAP_WORD_CHAR);
                /* A wrapping label asks for the width of its whole text otherwise. */
                gtk_label_set_width_chars(GTK_LABEL(label), 16);
                gtk_label_set_max_width_chars(GTK_LABEL(label), 48);
                gtk_label_set_selectable(GTK_LABEL(label), TRUE);
        } else {
                gtk_label_set_ellipsize(GTK_LABEL(label), PANGO_ELLIPSIZE_END);
                gtk_label_set_max_width_chars(GTK_LABEL(label), chars);
        }
        return label;
}

static void event_setup(GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data) {
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
        GtkWidget *time = cell("event-time", 12, FALSE);
        GtkWidget *type = cell("event-type", 20, FALSE);
        GtkWidget *service = cell("event-service", 24, FALSE);
        GtkWidget *details = cell("event-details", 0, TRUE);

        gtk_widget_add_css_class(time, "numeric");
        gtk_widget_add_css_class(type, "heading");
        gtk_widget_add_css_class(details, "monospace");
        gtk_widget_add_css_class(details, "caption");
        gtk_box_append(GTK_BOX(box), time);
        gtk_box_append(GTK_BOX(box), type);
        gtk_box_append(GTK_BOX(box), service);
        gtk_box_append(GTK_BOX(box), details);
        gtk_widget_set_margin_start(box, 6);
        gtk_widget_set_margin_end(box, 6);
        gtk_widget_set_margin_top(box, 3);
        gtk_widget_set_margin_bottom(box, 3);
        gtk_list_item_set_child(item, box);
}

static void event_bind(GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data) {
        ExplorerMonitorEvent *event = gtk_list_item_get_item(item);
        GtkWidget *label = gtk_widget_get_first_child(gtk_list_item_get_child(item));

        gtk_label_set_text(GTK_LABEL(label), event->time);
        label = gtk_widget_get_next_sibling(label);
        gtk_label_set_text(GTK_LABEL(label), event->type);
        label = gtk_widget_get_next_sibling(label);
        gtk_label_set_text(GTK_LABEL(label), event->service);
        label = gtk_widget_get_next_sibling(label);
        gtk_label_set_text(GTK_LABEL(label), event->details);
}

static GtkWidget *events_page_new(ExplorerMonitorPane *self) {
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
        GtkWidget *scrolled = gtk_scrolled_window_new();
        GtkListItemFactory *factory = gtk_signal_list_item_factory_new();
        GtkWidget *view;

        g_signal_connect(factory, "setup", G_CALLBACK(event_setup), NULL);
        g_signal_connect(factory, "bind", G_CALLBACK(event_bind), NULL);
        self->events = g_list_store_new(EXPLORER_TYPE_MONITOR_EVENT);
        view = gtk_list_view_new(GTK_SELECTION_MODEL(gtk_no_selection_new(G_LIST_MODEL(g_object_ref(self->events)))),
                                 factory);
        gtk_widget_set_name(view, "monitor-events");
        gtk_accessible_update_property(GTK_ACCESSIBLE(view), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Broker events"), -1);
        gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scrolled), view);
        gtk_widget_set_vexpand(scrolled, TRUE);
        /* No horizontal scrolling: the details wrap to the window's width. */
        gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
        self->vadjustment = gtk_scrolled_window_get_vadjustment(GTK_SCROLLED_WINDOW(scrolled));

        self->count = GTK_LABEL(gtk_label_new(_("Waiting for the broker's events…")));
        gtk_label_set_xalign(self->count, 0);
        gtk_widget_add_css_class(GTK_WIDGET(self->count), "dim-label");
        gtk_widget_set_name(GTK_WIDGET(self->count), "monitor-count");
        gtk_widget_set_margin_start(GTK_WIDGET(self->count), 12);
        gtk_widget_set_margin_top(GTK_WIDGET(self->count), 6);
        gtk_box_append(GTK_BOX(box), GTK_WIDGET(self->count));
        gtk_box_append(GTK_BOX(box), scrolled);
        return box;
}

static void explorer_monitor_pane_init(ExplorerMonitorPane *self) {
        GtkWidget *not_authorized = adw_status_page_new();
        GtkWidget *starting = adw_status_page_new();

        gtk_orientable_set_orientation(GTK_ORIENTABLE(self), GTK_ORIENTATION_VERTICAL);
        gtk_widget_set_name(GTK_WIDGET(self), "monitor-pane");

        adw_status_page_set_icon_name(ADW_STATUS_PAGE(not_authorized), "system-lock-screen-symbolic");
        adw_status_page_set_title(ADW_STATUS_PAGE(not_authorized), _("Only for Administrators"));
        adw_status_page_set_description(ADW_STATUS_PAGE(not_authorized),
                                        _("The broker shows its live events to root and to users polkit "
                                          "authorizes for managing app services. Run the explorer as root, "
                                          "or ask your administrator for that authorization."));
        gtk_widget_set_name(not_authorized, "monitor-not-authorized");
        adw_status_page_set_icon_name(ADW_STATUS_PAGE(starting), "content-loading-symbolic");
        adw_status_page_set_title(ADW_STATUS_PAGE(starting), _("Starting the Monitor…"));
        self->error_page = ADW_STATUS_PAGE(adw_status_page_new());
        adw_status_page_set_icon_name(self->error_page, "dialog-warning-symbolic");
        adw_status_page_set_title(self->error_page, _("The Monitor Could Not Start"));
        gtk_widget_set_name(GTK_WIDGET(self->error_page), "monitor-error");

        self->stack = GTK_STACK(gtk_stack_new());
        gtk_stack_add_named(self->stack, starting, "starting");
        gtk_stack_add_named(self->stack, events_page_new(self), "events");
        gtk_stack_add_named(self->stack, not_authorized, "not-authorized");
        gtk_stack_add_named(self->stack, GTK_WIDGET(self->error_page), "error");
        gtk_widget_set_vexpand(GTK_WIDGET(self->stack), TRUE);
        gtk_box_append(GTK_BOX(self), GTK_WIDGET(self->stack));

        g_signal_connect(self, "map", G_CALLBACK(on_map), self);
        g_signal_connect(self, "unmap", G_CALLBACK(on_unmap), self);
}

static void explorer_monitor_pane_dispose(GObject *object) {
        ExplorerMonitorPane *self = EXPLORER_MONITOR_PANE(object);

        stop(self);
        if (self->top_tick) {
                gtk_widget_remove_tick_callback(GTK_WIDGET(self), self->top_tick);
                self->top_tick = 0;
        }
        g_clear_object(&self->node);
        g_clear_object(&self->events);
        G_OBJECT_CLASS(explorer_monitor_pane_parent_class)->dispose(object);
}

static void explorer_monitor_pane_class_init(ExplorerMonitorPaneClass *klass) {
        G_OBJECT_CLASS(klass)->dispose = explorer_monitor_pane_dispose;
}

GtkWidget *explorer_monitor_pane_new(AppServiceNode *node) {
        ExplorerMonitorPane *self = g_object_new(EXPLORER_TYPE_MONITOR_PANE, NULL);

        self->node = g_object_ref(node);
        return GTK_WIDGET(self);
}
