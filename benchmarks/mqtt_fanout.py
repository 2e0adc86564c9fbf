# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark 3: MQTT fan-out on a local mosquitto with virtual devices.

Every device starts with its 8 pins disabled and is converged to 8 outputs driven high: one
``get`` and one ``config`` request per device. The converge runs the mqtt_pins module's own
code (parse_devices + PinConverger on a DeviceCluster) in this process, so the time, the
request round trips (publish to confirming update, seen by the dispatcher) and the peak Python
memory (tracemalloc) are those of the module's work. For 200 devices the real module is also
run as a process (``python -m ...mqtt_pins args.json``): wall time from exec to exit, including
the interpreter, imports and connecting, and its peak RSS.

The devices (VirtualDeviceFleet) run in another process, on their own connection. The baseline
is the same converge with one outstanding request at a time (max_outstanding 1).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ROOT, ensure_collection_importable, percentile, save, table  # noqa: E402

ensure_collection_importable()

from ansible_collections.picluster.clusterctrl.plugins.module_utils._mqtt_pin_converger import PinConverger, parse_devices  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.connection import ConnectionOptions  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.device_cluster import DeviceCluster  # noqa: E402

FLEET = 'ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.virtual_devices'
MODULE = 'ansible_collections.picluster.clusterctrl.plugins.modules.mqtt_pins'
PINS = 8
LATENCY_MS = 5  # simulated device answer time for the "real network" rows


class TimedCluster(DeviceCluster):
    """DeviceCluster that records each request's round trip: publish -> the update that completes it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent_at = {}
        self.rtts = []
        self._scheduler_send = self.scheduler._send
        self.scheduler._send = self._send

    def _send(self, request):
        self.sent_at[id(request)] = time.perf_counter()
        self._scheduler_send(request)

    def _handle_message(self, seq, topic, payload):
        super()._handle_message(seq, topic, payload)
        now = time.perf_counter()
        with self.scheduler._cond:
            for request in self.scheduler._active.values():
                start = self.sent_at.pop(id(request), None) if request.status == 'done' else None
                if start is not None:
                    self.rtts.append((now - start) * 1000.0)


class FakeModule:
    def __init__(self):
        self.params = {'total_timeout': 60.0}
        self.check_mode = False


def device_ids(prefix, count):
    return ['%s_%04d' % (prefix, index) for index in range(count)]


def start_fleet(host, port, prefix, count, work, latency_ms=0):
    ready = os.path.join(work, prefix + '.ready')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    runner = ['-m', FLEET] if not latency_ms else [os.path.join(os.path.dirname(os.path.abspath(__file__)), 'latency_fleet.py'), str(latency_ms)]
    command = [sys.executable] + runner + ['--host', host, '--port', str(port), '--prefix', prefix, '--pins', str(PINS), '--ids']
    command += device_ids(prefix, count) + ['--ready-file', ready]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 30
    while not os.path.exists(ready):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f'virtual devices did not start: {proc.stderr.read().decode()}')
        time.sleep(0.02)
    return proc


def stop_fleet(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def devices_param(prefix, count):
    pins = [{'pin': pin, 'mode': 'output', 'state': 'high', 'pulse_ms': None} for pin in range(PINS)]
    return [{'id': device_id, 'pins': pins} for device_id in device_ids(prefix, count)]


def converge_in_process(host, port, prefix, count, window, trace_memory=False):
    plan, errors = parse_devices(devices_param(prefix, count))
    assert not errors, errors
    options = ConnectionOptions(host=host, port=port)
    cluster = TimedCluster.connect(options, prefix=prefix, timeout=10.0, window=window)
    try:
        converger = PinConverger(FakeModule(), cluster, plan)
        if trace_memory:  # tracemalloc slows every allocation: its runs are not timed
            tracemalloc.start()
        start = time.perf_counter()
        converger.run()
        report = converger.report()
        elapsed = time.perf_counter() - start
        peak = None
        if trace_memory:
            peak = tracemalloc.get_traced_memory()[1] // 1024
            tracemalloc.stop()
    finally:
        cluster.stop()
    failed = sorted(converger.failed)
    changed = sum(1 for device in report.values() if device['changed'])
    rtts = cluster.rtts
    return dict(
        devices=count,
        window=window,
        seconds=elapsed,
        requests=len(rtts),
        failed=len(failed),
        changed=changed,
        p50_ms=percentile(rtts, 0.50) if rtts else None,
        p99_ms=percentile(rtts, 0.99) if rtts else None,
        tracemalloc_peak_kib=peak,
    )


def converge_module_process(host, port, prefix, count, work):
    """The real module in its own interpreter: exec-to-exit wall time and peak RSS (wait4)."""
    args = {
        'ANSIBLE_MODULE_ARGS': {
            'host': host,
            'port': port,
            'topic_prefix': prefix,
            'devices': [
                {'id': device['id'], 'pins': [{'pin': p['pin'], 'mode': 'output', 'state': 'high'} for p in device['pins']]}
                for device in devices_param(prefix, count)
            ],
        }
    }
    path = os.path.join(work, prefix + '.args.json')
    with open(path, 'w') as handle:
        json.dump(args, handle)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, '-m', MODULE, path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = proc.stdout.read()
    _pid, _status, usage = os.wait4(proc.pid, 0)  # this process's own rusage (Linux: ru_maxrss in KiB)
    proc.returncode = 0
    elapsed = time.perf_counter() - start
    result = json.loads(out.decode())
    rss_kib = usage.ru_maxrss
    return dict(seconds=elapsed, changed=result.get('changed'), failed=bool(result.get('failed')), msg=result.get('msg', '')[:200], max_rss_kib=rss_kib)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--out', default=None)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=None, help='broker port (default: start a mosquitto here)')
    parser.add_argument('--sizes', default='10,50,200,1000')
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='bench-mqtt-')
    broker = None
    if args.port is None:
        sys.path.insert(0, os.path.join(ROOT, 'tests', 'utils'))
        from mosquitto_broker import MosquittoBroker

        broker = MosquittoBroker(os.path.join(work, 'broker')).start()
        args.port = broker.port
    runs = []
    try:
        serial = 0
        for count in [int(n) for n in args.sizes.split(',')]:
            for window in (256, 1) if count <= 200 else (256,):
                serial += 1
                prefix = 'bench%d' % serial
                fleet = start_fleet(args.host, args.port, prefix, count, work)
                try:
                    runs.append(converge_in_process(args.host, args.port, prefix, count, window))
                finally:
                    stop_fleet(fleet)
                if window != 1:
                    serial += 1
                    prefix = 'bench%d' % serial
                    fleet = start_fleet(args.host, args.port, prefix, count, work)
                    try:
                        runs[-1]['tracemalloc_peak_kib'] = converge_in_process(args.host, args.port, prefix, count, window, trace_memory=True)[
                            'tracemalloc_peak_kib'
                        ]
                    finally:
                        stop_fleet(fleet)
        for window in (256, 1):  # devices that answer in LATENCY_MS, as on a real network
            serial += 1
            prefix = 'bench%d' % serial
            fleet = start_fleet(args.host, args.port, prefix, 200, work, latency_ms=LATENCY_MS)
            try:
                run = converge_in_process(args.host, args.port, prefix, 200, window)
                run['latency_ms'] = LATENCY_MS
                runs.append(run)
            finally:
                stop_fleet(fleet)
        serial += 1
        prefix = 'bench%d' % serial
        fleet = start_fleet(args.host, args.port, prefix, 200, work)
        try:
            module = converge_module_process(args.host, args.port, prefix, 200, work)
        finally:
            stop_fleet(fleet)
        version = subprocess.run(['mosquitto', '-h'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False).stdout.decode().split('\n')[0]
    finally:
        if broker is not None:
            broker.stop()
    data = dict(runs=runs, module=module, pins=PINS, mosquitto=version)
    save(args.out, 'mqtt_fanout', data)
    print(render(data))


def render(data):
    rows = []
    by_key = dict(((r['devices'], r['window'], r.get('latency_ms', 0)), r) for r in data['runs'])
    for run in data['runs']:
        baseline = by_key.get((run['devices'], 1, run.get('latency_ms', 0))) if run['window'] != 1 else None
        label = '%d x %d' % (run['devices'], data['pins'])
        if run.get('latency_ms'):
            label += ', devices answer in %d ms' % run['latency_ms']
        rows.append(
            [
                label,
                run['window'],
                '{:.3f}'.format(run['seconds']),
                run['requests'],
                '{:.2f}'.format(run['p50_ms']),
                '{:.2f}'.format(run['p99_ms']),
                run['tracemalloc_peak_kib'] if run['tracemalloc_peak_kib'] is not None else '',
                '%d / %d' % (run['changed'], run['devices']) + (' (%d failed)' % run['failed'] if run['failed'] else ''),
                '%.1fx' % (baseline['seconds'] / run['seconds']) if baseline else '',
            ]
        )
    text = table(
        [
            'Devices x pins',
            'Outstanding',
            'Converge s',
            'Requests',
            'RTT p50 ms',
            'RTT p99 ms',
            'Peak Python KiB (tracemalloc)',
            'Changed',
            'Speed-up vs one at a time',
        ],
        rows,
    )
    module = data['module']
    text += (
        '\n\nThe mqtt_pins module as a process, 200 x 8 (exec to exit: interpreter, imports, connect, converge): '
        '{:.2f} s, changed={}, failed={}; its peak RSS {} KiB (interpreter, ansible.module_utils, paho included).'.format(
            module['seconds'], module['changed'], module['failed'], module['max_rss_kib']
        )
    )
    return '## 3. MQTT fan-out ({}, virtual devices in another process)\n\n{}'.format(data['mosquitto'], text)


if __name__ == '__main__':
    main()
