# SPDX-License-Identifier: LGPL-2.1-or-later
"""io.appservice.gpio: edges on requested lines reach their owner as `edge` events, with the
kernel's timestamps and sequence numbers; a client that does not answer its events gets at most
EventWindow in flight and EventQueueLength waiting, and learns what was dropped from Lost."""

import time

from conftest import BOB, EDGE_EVENT_TYPES, ai, u


def toggle(chip, offset, n, start_high=False, pause=0.005):
    """n edges on the line: pull-up, pull-down, ... (starting low) with a pause after each, so
    that the service reads them before the kernel's buffer of the request fills."""
    high = start_high
    for _ in range(n):
        high = not high
        chip.pull(offset, 'pull-up' if high else 'pull-down')
        time.sleep(pause)
    return high


def edges(client, n, timeout=None):
    out = client.take_messages(n, timeout)
    for ev in out:
        assert ev.get('Event') == 'edge', dict(ev)
        ev.check_types(EDGE_EVENT_TYPES)
    return out


def assert_no_more(client, settle=0.5):
    client.peer.barrier(settle)
    extra = client.messages()
    assert not extra, 'unexpected messages from the service: %r' % [dict(m) for m in extra]


def test_edges_both(gpio, chips):
    client = gpio.client()
    a = chips.a
    rid = client.request_lines(a.name, ['button'], Direction='input', Edge='both')['Request']
    t0 = time.monotonic_ns()
    toggle(a, 3, 4, pause=0.02)
    t1 = time.monotonic_ns()
    evs = edges(client, 4)
    assert [e['Edge'] for e in evs] == ['rising', 'falling', 'rising', 'falling']
    for e in evs:
        assert e['Event'] == 'edge'
        assert e['Request'] == rid
        assert e['Chip'] == a.name
        assert e['Line'] == 3
        assert e['Name'] == 'button'
        assert e['Lost'] == 0
        assert t0 <= e['TimestampNs'] <= t1, 'TimestampNs %d is not CLOCK_MONOTONIC ' \
            'between %d and %d' % (e['TimestampNs'], t0, t1)
    stamps = [e['TimestampNs'] for e in evs]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4, stamps
    assert [e['GlobalSeqno'] for e in evs] == [1, 2, 3, 4]
    assert [e['LineSeqno'] for e in evs] == [1, 2, 3, 4]
    assert_no_more(client)


def test_edges_rising_or_falling_only(gpio, chips):
    client = gpio.client()
    b = chips.b
    r_rise = client.request_lines(b.name, [1], Direction='input', Edge='rising')['Request']
    r_fall = client.request_lines(b.name, [3], Direction='input', Edge='falling')['Request']
    toggle(b, 1, 6, pause=0.02)
    toggle(b, 3, 6, pause=0.02)
    evs = edges(client, 6)
    rise = [e for e in evs if e['Request'] == r_rise]
    fall = [e for e in evs if e['Request'] == r_fall]
    assert [e['Edge'] for e in rise] == ['rising'] * 3, [dict(e) for e in evs]
    assert [e['Edge'] for e in fall] == ['falling'] * 3, [dict(e) for e in evs]
    assert [e['GlobalSeqno'] for e in rise] == [1, 2, 3]
    assert [e['GlobalSeqno'] for e in fall] == [1, 2, 3]
    assert all(e['Name'] == '' and e['Lost'] == 0 for e in evs)
    assert_no_more(client)


def test_edges_on_several_lines_of_one_request(gpio, chips):
    client = gpio.client()
    a = chips.a
    rid = client.request_lines(a.name, [1, 2], Direction='input', Edge='both')['Request']
    for offset, pull in ((1, 'pull-up'), (2, 'pull-up'), (1, 'pull-down'), (2, 'pull-down'),
                         (2, 'pull-up')):
        a.pull(offset, pull)
        time.sleep(0.02)
    evs = edges(client, 5)
    assert [(e['Line'], e['Edge']) for e in evs] == [
        (1, 'rising'), (2, 'rising'), (1, 'falling'), (2, 'falling'), (2, 'rising')]
    assert [e['Name'] for e in evs] == ['led1', '', 'led1', '', '']
    assert [e['GlobalSeqno'] for e in evs] == [1, 2, 3, 4, 5]
    assert [e['LineSeqno'] for e in evs] == [1, 1, 2, 2, 3]
    assert all(e['Request'] == rid and e['Lost'] == 0 for e in evs)
    # Read agrees with the last edges.
    assert client.read(rid) == [0, 1]


def test_edges_go_only_to_the_owner_and_stop_on_release(gpio, chips):
    owner = gpio.client()
    other = gpio.client(BOB)
    a = chips.a
    rid = owner.request_lines(a.name, [6], Direction='input', Edge='both')['Request']
    other.request_lines(a.name, [7], Direction='input', Edge='both')
    toggle(a, 6, 2, pause=0.02)
    evs = edges(owner, 2)
    assert [e['Line'] for e in evs] == [6, 6]
    assert_no_more(other)
    owner.ok('Release', Request=u(rid))
    toggle(a, 6, 2, pause=0.02)
    assert_no_more(owner)


def test_reconfigure_edges_off_and_on(gpio, chips):
    client = gpio.client()
    b = chips.b
    rid = client.request_lines(b.name, [2], Direction='input', Edge='both')['Request']
    toggle(b, 2, 2, pause=0.02)
    assert [e['Edge'] for e in edges(client, 2)] == ['rising', 'falling']
    client.ok('Reconfigure', Request=u(rid), Direction='input')
    toggle(b, 2, 2, pause=0.02)
    assert_no_more(client)
    client.ok('Reconfigure', Request=u(rid), Direction='input', Edge='rising')
    toggle(b, 2, 2, pause=0.02)
    evs = edges(client, 1)
    assert evs[0]['Edge'] == 'rising' and evs[0]['Request'] == rid and evs[0]['Lost'] == 0
    assert_no_more(client)
    # An output has no edges.
    client.ok('Reconfigure', Request=u(rid), Direction='output', Values=ai([1]))
    assert b.value(2) == 1


def stalled_run(gpio, chips, window, queue, total, pause):
    """A client that does not answer: `total` edges on its line while it stalls. Returns the
    events it got while stalled, and the ones it got after answering those."""
    stalled = gpio.client(auto='ignore')
    lively = gpio.client(BOB)
    a, b = chips.a, chips.b
    rid = stalled.request_lines(a.name, [3], Direction='input', Edge='both')['Request']
    other = lively.request_lines(b.name, [0], Direction='input', Edge='both')['Request']

    toggle(a, 3, total, pause=pause)
    # Another connection's events are not held up by the stalled one.
    toggle(b, 0, 4, pause=0.02)
    theirs = edges(lively, 4)
    assert [e['Request'] for e in theirs] == [other] * 4
    assert [e['GlobalSeqno'] for e in theirs] == [1, 2, 3, 4]
    assert all(e['Lost'] == 0 for e in theirs)

    first = edges(stalled, window, timeout=30)
    assert_no_more(stalled, settle=1.0)  # bounded: no more than EventWindow in flight

    # Answer: from now on everything is answered as it comes.
    stalled.peer.auto('echo')
    for ev in first:
        stalled.respond(ev.request_id)
    rest = edges(stalled, queue, timeout=60)
    assert_no_more(stalled, settle=1.0)
    return rid, first, rest


def check_accounting(rid, first, rest, window, queue, total):
    delivered = first + rest
    assert len(first) == window and len(rest) == queue
    assert all(e['Request'] == rid and e['Event'] == 'edge' for e in delivered)
    # The newest edge is always delivered, so its GlobalSeqno is the kernel's count of edges.
    # gpio-sim makes one edge of two pulls that come before its interrupt work ran (a slow
    # emulated guest on a loaded host: 16 of 1100 once, with fuzzers on the same cores): count
    # what the kernel made, which is what the service saw. It must still overflow the queue.
    made = delivered[-1]['GlobalSeqno']
    merged = total - made
    assert window + queue < made <= total, \
        'the kernel made %d edges of %d pulls, too few to overflow %d+%d' % (made, total, window, queue)
    # The first window went out as they came.
    assert [e['GlobalSeqno'] for e in first] == list(range(1, window + 1))
    assert all(e['Lost'] == 0 for e in first)
    # The oldest waiting were dropped, the newest kept; the first sent after tells how many.
    lost = [e['Lost'] for e in delivered]
    assert sum(lost) > 0, 'no Lost on any event after %d edges with %d+%d room' % (
        made, window, queue)
    assert rest[0]['Lost'] == made - window - queue, \
        'Lost=%d on the first event after the stall; %d edges, %d delivered' % (
            rest[0]['Lost'], made, len(delivered))
    assert all(x == 0 for x in lost[window + 1:]), lost
    assert len(delivered) + sum(lost) == made
    # Gaps in GlobalSeqno are exactly the dropped ones (none dropped by the kernel).
    for prev, ev in zip(delivered, delivered[1:]):
        gap = ev['GlobalSeqno'] - prev['GlobalSeqno'] - 1
        assert gap == ev['Lost'], 'GlobalSeqno %d after %d with Lost=%d (%s)' % (
            ev['GlobalSeqno'], prev['GlobalSeqno'], ev['Lost'],
            'the kernel dropped edges: pace the pulls' if gap > ev['Lost'] else
            'Lost counts more than were dropped')
    for e in delivered:
        assert e['LineSeqno'] == e['GlobalSeqno']
    # Edges alternate: of two events the kernel made one after the other, the second goes the
    # other way. gpio-sim under a loaded emulated guest sometimes merges or doubles a pull, which
    # breaks that at the kernel, not in the service: allow it 1 % of the time, or as often as
    # pulls were merged.
    pairs = [(prev, ev) for prev, ev in zip(delivered, delivered[1:])
             if ev['GlobalSeqno'] == prev['GlobalSeqno'] + 1]
    same = [(prev['GlobalSeqno'], ev['GlobalSeqno']) for prev, ev in pairs
            if prev['Edge'] == ev['Edge']]
    assert pairs and len(same) <= max(1, len(pairs) // 100, merged), \
        '%d of %d consecutive edges go the same way: %s' % (len(same), len(pairs), same[:5])
    assert all(e['Edge'] in ('rising', 'falling') for e in delivered)


def test_stalled_client_small_limits(gpio, chips):
    window, queue, total = 4, 8, 60
    gpio.start({'EventWindow': str(window), 'EventQueueLength': str(queue)})
    rid, first, rest = stalled_run(gpio, chips, window, queue, total, pause=0.01)
    check_accounting(rid, first, rest, window, queue, total)


def test_stalled_client_default_limits(gpio, chips):
    # The definition's own limits: EventWindow=16, EventQueueLength=1024.
    window, queue, total = 16, 1024, 1100
    rid, first, rest = stalled_run(gpio, chips, window, queue, total, pause=0.002)
    check_accounting(rid, first, rest, window, queue, total)
