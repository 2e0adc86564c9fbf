# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The asyncio DeviceCluster (spec §7, with the weak points of §4 fixed) over aiomqtt, against a real
mosquitto and the virtual devices (no mocks; a spy only records what the client is asked to send)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import re
import time
import uuid

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.aio_cluster import DeviceCluster, DeviceTimeoutError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.api_types import ANY, CbKey, PinCache, PinMode, PinState

aiomqtt = pytest.importorskip('aiomqtt')


def run(coroutine, timeout=60):
    """Run one test scenario on a fresh event loop, bounded."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def make_client(broker, identifier=None):
    kwargs = {'port': broker.port}
    if identifier is not None:
        name = 'identifier' if 'identifier' in inspect.signature(aiomqtt.Client).parameters else 'client_id'
        kwargs[name] = identifier
    return aiomqtt.Client(broker.host, **kwargs)


class Spy:
    """Records what DeviceCluster asks the aiomqtt client to send, in order; ``stuck`` makes a call hang."""

    def __init__(self, client):
        self.events = []
        self.stuck = set()
        publish, subscribe = client.publish, client.subscribe

        async def spy_publish(topic, payload=None, qos=0, *args, **kwargs):
            self.events.append(('publish', topic, qos))
            if 'publish' in self.stuck:
                await asyncio.sleep(3600)
            return await publish(topic, payload, qos, *args, **kwargs)

        async def spy_subscribe(topic, qos=0, *args, **kwargs):
            self.events.append(('subscribe', topic, qos))
            if 'subscribe' in self.stuck:
                await asyncio.sleep(3600)
            granted = await subscribe(topic, qos, *args, **kwargs)
            self.events.append(('suback', topic, granted))
            return granted

        client.publish, client.subscribe = spy_publish, spy_subscribe

    def publishes(self, leaf=None):
        return [event for event in self.events if event[0] == 'publish' and (leaf is None or event[1].endswith('/pin/' + leaf))]


@contextlib.asynccontextmanager
async def started(broker, prefix, identifier=None, spy=False, **kwargs):
    client = make_client(broker, identifier)
    recorder = Spy(client) if spy else None
    cluster = DeviceCluster(client, prefix=prefix, **kwargs)
    async with client:
        await cluster.start()
        try:
            yield cluster, client, recorder
        finally:
            await cluster.stop()


@contextlib.asynccontextmanager
async def message_stream(client):
    """The client's own message iterator: ``client.messages`` (aiomqtt 2.x) or ``client.messages()`` (1.x)."""
    if callable(client.messages):
        async with client.messages() as messages:
            yield messages
    else:
        yield client.messages


async def publish_update(client, prefix, device_id, entries):
    payload = entries if isinstance(entries, bytes) else json.dumps(entries)
    await client.publish(f'{prefix}/{device_id}/pin/update', payload, qos=1)


async def eventually(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def broker_lines(broker, client_id):
    with open(broker.log_path, errors='replace') as handle:
        return [line.split(': ', 1)[-1].strip() for line in handle if client_id in line]


class TestIssueExample:
    def test_config_update_pulse_and_the_reverted_level(self, broker, prefix, fleet_factory):
        fleet = fleet_factory(['device123'], pins=16)

        async def scenario():
            mqtt_client = make_client(broker)
            cluster = DeviceCluster(mqtt_client, prefix=prefix)
            async with mqtt_client:
                await cluster.start()
                confirmed = await cluster.config_pins(device_id='device123', pins=[{'pin': 13, 'mode': PinMode.OUTPUT, 'state': PinState.HIGH}])
                assert confirmed == [PinCache('device123', 13, PinMode.OUTPUT, PinState.HIGH)]
                updates = await cluster.update(device_id='device123', pins=[13, 14], timeout=5)
                assert updates == [PinCache('device123', 13, 3, 1), PinCache('device123', 14, PinMode.PIN_DISABLED, 0)]
                updates = await cluster.set_pins(device_id='device123', pins=[{'pin': 13, 'state': PinState.LOW, 'time': 200}])
                assert updates == [PinCache('device123', 13, 3, PinState.LOW)]
                await asyncio.sleep(0.25)
                # The device reports the revert unasked; the cache follows it.
                assert await eventually(lambda: cluster.pins['device123'][13].state == PinState.HIGH)
                updates = await cluster.update(device_id='device123', pins=[13, 14], timeout=5)
                assert updates[0] == PinCache('device123', 13, 3, PinState.HIGH)
                assert cluster.pins['device123'][13] == PinCache('device123', 13, 3, 1)
                assert await cluster.config_pins(device_id='device123', pins=[{'pin': 2, 'mode': PinMode.INPUT}], timeout=None) is None
                await cluster.stop()

        run(scenario())
        assert fleet.pins('device123')[13].state == 1 and [kind for kind, _entries in fleet.devices['device123'].requests] == [
            'config',
            'get',
            'set',
            'get',
            'config',
        ]

    def test_pulse_confirmed_by_the_reverted_level_alone(self, broker, prefix):
        """2024 firmware reports only after the revert: the pulse is confirmed by the opposite level, a plain set is not."""

        async def scenario():
            async with started(broker, prefix, spy=True) as (cluster, client, spy):

                async def answer_revert_only():
                    await eventually(lambda: spy.publishes('set'))
                    spy.events.clear()
                    await publish_update(client, prefix, 'fw2024', [{'pin': 5, 'mode': 3, 'state': 1}])

                helper = asyncio.ensure_future(answer_revert_only())
                assert await cluster.set_pins('fw2024', [{'pin': 5, 'state': PinState.LOW, 'time': 100}], timeout=3) == [PinCache('fw2024', 5, 3, 1)]
                await helper
                helper = asyncio.ensure_future(answer_revert_only())
                with pytest.raises(DeviceTimeoutError, match=r'device fw2024 did not confirm pins 5 \(set\)'):
                    await cluster.set_pins('fw2024', [{'pin': 5, 'state': PinState.LOW}], timeout=0.5)
                await helper

        run(scenario())


class TestCache:
    def test_unsolicited_updates_refresh_the_cache_and_callbacks(self, broker, prefix, fleet_factory):
        fleet = fleet_factory(['dev1'])

        async def scenario():
            async with started(broker, prefix) as (cluster, client, _spy):
                seen, seen_async = [], []
                cluster.add_update_callback(seen.extend)

                async def on_update(pins):
                    seen_async.extend(pins)

                cluster.add_update_callback(on_update)
                await cluster.config_pins('dev1', [{'pin': 2, 'mode': PinMode.INPUT}])
                assert cluster.pins['dev1'][2] == PinCache('dev1', 2, PinMode.INPUT, 0)
                fleet.set_input('dev1', 2, 1)  # no request is waiting
                assert await eventually(lambda: cluster.pins['dev1'][2].state == 1)
                await publish_update(client, prefix, 'stranger', [{'pin': 7, 'mode': 5, 'state': 1}])
                assert await eventually(lambda: 'stranger' in cluster.pins)
                assert cluster.pins['stranger'] == {7: PinCache('stranger', 7, PinMode.INPUT_PULLUP, 1)}
                assert await eventually(lambda: len(seen_async) == 3)
                assert seen == seen_async == [PinCache('dev1', 2, 1, 0), PinCache('dev1', 2, 1, 1), PinCache('stranger', 7, 5, 1)]
                cluster.remove_update_callback(on_update)
                with pytest.raises(ValueError):
                    cluster.remove_update_callback(on_update)

        run(scenario())

    def test_bad_updates_ignored_and_counted_connection_survives(self, broker, prefix):
        async def scenario():
            async with started(broker, prefix, max_payload=1024) as (cluster, client, _spy):

                def failing(_pins):
                    raise RuntimeError('callback bug')

                cluster.add_update_callback(failing)
                for payload in (b'not json', b'\xff\xfe', b'{"pin": 1}', b'[{"pin": 1, "mode": 3, "state": 7}]', b'[' + b' ' * 2000 + b']'):
                    await publish_update(client, prefix, 'devx', payload)
                await publish_update(client, prefix, 'devx', [{'pin': 1, 'mode': 3, 'state': 1}])
                assert await eventually(lambda: 'devx' in cluster.pins)
                assert cluster.stats['ignored_not_json'] == 1 and cluster.stats['ignored_not_utf8'] == 1
                assert cluster.stats['ignored_malformed'] == 2 and cluster.stats['ignored_oversized'] == 1
                assert cluster.stats['updates'] == 1 and cluster.stats['callback_errors'] == 1

        run(scenario())

    def test_updates_do_not_enter_the_clients_message_queue(self, broker, prefix, fleet_factory):
        fleet_factory(['dev1'])

        async def scenario():
            async with started(broker, prefix) as (cluster, client, _spy):
                await client.subscribe(f'{prefix}/mine', qos=1)
                received = []

                async def consume():
                    async with message_stream(client) as messages:
                        async for message in messages:
                            received.append(str(message.topic))

                consumer = asyncio.ensure_future(consume())
                await cluster.update('dev1', [0, 1])
                await client.publish(f'{prefix}/mine', b'hello', qos=1)
                assert await eventually(lambda: received)
                await cluster.update('dev1', [0, 1])
                await asyncio.sleep(0.1)
                consumer.cancel()
                assert received == [f'{prefix}/mine']

        run(scenario())


class TestUpdateWaitsForEveryPin:
    def test_answer_in_two_messages(self, broker, prefix, fleet_factory):
        fleet_factory(['dev1'], split=['dev1'], reply_gap_ms=150)

        async def scenario():
            async with started(broker, prefix) as (cluster, _client, _spy):
                messages = []
                cluster.add_update_callback(messages.append)
                started_at = time.monotonic()
                updates = await cluster.update('dev1', [0, 1, 2, 3])
                assert [pin.pin for pin in updates] == [0, 1, 2, 3] and time.monotonic() - started_at >= 0.14
                assert [[pin.pin for pin in message] for message in messages] == [[0, 1], [2, 3]]
                confirmed = await cluster.config_pins('dev1', [{'pin': pin, 'mode': PinMode.OUTPUT, 'state': 1} for pin in (4, 5, 6, 7)])
                assert [(pin.pin, pin.mode, pin.state) for pin in confirmed] == [(pin, 3, 1) for pin in (4, 5, 6, 7)]
                every = await cluster.update('dev1')  # every pin: collected until the device is quiet
                assert [pin.pin for pin in every] == list(range(8))

        run(scenario())

    def test_unrelated_update_first_is_not_the_answer(self, broker, prefix, fleet_factory):
        fleet_factory(['dev2'], noisy=['dev2'], reply_gap_ms=100)

        async def scenario():
            async with started(broker, prefix) as (cluster, _client, _spy):
                messages = []
                cluster.add_update_callback(messages.append)
                updates = await cluster.update('dev2', [0, 1])
                assert [pin.pin for pin in updates] == [0, 1]
                assert [[pin.pin for pin in message] for message in messages] == [[7], [0, 1]]

        run(scenario())


class TestTimeouts:
    def test_refused_and_silent_pins_are_named(self, broker, prefix, fleet_factory):
        fleet_factory(['dev1', 'mute'], refuse={'dev1': [5]}, silent=['mute'])

        async def scenario():
            async with started(broker, prefix) as (cluster, _client, _spy):
                started_at = time.monotonic()
                with pytest.raises(TimeoutError, match=r'^device dev1 did not confirm pins 5 \(config\) within 0\.5s$') as info:
                    await cluster.config_pins('dev1', [{'pin': 4, 'mode': PinMode.OUTPUT}, {'pin': 5, 'mode': PinMode.OUTPUT}], timeout=0.5)
                assert 0.45 < time.monotonic() - started_at < 3.0
                assert (info.value.device_id, info.value.kind, info.value.pins) == ('dev1', 'config', [5])
                assert cluster.pins['dev1'][4] == PinCache('dev1', 4, 3, 0)
                with pytest.raises(DeviceTimeoutError, match=r'device dev1 did not confirm pins 3 \(set\)'):
                    await cluster.set_pins('dev1', [{'pin': 3, 'state': 1}], timeout=0.3)  # pin 3 is no output
                with pytest.raises(DeviceTimeoutError, match=r'device mute did not confirm pins 1, 2 \(get\)') as info:
                    await cluster.update('mute', [2, 1], timeout=0.3)
                assert info.value.pins == [1, 2] and isinstance(info.value, asyncio.TimeoutError)
                with pytest.raises(DeviceTimeoutError, match='device mute did not answer the get request of every pin'):
                    await cluster.update('mute', timeout=0.3)
                with pytest.raises(DeviceTimeoutError, match='no update matched'):
                    await cluster.wait_for([CbKey('mute', 1)], timeout=0.2)

        run(scenario())

    def test_timeout_covers_the_wait_for_the_device_lock(self, broker, prefix, fleet_factory):
        fleet_factory(['mute'], silent=['mute'])

        async def scenario():
            async with started(broker, prefix, spy=True) as (cluster, _client, spy):
                first = asyncio.ensure_future(cluster.update('mute', [1], timeout=3.0))
                await eventually(lambda: spy.publishes('get'))
                started_at = time.monotonic()
                with pytest.raises(DeviceTimeoutError, match=r'get request to device mute not sent: an earlier request'):
                    await cluster.update('mute', [2], timeout=0.3)
                assert time.monotonic() - started_at < 2.0 and len(spy.publishes('get')) == 1
                with pytest.raises(DeviceTimeoutError, match='pins 1'):
                    await first
                assert len(cluster.key_lock) == 0

        run(scenario())

    def test_broker_acknowledgements_are_bounded(self, broker, prefix):
        async def scenario():
            client = make_client(broker)
            spy = Spy(client)
            cluster = DeviceCluster(client, prefix=prefix, operation_timeout=0.3)
            async with client:
                with pytest.raises(RuntimeError, match='not started'):
                    await cluster.update('dev1', [1])
                spy.stuck.add('subscribe')
                with pytest.raises(DeviceTimeoutError, match='did not acknowledge the subscription'):
                    await cluster.start()
                spy.stuck.clear()
                await cluster.start()
                spy.stuck.add('publish')
                with pytest.raises(DeviceTimeoutError, match='did not acknowledge the set request to device dev1 within 0.4s'):
                    await cluster.set_pins('dev1', [{'pin': 1, 'state': 1}], timeout=0.4)
                with pytest.raises(DeviceTimeoutError, match='did not acknowledge the config request'):
                    await cluster.config_pins('dev1', [{'pin': 1, 'mode': 3}], timeout=None)  # bounded by operation_timeout
                assert len(cluster.key_lock) == 0
                await cluster.stop()

        run(scenario())


class TestSerialisation:
    def test_200_concurrent_requests_to_one_device(self, broker, prefix, fleet_factory):
        fleet = fleet_factory(['dev1'])

        async def scenario():
            async with started(broker, prefix, spy=True) as (cluster, client, spy):
                await cluster.config_pins('dev1', [{'pin': pin, 'mode': PinMode.OUTPUT} for pin in range(8)])
                state = {'open': 0, 'worst': 0, 'lock_held_at_publish': True}
                publish = client.publish

                async def watched_publish(topic, *args, **kwargs):
                    state['open'] += 1  # requests between their publish and their confirmation
                    state['worst'] = max(state['worst'], state['open'])
                    state['lock_held_at_publish'] &= cluster.key_lock.locked('dev1') and 'dev1' in cluster.key_lock
                    return await publish(topic, *args, **kwargs)

                client.publish = watched_publish

                async def one(index):
                    result = await cluster.set_pins('dev1', [{'pin': index % 8, 'state': (index // 8) % 2}], timeout=60)
                    state['open'] -= 1
                    return result

                started_at = time.monotonic()
                results = await asyncio.gather(*[one(index) for index in range(200)])
                elapsed = time.monotonic() - started_at
                assert results == [[PinCache('dev1', index % 8, 3, (index // 8) % 2)] for index in range(200)]
                assert state == {'open': 0, 'worst': 1, 'lock_held_at_publish': True}
                assert len(cluster.key_lock) == 0 and len(spy.publishes('set')) == 200
                print(f'200 serialised set requests to one device in {elapsed:.2f}s')

        run(scenario())
        sets = [entries for kind, entries in fleet.devices['dev1'].requests if kind == 'set']
        assert [entry[0]['pin'] for entry in sets] == [index % 8 for index in range(200)]

    def test_different_devices_run_in_parallel(self, broker, prefix, fleet_factory):
        ids = [f'dev{index:02d}' for index in range(20)]
        fleet_factory(ids, split=ids, reply_gap_ms=200)

        async def scenario():
            async with started(broker, prefix) as (cluster, _client, _spy):
                started_at = time.monotonic()
                results = await asyncio.gather(*[cluster.update(device_id, [0, 1]) for device_id in ids])
                assert [[pin.pin for pin in result] for result in results] == [[0, 1]] * 20
                assert time.monotonic() - started_at < 3.0  # 20 answers of 200 ms each, not 4 s one after the other

        run(scenario())

    def test_window_bounds_requests_in_flight_over_all_devices(self, broker, prefix, fleet_factory):
        ids = [f'dev{index:02d}' for index in range(20)]
        fleet_factory(ids, split=ids, reply_gap_ms=100)

        async def scenario():
            client = make_client(broker)
            spy = Spy(client)
            cluster = DeviceCluster(client, prefix=prefix, window=4)
            async with client:
                await cluster.start()
                state = {'open': 0, 'worst': 0}
                publish = client.publish

                async def counted_publish(*args, **kwargs):
                    state['open'] += 1
                    state['worst'] = max(state['worst'], state['open'])
                    return await publish(*args, **kwargs)

                client.publish = counted_publish

                async def one(device_id):
                    try:
                        return await cluster.update(device_id, [0, 1])
                    finally:
                        state['open'] -= 1

                started_at = time.monotonic()
                results = await asyncio.gather(*[one(device_id) for device_id in ids])
                assert [[pin.pin for pin in result] for result in results] == [[0, 1]] * 20
                assert state['worst'] == 4 and time.monotonic() - started_at >= 0.45  # 5 rounds of 4
                # Four requests to devices that never answer hold the whole window.
                blockers = [asyncio.ensure_future(cluster.update(f'mute{index}', [1], timeout=2)) for index in range(4)]
                await eventually(lambda: len(spy.publishes('get')) == 20 + 4)
                with pytest.raises(DeviceTimeoutError, match=r'get request to device dev00 not sent: 4 requests were still in flight after 0.3s \(pins 0\)'):
                    await cluster.update('dev00', [0], timeout=0.3)
                for task in blockers:
                    with pytest.raises(DeviceTimeoutError):
                        await task
                await cluster.stop()

        run(scenario())


class TestWire:
    def test_suback_before_the_first_request_and_qos_1(self, broker, prefix, fleet_factory):
        fleet_factory(['dev1'])
        client_id = f'aio-{uuid.uuid4().hex[:12]}'

        async def scenario():
            async with started(broker, prefix, identifier=client_id, spy=True) as (cluster, client, spy):
                assert cluster.subscription_qos == 1
                await cluster.update('dev1', [0])
                await cluster.config_pins('dev1', [{'pin': 0, 'mode': PinMode.OUTPUT}])
                await cluster.set_pins('dev1', [{'pin': 0, 'state': 1, 'time': 50}])
                await cluster.send(f'{prefix}/dev1/pin/get', '[1]', [CbKey('dev1', 1, mode=ANY)], timeout=5)
                assert await cluster.send(f'{prefix}/dev1/pin/get', '[2]') is None
                await cluster.start()  # again (as after a reconnection): subscribes and waits for the SUBACK again
                kinds = [event[0] for event in spy.events]
                assert kinds[:2] == ['subscribe', 'suback'] and kinds[2:7] == ['publish'] * 5 and kinds[7:] == ['subscribe', 'suback']
                assert {event[2] for event in spy.events if event[0] in ('subscribe', 'publish')} == {1}

        run(scenario())
        lines = broker_lines(broker, client_id)
        subscribe_at = lines.index(f'Received SUBSCRIBE from {client_id}')
        suback_at = lines.index(f'Sending SUBACK to {client_id}')
        publishes = [index for index, line in enumerate(lines) if line.startswith(f'Received PUBLISH from {client_id}')]
        assert len(publishes) == 5 and subscribe_at < suback_at < publishes[0]
        assert all(re.search(r'\(d0, q1, r0, m\d+, ', lines[index]) for index in publishes)

    def test_tcp_nodelay_on_the_client_socket(self, broker, prefix):
        import socket

        async def scenario():
            async with started(broker, prefix) as (_cluster, client, _spy):
                sock = client._client.socket()  # pylint: disable=protected-access
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0

        run(scenario())

    def test_bad_arguments_raise_before_anything_is_sent(self, broker, prefix):
        async def scenario():
            async with started(broker, prefix, spy=True) as (cluster, _client, spy):
                for call in (
                    cluster.update('dev/1', [1]),
                    cluster.update('dev1', [1, 1]),
                    cluster.set_pins('dev1', []),
                    cluster.set_pins('dev1', [{'pin': 1, 'state': 2}]),
                    cluster.config_pins('dev1', [{'pin': -1, 'mode': 3}]),
                    cluster.send(f'{prefix}/dev1/pin/get', '[]', timeout=1),
                ):
                    with pytest.raises(ValueError):
                        await call
                assert spy.publishes() == [] and len(cluster.key_lock) == 0

        run(scenario())
