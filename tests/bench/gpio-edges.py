#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Measures GPIO edge delivery through io.appservice.gpio against libgpiod read directly.

Runs INSIDE the tests/vm guest (it needs root and gpio-sim): makes a gpio-sim chip
(tests/vm/gpiosim.py), starts a private system-type dbus-daemon with the project's policy and the
broker of a build tree serving the build tree's definition of io.appservice.gpio (whose Exec= is
the provider just built, run as root), then runs BUILD_DIR/tests/bench/gpio-edges (see
gpio-edges.c) on one line of the chip: edges made by pulling the line through sysfs, received
first with libgpiod directly, then as the service's `edges` events (a Request with EdgeBatch)
through libappservice. Prints the rates, what was lost and the latencies, the service's figures
over the floor's, and the two ratios the service is judged by: the rate without loss (goal: 0.5
or more) and the median latency (goal: 3 or less). A benchmark: it prints figures and fails only
when something does not work, never on a number.

    tests/vm/run-vm --cache DIR -- /usr/bin/python3 tests/bench/gpio-edges.py BUILD_DIR [OPTIONS]

OPTIONS are gpio-edges's own (--edges N, --paced R,R,..., --paced-edges N, --latency-edges N,
--pause-ms N, --only floor|service, --batch N: the EdgeBatch asked for, default 256, 0 for one
`edge` event per edge as a client from before EdgeBatch gets them), passed on. With --bus-address ADDRESS, the broker already
running on that bus is used instead of a private one (it must serve io.appservice.gpio).

BUILD_DIR is configured with the tests (`-Dtests=enabled` or auto) and libgpiod v2, which builds
the program and the provider. It must be a path the guest sees: the guest's /tmp is its own.
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_ROOT, 'tests', 'vm'))

import gpiosim  # noqa: E402
from privatebroker import describe_machine, private_broker  # noqa: E402

OFFSET = 0


def main():
    parser = argparse.ArgumentParser(
        description='GPIO edge delivery through io.appservice.gpio against libgpiod, on a '
                    'gpio-sim chip (inside the tests/vm guest)',
        epilog='Other options are passed on to gpio-edges (--edges, --paced, --paced-edges, '
               '--latency-edges, --pause-ms, --only, --batch).')
    parser.add_argument('build_dir')
    parser.add_argument('--bus-address', help="a bus whose broker serves io.appservice.gpio "
                        "already (default: start a private one)")
    args, passed_on = parser.parse_known_args()
    build = os.path.abspath(args.build_dir)
    program = os.path.join(build, 'tests', 'bench', 'gpio-edges')
    definition = os.path.join(build, 'services', 'gpio', 'io.appservice.gpio.appservice')
    needed = [program] + ([] if args.bus_address else [f'{build}/daemon/appserviced', definition])
    for path in needed:
        if not os.path.exists(path):
            print(f'gpio-edges.py: {path} is not built (meson compile -C {args.build_dir}, with '
                  'the tests configured and libgpiod v2 installed)', file=sys.stderr)
            return 1
    if os.geteuid() != 0 or not os.path.isdir(gpiosim.CONFIGFS):
        print('gpio-edges.py: needs root and gpio-sim: run it inside the tests/vm guest',
              file=sys.stderr)
        return 1

    with gpiosim.Chip(num_lines=8, names={OFFSET: 'bench-edges'}, label='gpio-edges') as chip:
        command = [program, f'--chip={chip.name}', f'--offset={OFFSET}'] + passed_on
        print(f'gpio-edges: {describe_machine()}', flush=True)
        if args.bus_address:
            result = subprocess.run(command + [f'--bus-address={args.bus_address}'])
        else:
            with open(definition) as f:
                text = f.read()
            with private_broker(build, {'io.appservice.gpio.appservice': text}) as (address, env, daemon):
                # The program opens the connection itself (the broker starts the provider).
                result = subprocess.run(command, env=env)
    if result.returncode != 0:
        print(f'gpio-edges.py: gpio-edges exited with status {result.returncode}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
