# SPDX-License-Identifier: LGPL-2.1-or-later
"""io.appservice1.Connection: messages in both directions, ValueSets byte for byte, responses,
Close, access by third peers, timeouts and limits."""

import re

import pytest

from client import (ACCESS_DENIED, CONNECTION_IFACE, CONNECTION_PATH_RE, ECHO, ECHO_PATH,
                    GAMES_GID, GAMES_UID, MAN_GID, MAN_UID, PROPERTIES_IFACE, SERVICE_IFACE, GLib,
                    norm, parse, typed, valueset, valueset_of_size)
from conftest import within


class Conn:
    def __init__(self, provider, client, path, opened):
        self.provider = provider
        self.client = client
        self.path = path
        self.opened = opened


@pytest.fixture
def connect(start_service, agents):
    """connect(provider_auto, client_auto, **definition keys): a registered provider, a client
    running as games, and one open connection between them."""
    def make(provider_auto='ignore', client_auto='ignore', **keys):
        provider = start_service(ECHO, auto=provider_auto, **keys)
        client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID, auto=client_auto)
        path = client.open_ok(ECHO)
        assert re.match(CONNECTION_PATH_RE, path), path
        opened = provider.wait_signal('ConnectionOpened', predicate=lambda s: s.arg(0, 'o') ==
                                      path)
        return Conn(provider, client, path, opened)
    return make


def V(type_string, value):
    return GLib.Variant(type_string, value)


# ValueSets of every kind of value the contract allows.
VALUESETS = {
    'basic-types': valueset([
        ('byte', V('y', 255)), ('bool-true', V('b', True)), ('bool-false', V('b', False)),
        ('int16', V('n', -32768)), ('uint16', V('q', 65535)),
        ('int32', V('i', -2147483648)), ('uint32', V('u', 4294967295)),
        ('int64', V('x', -9223372036854775808)), ('uint64', V('t', 18446744073709551615)),
        ('double', V('d', 3.141592653589793)), ('double-tiny', V('d', 5e-324)),
        ('double-negative-zero', V('d', -0.0)),
        ('string', V('s', 'héllo wörld ✓ 😀')), ('empty-string', V('s', '')),
        ('object-path', V('o', '/io/example/a_b/c')), ('signature', V('g', 'a{sv}(iay)')),
    ]),
    'arrays': valueset([
        ('strings', V('as', ['a', '', 'ccc'])), ('empty-strings', V('as', [])),
        ('ints', V('ai', [1, -2, 3])), ('bytes', V('ay', bytes(range(256)))),
        ('empty-bytes', V('ay', b'')), ('doubles', V('ad', [0.5, -1e300])),
        ('bools', V('ab', [True, False])), ('paths', V('ao', ['/', '/a'])),
        ('uint64s', V('at', [0, 2 ** 64 - 1])), ('nested-arrays', V('aai', [[1], [], [2, 3]])),
        ('dict-of-strings', V('a{ss}', {'k': 'v', 'x': ''})),
        ('dict-by-int', V('a{ias}', {1: ['a'], 2: []})),
    ]),
    'structs': valueset([
        ('pair', V('(is)', (7, 'seven'))),
        ('nested', V('(s(ii)as)', ('n', (1, 2), ['x']))),
        ('array-of-structs', V('a(ii)', [(1, 2), (3, 4)])),
        ('struct-with-variant', V('(sv)', ('k', V('u', 1)))),
        ('empty-array-of-structs', V('a(ii)', [])),
    ]),
    'nested-valuesets': valueset([
        ('inner', V('a{sv}', {'a': V('i', 1), 'b': V('s', 'two')})),
        ('deep', V('a{sv}', {'level2': V('a{sv}', {'level3': V('a{sv}', {
            'leaf': V('as', ['x'])})})})),
        ('list', V('aa{sv}', [{'id': V('u', 1)}, {}, {'id': V('u', 2), 'tags': V('as', [])}])),
        ('empty-inner', V('a{sv}', {})),
        ('empty-list', V('aa{sv}', [])),
        ('dict-of-valuesets', V('a{sa{sv}}', {'x': {'y': V('b', True)}})),
    ]),
    'variants-and-null': valueset([
        ('null', V('av', [])),
        ('variant-in-variant', V('v', V('i', 1))),
        ('mixed', V('av', [V('i', 1), V('s', 's'), V('av', [])])),
        ('null-inside', V('a{sv}', {'nothing': V('av', [])})),
    ]),
    'keys': valueset([
        ('k' * 255, V('s', 'longest key')), ('ключ', V('s', 'unicode key')),
        ('with space', V('s', '')), ('a.b-c_d/e:f', V('i', 0)),
    ]),
    'many-keys': valueset([('key%03d' % i, V('u', i)) for i in range(300)]),
    'only-null': valueset([('value', V('av', []))]),
}


@pytest.mark.parametrize('name', sorted(VALUESETS))
def test_valueset_round_trip_byte_for_byte(connect, name):
    message = VALUESETS[name]
    want = message.print_(True)
    c = connect(provider_auto='echo', client_auto='echo')

    # Client to provider and back.
    r = c.client.send_message(c.path, message).wait()
    received = c.provider.wait_signal('RequestReceived', path=c.path)
    assert received['signature'] == 'ta{sv}'
    assert received['argv'][1] == want
    assert same_bytes(received.variant(1), message)
    assert r.expect_ok() == [want]
    assert same_bytes(r.variant(0), message)

    # Provider to client and back.
    r = c.provider.send_message(c.path, message).wait()
    received = c.client.wait_signal('RequestReceived', path=c.path)
    assert received['argv'][1] == want
    assert same_bytes(received.variant(1), message)
    assert r.expect_ok() == [want]
    assert same_bytes(r.variant(0), message)


def test_send_response_without_reply_expected(connect, daemon):
    # The contract allows SendResponse with NO_REPLY_EXPECTED (so that a provider need not hold
    # one of the bus's pending replies per answer): handled as any other, with no reply; what it
    # refused is logged at debug with the request id (issue 10, item 3).
    c = connect(User='games', provider_uid=GAMES_UID, provider_gid=GAMES_GID)
    message = valueset(q=V('s', 'no reply expected'))
    call = c.client.send_message(c.path, message)
    req = c.provider.wait_signal('RequestReceived', path=c.path).arg(0, 't')
    c.provider.respond(c.path, req, message, no_reply=True).ok()
    assert call.ok() == [message.print_(True)]

    # Answered already, and never sent: refused, silently for the provider, in the log.
    c.provider.respond(c.path, req, message, no_reply=True).ok()
    c.provider.respond(c.path, 987654321, message, no_reply=True).ok()
    for request in (req, 987654321):
        daemon.wait_log(r'^<7>%s: SendResponse \(no reply expected\) of request %d from :\S+ refused: '
                        r'io\.appservice1\.Error\.UnknownRequest' % (re.escape(c.path), request))
    # The broker is unharmed and still answers the provider.
    c.provider.respond(c.path, req, message).error('UnknownRequest')


def same_bytes(a, b):
    """The same type and the same serialised bytes (GVariant's serialisation of a value in normal
    form is unique, as D-Bus marshalling is)."""
    return (a.get_type_string() == b.get_type_string() and
            a.get_data_as_bytes().get_data() == b.get_normal_form().get_data_as_bytes().get_data())


def test_send_message_both_directions(connect):
    c = connect()
    to_provider = c.client.send_message(c.path, valueset(q=V('s', 'from client')))
    req = c.provider.wait_signal('RequestReceived', path=c.path)
    assert req['interface'] == CONNECTION_IFACE
    assert req['argv'][1] == norm("@a{sv} {'q': <'from client'>}")

    to_client = c.provider.send_message(c.path, valueset(q=V('s', 'from provider')))
    back = c.client.wait_signal('RequestReceived', path=c.path)
    assert back['argv'][1] == norm("@a{sv} {'q': <'from provider'>}")
    assert back.arg(0, 't') != req.arg(0, 't'), 'request ids are unique in the daemon'

    c.client.respond(c.path, back.arg(0, 't'), valueset(a=V('s', 'client answers'))).ok()
    c.provider.respond(c.path, req.arg(0, 't'), valueset(a=V('s', 'provider answers'))).ok()
    assert to_client.ok() == [norm("@a{sv} {'a': <'client answers'>}")]
    assert to_provider.ok() == [norm("@a{sv} {'a': <'provider answers'>}")]


def test_answered_in_any_order(connect):
    c = connect()
    calls = [c.client.send_message(c.path, valueset(n=V('u', i))) for i in range(4)]
    requests = {}
    for _ in range(4):
        sig = c.provider.wait_signal('RequestReceived', path=c.path)
        n = typed(sig['argv'][1])['n'][1]
        requests[n] = sig.arg(0, 't')
    assert sorted(requests) == [0, 1, 2, 3]
    assert len(set(requests.values())) == 4
    for i in (2, 0, 3, 1):
        c.provider.respond(c.path, requests[i], valueset(answer=V('u', i * 10))).ok()
    for i, call in enumerate(calls):
        assert call.ok() == [norm("@a{sv} {'answer': <uint32 %d>}" % (i * 10))]


def test_empty_response_is_valid(connect):
    c = connect()
    call = c.client.send_message(c.path, valueset(n=V('u', 1)))
    req = c.provider.wait_signal('RequestReceived', path=c.path)
    c.provider.respond(c.path, req.arg(0, 't'), valueset()).ok()
    assert call.ok() == ['@a{sv} {}']


# ---- SendResponse: UnknownRequest ---------------------------------------------------------------

def test_unknown_request_never_sent(connect):
    c = connect()
    c.provider.respond(c.path, 987654321, valueset()).wait().expect_error('UnknownRequest')
    c.client.respond(c.path, 987654321, valueset()).wait().expect_error('UnknownRequest')


def test_unknown_request_not_yours(connect):
    c = connect()
    pending = c.client.send_message(c.path, valueset(n=V('u', 1)))
    req = c.provider.wait_signal('RequestReceived', path=c.path)
    # The client sent it; only the provider received it and may answer.
    c.client.respond(c.path, req.arg(0, 't'), valueset()).wait().expect_error('UnknownRequest')
    pending.assert_pending()
    c.provider.respond(c.path, req.arg(0, 't'), valueset(ok=V('b', True))).ok()
    assert pending.ok() == [norm("@a{sv} {'ok': <true>}")]


def test_unknown_request_on_another_connection(connect, agents):
    c = connect()
    other_client = agents.spawn('other', uid=MAN_UID, gid=MAN_GID)
    other_path = other_client.open_ok(ECHO)
    c.provider.wait_signal('ConnectionOpened', predicate=lambda s: s.arg(0, 'o') == other_path)
    pending = c.client.send_message(c.path, valueset(n=V('u', 1)))
    req = c.provider.wait_signal('RequestReceived', path=c.path)
    # Answering it through the other connection's object: not a request of that connection.
    c.provider.respond(other_path, req.arg(0, 't'), valueset()).wait().expect_error(
        'UnknownRequest')
    pending.assert_pending()
    c.provider.respond(c.path, req.arg(0, 't'), valueset()).ok()
    pending.ok()


def test_unknown_request_answered_twice(connect):
    c = connect()
    pending = c.client.send_message(c.path, valueset(n=V('u', 1)))
    req = c.provider.wait_signal('RequestReceived', path=c.path)
    c.provider.respond(c.path, req.arg(0, 't'), valueset(first=V('b', True))).ok()
    c.provider.respond(c.path, req.arg(0, 't'), valueset(second=V('b', True))).wait(). \
        expect_error('UnknownRequest')
    assert pending.ok() == [norm("@a{sv} {'first': <true>}")]


def test_unknown_request_timed_out(connect):
    c = connect(RequestTimeoutSec=1)
    pending = c.client.send_message(c.path, valueset(n=V('u', 1)))
    req = c.provider.wait_signal('RequestReceived', path=c.path)
    pending.wait().expect_error('Timeout')
    c.provider.respond(c.path, req.arg(0, 't'), valueset()).wait().expect_error(
        'UnknownRequest')


def test_unknown_request_after_close(connect):
    c = connect()
    pending = c.client.send_message(c.path, valueset(n=V('u', 1)))
    req = c.provider.wait_signal('RequestReceived', path=c.path)
    c.client.close(c.path).ok()
    pending.wait().expect_error('Closed')
    c.provider.respond(c.path, req.arg(0, 't'), valueset()).wait().expect_error(
        'UnknownRequest')


# ---- refused responses stay pending -------------------------------------------------------------

def test_refused_response_leaves_request_pending(connect):
    c = connect(MaxMessageSize=2048)
    pending = c.client.send_message(c.path, valueset(n=V('u', 1)))
    req = c.provider.wait_signal('RequestReceived', path=c.path)
    request = req.arg(0, 't')

    c.provider.respond(c.path, request, valueset([('dup', V('i', 1)), ('dup', V('i', 2))])). \
        wait().expect_error('InvalidMessage')
    c.provider.respond(c.path, request, valueset([('', V('i', 1))])).wait().expect_error(
        'InvalidMessage')
    c.provider.respond(c.path, request, "@a{sv} {'fd': <handle 0>}", fds=1).wait(). \
        expect_error('InvalidMessage')
    c.provider.respond(c.path, request, valueset_of_size(2049)).wait().expect_error(
        'MessageSizeTooLarge')
    pending.assert_pending()

    good = valueset_of_size(2048)
    c.provider.respond(c.path, request, good).ok()
    assert pending.ok() == [good.print_(True)]


# ---- Close --------------------------------------------------------------------------------------

@pytest.mark.parametrize('closer', ['client', 'provider'])
def test_close(connect, bus, closer):
    c = connect()
    assert bus.connection_alive(c.path)
    to_provider = c.client.send_message(c.path, valueset(n=V('u', 1)))
    c.provider.wait_signal('RequestReceived', path=c.path)
    to_client = c.provider.send_message(c.path, valueset(n=V('u', 2)))
    c.client.wait_signal('RequestReceived', path=c.path)

    closing, other = (c.client, c.provider) if closer == 'client' else (c.provider, c.client)
    closing.close(c.path).ok()
    closed = other.wait_signal('ServiceClosed', path=c.path)
    assert closed['interface'] == CONNECTION_IFACE
    assert closed['signature'] == 'u' and closed.arg(0, 'u') == 0
    to_provider.wait().expect_error('Closed')
    to_client.wait().expect_error('Closed')
    closing.assert_no_signal('ServiceClosed')
    assert bus.get_property(ECHO_PATH, SERVICE_IFACE, 'Connections') == 0

    # The object is gone: no more messages on it.
    r = c.client.send_message(c.path, valueset(n=V('u', 3))).wait()
    assert not r.ok
    assert not bus.connection_alive(c.path), 'connection object left behind'


# ---- access by others ---------------------------------------------------------------------------

@pytest.mark.parametrize('who', ['root', 'unprivileged', 'same-uid-as-client'])
def test_third_peer_access_denied(connect, agents, who):
    c = connect()
    if who == 'root':
        third = agents.spawn('third')
    elif who == 'unprivileged':
        third = agents.spawn('third', uid=MAN_UID, gid=MAN_GID)
    else:
        third = agents.spawn('third', uid=GAMES_UID, gid=GAMES_GID)
    pending = c.client.send_message(c.path, valueset(n=V('u', 1)))
    req = c.provider.wait_signal('RequestReceived', path=c.path)

    attempts = [
        third.send_message(c.path, valueset(n=V('u', 2))),
        third.respond(c.path, req.arg(0, 't'), valueset()),
        third.respond(c.path, 123456789, valueset()),
        third.respond(c.path, req.arg(0, 't'), valueset([('', V('i', 1))])),
        third.close(c.path),
        third.get_all(c.path, CONNECTION_IFACE),
    ]
    attempts += [third.get(c.path, CONNECTION_IFACE, prop) for prop in ('Service', 'Name',
                                                                        'Caller')]
    for attempt in attempts:
        attempt.wait().expect_error(ACCESS_DENIED)

    # Nothing happened to the connection.
    c.provider.assert_no_signal('RequestReceived')
    c.client.assert_no_signal('ServiceClosed')
    pending.assert_pending()
    c.provider.respond(c.path, req.arg(0, 't'), valueset(still=V('b', True))).ok()
    assert pending.ok() == [norm("@a{sv} {'still': <true>}")]


def test_connection_properties(connect):
    c = connect()
    caller_from_signal = typed(c.opened['argv'][1])
    assert caller_from_signal['uid'] == ('u', GAMES_UID)
    assert caller_from_signal['gid'] == ('u', GAMES_GID)
    assert caller_from_signal['pid'] == ('u', c.client.pid)
    for endpoint in (c.client, c.provider):
        props = typed(endpoint.get_all(c.path, CONNECTION_IFACE).wait().expect_ok()[0])
        assert props['Service'] == ('o', ECHO_PATH)
        assert props['Name'] == ('s', ECHO)
        assert props['Caller'][0] == 'a{sv}'
        caller = typed(parse('v', endpoint.get(c.path, CONNECTION_IFACE, 'Caller').wait().
                             expect_ok()[0]).get_variant().print_(True))
        assert caller == caller_from_signal
        for key in ('app-id', 'unit'):
            if key in caller:
                assert caller[key][0] == 's'


# ---- timeouts and limits ------------------------------------------------------------------------

@pytest.mark.parametrize('direction', ['to-provider', 'to-client'])
def test_request_timeout(connect, direction):
    c = connect(RequestTimeoutSec=1)
    sender, receiver = (c.client, c.provider) if direction == 'to-provider' else \
        (c.provider, c.client)
    call = sender.send_message(c.path, valueset(n=V('u', 1)))
    req = receiver.wait_signal('RequestReceived', path=c.path)
    r = call.wait()
    msg = r.expect_error('Timeout')
    assert within(r.elapsed, 0.9, 2.5), 'RequestTimeoutSec=1 took %.2f s' % r.elapsed
    assert msg
    receiver.respond(c.path, req.arg(0, 't'), valueset()).wait().expect_error('UnknownRequest')
    # A timeout does not close the connection.
    receiver.assert_no_signal('ServiceClosed')
    sender.assert_no_signal('ServiceClosed')
    call = sender.send_message(c.path, valueset(n=V('u', 2)))
    req = receiver.wait_signal('RequestReceived', path=c.path)
    receiver.respond(c.path, req.arg(0, 't'), valueset()).ok()
    call.ok()


def test_max_pending_requests_per_direction(connect):
    c = connect(MaxPendingRequests=2)
    up = [c.client.send_message(c.path, valueset(n=V('u', i))) for i in range(2)]
    reqs = [c.provider.wait_signal('RequestReceived', path=c.path) for _ in range(2)]
    r = c.client.send_message(c.path, valueset(n=V('u', 2))).wait()
    r.expect_error('ResourceLimitsExceeded')
    assert r.elapsed < 2.0
    c.provider.barrier()
    assert len(c.provider.signals('RequestReceived', path=c.path)) == 2

    # The other direction counts separately.
    down = [c.provider.send_message(c.path, valueset(m=V('u', i))) for i in range(2)]
    back = [c.client.wait_signal('RequestReceived', path=c.path) for _ in range(2)]
    c.provider.send_message(c.path, valueset(m=V('u', 2))).wait().expect_error(
        'ResourceLimitsExceeded')

    # Answering one makes room again.
    c.provider.respond(c.path, reqs[0].arg(0, 't'), valueset()).ok()
    up[0].ok()
    again = c.client.send_message(c.path, valueset(n=V('u', 3)))
    req = c.provider.wait_signal('RequestReceived', path=c.path)
    c.client.send_message(c.path, valueset(n=V('u', 4))).wait().expect_error(
        'ResourceLimitsExceeded')
    for sig, call in ((reqs[1], up[1]), (req, again)):
        c.provider.respond(c.path, sig.arg(0, 't'), valueset()).ok()
        call.ok()
    for sig, call in zip(back, down):
        c.client.respond(c.path, sig.arg(0, 't'), valueset()).ok()
        call.ok()


# ---- invalid ValueSets --------------------------------------------------------------------------

INVALID = {
    'empty-key': ("@a{sv} {'': <int32 1>}", 0),
    'key-256-bytes': ("@a{sv} {'%s': <int32 1>}" % ('k' * 256), 0),
    'key-256-bytes-multibyte': ("@a{sv} {'%s': <int32 1>}" % ('é' * 128), 0),
    'duplicate-keys': ("@a{sv} {'a': <int32 1>, 'b': <int32 2>, 'a': <int32 3>}", 0),
    'fd-value': ("@a{sv} {'fd': <handle 0>}", 1),
    'fd-in-array': ("@a{sv} {'fds': <[handle 0, 1]>}", 2),
    'fd-in-struct': ("@a{sv} {'s': <('x', handle 0)>}", 1),
    'fd-in-nested-valueset': ("@a{sv} {'inner': <@a{sv} {'fd': <handle 0>}>}", 1),
    'nested-empty-key': ("@a{sv} {'inner': <@a{sv} {'': <int32 1>}>}", 0),
    'nested-duplicate-keys': ("@a{sv} {'inner': <@a{sv} {'x': <1>, 'x': <2>}>}", 0),
    'nested-in-list-empty-key': ("@a{sv} {'list': <@aa{sv} [{'': <int32 1>}]>}", 0),
}


@pytest.mark.parametrize('case', sorted(INVALID))
def test_invalid_message(connect, case):
    message, fds = INVALID[case]
    c = connect(provider_auto='echo', client_auto='echo')
    for sender, receiver in ((c.client, c.provider), (c.provider, c.client)):
        r = sender.send_message(c.path, message, fds=fds).wait()
        msg = r.expect_error('InvalidMessage')
        assert msg
        assert r.elapsed < 2.0
        receiver.assert_no_signal('RequestReceived')


def test_longest_key_is_valid(connect):
    c = connect(provider_auto='echo')
    message = valueset([('k' * 255, V('i', 1)), ('é' * 127 + 'x', V('i', 2))])
    assert c.client.send_message(c.path, message).ok() == [message.print_(True)]


# ---- sizes --------------------------------------------------------------------------------------

@pytest.mark.parametrize('limit', [4096, None], ids=['MaxMessageSize=4096', 'default-1MiB'])
def test_message_size_limit(connect, limit):
    keys = {'MaxMessageSize': limit} if limit else {}
    limit = limit or 1048576
    c = connect(provider_auto='echo', client_auto='echo', **keys)
    # Mixed content, so that alignment padding counts as it does on the wire.
    extra = [('a', V('y', 1)), ('b', V('(yt)', (1, 2))), ('c', V('as', ['x']))]
    for sender in (c.client, c.provider):
        for size in (limit - 1, limit):
            message = valueset_of_size(size, extra=extra)
            assert sender.send_message(c.path, message).ok() == [message.print_(True)], size
        r = sender.send_message(c.path, valueset_of_size(limit + 1, extra=extra)).wait()
        msg = r.expect_error('MessageSizeTooLarge')
        assert msg
        assert r.elapsed < 5.0, 'refused after %.2f s' % r.elapsed


# ---- order of the sending checks ----------------------------------------------------------------

def test_sending_check_order(connect, agents):
    c = connect(MaxMessageSize=1024, MaxPendingRequests=1)
    third = agents.spawn('third', uid=MAN_UID, gid=MAN_GID)
    invalid_and_large = valueset([('dup', V('i', 1)), ('dup', V('i', 2)),
                                  ('blob', V('ay', b'x' * 2000))])

    # AccessDenied before anything else.
    third.send_message(c.path, invalid_and_large).wait().expect_error(ACCESS_DENIED)
    third.respond(c.path, 1, invalid_and_large).wait().expect_error(ACCESS_DENIED)
    # UnknownRequest before InvalidMessage and MessageSizeTooLarge.
    c.provider.respond(c.path, 424242, invalid_and_large).wait().expect_error('UnknownRequest')
    c.provider.respond(c.path, 424242, valueset_of_size(1025)).wait().expect_error(
        'UnknownRequest')
    # InvalidMessage before MessageSizeTooLarge.
    c.client.send_message(c.path, invalid_and_large).wait().expect_error('InvalidMessage')

    # With the one allowed request pending: InvalidMessage and MessageSizeTooLarge before
    # ResourceLimitsExceeded.
    pending = c.client.send_message(c.path, valueset(n=V('u', 1)))
    req = c.provider.wait_signal('RequestReceived', path=c.path)
    c.client.send_message(c.path, valueset([('', V('i', 1))])).wait().expect_error(
        'InvalidMessage')
    c.client.send_message(c.path, valueset_of_size(1025)).wait().expect_error(
        'MessageSizeTooLarge')
    c.client.send_message(c.path, valueset(n=V('u', 2))).wait().expect_error(
        'ResourceLimitsExceeded')
    # A refused response (invalid) then a good one.
    c.provider.respond(c.path, req.arg(0, 't'), invalid_and_large).wait().expect_error(
        'InvalidMessage')
    c.provider.respond(c.path, req.arg(0, 't'), valueset_of_size(1025)).wait().expect_error(
        'MessageSizeTooLarge')
    c.provider.respond(c.path, req.arg(0, 't'), valueset()).ok()
    pending.ok()
    c.provider.assert_no_signal('RequestReceived')


def test_provider_of_another_service_is_a_third_peer(start_service, services_dir, agents):
    # The provider of another service is a third peer too.
    services_dir.write('com.example.other', Provider='com.example.OtherApp')
    provider = start_service(ECHO)
    other = agents.spawn('other-provider', register='com.example.other')
    other.wait_registered()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(ECHO)
    provider.wait_signal('ConnectionOpened')
    other.get(path, CONNECTION_IFACE, 'Name').wait().expect_error(ACCESS_DENIED)
    other.send_message(path, valueset(n=V('u', 1))).wait().expect_error(ACCESS_DENIED)
    other.call('io.appservice1', path, PROPERTIES_IFACE, 'GetAll', '(s)',
               "('%s',)" % CONNECTION_IFACE).wait().expect_error(ACCESS_DENIED)
