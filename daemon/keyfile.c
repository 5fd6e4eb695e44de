/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "keyfile.h"

/* GLib's g_ascii_isspace(): the set GKeyFile trims around keys and values. */
static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_control(unsigned char c) {
        return c < 0x20 || c == 0x7f;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_is_valid(const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s, *end = p + n;

        while (p < end) {
                unsigned char c = *p;
                size_t len;
                uint32_t cp, min;

                if (c < 0x80) {
                        p++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0) {
                        len = 2, cp = c & 0x1f, min = 0x80;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3, cp = c & 0x0f, min = 0x800;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4, cp = c & 0x07, min = 0x10000;
                } else
                        return false;

                if ((size_t) (end - p) < len)
                        return false;
                for (size_t i = 1; i < len; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                p += len;
        }
        return true;
}

KeyFile *keyfile_free(KeyFile *kf) {
        if (!kf)
                return NULL;
        for (size_t i = 0; i < kf->n_entries; i++) {
                free(kf->entries[i].group);
                free(kf->entries[i].key);
                free(kf->entries[i].value);
        }
        free(kf->entries);
        free(kf);
        return NULL;
}
DEFINE_CLEANUP(KeyFile, keyfile_free);

void keyfile_error_done(KeyFileError *e) {
        if (!e)
                return;
        free(e->key);
        free(e->message);
        *e = (KeyFileError) {};
}

const KeyFileEntry *keyfile_lookup(const KeyFile *kf, const char *group, const char *key) {
        if (!kf || !group || !key)
                return NULL;

        /* Backwards, so that the first match is the entry that wins. */
        for (size_t i = kf->n_entries; i > 0; i--) {
                const KeyFileEntry *e = &kf->entries[i - 1];

                if (strcmp(e->key, key) == 0 && strcmp(e->group, group) == 0)
                        return e;
        }
        return NULL;
}

/* Fills *ret_error (when the caller wants one) and returns -EBADMSG, or -ENOMEM when even the
 * error cannot be built: a caller must never mistake a half-filled error for a syntax error. */
static int fail(KeyFileError *ret_error, unsigned line, const char *key, const char *format, ...)
        __attribute__((format(printf, 4, 5)));
static int fail(KeyFileError *ret_error, unsigned line, const char *key, const char *format, ...) {
        _cleanup_(freep) char *message = NULL, *k = NULL;
        va_list ap;
        int r;

        if (!ret_error)
                return -EBADMSG;

        va_start(ap, format);
        r = vasprintf(&message, format, ap);
        va_end(ap);
        if (r < 0) {
                message = NULL;
                return -ENOMEM;
        }
        if (key) {
                k = strdup(key);
                if (!k)
                        return -ENOMEM;
        }

        *ret_error = (KeyFileError) {
                .line = line,
                .key = TAKE_PTR(k),
                .message = TAKE_PTR(message),
        };
        return -EBADMSG;
}

/* GLib's rule (g_key_file_is_group_name()): non-empty, no brackets, no control characters. */
static bool group_name_is_valid(const char *s, size_t n) {
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] == '[' || s[i] == ']' || is_control((unsigned char) s[i]))
                        return false;
        return true;
}

static bool locale_char_is_valid(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.' || c == '@';
}

/* GLib's rule (g_key_file_is_key_name()): a non-empty name without '=', '[' or ']' and without
 * blanks at either end, optionally followed by one "[locale]". Control characters are refused too,
 * since the name ends up in log lines. */
static bool key_name_is_valid(const char *s, size_t n) {
        size_t i = 0;

        while (i < n && s[i] != '[' && s[i] != ']' && s[i] != '=') {
                if (is_control((unsigned char) s[i]))
                        return false;
                i++;
        }
        if (i == 0 || s[0] == ' ' || s[i - 1] == ' ')
                return false;
        if (i == n)
                return true;
        if (s[i] != '[')
                return false;

        i++;
        if (i >= n || s[i] == ']')
                return false;
        while (i < n && locale_char_is_valid(s[i]))
                i++;
        return i == n - 1 && s[i] == ']';
}

static bool has_control(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (is_control((unsigned char) s[i]))
                        return true;
        return false;
}

/* Undoes the key-file value escapes. On a bad escape returns -EBADMSG with a sentence in
 * *ret_reason (a static string). */
static int unescape_value(const char *s, size_t n, char **ret, const char **ret_reason) {
        _cleanup_(freep) char *buf = NULL;
        char *q;

        buf = malloc(n + 1);
        if (!buf)
                return -ENOMEM;

        q = buf;
        for (size_t i = 0; i < n; i++) {
                if (s[i] != '\\') {
                        *q++ = s[i];
                        continue;
                }
                if (++i >= n) {
                        *ret_reason = "value ends with a lone backslash";
                        return -EBADMSG;
                }
                switch (s[i]) {
                case 's':  *q++ = ' ';  break;
                case 'n':  *q++ = '\n'; break;
                case 't':  *q++ = '\t'; break;
                case 'r':  *q++ = '\r'; break;
                case '\\': *q++ = '\\'; break;
                default:
                        *ret_reason = "value contains an invalid escape sequence "
                                      "(only \\s \\n \\t \\r and \\\\ are allowed)";
                        return -EBADMSG;
                }
        }
        *q = '\0';

        *ret = TAKE_PTR(buf);
        return 0;
}

/* Takes over key and value on success. */
static int add_entry(KeyFile *kf, size_t *allocated, const char *group, char *key, char *value, unsigned line) {
        char *g;

        if (kf->n_entries >= *allocated) {
                size_t n = *allocated ? *allocated * 2 : 16;
                KeyFileEntry *e = reallocarray(kf->entries, n, sizeof(KeyFileEntry));

                if (!e)
                        return -ENOMEM;
                kf->entries = e;
                *allocated = n;
        }

        g = strdup(group);
        if (!g)
                return -ENOMEM;

        kf->entries[kf->n_entries++] = (KeyFileEntry) {
                .group = g,
                .key = key,
                .value = value,
                .line = line,
        };
        return 0;
}

static int parse_group(const char *s, size_t n, unsigned line, char **group, KeyFileError *ret_error) {
        const char *close;
        char *g;

        /* s[0] is '['. Like GLib, the name ends at the first ']' and only blanks may follow. */
        close = memchr(s, ']', n);
        if (!close)
                return fail(ret_error, line, NULL, "section header is missing its closing ']'");
        for (const char *p = close + 1; p < s + n; p++)
                if (!is_space(*p))
                        return fail(ret_error, line, NULL, "unexpected text after the section header");
        if (!group_name_is_valid(s + 1, close - s - 1))
                return fail(ret_error, line, NULL,
                            "section name must be non-empty and contain no brackets or control characters");

        g = strndup(s + 1, close - s - 1);
        if (!g)
                return -ENOMEM;
        free(*group);
        *group = g;
        return 0;
}

static int parse_key_value(KeyFile *kf, size_t *allocated, const char *group, const char *s, size_t n,
                           unsigned line, KeyFileError *ret_error) {
        _cleanup_(freep) char *value = NULL, *key = NULL;
        const char *eq, *reason = NULL;
        size_t key_len, v;
        int r;

        eq = memchr(s, '=', n);
        if (!eq)
                return fail(ret_error, line, NULL,
                            "line is not a key=value pair, a [section] header or a comment");

        key_len = eq - s;
        while (key_len > 0 && is_space(s[key_len - 1]))
                key_len--;
        if (key_len == 0)
                return fail(ret_error, line, NULL, "key name is empty");
        if (!key_name_is_valid(s, key_len)) {
                if (has_control(s, key_len))
                        return fail(ret_error, line, NULL, "key name contains a control character");
                return fail(ret_error, line, NULL, "'%.*s' is not a valid key name", (int) key_len, s);
        }
        /* From here on the name is sound, so errors can name it. */
        key = strndup(s, key_len);
        if (!key)
                return -ENOMEM;
        if (!group)
                return fail(ret_error, line, key, "key stands before any [section] header");

        v = eq - s + 1;
        while (v < n && is_space(s[v]))
                v++;

        r = unescape_value(s + v, n - v, &value, &reason);
        if (r == -EBADMSG)
                return fail(ret_error, line, key, "%s", reason);
        if (r < 0)
                return r;

        r = add_entry(kf, allocated, group, key, value, line);
        if (r < 0)
                return r;
        TAKE_PTR(key);
        TAKE_PTR(value);
        return 0;
}

static int parse_line(KeyFile *kf, size_t *allocated, char **group, const char *s, size_t n, unsigned line,
                      KeyFileError *ret_error) {
        if (memchr(s, '\0', n))
                return fail(ret_error, line, NULL, "line contains a NUL byte");
        if (!utf8_is_valid(s, n))
                return fail(ret_error, line, NULL, "line is not valid UTF-8");

        while (n > 0 && is_space(*s))
                s++, n--;

        if (n == 0 || s[0] == '#')
                return 0;
        if (s[0] == '[')
                return parse_group(s, n, line, group, ret_error);
        return parse_key_value(kf, allocated, *group, s, n, line, ret_error);
}

int keyfile_parse(const char *text, size_t size, KeyFile **ret, KeyFileError *ret_error) {
        _cleanup_(keyfile_freep) KeyFile *kf = NULL;
        _cleanup_(freep) char *group = NULL;
        size_t allocated = 0, pos = 0;
        unsigned line = 0;
        int r;

        if (!ret || (!text && size > 0))
                return -EINVAL;

        kf = calloc(1, sizeof(KeyFile));
        if (!kf)
                return -ENOMEM;

        while (pos < size) {
                const char *start = text + pos, *nl;
                size_t len;

                nl = memchr(start, '\n', size - pos);
                len = nl ? (size_t) (nl - start) : size - pos;
                pos += len + (nl ? 1 : 0);

                if (line == UINT_MAX)
                        return fail(ret_error, line, NULL, "file has too many lines");
                line++;

                /* A CRLF line ending counts as LF, as in GLib. */
                if (nl && len > 0 && start[len - 1] == '\r')
                        len--;

                r = parse_line(kf, &allocated, &group, start, len, line, ret_error);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(kf);
        return 0;
}
