/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool plain;

static const char *const level_names[] = {
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

void log_set_max_level(int level) {
        max_level = level;
}

void log_set_plain(bool p) {
        plain = p;
}

bool log_stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        int n = 0;

        if (!e || sscanf(e, "%llu:%llu%n", &dev, &ino, &n) != 2 || e[n] != '\0')
                return false;
        return fstat(STDERR_FILENO, &st) == 0 && (unsigned long long) st.st_dev == dev &&
               (unsigned long long) st.st_ino == ino;
}

void log_setup(void) {
        plain = !log_stderr_is_journal() && isatty(STDERR_FILENO);
}

/* The word before a plain line: none for notice and info. */
static const char *plain_prefix(int level) {
        if (level <= LOG_ERR)
                return "error: ";
        if (level == LOG_WARNING)
                return "warning: ";
        if (level == LOG_DEBUG)
                return "debug: ";
        return "";
}

int log_get_max_level(void) {
        return max_level;
}

int log_level_from_string(const char *s) {
        char *end;
        long l;

        if (!s || !*s)
                return -EINVAL;
        for (int i = 0; i <= LOG_DEBUG; i++)
                if (strcasecmp(s, level_names[i]) == 0)
                        return i;
        if (strcasecmp(s, "error") == 0)
                return LOG_ERR;

        errno = 0;
        l = strtol(s, &end, 10);
        if (errno != 0 || *end || l < 0 || l > LOG_DEBUG)
                return -EINVAL;
        return (int) l;
}

int log_full_errno(int level, int error, const char *format, ...) {
        int saved_errno = errno;
        va_list ap;

        error = error < 0 ? -error : error;
        if (level <= max_level) {
                /* One fprintf per line keeps lines whole when providers write to the same stderr. */
                char buf[2048], *line = buf, *big = NULL;
                int n;

                va_start(ap, format);
                errno = error;  /* lets callers use %m */
                n = vsnprintf(buf, sizeof buf, format, ap);
                va_end(ap);
                /* Long lines (a provider's Service.Log text) are kept whole. */
                if (n >= (int) sizeof buf && (big = malloc((size_t) n + 1))) {
                        va_start(ap, format);
                        errno = error;
                        vsnprintf(big, (size_t) n + 1, format, ap);
                        va_end(ap);
                        line = big;
                }
                if (plain)
                        fprintf(stderr, "%s%s\n", plain_prefix(level), line);
                else
                        fprintf(stderr, "<%d>%s\n", level, line);
                free(big);
        }
        errno = saved_errno;
        return -error;
}
