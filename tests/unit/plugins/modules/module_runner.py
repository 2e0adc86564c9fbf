# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module's main() in-process with given arguments and return its JSON result."""

from __future__ import annotations

import contextlib
import io
import json
import time

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19, or none (the Python 3.9 venv of Debian 12's libraries: module tests skip)
    patch_module_args = None


@contextlib.contextmanager
def _module_args(args):
    """Give the next AnsibleModule ``args``: ansible-core's own helper (2.19+), or the arguments it reads (older)."""
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
        return
    from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel

    saved = basic._ANSIBLE_ARGS
    basic._ANSIBLE_ARGS = json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode('utf-8')
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = saved


def _fresh_warnings():
    """Warnings are process-global in ansible-core: forget those of earlier in-process runs."""
    from ansible.module_utils.common import warnings  # pylint: disable=import-outside-toplevel

    for name in ('_global_warnings', '_global_deprecations'):
        getattr(warnings, name, {}).clear()


def _run(main, args):
    """Call ``main()`` with ``args`` through its real exit path; return the JSON it printed."""
    _fresh_warnings()
    out = io.StringIO()
    with _module_args(args), contextlib.redirect_stdout(out):
        try:
            main()
        except SystemExit:
            pass
        else:
            raise AssertionError(f'{main.__module__} returned without exit_json or fail_json')
    return json.loads(out.getvalue())


def run_module(main, **args):
    """Return (result dict, exit code) of one run of a module's ``main`` with ``args``."""
    result = _run(main, args)
    return result, 1 if result.get('failed') else 0


def execute(module, args, check_mode=False, diff=False):
    """Run ``module.main()`` in-process with ``args``; return (failed, result, seconds)."""
    start = time.monotonic()
    result = _run(module.main, dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff))
    return bool(result.get('failed')), result, time.monotonic() - start


def write_lab(tmp_path, text, name='lab.yml'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def journal(lab_path):
    try:
        with open(lab_path + '.state.json.journal.jsonl') as handle:
            return [json.loads(line) for line in handle]
    except OSError:
        return []
