# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""mqtt_pins_info follows the collection's report contract (issue 9): ``changed: false`` always; per-device
results; on failure the per-device results, ``failed_devices`` and the error, whatever failed (arguments,
broker, a device). Needs ansible-core (skipped on the Python 3.9 compat venv)."""

from __future__ import annotations

import pytest

from ansible_collections.picluster.clusterctrl.tests.unit.plugins.module_utils.mqtt.hardening_helpers import HAS_ANSIBLE
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import execute
from ansible_collections.picluster.clusterctrl.tests.utils.mosquitto_broker import free_port

pytestmark = pytest.mark.skipif(not HAS_ANSIBLE, reason='module tests need ansible-core')
KEYS = {'changed', 'devices', 'failed_devices', 'ignored_messages'}
DEVICE_KEYS = {'failed', 'complete', 'msg', 'unconfirmed_pins', 'pins'}


def _run(args, check_mode=False):
    from ansible_collections.picluster.clusterctrl.plugins.modules import mqtt_pins_info

    failed, result, _elapsed = execute(mqtt_pins_info, args, check_mode=check_mode)
    assert set(result) >= KEYS, result
    assert result['changed'] is False
    for device in result['devices'].values():
        assert set(device) == DEVICE_KEYS
    return failed, result


@pytest.mark.parametrize('check_mode', [False, True])
def test_every_device_answers(broker, prefix, fleet_factory, check_mode):
    fleet_factory(['dev1', 'dev2'], pins=4)
    failed, result = _run({'host': broker.host, 'port': broker.port, 'topic_prefix': prefix, 'devices': ['dev1', 'dev2']}, check_mode)
    assert not failed and result['failed_devices'] == [] and 'msg' not in result
    assert [len(device['pins']) for device in result['devices'].values()] == [4, 4]
    assert all(device['complete'] and device['msg'] == '' for device in result['devices'].values())


def test_refused_arguments(broker):
    failed, result = _run({'host': broker.host, 'port': broker.port, 'devices': ['dev1', 'dev1']})
    assert failed and 'a device is listed more than once' in result['msg']
    assert result['devices'] == {} and result['failed_devices'] == []


def test_broker_unreachable_fails_every_device():
    failed, result = _run({'host': '127.0.0.1', 'port': free_port(), 'connect_timeout': 2, 'devices': ['dev1', 'dev2'], 'pins': [0]})
    assert failed and 'connection refused' in result['msg']
    assert result['failed_devices'] == ['dev1', 'dev2']
    for device_id, device in result['devices'].items():
        assert device['failed'] and not device['complete'] and device['pins'] == []
        assert device['msg'].startswith(f'device {device_id} was not read: cannot connect to MQTT broker')


def test_one_device_silent(broker, prefix, fleet_factory):
    fleet_factory(['dev1', 'dev2'], silent=['dev2'])
    failed, result = _run({'host': broker.host, 'port': broker.port, 'topic_prefix': prefix, 'timeout': 1, 'settle_time': 0.2, 'devices': ['dev1', 'dev2']})
    assert failed and result['failed_devices'] == ['dev2']
    assert result['msg'] == '1 of 2 devices failed: device dev2 did not answer the get request within 1.0s'
    assert result['devices']['dev1']['complete'] and len(result['devices']['dev1']['pins']) == 8
    assert result['devices']['dev2']['pins'] == [] and not result['devices']['dev2']['complete']
