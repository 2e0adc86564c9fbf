# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared by the engine's property and fault tests: random virtual labs, random declarations for every
state-changing clusterctrl module, the boards' true state read straight from the lab's state file,
and the comparison of two module results.

Nothing here goes through the modules under test to learn the truth: ``lab_truth`` rebuilds the
emulated boards from the state file (as ``test_reliability_faults.truth`` does) and reads their pins.
"""

from __future__ import annotations

import collections
import json
import os
import random
import re

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import (
    BOARD_SPECS,
    SUPPORTED_FIRMWARE,
    BoardType,
    parse_firmware,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.xra1200 import XRA1200
from ansible_collections.picluster.clusterctrl.plugins.modules import (
    clusterctrl_board,
    clusterctrl_cluster,
    clusterctrl_eeprom,
    clusterctrl_fan,
    clusterctrl_info,
    clusterctrl_power,
    clusterctrl_usbboot,
)
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import execute, write_lab
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.test_reliability_faults import state as load_state

BOARD_TYPES = tuple(bt.value for bt in BoardType)  # single, triple, phat, aplus6, stack, da
HAT_VERSIONS = ('2.0', '2.3', '2.5', '3.0', '3.2')
MODULES = dict(
    power=clusterctrl_power,
    usbboot=clusterctrl_usbboot,
    fan=clusterctrl_fan,
    board=clusterctrl_board,
    eeprom=clusterctrl_eeprom,
    cluster=clusterctrl_cluster,
    info=clusterctrl_info,
)
JOURNAL = '.state.json.journal.jsonl'  # beside the lab file (README "Virtual lab")
# Journal command names of the EEPROM-writing commands (protocol.Cmd, spec §3 / §5.1).
SAVE_COMMANDS = ('SAVE', 'SAVEPOS', 'SAVEORDER', 'SAVELED', 'SAVEUSBBOOT', 'SAVEDEFAULTS')
# Per item, what may differ between a check-mode result and the real run's: nothing read before the
# plan differs in the emulator, but a temperature is a live reading, so it is never compared.
LIVE_FIELDS = ('temperature',)


def firmware_choices(board_type):
    """Firmware 1.4 up to the newest published image of the board (spec §6.2, boards.newest_firmware)."""
    newest = parse_firmware(BOARD_SPECS[BoardType(board_type)].newest_firmware)
    return [version for version in SUPPORTED_FIRMWARE if parse_firmware(version) <= newest]


def board_firmware_pairs():
    """Every (board type, firmware) the lab can hold: 19 of them."""
    return [(board_type, firmware) for board_type in BOARD_TYPES for firmware in firmware_choices(board_type)]


def random_layout(rng: random.Random, hat=None, max_controllers=3, first=None) -> dict:
    """A lab: 0-3 controllers of any type and valid firmware, distinct orders; a ClusterHAT or not.

    ``first``: the (type, firmware) of a first controller the lab must hold.
    """
    if hat is None:
        hat = rng.random() < 0.5
    count = max(rng.randint(0 if hat else 1, max_controllers), 1 if first else 0)
    controllers = []
    for number, order in enumerate(rng.sample(range(1, 256), count)):
        board_type = rng.choice(BOARD_TYPES)
        firmware = rng.choice(firmware_choices(board_type))
        if first and number == 0:
            board_type, firmware = first
        entry = dict(type=board_type, order=order, firmware=firmware)
        if board_type == 'da':
            entry['hats'] = sorted(rng.sample(range(8), rng.randint(1, 3)))
        controllers.append(entry)
    layout = dict(controllers=controllers)
    if hat:
        layout['hat'] = dict(
            version=rng.choice(HAT_VERSIONS),
            part=rng.choice(('xra1200p', 'xra1200p', 'xra1200')),
            pos_link_cut=rng.random() < 0.3,
            wp_link_soldered=rng.random() < 0.2,
        )
    return layout


def lab_text(layout: dict, faults=None) -> str:
    """The lab file (JSON is YAML); ``faults(index, entry)`` gives each controller's fault plan, or None."""
    document = json.loads(json.dumps(layout))
    for index, entry in enumerate(document['controllers']):
        plan = faults(index, entry) if faults else None
        if plan:
            entry['faults'] = plan
    return json.dumps(document)


def make_lab(directory, layout, faults=None) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    return write_lab(directory, lab_text(layout, faults))


def _journal_size(lab):
    try:
        return os.path.getsize(lab + JOURNAL)
    except OSError:
        return 0


def journal_since(lab, offset):
    """The journal lines appended after byte ``offset`` (module_runner.journal reads them all: too slow here)."""
    try:
        with open(lab + JOURNAL, 'rb') as handle:
            handle.seek(offset)
            return [json.loads(line) for line in handle.read().splitlines() if line.strip()]
    except OSError:
        return []


def run(name, lab, args, check_mode=False, diff=True):
    """One in-process run of a clusterctrl module against ``lab``; returns (result, journal lines of the run)."""
    mark = _journal_size(lab)
    args = dict(args, virtual_lab=lab)
    _failed, result, _seconds = execute(MODULES[name], args, check_mode=check_mode, diff=diff)
    return result, journal_since(lab, mark)


# ------------------------------------------------------------------------------------------------
# The truth, from the state file


def _bits(field, count):
    return [bool(field[(slot - 1) // 8] & (1 << ((slot - 1) % 8))) for slot in range(1, count + 1)]


def lab_truth(lab) -> dict:
    """Everything the modules report on, as the emulated boards hold it now.

    Boards are identified by what does not change during a run: ``hat``, or a controller's position
    in the lab file (its RAM order can change, by SET_ORDER or a restart). ``pis`` maps (board, slot)
    to {power, usbboot}; ``names`` gives each global Pi name its (board, slot), numbered as the
    official CLI numbers them (spec §8.3: the ClusterHAT first, then the controllers by ascending
    ORDER); ``by_order`` maps each controller's RAM order to its position; ``boards`` holds each
    board's own settings, its EEPROM (spec §5.1) and its boot count.
    """
    if not os.path.exists(lab + '.state.json'):
        run('info', lab, {}, check_mode=True)  # a lab no module ran on yet: let the store build its boards (a read)
    saved = load_state(lab)
    pis, names, boards, by_order = {}, {}, {}, {}
    number = 1
    if saved.get('hat'):
        chip = XRA1200.from_dict(saved['hat']['chip'])
        out = chip.outputs()
        for slot, level in enumerate(out['power'], 1):
            pis[('hat', slot)] = dict(power=level, usbboot=None)
            names[f'p{number}'] = ('hat', slot)
            number += 1
        boards['hat'] = dict(alert=out['alert'], hub=out['hub_on'], wp=out['wp'], leds=out['led'], initialized=out['initialized'])
    firmwares = [ClusterCTRLFirmware.from_dict(c['firmware']) for c in saved.get('controllers') or []]
    for index, fw in sorted(enumerate(firmwares), key=lambda pair: pair[1].regs[2]):
        spec = fw.spec
        by_order[fw.regs[2]] = index
        usbboot = _bits(fw.usbboot, spec.maxpi) if spec.has_usbboot else [None] * spec.maxpi
        for slot in range(1, spec.maxpi + 1):
            pis[(index, slot)] = dict(power=fw.pi_power(slot), usbboot=usbboot[slot - 1])
            names[f'p{number}'] = (index, slot)
            number += 1
        leds = _bits(fw.enpled, spec.maxpi) if spec.has_pi_leds else None
        boards[index] = dict(
            type=fw.board.value,
            gpio=spec.gpio,
            order=fw.regs[2],
            fan=bool(fw.fanstatus & 1) if spec.fan != 'none' else None,
            alert=fw.alert if spec.has_alert_led and spec.gpio != 'E' else None,  # a DA's ALERT follows its HAT traffic (§7.6)
            power_led=fw.enpwr,
            act_led=fw.enact if fw.has_act else None,
            leds=(all(leds) if all(leds) or not any(leds) else 'mixed') if leds else None,
            eeprom=list(fw.eeprom),
            boot_count=fw.boot_count,
            maxpi=spec.maxpi,
        )
    return dict(pis=pis, names=names, boards=boards, by_order=by_order)


def eeprom_image(board: dict) -> dict:
    """What a controller's EEPROM holds, in the shape of a saved image (spec §5.1 offsets)."""
    eeprom, count = board['eeprom'], board['maxpi']
    size = (count + 7) // 8
    return dict(order=eeprom[0x01], power=_bits(eeprom[0x30:][:size], count), usbboot=_bits(eeprom[0x50:][:size], count))


def truth_changed(before: dict, after: dict) -> bool:
    """Anything a module reports on differs: a Pi, a ClusterHAT setting, a controller's order, fan, LEDs or EEPROM."""
    keys = ('order', 'fan', 'alert', 'power_led', 'act_led', 'leds', 'eeprom', 'hub', 'wp', 'initialized')
    return before['pis'] != after['pis'] or any(
        {k: v for k, v in before['boards'][key].items() if k in keys} != {k: v for k, v in after['boards'].get(key, {}).items() if k in keys}
        for key in before['boards']
    )


# ------------------------------------------------------------------------------------------------
# Random declarations


def read_info(lab):
    """The cluster as clusterctrl_info reads it (check mode): its Pis and boards, to declare against."""
    result, lines = run('info', lab, {}, check_mode=True, diff=False)
    return result, lines


def _onoff(rng):
    return rng.choice(('on', 'off'))


def _names(info, usbboot_only=False):
    return [
        name
        for name, pi in sorted(info['pis'].items(), key=lambda kv: int(kv[0][1:]))
        if pi['power'] is not None and (not usbboot_only or pi['usbboot'] is not None)
    ]


def _controllers(info):
    return [c for c in info['controllers'] if c['type'] != 'clusterhat']


def random_power(rng, info):
    names = _names(info)
    args = dict(state=rng.choice(('on', 'off', 'on', 'off', 'cycled')), power_on_delay=0, off_time=0)
    roll = rng.random()
    if roll < 0.15 or not names:
        args['pis'] = ['all']
    elif roll < 0.3:
        board = rng.choice(info['controllers'])
        args['controller'] = str(board['controller'])
        present = [pi['pi'] for pi in info['pis'].values() if pi['controller'] == board['controller'] and pi['power'] is not None]
        args['pis'] = [str(slot) for slot in rng.sample(present, rng.randint(1, len(present)))] if present else ['all']
    else:
        args['pis'] = rng.sample(names, rng.randint(1, min(4, len(names))))
    return args


def random_usbboot(rng, info):
    names = _names(info, usbboot_only=True)
    args = dict(state=_onoff(rng))
    if not names or rng.random() < 0.05:  # a Pi without USB boot control: refused, in check mode too
        args['pis'] = rng.sample(_names(info), 1) if _names(info) else ['all']
    elif rng.random() < 0.2:
        args['pis'] = ['all']
    else:
        args['pis'] = rng.sample(names, rng.randint(1, min(3, len(names))))
    return args


def random_fan(rng, info):
    fans = [c for c in _controllers(info) if c['fan']['supported']]
    args = dict(state=_onoff(rng))
    if fans and rng.random() < 0.5:
        args['controller'] = str(rng.choice(fans)['controller'])
    return args


def random_board(rng, info):
    """One board's settings: what the board has, now and then something it has not (refused before anything is sent)."""
    board = rng.choice(info['controllers'])
    args = dict(controller=str(board['controller']))
    candidates = []
    if board['type'] == 'clusterhat':
        # (hub: cycled on a ClusterHAT waits a real second between off and on: left to the HAT's own tests)
        candidates += [('alert', _onoff), ('hub', _onoff), ('wp', _onoff)]
        if board['hat']['led'] is not None:
            candidates.append(('leds', _onoff))
    else:
        spec = BOARD_SPECS[BoardType(board['type'])]
        used = {c['order'] for c in _controllers(info)}
        candidates.append(('order', lambda r: r.choice([o for o in range(1, 256) if o not in used])))
        candidates.append(('power_led', _onoff))
        if spec.has_alert_led:
            candidates.append(('alert', _onoff))
        if spec.has_pi_leds:
            candidates.append(('leds', _onoff))
        if spec.has_act_led and board['firmware'] == '1.8':
            candidates.append(('act_led', _onoff))
        if spec.hub is not None and rng.random() < 0.2:
            candidates.append(('hub', lambda r: 'cycled'))
    if rng.random() < 0.05:
        candidates.append(('act_led', _onoff))  # on most boards: refused
    if board['type'] != 'clusterhat' and rng.random() < 0.06:
        args['reset'] = True  # alone: combined with anything else it is refused before anything is sent
        if rng.random() < 0.3:
            name, value = rng.choice(candidates)
            args[name] = value(rng)
        return args
    for name, value in rng.sample(candidates, rng.randint(1, min(3, len(candidates)))):
        args[name] = value(rng)
    return args


def random_eeprom(rng, info):
    controllers = _controllers(info)
    args = {}
    if controllers and rng.random() < 0.5:
        board = rng.choice(controllers)
        args['controller'] = str(board['controller'])
        spec = BOARD_SPECS[BoardType(board['type'])]
        items = ['order', 'leds', 'all'] + (['power'] if spec.gpio != 'E' else []) + (['usbboot'] if spec.has_usbboot else [])
    else:
        items = ['order', 'leds', 'all'] + (['power'] if all(c['type'] != 'da' for c in controllers) else [])
    if rng.random() < 0.08:
        args['factory_reset'] = True
    else:
        args['save'] = rng.sample(items, rng.randint(1, 2))
    if rng.random() < 0.1:
        args['force'] = True
    return args


def random_cluster(rng, info):
    names = _names(info)
    pis = {}
    for name in rng.sample(names, rng.randint(0, min(5, len(names)))):
        entry = {}
        if rng.random() < 0.8:
            entry['power'] = _onoff(rng)
        if info['pis'][name]['usbboot'] is not None and rng.random() < 0.5:
            entry['usbboot'] = _onoff(rng)
        if rng.random() < 0.1:
            entry['power'] = rng.choice((True, False))  # booleans are accepted too
        pis[name] = entry
    boards = {}
    for board in rng.sample(info['controllers'], rng.randint(0, len(info['controllers']))):
        settings = {}
        if board['type'] == 'clusterhat':
            for name in ('alert', 'hub', 'wp') + (('leds',) if board['hat']['led'] is not None else ()):
                if rng.random() < 0.4:
                    settings[name] = _onoff(rng)
            key = 'hat'
        else:
            spec = BOARD_SPECS[BoardType(board['type'])]
            options = ['power_led'] + (['fan'] if spec.fan != 'none' else []) + (['alert'] if spec.has_alert_led else [])
            options += (['leds'] if spec.has_pi_leds else []) + (['act_led'] if spec.has_act_led and board['firmware'] == '1.8' else [])
            for name in options:
                if rng.random() < 0.35:
                    settings[name] = _onoff(rng)
            key = str(board['controller'])
        if settings:
            boards[key] = settings
    if rng.random() < 0.2:
        boards['all'] = {rng.choice(('fan', 'alert', 'power_led')): _onoff(rng)}
    args = dict(config=dict(pis=pis, boards=boards), state=rng.choice(('merged',) * 4 + ('overridden',)), power_on_delay=0)
    if rng.random() < 0.35:
        args['save'] = rng.sample(['power', 'order', 'leds', 'usbboot', 'all'], rng.randint(1, 2))
    return args


DECLARE = dict(power=random_power, usbboot=random_usbboot, fan=random_fan, board=random_board, eeprom=random_eeprom, cluster=random_cluster)


# ------------------------------------------------------------------------------------------------
# Comparing results


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in LIVE_FIELDS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


RESULT_GROUPS = ('pis', 'controllers', 'settings', 'boards', 'power', 'usbboot', 'saved', 'gathered')


def comparable(result: dict) -> dict:
    """What a check-mode result must share with the following real run's: ``changed``, ``failed`` (and
    ``msg``), ``diff``, every result group's items, the resource views, and each step but its status."""
    out = dict(changed=result.get('changed'), failed=bool(result.get('failed')), diff=result.get('diff'))
    if out['failed']:
        out['msg'] = result.get('msg')
    for key in RESULT_GROUPS + ('before', 'after', 'commands', 'controller', 'record'):
        if key in result:
            out[key] = _strip(result[key])
    out['steps'] = [{k: v for k, v in step.items() if k not in ('status', 'reason')} for step in result.get('steps', [])]
    return out


def first_difference(left, right, path=''):
    """The first path where two JSON values differ, with both values, for assertion messages."""
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right), key=str):
            if key not in left or key not in right:
                return f'{path}.{key}: {left.get(key, "<missing>")!r} != {right.get(key, "<missing>")!r}'
            found = first_difference(left[key], right[key], f'{path}.{key}')
            if found:
                return found
        return None
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for index, (a, b) in enumerate(zip(left, right)):
            found = first_difference(a, b, f'{path}[{index}]')
            if found:
                return found
        return None
    return None if left == right else f'{path}: {left!r} != {right!r}'


# ------------------------------------------------------------------------------------------------
# Checking a result against the truth

WORDS = {True: 'on', False: 'off'}
# A failure message that says the board restarted or left the bus (driver BoardResetError, BusError ENODEV).
RESTART_NAMED = re.compile(r'restarted|gone from the bus')
# Engine bugs found by these tests and not fixed yet, each with a failing test of its own
# (test_issue9_regressions.test_engine_bug_*): while True, TruthCheck counts the case instead of failing on it,
# so that the rest of the property and fault tests still run. Set to False once the engine is fixed.
KNOWN_BUGS = dict(hat_settings_without_set_up=False)


def as_set_up(truth: dict) -> dict:
    """``truth`` with a ClusterHAT that was never set up shown as its first-run set-up leaves it (spec §7.4: hub on,
    ALERT off, LED on, write-protect on; the Pis as the POS link has them). Before the set-up the expander's pins
    are inputs whose levels are not settings, so that is what the modules compare with and report as
    ``previous`` (the set-up itself is reported as the ``setup`` item)."""
    hat = truth['boards'].get('hat')
    if not hat or hat['initialized']:
        return truth
    boards = dict(truth['boards'], hat=dict(hat, hub=True, alert=False, wp=True, leds=True if hat['leds'] is not None else None))
    return dict(truth, boards=boards)


def _word(value):
    return WORDS.get(value, value)


class TruthCheck:
    """Compares every item of a clusterctrl module's result with the emulated boards.

    ``before`` / ``after`` are ``lab_truth`` just before and just after the run. An item whose value
    is None and that says ``uncertain`` (with its reason) is never a lie: it is counted. Every other
    item's value must be what the boards hold after the run and, unless one of its steps is an
    action (always a change), its ``changed`` must say whether that value changed; ``previous``
    must be what they held before. On a board that restarted during the run (``restarted``: board
    keys) RAM was rebuilt from EEPROM at a moment the test does not know, so there only the value
    is compared (``previous`` and ``changed`` may describe the board before the restart).
    ``problems`` lists every difference, ``counts`` what was checked.
    """

    def __init__(self, module, args, result, before, after, restarted=()):
        self.module, self.args, self.result = module, args, result
        self.before, self.after = as_set_up(before), after
        self.restarted = set(restarted)
        # the boards a failure message names (their labels carry the virtual bus, 10 + position)
        self.named = {int(bus) - 10 for bus in re.findall(r'virtual bus (\d+)', result.get('msg') or '')} if result.get('failed') else set()
        self.problems = []
        self.counts = collections.Counter()
        self.actions = {(step['target'], step['setting']) for step in result.get('steps', []) if step['action']}
        self.check()

    def problem(self, where, text):
        self.problems.append(f'{self.module} {where}: {text}')

    def board(self, controller):
        if controller == 'hat':
            return 'hat'
        return self.before['by_order'].get(int(controller))

    def compare(self, where, key, action, view, value, old, truth):
        """One item of board ``key``: ``value`` reported now, ``old`` as previous; ``truth`` = (now, before) on the boards."""
        if view.get('uncertain'):
            self.counts['uncertain'] += 1
            if value is not None:
                self.problem(where, f'uncertain ({view["uncertain"]}) but reports a value {value!r}')
            return
        truth_now, truth_before = truth
        if value is None and view.get('readable') is False and not view['changed']:
            self.counts['unreadable and not set: reported unknown (None)'] += 1
            return
        self.counts['items checked'] += 1
        if truth_now is not None and value != truth_now:
            if key in self.restarted and key in self.named and not RESTART_NAMED.search(self.result['msg']):
                # The board restarted, then every read of it failed (5 transient errors in a row): the run fails naming
                # the board, but nothing it read could show the restart, so it cannot doubt what it set before.
                self.counts['restart hidden behind a bus failure that names the board (undetectable)'] += 1
            else:
                self.problem(where, f'reports {value!r}, the board holds {truth_now!r}')
        if key in self.restarted:
            self.counts['items of a restarted board'] += 1
            return
        if truth_before is not None and old is not None and old != truth_before:
            self.problem(where, f'reports previous {old!r}, the board held {truth_before!r}')
        if not action and truth_now is not None and truth_before is not None and view['changed'] is not (truth_now != truth_before):
            self.problem(where, f'changed {view["changed"]} but the board went from {truth_before!r} to {truth_now!r}')

    def pi(self, where, view, setting):
        key = (self.board(view['controller']), view['pi'])
        now = self.after['pis'].get(key, {}).get(setting)
        old = self.before['pis'].get(key, {}).get(setting)
        self.compare(where, key[0], (where.split()[-1], setting) in self.actions, view, view[setting], view['previous'], (now, old))

    def setting(self, where, target, key, name, view, value):
        """A board setting (board module, cluster settings) or the ClusterHAT set-up."""
        now_board, old_board = self.after['boards'].get(key, {}), self.before['boards'].get(key, {})
        if name == 'setup':
            self.compare(
                where,
                key,
                False,
                view,
                value,
                view['previous'],
                ('done' if now_board['initialized'] else 'needed', 'done' if old_board['initialized'] else 'needed'),
            )
            return
        if name == 'reset':
            if value is True and not view.get('uncertain') and now_board['boot_count'] <= old_board['boot_count']:
                self.problem(where, 'reports a reset the board did not make')
            return
        if name == 'hub' and (key != 'hat' or value == 'cycled'):
            return  # a cycle leaves the hub as it was: nothing to compare
        if name == 'leds' and value == 'on' and old_board.get('gpio') == 'D':
            return  # Single / pHAT firmware ignores enabling the LED of a Pi that is off (spec §3)
        if key == 'hat' and not now_board['initialized'] and KNOWN_BUGS['hat_settings_without_set_up']:
            # ENGINE BUG (test_issue9_regressions.test_engine_bug_hat_settings_reported_as_set_up_when_the_run_failed_before_its_set_up):
            # the run failed before the HAT's set-up; the value reported is what the set-up would have made it.
            self.counts['skipped: known engine bug, HAT setting reported from a set-up that did not run'] += 1
            return
        if name == 'order':
            now, old = now_board.get('order'), old_board.get('order')
        else:
            now, old = _word(now_board.get(name)), _word(old_board.get(name))
        self.compare(where, key, (target, 'value') in self.actions, view, value, view['previous'], (now, old))

    def image(self, where, controller, view):
        """A saved image (clusterctrl_eeprom, clusterctrl_cluster save): what it says is saved, the EEPROM holds."""
        key = self.board(controller)
        if view.get('uncertain'):
            self.counts['uncertain'] += 1
            return
        self.counts['images checked'] += 1
        for label, image, truth in (('image', view['image'], self.after), ('previous', view['previous'], self.before)):
            if label == 'previous' and key in self.restarted:
                continue
            holds = eeprom_image(truth['boards'][key])
            for name, value in (image or {}).items():
                if name in holds and value not in ('unknown', None) and value != holds[name]:
                    self.problem(where, f'{label} says {name} {value!r} is saved, the EEPROM holds {holds[name]!r}')
                if (
                    name == 'leds'
                    and isinstance(value, dict)
                    and value.get('power_led') is not None
                    and value['power_led'] != _word(truth['boards'][key]['eeprom'][0x02] == 0x01)
                ):
                    self.problem(where, f'{label} says the PWR LED {value["power_led"]} is saved, the EEPROM differs')

    def check(self):
        result = self.result
        for group in ('pis', 'power', 'usbboot'):
            for name, view in (result.get(group) or {}).items():
                self.pi(f'{group} {name}', view, 'usbboot' if group == 'usbboot' or (group == 'pis' and 'usbboot' in view) else 'power')
        for name, view in (result.get('boards') or {}).items():
            self.setting(f'boards {name}', name, 'hat', 'setup', view, view['setup'])
        for name, view in (result.get('settings') or {}).items():
            if self.module == 'board':
                key, setting = self.board(self.args['controller']), name
            else:
                prefix, setting = name.split('.', 1)
                key = self.board(prefix)
            self.setting(f'settings {name}', name, key, setting, view, view['value'])
        for name, view in (result.get('saved') or {}).items():
            self.image(f'saved {name}', view['controller'], view)
        for view in result.get('controllers') or []:
            where = f'controllers {view["controller"]}'
            if 'requested' in view:
                key = self.board(view['controller'])
                now, old = self.after['boards'][key]['fan'], self.before['boards'][key]['fan']
                # every board's fan step is named 'fan': whether it is an action, the item's readable field says
                self.compare(where, key, not view['readable'], view, view['requested'], view['previous'], (now, old))
            elif 'image' in view:
                self.image(where, view['controller'], view)
