# SPDX-License-Identifier: LGPL-2.1-or-later
"""The spool (services/mqtt/README.md, "1. Messages to the cloud"): every message the bridge
accepted reaches the cloud, across a broker outage and a SIGKILL of the bridge, in the order
accepted, duplicated at most where a PUBACK may have been lost; a full spool refuses
(ResourceLimitsExceeded) and drops nothing; a local uid flooding it is bounded; a spooled message
that turns out unpublishable is moved aside, never dropped, and still counts in the bounds.

Each test prints its counts (accepted, refused, received, distinct, lost, duplicates, extra)."""

import glob
import os
import time

import pytest

from client import GAMES_GID, GAMES_UID, MAN_GID, MAN_UID, err, valueset_of_size
from cloudlib import Ledger, accepted, messages_topic, numbered, send
from mqttharness import wait_until


def burst(peer, ledger, first, count, window=32, at=None, sender='burst'):
    """Sends messages first..first+count-1 with up to `window` in flight; at[i] (a function) runs
    once message i has been sent. Every answer is recorded in the ledger, in the order the calls
    were made (one sender: the bridge numbers them in that order)."""
    at = at or {}
    pending = []
    for i in range(first, first + count):
        pending.append(send(peer, numbered(i, sender), timeout_ms=60000))
        if i in at:
            at[i]()
        while len(pending) >= window:
            ledger.record(pending.pop(0).wait(60))
    for call in pending:
        ledger.record(call.wait(60))


def test_broker_outage(cluster, mosquitto):
    a = cluster.node('node-a', bridge_config={'Cloud': {'DeliveryWaitSec': 1}})
    sub = cluster.subscriber([messages_topic('node-a')], 'cloud')
    ledger = Ledger(sub, 'node-a')
    client = a.client('games', uid=GAMES_UID, gid=GAMES_GID)

    burst(client, ledger, 0, 20)
    assert all(s == 'delivered' for s in ledger.status.values()), ledger.status
    delivered_before = set(ledger.accepted)
    ledger.wait_all()

    mosquitto.stop()
    down_at = time.monotonic()
    n_before = len(ledger.accepted)
    burst(client, ledger, 20, 40)
    during = ledger.accepted[n_before:]
    assert len(during) == 40, ledger.refused
    assert all(ledger.status[i] == 'queued' for i in during), [ledger.status[i] for i in during]
    # Answered within DeliveryWaitSec each, not one after another.
    assert time.monotonic() - down_at < 30

    mosquitto.start()
    ledger.wait_all(timeout=30)
    burst(client, ledger, 60, 20)
    ledger.wait_all()
    ledger.report('broker-outage', may_repeat=lambda i: i not in delivered_before)


def test_bridge_sigkill_mid_burst(cluster):
    a = cluster.node('node-a')
    sub = cluster.subscriber([messages_topic('node-a')], 'cloud')
    ledger = Ledger(sub, 'node-a')
    client = a.client('games', uid=GAMES_UID, gid=GAMES_GID)
    killed = {}

    def kill():
        killed['at'] = time.monotonic()
        a.bridge.kill()

    burst(client, ledger, 0, 150, window=40, at={100: kill})
    assert ledger.refused, 'requests in flight at the SIGKILL fail'
    assert set(ledger.refused) <= {err('Closed'), err('AppUnavailable'),
                                   'org.freedesktop.DBus.Error.NoReply'}, ledger.refused
    a.bridge.start()
    # What was published before the kill may come again (its PUBACK, or the spool's removal,
    # may have been lost with the process); nothing else.
    first_seen = {}
    ledger.wait_all(timeout=30)
    burst(client, ledger, 150, 50)
    ledger.wait_all()
    for i, t in ledger.received():
        first_seen.setdefault(i, t)
    counts = ledger.report('bridge-sigkill',
                           may_repeat=lambda i: first_seen.get(i, 1e99) <= killed['at'] + 0.5)
    assert counts['accepted'] >= 100


def spool_limited(cluster, kind):
    config = {'MaxMessages': 5} if kind == 'messages' else {'MaxBytes': 16384}
    return cluster.node('node-a', proxied=True, bridge_config={
        'Spool': config, 'Cloud': {'DeliveryWaitSec': 1}})


@pytest.mark.parametrize('kind', ['messages', 'bytes'])
def test_spool_full_refuses_and_drops_nothing(cluster, kind):
    a = spool_limited(cluster, kind)
    sub = cluster.subscriber([messages_topic('node-a')], 'cloud-' + kind)
    ledger = Ledger(sub, 'node-a')
    client = a.client('games-' + kind, uid=GAMES_UID, gid=GAMES_GID)
    a.proxy.cut()
    a.wait_status('offline', timeout=15)

    # With the link down every message waits in the spool until it is full.
    extra = {'Pad': valueset_of_size(3000).lookup_value('blob', None)}
    refused_at = None
    for i in range(12):
        r = send(client, numbered(i, kind, extra)).wait(30)
        if r.ok:
            assert accepted(r)['status'] == 'queued'
            assert refused_at is None, 'accepted after a refusal without a drain'
        else:
            r.expect_error('ResourceLimitsExceeded')
            refused_at = refused_at if refused_at is not None else i
        ledger.record(r)
    assert refused_at is not None, 'the spool never filled'
    assert len(ledger.accepted) == (5 if kind == 'messages' else refused_at) > 0
    assert a.bridge.running()

    a.proxy.restore()
    ledger.wait_all(timeout=30)
    # Room again once drained (the PUBACK reaches the bridge just after the subscriber's copy).
    again = []
    wait_until(lambda: again.append(send(client, numbered(100, kind)).wait(30)) or again[-1].ok,
               15, 'the drained spool to take a message')
    ledger.record(again[-1])
    ledger.wait_all()
    counts = ledger.report('spool-full-%s' % kind)
    assert counts['received'] == counts['accepted']


def test_hostile_uid_flood_is_bounded(cluster):
    a = cluster.node('node-a', proxied=True, bridge_config={'Spool': {'MaxMessages': 50},
                                                            'Cloud': {'DeliveryWaitSec': 1}})
    sub = cluster.subscriber([messages_topic('node-a')], 'cloud')
    ledger = Ledger(sub, 'node-a')
    hostile = a.client('games', uid=GAMES_UID, gid=GAMES_GID)
    other = a.client('man', uid=MAN_UID, gid=MAN_GID)
    a.proxy.cut()
    a.wait_status('offline', timeout=15)

    burst(hostile, ledger, 0, 400, window=48, sender='hostile')
    print('flood: %d accepted, refused %s' % (len(ledger.accepted), ledger.refused))
    assert len(ledger.accepted) == 50
    assert set(ledger.refused) == {err('ResourceLimitsExceeded')}, ledger.refused
    assert a.bridge.running()
    # While full, another sender is refused the same way, not hung.
    send(other, numbered(0, 'other')).wait(30).expect_error('ResourceLimitsExceeded')

    a.proxy.restore()
    ledger.wait_all(timeout=30)
    r = send(other, numbered(1, 'other')).wait(30)
    assert accepted(r)['status'] == 'delivered'
    ledger.record(r)
    ledger.wait_all()
    ledger.report('hostile-flood')


def test_spool_survives_a_sigkill_while_the_link_is_down(cluster):
    """Queued (link down), the bridge SIGKILLed and started again still without a link: every
    accepted message goes out once the link is back, in order."""
    a = cluster.node('node-a', proxied=True, bridge_config={'Cloud': {'DeliveryWaitSec': 1}})
    sub = cluster.subscriber([messages_topic('node-a')], 'cloud')
    ledger = Ledger(sub, 'node-a')
    client = a.client('games', uid=GAMES_UID, gid=GAMES_GID)
    a.proxy.cut()
    a.wait_status('offline', timeout=15)
    burst(client, ledger, 0, 20)
    assert len(ledger.accepted) == 20 and set(ledger.status.values()) == {'queued'}, ledger.status

    a.bridge.kill()
    a.bridge.start(wait=False)
    wait_until(lambda: a.bridge.check_alive() and a.service_state('io.appservice.cloud') ==
               'active', 20, 'the bridge to register again')
    burst(client, ledger, 20, 5)
    restored_at = time.monotonic()
    a.proxy.restore()
    a.wait_status('online', timeout=30, after=restored_at)
    ledger.wait_all(timeout=30)
    counts = ledger.report('sigkill-link-down')
    assert counts['accepted'] == 25 and counts['duplicates'] == 0


@pytest.mark.mosquitto_config('max_packet_size 4096')
def test_unpublishable_message_moved_aside_and_counted(cluster):
    """Accepted while the link was never up (Mosquitto's maximum unknown), a message over
    Mosquitto's max_packet_size goes aside to <seq>.msg.rejected with a warning; the messages
    after it go out in order; the rejected file still counts in Spool.MaxMessages."""
    a = cluster.node('node-a', proxied=True, start=False,
                     bridge_config={'Spool': {'MaxMessages': 4}, 'Cloud': {'DeliveryWaitSec': 1}})
    a.proxy.cut()
    a.start(bridge=False)
    a.bridge.start(wait=False)
    wait_until(lambda: a.bridge.check_alive() and a.service_state('io.appservice.cloud') ==
               'active', 20, 'the bridge to register')
    sub = cluster.subscriber([messages_topic('node-a')], 'cloud')
    ledger = Ledger(sub, 'node-a')
    client = a.client('games', uid=GAMES_UID, gid=GAMES_GID)

    big = accepted(send(client, valueset_of_size(6 * 1024)).wait(30))
    assert big['status'] == 'queued', big
    for i in range(2):
        ledger.record(send(client, numbered(i, 'small')).wait(30))
    assert len(ledger.accepted) == 2
    restored_at = time.monotonic()
    a.proxy.restore()
    a.wait_status('online', timeout=30, after=restored_at)
    ledger.wait_all()
    seq = int(big['id'].rsplit(':', 1)[1])
    a.bridge.wait_log(r'%020d\.msg: to .*over the MQTT broker\'s maximum packet size of 4096 '
                      r'bytes; moved aside to \'%020d\.msg\.rejected\'' % (seq, seq))
    assert os.path.exists(os.path.join(a.bridge.spool, '%020d.msg.rejected' % seq))
    assert big['id'] not in [i for i, _ in ledger.received()]

    # Link down again (once every PUBACK is in): the maximum is remembered, and the rejected
    # file takes a place.
    wait_until(lambda: not glob.glob(os.path.join(a.bridge.spool, '*.msg')), 10,
               'the spool to hold only the rejected file')
    a.proxy.cut()
    a.wait_status('offline', timeout=15)
    send(client, valueset_of_size(6 * 1024)).wait(30).expect_error('MessageSizeTooLarge')
    results = [send(client, numbered(i, 'small')).wait(30) for i in range(2, 6)]
    assert [r.ok for r in results] == [True, True, True, False], [r.error for r in results]
    results[-1].expect_error('ResourceLimitsExceeded')
    for r in results:
        ledger.record(r)
    assert sorted(glob.glob(os.path.join(a.bridge.spool, '*.rejected'))) == [
        os.path.join(a.bridge.spool, '%020d.msg.rejected' % seq)]
    a.proxy.restore()
    ledger.wait_all()
    ledger.report('moved-aside')
