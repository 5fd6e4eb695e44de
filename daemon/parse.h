/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Numbers and booleans as the broker's files write them: plain decimals, sizes with K, M or G, and
 * time spans as systemd's units write them. Strict, so that "0x10", "-1" or " 5" are errors rather
 * than something else. */

#include <stdbool.h>
#include <stdint.h>

/* Decimal digits only: no sign, no blanks, no base prefix. -EINVAL, or -ERANGE above `max`. */
int parse_decimal(const char *s, uint64_t max, uint64_t *ret);

/* A decimal, optionally followed by K, M or G (powers of 1024, as systemd's sizes). -EINVAL, or
 * -ERANGE when the bytes it names are above `max`. */
int parse_size(const char *s, uint64_t max, uint64_t *ret);

/* A time span as systemd writes one (systemd.time(7)): "10", "1.5", "10s", "500ms", "5min",
 * "1h 30min", "1h30min", "2d": numbers, each with an optional fraction and unit (us, ms, s, min,
 * h, d, w and their long forms), the parts added; a number without a unit is seconds. Fractions
 * beyond the microsecond are cut off. -EINVAL, or -ERANGE above `max_usec`. */
int parse_timespan(const char *s, uint64_t max_usec, uint64_t *ret_usec);

/* yes/no, true/false, on/off, 1/0, in any case: the spellings systemd and GLib accept, so that a
 * unit writer's habit works here too. -EINVAL for anything else. */
int parse_boolean_word(const char *s, bool *ret);

/* A character systemd allows in a unit name: letters, digits and ":-_.\\@". */
bool unit_name_char_is_valid(char c);
