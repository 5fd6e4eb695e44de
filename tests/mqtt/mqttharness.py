# SPDX-License-Identifier: LGPL-2.1-or-later
"""The MQTT bridge's test harness: a real Mosquitto (plain, or TLS with a password file and the
bridge's ACL), nodes (a private system-type dbus-daemon with the project's policy, appserviced
with its own NodeName and appservice-mqtt with a generated mqtt.conf and its own spool), a TCP
proxy the test controls between a node's bridge and Mosquitto, and cloud subscribers and
publishers (mosquitto_sub and mosquitto_pub in MQTT 5).

The bus, the daemon and the peer agents are tests/integration's own (conftest.py, client.py,
peer.py), imported rather than copied; this module adds what has more than one node. It is used
by the tests (conftest.py here) and by tests/bench/mqtt-bridge.py.
"""

import json
import os
import re
import shutil
import signal as sigmod
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(os.path.dirname(HERE), 'integration')
if INTEGRATION not in sys.path:
    sys.path.insert(0, INTEGRATION)

from harness import load as load_harness  # noqa: E402


# tests/integration/conftest.py, under a name of its own (this directory has a conftest.py too):
# its Bus, ServicesDir and Daemon classes and its fixtures.
it = load_harness()

from client import (BUS_NAME, DEFAULT_WAIT, SERVICE_IFACE, TIME_SCALE, AgentManager,  # noqa: E402
                    GLib, service_path)

SOURCE_ROOT = it.SOURCE_ROOT
BUILD_ROOT = it.BUILD_ROOT
BRIDGE = os.environ.get('APPSERVICE_MQTT') or os.path.join(BUILD_ROOT, 'services', 'mqtt',
                                                           'appservice-mqtt')
BRIDGE_WRAPPER = os.environ.get('APPSERVICE_MQTT_WRAPPER', '').split()
MOSQUITTO = shutil.which('mosquitto') or ('/usr/sbin/mosquitto'
                                          if os.path.exists('/usr/sbin/mosquitto') else None)
MOSQUITTO_SUB = shutil.which('mosquitto_sub')
MOSQUITTO_PUB = shutil.which('mosquitto_pub')
MOSQUITTO_PASSWD = shutil.which('mosquitto_passwd')
OPENSSL = shutil.which('openssl')
UNSHARE = shutil.which('unshare')
PYTHON = '/usr/bin/python3'

CLOUD = 'io.appservice.cloud'
PREFIX = 'appservice'
# The cloud side's MQTT user in the TLS variant: reads everything, writes actions.
CLOUD_USER = 'cloud'


def missing_tools():
    """Why the MQTT tests cannot run here, or None. Only a missing Mosquitto makes them skip;
    everything else they need is part of the project's build dependencies."""
    if not MOSQUITTO or not MOSQUITTO_SUB or not MOSQUITTO_PUB:
        return 'mosquitto (with mosquitto-clients) is not installed'
    return None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=None, what='a condition', interval=0.02):
    """Polls `predicate` until it returns a true value (returned) or the deadline passes."""
    timeout = DEFAULT_WAIT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %.1f s waiting for %s' % (timeout, what))
        time.sleep(interval)


def tail(path, n=120):
    try:
        with open(path, 'rb') as f:
            lines = f.read().decode(errors='replace').splitlines()
    except OSError as e:
        return '(cannot read %s: %s)' % (path, e)
    return '\n'.join(lines[-n:])


def in_uts(hostname, argv):
    """argv run in a UTS namespace of its own whose host name is `hostname`: appserviced's
    NodeName is the host name, so several nodes share one machine. The process keeps the pid
    (sh execs the program)."""
    return [UNSHARE, '--uts', '--', 'sh', '-c', 'hostname "$0" && exec "$@"', hostname] + argv


# ---- certificates -------------------------------------------------------------------------------

class Pki:
    """A CA, a server certificate for 127.0.0.1/localhost and client certificates, made with
    openssl at test time (EC P-256, valid two days)."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ca_cert = self.path('ca.crt')
        self.ca_key = self.path('ca.key')
        self._run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                   '-nodes', '-keyout', self.ca_key, '-out', self.ca_cert, '-days', '2',
                   '-subj', '/CN=appservice test CA'])
        self.server_cert, self.server_key = self.issue('server', 'localhost',
                                                       'subjectAltName=IP:127.0.0.1,DNS:localhost')

    def path(self, name):
        return os.path.join(self.dir, name)

    def _run(self, args):
        out = subprocess.run([OPENSSL] + args, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError('openssl %s failed:\n%s' % (' '.join(args), out.stderr))

    def issue(self, name, common_name, extension='extendedKeyUsage=clientAuth'):
        key, csr, cert, ext = (self.path(name + s) for s in ('.key', '.csr', '.crt', '.ext'))
        self._run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                   '-keyout', key, '-out', csr, '-subj', '/CN=%s' % common_name])
        with open(ext, 'w') as f:
            f.write(extension + '\n')
        self._run(['x509', '-req', '-in', csr, '-CA', self.ca_cert, '-CAkey', self.ca_key,
                   '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext])
        os.chmod(key, 0o600)
        return cert, key


# ---- Mosquitto ----------------------------------------------------------------------------------

def example_acl(prefix=PREFIX):
    """The ACL of services/mqtt/mosquitto-acl.example with the cloud's user added, or (until that
    file exists) the README's patterns: each node's user writes only its own messages and status,
    its outgoing link frames and action responses, and reads its own actions and incoming link
    frames and every node's status."""
    path = os.path.join(SOURCE_ROOT, 'services', 'mqtt', 'mosquitto-acl.example')
    text = ''
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    if 'pattern' in text:
        if prefix != PREFIX:
            text = text.replace(PREFIX + '/', prefix + '/')
    else:
        text = '\n'.join([
            'pattern write %s/%%u/messages/#' % prefix,
            'pattern write %s/%%u/status' % prefix,
            'pattern write %s/+/link/%%u' % prefix,
            'pattern read %s/%%u/link/+' % prefix,
            'pattern read %s/%%u/actions/+' % prefix,
            'pattern read %s/+/status' % prefix,
            'pattern write %s/%%u/responses/#' % prefix,
            'pattern write cloud/responses/#',
        ]) + '\n'
    # The tests' cloud: reads and writes everything (actions, their responses, probes).
    return text + '\nuser %s\ntopic readwrite #\n' % CLOUD_USER


class Mosquitto:
    """A real mosquitto on a free loopback port with a generated configuration. With `tls`, the
    listener takes TLS only, users need a password (mosquitto_passwd -b) and the ACL applies.
    Persistence is on so that a subscriber's session (and what is queued for it) outlives a
    restart: the tests' cloud must not miss messages while the broker is away. `extra` lines
    are added to the configuration (e.g. 'max_packet_size 4096')."""

    def __init__(self, workdir, tls=False, users=None, acl=None, nodelay=True, name='mosquitto',
                 extra=()):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.tls = tls
        self.pki = None
        self.passwords = {}
        self.conf = os.path.join(self.dir, 'mosquitto.conf')
        self.log_path = os.path.join(self.dir, 'mosquitto.log')
        self.proc = None
        lines = ['listener %d 127.0.0.1' % self.port,
                 'user root',
                 'persistence true',
                 # The cloud's subscribers may fall behind a burst: hold it all for them.
                 'max_queued_messages 0',
                 # Without it a remote round trip waits 40 ms for a delayed ACK (Nagle): the
                 # response goes out on the socket that just carried the request's PUBACK.
                 'set_tcp_nodelay %s' % ('true' if nodelay else 'false'),
                 'persistence_location %s/' % self.dir,
                 'log_dest file %s' % self.log_path,
                 'log_type error', 'log_type warning', 'log_type notice', 'log_type information',
                 'log_type subscribe', 'log_type unsubscribe',
                 'connection_messages true',
                 'log_timestamp_format %H:%M:%S'] + list(extra)
        if tls:
            self.pki = Pki(os.path.join(self.dir, 'pki'))
            self.password_file = os.path.join(self.dir, 'passwords')
            open(self.password_file, 'w').close()
            os.chmod(self.password_file, 0o600)
            for user in [CLOUD_USER] + list(users or []):
                self.add_user(user)
            self.acl_file = os.path.join(self.dir, 'acl')
            with open(self.acl_file, 'w') as f:
                f.write(acl if acl is not None else example_acl())
            lines += ['cafile %s' % self.pki.ca_cert,
                      'certfile %s' % self.pki.server_cert,
                      'keyfile %s' % self.pki.server_key,
                      'require_certificate false',
                      'allow_anonymous false',
                      'password_file %s' % self.password_file,
                      'acl_file %s' % self.acl_file]
        else:
            lines.append('allow_anonymous true')
        with open(self.conf, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        self.start()

    def add_user(self, user, password=None):
        password = password or 'pw-%s-%d' % (user, os.getpid())
        subprocess.run([MOSQUITTO_PASSWD, '-b', self.password_file, user, password], check=True,
                       capture_output=True)
        self.passwords[user] = password
        if self.running():
            # Mosquitto reads the password file again on SIGHUP; wait until the user gets in.
            self.proc.send_signal(sigmod.SIGHUP)
            wait_until(lambda: subprocess.run(
                [MOSQUITTO_SUB, '-V', 'mqttv5', '-E', '-W', '5', '-t', 'appservice-test/login'] +
                self.client_args(user), capture_output=True).returncode == 0,
                10 * TIME_SCALE, 'mosquitto to take the new user %s' % user, interval=0.1)
        return password

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, 'mosquitto already running'
        with open(self.log_path, 'ab') as log:
            log.write(b'==== start\n')
        self.proc = subprocess.Popen([MOSQUITTO, '-c', self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path + '.stderr', 'ab'), cwd='/')
        deadline = time.monotonic() + 10 * TIME_SCALE
        while True:
            if self.proc.poll() is not None:
                raise AssertionError('mosquitto exited with status %s\n%s\n%s' % (
                    self.proc.returncode, tail(self.log_path), tail(self.log_path + '.stderr')))
            try:
                with socket.create_connection(('127.0.0.1', self.port), timeout=1):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError('mosquitto does not listen on %d\n%s' %
                                         (self.port, tail(self.log_path)))
                time.sleep(0.02)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=sigmod.SIGTERM):
        """Stops it (SIGTERM: the clean way, which saves the persistent sessions; SIGKILL: a
        crash)."""
        if self.running():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10 * TIME_SCALE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self):
        self.stop()
        return self.start()

    def client_args(self, user=CLOUD_USER):
        """Connection arguments of mosquitto_sub and mosquitto_pub, as `user` (TLS variant)."""
        args = ['-h', '127.0.0.1', '-p', str(self.port)]
        if self.tls:
            args += ['--cafile', self.pki.ca_cert, '-u', user, '-P', self.passwords[user]]
        return args

    def uri(self, port=None):
        return '%s://127.0.0.1:%d' % ('mqtts' if self.tls else 'mqtt', port or self.port)

    def log_tail(self, n=80):
        return tail(self.log_path, n)


# ---- cloud clients ------------------------------------------------------------------------------

class Received:
    """One message a subscriber received."""

    def __init__(self, fields, at):
        (self.topic, payload_hex, self.response_topic, self.correlation, self.content_type,
         props, self.retain) = fields
        self.payload = bytes.fromhex(payload_hex)
        self.at = at
        self.user_props = []
        for item in props.split(' ') if props else []:
            key, _, value = item.partition(':')
            self.user_props.append((key, value))

    def json(self):
        return json.loads(self.payload)

    def prop(self, key):
        values = [v for k, v in self.user_props if k == key]
        return values[0] if values else None

    def __repr__(self):
        return '<%s %r%s>' % (self.topic, self.payload[:200],
                              ' props=%r' % self.user_props if self.user_props else '')


class Subscriber:
    """mosquitto_sub in MQTT 5 with a persistent session (QoS 1): nothing published to its
    topics is lost while it or the broker restarts. Every message is kept, with its receive
    time, for the test to look at."""

    FORMAT = '%t\\t%x\\t%R\\t%D\\t%C\\t%P\\t%r'

    def __init__(self, mosq, topics, name, user=CLOUD_USER, workdir=None):
        self.mosq = mosq
        self.name = name
        self.topics = list(topics)
        self.probe_topic = 'appservice-test/probe/%s' % name
        self.messages = []
        self.cond = threading.Condition()
        self.stderr_path = os.path.join(workdir or mosq.dir, 'sub-%s.stderr' % name)
        argv = [MOSQUITTO_SUB, '-V', 'mqttv5', '-q', '1', '-i', 'test-%s-%d' % (name, os.getpid()),
                '-c', '-x', '3600', '-F', self.FORMAT] + mosq.client_args(user)
        for t in self.topics + [self.probe_topic]:
            argv += ['-t', t]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=open(self.stderr_path, 'wb'))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.probe()

    def _read(self):
        for line in self.proc.stdout:
            fields = line.rstrip(b'\n').decode(errors='replace').split('\t')
            if len(fields) != 7:
                continue
            msg = Received(fields, time.monotonic())
            with self.cond:
                self.messages.append(msg)
                self.cond.notify_all()

    def probe(self, timeout=None):
        """Publishes to its own probe topic and waits for it: the subscriptions are in place."""
        timeout = DEFAULT_WAIT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        # mosquitto_sub says nothing when it has subscribed: probe until a probe comes back.
        while True:
            token = ('%d-%f' % (os.getpid(), time.monotonic())).encode()
            publish(self.mosq, self.probe_topic, token)
            try:
                return self.wait(lambda m: m.topic == self.probe_topic and m.payload == token,
                                 min(0.5, max(deadline - time.monotonic(), 0.01)))
            except AssertionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError('subscriber %s does not receive its probes\n%s' % (
                        self.name, tail(self.stderr_path)))

    @staticmethod
    def _safe(pred):
        """`pred`, with a message it cannot read (not JSON, a key missing) not matching."""
        def safe(m):
            try:
                return pred is None or pred(m)
            except (ValueError, KeyError, TypeError, AttributeError):
                return False
        return safe

    def snapshot(self, pred=None):
        pred = self._safe(pred)
        with self.cond:
            return [m for m in self.messages if pred(m)]

    def wait(self, pred, timeout=None, what='a message', count=1):
        """Waits until `count` messages satisfy `pred`; returns them."""
        timeout = DEFAULT_WAIT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        pred = self._safe(pred)
        with self.cond:
            while True:
                found = [m for m in self.messages if pred(m)]
                if len(found) >= count:
                    return found if count > 1 else found[0]
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError('subscriber %s: %s after %.1f s: %d of %d; last '
                                         'messages: %r\n%s' % (
                                             self.name, 'exited' if self.proc.poll() is not None
                                             else 'timed out', timeout, len(found), count,
                                             self.messages[-5:], tail(self.stderr_path)))
                self.cond.wait(min(left, 0.2))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def publish(mosq, topic, payload, user=CLOUD_USER, qos=1, response_topic=None,
            correlation=None, user_props=(), content_type=None, retain=False):
    """One MQTT 5 publish with mosquitto_pub (payload bytes from stdin); returns the completed
    process (returncode, stdout, stderr)."""
    argv = [MOSQUITTO_PUB, '-V', 'mqttv5', '-q', str(qos), '-t', topic, '-s'] + \
        mosq.client_args(user)
    if retain:
        argv.append('-r')
    if response_topic is not None:
        argv += ['-D', 'PUBLISH', 'response-topic', response_topic]
    if correlation is not None:
        argv += ['-D', 'PUBLISH', 'correlation-data', correlation]
    if content_type is not None:
        argv += ['-D', 'PUBLISH', 'content-type', content_type]
    for key, value in user_props:
        argv += ['-D', 'PUBLISH', 'user-property', key, value]
    return subprocess.run(argv, input=payload, capture_output=True, timeout=30 * TIME_SCALE)


# ---- the TCP proxy ------------------------------------------------------------------------------

class Proxy:
    """tcpproxy.py in a process of its own, between a node's bridge and Mosquitto."""

    def __init__(self, target_port, workdir):
        self.stderr_path = os.path.join(workdir, 'proxy-%d.stderr' % target_port)
        self.proc = subprocess.Popen([PYTHON, os.path.join(HERE, 'tcpproxy.py'),
                                      '--target', str(target_port)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(self.stderr_path, 'wb'), text=True, bufsize=1)
        line = self.proc.stdout.readline().split()
        assert line and line[0] == 'listening', 'tcpproxy.py did not start: %s' % tail(
            self.stderr_path)
        self.port = int(line[1])

    def command(self, cmd):
        self.proc.stdin.write(cmd + '\n')
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer.startswith('ok ' + cmd), 'tcpproxy.py: %r -> %r' % (cmd, answer)
        return answer

    def cut(self):
        """Every connection through it dropped at once, and new ones refused."""
        self.command('cut')

    def blackhole(self):
        """Connections stay open but nothing goes through: only keepalives notice."""
        self.command('blackhole')

    def restore(self):
        self.command('restore')

    def accepted(self):
        return int(self.command('count').split()[2])

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- nodes --------------------------------------------------------------------------------------

def shipped_cloud_definition():
    """The keys of the shipped io.appservice.cloud definition, without Exec= (the tests start
    the bridge themselves, with their own configuration) and User= (it runs as root here)."""
    candidates = [os.path.join(BUILD_ROOT, 'services', 'mqtt', CLOUD + '.appservice'),
                  os.path.join(SOURCE_ROOT, 'services', 'mqtt', CLOUD + '.appservice'),
                  os.path.join(SOURCE_ROOT, 'services', 'mqtt', CLOUD + '.appservice.in')]
    for path in candidates:
        if os.path.exists(path):
            with open(path) as f:
                text = f.read()
            break
    else:
        text = '[App Service]\nName=%s\nProvider=io.appservice.Mqtt\nBridge=yes\n' % CLOUD
    keep = []
    for line in text.splitlines():
        key = line.split('=', 1)[0].strip()
        if key in ('Exec', 'SystemdService', 'User', 'Group', 'AutoStart', 'Restart'):
            continue
        keep.append(line)
    return '\n'.join(keep) + '\n'


class Bridge:
    """appservice-mqtt of one node, from the build tree, with a generated mqtt.conf."""

    def __init__(self, node, uri, config):
        self.node = node
        self.dir = os.path.join(node.dir, 'bridge')
        os.makedirs(self.dir, exist_ok=True)
        self.spool = os.path.join(self.dir, 'spool')
        self.conf_path = os.path.join(self.dir, 'mqtt.conf')
        self.log_path = os.path.join(self.dir, 'appservice-mqtt.log')
        self.proc = None
        self.runs = 0
        self.expect_exit = True
        self.config = {
            'Broker': {'URI': uri, 'KeepaliveSec': 5},   # libmosquitto's least
            'Spool': {'Directory': self.spool},
            'Cloud': {'DeliveryWaitSec': 2},
            'Remote': {'OpenTimeoutSec': 5},
        }
        for section, keys in (config or {}).items():
            self.config.setdefault(section, {}).update(keys)

    def write_config(self):
        lines = []
        for section, keys in self.config.items():
            lines.append('[%s]' % section)
            lines += ['%s=%s' % (k, v) for k, v in keys.items() if v is not None]
            lines.append('')
        with open(self.conf_path, 'w') as f:
            f.write('\n'.join(lines))

    def start(self, wait=True):
        assert not self.running(), 'the bridge is already running'
        if not os.access(BRIDGE, os.X_OK):
            raise AssertionError('appservice-mqtt not found at %s (build it, or set '
                                 'APPSERVICE_MQTT)' % BRIDGE)
        self.write_config()
        env = dict(os.environ)
        env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        env['DBUS_SYSTEM_BUS_ADDRESS'] = self.node.bus.address
        env['G_DEBUG'] = 'fatal-criticals'
        if self.node.cluster.debug:
            env['G_MESSAGES_DEBUG'] = 'all'
        argv = in_uts(self.node.name, BRIDGE_WRAPPER + [BRIDGE, '--config=%s' % self.conf_path])
        self.runs += 1
        with open(self.log_path, 'ab') as log:
            log.write(b'==== run %d: %s\n' % (self.runs, ' '.join(argv).encode()))
            log.flush()
            self.log_offset = log.tell()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=env, cwd='/')
        self.expect_exit = False
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=None):
        """Registered on its node's broker and online on MQTT (a retained status of a new
        incarnation)."""
        timeout = (DEFAULT_WAIT * 2) if timeout is None else timeout
        node = self.node
        wait_until(lambda: self.check_alive() and node.service_state(CLOUD) == 'active', timeout,
                   '%s to register %s' % (node.name, CLOUD))
        node.wait_status('online', timeout, new_incarnation=True)

    def check_alive(self):
        if self.proc.poll() is not None:
            self.expect_exit = True
            raise AssertionError('appservice-mqtt of %s exited with status %s\n%s' % (
                self.node.name, self.proc.returncode, self.log_tail()))
        return True

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def kill(self, sig=sigmod.SIGKILL):
        self.expect_exit = True
        self.proc.send_signal(sig)
        self.proc.wait(10 * TIME_SCALE)

    def stop(self, timeout=None):
        """SIGTERM; it must exit 0."""
        self.expect_exit = True
        if self.proc.poll() is None:
            self.proc.send_signal(sigmod.SIGTERM)
            try:
                self.proc.wait(timeout or DEFAULT_WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError('appservice-mqtt of %s did not exit on SIGTERM\n%s' % (
                    self.node.name, self.log_tail()))
        assert self.proc.returncode == 0, 'appservice-mqtt of %s exited with status %s\n%s' % (
            self.node.name, self.proc.returncode, self.log_tail())

    def restart(self, wait=True):
        self.stop()
        return self.start(wait)

    def log_text(self):
        try:
            with open(self.log_path, 'rb') as f:
                f.seek(self.log_offset)
                return f.read().decode(errors='replace')
        except (OSError, AttributeError):
            return ''

    def wait_log(self, regex, timeout=None):
        pattern = re.compile(regex)
        return wait_until(lambda: pattern.search(self.log_text()), timeout,
                          'a log line of %s matching %r' % (self.node.name, regex))

    def log_tail(self, n=120):
        return '---- appservice-mqtt of %s (last %d lines) ----\n%s' % (
            self.node.name, n, tail(self.log_path, n))

    def spool_files(self):
        """The spool's regular files (whatever names it uses), recursively."""
        out = []
        for root, _, files in os.walk(self.spool):
            out += [os.path.join(root, f) for f in files]
        return out

    def teardown(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.stop()
        elif not self.expect_exit:
            raise AssertionError('appservice-mqtt of %s exited by itself with status %s\n%s' % (
                self.node.name, self.proc.returncode, self.log_tail()))


class Node:
    """One node: a private system-type dbus-daemon with the project's policy, appserviced whose
    NodeName is `name` (its host name, in a UTS namespace of its own), agents on that bus, and
    its bridge (behind a TCP proxy when `proxied`)."""

    def __init__(self, cluster, name, proxied=False, bridge_config=None, username=None,
                 client_cert=False):
        self.cluster = cluster
        self.name = name
        self.dir = os.path.join(cluster.workdir, name)
        os.makedirs(self.dir, mode=0o755)
        self.bus = it.Bus(self.dir)
        self.services_dir = it.ServicesDir(os.path.join(self.dir, 'services'))
        self.services_dir.write_raw(CLOUD + '.appservice', shipped_cloud_definition())
        self.daemon = it.Daemon(self.bus, self.services_dir, self.dir)
        self.agents = AgentManager(self.bus.address, self.dir)
        self.incarnation = None
        mosq = cluster.mosquitto
        self.proxy = Proxy(mosq.port, self.dir) if proxied else None
        config = {'Broker': {}}
        if mosq.tls:
            user = username or name
            if user not in mosq.passwords:
                mosq.add_user(user)
            password_file = os.path.join(self.dir, 'mqtt-password')
            with open(password_file, 'w') as f:
                f.write(mosq.passwords[user] + '\n')
            os.chmod(password_file, 0o600)
            config['Broker'].update({'CAFile': mosq.pki.ca_cert, 'Username': user,
                                     'PasswordFile': password_file})
            if client_cert:
                cert, key = mosq.pki.issue('client-' + name, name)
                config['Broker'].update({'CertFile': cert, 'KeyFile': key})
        for section, keys in (bridge_config or {}).items():
            config.setdefault(section, {}).update(keys)
        self.bridge = Bridge(self, mosq.uri(self.proxy.port if self.proxy else None), config)

    def start(self, bridge=True):
        self.start_daemon()
        if bridge:
            self.bridge.start()
        return self

    def start_daemon(self):
        saved = it.WRAPPER
        it.WRAPPER = in_uts(self.name, list(saved))
        try:
            self.daemon.start(log_level='debug' if self.cluster.debug else 'info')
        finally:
            it.WRAPPER = saved
        node_name = self.bus.get_property('/io/appservice1', 'io.appservice1.Manager',
                                          'NodeName')
        assert node_name == self.name, 'NodeName %r, expected %r' % (node_name, self.name)

    def service_state(self, name):
        try:
            return self.bus.get_property(service_path(name), SERVICE_IFACE, 'State')
        except GLib.Error:
            return None

    def write_service(self, name, **keys):
        """A definition; reloads the daemon when it runs."""
        path = self.services_dir.write(name, **keys)
        if self.daemon.running():
            self.bus.call(BUS_NAME, '/io/appservice1', 'io.appservice1.Manager', 'Reload')
        return path

    def provider(self, name, auto='echo', uid=None, gid=None, **keys):
        """A provider agent (root unless uid) registered for `name`, after its definition (keys
        as ServicesDir.write takes them) is written."""
        self.write_service(name, **keys)
        p = self.agents.spawn('%s-provider-%s' % (self.name, name.split('.')[-1]), uid=uid,
                              gid=gid, register=name, auto=auto)
        p.wait_registered()
        return p

    def client(self, name='client', uid=None, gid=None):
        return self.agents.spawn('%s-%s' % (self.name, name), uid=uid, gid=gid)

    def statuses(self):
        return [m for m in self.cluster.status.snapshot(
            lambda m: m.topic == '%s/%s/status' % (self.cluster.prefix, self.name))]

    def wait_status(self, state, timeout=None, after=None, new_incarnation=False):
        """Waits for a status message `state` of this node (received after the monotonic time
        `after`, if given; with new_incarnation, "online" of an incarnation not seen before).
        Returns the status payload."""
        previous = self.incarnation
        topic = '%s/%s/status' % (self.cluster.prefix, self.name)

        def pred(m):
            if m.topic != topic or not m.payload or (after is not None and m.at < after):
                return False
            status = m.json()
            if status.get('state') != state:
                return False
            return not new_incarnation or status.get('incarnation') != previous
        msg = self.cluster.status.wait(pred, timeout, '%s status %s' % (self.name, state))
        status = msg.json()
        if state == 'online':
            self.incarnation = status.get('incarnation')
        return status

    def teardown(self):
        errors = []
        for step in (self.bridge.teardown, self.daemon.teardown):
            try:
                step()
            except AssertionError as e:
                errors.append(str(e))
        self.agents.close_all()
        self.bus.stop()
        if self.proxy:
            self.proxy.close()
        return errors

    def logs(self):
        return '%s\n%s' % (self.daemon.log_tail(60), self.bridge.log_tail(80))


class Cluster:
    """Nodes sharing one Mosquitto, and a status watcher (the cloud's view of `<prefix>/+/status`,
    retained included)."""

    def __init__(self, workdir, mosquitto, prefix=PREFIX, debug=True):
        self.workdir = workdir
        self.debug = debug          # debug logs of the brokers and bridges (off for benchmarks)
        self.mosquitto = mosquitto
        self.prefix = prefix
        self.nodes = {}
        self.subscribers = []
        self.status = self.subscriber(['%s/+/status' % prefix], 'status')

    def node(self, name, start=True, **kw):
        node = Node(self, name, **kw)
        self.nodes[name] = node
        if start:
            node.start()
        return node

    def subscriber(self, topics, name, user=CLOUD_USER):
        sub = Subscriber(self.mosquitto, topics, name, user, self.workdir)
        self.subscribers.append(sub)
        return sub

    def publish(self, topic, payload, **kw):
        return publish(self.mosquitto, topic, payload, **kw)

    def teardown(self):
        errors = []
        for node in self.nodes.values():
            errors += node.teardown()
        for sub in self.subscribers:
            sub.close()
        return errors

    def logs(self):
        parts = [n.logs() for n in self.nodes.values()]
        parts.append('---- mosquitto ----\n' + self.mosquitto.log_tail())
        return '\n'.join(parts)


def make_workdir():
    path = tempfile.mkdtemp(prefix='appservice-mqtt-')
    os.chmod(path, 0o755)
    return path
