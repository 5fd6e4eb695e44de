/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* appservicectl verify FILE...: definition files checked by the broker's own parser (appserviced
 * --verify), so that what it says is what the broker would do with them. No bus is needed. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "appservicectl.h"

static const char verify_summary[] =
        "Check app service definition files as the broker would load them.";

static const char verify_description[] =
        "Each FILE is read by the broker's own parser (appserviced --verify), with the trust a\n"
        "broker run by you would give it from its owner and mode (as root: the system broker's),\n"
        "its contract looked up and its Exec= program checked. Each problem is printed on\n"
        "standard error as FILE:LINE: KEY: MESSAGE, after error: (the broker would skip the\n"
        "file) or warning: (it would load it, ignoring or doubting something). Exit status 0\n"
        "when every file would load, 1 otherwise.\n"
        "The broker is APPSERVICED from the environment if set, else the installed one.\n";

int ctl_verb_verify(Ctl *ctl, int argc, char **argv) {
        g_auto(GStrv) contracts_dirs = NULL;
        g_autoptr(GOptionContext) context = NULL;
        g_autoptr(GPtrArray) broker_argv = g_ptr_array_new_with_free_func(g_free);
        const GOptionEntry entries[] = {
                { "contracts-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &contracts_dirs,
                  "Look for contracts in DIR instead of the contract directories (more than once: in each)", "DIR" },
                G_OPTION_ENTRY_NULL
        };

        context = ctl_option_context_new(ctl, "verify FILE...", verify_summary, verify_description);
        g_option_context_add_main_entries(context, entries, NULL);
        if (!ctl_parse_verb_options(ctl, context, &argc, &argv, "verify"))
                return CTL_EXIT_USAGE;
        if (argc < 2)
                return ctl_usage_error("verify", "missing FILE");
        if (ctl->system || ctl->user || ctl->address)
                return ctl_usage_error("verify", "verify needs no bus: --system, --user and --address do not apply");

        g_ptr_array_add(broker_argv, g_strdup(ctl_broker_program()));
        g_ptr_array_add(broker_argv, g_strdup("--verify"));
        for (char **d = contracts_dirs; d && *d; d++)
                g_ptr_array_add(broker_argv, g_strconcat("--contracts-dir=", *d, NULL));
        /* "--": a FILE that starts with "-" is a file, not an option of the broker's. */
        g_ptr_array_add(broker_argv, g_strdup("--"));
        for (int i = 1; i < argc; i++)
                g_ptr_array_add(broker_argv, g_strdup(argv[i]));
        g_ptr_array_add(broker_argv, NULL);

        fflush(stdout);
        execv(broker_argv->pdata[0], (char **) broker_argv->pdata);
        fprintf(stderr, "appservicectl verify: cannot run %s: %s\n", (const char *) broker_argv->pdata[0],
                g_strerror(errno));
        return CTL_EXIT_FAILURE;
}
