# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the package tests in the guest share: the .deb files tools/package built (the directory
in $APPSERVICE_DEBS), apt and dpkg run as an administrator would, and the list of files a purge
has to leave as it found them."""

import glob
import os
import subprocess

DEBS = os.environ.get('APPSERVICE_DEBS', '')
# Where the list of files from before the first install is kept for the last test of the run
# (the guest's own disk: its /tmp is its own too, but /var/tmp says it outlives one test file).
BEFORE = '/var/tmp/appservice-files-before-install'
# The trees maintainer scripts write to (conffiles, systemd's and debhelper's state), walked
# whole; what the packages ship elsewhere is checked path by path (shipped_paths()): walking the
# host's /usr over 9p in an emulated guest would take longer than the whole tier.
TREES = ('/etc', '/var/lib')
NOT_OURS = ('/var/lib/dpkg/', '/var/lib/apt/', '/var/lib/systemd/coredump/', '/var/lib/polkit-1/')


def run(*args, check=True, timeout=300, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=timeout, **kw)


def debs(directory=None):
    """The packages to install (not the -dbgsym ones), one path per package."""
    found = sorted(p for p in glob.glob(os.path.join(directory or DEBS, '*.deb'))
                   if '-dbgsym_' not in p)
    assert found, 'no .deb files in %r (APPSERVICE_DEBS)' % (directory or DEBS)
    return found


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
    """Every path under TREES but what dpkg and apt keep for themselves, and every path the
    packages in paths ship that exists."""
    found = {p for p in shipped_paths(paths) if os.path.lexists(p)}
    for tree in TREES:
        for root, dirs, files in os.walk(tree):
            if (root + '/').startswith(NOT_OURS):
                dirs[:] = []
                continue
            for name in dirs + files:
                found.add(os.path.join(root, name))
    return found
