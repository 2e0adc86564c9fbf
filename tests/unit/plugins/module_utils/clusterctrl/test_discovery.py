# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""find_clusterctrl_buses() on fake sysfs and /dev trees laid out as on a Raspberry Pi (spec §1.1, §8.2).

On a Pi 4 running Linux, ``/sys/bus/i2c/devices/i2c-10`` is a relative symlink to
``../../../devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/usb1/1-1/1-1.3/1-1.3:1.0/i2c-10``;
the adapter's ``name`` is written by the i2c-tiny-usb driver as ``i2c-tiny-usb at bus 001 device 005``, and
``idVendor`` / ``idProduct`` (4 lower-case hex digits) live in the USB device directory ``1-1.3`` (the
interface directory ``1-1.3:1.0`` has none; the root hub ``usb1`` has its own, 1d6b). The vendor's udev
rule adds ``/dev/ClusterCTRL-<bus>`` -> ``i2c-<bus>``.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import BOARD_SPECS
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.discovery import find_clusterctrl_buses

PCIE = 'devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0'


def _write(path, text):
    if not os.path.isdir(os.path.dirname(path)):
        os.makedirs(os.path.dirname(path))
    with open(path, 'w') as handle:
        handle.write(text + '\n')


class FakeSystem:
    """A sysfs tree under ``root/sys`` and a device tree under ``root/dev``."""

    def __init__(self, root):
        self.sys = str(root / 'sys')
        self.dev = str(root / 'dev')
        os.makedirs(os.path.join(self.sys, 'bus', 'i2c', 'devices'))
        os.makedirs(self.dev)
        # The USB root hub: it has idVendor too (Linux Foundation 1d6b:0002) and must not be mistaken for a board.
        self._usb_device('usb1', 0x1D6B, 0x0002)

    def _usb_device(self, rel, vendor, product):
        path = os.path.join(self.sys, PCIE, rel)
        _write(os.path.join(path, 'idVendor'), f'{vendor:04x}')
        _write(os.path.join(path, 'idProduct'), f'{product:04x}')
        _write(os.path.join(path, 'busnum'), '1')
        return path

    def _link_adapter(self, bus, target):
        link = os.path.join(self.sys, 'bus', 'i2c', 'devices', 'i2c-%d' % bus)
        os.symlink(os.path.relpath(target, os.path.dirname(link)), link)

    def usb_adapter(self, bus, usb_path, vendor=0x3171, product=0x0014, devnum=5, name=None):
        """An i2c-tiny-usb adapter on USB device ``usb_path`` (e.g. '1-1.3'), interface 1.0."""
        parts = usb_path.split('-', 1)[1].split('.')
        chain = ['usb1'] + ['1-' + '.'.join(parts[:i]) for i in range(1, len(parts) + 1)]
        for i in range(1, len(chain) - 1):
            hub = os.path.join(self.sys, PCIE, *chain[: i + 1])
            if not os.path.exists(os.path.join(hub, 'idVendor')):
                self._usb_device(os.path.join(*chain[: i + 1]), 0x2109, 0x3431)  # a VIA hub on the way
        device = self._usb_device(os.path.join(*chain), vendor, product)
        interface = os.path.join(device, f'{usb_path}:1.0')
        _write(os.path.join(interface, 'bInterfaceNumber'), '00')
        adapter = os.path.join(interface, 'i2c-%d' % bus)
        _write(os.path.join(adapter, 'name'), name or 'i2c-tiny-usb at bus 001 device %03d' % devnum)
        # the i2c-dev child and a client directory, as on a real system
        _write(os.path.join(adapter, 'i2c-dev', 'i2c-%d' % bus, 'name'), name or 'i2c-tiny-usb at bus 001 device %03d' % devnum)
        self._link_adapter(bus, adapter)
        return adapter

    def platform_adapter(self, bus, name):
        """An SoC I2C controller (no USB parent), e.g. the Pi's own i2c-1."""
        adapter = os.path.join(self.sys, 'devices', 'platform', 'soc', 'fe804000.i2c', 'i2c-%d' % bus)
        _write(os.path.join(adapter, 'name'), name)
        self._link_adapter(bus, adapter)
        return adapter

    def dev_link(self, bus, name=None):
        _write(os.path.join(self.dev, 'i2c-%d' % bus), '')
        os.symlink('i2c-%d' % bus, os.path.join(self.dev, name or 'ClusterCTRL-%d' % bus))

    def find(self):
        return find_clusterctrl_buses(sysfs_root=self.sys, dev_root=self.dev)


@pytest.fixture
def system(tmp_path):
    return FakeSystem(tmp_path)


def test_nothing_found_gives_an_empty_list(system):
    assert system.find() == []


def test_nothing_found_when_the_roots_do_not_exist(tmp_path):
    assert find_clusterctrl_buses(sysfs_root=str(tmp_path / 'nosys'), dev_root=str(tmp_path / 'nodev')) == []


def test_a_clusterctrl_adapter_is_found_with_its_usb_path(system):
    system.usb_adapter(10, '1-1.3')
    assert system.find() == [(10, '1-1.3')]


@pytest.mark.parametrize('board', sorted(BOARD_SPECS, key=lambda b: b.value), ids=lambda b: b.value)
def test_every_clusterctrl_product_id_is_recognised(system, board):
    """§1.1: vendor 0x3171 with products 0x0011 (DA) to 0x0016 (Stack)."""
    system.usb_adapter(3, '1-1.2', product=BOARD_SPECS[board].usb_pid)
    assert system.find() == [(3, '1-1.2')]


def test_several_boards_behind_hubs_sorted_by_bus_number(system):
    """Sorted numerically (2 before 10), each with the path of its own USB device, also deep behind hubs."""
    system.usb_adapter(10, '1-1.3', product=0x0014)
    system.usb_adapter(2, '1-1.4.1', product=0x0016)
    system.usb_adapter(11, '1-2', product=0x0012)
    assert system.find() == [(2, '1-1.4.1'), (10, '1-1.3'), (11, '1-2')]


@pytest.mark.parametrize(
    'vendor, product',
    [
        (0x0403, 0xC631),  # Till Harbaum's original i2c-tiny-usb
        (0x1C40, 0x0534),  # another i2c-tiny-usb clone
        (0x3171, 0x0010),  # 8086 Consultancy, below the ClusterCTRL range
        (0x3171, 0x0017),  # 8086 Consultancy, above the ClusterCTRL range
    ],
)
def test_other_i2c_tiny_usb_devices_are_ignored(system, vendor, product):
    system.usb_adapter(7, '1-1.2', vendor=vendor, product=product)
    system.usb_adapter(10, '1-1.3')
    assert system.find() == [(10, '1-1.3')]


def test_adapters_that_are_not_i2c_tiny_usb_are_ignored(system):
    """The SoC's own buses and a USB I2C adapter of another driver are not ClusterCTRL boards."""
    system.platform_adapter(1, 'bcm2835 (i2c@7e804000)')
    system.platform_adapter(20, 'fef04500.i2c')
    # a CP2112 on a ClusterCTRL-like id must still be ignored: the driver name decides first
    system.usb_adapter(8, '1-1.1', vendor=0x3171, product=0x0014, name='CP2112 SMBus Bridge on hidraw0')
    assert system.find() == []


def test_adapter_without_a_usb_parent_or_with_unreadable_ids_is_skipped(system):
    orphan = os.path.join(system.sys, 'devices', 'virtual', 'i2c-12')
    _write(os.path.join(orphan, 'name'), 'i2c-tiny-usb at bus 001 device 009')
    system._link_adapter(12, orphan)
    adapter = system.usb_adapter(13, '1-1.2')
    _write(os.path.join(os.path.dirname(os.path.dirname(adapter)), 'idProduct'), 'zz')
    system.usb_adapter(10, '1-1.3')
    assert system.find() == [(10, '1-1.3')]


def test_dev_links_are_found_with_bus_only(system):
    system.dev_link(4)
    system.dev_link(12)
    assert system.find() == [(4, None), (12, None)]


def test_dev_links_that_are_not_clusterctrl_are_ignored(system):
    system.dev_link(5, name='i2c-5-alias')
    _write(os.path.join(system.dev, 'ClusterCTRL-'), '')
    _write(os.path.join(system.dev, 'ClusterCTRL-x'), '')
    system.dev_link(6)
    assert system.find() == [(6, None)]


def test_both_sources_are_merged(system):
    """A board seen in sysfs and in /dev appears once with its USB path; a /dev-only board is added without one."""
    system.usb_adapter(10, '1-1.3')
    system.dev_link(10)
    system.usb_adapter(11, '1-1.4', product=0x0016)  # no udev link (rule not installed for it)
    system.dev_link(3)  # udev link only (e.g. sysfs not readable)
    assert system.find() == [(3, None), (10, '1-1.3'), (11, '1-1.4')]


def test_stale_dev_link_of_a_board_gone_from_sysfs_is_still_listed(system):
    """Like the official CLI (§8.2 step 1), a /dev/ClusterCTRL-* link counts by itself; opening it fails later, loudly."""
    system.dev_link(9)
    os.unlink(os.path.join(system.dev, 'i2c-9'))
    assert system.find() == [(9, None)]
