#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A client of io.appservice.gpio on the system bus through the installed libappservice typelib,
run by test_systemd.py as an unprivileged user. Usage:

    gpio_client.py CHIP

Opens the service, lists the chips, drives line 0 of CHIP high, then requests line 1 as an input
with edges and waits for the rising edge that the test makes by pulling the line up once it
reads "waiting-for-edge" on standard output. Prints one JSON object per step; exits non-zero on
any failure.
"""

import json
import sys

import gi

gi.require_version('AppService', '1.0')
from gi.repository import AppService, GLib  # noqa: E402


def say(**fields):
    print(json.dumps(fields), flush=True)


def message(**items):
    return GLib.Variant('a{sv}', items)


def send(connection, **items):
    response = connection.send_message_sync(message(**items), None)
    if response.get_status() != AppService.ResponseStatus.SUCCESS:
        raise RuntimeError('SendMessage: %s' % response.get_status().value_nick)
    reply = response.get_message().unpack()
    if reply.get('Status') != 'ok':
        raise RuntimeError('%s: %s' % (items['Action'].unpack(), reply))
    return reply


def main():
    chip = sys.argv[1]
    connection = AppService.Connection.new('io.appservice.gpio', None)
    loop = GLib.MainLoop()
    edges = []

    def on_request(_connection, request):
        event = request.get_message().unpack()
        if event.get('Event') == 'edge':
            edges.append(event)
            loop.quit()

    connection.connect('request-received', on_request)
    status = connection.open_sync(None)
    say(step='open', status=status.value_nick)

    chips = send(connection, Action=GLib.Variant('s', 'ListChips'))['Chips']
    say(step='list', chips=[c['Name'] for c in chips])

    out = send(connection, Action=GLib.Variant('s', 'Request'), Chip=GLib.Variant('s', chip),
               Lines=GLib.Variant('au', [0]), Direction=GLib.Variant('s', 'output'),
               Values=GLib.Variant('ai', [1]))
    say(step='output', request=out['Request'])

    watch = send(connection, Action=GLib.Variant('s', 'Request'), Chip=GLib.Variant('s', chip),
                 Lines=GLib.Variant('au', [1]), Edge=GLib.Variant('s', 'both'))
    say(step='waiting-for-edge', request=watch['Request'])
    GLib.timeout_add_seconds(60, loop.quit)
    loop.run()
    if not edges:
        raise RuntimeError('no edge event within 60 s')
    say(step='edge', line=edges[0]['Line'], edge=edges[0]['Edge'])
    connection.close_sync(None)
    say(step='closed')


if __name__ == '__main__':
    try:
        main()
    except (GLib.Error, RuntimeError) as e:
        say(step='error', error=str(e))
        sys.exit(1)
