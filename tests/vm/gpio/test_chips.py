# SPDX-License-Identifier: LGPL-2.1-or-later
"""io.appservice.gpio: the setup as on a device (user, group, udev rule, activation as
appservice-gpio, AllowGroups=), ListChips, GetLineInfo, and chips that come and go."""

import glob
import grp
import os
import re
import stat

import pytest

from client import proc_status
from conftest import (ALICE, BOB, EVE, GPIO_GROUP, SERVICE, SERVICE_USER, ai, check_error, t, u)


def dev_number(name):
    return int(re.match(r'^gpiochip(\d+)$', name).group(1))


# ---- the setup ----------------------------------------------------------------------------------

def test_udev_rule_gives_chips_to_group_gpio(guest, sim):
    assert guest.udev_error is None, guest.udev_error
    chip = sim.chip(4, label='udev-check')
    st = os.stat(chip.path)
    assert stat.S_ISCHR(st.st_mode)
    assert grp.getgrgid(st.st_gid).gr_name == GPIO_GROUP, \
        '%s has group %s, not gpio' % (chip.path, grp.getgrgid(st.st_gid).gr_name)
    assert stat.S_IMODE(st.st_mode) == 0o660, oct(stat.S_IMODE(st.st_mode))
    assert st.st_uid == 0


def test_provider_runs_as_its_own_user(gpio, chips, guest):
    gpio.client().list_chips()
    pid = gpio.provider_pid()
    status = proc_status(pid)
    uid = guest.service_uid
    assert status['Uid'] == [str(uid)] * 4, status['Uid']
    svc_gid = grp.getgrnam(SERVICE_USER).gr_gid
    assert status['Gid'] == [str(svc_gid)] * 4, status['Gid']
    groups = status.get('Groups', [])
    assert str(guest.gpio_gid) in groups, 'not in group gpio: %s' % groups
    assert '0' not in groups, groups
    assert status['CapEff'] == ['0000000000000000'], status['CapEff']
    with open('/proc/%d/cmdline' % pid, 'rb') as f:
        argv0 = f.read().split(b'\0')[0].decode()
    assert os.path.basename(argv0) == 'appservice-gpio', argv0


def test_member_of_gpio_may_open(gpio, chips):
    gpio.client(ALICE).list_chips()
    gpio.client(BOB).list_chips()


def test_user_not_in_gpio_is_not_authorized(gpio, chips):
    gpio.client(ALICE)  # the broker runs and the service is there
    eve = gpio.spawn(EVE)
    eve.open(SERVICE).wait().expect_error('NotAuthorized')


# ---- ListChips ----------------------------------------------------------------------------------

def test_list_chips(gpio, sim):
    a = sim.chip(8, {0: 'led0'}, 'list-a')
    b = sim.chip(4, None, 'list-b')
    c = sim.chip(16, {15: 'last'}, 'list-c')
    chips = gpio.client().list_chips()
    for entry in chips:
        entry.check_types({'Name': 's', 'Label': 's', 'Path': 's', 'Lines': 'u'})
    names = [e['Name'] for e in chips]
    assert names == sorted(names, key=dev_number), 'not in device order: %s' % names
    on_dev = sorted((os.path.basename(p) for p in glob.glob('/dev/gpiochip*')), key=dev_number)
    assert names == on_dev, 'ListChips %s, /dev has %s' % (names, on_dev)
    by_name = {e['Name']: e for e in chips}
    for chip, lines in ((a, 8), (b, 4), (c, 16)):
        e = by_name[chip.name]
        assert e['Label'] == chip.label
        assert e['Path'] == chip.path
        assert e['Lines'] == lines


def test_chip_added_while_running_is_listed(gpio, sim):
    a = sim.chip(4, None, 'before')
    client = gpio.client()
    assert a.name in [e['Name'] for e in client.list_chips()]
    b = sim.chip(6, {1: 'hotplugged'}, 'added-later')

    def listed():
        return {e['Name']: e for e in client.list_chips()}.get(b.name)
    e = gpio.wait_for(listed, 'the new chip %s in ListChips' % b.name)
    assert e['Label'] == 'added-later' and e['Lines'] == 6 and e['Path'] == b.path
    # And its lines can be used.
    info = client.line_info('hotplugged')
    assert (info['Chip'], info['Offset']) == (b.name, 1)
    req = client.request_lines(b.name, [1], Direction='output', Values=ai([1]))
    assert b.value(1) == 1
    client.ok('Release', Request=u(req['Request']))


@pytest.mark.removes_chip
def test_chip_removed_while_held_releases_and_tells_the_owner(gpio, sim):
    keep = sim.chip(4, None, 'stays')
    gone = sim.chip(4, {2: 'doomed'}, 'goes-away')
    owner = gpio.client()
    # Without edge detection: on the guest's kernel (6.1), freeing the interrupt of a line
    # whose gpio-sim chip is gone corrupts the kernel's memory; not the service's doing.
    req = owner.request_lines(gone.name, [1, 2], Direction='output', Values=ai([1, 0]))
    rid = req['Request']
    other = owner.request_lines(keep.name, [0], Direction='input')
    sim.remove(gone)

    ev = owner.wait_message(lambda m: m.get('Event') == 'released')
    ev.check_types({'Event': 's', 'Request': 'u', 'Chip': 's', 'Reason': 's'})
    assert ev['Request'] == rid
    assert ev['Chip'] == gone.name
    assert ev['Reason'] == 'chip-removed'

    names = [e['Name'] for e in owner.list_chips()]
    assert gone.name not in names and keep.name in names, names
    # The released request is gone; the one on the other chip is not.
    check_error(owner.request('Read', Request=u(rid)), 'unknown-request', 'Read after removal')
    assert owner.read(other['Request']) == [0]
    check_error(owner.request('GetLineInfo', Line='doomed'), 'unknown-line',
                'GetLineInfo of a removed chip\'s line')
    check_error(owner.request('GetLineInfo', Chip=gone.name, Line=u(0)), 'unknown-chip',
                'GetLineInfo on a removed chip')


# ---- GetLineInfo --------------------------------------------------------------------------------

def test_line_info_of_a_free_line(gpio, chips):
    client = gpio.client()
    info = client.line_info(3, chips.a.name)
    assert info['Chip'] == chips.a.name
    assert info['Offset'] == 3
    assert info['Name'] == 'button'
    assert info['Used'] is False
    assert info['Consumer'] == ''
    assert info['Direction'] == 'input'
    assert info['Edge'] == 'none'
    assert info['Bias'] in ('unknown', 'as-is'), info['Bias']
    assert info['Drive'] == 'push-pull'
    assert info['ActiveLow'] is False
    assert info['DebounceUs'] == 0
    # A line without a name.
    info = client.line_info(2, chips.a.name)
    assert info['Name'] == '' and info['Offset'] == 2


def test_line_info_by_name_across_chips(gpio, chips):
    client = gpio.client()
    info = client.line_info('relay')
    assert (info['Chip'], info['Offset'], info['Name']) == (chips.b.name, 0, 'relay')
    info = client.line_info('led1')
    assert (info['Chip'], info['Offset']) == (chips.a.name, 1)
    # 'shared' is on both: without Chip the lower device number wins, with Chip that chip's.
    assert dev_number(chips.a.name) < dev_number(chips.b.name)
    info = client.line_info('shared')
    assert (info['Chip'], info['Offset']) == (chips.a.name, 5)
    info = client.line_info('shared', chips.b.name)
    assert (info['Chip'], info['Offset']) == (chips.b.name, 2)


def test_chip_by_name_path_or_label(gpio, chips):
    client = gpio.client()
    for chip in (chips.b.name, chips.b.path, chips.b.label):
        info = client.line_info(0, chip)
        assert (info['Chip'], info['Offset'], info['Name']) == (chips.b.name, 0, 'relay'), chip
        info = client.line_info('shared', chip)
        assert (info['Chip'], info['Offset']) == (chips.b.name, 2), chip


def test_line_info_of_requested_lines(gpio, chips):
    owner = gpio.client()
    viewer = gpio.client(BOB)
    owner.request_lines(chips.a.name, [0], Direction='output', Drive='open-drain',
                        ActiveLow=True, Values=ai([0]), Consumer='blinker')
    owner.request_lines(chips.a.name, ['button'], Direction='input', Edge='rising',
                        Bias='pull-down', DebounceUs=t(1000))
    owner.request_lines(chips.b.name, [1, 3], Direction='input', Edge='both', Bias='pull-up')
    owner.request_lines(chips.b.name, [2], Direction='output', Drive='open-source',
                        Bias='disabled', Values=ai([1]))

    info = viewer.line_info('led0')
    assert info['Used'] is True
    assert info['Consumer'] == 'blinker'
    assert info['Direction'] == 'output'
    assert info['Drive'] == 'open-drain'
    assert info['ActiveLow'] is True
    assert info['Edge'] == 'none'

    info = viewer.line_info(3, chips.a.name)
    assert info['Used'] is True
    assert info['Consumer'] == 'appservice-gpio', 'the default consumer: %r' % info['Consumer']
    assert info['Direction'] == 'input'
    assert info['Edge'] == 'rising'
    assert info['Bias'] == 'pull-down'
    assert info['ActiveLow'] is False
    assert info['DebounceUs'] == 1000

    for offset in (1, 3):
        info = viewer.line_info(offset, chips.b.name)
        assert (info['Used'], info['Direction'], info['Edge'], info['Bias']) == \
            (True, 'input', 'both', 'pull-up'), dict(info)

    info = viewer.line_info('shared', chips.b.name)
    assert (info['Direction'], info['Drive'], info['Bias']) == \
        ('output', 'open-source', 'disabled'), dict(info)

    # The lines nobody asked for are still free.
    for offset in (1, 2, 4, 5, 6, 7):
        assert viewer.line_info(offset, chips.a.name)['Used'] is False, offset
    assert viewer.line_info(0, chips.b.name)['Used'] is False
