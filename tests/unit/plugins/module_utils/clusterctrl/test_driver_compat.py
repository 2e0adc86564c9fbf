# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The earlier arrdem driver's API (clusterctrl-protocol.md §9.1), as its users write it, on an emulated bus.

Issue 11's example runs with ``emulated_bus('triple')`` in place of ``SMBus(3)``; every name
and form the issue lists as broken works, and the §9.2 bugs stay fixed.
"""

from __future__ import annotations

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import BoardType
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.driver import (
    I2C_ADDRESS,
    Cmd,
    Data,
    PiRef,
    Reg,
    Status,
    once,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.driver import (
    BoardType as DriverBoardType,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.driver import (
    ClusterCTRLv2Driver as Driver,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import AddressingError, NotSupportedError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import GetData
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.emulated_bus import emulated_bus


def calls(bus, mark=0):
    return [(e['op'], e['reg'], e['data'] if e['data'] is not None else e['length']) for e in bus.adapter.journal.to_list()[mark:]]


def test_the_issue_example_runs_on_an_emulated_triple():
    """Issue 11: the README's example, every attribute and call as its users write them."""
    bus = emulated_bus('triple')
    hat = Driver(bus)  # factory order 20: the earlier driver gives the board a random order (§9.1 _post_init)
    assert hat.fw_version == (1, 6)
    assert hat.min_pi == PiRef(hat.order, 1) and hat.max_pi == PiRef(hat.order, 3)
    assert [p.pi_id for p in hat.pis()] == [1, 2, 3]
    assert hat.type is BoardType.TRIPLE and hat.max_adc == 1
    assert hat.power_on(1) == 1  # DATA0 after ON is the Pi number (§3)
    assert hat.power_on(hat.min_pi) == 1
    assert not hat.power_status(2) and hat.power_status(2) == 0
    kelvin = hat.read_temp()
    assert isinstance(kelvin, int) and 250 <= kelvin <= 400
    assert bus.firmware.outputs()['pi_power'][1] is True
    assert bus.firmware.regs[Reg.ORDER] == hat.order != 20  # randomised, as the earlier driver did (B8: never 0 or 256)
    assert bus.firmware.eeprom[0x01] == hat.order  # and saved (§5.1)


def test_the_rest_of_the_api_works_and_returns_data0():
    hat = Driver(emulated_bus('triple', order=4))
    assert hat.power_all_on() == 3 and hat.power_status(3)
    assert hat.power_all_off() is None and not hat.power_status(3)
    for name in (
        'eeprom_save_all',
        'eeprom_save_powerstate',
        'eeprom_save_leds',
        'eeprom_save_order',
        'eeprom_save_usbboot',
        'eeprom_reset',
        'alert_on',
        'alert_off',
        'fan_on',
        'fan_off',
    ):
        assert isinstance(getattr(hat, name)(), int), name
    assert hat.get_order() == 4
    assert hat.set_order(9) == 9 and hat.get_order() == 9
    assert hat.led_on(1) == 1 and hat.led_off(1) == 1
    assert hat.fan_on() == 1 and hat.fan_status() == 1 and hat.fan_off() == 0
    assert hat.usbboot_off(2) == 2 and hat.usbboot_status(2) == 0
    assert hat.usbboot_on(2) == 2 and hat.usbboot_status(2) == 1
    assert hat.hub_reset() == 10 and hat.stale  # HUB_CYCLE: the board drops off USB (§3)


def test_power_on_by_keyword_id_and_positional():
    """Issue 11 done-when: ``power_on(id=2)`` works; the new keyword and positional forms too."""
    bus = emulated_bus('triple', order=3)
    hat = Driver(bus)
    assert hat.power_on(id=2) == 2 and hat.power_status(id=2)
    assert hat.power_off(pi=2) == 2 and not hat.power_status(2)
    assert hat.usbboot_status(id=1) == 1 and hat.led_on(id=1) == 1
    assert hat.read_adc(adc_id=1) == hat.read_adc(channel=1) == hat.read_adc(1)
    with pytest.raises(TypeError, match="both 'id' and 'pi'"):
        hat.power_on(id=1, pi=1)


def test_earlier_names_exist_with_their_values():
    """Issue 11: ``Data``, ``I2C_ADDRESS``, ``once`` and the earlier enum member names (§9.1)."""
    assert I2C_ADDRESS == 0x20 and Data is GetData and Data.FANSTATUS.value == 4 and Data.ADC_TEMP.value == 3
    assert (Cmd.SAVE_DEFAULTS, Cmd.SAVE_ORDER, Cmd.SAVE_USBBOOT, Cmd.SAVE_POS, Cmd.SAVE_LEDS, Cmd.NOP) == (
        Cmd.SAVEDEFAULTS,
        Cmd.SAVEORDER,
        Cmd.SAVEUSBBOOT,
        Cmd.SAVEPOS,
        Cmd.SAVELED,
        Cmd.PING,
    )
    assert Cmd(0xF1).name == 'SAVEDEFAULTS'  # the journal and messages keep this collection's names
    assert [s.value for s in (Status.OKAY, Status.UNSUPPORTED, Status.NO_PI, Status.UNKNOWN, Status.RESET_FAILED)] == [0, 1, 2, 3, 4]
    assert Reg.CMD.value == 0x0D and Reg.STATUS.value == 0x0E
    assert DriverBoardType is BoardType


def test_board_type_offers_the_earlier_members_without_changing_the_collection_s_values():
    """B7: the earlier ``A6`` and ``CTRL`` are aliases; integer codes still look a member up; values stay names."""
    assert BoardType.A6 is BoardType.APLUS6 and BoardType.CTRL is BoardType.PHAT
    assert [bt.value for bt in BoardType] == ['single', 'triple', 'phat', 'aplus6', 'stack', 'da']
    assert BoardType('triple') is BoardType.TRIPLE and BoardType.from_name('A+6') is BoardType.APLUS6
    assert [BoardType(code) for code in range(5)] == [BoardType.DA, BoardType.TRIPLE, BoardType.PHAT, BoardType.APLUS6, BoardType.STACK]
    assert BoardType.SINGLE.type_code == BoardType.A6.type_code == 3
    for bad in (5, True, 'ctrl', 1.0):
        with pytest.raises(ValueError):
            BoardType(bad)
    with pytest.raises(ValueError):
        BoardType.from_name('1')
    # The driver still tells Single from A+6 by MAXPI (§6.1).
    assert Driver(emulated_bus('single', order=2)).type is BoardType.SINGLE
    assert Driver(emulated_bus(3, order=2)).type is BoardType.APLUS6


def test_constructor_takes_delay_and_clear_positionally_and_by_keyword():
    """§9.1: ``ClusterCTRLv2Driver(bus, address=0x20, delay=0, clear=False)``."""
    slept = []
    bus = emulated_bus('stack', order=5)
    hat = Driver(bus, I2C_ADDRESS, 0.25, True, sleep=slept.append)
    mark = len(bus.adapter.journal)
    bus.firmware.set_data(7, 0x55)
    assert hat.power_on(3) == 3
    assert slept == [0.25]  # the earlier driver's fixed wait between the command and the read
    writes = [c for c in calls(bus, mark) if c[0].startswith('write')]
    # 8 data registers + CMD do not fit one 8-byte message (§1.9): two writes, the one with CMD last
    assert writes == [('write_i2c_block_data', 0x05, [0, 0]), ('write_i2c_block_data', 0x07, [0, 0, 0, 0, 0, 3, 0x03])]
    assert bus.firmware.data(7) == 0  # clear: unused data registers zeroed
    keyword = Driver(emulated_bus('triple', order=5), delay=0, clear=False)
    assert keyword.power_on(1) == 1
    with pytest.raises(ValueError):
        Driver(emulated_bus('triple', order=5), delay=-1)


def test_read_temp_is_integer_kelvin_computed_from_celsius():
    """B6: the raw count is not kelvin; kelvin = the CLI's °C (§4) + 273.15, rounded."""
    bus = emulated_bus('stack', order=5)
    bus.firmware.set_temperature_raw(300)
    hat = Driver(bus)
    reading = hat.read_temperature()
    assert reading.raw == 300 and reading.celsius == round((300 - 247) / 1.22, 2)
    assert hat.read_temp() == round((300 - 247) / 1.22 + 273.15) == 317
    with pytest.raises(NotSupportedError):
        Driver(emulated_bus('phat', order=5)).read_temp()


def test_min_pi_and_max_pi_are_attributes_and_calls():
    """§9.2 B12: the README used attributes, the code methods; both work and feed power_on."""
    hat = Driver(emulated_bus('aplus6', order=8))
    assert hat.min_pi() == hat.min_pi == PiRef(8, 1) and hat.max_pi() == hat.max_pi == PiRef(8, 5)
    assert hat.max_pi.controller_id == 8 and hat.max_pi.pi_id == 5
    assert hat.power_on(hat.max_pi) == 5 and hat.power_status(hat.max_pi())
    with pytest.raises(AddressingError):
        hat.power_on(PiRef(9, 1))  # another board's Pi


def test_once_caches_per_instance_not_globally():
    """B1: the earlier ``once`` kept one value for every instance; this one keeps one per instance."""

    class Counter:
        calls = 0

        def __init__(self, value):
            self.value = value

        @once
        def read(self):
            Counter.calls += 1
            return self.value

    first, second = Counter(1), Counter(2)
    assert (first.read(), second.read(), first.read(), second.read()) == (1, 2, 1, 2)
    assert Counter.calls == 2
    seen = []

    @once
    def thunk():
        seen.append(1)
        return 'value'

    assert thunk() == thunk() == 'value' and seen == [1]
    assert Driver(emulated_bus('triple', order=1)).max_adc == 1 and Driver(emulated_bus('stack', order=2)).max_adc == 2


def test_collection_callers_use_read_temperature():
    """The modules read (raw, °C); read_temp() is only the earlier API's kelvin."""
    hat = Driver(emulated_bus('triple', order=2), randomize_factory_order=False)
    assert hat.read_temperature()._fields == ('raw', 'celsius')


def test_emulated_bus_options():
    bus = emulated_bus(BoardType.TRIPLE, firmware='1.5', order=12)
    hat = Driver(bus)
    assert hat.fw_version == (1, 5) and hat.order == 12
    assert calls(bus)[0] == ('read_i2c_block_data', 0x00, 15)
    with pytest.raises(ValueError):
        emulated_bus('quad')
