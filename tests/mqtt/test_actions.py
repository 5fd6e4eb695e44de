# SPDX-License-Identifier: LGPL-2.1-or-later
"""Actions from the cloud (services/mqtt/README.md, "2. Actions from the cloud"): a request on
`<prefix>/<node>/actions/<service>` reaches the local provider as a one-shot from a remote caller
{"principal": "cloud"}, only where the definition allows it; its outcome goes back to the
response topic with the same correlation data; malformed requests never reach a provider and
never take the bridge down."""

import json

from client import GLib, err, parse, typed, valueset
from mqttharness import PREFIX

RESPONSES = 'cloud/responses/#'
WIRE = 'application/x-appservice-valueset'


def decode(m):
    """A response as a dict: JSON, or (for a request in the wire encoding) an a{sv}."""
    if m.content_type == WIRE:
        v = GLib.Variant.new_from_bytes(GLib.VariantType.new('a{sv}'), GLib.Bytes.new(m.payload),
                                        False)
        assert v.is_normal_form(), 'a response in normal form'
        return v.unpack()
    return m.json()


def action_topic(node, service):
    return '%s/%s/actions/%s' % (PREFIX, node, service)


class Cloud:
    """The cloud side of actions: publishes requests, reads responses by correlation data."""

    def __init__(self, cluster, node):
        self.cluster = cluster
        self.node = node
        self.sub = cluster.subscriber([RESPONSES], 'responses')
        self.n = 0

    def request(self, service, payload, action='set', correlation=None, response_topic=True,
                content_type=None):
        self.n += 1
        correlation = correlation or 'corr-%d' % self.n
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode()
        r = self.cluster.publish(
            action_topic(self.node, service), payload,
            response_topic='cloud/responses/%d' % self.n if response_topic else None,
            correlation=correlation, content_type=content_type,
            user_props=[('action', action)] if action else [])
        assert r.returncode == 0, r.stderr
        return correlation

    def response(self, correlation, timeout=None):
        m = self.sub.wait(lambda m: m.correlation == correlation, timeout,
                          'the response with correlation data %r' % correlation)
        assert m.topic.startswith('cloud/responses/')
        return decode(m)

    def responses(self, correlation):
        return self.sub.snapshot(lambda m: m.correlation == correlation)


REQUEST = {'Temperature': {'@d': 21.5}, 'Count': 3, 'Real': 2.5, 'Name': 'x', 'Flag': True,
           'Nothing': None, 'Obj': {'a': 1}, 'List': [{'a': 1}], 'Mixed': [1, 'a'],
           'Typed': {'@u': 7}, 'Ints': {'@ai': [1, 2]}, 'Big': {'@t': 2 ** 64 - 1}}
REQUEST_AS_VALUESET = valueset([
    ('Temperature', GLib.Variant('d', 21.5)), ('Count', GLib.Variant('x', 3)),
    ('Real', GLib.Variant('d', 2.5)), ('Name', GLib.Variant('s', 'x')),
    ('Flag', GLib.Variant('b', True)), ('Nothing', GLib.Variant('av', [])),
    ('Obj', GLib.Variant('a{sv}', {'a': GLib.Variant('x', 1)})),
    ('List', GLib.Variant('aa{sv}', [{'a': GLib.Variant('x', 1)}])),
    ('Mixed', GLib.Variant('av', [GLib.Variant('x', 1), GLib.Variant('s', 'a')])),
    ('Typed', GLib.Variant('u', 7)), ('Ints', GLib.Variant('ai', [1, 2])),
    ('Big', GLib.Variant('t', 2 ** 64 - 1))])
ANSWER = valueset(Result=GLib.Variant('s', 'done'), Code=GLib.Variant('i', 7))


def test_action_reaches_the_provider_and_answers(cluster):
    a = cluster.node('node-a')
    provider = a.provider('com.example.act', auto='ignore', AllowRemote='yes')
    provider.auto('fixed', value=ANSWER)
    cloud = Cloud(cluster, 'node-a')

    corr = cloud.request('com.example.act', REQUEST, action='set-temperature')
    opened = provider.wait_signal('ConnectionOpened')
    caller = typed(opened['argv'][1])
    assert caller['action'] == ('s', 'set-temperature'), caller
    assert caller['remote'][0] == 'a{sv}' and caller['remote'][1].get('principal') == 'cloud', \
        caller
    received = provider.wait_signal('RequestReceived', path=opened.arg(0, 'o'))
    got = received.variant(1)
    for key in REQUEST:
        want = REQUEST_AS_VALUESET.lookup_value(key, None)
        value = got.lookup_value(key, None)
        assert value is not None and value.print_(True) == want.print_(True), \
            '%s: %s, expected %s' % (key, value and value.print_(True), want.print_(True))
    assert got.n_children() == len(REQUEST), got.print_(True)

    answer = cloud.response(corr)
    assert answer == {'status': 'ok', 'response': {'Result': 'done', 'Code': {'@i': 7}}}, answer
    assert provider.wait_signal('ServiceClosed', path=opened.arg(0, 'o')).arg(0, 'u') == 0


def test_action_name_from_the_payload(cluster):
    a = cluster.node('node-a')
    provider = a.provider('com.example.act', auto='echo', AllowRemote='yes')
    cloud = Cloud(cluster, 'node-a')
    corr = cloud.request('com.example.act', {'Action': 'reboot', 'Delay': 1}, action=None)
    caller = typed(provider.wait_signal('ConnectionOpened')['argv'][1])
    assert caller['action'] == ('s', 'reboot'), caller
    assert cloud.response(corr)['status'] == 'ok'


def test_who_may_be_reached(cluster):
    a = cluster.node('node-a')
    cloud = Cloud(cluster, 'node-a')
    providers = {
        # name: (definition keys, expected error or None)
        'com.example.local': ({}, 'NotAuthorized'),
        'com.example.no': ({'AllowRemote': 'no'}, 'NotAuthorized'),
        'com.example.nodes': ({'AllowRemote': 'yes', 'AllowRemotePrincipals': 'node:node-b'},
                              'NotAuthorized'),
        'com.example.cloud': ({'AllowRemote': 'yes',
                               'AllowRemotePrincipals': 'node:node-b cloud'}, None),
        # Remote callers are not local users: AllowUsers= does not apply to them.
        'com.example.users': ({'AllowRemote': 'yes', 'AllowUsers': 'man'}, None),
    }
    agents = {name: a.provider(name, auto='echo', **keys) for name, (keys, _) in
              providers.items()}
    for name, (_, error) in providers.items():
        answer = cloud.response(cloud.request(name, {'Ping': True}))
        if error is None:
            assert answer == {'status': 'ok', 'response': {'Ping': True}}, (name, answer)
        else:
            assert answer['status'] == 'error' and answer['error'] == err(error), (name, answer)
            assert isinstance(answer.get('message'), str) and answer['message'], answer
            agents[name].assert_no_signal('ConnectionOpened', settle=0)

    answer = cloud.response(cloud.request('com.example.nosuch', {'Ping': True}))
    assert answer['status'] == 'error' and answer['error'] == err('AppServiceUnavailable'), answer


def test_action_without_response_topic_still_runs(cluster):
    a = cluster.node('node-a')
    provider = a.provider('com.example.act', auto='echo', AllowRemote='yes')
    cloud = Cloud(cluster, 'node-a')
    corr = cloud.request('com.example.act', {'Fire': 'and forget'}, response_topic=False)
    received = provider.wait_signal('RequestReceived')
    assert typed(received['argv'][1]) == {'Fire': ('s', 'and forget')}
    provider.wait_auto_response()
    assert cloud.request('com.example.act', {'Next': 1}) and provider.wait_signal(
        'RequestReceived')
    assert not cloud.responses(corr)


def test_wire_encoded_action(cluster):
    a = cluster.node('node-a')
    provider = a.provider('com.example.act', auto='echo', AllowRemote='yes')
    cloud = Cloud(cluster, 'node-a')
    wire = REQUEST_AS_VALUESET.get_normal_form().get_data_as_bytes().get_data()
    corr = cloud.request('com.example.act', wire, content_type=WIRE)
    received = provider.wait_signal('RequestReceived')
    assert received.variant(1).get_normal_form().get_data_as_bytes().get_data() == wire, \
        'the ValueSet arrives byte for byte'
    m = cloud.sub.wait(lambda m: m.correlation == corr)
    assert m.content_type == WIRE, 'the response in the request\'s format: %r' % m
    answer = decode(m)
    assert answer['status'] == 'ok' and set(answer['response']) == set(REQUEST), answer


def deep(n):
    return ('{"x":' * n + '1' + '}' * n).encode()


MALFORMED = {
    'not-json': b'{not json',
    'array': b'[1, 2, 3]',
    'string': b'"just a string"',
    'truncated': b'{"a": [1, 2',
    'bad-utf8': b'{"a": "\xff\xfe"}',
    'typed-wrong-value': b'{"a": {"@i": "seven"}}',
    'typed-out-of-range': b'{"a": {"@i": 4294967296}}',
    'typed-unknown-type': b'{"a": {"@zz": 1}}',
    'typed-handle': b'{"a": {"@h": 0}}',
    'empty-key': b'{"": 1}',
    'long-key': json.dumps({'k' * 300: 1}).encode(),
    'deep-objects': deep(40),
    'deep-arrays': b'{"a": ' + b'[' * 200000 + b']' * 200000 + b'}',
    'huge': b'{"a": "' + b'x' * (3 * 1024 * 1024) + b'"}',
    'wire-garbage': b'\x01\x02\x03',
}


def test_malformed_requests(cluster):
    a = cluster.node('node-a')
    provider = a.provider('com.example.act', auto='echo', AllowRemote='yes')
    cloud = Cloud(cluster, 'node-a')
    sent = {}
    for name, payload in MALFORMED.items():
        ctype = WIRE if name.startswith('wire') else None
        sent[name] = cloud.request('com.example.act', payload, correlation='bad-' + name,
                                   content_type=ctype)
    # An action name that breaks the broker's rules, in a well-formed request.
    sent['long-action'] = cloud.request('com.example.act', {'a': 1}, action='x' * 300,
                                        correlation='bad-long-action')
    # A good request after them: the provider's first request must be that one.
    good = cloud.request('com.example.act', {'Good': True}, correlation='good')
    received = provider.wait_signal('RequestReceived', timeout=30)
    assert typed(received['argv'][1]) == {'Good': ('b', True)}, received
    assert cloud.response(good, timeout=30)['status'] == 'ok'
    assert a.bridge.running()
    answered = {}
    for name, corr in sent.items():
        for m in cloud.responses(corr):
            answer = decode(m)
            assert answer['status'] == 'error' and answer['error'].startswith('io.appservice1.'), \
                (name, answer)
            answered[name] = answer['error']
    print('malformed actions answered with an error: %d of %d: %s; the rest only logged' % (
        len(answered), len(sent), answered))
    provider.assert_no_signal('RequestReceived', settle=0.2)
    # Still serving.
    assert cloud.response(cloud.request('com.example.act', {'Again': 1}))['status'] == 'ok'


def test_parse_is_strict_about_numbers(cluster):
    """Plain JSON numbers: an integer is x, anything with a fraction or exponent is d."""
    a = cluster.node('node-a')
    provider = a.provider('com.example.act', auto='echo', AllowRemote='yes')
    cloud = Cloud(cluster, 'node-a')
    cloud.request('com.example.act', b'{"i": -9223372036854775808, "f": 1.0, "e": 1e3}')
    got = provider.wait_signal('RequestReceived').variant(1)
    assert got.lookup_value('i', None).print_(True) == parse('x', '-9223372036854775808').print_(
        True)
    assert got.lookup_value('f', None).get_type_string() == 'd'
    assert got.lookup_value('e', None).get_type_string() == 'd'


def test_a_flood_of_actions_is_bounded(cluster):
    """Actions whose provider never answers hold their place until RequestTimeoutSec: at most 32
    at once; the rest are answered ResourceLimitsExceeded at once, and the bridge serves again
    once the held ones timed out."""
    a = cluster.node('node-a')
    stuck = a.provider('com.example.stuck', auto='ignore', AllowRemote='yes', RequestTimeoutSec=8)
    a.provider('com.example.act', auto='echo', AllowRemote='yes')
    cloud = Cloud(cluster, 'node-a')

    sent = [cloud.request('com.example.stuck', {'N': i}) for i in range(40)]
    refused = [c for c in sent[32:] if cloud.response(c)['status'] == 'error']
    for corr in refused:
        assert cloud.response(corr)['error'] == err('ResourceLimitsExceeded'), cloud.response(corr)
    assert len(refused) == 8, [cloud.responses(c) for c in sent[32:]]
    assert not any(cloud.responses(c) for c in sent[:32]), 'a held action was answered early'
    assert len(stuck.signals('ConnectionOpened')) <= 32

    # The held ones end with the provider's RequestTimeoutSec, each answered; then room again.
    for corr in sent[:32]:
        assert cloud.response(corr, timeout=30)['error'] == err('Timeout')
    corr = cloud.request('com.example.act', {'Text': 'after'})
    assert cloud.response(corr) == {'status': 'ok', 'response': {'Text': 'after'}}
