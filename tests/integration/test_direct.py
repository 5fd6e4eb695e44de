# SPDX-License-Identifier: LGPL-2.1-or-later
"""Direct links, the broker's half: Manager.OpenDirectConnection, RegisterProvider's
"direct-links", Service.DirectConnectionOpened, Connection.Direct, AllowDirect= in a definition
and in appserviced.conf. The broker hands each endpoint one end of a socket pair after all its
opening checks, keeps none, and still owns the connection's life. What the ends then say to each
other (io.appservice1.Link) is the library's, tested in tests/libclient."""

import os
import re
import time

import pytest

from client import (ACCESS_DENIED, BUS_NAME, CONNECTION_IFACE, CONNECTION_PATH_RE, DEFAULT_WAIT,
                    ECHO, ECHO_PATH, GAMES_GID, GAMES_UID, LP_GID, LP_UID, MAN_GID, MAN_UID,
                    MANAGER_IFACE, MANAGER_PATH, PROPERTIES_IFACE, GLib, valueset)

V = GLib.Variant
INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs'


# ---- helpers ------------------------------------------------------------------------------------

def open_direct(peer, name=ECHO, provider='', opts=None):
    """OpenDirectConnection; the reply's fd (if any) is kept by the agent under the call's tag."""
    args = V.new_tuple(V('s', name), V('s', provider), opts or V('a{sv}', {}))
    return peer.manager('OpenDirectConnection', '(ssa{sv})', args, keep_fds=True)


def opened_direct(peer, name=ECHO):
    """(path, link a{sv}, fd key) of a successful OpenDirectConnection."""
    call = open_direct(peer, name)
    r = call.wait()
    r.expect_ok()
    path, link = r.unpack(0, 'o'), r.unpack(1, 'a{sv}')
    assert re.match(CONNECTION_PATH_RE, path), path
    return path, link, (call.tag if r.n_fds else None), r.n_fds


def spawn_provider(agents, name=ECHO, direct=True, uid=LP_UID, gid=LP_GID, auto='echo'):
    # It unregisters and exits on StopRequested, as a well-behaved provider does.
    p = agents.spawn('provider', uid=uid, gid=gid, register=name, auto=auto,
                     extra=(['--register-direct'] if direct else []) + ['--on-stop', 'exit'])
    p.wait_registered()
    return p


def get_property(peer, path, name):
    return peer.call(BUS_NAME, path, PROPERTIES_IFACE, 'Get', '(ss)',
                     '(%r, %r)' % (CONNECTION_IFACE, name))


def daemon_fds(daemon):
    return len(os.listdir('/proc/%d/fd' % daemon.pid))


def assert_daemon_fds(daemon, want):
    """The broker's fd count comes back to `want`: a reply that carries a link's end holds its fd
    until the bus has read it, which on a loaded machine (valgrind, tests side by side) may be a
    moment after the caller has its reply."""
    deadline = time.monotonic() + DEFAULT_WAIT
    while daemon_fds(daemon) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    assert daemon_fds(daemon) == want


@pytest.fixture
def direct_world(services_dir, daemon, agents):
    """direct_world(**keys): echo's definition (User=lp, and the keys), the broker, a provider
    (uid lp) that registered with "direct-links", and a client running as games."""
    def make(direct=True, daemon_args=None, **keys):
        keys.setdefault('User', 'lp')
        services_dir.write(ECHO, **keys)
        daemon.start(daemon_args)
        provider = spawn_provider(agents, direct=direct)
        client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
        return provider, client
    return make


# ---- the link is made ---------------------------------------------------------------------------

def test_each_end_gets_one_socket_of_a_pair(direct_world):
    provider, client = direct_world(MaxMessageSize=65536, MaxPendingRequests=7,
                                    RequestTimeoutSec=9)
    path, link, key, n_fds = opened_direct(client)
    assert n_fds == 1
    assert set(link) == {'fd', 'max-message-size', 'max-pending-requests', 'request-timeout-usec'}
    assert link['max-message-size'] == 65536
    assert link['max-pending-requests'] == 7
    assert link['request-timeout-usec'] == 9 * 1000000

    opened = provider.wait_signal('DirectConnectionOpened')
    assert opened.arg(0, 'o') == path
    caller = opened.arg(1, 'a{sv}')
    assert caller['uid'] == GAMES_UID and caller['gid'] == GAMES_GID
    plink = opened.arg(2, 'a{sv}')
    assert {k: v for k, v in plink.items() if k != 'fd'} == \
        {k: v for k, v in link.items() if k != 'fd'}
    pkey = opened['fds_key']
    provider.assert_no_signal('ConnectionOpened')

    # The two fds are the two ends of one socket: bytes go both ways, and nothing else is there.
    client.fd_write(key, b'client to provider')
    assert provider.fd_read(pkey) == b'client to provider'
    provider.fd_write(pkey, b'and back')
    assert client.fd_read(key) == b'and back'
    # Closing one end is the other's end of file.
    client.fd_close(key)
    assert provider.fd_read(pkey) == b''


def test_the_connection_is_the_brokers_as_any_other(direct_world, agents):
    provider, client = direct_world()
    monitor = agents.spawn('monitor')
    monitor.manager('StartMonitoring', '(a{sv})', '(@a{sv} {},)').ok()
    path, link, key, _ = opened_direct(client)
    provider.wait_signal('DirectConnectionOpened')

    assert get_property(client, path, 'Direct').wait().unpack(0) is True
    assert get_property(provider, path, 'Direct').wait().unpack(0) is True
    service = client.call(BUS_NAME, ECHO_PATH, PROPERTIES_IFACE, 'Get', '(ss)',
                          "('io.appservice1.Service', 'Connections')").wait().unpack(0)
    assert service == 1
    # A bystander learns nothing about it, as about any connection.
    bystander = agents.spawn('bystander', uid=MAN_UID, gid=MAN_GID)
    get_property(bystander, path, 'Direct').wait().expect_error(ACCESS_DENIED)
    ev = monitor.wait_signal('MonitorEvent', predicate=lambda s: s.arg(0, 's') ==
                             'connection-opened').arg(1, 'a{sv}')
    assert ev['connection'] == path and ev['direct'] is True

    # Messages through the broker still work on it (the library uses the link alone).
    reply = client.send_message(path, valueset(Text=V('s', 'via the broker'))).wait()
    assert reply.expect_ok()

    client.close(path).ok()
    assert provider.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 0
    ev = monitor.wait_signal('MonitorEvent', predicate=lambda s: s.arg(0, 's') ==
                             'connection-closed').arg(1, 'a{sv}')
    assert ev['connection'] == path


def test_a_plain_open_of_a_direct_provider_stays_brokered(direct_world):
    provider, client = direct_world()
    path = client.open_ok(ECHO)
    opened = provider.wait_signal('ConnectionOpened')
    assert opened.arg(0, 'o') == path
    provider.assert_no_signal('DirectConnectionOpened')
    assert get_property(client, path, 'Direct').wait().unpack(0) is False


# ---- when there is no link ----------------------------------------------------------------------

def brokered_open(provider, client):
    call = open_direct(client)
    r = call.wait()
    r.expect_ok()
    path, link = r.unpack(0, 'o'), r.unpack(1, 'a{sv}')
    assert r.n_fds == 0
    assert list(link) == ['brokered'], link
    assert provider.wait_signal('ConnectionOpened').arg(0, 'o') == path
    provider.assert_no_signal('DirectConnectionOpened')
    assert get_property(client, path, 'Direct').wait().unpack(0) is False
    # An ordinary brokered connection: messages pass the broker.
    assert client.send_message(path, valueset(Text=V('s', 'hi'))).wait().expect_ok()
    return link['brokered']


def test_a_provider_without_direct_links_gets_a_brokered_connection(direct_world):
    provider, client = direct_world(direct=False)
    assert brokered_open(provider, client) == \
        'the provider did not register with "direct-links"'


def test_allow_direct_no_in_the_definition(direct_world):
    provider, client = direct_world(AllowDirect='no')
    assert brokered_open(provider, client) == 'its definition says AllowDirect=no'


def test_allow_direct_no_in_appserviced_conf(direct_world, workdir):
    conf = os.path.join(workdir, 'appserviced.conf')
    with open(conf, 'w') as f:
        f.write('[Policy]\nAllowDirect=no\n')
    provider, client = direct_world(daemon_args=['--config=' + conf])
    assert brokered_open(provider, client) == 'appserviced.conf says AllowDirect=no'


def test_a_bad_allow_direct_in_appserviced_conf_turns_links_off(direct_world, workdir, daemon):
    conf = os.path.join(workdir, 'appserviced.conf')
    with open(conf, 'w') as f:
        f.write('[Policy]\nAllowDirect=maybe\n')
    provider, client = direct_world(daemon_args=['--config=' + conf])
    assert brokered_open(provider, client) == 'appserviced.conf says AllowDirect=no'
    assert 'AllowDirect=maybe is not a boolean' in daemon.log_tail()


def test_a_bad_allow_direct_in_a_definition_skips_the_file(services_dir, daemon, agents):
    services_dir.write(ECHO, AllowDirect='sometimes')
    daemon.start()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    open_direct(client).wait().expect_error('AppServiceUnavailable')
    assert "AllowDirect" in daemon.log_tail()


def test_a_provider_opening_its_own_service_is_brokered(direct_world):
    provider, _ = direct_world()
    call = open_direct(provider)
    r = call.wait()
    r.expect_ok()
    assert r.n_fds == 0
    assert r.unpack(1, 'a{sv}') == {'brokered': 'the client is the provider itself'}


def test_register_option_of_the_wrong_type(services_dir, daemon, agents):
    services_dir.write(ECHO)
    daemon.start()
    p = agents.spawn('provider')
    msg = p.manager('RegisterProvider', '(sa{sv})',
                    V('(sa{sv})', (ECHO, {'direct-links': V('s', 'yes')}))).wait() \
        .expect_error(INVALID_ARGS)
    assert msg == "option 'direct-links' must be of type 'b', not 's'"
    # Unknown options are ignored, as the contract says; a boolean is taken.
    p.manager('RegisterProvider', '(sa{sv})',
              V('(sa{sv})', (ECHO, {'x-future': V('i', 1),
                                    'direct-links': V('b', False)}))).ok()


# ---- the opening checks come first --------------------------------------------------------------

def test_the_opening_checks_apply_before_any_socket(direct_world, daemon, agents):
    provider, client = direct_world(AllowUsers='man', MaxConnectionsPerPeer=2)
    before = daemon_fds(daemon)
    open_direct(client).wait().expect_error('NotAuthorized')
    open_direct(client, name='com.example.nothing').wait().expect_error('AppServiceUnavailable')
    man = agents.spawn('man', uid=MAN_UID, gid=MAN_GID)
    for _ in range(2):
        opened_direct(man)
    r = open_direct(man).wait()
    r.expect_error('ResourceLimitsExceeded')
    assert r.n_fds == 0
    provider.barrier()
    assert len(provider.signals('DirectConnectionOpened')) == 2
    assert_daemon_fds(daemon, before)


def test_an_open_that_waits_for_activation_gets_its_link(services_dir, daemon, agents):
    """An open that waits for the provider's start gets the link once the provider registered."""
    # Exec= starts a process that never registers: the open waits, and the agent registers.
    services_dir.write(ECHO, User='lp', ActivationTimeoutSec=20, Exec='/bin/sleep 60')
    daemon.start()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    call = open_direct(client)
    call.assert_pending()
    provider = spawn_provider(agents)
    r = call.wait()
    r.expect_ok()
    assert r.n_fds == 1 and 'fd' in r.unpack(1, 'a{sv}')
    assert provider.wait_signal('DirectConnectionOpened').arg(0, 'o') == r.unpack(0, 'o')


# ---- hostile callers ----------------------------------------------------------------------------

def test_many_direct_opens_leave_the_broker_no_fds(direct_world, daemon, agents):
    """The broker keeps no end of any link: 200 links opened and closed by peers that then
    vanish leave its fd count where it was, and it serves on."""
    provider, client = direct_world(MaxConnectionsPerPeer=64)
    before = daemon_fds(daemon)
    clients = [client] + [agents.spawn('c%d' % i, uid=GAMES_UID, gid=GAMES_GID)
                          for i in range(3)]
    paths = []
    for c in clients:
        calls = [open_direct(c) for _ in range(50)]
        for call in calls:
            r = call.wait()
            r.expect_ok()
            assert r.n_fds == 1
            paths.append(r.unpack(0, 'o'))
    assert_daemon_fds(daemon, before)
    for c in clients[1:]:
        c.crash()
    client.exit()
    provider.barrier()
    closed = [s for s in provider.signals('ServiceClosed')]
    assert len(closed) <= len(paths)
    assert_daemon_fds(daemon, before)
    survivor = agents.spawn('survivor', uid=MAN_UID, gid=MAN_GID)
    opened_direct(survivor)


def test_a_provider_that_ignores_its_link_leaves_clients_whole(direct_world):
    """A provider that says "direct-links" and never uses the ends: the client's connection
    still opens and closes cleanly, and its provider learns of the close as always."""
    provider, client = direct_world()
    path, _, key, _ = opened_direct(client)
    client.fd_write(key, b'x' * 65536)  # into the socket's buffer, never read
    client.close(path).ok()
    assert provider.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 0


# ---- the broker still ends the connection -------------------------------------------------------

@pytest.mark.parametrize('how', ['client-close', 'client-vanishes', 'provider-unregisters',
                                 'provider-vanishes', 'reload-removes', 'sigterm'])
def test_every_end_reaches_both_endpoints(direct_world, services_dir, daemon, agents, how):
    provider, client = direct_world()
    path, _, key, _ = opened_direct(client)
    provider.wait_signal('DirectConnectionOpened')
    if how == 'client-close':
        client.close(path).ok()
        assert provider.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 0
    elif how == 'client-vanishes':
        client.crash()
        assert provider.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 1
    elif how == 'provider-unregisters':
        provider.unregister(ECHO).ok()
        assert client.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 0
    elif how == 'provider-vanishes':
        provider.crash()
        assert client.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 1
        # The provider's end went with its process: the client's end reads end of file.
        assert client.fd_read(key) == b''
    elif how == 'reload-removes':
        os.unlink(os.path.join(services_dir.path, ECHO + '.appservice'))
        agents.spawn('root').manager('Reload').ok()
        # The service is gone: its client is told Canceled, as for a brokered connection.
        assert client.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 1
    elif how == 'sigterm':
        daemon.stop_clean()
        assert client.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 1
        assert provider.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 1
