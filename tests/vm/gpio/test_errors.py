# SPDX-License-Identifier: LGPL-2.1-or-later
"""io.appservice.gpio: requests that are wrong get the error codes of the README, with a message
that names what was wrong, and a failed request changes nothing (no line left held)."""

import pytest

from conftest import GLib, ai, as_, au, av, check_error, i, t, u


def held(client, chips):
    """Which lines of both chips are in use, as [(chip, offset)]."""
    out = []
    for chip in (chips.a, chips.b):
        for o in range(chip.num_lines):
            if client.line_info(o, chip.name)['Used']:
                out.append((chip.name, o))
    return out


@pytest.fixture
def c(gpio, chips):
    client = gpio.client()
    client.chips = chips
    return client


def test_unknown_action(c):
    msg = check_error(c.request('Frobnicate'), 'unknown-action')
    assert 'Frobnicate' in msg, msg
    check_error(c.request('listchips'), 'unknown-action', 'Action in the wrong case')


def test_missing_action(c):
    msg = check_error(c.request(None, Chip=c.chips.a.name), 'invalid-argument', 'no Action')
    assert 'Action' in msg, msg
    check_error(c.send_raw([]), 'invalid-argument', 'an empty ValueSet')


def check_all(cases, check):
    """Runs check(*case) for every case and reports every case that failed, not only the
    first."""
    failures = []
    for case in cases:
        try:
            check(*case)
        except AssertionError as e:
            failures.append('%r: %s' % (case, str(e).splitlines()[0]))
    assert not failures, '%d of %d cases failed:\n%s' % (len(failures), len(cases),
                                                         '\n'.join(failures))


WRONG_TYPES = [
    (None, {'Action': u(1)}, 'Action'),
    ('GetLineInfo', {'Line': True}, 'Line'),
    ('GetLineInfo', {'Line': t(1), 'Chip': 'CHIP_A'}, 'Line'),
    ('GetLineInfo', {'Line': u(1), 'Chip': u(0)}, 'Chip'),
    ('Request', {'Chip': 'CHIP_A', 'Lines': u(1)}, 'Lines'),
    ('Request', {'Chip': 'CHIP_A', 'Lines': GLib.Variant('ai', [1])}, 'Lines'),
    ('Request', {'Chip': 'CHIP_A', 'Lines': av([GLib.Variant('b', True)])}, 'Lines'),
    ('Request', {'Chip': 'CHIP_A', 'Lines': au([1]), 'Direction': u(1)}, 'Direction'),
    ('Request', {'Chip': 'CHIP_A', 'Lines': au([1]), 'Edge': True}, 'Edge'),
    ('Request', {'Chip': 'CHIP_A', 'Lines': au([1]), 'Bias': i(1)}, 'Bias'),
    ('Request', {'Chip': 'CHIP_A', 'Lines': au([1]), 'Direction': 'output', 'Drive': u(0)},
     'Drive'),
    ('Request', {'Chip': 'CHIP_A', 'Lines': au([1]), 'ActiveLow': 'yes'}, 'ActiveLow'),
    ('Request', {'Chip': 'CHIP_A', 'Lines': au([1]), 'DebounceUs': 'slow'}, 'DebounceUs'),
    ('Request', {'Chip': 'CHIP_A', 'Lines': au([1]), 'DebounceUs': i(10)}, 'DebounceUs'),
    ('Request', {'Chip': 'CHIP_A', 'Lines': au([1]), 'Direction': 'output',
                 'Values': au([1])}, 'Values'),
    ('Request', {'Chip': 'CHIP_A', 'Lines': au([1]), 'Direction': 'output',
                 'Values': as_(['1'])}, 'Values'),
    ('Request', {'Chip': 'CHIP_A', 'Lines': au([1]), 'Consumer': u(7)}, 'Consumer'),
    ('Read', {'Request': 'one'}, 'Request'),
    ('Read', {'Request': t(1)}, 'Request'),
    ('Release', {'Request': i(1)}, 'Request'),
]


def test_wrong_type_names_the_key(c):
    def check(action, keys, key):
        keys = {k: (c.chips.a.name if v == 'CHIP_A' else v) for k, v in keys.items()}
        msg = check_error(c.request(action, **keys), 'invalid-argument',
                          '%s with %s of the wrong type' % (action, key))
        assert key in msg, 'the message should name %s: %r' % (key, msg)
    check_all(WRONG_TYPES, check)
    assert held(c, c.chips) == []


MISSING_KEYS = [
    ('GetLineInfo', {}, 'Line'),
    ('GetLineInfo', {'Line': u(1)}, 'Chip'),
    ('Request', {'Chip': 'CHIP_A'}, 'Lines'),
    ('Request', {'Lines': au([1])}, 'Chip'),
    ('Read', {}, 'Request'),
    ('Write', {'Values': ai([1])}, 'Request'),
    ('Reconfigure', {}, 'Request'),
    ('Release', {}, 'Request'),
]


def test_missing_key_names_it(c):
    def check(action, keys, key):
        keys = {k: (c.chips.a.name if v == 'CHIP_A' else v) for k, v in keys.items()}
        msg = check_error(c.request(action, **keys), 'invalid-argument',
                          '%s without %s' % (action, key))
        assert key in msg, 'the message should name %s: %r' % (key, msg)
    check_all(MISSING_KEYS, check)
    assert held(c, c.chips) == []


def test_write_without_values(c):
    rid = c.request_lines(c.chips.a.name, [0], Direction='output')['Request']
    msg = check_error(c.request('Write', Request=u(rid)), 'invalid-argument', 'Write, no Values')
    assert 'Values' in msg, msg


BAD_SETTINGS = [
    ('Direction', 'sideways', 'output'),
    ('Direction', 'Input', 'input'),
    ('Edge', 'up', 'rising'),
    ('Bias', 'pull-sideways', 'pull-up'),
    ('Drive', 'open-collector', 'open-drain'),
]


def test_unknown_setting_value(c):
    rid = c.request_lines(c.chips.a.name, [4], Direction='input')['Request']

    def check(key, value, accepted):
        keys = {key: value}
        if key == 'Drive':
            keys['Direction'] = 'output'
        msg = check_error(c.request('Request', Chip=c.chips.a.name, Lines=au([1, 2]), **keys),
                          'invalid-argument', '%s=%s' % (key, value))
        assert key in msg, 'the message names the key: %r' % msg
        assert accepted in msg, 'the message says what %s accepts: %r' % (key, msg)
        # And in Reconfigure, where the request stays as it was.
        msg = check_error(c.request('Reconfigure', Request=u(rid), **keys), 'invalid-argument',
                          'Reconfigure %s=%s' % (key, value))
        assert key in msg, msg
    check_all(BAD_SETTINGS, check)
    assert held(c, c.chips) == [(c.chips.a.name, 4)]
    info = c.line_info(4, c.chips.a.name)
    assert (info['Direction'], info['Edge']) == ('input', 'none')


def test_unknown_chip(c):
    msg = check_error(c.request('GetLineInfo', Chip='gpiochip999', Line=u(0)), 'unknown-chip')
    assert 'gpiochip999' in msg, msg
    check_error(c.request('GetLineInfo', Chip='/dev/gpiochip999', Line=u(0)), 'unknown-chip')
    check_error(c.request('GetLineInfo', Chip='no-such-label', Line='led0'), 'unknown-chip')
    msg = check_error(c.request('Request', Chip='no-such-label', Lines=au([0])), 'unknown-chip')
    assert 'no-such-label' in msg, msg
    check_error(c.request('Request', Chip='/dev/null', Lines=au([0])), 'unknown-chip',
                'a path that is not a chip')
    assert held(c, c.chips) == []


def test_unknown_line(c):
    a, b = c.chips.a, c.chips.b
    check_error(c.request('GetLineInfo', Chip=a.name, Line=u(8)), 'unknown-line',
                'offset past the end')
    check_error(c.request('GetLineInfo', Chip=b.name, Line=u(4)), 'unknown-line')
    check_error(c.request('GetLineInfo', Chip=b.name, Line=u(0xffffffff)), 'unknown-line')
    msg = check_error(c.request('GetLineInfo', Line='no-such-line'), 'unknown-line')
    assert 'no-such-line' in msg, msg
    check_error(c.request('GetLineInfo', Chip=b.name, Line='led0'), 'unknown-line',
                'a name of another chip')
    check_error(c.request('Request', Chip=a.name, Lines=au([0, 8])), 'unknown-line',
                'Request with an offset past the end')
    check_error(c.request('Request', Lines=as_(['led0', 'no-such-line'])), 'unknown-line')
    check_error(c.request('Request', Chip=a.name, Lines=av([u(1), 'relay'])), 'unknown-line')
    assert held(c, c.chips) == []


def test_lines_on_two_chips(c):
    msg = check_error(c.request('Request', Lines=as_(['led0', 'relay'])), 'invalid-argument',
                      'one Request for lines on two chips')
    assert 'Lines' in msg or 'chip' in msg, msg
    assert held(c, c.chips) == []


def test_empty_lines(c):
    check_error(c.request('Request', Chip=c.chips.a.name, Lines=au([])), 'invalid-argument',
                'Request of no line')
    assert held(c, c.chips) == []


def test_request_values_that_do_not_match(c):
    a = c.chips.a
    for values in ([1], [1, 0, 1], [1, 2], [0, -1]):
        msg = check_error(c.request('Request', Chip=a.name, Lines=au([0, 1]),
                                    Direction='output', Values=ai(values)),
                          'invalid-argument', 'Request with Values %s for 2 lines' % values)
        assert 'Values' in msg, msg
        assert held(c, c.chips) == []
        assert (a.value(0), a.value(1)) == (0, 0)


def test_write_values_that_do_not_match(c):
    a = c.chips.a
    rid = c.request_lines(a.name, [0, 1], Direction='output', Values=ai([1, 0]))['Request']
    for values in ([], [1], [0, 1, 1], [2, 0], [1, -1]):
        msg = check_error(c.request('Write', Request=u(rid), Values=ai(values)),
                          'invalid-argument', 'Write of %s on 2 lines' % values)
        assert 'Values' in msg, msg
        assert (a.value(0), a.value(1)) == (1, 0), 'a failed Write changed the pins'


def test_reconfigure_values_that_do_not_match(c):
    a = c.chips.a
    rid = c.request_lines(a.name, [2, 3], Direction='input', Edge='rising')['Request']
    check_error(c.request('Reconfigure', Request=u(rid), Direction='output', Values=ai([1])),
                'invalid-argument', 'Reconfigure with 1 value for 2 lines')
    info = c.line_info(2, a.name)
    assert (info['Direction'], info['Edge']) == ('input', 'rising'), \
        'a failed Reconfigure changed the lines: %r' % dict(info)
    a.pull(3, 'pull-up')
    assert c.read(rid) == [0, 1]


def test_write_on_inputs_is_not_output(c):
    rid = c.request_lines(c.chips.b.name, [0, 1], Direction='input')['Request']
    check_error(c.request('Write', Request=u(rid), Values=ai([1, 1])), 'not-output')
    assert (c.chips.b.value(0), c.chips.b.value(1)) == (0, 0)


def test_unknown_request_id(c):
    for action, extra in (('Read', {}), ('Write', {'Values': ai([1])}),
                          ('Reconfigure', {}), ('Release', {})):
        check_error(c.request(action, Request=u(4242), **extra), 'unknown-request', action)


def test_consumer_too_long(c):
    msg = check_error(c.request('Request', Chip=c.chips.a.name, Lines=au([0]),
                                Consumer='c' * 32), 'invalid-argument', '32-byte Consumer')
    assert 'Consumer' in msg, msg
    assert held(c, c.chips) == []


def test_settings_that_do_not_fit_the_direction_fail_cleanly(c):
    # Edge is for inputs, Drive and Values for outputs, DebounceUs for inputs: whatever code
    # the service picks, the request fails and holds nothing.
    a = c.chips.a
    for keys in ({'Direction': 'output', 'Edge': 'both'},
                 {'Direction': 'input', 'Drive': 'open-drain'}):
        resp = c.request('Request', Chip=a.name, Lines=au([0, 1]), **keys)
        check_error(resp, ('invalid-argument', 'io'), 'Request with %r' % keys)
        assert held(c, c.chips) == []


def test_duplicate_line_in_one_request(c):
    for lines in (au([1, 1]), av([u(3), 'button'])):
        resp = c.request('Request', Chip=c.chips.a.name, Lines=lines)
        check_error(resp, ('invalid-argument', 'line-busy', 'io'), 'Request of one line twice')
        assert held(c, c.chips) == []


def test_service_still_works_after_errors(c):
    for _ in range(3):
        check_error(c.request('Nope'), 'unknown-action')
        check_error(c.request('Read', Request=u(77)), 'unknown-request')
    rid = c.request_lines(c.chips.a.name, [7], Direction='output', Values=ai([1]))['Request']
    assert c.chips.a.value(7) == 1
    c.ok('Release', Request=u(rid))
