/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A ValueSet on its way through the broker, checked against the service's contract
 * (contract/README.md, "On the wire"): a request's `Action` names a method (from the client) or
 * a callback (from the provider), and its other keys are that action's parameters; a response
 * holds the action's results, or `Error` and that error's fields. Every key must be declared,
 * every declared key that is not optional present, and every value of its declared D-Bus type,
 * down through records, arrays and maps.
 *
 * Both functions read the a{sv} from its start (valueset_seek()), after valueset_check() passed:
 * keys are valid and unique and the nesting bounded. On a violation they return -EBADMSG and a
 * malloc'ed sentence in *ret_reason: "action 'Hello': key 'point.x': expected int32 (i), got
 * string (s)". Other negative errnos are failures to read the message. */

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "contract.h"

/* A request; *ret_action is the method or callback it names. */
int contract_check_request(const Contract *c, bool from_provider, sd_bus_message *m,
                           const ContractMember **ret_action, char **ret_reason);

/* A response to `action`. */
int contract_check_response(const Contract *c, const ContractMember *action, sd_bus_message *m, char **ret_reason);
