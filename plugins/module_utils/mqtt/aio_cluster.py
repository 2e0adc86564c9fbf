# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Asyncio ``DeviceCluster`` over an aiomqtt client: the API of the earlier ``mqtt_device_cluster`` library.

Usage (the caller creates and connects the aiomqtt client; aiomqtt 1.x and 2.x both work)::

    mqtt_client = aiomqtt.Client("127.0.0.1")
    cluster = DeviceCluster(mqtt_client)
    async with mqtt_client:
        await cluster.start()
        await cluster.config_pins(device_id="device123", pins=[{"pin": 13, "mode": PinMode.OUTPUT, "state": PinState.HIGH}])
        updates = await cluster.set_pins(device_id="device123", pins=[{"pin": 13, "state": PinState.LOW, "time": 500}])
        updates = await cluster.update(device_id="device123", pins=[13, 14], timeout=5)

What it does better than the earlier library (spec ``mqtt-device-cluster-protocol.md`` §4 and §5):

* every update of every device refreshes ``pins`` and reaches the update callbacks, whether or
  not a request waits for it;
* a request is confirmed by content, over as many updates as the device sends: every requested pin
  with the requested mode (config) or state (set), or at all (update); a pulse (set with ``time``)
  is confirmed by either level, as firmware reports the commanded level, the reverted one or both;
  ``update()`` of every pin (``pins`` None or ``[]``) collects the device's updates until it has
  been quiet for ``settle`` seconds;
* one request per device at a time (``KeyLock``), whose locks are never deleted while held;
* ``start()`` returns once the broker acknowledged the subscription (SUBACK), so no answer can
  arrive before it exists; requests and the subscription use QoS 1 and wait for the broker's
  acknowledgement; TCP_NODELAY is set on the client's socket;
* every wait is bounded: ``timeout`` covers the whole request (the device's lock, the PUBACK and
  the confirmation), and a request sent without waiting for confirmation (``timeout=None``) is
  still bounded by ``operation_timeout``. ``DeviceTimeoutError`` (a ``TimeoutError``) names the
  device and the pins that did not confirm.

Updates are taken with a topic-specific callback of aiomqtt's paho client, on the event loop, so
they never enter the client's message queue: the caller may iterate ``client.messages`` for its
own subscriptions. aiomqtt itself is never imported here (it is an optional dependency).
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import math
import socket
import threading
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Callable, Union

from .aio_waiter import DEFAULT_SETTLE, DeviceTimeoutError, Waiter, check_timeout, pins_text
from .api_types import ANY, CbKey, ConfigPin, PinCache, SetPin
from .lock import KeyLock
from .pin_cache import PinCache as PinStore
from .protocol import (
    DEFAULT_MAX_PAYLOAD,
    DEFAULT_PREFIX,
    OUTPUT_MODES,
    PayloadError,
    ProtocolError,
    Topics,
    decode_update,
    encode_config,
    encode_get,
    encode_set,
    parse_mode,
    parse_state,
)

__all__ = ['DEFAULT_SETTLE', 'DEFAULT_TIMEOUT', 'DeviceCluster', 'DeviceTimeoutError']

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5
# Bound of what has no timeout of its own: subscribing, and publishing a request sent with timeout=None.
DEFAULT_OPERATION_TIMEOUT = 10.0
# Requests in flight at once (over all devices): mosquitto drops QoS 1 messages to a client beyond 20 in
# flight plus 1000 queued (spec §5), so many devices answering at once must stay well below that.
DEFAULT_WINDOW = 256
QOS = 1

UpdateCallback = Callable[[list[PinCache]], Union[Awaitable[Any], None]]


class DeviceCluster:
    """Many MQTT pin devices behind one aiomqtt client (spec §3 semantics, §7 API).

    ``client``: an ``aiomqtt.Client`` the caller connects. ``prefix``: topic prefix (default
    ``device``). ``settle``: quiet seconds that end an update of every pin. ``operation_timeout``:
    bound of the subscription and of requests sent without waiting for confirmation. ``window``:
    requests in flight at once over all devices (the others wait, within their timeout).
    ``max_payload``: larger updates are ignored (counted in ``stats``).
    """

    def __init__(
        self,
        client: Any,
        prefix: str = DEFAULT_PREFIX,
        *,
        settle: float = DEFAULT_SETTLE,
        operation_timeout: float = DEFAULT_OPERATION_TIMEOUT,
        window: int = DEFAULT_WINDOW,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
    ) -> None:
        self._client = client
        self.topics = Topics(prefix)
        settle_value = check_timeout(settle, 'settle')
        if not settle_value or math.isinf(settle_value):
            raise ValueError(f'settle must be a finite number of seconds > 0, got {settle!r}')
        self.settle = settle_value
        self.operation_timeout = check_timeout(operation_timeout, 'operation_timeout')
        if self.operation_timeout is None:
            raise ValueError('operation_timeout must be a number of seconds')
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f'window must be an integer >= 1, got {window!r}')
        self.window = window
        self.max_payload = max_payload
        self.stats: collections.Counter = collections.Counter()
        self.subscription_qos: int | None = None
        self._store = PinStore()
        self._key_lock = KeyLock()
        self._slots: asyncio.Semaphore | None = None  # made in start(): on Python 3.9 it binds to a loop
        self._waiters: set[Waiter] = set()
        self._update_callbacks: list[UpdateCallback] = []
        self._callback_tasks: set[asyncio.Future] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._paho: Any = None
        self._started = False

    # -- cache and callbacks ------------------------------------------------------------------------

    @property
    def pins(self) -> dict[str, dict[int, PinCache]]:
        """``{device_id: {pin: PinCache}}``: what every device last reported (a snapshot)."""
        return {
            device_id: {pin: PinCache.from_info(device_id, info) for pin, info in sorted(self._store.pins(device_id).items())}
            for device_id in self._store.devices()
        }

    @property
    def key_lock(self) -> KeyLock:
        """The per-device ``KeyLock`` serialising requests."""
        return self._key_lock

    def add_update_callback(self, callback: UpdateCallback) -> None:
        """Call ``callback(list[PinCache])`` (a coroutine function or a plain one) for every update received."""
        self._update_callbacks.append(callback)

    def remove_update_callback(self, callback: UpdateCallback) -> None:
        for index, registered in enumerate(self._update_callbacks):
            if registered is callback:
                del self._update_callbacks[index]
                return
        raise ValueError('callback not found')

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self, timeout: float | None = None) -> None:
        """Subscribe to every device's updates (QoS 1) and return once the broker acknowledged it.

        Call it again after the client reconnected (a new session has no subscription).
        """
        budget = self.operation_timeout if timeout is None else check_timeout(timeout)
        paho = getattr(self._client, '_client', None)
        if not callable(getattr(paho, 'message_callback_add', None)):
            raise TypeError(f'DeviceCluster needs an aiomqtt.Client, got {type(self._client).__name__}')
        if self._slots is None or self._loop is not asyncio.get_running_loop():
            self._slots = asyncio.Semaphore(self.window)
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._paho = paho
        # Registered before subscribing: an update arriving right after the SUBACK is not lost.
        paho.message_callback_add(self.topics.all_updates, self._on_paho_message)
        self._set_nodelay(paho)
        try:
            granted = await asyncio.wait_for(self._client.subscribe(self.topics.all_updates, qos=QOS, timeout=budget + 1.0), budget)
        except asyncio.TimeoutError:
            paho.message_callback_remove(self.topics.all_updates)
            raise DeviceTimeoutError(
                f'the MQTT broker did not acknowledge the subscription to {self.topics.all_updates} within {budget:g}s', timeout=budget
            ) from None
        except BaseException:
            paho.message_callback_remove(self.topics.all_updates)
            raise
        codes = [getattr(code, 'value', code) for code in (granted if isinstance(granted, (list, tuple)) else [granted])]
        if not codes or any(not isinstance(code, int) or code >= 0x80 for code in codes):
            paho.message_callback_remove(self.topics.all_updates)
            raise ConnectionError(
                f'the MQTT broker refused the subscription to {self.topics.all_updates} (granted {codes}): does its ACL allow this user to read it?'
            )
        self.subscription_qos = codes[0]
        self._started = True

    async def stop(self, timeout: float | None = None) -> None:
        """Stop handling updates, fail the requests still waiting and unsubscribe (best effort)."""
        if not self._started:
            return
        self._started = False
        self._paho.message_callback_remove(self.topics.all_updates)
        for waiter in list(self._waiters):
            waiter.fail(RuntimeError('DeviceCluster was stopped'))
        budget = self.operation_timeout if timeout is None else check_timeout(timeout)
        try:
            await asyncio.wait_for(self._client.unsubscribe(self.topics.all_updates, timeout=budget + 1.0), budget)
        except Exception as exc:  # pylint: disable=broad-except
            log.debug('unsubscribing from %s failed: %s', self.topics.all_updates, exc)

    @staticmethod
    def _set_nodelay(paho: Any) -> None:
        """TCP_NODELAY: without it a request/answer round trip takes 40+ ms instead of under 1 ms (spec §5)."""
        try:
            sock = paho.socket()
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (AttributeError, OSError, ValueError) as exc:
            log.debug('could not set TCP_NODELAY: %s', exc)

    # -- receiving ----------------------------------------------------------------------------------

    def _on_paho_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        """paho callback (on the event loop with aiomqtt): must never raise, or paho drops the connection."""
        try:
            topic, payload = message.topic, bytes(message.payload)
            if self._loop is not None and threading.get_ident() != self._loop_thread:
                self._loop.call_soon_threadsafe(self._handle, topic, payload)
            else:
                self._handle(topic, payload)
        except Exception:  # pylint: disable=broad-except
            log.exception('handling an update failed')

    def _handle(self, topic: str, payload: bytes) -> None:
        parsed = self.topics.parse(topic)
        if parsed is None or parsed[1] != 'update':
            self.stats['ignored_topic'] += 1
            return
        device_id = parsed[0]
        try:
            infos = decode_update(payload, self.max_payload)
        except PayloadError as exc:
            self.stats[f'ignored_{exc.kind}'] += 1
            log.debug('ignored an update from %s: %s', device_id, exc)
            return
        self.stats['updates'] += 1
        self._store.update(device_id, infos)
        pins = [PinCache.from_info(device_id, info) for info in infos]
        for waiter in list(self._waiters):
            waiter.feed(pins)
        for callback in list(self._update_callbacks):
            self._run_callback(callback, pins)

    def _run_callback(self, callback: UpdateCallback, pins: list[PinCache]) -> None:
        try:
            result = callback(list(pins))
        except Exception:  # pylint: disable=broad-except
            self.stats['callback_errors'] += 1
            log.exception('update callback %r failed', callback)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._callback_tasks.add(task)
            task.add_done_callback(self._callback_done)

    def _callback_done(self, task: asyncio.Future) -> None:
        self._callback_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.stats['callback_errors'] += 1
            log.error('update callback failed', exc_info=task.exception())

    # -- requests -----------------------------------------------------------------------------------

    async def config_pins(self, device_id: str, pins: list[ConfigPin], timeout: float | None = DEFAULT_TIMEOUT) -> list[PinCache] | None:
        """Configure pins; with ``timeout``, wait until every pin reports the mode (and output state) asked for."""
        payload = encode_config(pins)
        keys = []
        for entry in pins:
            mode = parse_mode(entry['mode'])
            state = entry.get('state')
            state = parse_state(state) if state is not None and mode in OUTPUT_MODES else ANY
            keys.append(CbKey(device_id, entry['pin'], mode, state))
        return await self._request(device_id, 'config', payload, keys, timeout)

    async def set_pins(self, device_id: str, pins: list[SetPin], timeout: float | None = DEFAULT_TIMEOUT) -> list[PinCache] | None:
        """Drive output pins (``time``: a pulse in ms); with ``timeout``, wait until every pin reports its level.

        A pulse is confirmed by either level (the commanded one, or the opposite after the pulse).
        """
        payload = encode_set(pins)
        keys = [CbKey(device_id, entry['pin'], state=ANY if entry.get('time') else parse_state(entry['state'])) for entry in pins]
        return await self._request(device_id, 'set', payload, keys, timeout)

    async def update(
        self, device_id: str, pins: list[int] | None = None, timeout: float | None = DEFAULT_TIMEOUT, settle: float | None = None
    ) -> list[PinCache] | None:
        """Ask a device for pins; with ``timeout``, wait until every requested pin was reported.

        ``pins`` None or ``[]``: every configured pin, answered once the device has been quiet for
        ``settle`` seconds (default: the cluster's) or when ``timeout`` ends, whichever comes first.
        """
        payload = encode_get(pins)
        if pins:
            return await self._request(device_id, 'get', payload, [CbKey(device_id, pin) for pin in pins], timeout)
        settle_value = self.settle if settle is None else check_timeout(settle, 'settle')
        return await self._request(device_id, 'get', payload, None, timeout, settle=settle_value)

    async def send(self, topic: str, payload: str | bytes, cb_keys: list[CbKey] | None = None, timeout: float | None = None) -> list[PinCache] | None:
        """Publish ``payload`` on ``topic`` (QoS 1); with ``cb_keys`` and ``timeout``, wait until updates
        received after the publish matched every key, and return the matching pins in key order.

        Requests to one device (a topic ``{prefix}/{id}/...``) wait for each other.
        """
        if timeout is not None and not cb_keys:
            raise ValueError('cb_keys must be given when timeout is')
        parsed = self.topics.parse(topic)
        device, kind = parsed if parsed is not None else (None, 'publish')
        keys = list(cb_keys) if cb_keys and timeout is not None else None
        return await self._exchange(device if device is not None else topic, device, kind, topic, payload, keys, timeout)

    async def wait_for(self, cb_keys: list[CbKey], timeout: float | None = None, allow_different_updates: bool = True) -> list[PinCache]:
        """Wait until updates received from now on matched every key; return the matching pins in key order.

        The keys may be matched by different updates (``allow_different_updates`` is kept for the earlier
        API and ignored). ``timeout`` None waits for ever.
        """
        del allow_different_updates
        self._require_started()
        if not cb_keys:
            raise ValueError('wait_for needs at least one CbKey')
        timeout = check_timeout(timeout)
        waiter = Waiter(asyncio.get_running_loop(), cb_keys)
        self._waiters.add(waiter)
        try:
            await asyncio.wait({waiter.future}, timeout=timeout)
            if waiter.future.done():
                return waiter.future.result()
            raise DeviceTimeoutError(f'no update matched {", ".join(map(repr, waiter.missing_keys()))} within {timeout:g}s', timeout=timeout)
        finally:
            self._waiters.discard(waiter)
            waiter.close()

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError('DeviceCluster is not started: call await cluster.start() first')

    async def _request(
        self, device_id: str, kind: str, payload: bytes, keys: list[CbKey] | None, timeout: float | None, settle: float | None = None
    ) -> list[PinCache] | None:
        topic = self.topics.command(kind, device_id)  # validates the device id
        if keys is not None:
            if not keys:
                raise ProtocolError(f'a {kind} request needs at least one pin')
            if len({key.pin for key in keys}) != len(keys):
                raise ProtocolError(f'a pin is listed twice in one {kind} request to {device_id}')
        return await self._exchange(device_id, device_id, kind, topic, payload, keys, timeout, settle)

    async def _exchange(
        self,
        lock_key: str,
        device: str | None,
        kind: str,
        topic: str,
        payload: str | bytes,
        keys: list[CbKey] | None,
        timeout: float | None,
        settle: float | None = None,
    ) -> list[PinCache] | None:
        """Lock ``lock_key`` (the device), take a slot of the window, publish (QoS 1, PUBACK awaited), then wait
        for the confirmation if ``timeout``: all within ``timeout`` (``operation_timeout`` if None).

        ``keys`` None with a ``timeout``: an update of every pin of ``device``, collected until it settles.
        """
        self._require_started()
        timeout = check_timeout(timeout)
        budget = self.operation_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        call = _Call(device, kind, topic, payload, keys, timeout, settle or self.settle, budget, loop.time() + budget)
        try:
            await self._key_lock.acquire(lock_key, budget)
        except TimeoutError:
            raise call.error(
                f'{kind} request to {call.about} not sent: an earlier request to it still ran after {budget:g}s{call.pins_note}', call.pins
            ) from None
        try:
            try:
                await asyncio.wait_for(self._slots.acquire(), call.remaining())
            except asyncio.TimeoutError:
                raise call.error(
                    f'{kind} request to {call.about} not sent: {self.window} requests were still in flight after {budget:g}s{call.pins_note}', call.pins
                ) from None
            try:
                return await self._publish_and_confirm(call)
            finally:
                self._slots.release()
        finally:
            self._key_lock.release(lock_key)

    async def _publish_and_confirm(self, call: _Call) -> list[PinCache] | None:
        waiter = None
        try:
            if call.timeout is not None:
                waiter = Waiter(asyncio.get_running_loop(), call.keys or (), None if call.keys is not None else call.device, call.settle)
                self._waiters.add(waiter)  # before publishing: the answer may overtake the PUBACK
            try:
                await asyncio.wait_for(self._client.publish(call.topic, call.payload, qos=QOS, timeout=call.remaining() + 1.0), call.remaining())
            except asyncio.TimeoutError:
                raise call.error(f'the MQTT broker did not acknowledge the {call.kind} request to {call.about} within {call.budget:g}s', call.pins) from None
            if waiter is None:
                return None
            await asyncio.wait({waiter.future}, timeout=call.remaining())
            if waiter.future.done():
                return waiter.future.result()
            answer = waiter.partial()
            if answer is not None:
                return answer  # an update of every pin whose device was still sending when the time ran out
            if call.keys is None:
                raise call.error(f'device {call.device} did not answer the {call.kind} request of every pin within {call.budget:g}s', None)
            missing = sorted({key.pin for key in waiter.missing_keys() if key.pin is not ANY})
            what = f'pins {pins_text(missing)}' if missing else ', '.join(map(repr, waiter.missing_keys()))
            raise call.error(f'{call.about} did not confirm {what} ({call.kind}) within {call.budget:g}s', missing)
        finally:
            if waiter is not None:
                self._waiters.discard(waiter)
                waiter.close()


@dataclass
class _Call:
    """One request on its way: what to publish, what confirms it, and by when."""

    device: str | None
    kind: str
    topic: str
    payload: str | bytes
    keys: list[CbKey] | None
    timeout: float | None
    settle: float
    budget: float
    deadline: float

    @property
    def pins(self) -> list[int] | None:
        return sorted({key.pin for key in self.keys if key.pin is not ANY}) if self.keys else None

    @property
    def about(self) -> str:
        return f'device {self.device}' if self.device is not None else f'topic {self.topic}'

    def remaining(self) -> float:
        return max(0.0, self.deadline - asyncio.get_running_loop().time())

    @property
    def pins_note(self) -> str:
        pins = self.pins
        return f' (pins {pins_text(pins)})' if pins else ''

    def error(self, message: str, pins: list[int] | None) -> DeviceTimeoutError:
        return DeviceTimeoutError(message, self.device, self.kind, pins, self.budget)
