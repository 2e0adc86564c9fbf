# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures of the MQTT client tests: a broker with TLS and passwords, clients (the plain broker, prefix and
virtual devices come from tests/unit/plugins/conftest.py)."""

from __future__ import annotations

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import ConnectionOptions
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.device_cluster import DeviceCluster
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.conftest import require_mosquitto
from ansible_collections.picluster.clusterctrl.tests.utils.mosquitto_broker import MosquittoBroker

USERS = {'alice': 'wonderland', 'devices': 'fleet-secret'}


@pytest.fixture(scope='session')
def secure_broker(tmp_path_factory):
    """Broker with a password file (no anonymous access) and a TLS listener with a test CA."""
    require_mosquitto()
    instance = MosquittoBroker(tmp_path_factory.mktemp('mosquitto-secure'), tls=True, passwords=USERS).start()
    yield instance
    instance.stop()


@pytest.fixture
def users():
    """Users and passwords in the secure broker's password file."""
    return dict(USERS)


@pytest.fixture
def cluster_factory(broker, prefix):
    clusters = []

    def make(options=None, **kwargs):
        kwargs.setdefault('prefix', prefix)
        kwargs.setdefault('timeout', 3.0)
        cluster = DeviceCluster.connect(options or ConnectionOptions(host=broker.host, port=broker.port, connect_timeout=5), **kwargs)
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        cluster.stop()
