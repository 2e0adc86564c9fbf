# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""PRIVATE: what the mqtt_pins module does with its declaration: validate it, converge the devices, report.

``parse_devices`` checks the whole declaration before anything is published; ``PinConverger`` reads
the declared pins of every device, sends ``config`` and ``set`` requests only for what differs
(nothing that changes a device in check mode) and builds the per-device result and the diff.

This file is PRIVATE to the collection. It is not part of its public API and may change or
disappear without notice; do not use it from other collections.
"""

from __future__ import annotations

import time

from ansible_collections.picluster.clusterctrl.plugins.module_utils._mqtt_module import describe_pin
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import (
    MAX_PULSE_MS,
    OUTPUT_MODES,
    PinMode,
    ProtocolError,
    mode_name,
    parse_mode,
    parse_state,
    validate_device_id,
    validate_pin,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.request import Request


def parse_devices(devices: list) -> tuple:
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
            errors.append(f'device {device_id} is listed more than once')
            continue
        seen.add(device_id)
        pins = []
        pin_numbers = set()
        if not device['pins']:
            errors.append(f'device {device_id}: pins must not be empty')
        for entry in device['pins']:
            where = 'device {} pin {}'.format(device_id, entry['pin'])
            try:
                validate_pin(entry['pin'])
            except ProtocolError as exc:
                errors.append(f'device {device_id}: {exc}')
                continue
            if entry['pin'] in pin_numbers:
                errors.append(f'{where} is listed more than once')
                continue
            pin_numbers.add(entry['pin'])
            desired = {'pin': entry['pin'], 'mode': None, 'state': None, 'pulse_ms': entry['pulse_ms']}
            try:
                if entry['mode'] is not None:
                    desired['mode'] = parse_mode(entry['mode'])
                if entry['state'] is not None:
                    desired['state'] = parse_state(entry['state'])
            except ProtocolError as exc:
                errors.append(f'{where}: {exc}')
                continue
            if desired['mode'] is None and desired['state'] is None and desired['pulse_ms'] is None:
                errors.append(f'{where}: nothing declared (set mode, state or pulse_ms)')
                continue
            if desired['mode'] is not None and desired['mode'] not in OUTPUT_MODES and (desired['state'] is not None or desired['pulse_ms'] is not None):
                errors.append('{}: state and pulse_ms need an output pin, but mode is {}'.format(where, mode_name(desired['mode'])))
                continue
            if desired['pulse_ms'] is not None:
                if desired['state'] is None:
                    errors.append(f'{where}: pulse_ms needs state (the level of the pulse)')
                    continue
                if not 0 < desired['pulse_ms'] <= MAX_PULSE_MS:
                    errors.append('%s: pulse_ms must be between 1 and %d' % (where, MAX_PULSE_MS))
                    continue
            pins.append(desired)
        plan.append({'id': device_id, 'pins': pins})
    return plan, errors


class PinConverger:
    """Converges the devices of a plan (``parse_devices``) on a started ``DeviceCluster``; ``module`` gives check mode and total_timeout."""

    def __init__(self, module, cluster, plan: list):
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
            msg = request_or_msg.error or f'device {device_id} did not answer'
            missing = request_or_msg.missing()
            pins = list(request_or_msg.expect) if missing is None else missing
        else:
            msg = request_or_msg
        self.failed[device_id] = {'msg': msg, 'pins': sorted(pins or [])}

    def run(self) -> None:
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
                self._fail_device(
                    device_id,
                    'device {}: pins {} are not outputs (mode {}); declare mode: output to set their level'.format(
                        device_id, ', '.join(str(pin) for pin in problems), ', '.join(str(mode_name(now[pin].mode)) for pin in problems)
                    ),
                    problems,
                )
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

    def report(self) -> dict:
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
                entry.update(describe_pin(*new) if new else describe_pin(None, None))
                entry['before'] = describe_pin(*old) if old else describe_pin(None, None)
                entry['pulsed'] = (device_id, pin) in self.pulsed
                entry['changed'] = (
                    bool(old and new and old != new)
                    or entry['pulsed']
                    or (self.check_mode and desired['pulse_ms'] is not None and old is not None and device_id not in self.failed)
                )
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

    def diff(self) -> dict:
        def view(source):
            return dict(
                (device_id, dict(('pin %d' % pin, describe_pin(*value) if value else None) for pin, value in sorted(pins.items())))
                for device_id, pins in sorted(source.items())
            )

        return {'before': view(self.before), 'after': view(self.after)}
