/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* appservicectl start|stop|restart|enable|disable NAME, and reload: the administration of the
 * broker, through AppServiceNode. Silent on success, as systemctl is: the exit status says it. */

#include <string.h>

#include "appservicectl.h"

typedef enum {
        ADMIN_START,
        ADMIN_STOP,
        ADMIN_RESTART,
        ADMIN_ENABLE,
        ADMIN_DISABLE,
        ADMIN_RELOAD,
} AdminAction;

static const struct {
        const char *verb;
        const char *parameter_string;
        const char *summary;
} admin_verbs[] = {
        [ADMIN_START] = { "start", "start NAME",
                          "Start the provider of the app service NAME and wait until it has registered.\n"
                          "A failed service, even one that hit its start limit, is tried again. A\n"
                          "provider started this way is not stopped for being idle." },
        [ADMIN_STOP] = { "stop", "stop NAME",
                         "Stop the provider of the app service NAME and wait until it is gone. The\n"
                         "provider is asked first; one that does not stop within StopTimeoutSec= is\n"
                         "made to. Its clients' connections close." },
        [ADMIN_RESTART] = { "restart", "restart NAME",
                            "Stop, then start the provider of the app service NAME; wait until the\n"
                            "new provider has registered." },
        [ADMIN_ENABLE] = { "enable", "enable NAME", "Enable the app service NAME again after a disable." },
        [ADMIN_DISABLE] = { "disable", "disable NAME",
                            "Disable the app service NAME: opening it fails with DisabledByPolicy until\n"
                            "it is enabled or the broker exits. Open connections stay open." },
        [ADMIN_RELOAD] = { "reload", "reload",
                           "Make the broker read its definition files again and apply the difference\n"
                           "without a restart. Each file that does not load is named on standard error,\n"
                           "with what is wrong with it (a service it declared before keeps that\n"
                           "definition); the exit status stays 0, as the reload itself was done." },
};

static const char admin_description[] =
        "Administration is allowed for root, for the broker's own user (appservicectl dev's\n"
        "broker is yours) and, where polkit runs, for users authorized for\n"
        "io.appservice1.manage; others get NotAuthorized (exit status 4). Nothing is printed\n"
        "on success, but for reload's warnings.\n";

static gboolean run_action(AppServiceNode *node, AdminAction action, const char *name, GError **error) {
        switch (action) {
        case ADMIN_START:
                return app_service_node_start_service_sync(node, name, /* cancellable= */ NULL, error);
        case ADMIN_STOP:
                return app_service_node_stop_service_sync(node, name, /* cancellable= */ NULL, error);
        case ADMIN_RESTART:
                return app_service_node_restart_service_sync(node, name, /* cancellable= */ NULL, error);
        case ADMIN_ENABLE:
        case ADMIN_DISABLE:
                return app_service_node_set_service_enabled_sync(node, name, action == ADMIN_ENABLE,
                                                                 /* cancellable= */ NULL, error);
        case ADMIN_RELOAD:
        default:
                return app_service_node_reload_sync(node, /* cancellable= */ NULL, error);
        }
}

/* A reload is not silent about the files it could not read. */
static void warn_load_errors(Ctl *ctl) {
        g_autoptr(GVariant) errors = ctl_load_errors(ctl->bus);
        GVariantIter iter;
        const char *path, *why;

        g_variant_iter_init(&iter, errors);
        while (g_variant_iter_next(&iter, "(&s&s)", &path, &why))
                g_printerr("warning: %s does not load: %s\n", path, why);
}

static int run_admin(Ctl *ctl, AdminAction action, int argc, char **argv) {
        const char *verb = admin_verbs[action].verb;
        gboolean takes_name = action != ADMIN_RELOAD;
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(AppServiceNode) node = NULL;
        g_autoptr(GError) error = NULL;
        int r;

        context = ctl_option_context_new(ctl, admin_verbs[action].parameter_string, admin_verbs[action].summary,
                                         admin_description);
        if (!ctl_parse_verb_options(ctl, context, &argc, &argv, verb))
                return CTL_EXIT_USAGE;
        if (takes_name && argc < 2)
                return ctl_usage_error(verb, "missing app service NAME");
        if (argc > (takes_name ? 2 : 1))
                return ctl_usage_error(verb, "unexpected argument '%s'", argv[takes_name ? 2 : 1]);

        r = ctl_connect(ctl);
        if (r != CTL_EXIT_SUCCESS)
                return r;
        node = app_service_node_new_for_bus(ctl->bus);
        if (!run_action(node, action, takes_name ? argv[1] : NULL, &error))
                return ctl_report_error(ctl, takes_name ? argv[1] : verb, error);
        if (action == ADMIN_RELOAD)
                warn_load_errors(ctl);
        return CTL_EXIT_SUCCESS;
}

int ctl_verb_start(Ctl *ctl, int argc, char **argv) {
        return run_admin(ctl, ADMIN_START, argc, argv);
}

int ctl_verb_stop(Ctl *ctl, int argc, char **argv) {
        return run_admin(ctl, ADMIN_STOP, argc, argv);
}

int ctl_verb_restart(Ctl *ctl, int argc, char **argv) {
        return run_admin(ctl, ADMIN_RESTART, argc, argv);
}

int ctl_verb_enable(Ctl *ctl, int argc, char **argv) {
        return run_admin(ctl, ADMIN_ENABLE, argc, argv);
}

int ctl_verb_disable(Ctl *ctl, int argc, char **argv) {
        return run_admin(ctl, ADMIN_DISABLE, argc, argv);
}

int ctl_verb_reload(Ctl *ctl, int argc, char **argv) {
        return run_admin(ctl, ADMIN_RELOAD, argc, argv);
}
