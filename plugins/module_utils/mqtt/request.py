# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``Request``: one config/set/get request of the synchronous ``DeviceCluster`` to one device, and its outcome.

A request is confirmed by content (spec ``mqtt-device-cluster-protocol.md`` §3): updates received
after it was published must cover every requested pin with the requested mode (``config``) /
state (``set``) or at all (``get``); a pulse (``set`` with ``time``) accepts either level, since
firmware reports before or after the revert. A ``get`` of every pin (``[]``) cannot be confirmed
by content: its answer is whatever the device reported until it settled.
``DeviceTimeout`` is the error of a request that was not confirmed in time.
"""

from __future__ import annotations

import collections
import math

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import MqttError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import (
    OUTPUT_MODES,
    PinInfo,
    ProtocolError,
    encode_config,
    encode_get,
    encode_set,
    parse_mode,
    parse_state,
    validate_device_id,
    validate_pin,
)

__all__ = ['DeviceTimeout', 'Request', 'timeout_message', 'validate_settle']


class DeviceTimeout(MqttError):
    """A device did not confirm some pins in time."""

    def __init__(self, device_id, kind, pins, timeout, published=True):
        self.device_id = device_id
        self.kind = kind
        self.pins = sorted(pins) if pins is not None else None
        self.timeout = timeout
        self.published = published
        super().__init__(timeout_message(device_id, kind, self.pins, timeout, published))


def timeout_message(device_id: str, kind: str, pins: list | None, timeout: float, published: bool) -> str:
    """What went wrong with a request that was not confirmed (``pins`` None: a get of every pin that got no answer)."""
    if not published:
        return f'request {kind} to device {device_id} was not acknowledged by the MQTT broker within {timeout:.1f}s'
    if pins is None:
        return f'device {device_id} did not answer the {kind} request within {timeout:.1f}s'
    return 'device {} did not confirm pins {} ({}) within {:.1f}s'.format(device_id, ', '.join(str(pin) for pin in pins), kind, timeout)


def validate_settle(value) -> float:
    """A settle time must be a finite number of seconds above 0: at 0, the first update would count as the whole answer."""
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f'settle must be a finite number of seconds greater than 0, got {value:g}')
    return value


class Request:
    """One config/set/get request to one device, and its outcome.

    ``status``: ``queued`` -> ``sent`` -> ``done`` | ``timeout`` | ``not_sent`` | ``error``.
    ``confirmed``: ``{pin: PinInfo}`` from the updates that confirmed it.
    ``settle`` (a get of every pin only): seconds without a further update from the device after
    which its answer is complete (None: the cluster's default). ``settled``: whether it was, or
    whether the request's time ran out while the device was still sending (None until done).
    """

    def __init__(self, device_id, kind, pins=None, timeout=None, settle=None):
        self.device_id = validate_device_id(device_id)
        if kind not in ('config', 'set', 'get'):
            raise ProtocolError(f'unknown request kind {kind!r}')
        self.kind = kind
        self.timeout = timeout
        self.settle = None if settle is None else validate_settle(settle)
        self.last_update = None
        self.settled = None
        self.expect = collections.OrderedDict()
        if kind == 'get':
            pins = [validate_pin(pin) for pin in (pins or [])]
            self.entries = pins
            self.payload = encode_get(pins)
            for pin in pins:
                self.expect[pin] = (None, None)
        elif kind == 'config':
            self.entries = [dict(entry) for entry in pins]
            self.payload = encode_config(self.entries)
            for entry in self.entries:
                mode = parse_mode(entry['mode'])
                state = entry.get('state')
                state = parse_state(state) if state is not None and mode in OUTPUT_MODES else None
                self.expect[entry['pin']] = (mode, state)
        else:
            self.entries = [dict(entry) for entry in pins]
            self.payload = encode_set(self.entries)
            for entry in self.entries:
                # A pulse accepts either level: firmware reports the commanded level, the reverted one, or both.
                state = None if entry.get('time') else parse_state(entry['state'])
                self.expect[entry['pin']] = (None, state)
        if kind != 'get' and not self.expect:
            raise ProtocolError(f'a {kind} request needs at least one pin')
        if len(self.expect) != len(self.entries):
            raise ProtocolError(f'pin listed twice in one {kind} request to {device_id}')
        self.all_pins = kind == 'get' and not self.expect
        self.remaining = set(self.expect)
        self.confirmed = collections.OrderedDict()
        self.status = 'queued'
        self.error = None
        self.published = None
        self.info = None
        self.threshold = None
        self.deadline = None
        self.generation = None
        self.republish = False

    @property
    def is_pulse(self) -> bool:
        return self.kind == 'set' and any(entry.get('time') for entry in self.entries)

    @property
    def ok(self) -> bool:
        return self.status == 'done'

    @property
    def complete(self) -> bool:
        """Done, and for a get of every pin, settled: the answer is known to be whole."""
        return self.ok and (not self.all_pins or bool(self.settled))

    def settle_at(self) -> float | None:
        """When the answer to a get of every pin settles if no further update comes (None before the first one)."""
        if not self.all_pins or self.last_update is None:
            return None
        return self.last_update + self.settle

    def matches(self, info: PinInfo) -> bool:
        if self.all_pins:
            return True
        if info.pin not in self.remaining:
            return False
        mode, state = self.expect[info.pin]
        if mode is not None and info.mode != mode:
            return False
        return state is None or info.state == state

    def missing(self) -> list | None:
        """Pins not confirmed (None for a get of every pin that got no answer)."""
        if self.all_pins:
            return None if self.status != 'done' else []
        return sorted(self.remaining)

    def raise_for_status(self) -> None:
        if self.status == 'done':
            return
        if self.status in ('timeout', 'not_sent'):
            raise DeviceTimeout(self.device_id, self.kind, self.missing(), self.timeout or 0, published=self.published is not False)
        raise MqttError(self.error or f'request {self.kind} to {self.device_id} failed')

    def __repr__(self):
        return f'Request({self.device_id!r}, {self.kind!r}, {self.entries!r}, status={self.status!r})'
