# SPDX-License-Identifier: LGPL-2.1-or-later
"""io.appservice.gpio: Request, Read, Write, Reconfigure, Release on real gpio-sim lines, and who
owns a request (the connection that made it, until it closes or its client vanishes)."""

import subprocess

from conftest import BOB, ai, as_, au, av, check_error, t, u


def free(client, chip, offsets):
    return [client.line_info(o, chip.name)['Used'] for o in offsets] == [False] * len(offsets)


# ---- Request ------------------------------------------------------------------------------------

def test_request_outputs_by_offsets_with_initial_values(gpio, chips):
    client = gpio.client()
    resp = client.request_lines(chips.a.name, [2, 0, 6], Direction='output', Values=ai([1, 0, 1]))
    assert resp['Chip'] == chips.a.name
    assert list(resp['Offsets']) == [2, 0, 6]
    assert list(resp['Names']) == ['', 'led0', '']
    assert [chips.a.value(o) for o in (2, 0, 6)] == [1, 0, 1]
    # Without Values, outputs start inactive.
    resp = client.request_lines(chips.b.name, [1, 3], Direction='output')
    assert [chips.b.value(o) for o in (1, 3)] == [0, 0]


def test_request_by_names_without_chip(gpio, chips):
    client = gpio.client()
    resp = client.request_lines(None, ['relay'], Direction='output', Values=ai([1]))
    assert (resp['Chip'], list(resp['Offsets']), list(resp['Names'])) == \
        (chips.b.name, [0], ['relay'])
    assert chips.b.value(0) == 1
    # Names look across chips in device order: 'shared' is on A first.
    resp = client.request_lines(None, ['led1', 'shared'], Direction='output',
                                Values=ai([1, 1]))
    assert (resp['Chip'], list(resp['Offsets'])) == (chips.a.name, [1, 5])
    assert chips.a.value(1) == 1 and chips.a.value(5) == 1


def test_request_by_names_on_a_chip_and_mixed(gpio, chips):
    client = gpio.client()
    resp = client.request_lines(chips.b.label, ['shared'], Direction='output', Values=ai([1]))
    assert (resp['Chip'], list(resp['Offsets'])) == (chips.b.name, [2])
    assert chips.b.value(2) == 1 and chips.a.value(5) == 0
    # av of offsets and names.
    resp = client.request_lines(chips.a.name, av([u(4), 'button']), Direction='input')
    assert list(resp['Offsets']) == [4, 3]
    assert list(resp['Names']) == ['', 'button']


def gpioinfo_line(chip, offset):
    """The line as libgpiod's gpioinfo sees it through the kernel, not through the service."""
    out = subprocess.run(['gpioinfo', '--unquoted', '-c', chip.name, str(offset)], check=True, text=True,
                         stdout=subprocess.PIPE).stdout
    return out.strip() + ' '


def test_request_consumer(gpio, chips):
    client = gpio.client()
    client.request_lines(chips.a.name, [7], Consumer='my-blinker')
    assert client.line_info(7, chips.a.name)['Consumer'] == 'my-blinker'
    assert 'consumer=my-blinker ' in gpioinfo_line(chips.a, 7)
    name31 = 'c' * 31
    client.request_lines(chips.a.name, [6], Direction='output', ActiveLow=True, Consumer=name31)
    assert client.line_info(6, chips.a.name)['Consumer'] == name31
    kernel = gpioinfo_line(chips.a, 6)
    assert 'consumer=%s ' % name31 in kernel and 'output' in kernel and 'active-low' in kernel, \
        kernel
    # The default consumer.
    client.request_lines(chips.a.name, [5])
    assert 'consumer=appservice-gpio ' in gpioinfo_line(chips.a, 5)


def test_read_inputs_follow_pulls(gpio, chips):
    client = gpio.client()
    a = chips.a
    req = client.request_lines(a.name, [4, 2, 3], Direction='input')
    rid = req['Request']
    resp = client.ok('Read', Request=u(rid))
    resp.check_types({'Values': 'ai', 'Offsets': 'au'})
    assert list(resp['Offsets']) == [4, 2, 3]
    assert list(resp['Values']) == [0, 0, 0]
    a.pull(2, 'pull-up')
    assert client.read(rid) == [0, 1, 0]
    a.pull(4, 'pull-up')
    a.pull(2, 'pull-down')
    assert client.read(rid) == [1, 0, 0]
    a.pull(3, 'pull-up')
    assert client.read(rid) == [1, 0, 1]


def test_read_active_low_input(gpio, chips):
    client = gpio.client()
    rid = client.request_lines(chips.a.name, [1, 2], Direction='input',
                               ActiveLow=True)['Request']
    assert client.read(rid) == [1, 1]
    chips.a.pull(2, 'pull-up')
    assert client.read(rid) == [1, 0]


def test_write_outputs(gpio, chips):
    client = gpio.client()
    b = chips.b
    rid = client.request_lines(b.name, [0, 1, 3], Direction='output',
                               Values=ai([0, 0, 0]))['Request']
    resp = client.ok('Write', Request=u(rid), Values=ai([1, 0, 1]))
    assert resp['Status'] == 'ok'
    assert [b.value(o) for o in (0, 1, 3)] == [1, 0, 1]
    client.ok('Write', Request=u(rid), Values=ai([0, 1, 1]))
    assert [b.value(o) for o in (0, 1, 3)] == [0, 1, 1]
    # Read of outputs gives what they drive.
    assert client.read(rid) == [0, 1, 1]
    assert b.value(2) == 0, 'a line outside the request moved'


def test_write_active_low_output(gpio, chips):
    client = gpio.client()
    a = chips.a
    rid = client.request_lines(a.name, [0, 1], Direction='output', ActiveLow=True,
                               Values=ai([1, 0]))['Request']
    assert [a.value(0), a.value(1)] == [0, 1], 'active-low: logical 1 drives the pin low'
    client.ok('Write', Request=u(rid), Values=ai([0, 1]))
    assert [a.value(0), a.value(1)] == [1, 0]
    assert client.read(rid) == [0, 1]


def test_reconfigure_input_to_output_and_back(gpio, chips):
    client = gpio.client()
    a = chips.a
    rid = client.request_lines(a.name, [3, 4], Direction='input')['Request']
    a.pull(3, 'pull-up')
    assert client.read(rid) == [1, 0]

    client.ok('Reconfigure', Request=u(rid), Direction='output', Values=ai([0, 1]))
    assert [a.value(3), a.value(4)] == [0, 1]
    info = client.line_info(3, a.name)
    assert (info['Direction'], info['Used']) == ('output', True)
    client.ok('Write', Request=u(rid), Values=ai([1, 0]))
    assert [a.value(3), a.value(4)] == [1, 0]

    client.ok('Reconfigure', Request=u(rid), Direction='input')
    assert client.line_info(4, a.name)['Direction'] == 'input'
    a.pull(3, 'pull-down')
    a.pull(4, 'pull-up')
    assert client.read(rid) == [0, 1]
    check_error(client.request('Write', Request=u(rid), Values=ai([1, 1])), 'not-output',
                'Write after Reconfigure to input')


def test_reconfigure_active_low_and_defaults(gpio, chips):
    client = gpio.client()
    b = chips.b
    rid = client.request_lines(b.name, [1], Direction='output', Values=ai([0]),
                               Drive='open-drain')['Request']
    assert b.value(1) == 0
    assert client.line_info(1, b.name)['Drive'] == 'open-drain'
    # Active-low, logical 0: the pin is driven high, which needs push-pull again (the default
    # for a Reconfigure that leaves Drive out; open-drain would leave the pin pulled down).
    client.ok('Reconfigure', Request=u(rid), Direction='output', ActiveLow=True, Values=ai([0]))
    assert b.value(1) == 1
    info = client.line_info(1, b.name)
    assert info['ActiveLow'] is True
    assert info['Drive'] == 'push-pull', 'Reconfigure left out Drive: back to its default'
    client.ok('Write', Request=u(rid), Values=ai([1]))
    assert b.value(1) == 0
    assert client.read(rid) == [1]
    # An input with edges and a bias, then a Reconfigure with only Direction: all defaults.
    client.ok('Reconfigure', Request=u(rid), Direction='input', Edge='both', Bias='pull-up',
              DebounceUs=t(500))
    info = client.line_info(1, b.name)
    assert (info['Direction'], info['Edge'], info['Bias'], info['ActiveLow'],
            info['DebounceUs']) == ('input', 'both', 'pull-up', False, 500), dict(info)
    client.ok('Reconfigure', Request=u(rid))
    info = client.line_info(1, b.name)
    assert (info['Direction'], info['Edge'], info['ActiveLow'], info['DebounceUs']) == \
        ('input', 'none', False, 0), dict(info)
    assert info['Used'] is True


def test_release(gpio, chips):
    client = gpio.client()
    a = chips.a
    rid = client.request_lines(a.name, [0, 1], Direction='output', Values=ai([1, 1]))['Request']
    rid2 = client.request_lines(a.name, [2], Direction='input')['Request']
    assert rid2 != rid
    assert client.ok('Release', Request=u(rid))['Status'] == 'ok'
    assert free(client, a, [0, 1])
    assert client.line_info(2, a.name)['Used'] is True, 'Release freed another request'
    for action, extra in (('Read', {}), ('Write', {'Values': ai([0, 0])}),
                          ('Reconfigure', {}), ('Release', {})):
        check_error(client.request(action, Request=u(rid), **extra), 'unknown-request',
                    '%s of a released request' % action)
    # The lines can be requested again.
    client.request_lines(a.name, [0, 1], Direction='input')


def test_second_request_of_a_line_is_busy(gpio, chips):
    owner = gpio.client()
    other = gpio.client(BOB)
    owner.request_lines(chips.a.name, [3], Direction='input', Consumer='door-sensor')
    before = [other.line_info(o, chips.a.name)['Used'] for o in range(8)]
    msg = check_error(other.request('Request', Chip=chips.a.name, Lines=au([2, 3])),
                      'line-busy', 'Request of a held line')
    assert 'door-sensor' in msg, 'the message names the consumer: %r' % msg
    assert '3' in msg or 'button' in msg, 'the message names the line: %r' % msg
    # The free line of the failed request is not held.
    assert [other.line_info(o, chips.a.name)['Used'] for o in range(8)] == before
    # The same connection cannot take it twice either.
    msg = check_error(owner.request('Request', Lines=as_(['button'])), 'line-busy',
                      'second Request of a held line by its owner')
    assert 'door-sensor' in msg, msg


# ---- ownership ----------------------------------------------------------------------------------

def test_another_connection_cannot_use_the_id(gpio, chips):
    owner = gpio.client()
    same_process = gpio.client(peer=owner.peer)
    assert same_process.path != owner.path
    stranger = gpio.client(BOB)
    rid = owner.request_lines(chips.a.name, [0], Direction='output', Values=ai([1]))['Request']
    for other in (same_process, stranger):
        for action, extra in (('Read', {}), ('Write', {'Values': ai([0])}),
                              ('Reconfigure', {'Direction': 'input'}), ('Release', {})):
            check_error(other.request(action, Request=u(rid), **extra), 'unknown-request',
                        '%s of another connection\'s request by %s' % (action, other.path))
    assert chips.a.value(0) == 1
    info = owner.line_info(0, chips.a.name)
    assert (info['Used'], info['Direction']) == (True, 'output')
    assert owner.read(rid) == [1]


def test_ids_are_per_connection(gpio, chips):
    first = gpio.client()
    second = gpio.client(BOB)
    r1 = first.request_lines(chips.a.name, [0], Direction='output', Values=ai([0]))['Request']
    r2 = second.request_lines(chips.b.name, [0], Direction='output', Values=ai([0]))['Request']
    assert r1 == r2, 'each connection counts its own ids: first ids %d and %d' % (r1, r2)
    # The same number means each connection's own request.
    second.ok('Write', Request=u(r2), Values=ai([1]))
    assert (chips.a.value(0), chips.b.value(0)) == (0, 1)
    first.ok('Write', Request=u(r1), Values=ai([1]))
    second.ok('Release', Request=u(r2))
    assert first.line_info(0, chips.a.name)['Used'] is True
    assert first.line_info(0, chips.b.name)['Used'] is False
    assert first.read(r1) == [1]


def test_close_releases_the_lines(gpio, chips):
    owner = gpio.client()
    watcher = gpio.client(BOB)
    owner.request_lines(chips.a.name, [0, 1], Direction='output', Values=ai([1, 1]))
    owner.request_lines(chips.b.name, [2, 3], Direction='input', Edge='both')
    owner.close()
    gpio.wait_for(lambda: free(watcher, chips.a, [0, 1]) and free(watcher, chips.b, [2, 3]),
                  'the lines of the closed connection to be free')
    watcher.request_lines(chips.a.name, [0, 1], Direction='input')
    watcher.request_lines(chips.b.name, [2, 3], Direction='output')
    # The owner's process may open again and use other lines.
    again = gpio.client(peer=owner.peer)
    again.request_lines(chips.a.name, [4], Direction='input')


def test_vanished_client_releases_the_lines(gpio, chips):
    owner = gpio.client()
    watcher = gpio.client(BOB)
    owner.request_lines(chips.a.name, [5, 6, 7], Direction='output', Values=ai([1, 0, 1]))
    owner.request_lines(chips.b.name, [1], Direction='input', Edge='rising')
    owner.peer.kill(9)
    gpio.wait_for(lambda: free(watcher, chips.a, [5, 6, 7]) and free(watcher, chips.b, [1]),
                  'the lines of the killed client to be free')
    watcher.request_lines(chips.a.name, [5, 6, 7], Direction='output', Values=ai([0, 0, 0]))
    assert [chips.a.value(o) for o in (5, 6, 7)] == [0, 0, 0]


def test_max_requests_limit(gpio, chips):
    gpio.start({'MaxRequests': '2'})
    client = gpio.client()
    other = gpio.client(BOB)
    r1 = client.request_lines(chips.a.name, [0])['Request']
    client.request_lines(chips.a.name, [1])
    check_error(client.request('Request', Chip=chips.a.name, Lines=au([2])), 'limit',
                'a third Request with MaxRequests=2')
    assert client.line_info(2, chips.a.name)['Used'] is False
    # Per connection: another one still may.
    other.request_lines(chips.a.name, [3])
    client.ok('Release', Request=u(r1))
    client.request_lines(chips.a.name, [2])
