# SPDX-License-Identifier: LGPL-2.1-or-later
"""Contracts (Contract=, contract/README.md): the broker checks every message of a service that
has one, in both directions, and refuses what breaks it with io.appservice1.Error.ContractViolation
naming the action, the key and what was expected; a provider's bad answer reaches the client as
that error, never as a value. Clients run as games, the provider as lp, on the real broker and a
real dbus-daemon with the project's policy."""

import os
import re
import time

import pytest

from client import (BUS_NAME, DEFAULT_WAIT, GAMES_GID, GAMES_UID, LP_GID, LP_UID, MAN_GID, MAN_UID,
                    SERVICE_IFACE, GLib, service_path)

NAME = 'com.example.thermo'
CONTRACT_NAME = 'org.example.thermostat'
VIOLATION = 'io.appservice1.Error.ContractViolation'
NOT_AUTHORIZED = 'io.appservice1.Error.NotAuthorized'
NOT_SUPPORTED = 'org.freedesktop.DBus.Error.NotSupported'
PATH = service_path(NAME)

CONTRACT = '''\
# A thermostat, for the broker's contract checks.
interface org.example.thermostat

type Reading (sensor: string, tenths: int32, at: ?uint64)
type Mode (off, heat, cool)
type Tree (name: string, children: []Tree)

# Every reading, and the mode.
method Get() -> (readings: []Reading, mode: Mode)
method SetMode(mode: Mode, reason: ?string) -> (previous: Mode)
method Store(limits: [string]int32, tags: []string, raw: variant, extra: object, tree: ?Tree) -> ()

callback Notify(reading: Reading) -> (seen: bool)

error UnknownSensor(sensor: string)
'''


@pytest.fixture
def thermo(services_dir, daemon, agents):
    """The service with its contract beside its definition, the broker, a provider (lp) that
    answers by hand, and a connection from a client (games): (provider, client, path)."""
    def make(contract=CONTRACT, **keys):
        services_dir.write_raw(CONTRACT_NAME + '.contract', contract)
        keys.setdefault('User', 'lp')
        services_dir.write(NAME, Contract=CONTRACT_NAME, **keys)
        daemon.start()
        provider = agents.spawn('provider', uid=LP_UID, gid=LP_GID, register=NAME, auto='ignore')
        provider.wait_registered()
        client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
        path = client.open_ok(NAME)
        return provider, client, path
    return make


def violation(call):
    return call.wait().expect_error(VIOLATION)


def request_of(provider, path):
    s = provider.wait_signal('RequestReceived', path=path)
    return s.arg(0, 't'), s.arg(1, 'a{sv}')


# ---- requests from the client --------------------------------------------------------------------

@pytest.mark.parametrize('message, want', [
    ("{'mode': <'heat'>}",
     r"the request: no key 'Action' \(s\) naming the action \(actions: Get, SetMode, Store\)"),
    ("{'Action': <'Explode'>}",
     r"the request: unknown action 'Explode' \(the contract's actions: Get, SetMode, Store\)"),
    ("{'Action': <uint32 3>}", r"key 'Action': expected string \(s\), got uint32 \(u\)"),
    ("{'Action': <'SetMode'>}", r"action 'SetMode': key 'mode': missing \(Mode, s\)"),
    ("{'Action': <'SetMode'>, 'mode': <'heat'>, 'why': <'cold'>}",
     r"action 'SetMode': key 'why': not in the contract \(it takes: mode, reason\)"),
    ("{'Action': <'SetMode'>, 'mode': <int32 1>}",
     r"action 'SetMode': key 'mode': expected Mode \(s\), got int32 \(i\)"),
    ("{'Action': <'SetMode'>, 'mode': <'warm'>}",
     r"action 'SetMode': key 'mode': 'warm' is not one of Mode"),
    ("{'Action': <'Store'>, 'limits': <{'a': 'x'}>, 'tags': <['x']>, 'raw': <1>, 'extra': <@a{sv} {}>}",
     r"action 'Store': key 'limits': expected \[string\]int32 \(a\{si\}\), got a value \(a\{ss\}\)"),
    ("{'Action': <'Store'>, 'limits': <{'a': <1>}>, 'tags': <['x']>, 'raw': <1>, 'extra': <@a{sv} {}>}",
     r"key 'limits': expected \[string\]int32 \(a\{si\}\), got a ValueSet \(a\{sv\}\)"),
    ("{'Action': <'Store'>, 'limits': <@a{si} {}>, 'tags': <['x']>, 'raw': <1>, 'extra': <@a{sv} {}>,"
     " 'tree': <{'name': <'root'>, 'children': <[{'name': <'a'>, 'children': <@aa{sv} []>},"
     " {'name': <'b'>, 'children': <[{'name': <7>}]>}]>}>}",
     r"action 'Store': key 'tree.children\[1\].children\[0\].name': expected string \(s\), got int32"),
    ("{'Action': <'SetMode'>, 'mode': <'heat'>, 'reason': <[<1>]>}",
     r"key 'reason': expected string \(s\) or null, got null or an array of variants \(av\)"),
])
def test_a_request_that_breaks_the_contract_is_refused(thermo, message, want):
    provider, client, path = thermo()
    error = violation(client.send_message(path, message))
    assert re.search(want, error), error
    assert error.startswith("app service '%s': contract %s: " % (NAME, CONTRACT_NAME)), error
    # Refused at once: the provider never sees it.
    provider.assert_no_signal('RequestReceived')


def test_a_good_conversation_passes_unchanged(thermo):
    provider, client, path = thermo()
    good = ("{'Action': <'Store'>, 'limits': <{'a': 1, 'b': -2}>, 'tags': <@as []>,"
            " 'raw': <(1, 'x')>, 'extra': <{'anything': <[1.5]>}>, 'reason2': <1>}")
    # One key too many first (refused), then the message as the contract wants it.
    violation(client.send_message(path, good))
    good = good.replace(", 'reason2': <1>", ", 'tree': <{'name': <'r'>, 'children': <@aa{sv} []>}>")
    call = client.send_message(path, good)
    request, got = request_of(provider, path)
    assert got == GLib.Variant.parse(GLib.VariantType('a{sv}'), good, None, None).unpack()
    provider.respond(path, request, '@a{sv} {}').ok()
    assert call.wait().unpack(0, 'a{sv}') == {}

    # Null for an optional key, and the key left out, are the same to the contract.
    for message in ("{'Action': <'SetMode'>, 'mode': <'cool'>, 'reason': <@av []>}",
                    "{'Action': <'SetMode'>, 'mode': <'cool'>}"):
        call = client.send_message(path, message)
        request, _ = request_of(provider, path)
        provider.respond(path, request, "{'previous': <'heat'>}").ok()
        assert call.wait().unpack(0, 'a{sv}') == {'previous': 'heat'}


# ---- answers from the provider -------------------------------------------------------------------

@pytest.mark.parametrize('response, want', [
    ("{'previous': <1>}", r"the response to action 'SetMode': key 'previous': expected Mode \(s\), got int32"),
    ("{'previous': <'hot'>}", r"the response to action 'SetMode': key 'previous': 'hot' is not one of Mode"),
    ("@a{sv} {}", r"the response to action 'SetMode': key 'previous': missing \(Mode, s\)"),
    ("{'previous': <'off'>, 'note': <'x'>}", r"key 'note': not in the contract \(it takes: previous\)"),
    ("{'Error': <'Melted'>}",
     r"the response to action 'SetMode': unknown error 'Melted' \(the contract's errors: UnknownSensor\)"),
    ("{'Error': <'UnknownSensor'>}",
     r"the error UnknownSensor answering action 'SetMode': key 'sensor': missing \(string, s\)"),
])
def test_a_bad_answer_reaches_both_sides_as_an_error(thermo, response, want):
    provider, client, path = thermo()
    call = client.send_message(path, "{'Action': <'SetMode'>, 'mode': <'heat'>}")
    request, _ = request_of(provider, path)
    answer = provider.respond(path, request, response).wait().expect_error(VIOLATION)
    assert re.search(want, answer), answer
    error = violation(call)
    assert re.search(want, error), error
    # The request is over: a second answer is for a request that is no longer pending.
    provider.respond(path, request, "{'previous': <'off'>}").error('io.appservice1.Error.UnknownRequest')


def test_a_declared_error_passes(thermo):
    provider, client, path = thermo()
    call = client.send_message(path, "{'Action': <'Get'>}")
    request, _ = request_of(provider, path)
    provider.respond(path, request, "{'Error': <'UnknownSensor'>, 'sensor': <'attic'>}").ok()
    assert call.wait().unpack(0, 'a{sv}') == {'Error': 'UnknownSensor', 'sensor': 'attic'}


def test_callbacks_are_checked_both_ways(thermo):
    provider, client, path = thermo()
    # The provider may only send the contract's callbacks, with their parameters.
    error = violation(provider.send_message(path, "{'Action': <'Get'>}"))
    assert "unknown callback 'Get' (the contract's callbacks: Notify)" in error, error
    error = violation(provider.send_message(path, "{'Action': <'Notify'>, 'reading': <{'sensor': <'a'>}>}"))
    assert "callback 'Notify': key 'reading.tenths': missing (int32, i)" in error, error
    client.assert_no_signal('RequestReceived')

    reading = "{'Action': <'Notify'>, 'reading': <{'sensor': <'a'>, 'tenths': <215>}>}"
    call = provider.send_message(path, reading)
    request, _ = request_of(client, path)
    # The client's answer is checked against the callback's results.
    answer = client.respond(path, request, "{'seen': <'yes'>}").wait().expect_error(VIOLATION)
    assert "the response to callback 'Notify': key 'seen': expected bool (b), got string (s)" in \
        answer, answer
    violation(call)

    call = provider.send_message(path, reading)
    request, _ = request_of(client, path)
    client.respond(path, request, "{'seen': <true>}").ok()
    assert call.wait().unpack(0, 'a{sv}') == {'seen': True}


def test_one_shot_send_message_is_checked(thermo, agents):
    provider, client, path = thermo()
    other = agents.spawn('other', uid=MAN_UID, gid=MAN_GID)
    error = violation(other.service_send(NAME, "{'Action': <'Nope'>}"))
    assert "unknown action 'Nope'" in error, error
    call = other.service_send(NAME, "{'Action': <'SetMode'>, 'mode': <'off'>}")
    s = provider.wait_signal('RequestReceived')
    provider.respond(s['path'], s.arg(0, 't'), "{'previous': <42>}")
    assert "key 'previous': expected Mode (s), got int32 (i)" in violation(call)


# ---- what the service says of its contract --------------------------------------------------------

def test_properties_and_get_contract(thermo, services_dir, agents):
    provider, client, path = thermo(AllowHTTP='yes')
    assert client.get_value(PATH, SERVICE_IFACE, 'Contract') == CONTRACT_NAME
    assert client.get_value(PATH, SERVICE_IFACE, 'AllowHTTP') is True
    r = client.call(BUS_NAME, PATH, SERVICE_IFACE, 'GetContract').wait()
    r.expect_ok()
    assert r.unpack(0, 's') == CONTRACT


def test_get_contract_is_for_those_who_may_open(services_dir, daemon, agents):
    services_dir.write_raw(CONTRACT_NAME + '.contract', CONTRACT)
    services_dir.write(NAME, Contract=CONTRACT_NAME, AllowUsers='lp')
    services_dir.write('com.example.plain')
    daemon.start()
    games = agents.spawn('games', uid=GAMES_UID, gid=GAMES_GID)
    games.call(BUS_NAME, PATH, SERVICE_IFACE, 'GetContract').error(NOT_AUTHORIZED)
    lp = agents.spawn('lp', uid=LP_UID, gid=LP_GID)
    assert lp.call(BUS_NAME, PATH, SERVICE_IFACE, 'GetContract').wait().unpack(0, 's') == CONTRACT
    plain = service_path('com.example.plain')
    assert games.get_value(plain, SERVICE_IFACE, 'Contract') == ''
    assert games.get_value(plain, SERVICE_IFACE, 'AllowHTTP') is False
    games.call(BUS_NAME, plain, SERVICE_IFACE, 'GetContract').error(NOT_SUPPORTED)


def test_no_direct_link_for_a_contract(thermo, agents):
    provider, client, path = thermo()
    args = GLib.Variant('(ssa{sv})', (NAME, '', {}))
    r = client.manager('OpenDirectConnection', '(ssa{sv})', args).wait()
    r.expect_ok()
    assert r.unpack(1, 'a{sv}')['brokered'] == 'the app service has a contract, which the broker checks'


# ---- contract files ----------------------------------------------------------------------------

def test_broken_or_missing_contracts_skip_the_definition(services_dir, daemon, agents):
    services_dir.write_raw('org.example.broken.contract', 'interface org.example.broken\nmethod M(x: int32 -> ()\n')
    services_dir.write('com.example.broken', Contract='org.example.broken')
    services_dir.write('com.example.missing', Contract='org.example.nowhere')
    services_dir.write_raw('org.example.other.contract', 'interface org.example.different\n')
    services_dir.write('com.example.mismatch', Contract='org.example.other')
    services_dir.write('com.example.badname', Contract='../../etc/passwd')
    services_dir.write('com.example.fine')
    daemon.start()
    log = '\n'.join(daemon.log_lines())
    assert re.search(r'org\.example\.broken\.contract:2:19: expected \',\', got \'->\'', log), log
    assert 'contract org.example.nowhere: no file org.example.nowhere.contract' in log, log
    assert "declares interface 'org.example.different', but Contract= names 'org.example.other'" in log, log
    assert "'../../etc/passwd' is not a contract name" in log, log
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    names = [row[0] for row in client.list_services()]
    assert names == ['com.example.fine'], names


def test_contracts_dir_and_reload(services_dir, daemon, agents, workdir):
    contracts = os.path.join(str(workdir), 'contracts')
    os.makedirs(contracts)
    with open(os.path.join(contracts, CONTRACT_NAME + '.contract'), 'w') as f:
        f.write(CONTRACT)
    os.chmod(contracts, 0o755)
    services_dir.write(NAME, Contract=CONTRACT_NAME, User='lp')
    daemon.start(['--contracts-dir=' + contracts])
    provider = agents.spawn('provider', uid=LP_UID, gid=LP_GID, register=NAME, auto='echo')
    provider.wait_registered()
    client = agents.spawn('client', uid=GAMES_UID, gid=GAMES_GID)
    path = client.open_ok(NAME)
    assert 'unknown action' in violation(client.send_message(path, "{'Action': <'Ping'>}"))

    # A new method in the contract: Reload picks it up, the open connection included.
    with open(os.path.join(contracts, CONTRACT_NAME + '.contract'), 'a') as f:
        f.write('method Ping() -> ()\n')
    admin = agents.spawn('admin', uid=0, gid=0)
    admin.manager('Reload').ok()
    call = client.send_message(path, "{'Action': <'Ping'>}")
    # The echo provider answers with the message itself, which is no result of Ping.
    assert "the response to action 'Ping': key 'Action': not in the contract" in violation(call)


# ---- hostile callers ---------------------------------------------------------------------------

def test_a_flood_of_violations_costs_the_broker_nothing(thermo, agents, daemon):
    provider, client, path = thermo()
    # A tree 5 levels deep whose last leaf's name is not a string, and unknown actions: 400 of
    # them, 100 in flight at a time (the bus allows a peer 128 unanswered calls).
    deep = "{'name': <uint32 1>, 'children': <@aa{sv} []>}"
    for _ in range(5):
        deep = "{'name': <'n'>, 'children': <[%s]>}" % deep
    for batch in range(4):
        calls = []
        for i in range(100):
            message = ("{'Action': <'Store'>, 'limits': <@a{si} {}>, 'tags': <@as []>, 'raw': <1>,"
                       " 'extra': <@a{sv} {}>, 'tree': <%s>}" % deep) if i % 2 else "{'Action': <'X%d'>}" % i
            calls.append(client.send_message(path, message))
        for i, call in enumerate(calls):
            error = call.wait().expect_error(VIOLATION)
            assert ("tree.children[0].children[0].children[0].children[0].children[0].name" in error
                    if i % 2 else "unknown action 'X%d'" % i in error), error
    provider.assert_no_signal('RequestReceived')
    # Still serving, for this client and anyone else.
    other = agents.spawn('other', uid=MAN_UID, gid=MAN_GID)
    other_path = other.open_ok(NAME)
    call = other.send_message(other_path, "{'Action': <'Get'>}")
    request, _ = request_of(provider, other_path)
    provider.respond(other_path, request, "{'readings': <@aa{sv} []>, 'mode': <'off'>}").ok()
    assert call.wait().unpack(0, 'a{sv}') == {'readings': [], 'mode': 'off'}


def test_a_huge_recursive_value_is_checked_to_its_end(thermo):
    provider, client, path = thermo(MaxMessageSize=4194304)
    # 1000 children, each with 20 grandchildren (about 1.3 MB): every one is looked at, and one
    # wrong type deep in the last is found.
    leaf = "{'name': <'leaf'>, 'children': <@aa{sv} []>}"
    child = "{'name': <'c'>, 'children': <[%s]>}" % ', '.join([leaf] * 20)
    last = child.replace("'leaf'", "uint16 9", 1)
    tree = "{'name': <'root'>, 'children': <[%s]>}" % ', '.join([child] * 999 + [last])
    message = ("{'Action': <'Store'>, 'limits': <@a{si} {}>, 'tags': <@as []>, 'raw': <1>,"
               " 'extra': <@a{sv} {}>, 'tree': <%s>}" % tree)
    start = time.monotonic()
    error = violation(client.send_message(path, message, timeout_ms=int(DEFAULT_WAIT * 1000)))
    assert "key 'tree.children[999].children[0].name': expected string (s), got uint16 (q)" in error, error
    assert time.monotonic() - start < DEFAULT_WAIT
