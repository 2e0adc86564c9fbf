# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ClusterCTRL I2C register protocol: addresses, registers, commands, status codes.

Every value here is restated from ``clusterctrl-protocol.md`` (the project's spec);
section numbers are given beside each group. Both the driver and the firmware emulator
build on these names, so that neither invents its own copy of the wire contract.
"""

from __future__ import annotations

import errno
from enum import IntEnum

# §1.3: the firmware implements exactly one 7-bit address.
ADDRESS = 0x20
# The earlier arrdem driver's name for it (§9.1), kept for its users.
I2C_ADDRESS = ADDRESS

# §2: register layout version held in register 0x00 on every board.
REGISTER_LAYOUT_VERSION = 0x02

# §1.9: V-USB hands writes over in 8-byte pieces and the firmware re-reads the pointer
# from the first byte of every piece, so one write message must be at most 8 bytes
# (the register byte included).
MAX_WRITE_MESSAGE = 8

# §1.8: errno values a driver should treat as "retry" (NAK before/after kpatch-2019, USB failure).
TRANSIENT_ERRNOS = frozenset((errno.EIO, errno.ENXIO, errno.EREMOTEIO))


class Reg(IntEnum):
    """§2 register map of device 0x20."""

    VERSION = 0x00
    MAXPI = 0x01
    ORDER = 0x02
    MODE = 0x03
    TYPE = 0x04
    DATA7 = 0x05
    DATA6 = 0x06
    DATA5 = 0x07
    DATA4 = 0x08
    DATA3 = 0x09
    DATA2 = 0x0A
    DATA1 = 0x0B
    DATA0 = 0x0C
    CMD = 0x0D
    STATUS = 0x0E
    EXISTS = 0x20  # DA only


# Number of registers from VERSION to STATUS inclusive: one block read returns them all (§10.3).
REGISTER_FILE_SIZE = 15
# §2: the data registers DATA0..DATA7.
DATA_REGISTERS = 8


def data_register(k):
    """Address of DATAk: the data registers sit in reverse order, DATA0 at 0x0C (§1.6)."""
    if not 0 <= k < DATA_REGISTERS:
        raise ValueError('there is no DATA%d register' % k)
    return Reg.DATA0 - k


class Cmd(IntEnum):
    """§3 command codes written to CMD (0x0D)."""

    INIT = 0x01  # never dispatched
    RESCAN = 0x02  # never dispatched
    ON = 0x03
    OFF = 0x04
    ALERT_ON = 0x05
    ALERT_OFF = 0x06
    HUB_CYCLE = 0x07
    HUB_ON = 0x08  # never dispatched
    HUB_OFF = 0x09  # never dispatched
    LED_EN = 0x0A
    LED_DIS = 0x0B
    PWR_ON = 0x0C
    PWR_OFF = 0x0D
    RESET = 0x0E
    GET_PSTATUS = 0x0F
    FAN = 0x10
    GETPATH = 0x11
    USBBOOT_EN = 0x12
    USBBOOT_DIS = 0x13
    GET_USTATUS = 0x14
    SET_ORDER = 0x15
    ACT_EN = 0x16
    ACT_DIS = 0x17
    PING = 0x90  # never dispatched: answers UNKNOWN_COMMAND
    SAVE = 0xF0
    SAVEDEFAULTS = 0xF1
    GET_DATA = 0xF2
    SAVEORDER = 0xF3
    SAVEUSBBOOT = 0xF4
    SAVEPOS = 0xF5
    SAVELED = 0xF6

    # The earlier arrdem driver's names (§9.1), kept as aliases: Cmd(0xF1).name stays SAVEDEFAULTS.
    SAVE_DEFAULTS = 0xF1
    SAVE_ORDER = 0xF3
    SAVE_USBBOOT = 0xF4
    SAVE_POS = 0xF5
    SAVE_LEDS = 0xF6
    NOP = 0x90  # §3 [DISAGREE]: called a no-op, but never dispatched (STATUS 0x03)


# Commands that only read: everything else written to CMD can change an output, RAM
# state that is visible later, or the EEPROM. Check mode sends nothing but these.
READ_ONLY_COMMANDS = frozenset((Cmd.GET_PSTATUS, Cmd.GET_USTATUS, Cmd.GET_DATA, Cmd.GETPATH))


# Commands that must never run twice (§5: each writes EEPROM cells, which wear out; RESET and
# HUB_CYCLE drop the board off USB): once a write carrying one may have reached the board, it is not
# retried. Only an address NAK (ENXIO, §1.8) proves it did not.
ONCE_ONLY_COMMANDS = frozenset((Cmd.SAVE, Cmd.SAVEDEFAULTS, Cmd.SAVEORDER, Cmd.SAVEUSBBOOT, Cmd.SAVEPOS, Cmd.SAVELED, Cmd.RESET, Cmd.HUB_CYCLE))


def command_name(code):
    """Name of a command code, or hex for codes the protocol does not define."""
    try:
        return Cmd(code).name
    except ValueError:
        return f'0x{code:02X}'


def is_mutating_command(code):
    """True when writing this code to CMD may change the board (unknown codes count as mutating)."""
    return code != 0 and code not in READ_ONLY_COMMANDS


class Status(IntEnum):
    """§2 STATUS codes."""

    OK = 0x00
    NOT_SUPPORTED = 0x01  # unsupported sub-command/channel, SET_ORDER(0), GETPATH out of range
    NO_SUCH_PI = 0x02  # GET_PSTATUS with an invalid Pi
    UNKNOWN_COMMAND = 0x03  # command not compiled in on this board / firmware
    SHOULD_HAVE_RESET = 0x04  # documented only, never produced

    # The earlier arrdem driver's names (§9.1), kept as aliases.
    OKAY = 0x00
    UNSUPPORTED = 0x01
    NO_PI = 0x02
    UNKNOWN = 0x03
    RESET_FAILED = 0x04


STATUS_TEXT = {
    Status.OK: 'ok',
    Status.NOT_SUPPORTED: 'not supported or bad argument',
    Status.NO_SUCH_PI: 'no such Pi',
    Status.UNKNOWN_COMMAND: 'unknown command (not available on this board or firmware)',
    Status.SHOULD_HAVE_RESET: 'should have reset',
}


def status_text(code):
    try:
        return STATUS_TEXT[Status(code)]
    except ValueError:
        return 'undefined status'


class GetData(IntEnum):
    """§4 GET_DATA (0xF2) sub-commands, passed in DATA0."""

    VERSION = 0x00
    ADC_CNT = 0x01
    ADC_READ = 0x02
    ADC_TEMP = 0x03
    FANSTATUS = 0x04  # firmware 1.6 and later


# The earlier arrdem driver's name for the GET_DATA sub-commands (§9.1: same members and values).
Data = GetData

# §4: GET_USTATUS / GET_PSTATUS "no answer" sentinel.
UNSUPPORTED_SENTINEL = 0xFF

# §4 ADC channel types and their millivolts per raw count.
ADC_MV_PER_COUNT = {
    1: 3300.0 * 2 / 1024,  # 3.3 V reference, input halved: 6.4453125
    2: 3300.0 / 1024 * 11.07 / 1.07,  # 10k + 1.07k divider: 33.34093896028037
}

# §4: ADC_TEMP reports this marker in DATA0 on boards with a sensor.
ADC_TEMP_MARKER = 0x02


def temperature_celsius(raw):
    """°C from the raw on-chip sensor value with the official CLI's formula (§4: uncalibrated)."""
    return round((raw - 247) / 1.22, 2)


# §10.4: HUB_CYCLE units; one unit is 160 000 cycles at 12 MHz, minimum 10 units.
HUB_CYCLE_UNIT_MS = 40000 * 4 / 12000.0
HUB_CYCLE_MIN_UNITS = 10


class Eeprom(IntEnum):
    """§5.1 EEPROM layout (offsets)."""

    ORDER = 0x01
    PWR_LED = 0x02
    ACT_LED = 0x03
    LED_BITS = 0x10
    POS_BITS = 0x30
    USBBOOT_BITS = 0x50


# §5.1/§8.3: the order boards leave the factory with, and what SAVEDEFAULTS writes.
FACTORY_ORDER = 20
