# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``RequestScheduler``: how the synchronous ``DeviceCluster`` sends its requests and matches the answers.

* one request per device is in flight at a time (``KeyLock``), at most ``window`` requests in
  flight overall (spec ``mqtt-device-cluster-protocol.md`` §5: mosquitto drops QoS 1 messages
  beyond its in-flight and queue limits), every request has a timeout and a batch has an overall
  time budget;
* every update the dispatcher hands over (``match``) is matched against the request in flight
  for its device, counting only updates received after the request was published;
* a ``get`` of every pin is done when the device settles (no update for ``settle`` seconds) or,
  not settled, when its time runs out;
* a PUBACK with a failure reason code (``refused``) ends the request it belongs to;
* after a reconnection, requests still waiting are sent again (pulses are never repeated: a
  ``get`` of their pins is sent instead).
"""

from __future__ import annotations

import collections
import threading
import time

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import MqttError, MqttTimeout
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import (
    DEFAULT_SETTLE,
    PinInfo,
    Topics,
    encode_config,
    encode_get,
    encode_set,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.request import Request, timeout_message, validate_settle
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.thread_lock import KeyLock

__all__ = ['DEFAULT_TIMEOUT', 'DEFAULT_WINDOW', 'RequestScheduler']

DEFAULT_WINDOW = 256
DEFAULT_TIMEOUT = 5.0


class RequestScheduler:
    """The requests in flight on one connection, and the window, locks and deadlines that pace them.

    ``connection`` (a connected ``MqttConnection``) must be set before ``execute``. ``stats`` is
    the owner's counter (``resent``, ``timeouts``). ``received``, ``match``, ``refused``,
    ``reconnected`` and ``wake`` are called from the owner's receiving side; ``execute`` from the
    threads that send requests.
    """

    def __init__(
        self, topics: Topics, stats: collections.Counter, timeout: float = DEFAULT_TIMEOUT, window: int = DEFAULT_WINDOW, settle: float = DEFAULT_SETTLE
    ):
        if window < 1:
            raise ValueError('window must be at least 1')
        self.topics = topics
        self.stats = stats
        self.connection = None
        self.timeout = float(timeout)
        self.settle = validate_settle(settle)
        self.window = int(window)
        self.keylock = KeyLock()
        self._cond = threading.Condition()
        self._active = {}
        self._rx_seq = 0
        self._refused_early = {}

    # -- receiving side -------------------------------------------------------------------------------

    def received(self) -> int:
        """Number one more received message (on paho's network thread): only updates numbered after a request was sent can confirm it."""
        self._rx_seq += 1
        return self._rx_seq

    def reconnected(self) -> None:
        """The connection is back: requests still waiting are sent again."""
        with self._cond:
            for request in self._active.values():
                request.republish = True
            self._cond.notify_all()

    def wake(self) -> None:
        """Something changed on the connection: let ``execute`` look again."""
        with self._cond:
            self._cond.notify_all()

    def match(self, seq: int, device_id: str, infos: list[PinInfo]) -> None:
        """Hand received update number ``seq`` of ``device_id`` to the request waiting for that device."""
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

    def refused(self, mid: int, text: str) -> None:
        """The broker refused a publish (PUBACK failure reason code, e.g. 0x87 not authorised by its ACL)."""
        with self._cond:
            for request in self._active.values():
                if request.info is not None and request.info.mid == mid:
                    self._refuse(request, text)
                    return
            # The PUBACK overtook the assignment of request.info in _send.
            self._refused_early[mid] = text

    def _refuse(self, request, text):
        # Caller holds self._cond.
        if request.status == 'sent':
            request.status = 'error'
            request.error = (
                f'MQTT broker {self.connection.options.address} refused the {request.kind} request to device {request.device_id}: {text} '
                f'(does its ACL allow this user to publish to {self.topics.command(request.kind, request.device_id)}?)'
            )
            self._cond.notify_all()

    # -- sending side ---------------------------------------------------------------------------------

    def execute(self, requests: list[Request], budget: float | None = None) -> list[Request]:
        """Run many requests, at most ``window`` in flight and one per device at a time (in list order).

        Never raises for a device that does not answer: each Request gets its ``status``. ``budget``
        bounds the whole batch (seconds); requests not sent when it runs out get ``not_sent``.
        Raises MqttError only if the connection is lost for good (fatal error).
        """
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
                            request.error = f'not sent: the overall time budget of {budget:.1f}s ran out'
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

                    def progress(answers_seen=answers_seen):
                        if any(request.status != 'sent' or request.republish for request in in_flight):
                            return True
                        if answers_seen != [request.last_update for request in in_flight]:
                            return True  # a get of every pin got (more of) its answer: wake at its new settle time
                        fatal = self.connection.fatal_error
                        if fatal is not None:
                            return True
                        # Something new can be launched (a device lock freed by another thread is seen by polling).
                        return (
                            bool(waiting)
                            and self.connection.ready
                            and len(in_flight) < self.window
                            and any(not self.keylock.locked(device_id) for device_id in waiting)
                        )

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
            request.error = timeout_message(request.device_id, request.kind, request.missing(), request.timeout, request.published is not False)
