# SPDX-License-Identifier: LGPL-2.1-or-later
"""io.appservice.gpio with EdgeBatch: a request that asks for it gets its edges as `edges` events
(arrays, one element per edge), in order, with contiguous seqnos; the answer's EdgeBatch says the
service knows the key; a client that does not keep up gets `Lost` right and never makes the
service hold more than EventWindow events in flight and EventQueueLength edges waiting, also a
hostile one (an unprivileged user that never answers) flooding it with edges."""

import math
import time

from conftest import ALICE, EDGE_EVENT_TYPES, EDGES_EVENT_TYPES, au, check_error, u

from test_events import assert_no_more, toggle


def edges_of(ev):
    """The edges of one `edges` event, oldest first, each a dict with the keys of an `edge`
    event (Line, Edge, TimestampNs, ...); Lost is the event's on its first edge, 0 after."""
    assert ev.get('Event') == 'edges', dict(ev)
    ev.check_types(EDGES_EVENT_TYPES)
    n = len(ev['Lines'])
    assert n >= 1, dict(ev)
    for key in ('Edges', 'TimestampsNs', 'GlobalSeqnos', 'LineSeqnos'):
        assert len(ev[key]) == n, '%s has %d elements, Lines %d: %r' % (key, len(ev[key]), n,
                                                                         dict(ev))
    return [{'Request': ev['Request'], 'Chip': ev['Chip'], 'Line': ev['Lines'][i],
             'Edge': ev['Edges'][i], 'TimestampNs': ev['TimestampsNs'][i],
             'GlobalSeqno': ev['GlobalSeqnos'][i], 'LineSeqno': ev['LineSeqnos'][i],
             'Lost': ev['Lost'] if i == 0 else 0} for i in range(n)]


def flatten(events):
    return [e for ev in events for e in edges_of(ev)]


def take_events(client, n, timeout=None):
    """Exactly the next n `edges` events."""
    events = client.take_messages(n, timeout)
    for ev in events:
        edges_of(ev)
    return events


def take_edges(client, n, timeout=30):
    """`edges` events until they hold n edges (fails the test if they do not come, or hold
    more); returns the events."""
    deadline = time.monotonic() + timeout
    events, count = [], 0
    while count < n:
        got = client.messages()
        while got and count < n:
            ev = got.pop(0)
            count += len(edges_of(ev))
            events.append(ev)
        client.pending = got + client.pending
        if count >= n:
            break
        if time.monotonic() > deadline or client.peer.eof:
            client.peer.fail('%d of %d edges from the service within %.1f s' % (count, n, timeout))
        time.sleep(0.05)
    assert count == n, '%d edges where %d were expected' % (count, n)
    return events


def drain(client, quiet=1.5, timeout=60):
    """Every event until none came for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    events, last = [], time.monotonic()
    while True:
        got = client.messages()
        if got:
            events += got
            last = time.monotonic()
        elif time.monotonic() - last > quiet:
            return events
        if time.monotonic() > deadline:
            client.peer.fail('the service did not stop sending within %.0f s' % timeout)
        time.sleep(0.05)


def check_alternating(edges, merged=0):
    """Of two edges the kernel made one after the other on a line, the second goes the other way;
    gpio-sim under a loaded emulated guest sometimes merges pulls, which breaks that at the
    kernel, not in the service: allowed 1 % of the time, or as often as pulls were merged."""
    pairs = [(a, b) for a, b in zip(edges, edges[1:]) if b['GlobalSeqno'] == a['GlobalSeqno'] + 1]
    same = [(a['GlobalSeqno'], b['GlobalSeqno']) for a, b in pairs if a['Edge'] == b['Edge']]
    assert len(same) <= max(1, len(pairs) // 100, merged), \
        '%d of %d consecutive edges go the same way: %s' % (len(same), len(pairs), same[:5])
    assert all(e['Edge'] in ('rising', 'falling') for e in edges)


def under_asan(pid):
    """Whether the process runs with AddressSanitizer, whose quarantine holds freed memory back
    from reuse (its RSS grows with what is freed)."""
    with open('/proc/%d/maps' % pid) as f:
        return any('libasan' in line for line in f)


def vmrss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise AssertionError('no VmRSS for pid %d' % pid)


def assert_flood_does_not_grow(pid, chip, offset, where=''):
    """Floods the line with 2000 edges, then 12000 more, while its client does not answer; the
    provider's VmRSS must not grow with the second flood."""
    high = toggle(chip, offset, 2000, pause=0)
    time.sleep(1)
    before = vmrss_kib(pid)
    for _ in range(6):
        high = toggle(chip, offset, 2000, start_high=high, pause=0)
    time.sleep(1)
    after = vmrss_kib(pid)
    print('provider VmRSS %d KiB after 2000 edges%s, %d KiB after 12000 more' % (before, where,
                                                                              after))
    # Unbounded, 12000 more edges would hold about a megabyte (an edge waiting takes about 100
    # bytes): half of that is far above the noise of a steady process. Not under ASan, whose
    # quarantine keeps every freed edge's memory for a while (1.6 MiB here).
    if under_asan(pid):
        print('the provider runs under AddressSanitizer: its VmRSS is not checked')
    else:
        assert after - before < 512, \
            'the provider grew by %d KiB while its client%s did not answer' % (after - before,
                                                                              where)


# ---- the key ------------------------------------------------------------------------------------

def test_request_answers_its_edge_batch(gpio, chips):
    client = gpio.client()
    a = chips.a
    resp = client.request_lines(a.name, [1], Direction='input', Edge='both', EdgeBatch=u(32))
    assert resp.types['EdgeBatch'] == 'u' and resp['EdgeBatch'] == 32
    resp = client.request_lines(a.name, [2], Direction='input', Edge='both')
    assert resp.types['EdgeBatch'] == 'u' and resp['EdgeBatch'] == 0
    resp = client.request_lines(a.name, [4], Direction='input', EdgeBatch=u(1024))
    assert resp['EdgeBatch'] == 1024
    message = check_error(client.request('Request', Chip=a.name, Lines=au([5]), Edge='both',
                                         EdgeBatch=u(1025)), 'invalid-argument')
    assert 'EdgeBatch' in message and '1024' in message, message
    # Refused without holding anything: the line is still free.
    assert client.line_info(5, a.name)['Used'] is False


# ---- the format ---------------------------------------------------------------------------------

def test_edges_events_of_several_lines(gpio, chips):
    client = gpio.client()
    a = chips.a
    rid = client.request_lines(a.name, [1, 2], Direction='input', Edge='both',
                               EdgeBatch=u(16))['Request']
    t0 = time.monotonic_ns()
    for offset, pull in ((1, 'pull-up'), (2, 'pull-up'), (1, 'pull-down'), (2, 'pull-down'),
                         (2, 'pull-up')):
        a.pull(offset, pull)
        time.sleep(0.02)
    t1 = time.monotonic_ns()
    events = take_edges(client, 5)
    edges = flatten(events)
    assert [(e['Line'], e['Edge']) for e in edges] == [
        (1, 'rising'), (2, 'rising'), (1, 'falling'), (2, 'falling'), (2, 'rising')]
    assert [e['GlobalSeqno'] for e in edges] == [1, 2, 3, 4, 5]
    assert [e['LineSeqno'] for e in edges] == [1, 1, 2, 2, 3]
    assert all(e['Request'] == rid and e['Chip'] == a.name for e in edges)
    assert all(ev['Lost'] == 0 for ev in events)
    stamps = [e['TimestampNs'] for e in edges]
    assert stamps == sorted(stamps) and t0 <= stamps[0] and stamps[-1] <= t1, (t0, stamps, t1)
    assert client.read(rid) == [0, 1]
    assert_no_more(client)


def test_burst_arrives_batched_in_order(gpio, chips):
    """Pulls as fast as Python makes them: more edges than the broker relays messages, so they
    come in fewer events than edges, each of at most EdgeBatch, all in order, none lost."""
    client = gpio.client()
    a = chips.a
    pulls, batch = 400, 64
    rid = client.request_lines(a.name, [3], Direction='input', Edge='both',
                               EdgeBatch=u(batch))['Request']
    toggle(a, 3, pulls, pause=0)
    events = drain(client)
    edges = flatten(events)
    made = edges[-1]['GlobalSeqno']
    assert [e['GlobalSeqno'] for e in edges] == list(range(1, made + 1)), \
        'the seqnos are not 1..%d in order' % made
    assert [e['LineSeqno'] for e in edges] == list(range(1, made + 1))
    assert pulls // 2 < made <= pulls, 'the kernel made %d edges of %d pulls' % (made, pulls)
    assert all(ev['Lost'] == 0 and ev['Request'] == rid for ev in events)
    assert all(len(ev['Lines']) <= batch for ev in events)
    assert len(events) < len(edges), \
        '%d edges came in %d events: no batch formed' % (len(edges), len(events))
    stamps = [e['TimestampNs'] for e in edges]
    assert stamps == sorted(stamps)
    check_alternating(edges, merged=pulls - made)
    print('%d pulls, %d edges in %d events (largest %d)' % (
        pulls, made, len(events), max(len(ev['Lines']) for ev in events)))


def test_batched_and_single_formats_on_one_connection(gpio, chips):
    """The format is the request's: on one connection, the request with EdgeBatch gets `edges`,
    the other `edge` events, as before."""
    client = gpio.client()
    b = chips.b
    batched = client.request_lines(b.name, [1], Direction='input', Edge='both',
                                   EdgeBatch=u(8))['Request']
    single = client.request_lines(b.name, [3], Direction='input', Edge='both')['Request']
    toggle(b, 1, 4, pause=0.02)
    toggle(b, 3, 4, pause=0.02)
    got = drain(client, quiet=1.0)
    mine = [ev for ev in got if ev['Request'] == batched]
    theirs = [ev for ev in got if ev['Request'] == single]
    assert len(mine) + len(theirs) == len(got)
    assert [e['GlobalSeqno'] for e in flatten(mine)] == [1, 2, 3, 4]
    assert len(theirs) == 4
    for ev in theirs:
        assert ev['Event'] == 'edge', dict(ev)
        ev.check_types(EDGE_EVENT_TYPES)
    assert [ev['GlobalSeqno'] for ev in theirs] == [1, 2, 3, 4]
    assert [ev['Edge'] for ev in theirs] == ['rising', 'falling'] * 2


def test_reconfigure_keeps_edge_batch(gpio, chips):
    client = gpio.client()
    b = chips.b
    rid = client.request_lines(b.name, [2], Direction='input', Edge='both',
                               EdgeBatch=u(4))['Request']
    client.ok('Reconfigure', Request=u(rid), Direction='input', Edge='rising')
    toggle(b, 2, 4, pause=0.02)
    edges = flatten(take_edges(client, 2))
    assert [e['Edge'] for e in edges] == ['rising', 'rising']
    assert_no_more(client)


# ---- clients that do not keep up ----------------------------------------------------------------

def stalled_batches(gpio, chips, window, queue, batch, total, pause, user=ALICE):
    """A client that does not answer, with EdgeBatch `batch`: `total` pulls on its line while it
    stalls. Returns the events it got while stalled and those it got after answering them."""
    stalled = gpio.client(user, auto='ignore')
    a = chips.a
    rid = stalled.request_lines(a.name, [3], Direction='input', Edge='both',
                                EdgeBatch=u(batch))['Request']
    toggle(a, 3, total, pause=pause)
    first = take_events(stalled, window, timeout=30)
    assert_no_more(stalled, settle=1.0)  # bounded: no more than EventWindow in flight
    stalled.peer.auto('echo')
    for ev in first:
        stalled.respond(ev.request_id)
    rest = take_edges(stalled, queue, timeout=60)
    assert_no_more(stalled, settle=1.0)
    assert all(ev['Request'] == rid for ev in first + rest)
    return first, rest


def check_batch_accounting(first, rest, window, queue, batch, total):
    delivered = flatten(first + rest)
    made = delivered[-1]['GlobalSeqno']  # the newest edge is always delivered
    n_first = len(flatten(first))
    assert n_first + queue < made <= total, \
        'the kernel made %d edges of %d pulls, too few to overflow %d events (%d edges) + %d' % (
            made, total, window, n_first, queue)
    # While stalled: EventWindow events, whatever the edges; after: the queue's EventQueueLength
    # newest edges, in full batches (they all waited) but the last.
    assert len(first) == window
    assert [len(ev['Lines']) for ev in rest] == \
        [batch] * (queue // batch) + ([queue % batch] if queue % batch else [])
    assert len(rest) == math.ceil(queue / batch)
    assert [e['GlobalSeqno'] for e in flatten(first)] == list(range(1, n_first + 1))
    assert all(ev['Lost'] == 0 for ev in first)
    # Dropped: the oldest that waited; the first event after the stall says how many.
    assert rest[0]['Lost'] == made - n_first - queue, \
        'Lost=%d on the first event after the stall; %d edges made, %d delivered' % (
            rest[0]['Lost'], made, len(delivered))
    assert all(ev['Lost'] == 0 for ev in rest[1:])
    assert len(delivered) + sum(e['Lost'] for e in delivered) == made
    # The gaps in GlobalSeqno are exactly what Lost counted; within an event there are none.
    for prev, e in zip(delivered, delivered[1:]):
        assert e['GlobalSeqno'] - prev['GlobalSeqno'] - 1 == e['Lost'], \
            'GlobalSeqno %d after %d with Lost=%d' % (e['GlobalSeqno'], prev['GlobalSeqno'],
                                                      e['Lost'])
    assert all(e['LineSeqno'] == e['GlobalSeqno'] for e in delivered)
    check_alternating(delivered, merged=total - made)


def test_batched_stalled_client_small_limits(gpio, chips):
    window, queue, batch, total = 4, 8, 3, 60
    gpio.start({'EventWindow': str(window), 'EventQueueLength': str(queue)})
    first, rest = stalled_batches(gpio, chips, window, queue, batch, total, pause=0.01)
    check_batch_accounting(first, rest, window, queue, batch, total)


def test_batched_stalled_client_default_limits(gpio, chips):
    # The definition's own limits: EventWindow=16, EventQueueLength=1024.
    window, queue, batch, total = 16, 1024, 256, 1300
    first, rest = stalled_batches(gpio, chips, window, queue, batch, total, pause=0.002)
    check_batch_accounting(first, rest, window, queue, batch, total)


def test_hostile_client_cannot_grow_the_service(gpio, chips):
    """An unprivileged user's client with the largest EdgeBatch that never answers, under a flood
    of edges: it gets EventWindow events and no more, the service's memory does not grow with the
    flood, and what it finally gets is at most EventQueueLength edges, the rest counted in Lost."""
    window, queue, batch = 2, 64, 1024
    uid = gpio.guest.users[ALICE][0]
    assert uid != 0
    gpio.start({'EventWindow': str(window), 'EventQueueLength': str(queue)})
    hostile = gpio.client(ALICE, auto='ignore')
    a = chips.a
    rid = hostile.request_lines(a.name, [6], Direction='input', Edge='both',
                                EdgeBatch=u(batch))['Request']
    assert_flood_does_not_grow(gpio.provider_pid(), a, 6)

    first = take_events(hostile, window, timeout=30)
    assert_no_more(hostile, settle=1.0)
    hostile.peer.auto('echo')
    for ev in first:
        hostile.respond(ev.request_id)
    rest = drain(hostile, quiet=1.0)
    delivered = flatten(first + rest)
    made = delivered[-1]['GlobalSeqno']
    n_rest = len(flatten(rest))
    assert n_rest == queue and len(rest) == 1, \
        '%d edges in %d events after the stall, where the queue holds %d' % (n_rest, len(rest), queue)
    assert all(ev['Request'] == rid for ev in first + rest)
    # Lost counts what the service dropped; the kernel's own drops (the flood may overflow its
    # buffer) show as gaps on top.
    assert rest[0]['Lost'] > 0
    assert len(delivered) + sum(ev['Lost'] for ev in first + rest) <= made
    seqnos = [e['GlobalSeqno'] for e in delivered]
    assert seqnos == sorted(set(seqnos))
    # And the connection still works.
    assert hostile.read(rid) in ([0], [1])
