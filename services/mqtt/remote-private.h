/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the files of the remote part share (remote.h says what it does). From the bottom up, each
 * file calling only those above it in this list:
 *
 *   remote-call.c      calls to the broker, in order, at most REMOTE_CALLS_IN_FLIGHT_MAX at once;
 *                      Refuse, CloseWithStatus, FailRequest; the errors a bridge may hand on
 *   remote-session.c   the other nodes and the sessions with them; sending frames
 *   remote-relay.c     requests, responses, failures and closes, both ways
 *   remote-open.c      the opening node (B): an open for another node, `opened`, `refused`
 *   remote-receive.c   the receiving node (A): an `open` from another node
 *   remote-status.c    the other nodes' status and the link's: what goes offline closes
 *   remote.c           the Remote: frames to the files above, the broker's presence */

#include <gio/gio.h>

#include "remote.h"
#include "wire.h"

#define BUS_NAME "io.appservice1"
#define CONNECTION_IFACE "io.appservice1.Connection"

#define ERROR_APP_SERVICE_UNAVAILABLE "io.appservice1.Error.AppServiceUnavailable"
#define ERROR_APP_NOT_INSTALLED "io.appservice1.Error.AppNotInstalled"
#define ERROR_APP_UNAVAILABLE "io.appservice1.Error.AppUnavailable"
#define ERROR_NOT_AUTHORIZED "io.appservice1.Error.NotAuthorized"
#define ERROR_DISABLED_BY_POLICY "io.appservice1.Error.DisabledByPolicy"
#define ERROR_RESOURCE_LIMITS_EXCEEDED "io.appservice1.Error.ResourceLimitsExceeded"
#define ERROR_MESSAGE_SIZE_TOO_LARGE "io.appservice1.Error.MessageSizeTooLarge"
#define ERROR_INVALID_MESSAGE "io.appservice1.Error.InvalidMessage"
#define ERROR_TIMEOUT "io.appservice1.Error.Timeout"
#define ERROR_CLOSED "io.appservice1.Error.Closed"
#define ERROR_CONTRACT_VIOLATION "io.appservice1.Error.ContractViolation"

/* ServiceClosed's statuses. */
#define CLOSED_COMPLETED 0u
#define CLOSED_CANCELED 1u
#define CLOSED_UNKNOWN 3u

/* The retained statuses of the other nodes come right after the link: for this long after it
 * came up, an open for a node whose status is not known yet waits for it instead of being
 * refused as offline. */
#define STATUS_SETTLE_USEC (1500 * G_TIME_SPAN_MILLISECOND)

typedef struct Node Node;
typedef struct Session Session;

/* Another node, as its status says. */
struct Node {
        Remote *remote;
        char *name;
        gboolean online;
        gboolean status_known;  /* a status came since the link last came up */
        char *incarnation;     /* of the last "online" seen, NULL before */
        GHashTable *sessions;  /* guint64 id → Session *, both directions (ids are random) */
};

typedef enum SessionState {
        SESSION_OPENING,  /* opener: waiting for opened/refused; receiver: OpenConnection in flight */
        SESSION_OPEN,
} SessionState;

/* One remote connection: the local connection (the bridge is one endpoint of it) and the other
 * node's session id. */
struct Session {
        Remote *remote;
        Node *node;
        guint64 id;
        gboolean opener;       /* this node opened it (the client is here) */
        SessionState state;
        char *name;            /* the app service, on the receiving node */
        char *path;            /* the local connection; NULL while the receiver's open is in flight */
        AppServiceConnection *connection;  /* opener: the library's object of the local connection */
        gulong request_handler, closed_handler;
        guint open_timer;
        gboolean awaiting_status;  /* opener: the node's status is not known yet (STATUS_SETTLE_USEC) */
        char *provider;            /* opener: for the `open` frame */
        GVariant *open_caller;     /* opener: for the `open` frame */
        guint64 far_max;       /* the far service's MaxMessageSize (opener) */
        guint64 told_max;      /* this service's, for `opened` (receiver) */
        GHashTable *sent;      /* local request ids sent as `request` → AppServiceRequest * (opener) or NULL */
        GHashTable *received;  /* the other node's request ids being asked here */
};

typedef void (*CallDone)(Remote *r, GVariant *reply, const GError *error, gpointer data);

/* A method call to the broker, in the queue or in flight. */
typedef struct Call {
        Remote *remote;
        GCancellable *cancellable;  /* the Remote's: cancelled when it is freed */
        char *path;
        const char *interface, *method;
        GVariant *parameters;
        const GVariantType *reply_type;
        int timeout_msec;
        CallDone done;
        gpointer data;
        GDestroyNotify free_data;
} Call;

struct Remote {
        MqttLink *link;
        AppServiceProvider *provider;
        GDBusConnection *bus;
        const BridgeConfig *config;
        char *me;
        char *link_prefix;    /* "<prefix>/<me>/link/" */
        char *status_filter;  /* "<prefix>/+/status" */
        GHashTable *nodes;    /* name → Node * (owned) */
        GHashTable *by_path;  /* receiving sessions' local connection path → Session * */
        guint n_sessions;
        GCancellable *cancellable;
        GQueue calls;
        guint calls_in_flight;
        guint signal_id;
        guint watch_id;
        char *broker_owner;   /* io.appservice1's unique name, NULL while it has none */
        gint64 connected_at;  /* when the link last came up (monotonic), 0 while down */
        gboolean nodes_full_logged;
};

/* What a call's reply needs to find its session again, if it still exists: the node's name and
 * the session id (never a pointer to a session, which may be gone by then). */
typedef struct SessionRef {
        char *node;
        guint64 session;
        guint64 request;
        AppServiceRequest *held;  /* released after the call */
} SessionRef;

/* remote-call.c */
void remote_call(Remote *r, const char *path, const char *interface, const char *method, GVariant *parameters,
                 const GVariantType *reply_type, int timeout_msec, CallDone done, gpointer data,
                 GDestroyNotify free_data);
void remote_call_free(Call *c);
void remote_call_refuse(Remote *r, const char *path, AppServiceConnection *connection, const char *error_name,
                        const char *message);
void remote_call_close(Remote *r, const char *path, AppServiceConnection *connection, guint32 status,
                       GHashTable *requests);
void remote_call_fail_request(Remote *r, const char *path, AppServiceRequest *request, guint64 id,
                              const char *error_name, const char *message);
void remote_error_split(const GError *error, char **ret_name, char **ret_message);
gboolean remote_error_is_refusal(const char *name);
gboolean remote_error_is_failure(const char *name);

/* remote-session.c */
gboolean remote_node_name_is_valid(const char *s);
void remote_caller_add_keys(GVariantBuilder *b, GVariant *caller);
GPtrArray *remote_sessions_of(GHashTable *sessions);
void remote_node_free(gpointer p);
Node *remote_node_get(Remote *r, const char *name, gboolean create);
void remote_node_end_sessions(Node *n, const char *why);
gboolean remote_send_frame(Remote *r, Node *n, const WireFrame *f, GError **error);
void remote_send_frame_or_log(Remote *r, Node *n, const WireFrame *f);
void remote_send_close(Session *s, guint32 status);
void remote_send_failed(Remote *r, Node *n, guint64 session, guint64 request, const char *error_name,
                        const char *message);
guint64 remote_session_new_id(Node *n);
Session *remote_session_new(Remote *r, Node *n, guint64 id, gboolean opener, const char *name);
void remote_session_free(Session *s);
Session *remote_session_find(Node *n, guint64 id);
void remote_session_end_here(Session *s, guint32 status, const char *reason);
SessionRef *remote_session_ref_new(Session *s, guint64 request, AppServiceRequest *held);
void remote_session_ref_free(gpointer p);
Session *remote_session_ref_find(Remote *r, SessionRef *ref);

/* A received frame of session `s` (NULL: none with that id) from node `n`. */
typedef void (*FrameHandler)(Remote *r, Node *n, Session *s, const WireFrame *f);

/* remote-relay.c */
void remote_relay_watch_opener(Session *s);
void remote_relay_on_signal(GDBusConnection *bus, const char *sender, const char *path, const char *interface,
                            const char *signal, GVariant *parameters, gpointer user_data);
void remote_frame_request(Remote *r, Node *n, Session *s, const WireFrame *f);
void remote_frame_response(Remote *r, Node *n, Session *s, const WireFrame *f);
void remote_frame_close(Remote *r, Node *n, Session *s, const WireFrame *f);

/* remote-open.c (remote_handle_open() is in remote.h) */
void remote_open_send(Session *s);
void remote_frame_opened(Remote *r, Node *n, Session *s, const WireFrame *f);
void remote_frame_refused(Remote *r, Node *n, Session *s, const WireFrame *f);

/* remote-receive.c */
void remote_frame_open(Remote *r, Node *n, Session *s, const WireFrame *f);

/* remote-status.c: subscribes to the other nodes' statuses and to the link's state. */
void remote_status_watch(Remote *r);
