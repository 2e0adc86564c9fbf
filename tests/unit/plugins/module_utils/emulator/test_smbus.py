# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""EmulatedSMBus: smbus2-compatible surface, limits and the refused block read (spec §1.2, §1.5, §9.2 B3)."""

from __future__ import annotations

import errno
import inspect

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import Cmd, Reg
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus

A = 0x20
METHODS = [
    'write_quick',
    'read_byte',
    'write_byte',
    'read_byte_data',
    'write_byte_data',
    'read_word_data',
    'write_word_data',
    'process_call',
    'read_block_data',
    'write_block_data',
    'block_process_call',
    'read_i2c_block_data',
    'write_i2c_block_data',
]


def make(board='triple', **kwargs):
    fw = ClusterCTRLFirmware(board, **kwargs)
    adapter = I2CTinyUsbAdapter.for_board(fw, bus_number=4, record_messages=True)
    return fw, adapter, EmulatedSMBus(adapter)


@pytest.mark.parametrize('name', METHODS)
def test_signatures_match_smbus2(name):
    smbus2 = pytest.importorskip('smbus2')
    ours = inspect.signature(getattr(EmulatedSMBus, name))
    theirs = inspect.signature(getattr(smbus2.SMBus, name))
    assert list(ours.parameters) == list(theirs.parameters)
    assert ours.parameters['force'].default is None


def test_read_block_data_refused():
    """read_block_data: OSError(EOPNOTSUPP), nothing sent, journalled as refused."""
    fw, adapter, bus = make()
    with pytest.raises(OSError) as exc:
        bus.read_block_data(A, Reg.DATA2)
    assert exc.value.errno == errno.EOPNOTSUPP
    assert adapter.message_log == []
    assert adapter.journal[-1]['op'] == 'read_block_data'
    assert adapter.journal[-1]['usb_transfers'] == 0


def test_block_limits_and_value_checks():
    fw, adapter, bus = make()
    with pytest.raises(ValueError):
        bus.read_i2c_block_data(A, 0, 33)
    with pytest.raises(ValueError):
        bus.write_i2c_block_data(A, 0, [0] * 33)
    with pytest.raises(ValueError):
        bus.write_block_data(A, 0, [0] * 33)
    with pytest.raises(ValueError):
        bus.write_byte_data(A, 0, 256)
    with pytest.raises(ValueError):
        bus.write_word_data(A, 0, 0x10000)
    with pytest.raises(ValueError):
        bus.read_byte_data(0x80, 0)
    assert len(adapter.journal) == 0
    bus.read_i2c_block_data(A, 0, 32)
    assert adapter.journal[-1]['length'] == 32


def test_long_write_goes_out_as_one_message():
    """A 32-byte write is one message; the firmware splits it into 8-byte pieces (§1.9)."""
    fw, adapter, bus = make()
    payload = [0x40 + i for i in range(31)]
    payload[7] = Reg.MODE  # the 9th byte of the message starts piece 2: a new pointer, 0x03
    bus.write_i2c_block_data(A, Reg.DATA7, payload)
    assert len(adapter.message_log) == 1
    assert fw.regs[Reg.MODE] == payload[8]
    assert fw.regs[Reg.DATA7] == payload[10]  # 0x04 (TYPE) ignored, then DATA7


def test_context_manager_and_attributes():
    fw, adapter, bus = make()
    assert bus.bus_number == 4
    with bus as b:
        assert b.read_byte_data(A, Reg.MAXPI, force=True) == 3
        assert b.address == A
    with pytest.raises(ValueError, match='closed'):
        bus.read_byte_data(A, 0)
    with pytest.raises(IOError):
        make()[2].enable_pec(True)
    assert make()[2].pec == 0


def test_word_and_process_call_byte_order():
    fw, adapter, bus = make()
    bus.write_word_data(A, Reg.DATA1, 0x0203)
    assert (fw.regs[Reg.DATA1], fw.regs[Reg.DATA0]) == (0x03, 0x02)
    assert bus.read_word_data(A, Reg.DATA1) == 0x0203
    assert bus.process_call(A, Reg.DATA7, 0x0506) == 0x0000  # DATA5, DATA4 read back


def test_write_block_data_carries_count():
    fw, adapter, bus = make()
    bus.write_block_data(A, Reg.DATA7, [9, 8])
    assert adapter.message_log[-1]['data'] == [Reg.DATA7, 2, 9, 8]
    assert (fw.regs[Reg.DATA7], fw.regs[Reg.DATA6], fw.regs[Reg.DATA5]) == (2, 9, 8)


def test_cli_style_command_sequence():
    """The official CLI's way (§8.4): one write_byte_data per data register, then CMD."""
    fw, adapter, bus = make('phat')
    bus.write_byte_data(A, Reg.DATA0, 2)
    bus.write_byte_data(A, Reg.CMD, Cmd.ON)
    assert fw.outputs()['pi_power'][2] is True
    assert adapter.journal.commands()[-1]['args'] == [2]
    assert adapter.journal.usb_transfers == 4


def test_i2c_rdwr_duck_typed():
    smbus2 = pytest.importorskip('smbus2')
    fw, adapter, bus = make()
    read = smbus2.i2c_msg.read(A, 3)
    bus.i2c_rdwr(smbus2.i2c_msg.write(A, [0]), read)
    assert list(read) == [2, 3, 20]
