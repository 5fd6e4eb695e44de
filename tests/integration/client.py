# SPDX-License-Identifier: LGPL-2.1-or-later
"""Test-side handles on peer agents (peer.py), and ValueSet helpers.

A `Peer` is one agent process (a client, a provider, a bystander, a monitor or the systemd
stand-in), spawned by the test, possibly as another uid, or started by the daemon through Exec=
and connected back to the test's control socket. Everything it sees is an event; the helpers
wait for events with deadlines and fail the test with the agent's stderr and its recent events
when an agent dies or a deadline passes.
"""

import atexit
import base64
import json
import os
import shlex
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
from gi.repository import GLib, Gio  # noqa: E402

PYTHON = os.environ.get('APPSERVICE_TEST_PYTHON', '/usr/bin/python3')
HERE = os.path.dirname(os.path.abspath(__file__))


def _world_readable_copy(name):
    """Agents run as unprivileged users, who may not be able to read the source tree (a clone
    under /root is mode 0700): they run a copy from a world-readable directory instead."""
    directory = tempfile.mkdtemp(prefix='appservice-agent-')
    os.chmod(directory, 0o755)
    copy = os.path.join(directory, name)
    shutil.copyfile(os.path.join(HERE, name), copy)
    os.chmod(copy, 0o644)
    atexit.register(shutil.rmtree, directory, True)
    return copy


PEER_PY = _world_readable_copy('peer.py')

# Valgrind and friends make the daemon slow; deadlines (not lower bounds) scale with this.
TIME_SCALE = float(os.environ.get('APPSERVICE_TEST_TIME_SCALE',
                                  '10' if os.environ.get('APPSERVICED_WRAPPER') else '1'))
DEFAULT_WAIT = 10.0 * TIME_SCALE

BUS_NAME = 'io.appservice1'
MANAGER_PATH = '/io/appservice1'
MANAGER_IFACE = 'io.appservice1.Manager'
SERVICE_IFACE = 'io.appservice1.Service'
CONNECTION_IFACE = 'io.appservice1.Connection'
PROPERTIES_IFACE = 'org.freedesktop.DBus.Properties'
ERROR_PREFIX = 'io.appservice1.Error.'
ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'

ECHO = 'com.example.echo'
ECHO_PROVIDER = 'com.example.EchoApp'
ECHO_PATH = MANAGER_PATH + '/service/com_2eexample_2eecho'
CONNECTION_PATH_RE = r'^/io/appservice1/connection/[0-9]+$'

# Unprivileged identities. dbus-daemon refuses connections from uids without a passwd entry, so
# these are users and groups that base-passwd puts on every Debian system.
GAMES_UID, GAMES_GID = 5, 60     # user "games", group "games"
MAN_UID, MAN_GID = 6, 12         # user "man", group "man"
LP_UID, LP_GID = 7, 7            # user "lp", group "lp": the providers' User=
NOBODY_UID, NOGROUP_GID = 65534, 65534
USERS_GID = 100                  # group "users"
STAFF_GID = 50                   # group "staff"


def proc_status(pid):
    """/proc/PID/status as {field: [words]}, e.g. 'Uid': ['0', '0', '0', '0']."""
    fields = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            key, _, value = line.partition(':')
            fields[key] = value.split()
    return fields


def err(name):
    """The full D-Bus name of one of the contract's errors."""
    return ERROR_PREFIX + name


def service_path(name):
    """The object path of an app service, escaped as sd_bus_path_encode() does: every byte that
    is not an ASCII letter or digit (and a digit in first place) becomes _xx, lower-case hex."""
    out = []
    for i, b in enumerate(name.encode()):
        c = chr(b)
        if ('a' <= c <= 'z') or ('A' <= c <= 'Z') or (i > 0 and '0' <= c <= '9'):
            out.append(c)
        else:
            out.append('_%02x' % b)
    return MANAGER_PATH + '/service/' + (''.join(out) if out else '_')


# ---- ValueSets ----------------------------------------------------------------------------------

def valueset(items=None, **kw):
    """An a{sv} GLib.Variant from a dict or a list of (key, GLib.Variant) pairs (a list may
    repeat a key, to build invalid ValueSets); keyword arguments are added too."""
    pairs = list(items.items()) if isinstance(items, dict) else list(items or [])
    pairs += list(kw.items())
    entries = []
    for key, value in pairs:
        if not isinstance(value, GLib.Variant):
            value = auto_variant(value)
        entries.append(GLib.Variant.new_dict_entry(GLib.Variant('s', key),
                                                   GLib.Variant('v', value)))
    return GLib.Variant.new_array(GLib.VariantType.new('{sv}'), entries)


def auto_variant(value):
    if isinstance(value, bool):
        return GLib.Variant('b', value)
    if isinstance(value, int):
        return GLib.Variant('x', value)
    if isinstance(value, float):
        return GLib.Variant('d', value)
    if isinstance(value, str):
        return GLib.Variant('s', value)
    if isinstance(value, bytes):
        return GLib.Variant('ay', value)
    raise TypeError('give a GLib.Variant for %r' % (value,))


def text(v):
    """GVariant text with types, as the agents report what they receive."""
    return v.print_(True)


def parse(type_string, value_text):
    return GLib.Variant.parse(GLib.VariantType.new(type_string), value_text, None, None)


def blob(v):
    return base64.b64encode(v.get_normal_form().get_data_as_bytes().get_data()).decode()


def from_blob(type_string, data):
    return GLib.Variant.new_from_bytes(GLib.VariantType.new(type_string),
                                       GLib.Bytes.new(base64.b64decode(data)),
                                       False).get_normal_form()


def norm(value_text):
    """The canonical text of a ValueSet written by hand, to compare with what agents report."""
    return parse('a{sv}', value_text).print_(True)


def vs_text(v):
    """Accepts a GLib.Variant a{sv}, a dict, or GVariant text; returns GVariant text."""
    if isinstance(v, GLib.Variant):
        return text(v)
    if isinstance(v, (dict, list)):
        return text(valueset(v))
    return v


def typed(value_text):
    """{key: (D-Bus type, Python value)} of a ValueSet given as GVariant text."""
    v = parse('a{sv}', value_text)
    out = {}
    for i in range(v.n_children()):
        entry = v.get_child_value(i)
        inner = entry.get_child_value(1).get_variant()
        out[entry.get_child_value(0).get_string()] = (inner.get_type_string(), inner.unpack())
    return out


def marshalled_size(v):
    """The D-Bus marshalled size of a ValueSet alone (an a{sv} starting at an 8-aligned offset):
    the body length of a message whose body is that one a{sv} (a body starts 8-aligned)."""
    msg = Gio.DBusMessage.new_method_call(BUS_NAME, '/x', SERVICE_IFACE, 'SendMessage')
    msg.set_body(GLib.Variant.new_tuple(v))
    msg.set_byte_order(Gio.DBusMessageByteOrder.LITTLE_ENDIAN)
    msg.set_serial(1)
    blob = msg.to_blob(Gio.DBusCapabilityFlags.UNIX_FD_PASSING)
    return struct.unpack_from('<I', blob, 4)[0]


def valueset_of_size(size, key='blob', extra=None):
    """A ValueSet whose marshalled size is exactly `size` bytes: `extra` pairs plus one ay
    value (1-byte elements) whose length is tuned to the byte."""
    base = list(extra or [])
    probe = valueset(base + [(key, GLib.Variant('ay', b''))])
    n = size - marshalled_size(probe)
    if n < 0:
        raise ValueError('size %d is below the minimum %d' % (size, size - n))
    v = valueset(base + [(key, GLib.Variant('ay', b'x' * n))])
    assert marshalled_size(v) == size, (marshalled_size(v), size)
    return v


# ---- results ------------------------------------------------------------------------------------

class Result:
    def __init__(self, peer, call, ev):
        self.peer = peer
        self.call = call
        self.ok = ev['ok']
        self.value = ev.get('value')
        self.values = ev.get('values') or []
        self.blobs = ev.get('blobs') or []
        self.error = ev.get('error')
        self.message = ev.get('message')
        self.elapsed = ev.get('elapsed')
        self.n_fds = ev.get('n_fds', 0)

    def __repr__(self):
        if self.ok:
            return '<%s ok %s>' % (self.call, self.value)
        return '<%s error %s: %s>' % (self.call, self.error, self.message)

    def expect_ok(self):
        if not self.ok:
            self.peer.fail('%s failed: %s: %s' % (self.call, self.error, self.message))
        return self.values

    def expect_error(self, name):
        """Asserts that the call failed with `name` (a contract error like 'Closed', or a full
        D-Bus error name) and returns the error message."""
        full = name if '.' in name else err(name)
        if self.ok:
            self.peer.fail('%s succeeded with %s, expected %s' % (self.call, self.value, full))
        if self.error != full:
            self.peer.fail('%s failed with %s (%s), expected %s' %
                           (self.call, self.error, self.message, full))
        return self.message

    def variant(self, index=0):
        """One return value as a GLib.Variant, exactly as received."""
        self.expect_ok()
        return from_blob(*self.blobs[index])

    def unpack(self, index=0, type_string=None):
        """One return value as a Python object (type_string: the value's D-Bus type)."""
        v = self.variant(index)
        if type_string is not None:
            assert v.get_type_string() == type_string, (v.get_type_string(), type_string)
        return v.unpack()


class Call:
    def __init__(self, peer, tag, desc):
        self.peer = peer
        self.tag = tag
        self.desc = desc
        self.sent_at = time.monotonic()

    def __str__(self):
        return self.desc

    def done(self):
        return self.peer.find_event(lambda e: e['event'] == 'reply' and e['tag'] == self.tag,
                                    consume=False) is not None

    def wait(self, timeout=None):
        ev = self.peer.wait_event(lambda e: e['event'] == 'reply' and e['tag'] == self.tag,
                                  timeout, 'the reply to %s' % self.desc)
        return Result(self.peer, self.desc, ev)

    def ok(self, timeout=None):
        return self.wait(timeout).expect_ok()

    def error(self, name, timeout=None):
        return self.wait(timeout).expect_error(name)

    def assert_pending(self, settle=0.2):
        """No reply yet, after a round trip through the daemon (ordering barrier)."""
        self.peer.barrier(settle)
        if self.done():
            r = self.wait(0)
            self.peer.fail('%s was expected to be still pending but got %r' % (self.desc, r))


class Signal(dict):
    """One signal event: member, interface, path, sender, destination, signature, args (text of
    the whole body), argv (text of each argument)."""

    def variant(self, i):
        """Argument i as a GLib.Variant, exactly as received."""
        return from_blob(*self['argv_blobs'][i])

    def arg(self, i, type_string=None):
        v = self.variant(i)
        if type_string is not None:
            assert v.get_type_string() == type_string, (v.get_type_string(), type_string, self)
        return v.unpack()

    def __repr__(self):
        return '<signal %s.%s %s -> %s %s>' % (self.get('interface'), self.get('member'),
                                                self.get('path'), self.get('destination'),
                                                self.get('args'))


# ---- peers --------------------------------------------------------------------------------------

class AgentFailure(AssertionError):
    pass


class Peer:
    def __init__(self, name, manager, proc=None, sock=None, stderr_path=None):
        self.name = name
        self.owner = manager
        self.proc = proc
        self.sock = sock
        self.stderr_path = stderr_path
        self.events = []
        self.consumed = set()
        self.cond = threading.Condition()
        self.eof = False
        self.tag_counter = 0
        self.hello = None
        self.wfile = proc.stdin if proc else sock.makefile('wb', buffering=0)
        rfile = proc.stdout if proc else sock.makefile('rb')
        self.reader = threading.Thread(target=self._read, args=(rfile,), daemon=True)
        self.reader.start()

    def _read(self, rfile):
        try:
            for line in rfile:
                try:
                    ev = json.loads(line)
                except ValueError:
                    ev = {'event': 'garbage', 'text': line.decode(errors='replace')}
                if ev.get('event') == 'signal':
                    ev = Signal(ev)
                with self.cond:
                    self.events.append(ev)
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    # ---- identity ---------------------------------------------------------------------------

    def wait_hello(self, timeout=None):
        self.hello = self.wait_event(lambda e: e['event'] == 'hello', timeout, 'hello',
                                     consume=False)
        return self

    @property
    def pid(self):
        return self.hello['pid']

    @property
    def uid(self):
        return self.hello['uids'][0]

    @property
    def gid(self):
        return self.hello['gids'][0]

    @property
    def unique_name(self):
        return self.hello['unique_name']

    def alive(self):
        if self.proc is not None:
            return self.proc.poll() is None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return not _is_zombie(self.pid)

    # ---- failure reporting ------------------------------------------------------------------

    def stderr_text(self):
        if not self.stderr_path:
            return '(stderr not captured: started by the daemon)'
        try:
            with open(self.stderr_path, errors='replace') as f:
                return f.read()[-8000:]
        except OSError as e:
            return '(cannot read %s: %s)' % (self.stderr_path, e)

    def describe(self):
        with self.cond:
            recent = self.events[-25:]
        lines = ['agent %r (pid %s, uid %s, %s)' % (self.name, self.hello and self.hello['pid'],
                                                    self.hello and self.hello['uids'][0],
                                                    'dead' if self.eof else 'alive')]
        lines.append('  recent events:')
        lines += ['    %s' % json.dumps(e)[:600] for e in recent]
        lines.append('  stderr:')
        lines += ['    ' + line for line in self.stderr_text().splitlines()]
        return '\n'.join(lines)

    def fail(self, message):
        raise AgentFailure('%s\n%s' % (message, self.describe()))

    # ---- events -----------------------------------------------------------------------------

    def find_event(self, pred, consume=True):
        with self.cond:
            for i, ev in enumerate(self.events):
                if i in self.consumed:
                    continue
                if pred(ev):
                    if consume:
                        self.consumed.add(i)
                    return ev
        return None

    def wait_event(self, pred, timeout=None, what='an event', consume=True):
        timeout = DEFAULT_WAIT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                ev = self.find_event(pred, consume)
                if ev is not None:
                    return ev
                for e in self.events:
                    if e.get('event') == 'agent_error':
                        self.fail('agent error while waiting for %s:\n%s' % (what, e['text']))
                if self.eof:
                    self.fail('agent %r is gone while waiting for %s' % (self.name, what))
                left = deadline - time.monotonic()
                if left <= 0:
                    self.fail('timed out after %.1f s waiting for %s' % (timeout, what))
                self.cond.wait(left)

    def send(self, cmd):
        try:
            self.wfile.write((json.dumps(cmd) + '\n').encode())
            self.wfile.flush()
        except (OSError, ValueError) as e:
            self.fail('cannot send %r to agent: %s' % (cmd.get('cmd'), e))

    def next_tag(self):
        self.tag_counter += 1
        return '%s-%d' % (self.name, self.tag_counter)

    # ---- calls ------------------------------------------------------------------------------

    def call(self, dest, path, iface, member, sig='()', args='()', timeout_ms=120000, fds=0,
             interactive=False, no_reply=False, keep_fds=False):
        """An asynchronous call; `args` is GVariant text of type `sig`, or a GLib.Variant of
        that type (sent exactly, as its serialisation). With no_reply, sent with the
        NO_REPLY_EXPECTED flag, and "answered" (empty) once sent."""
        tag = self.next_tag()
        cmd = {'cmd': 'call', 'tag': tag, 'dest': dest, 'path': path, 'iface': iface,
               'member': member, 'sig': sig, 'timeout_ms': timeout_ms, 'fds': fds,
               'interactive': interactive, 'no_reply': no_reply, 'keep_fds': keep_fds}
        if isinstance(args, GLib.Variant):
            assert args.get_type_string() == sig, (args.get_type_string(), sig)
            cmd['args_blob'] = blob(args)
            args = args.print_(True)
        else:
            cmd['args'] = args
        self.send(cmd)
        return Call(self, tag, '%s %s.%s%s on %s' % (self.name, iface, member,
                                                     _short(args), path))

    # ---- kept fds (a direct link's ends): keyed by the call's tag or the signal's fds_key ----------

    def fd_write(self, key, data):
        tag = self.next_tag()
        self.send({'cmd': 'fd_write', 'tag': tag, 'key': key,
                   'data': base64.b64encode(data).decode()})
        ev = self.wait_event(lambda e: e['event'] == 'fd_written' and e['tag'] == tag, None,
                             'fd_write')
        if not ev['ok']:
            self.fail('writing to fd %s failed: %s' % (key, ev['error']))

    def fd_read(self, key, n=4096, timeout=5.0):
        """Up to n bytes, b'' at end of file; fails when nothing came within `timeout`."""
        tag = self.next_tag()
        self.send({'cmd': 'fd_read', 'tag': tag, 'key': key, 'n': n, 'timeout': timeout})
        ev = self.wait_event(lambda e: e['event'] == 'fd_data' and e['tag'] == tag,
                             timeout + DEFAULT_WAIT, 'fd_read')
        if ev.get('error'):
            self.fail('reading fd %s: %s' % (key, ev['error']))
        return base64.b64decode(ev['data'])

    def fd_close(self, key):
        tag = self.next_tag()
        self.send({'cmd': 'fd_close', 'tag': tag, 'key': key})
        self.wait_event(lambda e: e['event'] == 'fd_closed' and e['tag'] == tag, None, 'fd_close')

    def manager(self, member, sig='()', args='()', **kw):
        return self.call(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, member, sig, args, **kw)

    def open(self, name, provider='', options='@a{sv} {}', **kw):
        return self.manager('OpenConnection', '(ssa{sv})',
                            '(%s, %s, %s)' % (_q(name), _q(provider), options), **kw)

    def open_ok(self, name, provider='', timeout=None):
        return self.open(name, provider).wait(timeout).unpack(0, 'o')

    def list_services(self):
        return self.manager('ListServices').wait().unpack(0, 'a(ssssbo)')

    def register(self, name, options='@a{sv} {}'):
        return self.manager('RegisterProvider', '(sa{sv})', '(%s, %s)' % (_q(name), options))

    def register_ok(self, name):
        r = self.register(name).wait()
        r.expect_ok()
        return parse('o', r.values[0]).unpack(), parse('a{sv}', r.values[1]).unpack()

    def unregister(self, name):
        return self.manager('UnregisterProvider', '(s)', '(%s,)' % _q(name))

    def send_message(self, conn_path, message, fds=0, **kw):
        return self.call(BUS_NAME, conn_path, CONNECTION_IFACE, 'SendMessage', '(a{sv})',
                         _args(message), fds=fds, **kw)

    def respond(self, conn_path, request, response, fds=0, **kw):
        if isinstance(response, str):
            args = '(uint64 %d, %s)' % (request, _typed_vs(response))
        else:
            args = GLib.Variant.new_tuple(GLib.Variant('t', request), _vs(response))
        return self.call(BUS_NAME, conn_path, CONNECTION_IFACE, 'SendResponse', '(ta{sv})',
                         args, fds=fds, **kw)

    def close(self, conn_path):
        return self.call(BUS_NAME, conn_path, CONNECTION_IFACE, 'Close')

    def service_send(self, name, message, fds=0, path=None, **kw):
        return self.call(BUS_NAME, path or service_path(name), SERVICE_IFACE, 'SendMessage',
                         '(a{sv})', _args(message), fds=fds, **kw)

    def get(self, path, iface, prop):
        return self.call(BUS_NAME, path, PROPERTIES_IFACE, 'Get', '(ss)',
                         '(%s, %s)' % (_q(iface), _q(prop)))

    def get_value(self, path, iface, prop):
        """The property's value as a Python object."""
        r = self.get(path, iface, prop).wait()
        return parse('v', r.expect_ok()[0]).unpack()

    def get_all(self, path, iface):
        return self.call(BUS_NAME, path, PROPERTIES_IFACE, 'GetAll', '(s)', '(%s,)' % _q(iface))

    def barrier(self, settle=0.2):
        """Waits `settle` seconds, then makes one round trip to the daemon: whatever the daemon
        sent to this peer before answering has arrived when this returns (one sender, one
        receiver: the bus keeps the order)."""
        if settle:
            time.sleep(settle)
        self.call(BUS_NAME, MANAGER_PATH, PROPERTIES_IFACE, 'Get', '(ss)',
                  "('%s', 'Version')" % MANAGER_IFACE).wait()

    # ---- auto-behaviour ---------------------------------------------------------------------

    def auto(self, mode, seconds=0, value=None):
        tag = self.next_tag()
        self.send({'cmd': 'auto', 'tag': tag, 'mode': mode, 'seconds': seconds,
                   'value_blob': blob(_vs(value)) if value is not None else None})
        self.wait_event(lambda e: e['event'] == 'auto_set' and e['tag'] == tag, None,
                        'auto mode set')

    def wait_auto_response(self, request=None, timeout=None):
        return self.wait_event(lambda e: e['event'] == 'auto_response' and
                               (request is None or e['request'] == request), timeout,
                               'an automatic SendResponse')

    def wait_registered(self, timeout=None):
        ev = self.wait_event(lambda e: e['event'] == 'registered', timeout, 'registration',
                             consume=False)
        if not ev['ok']:
            self.fail('RegisterProvider(%s) failed: %s: %s' % (ev['name'], ev['error'],
                                                                ev['message']))
        return ev

    # ---- signals ----------------------------------------------------------------------------

    @staticmethod
    def _sig_pred(member, path, predicate, interface):
        def pred(e):
            return (e['event'] == 'signal' and (member is None or e['member'] == member) and
                    (path is None or e['path'] == path) and
                    (interface is None or e['interface'] == interface) and
                    (predicate is None or predicate(e)))
        return pred

    def wait_signal(self, member, timeout=None, predicate=None, path=None, interface=None):
        return self.wait_event(self._sig_pred(member, path, predicate, interface), timeout,
                               'signal %s%s' % (member, ' on %s' % path if path else ''))

    def signals(self, member=None, path=None, interface=None):
        with self.cond:
            return [e for e in self.events
                    if self._sig_pred(member, path, None, interface)(e)]

    def appservice_signals(self):
        """Signals of the contract's interfaces received so far."""
        with self.cond:
            return [e for e in self.events if e['event'] == 'signal' and
                    (e.get('interface') or '').startswith('io.appservice1.')]

    def assert_no_signal(self, member=None, settle=0.3, path=None, predicate=None,
                         interface=None):
        """No such signal arrived (and was not consumed by an earlier wait_signal), checked after
        a round trip through the daemon."""
        self.barrier(settle)
        pred = self._sig_pred(member, path, predicate, interface)
        ev = self.find_event(pred, consume=False)
        if ev is not None:
            self.fail('unexpected signal %r' % (ev,))

    # ---- lifetime ---------------------------------------------------------------------------

    def ping(self):
        tag = self.next_tag()
        self.send({'cmd': 'ping', 'tag': tag})
        self.wait_event(lambda e: e['event'] == 'pong' and e['tag'] == tag, None, 'pong')

    def exit(self, timeout=None):
        """Clean exit: closes the bus connection."""
        self.send({'cmd': 'exit'})
        self.wait_gone(timeout)

    def crash(self, timeout=None):
        """Vanish without closing anything by hand."""
        self.send({'cmd': 'crash'})
        self.wait_gone(timeout)

    def kill(self, sig=9):
        if self.alive():
            os.kill(self.pid if self.hello else self.proc.pid, sig)
        self.wait_gone()

    def wait_gone(self, timeout=None):
        timeout = DEFAULT_WAIT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if self.proc is not None:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.fail('agent did not exit within %.1f s' % timeout)
            return self.proc.returncode
        while self.alive():
            if time.monotonic() > deadline:
                self.fail('agent did not exit within %.1f s' % timeout)
            time.sleep(0.02)
        return None

    def shutdown(self):
        try:
            if self.proc is not None:
                try:
                    self.proc.stdin.close()
                except OSError:
                    pass
                try:
                    self.proc.wait(2)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            else:
                try:
                    self.sock.close()
                except OSError:
                    pass
                if self.hello and self.alive():
                    deadline = time.monotonic() + 2
                    while self.alive() and time.monotonic() < deadline:
                        time.sleep(0.02)
                    if self.alive():
                        os.kill(self.pid, 9)
        except ProcessLookupError:
            pass


def _is_zombie(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError:
        return True


def _q(s):
    return GLib.Variant('s', s).print_(False)


def _vs(v):
    """A ValueSet as a GLib.Variant from a Variant, a dict/list of pairs or GVariant text."""
    if isinstance(v, GLib.Variant):
        return v
    if isinstance(v, (dict, list)):
        return valueset(v)
    return parse('a{sv}', v)


def _args(message):
    """The (a{sv}) arguments: text stays text (it may hold handles), anything else is sent as
    its exact serialisation."""
    if isinstance(message, str):
        return '(%s,)' % _typed_vs(message)
    return GLib.Variant.new_tuple(_vs(message))


def _typed_vs(t):
    return t if t.lstrip().startswith('@') else '@a{sv} ' + t


def _short(args):
    return args if len(args) < 120 else args[:100] + '…)'


class ControlListener:
    """A unix socket that agents started by the daemon (Exec=) or by the systemd stand-in
    connect back to; each connection becomes a Peer."""

    def __init__(self, manager, path):
        self.owner = manager
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o777)  # providers run as their User= uid
        self.sock.listen(64)
        self.peers = []
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        n = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            n += 1
            peer = Peer('exec%d' % n, self.owner, sock=conn)
            with self.cond:
                self.peers.append(peer)
                self.cond.notify_all()

    def accept(self, index=None, timeout=None):
        """The index-th agent that connected (by default the next one not yet taken), after its
        hello."""
        timeout = DEFAULT_WAIT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if index is None:
            index = getattr(self, '_taken', 0)
            self._taken = index + 1
        with self.cond:
            while len(self.peers) <= index:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AgentFailure('no provider connected to the control socket %s within '
                                       '%.1f s (%d connected)' % (self.path, timeout,
                                                                  len(self.peers)))
                self.cond.wait(left)
            peer = self.peers[index]
        return peer.wait_hello(timeout)

    def count(self):
        with self.cond:
            return len(self.peers)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        for p in self.peers:
            p.shutdown()


class AgentManager:
    """Spawns agents and ends them all at teardown."""

    def __init__(self, address, workdir):
        self.address = address
        self.workdir = workdir
        self.peers = []
        self.listeners = []
        self.n = 0

    def spawn(self, name=None, uid=None, gid=None, groups=None, register=None, auto=None,
              match=True, extra=None, wait=True):
        """An agent connected to the test bus, as root or (through setpriv) as uid/gid with the
        supplementary `groups` (none when not given)."""
        self.n += 1
        name = name or 'peer%d' % self.n
        argv = [PYTHON, PEER_PY, '--address', self.address]
        if register:
            argv += ['--register', register]
        if auto:
            argv += ['--auto', auto]
        if not match:
            argv.append('--no-match')
        argv += list(extra or [])
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1')
        env.pop('DBUS_SYSTEM_BUS_ADDRESS', None)
        env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        if uid is not None:
            gid = uid if gid is None else gid
            sp = ['setpriv', '--reuid=%d' % uid, '--regid=%d' % gid]
            sp += ['--groups=%s' % ','.join(str(g) for g in groups)] if groups \
                else ['--clear-groups']
            sp += ['--inh-caps=-all']
            argv = sp + ['--'] + argv
            env['HOME'] = '/'
        stderr_path = os.path.join(self.workdir, 'agent-%s.stderr' % name)
        with open(stderr_path, 'wb') as stderr:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=stderr, env=env, cwd='/')
        peer = Peer(name, self, proc=proc, stderr_path=stderr_path)
        peer.argv = argv
        self.peers.append(peer)
        if wait:
            peer.wait_hello()
        return peer

    def listener(self, name='control'):
        path = os.path.join(self.workdir, '%s.sock' % name)
        lst = ControlListener(self, path)
        self.listeners.append(lst)
        return lst

    def provider_command(self, register, listener=None, auto='echo', extra=()):
        """An Exec= line that starts peer.py as a provider registering `register`."""
        argv = [PYTHON, PEER_PY, '--address-from-env', '--register', register, '--auto', auto]
        if listener is not None:
            argv += ['--control-socket', listener.path]
        argv += list(extra)
        return ' '.join(shlex.quote(a) for a in argv)

    def close_all(self):
        for p in self.peers:
            p.shutdown()
        for lst in self.listeners:
            lst.close()
