/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Messages on an open connection, against the real daemon with the provider in another process
 * (provider-helper): typed round trips byte for byte, every response status, requests received
 * by the client (provider -> client), deferral by reference on both sides, service-closed with
 * Completed and Canceled, close(), cancellation, and the one-shot send. */

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "libclient-test.h"

#define ECHO "com.example.echo"

/* Every type a ValueSet may hold, with the extremes. */
#define TYPED_VALUES                                                                              \
        "{'null': <@av []>, 'true': <true>, 'false': <false>, 'byte-min': <byte 0>,"                \
        " 'byte-max': <byte 255>, 'int16-min': <int16 -32768>, 'int16-max': <int16 32767>,"         \
        " 'uint16-max': <uint16 65535>, 'int32-min': <int32 -2147483648>,"                          \
        " 'int32-max': <int32 2147483647>, 'uint32-max': <uint32 4294967295>,"                      \
        " 'int64-min': <int64 -9223372036854775808>, 'int64-max': <int64 9223372036854775807>,"     \
        " 'uint64-max': <uint64 18446744073709551615>, 'double-min': <-1.7976931348623157e308>,"    \
        " 'double-max': <1.7976931348623157e308>, 'double-tiny': <2.2250738585072014e-308>,"        \
        " 'string': <'h\u00e9llo w\u00f6rld \u2713'>, 'empty-string': <''>,"                        \
        " 'path': <objectpath '/a/b'>, 'signature': <signature 'a{sv}'>,"                           \
        " 'strings': <['a', '', 'ccc']>, 'no-strings': <@as []>, 'bytes': <b'\\x00\\x01\\xff'>,"   \
        " 'int32s': <[int32 1, -2, 3]>, 'doubles': <[0.5, -1e300]>, 'bools': <[true, false]>,"      \
        " 'struct': <('x', int32 2, [byte 1])>, 'structs': <[(int32 1, 'a'), (2, 'b')]>,"           \
        " 'dict': <{'k': int32 1}>, 'inner': <@a{sv} {'a': <int32 1>, 'deeper': <@a{sv} {}>}>,"     \
        " 'list': <@aa{sv} [{'a': <true>}, {}]>, 'variant-in-variant': <<int32 9>>,"                \
        " 'nulls': <[@av [], @av []]>}"

/* Every outcome the broker reports is a response: a failure status and the error saying why. */
static void check_send_failed(AppServiceResponse *response, const GError *error,
                              AppServiceResponseStatus want_status, AppServiceError want_code) {
        g_assert_no_error(error);
        g_assert_nonnull(response);
        if (response) {
                g_assert_cmpint(app_service_response_get_status(response), ==, want_status);
                g_assert_error(app_service_response_get_error(response), APP_SERVICE_ERROR, (int) want_code);
                g_assert_null(app_service_response_get_message(response));
        }
}

static void check_send_ok(AppServiceResponse *response, const GError *error, GVariant *expected) {
        g_assert_no_error(error);
        g_assert_nonnull(response);
        if (!response)
                return;
        g_assert_cmpint(app_service_response_get_status(response), ==, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
        g_assert_null(app_service_response_get_error(response));
        g_assert_true(lt_value_set_equal(app_service_response_get_message(response), expected));
}

/* A bus, the daemon with `name` defined by `body`, a provider-helper in `mode`, and an open
 * connection of the test process. */
typedef struct Setup {
        LtBus *bus;
        LtHelper *provider;
        AppServiceConnection *connection;
        LtClosed closed;
} Setup;

static gboolean setup_open(Setup *s, const char *body, const char *mode, const char *arg) {
        g_autoptr(GError) error = NULL;

        *s = (Setup) { 0 };
        s->bus = lt_bus_new();
        if (!s->bus)
                return FALSE;
        lt_bus_write_definition(s->bus, ECHO, 0644, body);
        if (!lt_bus_start_daemon(s->bus))
                return FALSE;
        s->provider = lt_helper_start_provider(s->bus, ECHO, mode, arg);
        s->connection = app_service_connection_new_for_bus(s->bus->conn, ECHO, NULL);
        g_signal_connect(s->connection, "service-closed", G_CALLBACK(lt_closed_cb), &s->closed);
        if (lt_open(s->connection, &error) != APP_SERVICE_CONNECTION_STATUS_SUCCESS) {
                g_test_fail_printf("open failed: %s", error ? error->message : "?");
                return FALSE;
        }
        g_free(lt_helper_wait_line(s->provider, "connection ", LT_WAIT_MS));
        return TRUE;
}

static void setup_clear(Setup *s) {
        if (s->connection)
                g_signal_handlers_disconnect_by_data(s->connection, &s->closed);
        g_clear_object(&s->connection);
        g_clear_pointer(&s->bus, lt_bus_free);
}

/* ---- round trips ------------------------------------------------------------------------------- */

static void test_round_trip_async(void) {
        Setup s;
        g_autoptr(GVariant) message = lt_value_set(TYPED_VALUES);
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autofree char *line = NULL, *expected_line = NULL, *printed = NULL;
        LtResult r = { 0 };

        if (!setup_open(&s, NULL, "echo", NULL))
                goto out;
        app_service_connection_send_message(s.connection, message, NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "send_message() callback"), out);
        g_assert_true(r.source == G_OBJECT(s.connection));
        response = app_service_connection_send_message_finish(s.connection, r.result, &error);
        check_send_ok(response, error, message);
        /* What the provider received is what was sent, byte for byte. */
        printed = g_variant_print(message, TRUE);
        expected_line = g_strconcat("request ", printed, NULL);
        line = lt_helper_wait_line(s.provider, "request ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, expected_line);
out:
        lt_result_clear(&r);
        setup_clear(&s);
}

static void test_round_trip_sync(void) {
        Setup s;
        g_autoptr(GVariant) message = lt_value_set(TYPED_VALUES);
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;

        if (!setup_open(&s, NULL, "echo", NULL))
                goto out;
        response = app_service_connection_send_message_sync(s.connection, message, NULL, &error);
        check_send_ok(response, error, message);
out:
        setup_clear(&s);
}

/* Several messages in flight on one connection, answered out of order. */
static void test_concurrent_sends(void) {
        Setup s;
        LtResult r[3] = { { 0 } };
        g_autoptr(GVariant) m0 = lt_value_set("{'n': <int32 0>}");
        g_autoptr(GVariant) m1 = lt_value_set("{'n': <int32 1>}");
        g_autoptr(GVariant) m2 = lt_value_set("{'n': <int32 2>}");
        GVariant *messages[3] = { m0, m1, m2 };

        if (!setup_open(&s, NULL, "defer", "300"))
                goto out;
        for (guint i = 0; i < 3; i++)
                app_service_connection_send_message(s.connection, messages[i], NULL, lt_result_cb, &r[i]);
        for (guint i = 0; i < 3; i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(AppServiceResponse) response = NULL;

                LT_CHECK_OR_GOTO(lt_result_wait(&r[i], LT_WAIT_MS, "send_message() callback"), out);
                response = app_service_connection_send_message_finish(s.connection, r[i].result, &error);
                check_send_ok(response, error, messages[i]);
        }
out:
        for (guint i = 0; i < 3; i++)
                lt_result_clear(&r[i]);
        setup_clear(&s);
}

/* ---- response statuses ------------------------------------------------------------------------- */

static void test_message_size_too_large(void) {
        Setup s;
        g_autofree char *big_text = g_strnfill(2000, 'x');
        g_autoptr(GVariant) big = NULL;
        g_autoptr(GVariant) small = lt_value_set("{'small': <true>}");
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(AppServiceResponse) response2 = NULL;
        gint64 start;

        if (!setup_open(&s, "MaxMessageSize=1024\nRequestTimeoutSec=60\n", "echo", NULL))
                goto out;
        big = g_variant_ref_sink(g_variant_new_parsed("{'text': <%s>}", big_text));
        start = g_get_monotonic_time();
        response = lt_send(s.connection, big, &error);
        check_send_failed(response, error, APP_SERVICE_RESPONSE_STATUS_MESSAGE_SIZE_TOO_LARGE,
                          APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE);
        /* Refused at once, never by hanging. */
        g_assert_cmpint(g_get_monotonic_time() - start, <, (gint64) lt_ms(5000) * 1000);
        g_clear_error(&error);

        /* The connection is still good, and the provider never saw the big one. */
        response2 = lt_send(s.connection, small, &error);
        check_send_ok(response2, error, small);
        g_free(lt_helper_wait_line(s.provider, "request {'small'", LT_WAIT_MS));
        g_assert_false(lt_helper_has_line(s.provider, "request "));
out:
        setup_clear(&s);
}

static void test_invalid_message(void) {
        static const char *const invalid[] = {
                "{'a': <int32 1>, 'a': <int32 2>}",
                "{'': <int32 1>}",
                "{'inner': <@a{sv} {'x': <1>, 'x': <2>}>}",
        };
        Setup s;

        if (!setup_open(&s, NULL, "echo", NULL))
                goto out;
        for (guint i = 0; i < G_N_ELEMENTS(invalid); i++) {
                g_autoptr(GVariant) message = lt_value_set(invalid[i]);
                g_autoptr(GError) error = NULL;
                g_autoptr(AppServiceResponse) response = NULL;

                g_test_message("invalid: %s", invalid[i]);
                response = lt_send(s.connection, message, &error);
                check_send_failed(response, error, APP_SERVICE_RESPONSE_STATUS_FAILURE,
                                  APP_SERVICE_ERROR_INVALID_MESSAGE);
        }
        g_assert_false(lt_helper_has_line(s.provider, "request "));
out:
        setup_clear(&s);
}

static void test_timeout(void) {
        Setup s;
        g_autoptr(GVariant) message = lt_value_set("{'wait': <true>}");
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        gint64 start, elapsed;

        if (!setup_open(&s, "RequestTimeoutSec=1\n", "hold", NULL))
                goto out;
        start = g_get_monotonic_time();
        response = lt_send(s.connection, message, &error);
        elapsed = g_get_monotonic_time() - start;
        check_send_failed(response, error, APP_SERVICE_RESPONSE_STATUS_FAILURE, APP_SERVICE_ERROR_TIMEOUT);
        /* The broker's RequestTimeoutSec decides, not a D-Bus timeout of the library. */
        g_assert_cmpint(elapsed, >=, 900 * 1000);
        g_assert_cmpint(elapsed, <, (gint64) lt_ms(10000) * 1000);
        g_assert_true(app_service_connection_get_is_open(s.connection));
out:
        setup_clear(&s);
}

static void test_resource_limits_exceeded(void) {
        Setup s;
        g_autoptr(GVariant) first = lt_value_set("{'n': <int32 1>}");
        g_autoptr(GVariant) second = lt_value_set("{'n': <int32 2>}");
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(AppServiceResponse) response2 = NULL;
        LtResult r = { 0 };

        if (!setup_open(&s, "MaxPendingRequests=1\nRequestTimeoutSec=60\n", "hold", NULL))
                goto out;
        app_service_connection_send_message(s.connection, first, NULL, lt_result_cb, &r);
        g_free(lt_helper_wait_line(s.provider, "request ", LT_WAIT_MS));

        /* One unanswered request is the limit: the second is refused at once. */
        response2 = lt_send(s.connection, second, &error);
        check_send_failed(response2, error, APP_SERVICE_RESPONSE_STATUS_RESOURCE_LIMITS_EXCEEDED,
                          APP_SERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED);
        g_clear_error(&error);
        g_assert_null(r.result);

        /* Answered, the first one completes. */
        lt_helper_command(s.provider, "answer");
        LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "first send_message() callback"), out);
        response = app_service_connection_send_message_finish(s.connection, r.result, &error);
        check_send_ok(response, error, first);
out:
        lt_result_clear(&r);
        setup_clear(&s);
}

/* Not open (never opened, or closed): nothing is sent, and there is no response. */
static void check_not_sent(AppServiceResponse *response, const GError *error) {
        g_assert_null(response);
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_NOT_OPEN);
        g_assert_cmpint(app_service_response_status_from_error(error), ==, APP_SERVICE_RESPONSE_STATUS_FAILURE);
}

static void test_send_not_open(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(AppServiceConnection) c = NULL;
        g_autoptr(GVariant) message = lt_value_set("{'n': <int32 1>}");
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;

        if (!b)
                return;
        c = app_service_connection_new_for_bus(b->conn, "com.example.never", NULL);
        response = lt_send(c, message, &error);
        check_not_sent(response, error);
        g_clear_error(&error);
        g_clear_object(&response);
        response = app_service_connection_send_message_sync(c, message, NULL, &error);
        check_not_sent(response, error);
}

/* Not a ValueSet: refused before anything is sent. */
static void test_send_not_a_value_set(void) {
        Setup s;
        g_autoptr(GVariant) not_vardict = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;

        if (!setup_open(&s, NULL, "echo", NULL))
                goto out;
        not_vardict = g_variant_ref_sink(g_variant_new_parsed("[1, 2]"));
        response = app_service_connection_send_message_sync(s.connection, not_vardict, NULL, &error);
        g_assert_null(response);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
        g_assert_false(lt_helper_has_line(s.provider, "request "));
out:
        setup_clear(&s);
}

static gboolean cancel_cb(gpointer user_data) {
        g_cancellable_cancel(user_data);
        return G_SOURCE_REMOVE;
}

static void test_send_cancelled(void) {
        Setup s;
        g_autoptr(GVariant) message = lt_value_set("{'n': <int32 1>}");
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        g_autoptr(GCancellable) cancelled = g_cancellable_new();
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        LtResult r = { 0 };

        if (!setup_open(&s, "RequestTimeoutSec=60\n", "hold", NULL))
                goto out;
        /* Cancelled while the provider holds it: the callback comes at once. */
        app_service_connection_send_message(s.connection, message, cancellable, lt_result_cb, &r);
        g_free(lt_helper_wait_line(s.provider, "request ", LT_WAIT_MS));
        g_idle_add(cancel_cb, cancellable);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, lt_ms(5000), "send_message() callback after cancellation"), out);
        response = app_service_connection_send_message_finish(s.connection, r.result, &error);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_null(response);
        g_clear_error(&error);
        g_clear_object(&response);

        /* The _sync twin with a cancelled cancellable. */
        g_cancellable_cancel(cancelled);
        response = app_service_connection_send_message_sync(s.connection, message, cancelled, &error);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_null(response);
        g_clear_error(&error);
        g_clear_object(&response);

        /* The connection still works. */
        lt_helper_command(s.provider, "release");
        g_free(lt_helper_wait_line(s.provider, "released", LT_WAIT_MS));
        g_assert_true(app_service_connection_get_is_open(s.connection));
out:
        lt_result_clear(&r);
        setup_clear(&s);
}

/* ---- deferral by reference, provider side ------------------------------------------------------- */

static void test_deferral_answered_later(void) {
        Setup s;
        g_autoptr(GVariant) message = lt_value_set("{'later': <'please'>}");
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        gint64 start;

        if (!setup_open(&s, "RequestTimeoutSec=60\n", "defer", "500"))
                goto out;
        start = g_get_monotonic_time();
        response = lt_send(s.connection, message, &error);
        check_send_ok(response, error, message);
        g_assert_cmpint(g_get_monotonic_time() - start, >=, 450 * 1000);
        g_free(lt_helper_wait_line(s.provider, "deferred-answer", LT_WAIT_MS));
out:
        setup_clear(&s);
}

/* A handler that lets go of the request unanswered: the client gets an empty response at once,
 * not a timeout. */
static void test_deferral_dropped(void) {
        Setup s;
        g_autoptr(GVariant) message = lt_value_set("{'anyone': <'there?'>}");
        g_autoptr(GVariant) empty = lt_value_set("@a{sv} {}");
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        gint64 start;

        if (!setup_open(&s, "RequestTimeoutSec=120\n", "ignore", NULL))
                goto out;
        start = g_get_monotonic_time();
        response = lt_send(s.connection, message, &error);
        check_send_ok(response, error, empty);
        g_assert_cmpint(g_get_monotonic_time() - start, <, (gint64) lt_ms(5000) * 1000);
out:
        setup_clear(&s);
}

/* ---- requests received by the client (provider -> client) ---------------------------------------- */

typedef struct ClientSide {
        const char *how;         /* "now", "later", "cancel", "drop" */
        guint received;
        AppServiceRequest *kept; /* for "later" */
        GVariant *message;       /* the greeting */
        AppServiceResponseStatus sent_status;
        gboolean sent;
        GError *sent_error;
} ClientSide;

static void client_response_sent_cb(GObject *source, GAsyncResult *result, gpointer user_data) {
        ClientSide *cs = user_data;

        cs->sent_status = app_service_request_send_response_finish(APP_SERVICE_REQUEST(source), result,
                                                                   &cs->sent_error);
        cs->sent = TRUE;
}

static void client_request_cb(AppServiceConnection *connection, AppServiceRequest *request, gpointer user_data) {
        ClientSide *cs = user_data;
        g_autoptr(GVariant) reply = lt_value_set("{'reply': <'hi'>}");

        cs->received++;
        g_clear_pointer(&cs->message, g_variant_unref);
        cs->message = g_variant_ref(app_service_request_get_message(request));
        g_assert_false(app_service_request_get_answered(request));
        if (g_str_equal(cs->how, "now"))
                app_service_request_send_response(request, reply, NULL, client_response_sent_cb, cs);
        else if (g_str_equal(cs->how, "later") || g_str_equal(cs->how, "cancel"))
                cs->kept = g_object_ref(request);
        /* "drop": nothing. */
}

static void run_client_side(const char *how) {
        Setup s = { 0 };
        ClientSide cs = { .how = how };
        g_autoptr(GVariant) greeting = lt_value_set("{'greeting': <'hello'>}");
        g_autoptr(GError) error = NULL;
        g_autofree char *line = NULL;

        s.bus = lt_bus_new();
        if (!s.bus)
                return;
        lt_bus_write_definition(s.bus, ECHO, 0644, "RequestTimeoutSec=120\n");
        LT_CHECK_OR_GOTO(lt_bus_start_daemon(s.bus), out);
        s.provider = lt_helper_start_provider(s.bus, ECHO, "greet-on-connect", NULL);
        s.connection = app_service_connection_new_for_bus(s.bus->conn, ECHO, NULL);
        /* Connected before open(): the provider greets as soon as it sees the connection, which
         * may be before open() returns here. */
        g_signal_connect(s.connection, "request-received", G_CALLBACK(client_request_cb), &cs);
        g_assert_cmpint(lt_open(s.connection, &error), ==, APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_no_error(error);

        LT_CHECK_OR_GOTO(LT_WAIT(cs.received == 1, LT_WAIT_MS, "the provider's greeting"), out);
        g_assert_true(lt_value_set_equal(cs.message, greeting));

        if (g_str_equal(how, "now")) {
                LT_WAIT(cs.sent, LT_WAIT_MS, "send_response() callback");
                g_assert_cmpint(cs.sent_status, ==, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
                g_assert_no_error(cs.sent_error);
                line = lt_helper_wait_line(s.provider, "greet-response ", LT_WAIT_MS);
                g_assert_cmpstr(line, ==, "greet-response 0 {'reply': <'hi'>}");
        } else if (g_str_equal(how, "later")) {
                g_autoptr(GVariant) reply = lt_value_set("{'reply': <'later'>}");
                AppServiceResponseStatus status;

                /* Kept, so still unanswered: the provider waits. */
                g_assert_nonnull(cs.kept);
                LT_CHECK_OR_GOTO(cs.kept != NULL, out);
                g_assert_false(lt_helper_has_line(s.provider, "greet-response "));
                status = app_service_request_send_response_sync(cs.kept, reply, NULL, &error);
                g_assert_cmpint(status, ==, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
                g_assert_no_error(error);
                g_assert_true(app_service_request_get_answered(cs.kept));
                line = lt_helper_wait_line(s.provider, "greet-response ", LT_WAIT_MS);
                g_assert_cmpstr(line, ==, "greet-response 0 {'reply': <'later'>}");

                /* Once only: a second answer fails and is not delivered. */
                status = app_service_request_send_response_sync(cs.kept, reply, NULL, &error);
                g_assert_cmpint(status, !=, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
                g_assert_nonnull(error);
        } else if (g_str_equal(how, "cancel")) {
                g_autoptr(GVariant) reply = lt_value_set("{'reply': <'after cancel'>}");
                g_autoptr(GCancellable) cancellable = g_cancellable_new();
                LtResult r = { 0 };
                AppServiceResponseStatus status;

                LT_CHECK_OR_GOTO(cs.kept != NULL, out);
                g_cancellable_cancel(cancellable);
                app_service_request_send_response(cs.kept, reply, cancellable, lt_result_cb, &r);
                LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "send_response() callback"), out);
                status = app_service_request_send_response_finish(cs.kept, r.result, &error);
                lt_result_clear(&r);
                g_assert_cmpint(status, !=, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
                g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
                g_clear_error(&error);
                status = app_service_request_send_response_sync(cs.kept, reply, cancellable, &error);
                g_assert_cmpint(status, !=, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
                g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
                g_clear_error(&error);
                g_assert_false(app_service_request_get_answered(cs.kept));

                /* Nothing was answered: the request is still pending, and can be. */
                status = app_service_request_send_response_sync(cs.kept, reply, NULL, &error);
                g_assert_cmpint(status, ==, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
                g_assert_no_error(error);
                line = lt_helper_wait_line(s.provider, "greet-response ", LT_WAIT_MS);
                g_assert_cmpstr(line, ==, "greet-response 0 {'reply': <'after cancel'>}");
        } else {
                /* Dropped by the handler: the provider gets the empty response, at once. */
                line = lt_helper_wait_line(s.provider, "greet-response ", lt_ms(5000));
                g_assert_cmpstr(line, ==, "greet-response 0 @a{sv} {}");
        }
out:
        g_clear_object(&cs.kept);
        g_clear_pointer(&cs.message, g_variant_unref);
        g_clear_error(&cs.sent_error);
        if (s.connection)
                g_signal_handlers_disconnect_by_data(s.connection, &cs);
        setup_clear(&s);
}

static void test_client_request_answered(void) {
        run_client_side("now");
}

static void test_client_request_deferred(void) {
        run_client_side("later");
}

static void test_client_request_cancelled(void) {
        run_client_side("cancel");
}

static void test_client_request_dropped(void) {
        run_client_side("drop");
}

/* ---- closing ------------------------------------------------------------------------------------ */

/* The provider closes: the client gets service-closed(Completed), and the request it had sent
 * fails. */
static void test_closed_completed_by_provider(void) {
        Setup s;
        g_autoptr(GVariant) message = lt_value_set("{'bye': <true>}");
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;

        if (!setup_open(&s, NULL, "close-on-request", NULL))
                goto out;
        response = lt_send(s.connection, message, &error);
        check_send_failed(response, error, APP_SERVICE_RESPONSE_STATUS_FAILURE, APP_SERVICE_ERROR_CLOSED);
        LT_WAIT(s.closed.count > 0, LT_WAIT_MS, "service-closed");
        g_assert_cmpuint(s.closed.count, ==, 1);
        g_assert_cmpint(s.closed.status, ==, APP_SERVICE_CLOSED_STATUS_COMPLETED);
        g_assert_false(app_service_connection_get_is_open(s.connection));
out:
        setup_clear(&s);
}

/* The provider unregisters: Completed too. */
static void test_closed_completed_by_unregister(void) {
        Setup s;

        if (!setup_open(&s, NULL, "echo", NULL))
                goto out;
        lt_helper_command(s.provider, "unregister");
        LT_WAIT(s.closed.count > 0, LT_WAIT_MS, "service-closed");
        g_assert_cmpint(s.closed.status, ==, APP_SERVICE_CLOSED_STATUS_COMPLETED);
        g_assert_false(app_service_connection_get_is_open(s.connection));
        g_free(lt_helper_wait_line(s.provider, "unregister ok", LT_WAIT_MS));
out:
        setup_clear(&s);
}

/* The provider's process is killed: Canceled. */
static void test_closed_canceled_provider_killed(void) {
        Setup s;

        if (!setup_open(&s, NULL, "echo", NULL))
                goto out;
        lt_helper_kill(s.provider, SIGKILL);
        LT_WAIT(s.closed.count > 0, LT_WAIT_MS, "service-closed");
        g_assert_cmpuint(s.closed.count, ==, 1);
        g_assert_cmpint(s.closed.status, ==, APP_SERVICE_CLOSED_STATUS_CANCELED);
        g_assert_false(app_service_connection_get_is_open(s.connection));
out:
        setup_clear(&s);
}

/* The provider crashes while handling a request: the request fails, the connection closes with
 * Canceled. */
static void test_closed_canceled_provider_crash(void) {
        Setup s;
        g_autoptr(GVariant) message = lt_value_set("{'crash': <true>}");
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        int status;

        if (!setup_open(&s, "RequestTimeoutSec=60\n", "crash", NULL))
                goto out;
        response = lt_send(s.connection, message, &error);
        check_send_failed(response, error, APP_SERVICE_RESPONSE_STATUS_FAILURE, APP_SERVICE_ERROR_CLOSED);
        LT_WAIT(s.closed.count > 0, LT_WAIT_MS, "service-closed");
        g_assert_cmpint(s.closed.status, ==, APP_SERVICE_CLOSED_STATUS_CANCELED);
        status = lt_helper_wait_exit(s.provider, LT_WAIT_MS);
        g_assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
out:
        setup_clear(&s);
}

/* What the send's callback found when it ran: service-closed already emitted, is-open FALSE. */
typedef struct SendSeen {
        Setup *setup;
        AppServiceResponse *response;
        guint closed_count;
        gboolean is_open;
        gboolean done;
} SendSeen;

static void send_seen_cb(GObject *source, GAsyncResult *result, gpointer user_data) {
        SendSeen *seen = user_data;
        g_autoptr(GError) error = NULL;

        seen->closed_count = seen->setup->closed.count;
        seen->is_open = app_service_connection_get_is_open(APP_SERVICE_CONNECTION(source));
        seen->response = app_service_connection_send_message_finish(APP_SERVICE_CONNECTION(source), result, &error);
        g_assert_no_error(error);
        seen->done = TRUE;
}

static void check_failed_by_crash(AppServiceResponse *response) {
        const GError *e;

        LT_CHECK_OR_RETURN(response);
        g_assert_cmpint(app_service_response_get_status(response), ==, APP_SERVICE_RESPONSE_STATUS_FAILURE);
        e = app_service_response_get_error(response);
        g_assert_error(e, APP_SERVICE_ERROR, APP_SERVICE_ERROR_CLOSED);
        if (e)
                g_assert_nonnull(strstr(e->message, "the provider left the bus"));
}

/* The provider dies (SIGKILL) with a request pending: when the send completes, the application
 * has had service-closed (Canceled) and is-open is FALSE, and the error says the provider left
 * the bus. Asynchronously, the callback runs after the signal. */
static void test_provider_crash_closed_before_send_fails_async(void) {
        Setup s;
        g_autoptr(GVariant) message = lt_value_set("{'crash': <true>}");
        SendSeen seen = { .setup = &s };

        if (!setup_open(&s, "RequestTimeoutSec=60\n", "crash", NULL))
                goto out;
        app_service_connection_send_message(s.connection, message, NULL, send_seen_cb, &seen);
        LT_CHECK_OR_GOTO(LT_WAIT(seen.done, LT_WAIT_MS, "the send's callback"), out);
        g_assert_cmpuint(seen.closed_count, ==, 1);
        g_assert_false(seen.is_open);
        g_assert_cmpint(s.closed.status, ==, APP_SERVICE_CLOSED_STATUS_CANCELED);
        check_failed_by_crash(seen.response);
        lt_helper_wait_exit(s.provider, LT_WAIT_MS); /* killed, as it should be */
out:
        g_clear_object(&seen.response);
        setup_clear(&s);
}

/* The same with the _sync() call, which returns without the main context running: the library
 * emits service-closed itself before it returns. */
static void test_provider_crash_closed_before_send_fails_sync(void) {
        Setup s;
        g_autoptr(GVariant) message = lt_value_set("{'crash': <true>}");
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;

        if (!setup_open(&s, "RequestTimeoutSec=60\n", "crash", NULL))
                goto out;
        response = app_service_connection_send_message_sync(s.connection, message, NULL, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(s.closed.count, ==, 1);
        g_assert_cmpint(s.closed.status, ==, APP_SERVICE_CLOSED_STATUS_CANCELED);
        g_assert_false(app_service_connection_get_is_open(s.connection));
        check_failed_by_crash(response);
        /* The signal still queued in the context is not emitted a second time. */
        LT_RUN_FOR(FALSE, lt_ms(200));
        g_assert_cmpuint(s.closed.count, ==, 1);
        lt_helper_wait_exit(s.provider, LT_WAIT_MS); /* killed, as it should be */
out:
        setup_clear(&s);
}

/* The client closes: the provider gets Completed; the client does not hear of its own close,
 * and can send no more. */
static void test_close_async(void) {
        Setup s;
        g_autoptr(GVariant) message = lt_value_set("{'n': <int32 1>}");
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autofree char *line = NULL;
        LtResult r = { 0 };

        if (!setup_open(&s, NULL, "echo", NULL))
                goto out;
        app_service_connection_close(s.connection, NULL, lt_result_cb, &r);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "close() callback"), out);
        g_assert_true(app_service_connection_close_finish(s.connection, r.result, &error));
        g_assert_no_error(error);
        g_assert_false(app_service_connection_get_is_open(s.connection));
        line = lt_helper_wait_line(s.provider, "closed ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "closed 0");
        g_assert_cmpuint(s.closed.count, ==, 0);

        response = lt_send(s.connection, message, &error);
        check_not_sent(response, error);
out:
        lt_result_clear(&r);
        setup_clear(&s);
}

static void test_close_sync(void) {
        Setup s;
        g_autoptr(GError) error = NULL;
        g_autofree char *line = NULL;

        if (!setup_open(&s, NULL, "echo", NULL))
                goto out;
        g_assert_true(app_service_connection_close_sync(s.connection, NULL, &error));
        g_assert_no_error(error);
        g_assert_false(app_service_connection_get_is_open(s.connection));
        line = lt_helper_wait_line(s.provider, "closed ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "closed 0");
        g_assert_cmpuint(s.closed.count, ==, 0);
out:
        setup_clear(&s);
}

/* Cancelled: the connection is closed on this side all the same. */
static void test_close_cancelled(void) {
        Setup s;
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        g_autoptr(GError) error = NULL;
        LtResult r = { 0 };

        if (!setup_open(&s, NULL, "echo", NULL))
                goto out;
        g_cancellable_cancel(cancellable);
        app_service_connection_close(s.connection, cancellable, lt_result_cb, &r);
        g_assert_false(app_service_connection_get_is_open(s.connection));
        LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "close() callback"), out);
        g_assert_false(app_service_connection_close_finish(s.connection, r.result, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_clear_error(&error);

        /* Reopened, and closed with the _sync twin. */
        g_assert_cmpint(lt_open(s.connection, &error), ==, APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_no_error(error);
        g_assert_false(app_service_connection_close_sync(s.connection, cancellable, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_false(app_service_connection_get_is_open(s.connection));
        /* Not open any more: closing again does nothing and succeeds. */
        g_clear_error(&error);
        g_assert_true(app_service_connection_close_sync(s.connection, NULL, &error));
        g_assert_no_error(error);
out:
        lt_result_clear(&r);
        setup_clear(&s);
}

/* A request in flight when the client closes fails with Closed. */
static void test_close_fails_pending_request(void) {
        Setup s;
        g_autoptr(GVariant) message = lt_value_set("{'n': <int32 1>}");
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        LtResult r = { 0 };

        if (!setup_open(&s, "RequestTimeoutSec=60\n", "hold", NULL))
                goto out;
        app_service_connection_send_message(s.connection, message, NULL, lt_result_cb, &r);
        g_free(lt_helper_wait_line(s.provider, "request ", LT_WAIT_MS));
        g_assert_true(app_service_connection_close_sync(s.connection, NULL, &error));
        g_assert_no_error(error);
        LT_CHECK_OR_GOTO(lt_result_wait(&r, LT_WAIT_MS, "send_message() callback"), out);
        response = app_service_connection_send_message_finish(s.connection, r.result, &error);
        check_send_failed(response, error, APP_SERVICE_RESPONSE_STATUS_FAILURE, APP_SERVICE_ERROR_CLOSED);
out:
        lt_result_clear(&r);
        setup_clear(&s);
}

/* Dropping the last reference to an open connection closes it at the broker. */
static void test_unref_closes(void) {
        Setup s;
        g_autofree char *line = NULL;

        if (!setup_open(&s, NULL, "echo", NULL))
                goto out;
        g_signal_handlers_disconnect_by_data(s.connection, &s.closed);
        g_clear_object(&s.connection);
        line = lt_helper_wait_line(s.provider, "closed ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "closed 0");
out:
        setup_clear(&s);
}

/* ---- one-shot ----------------------------------------------------------------------------------- */

static void test_once_async(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(GVariant) message = lt_value_set(TYPED_VALUES);
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autofree char *line = NULL;
        LtHelper *provider;
        LtResult r = { 0 };

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        provider = lt_helper_start_provider(b, ECHO, "echo", NULL);
        app_service_send_message_once(b->conn, ECHO, message, NULL, lt_result_cb, &r);
        LT_CHECK_OR_RETURN(lt_result_wait(&r, LT_WAIT_MS, "send_message_once() callback"));
        response = app_service_send_message_once_finish(r.result, &error);
        check_send_ok(response, error, message);
        lt_result_clear(&r);
        /* A real connection: opened, used, closed. */
        g_free(lt_helper_wait_line(provider, "connection ", LT_WAIT_MS));
        line = lt_helper_wait_line(provider, "closed ", LT_WAIT_MS);
        g_assert_cmpstr(line, ==, "closed 0");
}

static void test_once_sync(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(GVariant) message = lt_value_set("{'once': <'only'>}");
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        lt_helper_start_provider(b, ECHO, "echo", NULL);
        response = app_service_send_message_once_sync(b->conn, ECHO, message, NULL, &error);
        check_send_ok(response, error, message);
}

/* Opening failures of a one-shot send reach the caller as responses with a status and an error. */
static void check_once_failed(LtBus *b, const char *name, GVariant *message, AppServiceResponseStatus want_status,
                              AppServiceError want_code) {
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;

        g_test_message("one-shot to %s", name);
        response = app_service_send_message_once_sync(b->conn, name, message, NULL, &error);
        g_assert_no_error(error);
        g_assert_nonnull(response);
        if (response) {
                g_assert_cmpint(app_service_response_get_status(response), ==, want_status);
                g_assert_error(app_service_response_get_error(response), APP_SERVICE_ERROR, (int) want_code);
                g_assert_null(app_service_response_get_message(response));
        }
}

static void test_once_failures(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(GVariant) message = lt_value_set("{'n': <int32 1>}");
        g_autoptr(GError) error = NULL;
        g_autofree char *big_text = g_strnfill(2000, 'x');
        g_autoptr(GVariant) big = NULL;

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, "MaxMessageSize=1024\n");
        lt_bus_write_definition(b, "com.example.broken", 0644, "Exec=/nonexistent/provider\n");
        lt_bus_write_definition(b, "com.example.off", 0644, NULL);
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        lt_helper_start_provider(b, ECHO, "echo", NULL);
        g_assert_true(lt_bus_set_service_enabled(b, "com.example.off", FALSE, &error));
        g_assert_no_error(error);

        check_once_failed(b, "com.example.broken", message, APP_SERVICE_RESPONSE_STATUS_APP_UNAVAILABLE,
                          APP_SERVICE_ERROR_APP_UNAVAILABLE);
        check_once_failed(b, "com.example.off", message, APP_SERVICE_RESPONSE_STATUS_DISABLED_BY_POLICY,
                          APP_SERVICE_ERROR_DISABLED_BY_POLICY);
        check_once_failed(b, "com.example.nothing", message, APP_SERVICE_RESPONSE_STATUS_UNKNOWN,
                          APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE);
        big = g_variant_ref_sink(g_variant_new_parsed("{'text': <%s>}", big_text));
        check_once_failed(b, ECHO, big, APP_SERVICE_RESPONSE_STATUS_MESSAGE_SIZE_TOO_LARGE,
                          APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE);
}

static void test_once_cancelled(void) {
        g_autoptr(LtBus) b = lt_bus_new();
        g_autoptr(GVariant) message = lt_value_set("{'n': <int32 1>}");
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        g_autoptr(GError) error = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        LtHelper *provider;
        LtResult r = { 0 };

        if (!b)
                return;
        lt_bus_write_definition(b, ECHO, 0644, "RequestTimeoutSec=60\n");
        LT_CHECK_OR_RETURN(lt_bus_start_daemon(b));
        provider = lt_helper_start_provider(b, ECHO, "hold", NULL);
        app_service_send_message_once(b->conn, ECHO, message, cancellable, lt_result_cb, &r);
        g_free(lt_helper_wait_line(provider, "request ", LT_WAIT_MS));
        g_cancellable_cancel(cancellable);
        LT_CHECK_OR_RETURN(lt_result_wait(&r, lt_ms(5000), "send_message_once() callback after cancellation"));
        response = app_service_send_message_once_finish(r.result, &error);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_null(response);
        lt_result_clear(&r);
        g_clear_error(&error);
        g_clear_object(&response);

        response = app_service_send_message_once_sync(b->conn, ECHO, message, cancellable, &error);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_null(response);
}

int main(int argc, char **argv) {
        lt_init(&argc, &argv);

        g_test_add_func("/send/round-trip/async", test_round_trip_async);
        g_test_add_func("/send/round-trip/sync", test_round_trip_sync);
        g_test_add_func("/send/round-trip/concurrent", test_concurrent_sends);
        g_test_add_func("/send/status/message-size-too-large", test_message_size_too_large);
        g_test_add_func("/send/status/failure-invalid-message", test_invalid_message);
        g_test_add_func("/send/status/failure-timeout", test_timeout);
        g_test_add_func("/send/status/resource-limits-exceeded", test_resource_limits_exceeded);
        g_test_add_func("/send/not-open", test_send_not_open);
        g_test_add_func("/send/not-a-value-set", test_send_not_a_value_set);
        g_test_add_func("/send/cancelled", test_send_cancelled);
        g_test_add_func("/deferral/provider/answered-later", test_deferral_answered_later);
        g_test_add_func("/deferral/provider/dropped-unanswered", test_deferral_dropped);
        g_test_add_func("/request-received/client/answered", test_client_request_answered);
        g_test_add_func("/request-received/client/deferred", test_client_request_deferred);
        g_test_add_func("/request-received/client/send-response-cancelled", test_client_request_cancelled);
        g_test_add_func("/request-received/client/dropped-unanswered", test_client_request_dropped);
        g_test_add_func("/service-closed/completed/provider-closes", test_closed_completed_by_provider);
        g_test_add_func("/service-closed/completed/provider-unregisters", test_closed_completed_by_unregister);
        g_test_add_func("/service-closed/canceled/provider-killed", test_closed_canceled_provider_killed);
        g_test_add_func("/service-closed/canceled/provider-crashes", test_closed_canceled_provider_crash);
        g_test_add_func("/service-closed/before-send-fails/async", test_provider_crash_closed_before_send_fails_async);
        g_test_add_func("/service-closed/before-send-fails/sync", test_provider_crash_closed_before_send_fails_sync);
        g_test_add_func("/close/async", test_close_async);
        g_test_add_func("/close/sync", test_close_sync);
        g_test_add_func("/close/cancelled", test_close_cancelled);
        g_test_add_func("/close/fails-pending-request", test_close_fails_pending_request);
        g_test_add_func("/close/last-unref", test_unref_closes);
        g_test_add_func("/once/async", test_once_async);
        g_test_add_func("/once/sync", test_once_sync);
        g_test_add_func("/once/failures", test_once_failures);
        g_test_add_func("/once/cancelled", test_once_cancelled);
        return g_test_run();
}
