#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
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
'''

EXAMPLES = r'''
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
'''

RETURN = r'''
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
      description: Power state after the task (in check mode, the state the task would set).
      type: bool
      returned: always
    previous:
      description: Power state before the task.
      type: bool
      returned: always
    changed:
      description: Whether a command was sent (or would be, in check mode) for this Pi.
      type: bool
      returned: always
diff:
  description: Power state of each named Pi before and after, with O(ignore:diff) mode on.
  returned: when diff mode is on
  type: dict
  sample:
    before: {p2: 'off'}
    after: {p2: 'on'}
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.picluster.clusterctrl.plugins.module_utils._clusterctrl_module import (
    MUTUALLY_EXCLUSIVE,
    PIS_ARGUMENT_SPEC,
    clusterctrl_argument_spec,
    open_cluster,
    per_pi_diff,
    record_if_taken,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import ClusterCTRLError


MAX_WAIT = 3600  # seconds: the longest power_on_delay or off_time accepted


class PowerConverger(object):
    """Reads the named Pis, then sends only the commands that make them match ``state``."""

    def __init__(self, module, cluster):
        self.module = module
        self.cluster = cluster
        self.results = {}
        self.changed = False

    def run(self):
        params = self.module.params
        targets = self.cluster.resolve(params['pis'], params['controller'])
        by_board = {}
        for addr in targets:
            by_board.setdefault(id(addr.board), []).append(addr)
        for addrs in by_board.values():  # per board, so a ClusterHAT answers for all its Pis in one read
            states = addrs[0].board.driver.power_status_many([a.slot for a in addrs])
            for addr in addrs:
                power = states[addr.slot]
                self.results[addr.name] = dict(controller=addr.board.controller_id, pi=addr.slot, power=power, previous=power, changed=False)
        state = params['state']
        to_off = [a for a in targets if self.results[a.name]['power'] and state in ('off', 'cycled')]
        to_on = [a for a in targets if state == 'cycled' or (state == 'on' and not self.results[a.name]['power'])]
        if self.module.check_mode:
            for addr in to_off + to_on:
                self._record(addr, addr in to_on)
            return
        for addr in to_off:
            self._switch(addr, False)
        if to_off and to_on:
            time.sleep(params['off_time'])
        for index, addr in enumerate(to_on):
            if index and params['power_on_delay']:
                time.sleep(params['power_on_delay'])
            self._switch(addr, True)

    def _switch(self, addr, power):
        """Send ON/OFF; a failure after the board took the command (e.g. its status read lost) still records it."""
        driver = addr.board.driver
        with record_if_taken(driver, lambda: self._record(addr, power)):
            (driver.power_on if power else driver.power_off)(addr.slot)
        self._record(addr, power)

    def _record(self, addr, power):
        entry = self.results[addr.name]
        entry['power'] = power
        entry['changed'] = True
        self.changed = True

    def diff(self):
        return per_pi_diff(self.results, 'power')


def main():
    argument_spec = clusterctrl_argument_spec(
        state=dict(type='str', default='on', choices=['on', 'off', 'cycled']),
        power_on_delay=dict(type='float', default=1.0),
        off_time=dict(type='float', default=3.0),
        **PIS_ARGUMENT_SPEC
    )
    module = AnsibleModule(argument_spec=argument_spec, mutually_exclusive=MUTUALLY_EXCLUSIVE, supports_check_mode=True)
    for option in ('power_on_delay', 'off_time'):
        # NaN, infinity or a huge wait would crash or hang the task after its first switch: refuse them up front.
        if not 0 <= module.params[option] <= MAX_WAIT:
            module.fail_json(msg='%s must be 0 or more seconds, at most %d, got %s' % (option, MAX_WAIT, module.params[option]))
    converger = None
    try:
        with open_cluster(module) as cluster:
            converger = PowerConverger(module, cluster)
            converger.run()
    except ClusterCTRLError as exc:
        partial = converger.results if converger else {}
        module.fail_json(msg=str(exc), changed=bool(converger and converger.changed), pis=partial)
    result = dict(changed=converger.changed, pis=converger.results)
    if module._diff:
        result['diff'] = converger.diff()
    module.exit_json(**result)


if __name__ == '__main__':
    main()
