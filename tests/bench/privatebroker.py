# SPDX-License-Identifier: LGPL-2.1-or-later
"""A private broker for the benchmarks: a system-type dbus-daemon with the project's policy, and
appserviced from the build tree serving the definitions given."""
import contextlib
import os
import signal
import subprocess
import tempfile
import time

from gi.repository import Gio, GLib

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <include>{defaults}</include>
  <include>{policy}</include>
{extra}
</busconfig>
"""


def describe_machine():
    """One line on the machine a figure comes from: CPU model, CPU count, kernel."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, Linux {os.uname().release}"


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


def connect(address):
    return Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)


@contextlib.contextmanager
def private_broker(build, definitions, extra_config=""):
    """Yields (address, environment for clients, the daemon's Popen). `definitions` maps a file
    name to its text; `extra_config` goes into the bus configuration after the policies. Everything started is stopped on exit; the broker stops the providers it
    started."""
    with tempfile.TemporaryDirectory(prefix="appservice-bench-") as tmp:
        socket = os.path.join(tmp, "bus")
        config = os.path.join(tmp, "bus.conf")
        with open(config, "w") as f:
            f.write(BUS_CONFIG.format(socket=socket,
                                      defaults=os.path.join(SOURCE_ROOT, "tests", "system-bus-policy.conf"),
                                      policy=os.path.join(SOURCE_ROOT, "systemd", "io.appservice1.conf"),
                                      extra=extra_config))
        services = os.path.join(tmp, "services")
        os.mkdir(services)
        for name, text in definitions.items():
            with open(os.path.join(services, name), "w") as f:
                f.write(text)

        procs = [subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile"],
                                  stderr=subprocess.DEVNULL)]
        try:
            wait_for(lambda: os.path.exists(socket), 5, "the bus socket")
            address = f"unix:path={socket}"
            env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address)
            env.pop("DBUS_SESSION_BUS_ADDRESS", None)
            daemon = subprocess.Popen([f"{build}/daemon/appserviced", "--system", f"--services-dir={services}",
                                       "--log-level=warning"], env=env)
            procs.append(daemon)

            conn = connect(address)

            def owned():
                r = conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                   "NameHasOwner", GLib.Variant("(s)", ("io.appservice1",)), None, 0, -1, None)
                return r.unpack()[0]
            wait_for(owned, 10, "io.appservice1 on the bus")
            conn.close_sync(None)
            yield address, env, daemon
        finally:
            for p in reversed(procs):
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
