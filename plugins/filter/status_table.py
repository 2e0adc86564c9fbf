# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: status_table
short_description: Render clusterctrl_info results as a text table
version_added: 0.1.0
description:
  - Turns the result of M(picluster.clusterctrl.clusterctrl_info) into lines of a table,
    one per board and one per Pi, for C(ansible.builtin.debug) to show.
options:
  _input:
    description: The registered result of M(picluster.clusterctrl.clusterctrl_info).
    type: dict
    required: true
author:
  - picluster.clusterctrl contributors (@picluster)
'''

EXAMPLES = r'''
- name: Read the cluster
  picluster.clusterctrl.clusterctrl_info:
  register: cluster

- name: Show it
  ansible.builtin.debug:
    msg: "{{ cluster | picluster.clusterctrl.status_table }}"
'''

RETURN = r'''
_value:
  description: Lines of the table, boards first, then Pis.
  type: list
  elements: str
'''

from ansible.errors import AnsibleFilterError


def _onoff(value):
    if value is None:
        return '-'
    return 'on' if value else 'off'


def _fan(fan):
    if not fan.get('supported'):
        return '-'
    if not fan.get('readable'):
        return 'n/a'
    return _onoff(fan.get('running'))


def _columns(rows):
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ['  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def status_table(info):
    """Lines of a board table and a Pi table from a clusterctrl_info result."""
    if not isinstance(info, dict) or 'controllers' not in info or 'pis' not in info:
        raise AnsibleFilterError('status_table expects the registered result of picluster.clusterctrl.clusterctrl_info')
    boards = [('BOARD', 'PRODUCT', 'FW', 'BUS', 'PIS', 'TEMP', 'FAN')]
    for board in info['controllers']:
        temp = board.get('temperature')
        boards.append((str(board.get('controller', board['order'])), board['product'], board['firmware'] or '-', str(board['bus']),
                       '%s-p%d' % (board['first_pi'], int(board['first_pi'][1:]) + board['maxpi'] - 1),
                       '%.1f C' % temp['celsius'] if temp else '-', _fan(board['fan'])))
    pis = [('PI', 'BOARD', 'SLOT', 'POWER', 'USBBOOT')]
    for name in sorted(info['pis'], key=lambda n: int(n[1:])):
        pi = info['pis'][name]
        pis.append((name, str(pi['controller']), str(pi['pi']), _onoff(pi['power']), _onoff(pi.get('usbboot'))))
    return _columns(boards) + [''] + _columns(pis)


class FilterModule(object):
    def filters(self):
        return {'status_table': status_table}
