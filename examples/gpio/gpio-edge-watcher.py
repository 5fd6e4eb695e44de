#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""gpio-edge-watcher.py: watches one GPIO line for edges through the app service
io.appservice.gpio, in Python on libappservice's typelib (PyGObject, from gi.repository import
AppService). services/gpio/README.md has the protocol.

    gpio-edge-watcher.py [--chip CHIP] LINE [--bias BIAS] [--edge EDGE] [--count N]
                         [--bus-address ADDRESS]

It opens a connection to io.appservice.gpio, requests LINE (a name, or an offset on --chip) as an
input with Edge=both (or --edge) and the --bias given, and prints every `edge` event the service
sends on the connection, as it arrives through the connection's request-received signal, one
line each:

    watching gpiochip0 line 3 "button" (request 1): edge both, bias pull-down
    edge chip=gpiochip0 line=3 name=button edge=rising timestamp_ns=5123456789 global_seqno=1 line_seqno=1 lost=0

timestamp_ns is the kernel's (CLOCK_MONOTONIC); lost counts the events the service dropped for
this connection since the previous one (a client that reads too slowly); a gap in global_seqno is
edges the kernel dropped. After --count events (0, the default: until stopped), or on SIGINT or
SIGTERM, it releases the line, closes the connection and exits 0. An error the service answers is
printed with its code and message and the exit status is 1, as when the line goes away with its
chip; 2 is a usage error.

The bus is the system bus (or the one in DBUS_SYSTEM_BUS_ADDRESS) unless --bus-address is given.
From a build tree: GI_TYPELIB_PATH=<build>/libclient LD_LIBRARY_PATH=<build>/libclient.
"""

import argparse
import signal
import sys

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('AppService', '1.0')
from gi.repository import AppService, Gio, GLib  # noqa: E402

GPIO_SERVICE = 'io.appservice.gpio'


class Failure(Exception):
    pass


def value_set(**values):
    """A ValueSet (a{sv}) from keyword arguments that are GLib.Variants already."""
    return GLib.Variant('a{sv}', values)


def describe(chip, offset, name):
    return '%s line %d%s' % (chip, offset, ' "%s"' % name if name else '')


class Watcher:
    def __init__(self, args):
        self.args = args
        self.count = 0
        self.request = None
        self.failure = None
        self.loop = GLib.MainLoop()
        if args.bus_address:
            try:
                bus = Gio.DBusConnection.new_for_address_sync(
                    args.bus_address,
                    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
                    Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
            except GLib.Error as e:
                raise Failure('cannot connect to %s: %s' % (args.bus_address, e.message))
            self.connection = AppService.Connection.new_for_bus(bus, GPIO_SERVICE, None)
        else:
            self.connection = AppService.Connection.new(GPIO_SERVICE, None)
        # The handlers go on before opening and before the request: the first edge may come as
        # soon as the line is requested.
        self.connection.connect('request-received', self.on_request_received)
        self.connection.connect('service-closed', self.on_service_closed)

    def call(self, what, **message):
        """Sends a ValueSet and returns the answer when its Status is ok; raises Failure with the
        service's Error and Message otherwise."""
        try:
            response = self.connection.send_message_sync(value_set(**message), None)
        except GLib.Error as e:
            raise Failure('%s failed: %s' % (what, e.message))
        if response.get_status() != AppService.ResponseStatus.SUCCESS:
            error = response.get_error()
            raise Failure('%s failed: %s' % (what, error.message if error else 'no answer'))
        answer = response.get_message()
        if AppService.value_set_get_string(answer, 'Status') != 'ok':
            raise Failure('%s failed: %s: %s' % (
                what, AppService.value_set_get_string(answer, 'Error') or '(no Error)',
                AppService.value_set_get_string(answer, 'Message') or '(no Message)'))
        return answer.unpack()

    # ---- what the service sends us -----------------------------------------------------------

    def on_request_received(self, connection, request):
        # Events need no answer: the library answers a request nobody keeps with an empty
        # response when it is dropped, which is all the service waits for to send the next one.
        event = request.get_message().unpack()
        kind = event.get('Event')
        if kind == 'edge':
            print('edge chip=%s line=%d name=%s edge=%s timestamp_ns=%d global_seqno=%d '
                  'line_seqno=%d lost=%d' % (
                      event['Chip'], event['Line'], event['Name'], event['Edge'],
                      event['TimestampNs'], event['GlobalSeqno'], event['LineSeqno'],
                      event['Lost']))
            self.count += 1
            if self.args.count and self.count >= self.args.count:
                self.loop.quit()
        elif kind == 'released':
            self.request = None
            self.stop(Failure('the service released the line: %s' % event.get('Reason')))
        else:
            print('unexpected message from the service: %s' % request.get_message().print_(True))

    def on_service_closed(self, connection, status):
        self.request = None
        self.stop(Failure('the connection to %s closed (status %s)' % (GPIO_SERVICE,
                                                                        status.value_nick)))

    def stop(self, failure=None):
        if failure and not self.failure:
            self.failure = failure
        self.loop.quit()

    def on_signal(self):
        print('stopping')
        self.stop()
        return GLib.SOURCE_CONTINUE

    # ---- the run -----------------------------------------------------------------------------

    def run(self):
        args = self.args
        try:
            self.connection.open_sync(None)
        except GLib.Error as e:
            raise Failure('cannot open %s: %s' % (GPIO_SERVICE, e.message))

        signals = [GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, s, self.on_signal)
                   for s in (signal.SIGINT, signal.SIGTERM)]
        try:
            if args.chip is not None and args.line.isdigit():
                lines = GLib.Variant('au', [int(args.line)])
            else:
                lines = GLib.Variant('as', [args.line])
            message = dict(Action=GLib.Variant('s', 'Request'), Lines=lines,
                           Direction=GLib.Variant('s', 'input'),
                           Edge=GLib.Variant('s', args.edge),
                           Consumer=GLib.Variant('s', 'gpio-edge-watcher'))
            if args.chip is not None:
                message['Chip'] = GLib.Variant('s', args.chip)
            if args.bias is not None:
                message['Bias'] = GLib.Variant('s', args.bias)
            answer = self.call('Request', **message)
            self.request = answer['Request']
            line = describe(answer['Chip'], answer['Offsets'][0], answer['Names'][0])
            print('watching %s (request %d): edge %s, bias %s' % (
                line, self.request, args.edge, args.bias or 'as-is'))

            self.loop.run()

            if self.request is not None:
                self.call('Release', Action=GLib.Variant('s', 'Release'),
                          Request=GLib.Variant('u', self.request))
                self.request = None
                print('released %s' % line)
        finally:
            for s in signals:
                GLib.source_remove(s)
            if self.connection.get_is_open():
                self.connection.close_sync(None)
        if self.failure:
            raise self.failure


def main():
    parser = argparse.ArgumentParser(
        description='Watches a GPIO line for edges through %s and prints each. The bus is the '
                    'system bus, or the one in DBUS_SYSTEM_BUS_ADDRESS.' % GPIO_SERVICE)
    parser.add_argument('line', metavar='LINE', help='a line name, or an offset on --chip')
    parser.add_argument('-c', '--chip', help='the chip: device name, path or label '
                        '(required when LINE is an offset)')
    parser.add_argument('-b', '--bias', choices=['as-is', 'disabled', 'pull-up', 'pull-down'],
                        help='the line\'s bias (default: as it is)')
    parser.add_argument('-e', '--edge', choices=['rising', 'falling', 'both'], default='both',
                        help='the edges to watch (default both)')
    parser.add_argument('-n', '--count', type=int, default=0, metavar='N',
                        help='exit after N events (default 0: until SIGINT or SIGTERM)')
    parser.add_argument('--bus-address', metavar='ADDRESS',
                        help='the D-Bus address of the bus (default: the system bus)')
    args = parser.parse_args()
    if args.count < 0:
        parser.error('--count must not be negative')

    # A line at a time even into a pipe: whoever reads sees each edge as it comes.
    sys.stdout.reconfigure(line_buffering=True)
    try:
        Watcher(args).run()
    except Failure as e:
        sys.stdout.flush()
        print('gpio-edge-watcher.py: %s' % e, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
