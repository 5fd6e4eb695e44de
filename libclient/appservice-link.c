/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "appservice-link.h"

#include "appservice-dbus.h"

typedef struct {
        GTask *task;
        AsLinkContinueFunc then;
} LinkWaiter;

/* The owner's link, for the interfaces' functions. */
static GQuark link_quark(void) {
        return g_quark_from_static_string("appservice-broker-link");
}

static AsBrokerLink *link_of(gpointer owner) {
        return g_object_get_qdata(G_OBJECT(owner), link_quark());
}

/* In the owner's instance init. */
void as_broker_link_init(AsBrokerLink *link, GObject *owner, const AsHubClientVTable *vtable) {
        g_object_set_qdata(owner, link_quark(), link);
        link->state = AS_LINK_NEW;
        /* The owner belongs to the context that is the thread's default while it is made. */
        link->context = g_main_context_ref_thread_default();
        link->client.vtable = vtable;
        link->client.instance = owner;
        g_queue_init(&link->waiting);
}

void as_broker_link_set_bus(AsBrokerLink *link, GDBusConnection *bus) {
        g_return_if_fail(link->state == AS_LINK_NEW && !link->bus);
        link->bus = bus ? g_object_ref(bus) : NULL;
}

/* Leaves the hub: no signal reaches the owner any more. For dispose. */
void as_broker_link_detach(AsBrokerLink *link) {
        if (!link->hub)
                return;
        as_hub_detach(link->hub, &link->client);
        link->hub = NULL;
}

/* For finalize: nothing here talks to the bus. */
void as_broker_link_clear(AsBrokerLink *link) {
        g_warn_if_fail(!link->hub && g_queue_is_empty(&link->waiting));
        g_clear_object(&link->bus);
        g_clear_error(&link->error);
        g_clear_pointer(&link->context, g_main_context_unref);
}

/* @bus (owned) or @error (owned): the first outcome that is not a cancellation is final. */
static void become_ready(AsBrokerLink *link, GDBusConnection *bus, GError *error) {
        link->state = AS_LINK_READY;
        if (!link->bus)
                link->bus = bus;
        else
                g_clear_object(&bus);
        if (link->bus) {
                g_clear_error(&error);
                link->hub = as_hub_attach(link->bus, link->context, &link->client);
        } else {
                link->error = error;
        }
}

gboolean as_broker_link_init_sync(AsBrokerLink *link, GCancellable *cancellable, GError **error) {
        GError *e = NULL;
        GDBusConnection *bus;

        if (link->state != AS_LINK_READY) {
                bus = link->bus ? NULL : as_bus_get_default_sync(cancellable, &e);
                if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
                        g_propagate_error(error, e);
                        return FALSE;
                }
                /* An asynchronous initialization under way finds the link ready when it ends. */
                become_ready(link, bus, e);
        }
        if (link->error) {
                g_propagate_error(error, g_error_copy(link->error));
                return FALSE;
        }
        return TRUE;
}

static void continue_waiter(AsBrokerLink *link, LinkWaiter *waiter) {
        if (link->error)
                g_task_return_error(waiter->task, g_error_copy(link->error));
        else
                waiter->then(g_steal_pointer(&waiter->task));
        g_clear_object(&waiter->task);
        g_free(waiter);
}

static void on_default_bus(GObject *source, GAsyncResult *result, gpointer user_data) {
        AsBrokerLink *link = user_data;
        /* The reference taken for the wait, dropped once the waiters ran (the link is inside it). */
        GObject *owner = link->client.instance;
        GError *error = NULL;
        GDBusConnection *bus = as_bus_get_default_finish(result, &error);
        LinkWaiter *waiter;

        if (link->state == AS_LINK_READY) { /* made ready meanwhile, by a _sync() call */
                g_clear_object(&bus);
                g_clear_error(&error);
        } else {
                become_ready(link, bus, error);
        }
        /* Continuations may start operations, which now find the link ready. */
        while ((waiter = g_queue_pop_head(&link->waiting)))
                continue_waiter(link, waiter);
        g_object_unref(owner);
}

/* Runs @then with @task (owned) once the link is ready with a bus: at once if it is, or else
 * returns the link's error on @task. */
void as_broker_link_then(AsBrokerLink *link, GTask *task, AsLinkContinueFunc then) {
        LinkWaiter *waiter = g_new0(LinkWaiter, 1);

        waiter->task = task;
        waiter->then = then;
        if (link->state == AS_LINK_READY || (link->state == AS_LINK_NEW && link->bus)) {
                if (link->state == AS_LINK_NEW)
                        become_ready(link, NULL, NULL);
                continue_waiter(link, waiter);
                return;
        }
        g_queue_push_tail(&link->waiting, waiter);
        if (link->state == AS_LINK_GETTING_BUS)
                return;
        link->state = AS_LINK_GETTING_BUS;
        /* Not cancellable: the bus is the link's, not the operation's; each operation's own
         * cancellable acts on its call. */
        g_object_ref(link->client.instance);
        as_bus_get_default(NULL, on_default_bus, link);
}

static void return_ready(GTask *task) {
        g_task_return_boolean(task, TRUE);
        g_object_unref(task);
}

void as_broker_link_init_async(AsBrokerLink *link, GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data) {
        GTask *task = g_task_new(link->client.instance, cancellable, callback, user_data);

        g_task_set_source_tag(task, as_broker_link_init_async);
        as_broker_link_then(link, task, return_ready);
}

gboolean as_broker_link_init_finish(AsBrokerLink *link, GAsyncResult *result, GError **error) {
        g_return_val_if_fail(g_task_is_valid(result, link->client.instance), FALSE);

        return g_task_propagate_boolean(G_TASK(result), error);
}

GDBusConnection *as_broker_link_get_bus(AsBrokerLink *link) {
        if (link->state != AS_LINK_READY)
                as_broker_link_init_sync(link, NULL, NULL);
        return link->bus;
}

/* ---- the hub ---- */

const gchar *as_broker_link_get_broker(AsBrokerLink *link) {
        return link->hub ? as_hub_get_owner(link->hub) : NULL;
}

void as_broker_link_bind_path(AsBrokerLink *link, const gchar *object_path, const gchar *owner) {
        as_hub_bind_path(link->hub, object_path, owner, &link->client);
}

void as_broker_link_unbind_path(AsBrokerLink *link, const gchar *object_path) {
        if (link->hub)
                as_hub_unbind_path(link->hub, object_path, &link->client);
}

gboolean as_broker_link_take_closed(AsBrokerLink *link, const gchar *object_path, const gchar *owner,
                                    guint32 *ret_status) {
        return link->hub && as_hub_take_closed(link->hub, object_path, owner, ret_status);
}

GUnixFDList *as_broker_link_take_fds(AsBrokerLink *link, const gchar *connection_path, const gchar *owner) {
        return link->hub ? as_hub_take_fds(link->hub, connection_path, owner) : NULL;
}

/* ---- GInitable and GAsyncInitable, for the link's owner ---- */

static gboolean initable_init(GInitable *initable, GCancellable *cancellable, GError **error) {
        return as_broker_link_init_sync(link_of(initable), cancellable, error);
}

void as_broker_link_initable_iface_init(GInitableIface *iface) {
        iface->init = initable_init;
}

static void async_initable_init_async(GAsyncInitable *initable, int io_priority, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data) {
        as_broker_link_init_async(link_of(initable), cancellable, callback, user_data);
}

static gboolean async_initable_init_finish(GAsyncInitable *initable, GAsyncResult *result, GError **error) {
        return as_broker_link_init_finish(link_of(initable), result, error);
}

void as_broker_link_async_initable_iface_init(GAsyncInitableIface *iface) {
        iface->init_async = async_initable_init_async;
        iface->init_finish = async_initable_init_finish;
}
