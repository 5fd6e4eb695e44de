# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon's process: shutdown on signals, --exit-on-idle, broken definition files, logging."""

import os
import re
import signal
import time

import pytest

from client import (ECHO, ECHO_PATH, GAMES_GID, GAMES_UID, MANAGER_IFACE, MANAGER_PATH,
                    SERVICE_IFACE, TIME_SCALE, AgentManager, GLib, valueset)
from conftest import Bus, Daemon


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT], ids=['SIGTERM', 'SIGINT'])
def test_shutdown_on_signal(services_dir, daemon, agents, bus, sig):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(ECHO, listener, auto='ignore'))
    services_dir.write('com.example.other', Provider='com.example.OtherApp')
    daemon.start()
    other_provider = agents.spawn('other-provider', register='com.example.other')
    other_provider.wait_registered()

    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(ECHO)
    provider = listener.accept()
    provider.wait_signal('ConnectionOpened')
    second = client.open_ok(ECHO)
    provider.wait_signal('ConnectionOpened')
    other_path = client.open_ok('com.example.other')
    other_provider.wait_signal('ConnectionOpened')

    to_provider = client.send_message(path, valueset(n=GLib.Variant('u', 1)))
    provider.wait_signal('RequestReceived', path=path)
    to_client = provider.send_message(path, valueset(n=GLib.Variant('u', 2)))
    client.wait_signal('RequestReceived', path=path)
    assert bus.name_owner() == daemon.unique_name

    daemon.signal(sig)

    # Both endpoints of every connection hear ServiceClosed(1); pending requests fail Closed.
    for peer, p in ((client, path), (provider, path), (client, second), (provider, second),
                    (client, other_path), (other_provider, other_path)):
        closed = peer.wait_signal('ServiceClosed', path=p)
        assert closed.arg(0, 'u') == 1, (peer.name, p)
    to_provider.wait().expect_error('Closed')
    to_client.wait().expect_error('Closed')
    # The provider it started gets SIGTERM; the one it did not start does not.
    provider.wait_event(lambda e: e['event'] == 'sigterm', None, 'SIGTERM to the provider')

    code = daemon.wait_exit()
    assert code == 0, 'appserviced exited with %s on %s\n%s' % (code, sig.name, daemon.log_tail())
    assert bus.name_owner() is None
    other_provider.ping()
    assert other_provider.find_event(lambda e: e['event'] == 'sigterm', consume=False) is None
    assert other_provider.alive()


def test_shutdown_when_idle(services_dir, daemon, bus):
    services_dir.write(ECHO)
    daemon.start()
    daemon.stop_clean()
    assert bus.name_owner() is None


def test_restart_serves_again(start_service, daemon, agents, bus):
    provider = start_service(ECHO)
    client = agents.spawn('client')
    client.service_send(ECHO, valueset(n=GLib.Variant('u', 1))).ok()
    daemon.restart()
    # A new daemon knows nothing of the old registration.
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'inactive'
    provider.register(ECHO).ok()
    client.service_send(ECHO, valueset(n=GLib.Variant('u', 2))).ok()


# ---- --exit-on-idle -----------------------------------------------------------------------------

def test_exit_on_idle_from_start(services_dir, daemon):
    services_dir.write(ECHO)
    started = time.monotonic()
    daemon.start(['--exit-on-idle=1'])
    code = daemon.wait_exit(timeout=10 * TIME_SCALE)
    elapsed = time.monotonic() - started
    assert code == 0, daemon.log_tail()
    assert 0.9 <= elapsed <= 3.5 * TIME_SCALE, 'exited %.2f s after start' % elapsed


def test_exit_on_idle_waits_for_the_provider(services_dir, daemon, agents, bus):
    services_dir.write(ECHO)
    # Spawned before the daemon, so that it registers well within the idle time.
    provider = agents.spawn('provider', auto='echo')
    client = agents.spawn('client')
    daemon.start(['--exit-on-idle=2'])
    provider.register(ECHO).ok()
    client.open_ok(ECHO)

    # Idle time has passed twice over, but a provider is registered: still running.
    time.sleep(4)
    assert daemon.running(), 'exited with a registered provider\n%s' % daemon.log_tail()
    assert bus.name_owner() == daemon.unique_name

    provider.unregister(ECHO).ok()
    gone = time.monotonic()
    code = daemon.wait_exit(timeout=10 * TIME_SCALE)
    elapsed = time.monotonic() - gone
    assert code == 0, daemon.log_tail()
    assert 1.8 <= elapsed <= 4.5 * TIME_SCALE, 'exited %.2f s after becoming idle' % elapsed


def test_exit_on_idle_not_during_activation(services_dir, daemon, agents):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(
        ECHO, listener, extra=['--register-delay', '2.5']), ActivationTimeoutSec=20)
    client = agents.spawn('client')
    daemon.start(['--exit-on-idle=1'])
    # The activation takes longer than the idle time; the daemon must wait for it.
    path = client.open_ok(ECHO, timeout=20)
    provider = listener.accept()
    assert daemon.running()
    client.close(path).ok()
    provider.unregister(ECHO).ok()
    assert daemon.wait_exit(timeout=10 * TIME_SCALE) == 0, daemon.log_tail()


# ---- definition files ---------------------------------------------------------------------------

def warnings_about(daemon, filename):
    """Log lines at warning or worse (<0> to <4>) that name the file."""
    return [line for line in daemon.log_lines()
            if re.match(r'^<[0-4]>', line) and filename in line]


def test_broken_definitions_are_skipped(services_dir, daemon, agents):
    services_dir.write(ECHO, Description='the good one')
    services_dir.write_raw('com.example.badvalue.appservice',
                           '[App Service]\n'
                           'Name=com.example.badvalue\n'
                           'Provider=com.example.BadApp\n'
                           'MaxMessageSize=lots\n')
    services_dir.write_raw('com.example.badname.appservice',
                           '# a comment\n'
                           '[App Service]\n'
                           'Name=.starts-with-a-dot\n'
                           'Provider=com.example.BadApp\n')
    services_dir.write_raw('com.example.syntax.appservice',
                           '[App Service]\n'
                           'Name=com.example.syntax\n'
                           'this line is not a key\n')
    services_dir.write_raw('com.example.noprovider.appservice',
                           '[App Service]\n'
                           'Name=com.example.noprovider\n')
    daemon.start()
    client = agents.spawn('client')
    assert [s[0] for s in client.list_services()] == [ECHO]
    agents.spawn('provider', register=ECHO, auto='echo').wait_registered()
    assert client.service_send(ECHO, valueset(n=GLib.Variant('u', 1))).ok()

    def one_line(filename, line=None, key=None):
        lines = warnings_about(daemon, filename)
        assert len(lines) == 1, 'expected one log line about %s, got %r\n%s' % (
            filename, lines, daemon.log_tail())
        if line is not None:
            assert re.search(r'\b%d\b' % line, lines[0]), (line, lines[0])
        if key is not None:
            assert key in lines[0], (key, lines[0])

    one_line('com.example.badvalue.appservice', line=4, key='MaxMessageSize')
    one_line('com.example.badname.appservice', line=3, key='Name')
    one_line('com.example.syntax.appservice', line=3)
    one_line('com.example.noprovider.appservice', key='Provider')
    assert warnings_about(daemon, 'com.example.echo.appservice') == []


# ---- logging ------------------------------------------------------------------------------------

def run_workflow(agents):
    provider = agents.spawn('provider', register=ECHO, auto='echo')
    provider.wait_registered()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(ECHO)
    client.send_message(path, valueset(n=GLib.Variant('u', 1))).ok()
    client.open('com.example.nosuch').wait().expect_error('AppServiceUnavailable')
    client.close(path).ok()
    provider.crash()


@pytest.mark.parametrize('level', ['debug', 'info', 'warning'])
def test_log_lines_carry_priorities(services_dir, daemon, agents, level):
    services_dir.write(ECHO)
    services_dir.write_raw('com.example.broken.appservice', '[App Service]\nName=x\n')
    daemon.start(log_level=level)
    run_workflow(agents)
    daemon.stop_clean()
    lines = [line for line in daemon.log_lines() if line.strip()]
    assert lines, 'the daemon logged nothing (the broken file alone deserves a line)'
    bad = [line for line in lines if not re.match(r'^<[0-7]>', line)]
    assert bad == [], 'log lines without a <N> priority prefix: %r' % bad
    max_level = {'debug': 7, 'info': 6, 'warning': 4}[level]
    levels = [int(line[1]) for line in lines]
    assert max(levels) <= max_level, 'lines above --log-level=%s: %r' % (
        level, [line for line in lines if int(line[1]) > max_level])
    if level == 'debug':
        assert max(levels) >= 6, 'nothing at info or debug with --log-level=debug'
    # The broken file is reported whatever the level (it is a warning or worse).
    assert warnings_about(daemon, 'com.example.broken.appservice')


def test_manager_state_while_running(services_dir, daemon, bus):
    services_dir.write(ECHO)
    daemon.start()
    assert bus.get_property(MANAGER_PATH, MANAGER_IFACE, 'State') == 'running'
    assert os.path.exists('/proc/%d' % daemon.pid)


# ---- --user -------------------------------------------------------------------------------------

def test_user_bus(services_dir, bus, workdir):
    """--user: the same API on the session bus, and nothing on the system bus."""
    session_dir = os.path.join(workdir, 'session')
    os.mkdir(session_dir, 0o755)
    session = Bus(session_dir, bus_type='session')
    agents = AgentManager(session.address, session_dir)
    daemon = Daemon(session, services_dir, session_dir, user_bus=True, system_bus=bus)
    try:
        services_dir.write(ECHO)
        daemon.start()
        assert bus.name_owner() is None, 'appserviced --user took the name on the system bus'
        assert session.get_property(MANAGER_PATH, MANAGER_IFACE, 'State') == 'running'
        provider = agents.spawn('provider', register=ECHO, auto='echo')
        provider.wait_registered()
        client = agents.spawn('client')
        message = valueset(Text=GLib.Variant('s', 'session'))
        assert client.service_send(ECHO, message).ok() == [message.print_(True)]
        daemon.stop_clean()
        assert session.name_owner() is None
    finally:
        try:
            daemon.teardown()
        finally:
            agents.close_all()
            session.stop()


def broker_output_on(terminal, env):
    """What appserviced writes when it cannot reach its bus, on the given stderr."""
    import subprocess
    from conftest import APPSERVICED
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS='unix:path=/nonexistent/bus', **env)
    proc = subprocess.run([APPSERVICED, '--system', '--services-dir=/nonexistent'],
                          stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, env=env,
                          timeout=30)
    assert proc.returncode != 0
    return proc


@pytest.mark.parametrize('journal', [False, True], ids=['terminal', 'journal-on-a-terminal'])
def test_log_for_a_person_on_a_terminal(journal):
    """On a terminal the levels are words ("error: ..."), as systemd's tools write them; the
    sd-daemon "<3>" prefixes are for the journal ($JOURNAL_STREAM naming stderr, which wins)
    and for pipes and files (the other tests read them there)."""
    import pty
    main, side = pty.openpty()
    try:
        st = os.fstat(side)
        broker_output_on(side, {'JOURNAL_STREAM': '%d:%d' % (st.st_dev, st.st_ino) if journal else ''})
        os.close(side)
        side = -1
        out = b''
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(main)
        if side >= 0:
            os.close(side)
    lines = out.decode(errors='replace').splitlines()
    assert lines, 'nothing written'
    if journal:
        assert all(re.match(r'^<[0-7]>', line) for line in lines), lines
    else:
        assert not any(re.match(r'^<[0-7]>', line) for line in lines), lines
        assert any(line.startswith('error: ') for line in lines), lines
