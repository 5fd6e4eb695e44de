/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Numbers as the broker's files write them: plain decimals, and sizes with K, M or G. Strict, so
 * that "0x10", "-1" or " 5" are errors rather than something else. */

#include <stdint.h>

/* Decimal digits only: no sign, no blanks, no base prefix. -EINVAL, or -ERANGE above `max`. */
int parse_decimal(const char *s, uint64_t max, uint64_t *ret);

/* A decimal, optionally followed by K, M or G (powers of 1024, as systemd's sizes). -EINVAL, or
 * -ERANGE when the bytes it names are above `max`. */
int parse_size(const char *s, uint64_t max, uint64_t *ret);
