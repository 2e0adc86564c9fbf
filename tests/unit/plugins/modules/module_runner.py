# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module's main() in-process with given arguments and return its JSON result."""

from __future__ import annotations

import contextlib
import io
import json
import time

import pytest

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # the Python 3.9 venv of Debian 12's libraries has no ansible-core; module tests skip there
    patch_module_args = None


def run_module(main, capsys, **args):
    """Return (result dict, exit code) of one module run."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            main()
    out = capsys.readouterr().out
    return json.loads(out), exited.value.code


def execute(module, args, check_mode=False, diff=False):
    """Run ``module.main()`` in-process through its real exit path; return (failed, result, seconds)."""
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    out = io.StringIO()
    start = time.monotonic()
    with patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
        else:
            raise AssertionError('%s returned without exit_json or fail_json' % module.__name__)
    result = json.loads(out.getvalue())
    return bool(result.get('failed')), result, time.monotonic() - start


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
