# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The asyncio API's types (spec §7) and its KeyLock, without a broker and without aiomqtt."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import os
import random
import subprocess
import sys

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt import protocol
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.aio_waiter import DeviceTimeoutError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.api_types import (
    ANY,
    CbKey,
    ConfigPin,
    PinCache,
    PinMode,
    PinState,
    SetPin,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.lock import KeyLock

MQTT = 'ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt'


class TestTypes:
    def test_constants_are_plain_ints_matching_the_wire_enums(self):
        assert (PinMode.PIN_DISABLED, PinMode.INPUT, PinMode.OUTPUT, PinMode.INPUT_PULLUP, PinMode.INPUT_PULLDOWN) == (-1, 1, 3, 5, 9)
        assert (PinState.LOW, PinState.HIGH) == (0, 1)
        for member in protocol.PinMode:
            value = getattr(PinMode, 'PIN_DISABLED' if member.name == 'DISABLED' else member.name)
            assert isinstance(value, int) and not isinstance(value, enum.Enum) and value == member.value
        for member in protocol.PinState:
            value = getattr(PinState, member.name)
            assert isinstance(value, int) and not isinstance(value, enum.Enum) and value == member.value
        assert json.dumps({'pin': 13, 'mode': PinMode.OUTPUT, 'state': PinState.HIGH}) == '{"pin": 13, "mode": 3, "state": 1}'

    def test_namespaces_cannot_be_instantiated_or_changed(self):
        for namespace in (PinMode, PinState, ANY):
            with pytest.raises(TypeError):
                namespace()
        with pytest.raises(TypeError):
            PinMode.OUTPUT = 4
        with pytest.raises(TypeError):
            del PinState.HIGH
        assert PinMode.OUTPUT == 3 and repr(ANY) == 'ANY'

    def test_typed_dicts(self):
        assert ConfigPin.__required_keys__ == frozenset({'pin', 'mode'}) and ConfigPin.__optional_keys__ == frozenset({'state'})
        assert SetPin.__required_keys__ == frozenset({'pin', 'state'}) and SetPin.__optional_keys__ == frozenset({'time'})
        entry: SetPin = {'pin': 13, 'state': PinState.LOW, 'time': 500}
        assert json.loads(protocol.encode_set([entry])) == [{'pin': 13, 'state': 0, 'time': 500}]

    def test_pin_cache_is_a_frozen_dataclass(self):
        pin = PinCache('dev1', 13, PinMode.OUTPUT, PinState.HIGH)
        assert [field.name for field in dataclasses.fields(PinCache)] == ['device_id', 'pin', 'mode', 'state']
        with pytest.raises(dataclasses.FrozenInstanceError):
            pin.state = 0
        assert PinCache.from_info('dev1', protocol.PinInfo(13, 3, 1)) == pin
        assert {pin: 1}[PinCache('dev1', 13, 3, 1)] == 1

    def test_cb_key_matches_with_any(self):
        assert [field.name for field in dataclasses.fields(CbKey)] == ['device_id', 'pin', 'mode', 'state']
        key = CbKey('dev1')
        assert (key.pin, key.mode, key.state) == (ANY, ANY, ANY)
        pin = PinCache('dev1', 13, 3, 1)
        assert key.matches(pin) and CbKey('dev1', 13, state=1).matches(pin) and CbKey(ANY, 13).matches(pin)
        assert not CbKey('dev2').matches(pin) and not CbKey('dev1', 14).matches(pin)
        assert not CbKey('dev1', 13, mode=PinMode.INPUT).matches(pin) and not CbKey('dev1', 13, state=0).matches(pin)
        # The earlier API spelt matching as equality, both ways round.
        assert key == pin and pin == key and CbKey('dev1', 14) != pin
        # Keys compare (and hash) by their fields.
        assert CbKey('dev1', 13) == CbKey('dev1', 13) and CbKey('dev1', 13) != CbKey('dev1')
        assert len({CbKey('dev1', 13), CbKey('dev1', 13), CbKey('dev1')}) == 2
        with pytest.raises(dataclasses.FrozenInstanceError):
            key.pin = 2

    def test_timeout_error_is_every_timeout_error(self):
        exc = DeviceTimeoutError('device dev1 did not confirm pins 5 (set) within 1s', 'dev1', 'set', [5], 1.0)
        assert isinstance(exc, TimeoutError) and isinstance(exc, asyncio.TimeoutError)
        assert str(exc) == 'device dev1 did not confirm pins 5 (set) within 1s'
        assert (exc.device_id, exc.kind, exc.pins, exc.timeout) == ('dev1', 'set', [5], 1.0)

    def test_modules_import_without_aiomqtt(self):
        code = (
            'import sys; sys.modules["aiomqtt"] = None\n'
            f'import {MQTT}.aio_cluster, {MQTT}.lock, {MQTT}.api_types\n'
            'assert sys.modules["aiomqtt"] is None\n'
            'print("imported")\n'
        )
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
        result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == 'imported'


class TestKeyLock:
    def test_original_bug_no_second_holder_after_release(self):
        """A releases while B and C wait, then D arrives while B holds: all four in turn, one lock throughout.

        The earlier library deleted the lock of a key when its holder left, although B and C still
        waited on it: D then made a new lock and ran alongside B."""

        async def scenario():
            keylock = KeyLock()
            order = []
            events = {name: (asyncio.Event(), asyncio.Event()) for name in 'ABCD'}  # (entered, may leave)

            async def holder(name):
                entered, may_leave = events[name]
                async with keylock('dev'):
                    order.append(f'{name} in')
                    entered.set()
                    await may_leave.wait()
                    order.append(f'{name} out')

            tasks = {'A': asyncio.ensure_future(holder('A'))}
            await events['A'][0].wait()
            tasks['B'] = asyncio.ensure_future(holder('B'))
            tasks['C'] = asyncio.ensure_future(holder('C'))
            await asyncio.sleep(0.01)
            assert keylock.locked('dev') and keylock.waiting('dev') == 2
            events['A'][1].set()
            await events['B'][0].wait()
            tasks['D'] = asyncio.ensure_future(holder('D'))
            await asyncio.sleep(0.01)
            assert order == ['A in', 'A out', 'B in'] and keylock.waiting('dev') == 2
            for name in 'BCD':
                events[name][1].set()
            await asyncio.gather(*tasks.values())
            assert order == ['A in', 'A out', 'B in', 'B out', 'C in', 'C out', 'D in', 'D out']
            assert len(keylock) == 0 and 'dev' not in keylock

        asyncio.run(asyncio.wait_for(scenario(), 30))

    def test_stress_200_tasks_with_timeouts_and_cancellations(self):
        async def scenario():
            rng = random.Random(11)
            keylock = KeyLock()
            holders = {'dev0': 0, 'dev1': 0}
            worst = {'dev0': 0, 'dev1': 0}
            outcome = {'held': 0, 'timeout': 0, 'cancelled': 0}

            async def worker(index):
                key = f'dev{index % 2}'
                timeout = rng.choice([None, None, 0.0, 0.002, 0.05, 1.0])
                try:
                    async with keylock(key, timeout=timeout):
                        holders[key] += 1
                        worst[key] = max(worst[key], holders[key])
                        try:
                            assert keylock.locked(key) and key in keylock
                            await asyncio.sleep(rng.choice([0, 0, 0.001, 0.002]))
                            assert keylock.locked(key) and key in keylock
                        finally:
                            holders[key] -= 1
                    outcome['held'] += 1
                except TimeoutError:
                    outcome['timeout'] += 1

            tasks = [asyncio.ensure_future(worker(index)) for index in range(200)]
            await asyncio.sleep(0.005)
            doomed = rng.sample(tasks, 30)
            for task in doomed:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            outcome['cancelled'] = sum(1 for result in results if isinstance(result, asyncio.CancelledError))
            assert not [result for result in results if result is not None and not isinstance(result, asyncio.CancelledError)]
            assert worst == {'dev0': 1, 'dev1': 1}
            assert outcome['held'] + outcome['timeout'] + outcome['cancelled'] == 200
            assert outcome['held'] > 50 and outcome['timeout'] > 0 and outcome['cancelled'] > 0
            assert len(keylock) == 0 and not keylock.locked('dev0') and keylock.waiting('dev1') == 0

        asyncio.run(asyncio.wait_for(scenario(), 30))

    def test_cancelled_just_after_hand_over_passes_the_lock_on(self):
        async def scenario():
            keylock = KeyLock()
            await keylock.acquire('k')
            second = asyncio.ensure_future(keylock.acquire('k'))
            third = asyncio.ensure_future(keylock.acquire('k'))
            await asyncio.sleep(0)
            keylock.release('k')  # handed to `second`, which has not run yet ...
            second.cancel()  # ... and is cancelled before it does
            await asyncio.wait_for(third, 1)
            assert second.cancelled() and keylock.locked('k') and keylock.waiting('k') == 0
            keylock.release('k')
            assert len(keylock) == 0
            with pytest.raises(RuntimeError):
                keylock.release('k')

        asyncio.run(asyncio.wait_for(scenario(), 30))
