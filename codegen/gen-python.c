/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Python generator: NS_client.py or NS_provider.py, one module on PyGObject and libappservice's
 * typelib. The client class has a typed method per contract method (blocking, and GIO-style
 * _async/_finish), the provider class a method per contract method to override; each side's
 * handlers (the provider's methods, the client's callbacks) answer with what they return, or with
 * a contract error they raise. Values cross by the contract's types: Python ints are checked
 * against their exact D-Bus width, records are dicts. */

#include <string.h>

#include "codegen.h"

/* The module's fixed part: turning Python values into ValueSet values and back by a type's
 * descriptor (generated per contract into _TYPES). */
static const char runtime[] =
        "import traceback\n"
        "import warnings\n"
        "\n"
        "import gi\n"
        "\n"
        "gi.require_version('AppService', '1.0')\n"
        "from gi.repository import AppService, GLib  # noqa: E402\n"
        "\n"
        "_RANGES = {'y': (0, 2**8 - 1), 'n': (-2**15, 2**15 - 1), 'q': (0, 2**16 - 1), 'i': (-2**31, 2**31 - 1),\n"
        "           'u': (0, 2**32 - 1), 'x': (-2**63, 2**63 - 1), 't': (0, 2**64 - 1)}\n"
        "\n"
        "\n"
        "class ContractValueError(ValueError):\n"
        "    \"\"\"A value that does not fit its type in the contract.\"\"\"\n"
        "\n"
        "\n"
        "def _resolve(t):\n"
        "    return _TYPES[t[1]] if t[0] == 'ref' else t\n"
        "\n"
        "\n"
        "def _to_variant(t, value, where):\n"
        "    \"\"\"The GLib.Variant of `value` as the type descriptor `t` says.\"\"\"\n"
        "    t = _resolve(t)\n"
        "    kind = t[0]\n"
        "    if kind == 'scalar':\n"
        "        sig = t[1]\n"
        "        if sig in _RANGES:\n"
        "            low, high = _RANGES[sig]\n"
        "            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:\n"
        "                raise ContractValueError('%s: %r is not an integer from %d to %d (%s)' % (where, value, low, high, sig))\n"
        "        elif sig == 'b' and not isinstance(value, bool):\n"
        "            raise ContractValueError('%s: %r is not a bool' % (where, value))\n"
        "        elif sig == 'd' and (isinstance(value, bool) or not isinstance(value, (int, float))):\n"
        "            raise ContractValueError('%s: %r is not a number' % (where, value))\n"
        "        elif sig in 'sog' and not isinstance(value, str):\n"
        "            raise ContractValueError('%s: %r is not a string' % (where, value))\n"
        "        try:\n"
        "            return GLib.Variant(sig, value)\n"
        "        except (TypeError, ValueError, OverflowError) as e:\n"
        "            raise ContractValueError('%s: %s' % (where, e)) from None\n"
        "    if kind == 'enum':\n"
        "        if value not in t[1]:\n"
        "            raise ContractValueError('%s: %r is not one of %s' % (where, value, ', '.join(t[1])))\n"
        "        return GLib.Variant('s', value)\n"
        "    if kind == 'variant':\n"
        "        if not isinstance(value, GLib.Variant):\n"
        "            raise ContractValueError('%s: a variant is given as a GLib.Variant' % where)\n"
        "        return value\n"
        "    if kind == 'object':\n"
        "        if isinstance(value, GLib.Variant) and value.get_type_string() == 'a{sv}':\n"
        "            return value\n"
        "        if not isinstance(value, dict) or not all(isinstance(v, GLib.Variant) for v in value.values()):\n"
        "            raise ContractValueError('%s: an object is a dict of GLib.Variant values' % where)\n"
        "        return GLib.Variant('a{sv}', value)\n"
        "    if kind == 'record':\n"
        "        return _record(t, value, where)\n"
        "    if kind == 'array':\n"
        "        if t[1] == 'ay' and isinstance(value, (bytes, bytearray)):\n"
        "            return GLib.Variant('ay', bytes(value))\n"
        "        if not isinstance(value, (list, tuple)):\n"
        "            raise ContractValueError('%s: %r is not a list' % (where, value))\n"
        "        children = [_element(t[2], v, '%s[%d]' % (where, i)) for i, v in enumerate(value)]\n"
        "        return GLib.Variant.new_array(GLib.VariantType(t[1][1:]), children)\n"
        "    if kind == 'map':\n"
        "        if not isinstance(value, dict):\n"
        "            raise ContractValueError('%s: %r is not a dict' % (where, value))\n"
        "        entries = [GLib.Variant.new_dict_entry(GLib.Variant('s', k), _element(t[2], v, '%s.%s' % (where, k)))\n"
        "                   for k, v in value.items()]\n"
        "        return GLib.Variant.new_array(GLib.VariantType(t[1][1:]), entries)\n"
        "    raise ContractValueError('%s: unknown type %r' % (where, t))\n"
        "\n"
        "\n"
        "def _element(t, value, where):\n"
        "    \"\"\"An element of an array or a map: a variant is boxed as 'v'.\"\"\"\n"
        "    v = _to_variant(t, value, where)\n"
        "    return GLib.Variant.new_variant(v) if _resolve(t)[0] == 'variant' else v\n"
        "\n"
        "\n"
        "def _record(t, value, where, extra=None):\n"
        "    \"\"\"A record (or a message, or a response) as an a{sv}; None values are left out.\"\"\"\n"
        "    if not isinstance(value, dict):\n"
        "        raise ContractValueError('%s: %r is not a dict' % (where, value))\n"
        "    fields = t[2]\n"
        "    unknown = set(value) - set(fields)\n"
        "    if unknown:\n"
        "        raise ContractValueError('%s: %s not in the contract' % (where, ', '.join(sorted(unknown))))\n"
        "    out = dict(extra or {})\n"
        "    for name, (optional, ft) in fields.items():\n"
        "        v = value.get(name)\n"
        "        path = '%s.%s' % (where, name) if where else name\n"
        "        if v is None:\n"
        "            if not optional:\n"
        "                raise ContractValueError('%s is missing' % path)\n"
        "            continue\n"
        "        out[name] = _to_variant(ft, v, path)\n"
        "    return GLib.Variant('a{sv}', out)\n"
        "\n"
        "\n"
        "def _from_variant(t, v, where=''):\n"
        "    \"\"\"The Python value of `v` by descriptor `t`: records are dicts, a variant stays a GLib.Variant.\n"
        "    A value that is not what the contract says raises AppServiceContractError naming its key.\"\"\"\n"
        "    t = _resolve(t)\n"
        "    if v is None or (v.get_type_string() == 'av' and v.n_children() == 0 and t[1] != 'av'):\n"
        "        return None\n"
        "    kind = t[0]\n"
        "    if kind == 'variant':\n"
        "        return v\n"
        "    want = 's' if kind == 'enum' else t[1]\n"
        "    if v.get_type_string() != want:\n"
        "        raise AppServiceContractError('%s: expected %s, got %s' % (where or 'the value', want, v.get_type_string()))\n"
        "    if kind == 'enum' and v.get_string() not in t[1]:\n"
        "        raise AppServiceContractError('%s: %r is not one of %s' % (where, v.get_string(), ', '.join(t[1])))\n"
        "    if kind == 'object':   # a dict of GLib.Variant values, as the type hints say\n"
        "        return {e.get_child_value(0).get_string(): e.get_child_value(1).get_variant()\n"
        "                for e in (v.get_child_value(i) for i in range(v.n_children()))}\n"
        "    if kind == 'record':\n"
        "        keys = [v.get_child_value(i).get_child_value(0).get_string() for i in range(v.n_children())]\n"
        "        unknown = [k for k in keys if k not in t[2]]\n"
        "        if unknown:\n"
        "            raise AppServiceContractError('%s: %s not in the contract' % (where or 'the value', ', '.join(unknown)))\n"
        "        out = {}\n"
        "        for name, (optional, ft) in t[2].items():\n"
        "            path = '%s.%s' % (where, name) if where else name\n"
        "            out[name] = _from_variant(ft, v.lookup_value(name, None), path)\n"
        "            if out[name] is None and not optional:\n"
        "                raise AppServiceContractError('%s is missing' % path)\n"
        "        return out\n"
        "    inner = _resolve(t[2])[0] if kind in ('array', 'map') else None\n"
        "    if kind == 'array' and inner in ('record', 'variant', 'array', 'map', 'enum', 'object'):\n"
        "        return [_from_variant(t[2], v.get_child_value(i).get_variant() if inner == 'variant'\n"
        "                              else v.get_child_value(i), '%s[%d]' % (where, i)) for i in range(v.n_children())]\n"
        "    if kind == 'map' and inner in ('record', 'variant', 'array', 'map', 'enum', 'object'):\n"
        "        out = {}\n"
        "        for i in range(v.n_children()):\n"
        "            entry = v.get_child_value(i)\n"
        "            key, child = entry.get_child_value(0).get_string(), entry.get_child_value(1)\n"
        "            out[key] = _from_variant(t[2], child.get_variant() if inner == 'variant' else child,\n"
        "                                     '%s.%s' % (where, key))\n"
        "        return out\n"
        "    if t[1] == 'ay':\n"
        "        return list(v.unpack())   # list[int], as the type hints say (bytes are taken too)\n"
        "    return v.unpack()\n"
        "\n"
        "\n"
        "def _results(t, message):\n"
        "    \"\"\"The results of a response (a record descriptor): one value, a tuple of several, or None.\"\"\"\n"
        "    values = _from_variant(t, message)\n"
        "    names = list(t[2])\n"
        "    for name, (optional, _) in t[2].items():\n"
        "        if values[name] is None and not optional:\n"
        "            raise AppServiceContractError('the response lacks %s' % name)\n"
        "    if not names:\n"
        "        return None\n"
        "    return values[names[0]] if len(names) == 1 else tuple(values[n] for n in names)\n"
        "\n"
        "\n"
        "def _answer(response):\n"
        "    \"\"\"The response's ValueSet, or the exception it is.\"\"\"\n"
        "    if response.get_status() != AppService.ResponseStatus.SUCCESS:\n"
        "        raise response.get_error()\n"
        "    message = response.get_message()\n"
        "    error = message.lookup_value('Error', GLib.VariantType('s'))\n"
        "    if error is not None:\n"
        "        cls = _ERRORS.get(error.get_string())\n"
        "        fields = {k: v for k, v in message.unpack().items() if k != 'Error'}\n"
        "        if cls is None:\n"
        "            raise _BaseError(error.get_string(), fields)\n"
        "        raise cls(**fields)\n"
        "    return message\n"
        "\n"
        "\n"
        "def _reply(request, t, value):\n"
        "    \"\"\"Answers `request` with a handler's return value (one result, a tuple, a dict or None).\"\"\"\n"
        "    names = list(t[2])\n"
        "    if isinstance(value, dict):\n"
        "        fields = value\n"
        "    elif len(names) == 1:\n"
        "        fields = {names[0]: value}\n"
        "    elif value is None:\n"
        "        fields = {}\n"
        "    else:\n"
        "        fields = dict(zip(names, value))\n"
        "    return _record(t, fields, '')\n"
        "\n"
        "\n"
        "def _answered(owner, action):\n"
        "    \"\"\"The callback of an answer: tells owner.answered() how it went.\"\"\"\n"
        "    def done(request, result, _):\n"
        "        try:\n"
        "            status = request.send_response_finish(result)\n"
        "            error = None if status == AppService.ResponseStatus.SUCCESS else GLib.Error(\n"
        "                'the answer was not delivered: %s' % status.value_nick)\n"
        "        except GLib.Error as e:\n"
        "            error = e\n"
        "        owner.answered(action, error)\n"
        "    return done\n"
        "\n"
        "\n"
        "def _dispatch(owner, request, handled):\n"
        "    \"\"\"A request to the handler its Action names; a contract error raised is the answer. Any other\n"
        "    exception (printed as a warning) is answered with an empty ValueSet: the client is never left\n"
        "    waiting.\"\"\"\n"
        "    message = request.get_message()\n"
        "    action = message.lookup_value('Action', GLib.VariantType('s'))\n"
        "    action = action.get_string() if action else ''\n"
        "    entry = handled.get(action)\n"
        "    answer = GLib.Variant('a{sv}', {})\n"
        "    if entry is None:\n"
        "        warnings.warn('a request the contract does not name (%r): answered empty' % action)\n"
        "    else:\n"
        "        method, params, results = entry\n"
        "        try:\n"
        "            entries = (message.get_child_value(i) for i in range(message.n_children()))\n"
        "            fields = GLib.Variant('a{sv}', {e.get_child_value(0).get_string(): e.get_child_value(1).get_variant()\n"
        "                                            for e in entries if e.get_child_value(0).get_string() != 'Action'})\n"
        "            args = {_IDENTIFIERS.get(k, k): v for k, v in _from_variant(params, fields).items()}\n"
        "            answer = _reply(request, results, getattr(owner, method)(**args))\n"
        "        except _BaseError as e:\n"
        "            answer = _record(_TYPES['error:' + e.error_name], e.fields, '',\n"
        "                             {'Error': GLib.Variant('s', e.error_name)})\n"
        "        except Exception:  # a handler's bug must not leave the client hanging\n"
        "            warnings.warn('the handler of %s failed, answered empty:\\n%s' % (action, traceback.format_exc()))\n"
        "    request.send_response(answer, None, _answered(owner, action), None)\n"
        "\n"
        "\n"
        "class AppServiceContractError(Exception):\n"
        "    \"\"\"A response that is not what the contract says.\"\"\"\n";

/* The descriptor of a type, as a Python literal. */
static void append_descriptor(GString *out, const ContractType *t, gboolean top);

static void append_fields(GString *out, const ContractType *record) {
        g_string_append(out, "{");
        for (size_t i = 0; i < record->n_fields; i++) {
                g_string_append_printf(out, "%s'%s': (%s, ", i ? ", " : "", record->fields[i].name,
                                       record->fields[i].optional ? "True" : "False");
                append_descriptor(out, record->fields[i].type, FALSE);
                g_string_append(out, ")");
        }
        g_string_append(out, "}");
}

static void append_descriptor(GString *out, const ContractType *t, gboolean top) {
        /* A named record or enum is referred to by name, so that recursion ends. */
        if (!top && t->name && (t->kind == CONTRACT_KIND_RECORD || t->kind == CONTRACT_KIND_ENUM)) {
                g_string_append_printf(out, "('ref', '%s')", t->name);
                return;
        }
        switch (t->kind) {
        case CONTRACT_KIND_SCALAR:
                g_string_append_printf(out, "('scalar', '%c')", t->scalar);
                return;
        case CONTRACT_KIND_VARIANT:
                g_string_append(out, "('variant', None)");
                return;
        case CONTRACT_KIND_OBJECT:
                g_string_append(out, "('object', 'a{sv}')");
                return;
        case CONTRACT_KIND_ENUM:
                g_string_append(out, "('enum', (");
                for (size_t i = 0; i < t->n_values; i++)
                        g_string_append_printf(out, "'%s', ", t->values[i]);
                g_string_append(out, "))");
                return;
        case CONTRACT_KIND_RECORD:
                g_string_append(out, "('record', 'a{sv}', ");
                append_fields(out, t);
                g_string_append(out, ")");
                return;
        case CONTRACT_KIND_ARRAY:
        case CONTRACT_KIND_MAP:
                g_string_append_printf(out, "('%s', '%s', ", t->kind == CONTRACT_KIND_ARRAY ? "array" : "map", t->signature);
                append_descriptor(out, t->element, FALSE);
                g_string_append(out, ")");
                return;
        }
}

/* The type hint of a field. */
static char *hint(const ContractType *t) {
        switch (t->kind) {
        case CONTRACT_KIND_SCALAR:
                switch (t->scalar) {
                case 'b':
                        return g_strdup("bool");
                case 'd':
                        return g_strdup("float");
                case 's':
                case 'o':
                case 'g':
                        return g_strdup("str");
                default:
                        return g_strdup("int");
                }
        case CONTRACT_KIND_ENUM:
                return g_strdup("str");
        case CONTRACT_KIND_VARIANT:
                return g_strdup("GLib.Variant");
        case CONTRACT_KIND_OBJECT:
                return g_strdup("dict[str, GLib.Variant]");
        case CONTRACT_KIND_RECORD:
                return g_strdup("dict[str, Any]");
        case CONTRACT_KIND_ARRAY: {
                g_autofree char *e = hint(t->element);
                return g_strdup_printf("list[%s]", e);
        }
        case CONTRACT_KIND_MAP: {
                g_autofree char *e = hint(t->element);
                return g_strdup_printf("dict[str, %s]", e);
        }
        }
        return g_strdup("Any");
}

/* "text: str | None = None, count: int" (required first, as Python wants). */
static void append_signature(GString *out, const ContractType *record) {
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < record->n_fields; i++) {
                        const ContractField *f = &record->fields[i];
                        g_autofree char *id = codegen_python_identifier(f->name);
                        g_autofree char *h = hint(f->type);

                        if (f->optional != (pass == 1))
                                continue;
                        g_string_append_printf(out, ", %s: %s%s", id, h, f->optional ? " | None = None" : "");
                }
}

/* The return hint of a result record: one type, a tuple, or None. */
static char *results_hint(const ContractType *record) {
        GString *s;

        if (record->n_fields == 0)
                return g_strdup("None");
        if (record->n_fields == 1) {
                g_autofree char *h = hint(record->fields[0].type);
                return g_strdup_printf("%s%s", h, record->fields[0].optional ? " | None" : "");
        }
        s = g_string_new("tuple[");
        for (size_t i = 0; i < record->n_fields; i++) {
                g_autofree char *h = hint(record->fields[i].type);
                g_string_append_printf(s, "%s%s%s", i ? ", " : "", h, record->fields[i].optional ? " | None" : "");
        }
        g_string_append(s, "]");
        return g_string_free(s, FALSE);
}

/* {'text': text, ...}: the parameters as the message's dict. */
static void append_param_dict(GString *out, const ContractType *record) {
        g_string_append(out, "{");
        for (size_t i = 0; i < record->n_fields; i++) {
                g_autofree char *id = codegen_python_identifier(record->fields[i].name);
                g_string_append_printf(out, "%s'%s': %s", i ? ", " : "", record->fields[i].name, id);
        }
        g_string_append(out, "}");
}

static void append_doc(GString *out, const char *doc, const char *indent, const char *fallback) {
        g_autofree char *text = g_strdup(doc ? doc : fallback);

        g_strdelimit(text, "\"\\", '\'');
        g_string_append_printf(out, "%s\"\"\"", indent);
        for (const char *p = text; *p; p++) {
                g_string_append_c(out, *p);
                if (*p == '\n')
                        g_string_append(out, indent);
        }
        g_string_append(out, "\"\"\"\n");
}

/* One call: blocking, and _async/_finish. `via`: how the connection is reached. */
static void append_call(GString *out, const ContractMember *m, gboolean needs_connection) {
        g_autofree char *snake = codegen_snake(m->name);
        g_autofree char *rh = results_hint(m->output);
        g_autoptr(GString) sig = g_string_new(NULL), dict = g_string_new(NULL);
        const char *conn_param = needs_connection ? ", connection: AppService.Connection" : "";
        const char *conn = needs_connection ? "connection" : "self.connection";

        append_signature(sig, m->input);
        append_param_dict(dict, m->input);
        g_string_append_printf(out, "\n    def %s(self%s%s, cancellable: Gio.Cancellable | None = None) -> %s:\n",
                               snake, conn_param, sig->str, rh);
        append_doc(out, m->doc, "        ", "Sends it and waits for the answer.");
        g_string_append_printf(out,
                "        message = _record(_TYPES['params:%s'], %s, '', {'Action': GLib.Variant('s', '%s')})\n"
                "        response = %s.send_message_sync(message, cancellable)\n"
                "        return _results(_TYPES['results:%s'], _answer(response))\n",
                m->name, dict->str, m->name, conn, m->name);
        g_string_append_printf(out, "\n    def %s_async(self%s%s, cancellable: Gio.Cancellable | None = None, callback=None,\n"
                               "            user_data=None) -> None:\n"
                               "        \"\"\"%s without blocking: `callback(self, result, user_data)` is called from the main\n"
                               "        loop; it calls %s_finish(result).\"\"\"\n"
                               "        message = _record(_TYPES['params:%s'], %s, '', {'Action': GLib.Variant('s', '%s')})\n"
                               "        # The task's source is not a GObject: the callback gets this object as its source.\n"
                               "        task = Gio.Task.new(None, cancellable,\n"
                               "                            lambda _, result, data: callback(self, result, data) if callback else None,\n"
                               "                            user_data)\n\n"
                               "        def sent(source, result, _):\n"
                               "            try:\n"
                               "                task.answer = _results(_TYPES['results:%s'], _answer(source.send_message_finish(result)))\n"
                               "                task.return_boolean(True)\n"
                               "            except Exception as e:  # handed to _finish\n"
                               "                task.exception = e\n"
                               "                task.return_boolean(True)\n"
                               "        %s.send_message(message, cancellable, sent, None)\n"
                               "        _TASKS.add(task)\n",
                               snake, conn_param, sig->str, snake, snake, m->name, dict->str, m->name, m->name, conn);
        g_string_append_printf(out, "\n    def %s_finish(self, result: Gio.AsyncResult) -> %s:\n"
                               "        \"\"\"The answer of %s_async(), or the exception it is.\"\"\"\n"
                               "        _TASKS.discard(result)\n"
                               "        result.propagate_boolean()\n"
                               "        if getattr(result, 'exception', None) is not None:\n"
                               "            raise result.exception\n"
                               "        return result.answer\n",
                               snake, rh, snake);
}

/* One handler to override. */
static void append_handler(GString *out, const ContractMember *m) {
        g_autofree char *snake = codegen_snake(m->name);
        g_autofree char *rh = results_hint(m->output);
        g_autoptr(GString) sig = g_string_new(NULL);

        append_signature(sig, m->input);
        g_string_append_printf(out, "\n    def %s(self%s) -> %s:\n", snake, sig->str, rh);
        append_doc(out, m->doc, "        ", "Override to answer it.");
        g_string_append_printf(out, "        raise NotImplementedError('%s')\n", m->name);
}

static void append_types(GString *out, const Codegen *g) {
        const Contract *c = g->contract;

        g_string_append(out, "\n_TYPES = {\n");
        for (size_t i = 0; i < c->n_members; i++) {
                const ContractMember *m = &c->members[i];

                if (m->kind == CONTRACT_TYPE) {
                        g_string_append_printf(out, "    '%s': ", m->name);
                        append_descriptor(out, m->input, TRUE);
                        g_string_append(out, ",\n");
                        continue;
                }
                g_string_append_printf(out, "    '%s:%s': ", m->kind == CONTRACT_ERROR ? "error" : "params", m->name);
                append_descriptor(out, m->input, TRUE);
                g_string_append(out, ",\n");
                if (m->output) {
                        g_string_append_printf(out, "    'results:%s': ", m->name);
                        append_descriptor(out, m->output, TRUE);
                        g_string_append(out, ",\n");
                }
        }
        g_string_append(out, "}\n\n# Field names that are Python keywords, as the handlers' parameters spell them.\n_IDENTIFIERS = {");
        for (size_t i = 0; i < c->n_members; i++)
                for (size_t j = 0; c->members[i].input && j < c->members[i].input->n_fields; j++) {
                        const char *name = c->members[i].input->fields[j].name;
                        g_autofree char *id = codegen_python_identifier(name);

                        if (strcmp(id, name) != 0)
                                g_string_append_printf(out, "'%s': '%s', ", name, id);
                }
        g_string_append(out, "}\n_TASKS = set()\n");
}

static void append_errors(GString *out, const Codegen *g) {
        const Contract *c = g->contract;

        g_string_append_printf(out,
                "\n\nclass %sError(Exception):\n"
                "    \"\"\"An error response of the contract %s: its name and its fields.\"\"\"\n\n"
                "    def __init__(self, error_name: str, fields: dict[str, Any]):\n"
                "        super().__init__('%%s: %%r' %% (error_name, fields))\n"
                "        self.error_name = error_name\n"
                "        self.fields = fields\n\n\n_BaseError = %sError\n",
                g->ns, c->name, g->ns);
        for (size_t i = 0; i < c->n_members; i++) {
                const ContractMember *m = &c->members[i];
                g_autoptr(GString) sig = g_string_new(NULL), dict = g_string_new(NULL);

                if (m->kind != CONTRACT_ERROR)
                        continue;
                append_signature(sig, m->input);
                append_param_dict(dict, m->input);
                g_string_append_printf(out, "\n\nclass %s(%sError):\n", m->name, g->ns);
                append_doc(out, m->doc, "    ", "An error of the contract.");
                g_string_append_printf(out, "\n    def __init__(self%s):\n        super().__init__('%s', %s)\n", sig->str,
                                       m->name, dict->str);
        }
        g_string_append(out, "\n\n_ERRORS = {");
        for (size_t i = 0; i < c->n_members; i++)
                if (c->members[i].kind == CONTRACT_ERROR)
                        g_string_append_printf(out, "'%s': %s, ", c->members[i].name, c->members[i].name);
        g_string_append(out, "}\n");
}

/* The table of what a class answers: Action -> (method, parameters, results). */
static void append_handled(GString *out, const Contract *c, ContractMemberKind kind) {
        g_string_append(out, "    _HANDLED = {");
        for (size_t i = 0; i < c->n_members; i++) {
                g_autofree char *snake = codegen_snake(c->members[i].name);

                if (c->members[i].kind == kind)
                        g_string_append_printf(out, "'%s': ('%s', _TYPES['params:%s'], _TYPES['results:%s']), ",
                                               c->members[i].name, snake, c->members[i].name, c->members[i].name);
        }
        g_string_append(out, "}\n");
}

/* What tells a handler's class how its answers went. */
static const char answered_method[] =
        "\n    def answered(self, action: str, error: GLib.Error | None) -> None:\n"
        "        \"\"\"The answer to a request for `action` went out (error is None) or did not (the broker\n"
        "        refused it, or the other side left): override to act on it (to close the connection once\n"
        "        an answer is out, say).\"\"\"\n";

gboolean codegen_python(const Codegen *g, const char *dir, GError **error) {
        const Contract *c = g->contract;
        gboolean client = g->side == CODEGEN_SIDE_CLIENT;
        g_autofree char *name = g_strconcat(g->lower, client ? "_client.py" : "_provider.py", NULL);
        g_autoptr(GString) out = g_string_new(NULL);
        ContractMemberKind calls = client ? CONTRACT_METHOD : CONTRACT_CALLBACK;

        codegen_header(out, g, "#", "#", "");
        g_string_append(out, "# SPDX-License-Identifier: LGPL-2.1-or-later\n");
        append_doc(out, c->doc, "", "An app service contract.");
        g_string_append(out, "\nfrom __future__ import annotations\n\nfrom typing import Any\n\n");
        g_string_append(out, runtime);
        g_string_append(out, "from gi.repository import Gio  # noqa: E402\n");
        append_types(out, g);
        append_errors(out, g);

        if (client) {
                g_string_append_printf(out,
                        "\n\nclass %sClient:\n"
                        "    \"\"\"The client of %s on an open AppService.Connection: a method per action; the\n"
                        "    provider's callbacks reach the methods of the same names, which a subclass overrides.\"\"\"\n\n",
                        g->ns, c->name);
                append_handled(out, c, CONTRACT_CALLBACK);
                g_string_append(out,
                        "\n    def __init__(self, connection: AppService.Connection):\n"
                        "        self.connection = connection\n"
                        "        connection.connect('request-received', lambda _, request: _dispatch(self, request, self._HANDLED))\n");
                g_string_append(out, answered_method);
        } else {
                g_string_append_printf(out,
                        "\n\nclass %sProvider:\n"
                        "    \"\"\"The provider of %s on an AppService.Provider: a subclass overrides a method per action,\n"
                        "    which returns the results (one value, a tuple of several, or a dict) or raises one of the\n"
                        "    contract's errors; the callbacks are methods that call the client.\"\"\"\n\n",
                        g->ns, c->name);
                append_handled(out, c, CONTRACT_METHOD);
                g_string_append(out,
                        "\n    def __init__(self, provider: AppService.Provider):\n"
                        "        self.provider = provider\n"
                        "        provider.connect('connection-received', self._connection_received)\n\n"
                        "    def _connection_received(self, provider, connection, caller):\n"
                        "        connection.connect('request-received', lambda _, request: _dispatch(self, request, self._HANDLED))\n"
                        "        self.connection_received(connection, caller)\n\n"
                        "    def connection_received(self, connection: AppService.Connection, caller: GLib.Variant) -> None:\n"
                        "        \"\"\"A client opened a connection: override to greet it (a callback, say).\"\"\"\n");
                g_string_append(out, answered_method);
        }
        for (size_t i = 0; i < c->n_members; i++) {
                if (c->members[i].kind == calls)
                        append_call(out, &c->members[i], !client);
                else if (c->members[i].kind == (client ? CONTRACT_CALLBACK : CONTRACT_METHOD))
                        append_handler(out, &c->members[i]);
        }
        return codegen_write(dir, name, out, error);
}
