# SPDX-License-Identifier: LGPL-2.1-or-later
"""The node example end to end: the three providers of examples/node started by the real
appserviced (AutoStart=yes) on a private system-type bus, watched with `appservicectl monitor
--json` as an administrator would: the sensor waits for the node to run, then broadcasts readings
with SubmitAction; the logger answers and logs; the flaky service aborts on its reading, the
broker reports the crash as a fault and starts it again (Restart=on-failure).

By hand, as root, from the top of the source tree:

    PYTHONPATH=tests/integration APPSERVICE_BUILD_ROOT=$PWD/build /usr/bin/python3 -m pytest \\
        -p tap_report -p conftest -p no:cacheprovider examples/node/test-node.py
"""

import json
import os
import queue
import shlex
import subprocess
import threading
import time

import pytest

from client import MANAGER_IFACE, MANAGER_PATH, SERVICE_IFACE, TIME_SCALE, service_path
from conftest import BUILD_ROOT
from conftest import agents, bus, daemon, services_dir, workdir  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
CTL = os.environ.get('APPSERVICECTL') or os.path.join(BUILD_ROOT, 'appservicectl', 'appservicectl')
LIBCLIENT_DIR = os.environ.get('APPSERVICE_LIBCLIENT_DIR', os.path.join(BUILD_ROOT, 'libclient'))
PYTHON_PRELOAD = os.environ.get('APPSERVICE_PYTHON_PRELOAD', '')
SENSOR, LOGGER, FLAKY = 'com.example.node.sensor', 'com.example.node.logger', 'com.example.node.flaky'
CRASH_AT = 5     # late enough that the monitor is surely attached by then
DEADLINE = 60 * TIME_SCALE


def provider_exec(script):
    # The broker gives providers a clean environment: the build tree's library goes on the command line.
    env = {'GI_TYPELIB_PATH': LIBCLIENT_DIR, 'LD_LIBRARY_PATH': LIBCLIENT_DIR, 'PYTHONDONTWRITEBYTECODE': '1'}
    if PYTHON_PRELOAD:
        env['LD_PRELOAD'] = PYTHON_PRELOAD
        env['ASAN_OPTIONS'] = 'detect_leaks=0'    # CPython keeps memory to the end on purpose
    argv = ['/usr/bin/env'] + ['%s=%s' % kv for kv in sorted(env.items())]
    return shlex.join(argv + ['/usr/bin/python3', os.path.join(HERE, script)])


class Monitor:
    """`appservicectl --json monitor`, its documents read on a thread."""

    def __init__(self, bus):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        if LIBCLIENT_DIR:
            env['LD_LIBRARY_PATH'] = LIBCLIENT_DIR
        self.proc = subprocess.Popen([CTL, '--json', 'monitor'], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.docs = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.docs.put(json.loads(line))

    def wait(self, predicate, what):
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            try:
                doc = self.docs.get(timeout=0.2)
            except queue.Empty:
                assert self.proc.poll() is None, 'appservicectl monitor exited: %s' % self.proc.stderr.read()
                continue
            self.seen.append(doc)
            if predicate(doc):
                return doc
        pytest.fail('no %s within %d s; seen: %s' % (what, DEADLINE, [d.get('event') for d in self.seen]))

    def stop(self):
        self.proc.terminate()
        return self.proc.wait(timeout=DEADLINE)


def event(kind, service=None, **details):
    def match(doc):
        d = doc.get('details', {})
        return (doc.get('event') == kind and (service is None or d.get('service') == service) and
                all(d.get(k) == v for k, v in details.items()))
    return match


@pytest.fixture
def node(services_dir, daemon, bus):
    if not os.path.exists(os.path.join(LIBCLIENT_DIR, 'AppService-1.0.typelib')):
        pytest.skip('no AppService-1.0.typelib in %s (built without introspection)' % LIBCLIENT_DIR)
    common = dict(Provider='com.example.Node', AutoStart='yes')
    services_dir.write(SENSOR, Exec=provider_exec('node-sensor.py'), **common)
    services_dir.write(LOGGER, Exec=provider_exec('node-logger.py'), **common)
    path = services_dir.write(FLAKY, Exec=provider_exec('node-flaky.py'), Restart='on-failure',
                              RestartSec=1, **common)
    with open(path, 'a') as f:
        f.write('\n[Properties]\ncrash-at=%d\n' % CRASH_AT)
    daemon.start()
    monitor = Monitor(bus)
    monitor.wait(lambda doc: doc.get('type') == 'monitoring', 'start of monitoring')
    yield monitor
    assert monitor.stop() == 0


def test_a_crashing_service_is_reported_and_restarted(node, bus):
    # The sensor waits for "running"; its readings reach the logger as actions from the sensor.
    opened = node.wait(event('connection-opened', LOGGER), 'reading delivered to the logger')
    caller = opened['details']['caller']
    assert caller['action'] == 'reading' and caller['service'] == SENSOR, caller
    assert bus.get_property(MANAGER_PATH, MANAGER_IFACE, 'State') == 'running'
    node.wait(event('fault', LOGGER, level='debug'), "the logger's debug line")

    # Reading CRASH_AT kills the flaky provider; the broker says so, then starts it again.
    exited = node.wait(event('provider-exited', FLAKY), 'the crash of the flaky provider')
    assert exited['details']['signal'] == 'SIGABRT'
    crash = node.wait(event('fault', FLAKY, code='provider-crashed'), 'the crash reported as a fault')
    assert crash['details']['level'] == 'error'
    assert 'SIGABRT' in crash['details']['message']
    node.wait(event('provider-started', FLAKY), 'the restart of the flaky provider')
    node.wait(event('provider-registered', FLAKY), 'the restarted provider registering')
    assert bus.get_property(service_path(FLAKY), SERVICE_IFACE, 'NRestarts') == 1

    # The restarted provider takes readings again, and the others carried on throughout.
    node.wait(event('response', FLAKY), 'a reading answered by the restarted provider')
    kinds = [(d.get('event'), d.get('details', {}).get('service')) for d in node.seen]
    assert ('provider-exited', SENSOR) not in kinds and ('provider-exited', LOGGER) not in kinds
    assert bus.get_property(service_path(FLAKY), SERVICE_IFACE, 'State') == 'active'
