# SPDX-License-Identifier: LGPL-2.1-or-later
"""appservicectl verify: definition files read by the broker's own parser (the build tree's
appserviced --verify), as root and as an unprivileged user, without a bus: what the broker would
skip is an error naming file, line and key, what it would doubt a warning, and files made to
hang or flood the reader do neither. meson runs it as

    PYTHONPATH=tests/integration:appservicectl/tests APPSERVICECTL=... APPSERVICED=... \\
        /usr/bin/python3 -m pytest -p tap_report -p no:cacheprovider appservicectl/tests/test_verify.py
"""

import os
import shutil
import subprocess
import tempfile

import pytest

from client import GAMES_GID, GAMES_UID
from test_appservicectl import EXIT_USAGE, base_env, ctl_argv, expect

APPSERVICED = os.environ.get('APPSERVICED', '')
GOOD = '[App Service]\nName=%s\nProvider=com.example.P\nExec=/bin/true\nRequestTimeoutSec=5s\n'


@pytest.fixture(autouse=True)
def broker():
    if not os.access(APPSERVICED, os.X_OK):
        pytest.fail('appserviced is not built at %r (APPSERVICED)' % APPSERVICED)


@pytest.fixture
def tmp():
    directory = tempfile.mkdtemp(prefix='appservice-verify-')
    os.chmod(directory, 0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def write(directory, name, text, mode=0o644, uid=0, gid=0):
    path = os.path.join(directory, name)
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)
    os.chown(path, uid, gid)
    return path


def verify(*args, uid=None, env=None):
    env = dict(env or base_env())
    env.setdefault('APPSERVICED', APPSERVICED)
    argv, env = ctl_argv(['verify'] + list(args), uid=uid, gid=GAMES_GID if uid else None, env=env)
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)


def test_good_files_say_nothing(tmp):
    a = write(tmp, 'com.example.a.appservice', GOOD % 'com.example.a')
    b = write(tmp, 'com.example.b.appservice', GOOD % 'com.example.b' + '[Properties]\nk=v\n')
    result = expect(verify(a, b), 0)
    assert result.stdout == '' and result.stderr == ''


def test_a_broken_file_is_an_error_naming_file_line_and_key(tmp):
    good = write(tmp, 'com.example.a.appservice', GOOD % 'com.example.a')
    bad = write(tmp, 'com.example.b.appservice', GOOD % 'com.example.b' + 'MaxMessageSize=lots\n')
    result = expect(verify(good, bad), 1)
    assert result.stderr == ("error: %s:6: MaxMessageSize: 'lots' is not a size (a decimal number of bytes, "
                             "or with K, M or G)\n" % bad)


@pytest.mark.parametrize('text,line,key,words', [
    ('[App Service]\nName=com.example.c\nProvider=p\nProvider=q\n', 4, 'Provider', 'is set again'),
    ('[App Service]\nName=com.example.c\nProvider=p\nUser=no-such-user-appservice\n', 4, 'User', 'no-such-user'),
    ('[App Service]\nName=com.example.c\nProvider=p\nContract=com.example.nowhere\n', 0, 'Contract', 'nowhere'),
    ('[App Service]\nName=com.example.c\n', 0, 'Provider', 'required key is missing'),
    ('[App Service\n', 1, None, ''),
], ids=['repeated-key', 'unknown-user', 'missing-contract', 'missing-provider', 'syntax'])
def test_what_the_broker_would_skip(tmp, text, line, key, words):
    path = write(tmp, 'com.example.c.appservice', text)
    result = expect(verify(path), 1)
    where = path + (':%d' % line if line else '') + (': ' + key if key else '')
    assert result.stderr.startswith('error: ' + where + ': '), result.stderr
    assert words in result.stderr


def test_what_it_would_doubt_is_a_warning(tmp):
    path = write(tmp, 'com.example.d.appservice',
                 '[App Service]\nName=com.example.other\nProvider=p\nExec=/nonexistent/provider\n'
                 'Unknown=1\n[Secrets]\nk=v\n', mode=0o644)
    result = expect(verify(path), 0)
    lines = result.stderr.splitlines()
    assert all(line.startswith('warning: ') for line in lines), lines
    text = result.stderr
    assert "unknown key 'Unknown'" in text
    assert 'does not match the file name' in text
    assert 'ignoring [Secrets]' in text
    assert "Exec: '/nonexistent/provider' cannot be run (No such file or directory)" in text


@pytest.mark.parametrize('program,warning', [
    ('true', None),
    ('no-such-provider-appservice', "Exec: 'no-such-provider-appservice' is not in the PATH a system broker "
                                    "gives providers (/usr/local/sbin:"),
    ('bin/true', "Exec: 'bin/true' is a relative path, and providers start in '/': give the absolute path"),
], ids=['bare-name-in-path', 'bare-name-nowhere', 'relative-path'])
def test_exec_is_looked_up_as_the_broker_runs_it(tmp, program, warning):
    """The broker runs Exec= with execvpe() from /: a bare name is found in the providers' PATH."""
    path = write(tmp, 'com.example.g.appservice',
                 '[App Service]\nName=com.example.g\nProvider=p\nExec=%s --flag\n' % program)
    result = expect(verify(path), 0)
    if warning is None:
        assert result.stderr == ''
    else:
        assert result.stderr.startswith('warning: %s: %s' % (path, warning)), result.stderr


def test_two_files_of_one_name(tmp):
    first = write(tmp, 'com.example.e.appservice', GOOD % 'com.example.e')
    second = write(tmp, 'copy.appservice', GOOD % 'com.example.e')
    result = expect(verify(first, second), 1)
    assert ("error: %s: Name: app service 'com.example.e' is already declared by %s" % (second, first)
            in result.stderr)


def test_trust_is_that_of_a_broker_run_by_the_caller(tmp):
    """A user's own file is trusted by a broker the user runs (appservicectl dev), not by root's:
    verify answers for a broker running as whoever runs it."""
    mine = write(tmp, 'com.example.f.appservice', GOOD % 'com.example.f', uid=GAMES_UID, gid=GAMES_GID)
    secret = write(tmp, 'com.example.g.appservice', GOOD % 'com.example.g', mode=0o600)
    result = expect(verify(mine, secret, uid=GAMES_UID), 1)
    assert result.stderr == 'error: %s: cannot open file: Permission denied\n' % secret
    # As root, the same file: Exec= from a user's file runs only when User= names its owner.
    result = expect(verify(mine), 0)
    assert result.stderr.startswith('warning: %s is not owned by root' % mine), result.stderr
    assert 'ignoring Exec= and SystemdService=' in result.stderr


def test_hostile_files_neither_hang_nor_flood(tmp):
    fifo = os.path.join(tmp, 'com.example.fifo.appservice')
    os.mkfifo(fifo)
    big = write(tmp, 'com.example.big.appservice', GOOD % 'com.example.big' + '#' * (2 << 20) + '\n')
    noisy = write(tmp, 'com.example.noisy.appservice',
                  GOOD % 'com.example.noisy' + ''.join('K%d=1\n' % i for i in range(60000)))
    result = expect(verify(fifo, big, '/dev/zero', tmp, noisy), 1)
    assert 'error: %s: is not a regular file' % fifo in result.stderr
    assert 'error: %s: file is larger than 1 MiB' % big in result.stderr
    assert 'error: /dev/zero: is not a regular file' in result.stderr
    assert 'error: %s: is a directory, not a file' % tmp in result.stderr
    # Unknown keys: five lines and a count, not 60,000.
    assert len(result.stderr.splitlines()) < 20, result.stderr[:2000]
    assert '59995 more unknown sections and keys' in result.stderr


def test_usage(tmp):
    result = expect(verify(), EXIT_USAGE)
    assert 'missing FILE' in result.stderr
    result = expect(verify('--user', '/dev/null'), EXIT_USAGE)
    assert 'do not apply' in result.stderr
    env = base_env()
    env['APPSERVICED'] = '/nonexistent/appserviced'
    result = expect(verify('/dev/null', env=env), 1)
    assert 'cannot run /nonexistent/appserviced' in result.stderr
    # A file named like an option is a file.
    odd = write(tmp, '-odd.appservice', GOOD % 'com.example.odd')
    os.chdir(tmp)
    try:
        result = expect(verify('--', '-odd.appservice'), 0)
    finally:
        os.chdir('/')
    assert result.stderr.count('does not match the file name') == 1, result.stderr
    assert os.path.exists(odd)
