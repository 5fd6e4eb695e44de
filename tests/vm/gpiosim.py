# SPDX-License-Identifier: LGPL-2.1-or-later
"""gpio-sim chips for tests inside the tests/vm guest: made through configfs, driven through
sysfs, the way libgpiod's own tests make real kernel GPIO chips and edges without hardware.

    with gpiosim.Chip(num_lines=8, names={0: 'led0', 3: 'button'}, label='test-chip') as chip:
        chip.name        # 'gpiochip0': /dev/gpiochip0
        chip.pull(3, 'pull-up')    # an input line sees a rising edge
        chip.value(0)    # what a requested output line drives, 0 or 1

Needs root, configfs at /sys/kernel/config and the gpio-sim module (tests/vm/run-vm loads both).
"""

import itertools
import os
import time

CONFIGFS = '/sys/kernel/config/gpio-sim'
_counter = itertools.count()


def _write(path, text):
    with open(path, 'w') as f:
        f.write(text)


def _read(path):
    with open(path) as f:
        return f.read().strip()


class Chip:
    """One gpio-sim device with one bank: one /dev/gpiochipN."""

    def __init__(self, num_lines=8, names=None, label=None):
        self._dir = os.path.join(CONFIGFS, f'sim{os.getpid()}-{next(_counter)}')
        self._bank = os.path.join(self._dir, 'bank0')
        self._lines = []
        os.mkdir(self._dir)
        try:
            os.mkdir(self._bank)
            _write(os.path.join(self._bank, 'num_lines'), str(num_lines))
            if label is not None:
                _write(os.path.join(self._bank, 'label'), label)
            for offset, name in (names or {}).items():
                line = os.path.join(self._bank, f'line{offset}')
                os.mkdir(line)
                self._lines.append(line)
                _write(os.path.join(line, 'name'), name)
            _write(os.path.join(self._dir, 'live'), '1')
        except BaseException:
            self._remove_dirs()
            raise
        self.num_lines = num_lines
        self.label = label
        self.name = _read(os.path.join(self._bank, 'chip_name'))
        self.path = '/dev/' + self.name
        self._sysfs = os.path.join('/sys/devices/platform', _read(os.path.join(self._dir, 'dev_name')),
                                   self.name)
        # The device node comes from devtmpfs, a moment after `live`.
        for _ in range(200):
            if os.path.exists(self.path):
                break
            time.sleep(0.01)

    def pull(self, offset, pull):
        """Pulls line OFFSET 'pull-up' or 'pull-down': an input line follows, with an edge."""
        _write(os.path.join(self._sysfs, f'sim_gpio{offset}', 'pull'), pull)

    def value(self, offset):
        """The line's value as the simulated pin sees it: what an output drives, 0 or 1."""
        return int(_read(os.path.join(self._sysfs, f'sim_gpio{offset}', 'value')))

    def remove(self):
        """Takes the chip away (its /dev node disappears); safe to call twice."""
        if self._dir is None:
            return
        live = os.path.join(self._dir, 'live')
        if os.path.exists(live) and _read(live) == '1':
            _write(live, '0')
        self._remove_dirs()

    def _remove_dirs(self):
        for line in reversed(self._lines):
            os.rmdir(line)
        self._lines = []
        if os.path.isdir(self._bank):
            os.rmdir(self._bank)
        os.rmdir(self._dir)
        self._dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
