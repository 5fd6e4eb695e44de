/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* definition_parse(): a whole definition file, keys and values checked as the broker loads them.
 * The first byte says whether the file counts as trusted ([Secrets] honoured); the rest is the
 * file. */

#include <stdint.h>
#include <stdlib.h>

#include "definition.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse(const char *text, size_t size, bool trusted, Definition **ret, DefinitionError *error) {
        int r = definition_parse("fuzz.appservice", text, size, trusted, ret, error);

        if (r < 0) {
                if (*ret || !error->message || !error->message[0])
                        abort();
        } else if (!*ret)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(definition_freep) Definition *d = NULL, *again = NULL;
        DefinitionError error = {}, error_again = {};
        bool trusted;

        if (size < 1)
                return 0;
        log_set_max_level(LOG_CRIT);
        trusted = data[0] & 1;

        parse((const char *) data + 1, size - 1, trusted, &d, &error);
        if (d) {
                if (!definition_name_is_valid(d->name) || !d->provider || !d->description)
                        abort();
                if (d->exec_argv && !d->exec_argv[0])
                        abort();
                if (!trusted && d->n_secrets > 0)
                        abort();  /* an untrusted file never gets its [Secrets] honoured */
                if (!restart_policy_to_string(d->restart))
                        abort();
                (void) definition_allows(d, 65534, NULL, 0);
        }

        /* The same text gives the same result (a reload compares definitions with this). */
        parse((const char *) data + 1, size - 1, trusted, &again, &error_again);
        if (!!d != !!again || (d && !definition_equal(d, again)))
                abort();

        definition_error_done(&error);
        definition_error_done(&error_again);
        return 0;
}
