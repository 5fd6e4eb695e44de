# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a hostile local user could do to the broker and must not be able to: make it exit, hang
or lose track of its peers. Every attacker here runs as an unprivileged uid."""

import json
import os
import signal
import subprocess

from client import (ECHO, ECHO_PATH, GAMES_GID, GAMES_UID, LP_GID, LP_UID, MAN_GID, MAN_UID,
                    NOBODY_UID, NOGROUP_GID, PYTHON, SERVICE_IFACE, TIME_SCALE, GLib,
                    _world_readable_copy, valueset)

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
    bus.proc.send_signal(signal.SIGKILL)
    bus.proc.wait()
    code = daemon.wait_exit()
    assert code != 0, daemon.log_tail()
    assert any('<3>' in line and 'lost the connection to the system bus' in line
               for line in daemon.log_lines()), daemon.log_tail()
