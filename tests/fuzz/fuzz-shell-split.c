/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* shell_split(): Exec= command lines. Whatever it splits, quoted back word by word and split
 * again, gives the same words. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "definition.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each word in '…', a ' inside as '\'' (the shell's way). */
static char *quote_words(char **argv) {
        size_t n = 1;
        char *s, *p;

        for (char **a = argv; *a; a++)
                n += strlen(*a) * 4 + 3;
        s = p = malloc(n);
        if (!s)
                abort();
        for (char **a = argv; *a; a++) {
                *p++ = '\'';
                for (const char *c = *a; *c; c++) {
                        if (*c == '\'') {
                                memcpy(p, "'\\''", 4);
                                p += 4;
                        } else
                                *p++ = *c;
                }
                *p++ = '\'';
                *p++ = ' ';
        }
        *p = '\0';
        return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(strv_freep) char **argv = NULL, **again = NULL;
        _cleanup_(freep) char *line = NULL, *quoted = NULL;
        size_t i;
        int r;

        line = strndup((const char *) data, size);
        if (!line)
                return 0;

        r = shell_split(line, &argv);
        if (r < 0) {
                if (r != -EINVAL && r != -ENOEXEC)
                        abort();
                return 0;
        }
        if (!argv || !argv[0])
                abort();
        for (char **a = argv; *a; a++)
                if (strlen(*a) > strlen(line))
                        abort();

        quoted = quote_words(argv);
        r = shell_split(quoted, &again);
        /* An empty word quoted is '' and stays a word. */
        if (r < 0)
                abort();
        for (i = 0; argv[i] && again[i]; i++)
                if (strcmp(argv[i], again[i]) != 0)
                        abort();
        if (argv[i] || again[i])
                abort();
        return 0;
}
