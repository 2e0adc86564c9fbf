# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The virtual lab's persistent state: emulated boards that outlive one module run.

A session locks the lab (an exclusive ``flock`` on ``<state file>.lock``), loads every
board's RAM, EEPROM and pins from the state file (or builds it fresh from the lab file),
hands out one emulated SMBus per board, and on leaving — also after an error — writes the
state back atomically and appends the bus journal. Parallel forks therefore queue on the
lock and lose no update. Files are created owner-only (0600).

The journal (``<state file>.journal.jsonl``) has one JSON line per bus transaction, with
the run it belongs to, so tests can prove that a check-mode run sent no mutating command.
"""

from __future__ import annotations

import binascii
import contextlib
import json
import os
import time

from ansible_collections.picluster.clusterctrl.plugins.module_utils._private_file import (
    append_private,
    exclusive_lock,
    load_private_json,
    write_private,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.faults import FaultPlan
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.journal import BusJournal
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.xra1200 import XRA1200, HostI2CAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.lab_file import LabError, load_lab_file

STATE_FORMAT = 1


def journal_path(state_file):
    return state_file + '.journal.jsonl'


def default_usb_path(config):
    """A plausible USB path: the board's hub on root port index+1, the controller behind its GETPATH(0) hops."""
    spec = config.board_type.spec
    hops = spec.paths[0] if spec.paths else ()
    return '.'.join(['1-%d' % (config.index + 1)] + [str(h) for h in hops])


class LabController(object):
    """One emulated ClusterCTRL board in an open session."""

    def __init__(self, config, firmware, smbus, usb_path):
        self.config = config
        self.firmware = firmware
        self.smbus = smbus
        self.usb_path = usb_path


class LabHat(object):
    """The emulated ClusterHAT (XRA1200 expander on the controller's bus 1) in an open session."""

    def __init__(self, config, chip, smbus):
        self.config = config
        self.chip = chip
        self.smbus = smbus


class LabSession(object):
    """What a module sees while the lab is locked."""

    def __init__(self, run_id, check_mode, controllers, hat, journal):
        self.run_id = run_id
        self.check_mode = check_mode
        self.controllers = controllers
        self.hat = hat
        self.journal = journal


def _new_firmware(config):
    kwargs = dict(firmware=config.firmware, order=config.order, blank_eeprom=config.eeprom == 'blank', adc_raw=config.adc or None)
    if config.hats is not None:
        kwargs['da_hat_ports'] = config.hats
    if config.temperature_raw is not None:
        kwargs['temperature_raw'] = config.temperature_raw
    return ClusterCTRLFirmware(config.board_type, **kwargs)


def _adapter(lab_path, config, firmware, journal):
    try:
        faults = FaultPlan.from_dict(config.faults)
    except (TypeError, ValueError) as exc:
        raise LabError('virtual lab %s: controllers[%d]: faults: %s' % (lab_path, config.index, exc))
    return I2CTinyUsbAdapter.for_board(firmware, bus_number=config.bus, journal=journal, fault_plan=faults)


class VirtualLab(object):
    """A lab file plus its state; ``session()`` opens it for one module run."""

    def __init__(self, path):
        self.lab = load_lab_file(path)

    @property
    def state_file(self):
        return self.lab.state_file

    def _load_state(self):
        return load_private_json(self.state_file, STATE_FORMAT, LabError,
                                 'virtual lab %s: cannot read its state file %s' % (self.lab.path, self.state_file),
                                 'virtual lab %s: the state file %s is corrupt; delete it to start the lab afresh'
                                 % (self.lab.path, self.state_file))

    def _controllers(self, state, journal):
        saved = state.get('controllers') or []
        if not isinstance(saved, list):
            raise LabError('virtual lab %s: the state file %s is corrupt (controllers is not a list); delete it to start the lab afresh'
                           % (self.lab.path, self.state_file))
        controllers = []
        for config in self.lab.controllers:
            previous = saved[config.index] if config.index < len(saved) else None
            if previous is not None and not isinstance(previous, dict):
                raise LabError('virtual lab %s: the state file %s is corrupt (controllers[%d] is not a mapping); delete it to start the lab afresh'
                               % (self.lab.path, self.state_file, config.index))
            if previous is not None and previous.get('fingerprint') == config.fingerprint():
                try:
                    firmware = ClusterCTRLFirmware.from_dict(previous['firmware'])
                except (KeyError, TypeError, ValueError) as exc:
                    raise LabError('virtual lab %s: the state file %s is corrupt (controllers[%d]: %s); delete it to start the lab afresh'
                                   % (self.lab.path, self.state_file, config.index, exc))
                firmware.reenumerate()  # a new run: a board reset in an earlier run is back on USB
            else:
                firmware = _new_firmware(config)
            smbus = EmulatedSMBus(_adapter(self.lab.path, config, firmware, journal))
            controllers.append(LabController(config, firmware, smbus, config.usb_path or default_usb_path(config)))
        return controllers

    def _hat(self, state, journal):
        config = self.lab.hat
        if config is None:
            return None
        saved = state.get('hat')
        if isinstance(saved, dict) and saved.get('fingerprint') == config.fingerprint():
            try:
                chip = XRA1200.from_dict(saved['chip'])
            except (KeyError, TypeError, ValueError) as exc:
                raise LabError('virtual lab %s: the state file %s is corrupt (hat: %s); delete it to start the lab afresh'
                               % (self.lab.path, self.state_file, exc))
        else:
            chip = XRA1200(config.version, part=config.part, pos_link_cut=config.pos_link_cut, wp_link_soldered=config.wp_link_soldered)
        return LabHat(config, chip, EmulatedSMBus(HostI2CAdapter.for_hat(chip, journal=journal)))

    def _save(self, session):
        state = dict(
            format=STATE_FORMAT,
            lab=self.lab.path,
            controllers=[dict(fingerprint=c.config.fingerprint(), firmware=c.firmware.to_dict()) for c in session.controllers],
        )
        if session.hat is not None:
            state['hat'] = dict(fingerprint=session.hat.config.fingerprint(), chip=session.hat.chip.to_dict())
        write_private(self.state_file, json.dumps(state, sort_keys=True))
        entries = session.journal.to_list()
        for entry in entries:
            entry.update(run=session.run_id, check_mode=session.check_mode)
        if entries:
            append_private(journal_path(self.state_file), [json.dumps(entry, sort_keys=True) for entry in entries])

    @contextlib.contextmanager
    def session(self, check_mode=False):
        """Lock the lab, yield a LabSession, then save the boards and the journal (also on error).

        ``check_mode`` is recorded in every journal line of the run, so that one check over all
        journals can prove no check-mode run sent a mutating command.
        """
        directory = os.path.dirname(self.state_file)
        if not os.path.isdir(directory):
            raise LabError('virtual lab %s: the directory of its state file does not exist: %s' % (self.lab.path, directory))

        def lock_error(exc):
            return LabError('virtual lab %s: cannot create its lock file: %s' % (self.lab.path, exc.strerror or exc))

        with exclusive_lock(self.state_file, lock_error):
            journal = BusJournal()
            run_id = '%d-%d-%s' % (os.getpid(), int(time.time() * 1000), binascii.hexlify(os.urandom(4)).decode())
            state = self._load_state()
            session = LabSession(run_id, check_mode, self._controllers(state, journal), self._hat(state, journal), journal)
            try:
                yield session
            finally:
                self._save(session)
