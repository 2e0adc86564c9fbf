# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Helpers of the fault, bad-input and security tests: misbehaving devices."""

from __future__ import annotations

import importlib.util
import json
import queue
import threading
import time

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import ConnectionOptions, MqttConnection
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import Topics

# The Python 3.9 venv of Debian 12's libraries has paho-mqtt 1.6.1 but no ansible-core: module tests skip there.
HAS_ANSIBLE = importlib.util.find_spec('ansible') is not None


class CraftedDevice:
    """A misbehaving device: a plain paho client answering requests with whatever ``behaviour`` says.

    ``behaviour(kind, payload_bytes)`` returns a list of actions: ``bytes`` (publish this as the
    device's update), ``('topic', topic, bytes)`` (publish elsewhere), ``('pause', seconds)`` (wait
    before the next action), ``'disconnect'`` (drop the TCP connection without DISCONNECT, like a
    device losing power). Runs on a worker thread.
    """

    def __init__(self, broker, prefix, device_id, behaviour, **options):
        self.topics = Topics(prefix)
        self.device_id = device_id
        self.behaviour = behaviour
        self.requests = []
        self._queue = queue.Queue()
        self.connection = MqttConnection(ConnectionOptions(host=broker.host, port=broker.port, **options), on_message=self._feed)
        self._worker = None

    def _feed(self, topic, payload):
        self._queue.put((topic, bytes(payload)))

    def start(self):
        self.connection.connect()
        self.connection.subscribe(f'{self.topics.prefix}/{self.device_id}/pin/+', 5)
        self._worker = threading.Thread(target=self._run, name='crafted-device')
        self._worker.daemon = True
        self._worker.start()
        return self

    def _run(self):
        while True:
            item = self._queue.get()
            if item is None:
                return
            topic, payload = item
            parsed = self.topics.parse(topic)
            if parsed is None or parsed[1] == 'update':
                continue
            self.requests.append((parsed[1], payload))
            for action in self.behaviour(parsed[1], payload) or ():
                if action == 'disconnect':
                    time.sleep(0.2)  # let paho send what was published before
                    sock = self.connection.paho_client.socket()
                    if sock is not None:
                        try:
                            sock.shutdown(2)
                        except OSError:
                            pass
                    self.connection.close()
                    return
                if isinstance(action, tuple) and action[0] == 'pause':
                    time.sleep(action[1])
                elif isinstance(action, tuple):
                    self.connection.publish(action[1], action[2])
                else:
                    self.connection.publish(self.topics.update(self.device_id), action)

    def stop(self):
        self._queue.put(None)
        if self._worker is not None:
            self._worker.join(5)
        self.connection.close()


def update_for(payload, mode=3, state=0):
    """A well-formed update answering a get/config/set ``payload`` (list of pins or of objects)."""
    items = json.loads(payload.decode('utf-8'))
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append({'pin': item['pin'], 'mode': item.get('mode', mode), 'state': item.get('state', state)})
        else:
            out.append({'pin': item, 'mode': mode, 'state': state})
    return json.dumps(out).encode('utf-8')
