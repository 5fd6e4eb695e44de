/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The OpenAPI 3.0.3 document of one app service's contract, as the gateway serves it at
 * GET /v1/services/NAME/openapi.json (README.md here): a POST path per method, the request and
 * response schemas from the contract's types as the gateway maps them to JSON, the contract's
 * errors as 422 answers, the gateway's own statuses, and the bearer scheme. */

#include <json-glib/json-glib.h>

#include "contract.h"

JsonNode *gateway_openapi_new(const Contract *contract, const char *service);
