#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""node-sensor.py: com.example.node.sensor, the node example's sensor. Started by the broker at
boot (AutoStart=yes), it waits for the node to be "running" (StateUpdate), then once a second
broadcasts a temperature reading to every service that may hear it (SubmitAction to "*"), and
reports a warning when a receiver did not answer."""

import sys

import gi

gi.require_version('AppService', '1.0')
from gi.repository import AppService, GLib  # noqa: E402

INTERVAL_MS = 1000
sequence = 0


def read_temperature():
    # A made-up sensor: a slow saw-tooth between 20.0 and 26.0 degrees.
    return 20.0 + (sequence % 13) / 2


def on_submitted(provider, result):
    try:
        _ok, _responses, failures = provider.submit_action_finish(result)
    except GLib.Error as e:
        provider.log(AppService.LogLevel.WARNING, 'BROADCAST_FAILED', e.message, None, None)
        return
    for service, error in failures.unpack().items():
        provider.log(AppService.LogLevel.WARNING, 'NO_ANSWER', '%s did not take reading %d: %s'
                     % (service, sequence, error), None, None)


def broadcast_reading(provider):
    global sequence
    sequence += 1
    reading = GLib.Variant('a{sv}', {'sequence': GLib.Variant('u', sequence),
                                     'celsius': GLib.Variant('d', read_temperature())})
    provider.submit_action('*', 'reading', reading, None, on_submitted)
    return GLib.SOURCE_CONTINUE


def on_node_state(provider, _pspec):
    # Other services may still be starting while the node is "starting": wait for "running".
    if provider.get_node_state() == 'running' and not getattr(provider, 'timer', None):
        provider.timer = GLib.timeout_add(INTERVAL_MS, broadcast_reading, provider)


provider = AppService.Provider.new('com.example.node.sensor')
provider.connect('notify::node-state', on_node_state)
try:
    provider.register_sync(None)
except GLib.Error as e:
    sys.exit('cannot serve com.example.node.sensor: %s' % e.message)
on_node_state(provider, None)
GLib.MainLoop().run()    # until the broker asks it to stop, or SIGTERM
