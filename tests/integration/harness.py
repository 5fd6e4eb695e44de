# SPDX-License-Identifier: LGPL-2.1-or-later
"""The broker's test harness (this directory's conftest.py) for test suites elsewhere in the tree
(tests/explorer, tests/mqtt, tests/vm/gpio, tests/gateway), whose own conftest.py would clash
with it under the name `conftest`: load() imports it once under a name of its own and returns the
module, with its Bus, ServicesDir and Daemon classes and its fixtures `workdir`, `bus`,
`services_dir`, `agents` and `daemon`.

A suite's conftest.py re-exports the fixtures it uses, so that pytest finds them there:

    harness = load()
    workdir, bus, services_dir, agents, daemon = harness.fixtures()
"""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE_NAME = 'appservice_integration_conftest'


def load():
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    spec = importlib.util.spec_from_file_location(MODULE_NAME, os.path.join(HERE, 'conftest.py'))
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    module.fixtures = lambda: (module.workdir, module.bus, module.services_dir, module.agents,
                               module.daemon)
    return module
