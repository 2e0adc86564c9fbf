#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: clusterctrl_board
short_description: Set a ClusterCTRL board's or ClusterHAT's order, LEDs, hub and write-protect; reset it
version_added: 0.1.0
description:
  - Sets board-wide settings of one ClusterCTRL board or of the ClusterHAT.
  - Settings the board can report are read first and sent only when they differ - a ClusterCTRL's
    O(order); a ClusterHAT's O(alert), O(hub), O(wp) and O(leds) (v2), which its I/O expander reads back.
  - A ClusterCTRL's firmware cannot report its LEDs (ALERT, PWR, per-Pi, ACT) at all (spec §10.3),
    so those settings are sent every time they are given and reported as a change.
  - O(hub=cycled) and O(reset=true) are actions (always a change). After either, a ClusterCTRL board
    drops off USB and comes back; they run after every other setting of the task.
  - Every setting is checked against what the board has before anything is sent.
  - A ClusterHAT that was never set up since it powered up gets the official CLI's first-run
    set-up (spec §7.4) before its first write; the result reports it as the setting C(setup).
    On such a HAT with an XRA1200P, whether the write-protect solder link is fitted can only be
    found by that set-up, so O(wp=off) may be refused after the set-up ran (reported as a change);
    once set up, the refusal comes before anything is written, in check mode too.
extends_documentation_fragment:
  - picluster.clusterctrl.clusterctrl
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
    description: The board - its order (V(1) to V(255)), or V(hat) for the ClusterHAT.
    type: str
    required: true
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
      - On the Single and pHAT the firmware ignores enabling the LED of a Pi that is off (spec §3).
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
'''

EXAMPLES = r'''
- name: Give a new board a unique order and keep it
  block:
    - name: Set the order
      picluster.clusterctrl.clusterctrl_board:
        controller: 20
        order: 3
    - name: Save it
      picluster.clusterctrl.clusterctrl_eeprom:
        controller: 3
        save: [order]

- name: Signal maintenance on the ClusterHAT
  picluster.clusterctrl.clusterctrl_board:
    controller: hat
    alert: 'on'

- name: Cycle the USB hub of board 1
  picluster.clusterctrl.clusterctrl_board:
    controller: 1
    hub: cycled
'''

RETURN = r'''
controller:
  description: The board acted on (its order, or V(hat)); after an order change, the new order.
  returned: always
  type: raw
settings:
  description: Per setting given, its requested value, the value read before (null where the board cannot report it), and whether it was sent.
  returned: always
  type: dict
  sample:
    order: {value: 3, previous: 20, readable: true, changed: true}
    alert: {value: 'on', previous: null, readable: false, changed: true}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.picluster.clusterctrl.plugins.module_utils._clusterctrl_module import (
    MUTUALLY_EXCLUSIVE,
    clusterctrl_argument_spec,
    onoff,
    open_cluster,
    record_if_taken,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import ClusterCTRLError, NotSupportedError

SWITCHES = ('alert', 'power_led', 'leds', 'act_led', 'wp')


class BoardSettings(object):
    """Checks every requested setting against the board, then applies them (actions last)."""

    def __init__(self, module, cluster, board):
        self.module = module
        self.cluster = cluster
        self.board = board
        self.driver = board.driver
        self.settings = {}

    def _refuse(self, what):
        raise NotSupportedError('%s has no %s' % (self.board.name, what))

    def check(self, params):
        """Raise before any write if a setting does not exist on this board or conflicts."""
        spec, hat = self.driver.spec, self.board.is_hat
        if params['hub'] == 'cycled' and params['reset']:
            raise NotSupportedError('hub=cycled and reset=true both make the board drop off USB; use two tasks')
        if params['order'] is not None:
            if hat:
                self._refuse('order (a ClusterHAT is always numbered first)')
            if not 1 <= params['order'] <= 255:
                raise NotSupportedError('order must be from 1 to 255, got %d' % params['order'])
            others = [b for b in self.cluster.boards if b is not self.board and not b.is_hat and b.order == params['order']]
            if others:
                raise NotSupportedError('order %d is already used by %s; orders must be distinct' % (params['order'], others[0].name))
        if params['alert'] and not spec.has_alert_led:
            self._refuse('ALERT LED')
        if params['power_led'] and hat:
            self._refuse('PWR LED under software control')
        if params['leds'] and not (self.driver.has_led if hat else spec.has_pi_leds):
            self._refuse('LEDs under software control')
        if params['act_led']:
            if not spec.has_act_led:
                self._refuse('ACT LED (only the A+6 has one)')
            if self.driver.fw_version < (1, 8):
                raise NotSupportedError('%s: the ACT LED command needs firmware 1.8, this board runs %s'
                                        % (self.board.name, self.driver.fw_version_string))
        if params['hub'] in ('on', 'off') and not hat:
            self._refuse('hub on/off command (ClusterCTRL firmware can only cycle the hub)')
        if params['hub'] and spec.hub is None and not hat:
            self._refuse('USB hub to cycle')
        if params['wp'] and not hat:
            self._refuse('EEPROM write-protect switch (only the ClusterHAT has one)')
        if params['wp'] == 'off' and hat and self.driver.initialized() and self.driver.wp_link() == 1:
            raise NotSupportedError('%s: the EEPROM write-protect solder link is fitted, so write-protect cannot be switched off'
                                    % self.board.name)
        if params['reset'] and hat:
            self._refuse('microcontroller to reset')

    def _set(self, name, value, previous, readable, send):
        """Record a setting; send it when it differs or cannot be read. It counts as changed once sent."""
        entry = dict(value=value, previous=previous, readable=readable, changed=False)
        self.settings[name] = entry
        if readable and previous == value:
            return
        if not self.module.check_mode:
            self._prepare_hat()
            # Some of it may reach the board before a failure (the first of several LED commands, a lost status read).
            with record_if_taken(self.driver, lambda: entry.update(changed=True)):
                send()
        entry['changed'] = True

    def _prepare_hat(self):
        """Before a ClusterHAT's first write ever: the official first-run set-up (spec §7.4), reported as a change.

        It also probes the write-protect link on an XRA1200P, so a refusal that follows is decided
        on facts; the set-up itself drives the Pis from the POS link, which is why it is recorded.
        """
        if self.board.is_hat and not self.driver.initialized():
            self.driver.initialize()
            self.settings['setup'] = dict(value='done', previous=None, readable=True, changed=True)

    def apply(self, params):
        driver, hat = self.driver, self.board.is_hat
        if params['order'] is not None:
            self._set('order', params['order'], driver.order, True, lambda: driver.set_order(params['order']))
        state = driver.effective_state() if hat else None
        readable = dict(alert=state.alert, wp=state.wp, leds=state.led) if hat else {}
        for name in SWITCHES:
            if params[name] is not None:
                on = params[name] == 'on'
                self._set(name, params[name], onoff(readable.get(name)), name in readable,
                          lambda name=name, on=on: self._switch(name, on))
        if params['hub'] in ('on', 'off'):
            self._set('hub', params['hub'], onoff(state.hub), True, driver.hub_on if params['hub'] == 'on' else driver.hub_off)
        if params['hub'] == 'cycled':
            self._set('hub', 'cycled', None, False, driver.hub_reset)
        if params['reset']:
            self._set('reset', True, None, False, driver.reset)

    def _switch(self, name, on):
        driver = self.driver
        if name == 'alert':
            (driver.alert_on if on else driver.alert_off)()
        elif name == 'power_led':
            (driver.pwr_led_on if on else driver.pwr_led_off)()
        elif name == 'act_led':
            (driver.act_on if on else driver.act_off)()
        elif name == 'wp':
            (driver.wp_on if on else driver.wp_off)()
        elif self.board.is_hat:
            (driver.led_all_on if on else driver.led_all_off)()
        else:
            if on and driver.spec.gpio == 'D':
                self.module.warn('%s: the firmware enables a Pi LED only while the Pi is on (spec §3); LEDs of Pis that are off stay dark'
                                 % driver.label)
            for slot in range(1, driver.maxpi + 1):
                (driver.led_on if on else driver.led_off)(slot)


def main():
    switch = dict(type='str', choices=['on', 'off'])
    module = AnsibleModule(
        argument_spec=clusterctrl_argument_spec(
            controller=dict(type='str', required=True), order=dict(type='int'), alert=switch, power_led=switch, leds=switch,
            act_led=switch, hub=dict(type='str', choices=['on', 'off', 'cycled']), wp=switch, reset=dict(type='bool', default=False),
        ),
        mutually_exclusive=MUTUALLY_EXCLUSIVE,
        supports_check_mode=True,
    )
    settings = None
    try:
        with open_cluster(module) as cluster:
            board = cluster.board(module.params['controller'])
            settings = BoardSettings(module, cluster, board)
            settings.check(module.params)
            settings.apply(module.params)
            controller = board.controller_id
    except ClusterCTRLError as exc:
        done = settings.settings if settings else {}
        module.fail_json(msg=str(exc), changed=not module.check_mode and any(s['changed'] for s in done.values()), settings=done)
    changed = any(s['changed'] for s in settings.settings.values())
    result = dict(changed=changed, controller=controller, settings=settings.settings)
    if module._diff:
        result['diff'] = dict(before=dict((k, v['previous']) for k, v in settings.settings.items()),
                              after=dict((k, v['value']) for k, v in settings.settings.items()))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
