# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures of the MQTT bridge's tests (mqttharness.py has the parts): `mosquitto` (plain, on a
free loopback port; a test marked `mosquitto_config('max_packet_size 4096')` gets those lines in
its configuration), `mosquitto_tls` (TLS, passwords and the bridge's ACL), `cluster` and
`tls_cluster` (nodes sharing that Mosquitto; `cluster.node('node-a', proxied=True, ...)` starts
one). tests/integration's fixtures and classes are reused through mqttharness."""

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mqttharness as mh  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line('markers', 'bridge_config(section={...}): mqtt.conf keys for every '
                            'node the test starts')
    config.addinivalue_line('markers', 'mosquitto_config(line, ...): lines added to the '
                            'configuration of the `mosquitto` fixture')


@pytest.fixture
def workdir():
    path = mh.make_workdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _preconditions():
    why = mh.missing_tools()
    if why:
        pytest.skip(why)
    if not os.access(mh.it.DBUS_DAEMON, os.X_OK):
        pytest.skip('dbus-daemon is not installed')
    if os.geteuid() != 0:
        pytest.skip('the MQTT tests run as root (they switch to other uids with setpriv)')
    if not shutil.which('setpriv') or not mh.UNSHARE:
        pytest.skip('setpriv and unshare (util-linux) are needed')


@pytest.fixture
def mosquitto(request, workdir):
    _preconditions()
    marker = request.node.get_closest_marker('mosquitto_config')
    m = mh.Mosquitto(workdir, extra=marker.args if marker else ())
    yield m
    m.stop()


@pytest.fixture
def mosquitto_tls(workdir):
    _preconditions()
    if not mh.OPENSSL or not mh.MOSQUITTO_PASSWD:
        pytest.fail('openssl and mosquitto_passwd are needed for the TLS variant')
    m = mh.Mosquitto(workdir, tls=True)
    yield m
    m.stop()


def _cluster(request, workdir, mosq):
    c = mh.Cluster(workdir, mosq)
    request.node.mqtt_cluster = c
    yield c
    errors = c.teardown()
    assert not errors, '\n\n'.join(errors)


@pytest.fixture
def cluster(request, workdir, mosquitto):
    yield from _cluster(request, workdir, mosquitto)


@pytest.fixture
def tls_cluster(request, workdir, mosquitto_tls):
    yield from _cluster(request, workdir, mosquitto_tls)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    c = getattr(item, 'mqtt_cluster', None)
    if rep.failed and c is not None and rep.when in ('call', 'setup', 'teardown'):
        # Titled so that tap_report (which shows appserviced's sections) shows it too.
        rep.sections.append(('appserviced and appservice-mqtt logs of every node', c.logs()))
