# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The i2c-tiny-usb adapter and the Linux kernel's way of sending a transfer through it (spec §1.2).

For every I2C message of a transfer the kernel (``kdrv`` usb_xfer) sends one I2C_IO control
transfer and then one GET_STATUS control transfer; a NAK reported by GET_STATUS aborts the
rest of the transfer. So each message that reaches the device costs 2 USB control transfers.

Errors surface as ``OSError`` with the errno the kernel would return:

* address NAK: ENXIO (kernels with kpatch-2019) or EREMOTEIO (``old_kernel=True``), §1.8;
* failed USB control transfer, including a GET_STATUS stage lost because the device left
  the bus (RESET, HUB_CYCLE): EIO, or EREMOTEIO on old kernels (``kdrv`` usb_xfer);
* device not on USB (after RESET / HUB_CYCLE until re-enumerated): ENODEV [UNCLEAR in §1.8;
  chosen from the listed candidates];
* zero-length read with ``no_zero_len_read=True`` (kpatch-2025 quirk, §1.3): EOPNOTSUPP.

Faults from a ``FaultPlan`` are applied per SMBus call (= per transfer).
"""

from __future__ import annotations

import errno
import os
import random

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import ADDRESS
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.faults import FaultPlan
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.i2c_errors import Nak, StatusStageLost
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.journal import BusJournal

# §1.2: the functionality mask the firmware answers to GET_FUNC and the kernel reports for I2C_FUNCS.
FUNCTIONALITY = 0x8EFF0001
I2C_FUNC_SMBUS_READ_BLOCK_DATA = 0x01000000
I2C_FUNC_SMBUS_BLOCK_PROC_CALL = 0x00008000

USB_TRANSFERS_PER_MESSAGE = 2
TRANSIENT_ERRNOS = (errno.EIO, errno.ENXIO, errno.EREMOTEIO)


def os_error(code):
    return OSError(code, os.strerror(code))


def errno_name(code):
    """Symbolic errno name, preferring the kernel's spelling (EOPNOTSUPP, not its alias ENOTSUP)."""
    if code == errno.EOPNOTSUPP:
        return 'EOPNOTSUPP'
    return errno.errorcode.get(code, str(code))


class _TransferFailed(Exception):
    def __init__(self, code, usb_transfers):
        super().__init__(code)
        self.code = code
        self.usb_transfers = usb_transfers


class I2CTinyUsbAdapter:
    """One i2c-tiny-usb adapter (one ClusterCTRL USB device) with the devices on its bus.

    ``devices`` maps 7-bit addresses to objects with ``message(is_read, data_or_length)``;
    on a ClusterCTRL only 0x20 exists and every other address NAKs (§1.3). The device at
    ``usb_address`` (default 0x20) is the MCU itself: when its ``present`` is False the
    whole adapter is gone from USB.

    ``record_messages``: keep ``message_log``, one dict per I2C message that reached the bus:
    ``{'call': n, 'addr', 'kind': 'w'|'r', 'data': [..] | None, 'length': n | None, 'result': [..] | None, 'nak': bool}``.

    ``reenumerate_after_calls``: when set, a device that left the bus comes back by itself
    after answering that many calls with ENODEV (None = only ``reenumerate()`` brings it back).
    """

    functionality = FUNCTIONALITY

    def __init__(
        self,
        devices,
        bus_number=0,
        old_kernel=False,
        no_zero_len_read=False,
        fault_plan=None,
        journal=None,
        usb_address=ADDRESS,
        reenumerate_after_calls=None,
        record_messages=False,
    ):
        self.devices = dict(devices)
        for addr in self.devices:
            if not 0 <= addr <= 0x7F:
                raise ValueError(f'I2C addresses are 7-bit, got 0x{addr:X}')
        self.bus_number = bus_number
        self.old_kernel = bool(old_kernel)
        self.no_zero_len_read = bool(no_zero_len_read)
        self.journal = journal if journal is not None else BusJournal()
        self.usb_device = self.devices.get(usb_address)
        if reenumerate_after_calls is not None and (not isinstance(reenumerate_after_calls, int) or reenumerate_after_calls < 0):
            raise ValueError('reenumerate_after_calls must be None or an integer >= 0')
        self.reenumerate_after_calls = reenumerate_after_calls
        self.message_log = [] if record_messages else None
        self.calls = 0
        self._absent_left = None
        self._reset_done = False
        self.fault_plan = FaultPlan()
        self.rng = random.Random()
        self.set_fault_plan(fault_plan)

    @classmethod
    def for_board(cls, firmware, **kwargs):
        """An adapter whose only device is this board's MCU at 0x20."""
        return cls({ADDRESS: firmware}, **kwargs)

    # ------------------------------------------------------------------ configuration

    def set_fault_plan(self, plan):
        """Install a ``FaultPlan`` (or its dict); a non-zero ``busy_messages`` is pushed to the devices."""
        if plan is None:
            plan = FaultPlan()
        elif isinstance(plan, dict):
            plan = FaultPlan.from_dict(plan)
        self.fault_plan = plan
        self.rng = random.Random(plan.seed)
        if plan.busy_messages:
            for dev in self.devices.values():
                if hasattr(dev, 'set_busy_messages'):
                    dev.set_busy_messages(plan.busy_messages)

    @property
    def nak_errno(self):
        return errno.EREMOTEIO if self.old_kernel else errno.ENXIO

    @property
    def usb_errno(self):
        return errno.EREMOTEIO if self.old_kernel else errno.EIO

    @property
    def present(self):
        return self.usb_device is None or self.usb_device.present

    def reenumerate(self):
        """The USB device is back (e.g. the test's udev saw it again)."""
        if self.usb_device is not None:
            self.usb_device.reenumerate()
        self._absent_left = None

    def supports(self, func_bit):
        return bool(self.functionality & func_bit)

    # ------------------------------------------------------------------ transfers

    def reject(self, addr, op, reg=None, code=errno.EOPNOTSUPP, data=None, length=None):
        """Journal and refuse a call the kernel turns down before any USB traffic."""
        self.calls += 1
        self.journal.record(self.bus_number, addr, op, reg=reg, data=data, length=length, error=errno_name(code))
        raise os_error(code)

    def transfer(self, addr, messages, op='i2c_rdwr', reg=None):
        """Send one kernel I2C transfer; return the list of bytes read, one item per read message.

        ``messages`` is a list of ``('w', bytes)`` / ``('r', length)``; a third item gives that
        message its own address (I2C_RDWR). Raises ``OSError`` as described in the module doc.
        """
        msgs = []
        for m in messages:
            kind = m[0]
            maddr = m[2] if len(m) > 2 else addr
            if kind == 'w':
                msgs.append(('w', bytes(bytearray(m[1])), maddr))
            elif kind == 'r':
                msgs.append(('r', int(m[1]), maddr))
            else:
                raise ValueError(f'message kind must be "w" or "r", got {kind!r}')
        written = b''.join(m[1] for m in msgs if m[0] == 'w')
        if reg is not None and msgs and msgs[0][0] == 'w':
            written = written[1:]
        read_lengths = [m[1] for m in msgs if m[0] == 'r']
        length = sum(read_lengths) if read_lengths else None
        data = None if (not written and read_lengths) else written
        self.calls += 1
        results = []
        error = None
        sent = 0
        usb = 0
        try:
            usb = self._pre_faults()
            if self.no_zero_len_read and any(m[0] == 'r' and m[1] == 0 for m in msgs):
                raise _TransferFailed(errno.EOPNOTSUPP, 0)
            after = None
            plan = self.fault_plan
            if plan.transient_error_rate and self.rng.random() < plan.transient_error_rate:
                code = self.rng.choice(TRANSIENT_ERRNOS)
                if self.rng.random() >= plan.after_effect_ratio:
                    raise _TransferFailed(code, 1)
                # After the transfer took effect the address was ACKed: a NAK (ENXIO) cannot follow (spec §1.8).
                after = errno.EIO if code == errno.ENXIO else code
            sent, usb = self._send(msgs, results)
            if after is not None:
                results = []
                raise _TransferFailed(after, usb)
        except _TransferFailed as failed:
            error = failed.code
            usb = failed.usb_transfers
            sent = max(sent, (usb + 1) // USB_TRANSFERS_PER_MESSAGE)
        activity = self._drain()
        self.journal.record(
            self.bus_number,
            addr,
            op,
            reg=reg,
            data=data,
            length=length,
            result=b''.join(results) if results and error is None else None,
            messages=sent,
            usb_transfers=usb,
            commands=activity['commands'],
            order_written=activity['order_written'],
            error=errno_name(error) if error is not None else None,
        )
        if error is not None:
            raise os_error(error)
        return results

    def _pre_faults(self):
        """Stop, self-reset and absence checks that fail a call before any message is sent."""
        plan = self.fault_plan
        if plan.stop_after_calls is not None and self.calls > plan.stop_after_calls:
            raise _TransferFailed(errno.ETIMEDOUT, 1)
        dev = self.usb_device
        if plan.reset_after_calls is not None and not self._reset_done and self.calls > plan.reset_after_calls:
            self._reset_done = True
            if dev is not None:
                dev.reset()
                self._absent_left = plan.reset_absent_calls
        if dev is None:
            return 0
        if dev.present:
            self._absent_left = None
            return 0
        if self._absent_left is None:
            self._absent_left = self.reenumerate_after_calls
        if self._absent_left is not None and self._absent_left <= 0:
            self.reenumerate()
            return 0
        if self._absent_left is not None:
            self._absent_left -= 1
        raise _TransferFailed(errno.ENODEV, 0)

    def _send(self, msgs, results):
        """usb_xfer: I2C_IO then GET_STATUS per message; returns (messages sent, USB transfers)."""
        usb = 0
        for kind, payload, maddr in msgs:
            if not self.present:
                # The device left the bus during this transfer: the next I2C_IO fails.
                raise _TransferFailed(self.usb_errno, usb + 1)
            usb += USB_TRANSFERS_PER_MESSAGE
            dev = self.devices.get(maddr)
            log = self._log(kind, payload, maddr)
            if dev is None:
                log['nak'] = True
                raise _TransferFailed(self.nak_errno, usb)  # §1.3: i2c_do() always NAKs
            try:
                out = dev.message(kind == 'r', payload)
            except Nak:
                log['nak'] = True
                raise _TransferFailed(self.nak_errno, usb)
            except StatusStageLost:
                raise _TransferFailed(self.usb_errno, usb)
            if kind == 'r':
                results.append(bytes(out))
                log['result'] = list(bytearray(out))
        return len(msgs), usb

    def _log(self, kind, payload, maddr):
        entry = {'call': self.calls, 'addr': maddr, 'kind': kind, 'data': None, 'length': None, 'result': None, 'nak': False}
        if kind == 'w':
            entry['data'] = list(bytearray(payload))
        else:
            entry['length'] = payload
        if self.message_log is not None:
            self.message_log.append(entry)
        return entry

    def _drain(self):
        commands = []
        order_written = False
        for dev in self.devices.values():
            if hasattr(dev, 'drain_activity'):
                act = dev.drain_activity()
                commands.extend(act['commands'])
                order_written = order_written or act['order_written']
        return {'commands': commands, 'order_written': order_written}
