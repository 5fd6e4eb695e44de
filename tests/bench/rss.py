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
import sys
import time

from gi.repository import GLib

from privatebroker import connect, private_broker

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build_dir")
    parser.add_argument("--connections", type=int, default=1000)
    args = parser.parse_args()
    build = os.path.abspath(args.build_dir)
    n = args.connections

    echo = ("[App Service]\nName=com.example.echo\nProvider=com.example.EchoApp\n"
            f"Exec={build}/examples/echo/echo-provider\nMaxConnectionsPerPeer={n}\n")
    with private_broker(build, {"com.example.echo.appservice": echo}) as (address, env, daemon):
        conn = connect(address)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
