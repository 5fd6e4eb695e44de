/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The protocol without GPIO chips: what can be checked on a machine without any (the VM tier,
 * tests/vm, has the rest). A directory of our own stands in for /dev. */

#include <glib/gstdio.h>

#include "protocol.h"

typedef struct {
        char *dev_dir;
        Chips *chips;
        Client *client;
} Fixture;

static void on_removed(const char *name, gpointer user_data) {
}

static void fixture_set_up(Fixture *f, gconstpointer data) {
        Limits limits = LIMITS_DEFAULT;
        g_autoptr(GError) error = NULL;

        f->dev_dir = g_dir_make_tmp("test-gpio-XXXXXX", &error);
        g_assert_no_error(error);
        f->chips = chips_new(f->dev_dir, on_removed, NULL, &error);
        g_assert_no_error(error);
        f->client = client_new(/* connection= */ NULL, &limits);
}

static void fixture_tear_down(Fixture *f, gconstpointer data) {
        g_autofree char *fake = g_build_filename(f->dev_dir, "gpiochip0", NULL);

        client_free(f->client);
        chips_free(f->chips);
        g_unlink(fake);
        g_rmdir(f->dev_dir);
        g_free(f->dev_dir);
}

/* Sends @text (GVariant text of an a{sv}) and checks Status, and Error when it is an error. */
static GVariant *send(Fixture *f, const char *text, const char *want_error) {
        g_autoptr(GVariant) message = g_variant_ref_sink(g_variant_new_parsed(text));
        GVariant *response = protocol_handle(f->chips, f->client, message);
        const char *status = NULL, *error = NULL, *error_message = NULL;

        g_assert_true(g_variant_lookup(response, "Status", "&s", &status));
        if (!want_error) {
                g_assert_cmpstr(status, ==, "ok");
                return response;
        }
        g_assert_cmpstr(status, ==, "error");
        g_assert_true(g_variant_lookup(response, "Error", "&s", &error));
        g_assert_true(g_variant_lookup(response, "Message", "&s", &error_message));
        g_test_message("%s -> %s: %s", text, error, error_message);
        g_assert_cmpstr(error, ==, want_error);
        g_assert_cmpstr(error_message, !=, "");
        return response;
}

static void expect(Fixture *f, const char *text, const char *want_error) {
        g_autoptr(GVariant) response G_GNUC_UNUSED = send(f, text, want_error);  /* frees it */
}

static void test_list_chips_empty(Fixture *f, gconstpointer data) {
        g_autoptr(GVariant) response = send(f, "{'Action': <'ListChips'>}", NULL);
        g_autoptr(GVariant) chips = g_variant_lookup_value(response, "Chips", G_VARIANT_TYPE("aa{sv}"));

        g_assert_nonnull(chips);
        g_assert_cmpuint(g_variant_n_children(chips), ==, 0);
}

static void test_actions(Fixture *f, gconstpointer data) {
        expect(f, "{'Action': <'Frob'>}", "unknown-action");
        expect(f, "{'Text': <'hello'>}", "invalid-argument");
        expect(f, "{'Action': <@u 1>}", "invalid-argument");
}

static void test_get_line_info(Fixture *f, gconstpointer data) {
        expect(f, "{'Action': <'GetLineInfo'>, 'Line': <'led0'>}", "unknown-line");
        expect(f, "{'Action': <'GetLineInfo'>, 'Line': <@u 3>, 'Chip': <'gpiochip0'>}", "unknown-chip");
        expect(f, "{'Action': <'GetLineInfo'>, 'Line': <'led0'>, 'Chip': <'some-label'>}", "unknown-chip");
        expect(f, "{'Action': <'GetLineInfo'>, 'Line': <'led0'>, 'Chip': <'/dev/null'>}", "unknown-chip");
        expect(f, "{'Action': <'GetLineInfo'>, 'Line': <@u 3>}", "invalid-argument");
        expect(f, "{'Action': <'GetLineInfo'>, 'Line': <3>, 'Chip': <'gpiochip0'>}", "invalid-argument");
        expect(f, "{'Action': <'GetLineInfo'>, 'Line': <''>}", "invalid-argument");
        expect(f, "{'Action': <'GetLineInfo'>}", "invalid-argument");
}

/* A node that is no GPIO chip: the kernel refuses it, which is io, not unknown-chip. */
static void test_not_a_chip(Fixture *f, gconstpointer data) {
        g_autofree char *fake = g_build_filename(f->dev_dir, "gpiochip0", NULL);
        g_autoptr(GVariant) response = NULL;
        g_autoptr(GVariant) chips = NULL;

        g_assert_true(g_file_set_contents(fake, "", 0, NULL));
        expect(f, "{'Action': <'GetLineInfo'>, 'Line': <@u 0>, 'Chip': <'gpiochip0'>}", "io");
        /* Listed chips that cannot be opened are left out, with a warning. */
        g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "cannot open chip 'gpiochip0'*");
        response = send(f, "{'Action': <'ListChips'>}", NULL);
        g_test_assert_expected_messages();
        chips = g_variant_lookup_value(response, "Chips", G_VARIANT_TYPE("aa{sv}"));
        g_assert_cmpuint(g_variant_n_children(chips), ==, 0);
}

static void test_request_arguments(Fixture *f, gconstpointer data) {
        static const char *const invalid[] = {
                "{'Action': <'Request'>}",
                "{'Action': <'Request'>, 'Lines': <@au []>, 'Chip': <'gpiochip0'>}",
                "{'Action': <'Request'>, 'Lines': <@ai [1]>, 'Chip': <'gpiochip0'>}",
                "{'Action': <'Request'>, 'Lines': <@au [1, 1]>, 'Chip': <'gpiochip0'>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a', 'a']>}",
                "{'Action': <'Request'>, 'Lines': <@av [<'a'>, <1.5>]>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Chip': <@u 0>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Direction': <'sideways'>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Direction': <'as-is'>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Edge': <'up'>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Bias': <'pull-sideways'>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Drive': <'open-drain'>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Direction': <'output'>, 'Edge': <'both'>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'ActiveLow': <1>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'DebounceUs': <@u 10>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'DebounceUs': <@t 4294967296>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Values': <[1]>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Direction': <'output'>, 'Values': <[1, 0]>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Direction': <'output'>, 'Values': <[2]>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Direction': <'output'>, 'Values': <@au "
                "[1]>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Consumer': <''>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Consumer': "
                "<'0123456789abcdef0123456789abcdef'>}",
                "{'Action': <'Request'>, 'Lines': <@au [1]>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'EdgeBatch': <@u 1025>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'EdgeBatch': <@u 4294967295>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'EdgeBatch': <64>}",
                "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'EdgeBatch': <true>}",
        };

        for (gsize i = 0; i < G_N_ELEMENTS(invalid); i++)
                expect(f, invalid[i], "invalid-argument");
        /* Well-formed, but nothing has those lines. */
        expect(f,
               "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Direction': <'output'>, 'Values': <[1]>, "
               "'Drive': <'open-source'>, 'Bias': <'pull-up'>, 'ActiveLow': <true>, "
               "'Consumer': <'0123456789abcdef0123456789abcde'>}",
               "unknown-line");
        expect(f, "{'Action': <'Request'>, 'Lines': <@au [1]>, 'Chip': <'gpiochip0'>}", "unknown-chip");
        /* EdgeBatch from 0 (edge events, as without it) to 1024 is well-formed. */
        expect(f, "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Edge': <'both'>, 'EdgeBatch': <@u 0>}",
               "unknown-line");
        expect(f, "{'Action': <'Request'>, 'Lines': <@as ['a']>, 'Edge': <'both'>, 'EdgeBatch': <@u 1024>}",
               "unknown-line");
}

static void test_unknown_request(Fixture *f, gconstpointer data) {
        expect(f, "{'Action': <'Read'>, 'Request': <@u 1>}", "unknown-request");
        expect(f, "{'Action': <'Write'>, 'Request': <@u 1>, 'Values': <[1]>}", "unknown-request");
        expect(f, "{'Action': <'Reconfigure'>, 'Request': <@u 1>}", "unknown-request");
        expect(f, "{'Action': <'Release'>, 'Request': <@u 1>}", "unknown-request");
        expect(f, "{'Action': <'Release'>, 'Request': <1>}", "invalid-argument");
        expect(f, "{'Action': <'Read'>}", "invalid-argument");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
        ADD("/gpio/list-chips-empty", test_list_chips_empty);
        ADD("/gpio/actions", test_actions);
        ADD("/gpio/get-line-info", test_get_line_info);
        ADD("/gpio/not-a-chip", test_not_a_chip);
        ADD("/gpio/request-arguments", test_request_arguments);
        ADD("/gpio/unknown-request", test_unknown_request);

        return g_test_run();
}
