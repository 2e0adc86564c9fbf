# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Finding ClusterCTRL boards on a real controller.

Spec §1.1 and §8.2: each board is an i2c-tiny-usb adapter (USB vendor 0x3171, products
0x0011-0x0016) with its virtual register file at address 0x20; the vendor image's udev
rule links each as ``/dev/ClusterCTRL-<bus>``. Both sources are read (sysfs also gives
the board's USB path, which stays stable when bus numbers change after re-enumeration).
"""

from __future__ import annotations

import glob
import os
import re

VENDOR_ID = 0x3171
PRODUCT_IDS = frozenset(range(0x0011, 0x0017))


def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def _usb_device(path):
    """Walk up from an i2c adapter's sysfs directory to the USB device that owns it."""
    while path and path != os.path.dirname(path):
        if os.path.exists(os.path.join(path, 'idVendor')):
            return path
        path = os.path.dirname(path)
    return None


def find_clusterctrl_buses(sysfs_root='/sys', dev_root='/dev'):
    """Return ``[(bus_number, usb_path or None), ...]`` of every ClusterCTRL adapter, sorted by bus."""
    buses = {}
    for name_file in glob.glob(os.path.join(sysfs_root, 'bus', 'i2c', 'devices', 'i2c-*', 'name')):
        adapter_dir = os.path.dirname(name_file)
        if not (_read(name_file) or '').startswith('i2c-tiny-usb'):
            continue
        usb_dir = _usb_device(os.path.realpath(adapter_dir))
        if usb_dir is None:
            continue
        try:
            vendor = int(_read(os.path.join(usb_dir, 'idVendor')) or '', 16)
            product = int(_read(os.path.join(usb_dir, 'idProduct')) or '', 16)
        except ValueError:
            continue
        if vendor == VENDOR_ID and product in PRODUCT_IDS:
            buses[int(adapter_dir.rsplit('-', 1)[1])] = os.path.basename(usb_dir)
    for link in glob.glob(os.path.join(dev_root, 'ClusterCTRL-*')):
        match = re.search(r'-([0-9]+)$', link)
        if match:
            buses.setdefault(int(match.group(1)), None)
    return sorted(buses.items())
