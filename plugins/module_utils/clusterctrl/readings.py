# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a ClusterCTRL board reports through GET_DATA (spec §4): firmware version, fan status, ADC, temperature.

``BoardReadingsMixin`` gives ``ClusterCTRLv2Driver`` these reads and their decoding: the firmware
version and the ADC channel count are read once per instance (the earlier driver's ``once``
values, §9.2 B1); ADC channels are scaled by their real type codes (B5); ``read_temperature()``
gives the raw count and °C (the CLI's formula), ``read_temp()`` integer kelvin from that °C (B6).
The mixin runs its commands through the driver's ``_command`` and feature checks.
"""

from __future__ import annotations

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.compat import renamed_keywords
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import AddressingError, CommandError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import (
    ADC_MV_PER_COUNT,
    ADC_TEMP_MARKER,
    Cmd,
    GetData,
    Status,
    temperature_celsius,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.values import AdcReading, TemperatureReading, kelvin


class BoardReadingsMixin:
    """GET_DATA reads of ClusterCTRLv2Driver (needs its ``_command``, ``_require``, ``_require_firmware``, ``spec``, ``label``)."""

    _fw_version = None
    _max_adc = None

    # ------------------------------------------------------------------ firmware version
    @property
    def fw_version(self):
        """Firmware version as ``(major, minor)`` from GET_DATA VERSION; read once per instance."""
        if self._fw_version is None:
            minor, major = self._command(Cmd.GET_DATA, [GetData.VERSION], outputs=2)
            self._fw_version = (major, minor)
        return self._fw_version

    @property
    def fw_version_string(self):
        return f'{self.fw_version[0]}.{self.fw_version[1]}'

    # ------------------------------------------------------------------ fan status
    def fan_status(self):
        """FANSTATUS byte (firmware 1.6+): bit 0 the software request; on Stack bits 1-6 the cooling requests."""
        self._require(self.spec.fan != 'none', 'fan')
        self._require_firmware((1, 6), 'reading the fan status')
        (value,) = self._command(Cmd.GET_DATA, [GetData.FANSTATUS], outputs=1)
        return value

    # ------------------------------------------------------------------ ADC and temperature
    @property
    def max_adc(self):
        """Number of ADC channels (GET_DATA ADC_CNT); read once per instance."""
        if self._max_adc is None:
            (self._max_adc,) = self._command(Cmd.GET_DATA, [GetData.ADC_CNT], outputs=1)
        return self._max_adc

    @property
    def adc_ids(self):
        return range(1, self.max_adc + 1)

    @renamed_keywords(adc_id='channel')
    def read_adc(self, channel):
        """One ADC channel as an AdcReading (raw count, type code, millivolts scaled per spec §4)."""
        channels = [c.channel for c in self.spec.adc_channels]  # spec §4 table: no ADC_CNT round trip
        if isinstance(channel, bool) or channel not in channels:
            raise AddressingError(f'{self.label}: ADC channel {channel!r} does not exist: the {self._type.product} has {len(channels)}')
        type_code, low, high = self._command(Cmd.GET_DATA, [GetData.ADC_READ, channel], outputs=3)
        raw = high * 256 + low
        scale = ADC_MV_PER_COUNT.get(type_code)
        if scale is None:
            raise CommandError(self.label, 'GET_DATA ADC_READ', Status.OK, None, f'unknown ADC channel type {type_code}')
        return AdcReading(channel, type_code, raw, round(raw * scale, 1))

    def read_temperature(self):
        """On-chip temperature as a TemperatureReading (raw count and uncalibrated °C, spec §4)."""
        self._require(self.spec.has_temperature, 'temperature sensor')
        marker, low, high = self._command(Cmd.GET_DATA, [GetData.ADC_TEMP], outputs=3)
        if marker != ADC_TEMP_MARKER:
            raise CommandError(self.label, 'GET_DATA ADC_TEMP', Status.OK, None, f'unexpected marker 0x{marker:02X}')
        raw = high * 256 + low
        return TemperatureReading(raw, temperature_celsius(raw))

    def read_temp(self):
        """The earlier driver's call: the temperature in integer kelvin (§9.2 B6: from °C, not the raw count)."""
        return kelvin(self.read_temperature().celsius)
