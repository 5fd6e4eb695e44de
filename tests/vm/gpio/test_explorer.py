# SPDX-License-Identifier: LGPL-2.1-or-later
"""The explorer's GPIO panel (apps/explorer/gpio-panel.c) in the guest, on real gpio-sim chips:
the program from the build tree under Xvfb with its own session bus (tests/explorer/xsession.py),
as gpio-alice (an unprivileged member of gpio, as any user of the service), against the broker
and the service as the other tests here start them. It is driven by its window actions
(gpio-request-output, gpio-set-output, gpio-request-input, show-service) and read through
AT-SPI; the lines are checked on the simulated chip itself (gpio-sim's sysfs) and through the
service from another client. Screenshots of every step go to
$APPSERVICE_SCREENSHOT_DIR/gpio-panel (default: run-vm's output share, /vm-out/screenshots,
which meson's vm-gpio keeps as build/tests/vm/vm-gpio-out)."""

import os
import shutil
import sys

import pytest

from conftest import ALICE, BOB, BUILD_ROOT, SOURCE_ROOT

sys.path.insert(0, os.path.join(SOURCE_ROOT, 'tests', 'explorer'))
import xsession  # noqa: E402

from gi.repository import GLib  # noqa: E402

EXPLORER = (os.environ.get('APPSERVICE_EXPLORER') or
            os.path.join(BUILD_ROOT, 'apps', 'explorer', 'appservice-explorer'))
# The guest's root is a throwaway overlay: screenshots go to run-vm's output share (/vm-out).
SHOTS = os.path.join(os.environ.get('APPSERVICE_SCREENSHOT_DIR') or
                     ('/vm-out/screenshots' if os.access('/vm-out', os.W_OK) else
                      os.path.join(BUILD_ROOT, 'tests', 'explorer', 'screenshots')), 'gpio-panel')
WAIT = 20 * xsession.TIME_SCALE
# A walk of the whole window (every page of its stack) is thousands of AT-SPI calls, a minute
# under emulation: the panel is found once, and then only its own subtree is read.
WALK = 180 * xsession.TIME_SCALE


class Panel:
    """The explorer's GPIO panel: its window actions, and its texts read from its subtree."""

    def __init__(self, app):
        self.app = app
        # Both labels in one walk of the window (each walk is a minute under emulation).
        found = app.session.atspi.request({'op': 'find', 'pid': app.pid,
                                           'match': {'name_in': ['Edges', 'Lines'],
                                                     'role': 'label'}}, WALK)
        edges = [n for n in found if n['name'] == 'Edges']
        lines = [n for n in found if n['name'] == 'Lines']
        assert len(edges) == 1 and len(lines) == 1, (edges, lines)
        common = []
        for a, b in zip(edges[0]['path'], lines[0]['path']):
            if a != b:
                break
            common.append(a)
        self.root = common[:-1]  # the panel's page: its status line and both sides

    def activate(self, *args, **kw):
        return self.app.activate(*args, **kw)

    def texts(self):
        return self.app.session.atspi.texts(self.app.pid, timeout=WALK, root=self.root)

    def wait_text(self, *wanted, timeout=WAIT):
        """Waits until each of `wanted` is in some text of the panel, all in one walk (a walk
        takes seconds under emulation: several waits in a row would walk as many times)."""
        def found():
            texts = self.texts()
            return all(any(w in t for t in texts) for w in wanted)
        return xsession.wait_for(found, timeout, 'the texts %r in the GPIO panel' % (wanted,))

    def screenshot(self, path):
        return self.app.screenshot(path)


@pytest.fixture
def panel(gpio, chips):
    """The explorer as gpio-alice, showing its GPIO panel on chips A and B."""
    if not os.access(EXPLORER, os.X_OK):
        pytest.skip('the explorer was not built (%s)' % EXPLORER)
    missing = xsession.missing_tools()
    if missing:
        pytest.skip('not installed: %s' % ', '.join(missing))
    gpio.start()
    uid, gid, groups = gpio.guest.users[ALICE]
    # A directory of its own under /tmp (pytest's are root's alone): the session runs as uid.
    session = xsession.XSession(None, uid=uid, gid=gid)
    session.start()
    # The session's uid with the user's groups (the session's own start drops them): the
    # broker's AllowGroups=gpio is what lets the panel in.
    argv = [xsession.SETPRIV, '--reuid=%d' % uid, '--regid=%d' % gid,
            '--groups=' + ','.join(str(g) for g in groups), '--inh-caps=-all', '--', EXPLORER]
    app = session.start_app(argv, env={'DBUS_SYSTEM_BUS_ADDRESS': gpio.bus.address},
                            name='explorer', uid=0, gid=0)
    shutil.rmtree(SHOTS, ignore_errors=True)
    os.makedirs(SHOTS)
    app.activate('show-gpio')
    try:
        yield Panel(app)
    finally:
        alive = app.running()
        stderr = app.stderr()
        session.stop()
        assert alive, 'the explorer died:\n' + stderr[-4000:]
        assert 'CRITICAL' not in stderr, stderr[-4000:]


def shot(app, step):
    image = app.screenshot(os.path.join(SHOTS, step + '.png'))
    assert not image.is_blank(), step


def wait_value(chip, offset, want):
    return xsession.wait_for(lambda: chip.value(offset) == want, WAIT,
                             '%s line %d at %d' % (chip.name, offset, want))


def test_panel_drives_an_output_watches_an_input_and_releases(panel, gpio, chips):
    a = chips.a.name
    # The chips' lines, as the service describes them.
    panel.wait_text('%s 3 button — free' % a, '%s 0 relay — free' % chips.b.name)
    shot(panel, '1-lines')

    # An output: the switch drives the simulated pin, both ways.
    panel.activate('gpio-request-output', GLib.Variant('s', '%s 1' % a))
    panel.wait_text('Output %s 1' % a, '%s 1 led1 — used by appservice-explorer' % a)
    assert chips.a.value(1) == 0
    panel.activate('gpio-set-output', GLib.Variant('b', True))
    wait_value(chips.a, 1, 1)
    shot(panel, '2-output-on')
    panel.activate('gpio-set-output', GLib.Variant('b', False))
    wait_value(chips.a, 1, 0)

    # An input: holding it releases the output; pulls show as edges and as the level.
    chips.a.pull(3, 'pull-down')
    panel.activate('gpio-request-input', GLib.Variant('s', '%s 3' % a))
    panel.wait_text('Input %s 3' % a, 'Level 0', '%s 1 led1 — free' % a)
    chips.a.pull(3, 'pull-up')
    panel.wait_text('rising on %s 3' % a, 'Level 1')
    chips.a.pull(3, 'pull-down')
    panel.wait_text('falling on %s 3' % a, 'Level 0')
    shot(panel, '3-input-edges')

    # Leaving the panel closes its connection: the service releases the line.
    client = gpio.client(BOB)
    assert client.line_info(3, chip=a)['Used'] is True
    panel.activate('show-service')
    xsession.wait_for(lambda: client.line_info(3, chip=a)['Used'] is False, WAIT,
                      'line 3 released when the panel is hidden')
    shot(panel, '4-panel-left')
    client.close()


def test_panel_without_the_right_to_open(gpio, chips):
    """A user outside gpio: the panel says why in words, and nothing is held."""
    if not os.access(EXPLORER, os.X_OK):
        pytest.skip('the explorer was not built (%s)' % EXPLORER)
    gpio.start()
    uid, gid, groups = gpio.guest.users['gpio-eve']
    # A directory of its own under /tmp (pytest's are root's alone): the session runs as uid.
    session = xsession.XSession(None, uid=uid, gid=gid)
    session.start()
    try:
        app = session.start_app([EXPLORER], env={'DBUS_SYSTEM_BUS_ADDRESS': gpio.bus.address},
                                name='explorer')
        app.activate('show-gpio')
        panel = Panel(app)
        panel.wait_text('Cannot reach the GPIO service.')
        texts = '\n'.join(panel.texts())
        assert 'NotAuthorized' in texts, texts
        assert 'button — ' not in texts
        os.makedirs(SHOTS, exist_ok=True)
        image = app.screenshot(os.path.join(SHOTS, '5-not-authorized.png'))
        assert not image.is_blank()
    finally:
        session.stop()
