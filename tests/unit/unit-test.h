/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers shared by the unit tests. Assertions are non-fatal (see unit_test_init()), so a test
 * that would dereference what a failed assertion let through must return instead. */

#include <glib.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

/* g_test_init() plus non-fatal assertions: a failing case prints "not ok N /path" and the
 * program goes on with the next case, so meson's TAP parser sees every case, not a "Bail out!"
 * that hides the rest. */
void unit_test_init(int *argc, char ***argv);

#define ASSERT_OR_RETURN(expr)                                                  \
        do {                                                                    \
                if (!(expr)) {                                                  \
                        g_test_fail_printf("%s:%d: %s is false", __FILE__,      \
                                           __LINE__, #expr);                   \
                        return;                                                 \
                }                                                               \
        } while (0)

#define ASSERT_OR_GOTO(expr, label)                                             \
        do {                                                                    \
                if (!(expr)) {                                                  \
                        g_test_fail_printf("%s:%d: %s is false", __FILE__,      \
                                           __LINE__, #expr);                   \
                        goto label;                                             \
                }                                                               \
        } while (0)

/* Captures what the daemon's log writes to stderr between begin and end. */
typedef struct StderrCapture {
        int saved_fd;
        int capture_fd;
} StderrCapture;

void stderr_capture_begin(StderrCapture *c);
/* Returns what was written (never NULL); free with g_free(). */
char *stderr_capture_end(StderrCapture *c);
/* How often `needle` occurs in `haystack`. */
unsigned count_occurrences(const char *haystack, const char *needle);

/* A fresh directory under $TMPDIR, and a recursive removal for it. */
char *make_temp_dir(void);
void remove_tree(const char *path);
/* Writes `text` to dir/name with `mode`, returns the path (g_free()). */
char *write_file(const char *dir, const char *name, const char *text, mode_t mode);

/* A client bus connected through a socketpair to an in-process server bus, authenticated and
 * able to pass fds: enough to build real messages without a bus daemon. */
typedef struct BusPair {
        sd_bus *server;
        sd_bus *client;
} BusPair;

int bus_pair_open(BusPair *p);
void bus_pair_close(BusPair *p);
/* A method call on p->client, ready to be filled with sd_bus_message_append(). */
sd_bus_message *bus_pair_new_message(BusPair *p);
/* Seals `m` and rewinds it, so that it can be read like a received message. */
int message_seal_for_reading(sd_bus_message *m);
