#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""app2app-client.py: the client half of the App2App sample in Python, a port of the Windows IoT
Core "PythonApp2App" sample's client (AppClient) to appservice, on the module appservice-codegen
generates from com.example.app2app.contract (app_to_app_client.py, in the build tree).

The original's flow, each wait bounded by --timeout:
  1. open a connection to "com.example.app2app" (the broker starts the provider if needed);
  2. wait for the provider's greeting (the contract's callback Greet) and answer it;
  3. call TestValues and print the values that come back (Python values: the contract gives each
     its D-Bus type, and the broker checked them);
  4. call Echo with a text, and check that the same text comes back, alone;
  5. call Echo with the test values and compare the answer value by value;
  6. call Disconnect and wait for service-closed with status Completed.
Exit status 0 only if every step succeeded and every value matched; otherwise 1, with the reason
on stderr.

Run from a build tree with PYTHONPATH=<build>/examples/app2app (the generated module),
GI_TYPELIB_PATH=<build>/libclient and LD_LIBRARY_PATH=<build>/libclient; the bus is the system
bus, or the one in DBUS_SYSTEM_BUS_ADDRESS.
"""

import argparse
import math
import sys
import time

from app_to_app_client import AppService, AppToAppClient, GLib, Gio

APP2APP_NAME = 'com.example.app2app'
APP2APP_PROVIDER = 'com.example.App2App'
ECHO_TEXT = 'this should be echoed back'


class Failure(Exception):
    pass


def print_value_set(message):
    """One value a line: key, D-Bus type, value in GVariant text format (the C client prints the
    same lines)."""
    for i in range(message.n_children()):
        entry = message.get_child_value(i)
        key = entry.get_child_value(0).get_string()
        value = entry.get_child_value(1).get_variant()
        text = 'null' if AppService.value_is_null(value) else value.print_(False)
        print('    %-16s %-4s %s' % (key, value.get_type_string(), text))


def print_values(values):
    """One value a line: key and the Python value (None for a null)."""
    for key, value in values.items():
        print('    %-16s %r' % (key, value))


def same(a, b):
    """Equal as Python values, and of the same Python type (a float is not an int)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


class App2App(AppToAppClient):
    """The generated client, with the contract's callback Greet answered."""

    def __init__(self, connection, cancellable):
        super().__init__(connection)
        self.cancellable = cancellable
        self.greeted = False

    def greet(self, greeting, caller):
        print()
        print('Greeting received: %s' % greeting)
        print('Caller:')
        print_value_set(GLib.Variant("a{sv}", caller))
        print('Sending the response...')
        return 'Thank you'

    def answered(self, action, error):
        if error is not None:
            print('Response status: failed (%s)' % error.message)
            return
        print('Response status: success')
        self.greeted = self.greeted or action == 'Greet'


class Client:
    def __init__(self, timeout, node=None):
        self.timeout = timeout
        self.node = node
        self.cancellable = Gio.Cancellable()
        self.closed_status = None
        self.connection = AppService.Connection.new(APP2APP_NAME, APP2APP_PROVIDER)
        if node:
            # The app service on another node, through the MQTT bridges (services/mqtt).
            self.connection.set_property('node', node)
        # The handlers go on before opening: the greeting may come at once.
        self.app2app = App2App(self.connection, self.cancellable)
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
        """Starts an async call and waits for its result: start(callback), then finish(result);
        prints the status, raises Failure with the reason."""
        results = []
        start(lambda source, result, *_: results.append(result))
        self.wait_for(lambda: results, what)
        try:
            answer = finish(results[0])
        except GLib.Error as e:
            raise Failure('%s failed: %s' % (what, e.message))
        except Exception as e:     # the generated module's contract errors
            raise Failure('%s failed: %s' % (what, e))
        print('Status: success')
        return answer

    def on_service_closed(self, connection, status):
        self.closed_status = status

    # ---- the steps ---------------------------------------------------------------------------

    def run(self):
        app2app = self.app2app

        # 1. Open.
        if self.node:
            print('Opening %s (provider %s) on node %s...' % (APP2APP_NAME, APP2APP_PROVIDER,
                                                            self.node))
        else:
            print('Opening %s (provider %s)...' % (APP2APP_NAME, APP2APP_PROVIDER))
        results = []
        self.connection.open(self.cancellable, lambda source, result: results.append(result))
        self.wait_for(lambda: results, 'the connection to open')
        try:
            status = self.connection.open_finish(results[0])
        except GLib.Error as e:
            status = AppService.connection_status_from_error(e)
            print('Open status: %s' % status.value_nick)
            raise Failure('cannot open %s: %s' % (APP2APP_NAME, e.message))
        print('Open status: %s' % status.value_nick)
        if status != AppService.ConnectionStatus.SUCCESS:
            raise Failure('cannot open %s: status %s' % (APP2APP_NAME, status.value_nick))

        # 2. The provider greets us; App2App.greet() answers.
        self.wait_for(lambda: app2app.greeted, "the provider's greeting")

        # 3. The test values: the record TypedValues, as a dict.
        print()
        print('Calling TestValues...')
        test_values = self.call(
            lambda cb: app2app.test_values_async(cancellable=self.cancellable, callback=cb),
            app2app.test_values_finish, 'TestValues')
        print('Values: %d' % len(test_values))
        print_values(test_values)

        # 4. A plain echo: the text, and nothing else.
        print()
        print('Calling Echo with a text...')
        text, values = self.call(
            lambda cb: app2app.echo_async(text=ECHO_TEXT, cancellable=self.cancellable, callback=cb),
            app2app.echo_finish, 'Echo')
        print('Text: %s' % text)
        if text != ECHO_TEXT or values is not None:
            raise Failure('the Echo answer differs from the text sent')

        # 5. The test values, echoed back.
        print()
        print('Calling Echo with the test values...')
        text, echoed = self.call(
            lambda cb: app2app.echo_async(values=test_values, cancellable=self.cancellable,
                                          callback=cb),
            app2app.echo_finish, 'Echo of the test values')
        if echoed is None or text is not None:
            raise Failure('the Echo of the test values came back without them, or with a text')
        n_equal = 0
        for key, sent in test_values.items():
            got = echoed.get(key)
            if same(sent, got):
                n_equal += 1
            else:
                print('    MISMATCH %s: sent %r, got back %r' % (key, sent, got))
        n_values = len(test_values)
        print('%d of %d values compared equal (Python value and type)' % (n_equal, n_values))
        if n_equal != n_values:
            raise Failure('%d of %d test values came back different' %
                          (n_values - n_equal, n_values))

        # 6. Disconnect: the provider answers, then closes; we get service-closed.
        print()
        print('Calling Disconnect...')
        status = self.call(
            lambda cb: app2app.disconnect_async(cancellable=self.cancellable, callback=cb),
            app2app.disconnect_finish, 'Disconnect')
        print('Disconnect status: %s' % status)
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
