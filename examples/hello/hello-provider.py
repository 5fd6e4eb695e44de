#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""hello-provider.py: the Quark "Hello" contract (com.example.hello.contract) in Python, on the
module appservice-codegen generated from it (hello_provider.py, in the build tree: on PYTHONPATH):
the same as hello-provider.c."""

import sys

import hello_provider
from hello_provider import AppService, GLib


class Hello(hello_provider.HelloProvider):
    def hello(self, text: str | None = None) -> str:
        return 'Hello, %s!' % (text or 'world')


provider = AppService.Provider.new('com.example.hello')
hello = Hello(provider)
try:
    provider.register_sync(None)
except GLib.Error as e:
    sys.exit('cannot serve com.example.hello: %s' % e.message)
GLib.MainLoop().run()    # until SIGTERM
