/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* valueset_check() and valueset_copy(): the rules of a ValueSet, its marshalled size (what
 * MaxMessageSize limits) and the copy the broker relays; valueset_check_copy(), which does both in
 * one pass, must agree with them in verdict, size and bytes.
 *
 * Input: a mode byte, then
 *   - even: a recipe (recipe.h) for an a{sv} with any types, nesting and keys. The message is
 *     sent on a bus connection whose other end is read as bytes, so the check's size is compared
 *     with the real body length, the copies' bodies with the original's, byte for byte, and the
 *     bytes sent back in parse to the same verdict;
 *   - odd: a signature recipe and raw body bytes, framed as a message and written to the
 *     connection, so that the walker meets whatever sd-bus lets through from a socket. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "fuzz-input.h"
#include "log.h"
#include "peer-pipe.h"
#include "recipe.h"
#include "valueset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static PeerPipe pipe_;

/* What the filter saw of the last message that came in. */
static struct {
        bool barrier;
        bool seen;
        int verdict;
        uint64_t size;
} received;

#define FAIL(...) do { fprintf(stderr, "fuzz-valueset: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static int new_message(sd_bus_message **ret) {
        return sd_bus_message_new_method_call(pipe_.bus, ret, NULL, "/fuzz", "io.fuzz", "Check");
}

/* Copies a checked ValueSet into a new message, and returns that message's wire form. Copied
 * again by valueset_check_copy(), it must give the same verdict (`verdict`, the check's), size
 * (`size`) and bytes. */
static int copy_and_read(sd_bus_message *source, int verdict, uint64_t size, uint8_t **ret, size_t *ret_size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *copy = NULL, *walked = NULL;
        _cleanup_(freep) uint8_t *walked_wire = NULL;
        _cleanup_(freep) char *reason = NULL;
        size_t walked_size;
        uint64_t walked_measure = 0;
        int r;

        r = valueset_seek(source);
        if (r < 0)
                return r;
        r = new_message(&copy);
        if (r < 0)
                return r;
        r = valueset_copy(copy, source);
        if (r < 0)
                return r;
        r = peer_pipe_send_and_read(&pipe_, copy, ret, ret_size);
        if (r < 0)
                return r;

        r = valueset_seek(source);
        if (r < 0)
                return r;
        r = new_message(&walked);
        if (r < 0)
                return r;
        r = valueset_check_copy(source, walked, UINT64_MAX, &walked_measure, &reason);
        if (r != verdict)
                FAIL("valueset_check_copy(): verdict %d, valueset_check(): %d", r, verdict);
        if (walked_measure != size)
                FAIL("valueset_check_copy() measured %llu bytes, valueset_check() %llu",
                     (unsigned long long) walked_measure, (unsigned long long) size);
        r = peer_pipe_send_and_read(&pipe_, walked, &walked_wire, &walked_size);
        if (r < 0)
                return r;
        if (wire_body_length(walked_wire) != wire_body_length(*ret) ||
            memcmp(walked_wire + wire_body_offset(walked_wire), *ret + wire_body_offset(*ret),
                   wire_body_length(*ret)) != 0)
                FAIL("valueset_check_copy()'s copy differs from valueset_copy()'s (%u and %u bytes)",
                     wire_body_length(walked_wire), wire_body_length(*ret));
        return 0;
}

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(freep) char *reason = NULL;
        _cleanup_(freep) uint8_t *wire = NULL;
        size_t wire_size;
        int r;

        if (sd_bus_message_is_method_call(m, "io.fuzz", "Barrier"))
                received.barrier = true;
        if (!sd_bus_message_is_method_call(m, "io.fuzz", "Check"))
                return 1;  /* handled, no reply */

        received.seen = true;
        received.size = 0;
        r = valueset_seek(m);
        if (r >= 0)
                r = valueset_check(m, UINT64_MAX, &received.size, &reason);
        received.verdict = r;
        if (r == VALUESET_OK) {
                /* What passed the check must copy, whatever sd-bus let in. */
                r = copy_and_read(m, VALUESET_OK, received.size, &wire, &wire_size);
                if (r < 0) {
                        (void) sd_bus_message_rewind(m, true);
                        (void) sd_bus_message_dump(m, stderr, SD_BUS_MESSAGE_DUMP_WITH_HEADER);
                        FAIL("a ValueSet that passed the check does not copy: %s", strerror(-r));
                }
                if (wire_body_length(wire) != received.size)
                        FAIL("copy of %llu bytes measured as %llu", (unsigned long long) wire_body_length(wire),
                             (unsigned long long) received.size);
        } else if (r == VALUESET_INVALID && (!reason || !reason[0]))
                FAIL("an invalid ValueSet without a reason");
        return 1;
}

static bool pipe_reopened;

static void reopen(void) {
        pipe_reopened = true;
        peer_pipe_close(&pipe_);
        if (peer_pipe_open(&pipe_) < 0 || sd_bus_add_filter(pipe_.bus, NULL, on_message, NULL) < 0)
                FAIL("cannot set up the connection");
}

/* Writes a message (already in wire form) to the connection and processes until the filter saw
 * it or the connection dropped it. A barrier message behind it tells when it was dropped. */
static void deliver(const uint8_t *wire, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *barrier = NULL;
        _cleanup_(freep) uint8_t *barrier_wire = NULL;
        size_t barrier_size;

        received.seen = false;
        pipe_reopened = false;
        if (sd_bus_message_new_method_call(pipe_.bus, &barrier, NULL, "/fuzz", "io.fuzz", "Barrier") < 0 ||
            peer_pipe_send_and_read(&pipe_, barrier, &barrier_wire, &barrier_size) < 0)
                FAIL("no barrier");

        if (peer_pipe_write(&pipe_, wire, size) < 0 || peer_pipe_write(&pipe_, barrier_wire, barrier_size) < 0) {
                reopen();
                return;
        }
        received.barrier = false;
        while (!received.barrier) {
                int r = sd_bus_process(pipe_.bus, NULL);

                if (r < 0) {
                        reopen();  /* sd-bus gave up on the connection: fine, not ours */
                        return;
                }
                if (r == 0 && sd_bus_wait(pipe_.bus, 1000000) < 0) {
                        reopen();
                        return;
                }
        }
        peer_pipe_drain(&pipe_);
}

static void run_recipe(FuzzInput *in) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(freep) uint8_t *wire = NULL, *copy_wire = NULL;
        _cleanup_(freep) char *reason = NULL, *reason_limited = NULL;
        size_t wire_size, copy_size;
        uint64_t size = 0, limited_size = 0;
        int verdict, r;

        unsigned n_fds = recipe_n_fds;

        if (new_message(&m) < 0)
                FAIL("cannot make a message");
        if (recipe_append_value_set(m, in, 0) < 0)
                return;  /* sd-bus refused to build it: nothing a peer could send */
        r = peer_pipe_send_and_read(&pipe_, m, &wire, &wire_size);
        if (r < 0) {
                reopen();
                return;
        }

        r = sd_bus_message_rewind(m, true);
        if (r < 0)
                FAIL("rewind: %s", strerror(-r));
        verdict = valueset_check(m, UINT64_MAX, &size, &reason);
        /* sd-bus builds some messages it cannot read back itself (a variant signature of 255
         * bytes has been seen): those are not the walker's business. */
        if (verdict < 0 && (sd_bus_message_rewind(m, true) < 0 || sd_bus_message_skip(m, NULL) < 0))
                return;
        if (verdict < 0) {
                (void) sd_bus_message_dump(m, stderr, SD_BUS_MESSAGE_DUMP_WITH_HEADER);
                FAIL("a message sd-bus built does not read: %s", strerror(-verdict));
        }
        /* An invalid ValueSet's size is not used (the rule wins), and a unix fd is skipped unmeasured. */
        if (verdict == VALUESET_OK && size != wire_body_length(wire))
                FAIL("measured %llu bytes, the body has %u", (unsigned long long) size, wire_body_length(wire));

        /* One byte under the size: an otherwise valid ValueSet is too large. */
        if (size > 0) {
                r = sd_bus_message_rewind(m, true);
                if (r >= 0)
                        r = valueset_check(m, size - 1, &limited_size, &reason_limited);
                if (r < 0)
                        FAIL("check with a limit: %s", strerror(-r));
                if (verdict == VALUESET_OK && r != VALUESET_TOO_LARGE)
                        FAIL("%llu bytes pass a limit of %llu", (unsigned long long) size,
                             (unsigned long long) size - 1);
                if (verdict == VALUESET_INVALID && r == VALUESET_OK)
                        FAIL("invalid without a limit, valid with one");
        }

        if (verdict == VALUESET_OK) {
                /* The copy is the same bytes. */
                r = sd_bus_message_rewind(m, true);
                if (r >= 0)
                        r = copy_and_read(m, VALUESET_OK, size, &copy_wire, &copy_size);
                if (r < 0)
                        FAIL("copy: %s", strerror(-r));
                if (wire_body_length(copy_wire) != wire_body_length(wire) ||
                    memcmp(copy_wire + wire_body_offset(copy_wire), wire + wire_body_offset(wire),
                           wire_body_length(wire)) != 0)
                        FAIL("the copy's body differs from the original's (%u and %u bytes)",
                             wire_body_length(copy_wire), wire_body_length(wire));
        }

        /* The same bytes, received: the same verdict and size. Not with unix fds, which do not
         * travel as bytes. */
        if (recipe_n_fds != n_fds)
                return;
        deliver(wire, wire_size);
        if (!received.seen) {
                (void) sd_bus_message_dump(m, stderr, SD_BUS_MESSAGE_DUMP_WITH_HEADER);
                FAIL("a message sd-bus sent was not received back%s", pipe_reopened ? " (connection closed)" : "");
        }
        if (received.verdict != verdict || (verdict == VALUESET_OK && received.size != size))
                FAIL("received: verdict %d size %llu, sent: verdict %d size %llu", received.verdict,
                     (unsigned long long) received.size, verdict, (unsigned long long) size);
}

/* A method call in wire form, little endian, with the given signature and body. */
static void run_raw(FuzzInput *in) {
        static const char *const signatures[] = { "a{sv}", "ta{sv}", "ssa{sv}", "a{sv}a{sv}", "sa{sv}", "a{sv}s" };
        const char *signature = signatures[fuzz_input_below(in, sizeof signatures / sizeof signatures[0])];
        size_t body_size = in->size - in->pos, sig_len = strlen(signature), n = 0;
        _cleanup_(freep) uint8_t *msg = NULL;
        uint32_t fields_len;

        msg = calloc(1, 128 + body_size);
        if (!msg)
                abort();
        msg[n++] = 'l';
        msg[n++] = 1;     /* method call */
        msg[n++] = 1;     /* no reply expected */
        msg[n++] = 1;     /* protocol version */
        memcpy(msg + n, &(uint32_t) { (uint32_t) body_size }, 4);
        n += 4;
        memcpy(msg + n, &(uint32_t) { ++pipe_.serial | 0x40000000u }, 4);
        n += 4;
        n += 4;           /* fields length, below */
        /* PATH /fuzz */
        msg[n++] = 1; msg[n++] = 1; msg[n++] = 'o'; msg[n++] = 0;
        memcpy(msg + n, &(uint32_t) { 5 }, 4); n += 4;
        memcpy(msg + n, "/fuzz", 6); n += 6;
        n = (n + 7) & ~(size_t) 7;
        /* INTERFACE io.fuzz */
        msg[n++] = 2; msg[n++] = 1; msg[n++] = 's'; msg[n++] = 0;
        memcpy(msg + n, &(uint32_t) { 7 }, 4); n += 4;
        memcpy(msg + n, "io.fuzz", 8); n += 8;
        n = (n + 7) & ~(size_t) 7;
        /* MEMBER Check */
        msg[n++] = 3; msg[n++] = 1; msg[n++] = 's'; msg[n++] = 0;
        memcpy(msg + n, &(uint32_t) { 5 }, 4); n += 4;
        memcpy(msg + n, "Check", 6); n += 6;
        n = (n + 7) & ~(size_t) 7;
        /* SIGNATURE */
        msg[n++] = 8; msg[n++] = 1; msg[n++] = 'g'; msg[n++] = 0;
        msg[n++] = (uint8_t) sig_len;
        memcpy(msg + n, signature, sig_len + 1);
        n += sig_len + 1;
        fields_len = (uint32_t) (n - 16);
        memcpy(msg + 12, &fields_len, 4);
        n = (n + 7) & ~(size_t) 7;
        memcpy(msg + n, in->data + in->pos, body_size);
        n += body_size;

        deliver(msg, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in = fuzz_input(data, size);

        if (!pipe_.bus) {
                log_set_max_level(LOG_CRIT);
                reopen();
        }
        if (fuzz_input_byte(&in) & 1)
                run_raw(&in);
        else
                run_recipe(&in);
        return 0;
}
