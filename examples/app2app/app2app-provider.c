/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * app2app-provider: the provider half of the App2App sample, a port of the Windows IoT Core
 * "PythonApp2App" sample's app service (AppServer) to appservice, on the code appservice-codegen
 * generates from com.example.app2app.contract (app-to-app-provider.h, in the build tree).
 *
 * It serves the app service "com.example.app2app":
 *
 *   - every client that opens a connection is greeted first, by the contract's callback Greet,
 *     sent from the provider side with who the client is, which the client answers;
 *   - the contract's methods, each a handler below:
 *       TestValues  one value of each type the original sample sends, at its minimum and its
 *                   maximum, and an array of each (see README.md for the Windows type -> D-Bus
 *                   type table);
 *       Echo        what it was given, unchanged;
 *       Disconnect  a short answer, then the provider closes the connection (the client sees
 *                   service-closed with status Completed).
 *   Anything else never arrives: the broker refuses what the contract does not allow.
 *
 * The broker starts it on demand (Exec= in com.example.app2app.appservice) and collects what it
 * writes on stderr into its own log. It runs until SIGTERM or SIGINT, then unregisters and exits 0.
 */

#include <float.h>
#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <appservice.h>

#include "app-to-app-provider.h"

#define APP2APP_NAME "com.example.app2app"
#define GREETING     "Hello from the App2App provider"

/* Everything the process owns. */
typedef struct {
        GMainLoop *loop;
        AppServiceProvider *provider;
        AppToAppProvider *app2app;      /* the generated skeleton on top of it */
        guint n_connections;            /* connections received so far, to number them in the log */
} Context;

static void context_done(Context *c) {
        g_clear_object(&c->app2app);
        g_clear_object(&c->provider);
        g_clear_pointer(&c->loop, g_main_loop_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Context, context_done)

/* One line on stderr, unbuffered: under the broker it lands in the broker's log. */
static void log_line(const char *format, ...) G_GNUC_PRINTF(1, 2);
static void log_line(const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* A short label for a connection in the log: its broker object path. */
static const char *connection_label(AppServiceConnection *connection) {
        const char *path = app_service_connection_get_object_path(connection);

        return path ? path : "(unknown connection)";
}

static void value_set_add(GVariantBuilder *builder, const char *key, GVariant *value) {
        g_variant_builder_add(builder, "{sv}", key, value);
}

/*
 * The record TypedValues: the values the original sample's TestValues answer carries, in its order
 * (the original's keys "ArrayBoolean" and so on are "ArrayBoolean" and so on, field names). D-Bus has no char,
 * no single-precision float and no null string, so (see README.md):
 *   char   -> q, the UTF-16 code unit that a .NET System.Char is;
 *   single -> d, a double holding float's minimum and maximum (exactly representable);
 *   null   -> the ValueSet null convention, a variant holding an empty array of variants (@av []),
 *             for both "Null" and "StringNull".
 * The original left UInt64 out (its Python bridge could not carry it); D-Bus can, so it is in.
 */
static GVariant *test_values_new(void) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);

        value_set_add(&b, "Null", app_service_value_new_null());

        value_set_add(&b, "BoolMin", g_variant_new_boolean(FALSE));
        value_set_add(&b, "BoolMax", g_variant_new_boolean(TRUE));

        value_set_add(&b, "CharMin", g_variant_new_uint16(0));
        value_set_add(&b, "CharMax", g_variant_new_uint16(G_MAXUINT16));

        value_set_add(&b, "ByteMin", g_variant_new_byte(0));
        value_set_add(&b, "ByteMax", g_variant_new_byte(G_MAXUINT8));

        value_set_add(&b, "Int16Min", g_variant_new_int16(G_MININT16));
        value_set_add(&b, "Int16Max", g_variant_new_int16(G_MAXINT16));
        value_set_add(&b, "Int32Min", g_variant_new_int32(G_MININT32));
        value_set_add(&b, "Int32Max", g_variant_new_int32(G_MAXINT32));
        value_set_add(&b, "Int64Min", g_variant_new_int64(G_MININT64));
        value_set_add(&b, "Int64Max", g_variant_new_int64(G_MAXINT64));

        value_set_add(&b, "UInt16Min", g_variant_new_uint16(0));
        value_set_add(&b, "UInt16Max", g_variant_new_uint16(G_MAXUINT16));
        value_set_add(&b, "UInt32Min", g_variant_new_uint32(0));
        value_set_add(&b, "UInt32Max", g_variant_new_uint32(G_MAXUINT32));
        value_set_add(&b, "UInt64Min", g_variant_new_uint64(0));
        value_set_add(&b, "UInt64Max", g_variant_new_uint64(G_MAXUINT64));

        value_set_add(&b, "SingleMin", g_variant_new_double(-FLT_MAX));
        value_set_add(&b, "SingleMax", g_variant_new_double(FLT_MAX));
        value_set_add(&b, "DoubleMin", g_variant_new_double(-DBL_MAX));
        value_set_add(&b, "DoubleMax", g_variant_new_double(DBL_MAX));

        value_set_add(&b, "StringNull", app_service_value_new_null());
        value_set_add(&b, "StringEmpty", g_variant_new_string(""));
        value_set_add(&b, "String", g_variant_new_string("string"));

        /* The arrays: the format letters after % give each element its exact type. */
        value_set_add(&b, "ArrayBoolean", g_variant_new_parsed("[%b, %b]", FALSE, TRUE));
        value_set_add(&b, "ArrayChar",
                      g_variant_new_parsed("[%q, %q]", (guint16) 0, (guint16) G_MAXUINT16));
        value_set_add(&b, "ArrayByte", g_variant_new_parsed("[%y, %y]", (guint8) 0, (guint8) G_MAXUINT8));
        value_set_add(&b, "ArrayInt16",
                      g_variant_new_parsed("[%n, %n]", (gint16) G_MININT16, (gint16) G_MAXINT16));
        value_set_add(&b, "ArrayInt32",
                      g_variant_new_parsed("[%i, %i]", (gint32) G_MININT32, (gint32) G_MAXINT32));
        value_set_add(&b, "ArrayInt64",
                      g_variant_new_parsed("[%x, %x]", (gint64) G_MININT64, (gint64) G_MAXINT64));
        value_set_add(&b, "ArrayUInt16",
                      g_variant_new_parsed("[%q, %q]", (guint16) 0, (guint16) G_MAXUINT16));
        value_set_add(&b, "ArrayUInt32",
                      g_variant_new_parsed("[%u, %u]", (guint32) 0, (guint32) G_MAXUINT32));
        value_set_add(&b, "ArrayUInt64",
                      g_variant_new_parsed("[%t, %t]", (guint64) 0, (guint64) G_MAXUINT64));
        value_set_add(&b, "ArraySingle",
                      g_variant_new_parsed("[%d, %d]", (gdouble) -FLT_MAX, (gdouble) FLT_MAX));
        value_set_add(&b, "ArrayDouble", g_variant_new_parsed("[%d, %d]", -DBL_MAX, DBL_MAX));
        value_set_add(&b, "ArrayString", g_variant_new_parsed("[%s, %s, %s]", "", "string", "foobar"));

        return g_variant_builder_end(&b);
}

/* ---- closing -------------------------------------------------------------------------------- */

static void on_service_closed(AppServiceConnection *connection, AppServiceClosedStatus status,
                              gpointer user_data) {
        g_autoptr(GEnumClass) statuses = g_type_class_ref(APP_SERVICE_TYPE_CLOSED_STATUS);
        GEnumValue *value = g_enum_get_value(statuses, status);

        log_line("%s: closed by the client's side (status %s)", connection_label(connection),
                 value ? value->value_nick : "?");
}

static void on_closed(GObject *source, GAsyncResult *result, gpointer user_data) {
        AppServiceConnection *connection = APP_SERVICE_CONNECTION(source);
        g_autoptr(GError) error = NULL;

        if (!app_service_connection_close_finish(connection, result, &error))
                log_line("%s: closing failed, ignoring: %s", connection_label(connection), error->message);
        else
                log_line("%s: closed", connection_label(connection));
}

static void on_disconnect_answered(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(AppServiceConnection) connection = user_data;
        g_autoptr(GError) error = NULL;
        AppServiceResponseStatus status;

        /* Closed whatever became of the answer: the client asked for it. */
        status = app_service_request_send_response_finish(APP_SERVICE_REQUEST(source), result, &error);
        if (status != APP_SERVICE_RESPONSE_STATUS_SUCCESS)
                log_line("%s: the answer to Disconnect failed, closing anyway: %s",
                         connection_label(connection), error ? error->message : "no reason given");
        log_line("%s: closing the connection, as the client asked", connection_label(connection));
        app_service_connection_close(connection, /* cancellable= */ NULL, on_closed, /* user_data= */ NULL);
}

/* ---- the contract's methods ----------------------------------------------------------------- */

static void on_answered(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autofree char *label = user_data;
        g_autoptr(GError) error = NULL;
        AppServiceResponseStatus status;

        status = app_service_request_send_response_finish(APP_SERVICE_REQUEST(source), result, &error);
        if (status != APP_SERVICE_RESPONSE_STATUS_SUCCESS)
                log_line("%s: the response was not delivered: %s", label,
                         error ? error->message : "no reason given");
}

/* Has the invocation report an answer that did not get through (the broker refused it, or the
 * client left), then gives the connection's label for the log. */
static const char *watch_answer(AppToAppInvocation *invocation) {
        const char *label = connection_label(app_to_app_invocation_get_connection(invocation));

        app_to_app_invocation_set_answered_callback(invocation, on_answered, g_strdup(label));
        return label;
}

static void on_test_values(AppToAppProvider *self, AppToAppInvocation *invocation, gpointer user_data) {
        g_autoptr(GVariant) values = g_variant_ref_sink(test_values_new());

        log_line("%s: TestValues: answering with %zu typed values", watch_answer(invocation),
                 g_variant_n_children(values));
        app_to_app_invocation_return_test_values(invocation, values);
}

static void on_echo(AppToAppProvider *self, AppToAppInvocation *invocation, const gchar *text, GVariant *values,
                    gpointer user_data) {
        log_line("%s: Echo: sending back %s%s%s", watch_answer(invocation), text ? "a text" : "",
                 text && values ? " and " : "",
                 values ? (g_variant_n_children(values) == 1 ? "1 value" : "a record of values") : "");
        app_to_app_invocation_return_echo(invocation, text, values);
}

static void on_disconnect(AppToAppProvider *self, AppToAppInvocation *invocation, gpointer user_data) {
        AppServiceConnection *connection = app_to_app_invocation_get_connection(invocation);

        log_line("%s: Disconnect: answering, then closing the connection", connection_label(connection));
        app_to_app_invocation_set_answered_callback(invocation, on_disconnect_answered, g_object_ref(connection));
        app_to_app_invocation_return_disconnect(invocation, "Disconnecting");
}

/* ---- new connections ------------------------------------------------------------------------ */

static void on_greeting_answered(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(AppServiceConnection) connection = user_data;
        g_autoptr(GError) error = NULL;
        g_autofree char *answer = NULL;

        if (app_to_app_provider_call_greet_finish(APP_TO_APP_PROVIDER(source), result, &answer, &error))
                log_line("%s: the client answered the greeting: %s", connection_label(connection), answer);
        else
                log_line("%s: the greeting got no answer: %s", connection_label(connection), error->message);
}

static void on_connection_received(AppServiceProvider *provider, AppServiceConnection *connection,
                                   GVariant *caller, gpointer user_data) {
        Context *c = user_data;
        guint32 uid = G_MAXUINT32, pid = 0;

        if (caller && g_variant_is_of_type(caller, G_VARIANT_TYPE_VARDICT)) {
                g_variant_lookup(caller, "uid", "u", &uid);
                g_variant_lookup(caller, "pid", "u", &pid);
        } else {
                caller = NULL;
        }
        c->n_connections++;
        log_line("%s: connection %u from uid %" G_GUINT32_FORMAT ", pid %" G_GUINT32_FORMAT
                 "; greeting the client",
                 connection_label(connection), c->n_connections, uid, pid);

        /* The provider object keeps the connection while it is open; the skeleton takes its
         * requests. */
        g_signal_connect(connection, "service-closed", G_CALLBACK(on_service_closed), NULL);

        /* The provider speaks first: the contract's callback Greet, with who the client is as
         * the broker saw them (a ValueSet inside the ValueSet), which the client answers. */
        app_to_app_provider_call_greet(c->app2app, connection, GREETING,
                                       caller ? caller : g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0),
                                       /* cancellable= */ NULL, on_greeting_answered, g_object_ref(connection));
}

/* ---- main ----------------------------------------------------------------------------------- */

static gboolean on_quit_signal(gpointer user_data) {
        Context *c = user_data;

        log_line("stopping");
        g_main_loop_quit(c->loop);
        return G_SOURCE_REMOVE;
}

int main(int argc, char *argv[]) {
        static const AppToAppProviderHandlers handlers = {
                .test_values = on_test_values,
                .echo = on_echo,
                .disconnect = on_disconnect,
        };
        g_auto(Context) c = { 0 };
        g_autoptr(GError) error = NULL;

        setlocale(LC_ALL, "");

        c.loop = g_main_loop_new(NULL, FALSE);
        g_unix_signal_add(SIGTERM, on_quit_signal, &c);
        g_unix_signal_add(SIGINT, on_quit_signal, &c);

        /* The system bus, or the one DBUS_SYSTEM_BUS_ADDRESS names (the broker sets it). */
        c.provider = app_service_provider_new(APP2APP_NAME);
        c.app2app = app_to_app_provider_new(c.provider, &handlers, &c);
        g_signal_connect(c.provider, "connection-received", G_CALLBACK(on_connection_received), &c);
        if (!app_service_provider_register_sync(c.provider, /* cancellable= */ NULL, &error)) {
                log_line("cannot register as the provider of '%s': %s", APP2APP_NAME, error->message);
                return EXIT_FAILURE;
        }
        log_line("serving '%s'", APP2APP_NAME);

        g_main_loop_run(c.loop);

        if (!app_service_provider_unregister_sync(c.provider, /* cancellable= */ NULL, &error))
                log_line("unregistering failed, ignoring: %s", error->message);
        return EXIT_SUCCESS;
}
