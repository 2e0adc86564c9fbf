# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: glue shared by the clusterctrl_* modules. Not a public API; it may change at any time.

It holds the common argument spec (kept in sync with doc_fragments/clusterctrl.py) and opens
the cluster a module works on: the boards of a virtual lab, or the real boards found on the bus.
"""

from __future__ import annotations

import contextlib
import fcntl

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.cluster import Board, Cluster
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.discovery import find_clusterctrl_buses
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.driver import ClusterCTRLv2Driver
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import BusError, ClusterCTRLError, DiscoveryError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.hat import ClusterHATDriver, detect_clusterhat
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.transport import SMBUS2_IMPORT_ERROR, open_smbus

SMBUS2_HINT = ' Install it on the managed node, for example with "apt install python3-smbus2" or "pip install smbus2".'


def clusterctrl_argument_spec(**extra):
    """The options of doc_fragments/clusterctrl.py, plus the module's own ``extra`` options."""
    spec = dict(
        virtual_lab=dict(type='path', fallback=(env_fallback, ['PICLUSTER_VIRTUAL_LAB'])),
        buses=dict(type='list', elements='str'),
    )
    spec.update(extra)
    return spec


PIS_ARGUMENT_SPEC = dict(
    pis=dict(type='list', elements='str', required=True),
    controller=dict(type='str'),
)

# The ClusterHAT sits on the controller Pi's own I2C bus 1 (spec §7.3).
HAT_BUS = 1

MUTUALLY_EXCLUSIVE = [('virtual_lab', 'buses')]


def _open_locked(bus, label, handles):
    """Open a hardware bus and hold an exclusive flock on its device for the module's run.

    Two module runs on one controller (two playbooks, an async task, a cron status) then queue,
    as they do on a virtual lab, instead of interleaving commands or tripping each other's
    reset-detection token. (The official CLI takes no lock: run it between tasks, not during.)
    """
    try:
        handle = open_smbus(bus)
    except (IOError, OSError) as exc:
        raise BusError(label, 'open', exc)
    handles.append(handle)  # closed, and so unlocked, by open_cluster
    try:
        fcntl.flock(handle.fd, fcntl.LOCK_EX)
    except (IOError, OSError) as exc:
        raise BusError(label, 'lock', exc)
    return handle


def _hardware_hat(module, handles):
    """The ClusterHAT on this Pi, detected as the official CLI does (spec §7.1), or None."""
    found = detect_clusterhat()
    if found is None:
        return None
    if not found['supported']:
        raise DiscoveryError('ClusterHAT found but not supported: %s' % found['reason'])
    for warning in found.get('warnings') or []:
        module.warn(warning)
    label = 'ClusterHAT v%s on I2C bus %d' % (found['version'], HAT_BUS)
    handle = _open_locked(HAT_BUS, label, handles)
    return Board(ClusterHATDriver(handle, found['version'], size=found['size'], label=label), HAT_BUS)


def _hardware_boards(module, detect_resets, handles):
    if SMBUS2_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib('smbus2', url='https://pypi.org/project/smbus2/') + SMBUS2_HINT,
                         exception=repr(SMBUS2_IMPORT_ERROR))
    named = module.params['buses']
    boards = []
    if named:
        found = [(int(b) if b.isdigit() else b, None) for b in named]
    else:
        hat = _hardware_hat(module, handles)
        boards.extend([hat] if hat else [])
        found = find_clusterctrl_buses()
        if not found and not boards:
            raise DiscoveryError('no ClusterCTRL board or ClusterHAT found: no i2c-tiny-usb adapter with USB vendor 0x3171, no '
                                 '/dev/ClusterCTRL-* link and no ClusterHAT in /proc/device-tree/hat (is the i2c-tiny-usb binding in '
                                 'place? the picluster.clusterctrl.controller role sets it up)')
    for bus, usb_path in found:
        label = 'ClusterCTRL on I2C bus %s' % bus
        handle = _open_locked(bus, label, handles)
        driver = ClusterCTRLv2Driver(handle, label=label, randomize_factory_order=False, detect_resets=detect_resets)
        boards.append(Board(driver, bus, usb_path))
    return boards


def _lab_boards(session, detect_resets):
    boards = []
    if session.hat is not None:
        config = session.hat.config
        label = 'ClusterHAT v%s (virtual bus %d)' % (config.version, HAT_BUS)
        boards.append(Board(ClusterHATDriver(session.hat.smbus, config.version, size=config.size, label=label), HAT_BUS))
    for board in session.controllers:
        label = 'ClusterCTRL %s (order %d, virtual bus %d)' % (board.config.board_type.value, board.config.order, board.config.bus)
        driver = ClusterCTRLv2Driver(board.smbus, label=label, randomize_factory_order=False, detect_resets=detect_resets)
        boards.append(Board(driver, board.config.bus, board.usb_path))
    return boards


@contextlib.contextmanager
def open_cluster(module, read_only=False):
    """Yield the Cluster the module works on; its buses (or virtual lab) stay locked until the block ends.

    When the module may change boards (not ``read_only``, not check mode), the drivers detect a
    board that restarts during the run (ClusterCTRLv2Driver's ``detect_resets``, one write per
    board), so a reset is reported, never silently mis-reported. A read-only module writes nothing.
    """
    detect_resets = not (read_only or module.check_mode)
    lab_path = module.params['virtual_lab']
    if lab_path:
        # Imported only here: the emulator and PyYAML cost about 40 ms that a run on hardware does not need.
        from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.store import VirtualLab  # pylint: disable=import-outside-toplevel
        lab = VirtualLab(lab_path)
        with lab.session(check_mode=module.check_mode) as session:
            cluster = Cluster(_lab_boards(session, detect_resets))
            cluster.lab_state_file = lab.state_file
            yield cluster
    else:
        handles = []
        try:
            yield Cluster(_hardware_boards(module, detect_resets, handles))
        finally:
            for handle in handles:
                handle.close()


@contextlib.contextmanager
def record_if_taken(driver, record):
    """Around commands to one board: if they fail after the bus accepted a write, call ``record()``
    before the error goes on. The board may have acted (only its answer was lost, or it restarted),
    so the change is reported rather than hidden."""
    before = driver.writes_accepted
    try:
        yield
    except ClusterCTRLError:
        if driver.writes_accepted > before:
            record()
        raise


def onoff(value):
    """'on' / 'off' for a boolean state, None for an unknown one."""
    if value is None:
        return None
    return 'on' if value else 'off'


def per_pi_diff(results, key):
    """Diff-mode before/after of one boolean per Pi (``previous`` and ``key`` of each result)."""
    return dict(before=dict((name, onoff(r['previous'])) for name, r in results.items()),
                after=dict((name, onoff(r[key])) for name, r in results.items()))


def fan_info(driver):
    """The fan as far as the board can tell (spec §4 FANSTATUS, firmware 1.6+; Stack cooling-request bits)."""
    spec = driver.spec
    info = dict(supported=spec.fan != 'none', readable=False, requested=None, running=None, cooling_requests=None)
    if not info['supported'] or driver.fw_version < (1, 6):
        return info
    status = driver.fan_status()
    info.update(readable=True, requested=bool(status & 1))
    if spec.fan == 'stack':
        info['cooling_requests'] = [pi for pi in range(1, 7) if status & (1 << pi)]
        info['running'] = status != 0
    else:
        info['running'] = bool(status & 1)
    return info
