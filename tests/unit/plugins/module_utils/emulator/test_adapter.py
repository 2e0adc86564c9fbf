# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""I2CTinyUsbAdapter: USB transfer counting, errno mapping, absence and re-enumeration (spec §1.2, §1.8)."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import Cmd, Reg
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus

A = 0x20


def make(board='triple', **kwargs):
    fw = ClusterCTRLFirmware(board)
    adapter = I2CTinyUsbAdapter.for_board(fw, record_messages=True, **kwargs)
    return fw, adapter, EmulatedSMBus(adapter)


@pytest.mark.parametrize(
    'call,args,usb',
    [
        ('write_quick', (A,), 2),
        ('read_byte', (A,), 2),
        ('write_byte', (A, 2), 2),
        ('write_byte_data', (A, 3, 1), 2),
        ('read_byte_data', (A, 2), 4),
        ('read_i2c_block_data', (A, 0, 15), 4),
        ('write_i2c_block_data', (A, 5, [1] * 7), 2),
        ('read_word_data', (A, 0), 4),
        ('write_word_data', (A, 3, 0), 2),
        ('process_call', (A, 3, 0), 4),
    ],
)
def test_usb_transfers_per_call(call, args, usb):
    """§1.5: each I2C message costs one I2C_IO and one GET_STATUS control transfer."""
    fw, adapter, bus = make()
    getattr(bus, call)(*args)
    assert adapter.journal[-1]['usb_transfers'] == usb
    assert adapter.journal[-1]['messages'] == usb // 2


def test_nak_aborts_transfer():
    """A NAK on the first message aborts the transfer: the read is never sent (kdrv usb_xfer)."""
    fw, adapter, bus = make()
    with pytest.raises(OSError) as exc:
        bus.read_byte_data(0x21, 0)
    assert exc.value.errno == errno.ENXIO
    entry = adapter.journal[-1]
    assert (entry['messages'], entry['usb_transfers'], entry['error'], entry['result']) == (1, 2, 'ENXIO', None)
    assert [m['nak'] for m in adapter.message_log] == [True]


def test_old_kernel_errnos():
    fw, adapter, bus = make(old_kernel=True)
    with pytest.raises(OSError) as exc:
        bus.write_quick(0x22)
    assert exc.value.errno == errno.EREMOTEIO
    with pytest.raises(OSError) as exc:
        bus.write_byte_data(A, Reg.CMD, Cmd.RESET)  # status stage lost
    assert exc.value.errno == errno.EREMOTEIO


def test_device_leaves_mid_transfer():
    """RESET in the first message: its status stage fails (EIO) and the following read is never sent."""
    fw, adapter, bus = make()
    with pytest.raises(OSError) as exc:
        adapter.transfer(A, [('w', [Reg.CMD, Cmd.RESET]), ('r', 1)])
    assert exc.value.errno == errno.EIO
    entry = adapter.journal[-1]
    assert (entry['messages'], entry['usb_transfers']) == (1, 2)
    assert entry['commands'][0]['name'] == 'RESET'
    assert entry['commands'][0]['status'] == 0
    assert entry['mutating'] is True


def test_absent_device_is_enodev_until_reenumerated():
    fw, adapter, bus = make()
    with pytest.raises(OSError):
        bus.write_byte_data(A, Reg.CMD, Cmd.RESET)
    for _unused in range(3):
        with pytest.raises(OSError) as exc:
            bus.read_byte_data(A, 0)
        assert exc.value.errno == errno.ENODEV
        assert adapter.journal[-1]['usb_transfers'] == 0
    assert adapter.present is False
    adapter.reenumerate()
    assert bus.read_byte_data(A, 0) == 2


def test_reenumerate_after_calls():
    fw, adapter, bus = make('single', reenumerate_after_calls=2)
    with pytest.raises(OSError):
        bus.write_byte_data(A, Reg.CMD, Cmd.HUB_CYCLE)
    errors = []
    for _unused in range(4):
        try:
            bus.read_byte_data(A, 0)
            errors.append(None)
        except OSError as e:
            errors.append(e.errno)
    assert errors == [errno.ENODEV, errno.ENODEV, None, None]


def test_zero_length_read_quirk():
    """§1.3: kpatch-2025 kernels refuse zero-length reads (EOPNOTSUPP); older ones pass them through."""
    fw, adapter, bus = make()
    assert adapter.transfer(A, [('r', 0)], op='read_quick') == [b'']
    fw2, adapter2, bus2 = make(no_zero_len_read=True)
    with pytest.raises(OSError) as exc:
        adapter2.transfer(A, [('r', 0)], op='read_quick')
    assert exc.value.errno == errno.EOPNOTSUPP
    bus2.write_quick(A)


def test_message_log_and_invalid_kind():
    fw, adapter, bus = make()
    bus.read_i2c_block_data(A, Reg.DATA0, 3)
    assert adapter.message_log == [
        {'call': 1, 'addr': A, 'kind': 'w', 'data': [0x0C], 'length': None, 'result': None, 'nak': False},
        {'call': 1, 'addr': A, 'kind': 'r', 'data': None, 'length': 3, 'result': [0, 0, 0], 'nak': False},
    ]
    with pytest.raises(ValueError):
        adapter.transfer(A, [('x', 1)])
    with pytest.raises(ValueError):
        I2CTinyUsbAdapter({0x80: fw})
