# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: plan a board's own settings: order, LEDs, ALERT, hub, write-protect, fan, reset. Not a public API.

Used by clusterctrl_board, clusterctrl_fan and clusterctrl_cluster alike. What a board can
report is compared and sent only when it differs: a ClusterCTRL's order and (firmware 1.6+) fan;
everything a ClusterHAT's expander holds (spec §7.3). A ClusterCTRL's LEDs and ALERT cannot be
read back at all (spec §10.3): they are sent every time, as actions (always a change).
"""

from __future__ import annotations

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import ClusterCTRLError, NotSupportedError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.plan import Item, Plan, Step, as_is, onoff

SWITCHES = ('alert', 'power_led', 'leds', 'act_led', 'wp')


def fan_info(driver) -> dict:
    """The fan as far as the board can tell (spec §4 FANSTATUS, firmware 1.6+; Stack cooling-request bits)."""
    spec = driver.spec
    info = dict(supported=spec.fan != 'none', readable=False, requested=None, running=None, cooling_requests=None)
    if not info['supported'] or driver.fw_version < (1, 6):
        return info
    status = driver.fan_status()
    info.update(readable=True, requested=bool(status & 1))
    if spec.fan == 'stack':
        info['cooling_requests'] = [pi for pi in range(1, 7) if status & (1 << pi)]
        info['running'] = status != 0
    else:
        info['running'] = bool(status & 1)
    return info


def check_settings(board, cluster, settings: dict) -> None:
    """Raise before anything is sent if a setting does not exist on this board or conflicts.

    ``settings`` maps a setting name to its value ('on'/'off', 'cycled', an order, True for reset);
    None means not declared.
    """
    driver, spec, hat = board.driver, board.driver.spec, board.is_hat
    declared = {name: value for name, value in settings.items() if value is not None and value is not False}

    def refuse(what):
        raise NotSupportedError(f'{board.name} has no {what}')

    if declared.get('reset') and len(declared) > 1:
        raise NotSupportedError(
            'reset cannot be combined with other settings in one task: the board restarts from its EEPROM, '
            'so settings made in the same task would be lost (the order and LEDs included); save what must '
            'survive with clusterctrl_eeprom, then reset in a task of its own'
        )
    if 'order' in declared:
        order = declared['order']
        if hat:
            refuse('order (a ClusterHAT is always numbered first)')
        if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= 255:
            raise NotSupportedError(f'order must be from 1 to 255, got {order!r}')
        others = [b for b in cluster.boards if b is not board and not b.is_hat and b.order == order]
        if others:
            raise NotSupportedError(f'order {order} is already used by {others[0].name}; orders must be distinct')
    if 'alert' in declared and not spec.has_alert_led:
        refuse('ALERT LED')
    if 'power_led' in declared and hat:
        refuse('PWR LED under software control')
    if 'leds' in declared and not (driver.has_led if hat else spec.has_pi_leds):
        refuse('LEDs under software control')
    if 'act_led' in declared:
        if not spec.has_act_led:
            refuse('ACT LED (only the A+6 has one)')
        if driver.fw_version < (1, 8):
            raise NotSupportedError(f'{board.name}: the ACT LED command needs firmware 1.8, this board runs {driver.fw_version_string}')
    hub = declared.get('hub')
    if hub in ('on', 'off') and not hat:
        refuse('hub on/off command (ClusterCTRL firmware can only cycle the hub)')
    if hub and spec.hub is None and not hat:
        refuse('USB hub to cycle')
    if 'wp' in declared and not hat:
        refuse('EEPROM write-protect switch (only the ClusterHAT has one)')
    if declared.get('wp') == 'off' and hat and driver.initialized() and driver.wp_link() == 1:
        raise NotSupportedError(f'{board.name}: the EEPROM write-protect solder link is fitted, so write-protect cannot be switched off')
    if 'fan' in declared and spec.fan == 'none':
        refuse('fan (only the ClusterCTRL Triple, A+6 and Stack have one)')
    if declared.get('reset') and hat:
        refuse('microcontroller to reset')


def _switch_sender(board, name, on, warn):
    driver = board.driver
    methods = dict(alert=('alert_on', 'alert_off'), power_led=('pwr_led_on', 'pwr_led_off'), act_led=('act_on', 'act_off'), wp=('wp_on', 'wp_off'))
    if name in methods:
        return getattr(driver, methods[name][0 if on else 1]), [f'{name.upper()} {"on" if on else "off"}']
    if board.is_hat:
        return (driver.led_all_on if on else driver.led_all_off), [f'LED {"on" if on else "off"}']

    def per_pi():
        if on and driver.spec.gpio == 'D':
            warn(f'{driver.label}: the firmware enables a Pi LED only while the Pi is on; LEDs of Pis that are off stay dark')
        for slot in range(1, driver.maxpi + 1):
            (driver.led_on if on else driver.led_off)(slot)

    return per_pi, [f'LED_{"EN" if on else "DIS"} {slot}' for slot in range(1, driver.maxpi + 1)]


class BoardPlanner:
    """Plans the declared settings of one board into ``plan``, items in ``group``.

    ``path(name)`` gives each item's place in diff mode; ``warn`` is the module's warn; ``prefix``
    goes before each item's name (one group holding several boards' settings).
    """

    def __init__(self, plan: Plan, board, group='settings', path=None, warn=None, prefix=''):
        self.plan = plan
        self.prefix = prefix
        self.board = board
        self.group = group
        self.path = path
        self.warn = warn or (lambda msg: None)
        self._hat_state = None

    def hat_state(self):
        if self._hat_state is None:
            self._hat_state = self.board.driver.effective_state()
        return self._hat_state

    def item(self, name, before, readable=True, fields=None, setting='value', show=as_is, label=None):
        """An item for setting ``name`` of the board, reported as ``label`` (default: prefix + name)."""
        fields = dict(fields if fields is not None else {'readable': readable})
        return self.plan.add_item(
            self.group,
            Item(
                name=label or self.prefix + name,
                setting=setting,
                before=before,
                fields=fields,
                show=show,
                fact=(id(self.board), name, None),
                diff_path=self.path(name) if self.path else None,
            ),
        )

    def order(self, order, label=None):
        driver = self.board.driver
        item = self.item('order', driver.order, label=label)
        if order != driver.order:
            self.plan.add_step(Step(item, order, lambda: driver.set_order(order), [f'SET_ORDER {order}'], self.board, read_back=driver.get_order))
        return item

    def switch(self, name, value):
        """alert / power_led / leds / act_led / wp: 'on' or 'off'."""
        on = value == 'on'
        readable = self.board.is_hat
        before = onoff(getattr(self.hat_state(), 'led' if name == 'leds' else name)) if readable else None
        if readable:
            self.plan.hat_setup(self.board)
        item = self.item(name, before, readable)
        if not readable or before != value:
            send, commands = _switch_sender(self.board, name, on, self.warn)
            read_back = None
            if readable:

                def read_back():
                    return onoff(getattr(self.board.driver.read_state(), 'led' if name == 'leds' else name))

            self.plan.add_step(Step(item, value, send, commands, self.board, action=not readable, read_back=read_back))
        return item

    def hub(self, value):
        driver = self.board.driver
        if value == 'cycled':
            item = self.item('hub', None, False)
            self.plan.add_step(Step(item, 'cycled', driver.hub_reset, ['HUB_CYCLE' if not self.board.is_hat else 'hub off, on'], self.board, action=True))
            return item
        before = onoff(self.hat_state().hub)
        self.plan.hat_setup(self.board)
        item = self.item('hub', before)
        if before != value:
            self.plan.add_step(
                Step(
                    item, value, driver.hub_on if value == 'on' else driver.hub_off, [f'hub {value}'], self.board, read_back=lambda: onoff(driver.hub_status())
                )
            )
        return item

    def reset(self):
        item = self.item('reset', None, False)
        self.plan.add_step(Step(item, True, self.board.driver.reset, ['RESET'], self.board, action=True))
        return item

    def fan(self, value, fields=None, setting='value', label=None):
        """The fan, read back on firmware 1.6+; older firmware gets the command every run (an action)."""
        driver = self.board.driver
        info = fan_info(driver)
        on = value == 'on'
        extra = dict(fields or {}, readable=info['readable'])
        if fields is not None:
            extra.update(running=info['running'], cooling_requests=info['cooling_requests'])
        item = self.item(
            'fan',
            info['requested'] if setting == 'requested' else onoff(info['requested']),
            info['readable'],
            fields=extra,
            setting=setting,
            show=onoff if setting == 'requested' else as_is,
            label=label,
        )
        target = on if setting == 'requested' else value
        if not info['readable'] or item.before != target:
            read_back = None
            if info['readable']:

                def read_back():
                    requested = fan_info(driver)['requested']
                    return requested if setting == 'requested' else onoff(requested)

            self.plan.add_step(
                Step(
                    item,
                    target,
                    driver.fan_on if on else driver.fan_off,
                    [f'FAN {1 if on else 0}'],
                    self.board,
                    action=not info['readable'],
                    read_back=read_back,
                )
            )
            if fields is not None and info['readable']:
                # What FANSTATUS will say (spec §4): a Stack's fans also run for a Pi's cooling request.
                item.fields['running'] = on or bool(info['cooling_requests'])
                self.plan.finish.append(lambda: self._refresh_fan(item))
            if not info['readable']:
                self.warn(
                    f'{driver.label}: firmware {driver.fw_version_string} cannot report the fan state, so the command is sent '
                    'every run and reported as a change'
                )
        return item

    def _refresh_fan(self, item):
        """After a real run: what the fan does now, read back. A board that restarted or stopped answering
        makes the fan's state unknown, and the run fails saying so."""
        try:
            info = fan_info(self.board.driver)
        except ClusterCTRLError as exc:
            item.doubt = str(exc)
            item.fields.update(running=None, cooling_requests=None)
            raise
        item.fields.update(running=info['running'], cooling_requests=info['cooling_requests'])

    def settings(self, settings: dict):
        """Every declared setting, in the order they are sent: order, switches, hub, fan; actions (cycle, reset) last."""
        if settings.get('order') is not None:
            self.order(settings['order'])
        for name in SWITCHES:
            if settings.get(name) is not None:
                self.switch(name, settings[name])
        if settings.get('hub') in ('on', 'off'):
            self.hub(settings['hub'])
        if settings.get('fan') is not None:
            self.fan(settings['fan'])
        if settings.get('hub') == 'cycled':
            self.hub('cycled')
        if settings.get('reset'):
            self.reset()
