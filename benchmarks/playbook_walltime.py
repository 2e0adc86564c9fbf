# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark 2: playbook wall time on a virtual lab of 4 boards (ClusterHAT, Triple, Stack, A+6: 17 Pis).

* one clusterctrl_power task for all 17 Pis versus a loop of 17 tasks (one Pi each), both from
  every Pi off, with power_on_delay 0;
* clusterctrl_info versus the official CLI's status (benchmarks/cli_model.py run by a command
  task against the same lab: the spec's model of the CLI, not the CLI itself).

Wall times are measured by ansible-playbook on this machine (median of --repeat runs, one
localhost host, local connection). Bus traffic per task comes from the lab's journal; its
modelled hardware time is 1 ms per USB control transfer plus the firmware's blocking time and,
for the ClusterHAT on I2C bus 1, 90 us per wire byte. Needs ANSIBLE_COLLECTIONS_PATH pointing
at a staged copy of the collection (tools/benchmarks.sh sets it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import results_dir, save, table  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LAB = """hat: {version: "2.5"}
controllers:
  - {type: triple, order: 1}
  - {type: stack, order: 2}
  - {type: aplus6, order: 3}
"""
PIS = ['p%d' % n for n in range(1, 18)]

PLAYBOOKS = {
    'converge_single': """
- hosts: bench
  gather_facts: false
  module_defaults:
    group/picluster.clusterctrl.clusterctrl: {virtual_lab: "%(lab)s"}
  tasks:
    - name: setup every Pi off
      picluster.clusterctrl.clusterctrl_power: {pis: all, state: 'off'}
    - name: one task for 17 Pis
      picluster.clusterctrl.clusterctrl_power: {pis: all, state: 'on', power_on_delay: 0}
""",
    'converge_loop': """
- hosts: bench
  gather_facts: false
  module_defaults:
    group/picluster.clusterctrl.clusterctrl: {virtual_lab: "%(lab)s"}
  tasks:
    - name: setup every Pi off
      picluster.clusterctrl.clusterctrl_power: {pis: all, state: 'off'}
    - name: a loop of 17 tasks
      picluster.clusterctrl.clusterctrl_power: {pis: ["{{ item }}"], state: 'on', power_on_delay: 0}
      loop: %(pis)s
""",
    'status': """
- hosts: bench
  gather_facts: false
  tasks:
    - name: clusterctrl_info
      picluster.clusterctrl.clusterctrl_info: {virtual_lab: "%(lab)s"}
    - name: CLI model status
      ansible.builtin.command:
        argv: ["%(python)s", "%(cli)s", "status", "%(lab)s"]
      changed_when: false
""",
}


def journal_cost(path, first, last):
    """Calls, USB transfers, modelled ms and module runs of journal lines [first, last)."""
    calls = usb = 0
    ms = 0.0
    runs = set()
    with open(path) as handle:
        for index, line in enumerate(handle):
            if index < first or index >= last:
                continue
            entry = json.loads(line)
            calls += 1
            runs.add(entry['run'])
            usb += entry['usb_transfers']
            ms += entry['usb_transfers'] * 1.0 + sum(c.get('duration_ms') or 0 for c in entry['commands'])
            if entry['bus'] == 1 and not entry['usb_transfers']:  # ClusterHAT: I2C wire bytes at ~90 us
                ms += 0.09 * (entry['messages'] + (entry['reg'] is not None) + len(entry['data'] or []) + (entry['length'] or 0))
    return dict(calls=calls, usb=usb, ms=round(ms, 1), runs=len(runs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--out', default=None)
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    work = os.path.join(results_dir(args.out), 'walltime')
    os.makedirs(work, exist_ok=True)
    lab = os.path.join(work, 'lab.yml')
    for stale in (lab + '.state.json', lab + '.state.json.journal.jsonl'):
        if os.path.exists(stale):
            os.remove(stale)
    with open(lab, 'w') as handle:
        handle.write(LAB)
    journal = lab + '.state.json.journal.jsonl'
    inventory = os.path.join(work, 'inventory.ini')
    with open(inventory, 'w') as handle:
        handle.write(f'[bench]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}\n')
    values = dict(lab=lab, pis=json.dumps(PIS), python=sys.executable, cli=os.path.join(HERE, 'cli_model.py'))
    timings = os.path.join(work, 'timings.jsonl')
    if os.path.exists(timings):
        os.remove(timings)
    env = dict(
        os.environ,
        ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, 'callback_plugins'),
        ANSIBLE_CALLBACKS_ENABLED='bench_timer',
        BENCH_TIMER_OUT=timings,
        BENCH_JOURNAL=journal,
        ANSIBLE_NOCOLOR='1',
        ANSIBLE_LOCALHOST_WARNING='0',
        ANSIBLE_INVENTORY_UNPARSED_WARNING='0',
        ANSIBLE_RETRY_FILES_ENABLED='0',
    )
    for name, text in PLAYBOOKS.items():
        with open(os.path.join(work, name + '.yml'), 'w') as handle:
            handle.write(text % values)
    for dummy in range(args.repeat):
        for name in PLAYBOOKS:
            proc = subprocess.run(
                ['ansible-playbook', '-i', inventory, os.path.join(work, name + '.yml')],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                sys.stderr.write(proc.stdout)
                raise SystemExit(f'ansible-playbook {name} failed')
    per_task = {}
    with open(timings) as handle:
        for line in handle:
            record = json.loads(line)
            per_task.setdefault(record['name'], []).append(record)
    result = {}
    for name, records in per_task.items():
        last = records[-1]
        result[name] = dict(
            seconds=[r['seconds'] for r in records],
            median=statistics.median(r['seconds'] for r in records),
            bus=journal_cost(journal, last['journal_from'], last['journal_to']),
        )
    single, loop = result['one task for 17 Pis'], result['a loop of 17 tasks']
    data = dict(tasks=result, speedup=loop['median'] / single['median'], repeat=args.repeat)
    save(args.out, 'playbook_walltime', data)
    print(render(data))


def render(data):
    tasks = data['tasks']
    rows = []
    for name in ('one task for 17 Pis', 'a loop of 17 tasks', 'clusterctrl_info', 'CLI model status'):
        task = tasks[name]
        bus = task['bus']
        rows.append(
            [
                name,
                '{:.2f}'.format(task['median']),
                bus['runs'],
                '%d / %d' % (bus['calls'], bus['usb']),
                '{:g}'.format(bus['ms']),
                '%.2f' % (task['median'] + bus['ms'] / 1000.0),
            ]
        )
    text = table(
        [
            'Task (17 Pis, 4 boards)',
            'Wall time s (median of %d)' % data['repeat'],
            'Board sessions',
            'Bus calls / USB transfers',
            'Modelled bus ms',
            'Wall + modelled bus s',
        ],
        rows,
    )
    single, loop = tasks['one task for 17 Pis'], tasks['a loop of 17 tasks']
    text += '\n\nOne task vs loop: {:.1f}x faster in wall time (goal >= 10x); {:.1f}x on modelled hardware (wall + bus).'.format(
        data['speedup'], (loop['median'] + loop['bus']['ms'] / 1000.0) / (single['median'] + single['bus']['ms'] / 1000.0)
    )
    return '## 2. Playbook wall time (virtual lab: HAT + Triple + Stack + A+6, 17 Pis)\n\n' + text


if __name__ == '__main__':
    main()
