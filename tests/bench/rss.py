#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Measures appserviced's resident memory: idle, then with N open connections.

Starts a private system-type dbus-daemon with the project's policy, the daemon from the build
tree and the echo example provider, opens N connections from one client (each checked with a
round trip), and prints the daemon's VmRSS at each step. A benchmark: it prints figures and only
fails when something does not work, never on a number.

    tests/bench/rss.py BUILD_DIR [--connections N]
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

from gi.repository import Gio, GLib

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <include>{defaults}</include>
  <include>{policy}</include>
</busconfig>
"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build_dir")
    parser.add_argument("--connections", type=int, default=1000)
    args = parser.parse_args()
    build = os.path.abspath(args.build_dir)
    n = args.connections

    with tempfile.TemporaryDirectory(prefix="appservice-bench-") as tmp:
        socket = os.path.join(tmp, "bus")
        config = os.path.join(tmp, "bus.conf")
        with open(config, "w") as f:
            f.write(BUS_CONFIG.format(socket=socket,
                                      defaults=os.path.join(SOURCE_ROOT, "tests", "system-bus-policy.conf"),
                                      policy=os.path.join(SOURCE_ROOT, "systemd", "io.appservice1.conf")))
        services = os.path.join(tmp, "services")
        os.mkdir(services)
        with open(os.path.join(services, "com.example.echo.appservice"), "w") as f:
            f.write("[App Service]\nName=com.example.echo\nProvider=com.example.EchoApp\n"
                    f"Exec={build}/examples/echo/echo-provider\nMaxConnectionsPerPeer={n}\n")

        bus = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile"])
        procs = [bus]
        try:
            wait_for(lambda: os.path.exists(socket), 5, "the bus socket")
            address = f"unix:path={socket}"
            env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address)
            daemon = subprocess.Popen([f"{build}/daemon/appserviced", "--system", f"--services-dir={services}",
                                       "--log-level=warning"], env=env)
            procs.append(daemon)

            conn = Gio.DBusConnection.new_for_address_sync(
                address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
                | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

            def owned():
                r = conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                   "NameHasOwner", GLib.Variant("(s)", ("io.appservice1",)), None, 0, -1, None)
                return r.unpack()[0]
            wait_for(owned, 10, "io.appservice1 on the bus")
            time.sleep(0.3)
            idle = rss_kib(daemon.pid)

            start = time.monotonic()
            paths = []
            for _ in range(n):
                r = conn.call_sync("io.appservice1", "/io/appservice1", "io.appservice1.Manager",
                                   "OpenConnection", GLib.Variant("(ssa{sv})", ("com.example.echo", "", {})),
                                   None, 0, 30000, None)
                paths.append(r.unpack()[0])
            opened = time.monotonic() - start

            start = time.monotonic()
            for p in paths:
                r = conn.call_sync("io.appservice1", p, "io.appservice1.Connection", "SendMessage",
                                   GLib.Variant("(a{sv})", ({"Text": GLib.Variant("s", "hello")},)),
                                   None, 0, 30000, None)
                assert r.unpack()[0] == {"Text": "hello"}, r
            round_trips = time.monotonic() - start
            busy = rss_kib(daemon.pid)

            for p in paths:
                conn.call_sync("io.appservice1", p, "io.appservice1.Connection", "Close", None, None, 0, 30000, None)
            time.sleep(0.3)
            after = rss_kib(daemon.pid)

            print(f"appserviced VmRSS idle:                        {idle} KiB")
            print(f"appserviced VmRSS with {n} open connections: {busy} KiB "
                  f"({(busy - idle) * 1024 / n:.0f} bytes per connection)")
            print(f"appserviced VmRSS after closing them:          {after} KiB")
            print(f"{n} OpenConnection calls: {opened:.2f} s; {n} echo round trips: {round_trips:.2f} s "
                  f"({round_trips / n * 1e6:.0f} us each, one client, sequential)")
            conn.close_sync(None)
        finally:
            for p in reversed(procs):
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
