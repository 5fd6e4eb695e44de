/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "explorer-config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "service-page.h"

struct _ExplorerServicePage {
        GtkBox parent_instance;

        AppServiceInfo *info;
        AdwPreferencesGroup *details;
        GtkWidget *placeholder;         /* shown instead of the details while none is selected */
        AdwActionRow *provider;
        AdwActionRow *description;
        AdwActionRow *state;
        AdwActionRow *may_open;
        AdwActionRow *activatable;
        AdwActionRow *object_path;
        ExplorerConnectionView *connection_view;
};

G_DEFINE_FINAL_TYPE(ExplorerServicePage, explorer_service_page, GTK_TYPE_BOX)

static void set_row(AdwActionRow *row, const gchar *value) {
        adw_action_row_set_subtitle(row, value && *value ? value : "—");
}

static void update(ExplorerServicePage *self) {
        AppServiceInfo *info = self->info;

        gtk_widget_set_visible(self->placeholder, info == NULL);
        gtk_widget_set_visible(GTK_WIDGET(self->details), info != NULL);
        if (!info)
                return;
        adw_preferences_group_set_title(self->details, app_service_info_get_name(info));
        set_row(self->provider, app_service_info_get_provider(info));
        set_row(self->description, app_service_info_get_description(info));
        set_row(self->state, app_service_info_get_state(info));
        set_row(self->may_open, app_service_info_get_may_open(info) ? _("Yes") : _("No: the service does not allow you"));
        set_row(self->activatable, app_service_info_get_activatable(info)
                                           ? _("Yes: the broker starts its provider on demand")
                                           : _("No: its provider starts by itself"));
        set_row(self->object_path, app_service_info_get_object_path(info));
}

static GtkWidget *placeholder_new(void) {
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 4);
        GtkWidget *title = gtk_label_new(_("No service selected"));
        GtkWidget *hint = gtk_label_new(_("Choose an app service in the list on the left."));

        gtk_label_set_xalign(GTK_LABEL(title), 0);
        gtk_widget_add_css_class(title, "heading");
        gtk_label_set_xalign(GTK_LABEL(hint), 0);
        gtk_widget_add_css_class(hint, "dim-label");
        gtk_box_append(GTK_BOX(box), title);
        gtk_box_append(GTK_BOX(box), hint);
        gtk_widget_set_name(box, "service-placeholder");
        return box;
}

static void on_info_notify(AppServiceInfo *info, GParamSpec *pspec, ExplorerServicePage *self) {
        update(self);
}

void explorer_service_page_set_info(ExplorerServicePage *self, AppServiceInfo *info) {
        g_return_if_fail(EXPLORER_IS_SERVICE_PAGE(self));

        if (self->info == info)
                return;
        if (self->info)
                g_signal_handlers_disconnect_by_data(self->info, self);
        g_set_object(&self->info, info);
        if (info)
                g_signal_connect_object(info, "notify", G_CALLBACK(on_info_notify), self, 0);
        update(self);
}

ExplorerConnectionView *explorer_service_page_get_connection_view(ExplorerServicePage *self) {
        return self->connection_view;
}

static AdwActionRow *add_row(ExplorerServicePage *self, const gchar *title, const gchar *name) {
        GtkWidget *row = adw_action_row_new();

        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
        gtk_widget_add_css_class(row, "property");
        gtk_widget_set_name(row, name);
        adw_preferences_group_add(self->details, row);
        return ADW_ACTION_ROW(row);
}

static GtkWidget *admin_bar_new(void) {
        static const struct {
                const gchar *label;
                const gchar *action;
                const gchar *name;
        } buttons[] = {
                { N_("_Start"), "win.start-service", "start-button" },
                { N_("S_top"), "win.stop-service", "stop-button" },
                { N_("_Restart"), "win.restart-service", "restart-button" },
                { N_("_Enable"), "win.enable-service", "enable-button" },
                { N_("_Disable"), "win.disable-service", "disable-button" },
        };
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
        GtkWidget *bar = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
        GtkWidget *hint = gtk_label_new(_("Administration needs root, or authorization by polkit; "
                                          "you will be asked for a password where polkit runs."));

        for (gsize i = 0; i < G_N_ELEMENTS(buttons); i++) {
                GtkWidget *button = gtk_button_new_with_mnemonic(_(buttons[i].label));

                gtk_actionable_set_action_name(GTK_ACTIONABLE(button), buttons[i].action);
                gtk_widget_set_name(button, buttons[i].name);
                gtk_box_append(GTK_BOX(bar), button);
        }
        gtk_label_set_xalign(GTK_LABEL(hint), 0);
        gtk_label_set_wrap(GTK_LABEL(hint), TRUE);
        gtk_widget_add_css_class(hint, "caption");
        gtk_widget_add_css_class(hint, "dim-label");
        gtk_box_append(GTK_BOX(box), bar);
        gtk_box_append(GTK_BOX(box), hint);
        return box;
}

static GtkWidget *margins(GtkWidget *widget) {
        gtk_widget_set_margin_start(widget, 12);
        gtk_widget_set_margin_end(widget, 12);
        gtk_widget_set_margin_top(widget, 12);
        gtk_widget_set_margin_bottom(widget, 12);
        return widget;
}

/* Details and administration above, scrolling on their own; the connection below, whose
 * transcript takes the height that is left. The user moves the divider. */
static void explorer_service_page_init(ExplorerServicePage *self) {
        GtkWidget *paned = gtk_paned_new(GTK_ORIENTATION_VERTICAL);
        GtkWidget *scrolled = gtk_scrolled_window_new();
        GtkWidget *top = gtk_box_new(GTK_ORIENTATION_VERTICAL, 12);

        gtk_orientable_set_orientation(GTK_ORIENTABLE(self), GTK_ORIENTATION_VERTICAL);
        gtk_widget_set_name(GTK_WIDGET(self), "service-page");

        self->details = ADW_PREFERENCES_GROUP(adw_preferences_group_new());
        gtk_widget_set_name(GTK_WIDGET(self->details), "service-details");
        self->provider = add_row(self, _("Provider"), "service-provider");
        self->description = add_row(self, _("Description"), "service-description");
        self->state = add_row(self, _("State"), "service-state");
        self->may_open = add_row(self, _("You may open it"), "service-may-open");
        self->activatable = add_row(self, _("Started on demand"), "service-activatable");
        self->object_path = add_row(self, _("Object path"), "service-object-path");

        self->placeholder = placeholder_new();
        gtk_box_append(GTK_BOX(top), self->placeholder);
        gtk_box_append(GTK_BOX(top), GTK_WIDGET(self->details));
        gtk_box_append(GTK_BOX(top), admin_bar_new());
        gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scrolled), margins(top));
        gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);

        self->connection_view = EXPLORER_CONNECTION_VIEW(explorer_connection_view_new());
        gtk_widget_set_name(GTK_WIDGET(self->connection_view), "connection-view");

        gtk_paned_set_start_child(GTK_PANED(paned), scrolled);
        gtk_paned_set_end_child(GTK_PANED(paned), margins(GTK_WIDGET(self->connection_view)));
        gtk_paned_set_shrink_start_child(GTK_PANED(paned), TRUE);
        gtk_paned_set_shrink_end_child(GTK_PANED(paned), FALSE);
        gtk_paned_set_position(GTK_PANED(paned), 200);
        gtk_widget_set_vexpand(paned, TRUE);
        gtk_box_append(GTK_BOX(self), paned);
        update(self);
}

static void explorer_service_page_dispose(GObject *object) {
        ExplorerServicePage *self = EXPLORER_SERVICE_PAGE(object);

        if (self->info)
                g_signal_handlers_disconnect_by_data(self->info, self);
        g_clear_object(&self->info);
        G_OBJECT_CLASS(explorer_service_page_parent_class)->dispose(object);
}

static void explorer_service_page_class_init(ExplorerServicePageClass *klass) {
        G_OBJECT_CLASS(klass)->dispose = explorer_service_page_dispose;
}

GtkWidget *explorer_service_page_new(void) {
        return g_object_new(EXPLORER_TYPE_SERVICE_PAGE, NULL);
}
