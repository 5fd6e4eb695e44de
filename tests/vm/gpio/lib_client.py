# SPDX-License-Identifier: LGPL-2.1-or-later
"""A client of io.appservice.gpio on libappservice through the typelib, the way an app written in
Python uses the service: the library takes the direct link the broker offers by itself.

    lib_client.py [--as UID:GID[:GROUP,...]] [--hold]

It loads the library as root (the build tree may be closed to other users), becomes UID:GID with
those supplementary groups, opens the service and speaks JSON lines:

  stdout  {"event": "open", "status", "direct", "path"} or {"event": "open-error", "domain",
          "code", "message"}; {"event": "response", "tag", "status", "message"} or
          {"event": "send-error", "tag", "domain", "code", "message"}; {"event": "request",
          "message"} for each message the service sends (answered {"Status": "ok"} at once, or
          held unanswered with --hold); {"event": "closed", "status"}; {"event": "close-done"};
          {"event": "answered", "count"}
  stdin   {"cmd": "send", "tag", "message": GVariant text of an a{sv}}; {"cmd": "close"};
          {"cmd": "answer-held"}; end of file quits
"""

import json
import os
import sys

import gi

gi.require_version('GLib', '2.0')
gi.require_version('AppService', '1.0')
from gi.repository import AppService, GLib  # noqa: E402

SERVICE = 'io.appservice.gpio'


def emit(**fields):
    print(json.dumps(fields), flush=True)


def plain(variant):
    return None if variant is None else variant.unpack()


def become(spec):
    parts = spec.split(':')
    uid, gid = int(parts[0]), int(parts[1])
    groups = [int(g) for g in parts[2].split(',') if g] if len(parts) > 2 else []
    os.setgroups(groups or [gid])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


class Client:
    def __init__(self, hold):
        self.hold = hold
        self.held = []
        self.loop = GLib.MainLoop()
        self.connection = AppService.Connection.new(SERVICE, None)
        self.connection.connect('request-received', self.on_request)
        self.connection.connect('service-closed', self.on_closed)

    def on_request(self, connection, request):
        emit(event='request', message=plain(request.get_message()))
        if self.hold:
            self.held.append(request)
        else:
            self.answer(request)

    def answer(self, request):
        ok = GLib.Variant('a{sv}', {'Status': GLib.Variant('s', 'ok')})
        request.send_response(ok, None, lambda r, res: r.send_response_finish(res))

    def on_closed(self, connection, status):
        emit(event='closed', status=int(status))

    def on_response(self, connection, result, tag):
        try:
            response = connection.send_message_finish(result)
        except GLib.Error as e:
            emit(event='send-error', tag=tag, domain=e.domain, code=e.code, message=e.message)
            return
        emit(event='response', tag=tag, status=int(response.get_status()),
             message=plain(response.get_message()))

    def command(self, cmd):
        what = cmd.get('cmd')
        if what == 'send':
            message = GLib.Variant.parse(GLib.VariantType('a{sv}'), cmd['message'], None, None)
            self.connection.send_message(message, None, self.on_response, cmd.get('tag'))
        elif what == 'close':
            self.connection.close_sync(None)
            emit(event='close-done')
        elif what == 'answer-held':
            held, self.held = self.held, []
            for request in held:
                self.answer(request)
            emit(event='answered', count=len(held))

    def on_stdin(self, channel, condition):
        line = sys.stdin.readline()
        if not line:
            self.loop.quit()
            return GLib.SOURCE_REMOVE
        if line.strip():
            self.command(json.loads(line))
        return GLib.SOURCE_CONTINUE

    def run(self):
        try:
            status = self.connection.open_sync(None)
        except GLib.Error as e:
            emit(event='open-error', domain=e.domain, code=e.code, message=e.message)
            return 0
        emit(event='open', status=int(status), direct=self.connection.get_direct(),
             path=self.connection.get_object_path())
        GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.PRIORITY_DEFAULT,
                          GLib.IOCondition.IN | GLib.IOCondition.HUP, self.on_stdin)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, 15, self.loop.quit)
        self.loop.run()
        return 0


def main(argv):
    hold = '--hold' in argv
    AppService.value_new_null()  # loads the library while still root
    if '--as' in argv:
        become(argv[argv.index('--as') + 1])
    return Client(hold).run()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
