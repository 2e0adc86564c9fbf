# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The six ClusterCTRL board types and what each one can do (spec §6).

``BoardType`` has one member per board. Unlike the earlier driver's enum (spec §9.2 B7),
no two members alias each other: Single and A+6 share TYPE code 3 and are told apart by
MAXPI, as the spec (§6.1, Appendix B) prescribes.
"""

from __future__ import annotations

from collections import namedtuple
from enum import Enum

# One ADC channel: 1-based channel number, the AVR mux input, the channel type code (§4), a label.
AdcChannel = namedtuple('AdcChannel', 'channel avr_input type_code label')

BoardSpec = namedtuple(
    'BoardSpec',
    [
        'product',  # product name
        'type_code',  # value of register 0x04
        'maxpi',  # value of register 0x01
        'usb_pid',  # USB product id (vendor 0x3171)
        'gpio',  # pin back-end: 'A' (Triple, A+6, Stack), 'D' (Single, pHAT), 'E' (DA)
        'has_alert_led',
        'has_act_led',
        'has_pi_leds',  # False where built with NOPLED (Stack) or LEDs are on HATs (DA)
        'has_usbboot',
        'fan',  # 'none', 'pin' (Triple, A+6) or 'stack' (two automatic fans + software flag)
        'adc_channels',  # tuple of AdcChannel
        'has_temperature',
        'hub',  # None (no hub pin), 'low' (on when low) or 'high' (on when high)
        'paths',  # GETPATH table: (controller hops, P1 hops, ...) or None (NOPATHS)
        'autoondelay_ms',  # wait before each saved-on Pi at power-up, None if not defined
        'newest_firmware',  # newest published image (§6.2)
        'eeprom_size',  # bytes: ATtiny4313 256, ATmega328P(B) 1024
    ],
)


def _da_paths():
    # §6.1 DA path table: HAT h's P1..P4 sit on hub ports 4..1 behind the listed prefix.
    prefixes = [(2, 4), (2, 3), (2, 2), (2, 1), (1, 1), (1, 2), (1, 3), (1, 4)]
    pis = []
    for prefix in prefixes:
        for port in (4, 3, 2, 1):
            pis.append(prefix + (port,))
    return ((4,),) + tuple(pis)


class BoardType(Enum):
    """A ClusterCTRL board type. ``value`` is the name used in lab files and results.

    Compatibility with the earlier arrdem driver (spec §9.1, §9.2 B7), whose members were
    ``DA = 0, SINGLE = TRIPLE = 1, PHAT = CTRL = 2, A6 = 3, STACK = 4``:

    * its member names all exist: ``A6`` is an alias of ``APLUS6`` and ``CTRL`` of ``PHAT``
      (it was already an alias of PHAT there). Aliases never show in iteration, so
      ``from_name``, lab files and results see the six boards only;
    * ``value`` stays this collection's name ('triple'); the register code the earlier
      ``value`` held is ``type_code`` (§6.1);
    * ``BoardType(code)`` with an integer TYPE code still finds a member (``_missing_``):
      0 DA, 1 Triple, 2 pHAT, 3 A+6, 4 Stack. Code 1 gives TRIPLE (the earlier enum said
      SINGLE, bug B7) and code 3 A+6 as the earlier ``A6 = 3``: the Single shares code 3 and
      only MAXPI tells them apart, which ``from_registers`` (used by the driver) does.
    """

    SINGLE = 'single'
    TRIPLE = 'triple'
    PHAT = 'phat'
    APLUS6 = 'aplus6'
    STACK = 'stack'
    DA = 'da'
    # The earlier driver's names (aliases: the same members as APLUS6 and PHAT).
    A6 = 'aplus6'
    CTRL = 'phat'

    @classmethod
    def _missing_(cls, value):
        """An integer TYPE code, as the earlier driver's int-valued enum took (see the class doc)."""
        if isinstance(value, int) and not isinstance(value, bool):
            return _BY_LEGACY_CODE.get(value)
        return None

    @property
    def spec(self):
        return BOARD_SPECS[self]

    @property
    def type_code(self):
        """The value of register 0x04 (TYPE) on this board (§6.1); Single and A+6 share 3."""
        return self.spec.type_code

    @property
    def product(self):
        return self.spec.product

    @classmethod
    def from_registers(cls, type_code, maxpi):
        """Identify a board from TYPE (0x04) and MAXPI (0x01); Single and A+6 differ only by MAXPI."""
        matches = [bt for bt, spec in BOARD_SPECS.items() if spec.type_code == type_code and spec.maxpi == maxpi]
        if len(matches) != 1:
            raise ValueError('unknown ClusterCTRL board: TYPE=0x%02X MAXPI=%d' % (type_code, maxpi))
        return matches[0]

    @classmethod
    def from_name(cls, name):
        """Parse a board type name; accepts the value ('aplus6') and a few spellings users write."""
        key = str(name).strip().lower().replace('+', 'plus').replace('-', '').replace('_', '').replace(' ', '')
        key = ALIASES.get(key, key)
        for bt in cls:
            if bt.value == key:
                return bt
        raise ValueError('unknown board type {!r} (expected one of: {})'.format(name, ', '.join(bt.value for bt in cls)))


ALIASES = {'aplus': 'aplus6', 'a6': 'aplus6', 'desktopadaptor': 'da', 'clusterctrlsingle': 'single'}

BOARD_SPECS = {
    BoardType.SINGLE: BoardSpec(
        product='ClusterCTRL Single',
        type_code=0x03,
        maxpi=1,
        usb_pid=0x0015,
        gpio='D',
        has_alert_led=True,
        has_act_led=False,
        has_pi_leds=True,
        has_usbboot=True,
        fan='none',
        adc_channels=(),
        has_temperature=False,
        hub='low',
        paths=((2,), (4,)),
        autoondelay_ms=None,
        newest_firmware='1.5',
        eeprom_size=256,
    ),
    BoardType.TRIPLE: BoardSpec(
        product='ClusterCTRL Triple',
        type_code=0x01,
        maxpi=3,
        usb_pid=0x0014,
        gpio='A',
        has_alert_led=True,
        has_act_led=False,
        has_pi_leds=True,
        has_usbboot=True,
        fan='pin',
        adc_channels=(AdcChannel(1, 6, 1, '5V'),),
        has_temperature=True,
        hub='low',
        paths=((1,), (4,), (3,), (2,)),
        autoondelay_ms=None,
        newest_firmware='1.6',
        eeprom_size=1024,
    ),
    BoardType.PHAT: BoardSpec(
        product='ClusterCTRL pHAT',
        type_code=0x02,
        maxpi=2,
        usb_pid=0x0012,
        gpio='D',
        has_alert_led=True,
        has_act_led=False,
        has_pi_leds=True,
        has_usbboot=False,
        fan='none',
        adc_channels=(),
        has_temperature=False,
        hub='high',
        paths=((2,), (4,), (3,)),
        autoondelay_ms=None,
        newest_firmware='1.5',
        eeprom_size=256,
    ),
    BoardType.APLUS6: BoardSpec(
        product='ClusterCTRL A+6',
        type_code=0x03,
        maxpi=5,
        usb_pid=0x0013,
        gpio='A',
        has_alert_led=True,
        has_act_led=True,
        has_pi_leds=True,
        has_usbboot=False,
        fan='pin',
        adc_channels=(AdcChannel(1, 6, 1, '5V C+P1/2'), AdcChannel(2, 7, 1, '5V P3/4/5')),
        has_temperature=True,
        hub='low',
        paths=((4, 1), (1,), (2,), (3,), (4, 2), (4, 4)),
        autoondelay_ms=1000,
        newest_firmware='1.8',
        eeprom_size=1024,
    ),
    BoardType.STACK: BoardSpec(
        product='ClusterCTRL Stack',
        type_code=0x04,
        maxpi=5,
        usb_pid=0x0016,
        gpio='A',
        has_alert_led=False,
        has_act_led=False,
        has_pi_leds=False,
        has_usbboot=False,
        fan='stack',
        adc_channels=(AdcChannel(1, 6, 1, '5V'), AdcChannel(2, 7, 2, 'VIN')),
        has_temperature=True,
        hub=None,
        paths=None,
        autoondelay_ms=1000,
        newest_firmware='1.8',
        eeprom_size=1024,
    ),
    BoardType.DA: BoardSpec(
        product='ClusterCTRL DA',
        type_code=0x00,
        maxpi=32,
        usb_pid=0x0011,
        gpio='E',
        has_alert_led=True,
        has_act_led=False,
        has_pi_leds=False,
        has_usbboot=False,
        fan='none',
        adc_channels=(),
        has_temperature=True,
        hub=None,
        paths=_da_paths(),
        autoondelay_ms=None,
        newest_firmware='1.5',
        eeprom_size=1024,
    ),
}

# The earlier driver's integer values (§9.1); 3 was its A6, and Single shares that code (§6.1).
_BY_LEGACY_CODE = {0x00: BoardType.DA, 0x01: BoardType.TRIPLE, 0x02: BoardType.PHAT, 0x03: BoardType.APLUS6, 0x04: BoardType.STACK}

# §6.2/§6.3: firmware versions whose behaviour the emulator and driver know.
SUPPORTED_FIRMWARE = ('1.4', '1.5', '1.6', '1.7', '1.8')


def parse_firmware(version):
    """'1.6' -> (1, 6). Raises ValueError for anything else."""
    text = str(version).strip()
    parts = text.split('.')
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f'firmware version must look like "1.6", got {version!r}')
    return int(parts[0]), int(parts[1])


def ctrl_size(maxpi):
    """Bytes per per-Pi EEPROM bitfield: ceil(maxpi / 8) (§5.1)."""
    return (maxpi + 7) // 8
