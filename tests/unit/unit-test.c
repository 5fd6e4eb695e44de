/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-id128.h>

#include "unit-test.h"

void unit_test_init(int *argc, char ***argv) {
        g_test_init(argc, argv, NULL);
        g_test_set_nonfatal_assertions();
}

void stderr_capture_begin(StderrCapture *c) {
        fflush(stderr);
        c->capture_fd = memfd_create("stderr-capture", MFD_CLOEXEC);
        g_assert_cmpint(c->capture_fd, >=, 0);
        c->saved_fd = dup(STDERR_FILENO);
        g_assert_cmpint(c->saved_fd, >=, 0);
        g_assert_cmpint(dup2(c->capture_fd, STDERR_FILENO), ==, STDERR_FILENO);
}

char *stderr_capture_end(StderrCapture *c) {
        GString *s = g_string_new(NULL);
        char buf[4096];
        ssize_t n;

        fflush(stderr);
        g_assert_cmpint(dup2(c->saved_fd, STDERR_FILENO), ==, STDERR_FILENO);
        close(c->saved_fd);

        g_assert_cmpint(lseek(c->capture_fd, 0, SEEK_SET), ==, 0);
        while ((n = read(c->capture_fd, buf, sizeof buf)) > 0)
                g_string_append_len(s, buf, n);
        close(c->capture_fd);
        *c = (StderrCapture) { -1, -1 };

        /* Show it anyway, for whoever reads the test log. */
        if (s->len > 0)
                g_test_message("captured stderr:\n%s", s->str);
        return g_string_free(s, FALSE);
}

unsigned count_occurrences(const char *haystack, const char *needle) {
        unsigned n = 0;

        for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

char *make_temp_dir(void) {
        g_autoptr(GError) error = NULL;
        char *dir = g_dir_make_tmp("appservice-unit-XXXXXX", &error);

        g_assert_no_error(error);
        return dir;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        if (remove(path) < 0 && errno != ENOENT)
                g_printerr("cannot remove %s: %m\n", path);
        return 0;
}

void remove_tree(const char *path) {
        if (path)
                nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *write_file(const char *dir, const char *name, const char *text, mode_t mode) {
        g_autoptr(GError) error = NULL;
        char *path = g_build_filename(dir, name, NULL);

        g_file_set_contents(path, text, -1, &error);
        g_assert_no_error(error);
        g_assert_cmpint(chmod(path, mode), ==, 0);
        return path;
}

int bus_pair_open(BusPair *p) {
        sd_id128_t id;
        int fds[2], r;

        *p = (BusPair) {};
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
                return -errno;

        r = sd_id128_randomize(&id);
        if (r < 0)
                goto fail;

        r = sd_bus_new(&p->server);
        if (r < 0)
                goto fail;
        r = sd_bus_set_fd(p->server, fds[0], fds[0]);
        if (r < 0)
                goto fail;
        fds[0] = -1;
        (void) sd_bus_set_server(p->server, 1, id);
        (void) sd_bus_set_anonymous(p->server, 1);
        (void) sd_bus_negotiate_fds(p->server, 1);

        r = sd_bus_new(&p->client);
        if (r < 0)
                goto fail;
        r = sd_bus_set_fd(p->client, fds[1], fds[1]);
        if (r < 0)
                goto fail;
        fds[1] = -1;
        (void) sd_bus_set_anonymous(p->client, 1);
        (void) sd_bus_negotiate_fds(p->client, 1);

        r = sd_bus_start(p->server);
        if (r < 0)
                goto fail;
        r = sd_bus_start(p->client);
        if (r < 0)
                goto fail;

        /* Drive both ends of the authentication until both are running: only then does the
         * client know that fds may be passed. */
        for (unsigned i = 0; i < 1000 && (sd_bus_is_ready(p->server) <= 0 || sd_bus_is_ready(p->client) <= 0); i++) {
                r = sd_bus_process(p->server, NULL);
                if (r < 0)
                        goto fail;
                r = sd_bus_process(p->client, NULL);
                if (r < 0)
                        goto fail;
                if (r == 0)
                        (void) sd_bus_wait(p->client, 10 * 1000);
        }
        if (sd_bus_is_ready(p->server) <= 0 || sd_bus_is_ready(p->client) <= 0) {
                r = -ETIMEDOUT;
                goto fail;
        }
        return 0;

fail:
        if (fds[0] >= 0)
                close(fds[0]);
        if (fds[1] >= 0)
                close(fds[1]);
        bus_pair_close(p);
        return r;
}

void bus_pair_close(BusPair *p) {
        p->client = sd_bus_flush_close_unref(p->client);
        p->server = sd_bus_flush_close_unref(p->server);
}

sd_bus_message *bus_pair_new_message(BusPair *p) {
        sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(p->client, &m, "io.appservice1.Test", "/io/appservice1/test",
                                           "io.appservice1.Test", "Check");
        g_assert_cmpint(r, >=, 0);
        return m;
}

int message_seal_for_reading(sd_bus_message *m) {
        static uint64_t cookie = 0;
        int r;

        r = sd_bus_message_seal(m, ++cookie, 0);
        if (r < 0)
                return r;
        return sd_bus_message_rewind(m, /* complete= */ 1);
}
