# SPDX-License-Identifier: LGPL-2.1-or-later
"""io.appservice1.Service at /io/appservice1/service/<label>: properties, states and the one-shot
SendMessage."""

import time

from client import (ECHO, ECHO_PATH, ECHO_PROVIDER, GAMES_GID, GAMES_UID, MAN_GID, MAN_UID,
                    SERVICE_IFACE, GLib, norm, service_path, typed, valueset, valueset_of_size)
from conftest import within


def test_service_properties(services_dir, daemon, agents, bus):
    services_dir.write(ECHO, Description='Echoes what it is sent')
    services_dir.write('com.example.exec', Provider='com.example.ExecApp', Exec='/bin/false')
    services_dir.write('com.example.unit', Provider='com.example.UnitApp',
                       SystemdService='unit-app.service')
    daemon.start()
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    props = typed(games.get_all(ECHO_PATH, SERVICE_IFACE).wait().expect_ok()[0])
    assert props['Name'] == ('s', ECHO)
    assert props['Provider'] == ('s', ECHO_PROVIDER)
    assert props['Description'] == ('s', 'Echoes what it is sent')
    assert props['State'] == ('s', 'inactive')
    assert props['Activatable'] == ('b', False)
    assert props['Connections'] == ('u', 0)

    assert bus.get_property(service_path('com.example.exec'), SERVICE_IFACE, 'Activatable') is True
    assert bus.get_property(service_path('com.example.unit'), SERVICE_IFACE, 'Activatable') is True
    assert bus.get_property(service_path('com.example.unit'), SERVICE_IFACE, 'Description') == ''

    # Each property alone, through Get, for the unprivileged peer.
    for prop, expected in (('Name', ECHO), ('Provider', ECHO_PROVIDER), ('State', 'inactive'),
                           ('Connections', 0), ('Activatable', False)):
        assert games.get_value(ECHO_PATH, SERVICE_IFACE, prop) == expected


def test_state_follows_the_provider(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(
        ECHO, listener, extra=['--register-delay', '1.5']), ActivationTimeoutSec=20)
    daemon.start()

    def state():
        return bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State')

    assert state() == 'inactive'
    client = agents.spawn('client')
    opening = client.open(ECHO)
    bus.wait_for(lambda: state() == 'activating', what='State activating while the provider '
                 'starts (it registers after 1.5 s)')
    path = opening.wait().unpack(0, 'o')
    assert state() == 'active'
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Connections') == 1

    provider = listener.accept()
    provider.wait_signal('ConnectionOpened', predicate=lambda s: s.arg(0, 'o') == path)
    provider.unregister(ECHO).ok()
    assert state() == 'inactive'
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Connections') == 0


def test_failed_state_and_retry(services_dir, daemon, agents, bus):
    listener = agents.listener()
    # A provider that exits before registering: the activation fails.
    services_dir.write(ECHO, Exec=agents.provider_command(
        ECHO, listener, extra=['--exit-before-register', '3']), ActivationTimeoutSec=20)
    daemon.start()
    client = agents.spawn('client')
    client.open(ECHO).wait().expect_error('AppUnavailable')
    listener.accept(0)
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'failed'

    # The next open tries again: a second provider process is started.
    client.open(ECHO).wait().expect_error('AppUnavailable')
    listener.accept(1)
    assert listener.count() == 2


def test_connections_count(start_service, agents, bus):
    start_service(ECHO)
    client = agents.spawn('client')

    def count():
        return bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Connections')

    a = client.open_ok(ECHO)
    b = client.open_ok(ECHO)
    agents.spawn('other', uid=GAMES_UID, gid=GAMES_GID).open_ok(ECHO)
    assert count() == 3
    client.close(a).ok()
    assert count() == 2
    client.close(b).ok()
    assert count() == 1


# ---- one-shot SendMessage -----------------------------------------------------------------------

def test_oneshot_send_message(start_service, agents, bus):
    provider = start_service(ECHO, auto='echo')
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    message = valueset(Action=GLib.Variant('s', 'Echo'), Text=GLib.Variant('s', 'hello'))

    r = client.service_send(ECHO, message).wait()
    assert r.expect_ok() == [message.print_(True)]

    opened = provider.wait_signal('ConnectionOpened')
    path = opened.arg(0, 'o')
    caller = typed(opened['argv'][1])
    assert caller['uid'] == ('u', GAMES_UID) and caller['pid'] == ('u', client.pid)
    received = provider.wait_signal('RequestReceived', path=path)
    assert received['argv'][1] == message.print_(True)
    closed = provider.wait_signal('ServiceClosed', path=path)
    assert closed.arg(0, 'u') == 0
    assert opened['seq'] < received['seq'] < closed['seq']

    # The caller sees nothing but the reply.
    client.barrier()
    assert client.appservice_signals() == []
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Connections') == 0


def test_oneshot_reply_is_the_response(start_service, agents):
    provider = start_service(ECHO, auto='ignore')
    # The provider answers with a fixed ValueSet: the reply is that, not the message.
    provider.auto('fixed', value=valueset(answer=GLib.Variant('u', 42)))
    client = agents.spawn('client')
    r = client.service_send(ECHO, valueset(question=GLib.Variant('s', 'what?'))).wait()
    assert r.expect_ok() == [norm("@a{sv} {'answer': <uint32 42>}")]


def test_oneshot_caller_vanishes(start_service, agents, bus):
    provider = start_service(ECHO, auto='ignore')
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    client.service_send(ECHO, valueset(n=GLib.Variant('i', 1)))
    received = provider.wait_signal('RequestReceived')
    path = received['path']
    request = received.arg(0, 't')
    client.crash()

    closed = provider.wait_signal('ServiceClosed', path=path)
    assert closed.arg(0, 'u') == 1
    provider.respond(path, request, valueset(n=GLib.Variant('i', 2))).wait().expect_error(
        'UnknownRequest')
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Connections') == 0


def test_oneshot_timeout(start_service, agents, bus):
    provider = start_service(ECHO, auto='ignore', RequestTimeoutSec=1)
    client = agents.spawn('client')
    r = client.service_send(ECHO, valueset(n=GLib.Variant('i', 1))).wait()
    r.expect_error('Timeout')
    assert within(r.elapsed, 0.9, 2.5), r.elapsed
    received = provider.wait_signal('RequestReceived')
    closed = provider.wait_signal('ServiceClosed', path=received['path'])
    assert closed.arg(0, 'u') == 0
    provider.respond(received['path'], received.arg(0, 't'), valueset()).wait().expect_error(
        'UnknownRequest')
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Connections') == 0


def test_oneshot_counts_in_max_connections_per_peer(start_service, agents, bus):
    provider = start_service(ECHO, auto='ignore', MaxConnectionsPerPeer=1)
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)

    # A one-shot in flight holds the client's only connection.
    pending = client.service_send(ECHO, valueset(n=GLib.Variant('i', 1)))
    received = provider.wait_signal('RequestReceived')
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Connections') == 1
    client.open(ECHO).wait().expect_error('ResourceLimitsExceeded')
    client.service_send(ECHO, valueset(n=GLib.Variant('i', 2))).wait().expect_error(
        'ResourceLimitsExceeded')
    provider.respond(received['path'], received.arg(0, 't'), valueset()).ok()
    assert pending.wait().expect_ok() == ['@a{sv} {}']

    # An open connection counts against one-shots too.
    path = client.open_ok(ECHO)
    client.service_send(ECHO, valueset(n=GLib.Variant('i', 3))).wait().expect_error(
        'ResourceLimitsExceeded')
    client.close(path).ok()
    provider.auto('echo')
    client.service_send(ECHO, valueset(n=GLib.Variant('i', 4))).ok()


def test_oneshot_opening_checks_come_first(services_dir, daemon, agents):
    services_dir.write(ECHO, AllowUsers='man', MaxMessageSize=1024)
    services_dir.write('com.example.idle', Provider='com.example.IdleApp')
    daemon.start()
    provider = agents.spawn('provider', register=ECHO, auto='echo')
    provider.wait_registered()
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    man = agents.spawn('man', uid=MAN_UID, gid=MAN_GID)
    invalid = valueset([('', GLib.Variant('i', 1))])
    too_large = valueset_of_size(1025)

    # Not allowed: NotAuthorized, whatever is wrong with the message.
    games.service_send(ECHO, invalid).wait().expect_error('NotAuthorized')
    games.service_send(ECHO, too_large).wait().expect_error('NotAuthorized')
    # Not registered and not activatable: AppUnavailable before the message is looked at.
    man.service_send('com.example.idle', invalid).wait().expect_error('AppUnavailable')
    # Allowed: then the sending checks.
    man.service_send(ECHO, invalid).wait().expect_error('InvalidMessage')
    man.service_send(ECHO, too_large).wait().expect_error('MessageSizeTooLarge')
    provider.assert_no_signal('RequestReceived')
    ok = valueset_of_size(1024)
    assert man.service_send(ECHO, ok).ok() == [ok.print_(True)]


def test_oneshot_to_an_activatable_service(services_dir, daemon, agents):
    listener = agents.listener()
    services_dir.write(ECHO, Exec=agents.provider_command(ECHO, listener, auto='echo'))
    daemon.start()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    message = valueset(Text=GLib.Variant('s', 'wake up'))
    start = time.monotonic()
    assert client.service_send(ECHO, message).ok() == [message.print_(True)]
    provider = listener.accept()
    provider.wait_signal('ServiceClosed', predicate=lambda s: s.arg(0, 'u') == 0,
                         timeout=max(1.0, 10 - (time.monotonic() - start)))
