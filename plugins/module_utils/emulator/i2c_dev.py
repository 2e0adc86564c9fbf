# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Linux i2c-dev ioctl boundary, answered by an emulated adapter, so that a real ``smbus2.SMBus`` works.

``I2cDevEndpoint.ioctl(fd, request, arg)`` decodes what smbus2 (0.4.2 and 0.6.x) passes to
``fcntl.ioctl``:

* ``I2C_SLAVE`` / ``I2C_SLAVE_FORCE``: the 7-bit address (an int); > 0x7F is EINVAL;
* ``I2C_FUNCS``: a ctypes integer (``c_uint32`` in 0.4.2, ``c_ulong`` in 0.6.x) that receives
  the adapter's functionality (0x8EFF0001, spec §1.2);
* ``I2C_SMBUS``: smbus2's ``i2c_smbus_ioctl_data`` (read_write, command, size, data pointer),
  turned into I2C messages the way the kernel's ``i2c_smbus_xfer_emulated`` does (the
  i2c-tiny-usb driver has no SMBus hook of its own), and the answer written back into the union;
* ``I2C_RDWR``: smbus2's ``i2c_rdwr_ioctl_data``; read buffers are filled in place;
* ``I2C_PEC``, ``I2C_TENBIT``, ``I2C_RETRIES``, ``I2C_TIMEOUT``: accepted and recorded
  (smbus2 never enables PEC here, the adapter lacks it); anything else is ENOTTY.

The ctypes structures are used by duck typing, so this module imports smbus2 only inside
``I2cDevEndpoint.patch_smbus2`` (ansible-test's import sanity test runs without it).

SMBus block read and block process call are refused with EOPNOTSUPP, as by
``EmulatedSMBus``: the adapter lacks them (§1.2, §9.2 B3), and the real kernel would
return uninitialised buffer bytes.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os

from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import os_error

# uapi/linux/i2c-dev.h
I2C_RETRIES = 0x0701
I2C_TIMEOUT = 0x0702
I2C_SLAVE = 0x0703
I2C_TENBIT = 0x0704
I2C_FUNCS = 0x0705
I2C_SLAVE_FORCE = 0x0706
I2C_RDWR = 0x0707
I2C_PEC = 0x0708
I2C_SMBUS = 0x0720
I2C_RDWR_IOCTL_MAX_MSGS = 42

# uapi/linux/i2c.h
I2C_M_RD = 0x0001
I2C_SMBUS_READ = 1
I2C_SMBUS_WRITE = 0
I2C_SMBUS_QUICK = 0
I2C_SMBUS_BYTE = 1
I2C_SMBUS_BYTE_DATA = 2
I2C_SMBUS_WORD_DATA = 3
I2C_SMBUS_PROC_CALL = 4
I2C_SMBUS_BLOCK_DATA = 5
I2C_SMBUS_I2C_BLOCK_BROKEN = 6
I2C_SMBUS_BLOCK_PROC_CALL = 7
I2C_SMBUS_I2C_BLOCK_DATA = 8
I2C_SMBUS_BLOCK_MAX = 32

# The smbus2 method each (size, read_write) pair comes from; used as the journal's ``op``.
SMBUS_OP_NAMES = {
    (I2C_SMBUS_QUICK, I2C_SMBUS_WRITE): 'write_quick',
    (I2C_SMBUS_QUICK, I2C_SMBUS_READ): 'read_quick',
    (I2C_SMBUS_BYTE, I2C_SMBUS_READ): 'read_byte',
    (I2C_SMBUS_BYTE, I2C_SMBUS_WRITE): 'write_byte',
    (I2C_SMBUS_BYTE_DATA, I2C_SMBUS_READ): 'read_byte_data',
    (I2C_SMBUS_BYTE_DATA, I2C_SMBUS_WRITE): 'write_byte_data',
    (I2C_SMBUS_WORD_DATA, I2C_SMBUS_READ): 'read_word_data',
    (I2C_SMBUS_WORD_DATA, I2C_SMBUS_WRITE): 'write_word_data',
    (I2C_SMBUS_PROC_CALL, I2C_SMBUS_READ): 'process_call',
    (I2C_SMBUS_PROC_CALL, I2C_SMBUS_WRITE): 'process_call',
    (I2C_SMBUS_BLOCK_DATA, I2C_SMBUS_READ): 'read_block_data',
    (I2C_SMBUS_BLOCK_DATA, I2C_SMBUS_WRITE): 'write_block_data',
    (I2C_SMBUS_BLOCK_PROC_CALL, I2C_SMBUS_READ): 'block_process_call',
    (I2C_SMBUS_BLOCK_PROC_CALL, I2C_SMBUS_WRITE): 'block_process_call',
    (I2C_SMBUS_I2C_BLOCK_DATA, I2C_SMBUS_READ): 'read_i2c_block_data',
    (I2C_SMBUS_I2C_BLOCK_DATA, I2C_SMBUS_WRITE): 'write_i2c_block_data',
}


class _OpenFile:
    """State the kernel keeps per open /dev/i2c-N file (the i2c_client)."""

    def __init__(self, adapter):
        self.adapter = adapter
        self.address = None
        self.pec = 0
        self.tenbit = 0
        self.retries = 0
        self.timeout = 0


def smbus_messages(read_write, command, size, block):
    """``i2c_smbus_xfer_emulated``: the I2C messages for one SMBus transfer.

    ``block`` is the 34-byte data union as a list (byte = block[0], word = block[0..1]).
    Returns (messages, read_write) where a PROC_CALL is always a read. Raises OSError(EINVAL)
    where the kernel does.
    """
    if size == I2C_SMBUS_QUICK:
        return [('r', 0) if read_write == I2C_SMBUS_READ else ('w', b'')], read_write
    if size == I2C_SMBUS_BYTE:
        if read_write == I2C_SMBUS_READ:
            return [('r', 1)], read_write
        return [('w', bytes([command]))], read_write
    if size == I2C_SMBUS_BYTE_DATA:
        if read_write == I2C_SMBUS_READ:
            return [('w', bytes([command])), ('r', 1)], read_write
        return [('w', bytes([command, block[0]]))], read_write
    if size == I2C_SMBUS_WORD_DATA:
        if read_write == I2C_SMBUS_READ:
            return [('w', bytes([command])), ('r', 2)], read_write
        return [('w', bytes([command, block[0], block[1]]))], read_write
    if size == I2C_SMBUS_PROC_CALL:
        return [('w', bytes([command, block[0], block[1]])), ('r', 2)], I2C_SMBUS_READ
    if size == I2C_SMBUS_BLOCK_DATA and read_write == I2C_SMBUS_WRITE:
        if block[0] > I2C_SMBUS_BLOCK_MAX:
            raise os_error(errno.EINVAL)
        length = block[0]
        return [('w', bytes([command] + block[: length + 1]))], read_write
    if size == I2C_SMBUS_I2C_BLOCK_DATA:
        if block[0] > I2C_SMBUS_BLOCK_MAX:
            raise os_error(errno.EINVAL)
        if read_write == I2C_SMBUS_READ:
            return [('w', bytes([command])), ('r', block[0])], read_write
        length = block[0]
        return [('w', bytes([command] + block[1:][:length]))], read_write
    raise os_error(errno.EOPNOTSUPP)


class I2cDevEndpoint:
    """The kernel side of /dev/i2c-N files whose adapters are emulated."""

    def __init__(self):
        self.files = {}

    def open(self, adapter):
        """Open a real file descriptor (on /dev/null) standing for /dev/i2c-N of ``adapter``."""
        fd = os.open(os.devnull, os.O_RDWR)
        self.files[fd] = _OpenFile(adapter)
        return fd

    def owns(self, fd):
        return fd in self.files

    def forget(self, fd):
        self.files.pop(fd, None)

    def ioctl(self, fd, request, arg=0, mutate_flag=True):
        """Answer one ioctl on an emulated i2c-dev file, like ``fcntl.ioctl`` would (OSError on failure)."""
        f = self.files.get(fd)
        if f is None:
            raise os_error(errno.EBADF)
        if request in (I2C_SLAVE, I2C_SLAVE_FORCE):
            addr = int(arg)
            if addr < 0 or addr > (0x3FF if f.tenbit else 0x7F):
                raise os_error(errno.EINVAL)
            f.address = addr
            return 0
        if request == I2C_FUNCS:
            arg.value = f.adapter.functionality
            return 0
        if request == I2C_SMBUS:
            return self._smbus(f, arg)
        if request == I2C_RDWR:
            return self._rdwr(f, arg)
        if request == I2C_PEC:
            f.pec = int(bool(arg))
            return 0
        if request == I2C_TENBIT:
            f.tenbit = int(bool(arg))
            return 0
        if request == I2C_RETRIES:
            f.retries = int(arg)
            return 0
        if request == I2C_TIMEOUT:
            f.timeout = int(arg)
            return 0
        raise os_error(errno.ENOTTY)

    def _smbus(self, f, arg):
        read_write, command, size = int(arg.read_write), int(arg.command), int(arg.size)
        if read_write not in (I2C_SMBUS_READ, I2C_SMBUS_WRITE) or size not in (
            I2C_SMBUS_QUICK,
            I2C_SMBUS_BYTE,
            I2C_SMBUS_BYTE_DATA,
            I2C_SMBUS_WORD_DATA,
            I2C_SMBUS_PROC_CALL,
            I2C_SMBUS_BLOCK_DATA,
            I2C_SMBUS_I2C_BLOCK_BROKEN,
            I2C_SMBUS_BLOCK_PROC_CALL,
            I2C_SMBUS_I2C_BLOCK_DATA,
        ):
            raise os_error(errno.EINVAL)
        needs_data = not (size == I2C_SMBUS_QUICK or (size == I2C_SMBUS_BYTE and read_write == I2C_SMBUS_WRITE))
        if needs_data and not arg.data:
            raise os_error(errno.EINVAL)
        union = arg.data.contents if needs_data else None
        block = list(union.block) if union is not None else [0] * (I2C_SMBUS_BLOCK_MAX + 2)
        if size == I2C_SMBUS_I2C_BLOCK_BROKEN:
            size = I2C_SMBUS_I2C_BLOCK_DATA
            if read_write == I2C_SMBUS_READ:
                block[0] = I2C_SMBUS_BLOCK_MAX
        op = SMBUS_OP_NAMES[(size, read_write)]
        if f.address is None:
            raise os_error(errno.EINVAL)
        if (size == I2C_SMBUS_BLOCK_DATA and read_write == I2C_SMBUS_READ) or size == I2C_SMBUS_BLOCK_PROC_CALL:
            f.adapter.reject(f.address, op, reg=command, code=errno.EOPNOTSUPP)
        messages, direction = smbus_messages(read_write, command, size, block)
        reg = command if size not in (I2C_SMBUS_QUICK,) and not (size == I2C_SMBUS_BYTE and read_write == I2C_SMBUS_READ) else None
        results = f.adapter.transfer(f.address, messages, op=op, reg=reg)
        if direction == I2C_SMBUS_READ and union is not None and results:
            data = bytearray(results[-1])
            if size in (I2C_SMBUS_BYTE, I2C_SMBUS_BYTE_DATA):
                union.byte = data[0]
            elif size in (I2C_SMBUS_WORD_DATA, I2C_SMBUS_PROC_CALL):
                union.word = data[0] | (data[1] << 8)
            elif size == I2C_SMBUS_I2C_BLOCK_DATA:
                for i, value in enumerate(data):
                    union.block[i + 1] = value
        return 0

    def _rdwr(self, f, arg):
        nmsgs = int(arg.nmsgs)
        if nmsgs > I2C_RDWR_IOCTL_MAX_MSGS or not arg.msgs:
            raise os_error(errno.EINVAL)
        structs = [arg.msgs[i] for i in range(nmsgs)]
        messages = []
        for m in structs:
            if m.flags & I2C_M_RD:
                messages.append(('r', int(m.len), int(m.addr)))
            else:
                messages.append(('w', ctypes.string_at(m.buf, m.len), int(m.addr)))
        addr = messages[0][2] if messages else 0
        results = f.adapter.transfer(addr, messages, op='i2c_rdwr')
        reads = [m for m in structs if m.flags & I2C_M_RD]
        for m, data in zip(reads, results):
            ctypes.memmove(m.buf, data, len(data))
        return nmsgs

    @contextlib.contextmanager
    def patch_smbus2(self):
        """Route smbus2's ``ioctl`` calls on this endpoint's descriptors here (others go to the real one)."""
        from smbus2 import smbus2 as module  # pylint: disable=import-outside-toplevel

        original = module.ioctl

        def ioctl(fd, request, arg=0, mutate_flag=True):
            if self.owns(fd):
                return self.ioctl(fd, request, arg)
            return original(fd, request, arg, mutate_flag)

        module.ioctl = ioctl
        try:
            yield self
        finally:
            module.ioctl = original

    def smbus2_bus(self, adapter, force=False):
        """A real ``smbus2.SMBus`` opened on ``adapter`` (use inside ``patch_smbus2``)."""
        from smbus2 import SMBus  # pylint: disable=import-outside-toplevel

        bus = SMBus(force=force)
        bus.fd = self.open(adapter)
        bus.funcs = bus._get_funcs()  # pylint: disable=protected-access
        return bus


@contextlib.contextmanager
def smbus2_on(adapter, force=False):
    """``with smbus2_on(adapter) as bus:`` gives a real ``smbus2.SMBus`` talking to the emulated adapter."""
    endpoint = I2cDevEndpoint()
    with endpoint.patch_smbus2():
        bus = endpoint.smbus2_bus(adapter, force=force)
        fd = bus.fd
        try:
            yield bus
        finally:
            bus.close()
            endpoint.forget(fd)
