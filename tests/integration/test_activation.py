# SPDX-License-Identifier: LGPL-2.1-or-later
"""Activation: the daemon starts providers through Exec= (as User=) or asks systemd to start
SystemdService=, and opens wait for the registration up to ActivationTimeoutSec."""

import os
import re

import pytest

from client import (ECHO, ECHO_PATH, GAMES_GID, GAMES_UID, LP_GID, LP_UID, MAN_GID, MAN_UID,
                    PEER_PY, PYTHON, SERVICE_IFACE, GLib, proc_status, valueset)
from conftest import within


def proc_environ(pid):
    with open('/proc/%d/environ' % pid, 'rb') as f:
        return dict(item.decode().split('=', 1) for item in f.read().split(b'\0') if b'=' in item)


@pytest.mark.parametrize('user', ['lp', str(LP_UID)])
def test_exec_activation_as_user(services_dir, daemon, agents, bus, user):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(ECHO, listener), User=user)
    daemon.start()
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Activatable') is True
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(ECHO)

    provider = listener.accept()
    status = proc_status(provider.pid)
    assert status['Uid'] == [str(LP_UID)] * 4, status['Uid']
    assert status['Gid'] == [str(LP_GID)] * 4, status['Gid']
    assert '0' not in status.get('Groups', []), status.get('Groups')
    assert status['CapEff'] == ['0000000000000000'], status['CapEff']
    env = proc_environ(provider.pid)
    assert env.get('DBUS_SYSTEM_BUS_ADDRESS') == bus.address
    assert provider.hello['address_env'] == bus.address

    # That process is the registered provider.
    opened = provider.wait_signal('ConnectionOpened')
    assert opened.arg(0, 'o') == path
    message = valueset(Text=GLib.Variant('s', 'activated'))
    assert client.send_message(path, message).ok() == [message.print_(True)]


def test_exec_activation_without_user_runs_as_the_daemon(services_dir, daemon, agents):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(ECHO, listener))
    daemon.start()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    client.open_ok(ECHO)
    provider = listener.accept()
    assert proc_status(provider.pid)['Uid'] == ['0'] * 4
    assert proc_environ(provider.pid).get('DBUS_SYSTEM_BUS_ADDRESS') == daemon.bus.address


def test_exec_words_are_split_without_a_shell(services_dir, daemon, agents, workdir):
    listener = agents.listener()
    # Quotes group words, no shell runs: '$HOME' and ';' reach the provider as they are. In the
    # key file, '\\' is one backslash, which escapes the blank for the word splitting.
    command = agents.provider_command(ECHO, listener) + " -- 'two words' \"$HOME;\" a\\\\ b"
    services_dir.write(ECHO, Exec=command)
    daemon.start()
    agents.spawn('client').open_ok(ECHO)
    provider = listener.accept()
    argv = provider.hello['argv']
    assert argv[-3:] == ['two words', '$HOME;', 'a b'], argv


def test_provider_exits_before_registering(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(
        ECHO, listener, extra=['--exit-before-register', '3']), ActivationTimeoutSec=20)
    daemon.start()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    r = client.open(ECHO).wait(timeout=30)
    msg = r.expect_error('AppUnavailable')
    assert ECHO in msg
    assert r.elapsed < 5.0, 'the provider exited: the open must fail at once, not after %.1f s' \
        % r.elapsed
    listener.accept()
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'failed'


def test_exec_that_cannot_start(services_dir, daemon, agents, bus):
    services_dir.write(ECHO, Exec='/nonexistent/provider --flag', ActivationTimeoutSec=20)
    daemon.start()
    r = agents.spawn('client').open(ECHO).wait(timeout=30)
    r.expect_error('AppUnavailable')
    assert r.elapsed < 5.0, r.elapsed
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'failed'


def test_activation_timeout(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(
        ECHO, listener, extra=['--register-delay', '60']), ActivationTimeoutSec=1)
    daemon.start()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    r = client.open(ECHO).wait()
    msg = r.expect_error('AppUnavailable')
    assert within(r.elapsed, 0.9, 2.5), 'ActivationTimeoutSec=1 took %.2f s' % r.elapsed
    assert ECHO in msg
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') in ('failed', 'activating')


def test_concurrent_opens_share_one_activation(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(
        ECHO, listener, extra=['--register-delay', '1']), ActivationTimeoutSec=20)
    daemon.start()
    clients = [agents.spawn('client%d' % i, uid=GAMES_UID if i % 2 else None,
                            gid=GAMES_GID if i % 2 else None) for i in range(5)]
    opens = [c.open(ECHO) for c in clients]
    paths = [o.wait(timeout=20).unpack(0, 'o') for o in opens]
    assert len(set(paths)) == 5
    provider = listener.accept(0)
    for _ in range(5):
        provider.wait_signal('ConnectionOpened')
    provider.barrier()
    assert listener.count() == 1, 'one activation must serve every waiting open'
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Connections') == 5


def test_unauthorized_open_does_not_activate(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(ECHO, listener), AllowUsers='man')
    daemon.start()
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    games.open(ECHO).wait().expect_error('NotAuthorized')
    games.service_send(ECHO, valueset(n=GLib.Variant('u', 1))).wait().expect_error(
        'NotAuthorized')
    games.barrier(0.5)
    assert listener.count() == 0, 'an unauthorized caller started the provider'
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'inactive'
    # An allowed caller does start it.
    agents.spawn('man', uid=MAN_UID, gid=MAN_GID).open_ok(ECHO)
    listener.accept()


# ---- SystemdService= ----------------------------------------------------------------------------

def test_systemd_service_without_systemd(services_dir, daemon, agents, bus):
    services_dir.write(ECHO, SystemdService='echo-provider.service', ActivationTimeoutSec=20)
    daemon.start()
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Activatable') is True
    r = agents.spawn('client').open(ECHO).wait(timeout=30)
    msg = r.expect_error('AppUnavailable')
    assert r.elapsed < 5.0, r.elapsed
    assert 'systemd' in msg.lower(), 'the message should say systemd is not there: %r' % msg


def test_exec_is_used_where_systemd_is_not(services_dir, daemon, agents):
    listener = agents.listener()
    services_dir.write(ECHO, SystemdService='echo-provider.service',
                       Exec=agents.provider_command(ECHO, listener))
    daemon.start()
    agents.spawn('client').open_ok(ECHO)
    listener.accept()


def standin(agents, units):
    """The systemd stand-in: a peer that owns org.freedesktop.systemd1 on the test bus and
    answers Manager.StartUnit by starting the unit's command and emitting JobRemoved. systemd
    cannot run on this host; the real path is tested in the VM tier."""
    sd = agents.spawn('systemd')
    tag = sd.next_tag()
    sd.send({'cmd': 'systemd_standin', 'tag': tag, 'units': units})
    ev = sd.wait_event(lambda e: e['event'] == 'reply' and e['tag'] == tag, None, 'stand-in')
    assert ev['ok'], ev
    return sd


def unit_argv(listener, name=ECHO):
    return [PYTHON, PEER_PY, '--address-from-env', '--register', name, '--auto', 'echo',
            '--control-socket', listener.path]


@pytest.mark.systemd_standin
def test_systemd_service_with_systemd_on_the_bus(services_dir, daemon, agents, bus):
    listener = agents.listener()
    sd = standin(agents, {'echo-provider.service': unit_argv(listener)})
    services_dir.write(ECHO, SystemdService='echo-provider.service', ActivationTimeoutSec=20)
    daemon.start()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(ECHO, timeout=30)

    start = sd.wait_event(lambda e: e['event'] == 'systemd_call' and e['member'] == 'StartUnit',
                          None, 'StartUnit')
    assert start['args'].startswith("('echo-provider.service', "), start['args']
    assert start['sender'] == daemon.unique_name
    started = sd.wait_event(lambda e: e['event'] == 'systemd_started', None, 'unit started')
    provider = listener.accept()
    assert provider.pid == started['pid']
    assert provider.hello['ppid'] == sd.pid, 'started by the stand-in, not by the daemon'
    message = valueset(Text=GLib.Variant('s', 'via systemd'))
    assert client.send_message(path, message).ok() == [message.print_(True)]


@pytest.mark.systemd_standin
def test_systemd_is_preferred_over_exec(services_dir, daemon, agents):
    via_systemd = agents.listener('systemd-started')
    via_exec = agents.listener('exec-started')
    sd = standin(agents, {'echo-provider.service': unit_argv(via_systemd)})
    services_dir.write(ECHO, SystemdService='echo-provider.service',
                       Exec=agents.provider_command(ECHO, via_exec), ActivationTimeoutSec=20)
    daemon.start()
    agents.spawn('client').open_ok(ECHO, timeout=30)
    sd.wait_event(lambda e: e['event'] == 'systemd_call' and e['member'] == 'StartUnit', None,
                  'StartUnit')
    via_systemd.accept().barrier(0.3)
    assert via_exec.count() == 0, 'Exec= was run although systemd is on the bus'


@pytest.mark.systemd_standin
def test_systemd_unit_that_fails(services_dir, daemon, agents):
    # The stand-in knows no such unit: StartUnit fails, and so does the open, at once.
    standin(agents, {})
    services_dir.write(ECHO, SystemdService='missing.service', ActivationTimeoutSec=20)
    daemon.start()
    r = agents.spawn('client').open(ECHO).wait(timeout=30)
    r.expect_error('AppUnavailable')
    assert r.elapsed < 5.0, r.elapsed


@pytest.mark.systemd_standin
def test_systemd_started_provider_is_left_to_systemd(services_dir, daemon, agents):
    listener = agents.listener()
    standin(agents, {'echo-provider.service': unit_argv(listener)})
    services_dir.write(ECHO, SystemdService='echo-provider.service', ActivationTimeoutSec=20)
    daemon.start()
    agents.spawn('client').open_ok(ECHO, timeout=30)
    provider = listener.accept()
    daemon.stop_clean()
    # The daemon has exited, so any SIGTERM from it was sent; the agent handles signals before
    # commands, so after a ping it would have reported it (or be gone).
    provider.ping()
    assert provider.find_event(lambda e: e['event'] == 'sigterm', consume=False) is None
    assert provider.alive()


# ---- who may make the broker run code (issue 10, item 7) ----------------------------------------

@pytest.fixture
def uid_recorder(workdir):
    """A provider stand-in that only appends the uid it runs as to a file, and the file."""
    record_dir = os.path.join(workdir, 'record')
    os.mkdir(record_dir)
    os.chmod(record_dir, 0o1777)
    record = os.path.join(record_dir, 'uids')
    script = os.path.join(workdir, 'record-uid')
    with open(script, 'w') as f:
        f.write('#!/bin/sh\nid -u >> %s\n' % record)
    os.chmod(script, 0o755)
    return script, record


def recorded_uids(record):
    try:
        with open(record) as f:
            return [int(line) for line in f.read().split()]
    except FileNotFoundError:
        return []


# owner, mode, User=: a file that someone other than root can change never makes the broker run
# its Exec= as root, nor as anyone but the file's owner.
UNTRUSTED_EXEC = [
    pytest.param(GAMES_UID, 0o644, None, id='games-owned, no User= (root)'),
    pytest.param(GAMES_UID, 0o644, 'root', id='games-owned, User=root'),
    pytest.param(GAMES_UID, 0o644, 'lp', id='games-owned, User=lp'),
    pytest.param(GAMES_UID, 0o664, 'games', id='games-owned, group-writable, User=games'),
    pytest.param(0, 0o664, None, id='root-owned, group-writable'),
    pytest.param(0, 0o646, 'lp', id='root-owned, writable by others, User=lp'),
]


@pytest.mark.parametrize('owner, mode, user', UNTRUSTED_EXEC)
def test_exec_is_ignored_from_a_file_others_can_change(services_dir, daemon, agents, bus,
                                                        uid_recorder, owner, mode, user):
    script, record = uid_recorder
    path = services_dir.write(ECHO, Exec=script, User=user, uid=owner, gid=owner, mode=mode)
    daemon.start()
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Activatable') is False
    client = agents.spawn('client', uid=MAN_UID, gid=MAN_GID)
    msg = client.open(ECHO).error('AppUnavailable')
    assert ECHO in msg, msg
    assert recorded_uids(record) == [], 'the definition of %s ran its Exec=' % path
    # The broker says why at warning, naming the file, its owner and its mode.
    why = [line for line in daemon.log_lines()
           if line.startswith('<4>') and path in line and 'ignoring Exec=' in line]
    assert why, daemon.log_tail()
    assert 'owner uid %d' % owner in why[0] and 'mode %04o' % mode in why[0], why[0]


def test_exec_from_a_file_owned_by_a_user_runs_as_that_user(services_dir, daemon, agents, bus,
                                                           uid_recorder):
    script, record = uid_recorder
    services_dir.write(ECHO, Exec=script, User='games', uid=GAMES_UID, gid=GAMES_GID,
                       mode=0o644)
    daemon.start()
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Activatable') is True
    client = agents.spawn('client', uid=MAN_UID, gid=MAN_GID)
    # The script exits without registering: the open fails, after it ran.
    client.open(ECHO).error('AppUnavailable')
    assert recorded_uids(record) == [GAMES_UID]


@pytest.mark.systemd_standin
def test_systemd_service_is_ignored_from_a_file_owned_by_a_user(services_dir, daemon, agents,
                                                                bus):
    listener = agents.listener()
    sd = standin(agents, {'echo-provider.service': unit_argv(listener)})
    path = services_dir.write(ECHO, SystemdService='echo-provider.service', User='games',
                              uid=GAMES_UID, gid=GAMES_GID, mode=0o644)
    daemon.start()
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Activatable') is False
    client = agents.spawn('client', uid=MAN_UID, gid=MAN_GID)
    client.open(ECHO).error('AppUnavailable')
    assert sd.find_event(lambda e: e['event'] == 'systemd_call' and e['member'] == 'StartUnit') \
        is None, 'a user-owned file started a system unit'
    assert any(line.startswith('<4>') and path in line and 'SystemdService=' in line
               for line in daemon.log_lines()), daemon.log_tail()


# ---- the provider's output ----------------------------------------------------------------------

def test_provider_output_is_filed_under_its_identifier_and_level(services_dir, daemon, agents):
    """Without journald (here the broker's stderr is a file), a provider's stdout and stderr come
    out in the broker's log as IDENTIFIER[PID]: lines, stdout at info and stderr at warning, a
    line's own "<N>" prefix winning, as the journal would file them (tests/vm's systemd tier
    checks the journal itself). A flood of output is cut into lines of at most 4 KiB and loses
    nothing else."""
    script = ('echo started; echo trouble >&2; echo "<3>broken"; echo "<7>detail" >&2; '
              'head -c 20000 /dev/zero | tr "\\\\0" x; echo; exec sleep 60')
    services_dir.write(ECHO, Exec="/bin/sh -c '%s'" % script, SyslogIdentifier='echo-app',
                       ActivationTimeoutSec=30)
    daemon.start()
    agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID).open(ECHO)
    pid = daemon.wait_log(r"started provider '/bin/sh' as pid (\d+)$").group(1)
    daemon.wait_log(r'^<6>echo-app\[%s\]: started$' % pid)
    daemon.wait_log(r'^<4>echo-app\[%s\]: trouble$' % pid)
    daemon.wait_log(r'^<3>echo-app\[%s\]: broken$' % pid)
    daemon.wait_log(r'^<7>echo-app\[%s\]: detail$' % pid)
    flood = re.compile(r'^<6>echo-app\[%s\]: (x+)$' % pid)

    def pieces():
        return [m.group(1) for m in map(flood.match, daemon.log_lines()) if m]
    daemon.bus.wait_for(lambda: sum(map(len, pieces())) >= 20000, what='20000 bytes of output')
    assert max(map(len, pieces())) <= 4096 and sum(map(len, pieces())) == 20000, \
        [len(p) for p in pieces()]


def test_provider_output_without_identifier_uses_the_service_name(services_dir, daemon, agents):
    services_dir.write(ECHO, Exec="/bin/sh -c 'echo hello; exec sleep 60'", ActivationTimeoutSec=30)
    daemon.start()
    agents.spawn('client').open(ECHO)
    daemon.wait_log(r'^<6>%s\[\d+\]: hello$' % re.escape(ECHO))


def test_system_broker_gives_providers_a_fixed_environment(services_dir, daemon, agents, monkeypatch):
    """The system broker's own environment (here, the test's) does not reach its providers: only
    PATH, the bus variables, APPSERVICE_NAME, and the user's HOME, USER, LOGNAME and LANG."""
    monkeypatch.setenv('APPSERVICE_TEST_LEAK', 'secret')
    services_dir.write(ECHO, Exec="/bin/sh -c 'echo env: $(env | cut -d= -f1 | sort | tr \"\\\\n\" \" \"); "
                                   "exec sleep 60'", ActivationTimeoutSec=30)
    daemon.start()
    agents.spawn('client').open(ECHO)
    names = daemon.wait_log(r'^<6>%s\[\d+\]: env: (.*)$' % re.escape(ECHO)).group(1).split()
    assert 'APPSERVICE_TEST_LEAK' not in names, names
    assert {'PATH', 'DBUS_SYSTEM_BUS_ADDRESS', 'APPSERVICE_BUS', 'APPSERVICE_NAME'} <= set(names), names
    assert set(names) <= {'PATH', 'DBUS_SYSTEM_BUS_ADDRESS', 'APPSERVICE_BUS', 'APPSERVICE_NAME', 'HOME',
                          'USER', 'LOGNAME', 'LANG', 'PWD', 'SHLVL', '_'}, names
