/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "errors.h"
#include "fault.h"
#include "log.h"
#include "monitor.h"
#include "service.h"
#include "util.h"
#include "valueset.h"

/* MESSAGE_ID of every fault, so that `journalctl MESSAGE_ID=…` finds them all. */
#define FAULT_MESSAGE_ID "252082dcf39e4594b97d557f67cc00ce"
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

#define FAULT_BURST 200u
#define FAULT_INTERVAL_USEC (10 * USEC_PER_SEC)

#define FAULT_CODE_MAX 255u
#define FAULT_MESSAGE_MAX 4096u

static const char *const level_names[_FAULT_LEVEL_MAX] = {
        [FAULT_DEBUG] = "debug",
        [FAULT_INFO] = "info",
        [FAULT_WARNING] = "warning",
        [FAULT_ERROR] = "error",
};

static const int level_priorities[_FAULT_LEVEL_MAX] = {
        [FAULT_DEBUG] = LOG_DEBUG,
        [FAULT_INFO] = LOG_INFO,
        [FAULT_WARNING] = LOG_WARNING,
        [FAULT_ERROR] = LOG_ERR,
};

FaultLevel fault_level_from_string(const char *s) {
        for (FaultLevel l = 0; l < _FAULT_LEVEL_MAX; l++)
                if (streq(s, level_names[l]))
                        return l;
        return _FAULT_LEVEL_INVALID;
}

int fault_check(const char *level, const char *code, const char *message, FaultLevel *ret_level,
                sd_bus_error *error) {
        FaultLevel l;
        size_t n;

        l = fault_level_from_string(level);
        if (l < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "level '%s' is not one of debug, info, warning, error", level);

        n = strlen(code);
        if (n == 0 && l == FAULT_ERROR)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "code is required for level 'error'");
        if (n > FAULT_CODE_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "code is %zu bytes long, more than %u", n, FAULT_CODE_MAX);
        for (size_t i = 0; i < n; i++)
                if (code[i] <= ' ' || code[i] >= 0x7f)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "code may hold only printable ASCII without spaces "
                                                 "(byte %zu is 0x%02x)", i, (unsigned char) code[i]);

        n = strlen(message);
        if (n == 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "message is empty");
        if (n > FAULT_MESSAGE_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "message is %zu bytes long, more than %u", n, FAULT_MESSAGE_MAX);

        if (ret_level)
                *ret_level = l;
        return 0;
}

static bool journal_runs(void) {
        return access(JOURNAL_SOCKET, F_OK) == 0;
}

/* The message on one line: control characters become C escapes. */
static char *escape_line(const char *s) {
        char *out, *q;

        out = malloc(strlen(s) * 4 + 1);
        if (!out)
                return NULL;
        q = out;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '\n') {
                        *q++ = '\\';
                        *q++ = 'n';
                } else if (*p == '\t') {
                        *q++ = '\\';
                        *q++ = 't';
                } else if (*p == '\\') {
                        *q++ = '\\';
                        *q++ = '\\';
                } else if (*p < ' ' || *p == 0x7f)
                        q += sprintf(q, "\\x%02x", *p);
                else
                        *q++ = (char) *p;
        }
        *q = '\0';
        return out;
}

static void write_fault(Service *s, FaultLevel level, const char *code, const char *message, pid_t pid, uid_t uid,
                        const char *unit) {
        const char *name = s->definition->name;
        int r;

        if (journal_runs()) {
                r = sd_journal_send("MESSAGE=app service '%s': %s%s%s: %s", name, level_names[level],
                                    *code ? " " : "", code, message,
                                    "PRIORITY=%i", level_priorities[level],
                                    "SYSLOG_IDENTIFIER=appserviced",
                                    "MESSAGE_ID=" FAULT_MESSAGE_ID,
                                    "APPSERVICE_SERVICE=%s", name,
                                    "APPSERVICE_LEVEL=%s", level_names[level],
                                    "APPSERVICE_FAULT_CODE=%s", code,
                                    "APPSERVICE_CALLER_PID=" PID_FMT, pid,
                                    "APPSERVICE_CALLER_UID=" UID_FMT, uid,
                                    unit ? "APPSERVICE_CALLER_UNIT=%s" : NULL, unit,
                                    NULL);
                if (r >= 0)
                        return;
                log_debug_errno(r, "failed to write to the journal, logging to stderr instead: %m");
        }

        _cleanup_(freep) char *line = escape_line(message);
        log_full(level_priorities[level], "app service '%s': %s%s%s from pid " PID_FMT " uid " UID_FMT "%s%s%s: %s",
                 name, level_names[level], *code ? " " : "", code, pid, uid,
                 unit ? " unit '" : "", strempty(unit), unit ? "'" : "", line ? line : "(out of memory)");
}

static void report_dropped(Service *s) {
        unsigned n = s->n_faults_dropped;

        s->n_faults_dropped = 0;
        s->fault_timer = sd_event_source_disable_unref(s->fault_timer);
        if (n == 0)
                return;
        if (journal_runs() &&
            sd_journal_send("MESSAGE=app service '%s': %u log lines dropped (more than %u in %u s)",
                            s->definition->name, n, FAULT_BURST, (unsigned) (FAULT_INTERVAL_USEC / USEC_PER_SEC),
                            "PRIORITY=%i", LOG_WARNING,
                            "SYSLOG_IDENTIFIER=appserviced",
                            "APPSERVICE_SERVICE=%s", s->definition->name,
                            "APPSERVICE_DROPPED=%u", n,
                            NULL) >= 0)
                return;
        log_warning("app service '%s': %u log lines dropped (more than %u in %u s)", s->definition->name, n,
                    FAULT_BURST, (unsigned) (FAULT_INTERVAL_USEC / USEC_PER_SEC));
}

static int on_interval_end(sd_event_source *source, uint64_t usec, void *userdata) {
        Service *s = userdata;

        report_dropped(s);
        s->fault_interval_usec = 0;
        return 0;
}

bool fault_ratelimit_pass(Service *s) {
        Manager *m = s->manager;
        uint64_t now = manager_now_usec(m);
        int r;

        if (s->fault_interval_usec == 0 || now >= s->fault_interval_usec + FAULT_INTERVAL_USEC) {
                report_dropped(s);  /* an interval that ended before its timer ran */
                s->fault_interval_usec = now;
                s->n_faults = 0;
        }
        if (++s->n_faults <= FAULT_BURST)
                return true;

        if (s->n_faults_dropped++ == 0 && !s->fault_timer) {
                r = sd_event_add_time(m->event, &s->fault_timer, CLOCK_MONOTONIC,
                                      s->fault_interval_usec + FAULT_INTERVAL_USEC, 10000, on_interval_end, s);
                if (r < 0)
                        log_debug_errno(r, "app service '%s': cannot arm the log rate limit timer, ignoring: %m",
                                        s->definition->name);
        }
        return false;
}

void fault_report(Service *s, FaultLevel level, const char *code, const char *message, const Identity *caller) {
        assert(s);
        assert(code);
        assert(message);

        pid_t pid = caller ? caller->pid : 0;
        uid_t uid = caller ? caller->uid : geteuid();
        const char *unit = caller ? caller->unit : NULL;

        if (level < 0 || level >= _FAULT_LEVEL_MAX)
                level = FAULT_ERROR;
        code = strempty(code);
        message = strempty(message);

        write_fault(s, level, code, message, pid, uid, unit);
        monitor_emit(s->manager, "fault", "ssssuu", "service", s->definition->name, "level", level_names[level],
                     "code", code, "message", message, "pid", (uint32_t) pid, "uid", (uint32_t) uid);
}

void fault_service_done(Service *s) {
        assert(s);

        report_dropped(s);
}
