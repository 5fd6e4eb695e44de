#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""node-logger.py: com.example.node.logger, the node example's data logger. Takes the readings
other services send it with SubmitAction, answers each, and reports through the broker: a debug
line per reading and a warning with a fault code when the temperature is high."""

import sys

import gi

gi.require_version('AppService', '1.0')
from gi.repository import AppService, GLib  # noqa: E402

HIGH_CELSIUS = 25.0


def on_request(connection, request, provider):
    message = request.get_message().unpack()
    if connection.get_action() == 'reading' and 'celsius' in message:
        celsius = message['celsius']
        source = connection.get_caller_app_service_name() or 'a client'
        provider.log(AppService.LogLevel.DEBUG, '', 'reading %d from %s: %.1f C'
                     % (message.get('sequence', 0), source, celsius), None, None)
        if celsius >= HIGH_CELSIUS:
            provider.log(AppService.LogLevel.WARNING, 'TEMP_HIGH', 'temperature %.1f C is at or above %.1f C'
                         % (celsius, HIGH_CELSIUS), None, None)
        status = 'stored'
    else:
        status = 'ignored'
    request.send_response(GLib.Variant('a{sv}', {'status': GLib.Variant('s', status)}), None, None)


def on_connection(provider, connection, _caller):
    connection.connect('request-received', on_request, provider)


provider = AppService.Provider.new('com.example.node.logger')
provider.connect('connection-received', on_connection)
try:
    provider.register_sync(None)
except GLib.Error as e:
    sys.exit('cannot serve com.example.node.logger: %s' % e.message)
GLib.MainLoop().run()
