/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* appservicectl: the command line of app services, on libappservice-1. */

#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "appservicectl.h"
#include "config.h"

static const struct {
        const char *name;
        const char *synopsis;
        const char *summary;
        CtlVerbFunc run;
} verbs[] = {
        { "list", "list", "List the declared app services", ctl_verb_list },
        { "status", "status [NAME]", "Show the properties of an app service, or of the broker", ctl_verb_status },
        { "call", "call NAME [KEY=VALUE...]", "Send one message and print the response", ctl_verb_call },
        { "open", "open NAME", "Open a connection and talk on stdin/stdout", ctl_verb_open },
        { "submit", "submit [KEY=VALUE...]", "Send a message to the cloud (io.appservice.cloud)", ctl_verb_submit },
        { "start", "start NAME", "Start the provider of an app service", ctl_verb_start },
        { "stop", "stop NAME", "Stop the provider of an app service", ctl_verb_stop },
        { "restart", "restart NAME", "Restart the provider of an app service", ctl_verb_restart },
        { "enable", "enable NAME", "Enable an app service", ctl_verb_enable },
        { "disable", "disable NAME", "Disable an app service", ctl_verb_disable },
        { "reload", "reload", "Make the broker reload its definition files", ctl_verb_reload },
        { "monitor", "monitor", "Print the broker's live events until interrupted", ctl_verb_monitor },
        { "dev", "dev [-- COMMAND...]", "Run a broker of your own on a private bus, without root", ctl_verb_dev },
        { "verify", "verify FILE...", "Check definition files as the broker would load them", ctl_verb_verify },
};

/* The options every verb accepts, before or after its name. */
static void add_global_entries(GOptionContext *context, Ctl *ctl) {
        const GOptionEntry entries[] = {
                { "system", 0, 0, G_OPTION_ARG_NONE, &ctl->system,
                  "Talk to the broker on the system bus (the default)", NULL },
                { "user", 0, 0, G_OPTION_ARG_NONE, &ctl->user,
                  "Talk to the broker on the session bus", NULL },
                { "address", 0, 0, G_OPTION_ARG_STRING, &ctl->address,
                  "Talk to the broker on the bus at ADDRESS", "ADDRESS" },
                { "json", 0, 0, G_OPTION_ARG_NONE, &ctl->json,
                  "Print results as JSON, one document per line", NULL },
                G_OPTION_ENTRY_NULL
        };

        g_option_context_add_main_entries(context, entries, NULL);
}

GOptionContext *ctl_option_context_new(Ctl *ctl, const char *parameter_string, const char *summary,
                                       const char *description) {
        g_autofree gchar *full_description = g_strconcat(description ? description : "",
                                                         description ? "\n" : "",
                                                         CTL_EXIT_STATUS_HELP, NULL);
        GOptionContext *context = g_option_context_new(parameter_string);

        g_option_context_set_summary(context, summary);
        g_option_context_set_description(context, full_description);
        add_global_entries(context, ctl);
        return context;
}

int ctl_usage_error(const char *verb, const char *format, ...) {
        g_autofree gchar *message = NULL;
        va_list ap;

        va_start(ap, format);
        message = g_strdup_vprintf(format, ap);
        va_end(ap);
        fprintf(stderr, "appservicectl: %s\nTry 'appservicectl%s%s --help' for more information.\n", message,
                verb ? " " : "", verb ? verb : "");
        return CTL_EXIT_USAGE;
}

/* GOption keeps a "--" that follows a positional argument ("call NAME -- -x=1"): drop it. */
static void remove_separator(int *argc, char **argv) {
        for (int i = 1; i < *argc; i++)
                if (g_str_equal(argv[i], "--")) {
                        memmove(argv + i, argv + i + 1, (*argc - i) * sizeof(char *));
                        (*argc)--;
                        return;
                }
}

gboolean ctl_parse_verb_options(Ctl *ctl, GOptionContext *context, int *argc, char ***argv,
                                const char *verb) {
        /* --address may come before and after the verb: the last one wins, none leaks. */
        g_autofree gchar *address_before = g_steal_pointer(&ctl->address);
        g_autoptr(GError) error = NULL;

        if (!g_option_context_parse(context, argc, argv, &error)) {
                ctl_usage_error(verb, "%s", error->message);
                return FALSE;
        }
        remove_separator(argc, *argv);
        if (!ctl->address)
                ctl->address = g_steal_pointer(&address_before);
        if ((ctl->system ? 1 : 0) + (ctl->user ? 1 : 0) + (ctl->address ? 1 : 0) > 1) {
                ctl_usage_error(verb, "--system, --user and --address exclude each other");
                return FALSE;
        }
        return TRUE;
}

int ctl_connect(Ctl *ctl) {
        g_autoptr(GError) error = NULL;
        g_autofree gchar *subject = NULL;

        if (ctl->address) {
                subject = g_strdup_printf("bus at '%s'", ctl->address);
                ctl->bus = g_dbus_connection_new_for_address_sync(
                        ctl->address,
                        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                        /* observer= */ NULL, /* cancellable= */ NULL, &error);
        } else {
                subject = g_strdup(ctl->user ? "session bus" : "system bus");
                ctl->bus = g_bus_get_sync(ctl->user ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
                                          /* cancellable= */ NULL, &error);
        }
        if (!ctl->bus) {
                g_autofree gchar *text = g_strdup_printf("cannot connect: %s", error->message);

                ctl_report(ctl, subject, /* name= */ NULL, text);
                return CTL_EXIT_NO_BROKER;
        }
        /* A bus that goes away is reported like any other failure, not by SIGTERM. */
        g_dbus_connection_set_exit_on_close(ctl->bus, FALSE);
        return CTL_EXIT_SUCCESS;
}

const char *ctl_broker_program(void) {
        const char *program = g_getenv("APPSERVICED");

        return program && *program ? program : APPSERVICE_LIBEXECDIR "/appserviced";
}

static GOptionContext *main_option_context_new(Ctl *ctl) {
        g_autoptr(GString) summary = NULL;
        GOptionContext *context;
        const GOptionEntry entries[] = {
                { "version", 0, 0, G_OPTION_ARG_NONE, &ctl->version, "Show the version", NULL },
                G_OPTION_ENTRY_NULL
        };

        summary = g_string_new("Talk to app services through the io.appservice1 broker.\n\nCommands:");
        for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++)
                g_string_append_printf(summary, "\n  %-26s %s", verbs[i].synopsis, verbs[i].summary);
        g_string_append(summary, "\n\n'appservicectl COMMAND --help' describes each command.");

        context = ctl_option_context_new(ctl, "COMMAND [ARGUMENT...]", summary->str, NULL);
        g_option_context_add_main_entries(context, entries, NULL);
        /* Stop at the verb: what follows it belongs to the verb's own options. */
        g_option_context_set_strict_posix(context, TRUE);
        return context;
}

static CtlVerbFunc find_verb(const char *name) {
        for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++)
                if (g_str_equal(verbs[i].name, name))
                        return verbs[i].run;
        return NULL;
}

static void ctl_done(Ctl *ctl) {
        g_clear_pointer(&ctl->address, g_free);
        g_clear_object(&ctl->bus);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Ctl, ctl_done)

int main(int argc, char **argv) {
        g_auto(Ctl) ctl = { 0 };
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(GError) error = NULL;
        CtlVerbFunc verb;

        setlocale(LC_ALL, "");
        g_set_prgname("appservicectl");
        /* Registers the io.appservice1 errors with GDBus, so that remote errors get their codes. */
        (void) app_service_error_quark();

        context = main_option_context_new(&ctl);
        if (!g_option_context_parse(context, &argc, &argv, &error))
                return ctl_usage_error(NULL, "%s", error->message);
        if (ctl.version) {
                printf("appservicectl %s\n", APPSERVICE_VERSION);
                return CTL_EXIT_SUCCESS;
        }
        if (argc < 2)
                return ctl_usage_error(NULL, "missing command");
        verb = find_verb(argv[1]);
        if (!verb)
                return ctl_usage_error(NULL, "unknown command '%s'", argv[1]);
        return verb(&ctl, argc - 1, argv + 1);
}
