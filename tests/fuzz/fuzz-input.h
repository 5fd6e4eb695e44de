/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Reading a fuzzer's input as a stream of choices: numbers, bytes, strings. Past the end every
 * read gives zeros and empty strings, so that a short input still makes a whole (small) value. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct FuzzInput {
        const uint8_t *data;
        size_t size;
        size_t pos;
} FuzzInput;

static inline FuzzInput fuzz_input(const uint8_t *data, size_t size) {
        return (FuzzInput) { .data = data, .size = size };
}

bool fuzz_input_at_end(const FuzzInput *in);
uint8_t fuzz_input_byte(FuzzInput *in);
uint32_t fuzz_input_u32(FuzzInput *in);
uint64_t fuzz_input_u64(FuzzInput *in);
/* A number below `n` (n > 0), from as few bytes as it needs. */
uint32_t fuzz_input_below(FuzzInput *in, uint32_t n);
/* A string of up to `max` bytes: a length byte, then the bytes (NUL bytes taken as they come, so
 * the result may be shorter). The result is NUL-terminated and must be freed. */
char *fuzz_input_string(FuzzInput *in, size_t max);

/* Writes `size` bytes to a new file in `dir` and returns its path (to free), or NULL. */
char *fuzz_write_temp_file(const char *dir, const void *data, size_t size);
