#!/usr/bin/python
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: clusterctrl_cluster
short_description: Declare a whole ClusterCTRL / ClusterHAT cluster in one task
version_added: 0.2.0
description:
  - Declares the state of every Pi (power, USB boot) and of the boards (fan, ALERT, LEDs, hub,
    write-protect) of one controller in one task, and converges to it in one bus session with one plan,
    shaped like Ansible's resource modules (O(config) and O(state)).
  - Reads everything it compares first, then sends only what differs, in this order - Pis switched off,
    USB boot, Pis switched on (O(power_on_delay) apart), board settings, then the EEPROM saves of O(save).
  - The whole declaration is checked before anything is sent - unknown Pis or boards, a setting a board
    does not have, a Pi declared twice (V(p1) and V(P1)), wrong types.
  - O(state=gathered) only reads, and returns the cluster in the shape of O(config) under RV(gathered);
    feeding that back as O(config) with O(state=merged) changes nothing.
extends_documentation_fragment:
  - picluster.clusterctrl.clusterctrl
  - picluster.clusterctrl.attributes
  - picluster.clusterctrl.attributes.actiongroup_clusterctrl
  - picluster.clusterctrl.attributes.actionable
attributes:
  idempotent:
    support: partial
    details:
      - Power, USB boot, readable fans and every ClusterHAT setting are idempotent, and so are saves of
        what can be read back. A ClusterCTRL board's ALERT and LEDs cannot be read back and are sent every
        run (always a change), as is a fan on firmware older than 1.6.
options:
  config:
    description:
      - The declared state. Ignored with O(state=gathered).
    type: dict
    default: {}
    suboptions:
      pis:
        description:
          - Maps global Pi names (V(p1), V(p2), ...; as the official C(clusterctrl) numbers them, ClusterHAT
            first) to their state, a dict with C(power) and C(usbboot), each V(on) or V(off) (quoted in YAML;
            booleans are accepted).
          - C(usbboot) exists only on Pis of a ClusterCTRL Single or Triple.
        type: dict
        default: {}
      boards:
        description:
          - Maps a board - its order, V(hat) for the ClusterHAT, or V(all) for every board that has the
            setting - to its settings, a dict of V(on)/V(off) values for C(fan) (Triple, A+6, Stack),
            C(alert), C(power_led), C(leds), C(act_led) (A+6, firmware 1.8), C(hub) (ClusterHAT only;
            a ClusterCTRL hub can only be cycled, see M(picluster.clusterctrl.clusterctrl_board)) and
            C(wp) (ClusterHAT EEPROM write-protect).
          - A setting under a board's own key wins over the same setting under V(all).
        type: dict
        default: {}
  state:
    description:
      - V(merged) changes what is declared and leaves everything else as it is.
      - V(overridden) also switches off every Pi that is not declared and disables its USB boot (Single,
        Triple); a declared Pi without C(power) is switched off, one without C(usbboot) has it disabled.
        Board settings are merged in this state too - nothing not declared is reset on a board (its LEDs and
        ALERT cannot be read back, and a fan is never switched off by omission).
        B(Dangerous) - it powers off every node not listed.
      - V(gathered) reads the cluster and returns it under RV(gathered); nothing is sent.
    type: str
    choices: [merged, overridden, gathered]
    default: merged
  save:
    description:
      - What to persist to the boards' EEPROM after converging, so that the boards restore it at power-up -
        V(power), V(order), V(leds), V(usbboot) (Single, Triple), or V(all) (what the firmware's SAVE writes).
      - Written only when the saved image would change (the record of O(record) says what was saved last),
        and the image saved is the converged one, in check mode too.
      - The LED enables can only be known when the task sets every LED of the board (C(power_led), C(leds),
        C(act_led) where the board has them); otherwise V(leds) always writes, while V(all) does not write
        on account of the LEDs alone (if it writes for another reason, the LEDs are saved as they are).
      - Each item is saved on every board that has it; V(power) is never saved on a DA (it never restores it).
    type: list
    elements: str
    choices: [power, order, leds, usbboot, all]
    default: []
  power_on_delay:
    description:
      - Seconds between two successive power-ons, to limit the inrush current (the official CLI waits 1 s). At most 3600.
    type: float
    default: 1.0
  record:
    description:
      - The EEPROM record file, as in M(picluster.clusterctrl.clusterctrl_eeprom).
      - Default V(/var/lib/picluster/clusterctrl-eeprom.json); with O(virtual_lab), a file beside the lab's state.
    type: path
author:
  - picluster.clusterctrl contributors (@picluster)
seealso:
  - module: picluster.clusterctrl.clusterctrl_power
  - module: picluster.clusterctrl.clusterctrl_eeprom
  - module: picluster.clusterctrl.clusterctrl_info
"""

EXAMPLES = r"""
- name: The whole cluster, kept across power cuts
  picluster.clusterctrl.clusterctrl_cluster:
    config:
      pis:
        p1: {power: 'on'}
        p2: {power: 'on'}
        p5: {power: 'on', usbboot: 'on'}
        p6: {power: 'off'}
      boards:
        all: {fan: 'on'}
        hat: {alert: 'off'}
    save: [power]

- name: Read the cluster in the shape of config
  picluster.clusterctrl.clusterctrl_cluster:
    state: gathered
  register: now

- name: Put it back exactly like that later (changes nothing if nothing moved)
  picluster.clusterctrl.clusterctrl_cluster:
    config: "{{ now.gathered }}"

- name: Only p1 and p2 run; every other Pi is switched off
  picluster.clusterctrl.clusterctrl_cluster:
    state: overridden
    config:
      pis:
        p1: {power: 'on'}
        p2: {power: 'on'}
"""

RETURN = r"""
gathered:
  description: With O(state=gathered), the cluster in the shape of O(config) (unreadable settings left out).
  returned: when O(state=gathered)
  type: dict
  sample:
    pis: {p1: {power: 'on'}, p5: {power: 'off', usbboot: 'on'}}
    boards: {'1': {fan: 'on'}, hat: {alert: 'off', hub: 'on', leds: 'on', wp: 'on'}}
before:
  description: What was read, in the shape of O(config) (for what the task declares, or everything with O(state=overridden)).
  returned: when O(state) is V(merged) or V(overridden)
  type: dict
after:
  description:
    - The state after the task, in the same shape (in check mode, what the task would make it); a value is null
      where a command may or may not have been taken (see RV(uncertain)).
    - A ClusterCTRL's ALERT and LEDs show the value sent; they cannot be read.
  returned: when O(state) is V(merged) or V(overridden)
  type: dict
commands:
  description: The commands sent (in check mode, that would be sent), in order.
  returned: always
  type: list
  elements: str
steps:
  description: Every planned change with its target, before, after, commands and status (V(planned) in check mode, V(taken), V(not_taken) or V(uncertain)).
  returned: always
  type: list
  elements: dict
power:
  description: Per Pi whose power is declared, C(controller), C(pi), C(power), C(previous), C(changed).
  returned: always
  type: dict
usbboot:
  description: Per Pi whose USB boot is declared, C(controller), C(pi), C(usbboot), C(previous), C(changed).
  returned: always
  type: dict
settings:
  description: Per declared board setting (C(<board>.<setting>)), C(value), C(previous), C(readable), C(changed).
  returned: always
  type: dict
saved:
  description: Per board saved to (its EEPROM record key, type and USB path), C(controller), C(written), C(unchanged), C(image), C(previous), C(changed).
  returned: always
  type: dict
boards:
  description: A ClusterHAT's first-run set-up (C(hat), with C(setup)), when the task needed it.
  returned: always
  type: dict
diff:
  description: Before and after in the shape of O(config), plus C(saved) (the EEPROM images) and a ClusterHAT's C(setup).
  returned: when diff mode is on
  type: dict
record:
  description: Path of the EEPROM record, when O(save) is given.
  returned: when O(save) is given
  type: str
taken:
  description: On failure, the steps that were taken.
  returned: on failure
  type: list
  elements: str
uncertain:
  description: On failure, the steps that may or may not have reached a board, each with the reason.
  returned: on failure
  type: list
  elements: dict
not_taken:
  description: On failure, the steps that were not sent.
  returned: on failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.picluster.clusterctrl.plugins.module_utils._clusterctrl_module import (
    MUTUALLY_EXCLUSIVE,
    check_waits,
    clusterctrl_argument_spec,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.cluster_config import (
    build_cluster,
    gathered,
    parse_config,
    resource_views,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.run import run


def main():
    module = AnsibleModule(
        argument_spec=clusterctrl_argument_spec(
            config=dict(
                type='dict',
                default={},
                options=dict(
                    pis=dict(type='dict', default={}),
                    boards=dict(type='dict', default={}),
                ),
            ),
            state=dict(type='str', default='merged', choices=['merged', 'overridden', 'gathered']),
            save=dict(type='list', elements='str', default=[], choices=['power', 'order', 'leds', 'usbboot', 'all']),
            power_on_delay=dict(type='float', default=1.0),
            record=dict(type='path'),
        ),
        mutually_exclusive=MUTUALLY_EXCLUSIVE,
        supports_check_mode=True,
    )
    params = module.params
    check_waits(module, 'power_on_delay')
    declared, errors = parse_config(params['config'] or {})
    if errors:
        module.fail_json(msg='Invalid config (nothing was sent): ' + '; '.join(errors), changed=False)
    if params['state'] == 'gathered':
        run(module, gathered, groups=())
        return
    run(
        module,
        lambda cluster, plan: build_cluster(module, cluster, plan, declared),
        groups=('power', 'usbboot', 'settings', 'saved', 'boards'),
        shape=resource_views,
    )


if __name__ == '__main__':
    main()
