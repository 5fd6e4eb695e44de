#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The install options: what `meson install` would write for a prefix and options a user picks,
read from `meson introspect --installed` of a fresh configuration of the source tree (nothing is
built or installed). Checks that no file goes outside a prefix such as one under /tmp (the
systemd units included), that `meson compile docs` says why there is no API reference when
it is not built, and that -Dexamples=false, -Dgpio=disabled, -Dudev=false and
-Dmqtt=disabled leave out what they name and nothing else.

TAP on stdout, one line per check. Usage: test-install-options.py SOURCE-ROOT MESON
"""

import json
import os
import subprocess
import sys
import tempfile

# Quick to configure: the parts that take long to probe, off; they do not change what is checked.
BASE = ['-Dtests=disabled', '-Ddocs=disabled', '-Dintrospection=disabled', '-Dexplorer=disabled',
        '-Dman=disabled']

EXAMPLES = ('echo-provider', 'app2app-provider', 'hello-provider', 'com.example.')
GPIO = ('appservice-gpio', 'io.appservice.gpio.appservice')
UDEV = ('60-appservice-gpio.rules',)
MQTT = ('appservice-mqtt', 'io.appservice.cloud.appservice', '/doc/appservice/mqtt/')


def installed(source, meson, work, prefix, options, build=None):
    build = build or tempfile.mkdtemp(dir=work)
    result = subprocess.run([meson, 'setup', '--prefix', prefix] + BASE + options + [build, source],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError('meson setup %s failed:\n%s' % (' '.join(options), result.stdout[-3000:]))
    out = subprocess.run([meson, 'introspect', '--installed', build], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    return sorted(json.loads(out).values())


def matching(paths, needles):
    return [p for p in paths if any(n in p for n in needles)]


def main():
    source, meson = sys.argv[1], sys.argv[2]
    checks = []

    def check(name, fn):
        checks.append((name, fn))

    with tempfile.TemporaryDirectory(prefix='appservice-install-options-') as work:
        prefix = os.path.join(work, 'prefix')
        first = os.path.join(work, 'first')
        everything = installed(source, meson, work, prefix, [], build=first)

        def docs_target_says_why():
            result = subprocess.run([meson, 'compile', '-C', first, 'docs'], capture_output=True, text=True,
                                    timeout=120)
            assert result.returncode != 0, 'meson compile docs succeeded without the reference'
            assert 'the API reference is not built: -Ddocs=disabled' in result.stdout + result.stderr, \
                result.stdout[-2000:] + result.stderr[-2000:]
        check('without the API reference, `meson compile docs` fails saying why', docs_target_says_why)

        def under_prefix():
            outside = [p for p in everything if not p.startswith(prefix + '/')]
            assert not outside, 'installed outside %s: %r' % (prefix, outside)
            units = [p for p in everything if p.endswith('.service') and '/systemd/system/' in p]
            assert os.path.join(prefix, 'lib', 'systemd', 'system', 'appserviced.service') in units, units
        check('a prefix under /tmp keeps every file under it, the systemd units included', under_prefix)

        def all_parts_by_default():
            for what, needles in (('examples', EXAMPLES), ('GPIO service', GPIO), ('udev rule', UDEV),
                                  ('MQTT bridge', MQTT)):
                assert matching(everything, needles), 'by default the %s is installed' % what
        check('by default: the examples, the GPIO service, its udev rule and the MQTT bridge', all_parts_by_default)

        def without(options, gone, what):
            def fn():
                paths = installed(source, meson, work, prefix, options)
                assert not matching(paths, gone), '%s still installs %r' % (' '.join(options), matching(paths, gone))
                lost = sorted(set(everything) - set(paths) - set(matching(everything, gone)))
                assert not lost, '%s also leaves out %r' % (' '.join(options), lost)
            check('%s leaves out %s and nothing else' % (' '.join(options), what), fn)

        without(['-Dexamples=false'], EXAMPLES, 'the example providers, definitions and contracts')
        without(['-Dudev=false'], UDEV, 'the udev rule')
        without(['-Dgpio=disabled'], GPIO + UDEV, 'the GPIO service (program, unit, users, definition) and its rule')
        without(['-Dmqtt=disabled'], MQTT, 'the MQTT bridge')

        print('1..%d' % len(checks), flush=True)
        failed = 0
        for i, (name, fn) in enumerate(checks, 1):
            try:
                fn()
                print('ok %d - %s' % (i, name), flush=True)
            except Exception as e:  # noqa: BLE001 - each check reports its own failure
                failed += 1
                print('not ok %d - %s' % (i, name), flush=True)
                for line in str(e).splitlines():
                    print('# ' + line, flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
