# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Spec §11 conformance facts 1-65, each driven through EmulatedSMBus calls as a driver would.

Fact 66 is CLI numbering, not firmware behaviour, and is tested with the driver/CLI code.
LED and pin facts are observed through ``ClusterCTRLFirmware.outputs()``.
"""

from __future__ import annotations

import errno

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import BoardType
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import Cmd, Reg, Status
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus

A = 0x20
ALL = [bt.value for bt in BoardType]
GPIOA = ['triple', 'aplus6', 'stack']
GPIOD = ['single', 'phat']
WITH_PI_LEDS = ['single', 'triple', 'phat', 'aplus6']
UNKNOWN_CODES = [0x01, 0x02, 0x08, 0x09, 0x18, 0x90, 0xFF]


class Rig:
    """One board, its adapter and an SMBus handle, with CLI-style helpers (spec §1.6, §8.4)."""

    def __init__(self, board, **kwargs):
        adapter_kwargs = dict((k, kwargs.pop(k)) for k in ('old_kernel',) if k in kwargs)
        self.fw = ClusterCTRLFirmware(board, **kwargs)
        self.adapter = I2CTinyUsbAdapter.for_board(self.fw, **adapter_kwargs)
        self.bus = EmulatedSMBus(self.adapter)

    @property
    def maxpi(self):
        return self.fw.spec.maxpi

    def read(self, reg):
        return self.bus.read_byte_data(A, reg)

    def send(self, code, *args):
        """send(cmd, d0, d1, ...): write the given data registers from the highest down, then CMD."""
        for k in reversed(range(len(args))):
            self.bus.write_byte_data(A, Reg.DATA0 - k, args[k])
        self.bus.write_byte_data(A, Reg.CMD, code)

    def data(self, k=0):
        return self.read(Reg.DATA0 - k)

    def status(self):
        return self.read(Reg.STATUS)

    def all_data(self):
        """[data0, ..., data7]."""
        return list(reversed(self.bus.read_i2c_block_data(A, Reg.DATA7, 8)))

    def reset(self):
        """RESET: the CMD write fails in its GET_STATUS stage (the device leaves USB), then re-enumerate."""
        with pytest.raises(OSError) as exc:
            self.send(Cmd.RESET)
        assert exc.value.errno == errno.EIO
        self.adapter.reenumerate()

    def out(self):
        return self.fw.outputs()


# ---------------------------------------------------------------------------------- identity


@pytest.mark.parametrize('board', ALL)
def test_fact_01_version_register(board):
    """Spec §11 fact 1: reading register 0x00 returns 0x02 on every board (main.c:376,630-631)."""
    assert Rig(board).read(Reg.VERSION) == 0x02


@pytest.mark.parametrize('board,maxpi', [('single', 1), ('triple', 3), ('phat', 2), ('aplus6', 5), ('stack', 5), ('da', 32)])
def test_fact_02_maxpi(board, maxpi):
    """Spec §11 fact 2: 0x01 reads 1 / 3 / 2 / 5 / 5 / 32 for Single / Triple / pHAT / A+6 / Stack / DA."""
    assert Rig(board).read(Reg.MAXPI) == maxpi


@pytest.mark.parametrize('board,code', [('single', 3), ('triple', 1), ('phat', 2), ('aplus6', 3), ('stack', 4), ('da', 0)])
def test_fact_03_type(board, code):
    """Spec §11 fact 3: 0x04 reads 3 / 1 / 2 / 3 / 4 / 0 for Single / Triple / pHAT / A+6 / Stack / DA."""
    assert Rig(board).read(Reg.TYPE) == code


@pytest.mark.parametrize('board', ALL)
def test_fact_04_undefined_registers(board):
    """Spec §11 fact 4: any register 0x0F-0xFF reads 0xFF, except 0x20 on the DA (main.c:660-666)."""
    rig = Rig(board, da_hat_ports=(1, 2))
    for reg in range(0x0F, 0x100):
        value = rig.read(reg)
        if board == 'da' and reg == 0x20:
            assert value == 0x06
        else:
            assert value == 0xFF, hex(reg)


# ---------------------------------------------------------------------------------- registers


def test_fact_05_order_zero_stored_as_one():
    """Spec §11 fact 5: writing 0 to ORDER (0x02) stores 1 (main.c:713)."""
    rig = Rig('triple')
    rig.bus.write_byte_data(A, Reg.ORDER, 0)
    assert rig.read(Reg.ORDER) == 1


@pytest.mark.parametrize('value', [1, 7, 20, 255])
def test_fact_06_order_write_immediate_not_saved(value):
    """Spec §11 fact 6: writing n (1-255) to ORDER is visible at once and does not change EEPROM (main.c:714)."""
    rig = Rig('aplus6', order=42)
    rig.bus.write_byte_data(A, Reg.ORDER, value)
    assert rig.read(Reg.ORDER) == value
    assert rig.fw.eeprom[0x01] == 42
    assert rig.fw.eeprom_counts()['total'] == 0
    rig.reset()
    assert rig.read(Reg.ORDER) == 42


@pytest.mark.parametrize('board', ALL)
def test_fact_07_read_only_registers_ignore_writes(board):
    """Spec §11 fact 7: writes to 0x00, 0x01, 0x04, 0x0E are ignored but the pointer advances (main.c:708-718,737-738)."""
    rig = Rig(board)
    before = rig.bus.read_i2c_block_data(A, 0x00, 15)
    rig.bus.write_i2c_block_data(A, 0x00, [0x99, 0x98])  # VERSION, MAXPI
    rig.bus.write_i2c_block_data(A, 0x04, [0x97, 0x42])  # TYPE ignored, then DATA7 = 0x42
    rig.bus.write_i2c_block_data(A, 0x0E, [0x96])  # STATUS ignored
    after = rig.bus.read_i2c_block_data(A, 0x00, 15)
    assert after[0x00] == before[0x00] == 0x02
    assert after[0x01] == before[0x01]
    assert after[0x04] == before[0x04]
    assert after[0x0E] == before[0x0E]
    assert after[0x05] == 0x42  # the pointer moved past TYPE
    rig.bus.write_i2c_block_data(A, 0x0E, [0x96])
    assert rig.bus.read_byte(A) == 0xFF  # pointer is now 0x0F


@pytest.mark.parametrize('board', ALL)
def test_fact_08_mode_scratch(board):
    """Spec §11 fact 8: MODE (0x03) stores any byte and reads 0 after reset (main.c:636-637,715-716)."""
    rig = Rig(board)
    for value in (0x00, 0x5A, 0xFF):
        rig.bus.write_byte_data(A, Reg.MODE, value)
        assert rig.read(Reg.MODE) == value
    rig.reset()
    assert rig.read(Reg.MODE) == 0


def test_fact_09_pointer_persists():
    """Spec §11 fact 9: a bare 1-byte read after write_byte_data(0x0D, X) returns STATUS (main.c:667,748)."""
    rig = Rig('triple')
    rig.bus.write_byte_data(A, Reg.CMD, 0xFF)  # unknown: STATUS 0x03
    assert rig.bus.read_byte(A) == Status.UNKNOWN_COMMAND
    rig.bus.write_byte_data(A, Reg.CMD, Cmd.ALERT_ON)
    assert rig.bus.read_byte(A) == Status.OK


def test_fact_10_block_read_at_data0():
    """Spec §11 fact 10: a 3-byte block read at 0x0C returns [data0, cmd, status] (main.c:654-659)."""
    rig = Rig('triple')
    rig.send(Cmd.GET_PSTATUS, 9)
    assert rig.bus.read_i2c_block_data(A, Reg.DATA0, 3) == [0xFF, 0x00, Status.NO_SUCH_PI]


@pytest.mark.parametrize('board', ALL)
def test_fact_11_full_register_read(board):
    """Spec §11 fact 11: a 15-byte block read at 0x00 returns registers 0x00-0x0E in order (main.c:630-659)."""
    rig = Rig(board, order=33)
    rig.bus.write_byte_data(A, Reg.MODE, 0x44)
    rig.bus.write_i2c_block_data(A, Reg.DATA7, [7, 6, 5, 4, 3, 2, 1])
    regs = rig.bus.read_i2c_block_data(A, 0x00, 15)
    spec = rig.fw.spec
    assert regs == [0x02, spec.maxpi, 33, 0x44, spec.type_code, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0]
    assert regs == [rig.read(r) for r in range(15)]


@pytest.mark.parametrize('board', ALL)
def test_fact_12_registers_zero_after_power_up(board):
    """Spec §11 fact 12: after power-up data0-data7, CMD and STATUS read 0 (global zero-init)."""
    rig = Rig(board)
    assert rig.bus.read_i2c_block_data(A, Reg.DATA7, 10) == [0] * 10
    rig.send(Cmd.GET_DATA, 0)
    rig.send(0xFF)
    rig.reset()
    assert rig.bus.read_i2c_block_data(A, Reg.DATA7, 10) == [0] * 10


@pytest.mark.parametrize('code', [Cmd.ON, Cmd.GET_DATA, Cmd.SET_ORDER, Cmd.GETPATH, Cmd.HUB_CYCLE] + UNKNOWN_CODES)
def test_fact_13_cmd_reads_zero_after_command(code):
    """Spec §11 fact 13: CMD reads 0 after any command, including unknown ones (main.c:2039)."""
    rig = Rig('stack')  # no hub pin, so HUB_CYCLE keeps the device on the bus
    rig.send(code, 1)
    assert rig.read(Reg.CMD) == 0


def test_fact_14_cmd_zero_changes_nothing():
    """Spec §11 fact 14: writing CMD = 0 changes nothing, STATUS included (main.c:1458)."""
    rig = Rig('triple')
    rig.bus.write_i2c_block_data(A, Reg.DATA7, [8, 7, 6, 5, 4, 3, 2, 1])
    rig.send(0x90)
    before = rig.bus.read_i2c_block_data(A, 0x00, 15)
    outputs = rig.out()
    rig.bus.write_byte_data(A, Reg.CMD, 0)
    assert rig.bus.read_i2c_block_data(A, 0x00, 15) == before
    assert before[Reg.STATUS] == Status.UNKNOWN_COMMAND
    assert rig.out() == outputs
    assert rig.adapter.journal[-2]['commands'] == []


@pytest.mark.parametrize('board', ALL)
@pytest.mark.parametrize('code', UNKNOWN_CODES)
def test_fact_15_unknown_codes(board, code):
    """Spec §11 fact 15: codes 0x01, 0x02, 0x08, 0x09, 0x18, 0x90, 0xFF set STATUS 0x03, data untouched (main.c:2037-2041)."""
    rig = Rig(board)
    pattern = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x01]
    rig.bus.write_i2c_block_data(A, Reg.DATA7, pattern[:7])
    rig.bus.write_byte_data(A, Reg.DATA0, pattern[7])
    outputs = rig.out()
    rig.bus.write_byte_data(A, Reg.CMD, code)
    assert rig.bus.read_i2c_block_data(A, Reg.DATA7, 10) == pattern + [0, Status.UNKNOWN_COMMAND]
    assert rig.out() == outputs


# ---------------------------------------------------------------------------------- power


@pytest.mark.parametrize('board', ALL)
def test_fact_16_on_then_pstatus(board):
    """Spec §11 fact 16: ON(p) then GET_PSTATUS(p) gives data0 = 1 and STATUS 0x00 (main.c:1466-1517,1825-1855)."""
    rig = Rig(board)
    for p in range(1, min(rig.maxpi, 4) + 1):
        rig.send(Cmd.ON, p)
        rig.send(Cmd.GET_PSTATUS, p)
        assert rig.bus.read_i2c_block_data(A, Reg.DATA0, 3) == [1, 0, Status.OK]
        assert rig.out()['pi_power'][p] is True


@pytest.mark.parametrize('board', ALL)
def test_fact_17_off_then_pstatus(board):
    """Spec §11 fact 17: OFF(p) then GET_PSTATUS(p) gives data0 = 0 (main.c:1518-1567)."""
    rig = Rig(board)
    rig.send(Cmd.ON, 1)
    rig.send(Cmd.OFF, 1)
    rig.send(Cmd.GET_PSTATUS, 1)
    assert rig.data(0) == 0
    assert rig.out()['pi_power'][1] is False


@pytest.mark.parametrize('board', ALL)
def test_fact_18_on_invalid_pi(board):
    """Spec §11 fact 18: ON with data0 = 0 or > maxpi changes nothing and sets STATUS 0x00 (main.c:1468,1516-1517)."""
    rig = Rig(board)
    for p in (0, rig.maxpi + 1, 0xFF):
        rig.send(0xFF)  # STATUS 0x03 first, so that the 0x00 below is ON's
        before = rig.bus.read_i2c_block_data(A, 0x00, 13)
        outputs = rig.out()
        rig.send(Cmd.ON, p)
        assert rig.status() == Status.OK
        assert rig.bus.read_i2c_block_data(A, 0x00, 13) == before[:12] + [p]
        assert rig.out() == outputs


@pytest.mark.parametrize('board', ALL)
def test_fact_19_pstatus_invalid_pi(board):
    """Spec §11 fact 19: GET_PSTATUS with data0 = 0 or > maxpi gives 0xFF and STATUS 0x02 (main.c:1856-1859)."""
    rig = Rig(board)
    for p in (0, rig.maxpi + 1):
        rig.send(Cmd.GET_PSTATUS, p)
        assert rig.bus.read_i2c_block_data(A, Reg.DATA0, 3) == [0xFF, 0, Status.NO_SUCH_PI]


# ---------------------------------------------------------------------------------- USBBOOT


@pytest.mark.parametrize('board', ['phat', 'aplus6', 'stack', 'da'])
def test_fact_20_ustatus_without_usbboot(board):
    """Spec §11 fact 20: GET_USTATUS on pHAT, A+6, Stack or DA gives 0xFF and STATUS 0x00 (main.c:1885-1889)."""
    rig = Rig(board)
    for p in (1, rig.maxpi):
        rig.send(Cmd.GET_USTATUS, p)
        assert rig.bus.read_i2c_block_data(A, Reg.DATA0, 3) == [0xFF, 0, Status.OK]


@pytest.mark.parametrize('board', ['single', 'triple'])
def test_fact_21_ustatus_invalid_pi(board):
    """Spec §11 fact 21: GET_USTATUS on Single or Triple with p > maxpi gives 0xFF and STATUS 0x00 (main.c:1882-1889)."""
    rig = Rig(board)
    rig.send(Cmd.GET_USTATUS, rig.maxpi + 1)
    assert rig.bus.read_i2c_block_data(A, Reg.DATA0, 3) == [0xFF, 0, Status.OK]


@pytest.mark.parametrize('board', ['single', 'triple'])
def test_fact_22_usbboot_en_then_ustatus(board):
    """Spec §11 fact 22: USBBOOT_EN(p) then GET_USTATUS(p) gives 1 on Single and Triple (main.c:1569-1592,1862-1881)."""
    rig = Rig(board)
    for p in range(1, rig.maxpi + 1):
        rig.send(Cmd.USBBOOT_DIS, p)
        rig.send(Cmd.GET_USTATUS, p)
        assert rig.data(0) == 0
        assert rig.out()['usbboot_pin'][p] is False
        rig.send(Cmd.USBBOOT_EN, p)
        assert rig.status() == Status.OK
        rig.send(Cmd.GET_USTATUS, p)
        assert rig.data(0) == 1
        assert rig.out()['usbboot_pin'][p] is True


@pytest.mark.parametrize('board', ['phat', 'aplus6', 'stack', 'da'])
def test_fact_23_usbboot_en_unsupported(board):
    """Spec §11 fact 23: USBBOOT_EN on pHAT, A+6, Stack or DA gives STATUS 0x03 (main.c:1568,1617)."""
    rig = Rig(board)
    rig.send(Cmd.USBBOOT_EN, 1)
    assert rig.status() == Status.UNKNOWN_COMMAND


# ---------------------------------------------------------------------------------- fan


@pytest.mark.parametrize('board', ['single', 'phat', 'da'])
def test_fact_24_fan_unsupported(board):
    """Spec §11 fact 24: FAN on Single, pHAT or DA gives STATUS 0x03 (main.c:1890)."""
    rig = Rig(board)
    rig.send(Cmd.FAN, 1)
    assert rig.status() == Status.UNKNOWN_COMMAND
    assert rig.out()['fans'] == []


@pytest.mark.parametrize('board', ['triple', 'aplus6'])
def test_fact_25_fan_on_then_fanstatus(board):
    """Spec §11 fact 25: FAN(1) then GET_DATA(4) gives data0 = 1 on Triple and A+6 (main.c:1903,1986-1993)."""
    rig = Rig(board)
    rig.send(Cmd.FAN, 1)
    assert rig.status() == Status.OK
    assert rig.out()['fans'] == [True]
    rig.send(Cmd.GET_DATA, 4)
    assert rig.bus.read_i2c_block_data(A, Reg.DATA0, 3) == [1, 0, Status.OK]


def test_fact_25_fan_on_then_fanstatus_stack():
    """Spec §11 fact 25: on Stack, FAN(1) then GET_DATA(4) has bit 0 = 1 and bits 1-6 show the cooling inputs."""
    rig = Rig('stack', cooling_requests=0b100101)  # P1, P3 and the spare input
    rig.send(Cmd.FAN, 1)
    rig.send(Cmd.GET_DATA, 4)
    assert rig.data(0) == 0b1001011
    assert rig.out()['fans'] == [True, True]
    rig.send(Cmd.FAN, 0)
    rig.fw.set_cooling_request(1, False)
    rig.send(Cmd.GET_DATA, 4)
    assert rig.data(0) == 0b1001000
    assert rig.out()['fans'] == [False, True]


def test_fact_26_fan_two_on_triple():
    """Spec §11 fact 26: FAN(2) on Triple switches the fan off, but GET_DATA(4) then returns 2 (main.c:1893-1903)."""
    rig = Rig('triple')
    rig.send(Cmd.FAN, 1)
    rig.send(Cmd.FAN, 2)
    assert rig.out()['fans'] == [False]
    rig.send(Cmd.GET_DATA, 4)
    assert rig.data(0) == 2


# ---------------------------------------------------------------------------------- GET_DATA


@pytest.mark.parametrize('board', ALL)
def test_fact_27_version(board):
    """Spec §11 fact 27: GET_DATA(0) gives data0 = 0x08, data1 = 0x01, data2-7 = 0xFF, STATUS 0x00 on 1.8 (main.c:1910-1920)."""
    rig = Rig(board, firmware='1.8')
    rig.send(Cmd.GET_DATA, 0)
    assert rig.all_data() == [0x08, 0x01] + [0xFF] * 6
    assert rig.status() == Status.OK
    assert rig.bus.read_i2c_block_data(A, Reg.DATA1, 4) == [1, 8, 0, 0]


@pytest.mark.parametrize('board,count', [('triple', 1), ('aplus6', 2), ('stack', 2), ('single', 0), ('phat', 0), ('da', 0)])
def test_fact_28_adc_count(board, count):
    """Spec §11 fact 28: GET_DATA(1) gives 1 / 2 / 2 / 0 on Triple / A+6 / Stack / others (main.c:1921-1930)."""
    rig = Rig(board)
    rig.send(Cmd.GET_DATA, 1)
    assert rig.bus.read_i2c_block_data(A, Reg.DATA0, 3) == [count, 0, Status.OK]


def test_fact_29_adc_read_triple():
    """Spec §11 fact 29: GET_DATA(2) with data1 = 1 on Triple gives data0 = 1 (type), data2 <= 3, STATUS 0x00 (main.c:1934-1948)."""
    rig = Rig('triple')
    rig.send(Cmd.GET_DATA, 2, 1)
    hi, lo, kind = rig.bus.read_i2c_block_data(A, Reg.DATA2, 3)
    assert kind == 1
    assert hi <= 3
    assert rig.status() == Status.OK
    assert 4900 <= (hi * 256 + lo) * 6.4453125 <= 5100


def test_fact_30_adc_read_stack_vin():
    """Spec §11 fact 30: GET_DATA(2) with data1 = 2 on Stack gives data0 = 2 (type 2) (stack/config.h:45, main.c:1951-1965)."""
    rig = Rig('stack')
    rig.send(Cmd.GET_DATA, 2, 2)
    hi, lo, kind = rig.bus.read_i2c_block_data(A, Reg.DATA2, 3)
    assert kind == 2
    assert 11500 <= (hi * 256 + lo) * 33.34093896028037 <= 12500


@pytest.mark.parametrize('board', ALL)
def test_fact_31_adc_read_invalid_channel(board):
    """Spec §11 fact 31: GET_DATA(2) with an invalid channel gives STATUS 0x01, data0 still 0x02, data1 unchanged (main.c:1908,1931-1966)."""
    rig = Rig(board)
    channel = len(rig.fw.spec.adc_channels) + 1
    rig.bus.write_byte_data(A, Reg.DATA2, 0x5C)
    rig.send(Cmd.GET_DATA, 2, channel)
    assert rig.bus.read_i2c_block_data(A, Reg.DATA2, 5) == [0x5C, channel, 0x02, 0, Status.NOT_SUPPORTED]


@pytest.mark.parametrize('board', ALL)
def test_fact_32_temperature(board):
    """Spec §11 fact 32: GET_DATA(3) gives data0 = 0x02, STATUS 0x00 on Triple, A+6, Stack, DA; STATUS 0x01, data0 0x03 on Single, pHAT."""
    rig = Rig(board)
    rig.send(Cmd.GET_DATA, 3)
    if board in ('single', 'phat'):
        assert rig.bus.read_i2c_block_data(A, Reg.DATA0, 3) == [0x03, 0, Status.NOT_SUPPORTED]
    else:
        hi, lo, marker = rig.bus.read_i2c_block_data(A, Reg.DATA2, 3)
        assert marker == 0x02
        assert rig.status() == Status.OK
        assert 20 <= ((hi * 256 + lo) - 247) / 1.22 <= 35


@pytest.mark.parametrize('board', ALL)
@pytest.mark.parametrize('sub', [5, 6, 0x80, 0xFF])
def test_fact_33_get_data_unknown_sub(board, sub):
    """Spec §11 fact 33: GET_DATA with data0 >= 5 gives STATUS 0x01 and leaves every data register unchanged (main.c:1908,1994)."""
    rig = Rig(board, firmware='1.8')
    rig.bus.write_i2c_block_data(A, Reg.DATA7, [9, 8, 7, 6, 5, 4, 3])
    rig.send(Cmd.GET_DATA, sub)
    assert rig.all_data() == [sub, 3, 4, 5, 6, 7, 8, 9]
    assert rig.status() == Status.NOT_SUPPORTED


# ---------------------------------------------------------------------------------- order, paths


@pytest.mark.parametrize('board', ALL)
def test_fact_34_set_order_zero(board):
    """Spec §11 fact 34: SET_ORDER(0) gives STATUS 0x01 and ORDER unchanged (main.c:2000-2001)."""
    rig = Rig(board, order=9)
    rig.send(Cmd.SET_ORDER, 0)
    assert rig.status() == Status.NOT_SUPPORTED
    assert rig.read(Reg.ORDER) == 9


@pytest.mark.parametrize('board', ALL)
@pytest.mark.parametrize('order', [1, 21, 255])
def test_fact_35_set_order(board, order):
    """Spec §11 fact 35: SET_ORDER(n > 0) sets ORDER = n with STATUS 0x00 (main.c:1996-1999)."""
    rig = Rig(board)
    rig.send(Cmd.SET_ORDER, order)
    assert rig.status() == Status.OK
    assert rig.read(Reg.ORDER) == order


def test_fact_36_triple_getpath():
    """Spec §11 fact 36: Triple GETPATH(1) gives data7 = 4, data6-data0 = 0xFF, STATUS 0x00 (triple/config.c:8)."""
    rig = Rig('triple')
    rig.send(Cmd.GETPATH, 1)
    assert rig.bus.read_i2c_block_data(A, Reg.DATA7, 10) == [4] + [0xFF] * 7 + [0, Status.OK]


def test_fact_37_aplus6_getpath_controller():
    """Spec §11 fact 37: A+6 GETPATH(0) gives data7 = 4 and data6 = 1, the rest 0xFF (aplus6/config.c:7)."""
    rig = Rig('aplus6')
    rig.send(Cmd.GETPATH, 0)
    assert rig.bus.read_i2c_block_data(A, Reg.DATA7, 8) == [4, 1] + [0xFF] * 6
    assert rig.status() == Status.OK


@pytest.mark.parametrize('board', ALL)
def test_fact_38_getpath_out_of_range(board):
    """Spec §11 fact 38: GETPATH(maxpi + 1) gives all eight data registers 0xFF and STATUS 0x01 (main.c:2017-2022)."""
    rig = Rig(board)
    rig.send(Cmd.GETPATH, rig.maxpi + 1)
    assert rig.bus.read_i2c_block_data(A, Reg.DATA7, 10) == [0xFF] * 8 + [0, Status.NOT_SUPPORTED]


@pytest.mark.parametrize('x', [0, 1, 5])
def test_fact_39_stack_getpath(x):
    """Spec §11 fact 39: GETPATH(any) on Stack gives all 0xFF and STATUS 0x01 (stack/config.h:24, main.c:2016-2022)."""
    rig = Rig('stack')
    rig.send(Cmd.GETPATH, x)
    assert rig.bus.read_i2c_block_data(A, Reg.DATA7, 10) == [0xFF] * 8 + [0, Status.NOT_SUPPORTED]


# ---------------------------------------------------------------------------------- HUB_CYCLE


def _hub_cycle(rig, *args):
    """HUB_CYCLE; on boards with a hub pin the controller drops off USB, so its CMD write fails."""
    if rig.fw.spec.hub:
        with pytest.raises(OSError) as exc:
            rig.send(Cmd.HUB_CYCLE, *args)
        assert exc.value.errno == errno.EIO
        with pytest.raises(OSError) as exc:
            rig.status()
        assert exc.value.errno == errno.ENODEV
        rig.adapter.reenumerate()
    else:
        rig.send(Cmd.HUB_CYCLE, *args)


@pytest.mark.parametrize('board', ALL)
def test_fact_40_hub_cycle_keeps_status(board):
    """Spec §11 fact 40: HUB_CYCLE does not change STATUS: after a failing SET_ORDER(0) it still reads 0x01 (main.c:1769-1789)."""
    rig = Rig(board)
    rig.send(Cmd.SET_ORDER, 0)
    _hub_cycle(rig)
    assert rig.bus.read_i2c_block_data(A, Reg.CMD, 2) == [0, Status.NOT_SUPPORTED]
    assert rig.fw.counters()['hub_cycles'] == 1


@pytest.mark.parametrize('board', ALL)
def test_fact_41_hub_cycle_clamps_data0(board):
    """Spec §11 fact 41: HUB_CYCLE with data0 = 3 leaves DATA0 reading 10 (main.c:1771)."""
    rig = Rig(board)
    _hub_cycle(rig, 3)
    assert rig.data(0) == 10


@pytest.mark.parametrize('units,expected_ms', [(0, 133.333), (3, 133.333), (10, 133.333), (30, 400.0), (150, 2000.0)])
def test_fact_42_hub_cycle_duration(units, expected_ms):
    """Spec §11 fact 42: HUB_CYCLE's hub-off time is data0 x 13.33 ms at 12 MHz, minimum 133 ms (main.c:1779-1781)."""
    rig = Rig('stack')
    rig.send(Cmd.HUB_CYCLE, units)
    record = rig.adapter.journal.commands()[-1]
    assert record['name'] == 'HUB_CYCLE'
    assert record['duration_ms'] == pytest.approx(expected_ms, abs=0.01)


# ---------------------------------------------------------------------------------- LEDs


@pytest.mark.parametrize('board', ALL)
def test_fact_43_led_all_pwr_led(board):
    """Spec §11 fact 43: LED_EN(0) turns the PWR LED on, LED_DIS(0) off; neither changes power on GPIOA boards (main.c:1619-1647,1677-1696)."""
    rig = Rig(board)
    rig.send(Cmd.ON, 1)
    rig.send(Cmd.PWR_OFF)
    assert rig.out()['pwr_led'] is False
    power = rig.out()['pi_power']
    rig.send(Cmd.LED_EN, 0)
    assert rig.out()['pwr_led'] is True
    if board in GPIOA:
        assert rig.out()['pi_power'] == power
    rig.send(Cmd.LED_DIS, 0)
    assert rig.out()['pwr_led'] is False
    if board in GPIOA:
        assert rig.out()['pi_power'] == power
    if board in WITH_PI_LEDS:
        assert not any(rig.out()['pi_led'].values())


@pytest.mark.parametrize('board', GPIOD)
def test_fact_44_gpiod_led_en_all_powers_every_pi(board):
    """Spec §11 fact 44: LED_EN(0) on pHAT or Single makes GET_PSTATUS return 1 for every Pi (main.c:1624-1637)."""
    rig = Rig(board)
    rig.send(Cmd.LED_EN, 0)
    for p in range(1, rig.maxpi + 1):
        rig.send(Cmd.GET_PSTATUS, p)
        assert rig.data(0) == 1
        assert rig.out()['pi_power'][p] is True


@pytest.mark.parametrize('board', GPIOD)
def test_fact_45_gpiod_led_en_needs_pi_on(board):
    """Spec §11 fact 45: p off, LED_DIS(p), then LED_EN(p) and ON(p) leave p's LED dark on pHAT or Single (main.c:1652-1664,1476-1480)."""
    rig = Rig(board)
    p = rig.maxpi
    rig.send(Cmd.LED_DIS, p)
    rig.send(Cmd.LED_EN, p)
    rig.send(Cmd.ON, p)
    assert rig.out()['pi_power'][p] is True
    assert rig.out()['pi_led'][p] is False


@pytest.mark.parametrize('board', ['triple', 'aplus6'])
def test_fact_46_gpioa_led_en_while_off(board):
    """Spec §11 fact 46: the same sequence on Triple or A+6 lights p's LED (main.c:1666-1671,1500-1505)."""
    rig = Rig(board)
    p = 2
    rig.send(Cmd.LED_DIS, p)
    rig.send(Cmd.LED_EN, p)
    assert rig.out()['pi_led'][p] is False
    rig.send(Cmd.ON, p)
    assert rig.out()['pi_led'][p] is True


@pytest.mark.parametrize('board', WITH_PI_LEDS)
def test_fact_47_off_keeps_led_enable(board):
    """Spec §11 fact 47: OFF(p) keeps p's LED-enable bit: ON(p) afterwards relights the LED (main.c:1549-1555,1500-1505)."""
    rig = Rig(board)
    rig.send(Cmd.ON, 1)
    assert rig.out()['pi_led'][1] is True
    rig.send(Cmd.OFF, 1)
    assert rig.out()['pi_led'][1] is False
    rig.send(Cmd.ON, 1)
    assert rig.out()['pi_led'][1] is True


@pytest.mark.parametrize('board', ALL)
@pytest.mark.parametrize('data0', [0, 1, 0x77])
def test_fact_48_alert(board, data0):
    """Spec §11 fact 48: ALERT_ON and ALERT_OFF give STATUS 0x00 on every board, Stack included, whatever data0 holds (main.c:1723-1736)."""
    rig = Rig(board)
    rig.send(Cmd.ALERT_ON, data0)
    assert rig.status() == Status.OK
    assert rig.out()['alert_led'] is (None if board == 'stack' else True)
    rig.send(Cmd.ALERT_OFF, data0)
    assert rig.status() == Status.OK
    assert rig.out()['alert_led'] is (None if board == 'stack' else False)


@pytest.mark.parametrize('board', ALL)
def test_fact_49_act_en(board):
    """Spec §11 fact 49: ACT_EN on A+6 gives STATUS 0x00; on any other board 0x03 (main.c:2004-2013)."""
    rig = Rig(board, firmware='1.8')
    rig.send(Cmd.ACT_DIS)
    rig.send(Cmd.ACT_EN)
    if board == 'aplus6':
        assert rig.status() == Status.OK
        assert rig.out()['act_enabled'] is True
    else:
        assert rig.status() == Status.UNKNOWN_COMMAND
        assert rig.out()['act_enabled'] is None


@pytest.mark.parametrize('board', ALL)
def test_fact_50_pwr_led(board):
    """Spec §11 fact 50: PWR_ON and PWR_OFF give STATUS 0x00 on every board (main.c:1807-1818)."""
    rig = Rig(board)
    rig.send(Cmd.PWR_OFF)
    assert (rig.status(), rig.out()['pwr_led']) == (Status.OK, False)
    rig.send(Cmd.PWR_ON)
    assert (rig.status(), rig.out()['pwr_led']) == (Status.OK, True)


# ---------------------------------------------------------------------------------- EEPROM and reset


@pytest.mark.parametrize('board', ALL)
def test_fact_51_savedefaults_then_reset(board):
    """Spec §11 fact 51: SAVEDEFAULTS then RESET: ORDER reads 20, every Pi is off, the PWR LED is on (main.c:1790-1806,1313-1323)."""
    rig = Rig(board, order=3)
    rig.send(Cmd.SET_ORDER, 7)
    for p in range(1, min(rig.maxpi, 5) + 1):
        rig.send(Cmd.ON, p)
    rig.send(Cmd.PWR_OFF)
    rig.send(Cmd.SAVE)
    rig.send(Cmd.SAVEDEFAULTS)
    assert rig.status() == Status.OK
    assert rig.read(Reg.ORDER) == 7  # RAM untouched until the reset
    assert rig.out()['pwr_led'] is False
    rig.reset()
    assert rig.read(Reg.ORDER) == 20
    assert rig.out()['pwr_led'] is True
    for p in range(1, rig.maxpi + 1):
        rig.send(Cmd.GET_PSTATUS, p)
        assert rig.data(0) in (0, 0xFF)  # 0xFF: a DA Pi whose HAT is absent
        assert not rig.out()['pi_power'][p]


@pytest.mark.parametrize('board', ALL)
def test_fact_52_saveorder(board):
    """Spec §11 fact 52: SET_ORDER(7), SAVEORDER, RESET: ORDER reads 7; without SAVEORDER it reverts (main.c:813-816,1313)."""
    rig = Rig(board, order=12)
    rig.send(Cmd.SET_ORDER, 7)
    rig.reset()
    assert rig.read(Reg.ORDER) == 12
    rig.send(Cmd.SET_ORDER, 7)
    rig.send(Cmd.SAVEORDER)
    rig.reset()
    assert rig.read(Reg.ORDER) == 7
    assert rig.fw.eeprom_counts() == {'total': 1, 'by_offset': {0x01: 1}}


@pytest.mark.parametrize(
    'board,kwargs,delay_ms',
    [
        ('single', {}, 0),
        ('triple', {}, 0),
        ('phat', {}, 0),
        ('phat', {'firmware': '1.8', 'head': True}, 1000),
        ('aplus6', {}, 1000),
        ('stack', {}, 1000),
    ],
)
def test_fact_53_savepos(board, kwargs, delay_ms):
    """Spec §11 fact 53: ON(p), SAVEPOS, RESET: p is on after boot, reached after AUTOONDELAY on A+6, Stack, HEAD-pHAT (main.c:1391-1413)."""
    rig = Rig(board, **kwargs)
    for p in range(1, rig.maxpi + 1):
        rig.send(Cmd.OFF, p)
    p = rig.maxpi
    rig.send(Cmd.ON, p)
    rig.send(Cmd.SAVEPOS)
    rig.reset()
    rig.send(Cmd.GET_PSTATUS, p)
    assert rig.data(0) == 1
    assert rig.out()['pi_power'] == dict((q, q == p) for q in range(1, rig.maxpi + 1))
    power_events = [e for e in rig.fw.boot_log if e['event'] == 'power']
    assert power_events == [{'t_ms': delay_ms, 'event': 'power', 'pi': p, 'value': True}]
    assert rig.fw.boot_ms >= delay_ms


@pytest.mark.parametrize('board', ['phat', 'aplus6', 'stack', 'da'])
def test_fact_54_saveusbboot_without_usbboot(board):
    """Spec §11 fact 54: SAVEUSBBOOT on a board without USBBOOT gives STATUS 0x00 and writes nothing (main.c:1751-1756)."""
    rig = Rig(board)
    rig.send(Cmd.SAVEUSBBOOT)
    assert rig.status() == Status.OK
    assert rig.fw.eeprom_counts()['total'] == 0


@pytest.mark.parametrize('board', [b for b in ALL if b != 'da'])
def test_fact_55_blank_eeprom(board):
    """Spec §11 fact 55: with an all-0xFF EEPROM, boot gives ORDER = 255, every Pi on, the PWR LED off (every board but the DA)."""
    rig = Rig(board, blank_eeprom=True)
    assert rig.read(Reg.ORDER) == 255
    assert rig.out()['pwr_led'] is False
    for p in range(1, rig.maxpi + 1):
        rig.send(Cmd.GET_PSTATUS, p)
        assert rig.data(0) == 1
    assert all(rig.out()['pi_power'].values())


@pytest.mark.parametrize('board', ALL)
def test_fact_56_reset_drops_usb(board):
    """Spec §11 fact 56: RESET drops the USB device; after re-enumeration CMD = 0 and STATUS = 0 (main.c:768-773,1438-1450)."""
    rig = Rig(board)
    rig.send(0xFF)
    assert rig.status() == Status.UNKNOWN_COMMAND
    with pytest.raises(OSError):
        rig.send(Cmd.RESET)
    assert rig.out()['present'] is False
    with pytest.raises(OSError) as exc:
        rig.status()
    assert exc.value.errno == errno.ENODEV
    rig.adapter.reenumerate()
    assert rig.bus.read_i2c_block_data(A, Reg.CMD, 2) == [0, 0]


# ---------------------------------------------------------------------------------- transport


@pytest.mark.parametrize('old_kernel,code', [(False, errno.ENXIO), (True, errno.EREMOTEIO)])
def test_fact_57_write_nak_while_busy(old_kernel, code):
    """Spec §11 fact 57: a write message to 0x20 while CMD != 0 is NAKed (ENXIO/EREMOTEIO); a read message is ACKed (main.c:467-470)."""
    rig = Rig('triple', busy_messages=3, old_kernel=old_kernel)
    rig.send(Cmd.ALERT_ON)
    assert rig.bus.read_byte(A) == 0  # pointer at 0x0E: STATUS (not yet written)
    with pytest.raises(OSError) as exc:
        rig.bus.write_byte_data(A, Reg.MODE, 1)
    assert exc.value.errno == code
    with pytest.raises(OSError) as exc:
        rig.read(Reg.CMD)  # starts with a pointer write
    assert exc.value.errno == code
    assert rig.out()['alert_led'] is True  # ran after the third message
    assert rig.read(Reg.CMD) == 0


@pytest.mark.parametrize('board', ALL)
@pytest.mark.parametrize('addr', [0x00, 0x21, 0x50, 0x70, 0x7F])
def test_fact_58_other_addresses_nak(board, addr):
    """Spec §11 fact 58: any message to an address other than 0x20 is NAKed on every board (main.c:516-521,579-581)."""
    rig = Rig(board)
    for call in (
        lambda: rig.bus.write_quick(addr),
        lambda: rig.bus.read_byte(addr),
        lambda: rig.bus.read_byte_data(addr, 0),
        lambda: rig.bus.write_byte_data(addr, 2, 5),
    ):
        with pytest.raises(OSError) as exc:
            call()
        assert exc.value.errno == errno.ENXIO
    assert rig.read(Reg.ORDER) == 20


@pytest.mark.parametrize('board', ALL)
def test_fact_59_quick_write(board):
    """Spec §11 fact 59: a quick-write to 0x20 is ACKed (main.c:466-483)."""
    rig = Rig(board)
    rig.bus.write_quick(A)
    assert rig.adapter.journal[-1]['error'] is None


@pytest.mark.parametrize('board', [b for b in ALL if b != 'da'])
def test_fact_60_combined_write(board):
    """Spec §11 fact 60: the single message [0x0C, p, 0x03] powers Pi p on (main.c:699-749,1466)."""
    rig = Rig(board)
    for p in range(1, rig.maxpi + 1):
        rig.bus.write_i2c_block_data(A, Reg.DATA0, [p, Cmd.ON])
        assert rig.out()['pi_power'][p] is True
    assert rig.adapter.journal.summary()['messages'] == rig.maxpi


def test_fact_60_combined_write_da():
    """Spec §11 fact 60 on the DA: the single message [0x0C, p, 0x03] powers HAT Pi p on."""
    rig = Rig('da', da_hat_ports=(0, 1))
    rig.bus.write_i2c_block_data(A, Reg.DATA0, [6, Cmd.ON])
    assert rig.out()['pi_power'][6] is True
    assert rig.out()['hats'][1]['pi_power'] == [False, True, False, False]


def test_fact_61_long_write_misparsed():
    """Spec §11 fact 61: a 10-byte write [0x05, d7..d0, cmd]: d0 becomes a new pointer and cmd is stored at register d0 (main.c:701-704)."""
    rig = Rig('triple')
    d = [0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11, Reg.MODE]  # d7..d0, d0 = 0x03
    rig.bus.write_i2c_block_data(A, Reg.DATA7, d + [Cmd.ON])
    assert rig.read(Reg.MODE) == Cmd.ON
    assert rig.bus.read_i2c_block_data(A, Reg.DATA7, 10) == d[:7] + [0, 0, 0]
    assert rig.adapter.journal.commands() == []


# ---------------------------------------------------------------------------------- DA


def test_fact_62_da_on_decrements_data0():
    """Spec §11 fact 62: DA: after ON(5), DATA0 reads 4 (main.c:1507)."""
    rig = Rig('da', da_hat_ports=(0, 1))
    rig.send(Cmd.ON, 5)
    assert rig.data(0) == 4
    assert rig.out()['hats'][1]['pi_power'] == [True, False, False, False]
    rig.send(Cmd.OFF, 5)
    assert rig.data(0) == 4


def test_fact_63_da_pstatus_absent_hat():
    """Spec §11 fact 63: DA: GET_PSTATUS for a Pi on a HAT that is not present gives 0xFF with STATUS 0x00 (main.c:1850-1855)."""
    rig = Rig('da', da_hat_ports=(0,))
    rig.send(Cmd.GET_PSTATUS, 5)
    assert rig.bus.read_i2c_block_data(A, Reg.DATA0, 3) == [0xFF, 0, Status.OK]
    assert rig.out()['pi_power'][5] is None


@pytest.mark.parametrize('ports,mask', [((), 0x00), ((0,), 0x01), ((0, 3, 7), 0x89), (tuple(range(8)), 0xFF)])
def test_fact_64_da_exists(ports, mask):
    """Spec §11 fact 64: DA: register 0x20 shows the bitmask of mux ports where a ClusterHAT was detected (main.c:1203-1208)."""
    rig = Rig('da', da_hat_ports=ports)
    assert rig.read(Reg.EXISTS) == mask


@pytest.mark.parametrize('board', ['triple', 'aplus6', 'stack'])
@pytest.mark.parametrize('firmware', ['1.4', '1.5'])
def test_fact_65_fanstatus_before_1_6(board, firmware):
    """Spec §11 fact 65: GET_DATA(4) on firmware earlier than 1.6 gives STATUS 0x01 (commit 54bd6c4)."""
    rig = Rig(board, firmware=firmware)
    rig.send(Cmd.FAN, 1)
    rig.send(Cmd.GET_DATA, 4)
    assert rig.bus.read_i2c_block_data(A, Reg.DATA0, 3) == [4, 0, Status.NOT_SUPPORTED]
