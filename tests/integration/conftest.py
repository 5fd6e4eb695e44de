# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures of the integration tests: a private system-type dbus-daemon per test with the
project's own policy, a directory of definition files, the real appserviced from the build tree,
and peer agents in separate processes (see client.py and peer.py)."""

import os
import re
import shlex
import shutil
import signal as sigmod
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from client import (BUS_NAME, DEFAULT_WAIT, ECHO, TIME_SCALE, AgentManager,  # noqa: E402
                    GLib, Gio)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get('APPSERVICE_SOURCE_ROOT') or os.path.dirname(os.path.dirname(HERE))
BUILD_ROOT = os.environ.get('APPSERVICE_BUILD_ROOT') or os.path.join(SOURCE_ROOT, 'build')
APPSERVICED = os.environ.get('APPSERVICED') or os.path.join(BUILD_ROOT, 'daemon', 'appserviced')
WRAPPER = shlex.split(os.environ.get('APPSERVICED_WRAPPER', ''))
WRAPPER_LINE = re.compile(r'^(==|--|\*\*)\d+(==|--|\*\*)')
POLICY_FILE = os.path.join(SOURCE_ROOT, 'systemd', 'io.appservice1.conf')
SYSTEMD_POLICY_FILE = '/usr/share/dbus-1/system.d/org.freedesktop.systemd1.conf'
DBUS_DAEMON = shutil.which('dbus-daemon') or '/usr/bin/dbus-daemon'
# Which message bus implementation the system-type buses of the tests are: dbus-daemon, or
# dbus-broker (through dbus-broker-bus, with a journald of its own). Session buses are dbus-daemon.
BUS_IMPLEMENTATION = os.environ.get('APPSERVICE_TEST_BUS', 'dbus-daemon')
DBUS_BROKER_BUS = os.path.join(HERE, 'dbus-broker-bus')


def pytest_configure(config):
    config.addinivalue_line('markers', 'polkit_standin: the test bus also carries the policy '
                            'polkit has on a real system bus (root may own '
                            'org.freedesktop.PolicyKit1), for the stand-in polkit peer')
    config.addinivalue_line('markers', 'systemd_standin: the test bus also carries the policy '
                            'systemd has on a real system bus (root may own '
                            'org.freedesktop.systemd1), for the stand-in systemd peer')
    config.addinivalue_line('markers', 'bus_limits(**limits): dbus-daemon <limit> values for the '
                            'test bus, e.g. bus_limits(max_replies_per_connection=16)')


def project_version():
    with open(os.path.join(SOURCE_ROOT, 'meson.build')) as f:
        m = re.search(r"project\([^)]*?version:\s*'([^']+)'", f.read(), re.DOTALL)
    return m.group(1)


# ---- the bus ------------------------------------------------------------------------------------

# The system bus's default policy, shared with the demo and the benchmark.
SYSTEM_BUS_POLICY_FILE = os.path.join(SOURCE_ROOT, 'tests', 'system-bus-policy.conf')

# What systemd's own policy file gives on a real system bus; used when the file is not installed.
FALLBACK_SYSTEMD_POLICY = '''
  <policy user="root">
    <allow own="org.freedesktop.systemd1"/>
    <allow send_destination="org.freedesktop.systemd1"/>
  </policy>
'''


# What polkit's own policy file gives on a real system bus.
POLKIT_POLICY = '''
  <policy user="root">
    <allow own="org.freedesktop.PolicyKit1"/>
  </policy>
  <policy context="default">
    <allow send_destination="org.freedesktop.PolicyKit1"
           send_interface="org.freedesktop.PolicyKit1.Authority"/>
  </policy>
'''


# The default policy of a session bus, as /usr/share/dbus-1/session.conf has it.
SESSION_POLICY = '''
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
'''


class Bus:
    def __init__(self, workdir, systemd_standin=False, bus_type='system', polkit_standin=False,
                 limits=None):
        self.workdir = workdir
        self.bus_type = bus_type
        self.socket_path = os.path.join(workdir, 'system_bus_socket')
        self.config_path = os.path.join(workdir, 'bus.conf')
        self.log_path = os.path.join(workdir, 'dbus-daemon.log')
        parts = ['<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"',
                 ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">',
                 '<busconfig>',
                 '  <type>%s</type>' % bus_type,
                 '  <listen>unix:path=%s</listen>' % self.socket_path,
                 '  <auth>EXTERNAL</auth>',
                 '  <include>%s</include>' % SYSTEM_BUS_POLICY_FILE if bus_type == 'system' else SESSION_POLICY]
        if bus_type == 'session':
            self.policy = 'session default'
        else:
            parts.append('  <include>%s</include>' % POLICY_FILE)
            self.policy = POLICY_FILE
        if systemd_standin:
            # Test-only addition: what a real system bus with systemd installed has, so that the
            # stand-in systemd peer (root) may own org.freedesktop.systemd1 and root may call it.
            if os.path.exists(SYSTEMD_POLICY_FILE):
                parts.append('  <include>%s</include>' % SYSTEMD_POLICY_FILE)
            else:
                parts.append(FALLBACK_SYSTEMD_POLICY)
        if polkit_standin:
            parts.append(POLKIT_POLICY)
        # Test-only: lower limits (e.g. max_replies_per_connection) make their edges quick to reach.
        for name, value in (limits or {}).items():
            parts.append('  <limit name="%s">%d</limit>' % (name, value))
        parts.append('</busconfig>')
        with open(self.config_path, 'w') as f:
            f.write('\n'.join(parts) + '\n')

        self.implementation = BUS_IMPLEMENTATION if bus_type == 'system' else 'dbus-daemon'
        if self.implementation == 'dbus-broker':
            self.address = self._start_dbus_broker()
        else:
            self.address = self._start_dbus_daemon()
        flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
                 Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
        self.conn = Gio.DBusConnection.new_for_address_sync(self.address, flags, None, None)
        self.conn.set_exit_on_close(False)

    def _start_dbus_daemon(self):
        with open(self.log_path, 'wb') as log:
            self.proc = subprocess.Popen([DBUS_DAEMON, '--config-file=' + self.config_path,
                                          '--nofork', '--nopidfile', '--print-address=1'],
                                         stdout=subprocess.PIPE, stderr=log, cwd='/')
        line = self.proc.stdout.readline().decode().strip()
        if not line:
            self.proc.wait(5)
            raise RuntimeError('dbus-daemon did not start (status %s):\n%s' %
                               (self.proc.returncode, self.log_text()))
        return line

    def _start_dbus_broker(self):
        """dbus-broker-launch on the socket, in a mount namespace of its own (dbus-broker-bus);
        its log is the journal in journal/, read by log_text()."""
        self.journal_dir = os.path.join(self.workdir, 'journal')
        os.makedirs(self.journal_dir, exist_ok=True)
        with open(self.log_path, 'wb') as log:
            # A session of its own: kill() reaches the launcher, dbus-broker and journald at once.
            self.proc = subprocess.Popen(['unshare', '--mount', DBUS_BROKER_BUS, self.config_path,
                                          self.socket_path, self.journal_dir],
                                         stdout=log, stderr=log, cwd='/', start_new_session=True)
        address = 'unix:path=' + self.socket_path
        deadline = time.monotonic() + 10
        while True:
            # The socket is there as soon as systemd-socket-activate listens; the bus answers
            # once dbus-broker runs.
            if os.path.exists(self.socket_path) and os.stat(self.socket_path).st_mode & 0o777 == 0o666:
                try:
                    probe = Gio.DBusConnection.new_for_address_sync(
                        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
                        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
                    probe.close_sync(None)
                    return address
                except GLib.Error:
                    pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError('dbus-broker did not start (status %s):\n%s' %
                                   (self.proc.returncode, self.log_text()))
            time.sleep(0.02)

    def log_text(self):
        """What the bus logged: dbus-daemon's stderr, or dbus-broker's journal."""
        with open(self.log_path, errors='replace') as f:
            text = f.read()
        if getattr(self, 'journal_dir', None):
            out = subprocess.run(['journalctl', '--no-pager', '-o', 'short-monotonic', '-D',
                                  self.journal_dir], capture_output=True, text=True)
            text += out.stdout + out.stderr
        return text

    def call(self, dest, path, iface, member, params=None, timeout=None):
        timeout = DEFAULT_WAIT if timeout is None else timeout
        return self.conn.call_sync(dest, path, iface, member, params, None,
                                   Gio.DBusCallFlags.NONE, int(timeout * 1000), None)

    def name_owner(self, name=BUS_NAME):
        try:
            return self.call('org.freedesktop.DBus', '/org/freedesktop/DBus',
                             'org.freedesktop.DBus', 'GetNameOwner',
                             GLib.Variant('(s)', (name,))).unpack()[0]
        except GLib.Error as e:
            if 'NameHasNoOwner' in e.message:
                return None
            raise

    def get_property(self, path, iface, prop):
        return self.call(BUS_NAME, path, 'org.freedesktop.DBus.Properties', 'Get',
                         GLib.Variant('(ss)', (iface, prop))).unpack()[0]

    def get_all(self, path, iface):
        return self.call(BUS_NAME, path, 'org.freedesktop.DBus.Properties', 'GetAll',
                         GLib.Variant('(s)', (iface,))).unpack()[0]

    def introspect(self, path):
        return self.call(BUS_NAME, path, 'org.freedesktop.DBus.Introspectable',
                         'Introspect').unpack()[0]

    def child_nodes(self, path):
        """Names of the child nodes that Introspect lists at `path` (empty when the object does
        not exist)."""
        import xml.etree.ElementTree as ET
        try:
            xml = self.introspect(path)
        except GLib.Error:
            return set()
        return {n.get('name') for n in ET.fromstring(xml).findall('node')}

    def connection_alive(self, path):
        """Whether the daemon still treats `path` as an open connection. The test's own bus
        connection is never an endpoint, so for an open connection the contract's answer to it
        is AccessDenied; a closed or unknown one answers anything else."""
        try:
            self.get_property(path, 'io.appservice1.Connection', 'Name')
        except GLib.Error as e:
            return 'org.freedesktop.DBus.Error.AccessDenied' in e.message
        return False

    def wait_for(self, predicate, timeout=None, what='a condition', interval=0.02):
        """Polls `predicate` until it returns a true value (returned) or the deadline passes."""
        timeout = DEFAULT_WAIT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = predicate()
            if last:
                return last
            if time.monotonic() > deadline:
                raise AssertionError('timed out after %.1f s waiting for %s' % (timeout, what))
            time.sleep(interval)

    def kill(self):
        """The bus dies at once (SIGKILL), as in a crash: every peer loses its connection."""
        if self.implementation == 'dbus-broker':
            os.killpg(self.proc.pid, sigmod.SIGKILL)
        else:
            self.proc.kill()
        self.proc.wait()

    def stop(self):
        try:
            if getattr(self, 'conn', None):
                self.conn.close_sync(None)
        except GLib.Error:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


# ---- definitions --------------------------------------------------------------------------------

class ServicesDir:
    def __init__(self, path):
        self.path = path
        os.makedirs(path, mode=0o755, exist_ok=True)
        os.chmod(path, 0o755)

    def write(self, name, filename=None, properties=None, secrets=None, mode=0o644, uid=0,
              gid=0, extra_text='', **keys):
        """Writes <name>.appservice: [App Service] with Name=name, Provider (default
        com.example.EchoApp; Provider=None leaves it out) and the given keys in order, then
        [Properties] and [Secrets] from dicts. Returns the file's path."""
        keys.setdefault('Provider', 'com.example.EchoApp')
        lines = ['[App Service]', 'Name=%s' % name]
        for k, v in keys.items():
            if v is None:
                continue
            if isinstance(v, bool):
                v = 'true' if v else 'false'
            lines.append('%s=%s' % (k, v))
        if properties is not None:
            lines += ['', '[Properties]'] + ['%s=%s' % kv for kv in properties.items()]
        if secrets is not None:
            lines += ['', '[Secrets]'] + ['%s=%s' % kv for kv in secrets.items()]
        return self.write_raw(filename or '%s.appservice' % name,
                              '\n'.join(lines) + '\n' + extra_text, mode, uid, gid)

    def write_raw(self, filename, content, mode=0o644, uid=0, gid=0):
        path = os.path.join(self.path, filename)
        with open(path, 'w') as f:
            f.write(content)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
        return path


# ---- the daemon ---------------------------------------------------------------------------------

class Daemon:
    def __init__(self, bus, services_dir, workdir, user_bus=False, system_bus=None):
        """`bus` is the bus it serves on; with user_bus it runs with --user on that (session)
        bus, and `system_bus` (if given) is what DBUS_SYSTEM_BUS_ADDRESS points at."""
        self.user_bus = user_bus
        self.system_bus = system_bus
        self.bus = bus
        self.services_dir = services_dir
        self.workdir = workdir
        self.log_path = os.path.join(workdir, 'appserviced.log')
        self.proc = None
        self.returncode = None
        self.exit_checked = True
        self.runs = 0
        self.unique_name = None
        self.argv = None

    def start(self, args=None, log_level='debug', wait=True, services_dirs=None):
        """Starts appserviced on the test bus and (with wait) waits until it owns
        io.appservice1."""
        assert self.proc is None or self.proc.poll() is not None, 'daemon already running'
        if not os.access(APPSERVICED, os.X_OK):
            pytest.fail('appserviced not found at %s (build it, or set APPSERVICED)' % APPSERVICED)
        dirs = services_dirs or [self.services_dir.path]
        argv = WRAPPER + [APPSERVICED, '--user' if self.user_bus else '--system']
        argv += ['--services-dir=%s' % d for d in dirs]
        if log_level:
            argv.append('--log-level=%s' % log_level)
        argv += list(args or [])
        env = dict(os.environ)
        env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        env.pop('DBUS_SYSTEM_BUS_ADDRESS', None)
        if self.user_bus:
            env['DBUS_SESSION_BUS_ADDRESS'] = self.bus.address
            if self.system_bus is not None:
                env['DBUS_SYSTEM_BUS_ADDRESS'] = self.system_bus.address
        else:
            env['DBUS_SYSTEM_BUS_ADDRESS'] = self.bus.address
        self.runs += 1
        with open(self.log_path, 'ab') as log:
            log.write(b'==== run %d: %s\n' % (self.runs, ' '.join(argv).encode()))
            log.flush()
            self.log_offset = log.tell()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=env, cwd='/')
        self.argv = argv
        self.started_at = time.monotonic()
        self.returncode = None
        self.exit_checked = False
        self.signalled = None
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=None):
        timeout = (DEFAULT_WAIT * 2) if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            owner = self.bus.name_owner()
            if owner:
                self.unique_name = owner
                return owner
            if self.proc.poll() is not None:
                self.exit_checked = True
                raise AssertionError('appserviced exited with status %s before owning %s\n%s' %
                                     (self.proc.returncode, BUS_NAME, self.log_tail()))
            if time.monotonic() > deadline:
                raise AssertionError('appserviced did not own %s within %.1f s\n%s' %
                                     (BUS_NAME, timeout, self.log_tail()))
            time.sleep(0.02)

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.signalled = sig
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=None):
        """Waits for the daemon to exit; returns its status (fails the test on the deadline)."""
        timeout = (DEFAULT_WAIT * 2) if timeout is None else timeout
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.exit_checked = True
            raise AssertionError('appserviced did not exit within %.1f s\n%s' %
                                 (timeout, self.log_tail()))
        self.exit_checked = True
        return self.returncode

    def stop(self, sig=sigmod.SIGTERM, timeout=None):
        """Sends `sig` and waits for the exit; returns the status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout)

    def stop_clean(self, sig=sigmod.SIGTERM, timeout=None):
        code = self.stop(sig, timeout)
        assert code == 0, 'appserviced exited with status %s after %s\n%s' % (
            code, sigmod.Signals(sig).name, self.log_tail())

    def restart(self, args=None, **kw):
        self.stop_clean()
        return self.start(args, **kw)

    def log_text(self, this_run=True):
        try:
            with open(self.log_path, 'rb') as f:
                if this_run:
                    f.seek(self.log_offset)
                return f.read().decode(errors='replace')
        except (OSError, AttributeError):
            return ''

    def log_lines(self):
        """This run's log lines, without those of a wrapper (valgrind's '==pid==' lines)."""
        lines = self.log_text().splitlines()
        if WRAPPER:
            lines = [line for line in lines if not WRAPPER_LINE.match(line)]
        return lines

    def log_tail(self, n=150):
        lines = self.log_text(this_run=False).splitlines()
        return '---- appserviced log (last %d lines) ----\n%s' % (n, '\n'.join(lines[-n:]))

    def wait_log(self, regex, timeout=None):
        """Waits until a line of this run's log matches `regex`; returns the match."""
        timeout = DEFAULT_WAIT if timeout is None else timeout
        pattern = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_lines():
                m = pattern.search(line)
                if m:
                    return m
            if time.monotonic() > deadline:
                raise AssertionError('no log line matching %r within %.1f s\n%s' %
                                     (regex, timeout, self.log_tail()))
            time.sleep(0.05)

    def teardown(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sigmod.SIGTERM)
            try:
                code = self.proc.wait(DEFAULT_WAIT * 2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError('teardown: appserviced did not exit within %.1f s of '
                                     'SIGTERM\n%s' % (DEFAULT_WAIT * 2, self.log_tail()))
            assert code == 0, 'teardown: appserviced exited with status %s after SIGTERM\n%s' % (
                code, self.log_tail())
        elif not self.exit_checked:
            if self.signalled is not None:
                assert self.proc.returncode == 0, \
                    'appserviced exited with status %s after %s\n%s' % (
                        self.proc.returncode, sigmod.Signals(self.signalled).name,
                        self.log_tail())
            else:
                raise AssertionError('appserviced exited by itself during the test with status '
                                     '%s\n%s' % (self.proc.returncode, self.log_tail()))


# ---- fixtures -----------------------------------------------------------------------------------

@pytest.fixture
def workdir():
    """A world-traversable scratch directory (providers and clients run as other uids)."""
    path = tempfile.mkdtemp(prefix='appservice-it-')
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def bus(request, workdir):
    if not os.access(DBUS_DAEMON, os.X_OK):
        pytest.skip('dbus-daemon is not installed')
    if os.geteuid() != 0:
        pytest.skip('the integration tests run as root (they switch to other uids with setpriv)')
    if not shutil.which('setpriv'):
        pytest.skip('setpriv (util-linux) is not installed')
    limits = request.node.get_closest_marker('bus_limits')
    b = Bus(workdir, systemd_standin=request.node.get_closest_marker('systemd_standin') is not None,
            polkit_standin=request.node.get_closest_marker('polkit_standin') is not None,
            limits=limits.kwargs if limits else None)
    yield b
    b.stop()


@pytest.fixture
def services_dir(workdir):
    return ServicesDir(os.path.join(workdir, 'services'))


@pytest.fixture
def agents(bus, workdir):
    mgr = AgentManager(bus.address, workdir)
    yield mgr
    mgr.close_all()


@pytest.fixture
def daemon(request, bus, services_dir, workdir, agents):
    """Not started: write the definitions, then call daemon.start(). Torn down before the agents,
    so that shutdown with live peers is exercised; it must exit 0 on SIGTERM."""
    d = Daemon(bus, services_dir, workdir)
    request.node.appserviced = d
    yield d
    d.teardown()


@pytest.fixture
def start_service(services_dir, daemon, agents):
    """start_service(name, auto='echo', provider_uid=None, **keys): writes the definition,
    starts the daemon if it is not running, and returns a provider agent (root unless
    provider_uid) that has registered `name` and answers requests as `auto` says."""
    def start(name=ECHO, auto='echo', provider_uid=None, provider_gid=None, daemon_args=None,
              **keys):
        services_dir.write(name, **keys)
        if not daemon.running():
            daemon.start(daemon_args)
        provider = agents.spawn('provider', uid=provider_uid, gid=provider_gid, register=name,
                                auto=auto)
        provider.wait_registered()
        return provider
    return start


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    d = getattr(item, 'appserviced', None)
    if rep.failed and d is not None and rep.when in ('call', 'setup'):
        rep.sections.append(('appserviced log', d.log_tail()))


def within(elapsed, low, high):
    """A timing check with the suite's tolerance: the upper bound scales with TIME_SCALE."""
    return low <= elapsed <= high * TIME_SCALE
