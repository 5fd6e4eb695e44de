/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libappservice-1: App Services for Linux, on the io.appservice1 D-Bus API. The one header to
 * include. */

#define APP_SERVICE_INSIDE
#include "appservice-version.h"
#include "appservice-enums.h"
#include "appservice-valueset.h"
#include "appservice-response.h"
#include "appservice-request.h"
#include "appservice-connection.h"
#include "appservice-provider.h"
#include "appservice-info.h"
#include "appservice-node.h"
#undef APP_SERVICE_INSIDE
