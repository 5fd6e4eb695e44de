/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "recipe.h"

#define MAX_SIGNATURE 255

unsigned recipe_n_fds;

static const char *const fixed_strings[] = {
        "",
        "a",
        "Action",
        "com.example.fuzz",
        "com.example.fuzz.closed",
        "com.example.fuzz.systemd",
        "com.example.FuzzApp",
        "*",
        "é\xe2\x82\xac",
        "/io/appservice1",
};

char *recipe_string(FuzzInput *in) {
        uint8_t choice = fuzz_input_byte(in);
        char *s;

        if (choice < 2 * sizeof(fixed_strings) / sizeof(fixed_strings[0])) {
                s = strdup(fixed_strings[choice / 2]);
        } else if (choice == 0xff || choice == 0xfe) {
                /* Keys at the limit of 255 bytes and one over it. */
                size_t n = choice == 0xff ? 256 : 255;
                s = malloc(n + 1);
                if (s) {
                        memset(s, 'k', n);
                        s[n] = '\0';
                }
        } else {
                /* ASCII from the input's bytes: every byte is valid UTF-8 this way. */
                s = fuzz_input_string(in, 64);
                for (char *p = s; p && *p; p++)
                        *p = (char) ((*p & 0x7f) ?: 'x');
        }
        if (!s)
                abort();
        return s;
}

/* A valid object path: "/" or "/" components of [A-Za-z0-9_]. */
static char *object_path(FuzzInput *in) {
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
        size_t n = fuzz_input_below(in, 5), k = 0;
        char *s = malloc(n * 9 + 2);

        if (!s)
                abort();
        if (n == 0)
                s[k++] = '/';
        for (size_t i = 0; i < n; i++) {
                size_t len = 1 + fuzz_input_below(in, 8);
                s[k++] = '/';
                for (size_t j = 0; j < len; j++)
                        s[k++] = alphabet[fuzz_input_below(in, sizeof(alphabet) - 1)];
        }
        s[k] = '\0';
        return s;
}

static const char *const signatures[] = { "", "s", "a{sv}", "v", "(ii)", "aay", "a{ss}", "h", "ah", "g" };

/* Writes one complete type at *p (advancing it). Returns -E2BIG when it does not fit. */
static int gen_type(FuzzInput *in, char **p, char *end, unsigned depth) {
        static const char basic[] = "ybnqiuxtdsogh";
        uint8_t choice = fuzz_input_byte(in) % 20;

        if (*p + 1 >= end)
                return -E2BIG;
        if (depth >= RECIPE_MAX_DEPTH || choice < 13) {
                *(*p)++ = basic[choice % 13];
                return 0;
        }
        switch (choice) {
        case 13: case 14:
                *(*p)++ = 'v';
                return 0;
        case 15: case 16:
                *(*p)++ = 'a';
                return gen_type(in, p, end, depth + 1);
        case 17:
                if (*p + 4 >= end)
                        return -E2BIG;
                *(*p)++ = 'a';
                *(*p)++ = '{';
                *(*p)++ = basic[fuzz_input_byte(in) % 13];
                if (gen_type(in, p, end, depth + 2) < 0 || *p + 1 >= end)
                        return -E2BIG;
                *(*p)++ = '}';
                return 0;
        case 18: {
                unsigned n = 1 + fuzz_input_below(in, 4);
                *(*p)++ = '(';
                for (unsigned i = 0; i < n; i++)
                        if (gen_type(in, p, end, depth + 1) < 0)
                                return -E2BIG;
                if (*p + 1 >= end)
                        return -E2BIG;
                *(*p)++ = ')';
                return 0;
        }
        default:
                if (*p + 5 >= end)
                        return -E2BIG;
                memcpy(*p, "a{sv}", 5);
                *p += 5;
                return 0;
        }
}

/* Whether a complete type keeps D-Bus's limits of 32 nested arrays and 32 nested structs (dict
 * entries count as structs). sd-bus builds signatures past them but cannot read them back, and
 * dbus-daemon refuses them: nothing the broker could ever receive. */
static bool type_within_limits(const char **t, unsigned arrays, unsigned structs) {
        switch (**t) {
        case 'a':
                if (arrays >= 32)
                        return false;
                (*t)++;
                return type_within_limits(t, arrays + 1, structs);
        case '(':
        case '{':
                if (structs >= 32)
                        return false;
                for ((*t)++; **t != ')' && **t != '}'; )
                        if (!type_within_limits(t, arrays, structs + 1))
                                return false;
                (*t)++;
                return true;
        default:
                (*t)++;
                return true;
        }
}

/* The end of the complete type starting at t. */
static const char *type_end(const char *t) {
        switch (*t) {
        case 'a':
                return type_end(t + 1);
        case '(':
        case '{': {
                const char *q = t + 1;
                while (*q != ')' && *q != '}')
                        q = type_end(q);
                return q + 1;
        }
        default:
                return t + 1;
        }
}

static int append_typed(sd_bus_message *m, FuzzInput *in, const char *type, unsigned depth);

static int append_basic(sd_bus_message *m, FuzzInput *in, char type) {
        static int null_fd = -1;
        union {
                uint8_t y;
                int b;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
        } v = {};
        char *s = NULL;
        int r;

        switch (type) {
        case 'y': v.y = fuzz_input_byte(in); break;
        case 'b': v.b = fuzz_input_byte(in) & 1; break;
        case 'n': case 'q': v.q = (uint16_t) fuzz_input_u32(in); break;
        case 'i': case 'u': v.u = fuzz_input_u32(in); break;
        case 'x': case 't': v.t = fuzz_input_u64(in); break;
        case 'd': {
                uint64_t bits = fuzz_input_u64(in);
                memcpy(&v.d, &bits, sizeof v.d);
                break;
        }
        case 's':
                s = recipe_string(in);
                break;
        case 'o':
                s = object_path(in);
                break;
        case 'g':
                s = strdup(signatures[fuzz_input_below(in, sizeof(signatures) / sizeof(signatures[0]))]);
                if (!s)
                        abort();
                break;
        case 'h':
                if (null_fd < 0)
                        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                v.i = null_fd;
                recipe_n_fds++;
                break;
        default:
                return -EINVAL;
        }
        r = sd_bus_message_append_basic(m, type, s ? (const void *) s : &v);
        free(s);
        return r;
}

static int append_array(sd_bus_message *m, FuzzInput *in, const char *element, unsigned depth) {
        size_t element_len = type_end(element) - element;
        char contents[MAX_SIGNATURE + 1];
        unsigned n;
        int r;

        if (element_len > MAX_SIGNATURE)
                return -E2BIG;
        memcpy(contents, element, element_len);
        contents[element_len] = '\0';

        /* Now and then an array of a fixed-size type in one piece, as big as the input. */
        if (element_len == 1 && strchr("ynqiuxtd", element[0]) && fuzz_input_byte(in) == 0xaa) {
                size_t size = fuzz_input_below(in, 4096);
                size_t item = strchr("y", element[0]) ? 1 : strchr("nq", element[0]) ? 2 : strchr("iu", element[0]) ? 4 : 8;
                void *buf = calloc(size / item + 1, item);

                if (!buf)
                        abort();
                for (size_t i = 0; i < size && !fuzz_input_at_end(in); i++)
                        ((uint8_t *) buf)[i] = fuzz_input_byte(in);
                r = sd_bus_message_append_array(m, element[0], buf, size / item * item);
                free(buf);
                return r;
        }

        r = sd_bus_message_open_container(m, 'a', contents);
        if (r < 0)
                return r;
        n = fuzz_input_below(in, 5);
        for (unsigned i = 0; i < n; i++) {
                r = append_typed(m, in, contents, depth + 1);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static int append_typed(sd_bus_message *m, FuzzInput *in, const char *type, unsigned depth) {
        char contents[MAX_SIGNATURE + 1];
        int r;

        switch (type[0]) {
        case 'a':
                if (strncmp(type, "a{sv}", 5) == 0 && fuzz_input_byte(in) < 0xc0)
                        return recipe_append_value_set(m, in, depth + 1);
                return append_array(m, in, type + 1, depth);
        case 'v':
                return recipe_append_value(m, in, depth + 1);
        case '(':
        case '{': {
                const char *end = type_end(type);
                size_t len = end - type - 2;

                memcpy(contents, type + 1, len);
                contents[len] = '\0';
                r = sd_bus_message_open_container(m, type[0] == '(' ? 'r' : 'e', contents);
                if (r < 0)
                        return r;
                for (const char *t = contents; *t; t = type_end(t)) {
                        r = append_typed(m, in, t, depth + 1);
                        if (r < 0)
                                return r;
                }
                return sd_bus_message_close_container(m);
        }
        default:
                return append_basic(m, in, type[0]);
        }
}

/* A variant: a type chosen by the input and a value of it. One byte value starts a chain of
 * variants, n deep, around the value. */
int recipe_append_value(sd_bus_message *m, FuzzInput *in, unsigned depth) {
        char signature[MAX_SIGNATURE + 1], *p = signature;
        unsigned chain = 0;
        int r;

        if (depth >= RECIPE_MAX_DEPTH)
                return sd_bus_message_append(m, "v", "s", "deep");

        if (fuzz_input_byte(in) == 0xee)
                chain = fuzz_input_below(in, RECIPE_MAX_DEPTH);
        for (unsigned i = 0; i < chain && depth + i < RECIPE_MAX_DEPTH; i++) {
                r = sd_bus_message_open_container(m, 'v', "v");
                if (r < 0)
                        return r;
        }
        if (chain > RECIPE_MAX_DEPTH - depth)
                chain = RECIPE_MAX_DEPTH - depth;

        r = gen_type(in, &p, signature + sizeof signature, depth + chain);
        if (r < 0)
                return r;
        *p = '\0';
        p = signature;
        if (!type_within_limits((const char **) &p, 0, 0))
                return -E2BIG;
        r = sd_bus_message_open_container(m, 'v', signature);
        if (r < 0)
                return r;
        r = append_typed(m, in, signature, depth + chain + 1);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        for (unsigned i = 0; r >= 0 && i < chain; i++)
                r = sd_bus_message_close_container(m);
        return r;
}

int recipe_append_value_set(sd_bus_message *m, FuzzInput *in, unsigned depth) {
        char *last_key = NULL;
        unsigned n;
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        n = fuzz_input_below(in, 6);
        for (unsigned i = 0; i < n; i++) {
                char *key;

                /* Repeat the last key now and then: duplicates must be refused. */
                if (last_key && fuzz_input_byte(in) == 0xdd)
                        key = strdup(last_key);
                else
                        key = recipe_string(in);
                if (!key)
                        abort();
                free(last_key);
                last_key = key;

                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append_basic(m, 's', key);
                if (r >= 0)
                        r = recipe_append_value(m, in, depth + 2);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r < 0) {
                        free(last_key);
                        return r;
                }
        }
        free(last_key);
        return sd_bus_message_close_container(m);
}
