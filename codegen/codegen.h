/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* appservice-codegen: a contract (contract/contract.h) compiled into typed client and provider
 * code for libappservice, in C (gen-c.c) or Python (gen-python.c). README.md here shows what is
 * generated. */

#include <glib.h>

#include "contract.h"

typedef enum {
        CODEGEN_SIDE_CLIENT,
        CODEGEN_SIDE_PROVIDER,
} CodegenSide;

typedef struct {
        const Contract *contract;
        const char *contract_path;   /* for the generated files' header */
        CodegenSide side;
        char *ns;                    /* "Hello": the C type prefix, the Python class prefix */
        char *lower;                 /* "hello": functions, file names, the Python module */
        char *upper;                 /* "HELLO": macros */
} Codegen;

/* Writes the files into `dir`; returns FALSE with `error` set. */
gboolean codegen_c(const Codegen *g, const char *dir, GError **error);
gboolean codegen_python(const Codegen *g, const char *dir, GError **error);

/* Names. All return newly allocated strings. */
/* "SetMode" -> "set_mode", "ArrayBoolean" -> "array_boolean", "tenths" -> "tenths". */
char *codegen_snake(const char *name);
/* "com.example.hello" -> "Hello", "org.example.thermo-stat" -> "ThermoStat". */
char *codegen_default_namespace(const char *contract_name);
/* A C or Python identifier for a field: snake case, with '_' after a keyword of the language. */
char *codegen_c_identifier(const char *name);
char *codegen_python_identifier(const char *name);

/* The generated files' first lines: where they come from, and not to edit them. */
void codegen_header(GString *out, const Codegen *g, const char *comment_start, const char *comment_line,
                    const char *comment_end);
/* A contract comment, each line prefixed. */
void codegen_append_doc(GString *out, const char *doc, const char *prefix);
/* Writes `contents` to dir/name; FALSE with `error`. */
gboolean codegen_write(const char *dir, const char *name, const GString *contents, GError **error);
