# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The driver on the real ``smbus2.SMBus`` class, with only the kernel boundary (ioctl) emulated.

A tap in front of the emulated firmware records every I2C message as it would cross the
wire, so these tests prove the exact bytes the driver makes smbus2 and the kernel send
(clusterctrl-protocol.md §1.2, §1.5, §1.6), and that the emulator's own SMBus front-end
(used by virtual labs) produces the very same messages.
"""

from __future__ import annotations

import pytest

pytest.importorskip('smbus2')

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.driver import ClusterCTRLv2Driver  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.i2c_dev import smbus2_on  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus  # noqa: E402


class WireTap:
    """Sits at address 0x20 in front of the firmware and records each message: ('W', bytes) or ('R', bytes read)."""

    def __init__(self, firmware):
        self.firmware = firmware
        self.wire = []

    @property
    def present(self):
        return self.firmware.present

    def message(self, is_read, data_or_length):
        answer = self.firmware.message(is_read, data_or_length)
        self.wire.append(('R', list(answer)) if is_read else ('W', list(data_or_length)))
        return answer

    def __getattr__(self, name):
        return getattr(self.firmware, name)


def exercise(driver):
    """The operations a module run makes, in order."""
    driver.fw_version  # noqa: B018 - reading the property is the operation
    driver.power_status(2)
    driver.power_on(2)
    driver.usbboot_status(1)
    driver.read_adc(1)
    driver.read_temp()


EXPECTED_WIRE = [
    # ClusterCTRLv2Driver(): one 15-byte block read of every register (§10.3)
    ('W', [0x00]),
    ('R', [0x02, 0x03, 0x01, 0x00, 0x01] + [0x00] * 10),
    # fw_version: GET_DATA(VERSION) as one combined write, then [DATA1, DATA0, CMD, STATUS]
    ('W', [0x0C, 0x00, 0xF2]),
    ('W', [0x0B]),
    ('R', [0x01, 0x06, 0x00, 0x00]),
    # power_status(2): GET_PSTATUS, then [DATA0, CMD, STATUS]
    ('W', [0x0C, 0x02, 0x0F]),
    ('W', [0x0C]),
    ('R', [0x00, 0x00, 0x00]),
    # power_on(2): ON as one combined write (§11 fact 60), then [DATA0, CMD, STATUS] (DATA0: the §9.1 return value)
    ('W', [0x0C, 0x02, 0x03]),
    ('W', [0x0C]),
    ('R', [0x02, 0x00, 0x00]),
    # usbboot_status(1): GET_USTATUS; the factory EEPROM enables USB boot (§5.1: 0x50 = 0xFF)
    ('W', [0x0C, 0x01, 0x14]),
    ('W', [0x0C]),
    ('R', [0x01, 0x00, 0x00]),
    # read_adc(1): GET_DATA(ADC_READ, channel 1) writes DATA1, DATA0, CMD from 0x0B; reads DATA2..STATUS
    ('W', [0x0B, 0x01, 0x02, 0xF2]),
    ('W', [0x0A]),
    ('R', [0x03, 0x08, 0x01, 0x00, 0x00]),
    # read_temp(): GET_DATA(ADC_TEMP); DATA0 = marker 2, DATA1/2 = ADCL/ADCH of raw 280
    ('W', [0x0C, 0x03, 0xF2]),
    ('W', [0x0A]),
    ('R', [0x01, 0x18, 0x02, 0x00, 0x00]),
]


def make_tap():
    firmware = ClusterCTRLFirmware('triple', order=1, firmware='1.6', adc_raw={1: 776}, temperature_raw=280)
    tap = WireTap(firmware)
    return tap, I2CTinyUsbAdapter({0x20: tap})


def test_real_smbus2_sends_exactly_the_spec_messages():
    tap, adapter = make_tap()
    with smbus2_on(adapter) as bus:
        driver = ClusterCTRLv2Driver(bus, randomize_factory_order=False)
        exercise(driver)
        assert driver.power_status(2) is True
    assert tap.wire[: len(EXPECTED_WIRE)] == EXPECTED_WIRE
    # 2 USB control transfers per I2C message (§1.2)
    entries = adapter.journal.to_list()
    assert sum(e['usb_transfers'] for e in entries) == 2 * len(tap.wire)


def test_emulated_smbus_front_end_matches_the_kernel_path():
    """Virtual labs use EmulatedSMBus; it must put the same messages on the wire as smbus2 + the kernel."""
    kernel_tap, kernel_adapter = make_tap()
    with smbus2_on(kernel_adapter) as bus:
        exercise(ClusterCTRLv2Driver(bus, randomize_factory_order=False))
    lab_tap, lab_adapter = make_tap()
    exercise(ClusterCTRLv2Driver(EmulatedSMBus(lab_adapter), randomize_factory_order=False))
    assert lab_tap.wire == kernel_tap.wire


def test_every_write_message_fits_the_firmware_8_byte_piece():
    """§1.9: bytes after the 8th of a write message are mis-parsed; the driver never sends more."""
    tap, adapter = make_tap()
    with smbus2_on(adapter) as bus:
        driver = ClusterCTRLv2Driver(bus, randomize_factory_order=False)
        exercise(driver)
        driver.get_path(3)
        driver.set_order(9)
        driver.eeprom_save_all()
    writes = [data for kind, data in tap.wire if kind == 'W']
    assert writes and max(len(w) for w in writes) <= 8
