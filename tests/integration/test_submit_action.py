# SPDX-License-Identifier: LGPL-2.1-or-later
"""Manager.SubmitAction: one message to one app service or to every one, over one-shot
connections; the answer collects the responses and the failures."""

from client import (CONNECTION_IFACE, GAMES_GID, GAMES_UID, LP_GID, LP_UID, MAN_GID, MAN_UID,
                    MANAGER_IFACE, MANAGER_PATH, BUS_NAME, SERVICE_IFACE, GLib, service_path,
                    typed, valueset, valueset_of_size)
from conftest import within

A, B, C, D, E, F = ('com.example.%s' % x for x in 'abcdef')


def submit(peer, destination, action, message, **kw):
    args = GLib.Variant.new_tuple(GLib.Variant('s', destination), GLib.Variant('s', action),
                                  message)
    return peer.manager('SubmitAction', '(ssa{sv})', args, **kw)


def answer(call, timeout=None):
    """(responses, failures) of a successful SubmitAction."""
    r = call.wait(timeout)
    r.expect_ok()
    return r.unpack(0, 'a{sv}'), r.unpack(1, 'a{ss}')


def spawn_provider(agents, name, auto='echo', uid=None, gid=None):
    p = agents.spawn('provider-' + name.split('.')[-1], uid=uid, gid=gid, register=name, auto=auto)
    p.wait_registered()
    return p


MESSAGE = valueset(temperature=GLib.Variant('d', 21.5), unit=GLib.Variant('s', 'C'))


def test_one_destination_with_response(services_dir, daemon, agents, bus):
    services_dir.write(A)
    daemon.start()
    provider = spawn_provider(agents, A, auto='ignore')
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)

    call = submit(client, A, 'set-temperature', MESSAGE)
    opened = provider.wait_signal('ConnectionOpened')
    path = opened.arg(0, 'o')
    caller = typed(opened['argv'][1])
    assert caller['uid'] == ('u', GAMES_UID) and caller['pid'] == ('u', client.pid)
    assert caller['action'] == ('s', 'set-temperature')
    assert 'service' not in caller, 'the sender is no provider: %r' % caller
    # Connection.Caller says the same.
    prop = provider.get_value(path, CONNECTION_IFACE, 'Caller')
    assert prop['action'] == 'set-temperature' and 'service' not in prop

    received = provider.wait_signal('RequestReceived', path=path)
    assert received['argv'][1] == MESSAGE.print_(True), 'delivered byte for byte'
    call.assert_pending()
    reply = valueset(ok=GLib.Variant('b', True))
    provider.respond(path, received.arg(0, 't'), reply).ok()

    responses, failures = answer(call)
    assert responses == {A: {'ok': True}} and failures == {}
    closed = provider.wait_signal('ServiceClosed', path=path)
    assert closed.arg(0, 'u') == 0
    client.barrier()
    assert client.appservice_signals() == [], 'the sender sees nothing but the reply'
    assert bus.get_property(service_path(A), SERVICE_IFACE, 'Connections') == 0


def test_sender_service_in_the_receivers_caller(services_dir, daemon, agents):
    services_dir.write(A, User='lp')
    services_dir.write(B)
    daemon.start()
    sender = spawn_provider(agents, A, uid=LP_UID, gid=LP_GID)
    receiver = spawn_provider(agents, B, auto='echo')

    responses, failures = answer(submit(sender, B, 'ping', MESSAGE))
    assert responses == {B: {'temperature': 21.5, 'unit': 'C'}} and failures == {}
    caller = typed(receiver.wait_signal('ConnectionOpened')['argv'][1])
    assert caller['service'] == ('s', A) and caller['action'] == ('s', 'ping')
    assert caller['uid'] == ('u', LP_UID)


def test_activates_a_stopped_receiver(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(B, Exec=agents.provider_command(B, listener, auto='echo'))
    daemon.start()
    assert bus.get_property(service_path(B), SERVICE_IFACE, 'State') == 'inactive'
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    responses, failures = answer(submit(client, B, 'wake', MESSAGE))
    assert list(responses) == [B] and failures == {}
    provider = listener.accept()
    caller = typed(provider.wait_signal('ConnectionOpened')['argv'][1])
    assert caller['action'] == ('s', 'wake')


def test_one_destination_opening_errors(services_dir, daemon, agents):
    services_dir.write(A, AllowUsers='man')
    services_dir.write(B)  # neither registered nor activatable
    services_dir.write(C, MaxMessageSize=1024)
    daemon.start()
    provider = spawn_provider(agents, A)
    spawn_provider(agents, C)
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    man = agents.spawn('man', uid=MAN_UID, gid=MAN_GID)

    submit(games, A, 'x', MESSAGE).error('NotAuthorized')
    provider.assert_no_signal('ConnectionOpened')
    assert list(answer(submit(man, A, 'x', MESSAGE))[0]) == [A]
    submit(man, B, 'x', MESSAGE).error('AppUnavailable')
    submit(man, 'com.example.nope', 'x', MESSAGE).error('AppServiceUnavailable')
    submit(man, C, 'x', valueset_of_size(1025)).error('MessageSizeTooLarge')
    bus_disable(daemon.bus, A)
    submit(man, A, 'x', MESSAGE).error('DisabledByPolicy')


def bus_disable(bus, name):
    bus.call(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'SetServiceEnabled',
             GLib.Variant('(sb)', (name, False)))


def test_invalid_message(services_dir, daemon, agents):
    services_dir.write(A)
    daemon.start()
    provider = spawn_provider(agents, A)
    client = agents.spawn('client')
    for action in ('', 'a' * 256):
        msg = submit(client, A, action, MESSAGE).error('InvalidMessage')
        assert 'action' in msg
        submit(client, '*', action, MESSAGE).error('InvalidMessage')
    for bad in (valueset([('', GLib.Variant('i', 1))]),
                valueset([('k', GLib.Variant('i', 1)), ('k', GLib.Variant('i', 2))])):
        submit(client, A, 'x', bad).error('InvalidMessage')
        submit(client, '*', 'x', bad).error('InvalidMessage')
    provider.assert_no_signal('ConnectionOpened')
    assert list(answer(submit(client, A, 'é' * 127, MESSAGE))[0]) == [A]


def test_broadcast(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(A, User='lp')                     # the sender's own
    services_dir.write(B)                                # registered, allowed
    services_dir.write(C, AllowUsers='man')              # registered, not allowed for lp
    services_dir.write(D)                                # registered, disabled
    services_dir.write(E, Exec=agents.provider_command(E, listener))  # not registered
    services_dir.write(F, MaxMessageSize=1024)           # registered, too small a limit
    daemon.start()
    sender = spawn_provider(agents, A, uid=LP_UID, gid=LP_GID)
    b = spawn_provider(agents, B)
    c = spawn_provider(agents, C)
    d = spawn_provider(agents, D)
    f = spawn_provider(agents, F)
    bus_disable(bus, D)

    message = valueset_of_size(2000)
    responses, failures = answer(submit(sender, '*', 'hello-all', message))
    assert set(responses) == {B}, responses
    assert set(failures) == {F} and failures[F].startswith(
        'io.appservice1.Error.MessageSizeTooLarge: '), failures
    caller = typed(b.wait_signal('ConnectionOpened')['argv'][1])
    assert caller['service'] == ('s', A) and caller['action'] == ('s', 'hello-all')
    for p in (sender, c, d, f):
        p.assert_no_signal('ConnectionOpened', settle=0)
    assert listener.count() == 0, 'a broadcast starts nothing'
    assert bus.get_property(service_path(E), SERVICE_IFACE, 'State') == 'inactive'

    # Root may broadcast too, and reaches every enabled registered provider.
    root = agents.spawn('root')
    responses, failures = answer(submit(root, '*', 'x', MESSAGE))
    assert set(responses) == {A, B, C, F} and failures == {}, (responses, failures)


def test_broadcast_needs_root_or_a_provider(services_dir, daemon, agents):
    services_dir.write(B)
    daemon.start()
    b = spawn_provider(agents, B)
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    msg = submit(games, '*', 'x', MESSAGE).error('NotAuthorized')
    assert 'root' in msg and 'provider' in msg
    b.assert_no_signal('ConnectionOpened')


def test_broadcast_with_nobody_to_receive(services_dir, daemon, agents):
    services_dir.write(A)
    daemon.start()
    assert answer(submit(agents.spawn('root'), '*', 'x', MESSAGE)) == ({}, {})


def test_timeouts_and_vanishing_receivers_are_failures(services_dir, daemon, agents, bus):
    services_dir.write(A, RequestTimeoutSec=1)
    services_dir.write(B)
    services_dir.write(C)
    daemon.start()
    a = spawn_provider(agents, A, auto='ignore')
    spawn_provider(agents, B, auto='echo')
    c = spawn_provider(agents, C, auto='ignore')
    root = agents.spawn('root')

    call = submit(root, '*', 'x', MESSAGE)
    c.wait_signal('RequestReceived')
    a.wait_signal('RequestReceived')
    c.crash()
    r = call.wait()
    responses, failures = r.unpack(0, 'a{sv}'), r.unpack(1, 'a{ss}')
    assert set(responses) == {B}
    assert failures[A].startswith('io.appservice1.Error.Timeout: '), failures
    assert failures[C].startswith('io.appservice1.Error.Closed: '), failures
    assert within(r.elapsed, 0.9, 3.0), 'answered when the last receiver timed out: %.2f' % r.elapsed

    # One destination: a failure after sending is in failures, not the call's error.
    responses, failures = answer(submit(root, A, 'x', MESSAGE))
    assert responses == {} and failures[A].startswith('io.appservice1.Error.Timeout: ')
    assert bus.get_property(service_path(A), SERVICE_IFACE, 'Connections') == 0


def test_sender_vanishes_mid_broadcast(services_dir, daemon, agents, bus):
    services_dir.write(B)
    services_dir.write(C)
    daemon.start()
    b = spawn_provider(agents, B, auto='ignore')
    c = spawn_provider(agents, C, auto='ignore')
    root = agents.spawn('root')
    submit(root, '*', 'x', MESSAGE)
    rb = b.wait_signal('RequestReceived')
    c.wait_signal('RequestReceived')
    root.crash()
    assert b.wait_signal('ServiceClosed', path=rb['path']).arg(0, 'u') == 1
    c.wait_signal('ServiceClosed')
    b.respond(rb['path'], rb.arg(0, 't'), valueset()).wait().expect_error('UnknownRequest')
    for name in (B, C):
        assert bus.get_property(service_path(name), SERVICE_IFACE, 'Connections') == 0
    # The daemon goes on serving.
    b.auto('echo')
    assert answer(submit(agents.spawn('again'), B, 'x', MESSAGE)) == (
        {B: {'temperature': 21.5, 'unit': 'C'}}, {})


def test_shutdown_answers_a_pending_action(services_dir, daemon, agents):
    services_dir.write(B)
    daemon.start()
    b = spawn_provider(agents, B, auto='ignore')
    root = agents.spawn('root')
    call = submit(root, '*', 'x', MESSAGE)
    b.wait_signal('RequestReceived')
    daemon.stop_clean()
    responses, failures = answer(call)
    assert responses == {} and failures[B].startswith('io.appservice1.Error.Closed: ')
