/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A definition's contract (Contract=NAME): found next to the definition file, then in the
 * contract search path, parsed (contract/contract.h) and kept with its text, which
 * Service.GetContract hands out. Shared by reference: a definition holds one, and so does each
 * request in flight that must be answered by its action's results, so that a reload that changes
 * the contract never pulls it from under a request. */

#include <stdbool.h>

#include "cleanup.h"
#include "contract.h"

#define SERVICE_CONTRACT_SUFFIX ".contract"

typedef struct ServiceContract {
        unsigned n_ref;
        Contract *contract;
        char *path;   /* the file it was read from */
        char *text;   /* its text, as read */
} ServiceContract;

ServiceContract *service_contract_ref(ServiceContract *sc);
ServiceContract *service_contract_unref(ServiceContract *sc);
DEFINE_CLEANUP(ServiceContract, service_contract_unref);

/* The directories searched after the definition's own: NULL restores the default
 * (/etc/appservice/contracts, /run/..., /usr/local/share/..., /usr/share/...). The list is
 * copied. */
int service_contract_set_search_path(char *const *dirs);
char *const *service_contract_search_path(void);

/* Finds and reads contract `name` for the definition at `definition_path`: NAME.contract in that
 * file's directory, else in the search path (first found wins). Returns 0, or a negative errno
 * and a malloc'ed sentence in *ret_error naming the file (and line and column when the contract
 * does not parse), or the directories searched when there is none. */
int service_contract_load(const char *name, const char *definition_path, ServiceContract **ret, char **ret_error);

/* Same name and same text. */
bool service_contract_equal(const ServiceContract *a, const ServiceContract *b);
