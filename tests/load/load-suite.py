#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The load and fault suite: appserviced under load and faults, on a private system-type bus.

Each scenario starts a dbus-daemon of its own with the project's policy (the system bus's default
policy, tests/system-bus-policy.conf, then systemd/io.appservice1.conf) and connection limits
raised so that the bus is not the first thing to give (max_match_rules_per_connection stays at
dbus-daemon's 512, as on a real system bus), appserviced from the build tree, and the providers
and clients of tests/load (load-provider, load-client, load-libclient, all built with the tests)
and the library's tests/libclient/provider-helper. It prints what each scenario did, what the
broker held (VmRSS from /proc before, at its peak, after; open fds) and the scenario's figures,
then a summary table.

A benchmark, not a test: no figure is judged. What must never happen is reported on a line that
starts with "FAIL": a response lost or carrying another request's token, a client left hanging,
the broker dead, or exiting 0 when it loses its bus. The exit status is 0 unless the suite itself
could not run (2); with --strict it is 1 when any FAIL line was printed. Every scenario has
bounded counts and deadlines and kills whatever it started.

    tests/load/load-suite.py BUILD_DIR [--quick] [--only NAME,...] [--strict]

Runs as root (clients and peers switch to unprivileged users with setpriv).
"""
import argparse
import functools
import os
import pwd
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_ROOT, 'tests', 'bench'))

from gi.repository import Gio, GLib  # noqa: E402

from privatebroker import describe_machine  # noqa: E402

BUS_NAME = 'io.appservice1'
MANAGER_PATH = '/io/appservice1'
SERVICE_IFACE = 'io.appservice1.Service'
DBUS_DAEMON = shutil.which('dbus-daemon') or '/usr/bin/dbus-daemon'
# Unprivileged users the peers of scenario "peers" run as, 250 bus connections each.
PEER_USERS = ['games', 'man', 'lp', 'nobody', 'mail', 'news', 'uucp', 'proxy']

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <include>{defaults}</include>
  <include>{policy}</include>
  <!-- Room for thousands of peers, so that the broker, not the bus, is what the suite measures.
       max_match_rules_per_connection and max_replies_per_connection keep their defaults. -->
  <limit name="max_completed_connections">20000</limit>
  <limit name="max_connections_per_user">20000</limit>
  <limit name="max_incomplete_connections">1000</limit>
</busconfig>
"""

failures = []


def fail(scenario, text):
    line = 'FAIL %s: %s' % (scenario, text)
    failures.append(line)
    print(line, flush=True)


def say(text):
    print(text, flush=True)


def rss_kib(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def alive(pid):
    """Whether pid runs (a zombie nobody reaped does not)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (OSError, IndexError):
        return False


def fd_count(pid):
    try:
        return len(os.listdir('/proc/%d/fd' % pid))
    except OSError:
        return None


def trimmed_rss(pid):
    """VmRSS after the broker's allocator gave back what it keeps free (malloc_trim(0) called
    through gdb): what is left is in use, so a VmRSS that stays up only before the trim is the
    allocator's, not a leak. None without gdb."""
    gdb = shutil.which('gdb')
    if not gdb or not alive(pid):
        return None
    try:
        subprocess.run([gdb, '-p', str(pid), '-batch', '-nx', '-ex', 'call (int) malloc_trim(0)'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    except subprocess.TimeoutExpired:
        return None
    return rss_kib(pid)


def user_ids(name):
    try:
        pw = pwd.getpwnam(name)
        return pw.pw_uid, pw.pw_gid
    except KeyError:
        return None


def parse_figures(line):
    """'word k=v k=v ...' -> {k: v}, numbers as int or float."""
    out = {}
    for word in line.split()[1:]:
        if '=' not in word:
            continue
        k, v = word.split('=', 1)
        for conv in (int, float):
            try:
                v = conv(v)
                break
            except ValueError:
                pass
        out[k] = v
    return out


class Proc:
    """A child process whose stdout is read line by line into a queue by a thread."""

    def __init__(self, argv, env, uid=None, stdin=True, log=None):
        if uid is not None:
            ids = user_ids(uid) if isinstance(uid, str) else (uid, uid)
            argv = ['setpriv', '--reuid=%d' % ids[0], '--regid=%d' % ids[1], '--clear-groups'] + argv
        self.argv = argv
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL, text=True,
                                     cwd='/')
        self.lines = queue.Queue()
        self.all = []
        self.last_at = None     # when the line wait_line() returned last was read
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip('\n')
            self.all.append(line)
            self.lines.put((time.monotonic(), line))
        self.lines.put(None)

    @property
    def pid(self):
        return self.proc.pid

    def wait_line(self, prefix, timeout):
        """The next line starting with prefix, or None at the deadline or the end of output."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                item = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if item is None:
                self.lines.put(None)
                return None
            self.last_at, line = item
            if line.startswith(prefix):
                return line

    def drain(self):
        """Forgets the lines read so far."""
        while True:
            try:
                item = self.lines.get_nowait()
            except queue.Empty:
                return
            if item is None:
                self.lines.put(None)
                return

    def tell(self, text):
        try:
            self.proc.stdin.write(text + '\n')
            self.proc.stdin.flush()
        except (OSError, ValueError):
            pass

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Signals the process and waits; SIGKILL at the deadline. Returns the status."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            if self.wait(timeout) is None:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Sampler:
    """Samples a process's VmRSS and fd count every 50 ms: the peak of each."""

    def __init__(self, pid):
        self.pid = pid
        self.peak_rss = rss_kib(pid) or 0
        self.peak_fds = fd_count(pid) or 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.wait(0.05):
            r, f = rss_kib(self.pid), fd_count(self.pid)
            if r:
                self.peak_rss = max(self.peak_rss, r)
            if f:
                self.peak_fds = max(self.peak_fds, f)

    def stop(self):
        self.stopping.set()
        self.thread.join()


@functools.lru_cache(maxsize=None)
def broker_takes_config(appserviced):
    """Whether this appserviced reads its limits from --config=FILE (newer brokers do)."""
    try:
        return '--config=' in subprocess.run([appserviced, '--help'], capture_output=True, text=True,
                                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False


class System:
    """A private bus, the broker and the definitions of one scenario; everything it started is
    stopped by close()."""

    def __init__(self, build, name, definitions, log_level='notice'):
        self.build = build
        self.log_level = log_level
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix='appservice-load-')
        os.chmod(self.tmp, 0o755)
        self.socket = os.path.join(self.tmp, 'bus')
        self.address = 'unix:path=%s' % self.socket
        self.services = os.path.join(self.tmp, 'services')
        os.mkdir(self.services)
        os.chmod(self.services, 0o755)
        for service, keys in definitions.items():
            text = '[App Service]\nName=%s\nProvider=org.example.Load\n' % service
            text += ''.join('%s=%s\n' % kv for kv in keys.items())
            with open(os.path.join(self.services, service + '.appservice'), 'w') as f:
                f.write(text)
        self.config = os.path.join(self.tmp, 'bus.conf')
        with open(self.config, 'w') as f:
            f.write(BUS_CONFIG.format(socket=self.socket,
                                      defaults=os.path.join(SOURCE_ROOT, 'tests', 'system-bus-policy.conf'),
                                      policy=os.path.join(SOURCE_ROOT, 'systemd', 'io.appservice1.conf')))
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        self.env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        self.broker_log = os.path.join(self.tmp, 'appserviced.log')
        self.bus = None
        self.broker = None
        self.conn = None
        self.procs = []

    # ---- the bus and the broker

    def start_bus(self):
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        # dbus-daemon prints its address once it listens.
        self.bus = subprocess.Popen([DBUS_DAEMON, '--config-file=' + self.config, '--nofork', '--nopidfile',
                                     '--print-address=1'],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd='/')
        if not self.bus.stdout.readline():
            raise RuntimeError('dbus-daemon did not start (status %s)' % self.bus.wait(5))
        self.conn = Gio.DBusConnection.new_for_address_sync(
            self.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.conn.set_exit_on_close(False)

    def start_broker(self):
        argv = [os.path.join(self.build, 'daemon', 'appserviced'), '--system', '--services-dir=' + self.services,
                '--log-level=' + self.log_level]
        if broker_takes_config(argv[0]):
            # The built-in limits, not whatever /etc/appservice/appserviced.conf says.
            config = os.path.join(self.tmp, 'appserviced.conf')
            with open(config, 'w') as f:
                f.write('[Limits]\n')
            argv.append('--config=' + config)
        with open(self.broker_log, 'ab') as log:
            self.broker = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                           cwd='/')
        self.wait_for(lambda: self.broker.poll() is not None or self.name_owner(), 10, 'io.appservice1 on the bus')
        if self.broker.poll() is not None:
            raise RuntimeError('appserviced exited with status %s at start-up' % self.broker.returncode)

    def start(self):
        self.start_bus()
        self.start_broker()
        return self

    def broker_alive(self):
        return self.broker is not None and self.broker.poll() is None

    def broker_log_tail(self, n=5, match=None):
        try:
            with open(self.broker_log, errors='replace') as f:
                lines = f.read().splitlines()
        except OSError:
            return []
        if match:
            lines = [line for line in lines if match in line]
        return lines[-n:]

    def wait_for(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = predicate()
            if v:
                return v
            time.sleep(0.02)
        raise RuntimeError('timed out after %.0f s waiting for %s' % (timeout, what))

    def call(self, dest, path, iface, member, params=None, timeout=10):
        return self.conn.call_sync(dest, path, iface, member, params, None, Gio.DBusCallFlags.NONE,
                                   int(timeout * 1000), None)

    def name_owner(self, name=BUS_NAME):
        try:
            return self.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                             'GetNameOwner', GLib.Variant('(s)', (name,))).unpack()[0]
        except GLib.Error:
            return None

    def service_property(self, service, prop):
        """A property of the service's object, or None when the broker does not answer."""
        path = MANAGER_PATH + '/service/' + service.replace('.', '_2e').replace('-', '_2d')
        try:
            return self.call(BUS_NAME, path, 'org.freedesktop.DBus.Properties', 'Get',
                             GLib.Variant('(ss)', (SERVICE_IFACE, prop)), timeout=5).unpack()[0]
        except GLib.Error:
            return None

    # ---- children

    def spawn(self, argv, uid=None, stdin=True):
        p = Proc(argv, self.env, uid=uid, stdin=stdin)
        self.procs.append(p)
        return p

    def tool(self, name):
        return os.path.join(self.build, 'tests', 'load', name)

    def provider(self, service, mode='echo', delay_ms=0, pid_file=None):
        """A load-provider we start ourselves (root may register any service)."""
        argv = [self.tool('load-provider'), '--name=' + service, '--mode=' + mode,
                '--delay-ms=%d' % delay_ms]
        if pid_file:
            argv.append('--pid-file=' + pid_file)
        p = self.spawn(argv, stdin=False)
        self.wait_for(lambda: self.service_property(service, 'State') == 'active' or p.proc.poll() is not None,
                      10, '%s to register' % service)
        if p.proc.poll() is not None:
            raise RuntimeError('load-provider for %s exited with status %s' % (service, p.proc.returncode))
        return p

    def exec_line(self, service, mode='echo', delay_ms=0):
        """Exec= of a load-provider the broker starts, writing its pid to a file."""
        return '%s --name=%s --mode=%s --delay-ms=%d --pid-file=%s' % (
            self.tool('load-provider'), service, mode, delay_ms, self.pid_file(service))

    def pid_file(self, service):
        return os.path.join(self.tmp, service + '.pid')

    def read_pid(self, service):
        try:
            with open(self.pid_file(service)) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def close(self):
        for p in reversed(self.procs):
            p.stop(signal.SIGTERM, timeout=5)
        if self.conn is not None:
            try:
                self.conn.close_sync(None)
            except GLib.Error:
                pass
        if self.broker is not None and self.broker.poll() is None:
            self.broker.terminate()
            try:
                self.broker.wait(10)
            except subprocess.TimeoutExpired:
                self.broker.kill()
                self.broker.wait()
        # Providers the broker started and left behind (it was killed): their pid files say who.
        for name in os.listdir(self.tmp):
            if name.endswith('.pid'):
                pid = self.read_pid(name[:-4])
                if pid and alive(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if self.bus is not None and self.bus.poll() is None:
            self.bus.terminate()
            try:
                self.bus.wait(10)
            except subprocess.TimeoutExpired:
                self.bus.kill()
                self.bus.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---- reporting -------------------------------------------------------------------------------------

def table(rows, header=None):
    rows = [[str(c) for c in r] for r in rows]
    if header:
        rows.insert(0, list(header))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, r in enumerate(rows):
        say('  ' + '  '.join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
        if header and n == 0:
            say('  ' + '  '.join('-' * w for w in widths))


def memory_rows(before, peak, after, fds, trimmed=None):
    rows = [['broker VmRSS before / peak / after', '%s / %s / %s KiB' % (before, peak, after)]]
    if None not in (before, after):
        rows.append(['broker VmRSS after - before', '%+d KiB' % (after - before)])
    if trimmed is not None:
        rows.append(['broker VmRSS after malloc_trim(0)', '%s KiB (%+d KiB over before)' % (
            trimmed, trimmed - before)])
    rows.append(['broker fds before / peak / after', '%s / %s / %s' % fds])
    return rows


def settle(system, service, timeout=10):
    """Waits until the broker reports no connection to service (or it is gone); then a short pause
    so that what it freed is freed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and system.broker_alive():
        if system.service_property(service, 'Connections') in (0, None):
            break
        time.sleep(0.05)
    time.sleep(0.3)


# ---- scenarios -------------------------------------------------------------------------------------

def scenario_flood(build, args, summary):
    """100 clients x N requests, responses in random order: 0 lost, 0 misrouted, memory back. Run
    twice: memory the allocator kept after the first round is reused by the second, a leak is
    not."""
    name = 'flood'
    clients, requests, inflight, rounds = 100, (200 if args.quick else 1000), 10, 2
    say('\n== %s: %d clients x %d requests (%d in flight each) to a provider answering in random order, '
        '%d rounds' % (name, clients, requests, inflight, rounds))
    system = System(build, name, {'load.shuffle': {'MaxPendingRequests': 64, 'RequestTimeoutSec': 60}})
    try:
        system.start()
        provider = system.provider('load.shuffle', mode='shuffle')
        time.sleep(0.3)
        before, fds_before = rss_kib(system.broker.pid), fd_count(system.broker.pid)
        sampler = Sampler(system.broker.pid)
        results, afters, trims = [], [], []
        for _ in range(rounds):
            # The clients run as an unprivileged user: a flood from a local user, not from root.
            flood = system.spawn([system.tool('load-client'), 'flood', '--service=load.shuffle',
                                  '--clients=%d' % clients, '--requests=%d' % requests,
                                  '--inflight=%d' % inflight, '--deadline-sec=150', '--call-timeout-sec=90'],
                                 uid='nobody')
            line = flood.wait_line('flood ', 200)
            settle(system, 'load.shuffle')
            afters.append(rss_kib(system.broker.pid))
            trims.append(trimmed_rss(system.broker.pid))
            if line is None:
                fail(name, 'the flood client printed no figures (it hung or died; status %s)' % flood.proc.poll())
                summary.append((name, 'FAIL', 'no figures'))
                return
            results.append((parse_figures(line), line.split(' errors=')[1]))
        sampler.stop()
        after, fds_after, trimmed = afters[-1], fd_count(system.broker.pid), trims[-1]
        provider.stop()
        p = parse_figures(provider.wait_line('provider ', 5) or '')
        rows = []
        for n, (f, errors) in enumerate(results, 1):
            rows += [['round %d: sent / answered with their own token' % n, '%s / %s' % (f['sent'], f['ok'])],
                     ['  lost (errors) / misrouted / hung / unsent', '%s / %s / %s / %s (errors: %s)' % (
                         f['lost'], f['misrouted'], f['hung'], f['unsent'], errors)],
                     ['  answered out of order', '%s (%.0f%%)' % (f['reordered'],
                                                                  100.0 * f['reordered'] / max(f['ok'], 1))],
                     ['  throughput', '%s responses/s over %s s' % (f['rate'], f['elapsed_s'])],
                     ['  latency p50 / p99 / max', '%.1f / %.1f / %.1f ms' % (
                         f['p50_us'] / 1e3, f['p99_us'] / 1e3, f['max_us'] / 1e3)],
                     ['  broker VmRSS after the round / after malloc_trim(0)', '%s / %s KiB' % (
                         afters[n - 1], trims[n - 1])]]
        rows.append(['provider: held at most / answers refused', '%s / %s' % (p.get('max_queued', '?'),
                                                                                p.get('refused', '?'))])
        table(rows + memory_rows(before, sampler.peak_rss, after, (fds_before, sampler.peak_fds, fds_after),
                                 trimmed))
        verdict = 'ok'
        for f, _ in results:
            for what in ('lost', 'misrouted', 'hung', 'unsent'):
                if f[what]:
                    fail(name, '%d requests %s' % (f[what], what))
                    verdict = 'FAIL'
        if not system.broker_alive():
            fail(name, 'the broker died (status %s)' % system.broker.returncode)
            verdict = 'FAIL'
        ok = sum(f['ok'] for f, _ in results)
        sent = sum(f['sent'] for f, _ in results)
        summary.append((name, verdict, '%d/%d ok, %d lost, %d misrouted, %d reordered, %s/s; RSS %s->%s KiB, '
                        'after each round %s KiB, trimmed %s KiB' % (
                            ok, sent, sum(f['lost'] for f, _ in results), sum(f['misrouted'] for f, _ in results),
                            sum(f['reordered'] for f, _ in results), results[-1][0]['rate'], before,
                            sampler.peak_rss, ', '.join(str(a) for a in afters), ', '.join(str(t) for t in trims))))
    finally:
        system.close()


def scenario_echo_flood(build, args, summary):
    """The echo example, the project's sd-bus provider, under 100 clients with 4 requests in flight
    each: every answer must arrive (dbus-daemon refuses a connection more than 128 calls awaiting
    replies, so a provider that sends every SendResponse at once loses some)."""
    name = 'echo-flood'
    clients, requests, inflight = 100, (200 if args.quick else 1000), 4
    say('\n== %s: %d clients x %d requests (%d in flight each) to examples/echo, started by the broker '
        '(RequestTimeoutSec=5)' % (name, clients, requests, inflight))
    # At info the broker logs what its providers print: the echo provider says when an answer
    # failed.
    system = System(build, name, {'com.example.echo': {
        'Exec': os.path.join(build, 'examples', 'echo', 'echo-provider'), 'RequestTimeoutSec': 5}},
        log_level='info')
    try:
        system.start()
        before, fds_before = rss_kib(system.broker.pid), fd_count(system.broker.pid)
        sampler = Sampler(system.broker.pid)
        flood = system.spawn([system.tool('load-client'), 'flood', '--service=com.example.echo',
                              '--clients=%d' % clients, '--requests=%d' % requests, '--inflight=%d' % inflight,
                              '--deadline-sec=120', '--call-timeout-sec=60'], uid='nobody')
        line = flood.wait_line('flood ', 150)
        settle(system, 'com.example.echo')
        sampler.stop()
        after, fds_after = rss_kib(system.broker.pid), fd_count(system.broker.pid)
        if line is None:
            fail(name, 'the flood client printed no figures (it hung or died; status %s)' % flood.proc.poll())
            summary.append((name, 'FAIL', 'no figures'))
            return
        f = parse_figures(line)
        refused = system.broker_log_tail(10 ** 6, match='SendResponse failed')
        table([['sent / answered with their own token', '%s / %s' % (f['sent'], f['ok'])],
               ['lost (errors) / misrouted / hung / unsent', '%s / %s / %s / %s (errors: %s)' % (
                   f['lost'], f['misrouted'], f['hung'], f['unsent'], line.split(' errors=')[1])],
               ['throughput', '%s responses/s over %s s' % (f['rate'], f['elapsed_s'])],
               ['latency p50 / p99 / max', '%.1f / %.1f / %.1f ms' % (
                   f['p50_us'] / 1e3, f['p99_us'] / 1e3, f['max_us'] / 1e3)],
               ['answers the provider logged as failed', len(refused)]]
              + [['  first of them', refused[0].split(': ', 1)[-1]] for _ in refused[:1]]
              + memory_rows(before, sampler.peak_rss, after, (fds_before, sampler.peak_fds, fds_after)))
        verdict = 'ok'
        for what in ('lost', 'misrouted', 'hung', 'unsent'):
            if f[what]:
                fail(name, '%d requests %s (%s)%s' % (
                    f[what], what, line.split(' errors=')[1],
                    '; the provider logged %d failed SendResponse calls' % len(refused) if refused else ''))
                verdict = 'FAIL'
        if not system.broker_alive():
            fail(name, 'the broker died (status %s)' % system.broker.returncode)
            verdict = 'FAIL'
        summary.append((name, verdict, '%d/%d ok, %d lost (%s), %s/s' % (
            f['ok'], f['sent'], f['lost'], line.split(' errors=')[1], f['rate'])))
    finally:
        system.close()


def scenario_connections(build, args, summary):
    """10,000 app-service connections open at once from a few clients, then closed; twice, so that
    what the allocator keeps shows apart from what grows."""
    name = 'connections'
    count, clients, rounds = 10000, 4, 2
    say('\n== %s: %d connections open at once from %d clients, then closed, %d rounds' % (
        name, count, clients, rounds))
    system = System(build, name, {'load.echo': {'MaxConnectionsPerPeer': count}})
    try:
        system.start()
        provider = system.provider('load.echo')
        time.sleep(0.3)
        before, fds_before = rss_kib(system.broker.pid), fd_count(system.broker.pid)
        sampler = Sampler(system.broker.pid)
        rows, verdict, afters, trims, summaries = [], 'ok', [], [], []
        for n in range(1, rounds + 1):
            storm = system.spawn([system.tool('load-client'), 'connections', '--service=load.echo',
                                  '--clients=%d' % clients, '--count=%d' % count], uid='nobody')
            opened = storm.wait_line('opened ', 120)
            held_rss, held_fds = rss_kib(system.broker.pid), fd_count(system.broker.pid)
            held_count = system.service_property('load.echo', 'Connections')
            storm.tell('close')
            closed = storm.wait_line('closed ', 120)
            settle(system, 'load.echo')
            afters.append(rss_kib(system.broker.pid))
            trims.append(trimmed_rss(system.broker.pid))
            if opened is None or closed is None:
                fail(name, 'the client printed no figures (it hung or died)')
                summary.append((name, 'FAIL', 'no figures'))
                return
            o, c = parse_figures(opened), parse_figures(closed)
            per = (held_rss - before) * 1024 / max(o['connections'], 1) if held_rss and before else 0
            rows += [['round %d: opened / failed' % n, '%s / %s in %s s (errors %s)' % (
                         o['connections'], o['failed'], o['elapsed_s'], opened.split(' errors=')[1])],
                     ['  Service.Connections while held', held_count],
                     ['  broker VmRSS / fds while held', '%s KiB (%.0f bytes per connection over the start) / %s' % (
                         held_rss, per, held_fds)],
                     ['  closed / failed', '%s / %s in %s s' % (c['connections'], c['failed'], c['elapsed_s'])],
                     ['  broker VmRSS after closing / after malloc_trim(0)', '%s / %s KiB' % (
                         afters[-1], trims[-1])]]
            if o['connections'] != count or c['connections'] != count:
                fail(name, 'round %d: opened %s and closed %s of %d' % (n, o['connections'], c['connections'],
                                                                        count))
                verdict = 'FAIL'
            summaries.append('%s opened in %s s' % (o['connections'], o['elapsed_s']))
        sampler.stop()
        after, fds_after, trimmed = afters[-1], fd_count(system.broker.pid), trims[-1]
        provider.stop()
        table(rows + memory_rows(before, sampler.peak_rss, after, (fds_before, sampler.peak_fds, fds_after),
                                 trimmed))
        if not system.broker_alive():
            fail(name, 'the broker died (status %s)' % system.broker.returncode)
            verdict = 'FAIL'
        summary.append((name, verdict, '%s, all closed; RSS %s->%s KiB, after each round %s KiB, trimmed %s KiB' % (
            ', '.join(summaries), before, sampler.peak_rss, ', '.join(str(a) for a in afters),
            ', '.join(str(t) for t in trims))))
    finally:
        system.close()


def scenario_peers(build, args, summary):
    """2,000 distinct peers over several uids, each with one app-service connection."""
    name = 'peers'
    users = [u for u in PEER_USERS if user_ids(u)]
    count = 2000
    per_user = count // len(users)
    say('\n== %s: %d distinct peers (bus connections) as %s, %d each, each opening one connection and '
        'making one round trip, all held open' % (name, per_user * len(users), ', '.join(users), per_user))
    system = System(build, name, {'load.echo': {'MaxConnectionsPerPeer': 4}})
    try:
        system.start()
        provider = system.provider('load.echo')
        time.sleep(0.3)
        before, fds_before = rss_kib(system.broker.pid), fd_count(system.broker.pid)
        sampler = Sampler(system.broker.pid)
        start = time.monotonic()
        peers = [system.spawn([system.tool('load-client'), 'peers', '--service=load.echo',
                               '--count=%d' % per_user, '--call-timeout-sec=10'], uid=u) for u in users]
        results = [p.wait_line('peers ', 240) for p in peers]
        elapsed = time.monotonic() - start
        if any('gave_up=yes' in r for r in results if r):
            # The peers give up when the broker left the bus; its process may take a moment more.
            try:
                system.broker.wait(3)
            except subprocess.TimeoutExpired:
                pass
        alive = system.broker_alive()
        held_rss, held_fds = rss_kib(system.broker.pid), fd_count(system.broker.pid)
        held_count = system.service_property('load.echo', 'Connections') if alive else None
        for p in peers:
            p.tell('close')
        for p in peers:
            p.wait(30)
        if alive:
            settle(system, 'load.echo')
        sampler.stop()
        after, fds_after = rss_kib(system.broker.pid), fd_count(system.broker.pid)
        provider.stop()
        figures = [parse_figures(r) if r else {} for r in results]
        ok = sum(f.get('ok', 0) for f in figures)
        failed = sum(f.get('failed', 0) for f in figures)
        first_failures = [line for p in peers for line in p.all if line.startswith('peer-failed')][:2]
        rows = [['peers that made their round trip', '%d of %d (%d failed) in %.1f s' % (
                    ok, per_user * len(users), failed, elapsed)]]
        rows += [['  as %s' % u, '%s ok, %s failed, gave up: %s' % (f.get('ok', '?'), f.get('failed', '?'),
                                                                    f.get('gave_up', '?'))]
                 for u, f in zip(users, figures)]
        rows.append(['Service.Connections while held', held_count])
        if alive:
            rows.append(['broker VmRSS / fds while held', '%s KiB / %s' % (held_rss, held_fds)])
        else:
            rows.append(['broker', 'EXITED with status %s' % system.broker.returncode])
            rows += [['  broker log', line] for line in system.broker_log_tail(3)] or [['  broker log', '(nothing)']]
        rows += [['  first failure', line] for line in first_failures[:1]]
        table(rows + memory_rows(before, sampler.peak_rss, after, (fds_before, sampler.peak_fds, fds_after)))
        verdict = 'ok'
        if not alive:
            fail(name, 'the broker died with %d peers served (status %s; %d of %d peers made their round '
                 'trip)' % (ok, system.broker.returncode, ok, per_user * len(users)))
            verdict = 'FAIL'
        elif ok != per_user * len(users):
            # A limit the broker enforces by design (peers per uid) refuses with
            # ResourceLimitsExceeded: reported, not a failure. Anything else is.
            other = [line for p in peers for line in p.all
                     if line.startswith('peer-failed') and 'ResourceLimitsExceeded' not in line]
            if other:
                fail(name, '%d of %d peers failed: %s' % (per_user * len(users) - ok, per_user * len(users),
                                                          other[0]))
                verdict = 'FAIL'
            else:
                verdict = 'limited'
        summary.append((name, verdict, '%d/%d peers ok; broker %s' % (
            ok, per_user * len(users), 'alive' if alive else 'EXITED %s' % system.broker.returncode)))
    finally:
        system.close()


def kill_and_wait_restart(system, service, timeout=20):
    """SIGKILLs the provider of service (its pid file says which) and waits until another one
    runs and the service is active again: (new pid, seconds), or (None, None)."""
    old = system.read_pid(service)
    if not old or not alive(old):
        return None, None
    os.kill(old, signal.SIGKILL)
    start = time.monotonic()
    try:
        new = system.wait_for(lambda: (system.read_pid(service) or old) != old and
                              system.service_property(service, 'State') == 'active' and
                              system.read_pid(service), timeout, 'the restart')
    except RuntimeError:
        return None, None
    return new, time.monotonic() - start


def scenario_provider_kill(build, args, summary):
    """The provider SIGKILLed in the middle of a flood: errors, not hangs; the broker restarts it."""
    name = 'provider-kill'
    clients, requests = 20, (500 if args.quick else 1000)
    say('\n== %s: %d clients x %d requests (reopening when closed) to a provider the broker started '
        '(Restart=on-failure, RestartSec=1), SIGKILLed mid-flood' % (name, clients, requests))
    system = System(build, name, {})
    keys = {'Exec': system.exec_line('load.crashy', mode='delay', delay_ms=20), 'Restart': 'on-failure',
            'RestartSec': 1, 'RequestTimeoutSec': 30}
    with open(os.path.join(system.services, 'load.crashy.appservice'), 'w') as f:
        f.write('[App Service]\nName=load.crashy\nProvider=org.example.Load\n' +
                ''.join('%s=%s\n' % kv for kv in keys.items()))
    try:
        system.start()
        before, fds_before = rss_kib(system.broker.pid), fd_count(system.broker.pid)
        sampler = Sampler(system.broker.pid)
        flood = system.spawn([system.tool('load-client'), 'flood', '--service=load.crashy', '--reopen',
                              '--clients=%d' % clients, '--requests=%d' % requests, '--inflight=4',
                              '--deadline-sec=90', '--call-timeout-sec=60'], uid='nobody')
        first = system.wait_for(lambda: system.read_pid('load.crashy'), 30, 'the provider to start')
        time.sleep(1.0)  # into the flood: the point of the kill, not a wait for a result
        second, restart_s = kill_and_wait_restart(system, 'load.crashy')
        line = flood.wait_line('flood ', 120)
        nrestarts = system.service_property('load.crashy', 'NRestarts')
        settle(system, 'load.crashy')
        # The clients reopening may have started the provider on demand; killed again with no
        # client asking, only Restart= brings it back.
        again, again_s = kill_and_wait_restart(system, 'load.crashy')
        nrestarts_again = system.service_property('load.crashy', 'NRestarts')
        sampler.stop()
        after, fds_after = rss_kib(system.broker.pid), fd_count(system.broker.pid)
        if line is None:
            fail(name, 'the flood client printed no figures (it hung or died)')
            summary.append((name, 'FAIL', 'no figures'))
            return
        f = parse_figures(line)
        table([['requests answered / failed with an error / hung', '%s / %s / %s' % (f['ok'], f['lost'],
                                                                                      f['hung'])],
               ['errors the clients got', line.split(' errors=')[1]],
               ['misrouted', f['misrouted']],
               ['connections reopened / answered after reopening', '%s / %s' % (f['reopened'],
                                                                                 f['ok_after_reopen'])],
               ['provider running again', 'pid %s -> %s after %s (NRestarts %s)' % (
                   first, second, '%.2f s' % restart_s if restart_s is not None else 'NEVER', nrestarts)],
               ['flood took', '%s s' % f['elapsed_s']],
               ['killed again, no client', 'pid %s -> %s after %s (NRestarts %s)' % (
                   second, again, '%.2f s' % again_s if again_s is not None else 'NEVER', nrestarts_again)]]
              + memory_rows(before, sampler.peak_rss, after, (fds_before, sampler.peak_fds, fds_after)))
        verdict = 'ok'
        if again is None:
            fail(name, 'killed with no client asking, the provider was not restarted within 20 s '
                 '(Restart=on-failure)')
            verdict = 'FAIL'
        if f['hung'] or f['misrouted'] or f['unsent']:
            fail(name, '%d requests hung, %d misrouted, %d never sent by the deadline' % (
                f['hung'], f['misrouted'], f['unsent']))
            verdict = 'FAIL'
        if second is None:
            fail(name, 'the provider was not running again within 20 s of its SIGKILL')
            verdict = 'FAIL'
        if not system.broker_alive():
            fail(name, 'the broker died (status %s)' % system.broker.returncode)
            verdict = 'FAIL'
        summary.append((name, verdict, '%s errors, %s hung; provider back after %s, and %s by Restart= alone' % (
            f['lost'], f['hung'], '%.2f s' % restart_s if restart_s is not None else 'NEVER',
            '%.2f s' % again_s if again_s is not None else 'NEVER')))
    finally:
        system.close()


def scenario_client_vanish(build, args, summary):
    """Clients SIGKILLed with requests in flight: the broker forgets them and their requests."""
    name = 'client-vanish'
    clients, requests = 50, 20
    say('\n== %s: %d clients send %d requests each to a provider answering after 2 s, then are '
        'SIGKILLed' % (name, clients, requests))
    system = System(build, name, {'load.late': {'MaxPendingRequests': 64}})
    try:
        system.start()
        provider = system.provider('load.late', mode='delay', delay_ms=2000)
        time.sleep(0.3)
        before, fds_before = rss_kib(system.broker.pid), fd_count(system.broker.pid)
        sampler = Sampler(system.broker.pid)
        flood = system.spawn([system.tool('load-client'), 'flood', '--service=load.late',
                              '--clients=%d' % clients, '--requests=%d' % requests,
                              '--inflight=%d' % requests, '--deadline-sec=60'], uid='nobody')
        sent = flood.wait_line('all-sent', 30)
        time.sleep(0.5)  # the requests reach the provider; the point of the kill
        held = system.service_property('load.late', 'Connections')
        held_rss = rss_kib(system.broker.pid)
        flood.stop(signal.SIGKILL)
        try:
            system.wait_for(lambda: system.service_property('load.late', 'Connections') == 0, 10,
                            'the connections to close')
            closed = True
        except RuntimeError:
            closed = False
        # The provider answers what it holds 2 s after it came; the broker must refuse each answer.
        time.sleep(2.5)
        settle(system, 'load.late')
        sampler.stop()
        after, fds_after = rss_kib(system.broker.pid), fd_count(system.broker.pid)
        trimmed = trimmed_rss(system.broker.pid)
        provider.stop()
        p = parse_figures(provider.wait_line('provider ', 5) or '')
        table([['requests sent before the kill', sent.split()[1] if sent else 'NOT ALL'],
               ['connections held / left after the kill', '%s / %s' % (
                   held, system.service_property('load.late', 'Connections'))],
               ['provider: received / answers refused (UnknownRequest) / accepted', '%s / %s / %s' % (
                   p.get('received'), p.get('refused'), p.get('answered'))],
               ['broker VmRSS with the requests held', '%s KiB' % held_rss]]
              + memory_rows(before, sampler.peak_rss, after, (fds_before, sampler.peak_fds, fds_after),
                            trimmed))
        verdict = 'ok'
        if not closed:
            fail(name, 'the broker still counts connections of the vanished clients after 10 s')
            verdict = 'FAIL'
        if p.get('answered'):
            fail(name, 'the broker accepted %s answers to vanished clients' % p['answered'])
            verdict = 'FAIL'
        if not system.broker_alive():
            fail(name, 'the broker died (status %s)' % system.broker.returncode)
            verdict = 'FAIL'
        summary.append((name, verdict, '%s connections dropped, %s answers refused; RSS %s->%s->%s KiB' % (
            held, p.get('refused'), before, held_rss, after)))
    finally:
        system.close()


def scenario_broker_kill(build, args, summary):
    """The broker SIGKILLed and started again: the library's provider and client recover."""
    name = 'broker-kill'
    say('\n== %s: a provider and a client on libappservice-1 and a broker-started sd-bus provider; '
        'the broker gets SIGKILL and is started again' % name)
    system = System(build, name, {})
    with open(os.path.join(system.services, 'load.lib.appservice'), 'w') as f:
        f.write('[App Service]\nName=load.lib\nProvider=org.example.Load\n')
    with open(os.path.join(system.services, 'load.exec.appservice'), 'w') as f:
        f.write('[App Service]\nName=load.exec\nProvider=org.example.Load\nExec=%s\n' %
                system.exec_line('load.exec'))
    try:
        system.start()
        helper = os.path.join(build, 'tests', 'libclient', 'provider-helper')
        lib_provider = system.spawn([helper, 'echo', 'load.lib'])
        if not lib_provider.wait_line('registered 1', 10):
            raise RuntimeError('provider-helper did not register')
        client = system.spawn([system.tool('load-libclient'), '--service=load.lib', '--interval-ms=50'],
                              uid='nobody', stdin=False)
        if not client.wait_line('ok ', 10):
            raise RuntimeError('load-libclient made no round trip')
        first = system.spawn([system.tool('load-client'), 'flood', '--service=load.exec', '--clients=1',
                              '--requests=10', '--inflight=1', '--deadline-sec=30'], uid='nobody')
        first.wait_line('flood ', 40)
        exec_pid = system.read_pid('load.exec')
        old_broker = system.broker.pid

        lib_provider.drain()
        client.drain()
        system.broker.send_signal(signal.SIGKILL)
        system.broker.wait()
        killed_at = time.monotonic()
        closed_line = client.wait_line('closed ', 5)
        unregistered = lib_provider.wait_line('registered 0', 5)
        time.sleep(0.5)
        exec_gone = exec_pid is not None and not alive(exec_pid)
        os.unlink(system.pid_file('load.exec')) if os.path.exists(system.pid_file('load.exec')) else None
        client.drain()
        restarted_at = time.monotonic()
        system.start_broker()
        reregistered = lib_provider.wait_line('registered 1', 15)
        provider_s = lib_provider.last_at - restarted_at if reregistered else None
        client_s = client.last_at - restarted_at if client.wait_line('ok ', 15) else None
        second = system.spawn([system.tool('load-client'), 'flood', '--service=load.exec', '--clients=1',
                               '--requests=10', '--inflight=1', '--deadline-sec=30'], uid='nobody')
        s = parse_figures(second.wait_line('flood ', 40) or '')
        client.stop()
        lc = parse_figures(client.wait_line('libclient ', 5) or '')
        table([['broker', 'pid %s SIGKILLed, started again as pid %s in %.2f s' % (
                   old_broker, system.broker.pid, restarted_at - killed_at)],
               ['library client saw', closed_line or 'no service-closed within 5 s'],
               ['library provider saw', unregistered or 'no registered 0 within 5 s'],
               ['library provider registered again', '%.0f ms after the new broker was started' % (
                   provider_s * 1e3) if provider_s is not None else 'NEVER (15 s)'],
               ['library client talked again', '%.0f ms after the new broker was started' % (client_s * 1e3)
                if client_s is not None else 'NEVER (15 s)'],
               ['library client: ok / failed / opens', '%s / %s / %s' % (lc.get('ok'), lc.get('failed'),
                                                                          lc.get('opens'))],
               ['broker-started provider', 'pid %s %s; after the restart 10 round trips: %s ok' % (
                   exec_pid, 'exited with the broker' if exec_gone else 'STILL RUNNING', s.get('ok'))]])
        verdict = 'ok'
        if provider_s is None:
            fail(name, 'the library provider did not register again within 15 s')
            verdict = 'FAIL'
        if client_s is None:
            fail(name, 'the library client did not talk again within 15 s')
            verdict = 'FAIL'
        if s.get('ok') != 10:
            fail(name, 'the broker-started provider answered %s of 10 after the restart' % s.get('ok'))
            verdict = 'FAIL'
        if not system.broker_alive():
            fail(name, 'the restarted broker died (status %s)' % system.broker.returncode)
            verdict = 'FAIL'
        summary.append((name, verdict, 'library provider back in %s, client in %s' % (
            '%.0f ms' % (provider_s * 1e3) if provider_s is not None else 'NEVER',
            '%.0f ms' % (client_s * 1e3) if client_s is not None else 'NEVER')))
    finally:
        system.close()


def scenario_bus_restart(build, args, summary):
    """dbus-daemon stops under the broker and starts again: what the broker and the library do."""
    name = 'bus-restart'
    say('\n== %s: dbus-daemon gets SIGTERM under the broker, a library provider and a library '
        'client, and is started again' % name)
    system = System(build, name, {'load.lib': {}, 'load.exec': {}})
    with open(os.path.join(system.services, 'load.exec.appservice'), 'a') as f:
        f.write('Exec=%s\n' % system.exec_line('load.exec'))
    try:
        system.start()
        helper = os.path.join(build, 'tests', 'libclient', 'provider-helper')
        lib_provider = system.spawn([helper, 'echo', 'load.lib'])
        if not lib_provider.wait_line('registered 1', 10):
            raise RuntimeError('provider-helper did not register')
        client = system.spawn([system.tool('load-libclient'), '--service=load.lib', '--interval-ms=50'],
                              uid='nobody', stdin=False)
        if not client.wait_line('ok ', 10):
            raise RuntimeError('load-libclient made no round trip')

        system.bus.terminate()
        system.bus.wait(10)
        gone_at = time.monotonic()
        status = None
        try:
            status = system.broker.wait(10)
            exit_s = time.monotonic() - gone_at
        except subprocess.TimeoutExpired:
            exit_s = None
        log = system.broker_log_tail(2)
        provider_status = lib_provider.wait(5)
        client_status = client.wait(5)
        if status is None:
            system.broker.kill()
            system.broker.wait()

        system.start_bus()
        system.start_broker()
        reregistered = lib_provider.wait_line('registered 1', 5) if provider_status is None else None
        client_back = client.wait_line('ok ', 5) if client_status is None else None
        fresh = system.spawn([system.tool('load-client'), 'flood', '--service=load.exec', '--clients=1',
                              '--requests=10', '--inflight=1', '--deadline-sec=30'], uid='nobody')
        s = parse_figures(fresh.wait_line('flood ', 40) or '')

        def proc_fate(st):
            if st is None:
                return 'still running'
            return 'exited with status %s' % st if st >= 0 else 'killed by %s' % signal.Signals(-st).name
        # load-libclient prints its totals only on SIGTERM or SIGINT, which the suite did not send:
        # the library's shared bus connection ended the process (GDBus exit-on-close).
        self_term = any(line.startswith('libclient ') for line in client.all)
        table([['broker', ('exited with status %d, %.2f s after the bus went' % (status, exit_s))
                if status is not None else 'STILL RUNNING 10 s after the bus went (killed)'],
               ['broker log, last lines', ' | '.join(log) or '-'],
               ['library provider', proc_fate(provider_status) + (
                   '; registered on the new bus' if reregistered else '')],
               ['library client', proc_fate(client_status) + (
                   ' on a SIGTERM the suite did not send (exit-on-close)' if self_term else '') + (
                   '; talked on the new bus' if client_back is not None else '')],
               ['new bus, new broker: 10 round trips to a broker-started provider', '%s ok' % s.get('ok')]])
        verdict = 'ok'
        if status is None:
            fail(name, 'the broker kept running without its bus')
            verdict = 'FAIL'
        elif status == 0:
            fail(name, 'the broker exited 0 on losing its bus: Restart=on-failure would not restart it '
                 '(issue 10, item 6)')
            verdict = 'FAIL'
        if s.get('ok') != 10:
            fail(name, 'after the bus restart 10 round trips gave %s ok' % s.get('ok'))
            verdict = 'FAIL'
        summary.append((name, verdict, 'broker %s; library provider %s, client %s' % (
            'exit %s' % status if status is not None else 'kept running', proc_fate(provider_status),
            proc_fate(client_status))))
    finally:
        system.close()


def scenario_slow_provider(build, args, summary):
    """A slow provider flooded: the round trips of a fast service on the same broker."""
    name = 'slow-provider'
    probes = 1000 if args.quick else 3000
    clients, inflight, delay_ms = 50, 64, 1000
    say('\n== %s: %d sequential round trips to a fast service, alone and while %d clients keep %d '
        'requests each in flight to a provider answering each after %d ms' % (name, probes, clients, inflight,
                                                                              delay_ms))
    system = System(build, name, {'load.fast': {}, 'load.slow': {'MaxPendingRequests': 64}})
    try:
        system.start()
        system.provider('load.fast')
        slow = system.provider('load.slow', mode='delay', delay_ms=delay_ms)
        probe_argv = [system.tool('load-client'), 'flood', '--service=load.fast', '--clients=1',
                      '--requests=%d' % probes, '--inflight=1', '--deadline-sec=60']
        base = parse_figures(system.spawn(probe_argv, uid='lp').wait_line('flood ', 70) or '')
        before, fds_before = rss_kib(system.broker.pid), fd_count(system.broker.pid)
        sampler = Sampler(system.broker.pid)
        flood = system.spawn([system.tool('load-client'), 'flood', '--service=load.slow',
                              '--clients=%d' % clients, '--requests=100000', '--inflight=%d' % inflight,
                              '--deadline-sec=60'], uid='nobody')
        time.sleep(2)  # let the slow service fill up: the point where the probe starts
        held = rss_kib(system.broker.pid)
        loaded = parse_figures(system.spawn(probe_argv, uid='lp').wait_line('flood ', 70) or '')
        flood.stop(signal.SIGTERM)
        fl = parse_figures(flood.wait_line('flood ', 10) or '')
        settle(system, 'load.slow')
        sampler.stop()
        after, fds_after = rss_kib(system.broker.pid), fd_count(system.broker.pid)

        def ms(f, k):
            return '%.2f' % (f[k] / 1e3) if k in f else '?'
        table([['fast service alone: p50 / p99 / max', '%s / %s / %s ms' % (ms(base, 'p50_us'), ms(base, 'p99_us'),
                                                                              ms(base, 'max_us'))],
               ['fast service, slow one flooded: p50 / p99 / max', '%s / %s / %s ms' % (
                   ms(loaded, 'p50_us'), ms(loaded, 'p99_us'), ms(loaded, 'max_us'))],
               ['fast service: ok / lost / misrouted', '%s / %s / %s' % (loaded.get('ok'), loaded.get('lost'),
                                                                          loaded.get('misrouted'))],
               ['slow flood until stopped: answered / errors', '%s / %s (%s)' % (
                   fl.get('ok'), fl.get('lost'), fl.get('errors', '-'))],
               ['broker VmRSS while the slow service is full', '%s KiB' % held]]
              + memory_rows(before, sampler.peak_rss, after, (fds_before, sampler.peak_fds, fds_after)))
        verdict = 'ok'
        if loaded.get('ok') != probes or base.get('ok') != probes:
            fail(name, 'the fast service answered %s and %s of %d' % (base.get('ok'), loaded.get('ok'), probes))
            verdict = 'FAIL'
        if not system.broker_alive():
            fail(name, 'the broker died (status %s)' % system.broker.returncode)
            verdict = 'FAIL'
        slow.stop()
        summary.append((name, verdict, 'fast p50/p99 %s/%s ms alone, %s/%s ms beside the flood' % (
            ms(base, 'p50_us'), ms(base, 'p99_us'), ms(loaded, 'p50_us'), ms(loaded, 'p99_us'))))
    finally:
        system.close()


SCENARIOS = [
    ('flood', scenario_flood),
    ('echo-flood', scenario_echo_flood),
    ('connections', scenario_connections),
    ('peers', scenario_peers),
    ('provider-kill', scenario_provider_kill),
    ('client-vanish', scenario_client_vanish),
    ('broker-kill', scenario_broker_kill),
    ('bus-restart', scenario_bus_restart),
    ('slow-provider', scenario_slow_provider),
]


def main():
    parser = argparse.ArgumentParser(description='The load and fault suite of appserviced')
    parser.add_argument('build_dir')
    parser.add_argument('--quick', action='store_true', help='smaller floods (for tools/check)')
    parser.add_argument('--only', help='comma-separated scenario names (%s)' % ', '.join(n for n, _ in SCENARIOS))
    parser.add_argument('--strict', action='store_true', help='exit 1 when any FAIL line was printed')
    parser.add_argument('--junit', metavar='FILE',
                        help='write one JUnit test case per scenario to FILE (a FAIL line fails its scenario)')
    args = parser.parse_args()
    build = os.path.abspath(args.build_dir)

    for path in (os.path.join(build, 'daemon', 'appserviced'), os.path.join(build, 'tests', 'load', 'load-client'),
                 os.path.join(build, 'tests', 'load', 'load-provider'),
                 os.path.join(build, 'tests', 'load', 'load-libclient'),
                 os.path.join(build, 'tests', 'libclient', 'provider-helper')):
        if not os.access(path, os.X_OK):
            print('load-suite: %s is not built (meson compile -C %s, with the tests configured)' %
                  (path, args.build_dir), file=sys.stderr)
            return 2
    if os.geteuid() != 0 or not shutil.which('setpriv'):
        print('load-suite: runs as root with setpriv (its clients switch to unprivileged users)', file=sys.stderr)
        return 2
    wanted = args.only.split(',') if args.only else [n for n, _ in SCENARIOS]
    unknown = set(wanted) - {n for n, _ in SCENARIOS}
    if unknown:
        print('load-suite: unknown scenario %s' % ', '.join(sorted(unknown)), file=sys.stderr)
        return 2

    say('load-suite: %s%s' % (describe_machine(), ', --quick' if args.quick else ''))
    summary = []
    start = time.monotonic()
    for n, fn in SCENARIOS:
        if n not in wanted:
            continue
        t = time.monotonic()
        try:
            fn(build, args, summary)
        except Exception as e:  # a scenario that cannot run is a failure of its own, not the end
            traceback.print_exc()
            fail(n, 'could not run: %s' % e)
            summary.append((n, 'FAIL', 'could not run: %s' % e))
        say('   (%s took %.1f s)' % (n, time.monotonic() - t))

    say('\n== summary (%.0f s)' % (time.monotonic() - start))
    table([(n, v, what) for n, v, what in summary], header=('scenario', 'verdict', 'figures'))
    say('load-suite: %d FAIL line%s' % (len(failures), '' if len(failures) == 1 else 's'))
    if args.junit:
        write_junit(args.junit, summary)
    return 1 if args.strict and failures else 0


def write_junit(path, summary):
    """Lost or misrouted requests, hangs and a dead broker are failures, whatever the figures;
    tools/check counts them with the other tests' results."""
    import xml.etree.ElementTree as ET
    suite = ET.Element('testsuite', name='appservice.load-suite', tests=str(len(summary)))
    for name, verdict, what in summary:
        case = ET.SubElement(suite, 'testcase', classname='load-suite', name=name)
        mine = [f for f in failures if f.startswith('FAIL %s:' % name)]
        if verdict == 'FAIL' or mine:
            ET.SubElement(case, 'failure', message='; '.join(mine) or what)
        ET.SubElement(case, 'system-out').text = what
    root = ET.Element('testsuites')
    root.append(suite)
    ET.ElementTree(root).write(path, encoding='unicode')


if __name__ == '__main__':
    sys.exit(main())
