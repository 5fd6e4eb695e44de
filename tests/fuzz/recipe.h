/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Builds D-Bus values into an sd-bus message from a fuzzer's input, read as a recipe: each
 * choice (a type, a count, a string) comes from the next bytes. Every type D-Bus has can come
 * out, containers nest as deep as the input asks (past D-Bus's limit of 64 too), and chains of
 * variants can be asked for in one step, so that the depth limits are reached quickly. */

#include <systemd/sd-bus.h>

#include "fuzz-input.h"

/* How deep a recipe may nest containers (sd-bus itself allows 128). */
#define RECIPE_MAX_DEPTH 100

/* Appends an a{sv} (a ValueSet): keys from the input, including empty, over-long and repeated
 * ones. Returns 0, or a negative errno when sd-bus refused what the recipe asked for (the message
 * is then unusable). */
int recipe_append_value_set(sd_bus_message *m, FuzzInput *in, unsigned depth);

/* Appends one value of a type the input chooses. */
int recipe_append_value(sd_bus_message *m, FuzzInput *in, unsigned depth);

/* How many unix fds the recipes appended since the program started (they do not travel as bytes). */
extern unsigned recipe_n_fds;

/* A string the input chooses, valid UTF-8 (sd-bus refuses anything else on sending): from a few
 * fixed ones that matter to the broker ("", 255 and 256 bytes, the names of the harness's
 * services) or made of the input's bytes. Free it. */
char *recipe_string(FuzzInput *in);
