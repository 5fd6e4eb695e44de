# SPDX-License-Identifier: LGPL-2.1-or-later
"""Monitoring: Manager.StartMonitoring/StopMonitoring and the MonitorEvent signals, unicast to
each monitor."""

from client import (BUS_NAME, ECHO, ECHO_PATH, GAMES_GID, GAMES_UID, MANAGER_IFACE, MANAGER_PATH,
                    GLib, marshalled_size, valueset)


def start_monitoring(peer):
    return peer.manager('StartMonitoring', '(a{sv})', '(@a{sv} {},)')


def events(peer):
    """[(type, details)] of the MonitorEvents received so far, in order."""
    return [(s.arg(0, 's'), s.arg(1, 'a{sv}')) for s in peer.signals('MonitorEvent')]


def wait_event(peer, kind, predicate=None):
    s = peer.wait_signal('MonitorEvent', predicate=lambda s: s.arg(0, 's') == kind and (
        predicate is None or predicate(s.arg(1, 'a{sv}'))))
    return s.arg(1, 'a{sv}')


def test_a_whole_conversation(services_dir, daemon, agents, bus):
    services_dir.write(ECHO, RequestTimeoutSec=1)
    daemon.start()
    monitor = agents.spawn('monitor')
    start_monitoring(monitor).ok()
    start_monitoring(monitor).ok()  # again: changes nothing (one event each below)
    bystander = agents.spawn('bystander')

    provider = agents.spawn('provider', register=ECHO, auto='ignore')
    provider.wait_registered()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(ECHO)
    message = valueset(Text=GLib.Variant('s', 'hello'), n=GLib.Variant('i', 7))
    pending = client.send_message(path, message)
    received = provider.wait_signal('RequestReceived', path=path)
    request = received.arg(0, 't')
    response = valueset(Reply=GLib.Variant('s', 'hi there, a longer text'))
    provider.respond(path, request, response).ok()
    pending.ok()
    timed_out = client.send_message(path, message)
    timed_out.error('Timeout')
    client.close(path).ok()
    provider.unregister(ECHO).ok()
    monitor.barrier()

    seen = [(t, e) for t, e in events(monitor)]
    kinds = [t for t, _ in seen]
    expected = ['provider-registered', 'service-state', 'connection-opened', 'request', 'response',
                'request', 'response', 'connection-closed', 'provider-unregistered',
                'service-state']
    assert kinds == expected, kinds
    by = dict(zip(range(len(seen)), seen))
    reg = by[0][1]
    assert reg['service'] == ECHO and reg['peer'] == provider.unique_name and \
        reg['pid'] == provider.pid
    assert by[1][1]['state'] == 'active'
    opened = by[2][1]
    assert opened['connection'] == path and opened['caller']['uid'] == GAMES_UID and \
        opened['caller']['pid'] == client.pid
    req = by[3][1]
    assert req == dict(req, service=ECHO, connection=path, request=request, **{'from': 'client'})
    assert req['size'] == marshalled_size(message)
    resp = by[4][1]
    assert resp['request'] == request and resp['size'] == marshalled_size(response)
    assert 'error' not in resp and 0 < resp['latency-usec'] < 10_000_000
    late = by[6][1]
    assert late['error'] == 'io.appservice1.Error.Timeout' and 'size' not in late
    assert late['latency-usec'] >= 900_000
    assert by[7][1]['status'] == 0 and by[7][1]['connection'] == path
    unreg = by[8][1]
    assert unreg['peer'] == provider.unique_name and unreg['pid'] == provider.pid
    assert by[9][1]['state'] == 'inactive'
    stamps = [e['timestamp'] for _, e in seen]
    assert stamps == sorted(stamps) and all(e['service'] == ECHO for _, e in seen)

    # Privacy: every event was addressed to the monitor alone.
    assert all(s['destination'] == monitor.unique_name for s in monitor.signals('MonitorEvent'))
    bystander.assert_no_signal('MonitorEvent', settle=0)
    for p in (client, provider):
        p.assert_no_signal('MonitorEvent', settle=0)


def test_refused_message_and_state_events(services_dir, daemon, agents, bus):
    services_dir.write(ECHO, MaxMessageSize=64)
    daemon.start()
    provider = agents.spawn('provider', register=ECHO, auto='echo')
    provider.wait_registered()
    monitor = agents.spawn('monitor')
    start_monitoring(monitor).ok()
    client = agents.spawn('client')
    path = client.open_ok(ECHO)
    client.send_message(path, valueset(blob=GLib.Variant('ay', b'x' * 100))).error(
        'MessageSizeTooLarge')
    refused = wait_event(monitor, 'response')
    assert refused['error'] == 'io.appservice1.Error.MessageSizeTooLarge' and \
        refused['request'] == 0
    bus.call(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'SetServiceEnabled',
             GLib.Variant('(sb)', (ECHO, False)))
    assert wait_event(monitor, 'service-state')['state'] == 'disabled'
    daemon.stop_clean()
    assert wait_event(monitor, 'state')['state'] == 'stopping'


def test_only_administrators_may_monitor(services_dir, daemon, agents):
    services_dir.write(ECHO)
    daemon.start()
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    start_monitoring(games).error('NotAuthorized')
    agents.spawn('provider', register=ECHO).wait_registered()
    games.assert_no_signal('MonitorEvent')
    # StopMonitoring is harmless for anyone.
    games.manager('StopMonitoring').ok()


def test_stop_and_leaving_end_delivery(services_dir, daemon, agents):
    services_dir.write(ECHO)
    daemon.start()
    provider = agents.spawn('provider', register=ECHO, auto='echo')
    provider.wait_registered()
    first, second = agents.spawn('first'), agents.spawn('second')
    start_monitoring(first).ok()
    start_monitoring(second).ok()
    client = agents.spawn('client')
    client.close(client.open_ok(ECHO)).ok()
    for m in (first, second):
        wait_event(m, 'connection-closed')

    first.manager('StopMonitoring').ok()
    first.manager('StopMonitoring').ok()  # again: nothing happens
    second_name = second.unique_name
    second.exit()
    daemon.wait_log(r'peer %s left the bus' % second_name)
    before = len(events(first))
    client.close(client.open_ok(ECHO)).ok()
    first.barrier()
    assert len(events(first)) == before, events(first)[before:]

    # Monitoring again works; the daemon is fine after a monitor left.
    start_monitoring(first).ok()
    path = client.open_ok(ECHO)
    assert wait_event(first, 'connection-opened', lambda e: e['connection'] == path)
    client.close(path).ok()
    assert wait_event(first, 'connection-closed', lambda e: e['connection'] == path)
    assert daemon.bus.get_property(ECHO_PATH, 'io.appservice1.Service', 'Connections') == 0
