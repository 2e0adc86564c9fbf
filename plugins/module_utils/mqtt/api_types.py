# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Public types of the asyncio ``mqtt_device_cluster`` API (spec ``mqtt-device-cluster-protocol.md`` §7).

``PinMode`` and ``PinState`` are namespaces of plain ``int`` constants (not instantiable, read-only),
with the same values as the wire enums of ``protocol.py``; ``ConfigPin`` and ``SetPin`` are typed
dicts; ``PinCache`` is the frozen record of one reported pin; ``CbKey`` selects reported pins, with
the class ``ANY`` matching every value. Pure Python, standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from .protocol import PinInfo
from .protocol import PinMode as _WirePinMode
from .protocol import PinState as _WirePinState

__all__ = ['ANY', 'CbKey', 'ConfigPin', 'PinCache', 'PinMode', 'PinModeType', 'PinState', 'PinStateType', 'SetPin']


class _ReadOnly(type):
    """Metaclass of the constant namespaces: their attributes cannot be set or deleted."""

    def __setattr__(cls, name: str, value: Any) -> None:
        raise TypeError(f'{cls.__name__}.{name} is a constant and cannot be set')

    def __delattr__(cls, name: str) -> None:
        raise TypeError(f'{cls.__name__}.{name} is a constant and cannot be deleted')

    def __repr__(cls) -> str:
        return cls.__name__


class Constants(metaclass=_ReadOnly):
    """Base of the constant namespaces: not instantiable."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Constants:
        raise TypeError(f'{cls.__name__} is a namespace of constants and cannot be instantiated')


class ANY(Constants):
    """Wildcard of ``CbKey`` fields: matches every value (use the class itself, ``CbKey("dev1", pin=ANY)``)."""


class PinMode(Constants):
    """Pin modes as plain ints (the Arduino-ESP32 ``pinMode`` bit values); unknown ints pass through too."""

    PIN_DISABLED = int(_WirePinMode.DISABLED)
    INPUT = int(_WirePinMode.INPUT)
    OUTPUT = int(_WirePinMode.OUTPUT)
    INPUT_PULLUP = int(_WirePinMode.INPUT_PULLUP)
    INPUT_PULLDOWN = int(_WirePinMode.INPUT_PULLDOWN)
    # Later firmware.
    OPEN_DRAIN = int(_WirePinMode.OPEN_DRAIN)
    OUTPUT_OPEN_DRAIN = int(_WirePinMode.OUTPUT_OPEN_DRAIN)
    ANALOG = int(_WirePinMode.ANALOG)


class PinState(Constants):
    """Pin levels as plain ints."""

    LOW = int(_WirePinState.LOW)
    HIGH = int(_WirePinState.HIGH)


PinModeType = Literal[-1, 1, 3, 5, 9, 0x10, 0x13, 0xC0]
PinStateType = Literal[0, 1]


class _ConfigPinBase(TypedDict):
    pin: int
    mode: PinModeType


class ConfigPin(_ConfigPinBase, total=False):
    """One ``config`` entry: ``{"pin": 13, "mode": PinMode.OUTPUT, "state": PinState.HIGH}`` (``state`` optional)."""

    state: PinStateType


class _SetPinBase(TypedDict):
    pin: int
    state: PinStateType


class SetPin(_SetPinBase, total=False):
    """One ``set`` entry: ``{"pin": 13, "state": PinState.LOW, "time": 500}`` (``time``: pulse length in ms, optional)."""

    time: int


@dataclass(frozen=True)
class PinCache:
    """What a device last reported for one pin."""

    device_id: str
    pin: int
    mode: int
    state: int

    @classmethod
    def from_info(cls, device_id: str, info: PinInfo) -> PinCache:
        """The record of a decoded update entry (``protocol.PinInfo``) of ``device_id``."""
        return cls(device_id, info.pin, info.mode, info.state)


@dataclass(frozen=True)
class CbKey:
    """Selects reported pins: by device and, unless ``ANY``, pin, mode and state.

    ``key.matches(pin_cache)`` (also spelt ``key == pin_cache``, as in the earlier library) tells whether
    a reported pin is selected; two keys compare equal only when their fields are equal.
    """

    device_id: str | type[ANY]
    pin: int | type[ANY] = ANY
    mode: int | type[ANY] = ANY
    state: int | type[ANY] = ANY

    def matches(self, pin: PinCache) -> bool:
        for name in ('device_id', 'pin', 'mode', 'state'):
            wanted = getattr(self, name)
            if wanted is not ANY and wanted != getattr(pin, name):
                return False
        return True

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PinCache):
            return self.matches(other)
        if isinstance(other, CbKey):
            return (self.device_id, self.pin, self.mode, self.state) == (other.device_id, other.pin, other.mode, other.state)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.device_id, self.pin, self.mode, self.state))
