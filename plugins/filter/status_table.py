# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: status_table
short_description: Render clusterctrl_info results as a text table
version_added: 0.1.0
description:
  - Turns the result of M(picluster.clusterctrl.clusterctrl_info) into lines of a table,
    one per board and one per Pi, for C(ansible.builtin.debug) to show.
  - Anything else (a failed or skipped task's result, a dictionary with missing keys or values of
    the wrong type) fails with an error that names the first wrong key.
options:
  _input:
    description: The registered result of M(picluster.clusterctrl.clusterctrl_info).
    type: dict
    required: true
author:
  - picluster.clusterctrl contributors (@picluster)
"""

EXAMPLES = r"""
- name: Read the cluster
  picluster.clusterctrl.clusterctrl_info:
  register: cluster

- name: Show it
  ansible.builtin.debug:
    msg: "{{ cluster | picluster.clusterctrl.status_table }}"
"""

RETURN = r"""
_value:
  description: Lines of the table, boards first, then Pis.
  type: list
  elements: str
"""

import re
from collections.abc import Mapping, Sequence
from typing import NoReturn

from ansible.errors import AnsibleFilterError

EXPECTED = 'status_table expects the registered result of picluster.clusterctrl.clusterctrl_info'
_PI_NAME = re.compile(r'^p[0-9]+$')
_MISSING = object()


def _fail(where: str, what: str, value=_MISSING) -> NoReturn:
    got = 'it is missing' if value is _MISSING else f'got {_describe(value)}'
    raise AnsibleFilterError(f'{EXPECTED}: {where} must be {what}, {got}')


def _get(mapping: Mapping, key: str, where: str, what: str):
    path = f'{where}.{key}' if where else key
    if key not in mapping:
        _fail(path, what)
    return mapping[key]


def _mapping(value, where: str) -> Mapping:
    if not isinstance(value, Mapping):
        _fail(where, 'a dictionary', value)
    return value


def _sequence(value, where: str) -> Sequence:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        _fail(where, 'a list', value)
    return value


def _string(value, where: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        _fail(where, 'a string or null' if optional else 'a string', value)
    return value


def _integer(value, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _fail(where, f'an integer of at least {minimum}', value)
    return value


def _flag(value, where: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        _fail(where, 'true, false or null', value)
    return value


def _label(value, where: str) -> str:
    """A board's name (its order or "hat") or a bus: an integer or a string."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        _fail(where, 'an integer or a string', value)
    return str(value)


def _pi_number(value, where: str) -> int:
    if not isinstance(value, str) or not _PI_NAME.match(value):
        _fail(where, 'a Pi name like p1', value)
    return int(value[1:])


def _describe(value) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + '...'
    return f'{type(value).__name__} {text}'


def _onoff(value: bool | None) -> str:
    if value is None:
        return '-'
    return 'on' if value else 'off'


def _fan(fan: Mapping, where: str) -> str:
    if not _flag(fan.get('supported'), f'{where}.supported'):
        return '-'
    if not _flag(fan.get('readable'), f'{where}.readable'):
        return 'n/a'
    return _onoff(_flag(fan.get('running'), f'{where}.running'))


def _temperature(temp, where: str) -> str:
    if temp is None:
        return '-'
    celsius = _get(_mapping(temp, where), 'celsius', where, 'a number')
    if isinstance(celsius, bool) or not isinstance(celsius, (int, float)):
        _fail(f'{where}.celsius', 'a number', celsius)
    return f'{celsius:.1f} C'


def _board_row(board, where: str) -> tuple[str, ...]:
    board = _mapping(board, where)
    name = board.get('controller', board.get('order', _MISSING))
    if name is _MISSING:
        _fail(f'{where}.controller', 'an integer or a string')
    first_pi = _get(board, 'first_pi', where, 'a Pi name like p1')
    first = _pi_number(first_pi, f'{where}.first_pi')
    maxpi = _integer(_get(board, 'maxpi', where, 'an integer'), f'{where}.maxpi')
    return (
        _label(name, f'{where}.controller'),
        _string(_get(board, 'product', where, 'a string'), f'{where}.product'),
        _string(_get(board, 'firmware', where, 'a string or null'), f'{where}.firmware', optional=True) or '-',
        _label(_get(board, 'bus', where, 'an integer or a string'), f'{where}.bus'),
        f'{first_pi}-p{first + maxpi - 1}',
        _temperature(_get(board, 'temperature', where, 'a dictionary or null'), f'{where}.temperature'),
        _fan(_mapping(_get(board, 'fan', where, 'a dictionary'), f'{where}.fan'), f'{where}.fan'),
    )


def _pi_row(name: str, pi, where: str) -> tuple[str, ...]:
    pi = _mapping(pi, where)
    return (
        name,
        _label(_get(pi, 'controller', where, 'an integer or a string'), f'{where}.controller'),
        str(_integer(_get(pi, 'pi', where, 'an integer'), f'{where}.pi', minimum=1)),
        _onoff(_flag(_get(pi, 'power', where, 'true, false or null'), f'{where}.power')),
        _onoff(_flag(pi.get('usbboot'), f'{where}.usbboot')),
    )


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ['  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def status_table(info) -> list[str]:
    """Lines of a board table and a Pi table from a clusterctrl_info result."""
    if isinstance(info, Mapping) and info.get('failed'):
        raise AnsibleFilterError(f'{EXPECTED}, but the task failed: {info.get("msg", "no message")}')
    if isinstance(info, Mapping) and info.get('skipped'):
        raise AnsibleFilterError(f'{EXPECTED}, but the task was skipped')
    info = _mapping(info, 'the input')
    controllers = _sequence(_get(info, 'controllers', '', 'a list'), 'controllers')
    pis = _mapping(_get(info, 'pis', '', 'a dictionary'), 'pis')
    boards = [('BOARD', 'PRODUCT', 'FW', 'BUS', 'PIS', 'TEMP', 'FAN')]
    boards.extend(_board_row(board, f'controllers[{index}]') for index, board in enumerate(controllers))
    numbered = sorted((_pi_number(name, f'pis key {name!r}'), name) for name in pis)
    rows = [('PI', 'BOARD', 'SLOT', 'POWER', 'USBBOOT')]
    rows.extend(_pi_row(name, pis[name], f'pis.{name}') for _number, name in numbered)
    return _columns(boards) + [''] + _columns(rows)


class FilterModule:
    def filters(self):
        return {'status_table': status_table}
