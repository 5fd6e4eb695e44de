/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "appservice-private.h"
#include "valueset-dbus-size.h"

/* ValueSets are plain GVariants of type a{sv}: these helpers hold no state and may be called
 * from any thread. */

#define KEY_MAX 255
/* Containers a ValueSet may nest, counting its own array and dict entries and every variant: the
 * broker's limit (a{sv} in a{sv} is 5 deep), well within what D-Bus carries (64) and what
 * g_variant_parse() reads back (128). */
#define DEPTH_MAX 32

/**
 * app_service_value_new_null:
 *
 * Makes the null value of a ValueSet: a variant holding an empty array of variants (<code>&#64;av []</code>),
 * the contract's stand-in for the null of other languages.
 *
 * Returns: (transfer none): a floating reference to a new null value
 *
 * Since: 0.1
 */
GVariant *app_service_value_new_null(void) {
        return g_variant_new_array(G_VARIANT_TYPE_VARIANT, NULL, 0);
}

/**
 * app_service_value_is_null:
 * @value: (nullable): a value of a ValueSet (or a variant holding one)
 *
 * Tells whether @value is the null value: an empty array of variants (<code>&#64;av []</code>). A variant
 * holding such an array counts as null too, and so does %NULL.
 *
 * Returns: whether @value is null
 *
 * Since: 0.1
 */
gboolean app_service_value_is_null(GVariant *value) {
        g_autoptr(GVariant) inner = NULL;

        if (!value)
                return TRUE;
        if (g_variant_is_of_type(value, G_VARIANT_TYPE_VARIANT)) {
                inner = g_variant_get_variant(value);
                value = inner;
        }
        return g_variant_is_of_type(value, G_VARIANT_TYPE("av")) && g_variant_n_children(value) == 0;
}

static gboolean check_value_set(GVariant *value_set, guint outside, GError **error);

/* How deep the containers of a type nest (a basic type: 0, a variant: 1, its content unknown);
 * *end is set past the type. */
static guint type_depth(const gchar *type, const gchar **end) {
        guint depth = 0;

        switch (type[0]) {
        case 'a':
        case 'm':
                return 1 + type_depth(type + 1, end);
        case '(':
        case '{':
                type++;
                while (*type != ')' && *type != '}') {
                        guint member = type_depth(type, &type);  /* not inside MAX(): it advances type */
                        depth = MAX(depth, member);
                }
                *end = type + 1;
                return depth + 1;
        case 'v':
                *end = type + 1;
                return 1;
        default:
                *end = type + 1;
                return 0;
        }
}

static gboolean fail_depth(const gchar *key, GError **error) {
        g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE,
                    "the value of key '%s' nests more than %d containers deep", key, DEPTH_MAX);
        return FALSE;
}

/* Checks a value of a ValueSet, inside @depth containers (its variant the innermost): no unix fd
 * and no maybe type (D-Bus has none) in it, no deeper nesting than DEPTH_MAX, and the rules for
 * every ValueSet nested in it (an a{sv} anywhere, inside arrays, structs and variants). @key names
 * it in errors. */
static gboolean check_value(GVariant *value, const gchar *key, guint depth, GError **error) {
        const gchar *type = g_variant_get_type_string(value), *end;
        GVariantIter iter;
        GVariant *child;

        if (strchr(type, 'h')) {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE,
                            "the value of key '%s' holds a unix fd (type %s), which a ValueSet may not", key, type);
                return FALSE;
        }
        if (strchr(type, 'm')) {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE,
                            "the value of key '%s' has a maybe type (%.32s), which D-Bus cannot carry", key, type);
                return FALSE;
        }
        if (depth + type_depth(type, &end) > DEPTH_MAX)
                return fail_depth(key, error);
        if (!strchr(type, 'v'))
                return TRUE; /* no variant inside, so no a{sv} and no hidden fd either */
        if (g_str_equal(type, "a{sv}"))
                return check_value_set(value, depth, error);

        /* The children of a container sit one deeper; a variant's content too. */
        g_variant_iter_init(&iter, value);
        while ((child = g_variant_iter_next_value(&iter))) {
                gboolean valid = check_value(child, key, depth + 1, error);

                g_variant_unref(child);
                if (!valid)
                        return FALSE;
        }
        return TRUE;
}

/* The key rules of one ValueSet inside @outside containers, then its values. The messages are
 * the broker's. */
static gboolean check_value_set(GVariant *value_set, guint outside, GError **error) {
        g_autoptr(GHashTable) keys = g_hash_table_new(g_str_hash, g_str_equal);
        GVariantIter iter;
        const gchar *key;
        GVariant *value;

        g_variant_iter_init(&iter, value_set);
        while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
                g_autoptr(GVariant) owned G_GNUC_UNUSED = value;  /* frees it */
                gsize length = strlen(key);

                if (length == 0) {
                        g_set_error_literal(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE,
                                            "a key is empty");
                        return FALSE;
                }
                if (length > KEY_MAX) {
                        /* Not quoted: a cut key could end inside a UTF-8 sequence. */
                        g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE,
                                    "a key of %" G_GSIZE_FORMAT " bytes is longer than the limit of %d", length,
                                    KEY_MAX);
                        return FALSE;
                }
                if (!g_hash_table_add(keys, (gpointer) key)) {
                        g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE,
                                    "key '%s' appears more than once", key);
                        return FALSE;
                }
                /* Inside the array, its dict entry and the variant. */
                if (outside + 3 > DEPTH_MAX)
                        return fail_depth(key, error);
                if (!check_value(value, key, outside + 3, error))
                        return FALSE;
        }
        return TRUE;
}

/**
 * app_service_value_set_is_valid:
 * @value_set: a variant
 * @error: return location for a #GError, or %NULL
 *
 * Checks the ValueSet rules of the io.appservice1 contract, which the broker enforces: the
 * type is `a{sv}`; in it and in every ValueSet nested in it (an `a{sv}` inside a value, an
 * `aa{sv}`...), every key is non-empty, at most 255 bytes long and unique; no value holds a
 * unix fd (`h`) or a maybe type (`m`, which D-Bus does not have), however deeply nested; and the
 * whole nests at most 32 containers deep, counting its own array and dict entries and every
 * variant (an `a{sv}` in an `a{sv}` is 5 deep). Sizes are the broker's business
 * (`MaxMessageSize`).
 *
 * Returns: %TRUE if @value_set is a valid ValueSet; %FALSE with @error set to
 *   %APP_SERVICE_ERROR_INVALID_MESSAGE, naming the problem, otherwise
 *
 * Since: 0.1
 */
gboolean app_service_value_set_is_valid(GVariant *value_set, GError **error) {
        g_return_val_if_fail(value_set != NULL, FALSE);

        if (!g_variant_is_of_type(value_set, G_VARIANT_TYPE_VARDICT)) {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE,
                            "a ValueSet is of type a{sv}, not %s", g_variant_get_type_string(value_set));
                return FALSE;
        }
        return check_value_set(value_set, 0, error);
}

/**
 * app_service_value_set_lookup:
 * @value_set: a ValueSet, an `a{sv}`
 * @key: the key
 * @expected_type: (nullable): the type the value must have, or %NULL for any
 *
 * Looks up the value of @key (the content of its variant).
 *
 * Returns: (transfer full) (nullable): the value, or %NULL if @key is absent or its value is not
 *   of @expected_type; free it with g_variant_unref()
 *
 * Since: 0.1
 */
GVariant *app_service_value_set_lookup(GVariant *value_set, const gchar *key, const GVariantType *expected_type) {
        g_return_val_if_fail(value_set != NULL && g_variant_is_of_type(value_set, G_VARIANT_TYPE_VARDICT), NULL);
        g_return_val_if_fail(key != NULL, NULL);

        return g_variant_lookup_value(value_set, key, expected_type);
}

/**
 * app_service_value_set_contains_null:
 * @value_set: a ValueSet, an `a{sv}`
 * @key: the key
 *
 * Tells whether @key is present with the null value (see [func@AppService.value_is_null]).
 *
 * Returns: %TRUE if @key is present and null; %FALSE if it is absent or not null
 *
 * Since: 0.1
 */
gboolean app_service_value_set_contains_null(GVariant *value_set, const gchar *key) {
        g_autoptr(GVariant) value = NULL;

        g_return_val_if_fail(value_set != NULL && g_variant_is_of_type(value_set, G_VARIANT_TYPE_VARDICT), FALSE);
        g_return_val_if_fail(key != NULL, FALSE);

        value = g_variant_lookup_value(value_set, key, NULL);
        return value && app_service_value_is_null(value);
}

/**
 * app_service_value_set_get_string:
 * @value_set: a ValueSet, an `a{sv}`
 * @key: the key
 *
 * Looks up a string value (type `s`).
 *
 * Returns: (nullable) (transfer none): the string, or %NULL if @key is absent or its value is not
 *   a string; it points into @value_set and is valid as long as @value_set is
 *
 * Since: 0.1
 */
const gchar *app_service_value_set_get_string(GVariant *value_set, const gchar *key) {
        const gchar *value = NULL;

        g_return_val_if_fail(value_set != NULL && g_variant_is_of_type(value_set, G_VARIANT_TYPE_VARDICT), NULL);
        g_return_val_if_fail(key != NULL, NULL);

        if (!g_variant_lookup(value_set, key, "&s", &value))
                return NULL;
        return value;
}

/**
 * app_service_value_set_get_boolean:
 * @value_set: a ValueSet, an `a{sv}`
 * @key: the key
 * @out_value: (out) (optional): where to store the value (%FALSE if there is none)
 *
 * Looks up a boolean value (type `b`).
 *
 * Returns: %TRUE if @key is present with a boolean value
 *
 * Since: 0.1
 */
gboolean app_service_value_set_get_boolean(GVariant *value_set, const gchar *key, gboolean *out_value) {
        gboolean value = FALSE;
        gboolean found;

        g_return_val_if_fail(value_set != NULL && g_variant_is_of_type(value_set, G_VARIANT_TYPE_VARDICT), FALSE);
        g_return_val_if_fail(key != NULL, FALSE);

        found = g_variant_lookup(value_set, key, "b", &value);
        if (out_value)
                *out_value = found ? value : FALSE;
        return found;
}

/* The value of an integer of any D-Bus integer type, as a sign and a magnitude. */
static gboolean get_integer(GVariant *value, gboolean *ret_negative, guint64 *ret_magnitude) {
        gint64 s;

        switch (g_variant_classify(value)) {
        case G_VARIANT_CLASS_BYTE:
                *ret_negative = FALSE;
                *ret_magnitude = g_variant_get_byte(value);
                return TRUE;
        case G_VARIANT_CLASS_UINT16:
                *ret_negative = FALSE;
                *ret_magnitude = g_variant_get_uint16(value);
                return TRUE;
        case G_VARIANT_CLASS_UINT32:
                *ret_negative = FALSE;
                *ret_magnitude = g_variant_get_uint32(value);
                return TRUE;
        case G_VARIANT_CLASS_UINT64:
                *ret_negative = FALSE;
                *ret_magnitude = g_variant_get_uint64(value);
                return TRUE;
        case G_VARIANT_CLASS_INT16:
                s = g_variant_get_int16(value);
                break;
        case G_VARIANT_CLASS_INT32:
                s = g_variant_get_int32(value);
                break;
        case G_VARIANT_CLASS_INT64:
                s = g_variant_get_int64(value);
                break;
        default:
                return FALSE;
        }
        *ret_negative = s < 0;
        /* -(s + 1) + 1 avoids overflowing on G_MININT64. */
        *ret_magnitude = s < 0 ? (guint64) (-(s + 1)) + 1 : (guint64) s;
        return TRUE;
}

/**
 * app_service_value_set_get_int64:
 * @value_set: a ValueSet, an `a{sv}`
 * @key: the key
 * @out_value: (out) (optional): where to store the value (0 if there is none)
 *
 * Looks up an integer value of any D-Bus integer type (`y`, `n`, `q`, `i`, `u`, `x`, `t`) whose
 * value fits in a #gint64.
 *
 * Returns: %TRUE if @key is present with an integer value that fits
 *
 * Since: 0.1
 */
gboolean app_service_value_set_get_int64(GVariant *value_set, const gchar *key, gint64 *out_value) {
        g_autoptr(GVariant) value = NULL;
        gboolean negative = FALSE;
        guint64 magnitude = 0;
        gboolean found;

        g_return_val_if_fail(value_set != NULL && g_variant_is_of_type(value_set, G_VARIANT_TYPE_VARDICT), FALSE);
        g_return_val_if_fail(key != NULL, FALSE);

        value = g_variant_lookup_value(value_set, key, NULL);
        found = value && get_integer(value, &negative, &magnitude) &&
                magnitude <= (negative ? (guint64) G_MAXINT64 + 1 : (guint64) G_MAXINT64);
        if (out_value) {
                if (!found)
                        *out_value = 0;
                else if (negative)
                        *out_value = magnitude == (guint64) G_MAXINT64 + 1 ? G_MININT64 : -(gint64) magnitude;
                else
                        *out_value = (gint64) magnitude;
        }
        return found;
}

/**
 * app_service_value_set_get_uint64:
 * @value_set: a ValueSet, an `a{sv}`
 * @key: the key
 * @out_value: (out) (optional): where to store the value (0 if there is none)
 *
 * Looks up an integer value of any D-Bus integer type (`y`, `n`, `q`, `i`, `u`, `x`, `t`) whose
 * value fits in a #guint64 (is not negative).
 *
 * Returns: %TRUE if @key is present with an integer value that fits
 *
 * Since: 0.1
 */
gboolean app_service_value_set_get_uint64(GVariant *value_set, const gchar *key, guint64 *out_value) {
        g_autoptr(GVariant) value = NULL;
        gboolean negative = FALSE;
        guint64 magnitude = 0;
        gboolean found;

        g_return_val_if_fail(value_set != NULL && g_variant_is_of_type(value_set, G_VARIANT_TYPE_VARDICT), FALSE);
        g_return_val_if_fail(key != NULL, FALSE);

        value = g_variant_lookup_value(value_set, key, NULL);
        found = value && get_integer(value, &negative, &magnitude) && (!negative || magnitude == 0);
        if (out_value)
                *out_value = found ? magnitude : 0;
        return found;
}

/**
 * app_service_value_set_get_double:
 * @value_set: a ValueSet, an `a{sv}`
 * @key: the key
 * @out_value: (out) (optional): where to store the value (0 if there is none)
 *
 * Looks up a number: a double (`d`), or an integer of any D-Bus integer type, converted (64-bit
 * integers beyond 2⁵³ lose precision).
 *
 * Returns: %TRUE if @key is present with a number
 *
 * Since: 0.1
 */
gboolean app_service_value_set_get_double(GVariant *value_set, const gchar *key, gdouble *out_value) {
        g_autoptr(GVariant) value = NULL;
        gboolean negative = FALSE;
        guint64 magnitude = 0;
        gdouble result = 0;
        gboolean found = FALSE;

        g_return_val_if_fail(value_set != NULL && g_variant_is_of_type(value_set, G_VARIANT_TYPE_VARDICT), FALSE);
        g_return_val_if_fail(key != NULL, FALSE);

        value = g_variant_lookup_value(value_set, key, NULL);
        if (value && g_variant_is_of_type(value, G_VARIANT_TYPE_DOUBLE)) {
                result = g_variant_get_double(value);
                found = TRUE;
        } else if (value && get_integer(value, &negative, &magnitude)) {
                result = negative ? -(gdouble) magnitude : (gdouble) magnitude;
                found = TRUE;
        }
        if (out_value)
                *out_value = result;
        return found;
}

/**
 * app_service_value_set_parse:
 * @text: a ValueSet in the GVariant text format, for example
 *   <code>{"Action": &lt;"Echo"&gt;, "Count": &lt;&#64;i 5&gt;}</code>
 * @error: return location for a #GError, or %NULL
 *
 * Parses a ValueSet from the GVariant text format (see g_variant_parse()), the format
 * [func@AppService.value_set_print] writes. The text must be an `a{sv}`: `{}` or <code>&#64;a{sv} {}</code> is
 * the empty ValueSet.
 *
 * Returns: (transfer full) (nullable): the ValueSet, or %NULL with @error set: a
 *   %G_VARIANT_PARSE_ERROR if @text is not an `a{sv}` in the text format, or
 *   %APP_SERVICE_ERROR_INVALID_MESSAGE if it breaks a ValueSet rule (see
 *   [func@AppService.value_set_is_valid]); free it with g_variant_unref()
 *
 * Since: 0.1
 */
GVariant *app_service_value_set_parse(const gchar *text, GError **error) {
        g_autoptr(GVariant) value_set = NULL;

        g_return_val_if_fail(text != NULL, NULL);

        /* g_variant_parse() copies string literals as they are, and GVariant strings must be
         * UTF-8: it would fail a critical and return garbage. */
        if (!g_utf8_validate(text, -1, NULL)) {
                g_set_error_literal(error, G_VARIANT_PARSE_ERROR, G_VARIANT_PARSE_ERROR_INVALID_CHARACTER,
                                    "the text is not valid UTF-8");
                return NULL;
        }
        value_set = g_variant_parse(G_VARIANT_TYPE_VARDICT, text, NULL, NULL, error);
        if (!value_set || !app_service_value_set_is_valid(value_set, error))
                return NULL;
        return g_steal_pointer(&value_set);
}

/* Whether the text of an assignment's value is meant as a GVariant text, not a plain string. */
static gboolean looks_typed(const gchar *text) {
        if (text[0] == '\0')
                return FALSE;
        if (strchr("@<[({-'\"", text[0]) || g_ascii_isdigit(text[0]))
                return TRUE;
        return g_str_has_prefix(text, "true") || g_str_has_prefix(text, "false");
}

/**
 * app_service_value_set_new_from_assignments:
 * @assignments: (array zero-terminated=1) (nullable): `KEY=VALUE` strings, or %NULL for none
 * @error: return location for a #GError, or %NULL
 *
 * Builds a ValueSet from `KEY=VALUE` strings, as a command line gives them. The key is what
 * comes before the first `=`. The value is read this way:
 *
 * - if it starts with `@`, `<`, `[`, `(`, `{`, `'`, `"`, `-`, a digit, `true` or `false`, and
 *   g_variant_parse() accepts the whole of it, it is that GVariant: <code>count=&#64;i 5</code> is the int32 5,
 *   `count=5` is the int32 5 too (an unannotated integer is an int32, `2.5` a double),
 *   `flag=true` a boolean, `text="a b"` the string `a b`, `list=["a", "b"]` an array of
 *   strings, <code>id=&#64;t 7</code> a uint64, <code>nothing=&#64;av []</code> the null value;
 * - otherwise it is a string, as written: `name=hello world` is the string `hello world`, and
 *   so are `version=1.2.3` and `-x`, which do not parse. An empty value is the empty string;
 * - except that a value starting with `@` (an explicit type) must parse: <code>n=&#64;i five</code> is an
 *   error, not a string.
 *
 * Quote a string that would parse as something else: `zip="01234"`.
 *
 * Returns: (transfer full) (nullable): the ValueSet, or %NULL with @error set to
 *   %APP_SERVICE_ERROR_INVALID_MESSAGE if an assignment has no `=`, a value with an explicit
 *   type does not parse, or the result breaks a
 *   ValueSet rule (empty, over-long or duplicate keys, unix fds); free it with g_variant_unref()
 *
 * Since: 0.1
 */
GVariant *app_service_value_set_new_from_assignments(const gchar *const *assignments, GError **error) {
        g_autoptr(GVariant) value_set = NULL;
        GVariantBuilder builder;

        g_variant_builder_init(&builder, G_VARIANT_TYPE_VARDICT);
        for (const gchar *const *a = assignments; a && *a; a++) {
                const gchar *equals = strchr(*a, '=');
                g_autofree gchar *key = NULL;
                const gchar *text;
                g_autoptr(GVariant) value = NULL;

                if (!equals) {
                        g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE,
                                    "'%s' is not of the form KEY=VALUE", *a);
                        g_variant_builder_clear(&builder);
                        return NULL;
                }
                /* Keys and string values become GVariant strings, which must be UTF-8. Not
                 * quoted: the message must be UTF-8 too. */
                if (!g_utf8_validate(*a, -1, NULL)) {
                        g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE,
                                    "assignment %td is not valid UTF-8", a - assignments + 1);
                        g_variant_builder_clear(&builder);
                        return NULL;
                }
                key = g_strndup(*a, equals - *a);
                text = equals + 1;
                if (text[0] == '@') {
                        /* An explicit type is a promise: a value that does not match it is a
                         * mistake to report, not a string to send. */
                        g_autoptr(GError) parse_error = NULL;

                        value = g_variant_parse(NULL, text, NULL, NULL, &parse_error);
                        if (!value) {
                                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE,
                                            "value of '%s' is not a valid typed value: %s", key,
                                            parse_error->message);
                                g_variant_builder_clear(&builder);
                                return NULL;
                        }
                } else if (looks_typed(text))
                        value = g_variant_parse(NULL, text, NULL, NULL, NULL);
                if (!value)
                        value = g_variant_ref_sink(g_variant_new_string(text));
                g_variant_builder_add(&builder, "{sv}", key, value);
        }

        value_set = g_variant_ref_sink(g_variant_builder_end(&builder));
        if (!app_service_value_set_is_valid(value_set, error))
                return NULL;
        return g_steal_pointer(&value_set);
}

/**
 * app_service_value_set_print:
 * @value_set: a ValueSet, an `a{sv}`
 *
 * Writes a ValueSet in the GVariant text format with type annotations
 * (g_variant_print() with types), which [func@AppService.value_set_parse] reads back to the
 * same value: `{'Count': <int32 5>, 'Text': <'hello'>}`.
 *
 * Returns: (transfer full): the text; free it with g_free()
 *
 * Since: 0.1
 */
gchar *app_service_value_set_print(GVariant *value_set) {
        g_return_val_if_fail(value_set != NULL, NULL);

        return g_variant_print(value_set, TRUE);
}

/* ---- what a bus can carry ---- */

/* The bus limits the library checks before it sends (see overview.md, "Sizes and depth"): a
 * ValueSet too large for the bus would make the bus drop our whole connection, and one nested
 * deeper than the broker's limit is refused by the broker anyway. */
gboolean as_value_set_check_sendable(GVariant *value_set, GError **error) {
        ValueSetDBusSize m;

        if (!value_set)
                return TRUE;
        /* Past AS_VALUE_SET_MAX_SIZE the walk stops: a ValueSet of millions of small values costs
         * about what GDBus's own marshalling of it would. */
        m = valueset_dbus_size(value_set, AS_VALUE_SET_MAX_SIZE);
        if (m.max_depth > AS_VALUE_SET_MAX_DEPTH) {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_INVALID_MESSAGE,
                            "the ValueSet is nested %u containers deep, more than the limit of %u (arrays, dict "
                            "entries, structs and variants, its own a{sv} and entries included)",
                            m.max_depth, AS_VALUE_SET_MAX_DEPTH);
                return FALSE;
        }
        if (m.size > AS_VALUE_SET_MAX_SIZE) {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE,
                            "the ValueSet is %s%" G_GUINT64_FORMAT " bytes when marshalled, more than the %" G_GUINT64_FORMAT
                            " bytes a message bus carries in one message (dbus-daemon's max_message_size of %u "
                            "bytes, less room for the header)",
                            m.partial ? "at least " : "", m.size, (guint64) AS_VALUE_SET_MAX_SIZE,
                            AS_BUS_MAX_MESSAGE_SIZE);
                return FALSE;
        }
        return TRUE;
}
