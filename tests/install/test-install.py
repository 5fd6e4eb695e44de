#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The install test: `meson install` of a build into a temporary staging directory, then checks
of the staged tree as its users would see it once installed. Never touches the real system.

- libappservice-1: `pkg-config --cflags --libs appservice-1` (PKG_CONFIG_SYSROOT_DIR = the staging
  directory), a C program built with those flags against <appservice.h> and run against the
  staged library, the soname libappservice-1.so.0, headers under include/appservice-1/, nothing
  exported but app_service_*, the GIR and typelib, `from gi.repository import AppService` in
  /usr/bin/python3 (and GJS when installed), the API reference when it is built;
- the broker and the echo example where README.md ("Installing", "From the build tree") says
  they go;
- the explorer, when it is built: its program, desktop file, metainfo, icons and translations;
- no installed program or library with a RUNPATH into the build tree.

TAP on stdout, one line per check. Run by meson (`meson test -C BUILD install`, suite unit), which
passes the build's directories as options (tests/install/meson.build) and builds everything the
build installs first. `meson install` rewrites BUILD/meson-logs/install-log.txt (what
`ninja uninstall` removes): the test puts the previous one back.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import traceback
import xml.etree.ElementTree as ET

TIMEOUT = 120

C_PROGRAM = r'''
#include <stdio.h>
#include <string.h>

#include <appservice.h>

/* The installed library as an application uses it: ValueSet helpers, the status enums' GTypes,
 * the error mapping, a class; then which file the library was loaded from. */
int main(void) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) set = app_service_value_set_parse(
                "{'Text': <'hello'>, 'count': <@i 5>, 'nothing': <@av []>}", &error);
        if (!set) {
                fprintf(stderr, "app_service_value_set_parse: %s\n", error->message);
                return 1;
        }
        gint64 count = 0;
        gboolean found = app_service_value_set_get_int64(set, "count", &count);
        g_autofree gchar *text = app_service_value_set_print(set);
        printf("valid %d\n", app_service_value_set_is_valid(set, NULL));
        printf("Text %s\n", app_service_value_set_get_string(set, "Text"));
        printf("count %d %" G_GINT64_FORMAT "\n", found, count);
        printf("nothing is null %d\n", app_service_value_set_contains_null(set, "nothing"));
        printf("print %s\n", text);

        GEnumClass *statuses = g_type_class_ref(APP_SERVICE_TYPE_CONNECTION_STATUS);
        GEnumValue *value = g_enum_get_value(statuses, APP_SERVICE_CONNECTION_STATUS_APP_SERVICE_UNAVAILABLE);
        printf("%s %s %d\n", G_ENUM_CLASS_TYPE_NAME(statuses), value->value_nick, value->value);
        g_type_class_unref(statuses);
        printf("%s %s\n", g_type_name(APP_SERVICE_TYPE_RESPONSE_STATUS), g_type_name(APP_SERVICE_TYPE_CLOSED_STATUS));

        g_autoptr(GError) refused = g_error_new_literal(APP_SERVICE_ERROR, APP_SERVICE_ERROR_NOT_AUTHORIZED, "no");
        printf("status from error %d\n", app_service_connection_status_from_error(refused));

        GObjectClass *connection_class = g_type_class_ref(APP_SERVICE_TYPE_CONNECTION);
        printf("%s app-service-name %d\n", G_OBJECT_CLASS_NAME(connection_class),
               g_object_class_find_property(connection_class, "app-service-name") != NULL);
        g_type_class_unref(connection_class);

        FILE *maps = fopen("/proc/self/maps", "r");
        char line[4096];
        while (maps && fgets(line, sizeof line, maps)) {
                char *path = strchr(line, '/');
                if (path && strstr(path, "/libappservice-1.so")) {
                        printf("library %s", path);
                        break;
                }
        }
        if (maps)
                fclose(maps);
        return 0;
}
'''

C_EXPECTED = [
    'valid 1',
    'Text hello',
    'count 1 5',
    'nothing is null 1',
    "print {'Text': <'hello'>, 'count': <5>, 'nothing': <@av []>}",
    'AppServiceConnectionStatus app-service-unavailable 3',
    'AppServiceResponseStatus AppServiceClosedStatus',
    'status from error 7',
    'AppServiceConnection app-service-name 1',
]

PYTHON_PROGRAM = r'''
import gi
gi.require_version('AppService', '1.0')
from gi.repository import AppService, GLib

v = AppService.value_set_parse("{'Text': <'hello'>, 'count': <@i 5>, 'nothing': <@av []>}")
print('Text', AppService.value_set_get_string(v, 'Text'))
found, count = AppService.value_set_get_int64(v, 'count')
print('count', found, count)
print('nothing is null', AppService.value_set_contains_null(v, 'nothing'))
print('print', AppService.value_set_print(v))
print('statuses', int(AppService.ConnectionStatus.APP_SERVICE_UNAVAILABLE),
      int(AppService.ResponseStatus.MESSAGE_SIZE_TOO_LARGE), int(AppService.ClosedStatus.CANCELED))
refused = GLib.Error.new_literal(AppService.error_quark(), 'no', AppService.Error.NOT_AUTHORIZED)
print('status from error', AppService.connection_status_from_error(refused).value_nick)
print(AppService.Connection.__gtype__.name, AppService.Connection.find_property('app-service-name').name)
print('typelib', gi.Repository.get_default().get_typelib_path('AppService'))
import gi.overrides.AppService
print('overrides', gi.overrides.AppService.__file__)
print('dict', AppService.unpack(AppService.value_set({'n': 1, 'x': None})))
with open('/proc/self/maps') as maps:
    print('library', *sorted({line[line.index('/'):].strip() for line in maps if '/libappservice-1.so' in line}))
'''

PYTHON_EXPECTED = [
    'Text hello',
    'count True 5',
    'nothing is null True',
    "print {'Text': <'hello'>, 'count': <5>, 'nothing': <@av []>}",
    'statuses 3 5 1',
    'status from error not-authorized',
    'AppServiceConnection app-service-name',
    "dict {'n': 1, 'x': None}",
]

GJS_PROGRAM = r'''
imports.gi.versions.AppService = '1.0';
const {AppService, GLib} = imports.gi;

const v = AppService.value_set_parse("{'Text': <'hello'>, 'count': <@i 5>}");
print('Text ' + AppService.value_set_get_string(v, 'Text'));
const [found, count] = AppService.value_set_get_int64(v, 'count');
print('count ' + found + ' ' + count);
print('print ' + AppService.value_set_print(v));
print('statuses ' + AppService.ConnectionStatus.APP_SERVICE_UNAVAILABLE + ' ' + AppService.ClosedStatus.CANCELED);
print(AppService.Connection.$gtype.name);
const [, maps] = GLib.file_get_contents('/proc/self/maps');
const libraries = new TextDecoder().decode(maps).split('\n').filter(l => l.includes('/libappservice-1.so'));
print('library ' + [...new Set(libraries.map(l => l.slice(l.indexOf('/'))))].join(' '));
'''

GJS_EXPECTED = [
    'Text hello',
    'count true 5',
    "print {'Text': <'hello'>, 'count': <5>}",
    'statuses 3 1',
    'AppServiceConnection',
]

TYPELIB_MAGIC = b'GOBJ\nMETADATA\r\n\x1a'


class Failed(Exception):
    pass


class Skipped(Exception):
    pass


class Bail(Exception):
    """A failure after which nothing else can be checked."""


def require(condition, message):
    if not condition:
        raise Failed(message)


def run(argv, env=None, check=True, **kwargs):
    try:
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=TIMEOUT, **kwargs)
    except FileNotFoundError:
        raise Failed(f'{argv[0]}: not found')
    if check and result.returncode != 0:
        raise Failed(f'{shlex.join(argv)}: exit status {result.returncode}\n{result.stdout}{result.stderr}')
    return result


def read(path):
    require(os.path.isfile(path), f'{path}: missing')
    with open(path, encoding='utf-8') as f:
        return f.read()


def is_elf(path):
    with open(path, 'rb') as f:
        return f.read(4) == b'\x7fELF'


def require_executable(path):
    require(os.path.isfile(path), f'{path}: missing')
    require(os.access(path, os.X_OK), f'{path}: not executable')
    require(is_elf(path), f'{path}: not an ELF file')


def require_lines(lines, expected):
    require(lines == expected, 'expected:\n  ' + '\n  '.join(expected) + '\ngot:\n  ' + '\n  '.join(lines))


class Tap:
    def __init__(self):
        self.count = 0
        self.failed = 0

    def line(self, status, name, diagnostics=''):
        self.count += 1
        print(f'{status} {self.count} - {name}')
        for d in diagnostics.rstrip('\n').splitlines():
            print('# ' + d)
        sys.stdout.flush()

    def check(self, name, function, *args):
        """Runs function(*args): ok when it returns, not ok when it raises Failed (or anything
        else), skipped when it raises Skipped. Returns what function returned, or None."""
        try:
            result = function(*args)
        except Skipped as e:
            self.line('ok', f'{name} # SKIP {e}')
        except Bail as e:
            self.failed += 1
            self.line('not ok', name, str(e))
            print(f'Bail out! {name}')
            raise
        except Failed as e:
            self.failed += 1
            self.line('not ok', name, str(e))
        except Exception:
            self.failed += 1
            self.line('not ok', name, traceback.format_exc())
        else:
            self.line('ok', name)
            return result
        return None

    def plan(self):
        print(f'1..{self.count}')
        sys.stdout.flush()


class InstallTest:
    def __init__(self, args, destdir, work):
        self.args = args
        self.destdir = destdir
        self.work = work
        self.libdir = self.staged(args.libdir)
        self.typelib_dir = os.path.join(self.libdir, 'girepository-1.0')

    def staged(self, path):
        """Where the file that the build installs to `path` is in the staging directory."""
        return os.path.join(self.destdir, os.path.abspath(path).lstrip('/'))

    def library_env(self, preload=False):
        """The environment of a process that loads the staged library; with preload, the ASan
        runtime preloaded into it (an interpreter not built with ASan) when the build is ASan's."""
        env = dict(os.environ)
        env['LD_LIBRARY_PATH'] = self.libdir
        env['GI_TYPELIB_PATH'] = self.typelib_dir
        if self.args.python_overrides_dir:
            # The site directory that holds gi/overrides/AppService.py.
            env['PYTHONPATH'] = os.path.dirname(os.path.dirname(self.staged(self.args.python_overrides_dir)))
        if preload and self.args.asan_preload:
            env['LD_PRELOAD'] = self.args.asan_preload
            # Interpreters leak by design.
            env['ASAN_OPTIONS'] = ':'.join(filter(None, [env.get('ASAN_OPTIONS'), 'detect_leaks=0']))
        return env

    def loaded_from_stage(self, lines):
        """The 'library PATH...' line of a program: the library it loaded, from the staging
        directory only."""
        paths = [line.split()[1:] for line in lines if line.startswith('library ')]
        require(len(paths) == 1 and paths[0], 'the program did not say which libappservice-1 it loaded')
        for path in paths[0]:
            require(path.startswith(self.libdir + '/'), f'loaded {path}, not the staged library in {self.libdir}')

    # ---- the build and `meson install` ---------------------------------------------------------

    def test_dependencies_complete(self):
        with open(os.path.join(self.args.build_root, 'meson-info', 'intro-targets.json')) as f:
            targets = json.load(f)
        built = {os.path.realpath(p) for p in self.args.built}
        missing = [f'{t["name"]} ({t["type"]}, {t["defined_in"]})' for t in targets
                   if t.get('installed') and not all(os.path.realpath(p) in built for p in t['filename'])]
        require(not missing, 'installed targets that are not in the test\'s depends (tests/install/meson.build), '
                'so that `meson test` may not have built them:\n' + '\n'.join(missing))

    def test_meson_install(self):
        log = os.path.join(self.args.build_root, 'meson-logs', 'install-log.txt')
        previous = None
        if os.path.exists(log):
            with open(log, 'rb') as f:
                previous = f.read()
        try:
            result = run([self.args.meson, 'install', '-C', self.args.build_root, '--destdir', self.destdir,
                          '--no-rebuild', '--quiet'], check=False)
        finally:
            if previous is not None:
                with open(log, 'wb') as f:
                    f.write(previous)
            elif os.path.exists(log):
                os.unlink(log)
        if result.returncode != 0:
            raise Bail(f'meson install: exit status {result.returncode}\n{result.stdout}{result.stderr}')

    # ---- libappservice-1 ------------------------------------------------------------------------

    def test_headers(self):
        includedir = self.staged(self.args.includedir)
        headers = os.path.join(includedir, 'appservice-1')
        require(os.path.isdir(headers), f'{headers}: missing')
        require(sorted(os.listdir(includedir)) == ['appservice-1'],
                f'{includedir} holds more than appservice-1/: {sorted(os.listdir(includedir))}')
        installed = sorted(os.listdir(headers))
        require(installed == sorted(self.args.header),
                f'{headers} holds {installed}; the public headers are {sorted(self.args.header)}')

    def pkg_config_env(self):
        env = dict(os.environ)
        env['PKG_CONFIG_PATH'] = os.path.join(self.libdir, 'pkgconfig')
        env['PKG_CONFIG_SYSROOT_DIR'] = self.destdir
        return env

    def test_pkg_config(self):
        env = self.pkg_config_env()
        version = run(['pkg-config', '--modversion', 'appservice-1'], env=env).stdout.strip()
        require(version == self.args.version, f'pkg-config --modversion: {version}, the project is {self.args.version}')
        flags = shlex.split(run(['pkg-config', '--cflags', '--libs', 'appservice-1'], env=env).stdout)
        for flag in ['-I' + os.path.join(self.staged(self.args.includedir), 'appservice-1'),
                     '-L' + self.libdir, '-lappservice-1']:
            require(flag in flags, f'pkg-config --cflags --libs appservice-1: no {flag} in {shlex.join(flags)}')
        return flags

    def test_compile(self, flags):
        if flags is None:
            raise Skipped('no flags from pkg-config')
        # The staging directory is a sysroot holding nothing but this project: pkg-config puts the
        # paths of every package under it, so those of the packages that come from the host
        # (gio-2.0 and what it requires) are taken back to the host.
        host_flags = []
        for flag in flags:
            if flag[:2] in ('-I', '-L') and flag[2:].startswith(self.destdir + '/') and not os.path.isdir(flag[2:]):
                flag = flag[:2] + flag[2 + len(self.destdir):]
            host_flags.append(flag)
        source = os.path.join(self.work, 'installed.c')
        program = os.path.join(self.work, 'installed')
        with open(source, 'w') as f:
            f.write(C_PROGRAM)
        sanitize = [] if self.args.sanitize == 'none' else ['-fsanitize=' + self.args.sanitize]
        run(shlex.split(os.environ.get('CC') or 'cc') + ['-std=gnu11', '-Wall', '-Wextra', '-Werror'] + sanitize
            + ['-o', program, source] + host_flags)
        return program

    def test_run_program(self, program):
        if program is None:
            raise Skipped('the C program was not built')
        lines = run([program], env=self.library_env()).stdout.splitlines()
        self.loaded_from_stage(lines)
        require_lines([line for line in lines if not line.startswith('library ')], C_EXPECTED)

    def test_soname(self):
        library = os.path.join(self.libdir, 'libappservice-1.so.0')
        require(os.path.islink(library), f'{library}: missing, or not a link')
        dynamic = run(['readelf', '-d', library]).stdout
        sonames = [line.split('[', 1)[1].rstrip(']') for line in dynamic.splitlines() if '(SONAME)' in line]
        require(sonames == ['libappservice-1.so.0'], f'{library}: soname {sonames}')
        real = os.path.realpath(library)
        require(os.path.basename(real).startswith('libappservice-1.so.0.'), f'{library} -> {real}')
        development = os.path.join(self.libdir, 'libappservice-1.so')
        require(os.path.realpath(development) == real, f'{development} is not a link to {real}')

    def test_exports(self):
        library = os.path.join(self.libdir, 'libappservice-1.so.0')
        symbols = [line.split()[-1] for line in run(['nm', '-D', '--defined-only', library]).stdout.splitlines()
                   if line.strip()]
        require(symbols, f'{library}: exports nothing')
        others = sorted(s for s in symbols if not s.startswith('app_service_'))
        require(not others, f'{library} exports more than app_service_*:\n' + '\n'.join(others))

    def test_no_build_rpath(self):
        build_root = os.path.realpath(self.args.build_root)
        elf_files = 0
        found = []
        for directory, _, files in os.walk(self.destdir):
            for name in files:
                path = os.path.join(directory, name)
                if os.path.islink(path) or not is_elf(path):
                    continue
                elf_files += 1
                for line in run(['readelf', '-d', path]).stdout.splitlines():
                    if ('(RPATH)' in line or '(RUNPATH)' in line) and build_root in line:
                        found.append(f'{path}: {line.strip()}')
        require(elf_files > 0, 'no ELF files installed')
        require(not found, '\n'.join(found))

    def test_gir(self):
        if self.args.introspection != 'yes':
            raise Skipped('the GObject Introspection data is not built')
        gir = self.staged(os.path.join(self.args.datadir, 'gir-1.0', 'AppService-1.0.gir'))
        root = ET.fromstring(read(gir))
        core = '{http://www.gtk.org/introspection/core/1.0}'
        c = '{http://www.gtk.org/introspection/c/1.0}'
        namespace = root.find(core + 'namespace')
        require(namespace is not None and namespace.get('name') == 'AppService' and namespace.get('version') == '1.0',
                f'{gir}: no namespace AppService 1.0')
        # g-ir-scanner lists the sanitizer runtimes too when the library is built with them.
        libraries = (namespace.get('shared-library') or '').split(',')
        others = [lib for lib in libraries if lib != 'libappservice-1.so.0'
                  and not (self.args.sanitize != 'none' and lib.startswith(('libasan.', 'libubsan.')))]
        require('libappservice-1.so.0' in libraries and not others,
                f'{gir}: shared-library is {namespace.get("shared-library")}')
        packages = [p.get('name') for p in root.findall(core + 'package')]
        require(packages == ['appservice-1'], f'{gir}: packages {packages}')
        includes = [i.get('name') for i in root.findall(c + 'include')]
        require(includes == ['appservice.h'], f'{gir}: C includes {includes}')
        typelib = os.path.join(self.typelib_dir, 'AppService-1.0.typelib')
        require(os.path.isfile(typelib), f'{typelib}: missing')
        with open(typelib, 'rb') as f:
            require(f.read(len(TYPELIB_MAGIC)) == TYPELIB_MAGIC, f'{typelib}: not a typelib')

    def test_python(self):
        if self.args.introspection != 'yes':
            raise Skipped('the GObject Introspection data is not built')
        python = '/usr/bin/python3'
        if run([python, '-c', 'import gi'], check=False).returncode != 0:
            raise Skipped('python3-gi is not installed')
        lines = run([python, '-c', PYTHON_PROGRAM], env=self.library_env(preload=True)).stdout.splitlines()
        self.loaded_from_stage(lines)
        typelib = [line.split(' ', 1)[1] for line in lines if line.startswith('typelib ')]
        require(typelib == [os.path.join(self.typelib_dir, 'AppService-1.0.typelib')],
                f'loaded the typelib {typelib}, not the staged one in {self.typelib_dir}')
        overrides = [line.split(' ', 1)[1] for line in lines if line.startswith('overrides ')]
        want = os.path.join(self.staged(self.args.python_overrides_dir), 'AppService.py')
        require(overrides == [want], f'loaded the overrides {overrides}, not the staged {want}')
        require_lines([line for line in lines if not line.startswith(('library ', 'typelib ', 'overrides '))],
                      PYTHON_EXPECTED)
        # The type stubs: the partial stub package gi-stubs beside gi (PEP 561).
        site = os.path.dirname(os.path.dirname(os.path.dirname(want)))  # site/gi/overrides/AppService.py
        stubs = os.path.join(site, 'gi-stubs')
        with open(os.path.join(stubs, 'py.typed')) as f:
            require(f.read() == 'partial\n', f'{stubs}/py.typed: not "partial"')
        with open(os.path.join(stubs, 'repository', 'AppService.pyi')) as f:
            require('class Connection(' in f.read(), f'{stubs}/repository/AppService.pyi: no Connection')

    def test_gjs(self):
        if self.args.introspection != 'yes':
            raise Skipped('the GObject Introspection data is not built')
        gjs = next((os.path.join(d, 'gjs') for d in os.environ.get('PATH', '').split(':')
                    if d and os.access(os.path.join(d, 'gjs'), os.X_OK)), None)
        if not gjs:
            raise Skipped('gjs is not installed')
        lines = run([gjs, '-c', GJS_PROGRAM], env=self.library_env(preload=True)).stdout.splitlines()
        self.loaded_from_stage(lines)
        require_lines([line for line in lines if not line.startswith('library ')], GJS_EXPECTED)

    def test_docs(self):
        if not self.args.docs_dir:
            raise Skipped('the API reference is not built (-Ddocs, gi-docgen)')
        docs = self.staged(self.args.docs_dir)
        require(os.path.isfile(os.path.join(docs, 'index.html')), f'{docs}/index.html: missing')

        def tree(top):
            return sorted(os.path.relpath(os.path.join(d, name), top) for d, _, files in os.walk(top) for name in files)
        installed, built = tree(docs), tree(self.args.docs_built)
        require(installed == built, f'{docs} differs from the build\'s {self.args.docs_built}: '
                f'{sorted(set(built) - set(installed))} missing, {sorted(set(installed) - set(built))} extra')
        for page in ['class.Connection.html', 'class.Provider.html', 'class.Request.html', 'class.Response.html',
                     'enum.ConnectionStatus.html', 'func.value_set_parse.html']:
            require(page in installed, f'{docs}: no {page}')

    # ---- the broker and the echo example (README.md, "Installing", "From the build tree") ---------

    def test_daemon(self):
        require_executable(self.staged(os.path.join(self.args.libexecdir, 'appserviced')))

    def test_unit(self):
        unit = os.path.join(self.staged(self.args.systemd_unit_dir), 'appserviced.service')
        lines = read(unit).splitlines()
        exec_start = os.path.join(self.args.libexecdir, 'appserviced')
        require(any(line.startswith(f'ExecStart={exec_start} ') or line == f'ExecStart={exec_start}' for line in lines),
                f'{unit}: no ExecStart={exec_start}')
        require('BusName=io.appservice1' in lines, f'{unit}: no BusName=io.appservice1')

    def test_activation_file(self):
        path = self.staged(os.path.join(self.args.datadir, 'dbus-1', 'system-services', 'io.appservice1.service'))
        lines = read(path).splitlines()
        for line in ['[D-BUS Service]', 'Name=io.appservice1', 'SystemdService=appserviced.service']:
            require(line in lines, f'{path}: no {line}')

    def test_policy(self):
        path = self.staged(os.path.join(self.args.datadir, 'dbus-1', 'system.d', 'io.appservice1.conf'))
        root = ET.fromstring(read(path))
        require(root.tag == 'busconfig', f'{path}: not a bus configuration')
        require(any(a.get('own') == 'io.appservice1' for a in root.iter('allow')),
                f'{path}: no <allow own="io.appservice1"/>')

    def test_polkit_policy(self):
        path = self.staged(os.path.join(self.args.datadir, 'polkit-1', 'actions', 'io.appservice1.policy'))
        root = ET.fromstring(read(path))
        require(root.tag == 'policyconfig', f'{path}: not a polkit policy')
        actions = {a.get('id'): a for a in root.iter('action')}
        require('io.appservice1.manage' in actions, f'{path}: no action io.appservice1.manage')
        defaults = {d.tag: d.text for d in actions['io.appservice1.manage'].find('defaults')}
        expected = {'allow_any': 'no', 'allow_inactive': 'no', 'allow_active': 'auth_admin_keep'}
        require(defaults == expected, f'{path}: io.appservice1.manage defaults {defaults}, expected {expected}')

    def test_interfaces(self):
        for name in ['Manager', 'Service', 'Connection']:
            path = self.staged(os.path.join(self.args.datadir, 'dbus-1', 'interfaces', f'io.appservice1.{name}.xml'))
            interfaces = [i.get('name') for i in ET.fromstring(read(path)).iter('interface')]
            require(f'io.appservice1.{name}' in interfaces, f'{path}: no interface io.appservice1.{name}')

    def test_echo_example(self):
        if self.args.examples != 'yes':
            raise Skipped('the examples are not installed (-Dexamples=false)')
        provider = os.path.join(self.args.libexecdir, 'appservice', 'echo-provider')
        require_executable(self.staged(provider))
        definition = self.staged(os.path.join(self.args.datadir, 'appservice', 'services',
                                              'com.example.echo.appservice'))
        lines = read(definition).splitlines()
        require('Name=com.example.echo' in lines, f'{definition}: no Name=com.example.echo')
        require(f'Exec={provider}' in lines, f'{definition}: no Exec={provider} (the installed provider)')

    def test_explorer(self):
        if self.args.explorer != 'yes':
            raise Skipped('the explorer is not built')
        require_executable(self.staged(os.path.join(self.args.bindir, 'appservice-explorer')))
        desktop = self.staged(os.path.join(self.args.datadir, 'applications', 'io.appservice.Explorer.desktop'))
        lines = read(desktop).splitlines()
        require('Exec=appservice-explorer' in lines, f'{desktop}: no Exec=appservice-explorer')
        require(any(line.startswith('Name[de]=') for line in lines), f'{desktop}: not translated (no Name[de]=)')
        metainfo = self.staged(os.path.join(self.args.datadir, 'metainfo', 'io.appservice.Explorer.metainfo.xml'))
        require('<id>io.appservice.Explorer</id>' in read(metainfo), f'{metainfo}: no <id>io.appservice.Explorer</id>')
        icons = os.path.join(self.args.datadir, 'icons', 'hicolor')
        for icon in ['scalable/apps/io.appservice.Explorer.svg', 'symbolic/apps/io.appservice.Explorer-symbolic.svg']:
            require(os.path.isfile(self.staged(os.path.join(icons, icon))), f'{icons}/{icon}: missing')
        mo = self.staged(os.path.join(self.args.localedir, 'de', 'LC_MESSAGES', 'appservice-explorer.mo'))
        require(os.path.isfile(mo), f'{mo}: missing')

    def test_codegen(self, flags):
        """The staged appservice-codegen compiles the staged Hello contract into C that builds
        against the staged library, and into Python that compiles."""
        if self.args.examples != 'yes':
            raise Skipped('the examples, with the Hello contract, are not installed (-Dexamples=false)')
        codegen = self.staged(os.path.join(self.args.bindir, 'appservice-codegen'))
        require_executable(codegen)
        contract = self.staged(os.path.join(self.args.datadir, 'appservice', 'contracts', 'com.example.hello.contract'))
        require(os.path.isfile(contract), f'{contract}: missing')
        out = os.path.join(self.work, 'generated')
        os.makedirs(out, exist_ok=True)
        for lang in ('c', 'python'):
            for side in ('client', 'provider'):
                run([codegen, contract, '--lang', lang, '--side', side, '--output-dir', out])
        if flags is None:
            raise Skipped('no flags from pkg-config')
        host_flags = [f[:2] + f[2 + len(self.destdir):]
                      if f[:2] in ('-I', '-L') and f[2:].startswith(self.destdir + '/') and not os.path.isdir(f[2:])
                      else f for f in flags]
        for side in ('client', 'provider'):
            run(shlex.split(os.environ.get('CC') or 'cc') + ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-c',
                '-o', os.path.join(out, side + '.o'), os.path.join(out, f'hello-{side}.c')] + host_flags)
            run(['/usr/bin/python3', '-m', 'py_compile', os.path.join(out, f'hello_{side}.py')])

    def test_gateway(self):
        """appservice-http in libexecdir, runs (--version), and its unit starts it."""
        program = os.path.join(self.args.libexecdir, 'appservice-http')
        if not os.path.exists(self.staged(program)):
            raise Skipped('appservice-http is not built (no libsoup 3)')
        require_executable(self.staged(program))
        unit = self.staged(os.path.join(self.args.systemd_unit_dir, 'appservice-http.service'))
        require(f'ExecStart={program}' in read(unit).splitlines(), f'{unit}: no ExecStart={program}')
        out = run([self.staged(program), '--version'], env=self.library_env()).stdout
        require(out.strip() == f'appservice-http {self.args.version}', f'--version printed {out!r}')

    def test_bash_completion(self):
        """appservicectl's completion is where bash-completion loads it from, and registers itself."""
        path = self.staged(os.path.join(self.args.bash_completion_dir, 'appservicectl'))
        require(os.path.isfile(path), f'{path}: missing')
        out = run(['bash', '--norc', '--noprofile', '-c', f'source {shlex.quote(path)} && complete -p appservicectl'])
        require(out.stdout.strip() == 'complete -F _appservicectl appservicectl', f'complete -p printed {out.stdout!r}')

    def test_man_pages(self):
        """Each page is in mandir/manSECTION, where man finds it by name and section."""
        if not self.args.mandir:
            raise Skipped('the manual pages are not built (no scdoc)')
        require(self.args.man_page, 'no manual page was named')
        mandir = self.staged(self.args.mandir)
        for page in self.args.man_page:
            name, section = page.rsplit('.', 1)
            path = os.path.join(mandir, 'man' + section, page)
            require(os.path.isfile(path), f'{path}: missing')
            found = run(['man', '-M', mandir, '-w', section, name]).stdout.strip()
            require(os.path.realpath(found) == os.path.realpath(path), f'man -w {section} {name} found {found!r}')

    def test_appservicectl(self):
        appservicectl = self.staged(os.path.join(self.args.bindir, 'appservicectl'))
        require_executable(appservicectl)
        out = run([appservicectl, '--help'], env=self.library_env()).stdout
        require('Usage' in out or 'usage' in out, f'appservicectl --help printed:\n{out}')

    def run_all(self, tap):
        tap.check('every installed target is built before the test (its depends)', self.test_dependencies_complete)
        tap.check('meson install --destdir into a temporary staging directory', self.test_meson_install)
        tap.check('the public headers, and only they, are in include/appservice-1/', self.test_headers)
        flags = tap.check('pkg-config --cflags --libs appservice-1: -I.../include/appservice-1 -L... -lappservice-1',
                          self.test_pkg_config)
        program = tap.check('a C program builds with the flags of pkg-config', self.test_compile, flags)
        tap.check('the C program runs on the staged library', self.test_run_program, program)
        tap.check('soname libappservice-1.so.0, libappservice-1.so links to it', self.test_soname)
        tap.check('only app_service_* symbols are exported', self.test_exports)
        tap.check('no installed ELF file has an RPATH or RUNPATH into the build tree', self.test_no_build_rpath)
        tap.check('AppService-1.0.gir and AppService-1.0.typelib are installed', self.test_gir)
        tap.check('/usr/bin/python3: from gi.repository import AppService, typelib and overrides from the staged tree; '
                  'the type stubs beside them', self.test_python)
        tap.check('gjs: imports.gi.AppService, from the staged tree', self.test_gjs)
        tap.check('the API reference is installed, every page of it', self.test_docs)
        tap.check('the broker: libexecdir/appserviced', self.test_daemon)
        tap.check('its systemd unit appserviced.service starts the installed broker', self.test_unit)
        tap.check('the D-Bus activation file: datadir/dbus-1/system-services/io.appservice1.service',
                  self.test_activation_file)
        tap.check('the bus policy: datadir/dbus-1/system.d/io.appservice1.conf', self.test_policy)
        tap.check('the polkit policy: datadir/polkit-1/actions/io.appservice1.policy (io.appservice1.manage)',
                  self.test_polkit_policy)
        tap.check('the introspection XML: datadir/dbus-1/interfaces/io.appservice1.{Manager,Service,Connection}.xml',
                  self.test_interfaces)
        tap.check('the echo example: libexecdir/appservice/echo-provider and its definition', self.test_echo_example)
        tap.check('appservicectl in bindir runs on the staged library', self.test_appservicectl)
        tap.check('the gateway: libexecdir/appservice-http and its systemd unit', self.test_gateway)
        tap.check('the manual pages: mandir/manN/PAGE, found by man', self.test_man_pages)
        tap.check('the bash completion of appservicectl, in bash-completion\'s directory', self.test_bash_completion)
        tap.check('appservice-codegen in bindir compiles the installed Hello contract into C that builds and Python',
                  self.test_codegen, flags)
        tap.check('the explorer: bindir/appservice-explorer, its desktop file, metainfo, icons, German',
                  self.test_explorer)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--build-root', required=True)
    parser.add_argument('--meson', required=True)
    parser.add_argument('--version', required=True)
    for option in ['--bindir', '--libdir', '--includedir', '--datadir', '--libexecdir',
                   '--systemd-unit-dir']:
        parser.add_argument(option, required=True)
    parser.add_argument('--docs-dir', default='', help='where the API reference is installed; empty: not built')
    parser.add_argument('--docs-built', default='', help='the API reference in the build tree')
    parser.add_argument('--introspection', choices=['yes', 'no'], default='no')
    parser.add_argument('--explorer', choices=['yes', 'no'], default='no')
    parser.add_argument('--examples', choices=['yes', 'no'], default='yes')
    parser.add_argument('--python-overrides-dir', default='', help="where the PyGObject overrides go; empty: not installed")
    parser.add_argument('--localedir', default='')
    parser.add_argument('--sanitize', default='none', help='the value of b_sanitize')
    parser.add_argument('--asan-preload', default='')
    parser.add_argument('--bash-completion-dir', required=True)
    parser.add_argument('--mandir', default='', help='where the manual pages go; empty: not built')
    parser.add_argument('--man-page', action='append', default=[], help='a manual page, NAME.SECTION (repeated)')
    parser.add_argument('--header', action='append', default=[], help='a public header (repeated)')
    parser.add_argument('--built', action='append', default=[], help='a file the test depends on (repeated)')
    args = parser.parse_args()

    tap = Tap()
    with tempfile.TemporaryDirectory(prefix='appservice-install-') as work:
        destdir = os.path.join(work, 'destdir')
        try:
            InstallTest(args, destdir, work).run_all(tap)
        except Bail:
            return 1
    tap.plan()
    return 1 if tap.failed else 0


if __name__ == '__main__':
    sys.exit(main())
