/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer-pipe.h"

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

uint32_t wire_body_length(const uint8_t *msg) {
        return le32(msg + 4);
}

size_t wire_body_offset(const uint8_t *msg) {
        return 16 + (((size_t) le32(msg + 12) + 7) & ~(size_t) 7);
}

int peer_pipe_write(PeerPipe *p, const void *data, size_t size) {
        const uint8_t *d = data;

        /* The bus reads as we write: process it while the socket is full. */
        while (size > 0) {
                ssize_t n = write(p->raw_fd, d, size);
                if (n < 0) {
                        if (errno != EAGAIN)
                                return -errno;
                        if (sd_bus_process(p->bus, NULL) < 0)
                                return -ECONNRESET;
                        continue;
                }
                d += n;
                size -= (size_t) n;
        }
        return 0;
}

void peer_pipe_drain(PeerPipe *p) {
        uint8_t buf[4096];

        while (read(p->raw_fd, buf, sizeof buf) > 0)
                ;
}

int peer_pipe_open(PeerPipe *p) {
        static const char reply[] = "OK 0123456789abcdef0123456789abcdef\r\nAGREE_UNIX_FD\r\n";
        int fds[2], r;

        *p = (PeerPipe) { .raw_fd = -1 };
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
                return -errno;
        p->raw_fd = fds[1];

        r = sd_bus_new(&p->bus);
        if (r >= 0)
                r = sd_bus_set_fd(p->bus, fds[0], fds[0]);
        else
                close(fds[0]);
        if (r >= 0)
                r = sd_bus_set_anonymous(p->bus, true);
        if (r >= 0)
                r = sd_bus_negotiate_fds(p->bus, true);
        if (r >= 0)
                r = sd_bus_start(p->bus);
        /* The server's side of the handshake, before the client even asks. */
        if (r >= 0 && write(p->raw_fd, reply, sizeof reply - 1) != sizeof reply - 1)
                r = -EIO;
        for (int i = 0; r >= 0 && i < 1000; i++) {
                r = sd_bus_process(p->bus, NULL);
                if (r >= 0 && sd_bus_is_ready(p->bus) > 0)
                        break;
                if (r == 0)
                        r = sd_bus_wait(p->bus, 100000);
        }
        if (r >= 0 && sd_bus_is_ready(p->bus) <= 0)
                r = -ETIMEDOUT;
        if (r < 0) {
                peer_pipe_close(p);
                return r;
        }
        peer_pipe_drain(p);  /* AUTH ..., NEGOTIATE_UNIX_FD, BEGIN */
        return 0;
}

void peer_pipe_close(PeerPipe *p) {
        p->bus = sd_bus_flush_close_unref(p->bus);
        if (p->raw_fd >= 0)
                close(p->raw_fd);
        p->raw_fd = -1;
}

/* Reads exactly one message from the raw end. */
static int read_message(PeerPipe *p, uint8_t **ret, size_t *ret_size) {
        uint8_t *buf = malloc(16);
        size_t have = 0, want = 16;

        if (!buf)
                return -ENOMEM;
        while (have < want) {
                ssize_t n = read(p->raw_fd, buf + have, want - have);
                if (n < 0 && errno == EAGAIN) {
                        /* Let the bus write the rest of what it queued. */
                        if (sd_bus_process(p->bus, NULL) < 0 ||
                            poll(&(struct pollfd) { .fd = p->raw_fd, .events = POLLIN }, 1, 10) < 0) {
                                free(buf);
                                return -ECONNRESET;
                        }
                        continue;
                }
                if (n <= 0) {
                        free(buf);
                        return -ECONNRESET;
                }
                have += (size_t) n;
                if (have == 16 && want == 16) {
                        uint8_t *b;
                        want = wire_body_offset(buf) + wire_body_length(buf);
                        b = realloc(buf, want);
                        if (!b) {
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = b;
                }
        }
        *ret = buf;
        *ret_size = have;
        return 0;
}

int peer_pipe_send_and_read(PeerPipe *p, sd_bus_message *m, uint8_t **ret, size_t *ret_size) {
        int r;

        r = sd_bus_send(p->bus, m, NULL);
        if (r < 0)
                return r;
        return read_message(p, ret, ret_size);
}
