/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* identity_parse_cgroup(): a caller's cgroup path, from which the "unit" and "app-id" that
 * providers see come. A user names its own scopes (systemd-run --user --scope --unit=...), so
 * the path is outside input. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(freep) char *path = NULL, *unit = NULL, *app_id = NULL;
        int r;

        path = strndup((const char *) data, size);
        if (!path)
                return 0;

        r = identity_parse_cgroup(path, &unit, &app_id);
        if (r < 0)
                abort();
        if (app_id && !unit)
                abort();
        if (unit && !strstr(path, unit))
                abort();
        if (app_id) {
                /* It goes to providers as a D-Bus string: printable ASCII only. */
                if (!app_id[0])
                        abort();
                for (const char *c = app_id; *c; c++)
                        if (*c <= 0x20 || *c >= 0x7f)
                                abort();
        }
        return 0;
}
