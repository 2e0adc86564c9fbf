# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Synchronous device-cluster client: configure, set and read pins of many devices over one connection.

The API follows the earlier asyncio ``mqtt_device_cluster`` library (``DeviceCluster.config_pins``,
``set_pins`` with pulse ``time``, ``update``, ``CbKey`` callbacks, ``KeyLock``, ``PinCache``), rebuilt
on a synchronous paho-mqtt connection for use inside Ansible modules:

* every update from every device refreshes the cache and fires callbacks, whether or not a
  request is waiting (a dispatcher thread drains a queue the paho callback only appends to);
* a request is confirmed by content: updates received after it was published must cover every
  requested pin with the requested mode (``config``) / state (``set``) or at all (``get``);
  a pulse (``set`` with ``time``) accepts either level, since firmware reports before or after
  the revert;
* a ``get`` of every pin (``[]``) cannot be confirmed by content: the answer is collected from
  every update of the device until it settles (no update for ``settle`` seconds) or the request's
  time runs out; ``Request.settled`` says which, so a partial answer (a device that answers in
  several messages, an unsolicited update arriving first) is never taken for a complete one;
* one request per device is in flight at a time (``KeyLock``), at most ``window`` requests in
  flight overall, every request has a timeout and a batch has an overall time budget;
* after a reconnection, requests still waiting are sent again (pulses are never repeated: a
  ``get`` of their pins is sent instead);
* malformed, non-UTF-8 or oversized updates are ignored and counted in ``stats``.
"""

from __future__ import annotations

import collections
import math
import queue
import threading
import time

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.api_types import ConfigPin, SetPin
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import MqttError, MqttTimeout
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.pin_cache import PinCache
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import (
    DEFAULT_MAX_PAYLOAD,
    DEFAULT_PREFIX,
    DEFAULT_SETTLE,
    OUTPUT_MODES,
    PayloadError,
    PinInfo,
    PinMode,
    PinState,
    ProtocolError,
    Topics,
    decode_update,
    encode_config,
    encode_get,
    encode_set,
    parse_mode,
    parse_state,
    validate_device_id,
    validate_pin,
)

__all__ = [
    'ANY', 'CbKey', 'ConfigPin', 'DeviceCluster', 'DeviceTimeout', 'KeyLock', 'PinCache', 'PinInfo',
    'PinMode', 'PinState', 'Request', 'SetPin',
]

ANY = None
DEFAULT_WINDOW = 256
DEFAULT_TIMEOUT = 5.0


CbKey = collections.namedtuple('CbKey', ['device_id', 'pin'])
CbKey.__doc__ = 'Callback key: ``CbKey(device_id, pin)``; ``ANY`` (None) in either field matches everything.'


class DeviceTimeout(MqttError):
    """A device did not confirm some pins in time."""

    def __init__(self, device_id, kind, pins, timeout, published=True):
        self.device_id = device_id
        self.kind = kind
        self.pins = sorted(pins) if pins is not None else None
        self.timeout = timeout
        self.published = published
        super(DeviceTimeout, self).__init__(_timeout_message(device_id, kind, self.pins, timeout, published))


def _timeout_message(device_id, kind, pins, timeout, published):
    if not published:
        return 'request %s to device %s was not acknowledged by the MQTT broker within %.1fs' % (kind, device_id, timeout)
    if pins is None:
        return 'device %s did not answer the %s request within %.1fs' % (device_id, kind, timeout)
    return 'device %s did not confirm pins %s (%s) within %.1fs' % (device_id, ', '.join(str(pin) for pin in pins), kind, timeout)


def _settle_time(value) -> float:
    """A settle time must be a finite number of seconds above 0: at 0, the first update would count as the whole answer."""
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f'settle must be a finite number of seconds greater than 0, got {value:g}')
    return value


class KeyLock(object):
    """Per-key (per-device) mutual exclusion.

    An entry is deleted only when nobody holds it and nobody waits for it, so a waiter can never
    end up holding a lock object that a later caller does not see (the original deleted locks
    that waiters still referenced).
    """

    class _Entry(object):
        __slots__ = ('locked', 'waiters')

        def __init__(self):
            self.locked = False
            self.waiters = 0

    def __init__(self):
        self._cond = threading.Condition()
        self._entries = {}

    def acquire(self, key, blocking=True, timeout=None):
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

    def release(self, key):
        with self._cond:
            entry = self._entries.get(key)
            if entry is None or not entry.locked:
                raise RuntimeError('KeyLock.release(%r): not locked' % (key,))
            entry.locked = False
            self._drop_if_unused(key, entry)
            self._cond.notify_all()

    def _drop_if_unused(self, key, entry):
        if not entry.locked and entry.waiters == 0 and self._entries.get(key) is entry:
            del self._entries[key]

    def locked(self, key):
        with self._cond:
            entry = self._entries.get(key)
            return bool(entry and entry.locked)

    def __len__(self):
        with self._cond:
            return len(self._entries)

    def hold(self, key, timeout=None):
        """Context manager: ``with keylock.hold(device_id, 5): ...`` (raises MqttTimeout)."""
        lock = self

        class _Holder(object):
            def __enter__(self):
                if not lock.acquire(key, timeout=timeout):
                    raise MqttTimeout('timed out waiting for the lock of %r' % (key,))
                return self

            def __exit__(self, *exc):
                lock.release(key)

        return _Holder()


class Request(object):
    """One config/set/get request to one device, and its outcome.

    ``status``: ``queued`` -> ``sent`` -> ``done`` | ``timeout`` | ``not_sent`` | ``error``.
    ``confirmed``: ``{pin: PinInfo}`` from the updates that confirmed it.
    ``settle`` (a get of every pin only): seconds without a further update from the device after
    which its answer is complete (None: the cluster's default). ``settled``: whether it was, or
    whether the request's time ran out while the device was still sending (None until done).
    """

    def __init__(self, device_id, kind, pins=None, timeout=None, settle=None):
        self.device_id = validate_device_id(device_id)
        if kind not in ('config', 'set', 'get'):
            raise ProtocolError('unknown request kind %r' % (kind,))
        self.kind = kind
        self.timeout = timeout
        self.settle = None if settle is None else _settle_time(settle)
        self.last_update = None
        self.settled = None
        self.expect = collections.OrderedDict()
        if kind == 'get':
            pins = [validate_pin(pin) for pin in (pins or [])]
            self.entries = pins
            self.payload = encode_get(pins)
            for pin in pins:
                self.expect[pin] = (None, None)
        elif kind == 'config':
            self.entries = [dict(entry) for entry in pins]
            self.payload = encode_config(self.entries)
            for entry in self.entries:
                mode = parse_mode(entry['mode'])
                state = entry.get('state')
                state = parse_state(state) if state is not None and mode in OUTPUT_MODES else None
                self.expect[entry['pin']] = (mode, state)
        else:
            self.entries = [dict(entry) for entry in pins]
            self.payload = encode_set(self.entries)
            for entry in self.entries:
                # A pulse accepts either level: firmware reports the commanded level, the reverted one, or both.
                state = None if entry.get('time') else parse_state(entry['state'])
                self.expect[entry['pin']] = (None, state)
        if kind != 'get' and not self.expect:
            raise ProtocolError('a %s request needs at least one pin' % kind)
        if len(self.expect) != len(self.entries):
            raise ProtocolError('pin listed twice in one %s request to %s' % (kind, device_id))
        self.all_pins = kind == 'get' and not self.expect
        self.remaining = set(self.expect)
        self.confirmed = collections.OrderedDict()
        self.status = 'queued'
        self.error = None
        self.published = None
        self.info = None
        self.threshold = None
        self.deadline = None
        self.generation = None
        self.republish = False

    @property
    def is_pulse(self):
        return self.kind == 'set' and any(entry.get('time') for entry in self.entries)

    @property
    def ok(self):
        return self.status == 'done'

    @property
    def complete(self) -> bool:
        """Done, and for a get of every pin, settled: the answer is known to be whole."""
        return self.ok and (not self.all_pins or bool(self.settled))

    def settle_at(self):
        """When the answer to a get of every pin settles if no further update comes (None before the first one)."""
        if not self.all_pins or self.last_update is None:
            return None
        return self.last_update + self.settle

    def matches(self, info):
        if self.all_pins:
            return True
        if info.pin not in self.remaining:
            return False
        mode, state = self.expect[info.pin]
        if mode is not None and info.mode != mode:
            return False
        if state is not None and info.state != state:
            return False
        return True

    def missing(self):
        """Pins not confirmed (None for a get of every pin that got no answer)."""
        if self.all_pins:
            return None if self.status != 'done' else []
        return sorted(self.remaining)

    def raise_for_status(self):
        if self.status == 'done':
            return
        if self.status in ('timeout', 'not_sent'):
            raise DeviceTimeout(self.device_id, self.kind, self.missing(), self.timeout or 0, published=self.published is not False)
        raise MqttError(self.error or 'request %s to %s failed' % (self.kind, self.device_id))

    def __repr__(self):
        return 'Request(%r, %r, %r, status=%r)' % (self.device_id, self.kind, self.entries, self.status)


class DeviceCluster(object):
    """Many devices behind one MQTT connection.

    ``connection``: a connected ``MqttConnection``. Call ``start()`` (subscribes to every device's
    updates and waits for the SUBACK) before sending requests, ``stop()`` at the end. The caller
    must route the connection's messages here: build the connection with
    ``on_message=cluster.feed`` / ``on_event=cluster.connection_event`` or use ``DeviceCluster.connect``.
    """

    def __init__(self, connection=None, prefix=DEFAULT_PREFIX, timeout=DEFAULT_TIMEOUT, window=DEFAULT_WINDOW,
                 max_payload=DEFAULT_MAX_PAYLOAD, cache=None, settle=DEFAULT_SETTLE):
        if window < 1:
            raise ValueError('window must be at least 1')
        self.topics = Topics(prefix)
        self.connection = connection
        self.timeout = float(timeout)
        self.settle = _settle_time(settle)
        self.window = int(window)
        self.max_payload = max_payload
        self.cache = cache if cache is not None else PinCache()
        self.keylock = KeyLock()
        self.stats = collections.Counter()
        self._queue = queue.Queue()
        self._cond = threading.Condition()
        self._active = {}
        self._callbacks = {}
        self._rx_seq = 0
        self._refused_early = {}
        self._dispatcher = None
        self._started = False

    @classmethod
    def connect(cls, options, **kwargs):
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

    # -- network thread side (must not block) ---------------------------------------------------------

    def feed(self, topic, payload):
        """Hand one received message over (called from paho's network thread; only enqueues)."""
        self._rx_seq += 1
        self._queue.put(('msg', self._rx_seq, topic, payload))

    def publish_refused(self, mid, text):
        """The broker refused a publish (PUBACK failure reason code, e.g. 0x87 not authorised by its ACL)."""
        self._queue.put(('refused', mid, text))

    def connection_event(self, kind):
        self._queue.put(('event', kind))

    # -- dispatcher thread ----------------------------------------------------------------------------

    def _dispatch_loop(self):
        while True:
            item = self._queue.get()
            if item[0] == 'stop':
                return
            if item[0] == 'event':
                if item[1] == 'connected':
                    with self._cond:
                        for request in self._active.values():
                            request.republish = True
                        self._cond.notify_all()
                else:
                    with self._cond:
                        self._cond.notify_all()
                continue
            if item[0] == 'refused':
                self._handle_refused(item[1], item[2])
                continue
            self._handle_message(item[1], item[2], item[3])

    def _refuse(self, request, text):
        # Caller holds self._cond.
        if request.status == 'sent':
            request.status = 'error'
            request.error = ('MQTT broker %s refused the %s request to device %s: %s (does its ACL allow this user to publish to %s?)'
                             % (self.connection.options.address, request.kind, request.device_id, text,
                                self.topics.command(request.kind, request.device_id)))
            self._cond.notify_all()

    def _handle_refused(self, mid, text):
        with self._cond:
            for request in self._active.values():
                if request.info is not None and request.info.mid == mid:
                    self._refuse(request, text)
                    return
            # The PUBACK overtook the assignment of request.info in _send.
            self._refused_early[mid] = text

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
        with self._cond:
            request = self._active.get(device_id)
            if request is not None and request.status == 'sent' and seq > request.threshold:
                for info in infos:
                    if request.matches(info):
                        request.confirmed[info.pin] = info
                        request.remaining.discard(info.pin)
                if request.all_pins:
                    # Not done yet: more of the answer may follow (the waiter decides when it settled).
                    request.last_update = time.monotonic()
                    self._cond.notify_all()
                elif not request.remaining:
                    request.status = 'done'
                    self._cond.notify_all()
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

    def start(self, timeout=None):
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

    def stop(self, close_connection=True):
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

    def add_callback(self, key, callback):
        """Call ``callback(device_id, PinInfo)`` for every reported pin matching ``key`` (a CbKey).

        Callbacks run on the dispatcher thread: keep them short.
        """
        self._callbacks.setdefault(CbKey(*key), []).append(callback)

    def remove_callback(self, key, callback):
        callbacks = self._callbacks.get(CbKey(*key), [])
        if callback in callbacks:
            callbacks.remove(callback)

    # -- requests -------------------------------------------------------------------------------------

    def config_pins(self, device_id, pins, timeout=None):
        """Configure pins (list of ConfigPin) and wait for confirmation; returns ``{pin: PinInfo}``."""
        return self._one(Request(device_id, 'config', pins, timeout))

    def set_pins(self, device_id, pins, timeout=None):
        """Drive output pins (list of SetPin; ``time`` = pulse in ms); returns ``{pin: PinInfo}``."""
        return self._one(Request(device_id, 'set', pins, timeout))

    def update(self, device_id, pins=None, timeout=None, settle=None):
        """Ask a device for its pins (``None``/``[]``: every configured pin); returns ``{pin: PinInfo}``.

        For every pin, the answer is what the device reported until it settled (``settle`` seconds
        without a further update) or ``timeout`` ran out, whichever came first.
        """
        return self._one(Request(device_id, 'get', pins, timeout, settle))

    def get_pins(self, device_id, pins=None, timeout=None, settle=None):
        return self.update(device_id, pins, timeout, settle)

    def _one(self, request):
        self.execute([request])
        request.raise_for_status()
        return dict(request.confirmed)

    def execute(self, requests, budget=None):
        """Run many requests, at most ``window`` in flight and one per device at a time (in list order).

        Never raises for a device that does not answer: each Request gets its ``status``. ``budget``
        bounds the whole batch (seconds); requests not sent when it runs out get ``not_sent``.
        Raises MqttError only if the connection is lost for good (fatal error).
        """
        if not self._started:
            raise MqttError('DeviceCluster.start() was not called')
        now = time.monotonic()
        budget_deadline = None if budget is None else now + budget
        waiting = collections.OrderedDict()
        for request in requests:
            if request.timeout is None:
                request.timeout = self.timeout
            if request.settle is None:
                request.settle = self.settle
            waiting.setdefault(request.device_id, collections.deque()).append(request)
        in_flight = []
        try:
            while waiting or in_flight:
                now = time.monotonic()
                if budget_deadline is not None and now >= budget_deadline:
                    for queue_ in waiting.values():
                        for request in queue_:
                            request.status = 'not_sent'
                            request.error = 'not sent: the overall time budget of %.1fs ran out' % budget
                    waiting.clear()
                # Launch what the window and the per-device locks allow.
                launch = []
                if self.connection.ready:
                    for device_id in list(waiting):
                        if len(in_flight) + len(launch) >= self.window:
                            break
                        if not self.keylock.acquire(device_id, blocking=False):
                            continue
                        request = waiting[device_id].popleft()
                        if not waiting[device_id]:
                            del waiting[device_id]
                        launch.append(request)
                for request in launch:
                    deadline = now + request.timeout
                    if budget_deadline is not None:
                        deadline = min(deadline, budget_deadline)
                    request.deadline = deadline
                    self._send(request)
                    in_flight.append(request)
                # Re-send after a reconnection.
                for request in in_flight:
                    if request.republish and request.status == 'sent' and self.connection.ready:
                        self._resend(request)
                # Wait for progress.
                with self._cond:
                    answers_seen = [request.last_update for request in in_flight]

                    def progress():
                        if any(request.status != 'sent' or request.republish for request in in_flight):
                            return True
                        if answers_seen != [request.last_update for request in in_flight]:
                            return True  # a get of every pin got (more of) its answer: wake at its new settle time
                        fatal = self.connection.fatal_error
                        if fatal is not None:
                            return True
                        # Something new can be launched (a device lock freed by another thread is seen by polling).
                        return bool(waiting) and self.connection.ready and len(in_flight) < self.window and any(
                            not self.keylock.locked(device_id) for device_id in waiting)
                    deadlines = [request.deadline for request in in_flight]
                    deadlines.extend(at for at in (request.settle_at() for request in in_flight) if at is not None)
                    if budget_deadline is not None and waiting:
                        deadlines.append(budget_deadline)
                    wait = min(deadlines) - time.monotonic() if deadlines else 0.5
                    # Poll at least every 0.5 s: connection state changes arrive via the dispatcher.
                    self._cond.wait_for(progress, max(0.0, min(wait, 0.5)))
                    now = time.monotonic()
                    for request in in_flight:
                        self._check_time(request, now)
                    finished = [request for request in in_flight if request.status != 'sent']
                    for request in finished:
                        in_flight.remove(request)
                        if self._active.get(request.device_id) is request:
                            del self._active[request.device_id]
                for request in finished:
                    self._finish(request)
                fatal = self.connection.fatal_error
                if fatal is not None:
                    raise fatal
                if not self.connection.ready and not in_flight and waiting:
                    # Not connected: give reconnection a chance, bounded by the requests' timeouts.
                    self._wait_reconnect(waiting, budget_deadline)
        finally:
            with self._cond:
                for request in in_flight:
                    if request.status == 'sent':
                        request.status = 'error'
                        request.error = request.error or 'aborted'
                    if self._active.get(request.device_id) is request:
                        del self._active[request.device_id]
            for request in in_flight:
                self.keylock.release(request.device_id)
        return requests

    @staticmethod
    def _check_time(request, now):
        """Settle or time out a request still waiting (caller holds self._cond)."""
        if request.status != 'sent':
            return
        settle_at = request.settle_at()
        if settle_at is not None and now >= settle_at:
            request.status, request.settled = 'done', True
        elif now >= request.deadline:
            if settle_at is not None:
                # Answered, but the device was still sending when the time ran out: maybe not all of it.
                request.status, request.settled = 'done', False
            else:
                request.status = 'timeout'

    def _wait_reconnect(self, waiting, budget_deadline):
        longest = max(request.timeout for queue_ in waiting.values() for request in queue_)
        if budget_deadline is not None:
            longest = min(longest, max(0.0, budget_deadline - time.monotonic()))
        try:
            self.connection.wait_ready(longest)
        except MqttTimeout as exc:
            for queue_ in waiting.values():
                for request in queue_:
                    request.status = 'not_sent'
                    request.published = False
                    request.error = str(exc)
            waiting.clear()

    def _send(self, request):
        with self._cond:
            request.status = 'sent'
            request.threshold = self._rx_seq
            request.generation = self.connection.generation
            self._active[request.device_id] = request
        topic = self.topics.command(request.kind, request.device_id)
        try:
            request.info = self.connection.publish(topic, request.payload)
        except MqttError as exc:
            with self._cond:
                request.status = 'error'
                request.error = str(exc)
                self._cond.notify_all()
            return
        with self._cond:
            text = self._refused_early.pop(request.info.mid, None)
            if text is not None:
                self._refuse(request, text)

    def _resend(self, request):
        request.republish = False
        if request.generation == self.connection.generation:
            return
        request.generation = self.connection.generation
        self.stats['resent'] += 1
        if request.is_pulse or request.all_pins:
            pins = [] if request.all_pins else sorted(request.remaining)
            payload, kind = encode_get(pins), 'get'
        elif request.kind == 'get':
            payload, kind = encode_get(sorted(request.remaining)), 'get'
        elif request.kind == 'config':
            payload, kind = encode_config([entry for entry in request.entries if entry['pin'] in request.remaining]), 'config'
        else:
            payload, kind = encode_set([entry for entry in request.entries if entry['pin'] in request.remaining]), 'set'
        try:
            request.info = self.connection.publish(self.topics.command(kind, request.device_id), payload)
        except MqttError:
            pass

    def _finish(self, request):
        self.keylock.release(request.device_id)
        info = request.info
        if info is not None:
            try:
                request.published = bool(info.is_published())
            except (ValueError, RuntimeError):
                request.published = False
        if request.status == 'timeout':
            self.stats['timeouts'] += 1
            request.error = _timeout_message(request.device_id, request.kind, request.missing(), request.timeout, request.published is not False)

    # -- convenience ----------------------------------------------------------------------------------

    def ignored_messages(self):
        """Counts of ignored device messages by reason (oversized, not_utf8, not_json, malformed, topic)."""
        return dict((key[len('ignored_'):], value) for key, value in self.stats.items() if key.startswith('ignored_'))
