/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The wire encoding (README.md, "Wire encoding"): a frame of a remote connection is a GVariant
 * `(sa{sv})`, its kind and its fields, serialized in normal form and little-endian; a ValueSet on
 * its own (`application/x-appservice-valueset`) is its `a{sv}` the same way. Decoding trusts
 * nothing: the size, the normal form, the type, the kind and its fields' types, and the ValueSet
 * rules are all checked, and a GError (G_IO_ERROR_INVALID_DATA) says what was wrong. Pure
 * functions: no bus, no network. */

#include <glib.h>

/* The ValueSet rules of the contract (the broker's daemon/valueset.h): keys of 1 to 255 bytes,
 * unique, in nested a{sv} too; no unix fd ('h') anywhere; at most 32 containers deep, counting
 * the ValueSet's own array and dict entry. And what D-Bus can carry, since every ValueSet ends up
 * on a bus: no maybe ('m'), no empty struct, no dict entry outside an array, signatures of at
 * most 255 bytes. */
#define WIRE_VALUESET_MAX_KEY_LENGTH 255
#define WIRE_VALUESET_MAX_DEPTH 32

typedef enum WireKind {
        WIRE_OPEN,
        WIRE_OPENED,
        WIRE_REFUSED,
        WIRE_REQUEST,
        WIRE_RESPONSE,
        WIRE_FAILED,
        WIRE_CLOSE,
        _WIRE_KIND_MAX,
        _WIRE_KIND_INVALID = -1,
} WireKind;

/* A frame, decoded or to encode. Which members mean something depends on the kind (README.md's
 * table); the others are 0 or NULL. In a decoded frame the strings and ValueSets point into
 * `frame`, which the WireFrame owns. */
typedef struct WireFrame {
        WireKind kind;
        guint64 session;           /* every kind */
        guint64 request;           /* request, response, failed */
        guint64 max_message_size;  /* opened */
        guint32 status;            /* close */
        const char *name;          /* open */
        const char *provider;      /* open */
        const char *error;         /* refused, failed */
        const char *message;       /* refused, failed */
        GVariant *caller;          /* open: a{sv} */
        GVariant *values;          /* request: "message", response: "response" (a{sv}) */

        GVariant *frame;           /* decoded: the (sa{sv}) the members point into */
} WireFrame;

const char *wire_kind_to_string(WireKind kind);
WireKind wire_kind_from_string(const char *s);

/* The frame `f` (its kind's members) as bytes; NULL with `error` when a member breaks a rule (a
 * ValueSet that is not one, a NULL string). The ValueSets are taken as they are: their bytes
 * cross unchanged. */
GBytes *wire_frame_encode(const WireFrame *f, GError **error);
/* Any (sa{sv}), as it is (normal form, little-endian): for tests that need a frame no encoder
 * would make. */
GBytes *wire_encode_raw(const char *kind, GVariant *fields);

/* Decodes a frame received from the network: NULL with `error` unless it is at most `max_size`
 * bytes, in normal form, of a known kind with every field it needs of the right type (unknown
 * fields are ignored, a field given twice is refused) and ValueSets that keep the rules. */
WireFrame *wire_frame_decode(const void *data, gsize size, gsize max_size, GError **error);
WireFrame *wire_frame_free(WireFrame *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(WireFrame, wire_frame_free)

/* A value in the wire encoding: normal form, little-endian. */
GBytes *wire_value_encode(GVariant *value);
/* A value of `type` from its wire encoding: NULL with `error` unless it is 1 to `max_size` bytes
 * in normal form; `what` names it in messages. A full reference. */
GVariant *wire_value_decode(const void *data, gsize size, gsize max_size, const GVariantType *type, const char *what,
                            GError **error);
/* A ValueSet from its wire encoding, with the checks of wire_frame_decode(). A full reference. */
GVariant *wire_value_set_decode(const void *data, gsize size, gsize max_size, GError **error);
/* Whether `value` is a ValueSet that keeps the rules above; `error` says which and where. */
gboolean wire_value_set_check(GVariant *value, GError **error);
