/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "cleanup.h"
#include "definition.h"
#include "unit-test.h"

/* Splits `line` and compares with the NULL-terminated `expected`. */
static void assert_split(const char *line, const char *const *expected) {
        _cleanup_(strv_freep) char **argv = NULL;
        size_t n = 0;
        int r;

        r = shell_split(line, &argv);
        g_assert_cmpint(r, ==, 0);
        ASSERT_OR_RETURN(argv);

        for (; expected[n]; n++) {
                ASSERT_OR_RETURN(argv[n]);
                g_assert_cmpstr(argv[n], ==, expected[n]);
        }
        g_assert_null(argv[n]);
}

#define SPLIT(line, ...) assert_split((line), (const char *const[]) { __VA_ARGS__, NULL })

static void assert_split_fails(const char *line, int error) {
        char *untouched[] = { NULL };
        char **argv = untouched;

        g_assert_cmpint(shell_split(line, &argv), ==, error);
        /* Nothing is handed over on failure. */
        g_assert_true(argv == untouched);
}

static void test_blanks(void) {
        SPLIT("a b  c", "a", "b", "c");
        SPLIT("   lead trail   ", "lead", "trail");
        SPLIT("tab\tnew\nline", "tab", "new", "line");
        SPLIT("/usr/libexec/echo-provider --verbose", "/usr/libexec/echo-provider", "--verbose");
        SPLIT("one", "one");
}

static void test_single_quotes(void) {
        SPLIT("'a b' c", "a b", "c");
        SPLIT("'a\\nb'", "a\\nb");                  /* no escapes inside '…' */
        SPLIT("'\"'", "\"");
        SPLIT("'it'\\''s'", "it's");
        SPLIT("'$HOME' '`x`'", "$HOME", "`x`");
}

static void test_double_quotes(void) {
        SPLIT("\"a b\" c", "a b", "c");
        SPLIT("\"a\\\"b\"", "a\"b");
        SPLIT("\"\\$x \\` \\\\\"", "$x ` \\");
        SPLIT("\"\\n\\a\"", "\\n\\a");             /* backslash stays before other characters */
        SPLIT("\"it's\"", "it's");
        SPLIT("\"a\\\nb\"", "ab");                  /* backslash-newline vanishes */
}

static void test_concatenation(void) {
        SPLIT("a'b'\"c\"d", "abcd");
        SPLIT("--opt=\"x y\"", "--opt=x y");
        SPLIT("'a'\"b\" c''d", "ab", "cd");
}

static void test_empty_words(void) {
        SPLIT("''", "");
        SPLIT("a '' b", "a", "", "b");
        SPLIT("a \"\" b", "a", "", "b");
}

static void test_backslash(void) {
        SPLIT("a\\ b", "a b");
        SPLIT("\\'x\\'", "'x'");
        SPLIT("\\\\", "\\");
        SPLIT("\\a\\b", "ab");
        SPLIT("a\\\nb", "ab");
        SPLIT("a \\\n b", "a", "b");
        SPLIT("\\\n a", "a");
}

static void test_no_expansion(void) {
        SPLIT("$HOME ~ *.c ${x}", "$HOME", "~", "*.c", "${x}");
        SPLIT("a;b | c && d > e", "a;b", "|", "c", "&&", "d", ">", "e");
        SPLIT("# not a comment", "#", "not", "a", "comment");
        SPLIT("grüße 'x y'", "grüße", "x y");
}

static void test_errors(void) {
        assert_split_fails("'abc", -EINVAL);
        assert_split_fails("a 'b", -EINVAL);
        assert_split_fails("\"abc", -EINVAL);
        assert_split_fails("\"abc\\\"", -EINVAL);   /* the escaped quote does not close */
        assert_split_fails("abc\\", -EINVAL);
        assert_split_fails("\"\\", -EINVAL);
        assert_split_fails("'", -EINVAL);
        assert_split_fails("", -ENOEXEC);
        assert_split_fails("   \t\n ", -ENOEXEC);
        assert_split_fails("\\\n", -ENOEXEC);
        assert_split_fails(NULL, -EINVAL);
}

int main(int argc, char *argv[]) {
        unit_test_init(&argc, &argv);

        g_test_add_func("/shell-split/blanks", test_blanks);
        g_test_add_func("/shell-split/single-quotes", test_single_quotes);
        g_test_add_func("/shell-split/double-quotes", test_double_quotes);
        g_test_add_func("/shell-split/concatenation", test_concatenation);
        g_test_add_func("/shell-split/empty-words", test_empty_words);
        g_test_add_func("/shell-split/backslash", test_backslash);
        g_test_add_func("/shell-split/no-expansion", test_no_expansion);
        g_test_add_func("/shell-split/errors", test_errors);

        return g_test_run();
}
