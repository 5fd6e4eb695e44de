#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The HTTP gateway's round trip against a direct library call, on the same service.

On a private broker of a build tree, the Hello sample (its generated C provider, its contract,
AllowHTTP=yes) is called N times one after another in two ways from this one Python process:
through libappservice (AppService.send_message_once_sync, the one-shot Service.SendMessage a
library client makes) and through appservice-http (an HTTP POST of {"text": ...} on a new
connection each time, as the gateway closes each). Prints p50, p90 and p99 of each, and the
gateway's over the library's. The rounds alternate the two ways, so that a change in the
machine's load falls on both.
A benchmark: it prints figures and only fails when something does not work, never on a number.

    tests/bench/gateway-rtt.py BUILD_DIR [--count N] [--rounds R]
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import gi

from privatebroker import describe_machine, private_broker, wait_for

TOKEN = 'bench-token-0123456789abcdef'


def percentiles(samples):
    s = sorted(samples)
    return {p: s[min(len(s) - 1, int(len(s) * p / 100))] * 1e6 for p in (50, 90, 99)}


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description="the gateway's round trip against the library's")
    parser.add_argument("build_dir")
    parser.add_argument("--count", type=int, default=500, help="calls each way per round (500)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds (4)")
    args = parser.parse_args()
    build = os.path.abspath(args.build_dir)
    gateway = os.path.join(build, 'gateway', 'appservice-http')
    provider = os.path.join(build, 'examples', 'hello', 'hello-provider')
    for path in (gateway, provider, os.path.join(build, 'daemon', 'appserviced')):
        if not os.access(path, os.X_OK):
            print(f"gateway-rtt.py: {path} is not built", file=sys.stderr)
            return 1
    # The build tree's library and typelib: found only if the process starts with them.
    libclient = os.path.join(build, 'libclient')
    if os.environ.get('GI_TYPELIB_PATH') != libclient:
        os.execve(sys.executable, [sys.executable] + sys.argv,
                  dict(os.environ, GI_TYPELIB_PATH=libclient, LD_LIBRARY_PATH=libclient))
    gi.require_version('AppService', '1.0')
    from gi.repository import AppService, Gio, GLib

    with open(os.path.join(build, 'examples', 'hello', 'com.example.hello.contract')) as f:
        contract = f.read()
    definition = ("[App Service]\nName=com.example.hello\nProvider=com.example.Hello\n"
                  f"Exec={provider}\nContract=com.example.hello\nAllowHTTP=yes\n")
    print(f"gateway-rtt: {describe_machine()}", flush=True)
    with private_broker(build, {'com.example.hello.appservice': definition,
                                'com.example.hello.contract': contract}) as (address, env, _), \
            tempfile.TemporaryDirectory(prefix='appservice-gateway-bench-') as tmp:
        tokens = os.path.join(tmp, 'tokens')
        with open(tokens, 'w') as f:
            f.write(f'bench root {TOKEN}\n')
        os.chmod(tokens, 0o600)
        port = free_port()
        proc = subprocess.Popen([gateway, '--listen', f'127.0.0.1:{port}', '--tokens', tokens], env=env,
                                stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: socket.socket().connect_ex(('127.0.0.1', port)) == 0, 10, 'the gateway')
            bus = Gio.DBusConnection.new_for_address_sync(
                address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
                None, None)
            message = GLib.Variant('a{sv}', {'Action': GLib.Variant('s', 'Hello'), 'text': GLib.Variant('s', 'bench')})
            body = json.dumps({'text': 'bench'}).encode()

            def library():
                r = AppService.send_message_once_sync(bus, 'com.example.hello', message, None)
                assert r.get_status() == AppService.ResponseStatus.SUCCESS

            def http_post():
                c = http.client.HTTPConnection('127.0.0.1', port)
                c.request('POST', '/v1/services/com.example.hello/Hello', body=body,
                          headers={'Authorization': 'Bearer ' + TOKEN})
                r = c.getresponse()
                assert r.status == 200 and json.loads(r.read()) == {'result': 'Hello, bench!'}
                c.close()

            times = {'library': [], 'gateway': []}
            for way, call in (('library', library), ('gateway', http_post)):
                for _ in range(50):      # warm-up: the provider's start, the caches
                    call()
            for _ in range(args.rounds):
                for way, call in (('library', library), ('gateway', http_post)):
                    for _ in range(args.count):
                        start = time.perf_counter()
                        call()
                        times[way].append(time.perf_counter() - start)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    p = {way: percentiles(t) for way, t in times.items()}
    for way in ('library', 'gateway'):
        print(f"  {way:8} p50 {p[way][50]:7.1f} us  p90 {p[way][90]:7.1f} us  p99 {p[way][99]:7.1f} us  "
              f"({len(times[way])} calls)")
    print(f"  gateway/library: p50 {p['gateway'][50] / p['library'][50]:.2f}x  p90 "
          f"{p['gateway'][90] / p['library'][90]:.2f}x")
    return 0


if __name__ == '__main__':
    sys.exit(main())
