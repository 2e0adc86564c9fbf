#!/usr/bin/python
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: clusterctrl_board
short_description: Set a ClusterCTRL board's or ClusterHAT's order, LEDs, hub and write-protect; reset it
version_added: 0.1.0
description:
  - Sets board-wide settings of one ClusterCTRL board or of the ClusterHAT.
  - Settings the board can report are read first and sent only when they differ - a ClusterCTRL's
    O(order); a ClusterHAT's O(alert), O(hub), O(wp) and O(leds) (v2), which its I/O expander reads back.
  - A ClusterCTRL's firmware cannot report its LEDs (ALERT, PWR, per-Pi, ACT) at all,
    so those settings are sent every time they are given and reported as a change.
  - O(hub=cycled) and O(reset=true) are actions (always a change). After either, a ClusterCTRL board
    drops off USB and comes back; O(hub=cycled) runs after every other setting of the task, and O(reset=true)
    cannot be combined with other settings (the board restarts from its EEPROM, so they would be lost).
  - Every setting is checked against what the board has before anything is sent.
  - A ClusterHAT that was never set up since it powered up gets the official CLI's first-run
    set-up before its first write, and whenever one of its settings is declared (until then its pins are
    inputs that hold no setting); the result reports it under RV(boards) as C(setup).
    On such a HAT with an XRA1200P, whether the write-protect solder link is fitted can only be
    found by that set-up, so O(wp=off) may be refused after the set-up ran (reported as a change);
    once set up, the refusal comes before anything is written, in check mode too.
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
      - O(order) and the ClusterHAT's settings are idempotent. The ClusterCTRL LED settings cannot be read
        back and are sent every run; O(hub=cycled) and O(reset) are actions.
options:
  controller:
    description:
      - The board - its order (V(1) to V(255)), or V(hat) for the ClusterHAT. Or name it by O(usb_path) or O(bus),
        which works also while two boards share an order.
      - One of O(controller), O(usb_path), O(bus) and O(assign_orders) is required.
    type: str
  assign_orders:
    description:
      - Give every ClusterCTRL board still at the factory order 20 an order of its own - the lowest orders from V(1)
        that no other board has, in ascending USB path (I2C bus where the USB path is unknown). The way to start
        with several new boards, which all leave the factory with order 20.
      - Deterministic and idempotent - once no board is at order 20, it changes nothing; check mode predicts it.
      - Mutually exclusive with naming a board and with every other setting but O(save_order).
    type: bool
    default: false
  save_order:
    description:
      - Also save the new order to the board's EEPROM (C(SAVEORDER)), so that it survives a reset or power cut -
        written only when the EEPROM record (O(record)) says the saved order would change.
    type: bool
    default: false
  record:
    description:
      - The EEPROM record file, as in M(picluster.clusterctrl.clusterctrl_eeprom), used with O(save_order).
    type: path
  order:
    description:
      - New order of a ClusterCTRL board (V(1) to V(255)). Refused if another board has it, since the
        official CLI refuses to run with duplicate orders.
      - It takes effect at once but is lost at the next reset unless saved with
        M(picluster.clusterctrl.clusterctrl_eeprom) and O(picluster.clusterctrl.clusterctrl_eeprom#module:save=order).
      - Pi numbers follow the new order from the next task on.
    type: int
  alert:
    description: The ALERT LED. The ClusterCTRL Stack has none.
    type: str
    choices: ['on', 'off']
  power_led:
    description: The PWR LED of a ClusterCTRL board.
    type: str
    choices: ['on', 'off']
  leds:
    description:
      - The per-Pi LEDs of a ClusterCTRL board (each Pi's LED lights while it is powered), or the LED
        of a ClusterHAT v2. The Stack, the DA and ClusterHAT v3 have no LEDs to control.
      - On the Single and pHAT the firmware ignores enabling the LED of a Pi that is off.
    type: str
    choices: ['on', 'off']
  act_led:
    description: The ACT LED of a ClusterCTRL A+6 (firmware 1.8 or later).
    type: str
    choices: ['on', 'off']
  hub:
    description:
      - The USB hub. V(cycled) switches it off for about 133 ms and on again (ClusterCTRL HUB_CYCLE,
        or off and on again on a ClusterHAT). A ClusterHAT's hub can also be set V(on) or V(off);
        ClusterCTRL firmware has no such command.
      - The Stack and the DA have no hub to cycle.
    type: str
    choices: ['on', 'off', cycled]
  wp:
    description: The ClusterHAT's EEPROM write-protect. It cannot be switched off while its solder link is fitted.
    type: str
    choices: ['on', 'off']
  reset:
    description:
      - Restart the ClusterCTRL board's microcontroller (RESET). RAM is rebuilt from the EEPROM, so Pis
        whose power state was not saved switch off. The board drops off USB and re-enumerates.
    type: bool
    default: false
author:
  - picluster.clusterctrl contributors (@picluster)
seealso:
  - module: picluster.clusterctrl.clusterctrl_eeprom
"""

EXAMPLES = r"""
- name: Every new board (all leave the factory with order 20) gets its own order, kept across power cuts
  picluster.clusterctrl.clusterctrl_board:
    assign_orders: true
    save_order: true

- name: Give the board at USB path 1-1.3 order 2
  picluster.clusterctrl.clusterctrl_board:
    usb_path: 1-1.3
    order: 2
    save_order: true

- name: Signal maintenance on the ClusterHAT
  picluster.clusterctrl.clusterctrl_board:
    controller: hat
    alert: 'on'

- name: Cycle the USB hub of board 1
  picluster.clusterctrl.clusterctrl_board:
    controller: 1
    hub: cycled
"""

RETURN = r"""
controller:
  description: The board acted on (its order, or V(hat)); after an order change, the new order.
  returned: always
  type: raw
orders:
  description: With O(assign_orders), per board at the factory order (by USB path, or bus), its new order.
  returned: always
  type: dict
  sample:
    1-1.2: {value: 1, previous: 20, readable: true, changed: true}
saved:
  description: With O(save_order), per board, what was saved (C(written), C(unchanged), C(image), C(changed)).
  returned: always
  type: list
  elements: dict
settings:
  description: Per setting given, its requested value, the value read before (null where the board cannot report it), and whether it was sent.
  returned: always
  type: dict
  sample:
    order: {value: 3, previous: 20, readable: true, changed: true}
    alert: {value: 'on', previous: null, readable: false, changed: true}
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
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import NotSupportedError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import FACTORY_ORDER
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.board_settings import BoardPlanner, check_settings
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.eeprom_save import open_record, save_boards
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.run import run

SETTINGS = ('order', 'alert', 'power_led', 'leds', 'act_led', 'hub', 'wp', 'reset')


def assign_orders(cluster, plan):
    """Plan an order of its own for every board at the factory order: lowest free first, by USB path (or bus)."""
    new = sorted((b for b in cluster.boards if not b.is_hat and b.order == FACTORY_ORDER), key=lambda b: (b.usb_path or '', str(b.bus)))
    taken = {b.order for b in cluster.boards if not b.is_hat and b not in new}
    free = (n for n in range(1, 256) if n not in taken and n != FACTORY_ORDER)
    boards = []
    for board in new:
        order = next(free, None)
        if order is None:
            raise NotSupportedError('no free order is left for the boards at the factory order')
        BoardPlanner(plan, board, group='orders').order(order, label=str(board.usb_path or board.bus))
        boards.append(board)
    return boards


def main():
    switch = dict(type='str', choices=['on', 'off'])
    module = AnsibleModule(
        argument_spec=clusterctrl_argument_spec(
            order=dict(type='int'),
            alert=switch,
            power_led=switch,
            leds=switch,
            act_led=switch,
            hub=dict(type='str', choices=['on', 'off', 'cycled']),
            wp=switch,
            reset=dict(type='bool', default=False),
            assign_orders=dict(type='bool', default=False),
            save_order=dict(type='bool', default=False),
            record=dict(type='path'),
            **BOARD_ARGUMENT_SPEC,
        ),
        mutually_exclusive=MUTUALLY_EXCLUSIVE + BOARD_EXCLUSIVE + [('assign_orders', name) for name in ('controller', 'usb_path', 'bus') + SETTINGS],
        supports_check_mode=True,
    )
    params = module.params
    if not params['assign_orders'] and all(params[name] is None for name in ('controller', 'usb_path', 'bus')):
        module.fail_json(msg='missing required arguments: controller (or usb_path, bus, or assign_orders=true)')
    settings = {name: params[name] for name in SETTINGS}
    if settings['hub'] == 'cycled' and settings['reset']:
        module.fail_json(msg='hub=cycled and reset=true both make the board drop off USB; use two tasks')
    if params['save_order'] and params['order'] is None and not params['assign_orders']:
        module.fail_json(msg='save_order saves a new order: give order (or assign_orders)')

    def build(cluster, plan):
        if params['assign_orders']:
            boards = assign_orders(cluster, plan)
        else:
            board = named_board(cluster, params)
            check_settings(board, cluster, settings)
            BoardPlanner(plan, board, warn=module.warn).settings(settings)
            order = plan.expected(board, 'order')
            plan.extra['controller'] = 'hat' if board.is_hat else (order if order is not None else board.order)
            boards = [board]
        if params['save_order']:
            record = open_record(plan, cluster, params['record'], module.check_mode)
            save_boards(plan, record, boards, ['order'], group='saved')

    run(module, build, groups=('settings', 'orders', 'saved'), listed=('saved',))


if __name__ == '__main__':
    main()
