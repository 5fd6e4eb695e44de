/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "explorer-config.h"

#include <appservice.h>
#include <glib/gi18n.h>

#include "connection-view.h"
#include "errors.h"
#include "explorer-window.h"
#include "gpio-panel.h"
#include "monitor-pane.h"
#include "service-list.h"
#include "service-page.h"

struct _ExplorerWindow {
        AdwApplicationWindow parent_instance;

        AppServiceNode *node;
        GListModel *services;
        GCancellable *cancellable;      /* the window's pending calls; cancelled when it goes */
        gchar *node_name;
        gboolean listing;               /* the list of services is being asked for */
        gboolean broker_seen;           /* the broker's state was known once */
        gboolean broker_present;

        AdwToastOverlay *toasts;
        AdwWindowTitle *title;
        ExplorerServiceList *list;
        GtkStack *stack;                /* "service", "monitor", "gpio" */
        ExplorerServicePage *service_page;
        ExplorerConnectionView *connection_view;
};

G_DEFINE_FINAL_TYPE(ExplorerWindow, explorer_window, ADW_TYPE_APPLICATION_WINDOW)

void explorer_window_toast(ExplorerWindow *self, const gchar *text) {
        AdwToast *toast = adw_toast_new(text);

        adw_toast_set_timeout(toast, 4);
        adw_toast_overlay_add_toast(self->toasts, toast);
}

static void set_enabled(ExplorerWindow *self, const gchar *name, gboolean enabled) {
        GAction *action = g_action_map_lookup_action(G_ACTION_MAP(self), name);

        if (action)
                g_simple_action_set_enabled(G_SIMPLE_ACTION(action), enabled);
}

/* Every action that cannot apply is disabled: no selection, no connection, nothing to answer. */
static void update_actions(ExplorerWindow *self) {
        gboolean selected = explorer_service_list_get_selected(self->list) != NULL;
        gboolean open = explorer_connection_view_get_is_open(self->connection_view);
        gboolean opening = explorer_connection_view_get_is_opening(self->connection_view);
        static const gchar *const admin[] = {
                "start-service", "stop-service", "restart-service", "enable-service", "disable-service",
        };

        set_enabled(self, "open-connection", selected && !opening);
        set_enabled(self, "send", open);
        set_enabled(self, "answer-request", explorer_connection_view_get_has_unanswered(self->connection_view));
        set_enabled(self, "close-connection", open || opening);
        for (gsize i = 0; i < G_N_ELEMENTS(admin); i++)
                set_enabled(self, admin[i], selected);
}

/* ---- The header: node name and broker state --------------------------------------------------- */

static const gchar *broker_state_words(const gchar *state) {
        if (g_strcmp0(state, "starting") == 0)
                return _("broker starting");
        if (g_strcmp0(state, "running") == 0)
                return _("broker running");
        if (g_strcmp0(state, "stopping") == 0)
                return _("broker stopping");
        if (!state)
                return _("broker not running");
        return state;
}

static void update_subtitle(ExplorerWindow *self) {
        const gchar *state = broker_state_words(app_service_node_get_state(self->node));
        g_autofree gchar *subtitle = NULL;

        if (self->node_name)
                /* Translators: the window's subtitle: the machine's node name, then the broker's state. */
                subtitle = g_strdup_printf(_("Node “%s” · %s"), self->node_name, state);
        else
                subtitle = g_strdup(state);
        adw_window_title_set_subtitle(self->title, subtitle);
        gtk_widget_set_name(GTK_WIDGET(self->title), "window-title");
}

static void on_node_name(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(ExplorerWindow) self = user_data;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) value = NULL;
        g_autoptr(GError) error = NULL;

        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        /* On an error (the broker went meanwhile) the last name known stays. */
        if (!reply)
                return;
        g_variant_get(reply, "(v)", &value);
        if (!g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
                return;
        g_free(self->node_name);
        self->node_name = g_variant_dup_string(value, NULL);
        update_subtitle(self);
}

/* The library has no getter for the broker's NodeName: read the property on the node's own
 * bus connection, asynchronously like everything else here. */
static void fetch_node_name(ExplorerWindow *self) {
        GDBusConnection *bus = app_service_node_get_bus(self->node);

        if (!bus || !app_service_node_get_state(self->node))
                return;
        g_dbus_connection_call(bus, "io.appservice1", "/io/appservice1", "org.freedesktop.DBus.Properties", "Get",
                               g_variant_new("(ss)", "io.appservice1.Manager", "NodeName"), G_VARIANT_TYPE("(v)"),
                               G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, self->cancellable, on_node_name,
                               g_object_ref(self));
}

/* Says so when the broker goes and comes back: the list then shows what it said last. */
static void toast_broker_change(ExplorerWindow *self) {
        gboolean present = app_service_node_get_state(self->node) != NULL;

        if (present == self->broker_present)
                return;
        self->broker_present = present;
        if (!present)
                explorer_window_toast(self, _("The broker stopped: the list shows what it last said"));
        else if (self->broker_seen)
                explorer_window_toast(self, _("The broker is back"));
        self->broker_seen = TRUE;
}

static void request_services(ExplorerWindow *self);

static void on_node_state(AppServiceNode *node, GParamSpec *pspec, ExplorerWindow *self) {
        toast_broker_change(self);
        update_subtitle(self);
        /* No list yet because no broker ran: the one that just came has it. */
        if (!self->services && !self->listing && app_service_node_get_state(node))
                request_services(self);
        /* A new broker may name the node differently. */
        fetch_node_name(self);
}

/* ---- The service list ------------------------------------------------------------------------- */

static void on_services(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(ExplorerWindow) self = user_data;
        g_autoptr(GError) error = NULL;

        self->services = app_service_node_list_services_finish(APP_SERVICE_NODE(source), result, &error);
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        self->listing = FALSE;
        if (!self->services) {
                explorer_service_list_show_error(self->list, error);
                return;
        }
        explorer_service_list_set_model(self->list, self->services);
        fetch_node_name(self);
        update_subtitle(self);
        update_actions(self);
}

static void request_services(ExplorerWindow *self) {
        self->listing = TRUE;
        app_service_node_list_services(self->node, self->cancellable, on_services, g_object_ref(self));
}

static void on_selection_changed(ExplorerServiceList *list, ExplorerWindow *self) {
        explorer_service_page_set_info(self->service_page, explorer_service_list_get_selected(list));
        update_actions(self);
}

/* Enter on a service: its page, with the focus on Open Connection (a second Enter opens). */
static void on_service_activated(ExplorerServiceList *list, AppServiceInfo *info, ExplorerWindow *self) {
        gtk_stack_set_visible_child_name(self->stack, "service");
        explorer_connection_view_focus_open(self->connection_view);
}

/* ---- Administration --------------------------------------------------------------------------- */

typedef enum {
        ADMIN_START,
        ADMIN_STOP,
        ADMIN_RESTART,
        ADMIN_ENABLE,
        ADMIN_DISABLE,
        ADMIN_RELOAD,
} AdminVerb;

typedef struct {
        ExplorerWindow *window;
        AdminVerb verb;
        gchar *name;
} AdminCall;

static void admin_call_free(AdminCall *call) {
        g_object_unref(call->window);
        g_free(call->name);
        g_free(call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AdminCall, admin_call_free)

static gchar *admin_done_text(AdminVerb verb, const gchar *name) {
        switch (verb) {
        case ADMIN_START:
                return g_strdup_printf(_("Started %s"), name);
        case ADMIN_STOP:
                return g_strdup_printf(_("Stopped %s"), name);
        case ADMIN_RESTART:
                return g_strdup_printf(_("Restarted %s"), name);
        case ADMIN_ENABLE:
                return g_strdup_printf(_("Enabled %s"), name);
        case ADMIN_DISABLE:
                return g_strdup_printf(_("Disabled %s"), name);
        case ADMIN_RELOAD:
                break;
        }
        return g_strdup(_("The broker reloaded its definitions"));
}

static gchar *admin_failed_text(AdminVerb verb, const gchar *name) {
        switch (verb) {
        case ADMIN_START:
                return g_strdup_printf(_("Could Not Start %s"), name);
        case ADMIN_STOP:
                return g_strdup_printf(_("Could Not Stop %s"), name);
        case ADMIN_RESTART:
                return g_strdup_printf(_("Could Not Restart %s"), name);
        case ADMIN_ENABLE:
                return g_strdup_printf(_("Could Not Enable %s"), name);
        case ADMIN_DISABLE:
                return g_strdup_printf(_("Could Not Disable %s"), name);
        case ADMIN_RELOAD:
                break;
        }
        return g_strdup(_("Could Not Reload"));
}

/* A refusal gets a dialog, not a toast: it says why and stays until read. The sentence is the
 * body, the technical name the small text under it. */
static void show_failure(ExplorerWindow *self, const gchar *heading, const GError *error) {
        g_autofree gchar *sentence = NULL;
        g_autofree gchar *technical = explorer_error_technical(error);
        GtkWidget *dialog;
        GtkWidget *small = gtk_label_new(technical);

        /* Refused administration is about the broker's rule, not the service's users. */
        if (g_error_matches(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_NOT_AUTHORIZED))
                sentence = g_strdup(_("Managing app services needs root, or an authorization by polkit "
                                      "(the action io.appservice1.manage)."));
        else
                sentence = explorer_error_describe(error);
        dialog = adw_message_dialog_new(GTK_WINDOW(self), heading, sentence);
        gtk_label_set_wrap(GTK_LABEL(small), TRUE);
        gtk_label_set_wrap_mode(GTK_LABEL(small), PANGO_WRAP_WORD_CHAR);
        gtk_label_set_selectable(GTK_LABEL(small), TRUE);
        gtk_widget_add_css_class(small, "caption");
        gtk_widget_add_css_class(small, "dim-label");
        adw_message_dialog_set_extra_child(ADW_MESSAGE_DIALOG(dialog), small);
        adw_message_dialog_add_response(ADW_MESSAGE_DIALOG(dialog), "close", _("_Close"));
        gtk_widget_set_name(dialog, "failure-dialog");
        gtk_window_present(GTK_WINDOW(dialog));
}

static void on_admin_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(AdminCall) call = user_data;
        AppServiceNode *node = APP_SERVICE_NODE(source);
        g_autoptr(GError) error = NULL;
        gboolean ok = FALSE;

        switch (call->verb) {
        case ADMIN_START:
                ok = app_service_node_start_service_finish(node, result, &error);
                break;
        case ADMIN_STOP:
                ok = app_service_node_stop_service_finish(node, result, &error);
                break;
        case ADMIN_RESTART:
                ok = app_service_node_restart_service_finish(node, result, &error);
                break;
        case ADMIN_ENABLE:
        case ADMIN_DISABLE:
                ok = app_service_node_set_service_enabled_finish(node, result, &error);
                break;
        case ADMIN_RELOAD:
                ok = app_service_node_reload_finish(node, result, &error);
                break;
        }
        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        if (ok) {
                g_autofree gchar *text = admin_done_text(call->verb, call->name);

                explorer_window_toast(call->window, text);
        } else {
                g_autofree gchar *heading = admin_failed_text(call->verb, call->name);

                show_failure(call->window, heading, error);
        }
}

static void admin(ExplorerWindow *self, AdminVerb verb) {
        AppServiceInfo *info = explorer_service_list_get_selected(self->list);
        AdminCall *call;

        if (verb != ADMIN_RELOAD && !info)
                return;
        call = g_new0(AdminCall, 1);
        call->window = g_object_ref(self);
        call->verb = verb;
        call->name = g_strdup(info && verb != ADMIN_RELOAD ? app_service_info_get_name(info) : "");
        switch (verb) {
        case ADMIN_START:
                app_service_node_start_service(self->node, call->name, self->cancellable, on_admin_done, call);
                break;
        case ADMIN_STOP:
                app_service_node_stop_service(self->node, call->name, self->cancellable, on_admin_done, call);
                break;
        case ADMIN_RESTART:
                app_service_node_restart_service(self->node, call->name, self->cancellable, on_admin_done, call);
                break;
        case ADMIN_ENABLE:
        case ADMIN_DISABLE:
                app_service_node_set_service_enabled(self->node, call->name, verb == ADMIN_ENABLE, self->cancellable,
                                                     on_admin_done, call);
                break;
        case ADMIN_RELOAD:
                app_service_node_reload(self->node, self->cancellable, on_admin_done, call);
                break;
        }
}

/* ---- Actions ---------------------------------------------------------------------------------- */

static void action_select_service(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        ExplorerWindow *self = user_data;
        const gchar *name = g_variant_get_string(parameter, NULL);

        if (!explorer_service_list_select(self->list, name)) {
                g_autofree gchar *text = g_strdup_printf(_("There is no app service named “%s”"), name);

                explorer_window_toast(self, text);
                return;
        }
        gtk_stack_set_visible_child_name(self->stack, "service");
}

static void action_open_connection(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        ExplorerWindow *self = user_data;
        AppServiceInfo *info = explorer_service_list_get_selected(self->list);

        if (!info)
                return;
        gtk_stack_set_visible_child_name(self->stack, "service");
        explorer_connection_view_open(self->connection_view, app_service_info_get_name(info));
}

static void action_send(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        ExplorerWindow *self = user_data;

        explorer_connection_view_send(self->connection_view);
}

static void action_set_message(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        ExplorerWindow *self = user_data;

        explorer_connection_view_set_message(self->connection_view, g_variant_get_string(parameter, NULL));
}

static void action_answer_request(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        ExplorerWindow *self = user_data;

        explorer_connection_view_answer_oldest(self->connection_view, g_variant_get_string(parameter, NULL));
}

static void action_close_connection(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        ExplorerWindow *self = user_data;

        explorer_connection_view_close(self->connection_view);
}

static void action_show_service(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        gtk_stack_set_visible_child_name(EXPLORER_WINDOW(user_data)->stack, "service");
}

static void action_show_monitor(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        gtk_stack_set_visible_child_name(EXPLORER_WINDOW(user_data)->stack, "monitor");
}

static void action_show_gpio(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        gtk_stack_set_visible_child_name(EXPLORER_WINDOW(user_data)->stack, "gpio");
}

static void action_start(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        admin(user_data, ADMIN_START);
}

static void action_stop(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        admin(user_data, ADMIN_STOP);
}

static void action_restart(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        admin(user_data, ADMIN_RESTART);
}

static void action_enable(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        admin(user_data, ADMIN_ENABLE);
}

static void action_disable(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        admin(user_data, ADMIN_DISABLE);
}

static void action_reload(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        admin(user_data, ADMIN_RELOAD);
}

static const GActionEntry window_actions[] = {
        { .name = "select-service", .activate = action_select_service, .parameter_type = "s" },
        { .name = "open-connection", .activate = action_open_connection },
        { .name = "send", .activate = action_send },
        { .name = "set-message", .activate = action_set_message, .parameter_type = "s" },
        { .name = "answer-request", .activate = action_answer_request, .parameter_type = "s" },
        { .name = "close-connection", .activate = action_close_connection },
        { .name = "show-service", .activate = action_show_service },
        { .name = "show-monitor", .activate = action_show_monitor },
        { .name = "show-gpio", .activate = action_show_gpio },
        { .name = "start-service", .activate = action_start },
        { .name = "stop-service", .activate = action_stop },
        { .name = "restart-service", .activate = action_restart },
        { .name = "enable-service", .activate = action_enable },
        { .name = "disable-service", .activate = action_disable },
        { .name = "reload", .activate = action_reload },
};

/* ---- Construction ----------------------------------------------------------------------------- */

static GtkWidget *menu_button_new(void) {
        g_autoptr(GMenu) menu = g_menu_new();
        GtkWidget *button = gtk_menu_button_new();

        g_menu_append(menu, _("_Keyboard Shortcuts"), "win.show-help-overlay");
        g_menu_append(menu, _("_About App Service Explorer"), "app.about");
        g_menu_append(menu, _("_Quit"), "app.quit");
        gtk_menu_button_set_menu_model(GTK_MENU_BUTTON(button), G_MENU_MODEL(menu));
        gtk_menu_button_set_icon_name(GTK_MENU_BUTTON(button), "open-menu-symbolic");
        gtk_menu_button_set_primary(GTK_MENU_BUTTON(button), TRUE);
        gtk_widget_set_tooltip_text(button, _("Main Menu"));
        gtk_widget_set_name(button, "main-menu");
        return button;
}

static GtkWidget *header_new(ExplorerWindow *self) {
        GtkWidget *header = adw_header_bar_new();
        GtkWidget *reload = gtk_button_new_from_icon_name("view-refresh-symbolic");

        self->title = ADW_WINDOW_TITLE(adw_window_title_new(_("App Service Explorer"), NULL));
        adw_header_bar_set_title_widget(ADW_HEADER_BAR(header), GTK_WIDGET(self->title));
        gtk_actionable_set_action_name(GTK_ACTIONABLE(reload), "win.reload");
        gtk_widget_set_tooltip_text(reload, _("Reload the broker's definitions"));
        gtk_widget_set_name(reload, "reload-button");
        adw_header_bar_pack_start(ADW_HEADER_BAR(header), reload);
        adw_header_bar_pack_end(ADW_HEADER_BAR(header), menu_button_new());
        return header;
}

static GtkWidget *right_side_new(ExplorerWindow *self) {
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
        GtkWidget *switcher = gtk_stack_switcher_new();
        GtkWidget *gpio = explorer_gpio_panel_new();

        self->service_page = EXPLORER_SERVICE_PAGE(explorer_service_page_new());
        self->connection_view = explorer_service_page_get_connection_view(self->service_page);
        g_signal_connect_swapped(self->connection_view, "changed", G_CALLBACK(update_actions), self);

        self->stack = GTK_STACK(gtk_stack_new());
        /* Each page as wide as itself needs: the widest one must not clip the others. */
        gtk_stack_set_hhomogeneous(self->stack, FALSE);
        gtk_widget_set_name(GTK_WIDGET(self->stack), "pages");
        gtk_stack_add_titled(self->stack, GTK_WIDGET(self->service_page), "service", _("Service"));
        gtk_stack_add_titled(self->stack, explorer_monitor_pane_new(self->node), "monitor", _("Monitor"));
        gtk_stack_add_titled(self->stack, gpio, "gpio", _("GPIO"));
        gtk_widget_set_name(gpio, "gpio-panel");
        explorer_gpio_panel_install_actions(EXPLORER_GPIO_PANEL(gpio), G_ACTION_MAP(self));
        gtk_widget_set_vexpand(GTK_WIDGET(self->stack), TRUE);
        gtk_widget_set_hexpand(GTK_WIDGET(self->stack), TRUE);

        gtk_stack_switcher_set_stack(GTK_STACK_SWITCHER(switcher), self->stack);
        gtk_widget_set_halign(switcher, GTK_ALIGN_CENTER);
        gtk_widget_set_margin_top(switcher, 6);
        gtk_widget_set_margin_bottom(switcher, 6);
        gtk_widget_set_name(switcher, "page-switcher");

        gtk_box_append(GTK_BOX(box), switcher);
        gtk_box_append(GTK_BOX(box), GTK_WIDGET(self->stack));
        return box;
}

static void explorer_window_init(ExplorerWindow *self) {
        GtkWidget *content = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
        GtkWidget *paned = gtk_paned_new(GTK_ORIENTATION_HORIZONTAL);

        self->cancellable = g_cancellable_new();
        self->node = app_service_node_new();
        /* Administration may make polkit ask for a password, where polkit runs. */
        app_service_node_set_allow_interactive_authorization(self->node, TRUE);
        g_signal_connect_object(self->node, "notify::state", G_CALLBACK(on_node_state), self, 0);

        g_action_map_add_action_entries(G_ACTION_MAP(self), window_actions, G_N_ELEMENTS(window_actions), self);

        gtk_window_set_title(GTK_WINDOW(self), _("App Service Explorer"));
        gtk_window_set_default_size(GTK_WINDOW(self), 1100, 720);
        gtk_window_set_icon_name(GTK_WINDOW(self), EXPLORER_APP_ID);

        self->list = EXPLORER_SERVICE_LIST(explorer_service_list_new());
        gtk_widget_set_size_request(GTK_WIDGET(self->list), 260, -1);
        g_signal_connect(self->list, "selection-changed", G_CALLBACK(on_selection_changed), self);
        g_signal_connect(self->list, "service-activated", G_CALLBACK(on_service_activated), self);

        gtk_paned_set_start_child(GTK_PANED(paned), GTK_WIDGET(self->list));
        gtk_paned_set_end_child(GTK_PANED(paned), right_side_new(self));
        gtk_paned_set_shrink_start_child(GTK_PANED(paned), FALSE);
        gtk_paned_set_resize_start_child(GTK_PANED(paned), FALSE);
        gtk_paned_set_position(GTK_PANED(paned), 320);
        gtk_widget_set_vexpand(paned, TRUE);

        gtk_box_append(GTK_BOX(content), header_new(self));
        gtk_box_append(GTK_BOX(content), paned);
        self->toasts = ADW_TOAST_OVERLAY(adw_toast_overlay_new());
        adw_toast_overlay_set_child(self->toasts, content);
        adw_application_window_set_content(ADW_APPLICATION_WINDOW(self), GTK_WIDGET(self->toasts));

        update_subtitle(self);
        update_actions(self);
        request_services(self);
}

static void explorer_window_dispose(GObject *object) {
        ExplorerWindow *self = EXPLORER_WINDOW(object);

        if (self->cancellable)
                g_cancellable_cancel(self->cancellable);
        G_OBJECT_CLASS(explorer_window_parent_class)->dispose(object);
        g_clear_object(&self->services);
        g_clear_object(&self->node);
}

static void explorer_window_finalize(GObject *object) {
        ExplorerWindow *self = EXPLORER_WINDOW(object);

        g_clear_object(&self->cancellable);
        g_free(self->node_name);
        G_OBJECT_CLASS(explorer_window_parent_class)->finalize(object);
}

static void explorer_window_class_init(ExplorerWindowClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->dispose = explorer_window_dispose;
        object_class->finalize = explorer_window_finalize;
}

ExplorerWindow *explorer_window_new(GtkApplication *application) {
        return g_object_new(EXPLORER_TYPE_WINDOW, "application", application, NULL);
}
