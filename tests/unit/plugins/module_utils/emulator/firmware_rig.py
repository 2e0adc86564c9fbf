# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One emulated ClusterCTRL board on an emulated SMBus, for the firmware model's tests."""

from __future__ import annotations

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import BoardType
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import Cmd, Reg
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus

A = 0x20
ALL = [bt.value for bt in BoardType]


def rig(board, **kwargs):
    fw = ClusterCTRLFirmware(board, **kwargs)
    return fw, EmulatedSMBus(I2CTinyUsbAdapter.for_board(fw))


def send(bus, code, data0=None):
    if data0 is None:
        bus.write_byte_data(A, Reg.CMD, code)
    else:
        bus.write_i2c_block_data(A, Reg.DATA0, [data0, code])


def reset(fw, bus):
    with pytest.raises(OSError):
        send(bus, Cmd.RESET)
    fw.reenumerate()
