# SPDX-License-Identifier: LGPL-2.1-or-later
"""The harness's own parts, without the bridge: Mosquitto plain and with TLS, passwords and the
ACL; a persistent subscriber across a Mosquitto restart; the TCP proxy's cut and restore; a node's
NodeName. If these fail, the bridge's tests would say nothing."""

import socket
import time

import mqttharness as mh


def test_subscriber_sees_properties_and_survives_a_restart(cluster, mosquitto):
    sub = cluster.subscriber(['t/#'], 'props')
    payload = b'{"a": 1}\n\x00\xff'
    r = cluster.publish('t/1', payload, response_topic='r/1', correlation='c-1',
                        user_props=[('action', 'go'), ('k', 'v')],
                        content_type='application/json')
    assert r.returncode == 0, r.stderr
    m = sub.wait(lambda m: m.topic == 't/1')
    assert m.payload == payload and m.response_topic == 'r/1' and m.correlation == 'c-1'
    assert m.user_props == [('action', 'go'), ('k', 'v')] and m.content_type == 'application/json'

    mosquitto.restart()
    # Published while the subscriber is still reconnecting: queued in its persistent session.
    wait_publish(cluster, 't/2', b'after')
    sub.wait(lambda m: m.topic == 't/2' and m.payload == b'after', timeout=15)


def wait_publish(cluster, topic, payload):
    mh.wait_until(lambda: cluster.publish(topic, payload).returncode == 0, 10,
                  'a publish to succeed')


def test_tls_passwords_and_acl(tls_cluster, mosquitto_tls):
    m = mosquitto_tls
    m.add_user('node-a')
    m.add_user('node-b')
    sub = tls_cluster.subscriber(['appservice/#'], 'all')
    # A node may write its own messages...
    ok = mh.publish(m, 'appservice/node-a/messages/x', b'mine', user='node-a')
    assert ok.returncode == 0, ok.stderr
    sub.wait(lambda msg: msg.payload == b'mine')
    # ... but not another node's, nor its actions, nor link frames as another node.
    for topic in ('appservice/node-b/messages/x', 'appservice/node-b/actions/x',
                  'appservice/node-b/link/node-c', 'appservice/node-b/status'):
        mh.publish(m, topic, b'forged ' + topic.encode(), user='node-a')
    mh.publish(m, 'appservice/node-a/messages/x', b'barrier', user='node-a')
    sub.wait(lambda msg: msg.payload == b'barrier')
    assert not sub.snapshot(lambda msg: msg.payload.startswith(b'forged'))
    # A wrong password is refused.
    bad = mh.subprocess.run([mh.MOSQUITTO_PUB, '-V', 'mqttv5', '-h', '127.0.0.1', '-p',
                             str(m.port), '--cafile', m.pki.ca_cert, '-u', 'node-a', '-P', 'nope',
                             '-t', 'appservice/node-a/messages/x', '-m', 'x'],
                            capture_output=True, timeout=30)
    assert bad.returncode != 0


def test_proxy_cut_and_restore(cluster, mosquitto, workdir):
    proxy = mh.Proxy(mosquitto.port, workdir)
    try:
        s = socket.create_connection(('127.0.0.1', proxy.port))
        mh.wait_until(lambda: proxy.accepted() == 1, 5, 'the proxy to take the connection')
        proxy.cut()
        s.settimeout(5)
        try:
            assert s.recv(1) == b''
        except ConnectionResetError:
            pass
        try:
            socket.create_connection(('127.0.0.1', proxy.port), timeout=2)
            raise AssertionError('connected through a cut proxy')
        except ConnectionRefusedError:
            pass
        proxy.restore()
        socket.create_connection(('127.0.0.1', proxy.port), timeout=2).close()
        mh.wait_until(lambda: proxy.accepted() == 2, 5, 'the proxy to take the connection')
    finally:
        proxy.close()


def test_nodes_have_their_own_names(cluster):
    a = cluster.node('node-a', start=False)
    b = cluster.node('node-b', start=False)
    a.start_daemon()
    b.start_daemon()
    assert a.bus.address != b.bus.address
    t0 = time.monotonic()
    assert a.service_state(mh.CLOUD) == 'inactive', a.service_state(mh.CLOUD)
    assert time.monotonic() - t0 < 5
