/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* contract_parse(): contract files (contract/README.md), which the broker reads for any
 * definition that names one and the gateway gets from the broker. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walks a type as the checkers do: every signature is a D-Bus type string, every name set. */
static void check_type(const ContractType *t, unsigned depth) {
        if (!t || depth > 2 * CONTRACT_MAX_TYPE_DEPTH + 2 || !t->text || !contract_type_describe(t))
                abort();
        if ((t->kind == CONTRACT_KIND_VARIANT) != (t->signature == NULL))
                abort();
        if (t->signature && strlen(t->signature) > 255)
                abort();
        if (t->kind == CONTRACT_KIND_ARRAY || t->kind == CONTRACT_KIND_MAP) {
                if (t->signature[0] != 'a')
                        abort();
                check_type(t->element, depth + 1);
        }
        /* A named record is checked where it is declared: its fields may lead back to it. */
        if (t->kind == CONTRACT_KIND_RECORD && (!t->name || depth == 0))
                for (size_t i = 0; i < t->n_fields; i++) {
                        if (!t->fields[i].name || !t->fields[i].type)
                                abort();
                        check_type(t->fields[i].type, depth + 1);
                }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Contract *c = NULL;
        char *error = NULL;
        int r = contract_parse((const char *) data, size, "fuzz", &c, &error);

        if (r < 0) {
                /* Every refusal names the place: "fuzz:LINE:COLUMN: ..." or the size. */
                if (!error || strncmp(error, "fuzz:", 5) != 0)
                        abort();
                free(error);
                return 0;
        }
        if (!contract_name_is_valid(c->name))
                abort();
        for (size_t i = 0; i < c->n_members; i++) {
                const ContractMember *m = &c->members[i];

                if (contract_find(c, m->kind, m->name) != m)
                        abort();
                check_type(m->input, 0);
                if ((m->kind == CONTRACT_METHOD || m->kind == CONTRACT_CALLBACK) != (m->output != NULL))
                        abort();
                if (m->output)
                        check_type(m->output, 0);
        }
        contract_free(c);
        return 0;
}
