/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A small chained hash table keyed by strings or by 64-bit ids. Keys are borrowed: they must live
 * as long as their entry (they normally point into the value). Values are never freed here. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Hashmap Hashmap;

typedef enum HashmapKeyType {
        HASHMAP_KEY_STRING,  /* key is a const char * */
        HASHMAP_KEY_UINT64,  /* key is a const uint64_t * */
} HashmapKeyType;

Hashmap *hashmap_new(HashmapKeyType type);
Hashmap *hashmap_free(Hashmap *h);

/* -EEXIST if the key is present, -ENOMEM on allocation failure. */
int hashmap_put(Hashmap *h, const void *key, void *value);
void *hashmap_get(const Hashmap *h, const void *key);
/* Returns the value removed, or NULL. */
void *hashmap_remove(Hashmap *h, const void *key);
size_t hashmap_size(const Hashmap *h);
/* Any one value, or NULL when empty; for "take each until empty" loops that free as they go. */
void *hashmap_first(const Hashmap *h);

/* Iteration; the map must not change during it. Start with *state = 0. */
bool hashmap_iterate(const Hashmap *h, size_t *state, void **ret_value);
