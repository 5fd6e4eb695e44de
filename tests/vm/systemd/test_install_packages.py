# SPDX-License-Identifier: LGPL-2.1-or-later
"""The packages go in: the guest booted with systemd as PID 1 and nothing of the project, and
apt-get installs the .deb files tools/package built, as an administrator would. Then what their
maintainer scripts (debhelper's, and ours in debian/) must have done. The tests that follow in the
same guest (test_systemd.py, test_orchestrator.py, test_packages.py) use what this installed.

On the run that takes the packages through their life (packages.LIFECYCLE), what goes in is
the previous build (this one as VERSION~prev, packages.previous_build()); test_packages.py
upgrades it to this build once the device tests have used it.
"""

import grp
import os
import pwd

from packages import (BEFORE, LIFECYCLE, apt_install, debs, file_list, installed_versions,
                      package_names, previous_build, run, unit_property, version_of)


def test_nothing_of_the_project_is_there_before():
    # The host's image forbids maintainer scripts to act on services (a container's
    # policy-rc.d that exits 101); the guest is a device, so its overlay drops that policy.
    if os.path.exists('/usr/sbin/policy-rc.d'):
        os.unlink('/usr/sbin/policy-rc.d')
    # man-db's trigger re-indexes every manual page of the host's tree on each apt run: over 9p
    # in an emulated guest, 70 s of each. man-db's own switch (the debconf question
    # man-db/auto-update) turns it off; the man-pages test checks the pages.
    if os.path.exists('/var/lib/man-db/auto-update'):
        os.unlink('/var/lib/man-db/auto-update')
    assert not os.path.exists('/usr/libexec/appserviced')
    assert unit_property('appserviced.service', 'LoadState') == 'not-found'
    with open(BEFORE, 'w') as f:
        f.write('\n'.join(sorted(file_list(debs()))) + '\n')


def test_apt_installs_every_package():
    paths = previous_build() if LIFECYCLE else debs()
    result = apt_install(paths)
    assert result.returncode == 0, result.stdout + result.stderr
    names = package_names(paths)
    assert installed_versions(names) == {name: version_of(paths[0]) for name in names}
    # Nothing the maintainer scripts ran complained.
    assert 'warning' not in result.stderr.lower(), result.stderr


def test_sysusers_made_the_service_users():
    gpio = pwd.getpwnam('appservice-gpio')
    mqtt = pwd.getpwnam('appservice-mqtt')
    for user in (gpio, mqtt):
        assert 0 < user.pw_uid < 1000 and user.pw_shell in ('/usr/sbin/nologin', '/sbin/nologin')
    assert 'appservice-gpio' in grp.getgrnam('gpio').gr_mem


def test_units_are_known_but_neither_started_nor_enabled():
    # The broker, the GPIO service and the bridge run on demand; the gateway waits for its
    # administrator to name its callers (gateway/README.md).
    for unit in ('appserviced.service', 'appservice-gpio.service', 'appservice-mqtt.service',
                 'appservice-http.service'):
        assert unit_property(unit, 'LoadState') == 'loaded', unit
        assert unit_property(unit, 'ActiveState') == 'inactive', unit
    for unit in ('appserviced.service', 'appservice-gpio.service', 'appservice-mqtt.service'):
        assert unit_property(unit, 'UnitFileState') == 'static', unit
    assert unit_property('appservice-http.service', 'UnitFileState') == 'disabled'


def test_conffiles_and_policy_are_where_debian_keeps_them():
    conffiles = run('dpkg-query', '-W', '-f', '${Conffiles}\n', 'appserviced', 'appservice-http').stdout
    assert '/etc/appservice/appserviced.conf' in conffiles
    assert '/etc/appservice/http.conf' in conffiles
    owner = run('dpkg-query', '-S', '/usr/share/dbus-1/system.d/io.appservice1.conf').stdout
    assert owner.startswith('appserviced:')
    owner = run('dpkg-query', '-S', '/usr/lib/udev/rules.d/60-appservice-gpio.rules').stdout
    assert owner.startswith('appservice-gpio:')


def test_library_and_typelib_are_found_by_the_system():
    assert 'libappservice-1.so.0' in run('ldconfig', '-p').stdout
    result = run('/usr/bin/python3', '-c',
                 'import gi; gi.require_version("AppService", "1.0"); '
                 'from gi.repository import AppService; print(AppService.ConnectionStatus.SUCCESS)')
    assert 'SUCCESS' in result.stdout
