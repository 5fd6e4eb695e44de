# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon's live introspection against the contract and against dbus-interfaces/*.xml."""

import os
import xml.etree.ElementTree as ET

import pytest

from client import CONNECTION_IFACE, ECHO, ECHO_PATH, MANAGER_IFACE, MANAGER_PATH, SERVICE_IFACE
from conftest import SOURCE_ROOT

# What shared/design/dbus-api.md says, to the letter: argument names, types and directions.
CONTRACT = {
    MANAGER_IFACE: {
        'methods': {
            'OpenConnection': [('name', 's', 'in'), ('provider', 's', 'in'),
                               ('options', 'a{sv}', 'in'), ('connection', 'o', 'out')],
            'ListServices': [('services', 'a(ssssbo)', 'out')],
            'RegisterProvider': [('name', 's', 'in'), ('options', 'a{sv}', 'in'),
                                 ('service', 'o', 'out'), ('config', 'a{sv}', 'out')],
            'UnregisterProvider': [('name', 's', 'in')],
        },
        'signals': {},
        'properties': {'Version': ('s', 'read'), 'NodeName': ('s', 'read'),
                       'State': ('s', 'read')},
    },
    SERVICE_IFACE: {
        'methods': {
            'SendMessage': [('message', 'a{sv}', 'in'), ('response', 'a{sv}', 'out')],
        },
        'signals': {
            'ConnectionOpened': [('connection', 'o'), ('caller', 'a{sv}')],
        },
        'properties': {'Name': ('s', 'read'), 'Provider': ('s', 'read'),
                       'Description': ('s', 'read'), 'State': ('s', 'read'),
                       'Activatable': ('b', 'read'), 'Connections': ('u', 'read')},
    },
    CONNECTION_IFACE: {
        'methods': {
            'SendMessage': [('message', 'a{sv}', 'in'), ('response', 'a{sv}', 'out')],
            'SendResponse': [('request', 't', 'in'), ('response', 'a{sv}', 'in')],
            'Close': [],
        },
        'signals': {
            'RequestReceived': [('request', 't'), ('message', 'a{sv}')],
            'ServiceClosed': [('status', 'u')],
        },
        'properties': {'Service': ('o', 'read'), 'Name': ('s', 'read'),
                       'Caller': ('a{sv}', 'read')},
    },
}


def parse_interface(xml_text, name):
    """{methods, signals, properties} of interface `name` in introspection XML, or None."""
    root = ET.fromstring(xml_text)
    for iface in root.iter('interface'):
        if iface.get('name') != name:
            continue
        return {
            'methods': {m.get('name'): [(a.get('name'), a.get('type'), a.get('direction', 'in'))
                                        for a in m.findall('arg')]
                        for m in iface.findall('method')},
            'signals': {s.get('name'): [(a.get('name'), a.get('type')) for a in s.findall('arg')]
                        for s in iface.findall('signal')},
            'properties': {p.get('name'): (p.get('type'), p.get('access'))
                           for p in iface.findall('property')},
        }
    return None


def xml_file(name):
    path = os.path.join(SOURCE_ROOT, 'dbus-interfaces', name + '.xml')
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        pytest.skip('%s is not written yet' % os.path.relpath(path, SOURCE_ROOT))
    with open(path) as f:
        return f.read()


@pytest.fixture
def live(start_service, agents):
    """The live Introspect output of each of the three objects, as an endpoint sees it."""
    start_service(ECHO)
    client = agents.spawn('client')
    path = client.open_ok(ECHO)
    out = {}
    for iface, obj in ((MANAGER_IFACE, MANAGER_PATH), (SERVICE_IFACE, ECHO_PATH),
                       (CONNECTION_IFACE, path)):
        r = client.call('io.appservice1', obj, 'org.freedesktop.DBus.Introspectable',
                        'Introspect').wait()
        out[iface] = r.unpack(0, 's')
    return out


@pytest.mark.parametrize('iface', sorted(CONTRACT))
def test_live_interface_has_the_contract(live, iface):
    got = parse_interface(live[iface], iface)
    assert got is not None, 'interface %s not introspected' % iface
    want = CONTRACT[iface]
    for kind in ('methods', 'signals', 'properties'):
        for member, spec in want[kind].items():
            assert member in got[kind], '%s.%s missing' % (iface, member)
            assert got[kind][member] == spec, '%s.%s: %r, contract says %r' % (
                iface, member, got[kind][member], spec)


@pytest.mark.parametrize('iface', sorted(CONTRACT))
def test_xml_file_has_the_contract(iface):
    got = parse_interface(xml_file(iface), iface)
    assert got is not None, 'dbus-interfaces/%s.xml does not declare %s' % (iface, iface)
    for kind in ('methods', 'signals', 'properties'):
        for member, spec in CONTRACT[iface][kind].items():
            assert got[kind].get(member) == spec, '%s.%s: %r, contract says %r' % (
                iface, member, got[kind].get(member), spec)


@pytest.mark.parametrize('iface', sorted(CONTRACT))
def test_live_interface_matches_xml_file(live, iface):
    from_file = parse_interface(xml_file(iface), iface)
    from_daemon = parse_interface(live[iface], iface)
    assert from_file is not None and from_daemon is not None
    for kind in ('methods', 'signals', 'properties'):
        assert from_daemon[kind] == from_file[kind], '%s %s differ:\n daemon: %r\n file:   %r' % (
            iface, kind, from_daemon[kind], from_file[kind])


def test_object_manager_on_the_manager(live):
    root = ET.fromstring(live[MANAGER_IFACE])
    names = {i.get('name') for i in root.iter('interface')}
    assert 'org.freedesktop.DBus.ObjectManager' in names
