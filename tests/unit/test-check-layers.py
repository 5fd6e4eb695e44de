#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The layer check must catch what it is there to catch: builds tiny objects named like the
broker's files, with an upward call and a reply outside the binding, and expects both reported;
then the same objects without them, and expects none. TAP on stdout."""

import os
import subprocess
import sys
import tempfile

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools', 'check-layers')

# file -> C source; each defines one function named after it.
CLEAN = {
    'service': 'int service_thing(void) { return 1; }',
    'lifecycle': 'int service_thing(void); int lifecycle_thing(void) { return service_thing(); }',
    'service-dbus': ('int sd_bus_reply_method_return(void *m, const char *t, ...);'
                     'int lifecycle_thing(void); int binding_thing(void) { sd_bus_reply_method_return(0, 0);'
                     ' return lifecycle_thing(); }'),
}
BROKEN = dict(CLEAN)
BROKEN['service'] = 'int lifecycle_thing(void); int service_thing(void) { return lifecycle_thing(); }'
BROKEN['lifecycle'] = ('int sd_bus_send(void *b, void *m, void *c); int service_thing(void);'
                       'int lifecycle_thing(void) { sd_bus_send(0, 0, 0); return service_thing(); }')


def check(sources):
    with tempfile.TemporaryDirectory() as build:
        objdir = os.path.join(build, 'daemon', 'core.p')
        os.makedirs(objdir)
        for name, source in sources.items():
            src = os.path.join(build, name + '.c')
            with open(src, 'w') as f:
                f.write(source + '\n')
            subprocess.run([os.environ.get('CC', 'cc'), '-c', '-o', os.path.join(objdir, name + '.c.o'), src],
                           check=True)
        run = subprocess.run([sys.executable, CHECK, build], capture_output=True, text=True)
        return run.returncode, run.stdout


def main():
    results = []
    code, out = check(BROKEN)
    results.append(('an upward call is reported', code == 1 and
                    'service.c (model) calls lifecycle_thing() of lifecycle.c (model): upward' in out))
    results.append(('a send outside the binding is reported', 'lifecycle.c calls sd_bus_send' in out))
    code, out = check(CLEAN)
    results.append(('downward calls and replies in a -dbus.c file pass', code == 0 and '0 problem(s)' in out))
    print('1..%d' % len(results))
    for i, (name, ok) in enumerate(results, 1):
        print('%s %d - %s' % ('ok' if ok else 'not ok', i, name))
        if not ok:
            print('# output:\n# ' + out.replace('\n', '\n# '))
    return 0 if all(ok for _, ok in results) else 1


if __name__ == '__main__':
    sys.exit(main())
