# SPDX-License-Identifier: LGPL-2.1-or-later
"""Messages to the cloud (services/mqtt/README.md, "1. Messages to the cloud"): the topic names
the sender as the broker vouches for it, the payload is the typed JSON of the ValueSet (or its
wire encoding), the sender is told delivered or queued, a message over MaxMessageSize or over the
MQTT broker's maximum packet size never leaves the node, and the node's retained status."""

import json
import os
import re
import subprocess

import pytest

from client import (GAMES_GID, GAMES_UID, LP_GID, LP_UID, MAN_GID, MAN_UID, GLib, err,
                    valueset, valueset_of_size)
from cloudlib import ID_RE, accepted, messages_topic, send, submit
from mqttharness import BUILD_ROOT, CLOUD, PREFIX

TIME_RE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$')

# One value of each kind, and the typed JSON mapping of each (common/README.md, as
# appservicectl --json writes it): plain JSON for s, b, null and nested ValueSets, {"@TYPE": v}
# for everything else.
TYPED = [
    ('Temperature', GLib.Variant('d', 21.5), {'@d': 21.5}),
    ('Unit', GLib.Variant('s', 'C'), 'C'),
    ('On', GLib.Variant('b', True), True),
    ('Off', GLib.Variant('b', False), False),
    ('Nothing', GLib.Variant('av', []), None),
    ('Count', GLib.Variant('x', -5), {'@x': -5}),
    ('Int64Min', GLib.Variant('x', -2 ** 63), {'@x': -2 ** 63}),
    ('UInt64Max', GLib.Variant('t', 2 ** 64 - 1), {'@t': 2 ** 64 - 1}),
    ('Int32Min', GLib.Variant('i', -2 ** 31), {'@i': -2 ** 31}),
    ('UInt32Max', GLib.Variant('u', 2 ** 32 - 1), {'@u': 2 ** 32 - 1}),
    ('Int16Min', GLib.Variant('n', -2 ** 15), {'@n': -2 ** 15}),
    ('UInt16Max', GLib.Variant('q', 2 ** 16 - 1), {'@q': 2 ** 16 - 1}),
    ('Byte', GLib.Variant('y', 255), {'@y': 255}),
    ('DoubleMax', GLib.Variant('d', 1.7976931348623157e+308), {'@d': 1.7976931348623157e+308}),
    ('Tiny', GLib.Variant('d', 5e-324), {'@d': 5e-324}),
    ('Bytes', GLib.Variant('ay', b'\x00\xff'), {'@ay': [0, 255]}),
    ('Names', GLib.Variant('as', ['', 'a"b\\c', 'é']), {'@as': ['', 'a"b\\c', 'é']}),
    ('Text', GLib.Variant('s', 'line\n\ttab "quoted" \u00e9\u20ac'), 'line\n\ttab "quoted" é€'),
    ('Inner', GLib.Variant('a{sv}', {'k': GLib.Variant('i', 1), 'empty': GLib.Variant('a{sv}', {})}),
     {'k': {'@i': 1}, 'empty': {}}),
    ('List', GLib.Variant('aa{sv}', [{'a': GLib.Variant('s', 'x')}, {}]), [{'a': 'x'}, {}]),
    ('Path', GLib.Variant('o', '/a/b'), {'@o': '/a/b'}),
    ('Pair', GLib.Variant('(sx)', ('a', 1)), {'@(sx)': ['a', 1]}),
    ('Map', GLib.Variant('a{ss}', {'k': 'v'}), {'@a{ss}': {'k': 'v'}}),
    ('Ints', GLib.Variant('ai', [-1, 0, 1]), {'@ai': [-1, 0, 1]}),
]


def typed_message():
    return valueset([(k, v) for k, v, _ in TYPED]), {k: j for k, _, j in TYPED}


def test_app_message_typed_json(cluster):
    a = cluster.node('node-a')
    sub = cluster.subscriber([messages_topic('node-a')], 'cloud')
    client = a.client('games', uid=GAMES_UID, gid=GAMES_GID)
    message, expected = typed_message()

    answer = accepted(send(client, message).wait())
    assert answer['status'] == 'delivered', answer
    assert answer['id'].startswith('node-a:')
    m = sub.wait(lambda m: m.topic == messages_topic('node-a', '@uid-%d' % GAMES_UID))
    body = m.json()
    assert set(body) == {'id', 'node', 'service', 'time', 'message'}, body
    assert body['id'] == answer['id'] and body['node'] == 'node-a'
    assert body['service'] == '@uid-%d' % GAMES_UID
    assert TIME_RE.match(body['time']), body['time']
    for key, want in expected.items():
        assert key in body['message'], 'missing %s in %s' % (key, body['message'])
        got = body['message'][key]
        assert got == want and type(got) is type(want), '%s: %r, expected %r' % (key, got, want)
    assert set(body['message']) == set(expected)
    assert m.content_type == 'application/json', m.content_type
    assert m.prop('message-id') == answer['id'], m.user_props


def test_senders_in_the_topic(cluster):
    a = cluster.node('node-a')
    sub = cluster.subscriber([messages_topic('node-a')], 'cloud')
    games = a.client('games', uid=GAMES_UID, gid=GAMES_GID)
    man = a.client('man', uid=MAN_UID, gid=MAN_GID)
    sensor = a.provider('com.example.sensor', User='lp', uid=LP_UID, gid=LP_GID)
    msg = valueset(Value=GLib.Variant('i', 1))

    ids = {}
    ids['games'] = accepted(send(games, msg).wait())['id']
    ids['man'] = accepted(send(man, msg).wait())['id']
    # Through a connection of its own, too.
    path = games.open_ok(CLOUD)
    ids['games-connection'] = accepted(games.send_message(path, msg).wait())['id']
    games.close(path).ok()
    # A provider's SubmitAction names its service.
    r = submit(sensor, msg, action='reading').wait()
    responses, failures = r.unpack(0, 'a{sv}'), r.unpack(1, 'a{ss}')
    assert failures == {} and set(responses) == {CLOUD}, (responses, failures)
    assert responses[CLOUD]['status'] == 'delivered' and ID_RE.match(responses[CLOUD]['id'])
    ids['sensor'] = responses[CLOUD]['id']

    want = {'games': '@uid-%d' % GAMES_UID, 'man': '@uid-%d' % MAN_UID,
            'games-connection': '@uid-%d' % GAMES_UID, 'sensor': 'com.example.sensor'}
    for who, ident in ids.items():
        m = sub.wait(lambda m: m.json()['id'] == ident, what='the message of %s' % who)
        assert m.topic == messages_topic('node-a', want[who]), (who, m.topic)
        assert m.json()['service'] == want[who]
    assert len(set(ids.values())) == len(ids), 'ids are unique: %s' % ids


def test_message_over_max_message_size_never_leaves(cluster):
    a = cluster.node('node-a')
    sub = cluster.subscriber([messages_topic('node-a')], 'cloud')
    client = a.client('games', uid=GAMES_UID, gid=GAMES_GID)
    limit = 256 * 1024

    r = send(client, valueset_of_size(limit + 1)).wait()
    r.expect_error('MessageSizeTooLarge')
    # Exactly at the limit: accepted, and published whole.
    big = accepted(send(client, valueset_of_size(limit), timeout_ms=60000).wait(60))
    m = sub.wait(lambda m: m.json()['id'] == big['id'], timeout=30)
    assert len(m.json()['message']['blob']['@ay']) == len(valueset_of_size(limit)
                                                           .lookup_value('blob', None).unpack())
    # The refused one was not published before it: the bridge publishes in order.
    barrier = accepted(send(client, valueset(After=GLib.Variant('b', True))).wait())
    sub.wait(lambda m: m.json()['id'] == barrier['id'])
    assert len(sub.snapshot(lambda m: m.topic.startswith('%s/node-a/messages/' % PREFIX))) == 2


@pytest.mark.mosquitto_config('max_packet_size 4096')
def test_over_the_mqtt_brokers_max_packet_size_refused(cluster):
    """With the link up, a message whose publish would be over Mosquitto's max_packet_size is
    refused with MessageSizeTooLarge naming both sizes: not spooled, never published."""
    a = cluster.node('node-a')
    sub = cluster.subscriber([messages_topic('node-a')], 'cloud')
    client = a.client('games', uid=GAMES_UID, gid=GAMES_GID)
    r = send(client, valueset_of_size(6 * 1024)).wait(30)
    r.expect_error('MessageSizeTooLarge')
    assert re.search(r'\d+-byte MQTT publish.*maximum packet size of 4096 bytes', r.message), \
        r.message
    assert not [f for f in a.bridge.spool_files() if '.msg' in os.path.basename(f)], \
        a.bridge.spool_files()
    small = accepted(send(client, valueset(Small=GLib.Variant('s', 'fits'))).wait(30))
    assert small['status'] == 'delivered', small
    got = sub.wait(lambda m: m.json()['id'] == small['id'])
    mine = sub.snapshot(lambda m: m.topic.startswith('%s/node-a/messages/' % PREFIX))
    assert len(mine) == 1, mine
    assert got.json()['message'] == {'Small': 'fits'}


def test_retained_status_and_incarnations(cluster):
    a = cluster.node('node-a')
    first = a.incarnation
    assert first and re.match(r'^[0-9a-f]+$', first), first
    # A late subscriber reads the retained status.
    late = cluster.subscriber(['%s/node-a/status' % PREFIX], 'late')
    m = late.wait(lambda m: m.payload and m.json().get('state') == 'online')
    assert m.json()['incarnation'] == first and m.retain == '1'

    a.bridge.stop()
    off = a.wait_status('offline')
    assert off['state'] == 'offline'
    a.bridge.start()
    assert a.incarnation != first


def test_gvariant_format(cluster):
    a = cluster.node('node-a', bridge_config={'Cloud': {'Format': 'gvariant'}})
    sub = cluster.subscriber([messages_topic('node-a')], 'cloud')
    client = a.client('games', uid=GAMES_UID, gid=GAMES_GID)
    message, _ = typed_message()
    answer = accepted(send(client, message).wait())
    m = sub.wait(lambda m: m.prop('id') == answer['id'])
    wire = message.get_normal_form().get_data_as_bytes().get_data()
    assert m.payload == wire, 'the ValueSet in the wire encoding, byte for byte'
    assert m.topic == messages_topic('node-a', '@uid-%d' % GAMES_UID)
    assert m.prop('node') == 'node-a' and m.prop('service') == '@uid-%d' % GAMES_UID
    assert TIME_RE.match(m.prop('time') or ''), m.user_props


def test_cloud_is_not_for_invalid_messages(cluster):
    a = cluster.node('node-a')
    client = a.client('games', uid=GAMES_UID, gid=GAMES_GID)
    # The broker's ValueSet rules hold before the bridge sees anything.
    bad = valueset([('k', GLib.Variant('i', 1)), ('k', GLib.Variant('i', 2))])
    assert send(client, bad).wait().error == err('InvalidMessage')
    assert accepted(send(client, valueset(ok=GLib.Variant('b', True))).wait())


def test_appservicectl_submit(cluster):
    """`appservicectl submit KEY=VALUE...` as an unprivileged user: SubmitAction from an app, so
    the topic names its uid."""
    a = cluster.node('node-a')
    sub = cluster.subscriber([messages_topic('node-a')], 'cloud')
    ctl = os.path.join(BUILD_ROOT, 'appservicectl', 'appservicectl')
    env = {k: v for k, v in os.environ.items() if not k.startswith('DBUS_')}
    env['DBUS_SYSTEM_BUS_ADDRESS'] = a.bus.address
    out = subprocess.run(['setpriv', '--reuid=%d' % GAMES_UID, '--regid=%d' % GAMES_GID,
                          '--clear-groups', '--', ctl, '--json', 'submit', 'Text=hello'],
                         capture_output=True, text=True, env=env, timeout=60, cwd='/')
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc['type'] == 'response' and doc['message']['status'] == 'delivered', doc
    m = sub.wait(lambda m: m.json()['id'] == doc['message']['id'])
    assert m.topic == messages_topic('node-a', '@uid-%d' % GAMES_UID)
    assert m.json()['message'] == {'Text': 'hello'}
