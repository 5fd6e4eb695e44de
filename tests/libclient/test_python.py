# SPDX-License-Identifier: LGPL-2.1-or-later
"""The library from Python through its typelib (PyGObject), and from GJS: against the real
appserviced on a private bus (the integration harness's fixtures), with the Python provider in a
process of its own (python_peer.py) and the Python client in the test.

Run by meson (suite libclient) with GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at the build's
libclient/; by hand:

    cd tests/libclient
    GI_TYPELIB_PATH=$B/libclient LD_LIBRARY_PATH=$B/libclient APPSERVICE_BUILD_ROOT=$B \\
    APPSERVICE_PROVIDER_HELPER=$B/tests/libclient/provider-helper \\
    PYTHONPATH=$PWD:$PWD/../integration PYTHONDONTWRITEBYTECODE=1 \\
        /usr/bin/python3 -m pytest -p tap_report -p no:cacheprovider test_python.py
"""

import os
import pwd
import queue
import shutil
import subprocess
import sys
import threading
import time

# In an AddressSanitizer build the interpreter was started with the ASan runtime preloaded (see
# meson.build). Only the processes that load the library get it again: the bus and the daemon
# (built with ASan themselves) run as they would anywhere.
ASAN_PRELOAD = os.environ.pop('APPSERVICE_TEST_ASAN_PRELOAD', None)
if ASAN_PRELOAD:
    os.environ.pop('LD_PRELOAD', None)

import gi  # noqa: E402
import pytest  # noqa: E402

gi.require_version('GLib', '2.0')
gi.require_version('GObject', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('AppService', '1.0')
from gi.repository import AppService, Gio, GLib, GObject  # noqa: E402

# The integration harness: a private system-type bus with the project's policy, a directory of
# definitions, the daemon from the build tree (stopped with SIGTERM at teardown, must exit 0).
from conftest import agents, bus, daemon, services_dir, workdir  # noqa: E402,F401
from client import DEFAULT_WAIT, TIME_SCALE  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, 'python_peer.py')
PYTHON = sys.executable
ECHO = 'com.example.echo'
MANAGER_PATH = '/io/appservice1'


def V(type_string, value):
    return GLib.Variant(type_string, value)


def valueset(**kw):
    return GLib.Variant('a{sv}', kw)


# ---- waiting on the main context ------------------------------------------------------------

def run_until(predicate, timeout=DEFAULT_WAIT, what='a condition'):
    """Iterates the default main context until predicate() is true; fails on the deadline."""
    context = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    # Wakes the blocking iteration regularly, so that the deadline is seen.
    tick = GLib.timeout_add(50, lambda: GLib.SOURCE_CONTINUE)
    try:
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError('timed out after %.1f s waiting for %s' % (timeout, what))
            context.iteration(True)
    finally:
        GLib.source_remove(tick)


class AsyncResult:
    """Catches an async callback: pass `self.callback`, then `wait()`."""

    def __init__(self):
        self.source = None
        self.result = None

    def callback(self, source, result, *user_data):
        self.source = source
        self.result = result

    def wait(self, timeout=DEFAULT_WAIT, what='an async callback'):
        run_until(lambda: self.result is not None, timeout, what)
        return self.result


# ---- peer processes -------------------------------------------------------------------------

def library_env(bus_address):
    env = dict(os.environ)
    env.pop('DBUS_SESSION_BUS_ADDRESS', None)
    env['DBUS_SYSTEM_BUS_ADDRESS'] = bus_address
    if ASAN_PRELOAD:
        env['LD_PRELOAD'] = ASAN_PRELOAD
    return env


class Peer:
    """python_peer.py (or any command) with its stdout read line by line."""

    def __init__(self, argv, bus_address, preexec_fn=None):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=library_env(bus_address), text=True, bufsize=1,
                                     preexec_fn=preexec_fn)
        self.lines = queue.Queue()
        self.seen = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip('\n'))
        self.lines.put(None)

    def wait_line(self, prefix, timeout=DEFAULT_WAIT):
        """The next line starting with `prefix` (earlier other lines are skipped, and kept in
        self.seen); fails on the deadline or when the peer's output ends."""
        deadline = time.monotonic() + timeout
        while True:
            # Keep the test's own main context running: the test may be the other endpoint.
            GLib.MainContext.default().iteration(False)
            try:
                line = self.lines.get(timeout=0.02)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise AssertionError('%s: no line starting with %r within %.1f s; seen: %r' %
                                         (self.argv, prefix, timeout, self.seen))
                continue
            if line is None:
                self.lines.put(None)
                raise AssertionError('%s: exited (%s) before a line starting with %r; seen: %r' %
                                     (self.argv, self.proc.poll(), prefix, self.seen))
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def command(self, line):
        self.proc.stdin.write(line + '\n')
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(5 * TIME_SCALE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def peers():
    started = []

    def start(*args, preexec_fn=None, bus_address=None):
        p = Peer([PYTHON, PEER] + list(args), bus_address, preexec_fn=preexec_fn)
        started.append(p)
        return p
    yield start
    for p in started:
        p.stop()


@pytest.fixture
def service(services_dir, daemon, bus, peers):
    """service(mode, **keys): writes the definition of ECHO, starts the daemon, starts a Python
    provider process in `mode` and waits until it has registered."""
    def start(mode='echo', arg=None, name=ECHO, **keys):
        keys.setdefault('Provider', 'com.example.PyApp')
        services_dir.write(name, **keys)
        if not daemon.running():
            daemon.start()
        args = ['provider', name, mode] + ([str(arg)] if arg is not None else [])
        provider = peers(*args, bus_address=bus.address)
        assert provider.wait_line('register ') == 'register ok'
        return provider
    return start


@pytest.fixture
def conn(bus):
    """The test process's own bus connection for the library (the harness's is for checks)."""
    flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
             Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
    c = Gio.DBusConnection.new_for_address_sync(bus.address, flags, None, None)
    c.set_exit_on_close(False)
    yield c
    c.close_sync(None)


def open_connection(conn, name=ECHO, pfn=None):
    c = AppService.Connection.new_for_bus(conn, name, pfn)
    assert c.open_sync(None) == AppService.ConnectionStatus.SUCCESS
    return c


def expect_open_error(connection, code, status):
    with pytest.raises(GLib.Error) as info:
        connection.open_sync(None)
    e = info.value
    assert e.domain == GLib.quark_to_string(AppService.error_quark())
    assert e.code == int(code)
    assert e.matches(AppService.error_quark(), code)
    assert connection.get_app_service_name() in e.message
    assert AppService.connection_status_from_error(e) == status
    assert not connection.get_is_open()


def send_outcome(connection, message):
    """(status, error code or None, message) of a send, however the library reports a failure:
    as a response with a status and an error, or as a GLib.Error."""
    try:
        response = connection.send_message_sync(message, None)
    except GLib.Error as e:
        assert e.domain == GLib.quark_to_string(AppService.error_quark()), e
        return AppService.response_status_from_error(e), e.code, None
    error = response.get_error()
    return response.get_status(), (error.code if error else None), response.get_message()


# ---- the module and its types ---------------------------------------------------------------

def test_import_and_types():
    assert AppService._namespace == 'AppService'
    for cls in (AppService.Connection, AppService.Provider, AppService.Request,
                AppService.Response):
        assert issubclass(cls, GObject.Object)
    for enum in (AppService.ConnectionStatus, AppService.ResponseStatus,
                 AppService.ClosedStatus, AppService.Error):
        assert issubclass(enum, GObject.GEnum)


def test_enums_have_windows_values():
    cs = AppService.ConnectionStatus
    assert [int(x) for x in (cs.SUCCESS, cs.APP_NOT_INSTALLED, cs.APP_UNAVAILABLE,
                             cs.APP_SERVICE_UNAVAILABLE, cs.UNKNOWN,
                             cs.REMOTE_SYSTEM_UNAVAILABLE, cs.REMOTE_SYSTEM_NOT_SUPPORTED_BY_APP,
                             cs.NOT_AUTHORIZED, cs.AUTHENTICATION_ERROR,
                             cs.NETWORK_NOT_AVAILABLE, cs.DISABLED_BY_POLICY,
                             cs.WEB_SERVICE_UNAVAILABLE)] == list(range(12))
    rs = AppService.ResponseStatus
    assert [int(x) for x in (rs.SUCCESS, rs.FAILURE, rs.RESOURCE_LIMITS_EXCEEDED, rs.UNKNOWN,
                             rs.REMOTE_SYSTEM_UNAVAILABLE, rs.MESSAGE_SIZE_TOO_LARGE,
                             rs.APP_UNAVAILABLE, rs.AUTHENTICATION_ERROR,
                             rs.NETWORK_NOT_AVAILABLE, rs.DISABLED_BY_POLICY,
                             rs.WEB_SERVICE_UNAVAILABLE)] == list(range(11))
    cl = AppService.ClosedStatus
    assert [int(x) for x in (cl.COMPLETED, cl.CANCELED, cl.RESOURCE_LIMITS_EXCEEDED,
                             cl.UNKNOWN)] == list(range(4))
    assert cs(7) == cs.NOT_AUTHORIZED
    assert cs.NOT_AUTHORIZED.value_nick == 'not-authorized'


# ---- ValueSet helpers -----------------------------------------------------------------------

def test_valueset_null():
    null = AppService.value_new_null()
    assert null.get_type_string() == 'av'
    assert null.n_children() == 0
    assert AppService.value_is_null(null)
    assert not AppService.value_is_null(V('i', 0))
    vs = valueset(nothing=V('av', []), zero=V('i', 0))
    assert AppService.value_set_contains_null(vs, 'nothing')
    assert not AppService.value_set_contains_null(vs, 'zero')
    assert not AppService.value_set_contains_null(vs, 'missing')


def _out(result):
    """A gboolean function with one out argument comes back as (ok, value)."""
    assert isinstance(result, tuple) and len(result) == 2, result
    return result


def test_valueset_typed_lookups():
    vs = valueset(text=V('s', 'hello'), flag=V('b', True), big=V('x', -2 ** 63),
                  ubig=V('t', 2 ** 64 - 1), pi=V('d', 3.25), nothing=V('av', []))
    assert AppService.value_set_get_string(vs, 'text') == 'hello'
    assert AppService.value_set_get_string(vs, 'flag') is None
    assert AppService.value_set_get_string(vs, 'missing') is None
    assert _out(AppService.value_set_get_boolean(vs, 'flag')) == (True, True)
    assert _out(AppService.value_set_get_int64(vs, 'big')) == (True, -2 ** 63)
    assert _out(AppService.value_set_get_uint64(vs, 'ubig')) == (True, 2 ** 64 - 1)
    assert _out(AppService.value_set_get_double(vs, 'pi')) == (True, 3.25)
    assert _out(AppService.value_set_get_int64(vs, 'text'))[0] is False
    assert _out(AppService.value_set_get_double(vs, 'missing'))[0] is False
    v = AppService.value_set_lookup(vs, 'text', GLib.VariantType('s'))
    assert v.get_string() == 'hello'
    assert AppService.value_set_lookup(vs, 'text', GLib.VariantType('i')) is None
    assert AppService.value_set_lookup(vs, 'missing', None) is None
    assert AppService.value_is_null(AppService.value_set_lookup(vs, 'nothing', None))


def test_valueset_parse_print_assignments():
    text = "{'a': <int32 1>, 'n': <@av []>, 'inner': <@a{sv} {'s': <'x'>}>}"
    vs = AppService.value_set_parse(text)
    assert vs.get_type_string() == 'a{sv}'
    assert vs.equal(GLib.Variant.parse(GLib.VariantType('a{sv}'), text, None, None))
    printed = AppService.value_set_print(vs)
    assert AppService.value_set_parse(printed).equal(vs)
    with pytest.raises(GLib.Error):
        AppService.value_set_parse('[1, 2]')

    made = AppService.value_set_new_from_assignments(['text=hello world', 'count=@i 5'])
    assert made.lookup_value('text', None).get_string() == 'hello world'
    count = made.lookup_value('count', None)
    assert count.get_type_string() == 'i' and count.get_int32() == 5
    with pytest.raises(GLib.Error):
        AppService.value_set_new_from_assignments(['no-equals-sign'])


def test_valueset_is_valid():
    assert AppService.value_set_is_valid(valueset(a=V('i', 1)))
    dup = GLib.Variant.new_array(GLib.VariantType('{sv}'), [
        GLib.Variant.new_dict_entry(V('s', 'a'), V('v', V('i', 1))),
        GLib.Variant.new_dict_entry(V('s', 'a'), V('v', V('i', 2)))])
    with pytest.raises(GLib.Error) as info:
        AppService.value_set_is_valid(dup)
    assert info.value.matches(AppService.error_quark(), AppService.Error.INVALID_MESSAGE)


# ---- errors ---------------------------------------------------------------------------------

def test_errors_map_to_statuses():
    e = GLib.Error.new_literal(AppService.error_quark(), 'x',
                               int(AppService.Error.NOT_AUTHORIZED))
    assert AppService.connection_status_from_error(e) == AppService.ConnectionStatus.NOT_AUTHORIZED
    e = GLib.Error.new_literal(AppService.error_quark(), 'x',
                               int(AppService.Error.MESSAGE_SIZE_TOO_LARGE))
    assert (AppService.response_status_from_error(e) ==
            AppService.ResponseStatus.MESSAGE_SIZE_TOO_LARGE)
    # (The NULL error, SUCCESS, is checked in C: PyGObject 3.42 passes no None for a GError.)


# ---- a Python provider process and a Python client ------------------------------------------

TYPED = valueset(
    null=V('av', []), yes=V('b', True), no=V('b', False), byte=V('y', 255),
    i16=V('n', -32768), u16=V('q', 65535), i32=V('i', -2 ** 31), u32=V('u', 2 ** 32 - 1),
    i64=V('x', -2 ** 63), u64=V('t', 2 ** 64 - 1), dmax=V('d', 1.7976931348623157e308),
    text=V('s', 'héllo wörld ✓'), empty=V('s', ''), strings=V('as', ['a', '', 'c']),
    bytes=V('ay', b'\x00\x01\xff'), struct=V('(si)', ('x', 2)),
    inner=V('a{sv}', {'k': V('b', True)}), list=V('aa{sv}', [{'a': V('i', 1)}, {}]))


def test_open_and_send_async(service, conn):
    provider = service('echo')
    c = AppService.Connection.new_for_bus(conn, ECHO, None)
    r = AsyncResult()
    c.open(None, r.callback)
    assert c.open_finish(r.wait()) == AppService.ConnectionStatus.SUCCESS
    assert c.get_is_open()
    assert c.get_object_path().startswith('/io/appservice1/connection/')
    assert provider.wait_line('connection ') == 'connection uid=0'

    r = AsyncResult()
    c.send_message(TYPED, None, r.callback)
    response = c.send_message_finish(r.wait())
    assert response.get_status() == AppService.ResponseStatus.SUCCESS
    # Byte for byte: same type, same serialisation.
    assert response.get_message().equal(TYPED)
    assert response.get_message().get_data_as_bytes().get_data() == \
        TYPED.get_data_as_bytes().get_data()
    assert provider.wait_line('request ') == 'request ' + TYPED.print_(True)

    r = AsyncResult()
    c.close(None, r.callback)
    assert c.close_finish(r.wait())
    assert provider.wait_line('closed ') == 'closed 0'


def test_open_and_send_sync(service, conn):
    service('echo')
    c = AppService.Connection.new_for_bus(conn, ECHO, 'com.example.PyApp')
    assert c.props.app_service_name == ECHO
    assert c.props.package_family_name == 'com.example.PyApp'
    assert c.open_sync(None) == AppService.ConnectionStatus.SUCCESS
    response = c.send_message_sync(TYPED, None)
    assert response.get_status() == AppService.ResponseStatus.SUCCESS
    assert response.get_message().equal(TYPED)
    assert c.close_sync(None)
    assert not c.get_is_open()


def test_send_message_once(service, conn):
    provider = service('echo')
    message = valueset(once=V('s', 'only'))
    response = AppService.send_message_once_sync(conn, ECHO, message, None)
    assert response.get_status() == AppService.ResponseStatus.SUCCESS
    assert response.get_message().equal(message)
    r = AsyncResult()
    AppService.send_message_once(conn, ECHO, message, None, r.callback)
    response = AppService.send_message_once_finish(r.wait())
    assert response.get_message().equal(message)
    assert provider.wait_line('closed ') == 'closed 0'


# ---- open failures --------------------------------------------------------------------------

def test_open_failures(services_dir, daemon, bus, conn, peers):
    services_dir.write(ECHO, Provider='com.example.PyApp')
    services_dir.write('com.example.broken', Exec='/nonexistent/provider')
    services_dir.write('com.example.off')
    daemon.start()
    bus.call('io.appservice1', MANAGER_PATH, 'io.appservice1.Manager', 'SetServiceEnabled',
             GLib.Variant('(sb)', ('com.example.off', False)))
    provider = peers('provider', ECHO, 'echo', bus_address=bus.address)
    assert provider.wait_line('register ') == 'register ok'

    E, S = AppService.Error, AppService.ConnectionStatus
    expect_open_error(AppService.Connection.new_for_bus(conn, 'com.example.nothing', None),
                      E.APP_SERVICE_UNAVAILABLE, S.APP_SERVICE_UNAVAILABLE)
    expect_open_error(AppService.Connection.new_for_bus(conn, ECHO, 'com.example.OtherApp'),
                      E.APP_NOT_INSTALLED, S.APP_NOT_INSTALLED)
    expect_open_error(AppService.Connection.new_for_bus(conn, 'com.example.broken', None),
                      E.APP_UNAVAILABLE, S.APP_UNAVAILABLE)
    expect_open_error(AppService.Connection.new_for_bus(conn, 'com.example.off', None),
                      E.DISABLED_BY_POLICY, S.DISABLED_BY_POLICY)


def test_open_not_authorized(services_dir, daemon, bus, peers):
    """A Python client that becomes the games user before connecting."""
    try:
        games = pwd.getpwnam('games')
    except KeyError:
        pytest.skip("no user 'games' (base-passwd creates it on Debian)")
    services_dir.write(ECHO, Provider='com.example.PyApp', AllowUsers='man')
    services_dir.write('com.example.games', Provider='com.example.PyApp', AllowUsers='games')
    daemon.start()
    for name in (ECHO, 'com.example.games'):
        p = peers('provider', name, 'echo', bus_address=bus.address)
        assert p.wait_line('register ') == 'register ok'
    as_games = '%d:%d' % (games.pw_uid, games.pw_gid)

    refused = peers('client', ECHO, '--as', as_games, bus_address=bus.address)
    assert refused.wait_line('open') == 'open-error %s %d' % (
        GLib.quark_to_string(AppService.error_quark()), int(AppService.Error.NOT_AUTHORIZED))
    allowed = peers('client', 'com.example.games', '--as', as_games, bus_address=bus.address)
    assert allowed.wait_line('open') == 'open 0'
    assert allowed.wait_line('response ') == "response 0 {'ping': <1>}"


# ---- response statuses ----------------------------------------------------------------------

def test_message_size_too_large(service, conn):
    service('echo', MaxMessageSize=1024)
    c = open_connection(conn)
    status, code, _ = send_outcome(c, valueset(text=V('s', 'x' * 2000)))
    assert status == AppService.ResponseStatus.MESSAGE_SIZE_TOO_LARGE
    assert code == AppService.Error.MESSAGE_SIZE_TOO_LARGE
    assert send_outcome(c, valueset(small=V('b', True)))[0] == AppService.ResponseStatus.SUCCESS


def test_invalid_message(service, conn):
    service('echo')
    c = open_connection(conn)
    dup = GLib.Variant.new_array(GLib.VariantType('{sv}'), [
        GLib.Variant.new_dict_entry(V('s', 'a'), V('v', V('i', 1))),
        GLib.Variant.new_dict_entry(V('s', 'a'), V('v', V('i', 2)))])
    status, code, _ = send_outcome(c, dup)
    assert status == AppService.ResponseStatus.FAILURE
    assert code == AppService.Error.INVALID_MESSAGE


def test_timeout(service, conn):
    service('hold', RequestTimeoutSec=1)
    c = open_connection(conn)
    start = time.monotonic()
    status, code, _ = send_outcome(c, valueset(wait=V('b', True)))
    assert status == AppService.ResponseStatus.FAILURE
    assert code == AppService.Error.TIMEOUT
    assert 0.9 <= time.monotonic() - start < 10 * TIME_SCALE


def test_resource_limits_exceeded(service, conn):
    provider = service('hold', MaxPendingRequests=1, RequestTimeoutSec=60)
    c = open_connection(conn)
    first = valueset(n=V('i', 1))
    r = AsyncResult()
    c.send_message(first, None, r.callback)
    provider.wait_line('request ')
    status, code, _ = send_outcome(c, valueset(n=V('i', 2)))
    assert status == AppService.ResponseStatus.RESOURCE_LIMITS_EXCEEDED
    assert code == AppService.Error.RESOURCE_LIMITS_EXCEEDED
    provider.command('answer')
    response = c.send_message_finish(r.wait())
    assert response.get_status() == AppService.ResponseStatus.SUCCESS
    assert response.get_message().equal(first)


# ---- requests and deferral ------------------------------------------------------------------

def test_provider_defers(service, conn):
    service('defer', 400, RequestTimeoutSec=60)
    c = open_connection(conn)
    message = valueset(later=V('s', 'please'))
    start = time.monotonic()
    status, code, got = send_outcome(c, message)
    assert status == AppService.ResponseStatus.SUCCESS and code is None
    assert got.equal(message)
    assert time.monotonic() - start >= 0.35


def test_provider_drops_request(service, conn):
    """The Python handler lets the request go unanswered: an empty response, at once."""
    service('ignore', RequestTimeoutSec=120)
    c = open_connection(conn)
    start = time.monotonic()
    status, code, got = send_outcome(c, valueset(anyone=V('s', 'there?')))
    assert status == AppService.ResponseStatus.SUCCESS
    assert got.equal(GLib.Variant('a{sv}', {}))
    assert time.monotonic() - start < 5 * TIME_SCALE


def test_client_receives_request_and_defers(service, conn):
    """The provider talks first; the Python client keeps the request and answers later."""
    provider = service('greet', RequestTimeoutSec=120)
    c = AppService.Connection.new_for_bus(conn, ECHO, None)
    kept = []
    c.connect('request-received', lambda connection, request: kept.append(request))
    assert c.open_sync(None) == AppService.ConnectionStatus.SUCCESS
    run_until(lambda: kept, what='request-received')
    request = kept[0]
    assert request.get_message().equal(valueset(greeting=V('s', 'hello')))
    assert not request.get_answered()
    answered = []

    def answer():
        answered.append(request.send_response_sync(valueset(reply=V('s', 'later')), None))
        return GLib.SOURCE_REMOVE
    GLib.timeout_add(200, answer)
    assert provider.wait_line('greet-response ') == "greet-response 0 {'reply': <'later'>}"
    assert answered == [AppService.ResponseStatus.SUCCESS]
    assert request.get_answered()


def test_client_drops_request(service, conn):
    provider = service('greet', RequestTimeoutSec=120)
    c = AppService.Connection.new_for_bus(conn, ECHO, None)
    seen = []
    c.connect('request-received', lambda connection, request: seen.append(
        request.get_message().print_(True)))
    assert c.open_sync(None) == AppService.ConnectionStatus.SUCCESS
    run_until(lambda: seen, what='request-received')
    assert provider.wait_line('greet-response ', timeout=5 * TIME_SCALE) == \
        'greet-response 0 @a{sv} {}'


# ---- service-closed -------------------------------------------------------------------------

def test_service_closed_completed(service, conn):
    provider = service('echo')
    c = open_connection(conn)
    closed = []
    c.connect('service-closed', lambda connection, status: closed.append(status))
    provider.wait_line('connection ')
    provider.command('close')
    run_until(lambda: closed, what='service-closed')
    assert closed == [AppService.ClosedStatus.COMPLETED]
    assert isinstance(closed[0], AppService.ClosedStatus)
    assert not c.get_is_open()


def test_service_closed_canceled(service, conn):
    provider = service('echo')
    c = open_connection(conn)
    closed = []
    c.connect('service-closed', lambda connection, status: closed.append(status))
    provider.wait_line('connection ')
    provider.proc.kill()
    run_until(lambda: closed, what='service-closed')
    assert closed == [AppService.ClosedStatus.CANCELED]


def test_client_close_reaches_provider(service, conn):
    provider = service('echo')
    c = open_connection(conn)
    assert c.close_sync(None)
    assert provider.wait_line('closed ') == 'closed 0'


# ---- a provider in this process -------------------------------------------------------------

def test_python_provider_properties(services_dir, daemon, bus, conn):
    path = services_dir.write(ECHO, Provider='com.example.PyApp', mode=0o600,
                              properties={'greeting': 'hello'}, secrets={'api-key': 's3cr3t'})
    assert os.stat(path).st_mode & 0o777 == 0o600
    daemon.start()
    p = AppService.Provider.new_for_bus(conn, ECHO)
    notified = []
    p.connect('notify::registered', lambda obj, pspec: notified.append(obj.props.registered))
    assert not p.get_registered()
    assert p.register_sync(None)
    run_until(lambda: notified, what='notify::registered')
    assert notified == [True]
    assert p.get_property_value('static', 'greeting') == 'hello'
    assert p.get_property_value('security', 'api-key') == 's3cr3t'
    assert p.get_property_value('static', 'missing') is None
    assert p.get_property_value('settings', 'node-name') == bus.get_property(
        MANAGER_PATH, 'io.appservice1.Manager', 'NodeName')
    assert p.get_property_value('settings', 'version') == bus.get_property(
        MANAGER_PATH, 'io.appservice1.Manager', 'Version')

    r = AsyncResult()
    p.unregister(None, r.callback)
    assert p.unregister_finish(r.wait())
    assert not p.get_registered()
    r = AsyncResult()
    p.register(None, r.callback)
    assert p.register_finish(r.wait())
    assert p.get_registered()

    second = AppService.Provider.new_for_bus(Gio.DBusConnection.new_for_address_sync(
        bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None), ECHO)
    with pytest.raises(GLib.Error) as info:
        second.register_sync(None)
    assert info.value.matches(AppService.error_quark(), AppService.Error.ALREADY_REGISTERED)


# ---- 0.3.0: the node property, submit_message ------------------------------------------------

SENDER = 'com.example.sender'


def test_connection_node_property(service, conn, bus):
    service('echo')
    node_name = bus.get_property(MANAGER_PATH, 'io.appservice1.Manager', 'NodeName')
    c = AppService.Connection.new_for_bus(conn, ECHO, None)
    assert c.get_node() is None and c.props.node is None
    notified = []
    c.connect('notify::node', lambda obj, pspec: notified.append(obj.props.node))
    c.props.node = node_name
    assert notified == [node_name]
    assert c.get_node() == node_name
    # This node by its name: an ordinary open here.
    assert c.open_sync(None) == AppService.ConnectionStatus.SUCCESS
    response = c.send_message_sync(valueset(Text=V('s', 'by node name')), None)
    assert response.get_message().unpack() == {'Text': 'by node name'}
    c.close_sync(None)
    c.set_node(None)
    assert c.get_node() is None


def test_submit_message(services_dir, daemon, bus, conn, peers):
    services_dir.write(AppService.CLOUD_NAME, Provider='com.example.Cloud')
    services_dir.write(SENDER, Provider='com.example.Sender')
    daemon.start()
    cloud = peers('provider', AppService.CLOUD_NAME, 'cloud', bus_address=bus.address)
    assert cloud.wait_line('register ') == 'register ok'
    assert AppService.CLOUD_NAME == 'io.appservice.cloud'

    p = AppService.Provider.new_for_bus(conn, SENDER)
    assert p.register_sync(None)
    message = valueset(Temperature=V('d', 21.5), Unit=V('s', 'C'))
    response = p.submit_message_sync(message, None)
    assert response.get_type_string() == 'a{sv}'
    assert response.unpack() == {'status': 'queued', 'id': 'x'}
    # The bridge learns the action and the sending service from the broker.
    assert cloud.wait_line('action ') == 'action SubmitMessage %s' % SENDER
    assert cloud.wait_line('request ') == "request {'Temperature': <21.5>, 'Unit': <'C'>}"

    r = AsyncResult()
    p.submit_message(valueset(n=V('u', 1)), None, r.callback)
    response = p.submit_message_finish(r.wait())
    assert response.unpack() == {'status': 'queued', 'id': 'x'}
    assert cloud.wait_line('request ') == "request {'n': <uint32 1>}"


def test_submit_message_without_a_bridge(services_dir, daemon, bus, conn):
    services_dir.write(SENDER, Provider='com.example.Sender')
    daemon.start()
    p = AppService.Provider.new_for_bus(conn, SENDER)
    assert p.register_sync(None)
    with pytest.raises(GLib.Error) as info:
        p.submit_message_sync(valueset(n=V('u', 1)), None)
    assert info.value.matches(AppService.error_quark(), AppService.Error.APP_SERVICE_UNAVAILABLE)
    assert AppService.CLOUD_NAME in info.value.message


# ---- GJS ------------------------------------------------------------------------------------

GJS_SCRIPT = r'''
imports.gi.versions.AppService = '1.0';
const {AppService, GLib} = imports.gi;
const c = AppService.Connection.new(ARGV[0], null);
print('open ' + c.open_sync(null));
const r = c.send_message_sync(new GLib.Variant('a{sv}', {text: new GLib.Variant('s', 'from gjs')}), null);
print('response ' + r.get_status() + ' ' + r.get_message().print(true));
c.close_sync(null);
'''


def test_gjs(service, bus):
    gjs = shutil.which('gjs')
    if not gjs:
        pytest.skip('gjs is not installed')
    provider = service('echo')
    out = subprocess.run([gjs, '-c', GJS_SCRIPT, ECHO], env=library_env(bus.address),
                         capture_output=True, text=True, timeout=30 * TIME_SCALE)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ['open 0', "response 0 {'text': <'from gjs'>}"], out.stderr
    assert provider.wait_line('request ') == "request {'text': <'from gjs'>}"


# ---- direct links (io.appservice1.Link) -----------------------------------------------------

def test_direct_open_send_receive(service, conn, monkeypatch):
    """Opens, sends and receives over a direct link: the broker says Direct, the provider gets
    the message and its response comes back byte for byte."""
    monkeypatch.delenv('APPSERVICE_DIRECT', raising=False)  # clients ask by default
    provider = service('greet')
    c = AppService.Connection.new_for_bus(conn, ECHO, None)
    greetings = []

    def on_request(connection, request):
        greetings.append(request.get_message().unpack())
        request.send_response(valueset(reply=V('s', 'hi')), None, None)
    c.connect('request-received', on_request)
    assert c.open_sync(None) == AppService.ConnectionStatus.SUCCESS
    assert c.props.direct
    assert c.get_direct()
    direct = conn.call_sync('io.appservice1', c.get_object_path(), 'org.freedesktop.DBus.Properties', 'Get',
                            V('(ss)', ('io.appservice1.Connection', 'Direct')), GLib.VariantType('(v)'),
                            Gio.DBusCallFlags.NONE, -1, None)
    assert direct.unpack() == (True,)
    response = c.send_message_sync(TYPED, None)
    assert response.get_status() == AppService.ResponseStatus.SUCCESS
    assert response.get_message().get_data_as_bytes().get_data() == \
        TYPED.get_data_as_bytes().get_data()
    assert provider.wait_line('request ') == 'request ' + TYPED.print_(True)
    run_until(lambda: greetings, what="the provider's greeting")
    assert greetings == [{'greeting': 'hello'}]
    assert provider.wait_line('greet-response ') == "greet-response 0 {'reply': <'hi'>}"
    assert c.close_sync(None)
    assert provider.wait_line('closed ') == 'closed 0'


def test_direct_disabled_by_environment(service, conn):
    service('echo')
    os.environ['APPSERVICE_DIRECT'] = '0'
    try:
        c = open_connection(conn)
    finally:
        del os.environ['APPSERVICE_DIRECT']
    assert not c.props.direct
    assert c.send_message_sync(valueset(n=V('i', 1)), None).get_message().unpack() == {'n': 1}
    assert c.close_sync(None)


def raw_link(conn):
    """A raw peer on a direct link, built with Gio alone: OpenDirectConnection called by hand,
    the client end of the socket pair, GDBus's client authentication (EXTERNAL, refused, then
    ANONYMOUS)."""
    reply, fds = conn.call_with_unix_fd_list_sync(
        'io.appservice1', MANAGER_PATH, 'io.appservice1.Manager', 'OpenDirectConnection',
        V('(ssa{sv})', (ECHO, '', {})), GLib.VariantType('(oa{sv})'), Gio.DBusCallFlags.NONE, -1, None, None)
    path, link = reply.unpack()
    assert 'fd' in link, link
    socket = Gio.Socket.new_from_fd(fds.get(link['fd']))
    stream = socket.connection_factory_create_connection()
    peer = Gio.DBusConnection.new_sync(stream, None, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT, None, None)
    return path, link, peer


def link_send(peer, message, timeout_ms=10000):
    """The reply's ValueSet, or the D-Bus error name and message."""
    try:
        reply = peer.call_sync(None, '/io/appservice1/link', 'io.appservice1.Link', 'SendMessage',
                               GLib.Variant('(a{sv})', (message,)), GLib.VariantType('(a{sv})'),
                               Gio.DBusCallFlags.NONE, timeout_ms, None)
        return reply.unpack()[0]
    except GLib.Error as e:
        return Gio.DBusError.get_remote_error(e), e.message


def test_direct_link_limits_from_a_raw_peer(service, conn):
    """The library provider enforces the link's limits as the broker would, in the broker's order
    (ValueSet rules, size, pending requests), times out what it never answers, and survives it
    all: it answers afterwards."""
    provider = service('hold', MaxMessageSize=4096, MaxPendingRequests=2, RequestTimeoutSec=2)
    path, link, peer = raw_link(conn)
    assert link['max-message-size'] == 4096 and link['max-pending-requests'] == 2
    assert provider.wait_line('connection ') == 'connection uid=0'

    name, message = link_send(peer, {'': V('i', 1)})
    assert name == 'io.appservice1.Error.InvalidMessage' and 'empty' in message, message
    name, message = link_send(peer, {'k' * 256: V('i', 1)})
    assert name == 'io.appservice1.Error.InvalidMessage' and '256' in message, message
    name, message = link_send(peer, {'fd': V('h', 0)})
    assert name == 'io.appservice1.Error.InvalidMessage' and 'unix fd' in message, message
    name, message = link_send(peer, {'deep': GLib.Variant.parse(None, '<' * 30 + '1' + '>' * 30, None, None)})
    assert name == 'io.appservice1.Error.InvalidMessage' and 'deep' in message, message
    # Both wrong: the ValueSet rules first.
    name, message = link_send(peer, {'': V('s', 'x' * 5000)})
    assert name == 'io.appservice1.Error.InvalidMessage', message
    name, message = link_send(peer, {'big': V('s', 'x' * 5000)})
    assert name == 'io.appservice1.Error.MessageSizeTooLarge' and 'MaxMessageSize' in message, message

    # Two held (asynchronously), the third refused at once; a too large one still says so.
    held = []
    for i in range(2):
        peer.call(None, '/io/appservice1/link', 'io.appservice1.Link', 'SendMessage',
                  GLib.Variant('(a{sv})', ({'i': V('i', i)},)), GLib.VariantType('(a{sv})'),
                  Gio.DBusCallFlags.NONE, 10000, None, lambda p, r, *a: held.append(r))
    assert provider.wait_line('request ').startswith('request ')
    assert provider.wait_line('request ').startswith('request ')
    name, message = link_send(peer, {'third': V('b', True)})
    assert name == 'io.appservice1.Error.ResourceLimitsExceeded' and 'MaxPendingRequests' in message, message
    name, message = link_send(peer, {'big': V('s', 'x' * 5000)})
    assert name == 'io.appservice1.Error.MessageSizeTooLarge', message

    # Never answered: Timeout after RequestTimeoutSec, from the receiving end.
    run_until(lambda: len(held) == 2, timeout=DEFAULT_WAIT + 2, what='the held requests to time out')
    for r in held:
        with pytest.raises(GLib.Error) as info:
            peer.call_finish(r)
        assert Gio.DBusError.get_remote_error(info.value) == 'io.appservice1.Error.Timeout'

    # Alive and serving: a request held now is answered on command.
    result = []
    peer.call(None, '/io/appservice1/link', 'io.appservice1.Link', 'SendMessage',
              GLib.Variant('(a{sv})', ({'after': V('b', True)},)), GLib.VariantType('(a{sv})'),
              Gio.DBusCallFlags.NONE, 10000, None, lambda p, r, *a: result.append(p.call_finish(r)))
    assert provider.wait_line('request ') == "request {'after': <true>}"
    provider.command('answer')
    run_until(lambda: result, what='the answer')
    assert result[0].unpack() == ({'after': True},)
    assert provider.proc.poll() is None
    peer.close_sync(None)
    # The link ended while the connection was open: the provider closes it, status Canceled.
    assert provider.wait_line('closed ') == 'closed 1'


# ---- the node's list of app services --------------------------------------------------------

def test_list_services_from_python(service, conn):
    """A Gio.ListModel of AppService.Info, live: Python apps (a Gtk.ListView, say) bind to it as
    to any list model, and to the rows' properties."""
    provider = service('echo')
    node = AppService.Node.new_for_bus(conn)
    r = AsyncResult()
    node.list_services(None, r.callback)
    services = node.list_services_finish(r.wait())
    assert isinstance(services, Gio.ListModel)
    assert services.get_item_type() == AppService.Info.__gtype__
    rows = [services.get_item(i) for i in range(services.get_n_items())]
    assert [i.props.name for i in rows] == [ECHO]
    echo = rows[0]
    assert echo.props.provider == 'com.example.PyApp'
    assert echo.props.may_open is True
    run_until(lambda: echo.props.state == 'active', what='echo active')

    seen = []
    echo.connect('notify::state', lambda info, pspec: seen.append(info.props.state))
    provider.stop()
    run_until(lambda: 'inactive' in seen, what='echo inactive through notify::state')
    assert services.get_item(0) is echo


# ---- the PyGObject overrides (libclient/python/gi/overrides/AppService.py) -----------------------

def test_overrides_are_loaded():
    assert AppService.Connection.__module__ == 'gi.overrides.AppService'
    assert callable(AppService.value_set) and callable(AppService.unpack)


def test_value_set_from_a_dict_and_back():
    as_set = AppService.value_set({
        'Text': 'hello', 'count': 5, 'big': 2 ** 63, 'ratio': 0.5, 'ok': True, 'raw': b'\x00\x01',
        'nothing': None, 'nested': {'inner': 'x', 'deep': {'n': -1}}, 'words': ['a', 'b'],
        'mixed': ['a', 1], 'empty': [], 'numbers': [1, 2.5], 'pair': ('a', 1),
        'records': [{'id': 1}, {'id': 2}], 'typed': GLib.Variant('u', 7), 'nulls': [None],
    }, extra='kw')
    assert AppService.value_set_is_valid(as_set)
    types = {as_set.get_child_value(i).get_child_value(0).get_string():
             as_set.get_child_value(i).get_child_value(1).get_variant().get_type_string()
             for i in range(as_set.n_children())}
    assert types == {'Text': 's', 'count': 'x', 'big': 't', 'ratio': 'd', 'ok': 'b', 'raw': 'ay',
                     'nothing': 'av', 'nested': 'a{sv}', 'words': 'as', 'mixed': 'av', 'empty': 'av',
                     'numbers': 'ad', 'pair': '(sx)', 'records': 'aa{sv}', 'typed': 'u',
                     'nulls': 'aav', 'extra': 's'}
    assert AppService.value_set_contains_null(as_set, 'nothing')
    assert AppService.value_set_get_int64(as_set, 'count') == (True, 5)
    back = AppService.unpack(as_set)
    assert back['nothing'] is None and back['nested'] == {'inner': 'x', 'deep': {'n': -1}}
    assert back['raw'] == [0, 1] or back['raw'] == b'\x00\x01'
    assert (back['Text'], back['count'], back['big'], back['pair'], back['typed']) == \
        ('hello', 5, 2 ** 63, ('a', 1), 7)
    assert back['mixed'] == ['a', 1] and back['numbers'] == [1.0, 2.5]
    # A ValueSet passes as it is; None unpacks to None.
    assert AppService.value_set(as_set) is as_set
    assert AppService.unpack(None) is None


@pytest.mark.parametrize('bad, error, what', [
    ({'when': object()}, TypeError, "['when']: a object cannot be sent"),
    ({1: 'x'}, TypeError, 'key 1 is not a str'),
    ({'n': 2 ** 64}, OverflowError, "['n']: 18446744073709551616 does not fit"),
    ({'n': -(2 ** 63) - 1}, OverflowError, "['n']"),
    ({'deep': {'list': [set()]}}, TypeError, "['deep']['list'][0]: a set cannot"),
    ({'t': ()}, ValueError, "['t']: an empty tuple"),
])
def test_value_set_refuses_what_has_no_dbus_type(bad, error, what):
    with pytest.raises(error) as info:
        AppService.value_set(bad)
    assert what in str(info.value), str(info.value)


def test_dicts_through_the_broker(service, conn):
    service('echo')
    c = open_connection(conn)
    response = c.send_message_sync({'Text': 'hello', 'n': 3, 'inner': {'null': None}})
    assert response.get_status() == AppService.ResponseStatus.SUCCESS
    assert response.unpack() == {'Text': 'hello', 'n': 3, 'inner': {'null': None}}
    # The introspected forms still work: a GLib.Variant, a callback, a cancellable.
    result = AsyncResult()
    c.send_message(valueset(Text=V('s', 'async')), None, result.callback, None)
    assert c.send_message_finish(result.wait()).unpack() == {'Text': 'async'}
    assert AppService.send_message_once_sync(conn, ECHO, {'Text': 'once'}).unpack() == {'Text': 'once'}


def test_asyncio_client_awaits(service, conn):
    import asyncio
    service('echo')

    async def main():
        pump = asyncio.create_task(AppService.glib_pump())
        try:
            c = AppService.Connection.new_for_bus(conn, ECHO, None)
            assert await c.open() == AppService.ConnectionStatus.SUCCESS
            replies = await asyncio.gather(*(c.send_message({'Text': 'hi', 'i': i}) for i in range(20)))
            assert [r.unpack()['i'] for r in replies] == list(range(20))
            missing = AppService.Connection.new_for_bus(conn, 'com.example.missing', None)
            with pytest.raises(GLib.Error) as info:
                await missing.open()
            assert info.value.matches(AppService.error_quark(), AppService.Error.APP_SERVICE_UNAVAILABLE)
            await c.close()
            assert not c.get_is_open()
        finally:
            pump.cancel()
    asyncio.run(asyncio.wait_for(main(), 30 * TIME_SCALE))


def test_asyncio_provider_answers_with_dicts(services_dir, daemon, bus, conn):
    """A provider written for asyncio: registered with await, its requests answered from a
    dict, stop-requested honoured, while a client in another process calls it."""
    import asyncio
    services_dir.write('com.example.pyasync', Provider='com.example.PyAsync')
    daemon.start()
    client_bus = Gio.DBusConnection.new_for_address_sync(
        bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
    client_bus.set_exit_on_close(False)

    async def main():
        pump = asyncio.create_task(AppService.glib_pump())
        stopped = asyncio.Event()
        try:
            provider = AppService.Provider.new_for_bus(conn, 'com.example.pyasync')

            def on_request(connection, request):
                message = request.unpack()
                request.send_response({'Reversed': message['Text'][::-1], 'Seen': message})

            provider.connect('connection-received',
                             lambda p, connection, caller: connection.connect('request-received', on_request))
            provider.connect_after('stop-requested', lambda p, details: stopped.set())
            await provider.register()
            client = AppService.Connection.new_for_bus(client_bus, 'com.example.pyasync', None)
            assert await client.open() == AppService.ConnectionStatus.SUCCESS
            response = await client.send_message({'Text': 'abc', 'n': None})
            assert response.unpack() == {'Reversed': 'cba', 'Seen': {'Text': 'abc', 'n': None}}
            # An administrator's stop reaches the provider, which stops.
            node = AppService.Node.new_for_bus(client_bus)
            stopping = node.stop_service('com.example.pyasync')
            await asyncio.wait_for(stopped.wait(), 10 * TIME_SCALE)
            await stopping
            assert not provider.get_registered()
        finally:
            pump.cancel()
    try:
        asyncio.run(asyncio.wait_for(main(), 30 * TIME_SCALE))
    finally:
        client_bus.close_sync(None)


def readme_python_blocks():
    """The README's Python examples of the client library, as written there: the provider, and
    the asyncio client (which goes on from the provider's imports)."""
    with open(os.path.join(os.environ['APPSERVICE_SOURCE_ROOT'], 'README.md')) as f:
        text = f.read()
    section = text[text.index('## The client library'):]
    section = section[:section.index('\n## ', 1)]
    blocks = [b.split('```', 1)[0] for b in section.split('```python\n')[1:]]
    assert len(blocks) == 2, 'the README\'s "The client library" has %d Python examples, not 2' % len(blocks)
    provider, client = blocks
    assert "provider.connect_after('stop-requested'" in provider
    imports = provider[:provider.index('loop = ')]
    return provider, imports + client


def test_readme_python_examples_run(tmp_path, services_dir, daemon, bus, conn):
    """The README's provider answers, and ends when an administrator stops it (stop-requested);
    its asyncio client prints the answer."""
    provider_source, client_source = readme_python_blocks()
    (tmp_path / 'provider.py').write_text(provider_source)
    (tmp_path / 'client.py').write_text(client_source)
    services_dir.write(ECHO, Provider='com.example.ReadmeProvider')
    daemon.start()
    env = library_env(bus.address)
    provider = subprocess.Popen([PYTHON, str(tmp_path / 'provider.py')], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        node = AppService.Node.new_for_bus(conn)
        run_until(lambda: any(i.get_name() == ECHO and i.get_state() == 'active'
                              for i in node.list_services_sync(None)),
                  what='the README provider to register')
        client = subprocess.run([PYTHON, str(tmp_path / 'client.py')], env=env, capture_output=True,
                                text=True, timeout=DEFAULT_WAIT * 3)
        assert client.returncode == 0, client.stdout + client.stderr
        assert client.stdout.strip() == "{'Text': 'hello'}", client.stdout + client.stderr
        assert provider.poll() is None
        node.stop_service_sync(ECHO, None)
        assert provider.wait(DEFAULT_WAIT) == 0, provider.stdout.read()
    finally:
        if provider.poll() is None:
            provider.kill()
        provider.wait()
        provider.stdout.close()
