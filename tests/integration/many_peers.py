# SPDX-License-Identifier: LGPL-2.1-or-later
"""Many distinct bus peers in one process, for the tests that the broker stays up with more peers
than dbus-daemon allows match rules on one connection (tests/integration/test_hardening.py).

    many_peers.py ADDRESS SERVICE COUNT

Opens COUNT connections to the bus at ADDRESS, each opening one connection to SERVICE and sending
it one message, prints one JSON line {"opened": n, "answered": n, "errors": {...}}, and holds
everything until its standard input closes; then it leaves the bus all at once."""

import json
import sys

from gi.repository import Gio, GLib

BUS_NAME = 'io.appservice1'


def main():
    address, service, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
             Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
    buses, opened, answered, errors = [], 0, 0, {}
    for i in range(count):
        try:
            bus = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)
            bus.set_exit_on_close(False)
            buses.append(bus)
            path = bus.call_sync(BUS_NAME, '/io/appservice1', 'io.appservice1.Manager',
                                 'OpenConnection',
                                 GLib.Variant('(ssa{sv})', (service, '', {})), None,
                                 Gio.DBusCallFlags.NONE, 30000, None).unpack()[0]
            opened += 1
            reply = bus.call_sync(BUS_NAME, path, 'io.appservice1.Connection', 'SendMessage',
                                  GLib.Variant('(a{sv})', ({'n': GLib.Variant('u', i)},)),
                                  None, Gio.DBusCallFlags.NONE, 30000, None).unpack()[0]
            if reply.get('n') == i:
                answered += 1
        except GLib.Error as e:
            name = Gio.DBusError.get_remote_error(e) or e.message
            errors[name] = errors.get(name, 0) + 1
    print(json.dumps({'opened': opened, 'answered': answered, 'errors': errors}), flush=True)
    sys.stdin.read()
    for bus in buses:
        try:
            bus.close_sync(None)
        except GLib.Error:
            pass


if __name__ == '__main__':
    main()
