/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-input.h"

bool fuzz_input_at_end(const FuzzInput *in) {
        return in->pos >= in->size;
}

uint8_t fuzz_input_byte(FuzzInput *in) {
        return in->pos < in->size ? in->data[in->pos++] : 0;
}

uint32_t fuzz_input_u32(FuzzInput *in) {
        uint32_t v = 0;

        for (int i = 0; i < 4; i++)
                v = v << 8 | fuzz_input_byte(in);
        return v;
}

uint64_t fuzz_input_u64(FuzzInput *in) {
        uint64_t hi = fuzz_input_u32(in);

        return hi << 32 | fuzz_input_u32(in);
}

uint32_t fuzz_input_below(FuzzInput *in, uint32_t n) {
        if (n <= 1)
                return 0;
        if (n <= 256)
                return fuzz_input_byte(in) % n;
        return fuzz_input_u32(in) % n;
}

char *fuzz_input_string(FuzzInput *in, size_t max) {
        size_t n = fuzz_input_byte(in), k = 0;
        char *s;

        /* 255 and 254 stand for long strings, made of the bytes that follow repeated. */
        if (n >= 254 && max > 253) {
                size_t len = n == 255 ? 256 : 300;
                uint8_t fill = fuzz_input_byte(in);

                if (len > max)
                        len = max;
                s = malloc(len + 1);
                if (!s)
                        abort();
                memset(s, fill ? fill : 'x', len);
                s[len] = '\0';
                return s;
        }
        if (n > max)
                n = max;
        s = malloc(n + 1);
        if (!s)
                abort();
        for (size_t i = 0; i < n && !fuzz_input_at_end(in); i++) {
                uint8_t c = fuzz_input_byte(in);
                if (c)
                        s[k++] = (char) c;
        }
        s[k] = '\0';
        return s;
}

char *fuzz_write_temp_file(const char *dir, const void *data, size_t size) {
        char *path;
        FILE *f;
        int fd;

        if (asprintf(&path, "%s/fuzz-XXXXXX", dir) < 0)
                return NULL;
        fd = mkstemp(path);
        if (fd < 0) {
                free(path);
                return NULL;
        }
        f = fdopen(fd, "w");
        if (!f)
                close(fd);
        else if (fwrite(data, 1, size, f) == size && fclose(f) == 0)
                return path;
        else
                (void) fclose(f);
        unlink(path);
        free(path);
        return NULL;
}
