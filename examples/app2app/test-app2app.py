# SPDX-License-Identifier: LGPL-2.1-or-later
"""The App2App sample end to end: the real appserviced from the build tree on a private
system-type bus (the harness of tests/integration, loaded with `-p conftest`), the C provider
started by the broker through the Exec= of the build tree's definition, and the C and Python
clients run as they would be by hand. Every assertion is on behaviour: exit status, transcript
lines, what the broker logged, and what a raw D-Bus peer sees.

Run by meson (`meson test -C build --suite samples`) or by hand, as root, from the top of the
source tree:

    PYTHONPATH=tests/integration APPSERVICE_BUILD_ROOT=$PWD/build /usr/bin/python3 -m pytest \\
        -p tap_report -p conftest -p no:cacheprovider examples/app2app/test-app2app.py
"""

import ast
import os
import re
import signal
import subprocess

import pytest

from client import GAMES_GID, GAMES_UID, TIME_SCALE, GLib, valueset
from conftest import BUILD_ROOT
# The harness's fixtures, named here so that they apply whatever pytest's rootdir is (fixtures of
# a conftest.py inside the rootdir would otherwise be limited to its own directory).
from conftest import agents, bus, daemon, services_dir, start_service, workdir  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICES_DIR = os.environ.get('APP2APP_SERVICES_DIR') or os.path.join(BUILD_ROOT, 'examples',
                                                                       'app2app')
C_CLIENT = os.environ.get('APP2APP_CLIENT') or os.path.join(SERVICES_DIR, 'app2app-client')
# The generated Python module (app_to_app_client.py) is beside the build tree's definition.
GENERATED_DIR = SERVICES_DIR
PY_CLIENT = os.path.join(HERE, 'app2app-client.py')
# Where libappservice-1.so.0 and AppService-1.0.typelib are; empty: built without introspection.
LIBCLIENT_DIR = os.environ.get('APPSERVICE_LIBCLIENT_DIR', os.path.join(BUILD_ROOT, 'libclient'))
# An ASan build of the library can only be loaded into Python with the ASan runtime first.
PYTHON_PRELOAD = os.environ.get('APPSERVICE_PYTHON_PRELOAD', '')

NAME = 'com.example.app2app'
PROVIDER = 'com.example.App2App'
GREETING = 'Hello from the App2App provider'
VIOLATION = 'io.appservice1.Error.ContractViolation'
RUN_TIMEOUT = 60 * TIME_SCALE       # a whole client run; each of its waits is bounded by --timeout
STEP_TIMEOUT = int(20 * TIME_SCALE)

# What TestValues must answer: README.md's mapping table, as the clients print it (key, D-Bus
# type, GVariant text; nulls print as "null").
TEST_VALUES = [
    ('Null', 'av', 'null'),
    ('BoolMin', 'b', 'false'),
    ('BoolMax', 'b', 'true'),
    ('CharMin', 'q', '0'),
    ('CharMax', 'q', '65535'),
    ('ByteMin', 'y', '0x00'),
    ('ByteMax', 'y', '0xff'),
    ('Int16Min', 'n', '-32768'),
    ('Int16Max', 'n', '32767'),
    ('Int32Min', 'i', '-2147483648'),
    ('Int32Max', 'i', '2147483647'),
    ('Int64Min', 'x', '-9223372036854775808'),
    ('Int64Max', 'x', '9223372036854775807'),
    ('UInt16Min', 'q', '0'),
    ('UInt16Max', 'q', '65535'),
    ('UInt32Min', 'u', '0'),
    ('UInt32Max', 'u', '4294967295'),
    ('UInt64Min', 't', '0'),
    ('UInt64Max', 't', '18446744073709551615'),
    ('SingleMin', 'd', '-3.4028234663852886e+38'),
    ('SingleMax', 'd', '3.4028234663852886e+38'),
    ('DoubleMin', 'd', '-1.7976931348623157e+308'),
    ('DoubleMax', 'd', '1.7976931348623157e+308'),
    ('StringNull', 'av', 'null'),
    ('StringEmpty', 's', "''"),
    ('String', 's', "'string'"),
    ('ArrayBoolean', 'ab', '[false, true]'),
    ('ArrayChar', 'aq', '[0, 65535]'),
    ('ArrayByte', 'ay', '[0x00, 0xff]'),
    ('ArrayInt16', 'an', '[-32768, 32767]'),
    ('ArrayInt32', 'ai', '[-2147483648, 2147483647]'),
    ('ArrayInt64', 'ax', '[-9223372036854775808, 9223372036854775807]'),
    ('ArrayUInt16', 'aq', '[0, 65535]'),
    ('ArrayUInt32', 'au', '[0, 4294967295]'),
    ('ArrayUInt64', 'at', '[0, 18446744073709551615]'),
    ('ArraySingle', 'ad', '[-3.4028234663852886e+38, 3.4028234663852886e+38]'),
    ('ArrayDouble', 'ad', '[-1.7976931348623157e+308, 1.7976931348623157e+308]'),
    ('ArrayString', 'as', "['', 'string', 'foobar']"),
]
N_VALUES = len(TEST_VALUES)

# The same values as the Python client prints them: what the generated module gives (a null is
# None; the contract, not the value, carries the D-Bus type).
PY_VALUES = {
    'Null': None, 'BoolMin': False, 'BoolMax': True, 'CharMin': 0, 'CharMax': 65535,
    'ByteMin': 0, 'ByteMax': 255, 'Int16Min': -32768, 'Int16Max': 32767,
    'Int32Min': -2147483648, 'Int32Max': 2147483647,
    'Int64Min': -9223372036854775808, 'Int64Max': 9223372036854775807,
    'UInt16Min': 0, 'UInt16Max': 65535, 'UInt32Min': 0, 'UInt32Max': 4294967295,
    'UInt64Min': 0, 'UInt64Max': 18446744073709551615,
    'SingleMin': -3.4028234663852886e+38, 'SingleMax': 3.4028234663852886e+38,
    'DoubleMin': -1.7976931348623157e+308, 'DoubleMax': 1.7976931348623157e+308,
    'StringNull': None, 'StringEmpty': '', 'String': 'string',
    'ArrayBoolean': [False, True], 'ArrayChar': [0, 65535], 'ArrayByte': [0, 255],
    'ArrayInt16': [-32768, 32767], 'ArrayInt32': [-2147483648, 2147483647],
    'ArrayInt64': [-9223372036854775808, 9223372036854775807],
    'ArrayUInt16': [0, 65535], 'ArrayUInt32': [0, 4294967295],
    'ArrayUInt64': [0, 18446744073709551615],
    'ArraySingle': [-3.4028234663852886e+38, 3.4028234663852886e+38],
    'ArrayDouble': [-1.7976931348623157e+308, 1.7976931348623157e+308],
    'ArrayString': ['', 'string', 'foobar'],
}
assert list(PY_VALUES) == [k for k, _, _ in TEST_VALUES]

# The lines every successful run prints, in this order. ("Open status: success" is printed too,
# but the greeting may come before it: the library may deliver the provider's first request before
# the open call's callback runs.)
SUCCESS_LINES = {
    'c': ['Greeting received: %s' % GREETING,
          'Response status: success',
          'Values: %d' % N_VALUES,
          'Text: this should be echoed back',
          '%d of %d values compared equal (type and value)' % (N_VALUES, N_VALUES),
          'Disconnect status: Disconnecting',
          'Service closed: completed'],
    'python': ['Greeting received: %s' % GREETING,
               'Response status: success',
               'Values: %d' % N_VALUES,
               'Text: this should be echoed back',
               '%d of %d values compared equal (Python value and type)' % (N_VALUES, N_VALUES),
               'Disconnect status: Disconnecting',
               'Service closed: completed'],
}

CLIENTS = ['c', 'python']


# ---- running the clients -------------------------------------------------------------------------

def python_available():
    if not LIBCLIENT_DIR:
        return 'libappservice was built without GObject Introspection (no typelib)'
    if not os.path.exists(os.path.join(LIBCLIENT_DIR, 'AppService-1.0.typelib')):
        return 'no AppService-1.0.typelib in %s' % LIBCLIENT_DIR
    return None


def client_argv(kind, timeout=STEP_TIMEOUT):
    if kind == 'c':
        if not os.access(C_CLIENT, os.X_OK):
            pytest.skip('the C client is not built at %s' % C_CLIENT)
        return [C_CLIENT, '--timeout=%d' % timeout]
    why = python_available()
    if why:
        pytest.skip(why)
    return ['/usr/bin/python3', PY_CLIENT, '--timeout=%d' % timeout]


def client_env(bus):
    """The environment of a client: the test bus as the system bus (the library takes it from
    DBUS_SYSTEM_BUS_ADDRESS), and for Python the library and typelib of the build tree."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('DBUS_SESSION_BUS_ADDRESS', 'DBUS_SYSTEM_BUS_ADDRESS', 'PYTHONPATH')}
    env['DBUS_SYSTEM_BUS_ADDRESS'] = bus.address
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    env['PYTHONPATH'] = GENERATED_DIR
    if LIBCLIENT_DIR:
        env['GI_TYPELIB_PATH'] = LIBCLIENT_DIR
        env['LD_LIBRARY_PATH'] = LIBCLIENT_DIR
    return env


def start_client(kind, bus, timeout=STEP_TIMEOUT):
    argv = client_argv(kind, timeout)
    env = client_env(bus)
    if kind == 'python' and PYTHON_PRELOAD:
        env['LD_PRELOAD'] = PYTHON_PRELOAD
        # CPython keeps much of its memory to the end on purpose: leaks are the C tests' job.
        env['ASAN_OPTIONS'] = env.get('ASAN_OPTIONS', '') + ':detect_leaks=0'
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd='/')


class Run:
    def __init__(self, kind, proc):
        self.kind = kind
        try:
            self.stdout, self.stderr = proc.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            self.stdout, self.stderr = proc.communicate()
            raise AssertionError('the %s client hung: still running after %d s\n%s' % (
                kind, RUN_TIMEOUT, self.transcript()))
        self.returncode = proc.returncode
        self.lines = self.stdout.splitlines()

    def transcript(self):
        return '---- %s client stdout ----\n%s\n---- stderr ----\n%s' % (
            self.kind, self.stdout, self.stderr)

    def expect_success(self):
        assert self.returncode == 0, 'the %s client failed (status %s)\n%s' % (
            self.kind, self.returncode, self.transcript())
        return self

    def expect_failure(self, reason):
        assert self.returncode == 1, 'the %s client exited with %s, expected 1\n%s' % (
            self.kind, self.returncode, self.transcript())
        assert reason in self.stderr, 'no %r on stderr\n%s' % (reason, self.transcript())
        return self

    def assert_lines_in_order(self, expected):
        at = 0
        for want in expected:
            try:
                at = self.lines.index(want, at) + 1
            except ValueError:
                raise AssertionError('line %r missing (or out of order) in the %s client\'s '
                                     'output\n%s' % (want, self.kind, self.transcript()))

    def value_lines(self, title):
        """The value lines (key, type, text) printed after the line `title`."""
        start = self.lines.index(title) + 1
        out = []
        for line in self.lines[start:]:
            m = re.match(r'^    (\S+)\s+(\S+)\s+(.*)$', line)
            if not m:
                break
            out.append(m.groups())
        return out

    def python_values(self, title):
        """The Python client's value lines (key, Python value) after the line `title`."""
        start = self.lines.index(title) + 1
        out = {}
        for line in self.lines[start:]:
            m = re.match(r'^    (\S+)\s+(.*)$', line)
            if not m:
                break
            out[m.group(1)] = ast.literal_eval(m.group(2))
        return out


def run_client(kind, bus, timeout=STEP_TIMEOUT):
    return Run(kind, start_client(kind, bus, timeout))


# ---- fixtures ------------------------------------------------------------------------------------

@pytest.fixture
def app2app(daemon):
    """The broker serving the build tree's definition of com.example.app2app, whose Exec= is
    the C provider just built; nothing runs it yet."""
    if not os.path.exists(os.path.join(SERVICES_DIR, NAME + '.appservice')):
        pytest.skip('the App2App sample is not built in %s' % SERVICES_DIR)
    daemon.start(services_dirs=[SERVICES_DIR])
    return daemon


def provider_pids(daemon):
    return [int(m) for m in re.findall(r"app service '%s': started provider '[^']*' as pid (\d+)"
                                       % re.escape(NAME), '\n'.join(daemon.log_lines()))]


def provider_lines(daemon):
    """What the provider wrote on stderr, as the broker logged it (prefix `name[pid]: `)."""
    prefix = re.compile(r'%s\[\d+\]: (.*)$' % re.escape(NAME))
    return [m.group(1) for m in map(prefix.search, daemon.log_lines()) if m]


# ---- the flow ------------------------------------------------------------------------------------

@pytest.mark.parametrize('kind', CLIENTS)
def test_client_completes_the_flow(kind, app2app, bus):
    """Open (activating the C provider), the greeting from the provider side answered, the test
    values fetched and echoed back equal, Disconnect, service-closed Completed, exit 0."""
    run = run_client(kind, bus).expect_success()
    assert 'Open status: success' in run.lines, run.transcript()
    run.assert_lines_in_order(SUCCESS_LINES[kind])
    assert 'App2App client (%s): all checks passed' % ('C' if kind == 'c' else 'Python') \
        in run.lines
    assert run.stderr == '', run.transcript()

    # The broker started the provider through Exec=, once.
    assert len(provider_pids(app2app)) == 1, app2app.log_tail()
    # The provider's side of the story, from its log.
    app2app.wait_log(r'%s\[\d+\]: .*the client answered the greeting: Thank you' %
                     re.escape(NAME))
    app2app.wait_log(r'%s\[\d+\]: .*closing the connection, as the client asked' % re.escape(NAME))
    lines = '\n'.join(provider_lines(app2app))
    assert "serving '%s'" % NAME in lines
    assert 'TestValues: answering with %d typed values' % N_VALUES in lines
    assert 'Echo: sending back a text' in lines
    assert 'Echo: sending back a record of values' in lines
    assert 'Disconnect: answering, then closing the connection' in lines
    assert 'not delivered' not in lines and 'no answer' not in lines, lines


def test_c_client_prints_the_documented_values(app2app, bus):
    """The typed values, exactly as README.md's mapping table says (char as q, single as d,
    null as @av [])."""
    run = run_client('c', bus).expect_success()
    assert run.value_lines('Values: %d' % N_VALUES) == TEST_VALUES, run.transcript()


def test_python_client_gets_python_values(app2app, bus):
    """The generated Python module gives the record as a dict of Python values, each at the
    extremes of its type (64-bit integers whole, nulls as None, bytes as ints)."""
    run = run_client('python', bus).expect_success()
    assert run.python_values('Values: %d' % N_VALUES) == PY_VALUES, run.transcript()


def test_c_and_python_clients_in_turn_share_one_provider(app2app, bus):
    """Both clients against the same provider: it is started once and greets each; the two
    transcripts show the same keys in the same order."""
    c = run_client('c', bus).expect_success()
    py = run_client('python', bus).expect_success()
    assert len(provider_pids(app2app)) == 1, app2app.log_tail()
    title = 'Values: %d' % N_VALUES
    assert [k for k, _, _ in c.value_lines(title)] == list(py.python_values(title))
    app2app.wait_log(r'connection 2 from uid 0')


def test_greeting_comes_from_the_provider_side(app2app, agents, bus):
    """Seen from a raw D-Bus client as an unprivileged user: the provider's greeting is the
    contract's callback Greet on the client's connection, carrying the caller's identity; the
    methods answer on the wire as the contract says; Disconnect is answered, then the provider
    closes (ServiceClosed 0)."""
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(NAME, PROVIDER, timeout=30 * TIME_SCALE)
    greeting = client.wait_signal('RequestReceived', path=path, timeout=20 * TIME_SCALE)
    request, message = greeting.arg(0, 't'), greeting.arg(1, 'a{sv}')
    assert message['Action'] == 'Greet'
    assert message['Greeting'] == GREETING
    assert message['Caller']['uid'] == GAMES_UID
    assert message['Caller']['pid'] == client.pid
    client.respond(path, request, valueset(Greeting=GLib.Variant('s', 'Thank you'))).ok()

    values = client.send_message(path, valueset(Action=GLib.Variant('s', 'TestValues'))).wait()
    answer = values.variant(0)
    assert [answer.get_child_value(i).get_child_value(0).get_string()
            for i in range(answer.n_children())] == ['Values']
    got = answer.lookup_value('Values', None)
    printed = []
    for i in range(got.n_children()):
        entry = got.get_child_value(i)
        v = entry.get_child_value(1).get_variant()
        text = 'null' if v.get_type_string() == 'av' and v.n_children() == 0 else v.print_(False)
        printed.append((entry.get_child_value(0).get_string(), v.get_type_string(), text))
    assert printed == TEST_VALUES

    # Echo sends back exactly what it got, the record included, byte for byte.
    echo = valueset([('Action', GLib.Variant('s', 'Echo')), ('Text', GLib.Variant('s', 'x')),
                     ('Values', got)])
    echoed = client.send_message(path, echo).wait().variant(0)
    assert echoed == valueset([('Text', GLib.Variant('s', 'x')), ('Values', got)])

    answer = client.send_message(path, valueset(Action=GLib.Variant('s', 'Disconnect'))).wait()
    assert answer.unpack(0, 'a{sv}') == {'Status': 'Disconnecting'}
    closed = client.wait_signal('ServiceClosed', path=path, timeout=20 * TIME_SCALE)
    assert closed.arg(0, 'u') == 0


# ---- the contract, enforced: what the broker refuses never reaches the provider ----------------

def test_broker_refuses_what_the_contract_does_not_allow(app2app, agents, bus):
    """An unprivileged client sends the sample's old messages (Command, not Action), unknown
    actions, wrong types, extra keys, a record with a key missing or of the wrong type: each is
    refused at once with ContractViolation naming what was wrong, the provider sees none of them,
    and the connection still works."""
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(NAME, PROVIDER, timeout=30 * TIME_SCALE)
    greeting = client.wait_signal('RequestReceived', path=path, timeout=20 * TIME_SCALE)
    client.respond(path, greeting.arg(0, 't'), valueset(Greeting=GLib.Variant('s', 'hi'))).ok()
    values = client.send_message(path, valueset(Action=GLib.Variant('s', 'TestValues'))) \
        .wait().variant(0).lookup_value('Values', None)
    handled_before = len(provider_lines(app2app))

    def record_without(key, replace=None):
        entries = []
        for i in range(values.n_children()):
            entry = values.get_child_value(i)
            k = entry.get_child_value(0).get_string()
            if k != key:
                entries.append((k, entry.get_child_value(1).get_variant()))
            elif replace is not None:
                entries.append((k, replace))
        return valueset(entries)

    s = lambda text: GLib.Variant('s', text)  # noqa: E731
    cases = [
        (valueset(Command=s('TestValues')), "'Action'"),
        (valueset(Action=s('Bogus')), "'Bogus'"),
        (valueset(Action=s('Greet'), Greeting=s('hi')), "'Greet'"),
        (valueset(Action=s('Echo'), Text=GLib.Variant('u', 7)), "key 'Text': expected string (s), got uint32 (u)"),
        (valueset(Action=s('Echo'), Extra=s('x')), "'Extra'"),
        (valueset(Action=s('TestValues'), Text=s('x')), "'Text'"),
        (valueset([('Action', s('Echo')), ('Values', record_without('Int16Max'))]), 'Values.Int16Max'),
        (valueset([('Action', s('Echo')), ('Values', record_without('Int16Max', GLib.Variant('i', 32767)))]),
         'Values.Int16Max'),
        (valueset([('Action', s('Echo')), ('Values', record_without('ArrayByte', GLib.Variant('as', [])))]),
         'Values.ArrayByte'),
    ]
    for message, named in cases:
        reason = client.send_message(path, message).wait().expect_error(VIOLATION)
        assert named in reason, (message.print_(True), reason)
        assert "contract com.example.app2app" in reason, reason
    # None of them reached the provider, and the connection still serves.
    echoed = client.send_message(path, valueset(Action=s('Echo'), Text=s('still here'))).wait()
    assert echoed.unpack(0, 'a{sv}') == {'Text': 'still here'}
    app2app.wait_log(r"Echo: sending back a text")
    assert len([line for line in provider_lines(app2app)[handled_before:] if 'Echo' in line]) == 1


def test_a_wrong_answer_to_the_greeting_reaches_the_provider_as_an_error(app2app, agents, bus):
    """A client that answers Greet with what the callback's results are not: the broker refuses
    the answer (the client is told), and the provider's greeting fails with ContractViolation
    rather than a wrong value; the provider goes on serving."""
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(NAME, PROVIDER, timeout=30 * TIME_SCALE)
    greeting = client.wait_signal('RequestReceived', path=path, timeout=20 * TIME_SCALE)
    reason = client.respond(path, greeting.arg(0, 't'), valueset(Greeting=GLib.Variant('i', 1))) \
        .wait().expect_error(VIOLATION)
    assert "key 'Greeting': expected string (s), got int32 (i)" in reason, reason
    app2app.wait_log(r'%s: the greeting got no answer: .*Greeting' % re.escape(path))
    echoed = client.send_message(path, valueset(Action=GLib.Variant('s', 'Echo'))).wait()
    assert echoed.unpack(0, 'a{sv}') == {}


def test_provider_outlasts_hostile_clients(app2app, agents, bus):
    """Twenty unprivileged clients that never answer the greeting, flood the provider with Echo
    requests of the whole record and vanish: the provider neither exits nor stops serving, and a
    well-behaved client then completes the whole flow."""
    first = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = first.open_ok(NAME, PROVIDER, timeout=30 * TIME_SCALE)
    greeting = first.wait_signal('RequestReceived', path=path, timeout=20 * TIME_SCALE)
    first.respond(path, greeting.arg(0, 't'), valueset(Greeting=GLib.Variant('s', 'hi'))).ok()
    values = first.send_message(path, valueset(Action=GLib.Variant('s', 'TestValues'))) \
        .wait().variant(0).lookup_value('Values', None)
    echo = valueset([('Action', GLib.Variant('s', 'Echo')), ('Values', values)])
    hostile = []
    for _ in range(20):
        peer = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
        p = peer.open_ok(NAME, PROVIDER, timeout=30 * TIME_SCALE)
        for _ in range(10):
            peer.send_message(p, echo)
        hostile.append(peer)
    for peer in hostile:
        peer.kill()
    pid = provider_pids(app2app)[0]
    run_client('c', bus).expect_success()
    assert provider_pids(app2app) == [pid], 'the provider was restarted\n' + app2app.log_tail()
    os.kill(pid, 0)


def test_provider_sees_a_client_leave(app2app, agents):
    """A client that leaves the bus without closing: the provider's connection gets
    service-closed with status Canceled, and the provider logs it."""
    client = agents.spawn('client')
    path = client.open_ok(NAME, PROVIDER, timeout=30 * TIME_SCALE)
    client.wait_signal('RequestReceived', path=path, timeout=20 * TIME_SCALE)
    client.kill()
    app2app.wait_log(r"%s\[\d+\]: %s: closed by the client's side \(status canceled\)" % (
        re.escape(NAME), re.escape(path)), timeout=20 * TIME_SCALE)


def test_provider_stops_cleanly_on_sigterm(app2app, bus):
    """After a client run, SIGTERM makes the provider unregister and exit 0 (under the
    sanitizer build, with no finding)."""
    run_client('c', bus).expect_success()
    pid = provider_pids(app2app)[0]
    os.kill(pid, signal.SIGTERM)
    app2app.wait_log(r'%s\[%d\]: provider exited with status 0' % (re.escape(NAME), pid),
                     timeout=20 * TIME_SCALE)
    assert 'stopping' in provider_lines(app2app)
    service = '/io/appservice1/service/com_2eexample_2eapp2app'
    bus.wait_for(lambda: bus.get_property(service, 'io.appservice1.Service', 'State')
                 == 'inactive', what='the service to become inactive')


# ---- failures are reported, never hung on ------------------------------------------------------

@pytest.mark.parametrize('kind', CLIENTS)
def test_client_without_the_service_fails_clearly(kind, daemon, bus):
    """No definition of com.example.app2app: open fails, exit status 1, a reason on stderr."""
    daemon.start()
    run = run_client(kind, bus).expect_failure('cannot open %s' % NAME)
    assert 'Open status: app-service-unavailable' in run.lines, run.transcript()


@pytest.mark.parametrize('kind', CLIENTS)
def test_client_times_out_without_a_greeting(kind, start_service, bus):
    """A provider that never greets: the client gives up after --timeout with a clear message
    rather than waiting forever."""
    start_service(NAME, auto='echo', Provider=PROVIDER)
    run = run_client(kind, bus, timeout=2)
    run.expect_failure("timed out after 2 s waiting for the provider's greeting")
    assert 'Open status: success' in run.lines


def drive_provider(provider, path, echo_values):
    """Plays the provider's side by hand (on a definition without a contract, so the broker
    checks nothing): greets, answers TestValues with the whole record, the text's Echo
    faithfully, and the values' Echo with echo_values(record)."""
    provider.send_message(path, valueset(Action=GLib.Variant('s', 'Greet'),
                                         Greeting=GLib.Variant('s', 'hi'),
                                         Caller=GLib.Variant('a{sv}', {}))).ok()
    values = None

    def answer(expected_action, make_response):
        ev = provider.wait_signal('RequestReceived', path=path, timeout=20 * TIME_SCALE)
        message = ev.variant(1)
        assert message.lookup_value('Action', None).get_string() == expected_action
        provider.respond(path, ev.arg(0, 't'), make_response(message)).ok()
    record = [None]

    def test_values(message):
        # The record a real provider sends, taken from a real run's wire (TEST_VALUES).
        record[0] = GLib.Variant.parse(None, '{%s}' % ', '.join(
            "'%s': <%s>" % (k, '@av []' if text == 'null' else '@%s %s' % (t, text))
            for k, t, text in TEST_VALUES), None, None)
        return valueset([('Values', record[0])])
    answer('TestValues', test_values)
    answer('Echo', lambda m: valueset([('Text', m.lookup_value('Text', None))]))
    answer('Echo', lambda m: valueset([('Values', echo_values(record[0]))]))
    return values


def record_with(record, key, value):
    entries = []
    for i in range(record.n_children()):
        entry = record.get_child_value(i)
        k = entry.get_child_value(0).get_string()
        entries.append((k, value if k == key else entry.get_child_value(1).get_variant()))
    return valueset(entries)


@pytest.mark.parametrize('kind', CLIENTS)
def test_client_refuses_an_answer_of_the_wrong_type(kind, start_service, bus):
    """A provider without a contract on the broker (so nothing is checked there) that echoes a
    value with the same number but another type: the Python module's own check refuses the answer,
    naming the key; the C client's typed comparison catches it (the generated C checks a record's
    type, not its fields). Exit status 1 either way."""
    provider = start_service(NAME, auto='ignore', Provider=PROVIDER)
    proc = start_client(kind, bus)
    try:
        path = provider.wait_signal('ConnectionOpened', timeout=20 * TIME_SCALE).arg(0, 'o')
        drive_provider(provider, path, lambda r: record_with(r, 'Int16Max', GLib.Variant('i', 32767)))
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    run = Run(kind, proc)
    if kind == 'python':
        run.expect_failure('Echo of the test values failed: Values.Int16Max: expected n, got i')
    else:
        run.expect_failure('1 of %d test values came back different' % N_VALUES)
        assert '    MISMATCH Int16Max: sent int16 32767, got back 32767' in run.lines, run.transcript()


@pytest.mark.parametrize('kind', CLIENTS)
def test_client_detects_a_changed_value(kind, start_service, bus):
    """A provider that echoes a value of the right type but another value: the comparison
    catches it, exit status 1."""
    provider = start_service(NAME, auto='ignore', Provider=PROVIDER)
    proc = start_client(kind, bus)
    try:
        path = provider.wait_signal('ConnectionOpened', timeout=20 * TIME_SCALE).arg(0, 'o')
        drive_provider(provider, path, lambda r: record_with(r, 'Int16Max', GLib.Variant('n', 32766)))
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    run = Run(kind, proc)
    run.expect_failure('1 of %d test values came back different' % N_VALUES)
    want = ('    MISMATCH Int16Max: sent int16 32767, got back int16 32766' if kind == 'c'
            else '    MISMATCH Int16Max: sent 32767, got back 32766')
    assert want in run.lines, run.transcript()
