# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Saving and restoring one emulated ClusterCTRL board: its RAM, pins, EEPROM, counters and pending activity.

``FirmwareState`` is mixed into ``ClusterCTRLFirmware``: ``to_dict`` writes everything needed to
restore the board exactly as JSON-serialisable data, and ``from_dict`` checks every saved field
against the board's own sizes before it rebuilds the board (a saved state is read from a file a
user can edit). Section numbers point into the project's protocol spec (``clusterctrl-protocol.md``).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import SUPPORTED_FIRMWARE, BoardType
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import DATA_REGISTERS, REGISTER_FILE_SIZE
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware_constants import (
    DA_MUX_PORTS,
    STACK_COOLING_INPUTS,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.state_fields import (
    COUNTER_MAX,
    Fields,
    StateError,
    check_int,
    describe,
)

_Firmware = TypeVar('_Firmware', bound='FirmwareState')

# Saved boot-log events (see ``_boot``): the fields each has besides t_ms and event, and their type.
BOOT_EVENTS = {'boot': {'cause': str}, 'alert': {'value': bool}, 'power': {'pi': int, 'value': bool}, 'usb': {}, 'da_scan': {'exists': int}}


class FirmwareState:
    """Persistence of ``ClusterCTRLFirmware``; ``from_dict`` builds the board with the model's constructor."""

    _RAM_BYTES = ('regs', 'enp', 'enpled', 'usbboot', 'eeprom')
    # Saved scalars: ``bool`` or the largest value of an integer one (the smallest is 0).
    _SCALARS = {
        'ptr': 0xFF,
        'pending': COUNTER_MAX,
        'fanstatus': 0xFF,
        'fan_pin': bool,
        'alert': bool,
        'hub_on': bool,
        'enpwr': bool,
        'pwr_led': bool,
        'enact': bool,
        'present': bool,
        'hub_cycles': COUNTER_MAX,
        'boot_count': COUNTER_MAX,
        'act_flashes': COUNTER_MAX,
        'busy_messages': COUNTER_MAX,
        'temperature_raw': 0x3FF,
        'cooling_requests': (1 << STACK_COOLING_INPUTS) - 1,
        'eeprom_writes': COUNTER_MAX,
        'boot_ms': COUNTER_MAX,
        '_order_written': bool,
    }
    _LISTS = ('power_pins', 'led_pins', 'usbboot_pins', 'written_data', 'hat_ports')

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to restore this board exactly; JSON-serialisable."""
        d = {
            'board': self.board.value,
            'firmware': self.firmware,
            'head': self.head,
            'fix_led_en_bug': self.fix_led_en_bug,
            'eeprom_write_counts': {f'{k}': v for k, v in sorted(self.eeprom_write_counts.items())},
            'adc_raw': {f'{k}': v for k, v in sorted(self.adc_raw.items())},
            'boot_log': [dict(e) for e in self.boot_log],
            'activity': [dict(r, args=list(r['args'])) for r in self._activity],
        }
        for name in self._RAM_BYTES:
            d[name.lstrip('_')] = list(getattr(self, name))
        for name in self._SCALARS:
            d[name.lstrip('_')] = getattr(self, name)
        for name in self._LISTS:
            d[name] = list(getattr(self, name))
        if self.spec.gpio == 'E':
            d['exists'] = self.exists
            d['hats'] = {f'{port}': {'power': list(h['power']), 'led': h['led'], 'hub': h['hub']} for port, h in sorted(self.hats.items())}
        return d

    @classmethod
    def from_dict(cls: type[_Firmware], d: Any) -> _Firmware:
        """Rebuild a board saved by ``to_dict`` (RAM, pointer, pins, EEPROM, counters, presence).

        Every field is checked against the board's own sizes; a missing, unknown, wrong-typed or
        out-of-range field raises ``StateError`` (a ValueError) naming it, e.g. ``regs: expected a
        list of 15 integers 0-255``.
        """
        fields = Fields(d)
        board = BoardType.from_name(fields.text('board', [bt.value for bt in BoardType]))
        spec = board.spec
        firmware = fields.text('firmware', SUPPORTED_FIRMWARE)
        head = fields.boolean('head')
        if head and firmware != '1.8':
            raise StateError('head', 'true only with firmware 1.8 (HEAD reports 1.8)')
        da = spec.gpio == 'E'
        hat_ports = fields.int_list('hat_ports', 0, DA_MUX_PORTS - 1, DA_MUX_PORTS if da else 0, unique=True)
        self = cls(
            board,
            firmware=firmware,
            head=head,
            fix_led_en_bug=fields.boolean('fix_led_en_bug'),
            eeprom=fields.byte_list('eeprom', spec.eeprom_size),
            da_hat_ports=hat_ports,
        )
        for name, length in (('regs', REGISTER_FILE_SIZE), ('enp', self.ctrl_size), ('enpled', self.ctrl_size), ('usbboot', self.ctrl_size)):
            setattr(self, name, fields.byte_list(name, length))
        for name, high in self._SCALARS.items():
            key = name.lstrip('_')
            setattr(self, name, fields.boolean(key) if high is bool else fields.integer(key, 0, high))
        for name in ('power_pins', 'led_pins', 'usbboot_pins'):
            setattr(self, name, fields.bool_list(name, spec.maxpi))
        self.written_data = fields.int_list('written_data', 0, DATA_REGISTERS - 1, DATA_REGISTERS, unique=True)
        self.eeprom_write_counts = {
            _decimal_key(key, where, spec.eeprom_size - 1): check_int(where, count, 0, COUNTER_MAX) for key, count, where in fields.items('eeprom_write_counts')
        }
        adc_raw = {_decimal_key(key, where, 0xFF): check_int(where, raw, 0, 0x3FF) for key, raw, where in fields.items('adc_raw')}
        if sorted(adc_raw) != sorted(self.adc_raw):
            channels = ', '.join(f'"{c}"' for c in sorted(self.adc_raw)) or 'none'
            raise StateError('adc_raw', f'the {spec.product} has ADC channels {channels}, got {sorted(adc_raw)}')
        self.adc_raw = adc_raw
        self.boot_log = [_boot_event(entry, f'boot_log[{i}]') for i, entry in enumerate(fields.sequence('boot_log', max_length=1000))]
        self._activity = [_activity_record(entry, f'activity[{i}]') for i, entry in enumerate(fields.sequence('activity', max_length=10000))]
        if da:
            self.exists = fields.integer('exists', 0, 0xFF)
            self.hats = {}
            for key, saved, where in fields.items('hats'):
                hat = Fields(saved, where)
                self.hats[_decimal_key(key, where, DA_MUX_PORTS - 1)] = {
                    'power': hat.bool_list('power', 4),
                    'led': hat.boolean('led'),
                    'hub': hat.boolean('hub'),
                }
                hat.finish()
            if sorted(self.hats) != self.hat_ports:
                raise StateError('hats', f'expected one entry per port of hat_ports {self.hat_ports}, got ports {sorted(self.hats)}')
        fields.finish()
        return self


def _decimal_key(key, where, high):
    """A mapping key written by ``f'{n}'`` (0 <= n <= high): decimal digits, no sign, no leading zero."""
    if not re.match(r'(0|[1-9][0-9]{0,5})\Z', key) or int(key) > high:
        raise StateError(where, f'expected a key "0" to "{high}"')
    return int(key)


def _boot_event(entry, where):
    fields = Fields(entry, where)
    event = {'t_ms': fields.integer('t_ms'), 'event': fields.text('event', sorted(BOOT_EVENTS))}
    for name, kind in BOOT_EVENTS[event['event']].items():
        if kind is str:
            event[name] = fields.text(name)
        elif kind is bool:
            event[name] = fields.boolean(name)
        else:
            event[name] = fields.integer(name, 0, 0xFF)
    fields.finish()
    return event


def _activity_record(entry, where):
    """One record of ``_command_record`` not yet drained by the adapter."""
    fields = Fields(entry, where)
    record = {
        'code': fields.integer('code', 0, 0xFF),
        'name': fields.text('name'),
        'args': fields.int_list('args', 0, 0xFF, DATA_REGISTERS),
        'deferred': fields.boolean('deferred'),
    }
    status = fields.get('status')
    record['status'] = None if status is None else check_int(fields.path('status'), status, 0, 0xFF)
    duration = fields.get('duration_ms')
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 <= duration <= COUNTER_MAX:
        raise StateError(fields.path('duration_ms'), f'expected a number of milliseconds, got {describe(duration)}')
    record['duration_ms'] = duration
    fields.finish()
    return record
