# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module's main() in-process with given arguments and return its JSON result."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args


def run_module(main, capsys, **args):
    """Return (result dict, exit code) of one module run."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            main()
    out = capsys.readouterr().out
    return json.loads(out), exited.value.code


def write_lab(tmp_path, text, name='lab.yml'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def journal(lab_path):
    try:
        with open(lab_path + '.state.json.journal.jsonl') as handle:
            return [json.loads(line) for line in handle]
    except IOError:
        return []
