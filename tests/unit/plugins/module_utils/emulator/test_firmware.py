# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ClusterCTRLFirmware behaviour beyond the §11 facts: EEPROM, power-up, versions, transport, DA, Stack."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import BoardType
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import Cmd, Reg, Status
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.factory_defaults import factory_eeprom
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.i2c_errors import Nak, StatusStageLost
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.module_utils.emulator.firmware_rig import A, reset, rig, send

# ---------------------------------------------------------------------------------- EEPROM


def test_factory_images():
    """§5.1 factory images: Triple 0x30 = 0x00, Stack 0x30 = 0x1F, DA bitfields 4 bytes wide."""
    triple = factory_eeprom(BoardType.TRIPLE)
    assert len(triple) == 1024
    assert (triple[0x00], triple[0x01], triple[0x02], triple[0x03]) == (0xFF, 0x14, 0x01, 0x01)
    assert (triple[0x10], triple[0x30], triple[0x50], triple[0x11], triple[0x31]) == (0xFF, 0x00, 0xFF, 0xFF, 0xFF)
    assert factory_eeprom('stack')[0x30] == 0x1F
    da = factory_eeprom('da', order=3)
    assert da[0x01] == 3
    assert list(da[0x30:0x34]) == [0, 0, 0, 0] and da[0x34] == 0xFF
    assert len(factory_eeprom('phat')) == 256


def test_order_option_and_blank_eeprom():
    assert ClusterCTRLFirmware('triple', order=7).regs[Reg.ORDER] == 7
    assert ClusterCTRLFirmware('triple', blank_eeprom=True).regs[Reg.ORDER] == 255
    blank = ClusterCTRLFirmware('triple', blank_eeprom=True, order=8)
    assert blank.regs[Reg.ORDER] == 8 and blank.eeprom[0x30] == 0xFF
    assert all(blank.outputs()['pi_power'].values())
    assert all(blank.outputs()['usbboot_pin'].values())
    assert ClusterCTRLFirmware('aplus6', blank_eeprom=True).outputs()['act_enabled'] is True


@pytest.mark.parametrize(
    'board,save_bytes,default_bytes', [('single', 5, 6), ('triple', 5, 6), ('phat', 4, 5), ('aplus6', 5, 5), ('stack', 4, 5), ('da', 10, 11)]
)
def test_save_byte_counts(board, save_bytes, default_bytes):
    """SAVE writes 4-5 bytes (DA 10) and SAVEDEFAULTS 5-6 (DA 11), every time, changed or not (§5.1, §10.4)."""
    fw, bus = rig(board)
    send(bus, Cmd.SAVE)
    assert fw.eeprom_counts()['total'] == save_bytes
    send(bus, Cmd.SAVE)
    assert fw.eeprom_counts()['total'] == 2 * save_bytes
    assert fw.eeprom_counts()['by_offset'][0x01] == 2
    send(bus, Cmd.SAVEDEFAULTS)
    assert fw.eeprom_counts()['total'] == 2 * save_bytes + default_bytes
    record = bus.adapter.journal.commands()[-1]
    assert record['duration_ms'] == pytest.approx(default_bytes * 3.3)


def test_saveled_and_savepos_contents():
    fw, bus = rig('triple')
    send(bus, Cmd.PWR_OFF)
    send(bus, Cmd.LED_DIS, 2)
    send(bus, Cmd.ON, 3)
    send(bus, Cmd.SAVELED)
    assert (fw.eeprom[0x02], fw.eeprom[0x10]) == (0x00, 0xFD)
    assert fw.eeprom_counts() == {'total': 2, 'by_offset': {0x02: 1, 0x10: 1}}
    send(bus, Cmd.SAVEPOS)
    assert fw.eeprom[0x30] == 0x04
    send(bus, Cmd.USBBOOT_DIS, 1)
    send(bus, Cmd.SAVEUSBBOOT)
    assert fw.eeprom[0x50] == 0xFE
    reset(fw, bus)
    out = fw.outputs()
    assert out['pwr_led'] is False
    assert out['pi_power'] == {1: False, 2: False, 3: True}
    assert out['pi_led'] == {1: False, 2: False, 3: True}
    assert out['usbboot_pin'] == {1: False, 2: True, 3: True}


def test_gpiod_led_en_bug_saved_as_0xff():
    """§5.1: saved bitfields are raw RAM copies: LED_EN(0) on a pHAT then SAVEPOS stores 0xFF."""
    fw, bus = rig('phat')
    send(bus, Cmd.LED_EN, 0)
    send(bus, Cmd.SAVEPOS)
    assert fw.eeprom[0x30] == 0xFF


def test_fixed_led_en_bug():
    """fix_led_en_bug=True: GPIOD LED_EN(0) lights the LEDs of Pis that are on and powers nothing."""
    fw, bus = rig('phat', fix_led_en_bug=True)
    send(bus, Cmd.LED_DIS, 0)
    send(bus, Cmd.ON, 2)
    send(bus, Cmd.LED_EN, 0)
    out = fw.outputs()
    assert out['pi_power'] == {1: False, 2: True}
    assert out['pi_led'] == {1: False, 2: True}
    assert out['pwr_led'] is True


# ---------------------------------------------------------------------------------- power-up and versions


@pytest.mark.parametrize('firmware,first_ms,total_ms', [('1.4', 0, 2000), ('1.5', 0, 2000), ('1.6', 1000, 3000), ('1.8', 1000, 3000)])
def test_autoondelay_by_version(firmware, first_ms, total_ms):
    """§6.3: 1.4/1.5 wait AUTOONDELAY before every saved-on Pi except the first; 1.6+ before every one."""
    eeprom = factory_eeprom('aplus6')
    eeprom[0x30] = 0b10101
    fw = ClusterCTRLFirmware('aplus6', firmware=firmware, eeprom=eeprom)
    power = [e for e in fw.boot_log if e['event'] == 'power']
    assert [e['pi'] for e in power] == [1, 3, 5]
    assert power[0]['t_ms'] == first_ms
    assert power[-1]['t_ms'] == total_ms
    assert fw.boot_ms == total_ms + 13


@pytest.mark.parametrize(
    'board,firmware,head,alert',
    [
        ('aplus6', '1.6', False, False),
        ('aplus6', '1.7', False, True),
        ('stack', '1.8', False, False),
        ('triple', '1.8', False, True),
        ('phat', '1.8', False, False),
        ('phat', '1.8', True, True),
    ],
)
def test_alert_during_auto_power_on(board, firmware, head, alert):
    """§6.3: ALERT is lit during GPIOA auto power-on from 1.7, on GPIOD only in HEAD; it ends off."""
    fw = ClusterCTRLFirmware(board, firmware=firmware, head=head, blank_eeprom=True)
    events = [e['value'] for e in fw.boot_log if e['event'] == 'alert']
    assert events == ([True, False] if alert else [])
    assert fw.outputs()['alert_led'] in (False, None)


@pytest.mark.parametrize('firmware', ['1.4', '1.5', '1.6', '1.7', '1.8'])
def test_get_data_version_reports_configured(firmware):
    fw, bus = rig('triple', firmware=firmware)
    send(bus, Cmd.GET_DATA, 0)
    assert bus.read_i2c_block_data(A, Reg.DATA1, 2) == [1, int(firmware[2])]


@pytest.mark.parametrize('firmware,status', [('1.6', Status.UNKNOWN_COMMAND), ('1.7', Status.UNKNOWN_COMMAND), ('1.8', Status.OK)])
def test_act_commands_from_1_8(firmware, status):
    fw, bus = rig('aplus6', firmware=firmware)
    send(bus, Cmd.ACT_DIS)
    assert bus.read_byte_data(A, Reg.STATUS) == status
    send(bus, Cmd.SAVELED)
    assert (0x03 in fw.eeprom_counts()['by_offset']) == (firmware == '1.8')


def test_act_from_eeprom_and_flashes():
    """1.8 reads EEPROM 0x03 as a raw byte (non-zero = on); the ACT LED flashes once per command while enabled."""
    eeprom = factory_eeprom('aplus6')
    eeprom[0x03] = 0x00
    fw, bus = rig('aplus6', eeprom=eeprom)
    assert fw.outputs()['act_enabled'] is False
    send(bus, Cmd.ALERT_ON)
    assert fw.counters()['act_flashes'] == 0
    send(bus, Cmd.ACT_EN)
    send(bus, Cmd.ALERT_OFF)
    assert fw.counters()['act_flashes'] == 1


def test_invalid_construction():
    with pytest.raises(ValueError, match='unsupported firmware'):
        ClusterCTRLFirmware('triple', firmware='1.3')
    with pytest.raises(ValueError, match='HEAD'):
        ClusterCTRLFirmware('phat', firmware='1.5', head=True)
    with pytest.raises(ValueError, match='unknown board'):
        ClusterCTRLFirmware('quad')
    with pytest.raises(ValueError, match='order'):
        ClusterCTRLFirmware('triple', order=256)
    with pytest.raises(ValueError, match='mux ports'):
        ClusterCTRLFirmware('da', da_hat_ports=(8,))
    with pytest.raises(ValueError, match='EEPROM image'):
        ClusterCTRLFirmware('triple', eeprom=[0xFF] * 10)
    with pytest.raises(ValueError, match='only on the Stack'):
        ClusterCTRLFirmware('triple', cooling_requests=1)
    with pytest.raises(ValueError, match='ADC channel'):
        ClusterCTRLFirmware('phat', adc_raw={1: 3})
    with pytest.raises(ValueError, match='0..1023'):
        ClusterCTRLFirmware('triple', adc_raw={1: 1024})
    with pytest.raises(ValueError, match='busy_messages'):
        ClusterCTRLFirmware('triple', busy_messages=-1)


def test_adc_and_temperature_settable():
    fw, bus = rig('aplus6')
    fw.set_adc_raw(2, 0x2AB)
    fw.set_temperature_raw(0x123)
    bus.write_i2c_block_data(A, Reg.DATA1, [2, 2, Cmd.GET_DATA])
    assert bus.read_i2c_block_data(A, Reg.DATA2, 3) == [0x02, 0xAB, 1]
    send(bus, Cmd.GET_DATA, 3)
    assert bus.read_i2c_block_data(A, Reg.DATA2, 3) == [0x01, 0x23, 2]


# ---------------------------------------------------------------------------------- transport level


def test_message_level_nak_and_pointer_wrap():
    fw = ClusterCTRLFirmware('triple')
    fw.message(False, b'')  # quick write: nothing changes
    assert fw.ptr == 0
    fw.message(False, [0xFF])
    assert fw.message(True, 3) == bytes([0xFF, 0x02, 0x03])  # 0xFF, then wraps to 0x00, 0x01
    fw.set_busy_messages(1)
    fw.message(False, [Reg.CMD, Cmd.ALERT_ON])
    with pytest.raises(Nak):
        fw.message(False, [Reg.MODE, 1])
    assert fw.regs[Reg.MODE] == 0
    assert fw.outputs()['alert_led'] is True


def test_slow_mode_discards_rest_of_message():
    """In slow mode the pieces after the one that set CMD are thrown away (§1.8, §1.9)."""
    fw = ClusterCTRLFirmware('triple', busy_messages=1)
    fw.message(False, [Reg.DATA1, 0, 1, Cmd.ON, 0, 0, 0, 0, Reg.MODE, 0x77])
    assert fw.regs[Reg.MODE] == 0
    fw.message(True, 1)
    assert fw.outputs()['pi_power'][1] is True


def test_command_between_pieces():
    """§1.9: if the piece containing CMD is followed by more pieces, the command runs between them."""
    fw = ClusterCTRLFirmware('triple')
    fw.message(False, [Reg.DATA0, 2, Cmd.ON, 0, 0, 0, 0, 0, Reg.DATA0, 2, Cmd.GET_PSTATUS])
    assert fw.regs[Reg.DATA0] == 1
    assert [c['name'] for c in fw.drain_activity()['commands']] == ['ON', 'GET_PSTATUS']


def test_reset_and_hub_cycle_raise_status_stage_lost():
    fw = ClusterCTRLFirmware('single')
    with pytest.raises(StatusStageLost) as exc:
        fw.message(False, [Reg.CMD, Cmd.HUB_CYCLE])
    assert exc.value.reason == 'gone' and fw.present is False
    fw.reenumerate()
    with pytest.raises(StatusStageLost):
        fw.message(False, [Reg.CMD, Cmd.RESET])
    assert fw.counters()['boot_count'] == 2


def test_long_hub_cycle_without_hub_times_out_status_stage():
    """Stack/DA HUB_CYCLE longer than the kernel's 2 s control timeout: the write fails (EIO) but the board stays."""
    fw, bus = rig('stack')
    with pytest.raises(OSError) as exc:
        send(bus, Cmd.HUB_CYCLE, 200)
    assert exc.value.errno == errno.EIO
    assert fw.present is True
    assert bus.read_byte_data(A, Reg.DATA0) == 200


def test_command_args_data0_first():
    fw, bus = rig('triple')
    bus.write_i2c_block_data(A, Reg.DATA1, [1, 2, Cmd.GET_DATA])
    send(bus, Cmd.ALERT_ON)
    records = bus.adapter.journal.commands()
    assert records[0]['args'] == [2, 1]
    assert records[1]['args'] == []


# ---------------------------------------------------------------------------------- DA and Stack


def test_da_boot_switches_hat_pis_off_and_ignores_pos():
    fw, bus = rig('da', da_hat_ports=(0, 1))
    for p in (1, 2, 5):
        send(bus, Cmd.ON, p)
    send(bus, Cmd.SAVEPOS)
    reset(fw, bus)
    assert not any(v for v in fw.outputs()['pi_power'].values())
    assert fw.outputs()['hats'][0] == {'pi_power': [False] * 4, 'led': True, 'hub': True}
    assert fw.boot_ms >= 800


def test_da_alert_cleared_by_hat_traffic():
    """§7.6 [BUG?]: HAT traffic ends with ALERT off; commands for an absent HAT leave it alone."""
    fw, bus = rig('da', da_hat_ports=(0,))
    send(bus, Cmd.ALERT_ON)
    send(bus, Cmd.ON, 5)  # HAT 1 absent
    assert fw.outputs()['alert_led'] is True
    send(bus, Cmd.ON, 1)
    assert fw.outputs()['alert_led'] is False


def test_da_led_commands_only_pwr():
    fw, bus = rig('da')
    send(bus, Cmd.LED_DIS, 0)
    assert fw.outputs()['pwr_led'] is False
    assert list(fw.enpled) == [0xFF] * 4
    send(bus, Cmd.LED_EN, 3)
    assert bus.read_byte_data(A, Reg.STATUS) == Status.OK


def test_stack_fans_follow_cooling_inputs():
    """§6.1: fan 1 runs for P1/P2 requests, fan 2 for P3-P5 and the spare input, both while fanstatus != 0."""
    fw, bus = rig('stack')
    assert fw.outputs()['fans'] == [False, False]
    fw.set_cooling_request(2, True)
    assert fw.outputs()['fans'] == [True, False]
    fw.set_cooling_request(2, False)
    fw.set_cooling_request(6, True)
    assert fw.outputs()['fans'] == [False, True]
    fw.set_cooling_request(6, False)
    send(bus, Cmd.FAN, 4)
    assert fw.outputs()['fans'] == [True, True]
    with pytest.raises(ValueError):
        fw.set_cooling_request(7, True)


def test_stack_has_no_pi_leds_but_keeps_enable_bits():
    fw, bus = rig('stack')
    send(bus, Cmd.LED_DIS, 3)
    assert fw.enpled[0] == 0xFB
    assert fw.outputs()['pi_led'][3] is None


# ---------------------------------------------------------------------------------- command dispatch


def test_every_command_code_names_a_method_of_the_model():
    """The dispatch table holds method names: each one exists, and commands run through it (§3)."""
    missing = [f'0x{code:02X}: {name}' for code, name in ClusterCTRLFirmware._HANDLERS.items() if not callable(getattr(ClusterCTRLFirmware, name, None))]
    assert not missing
    assert set(ClusterCTRLFirmware._OPTIONAL) <= set(ClusterCTRLFirmware._HANDLERS)
    fw, bus = rig('triple')
    send(bus, Cmd.SAVEDEFAULTS)  # a save command: ORDER, PWR_LED, ACT_LED, then one byte each of LED, POS, USBBOOT
    assert (fw.regs[Reg.STATUS], fw.eeprom_counts()['total']) == (Status.OK, 6)
    send(bus, Cmd.ON, 2)
    assert (fw.regs[Reg.STATUS], fw.outputs()['pi_power'][2]) == (Status.OK, True)
