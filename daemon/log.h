/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Logging to stderr: with sd-daemon(3) priority prefixes ("<3>") when stderr is the journal (as
 * under systemd) or a pipe or file (a supervisor's log, a test's capture), so that each line keeps
 * its level; as words for a person when stderr is a terminal (see log_set_plain). */

#include <errno.h>
#include <stdbool.h>
#include <syslog.h>

void log_set_max_level(int level);
/* For a person at a terminal (appserviced --verify): "warning: TEXT" and "error: TEXT" instead of
 * the sd-daemon prefixes; notice and info as the bare text. */
void log_set_plain(bool plain);
/* Decides from stderr: plain when it is a terminal. Call once at start-up. */
void log_setup(void);
/* Whether stderr is the journal: $JOURNAL_STREAM names its device and inode (systemd.exec(5)). */
bool log_stderr_is_journal(void);
int log_get_max_level(void);
/* Accepts "emerg" … "debug" or 0 … 7; returns the level or -EINVAL. */
int log_level_from_string(const char *s);

/* Logs at the given level and returns -abs(error) (or 0 when error is 0), so that callers can
 * log once at the boundary and return in the same statement. */
int log_full_errno(int level, int error, const char *format, ...) __attribute__((format(printf, 3, 4)));

#define log_full(level, ...) ((void) log_full_errno((level), 0, __VA_ARGS__))
#define log_debug(...)   log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)  log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, (e), __VA_ARGS__)
