# SPDX-License-Identifier: LGPL-2.1-or-later
"""appservice-http on the real broker, bus and providers: curl and a Python client call app
services through it as the principals of its tokens file, each mapped to a local user whose
rights the broker checks."""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from client import DEFAULT_WAIT, GAMES_UID, LP_GID, LP_UID

from conftest import BUILD_ROOT

HELLO = 'com.example.hello'
ECHO = 'com.example.echo'
HELLO_DIR = os.path.join(BUILD_ROOT, 'examples', 'hello')
HELLO_PROVIDER = os.path.join(HELLO_DIR, 'hello-provider')
ECHO_PROVIDER = os.path.join(BUILD_ROOT, 'examples', 'echo', 'echo-provider')
ALICE = 'alice-token-0123456789abcdef'     # user games
BOB = 'bob-token-0123456789abcdef0000'     # user lp


@pytest.fixture
def world(services_dir, daemon, gateway):
    """Hello (contract) and echo (none), both AllowHTTP=yes; a private echo for lp only; an echo
    without AllowHTTP; the broker; the gateway with alice (games) and bob (lp)."""
    if not os.access(HELLO_PROVIDER, os.X_OK):
        pytest.skip('the Hello sample is not built')
    shutil.copy(os.path.join(HELLO_DIR, HELLO + '.contract'), services_dir.path)
    services_dir.write(HELLO, Provider='com.example.Hello', Exec=HELLO_PROVIDER, Contract=HELLO, AllowHTTP='yes')
    services_dir.write(ECHO, Provider='com.example.EchoApp', Exec=ECHO_PROVIDER, AllowHTTP='yes')
    services_dir.write('com.example.private', Provider='com.example.EchoApp', AllowUsers='lp', AllowHTTP='yes',
                       Exec=ECHO_PROVIDER + ' --name=com.example.private')
    services_dir.write('com.example.nothttp', Provider='com.example.EchoApp',
                       Exec=ECHO_PROVIDER + ' --name=com.example.nothttp')
    daemon.start()
    tokens = gateway.write_tokens(['# principal user token', 'alice games ' + ALICE, 'bob lp ' + BOB])
    return gateway.start(tokens)


def post(gateway, path, body, token=ALICE, content_type='application/json'):
    conn = http.client.HTTPConnection('127.0.0.1', gateway.port, timeout=DEFAULT_WAIT * 3)
    headers = {'Content-Type': content_type}
    if token:
        headers['Authorization'] = 'Bearer ' + token
    conn.request('POST', path, body=body if isinstance(body, bytes) else json.dumps(body).encode()
                 if not isinstance(body, str) else body.encode(), headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, json.loads(data) if data else None, r.getheaders()


def test_curl_calls_hello_through_its_contract(world):
    out = subprocess.run(['curl', '-sS', '-H', 'Authorization: Bearer ' + ALICE, '-d', '{"text": "world"}',
                          world.url('/v1/services/com.example.hello/Hello')],
                         capture_output=True, text=True, timeout=DEFAULT_WAIT * 3)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {'result': 'Hello, world!'}


def test_a_service_without_a_contract_takes_the_typed_mapping(world):
    status, body, _ = post(world, '/v1/services/com.example.echo/Echo',
                           {'Text': 'hi', 'count': {'@i': 5}, 'nested': {'k': {'@u': 3}}})
    assert status == 200, body
    # The echo sends back what it got: the Action the gateway added, and the typed values.
    assert body == {'Action': 'Echo', 'Text': 'hi', 'count': {'@i': 5}, 'nested': {'k': {'@u': 3}}}


@pytest.mark.parametrize('body, want', [
    ('{"text": 7}', 'text: expected a string, got a number'),
    ('{"text": "x", "extra": 1}', 'extra: not in the contract'),
    ('not json', 'the body must be one JSON object'),
    ('[1, 2]', 'the body must be one JSON object'),
    (b'{"text": "\xff"}', 'the body must be one JSON object'),
])
def test_a_bad_body_is_400_naming_what_is_wrong(world, body, want):
    status, answer, _ = post(world, '/v1/services/com.example.hello/Hello', body)
    assert status == 400, answer
    assert answer['error'] == 'bad-request' and want in answer['message'], answer


def test_unknown_action_of_a_contract_is_404(world):
    status, answer, _ = post(world, '/v1/services/com.example.hello/Goodbye', {})
    assert status == 404 and answer['error'] == 'unknown-action', answer


@pytest.mark.parametrize('token', [None, 'wrong-token-0123456789abcdef', ALICE[:-1]])
def test_no_or_a_wrong_token_is_401(world, token):
    status, answer, headers = post(world, '/v1/services/com.example.hello/Hello', {'text': 'x'}, token=token)
    assert status == 401 and answer['error'] == 'unauthorized', answer
    assert ('WWW-Authenticate', 'Bearer realm="appservice"') in headers


def test_what_a_principal_may_not_open_reads_as_not_there(world):
    """alice (games) may not open com.example.private (AllowUsers=lp): the same 404 as a service
    that does not exist and one without AllowHTTP=yes; bob (lp) is served."""
    answers = [post(world, '/v1/services/%s/Echo' % name, {'Text': 'x'})[:2]
               for name in ('com.example.private', 'com.example.nothere', 'com.example.nothttp')]
    for status, answer in answers:
        assert status == 404, answer
    assert len({json.dumps(a[1]).replace(n, '') for a, n in zip(answers, ('com.example.private',
                'com.example.nothere', 'com.example.nothttp'))}) == 1, answers
    status, answer, _ = post(world, '/v1/services/com.example.private/Echo', {'Text': 'x'}, token=BOB)
    assert status == 200 and answer['Text'] == 'x', answer


def test_the_broker_sees_the_principals_user(world, daemon):
    post(world, '/v1/services/com.example.echo/Echo', {'Text': 'who'})
    log = '\n'.join(daemon.log_lines())
    assert 'opened by' in log and '(uid %d)' % GAMES_UID in log, log


@pytest.mark.parametrize('mode, uid', [(0o644, 0), (0o600, GAMES_UID)])
def test_a_tokens_file_others_may_read_or_own_is_refused(gateway, bus, mode, uid):
    tokens = gateway.write_tokens(['alice games ' + ALICE], mode=mode, uid=uid)
    assert gateway.start(tokens, expect_running=False) == 1
    assert 'a tokens file must be a regular file' in gateway.log_text()


def test_a_body_over_the_limit_is_refused_unread(world):
    status, answer, _ = post(world, '/v1/services/com.example.echo/Echo', b'{"Text": "' + b'x' * (2 << 20) + b'"}')
    assert status == 413, answer


def test_many_bad_requests_leave_it_serving(world):
    for i in range(200):
        post(world, '/v1/services/com.example.hello/Hello', '{"text": [%s]}' % ('[' * 40 + ']' * 40))
        post(world, '/v1/services/com.example.hello/Hello', {'text': 'x'}, token='bad-%d-0123456789abcdef' % i)
    status, answer, _ = post(world, '/v1/services/com.example.hello/Hello', {'text': 'still'})
    assert status == 200 and answer == {'result': 'Hello, still!'}


def test_idle_connections_are_bounded_in_number_and_time(services_dir, daemon, gateway, workdir):
    """A client that opens connections and sends nothing holds at most MaxConnections of them,
    each for at most ConnectionTimeoutSec; then the gateway serves again."""
    services_dir.write(ECHO, Provider='com.example.EchoApp', Exec=ECHO_PROVIDER, AllowHTTP='yes')
    daemon.start()
    config = os.path.join(workdir, 'http.conf')
    with open(config, 'w') as f:
        f.write('[Gateway]\nMaxConnections=8\nConnectionTimeoutSec=2\n')
    tokens = gateway.write_tokens(['alice games ' + ALICE])
    gateway.start(tokens, extra=['--config', config])
    fds_before = len(os.listdir('/proc/%d/fd' % gateway.proc.pid))
    idle = []
    for _ in range(40):
        s = socket.create_connection(('127.0.0.1', gateway.port))
        idle.append(s)
    time.sleep(0.5)
    fds_full = len(os.listdir('/proc/%d/fd' % gateway.proc.pid))
    assert fds_full <= fds_before + 8 + 2, (fds_before, fds_full)
    # Past the timeout the slots are free again, and a caller is served.
    deadline = time.monotonic() + DEFAULT_WAIT * 2
    status = None
    while time.monotonic() < deadline:
        try:
            status, answer, _ = post(gateway, '/v1/services/com.example.echo/Echo', {'Text': 'back'})
            if status == 200:
                break
        except (ConnectionError, http.client.HTTPException, OSError):
            pass
        time.sleep(0.2)
    assert status == 200, status
    for s in idle:
        s.close()
    # Those the kernel still held in the listen queue were taken later (a slow gateway, under
    # valgrind): within their own timeout they go too.
    deadline = time.monotonic() + DEFAULT_WAIT * 2
    while len(os.listdir('/proc/%d/fd' % gateway.proc.pid)) > fds_before + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(os.listdir('/proc/%d/fd' % gateway.proc.pid)) <= fds_before + 2


# ---- the WebSocket -------------------------------------------------------------------------------

def ws_connect(gateway, name, token=ALICE):
    import websocket
    headers = ['Authorization: Bearer ' + token] if token else []
    ws = websocket.create_connection('ws://127.0.0.1:%d/v1/connections/%s' % (gateway.port, name),
                                     header=headers, timeout=DEFAULT_WAIT * 3)
    return ws


def ws_read(ws):
    return json.loads(ws.recv())


@pytest.fixture
def ws_world(services_dir, daemon, gateway, agents):
    """Hello (contract) for calls; com.example.talk, served by a test agent as lp, for the
    provider's own requests and closes; the gateway."""
    if not os.access(HELLO_PROVIDER, os.X_OK):
        pytest.skip('the Hello sample is not built')
    pytest.importorskip('websocket')
    shutil.copy(os.path.join(HELLO_DIR, HELLO + '.contract'), services_dir.path)
    services_dir.write(HELLO, Provider='com.example.Hello', Exec=HELLO_PROVIDER, Contract=HELLO, AllowHTTP='yes')
    services_dir.write('com.example.talk', Provider='com.example.Talk', User='lp', AllowHTTP='yes')
    services_dir.write('com.example.private', Provider='com.example.Talk', User='lp', AllowUsers='lp', AllowHTTP='yes')
    daemon.start()
    provider = agents.spawn('provider', uid=LP_UID, gid=LP_GID, register='com.example.talk', auto='ignore')
    provider.wait_registered()
    tokens = gateway.write_tokens(['alice games ' + ALICE, 'bob lp ' + BOB])
    gateway.start(tokens)
    return gateway, provider


def test_websocket_calls_actions(ws_world):
    gateway, _ = ws_world
    ws = ws_connect(gateway, HELLO)
    assert ws_read(ws) == {'type': 'opened'}
    ws.send(json.dumps({'id': 1, 'action': 'Hello', 'parameters': {'text': 'socket'}}))
    ws.send(json.dumps({'id': 2, 'action': 'Hello', 'parameters': {'text': 3}}))
    ws.send(json.dumps({'id': 3, 'action': 'Goodbye', 'parameters': {}}))
    ws.send('not json')
    got = [ws_read(ws) for _ in range(4)]
    assert {'type': 'response', 'id': 1, 'result': {'result': 'Hello, socket!'}} in got, got
    assert any(g.get('id') == 2 and g['type'] == 'error' and 'text: expected a string' in g['message'] for g in got), got
    assert any(g.get('id') == 3 and g['error'] == 'unknown-action' for g in got), got
    assert any('id' not in g and g['error'] == 'bad-request' for g in got), got
    ws.close()


def test_websocket_pushes_requests_and_the_close(ws_world):
    gateway, provider = ws_world
    ws = ws_connect(gateway, 'com.example.talk')
    assert ws_read(ws) == {'type': 'opened'}
    path = provider.wait_signal('ConnectionOpened').arg(0, 'o')
    call = provider.send_message(path, "{'Action': <'Greet'>, 'Greeting': <'hi'>, 'n': <int16 5>}")
    pushed = ws_read(ws)
    assert pushed['type'] == 'request' and pushed['action'] == 'Greet', pushed
    assert pushed['parameters'] == {'Action': 'Greet', 'Greeting': 'hi', 'n': {'@n': 5}}, pushed
    ws.send(json.dumps({'type': 'response-to', 'request': pushed['request'], 'result': {'Greeting': 'thanks'}}))
    assert call.wait().unpack(0, 'a{sv}') == {'Greeting': 'thanks'}
    # An answer to a request that does not wait is refused, and named.
    ws.send(json.dumps({'type': 'response-to', 'request': pushed['request'], 'result': {}}))
    assert ws_read(ws)['error'] == 'unknown-request'
    # The provider closes: the close is pushed, then the socket ends.
    provider.close(path).ok()
    assert ws_read(ws) == {'type': 'closed', 'status': 'completed'}
    import websocket
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        ws.recv()
        ws.recv()


def test_a_dropped_websocket_closes_the_connection(ws_world):
    gateway, provider = ws_world
    ws = ws_connect(gateway, 'com.example.talk')
    assert ws_read(ws) == {'type': 'opened'}
    path = provider.wait_signal('ConnectionOpened').arg(0, 'o')
    ws.sock.close()      # no close frame: the client just goes
    assert provider.wait_signal('ServiceClosed', path=path).arg(0, 'u') == 0
    # The gateway goes on serving.
    status, answer, _ = post(gateway, '/v1/services/com.example.hello/Hello', {'text': 'after'})
    assert status == 200 and answer == {'result': 'Hello, after!'}


def test_a_websocket_needs_a_token_and_the_right_to_open(ws_world):
    import websocket
    gateway, _ = ws_world
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        ws_connect(gateway, HELLO, token=None)
    assert e.value.status_code == 401
    for name in ('com.example.private', 'com.example.nothere'):
        ws = ws_connect(gateway, name)
        refusal = ws_read(ws)
        assert refusal == {'type': 'error', 'error': 'not-found', 'message': "no app service '%s' for you" % name}
        ws.close()
    # bob (lp) may open it: he gets past the visibility check to the broker's own answer (the
    # service has no provider running).
    ws = ws_connect(gateway, 'com.example.private', token=BOB)
    refusal = ws_read(ws)
    assert refusal['error'] == 'unavailable' and 'no provider is registered' in refusal['message'], refusal
    ws.close()


# ---- OpenAPI -------------------------------------------------------------------------------------

def get(gateway, path, token=ALICE):
    conn = http.client.HTTPConnection('127.0.0.1', gateway.port, timeout=DEFAULT_WAIT * 3)
    conn.request('GET', path, headers={'Authorization': 'Bearer ' + token} if token else {})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, json.loads(data) if data else None


def test_openapi_document_of_a_contract(world, workdir):
    status, doc = get(world, '/v1/services/com.example.hello/openapi.json')
    assert status == 200, doc
    assert doc['openapi'] == '3.0.3' and doc['info']['title'] == 'com.example.hello'
    op = doc['paths']['/v1/services/com.example.hello/Hello']['post']
    body = op['requestBody']['content']['application/json']['schema']
    assert body['type'] == 'object' and body['additionalProperties'] is False
    assert body['properties']['text']['type'] == 'string' and body['properties']['text']['nullable'] is True
    assert 'required' not in body
    result = op['responses']['200']['content']['application/json']['schema']
    assert result['required'] == ['result'] and result['properties']['result']['type'] == 'string'
    assert doc['components']['securitySchemes']['bearer'] == {'type': 'http', 'scheme': 'bearer'}
    assert doc['security'] == [{'bearer': []}]
    validate(doc, workdir, 'hello')


VALIDATOR = os.environ.get('APPSERVICE_OPENAPI_VALIDATOR', '')


def validate(doc, workdir, name):
    """The document through a real validator (APPSERVICE_OPENAPI_VALIDATOR: a command taking the
    file's path, swagger-cli validate as tools/install-deps installs it); without one, the test
    skips saying so."""
    if not VALIDATOR:
        pytest.skip('no OpenAPI validator: tools/install-deps installs swagger-cli into /var/cache/appservice/npm')
    path = os.path.join(workdir, name + '.openapi.json')
    with open(path, 'w') as f:
        json.dump(doc, f)
    out = subprocess.run(VALIDATOR.split() + [path], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    # A validator that takes anything would prove nothing: a broken copy must fail.
    with open(path, 'w') as f:
        json.dump(dict(doc, openapi='9.9.9', paths={'no-slash': {}}), f)
    out = subprocess.run(VALIDATOR.split() + [path], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0, 'the validator took a broken document'


def test_openapi_of_every_kind_of_type(world, services_dir, daemon, workdir):
    """The thermostat contract of contract/tests: named records and enums ($ref), arrays of
    records, an optional string, a callback (no path: the provider sends it) and an error (422)."""
    source = os.path.join(os.environ.get('APPSERVICE_SOURCE_ROOT', ''), 'contract', 'tests', 'example.contract')
    shutil.copy(source, os.path.join(services_dir.path, 'org.example.thermostat.contract'))
    services_dir.write('com.example.thermo', Provider='com.example.Thermo', Contract='org.example.thermostat',
                       AllowHTTP='yes')
    os.kill(daemon.pid, signal.SIGHUP)
    status, doc = None, None
    deadline = time.monotonic() + DEFAULT_WAIT
    while time.monotonic() < deadline:
        status, doc = get(world, '/v1/services/com.example.thermo/openapi.json')
        if status == 200:
            break
        time.sleep(0.1)
    assert status == 200, doc
    assert sorted(doc['paths']) == ['/v1/services/com.example.thermo/Get', '/v1/services/com.example.thermo/SetMode']
    schemas = doc['components']['schemas']
    assert schemas['Mode'] == {'type': 'string', 'enum': ['off', 'heat', 'cool']}
    assert schemas['Reading']['required'] == ['sensor', 'tenths', 'at']
    get_op = doc['paths']['/v1/services/com.example.thermo/Get']['post']
    readings = get_op['responses']['200']['content']['application/json']['schema']['properties']['readings']
    assert readings == {'type': 'array', 'items': {'$ref': '#/components/schemas/Reading'}}
    assert '422' in get_op['responses']
    assert schemas['error-UnknownSensor']['properties']['error'] == {'type': 'string', 'enum': ['UnknownSensor']}
    validate(doc, workdir, 'thermostat')


def test_openapi_is_as_private_as_the_service(world):
    for name in ('com.example.private', 'com.example.nothere', 'com.example.nothttp'):
        status, answer = get(world, '/v1/services/%s/openapi.json' % name)
        assert status == 404 and answer['error'] == 'not-found', answer
    status, answer = get(world, '/v1/services/com.example.echo/openapi.json')
    assert status == 404 and answer['error'] == 'no-contract', answer
    status, answer = get(world, '/v1/services/com.example.hello/openapi.json', token=None)
    assert status == 401
