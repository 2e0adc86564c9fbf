# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared helpers of the benchmark scripts: import path, result files, table printing.

The benchmarks print figures; they assert nothing about timings. Each script writes its
results as JSON into the results directory (``--out``, default ``.tmp/bench``) for
``report.py``, and prints its tables.
"""

from __future__ import annotations

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ensure_collection_importable():
    """Make ``ansible_collections.picluster.clusterctrl`` importable (staged copy, or a link to this checkout)."""
    try:
        import ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol  # noqa: F401 pylint: disable=unused-import

        return
    except ImportError:
        pass
    for path in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep):
        if path and os.path.isdir(os.path.join(path, 'ansible_collections', 'picluster', 'clusterctrl')):
            sys.path.insert(0, path)
            return
    # Fall back to a private tree whose ansible_collections/picluster/clusterctrl links to this checkout.
    tree = os.path.join(ROOT, '.tmp', 'bench-collections')
    link = os.path.join(tree, 'ansible_collections', 'picluster', 'clusterctrl')
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    sys.path.insert(0, tree)


def results_dir(path=None):
    path = path or os.environ.get('BENCH_OUT') or os.path.join(ROOT, '.tmp', 'bench')
    os.makedirs(path, exist_ok=True)
    return path


def save(out_dir, name, data):
    with open(os.path.join(results_dir(out_dir), name + '.json'), 'w') as handle:
        json.dump(data, handle, indent=1, sort_keys=True)


def load(out_dir, name):
    try:
        with open(os.path.join(results_dir(out_dir), name + '.json')) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def table(headers, rows):
    """A GitHub-flavoured Markdown table as a string."""
    text = [[str(h) for h in headers]] + [['' if c is None else str(c) for c in row] for row in rows]
    lines = ['| ' + ' | '.join(text[0]) + ' |', '|' + '|'.join('---' for dummy in headers) + '|']
    lines.extend('| ' + ' | '.join(row) + ' |' for row in text[1:])
    return '\n'.join(lines)


def percentile(values, fraction):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[index]
