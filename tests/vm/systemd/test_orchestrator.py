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
IDENTIFIER = 'vmfault-provider'


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
                'IdleTimeoutSec=0\nSyslogIdentifier=%s\n' % (NAME, provider, IDENTIFIER))
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


def test_the_provider_output_is_in_the_journal_under_its_own_identifier(definition):
    """Its stdout at info, its stderr at warning, with its own _PID and _UID, in the broker's
    unit: journalctl -t IDENTIFIER (or -u appserviced) finds what a provider printed."""
    pid = journal('APPSERVICE_FAULT_CODE=E_VM_SENSOR')[-1]['APPSERVICE_CALLER_PID']
    entries = wait_for(lambda: (lambda e: len(e) >= 2 and e)(journal('SYSLOG_IDENTIFIER=%s' % IDENTIFIER)),
                       'the provider\'s two lines in the journal')
    by_message = {e['MESSAGE']: e for e in entries}
    out = by_message['serving %s at /io/appservice1/service/%s' % (NAME, NAME.replace('.', '_2e'))]
    err = by_message['%s: a line on stderr' % NAME]
    assert (out['PRIORITY'], err['PRIORITY']) == ('6', '4')
    for entry in (out, err):
        assert entry['_PID'] == pid and entry['_UID'] == '0', entry
        assert entry['_SYSTEMD_UNIT'] == 'appserviced.service', entry
    # The broker says where the output went, and its own lines carry no "<N>" of their own.
    broker = journal('_SYSTEMD_UNIT=appserviced.service', 'SYSLOG_IDENTIFIER=appserviced')
    assert any('its output to the journal' in e['MESSAGE'] for e in broker), broker[-5:]
    assert not [e for e in broker if e['MESSAGE'].startswith('<')], broker[-5:]


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
