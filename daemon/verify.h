/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* appserviced --verify FILE...: definition files loaded one by one as the broker loads them
 * (trust from the file's owner and mode, [Secrets], Exec=, the contract), without a bus, each
 * problem logged as the broker would log it; plus what only shows once a provider is started or
 * a second file comes along: an Exec= program that cannot run, a Name= declared twice.
 * `contracts_dirs` is the contract search path (NULL: the default). Returns the number of files
 * the broker would skip, or a negative errno. */
int verify_definitions(char *const *paths, char *const *contracts_dirs);
