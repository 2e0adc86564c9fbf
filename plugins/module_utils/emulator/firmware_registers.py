# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ClusterCTRL firmware's register file as I2C messages see it: pointer, reads, writes, pending commands.

``FirmwareRegisters`` is mixed into ``ClusterCTRLFirmware``. It models the register pointer (§1.4),
the 8-byte write-piece mis-parse (§1.9), which registers a write changes (§1.10, §2), slow-command
mode (§1.8) and the record of each command for the bus journal. Section numbers point into the
project's protocol spec (``clusterctrl-protocol.md``).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import (
    MAX_WRITE_MESSAGE,
    REGISTER_FILE_SIZE,
    Reg,
    command_name,
    data_register,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.i2c_errors import Nak, StatusStageLost


class FirmwareRegisters:
    """Transport side of ``ClusterCTRLFirmware``: one I2C message to 0x20 at a time."""

    def message(self, is_read: bool, data_or_length: Any) -> bytes | None:
        """Handle one I2C message addressed to 0x20.

        A write takes ``bytes`` (or a list of ints) and returns None; a read takes a length
        and returns ``bytes``. Raises ``Nak`` for a write while CMD != 0 (§1.8) and
        ``StatusStageLost`` when a command run by this message drops the device (§3).
        """
        busy = self.pending > 0
        if busy:
            self.pending -= 1
        try:
            if is_read:
                return self._read(int(data_or_length))
            if busy or self.regs[Reg.CMD] != 0:
                raise Nak(f'write while a command is pending (CMD=0x{self.regs[Reg.CMD]:02X})')
            self._write(bytes(bytearray(data_or_length)))
            return None
        finally:
            if busy and self.pending == 0:
                self._run_pending()

    def _read(self, length):
        out = bytearray()
        for _unused in range(length):
            out.append(self._register_value(self.ptr))
            self.ptr = (self.ptr + 1) & 0xFF
        return bytes(out)

    def _register_value(self, addr):
        """§1.10 / §2: 0x00-0x0E from the register file, 0x20 = EXISTS on the DA, anything else 0xFF."""
        if addr < REGISTER_FILE_SIZE:
            return self.regs[addr]
        if addr == Reg.EXISTS and self.spec.gpio == 'E':
            return self.exists
        return 0xFF

    def _write(self, data):
        lost = None
        for start in range(0, len(data), MAX_WRITE_MESSAGE):
            piece = data[start:][:MAX_WRITE_MESSAGE]
            # §1.9 [BUG]: the first byte of every 8-byte piece loads the pointer.
            self.ptr = piece[0]
            for value in piece[1:]:
                self._store(self.ptr, value)
                self.ptr = (self.ptr + 1) & 0xFF
            if self.regs[Reg.CMD] != 0:
                if self.busy_messages:
                    # Slow mode: the command stays pending; the rest of this data stage is thrown away.
                    self.pending = self.busy_messages
                    self._activity.append(self._command_record(self.regs[Reg.CMD], None, 0, deferred=True))
                    break
                lost = self._execute() or lost
                if not self.present:
                    break
        if lost:
            raise StatusStageLost(lost)

    def _run_pending(self):
        lost = self._execute()
        if lost:
            raise StatusStageLost(lost)

    def _store(self, addr, value):
        """§2 / §1.10: which registers a write changes; the pointer advances regardless."""
        if addr == Reg.ORDER:
            self.regs[Reg.ORDER] = value if value else 1
            self._order_written = True
        elif addr == Reg.MODE or addr == Reg.CMD:
            self.regs[addr] = value
        elif Reg.DATA7 <= addr <= Reg.DATA0:
            self.regs[addr] = value
            k = Reg.DATA0 - addr
            if k not in self.written_data:
                self.written_data.append(k)

    def drain_activity(self) -> dict[str, Any]:
        """Return and forget what happened since the last call (for the bus journal).

        ``{'commands': [record, ...], 'order_written': bool}``; each record is
        ``{code, name, args, status, deferred, duration_ms}`` (``status`` None while deferred).
        """
        out = {'commands': self._activity, 'order_written': self._order_written}
        self._activity = []
        self._order_written = False
        return out

    # ------------------------------------------------------------------ register helpers

    def data(self, k: int) -> int:
        return self.regs[data_register(k)]

    def set_data(self, k: int, value: int) -> None:
        self.regs[data_register(k)] = value & 0xFF

    def _bit(self, field, p):
        return bool((field[(p - 1) // 8] >> ((p - 1) % 8)) & 1)

    def _set_bit(self, field, p, on):
        if on:
            field[(p - 1) // 8] |= 1 << ((p - 1) % 8)
        else:
            field[(p - 1) // 8] &= ~(1 << ((p - 1) % 8)) & 0xFF

    def _valid_pi(self, p):
        return 1 <= p <= self.spec.maxpi

    def _command_record(self, code, status, duration_ms, deferred=False):
        args = []
        if self.written_data:
            args = [self.data(k) for k in range(max(self.written_data) + 1)]
        return {'code': code, 'name': command_name(code), 'args': args, 'status': status, 'deferred': deferred, 'duration_ms': round(duration_ms, 3)}
