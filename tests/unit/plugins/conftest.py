# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures shared by the MQTT tests of module_utils and modules: a real mosquitto broker on a free
loopback port, a topic prefix per test, and virtual devices on it."""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import ConnectionOptions
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.virtual_devices import VirtualDeviceFleet
from ansible_collections.picluster.clusterctrl.tests.utils.mosquitto_broker import MosquittoBroker, find_mosquitto, stop_brokers_started_here

# The process that collected the tests. A test running in another process runs in a fork of it
# (ansible-test units runs every test in its own child), where session- and module-scoped fixtures
# are set up again and, but for the last test, never torn down.
_COLLECTING_PID = os.getpid()


@pytest.fixture(autouse=True)
def _no_broker_outlives_a_forked_test():
    """In a forked test, stop the brokers this child started (the session and module brokers included)
    when the test ends, in the same process: the child exits right after (``os._exit``, no atexit).
    Without forking nothing happens here; the fixtures' own teardown stops the brokers."""
    yield
    if os.getpid() != _COLLECTING_PID:
        stop_brokers_started_here()


def require_mosquitto():
    if find_mosquitto() is None:
        if os.environ.get('PICLUSTER_SKIP_WITHOUT_MOSQUITTO'):
            pytest.skip('mosquitto is not installed')
        raise RuntimeError('mosquitto is not installed: apt-get install -y mosquitto (or set PICLUSTER_SKIP_WITHOUT_MOSQUITTO=1 to skip)')


@pytest.fixture(scope='session')
def broker(tmp_path_factory):
    """Anonymous broker (plain listener)."""
    require_mosquitto()
    instance = MosquittoBroker(tmp_path_factory.mktemp('mosquitto-anon')).start()
    yield instance
    instance.stop()


@pytest.fixture
def broker_factory(tmp_path):
    """Start extra brokers of a test's own (stopped at the end of the test)."""
    require_mosquitto()
    brokers = []

    def make(name='own', **kwargs):
        instance = MosquittoBroker(tmp_path / name, **kwargs).start()
        brokers.append(instance)
        return instance

    yield make
    for instance in brokers:
        instance.stop()


@pytest.fixture
def prefix(request):
    """A topic prefix of its own for every test, so tests sharing a broker never see each other's devices."""
    return 't_' + re.sub(r'\W', '_', request.node.name)[:60]


@pytest.fixture
def fleet_factory(broker, prefix):
    fleets = []

    def make(ids, pins=8, options=None, **kwargs):
        kwargs.setdefault('prefix', prefix)
        fleet = VirtualDeviceFleet(options or ConnectionOptions(host=broker.host, port=broker.port), ids, pins=pins, **kwargs).start()
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        fleet.stop()
