/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The library's building blocks that need no bus: ValueSet helpers, the status enums and their
 * GTypes, the error domain and its mapping to D-Bus error names and to Windows statuses. */

#include <string.h>

#include "libclient-test.h"

/* Takes ownership of a possibly floating return value. */
static GVariant *own(GVariant *v) {
        return v ? g_variant_take_ref(v) : NULL;
}

/* ---- null -------------------------------------------------------------------------------------- */

static void test_null(void) {
        g_autoptr(GVariant) null = own(app_service_value_new_null());
        g_autoptr(GVariant) number = g_variant_ref_sink(g_variant_new_int32(0));
        g_autoptr(GVariant) empty_strings = g_variant_ref_sink(g_variant_new_strv(NULL, 0));
        g_autoptr(GVariant) one = g_variant_ref_sink(g_variant_new_parsed("[<1>]"));

        LT_CHECK_OR_RETURN(null != NULL);
        /* Null is an empty array of variants. */
        g_assert_cmpstr(g_variant_get_type_string(null), ==, "av");
        g_assert_cmpuint(g_variant_n_children(null), ==, 0);
        g_assert_true(app_service_value_is_null(null));
        g_assert_false(app_service_value_is_null(number));
        g_assert_false(app_service_value_is_null(empty_strings));
        g_assert_false(app_service_value_is_null(one));
        /* A variant holding the null value is null too, and so is NULL. */
        {
                g_autoptr(GVariant) boxed = g_variant_ref_sink(g_variant_new_variant(g_variant_new("av", NULL)));

                g_assert_true(app_service_value_is_null(boxed));
        }
        g_assert_true(app_service_value_is_null(NULL));
}

static void test_contains_null(void) {
        g_autoptr(GVariant) set = lt_value_set("{'nothing': <@av []>, 'zero': <int32 0>, 'text': <''>}");

        g_assert_true(app_service_value_set_contains_null(set, "nothing"));
        g_assert_false(app_service_value_set_contains_null(set, "zero"));
        g_assert_false(app_service_value_set_contains_null(set, "text"));
        g_assert_false(app_service_value_set_contains_null(set, "missing"));
}

/* ---- validity ---------------------------------------------------------------------------------- */

static void check_invalid(const char *what, GVariant *set) {
        g_autoptr(GError) error = NULL;

        g_test_message("invalid: %s", what);
        g_assert_false(app_service_value_set_is_valid(set, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
        if (error)
                g_assert_cmpstr(error->message, !=, "");
}

static void check_valid(const char *what, GVariant *set) {
        g_autoptr(GError) error = NULL;

        g_test_message("valid: %s", what);
        g_assert_true(app_service_value_set_is_valid(set, &error));
        g_assert_no_error(error);
}

static void test_is_valid(void) {
        g_autofree char *key255 = g_strnfill(255, 'k');
        g_autofree char *key256 = g_strnfill(256, 'k');
        g_autoptr(GVariantBuilder) builder = NULL;
        g_autoptr(GVariant) set = NULL;

        set = lt_value_set("{'a': <int32 1>, 'inner': <@a{sv} {'b': <'x'>}>, 'list': <@aa{sv} [{'c': <true>}]>}");
        check_valid("nested", set);
        g_clear_pointer(&set, g_variant_unref);

        /* The empty ValueSet is valid (it is the empty response). */
        set = lt_value_set("@a{sv} {}");
        check_valid("empty", set);
        g_clear_pointer(&set, g_variant_unref);

        set = g_variant_ref_sink(g_variant_new_parsed("{%s: <int32 1>}", key255));
        check_valid("key of 255 bytes", set);
        g_clear_pointer(&set, g_variant_unref);

        set = g_variant_ref_sink(g_variant_new_parsed("{%s: <int32 1>}", key256));
        check_invalid("key of 256 bytes", set);
        g_clear_pointer(&set, g_variant_unref);

        set = lt_value_set("{'': <int32 1>}");
        check_invalid("empty key", set);
        g_clear_pointer(&set, g_variant_unref);

        set = lt_value_set("{'a': <int32 1>, 'b': <int32 2>, 'a': <int32 3>}");
        check_invalid("duplicate keys", set);
        g_clear_pointer(&set, g_variant_unref);

        set = lt_value_set("{'inner': <@a{sv} {'x': <1>, 'x': <2>}>}");
        check_invalid("duplicate keys in a nested ValueSet", set);
        g_clear_pointer(&set, g_variant_unref);

        set = lt_value_set("{'list': <@aa{sv} [{'': <int32 1>}]>}");
        check_invalid("empty key in a list of ValueSets", set);
        g_clear_pointer(&set, g_variant_unref);

        builder = g_variant_builder_new(G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(builder, "{sv}", "fd", g_variant_new_handle(0));
        set = g_variant_ref_sink(g_variant_builder_end(builder));
        check_invalid("fd value", set);
        g_clear_pointer(&set, g_variant_unref);

        set = g_variant_ref_sink(g_variant_new_parsed("{'s': <('x', @h 0)>}"));
        check_invalid("fd in a struct", set);
        g_clear_pointer(&set, g_variant_unref);

        /* Not a ValueSet at all. */
        set = g_variant_ref_sink(g_variant_new_parsed("{'a': 1}"));
        check_invalid("a{si}", set);
}

/* ---- typed lookups ----------------------------------------------------------------------------- */

static void test_lookup(void) {
        g_autoptr(GVariant) set = lt_value_set(
                "{'text': <'hello'>, 'count': <int32 5>, 'nothing': <@av []>, 'list': <['a', 'b']>}");
        g_autoptr(GVariant) v = NULL;

        v = app_service_value_set_lookup(set, "text", G_VARIANT_TYPE_STRING);
        LT_CHECK_OR_RETURN(v != NULL);
        g_assert_cmpstr(g_variant_get_string(v, NULL), ==, "hello");
        g_clear_pointer(&v, g_variant_unref);

        v = app_service_value_set_lookup(set, "count", NULL);
        LT_CHECK_OR_RETURN(v != NULL);
        g_assert_true(g_variant_is_of_type(v, G_VARIANT_TYPE_INT32));
        g_assert_cmpint(g_variant_get_int32(v), ==, 5);
        g_clear_pointer(&v, g_variant_unref);

        v = app_service_value_set_lookup(set, "list", G_VARIANT_TYPE_STRING_ARRAY);
        LT_CHECK_OR_RETURN(v != NULL);
        g_assert_cmpuint(g_variant_n_children(v), ==, 2);
        g_clear_pointer(&v, g_variant_unref);

        /* Wrong type, missing key: NULL. */
        g_assert_null(app_service_value_set_lookup(set, "count", G_VARIANT_TYPE_STRING));
        g_assert_null(app_service_value_set_lookup(set, "missing", NULL));

        /* The null value is there, as an empty av. */
        v = app_service_value_set_lookup(set, "nothing", NULL);
        LT_CHECK_OR_RETURN(v != NULL);
        g_assert_true(app_service_value_is_null(v));
}

static void test_get_string(void) {
        g_autoptr(GVariant) set = lt_value_set(
                "{'text': <'hello'>, 'empty': <''>, 'count': <int32 5>, 'nothing': <@av []>}");

        g_assert_cmpstr(app_service_value_set_get_string(set, "text"), ==, "hello");
        g_assert_cmpstr(app_service_value_set_get_string(set, "empty"), ==, "");
        g_assert_null(app_service_value_set_get_string(set, "count"));
        g_assert_null(app_service_value_set_get_string(set, "nothing"));
        g_assert_null(app_service_value_set_get_string(set, "missing"));
}

static void test_get_numbers(void) {
        g_autoptr(GVariant) set = lt_value_set(
                "{'yes': <true>, 'no': <false>, 'min64': <int64 -9223372036854775808>,"
                " 'max64': <int64 9223372036854775807>, 'umax64': <uint64 18446744073709551615>,"
                " 'pi': <3.25>, 'text': <'1'>, 'nothing': <@av []>}");
        gboolean b = FALSE;
        gint64 i = 0;
        guint64 u = 0;
        gdouble d = 0;

        g_assert_true(app_service_value_set_get_boolean(set, "yes", &b));
        g_assert_true(b);
        g_assert_true(app_service_value_set_get_boolean(set, "no", &b));
        g_assert_false(b);
        g_assert_true(app_service_value_set_get_int64(set, "min64", &i));
        g_assert_cmpint(i, ==, G_MININT64);
        g_assert_true(app_service_value_set_get_int64(set, "max64", &i));
        g_assert_cmpint(i, ==, G_MAXINT64);
        g_assert_true(app_service_value_set_get_uint64(set, "umax64", &u));
        g_assert_cmpuint(u, ==, G_MAXUINT64);
        g_assert_true(app_service_value_set_get_double(set, "pi", &d));
        g_assert_cmpfloat(d, ==, 3.25);

        /* Missing keys, null values and strings are no numbers. */
        g_assert_false(app_service_value_set_get_boolean(set, "missing", &b));
        g_assert_false(app_service_value_set_get_int64(set, "missing", &i));
        g_assert_false(app_service_value_set_get_uint64(set, "missing", &u));
        g_assert_false(app_service_value_set_get_double(set, "missing", &d));
        g_assert_false(app_service_value_set_get_int64(set, "text", &i));
        g_assert_false(app_service_value_set_get_boolean(set, "text", &b));
        g_assert_false(app_service_value_set_get_double(set, "nothing", &d));
}

/* Integers of every D-Bus integer type, as long as the value fits. */
static void test_get_numbers_converted(void) {
        g_autoptr(GVariant) set = lt_value_set(
                "{'byte': <byte 200>, 'i16': <int16 -5>, 'u16': <uint16 65535>, 'i32': <int32 -7>,"
                " 'u32': <uint32 4294967295>, 'big': <uint64 18446744073709551615>, 'neg64': <int64 -1>}");
        gint64 i = 0;
        guint64 u = 0;
        gdouble d = 0;

        g_assert_true(app_service_value_set_get_int64(set, "byte", &i));
        g_assert_cmpint(i, ==, 200);
        g_assert_true(app_service_value_set_get_int64(set, "i16", &i));
        g_assert_cmpint(i, ==, -5);
        g_assert_true(app_service_value_set_get_int64(set, "u32", &i));
        g_assert_cmpint(i, ==, 4294967295);
        g_assert_true(app_service_value_set_get_uint64(set, "u16", &u));
        g_assert_cmpuint(u, ==, 65535);
        /* Does not fit. */
        g_assert_false(app_service_value_set_get_int64(set, "big", &i));
        g_assert_false(app_service_value_set_get_uint64(set, "i32", &u));
        g_assert_false(app_service_value_set_get_uint64(set, "neg64", &u));
        /* Integers are numbers for get_double. */
        g_assert_true(app_service_value_set_get_double(set, "i32", &d));
        g_assert_cmpfloat(d, ==, -7.0);
        /* The out argument is optional. */
        g_assert_true(app_service_value_set_get_int64(set, "i32", NULL));
}

/* ---- text -------------------------------------------------------------------------------------- */

static void test_parse_print(void) {
        static const char *const texts[] = {
                "@a{sv} {}",
                "{'a': <int32 1>}",
                "{'b': <byte 0xff>, 'i16': <int16 -32768>, 'u16': <uint16 65535>, 'u32': <uint32 4294967295>,"
                " 'x': <int64 -9223372036854775808>, 't': <uint64 18446744073709551615>, 'd': <-1.5e300>,"
                " 's': <'h\u00e9llo \\'w\\''>, 'o': <objectpath '/a/b'>, 'g': <signature 'a{sv}'>,"
                " 'n': <@av []>, 'st': <('x', int32 2)>, 'inner': <@a{sv} {'k': <true>}>,"
                " 'list': <@aa{sv} [{'k': <1>}]>, 'ay': <b'bytes'>}",
        };

        for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) expected = lt_value_set(texts[i]);
                g_autoptr(GVariant) parsed = own(app_service_value_set_parse(texts[i], &error));
                g_autoptr(GVariant) reparsed = NULL;
                g_autofree char *printed = NULL;

                g_assert_no_error(error);
                LT_CHECK_OR_RETURN(parsed != NULL);
                g_assert_true(g_variant_is_of_type(parsed, G_VARIANT_TYPE_VARDICT));
                g_assert_true(lt_value_set_equal(parsed, expected));

                /* print() gives text that parse() turns back into the same bytes. */
                printed = app_service_value_set_print(parsed);
                LT_CHECK_OR_RETURN(printed != NULL);
                reparsed = own(app_service_value_set_parse(printed, &error));
                g_assert_no_error(error);
                g_assert_true(lt_value_set_equal(reparsed, expected));
        }
}

static void test_parse_errors(void) {
        static const char *const bad[] = {
                "{'a': ",        /* not complete */
                "[1, 2]",        /* not a dictionary */
                "{'': <1>}",     /* an empty key breaks a ValueSet rule */
                "{'a': 1}",      /* a{si}, not a{sv} */
                "not gvariant",
        };

        for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) v = NULL;

                g_test_message("parse '%s'", bad[i]);
                v = own(app_service_value_set_parse(bad[i], &error));
                g_assert_null(v);
                g_assert_nonnull(error);
                if (error && strstr(bad[i], "''"))
                        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
                else if (error)
                        g_assert_true(error->domain == G_VARIANT_PARSE_ERROR);
        }
}

static void test_new_from_assignments(void) {
        /* Plain values are strings; what parses as GVariant text (and starts like it) is that. */
        const char *const assignments[] = { "text=hello world", "count=@i 5", "five=5", "half=2.5",
                                            "flag=true", "list=[\"a\", \"b\"]", "id=@t 7",
                                            "nothing=@av []", "version=1.2.3", "dash=-x",
                                            "zip=\"01234\"", "empty=", "eq=a=b", NULL };
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) set = own(app_service_value_set_new_from_assignments(assignments, &error));
        g_autoptr(GVariant) expected = lt_value_set(
                "{'text': <'hello world'>, 'count': <int32 5>, 'five': <int32 5>, 'half': <2.5>,"
                " 'flag': <true>, 'list': <['a', 'b']>, 'id': <uint64 7>, 'nothing': <@av []>,"
                " 'version': <'1.2.3'>, 'dash': <'-x'>, 'zip': <'01234'>, 'empty': <''>, 'eq': <'a=b'>}");

        g_assert_no_error(error);
        LT_CHECK_OR_RETURN(set != NULL);
        g_assert_true(g_variant_is_of_type(set, G_VARIANT_TYPE_VARDICT));
        /* Order of keys is not promised: compare key by key. */
        g_assert_cmpuint(g_variant_n_children(set), ==, g_variant_n_children(expected));
        for (guint i = 0; i < g_variant_n_children(expected); i++) {
                g_autoptr(GVariant) want = NULL;
                g_autoptr(GVariant) got = NULL;
                const char *key = NULL;

                g_variant_get_child(expected, i, "{&sv}", &key, &want);
                got = g_variant_lookup_value(set, key, NULL);
                if (!got || !g_variant_equal(got, want)) {
                        g_autofree char *w = g_variant_print(want, TRUE);
                        g_autofree char *g = got ? g_variant_print(got, TRUE) : g_strdup("nothing");

                        g_test_fail_printf("key '%s': expected %s, got %s", key, w, g);
                }
        }
        g_clear_pointer(&set, g_variant_unref);

        /* None at all: the empty ValueSet. */
        set = own(app_service_value_set_new_from_assignments(NULL, &error));
        g_assert_no_error(error);
        g_assert_nonnull(set);
        if (set)
                g_assert_cmpuint(g_variant_n_children(set), ==, 0);
}

static void test_new_from_assignments_errors(void) {
        const char *const no_equals[] = { "text", NULL };
        const char *const empty_key[] = { "=value", NULL };
        const char *const duplicate[] = { "a=1", "a=2", NULL };
        /* An explicit type must parse: not a string then. */
        const char *const bad_typed[] = { "n=@i notanumber", NULL };
        const char *const *cases[] = { no_equals, empty_key, duplicate, bad_typed };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) v = NULL;

                g_test_message("assignments starting '%s'", cases[i][0]);
                v = own(app_service_value_set_new_from_assignments(cases[i], &error));
                g_assert_null(v);
                g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
        }
}

/* ---- enums and errors -------------------------------------------------------------------------- */

static void check_enum(GType type, const char *type_name, const char *const *names, guint n) {
        GEnumClass *klass;

        g_assert_true(G_TYPE_IS_ENUM(type));
        g_assert_cmpstr(g_type_name(type), ==, type_name);
        klass = g_type_class_ref(type);
        g_assert_cmpuint(klass->n_values, ==, n);
        /* The Windows names with the Windows values: names[i] has value i. */
        for (guint i = 0; i < n; i++) {
                GEnumValue *v = g_enum_get_value(klass, (int) i);

                g_assert_nonnull(v);
                if (v)
                        g_assert_cmpstr(v->value_name, ==, names[i]);
        }
        g_type_class_unref(klass);
}

static void test_enums(void) {
        static const char *const connection[] = {
                "APP_SERVICE_CONNECTION_STATUS_SUCCESS",
                "APP_SERVICE_CONNECTION_STATUS_APP_NOT_INSTALLED",
                "APP_SERVICE_CONNECTION_STATUS_APP_UNAVAILABLE",
                "APP_SERVICE_CONNECTION_STATUS_APP_SERVICE_UNAVAILABLE",
                "APP_SERVICE_CONNECTION_STATUS_UNKNOWN",
                "APP_SERVICE_CONNECTION_STATUS_REMOTE_SYSTEM_UNAVAILABLE",
                "APP_SERVICE_CONNECTION_STATUS_REMOTE_SYSTEM_NOT_SUPPORTED_BY_APP",
                "APP_SERVICE_CONNECTION_STATUS_NOT_AUTHORIZED",
                "APP_SERVICE_CONNECTION_STATUS_AUTHENTICATION_ERROR",
                "APP_SERVICE_CONNECTION_STATUS_NETWORK_NOT_AVAILABLE",
                "APP_SERVICE_CONNECTION_STATUS_DISABLED_BY_POLICY",
                "APP_SERVICE_CONNECTION_STATUS_WEB_SERVICE_UNAVAILABLE",
        };
        static const char *const response[] = {
                "APP_SERVICE_RESPONSE_STATUS_SUCCESS",
                "APP_SERVICE_RESPONSE_STATUS_FAILURE",
                "APP_SERVICE_RESPONSE_STATUS_RESOURCE_LIMITS_EXCEEDED",
                "APP_SERVICE_RESPONSE_STATUS_UNKNOWN",
                "APP_SERVICE_RESPONSE_STATUS_REMOTE_SYSTEM_UNAVAILABLE",
                "APP_SERVICE_RESPONSE_STATUS_MESSAGE_SIZE_TOO_LARGE",
                "APP_SERVICE_RESPONSE_STATUS_APP_UNAVAILABLE",
                "APP_SERVICE_RESPONSE_STATUS_AUTHENTICATION_ERROR",
                "APP_SERVICE_RESPONSE_STATUS_NETWORK_NOT_AVAILABLE",
                "APP_SERVICE_RESPONSE_STATUS_DISABLED_BY_POLICY",
                "APP_SERVICE_RESPONSE_STATUS_WEB_SERVICE_UNAVAILABLE",
        };
        static const char *const closed[] = {
                "APP_SERVICE_CLOSED_STATUS_COMPLETED",
                "APP_SERVICE_CLOSED_STATUS_CANCELED",
                "APP_SERVICE_CLOSED_STATUS_RESOURCE_LIMITS_EXCEEDED",
                "APP_SERVICE_CLOSED_STATUS_UNKNOWN",
        };

        check_enum(APP_SERVICE_TYPE_CONNECTION_STATUS, "AppServiceConnectionStatus", connection,
                   G_N_ELEMENTS(connection));
        check_enum(APP_SERVICE_TYPE_RESPONSE_STATUS, "AppServiceResponseStatus", response, G_N_ELEMENTS(response));
        check_enum(APP_SERVICE_TYPE_CLOSED_STATUS, "AppServiceClosedStatus", closed, G_N_ELEMENTS(closed));
        g_assert_true(G_TYPE_IS_ENUM(APP_SERVICE_TYPE_ERROR));
}

/* Every io.appservice1.Error.* and its code. */
static const struct {
        const char *name;
        AppServiceError code;
        AppServiceConnectionStatus connection_status; /* when it ends an open */
        AppServiceResponseStatus response_status;     /* when it ends a send */
} dbus_errors[] = {
        { "io.appservice1.Error.AppServiceUnavailable", APP_SERVICE_ERROR_APP_SERVICE_UNAVAILABLE,
          APP_SERVICE_CONNECTION_STATUS_APP_SERVICE_UNAVAILABLE, APP_SERVICE_RESPONSE_STATUS_UNKNOWN },
        { "io.appservice1.Error.AppNotInstalled", APP_SERVICE_ERROR_APP_NOT_INSTALLED,
          APP_SERVICE_CONNECTION_STATUS_APP_NOT_INSTALLED, APP_SERVICE_RESPONSE_STATUS_UNKNOWN },
        { "io.appservice1.Error.AppUnavailable", APP_SERVICE_ERROR_APP_UNAVAILABLE,
          APP_SERVICE_CONNECTION_STATUS_APP_UNAVAILABLE, APP_SERVICE_RESPONSE_STATUS_APP_UNAVAILABLE },
        { "io.appservice1.Error.NotAuthorized", APP_SERVICE_ERROR_NOT_AUTHORIZED,
          APP_SERVICE_CONNECTION_STATUS_NOT_AUTHORIZED, APP_SERVICE_RESPONSE_STATUS_UNKNOWN },
        { "io.appservice1.Error.DisabledByPolicy", APP_SERVICE_ERROR_DISABLED_BY_POLICY,
          APP_SERVICE_CONNECTION_STATUS_DISABLED_BY_POLICY, APP_SERVICE_RESPONSE_STATUS_DISABLED_BY_POLICY },
        { "io.appservice1.Error.MessageSizeTooLarge", APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE,
          APP_SERVICE_CONNECTION_STATUS_UNKNOWN, APP_SERVICE_RESPONSE_STATUS_MESSAGE_SIZE_TOO_LARGE },
        { "io.appservice1.Error.InvalidMessage", APP_SERVICE_ERROR_INVALID_MESSAGE,
          APP_SERVICE_CONNECTION_STATUS_UNKNOWN, APP_SERVICE_RESPONSE_STATUS_FAILURE },
        { "io.appservice1.Error.ResourceLimitsExceeded", APP_SERVICE_ERROR_RESOURCE_LIMITS_EXCEEDED,
          APP_SERVICE_CONNECTION_STATUS_UNKNOWN, APP_SERVICE_RESPONSE_STATUS_RESOURCE_LIMITS_EXCEEDED },
        { "io.appservice1.Error.Timeout", APP_SERVICE_ERROR_TIMEOUT, APP_SERVICE_CONNECTION_STATUS_UNKNOWN,
          APP_SERVICE_RESPONSE_STATUS_FAILURE },
        { "io.appservice1.Error.Closed", APP_SERVICE_ERROR_CLOSED, APP_SERVICE_CONNECTION_STATUS_UNKNOWN,
          APP_SERVICE_RESPONSE_STATUS_FAILURE },
        { "io.appservice1.Error.UnknownRequest", APP_SERVICE_ERROR_UNKNOWN_REQUEST,
          APP_SERVICE_CONNECTION_STATUS_UNKNOWN, APP_SERVICE_RESPONSE_STATUS_FAILURE },
        { "io.appservice1.Error.AlreadyRegistered", APP_SERVICE_ERROR_ALREADY_REGISTERED,
          APP_SERVICE_CONNECTION_STATUS_UNKNOWN, APP_SERVICE_RESPONSE_STATUS_UNKNOWN },
};

static void test_error_domain(void) {
        /* Remote errors arrive in the library's domain, with their codes... */
        for (guint i = 0; i < G_N_ELEMENTS(dbus_errors); i++) {
                g_autoptr(GError) error = g_dbus_error_new_for_dbus_error(dbus_errors[i].name, "app service 'x': why");
                g_autofree char *name = NULL;
                g_autoptr(GError) local = g_error_new_literal(APP_SERVICE_ERROR, dbus_errors[i].code, "why");

                g_test_message("%s", dbus_errors[i].name);
                g_assert_error(error, APP_SERVICE_ERROR, (int) dbus_errors[i].code);
                g_assert_true(g_dbus_error_is_remote_error(error));
                /* ... and the library's own errors go out under those names. */
                name = g_dbus_error_encode_gerror(local);
                g_assert_cmpstr(name, ==, dbus_errors[i].name);
        }
        g_assert_cmpstr(g_quark_to_string(APP_SERVICE_ERROR), !=, "");
}

static void test_status_from_error(void) {
        g_autoptr(GError) io_error = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "broken");

        g_assert_cmpint(app_service_connection_status_from_error(NULL), ==, APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        g_assert_cmpint(app_service_response_status_from_error(NULL), ==, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
        for (guint i = 0; i < G_N_ELEMENTS(dbus_errors); i++) {
                g_autoptr(GError) error = g_dbus_error_new_for_dbus_error(dbus_errors[i].name, "why");

                g_test_message("%s", dbus_errors[i].name);
                g_assert_cmpint(app_service_connection_status_from_error(error), ==,
                                dbus_errors[i].connection_status);
                /* Only the outcomes of sending have a documented response status. */
                if (dbus_errors[i].response_status != APP_SERVICE_RESPONSE_STATUS_UNKNOWN)
                        g_assert_cmpint(app_service_response_status_from_error(error), ==,
                                        dbus_errors[i].response_status);
        }
        g_assert_cmpint(app_service_connection_status_from_error(io_error), ==, APP_SERVICE_CONNECTION_STATUS_UNKNOWN);
        g_assert_cmpint(app_service_response_status_from_error(io_error), ==, APP_SERVICE_RESPONSE_STATUS_UNKNOWN);
}

/* Objects that need no bus to exist. */
static void test_object_properties(void) {
        GObjectClass *connection_class = g_type_class_ref(APP_SERVICE_TYPE_CONNECTION);
        GObjectClass *provider_class = g_type_class_ref(APP_SERVICE_TYPE_PROVIDER);

        g_assert_nonnull(g_object_class_find_property(connection_class, "app-service-name"));
        g_assert_nonnull(g_object_class_find_property(connection_class, "package-family-name"));
        g_assert_nonnull(g_object_class_find_property(provider_class, "registered"));
        g_assert_cmpuint(g_signal_lookup("request-received", APP_SERVICE_TYPE_CONNECTION), !=, 0);
        g_assert_cmpuint(g_signal_lookup("service-closed", APP_SERVICE_TYPE_CONNECTION), !=, 0);
        g_assert_cmpuint(g_signal_lookup("connection-received", APP_SERVICE_TYPE_PROVIDER), !=, 0);
        g_assert_true(G_TYPE_IS_OBJECT(APP_SERVICE_TYPE_REQUEST));
        g_assert_true(G_TYPE_IS_OBJECT(APP_SERVICE_TYPE_RESPONSE));
        g_type_class_unref(connection_class);
        g_type_class_unref(provider_class);
}

/* ---- GDBus's misreading of some arrays (libclient/overview.md, "Values GDBus reads wrongly") ---- */

/* The newest GLib whose GDBus is known to misread these shapes: its parser
 * (gio/gdbusmessage.c, parse_value_from_blob(), the array branch) takes the array's start before
 * the padding to its first element, so it stops up to 4 bytes short of the array's end. That
 * code is unchanged from GDBus's first version (2010) to GLib main of August 2026 (2.89.3). */
#define GDBUS_MISREAD_KNOWN_UP_TO_MAJOR 2
#define GDBUS_MISREAD_KNOWN_UP_TO_MINOR 89

/* @text marshalled by GDBus as a signal's body and read back by GDBus: what comes out, or NULL
 * with @error set when GDBus refuses its own message. */
static GVariant *gdbus_round_trip(const char *text, GError **error) {
        g_autoptr(GDBusMessage) message = g_dbus_message_new_signal("/a", "a.b", "c");
        g_autoptr(GDBusMessage) parsed = NULL;
        g_autofree guchar *blob = NULL;
        gsize size;

        g_dbus_message_set_body(message, g_variant_new_tuple((GVariant *[]) { g_variant_new_parsed(text) }, 1));
        blob = g_dbus_message_to_blob(message, &size, G_DBUS_CAPABILITY_FLAGS_NONE, error);
        if (!blob)
                return NULL;
        parsed = g_dbus_message_new_from_blob(blob, size, G_DBUS_CAPABILITY_FLAGS_NONE, error);
        if (!parsed)
                return NULL;
        return g_variant_get_child_value(g_dbus_message_get_body(parsed), 0);
}

/* On the GLib versions known to have the bug, asserts the bug: the shapes the documentation names
 * come back wrong, and their neighbours right. On a newer GLib, asserts that all come back right:
 * if that fails, GLib still has the bug and the documentation's version bound wants raising. */
static void test_gdbus_misread(void) {
        static const struct {
                const char *text;
                const char *misread; /* what the buggy parser gives, or NULL for "refused" */
        } affected[] = {
                { "{'x': <[([1],), (@ai [],)]>}", "{'x': <[([1],)]>}" },
                { "{'xxxxx': <[(<int64 1>,), (<byte 2>,)]>}", "{'xxxxx': <[(<int64 1>,)]>}" },
                { "{'x': <[([1],), (@ai [],)]>, 'y': <'z'>}", NULL },
        };
        static const char *const unaffected[] = {
                "{'x': <[(@ai [],), ([1],)]>}",          /* the short element is not the last */
                "{'xxxxx': <[([1],), (@ai [],)]>}",      /* the length field ends on 8 bytes */
                "{'x': <[([1],), (@ai [],), ([3],)]>}",
                "{'x': <[(@ay [],), (@ay [],)]>}",      /* padding before the last element */
        };
        /* The GLib this runs with, not the headers it was built with. */
        gboolean known_buggy = glib_check_version(GDBUS_MISREAD_KNOWN_UP_TO_MAJOR,
                                                  GDBUS_MISREAD_KNOWN_UP_TO_MINOR + 1, 0) != NULL;

        g_test_message("GLib %u.%u.%u: GDBus %s misread the documented shapes", glib_major_version,
                       glib_minor_version, glib_micro_version, known_buggy ? "is known to" : "should no longer");
        for (guint i = 0; i < G_N_ELEMENTS(affected); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) sent = g_variant_ref_sink(g_variant_new_parsed(affected[i].text));
                g_autoptr(GVariant) got = gdbus_round_trip(affected[i].text, &error);

                if (!known_buggy) {
                        g_assert_no_error(error);
                        g_assert_true(got && g_variant_equal(got, sent));
                } else if (affected[i].misread) {
                        g_autoptr(GVariant) misread = g_variant_ref_sink(g_variant_new_parsed(affected[i].misread));

                        g_assert_no_error(error);
                        g_assert_true(got && g_variant_equal(got, misread));
                } else {
                        g_assert_null(got);
                        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
                }
        }
        for (guint i = 0; i < G_N_ELEMENTS(unaffected); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) sent = g_variant_ref_sink(g_variant_new_parsed(unaffected[i]));
                g_autoptr(GVariant) got = gdbus_round_trip(unaffected[i], &error);

                g_assert_no_error(error);
                g_assert_true(got && g_variant_equal(got, sent));
        }
}

int main(int argc, char **argv) {
        lt_init(&argc, &argv);

        g_test_add_func("/valueset/null", test_null);
        g_test_add_func("/valueset/gdbus-misreads-some-arrays", test_gdbus_misread);
        g_test_add_func("/valueset/contains-null", test_contains_null);
        g_test_add_func("/valueset/is-valid", test_is_valid);
        g_test_add_func("/valueset/lookup", test_lookup);
        g_test_add_func("/valueset/get-string", test_get_string);
        g_test_add_func("/valueset/get-numbers", test_get_numbers);
        g_test_add_func("/valueset/get-numbers-converted", test_get_numbers_converted);
        g_test_add_func("/valueset/parse-print", test_parse_print);
        g_test_add_func("/valueset/parse-errors", test_parse_errors);
        g_test_add_func("/valueset/new-from-assignments", test_new_from_assignments);
        g_test_add_func("/valueset/new-from-assignments-errors", test_new_from_assignments_errors);
        g_test_add_func("/enums/windows-names-and-values", test_enums);
        g_test_add_func("/errors/dbus-error-names", test_error_domain);
        g_test_add_func("/errors/status-from-error", test_status_from_error);
        g_test_add_func("/objects/properties-and-signals", test_object_properties);
        return g_test_run();
}
