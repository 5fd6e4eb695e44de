/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* appservicectl: what the verbs share. Each verb lives in verb-<name>.c and is one function with
 * the signature of CtlVerbFunc; main.c parses the global options, picks the verb and runs it. */

#include <appservice.h>
#include <gio/gio.h>

#include "valueset-json.h"

/* Exit statuses, documented in --help (CTL_EXIT_STATUS_HELP) and in the README. */
typedef enum {
        CTL_EXIT_SUCCESS = 0,
        CTL_EXIT_FAILURE = 1,       /* a failure reported by the app service or the broker */
        CTL_EXIT_USAGE = 2,         /* unknown verb or option, missing or malformed argument */
        CTL_EXIT_NOT_FOUND = 3,     /* AppServiceUnavailable, AppNotInstalled */
        CTL_EXIT_NOT_ALLOWED = 4,   /* NotAuthorized, DisabledByPolicy, the bus's AccessDenied */
        CTL_EXIT_UNAVAILABLE = 5,   /* AppUnavailable: the provider could not be started */
        CTL_EXIT_NO_BROKER = 6,     /* no bus, or io.appservice1 is not on it */
} CtlExitStatus;

#define CTL_EXIT_STATUS_HELP                                                                        \
        "Exit status:\n"                                                                            \
        "  0  success\n"                                                                            \
        "  1  a failure reported by the app service or the broker (Timeout, Closed,\n"              \
        "     MessageSizeTooLarge, ...), or a session that ended abnormally\n"                      \
        "  2  usage error: unknown command or option, missing or malformed argument\n"              \
        "  3  no such app service (AppServiceUnavailable, AppNotInstalled)\n"                       \
        "  4  not allowed (NotAuthorized, DisabledByPolicy, the bus's AccessDenied)\n"              \
        "  5  the provider could not be started (AppUnavailable)\n"                                 \
        "  6  the broker cannot be reached (no bus, or io.appservice1 is not on it)\n"

/* How KEY=VALUE words are read (call, open, submit). */
#define CTL_VALUES_HELP                                                                             \
        "Values: a VALUE that starts with @ < [ ( { ' \" - a digit, true or false and parses\n"     \
        "as GVariant text is that value; anything else is the string as written:\n"                 \
        "  Text=hello  'words=hello world'  'count=@i 5'  count=5 (an int32)  ratio=0.5\n"          \
        "  ok=true  'id=@t 7'  'list=@as [\"a\",\"b\"]'  'nothing=@av []' (the null value)\n"       \
        "  'zip=\"01234\"' (quotes: a string that would parse as something else)\n"

/* The state of one run: the global options and, once connected, the bus. */
typedef struct {
        gboolean system;
        gboolean user;
        gchar *address;
        gboolean json;
        gboolean version;
        GDBusConnection *bus;
} Ctl;

typedef int (*CtlVerbFunc)(Ctl *ctl, int argc, char **argv);

/* main.c */
GOptionContext *ctl_option_context_new(Ctl *ctl, const char *parameter_string, const char *summary,
                                       const char *description);
gboolean ctl_parse_verb_options(Ctl *ctl, GOptionContext *context, int *argc, char ***argv,
                                const char *verb);
int ctl_usage_error(const char *verb, const char *format, ...) G_GNUC_PRINTF(2, 3);
int ctl_connect(Ctl *ctl);
/* The broker dev starts and verify asks: $APPSERVICED, else the installed appserviced. */
const char *ctl_broker_program(void);

/* errors.c */
int ctl_report_error(Ctl *ctl, const char *subject, const GError *error);
void ctl_report(Ctl *ctl, const char *subject, const char *name, const char *text);
const char *ctl_closed_status_to_string(AppServiceClosedStatus status);

/* output.c */
void ctl_print_value_set(GVariant *value_set, const char *indent);
void ctl_print_json(GString *document);

/* message.c */
GVariant *ctl_message_new(char **words, int n_words, GError **error);
int ctl_print_response(Ctl *ctl, const char *subject, AppServiceResponse *response, const GError *error,
                       const char *header);
int ctl_print_value_set_response(Ctl *ctl, GVariant *message);
void ctl_print_request(Ctl *ctl, AppServiceRequest *request);

/* services.c: Manager.ListServices and the Service properties, read with GDBus on the bus the
 * library uses (the library has no wrapper for them). */
typedef struct {
        gchar *name;
        gchar *provider;
        gchar *description;
        gchar *state;
        gboolean may_open;
        gchar *object_path;
        /* Only from ctl_service_info_get(): the io.appservice1.Service properties. */
        gboolean activatable;
        guint32 connections;
} CtlServiceInfo;

void ctl_service_info_free(CtlServiceInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlServiceInfo, ctl_service_info_free)

GPtrArray *ctl_list_services(GDBusConnection *bus, GError **error);
CtlServiceInfo *ctl_service_info_get(GDBusConnection *bus, const char *name, GError **error);
gchar *ctl_node_name(GDBusConnection *bus, GError **error);
GVariant *ctl_load_errors(GDBusConnection *bus);
const char *ctl_load_error_find(GVariant *errors, const char *name, const char **ret_path);
GVariant *ctl_submit_message(GDBusConnection *bus, GVariant *message, GError **error);

/* The verbs. */
int ctl_verb_list(Ctl *ctl, int argc, char **argv);
int ctl_verb_status(Ctl *ctl, int argc, char **argv);
int ctl_verb_call(Ctl *ctl, int argc, char **argv);
int ctl_verb_submit(Ctl *ctl, int argc, char **argv);
int ctl_verb_open(Ctl *ctl, int argc, char **argv);
int ctl_verb_start(Ctl *ctl, int argc, char **argv);
int ctl_verb_stop(Ctl *ctl, int argc, char **argv);
int ctl_verb_restart(Ctl *ctl, int argc, char **argv);
int ctl_verb_enable(Ctl *ctl, int argc, char **argv);
int ctl_verb_disable(Ctl *ctl, int argc, char **argv);
int ctl_verb_reload(Ctl *ctl, int argc, char **argv);
int ctl_verb_monitor(Ctl *ctl, int argc, char **argv);
int ctl_verb_dev(Ctl *ctl, int argc, char **argv);
int ctl_verb_verify(Ctl *ctl, int argc, char **argv);
