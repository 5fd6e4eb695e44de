# SPDX-License-Identifier: LGPL-2.1-or-later
"""The provider lifecycle: Restart= after crashes, the start limit (StartLimitBurst=,
StartLimitIntervalSec=, RetestSec=), idle stops (IdleTimeoutSec=), the stop sequence
(StopRequested, then SIGTERM, then SIGKILL after StopTimeoutSec=), and Manager.StartService,
StopService and RestartService."""

import os
import re
import shlex
import signal
import time

import pytest

from client import (ECHO, ECHO_PATH, GAMES_GID, GAMES_UID, SERVICE_IFACE, TIME_SCALE, GLib,
                    valueset)
from conftest import within
from test_activation import standin, unit_argv


def state(bus):
    return bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State')


def n_restarts(bus):
    return bus.get_property(ECHO_PATH, SERVICE_IFACE, 'NRestarts')


def pid_gone(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError:
        return True


def admin(peer, member, name=ECHO):
    return peer.manager(member, '(s)', '(%s,)' % GLib.Variant('s', name).print_(False))


def crashed_logged(daemon, what):
    """The broker reports a crash as a fault with the code "provider-crashed"."""
    return daemon.wait_log(r'provider-crashed.*%s' % what)


# ---- Restart= -----------------------------------------------------------------------------------

def test_restart_after_crash_waits_restart_sec(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(ECHO, listener), Restart='on-failure',
                       RestartSec=1)
    daemon.start()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(ECHO)
    first = listener.accept()
    first.wait_registered()
    assert n_restarts(bus) == 0

    first.crash()  # exit status 1, without unregistering
    crashed_at = time.monotonic()
    closed = client.wait_signal('ServiceClosed', path=path)
    assert closed.arg(0, 'u') == 1
    crashed_logged(daemon, 'status 1')

    second = listener.accept(timeout=10 * TIME_SCALE)
    waited = time.monotonic() - crashed_at
    assert waited >= 0.95, 'restarted after %.2f s, before RestartSec=1' % waited
    second.wait_registered()
    assert second.pid != first.pid
    bus.wait_for(lambda: state(bus) == 'active', what='the restarted provider')
    assert n_restarts(bus) == 1
    # The restarted provider serves.
    path = client.open_ok(ECHO)
    second.wait_signal('ConnectionOpened')
    message = valueset(n=GLib.Variant('u', 7))
    assert client.send_message(path, message).ok() == [message.print_(True)]


def test_restart_after_a_signal(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(ECHO, listener), Restart='on-failure',
                       RestartSec=0.2)
    daemon.start()
    agents.spawn('client').open_ok(ECHO)
    first = listener.accept()
    os.kill(first.pid, signal.SIGSEGV)
    crashed_logged(daemon, 'SIGSEGV')
    listener.accept().wait_registered()
    bus.wait_for(lambda: n_restarts(bus) == 1, what='NRestarts 1')


def test_restart_sec_0_restarts_after_every_crash(services_dir, daemon, agents, bus):
    # With RestartSec=0 the broker often reaps the crashed process before the bus tells it that the
    # provider left; the restart must wait for both rather than be lost (issue 10, item 13).
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(ECHO, listener), Restart='on-failure',
                       RestartSec=0, StartLimitIntervalSec=0)
    daemon.start()
    agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID).open_ok(ECHO)
    provider = listener.accept()
    provider.wait_registered()
    for crash in range(1, 11):
        provider.crash()  # exit status 1, without unregistering
        provider = listener.accept()
        provider.wait_registered()
        bus.wait_for(lambda: n_restarts(bus) == crash and state(bus) == 'active',
                     what='restart %d registered and counted' % crash)
    assert listener.count() == 11
    assert n_restarts(bus) == 10
    assert len(re.findall(r'provider failed, restarting it in 0 s', daemon.log_text())) == 10


def test_no_restart_after_clean_exit_with_on_failure(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(ECHO, listener), Restart='on-failure',
                       RestartSec=0.2)
    daemon.start()
    agents.spawn('client').open_ok(ECHO)
    provider = listener.accept()
    provider.exit()  # status 0
    daemon.wait_log(r'provider exited with status 0')
    bus.wait_for(lambda: state(bus) == 'inactive', what='inactive after a clean exit')
    time.sleep(0.8)
    assert listener.count() == 1, 'Restart=on-failure restarted after a clean exit'
    assert n_restarts(bus) == 0
    assert state(bus) == 'inactive'
    assert 'provider-crashed' not in daemon.log_text()


def test_restart_always_after_clean_exit(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(ECHO, listener), Restart='always',
                       RestartSec=0.2)
    daemon.start()
    agents.spawn('client').open_ok(ECHO)
    listener.accept().exit()
    listener.accept().wait_registered()
    bus.wait_for(lambda: n_restarts(bus) == 1, what='NRestarts 1')


def test_crash_without_restart_is_failed(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(ECHO, listener))
    daemon.start()
    client = agents.spawn('client')
    client.open_ok(ECHO)
    listener.accept().crash()
    crashed_logged(daemon, 'status 1')
    bus.wait_for(lambda: state(bus) == 'failed', what='failed after a crash')
    # The next open tries again.
    client.open_ok(ECHO)
    listener.accept().wait_registered()
    assert state(bus) == 'active'


# ---- the start limit ----------------------------------------------------------------------------

def flaky_exec(agents, listener, ok_file):
    """A provider that exits 1 at once unless ok_file exists; then it is peer.py (same pid)."""
    provider = agents.provider_command(ECHO, listener)
    script = 'test -e %s || exit 1; exec %s' % (shlex.quote(ok_file), provider)
    return '/bin/sh -c %s' % shlex.quote(script).replace('\\', '\\\\')


def test_start_limit(services_dir, daemon, agents, bus, workdir):
    listener = agents.listener()
    ok_file = os.path.join(workdir, 'provider-ok')
    services_dir.write(ECHO, Exec=flaky_exec(agents, listener, ok_file), StartLimitBurst=2,
                       StartLimitIntervalSec=60, RetestSec=1.5, ActivationTimeoutSec=20)
    daemon.start()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    for _ in range(2):
        msg = client.open(ECHO).wait(timeout=20).expect_error('AppUnavailable')
        assert 'start limit' not in msg, msg
    daemon.wait_log(r'provider process \d+ exited with status 1')

    # The third start would exceed StartLimitBurst=2: failed at once, nothing started.
    r = client.open(ECHO).wait()
    msg = r.expect_error('AppUnavailable')
    assert 'start limit hit, retrying after' in msg, msg
    assert state(bus) == 'failed'
    limited_at = time.monotonic()
    daemon.wait_log(r'start limit hit')
    r = client.service_send(ECHO, valueset(n=GLib.Variant('u', 1))).wait()
    assert 'start limit hit' in r.expect_error('AppUnavailable')
    assert r.elapsed < 1.0, r.elapsed
    starts = daemon.log_text().count('started provider')
    assert starts == 2, 'the start limit let a start through (%d starts)' % starts

    # After RetestSec= (no AutoStart=, no Restart=): back to inactive, the next open tries.
    open(ok_file, 'w').close()
    bus.wait_for(lambda: state(bus) == 'inactive', timeout=5 * TIME_SCALE,
                 what='inactive after RetestSec')
    assert time.monotonic() - limited_at >= 1.0
    client.open_ok(ECHO, timeout=20)
    listener.accept().wait_registered()
    assert state(bus) == 'active'


def test_start_service_resets_the_start_limit(services_dir, daemon, agents, bus, workdir):
    listener = agents.listener()
    ok_file = os.path.join(workdir, 'provider-ok')
    services_dir.write(ECHO, Exec=flaky_exec(agents, listener, ok_file), StartLimitBurst=1,
                       StartLimitIntervalSec=60, RetestSec=600, ActivationTimeoutSec=20)
    daemon.start()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    client.open(ECHO).wait(timeout=20).expect_error('AppUnavailable')
    assert 'start limit hit' in client.open(ECHO).wait().expect_error('AppUnavailable')
    assert state(bus) == 'failed'

    open(ok_file, 'w').close()
    root = agents.spawn('admin')
    admin(root, 'StartService').ok(timeout=20)
    assert state(bus) == 'active', 'StartService returns once the provider registered'
    listener.accept().wait_registered()
    client.open_ok(ECHO)


def test_start_limit_with_restart_then_trial_start(services_dir, daemon, agents, bus, workdir):
    """Restart=on-failure keeps restarting a provider that fails until the start limit; after
    RetestSec= one trial start is made."""
    listener = agents.listener()
    ok_file = os.path.join(workdir, 'provider-ok')
    services_dir.write(ECHO, Exec=flaky_exec(agents, listener, ok_file), Restart='on-failure',
                       RestartSec=0.1, StartLimitBurst=3, StartLimitIntervalSec=60, RetestSec=1.5)
    daemon.start()
    agents.spawn('client').open(ECHO).wait(timeout=20).expect_error('AppUnavailable')
    daemon.wait_log(r'start limit hit')
    assert state(bus) == 'failed'
    assert daemon.log_text().count('started provider') == 3
    assert n_restarts(bus) == 2
    open(ok_file, 'w').close()
    listener.accept(timeout=10 * TIME_SCALE).wait_registered()
    bus.wait_for(lambda: state(bus) == 'active', what='active after the trial start')


# ---- idle stop ----------------------------------------------------------------------------------

def test_idle_stop(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(ECHO, IdleTimeoutSec=0.5, Exec=agents.provider_command(
        ECHO, listener, extra=['--on-stop', 'exit']))
    daemon.start()
    bystander = agents.spawn('bystander')  # with the match rule sender='io.appservice1'
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(ECHO)
    provider = listener.accept()
    provider.wait_registered()
    time.sleep(0.8)
    assert state(bus) == 'active', 'stopped while a connection was open'
    assert not provider.signals('StopRequested')

    client.close(path).ok()
    closed_at = time.monotonic()
    stop = provider.wait_signal('StopRequested')
    waited = time.monotonic() - closed_at
    assert within(waited, 0.45, 3.0), 'idle stop after %.2f s, IdleTimeoutSec=0.5' % waited
    assert stop['destination'] == provider.unique_name
    assert stop['path'] == ECHO_PATH
    assert stop.arg(0, 'a{sv}') == {'reason': 'idle'}
    provider.wait_gone()
    bus.wait_for(lambda: state(bus) == 'inactive', what='inactive after the idle stop')
    bystander.assert_no_signal('StopRequested')
    client.assert_no_signal('StopRequested')
    assert 'provider-crashed' not in daemon.log_text()
    assert n_restarts(bus) == 0

    # The next open starts it again.
    client.open_ok(ECHO)
    listener.accept().wait_registered()


def test_idle_timer_is_cancelled_by_an_open(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(ECHO, IdleTimeoutSec=1, Exec=agents.provider_command(
        ECHO, listener, extra=['--on-stop', 'exit']))
    daemon.start()
    client = agents.spawn('client')
    client.close(client.open_ok(ECHO)).ok()
    provider = listener.accept()
    time.sleep(0.6)
    path = client.open_ok(ECHO)
    time.sleep(1.0)
    assert state(bus) == 'active'
    assert not provider.signals('StopRequested')
    client.close(path).ok()
    provider.wait_signal('StopRequested')
    provider.wait_gone()


def test_self_registered_provider_is_not_idle_stopped(start_service, agents, bus):
    provider = start_service(Exec='/bin/false', IdleTimeoutSec=0.3)
    client = agents.spawn('client')
    client.close(client.open_ok(ECHO)).ok()
    provider.assert_no_signal('StopRequested', settle=1.0)
    assert state(bus) == 'active'


def test_idle_stop_sigterm_then_sigkill(services_dir, daemon, agents, bus):
    """A provider that ignores StopRequested gets SIGTERM after StopTimeoutSec=; one that also
    ignores SIGTERM gets SIGKILL after StopTimeoutSec= more."""
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(
        ECHO, listener, extra=['--sigterm-grace', '60']), IdleTimeoutSec=0.3, StopTimeoutSec=0.7)
    daemon.start()
    client = agents.spawn('client')
    client.close(client.open_ok(ECHO)).ok()
    provider = listener.accept()
    provider.wait_signal('StopRequested')
    asked_at = time.monotonic()
    provider.wait_event(lambda e: e['event'] == 'sigterm', what='SIGTERM')
    waited = time.monotonic() - asked_at
    assert within(waited, 0.6, 3.0), 'SIGTERM %.2f s after StopRequested' % waited
    assert state(bus) == 'active', 'still registered: the stop is not done'
    provider.wait_gone()
    killed = time.monotonic() - asked_at
    assert within(killed, 1.3, 5.0), 'SIGKILL %.2f s after StopRequested' % killed
    daemon.wait_log(r'killed by signal')
    bus.wait_for(lambda: state(bus) == 'inactive', what='inactive after SIGKILL')
    assert 'provider-crashed' not in daemon.log_text()


def test_open_during_stop_waits_and_restarts(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(
        ECHO, listener, extra=['--sigterm-grace', '0.3']), IdleTimeoutSec=0.3, StopTimeoutSec=0.5)
    daemon.start()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    client.close(client.open_ok(ECHO)).ok()
    first = listener.accept()
    first.wait_signal('StopRequested')
    pending = client.open(ECHO)
    pending.assert_pending(0.1)
    path = pending.wait(timeout=10 * TIME_SCALE).unpack(0, 'o')
    second = listener.accept()
    assert second.pid != first.pid
    assert pid_gone(first.pid)
    assert second.wait_signal('ConnectionOpened').arg(0, 'o') == path


# ---- StartService, StopService, RestartService --------------------------------------------------

def test_start_stop_restart_service(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(
        ECHO, listener, extra=['--on-stop', 'exit', '--register-delay', '0.3']),
        IdleTimeoutSec=0.3)
    daemon.start()
    root = agents.spawn('admin')
    assert state(bus) == 'inactive'

    admin(root, 'StartService').ok()
    assert state(bus) == 'active', 'StartService returned before the registration'
    first = listener.accept()
    # Started by an administrator: not stopped for being idle.
    first.assert_no_signal('StopRequested', settle=0.8)
    admin(root, 'StartService').ok()  # already running: at once
    assert listener.count() == 1

    admin(root, 'RestartService').ok()
    assert state(bus) == 'active'
    assert first.wait_signal('StopRequested').arg(0, 'a{sv}') == {'reason': 'stop'}
    assert pid_gone(first.pid)
    second = listener.accept()
    assert second.pid != first.pid
    assert n_restarts(bus) == 0, 'RestartService is not an automatic restart'

    admin(root, 'StopService').ok()
    assert state(bus) == 'inactive', 'StopService returned before the provider was gone'
    assert second.wait_signal('StopRequested').arg(0, 'a{sv}') == {'reason': 'stop'}
    second.wait_gone(2)
    admin(root, 'StopService').ok()  # nothing runs: at once


def test_admin_methods_refuse(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(ECHO, listener))
    services_dir.write('com.example.static')
    daemon.start()
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    for member in ('StartService', 'StopService', 'RestartService'):
        admin(games, member).error('NotAuthorized')
        admin(games, member, 'com.example.nothing').error('AppServiceUnavailable')
    games.barrier(0.3)
    assert listener.count() == 0
    root = agents.spawn('admin')
    for member in ('StartService', 'StopService', 'RestartService'):
        admin(root, member, 'com.example.nothing').error('AppServiceUnavailable')
    admin(root, 'StartService', 'com.example.static').error('AppUnavailable')
    root.manager('SetServiceEnabled', '(sb)', "('%s', false)" % ECHO).ok()
    admin(root, 'StartService').error('DisabledByPolicy')
    assert listener.count() == 0


def test_stop_service_unregisters_a_provider_it_did_not_start(start_service, agents, bus):
    provider = start_service(StopTimeoutSec=0.5)
    client = agents.spawn('client')
    path = client.open_ok(ECHO)
    root = agents.spawn('admin')
    call = admin(root, 'StopService')
    provider.wait_signal('StopRequested')
    call.assert_pending(0.1)
    call.ok()
    assert client.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 1
    assert state(bus) == 'inactive'
    assert provider.alive(), 'a provider the broker did not start is not killed'


def test_stop_ends_when_the_provider_is_not_the_process_started(services_dir, daemon, agents, bus):
    """The broker started a process that ignores SIGTERM, but another peer registered: after
    SIGTERM and SIGKILL to the process, the registered provider is unregistered too, and the
    stop is answered."""
    services_dir.write(ECHO, Exec="/bin/sh -c 'trap \"\" TERM; while :; do sleep 0.1; done'",
                       StopTimeoutSec=0.3, ActivationTimeoutSec=30)
    daemon.start()
    client = agents.spawn('client')
    opening = client.open(ECHO)
    pid = int(daemon.wait_log(r"app service 'com\.example\.echo': started provider '/bin/sh' as pid (\d+)").group(1))
    provider = agents.spawn('provider', register=ECHO, auto='echo')  # root may register it
    provider.wait_registered()
    path = opening.wait().unpack(0, 'o')

    root = agents.spawn('admin')
    admin(root, 'StopService').ok(timeout=10 * TIME_SCALE)
    daemon.wait_log(r"sending SIGKILL to provider process %d" % pid)
    assert client.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 1
    assert state(bus) == 'inactive'


def test_stop_service_answers_at_shutdown(services_dir, daemon, agents):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(ECHO, listener), StopTimeoutSec=30)
    daemon.start()
    root = agents.spawn('admin')
    admin(root, 'StartService').ok()
    stop = admin(root, 'StopService')
    stop.assert_pending(0.2)
    start = admin(root, 'StartService')  # waits for the stop, then would start
    start.assert_pending(0.1)
    daemon.stop_clean()
    stop.ok()
    start.error('AppUnavailable')


@pytest.mark.systemd_standin
def test_stop_service_with_systemd_service(services_dir, daemon, agents, bus):
    """A provider started through SystemdService= that ignores StopRequested is stopped with
    StopUnit after StopTimeoutSec=, and unregistered after StopTimeoutSec= more if it is still
    there (the stand-in systemd does not kill anything)."""
    listener = agents.listener()
    sd = standin(agents, {'echo-provider.service': unit_argv(listener)})
    services_dir.write(ECHO, SystemdService='echo-provider.service', StopTimeoutSec=0.5,
                       ActivationTimeoutSec=20)
    daemon.start()
    root = agents.spawn('admin')
    admin(root, 'StartService').ok(timeout=30)
    provider = listener.accept()
    client = agents.spawn('client')
    path = client.open_ok(ECHO)

    stop = admin(root, 'StopService')
    provider.wait_signal('StopRequested')
    asked_at = time.monotonic()
    call = sd.wait_event(lambda e: e['event'] == 'systemd_call' and e['member'] == 'StopUnit',
                         None, 'StopUnit')
    assert within(time.monotonic() - asked_at, 0.4, 3.0)
    assert call['args'].startswith("('echo-provider.service', "), call['args']
    assert call['sender'] == daemon.unique_name
    stop.ok()
    assert client.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 1
    assert state(bus) == 'inactive'
