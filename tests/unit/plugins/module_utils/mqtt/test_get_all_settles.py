# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A get of every pin (``[]``) is never answered by a partial reply taken for the whole one.

Issue 10 ("dead-end messages"): ``mqtt_pins_info`` for all pins returned a partial list as success
when the device answered in two update messages or an unrelated update arrived first. The protocol
has no request ids (mqtt-device-cluster-protocol.md §3, §4: "update() returned on the first update
from that device"), so the answer is collected until the device has been quiet for ``settle``
seconds, within the request's time; the result says whether it settled. Against a real mosquitto,
with crafted devices and the virtual devices' ``split`` and ``noisy`` behaviours. The module cases
need ansible-core (skipped on the Python 3.9 compat venv).
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.device_cluster import DeviceCluster
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import PinInfo
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.request import Request
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.module_utils.mqtt.hardening_helpers import HAS_ANSIBLE, CraftedDevice
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import execute

PINS = list(range(8))
needs_ansible = pytest.mark.skipif(not HAS_ANSIBLE, reason='module tests need ansible-core')


def _update(pins, state=0):
    return json.dumps([{'pin': pin, 'mode': 3, 'state': state} for pin in pins]).encode()


def answer_in_two(pause=0.0):
    """Every pin, in two updates (``pause`` seconds apart)."""

    def behaviour(kind, payload):
        return [_update(PINS[:4]), ('pause', pause), _update(PINS[4:])]

    return behaviour


def unrelated_update_first(kind, payload):
    """An input changed just as the request came in: its update goes out before the answer."""
    return [_update([7], state=1), ('pause', 0.05), _update(PINS)]


def never_quiet(kind, payload):
    """Keeps reporting an input that flickers, for longer than any timeout of these tests."""
    return [_update(PINS)] + [action for _flicker in range(200) for action in (('pause', 0.02), _update([7]))]


@pytest.fixture
def crafted(broker, prefix):
    devices = []

    def make(device_id, behaviour):
        device = CraftedDevice(broker, prefix, device_id, behaviour).start()
        devices.append(device)
        return device

    yield make
    for device in devices:
        device.stop()


@pytest.mark.parametrize(
    'behaviour',
    [answer_in_two(), answer_in_two(0.1), unrelated_update_first],
    ids=['two_updates_back_to_back', 'two_updates_100ms_apart', 'unrelated_update_first'],
)
def test_whole_answer_is_collected_and_settles(crafted, cluster_factory, behaviour):
    crafted('dev1', behaviour)
    cluster = cluster_factory(timeout=5.0, settle=1.0)
    request = Request('dev1', 'get', [])
    cluster.execute([request])
    assert request.ok and request.settled is True and request.complete
    assert sorted(request.confirmed) == PINS
    assert request.confirmed[7] == PinInfo(7, 3, 0)  # the answer, not the unrelated update before it


def test_library_update_returns_the_whole_answer(crafted, cluster_factory):
    crafted('dev1', answer_in_two())
    assert sorted(cluster_factory(settle=1.0).update('dev1')) == PINS


def test_an_answer_still_coming_when_time_runs_out_is_not_complete(crafted, cluster_factory):
    crafted('dev1', never_quiet)
    cluster = cluster_factory(timeout=1.5, settle=1.0)
    request = Request('dev1', 'get', [])
    cluster.execute([request])
    assert request.ok and request.settled is False and not request.complete
    assert sorted(request.confirmed) == PINS


def test_no_answer_is_a_timeout(crafted, cluster_factory):
    crafted('dev1', lambda kind, payload: [])
    request = Request('dev1', 'get', [], timeout=0.5)
    cluster_factory(settle=0.2).execute([request])
    assert request.status == 'timeout' and not request.complete and request.settled is None
    assert 'device dev1 did not answer the get request' in request.error


def test_listed_pins_are_confirmed_by_content_without_settling(crafted, cluster_factory):
    crafted('dev1', answer_in_two())
    request = Request('dev1', 'get', [1, 6])
    cluster_factory(settle=1.0).execute([request])
    assert request.complete and request.settled is None and sorted(request.confirmed) == [1, 6]


def test_split_and_noisy_virtual_devices(fleet_factory, cluster_factory):
    fleet_factory(['split1', 'noisy1', 'plain1'], split=['split1'], noisy=['noisy1'], reply_gap_ms=100)
    cluster = cluster_factory(settle=1.0)
    requests = [Request(device_id, 'get', []) for device_id in ('split1', 'noisy1', 'plain1')]
    cluster.execute(requests)
    assert [sorted(request.confirmed) for request in requests] == [PINS] * 3
    assert all(request.complete for request in requests)
    # Listed pins and changes work on them as on any device.
    assert cluster.config_pins('split1', [{'pin': 0, 'mode': 3, 'state': 1}, {'pin': 5, 'mode': 1}]) == {0: PinInfo(0, 3, 1), 5: PinInfo(5, 1, 0)}
    assert cluster.update('noisy1', [7])[7] == PinInfo(7, -1, 0)


@pytest.mark.parametrize('settle', [0, -1, float('nan'), float('inf')])
def test_settle_must_be_positive_and_finite(settle):
    with pytest.raises(ValueError, match='settle must be a finite number of seconds greater than 0'):
        Request('dev1', 'get', [], settle=settle)
    with pytest.raises(ValueError, match='settle must be a finite number of seconds greater than 0'):
        DeviceCluster(settle=settle)


# --- the module ------------------------------------------------------------------------------------------


def _info_args(broker, prefix, **kwargs):
    args = {'host': broker.host, 'port': broker.port, 'topic_prefix': prefix, 'timeout': 5, 'settle_time': 1.0}
    args.update(kwargs)
    return args


@needs_ansible
@pytest.mark.parametrize('behaviour', [answer_in_two(), unrelated_update_first], ids=['two_updates', 'unrelated_update_first'])
def test_module_reports_every_pin_as_complete(broker, prefix, crafted, behaviour):
    from ansible_collections.picluster.clusterctrl.plugins.modules import mqtt_pins_info

    crafted('dev1', behaviour)
    failed, result, _elapsed = execute(mqtt_pins_info, _info_args(broker, prefix, devices=['dev1']), check_mode=True)
    assert not failed and result['changed'] is False and result['failed_devices'] == []
    device = result['devices']['dev1']
    assert [entry['pin'] for entry in device['pins']] == PINS
    assert device['complete'] is True and device['failed'] is False
    assert 'warnings' not in result


@needs_ansible
def test_module_default_settle_time_fits_a_short_timeout(broker, prefix, crafted):
    """Without settle_time: 0.5 s, or half the timeout when that is shorter (here 0.2 s)."""
    from ansible_collections.picluster.clusterctrl.plugins.modules import mqtt_pins_info

    crafted('dev1', answer_in_two())
    args = _info_args(broker, prefix, devices=['dev1'], timeout=0.4)
    del args['settle_time']
    failed, result, _elapsed = execute(mqtt_pins_info, args)
    assert not failed and result['devices']['dev1']['complete'] is True
    assert [entry['pin'] for entry in result['devices']['dev1']['pins']] == PINS


@needs_ansible
def test_module_says_when_an_answer_did_not_settle(broker, prefix, crafted):
    from ansible_collections.picluster.clusterctrl.plugins.modules import mqtt_pins_info

    crafted('dev1', never_quiet)
    failed, result, _elapsed = execute(mqtt_pins_info, _info_args(broker, prefix, devices=['dev1'], timeout=1.5))
    assert not failed and result['failed_devices'] == []
    device = result['devices']['dev1']
    assert device['complete'] is False and device['failed'] is False
    assert [entry['pin'] for entry in device['pins']] == PINS
    # (ansible-core 2.19 and later return warnings as structured events, earlier ones as strings)
    assert 'device dev1 was still sending updates when its timeout ran out: its pins may be incomplete' in json.dumps(result['warnings'])


@needs_ansible
def test_module_listed_pins_are_complete(broker, prefix, fleet_factory):
    from ansible_collections.picluster.clusterctrl.plugins.modules import mqtt_pins_info

    fleet_factory(['dev1', 'dev2'], silent=['dev2'])
    failed, result, _elapsed = execute(mqtt_pins_info, _info_args(broker, prefix, devices=['dev1', 'dev2'], pins=[2], timeout=1, settle_time=0.5))
    assert failed and result['changed'] is False and result['failed_devices'] == ['dev2']
    assert result['devices']['dev1']['complete'] is True and result['devices']['dev1']['failed'] is False
    assert result['devices']['dev2'] == {
        'failed': True,
        'complete': False,
        'unconfirmed_pins': [2],
        'pins': [],
        'msg': 'device dev2 did not confirm pins 2 (get) within 1.0s',
    }
    assert 'dev2' in result['msg']
