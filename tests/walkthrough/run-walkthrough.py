#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""run-walkthrough.py PAGE BUILD_ROOT SOURCE_ROOT: follows a walkthrough page of the API
reference (libclient/walkthrough.md) word for word, as an unprivileged user in a fresh home
directory, against the build tree instead of the packages the page installs.

The page's conventions, which a reader follows too:
  - "Save as `NAME`:" then a fenced block: the block is written to NAME, in the current
    directory of the commands so far;
  - in a ```sh block, a line "$ COMMAND" is run (with its here-document, when it has one, up to
    the line that ends it); the lines after it, up to the next command, are its output, exactly;
    a command with no output shown must print nothing and succeed; one whose output is an error
    ("appservicectl: ...") must fail.
  - the other fenced blocks (the package installation) are for a reader only.
The broker's own log, which `appservicectl dev` writes to standard error with sd-daemon
prefixes when that is not a terminal ("<6>..."), is left out of the comparison, as the page
says it is.

All the steps run in one bash, as the page's reader would type them, as the user nobody: the
build tree's appservicectl, broker (APPSERVICED), library, typelib, overrides and uninstalled
pkg-config file come from the environment. TAP on stdout, one line per command, and one that
the packages the page installs are the ones debian/control builds.
"""

import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile

USER = 'nobody'
FENCE = re.compile(r'^```(\w*)\s*$')
SAVE = re.compile(r'\bSave as `([^`]+)`:\s*$')
HEREDOC = re.compile(r"<<-?\s*'?(\w+)'?")
BROKER_LOG = re.compile(r'^<[0-7]>')
ERROR = re.compile(r'^[\w.-]+: ')


def installed_packages(page):
    """The project's packages the page's `apt install ./build/debian-packages/{...}_*.deb` names."""
    m = re.search(r'apt install \./build/debian-packages/\{([^}]*)\}_\*\.deb', page)
    return m.group(1).split(',') if m else []


def missing_packages(names, source):
    """Those of `names` that debian/control does not build."""
    with open(os.path.join(source, 'debian', 'control'), encoding='utf-8') as f:
        built = set(re.findall(r'^Package: (\S+)$', f.read(), re.M))
    return [n for n in names if n not in built]


def parse(page):
    """The page's steps, in order: ('save', name, text) and ('run', command, expected lines)."""
    steps, lines, i, save_as = [], page.splitlines(), 0, None
    while i < len(lines):
        m = SAVE.search(lines[i])
        if m:
            save_as = m.group(1)
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        language, body, i = fence.group(1), [], i + 1
        while not FENCE.match(lines[i]):
            body.append(lines[i])
            i += 1
        i += 1
        if save_as:
            steps.append(('save', save_as, '\n'.join(body) + '\n'))
            save_as = None
        elif language == 'sh':
            steps += commands(body)
    return steps


def commands(body):
    steps, j = [], 0
    while j < len(body):
        if not body[j].startswith('$ '):
            j += 1  # a block without commands (the packages to install): for the reader
            continue
        command = [body[j][2:]]
        j += 1
        heredoc = HEREDOC.search(command[0])
        if heredoc:
            while body[j] != heredoc.group(1):
                command.append(body[j])
                j += 1
            command.append(body[j])
            j += 1
        expected = []
        while j < len(body) and not body[j].startswith('$ '):
            expected.append(body[j])
            j += 1
        steps.append(('run', '\n'.join(command), expected))
    return steps


def script(steps):
    """One bash script of every step, its output cut by markers."""
    out = ['set -u']
    for n, step in enumerate(steps):
        if step[0] == 'save':
            out.append("cat > %s <<'__WALKTHROUGH_EOF__'\n%s__WALKTHROUGH_EOF__" % (step[1], step[2]))
            continue
        out.append("printf '\\n@@STEP %d\\n'" % n)
        out.append('{ %s\n} 2>&1' % step[1])
        out.append("printf '\\n@@RC %d %%d\\n' $?" % n)
    return '\n'.join(out) + '\n'


def environment(build, source, home, bindir):
    return {
        'HOME': home, 'USER': USER, 'LOGNAME': USER, 'LANG': 'C.UTF-8', 'SHELL': '/bin/bash',
        'PATH': bindir + ':/usr/bin:/bin',
        'APPSERVICED': os.path.join(build, 'daemon', 'appserviced'),
        'LD_LIBRARY_PATH': os.path.join(build, 'libclient'),
        'GI_TYPELIB_PATH': os.path.join(build, 'libclient'),
        'PYTHONPATH': os.path.join(source, 'libclient', 'python'),
        'PKG_CONFIG_PATH': os.path.join(build, 'meson-uninstalled'),
        'PYTHONDONTWRITEBYTECODE': '1',
    }


def outputs(text):
    """{step: (lines, status)} from the script's output."""
    result, current, lines = {}, None, []
    for line in text.splitlines():
        m = re.match(r'^@@(STEP|RC) (\d+)(?: (\d+))?$', line)
        if m and m.group(1) == 'STEP':
            current, lines = int(m.group(2)), []
        elif m:
            result[int(m.group(2))] = ([l for l in lines if l and not BROKER_LOG.match(l)], int(m.group(3)))
            current = None
        elif current is not None:
            lines.append(line)
    return result


def reachable_by_anyone(path):
    """Whether every directory above path lets any user through."""
    parent = os.path.dirname(os.path.realpath(path))
    while parent != '/':
        if not os.stat(parent).st_mode & 0o001:
            return False
        parent = os.path.dirname(parent)
    return True


def main():
    page_path, build, source = sys.argv[1:4]
    if os.geteuid() != 0:
        print('1..0 # SKIP runs the page as the user nobody: needs root to switch to it')
        return 0
    for path in (build, source):
        if not reachable_by_anyone(os.path.join(path, 'x')):
            print('1..0 # SKIP %s cannot be reached by the user nobody' % path)
            return 0
    with open(page_path, encoding='utf-8') as f:
        page = f.read()
    steps = parse(page)
    packages = installed_packages(page)
    runs = [(n, s) for n, s in enumerate(steps) if s[0] == 'run']
    user = pwd.getpwnam(USER)
    work = tempfile.mkdtemp(prefix='appservice-walkthrough-')
    try:
        os.chmod(work, 0o755)
        home, bindir = os.path.join(work, 'home'), os.path.join(work, 'bin')
        os.makedirs(home)
        os.makedirs(bindir)
        os.symlink(os.path.join(build, 'appservicectl', 'appservicectl'), os.path.join(bindir, 'appservicectl'))
        os.chown(home, user.pw_uid, user.pw_gid)
        result = subprocess.run(
            ['setpriv', '--reuid=%d' % user.pw_uid, '--regid=%d' % user.pw_gid, '--clear-groups',
             '--inh-caps=-all', '--', '/bin/bash', '--noprofile', '--norc'],
            input=script(steps), capture_output=True, text=True, cwd=home, timeout=600,
            env=environment(build, source, home, bindir))
        got = outputs(result.stdout)
        print('1..%d' % (len(runs) + 1))
        failed = 0
        for i, (n, (_, command, expected)) in enumerate(runs, 1):
            lines, status = got.get(n, (None, None))
            want_failure = bool(expected) and all(ERROR.match(l) for l in expected)
            ok = lines == expected and status is not None and (status != 0) == want_failure
            first = command.splitlines()[0]
            print('%s %d - $ %s' % ('ok' if ok else 'not ok', i, first))
            if not ok:
                failed += 1
                print('# expected (%s):' % ('failure' if want_failure else 'success'))
                for line in expected:
                    print('#   ' + line)
                print('# got (exit status %s):' % status)
                for line in lines or []:
                    print('#   ' + line)
        # The packages the page installs, which the steps stand in for with the build tree.
        missing = missing_packages(packages, source)
        if not packages or missing:
            failed += 1
        print('%s %d - the packages the page installs are built by debian/control: %s%s' %
              ('ok' if packages and not missing else 'not ok', len(runs) + 1, ', '.join(packages) or 'none found',
               '; not built: ' + ', '.join(missing) if missing else ''))
        if failed or result.returncode != 0:
            print('# the whole session:')
            for line in (result.stdout[-4000:] + result.stderr[-4000:]).splitlines():
                print('# ' + line)
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
