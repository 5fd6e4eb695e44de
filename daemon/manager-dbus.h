/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* Registers every object of the contract on m->bus. */
int manager_publish_objects(Manager *m);
void manager_emit_state_changed(Manager *m);
void manager_emit_load_errors_changed(Manager *m);
/* StateUpdate with the node's state, unicast to every registered provider. */
void manager_send_state_update(Manager *m);
