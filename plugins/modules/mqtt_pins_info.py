#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: mqtt_pins_info
short_description: Read pin modes and levels of MQTT devices (device-cluster protocol)
version_added: 0.1.0
description:
  - Asks one or many devices speaking the MQTT device-cluster pin protocol for the mode and level of their pins
    (a C(get) request each, over one broker connection) and returns what they report.
  - Only C(get) requests are published.
  - A device that does not answer, or does not report some requested pins, makes the task fail with a message naming
    the device and the pins; the results of the other devices are still returned.
author:
  - picluster.clusterctrl contributors (@picluster)
requirements:
  - paho-mqtt >= 1.6.1 on the managed node (C(pip install paho-mqtt) or C(apt install python3-paho-mqtt))
extends_documentation_fragment:
  - picluster.clusterctrl.mqtt
  - picluster.clusterctrl.attributes
  - picluster.clusterctrl.attributes.actiongroup_mqtt
  - picluster.clusterctrl.attributes.info_module
options:
  devices:
    description:
      - Ids of the devices to read. Letters, digits and underscore only, at most 256 characters each.
    type: list
    elements: str
    required: true
  pins:
    description:
      - Pin numbers to read on every device.
      - When not set or empty, every configured pin of each device is read; the first update a device publishes after
        the request is taken as its answer.
    type: list
    elements: int
seealso:
  - module: picluster.clusterctrl.mqtt_pins
'''

EXAMPLES = r'''
- name: Read pins 0 to 3 of two devices
  picluster.clusterctrl.mqtt_pins_info:
    host: broker.example.org
    devices:
      - greenhouse1
      - greenhouse2
    pins: [0, 1, 2, 3]
  register: pin_info

- name: Show the level of pin 2 of greenhouse1
  ansible.builtin.debug:
    msg: "{{ (pin_info.devices.greenhouse1.pins | selectattr('pin', 'equalto', 2) | first).state }}"

- name: Read every configured pin of a device over TLS with a client certificate
  picluster.clusterctrl.mqtt_pins_info:
    host: broker.example.org
    port: 8883
    ca_cert: /etc/ssl/certs/mqtt-ca.pem
    client_cert: /etc/ansible/mqtt-client.crt
    client_key: /etc/ansible/mqtt-client.key
    devices: [door1]
'''

RETURN = r'''
devices:
  description: Per device results, keyed by device id.
  returned: always
  type: dict
  sample:
    dev001:
      failed: false
      msg: ""
      pins:
        - pin: 0
          mode: output
          mode_code: 3
          state: high
  contains:
    failed:
      description: Whether the device did not answer or did not report some pins.
      type: bool
      returned: always
    msg:
      description: What went wrong with this device, empty if nothing did.
      type: str
      returned: always
    unconfirmed_pins:
      description: Requested pins the device did not report.
      type: list
      elements: int
      returned: always
    pins:
      description:
        - Reported pins, sorted by number. C(mode) is the mode name, or the integer code for modes without a name;
          C(mode_code) is always the integer; C(state) is V(high) or V(low).
      type: list
      elements: dict
      returned: always
failed_devices:
  description: Ids of the devices that did not answer or did not report some pins.
  returned: always
  type: list
  elements: str
  sample: []
ignored_messages:
  description: Counts of messages received from devices and ignored (malformed, not UTF-8, oversized...), by reason.
  returned: always
  type: dict
  sample: {}
'''

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
    ProtocolError,
    mode_name,
    state_name,
    validate_device_id,
    validate_pin,
)


def main():
    argument_spec = mqtt_argument_spec()
    argument_spec.update(
        devices=dict(type='list', elements='str', required=True),
        pins=dict(type='list', elements='int'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    errors = validate_common(module)
    device_ids = module.params['devices']
    pins = module.params['pins'] or []
    if not device_ids:
        errors.append('devices must not be empty')
    if len(set(device_ids)) != len(device_ids):
        errors.append('a device is listed more than once')
    if len(set(pins)) != len(pins):
        errors.append('a pin is listed more than once')
    for device_id in device_ids:
        try:
            validate_device_id(device_id)
        except ProtocolError as exc:
            errors.append(str(exc))
    for pin in pins:
        try:
            validate_pin(pin)
        except ProtocolError as exc:
            errors.append(str(exc))
    if errors:
        module.fail_json(msg='Invalid arguments (nothing was published): ' + '; '.join(errors))
    check_paho(module)
    cluster = open_cluster(module)
    requests = [Request(device_id, 'get', pins) for device_id in device_ids]
    try:
        cluster.execute(requests, budget=module.params['total_timeout'])
    except MqttError as exc:
        devices, failed = report(requests)
        module.fail_json(msg='MQTT error: %s' % exc, devices=devices, failed_devices=failed)
    except Exception as exc:  # pylint: disable=broad-except
        devices, failed = report(requests)
        module.fail_json(msg='Unexpected error: %s' % exc, exception=traceback.format_exc(), devices=devices, failed_devices=failed)
    finally:
        cluster.stop()
    devices, failed = report(requests)
    result = {'changed': False, 'devices': devices, 'failed_devices': failed, 'ignored_messages': cluster.ignored_messages()}
    if failed:
        result['msg'] = '%d of %d devices failed: %s' % (len(failed), len(devices), '; '.join(devices[device_id]['msg'] for device_id in failed))
        module.fail_json(**result)
    module.exit_json(**result)


def report(requests):
    """Per device what was read (also after a failure midway), and the devices that failed."""
    devices = {}
    failed = []
    for request in requests:
        reported = [{'pin': info.pin, 'mode': mode_name(info.mode), 'mode_code': info.mode, 'state': state_name(info.state)}
                    for pin, info in sorted(request.confirmed.items())]
        missing = request.missing()
        devices[request.device_id] = {
            'failed': not request.ok,
            'msg': '' if request.ok else request.error or 'device %s did not answer' % request.device_id,
            'unconfirmed_pins': [] if request.ok else (missing if missing is not None else []),
            'pins': reported,
        }
        if not request.ok:
            failed.append(request.device_id)
    return devices, failed


if __name__ == '__main__':
    main()
