# SPDX-License-Identifier: LGPL-2.1-or-later
"""Functional tests of the GPIO service io.appservice.gpio (services/gpio/README.md is the
contract), run as root inside the tests/vm guest on real gpio-sim chips:

    tests/vm/run-vm --cache DIR -- sh -c 'cd /work/main && APPSERVICE_BUILD_ROOT=... \\
        PYTHONPATH=tests/integration /usr/bin/python3 -m pytest -p tap_report \\
        -p no:cacheprovider --rootdir tests/vm/gpio tests/vm/gpio'

The broker's own harness does the plumbing: tests/integration/conftest.py is loaded here under
another module name and its fixtures `workdir`, `bus` (a private system-type dbus-daemon with the
project's policy), `services_dir`, `agents` (client processes as any uid, client.py/peer.py) and
`daemon` (appserviced from the build tree) are re-exported. On top of them:

  * once per run (`guest`): systemd-sysusers makes the service's user `appservice-gpio` and group
    `gpio` from the service's sysusers file; test users gpio-alice and gpio-bob (in `gpio`) and
    gpio-eve (not in it) are added; the service's udev rule goes to /etc/udev/rules.d and the
    real systemd-udevd runs, so that /dev/gpiochip* get group gpio, mode 0660, as on a device;
  * `sim`: gpio-sim chips (tests/vm/gpiosim.py), removed after the test;
  * `gpio`: the build tree's definition of io.appservice.gpio with Exec= the built provider,
    User=appservice-gpio and AllowGroups=gpio (and [Properties] a test asks for) in the broker's
    services dir; `gpio.client()` opens it as a member of `gpio`, which makes the broker start
    the provider as appservice-gpio (real Exec= activation).

Everything the guest changes (/etc, /dev, /usr/local) lives in its tmpfs overlay and is gone
after the run.

Environment (defaults in brackets):
  APPSERVICE_SOURCE_ROOT         the source tree [two levels above tests/vm/gpio]
  APPSERVICE_BUILD_ROOT          the build tree [$APPSERVICE_SOURCE_ROOT/build]
  APPSERVICED                    the broker [$APPSERVICE_BUILD_ROOT/daemon/appserviced]
  APPSERVICE_GPIO                the provider [$APPSERVICE_BUILD_ROOT/services/gpio/appservice-gpio]
  APPSERVICE_GPIO_DEFINITION     the definition to start from
                                 [$APPSERVICE_BUILD_ROOT/services/gpio/io.appservice.gpio.appservice]
  APPSERVICE_GPIO_SYSUSERS       the sysusers file
                                 [$APPSERVICE_SOURCE_ROOT/services/gpio/appservice-gpio.sysusers]
  APPSERVICE_GPIO_UDEV_RULES     the udev rule
                                 [$APPSERVICE_SOURCE_ROOT/services/gpio/60-appservice-gpio.rules]
  APPSERVICE_UDEVD               udev's daemon [/lib/systemd/systemd-udevd, or /usr/lib/...]
  APPSERVICE_TEST_TIME_SCALE     multiplies the deadlines (client.py) [1]

The suite skips itself outside such a guest (not root, or no gpio-sim in configfs).
"""

import grp
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = (os.environ.get('APPSERVICE_SOURCE_ROOT') or
               os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
BUILD_ROOT = os.environ.get('APPSERVICE_BUILD_ROOT') or os.path.join(SOURCE_ROOT, 'build')
os.environ.setdefault('APPSERVICE_SOURCE_ROOT', SOURCE_ROOT)
os.environ.setdefault('APPSERVICE_BUILD_ROOT', BUILD_ROOT)
GPIO_BINARY = (os.environ.get('APPSERVICE_GPIO') or
               os.path.join(BUILD_ROOT, 'services', 'gpio', 'appservice-gpio'))
GPIO_DEFINITION = (os.environ.get('APPSERVICE_GPIO_DEFINITION') or
                   os.path.join(BUILD_ROOT, 'services', 'gpio', 'io.appservice.gpio.appservice'))
GPIO_SYSUSERS = (os.environ.get('APPSERVICE_GPIO_SYSUSERS') or
                 os.path.join(SOURCE_ROOT, 'services', 'gpio', 'appservice-gpio.sysusers'))
GPIO_UDEV_RULES = (os.environ.get('APPSERVICE_GPIO_UDEV_RULES') or
                   os.path.join(SOURCE_ROOT, 'services', 'gpio', '60-appservice-gpio.rules'))
UDEVD = os.environ.get('APPSERVICE_UDEVD') or next(
    (p for p in ('/lib/systemd/systemd-udevd', '/usr/lib/systemd/systemd-udevd')
     if os.access(p, os.X_OK)), None)

INTEGRATION_DIR = os.path.join(SOURCE_ROOT, 'tests', 'integration')
VM_DIR = os.path.join(SOURCE_ROOT, 'tests', 'vm')
for _d in (VM_DIR, INTEGRATION_DIR):
    if _d not in sys.path:
        sys.path.insert(0, _d)

from harness import load as load_harness  # noqa: E402

# The broker's harness, under its own name (this file is `conftest` here).
harness = load_harness()
workdir, bus, services_dir, agents, daemon = harness.fixtures()

from client import DEFAULT_WAIT, GLib, valueset  # noqa: E402

import gpiosim  # noqa: E402

SERVICE = 'io.appservice.gpio'
SERVICE_USER = 'appservice-gpio'
GPIO_GROUP = 'gpio'
# Test users: two members of gpio and one outsider.
ALICE, BOB, EVE = 'gpio-alice', 'gpio-bob', 'gpio-eve'

# ---- typed values -------------------------------------------------------------------------------


def u(x):
    return GLib.Variant('u', x)


def t(x):
    return GLib.Variant('t', x)


def i(x):
    return GLib.Variant('i', x)


def au(xs):
    return GLib.Variant('au', list(xs))


def ai(xs):
    return GLib.Variant('ai', list(xs))


def as_(xs):
    return GLib.Variant('as', list(xs))


def av(xs):
    """An av of the given values: ints become u, strings s."""
    return GLib.Variant('av', [x if isinstance(x, GLib.Variant) else
                               GLib.Variant('u' if isinstance(x, int) else 's', x) for x in xs])


def to_variant(value):
    if isinstance(value, GLib.Variant):
        return value
    if isinstance(value, bool):
        return GLib.Variant('b', value)
    if isinstance(value, str):
        return GLib.Variant('s', value)
    raise TypeError('give an explicit GLib.Variant (u(), t(), ai() ...) for %r' % (value,))


class VS(dict):
    """A ValueSet received: {key: Python value}, with .types {key: D-Bus type} and .variant."""

    def __init__(self, variant):
        super().__init__()
        self.variant = variant
        self.types = {}
        for n in range(variant.n_children()):
            entry = variant.get_child_value(n)
            key = entry.get_child_value(0).get_string()
            inner = entry.get_child_value(1).get_variant()
            self.types[key] = inner.get_type_string()
            self[key] = inner.unpack()

    def inner(self, key):
        """The value of `key` as a GLib.Variant."""
        for n in range(self.variant.n_children()):
            entry = self.variant.get_child_value(n)
            if entry.get_child_value(0).get_string() == key:
                return entry.get_child_value(1).get_variant()
        raise KeyError(key)

    def list_of(self, key):
        """An aa{sv} value as a list of VS."""
        v = self.inner(key)
        assert v.get_type_string() == 'aa{sv}', (key, v.get_type_string())
        return [VS(v.get_child_value(n)) for n in range(v.n_children())]

    def check_types(self, expected):
        """Every key of `expected` is there with that D-Bus type."""
        for key, ty in expected.items():
            assert key in self.types, 'no %r in %r' % (key, dict(self))
            assert self.types[key] == ty, '%s is %s, not %s, in %r' % (key, self.types[key], ty,
                                                                      dict(self))


LINE_INFO_TYPES = {'Chip': 's', 'Offset': 'u', 'Name': 's', 'Consumer': 's', 'Used': 'b',
                   'Direction': 's', 'Edge': 's', 'Bias': 's', 'Drive': 's', 'ActiveLow': 'b',
                   'DebounceUs': 't'}
EDGE_EVENT_TYPES = {'Event': 's', 'Request': 'u', 'Chip': 's', 'Line': 'u', 'Name': 's',
                    'Edge': 's', 'TimestampNs': 't', 'GlobalSeqno': 't', 'LineSeqno': 't',
                    'Lost': 't'}
EDGES_EVENT_TYPES = {'Event': 's', 'Request': 'u', 'Chip': 's', 'Lines': 'au', 'Edges': 'as',
                     'TimestampsNs': 'at', 'GlobalSeqnos': 'at', 'LineSeqnos': 'at', 'Lost': 't'}


# ---- a client of the service --------------------------------------------------------------------

class GpioClient:
    """One connection to io.appservice.gpio, held by one agent (peer) process."""

    def __init__(self, peer, path, user):
        self.peer = peer
        self.path = path
        self.user = user
        self.pending = []  # taken from the agent but not yet by the test

    def send(self, message):
        """Sends a ValueSet (GLib.Variant or list of pairs) as it is; returns the client.Call."""
        return self.peer.send_message(self.path, message if isinstance(message, GLib.Variant)
                                      else valueset(message))

    def request(self, action=None, **keys):
        """Sends {Action: action, **keys} (action None: no Action key) and returns the response
        as a VS; fails the test if the D-Bus call itself fails."""
        pairs = [] if action is None else [('Action', to_variant(action))]
        pairs += [(k, to_variant(v)) for k, v in keys.items()]
        return self.send_raw(pairs)

    def send_raw(self, pairs, timeout=None):
        r = self.send(valueset(pairs)).wait(timeout)
        return VS(r.variant(0))

    def ok(self, action, **keys):
        resp = self.request(action, **keys)
        assert resp.get('Status') == 'ok', '%s %r failed: %r' % (action, keys, dict(resp))
        assert resp.types['Status'] == 's'
        return resp

    def error(self, code, action, **keys):
        """Asserts an error response with Error == code (a string, or a tuple of accepted codes)
        and a Message; returns the message."""
        resp = self.request(action, **keys)
        return check_error(resp, code, '%s %r' % (action, keys))

    def line_info(self, line, chip=None):
        keys = {'Line': line if isinstance(line, (str, GLib.Variant)) else u(line)}
        if chip is not None:
            keys['Chip'] = chip
        resp = self.ok('GetLineInfo', **keys)
        resp.check_types(LINE_INFO_TYPES)
        return resp

    def list_chips(self):
        resp = self.ok('ListChips')
        assert resp.types.get('Chips') == 'aa{sv}', dict(resp)
        return resp.list_of('Chips')

    def request_lines(self, chip, lines, **keys):
        """Request on `chip` (None: no Chip key) of offsets (ints) or names (strings)."""
        if isinstance(lines, GLib.Variant):
            v = lines
        elif all(isinstance(x, int) for x in lines):
            v = au(lines)
        elif all(isinstance(x, str) for x in lines):
            v = as_(lines)
        else:
            v = av(lines)
        if chip is not None:
            keys['Chip'] = chip
        resp = self.ok('Request', Lines=v, **keys)
        resp.check_types({'Request': 'u', 'Chip': 's', 'Offsets': 'au', 'Names': 'as'})
        return resp

    def read(self, req):
        resp = self.ok('Read', Request=u(req))
        resp.check_types({'Values': 'ai', 'Offsets': 'au'})
        return list(resp['Values'])

    def close(self):
        self.peer.close(self.path).ok()

    # ---- messages from the service ----

    def wait_message(self, predicate=None, timeout=None):
        """The next request the service sent on this connection (an event), as a VS with
        .request_id (the broker's request id, for a manual response)."""
        def pred(sig):
            return predicate is None or predicate(VS(sig.variant(1)))
        sig = self.peer.wait_signal('RequestReceived', timeout=timeout, path=self.path,
                                    predicate=pred)
        vs = VS(sig.variant(1))
        vs.request_id = sig.arg(0, 't')
        return vs

    def messages(self):
        """Every request received from the service so far and not yet taken, in order."""
        peer = self.peer
        sigs = []
        with peer.cond:
            for n, e in enumerate(peer.events):
                if (n not in peer.consumed and e['event'] == 'signal' and
                        e['member'] == 'RequestReceived' and e['path'] == self.path):
                    peer.consumed.add(n)
                    sigs.append(e)
        out, self.pending = self.pending, []
        for sig in sigs:
            vs = VS(sig.variant(1))
            vs.request_id = sig.arg(0, 't')
            out.append(vs)
        return out

    def take_messages(self, n, timeout=None):
        """The next n requests from the service (fails the test if they do not all come)."""
        timeout = DEFAULT_WAIT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        got = []
        while True:
            got += self.messages()
            if len(got) >= n:
                break
            if time.monotonic() > deadline or self.peer.eof:
                self.peer.fail('%d of %d messages from the service within %.1f s: %r' % (
                    len(got), n, timeout, [dict(m) for m in got[-5:]]))
            time.sleep(0.05)
        # More than asked for: give them back for the next call.
        self.pending = got[n:]
        return got[:n]

    def respond(self, request_id):
        self.peer.respond(self.path, request_id, valueset(Status=GLib.Variant('s', 'ok'))).ok()


def check_error(resp, code, what='the request'):
    codes = code if isinstance(code, tuple) else (code,)
    assert resp.get('Status') == 'error', '%s was expected to fail with %s, got %r' % (
        what, '/'.join(codes), dict(resp))
    resp.check_types({'Status': 's', 'Error': 's', 'Message': 's'})
    assert resp['Error'] in codes, '%s failed with %s (%s), expected %s' % (
        what, resp['Error'], resp['Message'], '/'.join(codes))
    assert resp['Message'].strip(), 'empty Message in %r' % dict(resp)
    return resp['Message']


# ---- the guest ----------------------------------------------------------------------------------

def _run(argv, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError('%s failed (%d):\n%s' % (' '.join(argv), r.returncode, r.stdout))
    return r.stdout


def _world_executable(path):
    """Whether any user may execute `path` (every directory above it searchable by others)."""
    st = os.stat(path)
    if not st.st_mode & stat.S_IXOTH or not st.st_mode & stat.S_IROTH:
        return False
    d = os.path.dirname(os.path.abspath(path))
    while True:
        if not os.stat(d).st_mode & stat.S_IXOTH:
            return False
        if d == '/':
            return True
        d = os.path.dirname(d)


class Guest:
    """What the run set up once: users, groups, udev."""

    def __init__(self):
        self.udevd = None
        self.udev_error = None
        self.binary = GPIO_BINARY

    def setup(self, tmp):
        _run(['systemd-sysusers', GPIO_SYSUSERS])
        self.gpio_gid = grp.getgrnam(GPIO_GROUP).gr_gid
        self.service_uid = pwd.getpwnam(SERVICE_USER).pw_uid
        for user, in_gpio in ((ALICE, True), (BOB, True), (EVE, False)):
            try:
                pwd.getpwnam(user)
            except KeyError:
                _run(['useradd', '--system', '--no-create-home', '--user-group',
                      '--home-dir', '/', '--shell', '/usr/sbin/nologin'] +
                     (['--groups', GPIO_GROUP] if in_gpio else []) + [user])
        self.users = {}
        for user in (ALICE, BOB, EVE):
            pw = pwd.getpwnam(user)
            groups = [g.gr_gid for g in grp.getgrall() if user in g.gr_mem]
            self.users[user] = (pw.pw_uid, pw.pw_gid, groups)

        # The provider runs as appservice-gpio: it must be able to run the binary and load the
        # build tree's library. A clone under /root (mode 0700) would stop it; the guest's root
        # is a throwaway overlay, so the directories above are opened for searching here, in
        # the guest only.
        for path in (GPIO_BINARY, os.path.join(BUILD_ROOT, 'libclient', 'x')):
            d = os.path.dirname(os.path.abspath(path))
            while d != '/':
                mode = os.stat(d).st_mode
                if not mode & stat.S_IXOTH:
                    os.chmod(d, stat.S_IMODE(mode) | stat.S_IXOTH)
                d = os.path.dirname(d)
        if not _world_executable(GPIO_BINARY):
            raise RuntimeError('%s is not executable by other users (mode or a directory above '
                               'it); the provider could not run as %s' % (GPIO_BINARY,
                                                                          SERVICE_USER))

        # udev with the service's rule: /dev/gpiochip* of group gpio, mode 0660.
        os.makedirs('/etc/udev/rules.d', exist_ok=True)
        shutil.copyfile(GPIO_UDEV_RULES, '/etc/udev/rules.d/60-appservice-gpio.rules')
        if UDEVD is None:
            self.udev_error = 'systemd-udevd is not installed (Debian package udev)'
        else:
            self.udev_log = open(os.path.join(tmp, 'udevd.log'), 'wb')
            self.udevd = subprocess.Popen([UDEVD], stdin=subprocess.DEVNULL,
                                          stdout=self.udev_log, stderr=self.udev_log, cwd='/')
            deadline = time.monotonic() + 10 * float(os.environ.get('APPSERVICE_TEST_TIME_SCALE',
                                                                     '1'))
            while not os.path.exists('/run/udev/control'):
                if self.udevd.poll() is not None or time.monotonic() > deadline:
                    self.udev_error = 'systemd-udevd did not start (status %s)' % \
                        self.udevd.poll()
                    break
                time.sleep(0.05)

    def settle(self, path):
        """After a chip appeared: let udev apply the rule. Without udev, does what the rule
        says by hand so that the other tests still run (test_udev_rule fails then)."""
        if self.udevd is not None and self.udevd.poll() is None:
            subprocess.run(['udevadm', 'settle', '--timeout=20'], check=False)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                st = os.stat(path)
                if st.st_gid == self.gpio_gid and stat.S_IMODE(st.st_mode) == 0o660:
                    return
                time.sleep(0.05)
        else:
            os.chown(path, 0, self.gpio_gid)
            os.chmod(path, 0o660)

    def teardown(self):
        if self.udevd is not None and self.udevd.poll() is None:
            self.udevd.terminate()
            try:
                self.udevd.wait(10)
            except subprocess.TimeoutExpired:
                self.udevd.kill()
                self.udevd.wait()


@pytest.fixture(scope='session')
def guest(tmp_path_factory):
    if os.geteuid() != 0 or not os.path.isdir(gpiosim.CONFIGFS):
        pytest.skip('runs as root in the tests/vm guest (gpio-sim in configfs)')
    for path in (GPIO_BINARY, GPIO_DEFINITION, GPIO_SYSUSERS, GPIO_UDEV_RULES):
        if not os.path.exists(path):
            pytest.fail('%s does not exist (build the tree, or set the APPSERVICE_GPIO* '
                        'variables)' % path)
    g = Guest()
    try:
        g.setup(str(tmp_path_factory.mktemp('guest')))
        yield g
    finally:
        g.teardown()


# ---- chips --------------------------------------------------------------------------------------

class Sim:
    def __init__(self, guest):
        self.guest = guest
        self.chips = []

    def chip(self, num_lines=8, names=None, label=None):
        c = gpiosim.Chip(num_lines=num_lines, names=names, label=label)
        self.chips.append(c)
        self.guest.settle(c.path)
        return c

    def remove(self, chip):
        chip.remove()
        subprocess.run(['udevadm', 'settle', '--timeout=20'], check=False)

    def teardown(self):
        for c in reversed(self.chips):
            try:
                c.remove()
            except OSError:
                pass


@pytest.fixture
def sim(guest):
    s = Sim(guest)
    yield s
    s.teardown()


class Chips:
    """The usual pair: A (8 lines) and B (4 lines), made in this order (A has the lower device
    number); both have a line named 'shared'."""

    A_NAMES = {0: 'led0', 1: 'led1', 3: 'button', 5: 'shared'}
    B_NAMES = {0: 'relay', 2: 'shared'}

    def __init__(self, sim):
        self.a = sim.chip(8, self.A_NAMES, 'gpio-test-a')
        self.b = sim.chip(4, self.B_NAMES, 'gpio-test-b')


@pytest.fixture
def chips(sim):
    return Chips(sim)


# ---- the service --------------------------------------------------------------------------------

def definition_text(exec_path, properties=None, user=SERVICE_USER, allow_groups=GPIO_GROUP):
    """The build tree's definition with Exec=, User=, AllowGroups= and RequestTimeoutSec= set,
    SystemdService= dropped (no systemd here) and [Properties] keys replaced or added."""
    with open(GPIO_DEFINITION) as f:
        lines = f.read().splitlines()
    props = dict(properties or {})
    out = []
    section = None
    for line in lines:
        m = re.match(r'^\[(.*)\]\s*$', line)
        if m:
            if section == 'Properties':
                out += ['%s=%s' % kv for kv in props.items()]
                props = {}
            section = m.group(1)
            out.append(line)
            continue
        key = line.split('=', 1)[0].strip() if '=' in line and not line.startswith('#') else None
        if section == 'App Service' and key in ('Exec', 'User', 'AllowGroups', 'SystemdService',
                                                'RequestTimeoutSec'):
            continue
        if section == 'Properties' and key in props:
            out.append('%s=%s' % (key, props.pop(key)))
            continue
        out.append(line)
        if m is None and section == 'App Service' and line.startswith('Name='):
            # RequestTimeoutSec: the clients that never answer must stay unanswered for the whole
            # test, floods included; under emulation on a busy machine those took longer than the
            # default 30 s, and the timed-out events reopened the window the test measures.
            out += ['Exec=%s' % exec_path, 'User=%s' % user, 'AllowGroups=%s' % allow_groups,
                    'RequestTimeoutSec=600']
    if props:
        if section != 'Properties':
            out.append('[Properties]')
        out += ['%s=%s' % kv for kv in props.items()]
    return '\n'.join(out) + '\n'


class Gpio:
    def __init__(self, guest, services_dir, daemon, agents, bus):
        self.guest = guest
        self.services_dir = services_dir
        self.daemon = daemon
        self.agents = agents
        self.bus = bus
        self.n = 0

    def start(self, properties=None):
        """Writes the definition (with these [Properties]) and starts the broker."""
        self.services_dir.write_raw(SERVICE + '.appservice',
                                    definition_text(self.guest.binary, properties))
        self.daemon.start()
        return self

    def spawn(self, user=ALICE, auto='echo'):
        uid, gid, groups = self.guest.users[user]
        self.n += 1
        return self.agents.spawn('%s-%d' % (user, self.n), uid=uid, gid=gid, groups=groups,
                                 auto=auto)

    def client(self, user=ALICE, auto='echo', peer=None):
        """A new agent as `user` (or `peer`, for a second connection of the same process) with
        one open connection to the service."""
        if not self.daemon.running():
            self.start()
        peer = peer or self.spawn(user, auto)
        path = peer.open_ok(SERVICE, timeout=DEFAULT_WAIT * 3)
        return GpioClient(peer, path, user)

    def provider_pid(self):
        m = self.daemon.wait_log(r"app service '%s': started provider '[^']*' as pid (\d+)" %
                                 re.escape(SERVICE))
        return int(m.group(1))

    def wait_for(self, predicate, what, timeout=None):
        return self.bus.wait_for(predicate, timeout=timeout, what=what)


@pytest.fixture
def gpio(guest, sim, services_dir, daemon, agents, bus):
    """The service as the broker starts it; call gpio.start(properties) first for other
    [Properties], else the first gpio.client() starts the broker with the defaults."""
    return Gpio(guest, services_dir, daemon, agents, bus)


def pytest_configure(config):
    config.addinivalue_line('markers', 'removes_chip: takes a chip away while the service '
                            'holds lines on it; run last (guest kernels before 6.9 may be hurt '
                            'by that, which must not take other tests down with them)')


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: item.get_closest_marker('removes_chip') is not None)


# A failing test shows the broker's log, where the provider's output goes too.
pytest_runtest_makereport = harness.pytest_runtest_makereport
