#!/usr/bin/python
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: clusterctrl_eeprom
short_description: Persist what ClusterCTRL boards restore at power-up, writing their EEPROM only when needed
version_added: 0.1.0
description:
  - Saves to a ClusterCTRL board's EEPROM what it restores at power-up - the Pis' power state,
    the board's order, its LED settings, the Pis' USB boot state, or all of them - or writes
    the factory defaults.
  - The firmware cannot read its EEPROM back, and EEPROM cells wear out after about 100,000
    writes. So the module keeps a record, on the managed node, of what it last saved per
    board (identified by board type and USB path, or order when the USB path is unknown), and
    sends a save only when the image it would write differs from the record; the task
    reports a change exactly then.
  - "What can be known: the order, the Pis' power states and their USB boot states are read
    from the board, so saving them is idempotent. The LED enables (PWR, ACT, per-Pi) cannot be
    read back at all, so saving V(leds) always writes and reports a change."
  - "What cannot be known: a save made by other means (the official CLI, another controller, a
    deleted record) is not in the record; the next save of that item writes again, or use
    O(force=true)."
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
      - Saving V(order), V(power) and V(usbboot), and O(factory_reset), are idempotent. V(leds) cannot be
        read back and is written every run, as is everything with O(force=true).
options:
  controller:
    description:
      - Order of the board. Without it (and without O(usb_path) or O(bus)), every ClusterCTRL board.
        The ClusterHAT has no settings EEPROM.
    type: str
  save:
    description:
      - What to persist. V(all) is what the firmware's SAVE writes (V(usbboot) only on the Single and
        Triple; V(power) not on the DA, which never restores it).
      - Mutually exclusive with O(factory_reset).
    type: list
    elements: str
    choices: [power, order, leds, usbboot, all]
  factory_reset:
    description:
      - Write the factory image (order 20, LEDs on, no Pi powered at start-up, USB boot enabled).
        The board keeps running with its current settings until its next reset or power-up.
    type: bool
    default: false
  force:
    description: Write even when the record says the EEPROM already holds this image.
    type: bool
    default: false
  record:
    description:
      - File on the managed node where the module records what it saved.
      - Default V(/var/lib/picluster/clusterctrl-eeprom.json); with O(virtual_lab), a file beside the lab's state.
    type: path
author:
  - picluster.clusterctrl contributors (@picluster)
seealso:
  - module: picluster.clusterctrl.clusterctrl_power
  - module: picluster.clusterctrl.clusterctrl_board
"""

EXAMPLES = r"""
- name: The running Pis come back on after a power cut
  picluster.clusterctrl.clusterctrl_eeprom:
    save: [power]

- name: Keep a new order of board 3
  picluster.clusterctrl.clusterctrl_eeprom:
    controller: 3
    save: [order]

- name: Back to factory settings at the next power-up
  picluster.clusterctrl.clusterctrl_eeprom:
    controller: 2
    factory_reset: true
"""

RETURN = r"""
controllers:
  description: One entry per board.
  returned: always
  type: list
  elements: dict
  contains:
    controller:
      description: Order of the board.
      type: int
      returned: always
    key:
      description: How the record identifies the board.
      type: str
      returned: always
    written:
      description: Items saved by this run (in check mode, items that would be); V(factory) for a factory reset.
      type: list
      elements: str
      returned: always
    unchanged:
      description: Items whose saved image already matched the record, so nothing was written.
      type: list
      elements: str
      returned: always
    image:
      description:
        - What the EEPROM holds per item as far as the record knows, after the task (in check mode, after the saves it
          would make). Power and USB boot are lists per Pi; LEDs are V(unknown), as is an item whose save may or may not
          have reached the board (the next run saves it again).
      type: dict
      returned: always
    changed:
      description: Whether the board's EEPROM was (or would be) written.
      type: bool
      returned: always
record:
  description: Path of the record file.
  returned: always
  type: str
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
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.eeprom import items_for
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import AddressingError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.eeprom_save import open_record, save_boards
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.run import run


def target_boards(cluster, board):
    if board is not None:
        if board.is_hat:
            raise AddressingError('the ClusterHAT has no settings EEPROM: it starts from its solder links (POS, WP)')
        return [board]
    cluster.require_distinct_orders()
    boards = [b for b in cluster.boards if not b.is_hat]
    if not boards:
        raise AddressingError('this cluster has no ClusterCTRL board')
    return boards


def check_items(boards, save):
    """Every board can save every item asked for: checked for all boards before anything is written."""
    for board in boards:
        try:
            items_for(board.driver, save)
        except ValueError as exc:
            raise AddressingError(f'{board.name}: {exc}') from exc


def main():
    module = AnsibleModule(
        argument_spec=clusterctrl_argument_spec(
            save=dict(type='list', elements='str', choices=['power', 'order', 'leds', 'usbboot', 'all']),
            factory_reset=dict(type='bool', default=False),
            force=dict(type='bool', default=False),
            record=dict(type='path'),
            **BOARD_ARGUMENT_SPEC,
        ),
        mutually_exclusive=MUTUALLY_EXCLUSIVE + BOARD_EXCLUSIVE + [('save', 'factory_reset')],
        supports_check_mode=True,
    )
    params = module.params
    if not params['save'] and not params['factory_reset']:
        module.fail_json(msg='nothing to do: give save (a list of power, order, leds, usbboot, all) or factory_reset=true')

    def build(cluster, plan):
        boards = target_boards(cluster, named_board(cluster, params))
        if not params['factory_reset']:
            check_items(boards, params['save'])
        record = open_record(plan, cluster, params['record'], module.check_mode)
        save_boards(plan, record, boards, params['save'], force=params['force'], factory=params['factory_reset'])

    run(module, build, groups=('controllers',), listed=('controllers',))


if __name__ == '__main__':
    main()
