# SPDX-License-Identifier: LGPL-2.1-or-later
"""The echo example provider from examples/echo, started by the daemon from the build tree's
definition, driven like the contract's shell example (busctl) and by a client agent."""

import os
import subprocess

import pytest

from client import ECHO, GAMES_GID, GAMES_UID, TIME_SCALE, GLib, valueset
from conftest import BUILD_ROOT

DEFINITION_DIR = os.path.join(BUILD_ROOT, 'examples', 'echo')
ECHO_PROVIDER = os.environ.get('APPSERVICE_ECHO_PROVIDER') or os.path.join(DEFINITION_DIR,
                                                                           'echo-provider')


@pytest.fixture
def echo_daemon(daemon):
    if not os.path.exists(os.path.join(DEFINITION_DIR, 'com.example.echo.appservice')) or \
            not os.access(ECHO_PROVIDER, os.X_OK):
        pytest.skip('the echo example is not built in %s' % DEFINITION_DIR)
    daemon.start(services_dirs=[DEFINITION_DIR])
    return daemon


def test_busctl_shell_example(echo_daemon, bus):
    # The contract's "Example from the shell", as an unprivileged user.
    argv = ['setpriv', '--reuid=%d' % GAMES_UID, '--regid=%d' % GAMES_GID, '--clear-groups',
            'busctl', '--address=%s' % bus.address, 'call', 'io.appservice1',
            '/io/appservice1/service/com_2eexample_2eecho', 'io.appservice1.Service',
            'SendMessage', 'a{sv}', '2', 'Action', 's', 'Echo', 'Text', 's', 'hello']
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30 * TIME_SCALE)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'a{sv} 2 "Action" s "Echo" "Text" s "hello"', out.stdout


def test_echo_provider_connection(echo_daemon, agents, bus):
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(ECHO, 'com.example.EchoApp', timeout=30)
    for message in (valueset(Text=GLib.Variant('s', 'hello')),
                    valueset(n=GLib.Variant('x', -5), list=GLib.Variant('aa{sv}', [{}]),
                             null=GLib.Variant('av', [])),
                    valueset()):
        assert client.send_message(path, message).ok() == [message.print_(True)]
    client.close(path).ok()
    assert bus.get_property('/io/appservice1/service/com_2eexample_2eecho',
                            'io.appservice1.Service', 'State') == 'active'
