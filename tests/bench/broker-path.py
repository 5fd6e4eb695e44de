#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The brokered round trip against the plain D-Bus call, on one private bus.

For each build tree given, starts a private system-type dbus-daemon with the project's policy, the
daemon from that tree and, through it, the echo example provider, then runs broker-path (see
broker-path.c; from the first tree unless --client is given): the plain call (a method call to a
process of its own through the same dbus-daemon, the bus's floor), the relay (the brokered path's
five messages between two processes of its own that do nothing else: the protocol's floor) and
the brokered one (Connection.SendMessage through appserviced to the echo provider), each serially
and with DEPTH calls in flight. With several trees (a build before a change and one after) the
trees take turns in each round, so that a change of the machine's load falls on all. Prints each
run's line with the broker's CPU time per call (from /proc), then per tree the medians over the
rounds, and the brokered figures as multiples of the plain ones and of the relay's (the median of
each round's ratio: the runs of a round follow one another, which keeps the machine's changes of
speed between rounds out of the ratios).
A benchmark: it prints figures and only fails when something does not work, never on a number.

    tests/bench/broker-path.py BUILD_DIR [BUILD_DIR...] [--count N] [--depth D] [--size BYTES]
                               [--rounds R] [--client PROGRAM]
"""
import argparse
import os
import statistics
import subprocess
import sys

from privatebroker import describe_machine, private_broker

KEYS = ("p50_us", "p99_us", "calls_per_s", "broker_cpu_us")
MODES = ("plain", "relay", "brokered")


def cpu_seconds(pid):
    """User and system time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(program, address, daemon, mode, count, depth, size):
    args = [program, f"--address={address}", f"--count={count}", f"--depth={depth}", f"--size={size}"]
    args += ["--service=com.example.echo"] if mode == "brokered" else [f"--{mode}"]
    before = cpu_seconds(daemon.pid)
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    # The broker's CPU time per call (warm-up and opening included, a little over).
    cpu_us = (cpu_seconds(daemon.pid) - before) / count * 1e6
    print(f"  {out} broker_cpu_us={cpu_us:.1f}", flush=True)
    fields = dict(w.split("=", 1) for w in out.split()[1:])
    return {k: float(fields[k]) for k in KEYS[:3]} | {"broker_cpu_us": cpu_us}


def main():
    parser = argparse.ArgumentParser(description="the brokered round trip against the plain D-Bus call")
    parser.add_argument("build_dirs", nargs="+", metavar="BUILD_DIR")
    parser.add_argument("--count", type=int, default=10000, help="counted calls per run (10000)")
    parser.add_argument("--depth", type=int, default=16, help="calls in flight in the second kind of run (16)")
    parser.add_argument("--size", type=int, default=16, help="bytes of the string sent (16)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    parser.add_argument("--client", help="the broker-path program (BUILD_DIR/tests/bench/broker-path of the first)")
    args = parser.parse_args()
    builds = [os.path.abspath(b) for b in args.build_dirs]
    program = args.client or os.path.join(builds[0], "tests", "bench", "broker-path")
    for path in [program] + [f"{b}/{p}" for b in builds for p in ("daemon/appserviced", "examples/echo/echo-provider")]:
        if not os.access(path, os.X_OK):
            print(f"broker-path.py: {path} is not built (meson compile, with the tests configured)", file=sys.stderr)
            return 1

    # The plain server owns no name: the bus lets its callers through by interface, one more rule
    # in the same default policy as the broker's.
    plain_policy = '<policy context="default"><allow send_interface="io.appservice1.Bench"/></policy>'
    results = {}
    print(f"broker-path: {describe_machine()}", flush=True)
    for i in range(args.rounds):
        for n, build in enumerate(builds):
            echo = ("[App Service]\nName=com.example.echo\nProvider=com.example.EchoApp\n"
                    f"Exec={build}/examples/echo/echo-provider\n")
            print(f"round {i + 1}, {build}:", flush=True)
            with private_broker(build, {"com.example.echo.appservice": echo}, plain_policy) as (address, _, daemon):
                for depth in (1, args.depth):
                    for mode in MODES:
                        results.setdefault((n, mode, depth), []).append(
                            run(program, address, daemon, mode, args.count, depth, args.size))

    for n, build in enumerate(builds):
        print(f"{build}, medians over {args.rounds} rounds:")
        for depth in (1, args.depth):
            med = {mode: {k: statistics.median(r[k] for r in results[(n, mode, depth)]) for k in KEYS}
                   for mode in MODES}
            for mode in MODES:
                m = med[mode]
                cpu = f"  broker CPU {m['broker_cpu_us']:5.1f} us/call" if mode == "brokered" else ""
                print(f"  {mode:8} depth {depth:2}: p50 {m['p50_us']:7.1f} us  p99 {m['p99_us']:7.1f} us  "
                      f"{m['calls_per_s']:8.0f} calls/s{cpu}")
            # Each round's ratio, then their median: the runs of one round follow one another, so
            # a change of the machine's speed between rounds falls on both sides of a ratio.
            def ratio(a, b, key):
                return statistics.median(x[key] / y[key] for x, y in zip(results[(n, a, depth)],
                                                                         results[(n, b, depth)]))
            for a, b in (("brokered", "plain"), ("relay", "plain"), ("brokered", "relay")):
                print(f"  {a}/{b}:{' ' * (15 - len(a) - len(b))}depth {depth:2}: p50 "
                      f"{ratio(a, b, 'p50_us'):.2f}x  throughput {ratio(a, b, 'calls_per_s'):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
