# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Hello sample end to end: every pairing of the C and Python clients with the C and Python
providers, each provider started by the real appserviced through Exec= on a private system-type
bus (the harness of tests/integration, loaded with `-p conftest`). This is the check that a C app
and a Python app can each be a client and a provider through the library alone.

By hand, as root, from the top of the source tree:

    PYTHONPATH=tests/integration APPSERVICE_BUILD_ROOT=$PWD/build /usr/bin/python3 -m pytest \\
        -p tap_report -p conftest -p no:cacheprovider examples/hello/test-hello.py
"""

import os
import re
import shlex
import subprocess

import pytest

from client import GAMES_GID, GAMES_UID, TIME_SCALE
from conftest import BUILD_ROOT
# The harness's fixtures, named here so that they apply whatever pytest's rootdir is (fixtures of
# a conftest.py inside the rootdir would otherwise be limited to its own directory).
from conftest import agents, bus, daemon, services_dir, workdir  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICES_DIR = os.environ.get('HELLO_SERVICES_DIR') or os.path.join(BUILD_ROOT, 'examples', 'hello')
C_CLIENT = os.environ.get('HELLO_CLIENT') or os.path.join(SERVICES_DIR, 'hello-client')
C_PROVIDER = os.path.join(SERVICES_DIR, 'hello-provider')
PY_CLIENT = os.path.join(HERE, 'hello-client.py')
PY_PROVIDER = os.path.join(HERE, 'hello-provider.py')
# Where libappservice-1.so.0 and AppService-1.0.typelib are; empty: built without introspection.
LIBCLIENT_DIR = os.environ.get('APPSERVICE_LIBCLIENT_DIR', os.path.join(BUILD_ROOT, 'libclient'))
# An ASan build of the library can only be loaded into Python with the ASan runtime first.
PYTHON_PRELOAD = os.environ.get('APPSERVICE_PYTHON_PRELOAD', '')

NAME = 'com.example.hello'
RUN_TIMEOUT = 60 * TIME_SCALE


def need_python():
    if not LIBCLIENT_DIR:
        pytest.skip('libappservice was built without GObject Introspection (no typelib)')
    if not os.path.exists(os.path.join(LIBCLIENT_DIR, 'AppService-1.0.typelib')):
        pytest.skip('no AppService-1.0.typelib in %s' % LIBCLIENT_DIR)


def python_env():
    """What a Python app on the build tree's library needs in its environment."""
    # The modules appservice-codegen generated from the contract are in the build tree.
    env = {'GI_TYPELIB_PATH': LIBCLIENT_DIR, 'LD_LIBRARY_PATH': LIBCLIENT_DIR,
           'PYTHONDONTWRITEBYTECODE': '1', 'PYTHONPATH': SERVICES_DIR}
    if PYTHON_PRELOAD:
        env['LD_PRELOAD'] = PYTHON_PRELOAD
        env['ASAN_OPTIONS'] = 'detect_leaks=0'    # CPython keeps memory to the end on purpose
    return env


@pytest.fixture(params=['c-provider', 'python-provider'])
def provider(request, services_dir, daemon):
    """The broker serving com.example.hello with the C provider (the build tree's definition)
    or the Python one (a definition written here whose Exec= runs it on the build tree's
    library); returns the provider's kind."""
    if request.param == 'c-provider':
        if not os.path.exists(os.path.join(SERVICES_DIR, NAME + '.appservice')):
            pytest.skip('the Hello sample is not built in %s' % SERVICES_DIR)
        daemon.start(services_dirs=[SERVICES_DIR])
    else:
        need_python()
        # The broker gives providers a clean environment: the variables go on the command line.
        argv = ['/usr/bin/env'] + ['%s=%s' % kv for kv in sorted(python_env().items())]
        argv += ['/usr/bin/python3', PY_PROVIDER]
        services_dir.write(NAME, Provider='com.example.Hello', Contract=NAME, Exec=shlex.join(argv))
        with open(os.path.join(HERE, NAME + '.contract')) as f:
            services_dir.write_raw(NAME + '.contract', f.read())
        daemon.start()
    return request.param


def run_client(kind, bus, text):
    if kind == 'c-client':
        if not os.access(C_CLIENT, os.X_OK):
            pytest.skip('the C client is not built at %s' % C_CLIENT)
        argv = [C_CLIENT, text]
    else:
        need_python()
        argv = ['/usr/bin/python3', PY_CLIENT, text]
    env = {k: v for k, v in os.environ.items()
           if k not in ('DBUS_SESSION_BUS_ADDRESS', 'DBUS_SYSTEM_BUS_ADDRESS', 'PYTHONPATH')}
    env['DBUS_SYSTEM_BUS_ADDRESS'] = bus.address
    if kind == 'python-client':
        env.update(python_env())
    elif LIBCLIENT_DIR:
        env['LD_LIBRARY_PATH'] = LIBCLIENT_DIR
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=env, cwd='/',
                              timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        raise AssertionError('the %s hung: still running after %d s\nstdout: %s\nstderr: %s' % (
            kind, RUN_TIMEOUT, e.stdout, e.stderr))


@pytest.mark.parametrize('client', ['c-client', 'python-client'])
def test_round_trip(client, provider, daemon, bus):
    """{text} -> {result}: the provider is started on demand, answers "Hello, <text>!"."""
    for text in ('appservice', 'wörld ✓'):
        out = run_client(client, bus, text)
        assert out.returncode == 0, 'status %s\nstdout: %s\nstderr: %s' % (
            out.returncode, out.stdout, out.stderr)
        assert out.stdout.splitlines() == ['Request says: %s' % text,
                                           'Response says: Hello, %s!' % text], out.stdout
        assert out.stderr == ''

    # Which provider answered: the one its definition's Exec= starts, started once.
    started = re.findall(r"app service '%s': started provider '([^']*)'" % re.escape(NAME),
                         '\n'.join(daemon.log_lines()))
    want = C_PROVIDER if provider == 'c-provider' else '/usr/bin/env'
    assert [os.path.basename(s) for s in started] == [os.path.basename(want)], daemon.log_tail()


@pytest.mark.parametrize('client', ['c-client', 'python-client'])
def test_without_the_service(client, daemon, bus):
    """Nothing declares com.example.hello: exit status 1 and the broker's reason, no hang."""
    daemon.start()
    out = run_client(client, bus, 'nobody')
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert out.stdout == ''
    assert out.stderr.startswith('hello-client') and NAME in out.stderr, out.stderr


def test_the_broker_holds_the_service_to_its_contract(daemon, agents):
    """The definition names com.example.hello.contract: the busctl-style message of old, without
    "Action", and a text that is no string are refused by the broker, naming what is wrong; the
    provider built on the generated code is never bothered with them."""
    if not os.path.exists(os.path.join(SERVICES_DIR, NAME + '.appservice')):
        pytest.skip('the Hello sample is not built in %s' % SERVICES_DIR)
    daemon.start(services_dirs=[SERVICES_DIR])
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(NAME)
    error = client.send_message(path, "{'text': <'old style'>}").wait().expect_error(
        'io.appservice1.Error.ContractViolation')
    assert "no key 'Action' (s) naming the action (actions: Hello)" in error, error
    error = client.send_message(path, "{'Action': <'Hello'>, 'text': <uint32 7>}").wait().expect_error(
        'io.appservice1.Error.ContractViolation')
    assert "action 'Hello': key 'text': expected string (s), got uint32 (u)" in error, error
    response = client.send_message(path, "{'Action': <'Hello'>}").wait().unpack(0, 'a{sv}')
    assert response == {'result': 'Hello, world!'}


def test_the_generated_python_refuses_a_wrong_value_before_sending():
    """hello_client.py checks a value against the contract's type before anything is sent."""
    need_python()
    code = ('import hello_client\n'
            'try:\n'
            '    hello_client.HelloClient.hello(None, text=7)\n'
            'except hello_client.ContractValueError as e:\n'
            '    print(e)\n')
    env = dict(os.environ, **python_env())
    out = subprocess.run(['/usr/bin/python3', '-c', code], capture_output=True, text=True, env=env,
                         timeout=RUN_TIMEOUT)
    assert out.stdout.strip() == "text: 7 is not a string", (out.stdout, out.stderr)


# A provider on the generated module whose handler misbehaves, and which reports on stderr (the
# broker's log) what answered() was told.
BROKEN_PROVIDER = '''
import sys
import hello_provider
from hello_provider import AppService, GLib


class Broken(hello_provider.HelloProvider):
    def hello(self, text=None):
        if text == 'raise':
            raise RuntimeError('the handler broke')
        return 7 if text == 'number' else 'fine'

    def answered(self, action, error):
        print('answered %s: %s' % (action, error.message if error else 'delivered'), file=sys.stderr)


provider = AppService.Provider.new('com.example.hello')
broken = Broken(provider)
provider.register_sync(None)
GLib.MainLoop().run()
'''


def test_a_failing_python_handler_never_leaves_the_client_waiting(services_dir, daemon, agents):
    """A handler that raises, or returns what is not the contract's type: the generated module
    answers anyway (an empty ValueSet, with the traceback as a warning), the broker refuses that
    answer with ContractViolation, which the client gets at once and answered() is told; the
    provider goes on serving."""
    need_python()
    argv = ['/usr/bin/env'] + ['%s=%s' % kv for kv in sorted(python_env().items())]
    script = services_dir.write_raw('broken-provider.py', BROKEN_PROVIDER)
    argv += ['/usr/bin/python3', script]
    services_dir.write(NAME, Provider='com.example.Hello', Contract=NAME, Exec=shlex.join(argv))
    with open(os.path.join(HERE, NAME + '.contract')) as f:
        services_dir.write_raw(NAME + '.contract', f.read())
    daemon.start()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(NAME, timeout=30 * TIME_SCALE)
    for text, logged in (('raise', 'RuntimeError: the handler broke'),
                         ('number', 'result: 7 is not a string')):
        call = client.send_message(path, "{'Action': <'Hello'>, 'text': <'%s'>}" % text)
        error = call.wait(20 * TIME_SCALE).expect_error('io.appservice1.Error.ContractViolation')
        assert "action 'Hello'" in error and "'result'" in error, error
        daemon.wait_log(re.escape(logged))
    daemon.wait_log(r'answered Hello: .*ContractViolation|answered Hello: .*result')
    response = client.send_message(path, "{'Action': <'Hello'>, 'text': <'x'>}").wait()
    assert response.unpack(0, 'a{sv}') == {'result': 'fine'}
    daemon.wait_log(r'answered Hello: delivered')
