/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdint.h>
#include <string.h>

#include "contract-internal.h"

static int arena_keep(ContractArena *arena, void *block) {
        if (arena->n_blocks == arena->allocated) {
                size_t n = arena->allocated ? arena->allocated * 2 : 64;
                void **blocks = realloc(arena->blocks, n * sizeof(void *));

                if (!blocks)
                        return -1;
                arena->blocks = blocks;
                arena->allocated = n;
        }
        arena->blocks[arena->n_blocks++] = block;
        return 0;
}

void *contract_arena_alloc(ContractArena *arena, size_t size) {
        void *block = calloc(1, size ? size : 1);

        if (!block || arena_keep(arena, block) < 0) {
                free(block);
                return NULL;
        }
        return block;
}

char *contract_arena_strndup(ContractArena *arena, const char *s, size_t length) {
        char *copy = contract_arena_alloc(arena, length + 1);

        if (copy)
                memcpy(copy, s, length);
        return copy;
}

ContractType *contract_arena_new_type(ContractArena *arena, ContractKind kind) {
        ContractType *type;

        if (arena->n_types == arena->types_allocated) {
                size_t n = arena->types_allocated ? arena->types_allocated * 2 : 32;
                ContractType **types = realloc(arena->types, n * sizeof(ContractType *));

                if (!types)
                        return NULL;
                arena->types = types;
                arena->types_allocated = n;
        }
        type = contract_arena_alloc(arena, sizeof(ContractType));
        if (!type)
                return NULL;
        type->kind = kind;
        arena->types[arena->n_types++] = type;
        return type;
}

void contract_arena_free(ContractArena *arena) {
        for (size_t i = 0; i < arena->n_blocks; i++)
                free(arena->blocks[i]);
        free(arena->blocks);
        free(arena->types);
        free(arena);
}

Contract *contract_free(Contract *c) {
        if (!c)
                return NULL;
        /* Everything but the Contract itself is in the arena. */
        if (c->priv)
                contract_arena_free(c->priv);
        free(c);
        return NULL;
}

const ContractMember *contract_find(const Contract *c, ContractMemberKind kind, const char *name) {
        if (!c || !name)
                return NULL;
        for (size_t i = 0; i < c->n_members; i++)
                if (c->members[i].kind == kind && strcmp(c->members[i].name, name) == 0)
                        return &c->members[i];
        return NULL;
}

const ContractField *contract_type_find_field(const ContractType *record, const char *name) {
        if (!record || record->kind != CONTRACT_KIND_RECORD || !name)
                return NULL;
        for (size_t i = 0; i < record->n_fields; i++)
                if (strcmp(record->fields[i].name, name) == 0)
                        return &record->fields[i];
        return NULL;
}

const char *contract_member_kind_to_string(ContractMemberKind kind) {
        switch (kind) {
        case CONTRACT_METHOD:
                return "method";
        case CONTRACT_CALLBACK:
                return "callback";
        case CONTRACT_ERROR:
                return "error";
        case CONTRACT_TYPE:
                return "type";
        }
        return "member";
}

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One part of an interface name: [a-z0-9], then [-a-z0-9]* ending in [a-z0-9]; the first part
 * starts with a letter. */
static bool name_part_is_valid(const char *part, size_t length, bool first) {
        if (length == 0 || !is_lower_alnum(part[0]) || !is_lower_alnum(part[length - 1]))
                return false;
        if (first && !(part[0] >= 'a' && part[0] <= 'z'))
                return false;
        for (size_t i = 1; i + 1 < length; i++)
                if (!is_lower_alnum(part[i]) && part[i] != '-')
                        return false;
        return true;
}

bool contract_name_is_valid(const char *name) {
        size_t n_parts = 0;
        const char *part = name;

        if (!name || strlen(name) > CONTRACT_MAX_NAME_LENGTH)
                return false;
        for (;;) {
                const char *dot = strchr(part, '.');
                size_t length = dot ? (size_t) (dot - part) : strlen(part);

                if (!name_part_is_valid(part, length, n_parts == 0))
                        return false;
                n_parts++;
                if (!dot)
                        break;
                part = dot + 1;
        }
        return n_parts >= 2;
}

const char *contract_type_describe(const ContractType *type) {
        if (!type)
                return "nothing";
        if (type->name)
                return type->name;
        return type->text ? type->text : "value";
}
