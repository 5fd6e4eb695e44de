# SPDX-License-Identifier: LGPL-2.1-or-later
"""The GPIO examples end to end, against real kernel GPIO chips: gpio-sim chips made with
tests/vm/gpiosim.py, the GPIO service io.appservice.gpio, and the two examples run as they would
be by hand. Every check is on what can be seen from outside: the pin's value as gpio-sim sees it
while the blinker runs, the edges the watcher prints for the pulls the test makes, exit statuses,
and the service's errors on stderr.

It needs root, configfs and the gpio-sim module, so it runs INSIDE the tests/vm guest, and a bus
on which the broker serves io.appservice.gpio (the broker starts the provider when the examples
open it). It does not start them: whoever runs it does, and says where through the environment:

    DBUS_SYSTEM_BUS_ADDRESS   the bus with the broker; unset: the system bus (a guest booted with
                              systemd, the project installed)
    GPIO_BLINKER              the C blinker (default: $APPSERVICE_BUILD_ROOT/examples/gpio/gpio-blinker,
                              APPSERVICE_BUILD_ROOT defaulting to build/ at the top of the tree)
    GPIO_EDGE_WATCHER         the Python watcher (default: gpio-edge-watcher.py beside this file)
    APPSERVICE_LIBCLIENT_DIR  where libappservice-1.so.0 and AppService-1.0.typelib are, for the
                              Python watcher (default: $APPSERVICE_BUILD_ROOT/libclient when it
                              exists; empty: the installed library)
    GPIO_TIME_SCALE           multiplies every timeout (default 1; the guest is emulated, TCG)

For example, in the guest, with a private bus and the broker of a build tree started by a fixture
or by hand (README.md):

    DBUS_SYSTEM_BUS_ADDRESS=unix:path=/tmp/bus APPSERVICE_BUILD_ROOT=$PWD/build \\
        /usr/bin/python3 -m pytest -p no:cacheprovider examples/gpio/test-gpio-examples.py

Tests that cannot run (not root, no gpio-sim, a program not built) are skipped, saying why.
"""

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get('APPSERVICE_SOURCE_ROOT') or os.path.dirname(os.path.dirname(HERE))
BUILD_ROOT = os.environ.get('APPSERVICE_BUILD_ROOT') or os.path.join(SOURCE_ROOT, 'build')
BLINKER = os.environ.get('GPIO_BLINKER') or os.path.join(BUILD_ROOT, 'examples', 'gpio', 'gpio-blinker')
WATCHER = os.environ.get('GPIO_EDGE_WATCHER') or os.path.join(HERE, 'gpio-edge-watcher.py')
LIBCLIENT_DIR = os.environ.get('APPSERVICE_LIBCLIENT_DIR')
if LIBCLIENT_DIR is None and os.path.isdir(os.path.join(BUILD_ROOT, 'libclient')):
    LIBCLIENT_DIR = os.path.join(BUILD_ROOT, 'libclient')
TIME_SCALE = float(os.environ.get('GPIO_TIME_SCALE') or 1)
TIMEOUT = 30 * TIME_SCALE

sys.path.insert(0, os.path.join(SOURCE_ROOT, 'tests', 'vm'))
import gpiosim  # noqa: E402

SERVICE_PATH = '/io/appservice1/service/io_2eappservice_2egpio'
EDGE_LINE = re.compile(r'^edge chip=(\S+) line=(\d+) name=(\S*) edge=(rising|falling) '
                       r'timestamp_ns=(\d+) global_seqno=(\d+) line_seqno=(\d+) lost=(\d+)$')
TOGGLE_LINE = re.compile(r'^gpio-blinker: toggle (\d+): (\S+) line (\d+)(?: "[^"]*")? = ([01])$')


def program_env():
    env = dict(os.environ)
    env.pop('DBUS_SESSION_BUS_ADDRESS', None)
    if LIBCLIENT_DIR:
        for var in ('GI_TYPELIB_PATH', 'LD_LIBRARY_PATH'):
            env[var] = LIBCLIENT_DIR + (':' + env[var] if env.get(var) else '')
    return env


# ---- the programs, their output read as it comes ------------------------------------------------

class Program:
    """A running example: stdout read line by line in a thread, so that the test can wait for a
    line with a deadline and act (check a pin, pull a line) while the program goes on."""

    def __init__(self, argv):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=program_env())
        self.lines = []
        self._queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr = None

    def _read(self):
        for line in self.proc.stdout:
            self._queue.put(line.rstrip('\n'))
        self._queue.put(None)

    def next_line(self, timeout=TIMEOUT):
        """The next line of stdout; None at its end. Fails after `timeout` seconds."""
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            pytest.fail('no output from %s for %d s; so far:\n%s' % (
                os.path.basename(self.argv[0]), timeout, '\n'.join(self.lines)))
        if line is not None:
            self.lines.append(line)
        return line

    def wait_line(self, regex, timeout=TIMEOUT):
        """Reads lines until one matches; returns its match."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.next_line(max(0.1, deadline - time.monotonic()))
            if line is None:
                self.wait()
                pytest.fail('%s ended without printing /%s/:\n%s' % (
                    os.path.basename(self.argv[0]), regex, self.transcript()))
            m = re.search(regex, line)
            if m:
                return m

    def wait(self, timeout=TIMEOUT):
        """Waits for the end; returns the exit status. The rest of stdout goes to .lines."""
        try:
            status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail('%s did not exit within %d s:\n%s' % (
                os.path.basename(self.argv[0]), timeout, self.transcript()))
        self._reader.join(timeout)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        if self.stderr is None:
            self.stderr = self.proc.stderr.read()
        return status

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def transcript(self):
        return 'stdout:\n%s\nstderr:\n%s' % ('\n'.join(self.lines), self.stderr or '')


def blinker(*args):
    return Program([BLINKER] + [str(a) for a in args])


def watcher(*args):
    return Program(['/usr/bin/python3', WATCHER] + [str(a) for a in args])


# ---- fixtures -----------------------------------------------------------------------------------

def gpio_service_call(message):
    """A one-shot call to the service through the broker (Service.SendMessage): the test's own
    look at the service, independent of the examples."""
    gi = pytest.importorskip('gi')
    gi.require_version('Gio', '2.0')
    from gi.repository import Gio, GLib
    bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
    reply = bus.call_sync('io.appservice1', SERVICE_PATH, 'io.appservice1.Service', 'SendMessage',
                          GLib.Variant('(a{sv})', (message,)), GLib.VariantType('(a{sv})'),
                          Gio.DBusCallFlags.NONE, int(TIMEOUT * 1000), None)
    return reply.unpack()[0]


@pytest.fixture(scope='session')
def programs():
    if not os.access(BLINKER, os.X_OK):
        pytest.skip('the blinker is not built: %s (GPIO_BLINKER)' % BLINKER)
    if not os.path.exists(WATCHER):
        pytest.skip('no edge watcher at %s (GPIO_EDGE_WATCHER)' % WATCHER)


@pytest.fixture(scope='session')
def environment(programs):
    if os.geteuid() != 0:
        pytest.skip('needs root (gpio-sim chips are made through configfs)')
    if not os.path.isdir(gpiosim.CONFIGFS):
        pytest.skip('no gpio-sim (%s): run inside the tests/vm guest' % gpiosim.CONFIGFS)


@pytest.fixture
def chip(environment):
    """A gpio-sim chip with named lines (names unique to this run, so that a lookup by name
    across all chips finds this one), once the service has seen it appear."""
    names = {0: 'blink%d' % os.getpid(), 3: 'button%d' % os.getpid()}
    with gpiosim.Chip(num_lines=8, names=names, label='gpio-examples') as c:
        c.line_names = names
        from gi.repository import GLib
        deadline = time.monotonic() + TIMEOUT
        while True:
            answer = gpio_service_call({'Action': GLib.Variant('s', 'ListChips')})
            assert answer.get('Status') == 'ok', answer
            if any(x['Name'] == c.name for x in answer['Chips']):
                break
            if time.monotonic() > deadline:
                pytest.fail('the service did not see %s appear within %d s: %s' % (
                    c.name, TIMEOUT, answer))
            time.sleep(0.05)
        yield c


# ---- the blinker --------------------------------------------------------------------------------

def check_toggles(chip, run, offset, count):
    """Each toggle the blinker prints is on the pin when it is printed: it printed after the
    service's Write answered."""
    m = run.wait_line(r' requested as output \(request \d+\), value 0$')
    assert chip.value(offset) == 0, run.transcript()
    for n in range(1, count + 1):
        m = run.wait_line(TOGGLE_LINE.pattern)
        assert int(m.group(1)) == n
        assert (m.group(2), int(m.group(3))) == (chip.name, offset)
        value = int(m.group(4))
        assert value == n % 2, run.transcript()
        assert chip.value(offset) == value, 'toggle %d printed %d, the pin is %d' % (
            n, value, chip.value(offset))


def test_blinker_toggles_a_line_by_offset(chip):
    run = blinker('--chip', chip.name, 0, '--period-ms', 150, '--count', 6)
    check_toggles(chip, run, 0, 6)
    assert run.wait() == 0, run.transcript()
    assert run.lines[-1] == 'gpio-blinker: released %s line 0 "%s"' % (chip.name,
                                                                          chip.line_names[0])
    assert run.stderr == '', run.transcript()


def test_blinker_toggles_a_line_by_name_and_releases_it(chip):
    """By name, across all chips; after it exits the line is free again: a second blinker may
    request it."""
    run = blinker(chip.line_names[0], '--period-ms', 100, '--count', 3)
    check_toggles(chip, run, 0, 3)
    assert run.wait() == 0, run.transcript()
    again = blinker('--chip', chip.label, 0, '--period-ms', 100, '--count', 1)
    check_toggles(chip, again, 0, 1)
    assert again.wait() == 0, again.transcript()


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_blinker_stops_cleanly_on_a_signal(chip, sig):
    run = blinker('--chip', chip.name, 0, '--period-ms', 100)
    check_toggles(chip, run, 0, 2)
    run.proc.send_signal(sig)
    assert run.wait() == 0, run.transcript()
    assert 'gpio-blinker: stopping' in run.lines, run.transcript()
    assert run.lines[-1].startswith('gpio-blinker: released %s line 0' % chip.name)


def test_blinker_reports_a_busy_line(chip):
    """The line held by another client: the service's Error and Message, exit status 1."""
    holder = blinker('--chip', chip.name, 0, '--period-ms', 100)
    try:
        holder.wait_line(r' requested as output ')
        run = blinker('--chip', chip.name, 0, '--count', 1)
        assert run.wait() == 1, run.transcript()
        assert re.match(r'gpio-blinker: Request failed: line-busy: .*gpio-blinker', run.stderr), \
            run.transcript()
    finally:
        holder.proc.send_signal(signal.SIGTERM)
        assert holder.wait() == 0, holder.transcript()


@pytest.mark.parametrize('args, error', [
    (['no-such-line-anywhere'], 'unknown-line'),
    (['--chip', 'no-such-chip', '0'], 'unknown-chip'),
])
def test_blinker_reports_an_unknown_line_or_chip(chip, args, error):
    run = blinker(*args, '--count', 1)
    assert run.wait() == 1, run.transcript()
    assert run.stderr.startswith('gpio-blinker: Request failed: %s: ' % error), run.transcript()


def test_usage_errors(programs):
    run = blinker('--count', 1)
    assert run.wait() == 2, run.transcript()
    run = watcher('--count', -1, 'line')
    assert run.wait() == 2, run.transcript()


# ---- the edge watcher ---------------------------------------------------------------------------

def pull_and_expect(chip, run, offset, pulls):
    """Makes one edge per pull, waiting for the watcher to print each before the next; returns
    the parsed edges."""
    edges = []
    for pull in pulls:
        chip.pull(offset, pull)
        m = run.wait_line(EDGE_LINE.pattern)
        edges.append(m)
    return edges


def check_edges(chip, offset, name, edges, expected):
    assert [m.group(4) for m in edges] == expected
    for i, m in enumerate(edges):
        assert (m.group(1), int(m.group(2)), m.group(3)) == (chip.name, offset, name)
        assert int(m.group(6)) == i + 1, 'global seqnos not contiguous from 1'
        assert int(m.group(7)) == i + 1, 'line seqnos not contiguous from 1'
        assert int(m.group(8)) == 0, 'events lost'
    stamps = [int(m.group(5)) for m in edges]
    assert stamps == sorted(stamps) and stamps[0] > 0
    # CLOCK_MONOTONIC: the edges happened a moment ago, in this boot.
    assert stamps[-1] <= time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def test_watcher_prints_each_edge(chip):
    offset = 3
    run = watcher('--chip', chip.name, offset, '--bias', 'pull-down', '--count', 4)
    run.wait_line(r'^watching %s line 3 "%s" \(request \d+\): edge both, bias pull-down$' % (
        chip.name, chip.line_names[3]))
    edges = pull_and_expect(chip, run, offset, ['pull-up', 'pull-down', 'pull-up', 'pull-down'])
    check_edges(chip, offset, chip.line_names[3], edges, ['rising', 'falling', 'rising', 'falling'])
    assert run.wait() == 0, run.transcript()
    assert run.lines[-1] == 'released %s line 3 "%s"' % (chip.name, chip.line_names[3])
    assert run.stderr == '', run.transcript()


def test_watcher_by_name_with_pull_up(chip):
    """With Bias=pull-up the line starts high: the first edge is a falling one."""
    run = watcher(chip.line_names[3], '--bias', 'pull-up', '--count', 2)
    run.wait_line(r'^watching %s line 3 ' % chip.name)
    edges = pull_and_expect(chip, run, 3, ['pull-down', 'pull-up'])
    check_edges(chip, 3, chip.line_names[3], edges, ['falling', 'rising'])
    assert run.wait() == 0, run.transcript()


def test_watcher_sees_a_burst_whole(chip):
    """Pulls back to back without waiting: every edge the kernel reports arrives, in order, none
    dropped by the service (its queue is far longer than this burst). Pulls closer together than
    the kernel's edge detection can tell apart make no edge at all (gpio-sim, like a bouncing
    contact), so the count of edges is not the count of pulls; the kernel's sequence numbers say
    whether any edge it saw went missing on the way."""
    n = 20
    run = watcher('--chip', chip.name, 3, '--bias', 'pull-down')
    run.wait_line(r'^watching ')
    for i in range(n):
        chip.pull(3, 'pull-up' if i % 2 == 0 else 'pull-down')
    # Until the edges stop coming: two seconds without a line.
    edges = []
    while True:
        try:
            line = run._queue.get(timeout=2 * TIME_SCALE)
        except queue.Empty:
            break
        if line is None:
            break
        run.lines.append(line)
        m = EDGE_LINE.match(line)
        if m:
            edges.append(m)
    run.proc.send_signal(signal.SIGTERM)
    assert run.wait() == 0, run.transcript()
    assert edges, run.transcript()
    assert [int(m.group(6)) for m in edges] == list(range(1, len(edges) + 1)), run.transcript()
    assert sum(int(m.group(8)) for m in edges) == 0, run.transcript()


def test_watcher_stops_cleanly_on_sigterm(chip):
    run = watcher('--chip', chip.name, 3, '--bias', 'pull-down')
    run.wait_line(r'^watching ')
    pull_and_expect(chip, run, 3, ['pull-up'])
    run.proc.send_signal(signal.SIGTERM)
    assert run.wait() == 0, run.transcript()
    assert run.lines[-2:] == ['stopping', 'released %s line 3 "%s"' % (chip.name,
                                                                       chip.line_names[3])]


def test_watcher_reports_the_chip_going_away(chip):
    """The chip removed under the watcher: the service's `released` event, exit status 1."""
    run = watcher('--chip', chip.name, 3)
    run.wait_line(r'^watching ')
    chip.remove()
    assert run.wait() == 1, run.transcript()
    assert 'the service released the line: chip-removed' in run.stderr, run.transcript()


def test_watcher_reports_a_busy_line(chip):
    holder = watcher('--chip', chip.name, 3)
    try:
        holder.wait_line(r'^watching ')
        run = watcher('--chip', chip.name, 3, '--count', 1)
        assert run.wait() == 1, run.transcript()
        assert 'Request failed: line-busy: ' in run.stderr, run.transcript()
    finally:
        holder.proc.send_signal(signal.SIGINT)
        assert holder.wait() == 0, holder.transcript()
