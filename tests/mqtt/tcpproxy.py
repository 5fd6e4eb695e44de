#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A TCP proxy between one node's bridge and the MQTT broker that the test controls, run as a
helper process: it forwards 127.0.0.1:LISTEN to 127.0.0.1:TARGET, and takes commands on stdin,
one a line, each answered on stdout once done ("ok <command>"):

  cut        close every forwarded connection (both sides, at once) and stop listening, so that
             new connections are refused (ECONNREFUSED) until "restore"
  blackhole  keep every connection open but forward nothing either way, not even a close (what a
             dead route or a lost peer looks like: only keepalives find it out); new connections
             are taken and black-holed too
  restore    forward again (listening again on the same port after "cut")
  count      answers "ok count N": connections accepted so far

The first line on stdout is "listening PORT". It exits when stdin closes.
"""

import argparse
import socket
import sys
import threading


class Proxy:
    def __init__(self, listen_port, target_port):
        self.listen_port = listen_port
        self.target_port = target_port
        self.lock = threading.Lock()
        self.pairs = []
        self.mode = 'forward'
        self.accepted = 0
        self.listener = None

    def listen(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(('127.0.0.1', self.listen_port))
        sock.listen(64)
        self.listen_port = sock.getsockname()[1]
        self.listener = sock
        threading.Thread(target=self.accept_loop, args=(sock,), daemon=True).start()

    def accept_loop(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(('127.0.0.1', self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                if self.listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self.accepted += 1
                pair = (client, upstream)
                self.pairs.append(pair)
            threading.Thread(target=self.pump, args=(client, upstream, pair), daemon=True).start()
            threading.Thread(target=self.pump, args=(upstream, client, pair), daemon=True).start()

    def pump(self, src, dst, pair):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b''
            if not data:
                break
            if self.mode == 'blackhole':
                continue
            try:
                dst.sendall(data)
            except OSError:
                break
        if self.mode == 'blackhole':
            # A dead route tells nobody: the other side keeps its connection until its own
            # keepalive gives up.
            return
        self.drop(pair)

    def drop(self, pair):
        with self.lock:
            if pair in self.pairs:
                self.pairs.remove(pair)
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def cut(self):
        with self.lock:
            listener, self.listener = self.listener, None
            pairs, self.pairs = self.pairs, []
        if listener is not None:
            # shutdown() first: close() alone leaves it listening while accept() blocks on it.
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        for pair in pairs:
            # RST rather than FIN on both sides: a cable pulled mid-transfer.
            for s in pair:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
                except OSError:
                    pass
            self.drop(pair)

    def command(self, line):
        cmd = line.strip()
        if cmd == 'cut':
            self.cut()
        elif cmd == 'blackhole':
            self.mode = 'blackhole'
        elif cmd == 'restore':
            self.mode = 'forward'
            if self.listener is None:
                self.listen()
        elif cmd == 'count':
            return 'ok count %d' % self.accepted
        elif cmd:
            return 'error unknown command %r' % cmd
        return 'ok %s' % cmd


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--listen', type=int, default=0, help='port to listen on (default: any free)')
    p.add_argument('--target', type=int, required=True, help='port of the MQTT broker')
    args = p.parse_args()
    proxy = Proxy(args.listen, args.target)
    proxy.listen()
    print('listening %d' % proxy.listen_port, flush=True)
    for line in sys.stdin:
        print(proxy.command(line), flush=True)
    proxy.cut()
    return 0


if __name__ == '__main__':
    sys.exit(main())
