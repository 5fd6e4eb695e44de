# SPDX-License-Identifier: LGPL-2.1-or-later
"""RequestReceived, ServiceClosed and ConnectionOpened are unicast: only their endpoint gets
them, as the destination header of each shows."""

import pytest

from client import ECHO, ECHO_PATH, GAMES_GID, GAMES_UID, MAN_GID, MAN_UID, GLib, valueset

UNICAST = ('ConnectionOpened', 'RequestReceived', 'ServiceClosed')


def exercise(provider, client, agents):
    """Every kind of unicast signal, in a known order; returns what each endpoint must have got:
    a list of (member, path, destination unique name)."""
    expected = []
    path = client.open_ok(ECHO)
    provider.wait_signal('ConnectionOpened', predicate=lambda s: s.arg(0, 'o') == path)
    expected.append(('ConnectionOpened', ECHO_PATH, provider.unique_name))

    # client -> provider
    call = client.send_message(path, valueset(n=GLib.Variant('u', 1)))
    req = provider.wait_signal('RequestReceived', path=path)
    provider.respond(path, req.arg(0, 't'), valueset()).ok()
    call.ok()
    expected.append(('RequestReceived', path, provider.unique_name))

    # provider -> client
    call = provider.send_message(path, valueset(n=GLib.Variant('u', 2)))
    req = client.wait_signal('RequestReceived', path=path)
    client.respond(path, req.arg(0, 't'), valueset()).ok()
    call.ok()
    expected.append(('RequestReceived', path, client.unique_name))

    # the client closes: the provider hears of it
    client.close(path).ok()
    provider.wait_signal('ServiceClosed', path=path)
    expected.append(('ServiceClosed', path, provider.unique_name))

    # the provider closes: the client hears of it
    path2 = client.open_ok(ECHO)
    provider.wait_signal('ConnectionOpened', predicate=lambda s: s.arg(0, 'o') == path2)
    expected.append(('ConnectionOpened', ECHO_PATH, provider.unique_name))
    provider.close(path2).ok()
    client.wait_signal('ServiceClosed', path=path2)
    expected.append(('ServiceClosed', path2, client.unique_name))

    # a one-shot
    provider.auto('echo')
    client.service_send(ECHO, valueset(n=GLib.Variant('u', 3))).ok()
    opened = provider.wait_signal('ConnectionOpened')
    path3 = opened.arg(0, 'o')
    provider.wait_signal('RequestReceived', path=path3)
    provider.wait_signal('ServiceClosed', path=path3)
    expected += [('ConnectionOpened', ECHO_PATH, provider.unique_name),
                 ('RequestReceived', path3, provider.unique_name),
                 ('ServiceClosed', path3, provider.unique_name)]
    provider.auto('ignore')
    return expected


@pytest.mark.parametrize('who', ['root', 'unprivileged'])
def test_bystander_receives_none(start_service, agents, who):
    uid = {} if who == 'root' else {'uid': MAN_UID, 'gid': MAN_GID}
    bystander = agents.spawn('bystander', **uid)
    # A match rule for everything from io.appservice1, on top of the agent's own signal rule.
    bystander.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                   'AddMatch', '(s)', "(\"sender='io.appservice1'\",)").ok()
    provider = start_service(ECHO, auto='ignore')
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    exercise(provider, client, agents)

    bystander.barrier()
    got = [s for s in bystander.appservice_signals() if s['member'] in UNICAST]
    assert got == [], 'a bystander received unicast signals: %r' % got


def test_destination_headers(start_service, agents):
    monitor = agents.spawn('monitor')
    tag = monitor.next_tag()
    monitor.send({'cmd': 'become_monitor', 'tag': tag, 'rules': []})
    monitor.wait_event(lambda e: e['event'] == 'reply' and e['tag'] == tag and e['ok'], None,
                       'BecomeMonitor')
    provider = start_service(ECHO, auto='ignore')
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    expected = exercise(provider, client, agents)
    # What each endpoint saw matches what was expected of it.
    for peer in (provider, client):
        seen = [(s['member'], s['path'], s['destination']) for s in peer.appservice_signals()
                if s['member'] in UNICAST]
        assert seen == [e for e in expected if e[2] == peer.unique_name], peer.name

    # The monitor sees every one of them on the bus, each with a destination header naming the
    # right peer, and no broadcast copy.
    client.barrier()
    provider.barrier()

    def monitored():
        with monitor.cond:
            return [(e['member'], e['path'], e['destination']) for e in monitor.events
                    if e['event'] == 'monitor' and e['type'] == 'signal' and
                    e['member'] in UNICAST and (e['interface'] or '').startswith('io.appservice1.')]
    seen = monitored()
    assert seen == expected
