# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Synchronous device-cluster client: configure, set and read pins of many devices over one connection.

The API follows the earlier asyncio ``mqtt_device_cluster`` library (``DeviceCluster.config_pins``,
``set_pins`` with pulse ``time``, ``update``, ``CbKey`` callbacks, ``KeyLock``, ``PinCache``), rebuilt
on a synchronous paho-mqtt connection for use inside Ansible modules:

* every update from every device refreshes the cache and fires callbacks, whether or not a
  request is waiting (a dispatcher thread drains a queue the paho callback only appends to);
* a request (``Request``, request.py) is confirmed by content: updates received after it was
  published must cover every requested pin with the requested mode (``config``) / state (``set``)
  or at all (``get``); a pulse (``set`` with ``time``) accepts either level, since firmware reports
  before or after the revert;
* a ``get`` of every pin (``[]``) cannot be confirmed by content: the answer is collected from
  every update of the device until it settles (no update for ``settle`` seconds) or the request's
  time runs out; ``Request.settled`` says which, so a partial answer (a device that answers in
  several messages, an unsolicited update arriving first) is never taken for a complete one;
* one request per device is in flight at a time (``KeyLock``), at most ``window`` requests in
  flight overall, every request has a timeout and a batch has an overall time budget, and after a
  reconnection requests still waiting are sent again: ``RequestScheduler`` (request_scheduler.py)
  does all of that;
* malformed, non-UTF-8 or oversized updates are ignored and counted in ``stats``.
"""

from __future__ import annotations

import collections
import queue
import threading
from typing import Callable

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.api_types import ConfigPin, SetPin
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import MqttError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.pin_cache import PinCache
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import (
    DEFAULT_MAX_PAYLOAD,
    DEFAULT_PREFIX,
    DEFAULT_SETTLE,
    PayloadError,
    PinInfo,
    PinMode,
    PinState,
    Topics,
    decode_update,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.request import DeviceTimeout, Request
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.request_scheduler import DEFAULT_TIMEOUT, DEFAULT_WINDOW, RequestScheduler
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.thread_lock import KeyLock

__all__ = [
    'ANY',
    'CbKey',
    'ConfigPin',
    'DeviceCluster',
    'DeviceTimeout',
    'KeyLock',
    'PinCache',
    'PinInfo',
    'PinMode',
    'PinState',
    'Request',
    'SetPin',
]

ANY = None


CbKey = collections.namedtuple('CbKey', ['device_id', 'pin'])
CbKey.__doc__ = 'Callback key: ``CbKey(device_id, pin)``; ``ANY`` (None) in either field matches everything.'


class DeviceCluster:
    """Many devices behind one MQTT connection.

    ``connection``: a connected ``MqttConnection``. Call ``start()`` (subscribes to every device's
    updates and waits for the SUBACK) before sending requests, ``stop()`` at the end. The caller
    must route the connection's messages here: build the connection with
    ``on_message=cluster.feed`` / ``on_event=cluster.connection_event`` or use ``DeviceCluster.connect``.
    """

    def __init__(
        self,
        connection=None,
        prefix=DEFAULT_PREFIX,
        timeout=DEFAULT_TIMEOUT,
        window=DEFAULT_WINDOW,
        max_payload=DEFAULT_MAX_PAYLOAD,
        cache=None,
        settle=DEFAULT_SETTLE,
    ):
        self.topics = Topics(prefix)
        self.stats = collections.Counter()
        self.scheduler = RequestScheduler(self.topics, self.stats, timeout=timeout, window=window, settle=settle)
        self.connection = connection
        self.max_payload = max_payload
        self.cache = cache if cache is not None else PinCache()
        self._queue = queue.Queue()
        self._callbacks = {}
        self._dispatcher = None
        self._started = False

    @classmethod
    def connect(cls, options, **kwargs) -> DeviceCluster:
        """Create the connection for ``options`` (ConnectionOptions), connect, subscribe and return a started cluster."""
        from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import MqttConnection

        cluster = cls(**kwargs)
        cluster.connection = MqttConnection(options, on_message=cluster.feed, on_event=cluster.connection_event)
        cluster.connection.connect()
        try:
            cluster.start()
        except Exception:
            cluster.connection.close()
            raise
        return cluster

    # The connection, the timeout and settle defaults, the window and the per-device locks are the scheduler's.

    @property
    def connection(self):
        return self.scheduler.connection

    @connection.setter
    def connection(self, connection):
        self.scheduler.connection = connection

    @property
    def timeout(self) -> float:
        return self.scheduler.timeout

    @property
    def settle(self) -> float:
        return self.scheduler.settle

    @property
    def window(self) -> int:
        return self.scheduler.window

    @property
    def keylock(self) -> KeyLock:
        return self.scheduler.keylock

    # -- network thread side (must not block) ---------------------------------------------------------

    def feed(self, topic: str, payload: bytes) -> None:
        """Hand one received message over (called from paho's network thread; only enqueues)."""
        self._queue.put(('msg', self.scheduler.received(), topic, payload))

    def publish_refused(self, mid: int, text: str) -> None:
        """The broker refused a publish (PUBACK failure reason code, e.g. 0x87 not authorised by its ACL)."""
        self._queue.put(('refused', mid, text))

    def connection_event(self, kind: str) -> None:
        self._queue.put(('event', kind))

    # -- dispatcher thread ----------------------------------------------------------------------------

    def _dispatch_loop(self):
        while True:
            item = self._queue.get()
            if item[0] == 'stop':
                return
            if item[0] == 'event':
                if item[1] == 'connected':
                    self.scheduler.reconnected()
                else:
                    self.scheduler.wake()
                continue
            if item[0] == 'refused':
                self.scheduler.refused(item[1], item[2])
                continue
            self._handle_message(item[1], item[2], item[3])

    def _handle_message(self, seq, topic, payload):
        parsed = self.topics.parse(topic)
        if parsed is None or parsed[1] != 'update':
            self.stats['ignored_topic'] += 1
            return
        device_id = parsed[0]
        try:
            infos = decode_update(payload, self.max_payload)
        except PayloadError as exc:
            self.stats['ignored_' + exc.kind] += 1
            return
        self.stats['updates'] += 1
        self.cache.update(device_id, infos)
        self.scheduler.match(seq, device_id, infos)
        self._fire_callbacks(device_id, infos)

    def _fire_callbacks(self, device_id, infos):
        if not self._callbacks:
            return
        for info in infos:
            for key in (CbKey(device_id, info.pin), CbKey(device_id, ANY), CbKey(ANY, info.pin), CbKey(ANY, ANY)):
                for callback in list(self._callbacks.get(key, ())):
                    try:
                        callback(device_id, info)
                    except Exception:  # pylint: disable=broad-except
                        self.stats['callback_errors'] += 1

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self, timeout: float | None = None) -> DeviceCluster:
        """Subscribe to ``{prefix}/+/pin/update`` (waiting for the SUBACK) and start the dispatcher."""
        if self._started:
            return self
        if self.connection is None:
            raise MqttError('DeviceCluster has no connection')
        if getattr(self.connection, 'on_publish_refused', False) is None:
            self.connection.on_publish_refused = self.publish_refused
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name='device-cluster-dispatch')
        self._dispatcher.daemon = True
        self._dispatcher.start()
        self._started = True
        self.connection.subscribe(self.topics.all_updates, self.timeout if timeout is None else timeout)
        return self

    def stop(self, close_connection: bool = True) -> None:
        if self._started:
            self._queue.put(('stop',))
            self._dispatcher.join(5)
            self._started = False
        if close_connection and self.connection is not None:
            self.connection.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- callbacks ------------------------------------------------------------------------------------

    def add_callback(self, key, callback: Callable[[str, PinInfo], None]) -> None:
        """Call ``callback(device_id, PinInfo)`` for every reported pin matching ``key`` (a CbKey).

        Callbacks run on the dispatcher thread: keep them short.
        """
        self._callbacks.setdefault(CbKey(*key), []).append(callback)

    def remove_callback(self, key, callback: Callable[[str, PinInfo], None]) -> None:
        callbacks = self._callbacks.get(CbKey(*key), [])
        if callback in callbacks:
            callbacks.remove(callback)

    # -- requests -------------------------------------------------------------------------------------

    def config_pins(self, device_id: str, pins: list[ConfigPin], timeout: float | None = None) -> dict[int, PinInfo]:
        """Configure pins (list of ConfigPin) and wait for confirmation; returns ``{pin: PinInfo}``."""
        return self._one(Request(device_id, 'config', pins, timeout))

    def set_pins(self, device_id: str, pins: list[SetPin], timeout: float | None = None) -> dict[int, PinInfo]:
        """Drive output pins (list of SetPin; ``time`` = pulse in ms); returns ``{pin: PinInfo}``."""
        return self._one(Request(device_id, 'set', pins, timeout))

    def update(self, device_id: str, pins: list[int] | None = None, timeout: float | None = None, settle: float | None = None) -> dict[int, PinInfo]:
        """Ask a device for its pins (``None``/``[]``: every configured pin); returns ``{pin: PinInfo}``.

        For every pin, the answer is what the device reported until it settled (``settle`` seconds
        without a further update) or ``timeout`` ran out, whichever came first.
        """
        return self._one(Request(device_id, 'get', pins, timeout, settle))

    def get_pins(self, device_id: str, pins: list[int] | None = None, timeout: float | None = None, settle: float | None = None) -> dict[int, PinInfo]:
        return self.update(device_id, pins, timeout, settle)

    def _one(self, request):
        self.execute([request])
        request.raise_for_status()
        return dict(request.confirmed)

    def execute(self, requests: list[Request], budget: float | None = None) -> list[Request]:
        """Run many requests, at most ``window`` in flight and one per device at a time (in list order).

        Never raises for a device that does not answer: each Request gets its ``status``. ``budget``
        bounds the whole batch (seconds); requests not sent when it runs out get ``not_sent``.
        Raises MqttError only if the connection is lost for good (fatal error).
        """
        if not self._started:
            raise MqttError('DeviceCluster.start() was not called')
        return self.scheduler.execute(requests, budget)

    # -- convenience ----------------------------------------------------------------------------------

    def ignored_messages(self) -> dict[str, int]:
        """Counts of ignored device messages by reason (oversized, not_utf8, not_json, malformed, topic)."""
        return {key.removeprefix('ignored_'): value for key, value in self.stats.items() if key.startswith('ignored_')}
