# SPDX-License-Identifier: LGPL-2.1-or-later
"""A desktop session for testing a GTK 4 program without a display: Xvfb, a private session
dbus-daemon (with the standard service dirs, so that GTK's first accessibility call activates
at-spi-bus-launcher), the program itself as any uid, and ways to see and drive it:

  * its window actions (org.gtk.Actions, exported by GApplication on the session bus);
  * its widget tree through AT-SPI, read by a helper process of this file (`--atspi-agent`),
    one per session: libatspi keeps one accessibility bus per process for its whole life, and
    every session has its own bus;
  * screenshots from Xvfb's framebuffer file (an XWD image, `-fbdir`) written as PNG with zlib;
  * keys and text typed with xdotool.

Only the Python standard library and PyGObject (Gio, GLib; Atspi in the agent) are needed, so
the module works on the host (tests/explorer) and in the QEMU guest (tests/vm). Nothing here
sleeps to synchronise: every wait polls a condition until a deadline (scaled by
APPSERVICE_TEST_TIME_SCALE, as tests/integration's client.py does).

    with XSession(workdir, uid=5, gid=60) as xs:
        app = xs.start_app([binary], env={'DBUS_SYSTEM_BUS_ADDRESS': address})
        app.activate('select-service', GLib.Variant('s', 'com.example.echo'))
        xs.atspi.wait_text('Connected to com.example.echo')
        xs.screenshot('/tmp/shot.png', crop=app.window_geometry())
"""

import json
import os
import secrets
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

TIME_SCALE = float(os.environ.get('APPSERVICE_TEST_TIME_SCALE', '1') or '1')
DEFAULT_WAIT = 10.0 * TIME_SCALE
PYTHON = '/usr/bin/python3' if os.access('/usr/bin/python3', os.X_OK) else sys.executable
XVFB = shutil.which('Xvfb') or '/usr/bin/Xvfb'
XDOTOOL = shutil.which('xdotool') or '/usr/bin/xdotool'
DBUS_DAEMON = shutil.which('dbus-daemon') or '/usr/bin/dbus-daemon'
SETPRIV = shutil.which('setpriv') or '/usr/bin/setpriv'
APP_ID = 'io.appservice.Explorer'
WINDOW_PATH = '/io/appservice/Explorer/window/1'


class SessionError(RuntimeError):
    pass


def wait_for(predicate, timeout=None, what='a condition', interval=0.05):
    """Polls predicate() until it returns something true (returned) or the deadline passes."""
    deadline = time.monotonic() + (DEFAULT_WAIT if timeout is None else timeout)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError('timed out waiting for %s' % what)
        time.sleep(interval)


def missing_tools(xdotool=True):
    """The programs a session needs that are not installed (empty: all there). xdotool is for
    keys and the window's geometry (App.window_geometry, App.screenshot); without it, take
    XSession.screenshot of the whole screen."""
    tools = (XVFB, DBUS_DAEMON) + ((XDOTOOL,) if xdotool else ())
    return [p for p in tools if not os.access(p, os.X_OK)]


def _as_user(argv, uid, gid):
    if uid is None:
        return list(argv)
    gid = uid if gid is None else gid
    return [SETPRIV, '--reuid=%d' % uid, '--regid=%d' % gid, '--clear-groups',
            '--inh-caps=-all', '--'] + list(argv)


def _descendants(pid):
    """Every live process below pid (read before killing: orphans are reparented)."""
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                stat = f.read()
        except OSError:
            continue
        # The command may hold spaces and parentheses: the fields start after the last ')'.
        ppid = int(stat[stat.rindex(')') + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _session_processes(address):
    """Live processes whose environment names this session bus: what the bus activated, even
    when it left the bus's process tree (at-spi-bus-launcher daemonizes)."""
    needle = ('DBUS_SESSION_BUS_ADDRESS=%s' % address).encode() + b'\0'
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open('/proc/%s/environ' % entry, 'rb') as f:
                if needle in f.read() + b'\0':
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(')') + 2] != 'Z'


def _terminate(pids, timeout=5.0):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _stop_popen(proc, timeout=5.0):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---- images -------------------------------------------------------------------------------------

class Image:
    """An RGB image: width, height and rows of bytes (3 bytes a pixel)."""

    def __init__(self, width, height, rows):
        self.width, self.height, self.rows = width, height, rows

    def crop(self, x, y, w, h):
        x, y = max(0, x), max(0, y)
        w, h = min(w, self.width - x), min(h, self.height - y)
        if w <= 0 or h <= 0:
            raise ValueError('crop %r is outside the %dx%d image' % ((x, y, w, h),
                                                                    self.width, self.height))
        return Image(w, h, [r[3 * x:3 * (x + w)] for r in self.rows[y:y + h]])

    def colours(self, limit=None):
        """The set of distinct colours (stops counting at limit)."""
        seen = set()
        for row in self.rows:
            for i in range(0, len(row), 3):
                seen.add(row[i:i + 3])
            if limit and len(seen) >= limit:
                break
        return seen

    def is_blank(self, min_colours=8):
        """True when the image has fewer than min_colours distinct colours: an empty screen or a
        window that has not drawn (rendered text alone gives dozens of shades)."""
        return len(self.colours(limit=min_colours)) < min_colours

    def png(self):
        def chunk(kind, data):
            return (struct.pack('>I', len(data)) + kind + data +
                    struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
        raw = b''.join(b'\x00' + bytes(r) for r in self.rows)  # filter type 0 on every row
        header = struct.pack('>IIBBBBB', self.width, self.height, 8, 2, 0, 0, 0)
        return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) +
                chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b''))

    def save_png(self, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(self.png())
        return path


XWD_FIELDS = ('header_size file_version pixmap_format pixmap_depth pixmap_width pixmap_height '
              'xoffset byte_order bitmap_unit bitmap_bit_order bitmap_pad bits_per_pixel '
              'bytes_per_line visual_class red_mask green_mask blue_mask bits_per_rgb '
              'colormap_entries ncolors window_width window_height window_x window_y '
              'window_bdrwidth').split()


def _shift(mask):
    n = 0
    while mask and not mask & 1:
        mask >>= 1
        n += 1
    return n


def read_xwd(path):
    """Xvfb's framebuffer file as an Image. The header is 25 CARD32 (big-endian), the window
    name, ncolors XWDColor entries of 12 bytes, then the pixels, in byte_order; a TrueColor
    visual of 24 bits at 32 bits a pixel is what `-screen 0 WxHx24` gives."""
    with open(path, 'rb') as f:
        data = f.read()
    h = dict(zip(XWD_FIELDS, struct.unpack('>25I', data[:100])))
    if h['file_version'] != 7:
        raise SessionError('%s: not an XWD version 7 file' % path)
    if h['bits_per_pixel'] not in (24, 32):
        raise SessionError('%s: %d bits a pixel is not handled' % (path, h['bits_per_pixel']))
    offset = h['header_size'] + 12 * h['ncolors']
    width, height, stride = h['pixmap_width'], h['pixmap_height'], h['bytes_per_line']
    bpp = h['bits_per_pixel'] // 8
    order = '<' if h['byte_order'] == 0 else '>'
    masks = [(h[m], _shift(h[m])) for m in ('red_mask', 'green_mask', 'blue_mask')]
    rows = []
    if bpp == 4 and order == '<' and [m for m, _ in masks] == [0xff0000, 0xff00, 0xff]:
        # The usual case, done with slices: B G R X bytes to R G B.
        for y in range(height):
            line = data[offset + y * stride: offset + y * stride + 4 * width]
            row = bytearray(3 * width)
            row[0::3], row[1::3], row[2::3] = line[2::4], line[1::4], line[0::4]
            rows.append(bytes(row))
        return Image(width, height, rows)
    for y in range(height):
        base = offset + y * stride
        row = bytearray()
        for x in range(width):
            px = int.from_bytes(data[base + bpp * x: base + bpp * (x + 1)],
                                'little' if order == '<' else 'big')
            for mask, shift in masks:
                v = (px & mask) >> shift
                top = mask >> shift
                row.append(v * 255 // top if top else 0)
        rows.append(bytes(row))
    return Image(width, height, rows)


def read_png(path):
    """A PNG written by Image.png() (8-bit RGB, any filter), for checks of saved screenshots."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise ValueError('%s is not a PNG' % path)
    pos, idat, width, height = 8, b'', 0, 0
    while pos < len(data):
        (length,) = struct.unpack('>I', data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b'IHDR':
            width, height, depth, ctype = struct.unpack('>IIBB', body[:10])
            if (depth, ctype) != (8, 2):
                raise ValueError('%s: only 8-bit RGB is read' % path)
        elif kind == b'IDAT':
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), 3 * width, [], bytes(3 * width)
    for y in range(height):
        base = y * (stride + 1)
        ftype, line = raw[base], bytearray(raw[base + 1:base + 1 + stride])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            b, c = prev[i], prev[i - 3] if i >= 3 else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xff
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xff
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xff
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
        prev = bytes(line)
        rows.append(prev)
    return Image(width, height, rows)


# ---- the session --------------------------------------------------------------------------------

SESSION_BUS_CONFIG = '''<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%(socket)s</listen>
  <auth>EXTERNAL</auth>
  <standard_session_servicedirs/>
  <policy context="default">
    <!-- The test (root) and the program (its uid) share this bus. -->
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
'''


def _xauthority_entry(cookie):
    """An Xauthority record that matches any host and display (FamilyWild, empty number)."""
    def counted(b):
        return struct.pack('>H', len(b)) + b
    return (struct.pack('>H', 0xffff) + counted(b'') + counted(b'') +
            counted(b'MIT-MAGIC-COOKIE-1') + counted(cookie))


class XSession:
    """Xvfb and a private session bus, both stopped by stop() (or the with block).

    uid/gid: the identity the program will run as. The session bus runs as that uid too: the
    accessibility bus that at-spi-bus-launcher (activated by it) starts admits only its own uid
    and root, so launcher and program must share the uid. The test, as root, still reads it."""

    def __init__(self, workdir=None, uid=None, gid=None, size='1280x800x24'):
        self.own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix='appservice-x-')
        if self.own_workdir:
            os.chmod(self.workdir, 0o755)  # the bus and the program may run as another uid
        self.uid, self.gid = uid, (uid if gid is None else gid)
        self.size = size
        self.xvfb = self.dbus = self.atspi_agent = None
        self.display = self.bus_address = None
        self.apps = []
        self._atspi = None
        self._bus = None

    # -- setup --

    def start(self):
        try:
            self._start_xvfb()
            self._start_session_bus()
        except BaseException:
            self.stop()
            raise
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _chown(self, path):
        if self.uid is not None:
            os.chown(path, self.uid, self.gid)

    def _start_xvfb(self):
        self.fbdir = os.path.join(self.workdir, 'fb')
        os.makedirs(self.fbdir, exist_ok=True)
        # Access by a cookie that only the test and the program's uid can read.
        self.xauthority = os.path.join(self.workdir, 'Xauthority')
        with open(self.xauthority, 'wb') as f:
            f.write(_xauthority_entry(secrets.token_bytes(16)))
        os.chmod(self.xauthority, 0o600)
        self._chown(self.xauthority)
        self.xvfb_log = os.path.join(self.workdir, 'Xvfb.log')
        rfd, wfd = os.pipe()
        try:
            with open(self.xvfb_log, 'wb') as log:
                self.xvfb = subprocess.Popen(
                    [XVFB, '-displayfd', str(wfd), '-screen', '0', self.size, '-fbdir',
                     self.fbdir, '-nolisten', 'tcp', '-auth', self.xauthority, '-noreset'],
                    pass_fds=(wfd,), stdout=log, stderr=subprocess.STDOUT, cwd='/',
                    start_new_session=True)
            os.close(wfd)
            wfd = None
            # Xvfb writes the display number once it accepts connections.
            text = b''
            deadline = time.monotonic() + DEFAULT_WAIT * 3
            while not text.endswith(b'\n'):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([rfd], [], [], left)[0]:
                    raise SessionError('Xvfb did not start:\n' + self._log(self.xvfb_log))
                chunk = os.read(rfd, 64)
                if not chunk:
                    raise SessionError('Xvfb exited (%s):\n%s' % (self.xvfb.wait(5),
                                                                  self._log(self.xvfb_log)))
                text += chunk
        finally:
            os.close(rfd)
            if wfd is not None:
                os.close(wfd)
        self.display = ':' + text.decode().strip()
        self.framebuffer = os.path.join(self.fbdir, 'Xvfb_screen0')

    def _start_session_bus(self):
        self.runtime_dir = os.path.join(self.workdir, 'runtime')
        self.home = os.path.join(self.workdir, 'home')
        for d in (self.runtime_dir, self.home):
            os.makedirs(d, mode=0o700, exist_ok=True)
            self._chown(d)
        socket = os.path.join(self.runtime_dir, 'bus')  # made by the bus's uid
        config = os.path.join(self.workdir, 'session-bus.conf')
        with open(config, 'w') as f:
            f.write(SESSION_BUS_CONFIG % {'socket': socket})
        os.chmod(config, 0o644)
        self.dbus_log = os.path.join(self.workdir, 'session-bus.log')
        env = self.base_env()
        with open(self.dbus_log, 'wb') as log:
            self.dbus = subprocess.Popen(
                _as_user([DBUS_DAEMON, '--config-file=' + config, '--nofork', '--nopidfile',
                          '--print-address=1'], self.uid, self.gid),
                stdout=subprocess.PIPE, stderr=log, env=env, cwd='/', start_new_session=True)
        line = self.dbus.stdout.readline().decode().strip()
        if not line:
            raise SessionError('the session dbus-daemon did not start (%s):\n%s' %
                               (self.dbus.wait(5), self._log(self.dbus_log)))
        self.bus_address = line

    def base_env(self):
        """The environment of everything in the session (the program, the bus's activations,
        xdotool): the display, the session bus once it runs, a home and runtime dir of the uid."""
        env = {k: v for k, v in os.environ.items()
               if k in ('PATH', 'LANG', 'LC_ALL', 'TERM', 'APPSERVICE_TEST_TIME_SCALE')}
        env.setdefault('PATH', '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin')
        env.update(DISPLAY=self.display, XAUTHORITY=self.xauthority, HOME=self.home,
                   XDG_RUNTIME_DIR=self.runtime_dir, XDG_CACHE_HOME=self.home + '/.cache',
                   XDG_CONFIG_HOME=self.home + '/.config', XDG_DATA_HOME=self.home + '/.local',
                   MESA_SHADER_CACHE_DISABLE='true', GDK_BACKEND='x11', GSK_RENDERER='cairo',
                   GSETTINGS_BACKEND='memory', NO_AT_BRIDGE='0', GTK_A11Y='atspi')
        if self.bus_address:
            env['DBUS_SESSION_BUS_ADDRESS'] = self.bus_address
        return env

    @staticmethod
    def _log(path, n=60):
        try:
            with open(path, errors='replace') as f:
                return ''.join(f.readlines()[-n:])
        except OSError:
            return ''

    # -- teardown --

    def stop(self):
        for app in list(self.apps):
            app.stop()
        if self._atspi is not None:
            self._atspi.close()
            self._atspi = None
        if self._bus is not None:
            self._bus.close_sync(None)
            self._bus = None
        if self.dbus is not None:
            # at-spi-bus-launcher, its accessibility bus and at-spi2-registryd were activated by
            # this bus: they are its descendants, and go with it.
            below = _descendants(self.dbus.pid)
            _stop_popen(self.dbus)
            _terminate(below)
            # They go by themselves once the bus is gone; whatever is left is ended here.
            try:
                wait_for(lambda: not _session_processes(self.bus_address), 5.0,
                         'the session\'s processes to exit')
            except TimeoutError:
                _terminate(_session_processes(self.bus_address))
            self.dbus.stdout.close()
            self.dbus = None
        if self.xvfb is not None:
            _stop_popen(self.xvfb)
            self.xvfb = None
        if self.own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- the program --

    def start_app(self, argv, env=None, name='app', wait=True, uid=None, gid=None,
                  fatal_criticals=True):
        """Starts argv in the session, as the session's uid unless uid is given (None and a
        session without uid: root). stderr goes to WORKDIR/NAME.stderr. wait: until the program
        owns io.appservice.Explorer on the session bus and exports its first window's actions."""
        full_env = self.base_env()
        if fatal_criticals:
            full_env['G_DEBUG'] = 'fatal-criticals'
        full_env.update(env or {})
        uid = self.uid if uid is None else uid
        gid = (self.gid if uid == self.uid else uid) if gid is None else gid
        app = App(self, _as_user(argv, uid, gid), full_env, name)
        self.apps.append(app)
        if wait:
            app.wait_window()
        return app

    @property
    def bus(self):
        """A connection of the test to the session bus."""
        if self._bus is None:
            from gi.repository import Gio
            self._bus = Gio.DBusConnection.new_for_address_sync(
                self.bus_address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
                Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        return self._bus

    def name_owner(self, name):
        from gi.repository import GLib
        try:
            reply = self.bus.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                       'org.freedesktop.DBus', 'GetNameOwner',
                                       GLib.Variant('(s)', (name,)), None, 0, 5000, None)
            return reply.unpack()[0]
        except GLib.Error:
            return None

    # -- AT-SPI --

    @property
    def atspi(self):
        """The AT-SPI reader of this session (a helper process, started on first use)."""
        if self._atspi is None:
            self._atspi = AtspiAgent(self)
        return self._atspi

    # -- pixels --

    def capture(self):
        """The screen as it is now (an Image)."""
        return read_xwd(self.framebuffer)

    def screenshot(self, path, crop=None, check=True, min_colours=8):
        """Writes the screen (cropped to crop=(x, y, w, h) if given) to path as PNG and returns
        the Image. check: raise if it is blank (fewer than min_colours colours)."""
        img = self.capture()
        if crop:
            img = img.crop(*crop)
        img.save_png(path)
        if check and img.is_blank(min_colours):
            raise AssertionError('screenshot %s is blank (%d colours)' %
                                 (path, len(img.colours())))
        return img

    # -- keyboard and pointer --

    def xdotool(self, *args, check=True):
        result = subprocess.run([XDOTOOL] + [str(a) for a in args], env=self.base_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        if check and result.returncode != 0:
            raise SessionError('xdotool %s: %s' % (' '.join(map(str, args)),
                                                   result.stderr.decode(errors='replace')))
        return result.stdout.decode()

    def key(self, *keys, window=None):
        """Presses keys in order ('Tab', 'ctrl+o', 'Return'), to the focused window."""
        if window:
            self.focus(window)
        self.xdotool('key', '--clearmodifiers', '--delay', '30', *keys)

    def type(self, text, window=None):
        if window:
            self.focus(window)
        self.xdotool('type', '--delay', '20', '--', text)

    def focus(self, window):
        # No window manager: give the X input focus ourselves, and wait until it has it.
        self.xdotool('windowfocus', '--sync', window)


class App:
    """A program running in a session."""

    def __init__(self, session, argv, env, name):
        self.session, self.argv, self.env, self.name = session, argv, env, name
        self.stderr_path = os.path.join(session.workdir, '%s.stderr' % name)
        with open(self.stderr_path, 'wb') as stderr:
            self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                         stdout=stderr, stderr=subprocess.STDOUT, cwd='/')
        self.pid = self.proc.pid
        self._actions = None

    def running(self):
        return self.proc.poll() is None

    def stderr(self):
        with open(self.stderr_path, errors='replace') as f:
            return f.read()

    def _check_alive(self):
        if not self.running():
            raise SessionError('%s exited with status %s:\n%s' % (self.name, self.proc.returncode,
                                                                 self.stderr()[-4000:]))

    def wait_window(self, timeout=None):
        def ready():
            self._check_alive()
            return (self.session.name_owner(APP_ID) is not None and
                    'Activate' in self._list_actions_or_empty())
        wait_for(ready, timeout or DEFAULT_WAIT * 3, 'the window of %s' % self.name)

    def _call(self, method, params, reply_type=None, timeout_ms=10000):
        from gi.repository import GLib
        return self.session.bus.call_sync(APP_ID, WINDOW_PATH, 'org.gtk.Actions', method, params,
                                          GLib.VariantType(reply_type) if reply_type else None,
                                          0, timeout_ms, None)

    def _list_actions_or_empty(self):
        from gi.repository import GLib
        try:
            self._call('List', None)
            return 'Activate'
        except GLib.Error:
            return ''

    def actions(self):
        """The names of the window's actions (without 'win.')."""
        return sorted(self._call('List', None, '(as)').unpack()[0])

    def describe(self, action):
        """(enabled, parameter type, state list) of a window action."""
        from gi.repository import GLib
        return self._call('Describe', GLib.Variant('(s)', (action,)), '((bgav))').unpack()[0]

    def latency(self, timeout=None, action='send'):
        """Seconds the program takes to answer a D-Bus call on its main loop (Describe of a
        window action); AssertionError if it does not answer within timeout: a blocked loop."""
        from gi.repository import GLib
        timeout = DEFAULT_WAIT if timeout is None else timeout
        start = time.monotonic()
        try:
            self._call('Describe', GLib.Variant('(s)', (action,)), '((bgav))',
                       timeout_ms=int(timeout * 1000))
        except GLib.Error as e:
            self._check_alive()
            raise AssertionError('%s did not answer a call within %.1f s (its main loop is '
                                 'blocked): %s' % (self.name, timeout, e.message))
        return time.monotonic() - start

    def enabled(self, action):
        return self.describe(action)[0]

    def activate(self, action, parameter=None, wait_enabled=True, timeout=None):
        """Activates win.ACTION (name without 'win.'), parameter a GLib.Variant or None. The
        call returns once the program has run the activation. wait_enabled: first wait until
        the action is enabled (a disabled action ignores an activation)."""
        from gi.repository import GLib
        self._check_alive()
        if wait_enabled:
            wait_for(lambda: self.enabled(action), timeout,
                     'win.%s to be enabled' % action)
        params = [parameter] if parameter is not None else []
        self._call('Activate', GLib.Variant('(sava{sv})', (action, params, {})))

    def window_id(self):
        """The X window id of the program's visible toplevel (xdotool, by _NET_WM_PID)."""
        def find():
            out = self.session.xdotool('search', '--onlyvisible', '--pid', self.pid, check=False)
            ids = out.split()
            return ids[-1] if ids else None
        return wait_for(find, None, 'a visible window of pid %d' % self.pid)

    def window_geometry(self):
        """(x, y, width, height) of the program's window on the screen."""
        out = self.session.xdotool('getwindowgeometry', '--shell', self.window_id())
        g = dict(line.split('=', 1) for line in out.split() if '=' in line)
        return int(g['X']), int(g['Y']), int(g['WIDTH']), int(g['HEIGHT'])

    def screenshot(self, path, **kw):
        """The program's window only (see XSession.screenshot)."""
        return self.session.screenshot(path, crop=self.window_geometry(), **kw)

    def rss_kib(self):
        """VmRSS of the program in KiB (from /proc/PID/status)."""
        with open('/proc/%d/status' % self.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
        raise SessionError('no VmRSS for pid %d' % self.pid)

    # AT-SPI, restricted to this program.

    def tree(self, **kw):
        return self.session.atspi.tree(self.pid, **kw)

    def find(self, **match):
        return self.session.atspi.find(self.pid, **match)

    def texts(self, root=None):
        return self.session.atspi.texts(self.pid, root=root)

    def window_name(self, timeout=None):
        return self.session.atspi.window_name(self.pid, timeout)

    def wait_text(self, text, timeout=None, **kw):
        return self.session.atspi.wait_text(self.pid, text, timeout, **kw)

    def wait_find(self, timeout=None, **match):
        return self.session.atspi.wait_find(self.pid, timeout, **match)

    def showing(self, **match):
        """The accessibles matching `match` that are on screen (pseudo-state 'on-screen', see
        the agent's on_screen(): a label on a stack's hidden page is in the tree too)."""
        return self.session.atspi.find(self.pid, state='on-screen', **match)

    def wait_showing(self, timeout=None, **match):
        return self.session.atspi.wait_find(self.pid, timeout, state='on-screen', **match)

    def click(self, action=None, nth=0, **match):
        return self.session.atspi.do_action(self.pid, action, nth, **match)

    def stop(self, timeout=5.0):
        if self in self.session.apps:
            self.session.apps.remove(self)
        _stop_popen(self.proc, timeout)


# ---- AT-SPI, through a helper process -----------------------------------------------------------

class AtspiAgent:
    """Runs this file as `--atspi-agent` in the session's environment and asks it, one JSON line
    at a time, for the widget tree of a program (by pid) or to do an action on a widget."""

    def __init__(self, session):
        self.session = session
        env = dict(os.environ, **session.base_env())
        env['PYTHONDONTWRITEBYTECODE'] = '1'
        self.log_path = os.path.join(session.workdir, 'atspi-agent.stderr')
        with open(self.log_path, 'wb') as log:
            self.proc = subprocess.Popen([PYTHON, os.path.abspath(__file__), '--atspi-agent'],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=log, env=env, cwd='/')
        self.request({'op': 'ping'})

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def request(self, msg, timeout=None):
        """One request; raises TimeoutError if the agent does not answer in time (a program
        that does not answer its accessibility calls is a hung program)."""
        self.proc.stdin.write((json.dumps(msg) + '\n').encode())
        self.proc.stdin.flush()
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + (timeout or DEFAULT_WAIT * 3)
        line = b''
        while not line.endswith(b'\n'):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                # The agent may be blocked in a call: it cannot serve anything else any more.
                self.proc.kill()
                raise TimeoutError('no AT-SPI answer to %r in time' % msg)
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise SessionError('the AT-SPI agent died:\n' + XSession._log(self.log_path))
            line += chunk
        reply = json.loads(line)
        if 'error' in reply:
            raise SessionError('AT-SPI: %s' % reply['error'])
        return reply['result']

    def tree(self, pid, max_nodes=20000, timeout=None, full=False, root=None):
        """The program's accessible tree: nested dicts of path, name, role, description, text
        (of text roles), children; full adds id (the accessible id: GTK 4.8 exports none),
        interfaces, states, actions, extents (in window coordinates) and costs more calls."""
        return self.request({'op': 'tree', 'pid': pid, 'max_nodes': max_nodes, 'full': full,
                             'root': root or []}, timeout)

    def texts(self, pid, timeout=None, root=None):
        """Every name, description and text of the program's accessibles, in tree order; with
        root (a node's path), of that node's subtree only: a walk of the whole window costs
        thousands of calls, which an emulated guest makes slowly."""
        out = []

        def walk(n):
            for k in ('name', 'description', 'text'):
                if n.get(k):
                    out.append(n[k])
            for c in n.get('children', []):
                walk(c)
        tree = self.tree(pid, timeout=timeout, root=root)
        if tree:
            walk(tree)
        return out

    def window_name(self, pid, timeout=None):
        """The name of the program's first window: a single AT-SPI read, to time."""
        return self.request({'op': 'window', 'pid': pid}, timeout)

    def find(self, pid, **match):
        """Accessibles matching every given field: name, name_in (a list of names: those of
        several widgets in one walk), role (e.g. 'push button'), id, name_contains, text_contains,
        state (one state name). Returns the nodes (with 'path')."""
        return self.request({'op': 'find', 'pid': pid, 'match': match})

    def wait_find(self, pid, timeout=None, **match):
        return wait_for(lambda: self.find(pid, **match), timeout, 'an accessible %r' % match)

    def wait_text(self, pid, text, timeout=None, what=None, root=None):
        """Waits until some accessible's name, description or text contains `text` (a str) or
        satisfies it (a callable on each string); returns the matching string."""
        test = text if callable(text) else (lambda s: text in s)

        def seen():
            return next((s for s in self.texts(pid, root=root) if test(s)), None)
        return wait_for(seen, timeout, what or 'the text %r in the window' % (text,),
                        interval=0.1)

    def do_action(self, pid, action=None, nth=0, **match):
        """Does the action (name, or the first one) of the nth accessible matching `match`."""
        return self.request({'op': 'action', 'pid': pid, 'match': match, 'action': action,
                             'nth': nth})


def _agent_main():
    """The AT-SPI agent: reads requests (JSON lines) on stdin, answers on stdout."""
    import gi
    gi.require_version('Atspi', '2.0')
    from gi.repository import Atspi

    Atspi.init()
    # libatspi fails a call the program has not answered in 0.8 s by default: a busy program (a
    # flood, a sanitizer build) is slow, not hung. The requests' own deadlines judge that.
    Atspi.set_timeout(60000, 60000)
    # Roles whose content is in the Text interface rather than in the name.
    text_roles = {'text', 'entry', 'password text', 'paragraph', 'terminal', 'document text',
                  'editbar', 'spin button'}

    def find_app(pid):
        desktop = Atspi.get_desktop(0)
        for i in range(desktop.get_child_count()):
            app = desktop.get_child_at_index(i)
            if app is None:
                continue
            try:
                if app.get_process_id() == pid:
                    # Names and texts change all the time: never answer from libatspi's cache.
                    app.set_cache_mask(Atspi.Cache.NONE)
                    app.clear_cache()
                    return app
            except Exception:  # an application that went away meanwhile
                continue
        return None

    def light(acc, path):
        """What a walk reads of every node: each field is a D-Bus call, so only these."""
        node = {'path': path, 'name': acc.get_name() or '', 'role': acc.get_role_name() or '',
                'description': acc.get_description() or ''}
        if node['role'] in text_roles:
            try:
                text = acc.get_text_iface()
                n = text.get_character_count() if text else 0
                node['text'] = text.get_text(0, min(n, 4096)) if n else ''
            except Exception:
                pass
        return node

    def full(node, acc, screen=True):
        """The rest, for the nodes a request is about (screen: also whether it is on screen,
        which costs a call for every ancestor)."""
        try:
            node['id'] = acc.get_accessible_id() or ''
        except Exception:
            node['id'] = ''
        try:
            ifaces = set(acc.get_interfaces())
        except Exception:
            ifaces = set()
        node['interfaces'] = sorted(ifaces)
        states = acc.get_state_set()
        node['states'] = sorted(Atspi.StateType(s).value_nick for s in states.get_states())
        node['actions'] = []
        if 'Action' in ifaces:
            action = acc.get_action_iface()
            try:
                node['actions'] = [action.get_action_name(i)
                                   for i in range(action.get_n_actions())]
            except Exception:
                pass
        if 'Text' in ifaces and 'text' not in node:
            try:
                text = acc.get_text_iface()
                n = text.get_character_count()
                node['text'] = text.get_text(0, min(n, 4096)) if n else ''
            except Exception:
                pass
        if 'Component' in ifaces:
            node['extents'] = extents(acc)
        if screen and on_screen(acc, node.get('extents')):
            node['states'].append('on-screen')
        return node

    def states_of(acc):
        try:
            return sorted(Atspi.StateType(s).value_nick for s in acc.get_state_set().get_states())
        except Exception:
            return []

    def extents(acc):
        try:
            # Window coordinates: GTK 4 on X11 does not know where its window is.
            e = acc.get_component_iface().get_extents(Atspi.CoordType.WINDOW)
            return [e.x, e.y, e.width, e.height]
        except Exception:
            return None

    def on_screen(acc, ext):
        """GTK 4.8 sets 'showing' on windows only, and says 'visible' of the children of a
        stack's hidden pages too. Those have no size (never shown) or their ancestors on the
        way up have none: on screen is a size of its own and of every sized ancestor up to
        the window."""
        if not ext or ext[2] <= 0 or ext[3] <= 0:
            return False
        parent = acc.get_parent()
        while parent is not None and parent.get_role_name() not in ('frame', 'application'):
            try:
                sized = 'Component' in parent.get_interfaces()
            except Exception:
                sized = False
            e = extents(parent) if sized else None
            if e is not None and (e[2] <= 0 or e[3] <= 0):
                return False
            parent = parent.get_parent()
        return True

    def walk(acc, path, budget, flat, want_full=False):
        node = light(acc, path)
        if want_full:
            full(node, acc)
        budget[0] -= 1
        flat.append((node, acc))
        children = []
        try:
            count = acc.get_child_count()
        except Exception:
            count = 0
        for i in range(count):
            if budget[0] <= 0:
                node['truncated'] = True
                break
            try:
                child = acc.get_child_at_index(i)
            except Exception:
                child = None
            if child is not None:
                children.append(walk(child, path + [i], budget, flat, want_full))
        node['children'] = children
        return node

    light_keys = ('name', 'name_in', 'role', 'description', 'name_contains')

    def matches(node, m, keys):
        for k, v in m.items():
            if k not in keys:
                continue
            if k in ('name', 'role', 'id', 'description') and node.get(k) != v:
                return False
            if k == 'name_contains' and v not in node.get('name', ''):
                return False
            if k == 'name_in' and node.get('name') not in v:
                return False
            if k == 'text_contains' and v not in node.get('text', ''):
                return False
            if k == 'state' and v not in node.get('states', []):
                return False
        return True

    def search(pid, m, budget=20000):
        app = find_app(pid)
        if app is None:
            return []
        flat = []
        walk(app, [], [budget], flat)
        found = []
        state = m.get('state')
        for node, acc in flat:  # tree order
            if not matches(node, m, light_keys):
                continue
            # A plain state is one call: test it before the costly rest.
            if state and state != 'on-screen' and state not in states_of(acc):
                continue
            full(node, acc, screen=state == 'on-screen')
            if matches(node, m, m.keys()):
                found.append((node, acc))
        return found

    def strip(node):
        return {k: v for k, v in node.items() if k != 'children'}

    for line in sys.stdin:
        try:
            req = json.loads(line)
            op = req['op']
            if op == 'ping':
                result = 'pong'
            elif op == 'window':
                # One read from the program: its first window's name (a responsiveness probe).
                app = find_app(req['pid'])
                window = app.get_child_at_index(0) if app and app.get_child_count() else None
                result = window.get_name() if window is not None else None
            elif op == 'tree':
                node = find_app(req['pid'])
                root = req.get('root') or []
                for i in root:
                    node = node.get_child_at_index(i) if node is not None else None
                result = (walk(node, root, [req.get('max_nodes', 20000)], [], req.get('full'))
                          if node else None)
            elif op == 'find':
                result = [strip(n) for n, _ in search(req['pid'], req['match'])]
            elif op == 'action':
                found = search(req['pid'], req['match'])
                if len(found) <= req['nth']:
                    raise LookupError('no accessible %r' % req['match'])
                node, acc = found[req['nth']]
                names = node['actions']
                if not names:
                    raise LookupError('%r has no actions' % node['name'])
                want = req.get('action')
                index = names.index(want) if want else 0
                result = bool(acc.get_action_iface().do_action(index))
            else:
                raise ValueError('unknown op %r' % op)
            reply = {'result': result}
        except Exception as e:  # reported to the test, which raises it there
            reply = {'error': '%s: %s' % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(reply) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    if sys.argv[1:] == ['--atspi-agent']:
        _agent_main()
    else:
        sys.exit('usage: %s --atspi-agent (the AT-SPI helper of XSession)' % sys.argv[0])
