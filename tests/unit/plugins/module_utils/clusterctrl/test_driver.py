# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ClusterCTRLv2Driver against the firmware emulator: behaviour, errors, and exact bus traffic.

Traffic is asserted from the emulator's journal (one entry per SMBus call), against the
minimum the spec derives (clusterctrl-protocol.md §1.6, §10.3).
"""

from __future__ import annotations

import errno

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import BoardType
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.driver import ClusterCTRLv2Driver, PiRef
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import (
    AddressingError,
    BusError,
    ClusterCTRLError,
    CommandError,
    NotSupportedError,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import Cmd
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.faults import FaultPlan
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus


class Rig:
    """One emulated board, its bus and a driver on it; ``sleeps`` records the driver's waits."""

    def __init__(self, board='triple', order=1, faults=None, randomize=False, **firmware_kwargs):
        self.firmware = ClusterCTRLFirmware(board, order=order, **firmware_kwargs)
        self.adapter = I2CTinyUsbAdapter.for_board(self.firmware, fault_plan=faults)
        self.bus = EmulatedSMBus(self.adapter)
        self.sleeps = []
        self.driver = ClusterCTRLv2Driver(self.bus, label='test board', randomize_factory_order=randomize, sleep=self.sleeps.append)

    @property
    def journal(self):
        return self.adapter.journal.to_list()

    def calls_since(self, mark):
        return [(e['op'], e['reg'], e['data'] if e['data'] is not None else e['length']) for e in self.journal[mark:]]

    def mark(self):
        return len(self.journal)


ALL_BOARDS = [bt.value for bt in BoardType]


@pytest.mark.parametrize('board', ALL_BOARDS)
def test_construction_reads_all_registers_in_one_block_read(board):
    """§10.3: identity, order and registers come from one 15-byte block read; B7: every board has its own type."""
    rig = Rig(board)
    assert rig.calls_since(0) == [('read_i2c_block_data', 0x00, 15)]
    assert rig.driver.type is BoardType(board)
    assert rig.driver.maxpi == BoardType(board).spec.maxpi
    assert rig.driver.order == 1


def test_single_and_aplus6_share_type_code_but_are_told_apart():
    """§6.1 [DISAGREE]: Single and A+6 both report TYPE 3; MAXPI tells them apart (earlier driver bug B7)."""
    assert Rig('single').driver.type is BoardType.SINGLE
    assert Rig('aplus6').driver.type is BoardType.APLUS6


def test_power_on_is_one_combined_write_and_one_status_read():
    """§1.6 / §10.3: ON costs one write [p, 0x03] at DATA0 and one read of [DATA0, CMD, STATUS] (DATA0: §9.1 return value)."""
    rig = Rig()
    mark = rig.mark()
    assert rig.driver.power_on(2) == 2
    assert rig.calls_since(mark) == [('write_i2c_block_data', 0x0C, [2, 0x03]), ('read_i2c_block_data', 0x0C, 3)]
    assert rig.firmware.outputs()['pi_power'][2] is True


def test_power_status_is_two_calls_and_reports_the_pin():
    """§10.3: GET_PSTATUS is write [p, 0x0F] then read [data0, CMD, STATUS] from 0x0C."""
    rig = Rig()
    rig.driver.power_on(3)
    mark = rig.mark()
    assert rig.driver.power_status(3) is True
    assert rig.driver.power_status(1) is False
    assert rig.calls_since(mark)[:2] == [('write_i2c_block_data', 0x0C, [3, 0x0F]), ('read_i2c_block_data', 0x0C, 3)]
    assert len(rig.calls_since(mark)) == 4


def test_power_off_keeps_other_pis():
    rig = Rig('phat', order=4)
    rig.driver.power_on(1)
    rig.driver.power_on(2)
    rig.driver.power_off(1)
    assert [rig.driver.power_status(p) for p in (1, 2)] == [False, True]


def test_full_state_of_a_triple_is_the_spec_minimum_of_17_calls():
    """§10.3 totals: a Triple's readable state (identity, firmware, power, USB boot, fan) in 17 SMBus calls."""
    rig = Rig('triple', firmware='1.6')
    driver = rig.driver
    driver.fw_version  # noqa: B018 - a property read is the point
    for pi in range(1, 4):
        driver.power_status(pi)
        driver.usbboot_status(pi)
    driver.fan_status()
    assert len(rig.journal) == 17
    assert sum(e['usb_transfers'] for e in rig.journal) == 52


def test_firmware_version_is_read_once_per_instance_not_globally():
    """Earlier driver bug B1: cached values leaked between instances. Here each board keeps its own."""
    triple = Rig('triple', firmware='1.6')
    stack = Rig('stack', firmware='1.8')
    assert triple.driver.fw_version == (1, 6)
    assert stack.driver.fw_version == (1, 8)
    mark = triple.mark()
    assert triple.driver.fw_version == (1, 6)
    assert triple.mark() == mark
    assert (triple.driver.maxpi, stack.driver.maxpi) == (3, 5)


@pytest.mark.parametrize('bad', [0, 4, -1, True, '1', 1.0, PiRef(2, 1)])
def test_invalid_pi_is_refused_before_any_bus_traffic(bad):
    """Earlier driver bug B9: Pi 0 was accepted; a PiRef of another board must be refused too."""
    rig = Rig('triple', order=1)
    mark = rig.mark()
    with pytest.raises(AddressingError) as err:
        rig.driver.power_on(bad)
    assert 'test board' in str(err.value)
    assert rig.mark() == mark


def test_piref_of_this_board_is_accepted():
    rig = Rig('stack', order=7)
    assert list(rig.driver.pis())[-1] == PiRef(7, 5) == rig.driver.max_pi()
    assert rig.driver.min_pi() == PiRef(7, 1)
    rig.driver.power_on(PiRef(7, 5))
    assert rig.driver.power_status(PiRef(7, 5)) is True


def test_unknown_command_status_raises_naming_command_and_code():
    """§3: PING (0x90) is never dispatched and answers STATUS 0x03; B4: every non-OK STATUS is an error."""
    rig = Rig()
    with pytest.raises(CommandError) as err:
        rig.driver._command(Cmd.PING)
    text = str(err.value)
    assert 'PING' in text and '0x03' in text and 'test board' in text and 'unknown command' in text
    assert err.value.status == 3


def test_missing_hat_on_a_da_is_an_error_naming_the_pi():
    """§3 GET_PSTATUS on a DA: a Pi of an absent ClusterHAT answers 0xFF with STATUS 0x00."""
    rig = Rig('da', order=3)
    assert rig.driver.power_status(1) is False
    with pytest.raises(CommandError) as err:
        rig.driver.power_status(5)
    assert 'Pi 5' in str(err.value) and 'ClusterHAT' in str(err.value)
    assert rig.driver.hats_present() == [0]


@pytest.mark.parametrize(
    'board, method, args',
    [
        ('single', 'fan_on', ()),
        ('phat', 'fan_off', ()),
        ('da', 'fan_status', ()),
        ('phat', 'usbboot_on', (1,)),
        ('stack', 'usbboot_status', (1,)),
        ('aplus6', 'usbboot_off', (1,)),
        ('single', 'read_temp', ()),
        ('phat', 'read_temp', ()),
        ('stack', 'led_on', (1,)),
        ('triple', 'act_on', ()),
        ('stack', 'get_path', (0,)),
        ('triple', 'hats_present', ()),
    ],
)
def test_features_a_board_lacks_are_refused_without_traffic(board, method, args):
    """§3 command availability table: the driver knows each board's features (§9.3)."""
    rig = Rig(board)
    mark = rig.mark()
    with pytest.raises(NotSupportedError) as err:
        getattr(rig.driver, method)(*args)
    assert BoardType(board).product in str(err.value)
    assert rig.mark() == mark


def test_fan_status_needs_firmware_1_6():
    """§4: FANSTATUS exists from 1.6 (spec §11 fact 65); older firmware is refused with a clear message."""
    rig = Rig('triple', firmware='1.5')
    with pytest.raises(NotSupportedError) as err:
        rig.driver.fan_status()
    assert '1.6' in str(err.value) and '1.5' in str(err.value)


def test_fan_on_then_status():
    rig = Rig('aplus6', firmware='1.8')
    rig.driver.fan_on()
    assert rig.driver.fan_status() & 1 == 1
    assert rig.firmware.outputs()['fans']
    rig.driver.fan_off()
    assert rig.driver.fan_status() == 0


def test_act_led_on_aplus6_1_8_but_not_older():
    """§6.3: ACT_EN/ACT_DIS arrived in 1.8 on the A+6."""
    rig = Rig('aplus6', firmware='1.8')
    rig.driver.act_off()
    assert rig.firmware.outputs()['act_enabled'] is False
    old = Rig('aplus6', firmware='1.5')
    with pytest.raises(NotSupportedError):
        old.driver.act_on()


def test_adc_types_are_scaled_by_their_real_codes():
    """Earlier driver bug B5: type 1 is the halved 3.3 V input, type 2 the 10k/1.07k divider (§4)."""
    rig = Rig('stack', adc_raw={1: 776, 2: 360})
    first, second = rig.driver.read_adc(1), rig.driver.read_adc(2)
    assert (first.type_code, first.raw, first.millivolts) == (1, 776, 5001.6)
    assert (second.type_code, second.raw, second.millivolts) == (2, 360, 12002.7)
    with pytest.raises(AddressingError):
        rig.driver.read_adc(3)
    assert rig.driver.max_adc == 2


def test_temperature_is_raw_plus_cli_celsius():
    """Earlier driver bug B6: the raw count is not Kelvin; °C uses the official CLI's formula (§4)."""
    rig = Rig('triple', temperature_raw=300)
    reading = rig.driver.read_temperature()
    assert reading.raw == 300
    assert reading.celsius == round((300 - 247) / 1.22, 2)


def test_usbboot_round_trip_on_a_triple():
    rig = Rig('triple')
    rig.driver.usbboot_off(2)
    assert rig.driver.usbboot_status(2) is False
    rig.driver.usbboot_on(2)
    assert rig.driver.usbboot_status(2) is True
    assert rig.firmware.outputs()['usbboot_pin'][2] is True


def test_get_path_reads_hops_first_hop_first():
    """§3 GETPATH: DATA7 is the first hop; unused hops are 0xFF (spec §11 facts 36-37)."""
    assert Rig('aplus6').driver.get_path(0) == [4, 1]
    assert Rig('aplus6').driver.get_path(5) == [4, 4]
    assert Rig('triple').driver.get_path(1) == [4]


def test_all_leds_on_is_refused_where_it_powers_every_pi():
    """§3 LED_EN(0) [BUG] on GPIOD boards switches every Pi on; the driver refuses it there."""
    rig = Rig('phat')
    with pytest.raises(NotSupportedError):
        rig.driver.led_all_on()
    assert not any(rig.firmware.outputs()['pi_power'].values())
    triple = Rig('triple')
    triple.driver.power_on(1)
    triple.driver.led_all_off()
    triple.driver.led_all_on()
    assert triple.firmware.outputs()['pi_led'][1] is True
    assert triple.firmware.outputs()['pwr_led'] is True


def test_hub_on_and_off_do_not_exist_in_the_firmware():
    """§3: HUB_ON/HUB_OFF are never dispatched; the earlier driver reported success (B4)."""
    rig = Rig()
    mark = rig.mark()
    for method in (rig.driver.hub_on, rig.driver.hub_off):
        with pytest.raises(NotSupportedError) as err:
            method()
        assert 'hub_reset' in str(err.value)
    assert rig.mark() == mark


def test_hub_reset_validates_units_and_leaves_the_driver_stale():
    """§3 HUB_CYCLE: units of 13.33 ms, minimum 10; the controller drops off USB afterwards (B10/B11)."""
    rig = Rig('triple')
    with pytest.raises(AddressingError):
        rig.driver.hub_reset(5)
    rig.driver.hub_reset(10)
    assert rig.firmware.counters()['hub_cycles'] == 1
    assert rig.driver.stale
    with pytest.raises(ClusterCTRLError) as err:
        rig.driver.power_status(1)
    assert 'rediscover' in str(err.value)


def test_reset_restores_saved_state_and_marks_the_driver_stale():
    """§5.2: RESET rebuilds RAM from EEPROM; a saved power state comes back (spec §11 fact 53)."""
    rig = Rig('triple')
    rig.driver.power_on(1)
    rig.driver.eeprom_save_powerstate()
    rig.driver.power_on(2)  # not saved: off after the reset
    rig.driver.reset()
    assert rig.driver.stale
    rig.firmware.reenumerate()
    fresh = ClusterCTRLv2Driver(rig.bus, randomize_factory_order=False)
    assert [fresh.power_status(p) for p in (1, 2, 3)] == [True, False, False]


def test_set_order_accepts_20_and_saves_on_request():
    """Earlier driver bug B8: order 20 could never be set; SET_ORDER is RAM-only until SAVEORDER (§5.1)."""
    rig = Rig('triple', order=5)
    rig.driver.set_order(20)
    assert rig.driver.get_order() == 20
    assert rig.firmware.eeprom[0x01] == 5
    rig.driver.eeprom_save_order()
    assert rig.firmware.eeprom[0x01] == 20
    for bad in (0, 256, -3, '7', True):
        with pytest.raises(AddressingError):
            rig.driver.set_order(bad)


def test_factory_order_is_randomised_only_when_asked():
    """The earlier driver's _post_init hook: a board at order 20 gets a random order (1..255, never 20), saved."""
    kept = Rig('triple', order=20, randomize=False)
    assert kept.driver.order == 20
    assert not any(e['mutating'] for e in kept.journal)
    for _round in range(20):
        rig = Rig('triple', order=20, randomize=True)
        assert 1 <= rig.driver.order <= 255 and rig.driver.order != 20
        assert rig.firmware.eeprom[0x01] == rig.driver.order


def test_post_init_hook_is_overridable():
    class Quiet(ClusterCTRLv2Driver):
        def _post_init(self):
            self.hooked = True

    firmware = ClusterCTRLFirmware('stack', order=20)
    adapter = I2CTinyUsbAdapter.for_board(firmware)
    driver = Quiet(EmulatedSMBus(adapter))
    assert driver.hooked and driver.order == 20
    assert not any(e['mutating'] for e in adapter.journal.to_list())


def test_power_all_on_skips_pis_already_on_and_staggers_power_ons():
    """The CLI waits between power-ons to limit inrush current (§10.5); nothing is sent for Pis already on."""
    rig = Rig('aplus6')
    rig.driver.power_on(2)
    sent = rig.driver.power_all_on(delay=0.5)
    assert sent == 4
    assert rig.sleeps == [0.5, 0.5, 0.5]
    assert all(rig.firmware.outputs()['pi_power'].values())
    rig.driver.power_all_off()
    assert not any(rig.firmware.outputs()['pi_power'].values())


def test_transient_errors_are_retried_and_results_stay_right():
    """§1.8: EIO, ENXIO and EREMOTEIO are retried; with a 30 % error rate every operation still lands."""
    rig = Rig('stack', faults=FaultPlan(transient_error_rate=0.3, after_effect_ratio=0.5, seed=7))
    for pi in range(1, 6):
        rig.driver.power_off(pi)
    for pi in (1, 3, 5):
        rig.driver.power_on(pi)
    assert [rig.driver.power_status(p) for p in range(1, 6)] == [True, False, True, False, True]
    assert rig.driver._io.retries > 0
    assert any(e['error'] for e in rig.journal)


def test_a_board_that_stops_answering_fails_fast_with_its_name():
    """A device that times out (ETIMEDOUT) is not retried: the error names the board and the operation."""
    rig = Rig('triple', faults=FaultPlan(stop_after_calls=3))
    rig.driver.power_status(1)
    with pytest.raises(BusError) as err:
        rig.driver.power_on(1)
    assert err.value.errno == errno.ETIMEDOUT
    assert 'test board' in str(err.value) and 'ETIMEDOUT' in str(err.value)


def test_persistent_nak_gives_up_after_bounded_attempts():
    rig = Rig('triple')
    rig.adapter.set_fault_plan(FaultPlan(transient_error_rate=1.0, seed=1))
    with pytest.raises(BusError) as err:
        rig.driver.power_status(1)
    assert err.value.attempts == 5
    assert 'after 5 attempts' in str(err.value)
    assert len(rig.sleeps) == 4 and sum(rig.sleeps) < 0.05


def test_slow_commands_are_waited_for():
    """§1.8 busy mode: writes are NAKed while CMD is set; the driver retries and still gets the result."""
    rig = Rig('triple', faults=FaultPlan(busy_messages=2))
    rig.driver.power_on(2)
    assert rig.driver.power_status(2) is True
    assert any(e['error'] in ('ENXIO', 'EREMOTEIO') for e in rig.journal)


def test_eeprom_saves_survive_a_reset():
    """§5.1 SAVE writes order, LEDs, power-on state and USB boot; §5.2 restores them at power-up."""
    rig = Rig('triple', order=9)
    rig.driver.power_on(3)
    rig.driver.usbboot_off(1)
    rig.driver.set_order(12)
    rig.driver.eeprom_save_all()
    rig.firmware.power_cycle()
    rig.firmware.reenumerate()
    fresh = ClusterCTRLv2Driver(rig.bus, randomize_factory_order=False)
    assert fresh.order == 12
    assert [fresh.power_status(p) for p in (1, 2, 3)] == [False, False, True]
    assert fresh.usbboot_status(1) is False
    fresh.eeprom_reset()
    rig.firmware.power_cycle()
    rig.firmware.reenumerate()
    assert ClusterCTRLv2Driver(rig.bus, randomize_factory_order=False).order == 20


def test_reset_detection_costs_one_write_and_catches_a_restart():
    """detect_resets: a token in MODE (never saved, 0 after a restart, §11 fact 8) checked by every status read."""
    firmware = ClusterCTRLFirmware('triple', order=1)
    adapter = I2CTinyUsbAdapter.for_board(firmware)
    driver = ClusterCTRLv2Driver(EmulatedSMBus(adapter), label='guarded', randomize_factory_order=False, detect_resets=True)
    calls = [(e['op'], e['reg']) for e in adapter.journal.to_list()]
    assert calls == [('read_i2c_block_data', 0x00), ('write_byte_data', 0x03)]
    mark = len(adapter.journal.to_list())
    driver.power_on(1)
    assert [(e['op'], e['reg'], e['length']) for e in adapter.journal.to_list()[mark:]] == [
        ('write_i2c_block_data', 0x0C, None),
        ('read_i2c_block_data', 0x02, 13),
    ]  # still 2 calls
    assert driver.power_status(1) is True
    firmware.power_cycle()  # a brown-out: back at once, RAM from EEPROM
    firmware.reenumerate()
    with pytest.raises(ClusterCTRLError) as err:
        driver.power_status(1)
    assert 'guarded restarted during this run' in str(err.value)


def test_a_restart_before_the_token_is_caught_by_the_order():
    """A restart between the first read and the token write rebuilds ORDER from EEPROM: the status read sees it."""
    firmware = ClusterCTRLFirmware('triple', order=4)
    bus = EmulatedSMBus(I2CTinyUsbAdapter.for_board(firmware))
    driver = ClusterCTRLv2Driver(bus, label='guarded', randomize_factory_order=False, detect_resets=True)
    driver.set_order(9)  # RAM only; EEPROM still says 4
    assert driver.power_status(1) is False
    firmware.power_cycle()
    firmware.reenumerate()
    bus.write_byte_data(0x20, 0x03, driver._reset_marker)  # the token survives, as if written after the restart
    with pytest.raises(ClusterCTRLError) as err:
        driver.power_status(1)
    assert 'order changed from 9 to 4' in str(err.value)
