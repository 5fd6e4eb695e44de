/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The spool on a temporary directory: write, restart, order, bounds, corrupt and temporary files,
 * the id made once, sequence numbers never reused; rejected messages moved aside and, with the
 * corrupt files, counted in the bounds until deleted. */

#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "spool.h"

static char *make_dir(void) {
        return g_dir_make_tmp("test-spool-XXXXXX", NULL);
}

static void remove_dir(char *dir) {
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename(dir, name, NULL);

                g_unlink(p);
        }
        g_rmdir(dir);
        g_free(dir);
}

static SpoolMessage *message(const char *topic, const char *text) {
        SpoolMessage *m = g_new0(SpoolMessage, 1);

        m->topic = g_strdup(topic);
        m->content_type = g_strdup("application/json");
        m->user_properties = g_strdupv((char *[]){ "message-id", "n:x:1", "k", "v", NULL });
        m->payload = g_bytes_new(text, strlen(text));
        return m;
}

static guint64 add(Spool *s, const char *text) {
        g_autoptr(SpoolMessage) m = message("t/a", text);
        g_autoptr(GError) error = NULL;
        guint64 seq = 0;

        g_assert_true(spool_add(s, m, &seq, &error));
        g_assert_no_error(error);
        return seq;
}

static char *text_of(Spool *s, guint64 seq) {
        g_autoptr(GError) error = NULL;
        g_autoptr(SpoolMessage) m = spool_read(s, seq, &error);

        g_assert_no_error(error);
        return g_strndup(g_bytes_get_data(m->payload, NULL), g_bytes_get_size(m->payload));
}

static void test_round_trip(void) {
        g_autoptr(SpoolMessage) m = message("a/b/c", "{\"x\":1}");
        g_autoptr(GBytes) bytes = spool_message_serialize(m);
        g_autoptr(GError) error = NULL;
        g_autoptr(SpoolMessage) back = spool_message_deserialize(bytes, &error);

        g_assert_no_error(error);
        g_assert_cmpstr(back->topic, ==, "a/b/c");
        g_assert_cmpstr(back->content_type, ==, "application/json");
        g_assert_cmpstrv(back->user_properties, m->user_properties);
        g_assert_true(g_bytes_equal(back->payload, m->payload));
}

static void test_write_restart_order(void) {
        char *dir = make_dir();
        g_autofree char *id = NULL;
        guint64 a, b, c;

        {
                g_autoptr(Spool) s = spool_open(dir, 100, 1 << 20, NULL);

                g_assert_nonnull(s);
                id = g_strdup(spool_get_id(s));
                g_assert_cmpuint(strlen(id), ==, 32);
                a = add(s, "one");
                b = add(s, "two");
                c = add(s, "three");
                g_assert_cmpuint(a, <, b);
                g_assert_cmpuint(b, <, c);
                g_assert_cmpuint(spool_get_length(s), ==, 3);
                g_assert_true(spool_remove(s, b)); /* acknowledged out of order */
                g_assert_false(spool_remove(s, b));
        }
        {
                g_autoptr(Spool) s = spool_open(dir, 100, 1 << 20, NULL);
                g_autofree char *first = NULL, *second = NULL;

                g_assert_cmpstr(spool_get_id(s), ==, id); /* made once */
                g_assert_cmpuint(spool_get_length(s), ==, 2);
                g_assert_cmpuint(spool_first(s), ==, a);
                g_assert_cmpuint(spool_next(s, a), ==, c);
                g_assert_cmpuint(spool_next(s, c), ==, 0);
                g_assert_cmpuint(spool_find_from(s, a + 1), ==, c);
                g_assert_cmpuint(spool_find_from(s, c + 1), ==, 0);
                first = text_of(s, a);
                second = text_of(s, c);
                g_assert_cmpstr(first, ==, "one");
                g_assert_cmpstr(second, ==, "three");
                g_assert_cmpuint(spool_get_next_seq(s), >, c);
                g_assert_true(spool_remove(s, a));
                g_assert_true(spool_remove(s, c));
        }
        {
                /* Empty now: numbers still go on (message ids stay unique). */
                g_autoptr(Spool) s = spool_open(dir, 100, 1 << 20, NULL);

                g_assert_cmpuint(spool_get_length(s), ==, 0);
                g_assert_cmpuint(add(s, "four"), >, c);
        }
        remove_dir(dir);
}

static void test_bounds(void) {
        char *dir = make_dir();
        g_autoptr(Spool) s = spool_open(dir, 3, 1 << 20, NULL);
        g_autoptr(SpoolMessage) m = message("t", "x");
        g_autoptr(GError) error = NULL;
        guint64 first;

        first = add(s, "1");
        add(s, "2");
        add(s, "3");
        g_assert_false(spool_add(s, m, NULL, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
        g_clear_error(&error);
        g_assert_cmpuint(spool_get_length(s), ==, 3);
        spool_remove(s, first);
        add(s, "4");

        /* Bytes: room for about two messages of 1 KiB. */
        {
                char *dir2 = make_dir();
                g_autoptr(Spool) s2 = spool_open(dir2, 100, 2500, NULL);
                g_autofree char *big = g_strnfill(1000, 'x');
                g_autoptr(SpoolMessage) big_message = message("t", big);

                add(s2, big);
                add(s2, big);
                g_assert_false(spool_add(s2, m, NULL, NULL) && spool_add(s2, big_message, NULL, &error));
                g_assert_cmpuint(spool_get_bytes(s2), <=, 2500);
                g_clear_error(&error);
                g_clear_pointer(&s2, spool_free);
                remove_dir(dir2);
        }
        g_clear_pointer(&s, spool_free);
        remove_dir(dir);
}

static void test_stray_and_corrupt(void) {
        char *dir = make_dir();
        g_autofree char *tmp = g_build_filename(dir, ".00000000000000000009.msg.tmp", NULL);
        g_autofree char *garbage = g_build_filename(dir, "00000000000000000007.msg", NULL);
        g_autofree char *truncated = NULL, *bad_name = g_build_filename(dir, "x.msg", NULL);
        g_autofree char *aside = g_strconcat(garbage, ".corrupt", NULL);
        g_autofree char *other = g_build_filename(dir, "README", NULL);
        guint64 good;

        {
                g_autoptr(Spool) s = spool_open(dir, 100, 1 << 20, NULL);
                g_autofree char *name = NULL;
                g_autofree char *contents = NULL;
                gsize length;

                good = add(s, "good");
                add(s, "will be truncated");
                name = g_strdup_printf("%020" G_GUINT64_FORMAT ".msg", good + 1);
                truncated = g_build_filename(dir, name, NULL);
                g_assert_true(g_file_get_contents(truncated, &contents, &length, NULL));
                g_assert_true(g_file_set_contents(truncated, contents, (gssize) length - 3, NULL));
        }
        g_assert_true(g_file_set_contents(tmp, "half", -1, NULL));
        g_assert_true(g_file_set_contents(garbage, "not a message at all", -1, NULL));
        g_assert_true(g_file_set_contents(bad_name, "?", -1, NULL));
        g_assert_true(g_file_set_contents(other, "left alone", -1, NULL));
        {
                g_autoptr(Spool) s = NULL;

                g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*x.msg*moved aside*");
                /* Names first, then contents in sequence order: the truncated one, then 7. */
                g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*moved aside*");
                g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*00000000000000000007.msg*moved aside*");
                s = spool_open(dir, 100, 1 << 20, NULL);
                g_test_assert_expected_messages();
                g_assert_nonnull(s);
                g_assert_cmpuint(spool_get_length(s), ==, 1);
                g_assert_cmpuint(spool_first(s), ==, good);
        }
        g_assert_false(g_file_test(tmp, G_FILE_TEST_EXISTS));
        g_assert_false(g_file_test(garbage, G_FILE_TEST_EXISTS));
        g_assert_true(g_file_test(aside, G_FILE_TEST_EXISTS));
        g_assert_true(g_file_test(other, G_FILE_TEST_EXISTS));
        remove_dir(dir);
}

static char *path_of(const char *dir, guint64 seq, const char *suffix) {
        return g_strdup_printf("%s/%020" G_GUINT64_FORMAT ".msg%s", dir, seq, suffix);
}

static void test_reject_held_in_bounds(void) {
        char *dir = make_dir();
        g_autofree char *msg = NULL, *rejected = NULL, *other = g_build_filename(dir, "x.corrupt", NULL);
        g_autoptr(SpoolMessage) m = message("t/a", "more");
        g_autoptr(GError) error = NULL;
        guint64 bytes, a, b, c;

        {
                g_autoptr(Spool) s = spool_open(dir, 3, 1 << 20, NULL);

                a = add(s, "one");
                b = add(s, "two");
                c = add(s, "three");
                msg = path_of(dir, b, "");
                rejected = path_of(dir, b, ".rejected");
                g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*.msg: too large; moved aside to*.msg.rejected*");
                g_assert_true(spool_reject(s, b, "too large"));
                g_test_assert_expected_messages();
                g_assert_false(spool_reject(s, b, "again"));
                g_assert_false(g_file_test(msg, G_FILE_TEST_EXISTS));
                g_assert_true(g_file_test(rejected, G_FILE_TEST_EXISTS));
                /* No longer a message to publish, still counted. */
                g_assert_cmpuint(spool_get_length(s), ==, 2);
                g_assert_cmpuint(spool_first(s), ==, a);
                g_assert_cmpuint(spool_next(s, a), ==, c);
                g_assert_cmpuint(spool_get_held(s, &bytes), ==, 1);
                g_assert_cmpuint(bytes, >, 0);
                g_assert_false(spool_add(s, m, NULL, &error));
                g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
                g_clear_error(&error);
                spool_remove(s, a);
                add(s, "four");
                g_assert_false(spool_add(s, m, NULL, NULL));
        }
        g_assert_true(g_file_set_contents(other, "a corrupt file of an earlier run", -1, NULL));
        {
                /* At start: the rejected and the corrupt file count, as before. */
                g_autoptr(Spool) s = spool_open(dir, 4, 1 << 20, NULL);

                g_assert_cmpuint(spool_get_length(s), ==, 2);
                g_assert_cmpuint(spool_get_held(s, NULL), ==, 2);
                g_assert_false(spool_add(s, m, NULL, NULL));
                /* An administrator deletes them: room again. */
                g_assert_cmpint(g_unlink(rejected), ==, 0);
                g_assert_cmpint(g_unlink(other), ==, 0);
                spool_recount_held(s);
                g_assert_cmpuint(spool_get_held(s, NULL), ==, 0);
                add(s, "five");
                add(s, "six");
                g_assert_false(spool_add(s, m, NULL, NULL));
        }
        {
                /* In bytes too. */
                g_autoptr(Spool) s = spool_open(dir, 100, 4096, NULL);
                g_autofree char *big = g_strnfill(1500, 'x');
                g_autoptr(SpoolMessage) big_message = message("t/a", big);
                guint64 first;

                g_assert_cmpuint(spool_get_length(s), ==, 4);
                while (spool_first(s))
                        spool_remove(s, spool_first(s));
                first = add(s, big);
                add(s, big);
                g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*moved aside*");
                spool_reject(s, first, "too large");
                g_test_assert_expected_messages();
                g_assert_cmpuint(spool_get_bytes(s) + (spool_get_held(s, &bytes), bytes), >, 3000);
                g_assert_false(spool_add(s, big_message, NULL, &error));
                g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
        }
        remove_dir(dir);
}

static void test_reject_rename_fails(void) {
        char *dir = make_dir();
        g_autofree char *block = NULL;
        g_autoptr(SpoolMessage) m = message("t", "x");
        g_autoptr(Spool) s = spool_open(dir, 2, 1 << 20, NULL);
        guint64 a = add(s, "one");

        /* A directory in the way of the rename: the message stays under its name, counted. */
        block = path_of(dir, a, ".rejected");
        g_assert_cmpint(g_mkdir(block, 0700), ==, 0);
        g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*cannot move it aside*");
        g_assert_true(spool_reject(s, a, "too large"));
        g_test_assert_expected_messages();
        g_assert_cmpuint(spool_get_length(s), ==, 0);
        g_assert_cmpuint(spool_get_held(s, NULL), ==, 1);
        add(s, "two");
        g_assert_false(spool_add(s, m, NULL, NULL));
        g_rmdir(block);
        g_clear_pointer(&s, spool_free);
        remove_dir(dir);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/mqtt/spool/round-trip", test_round_trip);
        g_test_add_func("/mqtt/spool/write-restart-order", test_write_restart_order);
        g_test_add_func("/mqtt/spool/bounds", test_bounds);
        g_test_add_func("/mqtt/spool/stray-and-corrupt", test_stray_and_corrupt);
        g_test_add_func("/mqtt/spool/reject-held-in-bounds", test_reject_held_in_bounds);
        g_test_add_func("/mqtt/spool/reject-rename-fails", test_reject_rename_fails);
        return g_test_run();
}
