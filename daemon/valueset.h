/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* ValueSets (a{sv}): the rules of the contract and the size that MaxMessageSize limits. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#define VALUESET_MAX_KEY_LENGTH 255
/* Containers a ValueSet may nest, counting its own array and dict entry (so a{sv} in a{sv} is 5
 * deep: array, entry, variant, array, entry). D-Bus allows 64 in a whole message; the broker puts
 * a ValueSet into at most three containers of its own, and the rest is the headroom peers need
 * for theirs. */
#define VALUESET_MAX_DEPTH 32

typedef enum ValueSetVerdict {
        VALUESET_OK,
        VALUESET_INVALID,    /* breaks a rule: InvalidMessage */
        VALUESET_TOO_LARGE,  /* over the size limit: MessageSizeTooLarge */
} ValueSetVerdict;

/* Reads the a{sv} at the current position of `m`, checking keys (non-empty, valid UTF-8, at most
 * 255 bytes, unique; the same inside nested a{sv}) and values (no unix fds anywhere, nesting at most
 * VALUESET_MAX_DEPTH deep), and measuring its D-Bus marshalled size: the array alone, as if it
 * started at an 8-aligned offset. The walk stops where the size passes `max_size`, so that an
 * oversized message costs no more than the limit: a rule broken before that point wins over the
 * size (the contract's order of checks), anything after it is not read. On OK, `m` is left right
 * after the ValueSet. Returns a verdict (>= 0) or a negative errno when the message cannot be
 * read. On INVALID or TOO_LARGE, *ret_reason (when given) gets a sentence to put in the error;
 * *ret_size gets the size (on TOO_LARGE: the size read when the walk stopped). */
int valueset_check(sd_bus_message *m, uint64_t max_size, uint64_t *ret_size, char **ret_reason);
/* The same as the contract's errors for app service `service` (InvalidMessage,
 * MessageSizeTooLarge naming MaxMessageSize), in `error`. Returns < 0 when refused. */
int valueset_check_for(sd_bus_message *m, const char *service, uint64_t max_size, uint64_t *ret_size,
                       sd_bus_error *error);

/* valueset_check() and valueset_check_for() that append the ValueSet to `copy` while they read it,
 * as valueset_copy() would: one pass over a ValueSet that is relayed instead of two. `copy` holds
 * the whole ValueSet only on OK (0 from _for()); otherwise it holds part of it, and the message
 * must be thrown away. */
int valueset_check_copy(sd_bus_message *m, sd_bus_message *copy, uint64_t max_size, uint64_t *ret_size,
                        char **ret_reason);
int valueset_check_copy_for(sd_bus_message *m, sd_bus_message *copy, const char *service, uint64_t max_size,
                            uint64_t *ret_size, sd_bus_error *error);

/* Appends the a{sv} at the current position of `source` to `destination`, value by value with the
 * same types, so that the receiver gets it byte for byte. Arrays of fixed-size types move in one
 * piece (sd_bus_message_copy() in libsystemd 252 copies them element by element, which made a
 * 64 KiB byte array cost tens of milliseconds). The ValueSet must have passed valueset_check(). */
int valueset_copy(sd_bus_message *destination, sd_bus_message *source);

/* Positions `m` at its first a{sv} argument: the ValueSet of SendMessage, SendResponse (after the
 * request id) and SubmitAction (after destination and action). */
int valueset_seek(sd_bus_message *m);
