# SPDX-License-Identifier: LGPL-2.1-or-later
"""appservicectl, the command line, against the real appserviced on a private system-type bus.

It reuses the integration harness of tests/integration (bus, daemon, provider agents), loaded as
the plugin `conftest`; meson runs it as

    PYTHONPATH=tests/integration:appservicectl/tests \\
    APPSERVICECTL=<build>/appservicectl/appservicectl APPSERVICED=<build>/daemon/appserviced \\
        /usr/bin/python3 -m pytest -p tap_report -p conftest -p no:cacheprovider \\
        --rootdir appservicectl/tests appservicectl/tests/test_appservicectl.py

Providers are peer.py agents (echo, fixed answers, silent); appservicectl runs as root or, through
setpriv, as an unprivileged user, with --address pointing at the test bus unless a test checks how
the bus is chosen."""

import atexit
import json
import math
import os
import queue
import re
import shutil
import shlex
import signal
import subprocess
import tempfile
import threading

import pytest

from client import (DEFAULT_WAIT, AgentManager, ECHO, ECHO_PROVIDER, GAMES_GID, GAMES_UID, MAN_UID,
                    MANAGER_IFACE, MANAGER_PATH, GLib, service_path, typed, valueset)
from conftest import DBUS_DAEMON, BUILD_ROOT, SOURCE_ROOT, Bus, Daemon, ServicesDir, project_version

HELLO = 'com.example.hello'
HELLO_PROVIDER = os.environ.get('APPSERVICE_HELLO_PROVIDER') or os.path.join(
    BUILD_ROOT, 'examples', 'hello', 'hello-provider')
CTL = os.environ.get('APPSERVICECTL') or os.path.join(BUILD_ROOT, 'appservicectl', 'appservicectl')
NO_BUS = 'unix:path=/nonexistent/appservicectl-test-socket'

EXIT_FAILURE, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_NOT_ALLOWED, EXIT_UNAVAILABLE, EXIT_NO_BROKER = \
    1, 2, 3, 4, 5, 6


@pytest.fixture(autouse=True)
def need_ctl():
    if not os.access(CTL, os.X_OK):
        pytest.fail('appservicectl not found at %s (build it, or set APPSERVICECTL)' % CTL)


# ---- running appservicectl --------------------------------------------------------------------

_runnable = {}
SYSTEM_LIBRARY_DIRS = ('/lib/', '/lib64/', '/usr/lib/', '/usr/lib64/')


def runnable_copy():
    """(binary, LD_LIBRARY_PATH) that any uid may run: the build tree may sit in a directory other
    users cannot enter, so copy the binary and the libraries it loads from outside the system's
    directories (libappservice-1 from the build tree) into a world-readable directory."""
    if 'argv0' not in _runnable:
        directory = tempfile.mkdtemp(prefix='appservicectl-test-')
        os.chmod(directory, 0o755)
        atexit.register(shutil.rmtree, directory, True)
        ldd = subprocess.run(['ldd', CTL], capture_output=True, text=True, check=True).stdout
        for path in re.findall(r'=>\s*(/\S+)', ldd):
            if not os.path.realpath(path).startswith(SYSTEM_LIBRARY_DIRS):
                shutil.copy(path, directory)
        shutil.copy(CTL, directory)
        for name in os.listdir(directory):
            os.chmod(os.path.join(directory, name), 0o755)
        _runnable['argv0'] = os.path.join(directory, os.path.basename(CTL))
        _runnable['libs'] = directory
    return _runnable['argv0'], _runnable['libs']


def ctl_argv(args, address=None, uid=None, gid=None, env=None):
    """argv and environment for appservicectl ARGS, with --address=ADDRESS first if given, as
    root or (through setpriv) as uid/gid."""
    env = dict(os.environ if env is None else env)
    argv0 = CTL
    prefix = []
    if uid is not None:
        argv0, libs = runnable_copy()
        env['LD_LIBRARY_PATH'] = libs
        env['HOME'] = '/'
        prefix = ['setpriv', '--reuid=%d' % uid, '--regid=%d' % (uid if gid is None else gid),
                  '--clear-groups', '--inh-caps=-all', '--']
    argv = prefix + [argv0] + (['--address=%s' % address] if address else []) + list(args)
    return argv, env


def base_env():
    """No bus of the host: DBUS_*_BUS_ADDRESS point nowhere unless a test sets them."""
    env = dict(os.environ)
    env['DBUS_SYSTEM_BUS_ADDRESS'] = NO_BUS
    env['DBUS_SESSION_BUS_ADDRESS'] = NO_BUS
    env.pop('APPSERVICE_BUS', None)
    return env


def run(args, address=None, uid=None, gid=None, env=None, stdin=None, timeout=None):
    argv, env = ctl_argv(args, address, uid, gid, env if env is not None else base_env())
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env,
                          timeout=timeout or DEFAULT_WAIT * 3)


def ctl(bus, *args, **kw):
    """appservicectl --address=<test bus> ARGS..."""
    return run(args, address=bus.address, **kw)


def expect(result, status):
    assert result.returncode == status, (
        'appservicectl exited with %d, expected %d\n--- stdout\n%s--- stderr\n%s' %
        (result.returncode, status, result.stdout, result.stderr))
    return result


def one_json(result):
    lines = result.stdout.splitlines()
    assert len(lines) == 1, 'expected one JSON document on one line, got:\n%s' % result.stdout
    return json.loads(lines[0])


class Session:
    """`appservicectl open` as a process: lines in, lines out, each read with a deadline."""

    def __init__(self, args, address, uid=None, gid=None):
        argv, env = ctl_argv(args, address, uid, gid, base_env())
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1, env=env)
        self.lines = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put),
                         daemon=True).start()
        self.stderr_reader = threading.Thread(target=self._pump,
                                              args=(self.proc.stderr, self.stderr.append),
                                              daemon=True)
        self.stderr_reader.start()

    @staticmethod
    def _pump(stream, put):
        for line in stream:
            put(line.rstrip('\n'))
        put(None)

    def send(self, line):
        self.proc.stdin.write(line + '\n')
        self.proc.stdin.flush()

    def read(self, timeout=None):
        try:
            line = self.lines.get(timeout=timeout or DEFAULT_WAIT)
        except queue.Empty:
            raise AssertionError('no output from appservicectl within %.1f s\n%s' %
                                 (timeout or DEFAULT_WAIT, self.describe()))
        assert line is not None, 'appservicectl closed its stdout\n%s' % self.describe()
        return line

    def read_json(self, timeout=None):
        return json.loads(self.read(timeout))

    def end_input(self):
        self.proc.stdin.close()

    def wait(self, timeout=None):
        try:
            return self.proc.wait(timeout or DEFAULT_WAIT)
        except subprocess.TimeoutExpired:
            raise AssertionError('appservicectl did not exit\n%s' % self.describe())

    def rest(self):
        """Every line left on stdout, once the process has exited."""
        out = []
        while True:
            line = self.lines.get(timeout=DEFAULT_WAIT)
            if line is None:
                return out
            out.append(line)

    def stderr_text(self):
        if self.proc.poll() is not None:
            self.stderr_reader.join(DEFAULT_WAIT)
        return '\n'.join(line for line in self.stderr if line is not None)

    def describe(self):
        return '--- stderr of appservicectl\n%s' % self.stderr_text()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def sessions():
    started = []

    def start(args, address, **kw):
        s = Session(args, address, **kw)
        started.append(s)
        return s
    yield start
    for s in started:
        s.kill()


# ---- without a broker: version, help, usage errors --------------------------------------------

def test_version():
    r = expect(run(['--version']), 0)
    assert r.stdout == 'appservicectl %s\n' % project_version()


def test_main_help_lists_the_commands_and_exit_statuses():
    r = expect(run(['--help']), 0)
    assert r.stdout.startswith('Usage:\n  appservicectl [OPTION')
    for synopsis in ('list', 'status [NAME]', 'call NAME [KEY=VALUE...]', 'open NAME',
                     'submit [KEY=VALUE...]', 'start NAME',
                     'stop NAME', 'restart NAME', 'enable NAME', 'disable NAME', 'reload',
                     'monitor', 'dev [-- COMMAND...]', 'verify FILE...'):
        assert re.search(r'^  %s ' % re.escape(synopsis), r.stdout, re.M), r.stdout
    for option in ('--user', '--system', '--address=ADDRESS', '--json', '--version'):
        assert option in r.stdout
    assert 'Exit status:' in r.stdout
    for code in range(7):
        assert re.search(r'^  %d  ' % code, r.stdout, re.M), r.stdout


@pytest.mark.parametrize('verb,usage', [
    ('list', 'list'),
    ('status', 'status [NAME]'),
    ('call', 'call NAME [KEY=VALUE...]'),
    ('open', 'open NAME'),
    ('submit', 'submit [KEY=VALUE...]'),
    ('start', 'start NAME'),
    ('stop', 'stop NAME'),
    ('restart', 'restart NAME'),
    ('enable', 'enable NAME'),
    ('disable', 'disable NAME'),
    ('reload', 'reload'),
    ('monitor', 'monitor'),
    ('dev', 'dev [-- COMMAND [ARGUMENT...]]'),
    ('verify', 'verify FILE...'),
])
def test_verb_help(verb, usage):
    r = expect(run([verb, '--help']), 0)
    assert r.stdout.startswith('Usage:\n  appservicectl [OPTION...] %s\n' % usage) or \
        r.stdout.startswith('Usage:\n  appservicectl [OPTION…] %s\n' % usage), r.stdout
    # The global options work after the verb too, so its help shows them.
    for option in ('--user', '--address=ADDRESS', '--json'):
        assert option in r.stdout
    assert 'Exit status:' in r.stdout
    if verb in ('call', 'open', 'submit'):
        assert '@i 5' in r.stdout
    if verb in ('call', 'open'):
        assert '--node=NODE' in r.stdout
    if verb == 'open':
        assert '--provider=PROVIDER' in r.stdout
    if verb == 'dev':
        assert '--services-dir=DIR' in r.stdout and '--contracts-dir=DIR' in r.stdout
    if verb == 'verify':
        assert '--contracts-dir=DIR' in r.stdout
    # Help is not an error and needs no bus.
    assert r.stderr == ''


@pytest.mark.parametrize('args,message', [
    pytest.param([], 'missing command', id='no-command'),
    pytest.param(['frobnicate'], "unknown command 'frobnicate'", id='unknown-command'),
    pytest.param(['--frobnicate', 'list'], 'frobnicate', id='unknown-global-option'),
    pytest.param(['list', '--frobnicate'], 'frobnicate', id='unknown-verb-option'),
    pytest.param(['list', 'extra'], "unexpected argument 'extra'", id='list-extra'),
    pytest.param(['status', ECHO, 'extra'], "unexpected argument 'extra'", id='status-extra'),
    pytest.param(['call'], 'missing app service NAME', id='call-no-name'),
    pytest.param(['call', ECHO, 'novalue'], "'novalue' is not of the form KEY=VALUE",
                 id='call-no-equals'),
    pytest.param(['call', ECHO, '=value'], '', id='call-empty-key'),
    pytest.param(['call', ECHO, 'k=1', 'k=2'], '', id='call-duplicate-key'),
    pytest.param(['open'], 'missing app service NAME', id='open-no-name'),
    pytest.param(['open', ECHO, 'extra'], "unexpected argument 'extra'", id='open-extra'),
    pytest.param(['open', '--provider'], 'provider', id='open-provider-without-value'),
    pytest.param(['open', '--node'], 'node', id='open-node-without-value'),
    pytest.param(['call', ECHO, '--node'], 'node', id='call-node-without-value'),
    pytest.param(['submit', 'novalue'], "'novalue' is not of the form KEY=VALUE",
                 id='submit-no-equals'),
    pytest.param(['start'], 'missing app service NAME', id='start-no-name'),
    pytest.param(['stop', ECHO, 'extra'], "unexpected argument 'extra'", id='stop-extra'),
    pytest.param(['restart'], 'missing app service NAME', id='restart-no-name'),
    pytest.param(['enable'], 'missing app service NAME', id='enable-no-name'),
    pytest.param(['disable', ECHO, 'extra'], "unexpected argument 'extra'", id='disable-extra'),
    pytest.param(['reload', 'extra'], "unexpected argument 'extra'", id='reload-extra'),
    pytest.param(['monitor', 'extra'], "unexpected argument 'extra'", id='monitor-extra'),
    pytest.param(['--user', '--address=%s' % NO_BUS, 'list'], 'exclude each other',
                 id='user-and-address'),
    pytest.param(['list', '--system', '--user'], 'exclude each other', id='system-and-user'),
])
def test_usage_errors_exit_2(args, message):
    # The bus addresses lead nowhere: had the arguments been accepted, the status would be 6.
    r = expect(run(args), EXIT_USAGE)
    assert r.stdout == ''
    assert r.stderr.startswith('appservicectl: '), r.stderr
    assert message in r.stderr
    assert "--help' for more information" in r.stderr


def test_no_bus_exits_6():
    r = expect(run(['--address=%s' % NO_BUS, 'list']), EXIT_NO_BROKER)
    assert r.stderr.startswith("appservicectl: bus at '%s': cannot connect: " % NO_BUS), r.stderr
    # The default system bus, from DBUS_SYSTEM_BUS_ADDRESS, and --user's session bus.
    expect(run(['list']), EXIT_NO_BROKER)
    expect(run(['--user', 'status', ECHO]), EXIT_NO_BROKER)


def test_no_broker_on_the_bus_exits_6(bus):
    r = expect(ctl(bus, 'list'), EXIT_NO_BROKER)
    assert 'org.freedesktop.DBus.Error.ServiceUnknown' in r.stderr
    r = expect(ctl(bus, '--json', 'call', ECHO, 'Text=hi'), EXIT_NO_BROKER)
    doc = one_json(r)
    assert doc['type'] == 'error' and doc['error'] == 'org.freedesktop.DBus.Error.ServiceUnknown'


# ---- list ---------------------------------------------------------------------------------------

@pytest.fixture
def four_services(services_dir, start_service, agents):
    """echo (active: a provider is registered), a service only man may open, one with Exec=,
    one with an empty description."""
    services_dir.write('com.example.private', Provider='com.example.PrivateApp',
                       Description='Only for man', AllowUsers='man')
    services_dir.write('com.example.exec', Provider='com.example.ExecApp',
                       Description='Started on demand', Exec='/bin/false')
    services_dir.write('com.example.quiet', Provider='com.example.QuietApp')
    return start_service(ECHO, Description='Echoes what it is sent')


EXPECTED_SERVICES = {
    ECHO: (ECHO_PROVIDER, 'Echoes what it is sent', 'active'),
    'com.example.exec': ('com.example.ExecApp', 'Started on demand', 'inactive'),
    'com.example.private': ('com.example.PrivateApp', 'Only for man', 'inactive'),
    'com.example.quiet': ('com.example.QuietApp', '', 'inactive'),
}


def check_list_json(doc, may_open):
    assert isinstance(doc, list)
    assert [s['name'] for s in doc] == sorted(EXPECTED_SERVICES)
    for s in doc:
        provider, description, state = EXPECTED_SERVICES[s['name']]
        if not may_open[s['name']]:
            state = 'unknown'  # a restricted service hides its state from those it refuses
        assert s == {'name': s['name'], 'provider': provider, 'description': description,
                     'state': state, 'may_open': may_open[s['name']],
                     'object_path': service_path(s['name'])}


def test_list_json_as_root_and_as_an_unprivileged_user(four_services, bus):
    doc = one_json(expect(ctl(bus, '--json', 'list'), 0))
    check_list_json(doc, {name: True for name in EXPECTED_SERVICES})

    # games may not open com.example.private (AllowUsers=man); the options may follow the verb.
    r = expect(run(['list', '--json', '--address=%s' % bus.address], uid=GAMES_UID, gid=GAMES_GID),
               0)
    check_list_json(one_json(r), {name: name != 'com.example.private'
                                  for name in EXPECTED_SERVICES})
    # man may.
    r = expect(ctl(bus, '--json', 'list', uid=MAN_UID), 0)
    check_list_json(one_json(r), {name: True for name in EXPECTED_SERVICES})


def test_list_table(four_services, bus):
    r = expect(ctl(bus, 'list', uid=GAMES_UID, gid=GAMES_GID), 0)
    lines = r.stdout.splitlines()
    header = lines[0]
    assert header.split() == ['NAME', 'PROVIDER', 'STATE', 'ALLOWED', 'DESCRIPTION']
    columns = [header.index(h) for h in ('PROVIDER', 'STATE', 'ALLOWED', 'DESCRIPTION')]
    rows = lines[1:]
    assert [row.split()[0] for row in rows] == sorted(EXPECTED_SERVICES)
    for row in rows:
        name = row.split()[0]
        provider, description, state = EXPECTED_SERVICES[name]
        allowed = 'no' if name == 'com.example.private' else 'yes'
        if allowed == 'no':
            state = 'unknown'
        # Every value starts under its heading.
        for column, value in zip(columns, (provider, state, allowed, description)):
            assert row[column:].startswith(value), (row, value)
            assert value == '' or row[column - 1] == ' '
        assert row.rstrip() == re.sub(r' +$', '', row)

    no_legend = expect(ctl(bus, 'list', '--no-legend', uid=GAMES_UID, gid=GAMES_GID), 0)
    assert no_legend.stdout.splitlines() == rows


def test_list_empty(services_dir, daemon, bus):
    daemon.start()
    assert expect(ctl(bus, '--json', 'list'), 0).stdout == '[]\n'
    assert expect(ctl(bus, 'list', '--no-legend'), 0).stdout == ''


def test_list_on_the_default_system_bus(four_services, bus):
    env = base_env()
    env['DBUS_SYSTEM_BUS_ADDRESS'] = bus.address
    for args in (['list', '--json'], ['--system', 'list', '--json']):
        doc = one_json(expect(run(args, env=env), 0))
        assert [s['name'] for s in doc] == sorted(EXPECTED_SERVICES)


def need_private_buses():
    """What the harness's `bus` fixture checks, for tests that start their own buses."""
    if not os.access(DBUS_DAEMON, os.X_OK):
        pytest.skip('dbus-daemon is not installed')
    if os.geteuid() != 0:
        pytest.skip('the integration tests run as root (they switch to other uids with setpriv)')


def test_user_uses_the_session_bus(workdir):
    """--user: the broker of `appserviced --user` on the session bus (DBUS_SESSION_BUS_ADDRESS),
    not the one on the system bus."""
    need_private_buses()
    session_dir = os.path.join(workdir, 'session')
    os.makedirs(session_dir)
    session_bus = Bus(session_dir, bus_type='session')
    services = ServicesDir(os.path.join(session_dir, 'services'))
    services.write('com.example.user-only', Provider='com.example.UserApp')
    daemon = Daemon(session_bus, services, session_dir, user_bus=True)
    try:
        daemon.start()
        env = base_env()
        env['DBUS_SESSION_BUS_ADDRESS'] = session_bus.address
        doc = one_json(expect(run(['--user', '--json', 'list'], env=env), 0))
        assert [s['name'] for s in doc] == ['com.example.user-only']
        # Without --user: the system bus, where there is no broker at all.
        expect(run(['--json', 'list'], env=env), EXIT_NO_BROKER)
    finally:
        daemon.teardown()
        session_bus.stop()


# ---- status -------------------------------------------------------------------------------------

def test_status(four_services, agents, bus):
    client = agents.spawn('client')
    client.open_ok(ECHO)

    r = expect(ctl(bus, 'status', ECHO), 0)
    assert r.stdout.splitlines() == [
        '       Name: %s' % ECHO,
        '   Provider: %s' % ECHO_PROVIDER,
        'Description: Echoes what it is sent',
        '      State: active',
        'Activatable: no',
        'Connections: 1',
        '    Allowed: yes',
        '     Object: %s' % service_path(ECHO),
    ]

    doc = one_json(expect(ctl(bus, '--json', 'status', 'com.example.private', uid=GAMES_UID,
                              gid=GAMES_GID), 0))
    assert doc == {'name': 'com.example.private', 'provider': 'com.example.PrivateApp',
                   'description': 'Only for man', 'state': 'unknown', 'activatable': False,
                   'connections': 0, 'may_open': False,
                   'object_path': service_path('com.example.private')}
    doc = one_json(expect(ctl(bus, 'status', '--json', 'com.example.exec'), 0))
    assert doc['activatable'] is True and doc['state'] == 'inactive'


def test_status_of_an_undeclared_service_exits_3(four_services, bus):
    r = expect(ctl(bus, 'status', 'com.example.nope'), EXIT_NOT_FOUND)
    assert r.stdout == ''
    assert r.stderr == ("appservicectl: com.example.nope: AppServiceUnavailable: no app service "
                        "named 'com.example.nope' is declared\n")
    doc = one_json(expect(ctl(bus, '--json', 'status', 'com.example.nope'), EXIT_NOT_FOUND))
    assert doc == {'type': 'error', 'error': 'AppServiceUnavailable',
                   'text': "no app service named 'com.example.nope' is declared"}


def test_status_of_the_broker(four_services, services_dir, bus):
    broken = services_dir.write('com.example.broken', RequestTimeoutSec='soon')
    expect(ctl(bus, 'reload'), 0)
    r = expect(ctl(bus, 'status', uid=GAMES_UID, gid=GAMES_GID), 0)
    assert r.stdout.splitlines() == [
        '    Broker: appserviced %s' % project_version(),
        '      Node: %s' % bus.get_property(MANAGER_PATH, MANAGER_IFACE, 'NodeName'),
        '     State: running',
        '  Services: 4 declared',
        'Load errors: 1 definition file(s) do not load',
        "    %s: line 3: RequestTimeoutSec: 'soon' is not a time span (seconds, or with a unit: "
        '500ms, 10s, 5min, 1h 30min)' % broken,
    ], r.stdout
    doc = one_json(expect(ctl(bus, '--json', 'status'), 0))
    assert doc['state'] == 'running' and doc['services'] == 4, doc
    assert doc['load_errors'] == [{'path': broken, 'error': doc['load_errors'][0]['error']}]
    assert doc['load_errors'][0]['error'].startswith('line 3: RequestTimeoutSec: '), doc
    # Its name: the error says why it is not declared, for any user.
    r = expect(ctl(bus, 'status', 'com.example.broken', uid=GAMES_UID, gid=GAMES_GID), EXIT_NOT_FOUND)
    assert r.stderr.startswith("appservicectl: com.example.broken: AppServiceUnavailable: no app "
                               "service named 'com.example.broken' is declared: %s does not load "
                               "(line 3: RequestTimeoutSec: " % broken), r.stderr
    os.unlink(broken)
    expect(ctl(bus, 'reload'), 0)
    r = expect(ctl(bus, 'status'), 0)
    assert r.stdout.splitlines()[-1] == 'Load errors: none', r.stdout


def test_reload_names_the_files_that_do_not_load(services_dir, daemon, bus):
    services_dir.write(ECHO)
    daemon.start()
    path = services_dir.write(ECHO, MaxMessageSize='2 lots')
    r = expect(ctl(bus, 'reload'), 0)
    assert r.stdout == ''
    assert r.stderr.startswith('warning: %s does not load: line 3: MaxMessageSize: ' % path), r.stderr
    # The service kept its previous definition.
    expect(ctl(bus, 'status', ECHO), 0)


# ---- call ---------------------------------------------------------------------------------------

TYPED_WORDS = [
    'Text=hello',
    'words=hello world',
    'empty=',
    'version=1.2.3',
    'quoted="01234"',
    'n=5',
    'half=0.5',
    'count=@i 5',
    'big=@x -7',
    'ok=true',
    'ratio=@d 0.5',
    'list=@as ["a","b"]',
    'nothing=@av []',
    'nested=@a{sv} {"k": <@u 3>}',
    'pair=@(sy) ("a", 1)',
]

TYPED_SENT = {
    'Text': ('s', 'hello'),
    'words': ('s', 'hello world'),
    'empty': ('s', ''),
    'version': ('s', '1.2.3'),
    'quoted': ('s', '01234'),
    'n': ('i', 5),
    'half': ('d', 0.5),
    'count': ('i', 5),
    'big': ('x', -7),
    'ok': ('b', True),
    'ratio': ('d', 0.5),
    'list': ('as', ['a', 'b']),
    'nothing': ('av', []),
    'nested': ('a{sv}', {'k': 3}),
    'pair': ('(sy)', ('a', 1)),
}

TYPED_JSON = {
    'Text': 'hello',
    'words': 'hello world',
    'empty': '',
    'version': '1.2.3',
    'quoted': '01234',
    'n': {'@i': 5},
    'half': {'@d': 0.5},
    'count': {'@i': 5},
    'big': {'@x': -7},
    'ok': True,
    'ratio': {'@d': 0.5},
    'list': {'@as': ['a', 'b']},
    'nothing': None,
    'nested': {'k': {'@u': 3}},
    'pair': {'@(sy)': ['a', 1]},
}


def test_call_typed_values_round_trip(start_service, bus):
    provider = start_service(ECHO)
    r = expect(ctl(bus, '--json', 'call', ECHO, *TYPED_WORDS, uid=GAMES_UID, gid=GAMES_GID), 0)
    assert one_json(r) == {'type': 'response', 'message': TYPED_JSON}

    # What the provider got, with its D-Bus types.
    request = provider.wait_signal('RequestReceived')
    assert typed(request.variant(1).print_(True)) == TYPED_SENT


def test_call_text_output(start_service, bus):
    start_service(ECHO)
    r = expect(ctl(bus, 'call', ECHO, 'Text=hello', 'count=@i 5', 'nothing=@av []',
                   'list=@as ["a","b"]'), 0)
    assert r.stdout.splitlines() == [
        "Text     s   'hello'",
        'count    i   5',
        'nothing  av  null',
        "list     as  ['a', 'b']",
    ]
    assert r.stderr == ''


def test_call_empty_message_and_response(start_service, bus):
    provider = start_service(ECHO)
    assert expect(ctl(bus, 'call', ECHO), 0).stdout == '(empty)\n'
    assert one_json(expect(ctl(bus, 'call', '--json', ECHO), 0)) == {'type': 'response',
                                                                      'message': {}}
    request = provider.wait_signal('RequestReceived')
    assert request.variant(1).n_children() == 0


def test_call_json_mapping(start_service, bus):
    """Every kind of value, from a provider that answers with a fixed ValueSet."""
    provider = start_service(ECHO)
    V = GLib.Variant
    pairs = [
        ('y', V('y', 255)), ('n', V('n', -32768)), ('q', V('q', 65535)),
        ('u', V('u', 4294967295)), ('x', V('x', -9223372036854775808)),
        ('t', V('t', 18446744073709551615)), ('d', V('d', 1.5)), ('tenth', V('d', 0.1)),
        ('nan', V('d', math.nan)), ('inf', V('d', -math.inf)),
        ('o', V('o', '/a/b')), ('g', V('g', 'a{sv}')),
        ('ss', V('a{ss}', {'a': 'b'})), ('is', V('a{is}', {1: 'one'})),
        ('sets', V('aa{sv}', [{'k': V('s', 'v')}, {}])),
        ('tuple', V('(sib)', ('a', 1, True))),
        ('variants', V('av', [V('i', 1), V('s', 'x'), V('av', [])])),
        ('lookalike', V('a{sv}', {'@i': V('i', 1)})),
        ('empty_as', V('as', [])), ('bytes', V('ay', b'\x00\xff')),
        ('text', V('s', 'quote " backslash \\ newline \n tab \t bell \x07 é ✓')),
        ('null', V('av', [])), ('b', V('b', False)),
    ]
    provider.auto('fixed', value=valueset(pairs))
    r = expect(ctl(bus, '--json', 'call', ECHO, 'Text=x'), 0)
    doc = one_json(r)
    assert doc == {'type': 'response', 'message': {
        'y': {'@y': 255}, 'n': {'@n': -32768}, 'q': {'@q': 65535}, 'u': {'@u': 4294967295},
        'x': {'@x': -9223372036854775808}, 't': {'@t': 18446744073709551615},
        'd': {'@d': 1.5}, 'tenth': {'@d': 0.1}, 'nan': {'@d': 'NaN'},
        'inf': {'@d': '-Infinity'}, 'o': {'@o': '/a/b'}, 'g': {'@g': 'a{sv}'},
        'ss': {'@a{ss}': {'a': 'b'}}, 'is': {'@a{is}': [[1, 'one']]},
        'sets': [{'k': 'v'}, {}], 'tuple': {'@(sib)': ['a', 1, True]},
        'variants': {'@av': [{'@i': 1}, 'x', None]},
        'lookalike': {'@a{sv}': {'@i': {'@i': 1}}},
        'empty_as': {'@as': []}, 'bytes': {'@ay': [0, 255]},
        'text': 'quote " backslash \\ newline \n tab \t bell \x07 é ✓',
        'null': None, 'b': False,
    }}
    # The keys in the order the provider sent them, doubles in their shortest form, control
    # characters escaped, the rest of UTF-8 as it is.
    assert list(doc['message']) == [key for key, _ in pairs]
    assert '"tenth":{"@d":0.1}' in r.stdout
    assert '\\u0007 é ✓' in r.stdout


def test_call_undeclared_service_exits_3(start_service, bus):
    start_service(ECHO)
    r = expect(ctl(bus, 'call', 'com.example.nope', 'Text=hi'), EXIT_NOT_FOUND)
    assert r.stdout == ''
    assert r.stderr == ("appservicectl: com.example.nope: AppServiceUnavailable: no app service "
                        "named 'com.example.nope' is declared\n")
    doc = one_json(expect(ctl(bus, '--json', 'call', 'com.example.nope', 'Text=hi'),
                          EXIT_NOT_FOUND))
    assert doc['type'] == 'error' and doc['error'] == 'AppServiceUnavailable'


def test_call_not_authorized_exits_4(start_service, bus):
    provider = start_service(ECHO, AllowUsers='man')
    r = expect(ctl(bus, 'call', ECHO, 'Text=hi', uid=GAMES_UID, gid=GAMES_GID), EXIT_NOT_ALLOWED)
    assert r.stderr.startswith('appservicectl: %s: NotAuthorized: ' % ECHO), r.stderr
    doc = one_json(expect(ctl(bus, '--json', 'call', ECHO, 'Text=hi', uid=GAMES_UID,
                              gid=GAMES_GID), EXIT_NOT_ALLOWED))
    assert doc['type'] == 'error' and doc['error'] == 'NotAuthorized' and doc['text']
    # man may.
    expect(ctl(bus, 'call', ECHO, 'Text=hi', uid=MAN_UID), 0)
    provider.wait_signal('RequestReceived')


def test_call_provider_that_cannot_start_exits_5(services_dir, daemon, bus):
    services_dir.write(ECHO, Exec='/nonexistent/provider', ActivationTimeoutSec=20)
    daemon.start()
    r = expect(ctl(bus, 'call', ECHO, 'Text=hi'), EXIT_UNAVAILABLE)
    assert r.stderr.startswith('appservicectl: %s: AppUnavailable: ' % ECHO), r.stderr


def test_call_failures_reported_by_the_broker_exit_1(start_service, bus):
    provider = start_service(ECHO, RequestTimeoutSec=1, MaxMessageSize=200)
    provider.auto('ignore')
    r = expect(ctl(bus, 'call', ECHO, 'Text=nobody answers'), EXIT_FAILURE)
    assert r.stderr.startswith('appservicectl: %s: Timeout: ' % ECHO), r.stderr
    r = expect(ctl(bus, '--json', 'call', ECHO, 'blob=' + 'x' * 300), EXIT_FAILURE)
    doc = one_json(r)
    assert doc['type'] == 'error' and doc['error'] == 'MessageSizeTooLarge'


# ---- open ---------------------------------------------------------------------------------------

def test_open_json_session(start_service, bus, sessions):
    """A scripted session: a message and its response, a request from the provider (answered
    with an empty response), then the provider closes."""
    provider = start_service(ECHO)
    s = sessions(['--json', 'open', ECHO], bus.address, uid=GAMES_UID, gid=GAMES_GID)
    opened = s.read_json()
    assert opened['type'] == 'opened' and opened['service'] == ECHO
    assert opened['direct'] is False  # the test agent takes no direct links
    path = provider.wait_signal('ConnectionOpened').arg(0, 'o')
    assert opened['connection'] == path

    s.send("Text='hello world' count='@i 5'")
    assert s.read_json() == {'type': 'response',
                             'message': {'Text': 'hello world', 'count': {'@i': 5}}}
    s.send('')
    s.send('# a comment line')
    s.send('list=\'@as ["a"]\'')
    assert s.read_json() == {'type': 'response', 'message': {'list': {'@as': ['a']}}}

    # provider -> client
    asked = provider.send_message(path, valueset(Greeting=GLib.Variant('s', 'hi'),
                                                 n=GLib.Variant('q', 7)))
    request = s.read_json()
    assert request['type'] == 'request' and isinstance(request['id'], int)
    assert request['message'] == {'Greeting': 'hi', 'n': {'@q': 7}}
    assert asked.wait().unpack(0, 'a{sv}') == {}

    provider.close(path).ok()
    assert s.read_json() == {'type': 'service-closed', 'status': 'Completed'}
    assert s.wait() == 0, s.describe()
    assert s.rest() == []


def test_open_over_a_direct_link(services_dir, daemon, bus, sessions, monkeypatch):
    """The Hello example's provider is on the library, which takes direct links: the session's
    messages go over the link, which clients ask for by default."""
    monkeypatch.delenv('APPSERVICE_DIRECT', raising=False)
    if not os.access(HELLO_PROVIDER, os.X_OK):
        pytest.skip('the hello example is not built at %s' % HELLO_PROVIDER)
    services_dir.write(HELLO, Provider='com.example.Hello', Exec=HELLO_PROVIDER)
    daemon.start()
    s = sessions(['--json', 'open', HELLO], bus.address, uid=GAMES_UID, gid=GAMES_GID)
    opened = s.read_json()
    assert opened['type'] == 'opened' and opened['direct'] is True, opened
    s.send('Action=Hello text=there')
    assert s.read_json() == {'type': 'response', 'message': {'result': 'Hello, there!'}}
    s.end_input()
    assert s.wait() == 0, s.describe()


def test_open_text_session_until_end_of_input(start_service, bus, sessions):
    provider = start_service(ECHO)
    s = sessions(['open', ECHO], bus.address)
    path = provider.wait_signal('ConnectionOpened').arg(0, 'o')
    s.send('Text=hello')
    assert s.read() == 'response:'
    assert s.read() == "  Text  s  'hello'"
    s.send("count='@i 5' nothing='@av []'")
    assert [s.read() for _ in range(3)] == ['response:', '  count    i   5',
                                             '  nothing  av  null']
    provider.send_message(path, valueset(Greeting=GLib.Variant('s', 'hi'))).ok()
    assert re.fullmatch(r'request [0-9]+:', s.read())
    assert s.read() == "  Greeting  s  'hi'"
    s.end_input()
    assert s.wait() == 0, s.describe()
    assert s.rest() == []
    # End of input closed the connection: the provider is told, with Completed.
    closed = provider.wait_signal('ServiceClosed', path=path)
    assert closed.arg(0, 'u') == 0
    assert s.stderr_text() == ''


def test_open_request_text(start_service, bus, sessions):
    provider = start_service(ECHO)
    s = sessions(['open', ECHO], bus.address)
    path = provider.wait_signal('ConnectionOpened').arg(0, 'o')
    provider.send_message(path, valueset(Greeting=GLib.Variant('s', 'hi'))).ok()
    header = s.read()
    assert re.fullmatch(r'request [0-9]+:', header), header
    assert s.read() == "  Greeting  s  'hi'"
    provider.close(path).ok()
    assert s.read() == 'service-closed: Completed'
    assert s.wait() == 0, s.describe()


def test_open_bad_lines_are_reported_and_the_session_goes_on(start_service, bus, sessions):
    provider = start_service(ECHO, MaxMessageSize=200)
    s = sessions(['open', '--json', ECHO], bus.address)
    assert s.read_json()['type'] == 'opened'
    s.send('novalue')
    assert s.read_json() == {'type': 'error', 'error': None,
                             'text': "line 1: 'novalue' is not of the form KEY=VALUE"}
    s.send("Text='unterminated")
    bad = s.read_json()
    assert bad['type'] == 'error' and bad['error'] is None and bad['text'].startswith('line 2: ')
    s.send('blob=' + 'x' * 300)
    refused = s.read_json()
    assert refused['type'] == 'error' and refused['error'] == 'MessageSizeTooLarge', refused
    s.send("Text='still here'")
    assert s.read_json() == {'type': 'response', 'message': {'Text': 'still here'}}
    s.end_input()
    # The last failure decides the status: a message the broker refused.
    assert s.wait() == EXIT_FAILURE, s.describe()
    assert 'appservicectl: line 1: ' in s.stderr_text()
    provider.wait_signal('ServiceClosed')


def test_open_line_over_the_bus_limit_is_refused_and_the_session_goes_on(start_service, bus, sessions):
    """A line whose ValueSet is over what the bus carries (34 MiB; dbus-daemon's max_message_size is
    32 MiB) is refused by the library with MessageSizeTooLarge, and the session goes on. Before,
    the bus dropped appservicectl's connection and it blamed the broker (exit 6). As an
    unprivileged user, with the service's own limit as high as it goes."""
    start_service(ECHO, MaxMessageSize=134217728)
    s = sessions(['open', '--json', ECHO], bus.address, uid=GAMES_UID, gid=GAMES_GID)
    assert s.read_json()['type'] == 'opened'
    s.send('blob=' + 'x' * (34 * 1024 * 1024))
    refused = s.read_json(timeout=DEFAULT_WAIT * 6)
    assert refused['type'] == 'error' and refused['error'] == 'MessageSizeTooLarge', refused
    assert '33488896 bytes' in refused['text'], refused
    s.send("Text='still here'")
    assert s.read_json() == {'type': 'response', 'message': {'Text': 'still here'}}
    s.end_input()
    # The last failure decides the status: a message refused as too large, not a lost broker.
    assert s.wait() == EXIT_FAILURE, s.describe()
    assert 'MessageSizeTooLarge' in s.stderr_text()


def test_open_errors(start_service, services_dir, bus, sessions):
    start_service(ECHO, AllowUsers='man')
    r = expect(ctl(bus, 'open', 'com.example.nope', stdin=''), EXIT_NOT_FOUND)
    assert r.stderr.startswith('appservicectl: com.example.nope: AppServiceUnavailable: ')
    r = expect(ctl(bus, 'open', '--provider=com.example.Other', ECHO, stdin=''), EXIT_NOT_FOUND)
    assert r.stderr.startswith('appservicectl: %s: AppNotInstalled: ' % ECHO), r.stderr
    r = expect(ctl(bus, '--json', 'open', ECHO, stdin='Text=hi\n', uid=GAMES_UID, gid=GAMES_GID),
               EXIT_NOT_ALLOWED)
    assert one_json(r)['error'] == 'NotAuthorized'
    # The right provider id opens it.
    r = expect(ctl(bus, 'open', '--provider=%s' % ECHO_PROVIDER, ECHO, stdin='Text=hi\n'), 0)
    assert r.stdout == "response:\n  Text  s  'hi'\n"


def test_open_ends_with_canceled_when_the_provider_vanishes(start_service, bus, sessions):
    provider = start_service(ECHO)
    s = sessions(['--json', 'open', ECHO], bus.address)
    assert s.read_json()['type'] == 'opened'
    provider.wait_signal('ConnectionOpened')
    provider.crash()
    assert s.read_json() == {'type': 'service-closed', 'status': 'Canceled'}
    assert s.wait() == EXIT_FAILURE, s.describe()


def test_open_interrupted_closes_the_connection(start_service, bus, sessions):
    provider = start_service(ECHO)
    s = sessions(['--json', 'open', ECHO], bus.address)
    assert s.read_json()['type'] == 'opened'
    path = provider.wait_signal('ConnectionOpened').arg(0, 'o')
    s.proc.send_signal(signal.SIGINT)
    assert s.wait() == EXIT_FAILURE, s.describe()
    # Closed on the way out, not dropped: the provider hears Completed, not Canceled.
    assert provider.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 0


def test_open_ends_when_the_bus_goes_away(workdir):
    """A bus of its own, killed under the session: appservicectl says so and exits 6."""
    need_private_buses()
    doomed = Bus(workdir)
    services = ServicesDir(os.path.join(workdir, 'services'))
    services.write(ECHO)
    daemon = Daemon(doomed, services, workdir)
    agents = AgentManager(doomed.address, workdir)
    s = None
    try:
        daemon.start()
        agents.spawn('provider', register=ECHO, auto='echo').wait_registered()
        s = Session(['--json', 'open', ECHO], doomed.address)
        assert s.read_json()['type'] == 'opened'
        doomed.proc.kill()
        assert s.wait() == EXIT_NO_BROKER, s.describe()
        docs = [json.loads(line) for line in s.rest()]
        assert docs[-1] == {'type': 'error', 'error': None, 'text': 'the bus connection closed'}
        assert 'appservicectl: %s: the bus connection closed' % ECHO in s.stderr_text()
    finally:
        if s:
            s.kill()
        agents.close_all()
        if daemon.running():
            daemon.proc.kill()
            daemon.proc.wait()
        doomed.stop()


# ---- --node (call, open) --------------------------------------------------------------------

def node_name(bus):
    return bus.get_property(MANAGER_PATH, 'io.appservice1.Manager', 'NodeName')


def test_call_and_open_on_this_node_by_name(start_service, bus, sessions):
    """--node naming the broker's own node is an ordinary call or open."""
    provider = start_service(ECHO)
    here = node_name(bus)
    r = expect(ctl(bus, '--json', 'call', '--node=%s' % here, ECHO, 'Text=here', uid=GAMES_UID,
                   gid=GAMES_GID), 0)
    assert one_json(r) == {'type': 'response', 'message': {'Text': 'here'}}
    provider.wait_signal('RequestReceived')
    s = sessions(['--json', 'open', '--node', here, ECHO], bus.address)
    assert s.read_json()['type'] == 'opened'
    s.send('Text=hi')
    assert s.read_json() == {'type': 'response', 'message': {'Text': 'hi'}}
    s.end_input()
    assert s.wait() == 0, s.describe()


def test_call_and_open_on_another_node_without_a_bridge_exit_3(start_service, bus):
    """Another node, and no bridge declared on this one: the app service is unavailable."""
    start_service(ECHO)
    r = ctl(bus, 'call', '--node=some-other-node', ECHO, 'Text=hi')
    if r.returncode == 0:
        pytest.skip("this broker does not route the OpenConnection option 'node' (before 0.3.0)")
    expect(r, EXIT_NOT_FOUND)
    assert r.stderr.startswith('appservicectl: %s: AppServiceUnavailable: ' % ECHO), r.stderr
    r = expect(ctl(bus, '--json', 'open', '--node=some-other-node', ECHO, stdin='Text=hi\n'),
               EXIT_NOT_FOUND)
    assert one_json(r)['error'] == 'AppServiceUnavailable'


# ---- submit -------------------------------------------------------------------------------------

CLOUD = 'io.appservice.cloud'


def test_submit(start_service, bus):
    """The message goes to io.appservice.cloud as SubmitAction's SubmitMessage; the bridge's
    response is printed."""
    cloud = start_service(CLOUD)
    cloud.auto('fixed', value=valueset(status=GLib.Variant('s', 'queued'),
                                       id=GLib.Variant('s', 'x')))
    r = expect(ctl(bus, '--json', 'submit', 'Temperature=@d 21.5', 'Unit=C', uid=GAMES_UID,
                   gid=GAMES_GID), 0)
    assert one_json(r) == {'type': 'response', 'message': {'status': 'queued', 'id': 'x'}}
    opened = cloud.wait_signal('ConnectionOpened')
    caller = opened.variant(1)
    assert caller.lookup_value('action', GLib.VariantType('s')).get_string() == 'SubmitMessage'
    assert caller.lookup_value('uid', GLib.VariantType('u')).get_uint32() == GAMES_UID
    request = cloud.wait_signal('RequestReceived')
    assert typed(request.variant(1).print_(True)) == {'Temperature': ('d', 21.5),
                                                      'Unit': ('s', 'C')}

    r = expect(ctl(bus, 'submit'), 0)
    assert r.stdout.splitlines() == ["status  s  'queued'", "id      s  'x'"]
    assert r.stderr == ''
    request = cloud.wait_signal('RequestReceived')
    assert request.variant(1).n_children() == 0


def test_submit_without_a_bridge_exits_3(start_service, bus):
    start_service(ECHO)
    r = expect(ctl(bus, 'submit', 'a=1'), EXIT_NOT_FOUND)
    assert r.stderr.startswith('appservicectl: %s: AppServiceUnavailable: ' % CLOUD), r.stderr
    doc = one_json(expect(ctl(bus, '--json', 'submit', 'a=1'), EXIT_NOT_FOUND))
    assert doc['type'] == 'error' and doc['error'] == 'AppServiceUnavailable'


def test_submit_failure_of_the_bridge_exits_1(start_service, bus):
    """A failure SubmitAction lists (here: no answer in time) is reported by its name."""
    cloud = start_service(CLOUD, RequestTimeoutSec=1)
    cloud.auto('ignore')
    r = expect(ctl(bus, 'submit', 'a=1'), EXIT_FAILURE)
    assert r.stderr.startswith('appservicectl: %s: Timeout: ' % CLOUD), r.stderr
    doc = one_json(expect(ctl(bus, '--json', 'submit', 'a=1'), EXIT_FAILURE))
    assert doc['type'] == 'error' and doc['error'] == 'Timeout'


# ---- administration: start, stop, restart, enable, disable, reload ------------------------------

ECHO_EXEC = os.path.join(BUILD_ROOT, 'examples', 'echo', 'echo-provider')


def state(bus, name):
    return one_json(expect(ctl(bus, '--json', 'status', name), 0))['state']


def test_enable_and_disable(start_service, bus):
    start_service(ECHO)
    r = expect(ctl(bus, 'disable', ECHO), 0)
    assert r.stdout == '' and r.stderr == ''
    assert state(bus, ECHO) == 'disabled'
    r = expect(ctl(bus, 'call', ECHO, 'Text=hi'), EXIT_NOT_ALLOWED)
    assert 'DisabledByPolicy' in r.stderr
    expect(ctl(bus, 'enable', ECHO), 0)
    assert state(bus, ECHO) == 'active'
    r = expect(ctl(bus, 'disable', 'com.example.nope'), EXIT_NOT_FOUND)
    assert r.stderr.startswith('appservicectl: com.example.nope: AppServiceUnavailable: '), r.stderr


@pytest.mark.parametrize('args', [['start', ECHO], ['stop', ECHO], ['restart', ECHO], ['enable', ECHO],
                                  ['disable', ECHO], ['reload'], ['monitor']])
def test_administration_as_an_unprivileged_user_exits_4(start_service, bus, args):
    start_service(ECHO)
    r = expect(ctl(bus, *args, uid=GAMES_UID, gid=GAMES_GID), EXIT_NOT_ALLOWED)
    assert ': NotAuthorized: ' in r.stderr, r.stderr
    doc = one_json(expect(ctl(bus, '--json', *args, uid=GAMES_UID, gid=GAMES_GID), EXIT_NOT_ALLOWED))
    assert doc['type'] == 'error' and doc['error'] == 'NotAuthorized'
    assert state(bus, ECHO) == 'active'


def test_start_stop_restart(services_dir, daemon, bus):
    if not os.access(ECHO_EXEC, os.X_OK):
        pytest.fail('the echo example provider is not built at %s' % ECHO_EXEC)
    services_dir.write(ECHO, Exec=ECHO_EXEC, ActivationTimeoutSec=20, StopTimeoutSec=5)
    daemon.start()
    assert state(bus, ECHO) == 'inactive'
    r = expect(ctl(bus, 'start', ECHO), 0)
    assert r.stdout == '' and r.stderr == ''
    assert state(bus, ECHO) == 'active'
    expect(ctl(bus, 'restart', ECHO), 0)
    assert state(bus, ECHO) == 'active'
    expect(ctl(bus, 'call', ECHO, 'Text=hi'), 0)
    expect(ctl(bus, 'stop', ECHO), 0)
    assert state(bus, ECHO) == 'inactive'
    # Stopping what does not run succeeds; a name nobody declared does not.
    expect(ctl(bus, 'stop', ECHO), 0)
    expect(ctl(bus, 'start', 'com.example.nope'), EXIT_NOT_FOUND)


def test_start_of_a_provider_that_cannot_start_exits_5(services_dir, daemon, bus):
    services_dir.write(ECHO, Exec='/nonexistent/provider', ActivationTimeoutSec=20)
    daemon.start()
    r = expect(ctl(bus, 'start', ECHO), EXIT_UNAVAILABLE)
    assert r.stderr.startswith('appservicectl: %s: AppUnavailable: ' % ECHO), r.stderr


def test_reload(services_dir, daemon, bus):
    services_dir.write(ECHO)
    daemon.start()
    services_dir.write('com.example.added', Description='Added later')
    r = expect(ctl(bus, 'reload'), 0)
    assert r.stdout == '' and r.stderr == ''
    doc = one_json(expect(ctl(bus, '--json', 'status', 'com.example.added'), 0))
    assert doc['description'] == 'Added later'


# ---- monitor ------------------------------------------------------------------------------------

def test_monitor_json_until_interrupted(start_service, bus, sessions):
    start_service(ECHO)
    s = sessions(['--json', 'monitor'], bus.address)
    assert s.read_json() == {'type': 'monitoring'}
    expect(ctl(bus, 'disable', ECHO), 0)
    while True:
        doc = s.read_json()
        assert doc['type'] == 'monitor-event', doc
        assert isinstance(doc['details']['timestamp']['@t'], int)
        if doc['event'] == 'service-state' and doc['details'].get('service') == ECHO:
            break
    assert doc['details']['state'] == 'disabled'
    s.proc.send_signal(signal.SIGINT)
    assert s.wait() == 0, s.describe()


def test_monitor_text_lines(start_service, bus, sessions):
    provider = start_service(ECHO)
    s = sessions(['monitor'], bus.address)
    # No line tells when monitoring began: ask until an event shows.
    line = None
    for _ in range(50):
        expect(ctl(bus, 'reload'), 0)
        try:
            line = s.read(timeout=0.5)
            break
        except AssertionError:
            continue
    assert line is not None, s.describe()
    assert re.fullmatch(r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} reload( \S+=\S*)*', line), line
    assert ' added=' in line and ' removed=' in line and ' changed=' in line
    # A connection: one line with the service and the caller's identity, flattened.
    expect(ctl(bus, 'call', ECHO, 'Text=hi'), 0)
    provider.wait_signal('RequestReceived')
    while True:
        line = s.read()
        if ' connection-opened %s ' % ECHO in line:
            break
    assert re.search(r' connection=/io/appservice1/connection/\S+', line), line
    assert ' caller.uid=0 ' in line + ' ', line
    s.proc.send_signal(signal.SIGTERM)
    assert s.wait() == 0, s.describe()
    assert s.stderr_text() == ''


# ---- bash completion (appservicectl/completion/appservicectl) ------------------------------------

COMPLETION = os.path.join(SOURCE_ROOT, 'appservicectl', 'completion', 'appservicectl')
VERBS = ['call', 'dev', 'disable', 'enable', 'list', 'monitor', 'open', 'reload', 'restart', 'start',
         'status', 'stop', 'submit', 'verify']


def complete(*words, uid=None, gid=None):
    """What the completion offers for `appservicectl WORDS...`, the last word the one being
    completed, as bash would call it (COMP_WORDS split at '=' too), sorted."""
    argv0 = runnable_copy()[0] if uid is not None else CTL
    script = ('source %s\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_appservicectl\n'
              'printf "%%s\\n" "${COMPREPLY[@]}"\n' % (
                  shlex.quote(COMPLETION), ' '.join(shlex.quote(w) for w in (argv0,) + words),
                  len(words)))
    argv = ['bash', '--norc', '--noprofile', '-c', script]
    env = base_env()
    if uid is not None:
        argv = ['setpriv', '--reuid=%d' % uid, '--regid=%d' % gid, '--clear-groups', '--'] + argv
        env['LD_LIBRARY_PATH'] = runnable_copy()[1]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env, cwd='/')
    assert out.returncode == 0 and out.stderr == '', (out.returncode, out.stderr)
    return sorted(line for line in out.stdout.splitlines() if line)


def test_completion_offers_the_commands_and_options_help_lists():
    """Commands and options come from appservicectl's own --help: every command, the global
    options before a command, each command's own after it; an option taking a value ends in =."""
    assert complete('') == VERBS
    assert complete('st') == ['start', 'status', 'stop']
    assert complete('--') == ['--address=', '--help', '--json', '--system', '--user', '--version']
    assert complete('list', '--no') == ['--no-legend']
    assert complete('open', '--') == ['--address=', '--help', '--json', '--node=', '--provider=',
                                      '--system', '--user']
    assert '--node=' in complete('--json', 'call', '--n')
    assert complete('--address', '=', 'unix:path=/x', 'call', '--node', '') == []


def test_completion_offers_the_broker_s_service_names(four_services, bus):
    """The first argument of a command that takes a NAME is one of the services the broker on
    the command line's bus declares (--address as one word or split at '='); nothing after it,
    nothing for commands without a NAME; an unprivileged user sees the names list shows."""
    names = sorted(EXPECTED_SERVICES)
    address = '--address=%s' % bus.address
    assert complete(address, 'status', '') == names
    assert complete('status', address, 'com.example.e') == [ECHO, 'com.example.exec']
    assert complete('--address', '=', bus.address, 'call', 'com.example.q') == ['com.example.quiet']
    for verb in ('call', 'open', 'start', 'stop', 'restart', 'enable', 'disable'):
        assert complete(address, verb, 'com.example.pr') == ['com.example.private'], verb
    assert complete(address, 'call', ECHO, '') == []
    assert complete(address, 'list', '') == []
    assert complete(address, 'status', '', uid=GAMES_UID, gid=GAMES_GID) == names


def test_completion_without_a_broker_offers_nothing_and_says_nothing(bus):
    """No broker on the bus, or no bus at all: no names, no error on the terminal, no wait."""
    assert complete('--address=%s' % bus.address, 'status', '') == []
    assert complete('--address=%s' % NO_BUS, 'status', '') == []
