# SPDX-License-Identifier: LGPL-2.1-or-later
"""A pytest plugin that writes TAP (version 12, so no version line) to stdout so that meson counts every test case.

Load it with `-p tap_report`. On import it moves fd 1 to a private descriptor for TAP and points
fd 1 at stderr, so everything else (pytest's own terminal report, prints) goes to stderr and
stdout carries nothing but TAP. One TAP line per test, written after its teardown: a failure in
setup, call or teardown makes it `not ok`, with the failure as `# ` lines; a skip is
`ok N - name # SKIP reason`.
"""

import os
import sys

import pytest

_tap_fd = os.dup(1)
os.dup2(2, 1)
_tap = os.fdopen(_tap_fd, 'w', buffering=1)


def _emit(line):
    _tap.write(line + '\n')
    _tap.flush()


def _diag(text):
    for line in str(text).splitlines():
        _emit('# ' + line)


def _name(nodeid):
    # '#' would start a TAP directive.
    return nodeid.replace('#', '_')


class TapReporter:
    def __init__(self, config):
        self.config = config
        self.number = 0
        self.planned = None
        self.collect_errors = []
        self.reports = {}

    @pytest.hookimpl
    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append(report)

    @pytest.hookimpl
    def pytest_collection_finish(self, session):
        if self.collect_errors and not self.config.option.continue_on_collection_errors:
            # pytest stops after collection errors: report just those.
            self.planned = len(self.collect_errors)
        else:
            self.planned = len(session.items) + len(self.collect_errors)
        _emit('1..%d' % self.planned)
        for rep in self.collect_errors:
            self.number += 1
            _emit('not ok %d - collect %s' % (self.number, _name(rep.nodeid or 'session')))
            _diag(rep.longreprtext)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report):
        self.reports.setdefault(report.nodeid, []).append(report)

    @pytest.hookimpl
    def pytest_runtest_logfinish(self, nodeid, location):
        reports = self.reports.pop(nodeid, [])
        self.number += 1
        name = _name(nodeid)
        failed = [r for r in reports if r.failed]
        skipped = [r for r in reports if r.skipped]
        if failed:
            _emit('not ok %d - %s' % (self.number, name))
            for r in failed:
                _diag('---- %s failed ----' % r.when)
                _diag(r.longreprtext)
                for title, content in r.sections:
                    if title.startswith(('appserviced', 'Captured stderr', 'Captured log')):
                        _diag('---- %s ----' % title)
                        _diag(content)
        elif skipped:
            r = skipped[0]
            reason = r.longrepr[2] if isinstance(r.longrepr, tuple) else str(r.longrepr)
            if hasattr(r, 'wasxfail'):
                _emit('not ok %d - %s # TODO %s' % (self.number, name, r.wasxfail))
            else:
                reason = reason[len('Skipped: '):] if reason.startswith('Skipped: ') else reason
                _emit('ok %d - %s # SKIP %s' % (self.number, name, reason.replace('\n', ' ')))
        else:
            _emit('ok %d - %s' % (self.number, name))

    @pytest.hookimpl
    def pytest_sessionfinish(self, session, exitstatus):
        if self.planned is None:
            _emit('Bail out! pytest stopped before collecting (status %s)' % exitstatus)
        elif self.number < self.planned and not self.collect_errors:
            _emit('Bail out! pytest stopped after %d of %d tests (status %s)' %
                  (self.number, self.planned, exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    config.pluginmanager.register(TapReporter(config), 'tap-reporter')
    sys.stdout.flush()
