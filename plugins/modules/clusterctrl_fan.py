#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
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
      - Order of the board whose fan to set. Without it, every board that has a fan.
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
'''

EXAMPLES = r'''
- name: Run every fan
  picluster.clusterctrl.clusterctrl_fan:
    state: 'on'

- name: Stop the fan of the board with order 2
  picluster.clusterctrl.clusterctrl_fan:
    controller: 2
    state: 'off'
'''

RETURN = r'''
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
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.picluster.clusterctrl.plugins.module_utils._clusterctrl_module import (
    MUTUALLY_EXCLUSIVE,
    clusterctrl_argument_spec,
    fan_info,
    onoff,
    open_cluster,
    record_if_taken,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import AddressingError, ClusterCTRLError


def fan_boards(cluster, controller):
    if controller is not None:
        board = cluster.board(controller)
        if board.driver.spec.fan == 'none':
            raise AddressingError('%s has no fan (only the ClusterCTRL Triple, A+6 and Stack have one)' % board.name)
        return [board]
    boards = [b for b in cluster.boards if b.driver.spec.fan != 'none']
    if not boards:
        raise AddressingError('no board of this cluster has a fan (only the ClusterCTRL Triple, A+6 and Stack have one)')
    return boards


def converge(module, board, wanted, results):
    """Converge one board's fan; its entry joins ``results`` once the command may have been sent, so a failure reports it."""
    driver = board.driver
    before = fan_info(driver)
    entry = dict(controller=board.controller_id, product=driver.type.product, readable=before['readable'],
                 previous=before['requested'], requested=before['requested'], running=before['running'],
                 cooling_requests=before['cooling_requests'], changed=before['requested'] != wanted)
    if entry['changed']:
        if not module.check_mode:
            with record_if_taken(driver, lambda: results.append(dict(entry, requested=wanted))):
                (driver.fan_on if wanted else driver.fan_off)()
            entry['requested'] = wanted
            results.append(entry)
            after = fan_info(driver)
            entry.update(requested=after['requested'] if after['readable'] else wanted, running=after['running'],
                         cooling_requests=after['cooling_requests'])
        else:
            entry['requested'] = wanted
        if not before['readable']:
            module.warn('%s: firmware %s cannot report the fan state, so the command is sent every run and reported as a change'
                        % (driver.label, driver.fw_version_string))
    temperature = driver.read_temp()
    entry['temperature'] = dict(raw=temperature.raw, celsius=temperature.celsius)
    return entry


def main():
    module = AnsibleModule(
        argument_spec=clusterctrl_argument_spec(controller=dict(type='str'), state=dict(type='str', required=True, choices=['on', 'off'])),
        mutually_exclusive=MUTUALLY_EXCLUSIVE,
        supports_check_mode=True,
    )
    wanted = module.params['state'] == 'on'
    results = []
    try:
        with open_cluster(module) as cluster:
            for board in fan_boards(cluster, module.params['controller']):
                entry = converge(module, board, wanted, results)
                if not any(e is entry for e in results):
                    results.append(entry)
    except ClusterCTRLError as exc:
        module.fail_json(msg=str(exc), changed=any(r['changed'] for r in results), controllers=results)
    result = dict(changed=any(r['changed'] for r in results), controllers=results)
    if module._diff:
        result['diff'] = dict(before=dict((str(r['controller']), onoff(r['previous'])) for r in results),
                              after=dict((str(r['controller']), onoff(r['requested'])) for r in results))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
