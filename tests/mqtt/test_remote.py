# SPDX-License-Identifier: LGPL-2.1-or-later
"""Remote app services (services/mqtt/README.md, "3. Remote app services"): a client on one node
opens an app service on another by its node name, through both nodes' brokers and bridges; the
connection works both ways as a local one, values cross byte for byte, failures on the far side
come back as the same errors, and a lost link or node closes (ServiceClosed(3), Closed) at once
when cut and within 2.5 keepalives when silent, never hangs."""

import os
import re
import subprocess
import time

import pytest

from client import (CONNECTION_PATH_RE, GAMES_GID, GAMES_UID, TIME_SCALE, GLib, typed, valueset,
                    valueset_of_size)
import mqttharness as mh

NAME = 'com.example.remote'
APP2APP = 'com.example.app2app'
KEEPALIVE = 5        # the harness's Broker.KeepaliveSec (libmosquitto's least)

# The App2App sample's TestValues (examples/app2app/README.md): each type at its minimum and
# maximum, nulls, strings, arrays.
FLT_MAX = 3.4028234663852886e+38
DBL_MAX = 1.7976931348623157e+308
TEST_VALUES = valueset([
    ('Null', GLib.Variant('av', [])), ('BoolMin', GLib.Variant('b', False)),
    ('BoolMax', GLib.Variant('b', True)), ('CharMin', GLib.Variant('q', 0)),
    ('CharMax', GLib.Variant('q', 65535)), ('ByteMin', GLib.Variant('y', 0)),
    ('ByteMax', GLib.Variant('y', 255)), ('Int16Min', GLib.Variant('n', -32768)),
    ('Int16Max', GLib.Variant('n', 32767)), ('Int32Min', GLib.Variant('i', -2 ** 31)),
    ('Int32Max', GLib.Variant('i', 2 ** 31 - 1)), ('Int64Min', GLib.Variant('x', -2 ** 63)),
    ('Int64Max', GLib.Variant('x', 2 ** 63 - 1)), ('UInt16Min', GLib.Variant('q', 0)),
    ('UInt16Max', GLib.Variant('q', 65535)), ('UInt32Min', GLib.Variant('u', 0)),
    ('UInt32Max', GLib.Variant('u', 2 ** 32 - 1)), ('UInt64Min', GLib.Variant('t', 0)),
    ('UInt64Max', GLib.Variant('t', 2 ** 64 - 1)), ('SingleMin', GLib.Variant('d', -FLT_MAX)),
    ('SingleMax', GLib.Variant('d', FLT_MAX)), ('DoubleMin', GLib.Variant('d', -DBL_MAX)),
    ('DoubleMax', GLib.Variant('d', DBL_MAX)), ('StringNull', GLib.Variant('av', [])),
    ('StringEmpty', GLib.Variant('s', '')), ('String', GLib.Variant('s', 'string')),
    ('Array<Boolean>', GLib.Variant('ab', [False, True])),
    ('Array<Char>', GLib.Variant('aq', [0, 65535])),
    ('Array<Byte>', GLib.Variant('ay', b'\x00\xff')),
    ('Array<Int16>', GLib.Variant('an', [-32768, 32767])),
    ('Array<Int32>', GLib.Variant('ai', [-2 ** 31, 2 ** 31 - 1])),
    ('Array<Int64>', GLib.Variant('ax', [-2 ** 63, 2 ** 63 - 1])),
    ('Array<UInt16>', GLib.Variant('aq', [0, 65535])),
    ('Array<UInt32>', GLib.Variant('au', [0, 2 ** 32 - 1])),
    ('Array<UInt64>', GLib.Variant('at', [0, 2 ** 64 - 1])),
    ('Array<Single>', GLib.Variant('ad', [-FLT_MAX, FLT_MAX])),
    ('Array<Double>', GLib.Variant('ad', [-DBL_MAX, DBL_MAX])),
    ('Array<String>', GLib.Variant('as', ['', 'string', 'foobar'])),
    ('Nested', GLib.Variant('a{sv}', {'Deeper': GLib.Variant('aa{sv}', [
        {'x': GLib.Variant('(yv)', (1, GLib.Variant('s', 'in a tuple')))}])})),
])


def node_option(node):
    return "{'node': <%s>}" % GLib.Variant('s', node).print_(False)


def wire(v):
    return v.get_normal_form().get_data_as_bytes().get_data()


def open_remote(client, node, name=NAME, provider=''):
    return client.open(name, provider, node_option(node))


@pytest.fixture
def pair(cluster):
    """node-a (the provider's) and node-b (the client's)."""
    return cluster.node('node-a'), cluster.node('node-b')


def remote_provider(node, name=NAME, auto='ignore', **keys):
    keys.setdefault('AllowRemote', 'yes')
    return node.provider(name, auto=auto, **keys)


def test_open_both_ways_byte_for_byte(pair):
    a, b = pair
    provider = remote_provider(a)
    client = b.client('games', uid=GAMES_UID, gid=GAMES_GID)

    path = open_remote(client, 'node-a').wait(30).unpack(0, 'o')
    assert re.match(CONNECTION_PATH_RE, path), path
    opened = provider.wait_signal('ConnectionOpened')
    ppath = opened.arg(0, 'o')
    caller = typed(opened['argv'][1])
    remote = caller['remote'][1]
    assert remote['node'] == 'node-b' and remote['principal'] == 'node:node-b', caller
    assert remote['uid'] == GAMES_UID, remote

    # Client -> provider, and the answer back: byte for byte.
    call = client.send_message(path, TEST_VALUES)
    received = provider.wait_signal('RequestReceived', path=ppath)
    assert wire(received.variant(1)) == wire(TEST_VALUES)
    answer = valueset([('Echo', TEST_VALUES)] +
                      [(k, TEST_VALUES.lookup_value(k, None)) for k in ('Int64Min', 'Nested')])
    provider.respond(ppath, received.arg(0, 't'), answer).ok()
    assert wire(call.wait(30).variant(0)) == wire(answer)

    # Provider -> client: the provider speaks first on its side too.
    pcall = provider.send_message(ppath, TEST_VALUES)
    creq = client.wait_signal('RequestReceived', path=path)
    assert wire(creq.variant(1)) == wire(TEST_VALUES)
    client.respond(path, creq.arg(0, 't'), valueset(Thanks=GLib.Variant('s', 'you'))).ok()
    assert pcall.wait(30).unpack(0) == {'Thanks': 'you'}

    # Deferral: two requests in flight, answered in the other order.
    first = client.send_message(path, valueset(N=GLib.Variant('i', 1)))
    second = client.send_message(path, valueset(N=GLib.Variant('i', 2)))
    r1 = provider.wait_signal('RequestReceived', path=ppath)
    r2 = provider.wait_signal('RequestReceived', path=ppath)
    assert {typed(r1['argv'][1])['N'][1], typed(r2['argv'][1])['N'][1]} == {1, 2}
    first.assert_pending()
    for r in (r2, r1):
        n = typed(r['argv'][1])['N'][1]
        provider.respond(ppath, r.arg(0, 't'), valueset(Answer=GLib.Variant('i', n * 10))).ok()
    assert first.wait(30).unpack(0) == {'Answer': 10}
    assert second.wait(30).unpack(0) == {'Answer': 20}

    # Close on one side is ServiceClosed(0) on the other.
    client.close(path).ok()
    assert provider.wait_signal('ServiceClosed', path=ppath).arg(0, 'u') == 0


def test_provider_closes_and_far_failures(pair):
    a, b = pair
    provider = remote_provider(a, RequestTimeoutSec=1)
    client = b.client('games', uid=GAMES_UID, gid=GAMES_GID)
    path = open_remote(client, 'node-a').wait(30).unpack(0, 'o')
    ppath = provider.wait_signal('ConnectionOpened').arg(0, 'o')

    # Unanswered on node-a: Timeout there, the same error on node-b.
    r = client.send_message(path, valueset(Slow=GLib.Variant('b', True))).wait(30)
    r.expect_error('Timeout')
    provider.wait_signal('RequestReceived', path=ppath)

    provider.close(ppath).ok()
    assert client.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 0
    client.send_message(path, valueset(After=GLib.Variant('b', True))).wait(30).expect_error(
        'Closed')


def test_message_over_the_far_limit_never_leaves(pair, cluster):
    a, b = pair
    remote_provider(a, auto='echo', MaxMessageSize=1024)
    frames = cluster.subscriber(['%s/node-a/link/node-b' % mh.PREFIX], 'frames')
    client = b.client('games', uid=GAMES_UID, gid=GAMES_GID)
    path = open_remote(client, 'node-a').wait(30).unpack(0, 'o')
    client.send_message(path, valueset_of_size(1025)).wait(30).expect_error(
        'MessageSizeTooLarge')
    assert client.send_message(path, valueset_of_size(1024)).wait(30).ok
    frames.wait(lambda m: len(m.payload) >= 1024)
    assert len(frames.snapshot(lambda m: len(m.payload) >= 1025)) <= 1, \
        'only the 1024-byte one crossed'
    big = [m for m in frames.snapshot(lambda m: len(m.payload) >= 1024)]
    assert len(big) == 1, big


@pytest.mark.parametrize('how', ['cut', 'blackhole'])
def test_link_lost_mid_request(cluster, how):
    a = cluster.node('node-a')
    b = cluster.node('node-b', proxied=True)
    provider = remote_provider(a)
    client = b.client('games', uid=GAMES_UID, gid=GAMES_GID)
    path = open_remote(client, 'node-a').wait(30).unpack(0, 'o')
    ppath = provider.wait_signal('ConnectionOpened').arg(0, 'o')
    call = client.send_message(path, valueset(Pending=GLib.Variant('b', True)))
    provider.wait_signal('RequestReceived', path=ppath)

    t0 = time.monotonic()
    getattr(b.proxy, how)()
    # README ("3. Remote app services"): a cut TCP connection is noticed at once; a silent link
    # (the black hole) by keepalives only: by this node within 2 keepalives (a PINGREQ without
    # its PINGRESP; libmosquitto counts whole seconds, on a one-second timer), by the other node
    # within about 2.5 (Mosquitto publishes the will 1.5 keepalives after the last packet, on its
    # own timer, which ticks once a second: 9-11.7 s measured at KeepaliveSec=5). The bound is
    # the README's: a second for a cut, 2.5 keepalives and a second for a black hole.
    bound = (1 if how == 'cut' else 2.5 * KEEPALIVE + 1) * TIME_SCALE
    closed = client.wait_signal('ServiceClosed', path=path, timeout=3 * bound)
    pclosed = provider.wait_signal('ServiceClosed', path=ppath, timeout=3 * bound)
    failed = call.wait(3 * bound)
    # The agents stamp each signal with CLOCK_MONOTONIC, the test's clock too.
    t_client, t_provider = closed['time'] - t0, pclosed['time'] - t0
    print('link %s: client closed after %.2f s, provider after %.2f s, the pending request '
          'failed with %s (keepalive %d s)' % (how, t_client, t_provider, failed.error, KEEPALIVE))
    assert closed.arg(0, 'u') == 3 and pclosed.arg(0, 'u') == 3
    failed.expect_error('Closed')
    assert t_client <= bound and t_provider <= bound, \
        'closed after %.2f s (client) and %.2f s (provider), over %.1f s' % (t_client,
                                                                            t_provider, bound)

    # Back: a new connection works.
    restored_at = time.monotonic()
    b.proxy.restore()
    b.wait_status('online', timeout=30, after=restored_at)
    mh.wait_until(lambda: open_remote(client, 'node-a').wait(30).ok, 30,
                  'a new open after the link came back', interval=0.5)


def test_offline_and_unknown_nodes(pair):
    a, b = pair
    remote_provider(a, auto='echo')
    client = b.client('games', uid=GAMES_UID, gid=GAMES_GID)

    r = open_remote(client, 'node-z').wait(30)
    r.expect_error('AppUnavailable')
    assert r.elapsed < 3, 'a node never seen is not online: answered at once (%.2f s)' % r.elapsed

    # A node whose bridge does not answer (stopped, yet online as far as Mosquitto knows, for
    # 1.5 keepalives): AppUnavailable after at most Remote.OpenTimeoutSec (5 s here).
    os.kill(a.bridge.pid, 19)  # SIGSTOP
    try:
        r = open_remote(client, 'node-a').wait(30)
        print('open of a stopped node: %s after %.2f s' % (r.error, r.elapsed))
        r.expect_error('AppUnavailable')
        assert r.elapsed < 5 + 2 * TIME_SCALE, r.elapsed
    finally:
        os.kill(a.bridge.pid, 18)  # SIGCONT
    stopped_at = time.monotonic()
    a.bridge.stop()
    a.wait_status('offline', after=stopped_at)
    r = open_remote(client, 'node-a').wait(30)
    r.expect_error('AppUnavailable')
    assert r.elapsed < 3, 'an offline node answers at once (%.2f s)' % r.elapsed


def test_who_may_open_remotely(cluster):
    a = cluster.node('node-a')
    b = cluster.node('node-b')
    c = cluster.node('node-c')
    services = {
        'com.example.local': ({}, 'NotAuthorized'),
        'com.example.no': ({'AllowRemote': 'no'}, 'NotAuthorized'),
        'com.example.onlyc': ({'AllowRemote': 'yes', 'AllowRemotePrincipals': 'node:node-c'},
                              'NotAuthorized'),
        'com.example.cloudonly': ({'AllowRemote': 'yes', 'AllowRemotePrincipals': 'cloud'},
                                  'NotAuthorized'),
        'com.example.any': ({'AllowRemote': 'yes'}, None),
        'com.example.users': ({'AllowRemote': 'yes', 'AllowUsers': 'man'}, None),
    }
    providers = {name: a.provider(name, auto='echo', **keys)
                 for name, (keys, _) in services.items()}
    from_b = b.client('games', uid=GAMES_UID, gid=GAMES_GID)
    for name, (_, error) in services.items():
        r = open_remote(from_b, 'node-a', name).wait(30)
        if error:
            r.expect_error(error)
            providers[name].assert_no_signal('ConnectionOpened', settle=0)
        else:
            path = r.unpack(0, 'o')
            assert from_b.send_message(path, valueset(x=GLib.Variant('i', 1))).ok(30)
    open_remote(from_b, 'node-a', 'com.example.nosuch').wait(30).expect_error(
        'AppServiceUnavailable')
    # The principal that is allowed gets in.
    from_c = c.client('games', uid=GAMES_UID, gid=GAMES_GID)
    path = open_remote(from_c, 'node-a', 'com.example.onlyc').wait(30).unpack(0, 'o')
    caller = typed(providers['com.example.onlyc'].wait_signal('ConnectionOpened')['argv'][1])
    assert caller['remote'][1]['principal'] == 'node:node-c'
    assert from_c.send_message(path, valueset(x=GLib.Variant('i', 1))).ok(30)


# ---- the App2App sample across two nodes ----------------------------------------------------

APP2APP_DIR = os.environ.get('APP2APP_SERVICES_DIR') or os.path.join(mh.BUILD_ROOT, 'examples',
                                                                      'app2app')
C_CLIENT = os.environ.get('APP2APP_CLIENT') or os.path.join(APP2APP_DIR, 'app2app-client')
PY_CLIENT = os.path.join(mh.SOURCE_ROOT, 'examples', 'app2app', 'app2app-client.py')
LIBCLIENT_DIR = os.environ.get('APPSERVICE_LIBCLIENT_DIR',
                               os.path.join(mh.BUILD_ROOT, 'libclient'))
PYTHON_PRELOAD = os.environ.get('APPSERVICE_PYTHON_PRELOAD', '')


def install_app2app(node):
    """The build tree's App2App definition on `node`, remote clients allowed, with the contract it
    names beside it; the broker reloads."""
    path = os.path.join(APP2APP_DIR, APP2APP + '.appservice')
    if not os.path.exists(path):
        pytest.skip('the App2App sample is not built in %s' % APP2APP_DIR)
    with open(path) as f:
        node.services_dir.write_raw(APP2APP + '.appservice', f.read() + 'AllowRemote=yes\n')
    with open(os.path.join(APP2APP_DIR, APP2APP + '.contract')) as f:
        node.services_dir.write_raw(APP2APP + '.contract', f.read())
    node.bus.call(mh.BUS_NAME, '/io/appservice1', 'io.appservice1.Manager', 'Reload')


@pytest.mark.parametrize('kind', ['c', 'python'])
def test_app2app_across_nodes(pair, kind):
    a, b = pair
    install_app2app(a)
    if kind == 'c':
        argv = [C_CLIENT, '--timeout=%d' % int(20 * TIME_SCALE), '--node=node-a']
    else:
        if not os.path.exists(os.path.join(LIBCLIENT_DIR or '/nonexistent',
                                           'AppService-1.0.typelib')):
            pytest.skip('no AppService-1.0.typelib in %r' % LIBCLIENT_DIR)
        argv = ['/usr/bin/python3', PY_CLIENT, '--timeout=%d' % int(20 * TIME_SCALE),
                '--node=node-a']
    env = {k: v for k, v in os.environ.items()
           if k not in ('DBUS_SESSION_BUS_ADDRESS', 'DBUS_SYSTEM_BUS_ADDRESS', 'PYTHONPATH')}
    env.update(DBUS_SYSTEM_BUS_ADDRESS=b.bus.address, PYTHONDONTWRITEBYTECODE='1', HOME='/',
               PYTHONPATH=APP2APP_DIR)     # the module generated from the contract
    if LIBCLIENT_DIR:
        env.update(GI_TYPELIB_PATH=LIBCLIENT_DIR, LD_LIBRARY_PATH=LIBCLIENT_DIR)
    if kind == 'python' and PYTHON_PRELOAD:
        env['LD_PRELOAD'] = PYTHON_PRELOAD
        env['ASAN_OPTIONS'] = env.get('ASAN_OPTIONS', '') + ':detect_leaks=0'
    # As an unprivileged user on node-b.
    argv = ['setpriv', '--reuid=%d' % GAMES_UID, '--regid=%d' % GAMES_GID, '--clear-groups',
            '--'] + argv
    out = subprocess.run(argv, capture_output=True, text=True, timeout=90 * TIME_SCALE, cwd='/',
                         env=env)
    transcript = '---- stdout ----\n%s\n---- stderr ----\n%s' % (out.stdout, out.stderr)
    assert out.returncode == 0, transcript
    lines = out.stdout.splitlines()
    for want in ('Open status: success', 'Greeting received: Hello from the App2App provider',
                 'Service closed: completed'):
        assert want in lines, '%r missing\n%s' % (want, transcript)
    m = [re.match(r'^(\d+) of (\d+) values compared equal', line) for line in lines]
    m = [x for x in m if x]
    assert m and m[0].group(1) == m[0].group(2) and int(m[0].group(1)) >= 38, transcript


def test_app2app_values_byte_for_byte(pair):
    """TestValues fetched remotely are the very bytes a local client gets."""
    a, b = pair
    install_app2app(a)
    local = a.client('local', uid=GAMES_UID, gid=GAMES_GID)
    remote = b.client('remote', uid=GAMES_UID, gid=GAMES_GID)
    lpath = local.open(APP2APP).wait(30).unpack(0, 'o')
    rpath = open_remote(remote, 'node-a', APP2APP).wait(30).unpack(0, 'o')
    for peer, path in ((local, lpath), (remote, rpath)):
        greeting = peer.wait_signal('RequestReceived', path=path, timeout=30)
        peer.respond(path, greeting.arg(0, 't'), valueset(Greeting=GLib.Variant('s', 'Thank you')))
    ask = valueset(Action=GLib.Variant('s', 'TestValues'))
    here = local.send_message(lpath, ask).wait(30).variant(0)
    there = remote.send_message(rpath, ask).wait(30).variant(0)
    assert here.lookup_value('Values', None).n_children() >= 38
    assert wire(there) == wire(here)
    echo = valueset([('Action', GLib.Variant('s', 'Echo')), ('Values', here.lookup_value('Values', None))])
    back = remote.send_message(rpath, echo).wait(30).variant(0)
    assert wire(back) == wire(here)
    # The provider's broker checks the contract for remote clients too.
    bogus = remote.send_message(rpath, valueset(Command=GLib.Variant('s', 'TestValues'))).wait(30)
    assert 'ContractViolation' in (bogus.error or ''), bogus
    remote.send_message(rpath, valueset(Action=GLib.Variant('s', 'Disconnect'))).ok(30)
    assert remote.wait_signal('ServiceClosed', path=rpath, timeout=30).arg(0, 'u') == 0


def test_remote_requests_by_many_clients(pair):
    """Several clients of node-b on one service of node-a, each with requests in flight: every
    answer reaches its own requester."""
    a, b = pair
    remote_provider(a, auto='echo')
    clients = [b.client('c%d' % i, uid=GAMES_UID, gid=GAMES_GID) for i in range(3)]
    paths = [open_remote(c, 'node-a').wait(30).unpack(0, 'o') for c in clients]
    calls = []
    for n, (c, p) in enumerate(zip(clients, paths)):
        for i in range(20):
            msg = valueset(Client=GLib.Variant('i', n), I=GLib.Variant('i', i))
            calls.append((c.send_message(p, msg), msg))
    for call, msg in calls:
        assert wire(call.wait(30).variant(0)) == wire(msg)
    print('remote echo: %d requests from %d clients answered' % (len(calls), len(clients)))


def test_node_names(pair):
    a, b = pair
    local = remote_provider(b, auto='echo')
    client = b.client('games', uid=GAMES_UID, gid=GAMES_GID)
    # A node name that no topic could carry is refused at once (Manager.OpenConnection, option
    # "node": 1 to 255 letters, digits, ".", "-" or "_").
    for bad in ('a/b', 'a+b', 'a#', 'node-a/../node-b', 'x' * 256, 'caf\u00e9'):
        r = open_remote(client, bad).wait(30)
        r.expect_error('org.freedesktop.DBus.Error.InvalidArgs')
        assert r.elapsed < 3, (bad, r.elapsed)
    # The node's own name, or "", is an ordinary local open.
    for own in ('node-b', ''):
        path = open_remote(client, own).wait(30).unpack(0, 'o')
        caller = typed(local.wait_signal('ConnectionOpened')['argv'][1])
        assert 'remote' not in caller and caller['uid'] == ('u', GAMES_UID), caller
        client.close(path).ok()


def test_far_bridge_killed(pair):
    """node-a's bridge SIGKILLed with a connection open and a request pending: node-b's client
    gets ServiceClosed(3) and Closed (Mosquitto publishes node-a's will at once: its socket
    closed), node-a's provider loses its connection too; a new bridge serves new opens."""
    a, b = pair
    provider = remote_provider(a)
    client = b.client('games', uid=GAMES_UID, gid=GAMES_GID)
    path = open_remote(client, 'node-a').wait(30).unpack(0, 'o')
    ppath = provider.wait_signal('ConnectionOpened').arg(0, 'o')
    call = client.send_message(path, valueset(Pending=GLib.Variant('b', True)))
    provider.wait_signal('RequestReceived', path=ppath)
    t0 = time.monotonic()
    a.bridge.kill()
    closed = client.wait_signal('ServiceClosed', path=path, timeout=10 * TIME_SCALE)
    assert closed.arg(0, 'u') == 3
    call.wait(10 * TIME_SCALE).expect_error('Closed')
    provider.wait_signal('ServiceClosed', path=ppath, timeout=10 * TIME_SCALE)
    print('far bridge killed: client closed after %.2f s' % (closed['time'] - t0))
    a.bridge.start()
    provider.auto('echo')
    path = open_remote(client, 'node-a').wait(30).unpack(0, 'o')
    assert client.send_message(path, valueset(x=GLib.Variant('i', 1))).ok(30)
