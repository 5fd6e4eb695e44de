/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "contract-check.h"
#include "util.h"
#include "valueset.h"

/* Where the walk is, for the sentence: "point.x", "items[3].name". */
typedef struct KeyPath {
        char text[256];
        size_t length;
} KeyPath;

typedef struct Check {
        sd_bus_message *m;
        const char *subject;     /* "action 'Hello'", "the response to action 'Hello'" */
        KeyPath path;
        char **reason;
} Check;

static int violation(Check *k, const char *format, ...) __attribute__((format(printf, 2, 3)));
static int violation(Check *k, const char *format, ...) {
        char *what = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&what, format, ap) < 0)
                what = NULL;
        va_end(ap);
        if (!what)
                return -ENOMEM;
        if (k->path.length > 0 ? asprintf(k->reason, "%s: key '%s': %s", k->subject, k->path.text, what) < 0
                               : asprintf(k->reason, "%s: %s", k->subject, what) < 0)
                *k->reason = NULL;
        free(what);
        return *k->reason ? -EBADMSG : -ENOMEM;
}

/* Appends ".key" (or "key" at the top) or "[i]"; returns the length to go back to. */
static size_t path_push(KeyPath *p, const char *key, long index) {
        size_t before = p->length;
        size_t room = sizeof p->text - p->length;
        int n = key ? snprintf(p->text + p->length, room, "%s%s", p->length ? "." : "", key)
                    : snprintf(p->text + p->length, room, "[%ld]", index);

        p->length = n < 0 || (size_t) n >= room ? sizeof p->text - 1 : p->length + (size_t) n;
        return before;
}

static void path_pop(KeyPath *p, size_t length) {
        p->length = length;
        p->text[length] = 0;
}

/* A D-Bus type as a person reads it: "int32 (i)", "a value of type a{sv}". */
static const char *type_name(const char *signature) {
        static const struct {
                char code;
                const char *name;
        } names[] = {
                { 'b', "bool" },   { 'y', "byte" },   { 'n', "int16" },      { 'q', "uint16" },    { 'i', "int32" },
                { 'u', "uint32" }, { 'x', "int64" },  { 't', "uint64" },     { 'd', "double" },    { 's', "string" },
                { 'o', "objectpath" }, { 'g', "signature" }, { 'v', "variant" }, { 'h', "unix fd" },
        };

        if (signature && signature[0] && !signature[1])
                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        if (names[i].code == signature[0])
                                return names[i].name;
        if (signature && strcmp(signature, "a{sv}") == 0)
                return "a ValueSet";
        if (signature && strcmp(signature, "av") == 0)
                return "null or an array of variants";
        return "a value";
}

static int check_value(Check *k, const ContractType *t, const char *contents, unsigned depth);
static int check_record(Check *k, const ContractType *record, const char *skip_key, unsigned depth);

/* Whether values of `t` need more than their signature compared: records and enums inside. */
static bool needs_walk(const ContractType *t) {
        while (t->kind == CONTRACT_KIND_ARRAY || t->kind == CONTRACT_KIND_MAP)
                t = t->element;
        return t->kind == CONTRACT_KIND_RECORD || t->kind == CONTRACT_KIND_ENUM;
}

static int check_enum(Check *k, const ContractType *t) {
        const char *s;
        int r = sd_bus_message_read_basic(k->m, 's', &s);

        if (r < 0)
                return r;
        for (size_t i = 0; i < t->n_values; i++)
                if (strcmp(t->values[i], s) == 0)
                        return 0;
        return violation(k, "'%.64s' is not one of %s", s, contract_type_describe(t));
}

/* The elements of an array (or the entries of a map) of `t->element`, one by one. */
static int check_elements(Check *k, const ContractType *t, unsigned depth) {
        bool map = t->kind == CONTRACT_KIND_MAP;
        /* t->signature is "aT" or "a{sT}": the array holds "T" or "{sT}", an entry "sT". */
        const char *inside = t->signature + 1;
        char entry[256], element[256];
        size_t n = strlen(inside);
        long index = 0;
        int r;

        if (n >= sizeof entry)
                return -EBADMSG;
        if (map) {
                memcpy(entry, inside + 1, n - 2);
                entry[n - 2] = 0;
                strcpy(element, entry + 1);
        } else
                strcpy(element, inside);
        r = sd_bus_message_enter_container(k->m, 'a', inside);
        if (r < 0)
                return r;
        for (;; index++) {
                const char *key = NULL;
                size_t back;

                if (map) {
                        r = sd_bus_message_enter_container(k->m, 'e', entry);
                        if (r <= 0)
                                break;
                        if ((r = sd_bus_message_read_basic(k->m, 's', &key)) < 0)
                                return r;
                } else if ((r = sd_bus_message_at_end(k->m, false)) != 0)
                        break;
                back = map ? path_push(&k->path, key, 0) : path_push(&k->path, NULL, index);
                r = check_value(k, t->element, element, depth + 1);
                path_pop(&k->path, back);
                if (r < 0 || (map && (r = sd_bus_message_exit_container(k->m)) < 0))
                        return r;
        }
        return r < 0 ? r : sd_bus_message_exit_container(k->m);
}

/* The value at the message's position, whose D-Bus type is `contents` (already compared with
 * `t`'s signature by the caller where `t` has one). */
static int check_value(Check *k, const ContractType *t, const char *contents, unsigned depth) {
        int r;

        if (depth > VALUESET_MAX_DEPTH)
                return violation(k, "nested deeper than %u", VALUESET_MAX_DEPTH);
        if (t->kind == CONTRACT_KIND_ENUM)
                return check_enum(k, t);
        if (t->kind == CONTRACT_KIND_RECORD) {
                r = sd_bus_message_enter_container(k->m, 'a', "{sv}");
                if (r < 0)
                        return r;
                r = check_record(k, t, NULL, depth + 1);
                return r < 0 ? r : sd_bus_message_exit_container(k->m);
        }
        if ((t->kind == CONTRACT_KIND_ARRAY || t->kind == CONTRACT_KIND_MAP) && needs_walk(t))
                return check_elements(k, t, depth);
        return sd_bus_message_skip(k->m, contents);
}

/* Whether the variant at the position holds the null value, @av []: 1, and it is read; 0 when it
 * is no av at all, nothing read; 2 when it is an av with elements (partly read: a violation). */
static int is_null(Check *k, const char *contents) {
        int r;

        if (strcmp(contents, "av") != 0)
                return 0;
        if ((r = sd_bus_message_enter_container(k->m, 'v', "av")) < 0 ||
            (r = sd_bus_message_enter_container(k->m, 'a', "v")) < 0 ||
            (r = sd_bus_message_at_end(k->m, false)) < 0)
                return r;
        if (r == 0)
                return 2;
        if ((r = sd_bus_message_exit_container(k->m)) < 0 || (r = sd_bus_message_exit_container(k->m)) < 0)
                return r;
        return 1;
}

/* One entry's value: the variant's type against the field's, then inside. */
static int check_field_value(Check *k, const ContractField *f, unsigned depth) {
        const char *contents;
        char type;
        int r = sd_bus_message_peek_type(k->m, &type, &contents);

        if (r < 0)
                return r;
        if (r == 0 || type != 'v')
                return -EBADMSG;
        /* Null (@av []) stands for an optional key left out, unless the key's type is itself an
         * av or any value (a variant), where an av is a value like any other. */
        if (f->optional && f->type->kind != CONTRACT_KIND_VARIANT && strcmp(f->type->signature, "av") != 0) {
                r = is_null(k, contents);
                if (r < 0 || r == 1)
                        return r < 0 ? r : 0;
                if (r == 2)
                        return violation(k, "expected %s (%s) or null, got %s (av)", contract_type_describe(f->type),
                                         f->type->signature ? f->type->signature : "any", type_name("av"));
        }
        if (f->type->kind == CONTRACT_KIND_VARIANT)
                return sd_bus_message_skip(k->m, "v");
        if (strcmp(contents, f->type->signature) != 0)
                return violation(k, "expected %s (%s), got %s (%s)", contract_type_describe(f->type),
                                 f->type->signature, type_name(contents), contents);
        /* A value whose type says it all (no record or enum inside): past it in one step. */
        if (!needs_walk(f->type))
                return sd_bus_message_skip(k->m, "v");
        r = sd_bus_message_enter_container(k->m, 'v', contents);
        if (r < 0)
                return r;
        r = check_value(k, f->type, contents, depth);
        return r < 0 ? r : sd_bus_message_exit_container(k->m);
}

/* "text, count" (the record's field names, cut short), for "it takes: ..." */
static void field_names(const ContractType *record, char *buffer, size_t size) {
        size_t n = 0;

        buffer[0] = 0;
        for (size_t i = 0; i < record->n_fields && n + 4 < size; i++) {
                int k = snprintf(buffer + n, size - n, "%s%s", i ? ", " : "", record->fields[i].name);

                n = k < 0 || (size_t) k >= size - n ? size - 1 : n + (size_t) k;
        }
        if (n >= size - 1 && size > 4)
                memcpy(buffer + size - 4, "...", 4);
        if (record->n_fields == 0)
                snprintf(buffer, size, "no keys");
}

/* The entries of the a{sv} the message is in, against `record`'s fields; `skip_key` (Action,
 * Error) is the wire's own key at the top. */
static int check_record(Check *k, const ContractType *record, const char *skip_key, unsigned depth) {
        uint8_t seen[(CONTRACT_MAX_FIELDS + 7) / 8] = { 0 };
        int r;

        for (;;) {
                const ContractField *f = NULL;
                const char *key;
                size_t back, i;

                r = sd_bus_message_enter_container(k->m, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if ((r = sd_bus_message_read_basic(k->m, 's', &key)) < 0)
                        return r;
                for (i = 0; i < record->n_fields; i++)
                        if (strcmp(record->fields[i].name, key) == 0) {
                                f = &record->fields[i];
                                break;
                        }
                back = path_push(&k->path, key, 0);
                if (f) {
                        seen[i / 8] |= (uint8_t) (1u << (i % 8));
                        r = check_field_value(k, f, depth);
                } else if (skip_key && strcmp(key, skip_key) == 0)
                        r = sd_bus_message_skip(k->m, "v");
                else {
                        char names[128];

                        field_names(record, names, sizeof names);
                        r = violation(k, "not in the contract (it takes: %s)", names);
                }
                path_pop(&k->path, back);
                if (r < 0 || (r = sd_bus_message_exit_container(k->m)) < 0)
                        return r;
        }
        for (size_t i = 0; i < record->n_fields; i++)
                if (!record->fields[i].optional && !(seen[i / 8] & (1u << (i % 8)))) {
                        size_t back = path_push(&k->path, record->fields[i].name, 0);

                        r = violation(k, "missing (%s, %s)", contract_type_describe(record->fields[i].type),
                                      record->fields[i].type->signature ? record->fields[i].type->signature : "any");
                        path_pop(&k->path, back);
                        return r;
                }
        return 0;
}

/* The string value of top-level key `key`, or NULL when there is none; -EBADMSG (with the
 * reason) when it is there but not a string. The message is left at the ValueSet's start. */
static int find_string_key(Check *k, const char *key, const char **ret) {
        int r;

        *ret = NULL;
        r = sd_bus_message_enter_container(k->m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(k->m, 'e', "sv")) > 0) {
                const char *name, *contents;
                char type;

                if ((r = sd_bus_message_read_basic(k->m, 's', &name)) < 0)
                        return r;
                if (strcmp(name, key) == 0) {
                        if ((r = sd_bus_message_peek_type(k->m, &type, &contents)) < 0)
                                return r;
                        if (strcmp(contents, "s") != 0)
                                return violation(k, "key '%s': expected string (s), got %s (%s)", key,
                                                 type_name(contents), contents);
                        if ((r = sd_bus_message_read(k->m, "v", "s", ret)) < 0)
                                return r;
                } else if ((r = sd_bus_message_skip(k->m, "v")) < 0)
                        return r;
                if ((r = sd_bus_message_exit_container(k->m)) < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return valueset_seek(k->m);
}

/* "Hello, Get" (the contract's members of `kind`, cut short). */
static void member_names(const Contract *c, ContractMemberKind kind, char *buffer, size_t size) {
        size_t n = 0;

        buffer[0] = 0;
        for (size_t i = 0; i < c->n_members && n + 4 < size; i++) {
                int w;

                if (c->members[i].kind != kind)
                        continue;
                w = snprintf(buffer + n, size - n, "%s%s", n ? ", " : "", c->members[i].name);
                n = w < 0 || (size_t) w >= size - n ? size - 1 : n + (size_t) w;
        }
        if (n >= size - 1 && size > 4)
                memcpy(buffer + size - 4, "...", 4);
        if (n == 0)
                snprintf(buffer, size, "none");
}

static int check_top(Check *k, const ContractType *record, const char *skip_key) {
        int r = sd_bus_message_enter_container(k->m, 'a', "{sv}");

        if (r < 0)
                return r;
        r = check_record(k, record, skip_key, 2);
        return r < 0 ? r : sd_bus_message_exit_container(k->m);
}

/* The common case in one pass: "Action" is the first key (the library and the generated code put
 * it there). Returns 1 and its value in *ret with the message inside the a{sv}, after that entry;
 * 0 with the message back at the ValueSet's start otherwise. */
static int first_key_is(Check *k, const char *key, const char **ret) {
        const char *name, *contents;
        char type;
        int r;

        *ret = NULL;
        if ((r = sd_bus_message_enter_container(k->m, 'a', "{sv}")) < 0)
                return r;
        if ((r = sd_bus_message_enter_container(k->m, 'e', "sv")) <= 0)
                return r < 0 ? r : valueset_seek(k->m);
        if ((r = sd_bus_message_read_basic(k->m, 's', &name)) < 0 ||
            (r = sd_bus_message_peek_type(k->m, &type, &contents)) < 0)
                return r;
        if (strcmp(name, key) != 0 || strcmp(contents, "s") != 0)
                return valueset_seek(k->m);
        if ((r = sd_bus_message_read(k->m, "v", "s", ret)) < 0 || (r = sd_bus_message_exit_container(k->m)) < 0)
                return r;
        return 1;
}

/* The action a request names, or a violation. */
static int find_action(Check *k, const Contract *c, ContractMemberKind kind, const char *name,
                       const ContractMember **ret) {
        const char *word = kind == CONTRACT_CALLBACK ? "callback" : "action";
        const char *plural = kind == CONTRACT_CALLBACK ? "callbacks" : "actions";
        char names[160];

        *ret = name ? contract_find(c, kind, name) : NULL;
        if (*ret)
                return 0;
        member_names(c, kind, names, sizeof names);
        if (!name)
                return violation(k, "no key 'Action' (s) naming the %s (%s: %s)", word, plural, names);
        return violation(k, "unknown %s '%.64s' (the contract's %s: %s)", word, name, plural, names);
}

int contract_check_request(const Contract *c, bool from_provider, sd_bus_message *m,
                           const ContractMember **ret_action, char **ret_reason) {
        ContractMemberKind kind = from_provider ? CONTRACT_CALLBACK : CONTRACT_METHOD;
        Check k = { .m = m, .subject = "the request", .reason = ret_reason };
        const ContractMember *action;
        char subject[320];
        const char *name;
        int r, first;

        *ret_action = NULL;
        *ret_reason = NULL;
        if ((r = valueset_seek(m)) < 0 || (first = r = first_key_is(&k, CONTRACT_KEY_ACTION, &name)) < 0)
                return r;
        if (!first && (r = find_string_key(&k, CONTRACT_KEY_ACTION, &name)) < 0)
                return r;
        if ((r = find_action(&k, c, kind, name, &action)) < 0)
                return r;
        snprintf(subject, sizeof subject, "%s '%s'", from_provider ? "callback" : "action", action->name);
        k.subject = subject;
        if (first) {
                /* Inside the a{sv}, past "Action": the rest in the same pass. */
                r = check_record(&k, action->input, CONTRACT_KEY_ACTION, 2);
                r = r < 0 ? r : sd_bus_message_exit_container(m);
        } else
                r = check_top(&k, action->input, CONTRACT_KEY_ACTION);
        if (r >= 0)
                *ret_action = action;
        return r;
}

/* The response as the error it names. */
static int check_error_response(Check *k, const Contract *c, const ContractMember *action, const char *name) {
        const char *word = action->kind == CONTRACT_CALLBACK ? "callback" : "action";
        const ContractMember *error = contract_find(c, CONTRACT_ERROR, name);
        char subject[320], names[160];

        if (!error) {
                member_names(c, CONTRACT_ERROR, names, sizeof names);
                return violation(k, "unknown error '%.64s' (the contract's errors: %s)", name, names);
        }
        snprintf(subject, sizeof subject, "the error %s answering %s '%s'", error->name, word, action->name);
        k->subject = subject;
        return check_top(k, error->input, CONTRACT_KEY_ERROR);
}

int contract_check_response(const Contract *c, const ContractMember *action, sd_bus_message *m, char **ret_reason) {
        const char *word = action->kind == CONTRACT_CALLBACK ? "callback" : "action";
        Check k = { .m = m, .reason = ret_reason };
        _cleanup_(freep) char *results_reason = NULL;
        char subject[320];
        const char *name;
        int r;

        *ret_reason = NULL;
        snprintf(subject, sizeof subject, "the response to %s '%s'", word, action->name);
        k.subject = subject;
        /* The results first, in one pass: no result is named "Error", so a response that passes
         * is no error response. Only one that fails is looked at again as an error. */
        if ((r = valueset_seek(m)) < 0)
                return r;
        r = check_top(&k, action->output, NULL);
        if (r != -EBADMSG)
                return r;
        results_reason = TAKE_PTR(*ret_reason);
        if ((r = valueset_seek(m)) < 0 || (r = find_string_key(&k, CONTRACT_KEY_ERROR, &name)) < 0)
                return r;
        if (!name) {
                /* The results' violation stands. */
                *ret_reason = TAKE_PTR(results_reason);
                return -EBADMSG;
        }
        return check_error_response(&k, c, action, name);
}
