#!/usr/bin/python
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: clusterctrl_usbboot
short_description: Enable or disable USB boot of Pis on ClusterCTRL Single and Triple boards
version_added: 0.1.0
description:
  - Declares whether the named Pis boot from USB (the ClusterCTRL drives their USBBOOT pin), and
    converges to it. Only the ClusterCTRL Single and Triple have USB boot control.
  - Reads each Pi's USB boot state (GET_USTATUS) first and sends a command only where it differs.
  - The setting lives in the board's RAM; persist it across power cuts with
    M(picluster.clusterctrl.clusterctrl_eeprom) and O(picluster.clusterctrl.clusterctrl_eeprom#module:save=usbboot).
extends_documentation_fragment:
  - picluster.clusterctrl.clusterctrl
  - picluster.clusterctrl.clusterctrl.pis
  - picluster.clusterctrl.clusterctrl.board
  - picluster.clusterctrl.attributes
  - picluster.clusterctrl.attributes.actiongroup_clusterctrl
  - picluster.clusterctrl.attributes.actionable
attributes:
  idempotent:
    support: full
options:
  state:
    description:
      - V(on) enables USB boot of O(pis), V(off) disables it.
      - With O(pis=all), every Pi of the boards that have USB boot control; naming a Pi of any other
        board is an error.
    type: str
    choices: ['on', 'off']
    default: 'on'
author:
  - picluster.clusterctrl contributors (@picluster)
seealso:
  - module: picluster.clusterctrl.clusterctrl_eeprom
  - module: picluster.clusterctrl.clusterctrl_info
"""

EXAMPLES = r"""
- name: Let p1 and p2 boot from USB
  picluster.clusterctrl.clusterctrl_usbboot:
    pis: [p1, p2]
    state: 'on'

- name: Disable USB boot on every board that has it, and keep it after a power cut
  block:
    - name: Disable USB boot
      picluster.clusterctrl.clusterctrl_usbboot:
        pis: all
        state: 'off'
    - name: Save it
      picluster.clusterctrl.clusterctrl_eeprom:
        save: [usbboot]
"""

RETURN = r"""
pis:
  description: Per named Pi (global name as key), its place and USB boot state.
  returned: always
  type: dict
  sample:
    p1: {controller: 1, pi: 1, usbboot: true, previous: false, changed: true}
  contains:
    controller:
      description: Order of the Pi's board.
      type: int
      returned: always
    pi:
      description: Slot of the Pi on its board.
      type: int
      returned: always
    usbboot:
      description: USB boot state after the task (in check mode, the state the task would set).
      type: bool
      returned: always
    previous:
      description: USB boot state before the task.
      type: bool
      returned: always
    changed:
      description: Whether a command was sent (or would be, in check mode) for this Pi.
      type: bool
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
    BOARD_EXCLUSIVE,
    MUTUALLY_EXCLUSIVE,
    PIS_ARGUMENT_SPEC,
    clusterctrl_argument_spec,
    named_board,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import AddressingError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.pis import plan_usbboot, read_usbboot
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.run import run


def usbboot_targets(cluster, pis, board):
    """Resolve the Pis: named ones must be on a board with USB boot; ``all`` keeps only such boards."""
    if not pis:
        raise AddressingError('no Pis named: give "all", global names like p5, or slots with controller')
    named = [p for p in pis if str(p).strip().lower() != 'all']
    targets = {a.number: a for a in cluster.resolve(named, board=board)} if named else {}
    unsupported = [a for a in targets.values() if not a.board.driver.spec.has_usbboot]
    if unsupported:
        raise AddressingError(
            'USB boot control exists only on the ClusterCTRL Single and Triple; ' + '; '.join(f'{a.name} is on {a.board.name}' for a in unsupported)
        )
    if len(named) < len(pis):
        capable = [a for a in cluster.resolve(['all'], board=board) if a.board.driver.spec.has_usbboot]
        if not capable:
            raise AddressingError('no board named has USB boot control (only the ClusterCTRL Single and Triple have it)')
        targets.update((a.number, a) for a in capable)
    return [targets[n] for n in sorted(targets)]


def main():
    module = AnsibleModule(
        argument_spec=clusterctrl_argument_spec(state=dict(type='str', default='on', choices=['on', 'off']), **PIS_ARGUMENT_SPEC),
        mutually_exclusive=MUTUALLY_EXCLUSIVE + BOARD_EXCLUSIVE,
        supports_check_mode=True,
    )
    params = module.params

    def build(cluster, plan):
        addrs = usbboot_targets(cluster, params['pis'], named_board(cluster, params))
        plan_usbboot(plan, read_usbboot(plan, addrs), addrs, params['state'] == 'on')

    run(module, build)


if __name__ == '__main__':
    main()
