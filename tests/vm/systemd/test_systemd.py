# SPDX-License-Identifier: LGPL-2.1-or-later
"""The device path, in a guest with systemd as PID 1 and the project's Debian packages installed
(test_install_packages.py), nothing from the build tree: the first call to io.appservice1 starts
appserviced through D-Bus activation and systemd with the installed policy, and opening
io.appservice.gpio starts appservice-gpio.service, as its own user with only the GPIO devices;
a polkit rule lets one unprivileged user administer the broker (Manager.Reload) and no other.

Runs as root inside the guest (tests/vm/meson.build: vm-systemd), in the order written: each
test builds on the state the previous ones left, as a device does from its boot.
"""

import json
import os
import pwd
import grp
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gpiosim  # noqa: E402
from client import proc_status  # noqa: E402  (tests/integration, on PYTHONPATH)

HERE = os.path.dirname(os.path.abspath(__file__))
USER = 'gpio-client'          # a user in group gpio
OUTSIDER = 'gpio-outsider'    # a user who is not
ADMIN = 'appservice-admin'    # a user whom a polkit rule lets administer the broker
POLKIT_RULE = '/etc/polkit-1/rules.d/50-appservice-test.rules'
# The system bus of this run (run-vm --bus), and the unit that is dbus.service then.
BUS = os.environ.get('APPSERVICE_VM_BUS', 'dbus-daemon')
BUS_UNITS = {'dbus-daemon': 'dbus.service', 'dbus-broker': 'dbus-broker.service'}


def run(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=120, **kw)


def unit_property(unit, prop):
    return run('systemctl', 'show', '-P', prop, unit).stdout.strip()


def wait_for(predicate, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail('timed out waiting for ' + what)


@pytest.fixture(scope='module')
def users():
    for name, groups in ((USER, ['gpio']), (OUTSIDER, [])):
        try:
            pwd.getpwnam(name)
        except KeyError:
            run('useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin',
                *(['--groups', ','.join(groups)] if groups else []), name)
    return USER, OUTSIDER


@pytest.fixture(scope='module')
def client_script():
    # The unprivileged user may not be able to read the source tree (a clone under /root).
    directory = tempfile.mkdtemp(prefix='gpio-client-')
    os.chmod(directory, 0o755)
    path = os.path.join(directory, 'gpio_client.py')
    shutil.copyfile(os.path.join(HERE, 'gpio_client.py'), path)
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(directory)


@pytest.fixture(scope='module')
def chip():
    with gpiosim.Chip(num_lines=4, names={0: 'led', 1: 'button'}, label='vm-systemd') as c:
        run('udevadm', 'settle')
        yield c


def test_installed_files_only():
    assert unit_property('appserviced.service', 'FragmentPath') == '/lib/systemd/system/appserviced.service'
    assert unit_property('appservice-gpio.service', 'FragmentPath') == '/lib/systemd/system/appservice-gpio.service'
    for path in ('/usr/libexec/appserviced', '/usr/share/dbus-1/system.d/io.appservice1.conf',
                 '/usr/share/dbus-1/system-services/io.appservice1.service',
                 '/usr/share/appservice/services/io.appservice.gpio.appservice',
                 '/usr/lib/sysusers.d/appservice-gpio.conf',
                 '/usr/lib/udev/rules.d/60-appservice-gpio.rules',
                 '/usr/bin/appservicectl'):
        assert os.path.exists(path), path


def test_broker_is_not_running_before_the_first_call():
    assert unit_property('appserviced.service', 'ActiveState') == 'inactive'


def test_first_busctl_call_activates_the_broker(users):
    result = run('runuser', '-u', OUTSIDER, '--', 'busctl', '--system', '--json=short', 'call',
                 'io.appservice1', '/io/appservice1', 'io.appservice1.Manager', 'ListServices',
                 check=False)
    assert result.returncode == 0, result.stderr
    names = [entry[0] for entry in json.loads(result.stdout)['data'][0]]
    assert 'io.appservice.gpio' in names
    assert unit_property('appserviced.service', 'ActiveState') == 'active'
    pid = int(unit_property('appserviced.service', 'MainPID'))
    assert os.readlink(f'/proc/{pid}/exe') == '/usr/libexec/appserviced'
    if BUS == 'dbus-daemon':
        journal = run('journalctl', '-b', '--no-pager', '-o', 'cat', '_COMM=dbus-daemon').stdout
        assert "Activating via systemd: service name='io.appservice1' unit='appserviced.service'" in journal
    else:
        # dbus-broker-launch logs only failed activations.
        journal = run('journalctl', '-b', '--no-pager', '-o', 'cat', '_COMM=dbus-broker-lau').stdout
        assert 'io.appservice1' not in journal, journal


def test_the_system_bus_is_the_one_asked_for():
    """vm.bus made dbus.service the implementation the run is for (tests/vm/guest-init)."""
    assert unit_property('dbus.service', 'Id') == BUS_UNITS[BUS]
    assert unit_property(BUS_UNITS[BUS], 'ActiveState') == 'active'


def test_udev_gives_the_chip_to_group_gpio(chip):
    st = os.stat(chip.path)
    assert grp.getgrgid(st.st_gid).gr_name == 'gpio'
    assert st.st_mode & 0o777 == 0o660


def test_a_user_outside_group_gpio_may_not_open(users):
    result = run('runuser', '-u', OUTSIDER, '--', 'appservicectl', 'call', 'io.appservice.gpio',
                 'Action=ListChips', check=False)
    assert result.returncode != 0
    assert 'NotAuthorized' in result.stderr or 'not authorized' in result.stderr.lower(), result.stderr
    # Refusing an open starts nothing.
    assert unit_property('appservice-gpio.service', 'ActiveState') == 'inactive'


def test_opening_the_gpio_service_starts_its_unit(users, client_script, chip):
    client = subprocess.Popen(['runuser', '-u', USER, '--', '/usr/bin/python3', client_script, chip.name],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    steps = {}
    try:
        for line in client.stdout:
            step = json.loads(line)
            steps[step['step']] = step
            if step['step'] == 'waiting-for-edge':
                chip.pull(1, 'pull-up')
            if step['step'] in ('closed', 'error'):
                break
        client.wait(timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
    assert 'error' not in steps, (steps, client.stderr.read())
    assert steps['open']['status'] == 'success'
    assert chip.name in steps['list']['chips']
    assert steps['edge'] == {'step': 'edge', 'line': 1, 'edge': 'rising'}
    assert unit_property('appservice-gpio.service', 'ActiveState') == 'active'
    journal = run('journalctl', '-b', '--no-pager', '-o', 'cat', '-u', 'appserviced.service').stdout
    assert 'appservice-gpio.service' in journal


def test_output_was_driven_and_released_on_close(chip):
    # The client drove line 0 high; closing its connection released the line, which then
    # follows the simulator's pull (down) again.
    wait_for(lambda: chip.value(0) == 0, 'line 0 to be released')
    info = run('gpioinfo', '-c', chip.name, '0').stdout
    assert 'consumer' not in info, info


def test_gpio_service_runs_as_its_own_user():
    pid = int(unit_property('appservice-gpio.service', 'MainPID'))
    assert pid > 0
    status = proc_status(pid)
    uid = pwd.getpwnam('appservice-gpio').pw_uid
    assert status['Uid'] == [str(uid)] * 4
    assert str(grp.getgrnam('gpio').gr_gid) in status['Groups']
    assert int(status['CapEff'][0], 16) == 0 and int(status['CapBnd'][0], 16) == 0
    assert status['NoNewPrivs'] == ['1']
    assert os.readlink(f'/proc/{pid}/exe') == '/usr/libexec/appservice/appservice-gpio'


def test_gpio_service_may_open_only_gpio_devices(chip):
    assert unit_property('appservice-gpio.service', 'DevicePolicy') == 'closed'
    # ProtectClock= adds read access to the RTC; nothing else may be there.
    allowed = set(unit_property('appservice-gpio.service', 'DeviceAllow').splitlines())
    assert allowed == {'char-gpiochip rw', 'char-rtc r'}
    cgroup = '/sys/fs/cgroup' + unit_property('appservice-gpio.service', 'ControlGroup')
    # A root process put into the unit's cgroup meets the same device filter as the service.
    probe = ('import os, sys\n'
             'with open(sys.argv[1] + "/cgroup.procs", "w") as f: f.write(str(os.getpid()))\n'
             'for path in sys.argv[2:]:\n'
             '    try:\n'
             '        os.close(os.open(path, os.O_RDWR)); print(path, "ok")\n'
             '    except OSError as e:\n'
             '        print(path, e.errno)\n')
    result = run('/usr/bin/python3', '-c', probe, cgroup, chip.path, '/dev/ttyS0', '/dev/mem')
    lines = dict(line.split() for line in result.stdout.splitlines())
    assert lines[chip.path] == 'ok'
    assert lines['/dev/ttyS0'] == str(1)      # EPERM
    assert lines['/dev/mem'] == str(1)


def test_security_exposure_is_low():
    result = run('systemd-analyze', 'security', '--no-pager', 'appservice-gpio.service', check=False)
    summary = [line for line in result.stdout.splitlines() if 'Overall exposure level' in line]
    print(summary)
    assert summary
    score = float(summary[0].split('exposure level for appservice-gpio.service:')[1].split()[0])
    assert score <= 2.5, result.stdout


def busctl_reload(user):
    return run('runuser', '-u', user, '--', 'busctl', '--system', 'call', 'io.appservice1',
               '/io/appservice1', 'io.appservice1.Manager', 'Reload', check=False)


def test_polkit_rule_lets_one_user_administer(users):
    assert os.path.exists('/usr/share/polkit-1/actions/io.appservice1.policy')
    try:
        pwd.getpwnam(ADMIN)
    except KeyError:
        run('useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', ADMIN)
    with open(POLKIT_RULE, 'w') as f:
        f.write('polkit.addRule(function(action, subject) {\n'
                '        if (action.id == "io.appservice1.manage" && subject.user == "%s")\n'
                '                return polkit.Result.YES;\n'
                '});\n' % ADMIN)
    # polkitd is started on demand, by the broker's first question (D-Bus activation): make sure
    # it is not running yet, so that the question below starts it.
    run('systemctl', 'stop', 'polkit.service')
    assert unit_property('polkit.service', 'ActiveState') != 'active'

    # A definition added since the broker started, in a directory that did not exist then (so
    # not watched): it appears on the admin's Reload, not before.
    os.makedirs('/etc/appservice/services', exist_ok=True)
    with open('/etc/appservice/services/com.example.vm.appservice', 'w') as f:
        f.write('[App Service]\nName=com.example.vm\nProvider=com.example.VmApp\n')

    refused = busctl_reload(OUTSIDER)
    assert refused.returncode != 0
    assert 'may not reload the definitions' in refused.stderr, refused.stderr
    assert 'polkit refused' in refused.stderr, refused.stderr
    assert unit_property('polkit.service', 'ActiveState') == 'active'   # started by that question
    actions = run('pkaction', check=False).stdout.split() if shutil.which('pkaction') else []
    if actions:
        assert 'io.appservice1.manage' in actions
    listed = run('busctl', '--system', '--json=short', 'call', 'io.appservice1', '/io/appservice1',
                 'io.appservice1.Manager', 'ListServices').stdout
    assert 'com.example.vm' not in [entry[0] for entry in json.loads(listed)['data'][0]]

    allowed = busctl_reload(ADMIN)
    assert allowed.returncode == 0, allowed.stderr
    listed = run('busctl', '--system', '--json=short', 'call', 'io.appservice1', '/io/appservice1',
                 'io.appservice1.Manager', 'ListServices').stdout
    assert 'com.example.vm' in [entry[0] for entry in json.loads(listed)['data'][0]]
    journal = run('journalctl', '-b', '--no-pager', '-o', 'cat', '-u', 'appserviced.service').stdout
    assert 'reloaded the definitions' in journal
    uid = pwd.getpwnam(OUTSIDER).pw_uid
    assert 'uid %d may not reload the definitions' % uid in journal
