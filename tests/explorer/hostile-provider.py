# SPDX-License-Identifier: LGPL-2.1-or-later
"""A hostile provider for the explorer's test (test_explorer.py, test_hostile_provider): it
registers NAME and, on every connection it receives, floods the client with requests without
waiting for their answers: ValueSets of many keys, of huge strings and of deeply nested ValueSets,
in turn. It writes one line a request to stderr as its fate is known ('answered', 'failed: ...')
and 'flood done: SENT sent' once every send has finished (answered, refused or timed out).

    GI_TYPELIB_PATH=build/libclient LD_LIBRARY_PATH=build/libclient \\
        /usr/bin/python3 hostile-provider.py --name com.example.hostile --count 300
"""

import argparse
import sys

import gi

gi.require_version('AppService', '1.0')
from gi.repository import AppService, GLib  # noqa: E402


def say(text):
    sys.stderr.write(text + '\n')
    sys.stderr.flush()


def many_keys(n, i):
    return {'key%05d' % k: GLib.Variant('s', 'value %d of request %d' % (k, i)) for k in range(n)}


def huge_string(size, i):
    return {'Huge': GLib.Variant('s', ('request %d ' % i) + 'x' * size)}


def deep(depth, i):
    value = {'Bottom': GLib.Variant('u', i)}
    for level in range(depth):
        value = {'Level%d' % level: GLib.Variant('a{sv}', value)}
    return value


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--name', required=True)
    p.add_argument('--count', type=int, default=300, help='requests a connection')
    p.add_argument('--keys', type=int, default=4000, help='keys of a many-keys request')
    p.add_argument('--bytes', type=int, default=400000, help='size of a huge string')
    p.add_argument('--depth', type=int, default=24, help='nesting of a deep request')
    args = p.parse_args()

    kinds = [lambda i: many_keys(args.keys, i), lambda i: huge_string(args.bytes, i),
             lambda i: deep(args.depth, i)]
    pending = {'n': 0, 'sent': 0}
    keep = []  # the connections, alive while they flood

    def done(connection, result, i):
        try:
            connection.send_message_finish(result)
            say('request %d answered' % i)
        except GLib.Error as e:
            say('request %d failed: %s' % (i, e.message))
        pending['n'] -= 1
        if pending['n'] == 0:
            say('flood done: %d sent' % pending['sent'])

    def on_connection(provider, connection, caller):
        keep.append(connection)
        say('connection received, flooding with %d requests' % args.count)
        for i in range(args.count):
            message = GLib.Variant('a{sv}', kinds[i % len(kinds)](i))
            pending['n'] += 1
            pending['sent'] += 1
            connection.send_message(message, None, done, i)

    provider = AppService.Provider.new(args.name)
    provider.connect('connection-received', on_connection)
    try:
        provider.register_sync(None)
    except GLib.Error as e:
        sys.exit('cannot serve %s: %s' % (args.name, e.message))
    say('serving %s' % args.name)
    GLib.MainLoop().run()  # until SIGTERM


if __name__ == '__main__':
    main()
