/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Definition files: one declared app service each (see "Definition files" in the contract). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cleanup.h"
#include "service-contract.h"

#define DEFINITION_SUFFIX ".appservice"

#define DEFINITION_DEFAULT_MAX_MESSAGE_SIZE        (UINT64_C(1024) * 1024)
#define DEFINITION_DEFAULT_MAX_PENDING_REQUESTS    64u
#define DEFINITION_DEFAULT_MAX_CONNECTIONS_PER_PEER 64u
/* MaxBytesPerUser=, MaxBytesTotal=, MaxRequestsPerUser=, MaxPeersPerUser= not set ("infinity"):
 * the service has no limit of its own, the broker's (appserviced.conf) still hold. */
#define DEFINITION_LIMIT_UNSET                     UINT64_MAX
#define DEFINITION_DEFAULT_REQUEST_TIMEOUT_USEC    (UINT64_C(30) * 1000000)
#define DEFINITION_DEFAULT_ACTIVATION_TIMEOUT_USEC (UINT64_C(25) * 1000000)
#define DEFINITION_DEFAULT_RESTART_USEC            (UINT64_C(1) * 1000000)
#define DEFINITION_DEFAULT_START_LIMIT_BURST       5u
#define DEFINITION_DEFAULT_START_LIMIT_INTERVAL_USEC (UINT64_C(10) * 1000000)
#define DEFINITION_DEFAULT_RETEST_USEC             (UINT64_C(30) * 1000000)
#define DEFINITION_DEFAULT_IDLE_TIMEOUT_USEC       (UINT64_C(30) * 1000000)
#define DEFINITION_DEFAULT_STOP_TIMEOUT_USEC       (UINT64_C(10) * 1000000)
/* AllowRemotePrincipals=: at most this many, each 1 to 255 bytes of printable ASCII, no spaces. */
#define DEFINITION_MAX_REMOTE_PRINCIPALS           64u
#define DEFINITION_MAX_PRINCIPAL_LENGTH            255u

/* Restart=: when the broker starts a provider again by itself. */
typedef enum RestartPolicy {
        RESTART_NO,
        RESTART_ON_FAILURE,  /* after a crash or a failed activation */
        RESTART_ALWAYS,      /* also after a clean exit */
} RestartPolicy;

typedef struct DefinitionProperty {
        char *key;
        char *value;
} DefinitionProperty;

typedef struct Definition {
        char *path;                /* the file it was loaded from */
        char *name;                /* Name= */
        char *provider;            /* Provider= */
        char *description;         /* Description=, "" when absent */
        char **exec_argv;          /* Exec= split like a shell does; NULL when absent */
        char *systemd_service;     /* SystemdService=, NULL when absent */
        char *syslog_identifier;   /* SyslogIdentifier=, NULL when absent: the provider's output is
                                    * filed under the app service's name */

        bool has_user;             /* User= given and not empty */
        uid_t uid;                 /* User= resolved (only when has_user) */
        gid_t gid;                 /* that user's primary group (only when has_user) */
        char *user_name;           /* that user's name, for initgroups(); NULL for an id with no passwd entry */

        uid_t *allow_uids;         /* AllowUsers= resolved */
        size_t n_allow_uids;
        gid_t *allow_gids;         /* AllowGroups= resolved */
        size_t n_allow_gids;

        uint64_t max_message_size;        /* bytes */
        unsigned max_pending_requests;
        unsigned max_connections_per_peer;
        /* What the broker may hold for this service (quota.h), DEFINITION_LIMIT_UNSET when not
         * set: bytes of held messages per uid and for all users, requests in flight per uid, bus
         * peers of one uid with connections to it. */
        uint64_t max_bytes_per_user;
        uint64_t max_bytes_total;
        uint64_t max_requests_per_user;
        uint64_t max_peers_per_user;
        uint64_t request_timeout_usec;
        uint64_t activation_timeout_usec;

        bool bridge;                      /* Bridge=: its provider speaks for other nodes and the cloud */
        bool allow_remote;                /* AllowRemote=: callers elsewhere may reach it through a bridge */
        char **allow_remote_principals;   /* AllowRemotePrincipals=; NULL: every remote principal */
        bool allow_direct;                /* AllowDirect=: connections may get a direct link (io.appservice1.Link) */
        bool allow_http;                  /* AllowHTTP=: the HTTP gateway (appservice-http) may serve it */
        char *contract_name;              /* Contract=, NULL when absent */
        ServiceContract *contract;        /* that contract, loaded by definition_load() (never by _parse()) */

        bool auto_start;                  /* AutoStart= */
        RestartPolicy restart;            /* Restart= */
        uint64_t restart_usec;            /* RestartSec=, may be 0 */
        unsigned start_limit_burst;       /* StartLimitBurst= */
        uint64_t start_limit_interval_usec; /* StartLimitIntervalSec=; 0: no limit */
        uint64_t retest_usec;             /* RetestSec= */
        uint64_t idle_timeout_usec;       /* IdleTimeoutSec=; 0: never ("0" or "infinity") */
        uint64_t stop_timeout_usec;       /* StopTimeoutSec= */

        DefinitionProperty *properties;   /* [Properties], file order, keys unique (last wins) */
        size_t n_properties;
        DefinitionProperty *secrets;      /* [Secrets]; empty unless the file is trusted */
        size_t n_secrets;
        bool secrets_ignored;             /* [Secrets] present but the file is not trusted */
} Definition;

typedef struct DefinitionError {
        char *path;
        unsigned line;    /* 0 when not tied to a line */
        char *key;        /* NULL when no key is involved */
        char *message;
} DefinitionError;

/* The error as one line: "PATH:LINE: KEY: MESSAGE" (the log, appservicectl verify) or, without
 * the path, "line LINE: KEY: MESSAGE" (status, a client's error); NULL when out of memory. */
char *definition_error_format(const DefinitionError *e, bool with_path);
/* The same, with the path, as an error in the log, followed by `suffix` (", skipping" or ""). */
void definition_error_log(const DefinitionError *e, const char *suffix);

/* The PATH a system broker's providers get: a program named by Exec= without a slash is looked
 * up there (a session broker passes on its own PATH). */
#define DEFINITION_PROVIDER_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Parses one file's text. `path` is used for messages and stored in the result; `trusted` says
 * whether [Secrets] may be honoured. Returns 0 or a negative errno with *ret_error filled. */
int definition_parse(const char *path, const char *text, size_t size, bool trusted,
                     Definition **ret, DefinitionError *ret_error);

/* Opens and reads `path`, decides trust from the open file (owned by root, no group or other
 * permission bits), then parses. Warns through the log when secrets are ignored. */
int definition_load(const char *path, Definition **ret, DefinitionError *ret_error);

/* A file that exists but did not load, as the log named it: a reload keeps what it declared
 * before, and status and a client's error can say why its service is missing. */
typedef struct DefinitionLoadError {
        char *path;
        char *message;    /* what is wrong, without the path: "line 3: RequestTimeoutSec: ..." */
        bool duplicate;   /* it parses, but an earlier file declares the same Name= */
} DefinitionLoadError;

typedef struct DefinitionLoadErrors {
        DefinitionLoadError *errors;
        size_t n;
} DefinitionLoadErrors;

/* Loads every "*.appservice" in `dirs` (NULL-terminated, earlier directories win for the same
 * file name). A broken file is logged once ("path:line: key: message") and skipped. Two files
 * declaring the same Name=: the first wins, the other is logged and skipped.
 * Returns the number loaded (>= 0) and the array in *ret (free with definitions_free). */
int definitions_load_dirs(char *const *dirs, Definition ***ret, size_t *ret_n);
/* The same, and also the files that did not load, in file order (free with
 * definition_load_errors_done). */
int definitions_load_dirs_full(char *const *dirs, Definition ***ret, size_t *ret_n, DefinitionLoadErrors *ret_errors);
void definition_load_errors_done(DefinitionLoadErrors *e);
bool definition_load_errors_equal(const DefinitionLoadErrors *a, const DefinitionLoadErrors *b);
/* Whether `path` is among the files that exist but do not parse (not a duplicate). */
bool definition_load_errors_has_broken(const DefinitionLoadErrors *e, const char *path);
/* The error of the file that would declare `name` ("<name>.appservice", the file name Name= must
 * match), NULL when there is none. */
const DefinitionLoadError *definition_load_errors_find(const DefinitionLoadErrors *e, const char *name);
void definitions_free(Definition **defs, size_t n);

Definition *definition_free(Definition *d);
DEFINE_CLEANUP(Definition, definition_free);
void definition_error_done(DefinitionError *e);

/* Whether two definitions say the same in every field (a reload's "changed"). A field added to
 * Definition must be added here too. */
bool definition_equal(const Definition *a, const Definition *b);
/* Whether a file name is one of a definition file: "*.appservice", not hidden. */
bool definition_is_file_name(const char *name);

/* The default search path (the contract's four directories), NULL-terminated, static. */
char *const *definition_default_dirs(void);

/* The identifier the provider's output is filed under: SyslogIdentifier=, or Name=. */
const char *definition_syslog_identifier(const Definition *d);

/* Rules of the contract, shared with the D-Bus layer. */
bool definition_name_is_valid(const char *name);
const char *restart_policy_to_string(RestartPolicy p);
bool definition_allows(const Definition *d, uid_t uid, const gid_t *gids, size_t n_gids);
/* A provider id as Provider= takes it: 1 to 255 letters, digits, '.', '-', '_', not starting with '.'. */
bool definition_provider_is_valid(const char *provider);
/* A remote principal as AllowRemotePrincipals= takes it: 1 to 255 bytes of printable ASCII, no spaces. */
bool definition_principal_is_valid(const char *principal);
/* Whether AllowRemotePrincipals= lets `principal` in (an empty list lets every one in). Says
 * nothing of AllowRemote=, which the caller checks first. */
bool definition_allows_principal(const Definition *d, const char *principal);

/* Splits a command line the way a POSIX shell splits words: blanks separate, '…' and "…" quote,
 * backslash escapes (inside "…" only before $ ` " \ and newline); no expansion of any kind.
 * Returns -EINVAL for unbalanced quotes or a trailing backslash, and an empty list is -ENOEXEC. */
int shell_split(const char *line, char ***ret_argv);
