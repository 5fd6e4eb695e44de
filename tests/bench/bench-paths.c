/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-paths: one echo round trip over each path a message between two processes can take, timed
 * the same way, for tools/bench's table.
 *
 *   bench-paths --path=PATH [--size=BYTES] [--count=N] [--depth=D] [--warmup=W]
 *               [--address=ADDRESS] [--service=NAME]
 *   bench-paths --link-provider=NAME
 *
 * PATH is one of:
 *   socketpair  raw bytes over a Unix socket pair to a forked child that writes them back (the
 *               physical floor): messages of exactly BYTES bytes;
 *   plain       a D-Bus method call through the bus daemon at ADDRESS to a forked sd-bus server
 *               that owns io.appservice1.bench.Plain and echoes the a{sv} it is sent;
 *   p2p         the same call on peer-to-peer D-Bus over a socket pair to a forked sd-bus server
 *               (ANONYMOUS authentication, no bus daemon);
 *   brokered    Manager.OpenConnection(NAME), then Connection.SendMessage through the broker to
 *               NAME's provider;
 *   direct      Manager.OpenDirectConnection(NAME), then io.appservice1.Link.SendMessage on the
 *               link's fd, peer-to-peer D-Bus with the provider. When the broker made the
 *               connection brokered, prints "n/a brokered: REASON" and exits 0.
 *
 * The D-Bus paths send the same a{sv}: {"Action": "Echo", "Text": <letters>}, the letters chosen
 * so that the message body is about BYTES bytes (BYTES >= 1024: a Text of exactly BYTES letters).
 * Every server echoes the a{sv} back unchanged; the first echo is compared with what was sent.
 *
 * It makes W uncounted round trips, then N one at a time (each timed, CLOCK_MONOTONIC), then N
 * with D in flight, and prints two lines:
 *   serial P50_NS P99_NS CALLS_PER_S
 *   depth D CALLS_PER_S
 * It fails (exit status 1) only when something does not work.
 *
 * --link-provider=NAME is the other end of a direct link, for the row "direct link, sd-bus
 * provider": it registers with the broker as NAME's provider with {"direct-links": <true>},
 * takes the "fd" of each DirectConnectionOpened, serves io.appservice1.Link.SendMessage on it as
 * a peer-to-peer D-Bus server (ANONYMOUS) by echoing the message, and closes the link when the
 * broker sends ServiceClosed or the client drops its end (then it calls Close at the broker, as
 * io.appservice1.Link says). It runs until SIGTERM.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>
#include <time.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

#define BROKER_NAME      "io.appservice1"
#define BROKER_PATH      "/io/appservice1"
#define MANAGER_IFACE    "io.appservice1.Manager"
#define SERVICE_IFACE    "io.appservice1.Service"
#define CONNECTION_IFACE "io.appservice1.Connection"
#define LINK_IFACE       "io.appservice1.Link"
#define LINK_PATH        "/io/appservice1/link"
#define PLAIN_NAME       "io.appservice1.bench.Plain"
#define CALL_TIMEOUT_USEC (30 * 1000 * 1000ULL)

static const char *arg_path = NULL;
static const char *arg_address = NULL;
static const char *arg_service = "com.example.echo";
static const char *arg_link_provider = NULL;
static size_t arg_size = 200;
static unsigned arg_count = 10000;
static unsigned arg_depth = 16;
static unsigned arg_warmup = 200;

static void freep(void *p) {
        free(*(void **) p);
}

static void fail(const char *what, int r) {
        fprintf(stderr, "bench-paths: %s: %s\n", what, strerror(r < 0 ? -r : r));
}

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return (x > y) - (x < y);
}

/* Sorts @lat and prints the serial line. */
static void print_serial(uint64_t *lat, unsigned n, uint64_t elapsed_ns) {
        size_t i99 = (size_t) n * 99 / 100;

        qsort(lat, n, sizeof *lat, compare_u64);
        if (i99 >= n)
                i99 = n - 1;
        printf("serial %" PRIu64 " %" PRIu64 " %.1f\n", lat[n / 2], lat[i99], n * 1e9 / (double) elapsed_ns);
}

static void print_depth(unsigned n, uint64_t elapsed_ns) {
        printf("depth %u %.1f\n", arg_depth, n * 1e9 / (double) elapsed_ns);
}

/* ---- socketpair: the floor ---- */

static int read_full(int fd, void *buf, size_t n) {
        size_t done = 0;

        while (done < n) {
                ssize_t k = read(fd, (char *) buf + done, n - done);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return done == 0 ? 0 : -EPIPE;
                done += (size_t) k;
        }
        return 1;
}

static int write_full(int fd, const void *buf, size_t n) {
        size_t done = 0;

        while (done < n) {
                ssize_t k = write(fd, (const char *) buf + done, n - done);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                done += (size_t) k;
        }
        return 0;
}

/* The child: writes back each message of arg_size bytes until end of file. */
static void socketpair_echo(int fd) {
        char *buf = malloc(arg_size);

        if (!buf)
                _exit(1);
        for (;;) {
                int r = read_full(fd, buf, arg_size);

                if (r <= 0)
                        _exit(r < 0);
                if (write_full(fd, buf, arg_size) < 0)
                        _exit(1);
        }
}

/* @depth messages in flight: the window is depth * arg_size bytes, sent and received without
 * blocking so that neither side can wait on the other's full buffer. */
static int socketpair_window(int fd, const char *msg, unsigned n, unsigned depth) {
        uint64_t total = (uint64_t) n * arg_size, sent = 0, received = 0;
        uint64_t window = (uint64_t) depth * arg_size;
        char scratch[65536];
        int flags = fcntl(fd, F_GETFL);

        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        while (received < total) {
                bool can_send = sent < total && sent - received < window;
                struct pollfd p = { .fd = fd, .events = POLLIN | (can_send ? POLLOUT : 0) };

                if (poll(&p, 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p.revents & (POLLERR | POLLHUP))
                        return -EPIPE;
                if (can_send && (p.revents & POLLOUT)) {
                        size_t off = (size_t) (sent % arg_size);
                        uint64_t room = window - (sent - received);
                        size_t len = arg_size - off;
                        ssize_t k;

                        if (len > room)
                                len = (size_t) room;
                        if (len > total - sent)
                                len = (size_t) (total - sent);
                        k = write(fd, msg + off, len);
                        if (k < 0 && errno != EAGAIN && errno != EINTR)
                                return -errno;
                        if (k > 0)
                                sent += (uint64_t) k;
                }
                if (p.revents & POLLIN) {
                        ssize_t k = read(fd, scratch, sizeof scratch);

                        if (k < 0 && errno != EAGAIN && errno != EINTR)
                                return -errno;
                        if (k == 0)
                                return -EPIPE;
                        if (k > 0)
                                received += (uint64_t) k;
                }
        }
        return fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

static int run_socketpair(void) {
        _cleanup_(freep) char *msg = malloc(arg_size);
        _cleanup_(freep) char *back = malloc(arg_size);
        _cleanup_(freep) uint64_t *lat = calloc(arg_count, sizeof(uint64_t));
        int sv[2], r, status;
        uint64_t start;
        pid_t pid;

        if (!msg || !back || !lat)
                return -ENOMEM;
        for (size_t i = 0; i < arg_size; i++)
                msg[i] = (char) ('a' + i % 26);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                close(sv[0]);
                socketpair_echo(sv[1]);
        }
        close(sv[1]);

        for (unsigned i = 0; i < arg_warmup; i++)
                if ((r = write_full(sv[0], msg, arg_size)) < 0 || (r = read_full(sv[0], back, arg_size)) <= 0)
                        goto out;
        if (memcmp(msg, back, arg_size) != 0 && arg_warmup > 0) {
                fprintf(stderr, "bench-paths: the socket pair's echo differs\n");
                r = -EBADMSG;
                goto out;
        }
        start = now_ns();
        for (unsigned i = 0; i < arg_count; i++) {
                uint64_t t0 = now_ns();

                if ((r = write_full(sv[0], msg, arg_size)) < 0 || (r = read_full(sv[0], back, arg_size)) <= 0)
                        goto out;
                lat[i] = now_ns() - t0;
        }
        print_serial(lat, arg_count, now_ns() - start);
        start = now_ns();
        r = socketpair_window(sv[0], msg, arg_count, arg_depth);
        if (r < 0)
                goto out;
        print_depth(arg_count, now_ns() - start);
        r = 0;
out:
        close(sv[0]);
        (void) waitpid(pid, &status, 0);
        return r == 0 ? 0 : (r < 0 ? r : -EPIPE);
}

/* ---- the D-Bus echo server, on a bus, on a socket pair and on a direct link ---- */

static int on_send_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_copy(reply, m, /* all= */ true);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static const sd_bus_vtable echo_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("SendMessage", "a{sv}", "a{sv}", on_send_message, 0),
        SD_BUS_VTABLE_END,
};

/* A forked server's loop: until the parent goes (PR_SET_PDEATHSIG) or the bus closes. */
static void serve_forever(sd_bus *bus) {
        for (;;) {
                int r = sd_bus_process(bus, NULL);

                if (r < 0)
                        _exit(r == -ECONNRESET || r == -ENOTCONN ? 0 : 1);
                if (r > 0)
                        continue;
                if (sd_bus_wait(bus, UINT64_MAX) < 0)
                        _exit(1);
        }
}

static int new_p2p_server(int fd, sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        sd_id128_t id;
        int r;

        r = sd_id128_randomize(&id);
        if (r >= 0)
                r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_fd(bus, fd, fd);
        if (r >= 0)
                r = sd_bus_set_server(bus, 1, id);
        if (r >= 0)
                r = sd_bus_set_anonymous(bus, 1);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, LINK_PATH, LINK_IFACE, echo_vtable, NULL);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = bus;
        bus = NULL;
        return 0;
}

static int new_p2p_client(int fd, sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_fd(bus, fd, fd);
        if (r >= 0)
                r = sd_bus_set_anonymous(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = bus;
        bus = NULL;
        return 0;
}

static int new_bus_client(sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, arg_address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_negotiate_fds(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = bus;
        bus = NULL;
        return 0;
}

/* ---- the D-Bus client: the same calls for every D-Bus path ---- */

typedef struct {
        sd_bus *bus;
        const char *destination; /* NULL on a peer-to-peer connection */
        const char *path;
        const char *interface;
        char *text;
        /* one run */
        unsigned sent, done, in_flight;
        uint64_t t0;      /* when the one call in flight of a serial run was sent */
        uint64_t *lat;    /* serial runs: each call's round trip */
        int error;
} Client;

static int new_call(Client *c, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(c->bus, &m, c->destination, c->path, c->interface, "SendMessage");
        if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", 2, "Action", "s", "Echo", "Text", "s", c->text);
        if (r >= 0 && c->destination)
                r = sd_bus_message_set_auto_start(m, false);
        if (r < 0)
                return r;
        *ret = m;
        m = NULL;
        return 0;
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Client *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e) {
                fprintf(stderr, "bench-paths: SendMessage failed: %s (%s)\n", e->message ?: "", e->name);
                c->error = -EIO;
                return 0;
        }
        if (c->lat)
                c->lat[c->done] = now_ns() - c->t0;
        c->done++;
        c->in_flight--;
        return 0;
}

/* @n calls, @depth of them in flight; @lat (with depth 1) gets each one's round trip. */
static int client_run(Client *c, unsigned n, unsigned depth, uint64_t *lat) {
        int r;

        c->sent = c->done = c->in_flight = 0;
        c->lat = lat;
        c->error = 0;
        while (c->done < n) {
                while (c->sent < n && c->in_flight < depth) {
                        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

                        r = new_call(c, &m);
                        if (r < 0)
                                return r;
                        c->t0 = now_ns();
                        r = sd_bus_call_async(c->bus, NULL, m, on_reply, c, CALL_TIMEOUT_USEC);
                        if (r < 0)
                                return r;
                        c->sent++;
                        c->in_flight++;
                }
                r = sd_bus_process(c->bus, NULL);
                if (r < 0)
                        return r;
                if (c->error)
                        return c->error;
                if (r > 0)
                        continue;
                r = sd_bus_wait(c->bus, UINT64_MAX);
                if (r < 0 && r != -EINTR)
                        return r;
        }
        return 0;
}

/* One call whose echo is compared with the text sent. */
static int client_check(Client *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *key, *text = NULL;
        int r;

        r = new_call(c, &m);
        if (r >= 0)
                r = sd_bus_call(c->bus, m, CALL_TIMEOUT_USEC, &error, &reply);
        if (r < 0) {
                if (sd_bus_error_is_set(&error))
                        fprintf(stderr, "bench-paths: SendMessage failed: %s (%s)\n", error.message ?: "",
                                error.name);
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0) {
                r = sd_bus_message_enter_container(reply, 'e', "sv");
                if (r <= 0)
                        break;
                r = sd_bus_message_read(reply, "s", &key);
                if (r >= 0 && strcmp(key, "Text") == 0)
                        r = sd_bus_message_read(reply, "v", "s", &text);
                else if (r >= 0)
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return r;
        if (!text || strcmp(text, c->text) != 0) {
                fprintf(stderr, "bench-paths: the echo differs from the message sent\n");
                return -EBADMSG;
        }
        return 0;
}

static int client_bench(Client *c) {
        _cleanup_(freep) uint64_t *lat = calloc(arg_count, sizeof(uint64_t));
        uint64_t start;
        int r;

        if (!lat)
                return -ENOMEM;
        r = client_check(c);
        if (r < 0)
                return r;
        r = client_run(c, arg_warmup, 1, NULL);
        if (r < 0)
                return r;
        start = now_ns();
        r = client_run(c, arg_count, 1, lat);
        if (r < 0)
                return r;
        print_serial(lat, arg_count, now_ns() - start);
        start = now_ns();
        r = client_run(c, arg_count, arg_depth, NULL);
        if (r < 0)
                return r;
        print_depth(arg_count, now_ns() - start);
        return 0;
}

/* Letters for the Text: a small message's body is about arg_size bytes in all (the Action entry
 * and the a{sv} framing take about 56), a large one's Text is arg_size letters. */
static char *make_text(void) {
        size_t n = arg_size >= 1024 ? arg_size : (arg_size > 56 ? arg_size - 56 : 1);
        char *text = malloc(n + 1);
        uint32_t x = 2463534242u;

        if (!text)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                text[i] = (char) ('a' + x % 26);
        }
        text[n] = '\0';
        return text;
}

/* A forked child runs @serve(ready, fd); the parent waits for its one byte on ready (a pipe). */
static pid_t fork_server(void (*serve)(int ready, int fd), int fd) {
        int p[2];
        char b;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                close(p[0]);
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                serve(p[1], fd);
                _exit(1);
        }
        close(p[1]);
        if (read(p[0], &b, 1) != 1) {
                close(p[0]);
                (void) waitpid(pid, NULL, 0);
                return -ECHILD;
        }
        close(p[0]);
        return pid;
}

static void serve_plain(int ready, int fd) {
        sd_bus *bus = NULL;

        if (new_bus_client(&bus) < 0 || sd_bus_request_name(bus, PLAIN_NAME, 0) < 0 ||
            sd_bus_add_object_vtable(bus, NULL, LINK_PATH, LINK_IFACE, echo_vtable, NULL) < 0 ||
            write(ready, "", 1) != 1)
                _exit(1);
        close(ready);
        serve_forever(bus);
}

static void serve_p2p(int ready, int fd) {
        sd_bus *bus = NULL;

        if (new_p2p_server(fd, &bus) < 0 || write(ready, "", 1) != 1)
                _exit(1);
        close(ready);
        serve_forever(bus);
}

static void stop_server(pid_t pid) {
        if (pid > 0) {
                (void) kill(pid, SIGTERM);
                (void) waitpid(pid, NULL, 0);
        }
}

/* OpenConnection or OpenDirectConnection; for the latter *ret_fd gets the link (or -1 and
 * *ret_reason why not). */
static int open_connection(sd_bus *bus, bool direct, char **ret_path, int *ret_fd, char **ret_reason) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path, *key, *reason = NULL;
        int fd = -1, r;

        r = sd_bus_call_method(bus, BROKER_NAME, BROKER_PATH, MANAGER_IFACE,
                               direct ? "OpenDirectConnection" : "OpenConnection", &error, &reply, "ssa{sv}",
                               arg_service, "", 0);
        if (r < 0) {
                fprintf(stderr, "bench-paths: opening %s: %s\n", arg_service,
                        error.message ?: strerror(-r));
                return r;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0 && direct)
                r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && direct) {
                r = sd_bus_message_enter_container(reply, 'e', "sv");
                if (r <= 0)
                        break;
                r = sd_bus_message_read(reply, "s", &key);
                if (r >= 0 && strcmp(key, "fd") == 0)
                        r = sd_bus_message_read(reply, "v", "h", &fd);
                else if (r >= 0 && strcmp(key, "brokered") == 0)
                        r = sd_bus_message_read(reply, "v", "s", &reason);
                else if (r >= 0)
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return r;
        *ret_path = strdup(path);
        if (!*ret_path)
                return -ENOMEM;
        if (direct) {
                /* The fd belongs to the reply: ours is a duplicate. */
                *ret_fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
                *ret_reason = strdup(reason ?: "no fd and no reason in the reply");
        }
        return 0;
}

static void close_connection(sd_bus *bus, const char *path) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        if (sd_bus_call_method(bus, BROKER_NAME, path, CONNECTION_IFACE, "Close", &error, NULL, "") < 0)
                fprintf(stderr, "bench-paths: Close %s: %s, ignoring\n", path, error.message ?: "failed");
}

static int run_dbus(void) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL, *link = NULL;
        _cleanup_(freep) char *text = make_text();
        _cleanup_(freep) char *connection = NULL, *reason = NULL;
        Client c = { .text = text, .path = LINK_PATH, .interface = LINK_IFACE };
        pid_t server = 0;
        int sv[2], fd = -1, r;

        if (!text)
                return -ENOMEM;
        if (strcmp(arg_path, "plain") == 0) {
                server = fork_server(serve_plain, 0);
                if (server < 0)
                        return (int) server;
                r = new_bus_client(&bus);
                c.bus = bus;
                c.destination = PLAIN_NAME;
        } else if (strcmp(arg_path, "p2p") == 0) {
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                        return -errno;
                server = fork_server(serve_p2p, sv[1]);
                close(sv[1]);
                if (server < 0) {
                        close(sv[0]);
                        return (int) server;
                }
                r = new_p2p_client(sv[0], &link);
                c.bus = link;
        } else if (strcmp(arg_path, "brokered") == 0 || strcmp(arg_path, "direct") == 0) {
                bool direct = strcmp(arg_path, "direct") == 0;

                r = new_bus_client(&bus);
                if (r < 0)
                        return r;
                r = open_connection(bus, direct, &connection, &fd, &reason);
                if (r < 0)
                        return r;
                if (!direct) {
                        c.bus = bus;
                        c.destination = BROKER_NAME;
                        c.path = connection;
                        c.interface = CONNECTION_IFACE;
                } else if (fd < 0) {
                        printf("n/a brokered: %s\n", reason);
                        close_connection(bus, connection);
                        return 0;
                } else {
                        r = new_p2p_client(fd, &link);
                        c.bus = link;
                }
        } else {
                fprintf(stderr, "bench-paths: unknown --path=%s\n", arg_path);
                return -EINVAL;
        }
        if (r >= 0)
                r = client_bench(&c);
        if (connection)
                close_connection(bus, connection);
        stop_server(server);
        return r;
}

/* ---- --link-provider: the sd-bus end of direct links ---- */

typedef struct Link {
        struct Link *next;
        struct Provider *provider;
        char *connection;
        sd_bus *bus;
} Link;

typedef struct Provider {
        sd_event *event;
        sd_bus *bus;
        char *broker;
        Link *links;
} Provider;

static void link_unlink(Link *l) {
        Link **p;

        for (p = &l->provider->links; *p && *p != l; p = &(*p)->next)
                ;
        if (*p)
                *p = l->next;
        l->next = NULL;
}

static void link_free(Link *l) {
        link_unlink(l);
        sd_bus_flush_close_unref(l->bus);
        free(l->connection);
        free(l);
}

static int on_link_freed_later(sd_event_source *s, void *userdata) {
        link_free(userdata);
        sd_event_source_disable_unref(s);
        return 0;
}

/* The client dropped its end: say so to the broker (the Close of a connection already closed
 * fails, which is fine), and free the link once its bus is out of its dispatch. */
static int on_link_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Link *l = userdata;
        Provider *p = l->provider;

        (void) sd_bus_call_method_async(p->bus, NULL, BROKER_NAME, l->connection, CONNECTION_IFACE, "Close", NULL,
                                        NULL, "");
        /* Out of the list now, so that a ServiceClosed before the deferred free finds nothing. */
        link_unlink(l);
        if (sd_event_add_defer(p->event, NULL, on_link_freed_later, l) < 0)
                link_free(l);
        return 0;
}

static bool from_broker(Provider *p, sd_bus_message *m) {
        const char *sender = sd_bus_message_get_sender(m);

        return p->broker && sender && strcmp(sender, p->broker) == 0;
}

static int on_direct_connection_opened(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Provider *p = userdata;
        const char *connection, *key;
        Link *l;
        int fd = -1, r;

        if (!from_broker(p, m))
                return 0;
        r = sd_bus_message_read(m, "o", &connection);
        if (r >= 0)
                r = sd_bus_message_skip(m, "a{sv}");
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0) {
                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r <= 0)
                        break;
                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0 && strcmp(key, "fd") == 0)
                        r = sd_bus_message_read(m, "v", "h", &fd);
                else if (r >= 0)
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r < 0 || fd < 0) {
                fprintf(stderr, "bench-paths: a DirectConnectionOpened without a link, ignoring\n");
                return 0;
        }
        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        *l = (Link) { .provider = p, .connection = strdup(connection) };
        l->next = p->links;
        p->links = l;
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (!l->connection || fd < 0)
                r = -ENOMEM;
        else
                r = new_p2p_server(fd, &l->bus);
        if (r >= 0)
                r = sd_bus_match_signal(l->bus, NULL, NULL, "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                                        "Disconnected", on_link_disconnected, l);
        if (r >= 0)
                r = sd_bus_attach_event(l->bus, p->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                fail("serving a direct link", r);
                link_free(l);
        }
        return 0;
}

static int on_service_closed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Provider *p = userdata;
        const char *path = sd_bus_message_get_path(m);

        if (!from_broker(p, m) || !path)
                return 0;
        for (Link *l = p->links; l; l = l->next)
                if (strcmp(l->connection, path) == 0) {
                        link_free(l);
                        break;
                }
        return 0;
}

static int run_link_provider(void) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Provider p = {};
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&p.event);
        if (r >= 0)
                r = sd_event_add_signal(p.event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(p.event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_bus_open_system(&p.bus);
        if (r >= 0)
                r = sd_bus_attach_event(p.bus, p.event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_match_signal(p.bus, NULL, BROKER_NAME, NULL, SERVICE_IFACE, "DirectConnectionOpened",
                                        on_direct_connection_opened, &p);
        if (r >= 0)
                r = sd_bus_match_signal(p.bus, NULL, BROKER_NAME, NULL, CONNECTION_IFACE, "ServiceClosed",
                                        on_service_closed, &p);
        if (r >= 0)
                r = sd_bus_call_method(p.bus, BROKER_NAME, BROKER_PATH, MANAGER_IFACE, "RegisterProvider", &error,
                                       &reply, "sa{sv}", arg_link_provider, 1, "direct-links", "b", 1);
        if (r < 0) {
                fprintf(stderr, "bench-paths: the link provider of %s: %s\n", arg_link_provider,
                        error.message ?: strerror(-r));
                return r;
        }
        p.broker = strdup(sd_bus_message_get_sender(reply) ?: "");
        if (!p.broker)
                return -ENOMEM;
        r = sd_event_loop(p.event);
        while (p.links)
                link_free(p.links);
        sd_bus_flush_close_unref(p.bus);
        sd_event_unref(p.event);
        free(p.broker);
        return r < 0 ? r : 0;
}

static int parse_unsigned(const char *s, unsigned *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || end == s || v == 0 || v > 100000000)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

int main(int argc, char *argv[]) {
        enum { ARG_PATH = 0x100, ARG_SIZE, ARG_COUNT, ARG_DEPTH, ARG_WARMUP, ARG_ADDRESS, ARG_SERVICE, ARG_LINK };
        static const struct option options[] = {
                { "path",          required_argument, NULL, ARG_PATH    },
                { "size",          required_argument, NULL, ARG_SIZE    },
                { "count",         required_argument, NULL, ARG_COUNT   },
                { "depth",         required_argument, NULL, ARG_DEPTH   },
                { "warmup",        required_argument, NULL, ARG_WARMUP  },
                { "address",       required_argument, NULL, ARG_ADDRESS },
                { "service",       required_argument, NULL, ARG_SERVICE },
                { "link-provider", required_argument, NULL, ARG_LINK    },
                {}
        };
        unsigned size = 0;
        int o, r;

        while ((o = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                r = 0;
                switch (o) {
                case ARG_PATH:    arg_path = optarg; break;
                case ARG_SIZE:    r = parse_unsigned(optarg, &size); arg_size = size; break;
                case ARG_COUNT:   r = parse_unsigned(optarg, &arg_count); break;
                case ARG_DEPTH:   r = parse_unsigned(optarg, &arg_depth); break;
                case ARG_WARMUP:  r = parse_unsigned(optarg, &arg_warmup); break;
                case ARG_ADDRESS: arg_address = optarg; break;
                case ARG_SERVICE: arg_service = optarg; break;
                case ARG_LINK:    arg_link_provider = optarg; break;
                default:          return 2;
                }
                if (r < 0) {
                        fprintf(stderr, "bench-paths: bad value '%s'\n", optarg);
                        return 2;
                }
        }
        if (arg_link_provider) {
                r = run_link_provider();
                return r < 0 ? 1 : 0;
        }
        if (!arg_path || optind < argc) {
                fprintf(stderr, "bench-paths: need --path=socketpair|plain|p2p|brokered|direct\n");
                return 2;
        }
        if (!arg_address)
                arg_address = getenv("DBUS_SYSTEM_BUS_ADDRESS");
        if (!arg_address && strcmp(arg_path, "socketpair") != 0 && strcmp(arg_path, "p2p") != 0) {
                fprintf(stderr, "bench-paths: no bus: give --address or DBUS_SYSTEM_BUS_ADDRESS\n");
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        r = strcmp(arg_path, "socketpair") == 0 ? run_socketpair() : run_dbus();
        fflush(stdout);
        if (r < 0) {
                fail(arg_path, r);
                return 1;
        }
        return 0;
}
