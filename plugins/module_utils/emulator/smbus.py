# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``EmulatedSMBus``: a drop-in for ``smbus2.SMBus`` that talks to an emulated i2c-tiny-usb adapter.

Each call becomes the I2C messages the kernel's SMBus emulation would send (spec §1.5):

=====================================  ==========================  =====
call                                   messages                    USB
=====================================  ==========================  =====
write_quick(a)                         W[]                         2
read_byte(a)                           R[1]                        2
write_byte(a, v)                       W[v]                        2
read_byte_data(a, r)                   W[r] R[1]                   4
write_byte_data(a, r, v)               W[r, v]                     2
read_word_data(a, r)                   W[r] R[2]                   4
write_word_data(a, r, w)               W[r, lo, hi]                2
process_call(a, r, w)                  W[r, lo, hi] R[2]           4
write_block_data(a, r, d)              W[r, len(d), d...]          2
read_i2c_block_data(a, r, n)           W[r] R[n]                   4
write_i2c_block_data(a, r, d)          W[r, d...]                  2
=====================================  ==========================  =====

``read_block_data`` and ``block_process_call`` need adapter functions the firmware does not
offer (§1.2, §9.2 B3); they fail with ``OSError(EOPNOTSUPP)`` and send nothing. (A real
kernel would send the emulated transfer anyway and return garbage; refusing loudly makes a
driver that uses them fail its tests.) Values outside 0..255 (0..65535 for words) raise
``ValueError`` where smbus2's ctypes fields would silently truncate them.
"""

from __future__ import annotations

import errno

I2C_SMBUS_BLOCK_MAX = 32
I2C_FUNC_SMBUS_PEC = 0x00000008


def _check(value, limit, what):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise ValueError('%s must be an integer 0..%d, got %r' % (what, limit, value))
    return value


class EmulatedSMBus:
    """Same methods and signatures as ``smbus2.SMBus``, sent through ``adapter.transfer``."""

    def __init__(self, adapter, force=False):
        self.adapter = adapter
        self.bus_number = adapter.bus_number
        self.funcs = adapter.functionality
        self.force = force
        self.address = None
        self._force_last = None
        self._pec = 0
        self.fd = None
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()

    def close(self):
        self.closed = True
        self.address = None
        self._force_last = None
        self._pec = 0

    def _get_pec(self):
        return self._pec

    def enable_pec(self, enable=True):
        """The adapter has no SMBus PEC (§1.2 mask); smbus2 raises IOError in that case."""
        if not self.funcs & I2C_FUNC_SMBUS_PEC:
            raise OSError('SMBUS_PEC is not a feature')
        self._pec = int(enable)

    pec = property(_get_pec, enable_pec)

    def _set_address(self, i2c_addr, force=None):
        if self.closed:
            raise ValueError('the bus is closed')
        _check(i2c_addr, 0x7F, 'i2c_addr')
        self.address = i2c_addr
        self._force_last = force if force is not None else self.force

    def _xfer(self, op, i2c_addr, messages, reg=None, force=None):
        self._set_address(i2c_addr, force)
        return self.adapter.transfer(i2c_addr, messages, op=op, reg=reg)

    def write_quick(self, i2c_addr, force=None):
        self._xfer('write_quick', i2c_addr, [('w', b'')], force=force)

    def read_byte(self, i2c_addr, force=None):
        return self._xfer('read_byte', i2c_addr, [('r', 1)], force=force)[0][0]

    def write_byte(self, i2c_addr, value, force=None):
        _check(value, 0xFF, 'value')
        self._xfer('write_byte', i2c_addr, [('w', bytes([value]))], reg=value, force=force)

    def read_byte_data(self, i2c_addr, register, force=None):
        _check(register, 0xFF, 'register')
        return self._xfer('read_byte_data', i2c_addr, [('w', bytes([register])), ('r', 1)], register, force)[0][0]

    def write_byte_data(self, i2c_addr, register, value, force=None):
        _check(register, 0xFF, 'register')
        _check(value, 0xFF, 'value')
        self._xfer('write_byte_data', i2c_addr, [('w', bytes([register, value]))], register, force)

    def read_word_data(self, i2c_addr, register, force=None):
        _check(register, 0xFF, 'register')
        out = self._xfer('read_word_data', i2c_addr, [('w', bytes([register])), ('r', 2)], register, force)[0]
        return out[0] | (out[1] << 8)

    def write_word_data(self, i2c_addr, register, value, force=None):
        _check(register, 0xFF, 'register')
        _check(value, 0xFFFF, 'value')
        self._xfer('write_word_data', i2c_addr, [('w', bytes([register, value & 0xFF, value >> 8]))], register, force)

    def process_call(self, i2c_addr, register, value, force=None):
        _check(register, 0xFF, 'register')
        _check(value, 0xFFFF, 'value')
        msgs = [('w', bytes([register, value & 0xFF, value >> 8])), ('r', 2)]
        out = self._xfer('process_call', i2c_addr, msgs, register, force)[0]
        return out[0] | (out[1] << 8)

    def read_block_data(self, i2c_addr, register, force=None):
        """Refused: the adapter lacks SMBus block read (§1.2, §9.2 B3). Use read_i2c_block_data."""
        _check(register, 0xFF, 'register')
        self._set_address(i2c_addr, force)
        self.adapter.reject(i2c_addr, 'read_block_data', reg=register, code=errno.EOPNOTSUPP)

    def write_block_data(self, i2c_addr, register, data, force=None):
        data = list(data)
        if len(data) > I2C_SMBUS_BLOCK_MAX:
            raise ValueError('Data length cannot exceed %d bytes' % I2C_SMBUS_BLOCK_MAX)
        _check(register, 0xFF, 'register')
        for v in data:
            _check(v, 0xFF, 'data byte')
        self._xfer('write_block_data', i2c_addr, [('w', bytes([register, len(data)] + data))], register, force)

    def block_process_call(self, i2c_addr, register, data, force=None):
        """Refused: the adapter lacks SMBus block process call (§1.2)."""
        data = list(data)
        if len(data) > I2C_SMBUS_BLOCK_MAX:
            raise ValueError('Data length cannot exceed %d bytes' % I2C_SMBUS_BLOCK_MAX)
        self._set_address(i2c_addr, force)
        self.adapter.reject(i2c_addr, 'block_process_call', reg=register, data=data, code=errno.EOPNOTSUPP)

    def read_i2c_block_data(self, i2c_addr, register, length, force=None):
        if length > I2C_SMBUS_BLOCK_MAX:
            raise ValueError('Desired block length over %d bytes' % I2C_SMBUS_BLOCK_MAX)
        _check(register, 0xFF, 'register')
        _check(length, I2C_SMBUS_BLOCK_MAX, 'length')
        out = self._xfer('read_i2c_block_data', i2c_addr, [('w', bytes([register])), ('r', length)], register, force)
        return list(bytearray(out[0]))

    def write_i2c_block_data(self, i2c_addr, register, data, force=None):
        data = list(data)
        if len(data) > I2C_SMBUS_BLOCK_MAX:
            raise ValueError('Data length cannot exceed %d bytes' % I2C_SMBUS_BLOCK_MAX)
        _check(register, 0xFF, 'register')
        for v in data:
            _check(v, 0xFF, 'data byte')
        self._xfer('write_i2c_block_data', i2c_addr, [('w', bytes([register] + data))], register, force)

    def i2c_rdwr(self, *i2c_msgs):
        """Combined transfer of smbus2 ``i2c_msg`` objects (duck-typed: addr, flags, len, buf)."""
        import ctypes

        msgs = []
        for m in i2c_msgs:
            if m.flags & 0x0001:
                msgs.append(('r', m.len, m.addr))
            else:
                msgs.append(('w', ctypes.string_at(m.buf, m.len), m.addr))
        if self.closed:
            raise ValueError('the bus is closed')
        addr = msgs[0][2] if msgs else 0
        results = self.adapter.transfer(addr, msgs, op='i2c_rdwr')
        reads = [m for m in i2c_msgs if m.flags & 0x0001]
        for m, data in zip(reads, results):
            ctypes.memmove(m.buf, data, len(data))
