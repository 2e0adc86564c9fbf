# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What an emulated ClusterCTRL board holds before anyone changes it: its factory EEPROM and sensor readings.

Section numbers point into the project's protocol spec (``clusterctrl-protocol.md``).
"""

from __future__ import annotations

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import BoardType, ctrl_size
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import (
    ADC_MV_PER_COUNT,
    FACTORY_ORDER,
    Eeprom,
)

# Plausible default raw readings (§4): 5 V on a type-1 channel, 12 V on a type-2 channel,
# and about 27 degC with the CLI formula (raw - 247) / 1.22.
DEFAULT_ADC_MV = {1: 5000.0, 2: 12000.0}
DEFAULT_TEMPERATURE_RAW = 280


def default_adc_raw(type_code: int) -> int:
    """Raw 10-bit reading that a channel of this type shows for its nominal rail (§4)."""
    return min(1023, int(round(DEFAULT_ADC_MV[type_code] / ADC_MV_PER_COUNT[type_code])))


def factory_eeprom(board: BoardType | str, order: int | None = None) -> bytearray:
    """The factory EEPROM image of §5.1 (``1.3_clustertriple-1.0.eep``; Stack: 0x30 = 0x1F).

    ``order`` replaces the factory order 20 at offset 0x01 (the lab's order for this board).
    """
    board = board if isinstance(board, BoardType) else BoardType.from_name(board)
    spec = board.spec
    image = bytearray([0xFF] * spec.eeprom_size)
    image[Eeprom.ORDER] = FACTORY_ORDER if order is None else order
    image[Eeprom.PWR_LED] = 0x01
    image[Eeprom.ACT_LED] = 0x01
    pos = 0x1F if board is BoardType.STACK else 0x00
    for i in range(ctrl_size(spec.maxpi)):
        image[Eeprom.LED_BITS + i] = 0xFF
        image[Eeprom.POS_BITS + i] = pos
        image[Eeprom.USBBOOT_BITS + i] = 0xFF
    return image
