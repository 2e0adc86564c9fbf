# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The layout rule of plugins/: one job per file, so no file grows past 500 lines."""

from __future__ import annotations

from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[3] / 'plugins'
MAX_LINES = 500


def plugin_files() -> list[Path]:
    return sorted(path for path in PLUGINS.rglob('*.py') if '__pycache__' not in path.parts)


def test_plugins_directory_is_found():
    assert len(plugin_files()) > 50, PLUGINS


@pytest.mark.parametrize('path', plugin_files(), ids=lambda path: str(path.relative_to(PLUGINS)))
def test_no_plugin_file_over_500_lines(path: Path):
    lines = len(path.read_text(encoding='utf-8').splitlines())
    assert lines <= MAX_LINES, f'{path.relative_to(PLUGINS.parent)} has {lines} lines: split it by job (at most {MAX_LINES})'
