# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: plan the Pis' power and USB boot. Not a public API.

Used by clusterctrl_power, clusterctrl_usbboot and clusterctrl_cluster alike. Reads are grouped
per board, so a ClusterHAT answers for all its Pis with one read of its expander (spec §7.3).
"""

from __future__ import annotations

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import AddressingError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.plan import Item, Plan, Step, onoff


def _by_board(addrs):
    groups = {}
    for addr in addrs:
        groups.setdefault(id(addr.board), (addr.board, []))[1].append(addr)
    return list(groups.values())


def _pi_item(plan, group, addr, setting, before, path):
    return plan.add_item(
        group,
        Item(
            name=addr.name,
            setting=setting,
            before=before,
            fields=dict(controller=addr.board.controller_id, pi=addr.slot),
            fact=(id(addr.board), setting, addr.slot),
            show=onoff,
            diff_path=path(addr.name) if path else None,
        ),
    )


def read_power(plan: Plan, addrs, group='pis', path=None) -> list:
    """An item per Pi with its power state: on a ClusterHAT not yet set up, the state its set-up gives (the POS link)."""
    items = {}
    for board, pis in _by_board(addrs):
        if board.is_hat:
            power = board.driver.effective_state().power
            states = {addr.slot: power[addr.slot - 1] for addr in pis}
        else:
            states = board.driver.power_status_many([addr.slot for addr in pis])
        for addr in pis:
            items[addr.number] = _pi_item(plan, group, addr, 'power', states[addr.slot], path)
    return [items[addr.number] for addr in addrs]


def read_usbboot(plan: Plan, addrs, group='pis', path=None) -> list:
    """An item per Pi with its USB boot state (GET_USTATUS): only Pis of boards with USB boot control."""
    items = []
    for addr in addrs:
        if not addr.board.driver.spec.has_usbboot:
            raise AddressingError(f'USB boot control exists only on the ClusterCTRL Single and Triple; {addr.name} is on {addr.board.name}')
        items.append(_pi_item(plan, group, addr, 'usbboot', addr.board.driver.usbboot_status(addr.slot), path))
    return items


def _board_word(board, slot, on):
    if board.is_hat:
        return f'OUT P{slot} {"on" if on else "off"}'
    return f'{"ON" if on else "OFF"} {slot}'


def power_step(plan: Plan, item: Item, board, on: bool, pause: float = 0.0, action: bool = False) -> Step:
    slot = item.fields['pi']
    driver = board.driver
    return plan.add_step(
        Step(
            item,
            on,
            (lambda: driver.power_on(slot)) if on else (lambda: driver.power_off(slot)),
            [_board_word(board, slot, on)],
            board,
            action=action,
            pause=pause,
            read_back=lambda: driver.power_status(slot),
        )
    )


def plan_power(plan: Plan, items, addrs, state: str, power_on_delay: float, off_time: float = 0.0) -> None:
    """Steps that make ``items`` (from read_power, same order as ``addrs``) ``on``, ``off`` or ``cycled``.

    Every Pi to switch off first, then every Pi to switch on, ``power_on_delay`` seconds apart;
    ``cycled`` switches off the Pis that are on, waits ``off_time``, and switches all of them on:
    an action, so always a change.
    """
    pairs = list(zip(items, addrs))
    offs = [(item, addr) for item, addr in pairs if item.planned and state in ('off', 'cycled')]
    ons = [(item, addr) for item, addr in pairs if state == 'cycled' or (state == 'on' and not item.planned)]
    for item, addr in offs:
        power_step(plan, item, addr.board, False, action=state == 'cycled')
    for index, (item, addr) in enumerate(ons):
        pause = power_on_delay if index else (off_time if offs else 0.0)
        power_step(plan, item, addr.board, True, pause=pause, action=state == 'cycled')


def plan_usbboot(plan: Plan, items, addrs, on: bool) -> None:
    for item, addr in zip(items, addrs):
        if item.planned == on:
            continue
        driver, slot = addr.board.driver, addr.slot
        plan.add_step(
            Step(
                item,
                on,
                (lambda d=driver, s=slot: d.usbboot_on(s)) if on else (lambda d=driver, s=slot: d.usbboot_off(s)),
                [f'USBBOOT_{"EN" if on else "DIS"} {slot}'],
                addr.board,
                read_back=lambda d=driver, s=slot: d.usbboot_status(s),
            )
        )
