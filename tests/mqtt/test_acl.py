# SPDX-License-Identifier: LGPL-2.1-or-later
"""The bridge over TLS with a password (and a client certificate), under the ACL of
services/mqtt/mosquitto-acl.example: everything a node does works, and node A cannot publish as
node B (services/mqtt/README.md, "Topics"): what user node-a publishes to node-b's topics is
refused or dropped by Mosquitto, and node-b's bridge does not act on it."""

from client import GAMES_GID, GAMES_UID, GLib, valueset
from cloudlib import accepted, messages_topic, send
import mqttharness as mh

NAME = 'com.example.remote'


def node_option(node):
    return "{'node': <%s>}" % GLib.Variant('s', node).print_(False)


def open_frame(session, name, uid=GAMES_UID):
    """An `open` frame as README.md's wire encoding has it: (sa{sv}), normal form."""
    caller = {'uid': GLib.Variant('u', uid), 'gid': GLib.Variant('u', uid),
              'pid': GLib.Variant('u', 4242)}
    frame = GLib.Variant('(sa{sv})', ('open', {
        'session': GLib.Variant('t', session), 'name': GLib.Variant('s', name),
        'provider': GLib.Variant('s', ''), 'caller': GLib.Variant('a{sv}', caller)}))
    return frame.get_normal_form().get_data_as_bytes().get_data()


def tls_pair(tls_cluster):
    a = tls_cluster.node('node-a')
    b = tls_cluster.node('node-b', client_cert=True)
    return a, b


def test_everything_works_over_tls_under_the_acl(tls_cluster):
    a, b = tls_pair(tls_cluster)
    sub = tls_cluster.subscriber([messages_topic('node-a')], 'cloud')
    client = a.client('games', uid=GAMES_UID, gid=GAMES_GID)
    answer = accepted(send(client, valueset(Over=GLib.Variant('s', 'tls'))).wait(30))
    assert answer['status'] == 'delivered'
    m = sub.wait(lambda m: m.json()['id'] == answer['id'])
    assert m.topic == messages_topic('node-a', '@uid-%d' % GAMES_UID)

    provider = b.provider(NAME, auto='echo', AllowRemote='yes')
    remote = a.client('remote', uid=GAMES_UID, gid=GAMES_GID)
    path = remote.open(NAME, '', node_option('node-b')).wait(30).unpack(0, 'o')
    msg = valueset(Hello=GLib.Variant('s', 'from node-a'))
    assert remote.send_message(path, msg).wait(30).variant(0).print_(True) == msg.print_(True)
    assert provider.wait_signal('ConnectionOpened')


def test_node_a_cannot_publish_as_node_b(tls_cluster, mosquitto_tls):
    a, b = tls_pair(tls_cluster)
    mosq = mosquitto_tls
    provider = b.provider(NAME, auto='echo', AllowRemote='yes')
    everything = tls_cluster.subscriber(['#'], 'everything')
    forged = {
        # an action for node-b, which only the cloud may send
        '%s/node-b/actions/%s' % (mh.PREFIX, NAME): b'{"Forged": true}',
        # a link frame into node-b as if from node-c (or from node-b to itself)
        '%s/node-b/link/node-c' % mh.PREFIX: open_frame(1, NAME),
        '%s/node-b/link/node-b' % mh.PREFIX: open_frame(2, NAME),
        # node-b's status and messages
        '%s/node-b/status' % mh.PREFIX: b'{"state":"offline","incarnation":"forged"}',
        messages_topic('node-b', '@uid-0'): b'{"id":"node-b:forged:1"}',
    }
    results = {}
    for topic, payload in forged.items():
        r = mh.publish(mosq, topic, payload, user='node-a', response_topic='cloud/responses/x',
                       correlation='forged', user_props=[('action', 'forged')],
                       retain=topic.endswith('/status'))
        results[topic] = (r.returncode, r.stderr.decode(errors='replace').strip())
    print('publishes as node-a to node-b topics: %s' % results)
    # MQTT 5: Mosquitto answers each with PUBACK reason 0x87, which mosquitto_pub reports.
    refused = {t: e for t, (_, e) in results.items() if 'Not authorized' in e}
    assert set(refused) == set(forged), results
    # A barrier through the same broker: node-a's own legitimate message.
    client = a.client('games', uid=GAMES_UID, gid=GAMES_GID)
    answer = accepted(send(client, valueset(Barrier=GLib.Variant('b', True))).wait(30))
    everything.wait(lambda m: m.topic.startswith('%s/node-a/messages/' % mh.PREFIX) and
                    m.json()['id'] == answer['id'])
    leaked = [m for m in everything.snapshot() if forged.get(m.topic) == m.payload]
    assert not leaked, 'Mosquitto passed on what node-a forged: %r' % leaked
    # What node-b's bridge would do with a frame takes a moment: none may come.
    provider.assert_no_signal('ConnectionOpened', settle=1.0)
    assert not [m for m in b.statuses() if b'forged' in m.payload]
    # node-b is still online and reachable.
    remote = a.client('remote', uid=GAMES_UID, gid=GAMES_GID)
    path = remote.open(NAME, '', node_option('node-b')).wait(30).unpack(0, 'o')
    assert remote.send_message(path, valueset(x=GLib.Variant('i', 1))).ok(30)


def test_forged_frame_control(cluster):
    """The control of the test above, without an ACL: the same `open` frame, published by
    someone allowed to, does reach node-b's bridge (so the ACL, not a malformed frame, is what
    stopped it there), and node-b opens the service for remote caller node-c."""
    b = cluster.node('node-b')
    provider = b.provider(NAME, auto='echo', AllowRemote='yes')
    r = cluster.publish('%s/node-b/link/node-c' % mh.PREFIX, open_frame(7, NAME))
    assert r.returncode == 0, r.stderr
    opened = provider.wait_signal('ConnectionOpened', timeout=15)
    caller = opened.arg(1)
    assert caller['remote']['node'] == 'node-c', caller
