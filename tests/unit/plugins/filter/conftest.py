# -*- coding: utf-8 -*-
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
from ansible.module_utils import _internal

_BEFORE_FILTER_IMPORTS = _internal.is_controller


def pytest_collection_finish(session):
    _internal.is_controller = _BEFORE_FILTER_IMPORTS


@pytest.fixture(autouse=True)
def controller_side():
    saved = _internal.is_controller
    _internal.is_controller = True
    yield
    _internal.is_controller = saved
