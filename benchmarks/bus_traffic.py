# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark 1: bus transactions per board type, counted exactly from the emulator's journal.

For each board: read its full state (what clusterctrl_info reads), converge one Pi that is
off to on, and converge every Pi when nothing needs to change. Columns:

* spec min: the minimum of clusterctrl-protocol.md §10.3 (identity block read 1 call; every
  command = 1 combined write + 1 read of ``[outputs, CMD, STATUS]``; switching a Pi = 1
  write, plus the optional verification read that §10.3 allows, which the driver makes to
  check CMD/STATUS, §1.7). §10.3's totals leave out temperature and ADC; the same 2-call
  pattern is added for them, as clusterctrl_info and the CLI's status both read them;
* driver: the driver and the module's own code (clusterctrl_info's read_board, clusterctrl_power's
  engine, as clusterctrl_power plans and applies) with reset detection off, i.e. what a check-mode run sends;
* module: the same run outside check mode: + 1 reset-detection token write per board
  (every status read then starts at MODE: same calls, 1-3 more bytes each);
* CLI model: benchmarks/cli_model.py, the official CLI's sequence as the spec describes it,
  including its discovery (order + maxpi reads per controller on every invocation).

Modelled hardware time: 2 USB control transfers per I2C message, 1 ms each, plus the firmware's
own blocking time the emulator records per command (§10.4: e.g. 100 ms per DA power command).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ensure_collection_importable, save, table  # noqa: E402

ensure_collection_importable()

from cli_model import CliController, CliHat  # noqa: E402

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import BoardType  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.cluster import Board, Cluster  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.driver import ClusterCTRLv2Driver  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.hat import ClusterHATDriver  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.journal import BusJournal  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.xra1200 import XRA1200, HostI2CAdapter  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.apply import apply  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.pis import plan_power, read_power  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.plan import Plan  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.modules import clusterctrl_info  # noqa: E402

USB_MS = 1.0  # per control transfer (issue 5: "2 USB control transfers per I2C message, 1 ms each")
I2C_BYTE_MS = 0.09  # ClusterHAT: I2C bytes on bus 1 at 100 kHz (§10.2)
BOARDS = ['single', 'triple', 'phat', 'aplus6', 'stack', 'da']


def converge_on(cluster, pis):
    """What clusterctrl_power does for ``pis`` with state on: read, plan, apply (the engine, no Ansible)."""
    plan = Plan()
    addrs = cluster.resolve(pis)
    plan_power(plan, read_power(plan, addrs), addrs, 'on', 0.0)
    apply(plan)


class Rig:
    """One emulated board with its own journal."""

    def __init__(self, kind, da_ports=None, hat_version='2.5'):
        self.kind = kind
        self.journal = BusJournal()
        if kind == 'hat':
            self.chip = XRA1200(hat_version, part='xra1200p')
            self.smbus = EmulatedSMBus(HostI2CAdapter.for_hat(self.chip, journal=self.journal))
            self.hat_version = hat_version
        else:
            kwargs = {'order': 1}
            if kind == 'da':
                kwargs['da_hat_ports'] = tuple(range(8)) if da_ports is None else tuple(da_ports)
            self.firmware = ClusterCTRLFirmware(BoardType.from_name(kind), **kwargs)
            self.smbus = EmulatedSMBus(I2CTinyUsbAdapter.for_board(self.firmware, bus_number=10, journal=self.journal))

    def driver(self, detect_resets=False):
        if self.kind == 'hat':
            return ClusterHATDriver(self.smbus, self.hat_version, size=4, label='hat')
        return ClusterCTRLv2Driver(self.smbus, label=self.kind, randomize_factory_order=False, detect_resets=detect_resets)

    def board(self, detect_resets=False):
        board = Board(self.driver(detect_resets), 1 if self.kind == 'hat' else 10)
        board.first = 1
        return board

    def measure(self, action):
        start = len(self.journal)
        action()
        return cost(self.journal.entries[start:], self.kind == 'hat')


def cost(entries, hat=False):
    """Calls, USB transfers (ClusterHAT: I2C wire bytes) and modelled ms of some journal entries."""
    firmware_ms = sum(c.get('duration_ms') or 0 for e in entries for c in e['commands'])
    if hat:
        # The HAT's expander is on the Pi's own I2C bus 1, not USB: count wire bytes, ~90 us each at 100 kHz (§10.2).
        wire = sum(e['messages'] + (e['reg'] is not None) + len(e['data'] or []) + (e['length'] or 0) for e in entries)
        return dict(calls=len(entries), usb=wire, ms=round(wire * I2C_BYTE_MS, 2), firmware_ms=0)
    transfers = sum(e['usb_transfers'] for e in entries)
    return dict(calls=len(entries), usb=transfers, ms=round(transfers * USB_MS + firmware_ms, 1), firmware_ms=round(firmware_ms, 1))


def spec_minimum(kind, spec, fw, scenario, npis):
    """(calls, usb transfers) of §10.3's minimum; temperature and ADC channels with the same 2-call pattern."""
    identity = (1, 4)
    command = (2, 6)  # combined write (2 transfers) + read of [outputs, CMD, STATUS] (4)
    if kind == 'hat':
        # Derived from §7.3 (not in §10.3): IN holds every pin; DIR tells whether §7.4 ran; PUR tells the part.
        # Here the second figure is I2C wire bytes, not USB transfers.
        return {'status': (3, 12), 'one': (4, 15), 'all': (1, 4)}[scenario]
    if scenario == 'status':
        extra = 0
        if kind == 'da' and npis < 32:
            # EXISTS (0x20, §2): 1 read that spares 2 calls per Pi of every absent HAT
            extra = 1
        n = (
            1
            + npis
            + (npis if spec.has_usbboot else 0)
            + (1 if spec.fan != 'none' and fw >= (1, 6) else 0)
            + (1 if spec.has_temperature else 0)
            + len(spec.adc_channels)
        )
        return identity[0] + command[0] * n + extra, identity[1] + command[1] * n + 4 * extra
    if scenario == 'one':
        # identity + GET_PSTATUS + ON write + verification read (optional in §10.3)
        return identity[0] + command[0] + 2, identity[1] + command[1] + 6
    return identity[0] + command[0] * npis, identity[1] + command[1] * npis


def run_board(kind, da_ports=None):
    rows = {}
    rig = Rig(kind, da_ports)
    probe = rig.driver()
    npis = probe.maxpi
    if kind == 'da':
        npis = 4 * len(probe.hats_present())  # Pis of absent ClusterHATs have no state
    spec = None if kind == 'hat' else probe.spec
    fw = None if kind == 'hat' else probe.fw_version
    if kind == 'hat':
        probe.initialize()  # steady state: the §7.4 first-run set-up done by an earlier run
    # -- full status
    res = {}
    for label, resets in (('driver', False), ('module', True)):
        res[label] = rig.measure(lambda resets=resets: clusterctrl_info.read_board(rig.board(resets), False, {}))
    if kind == 'hat':
        res['cli'] = rig.measure(lambda: CliHat(rig.smbus, rig.hat_version).status())
    else:
        res['cli'] = rig.measure(lambda: CliController(rig.smbus).status())
    res['spec'] = spec_minimum(kind, spec, fw, 'status', npis)
    rows['status'] = res
    # -- converge one Pi, off -> on (the board's last Pi)
    res = {}
    last = npis
    for label, resets in (('driver', False), ('module', True)):
        rig.driver().power_off(last)

        def converge(resets=resets):
            board = rig.board(resets)
            converge_on(Cluster([board]), ['p%d' % last])

        res[label] = rig.measure(converge)
    rig.driver().power_off(last)
    if kind == 'hat':
        res['cli'] = None  # §8.4 gives no call-level sequence for HAT power
    else:
        res['cli'] = rig.measure(lambda: CliController(rig.smbus).on_one(last))
    res['spec'] = spec_minimum(kind, spec, fw, 'one', npis)
    rows['one'] = res
    # -- converge all Pis, nothing to change
    res = {}
    driver = rig.driver()
    for pi in range(1, npis + 1):
        driver.power_on(pi)
    for label, resets in (('driver', False), ('module', True)):

        def converge_all(resets=resets):
            board = rig.board(resets)
            pis = ['p%d' % pi for pi in range(1, npis + 1)]
            converge_on(Cluster([board]), pis)

        res[label] = rig.measure(converge_all)
    res['cli'] = None if kind == 'hat' else rig.measure(lambda: CliController(rig.smbus).on_all())
    res['spec'] = spec_minimum(kind, spec, fw, 'all', npis)
    rows['all'] = res
    return dict(kind=kind, pis=npis, firmware=None if fw is None else '%d.%d' % fw, rows=rows)


SCENARIOS = (('status', 'full status'), ('one', 'one Pi off->on'), ('all', 'all Pis, no change'))
NAMES = {'single': 'Single', 'triple': 'Triple', 'phat': 'pHAT', 'aplus6': 'A+6', 'stack': 'Stack', 'da': 'DA', 'hat': 'ClusterHAT v2.5 [I2C bytes, not USB]'}


def verdict(res):
    driver, spec = res['driver']['calls'], res['spec'][0]
    return 'at min' if driver == spec else ('%+d' % (driver - spec))


def render(data):
    rows = []
    for board in data['boards']:
        for key, label in SCENARIOS:
            res = board['rows'][key]
            cli = res['cli']
            ratio = '%.0f%%' % (100.0 * res['driver']['calls'] / cli['calls']) if cli else '–'
            rows.append(
                [
                    '%s (%d Pis%s)' % (NAMES[board['kind']], board['pis'], ', fw ' + board['firmware'] if board['firmware'] else ''),
                    label,
                    '%d / %d' % tuple(res['spec']),
                    '%d / %d' % (res['driver']['calls'], res['driver']['usb']),
                    '%d / %d' % (res['module']['calls'], res['module']['usb']),
                    '%d / %d' % (cli['calls'], cli['usb']) if cli else '–',
                    ratio,
                    verdict(res),
                    '{:g}'.format(res['driver']['ms']),
                    '{:g}'.format(cli['ms']) if cli else '–',
                ]
            )
    main = table(
        [
            'Board',
            'Operation',
            'Spec min (calls / USB)',
            'Driver (calls / USB)',
            'Module (+ reset token)',
            'CLI model',
            'Driver / CLI calls',
            'vs spec min',
            'Driver ms (modelled)',
            'CLI ms (modelled)',
        ],
        rows,
    )
    growth = []
    for entry in data['growth']:
        status, allrow = entry['rows']['status'], entry['rows']['all']
        growth.append(
            [
                'DA, %d HATs (%d Pis)' % (entry['hats'], entry['hats'] * 4),
                '%d / %d' % (status['driver']['calls'], status['driver']['usb']),
                '{:g}'.format(status['driver']['ms']),
                '%d / %d' % (status['cli']['calls'], status['cli']['usb']),
                '{:g}'.format(status['cli']['ms']),
                '%d / %d' % (allrow['driver']['calls'], allrow['driver']['usb']),
                '{:g}'.format(allrow['driver']['ms']),
            ]
        )
    growth_table = table(
        ['Board', 'Full status: driver calls / USB', 'ms', 'CLI model calls / USB', 'ms', 'All Pis, no change: driver calls / USB', 'ms'], growth
    )
    return main, growth_table


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--out', default=None)
    args = parser.parse_args()
    data = {'boards': [run_board(kind) for kind in BOARDS + ['hat']], 'growth': []}
    for hats in (1, 2, 4, 8):
        result = run_board('da', da_ports=range(hats))
        result['hats'] = hats
        data['growth'].append(result)
    save(args.out, 'bus_traffic', data)
    main_table, growth_table = render(data)
    print('## 1. Bus transactions per board (exact, from the emulator journal)\n')
    print(main_table)
    print('\nGrowth with the number of Pis (DA, ms = 1 ms per USB transfer + firmware time, §10.4):\n')
    print(growth_table)


if __name__ == '__main__':
    main()
