# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Access to one I2C bus: the SMBus calls the driver uses, with bounded retries.

The driver needs four SMBus calls (spec §1.5): block read, block write, byte read, byte write.
Transient errors (spec §1.8: EIO, ENXIO, EREMOTEIO) are retried a bounded number of times
with a short back-off; every other error, and a transient one that outlasts the retries,
becomes a BusError naming the board. Any object with smbus2's method names works as the
underlying bus: smbus2.SMBus on hardware, the emulator's EmulatedSMBus in a virtual lab.
"""

from __future__ import annotations

import errno
import time

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import BusError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import ADDRESS, TRANSIENT_ERRNOS

try:
    import smbus2

    SMBUS2_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the managed node
    smbus2 = None
    SMBUS2_IMPORT_ERROR = exc

DEFAULT_ATTEMPTS = 5
# Errors after which a write certainly did not reach the board: an address NAK (spec §1.8) and a
# device that is gone from the bus (its node cannot even start a transfer). After any other error
# (EIO, EREMOTEIO, a transfer timeout) the board may have received the bytes.
NOT_REACHED_ERRNOS = frozenset((errno.ENXIO, errno.ENODEV))
# Back-off before retry n (seconds): 2, 4, 8, 16 ms: at most 30 ms spent retrying one call.
BACKOFF_BASE = 0.002


class RetryingBus:
    """The SMBus calls of one board, retried on transient errors.

    ``label`` names the board in error messages; ``attempts`` bounds the tries per call.
    ``retries`` counts the retries made, so callers can report them. ``writes`` counts the write
    calls that may have reached the board: every one that succeeded, and every one that failed
    with an error other than NOT_REACHED_ERRNOS. An EIO, EREMOTEIO or ETIMEDOUT can come after
    the transfer took effect, so such a write is counted as possibly taken, never as not done.
    """

    def __init__(self, bus, label, address=ADDRESS, attempts=DEFAULT_ATTEMPTS, sleep=time.sleep):
        if attempts < 1:
            raise ValueError('attempts must be at least 1')
        self.bus = bus
        self.label = label
        self.address = address
        self.attempts = attempts
        self.retries = 0
        self.writes = 0
        self._sleep = sleep

    def _call(self, operation, method, *args, retry=TRANSIENT_ERRNOS, write=False):
        reached = False
        try:
            for attempt in range(1, self.attempts + 1):
                try:
                    result = method(self.address, *args)
                    reached = True
                    return result
                except OSError as exc:
                    reached = reached or exc.errno not in NOT_REACHED_ERRNOS
                    if exc.errno not in retry or attempt == self.attempts:
                        raise BusError(self.label, operation, exc, attempt) from exc
                    self.retries += 1
                    self._sleep(BACKOFF_BASE * (2 ** (attempt - 1)))
            raise AssertionError('unreachable')  # pragma: no cover
        finally:
            if write and reached:
                self.writes += 1

    def read_block(self, register, length):
        return list(self._call('read of %d bytes at 0x%02X' % (length, register), self.bus.read_i2c_block_data, register, length))

    def write_block(self, register, values, retry=TRANSIENT_ERRNOS):
        """Block write; ``retry`` narrows which errnos are retried (for commands that must not run twice)."""
        return self._call(f'write at 0x{register:02X}', self.bus.write_i2c_block_data, register, list(values), retry=retry, write=True)

    def read_byte(self, register):
        return self._call(f'read at 0x{register:02X}', self.bus.read_byte_data, register)

    def write_byte(self, register, value, retry=TRANSIENT_ERRNOS):
        return self._call(f'write at 0x{register:02X}', self.bus.write_byte_data, register, value, retry=retry, write=True)

    @property
    def can_combine(self) -> bool:
        """True when ``write_read`` works: smbus2 builds the messages, and the bus has I2C_RDWR (spec §1.2: plain I2C)."""
        return smbus2 is not None and callable(getattr(self.bus, 'i2c_rdwr', None))

    def write_read(self, register, values, read_register, length, retry=TRANSIENT_ERRNOS):
        """ONE I2C_RDWR transfer: write ``[register, values...]``, then ``[read_register]``, then read ``length`` bytes.

        The messages are rebuilt for every attempt. A failure part-way may follow the first write,
        so callers use this only where sending that write twice is harmless.
        """

        def transfer(address):
            read = smbus2.i2c_msg.read(address, length)
            self.bus.i2c_rdwr(smbus2.i2c_msg.write(address, [register] + list(values)), smbus2.i2c_msg.write(address, [read_register]), read)
            return list(read)

        return self._call(f'combined write at 0x{register:02X} and read of {length} bytes at 0x{read_register:02X}', transfer, retry=retry, write=True)


def open_smbus(bus):
    """Open a hardware bus by number or /dev path with smbus2 (the caller checks SMBUS2_IMPORT_ERROR first)."""
    if smbus2 is None:
        raise RuntimeError('smbus2 is not installed')
    return smbus2.SMBus(bus)
