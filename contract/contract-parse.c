/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The contract parser: a lexer over the whole text (read at once, at most 256 KiB) and a
 * recursive descent over varlink's grammar with D-Bus's type names (README.md). Every error stops
 * the parse with "ORIGIN:LINE:COLUMN: what was wrong"; nothing of a broken file is kept. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "contract-internal.h"

/* A reference to a named type, resolved once every member is known. */
#define CONTRACT_KIND_REFERENCE ((ContractKind) 100)
#define TEXT_MAX 80

typedef enum TokenKind {
        TOKEN_END,
        TOKEN_WORD,  /* a name, keyword or type name: [A-Za-z0-9_.-]+ starting with a letter */
        TOKEN_PUNCT, /* ( ) , : ? [ ] */
        TOKEN_ARROW, /* -> */
} TokenKind;

typedef struct Token {
        TokenKind kind;
        const char *start;
        size_t length;
        unsigned line, column;
        char *doc; /* the comment lines right before it (arena), or NULL */
} Token;

typedef struct Reference {
        ContractType *type;
        unsigned line, column;
} Reference;

typedef struct Parser {
        const char *text;
        size_t length, pos;
        unsigned line, column;
        bool line_has_token;
        const char *origin;
        ContractArena *arena;
        char *error;
        char *doc; /* comment lines gathered since the last token (malloc) */
        size_t doc_length;
        Token token;
        Reference *references;
        size_t n_references, references_allocated;
} Parser;

static int fail(Parser *p, unsigned line, unsigned column, const char *format, ...)
        __attribute__((format(printf, 4, 5)));
static int fail(Parser *p, unsigned line, unsigned column, const char *format, ...) {
        char *what = NULL;
        va_list ap;

        if (p->error)
                return -EINVAL;
        va_start(ap, format);
        if (vasprintf(&what, format, ap) < 0)
                what = NULL;
        va_end(ap);
        if (!what || asprintf(&p->error, "%s:%u:%u: %s", p->origin, line, column, what) < 0)
                p->error = NULL;
        free(what);
        return -EINVAL;
}

static int out_of_memory(Parser *p) {
        free(p->error);
        p->error = NULL;
        if (asprintf(&p->error, "%s: out of memory", p->origin) < 0)
                p->error = NULL;
        return -ENOMEM;
}

/* ---- text ------------------------------------------------------------------------------------ */

/* The length of the UTF-8 sequence at `s` (at most `left` bytes), or 0 when it is not valid
 * UTF-8 (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_sequence(const unsigned char *s, size_t left) {
        size_t n;
        uint32_t cp;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (n > left)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
                return 0;
        return n;
}

/* The whole text is UTF-8 without NUL, checked before anything is read. */
static int check_text(Parser *p) {
        unsigned line = 1, column = 1;

        for (size_t i = 0; i < p->length;) {
                const unsigned char *s = (const unsigned char *) p->text + i;
                size_t n = utf8_sequence(s, p->length - i);

                if (n == 0)
                        return fail(p, line, column, "not UTF-8 (byte 0x%02x)", s[0]);
                if (s[0] == 0)
                        return fail(p, line, column, "a NUL byte");
                if (s[0] == '\n')
                        line++, column = 1;
                else
                        column++;
                i += n;
        }
        return 0;
}

/* Moves one character on, keeping line and column (columns count characters, from 1). */
static void advance(Parser *p) {
        unsigned char c = (unsigned char) p->text[p->pos];

        if (c == '\n') {
                p->line++;
                p->column = 1;
                p->line_has_token = false;
        } else if ((c & 0xc0) != 0x80)
                p->column++;
        p->pos++;
        while (p->pos < p->length && ((unsigned char) p->text[p->pos] & 0xc0) == 0x80)
                p->pos++;
}

static int doc_append(Parser *p, const char *s, size_t length) {
        char *doc = realloc(p->doc, p->doc_length + length + 2);

        if (!doc)
                return -ENOMEM;
        p->doc = doc;
        if (p->doc_length > 0)
                p->doc[p->doc_length++] = '\n';
        memcpy(p->doc + p->doc_length, s, length);
        p->doc_length += length;
        p->doc[p->doc_length] = 0;
        return 0;
}

/* A comment: documentation of what follows when it stands on a line of its own. */
static int skip_comment(Parser *p) {
        size_t start = p->pos + 1, end;
        bool is_doc = !p->line_has_token;

        while (p->pos < p->length && p->text[p->pos] != '\n')
                advance(p);
        if (!is_doc)
                return 0;
        end = p->pos;
        if (end > start && p->text[end - 1] == '\r')
                end--;
        if (start < end && p->text[start] == ' ')
                start++;
        return doc_append(p, p->text + start, end - start) < 0 ? out_of_memory(p) : 0;
}

/* Spaces, line ends and comments; a blank line ends the documentation gathered so far. */
static int skip_space(Parser *p) {
        bool blank = true;

        while (p->pos < p->length) {
                char c = p->text[p->pos];

                if (c == '#') {
                        if (skip_comment(p) < 0)
                                return -ENOMEM;
                        blank = false;
                } else if (c == '\n') {
                        if (blank && !p->line_has_token)
                                p->doc_length = 0;
                        blank = true;
                        advance(p);
                } else if (c == ' ' || c == '\t' || c == '\r')
                        advance(p);
                else
                        break;
        }
        return 0;
}

static bool is_word_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '.' || c == '-';
}

static int next_token(Parser *p) {
        Token *t = &p->token;
        char c;

        if (skip_space(p) < 0)
                return -ENOMEM;
        *t = (Token) { .start = p->text + p->pos, .line = p->line, .column = p->column };
        if (p->doc_length > 0) {
                t->doc = contract_arena_strndup(p->arena, p->doc, p->doc_length);
                if (!t->doc)
                        return out_of_memory(p);
                p->doc_length = 0;
        }
        if (p->pos >= p->length) {
                t->kind = TOKEN_END;
                return 0;
        }
        p->line_has_token = true;
        c = p->text[p->pos];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
                while (p->pos < p->length && is_word_char(p->text[p->pos]))
                        advance(p);
                t->kind = TOKEN_WORD;
        } else if (c == '-' && p->pos + 1 < p->length && p->text[p->pos + 1] == '>') {
                advance(p);
                advance(p);
                t->kind = TOKEN_ARROW;
        } else if (strchr("(),:?[]", c)) {
                advance(p);
                t->kind = TOKEN_PUNCT;
        } else
                return fail(p, t->line, t->column, "unexpected character '%.*s'",
                            (int) utf8_sequence((const unsigned char *) t->start, p->length - p->pos), t->start);
        t->length = (size_t) (p->text + p->pos - t->start);
        return 0;
}

/* The kind of the token after the current one, and whether it is `punct`; nothing moves. */
static int peek_is_punct(Parser *p, char punct, bool *ret) {
        size_t pos = p->pos;
        unsigned line = p->line, column = p->column;
        bool line_has_token = p->line_has_token;
        Token saved = p->token;
        int r = next_token(p);

        *ret = r >= 0 && p->token.kind == TOKEN_PUNCT && p->token.start[0] == punct;
        p->pos = pos;
        p->line = line;
        p->column = column;
        p->line_has_token = line_has_token;
        p->token = saved;
        p->doc_length = 0;
        return r;
}

static bool token_is(const Parser *p, const char *word) {
        size_t n = strlen(word);

        return p->token.kind != TOKEN_END && p->token.length == n && memcmp(p->token.start, word, n) == 0;
}

static bool token_is_punct(const Parser *p, char c) {
        return p->token.kind == TOKEN_PUNCT && p->token.start[0] == c;
}

/* What the current token is, for "expected X, got Y" messages. */
static const char *token_describe(const Parser *p, char *buffer, size_t size) {
        if (p->token.kind == TOKEN_END)
                return "the end of the file";
        snprintf(buffer, size, "'%.*s'", (int) (p->token.length > 40 ? 40 : p->token.length), p->token.start);
        return buffer;
}

static int expect_punct(Parser *p, char c) {
        char got[48], want[2] = { c, 0 };

        if (!token_is_punct(p, c))
                return fail(p, p->token.line, p->token.column, "expected '%s', got %s", want,
                            token_describe(p, got, sizeof got));
        return next_token(p);
}

/* ---- names ----------------------------------------------------------------------------------- */

static int check_length(Parser *p, const char *what) {
        if (p->token.length > CONTRACT_MAX_NAME_LENGTH)
                return fail(p, p->token.line, p->token.column, "%s longer than %u bytes", what,
                            CONTRACT_MAX_NAME_LENGTH);
        return 0;
}

/* A member's name: [A-Z][A-Za-z0-9]*. */
static bool is_member_name(const char *s, size_t n) {
        if (n == 0 || !(s[0] >= 'A' && s[0] <= 'Z'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
                        return false;
        return true;
}

/* A field's or an enum value's name: [A-Za-z](_?[A-Za-z0-9])*. */
static bool is_field_name(const char *s, size_t n) {
        if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')) || s[n - 1] == '_')
                return false;
        for (size_t i = 1; i < n; i++) {
                bool alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9');

                if (!alnum && !(s[i] == '_' && s[i - 1] != '_'))
                        return false;
        }
        return true;
}

/* Takes the current word as a name checked by `valid`; moves on. */
static int take_name(Parser *p, bool (*valid)(const char *, size_t), const char *what, const char *rule,
                     char **ret) {
        char got[48];
        int r;

        if (p->token.kind != TOKEN_WORD)
                return fail(p, p->token.line, p->token.column, "expected %s, got %s", what,
                            token_describe(p, got, sizeof got));
        r = check_length(p, what);
        if (r < 0)
                return r;
        if (!valid(p->token.start, p->token.length))
                return fail(p, p->token.line, p->token.column, "'%.*s' is not a valid %s (%s)",
                            (int) p->token.length, p->token.start, what, rule);
        *ret = contract_arena_strndup(p->arena, p->token.start, p->token.length);
        if (!*ret)
                return out_of_memory(p);
        return next_token(p);
}

/* ---- types ----------------------------------------------------------------------------------- */

static const struct {
        const char *name;
        ContractKind kind;
        char scalar;
} builtin_types[] = {
        { "bool", CONTRACT_KIND_SCALAR, 'b' },    { "byte", CONTRACT_KIND_SCALAR, 'y' },
        { "int16", CONTRACT_KIND_SCALAR, 'n' },   { "uint16", CONTRACT_KIND_SCALAR, 'q' },
        { "int32", CONTRACT_KIND_SCALAR, 'i' },   { "uint32", CONTRACT_KIND_SCALAR, 'u' },
        { "int64", CONTRACT_KIND_SCALAR, 'x' },   { "uint64", CONTRACT_KIND_SCALAR, 't' },
        { "int", CONTRACT_KIND_SCALAR, 'x' },     { "float", CONTRACT_KIND_SCALAR, 'd' },
        { "double", CONTRACT_KIND_SCALAR, 'd' },  { "string", CONTRACT_KIND_SCALAR, 's' },
        { "objectpath", CONTRACT_KIND_SCALAR, 'o' }, { "signature", CONTRACT_KIND_SCALAR, 'g' },
        { "variant", CONTRACT_KIND_VARIANT, 0 },  { "object", CONTRACT_KIND_OBJECT, 0 },
};

/* A type's text as written, cut at TEXT_MAX bytes with "...". */
static int set_text(Parser *p, ContractType *type, const char *a, const char *b, const char *c) {
        char buffer[TEXT_MAX + 4];
        int n = snprintf(buffer, sizeof buffer, "%s%s%s", a, b ? b : "", c ? c : "");

        if (n > TEXT_MAX)
                memcpy(buffer + TEXT_MAX - 3, "...", 4);
        type->text = contract_arena_strndup(p->arena, buffer, strlen(buffer));
        return type->text ? 0 : out_of_memory(p);
}

static int parse_type(Parser *p, unsigned depth, const ContractType **ret);
static int parse_parenthesized(Parser *p, unsigned depth, bool allow_enum, ContractType **ret);

static int parse_named_type(Parser *p, const ContractType **ret) {
        ContractType *type;
        Reference *references;

        for (size_t i = 0; i < sizeof builtin_types / sizeof builtin_types[0]; i++)
                if (token_is(p, builtin_types[i].name)) {
                        type = contract_arena_new_type(p->arena, builtin_types[i].kind);
                        if (!type)
                                return out_of_memory(p);
                        type->scalar = builtin_types[i].scalar;
                        type->name = type->text = builtin_types[i].name;
                        *ret = type;
                        return next_token(p);
                }
        if (!is_member_name(p->token.start, p->token.length))
                return fail(p, p->token.line, p->token.column,
                            "unknown type '%.*s' (a type is a D-Bus or varlink type name, or a type declared "
                            "with `type Name`)",
                            (int) (p->token.length > 64 ? 64 : p->token.length), p->token.start);
        if (check_length(p, "a type name") < 0)
                return -EINVAL;
        type = contract_arena_new_type(p->arena, CONTRACT_KIND_REFERENCE);
        if (!type || !(type->name = contract_arena_strndup(p->arena, p->token.start, p->token.length)))
                return out_of_memory(p);
        type->text = type->name;
        if (p->n_references == p->references_allocated) {
                size_t n = p->references_allocated ? p->references_allocated * 2 : 16;

                references = realloc(p->references, n * sizeof(Reference));
                if (!references)
                        return out_of_memory(p);
                p->references = references;
                p->references_allocated = n;
        }
        p->references[p->n_references++] = (Reference) { type, p->token.line, p->token.column };
        *ret = type;
        return next_token(p);
}

/* []T or [string]T, after the '['. */
static int parse_array_or_map(Parser *p, unsigned depth, const ContractType **ret) {
        ContractType *type;
        const ContractType *element = NULL;
        bool map = false;
        int r;

        if (token_is(p, "string")) {
                map = true;
                r = next_token(p);
        } else if (p->token.kind == TOKEN_WORD)
                return fail(p, p->token.line, p->token.column, "a map's keys are strings: [string]T, not [%.*s]T",
                            (int) (p->token.length > 40 ? 40 : p->token.length), p->token.start);
        else
                r = 0;
        if (r < 0 || (r = expect_punct(p, ']')) < 0)
                return r;
        if (token_is_punct(p, '?'))
                return fail(p, p->token.line, p->token.column,
                            "'?' may only start a field's type: an array or map cannot hold a missing element");
        r = parse_type(p, depth + 1, &element);
        if (r < 0)
                return r;
        type = contract_arena_new_type(p->arena, map ? CONTRACT_KIND_MAP : CONTRACT_KIND_ARRAY);
        if (!type)
                return out_of_memory(p);
        type->element = element;
        r = set_text(p, type, map ? "[string]" : "[]", element->text, NULL);
        *ret = type;
        return r;
}

static int parse_type(Parser *p, unsigned depth, const ContractType **ret) {
        char got[48];

        if (depth > CONTRACT_MAX_TYPE_DEPTH)
                return fail(p, p->token.line, p->token.column, "types nested deeper than %u",
                            CONTRACT_MAX_TYPE_DEPTH);
        if (token_is_punct(p, '?'))
                return fail(p, p->token.line, p->token.column, "'?' may only start a field's type");
        if (token_is_punct(p, '[')) {
                int r = next_token(p);

                return r < 0 ? r : parse_array_or_map(p, depth, ret);
        }
        if (token_is_punct(p, '(')) {
                ContractType *type = NULL;
                int r = parse_parenthesized(p, depth, true, &type);

                *ret = type;
                return r;
        }
        if (p->token.kind == TOKEN_WORD)
                return parse_named_type(p, ret);
        return fail(p, p->token.line, p->token.column, "expected a type, got %s", token_describe(p, got, sizeof got));
}

/* ---- records and enums ----------------------------------------------------------------------- */

/* A growing list of fields or enum values, copied into the arena when complete. */
typedef struct FieldList {
        ContractField *fields;
        size_t n, allocated;
} FieldList;

static void field_list_done(FieldList *l) {
        free(l->fields);
}

static int field_list_add(Parser *p, FieldList *l, const ContractField *field) {
        if (l->n == CONTRACT_MAX_FIELDS)
                return fail(p, p->token.line, p->token.column, "more than %u fields in one list",
                            CONTRACT_MAX_FIELDS);
        if (l->n == l->allocated) {
                size_t n = l->allocated ? l->allocated * 2 : 8;
                ContractField *fields = realloc(l->fields, n * sizeof(ContractField));

                if (!fields)
                        return out_of_memory(p);
                l->fields = fields;
                l->allocated = n;
        }
        l->fields[l->n++] = *field;
        return 0;
}

/* name: ?T, with the comment lines before the name as its documentation. */
static int parse_field(Parser *p, unsigned depth, FieldList *l) {
        ContractField field = { .doc = p->token.doc };
        unsigned line = p->token.line, column = p->token.column;
        int r = take_name(p, is_field_name, "field name", "a letter, then letters, digits and single '_'",
                          &field.name);

        if (r < 0 || (r = expect_punct(p, ':')) < 0)
                return r;
        if (token_is_punct(p, '?')) {
                field.optional = true;
                if ((r = next_token(p)) < 0)
                        return r;
        }
        r = parse_type(p, depth + 1, &field.type);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->fields[i].name, field.name) == 0)
                        return fail(p, line, column, "'%s' appears twice in one list", field.name);
        return field_list_add(p, l, &field);
}

static int parse_enum_value(Parser *p, FieldList *l) {
        ContractField value = { 0 };
        unsigned line = p->token.line, column = p->token.column;
        int r = take_name(p, is_field_name, "enum value", "a letter, then letters, digits and single '_'",
                          &value.name);

        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->fields[i].name, value.name) == 0)
                        return fail(p, line, column, "'%s' appears twice in one enum", value.name);
        return field_list_add(p, l, &value);
}

/* The record's or the enum's text: "(x: int, y: ?string)", "(a, b)". */
static int list_text(Parser *p, ContractType *type, const FieldList *l, bool is_enum) {
        char buffer[TEXT_MAX + 8] = "(";
        size_t n = 1;

        for (size_t i = 0; i < l->n && n < TEXT_MAX; i++) {
                int k = is_enum ? snprintf(buffer + n, sizeof buffer - n, "%s%s", i ? ", " : "", l->fields[i].name)
                                : snprintf(buffer + n, sizeof buffer - n, "%s%s: %s%s", i ? ", " : "",
                                           l->fields[i].name, l->fields[i].optional ? "?" : "",
                                           l->fields[i].type->text);
                n = k < 0 ? sizeof buffer : n + (size_t) k;
        }
        return set_text(p, type, n < sizeof buffer ? buffer : "(", n < sizeof buffer ? ")" : "...", NULL);
}

static int finish_list(Parser *p, FieldList *l, bool is_enum, ContractType **ret) {
        ContractType *type = contract_arena_new_type(p->arena, is_enum ? CONTRACT_KIND_ENUM : CONTRACT_KIND_RECORD);

        if (!type)
                return out_of_memory(p);
        if (is_enum) {
                type->values = contract_arena_alloc(p->arena, l->n * sizeof(char *));
                if (!type->values)
                        return out_of_memory(p);
                for (size_t i = 0; i < l->n; i++)
                        type->values[i] = l->fields[i].name;
                type->n_values = l->n;
        } else {
                type->fields = contract_arena_alloc(p->arena, l->n * sizeof(ContractField));
                if (!type->fields)
                        return out_of_memory(p);
                if (l->n > 0)
                        memcpy(type->fields, l->fields, l->n * sizeof(ContractField));
                type->n_fields = l->n;
        }
        *ret = type;
        return list_text(p, type, l, is_enum);
}

/* ( ... ) from its '(': a record, or (when allowed) an enum; the empty list is a record. */
static int parse_parenthesized(Parser *p, unsigned depth, bool allow_enum, ContractType **ret) {
        _contract_cleanup_(field_list_done) FieldList l = { 0 };
        bool is_enum = false;
        int r;

        if (depth > CONTRACT_MAX_TYPE_DEPTH)
                return fail(p, p->token.line, p->token.column, "types nested deeper than %u",
                            CONTRACT_MAX_TYPE_DEPTH);
        if ((r = expect_punct(p, '(')) < 0)
                return r;
        if (p->token.kind == TOKEN_WORD) {
                bool colon;

                if ((r = peek_is_punct(p, ':', &colon)) < 0)
                        return r;
                is_enum = !colon;
                if (is_enum && !allow_enum)
                        return fail(p, p->token.line, p->token.column,
                                    "expected 'name: type', got '%.*s' alone (an enum is only a field's type)",
                                    (int) (p->token.length > 40 ? 40 : p->token.length), p->token.start);
        }
        while (!token_is_punct(p, ')')) {
                if (l.n > 0 && (r = expect_punct(p, ',')) < 0)
                        return r;
                r = is_enum ? parse_enum_value(p, &l) : parse_field(p, depth, &l);
                if (r < 0)
                        return r;
        }
        if ((r = next_token(p)) < 0)
                return r;
        return finish_list(p, &l, is_enum, ret);
}

/* ---- members --------------------------------------------------------------------------------- */

typedef struct MemberList {
        ContractMember *members;
        size_t n, allocated;
} MemberList;

static void member_list_done(MemberList *l) {
        free(l->members);
}

static int check_reserved(Parser *p, const ContractType *list, unsigned line, unsigned column) {
        for (size_t i = 0; i < list->n_fields; i++)
                if (strcmp(list->fields[i].name, CONTRACT_KEY_ACTION) == 0 ||
                    strcmp(list->fields[i].name, CONTRACT_KEY_ERROR) == 0)
                        return fail(p, line, column, "'%s' is the wire's own key, not a field name here",
                                    list->fields[i].name);
        return 0;
}

static int member_list_add(Parser *p, MemberList *l, const ContractMember *m, unsigned column) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->members[i].name, m->name) == 0)
                        return fail(p, m->line, column, "'%s' is declared twice (first on line %u)", m->name,
                                    l->members[i].line);
        if (l->n == l->allocated) {
                size_t n = l->allocated ? l->allocated * 2 : 16;
                ContractMember *members = realloc(l->members, n * sizeof(ContractMember));

                if (!members)
                        return out_of_memory(p);
                l->members = members;
                l->allocated = n;
        }
        l->members[l->n++] = *m;
        return 0;
}

static const struct {
        const char *keyword;
        ContractMemberKind kind;
} member_keywords[] = {
        { "method", CONTRACT_METHOD },
        { "callback", CONTRACT_CALLBACK },
        { "error", CONTRACT_ERROR },
        { "type", CONTRACT_TYPE },
};

static int parse_member_body(Parser *p, ContractMember *m) {
        ContractType *input = NULL, *output = NULL;
        unsigned line = p->token.line, column = p->token.column;
        int r = parse_parenthesized(p, 0, m->kind == CONTRACT_TYPE, &input);

        if (r < 0)
                return r;
        m->input = input;
        if (m->kind == CONTRACT_TYPE) {
                input->name = m->name;
                return 0;
        }
        if ((r = check_reserved(p, input, line, column)) < 0)
                return r;
        if (m->kind == CONTRACT_ERROR)
                return 0;
        if (p->token.kind != TOKEN_ARROW) {
                char got[48];

                return fail(p, p->token.line, p->token.column, "expected '->' and the results, got %s",
                            token_describe(p, got, sizeof got));
        }
        if ((r = next_token(p)) < 0)
                return r;
        line = p->token.line, column = p->token.column;
        if ((r = parse_parenthesized(p, 0, false, &output)) < 0)
                return r;
        m->output = output;
        return check_reserved(p, output, line, column);
}

static int parse_member(Parser *p, MemberList *l) {
        ContractMember m = { .doc = p->token.doc, .line = p->token.line };
        unsigned column;
        size_t i;
        int r;

        for (i = 0; i < sizeof member_keywords / sizeof member_keywords[0]; i++)
                if (token_is(p, member_keywords[i].keyword))
                        break;
        if (i == sizeof member_keywords / sizeof member_keywords[0]) {
                char got[48];

                return fail(p, p->token.line, p->token.column,
                            "expected 'method', 'callback', 'error' or 'type', got %s",
                            token_describe(p, got, sizeof got));
        }
        if (l->n == CONTRACT_MAX_MEMBERS)
                return fail(p, p->token.line, p->token.column, "more than %u members", CONTRACT_MAX_MEMBERS);
        m.kind = member_keywords[i].kind;
        if ((r = next_token(p)) < 0)
                return r;
        m.line = p->token.line;
        column = p->token.column;
        r = take_name(p, is_member_name, "member name", "an upper-case letter, then letters and digits", &m.name);
        if (r < 0 || (r = parse_member_body(p, &m)) < 0)
                return r;
        return member_list_add(p, l, &m, column);
}

static int parse_interface(Parser *p, Contract *c) {
        char got[48];
        int r;

        if (!token_is(p, "interface"))
                return fail(p, p->token.line, p->token.column, "expected 'interface NAME' first, got %s",
                            token_describe(p, got, sizeof got));
        c->doc = p->token.doc;
        if ((r = next_token(p)) < 0)
                return r;
        if (p->token.kind != TOKEN_WORD)
                return fail(p, p->token.line, p->token.column, "expected the interface's name, got %s",
                            token_describe(p, got, sizeof got));
        if ((r = check_length(p, "the interface's name")) < 0)
                return r;
        c->name = contract_arena_strndup(p->arena, p->token.start, p->token.length);
        if (!c->name)
                return out_of_memory(p);
        if (!contract_name_is_valid(c->name))
                return fail(p, p->token.line, p->token.column,
                            "'%s' is not a valid interface name (lower-case letters, digits and '-', in two or "
                            "more parts separated by '.')",
                            c->name);
        return next_token(p);
}

/* ---- after the text: references, cycles, signatures ------------------------------------------- */

static int resolve_references(Parser *p, const MemberList *l) {
        for (size_t i = 0; i < p->n_references; i++) {
                Reference *ref = &p->references[i];
                const ContractMember *target = NULL;

                for (size_t j = 0; j < l->n && !target; j++)
                        if (strcmp(l->members[j].name, ref->type->name) == 0)
                                target = &l->members[j];
                if (!target)
                        return fail(p, ref->line, ref->column, "unknown type '%s'", ref->type->name);
                if (target->kind != CONTRACT_TYPE)
                        return fail(p, ref->line, ref->column, "'%s' is %s %s, not a type", ref->type->name,
                                    target->kind == CONTRACT_ERROR ? "an" : "a",
                                    contract_member_kind_to_string(target->kind));
                /* The reference takes the named type's place, as itself (resolve() follows it). */
                ref->type->element = target->input;
        }
        return 0;
}

static const ContractType *resolve(const ContractType *t) {
        return t && t->kind == CONTRACT_KIND_REFERENCE ? t->element : t;
}

/* Every pointer to a reference now points to the named type itself. */
static void replace_references(ContractArena *arena) {
        for (size_t i = 0; i < arena->n_types; i++) {
                ContractType *t = arena->types[i];

                if (t->kind == CONTRACT_KIND_ARRAY || t->kind == CONTRACT_KIND_MAP)
                        t->element = resolve(t->element);
                for (size_t j = 0; j < t->n_fields; j++)
                        t->fields[j].type = resolve(t->fields[j].type);
        }
}

/* Whether `from` reaches `target` through fields that must be present (a value without end). */
static bool reaches(const ContractType *from, const ContractType *target, unsigned stamp) {
        if (from->kind != CONTRACT_KIND_RECORD || from->mark == stamp)
                return false;
        ((ContractType *) from)->mark = stamp;
        for (size_t i = 0; i < from->n_fields; i++) {
                const ContractType *t = from->fields[i].type;

                if (from->fields[i].optional || t->kind != CONTRACT_KIND_RECORD)
                        continue;
                if (t == target || reaches(t, target, stamp))
                        return true;
        }
        return false;
}

static int check_cycles(Parser *p, const MemberList *l) {
        unsigned stamp = 0;

        for (size_t i = 0; i < l->n; i++) {
                const ContractType *t = l->members[i].input;

                if (l->members[i].kind != CONTRACT_TYPE || t->kind != CONTRACT_KIND_RECORD)
                        continue;
                if (reaches(t, t, ++stamp))
                        return fail(p, l->members[i].line, 1,
                                    "type '%s' contains itself through fields that are never left out: no "
                                    "value of it could end (make one '?', or go through an array or a map)",
                                    l->members[i].name);
        }
        return 0;
}

static const char *element_signature(const ContractType *t) {
        return t->kind == CONTRACT_KIND_VARIANT ? "v" : t->signature;
}

static int compute_signature(Parser *p, ContractType *t) {
        static const char *const scalars[] = { "b", "y", "n", "q", "i", "u", "x", "t", "d", "s", "o", "g" };
        const char *e;
        char *s;

        if (t->signature || t->kind == CONTRACT_KIND_VARIANT)
                return 0;
        switch ((int) t->kind) {
        case CONTRACT_KIND_SCALAR:
                for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
                        if (scalars[i][0] == t->scalar)
                                t->signature = scalars[i];
                return 0;
        case CONTRACT_KIND_OBJECT:
        case CONTRACT_KIND_RECORD:
                t->signature = "a{sv}";
                return 0;
        case CONTRACT_KIND_ENUM:
                t->signature = "s";
                return 0;
        case CONTRACT_KIND_ARRAY:
        case CONTRACT_KIND_MAP:
                if (compute_signature(p, (ContractType *) t->element) < 0)
                        return -ENOMEM;
                e = element_signature(t->element);
                s = contract_arena_alloc(p->arena, strlen(e) + 5);
                if (!s)
                        return out_of_memory(p);
                sprintf(s, t->kind == CONTRACT_KIND_ARRAY ? "a%s" : "a{s%s}", e);
                t->signature = s;
                return 0;
        }
        return 0;
}

static int finish(Parser *p, MemberList *l, Contract *c) {
        int r;

        if ((r = resolve_references(p, l)) < 0)
                return r;
        replace_references(p->arena);
        if ((r = check_cycles(p, l)) < 0)
                return r;
        for (size_t i = 0; i < p->arena->n_types; i++)
                if (p->arena->types[i]->kind != CONTRACT_KIND_REFERENCE &&
                    (r = compute_signature(p, p->arena->types[i])) < 0)
                        return r;
        c->members = contract_arena_alloc(p->arena, l->n * sizeof(ContractMember));
        if (!c->members)
                return out_of_memory(p);
        if (l->n > 0)
                memcpy(c->members, l->members, l->n * sizeof(ContractMember));
        c->n_members = l->n;
        return 0;
}

static int parse_all(Parser *p, Contract *c) {
        _contract_cleanup_(member_list_done) MemberList l = { 0 };
        int r;

        if ((r = check_text(p)) < 0 || (r = next_token(p)) < 0 || (r = parse_interface(p, c)) < 0)
                return r;
        while (p->token.kind != TOKEN_END) {
                if (token_is(p, "interface"))
                        return fail(p, p->token.line, p->token.column, "a second 'interface': one per file");
                if ((r = parse_member(p, &l)) < 0)
                        return r;
        }
        return finish(p, &l, c);
}

int contract_parse(const char *text, size_t length, const char *origin, Contract **ret, char **ret_error) {
        Parser p = { .text = text, .length = length, .line = 1, .column = 1, .origin = origin ? origin : "contract" };
        Contract *c;
        int r;

        *ret = NULL;
        if (ret_error)
                *ret_error = NULL;
        if (length > CONTRACT_MAX_FILE_SIZE) {
                if (ret_error && asprintf(ret_error, "%s: larger than %u bytes", p.origin, CONTRACT_MAX_FILE_SIZE) < 0)
                        *ret_error = NULL;
                return -EFBIG;
        }
        c = calloc(1, sizeof(Contract));
        p.arena = calloc(1, sizeof(ContractArena));
        if (!c || !p.arena) {
                free(c);
                free(p.arena);
                return -ENOMEM;
        }
        c->priv = p.arena;
        r = parse_all(&p, c);
        free(p.doc);
        free(p.references);
        if (r < 0) {
                contract_free(c);
                if (ret_error)
                        *ret_error = p.error;
                else
                        free(p.error);
                return r;
        }
        *ret = c;
        return 0;
}

static int load_fail(char **ret_error, int r, const char *path, const char *what) {
        if (ret_error && asprintf(ret_error, "%s: %s: %s", path, what, strerror(-r)) < 0)
                *ret_error = NULL;
        return r;
}

static int open_regular_without_proc(const char *path) {
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return -EINVAL;
        }
        return fd;
}

/* Opens `path` for reading once it is known to be a regular file: the type is looked at through
 * an O_PATH descriptor, which opens nothing, then the very same file is opened through it. */
static int open_regular(const char *path) {
        char proc[64];
        struct stat st;
        int pfd, fd;

        pfd = open(path, O_PATH | O_CLOEXEC);
        if (pfd < 0)
                return -errno;
        if (fstat(pfd, &st) < 0) {
                fd = -errno;
                close(pfd);
                return fd;
        }
        if (!S_ISREG(st.st_mode)) {
                close(pfd);
                return -EINVAL;
        }
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
        fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        fd = fd < 0 ? -errno : fd;
        close(pfd);
        if (fd == -ENOENT)      /* no /proc: open without blocking, and look again */
                return open_regular_without_proc(path);
        return fd;
}

int contract_read(const char *path, char **ret_text, size_t *ret_length, char **ret_error) {
        _contract_cleanup_(contract_freep_free) char *text = NULL;
        size_t length = 0;
        int fd, r = 0;

        *ret_text = NULL;
        if (ret_error)
                *ret_error = NULL;
        fd = open_regular(path);
        if (fd < 0)
                return load_fail(ret_error, fd, path, fd == -EINVAL ? "not a regular file" : "cannot open");
        text = malloc(CONTRACT_MAX_FILE_SIZE + 2);
        if (!text) {
                close(fd);
                return -ENOMEM;
        }
        while (length <= CONTRACT_MAX_FILE_SIZE) {
                ssize_t n = read(fd, text + length, CONTRACT_MAX_FILE_SIZE + 1 - length);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                length += (size_t) n;
        }
        close(fd);
        if (r < 0)
                return load_fail(ret_error, r, path, "cannot read");
        text[length] = 0;
        *ret_text = text;
        text = NULL;
        *ret_length = length;
        return 0;
}

int contract_load(const char *path, Contract **ret, char **ret_error) {
        _contract_cleanup_(contract_freep_free) char *text = NULL;
        size_t length = 0;
        int r;

        *ret = NULL;
        r = contract_read(path, &text, &length, ret_error);
        if (r < 0)
                return r;
        return contract_parse(text, length, path, ret, ret_error);
}
