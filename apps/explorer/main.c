/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* appservice-explorer: browse, try and administer the app services of this machine. */
#include "explorer-config.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <locale.h>

#include "explorer-window.h"

/* Keys of the window's and the application's actions (the shortcuts window lists them). */
static const struct {
        const gchar *action;
        const gchar *accels[3];
} accels[] = {
        { "win.open-connection", { "<Control>o", NULL } },
        { "win.send", { "<Control>Return", NULL } },
        { "win.close-connection", { "<Control>w", NULL } },
        { "win.show-service", { "<Control>l", NULL } },
        { "win.show-monitor", { "<Control>m", NULL } },
        { "win.show-gpio", { "<Control>g", NULL } },
        { "win.reload", { "F5", NULL } },
        { "win.show-help-overlay", { "<Control>question", NULL } },
        { "app.quit", { "<Control>q", NULL } },
};

static void on_quit(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        g_application_quit(G_APPLICATION(user_data));
}

static void on_about(GSimpleAction *action, GVariant *parameter, gpointer user_data) {
        GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(user_data));
        static const gchar *developers[] = { "The appservice developers", NULL };

        adw_show_about_window(window,
                              "application-name", _("App Service Explorer"),
                              "application-icon", EXPLORER_APP_ID,
                              "version", EXPLORER_VERSION,
                              "comments", _("Browse, try and administer the app services of this machine."),
                              "developers", developers,
                              "license-type", GTK_LICENSE_LGPL_2_1,
                              /* Translators: put your names here, one per line. */
                              "translator-credits", _("translator-credits"),
                              NULL);
}

static const GActionEntry app_actions[] = {
        { .name = "quit", .activate = on_quit },
        { .name = "about", .activate = on_about },
};

static void on_startup(GApplication *application, gpointer user_data) {
        g_action_map_add_action_entries(G_ACTION_MAP(application), app_actions, G_N_ELEMENTS(app_actions),
                                        application);
        for (gsize i = 0; i < G_N_ELEMENTS(accels); i++)
                gtk_application_set_accels_for_action(GTK_APPLICATION(application), accels[i].action,
                                                      accels[i].accels);
}

static void on_activate(GApplication *application, gpointer user_data) {
        GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(application));

        if (!window)
                window = GTK_WINDOW(explorer_window_new(GTK_APPLICATION(application)));
        gtk_window_present(window);
}

/* --version is answered in the process that was started, before any window or bus. */
static gint on_handle_local_options(GApplication *application, GVariantDict *options, gpointer user_data) {
        if (g_variant_dict_contains(options, "version")) {
                g_print("appservice-explorer %s\n", EXPLORER_VERSION);
                return EXIT_SUCCESS;
        }
        return -1;  /* go on */
}

int main(int argc, char *argv[]) {
        g_autoptr(AdwApplication) application = NULL;
        const gchar *localedir = g_getenv("APPSERVICE_EXPLORER_LOCALEDIR");

        /* The override lets the explorer run from the build tree with its translations
         * (build/apps/explorer/po holds <lang>/LC_MESSAGES/appservice-explorer.mo). */
        setlocale(LC_ALL, "");
        bindtextdomain(GETTEXT_PACKAGE, localedir && *localedir ? localedir : EXPLORER_LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        textdomain(GETTEXT_PACKAGE);

        g_set_application_name(_("App Service Explorer"));
        application = adw_application_new(EXPLORER_APP_ID, G_APPLICATION_DEFAULT_FLAGS);
        g_signal_connect(application, "startup", G_CALLBACK(on_startup), NULL);
        g_signal_connect(application, "activate", G_CALLBACK(on_activate), NULL);
        g_application_add_main_option(G_APPLICATION(application), "version", 0, G_OPTION_FLAG_NONE,
                                      G_OPTION_ARG_NONE, _("Show the version"), NULL);
        g_signal_connect(application, "handle-local-options", G_CALLBACK(on_handle_local_options), NULL);
        return g_application_run(G_APPLICATION(application), argc, argv);
}
