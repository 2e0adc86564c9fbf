# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Opening the boards a run works on, without Ansible: a virtual lab's, or the real ones.

Shared by the ``clusterctrl`` command and (see the report of issue 11) the modules' glue,
so that both build the same drivers with the same labels:

* ``lab_boards(session)``: the boards of an open ``VirtualLab.session()``;
* ``hardware_boards(handles)``: the ClusterHAT found as the official CLI finds it (spec §7.1)
  and every ClusterCTRL adapter (spec §1.1, §8.2), each bus opened with smbus2 and held under an
  exclusive ``flock`` until the caller closes the handles it collected.

``driver_options`` go to every ``ClusterCTRLv2Driver`` (the modules: ``detect_resets=True``;
the command: ``combined_transfers=True``); ``wrap(bus, label, is_hat)`` (default: the bus as it is) is
applied to every opened bus before a driver sees it (the command's ``--dry-run`` puts its write filter there).
"""

from __future__ import annotations

import fcntl
import re

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.cluster import Board
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.discovery import find_clusterctrl_buses
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.driver import ClusterCTRLv2Driver
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import AddressingError, BusError, DiscoveryError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.hat import HAT_BUS, ClusterHATDriver, detect_clusterhat
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.transport import SMBUS2_IMPORT_ERROR, open_smbus

NO_BOARDS = (
    'no ClusterCTRL board or ClusterHAT found: no i2c-tiny-usb adapter with USB vendor 0x3171, no /dev/ClusterCTRL-* '
    'link and no ClusterHAT in /proc/device-tree/hat (is the i2c-tiny-usb binding in place? the '
    'picluster.clusterctrl.controller role sets it up)'
)


def _as_is(bus, _label, _is_hat):
    return bus


def parse_bus(text) -> int | str:
    """A bus number (ASCII digits only: ``int()`` would take '١' for 1) or an absolute device path."""
    text = str(text).strip()
    if re.fullmatch(r'[0-9]{1,4}', text):
        return int(text)
    if text.startswith('/dev/') and '\n' not in text and '\x00' not in text:
        return text
    raise AddressingError(f'buses: {text!r} is neither a bus number (ASCII digits, like 3) nor a device path (like /dev/i2c-3)')


def open_locked(bus, label: str, handles: list):
    """Open a hardware bus and hold an exclusive flock on its device until the handle is closed.

    Two runs on one controller (two playbooks, an async task, a cron status, this command)
    then queue, as they do on a virtual lab, instead of interleaving commands. (The official
    CLI takes no lock: run it between tasks, not during.) The handle is appended to
    ``handles`` before locking, so the caller closes it whatever happens.
    """
    if SMBUS2_IMPORT_ERROR is not None:
        raise DiscoveryError(f'the Python library smbus2 is needed to reach the boards: {SMBUS2_IMPORT_ERROR}')
    try:
        handle = open_smbus(bus)
    except OSError as exc:
        raise BusError(label, 'open', exc) from exc
    handles.append(handle)
    try:
        fcntl.flock(handle.fd, fcntl.LOCK_EX)
    except OSError as exc:
        raise BusError(label, 'lock', exc) from exc
    return handle


def hardware_hat(handles: list, warn=None, wrap=_as_is, found=None) -> Board | None:
    """The ClusterHAT on this Pi (``found``: a ``detect_clusterhat()`` result, detected here when None), or None."""
    found = detect_clusterhat() if found is None else found
    if not found:
        return None
    if not found['supported']:
        raise DiscoveryError(f'ClusterHAT found but not supported: {found["reason"]}')
    for warning in found.get('warnings') or []:
        if warn is not None:
            warn(warning)
    label = f'ClusterHAT v{found["version"]} on I2C bus {HAT_BUS}'
    handle = wrap(open_locked(HAT_BUS, label, handles), label, True)
    return Board(ClusterHATDriver(handle, found['version'], size=found['size'], label=label), HAT_BUS)


def hardware_boards(handles: list, buses=None, warn=None, wrap=_as_is, hat=None, **driver_options) -> list:
    """Every board on this Pi (``buses``: only the ClusterCTRLs on these buses, no HAT).

    ``hat``: a ``detect_clusterhat()`` result the caller already has (detected here when None).
    Raises DiscoveryError when nothing is found, BusError when a bus cannot be opened.
    """
    boards = []
    if buses:
        found = [(parse_bus(b), None) for b in buses]
    else:
        board = hardware_hat(handles, warn, wrap, found=hat)
        boards.extend([board] if board else [])
        found = find_clusterctrl_buses()
        if not found and not boards:
            raise DiscoveryError(NO_BOARDS)
    options = dict(randomize_factory_order=False)
    options.update(driver_options)
    for bus, usb_path in found:
        label = f'ClusterCTRL on I2C bus {bus}'
        handle = wrap(open_locked(bus, label, handles), label, False)
        boards.append(Board(ClusterCTRLv2Driver(handle, label=label, **options), bus, usb_path))
    return boards


def lab_boards(session, wrap=_as_is, **driver_options) -> list:
    """The boards of an open virtual-lab session, HAT first."""
    boards = []
    options = dict(randomize_factory_order=False)
    options.update(driver_options)
    if session.hat is not None:
        config = session.hat.config
        label = f'ClusterHAT v{config.version} (virtual bus {HAT_BUS})'
        boards.append(Board(ClusterHATDriver(wrap(session.hat.smbus, label, True), config.version, size=config.size, label=label), HAT_BUS))
    for board in session.controllers:
        config = board.config
        label = f'ClusterCTRL {config.board_type.value} (order {config.order}, virtual bus {config.bus}, USB path {board.usb_path})'
        driver = ClusterCTRLv2Driver(wrap(board.smbus, label, False), label=label, **options)
        boards.append(Board(driver, config.bus, board.usb_path, instance=board.instance))
    return boards
