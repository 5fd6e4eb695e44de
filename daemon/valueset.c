/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "valueset.h"

/* Walks a ValueSet with the sd-bus reader, adding up the bytes it takes on the wire. Offsets are
 * counted from the start of the a{sv}, which is 8-aligned wherever the contract puts it (first
 * argument of SendMessage, after the 't' of SendResponse and RequestReceived), so padding comes
 * out the same as in the real message. */
typedef struct Walk {
        uint64_t size;
        char *reason;   /* the first broken rule; NULL while valid */
} Walk;

static uint64_t align_to(uint64_t offset, unsigned alignment) {
        return (offset + alignment - 1) & ~((uint64_t) alignment - 1);
}

static unsigned type_alignment(char type) {
        switch (type) {
        case 'y': case 'g': case 'v':
                return 1;
        case 'n': case 'q':
                return 2;
        case 'b': case 'i': case 'u': case 'h': case 's': case 'o': case 'a':
                return 4;
        default: /* x t d ( { */
                return 8;
        }
}

#define IN_SET_CONTAINER(t) ((t) == 'a' || (t) == 'v' || (t) == 'r' || (t) == 'e')

static unsigned fixed_size(char type) {
        switch (type) {
        case 'y':
                return 1;
        case 'n': case 'q':
                return 2;
        case 'b': case 'i': case 'u':
                return 4;
        case 'x': case 't': case 'd':
                return 8;
        default:
                return 0;
        }
}

static void walk_fail(Walk *w, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void walk_fail(Walk *w, const char *format, ...) {
        va_list ap;

        if (w->reason)
                return;  /* the first finding is the one reported */
        va_start(ap, format);
        if (vasprintf(&w->reason, format, ap) < 0)
                w->reason = NULL;
        va_end(ap);
        if (!w->reason)
                w->reason = strdup("invalid ValueSet");
}

static int walk_value(sd_bus_message *m, char type, const char *contents, Walk *w);
static int walk_members(sd_bus_message *m, char type, const char *contents, Walk *w);

static int key_compare(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Keys of one ValueSet (top level or nested): non-empty, at most 255 bytes, unique. */
static void check_keys(const char **keys, size_t n, Walk *w) {
        for (size_t i = 0; i < n; i++) {
                if (keys[i][0] == '\0')
                        walk_fail(w, "a key is empty");
                else if (strlen(keys[i]) > VALUESET_MAX_KEY_LENGTH)
                        /* Not quoted: a cut key could end inside a UTF-8 sequence, and error
                         * messages must be valid UTF-8. */
                        walk_fail(w, "a key of %zu bytes is longer than the limit of 255", strlen(keys[i]));
        }
        if (n > 1)
                qsort(keys, n, sizeof(char *), key_compare);
        for (size_t i = 1; i < n; i++)
                if (strcmp(keys[i - 1], keys[i]) == 0)
                        walk_fail(w, "key '%s' appears more than once", keys[i]);
}

static int walk_valueset_entries(sd_bus_message *m, Walk *w) {
        _cleanup_(freep) const char **keys = NULL;
        size_t n_keys = 0, n_allocated = 0;
        int r;

        for (;;) {
                const char *key;

                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;

                w->size = align_to(w->size, 8);
                r = sd_bus_message_read_basic(m, 's', &key);
                if (r < 0)
                        return r;
                w->size = align_to(w->size, 4) + 4 + strlen(key) + 1;

                if (n_keys == n_allocated) {
                        size_t n = n_allocated ? n_allocated * 2 : 16;
                        const char **k = realloc(keys, n * sizeof(char *));
                        if (!k)
                                return -ENOMEM;
                        keys = k;
                        n_allocated = n;
                }
                keys[n_keys++] = key;  /* points into the message, which outlives this walk */

                r = walk_value(m, 'v', NULL, w);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }

        check_keys(keys, n_keys, w);
        return 0;
}

static int walk_array(sd_bus_message *m, const char *contents, Walk *w) {
        char element = contents[0];
        int r;

        w->size = align_to(w->size, 4) + 4;
        w->size = align_to(w->size, type_alignment(element));

        if (contents[1] == '\0' && fixed_size(element) > 0) {
                /* Fast path: a byte array of a megabyte should not cost a million reads. */
                const void *p;
                size_t n;

                r = sd_bus_message_read_array(m, element, &p, &n);
                if (r < 0)
                        return r;
                /* sd-bus hands over the bytes as the peer framed them: a length that is no whole
                 * number of elements could not be relayed (found by tests/fuzz fuzz-valueset). */
                if (n % fixed_size(element) != 0)
                        return -EBADMSG;
                w->size += n;
                return 0;
        }

        if (strcmp(contents, "{sv}") != 0)
                return walk_members(m, 'a', contents, w);

        r = sd_bus_message_enter_container(m, 'a', contents);
        if (r < 0)
                return r;
        r = walk_valueset_entries(m, w);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* Walks every element of an array, struct, dict entry or variant. */
static int walk_members(sd_bus_message *m, char type, const char *contents, Walk *w) {
        int r;

        r = sd_bus_message_enter_container(m, type, contents);
        if (r < 0)
                return r;
        for (;;) {
                r = sd_bus_message_at_end(m, /* complete= */ false);
                if (r < 0)
                        return r;
                if (r > 0)
                        break;
                r = walk_value(m, 0, NULL, w);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_exit_container(m);
}

static int walk_basic(sd_bus_message *m, char type, Walk *w) {
        union {
                const char *s;
                uint64_t u64;
        } v;
        int r;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;

        switch (type) {
        case 's': case 'o':
                w->size = align_to(w->size, 4) + 4 + strlen(v.s) + 1;
                break;
        case 'g':
                w->size += 1 + strlen(v.s) + 1;
                break;
        default:
                w->size = align_to(w->size, type_alignment(type)) + fixed_size(type);
        }
        return 0;
}

/* Walks the next value. `type` 0 means: peek it. */
static int walk_value(sd_bus_message *m, char type, const char *contents, Walk *w) {
        int r;

        if (type == 0 || !contents) {
                r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -EBADMSG;
        }

        if (type == 'h' || (contents && strchr(contents, 'h'))) {
                /* Unix fds cannot be relayed as ValueSet values (the contract excludes them). A
                 * read would also dup() it, so stop here and only skip over it. */
                walk_fail(w, "values of type '%s' (unix fd) are not allowed", contents ? contents : "h");
                return sd_bus_message_skip(m, NULL);
        }

        switch (type) {
        case 'a':
                return walk_array(m, contents, w);
        case 'v':
                w->size += 1 + strlen(contents) + 1;
                return walk_members(m, 'v', contents, w);
        case 'r': case 'e':
                w->size = align_to(w->size, 8);
                return walk_members(m, type, contents, w);
        default:
                return walk_basic(m, type, w);
        }
}

int valueset_check(sd_bus_message *m, uint64_t max_size, uint64_t *ret_size, char **ret_reason) {
        Walk w = {};
        int r;

        r = walk_array(m, "{sv}", &w);
        if (r < 0) {
                free(w.reason);
                return r;
        }

        if (ret_size)
                *ret_size = w.size;

        if (w.reason) {
                if (ret_reason)
                        *ret_reason = w.reason;
                else
                        free(w.reason);
                return VALUESET_INVALID;
        }
        if (w.size > max_size) {
                if (ret_reason && asprintf(ret_reason, "the ValueSet takes %llu bytes, more than the limit of %llu",
                                           (unsigned long long) w.size, (unsigned long long) max_size) < 0)
                        *ret_reason = NULL;
                return VALUESET_TOO_LARGE;
        }
        return VALUESET_OK;
}

static int copy_value(sd_bus_message *destination, sd_bus_message *source) {
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(source, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;

        /* sd_bus_message_append_array() takes every fixed-size type but booleans. */
        if (type == 'a' && contents[1] == '\0' && fixed_size(contents[0]) > 0 && contents[0] != 'b') {
                const void *p;
                size_t n;

                r = sd_bus_message_read_array(source, contents[0], &p, &n);
                if (r < 0)
                        return r;
                return sd_bus_message_append_array(destination, contents[0], p, n);
        }

        if (IN_SET_CONTAINER(type)) {
                r = sd_bus_message_enter_container(source, type, contents);
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(destination, type, contents);
                if (r < 0)
                        return r;
                while ((r = sd_bus_message_at_end(source, /* complete= */ false)) == 0) {
                        r = copy_value(destination, source);
                        if (r < 0)
                                return r;
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(destination);
                if (r < 0)
                        return r;
                return sd_bus_message_exit_container(source);
        }

        union {
                uint8_t u8;
                uint16_t u16;
                uint32_t u32;
                uint64_t u64;
                int b;
                double d;
                const char *s;
        } value;
        r = sd_bus_message_read_basic(source, type, &value);
        if (r < 0)
                return r;
        /* append_basic() takes strings themselves, every other type by address. */
        return sd_bus_message_append_basic(destination, type, strchr("sog", type) ? (const void *) value.s : &value);
}

int valueset_copy(sd_bus_message *destination, sd_bus_message *source) {
        return copy_value(destination, source);
}

int valueset_seek(sd_bus_message *m) {
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_rewind(m, /* complete= */ true);
        if (r < 0)
                return r;
        for (;;) {
                r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -EBADMSG;
                if (type == SD_BUS_TYPE_ARRAY && contents && strcmp(contents, "{sv}") == 0)
                        return 0;
                r = sd_bus_message_skip(m, NULL);
                if (r < 0)
                        return r;
        }
}

int valueset_measure(sd_bus_message *m, uint64_t *ret_size) {
        int r;

        r = valueset_seek(m);
        if (r < 0)
                return r;
        r = valueset_check(m, UINT64_MAX, ret_size, NULL);
        return r < 0 ? r : 0;
}
