/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "keyfile.h"
#include "unit-test.h"

DEFINE_CLEANUP(KeyFile, keyfile_free);

static KeyFile *parse_ok(const char *text) {
        KeyFileError error = {};
        KeyFile *kf = NULL;
        int r;

        r = keyfile_parse(text, strlen(text), &kf, &error);
        if (r < 0)
                g_test_message("unexpected error at line %u: %s", error.line, error.message);
        g_assert_cmpint(r, ==, 0);
        g_assert_null(error.message);
        keyfile_error_done(&error);
        return kf;
}

static void assert_entry(const KeyFile *kf, size_t i, const char *group, const char *key, const char *value,
                         unsigned line) {
        ASSERT_OR_RETURN(i < kf->n_entries);
        g_assert_cmpstr(kf->entries[i].group, ==, group);
        g_assert_cmpstr(kf->entries[i].key, ==, key);
        g_assert_cmpstr(kf->entries[i].value, ==, value);
        g_assert_cmpuint(kf->entries[i].line, ==, line);
}

static void assert_value(const KeyFile *kf, const char *group, const char *key, const char *value,
                         unsigned line) {
        const KeyFileEntry *e = keyfile_lookup(kf, group, key);

        ASSERT_OR_RETURN(e);
        g_assert_cmpstr(e->value, ==, value);
        g_assert_cmpuint(e->line, ==, line);
}

/* Parses text of `size` bytes, which must fail at `line` naming `key` (or no key). */
static void assert_fails_n(const char *text, size_t size, unsigned line, const char *key) {
        KeyFileError error = {};
        KeyFile *kf = NULL;
        int r;

        r = keyfile_parse(text, size, &kf, &error);
        g_assert_cmpint(r, ==, -EBADMSG);
        g_assert_null(kf);
        g_assert_cmpuint(error.line, ==, line);
        g_assert_cmpstr(error.key, ==, key);
        g_assert_nonnull(error.message);
        g_assert_cmpuint(strlen(error.message), >, 10);
        g_test_message("line %u: %s", error.line, error.message);
        keyfile_error_done(&error);
        g_assert_null(error.message);

        /* Callers that do not want the details still get the verdict. */
        g_assert_cmpint(keyfile_parse(text, size, &kf, NULL), ==, -EBADMSG);
        g_assert_null(kf);
}

static void assert_fails(const char *text, unsigned line, const char *key) {
        assert_fails_n(text, strlen(text), line, key);
}

static void test_good_file(void) {
        _cleanup_(keyfile_freep) KeyFile *kf = NULL;

        kf = parse_ok("# A comment\n"
                      "\n"
                      "[App Service]\n"
                      "Name=com.example.echo\n"
                      "   # an indented comment\n"
                      "Description=Echoes # not a comment\n"
                      "\t\n"
                      "[Properties]\n"
                      "greeting=hello=world\n"
                      "empty=\n"
                      "   [Secrets]   \n"
                      "api-key=abc\n");
        ASSERT_OR_RETURN(kf);
        g_assert_cmpuint(kf->n_entries, ==, 5);
        assert_entry(kf, 0, "App Service", "Name", "com.example.echo", 4);
        assert_entry(kf, 1, "App Service", "Description", "Echoes # not a comment", 6);
        assert_entry(kf, 2, "Properties", "greeting", "hello=world", 9);
        assert_entry(kf, 3, "Properties", "empty", "", 10);
        assert_entry(kf, 4, "Secrets", "api-key", "abc", 12);

        assert_value(kf, "App Service", "Name", "com.example.echo", 4);
        g_assert_null(keyfile_lookup(kf, "App Service", "Missing"));
        g_assert_null(keyfile_lookup(kf, "Properties", "Name"));
        g_assert_null(keyfile_lookup(kf, "Nope", "Name"));
        g_assert_null(keyfile_lookup(NULL, "App Service", "Name"));
}

static void test_escapes(void) {
        _cleanup_(keyfile_freep) KeyFile *kf = NULL;

        kf = parse_ok("[G]\n"
                      "space=\\sleading\n"
                      "controls=a\\nb\\tc\\rd\n"
                      "backslash=C:\\\\dir\\\\\n"
                      "mixed=\\\\s\n");
        ASSERT_OR_RETURN(kf);
        assert_value(kf, "G", "space", " leading", 2);
        assert_value(kf, "G", "controls", "a\nb\tc\rd", 3);
        assert_value(kf, "G", "backslash", "C:\\dir\\", 4);
        assert_value(kf, "G", "mixed", "\\s", 5);
}

static void test_repeated_keys(void) {
        _cleanup_(keyfile_freep) KeyFile *kf = NULL;

        kf = parse_ok("[A]\n"
                      "k=1\n"
                      "k=2\n"
                      "[B]\n"
                      "k=other\n"
                      "[A]\n"
                      "k=3\n"
                      "j=x\n");
        ASSERT_OR_RETURN(kf);
        /* Every occurrence is kept, in file order; the last one wins. */
        g_assert_cmpuint(kf->n_entries, ==, 5);
        assert_entry(kf, 0, "A", "k", "1", 2);
        assert_entry(kf, 1, "A", "k", "2", 3);
        assert_entry(kf, 3, "A", "k", "3", 7);
        assert_value(kf, "A", "k", "3", 7);
        assert_value(kf, "B", "k", "other", 5);
        assert_value(kf, "A", "j", "x", 8);
}

static void test_whitespace(void) {
        _cleanup_(keyfile_freep) KeyFile *kf = NULL;

        kf = parse_ok("  \t[G]\n"
                      "  Key  =   value  \n"
                      "Two Words\t=\tx\n"
                      "crlf=y\r\n"
                      "\r\n"
                      "tight=z\n"
                      "last=no newline");
        ASSERT_OR_RETURN(kf);
        /* Blanks around the key and before the value go; those after the value stay (GLib). */
        assert_value(kf, "G", "Key", "value  ", 2);
        assert_value(kf, "G", "Two Words", "x", 3);
        assert_value(kf, "G", "crlf", "y", 4);
        assert_value(kf, "G", "tight", "z", 6);
        assert_value(kf, "G", "last", "no newline", 7);
}

static void test_locale_keys(void) {
        _cleanup_(keyfile_freep) KeyFile *kf = NULL;

        kf = parse_ok("[G]\n"
                      "Description=Echo\n"
                      "Description[de]=Echo auf Deutsch\n"
                      "Description[sr@latin]=x\n"
                      "Description[pt_BR.UTF-8]=y\n");
        ASSERT_OR_RETURN(kf);
        g_assert_cmpuint(kf->n_entries, ==, 4);
        assert_value(kf, "G", "Description", "Echo", 2);
        assert_value(kf, "G", "Description[de]", "Echo auf Deutsch", 3);
        assert_value(kf, "G", "Description[sr@latin]", "x", 4);
        assert_value(kf, "G", "Description[pt_BR.UTF-8]", "y", 5);
}

static void test_utf8(void) {
        _cleanup_(keyfile_freep) KeyFile *kf = NULL;

        kf = parse_ok("[Grüße]\n"
                      "# ein Kommentar: ÄÖÜ\n"
                      "schlüssel=wert 😀 \xe2\x82\xac\n");
        ASSERT_OR_RETURN(kf);
        assert_value(kf, "Grüße", "schlüssel", "wert 😀 €", 3);
}

static void test_empty(void) {
        _cleanup_(keyfile_freep) KeyFile *a = NULL, *b = NULL, *c = NULL;
        KeyFile *d = NULL;

        a = parse_ok("");
        ASSERT_OR_RETURN(a);
        g_assert_cmpuint(a->n_entries, ==, 0);

        b = parse_ok("# only\n\n   # comments\n");
        ASSERT_OR_RETURN(b);
        g_assert_cmpuint(b->n_entries, ==, 0);

        c = parse_ok("[Empty Group]\n");
        ASSERT_OR_RETURN(c);
        g_assert_cmpuint(c->n_entries, ==, 0);

        g_assert_cmpint(keyfile_parse(NULL, 0, &d, NULL), ==, 0);
        g_assert_nonnull(d);
        keyfile_free(d);
        g_assert_null(keyfile_free(NULL));
}

static void test_long_lines(void) {
        _cleanup_(keyfile_freep) KeyFile *kf = NULL;
        g_autofree char *value = g_strnfill(512 * 1024, 'v');
        g_autofree char *text = g_strdup_printf("[G]\nk=%s\nafter=1\n", value);
        g_autofree char *garbage = g_strdup_printf("[G]\n%s\n", value);

        kf = parse_ok(text);
        ASSERT_OR_RETURN(kf);
        assert_value(kf, "G", "k", value, 2);
        assert_value(kf, "G", "after", "1", 3);

        assert_fails(garbage, 2, NULL);
}

static void test_garbage_line(void) {
        assert_fails("[G]\nk=v\nthis is not a key\n", 3, NULL);
        assert_fails("[G]\n\n\n# c\n\ngarbage\n", 6, NULL);
        assert_fails("[G]\r\n\r\nk=v\r\n???\r\n", 4, NULL);
}

static void test_key_before_group(void) {
        assert_fails("# header comment\nk=v\n[G]\n", 2, "k");
        assert_fails("k=v", 1, "k");
}

static void test_bad_escapes(void) {
        assert_fails("[G]\nok=1\nk=a\\qb\n", 3, "k");
        assert_fails("[G]\nk=\\x41\n", 2, "k");
        assert_fails("[G]\nk=\\;\n", 2, "k");
        assert_fails("[G]\nDescription[de]=\\e\n", 2, "Description[de]");
        assert_fails("[G]\n  spaced key  = \\z\n", 2, "spaced key");
}

static void test_trailing_backslash(void) {
        assert_fails("[G]\nk=abc\\\n", 2, "k");
        assert_fails("[G]\nk=abc\\", 2, "k");
        assert_fails("[G]\nk=\\\\\\\n", 2, "k");
}

static void test_bad_groups(void) {
        assert_fails("[G]\nk=v\n[Unterminated\nj=w\n", 3, NULL);
        assert_fails("[Unterminated=1\n", 1, NULL);
        assert_fails("[]\nk=v\n", 1, NULL);
        assert_fails("[G] trailing\n", 1, NULL);
        assert_fails("[G]]\n", 1, NULL);
        assert_fails("[a[b]\n", 1, NULL);
        assert_fails("[tab\there]\n", 1, NULL);
        assert_fails("[G]=x\n", 1, NULL);
}

static void test_bad_keys(void) {
        assert_fails("[G]\n=value\n", 2, NULL);
        assert_fails("[G]\n   =value\n", 2, NULL);
        assert_fails("[G]\nk]=v\n", 2, NULL);
        assert_fails("[G]\nk[=v\n", 2, NULL);
        assert_fails("[G]\nk[]=v\n", 2, NULL);
        assert_fails("[G]\nk[de]x=v\n", 2, NULL);
        assert_fails("[G]\nk[d e]=v\n", 2, NULL);
        assert_fails("[G]\nk[de][fr]=v\n", 2, NULL);
        assert_fails("[G]\nctl\x01key=v\n", 2, NULL);
}

static void test_nul_byte(void) {
        static const char text[] = "[G]\nk=a\0b\nj=c\n";
        static const char in_comment[] = "[G]\n# x\0y\n";

        assert_fails_n(text, sizeof(text) - 1, 2, NULL);
        assert_fails_n(in_comment, sizeof(in_comment) - 1, 2, NULL);
}

static void test_invalid_utf8(void) {
        assert_fails("[G]\nk=\xff\n", 2, NULL);
        assert_fails("[G]\n# comment \xc3\x28\n", 2, NULL);
        assert_fails("[G]\nk=\xc0\xaf\n", 2, NULL);               /* overlong '/' */
        assert_fails("[G]\nk=\xed\xa0\x80\n", 2, NULL);           /* surrogate */
        assert_fails("[G]\nk=\xf4\x90\x80\x80\n", 2, NULL);       /* above U+10FFFF */
        assert_fails("[G]\nk=v\nj=\xe2\x82", 3, NULL);            /* cut off at the end */
        assert_fails("[Gr\xfc\xdf""e]\n", 1, NULL);               /* Latin-1, not UTF-8 */
}

int main(int argc, char *argv[]) {
        unit_test_init(&argc, &argv);

        g_test_add_func("/keyfile/good-file", test_good_file);
        g_test_add_func("/keyfile/escapes", test_escapes);
        g_test_add_func("/keyfile/repeated-keys", test_repeated_keys);
        g_test_add_func("/keyfile/whitespace", test_whitespace);
        g_test_add_func("/keyfile/locale-keys", test_locale_keys);
        g_test_add_func("/keyfile/utf8", test_utf8);
        g_test_add_func("/keyfile/empty", test_empty);
        g_test_add_func("/keyfile/long-lines", test_long_lines);
        g_test_add_func("/keyfile/hostile/garbage-line", test_garbage_line);
        g_test_add_func("/keyfile/hostile/key-before-group", test_key_before_group);
        g_test_add_func("/keyfile/hostile/bad-escapes", test_bad_escapes);
        g_test_add_func("/keyfile/hostile/trailing-backslash", test_trailing_backslash);
        g_test_add_func("/keyfile/hostile/bad-groups", test_bad_groups);
        g_test_add_func("/keyfile/hostile/bad-keys", test_bad_keys);
        g_test_add_func("/keyfile/hostile/nul-byte", test_nul_byte);
        g_test_add_func("/keyfile/hostile/invalid-utf8", test_invalid_utf8);

        return g_test_run();
}
