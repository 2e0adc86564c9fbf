# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Wire format of the MQTT device-cluster pin protocol.

Topics, pin modes and states, payload encoding and strict decoding of what devices send.
Pure Python, no third-party imports: usable on the controller, on managed nodes and in tests.

Topics (``{prefix}`` defaults to ``device``)::

    {prefix}/{id}/pin/config   controller -> device  [{"pin": int, "mode": int, "state": int?}, ...]
    {prefix}/{id}/pin/set      controller -> device  [{"pin": int, "state": int, "time": int?}, ...]
    {prefix}/{id}/pin/get      controller -> device  [pin, ...]   ([] = every configured pin)
    {prefix}/{id}/pin/update   device -> controller  [{"pin": int, "mode": int, "state": int}, ...]
"""

from __future__ import annotations

import enum
import json
import re
from collections import namedtuple

DEFAULT_PREFIX = 'device'
# Updates larger than this are ignored (a device reporting every pin of an ESP32 needs < 4 KiB).
DEFAULT_MAX_PAYLOAD = 64 * 1024
# A get of every pin has no content to be confirmed by (§3): its answer is complete once the device has
# sent no further update for this many seconds.
DEFAULT_SETTLE = 0.5
MAX_PIN = 65535
# Longest pulse the client accepts: one day.
MAX_PULSE_MS = 24 * 3600 * 1000

_DEVICE_ID_RE = re.compile(r'\w+')
# Longest device id accepted: a topic is at most 65535 bytes, and a longer id is a mistake, not a device
# (paho would raise "Publish topic is too long" halfway through a batch instead).
MAX_DEVICE_ID_LENGTH = 256
MAX_PREFIX_LENGTH = 1024
_FORBIDDEN_TOPIC_CHARS = ('/', '+', '#', '\x00')


class ProtocolError(ValueError):
    """An argument that can never be put on the wire (bad device id, pin, mode, state, prefix)."""


class PayloadError(ValueError):
    """A payload received from a device that does not follow the protocol.

    ``kind`` is one of ``oversized``, ``not_utf8``, ``not_json``, ``malformed``.
    """

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


class PinMode(enum.IntEnum):
    """Pin modes: the bit values of the Arduino-ESP32 ``pinMode`` constants."""

    DISABLED = -1
    INPUT = 1
    OUTPUT = 3
    INPUT_PULLUP = 5
    INPUT_PULLDOWN = 9
    # Later firmware.
    OPEN_DRAIN = 0x10
    OUTPUT_OPEN_DRAIN = 0x13
    ANALOG = 0xC0


class PinState(enum.IntEnum):
    """Pin levels."""

    LOW = 0
    HIGH = 1

    def __invert__(self):
        return PinState.HIGH if self == PinState.LOW else PinState.LOW


# Modes whose level can be driven with ``set`` (or ``state`` in ``config``).
OUTPUT_MODES = frozenset([int(PinMode.OUTPUT), int(PinMode.OUTPUT_OPEN_DRAIN)])
# The modes a user names in a playbook (the protocol's original five).
MODE_NAMES = ('disabled', 'input', 'output', 'input_pullup', 'input_pulldown')
PinInfo = namedtuple('PinInfo', ['pin', 'mode', 'state'])
PinInfo.__doc__ = 'What a device reported for one pin: pin number, mode (int) and state (int).'


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def validate_device_id(device_id):
    """Return ``device_id`` if it is a valid device id (``\\w+``), raise ProtocolError otherwise."""
    if not isinstance(device_id, str) or not device_id:
        raise ProtocolError(f'device id must be a non-empty string, got {device_id!r}')
    if len(device_id) > MAX_DEVICE_ID_LENGTH:
        raise ProtocolError('device id %r... is %d characters long, more than the limit of %d' % (device_id[:16], len(device_id), MAX_DEVICE_ID_LENGTH))
    for char in _FORBIDDEN_TOPIC_CHARS:
        if char in device_id:
            raise ProtocolError(f'device id {device_id!r} contains {char!r}, which can never be part of a device id')
    if not _DEVICE_ID_RE.fullmatch(device_id):
        raise ProtocolError(f'device id {device_id!r} is invalid: only letters, digits and underscore are allowed')
    return device_id


def validate_prefix(prefix):
    """Return ``prefix`` if it can be used as a topic prefix, raise ProtocolError otherwise."""
    if not isinstance(prefix, str) or not prefix:
        raise ProtocolError('topic prefix must be a non-empty string')
    if len(prefix) > MAX_PREFIX_LENGTH:
        raise ProtocolError('topic prefix is %d characters long, more than the limit of %d' % (len(prefix), MAX_PREFIX_LENGTH))
    for char in ('+', '#', '\x00'):
        if char in prefix:
            raise ProtocolError(f'topic prefix {prefix!r} must not contain {char!r}')
    if prefix.startswith('/') or prefix.endswith('/') or '//' in prefix:
        raise ProtocolError(f'topic prefix {prefix!r} must not start or end with "/" or contain empty levels')
    return prefix


def validate_pin(pin):
    if not _is_int(pin) or pin < 0 or pin > MAX_PIN:
        raise ProtocolError('pin must be an integer between 0 and %d, got %r' % (MAX_PIN, pin))
    return pin


def parse_mode(value):
    """Convert a mode name (``output``), an integer or a numeric string to the integer mode.

    Unknown integer modes are passed through unchanged.
    """
    if isinstance(value, PinMode):
        return int(value)
    if _is_int(value):
        if value < -1 or value > 0xFFFF:
            raise ProtocolError(f'pin mode {value!r} is out of range')
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            return int(PinMode[text.upper()])
        except KeyError:
            pass
        try:
            return parse_mode(int(text, 0))
        except ValueError:
            pass
    raise ProtocolError('unknown pin mode {!r}: use one of {} or an integer code'.format(value, ', '.join(MODE_NAMES)))


def parse_state(value):
    """Convert ``high``/``low``, ``1``/``0`` or a boolean to the integer state."""
    if isinstance(value, bool):
        return int(value)
    if _is_int(value) and value in (0, 1):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ('high', '1', 'on', 'true'):
            return 1
        if text in ('low', '0', 'off', 'false'):
            return 0
    raise ProtocolError(f'unknown pin state {value!r}: use high or low')


def mode_name(mode):
    """The lower-case name of a mode, or the integer itself when the mode is unknown."""
    try:
        return PinMode(mode).name.lower()
    except ValueError:
        return mode


def state_name(state):
    if state == 1:
        return 'high'
    if state == 0:
        return 'low'
    return state


class Topics:
    """Topic names for one prefix."""

    def __init__(self, prefix=DEFAULT_PREFIX):
        self.prefix = validate_prefix(prefix)
        self._levels = len(self.prefix.split('/'))

    def _topic(self, device_id, leaf):
        return f'{self.prefix}/{validate_device_id(device_id)}/pin/{leaf}'

    def config(self, device_id):
        return self._topic(device_id, 'config')

    def set(self, device_id):
        return self._topic(device_id, 'set')

    def get(self, device_id):
        return self._topic(device_id, 'get')

    def update(self, device_id):
        return self._topic(device_id, 'update')

    def command(self, kind, device_id):
        if kind not in ('config', 'set', 'get'):
            raise ProtocolError(f'unknown request kind {kind!r}')
        return self._topic(device_id, kind)

    @property
    def all_updates(self):
        """Subscription filter for every device's updates."""
        return f'{self.prefix}/+/pin/update'

    def parse(self, topic):
        """Split a topic into ``(device_id, leaf)``; ``None`` if it is not a pin topic of this prefix."""
        if not topic.startswith(self.prefix + '/'):
            return None
        rest = topic.removeprefix(self.prefix + '/').split('/')
        if len(rest) != 3 or rest[1] != 'pin':
            return None
        device_id, leaf = rest[0], rest[2]
        if not _DEVICE_ID_RE.fullmatch(device_id):
            return None
        return device_id, leaf


def _dumps(obj):
    return json.dumps(obj, separators=(',', ':')).encode('utf-8')


def encode_config(pins):
    """Encode a ``config`` request. ``pins``: iterable of ``{"pin", "mode", "state"?}`` (ConfigPin)."""
    items = []
    for entry in pins:
        item = {'pin': validate_pin(entry['pin']), 'mode': parse_mode(entry['mode'])}
        if entry.get('state') is not None:
            item['state'] = parse_state(entry['state'])
        items.append(item)
    return _dumps(items)


def encode_set(pins):
    """Encode a ``set`` request. ``pins``: iterable of ``{"pin", "state", "time"?}`` (SetPin)."""
    items = []
    for entry in pins:
        item = {'pin': validate_pin(entry['pin']), 'state': parse_state(entry['state'])}
        if entry.get('time') is not None:
            duration = entry['time']
            if not _is_int(duration) or duration <= 0 or duration > MAX_PULSE_MS:
                raise ProtocolError('pulse time must be an integer number of milliseconds between 1 and %d, got %r' % (MAX_PULSE_MS, duration))
            item['time'] = duration
        items.append(item)
    return _dumps(items)


def encode_get(pins=None):
    """Encode a ``get`` request; ``None`` or ``[]`` asks for every configured pin."""
    return _dumps([validate_pin(pin) for pin in (pins or [])])


def encode_update(infos):
    """Encode an ``update`` (what a device sends)."""
    return _dumps([{'pin': info.pin, 'mode': info.mode, 'state': info.state} for info in infos])


def _load(payload, max_size):
    if isinstance(payload, str):
        payload = payload.encode('utf-8')
    if len(payload) > max_size:
        raise PayloadError('oversized', 'payload of %d bytes exceeds the limit of %d bytes' % (len(payload), max_size))
    try:
        text = bytes(payload).decode('utf-8')
    except UnicodeDecodeError as exc:
        raise PayloadError('not_utf8', f'payload is not valid UTF-8: {exc}')
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PayloadError('not_json', f'payload is not valid JSON: {exc}')


def decode_update(payload, max_size=DEFAULT_MAX_PAYLOAD):
    """Decode an ``update`` payload into a list of PinInfo; raise PayloadError if anything is off.

    A message is either entirely valid or rejected: a list of objects each with integer ``pin``,
    ``mode`` and ``state`` (state 0 or 1). Unknown integer modes are accepted.
    """
    data = _load(payload, max_size)
    if not isinstance(data, list):
        raise PayloadError('malformed', 'update payload must be a JSON list')
    infos = []
    for item in data:
        if not isinstance(item, dict):
            raise PayloadError('malformed', 'update entries must be JSON objects')
        pin, mode, state = item.get('pin'), item.get('mode'), item.get('state')
        if not _is_int(pin) or pin < 0 or pin > MAX_PIN:
            raise PayloadError('malformed', f'update entry has an invalid pin: {item!r}')
        if not _is_int(mode):
            raise PayloadError('malformed', f'update entry has an invalid mode: {item!r}')
        if not _is_int(state) or state not in (0, 1):
            raise PayloadError('malformed', f'update entry has an invalid state: {item!r}')
        infos.append(PinInfo(pin, mode, state))
    return infos


def decode_command(kind, payload, max_size=DEFAULT_MAX_PAYLOAD):
    """Decode a controller request (used by virtual devices). Returns a list; raises PayloadError."""
    data = _load(payload, max_size)
    if not isinstance(data, list):
        raise PayloadError('malformed', f'{kind} payload must be a JSON list')
    if kind == 'get':
        if not all(_is_int(pin) for pin in data):
            raise PayloadError('malformed', 'get payload must be a list of pin numbers')
        return list(data)
    result = []
    for item in data:
        if not isinstance(item, dict) or not _is_int(item.get('pin')):
            raise PayloadError('malformed', f'{kind} entries must be objects with an integer pin')
        if kind == 'config':
            if not _is_int(item.get('mode')):
                raise PayloadError('malformed', 'config entries need an integer mode')
            if 'state' in item and item['state'] is not None and item['state'] not in (0, 1):
                raise PayloadError('malformed', 'config state must be 0 or 1')
        elif kind == 'set':
            if item.get('state') not in (0, 1) or isinstance(item.get('state'), bool):
                raise PayloadError('malformed', 'set entries need a state of 0 or 1')
            if item.get('time') is not None and (not _is_int(item['time']) or item['time'] < 0):
                raise PayloadError('malformed', 'set time must be a non-negative integer')
        else:
            raise PayloadError('malformed', f'unknown command {kind!r}')
        result.append(item)
    return result
