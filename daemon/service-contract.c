/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "service-contract.h"
#include "util.h"

static char *const default_search_path[] = {
        (char *) "/etc/appservice/contracts",
        (char *) "/run/appservice/contracts",
        (char *) "/usr/local/share/appservice/contracts",
        (char *) "/usr/share/appservice/contracts",
        NULL,
};

/* --contracts-dir=, or NULL for the default. */
static char **search_path;

int service_contract_set_search_path(char *const *dirs) {
        char **copy = NULL;
        size_t n = 0;

        if (dirs) {
                while (dirs[n])
                        n++;
                copy = calloc(n + 1, sizeof(char *));
                if (!copy)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++)
                        if (!(copy[i] = strdup(dirs[i]))) {
                                strv_free(copy);
                                return -ENOMEM;
                        }
        }
        strv_free(search_path);
        search_path = copy;
        return 0;
}

char *const *service_contract_search_path(void) {
        return search_path ? search_path : default_search_path;
}

ServiceContract *service_contract_ref(ServiceContract *sc) {
        if (sc)
                sc->n_ref++;
        return sc;
}

ServiceContract *service_contract_unref(ServiceContract *sc) {
        if (!sc || --sc->n_ref > 0)
                return NULL;
        contract_free(sc->contract);
        free(sc->path);
        free(sc->text);
        free(sc);
        return NULL;
}

static int set_error(char **ret_error, int r, const char *format, ...) __attribute__((format(printf, 3, 4)));
static int set_error(char **ret_error, int r, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        if (vasprintf(ret_error, format, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return r;
}

static int load_from(const char *path, const char *name, ServiceContract **ret, char **ret_error) {
        _cleanup_(service_contract_unrefp) ServiceContract *sc = NULL;
        size_t size = 0;
        int r;

        sc = calloc(1, sizeof(ServiceContract));
        if (!sc)
                return -ENOMEM;
        sc->n_ref = 1;
        sc->path = strdup(path);
        if (!sc->path)
                return -ENOMEM;
        r = contract_read(path, &sc->text, &size, ret_error);
        if (r == -ENOENT) {
                /* Not there: the next directory is looked at; no error yet. */
                free(*ret_error);
                *ret_error = NULL;
                return r;
        }
        if (r < 0)
                return r;
        r = contract_parse(sc->text, size, path, &sc->contract, ret_error);
        if (r < 0)
                return r;
        if (strcmp(sc->contract->name, name) != 0) {
                free(*ret_error);
                return set_error(ret_error, -EBADMSG, "%s: declares interface '%s', but Contract= names '%s'",
                                 path, sc->contract->name, name);
        }
        *ret = TAKE_PTR(sc);
        return 0;
}

int service_contract_load(const char *name, const char *definition_path, ServiceContract **ret, char **ret_error) {
        _cleanup_(freep) char *dir = NULL, *path = NULL;
        const char *slash = definition_path ? strrchr(definition_path, '/') : NULL;
        int r;

        *ret = NULL;
        *ret_error = NULL;
        if (!contract_name_is_valid(name))
                return set_error(ret_error, -EINVAL, "'%s' is not a contract name", name);
        /* First the definition's own directory, so a service ships its contract beside it. */
        if (slash) {
                dir = strndup(definition_path, (size_t) (slash - definition_path));
                if (!dir || asprintf(&path, "%s/%s" SERVICE_CONTRACT_SUFFIX, dir, name) < 0)
                        return -ENOMEM;
                r = load_from(path, name, ret, ret_error);
                if (r != -ENOENT)
                        return r;
        }
        for (char *const *d = service_contract_search_path(); *d; d++) {
                free(path);
                if (asprintf(&path, "%s/%s" SERVICE_CONTRACT_SUFFIX, *d, name) < 0) {
                        path = NULL;
                        return -ENOMEM;
                }
                r = load_from(path, name, ret, ret_error);
                if (r != -ENOENT)
                        return r;
        }
        return set_error(ret_error, -ENOENT, "contract %s: no file %s" SERVICE_CONTRACT_SUFFIX
                         " beside the definition or in the contract directories", name, name);
}

bool service_contract_equal(const ServiceContract *a, const ServiceContract *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a->path, b->path) == 0 && strcmp(a->text, b->text) == 0;
}
