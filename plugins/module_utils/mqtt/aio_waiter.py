# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Confirmations the asyncio ``DeviceCluster`` waits for, and the TimeoutError it raises when they do not come.

Standard library only (no aiomqtt).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Sequence

from .api_types import CbKey, PinCache
from .protocol import DEFAULT_SETTLE

__all__ = ['DEFAULT_SETTLE', 'DeviceTimeoutError', 'Waiter', 'check_timeout', 'pins_text']

# Quiet time after a device's last update before its answer to an update() of every pin counts as complete.

# Before Python 3.11 asyncio.TimeoutError is not the built-in TimeoutError: be both.
_TIMEOUT_BASES = (TimeoutError,) if asyncio.TimeoutError is TimeoutError else (TimeoutError, asyncio.TimeoutError)


class DeviceTimeoutError(*_TIMEOUT_BASES):  # type: ignore[misc]
    """A device (or the broker) did not confirm in time.

    ``device_id``, ``kind`` (config, set, get, or publish for ``send`` to another topic), ``pins``: the pins not
    confirmed (None for an update of every pin), ``timeout`` in seconds.
    """

    def __init__(
        self, message: str, device_id: str | None = None, kind: str | None = None, pins: list[int] | None = None, timeout: float | None = None
    ) -> None:
        super().__init__(message)
        self.device_id = device_id
        self.kind = kind
        self.pins = pins
        self.timeout = timeout

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


def check_timeout(timeout: float | None, name: str = 'timeout') -> float | None:
    if timeout is None:
        return None
    value = float(timeout)
    if math.isnan(value) or value < 0:
        raise ValueError(f'{name} must be None or a number of seconds >= 0, got {timeout!r}')
    return value


def pins_text(pins: Iterable[int]) -> str:
    return ', '.join(str(pin) for pin in sorted(pins))


class Waiter:
    """A confirmation being waited for.

    With ``keys``: each key must be matched by one reported pin (first come); the result lists the
    matching pins in key order. With ``device_id`` instead: every update of that device counts, and
    the answer is complete when the device has been quiet for ``settle`` seconds.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, keys: Sequence[CbKey] = (), device_id: str | None = None, settle: float = DEFAULT_SETTLE) -> None:
        self.loop = loop
        self.future: asyncio.Future = loop.create_future()
        self.keys = list(keys)
        self.matched: list[PinCache | None] = [None] * len(self.keys)
        self.device_id = device_id
        self.settle = settle
        self.collected: dict[int, PinCache] = {}
        self._timer: asyncio.TimerHandle | None = None

    def feed(self, pins: Sequence[PinCache]) -> None:
        if self.future.done():
            return
        if self.device_id is not None:
            mine = [pin for pin in pins if pin.device_id == self.device_id]
            if mine:
                self.collected.update((pin.pin, pin) for pin in mine)
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = self.loop.call_later(self.settle, self._settled)
            return
        for pin in pins:
            for index, key in enumerate(self.keys):
                if self.matched[index] is None and key.matches(pin):
                    self.matched[index] = pin
                    break
        if all(pin is not None for pin in self.matched):
            self.future.set_result(list(self.matched))

    def _settled(self) -> None:
        if not self.future.done():
            self.future.set_result(self.partial())

    def partial(self) -> list[PinCache] | None:
        """What an update of every pin collected (None if nothing, or if this waits for keys)."""
        if self.device_id is None or not self.collected:
            return None
        return [self.collected[pin] for pin in sorted(self.collected)]

    def missing_keys(self) -> list[CbKey]:
        return [key for key, pin in zip(self.keys, self.matched) if pin is None]

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.future.done() and not self.future.cancelled():
            self.future.exception()  # retrieved: no "exception was never retrieved" warning
        elif not self.future.done():
            self.future.cancel()
