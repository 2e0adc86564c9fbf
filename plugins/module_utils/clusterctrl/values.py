# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The values the drivers hand back: Pi references and ADC / temperature readings (spec §4, §9.1)."""

from __future__ import annotations

from collections import namedtuple

# Kelvin from °C: the earlier driver's read_temp() promised integer kelvin (§9.1, §9.2 B6).
KELVIN_OFFSET = 273.15


class PiRef(namedtuple('PiRef', 'board_id pi_id')):
    """A Pi on a given board: ``board_id`` is the board's ORDER, ``pi_id`` its 1-based slot.

    ``controller_id`` is the earlier driver's name for ``board_id``. Calling a PiRef returns it,
    so that ``driver.min_pi`` (the earlier README) and ``driver.min_pi()`` (its code) both work.
    """

    __slots__ = ()

    @property
    def controller_id(self):
        return self.board_id

    def __call__(self):
        return self


AdcReading = namedtuple('AdcReading', 'channel type_code raw millivolts')
TemperatureReading = namedtuple('TemperatureReading', 'raw celsius')


def kelvin(celsius: float) -> int:
    """Integer kelvin from °C."""
    return int(round(celsius + KELVIN_OFFSET))
