#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""hello-provider.py: the Quark "Hello" RPC contract as an app service, {text: s} -> {result: s},
in Python through PyGObject and libappservice's typelib: the same as hello-provider.c."""

import sys

import gi

gi.require_version('AppService', '1.0')
from gi.repository import AppService, GLib  # noqa: E402


def on_request(connection, request):
    text = AppService.value_set_get_string(request.get_message(), 'text') or 'world'
    result = GLib.Variant('a{sv}', {'result': GLib.Variant('s', 'Hello, %s!' % text)})
    request.send_response_sync(result, None)


def on_connection(provider, connection, caller):
    connection.connect('request-received', on_request)


provider = AppService.Provider.new('com.example.hello')
provider.connect('connection-received', on_connection)
try:
    provider.register_sync(None)
except GLib.Error as e:
    sys.exit('cannot serve com.example.hello: %s' % e.message)
GLib.MainLoop().run()    # until SIGTERM
