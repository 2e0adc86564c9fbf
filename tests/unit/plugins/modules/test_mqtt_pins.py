# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""mqtt_pins and mqtt_pins_info run in-process against a real mosquitto and virtual devices (no mocks),
plus ansible-playbook runs of the headline case: 50 devices x 8 pins in one task."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import ConnectionOptions
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import PinInfo
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.virtual_devices import VirtualDeviceFleet
from ansible_collections.picluster.clusterctrl.plugins.modules import mqtt_pins, mqtt_pins_info
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.conftest import require_mosquitto
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import execute
from ansible_collections.picluster.clusterctrl.tests.utils.mosquitto_broker import BrokerMonitor, MosquittoBroker, free_port

USERS = {'ansible': 's3cret'}


@pytest.fixture(scope='module')
def auth_broker(tmp_path_factory):
    require_mosquitto()
    instance = MosquittoBroker(tmp_path_factory.mktemp('mosquitto-modules-auth'), passwords=USERS).start()
    yield instance
    instance.stop()


@pytest.fixture
def monitor(broker, prefix):
    with BrokerMonitor(broker.host, broker.port, f'{prefix}/#') as instance:
        yield instance


def base_args(broker, prefix, **kwargs):
    args = {'host': broker.host, 'port': broker.port, 'topic_prefix': prefix, 'timeout': 2}
    args.update(kwargs)
    return args


RELAYS = [
    {'pin': 0, 'mode': 'output', 'state': 'high'},
    {'pin': 1, 'mode': 'output', 'state': 'low'},
    {'pin': 2, 'mode': 'input_pullup'},
]


def _pins(result, device_id):
    return dict((entry['pin'], entry) for entry in result['devices'][device_id]['pins'])


class TestMqttPins:
    def test_converge_then_idempotent(self, broker, prefix, fleet_factory, monitor):
        fleet = fleet_factory(['dev1', 'dev2'])
        args = base_args(broker, prefix, devices=[{'id': 'dev1', 'pins': RELAYS}, {'id': 'dev2', 'pins': RELAYS}])
        failed, result, _seconds = execute(mqtt_pins, args)
        assert not failed, result
        assert result['changed'] is True
        pins = _pins(result, 'dev1')
        assert pins[0]['mode'] == 'output' and pins[0]['state'] == 'high' and pins[0]['changed']
        assert pins[0]['before'] == {'mode': 'disabled', 'mode_code': -1, 'state': 'low'}
        assert pins[2]['mode'] == 'input_pullup' and pins[2]['confirmed']
        for device_id in ('dev1', 'dev2'):
            assert fleet.pins(device_id)[0] == PinInfo(0, 3, 1)
            assert fleet.pins(device_id)[2] == PinInfo(2, 5, 1)
        # Pin 1: config carried the level, so no separate set was needed.
        assert monitor.wait_quiet()  # the first run's messages reach the monitor asynchronously
        monitor.clear()
        failed, result, _seconds = execute(mqtt_pins, args)
        assert not failed and result['changed'] is False
        assert not any(entry['changed'] for entry in result['devices']['dev1']['pins'])
        # Second run: only reads.
        assert monitor.wait_for(lambda messages: len([m for m in messages if m[0].endswith('/pin/get')]) == 2, 5)
        assert monitor.commands() == []

    def test_only_differences_are_sent(self, broker, prefix, fleet_factory, monitor):
        fleet_factory(['dev1'])
        execute(mqtt_pins, base_args(broker, prefix, devices=[{'id': 'dev1', 'pins': RELAYS}]))
        assert monitor.wait_quiet()
        monitor.clear()
        failed, result, _seconds = execute(
            mqtt_pins,
            base_args(
                broker,
                prefix,
                devices=[
                    {
                        'id': 'dev1',
                        'pins': [{'pin': 0, 'mode': 'output', 'state': 'low'}, {'pin': 1, 'mode': 'output', 'state': 'low'}, {'pin': 2, 'mode': 'input'}],
                    }
                ],
            ),
        )
        assert not failed and result['changed']
        monitor.wait_for(lambda messages: len(monitor.commands()) >= 2, 5)
        commands = dict((topic.rsplit('/', 1)[-1], json.loads(payload)) for topic, payload in monitor.commands())
        assert commands == {'config': [{'pin': 2, 'mode': 1}], 'set': [{'pin': 0, 'state': 0}]}

    def test_check_mode_publishes_only_get(self, broker, prefix, fleet_factory, monitor):
        fleet = fleet_factory(['dev1'])
        failed, result, _seconds = execute(mqtt_pins, base_args(broker, prefix, devices=[{'id': 'dev1', 'pins': RELAYS}]), check_mode=True)
        assert not failed and result['changed'] is True
        assert _pins(result, 'dev1')[0]['state'] == 'high'  # predicted
        assert fleet.pins('dev1')[0] == PinInfo(0, -1, 0)  # untouched
        assert monitor.wait_for(lambda messages: any(topic.endswith('/pin/get') for topic, _payload in messages), 5)
        time.sleep(0.2)  # let anything else in flight arrive at the monitor
        assert monitor.commands() == []
        assert set(topic.rsplit('/', 1)[-1] for topic in monitor.topics()) == {'get', 'update'}

    def test_diff_mode(self, broker, prefix, fleet_factory):
        fleet_factory(['dev1'])
        failed, result, _seconds = execute(mqtt_pins, base_args(broker, prefix, devices=[{'id': 'dev1', 'pins': RELAYS[:1]}]), diff=True)
        assert not failed
        assert result['diff']['before'] == {'dev1': {'pin 0': {'mode': 'disabled', 'mode_code': -1, 'state': 'low'}}}
        assert result['diff']['after'] == {'dev1': {'pin 0': {'mode': 'output', 'mode_code': 3, 'state': 'high'}}}

    def test_pulse_always_changes_and_is_not_sent_in_check_mode(self, broker, prefix, fleet_factory, monitor):
        fleet = fleet_factory(['dev1'])
        pulse = [{'pin': 3, 'mode': 'output', 'state': 'high', 'pulse_ms': 100}]
        execute(mqtt_pins, base_args(broker, prefix, devices=[{'id': 'dev1', 'pins': [{'pin': 3, 'mode': 'output', 'state': 'low'}]}]))
        # The set-up's config reaches the monitor asynchronously: cleared only once it arrived (a busy machine delays it).
        assert monitor.wait_for(lambda messages: any(topic.endswith('/pin/config') for topic, _payload in messages), 5)
        monitor.clear()
        failed, result, _seconds = execute(mqtt_pins, base_args(broker, prefix, devices=[{'id': 'dev1', 'pins': pulse}]), check_mode=True)
        assert not failed and result['changed']
        time.sleep(0.2)
        assert monitor.commands() == []
        monitor.clear()

        def states(messages):
            return [json.loads(payload)[0]['state'] for topic, payload in messages if topic.endswith('/update')]

        for run in (1, 2):
            failed, result, _seconds = execute(mqtt_pins, base_args(broker, prefix, devices=[{'id': 'dev1', 'pins': pulse}]))
            assert not failed and result['changed'] is True
            assert _pins(result, 'dev1')[3]['pulsed'] is True
            # The device reports both transitions: high at once, low after 100 ms.
            assert monitor.wait_for(lambda messages, run=run: states(messages) == [0, 1, 0] * run, 5), states(monitor.messages)
        sets = monitor.commands(('set',))
        assert [json.loads(payload) for _topic, payload in sets] == [[{'pin': 3, 'state': 1, 'time': 100}]] * 2
        assert fleet.pins('dev1')[3] == PinInfo(3, 3, 0)

    def test_silent_device_fails_naming_it_others_reported(self, broker, prefix, fleet_factory):
        fleet_factory(['dev1', 'dev7'], silent=['dev7'])
        failed, result, _seconds = execute(
            mqtt_pins, base_args(broker, prefix, timeout=1, devices=[{'id': 'dev1', 'pins': RELAYS}, {'id': 'dev7', 'pins': RELAYS}])
        )
        assert failed
        assert 'dev7' in result['msg'] and '0, 1, 2' in result['msg']
        assert 'dev1' not in result['failed_devices'] and result['failed_devices'] == ['dev7']
        assert result['changed'] is True  # dev1 was changed
        assert result['devices']['dev1']['changed'] and not result['devices']['dev1']['failed']
        assert result['devices']['dev7']['failed'] and result['devices']['dev7']['unconfirmed_pins'] == [0, 1, 2]

    def test_refused_pin_fails_naming_the_pin(self, broker, prefix, fleet_factory):
        fleet_factory(['dev3'], refuse={'dev3': [5]})
        failed, result, _seconds = execute(
            mqtt_pins, base_args(broker, prefix, timeout=1, devices=[{'id': 'dev3', 'pins': [{'pin': 4, 'mode': 'output'}, {'pin': 5, 'mode': 'output'}]}])
        )
        assert failed
        assert result['devices']['dev3']['unconfirmed_pins'] == [5]
        assert 'dev3' in result['msg']

    def test_state_on_an_input_pin_is_reported(self, broker, prefix, fleet_factory, monitor):
        fleet_factory(['dev1'], initial_mode='input')
        failed, result, _seconds = execute(mqtt_pins, base_args(broker, prefix, devices=[{'id': 'dev1', 'pins': [{'pin': 1, 'state': 'high'}]}]))
        assert failed and 'not outputs' in result['msg'] and result['changed'] is False
        assert monitor.commands() == []

    def test_integer_mode_codes(self, broker, prefix, fleet_factory):
        fleet = fleet_factory(['dev1'])
        failed, result, _seconds = execute(
            mqtt_pins, base_args(broker, prefix, devices=[{'id': 'dev1', 'pins': [{'pin': 0, 'mode': 3, 'state': 1}, {'pin': 1, 'mode': 0xC0}]}])
        )
        assert not failed, result
        pins = _pins(result, 'dev1')
        assert pins[0]['mode'] == 'output' and pins[1]['mode'] == 'analog' and pins[1]['mode_code'] == 0xC0
        assert fleet.pins('dev1')[1].mode == 0xC0

    @pytest.mark.parametrize(
        'devices,message',
        [
            ([{'id': 'dev/1', 'pins': [{'pin': 0, 'mode': 'output'}]}], "contains '/'"),
            ([{'id': 'dev+', 'pins': [{'pin': 0, 'mode': 'output'}]}], "contains '+'"),
            ([{'id': 'dev1', 'pins': [{'pin': 0, 'mode': 'outptu'}]}], 'unknown pin mode'),
            ([{'id': 'dev1', 'pins': [{'pin': 0, 'mode': 'input', 'state': 'high'}]}], 'need an output pin'),
            ([{'id': 'dev1', 'pins': [{'pin': 0, 'mode': 'output', 'pulse_ms': 100}]}], 'pulse_ms needs state'),
            ([{'id': 'dev1', 'pins': [{'pin': 0, 'mode': 'output'}, {'pin': 0, 'state': 'low'}]}], 'more than once'),
            ([{'id': 'dev1', 'pins': [{'pin': 0}]}], 'nothing declared'),
            ([{'id': 'dev1', 'pins': [{'pin': 0, 'state': 'up'}]}], 'unknown pin state'),
        ],
    )
    def test_invalid_input_fails_before_publishing(self, broker, prefix, fleet_factory, monitor, devices, message):
        fleet_factory(['dev1'])
        # A valid device listed first: still nothing may be published.
        devices = [{'id': 'dev1', 'pins': [{'pin': 7, 'mode': 'output'}]}] + devices if devices[0]['id'] != 'dev1' else devices
        failed, result, _seconds = execute(mqtt_pins, base_args(broker, prefix, devices=devices))
        assert failed and message in result['msg'] and 'nothing was published' in result['msg']
        time.sleep(0.2)
        assert monitor.messages == []

    def test_wrong_credentials(self, auth_broker, prefix):
        failed, result, _seconds = execute(
            mqtt_pins, base_args(auth_broker, prefix, username='ansible', password='wrong', devices=[{'id': 'dev1', 'pins': RELAYS}])
        )
        assert failed and 'authentication failed' in result['msg']
        assert result['changed'] is False

    def test_right_credentials(self, auth_broker, prefix):
        fleet = VirtualDeviceFleet(
            ConnectionOptions(host=auth_broker.host, port=auth_broker.port, username='ansible', password=USERS['ansible']), ['dev1'], prefix=prefix
        ).start()
        try:
            failed, result, _seconds = execute(
                mqtt_pins, base_args(auth_broker, prefix, username='ansible', password=USERS['ansible'], devices=[{'id': 'dev1', 'pins': RELAYS}])
            )
        finally:
            fleet.stop()
        assert not failed and result['changed']

    def test_password_from_environment(self, auth_broker, prefix, monkeypatch):
        monkeypatch.setenv('PICLUSTER_MQTT_USERNAME', 'ansible')
        monkeypatch.setenv('PICLUSTER_MQTT_PASSWORD', 'wrong-from-env')
        failed, result, _seconds = execute(mqtt_pins, base_args(auth_broker, prefix, devices=[{'id': 'dev1', 'pins': RELAYS}]))
        assert failed and 'authentication failed' in result['msg']

    def test_broker_not_running(self, prefix):
        failed, result, _seconds = execute(
            mqtt_pins, {'host': '127.0.0.1', 'port': free_port(), 'topic_prefix': prefix, 'devices': [{'id': 'dev1', 'pins': RELAYS}]}
        )
        assert failed and 'connection refused' in result['msg'] and 'broker running' in result['msg']

    def test_missing_paho_message(self, broker, prefix, monkeypatch):
        from ansible_collections.picluster.clusterctrl.plugins.module_utils import _mqtt_module

        monkeypatch.setattr(_mqtt_module, 'HAS_PAHO', False)
        failed, result, _seconds = execute(mqtt_pins, base_args(broker, prefix, devices=[{'id': 'dev1', 'pins': RELAYS}]))
        assert failed and 'paho-mqtt' in result['msg'] and 'pip install paho-mqtt' in result['msg'] and 'python3-paho-mqtt' in result['msg']


class TestMqttPinsInfo:
    def test_reads_many_devices(self, broker, prefix, fleet_factory, monitor):
        fleet_factory(['dev1', 'dev2'], pins=4)
        failed, result, _seconds = execute(mqtt_pins_info, base_args(broker, prefix, devices=['dev1', 'dev2'], pins=[0, 3]), check_mode=True)
        assert not failed and result['changed'] is False
        assert result['devices']['dev2']['pins'] == [
            {'pin': 0, 'mode': 'disabled', 'mode_code': -1, 'state': 'low'},
            {'pin': 3, 'mode': 'disabled', 'mode_code': -1, 'state': 'low'},
        ]
        assert monitor.commands() == []

    def test_all_pins(self, broker, prefix, fleet_factory):
        fleet_factory(['dev1'], pins=[1, 5])
        failed, result, _seconds = execute(mqtt_pins_info, base_args(broker, prefix, devices=['dev1']))
        assert not failed and [entry['pin'] for entry in result['devices']['dev1']['pins']] == [1, 5]

    def test_silent_device(self, broker, prefix, fleet_factory):
        fleet_factory(['dev1', 'dev7'], silent=['dev7'])
        failed, result, _seconds = execute(mqtt_pins_info, base_args(broker, prefix, timeout=1, devices=['dev1', 'dev7'], pins=[0]))
        assert failed and 'dev7' in result['msg'] and result['failed_devices'] == ['dev7']
        assert result['devices']['dev1']['pins'][0]['pin'] == 0


# --- ansible-playbook: the headline acceptance ------------------------------------------------


def _collections_root():
    import ansible_collections

    for path in ansible_collections.__path__:
        if os.path.exists(os.path.join(path, 'picluster', 'clusterctrl', 'plugins', 'modules', 'mqtt_pins.py')):
            return os.path.dirname(path)
    raise RuntimeError('cannot locate the collection root')


def _interpreters():
    found = [sys.executable]
    compat = os.environ.get('PICLUSTER_COMPAT_PYTHON')
    if compat:
        found.append(compat)
    return found


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Converge {{ device_ids | length }} devices x 8 pins in one task
      picluster.clusterctrl.mqtt_pins:
        host: 127.0.0.1
        port: "{{ mqtt_port }}"
        topic_prefix: "{{ prefix }}"
        devices: "{{ device_ids | map('regex_replace', '^(.*)$', '{\\"id\\": \\"\\\\1\\"}') | map('from_json') | map('combine', {'pins': pins}) | list }}"
      register: converge
    - ansible.builtin.debug:
        msg: "RESULT changed={{ converge.changed }} devices={{ converge.devices | length }}"
"""


# ansible-test units gives the tests of modules and module_utils only ansible-core's modules and module_utils (no
# ansible.cli): ansible-playbook cannot run there. The plain pytest run (tools/test.sh units) runs these tests.
@pytest.mark.skipif(importlib.util.find_spec('ansible.cli') is None, reason='ansible-playbook cannot run under ansible-test units')
@pytest.mark.parametrize('interpreter', _interpreters())
def test_playbook_50_devices_8_pins(broker, prefix, fleet_factory, tmp_path, interpreter):
    prefix = prefix[:40]
    ids = ['dev%03d' % index for index in range(50)]
    fleet = fleet_factory(ids, pins=8, prefix=prefix)
    pins = [{'pin': pin, 'mode': 'output', 'state': 'high' if pin % 2 else 'low'} for pin in range(6)] + [
        {'pin': 6, 'mode': 'input_pullup'},
        {'pin': 7, 'mode': 'input'},
    ]
    (tmp_path / 'play.yml').write_text(PLAYBOOK)
    (tmp_path / 'vars.json').write_text(json.dumps({'mqtt_port': broker.port, 'prefix': prefix, 'device_ids': ids, 'pins': pins}))
    (tmp_path / 'hosts').write_text(f'localhost ansible_connection=local ansible_python_interpreter={interpreter}\n')
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=_collections_root(),
        ANSIBLE_NOCOLOR='1',
        ANSIBLE_RETRY_FILES_ENABLED='0',
        ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'),
        ANSIBLE_REMOTE_TEMP=str(tmp_path / 'rtmp'),
    )
    playbook_bin = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    base = [playbook_bin] if os.path.exists(playbook_bin) else [sys.executable, '-m', 'ansible.cli.playbook']

    def play(*extra):
        proc = subprocess.run(
            base + ['-i', str(tmp_path / 'hosts'), '-e', '@' + str(tmp_path / 'vars.json'), str(tmp_path / 'play.yml')] + list(extra),
            cwd=str(tmp_path),
            env=env,
            check=False,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=300,
        )
        output = proc.stdout.decode('utf-8', 'replace')
        assert proc.returncode == 0, output
        return output

    output = play()
    assert 'RESULT changed=True devices=50' in output
    assert fleet.pins('dev049')[5] == PinInfo(5, 3, 1) and fleet.pins('dev000')[6] == PinInfo(6, 5, 1)
    output = play()
    assert 'RESULT changed=False devices=50' in output
    # Change the desired levels, then --check: predicted change, and the broker carried no config/set.
    for pin in pins[:6]:
        pin['state'] = 'low' if pin['state'] == 'high' else 'high'
    (tmp_path / 'vars.json').write_text(json.dumps({'mqtt_port': broker.port, 'prefix': prefix, 'device_ids': ids, 'pins': pins}))
    with BrokerMonitor(broker.host, broker.port, f'{prefix}/#') as monitor:
        output = play('--check')
        assert 'RESULT changed=True devices=50' in output
        assert monitor.wait_for(lambda messages: len([m for m in messages if m[0].endswith('/pin/get')]) == 50, 10)
        time.sleep(0.3)
        assert monitor.commands() == []
    assert fleet.pins('dev049')[5] == PinInfo(5, 3, 1)
