/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* App service contracts (README.md here has the format): the parsed model and the parser. Plain
 * C, no GLib, no bus: the broker, the code generator and the HTTP gateway link it. A Contract owns
 * everything reachable from it; nothing in it changes after parsing, so it may be shared freely. */

#include <stdbool.h>
#include <stddef.h>

/* What a contract file may hold at most (README.md, "Limits"). */
#define CONTRACT_MAX_FILE_SIZE   (256u * 1024u)
#define CONTRACT_MAX_MEMBERS     1024u
#define CONTRACT_MAX_FIELDS      1024u
#define CONTRACT_MAX_NAME_LENGTH 255u
#define CONTRACT_MAX_TYPE_DEPTH  32u

/* The wire's own keys: a request's action, an error response's error. */
#define CONTRACT_KEY_ACTION "Action"
#define CONTRACT_KEY_ERROR  "Error"

typedef enum ContractKind {
        CONTRACT_KIND_SCALAR,  /* one basic D-Bus type, `scalar` (b y n q i u x t d s o g) */
        CONTRACT_KIND_VARIANT, /* `variant`: a value of any type */
        CONTRACT_KIND_OBJECT,  /* `object`: any ValueSet (a{sv}), unchecked inside */
        CONTRACT_KIND_ARRAY,   /* []T: `element` */
        CONTRACT_KIND_MAP,     /* [string]T: `element` is T */
        CONTRACT_KIND_RECORD,  /* (f: T, ...): a ValueSet with `fields` */
        CONTRACT_KIND_ENUM,    /* (a, b, ...): a string among `values` */
} ContractKind;

typedef struct ContractType ContractType;

typedef struct ContractField {
        char *name;
        bool optional;         /* written ?T: may be absent or null (@av []) */
        const ContractType *type;
        char *doc;             /* the comment lines before it, or NULL */
} ContractField;

struct ContractType {
        ContractKind kind;
        char scalar;                 /* SCALAR: its D-Bus type letter */
        const char *name;            /* a named type's (`type Name`) or a scalar's as written ("int32",
                                      * "int", "string"); NULL for an inline array, map, record or enum */
        const ContractType *element; /* ARRAY, MAP */
        ContractField *fields;       /* RECORD, in the order written */
        size_t n_fields;
        char **values;               /* ENUM, in the order written */
        size_t n_values;
        const char *signature;       /* the D-Bus type of its values: "i", "as", "a{sv}"; NULL for VARIANT */
        const char *text;            /* as written, spaces normalized ("[]string", "(x: int, y: int)"),
                                      * cut at 80 bytes with "..." : for error messages */
        unsigned mark;               /* the parser's; not for callers */
};

typedef enum ContractMemberKind {
        CONTRACT_METHOD,   /* an action the client sends */
        CONTRACT_CALLBACK, /* an action the provider sends to the client */
        CONTRACT_ERROR,
        CONTRACT_TYPE,
} ContractMemberKind;

typedef struct ContractMember {
        ContractMemberKind kind;
        char *name;
        char *doc;                   /* or NULL */
        unsigned line;               /* where it was declared, for messages */
        /* METHOD, CALLBACK: the parameters; ERROR: its fields; TYPE: the type (record or enum).
         * For the first three, always a RECORD. */
        const ContractType *input;
        /* METHOD, CALLBACK: the results (a RECORD); NULL otherwise. */
        const ContractType *output;
} ContractMember;

typedef struct Contract {
        char *name;                  /* the interface's, "com.example.hello" */
        char *doc;                   /* or NULL */
        ContractMember *members;     /* in the order written */
        size_t n_members;
        void *priv;                  /* the parser's allocations; not for callers */
} Contract;

/* Parses `length` bytes of `text`. `origin` names it in errors (a file name). Returns 0 and the
 * contract in *ret, or a negative errno (-EINVAL for a bad contract, -ENOMEM, -EFBIG past
 * CONTRACT_MAX_FILE_SIZE) and, when `ret_error` is given, a malloc'ed message
 * "ORIGIN:LINE:COLUMN: what was wrong" in *ret_error (also for -EFBIG). */
int contract_parse(const char *text, size_t length, const char *origin, Contract **ret, char **ret_error);
/* Reads the file at `path`: a regular file only, checked before it is opened for reading (a device
 * node is never opened, a FIFO never waited on), and at most CONTRACT_MAX_FILE_SIZE + 1 bytes of
 * it (contract_parse() refuses more). The text in *ret_text is NUL-terminated (malloc'ed). Returns
 * 0, or a negative errno (-ENOENT when there is no such file) with a message naming the file in
 * *ret_error when given. */
int contract_read(const char *path, char **ret_text, size_t *ret_length, char **ret_error);
/* contract_read() and contract_parse(). */
int contract_load(const char *path, Contract **ret, char **ret_error);

Contract *contract_free(Contract *c);
static inline void contract_freep(Contract **c) {
        if (*c)
                contract_free(*c);
}

/* The member of that kind and name, or NULL. */
const ContractMember *contract_find(const Contract *c, ContractMemberKind kind, const char *name);
/* The field of a RECORD by name, or NULL. */
const ContractField *contract_type_find_field(const ContractType *record, const char *name);
/* "method", "callback", "error", "type". */
const char *contract_member_kind_to_string(ContractMemberKind kind);
/* Whether `name` is a valid contract (interface) name: what Contract= may hold. */
bool contract_name_is_valid(const char *name);
/* A type as a person reads it in an error: its name if it has one ("int32", "Point"), else its
 * `text`. Points into the type. */
const char *contract_type_describe(const ContractType *type);
