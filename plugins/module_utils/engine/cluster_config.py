# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: clusterctrl_cluster's declaration: its checks, its plan, its resource-module views. Not a public API.

The whole cluster in one plan, built from the same planners as the per-feature modules: Pis
switched off, USB boot, Pis switched on, board settings, EEPROM saves (whose image is the planned
one). ``gathered`` returns the cluster in the shape of ``config``, from the same readers, so that
feeding it back with ``merged`` plans no step.
"""

from __future__ import annotations

import re

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import AddressingError, NotSupportedError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.board_settings import BoardPlanner, check_settings, fan_info
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.eeprom_save import open_record, save_boards
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.pis import plan_power, plan_usbboot, read_power, read_usbboot
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.plan import PLANNED, TAKEN, UNCERTAIN, Plan, onoff

PI_SETTINGS = ('power', 'usbboot')
BOARD_SETTINGS = ('fan', 'alert', 'power_led', 'leds', 'act_led', 'hub', 'wp')
_PI_NAME = re.compile(r'^p0*([1-9][0-9]*)$')
_ORDER = re.compile(r'^0*([1-9][0-9]{0,2})$')
WORDS = {'on': True, 'off': False}


def _word(value, where, errors):
    """'on' / 'off' from a declared state word or boolean; None (and an error) otherwise."""
    if isinstance(value, bool):
        return 'on' if value else 'off'
    if isinstance(value, str) and value.strip().lower() in WORDS:
        return value.strip().lower()
    errors.append(f"{where} must be 'on' or 'off' (quoted in YAML) or a boolean, got {value!r}")
    return None


def _canonical_board(key):
    text = str(key).strip().lower()
    if text in ('hat', 'all'):
        return text
    match = _ORDER.match(text)
    if isinstance(key, bool) or not match or int(match.group(1)) > 255:
        return None
    return str(int(match.group(1)))


def _mapping(value, where, errors):
    if not isinstance(value, dict):
        errors.append(f'{where} must be a mapping, got {type(value).__name__}')
        return {}
    return value


def parse_config(config: dict) -> tuple:
    """Check the declaration's shape and words; return ({'pis': {pN: {...}}, 'boards': {key: {...}}}, errors).

    Names are made canonical (``P01`` is ``p1``, board ``01`` is ``1``); a name declared twice
    under two spellings is an error, as is anything unknown or of the wrong type.
    """
    errors = []
    declared = dict(pis={}, boards={})
    spelled = {}
    for raw, state in _mapping(config.get('pis') or {}, 'config.pis', errors).items():
        match = _PI_NAME.match(str(raw).strip().lower()) if isinstance(raw, str) else None
        if match is None:
            errors.append(f'config.pis: {raw!r} is not a Pi name (p1, p2, ...)')
            continue
        name = f'p{int(match.group(1))}'
        if name in declared['pis']:
            errors.append(f'config.pis declares {name} twice, as {spelled[name]!r} and {raw!r}')
            continue
        spelled[name] = raw
        entry = {}
        for setting, value in _mapping(state, f'config.pis.{raw}', errors).items():
            if setting not in PI_SETTINGS:
                errors.append(f'config.pis.{raw}: unknown setting {setting!r} (expected power, usbboot)')
            elif value is not None:
                entry[setting] = _word(value, f'config.pis.{raw}.{setting}', errors)
        declared['pis'][name] = entry
    spelled = {}
    for raw, settings in _mapping(config.get('boards') or {}, 'config.boards', errors).items():
        key = _canonical_board(raw)
        if key is None:
            errors.append(f'config.boards: {raw!r} is not a board (an order from 1 to 255, hat or all)')
            continue
        if key in declared['boards']:
            errors.append(f'config.boards declares board {key} twice, as {spelled[key]!r} and {raw!r}')
            continue
        spelled[key] = raw
        entry = {}
        for setting, value in _mapping(settings, f'config.boards.{raw}', errors).items():
            if setting not in BOARD_SETTINGS:
                errors.append(f'config.boards.{raw}: unknown setting {setting!r} (expected {", ".join(BOARD_SETTINGS)})')
            elif value is not None:
                entry[setting] = _word(value, f'config.boards.{raw}.{setting}', errors)
        declared['boards'][key] = entry
    return declared, errors


def _board_settings(cluster, declared_boards):
    """[(board, key, settings)] for every board with declared settings; ``all`` applies to the boards that have each setting."""
    common = declared_boards.get('all', {})
    named = {}
    for key, settings in declared_boards.items():
        if key != 'all':
            named[id(cluster.board(key))] = settings
    out = []
    for board in cluster.boards:
        settings = {}
        for setting, value in common.items():
            try:
                check_settings(board, cluster, {setting: value})
            except NotSupportedError:
                continue
            settings[setting] = value
        settings.update(named.get(id(board), {}))
        if settings:
            check_settings(board, cluster, settings)
            out.append((board, str(board.controller_id), settings))
    return out


def _save_items(board, requested):
    """The save items ``board`` has among ``requested`` (power never on a DA, USB boot only on the Single and Triple)."""
    spec = board.driver.spec
    return [
        item for item in requested if item in ('all', 'order', 'leds') or (item == 'power' and spec.gpio != 'E') or (item == 'usbboot' and spec.has_usbboot)
    ]


def build_cluster(module, cluster, plan: Plan, declared: dict) -> None:
    params = module.params
    overridden = params['state'] == 'overridden'
    addrs = {}
    for name in declared['pis']:
        (addr,) = cluster.resolve([name])
        addrs[addr.number] = addr
    boards = _board_settings(cluster, declared['boards'])
    every = {a.number: a for a in cluster.resolve(['all'])} if overridden else {}
    wanted_power, wanted_usbboot = {}, {}
    for number, addr in sorted({**every, **addrs}.items()):
        state = declared['pis'].get(addr.name, {})
        power = state.get('power', 'off' if overridden else None)
        usbboot = state.get('usbboot', 'off' if overridden and addr.board.driver.spec.has_usbboot else None)
        if usbboot is not None and not addr.board.driver.spec.has_usbboot:
            raise AddressingError(f'USB boot control exists only on the ClusterCTRL Single and Triple; {addr.name} is on {addr.board.name}')
        if power is not None:
            wanted_power[number] = power
        if usbboot is not None:
            wanted_usbboot[number] = usbboot
    everything = {**every, **addrs}
    power_addrs = [everything[n] for n in sorted(wanted_power)]
    power_items = read_power(plan, power_addrs, group='power', path=lambda name: ('pis', name, 'power'))
    usbboot_addrs = [everything[n] for n in sorted(wanted_usbboot)]
    usbboot_items = read_usbboot(plan, usbboot_addrs, group='usbboot', path=lambda name: ('pis', name, 'usbboot'))

    def select(items, addresses, wanted, word):
        pairs = [(item, addr) for item, addr in zip(items, addresses) if wanted[addr.number] == word]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    plan_power(plan, *select(power_items, power_addrs, wanted_power, 'off'), 'off', 0.0)
    for word in ('off', 'on'):
        plan_usbboot(plan, *select(usbboot_items, usbboot_addrs, wanted_usbboot, word), word == 'on')
    plan_power(plan, *select(power_items, power_addrs, wanted_power, 'on'), 'on', params['power_on_delay'])
    for board, key, settings in boards:
        BoardPlanner(plan, board, path=lambda name, key=key: ('boards', key, name), warn=module.warn, prefix=f'{key}.').settings(settings)
    if params['save']:
        record = open_record(plan, cluster, params['record'], module.check_mode)
        for board in cluster.boards:
            requested = [] if board.is_hat else _save_items(board, params['save'])
            if requested:
                save_boards(plan, record, [board], requested, unknown_writes=False, group='saved', path=lambda key: ('saved', key))


def gathered(cluster, plan: Plan) -> None:
    """The cluster as it is, in the shape of ``config``, under ``plan.extra['gathered']``; nothing is planned."""
    scratch = Plan()
    addrs = cluster.resolve(['all'])
    pis = {}
    for item in read_power(scratch, addrs):
        pis[item.name] = dict(power=onoff(item.before))
    for item in read_usbboot(scratch, [a for a in addrs if a.board.driver.spec.has_usbboot]):
        pis[item.name]['usbboot'] = onoff(item.before)
    boards = {}
    for board in cluster.boards:
        settings = {}
        if board.is_hat:
            state = board.driver.read_state()
            if state.initialized:  # before its first-run set-up a HAT's pins are inputs: no setting to gather
                settings.update(alert=onoff(state.alert), hub=onoff(state.hub), wp=onoff(state.wp))
                if state.led is not None:
                    settings['leds'] = onoff(state.led)
        elif board.driver.spec.fan != 'none':
            info = fan_info(board.driver)
            if info['readable']:
                settings['fan'] = onoff(info['requested'])
        if settings:
            boards[str(board.controller_id)] = settings
    plan.extra['gathered'] = dict(pis=pis, boards=boards)


def resource_views(plan: Plan, out: dict) -> None:
    """``before`` / ``after`` in the shape of ``config``, and the ``commands`` sent (or that would be)."""
    before, after = dict(pis={}, boards={}), dict(pis={}, boards={})
    for group in ('power', 'usbboot', 'settings'):
        for item in plan.groups.get(group, []):
            top, key, setting = item.path
            before[top].setdefault(key, {})[setting] = item.show(item.before)
            after[top].setdefault(key, {})[setting] = item.show(item.after)
    out.update(before=before, after=after, commands=[command for step in plan.steps if step.status in (PLANNED, TAKEN, UNCERTAIN) for command in step.commands])
