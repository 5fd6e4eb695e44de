#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""check-limits.py PAGE ERRORS_H ENUMS_H DEFINITION_C APPSERVICED_CONF: the API reference's page
"Errors, limits and timeouts" (limits.md) names every error the broker answers with
(daemon/errors.h) and every code of the library's error domain (appservice-enums.h), every key
of a definition file that bounds or times something (Max*, *Sec, StartLimitBurst), and every key
of appserviced.conf's [Limits], each with its default. TAP on stdout."""

import re
import sys


def main():
    page, errors_h, enums_h, definition_c, conf = (open(p, encoding='utf-8').read() for p in sys.argv[1:6])
    checks = []
    for name in re.findall(r'"(io\.appservice1\.Error\.\w+)"', errors_h):
        checks.append(('the D-Bus error %s' % name, '`%s`' % name in page))
    for code in re.findall(r'^\s+APP_SERVICE_ERROR_(\w+),', enums_h, re.M):
        if code != 'FAILED':
            checks.append(('the library code APP_SERVICE_ERROR_%s' % code, '`%s`' % code in page))
    keys = re.findall(r'\{ "(\w+)", parse_\w+, /\* raw= \*/', definition_c)
    for key in keys:
        if key.startswith('Max') or key.endswith('Sec') or key == 'StartLimitBurst':
            checks.append(('the definition key %s=' % key, '`%s' % key in page))
    section = conf.split('[Limits]', 1)[1].split('\n[', 1)[0]
    for key, default in re.findall(r'^#(\w+)=(\S+)', section, re.M):
        row = re.search(r'^\| `%s` \| ([^|]+) \|' % key, page, re.M)
        checks.append(('the [Limits] key %s with its default %s' % (key, default),
                       bool(row) and row.group(1).strip() == default))
    print('1..%d' % len(checks))
    failed = 0
    for i, (what, ok) in enumerate(checks, 1):
        print('%s %d - limits.md names %s' % ('ok' if ok else 'not ok', i, what))
        failed += not ok
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
