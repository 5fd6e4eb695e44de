#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""hello-client.py: calls the Quark "Hello" contract, {text: s} -> {result: s}, on
com.example.hello, through PyGObject and libappservice's typelib. Usage: hello-client.py [TEXT]"""

import sys

import gi

gi.require_version('AppService', '1.0')
from gi.repository import AppService, GLib  # noqa: E402

text = sys.argv[1] if len(sys.argv) > 1 else 'world'
connection = AppService.Connection.new('com.example.hello', None)
try:
    connection.open_sync(None)
    message = GLib.Variant('a{sv}', {'text': GLib.Variant('s', text)})
    response = connection.send_message_sync(message, None)
    if response.get_status() != AppService.ResponseStatus.SUCCESS:
        raise response.get_error()
    print('Request says: %s' % text)
    print('Response says: %s' % AppService.value_set_get_string(response.get_message(), 'result'))
    connection.close_sync(None)
except GLib.Error as e:
    sys.exit('hello-client.py: %s' % e.message)
