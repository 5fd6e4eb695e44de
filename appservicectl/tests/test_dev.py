# SPDX-License-Identifier: LGPL-2.1-or-later
"""appservicectl dev, the developer's broker: run as an unprivileged user, it starts a private bus
and the real appserviced (APPSERVICED, the build tree's) on it, serves a directory of
definitions, and the providers it starts (the Hello example, on the client library) register on
it. Another user may not reach that bus; whatever dev started ends with it, even when it is
killed. meson runs it as

    PYTHONPATH=tests/integration:appservicectl/tests APPSERVICECTL=... APPSERVICED=... \\
        /usr/bin/python3 -m pytest -p tap_report -p no:cacheprovider appservicectl/tests/test_dev.py
"""

import os
import signal
import subprocess
import tempfile
import time

import pytest

from client import DEFAULT_WAIT, GAMES_GID, GAMES_UID, MAN_UID
from test_appservicectl import (CTL, EXIT_NO_BROKER, EXIT_USAGE, HELLO, HELLO_PROVIDER, base_env,
                                ctl_argv, expect, run)

APPSERVICED = os.environ.get('APPSERVICED', '')


def reachable_by_anyone(path):
    """Whether every directory above path lets any user through, and path runs for anyone."""
    path = os.path.realpath(path)
    parent = os.path.dirname(path)
    while parent != '/':
        if not os.stat(parent).st_mode & 0o001:
            return False
        parent = os.path.dirname(parent)
    return bool(os.stat(path).st_mode & 0o001)


@pytest.fixture(autouse=True)
def programs():
    for path in (APPSERVICED, HELLO_PROVIDER):
        if not os.access(path, os.X_OK):
            pytest.fail('%s is not built (APPSERVICED, APPSERVICE_HELLO_PROVIDER)' % path)
        if not reachable_by_anyone(path):
            pytest.skip('%s cannot be run by an unprivileged user from where it is built' % path)


@pytest.fixture
def hello_dir():
    """A directory of definitions the user owns, as a developer's project: the Hello example."""
    directory = tempfile.mkdtemp(prefix='appservice-dev-')
    with open(os.path.join(directory, HELLO + '.appservice'), 'w') as f:
        f.write('[App Service]\nName=%s\nProvider=com.example.Hello\nExec=%s\n' % (HELLO, HELLO_PROVIDER))
    for root, dirs, files in os.walk(directory):
        for name in [root] + [os.path.join(root, n) for n in files]:
            os.chown(name, GAMES_UID, GAMES_GID)
    yield directory
    subprocess.run(['rm', '-rf', directory], check=False)


def dev_env():
    env = base_env()
    env['APPSERVICED'] = APPSERVICED
    return env


def dev(args, uid=GAMES_UID, gid=GAMES_GID, env=None, cwd=None, timeout=None):
    """appservicectl dev ARGS as uid, to its end."""
    argv, env = ctl_argv(['dev'] + list(args), uid=uid, gid=gid, env=env or dev_env())
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout or DEFAULT_WAIT * 6)


def inner_ctl():
    """appservicectl as the command dev runs: the same binary (and libraries) as the outer one."""
    return ctl_argv([], uid=GAMES_UID)[0][-1]


def children(pid):
    with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
        return [int(p) for p in f.read().split()]


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(') ')[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


def wait_gone(pids, timeout=DEFAULT_WAIT * 2):
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def test_a_user_develops_a_provider_on_the_library_without_root(hello_dir):
    """The Hello provider finds the broker through APPSERVICE_BUS=session, which the broker
    gives it: without it the library would look for the system bus and never register."""
    result = expect(dev(['--services-dir', hello_dir, '--', inner_ctl(), '--user', 'call', HELLO,
                         'Action=Hello', 'text=there']), 0)
    assert "'Hello, there!'" in result.stdout, result.stdout
    # The broker's log, with what the provider printed, is the developer's to read.
    assert 'appserviced' in result.stderr and 'running on the session bus' in result.stderr


def test_the_current_directory_is_served_by_default(hello_dir):
    result = expect(dev(['--', inner_ctl(), '--user', 'list', '--no-legend'], cwd=hello_dir), 0)
    assert result.stdout.split()[0] == HELLO, result.stdout


def test_its_user_may_administer_the_broker(hello_dir):
    """Reload and restart without polkit: the broker is theirs, as systemd --user is."""
    script = '"$0" --user reload && "$0" --user start %s && "$0" --user restart %s' % (HELLO, HELLO)
    result = expect(dev(['--services-dir', hello_dir, '--', 'sh', '-c', script, inner_ctl()]), 0)
    assert 'NotAuthorized' not in result.stderr



def test_the_commands_exit_status_is_passed_on(hello_dir):
    assert dev(['--services-dir', hello_dir, '--', 'sh', '-c', 'exit 7']).returncode == 7
    # Killed by a signal: 128 and its number, as a shell reports it.
    assert dev(['--services-dir', hello_dir, '--', 'sh', '-c', 'kill -9 $$']).returncode == 128 + 9


def test_without_command_it_prints_the_environment_and_stops_on_sigterm(hello_dir):
    argv, env = ctl_argv(['dev', '--services-dir', hello_dir], uid=GAMES_UID, gid=GAMES_GID, env=dev_env())
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first, second = p.stdout.readline(), p.stdout.readline()
        assert first.startswith('DBUS_SESSION_BUS_ADDRESS=') and first.endswith('; export DBUS_SESSION_BUS_ADDRESS;\n'), first
        assert second == 'APPSERVICE_BUS=session; export APPSERVICE_BUS;\n'
        address = subprocess.run(['sh', '-c', first + 'printf %s "$DBUS_SESSION_BUS_ADDRESS"'],
                                 capture_output=True, text=True, check=True).stdout
        listed = expect(run(['list', '--no-legend'], address=address, uid=GAMES_UID, gid=GAMES_GID), 0)
        assert listed.stdout.split()[0] == HELLO
        # Another user may not even connect: the bus is the session kind, its owner's only.
        other = run(['list'], address=address, uid=MAN_UID)
        assert other.returncode == EXIT_NO_BROKER, other.stdout + other.stderr
        # setpriv execs appservicectl: p.pid is dev itself, its children the bus and the broker.
        started = children(p.pid)
        assert len(started) == 2, started
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=DEFAULT_WAIT * 3) == 0, p.stderr.read()
        assert wait_gone(started) == []
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_killed_it_takes_the_bus_and_the_broker_along(hello_dir):
    argv, env = ctl_argv(['dev', '--services-dir', hello_dir], uid=GAMES_UID, gid=GAMES_GID, env=dev_env())
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert p.stdout.readline().startswith('DBUS_SESSION_BUS_ADDRESS=')
        started = children(p.pid)
        p.kill()
        p.wait()
        assert wait_gone(started) == []
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_a_missing_directory_is_named(hello_dir):
    result = expect(dev(['--services-dir', hello_dir, '--services-dir', '/nonexistent/services']), EXIT_USAGE)
    assert "'/nonexistent/services' is not a directory" in result.stderr
    result = expect(dev(['--services-dir', hello_dir, 'stray']), EXIT_USAGE)
    assert "unexpected argument 'stray'" in result.stderr
    result = expect(dev(['--user', '--services-dir', hello_dir]), EXIT_USAGE)
    assert 'do not apply' in result.stderr


def test_a_broker_that_cannot_serve_is_reported_and_nothing_is_left(hello_dir):
    env = dev_env()
    env['APPSERVICED'] = '/bin/false'
    result = expect(dev(['--services-dir', hello_dir, '--', 'true'], env=env), EXIT_NO_BROKER)
    assert 'appserviced exited before it served' in result.stderr
    env['APPSERVICED'] = '/nonexistent/appserviced'
    result = expect(dev(['--services-dir', hello_dir, '--', 'true'], env=env), EXIT_NO_BROKER)
    assert 'cannot start /nonexistent/appserviced' in result.stderr


def test_a_broken_definition_does_not_stop_the_others(hello_dir):
    with open(os.path.join(hello_dir, 'broken.appservice'), 'w') as f:
        f.write('[App Service]\nName=\n')
    result = expect(dev(['--services-dir', hello_dir, '--', inner_ctl(), '--user', 'list', '--no-legend']), 0)
    assert result.stdout.split()[0] == HELLO
    assert 'broken.appservice' in result.stderr


def test_providers_get_the_developers_environment(hello_dir):
    """A session broker is its user's: the providers it starts see the environment dev was run
    with (a developer's LD_LIBRARY_PATH, GI_TYPELIB_PATH ...), with the bus variables its own,
    and nothing about the service manager or log stream dev itself may have been given."""
    with open(os.path.join(hello_dir, 'com.example.envcheck.appservice'), 'w') as f:
        f.write('[App Service]\nName=com.example.envcheck\nProvider=com.example.EnvCheck\n'
                'ActivationTimeoutSec=2\n'
                "Exec=/bin/sh -c 'echo \"mark=$APPSERVICE_TEST_MARK bus=$APPSERVICE_BUS "
                "notify=$NOTIFY_SOCKET\"; exec sleep 30'\n")
    os.chown(os.path.join(hello_dir, 'com.example.envcheck.appservice'), GAMES_UID, GAMES_GID)
    env = dict(dev_env(), APPSERVICE_TEST_MARK='from-the-developer', NOTIFY_SOCKET='/nonexistent/notify')
    result = dev(['--services-dir', hello_dir, '--', inner_ctl(), '--user', 'call', 'com.example.envcheck',
                  'Text=hi'], env=env)
    assert result.returncode != 0  # it never registers
    assert 'mark=from-the-developer bus=session notify=\n' in result.stderr, result.stderr[-3000:]
