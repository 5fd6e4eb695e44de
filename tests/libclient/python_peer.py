# SPDX-License-Identifier: LGPL-2.1-or-later
"""The other endpoint of the Python tests, in a process of its own, on the library through the
typelib (the way an app written in Python uses it).

    python_peer.py provider NAME MODE [ARG]     register NAME, answer as MODE says
    python_peer.py client NAME [--as UID:GID]   open NAME (after switching to UID:GID), send one
                                                message, report, exit

Provider modes: echo (the message back), ignore (the handler lets the request go unanswered),
hold (keeps requests unanswered until the "answer" command), defer MS (keeps the request, answers
with the message after MS ms), greet (sends {'greeting': 'hello'} to each new client, then echo),
close-on-request (closes the connection when a request arrives), cloud (a fake io.appservice.cloud:
says "action ACTION SENDER" for each connection and answers {'status': 'queued', 'id': 'x'}).

Everything that happens is one line on stdout: "register ok", "registered True", "connection
uid=0", "request {...}", "closed 1", "greet-response 0 {...}", "open 0", "open-error DOMAIN
CODE", "response 0 {...}". Commands on stdin: quit, close, unregister, answer. End of stdin
quits.
"""

import os
import sys

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('AppService', '1.0')
from gi.repository import AppService, GLib  # noqa: E402


def emit(*words):
    print(' '.join(str(w) for w in words), flush=True)


def text(v):
    return '(null)' if v is None else v.print_(True)


class Provider:
    def __init__(self, name, mode, arg):
        self.mode = mode
        self.defer_ms = int(arg) if arg else 500
        self.loop = GLib.MainLoop()
        self.connections = []
        self.held = []
        self.provider = AppService.Provider.new(name)
        self.provider.connect('connection-received', self.on_connection)
        self.provider.connect('notify::registered', self.on_registered)

    def on_registered(self, provider, pspec):
        emit('registered', provider.get_registered())

    def on_connection(self, provider, connection, caller):
        self.connections.append(connection)
        connection.connect('request-received', self.on_request)
        connection.connect('service-closed', self.on_closed)
        emit('connection', 'uid=%d' % caller.lookup_value('uid', GLib.VariantType('u')).get_uint32())
        if self.mode == 'cloud':
            emit('action', connection.get_action(), connection.get_caller_app_service_name())
        if self.mode == 'greet':
            greeting = GLib.Variant('a{sv}', {'greeting': GLib.Variant('s', 'hello')})
            connection.send_message(greeting, None, self.on_greeting_answered)

    def on_greeting_answered(self, connection, result):
        try:
            response = connection.send_message_finish(result)
        except GLib.Error as e:
            emit('greet-error', e.domain, e.code)
            return
        emit('greet-response', int(response.get_status()), text(response.get_message()))

    def on_request(self, connection, request):
        message = request.get_message()
        emit('request', text(message))
        if self.mode in ('echo', 'greet'):
            request.send_response(message, None, self.on_answered)
        elif self.mode == 'cloud':
            response = GLib.Variant('a{sv}', {'status': GLib.Variant('s', 'queued'),
                                              'id': GLib.Variant('s', 'x')})
            request.send_response(response, None, self.on_answered)
        elif self.mode == 'hold':
            self.held.append(request)
        elif self.mode == 'defer':
            GLib.timeout_add(self.defer_ms, self.answer_later, request)
        elif self.mode == 'close-on-request':
            connection.close(None, None)
        # 'ignore': nothing; the request goes when this handler returns.

    def answer_later(self, request):
        emit('deferred-answer')
        request.send_response(request.get_message(), None, self.on_answered)
        return GLib.SOURCE_REMOVE

    def on_answered(self, request, result):
        try:
            emit('answered', int(request.send_response_finish(result)))
        except GLib.Error as e:
            emit('answer-error', e.domain, e.code)

    def on_closed(self, connection, status):
        emit('closed', int(status))
        if connection in self.connections:
            self.connections.remove(connection)

    def command(self, line):
        if line == 'quit':
            self.loop.quit()
        elif line == 'close':
            for c in list(self.connections):
                c.close_sync(None)
            emit('close-done')
        elif line == 'unregister':
            self.provider.unregister_sync(None)
            emit('unregister ok')
        elif line == 'answer':
            held, self.held = self.held, []
            for r in held:
                r.send_response(r.get_message(), None, self.on_answered)

    def on_stdin(self, channel, condition):
        line = sys.stdin.readline()
        if not line:
            self.loop.quit()
            return GLib.SOURCE_REMOVE
        self.command(line.strip())
        return GLib.SOURCE_CONTINUE

    def run(self):
        try:
            self.provider.register_sync(None)
        except GLib.Error as e:
            emit('register', 'failed', e.domain, e.code, e.message)
            return 3
        emit('register', 'ok')
        GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.PRIORITY_DEFAULT,
                          GLib.IOCondition.IN | GLib.IOCondition.HUP, self.on_stdin)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, 15, self.loop.quit)
        self.loop.run()
        return 0


def run_client(name, switch_to):
    # Load the library as root, who may read the build tree (a clone under /root is closed to
    # other users): GI opens the shared library only at the first call into it. Then become the
    # unprivileged user, before anything connects to the bus.
    AppService.value_new_null()
    if switch_to:
        uid, gid = (int(x) for x in switch_to.split(':'))
        os.setgroups([gid])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    connection = AppService.Connection.new(name, None)
    try:
        status = connection.open_sync(None)
    except GLib.Error as e:
        emit('open-error', e.domain, e.code)
        return 0
    emit('open', int(status))
    message = GLib.Variant('a{sv}', {'ping': GLib.Variant('i', 1)})
    response = connection.send_message_sync(message, None)
    emit('response', int(response.get_status()), text(response.get_message()))
    connection.close_sync(None)
    return 0


def main(argv):
    if len(argv) >= 4 and argv[1] == 'provider':
        return Provider(argv[2], argv[3], argv[4] if len(argv) > 4 else None).run()
    if len(argv) >= 3 and argv[1] == 'client':
        switch_to = argv[4] if len(argv) > 4 and argv[3] == '--as' else None
        return run_client(argv[2], switch_to)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
