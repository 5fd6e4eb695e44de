/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
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
