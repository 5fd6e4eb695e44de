/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "parse.h"

/* The first `n` characters of `s`. */
static int parse_digits(const char *s, size_t n, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;

        if (n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (s[i] - '0');
                if (v > max)
                        return -ERANGE;
        }
        *ret = v;
        return 0;
}

int parse_decimal(const char *s, uint64_t max, uint64_t *ret) {
        return parse_digits(s, strlen(s), max, ret);
}

int parse_size(const char *s, uint64_t max, uint64_t *ret) {
        static const char units[] = "KMG";
        size_t n = strlen(s);
        const char *unit = n > 0 ? memchr(units, s[n - 1], sizeof units - 1) : NULL;
        unsigned shift = unit ? 10u * (unsigned) (unit - units + 1) : 0;
        uint64_t v;
        int r;

        r = parse_digits(s, unit ? n - 1 : n, max >> shift, &v);
        if (r < 0)
                return r;
        *ret = v << shift;
        return 0;
}

#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_SECOND UINT64_C(1000000)

/* Longer names first: "ms" and "min" must not be read as "m" and a stray letter. */
static const struct {
        const char *name;
        uint64_t usec;
} timespan_units[] = {
        { "seconds", USEC_PER_SECOND },
        { "second", USEC_PER_SECOND },
        { "minutes", 60 * USEC_PER_SECOND },
        { "minute", 60 * USEC_PER_SECOND },
        { "hours", 3600 * USEC_PER_SECOND },
        { "hour", 3600 * USEC_PER_SECOND },
        { "days", 86400 * USEC_PER_SECOND },
        { "day", 86400 * USEC_PER_SECOND },
        { "weeks", 604800 * USEC_PER_SECOND },
        { "week", 604800 * USEC_PER_SECOND },
        { "usec", 1 },
        { "msec", USEC_PER_MSEC },
        { "sec", USEC_PER_SECOND },
        { "min", 60 * USEC_PER_SECOND },
        { "hr", 3600 * USEC_PER_SECOND },
        { "us", 1 },
        { "ms", USEC_PER_MSEC },
        { "s", USEC_PER_SECOND },
        { "m", 60 * USEC_PER_SECOND },
        { "h", 3600 * USEC_PER_SECOND },
        { "d", 86400 * USEC_PER_SECOND },
        { "w", 604800 * USEC_PER_SECOND },
};

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* The unit at *p (advanced past it), seconds when there is none; 0 for an unknown word. */
static uint64_t timespan_unit(const char **p) {
        for (size_t i = 0; i < sizeof timespan_units / sizeof timespan_units[0]; i++) {
                size_t n = strlen(timespan_units[i].name);
                char next;

                /* Only past a match is (*p)[n] known to be inside the string. */
                if (strncmp(*p, timespan_units[i].name, n) != 0)
                        continue;
                next = (*p)[n];
                if (next == '\0' || next == ' ' || next == '\t' || is_digit(next)) {
                        *p += n;
                        return timespan_units[i].usec;
                }
        }
        if (**p == '\0' || **p == ' ' || **p == '\t' || is_digit(**p))
                return USEC_PER_SECOND;
        return 0;
}

/* One part: digits, an optional fraction, an optional unit. */
static int parse_timespan_part(const char **p, uint64_t max_usec, uint64_t *ret_usec) {
        uint64_t whole = 0, frac = 0, frac_scale = 1, unit;

        if (!is_digit(**p))
                return -EINVAL;
        for (; is_digit(**p); (*p)++) {
                /* Every unit is at least a microsecond: beyond max_usec is too long already. */
                if (whole > max_usec / 10)
                        return -ERANGE;
                whole = whole * 10 + (uint64_t) (**p - '0');
                if (whole > max_usec)
                        return -ERANGE;
        }
        if (**p == '.') {
                (*p)++;
                if (!is_digit(**p))
                        return -EINVAL;
                for (; is_digit(**p); (*p)++)
                        if (frac_scale < USEC_PER_SECOND * 1000) {
                                frac = frac * 10 + (uint64_t) (**p - '0');
                                frac_scale *= 10;
                        }
        }
        *p += strspn(*p, " \t");
        unit = timespan_unit(p);
        if (unit == 0)
                return -EINVAL;
        if (whole > max_usec / unit)
                return -ERANGE;
        /* frac < frac_scale <= 10^9 and unit <= 604800 * 10^6: no overflow before the division. */
        *ret_usec = whole * unit + (uint64_t) ((unsigned __int128) frac * unit / frac_scale);
        return 0;
}

int parse_timespan(const char *s, uint64_t max_usec, uint64_t *ret_usec) {
        uint64_t total = 0, part;
        const char *p = s;
        int r;

        p += strspn(p, " \t");
        if (!*p)
                return -EINVAL;
        while (*p) {
                r = parse_timespan_part(&p, max_usec, &part);
                if (r < 0)
                        return r;
                if (part > max_usec - total)
                        return -ERANGE;
                total += part;
                p += strspn(p, " \t");
        }
        *ret_usec = total;
        return 0;
}

int parse_boolean_word(const char *s, bool *ret) {
        static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

bool unit_name_char_is_valid(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                (c != '\0' && strchr(":-_.\\@", c));
}
