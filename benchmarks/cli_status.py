# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark 5: bus calls of ``clusterctrl status``, this collection's command versus the official CLI's sequence.

Each row is one virtual lab with one board, counted on the lab journal (one entry per SMBus
call): "ours" is ``clusterctrl --lab LAB status`` (plugins/module_utils/clusterctrl/cli.py),
run once before counting so that a ClusterHAT's first-run set-up (§7.4) is out of the way;
"CLI model" is benchmarks/cli_model.py, the official CLI's calls as the spec describes them
(§8.2 discovery, §8.5 status). The spec's own measurements of the real CLI are slightly
higher (§10.3: Triple 39, not the model's 36: it reads DATA0 twice per ``u<N>`` line).

Columns: calls / USB control transfers (ClusterHAT: I2C wire bytes on bus 1) and the
modelled time of bus_traffic.py (1 ms per USB transfer plus the firmware's own time, §10.4).
The command sends each read-only command and the read of its result as one I2C transfer, so
it saves SMBus calls (kernel transfers, ioctl round trips) more than USB transfers: the USB
cost of a command is its 3 I2C messages either way (§1.2).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ensure_collection_importable, save, table  # noqa: E402

ensure_collection_importable()

from bus_traffic import NAMES, cost  # noqa: E402
from cli_model import CliController, CliHat  # noqa: E402

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl import cli  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import BOARD_SPECS, SUPPORTED_FIRMWARE, BoardType  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.store import VirtualLab  # noqa: E402

BOARDS = [bt.value for bt in BoardType]
HATS = [('2.5', 'xra1200p'), ('3.0', 'xra1200p'), ('3.0', 'xra1200')]


def _journal(lab):
    path = VirtualLab(lab).state_file + '.journal.jsonl'
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle]


def ours(lab, hat):
    for _run in range(2):  # the first run sets a ClusterHAT up (§7.4), as every official CLI call would
        mark = len(_journal(lab))
        with contextlib.redirect_stdout(io.StringIO()):
            if cli.main(['--lab', lab, 'status']) != 0:
                raise RuntimeError(f'clusterctrl status failed on {lab}')
    return cost(_journal(lab)[mark:], hat)


def vendor(lab, hat):
    with VirtualLab(lab).session(check_mode=True) as session:
        mark = len(session.journal)
        if session.hat is not None:
            CliHat(session.hat.smbus, session.hat.config.version, session.hat.config.part).status()
        for board in session.controllers:
            CliController(board.smbus).status()
        return cost(session.journal.entries[mark:], hat)


def measure(directory, name, text, hat=False):
    lab = os.path.join(directory, name + '.yml')
    with open(lab, 'w') as handle:
        handle.write(text)
    return dict(ours=ours(lab, hat), cli=vendor(lab, hat))


def run(directory):
    rows = []
    for board in BOARDS:
        hats = ', hats: [0, 1, 2, 3, 4, 5, 6, 7]' if board == 'da' else ''
        for firmware in SUPPORTED_FIRMWARE:
            text = f'controllers:\n  - {{type: {board}, order: 1, firmware: "{firmware}"{hats}}}\n'
            rows.append(
                dict(
                    board=board,
                    firmware=firmware,
                    pis=BOARD_SPECS[BoardType(board)].maxpi,
                    newest=firmware == BOARD_SPECS[BoardType(board)].newest_firmware,
                    **measure(directory, f'{board}-{firmware}', text),
                )
            )
    for version, part in HATS:
        text = f'hat: {{version: "{version}", part: {part}}}\n'
        rows.append(dict(board='hat', firmware=f'v{version} {part}', pis=4, newest=True, **measure(directory, f'hat-{version}-{part}', text, hat=True)))
    return dict(rows=rows)


def _name(row):
    if row['board'] == 'hat':
        return f'ClusterHAT {row["firmware"]} [I2C bytes, not USB]'
    return f'{NAMES[row["board"]]} ({row["pis"]} Pis, fw {row["firmware"]})'


def _pct(part, whole):
    return f'{100.0 * part / whole:.0f}%'


def render(data):
    main_rows, all_rows = [], {}
    for row in data['rows']:
        ours_, cli_ = row['ours'], row['cli']
        if row['newest']:
            main_rows.append(
                [
                    _name(row),
                    f'{cli_["calls"]} / {cli_["usb"]}',
                    f'{ours_["calls"]} / {ours_["usb"]}',
                    _pct(ours_['calls'], cli_['calls']),
                    _pct(ours_['usb'], cli_['usb']),
                    f'{cli_["ms"]:g}',
                    f'{ours_["ms"]:g}',
                ]
            )
        if row['board'] != 'hat':
            all_rows.setdefault(row['board'], {})[row['firmware']] = f'{ours_["calls"]} / {cli_["calls"]} ({_pct(ours_["calls"], cli_["calls"])})'
    main = table(['Board', 'CLI model (calls / USB)', 'clusterctrl (calls / USB)', 'calls', 'USB', 'CLI model ms', 'clusterctrl ms'], main_rows)
    every = table(
        ['Board'] + [f'fw {fw}' for fw in SUPPORTED_FIRMWARE], [[NAMES[board]] + [cells[fw] for fw in SUPPORTED_FIRMWARE] for board, cells in all_rows.items()]
    )
    worst = max(row['ours']['calls'] / row['cli']['calls'] for row in data['rows'])
    return main, every, worst


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--out', default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        data = run(directory)
    save(args.out, 'cli_status', data)
    main_table, every_table, worst = render(data)
    print('## 5. `clusterctrl status`: bus calls versus the official CLI (exact, from the lab journal)\n')
    print(main_table)
    print('\nEvery firmware (clusterctrl calls / CLI model calls; the DA with 8 ClusterHATs):\n')
    print(every_table)
    print(f"\nHighest ratio: {100.0 * worst:.0f}% of the CLI model's calls.")


if __name__ == '__main__':
    main()
