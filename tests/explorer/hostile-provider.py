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
    p.add_argument('--depth', type=int, default=9,
                   help='nesting of a deep request (9: 29 containers, under the limit of 32)')
    p.add_argument('--kinds', default='keys,bytes,deep',
                   help='the requests sent in turn: keys (many keys), bytes (a huge string), '
                   'deep (nested ValueSets)')
    p.add_argument('--uid', type=int, default=None,
                   help='flood only the connections of this uid (others, e.g. the node '
                   "example's broadcasts, are left alone)")
    args = p.parse_args()

    makers = {'keys': lambda: many_keys(args.keys, 0),
              'bytes': lambda: huge_string(args.bytes, 0),
              'deep': lambda: deep(args.depth, 0)}
    # Made once: building them in Python for every request would slow the flood down.
    kinds = [GLib.Variant('a{sv}', makers[k]()) for k in args.kinds.split(',')]
    pending = {'n': 0, 'sent': 0}
    keep = []  # the connections, alive while they flood

    def done(connection, result, i):
        try:
            response = connection.send_message_finish(result)
            error = response.get_error()
            say('request %d: status %d%s' % (i, response.get_status(),
                                             ', ' + error.message if error else ''))
        except GLib.Error as e:
            say('request %d failed: %s' % (i, e.message))
        pending['n'] -= 1
        if pending['n'] == 0:
            say('flood done: %d sent' % pending['sent'])

    def on_connection(provider, connection, caller):
        uid = caller.unpack().get('uid') if caller is not None else None
        if args.uid is not None and uid != args.uid:
            say('connection received from uid %s: left alone' % uid)
            return
        keep.append(connection)
        say('connection received (%s), flooding with %d requests' %
            (connection.get_object_path(), args.count))
        for i in range(args.count):
            message = kinds[i % len(kinds)]
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
