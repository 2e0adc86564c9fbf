#!/usr/bin/python
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: clusterctrl_power
short_description: Power Raspberry Pis of ClusterCTRL boards on or off
version_added: 0.1.0
description:
  - Declares which Pis of ClusterCTRL boards are powered, and converges to it.
  - Reads each named Pi's power state first and sends a command only to the Pis whose
    state differs, so the task reports a change only when a command was sent.
  - Replaces tasks that run the official C(clusterctrl on) command, which always report a
    change and do nothing in check mode.
extends_documentation_fragment:
  - picluster.clusterctrl.clusterctrl
  - picluster.clusterctrl.clusterctrl.pis
  - picluster.clusterctrl.clusterctrl.board
  - picluster.clusterctrl.attributes
  - picluster.clusterctrl.attributes.actiongroup_clusterctrl
  - picluster.clusterctrl.attributes.actionable
attributes:
  idempotent:
    support: partial
    details:
      - O(state=cycled) is an action and always reports a change.
options:
  state:
    description:
      - V(on) and V(off) declare the power state of O(pis).
      - V(cycled) switches the Pis off, waits O(off_time), then switches them on again
        (one after another, O(power_on_delay) apart). It always reports a change.
    type: str
    choices: ['on', 'off', cycled]
    default: 'on'
  power_on_delay:
    description:
      - Seconds to wait between two successive power-ons, to limit the inrush current on
        the boards' supply. The official CLI waits 1 second. V(0) powers on at once.
      - At most 3600 seconds.
    type: float
    default: 1.0
  off_time:
    description:
      - With O(state=cycled), seconds the Pis stay off before they are switched on again, at most 3600.
    type: float
    default: 3.0
author:
  - picluster.clusterctrl contributors (@picluster)
seealso:
  - module: picluster.clusterctrl.clusterctrl_info
"""

EXAMPLES = r"""
- name: Power on p1 to p3, one second apart (the default)
  picluster.clusterctrl.clusterctrl_power:
    pis: [p1, p2, p3]
    state: 'on'

- name: Power off Pis 2 and 3 of the board with order 2
  picluster.clusterctrl.clusterctrl_power:
    controller: 2
    pis: [2, 3]
    state: 'off'

- name: Power cycle a hung node
  picluster.clusterctrl.clusterctrl_power:
    pis: [p5]
    state: cycled
    off_time: 5

- name: Try a playbook on a virtual lab instead of hardware
  picluster.clusterctrl.clusterctrl_power:
    virtual_lab: /etc/picluster/lab.yml
    pis: all
    state: 'on'
    power_on_delay: 0
"""

RETURN = r"""
pis:
  description:
    - Per named Pi (global name as key), its place and power state.
    - On failure midway, the Pis handled before the failure, so that what was changed is known.
  returned: always
  type: dict
  sample:
    p2: {controller: 1, pi: 2, power: true, previous: false, changed: true}
  contains:
    controller:
      description: Order of the board the Pi is on, or V(hat) for the ClusterHAT.
      type: raw
      returned: always
    pi:
      description: Slot of the Pi on its board (1-based).
      type: int
      returned: always
    power:
      description: Power state after the task (in check mode, the state the task would set); null when uncertain.
      type: bool
      returned: always
    previous:
      description: Power state before the task.
      type: bool
      returned: always
    changed:
      description: Whether a command was sent (or would be, in check mode) for this Pi, or may have reached it.
      type: bool
      returned: always
    uncertain:
      description: Why the Pi's state is unknown - a command may or may not have reached the board, and no read could tell.
      type: str
      returned: when a command's outcome is unknown
diff:
  description: Power state of each named Pi before and after, with O(ignore:diff) mode on.
  returned: when diff mode is on
  type: dict
  sample:
    before: {p2: 'off'}
    after: {p2: 'on'}
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
    check_waits,
    clusterctrl_argument_spec,
    named_board,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.pis import plan_power, read_power
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.run import run


def main():
    argument_spec = clusterctrl_argument_spec(
        state=dict(type='str', default='on', choices=['on', 'off', 'cycled']),
        power_on_delay=dict(type='float', default=1.0),
        off_time=dict(type='float', default=3.0),
        **PIS_ARGUMENT_SPEC,
    )
    module = AnsibleModule(argument_spec=argument_spec, mutually_exclusive=MUTUALLY_EXCLUSIVE + BOARD_EXCLUSIVE, supports_check_mode=True)
    params = module.params
    check_waits(module, 'power_on_delay', 'off_time')

    def build(cluster, plan):
        addrs = cluster.resolve(params['pis'], board=named_board(cluster, params))
        items = read_power(plan, addrs)
        plan_power(plan, items, addrs, params['state'], params['power_on_delay'], params['off_time'])

    run(module, build)


if __name__ == '__main__':
    main()
