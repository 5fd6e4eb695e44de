/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "definition.h"
#include "hashmap.h"
#include "keyfile.h"
#include "log.h"
#include "parse.h"

#define GROUP_APP_SERVICE "App Service"
#define GROUP_PROPERTIES  "Properties"
#define GROUP_SECRETS     "Secrets"

#define DEFINITION_FILE_MAX          (UINT64_C(1024) * 1024)
#define MAX_MESSAGE_SIZE_LIMIT       (UINT64_C(128) * 1024 * 1024)
#define MAX_COUNT_LIMIT              UINT64_C(65536)
#define MAX_BYTES_LIMIT              (UINT64_C(1) << 50)
#define MAX_USER_COUNT_LIMIT         ((uint64_t) UINT32_MAX - 1)
#define USEC_PER_SEC                 UINT64_C(1000000)
#define TIMEOUT_LIMIT_USEC           (UINT64_C(24) * 60 * 60 * USEC_PER_SEC)

DEFINE_CLEANUP(KeyFile, keyfile_free);
DEFINE_CLEANUP(Hashmap, hashmap_free);

static char *const default_dirs[] = {
        "/etc/appservice/services",
        "/run/appservice/services",
        "/usr/local/share/appservice/services",
        "/usr/share/appservice/services",
        NULL,
};

char *const *definition_default_dirs(void) {
        return default_dirs;
}

static void properties_free(DefinitionProperty *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(p[i].key);
                free(p[i].value);
        }
        free(p);
}

Definition *definition_free(Definition *d) {
        if (!d)
                return NULL;
        free(d->path);
        free(d->name);
        free(d->provider);
        free(d->description);
        strv_free(d->exec_argv);
        free(d->systemd_service);
        free(d->syslog_identifier);
        free(d->user_name);
        free(d->allow_uids);
        free(d->allow_gids);
        strv_free(d->allow_remote_principals);
        free(d->contract_name);
        service_contract_unref(d->contract);
        properties_free(d->properties, d->n_properties);
        properties_free(d->secrets, d->n_secrets);
        free(d);
        return NULL;
}

void definitions_free(Definition **defs, size_t n) {
        for (size_t i = 0; i < n; i++)
                definition_free(defs[i]);
        free(defs);
}

void definition_error_done(DefinitionError *e) {
        if (!e)
                return;
        free(e->path);
        free(e->key);
        free(e->message);
        *e = (DefinitionError) {};
}

/* Fills *e when the caller asked for it and returns `error` (negative), or -ENOMEM when the error
 * itself cannot be built. %m in the format stands for `error`. */
static int error_set(DefinitionError *e, int error, const char *path, unsigned line, const char *key,
                     const char *format, ...) __attribute__((format(printf, 6, 7)));
static int error_set(DefinitionError *e, int error, const char *path, unsigned line, const char *key,
                     const char *format, ...) {
        _cleanup_(freep) char *p = NULL, *k = NULL, *m = NULL;
        va_list ap;
        int r;

        if (!e)
                return error;

        va_start(ap, format);
        errno = -error;
        r = vasprintf(&m, format, ap);
        va_end(ap);
        if (r < 0) {
                m = NULL;
                return -ENOMEM;
        }
        p = strdup(strempty(path));
        k = key ? strdup(key) : NULL;
        if (!p || (key && !k))
                return -ENOMEM;

        *e = (DefinitionError) {
                .path = TAKE_PTR(p),
                .line = line,
                .key = TAKE_PTR(k),
                .message = TAKE_PTR(m),
        };
        return error;
}

/* Key parsers hand back a sentence in *ret_message and -EBADMSG when the value is wrong. */
static int bad_value(char **ret_message, const char *format, ...) __attribute__((format(printf, 2, 3)));
static int bad_value(char **ret_message, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(ret_message, format, ap);
        va_end(ap);
        if (r < 0) {
                *ret_message = NULL;
                return -ENOMEM;
        }
        return -EBADMSG;
}

static bool has_control_chars(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

/* Values go into log lines quoted; keep escaped newlines and such out of them. */
static const char *loggable(const char *s) {
        return has_control_chars(s) ? "(value with control characters)" : s;
}

static bool id_char_is_valid(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-' || c == '_';
}

static bool id_is_valid(const char *s, size_t min_len) {
        size_t n = strlen(s);

        if (n < min_len || n > 255 || s[0] == '.')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!id_char_is_valid(s[i]))
                        return false;
        return true;
}

bool definition_name_is_valid(const char *name) {
        return name && id_is_valid(name, 2);
}

bool definition_provider_is_valid(const char *provider) {
        return provider && id_is_valid(provider, 1);
}

bool definition_principal_is_valid(const char *principal) {
        size_t n;

        if (!principal)
                return false;
        n = strlen(principal);
        if (n == 0 || n > DEFINITION_MAX_PRINCIPAL_LENGTH)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) principal[i] <= 0x20 || (unsigned char) principal[i] >= 0x7f)
                        return false;
        return true;
}

bool definition_allows_principal(const Definition *d, const char *principal) {
        if (!d->allow_remote_principals)
                return true;
        for (char **p = d->allow_remote_principals; *p; p++)
                if (strcmp(*p, principal) == 0)
                        return true;
        return false;
}

/* A numeric uid or gid; (uid_t) -1 and the 16-bit -1 are never real ids. */
static int parse_id(const char *s, uint32_t *ret) {
        uint64_t v;
        int r;

        r = parse_decimal(s, UINT32_MAX, &v);
        if (r < 0)
                return r;
        if (v == UINT32_MAX || v == UINT16_MAX)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

static int set_string(char **field, const char *value) {
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

static int parse_name(Definition *d, const char *value, char **ret_message) {
        if (!definition_name_is_valid(value))
                return bad_value(ret_message,
                                 "'%s' is not a valid app service name (2 to 255 letters, digits, '.', '-' "
                                 "or '_', not starting with '.')", loggable(value));
        return set_string(&d->name, value);
}

static int parse_provider(Definition *d, const char *value, char **ret_message) {
        if (!id_is_valid(value, 1))
                return bad_value(ret_message,
                                 "'%s' is not a valid provider id (1 to 255 letters, digits, '.', '-' or "
                                 "'_', not starting with '.')", loggable(value));
        return set_string(&d->provider, value);
}

static int parse_description(Definition *d, const char *value, char **ret_message) {
        return set_string(&d->description, value);
}

static int parse_exec(Definition *d, const char *value, char **ret_message) {
        char **argv = NULL;
        int r;

        r = shell_split(value, &argv);
        if (r == -ENOEXEC) {
                /* An empty Exec= means "not activatable this way", as an absent one does. */
                strv_free(d->exec_argv);
                d->exec_argv = NULL;
                return 0;
        }
        if (r == -EINVAL)
                return bad_value(ret_message, "unbalanced quotes or a trailing backslash in the command line");
        if (r < 0)
                return r;
        if (!argv[0][0]) {
                strv_free(argv);
                return bad_value(ret_message, "the program name is empty");
        }

        strv_free(d->exec_argv);
        d->exec_argv = argv;
        return 0;
}

/* An optional name: an empty value clears *field (returns 0); otherwise every character must pass
 * `valid` (returns 1: the caller checks the rest and sets it), or the value is bad ("not WHAT"). */
static int optional_name(char **field, const char *value, bool (*valid)(char c), const char *what,
                         char **ret_message) {
        if (value[0] == '\0') {
                free(*field);
                *field = NULL;
                return 0;
        }
        for (const char *c = value; *c; c++)
                if (!valid(*c))
                        return bad_value(ret_message, "'%s' is not %s", loggable(value), what);
        return 1;
}

static int parse_systemd_service(Definition *d, const char *value, char **ret_message) {
        size_t n = strlen(value);
        int r = optional_name(&d->systemd_service, value, unit_name_char_is_valid, "a valid unit name", ret_message);

        if (r <= 0)
                return r;
        /* A template without an instance ("foo@.service") cannot be started. */
        if (n > 255 || n <= strlen(".service") || strcmp(value + n - strlen(".service"), ".service") != 0 ||
            value[0] == '@' || value[n - strlen(".service") - 1] == '@')
                return bad_value(ret_message, "'%s' is not a valid service unit name (expected NAME.service)",
                                 loggable(value));
        return set_string(&d->systemd_service, value);
}

#define SYSLOG_IDENTIFIER_MAX 64

/* What journalctl -t takes and a log line's "NAME[PID]:" shows plainly: no blanks, no brackets. */
static bool syslog_identifier_char_is_valid(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                (c != '\0' && strchr("._-+@:", c));
}

static int parse_syslog_identifier(Definition *d, const char *value, char **ret_message) {
        int r = optional_name(&d->syslog_identifier, value, syslog_identifier_char_is_valid,
                              "a valid identifier (letters, digits and . _ - + @ :)", ret_message);

        if (r <= 0)
                return r;
        if (strlen(value) > SYSLOG_IDENTIFIER_MAX)
                return bad_value(ret_message, "longer than %d characters", SYSLOG_IDENTIFIER_MAX);
        return set_string(&d->syslog_identifier, value);
}

const char *definition_syslog_identifier(const Definition *d) {
        return d->syslog_identifier ? d->syslog_identifier : d->name;
}

/* getpw*() and getgr*() return NULL with errno 0 (or one of these) for "no such entry". */
static bool errno_is_not_found(int e) {
        return e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM;
}

static int parse_user(Definition *d, const char *value, char **ret_message) {
        struct passwd *pw;
        uint32_t id;
        char *name = NULL;

        d->has_user = false;
        free(d->user_name);
        d->user_name = NULL;
        if (!*value)
                return 0;

        errno = 0;
        if (parse_id(value, &id) >= 0) {
                pw = getpwuid((uid_t) id);
                if (!pw && !errno_is_not_found(errno))
                        return bad_value(ret_message, "cannot look up uid %s: %m", value);
                /* A uid without a passwd entry is allowed: the process runs with its own gid. */
                d->uid = id;
                d->gid = pw ? pw->pw_gid : (gid_t) id;
        } else {
                pw = getpwnam(value);
                if (!pw) {
                        if (!errno_is_not_found(errno))
                                return bad_value(ret_message, "cannot look up user '%s': %m", loggable(value));
                        return bad_value(ret_message, "unknown user '%s'", loggable(value));
                }
                d->uid = pw->pw_uid;
                d->gid = pw->pw_gid;
        }

        if (pw) {
                name = strdup(pw->pw_name);
                if (!name)
                        return -ENOMEM;
        }
        d->user_name = name;
        d->has_user = true;
        return 0;
}

static bool is_list_separator(char c) {
        return c == ' ' || c == '\t';
}

/* Resolves one AllowUsers=/AllowGroups= word. Unknown names are errors: a typo must not open the
 * service to everybody, nor silently shut out the people it was meant for. */
static int resolve_user(const char *word, uint32_t *ret, char **ret_message) {
        struct passwd *pw;

        if (parse_id(word, ret) >= 0)
                return 0;
        errno = 0;
        pw = getpwnam(word);
        if (!pw) {
                if (!errno_is_not_found(errno))
                        return bad_value(ret_message, "cannot look up user '%s': %m", loggable(word));
                return bad_value(ret_message, "unknown user '%s'", loggable(word));
        }
        *ret = pw->pw_uid;
        return 0;
}

static int resolve_group(const char *word, uint32_t *ret, char **ret_message) {
        struct group *gr;

        if (parse_id(word, ret) >= 0)
                return 0;
        errno = 0;
        gr = getgrnam(word);
        if (!gr) {
                if (!errno_is_not_found(errno))
                        return bad_value(ret_message, "cannot look up group '%s': %m", loggable(word));
                return bad_value(ret_message, "unknown group '%s'", loggable(word));
        }
        *ret = gr->gr_gid;
        return 0;
}

static int parse_id_list(const char *value, int (*resolve)(const char *, uint32_t *, char **),
                         uint32_t **ids, size_t *n_ids, char **ret_message) {
        _cleanup_(freep) uint32_t *list = NULL;
        _cleanup_(freep) char *word = NULL;
        size_t n = 0;
        int r;

        /* Never more ids than characters. */
        list = calloc(strlen(value) + 1, sizeof(uint32_t));
        word = malloc(strlen(value) + 1);
        if (!list || !word)
                return -ENOMEM;

        for (const char *p = value; *p; ) {
                size_t len;

                while (is_list_separator(*p))
                        p++;
                if (!*p)
                        break;
                len = strcspn(p, " \t");
                memcpy(word, p, len);
                word[len] = '\0';
                p += len;

                r = resolve(word, &list[n], ret_message);
                if (r < 0)
                        return r;
                n++;
        }

        free(*ids);
        *ids = n > 0 ? TAKE_PTR(list) : NULL;
        *n_ids = n;
        return 0;
}

static int parse_allow_users(Definition *d, const char *value, char **ret_message) {
        static_assert(sizeof(uid_t) == sizeof(uint32_t), "uid_t is 32 bits");
        return parse_id_list(value, resolve_user, (uint32_t **) &d->allow_uids, &d->n_allow_uids, ret_message);
}

static int parse_allow_groups(Definition *d, const char *value, char **ret_message) {
        static_assert(sizeof(gid_t) == sizeof(uint32_t), "gid_t is 32 bits");
        return parse_id_list(value, resolve_group, (uint32_t **) &d->allow_gids, &d->n_allow_gids, ret_message);
}

static int parse_count(const char *value, uint64_t max, uint64_t *ret, char **ret_message) {
        int r;

        r = parse_decimal(value, max, ret);
        if (r == -ERANGE)
                return bad_value(ret_message, "'%s' is too large (at most %" PRIu64 ")", loggable(value), max);
        if (r < 0)
                return bad_value(ret_message, "'%s' is not a decimal number", loggable(value));
        if (*ret == 0)
                return bad_value(ret_message, "must be greater than 0");
        return 0;
}

/* Bytes, or with K, M or G as systemd's sizes: "65536", "64K", "2M". */
static int parse_max_message_size(Definition *d, const char *value, char **ret_message) {
        uint64_t v;
        int r;

        r = parse_size(value, MAX_MESSAGE_SIZE_LIMIT, &v);
        if (r == -ERANGE)
                return bad_value(ret_message, "'%s' is too large (at most %" PRIu64 ", 128M)", loggable(value),
                                 MAX_MESSAGE_SIZE_LIMIT);
        if (r < 0)
                return bad_value(ret_message, "'%s' is not a size (a decimal number of bytes, or with K, M or G)",
                                 loggable(value));
        if (v == 0)
                return bad_value(ret_message, "must be greater than 0");
        d->max_message_size = v;
        return 0;
}

static int parse_max_pending_requests(Definition *d, const char *value, char **ret_message) {
        uint64_t v;
        int r;

        r = parse_count(value, MAX_COUNT_LIMIT, &v, ret_message);
        if (r < 0)
                return r;
        d->max_pending_requests = (unsigned) v;
        return 0;
}

static int parse_max_connections_per_peer(Definition *d, const char *value, char **ret_message) {
        uint64_t v;
        int r;

        r = parse_count(value, MAX_COUNT_LIMIT, &v, ret_message);
        if (r < 0)
                return r;
        d->max_connections_per_peer = (unsigned) v;
        return 0;
}

/* The limits on what the broker holds for this service. "infinity" (the default) leaves only the
 * broker's own limit of the same name (appserviced.conf). */
static int parse_limit(const char *value, bool size, uint64_t max, uint64_t *ret, char **ret_message) {
        int r;

        if (strcmp(value, "infinity") == 0) {
                *ret = DEFINITION_LIMIT_UNSET;
                return 0;
        }
        r = size ? parse_size(value, max, ret) : parse_decimal(value, max, ret);
        if (r == -ERANGE)
                return bad_value(ret_message, "'%s' is too large (at most %" PRIu64 ")", loggable(value), max);
        if (r < 0)
                return bad_value(ret_message, size ? "'%s' is not a size (a decimal number of bytes, or with K, M or G)"
                                                   : "'%s' is not a decimal number", loggable(value));
        if (*ret == 0)
                return bad_value(ret_message, "must be greater than 0 (\"infinity\" for no limit of its own)");
        return 0;
}

static int parse_max_bytes_per_user(Definition *d, const char *value, char **ret_message) {
        return parse_limit(value, /* size= */ true, MAX_BYTES_LIMIT, &d->max_bytes_per_user, ret_message);
}

static int parse_max_bytes_total(Definition *d, const char *value, char **ret_message) {
        return parse_limit(value, /* size= */ true, MAX_BYTES_LIMIT, &d->max_bytes_total, ret_message);
}

static int parse_max_requests_per_user(Definition *d, const char *value, char **ret_message) {
        return parse_limit(value, /* size= */ false, MAX_USER_COUNT_LIMIT, &d->max_requests_per_user, ret_message);
}

static int parse_max_peers_per_user(Definition *d, const char *value, char **ret_message) {
        return parse_limit(value, /* size= */ false, MAX_USER_COUNT_LIMIT, &d->max_peers_per_user, ret_message);
}

/* A time span as systemd writes it: "10", "1.5", "10s", "500ms", "5min", "1h 30min" (parse.h).
 * 0 only where `allow_zero` says so; at most a day. */
static int parse_seconds_full(const char *value, bool allow_zero, uint64_t *ret_usec, char **ret_message) {
        uint64_t usec;
        int r;

        r = parse_timespan(value, TIMEOUT_LIMIT_USEC, &usec);
        if (r == -ERANGE)
                return bad_value(ret_message, "'%s' is too long (at most one day: 86400, 24h or 1d)", loggable(value));
        if (r < 0)
                return bad_value(ret_message, "'%s' is not a time span (seconds, or with a unit: 500ms, 10s, 5min, 1h 30min)",
                                 loggable(value));
        if (usec == 0 && !allow_zero)
                return bad_value(ret_message, "must be greater than 0");
        *ret_usec = usec;
        return 0;
}

static int parse_seconds(const char *value, uint64_t *ret_usec, char **ret_message) {
        return parse_seconds_full(value, /* allow_zero= */ false, ret_usec, ret_message);
}

static int parse_request_timeout(Definition *d, const char *value, char **ret_message) {
        return parse_seconds(value, &d->request_timeout_usec, ret_message);
}

static int parse_activation_timeout(Definition *d, const char *value, char **ret_message) {
        return parse_seconds(value, &d->activation_timeout_usec, ret_message);
}

static int parse_boolean(const char *value, bool *ret, char **ret_message) {
        if (parse_boolean_word(value, ret) < 0)
                return bad_value(ret_message, "'%s' is not a boolean (yes or no)", loggable(value));
        return 0;
}

static int parse_auto_start(Definition *d, const char *value, char **ret_message) {
        return parse_boolean(value, &d->auto_start, ret_message);
}

static int parse_bridge(Definition *d, const char *value, char **ret_message) {
        return parse_boolean(value, &d->bridge, ret_message);
}

static int parse_allow_direct(Definition *d, const char *value, char **ret_message) {
        return parse_boolean(value, &d->allow_direct, ret_message);
}

static int parse_allow_http(Definition *d, const char *value, char **ret_message) {
        return parse_boolean(value, &d->allow_http, ret_message);
}

/* A name, never a path: the broker decides where contracts are read from. */
static int parse_contract(Definition *d, const char *value, char **ret_message) {
        if (!*value) {
                free(d->contract_name);
                d->contract_name = NULL;
                return 0;
        }
        if (!contract_name_is_valid(value))
                return bad_value(ret_message, "'%s' is not a contract name (lower-case letters, digits and '-', "
                                 "in two or more parts separated by '.')", strlen(value) > 64 ? "(a long word)" : loggable(value));
        return set_string(&d->contract_name, value);
}

static int parse_allow_remote(Definition *d, const char *value, char **ret_message) {
        return parse_boolean(value, &d->allow_remote, ret_message);
}

/* Principals are names the bridges give remote callers ("cloud", "node:B"): compared byte for
 * byte, never resolved, so that a typo shuts out rather than opens up. */
static int parse_allow_remote_principals(Definition *d, const char *value, char **ret_message) {
        _cleanup_(strv_freep) char **list = NULL;
        size_t n = 0;

        list = calloc(DEFINITION_MAX_REMOTE_PRINCIPALS + 1, sizeof(char *));
        if (!list)
                return -ENOMEM;
        for (const char *p = value; *p; ) {
                _cleanup_(freep) char *word = NULL;
                size_t len;

                while (is_list_separator(*p))
                        p++;
                if (!*p)
                        break;
                len = strcspn(p, " \t");
                if (n == DEFINITION_MAX_REMOTE_PRINCIPALS)
                        return bad_value(ret_message, "more than %u principals", DEFINITION_MAX_REMOTE_PRINCIPALS);
                word = strndup(p, len);
                if (!word)
                        return -ENOMEM;
                if (!definition_principal_is_valid(word))
                        return bad_value(ret_message, "'%s' is not a valid principal (1 to %u bytes of printable "
                                         "ASCII without spaces)", len > 64 ? "(a long word)" : loggable(word),
                                         DEFINITION_MAX_PRINCIPAL_LENGTH);
                list[n++] = TAKE_PTR(word);
                p += len;
        }

        strv_free(d->allow_remote_principals);
        d->allow_remote_principals = n > 0 ? TAKE_PTR(list) : NULL;
        return 0;
}

static const char *const restart_names[] = {
        [RESTART_NO] = "no",
        [RESTART_ON_FAILURE] = "on-failure",
        [RESTART_ALWAYS] = "always",
};

const char *restart_policy_to_string(RestartPolicy p) {
        return restart_names[p];
}

static int parse_restart(Definition *d, const char *value, char **ret_message) {
        for (size_t i = 0; i < ELEMENTSOF(restart_names); i++)
                if (strcmp(value, restart_names[i]) == 0) {
                        d->restart = (RestartPolicy) i;
                        return 0;
                }
        return bad_value(ret_message, "'%s' is not a restart policy (no, on-failure or always)", loggable(value));
}

static int parse_restart_sec(Definition *d, const char *value, char **ret_message) {
        return parse_seconds_full(value, /* allow_zero= */ true, &d->restart_usec, ret_message);
}

static int parse_start_limit_burst(Definition *d, const char *value, char **ret_message) {
        uint64_t v;
        int r;

        r = parse_count(value, MAX_COUNT_LIMIT, &v, ret_message);
        if (r < 0)
                return r;
        d->start_limit_burst = (unsigned) v;
        return 0;
}

static int parse_start_limit_interval(Definition *d, const char *value, char **ret_message) {
        return parse_seconds_full(value, /* allow_zero= */ true, &d->start_limit_interval_usec, ret_message);
}

static int parse_retest_sec(Definition *d, const char *value, char **ret_message) {
        return parse_seconds(value, &d->retest_usec, ret_message);
}

static int parse_idle_timeout(Definition *d, const char *value, char **ret_message) {
        if (strcmp(value, "infinity") == 0) {
                d->idle_timeout_usec = 0;
                return 0;
        }
        return parse_seconds_full(value, /* allow_zero= */ true, &d->idle_timeout_usec, ret_message);
}

static int parse_stop_timeout(Definition *d, const char *value, char **ret_message) {
        return parse_seconds(value, &d->stop_timeout_usec, ret_message);
}

typedef struct KeyParser {
        const char *key;
        int (*parse)(Definition *d, const char *value, char **ret_message);
        bool raw;  /* hand over the value as written, trailing blanks included */
} KeyParser;

static const KeyParser app_service_keys[] = {
        { "Name", parse_name, /* raw= */ false },
        { "Provider", parse_provider, /* raw= */ false },
        { "Description", parse_description, /* raw= */ true },
        { "Exec", parse_exec, /* raw= */ true },
        { "SystemdService", parse_systemd_service, /* raw= */ false },
        { "SyslogIdentifier", parse_syslog_identifier, /* raw= */ false },
        { "User", parse_user, /* raw= */ false },
        { "AllowUsers", parse_allow_users, /* raw= */ false },
        { "AllowGroups", parse_allow_groups, /* raw= */ false },
        { "MaxMessageSize", parse_max_message_size, /* raw= */ false },
        { "MaxPendingRequests", parse_max_pending_requests, /* raw= */ false },
        { "MaxConnectionsPerPeer", parse_max_connections_per_peer, /* raw= */ false },
        { "MaxBytesPerUser", parse_max_bytes_per_user, /* raw= */ false },
        { "MaxBytesTotal", parse_max_bytes_total, /* raw= */ false },
        { "MaxRequestsPerUser", parse_max_requests_per_user, /* raw= */ false },
        { "MaxPeersPerUser", parse_max_peers_per_user, /* raw= */ false },
        { "RequestTimeoutSec", parse_request_timeout, /* raw= */ false },
        { "ActivationTimeoutSec", parse_activation_timeout, /* raw= */ false },
        { "AutoStart", parse_auto_start, /* raw= */ false },
        { "Restart", parse_restart, /* raw= */ false },
        { "RestartSec", parse_restart_sec, /* raw= */ false },
        { "StartLimitBurst", parse_start_limit_burst, /* raw= */ false },
        { "StartLimitIntervalSec", parse_start_limit_interval, /* raw= */ false },
        { "RetestSec", parse_retest_sec, /* raw= */ false },
        { "IdleTimeoutSec", parse_idle_timeout, /* raw= */ false },
        { "StopTimeoutSec", parse_stop_timeout, /* raw= */ false },
        { "Bridge", parse_bridge, /* raw= */ false },
        { "AllowRemote", parse_allow_remote, /* raw= */ false },
        { "AllowRemotePrincipals", parse_allow_remote_principals, /* raw= */ false },
        { "AllowDirect", parse_allow_direct, /* raw= */ false },
        { "AllowHTTP", parse_allow_http, /* raw= */ false },
        { "Contract", parse_contract, /* raw= */ false },
};

static int key_index(const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(app_service_keys); i++)
                if (strcmp(app_service_keys[i].key, key) == 0)
                        return (int) i;
        return -1;
}

static int run_parser(const char *path, const KeyParser *p, const KeyFileEntry *e, Definition *d,
                      DefinitionError *ret_error) {
        _cleanup_(freep) char *value = NULL, *message = NULL;
        size_t n = strlen(e->value);
        int r;

        /* Typed values forgive trailing blanks (GLib's number parsers do too); an invisible space
         * after a user name should not lock everybody out. */
        if (!p->raw)
                while (n > 0 && strchr(" \t\n\r\v\f", e->value[n - 1]))
                        n--;
        value = strndup(e->value, n);
        if (!value)
                return -ENOMEM;

        r = p->parse(d, value, &message);
        if (r < 0 && message)
                return error_set(ret_error, r, path, e->line, e->key, "%s", message);
        if (r < 0)
                return error_set(ret_error, r, path, e->line, e->key, "cannot parse value: %m");
        return 0;
}

/* Appends a [Properties] or [Secrets] entry (scan_entries() refused repeated keys). */
static int property_add(DefinitionProperty **props, size_t *n, const KeyFileEntry *e) {
        _cleanup_(freep) char *key = NULL, *value = NULL;
        DefinitionProperty *p;

        key = strdup(e->key);
        value = strdup(e->value);
        if (!key || !value)
                return -ENOMEM;
        p = reallocarray(*props, *n + 1, sizeof(DefinitionProperty));
        if (!p)
                return -ENOMEM;
        *props = p;
        p[*n] = (DefinitionProperty) { .key = TAKE_PTR(key), .value = TAKE_PTR(value) };
        (*n)++;
        return 0;
}

/* At most this many "unknown section/key" lines per file and load, then one line that counts the
 * rest: a file with 60,000 unknown keys must not write 60,000 lines on every reload. */
#define UNKNOWN_LINES_MAX 5

typedef struct ParseContext {
        const char *path;
        const KeyFile *kf;
        bool trusted;
        int warn_level;           /* LOG_WARNING; LOG_DEBUG when the file said it all before */
        Definition *d;
        const KeyFileEntry *entries[ELEMENTSOF(app_service_keys)];  /* each known key's line */
        bool has_app_service;
        bool has_secrets;
        size_t n_unknown;         /* unknown sections and keys seen */
        size_t n_localized;       /* localized keys seen */
} ParseContext;

static void note_unknown(ParseContext *c, const KeyFileEntry *e, bool section) {
        if (++c->n_unknown > UNKNOWN_LINES_MAX)
                return;
        if (section)
                log_full(c->warn_level, "%s:%u: unknown section '%s', ignoring", c->path, e->line, e->group);
        else
                log_full(c->warn_level, "%s:%u: unknown key '%s' in section '%s', ignoring",
                         c->path, e->line, e->key, e->group);
}

static void note_localized(ParseContext *c, const KeyFileEntry *e) {
        if (++c->n_localized <= UNKNOWN_LINES_MAX)
                log_debug("%s:%u: localized key '%s' is not used, ignoring", c->path, e->line, e->key);
}

static void note_unknown_summary(const ParseContext *c) {
        if (c->n_unknown > UNKNOWN_LINES_MAX)
                log_full(c->warn_level, "%s: ... and %zu more unknown sections and keys, ignoring them",
                         c->path, c->n_unknown - UNKNOWN_LINES_MAX);
        if (c->n_localized > UNKNOWN_LINES_MAX)
                log_debug("%s: ... and %zu more localized keys, ignoring them",
                          c->path, c->n_localized - UNKNOWN_LINES_MAX);
}

/* A key set twice in one section is an error, not GLib's "the later one wins": the file's author
 * meant one of the two, and a definition that silently takes the other is a trap. */
static int check_repeated(ParseContext *c, Hashmap *seen, const KeyFileEntry *e, DefinitionError *ret_error) {
        const KeyFileEntry *first = hashmap_get(seen, e->key);

        if (first)
                return error_set(ret_error, -EBADMSG, c->path, e->line, e->key,
                                 "'%s' is set again in [%s] (first on line %u): set each key once",
                                 loggable(e->key), e->group, first->line);
        return hashmap_put(seen, e->key, (void *) e);
}

/* First pass: find the entry of each known key, refuse a key set twice, and say once what will be
 * ignored. */
static int scan_entries(ParseContext *c, DefinitionError *ret_error) {
        _cleanup_(hashmap_freep) Hashmap *unknown_groups = NULL, *seen_properties = NULL, *seen_secrets = NULL;
        int r;

        unknown_groups = hashmap_new(HASHMAP_KEY_STRING);
        seen_properties = hashmap_new(HASHMAP_KEY_STRING);
        seen_secrets = hashmap_new(HASHMAP_KEY_STRING);
        if (!unknown_groups || !seen_properties || !seen_secrets)
                return -ENOMEM;

        for (size_t i = 0; i < c->kf->n_entries; i++) {
                const KeyFileEntry *e = &c->kf->entries[i];
                bool app_service = strcmp(e->group, GROUP_APP_SERVICE) == 0;
                int k;

                if (app_service)
                        c->has_app_service = true;

                if (!app_service && strcmp(e->group, GROUP_PROPERTIES) != 0 &&
                    strcmp(e->group, GROUP_SECRETS) != 0) {
                        if (hashmap_get(unknown_groups, e->group))
                                continue;
                        r = hashmap_put(unknown_groups, e->group, (void *) e);
                        if (r < 0)
                                return r;
                        note_unknown(c, e, /* section= */ true);
                        continue;
                }

                if (strchr(e->key, '[')) {
                        note_localized(c, e);
                        continue;
                }

                if (!app_service) {
                        bool secrets = strcmp(e->group, GROUP_SECRETS) == 0;

                        c->has_secrets = c->has_secrets || secrets;
                        r = check_repeated(c, secrets ? seen_secrets : seen_properties, e, ret_error);
                        if (r < 0)
                                return r;
                        continue;
                }

                k = key_index(e->key);
                if (k < 0) {
                        note_unknown(c, e, /* section= */ false);
                        continue;
                }
                if (c->entries[k])
                        return error_set(ret_error, -EBADMSG, c->path, e->line, e->key,
                                         "'%s' is set again in [%s] (first on line %u): set each key once",
                                         e->key, e->group, c->entries[k]->line);
                c->entries[k] = e;
        }
        note_unknown_summary(c);
        return 0;
}

/* Second pass: parse the winning values in file order, so that the first bad line is reported. */
static int apply_entries(ParseContext *c, DefinitionError *ret_error) {
        int r;

        for (size_t i = 0; i < c->kf->n_entries; i++) {
                const KeyFileEntry *e = &c->kf->entries[i];
                int k;

                if (strchr(e->key, '['))
                        continue;

                if (strcmp(e->group, GROUP_PROPERTIES) == 0)
                        r = property_add(&c->d->properties, &c->d->n_properties, e);
                else if (strcmp(e->group, GROUP_SECRETS) == 0)
                        r = c->trusted ? property_add(&c->d->secrets, &c->d->n_secrets, e) : 0;
                else if (strcmp(e->group, GROUP_APP_SERVICE) == 0 && (k = key_index(e->key)) >= 0 &&
                         c->entries[k] == e)
                        r = run_parser(c->path, &app_service_keys[k], e, c->d, ret_error);
                else
                        r = 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

static void warn_name_mismatch(const char *path, const char *name, int level) {
        const char *base = strrchr(path, '/');
        size_t n, suffix = strlen(DEFINITION_SUFFIX);

        base = base ? base + 1 : path;
        n = strlen(base);
        if (n <= suffix || strcmp(base + n - suffix, DEFINITION_SUFFIX) != 0)
                return;
        if (strlen(name) != n - suffix || strncmp(base, name, n - suffix) != 0)
                log_full(level, "%s: Name=%s does not match the file name, ignoring", path, name);
}

static Definition *definition_new(const char *path) {
        _cleanup_(definition_freep) Definition *d = NULL;

        d = calloc(1, sizeof(Definition));
        if (!d)
                return NULL;
        *d = (Definition) {
                .path = strdup(strempty(path)),
                .description = strdup(""),
                .max_message_size = DEFINITION_DEFAULT_MAX_MESSAGE_SIZE,
                .max_pending_requests = DEFINITION_DEFAULT_MAX_PENDING_REQUESTS,
                .max_connections_per_peer = DEFINITION_DEFAULT_MAX_CONNECTIONS_PER_PEER,
                .max_bytes_per_user = DEFINITION_LIMIT_UNSET,
                .max_bytes_total = DEFINITION_LIMIT_UNSET,
                .max_requests_per_user = DEFINITION_LIMIT_UNSET,
                .max_peers_per_user = DEFINITION_LIMIT_UNSET,
                .request_timeout_usec = DEFINITION_DEFAULT_REQUEST_TIMEOUT_USEC,
                .activation_timeout_usec = DEFINITION_DEFAULT_ACTIVATION_TIMEOUT_USEC,
                .restart = RESTART_NO,
                .restart_usec = DEFINITION_DEFAULT_RESTART_USEC,
                .start_limit_burst = DEFINITION_DEFAULT_START_LIMIT_BURST,
                .start_limit_interval_usec = DEFINITION_DEFAULT_START_LIMIT_INTERVAL_USEC,
                .retest_usec = DEFINITION_DEFAULT_RETEST_USEC,
                .idle_timeout_usec = DEFINITION_DEFAULT_IDLE_TIMEOUT_USEC,
                .stop_timeout_usec = DEFINITION_DEFAULT_STOP_TIMEOUT_USEC,
                .allow_direct = true,
        };
        if (!d->path || !d->description)
                return NULL;
        return TAKE_PTR(d);
}

static int definition_parse_full(const char *path, const char *text, size_t size, bool trusted, int warn_level,
                                 Definition **ret, DefinitionError *ret_error) {
        _cleanup_(keyfile_freep) KeyFile *kf = NULL;
        _cleanup_(keyfile_error_done) KeyFileError kerror = {};
        _cleanup_(definition_freep) Definition *d = NULL;
        ParseContext c;
        int r;

        if (!ret)
                return -EINVAL;
        path = strempty(path);

        r = keyfile_parse(text, size, &kf, &kerror);
        if (r == -EBADMSG)
                return error_set(ret_error, r, path, kerror.line, kerror.key, "%s", kerror.message);
        if (r < 0)
                return r;

        d = definition_new(path);
        if (!d)
                return -ENOMEM;

        c = (ParseContext) { .path = path, .kf = kf, .trusted = trusted, .warn_level = warn_level, .d = d };
        r = scan_entries(&c, ret_error);
        if (r < 0)
                return r;
        if (!c.has_app_service)
                return error_set(ret_error, -EBADMSG, path, 0, NULL, "the [" GROUP_APP_SERVICE "] section is missing or empty");

        r = apply_entries(&c, ret_error);
        if (r < 0)
                return r;

        if (!d->name)
                return error_set(ret_error, -EBADMSG, path, 0, "Name", "required key is missing");
        if (!d->provider)
                return error_set(ret_error, -EBADMSG, path, 0, "Provider", "required key is missing");

        warn_name_mismatch(path, d->name, warn_level);
        d->secrets_ignored = c.has_secrets && !trusted;

        *ret = TAKE_PTR(d);
        return 0;
}

int definition_parse(const char *path, const char *text, size_t size, bool trusted,
                     Definition **ret, DefinitionError *ret_error) {
        return definition_parse_full(path, text, size, trusted, LOG_WARNING, ret, ret_error);
}

/* Reads a whole file, refusing more than `max` bytes whatever st_size claims. */
static int read_full(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_(freep) char *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                ssize_t k;

                if (size == allocated) {
                        size_t n = allocated ? allocated * 2 : 4096;
                        char *b;

                        if (n > max + 1)
                                n = max + 1;
                        if (n <= allocated)
                                return -EFBIG;
                        b = realloc(buf, n);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        allocated = n;
                }

                k = read(fd, buf + size, allocated - size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                size += (size_t) k;
        }
        if (size > max)
                return -EFBIG;

        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

/* What decided a file's warnings, as of its last load: its bytes, its owner and its mode. */
typedef struct LoadRecord {
        char *path;
        uint64_t fingerprint;
} LoadRecord;

/* The files of the last definitions_load_dirs*() pass. The directory watch reloads every file on
 * any change in the directory: a file that did not change must not repeat its warnings each time
 * (they go to debug then). Replaced by each pass, so it holds the files that exist, no more. */
static Hashmap *last_loads;

static void load_records_free(Hashmap *h) {
        LoadRecord *rec;

        if (!h)
                return;
        while ((rec = hashmap_first(h))) {
                hashmap_remove(h, rec->path);
                free(rec->path);
                free(rec);
        }
        hashmap_free(h);
}

static uint64_t fingerprint(const char *text, size_t size, const struct stat *st) {
        /* FNV-1a: only "the same as last time?" is asked of it, by root's own files. */
        uint64_t h = UINT64_C(14695981039346656037);
        uint64_t extra[2] = { st->st_uid, st->st_mode };

        for (size_t i = 0; i < size; i++)
                h = (h ^ (uint8_t) text[i]) * UINT64_C(1099511628211);
        for (size_t i = 0; i < sizeof(extra); i++)
                h = (h ^ ((const uint8_t *) extra)[i]) * UINT64_C(1099511628211);
        return h;
}

/* Notes the file in `now`; returns whether `before` saw it exactly so. */
static int load_record(Hashmap *before, Hashmap *now, const char *path, uint64_t fp) {
        _cleanup_(freep) LoadRecord *rec = NULL;
        const LoadRecord *old = before ? hashmap_get(before, path) : NULL;
        int r;

        if (!now || hashmap_get(now, path))
                return old && old->fingerprint == fp;
        rec = calloc(1, sizeof(LoadRecord));
        if (!rec)
                return -ENOMEM;
        rec->fingerprint = fp;
        rec->path = strdup(path);
        if (!rec->path)
                return -ENOMEM;
        r = hashmap_put(now, rec->path, rec);
        if (r < 0) {
                free(rec->path);
                return r;
        }
        TAKE_PTR(rec);
        return old && old->fingerprint == fp;
}

/* Exec= and SystemdService= run code with the broker's privileges (root) unless User= says
 * otherwise, so they are honoured only from a file that only root (or the broker's own user, who
 * has those privileges already) can change; from another file, Exec= runs only as the file's
 * owner (User= naming it, never root), and only if no one else may write the file. */
static void apply_exec_trust(Definition *d, const char *path, const struct stat *st, int level) {
        bool owner_only = (st->st_mode & 022) == 0;
        bool root_only = owner_only && (st->st_uid == 0 || st->st_uid == geteuid());
        bool exec_as_owner = owner_only && st->st_uid != 0 && d->has_user && d->uid == st->st_uid;

        if (root_only || (!d->exec_argv && !d->systemd_service))
                return;

        if (exec_as_owner && !d->systemd_service)
                return;
        if (exec_as_owner) {
                log_full(level, "%s is not owned by root or is writable by group/others "
                         "(owner uid %u, mode %04o), ignoring SystemdService=%s",
                         path, (unsigned) st->st_uid, (unsigned) (st->st_mode & 07777),
                         d->exec_argv ? "; Exec= runs as its owner (User=)" : "");
        } else {
                log_full(level, "%s is not owned by root or is writable by group/others "
                         "(owner uid %u, mode %04o), ignoring Exec= and SystemdService= (Exec= runs from such a "
                         "file only when User= names its owner, not root, and only its owner may write it); "
                         "the provider is not started by the broker",
                         path, (unsigned) st->st_uid, (unsigned) (st->st_mode & 07777));
                strv_free(d->exec_argv);
                d->exec_argv = NULL;
        }
        free(d->systemd_service);
        d->systemd_service = NULL;
}

/* Loads one file; with `before`/`now` (a directory pass), notes it in `now` and keeps the warnings
 * of a file that `before` saw unchanged at debug. */
static int load_file(const char *path, Hashmap *before, Hashmap *now, Definition **ret,
                     DefinitionError *ret_error) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) char *text = NULL;
        _cleanup_(definition_freep) Definition *d = NULL;
        struct stat st;
        size_t size = 0;
        bool trusted;
        int r, level;

        if (!path || !ret)
                return -EINVAL;

        /* Symlinks are followed, as systemd does for unit files. O_NONBLOCK keeps a FIFO planted
         * in a services directory from hanging the daemon before fstat() can refuse it. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return error_set(ret_error, -errno, path, 0, NULL, "cannot open file: %m");
        if (fstat(fd, &st) < 0)
                return error_set(ret_error, -errno, path, 0, NULL, "cannot stat file: %m");
        if (S_ISDIR(st.st_mode))
                return error_set(ret_error, -EISDIR, path, 0, NULL, "is a directory, not a file");
        if (!S_ISREG(st.st_mode))
                return error_set(ret_error, -EBADFD, path, 0, NULL, "is not a regular file");
        if ((uint64_t) st.st_size > DEFINITION_FILE_MAX)
                return error_set(ret_error, -EFBIG, path, 0, NULL, "file is larger than 1 MiB");

        r = read_full(fd, DEFINITION_FILE_MAX, &text, &size);
        if (r == -EFBIG)
                return error_set(ret_error, r, path, 0, NULL, "file is larger than 1 MiB");
        if (r < 0)
                return error_set(ret_error, r, path, 0, NULL, "cannot read file: %m");

        r = load_record(before, now, path, fingerprint(text, size, &st));
        if (r < 0)
                return r;
        level = r > 0 ? LOG_DEBUG : LOG_WARNING;

        trusted = st.st_uid == 0 && (st.st_mode & 077) == 0;
        r = definition_parse_full(path, text, size, trusted, level, &d, ret_error);
        if (r < 0)
                return r;

        if (d->secrets_ignored)
                log_full(level, "%s is not owned by root or is accessible by group/others "
                         "(owner uid %u, mode %04o), ignoring [Secrets]",
                         path, (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777));
        apply_exec_trust(d, path, &st, level);

        if (d->contract_name) {
                _cleanup_(freep) char *message = NULL;

                r = service_contract_load(d->contract_name, path, &d->contract, &message);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return error_set(ret_error, -EBADMSG, path, 0, "Contract", "%s",
                                         message ? message : "the contract cannot be loaded");
        }

        *ret = TAKE_PTR(d);
        return 0;
}

int definition_load(const char *path, Definition **ret, DefinitionError *ret_error) {
        return load_file(path, /* before= */ NULL, /* now= */ NULL, ret, ret_error);
}

bool definition_allows(const Definition *d, uid_t uid, const gid_t *gids, size_t n_gids) {
        if (!d)
                return false;
        if (uid == 0)
                return true;
        if (d->n_allow_uids == 0 && d->n_allow_gids == 0)
                return true;

        for (size_t i = 0; i < d->n_allow_uids; i++)
                if (d->allow_uids[i] == uid)
                        return true;
        for (size_t i = 0; i < n_gids; i++)
                for (size_t j = 0; j < d->n_allow_gids; j++)
                        if (gids[i] == d->allow_gids[j])
                                return true;
        return false;
}

static bool strv_equal(char *const *a, char *const *b) {
        if (!a || !b)
                return a == b;
        for (; *a && *b; a++, b++)
                if (strcmp(*a, *b) != 0)
                        return false;
        return !*a && !*b;
}

static bool string_equal(const char *a, const char *b) {
        return a && b ? strcmp(a, b) == 0 : a == b;
}

static bool properties_equal(const DefinitionProperty *a, size_t n_a, const DefinitionProperty *b, size_t n_b) {
        if (n_a != n_b)
                return false;
        for (size_t i = 0; i < n_a; i++)
                if (strcmp(a[i].key, b[i].key) != 0 || strcmp(a[i].value, b[i].value) != 0)
                        return false;
        return true;
}

bool definition_equal(const Definition *a, const Definition *b) {
        return string_equal(a->path, b->path) &&
                string_equal(a->name, b->name) &&
                string_equal(a->provider, b->provider) &&
                string_equal(a->description, b->description) &&
                strv_equal(a->exec_argv, b->exec_argv) &&
                string_equal(a->systemd_service, b->systemd_service) &&
                string_equal(a->syslog_identifier, b->syslog_identifier) &&
                a->has_user == b->has_user &&
                (!a->has_user || (a->uid == b->uid && a->gid == b->gid)) &&
                string_equal(a->user_name, b->user_name) &&
                a->n_allow_uids == b->n_allow_uids &&
                (a->n_allow_uids == 0 || memcmp(a->allow_uids, b->allow_uids, a->n_allow_uids * sizeof(uid_t)) == 0) &&
                a->n_allow_gids == b->n_allow_gids &&
                (a->n_allow_gids == 0 || memcmp(a->allow_gids, b->allow_gids, a->n_allow_gids * sizeof(gid_t)) == 0) &&
                a->max_message_size == b->max_message_size &&
                a->max_pending_requests == b->max_pending_requests &&
                a->max_connections_per_peer == b->max_connections_per_peer &&
                a->max_bytes_per_user == b->max_bytes_per_user &&
                a->max_bytes_total == b->max_bytes_total &&
                a->max_requests_per_user == b->max_requests_per_user &&
                a->max_peers_per_user == b->max_peers_per_user &&
                a->request_timeout_usec == b->request_timeout_usec &&
                a->activation_timeout_usec == b->activation_timeout_usec &&
                a->bridge == b->bridge &&
                a->allow_remote == b->allow_remote &&
                strv_equal(a->allow_remote_principals, b->allow_remote_principals) &&
                a->allow_direct == b->allow_direct &&
                a->allow_http == b->allow_http &&
                string_equal(a->contract_name, b->contract_name) &&
                service_contract_equal(a->contract, b->contract) &&
                a->auto_start == b->auto_start &&
                a->restart == b->restart &&
                a->restart_usec == b->restart_usec &&
                a->start_limit_burst == b->start_limit_burst &&
                a->start_limit_interval_usec == b->start_limit_interval_usec &&
                a->retest_usec == b->retest_usec &&
                a->idle_timeout_usec == b->idle_timeout_usec &&
                a->stop_timeout_usec == b->stop_timeout_usec &&
                properties_equal(a->properties, a->n_properties, b->properties, b->n_properties) &&
                properties_equal(a->secrets, a->n_secrets, b->secrets, b->n_secrets) &&
                a->secrets_ignored == b->secrets_ignored;
}

typedef struct DirFile {
        char *name;
        char *path;
} DirFile;

static void dir_files_free(DirFile *files, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(files[i].name);
                free(files[i].path);
        }
        free(files);
}

static int dir_file_compare(const void *a, const void *b) {
        return strcmp(((const DirFile *) a)->name, ((const DirFile *) b)->name);
}

bool definition_is_file_name(const char *name) {
        size_t n = strlen(name), suffix = strlen(DEFINITION_SUFFIX);

        /* Hidden files are editor backups and the like, as systemd treats them. */
        return name[0] != '.' && n > suffix && strcmp(name + n - suffix, DEFINITION_SUFFIX) == 0;
}

/* Adds the definition files of one directory whose names were not seen in an earlier one. */
static int collect_dir(const char *dir, Hashmap *seen, DirFile **files, size_t *n_files) {
        DIR *dp;
        struct dirent *de;
        int r = 0;

        dp = opendir(dir);
        if (!dp) {
                if (errno != ENOENT)
                        log_warning("cannot open directory '%s': %m, ignoring", dir);
                return 0;
        }

        while ((errno = 0, de = readdir(dp))) {
                _cleanup_(freep) char *name = NULL, *path = NULL;
                DirFile *f;

                if (!definition_is_file_name(de->d_name) || hashmap_get(seen, de->d_name))
                        continue;

                name = strdup(de->d_name);
                if (!name || asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
                        path = NULL;
                        r = -ENOMEM;
                        break;
                }
                f = reallocarray(*files, *n_files + 1, sizeof(DirFile));
                if (!f) {
                        r = -ENOMEM;
                        break;
                }
                *files = f;
                r = hashmap_put(seen, name, name);
                if (r < 0)
                        break;
                f[(*n_files)++] = (DirFile) { .name = TAKE_PTR(name), .path = TAKE_PTR(path) };
        }
        if (r == 0 && errno != 0)
                log_warning("cannot read directory '%s': %m, ignoring the rest of it", dir);

        closedir(dp);
        return r;
}

char *definition_error_format(const DefinitionError *e, bool with_path) {
        _cleanup_(freep) char *where = NULL;
        char *text = NULL;
        int r;

        if (with_path)
                r = e->line > 0 ? asprintf(&where, "%s:%u: ", e->path, e->line) : asprintf(&where, "%s: ", e->path);
        else
                r = e->line > 0 ? asprintf(&where, "line %u: ", e->line) : asprintf(&where, "%s", "");
        if (r < 0)
                return NULL;
        r = asprintf(&text, "%s%s%s%s", where, strempty(e->key), e->key ? ": " : "", e->message);
        return r < 0 ? NULL : text;
}

static int load_errors_add(DefinitionLoadErrors *l, const char *path, char *message, bool duplicate) {
        DefinitionLoadError *a;
        char *p;

        if (!message)
                return -ENOMEM;
        a = reallocarray(l->errors, l->n + 1, sizeof(DefinitionLoadError));
        p = a ? strdup(path) : NULL;
        if (!p) {
                if (a)
                        l->errors = a;
                free(message);
                return -ENOMEM;
        }
        l->errors = a;
        l->errors[l->n++] = (DefinitionLoadError) { .path = p, .message = message, .duplicate = duplicate };
        return 0;
}

void definition_load_errors_done(DefinitionLoadErrors *e) {
        if (!e)
                return;
        for (size_t i = 0; i < e->n; i++) {
                free(e->errors[i].path);
                free(e->errors[i].message);
        }
        free(e->errors);
        *e = (DefinitionLoadErrors) {};
}

bool definition_load_errors_equal(const DefinitionLoadErrors *a, const DefinitionLoadErrors *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (strcmp(a->errors[i].path, b->errors[i].path) != 0 ||
                    strcmp(a->errors[i].message, b->errors[i].message) != 0 ||
                    a->errors[i].duplicate != b->errors[i].duplicate)
                        return false;
        return true;
}

bool definition_load_errors_has_broken(const DefinitionLoadErrors *e, const char *path) {
        for (size_t i = 0; e && i < e->n; i++)
                if (!e->errors[i].duplicate && strcmp(e->errors[i].path, path) == 0)
                        return true;
        return false;
}

const DefinitionLoadError *definition_load_errors_find(const DefinitionLoadErrors *e, const char *name) {
        size_t len = strlen(name);

        for (size_t i = 0; e && i < e->n; i++) {
                const char *slash = strrchr(e->errors[i].path, '/');
                const char *file = slash ? slash + 1 : e->errors[i].path;

                if (strncmp(file, name, len) == 0 && strcmp(file + len, DEFINITION_SUFFIX) == 0)
                        return &e->errors[i];
        }
        return NULL;
}

void definition_error_log(const DefinitionError *e, const char *suffix) {
        _cleanup_(freep) char *text = definition_error_format(e, /* with_path= */ true);

        if (text)
                log_error("%s%s", text, suffix);
        else
                (void) log_error_errno(-ENOMEM, "%s: %m%s", e->path, suffix);
}

static bool file_is_world_readable(const char *path) {
        struct stat st;

        return stat(path, &st) == 0 && (st.st_mode & S_IROTH);
}

/* One file that does not load: logged, and noted when the caller keeps a list. */
static int note_broken_file(const char *path, int error_code, const DefinitionError *e, DefinitionLoadErrors *l) {
        char *text = NULL;

        if (e->message)
                definition_error_log(e, ", skipping");
        else
                log_error_errno(error_code, "%s: cannot load: %m, skipping", path);
        /* A file that vanished since the directory was read is not broken. */
        if (!l || error_code == -ENOENT)
                return 0;
        /* What is wrong is shown to every local user (status, a client's error): only when
         * every local user may read the file anyway. */
        if (!file_is_world_readable(path))
                text = strdup("the file is not readable by everyone: 'appservicectl verify' shows what is wrong");
        else if (e->message)
                text = definition_error_format(e, /* with_path= */ false);
        else if (asprintf(&text, "cannot load: %s", strerror(-error_code)) < 0)
                text = NULL;
        return load_errors_add(l, path, text, /* duplicate= */ false);
}

static int load_files(const DirFile *files, size_t n_files, Hashmap *loads, Definition ***defs, size_t *n_defs,
                      DefinitionLoadErrors *errors) {
        _cleanup_(hashmap_freep) Hashmap *names = NULL;
        int r;

        names = hashmap_new(HASHMAP_KEY_STRING);
        if (!names)
                return -ENOMEM;

        for (size_t i = 0; i < n_files; i++) {
                _cleanup_(definition_error_done) DefinitionError error = {};
                _cleanup_(definition_freep) Definition *d = NULL;
                const Definition *other;
                Definition **l;

                r = load_file(files[i].path, last_loads, loads, &d, &error);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        r = note_broken_file(files[i].path, r, &error, errors);
                        if (r < 0)
                                return r;
                        continue;
                }

                other = hashmap_get(names, d->name);
                if (other) {
                        char *text = NULL;

                        log_error("%s: app service '%s' is already declared by %s, skipping",
                                  d->path, d->name, other->path);
                        if (errors) {
                                r = load_errors_add(errors, d->path,
                                                    asprintf(&text, "app service '%s' is already declared by %s",
                                                             d->name, other->path) < 0 ? NULL : text,
                                                    /* duplicate= */ true);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }

                l = reallocarray(*defs, *n_defs + 1, sizeof(Definition *));
                if (!l)
                        return -ENOMEM;
                *defs = l;
                r = hashmap_put(names, d->name, d);
                if (r < 0)
                        return r;
                l[(*n_defs)++] = TAKE_PTR(d);
        }
        return 0;
}

int definitions_load_dirs(char *const *dirs, Definition ***ret, size_t *ret_n) {
        return definitions_load_dirs_full(dirs, ret, ret_n, /* ret_errors= */ NULL);
}

/* Opens for other nodes go to one bridge: the Bridge=yes definition whose name sorts first. Any
 * other is still a bridge for remote callers (it may open with "remote"), but never gets those
 * opens: say so, naming them. */
static void warn_bridges(Definition **defs, size_t n) {
        const Definition *first = NULL;

        for (size_t i = 0; i < n; i++)
                if (defs[i]->bridge && (!first || strcmp(defs[i]->name, first->name) < 0))
                        first = defs[i];
        for (size_t i = 0; first && i < n; i++)
                if (defs[i]->bridge && defs[i] != first)
                        log_warning("%s: app service '%s' also says Bridge=yes; opens for other nodes go to "
                                    "'%s' only (its name sorts first)", defs[i]->path, defs[i]->name, first->name);
}

int definitions_load_dirs_full(char *const *dirs, Definition ***ret, size_t *ret_n, DefinitionLoadErrors *ret_errors) {
        _cleanup_(hashmap_freep) Hashmap *seen = NULL;
        _cleanup_(definition_load_errors_done) DefinitionLoadErrors errors = {};
        Hashmap *loads = NULL;
        DirFile *files = NULL;
        Definition **defs = NULL;
        size_t n_files = 0, n_defs = 0;
        int r = 0;

        if (!ret || !ret_n)
                return -EINVAL;

        seen = hashmap_new(HASHMAP_KEY_STRING);
        loads = hashmap_new(HASHMAP_KEY_STRING);
        if (!seen || !loads) {
                hashmap_free(loads);
                return -ENOMEM;
        }

        for (char *const *dir = dirs; dir && *dir && r >= 0; dir++)
                r = collect_dir(*dir, seen, &files, &n_files);

        /* Like systemd's conf dirs: one global order by file name, whatever directory won. */
        if (r >= 0) {
                if (n_files > 1)
                        qsort(files, n_files, sizeof(DirFile), dir_file_compare);
                r = load_files(files, n_files, loads, &defs, &n_defs, ret_errors ? &errors : NULL);
        }
        if (r >= 0) {
                load_records_free(last_loads);
                last_loads = TAKE_PTR(loads);
        }
        load_records_free(loads);
        dir_files_free(files, n_files);
        if (r < 0) {
                definitions_free(defs, n_defs);
                return r;
        }

        warn_bridges(defs, n_defs);
        *ret = defs;
        *ret_n = n_defs;
        if (ret_errors) {
                *ret_errors = errors;
                errors = (DefinitionLoadErrors) {};
        }
        return n_defs > INT_MAX ? INT_MAX : (int) n_defs;
}
