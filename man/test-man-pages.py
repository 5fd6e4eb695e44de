#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The manual pages against the programs they describe, as TAP: every option a program's --help
lists is in its page's SYNOPSIS or OPTIONS (or, for appservicectl, COMMANDS), and every option
those sections name is one the program takes; every key the code reads from a definition or a
configuration file is documented, and every documented key is one the code reads; each page
renders with man without a warning; each program's --version prints the project's version.

Usage: test-man-pages.py --source-root DIR --build-dir DIR --version V [--version-of PROGRAM]... PAGE=PROGRAM...
"""

import argparse
import os
import re
import subprocess
import sys

OPTION = re.compile(r'(?<![\w-])--([a-z][a-z0-9-]*)')
PAGE_OPTION = re.compile(r'\*--([a-z][a-z0-9-]*)\*')

results = []


def check(ok, what, detail=''):
    results.append((bool(ok), what, detail))


def run(argv):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, LC_ALL='C.UTF-8'))
    return out


def sections(text):
    """The page's sections by their heading (# NAME ...), as text."""
    out, name = {}, None
    for line in text.splitlines():
        if line.startswith('# '):
            name = line[2:].strip()
            out[name] = ''
        elif name:
            out[name] += line + '\n'
    return out


def help_options(program, page):
    """The long options --help lists, for appservicectl also those of each command."""
    texts = [run([program, '--help']).stdout]
    if page.startswith('appservicectl.'):
        commands = re.findall(r'^  ([a-z]+)\b', texts[0].split('Commands:')[1].split('\n\n')[0], re.M)
        check(len(commands) >= 10, '%s: --help lists the commands' % page, ' '.join(commands))
        for command in commands:
            texts.append(run([program, command, '--help']).stdout)
    options = set()
    for text in texts:
        block = text.split('Help Options:')[-1] if 'Help Options:' in text else text
        for line in block.splitlines():
            # "  -c, --config=FILE   Read ...": the option's own words, before its description.
            if re.match(r'^\s+(-\w,? ?)?--', line):
                options.update(OPTION.findall(line.strip().split('  ')[0]))
    return options


def check_options(page, source, program):
    parts = sections(source)
    documented = ''.join(parts.get(s, '') for s in ('SYNOPSIS', 'OPTIONS', 'COMMANDS'))
    in_page = set(PAGE_OPTION.findall(documented))
    in_help = help_options(program, page)
    check(in_help, '%s: the program lists its options' % page)
    missing = sorted(in_help - in_page)
    check(not missing, '%s: every option of --help is documented' % page,
          'missing: ' + ', '.join('--' + o for o in missing))
    unknown = sorted(in_page - in_help)
    check(not unknown, '%s: every documented option is one the program takes' % page,
          'unknown: ' + ', '.join('--' + o for o in unknown))


def read(root, path):
    with open(os.path.join(root, path)) as f:
        return f.read()


def documented_keys(text):
    """KEY of every '*KEY*=' in text, with the group of the line's '*[GROUP]*' if any."""
    keys = set()
    for line in text.splitlines():
        group = re.match(r'^\*\[(\w+)\]\*', line)
        for key in re.findall(r'\*(\w+)\*=', line):
            keys.add((group.group(1) if group else None, key))
    return keys


def check_keys(page, want, have):
    missing = sorted(want - have, key=str)
    check(not missing, '%s: every key the code reads is documented' % page, 'missing: %s' % missing)
    unknown = sorted(have - want, key=str)
    check(not unknown, '%s: every documented key is one the code reads' % page, 'unknown: %s' % unknown)


def code_keys(root, page):
    """(group, key) pairs the code reads for the file a page documents; None: the page has none."""
    if page == 'appservice.appservice.5':
        return {(None, k) for k in re.findall(r'\{ "(\w+)", parse_\w+,', read(root, 'daemon/definition.c'))}
    if page == 'appserviced.8':
        settings = read(root, 'daemon/settings.c')
        pairs = set()
        for group, array in re.findall(r'\{ "(\w+)", (\w+)_keys \}', settings):
            body = re.search(r'%s_keys\[\] = \{([^}]*)\}' % array, settings).group(1)
            pairs.update((group, k) for k in re.findall(r'"(\w+)"', body))
        return pairs
    if page == 'appservice-mqtt.8':
        table = re.search(r'\{ "Broker",.*?\n\};', read(root, 'services/mqtt/config.c'), re.S).group(0)
        pairs = set()
        for row in re.findall(r'\{([^{}]*)\}', table):
            words = re.findall(r'"(\w+)"', row)
            pairs.update((words[0], k) for k in words[1:])
        return pairs
    if page == 'appservice-http.8':
        main = read(root, 'gateway/main.c')
        return {(None, k) for k in re.findall(r'"Gateway", "(\w+)"', main) +
                re.findall(r'get_count\(kf, path, "(\w+)"', main)}
    if page == 'appservice-gpio.8':
        return {(None, k) for k in re.findall(r'read_limit\(c->provider, "(\w+)"',
                                                 read(root, 'services/gpio/main.c'))}
    return None


def page_keys(page, source):
    parts = sections(source)
    text = parts.get('[App Service] SECTION') if page.endswith('.5') else parts.get('CONFIGURATION', '')
    keys = documented_keys(text or '')
    if page in ('appservice-http.8', 'appservice-gpio.8', 'appservice.appservice.5'):
        keys = {(None, k) for _, k in keys}
    return keys


def check_rendering(page, build_dir):
    path = os.path.join(build_dir, page)
    out = subprocess.run(['man', '--warnings', '-l', path], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, MANWIDTH='80', MAN_KEEP_FORMATTING='0',
                                              LC_ALL='C.UTF-8'))
    check(out.returncode == 0 and out.stderr == '', '%s: renders without a warning' % page,
          out.stderr.strip())
    text = re.sub(r'.\x08', '', out.stdout)     # grotty's overstrike bold and underline
    check('NAME' in text and 'SEE ALSO' in text, '%s: has NAME and SEE ALSO' % page)


def check_version(page, program, version):
    out = run([program, '--version'])
    first = out.stdout.splitlines()[0] if out.stdout else ''
    name = os.path.basename(program)
    check(out.returncode == 0 and re.match(r'^%s %s\b' % (re.escape(name), re.escape(version)), first),
          '%s --version prints %s' % (name, version), 'status %d: %r' % (out.returncode, out.stdout))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--source-root', required=True)
    parser.add_argument('--build-dir', required=True)
    parser.add_argument('--version', required=True)
    parser.add_argument('--version-of', action='append', default=[], metavar='PROGRAM',
                        help='a program without a page whose --version is checked (repeated)')
    parser.add_argument('pages', nargs='+', metavar='PAGE=PROGRAM')
    args = parser.parse_args()

    seen_programs = set()
    for item in args.pages:
        page, program = item.split('=', 1)
        source = read(args.source_root, os.path.join('man', page + '.scd'))
        check(source.startswith(page.rsplit('.', 1)[0] + '(' + page.rsplit('.', 1)[1] + ')'),
              '%s: the source names its page and section' % page)
        if not page.endswith('.5'):
            check_options(page, source, program)
        want = code_keys(args.source_root, page)
        if want is not None:
            check(want, '%s: the code\'s keys were found' % page)
            check_keys(page, want, page_keys(page, source))
        check_rendering(page, args.build_dir)
        if program not in seen_programs:
            seen_programs.add(program)
            check_version(page, program, args.version)

    for program in args.version_of:
        check_version(None, program, args.version)

    print('1..%d' % len(results))
    for i, (ok, what, detail) in enumerate(results, 1):
        print('%s %d - %s' % ('ok' if ok else 'not ok', i, what))
        if not ok and detail:
            for line in detail.splitlines():
                print('# ' + line)
    return 0 if all(ok for ok, _, _ in results) else 1


if __name__ == '__main__':
    sys.exit(main())
