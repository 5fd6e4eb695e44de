/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "appservice-dbus.h"
#include "appservice-dbus-interfaces.h"

/* The bus the objects made without one use: the system bus (g_bus_get_sync() honours
 * DBUS_SYSTEM_BUS_ADDRESS), or the session bus when APPSERVICE_BUS=session. */
GBusType as_bus_default_type(void) {
        const gchar *which = g_getenv("APPSERVICE_BUS");

        if (which && g_str_equal(which, "session"))
                return G_BUS_TYPE_SESSION;
        if (which && *which && !g_str_equal(which, "system"))
                g_debug("APPSERVICE_BUS=\"%s\" is neither \"system\" nor \"session\": using the system bus, ignoring",
                        which);
        return G_BUS_TYPE_SYSTEM;
}

/* The library's own connection to the default bus, one per bus type, shared by every object made
 * without a bus while any of them lives. Not g_bus_get()'s: that one belongs to the whole process
 * and has exit-on-close set, so a bus that drops it (as dbus-daemon does with a peer that sends a
 * message over its max_message_size, or that it cannot parse) raises SIGTERM in the process; and
 * clearing the property on it would change it for every other user of that connection, which may
 * rely on it. A private connection costs one more bus connection per process, and has
 * exit-on-close unset: losing the bus closes our objects (service-closed, unregistered) and
 * nothing else. */
G_LOCK_DEFINE_STATIC(default_bus);
static GWeakRef default_buses[2]; /* system, session; static storage needs no g_weak_ref_init() */

static GDBusConnection *default_bus_peek(GWeakRef *slot) {
        GDBusConnection *bus = g_weak_ref_get(slot);

        if (bus && g_dbus_connection_is_closed(bus))
                g_clear_object(&bus); /* a new one replaces it: the bus may be back */
        return bus;
}

GDBusConnection *as_bus_get_default_sync(GCancellable *cancellable, GError **error) {
        GBusType type = as_bus_default_type();
        GWeakRef *slot = &default_buses[type == G_BUS_TYPE_SESSION ? 1 : 0];
        g_autoptr(GDBusConnection) bus = NULL;
        g_autofree gchar *address = NULL;
        GDBusConnection *other;

        G_LOCK(default_bus);
        bus = default_bus_peek(slot);
        G_UNLOCK(default_bus);
        if (bus)
                return g_steal_pointer(&bus);

        address = g_dbus_address_get_for_bus_sync(type, cancellable, error);
        if (!address)
                return NULL;
        bus = g_dbus_connection_new_for_address_sync(
                address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                /* observer= */ NULL, cancellable, error);
        if (!bus)
                return NULL;
        g_dbus_connection_set_exit_on_close(bus, FALSE);

        /* Another thread may have made one meanwhile: the first one stays. */
        G_LOCK(default_bus);
        other = default_bus_peek(slot);
        if (!other)
                g_weak_ref_set(slot, bus);
        G_UNLOCK(default_bus);
        return other ? other : g_steal_pointer(&bus);
}

static void default_bus_thread(GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable) {
        GError *error = NULL;
        GDBusConnection *bus = as_bus_get_default_sync(cancellable, &error);

        if (bus)
                g_task_return_pointer(task, bus, g_object_unref);
        else
                g_task_return_error(task, error);
}

void as_bus_get_default(GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);

        g_task_set_source_tag(task, as_bus_get_default);
        g_task_run_in_thread(task, default_bus_thread);
}

GDBusConnection *as_bus_get_default_finish(GAsyncResult *result, GError **error) {
        return g_task_propagate_pointer(G_TASK(result), error);
}

/* "/io/appservice1/service/" + the name escaped as sd_bus_path_encode() does: every byte but
 * [A-Za-z] and non-leading [0-9] becomes _XX (lower-case hex); the empty name becomes "_". */
gchar *as_service_path_for_name(const gchar *name) {
        GString *path = g_string_new(AS_SERVICE_PATH_PREFIX);

        if (!*name)
                g_string_append_c(path, '_');
        for (const gchar *p = name; *p; p++) {
                if (g_ascii_isalpha(*p) || (p > name && g_ascii_isdigit(*p)))
                        g_string_append_c(path, *p);
                else
                        g_string_append_printf(path, "_%02x", (guint) (guchar) *p);
        }
        return g_string_free(path, FALSE);
}

/* Remote errors arrive as "GDBus.Error:io.appservice1.Error.X: message": keep the message. */
void as_error_prettify(GError *error) {
        if (error && g_dbus_error_is_remote_error(error))
                g_dbus_error_strip_remote_error(error);
}

/* Whether a signal's parameters have the signature the contract (the introspection XML, through
 * the generated interface descriptions) gives it. */
gboolean as_signal_parameters_valid(const gchar *interface_name, const gchar *signal_name, GVariant *parameters) {
        const GDBusInterfaceInfo *iface;
        GDBusSignalInfo *signal;
        GString *signature;
        gboolean valid;

        if (g_str_equal(interface_name, AS_CONNECTION_IFACE))
                iface = &app_service_dbus_connection_interface;
        else if (g_str_equal(interface_name, AS_SERVICE_IFACE))
                iface = &app_service_dbus_service_interface;
        else if (g_str_equal(interface_name, AS_MANAGER_IFACE))
                iface = &app_service_dbus_manager_interface;
        else
                return FALSE;

        signal = g_dbus_interface_info_lookup_signal((GDBusInterfaceInfo *) iface, signal_name);
        if (!signal)
                return FALSE;

        signature = g_string_new("(");
        for (GDBusArgInfo **arg = signal->args; arg && *arg; arg++)
                g_string_append(signature, (*arg)->signature);
        g_string_append_c(signature, ')');
        valid = g_str_equal(g_variant_get_type_string(parameters), signature->str);
        g_string_free(signature, TRUE);
        return valid;
}

/* ---- calls with a clean cancellation ---- */

typedef struct {
        GDBusConnection *bus;
        GSource *cancel_source;
        AsUndoFunc undo;
        gpointer undo_data;
        GDestroyNotify undo_data_free;
        gboolean completed; /* the task returned (cancelled) before the reply came */
} CallData;

static void call_data_free(CallData *data) {
        if (data->cancel_source) {
                g_source_destroy(data->cancel_source);
                g_source_unref(data->cancel_source);
        }
        if (data->undo_data_free)
                data->undo_data_free(data->undo_data);
        g_object_unref(data->bus);
        g_free(data);
}

static gboolean on_call_cancelled(GCancellable *cancellable, gpointer user_data) {
        GTask *task = user_data;
        CallData *data = g_task_get_task_data(task);

        if (!data->completed) {
                data->completed = TRUE;
                g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
        }
        return G_SOURCE_REMOVE;
}

static void on_call_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        CallData *data = g_task_get_task_data(task);
        g_autoptr(GDBusMessage) reply = NULL;
        g_autoptr(GError) error = NULL;

        reply = g_dbus_connection_send_message_with_reply_finish(G_DBUS_CONNECTION(source), result, &error);

        if (data->completed) {
                /* Cancelled while the broker worked: undo what it did for us. */
                if (reply && g_dbus_message_get_message_type(reply) == G_DBUS_MESSAGE_TYPE_METHOD_RETURN &&
                    data->undo)
                        data->undo(data->bus, reply, data->undo_data);
                return;
        }
        data->completed = TRUE;

        if (!reply) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        if (g_dbus_message_to_gerror(reply, &error)) {
                as_error_prettify(error);
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        g_task_return_pointer(task, g_steal_pointer(&reply), g_object_unref);
}

static void call_message(GDBusConnection *bus, GDBusMessage *message, GCancellable *cancellable, AsUndoFunc undo,
                         gpointer undo_data, GDestroyNotify undo_data_free, gboolean always_send, gpointer source_tag,
                         GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = NULL;
        g_autoptr(GError) error = NULL;
        CallData *data;

        task = g_task_new(NULL, cancellable, callback, user_data);
        g_task_set_source_tag(task, source_tag);
        /* The result is what the broker said; whether the caller still wants it is
         * on_call_cancelled()'s business. */
        g_task_set_check_cancellable(task, FALSE);

        data = g_new0(CallData, 1);
        data->bus = g_object_ref(bus);
        data->undo = undo;
        data->undo_data = undo_data;
        data->undo_data_free = undo_data_free;
        g_task_set_task_data(task, data, (GDestroyNotify) call_data_free);

        if (g_cancellable_set_error_if_cancelled(cancellable, &error)) {
                data->completed = TRUE;
                g_task_return_error(task, g_steal_pointer(&error));
                if (!always_send)
                        return;
        } else if (cancellable) {
                data->cancel_source = g_cancellable_source_new(cancellable);
                /* The task is alive as long as the reply is awaited, which outlives this source
                 * (call_data_free() destroys it), so a borrowed pointer does. */
                g_source_set_callback(data->cancel_source, G_SOURCE_FUNC(on_call_cancelled), task, NULL);
                g_source_attach(data->cancel_source, g_task_get_context(task));
        }

        g_dbus_connection_send_message_with_reply(bus, message, G_DBUS_SEND_MESSAGE_FLAGS_NONE, AS_CALL_TIMEOUT,
                                                  NULL, NULL, on_call_reply, g_object_ref(task));
}

void as_call_message(GDBusConnection *bus, GDBusMessage *message, GCancellable *cancellable, AsUndoFunc undo,
                     gpointer undo_data, GDestroyNotify undo_data_free, GAsyncReadyCallback callback,
                     gpointer user_data) {
        call_message(bus, message, cancellable, undo, undo_data, undo_data_free, /* always_send= */ FALSE,
                     as_call_message, callback, user_data);
}

/* A call that must reach the broker even if the caller is not interested in the answer any more
 * (Close, UnregisterProvider: this side acted already): cancelling only ends the wait. */
void as_call_always(GDBusConnection *bus, const gchar *destination, const gchar *object_path,
                    const gchar *interface_name, const gchar *method_name, GVariant *parameters,
                    GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GDBusMessage) message = NULL;

        message = g_dbus_message_new_method_call(destination, object_path, interface_name, method_name);
        g_dbus_message_set_flags(message, G_DBUS_MESSAGE_FLAGS_NO_AUTO_START);
        g_dbus_message_set_body(message, parameters);
        call_message(bus, message, cancellable, NULL, NULL, NULL, /* always_send= */ TRUE, as_call_message,
                     callback, user_data);
}

gboolean as_call_always_finish(GAsyncResult *result, GError **error) {
        g_autoptr(GDBusMessage) reply = as_call_message_finish(result, error);

        return reply != NULL;
}

/* A GAsyncReadyCallback for as_call_always() whose user_data is a GTask (owned) returning a
 * boolean: it returns %TRUE, or the error. */
void as_call_always_return_to_task(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        GError *error = NULL;

        if (as_call_always_finish(result, &error))
                g_task_return_boolean(task, TRUE);
        else
                g_task_return_error(task, error);
}

gboolean as_call_always_sync(GDBusConnection *bus, const gchar *destination, const gchar *object_path,
                             const gchar *interface_name, const gchar *method_name, GVariant *parameters,
                             GCancellable *cancellable, GError **error) {
        g_autoptr(GVariant) reply = NULL;
        GError *e = NULL;

        if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
                /* Told anyway, without waiting for the answer. */
                g_dbus_connection_call(bus, destination, object_path, interface_name, method_name, parameters,
                                       NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
                return FALSE;
        }
        reply = g_dbus_connection_call_sync(bus, destination, object_path, interface_name, method_name, parameters,
                                            G_VARIANT_TYPE("()"), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, cancellable,
                                            &e);
        if (!reply) {
                as_error_prettify(e);
                g_propagate_error(error, e);
                return FALSE;
        }
        return TRUE;
}

GDBusMessage *as_call_message_finish(GAsyncResult *result, GError **error) {
        g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
        return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- the synchronous twin ---- */

typedef struct {
        GDBusMessage *message;
        AsUndoFunc undo;
        gpointer undo_data;
} SyncCallData;

static GDBusMessage *reply_to_result(GDBusMessage *reply, GError **error) {
        GError *e = NULL;

        if (g_dbus_message_to_gerror(reply, &e)) {
                as_error_prettify(e);
                g_propagate_error(error, e);
                g_object_unref(reply);
                return NULL;
        }
        return reply;
}

static void sync_call_thread(GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable) {
        SyncCallData *data = task_data;
        GDBusConnection *bus = source_object;
        g_autoptr(GDBusMessage) reply = NULL;
        GError *error = NULL;

        reply = g_dbus_connection_send_message_with_reply_sync(bus, data->message, G_DBUS_SEND_MESSAGE_FLAGS_NONE,
                                                               AS_CALL_TIMEOUT, NULL, NULL, &error);
        if (!g_task_set_return_on_cancel(task, FALSE)) {
                /* The caller gave up (cancelled) and is gone: undo what the broker did for it. */
                if (reply && g_dbus_message_get_message_type(reply) == G_DBUS_MESSAGE_TYPE_METHOD_RETURN &&
                    data->undo)
                        data->undo(bus, reply, data->undo_data);
                g_clear_error(&error);
                return;
        }
        if (!reply) {
                g_task_return_error(task, error);
                return;
        }
        reply = reply_to_result(g_steal_pointer(&reply), &error);
        if (!reply)
                g_task_return_error(task, error);
        else
                g_task_return_pointer(task, g_steal_pointer(&reply), g_object_unref);
}

static void sync_call_data_free(gpointer p) {
        SyncCallData *data = p;

        g_object_unref(data->message);
        g_free(data->undo_data);
        g_free(data);
}

/* Blocks without any main loop. Without a cancellable, a plain synchronous call; with one, the
 * call waits in a worker thread so that the caller returns at once when it is cancelled, and
 * the worker undoes the broker's work when the reply comes. @undo_data is a string (or NULL),
 * freed with g_free(). */
GDBusMessage *as_call_message_sync(GDBusConnection *bus, GDBusMessage *message, GCancellable *cancellable,
                                   AsUndoFunc undo, gchar *undo_data, GError **error) {
        g_autoptr(GTask) task = NULL;
        SyncCallData *data;

        if (!cancellable) {
                GDBusMessage *reply;

                g_free(undo_data);
                reply = g_dbus_connection_send_message_with_reply_sync(bus, message, G_DBUS_SEND_MESSAGE_FLAGS_NONE,
                                                                       AS_CALL_TIMEOUT, NULL, NULL, error);
                return reply ? reply_to_result(reply, error) : NULL;
        }

        task = g_task_new(bus, cancellable, NULL, NULL);
        g_task_set_source_tag(task, as_call_message_sync);
        data = g_new0(SyncCallData, 1);
        data->message = g_object_ref(message);
        data->undo = undo;
        data->undo_data = undo_data;
        g_task_set_task_data(task, data, sync_call_data_free);
        g_task_set_return_on_cancel(task, TRUE);
        g_task_run_in_thread_sync(task, sync_call_thread);
        return g_task_propagate_pointer(task, error);
}
