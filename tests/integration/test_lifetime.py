# SPDX-License-Identifier: LGPL-2.1-or-later
"""Endpoints that leave the bus, and what is left behind after many connections."""

import re

import pytest

from client import (CONNECTION_PATH_RE, ECHO, ECHO_PATH, GAMES_GID, GAMES_UID, SERVICE_IFACE,
                    GLib, valueset)


@pytest.mark.parametrize('how', ['crash', 'exit'])
def test_client_vanishes_mid_request(start_service, agents, bus, how):
    provider = start_service(ECHO, auto='ignore')
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(ECHO)
    assert bus.connection_alive(path)
    client.send_message(path, valueset(n=GLib.Variant('u', 1)))
    req = provider.wait_signal('RequestReceived', path=path)
    getattr(client, how)()

    closed = provider.wait_signal('ServiceClosed', path=path)
    assert closed.arg(0, 'u') == 1
    provider.respond(path, req.arg(0, 't'), valueset()).wait().expect_error('UnknownRequest')
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Connections') == 0
    assert not bus.connection_alive(path), 'connection object left behind'


@pytest.mark.parametrize('how', ['crash', 'exit'])
def test_provider_vanishes_mid_request(start_service, agents, bus, how):
    provider = start_service(ECHO, auto='ignore')
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(ECHO)
    pending = client.send_message(path, valueset(n=GLib.Variant('u', 1)))
    provider.wait_signal('RequestReceived', path=path)
    getattr(provider, how)()

    pending.wait().expect_error('Closed')
    closed = client.wait_signal('ServiceClosed', path=path)
    assert closed.arg(0, 'u') == 1
    bus.wait_for(lambda: bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'inactive',
                 what='State inactive once the provider left')
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Connections') == 0
    assert not bus.connection_alive(path), 'connection object left behind'
    # Opening again: nobody serves it now.
    client.open(ECHO).wait().expect_error('AppUnavailable')


def test_no_leaks_after_many_cycles(start_service, agents, bus):
    provider = start_service(ECHO, auto='echo', MaxConnectionsPerPeer=4)
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID, auto='echo')
    paths = []
    held = []
    for i in range(60):
        kind = i % 4
        if kind == 3:
            assert client.service_send(ECHO, valueset(i=GLib.Variant('u', i))).ok()
            continue
        path = client.open_ok(ECHO)
        paths.append(path)
        client.send_message(path, valueset(i=GLib.Variant('u', i))).ok()
        provider.send_message(path, valueset(i=GLib.Variant('u', i))).ok()
        if kind == 0:
            client.close(path).ok()
        elif kind == 1:
            provider.close(path).ok()
        else:
            # Left open for a while, three at once (the limit is four).
            held.append(path)
            assert bus.connection_alive(path)
            if len(held) == 3:
                for p in held:
                    client.close(p).ok()
                held = []
    for p in held:
        client.close(p).ok()

    # Some clients that leave the bus with connections and requests outstanding.
    for _ in range(4):
        other = agents.spawn('leaving', uid=GAMES_UID, gid=GAMES_GID)
        for _ in range(3):
            path = other.open_ok(ECHO)
            paths.append(path)
        provider.auto('ignore')
        other.send_message(path, valueset(x=GLib.Variant('u', 1)))
        provider.wait_signal('RequestReceived', path=path)
        provider.auto('echo')
        other.crash()
        provider.wait_signal('ServiceClosed', path=path)

    for path in paths:
        assert re.match(CONNECTION_PATH_RE, path), path
    assert len(set(paths)) == len(paths), 'a connection id was reused'

    bus.wait_for(lambda: bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Connections') == 0,
                 what='Connections 0 after every connection closed')
    left = [p for p in paths if bus.connection_alive(p)]
    assert left == [], 'connection objects left behind: %r' % left
    # The provider is still registered and works.
    assert client.service_send(ECHO, valueset(last=GLib.Variant('b', True))).ok()


def test_provider_killed_client_told_closed_before_its_request_fails(start_service, agents, bus):
    """A provider killed with SIGKILL while an unprivileged client's request is pending: on the
    wire, the client gets ServiceClosed (Canceled) first, then the error reply Closed, whose
    message says the provider left the bus. A monitor sees the bus's order."""
    monitor = agents.spawn('monitor')
    tag = monitor.next_tag()
    monitor.send({'cmd': 'become_monitor', 'tag': tag, 'rules': []})
    monitor.wait_event(lambda e: e['event'] == 'reply' and e['tag'] == tag and e['ok'], None,
                       'BecomeMonitor')
    provider = start_service(ECHO, auto='ignore')
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(ECHO)
    pending = client.send_message(path, valueset(n=GLib.Variant('u', 1)))
    provider.wait_signal('RequestReceived', path=path)
    provider.kill(9)

    result = pending.wait()
    assert client.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 1
    client.barrier()

    def to_client():
        with monitor.cond:
            return [e for e in monitor.events
                    if e['event'] == 'monitor' and e['destination'] == client.unique_name and
                    (e['member'] == 'ServiceClosed' or e['error_name'] == 'io.appservice1.Error.Closed')]
    bus.wait_for(lambda: len(to_client()) == 2, what='the monitor saw both messages to the client')
    seen = [e['member'] or e['error_name'] for e in sorted(to_client(), key=lambda e: e['seq'])]
    assert seen == ['ServiceClosed', 'io.appservice1.Error.Closed']
    result.expect_error('Closed')
    assert 'the provider left the bus' in result.message, result.message
