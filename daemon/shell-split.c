/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "definition.h"

/* Only quoting and word splitting, as the shell does them before any expansion: no shell runs the
 * result, so '$', '*', '~', ';', '|' and friends are ordinary characters and reach the program. */

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\n';
}

static bool is_line_continuation(const char *p) {
        return p[0] == '\\' && p[1] == '\n';
}

/* Reads one word starting at *p (not a blank) into buf; advances *p past it. */
static int read_word(const char **p, char *buf) {
        const char *s = *p;
        char *q = buf;

        while (*s && !is_blank(*s)) {
                if (*s == '\\') {
                        s++;
                        if (!*s)
                                return -EINVAL;
                        if (*s != '\n')
                                *q++ = *s;
                        s++;
                } else if (*s == '\'') {
                        const char *end = strchr(s + 1, '\'');

                        if (!end)
                                return -EINVAL;
                        memcpy(q, s + 1, end - s - 1);
                        q += end - s - 1;
                        s = end + 1;
                } else if (*s == '"') {
                        for (s++; *s != '"'; ) {
                                if (!*s)
                                        return -EINVAL;
                                /* Inside "…" a backslash is special only before these. */
                                if (s[0] == '\\' && s[1] && strchr("$`\"\\\n", s[1])) {
                                        if (s[1] != '\n')
                                                *q++ = s[1];
                                        s += 2;
                                } else
                                        *q++ = *s++;
                        }
                        s++;
                } else
                        *q++ = *s++;
        }

        *q = '\0';
        *p = s;
        return 0;
}

static int strv_push(char ***l, size_t *n, char *s) {
        char **t = reallocarray(*l, *n + 2, sizeof(char *));

        if (!t)
                return -ENOMEM;
        t[(*n)++] = s;
        t[*n] = NULL;
        *l = t;
        return 0;
}

int shell_split(const char *line, char ***ret_argv) {
        _cleanup_(strv_freep) char **argv = NULL;
        _cleanup_(freep) char *buf = NULL;
        const char *p = line;
        size_t n = 0;
        int r;

        if (!line || !ret_argv)
                return -EINVAL;

        /* No word is longer than the line it comes from. */
        buf = malloc(strlen(line) + 1);
        if (!buf)
                return -ENOMEM;

        for (;;) {
                char *word;

                while (is_blank(*p) || is_line_continuation(p))
                        p += is_blank(*p) ? 1 : 2;
                if (!*p)
                        break;

                r = read_word(&p, buf);
                if (r < 0)
                        return r;

                word = strdup(buf);
                if (!word)
                        return -ENOMEM;
                r = strv_push(&argv, &n, word);
                if (r < 0) {
                        free(word);
                        return r;
                }
        }

        if (n == 0)
                return -ENOEXEC;

        *ret_argv = TAKE_PTR(argv);
        return 0;
}
