/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The few cleanup helpers the daemon needs. libsystemd exports sd_*_unrefp() itself; everything
 * else gets a DEFINE_CLEANUP() line next to its _free() function. */

#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}

/* Closes fd if open; returns -1, for "fd = safe_close(fd)". */
static inline int safe_close(int fd) {
        if (fd >= 0)
                close(fd);
        return -1;
}

static inline void strv_free(char **l) {
        if (!l)
                return;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
}

static inline void strv_freep(char ***l) {
        strv_free(*l);
}

/* Declares type_freep() for a type whose type_free() accepts NULL and returns NULL. */
#define DEFINE_CLEANUP(type, func)                      \
        static inline void func##p(type **p) {          \
                if (*p)                                 \
                        func(*p);                       \
        }

/* Hands ownership of a guarded local to the caller: the local becomes NULL. */
#define TAKE_PTR(p)                                     \
        ({                                              \
                __typeof__(p) _taken = (p);             \
                (p) = NULL;                             \
                _taken;                                 \
        })

#define TAKE_FD(fd)                                     \
        ({                                              \
                int _taken_fd = (fd);                   \
                (fd) = -1;                              \
                _taken_fd;                              \
        })

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline const char *strempty(const char *s) {
        return s ? s : "";
}
