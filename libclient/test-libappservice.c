/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What libappservice does without a broker: the ValueSet helpers, the error domain and the status
 * mappings, the enum types, and the objects' behaviour when no bus can be reached. Each case is a
 * TAP line; assertions are non-fatal so that one failure does not hide the others. */
#include <string.h>

#include <appservice.h>

static GVariant *parse(const gchar *text) {
        g_autoptr(GError) error = NULL;
        GVariant *v = g_variant_parse(NULL, text, NULL, NULL, &error);

        g_assert_no_error(error);
        return v;
}

static void test_null(void) {
        g_autoptr(GVariant) null = g_variant_ref_sink(app_service_value_new_null());
        g_autoptr(GVariant) boxed = g_variant_ref_sink(g_variant_new_variant(app_service_value_new_null()));
        g_autoptr(GVariant) not_empty = parse("[<1>]");
        g_autoptr(GVariant) empty_strings = parse("@as []");
        g_autoptr(GVariant) set = parse("{'n': <@av []>, 's': <'x'>}");

        g_assert_cmpstr(g_variant_get_type_string(null), ==, "av");
        g_assert_cmpuint(g_variant_n_children(null), ==, 0);
        g_assert_true(app_service_value_is_null(null));
        g_assert_true(app_service_value_is_null(boxed));
        g_assert_true(app_service_value_is_null(NULL));
        g_assert_false(app_service_value_is_null(not_empty));
        g_assert_false(app_service_value_is_null(empty_strings));

        g_assert_true(app_service_value_set_contains_null(set, "n"));
        g_assert_false(app_service_value_set_contains_null(set, "s"));
        g_assert_false(app_service_value_set_contains_null(set, "absent"));
}

static void assert_invalid(const gchar *text, const gchar *fragment) {
        g_autoptr(GVariant) v = parse(text);
        g_autoptr(GError) error = NULL;

        g_test_message("invalid: %s", text);
        g_assert_false(app_service_value_set_is_valid(v, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
        if (error && !strstr(error->message, fragment))
                g_test_fail_printf("'%s': message \"%s\" does not say \"%s\"", text, error->message, fragment);
}

static void test_valid(void) {
        g_autofree gchar *key255 = g_strnfill(255, 'k');
        g_autofree gchar *key256 = g_strnfill(256, 'k');
        g_autofree gchar *ok255 = g_strdup_printf("{'%s': <1>}", key255);
        g_autofree gchar *long256 = g_strdup_printf("{'%s': <1>}", key256);
        g_autoptr(GVariant) good = parse("{'a': <1>, 'b': <[<'x'>, <{'c': <@aa{sv} []>}>]>, 'n': <@av []>}");
        g_autoptr(GVariant) empty = parse("@a{sv} {}");
        g_autoptr(GVariant) v255 = parse(ok255);
        g_autoptr(GError) error = NULL;

        g_assert_true(app_service_value_set_is_valid(good, &error));
        g_assert_no_error(error);
        g_assert_true(app_service_value_set_is_valid(empty, NULL));
        g_assert_true(app_service_value_set_is_valid(v255, NULL));

        assert_invalid("{'': <1>}", "empty");
        assert_invalid(long256, "256 bytes");
        assert_invalid("{'outer': <{'': <1>}>}", "empty");
        assert_invalid("{'list': <[@a{sv} {}, {'x': <1>, 'x': <2>}]>}", "'x'");
        assert_invalid("{'v': <<[{'y': <1>, 'y': <2>}]>>}", "'y'");
        assert_invalid("[{'a', <1>}, {'b', <2>}, {'a', <3>}]", "'a'");
        assert_invalid("{'fd': <@h 3>}", "'fd'");
        assert_invalid("{'deep': <[<(1, <@ah [0]>)>]>}", "unix fd");
        assert_invalid("{'dict': <{'x': <@h 0>}>}", "'x'");
        assert_invalid("@a{si} {}", "a{si}");
        assert_invalid("'text'", "a{sv}");
}

static void test_lookup(void) {
        g_autoptr(GVariant) set = parse("{'s': <'text'>, 'o': <objectpath '/a'>, 'i': <5>}");
        g_autoptr(GVariant) any = app_service_value_set_lookup(set, "i", NULL);
        g_autoptr(GVariant) typed = app_service_value_set_lookup(set, "s", G_VARIANT_TYPE_STRING);
        g_autoptr(GVariant) wrong = app_service_value_set_lookup(set, "s", G_VARIANT_TYPE_INT32);
        g_autoptr(GVariant) absent = app_service_value_set_lookup(set, "x", NULL);

        g_assert_nonnull(any);
        g_assert_cmpint(any ? g_variant_get_int32(any) : 0, ==, 5);
        g_assert_nonnull(typed);
        g_assert_null(wrong);
        g_assert_null(absent);

        g_assert_cmpstr(app_service_value_set_get_string(set, "s"), ==, "text");
        g_assert_null(app_service_value_set_get_string(set, "o"));
        g_assert_null(app_service_value_set_get_string(set, "i"));
        g_assert_null(app_service_value_set_get_string(set, "x"));
}

static void test_get_boolean(void) {
        g_autoptr(GVariant) set = parse("{'t': <true>, 'f': <false>, 'i': <1>}");
        gboolean value = TRUE;

        g_assert_true(app_service_value_set_get_boolean(set, "t", &value));
        g_assert_true(value);
        g_assert_true(app_service_value_set_get_boolean(set, "f", &value));
        g_assert_false(value);
        value = TRUE;
        g_assert_false(app_service_value_set_get_boolean(set, "i", &value));
        g_assert_false(value);
        g_assert_false(app_service_value_set_get_boolean(set, "x", NULL));
        g_assert_true(app_service_value_set_get_boolean(set, "t", NULL));
}

static void test_get_integers(void) {
        g_autoptr(GVariant) set = parse("{'y': <byte 255>, 'n': <int16 -32768>, 'q': <uint16 65535>, "
                                        "'i': <-5>, 'u': <uint32 4294967295>, 'x': <int64 -9223372036854775808>, "
                                        "'xmax': <int64 9223372036854775807>, 't': <uint64 18446744073709551615>, "
                                        "'t1': <uint64 9223372036854775808>, 'd': <2.5>, 's': <'7'>, 'b': <true>}");
        gint64 s = 1;
        guint64 u = 1;

        g_assert_true(app_service_value_set_get_int64(set, "y", &s));
        g_assert_cmpint(s, ==, 255);
        g_assert_true(app_service_value_set_get_int64(set, "n", &s));
        g_assert_cmpint(s, ==, -32768);
        g_assert_true(app_service_value_set_get_int64(set, "q", &s));
        g_assert_cmpint(s, ==, 65535);
        g_assert_true(app_service_value_set_get_int64(set, "i", &s));
        g_assert_cmpint(s, ==, -5);
        g_assert_true(app_service_value_set_get_int64(set, "u", &s));
        g_assert_cmpint(s, ==, G_MAXUINT32);
        g_assert_true(app_service_value_set_get_int64(set, "x", &s));
        g_assert_cmpint(s, ==, G_MININT64);
        g_assert_true(app_service_value_set_get_int64(set, "xmax", &s));
        g_assert_cmpint(s, ==, G_MAXINT64);
        g_assert_false(app_service_value_set_get_int64(set, "t", &s));
        g_assert_cmpint(s, ==, 0);
        g_assert_false(app_service_value_set_get_int64(set, "t1", &s));
        g_assert_false(app_service_value_set_get_int64(set, "d", &s));
        g_assert_false(app_service_value_set_get_int64(set, "s", &s));
        g_assert_false(app_service_value_set_get_int64(set, "b", &s));
        g_assert_false(app_service_value_set_get_int64(set, "absent", NULL));
        g_assert_true(app_service_value_set_get_int64(set, "i", NULL));

        g_assert_true(app_service_value_set_get_uint64(set, "t", &u));
        g_assert_cmpuint(u, ==, G_MAXUINT64);
        g_assert_true(app_service_value_set_get_uint64(set, "t1", &u));
        g_assert_cmpuint(u, ==, (guint64) G_MAXINT64 + 1);
        g_assert_true(app_service_value_set_get_uint64(set, "xmax", &u));
        g_assert_cmpuint(u, ==, G_MAXINT64);
        g_assert_true(app_service_value_set_get_uint64(set, "y", &u));
        g_assert_cmpuint(u, ==, 255);
        g_assert_false(app_service_value_set_get_uint64(set, "i", &u));
        g_assert_cmpuint(u, ==, 0);
        g_assert_false(app_service_value_set_get_uint64(set, "n", &u));
        g_assert_false(app_service_value_set_get_uint64(set, "x", &u));
        g_assert_false(app_service_value_set_get_uint64(set, "d", &u));
        g_assert_false(app_service_value_set_get_uint64(set, "absent", NULL));
}

static void test_get_double(void) {
        g_autoptr(GVariant) set = parse("{'d': <2.5>, 'i': <-3>, 't': <uint64 7>, 's': <'1.0'>}");
        gdouble d = 1;

        g_assert_true(app_service_value_set_get_double(set, "d", &d));
        g_assert_cmpfloat(d, ==, 2.5);
        g_assert_true(app_service_value_set_get_double(set, "i", &d));
        g_assert_cmpfloat(d, ==, -3.0);
        g_assert_true(app_service_value_set_get_double(set, "t", &d));
        g_assert_cmpfloat(d, ==, 7.0);
        g_assert_false(app_service_value_set_get_double(set, "s", &d));
        g_assert_cmpfloat(d, ==, 0.0);
        g_assert_false(app_service_value_set_get_double(set, "absent", NULL));
}

static void test_parse(void) {
        g_autoptr(GVariant) set = NULL;
        g_autoptr(GVariant) empty = NULL;
        g_autoptr(GVariant) annotated = NULL;
        g_autoptr(GError) error = NULL;

        set = app_service_value_set_parse("{'Action': <'Echo'>, 'Count': <@i 5>}", &error);
        g_assert_no_error(error);
        g_assert_nonnull(set);
        g_assert_cmpstr(set ? app_service_value_set_get_string(set, "Action") : NULL, ==, "Echo");
        g_assert_false(set && g_variant_is_floating(set));

        empty = app_service_value_set_parse("{}", &error);
        g_assert_no_error(error);
        g_assert_cmpuint(empty ? g_variant_n_children(empty) : 1, ==, 0);
        annotated = app_service_value_set_parse("@a{sv} {}", &error);
        g_assert_no_error(error);
        g_assert_nonnull(annotated);

        g_assert_null(app_service_value_set_parse("[1, 2]", &error));
        g_assert_true(error && error->domain == G_VARIANT_PARSE_ERROR);
        g_clear_error(&error);
        g_assert_null(app_service_value_set_parse("{'a': <1>", &error));
        g_assert_true(error && error->domain == G_VARIANT_PARSE_ERROR);
        g_clear_error(&error);
        g_assert_null(app_service_value_set_parse("[{'a', <1>}, {'a', <2>}]", &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
}

/* Found by tests/fuzz (fuzz-value-parse): text that is not UTF-8, as a command line or stdin may
 * give it, reached g_variant_parse() and g_variant_new_string(), which failed a critical (fatal
 * here, a garbage result elsewhere). It is an error now. */
static void test_not_utf8(void) {
        const gchar *bad_value[] = { "d=\xcfnan", NULL };
        const gchar *bad_key[] = { "k\xff=1", NULL };
        const gchar *bad_typed[] = { "ok=1", "s=\"\xc3\"", NULL };
        g_autoptr(GError) error = NULL;

        g_assert_null(app_service_value_set_new_from_assignments(bad_value, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
        g_clear_error(&error);
        g_assert_null(app_service_value_set_new_from_assignments(bad_key, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
        g_clear_error(&error);
        g_assert_null(app_service_value_set_new_from_assignments(bad_typed, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
        g_assert_true(error && g_utf8_validate(error->message, -1, NULL));
        g_clear_error(&error);
        g_assert_null(app_service_value_set_parse("{'a': <'\xcf'>}", &error));
        g_assert_true(error && error->domain == G_VARIANT_PARSE_ERROR);
}

/* Found by tests/fuzz (fuzz-value-parse): `x=@mmm…mav []` (130 maybe levels) made a ValueSet
 * that app_service_value_set_print() wrote and app_service_value_set_parse() could not read back
 * ("type declaration recurses too deeply"), and that D-Bus cannot carry at all (it has no maybe
 * type, and nests at most 64 deep). Maybe types and nesting past the broker's 32 are invalid. */
static void test_depth_and_maybe(void) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) deepest = NULL;
        g_autoptr(GVariant) again = NULL;
        g_autoptr(GString) text = g_string_new("{'x': <");
        g_autofree gchar *printed = NULL;
        const gchar *maybe[] = { "m=@ms 'a'", NULL };

        g_assert_null(app_service_value_set_new_from_assignments(maybe, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
        g_clear_error(&error);

        /* 3 (array, entry, variant) + 29 arrays: 32 deep, the limit. */
        g_string_append(text, "@");
        for (int i = 0; i < 29; i++)
                g_string_append_c(text, 'a');
        g_string_append(text, "i []>}");
        deepest = app_service_value_set_parse(text->str, &error);
        g_assert_no_error(error);
        g_assert_nonnull(deepest);
        if (deepest) {
                printed = app_service_value_set_print(deepest);
                again = app_service_value_set_parse(printed, &error);
                g_assert_no_error(error);
                g_assert_true(again && g_variant_equal(deepest, again));
        }

        /* Structs and dict entries of arrays are measured member by member. */
        g_clear_pointer(&again, g_variant_unref);
        again = app_service_value_set_parse("{'s': <([1], 'a', [[2]], {'k': <@a(ai) []>})>, 'd': <{1: [[2]]}>}", &error);
        g_assert_no_error(error);
        g_assert_nonnull(again);

        /* One more: 33. */
        g_string_insert_c(text, strlen("{'x': <@"), 'a');
        g_assert_null(app_service_value_set_parse(text->str, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
        g_clear_error(&error);

        /* Variants count: 3 + 29 nested variants around an int is 32 + the innermost variant. */
        g_string_assign(text, "{'x': <");
        for (int i = 0; i < 30; i++)
                g_string_append_c(text, '<');
        g_string_append(text, "1");
        for (int i = 0; i < 30; i++)
                g_string_append_c(text, '>');
        g_string_append(text, ">}");
        g_assert_null(app_service_value_set_parse(text->str, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
}

static void assert_assignment(const gchar *assignment, const gchar *expected) {
        const gchar *assignments[] = { assignment, NULL };
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) set = app_service_value_set_new_from_assignments(assignments, &error);
        g_autofree gchar *printed = NULL;

        g_assert_no_error(error);
        if (!set)
                return;
        printed = g_variant_print(set, TRUE);
        if (!g_str_equal(printed, expected))
                g_test_fail_printf("%s gave %s, not %s", assignment, printed, expected);
}

static void test_assignments(void) {
        const gchar *several[] = { "Action=Echo", "count=@i 5", "name=hello world", NULL };
        const gchar *no_equals[] = { "Action", NULL };
        const gchar *duplicate[] = { "a=1", "a=2", NULL };
        const gchar *empty_key[] = { "=1", NULL };
        const gchar *fd[] = { "f=@h 1", NULL };
        g_autoptr(GVariant) set = NULL;
        g_autoptr(GVariant) none = NULL;
        g_autoptr(GError) error = NULL;

        assert_assignment("count=@i 5", "{'count': <5>}");
        assert_assignment("count=5", "{'count': <5>}");
        assert_assignment("count=-5", "{'count': <-5>}");
        assert_assignment("ratio=2.5", "{'ratio': <2.5>}");
        assert_assignment("id=@t 7", "{'id': <uint64 7>}");
        assert_assignment("name=hello world", "{'name': <'hello world'>}");
        assert_assignment("flag=true", "{'flag': <true>}");
        assert_assignment("flag=false", "{'flag': <false>}");
        assert_assignment("word=trueish", "{'word': <'trueish'>}");
        assert_assignment("text=\"a b\"", "{'text': <'a b'>}");
        assert_assignment("zip=\"01234\"", "{'zip': <'01234'>}");
        assert_assignment("list=[\"a\", \"b\"]", "{'list': <['a', 'b']>}");
        assert_assignment("nothing=@av []", "{'nothing': <@av []>}");
        assert_assignment("version=1.2.3", "{'version': <'1.2.3'>}");
        assert_assignment("opt=-x", "{'opt': <'-x'>}");
        assert_assignment("empty=", "{'empty': <''>}");
        assert_assignment("eq=a=b", "{'eq': <'a=b'>}");
        assert_assignment("kw=int32 5", "{'kw': <'int32 5'>}");
        assert_assignment("brackets=[]", "{'brackets': <'[]'>}");

        set = app_service_value_set_new_from_assignments(several, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(set ? g_variant_n_children(set) : 0, ==, 3);
        g_assert_false(set && g_variant_is_floating(set));

        none = app_service_value_set_new_from_assignments(NULL, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(none ? g_variant_n_children(none) : 1, ==, 0);

        g_assert_null(app_service_value_set_new_from_assignments(no_equals, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
        g_clear_error(&error);
        g_assert_null(app_service_value_set_new_from_assignments(duplicate, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
        g_clear_error(&error);
        g_assert_null(app_service_value_set_new_from_assignments(empty_key, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
        g_clear_error(&error);
        g_assert_null(app_service_value_set_new_from_assignments(fd, &error));
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE);
}

static void test_print(void) {
        g_autoptr(GVariant) set = parse(
                "{'null': <@av []>, 'b': <true>, 'y': <byte 0x7f>, 'n': <int16 -1>, 'q': <uint16 1>, "
                "'i': <int32 -2>, 'u': <uint32 2>, 'x': <int64 -3>, 't': <uint64 3>, 'd': <1.5>, 's': <''>, "
                "'o': <objectpath '/x'>, 'g': <signature 'a{sv}'>, 'as': <@as []>, 'nested': <{'k': <'v'>}>, "
                "'tuple': <(1, 'a')>, 'list': <[@a{sv} {}]>}");
        g_autofree gchar *text = app_service_value_set_print(set);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) back = app_service_value_set_parse(text, &error);

        g_assert_no_error(error);
        g_assert_nonnull(back);
        g_assert_true(back && g_variant_equal(set, back));
        g_assert_nonnull(strstr(text, "uint64 3"));
}

static const struct {
        const gchar *name;
        AppServiceError code;
        AppServiceConnectionStatus connection_status;
        AppServiceResponseStatus response_status;
} error_table[] = {
        { "io.appservice1.Error.Failed", APP_SERVICE_ERROR_FAILED, APP_SERVICE_CONNECTION_STATUS_UNKNOWN,
          APP_SERVICE_RESPONSE_STATUS_UNKNOWN },
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
        { "io.appservice1.Error.NotOpen", APP_SERVICE_ERROR_NOT_OPEN, APP_SERVICE_CONNECTION_STATUS_UNKNOWN,
          APP_SERVICE_RESPONSE_STATUS_FAILURE },
        { "io.appservice1.Error.ContractViolation", APP_SERVICE_ERROR_CONTRACT_VIOLATION,
          APP_SERVICE_CONNECTION_STATUS_UNKNOWN, APP_SERVICE_RESPONSE_STATUS_FAILURE },
};

static void test_error_domain(void) {
        g_assert_cmpstr(g_quark_to_string(APP_SERVICE_ERROR), ==, "app-service-error-quark");

        for (gsize i = 0; i < G_N_ELEMENTS(error_table); i++) {
                g_autoptr(GError) remote = g_dbus_error_new_for_dbus_error(error_table[i].name, "what happened");
                g_autoptr(GError) local = g_error_new_literal(APP_SERVICE_ERROR, error_table[i].code, "x");
                g_autofree gchar *name = g_dbus_error_encode_gerror(local);

                g_assert_error(remote, APP_SERVICE_ERROR, (gint) error_table[i].code);
                g_assert_cmpstr(name, ==, error_table[i].name);
        }
}

static void test_connection_status(void) {
        g_autoptr(GError) denied = g_error_new_literal(G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED, "x");
        g_autoptr(GError) io = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CLOSED, "x");

        g_assert_cmpint(app_service_connection_status_from_error(NULL), ==, APP_SERVICE_CONNECTION_STATUS_SUCCESS);
        for (gsize i = 0; i < G_N_ELEMENTS(error_table); i++) {
                g_autoptr(GError) error = g_error_new_literal(APP_SERVICE_ERROR, error_table[i].code, "x");

                if (app_service_connection_status_from_error(error) != error_table[i].connection_status)
                        g_test_fail_printf("%s: connection status %d, not %d", error_table[i].name,
                                           app_service_connection_status_from_error(error),
                                           error_table[i].connection_status);
        }
        g_assert_cmpint(app_service_connection_status_from_error(denied), ==,
                        APP_SERVICE_CONNECTION_STATUS_NOT_AUTHORIZED);
        g_assert_cmpint(app_service_connection_status_from_error(io), ==, APP_SERVICE_CONNECTION_STATUS_UNKNOWN);
}

static void test_response_status(void) {
        g_autoptr(GError) no_reply = g_error_new_literal(G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY, "x");
        g_autoptr(GError) io = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED, "x");

        g_assert_cmpint(app_service_response_status_from_error(NULL), ==, APP_SERVICE_RESPONSE_STATUS_SUCCESS);
        for (gsize i = 0; i < G_N_ELEMENTS(error_table); i++) {
                g_autoptr(GError) error = g_error_new_literal(APP_SERVICE_ERROR, error_table[i].code, "x");

                if (app_service_response_status_from_error(error) != error_table[i].response_status)
                        g_test_fail_printf("%s: response status %d, not %d", error_table[i].name,
                                           app_service_response_status_from_error(error),
                                           error_table[i].response_status);
        }
        g_assert_cmpint(app_service_response_status_from_error(no_reply), ==, APP_SERVICE_RESPONSE_STATUS_FAILURE);
        g_assert_cmpint(app_service_response_status_from_error(io), ==, APP_SERVICE_RESPONSE_STATUS_UNKNOWN);
}

static void assert_enum(GType type, const gchar *name, gint value, const gchar *nick) {
        g_autoptr(GEnumClass) klass = g_type_class_ref(type);
        GEnumValue *v = g_enum_get_value(klass, value);

        g_assert_cmpstr(g_type_name(type), ==, name);
        g_assert_nonnull(v);
        g_assert_cmpstr(v ? v->value_nick : NULL, ==, nick);
}

static void test_enum_types(void) {
        assert_enum(APP_SERVICE_TYPE_CONNECTION_STATUS, "AppServiceConnectionStatus",
                    APP_SERVICE_CONNECTION_STATUS_WEB_SERVICE_UNAVAILABLE, "web-service-unavailable");
        assert_enum(APP_SERVICE_TYPE_RESPONSE_STATUS, "AppServiceResponseStatus",
                    APP_SERVICE_RESPONSE_STATUS_MESSAGE_SIZE_TOO_LARGE, "message-size-too-large");
        assert_enum(APP_SERVICE_TYPE_CLOSED_STATUS, "AppServiceClosedStatus", APP_SERVICE_CLOSED_STATUS_CANCELED,
                    "canceled");
        assert_enum(APP_SERVICE_TYPE_ERROR, "AppServiceError", APP_SERVICE_ERROR_NOT_OPEN, "not-open");
}

/* With no bus to reach, objects still behave: every call fails with a reason, nothing crashes. */
static void test_no_bus(void) {
        g_autoptr(AppServiceConnection) connection = NULL;
        g_autoptr(AppServiceProvider) provider = NULL;
        g_autoptr(AppServiceResponse) response = NULL;
        g_autoptr(GError) error = NULL;
        AppServiceConnectionStatus status;

        connection = app_service_connection_new("com.example.echo", NULL);
        g_assert_null(app_service_connection_get_bus(connection));
        g_assert_cmpstr(app_service_connection_get_app_service_name(connection), ==, "com.example.echo");
        g_assert_null(app_service_connection_get_package_family_name(connection));
        g_assert_null(app_service_connection_get_object_path(connection));
        g_assert_null(app_service_connection_get_caller(connection));
        g_assert_false(app_service_connection_get_is_open(connection));

        status = app_service_connection_open_sync(connection, NULL, &error);
        g_assert_cmpint(status, ==, APP_SERVICE_CONNECTION_STATUS_UNKNOWN);
        g_assert_nonnull(error);
        g_clear_error(&error);

        response = app_service_connection_send_message_sync(connection, NULL, NULL, &error);
        g_assert_null(response);
        g_assert_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_NOT_OPEN);
        g_clear_error(&error);

        g_assert_true(app_service_connection_close_sync(connection, NULL, &error));
        g_assert_no_error(error);

        app_service_connection_set_package_family_name(connection, "com.example.EchoApp");
        g_assert_cmpstr(app_service_connection_get_package_family_name(connection), ==, "com.example.EchoApp");

        provider = app_service_provider_new("com.example.echo");
        g_assert_false(app_service_provider_get_registered(provider));
        g_assert_null(app_service_provider_get_property_value(provider, "static", "greeting"));
        g_assert_false(app_service_provider_register_sync(provider, NULL, &error));
        g_assert_nonnull(error);
        g_clear_error(&error);

        response = app_service_send_message_once_sync(NULL, "com.example.echo", NULL, NULL, &error);
        g_assert_null(response);
        g_assert_nonnull(error);
}

static void on_async_result(GObject *source, GAsyncResult *result, gpointer user_data) {
        *(GAsyncResult **) user_data = g_object_ref(result);
}

static GAsyncResult *wait_result(GAsyncResult **result) {
        while (!*result)
                g_main_context_iteration(NULL, TRUE);
        return *result;
}

/* Made with g_object_new(), as bindings do, objects touch no bus until initialized: by
 * GInitable, GAsyncInitable, or their first call, which reports why the bus cannot be reached. */
static void test_lazy_init(void) {
        g_autoptr(AppServiceConnection) connection = NULL;
        g_autoptr(AppServiceNode) node = NULL;
        g_autoptr(GAsyncResult) result = NULL;
        g_autoptr(GError) error = NULL;
        GType types[] = { APP_SERVICE_TYPE_CONNECTION, APP_SERVICE_TYPE_PROVIDER, APP_SERVICE_TYPE_NODE };

        for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
                g_autoptr(GObject) object = g_object_new(types[i], NULL);

                g_assert_true(G_IS_INITABLE(object));
                g_assert_true(G_IS_ASYNC_INITABLE(object));
        }

        /* The asynchronous operation initializes asynchronously, and fails with the reason. */
        connection = g_object_new(APP_SERVICE_TYPE_CONNECTION, "app-service-name", "com.example.echo", NULL);
        app_service_connection_open(connection, NULL, on_async_result, &result);
        g_assert_cmpint(app_service_connection_open_finish(connection, wait_result(&result), &error), ==,
                        APP_SERVICE_CONNECTION_STATUS_UNKNOWN);
        g_assert_nonnull(error);
        g_assert_null(app_service_connection_get_bus(connection));
        g_clear_error(&error);
        g_clear_object(&result);

        /* Idempotent: the first outcome stays, for both interfaces. */
        g_assert_false(g_initable_init(G_INITABLE(connection), NULL, &error));
        g_assert_nonnull(error);
        g_clear_error(&error);
        g_async_initable_init_async(G_ASYNC_INITABLE(connection), G_PRIORITY_DEFAULT, NULL, on_async_result,
                                    &result);
        g_assert_false(g_async_initable_init_finish(G_ASYNC_INITABLE(connection), wait_result(&result), &error));
        g_assert_nonnull(error);
        g_clear_error(&error);
        g_clear_object(&result);

        /* g_initable_new() says at once that the default bus cannot be reached. */
        node = g_initable_new(APP_SERVICE_TYPE_NODE, NULL, &error, NULL);
        g_assert_null(node);
        g_assert_nonnull(error);
}

/* A private bus with no broker on it (a dbus-daemon of GTestDBus), and a connection to it;
 * FALSE (the test skipped or failed) when there is none. */
static gboolean private_bus_up(GTestDBus **ret_test_bus, GDBusConnection **ret_bus) {
        g_autofree gchar *dbus_daemon = g_find_program_in_path("dbus-daemon");
        g_autoptr(GError) error = NULL;

        if (!dbus_daemon) {
                g_test_skip("no dbus-daemon to start a private bus with");
                return FALSE;
        }
        *ret_test_bus = g_test_dbus_new(G_TEST_DBUS_NONE);
        g_test_dbus_up(*ret_test_bus);
        *ret_bus = g_dbus_connection_new_for_address_sync(g_test_dbus_get_bus_address(*ret_test_bus),
                                                          G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                                  G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                          NULL, NULL, &error);
        g_assert_no_error(error);
        return *ret_bus != NULL;
}

/* An open on a bus where nobody owns io.appservice1 and nothing can start it. */
static void test_no_broker(void) {
        g_autoptr(GTestDBus) test_bus = NULL;
        g_autoptr(GDBusConnection) bus = NULL;
        g_autoptr(AppServiceConnection) connection = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        AppServiceConnectionStatus status;

        if (!private_bus_up(&test_bus, &bus))
                return;

        connection = app_service_connection_new_for_bus(bus, "com.example.echo", "");
        g_assert_true(app_service_connection_get_bus(connection) == bus);
        status = app_service_connection_open_sync(connection, NULL, &error);
        g_assert_cmpint(status, ==, APP_SERVICE_CONNECTION_STATUS_UNKNOWN);
        g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN);
        g_clear_error(&error);

        /* Cancelled before it starts: at once, for both twins. */
        g_cancellable_cancel(cancellable);
        status = app_service_connection_open_sync(connection, cancellable, &error);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_assert_cmpint(status, ==, APP_SERVICE_CONNECTION_STATUS_UNKNOWN);
        g_assert_false(app_service_connection_get_is_open(connection));

        g_clear_object(&connection);
        g_dbus_connection_close_sync(bus, NULL, NULL);
        g_clear_object(&bus);
        /* Let the library's watch on io.appservice1 wind down before the bus goes. */
        while (g_main_context_iteration(NULL, FALSE))
                ;
        g_test_dbus_down(test_bus);
}

/* Objects given a bus initialize without blocking: GAsyncInitable, then the hub's watch. */
static void test_async_init_with_bus(void) {
        g_autoptr(GTestDBus) test_bus = NULL;
        g_autoptr(GDBusConnection) bus = NULL;
        g_autoptr(GAsyncResult) result = NULL;
        g_autoptr(GObject) source = NULL;
        g_autoptr(GObject) node = NULL;
        g_autoptr(GError) error = NULL;

        if (!private_bus_up(&test_bus, &bus))
                return;

        g_async_initable_new_async(APP_SERVICE_TYPE_NODE, G_PRIORITY_DEFAULT, NULL, on_async_result, &result, "bus",
                                   bus, NULL);
        wait_result(&result);
        source = g_async_result_get_source_object(result);
        node = g_async_initable_new_finish(G_ASYNC_INITABLE(source), result, &error);
        g_assert_no_error(error);
        g_assert_true(APP_SERVICE_IS_NODE(node));
        g_assert_true(app_service_node_get_bus(APP_SERVICE_NODE(node)) == bus);
        g_assert_null(app_service_node_get_state(APP_SERVICE_NODE(node))); /* no broker on this bus */

        g_clear_object(&node);
        g_dbus_connection_close_sync(bus, NULL, NULL);
        g_clear_object(&bus);
        /* Let the library's watch on io.appservice1 wind down before the bus goes. */
        while (g_main_context_iteration(NULL, FALSE))
                ;
        g_test_dbus_down(test_bus);
}

int main(int argc, char **argv) {
        /* For /objects/no-bus: the default bus of the library is one that cannot be reached. */
        g_setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/appservice-test-bus", TRUE);
        g_unsetenv("APPSERVICE_BUS");

        g_test_init(&argc, &argv, NULL);
        g_test_set_nonfatal_assertions();

        g_test_add_func("/valueset/null", test_null);
        g_test_add_func("/valueset/is-valid", test_valid);
        g_test_add_func("/valueset/lookup", test_lookup);
        g_test_add_func("/valueset/get-boolean", test_get_boolean);
        g_test_add_func("/valueset/get-integers", test_get_integers);
        g_test_add_func("/valueset/get-double", test_get_double);
        g_test_add_func("/valueset/parse", test_parse);
        g_test_add_func("/valueset/assignments", test_assignments);
        g_test_add_func("/valueset/not-utf8", test_not_utf8);
        g_test_add_func("/valueset/depth-and-maybe", test_depth_and_maybe);
        g_test_add_func("/valueset/print", test_print);
        g_test_add_func("/errors/domain", test_error_domain);
        g_test_add_func("/errors/connection-status", test_connection_status);
        g_test_add_func("/errors/response-status", test_response_status);
        g_test_add_func("/enums/types", test_enum_types);
        g_test_add_func("/objects/no-bus", test_no_bus);
        g_test_add_func("/objects/lazy-init", test_lazy_init);
        g_test_add_func("/objects/no-broker", test_no_broker);
        g_test_add_func("/objects/async-init-with-bus", test_async_init_with_bus);
        return g_test_run();
}
