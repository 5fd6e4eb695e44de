/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The typed JSON mapping of ValueSets (README.md here has the table): a ValueSet (a{sv}) written
 * as JSON with its D-Bus types kept wherever JSON alone would lose them, and JSON read back into
 * a ValueSet, for appservicectl --json and the MQTT bridge's cloud messages and actions. No bus,
 * no libappservice: GLib and json-glib only. */

#include <glib.h>

G_BEGIN_DECLS

/* What a parsed document may hold at most: containers around a value (the ValueSet rules, as the
 * broker counts them: the top-level a{sv}'s array and dict entry and each value's variant count),
 * and key length in bytes. */
#define VALUESET_JSON_MAX_DEPTH 32
#define VALUESET_JSON_MAX_KEY 255

#define VALUESET_JSON_ERROR (valueset_json_error_quark())
GQuark valueset_json_error_quark(void);

typedef enum {
        VALUESET_JSON_ERROR_SYNTAX,     /* not JSON (RFC 8259), or not UTF-8 */
        VALUESET_JSON_ERROR_NOT_OBJECT, /* the document is not one JSON object */
        VALUESET_JSON_ERROR_TOO_DEEP,   /* containers nest past VALUESET_JSON_MAX_DEPTH */
        VALUESET_JSON_ERROR_KEY,        /* a ValueSet key is empty, too long, or repeated */
        VALUESET_JSON_ERROR_TYPE,       /* "@TYPE" names no definite D-Bus type, or holds h */
        VALUESET_JSON_ERROR_VALUE,      /* a value does not match its type, or is out of range */
} ValuesetJsonError;

/* Writer. @value_set is an a{sv}; the output is one line of UTF-8 JSON, keys in the ValueSet's
 * order. */
void valueset_json_append_string(GString *out, const char *s);
void valueset_json_append(GString *out, GVariant *value_set);
char *valueset_json_print(GVariant *value_set);

/* Parser: the JSON text (@length bytes, or up to NUL if -1) as an a{sv}, a full (not floating)
 * reference the caller unrefs; NULL with a VALUESET_JSON_ERROR whose message names the place (a
 * JSON Pointer, "/outer/inner/2", or a line and column) otherwise. The exact inverse of the
 * writer; plain JSON maps as README.md says. */
GVariant *valueset_json_parse(const char *text, gssize length, GError **error);

G_END_DECLS
