/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PLACEHOLDER until the faults work lands: logs to stderr only. */
#include "fault.h"
#include "log.h"
#include "service.h"
#include "util.h"

static const char *const level_names[_FAULT_LEVEL_MAX] = {
        [FAULT_DEBUG] = "debug",
        [FAULT_INFO] = "info",
        [FAULT_WARNING] = "warning",
        [FAULT_ERROR] = "error",
};

const char *fault_level_to_string(FaultLevel l) {
        return l >= 0 && l < _FAULT_LEVEL_MAX ? level_names[l] : NULL;
}

FaultLevel fault_level_from_string(const char *s) {
        for (FaultLevel l = 0; l < _FAULT_LEVEL_MAX; l++)
                if (streq(s, level_names[l]))
                        return l;
        return _FAULT_LEVEL_INVALID;
}

void fault_report(Service *s, FaultLevel level, const char *code, const char *message, const Identity *caller) {
        log_warning("app service '%s': %s %s: %s", s->definition->name, fault_level_to_string(level), code, message);
}
