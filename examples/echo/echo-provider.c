/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * echo-provider: the smallest useful app service provider.
 *
 * It registers as the provider of "com.example.echo" (or --name=NAME) with the broker
 * io.appservice1 and answers every request with the very message it was sent. It shows the whole
 * provider side of the contract (shared/design/dbus-api.md) on plain sd-bus:
 *
 *   - Manager.RegisterProvider() once at start-up, Manager.UnregisterProvider() on SIGTERM/SIGINT;
 *   - the unicast signals Service.ConnectionOpened, Connection.RequestReceived and
 *     Connection.ServiceClosed, whose object path is the connection;
 *   - Connection.SendResponse(), sent asynchronously so that slow answers never block others, with
 *     at most RESPONSES_IN_FLIGHT_MAX of them awaiting their reply: the bus allows a connection a
 *     limited number of pending replies (max_replies_per_connection, 128 on a default system bus)
 *     and refuses calls beyond it with LimitsExceeded before the broker sees them. The others
 *     wait in a queue, and a refused one is sent again a little later: no answer is dropped.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

#define BROKER_NAME        "io.appservice1"
#define BROKER_PATH        "/io/appservice1"
#define MANAGER_IFACE      "io.appservice1.Manager"
#define SERVICE_IFACE      "io.appservice1.Service"
#define CONNECTION_IFACE   "io.appservice1.Connection"
#define DEFAULT_NAME       "com.example.echo"
#define UNREGISTER_TIMEOUT_USEC (5 * 1000 * 1000ULL)
#define RESPONSES_IN_FLIGHT_MAX 32       /* well below the bus's 128, leaving room for other calls */
#define RETRY_FIRST_USEC        (10 * 1000ULL)
#define RETRY_MAX_USEC          (1000 * 1000ULL)
#define BUS_LIMITS_EXCEEDED     "org.freedesktop.DBus.Error.LimitsExceeded"

static const char *arg_name = DEFAULT_NAME;
static bool arg_user = false;
static bool arg_strip_action = false;

/* One answer to send: the RequestReceived signal it answers (its path is the connection, its body
 * the request id and the message to echo), kept until the broker took or refused the answer. */
typedef struct Response {
        struct Response *next;
        struct Context *context;
        sd_bus_message *request;
} Response;

/* Everything the process owns, released by one NULL-tolerant function. */
typedef struct Context {
        sd_event *event;
        sd_bus *bus;
        sd_event_source *exit_source;
        char *broker;           /* the broker's unique name, from the RegisterProvider reply */
        bool registered;

        Response *queue_head, *queue_tail;  /* answers waiting for a slot, oldest first */
        unsigned n_in_flight;               /* SendResponse calls awaiting their reply */
        sd_event_source *retry_timer;       /* after a LimitsExceeded: send again when it fires */
        uint64_t retry_usec;                /* the next back-off */
} Context;

static Response *response_free(Response *r) {
        if (r) {
                sd_bus_message_unref(r->request);
                free(r);
        }
        return NULL;
}

static Response *response_new(Context *c, sd_bus_message *request) {
        Response *r = calloc(1, sizeof(Response));

        if (r)
                *r = (Response) { .context = c, .request = sd_bus_message_ref(request) };
        return r;
}

static void context_done(Context *c) {
        /* flush_close_unref: pending SendResponse calls leave before the connection closes. */
        c->bus = sd_bus_flush_close_unref(c->bus);
        while (c->queue_head) {
                Response *r = c->queue_head;

                c->queue_head = r->next;
                response_free(r);
        }
        c->retry_timer = sd_event_source_disable_unref(c->retry_timer);
        c->exit_source = sd_event_source_unref(c->exit_source);
        c->event = sd_event_unref(c->event);
        free(c->broker);
        c->broker = NULL;
}

/* One line on stderr; under the broker or systemd it ends up in the journal. */
static void log_msg(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void log_msg(const char *format, ...) {
        va_list ap;

        fputs("echo-provider: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* Signals are unicast by the broker, but the bus lets any peer send us a signal: believe only the
 * broker we registered with. */
static bool message_is_from_broker(Context *c, sd_bus_message *m) {
        const char *sender = sd_bus_message_get_sender(m);

        return c->broker && sender && strcmp(sender, c->broker) == 0;
}

static void queue_push(Context *c, Response *r, bool front) {
        if (front) {
                r->next = c->queue_head;
                c->queue_head = r;
                if (!c->queue_tail)
                        c->queue_tail = r;
                return;
        }
        r->next = NULL;
        if (c->queue_tail)
                c->queue_tail->next = r;
        else
                c->queue_head = r;
        c->queue_tail = r;
}

static Response *queue_pop(Context *c) {
        Response *r = c->queue_head;

        if (r) {
                c->queue_head = r->next;
                if (!c->queue_head)
                        c->queue_tail = NULL;
                r->next = NULL;
        }
        return r;
}

static void send_queued(Context *c);

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Context *c = userdata;

        c->retry_timer = sd_event_source_disable_unref(c->retry_timer);
        send_queued(c);
        return 0;
}

/* Sending stops until the timer fires, with a back-off that doubles while the refusals last. */
static void retry_later(Context *c) {
        int r;

        if (c->retry_timer)
                return;
        c->retry_usec = c->retry_usec ? c->retry_usec * 2 : RETRY_FIRST_USEC;
        if (c->retry_usec > RETRY_MAX_USEC)
                c->retry_usec = RETRY_MAX_USEC;
        /* Accuracy 1 ms: 0 would mean sd-event's default of 250 ms. */
        r = sd_event_add_time_relative(c->event, &c->retry_timer, CLOCK_MONOTONIC, c->retry_usec, 1000,
                                       on_retry_timer, c);
        if (r < 0)
                log_msg("Failed to arm the retry timer: %s; the queued answers go with the next reply or request",
                        strerror(-r));
}

static int on_response_sent(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        Response *r = userdata;
        Context *c = r->context;

        /* r itself goes with the call's slot (response_destroy). */
        c->n_in_flight--;
        if (e && strcmp(e->name, BUS_LIMITS_EXCEEDED) == 0) {
                /* The bus refused the call: the broker never saw it. Again, first in line. */
                Response *again = response_new(c, r->request);

                if (again) {
                        queue_push(c, again, /* front= */ true);
                        retry_later(c);
                        return 0;
                }
        }
        if (!e)
                c->retry_usec = 0;
        else
                /* Typically io.appservice1.Error.UnknownRequest: the request timed out or the
                 * connection closed while the answer was under way. Nothing to do but say so. */
                log_msg("SendResponse failed: %s (%s), ignoring", e->message ?: "no message", e->name);
        send_queued(c);
        return 0;
}

static void response_destroy(void *userdata) {
        response_free(userdata);
}

/* The request's a{sv} but its "Action": the answer a contract wants of an action whose results
 * are its parameters (--strip-action). */
static int copy_without_action(sd_bus_message *call, sd_bus_message *request) {
        const char *key;
        int r;

        r = sd_bus_message_enter_container(request, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(request, 'e', "sv")) > 0) {
                r = sd_bus_message_read(request, "s", &key);
                if (r >= 0 && strcmp(key, "Action") == 0)
                        r = sd_bus_message_skip(request, "v");
                else if (r >= 0) {
                        r = sd_bus_message_open_container(call, 'e', "sv");
                        if (r >= 0)
                                r = sd_bus_message_append(call, "s", key);
                        if (r >= 0)
                                r = sd_bus_message_copy(call, request, /* all= */ false);
                        if (r >= 0)
                                r = sd_bus_message_close_container(call);
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(request);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        return r;
}

static int send_response(Context *c, Response *resp) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        uint64_t request;
        int r;

        r = sd_bus_message_rewind(resp->request, /* complete= */ true);
        if (r >= 0)
                r = sd_bus_message_read(resp->request, "t", &request);
        if (r >= 0)
                r = sd_bus_message_new_method_call(c->bus, &call, c->broker, sd_bus_message_get_path(resp->request),
                                                   CONNECTION_IFACE, "SendResponse");
        if (r >= 0)
                r = sd_bus_message_append(call, "t", request);
        if (r >= 0 && arg_strip_action)
                r = copy_without_action(call, resp->request);
        else if (r >= 0)
                /* The echo: the request's a{sv} copied as it is, so the reply is byte for byte
                 * what the client sent. */
                r = sd_bus_message_copy(call, resp->request, /* all= */ false);
        if (r >= 0)
                r = sd_bus_call_async(c->bus, &slot, call, on_response_sent, resp, /* usec= */ 0);
        if (r < 0)
                return r;
        /* From here the slot owns resp: it lives as long as the bus connection or until the reply. */
        (void) sd_bus_slot_set_destroy_callback(slot, response_destroy);
        (void) sd_bus_slot_set_floating(slot, true);
        return 0;
}

/* Sends queued answers while fewer than RESPONSES_IN_FLIGHT_MAX await their reply. */
static void send_queued(Context *c) {
        Response *resp;
        int r;

        while (!c->retry_timer && c->n_in_flight < RESPONSES_IN_FLIGHT_MAX && (resp = queue_pop(c))) {
                r = send_response(c, resp);
                if (r == -ENOMEM || r == -ENOBUFS) {
                        /* Out of memory or a full write queue: try again later, not never. */
                        queue_push(c, resp, /* front= */ true);
                        retry_later(c);
                        return;
                }
                if (r < 0) {
                        log_msg("Failed to answer a request on '%s': %s, ignoring",
                                sd_bus_message_get_path(resp->request), strerror(-r));
                        response_free(resp);
                        continue;
                }
                c->n_in_flight++;
        }
}

static int on_request_received(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Context *c = userdata;
        Response *resp;
        uint64_t request;
        int r;

        if (!message_is_from_broker(c, m))
                return 0;

        r = sd_bus_message_read(m, "t", &request);
        if (r >= 0)
                r = sd_bus_message_skip(m, "a{sv}");
        if (r < 0) {
                log_msg("Malformed RequestReceived on '%s': %s, ignoring", sd_bus_message_get_path(m), strerror(-r));
                return 0;
        }

        resp = response_new(c, m);
        if (!resp) {
                log_msg("Out of memory answering request %" PRIu64 ", ignoring", request);
                return 0;
        }
        queue_push(c, resp, /* front= */ false);
        send_queued(c);
        return 0;
}

static int on_connection_opened(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Context *c = userdata;
        const char *connection, *key;
        uint32_t uid = UINT32_MAX, pid = 0;
        int r;

        if (!message_is_from_broker(c, m))
                return 0;

        r = sd_bus_message_read(m, "o", &connection);
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0) {
                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r <= 0)
                        break;
                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0 && strcmp(key, "uid") == 0)
                        r = sd_bus_message_read(m, "v", "u", &uid);
                else if (r >= 0 && strcmp(key, "pid") == 0)
                        r = sd_bus_message_read(m, "v", "u", &pid);
                else if (r >= 0)
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r < 0) {
                log_msg("Malformed ConnectionOpened: %s, ignoring", strerror(-r));
                return 0;
        }

        log_msg("'%s': connection %s opened by uid %" PRIu32 ", pid %" PRIu32,
                arg_name, connection, uid, pid);
        return 0;
}

static const char *close_status_to_string(uint32_t status) {
        static const char *const table[] = {
                "completed", "canceled", "resource limits exceeded", "unknown",
        };

        return status < sizeof(table) / sizeof(table[0]) ? table[status] : "unknown";
}

static int on_service_closed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Context *c = userdata;
        uint32_t status;
        int r;

        if (!message_is_from_broker(c, m))
                return 0;

        r = sd_bus_message_read(m, "u", &status);
        if (r < 0) {
                log_msg("Malformed ServiceClosed: %s, ignoring", strerror(-r));
                return 0;
        }

        log_msg("'%s': connection %s closed (%s)",
                arg_name, sd_bus_message_get_path(m), close_status_to_string(status));
        return 0;
}

static int on_broker_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Context *c = userdata;
        const char *name, *old_owner, *new_owner;
        int r;

        r = sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner);
        if (r < 0 || !c->broker || strcmp(old_owner, c->broker) != 0)
                return 0;

        /* Our registration went with the broker. A new broker starts a new provider when it
         * needs one. */
        log_msg("The broker left the bus, exiting");
        c->registered = false;
        return sd_event_exit(c->event, EXIT_SUCCESS);
}

static int add_matches(Context *c) {
        struct {
                const char *interface;
                const char *member;
                sd_bus_message_handler_t handler;
        } signals[] = {
                { SERVICE_IFACE,    "ConnectionOpened", on_connection_opened },
                { CONNECTION_IFACE, "RequestReceived",  on_request_received },
                { CONNECTION_IFACE, "ServiceClosed",    on_service_closed },
        };
        int r;

        for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
                /* Floating slots: the matches live as long as the bus connection. */
                r = sd_bus_match_signal(c->bus, /* slot= */ NULL, BROKER_NAME, /* path= */ NULL,
                                        signals[i].interface, signals[i].member,
                                        signals[i].handler, c);
                if (r < 0) {
                        log_msg("Failed to add a match for %s.%s: %s",
                                signals[i].interface, signals[i].member, strerror(-r));
                        return r;
                }
        }

        r = sd_bus_add_match(c->bus, /* slot= */ NULL,
                             "type='signal',sender='org.freedesktop.DBus',"
                             "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
                             "arg0='" BROKER_NAME "'",
                             on_broker_owner_changed, c);
        if (r < 0)
                log_msg("Failed to watch the broker: %s", strerror(-r));
        return r;
}

static int register_provider(Context *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *service, *sender;
        int r;

        r = sd_bus_call_method(c->bus, BROKER_NAME, BROKER_PATH, MANAGER_IFACE, "RegisterProvider",
                               &error, &reply, "sa{sv}", arg_name, (unsigned) 0);
        if (r < 0) {
                if (sd_bus_error_is_set(&error))
                        log_msg("Failed to register as the provider of '%s': %s (%s)",
                                arg_name, error.message ?: "no message", error.name);
                else
                        log_msg("Failed to register as the provider of '%s': %s",
                                arg_name, strerror(-r));
                return r;
        }

        /* The config (properties, secrets, settings) is not needed to echo. */
        r = sd_bus_message_read(reply, "o", &service);
        if (r < 0) {
                log_msg("Malformed RegisterProvider reply: %s", strerror(-r));
                return r;
        }

        sender = sd_bus_message_get_sender(reply);
        c->broker = sender ? strdup(sender) : NULL;
        if (!c->broker) {
                log_msg("RegisterProvider reply without a sender");
                return -EBADMSG;
        }
        c->registered = true;

        log_msg("Serving '%s' at %s", arg_name, service);
        return 0;
}

/* Runs when the loop exits, before the bus's own exit handler closes the connection. */
static int on_loop_exit(sd_event_source *s, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        Context *c = userdata;
        int r;

        (void) sd_notify(/* unset_environment= */ false, "STOPPING=1");

        if (!c->registered || sd_bus_is_open(c->bus) <= 0)
                return 0;

        r = sd_bus_message_new_method_call(c->bus, &call, BROKER_NAME, BROKER_PATH,
                                           MANAGER_IFACE, "UnregisterProvider");
        if (r >= 0)
                r = sd_bus_message_append(call, "s", arg_name);
        if (r >= 0)
                /* When the broker is gone (it stops its providers when it stops), do not start a
                 * new one just to say goodbye. */
                r = sd_bus_message_set_auto_start(call, false);
        if (r >= 0)
                r = sd_bus_call(c->bus, call, UNREGISTER_TIMEOUT_USEC, &error, /* reply= */ NULL);
        if (r < 0) {
                log_msg("Failed to unregister '%s': %s, ignoring",
                        arg_name, error.message ?: strerror(-r));
                return 0;
        }

        c->registered = false;
        log_msg("Unregistered '%s'", arg_name);
        return 0;
}

static void help(void) {
        printf("echo-provider [OPTIONS...]\n\n"
               "Serves an app service that answers every message with the message itself.\n\n"
               "  -h --help         Show this help\n"
               "     --user         Use the session bus instead of the system bus\n"
               "     --name=NAME    Serve the app service NAME (default: " DEFAULT_NAME ")\n"
               "     --strip-action Answer with the message without its \"Action\" key (the\n"
               "                    results of a contract's action that echoes its parameters)\n\n"
               "The system bus is the one in $DBUS_SYSTEM_BUS_ADDRESS if set.\n");
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_USER = 0x100,
                ARG_NAME,
                ARG_STRIP_ACTION,
        };
        static const struct option options[] = {
                { "help", no_argument,       NULL, 'h'      },
                { "user", no_argument,       NULL, ARG_USER },
                { "name", required_argument, NULL, ARG_NAME },
                { "strip-action", no_argument, NULL, ARG_STRIP_ACTION },
                {}
        };
        int o;

        while ((o = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (o) {
                case 'h':
                        help();
                        return 0;
                case ARG_USER:
                        arg_user = true;
                        break;
                case ARG_NAME:
                        if (optarg[0] == '\0') {
                                log_msg("--name= needs an app service name");
                                return -EINVAL;
                        }
                        arg_name = optarg;
                        break;
                case ARG_STRIP_ACTION:
                        arg_strip_action = true;
                        break;
                default:
                        return -EINVAL;
                }

        if (optind < argc) {
                log_msg("Unexpected argument '%s'", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static int run(int argc, char *argv[]) {
        _cleanup_(context_done) Context c = {};
        sigset_t mask;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        r = sd_event_default(&c.event);
        if (r < 0) {
                log_msg("Failed to get the event loop: %s", strerror(-r));
                return r;
        }

        /* sd_event_add_signal() wants the signals blocked; a NULL handler exits the loop. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                r = -errno;
                log_msg("Failed to block signals: %s", strerror(-r));
                return r;
        }
        r = sd_event_add_signal(c.event, /* ret= */ NULL, SIGTERM, /* callback= */ NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(c.event, /* ret= */ NULL, SIGINT, /* callback= */ NULL, NULL);
        if (r < 0) {
                log_msg("Failed to handle SIGTERM and SIGINT: %s", strerror(-r));
                return r;
        }

        r = arg_user ? sd_bus_open_user(&c.bus) : sd_bus_open_system(&c.bus);
        if (r < 0) {
                log_msg("Failed to connect to the %s bus: %s",
                        arg_user ? "session" : "system", strerror(-r));
                return r;
        }

        /* Matches before registering, so that no signal can be missed. */
        r = add_matches(&c);
        if (r < 0)
                return r;

        r = sd_bus_attach_event(c.bus, c.event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_event_add_exit(c.event, &c.exit_source, on_loop_exit, &c);
        if (r >= 0)
                r = sd_event_source_set_priority(c.exit_source, SD_EVENT_PRIORITY_IMPORTANT);
        if (r < 0) {
                log_msg("Failed to hook the bus into the event loop: %s", strerror(-r));
                return r;
        }
        /* If the bus goes away, so do we (with a failure status). */
        r = sd_bus_set_exit_on_disconnect(c.bus, true);
        if (r < 0) {
                log_msg("Failed to set exit-on-disconnect: %s", strerror(-r));
                return r;
        }

        r = register_provider(&c);
        if (r < 0)
                return r;

        /* For a provider started through SystemdService= with Type=notify; a no-op otherwise. */
        (void) sd_notify(/* unset_environment= */ false, "READY=1");

        /* Returns what sd_event_exit() was given: 0 on SIGTERM, SIGINT or when the broker left,
         * EXIT_FAILURE when the bus connection broke. */
        r = sd_event_loop(c.event);
        if (r < 0) {
                log_msg("Event loop failed: %s", strerror(-r));
                return r;
        }
        if (r != EXIT_SUCCESS) {
                log_msg("Lost the bus connection");
                return -ECONNRESET;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
