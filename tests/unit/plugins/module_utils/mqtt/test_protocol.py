# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import threading

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.pin_cache import PinCache
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import (
    PayloadError,
    PinInfo,
    PinMode,
    PinState,
    ProtocolError,
    Topics,
    decode_update,
    encode_config,
    encode_get,
    encode_set,
    mode_name,
    parse_mode,
    parse_state,
    validate_device_id,
    validate_prefix,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.request import Request
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.thread_lock import KeyLock


class TestTopicsAndIds:
    def test_default_prefix_topics(self):
        topics = Topics()
        assert topics.config('dev1') == 'device/dev1/pin/config'
        assert topics.set('dev1') == 'device/dev1/pin/set'
        assert topics.get('dev1') == 'device/dev1/pin/get'
        assert topics.update('dev1') == 'device/dev1/pin/update'
        assert topics.all_updates == 'device/+/pin/update'

    def test_custom_multi_level_prefix(self):
        topics = Topics('site1/relays')
        assert topics.set('a_1') == 'site1/relays/a_1/pin/set'
        assert topics.parse('site1/relays/a_1/pin/update') == ('a_1', 'update')
        assert topics.parse('site1/other/a_1/pin/update') is None
        assert topics.parse('site1/relays/a_1/pin') is None

    @pytest.mark.parametrize('bad', ['a/b', 'dev+', 'dev#', 'dev\x00', '', 'dev 1', 'dev-1', None, 5])
    def test_bad_device_ids_rejected(self, bad):
        with pytest.raises(ProtocolError):
            validate_device_id(bad)
        with pytest.raises(ProtocolError):
            Topics().set(bad)

    def test_forbidden_characters_named_in_message(self):
        with pytest.raises(ProtocolError, match="'/'"):
            validate_device_id('a/b')
        with pytest.raises(ProtocolError, match="'#'"):
            validate_device_id('a#')

    @pytest.mark.parametrize('good', ['dev007', 'ESP_32', 'A'])
    def test_good_device_ids(self, good):
        assert validate_device_id(good) == good

    @pytest.mark.parametrize('bad', ['', '/device', 'device/', 'dev/+/x', 'a#', 'a//b'])
    def test_bad_prefixes(self, bad):
        with pytest.raises(ProtocolError):
            validate_prefix(bad)


class TestValues:
    def test_mode_values_match_the_spec(self):
        assert [int(PinMode[name.upper()]) for name in ('disabled', 'input', 'output', 'input_pullup', 'input_pulldown')] == [-1, 1, 3, 5, 9]
        assert int(PinState.LOW) == 0 and int(PinState.HIGH) == 1
        assert ~PinState.LOW == PinState.HIGH

    @pytest.mark.parametrize(
        'value,expected', [('output', 3), ('INPUT_PULLUP', 5), ('disabled', -1), (9, 9), ('0x13', 0x13), ('192', 192), (PinMode.INPUT, 1), (77, 77)]
    )
    def test_parse_mode(self, value, expected):
        assert parse_mode(value) == expected

    def test_unknown_integer_mode_passes_through(self):
        assert parse_mode(0x42) == 0x42
        assert mode_name(0x42) == 0x42
        assert mode_name(3) == 'output'
        payload = json.loads(encode_config([{'pin': 1, 'mode': 0x42}]))
        assert payload == [{'pin': 1, 'mode': 0x42}]

    @pytest.mark.parametrize('bad', ['outptu', True, None, 3.5, -2])
    def test_parse_mode_rejects(self, bad):
        with pytest.raises(ProtocolError):
            parse_mode(bad)

    @pytest.mark.parametrize('value,expected', [('high', 1), ('LOW', 0), (1, 1), (0, 0), (True, 1), ('1', 1)])
    def test_parse_state(self, value, expected):
        assert parse_state(value) == expected

    @pytest.mark.parametrize('bad', ['up', 2, -1, None])
    def test_parse_state_rejects(self, bad):
        with pytest.raises(ProtocolError):
            parse_state(bad)


class TestPayloads:
    def test_encode_requests(self):
        assert json.loads(encode_config([{'pin': 2, 'mode': 'output', 'state': 'high'}, {'pin': 5, 'mode': 5}])) == [
            {'pin': 2, 'mode': 3, 'state': 1},
            {'pin': 5, 'mode': 5},
        ]
        assert json.loads(encode_set([{'pin': 2, 'state': 0}, {'pin': 3, 'state': 1, 'time': 250}])) == [
            {'pin': 2, 'state': 0},
            {'pin': 3, 'state': 1, 'time': 250},
        ]
        assert json.loads(encode_get()) == []
        assert json.loads(encode_get([1, 2])) == [1, 2]

    @pytest.mark.parametrize(
        'entry', [{'pin': -1, 'state': 1}, {'pin': 'x', 'state': 1}, {'pin': 1, 'state': 1, 'time': 0}, {'pin': 1, 'state': 1, 'time': 1.5}]
    )
    def test_encode_set_rejects(self, entry):
        with pytest.raises(ProtocolError):
            encode_set([entry])

    def test_decode_update(self):
        assert decode_update(b'[{"pin": 2, "mode": 3, "state": 1}, {"pin": 7, "mode": 192, "state": 0}]') == [PinInfo(2, 3, 1), PinInfo(7, 192, 0)]
        assert decode_update(b'[]') == []

    @pytest.mark.parametrize(
        'payload,kind',
        [
            (b'\xff\xfe[]', 'not_utf8'),
            (b'{not json', 'not_json'),
            (b'{"pin": 1}', 'malformed'),
            (b'[1, 2]', 'malformed'),
            (b'[{"pin": 1, "mode": 3}]', 'malformed'),
            (b'[{"pin": 1, "mode": 3, "state": 2}]', 'malformed'),
            (b'[{"pin": true, "mode": 3, "state": 1}]', 'malformed'),
            (b'[{"pin": 1, "mode": "output", "state": 1}]', 'malformed'),
            (b'[' + b' ' * 70000 + b']', 'oversized'),
        ],
    )
    def test_decode_update_rejects_with_reason(self, payload, kind):
        with pytest.raises(PayloadError) as exc:
            decode_update(payload)
        assert exc.value.kind == kind


class TestRequestCorrelation:
    """Correlation by content, for every requested pin (no request ids in the protocol)."""

    def test_config_needs_every_pin_with_the_requested_mode_and_state(self):
        request = Request('dev1', 'config', [{'pin': 1, 'mode': 'output', 'state': 'high'}, {'pin': 2, 'mode': 'input'}])
        assert not request.matches(PinInfo(1, 3, 0))  # right mode, wrong level
        assert not request.matches(PinInfo(1, 1, 1))  # wrong mode
        assert request.matches(PinInfo(1, 3, 1))
        assert request.matches(PinInfo(2, 1, 0))
        assert not request.matches(PinInfo(9, 1, 0))  # not requested

    def test_set_needs_the_state_and_pulse_accepts_either_level(self):
        plain = Request('dev1', 'set', [{'pin': 4, 'state': 1}])
        assert not plain.matches(PinInfo(4, 3, 0))
        assert plain.matches(PinInfo(4, 3, 1))
        pulse = Request('dev1', 'set', [{'pin': 4, 'state': 1, 'time': 100}])
        assert pulse.is_pulse
        assert pulse.matches(PinInfo(4, 3, 0)) and pulse.matches(PinInfo(4, 3, 1))

    def test_get_accepts_any_report_of_requested_pins(self):
        request = Request('dev1', 'get', [1, 2])
        assert request.matches(PinInfo(1, -1, 0))
        assert not request.matches(PinInfo(3, -1, 0))
        assert Request('dev1', 'get', []).all_pins

    def test_invalid_requests_rejected_before_publishing(self):
        with pytest.raises(ProtocolError):
            Request('dev/1', 'get', [1])
        with pytest.raises(ProtocolError):
            Request('dev1', 'set', [{'pin': 1, 'state': 1}, {'pin': 1, 'state': 0}])
        with pytest.raises(ProtocolError):
            Request('dev1', 'config', [])


class TestPinCache:
    def test_update_and_read(self):
        cache = PinCache()
        cache.update('dev1', [PinInfo(1, 3, 1), PinInfo(2, 1, 0)])
        cache.update('dev1', [PinInfo(1, 3, 0)])
        assert cache.get('dev1', 1) == PinInfo(1, 3, 0)
        assert cache.pins('dev1') == {1: PinInfo(1, 3, 0), 2: PinInfo(2, 1, 0)}
        assert cache.get('dev2', 1) is None
        assert 'dev1' in cache and cache.devices() == ['dev1']
        assert cache.age('dev1', 1) >= 0
        cache.forget('dev1')
        assert cache.pins('dev1') == {}


class TestKeyLock:
    def test_mutual_exclusion_per_key(self):
        lock = KeyLock()
        assert lock.acquire('a')
        assert not lock.acquire('a', blocking=False)
        assert lock.acquire('b', blocking=False)
        lock.release('b')
        assert not lock.acquire('a', timeout=0.05)
        lock.release('a')
        assert len(lock) == 0

    def test_entry_not_deleted_while_a_waiter_waits(self):
        lock = KeyLock()
        lock.acquire('dev')
        got = threading.Event()
        waiting = threading.Event()

        def waiter():
            waiting.set()
            if lock.acquire('dev', timeout=10):
                got.set()

        thread = threading.Thread(target=waiter)
        thread.start()
        waiting.wait(5)
        # Let the waiter block, then release: the entry must survive for the waiter, and exclusion must hold.
        for _attempt in range(100):
            with lock._cond:
                if lock._entries['dev'].waiters == 1:
                    break
            threading.Event().wait(0.01)
        lock.release('dev')
        assert got.wait(5)
        assert lock.locked('dev')
        assert not lock.acquire('dev', blocking=False)
        lock.release('dev')
        thread.join(5)
        assert len(lock) == 0

    def test_release_of_unlocked_key_is_an_error(self):
        with pytest.raises(RuntimeError):
            KeyLock().release('x')


def test_device_cluster_module_keeps_its_published_names():
    # mqtt_device_cluster.device_cluster is the published synchronous client: Request, DeviceTimeout and
    # KeyLock live in request.py and thread_lock.py, and stay importable from it.
    from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt import device_cluster, request, thread_lock

    assert sorted(device_cluster.__all__) == [
        'ANY',
        'CbKey',
        'ConfigPin',
        'DeviceCluster',
        'DeviceTimeout',
        'KeyLock',
        'PinCache',
        'PinInfo',
        'PinMode',
        'PinState',
        'Request',
        'SetPin',
    ]
    assert all(hasattr(device_cluster, name) for name in device_cluster.__all__)
    assert (device_cluster.Request, device_cluster.DeviceTimeout, device_cluster.KeyLock) == (request.Request, request.DeviceTimeout, thread_lock.KeyLock)
