# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``KeyLock``: per-key asyncio mutual exclusion (the asyncio ``DeviceCluster`` holds one per device).

Usage, as in the earlier library::

    keylock = KeyLock()
    async with keylock("device123"):
        ...
    async with keylock("device123", timeout=2.0):   # TimeoutError if not acquired within 2 s
        ...

Waiters are served first come, first served. The lock of a key is handed straight from its holder
to the next waiter, and its entry is deleted only when nobody holds it and nobody waits for it (the
earlier library deleted the lock of a key while other tasks still waited on it, so two tasks could
hold "the" lock of one key at once). A waiter that is cancelled or times out leaves the queue
without disturbing the holder; one cancelled just as the lock was handed to it passes it on.
Standard library only; use it from one event loop.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Hashable
from typing import Any

__all__ = ['KeyLock']


class _Entry:
    __slots__ = ('held', 'waiters')

    def __init__(self) -> None:
        self.held = False
        self.waiters: collections.deque[asyncio.Future] = collections.deque()


def _expire(future: asyncio.Future, key: Hashable, timeout: float) -> None:
    if not future.done():
        future.set_exception(TimeoutError(f'timed out after {timeout:g}s waiting for the lock of {key!r}'))


class _Hold:
    """Async context manager returned by ``KeyLock.__call__``."""

    __slots__ = ('_keylock', '_key', '_timeout')

    def __init__(self, keylock: KeyLock, key: Hashable, timeout: float | None) -> None:
        self._keylock = keylock
        self._key = key
        self._timeout = timeout

    async def __aenter__(self) -> None:
        await self._keylock.acquire(self._key, self._timeout)

    async def __aexit__(self, *exc: Any) -> None:
        self._keylock.release(self._key)


class KeyLock:
    """One FIFO lock per hashable key, created on first use and deleted when unused."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry] = {}

    def __call__(self, key: Hashable, timeout: float | None = None) -> _Hold:
        """``async with keylock(key[, timeout]):`` holds the lock of ``key`` for the block."""
        return _Hold(self, key, timeout)

    async def acquire(self, key: Hashable, timeout: float | None = None) -> None:
        """Wait for the lock of ``key`` (at most ``timeout`` seconds, else raise the built-in TimeoutError)."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        if not entry.held:
            # Invariant: an entry that nobody holds has no waiters, so taking it here is fair.
            entry.held = True
            return
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        entry.waiters.append(future)
        timer = None if timeout is None else loop.call_later(max(0.0, timeout), _expire, future, key, timeout)
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled() and future.exception() is None:
                # Cancelled right after the lock was handed over: it is ours, pass it on.
                self.release(key)
            else:
                try:
                    entry.waiters.remove(future)
                except ValueError:
                    pass
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def release(self, key: Hashable) -> None:
        """Hand the lock of ``key`` to the next waiter, or delete the entry when nobody waits."""
        entry = self._entries.get(key)
        if entry is None or not entry.held:
            raise RuntimeError(f'KeyLock.release({key!r}): the lock is not held')
        while entry.waiters:
            future = entry.waiters.popleft()
            if not future.done():
                future.set_result(None)  # ownership passes on; entry.held stays True
                return
        entry.held = False
        del self._entries[key]

    def locked(self, key: Hashable) -> bool:
        """Whether some task holds the lock of ``key``."""
        entry = self._entries.get(key)
        return bool(entry is not None and entry.held)

    def waiting(self, key: Hashable) -> int:
        """How many tasks wait for the lock of ``key``."""
        entry = self._entries.get(key)
        return 0 if entry is None else sum(1 for future in entry.waiters if not future.done())

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        """Number of keys whose lock is held (entries of unused keys are deleted)."""
        return len(self._entries)
