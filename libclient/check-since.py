#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""check-since.py VERSION FILE...: no "Since" in the API's documentation names a version after
VERSION, the project's (a "Since: 0.4" in release 0.1.0 tells readers of a history that never
was). Reads gtk-doc "Since:" tags, D-Bus XML "@since:" tags and prose "since 0.3"; prints one
line per offence and exits 1 when there is one."""

import re
import sys

SINCE = re.compile(r'\b[Ss]ince:? +v?(\d+)\.(\d+)(?:\.(\d+))?\b')


def parse(version):
    return tuple(int(p) for p in (version.split('.') + ['0', '0'])[:3])


def main():
    project = parse(sys.argv[1])
    bad = 0
    for path in sys.argv[2:]:
        with open(path, encoding='utf-8') as f:
            for number, line in enumerate(f, 1):
                for m in SINCE.finditer(line):
                    said = tuple(int(g or 0) for g in m.groups())
                    if said > project:
                        print('%s:%d: "%s" is after this release, %s' % (path, number, m.group(0), sys.argv[1]))
                        bad += 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
