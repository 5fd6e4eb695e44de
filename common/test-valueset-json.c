/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The typed JSON mapping of ValueSets: the writer's output, the parser as its exact inverse (a
 * round trip keeps value and type), plain JSON, and what hostile input gets. */

#include <math.h>
#include <string.h>

#include "valueset-json.h"

/* g_variant_parse() gives a full reference, not a floating one. */
static GVariant *vs(const char *text) {
        g_autoptr(GError) error = NULL;
        GVariant *v = g_variant_parse(G_VARIANT_TYPE_VARDICT, text, NULL, NULL, &error);

        g_assert_no_error(error);
        return v;
}

static void assert_json(const char *gvariant_text, const char *expected) {
        g_autoptr(GVariant) value_set = vs(gvariant_text);
        g_autofree char *json = valueset_json_print(value_set);

        g_assert_cmpstr(json, ==, expected);
}

/* writer → parser gives the same value, type included, compared by bytes. */
static void assert_round_trip_value(GVariant *value_set) {
        g_autofree char *json = valueset_json_print(value_set);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) back = valueset_json_parse(json, -1, &error);

        if (!back)
                g_error("%s does not parse back: %s", json, error->message);
        g_assert_false(g_variant_is_floating(back));
        if (!g_variant_equal(value_set, back)) {
                g_autofree char *a = g_variant_print(value_set, TRUE);
                g_autofree char *b = g_variant_print(back, TRUE);

                g_error("round trip changed the value:\n  %s\n  %s\n  %s", a, json, b);
        }
}

static void assert_round_trip(const char *gvariant_text) {
        g_autoptr(GVariant) value_set = vs(gvariant_text);

        assert_round_trip_value(value_set);
}

static GVariant *parse_ok(const char *json) {
        g_autoptr(GError) error = NULL;
        GVariant *v = valueset_json_parse(json, -1, &error);

        if (!v)
                g_error("%s: %s", json, error->message);
        return v;
}

static void assert_parses_to(const char *json, const char *gvariant_text) {
        g_autoptr(GVariant) got = parse_ok(json);
        g_autoptr(GVariant) expected = vs(gvariant_text);

        if (!g_variant_equal(got, expected)) {
                g_autofree char *a = g_variant_print(got, TRUE);

                g_error("%s parsed to %s, expected %s", json, a, gvariant_text);
        }
}

static void assert_fails(const char *json, gssize length, ValuesetJsonError code, const char *in_message) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) v = valueset_json_parse(json, length, &error);

        if (v)
                g_error("%s parsed, but should not", json);
        g_assert_error(error, VALUESET_JSON_ERROR, (int) code);
        if (in_message && !strstr(error->message, in_message))
                g_error("%s: the error \"%s\" does not say \"%s\"", json, error->message, in_message);
}

/* ---- the writer ---- */

static void test_write_plain(void) {
        assert_json("@a{sv} {}", "{}");
        assert_json("{'Text': <'hi'>, 'ok': <true>, 'nothing': <@av []>}",
                    "{\"Text\":\"hi\",\"ok\":true,\"nothing\":null}");
        assert_json("{'nested': <{'k': <'v'>}>, 'sets': <[{'a': <false>}, @a{sv} {}]>}",
                    "{\"nested\":{\"k\":\"v\"},\"sets\":[{\"a\":false},{}]}");
}

static void test_write_typed(void) {
        assert_json("{'y': <byte 255>, 'n': <int16 -32768>, 'q': <uint16 65535>, 'i': <5>, 'u': <uint32 7>}",
                    "{\"y\":{\"@y\":255},\"n\":{\"@n\":-32768},\"q\":{\"@q\":65535},\"i\":{\"@i\":5},"
                    "\"u\":{\"@u\":7}}");
        assert_json("{'x': <int64 -9223372036854775808>, 't': <uint64 18446744073709551615>}",
                    "{\"x\":{\"@x\":-9223372036854775808},\"t\":{\"@t\":18446744073709551615}}");
        assert_json("{'d': <0.1>, 'nan': <nan>, 'inf': <-inf>}",
                    "{\"d\":{\"@d\":0.1},\"nan\":{\"@d\":\"NaN\"},\"inf\":{\"@d\":\"-Infinity\"}}");
        assert_json("{'o': <objectpath '/a/b'>, 'g': <signature 'a{sv}'>}",
                    "{\"o\":{\"@o\":\"/a/b\"},\"g\":{\"@g\":\"a{sv}\"}}");
        assert_json("{'ss': <{'a': 'b'}>, 'is': <{1: 'one'}>, 'tuple': <('a', 1, true)>}",
                    "{\"ss\":{\"@a{ss}\":{\"a\":\"b\"}},\"is\":{\"@a{is}\":[[1,\"one\"]]},"
                    "\"tuple\":{\"@(sib)\":[\"a\",1,true]}}");
        assert_json("{'av': <[<1>, <'x'>, <@av []>]>, 'lookalike': <{'@i': <1>}>}",
                    "{\"av\":{\"@av\":[{\"@i\":1},\"x\",null]},\"lookalike\":{\"@a{sv}\":{\"@i\":{\"@i\":1}}}}");
        assert_json("{'m': <@mi 5>, 'nothing': <@mi nothing>, 'v': <<'x'>>}",
                    "{\"m\":{\"@mi\":[5]},\"nothing\":{\"@mi\":[]},\"v\":{\"@v\":\"x\"}}");
        assert_json("{'text': <'quote \" backslash \\\\ newline \\n tab \\t bell \\u0007 é'>}",
                    "{\"text\":\"quote \\\" backslash \\\\ newline \\n tab \\t bell \\u0007 é\"}");
}

/* ---- the round trip: every type the writer writes ---- */

static void test_round_trip_basic(void) {
        assert_round_trip("@a{sv} {}");
        assert_round_trip("{'s': <''>, 's2': <'héllo ✓ \\u0001'>, 'b': <false>, 'b2': <true>}");
        assert_round_trip("{'y0': <byte 0>, 'y': <byte 255>, 'n': <int16 -32768>, 'n2': <int16 32767>,"
                          " 'q': <uint16 65535>, 'i': <-2147483648>, 'i2': <2147483647>, 'u': <uint32 4294967295>,"
                          " 'x': <int64 -9223372036854775808>, 'x2': <int64 9223372036854775807>,"
                          " 't': <uint64 18446744073709551615>, 't0': <uint64 0>}");
        assert_round_trip("{'d': <0.1>, 'd2': <-0.0>, 'd3': <1e300>, 'd4': <2.2250738585072014e-308>, 'd5': <1.7976931348623157e308>,"
                          " 'd6': <1.0>, 'd7': <-123456.789>, 'nan': <nan>, 'inf': <inf>, 'ninf': <-inf>}");
        assert_round_trip("{'o': <objectpath '/'>, 'o2': <objectpath '/a/b_c'>, 'g': <signature ''>,"
                          " 'g2': <signature 'a{sv}(ii)'>}");
        assert_round_trip("{'null': <@av []>}");
        {
                /* A subnormal double, which GVariant text cannot write. */
                g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
                g_autoptr(GVariant) value_set = NULL;

                g_variant_builder_add(&builder, "{sv}", "tiny", g_variant_new_double(5e-324));
                value_set = g_variant_ref_sink(g_variant_builder_end(&builder));
                assert_round_trip_value(value_set);
        }
}

static void test_round_trip_containers(void) {
        assert_round_trip("{'as': <@as []>, 'as2': <['a', 'b']>, 'ay': <b'\\x00\\xff'>, 'ad': <[0.5, nan]>,"
                          " 'aai': <[[1], @ai []]>, 'ab': <[true, false]>}");
        assert_round_trip("{'t': <('a', 1, true)>, 'unit': <()>, 'nested': <(('x', (byte 1,)), [(1, 'a')])>}");
        assert_round_trip("{'ss': <{'a': 'b', '': 'empty key is fine here'}>, 'is': <{1: 'one', -2: 'two'}>,"
                          " 'ds': <{0.5: 'half'}>, 'bs': <{true: 'yes'}>, 'ts': <{uint64 18446744073709551615: 'max'}>,"
                          " 'os': <{objectpath '/a': <1>}>, 'gi': <{signature 's': 1}>}");
        assert_round_trip("{'entry': <{'k', 1}>, 'ientry': <{1, 'v'}>}");
        assert_round_trip("{'m': <@mi 5>, 'm0': <@mi nothing>, 'ms': <@ms 'x'>, 'mm': <@mmi nothing>,"
                          " 'mm2': <@mmi @mi nothing>, 'mm3': <@mmi 3>, 'mav': <@mav []>}");
        assert_round_trip("{'v': <<'x'>>, 'vv': <<<int16 3>>>, 'vnull': <<@av []>>, 'vset': <<{'a': <1>}>>}");
        assert_round_trip("{'av': <[<1>, <'x'>, <@av []>, <{'k': <2>}>, <[<true>]>]>}");
        assert_round_trip("{'set': <{'k': <'v'>, 'n': <{'deeper': <uint16 9>}>}>, 'empty': <@a{sv} {}>}");
        assert_round_trip("{'lookalike': <{'@i': <1>}>, 'lookalike2': <{'@': <'x'>}>, '@top': <'fine'>}");
        assert_round_trip("{'sets': <[{'a': <1>}, @a{sv} {}, {'@i': <2>}]>, 'nosets': <@aa{sv} []>}");
        assert_round_trip("{'aasv': <[@a{sv} {}]>, 'aav': <[[<1>]]>, 'a{sv}s': <[{'x': <'y'>}]>}");
}

/* Generated values of every type the writer knows, nested, through writer and parser. */
static GVariant *random_value(GRand *rand, guint depth);

static GVariant *random_value_set(GRand *rand, guint depth) {
        g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        guint n = depth > 4 ? 0 : g_rand_int_range(rand, 0, 4);

        for (guint i = 0; i < n; i++) {
                g_autofree char *key = g_strdup_printf("%s%u", g_rand_boolean(rand) ? "@" : "k", i);

                g_variant_builder_add(&builder, "{sv}", key, random_value(rand, depth + 1));
        }
        return g_variant_builder_end(&builder);
}

static GVariant *random_value(GRand *rand, guint depth) {
        switch (g_rand_int_range(rand, 0, depth > 4 ? 12 : 19)) {
        case 0:
                return g_variant_new_byte(g_rand_int(rand));
        case 1:
                return g_variant_new_int16(g_rand_int(rand));
        case 2:
                return g_variant_new_uint16(g_rand_int(rand));
        case 3:
                return g_variant_new_int32(g_rand_int(rand));
        case 4:
                return g_variant_new_uint32(g_rand_int(rand));
        case 5:
                return g_variant_new_int64((gint64) (((guint64) g_rand_int(rand) << 32) | g_rand_int(rand)));
        case 6:
                return g_variant_new_uint64(((guint64) g_rand_int(rand) << 32) | g_rand_int(rand));
        case 7: {
                guint64 bits = ((guint64) g_rand_int(rand) << 32) | g_rand_int(rand);
                double d;

                memcpy(&d, &bits, sizeof d);
                return g_variant_new_double(isnan(d) ? NAN : d);
        }
        case 8:
                return g_variant_new_boolean(g_rand_boolean(rand));
        case 9:
                return g_variant_new_string(g_rand_boolean(rand) ? "text \"quoted\" \n ✓" : "");
        case 10:
                return g_variant_new_object_path("/x/y");
        case 11:
                return g_variant_new_signature("a(sv)");
        case 12:
                return g_variant_new_variant(random_value(rand, depth + 1));
        case 13:
                return random_value_set(rand, depth + 1);
        case 14: {
                GVariant *items[] = { random_value(rand, depth + 1), random_value(rand, depth + 1) };

                return g_variant_new_tuple(items, 2);
        }
        case 15: {
                g_autoptr(GVariant) child = g_variant_ref_sink(random_value(rand, depth + 1));

                return g_variant_new_maybe(g_variant_get_type(child), g_rand_boolean(rand) ? child : NULL);
        }
        case 16: {
                g_autoptr(GVariant) first = g_variant_ref_sink(random_value(rand, depth + 1));
                GVariant *items[] = { first, first };

                return g_variant_new_array(NULL, items, g_rand_int_range(rand, 1, 3));
        }
        case 17: {
                g_autoptr(GVariant) key = g_variant_ref_sink(random_value(rand, 5));

                if (!g_variant_type_is_basic(g_variant_get_type(key)))
                        return g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0);
                if (g_variant_is_of_type(key, G_VARIANT_TYPE_STRING) && !*g_variant_get_string(key, NULL)) {
                        g_variant_unref(key); /* an a{sv} may have no empty key */
                        key = g_variant_ref_sink(g_variant_new_string("k"));
                }
                return g_variant_new_array(NULL, (GVariant *[]) { g_variant_new_dict_entry(key, random_value(rand, depth + 1)) }, 1);
        }
        default: {
                GVariant *sets[] = { random_value_set(rand, depth + 1), random_value_set(rand, depth + 1) };

                return g_variant_new_array(G_VARIANT_TYPE_VARDICT, sets, 2);
        }
        }
}

static void test_round_trip_generated(void) {
        g_autoptr(GRand) rand = g_rand_new_with_seed(12);

        for (int i = 0; i < 2000; i++) {
                g_autoptr(GVariant) value_set = g_variant_ref_sink(random_value_set(rand, 0));

                assert_round_trip_value(value_set);
        }
}

/* ---- plain JSON ---- */

static void test_plain_json(void) {
        assert_parses_to("{\"s\":\"x\",\"t\":true,\"f\":false,\"n\":null}",
                         "{'s': <'x'>, 't': <true>, 'f': <false>, 'n': <@av []>}");
        assert_parses_to("{\"i\":42,\"neg\":-7,\"zero\":-0,\"big\":9223372036854775807}",
                         "{'i': <int64 42>, 'neg': <int64 -7>, 'zero': <int64 0>, 'big': <int64 9223372036854775807>}");
        assert_parses_to("{\"d\":21.5,\"e\":1e3,\"E\":-2.5E-3}", "{'d': <21.5>, 'e': <1000.0>, 'E': <-0.0025>}");
        assert_parses_to("{\"o\":{\"a\":{\"b\":1}},\"empty\":{}}",
                         "{'o': <{'a': <{'b': <int64 1>}>}>, 'empty': <@a{sv} {}>}");
        assert_parses_to("{\"sets\":[{\"a\":1},{}],\"none\":[]}",
                         "{'sets': <[{'a': <int64 1>}, @a{sv} {}]>, 'none': <@aa{sv} []>}");
        assert_parses_to("{\"list\":[1,\"a\",null,[true],{\"k\":2.5}]}",
                         "{'list': <[<int64 1>, <'a'>, <@av []>, <[<true>]>, <{'k': <2.5>}>]>}");
        /* Two members, one of them starting with @: a ValueSet, not a typed value. */
        assert_parses_to("{\"two\":{\"@i\":1,\"x\":2}}", "{'two': <{'@i': <int64 1>, 'x': <int64 2>}>}");
        assert_parses_to("{\"esc\":\"\\u00e9\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\"}",
                         "{'esc': <'é😀/\\b\\f\\n\\r\\t'>}");
        assert_parses_to(" \r\n\t{ \"a\" : 1 } \n", "{'a': <int64 1>}");
        /* Explicit length: the rest is not read. */
        {
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) v = valueset_json_parse("{\"a\":1}garbage", 7, &error);

                g_assert_no_error(error);
                g_assert_nonnull(v);
        }
}

/* The example of services/mqtt/README.md. */
static void test_cloud_message(void) {
        assert_parses_to("{\"Temperature\": {\"@d\": 21.5}, \"Unit\": \"C\"}",
                         "{'Temperature': <21.5>, 'Unit': <'C'>}");
        assert_parses_to("{\"Action\":\"Reboot\",\"Delay\":{\"@u\":5}}", "{'Action': <'Reboot'>, 'Delay': <uint32 5>}");
}

/* ---- hostile input ---- */

static void test_hostile_syntax(void) {
        assert_fails("", -1, VALUESET_JSON_ERROR_NOT_OBJECT, "empty");
        assert_fails("   ", -1, VALUESET_JSON_ERROR_NOT_OBJECT, NULL);
        assert_fails("[]", -1, VALUESET_JSON_ERROR_NOT_OBJECT, "not a JSON object");
        assert_fails("\"x\"", -1, VALUESET_JSON_ERROR_NOT_OBJECT, NULL);
        assert_fails("42", -1, VALUESET_JSON_ERROR_NOT_OBJECT, NULL);
        assert_fails("null", -1, VALUESET_JSON_ERROR_NOT_OBJECT, NULL);
        assert_fails("{", -1, VALUESET_JSON_ERROR_SYNTAX, NULL);
        assert_fails("{\"a\":1", -1, VALUESET_JSON_ERROR_SYNTAX, NULL);
        assert_fails("{\"a\":1}{}", -1, VALUESET_JSON_ERROR_SYNTAX, "after the end");
        assert_fails("{\"a\":1} x", -1, VALUESET_JSON_ERROR_SYNTAX, "after the end");
        assert_fails("{'a':1}", -1, VALUESET_JSON_ERROR_SYNTAX, "line 1, column 2");
        assert_fails("{\"a\":1 /* c */}", -1, VALUESET_JSON_ERROR_SYNTAX, NULL);
        assert_fails("{\"a\":0x10}", -1, VALUESET_JSON_ERROR_SYNTAX, "malformed number");
        assert_fails("{\"a\":01}", -1, VALUESET_JSON_ERROR_SYNTAX, "malformed number");
        assert_fails("{\"a\":1.}", -1, VALUESET_JSON_ERROR_SYNTAX, "malformed number");
        assert_fails("{\"a\":.5}", -1, VALUESET_JSON_ERROR_SYNTAX, NULL);
        assert_fails("{\"a\":+1}", -1, VALUESET_JSON_ERROR_SYNTAX, NULL);
        assert_fails("{\"a\":1e}", -1, VALUESET_JSON_ERROR_SYNTAX, "malformed number");
        assert_fails("{\"a\":Infinity}", -1, VALUESET_JSON_ERROR_SYNTAX, NULL);
        assert_fails("{\"a\":tru}", -1, VALUESET_JSON_ERROR_SYNTAX, NULL);
        assert_fails("{\"a\":truex}", -1, VALUESET_JSON_ERROR_SYNTAX, NULL);
        assert_fails("{\"a\":1,}", -1, VALUESET_JSON_ERROR_SYNTAX, NULL);
        assert_fails("{\"a\":\"\t\"}", -1, VALUESET_JSON_ERROR_SYNTAX, "control character");
        assert_fails("{\"a\":\"\\x41\"}", -1, VALUESET_JSON_ERROR_SYNTAX, "escape");
        assert_fails("{\"a\":\"\\u12\"}", -1, VALUESET_JSON_ERROR_SYNTAX, "four hex digits");
        assert_fails("{\"a\":\"\\ud800\"}", -1, VALUESET_JSON_ERROR_SYNTAX, "surrogate");
        assert_fails("{\"a\":\"\\udc00\"}", -1, VALUESET_JSON_ERROR_SYNTAX, "surrogate");
        assert_fails("{\"a\":\"\\ud800\\u0041\"}", -1, VALUESET_JSON_ERROR_SYNTAX, "surrogate");
        assert_fails("{\"a\":\"unterminated}", -1, VALUESET_JSON_ERROR_SYNTAX, "closing quote");
        assert_fails("{\"a\":\"\xff\"}", -1, VALUESET_JSON_ERROR_SYNTAX, "UTF-8");
        assert_fails("{\"a\":\"\xc3\"}", -1, VALUESET_JSON_ERROR_SYNTAX, "UTF-8");
        assert_fails("{\"a\":\"x\0y\"}", 10, VALUESET_JSON_ERROR_SYNTAX, "NUL");
        assert_fails("{\"a\":\"\\u0000\"}", -1, VALUESET_JSON_ERROR_VALUE, "\\u0000");
        assert_fails("{\"\\u0000\":1}", -1, VALUESET_JSON_ERROR_VALUE, NULL);
        assert_fails("{\n\"a\": 1,\n  @}", -1, VALUESET_JSON_ERROR_SYNTAX, "line 3, column 3");
}

static void test_hostile_depth(void) {
        g_autoptr(GString) deep = g_string_new("{\"a\":");

        /* Far too deep for json-glib's recursion: refused before it starts. */
        for (int i = 0; i < 100000; i++)
                g_string_append_c(deep, '[');
        assert_fails(deep->str, -1, VALUESET_JSON_ERROR_TOO_DEEP, "levels deep");

        /* Objects in objects: each level is three containers (array, dict entry, variant). */
        {
                g_autoptr(GString) ok = g_string_new(NULL);
                g_autoptr(GString) over = g_string_new(NULL);

                for (int i = 0; i < 10; i++)
                        g_string_append(ok, "{\"k\":");
                g_string_append(ok, "1");
                for (int i = 0; i < 10; i++)
                        g_string_append_c(ok, '}');
                g_variant_unref(parse_ok(ok->str)); /* 30 containers around the 1 */

                for (int i = 0; i < 11; i++)
                        g_string_append(over, "{\"k\":");
                g_string_append(over, "1");
                for (int i = 0; i < 11; i++)
                        g_string_append_c(over, '}');
                assert_fails(over->str, -1, VALUESET_JSON_ERROR_TOO_DEEP, "at /k/k/k/k/k/k/k/k/k/k:");
        }
        /* A type too deep: 3 around the value, 30 more. */
        assert_fails("{\"a\":{\"@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaai\":[]}}", -1, VALUESET_JSON_ERROR_TOO_DEEP, "at /a/@a");
        g_variant_unref(parse_ok("{\"a\":{\"@aaaaaaaaaaaaaaaaaaaaaaaaaaaaai\":[]}}"));
        /* Variants in variants. */
        {
                g_autoptr(GString) over = g_string_new("{\"a\":");

                for (int i = 0; i < 30; i++)
                        g_string_append(over, "{\"@v\":");
                g_string_append(over, "1");
                for (int i = 0; i < 31; i++)
                        g_string_append_c(over, '}');
                assert_fails(over->str, -1, VALUESET_JSON_ERROR_TOO_DEEP, NULL);
        }
}

static void test_hostile_types(void) {
        assert_fails("{\"a\":{\"@\":1}}", -1, VALUESET_JSON_ERROR_TYPE, "names no type");
        assert_fails("{\"a\":{\"@ii\":1}}", -1, VALUESET_JSON_ERROR_TYPE, "at /a/@ii:");
        assert_fails("{\"a\":{\"@z\":1}}", -1, VALUESET_JSON_ERROR_TYPE, NULL);
        assert_fails("{\"a\":{\"@a{vs}\":[]}}", -1, VALUESET_JSON_ERROR_TYPE, NULL);
        assert_fails("{\"a\":{\"@a\":[]}}", -1, VALUESET_JSON_ERROR_TYPE, NULL);
        assert_fails("{\"a\":{\"@*\":1}}", -1, VALUESET_JSON_ERROR_TYPE, "definite");
        assert_fails("{\"a\":{\"@a?\":[]}}", -1, VALUESET_JSON_ERROR_TYPE, "definite");
        assert_fails("{\"a\":{\"@h\":0}}", -1, VALUESET_JSON_ERROR_TYPE, "unix fd");
        assert_fails("{\"a\":{\"@(sah)\":[\"x\",[]]}}", -1, VALUESET_JSON_ERROR_TYPE, "unix fd");
        {
                g_autoptr(GString) long_type = g_string_new("{\"a\":{\"@(");

                for (int i = 0; i < 300; i++)
                        g_string_append_c(long_type, 'i');
                g_string_append(long_type, ")\":[]}}");
                assert_fails(long_type->str, -1, VALUESET_JSON_ERROR_TYPE, "longer than 255");
        }
}

static void test_hostile_values(void) {
        assert_fails("{\"a\":{\"@i\":\"5\"}}", -1, VALUESET_JSON_ERROR_VALUE, "a string where type i needs an integer");
        assert_fails("{\"a\":{\"@i\":1.5}}", -1, VALUESET_JSON_ERROR_VALUE, "not an integer");
        assert_fails("{\"a\":{\"@i\":1e2}}", -1, VALUESET_JSON_ERROR_VALUE, "not an integer");
        assert_fails("{\"a\":{\"@y\":256}}", -1, VALUESET_JSON_ERROR_VALUE, "out of range for type y");
        assert_fails("{\"a\":{\"@y\":-1}}", -1, VALUESET_JSON_ERROR_VALUE, "out of range");
        assert_fails("{\"a\":{\"@n\":32768}}", -1, VALUESET_JSON_ERROR_VALUE, "out of range");
        assert_fails("{\"a\":{\"@i\":2147483648}}", -1, VALUESET_JSON_ERROR_VALUE, "out of range");
        assert_fails("{\"a\":{\"@u\":4294967296}}", -1, VALUESET_JSON_ERROR_VALUE, "out of range");
        assert_fails("{\"a\":{\"@x\":9223372036854775808}}", -1, VALUESET_JSON_ERROR_VALUE, "out of range");
        assert_fails("{\"a\":{\"@t\":18446744073709551616}}", -1, VALUESET_JSON_ERROR_VALUE, "out of range");
        assert_fails("{\"a\":{\"@t\":-1}}", -1, VALUESET_JSON_ERROR_VALUE, "out of range");
        assert_fails("{\"a\":18446744073709551615}", -1, VALUESET_JSON_ERROR_VALUE, "at /a:");
        assert_fails("{\"a\":-9223372036854775809}", -1, VALUESET_JSON_ERROR_VALUE, "out of range");
        assert_fails("{\"a\":1e400}", -1, VALUESET_JSON_ERROR_VALUE, "out of range for type d");
        assert_fails("{\"a\":{\"@d\":-1e400}}", -1, VALUESET_JSON_ERROR_VALUE, "out of range");
        assert_fails("{\"a\":{\"@d\":\"nan\"}}", -1, VALUESET_JSON_ERROR_VALUE, "NaN");
        assert_fails("{\"a\":{\"@d\":true}}", -1, VALUESET_JSON_ERROR_VALUE, NULL);
        assert_fails("{\"a\":{\"@b\":1}}", -1, VALUESET_JSON_ERROR_VALUE, "true or false");
        assert_fails("{\"a\":{\"@s\":null}}", -1, VALUESET_JSON_ERROR_VALUE, "null where type s needs a string");
        assert_fails("{\"a\":{\"@o\":\"a/b\"}}", -1, VALUESET_JSON_ERROR_VALUE, "object path");
        assert_fails("{\"a\":{\"@g\":\"a{\"}}", -1, VALUESET_JSON_ERROR_VALUE, "signature");
        assert_fails("{\"a\":{\"@as\":\"x\"}}", -1, VALUESET_JSON_ERROR_VALUE, "needs an array");
        assert_fails("{\"a\":{\"@as\":[\"x\",1]}}", -1, VALUESET_JSON_ERROR_VALUE, "at /a/@as/1:");
        assert_fails("{\"a\":{\"@(si)\":[\"x\"]}}", -1, VALUESET_JSON_ERROR_VALUE, "1 items where type (si) needs 2");
        assert_fails("{\"a\":{\"@(si)\":[\"x\",1,2]}}", -1, VALUESET_JSON_ERROR_VALUE, NULL);
        assert_fails("{\"a\":{\"@mi\":[1,2]}}", -1, VALUESET_JSON_ERROR_VALUE, "[] or one");
        assert_fails("{\"a\":{\"@mi\":null}}", -1, VALUESET_JSON_ERROR_VALUE, NULL);
        assert_fails("{\"a\":{\"@a{ss}\":[[\"a\",\"b\"]]}}", -1, VALUESET_JSON_ERROR_VALUE, "needs an object");
        assert_fails("{\"a\":{\"@a{ss}\":{\"k\":1}}}", -1, VALUESET_JSON_ERROR_VALUE, "at /a/@a{ss}/k:");
        assert_fails("{\"a\":{\"@a{os}\":{\"nope\":\"x\"}}}", -1, VALUESET_JSON_ERROR_VALUE, "object path");
        assert_fails("{\"a\":{\"@a{is}\":{\"1\":\"x\"}}}", -1, VALUESET_JSON_ERROR_VALUE, "needs an array");
        assert_fails("{\"a\":{\"@a{is}\":[[1]]}}", -1, VALUESET_JSON_ERROR_VALUE, "needs 2");
        assert_fails("{\"a\":{\"@a{is}\":[[\"1\",\"x\"]]}}", -1, VALUESET_JSON_ERROR_VALUE, "at /a/@a{is}/0/0:");
        assert_fails("{\"a\":{\"@v\":{\"@i\":\"x\"}}}", -1, VALUESET_JSON_ERROR_VALUE, "at /a/@v/@i:");
        /* A key path with the characters JSON Pointer escapes. */
        assert_fails("{\"a/b\":{\"c~d\":{\"@i\":true}}}", -1, VALUESET_JSON_ERROR_VALUE, "at /a~1b/c~0d/@i:");
}

static void test_hostile_keys(void) {
        g_autoptr(GString) long_key = g_string_new("{\"");
        g_autoptr(GString) max_key = g_string_new("{\"");

        assert_fails("{\"\":1}", -1, VALUESET_JSON_ERROR_KEY, "empty");
        assert_fails("{\"a\":{\"\":1}}", -1, VALUESET_JSON_ERROR_KEY, "at /a/:");
        assert_fails("{\"a\":[{\"\":1}]}", -1, VALUESET_JSON_ERROR_KEY, "at /a/0/:");
        assert_fails("{\"a\":{\"@a{sv}\":{\"\":1}}}", -1, VALUESET_JSON_ERROR_KEY, "empty");
        assert_fails("{\"a\":1,\"a\":2}", -1, VALUESET_JSON_ERROR_KEY, "key \"a\" appears more than once");
        assert_fails("{\"a\":1,\"\\u0061\":2}", -1, VALUESET_JSON_ERROR_KEY, "more than once");
        assert_fails("{\"o\":{\"b\":1,\"b\":2}}", -1, VALUESET_JSON_ERROR_KEY, "at /o:");
        assert_fails("{\"o\":{\"@i\":1,\"@i\":2}}", -1, VALUESET_JSON_ERROR_KEY, "more than once");
        assert_fails("{\"o\":{\"@a{ss}\":{\"x\":\"1\",\"x\":\"2\"}}}", -1, VALUESET_JSON_ERROR_KEY, "more than once");
        for (int i = 0; i < 256; i++) {
                g_string_append_c(long_key, 'k');
                if (i < 255)
                        g_string_append_c(max_key, 'k');
        }
        g_string_append(long_key, "\":1}");
        g_string_append(max_key, "\":1}");
        assert_fails(long_key->str, -1, VALUESET_JSON_ERROR_KEY, "256 bytes");
        g_variant_unref(parse_ok(max_key->str));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/valueset-json/write/plain", test_write_plain);
        g_test_add_func("/valueset-json/write/typed", test_write_typed);
        g_test_add_func("/valueset-json/round-trip/basic", test_round_trip_basic);
        g_test_add_func("/valueset-json/round-trip/containers", test_round_trip_containers);
        g_test_add_func("/valueset-json/round-trip/generated", test_round_trip_generated);
        g_test_add_func("/valueset-json/parse/plain-json", test_plain_json);
        g_test_add_func("/valueset-json/parse/cloud-message", test_cloud_message);
        g_test_add_func("/valueset-json/hostile/syntax", test_hostile_syntax);
        g_test_add_func("/valueset-json/hostile/depth", test_hostile_depth);
        g_test_add_func("/valueset-json/hostile/types", test_hostile_types);
        g_test_add_func("/valueset-json/hostile/values", test_hostile_values);
        g_test_add_func("/valueset-json/hostile/keys", test_hostile_keys);
        return g_test_run();
}
