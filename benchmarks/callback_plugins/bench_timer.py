# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark helper (not part of the collection): wall time of every task, and bus journal lines per task.

Enabled only by benchmarks/playbook_walltime.py (ANSIBLE_CALLBACKS_ENABLED=bench_timer). Writes one
JSON line per task to $BENCH_TIMER_OUT: name, seconds, and the virtual lab journal's line count at
the start and end of the task ($BENCH_JOURNAL), so the bus traffic of each task can be counted.
"""

from __future__ import annotations

DOCUMENTATION = """
name: bench_timer
type: aggregate
short_description: Task wall times for the benchmarks
description: Writes the wall time of each task as JSON lines to $BENCH_TIMER_OUT.
requirements: [enable in configuration]
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


def _lines(path):
    try:
        with open(path, 'rb') as handle:
            return sum(1 for dummy in handle)
    except OSError:
        return 0


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_timer'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._current = None
        self._out = os.environ.get('BENCH_TIMER_OUT')
        self._journal = os.environ.get('BENCH_JOURNAL', '')

    def _close(self):
        if self._current is None or not self._out:
            return
        name, start, lines = self._current
        record = dict(name=name, seconds=time.monotonic() - start, journal_from=lines, journal_to=_lines(self._journal))
        with open(self._out, 'a') as handle:
            handle.write(json.dumps(record) + '\n')
        self._current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self._current = (task.get_name(), time.monotonic(), _lines(self._journal))

    def v2_playbook_on_stats(self, stats):
        self._close()
