/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>
#include <systemd/sd-bus.h>

#include "cleanup.h"
#include "definition.h"
#include "errors.h"
#include "unit-test.h"

/* The contract names each service object /io/appservice1/service/<label>, the label being what
 * sd_bus_path_encode() makes of the service name. Clients compute these paths themselves (busctl
 * one-liners, other languages), so the exact bytes are part of the API. */

static void assert_encodes(const char *name, const char *expected) {
        _cleanup_(freep) char *path = NULL, *decoded = NULL;

        g_assert_true(definition_name_is_valid(name));
        g_assert_cmpint(sd_bus_path_encode(APPSERVICE_SERVICE_PREFIX, name, &path), >=, 0);
        ASSERT_OR_RETURN(path);
        g_assert_cmpstr(path, ==, expected);
        g_assert_true(sd_bus_object_path_is_valid(path));

        g_assert_cmpint(sd_bus_path_decode(path, APPSERVICE_SERVICE_PREFIX, &decoded), >, 0);
        g_assert_cmpstr(decoded, ==, name);
}

static void test_known_paths(void) {
        g_assert_cmpstr(APPSERVICE_SERVICE_PREFIX, ==, "/io/appservice1/service");

        assert_encodes("com.example.echo", "/io/appservice1/service/com_2eexample_2eecho");
        assert_encodes("org.example.my-app", "/io/appservice1/service/org_2eexample_2emy_2dapp");
        assert_encodes("under_score", "/io/appservice1/service/under_5fscore");
        assert_encodes("Mixed.Case9", "/io/appservice1/service/Mixed_2eCase9");
        /* A leading digit is escaped too: object path elements may start with one, but
         * sd-bus escapes it anyway, and clients must match that. */
        assert_encodes("9lives", "/io/appservice1/service/_39lives");
        assert_encodes("-x", "/io/appservice1/service/_2dx");
}

static void test_round_trip(void) {
        static const char chars[] = "abcXYZ0189.-_";
        char name[8];

        /* Every two- and three-character name over the allowed alphabet. */
        for (size_t len = 2; len <= 3; len++)
                for (size_t i = 0; i < strlen(chars) * strlen(chars) * strlen(chars); i++) {
                        _cleanup_(freep) char *path = NULL, *decoded = NULL;
                        size_t k = i;

                        for (size_t j = 0; j < len; j++, k /= strlen(chars))
                                name[j] = chars[k % strlen(chars)];
                        name[len] = '\0';
                        if (!definition_name_is_valid(name))
                                continue;

                        g_assert_cmpint(sd_bus_path_encode(APPSERVICE_SERVICE_PREFIX, name, &path), >=, 0);
                        ASSERT_OR_RETURN(path);
                        g_assert_true(sd_bus_object_path_is_valid(path));
                        g_assert_cmpint(sd_bus_path_decode(path, APPSERVICE_SERVICE_PREFIX, &decoded), >, 0);
                        g_assert_cmpstr(decoded, ==, name);
                }
}

static void test_longest_name(void) {
        _cleanup_(freep) char *path = NULL, *decoded = NULL;
        char name[256];

        memset(name, 'a', 255);
        name[1] = '.';
        name[255] = '\0';
        g_assert_true(definition_name_is_valid(name));

        g_assert_cmpint(sd_bus_path_encode(APPSERVICE_SERVICE_PREFIX, name, &path), >=, 0);
        ASSERT_OR_RETURN(path);
        g_assert_true(sd_bus_object_path_is_valid(path));
        g_assert_cmpint(sd_bus_path_decode(path, APPSERVICE_SERVICE_PREFIX, &decoded), >, 0);
        g_assert_cmpstr(decoded, ==, name);
}

static void test_foreign_paths(void) {
        _cleanup_(freep) char *decoded = NULL;

        /* A path outside the prefix does not decode at all. */
        g_assert_cmpint(sd_bus_path_decode("/io/appservice1/connection/1", APPSERVICE_SERVICE_PREFIX, &decoded), ==, 0);
        g_assert_null(decoded);

        /* sd-bus hands back "a/b" for a path two levels down, and "" for the prefix itself: whoever
         * maps paths to services must check the result like any other name, and that check
         * refuses both. */
        g_assert_cmpint(sd_bus_path_decode("/io/appservice1/service", APPSERVICE_SERVICE_PREFIX, &decoded), >=, 0);
        if (decoded)
                g_assert_false(definition_name_is_valid(decoded));
        g_clear_pointer(&decoded, free);
        g_assert_cmpint(sd_bus_path_decode("/io/appservice1/service/a/b", APPSERVICE_SERVICE_PREFIX, &decoded), >=, 0);
        if (decoded)
                g_assert_false(definition_name_is_valid(decoded));
}

int main(int argc, char *argv[]) {
        unit_test_init(&argc, &argv);

        g_test_add_func("/path/known", test_known_paths);
        g_test_add_func("/path/round-trip", test_round_trip);
        g_test_add_func("/path/longest-name", test_longest_name);
        g_test_add_func("/path/foreign", test_foreign_paths);

        return g_test_run();
}
