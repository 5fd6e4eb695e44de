# SPDX-License-Identifier: LGPL-2.1-or-later
"""The type stubs of gi.repository.AppService (libclient/python/make-stubs.py): they name what
the module has, and mypy accepts a typed client and provider written as the Python page shows
and reports the mistakes a type checker is for.

The stubs are laid out as installed: gi-stubs/ beside gi/ in one site directory (a user site
made for the test; mypy merges a partial stub package only with the runtime package of the same
directory). GLib, Gio and GObject have no stubs in Debian (pygobject-stubs is on PyPI only): the
test gives mypy a few lines of stand-ins for the classes the stubs refer to, so that a mistake
in a GLib type shows; a user installs pygobject-stubs for the real ones.
"""
import ast
import os
import subprocess
import sys
import textwrap

import gi
import pytest

gi.require_version('AppService', '1.0')
from gi.repository import AppService  # noqa: E402

STUBS = os.path.join(os.environ.get('APPSERVICE_BUILD_ROOT', ''), 'libclient', 'AppService.pyi')
PY_TYPED = os.path.join(os.environ.get('APPSERVICE_SOURCE_ROOT', ''), 'libclient', 'python', 'py.typed')

STAND_INS = {
    'GObject': '''
        import typing
        class Object:
            def __init__(self, **properties: typing.Any) -> None: ...
            def connect(self, detailed_signal: str, handler: typing.Callable[..., typing.Any],
                        *args: typing.Any) -> int: ...
        class GEnum(int): ...
        class GFlags(int): ...
        class GType: ...
    ''',
    'GLib': '''
        import typing
        class Variant:
            def __init__(self, format_string: str, value: typing.Any) -> None: ...
            def unpack(self) -> typing.Any: ...
        class VariantType: ...
        class Error(Exception):
            message: str
    ''',
    'Gio': '''
        from gi.repository import GObject
        class Cancellable(GObject.Object): ...
        class AsyncResult: ...
        class AsyncInitable: ...
        class Initable: ...
        class ListModel: ...
        class DBusConnection(GObject.Object): ...
    ''',
}

GOOD = '''
    import asyncio
    import typing

    import gi
    gi.require_version('AppService', '1.0')
    from gi.repository import AppService, GLib


    def on_request(connection: AppService.Connection, request: AppService.Request) -> None:
        message = request.unpack()
        if message is not None:
            request.send_response_sync({'Echo': message.get('Text', '')})


    def client(name: str) -> typing.Optional[str]:
        connection = AppService.Connection.new(name)
        connection.connect('request-received', on_request)
        status: AppService.ConnectionStatus = connection.open_sync()
        if status != AppService.ConnectionStatus.SUCCESS:
            return None
        response = connection.send_message_sync({'Text': 'hi', 'N': 3})
        if response is None or response.get_status() != AppService.ResponseStatus.SUCCESS:
            return None
        found, flag = AppService.value_set_get_boolean(AppService.value_set(Flag=True), 'Flag')
        variant: GLib.Variant = AppService.value_set({'Text': 'hi'})
        body = response.unpack()
        return None if body is None or not found or not flag else str(body.get('Text'))


    async def async_client(name: str) -> int:
        pump = asyncio.ensure_future(AppService.glib_pump())
        connection = AppService.Connection.new(name)
        status = await connection.open()
        response = await connection.send_message({'Text': 'hi'})
        closed: bool = await connection.close()
        pump.cancel()
        return int(status) + (0 if response is None else 1) + int(closed)


    def callbacks(connection: AppService.Connection) -> None:
        def done(source: typing.Any, result: typing.Any, data: typing.Any = None) -> None:
            connection.send_message_finish(result)
        connection.send_message({'Text': 'hi'}, None, done)
        connection.send_message({'Text': 'hi'}, callback=done)


    def provider(name: str) -> AppService.Provider:
        p = AppService.Provider.new(name)
        p.connect('connection-received', lambda prov, conn, caller: None)
        p.connect('stop-requested', lambda prov: None)
        p.register_sync()
        return p
'''

# Each line that mypy must report ends with "# E: <error code>".
BAD = '''
    import gi
    gi.require_version('AppService', '1.0')
    from gi.repository import AppService, GLib

    connection = AppService.Connection.new(42)  # E: arg-type
    status: str = connection.open_sync()  # E: assignment
    connection.send_message_sync(['Text', 'hi'])  # E: arg-type
    connection.send_mesage_sync({'Text': 'hi'})  # E: attr-defined
    connection.connect('service-closed', 3)  # E: call-overload
    text: int = AppService.Response().unpack()  # E: assignment
    AppService.ConnectionStatus.SUCCES  # E: attr-defined
    node = AppService.Node.new_for_bus('system')  # E: arg-type
    found: str = AppService.value_set_get_int64(AppService.value_set(), 'N')[1]  # E: assignment
    closed: str = connection.close_finish(connection)  # E: arg-type
'''


def site_dir(tmp_path):
    """A user site directory laid out as an installed system: gi (python3-gi's), gi-stubs."""
    base = tmp_path / 'userbase'
    env = dict(os.environ, PYTHONUSERBASE=str(base))
    site = subprocess.run([sys.executable, '-c', 'import site; print(site.getusersitepackages())'],
                          env=env, capture_output=True, text=True, check=True).stdout.strip()
    os.makedirs(os.path.join(site, 'gi-stubs', 'repository'))
    os.symlink(os.path.dirname(gi.__file__), os.path.join(site, 'gi'))
    with open(STUBS) as f, open(os.path.join(site, 'gi-stubs', 'repository', 'AppService.pyi'), 'w') as out:
        out.write(f.read())
    with open(PY_TYPED) as f, open(os.path.join(site, 'gi-stubs', 'py.typed'), 'w') as out:
        out.write(f.read())
    for name, text in STAND_INS.items():
        with open(os.path.join(site, 'gi-stubs', 'repository', name + '.pyi'), 'w') as out:
            out.write(textwrap.dedent(text))
    return env


def mypy(tmp_path, source):
    pytest.importorskip('mypy', reason='mypy is not installed (Debian package mypy)')
    env = site_dir(tmp_path)
    program = tmp_path / 'program.py'
    program.write_text(textwrap.dedent(source))
    config = tmp_path / 'mypy.ini'
    # gi itself (require_version) has no types: everything else is strict.
    config.write_text('[mypy]\nstrict = True\ndisallow_untyped_calls = False\n')
    run = subprocess.run([sys.executable, '-m', 'mypy', '--config-file', str(config), '--no-incremental',
                          '--cache-dir', str(tmp_path / 'cache'), '--python-executable', sys.executable,
                          '--show-error-codes', '--no-error-summary', str(program)],
                         env=env, capture_output=True, text=True, cwd=str(tmp_path))
    return run, textwrap.dedent(source).splitlines()


def stub_tree():
    with open(STUBS) as f:
        return ast.parse(f.read(), STUBS)


def test_stubs_name_every_class_and_function_of_the_module():
    tree = stub_tree()
    stubbed = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            stubbed[node.name] = {n.name for n in node.body
                                  if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stubbed.setdefault('', set()).add(node.name)
    # What the stubs name exists, as PyGObject and the overrides make it.
    for cls, members in stubbed.items():
        owner = AppService if cls == '' else getattr(AppService, cls)
        missing = sorted(m for m in members if m != '__init__' and not hasattr(owner, m))
        assert not missing, '%s: in the stubs, not in the module: %s' % (cls or 'module', missing)
    # What the module has is in the stubs: every class and enumeration, every method of the
    # typelib, every function of the typelib and of the overrides.
    for name in dir(AppService):
        value = getattr(AppService, name)
        if name.startswith('_') or not isinstance(value, type):
            continue
        info = getattr(value, '__info__', None)
        if hasattr(info, 'is_gtype_struct') and info.is_gtype_struct():
            continue  # ConnectionClass & co.: the C class structures, of no use in Python
        assert name in stubbed, 'AppService.%s is not in the stubs' % name
        methods = [m.get_name() for m in info.get_methods()] if hasattr(info, 'get_methods') else []
        missing = sorted(m for m in methods if m not in stubbed[name])
        assert not missing, 'AppService.%s: not in the stubs: %s' % (name, missing)
    functions = [n for n in dir(AppService) if not n.startswith('_') and callable(getattr(AppService, n))
                 and not isinstance(getattr(AppService, n), type)]
    assert functions and not sorted(set(functions) - stubbed['']), sorted(set(functions) - stubbed[''])


def test_enumeration_members_are_typed_as_their_enumeration():
    text = open(STUBS).read()
    assert '    SUCCESS: ConnectionStatus' in text
    for member in AppService.ConnectionStatus.__enum_values__.values():
        assert '    %s: ConnectionStatus' % member.value_nick.upper().replace('-', '_') in text


def test_a_typed_client_and_provider_pass_mypy_strict(tmp_path):
    run, _lines = mypy(tmp_path, GOOD)
    assert run.returncode == 0, run.stdout + run.stderr


def test_mypy_reports_each_mistake_on_its_line(tmp_path):
    run, lines = mypy(tmp_path, BAD)
    expected = {i + 1: line.split('# E: ')[1].strip() for i, line in enumerate(lines) if '# E: ' in line}
    reported = {}
    for line in run.stdout.splitlines():
        parts = line.split(':', 3)
        if len(parts) == 4 and parts[2].strip() == 'error' and line.endswith(']'):
            reported.setdefault(int(parts[1]), set()).add(line.rsplit('[', 1)[1].rstrip(']'))
    assert run.returncode == 1, run.stdout + run.stderr
    for number, code in expected.items():
        assert code in reported.get(number, set()), \
            'line %d (%s): mypy did not report %s:\n%s' % (number, lines[number - 1].strip(), code, run.stdout)
    unexpected = sorted(set(reported) - set(expected))
    assert not unexpected, 'errors on lines that are right:\n' + run.stdout
