#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A D-Bus peer agent for the integration tests, run as a separate process.

Clients, providers, bystanders, monitors and the systemd stand-in of the tests are all this one
program, driven over a control channel with one JSON object per line:

  * stdin/stdout when the test spawns it (optionally through setpriv, as any uid);
  * a unix socket (--control-socket PATH) when the daemon starts it through Exec= or the systemd
    stand-in starts it, so that the test can still drive it.

Commands (test -> agent), each may carry a "tag" that the answer repeats:
  {"cmd": "call", "dest", "path", "iface", "member", "sig", "args" | "args_blob", "timeout_ms",
   "fds", "interactive"}
      an asynchronous method call ("interactive": with ALLOW_INTERACTIVE_AUTHORIZATION); "sig" is a tuple type, "args" GVariant text of it and
      "args_blob" [base64 of its GVariant serialisation] the exact alternative; "fds" attaches that
      many open fds (of /dev/null) so that "h" values are real.
      Answer: {"event": "reply", "tag", "ok", "value", "values", "blobs", "sig", "elapsed"} or
              {"event": "reply", "tag", "ok": false, "error", "message", "elapsed"}.
  {"cmd": "auto", "mode": "echo" | "ignore" | "delay" | "fixed", "seconds", "value_blob"}
      how to answer each RequestReceived ("fixed": that a{sv}, serialised).
  {"cmd": "become_monitor", "rules": [...]}  org.freedesktop.DBus.Monitoring.BecomeMonitor;
      from then on every message on the bus is reported as a "monitor" event.
  {"cmd": "systemd_standin", "units": {unit: [argv...]}}  own org.freedesktop.systemd1 and
      answer Manager.StartUnit by starting argv and emitting JobRemoved.
  {"cmd": "polkit_standin", "allow_uids": [...], "hold": bool}  own org.freedesktop.PolicyKit1
      and answer Authority.CheckAuthorization: authorized for the listed uids, a challenge for
      the others when they allow interaction; with "hold", never answer. Each call is reported
      as a "polkit_call" event.
  {"cmd": "polkit_release"}  answers the held CheckAuthorization calls, as above, and stops
      holding; replies {"event": "polkit_released", "count": n}.
  {"cmd": "polkit_hold"}  holds the CheckAuthorization calls from now on again; replies
      {"event": "polkit_holding"}.
  {"cmd": "fd_write", "key", "data"}  writes base64 `data` to the fd kept under `key` (a call's
      tag, or a signal's "fds_key"); replies {"event": "fd_written", "ok", "error"}.
  {"cmd": "fd_read", "key", "n", "timeout"}  reads up to n bytes (waits up to timeout s);
      replies {"event": "fd_data", "data" (base64, "" at end of file), "eof", "error"}.
  {"cmd": "fd_close", "key"}  closes the kept fd; replies {"event": "fd_closed"}.
  {"cmd": "ping"}   answered with {"event": "pong"} (orders the channel).
  {"cmd": "exit"}   flush and close the bus connection, exit 0.
  {"cmd": "crash"}  os._exit(1) at once, nothing closed by hand.

Calls with "keep_fds" keep the unix fds of their reply (the reply reports "n_fds"); signals that
carry fds keep them too, the event giving "fds_key". With --register-direct, RegisterProvider
says {"direct-links": <true>}.

With --on-stop exit, a StopRequested signal makes the agent unregister (--register's name) and
exit 0, as a well-behaved provider does; with the default (ignore) it only reports the signal.

Events (agent -> test): "hello" (pid, uids, unique name, bus address from the environment),
"signal" (every incoming signal with its destination header, seen by a GDBus message filter, args
as text and as serialised blobs), "reply", "auto_response", "registered", "sigterm",
"systemd_call", "systemd_started", "monitor", "agent_error".
"""

import argparse
import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
from gi.repository import GLib, Gio  # noqa: E402

BUS_NAME = 'io.appservice1'
MANAGER_PATH = '/io/appservice1'
MANAGER_IFACE = 'io.appservice1.Manager'
CONNECTION_IFACE = 'io.appservice1.Connection'
SERVICE_IFACE = 'io.appservice1.Service'

POLKIT_NAME = 'org.freedesktop.PolicyKit1'
POLKIT_PATH = '/org/freedesktop/PolicyKit1/Authority'
POLKIT_XML = '''
<node>
  <interface name="org.freedesktop.PolicyKit1.Authority">
    <method name="CheckAuthorization">
      <arg type="(sa{sv})" name="subject" direction="in"/>
      <arg type="s" name="action_id" direction="in"/>
      <arg type="a{ss}" name="details" direction="in"/>
      <arg type="u" name="flags" direction="in"/>
      <arg type="s" name="cancellation_id" direction="in"/>
      <arg type="(bba{ss})" name="result" direction="out"/>
    </method>
  </interface>
</node>
'''

SYSTEMD_NAME = 'org.freedesktop.systemd1'
SYSTEMD_PATH = '/org/freedesktop/systemd1'
SYSTEMD_XML = '''
<node>
  <interface name="org.freedesktop.systemd1.Manager">
    <method name="Subscribe"/>
    <method name="Unsubscribe"/>
    <method name="StartUnit">
      <arg type="s" name="name" direction="in"/>
      <arg type="s" name="mode" direction="in"/>
      <arg type="o" name="job" direction="out"/>
    </method>
    <method name="StopUnit">
      <arg type="s" name="name" direction="in"/>
      <arg type="s" name="mode" direction="in"/>
      <arg type="o" name="job" direction="out"/>
    </method>
    <method name="GetUnit">
      <arg type="s" name="name" direction="in"/>
      <arg type="o" name="unit" direction="out"/>
    </method>
    <method name="LoadUnit">
      <arg type="s" name="name" direction="in"/>
      <arg type="o" name="unit" direction="out"/>
    </method>
    <signal name="JobRemoved">
      <arg type="u" name="id"/>
      <arg type="o" name="job"/>
      <arg type="s" name="unit"/>
      <arg type="s" name="result"/>
    </signal>
    <property name="Version" type="s" access="read"/>
  </interface>
</node>
'''

REMOTE_ERROR = re.compile(r'^GDBus\.Error:([A-Za-z0-9_.\-]+): (.*)$', re.DOTALL)


def split_error(error):
    """(D-Bus error name, message) of a GLib.Error from a failed call."""
    m = REMOTE_ERROR.match(error.message or '')
    if m:
        return m.group(1), m.group(2)
    # A local failure (our own call timeout, a closed connection): no D-Bus error name.
    return 'local.%s.%d' % (GLib.quark_to_string(error.domain) if isinstance(error.domain, int)
                            else error.domain, error.code), error.message


def variant_texts(v):
    if v is None:
        return '()', []
    return v.print_(True), [v.get_child_value(i).print_(True) for i in range(v.n_children())]


def variant_blobs(v):
    """[type, base64 of the GVariant serialisation] of each child: exact, unlike text (GLib's
    text parser cannot read back every value it prints, e.g. int32 -2147483648)."""
    if v is None:
        return []
    out = []
    for i in range(v.n_children()):
        child = v.get_child_value(i)
        out.append([child.get_type_string(),
                    base64.b64encode(child.get_data_as_bytes().get_data()).decode()])
    return out


def from_blob(type_string, data):
    return GLib.Variant.new_from_bytes(GLib.VariantType.new(type_string),
                                       GLib.Bytes.new(base64.b64decode(data)),
                                       False).get_normal_form()


class Channel:
    """One JSON object per line in each direction; writes are thread-safe (the GDBus filter
    reports from GDBus's worker thread, which keeps the bus's order of messages)."""

    def __init__(self, in_fd, out_fd):
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.lock = threading.Lock()
        self.buf = b''

    def send(self, obj):
        if self.out_fd is None:
            return
        data = (json.dumps(obj) + '\n').encode()
        with self.lock:
            try:
                view = memoryview(data)
                while view:
                    n = os.write(self.out_fd, view)
                    view = view[n:]
            except OSError:
                # The test went away; nothing left to report to.
                os._exit(0)

    def read_lines(self):
        """Returns the complete lines available, or None at end of file."""
        try:
            data = os.read(self.in_fd, 65536)
        except BlockingIOError:
            return []
        except OSError:
            data = b''
        if not data:
            return None
        self.buf += data
        *lines, self.buf = self.buf.split(b'\n')
        return [json.loads(line) for line in lines if line.strip()]


class Agent:
    def __init__(self, args, channel):
        self.args = args
        self.channel = channel
        self.loop = GLib.MainLoop()
        self.conn = None
        self.auto = ('ignore', 0, None)
        self.seq = 0
        self.seq_lock = threading.Lock()
        self.monitor_serial = None
        self.monitor_pending = False
        self.monitoring = False
        self.standin_units = {}
        self.standin_jobs = 0
        self.standin_children = []
        self.exit_code = 0
        self.kept_fds = {}  # key -> fd: unix fds received in replies and signals

    # ---- reporting ------------------------------------------------------------------------------

    def emit(self, obj):
        self.channel.send(obj)

    def next_seq(self):
        with self.seq_lock:
            self.seq += 1
            return self.seq

    # ---- bus ------------------------------------------------------------------------------------

    def connect(self, address):
        flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
                 Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
        self.conn = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)
        self.conn.set_exit_on_close(False)
        self.conn.add_filter(self.filter)
        self.conn.connect('closed', self.on_closed)
        if self.args.match:
            # As a client library does for broadcast signals (PropertiesChanged, ...). It does
            # not match unicast signals addressed to other peers (no eavesdrop='true').
            self.conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                'org.freedesktop.DBus', 'AddMatch',
                                GLib.Variant('(s)', ("type='signal',sender='%s'" % BUS_NAME,)),
                                None, Gio.DBusCallFlags.NONE, -1, None)

    def on_closed(self, conn, remote_peer_vanished, error):
        self.emit({'event': 'bus_closed', 'remote_vanished': remote_peer_vanished})
        if not self.monitoring:
            self.quit(0)

    def filter(self, conn, msg, incoming):
        if not incoming:
            return msg
        mtype = msg.get_message_type()
        if self.monitoring:
            self.report_monitored(msg)
            return None  # a monitor must never answer anything
        if mtype == Gio.DBusMessageType.METHOD_RETURN and self.monitor_pending:
            # become_monitor() holds the lock until it knows the serial of its call.
            with self.seq_lock:
                serial = self.monitor_serial
            if msg.get_reply_serial() == serial:
                self.monitor_pending = False
                self.monitoring = True
                return msg
        if mtype == Gio.DBusMessageType.SIGNAL:
            body = msg.get_body()
            text, argv = variant_texts(body)
            seq = self.next_seq()
            fds = msg.get_unix_fd_list()
            ev = {'event': 'signal', 'seq': seq, 'member': msg.get_member(),
                  'interface': msg.get_interface(), 'path': msg.get_path(),
                  'sender': msg.get_sender(), 'destination': msg.get_destination(),
                  'signature': msg.get_signature(), 'args': text, 'argv': argv,
                  'argv_blobs': variant_blobs(body), 'time': time.monotonic()}
            if fds is not None and fds.get_length() > 0:
                ev['fds_key'] = self.keep_fds('signal-%d' % seq, fds)
            self.emit(ev)
            if (self.args.on_stop == 'exit' and msg.get_interface() == SERVICE_IFACE and
                    msg.get_member() == 'StopRequested'):
                GLib.idle_add(self.stop_on_request)
            if (msg.get_interface() == CONNECTION_IFACE and msg.get_member() == 'RequestReceived'
                    and body is not None and body.n_children() == 2):
                request = body.get_child_value(0).get_uint64()
                message = body.get_child_value(1)
                GLib.idle_add(self.auto_respond, msg.get_path(), request, message)
        return msg

    def report_monitored(self, msg):
        text, argv = variant_texts(msg.get_body())
        types = {Gio.DBusMessageType.METHOD_CALL: 'method_call',
                 Gio.DBusMessageType.METHOD_RETURN: 'method_return',
                 Gio.DBusMessageType.ERROR: 'error',
                 Gio.DBusMessageType.SIGNAL: 'signal'}
        self.emit({'event': 'monitor', 'seq': self.next_seq(),
                   'type': types.get(msg.get_message_type(), 'invalid'),
                   'sender': msg.get_sender(), 'destination': msg.get_destination(),
                   'path': msg.get_path(), 'interface': msg.get_interface(),
                   'member': msg.get_member(), 'signature': msg.get_signature(),
                   'error_name': msg.get_error_name(), 'serial': msg.get_serial(),
                   'reply_serial': msg.get_reply_serial(), 'args': text, 'argv': argv})

    # ---- auto answers ---------------------------------------------------------------------------

    def auto_respond(self, path, request, message):
        mode, seconds, value = self.auto
        if mode == 'ignore':
            return False
        if mode == 'echo':
            response = message
        elif mode == 'delay':
            response = message
        elif mode == 'fixed':
            response = from_blob('a{sv}', value)
        else:
            self.emit({'event': 'agent_error', 'text': 'unknown auto mode %r' % mode})
            return False

        retry_ms = [10]

        def send():
            def done(conn, res):
                try:
                    conn.call_finish(res)
                    self.emit({'event': 'auto_response', 'request': request, 'path': path,
                               'ok': True})
                except GLib.Error as e:
                    name, text = split_error(e)
                    if name == 'org.freedesktop.DBus.Error.LimitsExceeded':
                        # The bus refused the call (too many of ours await a reply): the broker
                        # never saw it. Again later, never dropped.
                        GLib.timeout_add(retry_ms[0], send)
                        retry_ms[0] = min(retry_ms[0] * 2, 1000)
                        return
                    self.emit({'event': 'auto_response', 'request': request, 'path': path,
                               'ok': False, 'error': name, 'message': text})
            self.conn.call(BUS_NAME, path, CONNECTION_IFACE, 'SendResponse',
                           GLib.Variant.new_tuple(GLib.Variant('t', request), response),
                           None, Gio.DBusCallFlags.NONE, 60000, None, done)
            return False

        if mode == 'delay':
            GLib.timeout_add(int(seconds * 1000), send)
        else:
            send()
        return False

    # ---- commands -------------------------------------------------------------------------------

    def on_input(self, fd, condition):
        lines = self.channel.read_lines()
        if lines is None:
            # The test closed the channel: it is done with us.
            self.quit(0)
            return False
        for cmd in lines:
            try:
                self.handle(cmd)
            except Exception:
                self.emit({'event': 'agent_error', 'tag': cmd.get('tag'),
                           'text': traceback.format_exc()})
        return True

    def handle(self, cmd):
        what = cmd['cmd']
        tag = cmd.get('tag')
        if what == 'call':
            self.call(tag, cmd['dest'], cmd['path'], cmd['iface'], cmd['member'],
                      cmd.get('sig', '()'), cmd.get('args', '()'), cmd.get('timeout_ms', 60000),
                      cmd.get('fds', 0), cmd.get('args_blob'), cmd.get('interactive', False),
                      cmd.get('no_reply', False), cmd.get('keep_fds', False))
        elif what == 'auto':
            self.auto = (cmd['mode'], cmd.get('seconds', 0), cmd.get('value_blob'))
            self.emit({'event': 'auto_set', 'tag': tag})
        elif what == 'fd_write':
            self.fd_write(tag, cmd['key'], cmd['data'])
        elif what == 'fd_read':
            self.fd_read(tag, cmd['key'], cmd.get('n', 4096), cmd.get('timeout', 5))
        elif what == 'fd_close':
            os.close(self.kept_fds.pop(cmd['key']))
            self.emit({'event': 'fd_closed', 'tag': tag})
        elif what == 'ping':
            self.emit({'event': 'pong', 'tag': tag})
        elif what == 'become_monitor':
            self.become_monitor(tag, cmd.get('rules', []))
        elif what == 'systemd_standin':
            self.systemd_standin(tag, cmd['units'])
        elif what == 'polkit_standin':
            self.polkit_standin(tag, cmd.get('allow_uids', []), cmd.get('hold', False))
        elif what == 'polkit_release':
            self.polkit_release(tag)
        elif what == 'polkit_hold':
            self.polkit_hold = True
            self.emit({'event': 'polkit_holding', 'tag': tag})
        elif what == 'exit':
            self.conn.flush_sync(None)
            self.conn.close_sync(None)
            self.quit(0)
        elif what == 'crash':
            os._exit(1)
        else:
            raise ValueError('unknown command %r' % what)

    # ---- kept fds -------------------------------------------------------------------------------

    def keep_fds(self, key, fd_list):
        """Keeps the first fd of `fd_list` under `key` (a direct link's end is the only fd the
        contract sends) and closes the others."""
        fds = fd_list.steal_fds()
        for fd in fds[1:]:
            os.close(fd)
        self.kept_fds[key] = fds[0]
        return key

    def fd_write(self, tag, key, data):
        try:
            os.write(self.kept_fds[key], base64.b64decode(data))
            self.emit({'event': 'fd_written', 'tag': tag, 'ok': True})
        except OSError as e:
            self.emit({'event': 'fd_written', 'tag': tag, 'ok': False, 'error': str(e)})

    def fd_read(self, tag, key, n, timeout):
        fd = self.kept_fds[key]
        done = [False]

        def ready(_fd, _cond):
            if done[0]:
                return False
            done[0] = True
            try:
                data = os.read(fd, n)
                self.emit({'event': 'fd_data', 'tag': tag, 'data': base64.b64encode(data).decode(),
                           'eof': not data})
            except OSError as e:
                self.emit({'event': 'fd_data', 'tag': tag, 'data': '', 'eof': False,
                           'error': str(e)})
            return False

        def expire():
            if not done[0]:
                done[0] = True
                self.emit({'event': 'fd_data', 'tag': tag, 'data': '', 'eof': False,
                           'error': 'timed out'})
            return False
        GLib.unix_fd_add_full(GLib.PRIORITY_DEFAULT, fd, GLib.IOCondition.IN | GLib.IOCondition.HUP,
                              ready)
        GLib.timeout_add(int(timeout * 1000), expire)

    def call(self, tag, dest, path, iface, member, sig, args, timeout_ms, n_fds, args_blob=None,
             interactive=False, no_reply=False, keep_fds=False):
        if args_blob is not None:
            params = from_blob(sig, args_blob)
        else:
            params = GLib.Variant.parse(GLib.VariantType.new(sig), args, None, None)
        if params.get_type_string() == '()':
            params = None
        start = time.monotonic()

        if no_reply:
            # NO_REPLY_EXPECTED: "replied" as soon as it is sent, with nothing.
            msg = Gio.DBusMessage.new_method_call(dest, path, iface, member)
            msg.set_body(params)
            msg.set_flags(Gio.DBusMessageFlags.NO_REPLY_EXPECTED)
            self.conn.send_message(msg, Gio.DBusSendMessageFlags.NONE)
            self.emit({'event': 'reply', 'tag': tag, 'ok': True, 'value': '()', 'values': [],
                       'blobs': [], 'sig': '()', 'elapsed': time.monotonic() - start})
            return

        def report_ok(value, n_fds=0):
            text, values = variant_texts(value)
            self.emit({'event': 'reply', 'tag': tag, 'ok': True, 'value': text,
                       'values': values, 'blobs': variant_blobs(value),
                       'sig': value.get_type_string() if value else '()',
                       'n_fds': n_fds, 'elapsed': time.monotonic() - start})

        def report_error(e):
            name, text = split_error(e)
            self.emit({'event': 'reply', 'tag': tag, 'ok': False, 'error': name,
                       'message': text, 'elapsed': time.monotonic() - start})

        if n_fds or keep_fds:
            fd_list = Gio.UnixFDList.new()
            for _ in range(n_fds):
                fd = os.open('/dev/null', os.O_RDONLY | os.O_CLOEXEC)
                fd_list.append(fd)
                os.close(fd)

            def done_fds(conn, res):
                try:
                    value, out_fds = conn.call_with_unix_fd_list_finish(res)
                    n = out_fds.get_length() if out_fds is not None else 0
                    if keep_fds and n:
                        self.keep_fds(tag, out_fds)
                    report_ok(value, n)
                except GLib.Error as e:
                    report_error(e)
            self.conn.call_with_unix_fd_list(dest, path, iface, member, params, None,
                                             Gio.DBusCallFlags.NONE, timeout_ms, fd_list, None,
                                             done_fds)
            return

        def done(conn, res):
            try:
                report_ok(conn.call_finish(res))
            except GLib.Error as e:
                report_error(e)
        flags = (Gio.DBusCallFlags.ALLOW_INTERACTIVE_AUTHORIZATION if interactive
                 else Gio.DBusCallFlags.NONE)
        self.conn.call(dest, path, iface, member, params, None, flags, timeout_ms, None, done)

    def become_monitor(self, tag, rules):
        msg = Gio.DBusMessage.new_method_call('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                              'org.freedesktop.DBus.Monitoring', 'BecomeMonitor')
        msg.set_body(GLib.Variant('(asu)', (rules, 0)))

        def done(conn, res):
            try:
                reply = conn.send_message_with_reply_finish(res)
                if reply.get_message_type() == Gio.DBusMessageType.ERROR:
                    self.monitor_pending = False
                    self.emit({'event': 'reply', 'tag': tag, 'ok': False,
                               'error': reply.get_error_name(),
                               'message': variant_texts(reply.get_body())[0]})
                else:
                    self.emit({'event': 'reply', 'tag': tag, 'ok': True, 'value': '()',
                               'values': [], 'sig': '()', 'elapsed': 0})
            except GLib.Error as e:
                name, text = split_error(e)
                self.emit({'event': 'reply', 'tag': tag, 'ok': False, 'error': name,
                           'message': text})
        self.monitor_pending = True
        with self.seq_lock:
            serial = self.conn.send_message_with_reply(msg, Gio.DBusSendMessageFlags.NONE,
                                                          10000, None, done)
            self.monitor_serial = serial

    # ---- the polkit stand-in --------------------------------------------------------------------

    def polkit_standin(self, tag, allow_uids, hold):
        self.polkit_allow = set(allow_uids)
        self.polkit_hold = hold
        self.polkit_held = []
        info = Gio.DBusNodeInfo.new_for_xml(POLKIT_XML)
        self.conn.register_object(POLKIT_PATH, info.interfaces[0], self.polkit_method, None, None)
        reply = self.conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                    'org.freedesktop.DBus', 'RequestName',
                                    GLib.Variant('(su)', (POLKIT_NAME, 4)), None,
                                    Gio.DBusCallFlags.NONE, -1, None)
        code = reply.unpack()[0]
        self.emit({'event': 'reply', 'tag': tag, 'ok': code == 1, 'value': str(code),
                   'error': None if code == 1 else 'RequestName returned %d' % code,
                   'message': ''})

    def polkit_method(self, conn, sender, path, iface, method, params, invocation):
        (kind, details), action, extra, flags, cancellation = params.unpack()
        uid = None
        if kind == 'system-bus-name':
            uid = conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                 'org.freedesktop.DBus', 'GetConnectionUnixUser',
                                 GLib.Variant('(s)', (details['name'],)), None,
                                 Gio.DBusCallFlags.NONE, -1, None).unpack()[0]
        self.emit({'event': 'polkit_call', 'sender': sender, 'kind': kind,
                   'subject': {k: str(v) for k, v in details.items()}, 'action': action,
                   'details': extra, 'flags': flags, 'cancellation': cancellation, 'uid': uid,
                   'auto_start': not (invocation.get_message().get_flags() &
                                      Gio.DBusMessageFlags.NO_AUTO_START)})
        if self.polkit_hold:
            self.polkit_held.append((invocation, uid, flags))  # until polkit_release
            return
        self.polkit_answer(invocation, uid, flags)

    def polkit_answer(self, invocation, uid, flags):
        authorized = uid in self.polkit_allow
        challenge = not authorized and bool(flags & 1)
        invocation.return_value(GLib.Variant('((bba{ss}))', ((authorized, challenge, {}),)))

    def polkit_release(self, tag):
        held, self.polkit_held, self.polkit_hold = self.polkit_held, [], False
        for invocation, uid, flags in held:
            self.polkit_answer(invocation, uid, flags)
        self.emit({'event': 'polkit_released', 'tag': tag, 'count': len(held)})

    # ---- the systemd stand-in -------------------------------------------------------------------

    def systemd_standin(self, tag, units):
        self.standin_units = units
        info = Gio.DBusNodeInfo.new_for_xml(SYSTEMD_XML)
        self.conn.register_object(SYSTEMD_PATH, info.interfaces[0], self.standin_method,
                                  self.standin_get_property, None)
        reply = self.conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                    'org.freedesktop.DBus', 'RequestName',
                                    GLib.Variant('(su)', (SYSTEMD_NAME, 4)), None,
                                    Gio.DBusCallFlags.NONE, -1, None)
        code = reply.unpack()[0]
        self.emit({'event': 'reply', 'tag': tag, 'ok': code == 1, 'value': str(code),
                   'error': None if code == 1 else 'RequestName returned %d' % code,
                   'message': ''})

    def standin_get_property(self, conn, sender, path, iface, prop):
        if prop == 'Version':
            return GLib.Variant('s', '252-appservice-test-stand-in')
        return None

    def standin_method(self, conn, sender, path, iface, method, params, invocation):
        self.emit({'event': 'systemd_call', 'member': method, 'sender': sender,
                   'args': params.print_(True)})
        if method in ('Subscribe', 'Unsubscribe'):
            invocation.return_value(None)
        elif method in ('GetUnit', 'LoadUnit'):
            name = params.unpack()[0]
            label = ''.join(c if c.isalnum() else '_%02x' % ord(c) for c in name)
            invocation.return_value(GLib.Variant('(o)', (SYSTEMD_PATH + '/unit/' + label,)))
        elif method in ('StartUnit', 'StopUnit'):
            name, mode = params.unpack()
            self.standin_jobs += 1
            job_id = self.standin_jobs
            job = '%s/job/%d' % (SYSTEMD_PATH, job_id)
            if method == 'StartUnit' and name not in self.standin_units:
                invocation.return_dbus_error('org.freedesktop.systemd1.NoSuchUnit',
                                             'Unit %s not found.' % name)
                return
            invocation.return_value(GLib.Variant('(o)', (job,)))
            result = 'done'
            if method == 'StartUnit':
                argv = self.standin_units[name]
                env = dict(os.environ)
                env['DBUS_SYSTEM_BUS_ADDRESS'] = self.args.bus_address
                try:
                    child = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                             start_new_session=True)
                    self.standin_children.append(child)
                    self.emit({'event': 'systemd_started', 'unit': name, 'pid': child.pid})
                except OSError as e:
                    result = 'failed'
                    self.emit({'event': 'agent_error', 'text': 'cannot start %s: %s' % (name, e)})

            def job_removed():
                # Broadcast, as systemd does to its subscribers.
                self.conn.emit_signal(None, SYSTEMD_PATH, 'org.freedesktop.systemd1.Manager',
                                      'JobRemoved',
                                      GLib.Variant('(uoss)', (job_id, job, name, result)))
                return False
            GLib.timeout_add(50, job_removed)
        else:
            invocation.return_dbus_error('org.freedesktop.DBus.Error.UnknownMethod',
                                         'stand-in does not implement %s' % method)

    # ---- provider start-up ----------------------------------------------------------------------

    def register_options(self):
        return {'direct-links': GLib.Variant('b', True)} if self.args.register_direct else {}

    def register(self, name):
        def done(conn, res):
            try:
                value = conn.call_finish(res)
                text, values = variant_texts(value)
                self.emit({'event': 'registered', 'ok': True, 'name': name, 'value': text,
                           'values': values})
            except GLib.Error as e:
                err, text = split_error(e)
                self.emit({'event': 'registered', 'ok': False, 'name': name, 'error': err,
                           'message': text})
                if self.channel.out_fd is None:
                    sys.stderr.write('peer.py: RegisterProvider(%s) failed: %s: %s\n' %
                                     (name, err, text))
                    self.quit(3)
        self.conn.call(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'RegisterProvider',
                       GLib.Variant('(sa{sv})', (name, self.register_options())), None,
                       Gio.DBusCallFlags.NONE,
                       60000, None, done)
        return False

    def stop_on_request(self):
        """--on-stop exit: as a well-behaved provider does on StopRequested, unregister, then exit
        0."""
        def done(conn, res):
            try:
                conn.call_finish(res)
            except GLib.Error:
                pass
            self.emit({'event': 'stopping_on_request'})
            self.quit(0)
        if self.args.register:
            self.conn.call(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'UnregisterProvider',
                           GLib.Variant('(s)', (self.args.register,)), None,
                           Gio.DBusCallFlags.NONE, 10000, None, done)
        else:
            self.quit(0)
        return False

    def quit(self, code):
        self.exit_code = code
        self.loop.quit()

    def run(self):
        def on_sigterm():
            # Like a provider that shuts down gracefully: it still reads what is on its way
            # (ServiceClosed) for a moment before it exits.
            self.emit({'event': 'sigterm', 'pid': os.getpid()})
            GLib.timeout_add(int(self.args.sigterm_grace * 1000), lambda: self.quit(0))
            # Stay subscribed: with no source left GLib would restore the default action, and a
            # second SIGTERM (e.g. a parent-death signal) would kill us on the spot.
            return True
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, on_sigterm)
        if self.channel.in_fd is not None:
            GLib.io_add_watch(self.channel.in_fd, GLib.PRIORITY_DEFAULT,
                              GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR,
                              self.on_input)
        self.emit({'event': 'hello', 'pid': os.getpid(), 'ppid': os.getppid(),
                   'uids': list(os.getresuid()), 'gids': list(os.getresgid()),
                   'groups': os.getgroups(), 'unique_name': self.conn.get_unique_name(),
                   'address_env': os.environ.get('DBUS_SYSTEM_BUS_ADDRESS'),
                   'argv': sys.argv})
        if self.args.register:
            if self.args.register_delay:
                GLib.timeout_add(int(self.args.register_delay * 1000), self.register,
                                 self.args.register)
            else:
                self.register(self.args.register)
        self.loop.run()
        for child in self.standin_children:
            if child.poll() is None:
                child.terminate()
        if self.conn and not self.conn.is_closed() and not self.monitoring:
            try:
                self.conn.flush_sync(None)
            except GLib.Error:
                pass
        return self.exit_code


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--address', help='bus address to connect to')
    p.add_argument('--address-from-env', action='store_true',
                   help='connect to $DBUS_SYSTEM_BUS_ADDRESS (as a provider started by the daemon)')
    p.add_argument('--control-socket', help='unix socket of the test to take commands from')
    p.add_argument('--register', metavar='NAME', help='RegisterProvider(NAME) at start')
    p.add_argument('--register-direct', action='store_true',
                   help='register with {"direct-links": <true>}')
    p.add_argument('--register-delay', type=float, default=0, metavar='SECONDS')
    p.add_argument('--auto', default='ignore',
                   help='answer to each RequestReceived: echo, ignore, delay:SECONDS')
    p.add_argument('--exit-before-register', type=int, metavar='CODE',
                   help='exit with CODE right after connecting, never registering')
    p.add_argument('--no-match', dest='match', action='store_false',
                   help="do not add the match rule sender='io.appservice1'")
    p.add_argument('--sigterm-grace', type=float, default=2.0, metavar='SECONDS',
                   help='how long to go on after SIGTERM before exiting')
    p.add_argument('--on-stop', choices=('ignore', 'exit'), default='ignore',
                   help='on io.appservice1.Service.StopRequested: ignore it, or unregister and '
                   'exit 0')
    p.add_argument('rest', nargs='*', help='ignored (reported in hello as argv)')
    args = p.parse_args()

    if args.address_from_env:
        args.bus_address = os.environ.get('DBUS_SYSTEM_BUS_ADDRESS')
        if not args.bus_address:
            sys.stderr.write('peer.py: DBUS_SYSTEM_BUS_ADDRESS is not set\n')
            return 2
    else:
        args.bus_address = args.address
    if not args.bus_address:
        p.error('--address or --address-from-env is required')

    if args.control_socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(args.control_socket)
        fd = sock.detach()
        channel = Channel(fd, fd)
    elif args.address_from_env:
        channel = Channel(None, None)  # started by the daemon with nobody to talk to
    else:
        channel = Channel(0, 1)

    agent = Agent(args, channel)
    agent.connect(args.bus_address)
    if args.exit_before_register is not None:
        agent.emit({'event': 'hello', 'pid': os.getpid(), 'uids': list(os.getresuid()),
                    'gids': list(os.getresgid()), 'groups': os.getgroups(),
                    'unique_name': agent.conn.get_unique_name(),
                    'address_env': os.environ.get('DBUS_SYSTEM_BUS_ADDRESS'), 'argv': sys.argv})
        agent.emit({'event': 'exiting', 'code': args.exit_before_register})
        return args.exit_before_register
    mode = args.auto
    if mode.startswith('delay:'):
        agent.auto = ('delay', float(mode.split(':', 1)[1]), None)
    else:
        agent.auto = (mode, 0, None)
    return agent.run()


if __name__ == '__main__':
    sys.exit(main())
