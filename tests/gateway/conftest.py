# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures of the gateway's tests (test_gateway.py): the broker's harness (tests/integration) for
the bus and the broker, and `gateway`: the real appservice-http of the build tree, as root, on a
free loopback port, with a tokens file it is given.

Environment: APPSERVICE_BUILD_ROOT (the build tree), APPSERVICE_HTTP (the program
[$APPSERVICE_BUILD_ROOT/gateway/appservice-http]), APPSERVICE_HTTP_WRAPPER (a command line to run it
under, valgrind in tools/check's stage 3)."""

import http.client
import os
import shlex
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'integration'))

from harness import load as load_harness  # noqa: E402

harness = load_harness()
workdir, bus, services_dir, agents, daemon = harness.fixtures()

from client import DEFAULT_WAIT  # noqa: E402

BUILD_ROOT = harness.BUILD_ROOT
GATEWAY = os.environ.get('APPSERVICE_HTTP') or os.path.join(BUILD_ROOT, 'gateway', 'appservice-http')
WRAPPER = shlex.split(os.environ.get('APPSERVICE_HTTP_WRAPPER', ''))

pytest_runtest_makereport = harness.pytest_runtest_makereport


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Gateway:
    def __init__(self, workdir, bus):
        self.workdir = workdir
        self.bus = bus
        self.proc = None
        self.port = None
        self.log = os.path.join(workdir, 'gateway.log')

    def write_tokens(self, lines, mode=0o600, uid=0):
        path = os.path.join(self.workdir, 'http-tokens')
        with open(path, 'w') as f:
            f.write(''.join(line + '\n' for line in lines))
        os.chmod(path, mode)
        os.chown(path, uid, 0)
        return path

    def start(self, tokens, extra=(), expect_running=True):
        self.port = free_port()
        argv = WRAPPER + [GATEWAY, '--listen', '127.0.0.1:%d' % self.port, '--tokens', tokens] + list(extra)
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)
        self.proc = subprocess.Popen(argv, env=env, stdout=open(self.log, 'w'), stderr=subprocess.STDOUT)
        if not expect_running:
            self.proc.wait(timeout=DEFAULT_WAIT * 4)
            return self.proc.returncode
        deadline = time.monotonic() + DEFAULT_WAIT * 4
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, 'appservice-http exited: %s' % self.log_text()
            # A whole request (answered 401), not a bare connect: a connection closed before any
            # request is one libsoup 3.2 leaks.
            try:
                conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=DEFAULT_WAIT)
                conn.request('GET', '/')
                conn.getresponse().read()
                conn.close()
                return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError('appservice-http does not listen: %s' % self.log_text())

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def url(self, path):
        return 'http://127.0.0.1:%d%s' % (self.port, path)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=DEFAULT_WAIT * 4)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise AssertionError('appservice-http did not stop on SIGTERM')
            assert self.proc.returncode == 0, 'appservice-http exited %d: %s' % (self.proc.returncode, self.log_text())


@pytest.fixture
def gateway(workdir, bus):
    if not os.access(GATEWAY, os.X_OK):
        pytest.skip('appservice-http is not built at %s' % GATEWAY)
    g = Gateway(workdir, bus)
    yield g
    g.stop()
