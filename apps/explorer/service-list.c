/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "explorer-config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "errors.h"
#include "service-list.h"

struct _ExplorerServiceList {
        GtkBox parent_instance;

        GtkStack *stack;             /* "loading", "list", "error" */
        GtkListView *view;
        GtkSingleSelection *selection;
        AdwStatusPage *error_page;
};

G_DEFINE_FINAL_TYPE(ExplorerServiceList, explorer_service_list, GTK_TYPE_BOX)

enum {
        SIGNAL_SELECTION_CHANGED,
        SIGNAL_SERVICE_ACTIVATED,
        N_SIGNALS,
};
static guint signals[N_SIGNALS];

/* The widgets of one row, kept on the row's box. */
typedef struct {
        GtkWidget *name;
        GtkWidget *description;
        GtkWidget *provider;
        GtkWidget *state;
        GtkWidget *lock;
        gchar *state_class;
} ServiceRow;

static void service_row_free(gpointer data) {
        ServiceRow *row = data;

        g_free(row->state_class);
        g_free(row);
}

/* The state in words, for the badge. The broker's words stay the CSS class. */
static const gchar *state_label(const gchar *state) {
        if (g_strcmp0(state, "inactive") == 0)
                return C_("service state", "inactive");
        if (g_strcmp0(state, "activating") == 0)
                return C_("service state", "starting");
        if (g_strcmp0(state, "active") == 0)
                return C_("service state", "active");
        if (g_strcmp0(state, "failed") == 0)
                return C_("service state", "failed");
        if (g_strcmp0(state, "disabled") == 0)
                return C_("service state", "disabled");
        return C_("service state", "unknown");
}

static void row_setup(GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data) {
        ServiceRow *row = g_new0(ServiceRow, 1);
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
        GtkWidget *text = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);

        gtk_widget_set_margin_top(box, 6);
        gtk_widget_set_margin_bottom(box, 6);
        gtk_widget_set_margin_start(box, 6);
        gtk_widget_set_margin_end(box, 6);

        row->name = gtk_label_new(NULL);
        gtk_label_set_xalign(GTK_LABEL(row->name), 0);
        gtk_label_set_ellipsize(GTK_LABEL(row->name), PANGO_ELLIPSIZE_END);
        gtk_widget_add_css_class(row->name, "heading");
        row->description = gtk_label_new(NULL);
        gtk_label_set_xalign(GTK_LABEL(row->description), 0);
        gtk_label_set_ellipsize(GTK_LABEL(row->description), PANGO_ELLIPSIZE_END);
        row->provider = gtk_label_new(NULL);
        gtk_label_set_xalign(GTK_LABEL(row->provider), 0);
        gtk_label_set_ellipsize(GTK_LABEL(row->provider), PANGO_ELLIPSIZE_END);
        gtk_widget_add_css_class(row->provider, "caption");
        gtk_widget_add_css_class(row->provider, "dim-label");
        gtk_box_append(GTK_BOX(text), row->name);
        gtk_box_append(GTK_BOX(text), row->description);
        gtk_box_append(GTK_BOX(text), row->provider);
        gtk_widget_set_hexpand(text, TRUE);

        row->lock = gtk_image_new_from_icon_name("system-lock-screen-symbolic");
        gtk_widget_set_tooltip_text(row->lock, _("You may not open this service"));
        gtk_widget_set_valign(row->lock, GTK_ALIGN_CENTER);
        row->state = gtk_label_new(NULL);
        gtk_widget_set_valign(row->state, GTK_ALIGN_CENTER);
        gtk_widget_add_css_class(row->state, "explorer-state");
        gtk_widget_add_css_class(row->state, "caption");

        gtk_box_append(GTK_BOX(box), text);
        gtk_box_append(GTK_BOX(box), row->lock);
        gtk_box_append(GTK_BOX(box), row->state);
        g_object_set_data_full(G_OBJECT(box), "explorer-row", row, service_row_free);
        gtk_list_item_set_child(item, box);
}

static void row_update(AppServiceInfo *info, GParamSpec *pspec, GtkWidget *box) {
        ServiceRow *row = g_object_get_data(G_OBJECT(box), "explorer-row");
        const gchar *description = app_service_info_get_description(info);
        const gchar *state = app_service_info_get_state(info);
        gboolean may_open = app_service_info_get_may_open(info);
        g_autofree gchar *provider = g_strdup_printf(_("by %s"), app_service_info_get_provider(info));
        g_autofree gchar *state_class = g_strdup_printf("state-%s", state ? state : "unknown");
        g_autofree gchar *accessible = NULL;

        gtk_label_set_text(GTK_LABEL(row->name), app_service_info_get_name(info));
        gtk_label_set_text(GTK_LABEL(row->description), description ? description : "");
        gtk_widget_set_visible(row->description, description && *description);
        gtk_label_set_text(GTK_LABEL(row->provider), provider);
        gtk_label_set_text(GTK_LABEL(row->state), state_label(state));
        if (row->state_class)
                gtk_widget_remove_css_class(row->state, row->state_class);
        gtk_widget_add_css_class(row->state, state_class);
        g_free(row->state_class);
        row->state_class = g_steal_pointer(&state_class);
        gtk_widget_set_visible(row->lock, !may_open);
        gtk_widget_set_opacity(box, may_open ? 1.0 : 0.55);

        /* One name that says it all for screen readers and the tests: "name, state". */
        accessible = g_strdup_printf("%s, %s", app_service_info_get_name(info), state_label(state));
        gtk_accessible_update_property(GTK_ACCESSIBLE(box), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
        /* The row that takes the keyboard focus is the list's own item widget around the box
         * (GTK 4.8 has no way to make the box itself the focusable one): it gets the label
         * too, so a screen reader says which service has the focus. */
        if (gtk_widget_get_parent(box))
                gtk_accessible_update_property(GTK_ACCESSIBLE(gtk_widget_get_parent(box)),
                                               GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
}

static void row_bind(GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data) {
        AppServiceInfo *info = gtk_list_item_get_item(item);
        GtkWidget *box = gtk_list_item_get_child(item);

        row_update(info, NULL, box);
        /* The same AppServiceInfo stays for a service across the broker's updates: its notify
         * keeps the row live. */
        g_signal_connect_object(info, "notify", G_CALLBACK(row_update), box, 0);
}

static void row_unbind(GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data) {
        AppServiceInfo *info = gtk_list_item_get_item(item);

        g_signal_handlers_disconnect_by_func(info, row_update, gtk_list_item_get_child(item));
}

static void on_selected(GtkSingleSelection *selection, GParamSpec *pspec, ExplorerServiceList *self) {
        g_signal_emit(self, signals[SIGNAL_SELECTION_CHANGED], 0);
}

static void on_activate(GtkListView *view, guint position, ExplorerServiceList *self) {
        g_autoptr(AppServiceInfo) info = g_list_model_get_item(G_LIST_MODEL(self->selection), position);

        if (info)
                g_signal_emit(self, signals[SIGNAL_SERVICE_ACTIVATED], 0, info);
}

static void explorer_service_list_init(ExplorerServiceList *self) {
        GtkListItemFactory *factory = gtk_signal_list_item_factory_new();
        GtkWidget *scrolled = gtk_scrolled_window_new();
        GtkWidget *spinner = gtk_spinner_new();

        gtk_orientable_set_orientation(GTK_ORIENTABLE(self), GTK_ORIENTATION_VERTICAL);
        g_signal_connect(factory, "setup", G_CALLBACK(row_setup), NULL);
        g_signal_connect(factory, "bind", G_CALLBACK(row_bind), NULL);
        g_signal_connect(factory, "unbind", G_CALLBACK(row_unbind), NULL);

        self->selection = gtk_single_selection_new(NULL);
        gtk_single_selection_set_autoselect(self->selection, FALSE);
        gtk_single_selection_set_can_unselect(self->selection, TRUE);
        g_signal_connect(self->selection, "notify::selected-item", G_CALLBACK(on_selected), self);

        self->view = GTK_LIST_VIEW(gtk_list_view_new(GTK_SELECTION_MODEL(g_object_ref(self->selection)), factory));
        gtk_widget_set_name(GTK_WIDGET(self->view), "service-list");
        gtk_widget_add_css_class(GTK_WIDGET(self->view), "navigation-sidebar");
        gtk_accessible_update_property(GTK_ACCESSIBLE(self->view), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       _("App services"), -1);
        g_signal_connect(self->view, "activate", G_CALLBACK(on_activate), self);
        gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scrolled), GTK_WIDGET(self->view));
        gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);

        self->error_page = ADW_STATUS_PAGE(adw_status_page_new());
        adw_status_page_set_icon_name(self->error_page, "dialog-warning-symbolic");
        adw_status_page_set_title(self->error_page, _("No App Services"));
        gtk_widget_set_name(GTK_WIDGET(self->error_page), "service-list-error");

        gtk_spinner_start(GTK_SPINNER(spinner));
        gtk_widget_set_halign(spinner, GTK_ALIGN_CENTER);
        gtk_widget_set_valign(spinner, GTK_ALIGN_CENTER);
        gtk_widget_set_size_request(spinner, 32, 32);

        self->stack = GTK_STACK(gtk_stack_new());
        gtk_stack_add_named(self->stack, spinner, "loading");
        gtk_stack_add_named(self->stack, scrolled, "list");
        gtk_stack_add_named(self->stack, GTK_WIDGET(self->error_page), "error");
        gtk_stack_set_visible_child_name(self->stack, "loading");
        gtk_widget_set_vexpand(GTK_WIDGET(self->stack), TRUE);
        gtk_box_append(GTK_BOX(self), GTK_WIDGET(self->stack));
}

static void explorer_service_list_dispose(GObject *object) {
        ExplorerServiceList *self = EXPLORER_SERVICE_LIST(object);

        if (self->selection)
                g_signal_handlers_disconnect_by_data(self->selection, self);
        g_clear_object(&self->selection);
        G_OBJECT_CLASS(explorer_service_list_parent_class)->dispose(object);
}

static void explorer_service_list_class_init(ExplorerServiceListClass *klass) {
        G_OBJECT_CLASS(klass)->dispose = explorer_service_list_dispose;

        signals[SIGNAL_SELECTION_CHANGED] = g_signal_new("selection-changed", G_TYPE_FROM_CLASS(klass),
                                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
        signals[SIGNAL_SERVICE_ACTIVATED] = g_signal_new("service-activated", G_TYPE_FROM_CLASS(klass),
                                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                                                         APP_SERVICE_TYPE_INFO);
}

GtkWidget *explorer_service_list_new(void) {
        return g_object_new(EXPLORER_TYPE_SERVICE_LIST, NULL);
}

void explorer_service_list_set_model(ExplorerServiceList *self, GListModel *model) {
        g_return_if_fail(EXPLORER_IS_SERVICE_LIST(self));

        gtk_single_selection_set_model(self->selection, model);
        gtk_single_selection_set_selected(self->selection, GTK_INVALID_LIST_POSITION);
        gtk_stack_set_visible_child_name(self->stack, "list");
}

void explorer_service_list_show_error(ExplorerServiceList *self, const GError *error) {
        g_autofree gchar *sentence = explorer_error_describe(error);
        g_autofree gchar *technical = explorer_error_technical(error);
        g_autofree gchar *escaped_sentence = g_markup_escape_text(sentence, -1);
        g_autofree gchar *escaped_technical = g_markup_escape_text(technical, -1);
        g_autofree gchar *text = NULL;

        /* A status page's description is markup. */
        text = g_strdup_printf("%s\n%s\n\n<small>%s</small>", escaped_sentence,
                               _("The list appears here as soon as the broker runs."), escaped_technical);
        adw_status_page_set_description(self->error_page, text);
        gtk_stack_set_visible_child_name(self->stack, "error");
}

AppServiceInfo *explorer_service_list_get_selected(ExplorerServiceList *self) {
        g_return_val_if_fail(EXPLORER_IS_SERVICE_LIST(self), NULL);

        return gtk_single_selection_get_selected_item(self->selection);
}

gboolean explorer_service_list_select(ExplorerServiceList *self, const gchar *name) {
        GListModel *model = G_LIST_MODEL(self->selection);
        guint n = g_list_model_get_n_items(model);

        for (guint i = 0; i < n; i++) {
                g_autoptr(AppServiceInfo) info = g_list_model_get_item(model, i);

                if (g_strcmp0(app_service_info_get_name(info), name) == 0) {
                        gtk_single_selection_set_selected(self->selection, i);
                        gtk_widget_activate_action(GTK_WIDGET(self->view), "list.scroll-to-item", "u", i);
                        return TRUE;
                }
        }
        return FALSE;
}
