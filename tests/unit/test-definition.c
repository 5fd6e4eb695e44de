/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "definition.h"
#include "log.h"
#include "unit-test.h"

/* A path whose base name matches Name=com.example.echo, so that no mismatch warning is logged. */
#define PATH "/nonexistent/com.example.echo.appservice"
#define HEAD "[App Service]\nName=com.example.echo\nProvider=com.example.EchoApp\n"

static Definition *parse_ok(const char *text, bool trusted) {
        DefinitionError error = {};
        Definition *d = NULL;
        int r;

        r = definition_parse(PATH, text, strlen(text), trusted, &d, &error);
        if (r < 0)
                g_test_message("unexpected error: %s:%u: %s: %s", error.path, error.line, error.key, error.message);
        g_assert_cmpint(r, ==, 0);
        g_assert_null(error.message);
        definition_error_done(&error);
        return d;
}

static void assert_parse_fails(const char *text, unsigned line, const char *key) {
        DefinitionError error = {};
        Definition *d = NULL;
        int r;

        r = definition_parse(PATH, text, strlen(text), true, &d, &error);
        g_assert_cmpint(r, ==, -EBADMSG);
        g_assert_null(d);
        g_assert_cmpstr(error.path, ==, PATH);
        g_assert_cmpuint(error.line, ==, line);
        g_assert_cmpstr(error.key, ==, key);
        g_assert_nonnull(error.message);
        if (error.message)
                g_test_message("%s:%u: %s: %s", error.path, error.line, error.key, error.message);
        definition_error_done(&error);
        g_assert_null(error.path);

        g_assert_cmpint(definition_parse(PATH, text, strlen(text), true, &d, NULL), ==, -EBADMSG);
        g_assert_null(d);
}

/* HEAD plus `key=value` on line 4 must fail naming that line and key. */
static void assert_bad_value(const char *key, const char *value) {
        g_autofree char *text = g_strdup_printf(HEAD "%s=%s\n", key, value);

        assert_parse_fails(text, 4, key);
}

/* HEAD plus `key=value` must parse. */
static Definition *parse_value(const char *key, const char *value) {
        g_autofree char *text = g_strdup_printf(HEAD "%s=%s\n", key, value);

        return parse_ok(text, false);
}

static void test_complete(void) {
        _cleanup_(definition_freep) Definition *d = NULL;
        struct passwd *pw = getpwnam("nobody");
        struct group *gr = getgrnam("nogroup");
        uid_t nobody_uid;
        gid_t nobody_gid, nogroup_gid;

        /* Copied out: getpw*() and getgr*() reuse their buffers, and so does the parser. */
        ASSERT_OR_RETURN(pw && gr);
        nobody_uid = pw->pw_uid;
        nobody_gid = pw->pw_gid;
        nogroup_gid = gr->gr_gid;

        d = parse_ok("# The contract's example, and every other key\n"
                     "[App Service]\n"
                     "Name=com.example.echo\n"
                     "Provider=com.example.EchoApp\n"
                     "Description=Echoes what it is sent\n"
                     "Exec=/usr/libexec/echo-provider --verbose 'two words'\n"
                     "SystemdService=echo-provider.service\n"
                     "User=nobody\n"
                     "AllowUsers=root 1000 nobody\n"
                     "AllowGroups=nogroup 4242\n"
                     "MaxMessageSize=2048\n"
                     "MaxPendingRequests=5\n"
                     "MaxConnectionsPerPeer=7\n"
                     "RequestTimeoutSec=1.5\n"
                     "ActivationTimeoutSec=0.25\n"
                     "\n"
                     "[Properties]\n"
                     "greeting=hi\n"
                     "farewell=bye \\s\n"
                     "\n"
                     "[Secrets]\n"
                     "api-key=s3cret\n", true);
        ASSERT_OR_RETURN(d);

        g_assert_cmpstr(d->path, ==, PATH);
        g_assert_cmpstr(d->name, ==, "com.example.echo");
        g_assert_cmpstr(d->provider, ==, "com.example.EchoApp");
        g_assert_cmpstr(d->description, ==, "Echoes what it is sent");
        ASSERT_OR_RETURN(d->exec_argv);
        g_assert_cmpstr(d->exec_argv[0], ==, "/usr/libexec/echo-provider");
        g_assert_cmpstr(d->exec_argv[1], ==, "--verbose");
        g_assert_cmpstr(d->exec_argv[2], ==, "two words");
        g_assert_null(d->exec_argv[3]);
        g_assert_cmpstr(d->systemd_service, ==, "echo-provider.service");

        g_assert_true(d->has_user);
        g_assert_cmpuint(d->uid, ==, nobody_uid);
        g_assert_cmpuint(d->gid, ==, nobody_gid);
        g_assert_cmpstr(d->user_name, ==, "nobody");

        ASSERT_OR_RETURN(d->n_allow_uids == 3 && d->n_allow_gids == 2);
        g_assert_cmpuint(d->allow_uids[0], ==, 0);
        g_assert_cmpuint(d->allow_uids[1], ==, 1000);
        g_assert_cmpuint(d->allow_uids[2], ==, nobody_uid);
        g_assert_cmpuint(d->allow_gids[0], ==, nogroup_gid);
        g_assert_cmpuint(d->allow_gids[1], ==, 4242);

        g_assert_cmpuint(d->max_message_size, ==, 2048);
        g_assert_cmpuint(d->max_pending_requests, ==, 5);
        g_assert_cmpuint(d->max_connections_per_peer, ==, 7);
        g_assert_cmpuint(d->request_timeout_usec, ==, 1500000);
        g_assert_cmpuint(d->activation_timeout_usec, ==, 250000);

        ASSERT_OR_RETURN(d->n_properties == 2);
        g_assert_cmpstr(d->properties[0].key, ==, "greeting");
        g_assert_cmpstr(d->properties[0].value, ==, "hi");
        g_assert_cmpstr(d->properties[1].key, ==, "farewell");
        g_assert_cmpstr(d->properties[1].value, ==, "bye  ");

        ASSERT_OR_RETURN(d->n_secrets == 1);
        g_assert_cmpstr(d->secrets[0].key, ==, "api-key");
        g_assert_cmpstr(d->secrets[0].value, ==, "s3cret");
        g_assert_false(d->secrets_ignored);
}

static void test_defaults(void) {
        _cleanup_(definition_freep) Definition *d = parse_ok(HEAD, false);

        ASSERT_OR_RETURN(d);
        g_assert_cmpstr(d->description, ==, "");
        g_assert_null(d->exec_argv);
        g_assert_null(d->systemd_service);
        g_assert_false(d->has_user);
        g_assert_null(d->user_name);
        g_assert_cmpuint(d->n_allow_uids, ==, 0);
        g_assert_cmpuint(d->n_allow_gids, ==, 0);
        g_assert_cmpuint(d->max_message_size, ==, 1048576);
        g_assert_cmpuint(d->max_pending_requests, ==, 64);
        g_assert_cmpuint(d->max_connections_per_peer, ==, 64);
        g_assert_cmpuint(d->max_bytes_per_user, ==, DEFINITION_LIMIT_UNSET);
        g_assert_cmpuint(d->max_bytes_total, ==, DEFINITION_LIMIT_UNSET);
        g_assert_cmpuint(d->max_requests_per_user, ==, DEFINITION_LIMIT_UNSET);
        g_assert_cmpuint(d->max_peers_per_user, ==, DEFINITION_LIMIT_UNSET);
        g_assert_cmpuint(d->request_timeout_usec, ==, 30 * 1000000ULL);
        g_assert_cmpuint(d->activation_timeout_usec, ==, 25 * 1000000ULL);
        g_assert_false(d->auto_start);
        g_assert_cmpint(d->restart, ==, RESTART_NO);
        g_assert_cmpuint(d->restart_usec, ==, 1000000ULL);
        g_assert_cmpuint(d->start_limit_burst, ==, 5);
        g_assert_cmpuint(d->start_limit_interval_usec, ==, 10 * 1000000ULL);
        g_assert_cmpuint(d->retest_usec, ==, 30 * 1000000ULL);
        g_assert_cmpuint(d->idle_timeout_usec, ==, 30 * 1000000ULL);
        g_assert_cmpuint(d->stop_timeout_usec, ==, 10 * 1000000ULL);
        g_assert_cmpuint(d->n_properties, ==, 0);
        g_assert_cmpuint(d->n_secrets, ==, 0);
        g_assert_false(d->secrets_ignored);
}

static void test_bad_name(void) {
        char long_name[300];

        assert_parse_fails("[App Service]\nProvider=p\nName=x\n", 3, "Name");
        assert_parse_fails("[App Service]\nProvider=p\nName=.hidden\n", 3, "Name");
        assert_parse_fails("[App Service]\nProvider=p\nName=has space\n", 3, "Name");
        assert_parse_fails("[App Service]\nProvider=p\nName=a/b\n", 3, "Name");
        assert_parse_fails("[App Service]\nProvider=p\nName=ünï\n", 3, "Name");
        assert_parse_fails("[App Service]\nProvider=p\nName=\n", 3, "Name");
        assert_parse_fails("[App Service]\nProvider=p\nName=a\\nb\n", 3, "Name");

        memset(long_name, 'a', 256);
        long_name[256] = '\0';
        assert_bad_value("Name", long_name);
}

static void test_bad_provider(void) {
        assert_bad_value("Provider", "");
        assert_bad_value("Provider", "bad/id");
        assert_bad_value("Provider", ".dot");
        assert_bad_value("Provider", "two words");
}

static void test_bad_exec(void) {
        _cleanup_(definition_freep) Definition *d = NULL;

        assert_bad_value("Exec", "/bin/echo 'unterminated");
        assert_bad_value("Exec", "/bin/echo \"unterminated");
        assert_bad_value("Exec", "/bin/echo \\\\");     /* the value ends in one backslash */
        assert_bad_value("Exec", "\"\" --flag");
        /* A lone backslash at the end of the line is already a key-file error, for the same key. */
        assert_bad_value("Exec", "/bin/echo \\");

        /* Empty means "not given". */
        d = parse_value("Exec", "   ");
        ASSERT_OR_RETURN(d);
        g_assert_null(d->exec_argv);
}

static void test_bad_systemd_service(void) {
        assert_bad_value("SystemdService", "echo-provider");
        assert_bad_value("SystemdService", "echo.socket");
        assert_bad_value("SystemdService", "foo@.service");
        assert_bad_value("SystemdService", ".service");
        assert_bad_value("SystemdService", "bad name.service");
        assert_bad_value("SystemdService", "bad/name.service");
}

/* What the provider's output is filed under: the name, or SyslogIdentifier=. */
static void test_syslog_identifier(void) {
        _cleanup_(definition_freep) Definition *plain = parse_ok(HEAD, false);
        _cleanup_(definition_freep) Definition *own = parse_ok(HEAD "SyslogIdentifier=echo-app@1:x+y_z.v\n", false);
        _cleanup_(definition_freep) Definition *empty = parse_ok(HEAD "SyslogIdentifier=\n", false);
        g_autofree char *longest = g_strdup_printf(HEAD "SyslogIdentifier=%s\n", "0123456789012345678901234567890123456789012345678901234567890123");
        _cleanup_(definition_freep) Definition *at_limit = parse_ok(longest, false);

        ASSERT_OR_RETURN(plain && own && empty && at_limit);
        g_assert_null(plain->syslog_identifier);
        g_assert_cmpstr(definition_syslog_identifier(plain), ==, "com.example.echo");
        g_assert_cmpstr(definition_syslog_identifier(own), ==, "echo-app@1:x+y_z.v");
        g_assert_cmpstr(definition_syslog_identifier(empty), ==, "com.example.echo");
        g_assert_cmpuint(strlen(definition_syslog_identifier(at_limit)), ==, 64);
        /* A reload sees the change. */
        g_assert_false(definition_equal(plain, own));
        g_assert_true(definition_equal(plain, empty));

        assert_bad_value("SyslogIdentifier", "two words");
        assert_bad_value("SyslogIdentifier", "echo[1]");
        assert_bad_value("SyslogIdentifier", "a/b");
        assert_bad_value("SyslogIdentifier", "\xc3\xa9" "cho");
        assert_bad_value("SyslogIdentifier", "01234567890123456789012345678901234567890123456789012345678901234");
}

static void test_bad_user(void) {
        assert_bad_value("User", "no-such-user-appservice-test");
        assert_bad_value("User", "root nobody");
        /* Not a valid id, so taken as a name, which nobody has. */
        assert_bad_value("User", "4294967295");
        assert_bad_value("User", "-1");
}

static void test_bad_allow_lists(void) {
        assert_bad_value("AllowUsers", "root no-such-user-appservice-test");
        assert_bad_value("AllowUsers", "4294967295");
        assert_bad_value("AllowGroups", "no-such-group-appservice-test");
        assert_bad_value("AllowGroups", "nogroup no-such-group-appservice-test 5");
}

static void test_bad_numbers(void) {
        static const char *const keys[] = { "MaxMessageSize", "MaxPendingRequests", "MaxConnectionsPerPeer" };
        static const char *const bad[] = {
                "0", "-1", "+5", "abc", "1.5", "0x10", "1e3", "12abc", "99999999999999999999999", "", "1 2",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
                for (size_t j = 0; j < G_N_ELEMENTS(bad); j++)
                        assert_bad_value(keys[i], bad[j]);

        assert_bad_value("MaxMessageSize", "134217729");
        assert_bad_value("MaxMessageSize", "129M");
        assert_bad_value("MaxMessageSize", "1G");
        assert_bad_value("MaxMessageSize", "0K");
        assert_bad_value("MaxMessageSize", "2MB");
        assert_bad_value("MaxMessageSize", "M");
        assert_bad_value("MaxPendingRequests", "65537");
        assert_bad_value("MaxConnectionsPerPeer", "65537");
}

static void test_bad_timeouts(void) {
        static const char *const keys[] = { "RequestTimeoutSec", "ActivationTimeoutSec" };
        static const char *const bad[] = {
                "0", "0.0", "0.0000001", "-1", "1.", ".5", "1e3", "abc", "", "86401", "86400.000001",
                "99999999999999999999", "1..5", "1.5.5", "0s", "0ms", "1x", "5mins", "1M", "s", "1.s", "ms5",
                "1d 1us", "25h", "1440min 1s", "2w", "1 h 30 x", "99999999999999999999d",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
                for (size_t j = 0; j < G_N_ELEMENTS(bad); j++)
                        assert_bad_value(keys[i], bad[j]);
}

static void test_limits(void) {
        static const struct {
                const char *key, *value;
                uint64_t expected;
        } cases[] = {
                { "MaxMessageSize", "134217728", 134217728 },
                { "MaxMessageSize", "1", 1 },
                { "MaxMessageSize", "007", 7 },
                { "MaxPendingRequests", "65536", 65536 },
                { "MaxConnectionsPerPeer", "65536", 65536 },
                { "RequestTimeoutSec", "86400", 86400000000ULL },
                { "RequestTimeoutSec", "86400.0", 86400000000ULL },
                { "RequestTimeoutSec", "0.000001", 1 },
                { "RequestTimeoutSec", "0.0000019", 1 },   /* beyond microseconds is cut off */
                { "ActivationTimeoutSec", "10", 10000000 },
                { "ActivationTimeoutSec", "2.5  ", 2500000 },   /* trailing blanks are forgiven */
                /* Time spans as systemd writes them. */
                { "RequestTimeoutSec", "10s", 10000000 },
                { "RequestTimeoutSec", "500ms", 500000 },
                { "RequestTimeoutSec", "250us", 250 },
                { "RequestTimeoutSec", "5min", 300000000 },
                { "RequestTimeoutSec", "1h 30min", 5400000000ULL },
                { "RequestTimeoutSec", "1h30min", 5400000000ULL },
                { "RequestTimeoutSec", "1min 0.5s", 60500000 },
                { "RequestTimeoutSec", "2.5s", 2500000 },
                { "RequestTimeoutSec", "0.5h", 1800000000ULL },
                { "RequestTimeoutSec", "1d", 86400000000ULL },
                { "RequestTimeoutSec", "24h", 86400000000ULL },
                { "RequestTimeoutSec", "2 minutes", 120000000 },
                { "ActivationTimeoutSec", "3sec", 3000000 },
                { "ActivationTimeoutSec", "1m", 60000000 },
                { "ActivationTimeoutSec", "1 hr", 3600000000ULL },
                /* Sizes as systemd writes them. */
                { "MaxMessageSize", "64K", 65536 },
                { "MaxMessageSize", "2M", 2097152 },
                { "MaxMessageSize", "128M", 134217728 },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                _cleanup_(definition_freep) Definition *d = parse_value(cases[i].key, cases[i].value);
                uint64_t got;

                ASSERT_OR_RETURN(d);
                if (strcmp(cases[i].key, "MaxMessageSize") == 0)
                        got = d->max_message_size;
                else if (strcmp(cases[i].key, "MaxPendingRequests") == 0)
                        got = d->max_pending_requests;
                else if (strcmp(cases[i].key, "MaxConnectionsPerPeer") == 0)
                        got = d->max_connections_per_peer;
                else if (strcmp(cases[i].key, "RequestTimeoutSec") == 0)
                        got = d->request_timeout_usec;
                else
                        got = d->activation_timeout_usec;
                g_assert_cmpuint(got, ==, cases[i].expected);
        }
}

static void test_lifecycle_keys(void) {
        _cleanup_(definition_freep) Definition *d = parse_ok(HEAD
                                                             "AutoStart=yes\n"
                                                             "Restart=on-failure\n"
                                                             "RestartSec=0.5\n"
                                                             "StartLimitBurst=3\n"
                                                             "StartLimitIntervalSec=2.25\n"
                                                             "RetestSec=7\n"
                                                             "IdleTimeoutSec=0.75\n"
                                                             "StopTimeoutSec=1.5\n", false);

        ASSERT_OR_RETURN(d);
        g_assert_true(d->auto_start);
        g_assert_cmpint(d->restart, ==, RESTART_ON_FAILURE);
        g_assert_cmpuint(d->restart_usec, ==, 500000);
        g_assert_cmpuint(d->start_limit_burst, ==, 3);
        g_assert_cmpuint(d->start_limit_interval_usec, ==, 2250000);
        g_assert_cmpuint(d->retest_usec, ==, 7000000);
        g_assert_cmpuint(d->idle_timeout_usec, ==, 750000);
        g_assert_cmpuint(d->stop_timeout_usec, ==, 1500000);
}

static void test_allow_direct(void) {
        _cleanup_(definition_freep) Definition *none = parse_ok(HEAD, false);
        _cleanup_(definition_freep) Definition *off = parse_ok(HEAD "AllowDirect=No\n", false);
        _cleanup_(definition_freep) Definition *on = parse_ok(HEAD "AllowDirect=on\n", false);

        ASSERT_OR_RETURN(none && off && on);
        g_assert_true(none->allow_direct);  /* on by default: the broker checks before it links */
        g_assert_false(off->allow_direct);
        g_assert_true(on->allow_direct);
        g_assert_false(definition_equal(none, off));
        assert_bad_value("AllowDirect", "sometimes");
        assert_bad_value("AllowDirect", "");
}

static void test_remote_keys(void) {
        _cleanup_(definition_freep) Definition *none = parse_ok(HEAD, false);
        _cleanup_(definition_freep) Definition *d = parse_ok(HEAD
                                                             "Bridge=yes\n"
                                                             "AllowRemote=true\n"
                                                             "AllowRemotePrincipals=  cloud\tnode:B  node:C\n", false);
        _cleanup_(definition_freep) Definition *empty = parse_ok(HEAD "AllowRemotePrincipals=\n", false);
        g_autoptr(GString) many = g_string_new(HEAD "AllowRemotePrincipals=");
        g_autofree char *long_word = g_strnfill(256, 'x');
        g_autofree char *longest = g_strnfill(255, 'x');

        ASSERT_OR_RETURN(none && d && empty);
        g_assert_false(none->bridge);
        g_assert_false(none->allow_remote);
        g_assert_null(none->allow_remote_principals);
        g_assert_true(definition_allows_principal(none, "anyone"));

        g_assert_true(d->bridge);
        g_assert_true(d->allow_remote);
        g_assert_cmpstr(d->allow_remote_principals[0], ==, "cloud");
        g_assert_cmpstr(d->allow_remote_principals[1], ==, "node:B");
        g_assert_cmpstr(d->allow_remote_principals[2], ==, "node:C");
        g_assert_null(d->allow_remote_principals[3]);
        g_assert_true(definition_allows_principal(d, "node:B"));
        g_assert_false(definition_allows_principal(d, "node:b"));
        g_assert_false(definition_allows_principal(d, "node"));
        g_assert_null(empty->allow_remote_principals);

        assert_bad_value("Bridge", "maybe");
        assert_bad_value("AllowRemote", "2");
        assert_bad_value("AllowRemotePrincipals", "cloud n\x01" "de");
        assert_bad_value("AllowRemotePrincipals", long_word);
        assert_bad_value("AllowRemotePrincipals", "caf\xc3\xa9");
        for (unsigned i = 0; i < DEFINITION_MAX_REMOTE_PRINCIPALS; i++)
                g_string_append_printf(many, "p%u ", i);
        {
                g_autofree char *text = g_strdup_printf("%s\n", many->str);
                _cleanup_(definition_freep) Definition *full = parse_ok(text, false);
                ASSERT_OR_RETURN(full);
                g_assert_cmpstr(full->allow_remote_principals[DEFINITION_MAX_REMOTE_PRINCIPALS - 1], ==, "p63");
        }
        g_string_append(many, "one-more\n");
        assert_parse_fails(many->str, 4, "AllowRemotePrincipals");
        {
                g_autofree char *text = g_strdup_printf(HEAD "AllowRemotePrincipals=%s\n", longest);
                _cleanup_(definition_freep) Definition *ok = parse_ok(text, false);
                g_assert_nonnull(ok);
        }

        g_assert_true(definition_principal_is_valid("cloud"));
        g_assert_false(definition_principal_is_valid(""));
        g_assert_false(definition_principal_is_valid("a b"));
        g_assert_false(definition_principal_is_valid(NULL));
}

static uint64_t user_limit(const Definition *d, const char *key) {
        if (strcmp(key, "MaxBytesPerUser") == 0)
                return d->max_bytes_per_user;
        if (strcmp(key, "MaxBytesTotal") == 0)
                return d->max_bytes_total;
        if (strcmp(key, "MaxRequestsPerUser") == 0)
                return d->max_requests_per_user;
        return d->max_peers_per_user;
}

static void test_user_limits(void) {
        static const struct {
                const char *key, *value;
                uint64_t expected;
        } cases[] = {
                { "MaxBytesPerUser", "1", 1 },
                { "MaxBytesPerUser", "64M", UINT64_C(64) << 20 },
                { "MaxBytesPerUser", "2500K", UINT64_C(2500) << 10 },
                { "MaxBytesPerUser", "1G", UINT64_C(1) << 30 },
                { "MaxBytesTotal", "1048576", 1048576 },
                { "MaxBytesTotal", "1048576G", UINT64_C(1) << 50 },
                { "MaxBytesTotal", "infinity", DEFINITION_LIMIT_UNSET },
                { "MaxRequestsPerUser", "3", 3 },
                { "MaxRequestsPerUser", "4294967294", 4294967294 },
                { "MaxRequestsPerUser", "infinity ", DEFINITION_LIMIT_UNSET },
                { "MaxPeersPerUser", "2", 2 },
                { "MaxPeersPerUser", "infinity", DEFINITION_LIMIT_UNSET },
        };
        static const char *const keys[] = { "MaxBytesPerUser", "MaxBytesTotal", "MaxRequestsPerUser",
                                            "MaxPeersPerUser" };
        static const char *const bad[] = { "0", "0K", "-1", "+5", "abc", "1.5", "0x10", "", "1 2", "K", "Infinity",
                                           "99999999999999999999999" };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                _cleanup_(definition_freep) Definition *d = parse_value(cases[i].key, cases[i].value);

                ASSERT_OR_RETURN(d);
                g_assert_cmpuint(user_limit(d, cases[i].key), ==, cases[i].expected);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
                for (size_t j = 0; j < G_N_ELEMENTS(bad); j++)
                        assert_bad_value(keys[i], bad[j]);
        /* Sizes for bytes, plain counts for the others; nothing past 2^50 bytes or 2^32 - 2. */
        assert_bad_value("MaxBytesTotal", "1048577G");
        assert_bad_value("MaxBytesPerUser", "1T");
        assert_bad_value("MaxRequestsPerUser", "4K");
        assert_bad_value("MaxPeersPerUser", "4294967295");
}

static void test_lifecycle_values(void) {
        static const char *const booleans_yes[] = { "yes", "true", "on", "1", "YES", "True" };
        static const char *const booleans_no[] = { "no", "false", "off", "0", "No" };
        static const struct {
                const char *value;
                RestartPolicy expected;
        } restarts[] = {
                { "no", RESTART_NO }, { "on-failure", RESTART_ON_FAILURE }, { "always", RESTART_ALWAYS },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(booleans_yes); i++) {
                _cleanup_(definition_freep) Definition *d = parse_value("AutoStart", booleans_yes[i]);
                ASSERT_OR_RETURN(d);
                g_assert_true(d->auto_start);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(booleans_no); i++) {
                _cleanup_(definition_freep) Definition *d = parse_value("AutoStart", booleans_no[i]);
                ASSERT_OR_RETURN(d);
                g_assert_false(d->auto_start);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(restarts); i++) {
                _cleanup_(definition_freep) Definition *d = parse_value("Restart", restarts[i].value);
                ASSERT_OR_RETURN(d);
                g_assert_cmpint(d->restart, ==, restarts[i].expected);
                g_assert_cmpstr(restart_policy_to_string(d->restart), ==, restarts[i].value);
        }

        /* 0 means something for these: restart at once, no start limit, never idle. */
        {
                _cleanup_(definition_freep) Definition *d = parse_value("RestartSec", "0");
                ASSERT_OR_RETURN(d);
                g_assert_cmpuint(d->restart_usec, ==, 0);
        }
        {
                _cleanup_(definition_freep) Definition *d = parse_value("StartLimitIntervalSec", "0");
                ASSERT_OR_RETURN(d);
                g_assert_cmpuint(d->start_limit_interval_usec, ==, 0);
        }
        {
                _cleanup_(definition_freep) Definition *d = parse_value("IdleTimeoutSec", "0");
                ASSERT_OR_RETURN(d);
                g_assert_cmpuint(d->idle_timeout_usec, ==, 0);
        }
        {
                _cleanup_(definition_freep) Definition *d = parse_value("IdleTimeoutSec", "infinity");
                ASSERT_OR_RETURN(d);
                g_assert_cmpuint(d->idle_timeout_usec, ==, 0);
        }
        {
                _cleanup_(definition_freep) Definition *d = parse_value("StopTimeoutSec", "86400");
                ASSERT_OR_RETURN(d);
                g_assert_cmpuint(d->stop_timeout_usec, ==, 86400000000ULL);
        }
}

static void test_bad_lifecycle_values(void) {
        static const char *const seconds_keys[] = {
                "RestartSec", "StartLimitIntervalSec", "RetestSec", "IdleTimeoutSec", "StopTimeoutSec",
        };
        static const char *const bad_seconds[] = {
                "-1", "1.", ".5", "1x", "abc", "", "86401", "infinit", "1..5", "25h", "1 parsec",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(seconds_keys); i++)
                for (size_t j = 0; j < G_N_ELEMENTS(bad_seconds); j++)
                        assert_bad_value(seconds_keys[i], bad_seconds[j]);
        /* Only IdleTimeoutSec= knows "infinity"; 0 is refused where it would mean nothing. */
        assert_bad_value("StopTimeoutSec", "infinity");
        assert_bad_value("StopTimeoutSec", "0");
        assert_bad_value("RetestSec", "0");
        assert_bad_value("RetestSec", "0.0");

        assert_bad_value("AutoStart", "maybe");
        assert_bad_value("AutoStart", "");
        assert_bad_value("AutoStart", "2");
        assert_bad_value("Restart", "on-abort");
        assert_bad_value("Restart", "yes");
        assert_bad_value("Restart", "");
        assert_bad_value("Restart", "Always");
        assert_bad_value("StartLimitBurst", "0");
        assert_bad_value("StartLimitBurst", "-1");
        assert_bad_value("StartLimitBurst", "1.5");
        assert_bad_value("StartLimitBurst", "65537");

        /* The error names the line of the bad key, after good lifecycle keys. */
        assert_parse_fails(HEAD "AutoStart=yes\nRestart=always\nRestartSec=x\n", 6, "RestartSec");
}

static void test_missing_required(void) {
        assert_parse_fails("[App Service]\nProvider=com.example.EchoApp\n", 0, "Name");
        assert_parse_fails("[App Service]\nName=com.example.echo\n", 0, "Provider");
        assert_parse_fails("[Properties]\nName=com.example.echo\nProvider=p\n", 0, NULL);
        assert_parse_fails("", 0, NULL);
        assert_parse_fails("# nothing\n", 0, NULL);
        /* The key-file parser keeps no trace of a section without keys. */
        assert_parse_fails("[App Service]\n", 0, NULL);
}

static void test_syntax_errors(void) {
        /* The key-file parser's verdict comes through with the file's path. */
        assert_parse_fails(HEAD "this is garbage\n", 4, NULL);
        assert_parse_fails(HEAD "Description=bad \\escape\n", 4, "Description");
        assert_parse_fails("Name=before.any.section\n" HEAD, 1, "Name");
        assert_parse_fails(HEAD "[Properties\n", 4, NULL);
        assert_parse_fails(HEAD "[Properties]\nk=\xff\n", 5, NULL);
}

static void test_unknown_keys_and_sections(void) {
        _cleanup_(definition_freep) Definition *d = NULL;
        g_autofree char *out = NULL;
        StderrCapture c;

        stderr_capture_begin(&c);
        d = parse_ok(HEAD
                     "Foo=bar\n"
                     "[Extra]\n"
                     "a=1\n"
                     "b=2\n"
                     "[Properties]\n"
                     "k=v\n"
                     "[Extra]\n"
                     "c=3\n", true);
        out = stderr_capture_end(&c);
        ASSERT_OR_RETURN(d);

        g_assert_nonnull(strstr(out, PATH ":4: unknown key 'Foo' in section 'App Service', ignoring"));
        g_assert_nonnull(strstr(out, PATH ":6: unknown section 'Extra', ignoring"));
        /* Once per section, not once per key. */
        g_assert_cmpuint(count_occurrences(out, "unknown section"), ==, 1);
        g_assert_cmpuint(count_occurrences(out, "unknown key"), ==, 1);
        ASSERT_OR_RETURN(d->n_properties == 1);
        g_assert_cmpstr(d->properties[0].key, ==, "k");
}

/* 60,000 unknown keys make five lines and one that counts the rest, not 60,000 lines. */
static void test_unknown_keys_are_capped(void) {
        _cleanup_(definition_freep) Definition *d = NULL;
        g_autoptr(GString) text = g_string_new(HEAD);
        g_autofree char *out = NULL;
        StderrCapture c;

        for (unsigned i = 0; i < 60000; i++)
                g_string_append_printf(text, "Unknown%u=1\n", i);
        g_string_append(text, "[Extra1]\n[Extra2]\nx=1\n");

        stderr_capture_begin(&c);
        d = parse_ok(text->str, true);
        out = stderr_capture_end(&c);
        ASSERT_OR_RETURN(d);

        g_assert_cmpuint(count_occurrences(out, "unknown key"), ==, 5);
        g_assert_cmpuint(count_occurrences(out, "unknown section '"), ==, 0);
        g_assert_nonnull(strstr(out, PATH ": ... and 59996 more unknown sections and keys, ignoring them"));
        g_assert_cmpuint(count_occurrences(out, "\n"), ==, 6);
}

static void test_locale_keys(void) {
        _cleanup_(definition_freep) Definition *d = NULL;
        g_autofree char *out = NULL;
        int level = log_get_max_level();
        StderrCapture c;

        log_set_max_level(LOG_DEBUG);
        stderr_capture_begin(&c);
        d = parse_ok(HEAD
                     "Description=English\n"
                     "Description[de]=Deutsch\n"
                     "Name[de]=not.a.name.change\n"
                     "[Properties]\n"
                     "greeting=hello\n"
                     "greeting[de]=hallo\n"
                     "[Secrets]\n"
                     "key[de]=x\n", true);
        out = stderr_capture_end(&c);
        log_set_max_level(level);
        ASSERT_OR_RETURN(d);

        g_assert_cmpstr(d->name, ==, "com.example.echo");
        g_assert_cmpstr(d->description, ==, "English");
        ASSERT_OR_RETURN(d->n_properties == 1);
        g_assert_cmpstr(d->properties[0].key, ==, "greeting");
        g_assert_cmpstr(d->properties[0].value, ==, "hello");
        g_assert_cmpuint(d->n_secrets, ==, 0);
        /* Ignored with a debug line, never a warning. */
        g_assert_nonnull(strstr(out, "<7>" PATH ":5: localized key 'Description[de]'"));
        g_assert_null(strstr(out, "<4>"));
}

static void test_repeated_keys(void) {
        _cleanup_(definition_freep) Definition *d = NULL;

        /* A key set twice in a section is refused, naming the second line and the key (not GLib's
         * "the later one wins": the author meant one of them). */
        assert_parse_fails("[App Service]\n"
                           "Name=com.example.echo\n"
                           "Provider=p\n"
                           "MaxMessageSize=4096\n"
                           "MaxMessageSize=4096\n", 5, "MaxMessageSize");
        assert_parse_fails("[App Service]\nName=x\nProvider=p\nName=com.example.echo\n", 4, "Name");
        assert_parse_fails(HEAD "[Properties]\na=1\nb=2\na=3\n", 7, "a");
        assert_parse_fails(HEAD "[Secrets]\nk=1\nk=1\n", 6, "k");
        /* Across sections, and a section that comes twice, the keys are each section's own. */
        assert_parse_fails(HEAD "[Properties]\na=1\n[Properties]\na=2\n", 7, "a");
        d = parse_ok(HEAD "[Properties]\nName=n\nk=1\n[Secrets]\nk=2\n", true);
        ASSERT_OR_RETURN(d);
        g_assert_cmpuint(d->n_properties, ==, 2);
        g_assert_cmpuint(d->n_secrets, ==, 1);

        /* Errors are reported in file order: the first bad line wins. */
        assert_parse_fails(HEAD "RequestTimeoutSec=x\nMaxMessageSize=y\n", 4, "RequestTimeoutSec");
}

static void test_trailing_blanks(void) {
        _cleanup_(definition_freep) Definition *d = NULL;

        d = parse_ok("[App Service]\nName=com.example.echo  \nProvider=p\t\nUser=root \nDescription=kept \n", false);
        ASSERT_OR_RETURN(d);
        g_assert_cmpstr(d->name, ==, "com.example.echo");
        g_assert_cmpstr(d->provider, ==, "p");
        g_assert_cmpuint(d->uid, ==, 0);
        g_assert_cmpstr(d->description, ==, "kept ");
}

static void test_name_mismatch(void) {
        _cleanup_(definition_freep) Definition *d = NULL, *e = NULL;
        g_autofree char *out = NULL;
        StderrCapture c;

        stderr_capture_begin(&c);
        g_assert_cmpint(definition_parse("/x/other.appservice", HEAD, strlen(HEAD), false, &d, NULL), ==, 0);
        g_assert_cmpint(definition_parse(PATH, HEAD, strlen(HEAD), false, &e, NULL), ==, 0);
        out = stderr_capture_end(&c);

        g_assert_nonnull(d);
        g_assert_nonnull(e);
        g_assert_nonnull(strstr(out, "<4>/x/other.appservice: Name=com.example.echo does not match"));
        g_assert_cmpuint(count_occurrences(out, "does not match"), ==, 1);
}

static void test_users(void) {
        _cleanup_(definition_freep) Definition *root = NULL, *nobody = NULL, *unnamed = NULL, *none = NULL;
        struct passwd *pw = getpwnam("nobody");
        g_autofree char *id = NULL;
        uid_t free_uid = 4242, nobody_uid;
        gid_t nobody_gid;

        ASSERT_OR_RETURN(pw);
        /* getpw*() share one buffer, which parsing reuses. */
        nobody_uid = pw->pw_uid;
        nobody_gid = pw->pw_gid;

        root = parse_value("User", "root");
        ASSERT_OR_RETURN(root);
        g_assert_true(root->has_user);
        g_assert_cmpuint(root->uid, ==, 0);
        g_assert_cmpuint(root->gid, ==, 0);
        g_assert_cmpstr(root->user_name, ==, "root");

        nobody = parse_value("User", "65534");
        ASSERT_OR_RETURN(nobody);
        g_assert_true(nobody->has_user);
        g_assert_cmpuint(nobody->uid, ==, nobody_uid);
        g_assert_cmpuint(nobody->gid, ==, nobody_gid);
        g_assert_cmpstr(nobody->user_name, ==, "nobody");

        /* A numeric id without a passwd entry: allowed, runs with gid = uid. */
        while (getpwuid(free_uid))
                free_uid++;
        id = g_strdup_printf("%u", (unsigned) free_uid);
        unnamed = parse_value("User", id);
        ASSERT_OR_RETURN(unnamed);
        g_assert_true(unnamed->has_user);
        g_assert_cmpuint(unnamed->uid, ==, free_uid);
        g_assert_cmpuint(unnamed->gid, ==, free_uid);
        g_assert_null(unnamed->user_name);

        none = parse_value("User", "");
        ASSERT_OR_RETURN(none);
        g_assert_false(none->has_user);
}

static void test_allow_lists(void) {
        _cleanup_(definition_freep) Definition *u = NULL, *g = NULL, *empty = NULL;
        struct group *gr = getgrnam("nogroup");
        gid_t nogroup_gid;

        ASSERT_OR_RETURN(gr);
        nogroup_gid = gr->gr_gid;

        u = parse_value("AllowUsers", "  root\t nobody   1234 0 ");
        ASSERT_OR_RETURN(u && u->n_allow_uids == 4);
        g_assert_cmpuint(u->allow_uids[0], ==, 0);
        g_assert_cmpuint(u->allow_uids[1], ==, 65534);
        g_assert_cmpuint(u->allow_uids[2], ==, 1234);
        g_assert_cmpuint(u->allow_uids[3], ==, 0);
        g_assert_cmpuint(u->n_allow_gids, ==, 0);

        g = parse_value("AllowGroups", "root nogroup 777");
        ASSERT_OR_RETURN(g && g->n_allow_gids == 3);
        g_assert_cmpuint(g->allow_gids[0], ==, 0);
        g_assert_cmpuint(g->allow_gids[1], ==, nogroup_gid);
        g_assert_cmpuint(g->allow_gids[2], ==, 777);

        empty = parse_value("AllowUsers", "");
        ASSERT_OR_RETURN(empty);
        g_assert_cmpuint(empty->n_allow_uids, ==, 0);
        g_assert_null(empty->allow_uids);
}

static void test_secrets_parse(void) {
        static const char text[] = HEAD "[Secrets]\napi-key=s3cret\nother=x\n";
        _cleanup_(definition_freep) Definition *trusted = NULL, *untrusted = NULL, *none = NULL, *empty = NULL;

        trusted = parse_ok(text, true);
        ASSERT_OR_RETURN(trusted);
        g_assert_cmpuint(trusted->n_secrets, ==, 2);
        g_assert_false(trusted->secrets_ignored);

        untrusted = parse_ok(text, false);
        ASSERT_OR_RETURN(untrusted);
        g_assert_cmpuint(untrusted->n_secrets, ==, 0);
        g_assert_null(untrusted->secrets);
        g_assert_true(untrusted->secrets_ignored);

        /* Nothing to ignore: no [Secrets], or nothing in it. */
        none = parse_ok(HEAD "[Properties]\na=b\n", false);
        ASSERT_OR_RETURN(none);
        g_assert_false(none->secrets_ignored);
        empty = parse_ok(HEAD "[Secrets]\n", false);
        ASSERT_OR_RETURN(empty);
        g_assert_false(empty->secrets_ignored);
}

/* Loads dir/name written with mode and owner; checks the trust decision and the warning. */
static void assert_load_trust(const char *dir, const char *name, mode_t mode, uid_t owner, bool expect_trusted) {
        _cleanup_(definition_freep) Definition *d = NULL;
        g_autofree char *path = write_file(dir, name, HEAD "[Secrets]\napi-key=s3cret\n", mode);
        g_autofree char *out = NULL, *expected = NULL;
        DefinitionError error = {};
        StderrCapture c;

        g_assert_cmpint(chown(path, owner, (gid_t) -1), ==, 0);

        stderr_capture_begin(&c);
        g_assert_cmpint(definition_load(path, &d, &error), ==, 0);
        out = stderr_capture_end(&c);
        definition_error_done(&error);
        ASSERT_OR_RETURN(d);

        g_test_message("%s mode %04o owner %u: trusted %s", name, (unsigned) mode, (unsigned) owner,
                       d->n_secrets > 0 ? "yes" : "no");
        expected = g_strdup_printf("<4>%s is not owned by root or is accessible by group/others", path);
        if (expect_trusted) {
                g_assert_cmpuint(d->n_secrets, ==, 1);
                g_assert_false(d->secrets_ignored);
                g_assert_null(strstr(out, "[Secrets]"));
        } else {
                g_assert_cmpuint(d->n_secrets, ==, 0);
                g_assert_true(d->secrets_ignored);
                g_assert_nonnull(strstr(out, expected));
                g_assert_nonnull(strstr(out, "ignoring [Secrets]"));
        }
}

static void test_secrets_load(void) {
        g_autofree char *dir = NULL;

        if (geteuid() != 0) {
                g_test_skip("needs root to create files owned by root and by others");
                return;
        }

        dir = make_temp_dir();
        assert_load_trust(dir, "com.example.echo.appservice", 0600, 0, true);
        assert_load_trust(dir, "com.example.echo.appservice", 0400, 0, true);
        assert_load_trust(dir, "com.example.echo.appservice", 0700, 0, true);
        assert_load_trust(dir, "com.example.echo.appservice", 0640, 0, false);
        assert_load_trust(dir, "com.example.echo.appservice", 0604, 0, false);
        assert_load_trust(dir, "com.example.echo.appservice", 0644, 0, false);
        assert_load_trust(dir, "com.example.echo.appservice", 0610, 0, false);
        assert_load_trust(dir, "com.example.echo.appservice", 0600, 65534, false);
        assert_load_trust(dir, "com.example.echo.appservice", 0400, 1000, false);
        remove_tree(dir);
}

/* Loads a file with Exec= and SystemdService= written with mode, owner and User=; checks what of
 * them is kept, and the warning. */
static void assert_exec_trust(const char *dir, mode_t mode, uid_t owner, const char *user, bool expect_exec,
                              bool expect_unit) {
        _cleanup_(definition_freep) Definition *d = NULL;
        g_autofree char *text = g_strdup_printf(HEAD "Exec=/bin/true\nSystemdService=echo.service\nUser=%s\n", user);
        g_autofree char *path = write_file(dir, "com.example.echo.appservice", text, mode);
        g_autofree char *out = NULL, *expected = NULL;
        DefinitionError error = {};
        StderrCapture c;

        g_assert_cmpint(chown(path, owner, (gid_t) -1), ==, 0);
        stderr_capture_begin(&c);
        g_assert_cmpint(definition_load(path, &d, &error), ==, 0);
        out = stderr_capture_end(&c);
        definition_error_done(&error);
        ASSERT_OR_RETURN(d);

        g_test_message("mode %04o owner %u User=%s: Exec= %s, SystemdService= %s", (unsigned) mode,
                       (unsigned) owner, user, d->exec_argv ? "kept" : "ignored",
                       d->systemd_service ? "kept" : "ignored");
        g_assert_true(!!d->exec_argv == expect_exec);
        g_assert_true(!!d->systemd_service == expect_unit);
        expected = g_strdup_printf("<4>%s is not owned by root or is writable by group/others (owner uid %u, mode %04o)",
                                   path, (unsigned) owner, (unsigned) mode);
        if (expect_exec && expect_unit)
                g_assert_null(strstr(out, "is writable by group/others"));
        else
                g_assert_nonnull(strstr(out, expected));
}

static void test_exec_trust(void) {
        g_autofree char *dir = NULL;

        if (geteuid() != 0) {
                g_test_skip("needs root to create files owned by root and by others");
                return;
        }

        dir = make_temp_dir();
        assert_exec_trust(dir, 0644, 0, "", true, true);
        assert_exec_trust(dir, 0600, 0, "lp", true, true);
        assert_exec_trust(dir, 0664, 0, "", false, false);
        assert_exec_trust(dir, 0646, 0, "lp", false, false);
        assert_exec_trust(dir, 0644, 5, "", false, false);      /* games, no User=: would be root */
        assert_exec_trust(dir, 0644, 5, "root", false, false);
        assert_exec_trust(dir, 0644, 5, "lp", false, false);
        assert_exec_trust(dir, 0664, 5, "games", false, false); /* the group could make games run anything */
        assert_exec_trust(dir, 0644, 5, "games", true, false);  /* the owner's own code, as the owner */
        assert_exec_trust(dir, 0600, 5, "5", true, false);
        remove_tree(dir);
}

static void assert_load_fails(const char *path, int expected) {
        Definition *d = NULL;
        DefinitionError error = {};

        g_assert_cmpint(definition_load(path, &d, &error), ==, expected);
        g_assert_null(d);
        g_assert_cmpstr(error.path, ==, path);
        g_assert_cmpuint(error.line, ==, 0);
        g_assert_nonnull(error.message);
        g_test_message("%s: %s", error.path, error.message);
        definition_error_done(&error);
}

static void test_load_files(void) {
        g_autofree char *dir = make_temp_dir();
        g_autofree char *good = write_file(dir, "com.example.echo.appservice", HEAD, 0644);
        g_autofree char *link = g_build_filename(dir, "link.appservice", NULL);
        g_autofree char *dangling = g_build_filename(dir, "dangling.appservice", NULL);
        g_autofree char *subdir = g_build_filename(dir, "dir.appservice", NULL);
        g_autofree char *fifo = g_build_filename(dir, "fifo.appservice", NULL);
        g_autofree char *big = NULL, *exact = NULL, *big_path = NULL, *exact_path = NULL;
        _cleanup_(definition_freep) Definition *d = NULL, *l = NULL, *x = NULL;
        const size_t mib = 1024 * 1024;

        g_assert_cmpint(definition_load(good, &d, NULL), ==, 0);
        ASSERT_OR_RETURN(d);
        g_assert_cmpstr(d->path, ==, good);

        /* Symlinks are followed; the definition keeps the path it was found under. */
        g_assert_cmpint(symlink(good, link), ==, 0);
        g_assert_cmpint(definition_load(link, &l, NULL), ==, 0);
        ASSERT_OR_RETURN(l);
        g_assert_cmpstr(l->path, ==, link);

        g_assert_cmpint(symlink("/nonexistent/target", dangling), ==, 0);
        assert_load_fails(dangling, -ENOENT);
        assert_load_fails("/nonexistent/x.appservice", -ENOENT);

        g_assert_cmpint(mkdir(subdir, 0755), ==, 0);
        assert_load_fails(subdir, -EISDIR);

        /* A FIFO must be refused, not read (which would hang). */
        g_assert_cmpint(mkfifo(fifo, 0644), ==, 0);
        assert_load_fails(fifo, -EBADFD);

        /* 1 MiB is the most a definition may weigh. */
        exact = g_malloc(mib + 2);
        memcpy(exact, HEAD, strlen(HEAD));
        memset(exact + strlen(HEAD), '#', mib - strlen(HEAD));
        exact[mib - 1] = '\n';
        exact[mib] = '\0';
        exact_path = write_file(dir, "exact.appservice", exact, 0644);
        g_assert_cmpint(definition_load(exact_path, &x, NULL), ==, 0);
        g_assert_nonnull(x);

        big = g_strdup_printf("%s#", exact);
        big_path = write_file(dir, "big.appservice", big, 0644);
        assert_load_fails(big_path, -EFBIG);

        remove_tree(dir);
}

static char *write_definition(const char *dir, const char *file, const char *name) {
        g_autofree char *text = g_strdup_printf("[App Service]\nName=%s\nProvider=com.example.P\n", name);

        return write_file(dir, file, text, 0644);
}

static void test_dirs(void) {
        g_autofree char *root = make_temp_dir();
        g_autofree char *d1 = g_build_filename(root, "etc", NULL);
        g_autofree char *d2 = g_build_filename(root, "usr", NULL);
        g_autofree char *missing = g_build_filename(root, "missing", NULL);
        g_autofree char *b1 = NULL, *b2 = NULL, *a2 = NULL, *c1 = NULL, *e1 = NULL, *dup2 = NULL, *f2 = NULL,
                        *out = NULL, *expected = NULL;
        char *dirs[] = { missing, d1, d2, NULL };
        Definition **defs = NULL;
        size_t n = 0;
        StderrCapture c;
        int r;

        g_assert_cmpint(mkdir(d1, 0755), ==, 0);
        g_assert_cmpint(mkdir(d2, 0755), ==, 0);

        /* Earlier directories win for the same file name. */
        b1 = write_definition(d1, "b.appservice", "com.b");
        b2 = write_definition(d2, "b.appservice", "com.b.shadowed");
        a2 = write_definition(d2, "a.appservice", "com.a");
        /* Broken: a syntax error, and a bad value. */
        c1 = write_file(d1, "c.appservice", "[App Service]\nName=com.c\ngarbage\n", 0644);
        e1 = write_file(d1, "e.appservice", "[App Service]\nName=com.e\nProvider=p\nMaxMessageSize=0\n", 0644);
        /* Same Name= as a.appservice, later in the order: skipped. */
        dup2 = write_definition(d2, "d.appservice", "com.a");
        /* Shadowed by a good file of the same name: never read, so never reported. */
        g_free(write_definition(d1, "f.appservice", "com.f"));
        f2 = write_file(d2, "f.appservice", "garbage\n", 0644);
        /* Not definitions at all. */
        g_free(write_definition(d1, "readme.txt", "com.readme"));
        g_free(write_definition(d1, ".hidden.appservice", "com.hidden"));
        g_free(write_definition(d1, "g.appservice.bak", "com.bak"));
        g_free(write_definition(d1, ".appservice", "com.dot"));

        stderr_capture_begin(&c);
        r = definitions_load_dirs(dirs, &defs, &n);
        out = stderr_capture_end(&c);

        g_assert_cmpint(r, ==, 3);
        g_assert_cmpuint(n, ==, 3);
        ASSERT_OR_GOTO(defs && n == 3, out);
        /* One order by file name, whichever directory supplied the file. */
        g_assert_cmpstr(defs[0]->name, ==, "com.a");
        g_assert_cmpstr(defs[0]->path, ==, a2);
        g_assert_cmpstr(defs[1]->name, ==, "com.b");
        g_assert_cmpstr(defs[1]->path, ==, b1);
        g_assert_cmpstr(defs[2]->name, ==, "com.f");

        /* Each broken file: one error line, "path:line: key: message, skipping". */
        expected = g_strdup_printf("<3>%s:3: ", c1);
        g_assert_nonnull(strstr(out, expected));
        g_assert_cmpuint(count_occurrences(out, c1), ==, 1);
        g_free(expected);
        expected = g_strdup_printf("<3>%s:4: MaxMessageSize: must be greater than 0, skipping\n", e1);
        g_assert_nonnull(strstr(out, expected));
        g_assert_cmpuint(count_occurrences(out, e1), ==, 1);
        g_free(expected);
        expected = g_strdup_printf("%s: app service 'com.a' is already declared by %s, skipping", dup2, a2);
        g_assert_nonnull(strstr(out, expected));
        g_assert_cmpuint(count_occurrences(out, ", skipping"), ==, 3);

        /* Nothing about the missing directory, the shadowed files or the non-definitions. */
        g_assert_null(strstr(out, missing));
        g_assert_null(strstr(out, b2));
        g_assert_null(strstr(out, f2));
        g_assert_null(strstr(out, "readme"));
        g_assert_null(strstr(out, "hidden"));
        g_assert_null(strstr(out, ".bak"));

out:
        definitions_free(defs, n);
        remove_tree(root);
}

static void test_dirs_empty(void) {
        char *none[] = { NULL };
        char *missing[] = { (char *) "/nonexistent/appservice-a", (char *) "/nonexistent/appservice-b", NULL };
        Definition **defs = (Definition **) 1;
        g_autofree char *out = NULL;
        StderrCapture c;
        size_t n = 99;

        stderr_capture_begin(&c);
        g_assert_cmpint(definitions_load_dirs(none, &defs, &n), ==, 0);
        g_assert_cmpuint(n, ==, 0);
        definitions_free(defs, n);

        defs = (Definition **) 1;
        g_assert_cmpint(definitions_load_dirs(missing, &defs, &n), ==, 0);
        g_assert_cmpuint(n, ==, 0);
        definitions_free(defs, n);
        out = stderr_capture_end(&c);

        /* Directories that do not exist are normal (most of the default four), so silent. */
        g_assert_cmpstr(out, ==, "");
}

static void test_allows(void) {
        uid_t uids[] = { 1000 };
        gid_t gids[] = { 100 };
        Definition both = { .allow_uids = uids, .n_allow_uids = 1, .allow_gids = gids, .n_allow_gids = 1 };
        Definition users = { .allow_uids = uids, .n_allow_uids = 1 };
        Definition groups = { .allow_gids = gids, .n_allow_gids = 1 };
        Definition open = {};
        gid_t in[] = { 5, 100 }, out[] = { 5, 1000 };

        /* Root always. */
        g_assert_true(definition_allows(&both, 0, NULL, 0));
        g_assert_true(definition_allows(&users, 0, out, 2));
        g_assert_true(definition_allows(&groups, 0, NULL, 0));

        /* Nobody listed: every local user. */
        g_assert_true(definition_allows(&open, 1234, NULL, 0));
        g_assert_true(definition_allows(&open, 65534, out, 2));

        /* By uid, or by any of the groups (primary and supplementary alike). */
        g_assert_true(definition_allows(&both, 1000, NULL, 0));
        g_assert_true(definition_allows(&both, 1001, in, 2));
        g_assert_true(definition_allows(&both, 1001, gids, 1));
        g_assert_false(definition_allows(&both, 1001, out, 2));
        g_assert_false(definition_allows(&both, 1001, NULL, 0));

        /* A uid list alone does not let groups in, and a group list alone not uids. */
        g_assert_true(definition_allows(&users, 1000, NULL, 0));
        g_assert_false(definition_allows(&users, 1001, in, 2));
        g_assert_true(definition_allows(&groups, 1001, in, 2));
        g_assert_false(definition_allows(&groups, 1000, out, 2));
        /* A gid that equals an allowed uid is not that user. */
        g_assert_false(definition_allows(&users, 1001, out, 2));

        g_assert_false(definition_allows(NULL, 1000, NULL, 0));
}

static void test_allows_from_file(void) {
        _cleanup_(definition_freep) Definition *d = parse_ok(HEAD "AllowUsers=nobody\nAllowGroups=nogroup\n", false);
        struct group *gr = getgrnam("nogroup");
        gid_t nogroup;

        ASSERT_OR_RETURN(d && gr);
        nogroup = gr->gr_gid;
        g_assert_true(definition_allows(d, 65534, NULL, 0));
        g_assert_true(definition_allows(d, 1000, &nogroup, 1));
        g_assert_false(definition_allows(d, 1000, NULL, 0));
        g_assert_true(definition_allows(d, 0, NULL, 0));
}

static void test_name_is_valid(void) {
        char max[256], over[257];

        memset(max, 'a', 255);
        max[255] = '\0';
        memset(over, 'a', 256);
        over[256] = '\0';

        g_assert_true(definition_name_is_valid("com.example.echo"));
        g_assert_true(definition_name_is_valid("ab"));
        g_assert_true(definition_name_is_valid("a-b_c.D9"));
        g_assert_true(definition_name_is_valid("-leading-dash"));
        g_assert_true(definition_name_is_valid("_x"));
        g_assert_true(definition_name_is_valid("9lives"));
        g_assert_true(definition_name_is_valid(max));

        g_assert_false(definition_name_is_valid(NULL));
        g_assert_false(definition_name_is_valid(""));
        g_assert_false(definition_name_is_valid("a"));
        g_assert_false(definition_name_is_valid(over));
        g_assert_false(definition_name_is_valid(".ab"));
        g_assert_false(definition_name_is_valid("a b"));
        g_assert_false(definition_name_is_valid("a/b"));
        g_assert_false(definition_name_is_valid("a:b"));
        g_assert_false(definition_name_is_valid("é1"));
        g_assert_false(definition_name_is_valid("ab\n"));
}

static void test_default_dirs(void) {
        char *const *dirs = definition_default_dirs();

        ASSERT_OR_RETURN(dirs);
        g_assert_cmpstr(dirs[0], ==, "/etc/appservice/services");
        g_assert_cmpstr(dirs[1], ==, "/run/appservice/services");
        g_assert_cmpstr(dirs[2], ==, "/usr/local/share/appservice/services");
        g_assert_cmpstr(dirs[3], ==, "/usr/share/appservice/services");
        g_assert_null(dirs[4]);
}

/* The files that do not load, with what is wrong: a reload keeps the services they declared
 * before, and status and a client's error name them. */
static void test_dirs_load_errors(void) {
        g_autofree char *root = make_temp_dir();
        g_autofree char *good = NULL, *syntax = NULL, *value = NULL, *dup = NULL, *hidden = NULL, *out = NULL;
        char *dirs[] = { root, NULL };
        Definition **defs = NULL;
        DefinitionLoadErrors errors = {};
        size_t n = 0;
        StderrCapture c;

        good = write_definition(root, "a.appservice", "com.a");
        syntax = write_file(root, "b.appservice", "[App Service]\nName=com.b\ngarbage\n", 0644);
        value = write_file(root, "com.c.appservice", "[App Service]\nName=com.c\nProvider=p\nMaxMessageSize=0\n", 0644);
        dup = write_definition(root, "d.appservice", "com.a");
        /* What is wrong in a file others may not read is not told to them either. */
        hidden = write_file(root, "com.e.appservice", "[App Service]\nName=com.e\nProvider=p\nUser=no-such-user-x\n",
                            0600);

        stderr_capture_begin(&c);
        g_assert_cmpint(definitions_load_dirs_full(dirs, &defs, &n, &errors), ==, 1);
        out = stderr_capture_end(&c);
        g_assert_cmpuint(n, ==, 1);
        g_assert_cmpuint(errors.n, ==, 4);
        g_assert_cmpstr(errors.errors[0].path, ==, syntax);
        g_assert_true(g_str_has_prefix(errors.errors[0].message, "line 3: "));
        g_assert_false(errors.errors[0].duplicate);
        g_assert_cmpstr(errors.errors[1].path, ==, value);
        g_assert_cmpstr(errors.errors[1].message, ==,
                        "line 4: MaxMessageSize: must be greater than 0");
        g_assert_cmpstr(errors.errors[2].path, ==, hidden);
        g_assert_null(strstr(errors.errors[2].message, "no-such-user-x"));
        g_assert_nonnull(strstr(errors.errors[2].message, "appservicectl verify"));
        g_assert_cmpstr(errors.errors[3].path, ==, dup);
        g_assert_true(errors.errors[3].duplicate);
        g_assert_nonnull(strstr(errors.errors[3].message, good));
        /* The log has every detail, the hidden file's too. */
        g_assert_nonnull(strstr(out, "no-such-user-x"));

        /* Reload keeps a service only for a file that does not parse, not for a duplicate. */
        g_assert_true(definition_load_errors_has_broken(&errors, syntax));
        g_assert_false(definition_load_errors_has_broken(&errors, dup));
        g_assert_false(definition_load_errors_has_broken(&errors, good));
        /* By name, through the file name that Name= must match. */
        g_assert_true(definition_load_errors_find(&errors, "com.c") == &errors.errors[1]);
        g_assert_null(definition_load_errors_find(&errors, "com"));
        g_assert_null(definition_load_errors_find(&errors, "com.c.appservice"));
        g_assert_null(definition_load_errors_find(&errors, "com.a"));
        definitions_free(defs, n);
        definition_load_errors_done(&errors);
        g_assert_cmpuint(errors.n, ==, 0);

        /* None broken: an empty list. */
        g_assert_cmpint(unlink(syntax), ==, 0);
        g_assert_cmpint(unlink(value), ==, 0);
        g_assert_cmpint(unlink(dup), ==, 0);
        g_assert_cmpint(unlink(hidden), ==, 0);
        defs = NULL;
        stderr_capture_begin(&c);
        g_assert_cmpint(definitions_load_dirs_full(dirs, &defs, &n, &errors), ==, 1);
        g_free(stderr_capture_end(&c));
        g_assert_cmpuint(errors.n, ==, 0);
        definitions_free(defs, n);
        definition_load_errors_done(&errors);
        remove_tree(root);
}

static void test_equal(void) {
        static const char *const variants[] = {
                HEAD,
                HEAD "Description=Echoes\n",
                HEAD "Exec=/bin/echo-provider\n",
                HEAD "Exec=/bin/echo-provider --verbose\n",
                HEAD "SystemdService=echo.service\n",
                HEAD "User=0\n",
                HEAD "AllowUsers=0\n",
                HEAD "AllowGroups=0\n",
                HEAD "MaxMessageSize=1024\n",
                HEAD "MaxPendingRequests=3\n",
                HEAD "MaxConnectionsPerPeer=3\n",
                HEAD "MaxBytesPerUser=3\n",
                HEAD "MaxBytesTotal=3\n",
                HEAD "MaxRequestsPerUser=3\n",
                HEAD "MaxPeersPerUser=3\n",
                HEAD "RequestTimeoutSec=3\n",
                HEAD "ActivationTimeoutSec=3\n",
                HEAD "AutoStart=yes\n",
                HEAD "Restart=on-failure\n",
                HEAD "RestartSec=3\n",
                HEAD "StartLimitBurst=3\n",
                HEAD "StartLimitIntervalSec=3\n",
                HEAD "RetestSec=3\n",
                HEAD "IdleTimeoutSec=3\n",
                HEAD "StopTimeoutSec=3\n",
                HEAD "Bridge=yes\n",
                HEAD "AllowRemote=yes\n",
                HEAD "AllowRemotePrincipals=cloud\n",
                HEAD "AllowRemotePrincipals=cloud node:B\n",
                HEAD "\n[Properties]\ncolour=red\n",
                HEAD "\n[Properties]\ncolour=blue\n",
                "[App Service]\nName=com.example.echo\nProvider=com.example.OtherApp\n",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(variants); i++)
                for (size_t j = 0; j < G_N_ELEMENTS(variants); j++) {
                        _cleanup_(definition_freep) Definition *a = parse_ok(variants[i], true);
                        _cleanup_(definition_freep) Definition *b = parse_ok(variants[j], true);

                        if (definition_equal(a, b) != (i == j))
                                g_test_message("variants %zu and %zu", i, j);
                        g_assert_true(definition_equal(a, b) == (i == j));
                }

        /* Secrets count, and so does where the file is. */
        {
                _cleanup_(definition_freep) Definition *a = parse_ok(HEAD "\n[Secrets]\nkey=1\n", true);
                _cleanup_(definition_freep) Definition *b = parse_ok(HEAD "\n[Secrets]\nkey=2\n", true);
                _cleanup_(definition_freep) Definition *c = parse_ok(HEAD, true);
                g_assert_false(definition_equal(a, b));
                free(c->path);
                c->path = strdup("/elsewhere/com.example.echo.appservice");
                _cleanup_(definition_freep) Definition *d = parse_ok(HEAD, true);
                g_assert_false(definition_equal(c, d));
        }
}

int main(int argc, char *argv[]) {
        unit_test_init(&argc, &argv);

        g_test_add_func("/definition/complete", test_complete);
        g_test_add_func("/definition/defaults", test_defaults);
        g_test_add_func("/definition/errors/name", test_bad_name);
        g_test_add_func("/definition/errors/provider", test_bad_provider);
        g_test_add_func("/definition/errors/exec", test_bad_exec);
        g_test_add_func("/definition/errors/systemd-service", test_bad_systemd_service);
                g_test_add_func("/definition/syslog-identifier", test_syslog_identifier);
g_test_add_func("/definition/errors/user", test_bad_user);
        g_test_add_func("/definition/errors/allow-lists", test_bad_allow_lists);
        g_test_add_func("/definition/errors/numbers", test_bad_numbers);
        g_test_add_func("/definition/errors/timeouts", test_bad_timeouts);
        g_test_add_func("/definition/lifecycle/keys", test_lifecycle_keys);
        g_test_add_func("/definition/lifecycle/values", test_lifecycle_values);
        g_test_add_func("/definition/remote-keys", test_remote_keys);
        g_test_add_func("/definition/allow-direct", test_allow_direct);
        g_test_add_func("/definition/errors/lifecycle", test_bad_lifecycle_values);
        g_test_add_func("/definition/errors/missing-required", test_missing_required);
        g_test_add_func("/definition/errors/syntax", test_syntax_errors);
        g_test_add_func("/definition/limits", test_limits);
        g_test_add_func("/definition/user-limits", test_user_limits);
        g_test_add_func("/definition/unknown-keys-and-sections", test_unknown_keys_and_sections);
        g_test_add_func("/definition/unknown-keys-are-capped", test_unknown_keys_are_capped);
        g_test_add_func("/definition/locale-keys", test_locale_keys);
        g_test_add_func("/definition/repeated-keys", test_repeated_keys);
        g_test_add_func("/definition/trailing-blanks", test_trailing_blanks);
        g_test_add_func("/definition/name-mismatch", test_name_mismatch);
        g_test_add_func("/definition/users", test_users);
        g_test_add_func("/definition/allow-lists", test_allow_lists);
        g_test_add_func("/definition/secrets/parse", test_secrets_parse);
        g_test_add_func("/definition/secrets/load", test_secrets_load);
        g_test_add_func("/definition/exec-trust", test_exec_trust);
        g_test_add_func("/definition/load", test_load_files);
        g_test_add_func("/definition/dirs/precedence-and-skipping", test_dirs);
        g_test_add_func("/definition/dirs/empty", test_dirs_empty);
        g_test_add_func("/definition/dirs/load-errors", test_dirs_load_errors);
        g_test_add_func("/definition/equal", test_equal);
        g_test_add_func("/definition/allows/matrix", test_allows);
        g_test_add_func("/definition/allows/from-file", test_allows_from_file);
        g_test_add_func("/definition/name-is-valid", test_name_is_valid);
        g_test_add_func("/definition/default-dirs", test_default_dirs);

        return g_test_run();
}
