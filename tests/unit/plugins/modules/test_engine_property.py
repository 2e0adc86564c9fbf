# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property test of the plan/apply engine (issue 9, "Done when": the property test).

Seeded random virtual labs (every board type, firmware 1.4 up to each board's newest, with and
without a ClusterHAT of several versions and solder-link variants) and seeded random declarations
through clusterctrl_cluster and the per-feature modules (power, usbboot, fan, board, eeprom). For
each declaration:

1. a check-mode run (diff on), then the real run (diff on): the check-mode result predicts the real
   one exactly: ``changed``, ``diff``, every per-item result, the resource views, every step but its
   status (planned / taken), and a failure with the same message;
2. a re-run of the same declaration plans only actions (steps with ``action: true``: power cycles,
   resets, hub cycles, write-only LEDs and fans of firmware < 1.6, spec §10.3) and reports
   ``changed: false`` when there are none;
3. no journal line of a check-mode run (clusterctrl_info's included) holds a mutating command
   (spec §3: only GET_PSTATUS, GET_USTATUS, GET_DATA and GETPATH read; the restart-detection token
   in MODE, spec §2, is not a command and no save keeps it);
4. the real run tells the truth: every item is what the emulated boards hold (engine_lab.TruthCheck,
   read from the lab's state file), and the EEPROM saves the boards executed (journal) are exactly the
   save steps the result reports taken.

Every (board type, firmware) pair is in the first layouts. Per layout, ``state: gathered`` fed back as
``config`` with ``merged`` plans nothing.

The one documented divergence is skipped (and counted): whether a ClusterHAT's write-protect solder link
is fitted cannot be read before writing on an XRA1200P that was never set up (spec §7.4), nor ever on a
plain XRA1200 (no pull-up register, §7.3), so ``wp: off`` may fail only in the real run
(clusterctrl_board's documentation says so for the XRA1200P).
"""

from __future__ import annotations

import collections
import random

from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.engine_lab import (
    DECLARE,
    SAVE_COMMANDS,
    TruthCheck,
    board_firmware_pairs,
    comparable,
    first_difference,
    lab_truth,
    make_lab,
    random_layout,
    read_info,
    run,
)
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.fuzz_size import scaled

SEED = 20261201
LAYOUTS = scaled(60)
DECLARATIONS_PER_LAYOUT = 6
MODULE_WEIGHTS = dict(cluster=4, power=3, usbboot=1, fan=1, board=2, eeprom=2)


def _no_mutation(lines, what, counts):
    counts['check-mode journal lines'] += len(lines)
    for line in lines:
        assert line['check_mode'] is True, f'{what}: journal line {line["seq"]} is not marked check mode'
        assert not line['mutating'], f'{what}: check mode sent a mutating transaction: {line}'


def _saves_match_steps(result, lines, where):
    """Every EEPROM save command the boards executed (journal) is a step the result reports as taken, and back."""
    executed = sorted(command['name'] for line in lines for command in line['commands'] if command['name'] in SAVE_COMMANDS and command['status'] is not None)
    reported = sorted(command for step in result.get('steps', []) if step['status'] == 'taken' for command in step['commands'] if command in SAVE_COMMANDS)
    assert executed == reported, f'{where}: the boards executed {executed}, the result reports {reported} taken'


def _wp_divergence(layout, info, module, args):
    """wp: off on a ClusterHAT whose WP solder link is soldered, where nothing can tell before writing (spec §7.3, §7.4):
    an XRA1200P finds the link only in its first-run set-up, a plain XRA1200 never (no pull-up register): the write is
    made, and the pin still reads protected."""
    hat = layout.get('hat')
    if not hat or not hat['wp_link_soldered']:
        return False
    state = next((c['hat'] for c in info['controllers'] if c['type'] == 'clusterhat'), None)
    if state is None or (state['initialized'] and hat['part'] == 'xra1200p'):
        return False
    if module == 'board':
        return args.get('controller') == 'hat' and args.get('wp') == 'off'
    if module == 'cluster':
        return (args['config']['boards'].get('hat') or {}).get('wp') == 'off'
    return False


def _rerun_args(module, args, before, after):
    """The same declaration again; a board whose order the first run changed (SET_ORDER, or a reset back to its
    saved order, spec §5.2) is named by its order now."""
    if module == 'board' and args['controller'] != 'hat':
        index = before['by_order'][int(args['controller'])]
        return dict(args, controller=str(after['boards'][index]['order']))
    return args


def test_check_mode_predicts_the_real_run_and_a_rerun_changes_nothing(tmp_path):
    rng = random.Random(SEED)
    counts = collections.Counter()
    modules = [name for name, weight in MODULE_WEIGHTS.items() for _copy in range(weight)]
    uncovered = board_firmware_pairs()  # every board type with every firmware it can run, first
    rng.shuffle(uncovered)
    for index in range(max(LAYOUTS, len(uncovered))):  # every board with every firmware, at any size
        layout = random_layout(rng, first=uncovered.pop() if uncovered else None)
        lab = make_lab(tmp_path / f'lab{index}', layout)
        counts['layouts'] += 1
        counts['with hat' if 'hat' in layout else 'without hat'] += 1
        for entry in layout['controllers']:
            counts[f'board {entry["type"]} {entry["firmware"]}'] += 1
        if 'hat' in layout:
            counts[f'hat {layout["hat"]["version"]} {layout["hat"]["part"]}'] += 1
        info, lines = read_info(lab)
        assert not info.get('failed'), info
        _no_mutation(lines, f'layout {index} clusterctrl_info', counts)
        for number in range(DECLARATIONS_PER_LAYOUT):
            module = rng.choice(modules)
            args = DECLARE[module](rng, info)
            where = f'layout {index} {layout}, declaration {number}: {module} {args}'
            check, lines = run(module, lab, args, check_mode=True)
            _no_mutation(lines, where + ' (check mode)', counts)
            before = lab_truth(lab)
            real, lines = run(module, lab, args)
            after = lab_truth(lab)
            truth = TruthCheck(module, args, real, before, after)
            assert not truth.problems, f'{where}: the real run does not tell the truth: {truth.problems}\nresult: {real}'
            counts.update(truth.counts)
            _saves_match_steps(real, lines, where)
            assert 'exception' not in check and 'exception' not in real, where
            counts['combinations'] += 1
            counts[f'module {module}'] += 1
            if _wp_divergence(layout, info, module, args):
                counts['skipped: wp link found only by the HAT set-up'] += 1
                if real.get('failed'):
                    assert 'solder link' in real['msg'], f'{where}: {real}'
                    continue
            else:
                difference = first_difference(comparable(check), comparable(real))
                assert difference is None, f'{where}: check mode and the real run differ at {difference}\ncheck: {check}\nreal: {real}'
                counts['check == real'] += 1
            if real.get('failed'):
                counts['failed (both)'] += 1
                assert real['changed'] is False, f'{where}: a failure before anything was sent reports changed'
            else:
                counts['changed' if real['changed'] else 'unchanged'] += 1
                again, _lines = run(module, lab, _rerun_args(module, args, before, after))
                assert not again.get('failed'), f'{where}: the re-run failed: {again.get("msg")}'
                not_actions = [step for step in again['steps'] if not step['action']]
                assert not not_actions, f'{where}: the re-run planned again what the first run did: {not_actions}'
                if not again['steps']:
                    assert again['changed'] is False, f'{where}: the re-run with nothing to do reports changed'
                    counts['re-run unchanged'] += 1
                else:
                    counts['re-run with actions only'] += 1
            if module == 'board' or (module == 'eeprom' and args.get('factory_reset')):
                info, lines = read_info(lab)  # an order change or a reset renumbers the Pis
                if info.get('failed'):
                    break  # e.g. a reset back to a saved order another board has: every later run fails alike
        gathered, lines = run('cluster', lab, dict(state='gathered'), check_mode=True)
        if gathered.get('failed'):
            continue
        _no_mutation(lines, f'layout {index} gathered', counts)
        for check_mode in (True, False):
            back, lines = run('cluster', lab, dict(config=gathered['gathered'], state='merged'), check_mode=check_mode)
            assert not back.get('failed') and back['changed'] is False and back['steps'] == [], f'layout {index}: gathered round trip: {back}'
        counts['gathered round trips'] += 1
    print('\nengine property:', ', '.join(f'{key}: {value}' for key, value in sorted(counts.items())))
    assert counts['combinations'] >= scaled(300)
    assert all(counts[f'board {board} {firmware}'] for board, firmware in board_firmware_pairs())
    assert counts['check-mode journal lines'] >= scaled(3000)  # the no-mutation check above was not vacuous
    assert counts['check == real'] >= scaled(290)
