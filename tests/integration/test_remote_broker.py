# SPDX-License-Identifier: LGPL-2.1-or-later
"""The broker's side of app services beyond one node (0.3.0): Bridge=, AllowRemote=,
AllowRemotePrincipals=; OpenConnection's options "remote" (a bridge opening for a caller
elsewhere) and "node" (an open for another node, held until the bridge's Accept or Refuse);
Manager.SubmitRemoteAction; Connection.CloseWithStatus and FailRequest. The bridge is a peer
agent registered for a Bridge=yes service as an unprivileged user, so that root's pass through
AllowUsers= never hides a missing check."""

import time

import pytest

from client import (ACCESS_DENIED, BUS_NAME, CONNECTION_IFACE, CONNECTION_PATH_RE, GAMES_GID,
                    GAMES_UID, LP_GID, LP_UID, MAN_GID, MAN_UID, MANAGER_IFACE, MANAGER_PATH, GLib,
                    err, service_path, typed, valueset)
from conftest import within

import re

BRIDGE = 'io.appservice.cloud'
TARGET = 'com.example.app2app'
OTHER = 'com.example.other'
INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs'
V = GLib.Variant

REFUSALS = ['AppServiceUnavailable', 'AppNotInstalled', 'AppUnavailable', 'NotAuthorized',
            'DisabledByPolicy', 'ResourceLimitsExceeded']
FAILURES = ['MessageSizeTooLarge', 'InvalidMessage', 'ResourceLimitsExceeded', 'Timeout', 'Closed',
            'AppUnavailable', 'NotAuthorized', 'ContractViolation']


# ---- helpers ------------------------------------------------------------------------------------

def options(**opts):
    """OpenConnection's a{sv}; values are GLib.Variants (a dict becomes a nested a{sv})."""
    return V('a{sv}', {k: (V('a{sv}', v) if isinstance(v, dict) else v) for k, v in opts.items()})


def remote(principal='cloud', **kw):
    d = {'principal': V('s', principal)}
    d.update(kw)
    return d


def open_with(peer, name, opts, provider=''):
    args = V.new_tuple(V('s', name), V('s', provider), opts)
    return peer.manager('OpenConnection', '(ssa{sv})', args)


def conn_call(peer, path, member, sig='()', args='()'):
    return peer.call(BUS_NAME, path, CONNECTION_IFACE, member, sig, args)


def accept(peer, path):
    return conn_call(peer, path, 'Accept')


def refuse(peer, path, error, message):
    return conn_call(peer, path, 'Refuse', '(ss)', V('(ss)', (error, message)))


def close_with_status(peer, path, status):
    return conn_call(peer, path, 'CloseWithStatus', '(u)', V('(u)', (status,)))


def fail_request(peer, path, request, error, message):
    return conn_call(peer, path, 'FailRequest', '(tss)', V('(tss)', (request, error, message)))


def submit_remote(peer, destination, action, message, rem):
    args = V.new_tuple(V('s', destination), V('s', action), message,
                       rem if isinstance(rem, V) else V('a{sv}', rem))
    return peer.manager('SubmitRemoteAction', '(ssa{sv}a{sv})', args)


def write_bridge(services_dir, **keys):
    keys.setdefault('User', 'lp')
    keys.setdefault('Bridge', 'yes')
    keys.setdefault('RequestTimeoutSec', '1.5')
    services_dir.write(BRIDGE, Provider='io.appservice.Mqtt', **keys)


def spawn_bridge(agents, name=BRIDGE, auto='ignore'):
    b = agents.spawn('bridge', uid=LP_UID, gid=LP_GID, register=name, auto=auto)
    b.wait_registered()
    return b


def spawn_provider(agents, name, auto='echo', uid=None, gid=None):
    p = agents.spawn('provider-' + name.split('.')[-1], uid=uid, gid=gid, register=name, auto=auto)
    p.wait_registered()
    return p


def caller_of(signal):
    return typed(signal['argv'][1])


@pytest.fixture
def node_world(services_dir, daemon, agents):
    """A bridge (Bridge=yes, RequestTimeoutSec=1.5, uid lp) and a client (uid games)."""
    def make(**bridge_keys):
        write_bridge(services_dir, **bridge_keys)
        daemon.start()
        bridge = spawn_bridge(agents)
        client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
        return bridge, client
    return make


def pending_node_open(bridge, client, node='node-b', name=TARGET, provider=''):
    """An open for another node, seen by the bridge: (the call, the connection path, caller)."""
    call = open_with(client, name, options(node=V('s', node)), provider)
    opened = bridge.wait_signal('ConnectionOpened')
    path = opened.arg(0, 'o')
    assert re.match(CONNECTION_PATH_RE, path)
    return call, path, caller_of(opened)


# ---- definition keys ------------------------------------------------------------------------------

def test_several_bridges_warn_and_the_first_by_name_routes(services_dir, daemon, agents):
    write_bridge(services_dir)
    services_dir.write('aaa.bridge', Provider='io.appservice.Other', Bridge='yes', User='lp')
    daemon.start()
    daemon.wait_log(r"app service '%s' also says Bridge=yes; opens for other nodes go to "
                    r"'aaa\.bridge' only" % re.escape(BRIDGE))
    first = spawn_bridge(agents, 'aaa.bridge')
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    call, path, caller = pending_node_open(first, client)
    assert caller['target'][1]['node'] == 'node-b'
    accept(first, path).ok()
    assert call.wait().unpack(0, 'o') == path


def test_bad_remote_keys_skip_the_file(services_dir, daemon, bus):
    services_dir.write(TARGET, AllowRemotePrincipals='cloud bad\x7fword')
    services_dir.write(OTHER, AllowRemote='perhaps')
    services_dir.write('com.example.fine', AllowRemote='yes', AllowRemotePrincipals='cloud node:B')
    daemon.start()
    daemon.wait_log(r'%s\.appservice:\d+: AllowRemotePrincipals' % re.escape(TARGET))
    daemon.wait_log(r'%s\.appservice:\d+: AllowRemote' % re.escape(OTHER))
    assert bus.child_nodes(MANAGER_PATH + '/service') == {'com_2eexample_2efine'}


# ---- OpenConnection "remote" ----------------------------------------------------------------------

def test_remote_option_from_a_non_bridge_is_refused(services_dir, daemon, agents):
    services_dir.write(TARGET, AllowRemote='yes')
    daemon.start()
    provider = spawn_provider(agents, TARGET)  # a registered provider, but of no bridge
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    for peer in (client, provider):
        msg = open_with(peer, TARGET, options(remote=remote())).wait().expect_error('NotAuthorized')
        assert msg == 'only a bridge may open for a remote caller'
        # Garbage says no more: the refusal comes before the option is looked at.
        open_with(peer, TARGET, options(remote={'bogus': V('x', 1)})).wait() \
            .expect_error('NotAuthorized')
        open_with(peer, TARGET, options(remote=V('s', 'cloud'))).wait() \
            .expect_error('NotAuthorized')
    provider.assert_no_signal('ConnectionOpened')


@pytest.mark.parametrize('opts, names', [
    (options(remote=V('s', 'cloud')), "option 'remote' must be of type 'a{sv}'"),
    (options(remote={}), "'principal' is required"),
    (options(remote={'node': V('s', 'B')}), "'principal' is required"),
    (options(remote=remote(uid=V('s', '5'))), "'uid' must be of type 'u'"),
    (options(remote=remote(pid=V('x', 5))), "'pid' must be of type 'u'"),
    (options(remote={'principal': V('u', 1)}), "'principal' must be of type 's'"),
    (options(remote=remote(colour=V('s', 'red'))), "unknown key 'colour'"),
    (options(remote=remote('x' * 256)), "'principal' is 256 bytes long"),
    (options(remote=remote(unit=V('s', 'u' * 300))), "'unit' is 300 bytes long"),
    (options(remote=remote(**{'app-id': V('s', 'é' * 200)})), "'app-id' is 400 bytes long"),
    (options(remote=remote('has space')), "'principal' must be 1 to 255 bytes of printable ASCII"),
    (options(remote=remote('')), "'principal' must be 1 to 255 bytes"),
    (options(remote=remote(), node=V('s', 'node-b')), "'remote' and 'node' cannot be given together"),
    (options(node=V('u', 1)), "option 'node' must be of type 's'"),
    (options(node=V('s', 'bad/node')), "'bad/node' is not a valid node name"),
    (options(node=V('s', 'n' * 256)), 'is not a valid node name'),
], ids=['remote-not-a-dict', 'empty', 'no-principal', 'uid-string', 'pid-int64',
        'principal-uint', 'unknown-key', 'long-principal', 'long-unit', 'long-app-id',
        'principal-space', 'principal-empty', 'with-node', 'node-uint', 'node-slash', 'node-long'])
def test_bridge_passing_garbage(services_dir, daemon, agents, opts, names):
    services_dir.write(TARGET, AllowRemote='yes')
    write_bridge(services_dir)
    daemon.start()
    provider = spawn_provider(agents, TARGET)
    bridge = spawn_bridge(agents)
    msg = open_with(bridge, TARGET, opts).wait().expect_error(INVALID_ARGS)
    assert names in msg, msg
    provider.assert_no_signal('ConnectionOpened')


def test_repeated_remote_key_is_refused(services_dir, daemon, agents):
    services_dir.write(TARGET, AllowRemote='yes')
    write_bridge(services_dir)
    daemon.start()
    bridge = spawn_bridge(agents)
    rem = valueset([('principal', V('s', 'cloud')), ('principal', V('s', 'node:B'))])
    opts = valueset([('remote', rem)])
    assert "'principal' is given twice" in open_with(bridge, TARGET, opts).wait() \
        .expect_error(INVALID_ARGS)
    opts = valueset([('node', V('s', 'a')), ('node', V('s', 'b'))])
    assert "option 'node' is given twice" in open_with(bridge, TARGET, opts).wait() \
        .expect_error(INVALID_ARGS)
    # Unknown options are still ignored, however many.
    services_dir.write(OTHER)
    opts = valueset([('x%d' % i, V('s', 'y')) for i in range(2000)])
    open_with(bridge, 'no.such.service', opts).wait().expect_error('AppServiceUnavailable')


def test_remote_open_checks_allow_remote_not_allow_users(services_dir, daemon, agents):
    # The bridge runs as lp: AllowUsers=games would shut it out as a local caller.
    services_dir.write(TARGET, AllowUsers='games', AllowRemote='yes',
                       AllowRemotePrincipals='cloud node:B')
    services_dir.write(OTHER, AllowUsers='lp')  # AllowRemote= defaults to no
    write_bridge(services_dir)
    daemon.start()
    target = spawn_provider(agents, TARGET, auto='echo')
    other = spawn_provider(agents, OTHER)
    bridge = spawn_bridge(agents)

    open_with(bridge, TARGET, options()).wait().expect_error('NotAuthorized')
    msg = open_with(bridge, OTHER, options(remote=remote())).wait().expect_error('NotAuthorized')
    assert msg == "app service '%s' does not allow remote callers" % OTHER
    msg = open_with(bridge, TARGET, options(remote=remote('node:C'))).wait() \
        .expect_error('NotAuthorized')
    assert msg == "app service '%s' does not allow the remote principal 'node:C'" % TARGET
    assert 'cloud' not in msg and 'node:B' not in msg, 'the list is nobody\'s business'
    other.assert_no_signal('ConnectionOpened')
    target.assert_no_signal('ConnectionOpened')

    rem = remote('node:B', node=V('s', 'B'), uid=V('u', 1000), gid=V('u', 100), pid=V('u', 42),
                 **{'app-id': V('s', 'org.example.App'), 'unit': V('s', 'app.service')})
    path = open_with(bridge, TARGET, options(remote=rem)).wait().unpack(0, 'o')
    caller = caller_of(target.wait_signal('ConnectionOpened'))
    assert caller['uid'] == ('u', LP_UID) and caller['pid'] == ('u', bridge.pid), \
        "the bridge's own identity"
    assert caller['remote'] == ('a{sv}', {'principal': 'node:B', 'node': 'B', 'uid': 1000,
                                          'gid': 100, 'pid': 42, 'app-id': 'org.example.App',
                                          'unit': 'app.service'})
    assert bridge.get_value(path, CONNECTION_IFACE, 'Caller')['remote']['principal'] == 'node:B'
    # An ordinary connection from here on.
    r = bridge.send_message(path, valueset(hello=V('s', 'world'))).wait()
    assert r.unpack(0, 'a{sv}') == {'hello': 'world'}


def test_remote_open_keeps_the_order_of_checks(services_dir, daemon, agents, bus):
    services_dir.write(TARGET, AllowRemote='no')
    write_bridge(services_dir)
    daemon.start()
    bridge = spawn_bridge(agents)
    opts = options(remote=remote())
    open_with(bridge, 'no.such.app', opts).wait().expect_error('AppServiceUnavailable')
    open_with(bridge, TARGET, opts, provider='com.example.Wrong').wait() \
        .expect_error('AppNotInstalled')
    bus.call(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'SetServiceEnabled', V('(sb)', (TARGET, False)))
    open_with(bridge, TARGET, opts).wait().expect_error('DisabledByPolicy')
    bus.call(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'SetServiceEnabled', V('(sb)', (TARGET, True)))
    open_with(bridge, TARGET, opts).wait().expect_error('NotAuthorized')


def test_remote_opens_count_against_the_bridge_peer(services_dir, daemon, agents):
    services_dir.write(TARGET, AllowRemote='yes', MaxConnectionsPerPeer=2)
    write_bridge(services_dir)
    daemon.start()
    spawn_provider(agents, TARGET)
    bridge = spawn_bridge(agents)
    for principal in ('node:B', 'node:C'):
        open_with(bridge, TARGET, options(remote=remote(principal))).wait().expect_ok()
    msg = open_with(bridge, TARGET, options(remote=remote('node:D'))).wait() \
        .expect_error('ResourceLimitsExceeded')
    assert 'MaxConnectionsPerPeer' in msg


# ---- SubmitRemoteAction ---------------------------------------------------------------------------

MESSAGE = valueset(temperature=V('d', 21.5))


def test_submit_remote_action(services_dir, daemon, agents):
    services_dir.write(TARGET, AllowUsers='games', AllowRemote='yes', AllowRemotePrincipals='cloud')
    services_dir.write(OTHER)
    write_bridge(services_dir)
    daemon.start()
    target = spawn_provider(agents, TARGET, auto='echo')
    spawn_provider(agents, OTHER)
    bridge = spawn_bridge(agents)
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)

    # Not a bridge: a plain client, and a registered provider of an ordinary service.
    msg = submit_remote(client, TARGET, 'set', MESSAGE, remote()).wait().expect_error('NotAuthorized')
    assert msg == 'only a bridge may submit an action for a remote caller'
    assert "not to every one" in submit_remote(bridge, '*', 'set', MESSAGE, remote()).wait() \
        .expect_error(INVALID_ARGS)
    assert "unknown key 'x'" in submit_remote(bridge, TARGET, 'set', MESSAGE,
                                              remote(x=V('s', 'y'))).wait().expect_error(INVALID_ARGS)
    assert "'principal' is required" in submit_remote(bridge, TARGET, 'set', MESSAGE, {}) \
        .wait().expect_error(INVALID_ARGS)
    submit_remote(bridge, 'no.such.app', 'set', MESSAGE, remote()).wait() \
        .expect_error('AppServiceUnavailable')
    submit_remote(bridge, TARGET, '', MESSAGE, remote()).wait().expect_error('InvalidMessage')
    assert 'does not allow remote callers' in submit_remote(bridge, OTHER, 'set', MESSAGE,
                                                            remote()).wait() \
        .expect_error('NotAuthorized')
    assert "remote principal 'node:B'" in submit_remote(bridge, TARGET, 'set', MESSAGE,
                                                        remote('node:B')).wait() \
        .expect_error('NotAuthorized')
    target.assert_no_signal('ConnectionOpened')

    r = submit_remote(bridge, TARGET, 'set', MESSAGE, remote(uid=V('u', 7))).wait()
    assert r.unpack(0, 'a{sv}') == {TARGET: {'temperature': 21.5}} and r.unpack(1, 'a{ss}') == {}
    caller = caller_of(target.wait_signal('ConnectionOpened'))
    assert caller['action'] == ('s', 'set') and caller['service'] == ('s', BRIDGE)
    assert caller['remote'] == ('a{sv}', {'principal': 'cloud', 'uid': 7})
    assert caller['uid'] == ('u', LP_UID)


# ---- OpenConnection "node" ------------------------------------------------------------------------

def test_node_open_without_a_bridge(services_dir, daemon, agents, bus):
    services_dir.write(TARGET)
    daemon.start()
    provider = spawn_provider(agents, TARGET)
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    msg = open_with(client, TARGET, options(node=V('s', 'node-b'))).wait() \
        .expect_error('AppServiceUnavailable')
    assert msg == "node 'node-b': no bridge to other nodes is declared (Bridge=yes)"
    # "" and this node's own name are local opens.
    own = bus.get_property(MANAGER_PATH, MANAGER_IFACE, 'NodeName')
    for node in ('', own):
        open_with(client, TARGET, options(node=V('s', node))).wait().expect_ok()
    # The provider's signals travel apart from the client's replies: wait for both, not count.
    for _ in range(2):
        provider.wait_signal('ConnectionOpened')
    provider.barrier()
    assert len(provider.signals('ConnectionOpened')) == 2


def test_node_open_checks_names_and_the_bridge_service(node_world, bus):
    bridge, client = node_world(AllowUsers='man')
    msg = open_with(client, TARGET, options(node=V('s', 'node-b'))).wait() \
        .expect_error('NotAuthorized')
    assert BRIDGE in msg and 'AllowUsers' in msg, 'the bridge service decides who may go out'
    bridge.assert_no_signal('ConnectionOpened')


def test_node_open_bad_target_names(node_world, agents):
    bridge, _ = node_world()
    client = agents.spawn('client-root')
    msg = open_with(client, 'x', options(node=V('s', 'node-b'))).wait() \
        .expect_error('AppServiceUnavailable')
    assert "'x' is not a valid app service name" in msg
    msg = open_with(client, TARGET, options(node=V('s', 'node-b')), provider='bad provider') \
        .wait().expect_error('AppNotInstalled')
    assert "'bad provider' is not a valid provider id" in msg
    bridge.assert_no_signal('ConnectionOpened')


def test_node_open_accepted(node_world, bus):
    bridge, client = node_world()
    call, path, caller = pending_node_open(bridge, client, provider='com.example.App')
    assert caller['target'] == ('a{sv}', {'node': 'node-b', 'name': TARGET,
                                          'provider': 'com.example.App'})
    assert caller['uid'] == ('u', GAMES_UID) and caller['pid'] == ('u', client.pid)
    assert bridge.get_value(path, CONNECTION_IFACE, 'Caller')['target']['name'] == TARGET
    call.assert_pending()

    # Not the client's yet: it guesses the path and gets what a stranger gets.
    for r in (client.send_message(path, valueset(a=V('s', 'b'))).wait(),
              conn_call(client, path, 'Close').wait(),
              client.get(path, CONNECTION_IFACE, 'Caller').wait(),
              accept(client, path).wait()):
        r.expect_error(ACCESS_DENIED)
    msg = bridge.send_message(path, valueset(a=V('s', 'b'))).wait().expect_error('UnknownRequest')
    assert 'waiting to be accepted' in msg
    call.assert_pending()

    accept(bridge, path).ok()
    assert call.wait().unpack(0, 'o') == path
    accept(bridge, path).wait().expect_error('UnknownRequest')
    refuse(bridge, path, err('AppUnavailable'), 'late').wait().expect_error('UnknownRequest')

    # Both ways, as any connection.
    to_bridge = client.send_message(path, valueset(q=V('s', 'ping')))
    req = bridge.wait_signal('RequestReceived', path=path)
    bridge.respond(path, req.arg(0, 't'), valueset(a=V('s', 'pong'))).ok()
    assert to_bridge.wait().unpack(0, 'a{sv}') == {'a': 'pong'}
    client.auto('echo')
    r = bridge.send_message(path, valueset(q=V('s', 'back'))).wait()
    assert r.unpack(0, 'a{sv}') == {'q': 'back'}

    close_with_status(bridge, path, 3).ok()
    assert client.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 3
    assert not bus.connection_alive(path)


@pytest.mark.parametrize('error', REFUSALS)
def test_node_open_refused(node_world, bus, error):
    bridge, client = node_world()
    call, path, _ = pending_node_open(bridge, client)
    refuse(bridge, path, err(error), 'app service is not here').ok()
    msg = call.wait().expect_error(error)
    assert msg == "node 'node-b': app service is not here"
    assert not bus.connection_alive(path)
    client.assert_no_signal('ServiceClosed')
    bridge.assert_no_signal('ServiceClosed')
    accept(bridge, path).wait().expect_error('UnknownRequest')


@pytest.mark.parametrize('error, message', [
    ('io.appservice1.Error.Timeout', 'a request error, not an open one'),
    ('io.appservice1.Error.NoSuchThing', 'made up'),
    ('org.freedesktop.DBus.Error.AccessDenied', 'not ours to give'),
    ('', 'empty'),
    (err('AppUnavailable'), 'm' * 1025),
], ids=['timeout', 'made-up', 'foreign', 'empty', 'long-message'])
def test_node_open_refused_badly(node_world, error, message):
    bridge, client = node_world()
    call, path, _ = pending_node_open(bridge, client)
    refuse(bridge, path, error, message).wait().expect_error(INVALID_ARGS)
    call.assert_pending()
    refuse(bridge, path, err('NotAuthorized'), 'm' * 1024).ok()
    call.wait().expect_error('NotAuthorized')


def test_node_open_not_answered(node_world, bus):
    bridge, client = node_world()
    call, path, _ = pending_node_open(bridge, client)
    t0 = time.monotonic()
    r = call.wait()
    elapsed = time.monotonic() - t0
    assert r.expect_error('AppUnavailable') == "node 'node-b' did not answer within 1.5 s"
    assert within(elapsed, 1.2, 3.0), elapsed
    assert bridge.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 1
    assert not bus.connection_alive(path)
    accept(bridge, path).wait().expect_error('UnknownRequest')


@pytest.mark.parametrize('how', ['crash', 'unregister', 'close', 'close-with-status'])
def test_node_open_bridge_goes_first(node_world, bus, how):
    bridge, client = node_world()
    call, path, _ = pending_node_open(bridge, client)
    if how == 'crash':
        bridge.crash()
        why = 'the bridge left the bus'
    elif how == 'unregister':
        bridge.unregister(BRIDGE).ok()
        why = 'the bridge closed the connection or stopped serving'
    elif how == 'close':
        conn_call(bridge, path, 'Close').ok()
        why = 'the bridge closed the connection or stopped serving'
    else:
        close_with_status(bridge, path, 2).ok()
        why = 'the bridge closed the connection or stopped serving'
    msg = call.wait().expect_error('AppUnavailable')
    assert msg == "node 'node-b': the open ended before the bridge accepted it (%s)" % why
    client.assert_no_signal('ServiceClosed')
    if how != 'crash':
        bridge.assert_no_signal('ServiceClosed')
    assert not bus.connection_alive(path)


def test_node_open_client_goes_first(node_world, bus):
    bridge, client = node_world()
    _, path, _ = pending_node_open(bridge, client)
    client.crash()
    assert bridge.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 1
    bus.wait_for(lambda: not bus.connection_alive(path), what='the connection gone')
    accept(bridge, path).wait().expect_error('UnknownRequest')


def test_node_open_waits_for_the_bridge_to_start(services_dir, daemon, agents):
    listener = agents.listener()
    write_bridge(services_dir, User=None,
                 Exec=agents.provider_command(BRIDGE, listener, auto='ignore'))
    daemon.start()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    call = open_with(client, TARGET, options(node=V('s', 'node-b')))
    bridge = listener.accept()
    path = bridge.wait_signal('ConnectionOpened').arg(0, 'o')
    accept(bridge, path).ok()
    assert call.wait().unpack(0, 'o') == path


def test_many_pending_opens_are_bounded(node_world, bus):
    bridge, client = node_world(MaxConnectionsPerPeer=3, RequestTimeoutSec=5)
    pending = [pending_node_open(bridge, client, node='n%d' % i) for i in range(3)]
    msg = open_with(client, TARGET, options(node=V('s', 'n3'))).wait() \
        .expect_error('ResourceLimitsExceeded')
    assert 'MaxConnectionsPerPeer' in msg
    assert bus.get_property(service_path(BRIDGE), 'io.appservice1.Service', 'Connections') == 3
    # Refusing one frees its place.
    call, path, _ = pending[0]
    refuse(bridge, path, err('AppUnavailable'), 'node n0 is offline').ok()
    call.wait().expect_error('AppUnavailable')
    pending_node_open(bridge, client, node='n4')


def test_node_open_monitor_events(node_world, agents, daemon):
    bridge, client = node_world()
    monitor = agents.spawn('monitor')
    monitor.manager('StartMonitoring', '(a{sv})', '(@a{sv} {},)').ok()
    call, path, _ = pending_node_open(bridge, client)
    refuse(bridge, path, err('NotAuthorized'), 'no').ok()
    call.wait().expect_error('NotAuthorized')
    opened = monitor.wait_signal('MonitorEvent', predicate=lambda e: e['argv'][0] == "'connection-opened'")
    details = opened.arg(1, 'a{sv}')
    assert details['connection'] == path and details['caller']['target']['node'] == 'node-b'
    closed = monitor.wait_signal('MonitorEvent', predicate=lambda e: e['argv'][0] == "'connection-closed'")
    assert closed.arg(1, 'a{sv}')['connection'] == path


# ---- Accept, Refuse and FailRequest from the wrong peer -------------------------------------------

def test_accept_and_refuse_from_others(services_dir, daemon, agents, bus):
    services_dir.write(TARGET)
    write_bridge(services_dir)
    daemon.start()
    provider = spawn_provider(agents, TARGET, auto='ignore')
    bridge = spawn_bridge(agents)
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    stranger = agents.spawn('stranger', uid=MAN_UID, gid=MAN_GID)

    # An ordinary connection: neither endpoint is a bridge.
    path = client.open_ok(TARGET)
    provider.wait_signal('ConnectionOpened')
    for peer in (client, provider, stranger):
        accept(peer, path).wait().expect_error(ACCESS_DENIED)
        refuse(peer, path, err('AppUnavailable'), 'no').wait().expect_error(ACCESS_DENIED)

    # A pending open for another node: only the bridge may answer it.
    call, pending, _ = pending_node_open(bridge, client)
    for peer in (client, provider, stranger):
        accept(peer, pending).wait().expect_error(ACCESS_DENIED)
        refuse(peer, pending, err('AppUnavailable'), 'no').wait().expect_error(ACCESS_DENIED)
    # ... and not on a connection that is not the bridge's.
    accept(bridge, path).wait().expect_error(ACCESS_DENIED)
    # An ordinary local connection to the bridge's service waits for nothing.
    local = client.open_ok(BRIDGE)
    accept(bridge, local).wait().expect_error('UnknownRequest')
    accept(client, local).wait().expect_error(ACCESS_DENIED)
    call.assert_pending()
    accept(bridge, pending).ok()
    call.wait().expect_ok()


# ---- CloseWithStatus ------------------------------------------------------------------------------

@pytest.mark.parametrize('status', [0, 1, 2, 3])
@pytest.mark.parametrize('closer', ['client', 'provider'])
def test_close_with_status(services_dir, daemon, agents, bus, status, closer):
    services_dir.write(TARGET)
    daemon.start()
    provider = spawn_provider(agents, TARGET, auto='ignore')
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(TARGET)
    provider.wait_signal('ConnectionOpened')
    pending = client.send_message(path, valueset(a=V('s', 'b')))
    provider.wait_signal('RequestReceived', path=path)
    closing, other = (client, provider) if closer == 'client' else (provider, client)
    close_with_status(closing, path, status).ok()
    assert other.wait_signal('ServiceClosed', path=path).arg(0, 'u') == status
    closing.assert_no_signal('ServiceClosed')
    pending.wait().expect_error('Closed')
    assert not bus.connection_alive(path)
    close_with_status(closing, path, status).wait().expect_error('Closed')


def test_close_with_bad_status(services_dir, daemon, agents, bus):
    services_dir.write(TARGET)
    daemon.start()
    provider = spawn_provider(agents, TARGET, auto='ignore')
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    stranger = agents.spawn('stranger', uid=MAN_UID, gid=MAN_GID)
    path = client.open_ok(TARGET)
    for status in (4, 0xffffffff):
        assert 'is not a ServiceClosed status' in close_with_status(client, path, status).wait() \
            .expect_error(INVALID_ARGS)
    close_with_status(stranger, path, 1).wait().expect_error(ACCESS_DENIED)
    assert bus.connection_alive(path)
    provider.assert_no_signal('ServiceClosed')


# ---- FailRequest ----------------------------------------------------------------------------------

@pytest.mark.parametrize('error', FAILURES)
def test_fail_request(node_world, error):
    bridge, client = node_world(RequestTimeoutSec=10)
    path = client.open_ok(BRIDGE)  # a local connection to the bridge's own service
    call = client.send_message(path, valueset(q=V('s', 'to the cloud')))
    req = bridge.wait_signal('RequestReceived', path=path).arg(0, 't')
    fail_request(bridge, path, req, err(error), 'it failed on node-b').ok()
    assert call.wait().expect_error(error) == 'it failed on node-b'
    fail_request(bridge, path, req, err(error), 'twice').wait().expect_error('UnknownRequest')
    bridge.respond(path, req, valueset(a=V('s', 'late'))).wait().expect_error('UnknownRequest')


def test_fail_request_refusals(services_dir, daemon, agents):
    services_dir.write(TARGET, AllowRemote='yes')
    write_bridge(services_dir, RequestTimeoutSec=10)
    daemon.start()
    target = spawn_provider(agents, TARGET, auto='ignore')
    bridge = spawn_bridge(agents)
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    stranger = agents.spawn('stranger', uid=MAN_UID, gid=MAN_GID)

    # The provider of an ordinary service is no bridge.
    path = client.open_ok(TARGET)
    call = client.send_message(path, valueset(q=V('s', 'x')))
    req = target.wait_signal('RequestReceived', path=path).arg(0, 't')
    assert 'only a bridge may fail a request' in fail_request(target, path, req, err('Timeout'), 'no') \
        .wait().expect_error('NotAuthorized')
    fail_request(stranger, path, req, err('Timeout'), 'no').wait().expect_error(ACCESS_DENIED)
    call.assert_pending()
    target.respond(path, req, valueset(a=V('s', 'b'))).ok()
    call.ok()

    # On the bridge's own connection: the client is no bridge; bad errors and unknown ids.
    local = client.open_ok(BRIDGE)
    client.auto('ignore')
    from_bridge = bridge.send_message(local, valueset(q=V('s', 'y')))
    req = client.wait_signal('RequestReceived', path=local).arg(0, 't')
    fail_request(client, local, req, err('Timeout'), 'no').wait().expect_error('NotAuthorized')
    to_bridge = client.send_message(local, valueset(q=V('s', 'z')))
    req2 = bridge.wait_signal('RequestReceived', path=local).arg(0, 't')
    fail_request(bridge, local, req, err('Timeout'), 'not mine').wait() \
        .expect_error('UnknownRequest')
    fail_request(bridge, local, 123456789, err('Timeout'), 'no such').wait() \
        .expect_error('UnknownRequest')
    for error, message in ((err('AppServiceUnavailable'), 'an open error'),
                           ('io.appservice1.Error.Bogus', 'made up'), (err('Timeout'), 'x' * 1025)):
        fail_request(bridge, local, req2, error, message).wait().expect_error(INVALID_ARGS)
    to_bridge.assert_pending()
    fail_request(bridge, local, req2, err('Timeout'), 'y' * 1024).ok()
    assert to_bridge.wait().expect_error('Timeout') == 'y' * 1024
    client.respond(local, req, valueset(ok=V('b', True))).ok()
    from_bridge.ok()

    # The client end of a connection the bridge opened for a remote caller is the bridge's too.
    rpath = open_with(bridge, TARGET, options(remote=remote())).wait().unpack(0, 'o')
    call = target.send_message(rpath, valueset(q=V('s', 'to node-b')))
    req = bridge.wait_signal('RequestReceived', path=rpath).arg(0, 't')
    fail_request(bridge, rpath, req, err('Closed'), 'node-b went away').ok()
    assert call.wait().expect_error('Closed') == 'node-b went away'


def test_fail_request_on_one_shots(node_world, agents):
    bridge, client = node_world(RequestTimeoutSec=10)
    call = client.service_send(BRIDGE, valueset(m=V('s', 'spool me')))
    opened = bridge.wait_signal('ConnectionOpened')
    path = opened.arg(0, 'o')
    req = bridge.wait_signal('RequestReceived', path=path).arg(0, 't')
    fail_request(bridge, path, req, err('ResourceLimitsExceeded'), 'the spool is full').ok()
    assert call.wait().expect_error('ResourceLimitsExceeded') == 'the spool is full'
    assert bridge.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 0

    args = V.new_tuple(V('s', BRIDGE), V('s', 'submit'), valueset(m=V('s', 'x')))
    action = client.manager('SubmitAction', '(ssa{sv})', args)
    path = bridge.wait_signal('ConnectionOpened').arg(0, 'o')
    req = bridge.wait_signal('RequestReceived', path=path).arg(0, 't')
    fail_request(bridge, path, req, err('Timeout'), 'no PUBACK').ok()
    r = action.wait()
    assert r.unpack(0, 'a{sv}') == {}
    assert r.unpack(1, 'a{ss}') == {BRIDGE: err('Timeout') + ': no PUBACK'}
