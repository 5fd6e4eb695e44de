/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* keyfile_parse(): the syntax of definition files (groups, keys, escapes, UTF-8). */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyfile.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        KeyFileError error = {};
        KeyFile *kf = NULL;
        unsigned last_line = 0;
        int r;

        log_set_max_level(LOG_CRIT);

        r = keyfile_parse((const char *) data, size, &kf, &error);
        if (r < 0) {
                /* Every refusal names what was wrong. */
                if (!error.message || !error.message[0])
                        abort();
                keyfile_error_done(&error);
                return 0;
        }

        for (size_t i = 0; i < kf->n_entries; i++) {
                const KeyFileEntry *e = &kf->entries[i];
                const KeyFileEntry *found;

                if (!e->group || !e->key || !e->value || e->line == 0 || e->line < last_line)
                        abort();
                last_line = e->line;
                /* The value fits in the text it was unescaped from, and holds no NUL. */
                if (strlen(e->value) > size)
                        abort();
                found = keyfile_lookup(kf, e->group, e->key);
                if (!found || strcmp(found->group, e->group) != 0 || strcmp(found->key, e->key) != 0 ||
                    found->line < e->line)
                        abort();
        }
        keyfile_free(kf);
        return 0;
}
