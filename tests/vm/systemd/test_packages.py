# SPDX-License-Identifier: LGPL-2.1-or-later
"""The packages' life after test_install_packages.py, test_systemd.py and test_orchestrator.py
used them. On the lifecycle run (packages.LIFECYCLE), the previous build they used is upgraded to
this build while the broker runs and the administrator has changed its configuration: the change
is kept and the broker restarted on the new binary. Then the autopkgtests of debian/tests run as
autopkgtest would run them on this machine, and (lifecycle run) a purge leaves the file system as
it was before the first install.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from packages import (BEFORE, LIFECYCLE, apt_install, apt_purge, debs, file_list,
                      installed_versions, package_names, run, unit_property, version_of)

SOURCE_ROOT = os.environ['APPSERVICE_SOURCE_ROOT']
CONTROL = os.path.join(SOURCE_ROOT, 'debian', 'tests', 'control')
CONF = '/etc/appservice/appserviced.conf'
# What the tests before this file wrote themselves, for the packages' purge to be judged alone:
# the polkit rule and the definitions of test_systemd.py, the provider's directory of
# test_orchestrator.py.
TEST_FILES = ('/etc/polkit-1/rules.d/50-appservice-test.rules', '/etc/appservice/services',
              '/var/lib/appservice-test')
ONCE = 'the lifecycle runs once, on vm-systemd (tests/vm/meson.build)'


def broker_pid():
    return int(unit_property('appserviced.service', 'MainPID'))


def list_services():
    return run('busctl', '--system', 'call', 'io.appservice1', '/io/appservice1',
               'io.appservice1.Manager', 'ListServices', check=False)


def broker_log():
    """What systemd knows of the broker, for a failure's message."""
    return (run('systemctl', 'status', '--no-pager', 'appserviced.service', check=False).stdout +
            run('journalctl', '--no-pager', '-n', '30', '-u', 'appserviced.service',
                check=False).stdout)


@pytest.mark.skipif(not LIFECYCLE, reason=ONCE)
def test_upgrade_to_this_build_keeps_changes_and_restarts_the_broker():
    names = package_names(debs())
    version = version_of(debs()[0])
    assert set(installed_versions(names).values()) == {version + '~prev'}
    # The administrator changed a setting; the broker runs (activated by a call).
    with open(CONF, 'a') as f:
        f.write('\n# changed by the administrator\n')
    assert list_services().returncode == 0
    old_pid = broker_pid()
    assert old_pid != 0

    result = apt_install(debs())
    assert result.returncode == 0, result.stdout + result.stderr
    assert installed_versions(names) == {name: version for name in names}
    assert 'warning' not in result.stderr.lower(), result.stderr
    # The change is kept, with no .dpkg-* file beside it (the packaged file did not change).
    with open(CONF) as f:
        assert '# changed by the administrator' in f.read()
    assert not [n for n in os.listdir('/etc/appservice') if '.dpkg-' in n]
    # The broker that ran was restarted on the new binary (not merely stopped), and answers.
    deadline = time.monotonic() + 60
    while broker_pid() in (0, old_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert broker_pid() not in (0, old_pid), broker_log()
    assert os.readlink('/proc/%d/exe' % broker_pid()) == '/usr/libexec/appserviced'
    assert list_services().returncode == 0, broker_log()
    # Still started on demand: the upgrade enabled nothing.
    assert unit_property('appserviced.service', 'UnitFileState') == 'static'
    assert unit_property('appservice-http.service', 'UnitFileState') == 'disabled'


def autopkgtests():
    """(name, restrictions) of each test in debian/tests/control."""
    tests = []
    with open(CONTROL) as f:
        for stanza in f.read().split('\n\n'):
            fields = dict(re.findall(r'^([A-Za-z-]+):\s*((?:.*\n?)(?:[ \t].*\n?)*)', stanza, re.M))
            for name in fields.get('Tests', '').split():
                tests.append((name, fields.get('Restrictions', '').replace(',', ' ').split()))
    return tests


@pytest.mark.parametrize('name,restrictions', autopkgtests(), ids=[t[0] for t in autopkgtests()])
def test_autopkgtest(name, restrictions):
    # As autopkgtest runs a test: from the source tree, a scratch directory of its own, stderr
    # a failure unless the test allows it.
    scratch = tempfile.mkdtemp(prefix='autopkgtest-')
    os.chmod(scratch, 0o755)
    try:
        result = subprocess.run([os.path.join(SOURCE_ROOT, 'debian', 'tests', name)],
                                cwd=SOURCE_ROOT, capture_output=True, text=True, timeout=120,
                                env=dict(os.environ, AUTOPKGTEST_TMP=scratch))
    finally:
        shutil.rmtree(scratch)
    assert result.returncode == 0, result.stdout + result.stderr
    if 'allow-stderr' not in restrictions:
        assert result.stderr == '', result.stderr


def remove_test_files():
    for path in TEST_FILES:
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.unlink(path)


@pytest.mark.skipif(not LIFECYCLE, reason=ONCE)
def test_purge_leaves_nothing_behind():
    names = package_names(debs())
    remove_test_files()
    assert list_services().returncode == 0          # a running broker must not stop the purge
    result = apt_purge(names)
    assert result.returncode == 0, result.stdout + result.stderr
    assert installed_versions(names) == {}
    assert unit_property('appserviced.service', 'ActiveState') == 'inactive'
    assert unit_property('appserviced.service', 'LoadState') == 'not-found'
    assert not os.path.exists('/etc/appservice')
    with open(BEFORE) as f:
        before = set(f.read().split())
    after = file_list(debs())
    assert sorted(after - before) == []
    # The service users stay, as Debian leaves system users (their files could outlive them).
    assert run('getent', 'passwd', 'appservice-gpio').returncode == 0
