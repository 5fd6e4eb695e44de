# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a hostile local user could do to the broker and must not be able to: make it exit, hang
or lose track of its peers. Every attacker here runs as an unprivileged uid."""

import json
import os
import subprocess

import pytest

from client import (ECHO, ECHO_PATH, GAMES_GID, GAMES_UID, LP_GID, LP_UID, MAN_GID, MAN_UID,
                    NOBODY_UID, NOGROUP_GID, PYTHON, SERVICE_IFACE, TIME_SCALE, GLib,
                    _world_readable_copy, valueset, valueset_of_size)

MANY_PEERS_PY = _world_readable_copy('many_peers.py')


def nested_variants(levels):
    """A value that, as a ValueSet's "d", makes `levels` variants: 2 + levels containers."""
    v = GLib.Variant('i', 1)
    for _ in range(levels - 1):
        v = GLib.Variant('v', v)
    return v


def submit(peer, destination, action, message, **kw):
    args = GLib.Variant.new_tuple(GLib.Variant('s', destination), GLib.Variant('s', action),
                                  message)
    return peer.manager('SubmitAction', '(ssa{sv})', args, **kw)


# ---- nesting ------------------------------------------------------------------------------------

def test_too_deep_submit_action_is_refused(start_service, agents, daemon):
    # Today's reproducer: 60 nested variants made SubmitAction's reply deeper than D-Bus allows,
    # and the bus dropped the broker.
    start_service(ECHO)
    attacker = agents.spawn('attacker', uid=NOBODY_UID, gid=NOGROUP_GID)
    r = submit(attacker, ECHO, 'act', valueset(d=nested_variants(60))).wait()
    r.expect_error('InvalidMessage')
    assert 'nested more than 32 containers deep' in r.message, r
    # The deepest allowed ValueSet comes back whole inside SubmitAction's own containers.
    deepest = valueset(d=nested_variants(30))
    r = submit(attacker, ECHO, 'act', deepest).wait()
    r.expect_ok()
    assert r.unpack(0, 'a{sv}') == {ECHO: deepest.unpack()}
    assert daemon.running()


def test_too_deep_messages_are_refused_on_every_path(start_service, agents, daemon):
    provider = start_service(ECHO)
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    too_deep = valueset(d=nested_variants(31))
    client.service_send(ECHO, too_deep).wait().expect_error('InvalidMessage')
    path = client.open_ok(ECHO)
    client.send_message(path, too_deep).wait().expect_error('InvalidMessage')
    # A response too deep is refused and the request stays pending for a good one.
    provider.auto('ignore')
    pending = client.send_message(path, valueset(n=GLib.Variant('u', 1)))
    req = provider.wait_signal('RequestReceived', path=path)
    provider.respond(path, req.arg(0, 't'), too_deep).wait().expect_error('InvalidMessage')
    provider.respond(path, req.arg(0, 't'), valueset(d=nested_variants(30))).ok()
    pending.ok()
    assert daemon.running()


# ---- peers --------------------------------------------------------------------------------------

def test_more_peers_than_the_bus_allows_match_rules(start_service, bus, daemon):
    # dbus-daemon allows 512 match rules per connection; a broker that added one per peer was cut
    # off the bus by the 513th. Three unprivileged users with 200 peers each.
    start_service(ECHO)
    per_user, users = 200, [(GAMES_UID, GAMES_GID), (MAN_UID, MAN_GID), (LP_UID, LP_GID)]
    procs = []
    try:
        for uid, gid in users:
            argv = ['setpriv', '--reuid=%d' % uid, '--regid=%d' % gid, '--clear-groups',
                    '--inh-caps=-all', '--', PYTHON, MANY_PEERS_PY, bus.address, ECHO,
                    str(per_user)]
            procs.append(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          env=dict(os.environ, HOME='/'), cwd='/'))
        for p in procs:
            result = json.loads(p.stdout.readline() or b'{}')
            assert result == {'opened': per_user, 'answered': per_user, 'errors': {}}, result
        assert daemon.running(), daemon.log_tail()
        assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Connections') == per_user * len(users)
    finally:
        for p in procs:
            p.stdin.close()
        for p in procs:
            p.wait(60 * TIME_SCALE)
    # All 600 left at once: every connection they held is closed.
    bus.wait_for(lambda: bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Connections') == 0,
                 what='the departed peers\' connections to close')
    assert daemon.running(), daemon.log_tail()


# ---- the bus ------------------------------------------------------------------------------------

def test_losing_the_bus_is_a_logged_failure(start_service, bus, daemon):
    # systemd restarts the broker on failure only: losing the bus must not look like success.
    start_service(ECHO)
    bus.kill()
    code = daemon.wait_exit()
    assert code != 0, daemon.log_tail()
    assert any('<3>' in line and 'lost the connection to the system bus' in line
               for line in daemon.log_lines()), daemon.log_tail()


# ---- limits on what users make the broker hold --------------------------------------------------

MIB = 1024 * 1024


def write_config(workdir, **limits):
    path = os.path.join(workdir, 'appserviced.conf')
    with open(path, 'w') as f:
        f.write('[Limits]\n' + ''.join('%s=%s\n' % kv for kv in limits.items()))
    return path


def start_with_limits(start_service, workdir, **limits):
    """The echo service with a provider that never answers, on a broker with those limits."""
    return start_service(ECHO, auto='ignore', MaxMessageSize=2 * MIB, MaxPendingRequests=1000,
                         daemon_args=['--config=' + write_config(workdir, **limits)])


def test_bytes_held_per_user_and_in_all(start_service, agents, workdir, daemon):
    # Before the limit, 1 MiB messages to a provider that never answers pinned 131 MiB per bus
    # connection until RequestTimeoutSec.
    start_with_limits(start_service, workdir, MaxBytesPerUser='4M', MaxBytesTotal='6M')
    attacker = agents.spawn('attacker', uid=NOBODY_UID, gid=NOGROUP_GID)
    path = attacker.open_ok(ECHO)
    big = valueset_of_size(MIB)
    held = [attacker.send_message(path, big) for _ in range(3)]
    r = attacker.send_message(path, big).wait()
    r.expect_error('ResourceLimitsExceeded')
    assert 'MaxBytesPerUser' in r.message and 'uid %d' % NOBODY_UID in r.message, r
    for call in held:
        call.assert_pending(settle=0)

    # Another user is not starved by it, up to the total.
    other = agents.spawn('other', uid=GAMES_UID, gid=GAMES_GID)
    other_path = other.open_ok(ECHO)
    other_held = [other.send_message(other_path, big) for _ in range(2)]
    r = other.send_message(other_path, big).wait()
    r.expect_error('ResourceLimitsExceeded')
    assert 'MaxBytesTotal' in r.message, r
    # Small messages still fit in what is left.
    other_held.append(other.send_message(other_path, valueset(n=GLib.Variant('u', 1))))

    # Closing gives it all back: the held requests fail Closed, and the attacker may send again.
    attacker.close(path).ok()
    for call in held:
        call.wait().expect_error('Closed')
    path = attacker.open_ok(ECHO)
    attacker.send_message(path, big).assert_pending()
    assert daemon.running()


def test_requests_in_flight_per_user(start_service, agents, workdir):
    start_with_limits(start_service, workdir, MaxRequestsPerUser=5)
    attacker = agents.spawn('attacker', uid=NOBODY_UID, gid=NOGROUP_GID)
    # Spread over connections: MaxPendingRequests is per connection, this is per user.
    paths = [attacker.open_ok(ECHO) for _ in range(3)]
    held = [attacker.send_message(paths[i % 3], valueset(n=GLib.Variant('u', i))) for i in range(5)]
    r = attacker.send_message(paths[0], valueset(n=GLib.Variant('u', 5))).wait()
    r.expect_error('ResourceLimitsExceeded')
    assert 'MaxRequestsPerUser' in r.message, r
    for call in held:
        call.assert_pending(settle=0)
    # A one-shot counts too.
    attacker.service_send(ECHO, valueset(n=GLib.Variant('u', 6))).wait().expect_error(
        'ResourceLimitsExceeded')
    # Another user still gets through.
    other = agents.spawn('other', uid=GAMES_UID, gid=GAMES_GID)
    other.send_message(other.open_ok(ECHO), valueset(n=GLib.Variant('u', 1))).assert_pending()


def test_peers_per_user(start_service, agents, workdir, bus):
    start_with_limits(start_service, workdir, MaxPeersPerUser=3)
    peers = [agents.spawn('attacker%d' % i, uid=NOBODY_UID, gid=NOGROUP_GID) for i in range(4)]
    for p in peers[:3]:
        p.open_ok(ECHO)
    r = peers[3].open(ECHO).wait()
    r.expect_error('ResourceLimitsExceeded')
    assert 'MaxPeersPerUser' in r.message, r
    # Other users are not affected; and a departed peer frees its place.
    agents.spawn('other', uid=GAMES_UID, gid=GAMES_GID).open_ok(ECHO)
    peers[0].kill()
    bus.wait_for(lambda: bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Connections') == 3,
                 what='the departed peer\'s connection to close')
    peers[3].open_ok(ECHO)


def test_bad_limits_are_named_and_defaults_kept(services_dir, daemon, workdir, agents):
    services_dir.write(ECHO)
    config = write_config(workdir, MaxBytesPerUser='lots', MaxPeersPerUser='0', Unknown='1')
    daemon.start(['--config=' + config])
    log = '\n'.join(daemon.log_lines())
    assert 'MaxBytesPerUser=lots is not a number' in log, log
    assert 'MaxPeersPerUser=0 is not a number' in log, log
    assert 'unknown key Unknown' in log, log
    assert agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID).list_services()


def test_a_missing_config_file_is_an_error(services_dir, daemon, workdir):
    services_dir.write(ECHO)
    daemon.start(['--config=' + os.path.join(workdir, 'nonexistent.conf')], wait=False)
    assert daemon.wait_exit() != 0
    assert any('nonexistent.conf: cannot read the configuration' in line
               for line in daemon.log_lines()), daemon.log_tail()


# ---- the same limits for one app service, in its definition file ---------------------------------

OTHER = 'com.example.other'


def start_with_service_limits(start_service, services_dir, agents, **limits):
    """The echo service with `limits` in its definition, and a second service without them; both
    with providers that never answer, on a broker with its default limits."""
    services_dir.write(OTHER, MaxMessageSize=2 * MIB, MaxPendingRequests=1000)
    start_service(ECHO, auto='ignore', MaxMessageSize=2 * MIB, MaxPendingRequests=1000, **limits)
    agents.spawn('other-provider', register=OTHER, auto='ignore').wait_registered()
    return os.path.join(services_dir.path, ECHO + '.appservice')


def test_service_bytes_held_per_user_and_in_all(start_service, services_dir, agents, daemon):
    definition = start_with_service_limits(start_service, services_dir, agents,
                                           MaxBytesPerUser='2M', MaxBytesTotal='2500K')
    chunk = valueset_of_size(700 * 1024)
    attacker = agents.spawn('attacker', uid=NOBODY_UID, gid=NOGROUP_GID)
    path = attacker.open_ok(ECHO)
    held = [attacker.send_message(path, chunk) for _ in range(2)]
    r = attacker.send_message(path, chunk).wait()
    r.expect_error('ResourceLimitsExceeded')
    assert 'MaxBytesPerUser= in %s' % definition in r.message, r
    assert 'uid %d' % NOBODY_UID in r.message, r
    for call in held:
        call.assert_pending(settle=0)

    # The service's limit is its own: the same user's messages to another service go on.
    other_service = attacker.open_ok(OTHER)
    held += [attacker.send_message(other_service, chunk) for _ in range(3)]
    held[-1].assert_pending()

    # Another user fits in what is left of the service's total, and no further; root too.
    other = agents.spawn('other', uid=GAMES_UID, gid=GAMES_GID)
    other_path = other.open_ok(ECHO)
    held.append(other.send_message(other_path, chunk))
    r = other.send_message(other_path, chunk).wait()
    r.expect_error('ResourceLimitsExceeded')
    assert 'MaxBytesTotal= in %s' % definition in r.message, r
    root = agents.spawn('root')
    root.send_message(root.open_ok(ECHO), chunk).wait().expect_error('ResourceLimitsExceeded')

    # Closing gives the attacker's share back.
    attacker.close(path).ok()
    held[0].wait().expect_error('Closed')
    held[1].wait().expect_error('Closed')
    other.send_message(other_path, chunk).assert_pending()
    assert daemon.running()


def test_service_requests_in_flight_per_user(start_service, services_dir, agents):
    definition = start_with_service_limits(start_service, services_dir, agents, MaxRequestsPerUser=3)
    attacker = agents.spawn('attacker', uid=NOBODY_UID, gid=NOGROUP_GID)
    paths = [attacker.open_ok(ECHO) for _ in range(2)]
    held = [attacker.send_message(paths[i % 2], valueset(n=GLib.Variant('u', i))) for i in range(3)]
    r = attacker.send_message(paths[1], valueset(n=GLib.Variant('u', 3))).wait()
    r.expect_error('ResourceLimitsExceeded')
    assert 'MaxRequestsPerUser= in %s' % definition in r.message, r
    attacker.service_send(ECHO, valueset(n=GLib.Variant('u', 4))).wait().expect_error(
        'ResourceLimitsExceeded')
    for call in held:
        call.assert_pending(settle=0)
    # Not counted against its requests to another service, nor against another user.
    attacker.send_message(attacker.open_ok(OTHER), valueset(n=GLib.Variant('u', 5))).assert_pending()
    other = agents.spawn('other', uid=GAMES_UID, gid=GAMES_GID)
    other.send_message(other.open_ok(ECHO), valueset(n=GLib.Variant('u', 1))).assert_pending()


def test_service_peers_per_user(start_service, services_dir, agents, bus):
    definition = start_with_service_limits(start_service, services_dir, agents, MaxPeersPerUser=2)
    peers = [agents.spawn('attacker%d' % i, uid=NOBODY_UID, gid=NOGROUP_GID) for i in range(3)]
    first = [peers[0].open_ok(ECHO), peers[1].open_ok(ECHO)]
    r = peers[2].open(ECHO).wait()
    r.expect_error('ResourceLimitsExceeded')
    assert 'MaxPeersPerUser= in %s' % definition in r.message, r
    r = peers[2].service_send(ECHO, valueset(n=GLib.Variant('u', 1))).wait()
    r.expect_error('ResourceLimitsExceeded')
    # A peer already counted may open more; other services and other users are not affected.
    second = peers[0].open_ok(ECHO)
    peers[2].open_ok(OTHER)
    agents.spawn('other', uid=GAMES_UID, gid=GAMES_GID).open_ok(ECHO)
    # A peer counts until its last connection to the service closes.
    peers[0].close(first[0]).ok()
    peers[2].open(ECHO).wait().expect_error('ResourceLimitsExceeded')
    peers[0].close(second).ok()
    peers[2].open_ok(ECHO)


def test_service_limits_follow_a_reload(start_service, services_dir, agents):
    start_with_service_limits(start_service, services_dir, agents, MaxRequestsPerUser=2)
    attacker = agents.spawn('attacker', uid=NOBODY_UID, gid=NOGROUP_GID)
    path = attacker.open_ok(ECHO)
    held = [attacker.send_message(path, valueset(n=GLib.Variant('u', i))) for i in range(2)]
    attacker.send_message(path, valueset(n=GLib.Variant('u', 2))).wait().expect_error(
        'ResourceLimitsExceeded')
    services_dir.write(ECHO, MaxMessageSize=2 * MIB, MaxPendingRequests=1000, MaxRequestsPerUser=4)
    agents.spawn('admin').manager('Reload').wait().expect_ok()
    # What is held stays held; the new value counts it.
    held += [attacker.send_message(path, valueset(n=GLib.Variant('u', i))) for i in range(3, 5)]
    r = attacker.send_message(path, valueset(n=GLib.Variant('u', 5))).wait()
    r.expect_error('ResourceLimitsExceeded')
    assert 'MaxRequestsPerUser=' in r.message, r
    for call in held:
        call.assert_pending(settle=0)


def test_bad_service_limits_name_the_key(services_dir, daemon, agents):
    services_dir.write(ECHO, MaxBytesPerUser='lots')
    services_dir.write(OTHER, MaxPeersPerUser='0')
    services_dir.write('com.example.third', MaxRequestsPerUser='infinity', MaxBytesTotal='1G')
    daemon.start()
    log = '\n'.join(daemon.log_lines())
    assert "MaxBytesPerUser: 'lots' is not a size" in log, log
    assert 'MaxPeersPerUser: must be greater than 0' in log, log
    names = [s[0] for s in agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID).list_services()]
    assert 'com.example.third' in names and ECHO not in names and OTHER not in names, names


# ---- administrative calls waiting for polkit ----------------------------------------------------

@pytest.mark.polkit_standin
def test_calls_waiting_for_polkit_are_bounded(services_dir, daemon, agents):
    # Each waiting check holds one of the calls the bus lets the broker have awaiting a reply:
    # one user's flood of interactive administrative calls must not use them all up.
    from test_reload import polkit, polkit_calls
    services_dir.write(ECHO)
    daemon.start()
    standin = polkit(agents, hold=True)
    attacker = agents.spawn('attacker', uid=NOBODY_UID, gid=NOGROUP_GID)
    waiting = [attacker.manager('Reload') for _ in range(4)]
    standin.wait_event(lambda e: len(polkit_calls(standin)) >= 4, None, 'four polkit checks')
    r = attacker.manager('Reload').wait()
    r.expect_error('ResourceLimitsExceeded')
    assert 'waiting for polkit already' in r.message, r
    # Another user may still ask.
    other = agents.spawn('other', uid=GAMES_UID, gid=GAMES_GID)
    other_call = other.manager('Reload')
    standin.wait_event(lambda e: len(polkit_calls(standin)) >= 5, None, 'the other user\'s check')
    for call in waiting + [other_call]:
        call.assert_pending(settle=0)
    assert len(polkit_calls(standin)) == 5


# ---- values GLib's D-Bus reader misreads ----------------------------------------------------------

def test_gdbus_provider_cannot_be_taken_off_the_bus(start_service, bus, daemon, services_dir):
    # GDBus closes a bus connection that receives {'x': <[([1],), (@ai [],)]>, 'y': <'z'>}; the
    # provider agent is GDBus-based, as libappservice and PyGObject providers are. Sent with
    # busctl (sd-bus serializes it right) as an unprivileged user, it must never reach it.
    provider = start_service(ECHO)
    argv = ['setpriv', '--reuid=%d' % NOBODY_UID, '--regid=%d' % NOGROUP_GID, '--clear-groups',
            'busctl', '--address=%s' % bus.address, 'call', 'io.appservice1',
            '/io/appservice1/service/com_2eexample_2eecho', 'io.appservice1.Service',
            'SendMessage', 'a{sv}', '2', 'x', 'a(ai)', '2', '1', '1', '0', 'y', 's', 'z']
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30 * TIME_SCALE)
    # busctl prints the error's message alone.
    assert out.returncode != 0 and "GLib's D-Bus reader misreads arrays" in out.stderr, out.stderr
    provider.assert_no_signal('RequestReceived')
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'active'
    assert provider.alive()
