# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Thread-safe cache of the last reported mode and state of every pin of every device.

Unlike the original asyncio client, the cache is updated from every update a device publishes,
whether or not a request is waiting for it.
"""

from __future__ import annotations

import threading
import time


class PinCache:
    """Last known PinInfo per device and pin, with the monotonic time it was reported."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pins = {}
        self._stamps = {}

    def update(self, device_id, infos, stamp=None):
        """Record the PinInfo entries of one update from ``device_id``."""
        if stamp is None:
            stamp = time.monotonic()
        with self._lock:
            pins = self._pins.setdefault(device_id, {})
            stamps = self._stamps.setdefault(device_id, {})
            for info in infos:
                pins[info.pin] = info
                stamps[info.pin] = stamp

    def get(self, device_id, pin):
        """The last PinInfo for one pin, or None."""
        with self._lock:
            return self._pins.get(device_id, {}).get(pin)

    def age(self, device_id, pin, now=None):
        """Seconds since the pin was last reported, or None if it never was."""
        with self._lock:
            stamp = self._stamps.get(device_id, {}).get(pin)
        if stamp is None:
            return None
        return (time.monotonic() if now is None else now) - stamp

    def pins(self, device_id):
        """A copy of ``{pin: PinInfo}`` for one device (empty if unknown)."""
        with self._lock:
            return dict(self._pins.get(device_id, {}))

    def devices(self):
        with self._lock:
            return sorted(self._pins)

    def forget(self, device_id=None):
        """Drop one device (or everything) from the cache."""
        with self._lock:
            if device_id is None:
                self._pins.clear()
                self._stamps.clear()
            else:
                self._pins.pop(device_id, None)
                self._stamps.pop(device_id, None)

    def __contains__(self, device_id):
        with self._lock:
            return device_id in self._pins

    def __len__(self):
        with self._lock:
            return len(self._pins)
