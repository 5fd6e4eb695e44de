/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "errors.h"
#include "util.h"
#include "valueset.h"

/* Walks a ValueSet with the sd-bus reader, adding up the bytes it takes on the wire. Offsets are
 * counted from the start of the a{sv}, which is 8-aligned wherever the contract puts it (first
 * argument of SendMessage, after the 't' of SendResponse and RequestReceived), so padding comes
 * out the same as in the real message. With a copy, every value read is appended to it as well
 * (as copy_value() does): a ValueSet that is relayed is read once, not once to check it and once
 * to copy it. */
typedef struct Walk {
        uint64_t size;
        uint64_t max_size;  /* the walk stops once size passes it */
        unsigned depth;     /* containers we are in, the ValueSet's own array and entry included */
        char *reason;       /* the first broken rule; NULL while valid */
        sd_bus_message *copy; /* NULL: check only */
} Walk;

/* The copy's side of the walk: nothing without one, nor once a rule is broken (the copy is
 * thrown away then, and what is still read is only skipped over). */
static bool copying(const Walk *w) {
        return w->copy && !w->reason;
}

static int copy_open(const Walk *w, char type, const char *contents) {
        return copying(w) ? sd_bus_message_open_container(w->copy, type, contents) : 0;
}

static int copy_close(const Walk *w) {
        return copying(w) ? sd_bus_message_close_container(w->copy) : 0;
}

/* append_basic() takes strings themselves, every other type by address. */
static int copy_basic(const Walk *w, char type, const void *value) {
        if (!copying(w))
                return 0;
        return sd_bus_message_append_basic(w->copy, type,
                                           strchr("sog", type) ? *(const char *const *) value : value);
}

/* Returned up the walk once the size passes the limit: nothing after it is read. */
#define WALK_OVER_LIMIT (-E2BIG)

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

/* Called after every addition to the size: a 34 MiB array of variants must not be read to the end
 * to learn that it is over a 1 MiB limit. */
static int walk_check_size(const Walk *w) {
        return w->size > w->max_size ? WALK_OVER_LIMIT : 0;
}

static bool walk_enter(Walk *w);
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

/* The keys of one ValueSet level, pointing into the message, which outlives the walk. */
typedef struct KeyList {
        const char **keys;
        size_t n, n_allocated;
} KeyList;

static int key_list_add(KeyList *l, const char *key) {
        if (l->n == l->n_allocated) {
                size_t n = l->n_allocated ? l->n_allocated * 2 : 16;
                const char **k = realloc(l->keys, n * sizeof(char *));

                if (!k)
                        return -ENOMEM;
                l->keys = k;
                l->n_allocated = n;
        }
        l->keys[l->n++] = key;
        return 0;
}

static int walk_entry(sd_bus_message *m, KeyList *keys, Walk *w) {
        const char *key;
        int r;

        w->size = align_to(w->size, 8);
        r = sd_bus_message_read_basic(m, 's', &key);
        if (r < 0)
                return r;
        r = copy_basic(w, 's', &key);
        if (r < 0)
                return r;
        w->size = align_to(w->size, 4) + 4 + strlen(key) + 1;
        r = key_list_add(keys, key);
        if (r < 0)
                return r;
        r = walk_check_size(w);
        if (r < 0)
                return r;
        return walk_value(m, 'v', NULL, w);
}

/* The entries of an a{sv} whose array was entered. */
static int walk_valueset_entries(sd_bus_message *m, Walk *w) {
        KeyList keys = {};
        int r;

        if (!walk_enter(w)) {
                /* Its entries would be one level too deep: refused, and skipped unread. */
                while ((r = sd_bus_message_at_end(m, /* complete= */ false)) == 0) {
                        r = sd_bus_message_skip(m, NULL);
                        if (r < 0)
                                return r;
                }
                return r;
        }

        for (;;) {
                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r <= 0)
                        break;
                r = copy_open(w, 'e', "sv");
                if (r < 0)
                        break;
                r = walk_entry(m, &keys, w);
                if (r < 0)
                        break;
                r = copy_close(w);
                if (r < 0)
                        break;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        break;
        }
        w->depth--;

        /* Past the size limit too: a duplicate among the keys read before it is reported. */
        if (r >= 0 || r == WALK_OVER_LIMIT)
                check_keys(keys.keys, keys.n, w);
        free(keys.keys);
        return r < 0 ? r : 0;
}

static int walk_array(sd_bus_message *m, const char *contents, Walk *w) {
        char element = contents[0];
        int r;

        w->size = align_to(w->size, 4) + 4;
        w->size = align_to(w->size, type_alignment(element));

        /* A copy takes booleans one by one, as copy_value() does: append_array() refuses them. */
        if (contents[1] == '\0' && fixed_size(element) > 0 && !(w->copy && element == 'b')) {
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
                r = walk_check_size(w);
                if (r < 0 || !copying(w))
                        return r;
                return sd_bus_message_append_array(w->copy, element, p, n);
        }

        if (strcmp(contents, "{sv}") != 0)
                return walk_members(m, 'a', contents, w);

        r = sd_bus_message_enter_container(m, 'a', contents);
        if (r < 0)
                return r;
        r = copy_open(w, 'a', contents);
        if (r < 0)
                return r;
        r = walk_valueset_entries(m, w);
        if (r < 0)
                return r;
        r = copy_close(w);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* Walks every element of an array, struct, dict entry or variant. */
/* Whether values of this signature have one size (no strings, variants or arrays in them). */
static bool signature_is_fixed(const char *signature) {
        return !strpbrk(signature, "sogva");
}

/* GDBus (GLib's D-Bus message reader, every version to date) misreads an array of structs or dict
 * entries of no fixed size whose last element takes 4 bytes or fewer, such as [([1],), (@ai [],)]:
 * it loses that element, or refuses the message and closes its bus connection when more follows.
 * Relayed as it is, one unprivileged caller could take any GLib-based provider off the bus. The
 * alignment that decides it differs with where the broker puts the ValueSet, so every such array
 * is refused. */
static bool array_misread_by_gdbus(const char *contents, uint64_t n_elements, uint64_t last_size) {
        return n_elements > 0 && (contents[0] == '(' || contents[0] == '{') && !signature_is_fixed(contents) &&
                last_size <= 4;
}

static int walk_members(sd_bus_message *m, char type, const char *contents, Walk *w) {
        uint64_t n = 0, last_start = 0;
        int r;

        r = sd_bus_message_enter_container(m, type, contents);
        if (r < 0)
                return r;
        r = copy_open(w, type, contents);
        if (r < 0)
                return r;
        for (;;) {
                r = sd_bus_message_at_end(m, /* complete= */ false);
                if (r < 0)
                        return r;
                if (r > 0)
                        break;
                last_start = align_to(w->size, type_alignment(contents[0]));
                n++;
                r = walk_value(m, 0, NULL, w);
                if (r < 0)
                        return r;
        }
        if (type == 'a' && array_misread_by_gdbus(contents, n, w->size - last_start))
                walk_fail(w, "an array of '%s' whose last element takes %" PRIu64 " bytes: GLib's D-Bus "
                          "reader misreads arrays of structs or dict entries whose last element takes 4 "
                          "bytes or fewer, so the broker relays none", contents, w->size - last_start);
        r = copy_close(w);
        if (r < 0)
                return r;
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
        r = copy_basic(w, type, &v);
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
        return walk_check_size(w);
}

/* Enters one more container level, or refuses it: the broker puts a ValueSet into containers of
 * its own (SubmitAction's responses, for one), and a reply nested deeper than D-Bus allows would
 * make the bus drop the broker's connection. */
static bool walk_enter(Walk *w) {
        if (w->depth >= VALUESET_MAX_DEPTH) {
                walk_fail(w, "the ValueSet is nested more than %d containers deep", VALUESET_MAX_DEPTH);
                return false;
        }
        w->depth++;
        return true;
}

/* Walks a container (array, variant, struct, dict entry) within the depth limit. */
static int walk_container(sd_bus_message *m, char type, const char *contents, Walk *w) {
        int r;

        if (!walk_enter(w))
                return sd_bus_message_skip(m, NULL);
        if (type == 'a')
                r = walk_array(m, contents, w);
        else
                r = walk_members(m, type, contents, w);
        w->depth--;
        return r;
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
                return walk_container(m, 'a', contents, w);
        case 'v':
                w->size += 1 + strlen(contents) + 1;
                return walk_container(m, 'v', contents, w);
        case 'r': case 'e':
                w->size = align_to(w->size, 8);
                return walk_container(m, type, contents, w);
        default:
                return walk_basic(m, type, w);
        }
}

int valueset_check_copy(sd_bus_message *m, sd_bus_message *copy, uint64_t max_size, uint64_t *ret_size,
                        char **ret_reason) {
        Walk w = {
                .max_size = max_size,
                .depth = 1,  /* the ValueSet's own array */
                .copy = copy,
        };
        int r;

        r = walk_array(m, "{sv}", &w);
        if (r < 0 && r != WALK_OVER_LIMIT) {
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
                /* The walk stopped at the limit: the size is a lower bound. */
                if (ret_reason && asprintf(ret_reason, "the ValueSet takes more than the limit of %llu bytes",
                                           (unsigned long long) max_size) < 0)
                        *ret_reason = NULL;
                return VALUESET_TOO_LARGE;
        }
        return VALUESET_OK;
}

int valueset_check(sd_bus_message *m, uint64_t max_size, uint64_t *ret_size, char **ret_reason) {
        return valueset_check_copy(m, /* copy= */ NULL, max_size, ret_size, ret_reason);
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

int valueset_check_copy_for(sd_bus_message *m, sd_bus_message *copy, const char *service, uint64_t max_size,
                            uint64_t *ret_size, sd_bus_error *error) {
        _cleanup_(freep) char *reason = NULL;
        int r;

        r = valueset_check_copy(m, copy, max_size, ret_size, &reason);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "app service '%s': cannot read the ValueSet: %m", service);
        if (r == VALUESET_INVALID)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_INVALID_MESSAGE, "app service '%s': %s",
                                         service, strempty(reason));
        if (r == VALUESET_TOO_LARGE)
                return sd_bus_error_setf(error, APPSERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE,
                                         "app service '%s': %s (MaxMessageSize)", service, strempty(reason));
        return 0;
}

int valueset_check_for(sd_bus_message *m, const char *service, uint64_t max_size, uint64_t *ret_size,
                       sd_bus_error *error) {
        return valueset_check_copy_for(m, /* copy= */ NULL, service, max_size, ret_size, error);
}
