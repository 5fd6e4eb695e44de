# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures of the explorer's window tests (test_explorer.py): the app-service explorer
(apps/explorer) from the build tree, under Xvfb with a private session bus (xsession.py), against
the real broker on a private system-type bus with the project's policy and the echo, App2App and
node examples as its services.

The broker's harness does the plumbing: tests/integration/conftest.py is loaded here under
another module name and its fixtures `workdir`, `bus`, `services_dir`, `agents` and `daemon` are
re-exported (as tests/vm/gpio does). On top of them:

  * `examples`: the examples' definitions in the broker's services dir (Exec= the build tree's
    providers; the node's Python providers with the build tree's typelib), the broker started;
  * `session`: Xvfb and the session bus, as the explorer's uid (the user "games" unless a test
    says `@pytest.mark.explorer_uid(0)`);
  * `explorer`: the program started in that session on the test bus; its stderr is checked at
    the end (no critical, no crash);
  * `shots`: shots('step') saves the window as SCREENSHOT_DIR/<test>/<step>.png and fails if the
    picture is blank.

Environment (defaults in brackets):
  APPSERVICE_BUILD_ROOT       the build tree [$APPSERVICE_SOURCE_ROOT/build]
  APPSERVICE_EXPLORER         the program [$APPSERVICE_BUILD_ROOT/apps/explorer/appservice-explorer]
  APPSERVICE_SCREENSHOT_DIR   where screenshots go
                              [$APPSERVICE_BUILD_ROOT/tests/explorer/screenshots]
  APPSERVICE_TEST_TIME_SCALE  multiplies the deadlines [1]
"""

import os
import re
import shlex
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = (os.environ.get('APPSERVICE_SOURCE_ROOT') or
               os.path.dirname(os.path.dirname(HERE)))
BUILD_ROOT = os.environ.get('APPSERVICE_BUILD_ROOT') or os.path.join(SOURCE_ROOT, 'build')
os.environ.setdefault('APPSERVICE_SOURCE_ROOT', SOURCE_ROOT)
os.environ.setdefault('APPSERVICE_BUILD_ROOT', BUILD_ROOT)
EXPLORER = (os.environ.get('APPSERVICE_EXPLORER') or
            os.path.join(BUILD_ROOT, 'apps', 'explorer', 'appservice-explorer'))
SCREENSHOT_DIR = (os.environ.get('APPSERVICE_SCREENSHOT_DIR') or
                  os.path.join(BUILD_ROOT, 'tests', 'explorer', 'screenshots'))
LIBCLIENT_DIR = os.path.join(BUILD_ROOT, 'libclient')
ECHO_PROVIDER = os.path.join(BUILD_ROOT, 'examples', 'echo', 'echo-provider')
APP2APP_PROVIDER = os.path.join(BUILD_ROOT, 'examples', 'app2app', 'app2app-provider')
NODE_DIR = os.path.join(SOURCE_ROOT, 'examples', 'node')

INTEGRATION_DIR = os.path.join(SOURCE_ROOT, 'tests', 'integration')
for _d in (HERE, INTEGRATION_DIR):
    if _d not in sys.path:
        sys.path.insert(0, _d)

from harness import load as load_harness  # noqa: E402

# The broker's harness, under its own name (this file is `conftest` here).
harness = load_harness()
workdir, bus, services_dir, agents, daemon = harness.fixtures()

from client import GAMES_GID, GAMES_UID  # noqa: E402

import xsession  # noqa: E402

ECHO, APP2APP = 'com.example.echo', 'com.example.app2app'
SENSOR, LOGGER, FLAKY = ('com.example.node.sensor', 'com.example.node.logger',
                         'com.example.node.flaky')
EXAMPLES = {
    ECHO: 'Echoes every message back to its sender',
    APP2APP: 'The App2App sample: greets each client, answers TestValues, Echo and Disconnect',
    SENSOR: 'The node example: a sensor broadcasting readings',
    LOGGER: 'The node example: a logger of the readings',
    FLAKY: 'The node example: a service that crashes and is restarted',
}


def pytest_configure(config):
    config.addinivalue_line('markers', 'explorer_uid(uid, gid): the uid the explorer (and its '
                            'session bus) runs as, instead of the user "games"')
    config.addinivalue_line('markers', 'explorer_env(**env): more environment for the explorer')


# In an AddressSanitizer build the library loads only into a process whose first library is the
# ASan runtime (meson.build hands its path here): the Python programs that load it get it
# preloaded, without leak checks (Python leaks by design).
ASAN_PRELOAD = os.environ.get('APPSERVICE_TEST_ASAN_PRELOAD')


def library_env():
    """The environment a Python program needs to load the build tree's library."""
    env = {'GI_TYPELIB_PATH': LIBCLIENT_DIR, 'LD_LIBRARY_PATH': LIBCLIENT_DIR,
           'PYTHONDONTWRITEBYTECODE': '1'}
    if ASAN_PRELOAD:
        env.update(LD_PRELOAD=ASAN_PRELOAD, ASAN_OPTIONS='detect_leaks=0:halt_on_error=1')
    return env


def node_exec(script):
    # The broker gives providers a clean environment: the build tree's library goes on the
    # command line (as examples/node/test-node.py does).
    env = library_env()
    argv = ['/usr/bin/env'] + ['%s=%s' % kv for kv in sorted(env.items())]
    return shlex.join(argv + ['/usr/bin/python3', os.path.join(NODE_DIR, script)])


def write_examples(services_dir):
    """The examples' definitions as the build tree writes them, and the node's three."""
    for name, built in ((ECHO, os.path.join(BUILD_ROOT, 'examples', 'echo')),
                        (APP2APP, os.path.join(BUILD_ROOT, 'examples', 'app2app'))):
        with open(os.path.join(built, name + '.appservice')) as f:
            services_dir.write_raw(name + '.appservice', f.read())
        # The contract the definition names (Contract=) goes beside it, where the broker looks.
        contract = os.path.join(built, name + '.contract')
        if os.path.exists(contract):
            with open(contract) as f:
                services_dir.write_raw(name + '.contract', f.read())
    common = dict(Provider='com.example.Node', AutoStart='yes')
    services_dir.write(SENSOR, Exec=node_exec('node-sensor.py'), Description=EXAMPLES[SENSOR],
                       **common)
    services_dir.write(LOGGER, Exec=node_exec('node-logger.py'), Description=EXAMPLES[LOGGER],
                       **common)
    # It crashes on its reading numbered crash-at: late enough not to during a test.
    services_dir.write(FLAKY, Exec=node_exec('node-flaky.py'), Restart='on-failure',
                       RestartSec=1, Description=EXAMPLES[FLAKY],
                       properties={'crash-at': 1000000}, **common)


@pytest.fixture
def examples(services_dir, daemon):
    if not os.access(EXPLORER, os.X_OK):
        pytest.skip('the explorer was not built (%s): meson -Dexplorer=enabled' % EXPLORER)
    for p in (ECHO_PROVIDER, APP2APP_PROVIDER):
        if not os.access(p, os.X_OK):
            pytest.fail('%s was not built' % p)
    if not os.path.exists(os.path.join(LIBCLIENT_DIR, 'AppService-1.0.typelib')):
        pytest.skip('no AppService-1.0.typelib (built without introspection): the node '
                    'examples cannot run')
    write_examples(services_dir)
    daemon.start()
    return services_dir


@pytest.fixture
def session(request, workdir):
    if not os.access(EXPLORER, os.X_OK):
        pytest.skip('the explorer was not built (%s)' % EXPLORER)
    missing = xsession.missing_tools()
    try:
        import gi
        gi.require_version('Atspi', '2.0')
    except (ImportError, ValueError):
        missing.append('the Atspi 2.0 typelib (gir1.2-atspi-2.0)')
    if missing:
        pytest.skip('not installed: %s' % ', '.join(missing))
    marker = request.node.get_closest_marker('explorer_uid')
    uid, gid = (marker.args if marker else (GAMES_UID, GAMES_GID))
    path = os.path.join(workdir, 'x')
    os.makedirs(path, mode=0o755)
    s = xsession.XSession(path, uid=uid, gid=gid).start()
    request.node.xsession = s
    yield s
    s.stop()


@pytest.fixture
def explorer(request, session, bus, examples):
    marker = request.node.get_closest_marker('explorer_env')
    env = {'DBUS_SYSTEM_BUS_ADDRESS': bus.address}
    env.update(marker.kwargs if marker else {})
    app = session.start_app([EXPLORER], env=env, name='explorer')
    request.node.explorer = app
    yield app
    alive = app.running()
    app.stop()
    text = app.stderr()
    assert alive, 'the explorer died:\n' + text[-4000:]
    bad = [line for line in text.splitlines() if re.search(r'CRITICAL|ERROR|Segmentation', line)]
    assert not bad, 'the explorer complained:\n' + '\n'.join(bad[-20:])


@pytest.fixture
def shots(request, explorer):
    """shots(step) saves the explorer's window as <dir>/<test>/<NN>-<step>.png (numbered in the
    order taken) and fails if it is blank. Returns the Image."""
    folder = os.path.join(SCREENSHOT_DIR, re.sub(r'[^A-Za-z0-9_.-]', '_', request.node.name))
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    taken = []

    def shot(step, app=None):
        taken.append(step)
        path = os.path.join(folder, '%02d-%s.png' % (len(taken), step))
        return (app or explorer).screenshot(path)
    shot.folder = folder
    return shot


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ('call', 'setup'):
        app = getattr(item, 'explorer', None)
        if app is not None:
            rep.sections.append(('explorer stderr', app.stderr()[-6000:]))
            try:
                if app.running():
                    rep.sections.append(('explorer texts', '\n'.join(app.texts()[:400])))
            except Exception as e:  # the report must not fail for it
                rep.sections.append(('explorer texts', 'unavailable: %s' % e))
