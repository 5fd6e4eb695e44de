/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* JSON and ValueSets by a contract's types (README.md here, "The JSON of a contract"): a JSON
 * object's members become a record's keys with exactly the declared D-Bus types, and a ValueSet
 * becomes plain JSON again. Values of `variant` and `object` fields, and whole messages of
 * services without a contract, use the project's typed JSON mapping (common/valueset-json.h). */

#include <json-glib/json-glib.h>

#include "contract.h"

#define GATEWAY_JSON_ERROR (gateway_json_error_quark())
GQuark gateway_json_error_quark(void);

/* The a{sv} of `object`'s members by `record` (a RECORD), with `extra_key` = `extra_value` (a
 * string, the Action) first when given; an error names the member ("text: expected a string,
 * got a number"). Floating. */
GVariant *gateway_json_to_record(JsonObject *object, const ContractType *record, const char *extra_key,
                                 const char *extra_value, GError **error);

/* The JSON object of a ValueSet by `record` (absent and null keys are left out; keys the record
 * does not name, like Error, are written by the typed mapping). */
JsonNode *gateway_record_to_json(GVariant *value_set, const ContractType *record);
