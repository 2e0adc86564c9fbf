# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How an emulated I2C device refuses or loses a message; the adapter turns these into the kernel's errors.

Raised by the firmware model (spec ``clusterctrl-protocol.md`` §1.3, §1.8, §3) and by the XRA1200 model.
"""

from __future__ import annotations


class Nak(Exception):
    """The firmware NAKed the address phase of an I2C message (§1.3, §1.8)."""


class StatusStageLost(Exception):
    """The message was handled, but the kernel's GET_STATUS control transfer that follows it fails.

    Raised after a command made the device leave the bus (RESET, HUB_CYCLE behind the
    board's own hub) or blocked USB for longer than the kernel's control-transfer timeout.
    ``reason`` is ``'gone'`` or ``'timeout'``. The i2c-tiny-usb driver reports both as a
    failed status read (EIO, EREMOTEIO before kpatch-2019).
    """

    def __init__(self, reason: str):
        super().__init__(f'GET_STATUS stage failed: {reason}')
        self.reason = reason
