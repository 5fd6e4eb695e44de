#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the broker's contract check costs a round trip.

Starts, for each round, two private brokers of one build tree in turn, each with the echo example
as com.example.echo answering without the request's "Action" (--strip-action): one where the
definition names a contract (Contract=, method Echo(Text: string) -> (Text: string), checked on
the way there and back) and one without. broker-path (broker-path.c) sends the same
{"Action": "Echo", "Text": ...} messages to both, serially and with DEPTH in flight. Prints each
run and the medians over the rounds of p50, p99, calls/s and the broker's CPU time per call, and
the check's cost: each figure with a contract over the same without, minus one (each round's
ratio, then their median).
A benchmark: it prints figures and only fails when something does not work, never on a number.

    tests/bench/contract-cost.py BUILD_DIR [--count N] [--depth D] [--size BYTES] [--rounds R]
"""
import argparse
import os
import statistics
import subprocess
import sys

from privatebroker import describe_machine, private_broker

CONTRACT = """\
# The benchmark's echo: the text comes back.
interface com.example.bench

method Echo(Text: string) -> (Text: string)
"""
KEYS = ("p50_us", "p99_us", "calls_per_s", "broker_cpu_us")
KINDS = ("without", "with")


def cpu_seconds(pid):
    """User and system time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(program, address, daemon, count, depth, size):
    args = [program, f"--address={address}", "--service=com.example.echo", "--action=Echo",
            f"--count={count}", f"--depth={depth}", f"--size={size}"]
    before = cpu_seconds(daemon.pid)
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    # The broker's CPU time per call (warm-up and opening included, a little over): the check's
    # own cost, which the latencies show only through the noise of two processes' scheduling.
    cpu_us = (cpu_seconds(daemon.pid) - before) / count * 1e6
    fields = dict(w.split("=", 1) for w in out.split()[1:])
    return f"{out} broker_cpu_us={cpu_us:.1f}", {k: float(fields[k]) for k in KEYS[:3]} | {"broker_cpu_us": cpu_us}


def main():
    parser = argparse.ArgumentParser(description="the contract check's cost on a brokered round trip")
    parser.add_argument("build_dir", metavar="BUILD_DIR")
    parser.add_argument("--count", type=int, default=10000, help="counted calls per run (10000)")
    parser.add_argument("--depth", type=int, default=16, help="calls in flight in the second kind of run (16)")
    parser.add_argument("--size", type=int, default=16, help="bytes of the text sent (16)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    args = parser.parse_args()
    build = os.path.abspath(args.build_dir)
    program = os.path.join(build, "tests", "bench", "broker-path")
    for path in (program, f"{build}/daemon/appserviced", f"{build}/examples/echo/echo-provider"):
        if not os.access(path, os.X_OK):
            print(f"contract-cost.py: {path} is not built (meson compile, with the tests configured)", file=sys.stderr)
            return 1

    results = {}
    print(f"contract-cost: {describe_machine()}", flush=True)
    for i in range(args.rounds):
        for kind in KINDS:
            echo = ("[App Service]\nName=com.example.echo\nProvider=com.example.EchoApp\n"
                    f"Exec={build}/examples/echo/echo-provider --strip-action\n")
            files = {}
            if kind == "with":
                echo += "Contract=com.example.bench\n"
                files["com.example.bench.contract"] = CONTRACT
            files["com.example.echo.appservice"] = echo
            with private_broker(build, files) as (address, _, daemon):
                for depth in (1, args.depth):
                    out, figures = run(program, address, daemon, args.count, depth, args.size)
                    print(f"  round {i + 1}, {kind} a contract: {out}", flush=True)
                    results.setdefault((kind, depth), []).append(figures)

    print(f"medians over {args.rounds} rounds:")
    for depth in (1, args.depth):
        for kind in KINDS:
            m = {k: statistics.median(r[k] for r in results[(kind, depth)]) for k in KEYS}
            print(f"  {kind:7} a contract, depth {depth:2}: p50 {m['p50_us']:7.1f} us  p99 {m['p99_us']:7.1f} us  "
                  f"{m['calls_per_s']:8.0f} calls/s  broker CPU {m['broker_cpu_us']:5.1f} us/call")
        cost = statistics.median(w["p50_us"] / o["p50_us"] - 1
                                 for w, o in zip(results[("with", depth)], results[("without", depth)]))
        rate = statistics.median(o["calls_per_s"] / w["calls_per_s"] - 1
                                 for w, o in zip(results[("with", depth)], results[("without", depth)]))
        cpu = statistics.median(w["broker_cpu_us"] / o["broker_cpu_us"] - 1
                                for w, o in zip(results[("with", depth)], results[("without", depth)]))
        print(f"  the contract check's cost, depth {depth:2}: p50 {cost * 100:+.1f} %, throughput {rate * 100:+.1f} %, "
              f"broker CPU per call {cpu * 100:+.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
