/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Where g_message() and g_warning() of a service go: the journal when stderr is connected to it
 * (started by systemd), otherwise one plain line each on stderr ("warning: ...", "error: ..."),
 * which the broker collects into its own log with the service's name and pid (started through
 * Exec=). Debug messages only with G_MESSAGES_DEBUG=all, as GLib's own writer does for messages
 * without a log domain. Used by the GPIO service and the MQTT bridge. */
void log_writer_install(void);
