# SPDX-License-Identifier: LGPL-2.1-or-later
"""The echo example provider from examples/echo, started by the daemon from the build tree's
definition, driven like the contract's shell example (busctl) and by a client agent."""

import os
import subprocess

import pytest

from client import (ECHO, GAMES_GID, GAMES_UID, LP_GID, LP_UID, MAN_GID, MAN_UID, TIME_SCALE, GLib,
                    valueset)
from conftest import BUILD_ROOT

DEFINITION_DIR = os.path.join(BUILD_ROOT, 'examples', 'echo')
ECHO_PROVIDER = os.environ.get('APPSERVICE_ECHO_PROVIDER') or os.path.join(DEFINITION_DIR,
                                                                           'echo-provider')


@pytest.fixture
def echo_daemon(daemon):
    if not os.path.exists(os.path.join(DEFINITION_DIR, 'com.example.echo.appservice')) or \
            not os.access(ECHO_PROVIDER, os.X_OK):
        pytest.skip('the echo example is not built in %s' % DEFINITION_DIR)
    daemon.start(services_dirs=[DEFINITION_DIR])
    return daemon


def test_busctl_shell_example(echo_daemon, bus):
    # The contract's "Example from the shell", as an unprivileged user.
    argv = ['setpriv', '--reuid=%d' % GAMES_UID, '--regid=%d' % GAMES_GID, '--clear-groups',
            'busctl', '--address=%s' % bus.address, 'call', 'io.appservice1',
            '/io/appservice1/service/com_2eexample_2eecho', 'io.appservice1.Service',
            'SendMessage', 'a{sv}', '2', 'Action', 's', 'Echo', 'Text', 's', 'hello']
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30 * TIME_SCALE)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'a{sv} 2 "Action" s "Echo" "Text" s "hello"', out.stdout


def test_echo_provider_connection(echo_daemon, agents, bus):
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(ECHO, 'com.example.EchoApp', timeout=30)
    for message in (valueset(Text=GLib.Variant('s', 'hello')),
                    valueset(n=GLib.Variant('x', -5), list=GLib.Variant('aa{sv}', [{}]),
                             null=GLib.Variant('av', [])),
                    valueset()):
        assert client.send_message(path, message).ok() == [message.print_(True)]
    client.close(path).ok()
    assert bus.get_property('/io/appservice1/service/com_2eexample_2eecho',
                            'io.appservice1.Service', 'State') == 'active'


# ---- many answers at once (issue 10, item 3) -----------------------------------------------------

# The bus's pending replies per connection, lowered from the system bus's 128 so that the edge is
# reached at once: a provider with more SendResponse calls awaiting their reply than this has the
# rest refused by the bus (LimitsExceeded), and must send them again rather than drop them.
MAX_REPLIES = 16
CLIENT_UIDS = [(GAMES_UID, GAMES_GID), (MAN_UID, MAN_GID), (LP_UID, LP_GID)]


HELLO_PROVIDER = os.environ.get('APPSERVICE_HELLO_PROVIDER') or os.path.join(
    BUILD_ROOT, 'examples', 'hello', 'hello-provider')


def hello_answer(text):
    return valueset(result=GLib.Variant('s', 'Hello, %s!' % text))


# name, provider id, program, the answer to a message: the echo example on sd-bus, the Hello
# example on libappservice (whose send_response path every library provider shares), and the
# tests' own peer agent (program None), which the other tests use as their provider.
LOAD_PROVIDERS = {
    'echo': (ECHO, 'com.example.EchoApp', ECHO_PROVIDER, None),
    'hello': ('com.example.hello', 'com.example.Hello', HELLO_PROVIDER, hello_answer),
    'agent': (ECHO, 'com.example.EchoApp', None, None),
}


@pytest.mark.bus_limits(max_replies_per_connection=MAX_REPLIES)
@pytest.mark.parametrize('example', sorted(LOAD_PROVIDERS))
def test_provider_answers_every_request_under_load(services_dir, daemon, agents, example):
    name, provider_id, program, answer = LOAD_PROVIDERS[example]
    if program and not os.access(program, os.X_OK):
        pytest.skip('the %s example is not built at %s' % (example, program))
    # A lost answer would end as Timeout after RequestTimeoutSec.
    services_dir.write(name, Provider=provider_id, Exec=program, RequestTimeoutSec=10)
    daemon.start()
    if not program:
        agents.spawn('provider', register=name, auto='echo').wait_registered()
    clients = [agents.spawn('client%d' % i, uid=uid, gid=gid)
               for i, (uid, gid) in enumerate(CLIENT_UIDS * 3)]
    paths = [c.open_ok(name, provider_id, timeout=30) for c in clients]
    # Each client connection keeps below the bus's limit for its own calls.
    in_flight = MAX_REPLIES - 4
    answered = 0
    failures = []
    for round_ in range(3):
        calls = []
        for n, (client, path) in enumerate(zip(clients, paths)):
            for i in range(in_flight):
                text = 'client %d, round %d, request %d %s' % (n, round_, i, 'x' * 200)
                # Hello's generated provider dispatches by Action; the echo sends it back.
                message = valueset(Action=GLib.Variant('s', 'Hello'), text=GLib.Variant('s', text))
                calls.append((client.send_message(path, message, timeout_ms=60000),
                              answer(text) if answer else message))
        for call, expected in calls:
            result = call.wait(timeout=60 * TIME_SCALE)
            if result.ok and result.values == [expected.print_(True)]:
                answered += 1
            else:
                failures.append(result)
    print('%s: %d clients x %d in flight x 3 rounds: %d answered, %d failed' %
          (example, len(clients), in_flight, answered, len(failures)))
    assert not failures, '%d of %d requests failed, e.g. %r' % (
        len(failures), answered + len(failures), failures[:3])


# ValueSets whose values GDBus (GLib's D-Bus message reader, every version up to at least 2.89)
# reads wrongly: an array of structs or dict entries whose last element marshals to at most 4
# bytes, right after an element that ends on an 8-byte boundary, when the array's length field
# ends 4 bytes past an 8-byte boundary (libclient/overview.md, "Values GDBus reads wrongly"). Sent
# on to a GLib-based provider, they would lose a value or take the provider off the bus, so the
# broker refuses every array of that kind whatever its alignment. Each case: busctl's arguments
# for the a{sv}.
GDBUS_MISREAD_SHAPES = {
    # {'x': <[([1],), (@ai [],)]>}: GDBus drops the last element.
    'a(ai)-last-empty': ['1', 'x', 'a(ai)', '2', '1', '1', '0'],
    # {'xxxxx': <[(<int64 1>,), (<byte 2>,)]>}: the same, with variants.
    'a(v)-last-byte': ['1', 'xxxxx', 'a(v)', '2', 'x', '1', 'y', '2'],
    # {'x': <[([1],), (@ai [],)]>, 'y': <'z'>}: GDBus then misreads what follows and refuses the
    # whole message, and closes the bus connection that received it.
    'then-more-values': ['2', 'x', 'a(ai)', '2', '1', '1', '0', 'y', 's', 'z'],
    # A single element of 4 bytes is lost as well.
    'a(ai)-one-empty': ['1', 'x', 'a(ai)', '1', '0'],
}

# Shapes next to those that GDBus reads right, relayed byte for byte: busctl's arguments, and how
# busctl prints that a{sv} (value for value and type for type, which fixes the marshalled bytes).
GDBUS_SAFE_SHAPES = {
    'a(ai)-last-not-empty': (['1', 'x', 'a(ai)', '2', '0', '1', '2'], '1 "x" a(ai) 2 0 1 2'),
    'a(v)-last-int64': (['1', 'xxxxx', 'a(v)', '2', 'y', '2', 'x', '1'], '1 "xxxxx" a(v) 2 y 2 x 1'),
    'a(ai)-then-more': (['2', 'x', 'a(ai)', '2', '0', '1', '1', 'y', 's', 'z'],
                        '2 "x" a(ai) 2 0 1 1 "y" s "z"'),
}


def busctl_echo(bus, args):
    """An unprivileged client's Service.SendMessage to the echo service with busctl (sd-bus)."""
    argv = ['setpriv', '--reuid=%d' % GAMES_UID, '--regid=%d' % GAMES_GID, '--clear-groups',
            'busctl', '--address=%s' % bus.address, 'call', 'io.appservice1',
            '/io/appservice1/service/com_2eexample_2eecho', 'io.appservice1.Service',
            'SendMessage', 'a{sv}'] + args
    return subprocess.run(argv, capture_output=True, text=True, timeout=30 * TIME_SCALE)


@pytest.mark.parametrize('shape', list(GDBUS_MISREAD_SHAPES))
def test_broker_refuses_values_gdbus_misreads(echo_daemon, bus, shape):
    out = busctl_echo(bus, GDBUS_MISREAD_SHAPES[shape])
    assert out.returncode != 0, out.stdout
    assert "GLib's D-Bus reader misreads arrays" in out.stderr, out.stderr


@pytest.mark.parametrize('shape', list(GDBUS_SAFE_SHAPES))
def test_broker_relays_similar_values_intact(echo_daemon, bus, shape):
    args, printed = GDBUS_SAFE_SHAPES[shape]
    out = busctl_echo(bus, args)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'a{sv} ' + printed, out.stdout
