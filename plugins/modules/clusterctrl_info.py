#!/usr/bin/python
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: clusterctrl_info
short_description: Read everything ClusterCTRL boards can report
version_added: 0.1.0
description:
  - Reads, per board, its bus, type, product name, firmware version, number of Pis, order,
    USB path, fan status, temperature and ADC readings; and per Pi its global name,
    position on its board, power state and USB boot state.
  - Only reads. No command that changes a board is sent.
  - What the firmware cannot report at all (per-Pi LED enables, PWR and ALERT LEDs, hub
    state, EEPROM contents) is not returned.
extends_documentation_fragment:
  - picluster.clusterctrl.clusterctrl
  - picluster.clusterctrl.attributes
  - picluster.clusterctrl.attributes.actiongroup_clusterctrl
  - picluster.clusterctrl.attributes.info_module
options:
  usb_paths:
    description:
      - Also read each Pi's USB path (hub ports as the official C(clusterctrl getpath)
        prints them), as used to set up network or USB boot. This costs two bus
        transactions per Pi, so it is off by default.
    type: bool
    default: false
author:
  - picluster.clusterctrl contributors (@picluster)
seealso:
  - module: picluster.clusterctrl.clusterctrl_power
"""

EXAMPLES = r"""
- name: Read the cluster
  picluster.clusterctrl.clusterctrl_info:
  register: cluster

- name: Show which Pis are on
  ansible.builtin.debug:
    msg: "{{ cluster.pis | dict2items | selectattr('value.power') | map(attribute='key') | list }}"

- name: Fail when a board runs hot
  ansible.builtin.assert:
    that: item.temperature is none or item.temperature.celsius < 60
  loop: "{{ cluster.controllers }}"
  loop_control:
    label: "{{ item.order }}"
"""

RETURN = r"""
steps:
  description: Always empty - this module plans no change (the report shape every clusterctrl module shares).
  returned: always
  type: list
  elements: dict
controllers:
  description: One entry per board, in the order the Pis are numbered (ascending order).
  returned: always
  type: list
  elements: dict
  contains:
    order:
      description: The board's order (its identity across buses); null for the ClusterHAT.
      type: int
      returned: always
    controller:
      description: How to name the board in O(picluster.clusterctrl.clusterctrl_power#module:controller) - its order, or V(hat).
      type: raw
      returned: always
    hat:
      description:
        - ClusterHAT only. Its version, expander part, whether the official first-run set-up has
          been done (C(initialized)), and the hub, ALERT LED, write-protect and LED (v2 only) states
          read back from the expander. Before set-up these show pin levels, not settings.
      type: dict
      returned: for the ClusterHAT
    bus:
      description: I2C bus number of the board.
      type: raw
      returned: always
    type:
      description: Board type (V(clusterhat) for the ClusterHAT).
      type: str
      returned: always
      sample: triple
    product:
      description: Product name.
      type: str
      returned: always
      sample: ClusterCTRL Triple
    firmware:
      description: Firmware version; null for the ClusterHAT, which has no firmware.
      type: str
      returned: always
      sample: '1.6'
    maxpi:
      description: Number of Pis the board powers.
      type: int
      returned: always
    first_pi:
      description: Global name of the board's first Pi.
      type: str
      returned: always
    usb_path:
      description: USB path of the board's controller (from sysfs, or from the virtual lab), if known.
      type: str
      returned: always
    fan:
      description:
        - Fan state. C(supported) is false on boards without a fan. C(readable) is false where the
          firmware cannot report it (before 1.6). C(requested) is the software fan request;
          C(cooling_requests) (Stack) lists the Pis asking for cooling; C(running) is whether a fan runs.
      type: dict
      returned: always
    temperature:
      description: On-chip temperature, raw and in °C with the official CLI's (uncalibrated) formula; null without a sensor.
      type: dict
      returned: always
    adc:
      description: ADC channels with their raw reading and millivolts.
      type: list
      elements: dict
      returned: always
pis:
  description: Per Pi (global name as key), its board, slot, power and USB boot state.
  returned: always
  type: dict
  sample:
    p1: {controller: 1, pi: 1, power: true, usbboot: false}
  contains:
    controller:
      description: Order of the board, or V(hat).
      type: raw
      returned: always
    pi:
      description: Slot on the board.
      type: int
      returned: always
    power:
      description: Whether the Pi is powered; null for a Pi of a DA whose ClusterHAT is absent.
      type: bool
      returned: always
    usbboot:
      description: Whether USB boot is enabled; null on boards without USB boot control.
      type: bool
      returned: always
    usb_path:
      description: USB path of the Pi; only with O(usb_paths=true).
      type: str
      returned: when O(usb_paths=true) and the board reports paths
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.picluster.clusterctrl.plugins.module_utils._clusterctrl_module import (
    MUTUALLY_EXCLUSIVE,
    clusterctrl_argument_spec,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.board_settings import fan_info
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.run import run


def pi_usb_path(board, slot, controller_hops):
    """Like 'clusterctrl getpath': strip the controller's hops from its USB path, append the Pi's."""
    return board.pi_usb_path(slot, controller_hops)


def read_hat(board, pis):
    """A ClusterHAT: everything comes from one read of its expander's IN register (plus DIR)."""
    driver = board.driver
    state = driver.read_state()
    for slot in range(1, driver.maxpi + 1):
        pis[board.pi_name(slot)] = dict(controller=board.controller_id, pi=slot, power=bool(state.power[slot - 1]), usbboot=None)
    return dict(
        order=None,
        controller=board.controller_id,
        bus=board.bus,
        type='clusterhat',
        product=driver.type.product,
        firmware=None,
        maxpi=driver.maxpi,
        first_pi=board.pi_name(1),
        usb_path=None,
        fan=dict(supported=False, readable=False, requested=None, running=None, cooling_requests=None),
        temperature=None,
        adc=[],
        hat=dict(version=driver.version_string, part=driver.part, initialized=state.initialized, hub=state.hub, alert=state.alert, wp=state.wp, led=state.led),
    )


def read_board(board, want_paths, pis):
    if board.is_hat:
        return read_hat(board, pis)
    driver = board.driver
    spec = driver.spec
    controller_hops = driver.get_path(0) if want_paths and spec.paths is not None and board.usb_path else None
    for slot in range(1, driver.maxpi + 1):  # a DA's Pis of absent ClusterHATs have no state
        present = slot not in board.absent_slots
        entry = dict(
            controller=board.controller_id,
            pi=slot,
            power=driver.power_status(slot) if present else None,
            usbboot=driver.usbboot_status(slot) if spec.has_usbboot else None,
        )
        if controller_hops is not None:
            entry['usb_path'] = pi_usb_path(board, slot, controller_hops)
        pis[board.pi_name(slot)] = entry
    temperature = driver.read_temperature() if spec.has_temperature else None
    return dict(
        order=driver.order,
        controller=board.controller_id,
        bus=board.bus,
        type=driver.type.value,
        product=driver.type.product,
        firmware=driver.fw_version_string,
        maxpi=driver.maxpi,
        first_pi=board.pi_name(1),
        usb_path=board.usb_path,
        fan=fan_info(driver),
        temperature=dict(raw=temperature.raw, celsius=temperature.celsius) if temperature else None,
        adc=[dict(channel=r.channel, type=r.type_code, raw=r.raw, millivolts=r.millivolts) for r in (driver.read_adc(c.channel) for c in spec.adc_channels)],
    )


def main():
    module = AnsibleModule(
        argument_spec=clusterctrl_argument_spec(usb_paths=dict(type='bool', default=False)),
        mutually_exclusive=MUTUALLY_EXCLUSIVE,
        supports_check_mode=True,
    )

    def build(cluster, plan):
        """Nothing to change: the plan only reads, into the result's ``controllers`` and ``pis``."""
        if cluster.clashes:  # every board is still listed, with its bus and USB path; Pi names are provisional
            module.warn(cluster.clash_message() + ' Until then the Pi names below follow the boards by USB path and may change.')
        pis = plan.extra.setdefault('pis', {})
        plan.extra['controllers'] = [read_board(board, module.params['usb_paths'], pis) for board in cluster.boards]

    run(module, build, groups=())


if __name__ == '__main__':
    main()
