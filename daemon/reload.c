/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "connection.h"
#include "errors.h"
#include "log.h"
#include "manager-dbus.h"
#include "monitor.h"
#include "reload.h"
#include "service-dbus.h"
#include "service.h"
#include "util.h"
#include "visibility.h"

/* Editors and package managers write a file in several steps: reload once they are quiet. */
#define RELOAD_DEBOUNCE_USEC (UINT64_C(200) * 1000)
#define RELOAD_ACCURACY_USEC (UINT64_C(10) * 1000)
#define WATCH_MASK                                                                        \
        (IN_CREATE | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | \
         IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

/* Service names, for the log line and the monitors' "reload" event. */
typedef struct NameList {
        char **names;  /* NULL-terminated, never NULL once the list is set up */
        size_t n;
} NameList;

static void name_list_done(NameList *l) {
        strv_free(l->names);
        *l = (NameList) {};
}

static int name_list_add(NameList *l, const char *name) {
        char **a = reallocarray(l->names, l->n + 2, sizeof(char *));

        if (!a)
                return -ENOMEM;
        l->names = a;
        a[l->n] = strdup(name);
        if (!a[l->n])
                return -ENOMEM;
        a[++l->n] = NULL;
        return 0;
}

static int name_list_init(NameList *l) {
        l->names = calloc(1, sizeof(char *));
        return l->names ? 0 : -ENOMEM;
}

static char *const *services_dirs(Manager *m) {
        return m->services_dirs ? m->services_dirs : definition_default_dirs();
}

/* A new definition for a service that stays: swapped in place, so that its object, provider,
 * connections and disabled flag stay. services_by_name is keyed by the definition's own name
 * string, so the key moves with it. */
static int service_swap_definition(Service *s, Definition *d) {
        Manager *m = s->manager;
        Definition *old = s->definition;
        bool was_activatable = service_is_activatable(s), watchers_changed;
        const char *props[7];
        size_t n = 0;
        int r;

        hashmap_remove(m->services_by_name, old->name);
        s->definition = d;
        r = hashmap_put(m->services_by_name, d->name, s);
        if (r < 0) {
                s->definition = old;
                (void) hashmap_put(m->services_by_name, old->name, s);  /* the entry just freed makes room */
                return r;
        }

        if (!streq(old->provider, d->provider))
                props[n++] = "Provider";
        if (!streq(strempty(old->description), strempty(d->description)))
                props[n++] = "Description";
        if (was_activatable != service_is_activatable(s))
                props[n++] = "Activatable";
        if (old->max_message_size != d->max_message_size)
                props[n++] = "MaxMessageSize";
        if (!streq(old->contract_name ? old->contract_name : "", d->contract_name ? d->contract_name : ""))
                props[n++] = "Contract";
        if (old->allow_http != d->allow_http)
                props[n++] = "AllowHTTP";
        props[n] = NULL;
        watchers_changed = definition_watchers_differ(old, d);
        definition_free(old);

        service_emit_properties_changed(s, (char **) props);
        if (watchers_changed)
                service_emit_watchers_changed(s);
        return 0;
}

static int service_add(Manager *m, Definition *d) {
        Service *s;
        int r;

        r = service_new(m, d, &s);
        if (r < 0)
                return r;
        LIST_PREPEND(services, m->services, s);  /* put in file order afterwards */
        s->reload_mark = true;
        log_info("app service '%s': added from %s", d->name, d->path);
        service_emit_added(s);
        return 0;
}

static void on_removed_service_stopped(Service *s, void *userdata) {
        LIST_REMOVE(services, s->manager->removed_services, s);
        service_lifecycle_free(s);
        service_free(s);
}

/* A removed definition: its clients and waiting opens are told, its object goes at once, and its
 * provider is stopped as StopService does; the Service is freed once that stop is done. */
static void service_remove(Service *s) {
        Manager *m = s->manager;
        const char *name = s->definition->name;
        int r;

        log_info("app service '%s': removed (%s no longer declares it)", name, s->definition->path);

        while (s->connections)
                connection_close(s->connections, 1u << ENDPOINT_CLIENT, CLOSED_CANCELED);
        service_fail_waiters(s, APPSERVICE_ERROR_APP_SERVICE_UNAVAILABLE,
                             "app service '%s' is no longer declared (its definition was removed)", name);

        /* While the object can still be found, so that its interfaces are listed. */
        service_emit_removed(s);

        /* Out of every lookup now; kept where a leaving provider is still found (peer.c). */
        hashmap_remove(m->services_by_name, name);
        LIST_REMOVE(services, m->services, s);
        LIST_PREPEND(services, m->removed_services, s);
        r = service_stop_then(s, "removed", on_removed_service_stopped, NULL);
        if (r < 0) {
                log_warning_errno(r, "app service '%s': cannot stop the provider, dropping it: %m", name);
                service_unregister_provider(s, CLOSED_CANCELED);
                LIST_REMOVE(services, m->removed_services, s);
                service_lifecycle_free(s);
                service_free(s);
        }
}

static const char *file_name(const Service *s) {
        const char *slash = strrchr(s->definition->path, '/');
        return slash ? slash + 1 : s->definition->path;
}

static int service_compare(const void *a, const void *b) {
        const Service *x = *(Service *const *) a, *y = *(Service *const *) b;
        int c = strcmp(file_name(x), file_name(y));

        return c != 0 ? c : strcmp(x->definition->name, y->definition->name);
}

/* ListServices keeps file order, the order the definitions are loaded in. */
static void sort_services(Manager *m) {
        _cleanup_(freep) Service **array = NULL;
        size_t n = 0;

        LIST_FOREACH(services, s, m->services)
                n++;
        array = calloc(n, sizeof(Service *));
        if (!array)
                return;  /* the order is cosmetic: keep the one there is */
        n = 0;
        LIST_FOREACH(services, s, m->services)
                array[n++] = s;
        qsort(array, n, sizeof(Service *), service_compare);

        m->services = NULL;
        for (size_t i = n; i > 0; i--) {
                array[i - 1]->services_next = array[i - 1]->services_prev = NULL;
                LIST_PREPEND(services, m->services, array[i - 1]);
        }
}

/* Applies the definitions just read; takes each of defs[]. */
static int apply_definitions(Manager *m, Definition **defs, size_t n_defs, NameList *added, NameList *changed) {
        int r;

        LIST_FOREACH(services, s, m->services)
                s->reload_mark = false;

        for (size_t i = 0; i < n_defs; i++) {
                _cleanup_(definition_freep) Definition *d = TAKE_PTR(defs[i]);
                Service *s = manager_find_service(m, d->name);

                if (!s) {
                        r = name_list_add(added, d->name);
                        if (r >= 0)
                                r = service_add(m, d);
                        if (r < 0)
                                return log_error_errno(r, "app service '%s': cannot be added: %m", d->name);
                        TAKE_PTR(d);
                        continue;
                }

                s->reload_mark = true;
                if (definition_equal(s->definition, d))
                        continue;
                r = name_list_add(changed, d->name);
                if (r >= 0)
                        r = service_swap_definition(s, d);
                if (r < 0)
                        return log_error_errno(r, "app service '%s': cannot take its new definition: %m", d->name);
                TAKE_PTR(d);
                log_info("app service '%s': definition changed (%s)", s->definition->name, s->definition->path);
        }
        return 0;
}

static void reload_log_and_emit(Manager *m, const NameList *added, const NameList *removed,
                                const NameList *changed, size_t n_kept) {
        log_full(m->load_errors.n > 0 ? LOG_WARNING : LOG_INFO,
                 "reloaded the definitions: %zu added, %zu removed, %zu changed, %zu kept as they were "
                 "(file does not load); %zu file(s) do not load", added->n, removed->n, changed->n, n_kept,
                 m->load_errors.n);
        monitor_emit(m, "reload", "SSS", "added", added->names, "removed", removed->names, "changed",
                     changed->names);
}

static void watch_dirs(Manager *m);

int manager_reload(Manager *m) {
        _cleanup_(definition_load_errors_done) DefinitionLoadErrors errors = {};
        _cleanup_(name_list_done) NameList added = {}, removed = {}, changed = {};
        Definition **defs = NULL;
        size_t n_defs = 0, n_kept = 0;
        int r;

        assert(m);

        if (m->state == MANAGER_STOPPING)
                return 0;

        /* Whatever triggered this, the read below sees every change made so far. */
        if (m->reload_timer)
                (void) sd_event_source_set_enabled(m->reload_timer, SD_EVENT_OFF);
        /* Watch first and read then, so that no change slips in between; this also picks up
         * directories created since the last time. */
        watch_dirs(m);

        r = name_list_init(&added);
        if (r >= 0)
                r = name_list_init(&removed);
        if (r >= 0)
                r = name_list_init(&changed);
        if (r >= 0)
                r = definitions_load_dirs_full(services_dirs(m), &defs, &n_defs, &errors);
        if (r < 0)
                return log_error_errno(r, "cannot reload the app service definitions: %m");

        if (!definition_load_errors_equal(&m->load_errors, &errors)) {
                definition_load_errors_done(&m->load_errors);
                m->load_errors = errors;
                errors = (DefinitionLoadErrors) {};
                manager_emit_load_errors_changed(m);
        }

        r = apply_definitions(m, defs, n_defs, &added, &changed);
        definitions_free(defs, n_defs);  /* those not taken, after a failure */
        if (r < 0) {
                /* Unmarked services may still be declared: remove nothing on a half-done reload. */
                sort_services(m);
                reload_log_and_emit(m, &added, &removed, &changed, n_kept);
                return r;
        }

        LIST_FOREACH_SAFE(services, s, next, m->services) {
                if (s->reload_mark)
                        continue;
                if (definition_load_errors_has_broken(&m->load_errors, s->definition->path)) {
                        log_warning("app service '%s': %s does not load any more, keeping the previous definition",
                                    s->definition->name, s->definition->path);
                        n_kept++;
                        continue;
                }
                if (name_list_add(&removed, s->definition->name) < 0)
                        log_error_errno(ENOMEM, "app service '%s': out of memory noting the removal, removing it anyway",
                                        s->definition->name);
                service_remove(s);
        }

        sort_services(m);
        reload_log_and_emit(m, &added, &removed, &changed, n_kept);
        /* The node runs what it declares: an added AutoStart=yes service starts now. */
        for (size_t i = 0; i < added.n; i++)
                service_lifecycle_added(manager_find_service(m, added.names[i]));
        return 0;
}

/* Triggers */

static int on_reload_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        log_debug("a definition directory changed, reloading");
        (void) manager_reload(m);
        return 0;
}

static void schedule_reload(Manager *m) {
        int r;

        if (m->state == MANAGER_STOPPING)
                return;
        if (!m->reload_timer)
                r = sd_event_add_time_relative(m->event, &m->reload_timer, CLOCK_MONOTONIC, RELOAD_DEBOUNCE_USEC,
                                               RELOAD_ACCURACY_USEC, on_reload_timer, m);
        else {
                /* Every change pushes the reload back: it comes once the directory is quiet. */
                r = sd_event_source_set_time_relative(m->reload_timer, RELOAD_DEBOUNCE_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->reload_timer, SD_EVENT_ONESHOT);
        }
        if (r < 0)
                log_warning_errno(r, "cannot schedule a reload after a definition directory changed, ignoring: %m");
}

static int on_dir_event(sd_event_source *source, const struct inotify_event *event, void *userdata) {
        Manager *m = userdata;

        /* Events about the directory itself (removed, moved, overflow) have no name. */
        if (event->len > 0 && !definition_is_file_name(event->name))
                return 0;
        schedule_reload(m);
        return 0;
}

static void unwatch_dirs(Manager *m) {
        for (size_t i = 0; i < m->n_dir_watches; i++)
                sd_event_source_disable_unref(m->dir_watches[i]);
        m->dir_watches = mfree(m->dir_watches);
        m->n_dir_watches = 0;
}

static void watch_dirs(Manager *m) {
        char *const *dirs = services_dirs(m);
        size_t n = 0;
        int r;

        unwatch_dirs(m);
        while (dirs[n])
                n++;
        m->dir_watches = calloc(n + 1, sizeof(sd_event_source *));
        if (!m->dir_watches) {
                log_warning_errno(ENOMEM, "cannot watch the definition directories, ignoring: %m");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                r = sd_event_add_inotify(m->event, &m->dir_watches[m->n_dir_watches], dirs[i], WATCH_MASK,
                                         on_dir_event, m);
                if (r == -ENOENT || r == -ENOTDIR)
                        continue;  /* watched once it exists, from the next reload on */
                if (r < 0) {
                        log_warning_errno(r, "cannot watch '%s' for changes, ignoring: %m", dirs[i]);
                        continue;
                }
                m->n_dir_watches++;
        }
}

static int on_sighup(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("received SIGHUP, reloading the definitions");
        (void) manager_reload(m);
        return 0;
}

int reload_setup(Manager *m) {
        int r;

        r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
        if (r < 0)
                return log_error_errno(r, "failed to watch for SIGHUP: %m");
        watch_dirs(m);
        return 0;
}

void reload_done(Manager *m) {
        m->reload_timer = sd_event_source_disable_unref(m->reload_timer);
        unwatch_dirs(m);
}
