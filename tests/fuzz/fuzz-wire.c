/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The MQTT bridge's wire encoding (services/mqtt/wire.c): the frames of a remote connection and
 * the ValueSets of wire-encoded actions, as anyone who may publish to the node's topics sends
 * them.
 *
 * Input: an MQTT payload as it comes off the network. */

#include <stdint.h>
#include <stdlib.h>

#include "fuzz-glib.h"
#include "wire.h"

#define MAX_FRAME_SIZE (2u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_glib_init();
        return 0;
}

/* A frame that decodes encodes again (the encoder's rules are the decoder's), and that encoding
 * decodes to a frame that encodes the same: unknown fields are dropped once, nothing else changes. */
static void check_frame(const uint8_t *data, size_t size) {
        g_autoptr(GError) error = NULL;
        g_autoptr(WireFrame) frame = wire_frame_decode(data, size, MAX_FRAME_SIZE, &error);
        g_autoptr(WireFrame) again = NULL;
        g_autoptr(GBytes) encoded = NULL, reencoded = NULL;

        if (!frame) {
                if (!error || !error->message[0])
                        abort();
                return;
        }
        encoded = wire_frame_encode(frame, &error);
        if (!encoded)
                abort();
        again = wire_frame_decode(g_bytes_get_data(encoded, NULL), g_bytes_get_size(encoded), MAX_FRAME_SIZE, &error);
        if (!again || again->kind != frame->kind || again->session != frame->session)
                abort();
        reencoded = wire_frame_encode(again, &error);
        if (!reencoded || !g_bytes_equal(encoded, reencoded))
                abort();
}

/* A ValueSet that decodes keeps the rules, and is in normal form: encoding it gives the input. */
static void check_value_set(const uint8_t *data, size_t size) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) value = wire_value_set_decode(data, size, MAX_FRAME_SIZE, &error);
        g_autoptr(GBytes) encoded = NULL;
        g_autoptr(GBytes) input = NULL;

        if (!value) {
                if (!error || !error->message[0])
                        abort();
                return;
        }
        if (!wire_value_set_check(value, NULL))
                abort();
        encoded = wire_value_encode(value);
        input = g_bytes_new_static(data, size);
        if (G_BYTE_ORDER == G_LITTLE_ENDIAN && !g_bytes_equal(encoded, input))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        check_frame(data, size);
        check_value_set(data, size);
        return 0;
}
