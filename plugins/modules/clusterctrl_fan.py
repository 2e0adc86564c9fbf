#!/usr/bin/python
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: clusterctrl_fan
short_description: Switch the fan of ClusterCTRL boards on or off
version_added: 0.1.0
description:
  - Declares whether the fan of ClusterCTRL boards runs, and converges to it. The Triple and
    the A+6 have a fan output; the Stack has two fans that also run by themselves while a node
    asks for cooling. Other boards, and the ClusterHAT, have no fan.
  - With firmware 1.6 or later the fan request is read back (GET_DATA FANSTATUS) and a command
    is sent only when it differs. Older firmware cannot report it, so the command is always
    sent and reported as a change; the result says so with RV(controllers[].readable=false).
  - Returns the board temperature too.
extends_documentation_fragment:
  - picluster.clusterctrl.clusterctrl
  - picluster.clusterctrl.clusterctrl.board
  - picluster.clusterctrl.attributes
  - picluster.clusterctrl.attributes.actiongroup_clusterctrl
  - picluster.clusterctrl.attributes.actionable
attributes:
  idempotent:
    support: partial
    details:
      - Idempotent on firmware 1.6 and later; older firmware cannot report the fan, so every run sends the command.
options:
  controller:
    description:
      - Order of the board whose fan to set. Without it (and without O(usb_path) or O(bus)), every board that has a fan.
      - Naming a board without a fan is an error.
    type: str
  state:
    description: Whether the fan runs (V(on)) or not (V(off)). A Stack's fans still run while a node asks for cooling.
    type: str
    choices: ['on', 'off']
    required: true
author:
  - picluster.clusterctrl contributors (@picluster)
seealso:
  - module: picluster.clusterctrl.clusterctrl_info
"""

EXAMPLES = r"""
- name: Run every fan
  picluster.clusterctrl.clusterctrl_fan:
    state: 'on'

- name: Stop the fan of the board with order 2
  picluster.clusterctrl.clusterctrl_fan:
    controller: 2
    state: 'off'
"""

RETURN = r"""
controllers:
  description: One entry per board acted on, in numbering order.
  returned: always
  type: list
  elements: dict
  contains:
    controller:
      description: Order of the board.
      type: int
      returned: always
    product:
      description: Product name.
      type: str
      returned: always
    readable:
      description: Whether the firmware reports the fan request (1.6 or later).
      type: bool
      returned: always
    requested:
      description: The software fan request after the task (in check mode, the request the task would set).
      type: bool
      returned: always
    previous:
      description: The fan request before the task; null when the firmware cannot report it.
      type: bool
      returned: always
    running:
      description: Whether a fan runs (Stack - also while a node asks for cooling); null when not readable.
      type: bool
      returned: always
    cooling_requests:
      description: Stack only - the cooling inputs that ask for cooling (1-5 the Pis, 6 the spare input).
      type: list
      elements: int
      returned: always
    changed:
      description: Whether a command was sent (or would be, in check mode).
      type: bool
      returned: always
    temperature:
      description: Board temperature, raw and in °C (uncalibrated, the official CLI's formula).
      type: dict
      returned: always
steps:
  description: Every planned change - C(target), C(setting), C(before), C(after), C(commands), C(action) and C(status)
    (V(planned) in check mode, V(taken), V(not_taken) or V(uncertain), with C(reason)).
  returned: always
  type: list
  elements: dict
taken:
  description: On failure, the steps that were taken.
  returned: on failure
  type: list
  elements: str
uncertain:
  description: On failure, the steps whose write may or may not have reached a board, with the reason.
  returned: on failure
  type: list
  elements: dict
not_taken:
  description: On failure, the steps that were not sent.
  returned: on failure
  type: list
  elements: str
boards:
  description: A ClusterHAT's first-run set-up (C(setup)), when the task's writes needed it first.
  returned: when a ClusterHAT was set up
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.picluster.clusterctrl.plugins.module_utils._clusterctrl_module import (
    BOARD_ARGUMENT_SPEC,
    BOARD_EXCLUSIVE,
    MUTUALLY_EXCLUSIVE,
    clusterctrl_argument_spec,
    named_board,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import AddressingError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.board_settings import BoardPlanner
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.run import run

NO_FAN = 'only the ClusterCTRL Triple, A+6 and Stack have one'


def fan_boards(cluster, board):
    cluster.require_distinct_orders()
    if board is not None:
        if board.driver.spec.fan == 'none':
            raise AddressingError(f'{board.name} has no fan ({NO_FAN})')
        return [board]
    boards = [b for b in cluster.boards if b.driver.spec.fan != 'none']
    if not boards:
        raise AddressingError(f'no board of this cluster has a fan ({NO_FAN})')
    return boards


def main():
    module = AnsibleModule(
        argument_spec=clusterctrl_argument_spec(state=dict(type='str', required=True, choices=['on', 'off']), **BOARD_ARGUMENT_SPEC),
        mutually_exclusive=MUTUALLY_EXCLUSIVE + BOARD_EXCLUSIVE,
        supports_check_mode=True,
    )

    def build(cluster, plan):
        for board in fan_boards(cluster, named_board(cluster, module.params)):
            temperature = board.driver.read_temperature()
            fields = dict(controller=board.controller_id, product=board.driver.type.product, temperature=dict(raw=temperature.raw, celsius=temperature.celsius))
            planner = BoardPlanner(plan, board, group='controllers', path=lambda name, b=board: (str(b.controller_id),), warn=module.warn)
            planner.fan(module.params['state'], fields=fields, setting='requested', label=f'controller {board.controller_id}')

    run(module, build, groups=('controllers',), listed=('controllers',))


if __name__ == '__main__':
    main()
