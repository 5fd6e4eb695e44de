#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the type stubs (PEP 484) of `gi.repository.AppService`, from the library's GIR and
what the PyGObject overrides (gi/overrides/AppService.py) add to it:

    make-stubs.py AppService-1.0.gir AppService.pyi

Made from the GIR so that a function added to the library is in the stubs the same build: the
classes with their constructors, methods, `props` and signals (`connect()` typed by signal
name), the enumerations with their members, the module's functions and constants. As
PyGObject maps them: out arguments returned after the return value, `throws` as exceptions,
callbacks' user data as extra arguments. From the overrides: every async call without a
callback returns an awaitable of what its `_finish()` returns, ValueSet arguments of async and
`_sync` calls take a dict, and `value_set()`, `unpack()`, `glib_pump()`, `Request.unpack()`,
`Response.unpack()`.

Installed as the partial stub package `gi-stubs` (PEP 561) beside the overrides; other
namespaces come from the runtime package or from pygobject-stubs.
"""
import keyword
import sys
import xml.etree.ElementTree as ET

CORE = '{http://www.gtk.org/introspection/core/1.0}'
GLIB = '{http://www.gtk.org/introspection/glib/1.0}'

BASIC = {
    'none': 'None', 'gboolean': 'bool', 'utf8': 'str', 'filename': 'str', 'gchar': 'int',
    'guchar': 'int', 'gint': 'int', 'guint': 'int', 'gint8': 'int', 'guint8': 'int',
    'gint16': 'int', 'guint16': 'int', 'gint32': 'int', 'guint32': 'int', 'gint64': 'int',
    'guint64': 'int', 'glong': 'int', 'gulong': 'int', 'gsize': 'int', 'gssize': 'int',
    'gfloat': 'float', 'gdouble': 'float', 'gpointer': 'object', 'GType': 'GObject.GType',
    'GLib.Quark': 'int', 'GLib.Error': 'GLib.Error',
}
# The ValueSet arguments the overrides convert from a dict (see _own_arguments() there).
VALUE_SET_ARGUMENTS = ('message', 'response')
ASYNC_TAIL = ('cancellable', 'callback', 'user_data')


class Stubs:
    def __init__(self, namespace):
        self.ns = namespace
        self.name = namespace.get('name')
        self.out = []
        self.enums = {e.get('name') for tag in ('enumeration', 'bitfield')
                      for e in namespace.findall(CORE + tag)}

    # ---- types ----------------------------------------------------------------------------

    def type_of(self, node):
        """The Python type of a <type> or <array> below `node` (a parameter, a return value, a
        property)."""
        array = node.find(CORE + 'array')
        if array is not None:
            element = self.type_of(array)
            return 'bytes' if element == 'int' and array.get('name') != 'GLib.PtrArray' and \
                (array.find(CORE + 'type').get('name') in ('guint8', 'gchar')) else 'list[%s]' % element
        t = node.find(CORE + 'type')
        if t is None:
            return 'typing.Any'
        name = t.get('name')
        if name in ('GLib.List', 'GLib.SList'):
            return 'list[%s]' % self.type_of(t)
        if name == 'GLib.HashTable':
            inner = [self.type_of_type(x) for x in t.findall(CORE + 'type')]
            return 'dict[%s]' % ', '.join(inner or ['typing.Any', 'typing.Any'])
        return self.type_of_type(t)

    def type_of_type(self, t):
        name = t.get('name')
        if name in BASIC:
            return BASIC[name]
        if name is None:
            return 'typing.Any'
        if '.' in name:
            return name  # GLib.Variant, Gio.Cancellable...: from gi.repository
        return name      # one of this namespace's own

    def nullable(self, node, text):
        if node.get('nullable') == '1' or node.get('allow-none') == '1':
            return 'typing.Optional[%s]' % text
        return text

    # ---- callables ------------------------------------------------------------------------

    def parameters(self, callable_):
        """(ins, outs): the in arguments as (name, type, optional), the out ones as types."""
        params = callable_.find(CORE + 'parameters')
        nodes = [] if params is None else params.findall(CORE + 'parameter')
        hidden = set()
        for p in nodes:   # lengths, destroy notifies and closures are not Python arguments
            for attr in ('closure', 'destroy'):
                if p.get(attr) is not None and p.get('name') not in ASYNC_TAIL:
                    hidden.add(int(p.get(attr)))
            array = p.find(CORE + 'array')
            if array is not None and array.get('length') is not None:
                hidden.add(int(array.get('length')))
        ins, outs = [], []
        for i, p in enumerate(nodes):
            if i in hidden:
                continue
            text = self.type_of(p)
            if p.get('direction') == 'out':  # allow-none there: the caller may pass NULL
                outs.append('typing.Optional[%s]' % text if p.get('nullable') == '1' else text)
                continue
            if text == 'Gio.AsyncReadyCallback':
                text = '_AsyncReadyCallback'
            optional = p.get('nullable') == '1' or p.get('allow-none') == '1'
            ins.append((self.py_name(p.get('name')), self.nullable(p, text), optional))
        return ins, outs

    def returns(self, callable_, outs):
        ret = callable_.find(CORE + 'return-value')
        text = 'None' if ret is None else self.nullable(ret, self.type_of(ret))
        values = ([] if text == 'None' else [text]) + outs
        if not values:
            return 'None'
        return values[0] if len(values) == 1 else 'tuple[%s]' % ', '.join(values)

    @staticmethod
    def py_name(name):
        return name + '_' if keyword.iskeyword(name) else name

    @staticmethod
    def signature(ins, first=None, value_sets=False, force_optional_tail=True):
        args = [first] if first else []
        # An argument may only be optional when every one after it is.
        optional_from = len(ins)
        while force_optional_tail and optional_from > 0 and ins[optional_from - 1][2]:
            optional_from -= 1
        for i, (name, text, _optional) in enumerate(ins):
            if value_sets and name in VALUE_SET_ARGUMENTS and 'GLib.Variant' in text:
                text = text.replace('GLib.Variant', '_ValueSetLike')
            args.append('%s: %s%s' % (name, text, ' = None' if i >= optional_from else ''))
        return ', '.join(args)

    def doc(self, node, indent):
        d = node.find(CORE + 'doc')
        if d is None or not (d.text or '').strip():
            return
        first = d.text.strip().split('\n\n')[0].replace('\\', '\\\\').replace('"""', "'''")
        lines = [l.strip() for l in first.splitlines()]
        self.out.append('%s"""%s"""' % (indent, '\n'.join([lines[0]] + [indent + l for l in lines[1:]])))

    def function(self, fn, indent, kind, siblings, value_sets):
        """One method (kind 'self'), constructor ('cls') or function (None: module level or
        static). `siblings`: the names around it, to find an async call's _finish."""
        name = fn.get('name')
        if fn.get('introspectable') == '0':
            return
        ins, outs = self.parameters(fn)
        first = {'self': 'self', 'cls': 'cls'}.get(kind)
        finish = siblings.get(name + '_finish')
        decorator = {'cls': '@classmethod', None: '@staticmethod' if indent else None}.get(kind)
        names = [n for n, _t, _o in ins]
        if finish is not None and names[-3:] == list(ASYNC_TAIL):
            own = ins[:-3]
            f_ins, f_outs = self.parameters(finish)
            result = self.returns(finish, f_outs)
            cancellable = ins[-3]
            head = self.signature(own, first, value_sets, force_optional_tail=False)
            head = head + ', ' if head else ''
            for overload_args, ret in (
                    ('%s: %s = None' % cancellable[:2], 'typing.Awaitable[%s]' % result),
                    ('%s: %s, callback: _AsyncReadyCallback, user_data: typing.Any = None' %
                     cancellable[:2], 'None'),
                    ('%s: %s = None, *, callback: _AsyncReadyCallback, user_data: typing.Any = None' %
                     cancellable[:2], 'None')):
                self.out.append(indent + '@typing.overload')
                if decorator:
                    self.out.append(indent + decorator)
                self.out.append('%sdef %s(%s%s) -> %s: ...' % (indent, name, head, overload_args, ret))
            return
        if value_sets and name.endswith('_sync') and names[-1:] == ['cancellable']:
            # The overrides' _sync calls: their own arguments required, the cancellable not.
            args = self.signature(ins[:-1], first, True, force_optional_tail=False)
            args += (', ' if args else '') + '%s: %s = None' % ins[-1][:2]
        else:
            args = self.signature(ins, first)
        if decorator:
            self.out.append(indent + decorator)
        self.out.append('%sdef %s(%s) -> %s:' % (indent, name, args, self.returns(fn, outs)))
        self.doc(fn, indent + '    ')
        self.out.append(indent + '    ...')

    def callables(self, node, indent, kind_of, value_sets):
        siblings = {f.get('name'): f for tag in ('constructor', 'method', 'function')
                    for f in node.findall(CORE + tag)}
        for tag in ('constructor', 'method', 'function'):
            for fn in node.findall(CORE + tag):
                self.function(fn, indent, kind_of[tag], siblings, value_sets)

    # ---- types of the namespace -----------------------------------------------------------

    def klass(self, cls, extra):
        name = cls.get('name')
        bases = [cls.get('parent') or 'GObject.Object'] + \
            [i.get('name') for i in cls.findall(CORE + 'implements')]
        self.out.append('')
        self.out.append('')
        self.out.append('class %s(%s):' % (name, ', '.join(bases)))
        self.doc(cls, '    ')
        props = cls.findall(CORE + 'property')
        if props:
            self.out.append('    class _Props:')
            for p in props:
                self.out.append('        %s: %s' % (p.get('name').replace('-', '_'),
                                                    self.nullable(p, self.type_of(p))))
            self.out.append('    props: _Props')
        self.out.append('    def __init__(self, **properties: typing.Any) -> None: ...')
        self.callables(cls, '    ', {'constructor': 'cls', 'method': 'self', 'function': None}, True)
        for sig in cls.findall(GLIB + 'signal'):
            ins, _outs = self.parameters(sig)
            ret = sig.find(CORE + 'return-value')
            result = 'None' if ret is None else self.type_of(ret)
            args = ', '.join([name] + [t for _n, t, _o in ins])
            self.out.append('    @typing.overload')
            self.out.append("    def connect(self, detailed_signal: typing.Literal['%s'], "
                            'handler: typing.Callable[[%s], %s], *args: typing.Any) -> int: ...' %
                            (sig.get('name'), args, result))
        if cls.findall(GLIB + 'signal'):
            self.out.append('    @typing.overload')
            self.out.append('    def connect(self, detailed_signal: str, handler: typing.Callable[..., typing.Any], '
                            '*args: typing.Any) -> int: ...')
        for line in extra.get(name, ()):
            self.out.append('    ' + line)

    def enum(self, enum, base):
        self.out.append('')
        self.out.append('')
        self.out.append('class %s(%s):' % (enum.get('name'), base))
        self.doc(enum, '    ')
        for m in enum.findall(CORE + 'member'):
            member = m.get('name').upper()
            if member[0].isdigit():
                member = '_' + member
            self.out.append('    %s: %s  # %s' % (member, enum.get('name'), int(m.get('value'))))
        self.callables(enum, '    ', {'constructor': None, 'method': None, 'function': None}, False)

    def write(self, extra_classes, extra_module):
        o = self.out
        o += ['# Type stubs of gi.repository.%s, written by libclient/python/make-stubs.py from the' % self.name,
              '# GIR and the PyGObject overrides: do not edit.',
              'import typing',
              '',
              'from gi.repository import Gio, GLib, GObject',
              '',
              '_ValueSetLike = typing.Union[GLib.Variant, typing.Mapping[str, typing.Any]]',
              '_AsyncReadyCallback = typing.Callable[..., None]']
        for c in self.ns.findall(CORE + 'constant'):
            o.append('%s: %s' % (c.get('name'), self.type_of(c)))
        for tag, base in (('enumeration', 'GObject.GEnum'), ('bitfield', 'GObject.GFlags')):
            for e in self.ns.findall(CORE + tag):
                self.enum(e, base)
        for tag in ('interface', 'class'):
            for c in self.ns.findall(CORE + tag):
                self.klass(c, extra_classes)
        for r in self.ns.findall(CORE + 'record'):
            if r.get(GLIB + 'is-gtype-struct-for') is None and r.get('introspectable') != '0':
                o += ['', '', 'class %s:' % r.get('name')]
                self.callables(r, '    ', {'constructor': 'cls', 'method': 'self', 'function': None}, False)
                o.append('    ...')
        o += ['', '']
        self.callables(self.ns, '', {'constructor': None, 'method': None, 'function': None}, True)
        o += extra_module
        return '\n'.join(o) + '\n'


# What the overrides add (gi/overrides/AppService.py).
OVERRIDE_CLASSES = {
    'Request': ['def unpack(self) -> typing.Optional[dict[str, typing.Any]]: ...'],
    'Response': ['def unpack(self) -> typing.Optional[dict[str, typing.Any]]: ...'],
}
OVERRIDE_MODULE = [
    '',
    'def value_set(mapping: typing.Union[GLib.Variant, typing.Mapping[str, typing.Any], None] = None,',
    '              **keys: typing.Any) -> GLib.Variant:',
    '    """A ValueSet (an a{sv} GLib.Variant) from a dict and/or keyword arguments."""',
    '    ...',
    '@typing.overload',
    'def unpack(value_set: GLib.Variant) -> dict[str, typing.Any]: ...',
    '@typing.overload',
    'def unpack(value_set: None) -> None: ...',
    'async def glib_pump() -> None:',
    '    """Runs GLib\'s default main context inside the running asyncio loop, until cancelled."""',
    '    ...',
]


def main(argv):
    if len(argv) != 3:
        sys.exit('usage: make-stubs.py NAMESPACE.gir OUTPUT.pyi')
    root = ET.parse(argv[1]).getroot()
    text = Stubs(root.find(CORE + 'namespace')).write(OVERRIDE_CLASSES, OVERRIDE_MODULE)
    with open(argv[2], 'w') as f:
        f.write(text)


if __name__ == '__main__':
    main(sys.argv)
