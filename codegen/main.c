/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* appservice-codegen CONTRACT --lang c|python --side client|provider [--output-dir DIR]
 * [--namespace NAME]: README.md here. */

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "config.h"

static char *arg_lang, *arg_side, *arg_output_dir, *arg_namespace;
static gboolean arg_version;

static const GOptionEntry entries[] = {
        { "lang", 'l', 0, G_OPTION_ARG_STRING, &arg_lang, "The language: c or python", "LANG" },
        { "side", 's', 0, G_OPTION_ARG_STRING, &arg_side, "client (calls the methods) or provider (answers them)", "SIDE" },
        { "output-dir", 'o', 0, G_OPTION_ARG_FILENAME, &arg_output_dir, "Where to write the files (default: .)", "DIR" },
        { "namespace", 'n', 0, G_OPTION_ARG_STRING, &arg_namespace,
          "The type prefix, CamelCase (default: from the contract's name, com.example.hello gives Hello)", "NAME" },
        { "version", 0, 0, G_OPTION_ARG_NONE, &arg_version, "Show the version", NULL },
        G_OPTION_ENTRY_NULL,
};

static gboolean namespace_is_valid(const char *ns) {
        if (!g_ascii_isupper(ns[0]))
                return FALSE;
        for (const char *p = ns; *p; p++)
                if (!g_ascii_isalnum(*p))
                        return FALSE;
        return strlen(ns) <= 64;
}

static int usage(GOptionContext *context, const char *what) {
        g_autofree char *help = g_option_context_get_help(context, TRUE, NULL);

        fprintf(stderr, "appservice-codegen: %s\n\n%s", what, help);
        return 2;
}

int main(int argc, char *argv[]) {
        g_autoptr(GOptionContext) context = g_option_context_new("CONTRACT");
        g_autoptr(GError) error = NULL;
        g_autofree char *message = NULL;
        Contract *contract = NULL;
        Codegen g = { 0 };
        gboolean ok;
        int r;

        setlocale(LC_ALL, "");
        g_option_context_add_main_entries(context, entries, NULL);
        g_option_context_set_summary(context,
                "Compiles an app service contract (varlink's interface language with D-Bus's types) into\n"
                "typed client or provider code on libappservice: a GObject in C, or a Python class.");
        if (!g_option_context_parse(context, &argc, &argv, &error))
                return usage(context, error->message);
        if (arg_version) {
                printf("appservice-codegen %s\n", APPSERVICE_VERSION);
                return 0;
        }
        if (argc != 2)
                return usage(context, "one CONTRACT file is needed");
        if (!arg_lang || (strcmp(arg_lang, "c") != 0 && strcmp(arg_lang, "python") != 0))
                return usage(context, "--lang must be c or python");
        if (!arg_side || (strcmp(arg_side, "client") != 0 && strcmp(arg_side, "provider") != 0))
                return usage(context, "--side must be client or provider");
        if (arg_namespace && !namespace_is_valid(arg_namespace))
                return usage(context, "--namespace must be CamelCase letters and digits, starting with a capital");

        r = contract_load(argv[1], &contract, &message);
        if (r < 0) {
                fprintf(stderr, "appservice-codegen: %s\n", message ? message : strerror(-r));
                return 1;
        }
        g = (Codegen) {
                .contract = contract,
                .contract_path = argv[1],
                .side = strcmp(arg_side, "client") == 0 ? CODEGEN_SIDE_CLIENT : CODEGEN_SIDE_PROVIDER,
                .ns = arg_namespace ? g_strdup(arg_namespace) : codegen_default_namespace(contract->name),
        };
        g.lower = codegen_snake(g.ns);
        g.upper = g_ascii_strup(g.lower, -1);
        if (strcmp(arg_lang, "c") == 0)
                ok = codegen_c(&g, arg_output_dir ? arg_output_dir : ".", &error);
        else
                ok = codegen_python(&g, arg_output_dir ? arg_output_dir : ".", &error);
        if (!ok)
                fprintf(stderr, "appservice-codegen: %s\n", error->message);
        g_free(g.ns);
        g_free(g.lower);
        g_free(g.upper);
        contract_free(contract);
        return ok ? 0 : 1;
}
