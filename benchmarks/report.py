# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write benchmarks/REPORT.md from the results of the other scripts: date, machine, tables, goals."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bus_traffic  # noqa: E402
import cli_status  # noqa: E402
import module_startup  # noqa: E402
import mqtt_fanout  # noqa: E402
import playbook_walltime  # noqa: E402
from _common import ROOT, load  # noqa: E402


def _version(cmd):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False).stdout.splitlines()[0]
    except (OSError, IndexError):
        return 'not found'


def machine():
    cpu = platform.processor() or 'unknown'
    try:
        with open('/proc/cpuinfo') as handle:
            cpu = next(line.split(':', 1)[1].strip() for line in handle if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    try:
        from ansible.release import __version__ as core
    except ImportError:
        core = 'not installed'
    try:
        from importlib.metadata import version

        paho = version('paho-mqtt')
    except Exception:  # pylint: disable=broad-except
        paho = 'not installed'
    return '%s, %d cores; Linux %s; Python %s; ansible-core %s; paho-mqtt %s; %s' % (
        cpu,
        os.cpu_count() or 0,
        platform.release(),
        platform.python_version(),
        core,
        paho,
        _version(['mosquitto', '-h']),
    )


def goals(bus, wall, mqtt, status=None):
    lines = []
    if bus:
        rows = [(b, key, b['rows'][key]) for b in bus['boards'] for key, dummy in bus_traffic.SCENARIOS]
        over = [
            '%s %s %+d' % (bus_traffic.NAMES[b['kind']].split(' [')[0], key, r['driver']['calls'] - r['spec'][0])
            for b, key, r in rows
            if r['driver']['calls'] != r['spec'][0]
        ]
        lines.append('* Bus traffic at the spec minimum for every row: %s.' % ('met' if not over else 'met except ' + ', '.join(over) + ' (see "Findings")'))
        ratios = [
            '{} {:.0f}%'.format(
                bus_traffic.NAMES[b['kind']].split(' [')[0], 100.0 * b['rows']['status']['driver']['calls'] / b['rows']['status']['cli']['calls']
            )
            for b in bus['boards']
            if b['rows']['status']['cli']
        ]
        above = [
            bus_traffic.NAMES[b['kind']].split(' [')[0]
            for b in bus['boards']
            if b['rows']['status']['cli'] and b['rows']['status']['driver']['calls'] * 2 > b['rows']['status']['cli']['calls']
        ]
        lines.append(
            "* Full status at most half the CLI model's calls: {} ({}).".format('met' if not above else 'missed for the ' + ', '.join(above), ', '.join(ratios))
        )
    if status:
        worst = cli_status.render(status)[2]
        lines.append(
            "* `clusterctrl status` at most half the CLI model's calls on every board type and firmware: {} (highest {:.0f}%).".format(
                'met' if worst <= 0.5 else 'missed', 100.0 * worst
            )
        )
    if wall:
        lines.append(
            '* One clusterctrl_power task >= 10x faster than a loop of 17: {} ({:.1f}x).'.format('met' if wall['speedup'] >= 10 else 'missed', wall['speedup'])
        )
    if mqtt:
        by = dict(((r['devices'], r['window'], r.get('latency_ms', 0)), r) for r in mqtt['runs'])
        fast, slow = by.get((200, 256, 0)), by.get((200, 1, 0))
        lat_fast, lat_slow = by.get((200, 256, mqtt_fanout.LATENCY_MS)), by.get((200, 1, mqtt_fanout.LATENCY_MS))
        if fast and slow:
            lines.append(
                '* MQTT module time < 1 s for 200 x 8: {} ({:.3f} s converging; {:.2f} s for the whole module process).'.format(
                    'met' if mqtt['module']['seconds'] < 1 else 'missed', fast['seconds'], mqtt['module']['seconds']
                )
            )
            lines.append(
                '* Round trip p50 < 2 ms: {} ({:.2f} ms with one request outstanding; {:.1f} ms under a window of 256, where it is mostly queueing).'.format(
                    'met' if slow['p50_ms'] < 2 else 'missed', slow['p50_ms'], fast['p50_ms']
                )
            )
            text = '* >= 10x faster than one at a time: %.1fx on loopback' % (slow['seconds'] / fast['seconds'])
            if lat_fast and lat_slow:
                text += ', %.1fx with devices answering in %d ms' % (lat_slow['seconds'] / lat_fast['seconds'], mqtt_fanout.LATENCY_MS)
            lines.append(text + ' (see "Findings").')
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', default=None)
    parser.add_argument('--report', default=os.path.join(ROOT, 'benchmarks', 'REPORT.md'))
    parser.add_argument('--findings', default=os.path.join(ROOT, 'benchmarks', 'FINDINGS.md'))
    args = parser.parse_args()
    bus, wall, mqtt, startup, status = (load(args.out, name) for name in ('bus_traffic', 'playbook_walltime', 'mqtt_fanout', 'module_startup', 'cli_status'))
    parts = [
        '# Benchmark report',
        '',
        'Generated by `bash tools/benchmarks.sh` on {}.'.format(datetime.datetime.now().strftime('%Y-%m-%d %H:%M')),
        '',
        f'Machine: {machine()}.',
        '',
        '## Goals',
        '',
        goals(bus, wall, mqtt, status),
        '',
    ]
    if bus:
        main_table, growth_table = bus_traffic.render(bus)
        parts += [
            '## 1. Bus transactions per board (exact, from the emulator journal)',
            '',
            'Calls = SMBus calls; USB = USB control transfers (ClusterHAT: I2C wire bytes on bus 1). Modelled ms = 1 ms per USB '
            'transfer + the firmware\'s blocking time (§10.4); ClusterHAT 90 us per wire byte. "Driver": what a check-mode run '
            'sends; "Module": outside check mode, + 1 reset-detection token write per board. CLI model: benchmarks/cli_model.py, '
            "the spec's description of the official CLI (§8.2, §8.4, §8.5), with its discovery reads.",
            '',
            main_table,
            '',
            'Growth with the number of Pis (a DA with 1 to 8 ClusterHATs):',
            '',
            growth_table,
            '',
        ]
    if wall:
        parts += [playbook_walltime.render(wall), '']
    if mqtt:
        parts += [mqtt_fanout.render(mqtt), '']
    if startup:
        parts += [module_startup.render(startup), '']
    if status:
        main_table, every_table, _worst = cli_status.render(status)
        parts += [
            '## 5. `clusterctrl status`: bus calls versus the official CLI (exact, from the lab journal)',
            '',
            'Calls / USB control transfers (ClusterHAT: I2C wire bytes); ms modelled as in section 1. "clusterctrl": the '
            'command of this collection (`--lab LAB status`); CLI model: benchmarks/cli_model.py, discovery included.',
            '',
            main_table,
            '',
            'Every firmware (clusterctrl calls / CLI model calls; the DA with 8 ClusterHATs):',
            '',
            every_table,
            '',
        ]
    if os.path.exists(args.findings):
        with open(args.findings) as handle:
            parts += [handle.read().strip(), '']
    with open(args.report, 'w') as handle:
        handle.write('\n'.join(parts))
    print('\n'.join(parts))


if __name__ == '__main__':
    main()
