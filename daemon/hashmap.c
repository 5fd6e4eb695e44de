/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

typedef struct Entry {
        const void *key;
        void *value;
        struct Entry *next;
} Entry;

struct Hashmap {
        HashmapKeyType type;
        Entry **buckets;
        size_t n_buckets;
        size_t n_entries;
};

static uint64_t hash_key(const Hashmap *h, const void *key) {
        uint64_t x;

        if (h->type == HASHMAP_KEY_UINT64) {
                /* splitmix64 finaliser: ids are sequential, so spread them. */
                x = *(const uint64_t *) key;
                x ^= x >> 30;
                x *= 0xbf58476d1ce4e5b9ULL;
                x ^= x >> 27;
                x *= 0x94d049bb133111ebULL;
                return x ^ (x >> 31);
        }

        /* FNV-1a */
        x = 0xcbf29ce484222325ULL;
        for (const unsigned char *p = key; *p; p++)
                x = (x ^ *p) * 0x100000001b3ULL;
        return x;
}

static bool keys_equal(const Hashmap *h, const void *a, const void *b) {
        if (h->type == HASHMAP_KEY_UINT64)
                return *(const uint64_t *) a == *(const uint64_t *) b;
        return strcmp(a, b) == 0;
}

Hashmap *hashmap_new(HashmapKeyType type) {
        Hashmap *h = calloc(1, sizeof(Hashmap));

        if (!h)
                return NULL;
        h->type = type;
        h->n_buckets = 16;
        h->buckets = calloc(h->n_buckets, sizeof(Entry *));
        if (!h->buckets) {
                free(h);
                return NULL;
        }
        return h;
}

Hashmap *hashmap_free(Hashmap *h) {
        if (!h)
                return NULL;
        for (size_t i = 0; i < h->n_buckets; i++)
                for (Entry *e = h->buckets[i], *n; e; e = n) {
                        n = e->next;
                        free(e);
                }
        free(h->buckets);
        free(h);
        return NULL;
}

static int resize(Hashmap *h, size_t n_buckets) {
        Entry **buckets = calloc(n_buckets, sizeof(Entry *));

        if (!buckets)
                return -ENOMEM;
        for (size_t i = 0; i < h->n_buckets; i++)
                for (Entry *e = h->buckets[i], *n; e; e = n) {
                        size_t b = hash_key(h, e->key) % n_buckets;
                        n = e->next;
                        e->next = buckets[b];
                        buckets[b] = e;
                }
        free(h->buckets);
        h->buckets = buckets;
        h->n_buckets = n_buckets;
        return 0;
}

static Entry **find(const Hashmap *h, const void *key) {
        Entry **e = &h->buckets[hash_key(h, key) % h->n_buckets];

        for (; *e; e = &(*e)->next)
                if (keys_equal(h, (*e)->key, key))
                        return e;
        return e;
}

int hashmap_put(Hashmap *h, const void *key, void *value) {
        Entry **slot, *e;

        if (*find(h, key))
                return -EEXIST;
        /* Growing is best effort: a failed resize only makes chains longer. */
        if (h->n_entries >= h->n_buckets * 2)
                (void) resize(h, h->n_buckets * 4);

        e = malloc(sizeof(Entry));
        if (!e)
                return -ENOMEM;
        slot = &h->buckets[hash_key(h, key) % h->n_buckets];
        *e = (Entry) { .key = key, .value = value, .next = *slot };
        *slot = e;
        h->n_entries++;
        return 0;
}

void *hashmap_get(const Hashmap *h, const void *key) {
        Entry *e;

        if (!h)
                return NULL;
        e = *find(h, key);
        return e ? e->value : NULL;
}

void *hashmap_remove(Hashmap *h, const void *key) {
        Entry **slot, *e;
        void *value;

        if (!h)
                return NULL;
        slot = find(h, key);
        e = *slot;
        if (!e)
                return NULL;
        *slot = e->next;
        value = e->value;
        free(e);
        h->n_entries--;
        return value;
}

size_t hashmap_size(const Hashmap *h) {
        return h ? h->n_entries : 0;
}

void *hashmap_first(const Hashmap *h) {
        size_t state = 0;
        void *v;

        return hashmap_iterate(h, &state, &v) ? v : NULL;
}

bool hashmap_iterate(const Hashmap *h, size_t *state, void **ret_value) {
        /* state encodes bucket index and position inside the chain: (bucket << 16) | position.
         * Chains are short, so walking to the position again is cheap. */
        if (!h)
                return false;
        for (size_t b = *state >> 16, pos = *state & 0xffff; b < h->n_buckets; b++, pos = 0) {
                Entry *e = h->buckets[b];
                for (size_t i = 0; e && i < pos; i++)
                        e = e->next;
                if (e) {
                        *ret_value = e->value;
                        *state = (b << 16) | (pos + 1);
                        return true;
                }
        }
        return false;
}
