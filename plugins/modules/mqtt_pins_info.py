#!/usr/bin/python
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
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
      - When not set or empty, every configured pin of each device is read. Nothing in the protocol says which pins
        a device has, and a device may answer in several updates or publish an unrelated update just before its
        answer, so every update the device publishes after the request is collected until it has been quiet for
        O(settle_time) seconds. When the device is still sending after O(timeout) seconds, what it sent until then
        is returned with RV(devices.complete=false), and a warning says so.
    type: list
    elements: int
  settle_time:
    description:
      - With O(pins) empty, seconds a device must stay quiet after its last update before its answer counts as complete.
      - Each read of every pin takes at least this long. Greater than V(0), and less than O(timeout) when O(pins) is empty.
      - When not set, V(0.5), or half of O(timeout) when that is shorter.
    type: float
seealso:
  - module: picluster.clusterctrl.mqtt_pins
"""

EXAMPLES = r"""
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
  register: door

- name: Go on only with the device's whole answer
  ansible.builtin.assert:
    that: door.devices.door1.complete
"""

RETURN = r"""
devices:
  description:
    - Per device results, keyed by device id.
    - Also returned when the task fails (a device did not answer, the broker could not be reached, the connection
      was lost), with what was read until then. Empty when the arguments were refused.
  returned: always
  type: dict
  sample:
    dev001:
      failed: false
      complete: true
      msg: ""
      unconfirmed_pins: []
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
    complete:
      description:
        - Whether RV(devices.pins) is the device's whole answer.
        - With O(pins) set, true when every requested pin was reported.
        - With O(pins) empty, true when the device's answer settled (no further update for O(settle_time) seconds).
          False when the device did not answer, or was still sending when O(timeout) ran out; RV(devices.pins) then
          holds what it sent until then, which may lack some of its pins.
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
  description:
    - Ids of the devices that did not answer or did not report some pins.
    - Every device when the broker could not be reached; none when the arguments were refused.
  returned: always
  type: list
  elements: str
  sample: []
ignored_messages:
  description: Counts of messages received from devices and ignored (malformed, not UTF-8, oversized...), by reason.
  returned: always
  type: dict
  sample: {}
"""

import math
import traceback
from typing import Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.picluster.clusterctrl.plugins.module_utils._mqtt_module import (
    check_paho,
    describe_pin,
    mqtt_argument_spec,
    open_cluster,
    validate_common,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import MqttError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import (
    DEFAULT_SETTLE,
    ProtocolError,
    validate_device_id,
    validate_pin,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.request import Request


def validate(params: dict) -> list[str]:
    """This module's own argument checks (the connection options are validate_common's)."""
    errors = []
    device_ids = params['devices']
    pins = params['pins'] or []
    if not device_ids:
        errors.append('devices must not be empty')
    if len(set(device_ids)) != len(device_ids):
        errors.append('a device is listed more than once')
    if len(set(pins)) != len(pins):
        errors.append('a pin is listed more than once')
    for value, check in [(device_id, validate_device_id) for device_id in device_ids] + [(pin, validate_pin) for pin in pins]:
        try:
            check(value)
        except ProtocolError as exc:
            errors.append(str(exc))
    settle_time = params['settle_time']
    if settle_time is not None and (not math.isfinite(settle_time) or settle_time <= 0):
        errors.append(f'settle_time must be a finite number of seconds greater than 0, got {settle_time:.10g}')
    elif settle_time is not None and not pins and settle_time >= params['timeout']:
        # A read of every pin could never settle: it would always end incomplete.
        errors.append(f'settle_time must be less than timeout ({params["timeout"]:g}) to read every pin, got {settle_time:.10g}')
    return errors


def device_result(request: Request, error: Optional[str] = None) -> dict:
    """One device's entry in ``devices``; ``error``: why the run stopped, for a device it did not reach."""
    missing = request.missing()
    if request.ok:
        msg = ''
    elif request.status == 'queued':
        msg = f'device {request.device_id} was not read: {error}'
    else:
        msg = request.error or f'device {request.device_id} did not answer'
    return {
        'failed': not request.ok,
        'complete': request.complete,
        'msg': msg,
        'unconfirmed_pins': [] if request.ok or missing is None else missing,
        'pins': [{'pin': pin, **describe_pin(info.mode, info.state)} for pin, info in sorted(request.confirmed.items())],
    }


def report(requests: list[Request], error: Optional[str] = None, ignored_messages: Optional[dict] = None) -> dict:
    """The result without its message: per device, the failed ones, and the ignored messages (also after a failure midway)."""
    devices = {request.device_id: device_result(request, error) for request in requests}
    return {
        'changed': False,
        'devices': devices,
        'failed_devices': [device_id for device_id, result in devices.items() if result['failed']],
        'ignored_messages': ignored_messages or {},
    }


def main() -> None:
    argument_spec = mqtt_argument_spec()
    argument_spec.update(
        devices=dict(type='list', elements='str', required=True),
        pins=dict(type='list', elements='int'),
        settle_time=dict(type='float'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    errors = validate_common(module) + validate(module.params)
    if errors:
        module.fail_json(msg='Invalid arguments (nothing was published): ' + '; '.join(errors), **report([]))
    check_paho(module)
    pins = module.params['pins'] or []
    settle = module.params['settle_time']
    if settle is None:
        settle = min(DEFAULT_SETTLE, module.params['timeout'] / 2)
    requests = [Request(device_id, 'get', pins, settle=settle) for device_id in module.params['devices']]
    cluster = open_cluster(module, on_failure=lambda message: report(requests, message))
    error = None
    details = {}
    try:
        cluster.execute(requests, budget=module.params['total_timeout'])
    except MqttError as exc:
        error = f'MQTT error: {exc}'
    except Exception as exc:  # pylint: disable=broad-except
        error, details = f'Unexpected error: {exc}', {'exception': traceback.format_exc()}
    finally:
        cluster.stop()
    result = report(requests, error, cluster.ignored_messages())
    for device_id, device in result['devices'].items():
        if not device['failed'] and not device['complete']:
            module.warn(f'device {device_id} was still sending updates when its timeout ran out: its pins may be incomplete (complete: false)')
    failed = result['failed_devices']
    if error is None and failed:
        error = f'{len(failed)} of {len(requests)} devices failed: ' + '; '.join(result['devices'][device_id]['msg'] for device_id in failed)
    if error is not None:
        module.fail_json(msg=error, **details, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
