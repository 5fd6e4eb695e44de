/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "valueset.h"
#include "unit-test.h"

/* Messages built on a socketpair bus; the sizes below are worked out by hand from the D-Bus
 * marshalling rules, for an a{sv} that starts 8-aligned: array length (4), padding to the 8-aligned
 * dict entries, then per entry the key (length 4 + bytes + NUL), the variant's signature (length
 * byte + signature + NUL), padding to the value's alignment, the value. */

static BusPair bus;

static sd_bus_message *new_message(void) {
        return bus_pair_new_message(&bus);
}

/* What sd_bus_message_dump() prints of a message's body (g_free()): its types and values, all
 * that decides its bytes. */
static char *dump_body(sd_bus_message *m) {
        char *text = NULL;
        size_t size = 0;
        FILE *f;

        g_assert_cmpint(message_seal_for_reading(m), >=, 0);
        f = open_memstream(&text, &size);
        g_assert_nonnull(f);
        g_assert_cmpint(sd_bus_message_dump(m, f, 0), >=, 0);
        fclose(f);
        return text;
}

/* valueset_check_copy() on the ValueSet valueset_check() just read: the same verdict, size and
 * reason, the message left at the same place, and on OK a copy with the very values and types
 * valueset_copy() makes. */
static void check_copy_agrees(sd_bus_message *m, uint64_t max_size, int verdict, uint64_t size, const char *reason) {
        _cleanup_(freep) char *copy_reason = NULL, *walked = NULL, *copied = NULL;
        sd_bus_message *walk_copy = new_message(), *plain_copy = new_message();
        uint64_t copy_size = UINT64_MAX;
        const char *end = NULL;

        g_assert_cmpint(sd_bus_message_rewind(m, /* complete= */ true), >=, 0);
        g_assert_cmpint(valueset_check_copy(m, walk_copy, max_size, &copy_size, &copy_reason), ==, verdict);
        if (verdict < 0)
                goto done;
        g_assert_cmpuint(copy_size, ==, size);
        g_assert_cmpstr(copy_reason, ==, reason);
        if (verdict != VALUESET_OK)
                goto done;
        g_assert_cmpint(sd_bus_message_read(m, "s", &end), >, 0);
        g_assert_cmpstr(end, ==, "end");

        g_assert_cmpint(sd_bus_message_rewind(m, /* complete= */ true), >=, 0);
        g_assert_cmpint(valueset_copy(plain_copy, m), >=, 0);
        walked = dump_body(walk_copy);
        copied = dump_body(plain_copy);
        g_assert_cmpstr(walked, ==, copied);
done:
        sd_bus_message_unref(walk_copy);
        sd_bus_message_unref(plain_copy);
}

/* Seals m with a trailing "s" after the ValueSet and runs the check on it. A valid ValueSet is
 * read whole, and the message must be left right after it. The check that copies must agree. */
static int check(sd_bus_message *m, uint64_t max_size, uint64_t *ret_size, char **ret_reason) {
        _cleanup_(freep) char *reason = NULL;
        const char *end = NULL;
        uint64_t size = UINT64_MAX;
        int r;

        g_assert_cmpint(sd_bus_message_append(m, "s", "end"), >=, 0);
        g_assert_cmpint(message_seal_for_reading(m), >=, 0);

        r = valueset_check(m, max_size, &size, &reason);
        if (r == VALUESET_OK) {
                g_assert_cmpint(sd_bus_message_read(m, "s", &end), >, 0);
                g_assert_cmpstr(end, ==, "end");
        }
        check_copy_agrees(m, max_size, r, size, reason);
        if (ret_size)
                *ret_size = size;
        if (ret_reason)
                *ret_reason = TAKE_PTR(reason);
        return r;
}

/* Runs the check and asserts the verdict and (when size != UINT64_MAX) the size. */
static void assert_verdict(sd_bus_message *m, uint64_t max_size, int verdict, uint64_t size) {
        _cleanup_(freep) char *reason = NULL;
        uint64_t got = UINT64_MAX;
        int r;

        r = check(m, max_size, &got, &reason);
        g_assert_cmpint(r, ==, verdict);
        if (size != UINT64_MAX)
                g_assert_cmpuint(got, ==, size);
        if (verdict == VALUESET_OK)
                g_assert_null(reason);
        else {
                g_assert_nonnull(reason);
                /* It goes into a D-Bus error message, which must be UTF-8. */
                if (reason)
                        g_assert_true(g_utf8_validate(reason, -1, NULL));
                g_test_message("reason: %s", reason);
        }
        sd_bus_message_unref(m);
}

#define NO_LIMIT UINT64_MAX
#define ANY_SIZE UINT64_MAX

static void test_empty(void) {
        sd_bus_message *m = new_message();

        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 0), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, 8);

        /* Even the empty ValueSet has a size, and a limit below it refuses it. */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 0), >=, 0);
        assert_verdict(m, 7, VALUESET_TOO_LARGE, 8);
}

static void test_sizes_by_hand(void) {
        sd_bus_message *m;

        /* 8 + key 4+2 = 14, sig "i" 3 = 17, pad to 20, int32 = 24 */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "a", "i", (int32_t) 1), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, 24);

        /* 14, sig 3 = 17, pad to 20, length 4 = 24, "hello\0" = 30 */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "a", "s", "hello"), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, 30);

        /* first entry ends at 24 (8-aligned); second: key 4+3 = 31, sig 3 = 34, byte = 35 */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 2, "a", "i", (int32_t) 1, "bb", "y", (uint8_t) 2), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, 35);

        /* 17 after the signature, pad to 24, uint64 = 32 */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "a", "t", (uint64_t) 7), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, 32);

        /* sig "ay" 4 = 18, pad to 20, length 4 = 24, 3 bytes = 27 */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "k", "ay", 3, 1, 2, 3), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, 27);

        /* sig "(is)" 6 = 20, pad to 24, int32 = 28, length 4 = 32, "x\0" = 34 */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "s", "(is)", (int32_t) 1, "x"), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, 34);

        /* a variant in a variant: sig "v" 3 = 17, inner sig "i" 3 = 20, int32 = 24 */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "v", "v", "i", (int32_t) 5), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, 24);

        /* sig "g" 3 = 17, signature "ii": 1 + 2 + 1 = 21 */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "g", "g", "ii"), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, 21);

        /* nested: key "inner" 4+6 = 18, sig "a{sv}" 7 = 25, pad 28, length 32 (8-aligned),
         * entry "x": 4+2 = 38, sig "n" 3 = 41, pad 42, int16 = 44 */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "inner", "a{sv}", 1, "x", "n", (int16_t) 2), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, 44);
}

static void test_simple_values(void) {
        sd_bus_message *m = new_message();

        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 13,
                                              "b", "b", 1,
                                              "y", "y", (uint8_t) 255,
                                              "n", "n", (int16_t) -1,
                                              "q", "q", (uint16_t) 1,
                                              "i", "i", (int32_t) -5,
                                              "u", "u", (uint32_t) 5,
                                              "x", "x", (int64_t) -9,
                                              "t", "t", (uint64_t) 9,
                                              "d", "d", 3.5,
                                              "s", "s", "text",
                                              "o", "o", "/io/appservice1",
                                              "as", "as", 2, "a", "b",
                                              "a{ss}", "a{ss}", 1, "k", "v"), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, ANY_SIZE);

        /* Arrays of fixed-size values, booleans among them (copied one by one). */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 5,
                                              "ab", "ab", 3, 1, 0, 1,
                                              "ay", "ay", 2, (uint8_t) 1, (uint8_t) 2,
                                              "ai", "ai", 1, (int32_t) -3,
                                              "ad", "ad", 1, 0.5,
                                              "ab0", "ab", 0), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, ANY_SIZE);
}

static void test_null(void) {
        sd_bus_message *m = new_message();

        /* @av []: sig "av" 4 = 18, pad 20, length 4 = 24, no elements */
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "n", "av", 0), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, 24);
}

static void test_limit(void) {
        sd_bus_message *m;

        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "a", "i", (int32_t) 1), >=, 0);
        assert_verdict(m, 24, VALUESET_OK, 24);

        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "a", "i", (int32_t) 1), >=, 0);
        assert_verdict(m, 23, VALUESET_TOO_LARGE, 24);

        /* Without the optional outputs. */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "a", "i", (int32_t) 1), >=, 0);
        g_assert_cmpint(check(m, 23, NULL, NULL), ==, VALUESET_TOO_LARGE);
        sd_bus_message_unref(m);
}

static void append_blob(sd_bus_message *m, const char *key, size_t size) {
        g_autofree uint8_t *blob = g_malloc0(size);

        g_assert_cmpint(sd_bus_message_open_container(m, 'e', "sv"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "s", key), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'v', "ay"), >=, 0);
        g_assert_cmpint(sd_bus_message_append_array(m, 'y', blob, size), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
}

static void test_big_byte_arrays(void) {
        const size_t mib = 1024 * 1024;
        /* 8 + "blob" 4+5 = 17, sig "ay" 4 = 21, pad 24, length 4 = 28, then the bytes */
        const uint64_t expected = 28 + mib;
        sd_bus_message *m;

        m = new_message();
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        append_blob(m, "blob", mib);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        assert_verdict(m, mib, VALUESET_TOO_LARGE, expected);

        m = new_message();
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        append_blob(m, "blob", mib);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        assert_verdict(m, 2 * mib, VALUESET_OK, expected);

        m = new_message();
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        append_blob(m, "blob", mib);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        assert_verdict(m, expected, VALUESET_OK, expected);

        /* Three of them: the sizes add up, with the padding between entries. */
        m = new_message();
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        append_blob(m, "b1", 1000);
        append_blob(m, "b2", 1000);
        append_blob(m, "b3", 1000);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        /* Each entry, from an 8-aligned start: key 4+3 = 7, sig "ay" 4 = 11, pad 12, length 16,
         * bytes 1016, which is 8-aligned again: 8 + 3 * 1016 = 3056. */
        assert_verdict(m, NO_LIMIT, VALUESET_OK, 3056);
}

static int dev_null(void) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        g_assert_cmpint(fd, >=, 0);
        return fd;
}

static void test_fds(void) {
        _cleanup_(closep) int fd = dev_null();
        sd_bus_message *m;

        g_assert_cmpint(sd_bus_can_send(bus.client, 'h'), >, 0);

        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "f", "h", fd), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "s", "(ih)", 1, fd), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "a", "ah", 2, fd, fd), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "v", "v", "h", fd), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 2, "ok", "i", 1, "d", "a{sv}", 1, "x", "h", fd), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "m", "a{sh}", 1, "x", fd), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        /* An empty array of fds carries no fd, but its type still says 'h'. */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "a", "ah", 0), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);
}

static void test_invalid_beats_size(void) {
        _cleanup_(closep) int fd = dev_null();
        sd_bus_message *m = new_message();

        /* A rule broken before the limit comes before the size, as the contract orders the
         * checks: an fd, then a duplicate key among the keys read before the walk stopped. */
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "{sv}", "f", "h", fd), >=, 0);
        append_blob(m, "blob", 4096);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        assert_verdict(m, 100, VALUESET_INVALID, ANY_SIZE);

        m = new_message();
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "{sv}", "dup", "i", 1), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "{sv}", "dup", "i", 2), >=, 0);
        append_blob(m, "blob", 4096);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        assert_verdict(m, 100, VALUESET_INVALID, ANY_SIZE);
}

static void test_walk_stops_at_limit(void) {
        _cleanup_(closep) int fd = dev_null();
        sd_bus_message *m = new_message();
        uint64_t size = 0;

        /* Nothing past the limit is read: an fd or a duplicate after it goes unseen. */
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        append_blob(m, "blob", 4096);
        g_assert_cmpint(sd_bus_message_append(m, "{sv}", "f", "h", fd), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        assert_verdict(m, 100, VALUESET_TOO_LARGE, ANY_SIZE);

        m = new_message();
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        append_blob(m, "blob", 4096);
        g_assert_cmpint(sd_bus_message_append(m, "{sv}", "blob", "i", 1), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        assert_verdict(m, 100, VALUESET_TOO_LARGE, ANY_SIZE);

        /* 100,000 variants take 600 kB; a 1,000-byte limit stops the walk within one element of it
         * instead of reading them all (what made a 34 MiB av cost the broker 0.7 s). */
        m = new_message();
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'e', "sv"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "s", "many"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'v', "av"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "v"), >=, 0);
        for (int i = 0; i < 100000; i++)
                g_assert_cmpint(sd_bus_message_append(m, "v", "y", 1), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        g_assert_cmpint(check(m, 1000, &size, NULL), ==, VALUESET_TOO_LARGE);
        g_assert_cmpuint(size, >, 1000);
        g_assert_cmpuint(size, <=, 1000 + 8);
        sd_bus_message_unref(m);
}

/* Appends {"d": v(v(...(v(i))...))} with `levels` variants. */
static sd_bus_message *new_nested_variants(unsigned levels) {
        sd_bus_message *m = new_message();

        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'e', "sv"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "s", "d"), >=, 0);
        for (unsigned i = 1; i < levels; i++)
                g_assert_cmpint(sd_bus_message_open_container(m, 'v', "v"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "v", "i", 1), >=, 0);
        for (unsigned i = 1; i < levels; i++)
                g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        return m;
}

/* Appends `levels` a{sv} inside each other, {"n": <{"n": <... {}>}>}. */
static sd_bus_message *new_nested_valuesets(unsigned levels) {
        sd_bus_message *m = new_message();

        for (unsigned i = 0; i < levels; i++) {
                g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
                if (i + 1 == levels)
                        break;
                g_assert_cmpint(sd_bus_message_open_container(m, 'e', "sv"), >=, 0);
                g_assert_cmpint(sd_bus_message_append(m, "s", "n"), >=, 0);
                g_assert_cmpint(sd_bus_message_open_container(m, 'v', "a{sv}"), >=, 0);
        }
        for (unsigned i = 0; i < levels; i++) {
                g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
                if (i + 1 == levels)
                        break;
                g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
                g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        }
        return m;
}

static void test_depth(void) {
        _cleanup_(freep) char *reason = NULL;
        sd_bus_message *m;

        /* Array, entry, then 30 variants: 32 containers, the most there may be. */
        assert_verdict(new_nested_variants(30), NO_LIMIT, VALUESET_OK, ANY_SIZE);
        assert_verdict(new_nested_variants(31), NO_LIMIT, VALUESET_INVALID, ANY_SIZE);
        /* The reproducer of the broker's exit: 60 variants. */
        assert_verdict(new_nested_variants(60), NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        /* ValueSets in ValueSets, 3 containers a level (array, entry, variant): the innermost
         * (empty) array of 11 levels is the 31st container... */
        assert_verdict(new_nested_valuesets(11), NO_LIMIT, VALUESET_OK, ANY_SIZE);
        /* ...while 12 levels need a 33rd, the 11th level's variant. */
        assert_verdict(new_nested_valuesets(12), NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        m = new_nested_variants(40);
        g_assert_cmpint(check(m, NO_LIMIT, NULL, &reason), ==, VALUESET_INVALID);
        g_assert_nonnull(strstr(reason, "nested more than 32 containers deep"));
        sd_bus_message_unref(m);
}

/* {"x": <[([1],), (@ai [],)]>} and its kin: arrays GDBus misreads. */
static sd_bus_message *new_array_of_ai_structs(unsigned n_full, bool last_empty) {
        sd_bus_message *m = new_message();

        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'e', "sv"), >=, 0);
        g_assert_cmpint(sd_bus_message_append(m, "s", "x"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'v', "a(ai)"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "(ai)"), >=, 0);
        for (unsigned i = 0; i < n_full; i++)
                g_assert_cmpint(sd_bus_message_append(m, "(ai)", 1, 7), >=, 0);
        if (last_empty)
                g_assert_cmpint(sd_bus_message_append(m, "(ai)", 0), >=, 0);
        for (int i = 0; i < 4; i++)
                g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        return m;
}

static void test_arrays_gdbus_misreads(void) {
        _cleanup_(freep) char *reason = NULL;
        sd_bus_message *m;

        /* A last element of 4 bytes (an empty ai in a struct) is refused, alone or after others... */
        assert_verdict(new_array_of_ai_structs(1, true), NO_LIMIT, VALUESET_INVALID, ANY_SIZE);
        assert_verdict(new_array_of_ai_structs(0, true), NO_LIMIT, VALUESET_INVALID, ANY_SIZE);
        m = new_array_of_ai_structs(2, true);
        g_assert_cmpint(check(m, NO_LIMIT, NULL, &reason), ==, VALUESET_INVALID);
        g_assert_nonnull(strstr(reason, "misreads arrays of structs or dict entries"));
        sd_bus_message_unref(m);
        /* ...one of 8 bytes is not, nor an empty array, nor structs of a fixed size. */
        assert_verdict(new_array_of_ai_structs(2, false), NO_LIMIT, VALUESET_OK, ANY_SIZE);
        assert_verdict(new_array_of_ai_structs(0, false), NO_LIMIT, VALUESET_OK, ANY_SIZE);
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "y", "a(y)", 2, 1, 2), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, ANY_SIZE);
        /* A variant holding a byte takes 4 bytes too. */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "v", "a(v)", 2, "x", (int64_t) 1, "y", 2), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);
}

static void test_keys(void) {
        char key255[256], key256[257];
        sd_bus_message *m;

        memset(key255, 'k', 255);
        key255[255] = '\0';
        memset(key256, 'k', 256);
        key256[256] = '\0';

        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "", "i", 1), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        /* 8 + 4 + 255 + 1 = 268, sig "y" 3 = 271, byte = 272 */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, key255, "y", (uint8_t) 1), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, 272);

        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, key256, "y", (uint8_t) 1), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        /* 255 bytes of UTF-8 text, not 255 characters, is the limit. */
        m = new_message();
        {
                char utf8[300] = "";
                for (int i = 0; i < 127; i++)
                        strcat(utf8, "é");   /* 254 bytes */
                strcat(utf8, "xy");           /* 256 bytes */
                g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, utf8, "y", (uint8_t) 1), >=, 0);
        }
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        /* An over-long key of multi-byte characters, at an odd offset: quoting a cut-off piece of
         * it in the reason must not split a character. */
        m = new_message();
        {
                char utf8[300] = "a";
                for (int i = 0; i < 130; i++)
                        strcat(utf8, "é");   /* 261 bytes */
                g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, utf8, "y", (uint8_t) 1), >=, 0);
        }
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 3, "a", "i", 1, "b", "i", 2, "a", "s", "again"), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        /* Keys are compared as bytes: case matters. */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 2, "Key", "i", 1, "key", "i", 2), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, ANY_SIZE);
}

static void test_nested(void) {
        sd_bus_message *m;

        /* The same key at different levels is fine. */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 2, "a", "a{sv}", 1, "a", "i", 1, "b", "i", 2), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, ANY_SIZE);

        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "inner", "a{sv}", 2, "x", "i", 1, "x", "i", 2), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "inner", "a{sv}", 1, "", "i", 1), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        /* Deeper: a ValueSet in a variant in a ValueSet in a ValueSet. */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "l1", "a{sv}", 1, "l2", "v", "a{sv}", 2,
                                              "d", "i", 1, "d", "i", 2), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);
}

static void test_list_of_valuesets(void) {
        sd_bus_message *m;

        /* aa{sv}: key "list" 4+5 = 17, sig "aa{sv}" 8 = 25, pad 28, outer length 32 (its elements
         * are arrays, 4-aligned); element 1: length 36, pad to its 8-aligned entries 40, "a" 4+2 =
         * 46, sig "i" 3 = 49, pad 52, int32 56; element 2 at 56: length 60, pad 64, "b" 70, sig 73,
         * pad 76, int32 80. */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "list", "aa{sv}", 2,
                                              1, "a", "i", 1,
                                              1, "b", "i", 2), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, 80);

        /* Each element is a ValueSet of its own: the same key in two of them is fine... */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "list", "aa{sv}", 2,
                                              1, "a", "i", 1,
                                              1, "a", "i", 2), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, ANY_SIZE);

        /* ...twice in one is not. */
        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "list", "aa{sv}", 1,
                                              2, "a", "i", 1, "a", "i", 2), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_INVALID, ANY_SIZE);

        m = new_message();
        g_assert_cmpint(sd_bus_message_append(m, "a{sv}", 1, "list", "aa{sv}", 0), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, ANY_SIZE);
}

static void test_many_entries(void) {
        sd_bus_message *m = new_message();
        uint64_t expected = 8;

        /* 5000 entries "kNNNN" -> int32: each 4+6 = 10, sig 3 = 13, pad 16, int32 20, pad 24. The
         * last entry's trailing padding is not part of the array. */
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "{sv}"), >=, 0);
        for (unsigned i = 0; i < 5000; i++) {
                char key[8];

                snprintf(key, sizeof key, "k%04u", i);
                g_assert_cmpint(sd_bus_message_append(m, "{sv}", key, "i", (int32_t) i), >=, 0);
                expected += i + 1 < 5000 ? 24 : 20;
        }
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        assert_verdict(m, NO_LIMIT, VALUESET_OK, expected);
}

int main(int argc, char *argv[]) {
        int r;

        unit_test_init(&argc, &argv);

        r = bus_pair_open(&bus);
        if (r < 0) {
                g_printerr("cannot set up a socketpair bus: %s\n", strerror(-r));
                return 1;
        }

        g_test_add_func("/valueset/empty", test_empty);
        g_test_add_func("/valueset/sizes-by-hand", test_sizes_by_hand);
        g_test_add_func("/valueset/simple-values", test_simple_values);
        g_test_add_func("/valueset/null", test_null);
        g_test_add_func("/valueset/limit", test_limit);
        g_test_add_func("/valueset/big-byte-arrays", test_big_byte_arrays);
        g_test_add_func("/valueset/fds", test_fds);
        g_test_add_func("/valueset/invalid-beats-size", test_invalid_beats_size);
        g_test_add_func("/valueset/walk-stops-at-limit", test_walk_stops_at_limit);
        g_test_add_func("/valueset/depth", test_depth);
        g_test_add_func("/valueset/arrays-gdbus-misreads", test_arrays_gdbus_misreads);
        g_test_add_func("/valueset/keys", test_keys);
        g_test_add_func("/valueset/nested", test_nested);
        g_test_add_func("/valueset/list-of-valuesets", test_list_of_valuesets);
        g_test_add_func("/valueset/many-entries", test_many_entries);

        r = g_test_run();
        bus_pair_close(&bus);
        return r;
}
