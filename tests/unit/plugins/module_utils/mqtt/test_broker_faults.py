# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Broker and device faults against a real mosquitto and real paho-mqtt (1.6.1 and 2.x).

Faults: broker down, broker killed (SIGKILL) mid-run, broker restarted between runs, a device that
drops its connection mid-request, devices answering with malformed JSON, non-UTF-8, oversized
payloads, wrong shapes, or updates for pins nobody asked about, and a flood of garbage.
Promise checked every time: the call returns within its time budget (wall time, with a margin),
reports per device, and the next run converges. Module-level variants need ansible-core (skipped
on the Python 3.9 compat venv, which only has paho-mqtt 1.6.1).
"""

from __future__ import annotations

import json
import time

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import (
    ConnectionOptions,
    MqttConnectError,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.device_cluster import DeviceCluster
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import PinInfo
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.request import Request
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.virtual_devices import VirtualDeviceFleet
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.module_utils.mqtt.hardening_helpers import HAS_ANSIBLE, CraftedDevice, update_for
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import execute
from ansible_collections.picluster.clusterctrl.tests.utils.mosquitto_broker import free_port

# Scheduling slack allowed on top of a configured timeout (a loaded CI machine); still far below any "hang".
MARGIN = 2.0
FAULTS = []

needs_ansible = pytest.mark.skipif(not HAS_ANSIBLE, reason='module tests need ansible-core')


def _fault(name):
    FAULTS.append(name)


def _wait(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _options(broker, **kwargs):
    kwargs.setdefault('connect_timeout', 3)
    return ConnectionOptions(host=broker.host, port=broker.port, **kwargs)


OUT = [{'pin': 0, 'mode': 3, 'state': 1}, {'pin': 1, 'mode': 3, 'state': 0}]


# --- misbehaving devices -------------------------------------------------------------------------------

OVERSIZED = b'[' + b' ' * (70 * 1024) + b']'
GARBAGE = {
    'not_json': b'{"pin": 0, "mode": 3,',
    'not_utf8': b'\xff\xfe[{"pin": 0}]\xc3\x28',
    'oversized': OVERSIZED,
    'malformed': b'{"pin": 0, "mode": 3, "state": 1}',
    'bad_state': b'[{"pin": 0, "mode": 3, "state": 7}]',
}


@pytest.mark.parametrize('kind', sorted(GARBAGE))
def test_garbage_answer_times_out_naming_the_device_and_is_counted(broker, prefix, fleet_factory, cluster_factory, kind):
    _fault(f'device answers {kind}')
    fleet_factory(['good'])
    device = CraftedDevice(broker, prefix, 'bad', lambda request_kind, payload: [GARBAGE[kind]]).start()
    try:
        cluster = cluster_factory(timeout=1.0)
        requests = [Request('good', 'config', OUT), Request('bad', 'config', OUT)]
        start = time.monotonic()
        cluster.execute(requests, budget=10)
        elapsed = time.monotonic() - start
        assert elapsed < 1.0 + MARGIN
        assert requests[0].ok
        assert requests[1].status == 'timeout' and 'device bad did not confirm pins 0, 1' in requests[1].error
        expected = 'malformed' if kind == 'bad_state' else kind
        assert cluster.ignored_messages().get(expected) == 1
        # The garbage did not poison the session: a correct answer later is accepted.
        device.behaviour = lambda request_kind, payload: [GARBAGE[kind], update_for(payload)]
        assert cluster.config_pins('bad', OUT)[0] == PinInfo(0, 3, 1)
    finally:
        device.stop()


def test_updates_for_pins_nobody_asked_about_confirm_nothing(broker, prefix, cluster_factory):
    _fault('device answers with other pins')
    other = json.dumps([{'pin': pin, 'mode': 3, 'state': 1} for pin in range(40, 48)]).encode()
    device = CraftedDevice(broker, prefix, 'chatty', lambda kind, payload: [other, other]).start()
    try:
        cluster = cluster_factory(timeout=1.0)
        request = Request('chatty', 'config', OUT)
        start = time.monotonic()
        cluster.execute([request])
        assert time.monotonic() - start < 1.0 + MARGIN
        assert request.status == 'timeout' and request.confirmed == {} and request.missing() == [0, 1]
        # Extra pins next to the right ones: confirmed, and only the asked pins are in the answer.
        device.behaviour = lambda kind, payload: [other, update_for(payload), other]
        assert sorted(cluster.config_pins('chatty', OUT)) == [0, 1]
        # A reply with the right pin but another mode confirms nothing.
        device.behaviour = lambda kind, payload: [json.dumps([{'pin': 0, 'mode': 1, 'state': 0}, {'pin': 1, 'mode': 1, 'state': 0}]).encode()]
        request = Request('chatty', 'config', OUT, timeout=0.5)
        cluster.execute([request])
        assert request.status == 'timeout' and request.missing() == [0, 1]
    finally:
        device.stop()


def test_garbage_flood_does_not_stall_the_others(broker, prefix, fleet_factory, cluster_factory):
    _fault('device floods 500 garbage updates')
    fleet_factory(['dev1', 'dev2', 'dev3'])
    device = CraftedDevice(broker, prefix, 'noisy', lambda kind, payload: [b'\xff' * 64] * 250 + [b'not json'] * 250).start()
    try:
        cluster = cluster_factory(timeout=2.0)
        requests = [Request('noisy', 'get', [0])] + [Request(device_id, 'config', OUT) for device_id in ('dev1', 'dev2', 'dev3')]
        start = time.monotonic()
        cluster.execute(requests)
        assert time.monotonic() - start < 2.0 + MARGIN
        assert [request.status for request in requests] == ['timeout', 'done', 'done', 'done']
        assert _wait(lambda: cluster.ignored_messages().get('not_utf8', 0) + cluster.ignored_messages().get('not_json', 0) == 500, 5)
    finally:
        device.stop()


def test_device_disconnects_mid_request(broker, prefix, fleet_factory, cluster_factory):
    _fault('device drops its connection mid-request')
    fleet_factory(['dev1'])

    def half_then_drop(kind, payload):
        first = json.loads(payload.decode())[:1]
        return [update_for(json.dumps(first).encode()), 'disconnect']

    device = CraftedDevice(broker, prefix, 'flaky', half_then_drop).start()
    try:
        cluster = cluster_factory(timeout=1.5)
        requests = [Request('flaky', 'config', OUT), Request('dev1', 'config', OUT)]
        start = time.monotonic()
        cluster.execute(requests)
        assert time.monotonic() - start < 1.5 + MARGIN
        assert requests[1].ok
        assert requests[0].status == 'timeout' and sorted(requests[0].confirmed) == [0] and requests[0].missing() == [1]
        assert 'device flaky did not confirm pins 1 (config)' in requests[0].error
    finally:
        device.stop()
    # The device comes back: the next run converges.
    device = CraftedDevice(broker, prefix, 'flaky', lambda kind, payload: [update_for(payload)]).start()
    try:
        assert sorted(cluster.config_pins('flaky', OUT)) == [0, 1]
    finally:
        device.stop()


# --- broker faults -------------------------------------------------------------------------------------


def test_broker_down_connection_refused_is_fast_and_clear():
    _fault('broker down')
    port = free_port()
    start = time.monotonic()
    with pytest.raises(MqttConnectError, match='127.0.0.1:%d: connection refused' % port):
        DeviceCluster.connect(ConnectionOptions(host='127.0.0.1', port=port, connect_timeout=5), prefix='p')
    assert time.monotonic() - start < 1.0


def test_broker_killed_mid_run_then_restarted(broker_factory, prefix):
    _fault('broker killed (SIGKILL) mid-run')
    _fault('broker restarted after a kill')
    own = broker_factory('killed')
    fleet = VirtualDeviceFleet(_options(own), ['dev1', 'dev2'], pins=4, prefix=prefix).start()

    def slow(kind, payload):
        time.sleep(0.8)
        return [update_for(payload)]

    device = CraftedDevice(own, prefix, 'slow', slow).start()
    cluster = DeviceCluster.connect(_options(own), prefix=prefix, timeout=2.0)
    try:
        requests = [
            Request('dev1', 'config', OUT),
            Request('slow', 'config', OUT),
            Request('dev2', 'config', OUT),
            Request('dev1', 'set', [{'pin': 0, 'state': 0}]),
        ]
        # Kill the broker while the slow device's request is in flight.
        killer = __import__('threading').Timer(0.3, own.process.kill)
        killer.start()
        start = time.monotonic()
        cluster.execute(requests, budget=4)
        elapsed = time.monotonic() - start
        killer.join()
        assert elapsed < 2.0 + MARGIN, elapsed
        statuses = dict(((request.device_id, request.kind), request.status) for request in requests)
        assert statuses[('dev1', 'config')] == 'done' and statuses[('dev2', 'config')] == 'done'
        assert statuses[('slow', 'config')] == 'timeout'
        assert statuses[('dev1', 'set')] in ('timeout', 'not_sent', 'done')
        for request in requests:
            assert request.ok or request.error and request.device_id in request.error or 'not sent' in request.error or 'not connected' in request.error
        # While the broker is down, a batch ends within its timeouts: nothing sent, each request says why.
        late = [Request('dev1', 'get', [0], timeout=1.0), Request('dev2', 'get', [0], timeout=1.0)]
        start = time.monotonic()
        cluster.execute(late, budget=10)
        assert time.monotonic() - start < 1.0 + MARGIN
        assert [request.status for request in late] == ['not_sent', 'not_sent']
        assert 'not connected to MQTT broker' in late[0].error
        # Broker back (same port): every client reconnects, the next run converges.
        own.restart()
        assert _wait(lambda: fleet.connection.ready and device.connection.ready and cluster.connection.ready, 15)
        requests = [Request('dev1', 'set', [{'pin': 0, 'state': 0}]), Request('slow', 'config', OUT)]
        cluster.execute(requests)
        assert [request.status for request in requests] == ['done', 'done']
        assert fleet.pins('dev1')[0] == PinInfo(0, 3, 0)
    finally:
        cluster.stop()
        device.stop()
        fleet.stop()


def test_broker_restarted_between_runs(broker_factory, prefix):
    _fault('broker restarted between runs')
    own = broker_factory('restarted')
    fleet = VirtualDeviceFleet(_options(own), ['dev1', 'dev2'], pins=4, prefix=prefix).start()
    try:
        with DeviceCluster.connect(_options(own), prefix=prefix, timeout=2.0) as cluster:
            cluster.config_pins('dev1', OUT)
        own.restart()
        assert _wait(lambda: fleet.connection.ready, 15)
        with DeviceCluster.connect(_options(own), prefix=prefix, timeout=2.0) as cluster:
            # The devices kept their state across the broker restart; the new run sees it and converges.
            assert cluster.update('dev1', [0, 1]) == {0: PinInfo(0, 3, 1), 1: PinInfo(1, 3, 0)}
            cluster.config_pins('dev2', OUT)
        assert fleet.pins('dev2')[0] == PinInfo(0, 3, 1)
    finally:
        fleet.stop()


# --- the same faults through the mqtt_pins module ------------------------------------------------------


def _module_args(broker, prefix, devices, **kwargs):
    args = {'host': broker.host, 'port': broker.port, 'topic_prefix': prefix, 'timeout': 1.5, 'connect_timeout': 3, 'devices': devices}
    args.update(kwargs)
    return args


DECLARED = [{'pin': 0, 'mode': 'output', 'state': 'high'}, {'pin': 1, 'mode': 'input_pullup'}]


@needs_ansible
def test_module_broker_down(monkeypatch):
    _fault('module: broker down')
    from ansible_collections.picluster.clusterctrl.plugins.modules import mqtt_pins

    port = free_port()
    failed, result, elapsed = execute(mqtt_pins, {'host': '127.0.0.1', 'port': port, 'devices': [{'id': 'd', 'pins': DECLARED}]})
    assert failed and result['changed'] is False and elapsed < 1.0
    assert 'connection refused' in result['msg'] and str(port) in result['msg']


@needs_ansible
def test_module_misbehaving_devices_reported_per_device_within_budget(monkeypatch, broker, prefix, fleet_factory):
    _fault('module: garbage, other pins and a dropped connection from 3 devices')
    from ansible_collections.picluster.clusterctrl.plugins.modules import mqtt_pins

    fleet_factory(['good1', 'good2'])
    other = json.dumps([{'pin': 9, 'mode': 3, 'state': 1}]).encode()
    devices = [
        CraftedDevice(broker, prefix, 'garbage', lambda kind, payload: [b'\xff\xfe', b'{oops', OVERSIZED]).start(),
        CraftedDevice(broker, prefix, 'other', lambda kind, payload: [other]).start(),
        CraftedDevice(broker, prefix, 'dropper', lambda kind, payload: ['disconnect']).start(),
    ]
    try:
        ids = ['good1', 'garbage', 'other', 'dropper', 'good2']
        failed, result, elapsed = execute(mqtt_pins, _module_args(broker, prefix, [{'id': i, 'pins': DECLARED} for i in ids]))
        # One read phase (all devices at once) then config of the good ones: 2 x timeout at most.
        assert elapsed < 2 * 1.5 + MARGIN, elapsed
        assert failed and result['changed'] is True
        assert result['failed_devices'] == ['dropper', 'garbage', 'other']
        for device_id in ('garbage', 'other', 'dropper'):
            entry = result['devices'][device_id]
            assert entry['failed'] and entry['changed'] is False and entry['unconfirmed_pins'] == [0, 1]
            assert f'device {device_id} did not confirm pins 0, 1' in entry['msg']
            assert device_id in result['msg']
        assert result['devices']['good1']['changed'] and not result['devices']['good1']['failed']
        assert result['ignored_messages'] == {'not_utf8': 1, 'not_json': 1, 'oversized': 1}
    finally:
        for device in devices:
            device.stop()
    # Next run, the devices behave: it converges.
    fleet_factory(['garbage', 'other', 'dropper'])
    failed, result, elapsed = execute(mqtt_pins, _module_args(broker, prefix, [{'id': i, 'pins': DECLARED} for i in ids]))
    assert not failed and result['changed'] and [i for i in ids if result['devices'][i]['changed']] == ['garbage', 'other', 'dropper']
    failed, result, elapsed = execute(mqtt_pins, _module_args(broker, prefix, [{'id': i, 'pins': DECLARED} for i in ids]))
    assert not failed and result['changed'] is False


@needs_ansible
def test_module_total_timeout_bounds_many_silent_devices(monkeypatch, broker, prefix, fleet_factory):
    _fault('module: 40 silent devices, total_timeout 1.5 s')
    from ansible_collections.picluster.clusterctrl.plugins.modules import mqtt_pins

    ids = ['dev%02d' % index for index in range(40)]
    fleet_factory(ids, silent=ids)
    args = _module_args(broker, prefix, [{'id': i, 'pins': DECLARED} for i in ids], timeout=30, total_timeout=1.5, max_outstanding=8)
    failed, result, elapsed = execute(mqtt_pins, args)
    assert elapsed < 1.5 + MARGIN, elapsed
    assert failed and result['failed_devices'] == ids and result['changed'] is False
    assert all(result['devices'][i]['unconfirmed_pins'] == [0, 1] for i in ids)


@needs_ansible
def test_module_broker_killed_mid_run_next_run_converges(monkeypatch, broker_factory, prefix):
    _fault('module: broker killed mid-run, restarted, next run converges')
    from ansible_collections.picluster.clusterctrl.plugins.modules import mqtt_pins

    own = broker_factory('module-killed')
    fleet = VirtualDeviceFleet(_options(own), ['dev1', 'dev2'], pins=4, prefix=prefix).start()

    def slow(kind, payload):
        time.sleep(0.6)
        return [update_for(payload, mode=-1)]

    device = CraftedDevice(own, prefix, 'slow', slow).start()
    import threading

    killer = threading.Timer(0.3, own.process.kill)
    try:
        killer.start()
        args = _module_args(own, prefix, [{'id': i, 'pins': DECLARED} for i in ('dev1', 'dev2', 'slow')], total_timeout=10)
        failed, result, elapsed = execute(mqtt_pins, args)
        killer.join()
        assert elapsed < 2 * 1.5 + MARGIN, elapsed
        assert failed and 'slow' in result['failed_devices']
        assert set(result['devices']) == {'dev1', 'dev2', 'slow'}
        for device_id in result['failed_devices']:
            assert result['devices'][device_id]['msg']
        own.restart()
        assert _wait(lambda: fleet.connection.ready and device.connection.ready, 15)
        device.behaviour = lambda kind, payload: [update_for(payload, mode=-1 if kind == 'get' else 3)]
        args['devices'] = [{'id': i, 'pins': DECLARED} for i in ('dev1', 'dev2')]
        failed, result, elapsed = execute(mqtt_pins, args)
        assert not failed, result
        failed, result, elapsed = execute(mqtt_pins, args)
        assert not failed and result['changed'] is False
        assert fleet.pins('dev1')[0] == PinInfo(0, 3, 1) and fleet.pins('dev2')[1] == PinInfo(1, 5, 1)
    finally:
        device.stop()
        fleet.stop()


def test_zz_fault_count(capsys):
    """Print how many faults this file injected (collected by the final report)."""
    with capsys.disabled():
        print('\nMQTT faults injected: %d (%s)' % (len(FAULTS), '; '.join(FAULTS)))
