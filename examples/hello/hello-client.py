#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""hello-client.py: calls the Quark "Hello" contract (com.example.hello.contract) on
com.example.hello through the module appservice-codegen generated from it (hello_client.py, in
the build tree: on PYTHONPATH). Usage: hello-client.py [TEXT]"""

import sys

from hello_client import AppService, GLib, HelloClient

text = sys.argv[1] if len(sys.argv) > 1 else 'world'
connection = AppService.Connection.new('com.example.hello', None)
try:
    connection.open_sync(None)
    result = HelloClient(connection).hello(text=text)
    print('Request says: %s' % text)
    print('Response says: %s' % result)
    connection.close_sync(None)
except GLib.Error as e:
    sys.exit('hello-client.py: %s' % e.message)
