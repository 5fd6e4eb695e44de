/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* An sd-bus connection whose other end is a plain socket held by the harness: what the bus
 * connection writes can be read as bytes (the exact wire form of a message), and bytes written
 * to the socket arrive as messages the connection parses, as if a peer had sent them. */

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct PeerPipe {
        sd_bus *bus;    /* a direct connection (no bus daemon), authenticated ANONYMOUS */
        int raw_fd;     /* the other end */
        uint32_t serial;
} PeerPipe;

int peer_pipe_open(PeerPipe *p);
void peer_pipe_close(PeerPipe *p);

/* Sends `m` on the bus and reads its wire form back from the raw end into a new buffer. */
int peer_pipe_send_and_read(PeerPipe *p, sd_bus_message *m, uint8_t **ret, size_t *ret_size);
/* Writes bytes to the raw end (the bus connection will read them). */
int peer_pipe_write(PeerPipe *p, const void *data, size_t size);
/* Reads and drops whatever the bus connection wrote so far. */
void peer_pipe_drain(PeerPipe *p);

/* The sizes in a D-Bus header (little endian): body length and the whole message's length. */
size_t wire_body_offset(const uint8_t *msg);
uint32_t wire_body_length(const uint8_t *msg);
