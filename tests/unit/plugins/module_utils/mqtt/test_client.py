# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The device-cluster client against a real mosquitto and virtual devices (no mocks)."""

from __future__ import annotations

import socket
import threading

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import (
    ConnectionOptions,
    MqttAuthError,
    MqttConnectError,
    MqttConnection,
    MqttTLSError,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.device_cluster import ANY, CbKey, DeviceCluster, PinMode, PinState
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import PinInfo
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.request import DeviceTimeout, Request
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.virtual_devices import VirtualDeviceFleet
from ansible_collections.picluster.clusterctrl.tests.utils.mosquitto_broker import BrokerMonitor, free_port


def _wait(predicate, timeout=5.0):
    event = threading.Event()
    for _attempt in range(int(timeout / 0.02)):
        if predicate():
            return True
        event.wait(0.02)
    return predicate()


class TestConvergence:
    def test_config_set_and_read_back(self, fleet_factory, cluster_factory):
        fleet = fleet_factory(['dev1'])
        cluster = cluster_factory()
        assert cluster.update('dev1', [0, 1]) == {0: PinInfo(0, -1, 0), 1: PinInfo(1, -1, 0)}
        confirmed = cluster.config_pins('dev1', [{'pin': 0, 'mode': PinMode.OUTPUT, 'state': PinState.HIGH}, {'pin': 1, 'mode': PinMode.INPUT_PULLUP}])
        assert confirmed == {0: PinInfo(0, 3, 1), 1: PinInfo(1, 5, 1)}
        assert cluster.set_pins('dev1', [{'pin': 0, 'state': PinState.LOW}]) == {0: PinInfo(0, 3, 0)}
        assert fleet.pins('dev1')[0] == PinInfo(0, 3, 0)
        assert cluster.update('dev1', [0]) == {0: PinInfo(0, 3, 0)}
        assert cluster.cache.get('dev1', 1) == PinInfo(1, 5, 1)

    def test_get_all_pins(self, fleet_factory, cluster_factory):
        fleet_factory(['dev1'], pins=[2, 4, 6])
        cluster = cluster_factory()
        assert sorted(cluster.update('dev1')) == [2, 4, 6]

    def test_many_devices_one_connection_bounded_window(self, fleet_factory, cluster_factory):
        ids = ['dev%03d' % index for index in range(50)]
        fleet = fleet_factory(ids, pins=8)
        cluster = cluster_factory(window=16)
        peak = []
        original_send = cluster.scheduler._send

        def counting_send(request):
            original_send(request)
            peak.append(len(cluster.scheduler._active))

        cluster.scheduler._send = counting_send
        requests = [Request(device_id, 'config', [{'pin': pin, 'mode': 'output', 'state': pin % 2} for pin in range(8)]) for device_id in ids]
        cluster.execute(requests, budget=60)
        assert [request.status for request in requests] == ['done'] * 50
        assert max(peak) <= 16
        for device_id in ids:
            assert fleet.pins(device_id) == dict((pin, PinInfo(pin, 3, pin % 2)) for pin in range(8))
        # Every device's pins were cached from the updates.
        assert len(cluster.cache) == 50

    def test_mqtt5(self, broker, fleet_factory, cluster_factory):
        fleet_factory(['dev1'], options=ConnectionOptions(host=broker.host, port=broker.port, protocol='5'))
        cluster = cluster_factory(ConnectionOptions(host=broker.host, port=broker.port, protocol='5'))
        assert cluster.config_pins('dev1', [{'pin': 3, 'mode': 'output', 'state': 1}]) == {3: PinInfo(3, 3, 1)}

    def test_sockets_have_tcp_nodelay_and_random_client_ids(self, fleet_factory, cluster_factory):
        fleet_factory(['dev1'])
        first, second = cluster_factory(), cluster_factory()
        assert first.connection.options.client_id != second.connection.options.client_id
        sock = first.connection.paho_client.socket()
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        # Two clients at once both work (random ids do not kick each other off).
        assert first.update('dev1', [0]) == second.update('dev1', [0])


class TestFailures:
    def test_silent_device_times_out_naming_device_and_pins_others_succeed(self, fleet_factory, cluster_factory):
        fleet_factory(['dev1', 'dev7'], silent=['dev7'])
        cluster = cluster_factory(timeout=1.0)
        requests = [Request('dev1', 'get', [0, 1]), Request('dev7', 'get', [0, 1])]
        cluster.execute(requests)
        assert requests[0].ok
        assert requests[1].status == 'timeout'
        assert requests[1].missing() == [0, 1]
        assert 'dev7' in requests[1].error and '0, 1' in requests[1].error
        with pytest.raises(DeviceTimeout) as exc:
            cluster.config_pins('dev7', [{'pin': 2, 'mode': 'output'}])
        assert exc.value.device_id == 'dev7' and exc.value.pins == [2]
        assert 'dev7' in str(exc.value) and '2' in str(exc.value)

    def test_refused_pin_reported_alone(self, fleet_factory, cluster_factory):
        fleet = fleet_factory(['dev3'], refuse={'dev3': [5]})
        cluster = cluster_factory(timeout=1.0)
        request = Request('dev3', 'config', [{'pin': 4, 'mode': 'output'}, {'pin': 5, 'mode': 'output'}])
        cluster.execute([request])
        assert request.status == 'timeout'
        assert request.missing() == [5]
        assert 4 in request.confirmed
        assert 'pins 5 ' in request.error
        assert fleet.pins('dev3')[4].mode == 3

    def test_set_on_an_input_is_refused(self, fleet_factory, cluster_factory):
        fleet_factory(['dev1'])
        cluster = cluster_factory(timeout=1.0)
        cluster.config_pins('dev1', [{'pin': 1, 'mode': 'input'}])
        with pytest.raises(DeviceTimeout) as exc:
            cluster.set_pins('dev1', [{'pin': 1, 'state': 1}])
        assert exc.value.pins == [1]

    def test_budget_bounds_a_batch(self, fleet_factory, cluster_factory):
        ids = ['dev%d' % index for index in range(6)]
        fleet_factory(ids, silent=ids)
        cluster = cluster_factory(timeout=0.5, window=2)
        requests = [Request(device_id, 'get', [0]) for device_id in ids]
        cluster.execute(requests, budget=0.8)
        statuses = [request.status for request in requests]
        assert 'done' not in statuses
        assert 'not_sent' in statuses
        assert all('budget' in request.error for request in requests if request.status == 'not_sent')

    def test_malformed_updates_ignored_and_counted(self, broker, prefix, fleet_factory, cluster_factory):
        fleet_factory(['dev1'])
        cluster = cluster_factory()
        raw = MqttConnection(ConnectionOptions(host=broker.host, port=broker.port)).connect()
        try:
            topic = f'{prefix}/dev1/pin/update'
            for payload in (b'\xff\xfe', b'not json', b'{"pin": 1}', b'[{"pin": 1, "mode": 3, "state": 7}]', b'[' + b' ' * 70000 + b']'):
                raw.publish_confirmed(topic, payload, timeout=5)
            raw.publish_confirmed(f'{prefix}/dev1/pin/update', b'[{"pin": 6, "mode": 192, "state": 1}]', timeout=5)
        finally:
            raw.close()
        assert _wait(lambda: cluster.cache.get('dev1', 6) is not None)
        # An unknown integer mode passes through; garbage did not disturb anything.
        assert cluster.cache.get('dev1', 6) == PinInfo(6, 192, 1)
        assert cluster.ignored_messages() == {'not_utf8': 1, 'not_json': 1, 'malformed': 2, 'oversized': 1}
        assert cluster.update('dev1', [0]) == {0: PinInfo(0, -1, 0)}


class TestPulsesCacheCallbacks:
    def test_pulse_reports_both_transitions_and_reverts(self, fleet_factory, cluster_factory):
        fleet = fleet_factory(['dev1'])
        cluster = cluster_factory()
        cluster.config_pins('dev1', [{'pin': 2, 'mode': 'output', 'state': 0}])
        seen = []
        cluster.add_callback(CbKey('dev1', 2), lambda device_id, info: seen.append(info.state))
        confirmed = cluster.set_pins('dev1', [{'pin': 2, 'state': PinState.HIGH, 'time': 150}])
        assert 2 in confirmed
        assert _wait(lambda: seen == [1, 0])
        assert fleet.pins('dev1')[2] == PinInfo(2, 3, 0)
        assert cluster.cache.get('dev1', 2) == PinInfo(2, 3, 0)

    def test_cache_and_callbacks_follow_unsolicited_updates(self, fleet_factory, cluster_factory):
        fleet = fleet_factory(['dev1', 'dev2'])
        cluster = cluster_factory()
        cluster.config_pins('dev1', [{'pin': 4, 'mode': 'input'}])
        any_device = []
        cluster.add_callback(CbKey(ANY, 4), lambda device_id, info: any_device.append((device_id, info.state)))
        fleet.set_input('dev1', 4, 1)
        assert _wait(lambda: cluster.cache.get('dev1', 4) == PinInfo(4, 1, 1))
        assert ('dev1', 1) in any_device

    def test_announce_fills_the_cache_without_any_request(self, broker, prefix, cluster_factory):
        cluster = cluster_factory()
        fleet = VirtualDeviceFleet(ConnectionOptions(host=broker.host, port=broker.port), ['boot1'], pins=3, prefix=prefix, announce=True)
        fleet.start()
        try:
            assert _wait(lambda: len(cluster.cache.pins('boot1')) == 3)
        finally:
            fleet.stop()


class TestConnectionErrors:
    def test_broker_not_running_fails_fast_with_clear_message(self):
        port = free_port()
        with pytest.raises(MqttConnectError) as exc:
            DeviceCluster.connect(ConnectionOptions(host='127.0.0.1', port=port, connect_timeout=5))
        assert 'connection refused' in str(exc.value)
        assert 'broker running' in str(exc.value)
        assert '127.0.0.1:%d' % port in str(exc.value)

    @pytest.mark.parametrize('protocol', ['3.1.1', '5'])
    def test_wrong_credentials_fail_fast(self, secure_broker, protocol):
        options = ConnectionOptions(host=secure_broker.host, port=secure_broker.port, username='alice', password='wrong', protocol=protocol, connect_timeout=10)
        with pytest.raises(MqttAuthError) as exc:
            DeviceCluster.connect(options)
        assert 'authentication failed' in str(exc.value)
        assert 'refused the connection' in str(exc.value)

    def test_anonymous_refused_by_password_broker(self, secure_broker):
        with pytest.raises(MqttAuthError):
            MqttConnection(ConnectionOptions(host=secure_broker.host, port=secure_broker.port, connect_timeout=10)).connect()

    def test_username_password_from_password_file(self, secure_broker, prefix, users):
        options = ConnectionOptions(host=secure_broker.host, port=secure_broker.port, username='devices', password=users['devices'])
        fleet = VirtualDeviceFleet(options, ['dev1'], prefix=prefix).start()
        try:
            cluster = DeviceCluster.connect(
                ConnectionOptions(host=secure_broker.host, port=secure_broker.port, username='alice', password=users['alice']), prefix=prefix
            )
            try:
                assert cluster.config_pins('dev1', [{'pin': 1, 'mode': 'output', 'state': 1}]) == {1: PinInfo(1, 3, 1)}
            finally:
                cluster.stop()
        finally:
            fleet.stop()

    def test_tls_with_test_ca_and_verification_on(self, secure_broker, prefix, users):
        options = ConnectionOptions(
            host=secure_broker.host, port=secure_broker.tls_port, ca_cert=secure_broker.ca_cert, username='alice', password=users['alice']
        )
        assert options.tls and options.validate_certs and options.check_hostname
        fleet = VirtualDeviceFleet(
            ConnectionOptions(
                host=secure_broker.host,
                port=secure_broker.tls_port,
                ca_cert=secure_broker.ca_cert,
                client_cert=secure_broker.client_cert,
                client_key=secure_broker.client_key,
                username='devices',
                password=users['devices'],
            ),
            ['tls1'],
            prefix=prefix,
        ).start()
        try:
            cluster = DeviceCluster.connect(options, prefix=prefix)
            try:
                assert cluster.update('tls1', [0]) == {0: PinInfo(0, -1, 0)}
            finally:
                cluster.stop()
        finally:
            fleet.stop()

    def test_tls_untrusted_broker_certificate_rejected(self, secure_broker, users):
        # No CA given: the system CAs do not know the test CA, so verification must fail.
        options = ConnectionOptions(
            host=secure_broker.host, port=secure_broker.tls_port, tls=True, username='alice', password=users['alice'], connect_timeout=5
        )
        with pytest.raises(MqttTLSError) as exc:
            MqttConnection(options).connect()
        assert 'certificate' in str(exc.value).lower() or 'tls' in str(exc.value).lower()

    def test_tls_without_verification_when_explicitly_disabled(self, secure_broker, users):
        options = ConnectionOptions(
            host=secure_broker.host, port=secure_broker.tls_port, tls=True, validate_certs=False, username='alice', password=users['alice']
        )
        connection = MqttConnection(options).connect()
        assert connection.connected
        connection.close()


class TestReconnection:
    def test_survives_a_broker_restart(self, broker_factory, prefix):
        own = broker_factory('restart')
        options = ConnectionOptions(host=own.host, port=own.port)
        fleet = VirtualDeviceFleet(options, ['dev1'], prefix=prefix).start()
        cluster = DeviceCluster.connect(ConnectionOptions(host=own.host, port=own.port), prefix=prefix, timeout=3)
        try:
            assert cluster.update('dev1', [0])
            generation = cluster.connection.generation
            own.restart()
            assert _wait(lambda: cluster.connection.ready and cluster.connection.generation > generation, timeout=30)
            assert _wait(lambda: fleet.connection.ready, timeout=30)
            assert cluster.config_pins('dev1', [{'pin': 0, 'mode': 'output', 'state': 1}], timeout=10) == {0: PinInfo(0, 3, 1)}
        finally:
            cluster.stop()
            fleet.stop()


class TestMonitor:
    def test_monitor_records_requests(self, broker, prefix, fleet_factory, cluster_factory):
        fleet_factory(['dev1'])
        cluster = cluster_factory()
        with BrokerMonitor(broker.host, broker.port, f'{prefix}/#') as monitor:
            cluster.update('dev1', [0])
            assert monitor.wait_for(lambda messages: any(topic.endswith('/pin/update') for topic, _payload in messages), 5)
            assert monitor.commands() == []
            assert f'{prefix}/dev1/pin/get' in monitor.topics()
