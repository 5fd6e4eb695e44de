#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A provider for test_orchestrator.py, started by appserviced through Exec= in the guest. It
speaks the D-Bus contract directly (Gio only), so that what reaches the journal is what the
contract's Service.Log asked for, nothing from the client library.

It serves $APPSERVICE_NAME and says so on stdout, and once on stderr. A request with Action=fault reports an error through Service.Log
(code and text from the request's Code and Text) before it answers {"Status": "ok"}.
"""

import os
import sys

from gi.repository import Gio, GLib

BUS_NAME = 'io.appservice1'


def main():
    name = os.environ['APPSERVICE_NAME']
    bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
    service_path = None    # known once registered, before any request can come

    def on_request(connection, sender, path, interface, member, parameters):
        request, message = parameters.unpack()
        if message.get('Action') == 'fault':
            bus.call_sync(BUS_NAME, service_path, 'io.appservice1.Service', 'Log',
                          GLib.Variant('(sss)', ('error', message['Code'], message['Text'])),
                          None, Gio.DBusCallFlags.NONE, -1, None)
        bus.call_sync(BUS_NAME, path, 'io.appservice1.Connection', 'SendResponse',
                      GLib.Variant('(ta{sv})', (request, {'Status': GLib.Variant('s', 'ok')})),
                      None, Gio.DBusCallFlags.NONE, -1, None)

    # Subscribed before registering: the first request may follow the registration at once.
    # By the broker's unique name: GDBus matches a well-known sender name only while it tracks it.
    owner = bus.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetNameOwner',
                          GLib.Variant('(s)', (BUS_NAME,)), None, Gio.DBusCallFlags.NONE, -1, None).unpack()[0]
    bus.signal_subscribe(owner, 'io.appservice1.Connection', 'RequestReceived', None, None,
                         Gio.DBusSignalFlags.NONE, on_request)
    service_path, _config = bus.call_sync(
        BUS_NAME, '/io/appservice1', 'io.appservice1.Manager', 'RegisterProvider',
        GLib.Variant('(sa{sv})', (name, {})), GLib.VariantType('(oa{sv})'),
        Gio.DBusCallFlags.NONE, -1, None).unpack()

    print('serving %s at %s' % (name, service_path), flush=True)
    # test_orchestrator.py finds both in the journal, each at its own priority.
    print('%s: a line on stderr' % name, file=sys.stderr, flush=True)
    GLib.MainLoop().run()


if __name__ == '__main__':
    sys.exit(main())
