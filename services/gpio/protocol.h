/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The protocol of io.appservice.gpio (README.md, "Protocol"): one request ValueSet in, one
 * response ValueSet out, with `Status` `ok` or `error`. */

#include <glib.h>

#include "chips.h"
#include "client.h"

/* The response to @message from @client: a new, non-floating reference. */
GVariant *protocol_handle(Chips *chips, Client *client, GVariant *message);
