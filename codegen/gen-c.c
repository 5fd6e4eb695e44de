/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The C generator: for --side client, NS-client.h/.c (a GObject per contract wrapping an
 * AppServiceConnection: each method as an async call, its _finish and its _sync twin; the
 * contract's callbacks as handlers); for --side provider, NS-provider.h/.c (a GObject wrapping an
 * AppServiceProvider that dispatches each method to a typed handler, and calls the callbacks).
 * README.md here shows the result for the Hello contract. */

#include <string.h>

#include "codegen.h"

/* How a field's value crosses the generated API. */
typedef enum {
        C_SCALAR,  /* a C value: gboolean, gint32, gdouble... */
        C_STRING,  /* const gchar * in, gchar ** out */
        C_VARIANT, /* GVariant * (floating in, full out) */
} CKind;

typedef struct {
        CKind kind;
        const char *ctype;    /* C_SCALAR's type */
        const char *make;     /* g_variant_new_* */
        const char *get;      /* g_variant_get_* (C_SCALAR) */
} CType;

static CType c_type(const ContractField *f) {
        static const struct {
                char code;
                CType t;
        } scalars[] = {
                { 'b', { C_SCALAR, "gboolean", "g_variant_new_boolean", "g_variant_get_boolean" } },
                { 'y', { C_SCALAR, "guint8", "g_variant_new_byte", "g_variant_get_byte" } },
                { 'n', { C_SCALAR, "gint16", "g_variant_new_int16", "g_variant_get_int16" } },
                { 'q', { C_SCALAR, "guint16", "g_variant_new_uint16", "g_variant_get_uint16" } },
                { 'i', { C_SCALAR, "gint32", "g_variant_new_int32", "g_variant_get_int32" } },
                { 'u', { C_SCALAR, "guint32", "g_variant_new_uint32", "g_variant_get_uint32" } },
                { 'x', { C_SCALAR, "gint64", "g_variant_new_int64", "g_variant_get_int64" } },
                { 't', { C_SCALAR, "guint64", "g_variant_new_uint64", "g_variant_get_uint64" } },
                { 'd', { C_SCALAR, "gdouble", "g_variant_new_double", "g_variant_get_double" } },
                { 's', { C_STRING, NULL, "g_variant_new_string", NULL } },
                { 'o', { C_STRING, NULL, "g_variant_new_object_path", NULL } },
                { 'g', { C_STRING, NULL, "g_variant_new_signature", NULL } },
        };
        const ContractType *t = f->type;

        if (t->kind == CONTRACT_KIND_ENUM)
                return (CType) { C_STRING, NULL, "g_variant_new_string", NULL };
        if (t->kind == CONTRACT_KIND_SCALAR)
                for (size_t i = 0; i < G_N_ELEMENTS(scalars); i++)
                        if (scalars[i].code == t->scalar) {
                                /* An optional number has no "absent" value in C: a GVariant, or NULL. */
                                if (scalars[i].t.kind == C_SCALAR && f->optional)
                                        break;
                                return scalars[i].t;
                        }
        return (CType) { C_VARIANT, NULL, NULL, NULL };
}

/* The GVariantType expression a value is checked against, or "NULL" for any. */
static char *variant_type_expr(const ContractType *t) {
        if (!t->signature)
                return g_strdup("NULL");
        return g_strdup_printf("G_VARIANT_TYPE(\"%s\")", t->signature);
}

/* What a reader of the generated header needs of a GVariant field. */
static void doc_field(GString *out, const ContractField *f, const char *direction) {
        CType ct = c_type(f);

        g_string_append_printf(out, " * @%s%s: ", direction, f->name);
        if (ct.kind == C_VARIANT)
                g_string_append_printf(out, "(%s) `%s`, the contract's %s%s. ",
                                       *direction ? "out" : "transfer floating",
                                       f->type->signature ? f->type->signature : "a value of any type",
                                       f->optional ? "?" : "", contract_type_describe(f->type));
        else
                g_string_append_printf(out, "%s%s. ", f->optional ? "?" : "", contract_type_describe(f->type));
        if (f->optional)
                g_string_append(out, "Optional: %NULL leaves it out. ");
        if (f->doc) {
                g_autofree char *flat = g_strdelimit(g_strdup(f->doc), "\n", ' ');
                g_string_append(out, flat);
        }
        g_string_append_c(out, '\n');
}

/* ", const gchar *text, gint32 count" */
static void append_in_params(GString *out, const ContractType *record) {
        for (size_t i = 0; i < record->n_fields; i++) {
                const ContractField *f = &record->fields[i];
                g_autofree char *id = codegen_c_identifier(f->name);
                CType ct = c_type(f);

                g_string_append_printf(out, ", %s%s", ct.kind == C_SCALAR ? ct.ctype : ct.kind == C_STRING ? "const gchar *" : "GVariant *",
                                       ct.kind == C_SCALAR ? " " : "");
                g_string_append(out, id);
        }
}

/* ", gchar **out_result" */
static void append_out_params(GString *out, const ContractType *record) {
        for (size_t i = 0; i < record->n_fields; i++) {
                const ContractField *f = &record->fields[i];
                g_autofree char *id = codegen_snake(f->name);  /* after "out_": no clash */
                CType ct = c_type(f);

                g_string_append_printf(out, ", %s%s*out_%s",
                                       ct.kind == C_SCALAR ? ct.ctype : ct.kind == C_STRING ? "gchar *" : "GVariant *",
                                       ct.kind == C_SCALAR ? " " : "", id);
        }
}

/* ", out_result, error);" closing a call that fills the out arguments, and its function. */
static void append_out_args(GString *out, const ContractType *record) {
        for (size_t i = 0; i < record->n_fields; i++) {
                g_autofree char *id = codegen_snake(record->fields[i].name);  /* after "out_": no clash */
                g_string_append_printf(out, ", out_%s", id);
        }
        g_string_append(out, ", error);\n}\n\n");
}

/* Statements adding each field of `record` to the GVariantBuilder `b`. */
static void append_build(GString *out, const ContractType *record) {
        for (size_t i = 0; i < record->n_fields; i++) {
                const ContractField *f = &record->fields[i];
                g_autofree char *id = codegen_c_identifier(f->name);
                CType ct = c_type(f);

                if (ct.kind == C_SCALAR)
                        g_string_append_printf(out, "        g_variant_builder_add(&b, \"{sv}\", \"%s\", %s(%s));\n", f->name,
                                               ct.make, id);
                else if (ct.kind == C_STRING)
                        g_string_append_printf(out, "        if (%s)\n                g_variant_builder_add(&b, \"{sv}\", \"%s\", %s(%s));\n",
                                               id, f->name, ct.make, id);
                else
                        g_string_append_printf(out, "        if (%s)\n                g_variant_builder_add(&b, \"{sv}\", \"%s\", %s);\n", id,
                                               f->name, id);
        }
}

/* Preconditions of a call's parameters: required pointers given, GVariants of the right type.
 * `value`: what g_return_val_if_fail() returns, or NULL for g_return_if_fail(). */
static void append_checks(GString *out, const ContractType *record, const char *value) {
        for (size_t i = 0; i < record->n_fields; i++) {
                const ContractField *f = &record->fields[i];
                g_autofree char *id = codegen_c_identifier(f->name);
                g_autofree char *type = variant_type_expr(f->type);
                CType ct = c_type(f);

                if (ct.kind != C_SCALAR && !f->optional)
                        g_string_append_printf(out, "        g_return%s_if_fail(%s != NULL%s%s);\n", value ? "_val" : "", id,
                                               value ? ", " : "", value ? value : "");
                if (ct.kind == C_VARIANT && f->type->signature)
                        g_string_append_printf(out, "        g_return%s_if_fail(!%s || g_variant_is_of_type(%s, %s)%s%s);\n",
                                               value ? "_val" : "", id, id, type, value ? ", " : "", value ? value : "");
        }
}

/* A parameter list from ", a, b" (or "" for "void"). */
static const char *params(const GString *list) {
        return list->len > 2 ? list->str + 2 : "void";
}

typedef struct {
        const Codegen *g;
        GString *h, *c;
        const char *obj;       /* "HelloClient" */
        const char *obj_lower; /* "hello_client" */
        const char *inv;       /* "HelloInvocation" */
        const char *inv_lower; /* "hello_invocation" */
        ContractMemberKind calls;    /* what this side sends: methods (client), callbacks (provider) */
        ContractMemberKind handles;  /* what it answers */
        gboolean needs_connection;   /* a call names its connection (the provider's side) */
} Side;

/* The shared helpers of one generated .c file. */
static void append_helpers(Side *s) {
        const Codegen *g = s->g;

        g_string_append_printf(s->c,
                "/* The value of @key in @message: absent (or null, @av []) is %%NULL, and an error when\n"
                " * @required; a value of another type than @type is an error. */\n"
                "G_GNUC_UNUSED static gboolean %s_take(GVariant *message, const gchar *key, const GVariantType *type, gboolean required,\n"
                "                        GVariant **out, GError **error) {\n"
                "        g_autoptr(GVariant) value = g_variant_lookup_value(message, key, NULL);\n\n"
                "        *out = NULL;\n"
                "        if (value && app_service_value_is_null(value))\n"
                "                g_clear_pointer(&value, g_variant_unref);\n"
                "        if (!value) {\n"
                "                if (required)\n"
                "                        g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_CONTRACT_VIOLATION,\n"
                "                                    \"contract %s: '%%s' is missing\", key);\n"
                "                return !required;\n"
                "        }\n"
                "        if (type && !g_variant_is_of_type(value, type)) {\n"
                "                g_set_error(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_CONTRACT_VIOLATION,\n"
                "                            \"contract %s: '%%s' is %%s, not %%.*s\", key, g_variant_get_type_string(value),\n"
                "                            (int) g_variant_type_get_string_length(type), g_variant_type_peek_string(type));\n"
                "                return FALSE;\n"
                "        }\n"
                "        *out = g_steal_pointer(&value);\n"
                "        return TRUE;\n"
                "}\n\n",
                g->lower, g->contract->name, g->contract->name);

        /* An error response as a GError of the contract's domain. */
        g_string_append_printf(s->c,
                "G_GNUC_UNUSED static const gchar *const %s_error_names[] = {\n", g->lower);
        g_string_append(s->c, "        NULL,\n");
        for (size_t i = 0; i < g->contract->n_members; i++)
                if (g->contract->members[i].kind == CONTRACT_ERROR)
                        g_string_append_printf(s->c, "        \"%s\",\n", g->contract->members[i].name);
        g_string_append_printf(s->c,
                "};\n\n"
                "/* The answer's ValueSet, or the error it is: the library's, or the contract's. */\n"
                "G_GNUC_UNUSED static GVariant *%s_answer(AppServiceResponse *response, GError **error) {\n"
                "        GVariant *message;\n"
                "        const gchar *name = NULL;\n\n"
                "        if (app_service_response_get_status(response) != APP_SERVICE_RESPONSE_STATUS_SUCCESS) {\n"
                "                const GError *e = app_service_response_get_error(response);\n\n"
                "                if (e)\n"
                "                        g_propagate_error(error, g_error_copy(e));\n"
                "                else\n"
                "                        g_set_error_literal(error, APP_SERVICE_ERROR, APP_SERVICE_ERROR_FAILED, \"no answer\");\n"
                "                return NULL;\n"
                "        }\n"
                "        message = app_service_response_get_message(response);\n"
                "        if (g_variant_lookup(message, \"Error\", \"&s\", &name)) {\n"
                "                g_autofree gchar *text = g_variant_print(message, FALSE);\n"
                "                gint code = 0;\n\n"
                "                for (gsize i = 1; i < G_N_ELEMENTS(%s_error_names); i++)\n"
                "                        if (g_strcmp0(%s_error_names[i], name) == 0)\n"
                "                                code = (gint) i;\n"
                "                g_set_error(error, %s_ERROR, code, \"%%s: %%s\", name, text);\n"
                "                return NULL;\n"
                "        }\n"
                "        return g_variant_ref(message);\n"
                "}\n\n",
                g->lower, g->lower, g->lower, g->upper);
}

static void append_error_domain(Side *s) {
        const Codegen *g = s->g;

        g_string_append_printf(s->h,
                "/**\n * %sError:\n * @%s_ERROR_UNDECLARED: an error response naming no error of the contract.\n",
                g->ns, g->upper);
        for (size_t i = 0; i < g->contract->n_members; i++) {
                const ContractMember *m = &g->contract->members[i];
                g_autofree char *snake = codegen_snake(m->name);
                g_autofree char *up = g_ascii_strup(snake, -1);

                if (m->kind != CONTRACT_ERROR)
                        continue;
                g_string_append_printf(s->h, " * @%s_ERROR_%s: the contract's error %s.", g->upper, up, m->name);
                if (m->doc) {
                        g_autofree char *flat = g_strdelimit(g_strdup(m->doc), "\n", ' ');
                        g_string_append_printf(s->h, " %s", flat);
                }
                g_string_append_c(s->h, '\n');
        }
        g_string_append_printf(s->h,
                " *\n * The errors of contract %s, in the domain %s_ERROR: an error response (its key\n"
                " * \"Error\") as a #GError, whose message holds the response as GVariant text.\n */\n"
                "#ifndef %s_ERROR\n#define %s_ERROR (%s_error_quark())\n"
                "static inline GQuark %s_error_quark(void) {\n        return g_quark_from_static_string(\"%s-error-quark\");\n}\n\n"
                "typedef enum {\n        %s_ERROR_UNDECLARED,\n",
                g->contract->name, g->upper, g->upper, g->upper, g->lower, g->lower, g->lower, g->upper);
        for (size_t i = 0; i < g->contract->n_members; i++) {
                g_autofree char *snake = codegen_snake(g->contract->members[i].name);
                g_autofree char *up = g_ascii_strup(snake, -1);

                if (g->contract->members[i].kind == CONTRACT_ERROR)
                        g_string_append_printf(s->h, "        %s_ERROR_%s,\n", g->upper, up);
        }
        g_string_append_printf(s->h, "} %sError;\n#endif\n\n", g->ns);
}

/* One call (a method from the client, a callback from the provider): async, _finish, _sync. */
static void append_call(Side *s, const ContractMember *m) {
        const Codegen *g = s->g;
        g_autofree char *snake = codegen_snake(m->name);
        g_autoptr(GString) in = g_string_new(NULL), outs = g_string_new(NULL), args = g_string_new(NULL);
        const char *conn_param = s->needs_connection ? ", AppServiceConnection *connection" : "";
        const char *conn_expr = s->needs_connection ? "connection" : "self->connection";

        append_in_params(in, m->input);
        append_out_params(outs, m->output);
        for (size_t i = 0; i < m->input->n_fields; i++) {
                g_autofree char *id = codegen_c_identifier(m->input->fields[i].name);
                g_string_append_printf(args, ", %s", id);
        }

        /* The header, with its documentation. */
        g_string_append_printf(s->h, "/**\n * %s_call_%s:\n * @self: a #%s\n", s->obj_lower, snake, s->obj);
        if (s->needs_connection)
                g_string_append(s->h, " * @connection: the connection to the client to send it on\n");
        for (size_t i = 0; i < m->input->n_fields; i++)
                doc_field(s->h, &m->input->fields[i], "");
        g_string_append_printf(s->h,
                " * @cancellable: (nullable): a #GCancellable\n * @callback: called with the answer\n"
                " * @user_data: data for @callback\n *\n * Sends %s %s", contract_member_kind_to_string(m->kind), m->name);
        if (m->doc) {
                g_autofree char *flat = g_strdelimit(g_strdup(m->doc), "\n", ' ');
                g_string_append_printf(s->h, ": %s", flat);
        }
        g_string_append_printf(s->h, ".\n * Finish with %s_call_%s_finish().\n */\n"
                               "void %s_call_%s(%s *self%s%s, GCancellable *cancellable, GAsyncReadyCallback callback,\n"
                               "        gpointer user_data);\n",
                               s->obj_lower, snake, s->obj_lower, snake, s->obj, conn_param, in->str);
        g_string_append_printf(s->h, "/**\n * %s_call_%s_finish:\n * @self: a #%s\n * @result: the #GAsyncResult\n",
                               s->obj_lower, snake, s->obj);
        for (size_t i = 0; i < m->output->n_fields; i++)
                doc_field(s->h, &m->output->fields[i], "out_");
        g_string_append_printf(s->h,
                " * @error: the library's error, or one of %s_ERROR (the contract's errors)\n *\n"
                " * Returns: whether %s answered with its results (filled into the out arguments,\n"
                " * which may be %%NULL to ignore one)\n */\n"
                "gboolean %s_call_%s_finish(%s *self, GAsyncResult *result%s, GError **error);\n"
                "/**\n * %s_call_%s_sync: (skip)\n *\n * %s_call_%s() and its _finish() in one, blocking.\n *\n"
                " * Returns: as %s_call_%s_finish()\n */\n"
                "gboolean %s_call_%s_sync(%s *self%s%s%s, GCancellable *cancellable, GError **error);\n\n",
                g->upper, m->name, s->obj_lower, snake, s->obj, outs->str, s->obj_lower, snake, s->obj_lower, snake,
                s->obj_lower, snake, s->obj_lower, snake, s->obj, conn_param, in->str, outs->str);

        /* The message. */
        g_string_append_printf(s->c, "static GVariant *%s_message_%s(%s) {\n"
                               "        GVariantBuilder b;\n\n"
                               "        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);\n"
                               "        g_variant_builder_add(&b, \"{sv}\", \"Action\", g_variant_new_string(\"%s\"));\n",
                               s->obj_lower, snake, params(in), m->name);
        append_build(s->c, m->input);
        g_string_append(s->c, "        return g_variant_builder_end(&b);\n}\n\n");

        /* The results, from the answer. */
        g_string_append_printf(s->c, "static gboolean %s_results_%s(GVariant *message%s, GError **error) {\n",
                               s->obj_lower, snake, outs->str);
        for (size_t i = 0; i < m->output->n_fields; i++) {
                g_autofree char *id = codegen_snake(m->output->fields[i].name);  /* after "out_" or "v_": no clash */
                g_string_append_printf(s->c, "        g_autoptr(GVariant) v_%s = NULL;\n", id);
        }
        if (m->output->n_fields == 0)
                g_string_append(s->c, "        (void) message;\n        (void) error;\n");
        g_string_append(s->c, "\n");
        for (size_t i = 0; i < m->output->n_fields; i++) {
                const ContractField *f = &m->output->fields[i];
                g_autofree char *id = codegen_snake(f->name);
                g_autofree char *type = variant_type_expr(f->type);

                g_string_append_printf(s->c, "        if (!%s_take(message, \"%s\", %s, %s, &v_%s, error))\n                return FALSE;\n",
                                       g->lower, f->name, type, f->optional ? "FALSE" : "TRUE", id);
        }
        for (size_t i = 0; i < m->output->n_fields; i++) {
                const ContractField *f = &m->output->fields[i];
                g_autofree char *id = codegen_snake(f->name);
                CType ct = c_type(f);

                if (ct.kind == C_SCALAR)
                        g_string_append_printf(s->c, "        if (out_%s)\n                *out_%s = %s(v_%s);\n", id, id, ct.get, id);
                else if (ct.kind == C_STRING)
                        g_string_append_printf(s->c, "        if (out_%s)\n                *out_%s = v_%s ? g_variant_dup_string(v_%s, NULL) : NULL;\n",
                                               id, id, id, id);
                else
                        g_string_append_printf(s->c, "        if (out_%s)\n                *out_%s = g_steal_pointer(&v_%s);\n", id, id, id);
        }
        g_string_append(s->c, "        return TRUE;\n}\n\n");

        /* Async, finish, sync. */
        g_string_append_printf(s->c,
                "void %s_call_%s(%s *self%s%s, GCancellable *cancellable, GAsyncReadyCallback callback,\n"
                "        gpointer user_data) {\n"
                "        GTask *task;\n\n"
                "        g_return_if_fail(%s_IS_%s(self));\n",
                s->obj_lower, snake, s->obj, conn_param, in->str, g->upper,
                s->calls == CONTRACT_METHOD ? "CLIENT" : "PROVIDER");
        if (s->needs_connection)
                g_string_append(s->c, "        g_return_if_fail(APP_SERVICE_IS_CONNECTION(connection));\n");
        append_checks(s->c, m->input, NULL);
        g_string_append_printf(s->c,
                "        task = g_task_new(self, cancellable, callback, user_data);\n"
                "        g_task_set_source_tag(task, %s_call_%s);\n"
                "        app_service_connection_send_message(%s, %s_message_%s(%s), cancellable, %s_sent, task);\n"
                "}\n\n",
                s->obj_lower, snake, conn_expr, s->obj_lower, snake, args->len > 2 ? args->str + 2 : "", s->obj_lower);
        g_string_append_printf(s->c,
                "gboolean %s_call_%s_finish(%s *self, GAsyncResult *result%s, GError **error) {\n"
                "        g_autoptr(GVariant) message = NULL;\n\n"
                "        g_return_val_if_fail(g_task_is_valid(result, self), FALSE);\n"
                "        message = g_task_propagate_pointer(G_TASK(result), error);\n"
                "        return message && %s_results_%s(message",
                s->obj_lower, snake, s->obj, outs->str, s->obj_lower, snake);
        append_out_args(s->c, m->output);
        g_string_append_printf(s->c,
                "gboolean %s_call_%s_sync(%s *self%s%s%s, GCancellable *cancellable, GError **error) {\n"
                "        g_autoptr(AppServiceResponse) response = NULL;\n"
                "        g_autoptr(GVariant) message = NULL;\n\n"
                "        g_return_val_if_fail(%s_IS_%s(self), FALSE);\n",
                s->obj_lower, snake, s->obj, conn_param, in->str, outs->str, g->upper,
                s->calls == CONTRACT_METHOD ? "CLIENT" : "PROVIDER");
        append_checks(s->c, m->input, "FALSE");
        g_string_append_printf(s->c,
                "        response = app_service_connection_send_message_sync(%s, %s_message_%s(%s), cancellable, error);\n"
                "        if (!response || !(message = %s_answer(response, error)))\n"
                "                return FALSE;\n"
                "        return %s_results_%s(message",
                conn_expr, s->obj_lower, snake, args->len > 2 ? args->str + 2 : "", g->lower, s->obj_lower, snake);
        append_out_args(s->c, m->output);
}

/* The invocation type of the handlers, and its return functions for each handled member. */
static void append_invocation(Side *s) {
        const Codegen *g = s->g;
        g_autofree char *inv_upper = g_ascii_strup(s->inv_lower, -1);
        const char *type_macro = inv_upper + strlen(g->upper) + 1;

        g_string_append_printf(s->h,
                "/**\n * %s:\n *\n * One request to answer: a handler gets it (transfer full) and answers it once, with\n"
                " * a return function, which takes it; it may keep it to answer later.\n */\n"
                "#define %s_TYPE_%s (%s_get_type())\n"
                "G_DECLARE_FINAL_TYPE(%s, %s, %s, %s, GObject)\n\n"
                "/* The connection the request came on, and the request itself. */\n"
                "AppServiceConnection *%s_get_connection(%s *self);\n"
                "AppServiceRequest *%s_get_request(%s *self);\n\n"
                "/*\n * Set before answering, @callback learns how the answer went (its source is the\n"
                " * request: app_service_request_send_response_finish() gives the status), for example to\n"
                " * close the connection once the answer is out. Without one, the answer is sent and\n"
                " * forgotten.\n */\n"
                "void %s_set_answered_callback(%s *self, GAsyncReadyCallback callback, gpointer user_data);\n\n",
                s->inv, g->upper, type_macro, s->inv_lower, s->inv, s->inv_lower, g->upper, type_macro,
                s->inv_lower, s->inv, s->inv_lower, s->inv, s->inv_lower, s->inv);
        g_string_append_printf(s->c,
                "struct _%s {\n        GObject parent;\n        AppServiceConnection *connection;\n"
                "        AppServiceRequest *request;\n"
                "        GAsyncReadyCallback answered;\n        gpointer answered_data;\n};\n\n"
                "G_DEFINE_TYPE(%s, %s, G_TYPE_OBJECT)\n\n"
                "static void %s_finalize(GObject *object) {\n"
                "        %s *self = (%s *) object;\n\n"
                "        g_clear_object(&self->connection);\n        g_clear_object(&self->request);\n"
                "        G_OBJECT_CLASS(%s_parent_class)->finalize(object);\n}\n\n"
                "static void %s_class_init(%sClass *klass) {\n"
                "        G_OBJECT_CLASS(klass)->finalize = %s_finalize;\n}\n\n"
                "static void %s_init(%s *self) {\n        (void) self;\n}\n\n"
                "G_GNUC_UNUSED static %s *%s_new(AppServiceConnection *connection, AppServiceRequest *request) {\n"
                "        %s *self = g_object_new(%s_TYPE_%s, NULL);\n\n"
                "        self->connection = g_object_ref(connection);\n        self->request = g_object_ref(request);\n"
                "        return self;\n}\n\n"
                "AppServiceConnection *%s_get_connection(%s *self) {\n        return self->connection;\n}\n\n"
                "AppServiceRequest *%s_get_request(%s *self) {\n        return self->request;\n}\n\n"
                "void %s_set_answered_callback(%s *self, GAsyncReadyCallback callback, gpointer user_data) {\n"
                "        self->answered = callback;\n        self->answered_data = user_data;\n}\n\n"
                "/* Answers with @response (floating) and takes @self. */\n"
                "G_GNUC_UNUSED static void %s_answer(%s *self, GVariant *response) {\n"
                "        app_service_request_send_response(self->request, response, NULL, self->answered,\n"
                "                                          self->answered_data);\n"
                "        g_object_unref(self);\n}\n\n",
                s->inv, s->inv, s->inv_lower, s->inv_lower, s->inv, s->inv, s->inv_lower, s->inv_lower, s->inv,
                s->inv_lower, s->inv_lower, s->inv, s->inv, s->inv_lower, s->inv, g->upper, type_macro, s->inv_lower,
                s->inv, s->inv_lower, s->inv, s->inv_lower, s->inv, s->inv_lower, s->inv);

        for (size_t i = 0; i < g->contract->n_members; i++) {
                const ContractMember *m = &g->contract->members[i];
                g_autofree char *snake = codegen_snake(m->name);
                g_autoptr(GString) in = g_string_new(NULL);
                const char *what = m->kind == CONTRACT_ERROR ? "error_" : "";

                if (m->kind != s->handles && m->kind != CONTRACT_ERROR)
                        continue;
                append_in_params(in, m->kind == CONTRACT_ERROR ? m->input : m->output);
                g_string_append_printf(s->h, "/**\n * %s_return_%s%s:\n * @self: (transfer full): the request\n",
                                       s->inv_lower, what, snake);
                for (size_t j = 0; j < (m->kind == CONTRACT_ERROR ? m->input : m->output)->n_fields; j++)
                        doc_field(s->h, &(m->kind == CONTRACT_ERROR ? m->input : m->output)->fields[j], "");
                g_string_append_printf(s->h, " *\n * Answers with %s %s%s.\n */\nvoid %s_return_%s%s(%s *self%s);\n\n",
                                       m->kind == CONTRACT_ERROR ? "the error" : "the results of", m->name,
                                       m->kind == CONTRACT_ERROR ? "" : "", s->inv_lower, what, snake, s->inv, in->str);
                g_string_append_printf(s->c, "void %s_return_%s%s(%s *self%s) {\n        GVariantBuilder b;\n\n",
                                       s->inv_lower, what, snake, s->inv, in->str);
                g_string_append_printf(s->c, "        g_return_if_fail(%s_IS_%s(self));\n", g->upper, type_macro);
                append_checks(s->c, m->kind == CONTRACT_ERROR ? m->input : m->output, NULL);
                g_string_append(s->c, "        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);\n");
                if (m->kind == CONTRACT_ERROR)
                        g_string_append_printf(s->c, "        g_variant_builder_add(&b, \"{sv}\", \"Error\", g_variant_new_string(\"%s\"));\n",
                                               m->name);
                append_build(s->c, m->kind == CONTRACT_ERROR ? m->input : m->output);
                g_string_append_printf(s->c, "        %s_answer(self, g_variant_builder_end(&b));\n}\n\n", s->inv_lower);
        }
}

/* The handlers' table in the header. */
static void append_handlers_table(Side *s) {
        const Codegen *g = s->g;
        g_autoptr(GString) table = g_string_new(NULL);

        /* The object's type, declared below by G_DECLARE_FINAL_TYPE (C11 allows the repetition). */
        g_string_append_printf(table, "typedef struct _%s %s;\n\n", s->obj, s->obj);
        g_string_append_printf(table, "/**\n * %sHandlers:\n", s->obj);
        for (size_t i = 0; i < g->contract->n_members; i++) {
                const ContractMember *m = &g->contract->members[i];
                g_autofree char *snake = codegen_snake(m->name);

                if (m->kind == s->handles)
                        g_string_append_printf(table, " * @%s: handles %s %s, or %%NULL\n", snake,
                                               contract_member_kind_to_string(m->kind), m->name);
        }
        g_string_append_printf(table, " *\n * The functions that answer the requests: each gets the request as a #%s\n"
                               " * (transfer full) and its parameters, which live as long as the call (strings and\n"
                               " * #GVariants borrowed: copy or ref to keep them).\n */\ntypedef struct {\n", s->inv);
        for (size_t i = 0; i < g->contract->n_members; i++) {
                const ContractMember *m = &g->contract->members[i];
                g_autofree char *snake = codegen_snake(m->name);
                g_autoptr(GString) in = g_string_new(NULL);

                if (m->kind != s->handles)
                        continue;
                append_in_params(in, m->input);
                g_string_append_printf(table, "        void (*%s)(%s *self, %s *invocation%s, gpointer user_data);\n", snake,
                                       s->obj, s->inv, in->str);
        }
        g_string_append_printf(table, "        gpointer padding[8];\n} %sHandlers;\n\n", s->obj);
        g_string_append(s->h, table->str);
}

/* The dispatchers of requests to the handlers. */
static void append_dispatch(Side *s) {
        const Codegen *g = s->g;

        /* One dispatcher per handled member. */
        for (size_t i = 0; i < g->contract->n_members; i++) {
                const ContractMember *m = &g->contract->members[i];
                g_autofree char *snake = codegen_snake(m->name);

                if (m->kind != s->handles)
                        continue;
                g_string_append_printf(s->c, "static gboolean %s_dispatch_%s(%s *self, AppServiceConnection *connection,\n"
                                       "        AppServiceRequest *request, GVariant *message) {\n",
                                       s->obj_lower, snake, s->obj);
                for (size_t j = 0; j < m->input->n_fields; j++) {
                        g_autofree char *id = codegen_c_identifier(m->input->fields[j].name);
                        g_string_append_printf(s->c, "        g_autoptr(GVariant) v_%s = NULL;\n", id);
                }
                if (m->input->n_fields == 0)
                        g_string_append(s->c, "        (void) message;\n");
                g_string_append_printf(s->c, "\n        if (!self->handlers.%s)\n                return FALSE;\n", snake);
                for (size_t j = 0; j < m->input->n_fields; j++) {
                        const ContractField *f = &m->input->fields[j];
                        g_autofree char *id = codegen_c_identifier(f->name);
                        g_autofree char *type = variant_type_expr(f->type);

                        g_string_append_printf(s->c, "        if (!%s_take(message, \"%s\", %s, %s, &v_%s, NULL))\n                return FALSE;\n",
                                               g->lower, f->name, type, f->optional ? "FALSE" : "TRUE", id);
                }
                g_string_append_printf(s->c, "        self->handlers.%s(self, %s_new(connection, request)", snake, s->inv_lower);
                for (size_t j = 0; j < m->input->n_fields; j++) {
                        const ContractField *f = &m->input->fields[j];
                        g_autofree char *id = codegen_c_identifier(f->name);
                        CType ct = c_type(f);

                        if (ct.kind == C_SCALAR)
                                g_string_append_printf(s->c, ", %s(v_%s)", ct.get, id);
                        else if (ct.kind == C_STRING)
                                g_string_append_printf(s->c, ", v_%s ? g_variant_get_string(v_%s, NULL) : NULL", id, id);
                        else
                                g_string_append_printf(s->c, ", v_%s", id);
                }
                g_string_append(s->c, ", self->user_data);\n        return TRUE;\n}\n\n");
        }

        g_string_append_printf(s->c,
                "/* A request on one of the connections: to its handler, or answered with an empty ValueSet\n"
                " * (which the broker refuses as breaking the contract, so the sender learns why). */\n"
                "static void %s_request(AppServiceConnection *connection, AppServiceRequest *request, gpointer data) {\n"
                "        %s *self = data;\n"
                "        GVariant *message = app_service_request_get_message(request);\n"
                "        const gchar *action = NULL;\n"
                "        gboolean handled = FALSE;\n\n"
                "        if (!g_variant_lookup(message, \"Action\", \"&s\", &action))\n"
                "                action = \"\";\n",
                s->obj_lower, s->obj);
        g_string_append(s->c, "        (void) self;\n        (void) connection;\n");
        for (size_t i = 0, n = 0; i < g->contract->n_members; i++) {
                const ContractMember *m = &g->contract->members[i];
                g_autofree char *snake = codegen_snake(m->name);

                if (m->kind == s->handles)
                        g_string_append_printf(s->c, "        %sif (strcmp(action, \"%s\") == 0)\n"
                                               "                handled = %s_dispatch_%s(self, connection, request, message);\n",
                                               n++ ? "else " : "", m->name, s->obj_lower, snake);
        }
        g_string_append_printf(s->c,
                "        if (!handled) {\n"
                "                g_warning(\"%s: no handler for '%%s' with these parameters: answering with an empty ValueSet\", action);\n"
                "                app_service_request_send_response(request, g_variant_new_array(G_VARIANT_TYPE(\"{sv}\"), NULL, 0),\n"
                "                                                  NULL, NULL, NULL);\n"
                "        }\n}\n\n",
                g->contract->name);
}

static void append_sent(Side *s) {
        g_string_append_printf(s->c,
                "G_GNUC_UNUSED static void %s_sent(GObject *source, GAsyncResult *result, gpointer data) {\n"
                "        g_autoptr(GTask) task = data;\n"
                "        g_autoptr(AppServiceResponse) response = NULL;\n"
                "        GError *error = NULL;\n"
                "        GVariant *message;\n\n"
                "        response = app_service_connection_send_message_finish(APP_SERVICE_CONNECTION(source), result, &error);\n"
                "        if (!response || !(message = %s_answer(response, &error)))\n"
                "                g_task_return_error(task, error);\n"
                "        else\n"
                "                g_task_return_pointer(task, message, (GDestroyNotify) g_variant_unref);\n"
                "}\n\n",
                s->obj_lower, s->g->lower);
}

/* The object itself: client (wraps a connection) or provider (wraps a provider). */
static void append_object(Side *s, gboolean constructor) {
        const Codegen *g = s->g;
        gboolean client = s->g->side == CODEGEN_SIDE_CLIENT;
        const char *macro = client ? "CLIENT" : "PROVIDER";
        const char *wrapped = client ? "AppServiceConnection" : "AppServiceProvider";
        const char *field = client ? "connection" : "provider";

        if (!constructor) {
                g_string_append_printf(s->h,
                "#define %s_TYPE_%s (%s_get_type())\nG_DECLARE_FINAL_TYPE(%s, %s, %s, %s, GObject)\n\n"
                "/**\n * %s_new:\n * @%s: the %s to use (a reference is taken)\n"
                " * @handlers: (nullable): the functions that answer the %s's %s, or %%NULL\n"
                " * @user_data: passed to each handler\n *\n"
                " * Returns: (transfer full): a new #%s\n */\n"
                "%s *%s_new(%s *%s, const %sHandlers *handlers, gpointer user_data);\n"
                "%s *%s_get_%s(%s *self);\n\n",
                g->upper, macro, s->obj_lower, s->obj, s->obj_lower, g->upper, macro, s->obj_lower, field, wrapped,
                client ? "provider" : "client", client ? "callbacks" : "methods", s->obj, s->obj, s->obj_lower, wrapped,
                field, s->obj, wrapped, s->obj_lower, field, s->obj);

        g_string_append_printf(s->c,
                "struct _%s {\n        GObject parent;\n        %s *%s;\n        %sHandlers handlers;\n"
                "        gpointer user_data;\n};\n\n"
                "G_DEFINE_TYPE(%s, %s, G_TYPE_OBJECT)\n\n"
                "static void %s_finalize(GObject *object) {\n        %s *self = (%s *) object;\n\n"
                "        g_clear_object(&self->%s);\n        G_OBJECT_CLASS(%s_parent_class)->finalize(object);\n}\n\n"
                "static void %s_class_init(%sClass *klass) {\n        G_OBJECT_CLASS(klass)->finalize = %s_finalize;\n}\n\n"
                "static void %s_init(%s *self) {\n        (void) self;\n}\n\n",
                s->obj, wrapped, field, s->obj, s->obj, s->obj_lower, s->obj_lower, s->obj, s->obj, field, s->obj_lower,
                s->obj_lower, s->obj, s->obj_lower, s->obj_lower, s->obj);
                return;
        }
        if (!client)
                g_string_append_printf(s->c,
                        "static void %s_connection(AppServiceProvider *provider, AppServiceConnection *connection,\n"
                        "        GVariant *caller, gpointer data) {\n"
                        "        (void) provider;\n        (void) caller;\n"
                        "        g_signal_connect_object(connection, \"request-received\", G_CALLBACK(%s_request), data, 0);\n"
                        "}\n\n",
                        s->obj_lower, s->obj_lower);
        g_string_append_printf(s->c,
                "%s *%s_new(%s *%s, const %sHandlers *handlers, gpointer user_data) {\n        %s *self;\n\n"
                "        g_return_val_if_fail(G_IS_OBJECT(%s), NULL);\n"
                "        self = g_object_new(%s_TYPE_%s, NULL);\n"
                "        self->%s = g_object_ref(%s);\n"
                "        if (handlers)\n                self->handlers = *handlers;\n"
                "        self->user_data = user_data;\n"
                "        g_signal_connect_object(%s, \"%s\", G_CALLBACK(%s_%s), self, 0);\n"
                "        return self;\n}\n\n"
                "%s *%s_get_%s(%s *self) {\n        return self->%s;\n}\n\n",
                s->obj, s->obj_lower, wrapped, field, s->obj, s->obj, field, g->upper, macro, field, field, field,
                client ? "request-received" : "connection-received", s->obj_lower, client ? "request" : "connection",
                wrapped, s->obj_lower, field, s->obj, field);
}

/* The files of one side. */
static gboolean generate_side(const Codegen *g, const char *dir, GError **error) {
        gboolean client = g->side == CODEGEN_SIDE_CLIENT;
        g_autofree char *obj = g_strconcat(g->ns, client ? "Client" : "Provider", NULL);
        g_autofree char *obj_lower = g_strconcat(g->lower, client ? "_client" : "_provider", NULL);
        g_autofree char *inv = g_strconcat(g->ns, client ? "CallbackInvocation" : "Invocation", NULL);
        g_autofree char *inv_lower = g_strconcat(g->lower, client ? "_callback_invocation" : "_invocation", NULL);
        /* Files are named with dashes, as GLib projects do (AppToApp: app-to-app-client.h). */
        g_autofree char *base = g_strconcat(g->lower, client ? "-client" : "-provider", NULL);
        g_strdelimit(base, "_", '-');
        g_autofree char *h_name = g_strconcat(base, ".h", NULL), *c_name = g_strconcat(base, ".c", NULL);
        g_autoptr(GString) h = g_string_new(NULL), c = g_string_new(NULL);
        Side s = {
                .g = g, .h = h, .c = c, .obj = obj, .obj_lower = obj_lower, .inv = inv, .inv_lower = inv_lower,
                .calls = client ? CONTRACT_METHOD : CONTRACT_CALLBACK,
                .handles = client ? CONTRACT_CALLBACK : CONTRACT_METHOD,
                .needs_connection = !client,
        };

        codegen_header(h, g, "/*", " *", " */");
        g_string_append(h, "#pragma once\n\n#include <appservice.h>\n\nG_BEGIN_DECLS\n\n");
        if (g->contract->doc) {
                g_string_append(h, "/*\n");
                codegen_append_doc(h, g->contract->doc, " *");
                g_string_append(h, " */\n\n");
        }
        codegen_header(c, g, "/*", " *", " */");
        g_string_append_printf(c, "#include <string.h>\n\n#include \"%s\"\n\n", h_name);

        /* In the order each needs the one before. */
        append_error_domain(&s);
        append_helpers(&s);
        append_invocation(&s);
        append_handlers_table(&s);
        append_object(&s, FALSE);
        append_sent(&s);
        for (size_t i = 0; i < g->contract->n_members; i++)
                if (g->contract->members[i].kind == s.calls)
                        append_call(&s, &g->contract->members[i]);
        append_dispatch(&s);
        append_object(&s, TRUE);
        g_string_append(h, "G_END_DECLS\n");
        return codegen_write(dir, h_name, h, error) && codegen_write(dir, c_name, c, error);
}

gboolean codegen_c(const Codegen *g, const char *dir, GError **error) {
        return generate_side(g, dir, error);
}
