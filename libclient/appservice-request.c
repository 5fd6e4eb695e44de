/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "appservice-private.h"

/**
 * AppServiceRequest:
 *
 * A message the other side of a connection sent, to be answered: the Windows
 * `AppServiceRequest`, given by [signal@AppService.Connection::request-received].
 *
 * Answer it with [method@AppService.Request.send_response]. The deferral of Windows is a
 * reference here: a handler that keeps a reference to the request (g_object_ref()) may answer it
 * later, after the signal handler returned. A request finalized without an answer is completed
 * with an empty response, so the sender is never left waiting for one (the broker's
 * `RequestTimeoutSec` would end the wait otherwise).
 *
 * Since: 0.1
 */

struct _AppServiceRequest {
        GObject parent_instance;

        GDBusConnection *bus;
        gchar *owner;
        gchar *object_path;
        guint64 id;
        GVariant *message;
        AsDirectLink *direct; /* set for a request received on a direct link: answered there */
        gboolean answered; /* the broker took our response */
        gboolean gone;     /* the broker no longer has the request: nothing to complete */
        gboolean responding;
};

enum {
        PROP_0,
        PROP_MESSAGE,
        PROP_ID,
        PROP_ANSWERED,
        N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE(AppServiceRequest, app_service_request, G_TYPE_OBJECT)

/* The bus allows each connection a limited number of method calls awaiting their reply
 * (dbus-daemon's max_replies_per_connection, 128 on a default system bus) and refuses the calls
 * beyond it with LimitsExceeded before the broker sees them. A provider answering many requests at
 * once would lose those answers: the gate keeps at most RESPONSES_IN_FLIGHT_MAX SendResponse calls
 * in flight per bus connection, queues the rest, and sends a refused one again after a back-off. */
#define RESPONSES_IN_FLIGHT_MAX 32
#define RETRY_FIRST_MS          10
#define RETRY_MAX_MS            1000
#define RESPONSE_GATE_KEY       "appservice-response-gate"

typedef struct {
        GMutex lock;
        guint in_flight;     /* SendResponse calls awaiting their reply */
        GQueue waiting;      /* GTask *, oldest first, each holding a reference */
        GSource *retry;      /* while set, nothing is sent: the bus refused a call */
        guint retry_ms;      /* the next back-off */
} ResponseGate;

static void response_gate_free(gpointer data) {
        ResponseGate *gate = data;

        /* Queued tasks hold the request, which holds the bus: the queue is empty by now. */
        if (gate->retry) {
                g_source_destroy(gate->retry);
                g_source_unref(gate->retry);
        }
        g_queue_clear_full(&gate->waiting, g_object_unref);
        g_mutex_clear(&gate->lock);
        g_free(gate);
}

static ResponseGate *response_gate_get(GDBusConnection *bus) {
        static GMutex create_lock;
        ResponseGate *gate;

        g_mutex_lock(&create_lock);
        gate = g_object_get_data(G_OBJECT(bus), RESPONSE_GATE_KEY);
        if (!gate) {
                gate = g_new0(ResponseGate, 1);
                g_mutex_init(&gate->lock);
                g_queue_init(&gate->waiting);
                g_object_set_data_full(G_OBJECT(bus), RESPONSE_GATE_KEY, gate, response_gate_free);
        }
        g_mutex_unlock(&create_lock);
        return gate;
}

static gboolean error_is_limits_exceeded(const GError *error) {
        return g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED);
}

static GVariant *response_parameters(guint64 id, GVariant *response) {
        if (!response)
                response = g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0);
        return g_variant_new("(t@a{sv})", id, response);
}

static void app_service_request_init(AppServiceRequest *self) {
}

/* The last reference went: an unanswered request is completed here, in dispose, so that
 * finalize never talks to the bus. */
static void app_service_request_dispose(GObject *object) {
        AppServiceRequest *self = APP_SERVICE_REQUEST(object);

        if (!self->answered && !self->gone && self->direct) {
                /* An empty answer; nothing to do if the link is gone or it timed out. */
                as_direct_link_respond(self->direct, self->id, NULL, NULL);
                self->gone = TRUE;
        } else if (!self->answered && !self->gone && self->bus) {
                /* Fire and forget: no callback means NO_REPLY_EXPECTED, which holds none of the
                 * bus's pending replies, so it needs no place in the gate (the contract allows it). */
                g_dbus_connection_call(self->bus, self->owner, self->object_path, AS_CONNECTION_IFACE,
                                       "SendResponse", response_parameters(self->id, NULL), NULL,
                                       G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
                self->gone = TRUE; /* once: dispose may run again */
        }

        G_OBJECT_CLASS(app_service_request_parent_class)->dispose(object);
}

static void app_service_request_finalize(GObject *object) {
        AppServiceRequest *self = APP_SERVICE_REQUEST(object);

        g_clear_object(&self->bus);
        g_clear_pointer(&self->direct, as_direct_link_unref);
        g_free(self->owner);
        g_free(self->object_path);
        g_clear_pointer(&self->message, g_variant_unref);

        G_OBJECT_CLASS(app_service_request_parent_class)->finalize(object);
}

static void app_service_request_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) {
        AppServiceRequest *self = APP_SERVICE_REQUEST(object);

        switch (prop_id) {
        case PROP_MESSAGE:
                g_value_set_variant(value, self->message);
                break;
        case PROP_ID:
                g_value_set_uint64(value, self->id);
                break;
        case PROP_ANSWERED:
                g_value_set_boolean(value, self->answered);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

static void app_service_request_class_init(AppServiceRequestClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->dispose = app_service_request_dispose;
        object_class->finalize = app_service_request_finalize;
        object_class->get_property = app_service_request_get_property;

        /**
         * AppServiceRequest:message:
         *
         * The message the other side sent, an `a{sv}` ValueSet, exactly as it sent it.
         *
         * Since: 0.1
         */
        properties[PROP_MESSAGE] = g_param_spec_variant("message", NULL, NULL, G_VARIANT_TYPE_VARDICT, NULL,
                                                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceRequest:id:
         *
         * The broker's id of the request, unique while the broker runs; on a connection with a
         * direct link (see [property@AppService.Connection:direct]), the link's id,
         * unique on that connection.
         *
         * Since: 0.1
         */
        properties[PROP_ID] = g_param_spec_uint64("id", NULL, NULL, 0, G_MAXUINT64, 0,
                                                  G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceRequest:answered:
         *
         * Whether the broker accepted a response to the request. A refused response (too large,
         * invalid) leaves it %FALSE: the request may be answered again.
         *
         * Since: 0.1
         */
        properties[PROP_ANSWERED] = g_param_spec_boolean("answered", NULL, NULL, FALSE,
                                                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY |
                                                                 G_PARAM_STATIC_STRINGS);

        g_object_class_install_properties(object_class, N_PROPS, properties);
}

AppServiceRequest *as_request_new(GDBusConnection *bus, const gchar *owner, const gchar *object_path, guint64 id,
                                  GVariant *message) {
        AppServiceRequest *self = g_object_new(APP_SERVICE_TYPE_REQUEST, NULL);

        self->bus = g_object_ref(bus);
        self->owner = g_strdup(owner);
        self->object_path = g_strdup(object_path);
        self->id = id;
        self->message = g_variant_ref_sink(message);
        return self;
}

static AppServiceResponseStatus respond_done(AppServiceRequest *self, GVariant *reply, GError *error,
                                             GError **ret_error);

/* A request received on a direct link, with the link's own id. */
AppServiceRequest *as_request_new_direct(AsDirectLink *direct, guint64 id, GVariant *message) {
        AppServiceRequest *self = g_object_new(APP_SERVICE_TYPE_REQUEST, NULL);

        self->direct = as_direct_link_ref(direct);
        self->id = id;
        self->message = g_variant_ref_sink(message);
        return self;
}

/* Answers on the direct link: at once, no round trip. */
static AppServiceResponseStatus respond_direct(AppServiceRequest *self, GVariant *response,
                                               GCancellable *cancellable, GError **error) {
        GError *e = NULL;

        if (g_cancellable_set_error_if_cancelled(cancellable, &e))
                return respond_done(self, NULL, e, error);

        if (as_direct_link_respond(self->direct, self->id, response, &e)) {
                self->answered = TRUE;
                g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_ANSWERED]);
                return APP_SERVICE_RESPONSE_STATUS_SUCCESS;
        }
        return respond_done(self, NULL, e, error);
}

/**
 * app_service_request_get_message:
 * @self: a request
 *
 * Gets [property@AppService.Request:message].
 *
 * Returns: (transfer none): the message, an `a{sv}`; owned by @self and valid as long as it is
 *
 * Since: 0.1
 */
GVariant *app_service_request_get_message(AppServiceRequest *self) {
        g_return_val_if_fail(APP_SERVICE_IS_REQUEST(self), NULL);
        return self->message;
}

/**
 * app_service_request_get_id:
 * @self: a request
 *
 * Gets [property@AppService.Request:id].
 *
 * Returns: the broker's id of the request
 *
 * Since: 0.1
 */
guint64 app_service_request_get_id(AppServiceRequest *self) {
        g_return_val_if_fail(APP_SERVICE_IS_REQUEST(self), 0);
        return self->id;
}

/**
 * app_service_request_get_answered:
 * @self: a request
 *
 * Gets [property@AppService.Request:answered].
 *
 * Returns: whether the broker accepted a response to the request
 *
 * Since: 0.1
 */
gboolean app_service_request_get_answered(AppServiceRequest *self) {
        g_return_val_if_fail(APP_SERVICE_IS_REQUEST(self), FALSE);
        return self->answered;
}

static gboolean check_can_respond(AppServiceRequest *self, GVariant *response, GError **error) {
        if (!self->bus && !self->direct) {
                g_set_error_literal(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_UNKNOWN_REQUEST,
                                    "this request did not come from a connection");
                return FALSE;
        }
        if (response && !g_variant_is_of_type(response, G_VARIANT_TYPE_VARDICT)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "a response is an a{sv} (a ValueSet), not a %s", g_variant_get_type_string(response));
                return FALSE;
        }
        if (self->answered) {
                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_UNKNOWN_REQUEST,
                            "request %" G_GUINT64_FORMAT " was answered already", self->id);
                return FALSE;
        }
        if (self->responding) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_PENDING,
                            "a response to request %" G_GUINT64_FORMAT " is being sent already", self->id);
                return FALSE;
        }
        return as_value_set_check_sendable(response, error);
}

static AppServiceResponseStatus respond_done(AppServiceRequest *self, GVariant *reply, GError *error,
                                             GError **ret_error) {
        AppServiceResponseStatus status;

        self->responding = FALSE;
        if (reply) {
                g_variant_unref(reply);
                self->answered = TRUE;
                g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_ANSWERED]);
                return APP_SERVICE_RESPONSE_STATUS_SUCCESS;
        }

        as_error_prettify(error);
        if (g_error_matches(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_UNKNOWN_REQUEST))
                self->gone = TRUE;
        status = app_service_response_status_from_error(error);
        g_propagate_error(ret_error, error);
        return status;
}

static void respond_start(GTask *task);
static void response_gate_pump(ResponseGate *gate);

/* The call goes out from the task's context, so that its reply is handled there. */
static gboolean respond_start_in_context(gpointer user_data) {
        GTask *task = user_data;
        GMainContext *context = g_task_get_context(task);

        g_main_context_push_thread_default(context);
        respond_start(task);
        g_main_context_pop_thread_default(context);
        return G_SOURCE_REMOVE;
}

static gboolean on_response_gate_retry(gpointer user_data) {
        ResponseGate *gate = user_data;

        g_mutex_lock(&gate->lock);
        g_clear_pointer(&gate->retry, g_source_unref);
        g_mutex_unlock(&gate->lock);
        response_gate_pump(gate);
        return G_SOURCE_REMOVE;
}

/* Starts queued calls while the gate has room; each in its own task's context. */
static void response_gate_pump(ResponseGate *gate) {
        for (;;) {
                GTask *next = NULL;

                g_mutex_lock(&gate->lock);
                if (!gate->retry && gate->in_flight < RESPONSES_IN_FLIGHT_MAX) {
                        next = g_queue_pop_head(&gate->waiting);
                        if (next)
                                gate->in_flight++;
                }
                g_mutex_unlock(&gate->lock);
                if (!next)
                        return;
                g_main_context_invoke(g_task_get_context(next), respond_start_in_context, next);
        }
}

/* Queues the task (taking it) and starts what the gate has room for. */
static void response_gate_submit(ResponseGate *gate, GTask *task, gboolean refused) {
        g_mutex_lock(&gate->lock);
        if (refused) {
                /* First in line again, and a pause before anything is sent. */
                gate->in_flight--;
                g_queue_push_head(&gate->waiting, task);
                if (!gate->retry) {
                        gate->retry_ms = gate->retry_ms ? MIN(gate->retry_ms * 2, RETRY_MAX_MS) : RETRY_FIRST_MS;
                        gate->retry = g_timeout_source_new(gate->retry_ms);
                        g_source_set_callback(gate->retry, on_response_gate_retry, gate, NULL);
                        g_source_attach(gate->retry, g_task_get_context(task));
                }
        } else {
                g_queue_push_tail(&gate->waiting, task);
        }
        g_mutex_unlock(&gate->lock);
        response_gate_pump(gate);
}

static void response_gate_done(ResponseGate *gate) {
        g_mutex_lock(&gate->lock);
        gate->in_flight--;
        gate->retry_ms = 0;
        g_mutex_unlock(&gate->lock);
        response_gate_pump(gate);
}

static void on_respond_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        GTask *task = user_data;
        AppServiceRequest *self = g_task_get_source_object(task);
        ResponseGate *gate = response_gate_get(self->bus);
        GVariant *reply;
        GError *error = NULL;
        AppServiceResponseStatus status;
        GError *respond_error = NULL;

        reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
        if (error_is_limits_exceeded(error) && !g_task_return_error_if_cancelled(task)) {
                /* Refused by the bus, never seen by the broker: sent again later. */
                g_error_free(error);
                response_gate_submit(gate, task, /* refused= */ TRUE);
                return;
        }
        response_gate_done(gate);
        if (error_is_limits_exceeded(error)) {
                /* Cancelled meanwhile: the task returned already. */
                self->responding = FALSE;
                g_error_free(error);
                g_object_unref(task);
                return;
        }

        status = respond_done(self, reply, error, &respond_error);
        if (respond_error)
                g_task_return_error(task, respond_error);
        else
                g_task_return_int(task, status);
        g_object_unref(task);
}

/* The task's data is the call's parameters; the task's reference passes to the call. */
static void respond_start(GTask *task) {
        AppServiceRequest *self = g_task_get_source_object(task);

        g_dbus_connection_call(self->bus, self->owner, self->object_path, AS_CONNECTION_IFACE, "SendResponse",
                               g_task_get_task_data(task), G_VARIANT_TYPE("()"), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                               g_task_get_cancellable(task), on_respond_reply, task);
}

/**
 * app_service_request_send_response:
 * @self: a request
 * @response: (nullable): the response, an `a{sv}` ValueSet (if floating, it is consumed); %NULL
 *   for an empty one (the Windows "complete the deferral without a response")
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the broker took or refused the
 *   response
 * @user_data: data for @callback
 *
 * Answers the request: the Windows `SendResponseAsync`. A request is answered once; a response
 * the broker refuses (too large, invalid) leaves it pending, to be answered again, and so does
 * one the library refuses before sending (too large for a message bus, or nested too deep: see
 * the overview, "Sizes and depth").
 *
 * Many answers at once are safe: at most 32 responses per bus connection await the broker's
 * reply at a time and the others wait in a queue, and a response the bus refuses for its limit of
 * calls awaiting a reply (`org.freedesktop.DBus.Error.LimitsExceeded`) is sent again after a
 * pause rather than lost; the callback runs once the broker took or refused it.
 *
 * Finish with [method@AppService.Request.send_response_finish], in the thread-default main
 * context of the caller.
 *
 * Since: 0.1
 */
void app_service_request_send_response(AppServiceRequest *self, GVariant *response, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GVariant) sunk G_GNUC_UNUSED = response ? g_variant_ref_sink(response) : NULL;
        g_autoptr(GTask) task = NULL;
        GError *error = NULL;

        g_return_if_fail(APP_SERVICE_IS_REQUEST(self));
        g_return_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable));

        task = g_task_new(self, cancellable, callback, user_data);
        g_task_set_source_tag(task, app_service_request_send_response);
        if (!check_can_respond(self, response, &error)) {
                g_task_return_error(task, error);
                return;
        }

        if (self->direct) {
                GError *e = NULL;
                AppServiceResponseStatus status = respond_direct(self, response, cancellable, &e);

                if (e)
                        g_task_return_error(task, e);
                else
                        g_task_return_int(task, status);
                return;
        }
        self->responding = TRUE;
        g_task_set_task_data(task, g_variant_ref_sink(response_parameters(self->id, response)),
                             (GDestroyNotify) g_variant_unref);
        response_gate_submit(response_gate_get(self->bus), g_steal_pointer(&task), /* refused= */ FALSE);
}

/**
 * app_service_request_send_response_finish:
 * @self: a request
 * @result: the result passed to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes [method@AppService.Request.send_response].
 *
 * When the status is not %APP_SERVICE_RESPONSE_STATUS_SUCCESS, @error says why:
 * %APP_SERVICE_ERROR_MESSAGE_SIZE_TOO_LARGE, %APP_SERVICE_ERROR_INVALID_MESSAGE,
 * %APP_SERVICE_ERROR_UNKNOWN_REQUEST (answered already, timed out, or the connection closed),
 * %G_IO_ERROR_CANCELLED... In languages where errors are exceptions, every failure raises;
 * [func@AppService.ResponseStatus.from_error] gives the status of the error.
 *
 * Returns: %APP_SERVICE_RESPONSE_STATUS_SUCCESS if the broker took the response, else the reason
 *
 * Since: 0.1
 */
AppServiceResponseStatus app_service_request_send_response_finish(AppServiceRequest *self, GAsyncResult *result,
                                                                  GError **error) {
        GError *e = NULL;
        gssize status;

        g_return_val_if_fail(APP_SERVICE_IS_REQUEST(self), APP_SERVICE_RESPONSE_STATUS_UNKNOWN);
        g_return_val_if_fail(g_task_is_valid(result, self), APP_SERVICE_RESPONSE_STATUS_UNKNOWN);

        status = g_task_propagate_int(G_TASK(result), &e);
        if (e) {
                status = app_service_response_status_from_error(e);
                g_propagate_error(error, e);
        }
        return (AppServiceResponseStatus) status;
}

/**
 * app_service_request_send_response_sync:
 * @self: a request
 * @response: (nullable): the response, an `a{sv}` ValueSet (if floating, it is consumed); %NULL
 *   for an empty one
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Answers the request, blocking the calling thread: the synchronous twin of
 * [method@AppService.Request.send_response], with the results of
 * [method@AppService.Request.send_response_finish]. It needs no running main loop. A response
 * the bus refuses for its limit of calls awaiting a reply is sent again after a pause.
 *
 * Returns: %APP_SERVICE_RESPONSE_STATUS_SUCCESS if the broker took the response, else the reason
 *
 * Since: 0.1
 */
AppServiceResponseStatus app_service_request_send_response_sync(AppServiceRequest *self, GVariant *response,
                                                                GCancellable *cancellable, GError **error) {
        g_autoptr(GVariant) sunk G_GNUC_UNUSED = response ? g_variant_ref_sink(response) : NULL;
        g_autoptr(GVariant) parameters = NULL;
        GVariant *reply;
        GError *e = NULL;

        g_return_val_if_fail(APP_SERVICE_IS_REQUEST(self), APP_SERVICE_RESPONSE_STATUS_UNKNOWN);
        g_return_val_if_fail(!cancellable || G_IS_CANCELLABLE(cancellable), APP_SERVICE_RESPONSE_STATUS_UNKNOWN);

        if (!check_can_respond(self, response, &e)) {
                AppServiceResponseStatus status = app_service_response_status_from_error(e);

                g_propagate_error(error, e);
                return status;
        }

        if (self->direct)
                return respond_direct(self, response, cancellable, error);
        self->responding = TRUE;
        parameters = g_variant_ref_sink(response_parameters(self->id, response));
        for (guint delay_ms = RETRY_FIRST_MS;; delay_ms = MIN(delay_ms * 2, RETRY_MAX_MS)) {
                reply = g_dbus_connection_call_sync(self->bus, self->owner, self->object_path, AS_CONNECTION_IFACE,
                                                    "SendResponse", parameters, G_VARIANT_TYPE("()"),
                                                    G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, cancellable, &e);
                /* Refused by the bus (too many calls of this connection awaiting replies), never
                 * seen by the broker: sent again after a pause, as the asynchronous path does. */
                if (reply || !error_is_limits_exceeded(e) || g_cancellable_is_cancelled(cancellable))
                        break;
                g_clear_error(&e);
                g_usleep(delay_ms * G_TIME_SPAN_MILLISECOND);
        }
        return respond_done(self, reply, e, error);
}
