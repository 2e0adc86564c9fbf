# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Keep the filter tests' controller imports from changing how modules run in the same pytest process.

Filter plugins run on the controller: importing them (ansible.errors, ...) sets ansible-core's process-wide
``module_utils._internal.is_controller``, after which a module run in-process (tests/unit/plugins/modules)
sends its warnings to the display instead of its result, and picks controller JSON profiles. ansible-test
runs controller and target unit tests in separate processes; ``pytest tests/unit`` runs them in one, so the
flag is put back once collection is done, and set only while a filter test runs.
"""

from __future__ import annotations

import pytest

try:
    from ansible.module_utils import _internal
except ImportError:  # ansible-core before 2.18
    _internal = None
if not hasattr(_internal, 'is_controller'):  # before 2.19 there is no such flag: nothing to guard
    _internal = None

_BEFORE_FILTER_IMPORTS = getattr(_internal, 'is_controller', None)


def pytest_collection_finish(session):
    if _internal is not None:
        _internal.is_controller = _BEFORE_FILTER_IMPORTS


@pytest.fixture(autouse=True)
def controller_side():
    if _internal is None:
        yield
        return
    saved = _internal.is_controller
    _internal.is_controller = True
    yield
    _internal.is_controller = saved
