/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Opening an app service: OpenConnection, Service.SendMessage and each receiver of a
 * SubmitAction. An open goes to the registered provider at once, or waits for the one
 * lifecycle.c starts. */

#include "completion.h"
#include "service.h"

/* The whole open of OpenConnection and Service.SendMessage: who calls, the checks, then open now
 * or after activation. Returns < 0 with `error` set when refused at once (`done` is then not
 * taken); otherwise `done` (taken) ends now or later: opened for an OpenConnection, answered or
 * failed for a one-shot (Service.SendMessage). */
int service_handle_open(Service *s, sd_bus_message *call, const char *provider, bool one_shot, Completion *done,
                        sd_bus_error *error);
/* The same for a bridge opening for a remote caller (OpenConnection's option "remote"), which
 * the connection's caller then carries; `remote` is taken. */
int service_handle_remote_open(Service *s, sd_bus_message *call, const char *provider, RemoteCaller **remote,
                               Completion *done, sd_bus_error *error);
/* OpenConnection with the option "node" naming another node: the open goes to the bridge
 * (manager_find_bridge()) with the target in its caller, under the bridge service's checks, and
 * `done` waits for the bridge's Accept or Refuse (connection.h). Refused at once as
 * service_handle_open() is. */
int node_handle_open(Manager *m, sd_bus_message *call, const char *node, const char *name, const char *provider,
                     Completion *done, sd_bus_error *error);
/* Opens for a caller that passed the checks (SubmitAction's receivers): now if a provider is
 * registered, or after a start. `done` (taken) ends now or later; the caller's identity may be
 * taken too. */
void service_open(Service *s, sd_bus_message *call, Peer *peer, Identity *caller, bool one_shot, Completion *done);
