# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Virtual devices speaking the MQTT device-cluster pin protocol, for trying playbooks and for tests.

Any number of devices share one paho connection. Each device answers ``config``, ``set`` and
``get`` with an ``update`` exactly as the protocol says; pulses (``set`` with ``time``) report the
commanded level at once and the opposite level after ``time`` ms. Requests a device refuses
(unknown pin, ``set`` on a pin that is not an output, a pin listed with ``--refuse``) get no
reply for that pin. A ``--silent`` device never answers anything.

Two behaviours of real devices that a client must cope with can be switched on per device: a
``--split`` device answers in two updates (``--reply-gap-ms`` apart), as firmware with a small
send buffer does; a ``--noisy`` device publishes an unsolicited update of its last pin (as if an
input changed) just before each answer, which follows ``--reply-gap-ms`` later.

Run it against your own broker (the directory holding ``ansible_collections/`` must be on
``PYTHONPATH``, for example ``~/.ansible/collections`` after ``ansible-galaxy collection install``)::

    PYTHONPATH=~/.ansible/collections python3 -m \\
        ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.virtual_devices \\
        --host 127.0.0.1 --port 1883 --count 50 --pins 8 --silent dev007 --refuse dev003:5

In Python (tests)::

    fleet = VirtualDeviceFleet(ConnectionOptions(host='127.0.0.1', port=port), ['dev000', 'dev001'], pins=8)
    fleet.start()
    ...
    fleet.stop()
"""

from __future__ import annotations

import argparse
import functools
import heapq
import itertools
import json
import queue
import signal
import sys
import threading
import time

from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import (
    HAS_PAHO,
    PAHO_INSTALL_HINT,
    ConnectionOptions,
    MqttConnection,
    MqttError,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import (
    DEFAULT_PREFIX,
    OUTPUT_MODES,
    PayloadError,
    PinInfo,
    PinMode,
    Topics,
    decode_command,
    encode_update,
    parse_mode,
    validate_device_id,
)


def _input_level(mode):
    """What an unconnected input reads: pull-ups read high, everything else low."""
    return 1 if mode == int(PinMode.INPUT_PULLUP) else 0


class VirtualDevice:
    """State of one virtual device: ``{pin: [mode, state]}``, refused pins, silence, split or noisy answers."""

    def __init__(self, device_id, pins=8, initial_mode=PinMode.DISABLED, refuse=(), silent=False, split=False, noisy=False):
        self.device_id = validate_device_id(device_id)
        numbers = range(pins) if isinstance(pins, int) else pins
        mode = parse_mode(initial_mode)
        self.pins = dict((int(pin), [mode, _input_level(mode) if mode not in OUTPUT_MODES else 0]) for pin in numbers)
        self.refuse = set(int(pin) for pin in refuse)
        self.silent = silent
        self.split = split
        self.noisy = noisy
        self.pulse_tokens = {}
        self.requests = []

    def known(self, pin):
        return pin in self.pins and pin not in self.refuse

    def info(self, pin):
        mode, state = self.pins[pin]
        return PinInfo(pin, mode, state)

    def snapshot(self):
        return dict((pin, self.info(pin)) for pin in sorted(self.pins))


class VirtualDeviceFleet:
    """Many virtual devices on one MQTT connection; ``start()`` / ``stop()``.

    ``pins``: number of pins (0..n-1) or a list of pin numbers. ``refuse``: ``{device_id: [pins]}``.
    ``silent``: device ids that never answer. ``split``: device ids that answer in two updates,
    ``reply_gap_ms`` apart. ``noisy``: device ids that publish an unsolicited update of their last
    pin before each answer, which follows ``reply_gap_ms`` later. All handling happens on a worker
    thread; the paho callback only enqueues.
    """

    def __init__(
        self,
        options,
        device_ids,
        pins=8,
        prefix=DEFAULT_PREFIX,
        initial_mode=PinMode.DISABLED,
        silent=(),
        refuse=None,
        announce=False,
        split=(),
        noisy=(),
        reply_gap_ms=50,
    ):
        self.options = options
        self.topics = Topics(prefix)
        refuse = refuse or {}
        silent, split, noisy = set(silent), set(split), set(noisy)
        self.devices = {
            device_id: VirtualDevice(
                device_id, pins, initial_mode, refuse.get(device_id, ()), device_id in silent, split=device_id in split, noisy=device_id in noisy
            )
            for device_id in device_ids
        }
        unknown = (silent | split | noisy | set(refuse)) - set(self.devices)
        if unknown:
            raise ValueError(f'--silent/--refuse/--split/--noisy name devices that are not served: {", ".join(sorted(unknown))}')
        if not 0 <= reply_gap_ms <= 60000:
            raise ValueError(f'--reply-gap-ms must be between 0 and 60000, got {reply_gap_ms}')
        self.reply_gap = reply_gap_ms / 1000.0
        self.announce = announce
        self.stats = {'received': 0, 'ignored': 0, 'updates': 0}
        self._queue = queue.Queue()
        self._timers = []
        self._timer_seq = itertools.count()
        self._pulse_tokens = itertools.count(1)
        self._worker = None
        self._lock = threading.Lock()
        self.connection = None

    # paho network thread: enqueue only.
    def _feed(self, topic, payload):
        self._queue.put(('msg', topic, payload))

    def start(self, timeout=10.0):
        self.connection = MqttConnection(self.options, on_message=self._feed)
        self.connection.connect()
        try:
            self.connection.subscribe([f'{self.topics.prefix}/+/pin/{leaf}' for leaf in ('config', 'set', 'get')], timeout)
        except MqttError:
            self.connection.close()
            raise
        self._worker = threading.Thread(target=self._run, name='virtual-devices')
        self._worker.daemon = True
        self._worker.start()
        if self.announce:
            for device in self.devices.values():
                if not device.silent:
                    self._queue.put(('announce', device.device_id))
        return self

    def stop(self):
        if self._worker is not None:
            self._queue.put(('stop',))
            self._worker.join(5)
            self._worker = None
        if self.connection is not None:
            self.connection.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def device_ids(self):
        return sorted(self.devices)

    def pins(self, device_id):
        """Current ``{pin: PinInfo}`` of one device (for tests)."""
        with self._lock:
            return self.devices[device_id].snapshot()

    def set_input(self, device_id, pin, state):
        """Simulate an input changing level: the device publishes an unsolicited update."""
        self._queue.put(('input', device_id, pin, state))

    # -- worker thread ----------------------------------------------------------------------------------

    def _run(self):
        while True:
            timeout = None
            if self._timers:
                timeout = max(0.0, self._timers[0][0] - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is not None:
                if item[0] == 'stop':
                    return
                try:
                    self._handle(item)
                except Exception:  # pylint: disable=broad-except
                    self.stats['ignored'] += 1
            self._fire_timers()

    def _handle(self, item):
        if item[0] == 'announce':
            device = self.devices[item[1]]
            with self._lock:
                infos = [device.info(pin) for pin in sorted(device.pins) if device.known(pin)]
            self._publish(device, infos)
            return
        if item[0] == 'input':
            device = self.devices[item[1]]
            with self._lock:
                if not device.known(item[2]):
                    return
                device.pins[item[2]][1] = int(item[3])
                infos = [device.info(item[2])]
            self._publish(device, infos)
            return
        topic, payload = item[1], item[2]
        parsed = self.topics.parse(topic)
        if parsed is None or parsed[0] not in self.devices:
            return
        device_id, kind = parsed
        device = self.devices[device_id]
        self.stats['received'] += 1
        try:
            entries = decode_command(kind, payload)
        except PayloadError:
            self.stats['ignored'] += 1
            return
        device.requests.append((kind, entries))
        if device.silent:
            return
        with self._lock:
            infos = getattr(self, '_do_' + kind)(device, entries)
            noise = [device.info(max(pin for pin in device.pins if device.known(pin)))] if device.noisy and infos else []
        self._answer(device, infos, noise)

    def _answer(self, device, infos, noise):
        """Publish an answer: at once, or after an unsolicited update (noisy), or in two parts (split)."""
        if noise:
            self._publish(device, noise)
            self._schedule(self.reply_gap, functools.partial(self._answer, device, infos, []))
            return
        if device.split and len(infos) > 1:
            half = len(infos) // 2
            self._publish(device, infos[:half])
            self._schedule(self.reply_gap, functools.partial(self._publish, device, infos[half:]))
            return
        self._publish(device, infos)

    def _do_config(self, device, entries):
        infos = []
        for entry in entries:
            pin = entry['pin']
            if not device.known(pin):
                continue
            mode = entry['mode']
            device.pulse_tokens.pop(pin, None)
            current = device.pins[pin]
            if mode in OUTPUT_MODES:
                if current[0] not in OUTPUT_MODES:
                    current[1] = 0
                if entry.get('state') is not None:
                    current[1] = entry['state']
            else:
                current[1] = _input_level(mode)
            current[0] = mode
            infos.append(device.info(pin))
        return infos

    def _do_set(self, device, entries):
        infos = []
        for entry in entries:
            pin = entry['pin']
            if not device.known(pin) or device.pins[pin][0] not in OUTPUT_MODES:
                continue  # refused: no update for this pin
            device.pins[pin][1] = entry['state']
            device.pulse_tokens.pop(pin, None)
            duration = entry.get('time')
            if duration:
                token = next(self._pulse_tokens)
                device.pulse_tokens[pin] = token
                self._schedule(duration / 1000.0, functools.partial(self._end_pulse, device, pin, 1 - entry['state'], token))
            infos.append(device.info(pin))
        return infos

    def _do_get(self, device, entries):
        pins = entries or sorted(device.pins)
        return [device.info(pin) for pin in pins if device.known(pin)]

    def _schedule(self, delay, action):
        """Run ``action()`` on the worker thread ``delay`` seconds from now."""
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._timer_seq), action))

    def _fire_timers(self):
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _due, _seq, action = heapq.heappop(self._timers)
            action()

    def _end_pulse(self, device, pin, level, token):
        with self._lock:
            if device.pulse_tokens.get(pin) != token:
                return  # superseded by a later config/set
            del device.pulse_tokens[pin]
            device.pins[pin][1] = level
            infos = [device.info(pin)]
        self._publish(device, infos)

    def _publish(self, device, infos):
        if not infos or device.silent:
            return
        self.stats['updates'] += 1
        try:
            self.connection.publish(self.topics.update(device.device_id), encode_update(infos))
        except MqttError:
            self.stats['ignored'] += 1


def _parse_refuse(values):
    refuse = {}
    for value in values or ():
        device_id, sep, pins = value.partition(':')
        if not sep or not pins:
            raise argparse.ArgumentTypeError(f'--refuse expects DEVICE:PIN[,PIN...], got {value!r}')
        refuse.setdefault(device_id, []).extend(int(pin) for pin in pins.split(','))
    return refuse


def build_parser():
    parser = argparse.ArgumentParser(
        prog='python3 -m ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.virtual_devices',
        description='Serve virtual MQTT pin devices (device-cluster protocol) on a broker until interrupted.',
    )
    parser.add_argument('--host', default='127.0.0.1', help='broker host (default: %(default)s)')
    parser.add_argument('--port', type=int, default=None, help='broker port (default: 1883, or 8883 with TLS)')
    parser.add_argument('--count', type=int, default=3, help='number of devices (default: %(default)s)')
    parser.add_argument('--pins', type=int, default=8, help='pins per device, numbered from 0 (default: %(default)s)')
    parser.add_argument('--prefix', default=DEFAULT_PREFIX, help='topic prefix (default: %(default)s)')
    parser.add_argument('--id-format', default='dev{:03d}', help='device id format, given the index (default: %(default)s)')
    parser.add_argument('--ids', nargs='+', default=None, help='explicit device ids (instead of --count/--id-format)')
    parser.add_argument('--initial-mode', default='disabled', help='mode every pin starts in (default: %(default)s)')
    parser.add_argument('--silent', action='append', default=[], metavar='DEVICE', help='a device that never answers (repeatable)')
    parser.add_argument(
        '--refuse', action='append', default=[], metavar='DEVICE:PIN[,PIN]', help='pins a device refuses, as if they did not exist (repeatable)'
    )
    parser.add_argument('--split', action='append', default=[], metavar='DEVICE', help='a device that answers every request in two updates (repeatable)')
    parser.add_argument(
        '--noisy',
        action='append',
        default=[],
        metavar='DEVICE',
        help='a device that publishes an unsolicited update of its last pin before each answer (repeatable)',
    )
    parser.add_argument(
        '--reply-gap-ms', type=int, default=50, help='milliseconds between the parts of a split answer, or the noise and the answer (default: %(default)s)'
    )
    parser.add_argument('--announce', action='store_true', help='publish every pin once at start, like a device booting')
    parser.add_argument('--username')
    parser.add_argument('--password')
    parser.add_argument('--client-id', default=None, help='client id (default: random)')
    parser.add_argument('--protocol', choices=['3.1.1', '5'], default='3.1.1')
    parser.add_argument('--tls', action='store_true', help='use TLS (implied by --tls-ca)')
    parser.add_argument('--tls-ca', help='CA certificate file to verify the broker')
    parser.add_argument('--tls-cert', help='client certificate file')
    parser.add_argument('--tls-key', help='client key file')
    parser.add_argument('--tls-no-hostname-check', action='store_true', help='do not check the broker certificate host name')
    parser.add_argument('--duration', type=float, default=None, help='exit after this many seconds (default: run until interrupted)')
    parser.add_argument('--ready-file', default=None, help='write the served device ids (JSON) to this file once subscribed')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not HAS_PAHO:
        sys.stderr.write(f'paho-mqtt is required. {PAHO_INSTALL_HINT}\n')
        return 2
    ids = args.ids or [args.id_format.format(index) for index in range(args.count)]
    options = ConnectionOptions(
        host=args.host,
        port=args.port,
        username=args.username,
        password=args.password,
        client_id=args.client_id,
        tls=args.tls,
        ca_cert=args.tls_ca,
        client_cert=args.tls_cert,
        client_key=args.tls_key,
        check_hostname=not args.tls_no_hostname_check,
        protocol=args.protocol,
    )
    try:
        fleet = VirtualDeviceFleet(
            options,
            ids,
            pins=args.pins,
            prefix=args.prefix,
            initial_mode=args.initial_mode,
            silent=args.silent,
            refuse=_parse_refuse(args.refuse),
            announce=args.announce,
            split=args.split,
            noisy=args.noisy,
            reply_gap_ms=args.reply_gap_ms,
        )
        fleet.start()
    except (MqttError, ValueError, argparse.ArgumentTypeError) as exc:
        sys.stderr.write(f'virtual devices: {exc}\n')
        return 1
    stop = threading.Event()

    def _stop(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sys.stdout.write('serving %d virtual devices with %d pins on %s, prefix %s: %s\n' % (len(ids), args.pins, options.address, args.prefix, ' '.join(ids)))
    sys.stdout.flush()
    if args.ready_file:
        with open(args.ready_file, 'w') as handle:
            json.dump({'devices': ids, 'prefix': args.prefix, 'host': args.host, 'port': options.port}, handle)
    stop.wait(args.duration)
    fleet.stop()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
