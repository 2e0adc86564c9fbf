# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Security against real mosquitto listeners: TLS with a test CA (verification on by default), wrong CA,
wrong host name (and the documented opt-out), client-certificate authentication, a password file,
ACLs, and secrets (password, client key) never in results, logs or files.

What is detectable about ACLs (mosquitto 2.0):
* a publish the ACL denies: mosquitto answers PUBACK 0x87 "Not authorized" -- seen only with MQTT 5
  and paho-mqtt >= 2 (3.1.1 PUBACKs carry no code; paho 1.6 drops the code): the request fails at once
  naming the topic. Otherwise it looks like a silent device (timeout naming device and pins).
* a subscription the ACL denies: mosquitto 2.0 grants it (SUBACK QoS 1) and drops the messages, so
  it looks like silent devices; brokers answering SUBACK 0x80/0x87 make the module fail at once.
"""

from __future__ import annotations

import builtins
import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import (
    ConnectionOptions,
    MqttAuthError,
    MqttConnectError,
    MqttTLSError,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.device_cluster import DeviceCluster
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import PinInfo
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.request import Request
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.virtual_devices import VirtualDeviceFleet
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.module_utils.mqtt.hardening_helpers import HAS_ANSIBLE
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import execute
from ansible_collections.picluster.clusterctrl.tests.utils.mosquitto_broker import MosquittoBroker, find_mosquitto, generate_test_pki

try:
    import paho.mqtt.client as mqtt

    PAHO2 = hasattr(mqtt, 'CallbackAPIVersion')
except ImportError:  # pragma: no cover
    PAHO2 = False

USERS = {'alice': 'Wond3rland-s3cret', 'restricted': 'r3stricted-pw'}
ACL = """user alice
topic readwrite #
user restricted
topic readwrite allowed/#
topic read pubdenied/+/pin/update
"""
CASES = []
needs_ansible = pytest.mark.skipif(not HAS_ANSIBLE, reason='module tests need ansible-core')
OUT = [{'pin': 0, 'mode': 3, 'state': 1}]


def _case(name):
    CASES.append(name)


def _start(tmp_path_factory, name, **kwargs):
    if find_mosquitto() is None:
        pytest.skip('mosquitto is not installed')
    return MosquittoBroker(tmp_path_factory.mktemp(name), **kwargs).start()


@pytest.fixture(scope='module')
def sec(tmp_path_factory):
    """TLS listener with a test CA, password file, ACL, no anonymous access."""
    broker = _start(tmp_path_factory, 'mosquitto-sec', tls=True, passwords=USERS, acl=ACL)
    yield broker
    broker.stop()


@pytest.fixture(scope='module')
def certreq(tmp_path_factory):
    """TLS listener that requires a client certificate signed by the test CA."""
    broker = _start(tmp_path_factory, 'mosquitto-certreq', tls=True, require_certificate=True)
    yield broker
    broker.stop()


@pytest.fixture(scope='module')
def othername(tmp_path_factory):
    """TLS listener whose certificate is for mqtt.example.net only."""
    broker = _start(tmp_path_factory, 'mosquitto-othername', tls=True, server_name='mqtt.example.net')
    yield broker
    broker.stop()


@pytest.fixture(scope='module')
def other_ca(tmp_path_factory):
    return generate_test_pki(str(tmp_path_factory.mktemp('other-ca')))


def _tls(broker, **kwargs):
    kwargs.setdefault('ca_cert', broker.ca_cert)
    kwargs.setdefault('connect_timeout', 3)
    return ConnectionOptions(host=broker.host, port=broker.tls_port, **kwargs)


@pytest.fixture
def alice_fleet(sec, prefix):
    fleet = VirtualDeviceFleet(
        ConnectionOptions(host=sec.host, port=sec.port, username='alice', password=USERS['alice']), ['dev1'], pins=4, prefix=prefix
    ).start()
    yield fleet
    fleet.stop()


# --- TLS ------------------------------------------------------------------------------------------------


def test_tls_verification_is_on_by_default(sec, prefix, alice_fleet):
    _case('TLS with the test CA, verification on by default')
    options = _tls(sec, username='alice', password=USERS['alice'])
    context = options.ssl_context()
    assert options.validate_certs and context.check_hostname and context.verify_mode == __import__('ssl').CERT_REQUIRED
    with DeviceCluster.connect(options, prefix=prefix, timeout=3) as cluster:
        assert cluster.config_pins('dev1', OUT) == {0: PinInfo(0, 3, 1)}


@pytest.mark.parametrize('which', ['other_ca', 'system_cas'])
def test_untrusted_broker_certificate_fails_clearly(sec, other_ca, which):
    _case(f'TLS: broker certificate from an untrusted CA ({which})')
    options = _tls(sec, username='alice', password=USERS['alice'], ca_cert=other_ca['ca_cert'] if which == 'other_ca' else None, tls=True)
    start = time.monotonic()
    with pytest.raises(MqttTLSError, match='TLS certificate verification of MQTT broker 127.0.0.1:%d failed: .*certificate verify failed' % sec.tls_port):
        DeviceCluster.connect(options, prefix='x')
    assert time.monotonic() - start < 2


def test_wrong_host_name_fails_clearly_and_the_opt_out_works(othername, prefix):
    _case('TLS: certificate for another host name; tls_check_hostname=false opt-out')
    with pytest.raises(MqttTLSError, match="certificate verify failed: IP address mismatch, certificate is not valid for '127.0.0.1'"):
        DeviceCluster.connect(_tls(othername), prefix=prefix)
    # Opt-out: the name is not checked, the certificate still is (an untrusted CA still fails).
    with DeviceCluster.connect(_tls(othername, check_hostname=False), prefix=prefix, timeout=1) as cluster:
        assert cluster.connection.ready
    with pytest.raises(MqttTLSError):
        DeviceCluster.connect(_tls(othername, check_hostname=False, ca_cert=None, tls=True), prefix=prefix)


def test_client_certificate_required(certreq, prefix):
    _case('TLS: listener requires a client certificate (without: clear error; with: works)')
    start = time.monotonic()
    with pytest.raises(MqttConnectError, match='closed the connection before accepting it.*require a client certificate'):
        DeviceCluster.connect(_tls(certreq, connect_timeout=10), prefix=prefix)
    assert time.monotonic() - start < 3, 'must not wait for connect_timeout'
    fleet = VirtualDeviceFleet(ConnectionOptions(host=certreq.host, port=certreq.port), ['dev1'], pins=2, prefix=prefix).start()
    try:
        with DeviceCluster.connect(_tls(certreq, client_cert=certreq.client_cert, client_key=certreq.client_key), prefix=prefix) as cluster:
            assert cluster.config_pins('dev1', OUT)[0] == PinInfo(0, 3, 1)
    finally:
        fleet.stop()


def test_plain_client_on_tls_port_fails_fast(sec):
    _case('plain MQTT to a TLS port')
    start = time.monotonic()
    with pytest.raises(MqttConnectError, match='closed the connection before accepting it.*enable tls'):
        DeviceCluster.connect(ConnectionOptions(host=sec.host, port=sec.tls_port, connect_timeout=10), prefix='x')
    assert time.monotonic() - start < 3


# --- password file and ACL -------------------------------------------------------------------------------


@pytest.mark.parametrize('protocol', ['3.1.1', '5'])
def test_wrong_password_fails_fast_and_is_not_retried(sec, protocol):
    _case(f'password file: wrong password, MQTT {protocol}')
    with open(sec.log_path, errors='replace') as handle:
        before = handle.read().count('not authorised')
    start = time.monotonic()
    with pytest.raises(MqttAuthError, match='authentication failed') as info:
        DeviceCluster.connect(ConnectionOptions(host=sec.host, port=sec.port, username='alice', password='wrong-pw', protocol=protocol), prefix='x')
    assert time.monotonic() - start < 1.0
    assert 'wrong-pw' not in str(info.value)
    time.sleep(1.5)  # paho would have retried by now (reconnect delay 1 s)
    with open(sec.log_path, errors='replace') as handle:
        assert handle.read().count('not authorised') - before == 1


@pytest.mark.parametrize('protocol', ['3.1.1', '5'])
def test_acl_denied_publish(sec, protocol):
    _case(f'ACL denies publishing the requests, MQTT {protocol}')
    options = ConnectionOptions(host=sec.host, port=sec.port, username='restricted', password=USERS['restricted'], protocol=protocol)
    with DeviceCluster.connect(options, prefix='pubdenied', timeout=1) as cluster:
        request = Request('dev1', 'config', OUT)
        start = time.monotonic()
        cluster.execute([request])
        elapsed = time.monotonic() - start
    if protocol == '5' and PAHO2:
        assert request.status == 'error' and elapsed < 0.5
        assert request.error == (
            f'MQTT broker {options.address} refused the config request to device dev1: Not authorized '
            '(does its ACL allow this user to publish to pubdenied/dev1/pin/config?)'
        )
    else:
        # Undetectable: 3.1.1 PUBACKs carry no reason code, paho-mqtt 1.6 drops MQTT 5 PUBACK codes.
        assert request.status == 'timeout' and 'device dev1 did not confirm pins 0' in request.error


def test_acl_denied_subscription_looks_like_silent_devices(sec, prefix, alice_fleet):
    _case('ACL denies reading the updates (mosquitto 2.0 grants the SUBACK)')
    options = ConnectionOptions(host=sec.host, port=sec.port, username='restricted', password=USERS['restricted'])
    # 'restricted' may publish under allowed/ only: here it may neither publish nor read under prefix.
    with DeviceCluster.connect(options, prefix=prefix, timeout=0.5) as cluster:
        request = Request('dev1', 'get', [0])
        cluster.execute([request])
    assert request.status == 'timeout' and 'device dev1 did not confirm pins 0 (get) within 0.5s' in request.error


# --- the modules: secrets never in results, no files written -------------------------------------------------


def _module_args(broker, prefix, **kwargs):
    args = {
        'host': broker.host,
        'port': broker.tls_port,
        'topic_prefix': prefix,
        'timeout': 2,
        'tls': True,
        'ca_cert': broker.ca_cert,
        'username': 'alice',
        'password': USERS['alice'],
        'devices': [{'id': 'dev1', 'pins': [{'pin': 0, 'mode': 'output', 'state': 'high'}]}],
    }
    args.update(kwargs)
    return args


def _key_material(path):
    with open(path) as handle:
        return [line for line in handle.read().splitlines() if line and not line.startswith('-----')]


@needs_ansible
def test_module_secrets_not_in_results_and_no_files_written(monkeypatch, sec, certreq, prefix, alice_fleet):
    _case('module: password and key never in results; no file written')
    from ansible_collections.picluster.clusterctrl.plugins.module_utils._mqtt_module import mqtt_argument_spec
    from ansible_collections.picluster.clusterctrl.plugins.modules import mqtt_pins, mqtt_pins_info

    spec = mqtt_argument_spec()
    assert spec['password']['no_log'] is True and spec['client_key']['no_log'] is True
    writes = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file, mode='r', *args, **kwargs):
        if any(flag in mode for flag in 'wax+'):
            writes.append((file, mode))
        return real_open(file, mode, *args, **kwargs)

    def spy_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            writes.append((path, flags))
        return real_os_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, 'open', spy_open)
    monkeypatch.setattr(os, 'open', spy_os_open)
    results = []
    failed, result, _elapsed = execute(mqtt_pins, _module_args(sec, prefix), diff=True)
    assert not failed and result['changed'], result
    results.append(result)
    failed, result, _elapsed = execute(mqtt_pins, _module_args(sec, prefix, password='Wrong-s3cret-typed'))
    assert failed and 'authentication failed' in result['msg']
    results.append(result)
    failed, result, _elapsed = execute(mqtt_pins_info, _module_args(sec, prefix, devices=['dev1']))
    assert not failed
    results.append(result)
    # Client certificate and key: the key is loaded by ssl from its path, never read into the result.
    args = _module_args(
        certreq, prefix, username=None, password=None, client_cert=certreq.client_cert, client_key=certreq.client_key, devices=['nodevice'], timeout=0.3
    )
    failed, result, _elapsed = execute(mqtt_pins_info, args)
    assert failed and 'nodevice' in result['msg']
    results.append(result)
    monkeypatch.setattr(builtins, 'open', real_open)
    monkeypatch.setattr(os, 'open', real_os_open)
    text = json.dumps(results)
    for secret in [USERS['alice'], 'Wrong-s3cret-typed'] + _key_material(certreq.client_key):
        assert secret not in text
    assert writes == [], f'MQTT modules must not write files: {writes!r}'


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Converge over TLS with a client certificate and a password
      picluster.clusterctrl.mqtt_pins:
        host: 127.0.0.1
        port: "{{ tls_port }}"
        ca_cert: "{{ ca_cert }}"
        client_cert: "{{ client_cert }}"
        client_key: "{{ client_key }}"
        username: alice
        password: "{{ mqtt_password }}"
        topic_prefix: "{{ prefix }}"
        devices: [{id: dev1, pins: [{pin: 1, mode: output, state: high}]}]
      register: converge
    - name: Wrong password (fails; the message must not carry it)
      picluster.clusterctrl.mqtt_pins_info:
        host: 127.0.0.1
        port: "{{ tls_port }}"
        ca_cert: "{{ ca_cert }}"
        username: alice
        password: "{{ wrong_password }}"
        topic_prefix: "{{ prefix }}"
        devices: [dev1]
      ignore_errors: true
    - ansible.builtin.debug:
        var: converge
"""


# ansible-test units gives the tests of modules and module_utils only ansible-core's modules and module_utils (no
# ansible.cli): ansible-playbook cannot run there. The plain pytest run (tools/test.sh units) runs this test.
@needs_ansible
@pytest.mark.skipif(HAS_ANSIBLE and importlib.util.find_spec('ansible.cli') is None, reason='ansible-playbook cannot run under ansible-test units')
def test_playbook_vvv_output_has_no_secret(sec, prefix, alice_fleet, tmp_path):
    _case('ansible-playbook -vvv: no password, no key material in the whole output')
    # The broker requires a password on its TLS listener; the client certificate is offered too (not required).
    import ansible_collections

    root = [
        os.path.dirname(path)
        for path in ansible_collections.__path__
        if os.path.exists(os.path.join(path, 'picluster', 'clusterctrl', 'plugins', 'modules', 'mqtt_pins.py'))
    ][0]
    (tmp_path / 'play.yml').write_text(PLAYBOOK)
    variables = {
        'tls_port': sec.tls_port,
        'ca_cert': sec.ca_cert,
        'client_cert': sec.client_cert,
        'client_key': sec.client_key,
        'mqtt_password': USERS['alice'],
        'wrong_password': 'Typo-Wond3rland-s3cret',
        'prefix': prefix,
    }
    (tmp_path / 'vars.json').write_text(json.dumps(variables))
    (tmp_path / 'hosts').write_text(f'localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n')
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=root,
        ANSIBLE_NOCOLOR='1',
        ANSIBLE_RETRY_FILES_ENABLED='0',
        ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'),
        ANSIBLE_REMOTE_TEMP=str(tmp_path / 'rtmp'),
        ANSIBLE_LOG_PATH=str(tmp_path / 'ansible.log'),
    )
    playbook_bin = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    base = [playbook_bin] if os.path.exists(playbook_bin) else [sys.executable, '-m', 'ansible.cli.playbook']
    proc = subprocess.run(
        base + ['-vvv', '-i', str(tmp_path / 'hosts'), '-e', '@' + str(tmp_path / 'vars.json'), str(tmp_path / 'play.yml')],
        cwd=str(tmp_path),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=120,
        check=False,
    )
    output = proc.stdout.decode('utf-8', 'replace')
    assert proc.returncode == 0, output
    assert '"changed": true' in output and 'authentication failed' in output
    with open(str(tmp_path / 'ansible.log'), errors='replace') as handle:
        log = handle.read()
    for secret in [USERS['alice'], 'Typo-Wond3rland-s3cret'] + _key_material(sec.client_key):
        assert secret not in output, 'secret in ansible-playbook -vvv output'
        assert secret not in log, 'secret in the ansible log'
    with open(sec.log_path, errors='replace') as handle:
        assert USERS['alice'] not in handle.read(), 'secret in the broker log'


def test_zz_security_count(capsys):
    with capsys.disabled():
        print('\nMQTT security cases: %d (%s)' % (len(CASES), '; '.join(CASES)))
