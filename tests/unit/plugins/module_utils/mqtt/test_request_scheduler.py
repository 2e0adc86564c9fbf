# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""RequestScheduler on its own, without a broker: a fake connection answers each request as it is published.

Spec ``mqtt-device-cluster-protocol.md`` §3 (confirmation by content, only by updates received after
the request) and §5 (a bounded window of outstanding requests, one request per device at a time).
"""

from __future__ import annotations

import collections
import json
from types import SimpleNamespace

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import PinInfo, Topics
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.request import Request
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.request_scheduler import RequestScheduler


class AnsweringConnection:
    """Ready connection whose devices answer every request at once, through the scheduler (as the dispatcher would)."""

    def __init__(self, topics, answer=True):
        self.topics = topics
        self.answer = answer
        self.scheduler = None
        self.ready = True
        self.generation = 0
        self.fatal_error = None
        self.options = SimpleNamespace(address='fake:1883')
        self.published = []
        self.in_flight_seen = []

    def publish(self, topic, payload):
        device_id, kind = self.topics.parse(topic)[0], topic.rsplit('/', 1)[-1]
        self.published.append((device_id, kind, json.loads(payload)))
        self.in_flight_seen.append(len(self.scheduler._active))
        if self.answer:
            entries = json.loads(payload)
            infos = (
                [PinInfo(entry['pin'], entry.get('mode', 3), entry.get('state', 0)) for entry in entries]
                if kind != 'get'
                else [PinInfo(pin, 3, 1) for pin in entries]
            )
            self.scheduler.match(self.scheduler.received(), device_id, infos)
        return SimpleNamespace(mid=len(self.published), is_published=lambda: True)


def scheduler_on(connection, **kwargs):
    scheduler = RequestScheduler(connection.topics, collections.Counter(), **kwargs)
    scheduler.connection = connection
    connection.scheduler = scheduler
    return scheduler


@pytest.fixture
def topics():
    return Topics('unit')


def test_window_bounds_the_requests_in_flight(topics):
    connection = AnsweringConnection(topics)
    scheduler = scheduler_on(connection, window=3)
    requests = [Request('dev%d' % index, 'set', [{'pin': 1, 'state': 1}]) for index in range(10)]
    scheduler.execute(requests)
    assert [request.status for request in requests] == ['done'] * 10
    assert max(connection.in_flight_seen) == 3
    assert not scheduler._active and len(scheduler.keylock) == 0


def test_one_request_per_device_at_a_time_in_list_order(topics):
    connection = AnsweringConnection(topics)
    scheduler = scheduler_on(connection)
    requests = [Request('dev1', 'config', [{'pin': 2, 'mode': 'output'}]), Request('dev2', 'get', [2]), Request('dev1', 'set', [{'pin': 2, 'state': 1}])]
    scheduler.execute(requests)
    assert [request.status for request in requests] == ['done'] * 3
    assert [(device_id, kind) for device_id, kind, payload in connection.published] == [('dev1', 'config'), ('dev2', 'get'), ('dev1', 'set')]
    # In flight as each was published (itself included): dev1's set waited until its config was done.
    assert connection.in_flight_seen == [1, 2, 1]


def test_an_update_received_before_the_request_does_not_confirm_it(topics):
    connection = AnsweringConnection(topics, answer=False)
    scheduler = scheduler_on(connection)
    seq = scheduler.received()  # received before the request is sent ...
    request = Request('dev1', 'get', [4], timeout=0)
    connection.publish = lambda topic, payload: (scheduler.match(seq, 'dev1', [PinInfo(4, 1, 0)]), SimpleNamespace(mid=1, is_published=lambda: True))[1]
    scheduler.execute([request])  # ... and handed over after it: not an answer
    assert request.status == 'timeout' and request.missing() == [4]
    assert scheduler.stats['timeouts'] == 1


def test_budget_spent_leaves_requests_not_sent(topics):
    connection = AnsweringConnection(topics)
    scheduler = scheduler_on(connection)
    requests = [Request('dev1', 'get', [1]), Request('dev2', 'get', [1])]
    scheduler.execute(requests, budget=0)
    assert [request.status for request in requests] == ['not_sent'] * 2
    assert connection.published == []


def test_window_must_be_positive(topics):
    with pytest.raises(ValueError, match='window must be at least 1'):
        RequestScheduler(topics, collections.Counter(), window=0)
