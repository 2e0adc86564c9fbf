# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How one firmware command crosses the bus: the wire side of ClusterCTRLv2Driver (spec §1.6-§1.9).

``CommandChannel.send`` writes the arguments and the command code, then reads a run of
registers ending at STATUS, re-reading while CMD is still set (§1.7). What the bytes mean
(STATUS codes, reset detection, outputs) is the driver's business.

* One combined write ``[args..., cmd]`` ending at CMD (§1.6), never longer than the firmware's
  8-byte piece (§1.9): longer payloads (the earlier driver's ``clear=True`` zero padding) go
  as several writes, the one carrying CMD last.
* ``combine``: a read-only command (§3: GET_PSTATUS, GET_USTATUS, GET_DATA, GETPATH) goes as
  ONE I2C_RDWR transfer of three messages: the write, a pointer write, the read. The firmware
  runs the command between the messages (§1.7), the adapter offers plain I2C (§1.2), and the
  USB cost is the same 3 messages as two SMBus calls. Only read-only commands are combined:
  after a failure part-way a retry re-sends the command, which must be harmless.
* ``delay``: the earlier driver's fixed sleep between the command and the read (§9.1 ``_call``).
"""

from __future__ import annotations

import errno
import time

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import BusError, CommandError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import (
    DATA_REGISTERS,
    MAX_WRITE_MESSAGE,
    ONCE_ONLY_COMMANDS,
    READ_ONLY_COMMANDS,
    TRANSIENT_ERRNOS,
    Reg,
    command_name,
)

# How often to read [CMD, STATUS] while CMD is still set (spec §1.7: practically never needed).
BUSY_POLLS = 20
BUSY_POLL_INTERVAL = 0.005
# Reads that decide whether a board left the bus after a failed RESET or HUB_CYCLE write.
PROBE_ATTEMPTS = 5


class CommandChannel:
    """Sends commands to one board through a RetryingBus (see the module doc for the options)."""

    def __init__(self, io, label: str, sleep=time.sleep, delay: float = 0.0, clear: bool = False, combine: bool = False):
        self.io = io
        self.label = label
        self.delay = delay
        self.clear = clear
        self.combine = combine and io.can_combine
        self._sleep = sleep

    def writes(self, cmd: int, args) -> list:
        """The write messages of a command as ``[(register, values), ...]``: arguments are stored DATAk first (§1.6)."""
        args = [int(a) & 0xFF for a in args]
        if self.clear:
            args += [0] * (DATA_REGISTERS - len(args))  # the earlier driver zeroed every unused data register
        if len(args) > DATA_REGISTERS:
            raise ValueError(f'a command takes at most {DATA_REGISTERS} arguments, got {len(args)}')
        values = list(reversed(args)) + [int(cmd)]
        register = Reg.CMD - len(args)
        room = MAX_WRITE_MESSAGE - 1  # the register byte travels in the same message
        messages = []
        while len(values) > room:
            head = min(room, len(values) - room)
            messages.append((register, values[:head]))
            register, values = register + head, values[head:]
        messages.append((register, values))
        return messages

    def send(self, cmd: int, args=(), first: int = Reg.DATA0, pi=None) -> list:
        """Run one command; return the registers ``first`` .. STATUS as read once CMD is 0."""
        retry = (errno.ENXIO,) if cmd in ONCE_ONLY_COMMANDS else TRANSIENT_ERRNOS
        messages = self.writes(cmd, args)
        length = Reg.STATUS - first + 1
        if self.combine and len(messages) == 1 and not self.delay and cmd in READ_ONLY_COMMANDS:
            register, values = messages[0]
            data = self.io.write_read(register, values, first, length, retry=retry)
        else:
            for register, values in messages:
                if len(values) == 1:
                    self.io.write_byte(register, values[0], retry=retry)
                else:
                    self.io.write_block(register, values, retry=retry)
            if self.delay:
                self._sleep(self.delay)
            data = self.io.read_block(first, length)
        polls = 1
        while data[-2] != 0:
            if polls >= BUSY_POLLS:
                raise CommandError(self.label, command_name(cmd), data[-1], pi, f'the firmware did not finish the command (CMD still 0x{data[-2]:02X})')
            self._sleep(BUSY_POLL_INTERVAL)
            data = self.io.read_block(first, length)
            polls += 1
        return data

    def send_once(self, register: int, payload, drops_off: bool, marker=None) -> None:
        """Write a command after which the device leaves USB (RESET; HUB_CYCLE on a board with a hub).

        Only a NAK (ENXIO: the write was refused, so the command did not run) is retried: a retry
        could run it twice. An error after the write can be the device leaving as expected, or a
        USB failure before the command reached it (§1.8); one probe tells them apart: a device that
        no longer answers, or answers without the run's MODE token ``marker``, went away as
        expected; one that still answers with the token never got the command, and the error goes on.
        """
        try:
            self.io.write_block(register, payload, retry=(errno.ENXIO,))
        except BusError as exc:
            if not drops_off or exc.errno == errno.ENXIO or not self._went_away(marker):
                raise

    def _went_away(self, marker) -> bool:
        """After a RESET or HUB_CYCLE write failed: is the device gone (or back, restarted)? Reads ORDER and MODE, no retries."""
        for _attempt in range(PROBE_ATTEMPTS):
            try:
                _order, mode = self.io.bus.read_i2c_block_data(self.io.address, Reg.ORDER, 2)
            except OSError as exc:
                if exc.errno in (errno.EIO, errno.EREMOTEIO):
                    continue  # a USB hiccup, or the device on its way out: ask again
                return True  # ENODEV, ESHUTDOWN, EPROTO, ETIMEDOUT: no longer there
            return marker is not None and mode != marker
        return False  # still ambiguous: say so rather than guess
