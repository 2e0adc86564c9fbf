# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``emulated_bus()``: an emulated ClusterCTRL board ready to use in place of ``smbus2.SMBus(n)``.

It wires the three layers the virtual lab uses (virtual_lab/store.py): the firmware model
(``ClusterCTRLFirmware``), the i2c-tiny-usb adapter with the kernel's transfer rules
(``I2CTinyUsbAdapter``) and the smbus2-shaped front end (``EmulatedSMBus``)::

    bus = emulated_bus('triple')
    hat = ClusterCTRLv2Driver(bus)
    hat.power_on(1)
    bus.adapter.journal    # every SMBus call, as the lab journals it
    bus.firmware           # the board model: outputs(), eeprom, ...
"""

from __future__ import annotations

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import BoardType
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus

# A bus number no real adapter is likely to have, so that messages tell an emulated bus apart.
EMULATED_BUS_NUMBER = 99


def emulated_bus(board_type, firmware=None, order=None, bus_number: int = EMULATED_BUS_NUMBER) -> EmulatedSMBus:
    """A fresh emulated board behind an SMBus-compatible object.

    ``board_type``: a ``BoardType``, its name ('triple', 'a6', ...) or the earlier driver's
    integer TYPE code; ``firmware``: '1.4'..'1.8' (default: the newest published for the
    board); ``order``: the ORDER in its EEPROM (default: the factory 20). The returned
    ``EmulatedSMBus`` also carries ``firmware`` (the board model) and ``adapter`` (with its
    ``journal``).
    """
    if isinstance(board_type, BoardType):
        kind = board_type
    elif isinstance(board_type, int) and not isinstance(board_type, bool):
        kind = BoardType(board_type)
    else:
        kind = BoardType.from_name(board_type)
    model = ClusterCTRLFirmware(kind, firmware=firmware, order=order)
    bus = EmulatedSMBus(I2CTinyUsbAdapter.for_board(model, bus_number=bus_number))
    bus.firmware = model
    return bus
