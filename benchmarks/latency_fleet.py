# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark helper: the collection's virtual devices, each reply held back by a fixed device latency.

Models devices on a real network (an ESP32 on Wi-Fi answers in milliseconds, not the
~0.1 ms of a Python device on loopback). Usage:
``python benchmarks/latency_fleet.py LATENCY_MS [virtual_devices options...]``.
"""

from __future__ import annotations

import heapq
import itertools
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ensure_collection_importable  # noqa: E402

ensure_collection_importable()

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt import virtual_devices  # noqa: E402

BaseFleet = virtual_devices.VirtualDeviceFleet


class LatencyFleet(BaseFleet):
    latency = 0.0

    def start(self, timeout=10.0):
        self._due = []
        self._seq = itertools.count()
        self._due_cond = threading.Condition()
        thread = threading.Thread(target=self._deliver, name='latency')
        thread.daemon = True
        thread.start()
        return super().start(timeout)

    def _publish(self, device, infos):
        with self._due_cond:
            heapq.heappush(self._due, (time.monotonic() + self.latency, next(self._seq), device, infos))
            self._due_cond.notify()

    def _deliver(self):
        while True:
            with self._due_cond:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._due_cond.wait(None if not self._due else self._due[0][0] - time.monotonic())
                device, infos = heapq.heappop(self._due)[2:]
            BaseFleet._publish(self, device, infos)


if __name__ == '__main__':
    LatencyFleet.latency = float(sys.argv[1]) / 1000.0
    virtual_devices.VirtualDeviceFleet = LatencyFleet
    sys.exit(virtual_devices.main(sys.argv[2:]))
