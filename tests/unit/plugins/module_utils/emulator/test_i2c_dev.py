# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real smbus2.SMBus driven through the emulated i2c-dev ioctl boundary (spec §1.2, §1.5)."""

from __future__ import annotations

import errno

import pytest

smbus2 = pytest.importorskip('smbus2')

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import Cmd, Reg  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.i2c_dev import (  # noqa: E402
    I2C_FUNCS,
    I2C_SLAVE,
    I2cDevEndpoint,
    smbus2_on,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus  # noqa: E402

A = 0x20


def make(board='triple', **kwargs):
    fw = ClusterCTRLFirmware(board, order=20)
    return fw, I2CTinyUsbAdapter.for_board(fw, record_messages=True, bus_number=3, **kwargs)


def wire(adapter):
    """The message log reduced to (kind, bytes written or length) pairs."""
    return [(m['kind'], m['data'] if m['kind'] == 'w' else m['length']) for m in adapter.message_log]


# Each case: the smbus2 call, the I2C messages it must produce, and the value it must return
# (on a factory Triple whose register file is [2, 3, 20, 0, 1, 0...]).
CASES = [
    ('write_quick', (A,), [('w', [])], None),
    ('read_byte', (A,), [('r', 1)], 0x02),
    ('write_byte', (A, 0x04), [('w', [0x04])], None),
    ('read_byte_data', (A, Reg.ORDER), [('w', [0x02]), ('r', 1)], 20),
    ('write_byte_data', (A, Reg.MODE, 0x5A), [('w', [0x03, 0x5A])], None),
    ('read_word_data', (A, Reg.MAXPI), [('w', [0x01]), ('r', 2)], 3 | (20 << 8)),
    ('write_word_data', (A, Reg.DATA1, 0x1234), [('w', [0x0B, 0x34, 0x12])], None),
    # MODE = 0xEF, TYPE ignores 0xBE, then DATA7 and DATA6 (both 0) are read back.
    ('process_call', (A, Reg.MODE, 0xBEEF), [('w', [0x03, 0xEF, 0xBE]), ('r', 2)], 0x0000),
    ('write_block_data', (A, Reg.DATA7, [1, 2, 3]), [('w', [0x05, 3, 1, 2, 3])], None),
    ('read_i2c_block_data', (A, 0x00, 5), [('w', [0x00]), ('r', 5)], [2, 3, 20, 0, 1]),
    ('write_i2c_block_data', (A, Reg.DATA0, [2, Cmd.ON]), [('w', [0x0C, 2, 3])], None),
]


@pytest.mark.parametrize('name,args,messages,expected', CASES, ids=[c[0] for c in CASES])
def test_smbus2_call_messages(name, args, messages, expected):
    """Each smbus2 call becomes the exact I2C messages of §1.5, and EmulatedSMBus sends the same ones."""
    fw, adapter = make()
    with smbus2_on(adapter) as bus:
        result = getattr(bus, name)(*args)
    assert wire(adapter) == messages
    if expected is not None:
        assert result == expected
    entry = adapter.journal[-1]
    assert entry['op'] == name
    assert entry['usb_transfers'] == 2 * len(messages)
    assert entry['bus'] == 3
    fw2, adapter2 = make()
    result2 = getattr(EmulatedSMBus(adapter2), name)(*args)
    assert wire(adapter2) == messages
    assert result2 == result
    assert adapter2.journal.to_list() == adapter.journal.to_list()
    assert fw2.to_dict() == fw.to_dict()


def test_i2c_block_write_runs_command():
    """The combined write of §1.6 through smbus2 powers the Pi on, and the read-back shows [data0, cmd, status]."""
    fw, adapter = make()
    with smbus2_on(adapter) as bus:
        bus.write_i2c_block_data(A, Reg.DATA0, [2, Cmd.ON])
        bus.write_i2c_block_data(A, Reg.DATA0, [2, Cmd.GET_PSTATUS])
        assert bus.read_i2c_block_data(A, Reg.DATA0, 3) == [1, 0, 0]
    assert fw.outputs()['pi_power'][2] is True
    assert [c['name'] for c in adapter.journal.commands()] == ['ON', 'GET_PSTATUS']


def test_funcs_reported():
    """I2C_FUNCS answers the firmware's mask 0x8EFF0001 (§1.2) into smbus2's ctypes integer."""
    fw, adapter = make()
    with smbus2_on(adapter) as bus:
        assert int(bus.funcs) == 0x8EFF0001
        assert not bus.funcs & smbus2.I2cFunc.SMBUS_READ_BLOCK_DATA
        assert bus.funcs & smbus2.I2cFunc.SMBUS_READ_I2C_BLOCK
        with pytest.raises(IOError):
            bus.enable_pec(True)


def test_read_block_data_refused():
    """SMBus block read is refused with EOPNOTSUPP and nothing reaches the bus (§1.2, §9.2 B3)."""
    fw, adapter = make()
    with smbus2_on(adapter) as bus:
        with pytest.raises(OSError) as exc:
            bus.read_block_data(A, Reg.DATA2)
        assert exc.value.errno == errno.EOPNOTSUPP
        with pytest.raises(OSError) as exc:
            bus.block_process_call(A, Reg.DATA2, [1])
        assert exc.value.errno == errno.EOPNOTSUPP
    assert adapter.message_log == []
    assert [e['error'] for e in adapter.journal] == ['EOPNOTSUPP', 'EOPNOTSUPP']


def test_i2c_rdwr():
    """I2C_RDWR: messages with their own addresses; read buffers are filled in place."""
    fw, adapter = make()
    with smbus2_on(adapter) as bus:
        write = smbus2.i2c_msg.write(A, [0x00])
        read = smbus2.i2c_msg.read(A, 5)
        bus.i2c_rdwr(write, read)
        assert list(read) == [2, 3, 20, 0, 1]
        with pytest.raises(OSError) as exc:
            bus.i2c_rdwr(smbus2.i2c_msg.write(0x50, [0]), smbus2.i2c_msg.read(0x50, 1))
        assert exc.value.errno == errno.ENXIO
    assert wire(adapter) == [('w', [0]), ('r', 5), ('w', [0])]
    assert adapter.journal[-1]['messages'] == 1
    assert adapter.journal[-1]['usb_transfers'] == 2


def test_nak_surfaces_as_errno():
    """A NAK becomes OSError(ENXIO), or EREMOTEIO with an old kernel (§1.8)."""
    for old_kernel, code in ((False, errno.ENXIO), (True, errno.EREMOTEIO)):
        fw, adapter = make(old_kernel=old_kernel)
        with smbus2_on(adapter) as bus:
            with pytest.raises(OSError) as exc:
                bus.read_byte_data(0x21, 0)
            assert exc.value.errno == code


def test_force_and_address_change():
    """I2C_SLAVE_FORCE and I2C_SLAVE both set the address; an out-of-range address is EINVAL."""
    fw, adapter = make()
    with smbus2_on(adapter, force=True) as bus:
        assert bus.read_byte_data(A, Reg.MAXPI, force=True) == 3
        assert bus.read_byte_data(A, Reg.MAXPI, force=False) == 3
        with pytest.raises(OSError) as exc:
            bus.read_byte_data(0x80, 0)
        assert exc.value.errno == errno.EINVAL


def test_endpoint_direct_ioctl():
    """The endpoint answers unknown descriptors with EBADF and unknown requests with ENOTTY."""
    fw, adapter = make()
    endpoint = I2cDevEndpoint()
    fd = endpoint.open(adapter)
    try:
        assert endpoint.ioctl(fd, I2C_SLAVE, A) == 0
        with pytest.raises(OSError) as exc:
            endpoint.ioctl(fd, 0x1234, 0)
        assert exc.value.errno == errno.ENOTTY
        with pytest.raises(OSError) as exc:
            endpoint.ioctl(fd + 1000, I2C_FUNCS, 0)
        assert exc.value.errno == errno.EBADF
    finally:
        import os

        os.close(fd)
        endpoint.forget(fd)


def test_patch_is_removed():
    """Leaving the context restores smbus2's own ioctl."""
    original = smbus2.smbus2.ioctl
    fw, adapter = make()
    with smbus2_on(adapter):
        assert smbus2.smbus2.ioctl is not original
    assert smbus2.smbus2.ioctl is original
