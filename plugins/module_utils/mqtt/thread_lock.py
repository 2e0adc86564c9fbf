# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``KeyLock``: per-key (per-device) mutual exclusion between threads.

The synchronous ``DeviceCluster`` holds one, through its request scheduler, so that one request per
device is in flight at a time (``lock.py`` is the asyncio one of the asyncio ``DeviceCluster``).
Standard library only.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import MqttTimeout

__all__ = ['KeyLock']


class KeyLock:
    """Per-key (per-device) mutual exclusion.

    An entry is deleted only when nobody holds it and nobody waits for it, so a waiter can never
    end up holding a lock object that a later caller does not see (the original deleted locks
    that waiters still referenced).
    """

    class _Entry:
        __slots__ = ('locked', 'waiters')

        def __init__(self):
            self.locked = False
            self.waiters = 0

    def __init__(self):
        self._cond = threading.Condition()
        self._entries = {}

    def acquire(self, key: Hashable, blocking: bool = True, timeout: float | None = None) -> bool:
        with self._cond:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = self._Entry()
            if entry.locked:
                if not blocking:
                    return False
                entry.waiters += 1
                try:
                    got = self._cond.wait_for(lambda: not entry.locked, timeout)
                finally:
                    entry.waiters -= 1
                if not got:
                    self._drop_if_unused(key, entry)
                    return False
            entry.locked = True
            return True

    def release(self, key: Hashable) -> None:
        with self._cond:
            entry = self._entries.get(key)
            if entry is None or not entry.locked:
                raise RuntimeError(f'KeyLock.release({key!r}): not locked')
            entry.locked = False
            self._drop_if_unused(key, entry)
            self._cond.notify_all()

    def _drop_if_unused(self, key, entry):
        if not entry.locked and entry.waiters == 0 and self._entries.get(key) is entry:
            del self._entries[key]

    def locked(self, key: Hashable) -> bool:
        with self._cond:
            entry = self._entries.get(key)
            return bool(entry and entry.locked)

    def __len__(self):
        with self._cond:
            return len(self._entries)

    def hold(self, key: Hashable, timeout: float | None = None):
        """Context manager: ``with keylock.hold(device_id, 5): ...`` (raises MqttTimeout)."""
        lock = self

        class _Holder:
            def __enter__(self):
                if not lock.acquire(key, timeout=timeout):
                    raise MqttTimeout(f'timed out waiting for the lock of {key!r}')
                return self

            def __exit__(self, *exc):
                lock.release(key)

        return _Holder()
