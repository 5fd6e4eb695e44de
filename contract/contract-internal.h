/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the parser and the model share: the arena every part of a Contract is allocated from (one
 * list of blocks, freed together by contract_free()), and a few small helpers. */

#include <stdlib.h>

#include "contract.h"

#define _contract_cleanup_(f) __attribute__((cleanup(f)))

typedef struct ContractArena {
        void **blocks;
        size_t n_blocks;
        size_t allocated;
        /* Every ContractType made, so that references can be resolved once the file is read. */
        ContractType **types;
        size_t n_types;
        size_t types_allocated;
} ContractArena;

/* Zeroed memory owned by the arena, or NULL. */
void *contract_arena_alloc(ContractArena *arena, size_t size);
/* A NUL-terminated copy of `length` bytes of `s`, owned by the arena, or NULL. */
char *contract_arena_strndup(ContractArena *arena, const char *s, size_t length);
/* A new type of `kind`, owned by the arena and listed in arena->types, or NULL. */
ContractType *contract_arena_new_type(ContractArena *arena, ContractKind kind);
void contract_arena_free(ContractArena *arena);

static inline void contract_freep_free(void *p) {
        free(*(void **) p);
}
