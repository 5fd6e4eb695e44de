/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "service.h"

extern const sd_bus_vtable service_vtable[];

int service_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                        void **ret_found, sd_bus_error *error);
int service_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes,
                            sd_bus_error *error);
/* "/io/appservice1/service/" + the name escaped as sd_bus_path_encode() does. */
int service_object_path(const char *name, char **ret);
/* PropertiesChanged for State: broadcast, or for a private service (visibility.h) unicast to
 * those who may see it. */
void service_emit_state_changed(Service *s);
/* After a reload changed who may see the service's state: tells everyone what they see now. */
void service_emit_watchers_changed(Service *s);
/* ConnectionOpened, or with `link` (the provider's end and the limits) DirectConnectionOpened. */
int service_emit_connection_opened(Service *s, Connection *c, const LinkOffer *link);
/* ObjectManager's InterfacesAdded and InterfacesRemoved, when a reload adds or removes it. */
void service_emit_added(Service *s);
void service_emit_removed(Service *s);
/* PropertiesChanged for the named properties of the Service interface (NULL-terminated). */
void service_emit_properties_changed(Service *s, char **properties);
/* StopRequested to the provider, with the stop's reason. */
int service_send_stop_requested(Service *s);
