# SPDX-License-Identifier: LGPL-2.1-or-later
"""The orchestrator on a real systemd, after test_systemd.py in the same boot: a definition added
under /etc and picked up by `appservicectl reload`, a provider's fault and a provider's crash in
the journal with their structured fields.

Runs as root inside the guest (tests/vm/meson.build: vm-systemd), in the order written.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = 'com.example.vmfault'
DEFINITION = '/etc/appservice/services/%s.appservice' % NAME
FAULT_MESSAGE_ID = '252082dcf39e4594b97d557f67cc00ce'


def run(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=120, **kw)


def journal(*matches):
    out = run('journalctl', '-b', '--no-pager', '-o', 'json', *matches).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def wait_for(predicate, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail('timed out waiting for ' + what)


@pytest.fixture(scope='module')
def definition():
    # The provider runs from the daemon's sandbox, which has a private /tmp and /var/tmp.
    os.makedirs('/var/lib/appservice-test', exist_ok=True)
    directory = tempfile.mkdtemp(prefix='vmfault-', dir='/var/lib/appservice-test')
    os.chmod(directory, 0o755)
    provider = os.path.join(directory, 'fault_provider.py')
    shutil.copyfile(os.path.join(HERE, 'fault_provider.py'), provider)
    os.makedirs(os.path.dirname(DEFINITION), exist_ok=True)
    with open(DEFINITION, 'w') as f:
        f.write('[App Service]\nName=%s\nProvider=com.example.VmFault\n'
                'Description=Reports faults on request\nExec=/usr/bin/python3 %s\n'
                'IdleTimeoutSec=0\n' % (NAME, provider))
    yield NAME
    os.unlink(DEFINITION)
    run('appservicectl', 'reload', check=False)
    shutil.rmtree(directory)


def test_reload_picks_up_a_definition_added_under_etc(definition):
    result = run('appservicectl', 'reload', check=False)
    assert result.returncode == 0, result.stderr
    result = run('appservicectl', 'list', check=False)
    assert result.returncode == 0, result.stderr
    assert NAME in result.stdout


def test_a_provider_fault_reaches_the_journal_with_its_fields(definition):
    result = run('appservicectl', 'call', NAME, 'Action=fault', 'Code=E_VM_SENSOR',
                 'Text=sensor timeout on line 3', check=False)
    assert result.returncode == 0, result.stderr
    entries = wait_for(lambda: journal('APPSERVICE_FAULT_CODE=E_VM_SENSOR'), 'the fault in the journal')
    entry = entries[-1]
    assert entry['APPSERVICE_SERVICE'] == NAME
    assert entry['APPSERVICE_LEVEL'] == 'error'
    assert entry['PRIORITY'] == '3'
    assert entry['MESSAGE_ID'] == FAULT_MESSAGE_ID
    assert entry['_SYSTEMD_UNIT'] == 'appserviced.service'
    assert 'sensor timeout on line 3' in entry['MESSAGE']
    pid = int(entry['APPSERVICE_CALLER_PID'])
    with open('/proc/%d/cmdline' % pid) as f:
        assert 'fault_provider.py' in f.read()
    assert entry['APPSERVICE_CALLER_UID'] == '0'


def test_a_crashed_provider_is_reported_in_the_journal(definition):
    entry = journal('APPSERVICE_FAULT_CODE=E_VM_SENSOR')[-1]
    pid = int(entry['APPSERVICE_CALLER_PID'])
    os.kill(pid, signal.SIGSEGV)
    entries = wait_for(lambda: [e for e in journal('APPSERVICE_FAULT_CODE=provider-crashed')
                                if e.get('APPSERVICE_SERVICE') == NAME], 'the crash in the journal')
    entry = entries[-1]
    assert entry['APPSERVICE_LEVEL'] == 'error'
    assert 'SIGSEGV' in entry['MESSAGE'], entry['MESSAGE']
    assert entry['APPSERVICE_CALLER_PID'] == '0'   # reported by the broker itself
