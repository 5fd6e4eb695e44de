#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the MQTT bridge costs, against Mosquitto's own clients on the same broker.

Starts a real mosquitto on a loopback port and two nodes (each a private system-type dbus-daemon
with the project's policy, appserviced and appservice-mqtt from the build tree: the harness of
tests/mqtt), then measures:

  * the remote round trip: a client on node-b sends a ValueSet on a connection to the echo
    example provider on node-a (Connection.SendMessage, answered by the echo), p50 and p99;
    floor: one line through mosquitto_pub -l -> topic ping -> mosquitto_sub | mosquitto_pub -l
    -> topic pong -> mosquitto_sub, the same two broker hops each way, QoS 1; and the bridge's
    round trip again with Mosquitto's default set_tcp_nodelay false (the harness sets it true:
    with Nagle on, the response waits for a delayed ACK on the socket that just carried the
    request's PUBACK, about 40 ms);
  * cloud messages per second: Service.SendMessage to io.appservice.cloud on node-a (several in
    flight) until a subscriber received them all; floor: the same count of lines published with
    mosquitto_pub -l (QoS 1) until mosquitto_sub received them all;

and prints each figure, the floor's and their ratio. A benchmark: it prints figures and fails
only when something does not work, never on a number.

    tests/bench/mqtt-bridge.py BUILD_DIR [--round-trips N] [--messages M] [--in-flight K]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_ROOT, 'tests', 'mqtt'))


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def fmt_ms(seconds):
    return '%.3f ms' % (seconds * 1000)


class LinePipe:
    """A mosquitto_sub whose output lines are counted and timed as they come."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, bufsize=0)
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def wait_count(self, n, timeout=60):
        self.wait_until(lambda lines: len(lines) >= n, timeout,
                        lambda: 'only %d of %d lines arrived' % (len(self.lines), n))

    def wait_until(self, done, timeout, why):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not done(self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(why())
                self.cond.wait(left)

    def close(self):
        self.proc.terminate()
        self.proc.wait()


def floor_round_trip(mh, mosq, count, warmup):
    args = mosq.client_args()
    pong = LinePipe([mh.MOSQUITTO_SUB, '-V', 'mqttv5', '-q', '1', '-t', 'bench/pong'] + args)
    # The echo: mosquitto_sub's lines piped into mosquitto_pub -l, two processes of ours.
    echo_sub = subprocess.Popen([mh.MOSQUITTO_SUB, '-V', 'mqttv5', '-q', '1', '-t', 'bench/ping'] +
                                args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    echo_pub = subprocess.Popen([mh.MOSQUITTO_PUB, '-V', 'mqttv5', '-q', '1', '-l', '-t',
                                 'bench/pong'] + args, stdin=echo_sub.stdout)
    echo_sub.stdout.close()
    ping = subprocess.Popen([mh.MOSQUITTO_PUB, '-V', 'mqttv5', '-q', '1', '-l', '-t',
                             'bench/ping'] + args, stdin=subprocess.PIPE, bufsize=0)
    times = []
    try:
        # The subscriptions take a moment: ping until the first pong comes.
        deadline = time.monotonic() + 10
        while True:
            ping.stdin.write(b'hello\n')
            try:
                pong.wait_count(1, 0.2)
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise RuntimeError('the mosquitto_sub | mosquitto_pub echo does not answer')
        time.sleep(0.5)
        base = len(pong.lines)
        for i in range(warmup + count):
            t0 = time.perf_counter()
            ping.stdin.write(b'%d\n' % i)
            pong.wait_count(base + i + 1, 10)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    finally:
        ping.stdin.close()
        ping.wait()
        for p in (echo_sub, echo_pub):
            p.terminate()
            p.wait()
        pong.close()
    return times


def floor_rate(mh, mosq, count):
    args = mosq.client_args()
    sub = LinePipe([mh.MOSQUITTO_SUB, '-V', 'mqttv5', '-q', '1', '-t', 'bench/flood'] + args)
    probe = subprocess.Popen([mh.MOSQUITTO_PUB, '-V', 'mqttv5', '-q', '1', '-l', '-t',
                              'bench/flood'] + args, stdin=subprocess.PIPE, bufsize=0)
    deadline = time.monotonic() + 10
    while True:
        probe.stdin.write(b'probe\n')
        try:
            sub.wait_count(1, 0.2)
            break
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
    probe.stdin.close()
    probe.wait()
    time.sleep(0.3)
    base = len(sub.lines)
    payload = b''.join(b'{"Seq": %d, "Sender": "floor"}\n' % i for i in range(count))
    t0 = time.perf_counter()
    pub = subprocess.Popen([mh.MOSQUITTO_PUB, '-V', 'mqttv5', '-q', '1', '-l', '-t',
                            'bench/flood'] + args, stdin=subprocess.PIPE)
    pub.stdin.write(payload)
    pub.stdin.close()
    sub.wait_count(base + count, 120)
    elapsed = time.perf_counter() - t0
    pub.wait()
    sub.close()
    return count / elapsed


def bridge_round_trip(mh, node_b, count, warmup):
    from gi.repository import Gio, GLib
    conn = node_b.bus.conn
    path = conn.call_sync('io.appservice1', '/io/appservice1', 'io.appservice1.Manager',
                          'OpenConnection',
                          GLib.Variant('(ssa{sv})', ('com.example.echo', '',
                                                     {'node': GLib.Variant('s', 'node-a')})),
                          None, Gio.DBusCallFlags.NONE, 30000, None).unpack()[0]
    message = GLib.Variant('(a{sv})', ({'Text': GLib.Variant('s', 'hello'),
                                        'N': GLib.Variant('x', 42)},))
    times = []
    for i in range(warmup + count):
        t0 = time.perf_counter()
        conn.call_sync('io.appservice1', path, 'io.appservice1.Connection', 'SendMessage',
                       message, None, Gio.DBusCallFlags.NONE, 30000, None)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    conn.call_sync('io.appservice1', path, 'io.appservice1.Connection', 'Close', None, None,
                   Gio.DBusCallFlags.NONE, 30000, None)
    return times


MARKER_SEQ = -424242  # a Seq no measured message has


def bridge_rate(mh, cluster, node_a, count, in_flight):
    from gi.repository import Gio, GLib
    sub = LinePipe([mh.MOSQUITTO_SUB, '-V', 'mqttv5', '-q', '1', '-t',
                    '%s/node-a/messages/#' % mh.PREFIX] + cluster.mosquitto.client_args())
    conn = node_a.bus.conn
    path = mh.service_path(mh.CLOUD)

    def send(i):
        return conn.call_sync('io.appservice1', path, 'io.appservice1.Service', 'SendMessage',
                              GLib.Variant('(a{sv})', ({'Seq': GLib.Variant('x', i),
                                                        'Sender': GLib.Variant('s', 'bench')},)),
                              None, Gio.DBusCallFlags.NONE, 60000, None)

    # Probe until the subscriber is in place. A probe sent before it subscribed is never
    # delivered; then a marker, after which every line is the measured messages' (one
    # publisher, in order).
    deadline = time.monotonic() + 10
    while True:
        send(-1)
        try:
            sub.wait_count(1, 0.3)
            break
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
    marker = MARKER_SEQ
    send(marker)
    sub.wait_until(lambda lines: lines and str(marker).encode() in lines[-1], 10,
                   lambda: 'the marker message did not arrive')
    base = len(sub.lines)
    next_i = [0]
    lock = threading.Lock()
    errors = []

    def worker():
        while True:
            with lock:
                i = next_i[0]
                next_i[0] += 1
            if i >= count:
                return
            try:
                send(i)
            except Exception as e:  # noqa: BLE001 - reported below, never judged
                errors.append(e)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(in_flight)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted_at = time.perf_counter() - t0
    sub.wait_count(base + count - len(errors), 120)
    elapsed = time.perf_counter() - t0
    sub.close()
    if errors:
        raise RuntimeError('%d sends failed, e.g. %s' % (len(errors), errors[0]))
    return count / elapsed, count / accepted_at


def nagle_round_trip(mh, workdir, count, warmup):
    mosq = mh.Mosquitto(workdir, nodelay=False, name='mosquitto-nagle')
    os.makedirs(os.path.join(workdir, 'nagle'))
    cluster = mh.Cluster(os.path.join(workdir, 'nagle'), mosq, debug=False)
    try:
        a = cluster.node('node-a', bridge_config={'Broker': {'KeepaliveSec': 10}})
        b = cluster.node('node-b', bridge_config={'Broker': {'KeepaliveSec': 10}})
        echo = os.path.join(mh.BUILD_ROOT, 'examples', 'echo', 'echo-provider')
        a.write_service('com.example.echo', Provider='com.example.EchoApp', Exec=echo,
                        AllowRemote='yes')
        return bridge_round_trip(mh, b, count, warmup)
    finally:
        errors = cluster.teardown()
        mosq.stop()
        if errors:
            raise RuntimeError('\n'.join(errors))


def main():
    parser = argparse.ArgumentParser(description="The MQTT bridge's round trip and message rate "
                                     "against mosquitto's own clients")
    parser.add_argument('build_dir')
    parser.add_argument('--round-trips', type=int, default=300, help='round trips each (300)')
    parser.add_argument('--warmup', type=int, default=30, help='uncounted round trips (30)')
    parser.add_argument('--messages', type=int, default=2000, help='cloud messages (2000)')
    parser.add_argument('--in-flight', type=int, default=16,
                        help='cloud messages sent at once (16)')
    args = parser.parse_args()
    build = os.path.abspath(args.build_dir)
    os.environ['APPSERVICE_BUILD_ROOT'] = build
    os.environ.setdefault('APPSERVICE_SOURCE_ROOT', SOURCE_ROOT)
    os.environ.setdefault('APPSERVICED', os.path.join(build, 'daemon', 'appserviced'))
    os.environ.setdefault('APPSERVICE_MQTT', os.path.join(build, 'services', 'mqtt',
                                                          'appservice-mqtt'))
    import mqttharness as mh
    why = mh.missing_tools()
    echo = os.path.join(build, 'examples', 'echo', 'echo-provider')
    for path in (mh.BRIDGE, mh.it.APPSERVICED, echo):
        if not os.access(path, os.X_OK):
            why = why or '%s is not built (meson compile -C %s)' % (path, args.build_dir)
    if why:
        print('mqtt-bridge.py: %s' % why, file=sys.stderr)
        return 1
    if os.geteuid() != 0:
        print('mqtt-bridge.py: runs as root (private buses, UTS namespaces)', file=sys.stderr)
        return 1

    workdir = mh.make_workdir()
    mosq = mh.Mosquitto(workdir)
    cluster = mh.Cluster(workdir, mosq, debug=False)
    try:
        a = cluster.node('node-a', bridge_config={'Broker': {'KeepaliveSec': 10}})
        b = cluster.node('node-b', bridge_config={'Broker': {'KeepaliveSec': 10}})
        a.write_service('com.example.echo', Provider='com.example.EchoApp', Exec=echo,
                        AllowRemote='yes')
        print('mqtt-bridge: %s' % describe(), flush=True)

        floor = floor_round_trip(mh, mosq, args.round_trips, args.warmup)
        bridge = bridge_round_trip(mh, b, args.round_trips, args.warmup)
        f50, f99 = percentile(floor, 50), percentile(floor, 99)
        b50, b99 = percentile(bridge, 50), percentile(bridge, 99)
        print('mqtt-bridge: remote round trip (node-b client -> node-a echo, %d): p50 %s, '
              'p99 %s, mean %s' % (len(bridge), fmt_ms(b50), fmt_ms(b99),
                                   fmt_ms(statistics.mean(bridge))))
        print('mqtt-bridge: floor round trip (mosquitto_pub/mosquitto_sub via two topics, %d): '
              'p50 %s, p99 %s, mean %s' % (len(floor), fmt_ms(f50), fmt_ms(f99),
                                           fmt_ms(statistics.mean(floor))))
        print('mqtt-bridge: round trip ratio bridge/floor: p50 %.2fx, p99 %.2fx' % (
            b50 / f50, b99 / f99))

        # The same with Mosquitto's default set_tcp_nodelay false (Nagle on its sockets).
        nagle = nagle_round_trip(mh, workdir, max(args.round_trips // 3, 10), args.warmup)
        print('mqtt-bridge: remote round trip with Mosquitto\'s default set_tcp_nodelay false '
              '(%d): p50 %s, p99 %s' % (len(nagle), fmt_ms(percentile(nagle, 50)),
                                        fmt_ms(percentile(nagle, 99))))

        floor_mps = floor_rate(mh, mosq, args.messages)
        bridge_mps, accept_mps = bridge_rate(mh, cluster, a, args.messages, args.in_flight)
        print('mqtt-bridge: cloud messages through the bridge (%d, %d in flight): %.0f msg/s '
              'received (%.0f msg/s accepted)' % (args.messages, args.in_flight, bridge_mps,
                                                   accept_mps))
        print('mqtt-bridge: floor (mosquitto_pub -l, QoS 1, %d): %.0f msg/s' % (args.messages,
                                                                              floor_mps))
        print('mqtt-bridge: message rate ratio bridge/floor: %.2f' % (bridge_mps / floor_mps))
    finally:
        errors = cluster.teardown()
        mosq.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if errors:
        print('mqtt-bridge.py: %s' % '\n'.join(errors), file=sys.stderr)
        return 1
    return 0


def describe():
    sys.path.insert(0, HERE)
    from privatebroker import describe_machine
    return describe_machine()


if __name__ == '__main__':
    sys.exit(main())
