# SPDX-License-Identifier: LGPL-2.1-or-later
"""io.appservice.gpio over a direct link: a client on the library (lib_client.py, through the
typelib, as an unprivileged member of gpio) gets the link the broker offers, and from then on its
requests and the service's edges go over the socket pair, not through the broker (the monitors
see the connection open and close, and no message of it). The ways a link ends (the client
closes, the client is killed, the service goes) end it for both sides, and a client that never
answers its edges over the link holds the service to the same bounds as through the broker."""

import json
import os
import queue
import signal
import subprocess
import threading
import time

import pytest

from conftest import ALICE, BOB, BUILD_ROOT, au, check_error

from test_batches import assert_flood_does_not_grow
from test_events import toggle

HERE = os.path.dirname(os.path.abspath(__file__))
LIB_CLIENT = os.path.join(HERE, 'lib_client.py')
WAIT = 20 * float(os.environ.get('APPSERVICE_TEST_TIME_SCALE', '1'))
CLOSED_CANCELED = 1  # the other side left the bus (the contract's ServiceClosed)


class LibClient:
    """lib_client.py as `user`: JSON lines both ways, events kept in order."""

    def __init__(self, gpio, user, hold=False):
        uid, gid, groups = gpio.guest.users[user]
        libdir = os.path.join(BUILD_ROOT, 'libclient')
        env = dict(os.environ, GI_TYPELIB_PATH=libdir, LD_LIBRARY_PATH=libdir,
                   DBUS_SYSTEM_BUS_ADDRESS=gpio.bus.address, PYTHONDONTWRITEBYTECODE='1')
        env.pop('APPSERVICE_DIRECT', None)
        env.pop('APPSERVICE_BUS', None)
        argv = ['/usr/bin/python3', LIB_CLIENT, '--as',
                '%d:%d:%s' % (uid, gid, ','.join(str(g) for g in groups))]
        if hold:
            argv.append('--hold')
        self.stderr = open(os.path.join(gpio.bus.workdir, 'lib-client-%s-%d.stderr' % (
            user, id(self))), 'w+b')
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=env, cwd='/')
        self.events = queue.Queue()
        self.kept = []
        self.tags = 0
        threading.Thread(target=self._read, daemon=True).start()
        self.opened = self.next_event(('open', 'open-error'))

    def _read(self):
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put({'event': 'eof'})

    def fail(self, why):
        self.stderr.seek(0)
        raise AssertionError('%s\nlib_client.py stderr:\n%s' % (
            why, self.stderr.read().decode(errors='replace')[-4000:]))

    def next_event(self, kinds, timeout=WAIT):
        """The first event of one of `kinds` (earlier ones of other kinds are kept)."""
        for n, ev in enumerate(self.kept):
            if ev['event'] in kinds:
                return self.kept.pop(n)
        deadline = time.monotonic() + timeout
        while True:
            try:
                ev = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.fail('no %s event within %.0f s (kept: %r)' % ('/'.join(kinds), timeout,
                                                                   self.kept[-5:]))
            if ev['event'] in kinds:
                return ev
            if ev['event'] == 'eof':
                self.fail('lib_client.py ended while waiting for %s' % '/'.join(kinds))
            self.kept.append(ev)

    def command(self, **cmd):
        self.proc.stdin.write((json.dumps(cmd) + '\n').encode())
        self.proc.stdin.flush()

    def request(self, text):
        """Sends the a{sv} in GVariant text and returns the response's message."""
        self.tags += 1
        tag = self.tags
        self.command(cmd='send', tag=tag, message=text)
        ev = self.next_event(('response', 'send-error'))
        if ev['event'] != 'response' or ev['tag'] != tag:
            self.fail('send %d: %r' % (tag, ev))
        return ev['message']

    def ok(self, text):
        resp = self.request(text)
        assert resp.get('Status') == 'ok', '%s failed: %r' % (text, resp)
        return resp

    def service_messages(self, n, timeout=WAIT):
        return [self.next_event(('request',), timeout)['message'] for _ in range(n)]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


@pytest.fixture
def lib_clients(gpio):
    made = []

    def make(user=ALICE, hold=False):
        if not gpio.daemon.running():
            gpio.start()
        c = LibClient(gpio, user, hold)
        made.append(c)
        assert c.opened['event'] == 'open', c.opened
        return c
    yield make
    for c in made:
        c.stop()


def test_edges_reach_a_library_client_over_its_link(gpio, chips, agents, lib_clients):
    gpio.start()
    monitor = agents.spawn('monitor')
    monitor.manager('StartMonitoring', '(a{sv})', '(@a{sv} {},)').ok()
    client = lib_clients()
    assert client.opened['direct'] is True, client.opened
    path = client.opened['path']
    opened = monitor.wait_signal('MonitorEvent', predicate=lambda s: s.arg(0, 's') ==
                                 'connection-opened').arg(1, 'a{sv}')
    assert opened['connection'] == path and opened['direct'] is True

    a = chips.a
    rid = client.ok("{'Action': <'Request'>, 'Chip': <'%s'>, 'Lines': <@au [3]>, "
                    "'Direction': <'input'>, 'Edge': <'both'>}" % a.name)['Request']
    toggle(a, 3, 4, pause=0.02)
    evs = client.service_messages(4)
    assert [e['Event'] for e in evs] == ['edge'] * 4, evs
    assert [e['Edge'] for e in evs] == ['rising', 'falling', 'rising', 'falling']
    assert [e['GlobalSeqno'] for e in evs] == [1, 2, 3, 4]
    assert all(e['Request'] == rid and e['Line'] == 3 and e['Lost'] == 0 for e in evs)
    assert client.ok("{'Action': <'Read'>, 'Request': <@u %d>}" % rid)['Values'] == [0]

    client.command(cmd='close')
    client.next_event(('close-done',))
    monitor.wait_signal('MonitorEvent', predicate=lambda s: s.arg(0, 's') == 'connection-closed'
                        and s.arg(1, 'a{sv}')['connection'] == path)
    # Nothing of the six messages each way went through the broker.
    through_broker = [s.arg(1, 'a{sv}') for s in monitor.signals('MonitorEvent')
                      if s.arg(0, 's') in ('request', 'response')
                      and s.arg(1, 'a{sv}').get('connection') == path]
    assert through_broker == [], through_broker


def test_batched_edges_over_the_link(gpio, chips, lib_clients):
    client = lib_clients()
    assert client.opened['direct'] is True
    b = chips.b
    rid = client.ok("{'Action': <'Request'>, 'Chip': <'%s'>, 'Lines': <@au [2]>, "
                    "'Direction': <'input'>, 'Edge': <'both'>, 'EdgeBatch': <@u 64>}"
                    % b.name)['Request']
    toggle(b, 2, 40, pause=0.001)
    got = []
    while len(got) < 40:
        ev = client.service_messages(1)[0]
        assert ev['Event'] == 'edges', ev
        n = len(ev['Lines'])
        assert all(len(ev[k]) == n for k in ('Edges', 'TimestampsNs', 'GlobalSeqnos',
                                               'LineSeqnos')), ev
        assert ev['Request'] == rid and ev['Lost'] == 0, ev
        got += ev['GlobalSeqnos']
    assert got == list(range(1, 41)), got


def wait_line_free(gpio, chip, offset, what):
    """Requests the line through the broker (as bob) until the service grants it."""
    other = gpio.client(BOB)
    deadline = time.monotonic() + WAIT
    while True:
        resp = other.request('Request', Chip=chip, Lines=au([offset]), Direction='input')
        if resp.get('Status') == 'ok':
            return resp
        check_error(resp, 'Busy')
        assert time.monotonic() < deadline, 'line %d still held %.0f s after %s' % (
            offset, WAIT, what)
        time.sleep(0.1)


@pytest.mark.parametrize('how', ['close', 'kill'])
def test_a_link_that_ends_gives_the_lines_back(gpio, chips, lib_clients, how):
    client = lib_clients()
    assert client.opened['direct'] is True
    a = chips.a
    client.ok("{'Action': <'Request'>, 'Chip': <'%s'>, 'Lines': <@au [5]>, "
              "'Direction': <'output'>, 'Values': <@ai [1]>}" % a.name)
    assert a.value(5) == 1
    if how == 'close':
        client.command(cmd='close')
        client.next_event(('close-done',))
    else:
        client.proc.send_signal(signal.SIGKILL)
        client.proc.wait()
    wait_line_free(gpio, a.name, 5, 'the client\'s %s' % how)


def test_the_service_going_closes_the_link(gpio, chips, lib_clients):
    client = lib_clients()
    assert client.opened['direct'] is True
    os.kill(gpio.provider_pid(), signal.SIGKILL)
    closed = client.next_event(('closed',))
    assert closed['status'] == CLOSED_CANCELED, closed
    # The library failed nothing silently: a send now fails at once.
    client.command(cmd='send', tag=99, message="{'Action': <'ListChips'>}")
    ev = client.next_event(('response', 'send-error'))
    assert ev['event'] == 'send-error', ev


def test_a_client_that_never_answers_over_the_link_is_bounded(gpio, chips, lib_clients):
    """The hostile client of test_batches, on a link: EventWindow events reach it, the service's
    memory does not grow with the flood, and the edges it missed are counted in Lost."""
    window, queue_length = 2, 64
    gpio.start({'EventWindow': str(window), 'EventQueueLength': str(queue_length)})
    hostile = lib_clients(hold=True)
    assert hostile.opened['direct'] is True
    lively = gpio.client(BOB)
    a, b = chips.a, chips.b
    rid = hostile.ok("{'Action': <'Request'>, 'Chip': <'%s'>, 'Lines': <@au [6]>, "
                     "'Direction': <'input'>, 'Edge': <'both'>, 'EdgeBatch': <@u 1024>}"
                     % a.name)['Request']
    assert_flood_does_not_grow(gpio.provider_pid(), a, 6, ' on a link')
    first = hostile.service_messages(window)
    # The service is still there for others, through the broker.
    other = lively.request_lines(b.name, [0], Direction='input', Edge='both')['Request']
    toggle(b, 0, 1, pause=0.02)
    assert lively.take_messages(1)[0]['Request'] == other

    hostile.command(cmd='answer-held')
    hostile.next_event(('answered',))
    rest = hostile.service_messages(1)
    seqnos = [s for ev in first + rest for s in seqnos_of(ev)]
    assert rest[0]['Lost'] > 0, rest[0]
    assert len(seqnos_of(rest[0])) == queue_length
    assert seqnos == sorted(set(seqnos))
    assert all(ev['Request'] == rid for ev in first + rest)


def seqnos_of(ev):
    """The GlobalSeqnos of an `edges` event as lib_client.py reports it (plain JSON)."""
    assert ev['Event'] == 'edges', ev
    return list(ev['GlobalSeqnos'])
