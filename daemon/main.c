/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "settings.h"
#include "log.h"
#include "manager.h"
#include "quota.h"
#include "util.h"
#include "verify.h"

static void help(void) {
        printf("appserviced [OPTIONS...]\n\n"
               "The App Services broker: publishes app services on D-Bus as io.appservice1.\n\n"
               "  -h --help                  Show this help\n"
               "     --version               Show the version\n"
               "     --system                Serve on the system bus (default)\n"
               "     --user                  Serve on the session bus\n"
               "     --services-dir=DIR      Load definitions from DIR instead of the search path\n"
               "                             (may be given more than once)\n"
               "     --contracts-dir=DIR     Look for contracts (Contract=) in DIR instead of the\n"
               "                             contract search path, after the definition's own\n"
               "                             directory (may be given more than once)\n"
               "     --config=FILE           Read the broker's settings from FILE instead of\n"
               "                             " SETTINGS_FILE "\n"
               "     --exit-on-idle=SECONDS  Exit when idle for that long\n"
               "     --log-level=LEVEL       emerg, alert, crit, err, warning, notice, info, debug\n"
               "     --verify FILE...        Check definition files as the broker would load them,\n"
               "                             print each problem and exit: 0 if every file loads\n");
}

static int parse_seconds(const char *s, uint64_t *ret) {
        char *end;
        double d;

        errno = 0;
        d = strtod(s, &end);
        if (errno != 0 || end == s || *end || !isfinite(d) || d <= 0 || d > 365.0 * 24 * 3600)
                return -EINVAL;
        *ret = (uint64_t) (d * USEC_PER_SEC);
        return 0;
}

static int add_dir(char ***dirs, size_t *n, const char *dir) {
        char **l = realloc(*dirs, (*n + 2) * sizeof(char *));

        if (!l)
                return -ENOMEM;
        *dirs = l;
        l[*n] = strdup(dir);
        if (!l[*n])
                return -ENOMEM;
        l[++*n] = NULL;
        return 0;
}

/* Returns > 0 to run, 0 to exit successfully (--help), < 0 on error. */
static int parse_argv(int argc, char *argv[], Manager *m, bool *ret_verify) {
        enum {
                ARG_VERSION = 0x100,
                ARG_SYSTEM,
                ARG_USER,
                ARG_SERVICES_DIR,
                ARG_CONTRACTS_DIR,
                ARG_EXIT_ON_IDLE,
                ARG_LOG_LEVEL,
                ARG_CONFIG,
                ARG_VERIFY,
        };
        static const struct option options[] = {
                { "help",         no_argument,       NULL, 'h'              },
                { "version",      no_argument,       NULL, ARG_VERSION      },
                { "system",       no_argument,       NULL, ARG_SYSTEM       },
                { "user",         no_argument,       NULL, ARG_USER         },
                { "services-dir", required_argument, NULL, ARG_SERVICES_DIR },
                { "contracts-dir", required_argument, NULL, ARG_CONTRACTS_DIR },
                { "exit-on-idle", required_argument, NULL, ARG_EXIT_ON_IDLE },
                { "log-level",    required_argument, NULL, ARG_LOG_LEVEL    },
                { "config",       required_argument, NULL, ARG_CONFIG       },
                { "verify",       no_argument,       NULL, ARG_VERIFY       },
                {}
        };
        size_t n_dirs = 0, n_contracts_dirs = 0;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("appserviced %s\n", APPSERVICE_VERSION);
                        return 0;
                case ARG_SYSTEM:
                        m->user_bus = false;
                        break;
                case ARG_USER:
                        m->user_bus = true;
                        break;
                case ARG_SERVICES_DIR:
                        r = add_dir(&m->services_dirs, &n_dirs, optarg);
                        if (r < 0)
                                return log_error_errno(r, "%m");
                        break;
                case ARG_CONTRACTS_DIR:
                        r = add_dir(&m->contracts_dirs, &n_contracts_dirs, optarg);
                        if (r < 0)
                                return log_error_errno(r, "%m");
                        break;
                case ARG_EXIT_ON_IDLE:
                        if (parse_seconds(optarg, &m->exit_on_idle_usec) < 0)
                                return log_error_errno(EINVAL, "invalid --exit-on-idle value '%s': expected seconds > 0",
                                                       optarg);
                        break;
                case ARG_LOG_LEVEL:
                        r = log_level_from_string(optarg);
                        if (r < 0)
                                return log_error_errno(EINVAL, "invalid --log-level '%s'", optarg);
                        log_set_max_level(r);
                        break;
                case ARG_CONFIG:
                        free(m->config_path);
                        m->config_path = strdup(optarg);
                        if (!m->config_path)
                                return log_error_errno(ENOMEM, "%m");
                        break;
                case ARG_VERIFY:
                        *ret_verify = true;
                        log_set_plain(true);
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(EINVAL, "unhandled option");
                }

        if (*ret_verify && optind == argc)
                return log_error_errno(EINVAL, "--verify needs at least one FILE");
        if (!*ret_verify && optind < argc)
                return log_error_errno(EINVAL, "unexpected argument '%s'", argv[optind]);
        return 1;
}

static int run(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        bool verify = false;
        sigset_t mask;
        int r;

        log_setup();
        r = manager_new(&m);
        if (r < 0)
                return log_error_errno(r, "failed to set up: %m");

        r = parse_argv(argc, argv, m, &verify);
        if (r <= 0)
                return r;
        if (verify) {
                /* No bus, no settings: the files alone, for a person to read. */
                r = verify_definitions(argv + optind, m->contracts_dirs);
                if (r < 0)
                        return log_error_errno(r, "cannot verify: %m");
                return r == 0 ? 0 : -EBADMSG;
        }

        /* sd-event takes these through signalfd and pidfd/waitid: block them before anything. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        /* The default file is optional; one named on the command line must be there. */
        r = settings_load(m, m->config_path ?: SETTINGS_FILE, /* must_exist= */ !!m->config_path);
        if (r < 0)
                return r;

        r = manager_load_services(m);
        if (r < 0)
                return r;
        r = manager_connect_bus(m);
        if (r < 0)
                return r;
        return manager_run(m);
}

int main(int argc, char *argv[]) {
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
