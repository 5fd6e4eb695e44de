/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The parser of the typed JSON mapping: JSON text to a ValueSet (a{sv}), the exact inverse of
 * valueset-json-write.c, and plain JSON by the rules of README.md here.
 *
 * The text comes from outside (an MQTT message from the cloud), so it is read in two passes:
 *
 *   1. our own strict lexer (lex()): UTF-8, RFC 8259 tokens only (no comments, single quotes,
 *      hex numbers or trailing text, which json-glib's scanner lets through), no \u0000 (no D-Bus
 *      string holds one), no lone surrogates, and a bound on nesting before anything recurses
 *      (json-glib's parser recurses once per level and has no bound). It keeps the text of every
 *      number: json-glib reads integers past int64 wrong (2^64-1 as -1), and a "t" needs all
 *      64 bits.
 *   2. json-glib for the grammar and the tree, whose members keep their document order; its
 *      "object-member" signal tells of repeated keys, which it would silently merge.
 *
 * Then the tree is converted in document order, taking the numbers' texts in the same order,
 * checking types, ranges, ValueSet keys and depth as it goes; every error names the place as a
 * JSON Pointer into the document (RFC 6901: "/outer/list/2"). */

#include <errno.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "valueset-json.h"

/* Each JSON container of a valid document stands for a GVariant container or is the {"@TYPE": }
 * wrapper of a variant, so a document within VALUESET_JSON_MAX_DEPTH needs at most twice as
 * many JSON levels. Deeper text is refused by the lexer, before json-glib recurses into it. */
#define LEX_MAX_DEPTH (2 * VALUESET_JSON_MAX_DEPTH)

/* A D-Bus signature is at most 255 bytes; a longer "@TYPE" cannot be carried anyway. */
#define TYPE_MAX 255

G_DEFINE_QUARK(valueset-json-error-quark, valueset_json_error)

typedef struct {
        gsize start;
        gsize length;
        gboolean integer; /* no fraction, no exponent */
} Number;

typedef struct {
        const char *text;
        GArray *numbers; /* Number, in document order */
        guint next_number;
        GHashTable *member_names; /* JsonObject * → GHashTable of its member names, while parsing */
        GHashTable *repeated;     /* JsonObject * → the first member name it had twice */
        GString *path;            /* JSON Pointer of what is being converted */
} Parse;

static void parse_done(Parse *p) {
        g_clear_pointer(&p->numbers, g_array_unref);
        g_clear_pointer(&p->member_names, g_hash_table_unref);
        g_clear_pointer(&p->repeated, g_hash_table_unref);
        if (p->path)
                g_string_free(g_steal_pointer(&p->path), TRUE);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Parse, parse_done)

/* ---- pass 1: the lexer ---- */

static gboolean lex_fail(const char *text, gsize position, ValuesetJsonError code, GError **error,
                         const char *format, ...) G_GNUC_PRINTF(5, 6);

static gboolean lex_fail(const char *text, gsize position, ValuesetJsonError code, GError **error,
                         const char *format, ...) {
        g_autofree char *what = NULL;
        guint line = 1, column = 1;
        va_list ap;

        for (gsize i = 0; i < position; i++) {
                if (text[i] == '\n') {
                        line++;
                        column = 1;
                } else if (((unsigned char) text[i] & 0xc0) != 0x80) {
                        column++;
                }
        }
        va_start(ap, format);
        what = g_strdup_vprintf(format, ap);
        va_end(ap);
        g_set_error(error, VALUESET_JSON_ERROR, code, "line %u, column %u: %s", line, column, what);
        return FALSE;
}

/* The four hex digits of a \u escape at @at, or -1. */
static int read_u_escape(const char *text, gsize length, gsize at) {
        int code = 0;

        if (at + 4 > length)
                return -1;
        for (int k = 0; k < 4; k++) {
                int digit = g_ascii_xdigit_value(text[at + k]);

                if (digit < 0)
                        return -1;
                code = code * 16 + digit;
        }
        return code;
}

/* A string from its opening quote at *i; *i ends past its closing quote. */
static gboolean lex_string(const char *text, gsize length, gsize *i, GError **error) {
        gsize start = *i;
        gsize j = start + 1;

        while (j < length) {
                unsigned char c = (unsigned char) text[j];

                if (c == '"') {
                        *i = j + 1;
                        return TRUE;
                }
                if (c < 0x20)
                        return lex_fail(text, j, VALUESET_JSON_ERROR_SYNTAX, error,
                                        "a control character (0x%02x) in a string must be escaped", c);
                if (c != '\\') {
                        j++;
                        continue;
                }
                if (j + 1 >= length)
                        break;
                switch (text[j + 1]) {
                case '"':
                case '\\':
                case '/':
                case 'b':
                case 'f':
                case 'n':
                case 'r':
                case 't':
                        j += 2;
                        break;
                case 'u': {
                        int code = read_u_escape(text, length, j + 2);

                        if (code < 0)
                                return lex_fail(text, j, VALUESET_JSON_ERROR_SYNTAX, error,
                                                "\\u needs four hex digits");
                        if (code == 0)
                                return lex_fail(text, j, VALUESET_JSON_ERROR_VALUE, error,
                                                "a string holds \\u0000, which no D-Bus string may");
                        if (code >= 0xdc00 && code <= 0xdfff)
                                return lex_fail(text, j, VALUESET_JSON_ERROR_SYNTAX, error,
                                                "a lone low surrogate \\u%04x", (unsigned) code);
                        if (code >= 0xd800 && code <= 0xdbff) {
                                int low = -1;

                                if (j + 7 < length && text[j + 6] == '\\' && text[j + 7] == 'u')
                                        low = read_u_escape(text, length, j + 8);
                                if (low < 0xdc00 || low > 0xdfff)
                                        return lex_fail(text, j, VALUESET_JSON_ERROR_SYNTAX, error,
                                                        "a high surrogate \\u%04x without its low half",
                                                        (unsigned) code);
                                j += 6;
                        }
                        j += 6;
                        break;
                }
                default:
                        return lex_fail(text, j, VALUESET_JSON_ERROR_SYNTAX, error, "an unknown escape in a string");
                }
        }
        return lex_fail(text, start, VALUESET_JSON_ERROR_SYNTAX, error, "a string without its closing quote");
}

static gsize skip_digits(const char *text, gsize length, gsize j) {
        while (j < length && g_ascii_isdigit(text[j]))
                j++;
        return j;
}

/* A number by the grammar of RFC 8259, from *i; recorded in @numbers. */
static gboolean lex_number(const char *text, gsize length, gsize *i, GArray *numbers, GError **error) {
        Number n = { .start = *i, .integer = TRUE };
        gsize j = *i;

        if (text[j] == '-')
                j++;
        if (j < length && text[j] == '0')
                j++;
        else if (j < length && text[j] >= '1' && text[j] <= '9')
                j = skip_digits(text, length, j);
        else
                goto bad;
        if (j < length && text[j] == '.') {
                n.integer = FALSE;
                if (j + 1 >= length || !g_ascii_isdigit(text[j + 1]))
                        goto bad;
                j = skip_digits(text, length, j + 1);
        }
        if (j < length && (text[j] == 'e' || text[j] == 'E')) {
                n.integer = FALSE;
                j++;
                if (j < length && (text[j] == '+' || text[j] == '-'))
                        j++;
                if (j >= length || !g_ascii_isdigit(text[j]))
                        goto bad;
                j = skip_digits(text, length, j);
        }
        /* What json-glib's scanner would read on as part of the number ("0x10", "01", "1.e5"). */
        if (j < length && (g_ascii_isalnum(text[j]) || text[j] == '.' || text[j] == '+' || text[j] == '-'))
                goto bad;
        n.length = j - n.start;
        g_array_append_val(numbers, n);
        *i = j;
        return TRUE;

bad:
        return lex_fail(text, n.start, VALUESET_JSON_ERROR_SYNTAX, error, "a malformed number");
}

static gboolean lex_literal(const char *text, gsize length, gsize *i, GError **error) {
        static const char *const literals[] = { "true", "false", "null" };

        for (gsize k = 0; k < G_N_ELEMENTS(literals); k++) {
                gsize n = strlen(literals[k]);

                if (length - *i >= n && memcmp(text + *i, literals[k], n) == 0 &&
                    (length - *i == n || !g_ascii_isalnum(text[*i + n]))) {
                        *i += n;
                        return TRUE;
                }
        }
        return lex_fail(text, *i, VALUESET_JSON_ERROR_SYNTAX, error, "an unexpected word");
}

static gboolean lex(const char *text, gsize length, GArray *numbers, GError **error) {
        const char *end;
        int depth = 0;
        gboolean started = FALSE, finished = FALSE;
        gsize i = 0;

        if (!g_utf8_validate_len(text, length, &end))
                return lex_fail(text, end - text, VALUESET_JSON_ERROR_SYNTAX, error,
                                *end ? "the text is not UTF-8" : "the text holds a NUL byte");

        while (i < length) {
                char c = text[i];

                if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                        i++;
                        continue;
                }
                if (finished)
                        return lex_fail(text, i, VALUESET_JSON_ERROR_SYNTAX, error,
                                        "more text after the end of the object");
                if (!started && c != '{')
                        return lex_fail(text, i, VALUESET_JSON_ERROR_NOT_OBJECT, error,
                                        "the document is not a JSON object (a ValueSet is an object)");
                started = TRUE;
                switch (c) {
                case '{':
                case '[':
                        if (++depth > LEX_MAX_DEPTH)
                                return lex_fail(text, i, VALUESET_JSON_ERROR_TOO_DEEP, error,
                                                "the JSON nests more than %d levels deep", LEX_MAX_DEPTH);
                        i++;
                        break;
                case '}':
                case ']':
                        if (--depth == 0)
                                finished = TRUE;
                        i++;
                        break;
                case ':':
                case ',':
                        i++;
                        break;
                case '"':
                        if (!lex_string(text, length, &i, error))
                                return FALSE;
                        break;
                case '-':
                case '0' ... '9':
                        if (!lex_number(text, length, &i, numbers, error))
                                return FALSE;
                        break;
                case 't':
                case 'f':
                case 'n':
                        if (!lex_literal(text, length, &i, error))
                                return FALSE;
                        break;
                default:
                        return lex_fail(text, i, VALUESET_JSON_ERROR_SYNTAX, error, "an unexpected character");
                }
        }
        if (!started)
                return lex_fail(text, i, VALUESET_JSON_ERROR_NOT_OBJECT, error,
                                "the document is empty (a ValueSet is an object)");
        return TRUE; /* an unclosed object is json-glib's to report */
}

/* ---- pass 2: json-glib, with repeated keys noted ---- */

static void on_object_member(JsonParser *parser, JsonObject *object, const char *name, gpointer user_data) {
        Parse *p = user_data;
        GHashTable *names = g_hash_table_lookup(p->member_names, object);

        if (!names) {
                names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
                g_hash_table_insert(p->member_names, object, names);
        }
        if (!g_hash_table_add(names, g_strdup(name)) && !g_hash_table_contains(p->repeated, object))
                g_hash_table_insert(p->repeated, object, g_strdup(name));
}

/* ---- the conversion ---- */

static gboolean fail(Parse *p, ValuesetJsonError code, GError **error, const char *format, ...) G_GNUC_PRINTF(4, 5);

static gboolean fail(Parse *p, ValuesetJsonError code, GError **error, const char *format, ...) {
        g_autofree char *what = NULL;
        va_list ap;

        va_start(ap, format);
        what = g_strdup_vprintf(format, ap);
        va_end(ap);
        g_set_error(error, VALUESET_JSON_ERROR, code, "at %s: %s", p->path->len ? p->path->str : "the top level",
                    what);
        return FALSE;
}

/* The path grows by one step while a member or an element is converted; returns the length to
 * go back to. */
static gsize path_push_key(Parse *p, const char *key) {
        gsize saved = p->path->len;

        g_string_append_c(p->path, '/');
        for (const char *c = key; *c; c++) {
                if (*c == '~')
                        g_string_append(p->path, "~0");
                else if (*c == '/')
                        g_string_append(p->path, "~1");
                else
                        g_string_append_c(p->path, *c);
        }
        return saved;
}

static gsize path_push_index(Parse *p, guint index) {
        gsize saved = p->path->len;

        g_string_append_printf(p->path, "/%u", index);
        return saved;
}

static void path_pop(Parse *p, gsize saved) {
        g_string_truncate(p->path, saved);
}

/* How deep the containers of a type nest, as the broker counts (a variant: 1, whatever it holds). */
static guint type_depth(const GVariantType *type) {
        guint depth = 0;

        if (g_variant_type_is_variant(type))
                return 1;
        if (g_variant_type_is_array(type) || g_variant_type_is_maybe(type))
                return 1 + type_depth(g_variant_type_element(type));
        if (!g_variant_type_is_tuple(type) && !g_variant_type_is_dict_entry(type))
                return 0;
        for (const GVariantType *item = g_variant_type_first(type); item; item = g_variant_type_next(item))
                depth = MAX(depth, type_depth(item));
        return depth + 1;
}

/* Whether a value of @type fits inside @outside containers. */
static gboolean check_depth(Parse *p, guint outside, const GVariantType *type, GError **error) {
        if (outside + type_depth(type) <= VALUESET_JSON_MAX_DEPTH)
                return TRUE;
        return fail(p, VALUESET_JSON_ERROR_TOO_DEEP, error, "the value nests more than %d containers deep",
                    VALUESET_JSON_MAX_DEPTH);
}

static const char *node_kind(JsonNode *node) {
        switch (JSON_NODE_TYPE(node)) {
        case JSON_NODE_OBJECT:
                return "an object";
        case JSON_NODE_ARRAY:
                return "an array";
        case JSON_NODE_NULL:
                return "null";
        case JSON_NODE_VALUE:
        default:
                switch (json_node_get_value_type(node)) {
                case G_TYPE_BOOLEAN:
                        return "a boolean";
                case G_TYPE_STRING:
                        return "a string";
                default:
                        return "a number";
                }
        }
}

static gboolean node_is_number(JsonNode *node) {
        GType type;

        if (!JSON_NODE_HOLDS_VALUE(node))
                return FALSE;
        type = json_node_get_value_type(node);
        return type == G_TYPE_INT64 || type == G_TYPE_DOUBLE;
}

static gboolean node_is_string(JsonNode *node) {
        return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING;
}

static gboolean node_is_boolean(JsonNode *node) {
        return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_BOOLEAN;
}

static gboolean wrong_kind(Parse *p, JsonNode *node, const char *expected, const GVariantType *type,
                           GError **error) {
        g_autofree char *type_string = g_variant_type_dup_string(type);

        return fail(p, VALUESET_JSON_ERROR_VALUE, error, "%s where type %s needs %s", node_kind(node), type_string,
                    expected);
}

/* The text of a number node: the numbers come in document order, as the nodes are converted. */
static gboolean take_number(Parse *p, char **ret_text, gboolean *ret_integer, GError **error) {
        const Number *n;

        if (p->next_number >= p->numbers->len)
                return fail(p, VALUESET_JSON_ERROR_SYNTAX, error, "a number the lexer did not see");
        n = &g_array_index(p->numbers, Number, p->next_number++);
        *ret_text = g_strndup(p->text + n->start, n->length);
        *ret_integer = n->integer;
        return TRUE;
}

static GVariant *integer_from_text(Parse *p, const char *text, gboolean integer, const GVariantType *type,
                                   GError **error) {
        g_autofree char *type_string = g_variant_type_dup_string(type);
        gboolean is_signed = strchr("nix", type_string[0]) != NULL;
        guint64 max = 0;
        gint64 min = 0;
        gint64 s = 0;
        guint64 u = 0;
        gboolean ok;

        switch (type_string[0]) {
        case 'y':
                max = G_MAXUINT8;
                break;
        case 'n':
                min = G_MININT16, max = G_MAXINT16;
                break;
        case 'q':
                max = G_MAXUINT16;
                break;
        case 'i':
                min = G_MININT32, max = G_MAXINT32;
                break;
        case 'u':
                max = G_MAXUINT32;
                break;
        case 'x':
                min = G_MININT64, max = G_MAXINT64;
                break;
        default:
                max = G_MAXUINT64;
                break;
        }
        if (!integer) {
                fail(p, VALUESET_JSON_ERROR_VALUE, error, "%s is not an integer (type %s)", text, type_string);
                return NULL;
        }
        if (is_signed)
                ok = g_ascii_string_to_signed(text, 10, min, (gint64) max, &s, NULL);
        else
                ok = text[0] != '-' && g_ascii_string_to_unsigned(text, 10, 0, max, &u, NULL);
        /* "-0" is zero, also for the unsigned types. */
        if (!ok && !is_signed && g_str_equal(text, "-0"))
                ok = TRUE, u = 0;
        if (!ok) {
                fail(p, VALUESET_JSON_ERROR_VALUE, error, "%s is out of range for type %s", text, type_string);
                return NULL;
        }
        switch (type_string[0]) {
        case 'y':
                return g_variant_ref_sink(g_variant_new_byte((guint8) u));
        case 'n':
                return g_variant_ref_sink(g_variant_new_int16((gint16) s));
        case 'q':
                return g_variant_ref_sink(g_variant_new_uint16((guint16) u));
        case 'i':
                return g_variant_ref_sink(g_variant_new_int32((gint32) s));
        case 'u':
                return g_variant_ref_sink(g_variant_new_uint32((guint32) u));
        case 'x':
                return g_variant_ref_sink(g_variant_new_int64(s));
        default:
                return g_variant_ref_sink(g_variant_new_uint64(u));
        }
}

static GVariant *double_from_text(Parse *p, const char *text, GError **error) {
        char *end;
        double d;

        errno = 0;
        d = g_ascii_strtod(text, &end);
        if (*end != '\0' || (errno == ERANGE && isinf(d))) {
                fail(p, VALUESET_JSON_ERROR_VALUE, error, "%s is out of range for type d", text);
                return NULL;
        }
        return g_variant_ref_sink(g_variant_new_double(d));
}

static GVariant *double_from_node(Parse *p, JsonNode *node, GError **error) {
        g_autofree char *text = NULL;
        gboolean integer;

        if (node_is_string(node)) {
                const char *s = json_node_get_string(node);

                if (g_str_equal(s, "NaN"))
                        return g_variant_ref_sink(g_variant_new_double(NAN));
                if (g_str_equal(s, "Infinity"))
                        return g_variant_ref_sink(g_variant_new_double(INFINITY));
                if (g_str_equal(s, "-Infinity"))
                        return g_variant_ref_sink(g_variant_new_double(-INFINITY));
                fail(p, VALUESET_JSON_ERROR_VALUE, error,
                     "a string where type d needs a number, \"NaN\", \"Infinity\" or \"-Infinity\"");
                return NULL;
        }
        if (!node_is_number(node)) {
                wrong_kind(p, node, "a number", G_VARIANT_TYPE_DOUBLE, error);
                return NULL;
        }
        if (!take_number(p, &text, &integer, error))
                return NULL;
        return double_from_text(p, text, error);
}

/* A string of type s, o or g. */
static GVariant *string_from_text(Parse *p, const char *s, const GVariantType *type, GError **error) {
        if (g_variant_type_equal(type, G_VARIANT_TYPE_OBJECT_PATH)) {
                if (!g_variant_is_object_path(s)) {
                        fail(p, VALUESET_JSON_ERROR_VALUE, error, "\"%s\" is not an object path (type o)", s);
                        return NULL;
                }
                return g_variant_ref_sink(g_variant_new_object_path(s));
        }
        if (g_variant_type_equal(type, G_VARIANT_TYPE_SIGNATURE)) {
                if (!g_variant_is_signature(s)) {
                        fail(p, VALUESET_JSON_ERROR_VALUE, error, "\"%s\" is not a D-Bus signature (type g)", s);
                        return NULL;
                }
                return g_variant_ref_sink(g_variant_new_signature(s));
        }
        return g_variant_ref_sink(g_variant_new_string(s));
}

static GVariant *string_from_node(Parse *p, JsonNode *node, const GVariantType *type, GError **error) {
        if (!node_is_string(node)) {
                wrong_kind(p, node, "a string", type, error);
                return NULL;
        }
        return string_from_text(p, json_node_get_string(node), type, error);
}

static gboolean is_string_type(const GVariantType *type) {
        return g_variant_type_equal(type, G_VARIANT_TYPE_STRING) ||
               g_variant_type_equal(type, G_VARIANT_TYPE_OBJECT_PATH) ||
               g_variant_type_equal(type, G_VARIANT_TYPE_SIGNATURE);
}

static gboolean check_repeated(Parse *p, JsonObject *object, GError **error) {
        const char *name = g_hash_table_lookup(p->repeated, object);

        if (!name)
                return TRUE;
        return fail(p, VALUESET_JSON_ERROR_KEY, error, "key \"%s\" appears more than once", name);
}

static GVariant *value_from_node(Parse *p, JsonNode *node, guint depth, GError **error);
static GVariant *plain_from_node(Parse *p, JsonNode *node, const GVariantType *type, guint depth, GError **error);

/* A ValueSet from an object, inside @outside containers. */
static GVariant *value_set_from_object(Parse *p, JsonObject *object, guint outside, GError **error) {
        g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify) g_variant_unref);
        JsonObjectIter iter;
        const char *key;
        JsonNode *member;

        if (!check_repeated(p, object, error) || !check_depth(p, outside, G_VARIANT_TYPE_VARDICT, error))
                return NULL;
        json_object_iter_init_ordered(&iter, object);
        while (json_object_iter_next_ordered(&iter, &key, &member)) {
                gsize saved = path_push_key(p, key);
                g_autoptr(GVariant) value = NULL;
                gsize length = strlen(key);

                if (length == 0) {
                        fail(p, VALUESET_JSON_ERROR_KEY, error, "a ValueSet key is empty");
                        return NULL;
                }
                if (length > VALUESET_JSON_MAX_KEY) {
                        fail(p, VALUESET_JSON_ERROR_KEY, error,
                             "a ValueSet key of %" G_GSIZE_FORMAT " bytes is longer than %d", length,
                             VALUESET_JSON_MAX_KEY);
                        return NULL;
                }
                /* Inside the array, its dict entry and the variant. */
                value = value_from_node(p, member, outside + 3, error);
                if (!value)
                        return NULL;
                g_ptr_array_add(entries, g_variant_ref_sink(g_variant_new_dict_entry(g_variant_new_string(key),
                                                                                     g_variant_new_variant(value))));
                path_pop(p, saved);
        }
        return g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), (GVariant **) entries->pdata,
                                                      entries->len));
}

static gboolean array_holds_only_objects(JsonArray *array) {
        guint n = json_array_get_length(array);

        for (guint i = 0; i < n; i++)
                if (!JSON_NODE_HOLDS_OBJECT(json_array_get_element(array, i)))
                        return FALSE;
        return TRUE;
}

/* Plain JSON arrays: of objects (or empty) an aa{sv}, else an av. */
static GVariant *plain_array_from_node(Parse *p, JsonNode *node, guint depth, GError **error) {
        JsonArray *array = json_node_get_array(node);
        gboolean value_sets = array_holds_only_objects(array);
        const GVariantType *type = value_sets ? G_VARIANT_TYPE("aa{sv}") : G_VARIANT_TYPE("av");
        g_autoptr(GPtrArray) children = g_ptr_array_new_with_free_func((GDestroyNotify) g_variant_unref);
        guint n = json_array_get_length(array);

        if (!check_depth(p, depth, type, error))
                return NULL;
        for (guint i = 0; i < n; i++) {
                gsize saved = path_push_index(p, i);
                JsonNode *element = json_array_get_element(array, i);
                GVariant *child;

                if (value_sets) {
                        child = value_set_from_object(p, json_node_get_object(element), depth + 1, error);
                } else {
                        g_autoptr(GVariant) inner = value_from_node(p, element, depth + 2, error);

                        child = inner ? g_variant_ref_sink(g_variant_new_variant(inner)) : NULL;
                }
                if (!child)
                        return NULL;
                g_ptr_array_add(children, child);
                path_pop(p, saved);
        }
        return g_variant_ref_sink(g_variant_new_array(g_variant_type_element(type), (GVariant **) children->pdata,
                                                      children->len));
}

/* A "@TYPE" member name: a definite type, without unix fds. */
static const GVariantType *typed_member_type(Parse *p, const char *name, GError **error) {
        const char *type_string = name + 1;
        const char *end;

        if (strlen(type_string) > TYPE_MAX) {
                fail(p, VALUESET_JSON_ERROR_TYPE, error, "the type of \"%.16s...\" is longer than %d bytes", name,
                     TYPE_MAX);
                return NULL;
        }
        if (!g_variant_type_string_scan(type_string, NULL, &end) || *end != '\0') {
                fail(p, VALUESET_JSON_ERROR_TYPE, error, "\"%s\" names no type (\"@\" and a GVariant type string)",
                     name);
                return NULL;
        }
        if (!g_variant_type_is_definite(G_VARIANT_TYPE(type_string))) {
                fail(p, VALUESET_JSON_ERROR_TYPE, error, "\"%s\" is not a definite type", name);
                return NULL;
        }
        if (strchr(type_string, 'h')) {
                fail(p, VALUESET_JSON_ERROR_TYPE, error, "\"%s\" holds a unix fd (h), which a ValueSet may not", name);
                return NULL;
        }
        return G_VARIANT_TYPE(type_string);
}

/* One value of a ValueSet (what its variant holds), inside @depth containers (its variant
 * included). */
static GVariant *value_from_node(Parse *p, JsonNode *node, guint depth, GError **error) {
        switch (JSON_NODE_TYPE(node)) {
        case JSON_NODE_NULL:
                if (!check_depth(p, depth, G_VARIANT_TYPE("av"), error))
                        return NULL;
                return g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE_VARIANT, NULL, 0));
        case JSON_NODE_ARRAY:
                return plain_array_from_node(p, node, depth, error);
        case JSON_NODE_OBJECT: {
                JsonObject *object = json_node_get_object(node);
                JsonObjectIter iter;
                const char *name;
                JsonNode *member;
                const GVariantType *type;
                GVariant *value;
                gsize saved;

                if (json_object_get_size(object) != 1)
                        return value_set_from_object(p, object, depth, error);
                if (!check_repeated(p, object, error))
                        return NULL;
                json_object_iter_init_ordered(&iter, object);
                json_object_iter_next_ordered(&iter, &name, &member);
                if (name[0] != '@')
                        return value_set_from_object(p, object, depth, error);

                /* {"@TYPE": PLAIN} */
                saved = path_push_key(p, name);
                type = typed_member_type(p, name, error);
                if (!type || !check_depth(p, depth, type, error))
                        return NULL;
                value = plain_from_node(p, member, type, depth, error);
                if (value)
                        path_pop(p, saved);
                return value;
        }
        case JSON_NODE_VALUE:
        default:
                if (node_is_string(node))
                        return g_variant_ref_sink(g_variant_new_string(json_node_get_string(node)));
                if (node_is_boolean(node))
                        return g_variant_ref_sink(g_variant_new_boolean(json_node_get_boolean(node)));
                if (node_is_number(node)) {
                        g_autofree char *text = NULL;
                        gboolean integer;

                        if (!take_number(p, &text, &integer, error))
                                return NULL;
                        if (!integer)
                                return double_from_text(p, text, error);
                        /* A plain integer is an x; a larger one needs its type ({"@t": ...}). */
                        return integer_from_text(p, text, TRUE, G_VARIANT_TYPE_INT64, error);
                }
                fail(p, VALUESET_JSON_ERROR_VALUE, error, "a JSON value of an unknown kind");
                return NULL;
        }
}

/* The items of a JSON array as the children of a container of @type: a tuple or a dict entry
 * (one item per member type), an array, or a maybe ([] or one item). */
static GVariant *children_from_array(Parse *p, JsonArray *array, const GVariantType *type, guint depth,
                                     GError **error) {
        g_autoptr(GPtrArray) children = g_ptr_array_new_with_free_func((GDestroyNotify) g_variant_unref);
        guint n = json_array_get_length(array);
        const GVariantType *item = NULL;
        g_autofree char *type_string = g_variant_type_dup_string(type);

        if (g_variant_type_is_tuple(type) || g_variant_type_is_dict_entry(type)) {
                if (n != g_variant_type_n_items(type)) {
                        fail(p, VALUESET_JSON_ERROR_VALUE, error, "%u items where type %s needs %" G_GSIZE_FORMAT, n,
                             type_string, g_variant_type_n_items(type));
                        return NULL;
                }
                item = g_variant_type_first(type);
        } else if (g_variant_type_is_maybe(type) && n > 1) {
                fail(p, VALUESET_JSON_ERROR_VALUE, error, "%u items where type %s needs [] or one", n, type_string);
                return NULL;
        }

        for (guint i = 0; i < n; i++) {
                gsize saved = path_push_index(p, i);
                const GVariantType *child_type = item ? item : g_variant_type_element(type);
                GVariant *child = plain_from_node(p, json_array_get_element(array, i), child_type, depth + 1, error);

                if (!child)
                        return NULL;
                g_ptr_array_add(children, child);
                if (item)
                        item = g_variant_type_next(item);
                path_pop(p, saved);
        }

        if (g_variant_type_is_tuple(type))
                return g_variant_ref_sink(g_variant_new_tuple((GVariant **) children->pdata, children->len));
        if (g_variant_type_is_dict_entry(type))
                return g_variant_ref_sink(g_variant_new_dict_entry(children->pdata[0], children->pdata[1]));
        if (g_variant_type_is_maybe(type))
                return g_variant_ref_sink(
                        g_variant_new_maybe(g_variant_type_element(type), n ? children->pdata[0] : NULL));
        return g_variant_ref_sink(
                g_variant_new_array(g_variant_type_element(type), (GVariant **) children->pdata, children->len));
}

/* An array of dict entries whose keys are strings, from an object. */
static GVariant *dict_from_object(Parse *p, JsonObject *object, const GVariantType *type, guint depth,
                                  GError **error) {
        g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify) g_variant_unref);
        const GVariantType *entry_type = g_variant_type_element(type);
        const GVariantType *key_type = g_variant_type_key(entry_type);
        const GVariantType *value_type = g_variant_type_value(entry_type);
        gboolean value_set = g_variant_type_equal(type, G_VARIANT_TYPE_VARDICT);
        JsonObjectIter iter;
        const char *key;
        JsonNode *member;

        if (!check_repeated(p, object, error))
                return NULL;
        json_object_iter_init_ordered(&iter, object);
        while (json_object_iter_next_ordered(&iter, &key, &member)) {
                gsize saved = path_push_key(p, key);
                g_autoptr(GVariant) key_value = NULL;
                g_autoptr(GVariant) value = NULL;

                if (value_set && (key[0] == '\0' || strlen(key) > VALUESET_JSON_MAX_KEY)) {
                        fail(p, VALUESET_JSON_ERROR_KEY, error, "a ValueSet key is empty or longer than %d bytes",
                             VALUESET_JSON_MAX_KEY);
                        return NULL;
                }
                key_value = string_from_text(p, key, key_type, error);
                if (!key_value)
                        return NULL;
                /* Inside the array and the dict entry. */
                value = plain_from_node(p, member, value_type, depth + 2, error);
                if (!value)
                        return NULL;
                g_ptr_array_add(entries, g_variant_ref_sink(g_variant_new_dict_entry(key_value, value)));
                path_pop(p, saved);
        }
        return g_variant_ref_sink(g_variant_new_array(entry_type, (GVariant **) entries->pdata, entries->len));
}

/* A value written as its type says (PLAIN), inside @depth containers. */
static GVariant *plain_from_node(Parse *p, JsonNode *node, const GVariantType *type, guint depth, GError **error) {
        if (g_variant_type_equal(type, G_VARIANT_TYPE_BOOLEAN)) {
                if (!node_is_boolean(node)) {
                        wrong_kind(p, node, "true or false", type, error);
                        return NULL;
                }
                return g_variant_ref_sink(g_variant_new_boolean(json_node_get_boolean(node)));
        }
        if (g_variant_type_equal(type, G_VARIANT_TYPE_DOUBLE))
                return double_from_node(p, node, error);
        if (is_string_type(type))
                return string_from_node(p, node, type, error);
        if (g_variant_type_is_basic(type)) { /* the integers; h was refused with its type */
                g_autofree char *text = NULL;
                gboolean integer;

                if (!node_is_number(node)) {
                        wrong_kind(p, node, "an integer", type, error);
                        return NULL;
                }
                if (!take_number(p, &text, &integer, error))
                        return NULL;
                return integer_from_text(p, text, integer, type, error);
        }
        if (g_variant_type_is_variant(type)) {
                g_autoptr(GVariant) inner = value_from_node(p, node, depth + 1, error);

                return inner ? g_variant_ref_sink(g_variant_new_variant(inner)) : NULL;
        }
        if (g_variant_type_is_array(type) && g_variant_type_is_dict_entry(g_variant_type_element(type)) &&
            is_string_type(g_variant_type_key(g_variant_type_element(type)))) {
                if (!JSON_NODE_HOLDS_OBJECT(node)) {
                        wrong_kind(p, node, "an object", type, error);
                        return NULL;
                }
                return dict_from_object(p, json_node_get_object(node), type, depth, error);
        }
        /* Arrays, maybes, tuples, dict entries. */
        if (!JSON_NODE_HOLDS_ARRAY(node)) {
                wrong_kind(p, node, "an array", type, error);
                return NULL;
        }
        return children_from_array(p, json_node_get_array(node), type, depth, error);
}

GVariant *valueset_json_parse(const char *text, gssize length, GError **error) {
        g_auto(Parse) p = { 0 };
        g_autoptr(JsonParser) parser = NULL;
        g_autoptr(GError) json_error = NULL;
        g_autoptr(GVariant) value_set = NULL;
        JsonNode *root;

        g_return_val_if_fail(text != NULL, NULL);
        g_return_val_if_fail(error == NULL || *error == NULL, NULL);

        if (length < 0)
                length = (gssize) strlen(text);
        p.text = text;
        p.numbers = g_array_new(FALSE, FALSE, sizeof(Number));
        p.member_names = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                               (GDestroyNotify) g_hash_table_unref);
        p.repeated = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        p.path = g_string_new(NULL);

        if (!lex(text, (gsize) length, p.numbers, error))
                return NULL;

        parser = json_parser_new_immutable();
        g_signal_connect(parser, "object-member", G_CALLBACK(on_object_member), &p);
        if (!json_parser_load_from_data(parser, text, length, &json_error)) {
                g_set_error(error, VALUESET_JSON_ERROR, VALUESET_JSON_ERROR_SYNTAX, "%s", json_error->message);
                return NULL;
        }
        /* The names were only needed while parsing; the objects' addresses may be reused. */
        g_clear_pointer(&p.member_names, g_hash_table_unref);
        root = json_parser_get_root(parser);
        if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
                g_set_error_literal(error, VALUESET_JSON_ERROR, VALUESET_JSON_ERROR_NOT_OBJECT,
                                    "the document is not a JSON object (a ValueSet is an object)");
                return NULL;
        }
        value_set = value_set_from_object(&p, json_node_get_object(root), 0, error);
        if (!value_set)
                return NULL;
        if (p.next_number != p.numbers->len) {
                g_set_error(error, VALUESET_JSON_ERROR, VALUESET_JSON_ERROR_SYNTAX,
                            "%u numbers in the text, %u in the document", p.numbers->len, p.next_number);
                return NULL;
        }
        return g_steal_pointer(&value_set);
}
