/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The text of the file at `path`, at most CONTRACT_MAX_FILE_SIZE + 1 bytes of it (the parser
 * refuses more). -ENOENT when there is no such file. */
static int read_text(const char *path, char **ret, size_t *ret_size) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) char *text = NULL;
        struct stat st;
        size_t size = 0;

        /* O_NONBLOCK: a FIFO planted in a directory must not hang the broker before fstat(). */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
        text = malloc(CONTRACT_MAX_FILE_SIZE + 2);
        if (!text)
                return -ENOMEM;
        while (size <= CONTRACT_MAX_FILE_SIZE) {
                ssize_t k = read(fd, text + size, CONTRACT_MAX_FILE_SIZE + 1 - size);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                size += (size_t) k;
        }
        text[size] = 0;
        *ret = TAKE_PTR(text);
        *ret_size = size;
        return 0;
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
        r = read_text(path, &sc->text, &size);
        if (r == -ENOENT)
                return r;
        if (r < 0)
                return set_error(ret_error, r, "contract %s: cannot read %s: %s", name, path, strerror(-r));
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
