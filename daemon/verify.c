/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "definition.h"
#include "hashmap.h"
#include "log.h"
#include "service-contract.h"
#include "verify.h"

DEFINE_CLEANUP(Hashmap, hashmap_free);

/* Whether `program` (no slash in it) is an executable file in a directory of `path`. */
static bool in_path(const char *program, const char *path) {
        for (const char *dir = path;;) {
                size_t len = strcspn(dir, ":");
                _cleanup_(freep) char *file = NULL;

                if (len > 0 && asprintf(&file, "%.*s/%s", (int) len, dir, program) >= 0 && access(file, X_OK) == 0)
                        return true;
                if (dir[len] == '\0')
                        return false;
                dir += len + 1;
        }
}

/* The loader keeps Exec= as written: whether it runs shows only at the first start. The broker
 * runs it with execvpe() from "/": a bare name is looked up in the providers' PATH. */
static void check_exec(const Definition *d) {
        const char *program = d->exec_argv ? d->exec_argv[0] : NULL;

        if (!program)
                return;
        if (!strchr(program, '/')) {
                if (!in_path(program, DEFINITION_PROVIDER_PATH))
                        log_warning("%s: Exec: '%s' is not in the PATH a system broker gives providers (%s): "
                                    "the provider cannot be started yet",
                                    d->path, program, DEFINITION_PROVIDER_PATH);
        } else if (program[0] != '/')
                log_warning("%s: Exec: '%s' is a relative path, and providers start in '/': give the absolute path",
                            d->path, program);
        else if (access(program, X_OK) < 0)
                (void) log_warning_errno(errno, "%s: Exec: '%s' cannot be run (%m): the provider cannot be started yet",
                                         d->path, program);
}

static int verify_one(const char *path, Hashmap *names, Definition **ret) {
        _cleanup_(definition_freep) Definition *d = NULL;
        DefinitionError error = {};
        const Definition *other;
        int r;

        r = definition_load(path, &d, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                definition_error_log(&error, "");
                definition_error_done(&error);
                return 0;
        }
        other = hashmap_get(names, d->name);
        if (other) {
                log_error("%s: Name: app service '%s' is already declared by %s", path, d->name, other->path);
                return 0;
        }
        check_exec(d);
        r = hashmap_put(names, d->name, d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 1;
}

int verify_definitions(char *const *paths, char *const *contracts_dirs) {
        _cleanup_(hashmap_freep) Hashmap *names = NULL;
        Definition **loaded = NULL;
        size_t n_paths = 0, n_loaded = 0, n_skipped = 0;
        int r;

        while (paths && paths[n_paths])
                n_paths++;

        r = service_contract_set_search_path(contracts_dirs);
        if (r < 0)
                return r;
        names = hashmap_new(HASHMAP_KEY_STRING);
        loaded = calloc(n_paths + 1, sizeof(Definition *));
        if (!names || !loaded) {
                free(loaded);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n_paths; i++) {
                r = verify_one(paths[i], names, &loaded[n_loaded]);
                if (r < 0)
                        break;
                if (r > 0)
                        n_loaded++;
                else
                        n_skipped++;
        }
        definitions_free(loaded, n_loaded);
        (void) service_contract_set_search_path(NULL);
        return r < 0 ? r : (int) n_skipped;
}
