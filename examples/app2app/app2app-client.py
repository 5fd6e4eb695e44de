#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""app2app-client.py: the client half of the App2App sample in Python, a port of the Windows IoT
Core "PythonApp2App" sample's client (AppClient) to appservice, through PyGObject and
libappservice's typelib (from gi.repository import AppService).

The original's flow, each wait bounded by --timeout:
  1. open a connection to "com.example.app2app" (the broker starts the provider if needed);
  2. wait for the provider's greeting (a request from the provider side) and answer it;
  3. send {"Command": "TestValues"} and print the typed values that come back;
  4. send an Echo with a string, and check that the answer is the message itself;
  5. send the test values back with "Command": "Echo" and compare the answer value by value,
     type included (GLib.Variant equality);
  6. send {"Command": "Disconnect"} and wait for service-closed with status Completed.
Exit status 0 only if every step succeeded and every value matched; otherwise 1, with the reason
on stderr.

Run from a build tree with GI_TYPELIB_PATH=<build>/libclient LD_LIBRARY_PATH=<build>/libclient;
the bus is the system bus, or the one in DBUS_SYSTEM_BUS_ADDRESS.
"""

import argparse
import sys
import time

import gi

gi.require_version('GLib', '2.0')
gi.require_version('AppService', '1.0')
from gi.repository import AppService, GLib, Gio  # noqa: E402

APP2APP_NAME = 'com.example.app2app'
APP2APP_PROVIDER = 'com.example.App2App'
ECHO_TEXT = 'this should be echoed back'


class Failure(Exception):
    pass


def value_set(**values):
    """A ValueSet (a{sv}) from keyword arguments that are GLib.Variants already."""
    return GLib.Variant('a{sv}', values)


def print_value_set(message):
    """One value a line: key, D-Bus type, value in GVariant text format (the C client prints the
    same lines)."""
    for i in range(message.n_children()):
        entry = message.get_child_value(i)
        key = entry.get_child_value(0).get_string()
        value = entry.get_child_value(1).get_variant()
        text = 'null' if AppService.value_is_null(value) else value.print_(False)
        print('    %-16s %-4s %s' % (key, value.get_type_string(), text))


class Client:
    def __init__(self, timeout, node=None):
        self.timeout = timeout
        self.node = node
        self.cancellable = Gio.Cancellable()
        self.greeted = False
        self.closed_status = None
        self.connection = AppService.Connection.new(APP2APP_NAME, APP2APP_PROVIDER)
        if node:
            # The app service on another node, through the MQTT bridges (services/mqtt).
            self.connection.set_property('node', node)
        # The handlers go on before opening: the greeting may come at once.
        self.connection.connect('request-received', self.on_request_received)
        self.connection.connect('service-closed', self.on_service_closed)

    # ---- waiting, always with a deadline -----------------------------------------------------

    def wait_for(self, done, what):
        """Runs the main context until done() is true or the timeout passes. Signals (the
        greeting, service-closed) are delivered while it waits."""
        context = GLib.MainContext.default()
        deadline = time.monotonic() + self.timeout
        wakeup = GLib.timeout_add(100, lambda: GLib.SOURCE_CONTINUE)
        try:
            while not done():
                if time.monotonic() >= deadline:
                    self.cancellable.cancel()
                    raise Failure('timed out after %d s waiting for %s' % (self.timeout, what))
                context.iteration(True)
        finally:
            GLib.source_remove(wakeup)

    def call(self, start, finish, what):
        """Starts an async call and waits for its result: start(cancellable, callback), then
        finish(result)."""
        results = []
        start(self.cancellable, lambda source, result: results.append(result))
        self.wait_for(lambda: results, what)
        return finish(results[0])

    # ---- what the provider does to us --------------------------------------------------------

    def on_request_received(self, connection, request):
        message = request.get_message()
        print()
        print('Request received from the provider:')
        print_value_set(message)
        greeting = AppService.value_set_get_string(message, 'Greeting')
        if greeting is not None:
            print('Greeting received: %s' % greeting)
        print('Sending the response...')
        request.send_response(value_set(Greeting=GLib.Variant('s', 'Thank you')), self.cancellable,
                              self.on_greeting_answered)

    def on_greeting_answered(self, request, result):
        try:
            status = request.send_response_finish(result)
        except GLib.Error as e:
            print('Response status: failed (%s)' % e.message)
            return
        print('Response status: %s' % status.value_nick)
        self.greeted = status == AppService.ResponseStatus.SUCCESS

    def on_service_closed(self, connection, status):
        self.closed_status = status

    # ---- the steps ---------------------------------------------------------------------------

    def send(self, message, what):
        """Sends `message`, waits for the answer, prints the status; returns the answer's
        ValueSet (or raises Failure)."""
        try:
            response = self.call(lambda c, cb: self.connection.send_message(message, c, cb),
                                 self.connection.send_message_finish, what)
        except GLib.Error as e:
            raise Failure('%s failed: %s' % (what, e.message))
        status = response.get_status()
        print('Status: %s' % status.value_nick)
        if status != AppService.ResponseStatus.SUCCESS:
            error = response.get_error()
            raise Failure('%s failed with status %s: %s' % (
                what, status.value_nick, error.message if error else 'no reason given'))
        return response.get_message()

    def run(self):
        # 1. Open.
        if self.node:
            print('Opening %s (provider %s) on node %s...' % (APP2APP_NAME, APP2APP_PROVIDER,
                                                            self.node))
        else:
            print('Opening %s (provider %s)...' % (APP2APP_NAME, APP2APP_PROVIDER))
        try:
            status = self.call(self.connection.open, self.connection.open_finish,
                               'the connection to open')
        except GLib.Error as e:
            status = AppService.connection_status_from_error(e)
            print('Open status: %s' % status.value_nick)
            raise Failure('cannot open %s: %s' % (APP2APP_NAME, e.message))
        print('Open status: %s' % status.value_nick)
        if status != AppService.ConnectionStatus.SUCCESS:
            raise Failure('cannot open %s: status %s' % (APP2APP_NAME, status.value_nick))

        # 2. The provider greets us; on_request_received() answers.
        self.wait_for(lambda: self.greeted, "the provider's greeting")

        # 3. The test values.
        print()
        print('Sending TestValues...')
        test_values = self.send(value_set(Command=GLib.Variant('s', 'TestValues')), 'TestValues')
        n_values = test_values.n_children()
        print('Message: %d values' % n_values)
        print_value_set(test_values)
        if n_values == 0:
            raise Failure('TestValues came back empty')

        # 4. A plain echo.
        print()
        print('Sending Echo with a string...')
        message = value_set(Command=GLib.Variant('s', 'Echo'), String=GLib.Variant('s', ECHO_TEXT))
        echoed = self.send(message, 'Echo')
        print('Message:')
        print_value_set(echoed)
        if echoed != message:
            raise Failure('the Echo answer differs from the message sent')

        # 5. The test values, echoed back: the original adds the command to the values. The
        # entries are copied as they are (an a{sv} built from a dict would keep the order too,
        # but this way nothing is unpacked and rebuilt).
        print()
        print('Sending the test values back with Echo...')
        entries = [test_values.get_child_value(i) for i in range(n_values)]
        entries = [e for e in entries if e.get_child_value(0).get_string() != 'Command']
        entries.append(GLib.Variant.new_dict_entry(GLib.Variant('s', 'Command'),
                                                   GLib.Variant('v', GLib.Variant('s', 'Echo'))))
        message = GLib.Variant.new_array(GLib.VariantType.new('{sv}'), entries)
        echoed = self.send(message, 'Echo of the test values')
        n_equal = 0
        for i in range(n_values):
            entry = test_values.get_child_value(i)
            key = entry.get_child_value(0).get_string()
            sent = entry.get_child_value(1).get_variant()
            got = echoed.lookup_value(key, None)
            if got is not None and got == sent:    # GLib.Variant equality: type and value
                n_equal += 1
            else:
                print('    MISMATCH %s: sent %s, got back %s' % (
                    key, sent.print_(True), got.print_(True) if got is not None else '(missing)'))
        print('%d of %d values compared equal (type and value)' % (n_equal, n_values))
        if n_equal != n_values:
            raise Failure('%d of %d test values came back different' %
                          (n_values - n_equal, n_values))
        if echoed != message:
            raise Failure('the echoed test values differ from the message sent '
                          '(extra or reordered keys)')

        # 6. Disconnect: the provider answers, then closes; we get service-closed.
        print()
        print('Sending Disconnect...')
        answer = self.send(value_set(Command=GLib.Variant('s', 'Disconnect')), 'Disconnect')
        print('Message:')
        print_value_set(answer)
        self.wait_for(lambda: self.closed_status is not None, 'service-closed after Disconnect')
        print('Service closed: %s' % self.closed_status.value_nick)
        if self.closed_status != AppService.ClosedStatus.COMPLETED:
            raise Failure('the connection closed with status %s, expected completed' %
                          self.closed_status.value_nick)

        print()
        print('App2App client (Python): all checks passed')


def main():
    parser = argparse.ArgumentParser(
        description='The App2App sample\'s client, in Python: opens com.example.app2app, answers '
                    'the provider\'s greeting, fetches typed test values, echoes them back, '
                    'compares, and disconnects. The bus is the system bus, or the one in '
                    'DBUS_SYSTEM_BUS_ADDRESS.')
    parser.add_argument('-t', '--timeout', type=int, default=20, metavar='SECONDS',
                        help='seconds to wait at each step (default 20)')
    parser.add_argument('-n', '--node', metavar='NODE',
                        help='open the app service on that node, through the MQTT bridges '
                             '(default: this one)')
    args = parser.parse_args()
    if args.timeout <= 0:
        parser.error('--timeout must be positive')
    if args.node is not None and not args.node:
        parser.error('--node must not be empty')

    # A line at a time even into a pipe, so that the transcript interleaves in order with the
    # provider's log (as in tools/demo).
    sys.stdout.reconfigure(line_buffering=True)
    try:
        Client(args.timeout, args.node).run()
    except Failure as e:
        sys.stdout.flush()
        print('app2app-client.py: FAILED: %s' % e, file=sys.stderr)
        return 1
    finally:
        sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
