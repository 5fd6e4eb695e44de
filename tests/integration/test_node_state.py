# SPDX-License-Identifier: LGPL-2.1-or-later
"""The node's state: AutoStart=yes providers at start, Manager.State "starting" → "running" →
"stopping", and StateUpdate, unicast to each registered provider once per change, in order."""

import signal

from client import (ECHO, ECHO_PATH, MANAGER_IFACE, MANAGER_PATH, SERVICE_IFACE, TIME_SCALE,
                    service_path)

TWO = 'com.example.two'
AUTO = 'com.example.auto'


def node_state(bus):
    return bus.get_property(MANAGER_PATH, MANAGER_IFACE, 'State')


def state_updates(peer):
    return [s.arg(0, 'a{sv}') for s in peer.signals('StateUpdate', interface=MANAGER_IFACE)]


def test_no_auto_start_is_running_at_once(services_dir, daemon, bus):
    services_dir.write(ECHO, Exec='/bin/false')
    daemon.start()
    assert node_state(bus) == 'running'
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'State') == 'inactive'
    assert 'started provider' not in daemon.log_text()


def test_auto_start_starting_then_running(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(AUTO, Exec=agents.provider_command(
        AUTO, listener, extra=['--register-delay', '600']), AutoStart='yes')
    services_dir.write(ECHO)
    services_dir.write(TWO)
    daemon.start()
    assert node_state(bus) == 'starting'
    provider = listener.accept()  # started without any open
    assert bus.get_property(service_path(AUTO), SERVICE_IFACE, 'State') == 'activating'

    # A provider that registers while the node starts is told so, then told when it runs.
    early = agents.spawn('early', register=ECHO, auto='echo')
    registered = early.wait_registered()
    assert "'state': <'starting'>" in registered['value'], registered['value']

    assert node_state(bus) == 'starting'
    provider.register_ok(AUTO)  # the test says when (its own --register-delay is long)
    bus.wait_for(lambda: node_state(bus) == 'running', timeout=10 * TIME_SCALE,
                 what='running once the AutoStart= provider registered')
    provider.wait_signal('StateUpdate')
    update = early.wait_signal('StateUpdate')
    assert update['destination'] == early.unique_name
    assert update['path'] == MANAGER_PATH
    details = update.arg(0, 'a{sv}')
    assert details['state'] == 'running'
    assert details['node-name'] == bus.get_property(MANAGER_PATH, MANAGER_IFACE, 'NodeName')
    assert details['version'] == bus.get_property(MANAGER_PATH, MANAGER_IFACE, 'Version')

    # The AutoStart= provider registered while starting too, and got the change.
    assert [u['state'] for u in state_updates(provider)] == ['running']
    # Registered after that: "running" in the reply, no StateUpdate.
    late = agents.spawn('late')
    _, config = late.register_ok(TWO)
    assert config['settings']['state'] == 'running'
    late.assert_no_signal('StateUpdate')


def test_auto_start_that_fails_still_runs(services_dir, daemon, agents, bus):
    listener = agents.listener()
    services_dir.write(AUTO, Exec=agents.provider_command(
        AUTO, listener, extra=['--exit-before-register', '1']), AutoStart='yes')
    daemon.start()
    bus.wait_for(lambda: node_state(bus) == 'running', what='running after the failed AutoStart')
    assert bus.get_property(service_path(AUTO), SERVICE_IFACE, 'State') == 'failed'


def test_state_update_once_per_peer_in_order_and_only_to_providers(services_dir, daemon, agents,
                                                                     bus):
    listener = agents.listener()
    services_dir.write(AUTO, Exec=agents.provider_command(
        AUTO, listener, extra=['--register-delay', '600']), AutoStart='yes')
    services_dir.write(ECHO)
    services_dir.write(TWO)
    daemon.start()
    assert node_state(bus) == 'starting'

    # One peer serving two services, a client with the match rule sender='io.appservice1'.
    provider = agents.spawn('provider', register=ECHO, auto='echo')
    provider.wait_registered()
    _, config = provider.register_ok(TWO)
    assert config['settings']['state'] == 'starting'
    client = agents.spawn('client')
    path = client.open_ok(ECHO)
    provider.wait_signal('ConnectionOpened')

    auto = listener.accept()
    assert node_state(bus) == 'starting'
    auto.register_ok(AUTO)
    provider.wait_signal('StateUpdate')
    auto.wait_signal('StateUpdate')
    provider.barrier(0.3)
    assert [u['state'] for u in state_updates(provider)] == ['running'], \
        'one StateUpdate per change and per peer, however many services it serves'

    # At SIGTERM: "stopping" first, then ServiceClosed.
    daemon.signal(signal.SIGTERM)
    stopping = provider.wait_signal('StateUpdate')
    closed = provider.wait_signal('ServiceClosed', path=path)
    assert stopping.arg(0, 'a{sv}')['state'] == 'stopping'
    assert stopping['seq'] < closed['seq'], 'StateUpdate(stopping) must come before ServiceClosed'
    assert stopping['destination'] == provider.unique_name
    assert [u['state'] for u in state_updates(provider)] == ['running', 'stopping']
    # The other provider's copy may still be on its way.
    auto.wait_signal('StateUpdate', predicate=lambda s: s.arg(0, 'a{sv}')['state'] == 'stopping')
    assert [u['state'] for u in state_updates(auto)] == ['running', 'stopping']
    assert daemon.wait_exit() == 0

    # Never to a peer that is not a registered provider, match rule or not.
    assert client.signals('StateUpdate') == []
    client_closed = client.wait_signal('ServiceClosed', path=path)
    assert client_closed.arg(0, 'u') == 1
    # PropertiesChanged is the broadcast announcement of State.
    changes = [s for s in client.signals('PropertiesChanged', path=MANAGER_PATH)]
    assert any("'State'" in s['args'] and 'stopping' in s['args'] for s in changes), changes
