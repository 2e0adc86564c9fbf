# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bad input matrix, MQTT part: every case fails with a clear message and nothing reaches the broker.

A broker of this file's own carries a monitor subscribed to ``#``; after every case the monitor has
seen no message and the broker's log shows no new client connection (validation happens before
connecting). The module cases need ansible-core; the client-level cases run on paho-mqtt 1.6.1 too.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import ConnectionOptions
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.device_cluster import DeviceCluster
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import ProtocolError, Topics
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.request import Request
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.module_utils.mqtt.hardening_helpers import HAS_ANSIBLE
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import execute
from ansible_collections.picluster.clusterctrl.tests.utils.mosquitto_broker import BrokerMonitor, MosquittoBroker, find_mosquitto

TRIED = []
OK_PINS = [{'pin': 0, 'mode': 'output', 'state': 'high'}]


def _dev(device_id='dev1', **pin):
    entry = {'pin': 0}
    entry.update(pin)
    return [{'id': device_id, 'pins': [entry]}]


# (case id, module, extra args, expected message fragment)
MODULE_CASES = [
    ('id_plus', 'pins', {'devices': _dev('dev+1', mode='output')}, "contains '+'"),
    ('id_hash', 'pins', {'devices': _dev('dev#', mode='output')}, "contains '#'"),
    ('id_slash', 'pins', {'devices': _dev('a/b', mode='output')}, "contains '/'"),
    ('id_nul', 'pins', {'devices': _dev('dev\x001', mode='output')}, "contains '\\x00'"),
    ('id_empty', 'pins', {'devices': _dev('', mode='output')}, 'device id must be a non-empty string'),
    ('id_space', 'pins', {'devices': _dev('dev 1', mode='output')}, 'only letters, digits and underscore'),
    ('id_too_long', 'pins', {'devices': _dev('d' * 70000, mode='output')}, 'more than the limit of 256'),
    ('pin_negative', 'pins', {'devices': _dev(pin=-1, mode='output')}, 'pin must be an integer between 0 and 65535'),
    ('pin_huge', 'pins', {'devices': _dev(pin=10**9, mode='output')}, 'pin must be an integer between 0 and 65535'),
    ('mode_unknown', 'pins', {'devices': _dev(mode='turbo')}, "unknown pin mode 'turbo'"),
    ('mode_code_out_of_range', 'pins', {'devices': _dev(mode=99999)}, 'pin mode 99999 is out of range'),
    ('mode_bool', 'pins', {'devices': _dev(mode=True)}, 'unknown pin mode True'),
    ('state_unknown', 'pins', {'devices': _dev(mode='output', state='medium')}, "unknown pin state 'medium'"),
    ('state_on_input', 'pins', {'devices': _dev(mode='input', state='high')}, 'state and pulse_ms need an output pin, but mode is input'),
    ('pulse_negative', 'pins', {'devices': _dev(mode='output', state='high', pulse_ms=-5)}, 'pulse_ms must be between 1 and 86400000'),
    ('pulse_zero', 'pins', {'devices': _dev(mode='output', state='high', pulse_ms=0)}, 'pulse_ms must be between 1 and 86400000'),
    ('pulse_huge', 'pins', {'devices': _dev(mode='output', state='high', pulse_ms=10**12)}, 'pulse_ms must be between 1 and 86400000'),
    ('pulse_on_input', 'pins', {'devices': _dev(mode='input_pullup', state='high', pulse_ms=100)}, 'need an output pin, but mode is input_pullup'),
    ('pulse_without_state', 'pins', {'devices': _dev(mode='output', pulse_ms=100)}, 'pulse_ms needs state'),
    ('nothing_declared', 'pins', {'devices': _dev()}, 'nothing declared'),
    ('pins_empty', 'pins', {'devices': [{'id': 'dev1', 'pins': []}]}, 'pins must not be empty'),
    ('duplicate_device', 'pins', {'devices': _dev(mode='output') + _dev(mode='input')}, 'device dev1 is listed more than once'),
    (
        'duplicate_pin',
        'pins',
        {'devices': [{'id': 'dev1', 'pins': [{'pin': 3, 'mode': 'output'}, {'pin': 3, 'state': 'low'}]}]},
        'device dev1 pin 3 is listed more than once',
    ),
    ('port_zero', 'pins', {'port': 0}, 'port must be between 1 and 65535'),
    ('port_huge', 'pins', {'port': 70000}, 'port must be between 1 and 65535'),
    ('timeout_zero', 'pins', {'timeout': 0}, 'timeout must be a finite number of seconds greater than 0'),
    ('timeout_negative', 'pins', {'timeout': -1}, 'timeout must be a finite number of seconds greater than 0'),
    ('timeout_nan', 'pins', {'timeout': 'nan'}, 'timeout must be a finite number of seconds greater than 0'),
    ('total_timeout_inf', 'pins', {'total_timeout': 'inf'}, 'total_timeout must be a finite number'),
    ('connect_timeout_zero', 'pins', {'connect_timeout': 0}, 'connect_timeout must be a finite number'),
    ('max_outstanding_zero', 'pins', {'max_outstanding': 0}, 'max_outstanding must be at least 1'),
    ('keepalive_zero', 'pins', {'keepalive': 0}, 'keepalive must be between 5 and 65535'),
    ('keepalive_huge', 'pins', {'keepalive': 70000}, 'keepalive must be between 5 and 65535'),
    ('prefix_wildcard', 'pins', {'topic_prefix': 'dev/+'}, "must not contain '+'"),
    ('prefix_slashes', 'pins', {'topic_prefix': '/dev/'}, 'must not start or end with "/"'),
    ('prefix_too_long', 'pins', {'topic_prefix': 'p' * 5000}, 'more than the limit of 1024'),
    ('tls_key_without_cert', 'pins', {'client_key': '/nonexistent/key.pem'}, 'client_key requires client_cert'),
    ('password_without_username', 'pins', {'password': 'hunter2'}, 'password requires username'),
    ('info_no_devices', 'info', {'devices': []}, 'devices must not be empty'),
    ('info_id_hash', 'info', {'devices': ['dev#']}, "contains '#'"),
    ('info_duplicate_device', 'info', {'devices': ['dev1', 'dev1']}, 'a device is listed more than once'),
    ('info_pin_negative', 'info', {'devices': ['dev1'], 'pins': [-3]}, 'pin must be an integer between 0 and 65535'),
    ('info_duplicate_pin', 'info', {'devices': ['dev1'], 'pins': [1, 1]}, 'a pin is listed more than once'),
    ('info_timeout_nan', 'info', {'devices': ['dev1'], 'timeout': 'nan'}, 'timeout must be a finite number'),
    # Issue 10: 1e10 gave a "timestamp out of range for platform time_t" traceback; the bounds are documented.
    ('timeout_huge', 'pins', {'timeout': 1e10}, 'timeout must be a finite number of seconds greater than 0 and at most 3600, got 1e+10'),
    ('connect_timeout_huge', 'pins', {'connect_timeout': 1e10}, 'connect_timeout must be a finite number of seconds greater than 0 and at most 3600'),
    ('total_timeout_huge', 'pins', {'total_timeout': 1e10}, 'total_timeout must be a finite number of seconds greater than 0 and at most 86400'),
    ('info_timeout_huge', 'info', {'devices': ['dev1'], 'timeout': 1e10}, 'timeout must be a finite number of seconds greater than 0 and at most 3600'),
    ('info_connect_timeout_huge', 'info', {'devices': ['dev1'], 'connect_timeout': 1e10}, 'connect_timeout must be a finite number of seconds'),
    ('info_timeout_above_limit', 'info', {'devices': ['dev1'], 'timeout': 3600.5}, 'at most 3600, got 3600.5'),
    ('info_total_timeout_above_limit', 'info', {'devices': ['dev1'], 'total_timeout': 86401}, 'at most 86400, got 86401'),
    ('info_settle_zero', 'info', {'devices': ['dev1'], 'settle_time': 0}, 'settle_time must be a finite number of seconds greater than 0, got 0'),
    ('info_settle_negative', 'info', {'devices': ['dev1'], 'pins': [1], 'settle_time': -1}, 'settle_time must be a finite number of seconds greater than 0'),
    ('info_settle_nan', 'info', {'devices': ['dev1'], 'settle_time': 'nan'}, 'settle_time must be a finite number of seconds greater than 0'),
    (
        'info_settle_not_below_timeout',
        'info',
        {'devices': ['dev1'], 'timeout': 1, 'settle_time': 1},
        'settle_time must be less than timeout (1) to read every pin, got 1',
    ),
]


@pytest.fixture(scope='module')
def quiet_broker(tmp_path_factory):
    if find_mosquitto() is None:
        pytest.skip('mosquitto is not installed')
    broker = MosquittoBroker(tmp_path_factory.mktemp('mosquitto-bad-input')).start()
    yield broker
    broker.stop()


@pytest.fixture(scope='module')
def everything(quiet_broker):
    with BrokerMonitor(quiet_broker.host, quiet_broker.port, '#') as monitor:
        yield monitor


def _connections(broker):
    with open(broker.log_path, errors='replace') as handle:
        return handle.read().count('New client connected')


@pytest.mark.skipif(not HAS_ANSIBLE, reason='module tests need ansible-core')
@pytest.mark.parametrize('case,which,extra,message', MODULE_CASES, ids=[case[0] for case in MODULE_CASES])
def test_bad_module_input(monkeypatch, quiet_broker, everything, case, which, extra, message):
    from ansible_collections.picluster.clusterctrl.plugins.modules import mqtt_pins, mqtt_pins_info

    module = mqtt_pins if which == 'pins' else mqtt_pins_info
    args = {
        'host': quiet_broker.host,
        'port': quiet_broker.port,
        'topic_prefix': 'bad',
        'devices': [{'id': 'dev1', 'pins': OK_PINS}] if which == 'pins' else ['dev1'],
    }
    args.update(extra)
    connections = _connections(quiet_broker)
    for check_mode in (False, True):
        failed, result, elapsed = execute(module, args, check_mode=check_mode)
        assert failed, result
        assert message in result['msg'], result['msg']
        assert 'nothing was published' in result['msg']
        assert result.get('changed', False) is False
        assert elapsed < 1.0
    time.sleep(0.1)
    assert everything.messages == []
    assert _connections(quiet_broker) == connections, 'the module connected to the broker'
    TRIED.append(case)


@pytest.mark.skipif(not HAS_ANSIBLE, reason='module tests need ansible-core')
@pytest.mark.parametrize('name,limit', [('connect_timeout', 3600), ('timeout', 3600), ('total_timeout', 86400)])
def test_time_limits_themselves_are_accepted(name, limit):
    from ansible_collections.picluster.clusterctrl.plugins.module_utils._mqtt_module import mqtt_argument_spec, validate_common

    params = {key: spec.get('default') for key, spec in mqtt_argument_spec().items()}
    assert validate_common(SimpleNamespace(params=dict(params, **{name: limit}))) == []
    assert validate_common(SimpleNamespace(params=dict(params, **{name: limit + 0.001}))) == [
        f'{name} must be a finite number of seconds greater than 0 and at most {limit}, got {limit + 0.001:.10g}'
    ]


CLIENT_CASES = [
    ('client_id_hash', lambda: Request('a#', 'get'), "contains '#'"),
    ('client_id_too_long', lambda: Request('x' * 300, 'get'), 'more than the limit'),
    ('client_pin_huge', lambda: Request('dev1', 'config', [{'pin': 70000, 'mode': 3}]), 'pin must be an integer'),
    ('client_pin_bool', lambda: Request('dev1', 'get', [True]), 'pin must be an integer'),
    ('client_pulse_negative', lambda: Request('dev1', 'set', [{'pin': 1, 'state': 1, 'time': -1}]), 'pulse time must be'),
    ('client_pulse_huge', lambda: Request('dev1', 'set', [{'pin': 1, 'state': 1, 'time': 10**10}]), 'pulse time must be'),
    ('client_duplicate_pin', lambda: Request('dev1', 'set', [{'pin': 1, 'state': 1}, {'pin': 1, 'state': 0}]), 'pin listed twice'),
    ('client_empty_config', lambda: Request('dev1', 'config', []), 'needs at least one pin'),
    ('client_prefix_hash', lambda: Topics('a/#'), "must not contain '#'"),
    ('client_state_2', lambda: Request('dev1', 'set', [{'pin': 1, 'state': 2}]), 'unknown pin state 2'),
]


@pytest.mark.parametrize('case,build,message', CLIENT_CASES, ids=[case[0] for case in CLIENT_CASES])
def test_bad_client_input(quiet_broker, everything, case, build, message):
    """The library refuses the same things before anything is queued (also on paho-mqtt 1.6.1)."""
    with DeviceCluster.connect(ConnectionOptions(host=quiet_broker.host, port=quiet_broker.port), prefix='bad') as cluster:
        with pytest.raises(ProtocolError, match=None) as info:
            cluster.execute([Request('dev1', 'get'), build()])
        assert message in str(info.value)
    time.sleep(0.1)
    assert everything.messages == []
    TRIED.append(case)


def test_zz_bad_input_count(capsys):
    with capsys.disabled():
        print(
            '\nMQTT bad inputs tried: %d (%d module cases x normal and check mode, %d client cases)'
            % (len(TRIED), len([c for c in TRIED if not c.startswith('client_')]), len([c for c in TRIED if c.startswith('client_')]))
        )
