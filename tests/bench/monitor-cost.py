#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Measures what monitoring costs an Echo round trip: nothing while nobody monitors (the broker
checks for monitors before it builds an event), and what each event costs once an administrator
runs `appservicectl monitor`.

Starts a private broker serving the echo example (as echo-overhead.py does) and runs
BUILD_DIR/tests/bench/echo-overhead in passes: without a monitor, with `appservicectl monitor`
attached (`--json`, its lines counted, so every event is also received and formatted), and without again. Prints the
median raw-GDBus round trip of each pass and the events the monitor received. A benchmark: it
prints figures and only fails when something does not work, never on a number.

    tests/bench/monitor-cost.py BUILD_DIR [--count N] [--rounds R]
"""
import argparse
import os
import re
import subprocess
import sys
import time

from privatebroker import describe_machine, private_broker

RAW = re.compile(r'^\s+raw GDBus\s+([\d.]+) µs\s+([\d.]+) µs\s+([\d.]+) µs', re.M)


def one_pass(program, env, args):
    out = subprocess.run([program, f"--count={args.count}", f"--rounds={args.rounds}", "--warmup=200",
                          "--small-only"],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"echo-overhead exited with status {out.returncode}: {out.stderr}")
    small = RAW.search(out.stdout)    # the first table is the small ValueSet
    if not small:
        raise RuntimeError(f"no figures in echo-overhead's output:\n{out.stdout}")
    return float(small.group(2)), float(small.group(3))


def main():
    parser = argparse.ArgumentParser(description="what monitoring costs an Echo round trip")
    parser.add_argument("build_dir")
    parser.add_argument("--count", type=int, default=3000, help="round trips each way, per message (3000)")
    parser.add_argument("--rounds", type=int, default=300, help="rounds (300)")
    args = parser.parse_args()
    build = os.path.abspath(args.build_dir)
    program = os.path.join(build, "tests", "bench", "echo-overhead")
    ctl = os.path.join(build, "appservicectl", "appservicectl")
    for path in (program, ctl, f"{build}/daemon/appserviced", f"{build}/examples/echo/echo-provider"):
        if not os.access(path, os.X_OK):
            print(f"monitor-cost.py: {path} is not built (meson compile -C {args.build_dir})", file=sys.stderr)
            return 1

    echo = ("[App Service]\nName=com.example.echo\nProvider=com.example.EchoApp\n"
            f"Exec={build}/examples/echo/echo-provider\nIdleTimeoutSec=0\n")
    with private_broker(build, {"com.example.echo.appservice": echo}) as (address, env, daemon):
        print(f"monitor-cost: {describe_machine()}", flush=True)
        ctl_env = dict(env, LD_LIBRARY_PATH=os.path.join(build, "libclient"))
        figures = [("no monitor", one_pass(program, env, args))]

        monitor = subprocess.Popen([ctl, "--json", "monitor"], env=ctl_env, stdout=subprocess.PIPE, text=True)
        first = monitor.stdout.readline()    # {"type":"monitoring"} once the broker monitors for it
        if '"monitoring"' not in first:
            print("monitor-cost.py: appservicectl monitor did not start", file=sys.stderr)
            return 1
        figures.append(("1 monitor", one_pass(program, env, args)))
        time.sleep(0.5)                      # let the last events arrive
        monitor.terminate()
        events = sum(1 for _ in monitor.stdout)
        monitor.wait(10)

        figures.append(("no monitor", one_pass(program, env, args)))

    print(f"\nSmall Echo ValueSet, raw GDBus round trip through the broker, {args.count} per pass:")
    print(f"  {'':12} {'wall median':>13} {'client CPU':>13}")
    for name, (median, cpu) in figures:
        print(f"  {name:12} {median:10.2f} µs {cpu:10.2f} µs")
    base = (figures[0][1][0] + figures[2][1][0]) / 2
    print(f"  a monitor adds {figures[1][1][0] - base:+.2f} µs to the median "
          f"({(figures[1][1][0] / base - 1) * 100:+.1f} %); the two passes without differ by "
          f"{figures[2][1][0] - figures[0][1][0]:+.2f} µs (the noise)")
    print(f"  events received by the monitor: {events} (whole run, the library's way too)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
