# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the package tests in the guest share: the .deb files tools/package built (the directory
in $APPSERVICE_DEBS), apt and dpkg run as an administrator would, and the list of files a purge
has to leave as it found them."""

import glob
import os
import re
import shutil
import subprocess

DEBS = os.environ.get('APPSERVICE_DEBS', '')
# Set on the one run (tests/vm/meson.build) that takes the packages through their whole life:
# the previous build installed first, the upgrade to this one, the purge at the end. Elsewhere
# this build is installed and the upgrade and purge are skipped: apt and dpkg are the slow part
# of an emulated guest.
LIFECYCLE = os.environ.get('APPSERVICE_VM_LIFECYCLE') == '1'
# Where previous_build() puts its packages (the guest's own disk, fresh at each boot).
PREVIOUS = '/var/tmp/appservice-previous-build'
# Where the list of files from before the first install is kept for the last test of the run
# (the guest's own disk: its /tmp is its own too, but /var/tmp says it outlives one test file).
BEFORE = '/var/tmp/appservice-files-before-install'
# The trees maintainer scripts write to (conffiles, systemd's and debhelper's state), walked
# whole; what the packages ship elsewhere is checked path by path (shipped_paths()): walking the
# host's /usr over 9p in an emulated guest would take longer than the whole tier.
TREES = ('/etc', '/var/lib')
# What other parts of the system write there as the tests use it: dpkg and apt, systemd's
# coredumps and logind's lingering users, polkit, and PackageKit (apt's hook calls it).
NOT_OURS = ('/var/lib/dpkg/', '/var/lib/apt/', '/var/lib/systemd/coredump/',
            '/var/lib/systemd/linger', '/var/lib/polkit-1/', '/var/lib/PackageKit/')


def run(*args, check=True, timeout=300, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=timeout, **kw)


def debs(directory=None):
    """The packages to install (not the -dbgsym ones), one path per package."""
    found = sorted(p for p in glob.glob(os.path.join(directory or DEBS, '*.deb'))
                   if '-dbgsym_' not in p)
    assert found, 'no .deb files in %r (APPSERVICE_DEBS)' % (directory or DEBS)
    return found


def unit_property(unit, prop):
    return run('systemctl', 'show', '-P', prop, unit).stdout.strip()


def version_of(path):
    return os.path.basename(path).split('_')[1]


def previous_build():
    """This build's packages as version VERSION~prev in PREVIOUS: the previous build of an
    upgrade. Repacked with dpkg-deb, not built again (a second full build would double the time
    of the tier); the upgrade runs every maintainer script's upgrade path all the same."""
    current = debs()
    version = version_of(current[0])
    old = version + '~prev'
    os.makedirs(PREVIOUS, exist_ok=True)
    tree = os.path.join(PREVIOUS, 'tree')
    for path in current:
        run('dpkg-deb', '--raw-extract', path, tree)
        control = os.path.join(tree, 'DEBIAN', 'control')
        with open(control) as f:
            text = f.read()
        text = re.sub(r'^Version: .*$', 'Version: ' + old, text, flags=re.M)
        # Dependencies on this version, exact (=) or from the library's symbols (>=).
        text = re.sub(r'\((=|>=) %s\)' % re.escape(version), r'(\1 %s)' % old, text)
        with open(control, 'w') as f:
            f.write(text)
        run('dpkg-deb', '--root-owner-group', '--build', tree,
            os.path.join(PREVIOUS, os.path.basename(path).replace('_%s_' % version, '_%s_' % old)))
        shutil.rmtree(tree)
    return debs(PREVIOUS)


def package_names(paths):
    return [os.path.basename(p).split('_')[0] for p in paths]


def apt_install(paths):
    """apt-get install of local .deb files; every dependency is installed already (the guest has
    no network)."""
    return run('apt-get', 'install', '--yes', '-o', 'Dpkg::Use-Pty=0',
               *paths, check=False, env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'))


def apt_purge(names):
    return run('apt-get', 'purge', '--yes', '-o', 'Dpkg::Use-Pty=0', *names, check=False,
               env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'))


def installed_versions(names):
    out = run('dpkg-query', '-W', '-f', '${Package} ${db:Status-Abbrev} ${Version}\n', *names,
              check=False).stdout
    versions = {}
    for line in out.splitlines():
        name, status, version = (line.split() + ['', '', ''])[:3]
        if status.startswith('ii'):
            versions[name] = version
    return versions


def shipped_paths(paths):
    """Every path the packages hold, as dpkg-deb lists their contents."""
    shipped = set()
    for path in paths:
        for line in run('dpkg-deb', '--contents', path).stdout.splitlines():
            name = line.split(None, 5)[5].split(' -> ')[0]
            shipped.add(os.path.normpath('/' + name.lstrip('.')))
    return shipped


def file_list(paths):
    """Every path under TREES but those of NOT_OURS, and every path the
    packages in paths ship that exists."""
    found = {p for p in shipped_paths(paths) if os.path.lexists(p)}
    for tree in TREES:
        for root, dirs, files in os.walk(tree):
            if (root + '/').startswith(NOT_OURS):
                dirs[:] = []
                continue
            for name in dirs + files:
                path = os.path.join(root, name)
                if not (path + '/').startswith(NOT_OURS):
                    found.add(path)
    return found
