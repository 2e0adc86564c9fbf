# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Check-mode invariant from the broker's log: check-mode runs connect as picluster-check-*, and
tests/utils/check_broker_log.py fails if such a client published a config or set request."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from ansible_collections.picluster.clusterctrl.tests.unit.plugins.module_utils.mqtt.hardening_helpers import HAS_ANSIBLE
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import execute
from ansible_collections.picluster.clusterctrl.tests.utils import check_broker_log
from ansible_collections.picluster.clusterctrl.tests.utils.mosquitto_broker import MosquittoBroker, find_mosquitto

DECLARED = [{'pin': 0, 'mode': 'output', 'state': 'high'}, {'pin': 1, 'mode': 'input_pullup'}]


def _script():
    return check_broker_log.__file__


def test_checker_flags_a_check_mode_config_and_counts(tmp_path):
    log = tmp_path / 'mosquitto.log'
    log.write_text(
        '1: New client connected from 127.0.0.1:5 as picluster-check-0a1b2c3d4e5f (p2, c1, k60).\n'
        "1: Received PUBLISH from picluster-check-0a1b2c3d4e5f (d0, q1, r0, m1, 'device/dev1/pin/get', ... (3 bytes))\n"
        "1: Received PUBLISH from picluster-0a1b2c3d4e5f (d0, q1, r0, m2, 'device/dev1/pin/set', ... (20 bytes))\n"
    )
    proc = subprocess.run([sys.executable, _script(), str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    assert proc.returncode == 0, proc.stdout
    assert b'2 publishes logged; 1 check-mode clients, 1 publishes by them (get 1); 0 config/set' in proc.stdout
    with open(str(log), 'a') as handle:
        handle.write("1: Received PUBLISH from picluster-check-0a1b2c3d4e5f (d0, q1, r0, m3, 'a/b/dev1/pin/config', ... (20 bytes))\n")
    proc = subprocess.run([sys.executable, _script(), str(log)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    assert proc.returncode == 1
    assert b'VIOLATION: check-mode client picluster-check-0a1b2c3d4e5f published a/b/dev1/pin/config (20 bytes)' in proc.stdout


def test_checker_refuses_a_log_without_publish_lines(tmp_path):
    (tmp_path / 'mosquitto.log').write_text('1: mosquitto version 2.0.11 running\n')
    proc = subprocess.run([sys.executable, _script(), str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    assert proc.returncode == 1 and b'nothing is proven' in proc.stdout


@pytest.mark.skipif(not HAS_ANSIBLE, reason='module tests need ansible-core')
def test_check_mode_client_id_and_broker_log(monkeypatch, tmp_path, prefix, fleet_factory):
    if find_mosquitto() is None:
        pytest.skip('mosquitto is not installed')
    from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import ConnectionOptions
    from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.virtual_devices import VirtualDeviceFleet
    from ansible_collections.picluster.clusterctrl.plugins.modules import mqtt_pins, mqtt_pins_info

    broker = MosquittoBroker(tmp_path / 'broker').start()
    fleet = VirtualDeviceFleet(ConnectionOptions(host=broker.host, port=broker.port), ['dev1', 'dev2'], pins=4, prefix=prefix).start()
    try:
        pulse = {'pin': 2, 'mode': 'output', 'state': 'high', 'pulse_ms': 50}
        args = {
            'host': broker.host,
            'port': broker.port,
            'topic_prefix': prefix,
            'timeout': 2,
            'devices': [{'id': 'dev1', 'pins': DECLARED}, {'id': 'dev2', 'pins': DECLARED + [pulse]}],
        }
        failed, result, _elapsed = execute(mqtt_pins, args, check_mode=True)
        assert not failed and result['changed']
        failed, result, _elapsed = execute(mqtt_pins_info, dict(args, devices=['dev1']), check_mode=True)
        assert not failed
        failed, result, _elapsed = execute(mqtt_pins, args)
        assert not failed and result['changed']
        time.sleep(0.3)
    finally:
        fleet.stop()
        broker.stop()
    with open(broker.log_path, errors='replace') as handle:
        text = handle.read()
    check_clients = set(re.findall(r'Received PUBLISH from (picluster-check-[0-9a-f]{12}) ', text))
    assert len(check_clients) == 2, 'two check-mode runs, each with its own picluster-check-<random> id'
    assert re.search(rf"Received PUBLISH from picluster-[0-9a-f]{{12}} \(d0, q1, r0, m\d+, '{prefix}/dev1/pin/config'", text)
    proc = subprocess.run([sys.executable, _script(), broker.log_path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    assert proc.returncode == 0, proc.stdout
    assert b'2 check-mode clients, 3 publishes by them (get 3); 0 config/set by check-mode clients' in proc.stdout
    # The same log with one line forged as if a check-mode run had configured a pin: the checker catches it.
    forged = tmp_path / 'forged.log'
    forged.write_text(text + f"1: Received PUBLISH from {sorted(check_clients)[0]} (d0, q1, r0, m9, '{prefix}/dev1/pin/set', ... (22 bytes))\n")
    proc = subprocess.run([sys.executable, _script(), str(forged)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    assert proc.returncode == 1 and b'VIOLATION' in proc.stdout
