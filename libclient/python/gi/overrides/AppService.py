# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyGObject overrides of libappservice-1 (``from gi.repository import AppService``).

What they add to the introspected API, so that Python code reads like Python:

- dicts for ValueSets: every method that takes a ValueSet (``Connection.send_message``,
  ``Request.send_response``, ``Provider.submit_action``, ``send_message_once`` ...) also takes a
  ``dict`` of str keys, converted by ``AppService.value_set()``; ``Request.unpack()``,
  ``Response.unpack()`` and ``AppService.unpack()`` give a ValueSet back as a dict, null values
  as ``None``;
- awaitables for asyncio: an async method called without a callback from a coroutine returns
  an awaitable (as PyGObject 3.50 does for every library); ``AppService.glib_pump()`` is the task
  that runs GLib's main context inside the asyncio loop, for those results and for signals.

The library's own methods are unchanged: a ``GLib.Variant`` still works everywhere.
"""

import asyncio

from gi.repository import GLib

from ..module import get_introspection_module
from ..overrides import override

AppService = get_introspection_module('AppService')

__all__ = ['value_set', 'unpack', 'glib_pump']

INT64_MIN, INT64_MAX, UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1


# ---- ValueSets as dicts ------------------------------------------------------------------------

def _signature(value, where):
    """The D-Bus type a Python value is sent as."""
    if isinstance(value, GLib.Variant):
        return value.get_type_string()
    if value is None:
        return 'av'
    if isinstance(value, bool):
        return 'b'
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            return 'x'
        if 0 <= value <= UINT64_MAX:
            return 't'
        raise OverflowError('%s: %d does not fit in 64 bits' % (where, value))
    if isinstance(value, float):
        return 'd'
    if isinstance(value, str):
        return 's'
    if isinstance(value, (bytes, bytearray)):
        return 'ay'
    if isinstance(value, dict):
        return 'a{sv}'
    if isinstance(value, tuple):
        if not value:
            raise ValueError('%s: an empty tuple has no D-Bus type (a struct needs a member)' % where)
        return '(%s)' % ''.join(_signature(v, '%s[%d]' % (where, i)) for i, v in enumerate(value))
    if isinstance(value, list):
        kinds = {_signature(v, '%s[%d]' % (where, i)) for i, v in enumerate(value)}
        if len(kinds) == 1:
            return 'a' + kinds.pop()
        if kinds == {'x', 'd'}:
            return 'ad'
        # Empty, or of mixed types: each element in a variant.
        return 'av'
    raise TypeError('%s: a %s cannot be sent in a ValueSet (use str, int, float, bool, bytes, None, '
                    'list, tuple, dict or GLib.Variant)' % (where, type(value).__name__))


def _variant(value, signature, where):
    """value as a GLib.Variant of signature."""
    if isinstance(value, GLib.Variant):
        return value
    if value is None:
        return AppService.value_new_null()
    if signature == 'a{sv}':
        return _value_set(value, where)
    if signature == 'av':
        return GLib.Variant('av', [_value(v, '%s[%d]' % (where, i)) for i, v in enumerate(value)])
    if signature == 'ad':
        return GLib.Variant('ad', [float(v) for v in value])
    if signature.startswith('a') and signature not in ('ay',) and isinstance(value, list):
        inner = signature[1:]
        children = [_variant(v, inner, '%s[%d]' % (where, i)) for i, v in enumerate(value)]
        return GLib.Variant.new_array(GLib.VariantType.new(inner), children)
    if signature.startswith('(') and isinstance(value, tuple):
        return GLib.Variant.new_tuple(*[_variant(v, _signature(v, '%s[%d]' % (where, i)), '%s[%d]' % (where, i))
                                        if not isinstance(v, GLib.Variant) else v
                                        for i, v in enumerate(value)])
    return GLib.Variant(signature, bytes(value) if signature == 'ay' else value)


def _value(value, where):
    """One value of a ValueSet, as the variant its entry holds (null: ``@av []``)."""
    if isinstance(value, GLib.Variant):
        return value
    if value is None:
        return AppService.value_new_null()
    return _variant(value, _signature(value, where), where)


def _value_set(mapping, where):
    items = {}
    for key, v in mapping.items():
        if not isinstance(key, str):
            raise TypeError('%s: key %r is not a str' % (where or 'the ValueSet', key))
        items[key] = _value(v, '%s[%r]' % (where, key))
    return GLib.Variant('a{sv}', items)


def value_set(mapping=None, **keys):
    """A ValueSet (an ``a{sv}`` GLib.Variant) from a dict and/or keyword arguments.

    ``str`` is sent as ``s``, ``int`` as ``x`` (``t`` above 2**63 - 1), ``float`` as ``d``,
    ``bool`` as ``b``, ``bytes`` as ``ay``, ``None`` as the null value, a ``dict`` as a nested
    ValueSet, a ``tuple`` as a struct, a ``list`` as an array of its elements' one type (``av``
    when empty or mixed), and a ``GLib.Variant`` as it is, for any other type. A ``mapping``
    that is already a ``GLib.Variant`` is returned as it is.
    """
    if isinstance(mapping, GLib.Variant):
        if keys:
            raise TypeError('value_set(): a GLib.Variant and keyword arguments together')
        return mapping
    merged = dict(mapping or {})
    merged.update(keys)
    return _value_set(merged, '')


def _unpack_value(variant):
    if variant.get_type_string() == 'v':
        variant = variant.get_variant()
    if variant.get_type_string() == 'av' and variant.n_children() == 0:
        return None
    if variant.get_type_string() == 'a{sv}':
        return unpack(variant)
    return variant.unpack()


def unpack(value_set):
    """A ValueSet as a dict: each value unpacked (``GLib.Variant.unpack()``), nested ValueSets as
    dicts, null values as ``None``. ``None`` gives ``None``."""
    if value_set is None:
        return None
    return {value_set.get_child_value(i).get_child_value(0).get_string():
            _unpack_value(value_set.get_child_value(i).get_child_value(1))
            for i in range(value_set.n_children())}


def _as_value_set(message):
    return message if message is None or isinstance(message, GLib.Variant) else value_set(message)


# ---- asyncio -----------------------------------------------------------------------------------

PUMP_FAST, PUMP_SLOW = 0.001, 0.02


async def glib_pump():
    """Runs GLib's default main context inside the running asyncio loop, until cancelled: the
    library's async results and signals (``request-received``, ``service-closed`` ...) come
    through it. Start it once: ``asyncio.create_task(AppService.glib_pump())``. It wakes every
    millisecond while there is work and backs off to every 20 ms when idle."""
    context = GLib.MainContext.default()
    delay = PUMP_FAST
    while True:
        busy = False
        while context.pending():
            context.iteration(False)
            busy = True
        delay = PUMP_FAST if busy else min(delay * 2, PUMP_SLOW)
        await asyncio.sleep(delay)


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _awaitable(start, finish):
    """Starts an async call (start(callback)) and returns an asyncio future of its finish()."""
    future = asyncio.get_running_loop().create_future()

    def done(source, result, _data=None):
        if future.cancelled():
            return
        try:
            future.set_result(finish(result))
        except GLib.Error as e:
            future.set_exception(e)

    start(done)
    return future


def _split(name, names, args, kw, tail):
    """The call's arguments: the method's own (`names`, by position or keyword), then those of
    `tail` (cancellable, callback, user_data) by position or keyword, defaulting to None."""
    args = list(args)
    if len(args) > len(names) + len(tail):
        raise TypeError('%s() takes at most %d arguments' % (name, len(names) + len(tail)))
    ins = args[:len(names)]
    for key in names[len(ins):]:
        if key not in kw:
            raise TypeError('%s() missing argument %r' % (name, key))
        ins.append(kw.pop(key))
    rest = dict(zip(tail, args[len(names):]))
    for key in tail:
        if key in kw:
            if key in rest:
                raise TypeError('%s() got %r twice' % (name, key))
            rest[key] = kw.pop(key)
    if kw:
        raise TypeError('%s() got unexpected arguments %s' % (name, ', '.join(sorted(kw))))
    return ins, [rest.get(key) for key in tail], set(rest)


TAIL_ASYNC = ('cancellable', 'callback', 'user_data')
VALUE_SETS = ('message', 'response')


def _own_arguments(function, tail):
    """The names of a function's arguments before `tail`, and the index of its ValueSet."""
    names = tuple(a.get_name() for a in function.get_arguments() if a.get_name() not in tail)
    convert = next((i for i, n in enumerate(names) if n in VALUE_SETS), None)
    return names, convert


def _async_method(function, finish, bound):
    """An async method or function (its own arguments, then cancellable, callback, user_data)
    taking a dict for its ValueSet and, called without a callback in a coroutine, returning an
    awaitable of its _finish(). `bound`: whether it takes self."""
    names, convert = _own_arguments(function, TAIL_ASYNC)

    def call(*args, **kw):
        head = args[:1] if bound else ()
        ins, (cancellable, callback, user_data), given = _split(function.__name__, names, args[len(head):], kw,
                                                                TAIL_ASYNC)
        if convert is not None:
            ins[convert] = _as_value_set(ins[convert])
        if callback is None and _running_loop() is not None:
            return _awaitable(lambda done: function(*head, *ins, cancellable, done),
                              lambda result: finish(*head, result))
        # PyGObject hands user_data to the callback only when it was given.
        return function(*head, *ins, cancellable, callback, *([user_data] if 'user_data' in given else []))

    call.__name__ = call.__qualname__ = function.__name__
    call.__doc__ = function.__doc__
    return call


def _sync_method(function, bound):
    """A _sync method or function taking a dict for its ValueSet, its cancellable optional."""
    names, convert = _own_arguments(function, ('cancellable',))

    def call(*args, **kw):
        head = args[:1] if bound else ()
        ins, (cancellable,), _given = _split(function.__name__, names, args[len(head):], kw, ('cancellable',))
        if convert is not None:
            ins[convert] = _as_value_set(ins[convert])
        return function(*head, *ins, cancellable)

    call.__name__ = call.__qualname__ = function.__name__
    call.__doc__ = function.__doc__
    return call


def _wrap_calls(namespace, get, bound):
    """Every async call of a class or the module, and every _sync call that takes a ValueSet."""
    wrapped = {}
    for name in dir(namespace):
        if name.startswith('_') or name in ('new', 'init', 'new_finish', 'init_finish', 'init_async'):
            continue
        function = get(name)
        if not hasattr(function, 'get_arguments'):
            continue  # not from the typelib (an inherited Python method)
        if hasattr(namespace, name + '_finish'):
            wrapped[name] = _async_method(function, get(name + '_finish'), bound)
        elif name.endswith('_sync'):
            wrapped[name] = _sync_method(function, bound)
    return wrapped


def _override_class(klass, extra=None):
    members = _wrap_calls(klass, lambda n: klass.__dict__.get(n, getattr(klass, n)), bound=True)
    members = {k: v for k, v in members.items() if k in klass.__dict__ or hasattr(klass, k)}
    members.update(extra or {})
    return override(type(klass.__name__, (klass,), members))


def _request_unpack(self):
    """The request's message as a dict (see ``AppService.unpack()``)."""
    return unpack(self.get_message())


def _response_unpack(self):
    """The response's message as a dict (see ``AppService.unpack()``); ``None`` when the
    request failed (see ``get_error()``)."""
    return unpack(self.get_message())


Connection = _override_class(AppService.Connection)
Node = _override_class(AppService.Node)
Provider = _override_class(AppService.Provider)
Request = _override_class(AppService.Request, {'unpack': _request_unpack})
Response = _override_class(AppService.Response, {'unpack': _response_unpack})
__all__ += ['Connection', 'Node', 'Provider', 'Request', 'Response']

_module_calls = _wrap_calls(AppService, lambda n: getattr(AppService, n), bound=False)
globals().update(_module_calls)
__all__ += sorted(_module_calls)

