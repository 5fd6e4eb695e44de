/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A parser for the GLib key-file syntax that remembers where each key stood, so that errors can
 * name the file, the line and the key (GKeyFile cannot). Only what definition files need:
 * groups, key=value pairs, comment lines, the value escapes \s \n \t \r \\ and UTF-8 checks. */

#include <stddef.h>

typedef struct KeyFileEntry {
        char *group;
        char *key;       /* may carry a locale suffix, e.g. "Description[de]" */
        char *value;     /* unescaped */
        unsigned line;   /* 1-based */
} KeyFileEntry;

typedef struct KeyFile {
        KeyFileEntry *entries;  /* in file order; a repeated key appears twice, the later one wins */
        size_t n_entries;
} KeyFile;

typedef struct KeyFileError {
        unsigned line;   /* 0 when the error is not tied to a line */
        char *key;       /* NULL when no key is involved */
        char *message;   /* a sentence for people */
} KeyFileError;

/* Parses text (of size bytes; NULs are an error). On failure returns a negative errno (-EBADMSG for
 * syntax errors, -ENOMEM) and fills *ret_error when given. */
int keyfile_parse(const char *text, size_t size, KeyFile **ret, KeyFileError *ret_error);
KeyFile *keyfile_free(KeyFile *kf);

/* The entry that wins for group/key (the last one), or NULL. */
const KeyFileEntry *keyfile_lookup(const KeyFile *kf, const char *group, const char *key);

void keyfile_error_done(KeyFileError *e);
