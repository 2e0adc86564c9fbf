# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The boards of an open virtual lab session, built from the lab file and the saved state.

A board whose entry in the lab file still has the fingerprint it had when its state was saved
(matched by its identity key) gets that state back; any other board is built fresh, with a
new random ``instance``. Each board gets its own emulated SMBus, which records every
transaction in the session's bus journal.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.faults import FaultPlan
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.journal import BusJournal
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.xra1200 import XRA1200, HostI2CAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.lab_file import (
    ControllerConfig,
    HatConfig,
    LabFile,
    lab_error,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.state_file import SavedState, new_instance


@dataclass
class LabController:
    """One emulated ClusterCTRL board in an open session.

    ``instance`` changes whenever the board's state is built fresh (new lab, changed entry,
    deleted state file): whatever is known about the board under an older instance is stale.
    """

    config: ControllerConfig
    firmware: ClusterCTRLFirmware
    smbus: EmulatedSMBus
    usb_path: str
    instance: str


@dataclass
class LabHat:
    """The emulated ClusterHAT (XRA1200 expander on the controller's bus 1) in an open session."""

    config: HatConfig
    chip: XRA1200
    smbus: EmulatedSMBus


@dataclass
class LabSession:
    """What a module sees while the lab is locked."""

    run_id: str
    check_mode: bool
    controllers: list
    hat: LabHat | None
    journal: BusJournal


def _new_firmware(config: ControllerConfig) -> ClusterCTRLFirmware:
    kwargs = dict(firmware=config.firmware, order=config.order, blank_eeprom=config.eeprom == 'blank', adc_raw=config.adc or None)
    if config.hats is not None:
        kwargs['da_hat_ports'] = config.hats
    if config.temperature_raw is not None:
        kwargs['temperature_raw'] = config.temperature_raw
    return ClusterCTRLFirmware(config.board_type, **kwargs)


def _adapter(lab_path: str, config: ControllerConfig, firmware: ClusterCTRLFirmware, journal: BusJournal) -> I2CTinyUsbAdapter:
    try:
        faults = FaultPlan.from_dict(config.faults)
    except (TypeError, ValueError) as exc:
        raise lab_error(lab_path, f'controllers[{config.index}]: faults: {exc}')
    return I2CTinyUsbAdapter.for_board(firmware, bus_number=config.bus, journal=journal, fault_plan=faults)


def open_controllers(lab: LabFile, saved: SavedState, journal: BusJournal) -> list:
    """A LabController for every controller of ``lab``: its saved state if its entry is unchanged, else a fresh one."""
    controllers = []
    for config in lab.controllers:
        previous = saved.controllers.get(config.key)
        if previous is not None and previous.fingerprint == config.fingerprint():
            firmware, instance = previous.firmware, previous.instance
            if (firmware.board, firmware.firmware) != (config.board_type, config.firmware):
                raise lab_error(
                    lab.path,
                    f'the state of {lab.state_file} is corrupt: {previous.where}.firmware: a {firmware.board.value} '
                    f'with firmware {firmware.firmware}, but the lab has a {config.board_type.value} with firmware '
                    f'{config.firmware} there; delete the state file to start the lab afresh',
                )
            firmware.reenumerate()  # a new run: a board reset in an earlier run is back on USB
        else:
            firmware, instance = _new_firmware(config), new_instance()
        smbus = EmulatedSMBus(_adapter(lab.path, config, firmware, journal))
        controllers.append(LabController(config, firmware, smbus, config.effective_usb_path, instance))
    return controllers


def open_hat(lab: LabFile, saved: SavedState, journal: BusJournal) -> LabHat | None:
    """The LabHat of ``lab`` (None without one): its saved chip if its entry is unchanged, else a fresh one."""
    config = lab.hat
    if config is None:
        return None
    if saved.hat is not None and saved.hat[0] == config.fingerprint():
        chip = saved.hat[1]
        if (chip.version_string, chip.part) != (config.version, config.part):
            raise lab_error(
                lab.path,
                f'the state of {lab.state_file} is corrupt: hat.chip: an {chip.part} of a v{chip.version_string} HAT, '
                f'but the lab has an {config.part} of a v{config.version} HAT; delete the state file to start the '
                'lab afresh',
            )
    else:
        chip = XRA1200(config.version, part=config.part, pos_link_cut=config.pos_link_cut, wp_link_soldered=config.wp_link_soldered)
    return LabHat(config, chip, EmulatedSMBus(HostI2CAdapter.for_hat(chip, journal=journal)))
