# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a peer may see of an app service it may not open (issue 10, item 8).

A service whose definition has AllowUsers= or AllowGroups= keeps its existence public, but its
live state (State, Connections, NRestarts) is private: only root, its registered provider, the
definition's User= uid and the callers it allows see the real values; everyone else reads
"unknown", 0 and 0. Its State changes are never broadcast: they go, unicast, to the peers that
called Manager.Subscribe and may see them, and to its provider. The attacker in every test is an
unprivileged uid (games) that the definition does not allow."""

import subprocess
import textwrap

from client import (BUS_NAME, ECHO, ECHO_PATH, GAMES_GID, GAMES_UID, LP_GID, LP_UID, MAN_GID,
                    MAN_UID, MANAGER_IFACE, MANAGER_PATH, PROPERTIES_IFACE, PYTHON,
                    SERVICE_IFACE, GLib, err, valueset)

OBJECT_MANAGER = 'org.freedesktop.DBus.ObjectManager'
PRIVATE = ('State', 'Connections', 'NRestarts')
SUBSCRIBERS_PER_UID = 64


def subscribe(peer):
    return peer.manager('Subscribe')


def unsubscribe(peer):
    return peer.manager('Unsubscribe')


def start_monitor(agents):
    """A root bus monitor (BecomeMonitor) that sees every message on the bus."""
    monitor = agents.spawn('monitor')
    tag = monitor.next_tag()
    monitor.send({'cmd': 'become_monitor', 'tag': tag, 'rules': []})
    monitor.wait_event(lambda e: e['event'] == 'reply' and e['tag'] == tag and e['ok'], None,
                       'BecomeMonitor')
    return monitor


def monitor_sync(monitor, peer, _n=[0]):
    """Returns once the monitor has reported everything the daemon sent before it answered a
    call of `peer` (the bus routes the daemon's messages in order; a monitor may not send, so
    the call is made by another peer)."""
    _n[0] += 1
    marker = 'Sync%d' % _n[0]
    peer.call(BUS_NAME, MANAGER_PATH, PROPERTIES_IFACE, 'Get', '(ss)',
              "('%s', '%s')" % (MANAGER_IFACE, marker)).wait()
    call = monitor.wait_event(lambda e: e['event'] == 'monitor' and e['type'] == 'method_call'
                              and marker in (e['args'] or ''), None, 'the call ' + marker,
                              consume=False)
    monitor.wait_event(lambda e: e['event'] == 'monitor' and
                       e['type'] in ('method_return', 'error') and
                       e['reply_serial'] == call['serial'] and
                       e['destination'] == call['sender'], None, 'the answer to ' + marker,
                       consume=False)


def monitored_changes(monitor, path=ECHO_PATH):
    """[(destination, args text)] of every PropertiesChanged on `path` the monitor saw."""
    with monitor.cond:
        return [(e['destination'], e['args']) for e in monitor.events
                if e['event'] == 'monitor' and e['type'] == 'signal' and
                e['member'] == 'PropertiesChanged' and e['path'] == path]


def names_private(args_text):
    return any("'%s'" % p in args_text for p in PRIVATE)


def state_changes(peer, path=ECHO_PATH):
    """[(destination, {changed})] of the PropertiesChanged on `path` that `peer` received."""
    return [(s['destination'], s.arg(1, 'a{sv}'))
            for s in peer.signals('PropertiesChanged', path=path)]


def managed_objects(peer):
    r = peer.call(BUS_NAME, MANAGER_PATH, OBJECT_MANAGER, 'GetManagedObjects').wait()
    return r.unpack(0, 'a{oa{sa{sv}}}')


def private_view(peer, path=ECHO_PATH, name=ECHO):
    """What `peer` reads of the private values through every way in: Get, GetAll,
    GetManagedObjects and ListServices."""
    got = {p: peer.get_value(path, SERVICE_IFACE, p) for p in PRIVATE}
    every = peer.get_all(path, SERVICE_IFACE).wait().unpack(0, 'a{sv}')
    managed = managed_objects(peer)[path][SERVICE_IFACE]
    listed = {s[0]: s[3] for s in peer.list_services()}[name]
    return {'get': got,
            'get_all': {p: every[p] for p in PRIVATE},
            'managed': {p: managed[p] for p in PRIVATE},
            'list': listed,
            # What is public stays public.
            'public': (every['Name'], every['Provider'], managed['Name'])}


def expect_view(view, state, connections):
    values = {'State': state, 'Connections': connections, 'NRestarts': 0}
    assert view['get'] == values, view
    assert view['get_all'] == values, view
    assert view['managed'] == values, view
    assert view['list'] == state, view
    assert view['public'] == (ECHO, 'com.example.EchoApp', ECHO), view


# ---- (a) nothing about a private service goes out broadcast -------------------------------------

def test_private_state_is_never_broadcast(services_dir, daemon, agents, bus):
    monitor = start_monitor(agents)
    services_dir.write(ECHO, AllowUsers='man')
    daemon.start()
    eavesdropper = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    # On top of the agent's own rule for signals from io.appservice1: every PropertiesChanged.
    eavesdropper.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                      'AddMatch', '(s)',
                      "(\"type='signal',member='PropertiesChanged'\",)").ok()

    provider = agents.spawn('provider', register=ECHO, auto='echo')
    provider.wait_registered()
    man = agents.spawn('man', uid=MAN_UID, gid=MAN_GID)
    path = man.open_ok(ECHO)
    man.close(path).ok()
    provider.unregister(ECHO).ok()
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'inactive'

    eavesdropper.barrier()
    monitor_sync(monitor, eavesdropper)
    assert state_changes(eavesdropper) == []
    broadcast = [c for c in monitored_changes(monitor) if c[0] is None and names_private(c[1])]
    assert broadcast == [], 'private State went out broadcast: %r' % broadcast


# ---- (b) a peer that may not see reads "unknown", 0, 0 everywhere -------------------------------

def test_private_values_read_as_unknown(services_dir, daemon, agents, bus):
    services_dir.write(ECHO, AllowUsers='man', User='lp')
    daemon.start()
    provider = agents.spawn('provider', uid=LP_UID, gid=LP_GID, register=ECHO, auto='echo')
    provider.wait_registered()
    man = agents.spawn('man', uid=MAN_UID, gid=MAN_GID)
    man.open_ok(ECHO)

    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    expect_view(private_view(games), 'unknown', 0)

    # Root, the allowed user, the provider and another process of the User= uid see it all.
    root = agents.spawn('root')
    lp = agents.spawn('lp', uid=LP_UID, gid=LP_GID)
    for peer in (root, man, provider, lp):
        expect_view(private_view(peer), 'active', 1)
    # So does a member of an allowed group, and the test's own (root) connection.
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'active'


def test_allowed_group_sees_the_state(services_dir, daemon, agents):
    services_dir.write(ECHO, AllowGroups='staff')
    daemon.start()
    provider = agents.spawn('provider', register=ECHO, auto='echo')
    provider.wait_registered()
    staff = agents.spawn('staff', uid=GAMES_UID, gid=GAMES_GID, groups=[50])
    expect_view(private_view(staff), 'active', 0)
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    expect_view(private_view(games), 'unknown', 0)


# ---- (c) subscribers ---------------------------------------------------------------------------

def test_subscriber_gets_unicast_changes_if_it_may_see_them(services_dir, daemon, agents):
    monitor = start_monitor(agents)
    services_dir.write(ECHO, AllowUsers='man')
    daemon.start()
    man = agents.spawn('man', uid=MAN_UID, gid=MAN_GID)
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    subscribe(man).ok()
    subscribe(games).ok()
    subscribe(games).ok()  # again: changes nothing

    provider = agents.spawn('provider', register=ECHO, auto='echo')
    provider.wait_registered()
    got = man.wait_signal('PropertiesChanged', path=ECHO_PATH)
    assert got['destination'] == man.unique_name
    assert got.arg(0, 's') == SERVICE_IFACE
    assert got.arg(1, 'a{sv}') == {'State': 'active'}
    assert got.arg(2, 'as') == []
    # The provider is told too, whether it subscribed or not.
    to_provider = provider.wait_signal('PropertiesChanged', path=ECHO_PATH)
    assert to_provider['destination'] == provider.unique_name
    assert to_provider.arg(1, 'a{sv}') == {'State': 'active'}

    provider.unregister(ECHO).ok()
    got = man.wait_signal('PropertiesChanged', path=ECHO_PATH)
    assert got.arg(1, 'a{sv}') == {'State': 'inactive'}

    games.assert_no_signal('PropertiesChanged', path=ECHO_PATH)
    monitor_sync(monitor, games)
    destinations = sorted(c[0] for c in monitored_changes(monitor))
    assert destinations == sorted([man.unique_name, provider.unique_name, man.unique_name])

    # Unsubscribed: nothing more.
    unsubscribe(man).ok()
    unsubscribe(man).ok()  # again: changes nothing
    provider2 = agents.spawn('provider2', register=ECHO, auto='echo')
    provider2.wait_registered()
    provider2.wait_signal('PropertiesChanged', path=ECHO_PATH)
    man.assert_no_signal('PropertiesChanged', path=ECHO_PATH)


# ---- (d) the bound on subscribers --------------------------------------------------------------

# Runs as one uid: opens n bus connections, calls Subscribe on each, prints one line per call
# ("ok" or the error name and message); then Unsubscribe on the first and Subscribe on the last.
SUBSCRIBE_MANY = textwrap.dedent('''
    import sys
    from gi.repository import Gio, GLib
    address, n = sys.argv[1], int(sys.argv[2])
    flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
             Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
    conns = [Gio.DBusConnection.new_for_address_sync(address, flags, None, None)
             for _ in range(n)]
    def call(c, member):
        try:
            c.call_sync('io.appservice1', '/io/appservice1', 'io.appservice1.Manager', member,
                        None, None, Gio.DBusCallFlags.NONE, 10000, None)
            return 'ok'
        except GLib.Error as e:
            return '%s %s' % (Gio.DBusError.get_remote_error(e), e.message)
    for c in conns:
        print(call(c, 'Subscribe'), flush=True)
    print(call(conns[0], 'Unsubscribe'), flush=True)
    print(call(conns[-1], 'Subscribe'), flush=True)
''')


def subscribe_many(bus, uid, gid, n):
    argv = ['setpriv', '--reuid=%d' % uid, '--regid=%d' % gid, '--clear-groups',
            '--inh-caps=-all', '--', PYTHON, '-c', SUBSCRIBE_MANY, bus.address, str(n)]
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                         env={'HOME': '/', 'PATH': '/usr/bin:/bin'}, cwd='/')
    assert out.returncode == 0, out.stderr.decode(errors='replace')
    return out.stdout.decode().splitlines()


def test_subscribers_per_uid_are_bounded(services_dir, daemon, agents, bus):
    services_dir.write(ECHO, AllowUsers='man')
    daemon.start()
    lines = subscribe_many(bus, GAMES_UID, GAMES_GID, SUBSCRIBERS_PER_UID + 1)
    assert lines[:SUBSCRIBERS_PER_UID] == ['ok'] * SUBSCRIBERS_PER_UID
    refused = lines[SUBSCRIBERS_PER_UID]
    assert refused.startswith(err('ResourceLimitsExceeded') + ' '), refused
    assert 'uid %d' % GAMES_UID in refused and '64' in refused, refused
    # Unsubscribing makes room again.
    assert lines[SUBSCRIBERS_PER_UID + 1:] == ['ok', 'ok']
    # The bound is per uid: another user still subscribes, and the broker still serves.
    man = agents.spawn('man', uid=MAN_UID, gid=MAN_GID)
    subscribe(man).ok()
    assert bus.get_property(MANAGER_PATH, MANAGER_IFACE, 'State') == 'running'


# ---- (e) services open to everyone keep broadcasting -------------------------------------------

def test_public_service_broadcasts_once(services_dir, daemon, agents):
    monitor = start_monitor(agents)
    services_dir.write(ECHO)
    daemon.start()
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    subscribe(games).ok()
    watcher = agents.spawn('watcher', uid=MAN_UID, gid=MAN_GID)  # a match rule, no Subscribe

    provider = agents.spawn('provider', register=ECHO, auto='echo')
    provider.wait_registered()
    for peer in (games, watcher):
        got = peer.wait_signal('PropertiesChanged', path=ECHO_PATH)
        assert got['destination'] is None
        assert got.arg(1, 'a{sv}') == {'State': 'active'}
    games.assert_no_signal('PropertiesChanged', path=ECHO_PATH)  # no unicast copy on top
    monitor_sync(monitor, games)
    assert [c[0] for c in monitored_changes(monitor)] == [None]
    expect_view(private_view(games), 'active', 0)



# ---- a reload that changes who may see --------------------------------------------------------

def test_reload_tells_everyone_what_they_see_now(services_dir, daemon, agents, bus):
    services_dir.write(ECHO)
    daemon.start()
    root = agents.spawn('root')
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    man = agents.spawn('man', uid=MAN_UID, gid=MAN_GID)
    subscribe(man).ok()
    provider = agents.spawn('provider', register=ECHO, auto='echo')
    provider.wait_registered()
    for peer in (games, man):
        assert peer.wait_signal('PropertiesChanged', path=ECHO_PATH).arg(1, 'a{sv}') == {
            'State': 'active'}

    def reload(**keys):
        services_dir.write(ECHO, **keys)
        root.manager('Reload').ok()

    def next_change(peer):
        s = peer.wait_signal('PropertiesChanged', path=ECHO_PATH)
        return s['destination'], s.arg(1, 'a{sv}')

    # Now private: the public view goes to everyone, the real one to who may see it.
    reload(AllowUsers='man')
    assert next_change(games) == (None, {'State': 'unknown'})
    assert next_change(man) == (None, {'State': 'unknown'})
    assert next_change(man) == (man.unique_name, {'State': 'active'})
    assert games.get_value(ECHO_PATH, SERVICE_IFACE, 'State') == 'unknown'

    # Private to someone else: man no longer sees it, games (subscribed now) does.
    subscribe(games).ok()
    reload(AllowUsers='games')
    assert next_change(games) == (None, {'State': 'unknown'})
    assert next_change(games) == (games.unique_name, {'State': 'active'})
    assert next_change(man) == (None, {'State': 'unknown'})
    man.assert_no_signal('PropertiesChanged', path=ECHO_PATH)
    assert man.get_value(ECHO_PATH, SERVICE_IFACE, 'State') == 'unknown'

    # Public again: everyone sees the state.
    reload()
    assert next_change(man) == (None, {'State': 'active'})
    assert next_change(games) == (None, {'State': 'active'})
    games.assert_no_signal('PropertiesChanged', path=ECHO_PATH)
    assert man.get_value(ECHO_PATH, SERVICE_IFACE, 'State') == 'active'
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'active'


def test_connection_paths_cannot_be_guessed(start_service, agents):
    # With counted ids, a stranger calling /io/appservice1/connection/N learnt which of other
    # users' connections were open (AccessDenied) and how many had ever been made. Ids are now
    # random: guessing finds only what a path that never existed answers.
    start_service(ECHO)
    victim = agents.spawn('victim', uid=LP_UID, gid=LP_GID)
    victims = [victim.open_ok(ECHO) for _ in range(3)]
    attacker = agents.spawn('attacker', uid=GAMES_UID, gid=GAMES_GID)
    own = attacker.open_ok(ECHO)
    ids = [int(p.rsplit('/', 1)[1]) for p in victims + [own]]
    assert len(set(ids)) == 4 and all(0 < i < 2 ** 53 for i in ids), ids
    # Four random 53-bit ids are all below 2^40 once in 2^52 runs.
    assert max(ids) >= 2 ** 40, ids

    own_id = ids[-1]
    guesses = list(range(1, 33)) + [own_id + d for d in range(-16, 17) if d and own_id + d > 0]
    guesses.append(2 ** 53 + 5)
    message = valueset(n=GLib.Variant('u', 1))
    answers = {attacker.send_message('/io/appservice1/connection/%d' % g, message).wait().error
               for g in guesses}
    assert answers == {err('Closed')}, answers
    # The victim's connections still work, and the attacker's own.
    victim.send_message(victims[0], message).wait().expect_ok()
    attacker.send_message(own, message).wait().expect_ok()
