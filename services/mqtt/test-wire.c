/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wire encoding (wire.c): every frame kind there and back, the App2App sample's TestValues
 * byte for byte, and what a hostile network may send: not normal form, the wrong type, unknown
 * kinds, wrong fields, unix fds, deep nesting, oversized frames, truncations and noise. */

#include <float.h>
#include <gio/gio.h>
#include <string.h>

#include "valueset-dbus-size.h"
#include "wire.h"

#define FRAME_MAX (2u * 1024 * 1024)

/* After the App2App sample's TestValues (examples/app2app/README.md): each type at its minimum and
 * maximum, nulls, strings, arrays, a nested ValueSet. The keys are those of its first, uncontracted
 * version ("Array<Boolean>"), which no contract field may be: the wire takes any key. */
static GVariant *test_values(void) {
        GVariantBuilder b;
        static const guint8 bytes[] = { 0, 255 };
        static const gint16 i16[] = { G_MININT16, G_MAXINT16 };
        static const gint32 i32[] = { G_MININT32, G_MAXINT32 };
        static const gint64 i64[] = { G_MININT64, G_MAXINT64 };
        static const guint16 u16[] = { 0, G_MAXUINT16 };
        static const guint32 u32[] = { 0, G_MAXUINT32 };
        static const guint64 u64[] = { 0, G_MAXUINT64 };
        static const double dbl[] = { -DBL_MAX, DBL_MAX };
        static const double flt[] = { -FLT_MAX, FLT_MAX };
        static const guint8 bools[] = { 0, 1 };
        static const char *const strings[] = { "", "string", "foobar", NULL };
        GVariantBuilder nested;

#define FIXED(type, array) g_variant_new_fixed_array(G_VARIANT_TYPE(type), array, G_N_ELEMENTS(array), sizeof array[0])
        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&b, "{sv}", "Null", g_variant_new_array(G_VARIANT_TYPE_VARIANT, NULL, 0));
        g_variant_builder_add(&b, "{sv}", "BoolMin", g_variant_new_boolean(FALSE));
        g_variant_builder_add(&b, "{sv}", "BoolMax", g_variant_new_boolean(TRUE));
        g_variant_builder_add(&b, "{sv}", "CharMax", g_variant_new_uint16(G_MAXUINT16));
        g_variant_builder_add(&b, "{sv}", "ByteMin", g_variant_new_byte(0));
        g_variant_builder_add(&b, "{sv}", "ByteMax", g_variant_new_byte(255));
        g_variant_builder_add(&b, "{sv}", "Int16Min", g_variant_new_int16(G_MININT16));
        g_variant_builder_add(&b, "{sv}", "Int32Max", g_variant_new_int32(G_MAXINT32));
        g_variant_builder_add(&b, "{sv}", "Int64Min", g_variant_new_int64(G_MININT64));
        g_variant_builder_add(&b, "{sv}", "UInt64Max", g_variant_new_uint64(G_MAXUINT64));
        g_variant_builder_add(&b, "{sv}", "SingleMin", g_variant_new_double(-FLT_MAX));
        g_variant_builder_add(&b, "{sv}", "DoubleMax", g_variant_new_double(DBL_MAX));
        g_variant_builder_add(&b, "{sv}", "StringEmpty", g_variant_new_string(""));
        g_variant_builder_add(&b, "{sv}", "String", g_variant_new_string("string"));
        g_variant_builder_add(&b, "{sv}", "Array<Boolean>", FIXED("b", bools));
        g_variant_builder_add(&b, "{sv}", "Array<Byte>", FIXED("y", bytes));
        g_variant_builder_add(&b, "{sv}", "Array<Int16>", FIXED("n", i16));
        g_variant_builder_add(&b, "{sv}", "Array<Int32>", FIXED("i", i32));
        g_variant_builder_add(&b, "{sv}", "Array<Int64>", FIXED("x", i64));
        g_variant_builder_add(&b, "{sv}", "Array<UInt16>", FIXED("q", u16));
        g_variant_builder_add(&b, "{sv}", "Array<UInt32>", FIXED("u", u32));
        g_variant_builder_add(&b, "{sv}", "Array<UInt64>", FIXED("t", u64));
        g_variant_builder_add(&b, "{sv}", "Array<Single>", FIXED("d", flt));
        g_variant_builder_add(&b, "{sv}", "Array<Double>", FIXED("d", dbl));
        g_variant_builder_add(&b, "{sv}", "Array<String>", g_variant_new_strv(strings, -1));
        g_variant_builder_add(&b, "{sv}", "Path", g_variant_new_object_path("/a/b"));
        g_variant_builder_add(&b, "{sv}", "Signature", g_variant_new_signature("a{sv}"));
        g_variant_builder_init(&nested, G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&nested, "{sv}", "Deeper",
                              g_variant_new_parsed("[{'x': <(byte 1, <'in a tuple'>)>}]"));
        g_variant_builder_add(&b, "{sv}", "Nested", g_variant_builder_end(&nested));
#undef FIXED
        return g_variant_ref_sink(g_variant_builder_end(&b));
}

static gboolean same_bytes(GVariant *a, GVariant *b) {
        g_autoptr(GBytes) x = wire_value_encode(a);
        g_autoptr(GBytes) y = wire_value_encode(b);

        return g_bytes_equal(x, y);
}

static WireFrame *round_trip(const WireFrame *in) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) bytes = wire_frame_encode(in, &error);
        WireFrame *out;

        g_assert_no_error(error);
        g_assert_nonnull(bytes);
        out = wire_frame_decode(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes), FRAME_MAX, &error);
        g_assert_no_error(error);
        g_assert_nonnull(out);
        g_assert_cmpint(out->kind, ==, in->kind);
        g_assert_cmpuint(out->session, ==, in->session);
        return out;
}

static void test_round_trip_every_kind(void) {
        g_autoptr(GVariant) values = test_values();
        g_autoptr(GVariant) caller = g_variant_ref_sink(
                g_variant_new_parsed("{'uid': <uint32 1000>, 'gid': <uint32 60>, 'app-id': <'x.y'>}"));
        WireFrame open = { .kind = WIRE_OPEN, .session = G_MAXUINT64, .name = "com.example.app2app",
                           .provider = "", .caller = caller };
        WireFrame opened = { .kind = WIRE_OPENED, .session = 1, .max_message_size = 262144 };
        WireFrame refused = { .kind = WIRE_REFUSED, .session = 2, .error = "io.appservice1.Error.NotAuthorized",
                              .message = "no, ünïcode" };
        WireFrame request = { .kind = WIRE_REQUEST, .session = 3, .request = 77, .values = values };
        WireFrame response = { .kind = WIRE_RESPONSE, .session = 4, .request = G_MAXUINT64, .values = values };
        WireFrame failed = { .kind = WIRE_FAILED, .session = 5, .request = 9, .error = "io.appservice1.Error.Timeout",
                             .message = "" };
        WireFrame close = { .kind = WIRE_CLOSE, .session = 6, .status = 3 };
        g_autoptr(WireFrame) f = NULL;

        f = round_trip(&open);
        g_assert_cmpstr(f->name, ==, "com.example.app2app");
        g_assert_cmpstr(f->provider, ==, "");
        g_assert_true(same_bytes(f->caller, caller));
        g_clear_pointer(&f, wire_frame_free);

        f = round_trip(&opened);
        g_assert_cmpuint(f->max_message_size, ==, 262144);
        g_clear_pointer(&f, wire_frame_free);

        f = round_trip(&refused);
        g_assert_cmpstr(f->error, ==, "io.appservice1.Error.NotAuthorized");
        g_assert_cmpstr(f->message, ==, "no, ünïcode");
        g_clear_pointer(&f, wire_frame_free);

        f = round_trip(&request);
        g_assert_cmpuint(f->request, ==, 77);
        g_assert_true(same_bytes(f->values, values));
        g_clear_pointer(&f, wire_frame_free);

        f = round_trip(&response);
        g_assert_cmpuint(f->request, ==, G_MAXUINT64);
        g_assert_true(same_bytes(f->values, values));
        g_clear_pointer(&f, wire_frame_free);

        f = round_trip(&failed);
        g_assert_cmpstr(f->error, ==, "io.appservice1.Error.Timeout");
        g_assert_cmpstr(f->message, ==, "");
        g_clear_pointer(&f, wire_frame_free);

        f = round_trip(&close);
        g_assert_cmpuint(f->status, ==, 3);
}

/* The ValueSet comes out as the very bytes, and as the same D-Bus message body. */
static void test_test_values_byte_for_byte(void) {
        g_autoptr(GVariant) values = test_values();
        g_autoptr(GBytes) bytes = wire_value_encode(values);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) back = NULL;
        g_autoptr(GDBusMessage) m1 = g_dbus_message_new_method_call(NULL, "/", NULL, "M");
        g_autoptr(GDBusMessage) m2 = g_dbus_message_new_method_call(NULL, "/", NULL, "M");
        g_autofree guchar *blob1 = NULL, *blob2 = NULL;
        gsize n1, n2;

        back = wire_value_set_decode(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes), FRAME_MAX, &error);
        g_assert_no_error(error);
        g_assert_true(g_variant_equal(back, values));
        g_assert_true(same_bytes(back, values));

        g_dbus_message_set_body(m1, g_variant_new("(@a{sv})", values));
        g_dbus_message_set_body(m2, g_variant_new("(@a{sv})", back));
        blob1 = g_dbus_message_to_blob(m1, &n1, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
        g_assert_no_error(error);
        blob2 = g_dbus_message_to_blob(m2, &n2, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
        g_assert_no_error(error);
        g_assert_cmpmem(blob1, n1, blob2, n2);
}

static void assert_refused(GBytes *bytes, gsize max, const char *needle) {
        g_autoptr(GError) error = NULL;
        g_autoptr(WireFrame) f = wire_frame_decode(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes), max, &error);

        g_assert_null(f);
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
        if (g_test_verbose())
                g_test_message("refused: %s", error->message);
        if (needle && !strstr(error->message, needle))
                g_error("'%s' does not say '%s'", error->message, needle);
}

static GBytes *raw(const char *kind, const char *fields_text) {
        return wire_encode_raw(kind, g_variant_new_parsed(fields_text));
}

static void test_not_normal_form(void) {
        g_autoptr(GBytes) good = raw("close", "{'session': <uint64 1>, 'status': <uint32 0>}");
        gsize size = g_bytes_get_size(good);
        g_autofree guint8 *bad = g_memdup2(g_bytes_get_data(good, NULL), size);
        g_autoptr(GBytes) bytes = NULL;

        /* The tuple's last byte is the framing offset of its string: point it elsewhere. */
        bad[size - 1] ^= 0x01;
        bytes = g_bytes_new(bad, size);
        assert_refused(bytes, FRAME_MAX, "normal form");
        g_clear_pointer(&bytes, g_bytes_unref);

        /* A string without its nul. */
        bad = (g_free(bad), g_memdup2(g_bytes_get_data(good, NULL), size));
        bad[5] = 'x';
        bytes = g_bytes_new(bad, size);
        assert_refused(bytes, FRAME_MAX, "normal form");
}

static void test_wrong_type(void) {
        g_autoptr(GBytes) other = wire_value_encode(g_variant_new_parsed("('close', {'session': 'x'})"));
        g_autoptr(GBytes) number = wire_value_encode(g_variant_new_uint64(42));
        g_autoptr(GBytes) session_u = raw("close", "{'session': <uint32 1>, 'status': <uint32 0>}");
        g_autoptr(GBytes) status_s = raw("close", "{'session': <uint64 1>, 'status': <'0'>}");
        g_autoptr(GBytes) message_s = raw("request", "{'session': <uint64 1>, 'request': <uint64 1>, 'message': <'x'>}");

        assert_refused(other, FRAME_MAX, NULL);
        assert_refused(number, FRAME_MAX, NULL);
        assert_refused(session_u, FRAME_MAX, "'session' is of type 'u'");
        assert_refused(status_s, FRAME_MAX, "'status'");
        assert_refused(message_s, FRAME_MAX, "'message'");
}

static void test_unknown_kind_and_fields(void) {
        g_autoptr(GBytes) unknown = raw("reboot", "{'session': <uint64 1>}");
        g_autoptr(GBytes) missing = raw("opened", "{'session': <uint64 1>}");
        g_autoptr(GBytes) twice = raw("close", "{'session': <uint64 1>, 'status': <uint32 0>, 'status': <uint32 1>}");
        g_autoptr(GBytes) extra = raw("close", "{'session': <uint64 1>, 'status': <uint32 2>, 'later': <'x'>}");
        g_autoptr(GError) error = NULL;
        g_autoptr(WireFrame) f = NULL;

        assert_refused(unknown, FRAME_MAX, "unknown kind 'reboot'");
        assert_refused(missing, FRAME_MAX, "'max-message-size' is missing");
        assert_refused(twice, FRAME_MAX, "given twice");
        /* A field of a later version is ignored. */
        f = wire_frame_decode(g_bytes_get_data(extra, NULL), g_bytes_get_size(extra), FRAME_MAX, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(f->status, ==, 2);
}

static GBytes *request_with(GVariant *message) {
        g_autoptr(GVariantBuilder) b = g_variant_builder_new(G_VARIANT_TYPE_VARDICT);

        g_variant_builder_add(b, "{sv}", "session", g_variant_new_uint64(1));
        g_variant_builder_add(b, "{sv}", "request", g_variant_new_uint64(2));
        g_variant_builder_add(b, "{sv}", "message", message);
        return wire_encode_raw("request", g_variant_builder_end(b));
}

static void test_value_set_rules(void) {
        static const struct {
                const char *text, *needle;
        } cases[] = {
                { "{'fd': <handle 0>}", "unix fd" },
                { "{'fds': <@ah [0, 1]>}", "unix fd" },
                { "{'deep': <[<(1, <handle 3>)>]>}", "unix fd" },
                { "{'': <1>}", "empty key" },
                { "{'k': <1>, 'k': <2>}", "given twice" },
                { "{'n': <{'k': <1>, 'k': <2>}>}", "given twice" },
                { "{'m': <@mi 5>}", "maybe" },
                { "{'e': <@{sv} {'a', <1>}>}", "dict entry outside" },
                { "{'u': <()>}", "empty struct" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GVariant) v = g_variant_ref_sink(g_variant_new_parsed(cases[i].text));
                g_autoptr(GBytes) frame = request_with(g_variant_ref(v));
                g_autoptr(GBytes) alone = wire_value_encode(v);
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) back = NULL;
                WireFrame f = { .kind = WIRE_REQUEST, .values = v };
                g_autoptr(GBytes) encoded = NULL;

                assert_refused(frame, FRAME_MAX, cases[i].needle);
                back = wire_value_set_decode(g_bytes_get_data(alone, NULL), g_bytes_get_size(alone), FRAME_MAX, &error);
                g_assert_null(back);
                g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
                g_clear_error(&error);
                /* The encoder never makes what the decoder refuses. */
                encoded = wire_frame_encode(&f, &error);
                g_assert_null(encoded);
                g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
        }

        {
                g_autofree char *key = g_strnfill(256, 'k');
                g_autofree char *key255 = g_strnfill(255, 'k');
                GVariantBuilder b;
                g_autoptr(GBytes) frame = NULL;
                g_autoptr(GBytes) ok = NULL;
                g_autoptr(GError) error = NULL;
                g_autoptr(WireFrame) f = NULL;

                g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
                g_variant_builder_add(&b, "{sv}", key, g_variant_new_int32(1));
                frame = request_with(g_variant_builder_end(&b));
                assert_refused(frame, FRAME_MAX, "256 bytes");

                g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
                g_variant_builder_add(&b, "{sv}", key255, g_variant_new_int32(1));
                ok = request_with(g_variant_builder_end(&b));
                f = wire_frame_decode(g_bytes_get_data(ok, NULL), g_bytes_get_size(ok), FRAME_MAX, &error);
                g_assert_no_error(error);
        }
}

/* A ValueSet `depth` containers deep: a{sv} in a{sv}, the broker's way of counting. */
static GVariant *nested(guint depth) {
        GVariant *v = g_variant_new_int32(1);
        guint d = 3;  /* the outermost a{sv}'s array and entry, and the variant of "top" */

        /* Each level adds a variant, an array and a dict entry. */
        while (d + 3 <= depth) {
                GVariantBuilder b;

                g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
                g_variant_builder_add(&b, "{sv}", "n", v);
                v = g_variant_builder_end(&b);
                d += 3;
        }
        /* Then variants in variants to reach the depth exactly. */
        while (d < depth) {
                v = g_variant_new_variant(v);
                d++;
        }
        {
                GVariantBuilder b;

                g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
                g_variant_builder_add(&b, "{sv}", "top", v);
                return g_variant_builder_end(&b);
        }
}

static void test_deep_nesting(void) {
        g_autoptr(GBytes) ok = request_with(nested(WIRE_VALUESET_MAX_DEPTH));
        g_autoptr(GBytes) deep = request_with(nested(WIRE_VALUESET_MAX_DEPTH + 1));
        g_autoptr(GBytes) deeper = request_with(nested(120));
        g_autoptr(GBytes) arrays = request_with(g_variant_new_parsed("{'a': <@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaai []>}"));
        g_autoptr(GError) error = NULL;
        g_autoptr(WireFrame) f = NULL;

        f = wire_frame_decode(g_bytes_get_data(ok, NULL), g_bytes_get_size(ok), FRAME_MAX, &error);
        g_assert_no_error(error);
        g_assert_nonnull(f);
        assert_refused(deep, FRAME_MAX, "deeper than 32");
        assert_refused(deeper, FRAME_MAX, NULL);
        assert_refused(arrays, FRAME_MAX, "deeper than 32");
}

static void test_oversized_and_empty(void) {
        g_autoptr(GVariant) values = test_values();
        WireFrame request = { .kind = WIRE_REQUEST, .session = 3, .request = 77, .values = values };
        g_autoptr(GBytes) bytes = wire_frame_encode(&request, NULL);
        gsize size = g_bytes_get_size(bytes);
        g_autoptr(GError) error = NULL;
        g_autoptr(WireFrame) f = NULL;
        g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);

        assert_refused(bytes, size - 1, "more than the limit");
        f = wire_frame_decode(g_bytes_get_data(bytes, NULL), size, size, &error);
        g_assert_no_error(error);
        assert_refused(empty, FRAME_MAX, "0 bytes");
}

/* Every prefix, every single-byte change and random noise: refused or decoded, never a crash;
 * and whatever is decoded encodes to the same bytes (only normal form gets in). */
static void test_truncated_and_noise(void) {
        g_autoptr(GVariant) values = test_values();
        WireFrame request = { .kind = WIRE_REQUEST, .session = 3, .request = 77, .values = values };
        g_autoptr(GBytes) bytes = wire_frame_encode(&request, NULL);
        const guint8 *data = g_bytes_get_data(bytes, NULL);
        gsize size = g_bytes_get_size(bytes);
        g_autofree guint8 *copy = g_memdup2(data, size);
        g_autoptr(GRand) rand = g_rand_new_with_seed(12);
        guint decoded = 0;

        for (gsize n = 0; n < size; n++) {
                WireFrame *f = wire_frame_decode(data, n, FRAME_MAX, NULL);

                decoded += f != NULL;
                wire_frame_free(f);
        }
        for (gsize i = 0; i < size; i++) {
                WireFrame *f;

                copy[i] ^= (guint8) g_rand_int_range(rand, 1, 256);
                f = wire_frame_decode(copy, size, FRAME_MAX, NULL);
                if (f) {
                        g_autoptr(GBytes) again = wire_value_encode(f->frame);

                        g_assert_cmpmem(g_bytes_get_data(again, NULL), size, copy, size);
                        decoded++;
                }
                wire_frame_free(f);
                copy[i] = data[i];
        }
        for (guint i = 0; i < 2000; i++) {
                guint8 noise[96];
                gsize n = g_rand_int_range(rand, 1, sizeof noise);

                for (gsize j = 0; j < n; j++)
                        noise[j] = (guint8) g_rand_int(rand);
                wire_frame_free(wire_frame_decode(noise, n, FRAME_MAX, NULL));
        }
        g_test_message("%u of the changed frames were still frames", decoded);
}

/* The body length of a D-Bus message whose body is the ValueSet alone. */
static guint64 body_length(GVariant *values) {
        g_autoptr(GDBusMessage) m = g_dbus_message_new_method_call(NULL, "/", NULL, "M");
        g_autoptr(GError) error = NULL;
        g_autofree guchar *blob = NULL;
        gsize n;

        g_dbus_message_set_body(m, g_variant_new("(@a{sv})", values));
        blob = g_dbus_message_to_blob(m, &n, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(n, >=, 8);
        return blob[0] == 'l' ? GUINT32_FROM_LE(*(guint32 *) (blob + 4)) : GUINT32_FROM_BE(*(guint32 *) (blob + 4));
}

static void test_dbus_size(void) {
        static const char *const texts[] = {
                "@a{sv} {}",
                "{'a': <byte 1>}",
                "{'a': <byte 1>, 'b': <int64 2>, 'c': <true>, 'd': <int16 3>}",
                "{'ab': <[true, false, true]>, 'ay': <b'xyz'>, 'at': <@at [1, 2]>, 'e': <@ax []>}",
                "{'t': <(byte 1, int64 2, 'x', <int16 3>)>, 'g': <signature 'a{sv}'>, 'o': <objectpath '/x'>}",
                "{'d': <{'x': <{'y': <[{'z': <(1, 'a', byte 2)>}]>}>}>, 'as': <['a', 'bb', '']>}",
                "{'aay': <[b'a', b'', b'bcd']>, 'a{sy}': <{'k': byte 1}>, 'a(yv)': <[(byte 1, <'x'>)]>}",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(texts); i++) {
                g_autoptr(GVariant) v = g_variant_ref_sink(g_variant_new_parsed(texts[i]));

                g_assert_cmpuint(valueset_dbus_size(v, G_MAXUINT64).size, ==, body_length(v));
        }
        {
                g_autoptr(GVariant) v = test_values();

                g_assert_cmpuint(valueset_dbus_size(v, G_MAXUINT64).size, ==, body_length(v));
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/wire/round-trip-every-kind", test_round_trip_every_kind);
        g_test_add_func("/wire/test-values-byte-for-byte", test_test_values_byte_for_byte);
        g_test_add_func("/wire/not-normal-form", test_not_normal_form);
        g_test_add_func("/wire/wrong-type", test_wrong_type);
        g_test_add_func("/wire/unknown-kind-and-fields", test_unknown_kind_and_fields);
        g_test_add_func("/wire/value-set-rules", test_value_set_rules);
        g_test_add_func("/wire/deep-nesting", test_deep_nesting);
        g_test_add_func("/wire/oversized-and-empty", test_oversized_and_empty);
        g_test_add_func("/wire/truncated-and-noise", test_truncated_and_noise);
        g_test_add_func("/wire/dbus-size", test_dbus_size);
        return g_test_run();
}
