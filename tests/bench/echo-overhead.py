#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Measures what libappservice-1 adds to an Echo round trip, against the raw GDBus call.

Starts a private system-type dbus-daemon with the project's policy, the daemon from the build tree
and, through it, the echo example provider, then runs BUILD_DIR/tests/bench/echo-overhead (see
echo-overhead.c) against that bus: the same message sent N times through
app_service_connection_send_message_sync() and N times as a raw g_dbus_connection_call_sync() of
io.appservice1.Connection.SendMessage on the same connection, alternating in rounds, for a small
ValueSet and a 64 KiB one. Prints the per-round-trip mean and median of both and the overhead. A
benchmark: it prints figures and only fails when something does not work, never on a number.

    tests/bench/echo-overhead.py BUILD_DIR [--count N] [--rounds R] [--warmup W]

BUILD_DIR is configured with the tests (`-Dtests=enabled` or auto), which builds the program.
"""
import argparse
import os
import subprocess
import sys

from privatebroker import describe_machine, private_broker


def main():
    parser = argparse.ArgumentParser(description="libappservice-1's overhead on an Echo round trip")
    parser.add_argument("build_dir")
    parser.add_argument("--count", type=int, default=5000, help="round trips each way, per message (5000)")
    parser.add_argument("--rounds", type=int, default=1000, help="rounds the two ways alternate in (1000)")
    parser.add_argument("--warmup", type=int, default=200, help="uncounted round trips each way first (200)")
    args = parser.parse_args()
    build = os.path.abspath(args.build_dir)
    program = os.path.join(build, "tests", "bench", "echo-overhead")
    for path in (program, f"{build}/daemon/appserviced", f"{build}/examples/echo/echo-provider"):
        if not os.access(path, os.X_OK):
            print(f"echo-overhead.py: {path} is not built (meson compile -C {args.build_dir}, "
                  "with the tests configured)", file=sys.stderr)
            return 1

    echo = ("[App Service]\nName=com.example.echo\nProvider=com.example.EchoApp\n"
            f"Exec={build}/examples/echo/echo-provider\n")
    with private_broker(build, {"com.example.echo.appservice": echo}) as (address, env, daemon):
        print(f"echo-overhead: {describe_machine()}", flush=True)
        # The program opens the connection itself (the broker starts the echo provider), and
        # prints the figures.
        result = subprocess.run([program, f"--count={args.count}", f"--rounds={args.rounds}",
                                 f"--warmup={args.warmup}"], env=env)
        if result.returncode != 0:
            print(f"echo-overhead.py: echo-overhead exited with status {result.returncode}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
