/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* appservicectl monitor: the broker's live events (Manager.MonitorEvent), one line each, until
 * SIGINT or SIGTERM. */

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "appservicectl.h"

static const char monitor_summary[] =
        "Print the broker's live events as they happen, one line each, until interrupted\n"
        "(SIGINT, SIGTERM: exit status 0). Monitoring is administration: allowed for root\n"
        "and for users polkit authorizes for io.appservice1.manage; others get NotAuthorized\n"
        "(exit status 4). The broker sends the events to this process alone.";

static const char monitor_description[] =
        "A line: TIME TYPE [SERVICE] KEY=VALUE..., for example\n"
        "  2026-11-21 20:40:12.123456 provider-registered com.example.echo peer=:1.7 pid=4242\n"
        "TIME is the broker's, in local time. TYPE is state, service-state, provider-started,\n"
        "provider-registered, provider-unregistered, provider-exited, connection-opened,\n"
        "connection-closed, request, response, fault or reload (new types may come). The\n"
        "details follow in the order the broker sent them: a list as comma-separated words\n"
        "('-' when empty), the caller of a connection as caller.uid=... caller.pid=...\n"
        "With --json, {\"type\": \"monitoring\"} once the broker monitors for us, then one\n"
        "document per event: {\"type\": \"monitor-event\", \"event\": TYPE, \"details\": {...}},\n"
        "the details as a ValueSet is written (timestamp as {\"@t\": microseconds}).\n";

typedef struct {
        Ctl *ctl;
        AppServiceNode *node;
        GMainLoop *loop;
        int status;
} Monitor;

/* A word of the line: strings bare unless they hold spaces or quotes or are empty. */
static void append_word(GString *line, GVariant *value) {
        if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING) ||
            g_variant_is_of_type(value, G_VARIANT_TYPE_OBJECT_PATH)) {
                const char *s = g_variant_get_string(value, NULL);

                g_autofree gchar *quoted = NULL;

                if (*s && !strpbrk(s, " \t\n'\"\\")) {
                        g_string_append(line, s);
                        return;
                }
                quoted = g_variant_print(value, /* type_annotate= */ FALSE);
                g_string_append(line, quoted);
                return;
        }
        if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING_ARRAY)) {
                gsize n = g_variant_n_children(value);

                if (n == 0)
                        g_string_append_c(line, '-');
                for (gsize i = 0; i < n; i++) {
                        g_autoptr(GVariant) item = g_variant_get_child_value(value, i);

                        if (i > 0)
                                g_string_append_c(line, ',');
                        append_word(line, item);
                }
                return;
        }
        {
                g_autofree gchar *text = g_variant_print(value, /* type_annotate= */ FALSE);

                g_string_append(line, text);
        }
}

static void append_details(GString *line, const char *prefix, GVariant *details) {
        GVariantIter iter;
        const char *key;
        GVariant *value;

        g_variant_iter_init(&iter, details);
        while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
                if (*prefix || (!g_str_equal(key, "timestamp") && !g_str_equal(key, "service"))) {
                        if (g_variant_is_of_type(value, G_VARIANT_TYPE_VARDICT)) {
                                g_autofree gchar *nested = g_strconcat(prefix, key, ".", NULL);

                                append_details(line, nested, value);
                        } else {
                                g_string_append_printf(line, " %s%s=", prefix, key);
                                append_word(line, value);
                        }
                }
                g_variant_unref(value);
        }
}

static gchar *format_time(GVariant *event) {
        guint64 usec;
        g_autoptr(GDateTime) seconds = NULL;
        g_autoptr(GDateTime) time = NULL;

        if (!g_variant_lookup(event, "timestamp", "t", &usec))
                usec = (guint64) g_get_real_time();
        seconds = g_date_time_new_from_unix_local((gint64) (usec / G_USEC_PER_SEC));
        if (!seconds)
                return g_strdup("?");
        time = g_date_time_add(seconds, (GTimeSpan) (usec % G_USEC_PER_SEC));
        return g_date_time_format(time, "%Y-%m-%d %H:%M:%S.%f");
}

static void print_text(const char *type, GVariant *event) {
        g_autofree gchar *time = format_time(event);
        g_autoptr(GString) line = g_string_new(NULL);
        const char *service;

        g_string_append_printf(line, "%s %s", time, type);
        if (g_variant_lookup(event, "service", "&s", &service))
                g_string_append_printf(line, " %s", service);
        append_details(line, "", event);
        printf("%s\n", line->str);
        fflush(stdout);
}

static void print_json(const char *type, GVariant *event) {
        g_autoptr(GString) doc = g_string_new("{\"type\":\"monitor-event\",\"event\":");

        valueset_json_append_string(doc, type);
        g_string_append(doc, ",\"details\":");
        valueset_json_append(doc, event);
        g_string_append_c(doc, '}');
        ctl_print_json(doc);
}

static void on_monitor_event(AppServiceNode *node, const char *type, GVariant *event, gpointer user_data) {
        Monitor *m = user_data;

        if (m->ctl->json)
                print_json(type, event);
        else
                print_text(type, event);
}

/* The broker was replaced and the new one refused (the library warned why). */
static void on_monitoring_changed(GObject *object, GParamSpec *pspec, gpointer user_data) {
        Monitor *m = user_data;

        if (app_service_node_get_monitoring(m->node))
                return;
        ctl_report(m->ctl, "monitor", /* name= */ NULL, "the broker stopped sending events");
        m->status = CTL_EXIT_FAILURE;
        g_main_loop_quit(m->loop);
}

static void on_bus_closed(GDBusConnection *bus, gboolean remote_peer_vanished, GError *error, gpointer user_data) {
        Monitor *m = user_data;

        ctl_report(m->ctl, "monitor", /* name= */ NULL, "the bus connection closed");
        m->status = CTL_EXIT_NO_BROKER;
        g_main_loop_quit(m->loop);
}

static gboolean on_signal(gpointer user_data) {
        Monitor *m = user_data;

        g_main_loop_quit(m->loop);
        return G_SOURCE_CONTINUE;
}

static int monitor_run(Monitor *m) {
        g_autoptr(GError) error = NULL;
        guint sigint, sigterm;

        g_signal_connect(m->node, "monitor-event", G_CALLBACK(on_monitor_event), m);
        if (!app_service_node_start_monitoring_sync(m->node, /* cancellable= */ NULL, &error))
                return ctl_report_error(m->ctl, "monitor", error);
        g_signal_connect(m->node, "notify::monitoring", G_CALLBACK(on_monitoring_changed), m);
        g_signal_connect(m->ctl->bus, "closed", G_CALLBACK(on_bus_closed), m);
        if (m->ctl->json) {
                g_autoptr(GString) doc = g_string_new("{\"type\":\"monitoring\"}");

                ctl_print_json(doc);
        }
        if (isatty(STDERR_FILENO))
                fprintf(stderr, "Monitoring the broker; Ctrl-C stops.\n");

        sigint = g_unix_signal_add(SIGINT, on_signal, m);
        sigterm = g_unix_signal_add(SIGTERM, on_signal, m);
        g_main_loop_run(m->loop);
        g_source_remove(sigint);
        g_source_remove(sigterm);

        g_signal_handlers_disconnect_by_data(m->node, m);
        g_signal_handlers_disconnect_by_data(m->ctl->bus, m);
        /* Polite, not needed: leaving the bus stops the events too. */
        if (m->status == CTL_EXIT_SUCCESS)
                (void) app_service_node_stop_monitoring_sync(m->node, /* cancellable= */ NULL, /* error= */ NULL);
        return m->status;
}

int ctl_verb_monitor(Ctl *ctl, int argc, char **argv) {
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(AppServiceNode) node = NULL;
        g_autoptr(GMainLoop) loop = NULL;
        Monitor m = { 0 };
        int r;

        context = ctl_option_context_new(ctl, "monitor", monitor_summary, monitor_description);
        if (!ctl_parse_verb_options(ctl, context, &argc, &argv, "monitor"))
                return CTL_EXIT_USAGE;
        if (argc > 1)
                return ctl_usage_error("monitor", "unexpected argument '%s'", argv[1]);

        r = ctl_connect(ctl);
        if (r != CTL_EXIT_SUCCESS)
                return r;
        node = app_service_node_new_for_bus(ctl->bus);
        loop = g_main_loop_new(NULL, FALSE);
        m.ctl = ctl;
        m.node = node;
        m.loop = loop;
        return monitor_run(&m);
}
