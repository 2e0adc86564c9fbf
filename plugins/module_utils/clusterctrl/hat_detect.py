# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which ClusterHAT a Pi has, found as the official CLI finds it, and what its version means.

Detection reads the device tree and /etc/default/clusterctrl (spec §7.1, §8.1); the version
gives the hub polarity (§7.3) and the USB port of each Pi (§7.5). ``hat.py`` re-exports these
names, so ``from ...clusterctrl.hat import detect_clusterhat`` keeps working.
"""

from __future__ import annotations

import os

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import BoardSpec

# §7.1: the HAT's size (number of Pis) is at most 4.
HAT_MAXPI = 4
HAT_PRODUCT = 'ZC4:ClusterHAT'
DT_FIELDS = ('product', 'product_ver', 'uuid', 'vendor', 'product_id')
DEFAULTS_FILE = '/etc/default/clusterctrl'
V1_REASON = 'ClusterHAT v1.x is driven by host GPIO pins, which this collection does not support; only ClusterHAT v2.x and v3.x (XRA1200 expander) are'


def parse_hat_version(version):
    """``"2.5"`` or ``(2, 5)`` → ``(2, 5)``; ValueError for anything but v2.x / v3.x."""
    if isinstance(version, (tuple, list)) and len(version) == 2:
        major, minor = version
    else:
        parts = str(version).strip().split('.')
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f'a ClusterHAT version is "MAJOR.MINOR", got {version!r}')
        major, minor = int(parts[0]), int(parts[1])
    if isinstance(major, bool) or isinstance(minor, bool) or not isinstance(major, int) or not isinstance(minor, int):
        raise ValueError(f'a ClusterHAT version is "MAJOR.MINOR", got {version!r}')
    if major == 1:
        raise ValueError(V1_REASON)
    if major not in (2, 3) or not 0 <= minor <= 0x0F:
        raise ValueError('ClusterHAT version %d.%d does not exist (v2.x and v3.x are supported)' % (major, minor))
    return major, minor


def hub_active_high(version):
    """§7.3 recommendation: active-high only for v2.0 (the DA firmware and the CLI's initialisation agree).

    The CLI's ``hub on|off`` and ``hat_hub`` status test only ``minor == 0`` and so treat v3.0
    as active-high too ([DISAGREE], §7.3); that contradicts its own initialisation.
    """
    return parse_hat_version(version) == (2, 0)


def usb_port(version, pi):
    """§7.5: the hub port of the HAT's Pi ``pi``: port p on v2.6 and v3.1, port 5 - p on every other version."""
    version = parse_hat_version(version)
    return pi if version in ((2, 6), (3, 1)) else 5 - pi


class HatType:
    """What a ClusterHAT offers in the shape of ``BoardType`` (``value``, ``product``, ``spec``)."""

    value = 'clusterhat'

    def __init__(self, version, size, active_high):
        self.version = version
        self.product = 'ClusterHAT v%d.%d' % version
        self.spec = BoardSpec(
            product=self.product,
            type_code=None,
            maxpi=size,
            usb_pid=None,
            gpio='xra1200',
            has_alert_led=True,
            has_act_led=False,
            has_pi_leds=False,
            has_usbboot=False,
            fan='none',
            adc_channels=(),
            has_temperature=False,
            hub='high' if active_high else 'low',
            paths=None,
            autoondelay_ms=None,
            newest_firmware=None,
            eeprom_size=None,
        )

    def __repr__(self):
        return f'<HatType {self.product}>'


def read_defaults(path=DEFAULTS_FILE):
    """``/etc/default/clusterctrl`` as the CLI reads it (§8.1): ``#`` lines skipped, keys lower-cased,
    values cut at ``#`` and stripped of spaces and quotes. A missing or unreadable file gives {}."""
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return {}
    config = {}
    for line in lines:
        if line.startswith('#') or '=' not in line:
            continue
        key, value = line.split('=', 1)
        value = value.split('#', 1)[0].strip(' \t"\'')
        config[key.strip().lower()] = value
    return config


def _read_dt(path):
    with open(path, 'rb') as handle:
        return handle.read().decode('utf-8', 'replace').rstrip('\x00')


def _result(version_text, major, minor, size, forced, fields, warnings):
    supported = major in (2, 3)
    return {
        'version': version_text,
        'major': major,
        'minor': minor,
        'size': size,
        'forced': forced,
        'supported': supported,
        'reason': None if supported else (V1_REASON if major == 1 else f'ClusterHAT version {version_text} is unknown'),
        'product': fields.get('product'),
        'product_ver': fields.get('product_ver'),
        'uuid': fields.get('uuid'),
        'vendor': fields.get('vendor'),
        'product_id': fields.get('product_id'),
        'warnings': warnings,
    }


def detect_clusterhat(proc_root='/proc', defaults_file=DEFAULTS_FILE):
    """Find a ClusterHAT the way the official CLI does (§7.1); return a dict, or None when there is none.

    Keys: ``version`` ("M.m"), ``major``, ``minor``, ``size`` (CLUSTERHAT_SIZE, default 4,
    capped at 4), ``forced`` (the CLUSTERHAT_FORCE text or None), ``supported`` (False for
    v1.x, with ``reason``), the device-tree fields ``product``, ``product_ver``, ``uuid``,
    ``vendor``, ``product_id`` (trailing NULs stripped; None when forced) and ``warnings``.
    """
    config = read_defaults(defaults_file)
    warnings = []
    size = HAT_MAXPI
    size_text = config.get('clusterhat_size')
    if size_text:
        try:
            size = int(size_text)
        except ValueError:
            warnings.append('CLUSTERHAT_SIZE=%s in %s is not a number; using %d' % (size_text, defaults_file, HAT_MAXPI))
            size = HAT_MAXPI
        if size > HAT_MAXPI:
            warnings.append('CLUSTERHAT_SIZE=%d is capped at %d' % (size, HAT_MAXPI))
            size = HAT_MAXPI
        elif size < 1:
            warnings.append('CLUSTERHAT_SIZE=%d is below 1; using 1' % size)
            size = 1
    forced = config.get('clusterhat_force')
    if forced:
        parts = forced.split('.')
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            result = _result(forced, None, None, size, forced, {}, warnings)
            result['reason'] = f'CLUSTERHAT_FORCE={forced} in {defaults_file} is not a version like 2.5'
            return result
        major, minor = int(parts[0]), int(parts[1])
        return _result('%d.%d' % (major, minor), major, minor, size, forced, {}, warnings)
    hat_dir = os.path.join(proc_root, 'device-tree', 'hat')
    fields = {}
    for name in DT_FIELDS:
        try:
            fields[name] = _read_dt(os.path.join(hat_dir, name))
        except OSError:
            return None
    if fields['product'] != HAT_PRODUCT:
        return None
    try:
        value = int(fields['product_ver'].strip(), 16)
    except ValueError:
        return None
    major, minor = value >> 4, value & 0x0F
    if major not in (1, 2, 3) or value > 0x3F:
        return None
    return _result('%d.%d' % (major, minor), major, minor, size, None, fields, warnings)
