# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark 4: module start-up. For each module, in a fresh interpreter (median of 5):

* the time to import the module (with everything it imports) beyond what
  ``ansible.module_utils.basic`` alone costs, which every module pays anyway;
* which heavy packages or collection parts that import drags in (``python -X importtime``):
  paho, ssl, the emulator, the virtual lab, yaml, smbus2.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ROOT, ensure_collection_importable, save, table  # noqa: E402

ensure_collection_importable()

PKG = 'ansible_collections.picluster.clusterctrl.plugins'
WATCH = [
    ('paho', 'paho'),
    ('ssl', 'ssl'),
    ('yaml', 'yaml'),
    ('smbus2', 'smbus2'),
    ('emulator', PKG + '.module_utils.emulator'),
    ('virtual_lab', PKG + '.module_utils.virtual_lab'),
    ('mqtt utils', PKG + '.module_utils.mqtt'),
    ('clusterctrl utils', PKG + '.module_utils.clusterctrl'),
]
RUNS = 5


def timed_import(target):
    code = f'import time; t = time.perf_counter(); import {target}; print(time.perf_counter() - t)'
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    values = []
    for dummy in range(RUNS):
        out = subprocess.run([sys.executable, '-c', 'import ansible.module_utils.basic; ' + code], env=env, stdout=subprocess.PIPE, check=True)
        values.append(float(out.stdout) * 1000.0)
    return statistics.median(values)


def importtime(target):
    """{top-level name: cumulative microseconds} of what ``import target`` loads beyond ansible.module_utils.basic."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run(
        [sys.executable, '-X', 'importtime', '-c', f'import ansible.module_utils.basic; import {target}'],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        check=True,
        text=True,
    )
    lines = proc.stderr.splitlines()
    # Entries are printed after their children; keep those printed after ansible.module_utils.basic finished.
    start = max(i for i, line in enumerate(lines) if line.rstrip().endswith('| ansible.module_utils.basic'))
    loaded = {}
    for line in lines[start:][1:]:
        parts = [p.strip() for p in line.split('|')]
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        loaded[parts[2]] = int(parts[0].split(':')[-1].strip())  # self time
    found = {}
    for label, prefix in WATCH:
        hits = [name for name in loaded if name == prefix or name.startswith(prefix + '.')]
        if hits:
            found[label] = sum(loaded[name] for name in hits) / 1000.0
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--out', default=None)
    args = parser.parse_args()
    modules = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, 'plugins', 'modules')) if name.endswith('.py') and name != '__init__.py')
    data = {'baseline_ms': timed_import('json'), 'modules': {}}
    for name in modules:
        target = f'{PKG}.modules.{name}'
        data['modules'][name] = dict(import_ms=timed_import(target), loaded=importtime(target))
    for label, target in (('paho.mqtt.client alone', 'paho.mqtt.client'), ('emulator + virtual lab alone', PKG + '.module_utils.virtual_lab.store')):
        data['modules'][label] = dict(import_ms=timed_import(target), loaded={})
    save(args.out, 'module_startup', data)
    print(render(data))


def render(data):
    rows = []
    for name, entry in data['modules'].items():
        loaded = entry['loaded']
        rows.append([name, '{:.1f}'.format(entry['import_ms']), ', '.join(f'{label} {loaded[label]:.1f}' for label, dummy in WATCH if label in loaded) or '–'])
    return '## 4. Module start-up (fresh interpreter, after ansible.module_utils.basic; median of %d)\n\n' % RUNS + table(
        ['Module', 'Import ms', 'What it loads (ms spent in those modules themselves, -X importtime)'], rows
    )


if __name__ == '__main__':
    main()
