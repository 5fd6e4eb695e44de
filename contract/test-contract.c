/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The contract parser on good and hostile files: the model it builds (types, signatures, texts,
 * documentation) and, for every way a file can be wrong, the error with its line and column. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "contract.h"

static int failures;

#define CHECK(cond)                                                                          \
        do {                                                                                 \
                if (!(cond)) {                                                               \
                        fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__, \
                                __func__, #cond);                                            \
                        failures++;                                                          \
                }                                                                            \
        } while (0)

#define CHECK_STR(a, b)                                                                                    \
        do {                                                                                               \
                const char *_a = (a), *_b = (b);                                                           \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                                   \
                        fprintf(stderr, "%s:%d: %s: '%s' != '%s'\n", __FILE__, __LINE__, __func__,         \
                                _a ? _a : "(null)", _b ? _b : "(null)");                                   \
                        failures++;                                                                        \
                }                                                                                          \
        } while (0)

static Contract *parse_ok(const char *text) {
        Contract *c = NULL;
        char *error = NULL;
        int r = contract_parse(text, strlen(text), "test.contract", &c, &error);

        if (r < 0) {
                fprintf(stderr, "unexpected error %d: %s\n", r, error ? error : "(none)");
                failures++;
        }
        free(error);
        return c;
}

/* Parses `text`, which must fail with exactly `want` as the message. */
static void parse_fails(const char *text, size_t length, const char *want, int want_r) {
        Contract *c = NULL;
        char *error = NULL;
        int r = contract_parse(text, length, "bad.contract", &c, &error);

        if (r != want_r || c || !error || strcmp(error, want) != 0) {
                fprintf(stderr, "for %.60s...\n  want %d '%s'\n  got  %d '%s'\n", text, want_r, want, r,
                        error ? error : "(null)");
                failures++;
        }
        free(error);
        contract_free(c);
}

#define FAILS(text, want) parse_fails(text, strlen(text), want, -EINVAL)

static const ContractType *param(const Contract *c, const char *method, const char *field) {
        const ContractMember *m = contract_find(c, CONTRACT_METHOD, method);
        const ContractField *f = m ? contract_type_find_field(m->input, field) : NULL;

        return f ? f->type : NULL;
}

static void test_hello(void) {
        Contract *c = parse_ok("# The Quark \"Hello\" contract.\n"
                               "# Second line.\n"
                               "interface com.example.hello\n"
                               "\n"
                               "# Answers.\n"
                               "method Hello(text: ?string) -> (result: string)\n"
                               "\n"
                               "# Not shown: a blank line follows.\n"
                               "\n"
                               "error Refused(reason: string)\n");
        const ContractMember *m;

        if (!c)
                return;
        CHECK_STR(c->name, "com.example.hello");
        CHECK_STR(c->doc, "The Quark \"Hello\" contract.\nSecond line.");
        CHECK(c->n_members == 2);
        m = contract_find(c, CONTRACT_METHOD, "Hello");
        CHECK(m && m->line == 6);
        CHECK(m && m->doc && strcmp(m->doc, "Answers.") == 0);
        CHECK(m && m->input->kind == CONTRACT_KIND_RECORD && m->input->n_fields == 1);
        CHECK(m && m->input->fields[0].optional);
        CHECK(m && strcmp(m->input->fields[0].type->signature, "s") == 0);
        CHECK(m && m->output->n_fields == 1 && !m->output->fields[0].optional);
        m = contract_find(c, CONTRACT_ERROR, "Refused");
        CHECK(m && m->doc == NULL && m->output == NULL && m->input->n_fields == 1);
        CHECK(contract_find(c, CONTRACT_METHOD, "Refused") == NULL);
        CHECK(contract_find(c, CONTRACT_CALLBACK, "Hello") == NULL);
        contract_free(c);
}

static void test_types(void) {
        Contract *c = parse_ok("interface org.example.types\n"
                               "type Point (x: int32, y: int32)\n"
                               "type Color (red, green, blue)\n"
                               "type Tree (name: string, children: []Tree, parent: ?Tree)\n"
                               "method All(b: bool, y: byte, n: int16, q: uint16, i: int32, u: uint32,\n"
                               "           x: int64, t: uint64, xi: int, f: float, d: double, s: string,\n"
                               "           o: objectpath, g: signature, v: variant, obj: object,\n"
                               "           as: []string, av: []variant, aav: [][]variant, m: [string]uint32,\n"
                               "           mv: [string]variant, p: Point, ps: []Point, c: Color,\n"
                               "           inline: (a: ?bool, b: [](z: byte)), e: (on, off), tree: Tree,\n"
                               "           later: Later) -> ()\n"
                               "callback Ask(question: string) -> (answer: ?string)\n"
                               "type Later (k: [string]Point)\n");
        static const struct {
                const char *field, *signature, *text;
        } want[] = {
                { "b", "b", "bool" },       { "y", "y", "byte" },       { "n", "n", "int16" },
                { "q", "q", "uint16" },     { "i", "i", "int32" },      { "u", "u", "uint32" },
                { "x", "x", "int64" },      { "t", "t", "uint64" },     { "xi", "x", "int" },
                { "f", "d", "float" },      { "d", "d", "double" },     { "s", "s", "string" },
                { "o", "o", "objectpath" }, { "g", "g", "signature" },  { "obj", "a{sv}", "object" },
                { "as", "as", "[]string" }, { "av", "av", "[]variant" }, { "aav", "aav", "[][]variant" },
                { "m", "a{su}", "[string]uint32" }, { "mv", "a{sv}", "[string]variant" },
                { "p", "a{sv}", "Point" },  { "ps", "aa{sv}", "[]Point" }, { "c", "s", "Color" },
                { "inline", "a{sv}", "(a: ?bool, b: [](z: byte))" }, { "e", "s", "(on, off)" },
                { "tree", "a{sv}", "Tree" }, { "later", "a{sv}", "Later" },
        };
        const ContractType *t;

        if (!c)
                return;
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
                t = param(c, "All", want[i].field);
                CHECK(t != NULL);
                if (!t)
                        continue;
                CHECK_STR(t->signature, want[i].signature);
                CHECK_STR(contract_type_describe(t), want[i].text);
        }
        t = param(c, "All", "v");
        CHECK(t && t->kind == CONTRACT_KIND_VARIANT && t->signature == NULL);
        t = param(c, "All", "c");
        CHECK(t && t->kind == CONTRACT_KIND_ENUM && t->n_values == 3 && strcmp(t->values[2], "blue") == 0);
        /* A named type is one object wherever it is used, recursion included. */
        t = param(c, "All", "tree");
        CHECK(t && t->kind == CONTRACT_KIND_RECORD && t->n_fields == 3);
        CHECK(t && t->fields[1].type->element == t && t->fields[2].type == t && t->fields[2].optional);
        CHECK(t && contract_find(c, CONTRACT_TYPE, "Tree")->input == t);
        t = param(c, "All", "later");
        CHECK(t && t->fields[0].type->element == contract_find(c, CONTRACT_TYPE, "Point")->input);
        t = param(c, "All", "inline");
        CHECK(t && t->fields[1].type->kind == CONTRACT_KIND_ARRAY &&
              t->fields[1].type->element->kind == CONTRACT_KIND_RECORD);
        CHECK(contract_find(c, CONTRACT_CALLBACK, "Ask") != NULL);
        CHECK(param(c, "All", "nothing") == NULL);
        contract_free(c);
}

static void test_docs_and_layout(void) {
        Contract *c = parse_ok("interface a.b # not documentation\r\n"
                               "# Doc of M\r\n"
                               "#\r\n"
                               "#   indented\r\n"
                               "method M(\r\n"
                               "  # the x\r\n"
                               "  x: int, # trailing, not the doc of y\r\n"
                               "  y: int\r\n"
                               ") -> ()");
        const ContractMember *m;

        if (!c)
                return;
        CHECK(c->doc == NULL);
        m = contract_find(c, CONTRACT_METHOD, "M");
        CHECK_STR(m ? m->doc : NULL, "Doc of M\n\n  indented");
        CHECK_STR(m ? m->input->fields[0].doc : NULL, "the x");
        CHECK(m && m->input->fields[1].doc == NULL);
        contract_free(c);

        /* Long inline types are cut for messages. */
        c = parse_ok("interface a.b\nmethod M(r: (aaaaaaaaaa: int, bbbbbbbbbb: int, cccccccccc: int, dddddddddd: "
                     "int, eeeeeeeeee: int)) -> ()\n");
        if (c) {
                const char *text = param(c, "M", "r")->text;

                CHECK(strlen(text) <= 80 && strcmp(text + strlen(text) - 3, "...") == 0);
                contract_free(c);
        }
        CHECK(contract_name_is_valid("com.example.hello"));
        CHECK(contract_name_is_valid("io.app-service2.x"));
        CHECK(!contract_name_is_valid("hello"));
        CHECK(!contract_name_is_valid("Com.example"));
        CHECK(!contract_name_is_valid("com..example"));
        CHECK(!contract_name_is_valid("com.example-"));
        CHECK(!contract_name_is_valid("1com.example"));
        CHECK(!contract_name_is_valid("com.example/x"));
        CHECK(!contract_name_is_valid(NULL));
}

static void test_errors(void) {
        FAILS("", "bad.contract:1:1: expected 'interface NAME' first, got the end of the file");
        FAILS("method M() -> ()", "bad.contract:1:1: expected 'interface NAME' first, got 'method'");
        FAILS("interface Com.Example", "bad.contract:1:11: 'Com.Example' is not a valid interface name "
              "(lower-case letters, digits and '-', in two or more parts separated by '.')");
        FAILS("interface a.b\ninterface a.c", "bad.contract:2:1: a second 'interface': one per file");
        FAILS("interface a.b\nfunction F() -> ()",
              "bad.contract:2:1: expected 'method', 'callback', 'error' or 'type', got 'function'");
        FAILS("interface a.b\nmethod hello() -> ()", "bad.contract:2:8: 'hello' is not a valid member name "
              "(an upper-case letter, then letters and digits)");
        FAILS("interface a.b\nmethod M()", "bad.contract:2:11: expected '->' and the results, got the end of the file");
        FAILS("interface a.b\nmethod M() -> ()\nerror M()", "bad.contract:3:7: 'M' is declared twice (first on line 2)");
        FAILS("interface a.b\nmethod M(x: int, x: string) -> ()",
              "bad.contract:2:18: 'x' appears twice in one list");
        FAILS("interface a.b\ntype E (a, b, a)", "bad.contract:2:15: 'a' appears twice in one enum");
        FAILS("interface a.b\nmethod M(Action: string) -> ()",
              "bad.contract:2:9: 'Action' is the wire's own key, not a field name here");
        FAILS("interface a.b\nmethod M() -> (Error: string)",
              "bad.contract:2:15: 'Error' is the wire's own key, not a field name here");
        FAILS("interface a.b\nmethod M(x: []?string) -> ()",
              "bad.contract:2:15: '?' may only start a field's type: an array or map cannot hold a missing element");
        FAILS("interface a.b\nmethod M(x: ??string) -> ()", "bad.contract:2:14: '?' may only start a field's type");
        FAILS("interface a.b\nmethod M(x: [int]string) -> ()",
              "bad.contract:2:14: a map's keys are strings: [string]T, not [int]T");
        FAILS("interface a.b\nmethod M(x: Missing) -> ()", "bad.contract:2:13: unknown type 'Missing'");
        FAILS("interface a.b\nmethod M(x: integer) -> ()",
              "bad.contract:2:13: unknown type 'integer' (a type is a D-Bus or varlink type name, or a type "
              "declared with `type Name`)");
        FAILS("interface a.b\nerror E()\nmethod M(x: E) -> ()", "bad.contract:3:13: 'E' is an error, not a type");
        FAILS("interface a.b\ntype L (next: L)",
              "bad.contract:2:1: type 'L' contains itself through fields that are never left out: no value of it "
              "could end (make one '?', or go through an array or a map)");
        FAILS("interface a.b\ntype A (b: B)\ntype B (c: (a: A))",
              "bad.contract:2:1: type 'A' contains itself through fields that are never left out: no value of it "
              "could end (make one '?', or go through an array or a map)");
        FAILS("interface a.b\nmethod M(a, b) -> ()",
              "bad.contract:2:10: expected 'name: type', got 'a' alone (an enum is only a field's type)");
        FAILS("interface a.b\nmethod M(x int) -> ()",
              "bad.contract:2:10: expected 'name: type', got 'x' alone (an enum is only a field's type)");
        FAILS("interface a.b\nmethod M(x: (a b)) -> ()", "bad.contract:2:16: expected ',', got 'b'");
        FAILS("interface a.b\nmethod M(x: int y: int) -> ()", "bad.contract:2:17: expected ',', got 'y'");
        FAILS("interface a.b\nmethod M(x_: int) -> ()", "bad.contract:2:10: 'x_' is not a valid field name "
              "(a letter, then letters, digits and single '_')");
        FAILS("interface a.b\nmethod M(x: int) -> () $", "bad.contract:2:24: unexpected character '$'");
        FAILS("interface a.b\nmethod M(x: int) -> () é", "bad.contract:2:24: unexpected character 'é'");
        FAILS("interface a.b\n# comment \xff\n", "bad.contract:2:11: not UTF-8 (byte 0xff)");
        FAILS("interface a.b\n# \xed\xa0\x80 a surrogate\n", "bad.contract:2:3: not UTF-8 (byte 0xed)");
        FAILS("interface a.b\n# \xc0\xaf overlong\n", "bad.contract:2:3: not UTF-8 (byte 0xc0)");
        parse_fails("interface a.b\n\0method", 21, "bad.contract:2:1: a NUL byte", -EINVAL);
}

/* Hostile sizes: each is refused with a message, never by crashing or recursing without end. */
static void test_limits(void) {
        size_t n = 200000;
        char *text = malloc(n * 3 + 64), *p;
        Contract *c = NULL;
        char *error = NULL;
        int r;

        CHECK(text != NULL);
        if (!text)
                return;

        /* 100,000 nested arrays, and 50,000 nested records (200 kB). */
        p = stpcpy(text, "interface a.b\nmethod M(x: ");
        for (size_t i = 0; i < 100000; i++)
                *p++ = "[]"[0], *p++ = ']';
        strcpy(p, "int) -> ()");
        r = contract_parse(text, strlen(text), "deep", &c, &error);
        CHECK(r == -EINVAL && error && strstr(error, "types nested deeper than 32"));
        free(error);
        p = stpcpy(text, "interface a.b\nmethod M");
        for (size_t i = 0; i < 50000; i++)
                p = stpcpy(p, "(x: ");
        r = contract_parse(text, strlen(text), "deep", &c, &error);
        CHECK(r == -EINVAL && error && strstr(error, "types nested deeper than 32"));
        free(error);

        /* 33 nested records is one too many; 32 are fine. */
        for (int depth = 32; depth <= 33; depth++) {
                p = stpcpy(text, "interface a.b\nmethod M(x: ");
                for (int i = 0; i < depth - 1; i++)
                        p = stpcpy(p, "(x: ");
                p = stpcpy(p, "int");
                for (int i = 0; i < depth - 1; i++)
                        *p++ = ')';
                strcpy(p, ") -> ()");
                r = contract_parse(text, strlen(text), "deep", &c, &error);
                CHECK(depth == 32 ? r == 0 : r == -EINVAL);
                contract_free(c);
                c = NULL;
                free(error);
                error = NULL;
        }

        /* Past the size limit: -EFBIG before reading anything. */
        memset(text, '#', n * 3);
        r = contract_parse(text, CONTRACT_MAX_FILE_SIZE + 1, "big", &c, &error);
        CHECK(r == -EFBIG && error && strcmp(error, "big: larger than 262144 bytes") == 0);
        free(error);

        /* 1025 members, 1025 fields, a 256-byte name. */
        p = stpcpy(text, "interface a.b\n");
        for (unsigned i = 0; i <= CONTRACT_MAX_MEMBERS; i++)
                p += snprintf(p, 32, "error E%u()\n", i);
        r = contract_parse(text, strlen(text), "many", &c, &error);
        CHECK(r == -EINVAL && error && strcmp(error, "many:1026:1: more than 1024 members") == 0);
        free(error);
        p = stpcpy(text, "interface a.b\nerror E(");
        for (unsigned i = 0; i <= CONTRACT_MAX_FIELDS; i++)
                p += snprintf(p, 32, "%sf%u: int", i ? ", " : "", i);
        strcpy(p, ")");
        r = contract_parse(text, strlen(text), "wide", &c, &error);
        CHECK(r == -EINVAL && error && strstr(error, "more than 1024 fields in one list"));
        free(error);
        p = stpcpy(text, "interface a.b\nerror E");
        memset(p, 'x', 256);
        strcpy(p + 256, "()");
        r = contract_parse(text, strlen(text), "long", &c, &error);
        CHECK(r == -EINVAL && error && strcmp(error, "long:2:7: member name longer than 255 bytes") == 0);
        free(error);

        /* Random bytes: an error, never a crash (the fuzz target does this at length). */
        srand(1);
        for (int round = 0; round < 2000; round++) {
                size_t length = (size_t) (rand() % 200);

                memcpy(text, "interface a.b\n", 14);
                for (size_t i = 14; i < length + 14; i++)
                        text[i] = "()[]?:,->#\n abcXYZ_.intstring"[rand() % 29];
                if (contract_parse(text, length + 14, "random", &c, &error) == 0)
                        contract_free(c);
                free(error);
                c = NULL;
                error = NULL;
        }
        free(text);
}

static void test_load(void) {
        Contract *c = NULL;
        char *error = NULL;
        char path[] = "/tmp/test-contract-XXXXXX";
        int fd = mkstemp(path), r;

        CHECK(fd >= 0);
        CHECK(write(fd, "interface a.b\nmethod M() -> ()\n", 31) == 31);
        close(fd);
        r = contract_load(path, &c, &error);
        CHECK(r == 0 && c && c->n_members == 1);
        contract_free(c);
        unlink(path);
        r = contract_load(path, &c, &error);
        CHECK(r == -ENOENT && error && strstr(error, "cannot open") && strstr(error, path));
        free(error);
        r = contract_load("/tmp", &c, &error);
        CHECK(r == -EINVAL && error && strcmp(error, "/tmp: not a regular file: Invalid argument") == 0);
        free(error);
        /* A device and a FIFO are refused without being opened for reading (no wait, no read). */
        r = contract_load("/dev/zero", &c, &error);
        CHECK(r == -EINVAL && error && strstr(error, "not a regular file"));
        free(error);
        CHECK(mkfifo(path, 0600) == 0);
        r = contract_load(path, &c, &error);
        CHECK(r == -EINVAL && error && strstr(error, "not a regular file"));
        free(error);
        unlink(path);
        r = contract_load(CONTRACT_TEST_DIR "/example.contract", &c, &error);
        CHECK(r == 0 && c && contract_find(c, CONTRACT_CALLBACK, "Notify"));
        if (r < 0)
                fprintf(stderr, "%s\n", error);
        contract_free(c);
}

int main(void) {
        test_hello();
        test_types();
        test_docs_and_layout();
        test_errors();
        test_limits();
        test_load();
        if (failures) {
                fprintf(stderr, "%d check(s) failed\n", failures);
                return 1;
        }
        printf("all contract checks passed\n");
        return 0;
}
