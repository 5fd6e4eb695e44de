/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Where g_message() and g_warning() go: the journal when stderr is connected to it (started by
 * systemd), otherwise one plain line each on stderr, which the broker collects into its own log
 * with our name and pid (started through Exec=). The same as the GPIO service's. */
void log_setup(void);
