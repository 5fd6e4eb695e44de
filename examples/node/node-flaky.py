#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""node-flaky.py: com.example.node.flaky, the node example's faulty service. It answers readings
like the logger, but it has a bug: the reading numbered as its definition's [Properties]
crash-at (default 3) makes it abort. Its definition has Restart=on-failure, so the broker reports the crash as a fault and
starts it again."""

import os
import sys

import gi

gi.require_version('AppService', '1.0')
from gi.repository import AppService, GLib  # noqa: E402

def on_request(connection, request, crash_at):
    message = request.get_message().unpack()
    if message.get('sequence') == crash_at:
        os.abort()    # the bug: SIGABRT, as a failed assertion would
    request.send_response(GLib.Variant('a{sv}', {'status': GLib.Variant('s', 'seen')}), None, None)


def on_connection(provider, connection, _caller):
    crash_at = int(provider.get_property_value('static', 'crash-at') or '3')
    connection.connect('request-received', on_request, crash_at)


provider = AppService.Provider.new('com.example.node.flaky')
provider.connect('connection-received', on_connection)
try:
    provider.register_sync(None)
except GLib.Error as e:
    sys.exit('cannot serve com.example.node.flaky: %s' % e.message)
GLib.MainLoop().run()
