/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokens.h"

#define TOKEN_MIN_LENGTH 16
#define TOKENS_FILE_MAX (1024 * 1024)

struct GatewayTokens {
        GPtrArray *callers;   /* of GatewayCaller */
};

static void caller_free(gpointer p) {
        GatewayCaller *c = p;

        g_free(c->principal);
        g_free(c->user);
        if (c->token) {
                explicit_bzero(c->token, strlen(c->token));
                g_free(c->token);
        }
        g_free(c);
}

void gateway_tokens_free(GatewayTokens *tokens) {
        if (!tokens)
                return;
        g_ptr_array_unref(tokens->callers);
        g_free(tokens);
}

static gboolean is_name(const char *s) {
        if (!*s || strlen(s) > 255)
                return FALSE;
        for (; *s; s++)
                if (*s <= ' ' || *s > '~')
                        return FALSE;
        return TRUE;
}

static gboolean resolve_user(GatewayCaller *c) {
        struct passwd *pw;
        char *end;
        unsigned long id;

        errno = 0;
        id = strtoul(c->user, &end, 10);
        pw = (*c->user && !*end && errno == 0) ? getpwuid((uid_t) id) : getpwnam(c->user);
        if (!pw)
                return FALSE;
        c->uid = pw->pw_uid;
        c->gid = pw->pw_gid;
        return TRUE;
}

/* The file as text, refused unless it is root's alone. */
static char *read_private(const char *path, GError **error) {
        g_autofree char *text = NULL;
        struct stat st;
        gsize length;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0) {
                int e = errno;

                if (fd >= 0)
                        close(fd);
                g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s: %s", path, g_strerror(e));
                return NULL;
        }
        close(fd);
        if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077) != 0 || st.st_size > TOKENS_FILE_MAX) {
                g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                            "%s: a tokens file must be a regular file of at most 1 MiB owned by root that no one "
                            "else may read or write (owner uid %u, mode %04o)",
                            path, (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777));
                return NULL;
        }
        if (!g_file_get_contents(path, &text, &length, error))
                return NULL;
        return g_steal_pointer(&text);
}

static GatewayCaller *parse_line(const char *path, unsigned n, const char *line, GError **error) {
        g_auto(GStrv) words = g_strsplit_set(line, " \t", -1);
        g_autoptr(GPtrArray) parts = g_ptr_array_new();
        GatewayCaller *c;

        for (char **w = words; *w; w++)
                if (**w)
                        g_ptr_array_add(parts, *w);
        if (parts->len != 3 || !is_name(parts->pdata[0]) || strlen(parts->pdata[2]) < TOKEN_MIN_LENGTH ||
            !is_name(parts->pdata[2])) {
                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE,
                            "%s:%u: expected PRINCIPAL USER TOKEN (a token of at least %d printable characters)",
                            path, n, TOKEN_MIN_LENGTH);
                return NULL;
        }
        c = g_new0(GatewayCaller, 1);
        c->principal = g_strdup(parts->pdata[0]);
        c->user = g_strdup(parts->pdata[1]);
        c->token = g_strdup(parts->pdata[2]);
        if (!resolve_user(c)) {
                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE, "%s:%u: no user '%s' on this system",
                            path, n, c->user);
                caller_free(c);
                return NULL;
        }
        return c;
}

GatewayTokens *gateway_tokens_load(const char *path, GError **error) {
        g_autofree char *text = read_private(path, error);
        g_autoptr(GatewayTokens) tokens = NULL;
        g_auto(GStrv) lines = NULL;
        unsigned n = 0;

        if (!text)
                return NULL;
        tokens = g_new0(GatewayTokens, 1);
        tokens->callers = g_ptr_array_new_with_free_func(caller_free);
        lines = g_strsplit(text, "\n", -1);
        explicit_bzero(text, strlen(text));
        for (char **l = lines; *l; l++) {
                g_autofree char *line = g_strstrip(g_strdup(*l));
                GatewayCaller *c;

                n++;
                if (!*line || *line == '#')
                        continue;
                c = parse_line(path, n, line, error);
                if (!c)
                        return NULL;
                for (guint i = 0; i < tokens->callers->len; i++)
                        if (strcmp(((GatewayCaller *) tokens->callers->pdata[i])->token, c->token) == 0) {
                                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE,
                                            "%s:%u: this token is given on an earlier line too", path, n);
                                caller_free(c);
                                return NULL;
                        }
                g_ptr_array_add(tokens->callers, c);
        }
        for (char **l = lines; *l; l++)
                explicit_bzero(*l, strlen(*l));
        return g_steal_pointer(&tokens);
}

/* Equal in time that depends on the lengths only. */
static gboolean same(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        unsigned char diff = la != lb;

        for (size_t i = 0; i < la; i++)
                diff |= (unsigned char) (a[i] ^ b[i < lb ? i : 0]);
        return diff == 0;
}

const GatewayCaller *gateway_tokens_find(const GatewayTokens *tokens, const char *token) {
        const GatewayCaller *found = NULL;

        if (!tokens || !token)
                return NULL;
        for (guint i = 0; i < tokens->callers->len; i++) {
                const GatewayCaller *c = tokens->callers->pdata[i];

                if (same(token, c->token) && !found)
                        found = c;
        }
        return found;
}

guint gateway_tokens_count(const GatewayTokens *tokens) {
        return tokens ? tokens->callers->len : 0;
}
