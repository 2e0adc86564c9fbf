#!/usr/bin/python
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
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
"""

EXAMPLES = r"""
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
"""

RETURN = r"""
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
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.picluster.clusterctrl.plugins.module_utils._mqtt_module import (
    check_paho,
    mqtt_argument_spec,
    open_cluster,
    validate_common,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils._mqtt_pin_converger import PinConverger, parse_devices
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import MqttError


def main() -> None:
    argument_spec = mqtt_argument_spec()
    argument_spec.update(
        devices=dict(
            type='list',
            elements='dict',
            required=True,
            options=dict(
                id=dict(type='str', required=True),
                pins=dict(
                    type='list',
                    elements='dict',
                    required=True,
                    options=dict(
                        pin=dict(type='int', required=True),
                        mode=dict(type='raw'),
                        state=dict(type='raw'),
                        pulse_ms=dict(type='int'),
                    ),
                ),
            ),
        ),
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
        module.fail_json(
            msg=f'MQTT error: {exc}',
            changed=any(result['changed'] for result in devices.values()),
            devices=devices,
            failed_devices=sorted(converger.failed),
            ignored_messages=cluster.ignored_messages(),
        )
    except Exception as exc:  # pylint: disable=broad-except
        devices = converger.report()
        module.fail_json(
            msg=f'Unexpected error: {exc}',
            exception=traceback.format_exc(),
            changed=any(d['changed'] for d in devices.values()),
            devices=devices,
            failed_devices=sorted(converger.failed),
        )
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
        result['msg'] = (
            '%d of %d devices failed: %s. A device refuses a request it cannot do (unknown pin, level on an input) by not '
            'answering; with MQTT 3.1.1 a broker also drops requests its ACL denies without saying so '
            '(protocol_version 5 reports that)' % (len(converger.failed), len(devices), '; '.join(messages))
        )
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
