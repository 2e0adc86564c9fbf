#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: mqtt_pins
short_description: Converge pin modes and levels of MQTT devices (device-cluster protocol)
version_added: 0.1.0
description:
  - Declares, for one or many devices speaking the MQTT device-cluster pin protocol, the mode and level of their pins,
    and converges them over one broker connection.
  - The module first reads the declared pins of every device (C(get)), then sends C(config) only for pins whose mode
    differs and C(set) only for levels that differ, and confirms every change from the updates the devices publish.
  - In check mode only C(get) requests are published; nothing that changes a device is sent.
  - A device that does not answer, or does not confirm some pins, makes the task fail with a message naming the device
    and the pins; the results of the other devices are still returned.
  - Pulses (O(devices[].pins[].pulse_ms)) are actions, not states, and always report a change. After a pulse the pin
    is at the opposite level, which is what the result and the diff report as its state.
  - "What a mode change does to the level, as the devices do it and as check mode predicts it: a pin switched to an
    input reads its pull level (high with V(input_pullup), low otherwise); a pin switched to an output from another
    mode starts low unless O(devices[].pins[].state) is given; an output switched between output modes keeps its level."
author:
  - picluster.clusterctrl contributors (@picluster)
requirements:
  - paho-mqtt >= 1.6.1 on the managed node (C(pip install paho-mqtt) or C(apt install python3-paho-mqtt))
extends_documentation_fragment:
  - picluster.clusterctrl.mqtt
  - picluster.clusterctrl.attributes
  - picluster.clusterctrl.attributes.actiongroup_mqtt
  - picluster.clusterctrl.attributes.actionable
attributes:
  idempotent:
    support: partial
    details:
      - Modes and levels are idempotent.
      - A pulse (O(devices[].pins[].pulse_ms)) is an action and always reports a change.
options:
  devices:
    description:
      - The devices and the pins to declare on each. Many devices are handled at once, at most O(max_outstanding) requests in flight.
    type: list
    elements: dict
    required: true
    suboptions:
      id:
        description:
          - Device id, the C({id}) level of its topics. Letters, digits and underscore only, at most 256 characters.
        type: str
        required: true
      pins:
        description:
          - Pins to declare. Pins not listed are left alone.
        type: list
        elements: dict
        required: true
        suboptions:
          pin:
            description:
              - Pin number.
            type: int
            required: true
          mode:
            description:
              - Mode of the pin. One of V(disabled), V(input), V(output), V(input_pullup), V(input_pulldown),
                or an integer mode code of the firmware (passed through as is).
              - When not set, the current mode is kept.
            type: raw
          state:
            description:
              - Level of the pin, V(high) or V(low) (V(1) and V(0) are accepted too). Only for output pins.
              - With O(devices[].pins[].pulse_ms), the level of the pulse; the pin returns to the other level afterwards.
              - When not set, the current level is kept.
            type: raw
          pulse_ms:
            description:
              - Drive the pin to O(devices[].pins[].state) for this many milliseconds, then back to the other level.
              - Always reported as a change; never sent in check mode.
            type: int
notes:
  - The device confirms a C(config) or C(set) by publishing an C(update) for the pin with the requested mode or level.
    For a pulse, an update for the pin with either level confirms it.
  - A device that refuses a request (unknown pin, level on an input) does not answer; this is reported as pins not confirmed.
seealso:
  - module: picluster.clusterctrl.mqtt_pins_info
'''

EXAMPLES = r'''
- name: Relays on pins 2 and 4 as outputs, pin 2 on; a button on pin 5 with pull-up
  picluster.clusterctrl.mqtt_pins:
    host: broker.example.org
    username: ansible
    password: "{{ vault_mqtt_password }}"
    devices:
      - id: greenhouse1
        pins:
          - pin: 2
            mode: output
            state: high
          - pin: 4
            mode: output
            state: low
          - pin: 5
            mode: input_pullup

- name: Same pins on many devices in one task (YAML anchor for the shared pin list)
  picluster.clusterctrl.mqtt_pins:
    host: 127.0.0.1
    port: 1883
    devices:
      - id: dev000
        pins: &relay_pins
          - pin: 0
            mode: output
            state: high
          - pin: 1
            mode: input_pulldown
      - id: dev001
        pins: *relay_pins
      - id: dev002
        pins: *relay_pins

- name: Pulse the door opener relay high for 500 ms (always changed)
  picluster.clusterctrl.mqtt_pins:
    host: broker.example.org
    tls: true
    ca_cert: /etc/ssl/certs/mqtt-ca.pem
    devices:
      - id: door1
        pins:
          - pin: 3
            mode: output
            state: high
            pulse_ms: 500
'''

RETURN = r'''
devices:
  description: Per device results, keyed by device id.
  returned: always
  type: dict
  sample:
    dev001:
      changed: true
      failed: false
      msg: ""
      pins:
        - pin: 2
          mode: output
          mode_code: 3
          state: high
          before:
            mode: disabled
            mode_code: -1
            state: low
          changed: true
          pulsed: false
  contains:
    changed:
      description:
        - Whether anything was (or, in check mode, would be) changed on this device.
        - Also true when a C(config) or C(set) the broker acknowledged was not confirmed by the device, which may have acted on it.
      type: bool
      returned: always
    failed:
      description: Whether this device did not answer or did not confirm some pins.
      type: bool
      returned: always
    msg:
      description: What went wrong with this device, empty if nothing did.
      type: str
      returned: always
    unconfirmed_pins:
      description: Pins the device did not confirm.
      type: list
      elements: int
      returned: always
    pins:
      description:
        - One entry per declared pin, with the mode and level after the task (predicted in check mode) and before it.
        - C(mode) is the mode name, or the integer code for modes without a name; C(state) is V(high) or V(low).
      type: list
      elements: dict
      returned: always
failed_devices:
  description: Ids of the devices that did not answer or did not confirm some pins.
  returned: always
  type: list
  elements: str
  sample: [dev007]
ignored_messages:
  description: Counts of messages received from devices and ignored (malformed, not UTF-8, oversized...), by reason.
  returned: always
  type: dict
  sample: {malformed: 1}
'''

import time
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.picluster.clusterctrl.plugins.module_utils._mqtt_module import (
    check_paho,
    mqtt_argument_spec,
    open_cluster,
    validate_common,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import MqttError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.device_cluster import Request
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import (
    MAX_PULSE_MS,
    OUTPUT_MODES,
    PinMode,
    ProtocolError,
    mode_name,
    parse_mode,
    parse_state,
    state_name,
    validate_device_id,
    validate_pin,
)


def _describe(mode, state):
    if mode is None:
        return {'mode': None, 'mode_code': None, 'state': None}
    return {'mode': mode_name(mode), 'mode_code': mode, 'state': state_name(state)}


def parse_devices(devices):
    """Validate the whole input before anything is published; returns (plan, errors)."""
    errors = []
    plan = []
    seen = set()
    for index, device in enumerate(devices):
        device_id = device['id']
        try:
            validate_device_id(device_id)
        except ProtocolError as exc:
            errors.append('devices[%d]: %s' % (index, exc))
            continue
        if device_id in seen:
            errors.append('device %s is listed more than once' % device_id)
            continue
        seen.add(device_id)
        pins = []
        pin_numbers = set()
        if not device['pins']:
            errors.append('device %s: pins must not be empty' % device_id)
        for entry in device['pins']:
            where = 'device %s pin %s' % (device_id, entry['pin'])
            try:
                validate_pin(entry['pin'])
            except ProtocolError as exc:
                errors.append('device %s: %s' % (device_id, exc))
                continue
            if entry['pin'] in pin_numbers:
                errors.append('%s is listed more than once' % where)
                continue
            pin_numbers.add(entry['pin'])
            desired = {'pin': entry['pin'], 'mode': None, 'state': None, 'pulse_ms': entry['pulse_ms']}
            try:
                if entry['mode'] is not None:
                    desired['mode'] = parse_mode(entry['mode'])
                if entry['state'] is not None:
                    desired['state'] = parse_state(entry['state'])
            except ProtocolError as exc:
                errors.append('%s: %s' % (where, exc))
                continue
            if desired['mode'] is None and desired['state'] is None and desired['pulse_ms'] is None:
                errors.append('%s: nothing declared (set mode, state or pulse_ms)' % where)
                continue
            if desired['mode'] is not None and desired['mode'] not in OUTPUT_MODES and (desired['state'] is not None or desired['pulse_ms'] is not None):
                errors.append('%s: state and pulse_ms need an output pin, but mode is %s' % (where, mode_name(desired['mode'])))
                continue
            if desired['pulse_ms'] is not None:
                if desired['state'] is None:
                    errors.append('%s: pulse_ms needs state (the level of the pulse)' % where)
                    continue
                if not 0 < desired['pulse_ms'] <= MAX_PULSE_MS:
                    errors.append('%s: pulse_ms must be between 1 and %d' % (where, MAX_PULSE_MS))
                    continue
            pins.append(desired)
        plan.append({'id': device_id, 'pins': pins})
    return plan, errors


class PinConverger(object):
    def __init__(self, module, cluster, plan):
        self.module = module
        self.cluster = cluster
        self.plan = plan
        self.check_mode = module.check_mode
        self.results = {}
        self.before = {}
        self.after = {}
        self.failed = {}
        self.changed_devices = set()
        self.confirmed_changes = set()
        self.sent_changes = set()  # devices sent a config/set the broker acknowledged
        self.pulsed = set()
        self.budget_end = None

    def _budget(self):
        if self.budget_end is None:
            self.budget_end = time.monotonic() + self.module.params['total_timeout']
        return max(0.001, self.budget_end - time.monotonic())

    def _fail_device(self, device_id, request_or_msg, pins=None):
        if isinstance(request_or_msg, Request):
            msg = request_or_msg.error or 'device %s did not answer' % device_id
            missing = request_or_msg.missing()
            pins = list(request_or_msg.expect) if missing is None else missing
        else:
            msg = request_or_msg
        self.failed[device_id] = {'msg': msg, 'pins': sorted(pins or [])}

    def run(self):
        devices = list(self.plan)
        # 1. Read the declared pins of every device.
        reads = [Request(device['id'], 'get', [pin['pin'] for pin in device['pins']]) for device in devices]
        self.cluster.execute(reads, budget=self._budget())
        current = {}
        for request in reads:
            if request.ok:
                current[request.device_id] = dict(request.confirmed)
            else:
                self._fail_device(request.device_id, request)
        # 2. Work out what differs.
        configs, sets = [], []
        for device in devices:
            device_id = device['id']
            if device_id in self.failed:
                continue
            now = current[device_id]
            before = self.before[device_id] = {}
            after = self.after[device_id] = {}
            config_entries, set_entries, problems = [], [], []
            for desired in device['pins']:
                pin = desired['pin']
                info = now[pin]
                before[pin] = (info.mode, info.state)
                mode, state = info.mode, info.state
                if desired['mode'] is not None and desired['mode'] != info.mode:
                    mode = desired['mode']
                    entry = {'pin': pin, 'mode': mode}
                    if desired['state'] is not None and desired['pulse_ms'] is None and mode in OUTPUT_MODES:
                        entry['state'] = desired['state']
                        state = desired['state']
                    elif mode not in OUTPUT_MODES:
                        state = 1 if mode == PinMode.INPUT_PULLUP else 0
                    elif info.mode not in OUTPUT_MODES:
                        state = 0  # a pin that becomes an output without a level starts low (see the module's notes)
                    config_entries.append(entry)
                if desired['state'] is not None and mode not in OUTPUT_MODES:
                    problems.append(pin)
                    continue
                if desired['pulse_ms'] is not None:
                    set_entries.append({'pin': pin, 'state': desired['state'], 'time': desired['pulse_ms']})
                    state = 1 - desired['state']
                elif desired['state'] is not None and desired['state'] != state:
                    set_entries.append({'pin': pin, 'state': desired['state']})
                    state = desired['state']
                after[pin] = (mode, state)
            if problems:
                self._fail_device(device_id, 'device %s: pins %s are not outputs (mode %s); declare mode: output to set their level'
                                  % (device_id, ', '.join(str(pin) for pin in problems),
                                     ', '.join(str(mode_name(now[pin].mode)) for pin in problems)), problems)
                continue
            if config_entries or set_entries:
                self.changed_devices.add(device_id)
            if config_entries:
                configs.append(Request(device_id, 'config', config_entries))
            if set_entries:
                sets.append(Request(device_id, 'set', set_entries))
        if self.check_mode:
            return
        # 3. Configure modes, then levels; confirm from the devices' updates.
        if configs:
            self.cluster.execute(configs, budget=self._budget())
            for request in configs:
                self._apply(request)
        sets = [request for request in sets if request.device_id not in self.failed]
        if sets:
            self.cluster.execute(sets, budget=self._budget())
            for request in sets:
                self._apply(request)

    def _apply(self, request):
        after = self.after[request.device_id]
        for pin, info in request.confirmed.items():
            after[pin] = (info.mode, info.state)
            self.confirmed_changes.add(request.device_id)
            pulse = [entry for entry in request.entries if entry['pin'] == pin and entry.get('time')] if request.kind == 'set' else []
            if pulse:
                # A pulse ends at the opposite level; that is the pin's state after the task, as predicted in check mode.
                after[pin] = (info.mode, 1 - pulse[0]['state'])
                self.pulsed.add((request.device_id, pin))
        if request.published:  # the broker took it: the device may have acted even where it did not confirm
            self.sent_changes.add(request.device_id)
        if not request.ok:
            self._fail_device(request.device_id, request)
            for pin in request.missing() or request.expect:
                after[pin] = None

    def report(self):
        devices = {}
        for device in self.plan:
            device_id = device['id']
            failure = self.failed.get(device_id)
            before = self.before.get(device_id, {})
            after = self.after.get(device_id, {})
            pins = []
            for desired in device['pins']:
                pin = desired['pin']
                old = before.get(pin)
                new = after.get(pin)
                entry = {'pin': pin}
                entry.update(_describe(*new) if new else _describe(None, None))
                entry['before'] = _describe(*old) if old else _describe(None, None)
                entry['pulsed'] = (device_id, pin) in self.pulsed
                entry['changed'] = bool(old and new and old != new) or entry['pulsed'] or (
                    self.check_mode and desired['pulse_ms'] is not None and old is not None and device_id not in self.failed)
                entry['confirmed'] = new is not None and (failure is None or pin not in failure['pins'])
                pins.append(entry)
            if self.check_mode:
                changed = device_id in self.changed_devices and failure is None
            else:
                changed = device_id in self.confirmed_changes or device_id in self.sent_changes
            devices[device_id] = {
                'changed': changed,
                'failed': failure is not None,
                'msg': failure['msg'] if failure else '',
                'unconfirmed_pins': failure['pins'] if failure else [],
                'pins': pins,
            }
        return devices

    def diff(self):
        def view(source):
            return dict((device_id, dict(('pin %d' % pin, _describe(*value) if value else None) for pin, value in sorted(pins.items())))
                        for device_id, pins in sorted(source.items()))
        return {'before': view(self.before), 'after': view(self.after)}


def main():
    argument_spec = mqtt_argument_spec()
    argument_spec.update(
        devices=dict(type='list', elements='dict', required=True, options=dict(
            id=dict(type='str', required=True),
            pins=dict(type='list', elements='dict', required=True, options=dict(
                pin=dict(type='int', required=True),
                mode=dict(type='raw'),
                state=dict(type='raw'),
                pulse_ms=dict(type='int'),
            )),
        )),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    plan, errors = parse_devices(module.params['devices'])
    errors = validate_common(module) + errors
    if errors:
        module.fail_json(msg='Invalid arguments (nothing was published): ' + '; '.join(errors), changed=False)
    check_paho(module)
    cluster = open_cluster(module)
    converger = PinConverger(module, cluster, plan)
    try:
        converger.run()
    except MqttError as exc:
        devices = converger.report()
        module.fail_json(msg='MQTT error: %s' % exc, changed=any(result['changed'] for result in devices.values()), devices=devices,
                         failed_devices=sorted(converger.failed), ignored_messages=cluster.ignored_messages())
    except Exception as exc:  # pylint: disable=broad-except
        devices = converger.report()
        module.fail_json(msg='Unexpected error: %s' % exc, exception=traceback.format_exc(), changed=any(d['changed'] for d in devices.values()),
                         devices=devices, failed_devices=sorted(converger.failed))
    finally:
        cluster.stop()
    devices = converger.report()
    result = {
        'changed': any(device['changed'] for device in devices.values()),
        'devices': devices,
        'failed_devices': sorted(converger.failed),
        'ignored_messages': cluster.ignored_messages(),
    }
    if module._diff:
        result['diff'] = converger.diff()
    if converger.failed:
        messages = [converger.failed[device_id]['msg'] for device_id in sorted(converger.failed)]
        result['msg'] = ('%d of %d devices failed: %s. A device refuses a request it cannot do (unknown pin, level on an input) by not '
                         'answering; with MQTT 3.1.1 a broker also drops requests its ACL denies without saying so '
                         '(protocol_version 5 reports that)' % (len(converger.failed), len(devices), '; '.join(messages)))
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
