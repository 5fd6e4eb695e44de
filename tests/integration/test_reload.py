# SPDX-License-Identifier: LGPL-2.1-or-later
"""Manager.Reload, SIGHUP and the watch on the definition directories: added, removed and
changed definitions applied in place; and who may administer (root, or as polkit says)."""

import os
import re
import signal

import pytest

from client import (ECHO, ECHO_PATH, ECHO_PROVIDER, GAMES_GID, GAMES_UID, MAN_GID, MAN_UID,
                    MANAGER_IFACE, MANAGER_PATH, SERVICE_IFACE, GLib, service_path, valueset)

OBJECT_MANAGER = 'org.freedesktop.DBus.ObjectManager'
RELOADED = re.compile(r'reloaded the definitions: (\d+) added, (\d+) removed, (\d+) changed')
HOW = ['Reload', 'SIGHUP', 'watch']


def reload_count(daemon):
    return sum(1 for line in daemon.log_lines() if RELOADED.search(line))


def apply(daemon, root, how, change):
    """Makes `change` (a function that edits the definition files), then has the daemon pick it
    up as `how` says, and returns once a reload has been applied."""
    before = reload_count(daemon)
    change()
    if how == 'Reload':
        root.manager('Reload').ok()
        # The reply comes once the reload is applied.
        assert reload_count(daemon) > before, daemon.log_tail()
        return
    if how == 'SIGHUP':
        os.kill(daemon.pid, signal.SIGHUP)
        daemon.wait_log(r'received SIGHUP')
    daemon.bus.wait_for(lambda: reload_count(daemon) > before, what='a reload (%s)' % how)


def set_enabled(peer, name, enabled):
    return peer.manager('SetServiceEnabled', '(sb)',
                        '(%s, %s)' % (GLib.Variant('s', name).print_(False),
                                      'true' if enabled else 'false'))


def managed_objects(peer):
    r = peer.call('io.appservice1', MANAGER_PATH, OBJECT_MANAGER, 'GetManagedObjects').wait()
    return r.unpack(0, 'a{oa{sa{sv}}}')


# ---- added --------------------------------------------------------------------------------------

@pytest.mark.parametrize('how', HOW)
def test_added(services_dir, daemon, agents, bus, how):
    services_dir.write(ECHO, Description='Echo')
    daemon.start()
    root = agents.spawn('root')
    watcher = agents.spawn('watcher', uid=GAMES_UID, gid=GAMES_GID)
    added = 'com.example.added'
    agents.spawn('early').register(added).wait().expect_error('AppServiceUnavailable')

    apply(daemon, root, how, lambda: services_dir.write(
        added, Provider='com.example.AddedApp', Description='Added later'))

    sig = watcher.wait_signal('InterfacesAdded', path=MANAGER_PATH, interface=OBJECT_MANAGER)
    assert sig.arg(0, 'o') == service_path(added)
    props = sig.arg(1, 'a{sa{sv}}')[SERVICE_IFACE]
    assert props['Name'] == added and props['Description'] == 'Added later'
    assert props['Provider'] == 'com.example.AddedApp' and props['State'] == 'inactive'
    assert set(managed_objects(watcher)) == {ECHO_PATH, service_path(added)}
    # File order: com.example.added.appservice sorts before com.example.echo.appservice.
    assert [s[0] for s in watcher.list_services()] == [added, ECHO]
    assert bus.get_property(service_path(added), SERVICE_IFACE, 'Description') == 'Added later'

    provider = agents.spawn('provider', register=added, auto='echo')
    provider.wait_registered()
    client = agents.spawn('client', uid=MAN_UID, gid=MAN_GID)
    path = client.open_ok(added)
    message = valueset(Text=GLib.Variant('s', 'hi'))
    assert client.send_message(path, message).ok() == [message.print_(True)]
    # The service that was there is untouched: no signal about it.
    watcher.assert_no_signal('InterfacesRemoved')
    watcher.assert_no_signal('PropertiesChanged', path=ECHO_PATH)


def test_list_services_keeps_file_order(services_dir, daemon, agents):
    services_dir.write('com.example.a', Provider='com.example.A')
    services_dir.write('com.example.c', Provider='com.example.C')
    daemon.start()
    root = agents.spawn('root')
    apply(daemon, root, 'Reload', lambda: services_dir.write('com.example.b',
                                                               Provider='com.example.B'))
    assert [s[0] for s in root.list_services()] == ['com.example.a', 'com.example.b',
                                                    'com.example.c']
    # A file named apart from its service sorts by the file name.
    apply(daemon, root, 'Reload', lambda: services_dir.write(
        'com.example.zz', filename='0-first.appservice', Provider='com.example.Z'))
    assert [s[0] for s in root.list_services()] == ['com.example.zz', 'com.example.a',
                                                    'com.example.b', 'com.example.c']


# ---- removed ------------------------------------------------------------------------------------

@pytest.mark.parametrize('how', HOW)
def test_removed(services_dir, daemon, agents, bus, how):
    echo_file = services_dir.write(ECHO)
    # Started on demand by a provider that never registers: its open waits.
    slow_file = services_dir.write('com.example.slow', Provider='com.example.SlowApp',
                                   Exec='/bin/sleep 600', ActivationTimeoutSec=600)
    services_dir.write('com.example.stays', Provider='com.example.StaysApp')
    daemon.start()
    root = agents.spawn('root')
    watcher = agents.spawn('watcher', uid=MAN_UID, gid=MAN_GID)
    provider = agents.spawn('provider', register=ECHO, auto='ignore')
    provider.wait_registered()

    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(ECHO)
    provider.wait_signal('ConnectionOpened')
    pending = client.send_message(path, valueset(n=GLib.Variant('i', 1)))
    provider.wait_signal('RequestReceived', path=path)
    waiting = client.open('com.example.slow')
    pid = int(daemon.wait_log(r"app service 'com\.example\.slow': started provider "
                              r"'/bin/sleep' as pid (\d+)").group(1))
    waiting.assert_pending()

    def remove():
        os.unlink(echo_file)
        os.unlink(slow_file)
    apply(daemon, root, how, remove)

    closed = client.wait_signal('ServiceClosed', path=path)
    assert closed.arg(0, 'u') == 1
    assert closed['destination'] == client.unique_name  # unicast
    pending.wait().expect_error('Closed')
    msg = waiting.wait().expect_error('AppServiceUnavailable')
    assert 'com.example.slow' in msg

    removed = {s.arg(0, 'o') for s in
               (watcher.wait_signal('InterfacesRemoved', path=MANAGER_PATH,
                                    predicate=lambda s, p=p: s.arg(0, 'o') == p)
                for p in (ECHO_PATH, service_path('com.example.slow')))}
    assert removed == {ECHO_PATH, service_path('com.example.slow')}
    watcher.assert_no_signal('InterfacesRemoved',
                             predicate=lambda s: s.arg(0, 'o') == service_path('com.example.stays'))
    assert set(managed_objects(watcher)) == {service_path('com.example.stays')}
    assert [s[0] for s in watcher.list_services()] == ['com.example.stays']
    assert 'com_2eexample_2eecho' not in bus.child_nodes(MANAGER_PATH + '/service')

    client.open(ECHO).wait().expect_error('AppServiceUnavailable')
    client.service_send(ECHO, valueset(n=GLib.Variant('i', 2)),
                        path=ECHO_PATH).wait().expect_error('org.freedesktop.DBus.Error.UnknownObject')
    agents.spawn('late').register(ECHO).wait().expect_error('AppServiceUnavailable')
    assert not bus.connection_alive(path)

    # The removed services' providers are stopped as StopService does: the registered one is
    # asked (unicast), the one that never registered has nobody to ask and gets SIGTERM at once.
    stop = provider.wait_signal('StopRequested', path=ECHO_PATH)
    assert stop.arg(0, 'a{sv}') == {'reason': 'removed'}
    assert stop['destination'] == provider.unique_name
    daemon.wait_log(r"com\.example\.slow\[%d\]: provider was killed by signal" % pid)


def test_removed_and_added_again_is_a_new_service(services_dir, daemon, agents, bus):
    path = services_dir.write(ECHO, Description='First')
    daemon.start()
    root = agents.spawn('root')
    set_enabled(root, ECHO, False).ok()
    apply(daemon, root, 'Reload', lambda: os.unlink(path))
    apply(daemon, root, 'Reload', lambda: services_dir.write(ECHO, Description='Second'))
    # A new service: the disabled flag of the removed one is gone with it.
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'inactive'
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Description') == 'Second'


def test_name_changed_is_removed_and_added(services_dir, daemon, agents):
    services_dir.write(ECHO)
    daemon.start()
    root = agents.spawn('root')
    watcher = agents.spawn('watcher')
    renamed = 'com.example.renamed'
    apply(daemon, root, 'Reload', lambda: services_dir.write(
        renamed, filename='%s.appservice' % ECHO))
    watcher.wait_signal('InterfacesRemoved', predicate=lambda s: s.arg(0, 'o') == ECHO_PATH)
    watcher.wait_signal('InterfacesAdded',
                        predicate=lambda s: s.arg(0, 'o') == service_path(renamed))
    assert [s[0] for s in watcher.list_services()] == [renamed]
    daemon.wait_log(r'reloaded the definitions: 1 added, 1 removed, 0 changed')


# ---- changed ------------------------------------------------------------------------------------

@pytest.mark.parametrize('how', HOW)
def test_changed(services_dir, daemon, agents, bus, how):
    services_dir.write(ECHO, Description='Old', AllowUsers='games', MaxMessageSize=4096)
    daemon.start()
    root = agents.spawn('root')
    provider = agents.spawn('provider', register=ECHO, auto='echo')
    provider.wait_registered()
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    man = agents.spawn('man', uid=MAN_UID, gid=MAN_GID)
    path = games.open_ok(ECHO)
    big = valueset(b=GLib.Variant('ay', b'x' * 2000))
    assert games.send_message(path, big).ok() == [big.print_(True)]
    man.open(ECHO).wait().expect_error('NotAuthorized')

    apply(daemon, root, how, lambda: services_dir.write(
        ECHO, Description='New', AllowUsers='man', MaxMessageSize=1024))

    changed = games.wait_signal('PropertiesChanged', path=ECHO_PATH)
    assert changed.arg(0, 's') == SERVICE_IFACE
    assert changed.arg(1, 'a{sv}') == {'Description': 'New', 'MaxMessageSize': 1024}
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Description') == 'New'
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'MaxMessageSize') == 1024
    assert {s[0]: s[2] for s in root.list_services()} == {ECHO: 'New'}

    # The object, the provider and the connection stay ...
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'active'
    assert bus.connection_alive(path)
    small = valueset(n=GLib.Variant('i', 7))
    assert games.send_message(path, small).ok() == [small.print_(True)]
    games.assert_no_signal('ServiceClosed')
    games.assert_no_signal('InterfacesRemoved')
    provider.assert_no_signal('ServiceClosed')
    # ... and the new rules apply to what comes next.
    games.send_message(path, big).wait().expect_error('MessageSizeTooLarge')
    games.open(ECHO).wait().expect_error('NotAuthorized')
    man_path = man.open_ok(ECHO)
    assert man.send_message(man_path, small).ok() == [small.print_(True)]
    daemon.wait_log(r'reloaded the definitions: 0 added, 0 removed, 1 changed')


def test_unchanged_file_is_not_a_change(services_dir, daemon, agents):
    services_dir.write(ECHO, Description='Same')
    daemon.start()
    root = agents.spawn('root')
    watcher = agents.spawn('watcher')
    apply(daemon, root, 'Reload', lambda: services_dir.write(ECHO, Description='Same'))
    daemon.wait_log(r'reloaded the definitions: 0 added, 0 removed, 0 changed')
    watcher.assert_no_signal('PropertiesChanged')


def test_changed_provider_and_activatable(services_dir, daemon, agents):
    services_dir.write(ECHO)
    daemon.start()
    root = agents.spawn('root')
    watcher = agents.spawn('watcher')
    apply(daemon, root, 'Reload', lambda: services_dir.write(
        ECHO, Provider='com.example.OtherApp', Exec='/bin/true'))
    changed = watcher.wait_signal('PropertiesChanged', path=ECHO_PATH)
    assert changed.arg(1, 'a{sv}') == {'Provider': 'com.example.OtherApp', 'Activatable': True}
    root.open(ECHO, ECHO_PROVIDER).wait().expect_error('AppNotInstalled')


def test_broken_file_keeps_the_old_definition(services_dir, daemon, agents, bus):
    services_dir.write(ECHO, Description='Good', AllowUsers='games')
    daemon.start()
    root = agents.spawn('root')
    watcher = agents.spawn('watcher')
    name = '%s.appservice' % ECHO

    apply(daemon, root, 'Reload', lambda: services_dir.write(
        ECHO, Description='Broken', AllowUsers='man', MaxMessageSize='lots'))
    # The log names the file, the line and the key.
    daemon.wait_log(re.escape(name) + r':5: MaxMessageSize: ')
    daemon.wait_log(r"app service '%s': .*%s does not load any more, keeping the previous "
                    r'definition' % (re.escape(ECHO), re.escape(name)))
    daemon.wait_log(r'reloaded the definitions: 0 added, 0 removed, 0 changed')
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Description') == 'Good'
    agents.spawn('man', uid=MAN_UID, gid=MAN_GID).open(ECHO).wait().expect_error(
        'NotAuthorized')
    watcher.assert_no_signal('InterfacesRemoved')
    watcher.assert_no_signal('PropertiesChanged', path=ECHO_PATH)

    # Fixed again: the change applies.
    apply(daemon, root, 'Reload', lambda: services_dir.write(ECHO, Description='Fixed'))
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Description') == 'Fixed'


def test_disabled_flag_survives_a_reload(services_dir, daemon, agents, bus):
    services_dir.write(ECHO, Description='Before')
    daemon.start()
    root = agents.spawn('root')
    set_enabled(root, ECHO, False).ok()
    apply(daemon, root, 'Reload', lambda: services_dir.write(ECHO, Description='After'))
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Description') == 'After'
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'disabled'
    root.open(ECHO).wait().expect_error('DisabledByPolicy')
    set_enabled(root, ECHO, True).ok()
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'inactive'


# ---- the directories ----------------------------------------------------------------------------

def test_directory_created_later_is_read_by_reload(services_dir, daemon, agents, bus, workdir):
    later = os.path.join(workdir, 'later')
    services_dir.write(ECHO)
    daemon.start(services_dirs=[services_dir.path, later])
    root = agents.spawn('root')
    os.makedirs(later)
    with open(os.path.join(later, 'com.example.later.appservice'), 'w') as f:
        f.write('[App Service]\nName=com.example.later\nProvider=com.example.LaterApp\n')
    # Not watched (it did not exist at start), so nothing happens by itself ...
    root.barrier(1.0)
    assert [s[0] for s in root.list_services()] == [ECHO]
    # ... until a reload, which reads it and watches it from then on.
    root.manager('Reload').ok()
    assert [s[0] for s in root.list_services()] == [ECHO, 'com.example.later']
    apply(daemon, root, 'watch', lambda: os.unlink(
        os.path.join(later, 'com.example.later.appservice')))
    assert [s[0] for s in root.list_services()] == [ECHO]


def test_watch_ignores_other_files(services_dir, daemon, agents):
    services_dir.write(ECHO)
    daemon.start()
    root = agents.spawn('root')
    services_dir.write_raw('notes.txt', 'not a definition\n')
    services_dir.write_raw('.hidden.appservice', '[App Service]\nName=com.example.hidden\n')
    root.barrier(1.0)
    assert reload_count(daemon) == 0, daemon.log_tail()
    assert [s[0] for s in root.list_services()] == [ECHO]


def test_one_log_line_with_the_counts(services_dir, daemon, agents):
    services_dir.write(ECHO)
    services_dir.write('com.example.gone', Provider='com.example.GoneApp')
    daemon.start()
    root = agents.spawn('root')

    def change():
        os.unlink(os.path.join(services_dir.path, 'com.example.gone.appservice'))
        services_dir.write(ECHO, Description='changed')
        services_dir.write('com.example.new', Provider='com.example.NewApp')
    apply(daemon, root, 'Reload', change)
    daemon.wait_log(r'reloaded the definitions: 1 added, 1 removed, 1 changed')


# ---- files that do not load: told to clients and administrators ---------------------------------

def load_errors(bus):
    return [tuple(e) for e in bus.get_property(MANAGER_PATH, MANAGER_IFACE, 'LoadErrors')]


def test_client_learns_why_a_service_is_missing(services_dir, daemon, agents, bus):
    """Not just "not declared": the file that would declare it, the line, the key, for any
    local user, as the file itself would show them."""
    services_dir.write(ECHO)
    timeout = services_dir.write('com.example.timeout', RequestTimeoutSec='soon')
    nouser = services_dir.write('com.example.nouser', User='no-such-user-here')
    daemon.start()
    daemon.wait_log(r'serving 1 app service\(s\); 2 definition file\(s\) do not load')
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)

    message = games.open('com.example.timeout').wait().expect_error('AppServiceUnavailable')
    assert timeout in message and 'line 3: RequestTimeoutSec: ' in message, message
    message = games.open('com.example.nouser').wait().expect_error('AppServiceUnavailable')
    assert nouser in message and "unknown user 'no-such-user-here'" in message, message
    # A name with no file at all: the plain answer.
    message = games.open('com.example.none').wait().expect_error('AppServiceUnavailable')
    assert message == "no app service named 'com.example.none' is declared", message
    # Administrators see the same list (appservicectl status), in file order.
    errors = load_errors(bus)
    assert [p for p, _ in errors] == [nouser, timeout], errors
    assert "unknown user 'no-such-user-here'" in errors[0][1], errors
    # The rest is served.
    assert [s[0] for s in games.list_services()] == [ECHO]


def test_details_of_a_private_file_stay_private(services_dir, daemon, agents, bus):
    """A file only root may read (it may hold [Secrets]): an unprivileged caller learns that it
    does not load, not what it says; the log has the details."""
    path = services_dir.write('com.example.private', mode=0o600, User='secret-team-user',
                              secrets={'api-key': 'hunter2'})
    daemon.start()
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    message = games.open('com.example.private').wait().expect_error('AppServiceUnavailable')
    assert path in message and 'appservicectl verify' in message, message
    assert 'secret-team-user' not in message and 'hunter2' not in message, message
    (only,) = load_errors(bus)
    assert only[0] == path and 'secret-team-user' not in only[1], only
    daemon.wait_log(r"unknown user 'secret-team-user'")
    assert not any('hunter2' in line for line in daemon.log_lines())


def test_reload_reports_files_that_do_not_load(services_dir, daemon, agents, bus):
    services_dir.write(ECHO, Description='Good')
    daemon.start()
    root = agents.spawn('root')
    watcher = agents.spawn('watcher')
    assert load_errors(bus) == []
    apply(daemon, root, 'Reload', lambda: services_dir.write(ECHO, MaxMessageSize='lots'))
    # Warned, not just counted at info level; the property says which file and why.
    daemon.wait_log(r'reloaded the definitions: .*; 1 file\(s\) do not load')
    (error,) = load_errors(bus)
    assert error[0].endswith('/%s.appservice' % ECHO) and 'MaxMessageSize' in error[1], error
    watcher.wait_signal('PropertiesChanged', path=MANAGER_PATH,
                        predicate=lambda e: 'LoadErrors' in e['args'])
    # Fixed: the list is empty again.
    apply(daemon, root, 'Reload', lambda: services_dir.write(ECHO, Description='Fixed'))
    assert load_errors(bus) == []


def test_hostile_names_get_a_bounded_answer(services_dir, daemon, agents):
    """Whatever name a caller asks for, the answer is the plain one, cut: no path outside the
    definition directories is looked at and the message does not echo megabytes."""
    services_dir.write(ECHO)
    daemon.start()
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    for name in ('../../etc/passwd', 'x' * 100000, ECHO + '/../x', ''):
        message = games.open(name).wait().expect_error('AppServiceUnavailable')
        assert len(message) < 400, len(message)
    assert [s[0] for s in games.list_services()] == [ECHO]


# ---- who may administer -------------------------------------------------------------------------

def test_not_authorized_without_polkit(services_dir, daemon, agents, bus):
    services_dir.write(ECHO, Description='Before')
    daemon.start()
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    services_dir.write('com.example.new', Provider='com.example.NewApp')
    # polkit is not on the test bus: only root may administer.
    msg = games.manager('Reload').wait().expect_error('NotAuthorized')
    assert 'uid %d may not reload the definitions' % GAMES_UID in msg, msg
    assert 'polkit is not running' in msg and 'io.appservice1.manage' in msg, msg
    msg = set_enabled(games, ECHO, False).wait().expect_error('NotAuthorized')
    assert 'uid %d' % GAMES_UID in msg and ECHO in msg and 'io.appservice1.manage' in msg, msg
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'inactive'
    # An unknown service is still AppServiceUnavailable first.
    set_enabled(games, 'com.example.nosuch', False).wait().expect_error('AppServiceUnavailable')
    root = agents.spawn('root')
    root.manager('Reload').ok()
    set_enabled(root, ECHO, False).ok()
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'disabled'


# polkit cannot run on the test bus (it needs the real system bus and logind); a stand-in peer
# owns its name and answers CheckAuthorization as the real one would. The VM tier uses the real
# polkitd.

def polkit(agents, allow_uids=(), hold=False):
    standin = agents.spawn('polkit')
    tag = standin.next_tag()
    standin.send({'cmd': 'polkit_standin', 'tag': tag, 'allow_uids': list(allow_uids),
                  'hold': hold})
    standin.wait_event(lambda e: e['event'] == 'reply' and e['tag'] == tag and e['ok'], None,
                       'the polkit stand-in to own its name')
    return standin


def polkit_calls(standin):
    with standin.cond:
        return [e for e in standin.events if e['event'] == 'polkit_call']


@pytest.mark.polkit_standin
def test_polkit_decides_for_others_than_root(services_dir, daemon, agents, bus):
    services_dir.write(ECHO)
    daemon.start()
    standin = polkit(agents, allow_uids=[MAN_UID])
    man = agents.spawn('man', uid=MAN_UID, gid=MAN_GID)
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)

    apply(daemon, man, 'Reload', lambda: services_dir.write(ECHO, Description='By man'))
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Description') == 'By man'
    call = polkit_calls(standin)[-1]
    assert call['sender'] == daemon.unique_name
    assert call['kind'] == 'system-bus-name' and call['subject'] == {'name': man.unique_name}
    assert call['uid'] == MAN_UID
    assert call['action'] == 'io.appservice1.manage'
    assert call['details'] == {} and call['cancellation'] == ''
    assert call['flags'] == 0
    assert call['auto_start'] is True    # polkitd is bus-activated where installed

    set_enabled(man, ECHO, False).ok()
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'disabled'

    msg = games.manager('Reload').wait().expect_error('NotAuthorized')
    assert 'uid %d may not reload the definitions' % GAMES_UID in msg, msg
    assert 'io.appservice1.manage' in msg, msg
    set_enabled(games, ECHO, True).wait().expect_error('NotAuthorized')
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'disabled'

    # With interaction allowed on the call, polkit is told so (and may ask for a password).
    msg = games.manager('Reload', interactive=True).wait().expect_error('NotAuthorized')
    assert 'authentication is required' in msg, msg
    assert polkit_calls(standin)[-1]['flags'] == 1

    # Root is never asked about.
    n = len(polkit_calls(standin))
    agents.spawn('root').manager('Reload').ok()
    assert len(polkit_calls(standin)) == n


@pytest.mark.polkit_standin
def test_call_waiting_for_polkit_is_answered_at_shutdown(services_dir, daemon, agents):
    services_dir.write(ECHO)
    daemon.start()
    standin = polkit(agents, hold=True)
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    waiting = games.manager('Reload')
    standin.wait_event(lambda e: e['event'] == 'polkit_call', None, 'the polkit check')
    waiting.assert_pending()
    daemon.stop_clean()
    msg = waiting.wait().expect_error('NotAuthorized')
    assert 'shutting down' in msg, msg


def polkit_release(standin):
    tag = standin.next_tag()
    standin.send({'cmd': 'polkit_release', 'tag': tag})
    return standin.wait_event(lambda e: e['event'] == 'polkit_released' and e['tag'] == tag, None,
                              'the held polkit checks to be answered')['count']


@pytest.mark.polkit_standin
def test_call_authorized_after_its_service_was_removed(services_dir, daemon, agents, bus):
    # The handler runs again once polkit said yes (hostnamed's shape): it looks the service up
    # again, so a reload in between is seen, never a freed service.
    path = services_dir.write(ECHO)
    daemon.start()
    standin = polkit(agents, allow_uids=[MAN_UID], hold=True)
    man = agents.spawn('man', uid=MAN_UID, gid=MAN_GID)
    stop = man.manager('StopService', '(s)', "('%s',)" % ECHO)
    enable = set_enabled(man, ECHO, False)
    standin.wait_event(lambda e: len(polkit_calls(standin)) >= 2, None, 'both polkit checks')
    stop.assert_pending()
    apply(daemon, agents.spawn('root'), 'Reload', lambda: os.unlink(path))
    assert polkit_release(standin) == 2
    msg = stop.wait().expect_error('AppServiceUnavailable')
    assert ECHO in msg, msg
    enable.wait().expect_error('AppServiceUnavailable')
    # Still serving, and a yes still works.
    apply(daemon, agents.spawn('root'), 'Reload', lambda: services_dir.write(ECHO))
    set_enabled(man, ECHO, False).ok()
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'disabled'

    # Nothing of the two refused calls stays behind: the uid still has all of its calls that
    # may wait for polkit (4), none taken by a yes that outlived its call.
    tag = standin.next_tag()
    standin.send({'cmd': 'polkit_hold', 'tag': tag})
    standin.wait_event(lambda e: e['event'] == 'polkit_holding' and e['tag'] == tag, None, 'polkit to hold')
    waiting = [man.manager('Reload') for _ in range(4)]
    standin.wait_event(lambda e: len(polkit_calls(standin)) >= 7, None, 'four more polkit checks')
    for call in waiting:
        call.assert_pending()
    assert polkit_release(standin) == 4
    for call in waiting:
        call.ok()


@pytest.mark.polkit_standin
def test_caller_gone_before_polkit_answers(services_dir, daemon, agents, bus):
    # Authorized, dispatched again, and nobody to answer: the work is done (or not) and the
    # broker goes on; the calls waiting for polkit never outlive its answer.
    services_dir.write(ECHO)
    daemon.start()
    standin = polkit(agents, allow_uids=[MAN_UID, GAMES_UID], hold=True)
    leaver = agents.spawn('leaver', uid=GAMES_UID, gid=GAMES_GID)
    leaver.manager('Reload')
    set_enabled(leaver, ECHO, False)
    standin.wait_event(lambda e: len(polkit_calls(standin)) >= 2, None, 'both polkit checks')
    leaver.crash()
    assert polkit_release(standin) == 2
    # The set-enabled of the one who left was authorized and done: polkit said yes to it.
    bus.wait_for(lambda: bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'disabled',
                 what='the authorized SetServiceEnabled of a peer that left')
    man = agents.spawn('man', uid=MAN_UID, gid=MAN_GID)
    man.manager('Reload').ok()
    set_enabled(man, ECHO, True).ok()
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'inactive'
    assert daemon.running()


# ---- with the provider lifecycle ----------------------------------------------------------------

def test_added_with_auto_start_is_started(services_dir, daemon, agents, bus):
    daemon.start()
    root = agents.spawn('root')
    listener = agents.listener()
    apply(daemon, root, 'Reload', lambda: services_dir.write(
        ECHO, Exec=agents.provider_command(ECHO, listener), AutoStart='yes'))
    # Started without any open, as at the daemon's start.
    provider = listener.accept()
    provider.wait_registered()
    bus.wait_for(lambda: bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'active',
                 what='the added AutoStart= service to be active')
    assert bus.get_property(MANAGER_PATH, MANAGER_IFACE, 'State') == 'running'


def test_removed_provider_that_ignores_the_request_is_stopped_by_force(services_dir, daemon, agents):
    listener = agents.listener()
    path = services_dir.write(ECHO, Exec=agents.provider_command(ECHO, listener), StopTimeoutSec='0.5')
    daemon.start()
    root = agents.spawn('root')
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    client.open_ok(ECHO)
    provider = listener.accept()
    provider.wait_registered()

    apply(daemon, root, 'Reload', lambda: os.unlink(path))
    stop = provider.wait_signal('StopRequested', path=ECHO_PATH)
    assert stop.arg(0, 'a{sv}') == {'reason': 'removed'}
    # It ignores the request: SIGTERM after StopTimeoutSec=, and the daemon reaps it.
    provider.wait_gone()
    daemon.wait_log(r"app service 'com\.example\.echo': sending SIGTERM to provider process %d" % provider.pid)


# ---- a noisy file (issue 10, item 9) ------------------------------------------------------------

def test_unknown_keys_are_logged_a_few_times_once(services_dir, daemon, agents, bus):
    # 60,000 unknown keys: five lines and one that counts the rest, per load of the file, and a
    # reload of the file unchanged (the watch reloads every file on any change) repeats none of
    # them at warning level.
    unknown = ''.join('Unknown%d=1\n' % i for i in range(60000))
    noisy = services_dir.write('com.example.noisy', Provider='com.example.NoisyApp',
                               extra_text=unknown)
    daemon.start()
    root = agents.spawn('root')

    def about_unknown(level=''):
        return [line for line in daemon.log_lines()
                if line.startswith(level) and noisy in line and 'unknown' in line]

    first = about_unknown('<4>')
    assert len(first) == 6, '\n'.join(first[:20])
    assert '... and 59995 more unknown sections and keys' in first[-1], first[-1]

    for i in range(2):
        apply(daemon, root, 'watch', lambda: services_dir.write(
            'com.example.other%d' % i, Provider='com.example.OtherApp'))
    apply(daemon, root, 'Reload', lambda: None)
    assert about_unknown('<4>') == first
    assert len(about_unknown()) <= 6 * 4  # at debug, as bounded as the first time

    # Changed, it is said again (written aside and renamed: the watch never sees half a file).
    tmp = os.path.join(services_dir.path, '.noisy.tmp')
    with open(tmp, 'w') as f:
        f.write(open(noisy).read() + 'OneMore=1\n')
    before = reload_count(daemon)
    os.rename(tmp, noisy)
    bus.wait_for(lambda: len(about_unknown('<4>')) == 12 and reload_count(daemon) > before,
                 what='the changed file warned about once more')
    assert '... and 59996 more unknown sections and keys' in about_unknown('<4>')[-1]
