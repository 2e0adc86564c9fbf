# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``DryRunBus``: an SMBus wrapper that lets reads through and reports, instead of sending, every write.

What a dry run may send: reads, and on a ClusterCTRL the read-only commands (spec §3:
GET_PSTATUS, GET_USTATUS, GET_DATA, GETPATH; ``protocol.READ_ONLY_COMMANDS``), whose write
only fills data registers and CMD. Every other write (a command that changes the board, a
write of ORDER or MODE, any write to a ClusterHAT's expander) is described to ``report`` and
dropped, so the virtual lab journal of a dry run holds no mutating entry.

So that the drivers carry on as if it had been sent:

* ClusterCTRL: the read that follows a dropped command sees CMD = 0 and STATUS = 0 (OK) (§1.7);
* ClusterHAT: a register written is read back with the value written (XRA1200 OUT, DIR, PUR,
  §7.3). Pin levels (IN) stay what the pins really show.
"""

from __future__ import annotations

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import (
    READ_ONLY_COMMANDS,
    Reg,
    command_name,
)

# §7.3: the XRA1200 registers a ClusterHAT driver writes.
EXPANDER_REGISTERS = {0x01: 'OUT', 0x03: 'DIR', 0x04: 'PUR'}


def _hex(values) -> str:
    return '[' + ', '.join(f'0x{v:02X}' for v in values) + ']'


class DryRunBus:
    """Wraps one bus; ``expander`` is True for a ClusterHAT's XRA1200, False for a ClusterCTRL."""

    def __init__(self, bus, label: str, report, expander: bool = False):
        self.bus = bus
        self.label = label
        self.report = report
        self.expander = expander
        self.dropped = 0
        self._shadow = {}  # expander register -> value written
        self._faked = False  # a ClusterCTRL command was dropped: fake its completion in the next read

    def __getattr__(self, name):
        return getattr(self.bus, name)

    # ------------------------------------------------------------------ what is let through
    def _read_only_command(self, register: int, values) -> bool:
        """True for a ClusterCTRL write that only fills data registers and triggers a read-only command."""
        if self.expander or not values:
            return False
        last = register + len(values) - 1
        return register >= Reg.DATA7 and last == Reg.CMD and values[-1] in READ_ONLY_COMMANDS

    def _describe(self, call: str, address: int, register: int, values) -> str:
        text = f'{self.label}: {call}(0x{address:02X}, 0x{register:02X}, {_hex(values)})'
        if self.expander and register in EXPANDER_REGISTERS:
            text += f': {EXPANDER_REGISTERS[register]} = 0x{values[0]:02X}'
        elif not self.expander and register <= Reg.CMD <= register + len(values) - 1:
            code = values[Reg.CMD - register]
            args = list(reversed(values[: Reg.CMD - register]))
            text += f': {command_name(code)}' + (f' {", ".join(str(a) for a in args)}' if args else '')
        return text

    def _drop(self, call: str, address: int, register: int, values) -> None:
        self.report(self._describe(call, address, register, values))
        self.dropped += 1
        if self.expander:
            for offset, value in enumerate(values):
                self._shadow[register + offset] = value
        elif register <= Reg.CMD <= register + len(values) - 1:
            self._faked = True

    def _fake(self, register: int, data: list) -> list:
        """A read after a dropped command: CMD and STATUS read as a finished, successful command."""
        if self._faked:
            for reg in (Reg.CMD, Reg.STATUS):
                if register <= reg < register + len(data):
                    data[reg - register] = 0
            self._faked = False
        return data

    # ------------------------------------------------------------------ writes
    def write_byte_data(self, address, register, value, force=None):
        if self._read_only_command(register, [value]):
            return self.bus.write_byte_data(address, register, value)
        return self._drop('write_byte_data', address, register, [value])

    def write_i2c_block_data(self, address, register, values, force=None):
        values = list(values)
        if self._read_only_command(register, values):
            return self.bus.write_i2c_block_data(address, register, values)
        return self._drop('write_i2c_block_data', address, register, values)

    def i2c_rdwr(self, *messages):
        """Only the driver's combined transfers of read-only commands (command.py) go through."""
        first = bytes(messages[0]) if messages and not messages[0].flags & 0x0001 else b''
        if not first or not self._read_only_command(first[0], list(first[1:])):
            raise OSError(f'{self.label}: dry run: refusing an I2C transfer that may change the board')
        return self.bus.i2c_rdwr(*messages)

    def write_byte(self, address, value, force=None):
        return self._drop('write_byte', address, value, [])

    def write_quick(self, address, force=None):
        self.report(f'{self.label}: write_quick(0x{address:02X})')

    # ------------------------------------------------------------------ reads
    def read_byte_data(self, address, register, force=None):
        if register in self._shadow:
            self.bus.read_byte_data(address, register)  # the same traffic as a real run
            return self._shadow[register]
        return self.bus.read_byte_data(address, register)

    def read_i2c_block_data(self, address, register, length, force=None):
        return self._fake(register, list(self.bus.read_i2c_block_data(address, register, length)))
