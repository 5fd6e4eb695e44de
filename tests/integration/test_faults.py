# SPDX-License-Identifier: LGPL-2.1-or-later
"""Service.Log: a provider's faults and log lines, to the journal where it runs (not on the test
bus: there they go to the daemon's own log on stderr), rate limited, and to monitors."""

import re

from client import (BUS_NAME, DEFAULT_WAIT, GAMES_GID, GAMES_UID, LP_GID, LP_UID, SERVICE_IFACE,
                    GLib, service_path)

A, B = 'com.example.a', 'com.example.b'
INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs'


def log(peer, name, level, code, message):
    return peer.call(BUS_NAME, service_path(name), SERVICE_IFACE, 'Log', '(sss)',
                     GLib.Variant('(sss)', (level, code, message)))


def fault_line(name, level, code, pid, uid, message):
    """The daemon's stderr line for one fault (a unit is named where the cgroup tells one)."""
    return (r"^<\d>app service '%s': %s%s from pid %d uid %d( unit '[^']+')?: %s$" %
            (re.escape(name), level, ' ' + re.escape(code) if code else '', pid, uid,
             re.escape(message)))


def start_a(services_dir, daemon, agents, **keys):
    services_dir.write(A, User='lp', **keys)
    services_dir.write(B)
    daemon.start()
    provider = agents.spawn('provider', uid=LP_UID, gid=LP_GID, register=A)
    provider.wait_registered()
    return provider


def test_log_goes_to_the_daemons_log(services_dir, daemon, agents):
    provider = start_a(services_dir, daemon, agents)
    log(provider, A, 'error', 'E42', 'sensor timeout').ok()
    daemon.wait_log(fault_line(A, 'error', 'E42', provider.pid, LP_UID, 'sensor timeout'))
    log(provider, A, 'warning', '', 'battery low').ok()
    daemon.wait_log(fault_line(A, 'warning', '', provider.pid, LP_UID, 'battery low'))
    # One line per fault, whatever the text holds.
    log(provider, A, 'info', 'I1', 'two\nlines\tand a \\').ok()
    daemon.wait_log(fault_line(A, 'info', 'I1', provider.pid, LP_UID, r'two\nlines\tand a \\'))
    # Long texts are kept whole.
    long_text = 'x' * 4096
    log(provider, A, 'error', 'E_LONG', long_text).ok()
    daemon.wait_log(fault_line(A, 'error', 'E_LONG', provider.pid, LP_UID, long_text))


def test_only_the_provider_may_log(services_dir, daemon, agents):
    provider = start_a(services_dir, daemon, agents)
    root = agents.spawn('root')
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    for peer, name in ((root, A), (games, A), (provider, B)):
        msg = log(peer, name, 'error', 'E1', 'not mine').error('NotAuthorized')
        assert name in msg
    provider.barrier()
    assert not any('not mine' in line for line in daemon.log_lines())


def test_invalid_arguments(services_dir, daemon, agents):
    provider = start_a(services_dir, daemon, agents)
    cases = [
        (('fatal', 'E1', 'text'), 'level'),
        (('', 'E1', 'text'), 'level'),
        (('error', '', 'text'), 'code'),
        (('error', 'E 1', 'text'), 'code'),
        (('error', 'E\t1', 'text'), 'code'),
        (('warning', 'É1', 'text'), 'code'),
        (('error', 'E' * 256, 'text'), 'code'),
        (('error', 'E1', ''), 'message'),
        (('info', '', 'x' * 4097), 'message'),
    ]
    for args, what in cases:
        msg = log(provider, A, *args).error(INVALID_ARGS)
        assert what in msg, (args, msg)
    # The limits themselves are fine.
    log(provider, A, 'debug', 'E' * 255, 'x' * 4096).ok()
    log(provider, A, 'info', '', 'é').ok()


def test_rate_limit(services_dir, daemon, agents):
    provider = start_a(services_dir, daemon, agents)
    # In batches: the bus allows a peer 128 calls in flight.
    for first in range(0, 250, 50):
        for c in [log(provider, A, 'info', 'BURST', 'line %d' % i) for i in range(first, first + 50)]:
            c.ok()
    # Dropped lines are not an error for the provider; the daemon reports them once the
    # interval (10 s) has ended.
    m = daemon.wait_log(r"app service '%s': (\d+) log lines dropped" % re.escape(A),
                        timeout=DEFAULT_WAIT + 15)
    assert m.group(1) == '50', m.group(0)
    lines = [line for line in daemon.log_lines() if ' BURST from pid ' in line]
    assert len(lines) == 200, len(lines)
    assert lines[-1].endswith(': line 199')
    # The next interval passes again.
    log(provider, A, 'info', 'AFTER', 'again').ok()
    daemon.wait_log(fault_line(A, 'info', 'AFTER', provider.pid, LP_UID, 'again'))


def test_fault_monitor_event(services_dir, daemon, agents):
    provider = start_a(services_dir, daemon, agents)
    monitor = agents.spawn('monitor')
    monitor.manager('StartMonitoring', '(a{sv})', '(@a{sv} {},)').ok()
    log(provider, A, 'error', 'E42', 'sensor timeout').ok()
    ev = monitor.wait_signal('MonitorEvent', predicate=lambda s: s.arg(0, 's') == 'fault')
    details = ev.arg(1, 'a{sv}')
    assert ev['destination'] == monitor.unique_name
    assert {k: details[k] for k in ('service', 'level', 'code', 'message', 'pid', 'uid')} == {
        'service': A, 'level': 'error', 'code': 'E42', 'message': 'sensor timeout',
        'pid': provider.pid, 'uid': LP_UID}
    assert details['timestamp'] > 0
