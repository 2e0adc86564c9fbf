# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the EEPROM save commands write, and how much of it can be known (spec §5.1).

The firmware cannot read its EEPROM back, and AVR EEPROM cells wear out after about 100,000
writes, so a save should only be sent when it would change the saved image. The image of
each item is what the board holds in RAM now:

* ``order`` (SAVEORDER): the ORDER register - readable;
* ``power`` (SAVEPOS): the Pis' power states - readable per Pi (GET_PSTATUS); bits above
  MAXPI, which the GPIOD "all LEDs on" bug can set, cannot be seen;
* ``usbboot`` (SAVEUSBBOOT): the Pis' USB boot states - readable (GET_USTATUS), Single and
  Triple only;
* ``leds`` (SAVELED): PWR LED, ACT LED and per-Pi LED enables - **not readable**, so a save
  of ``leds`` can never be known to be unnecessary.

SAVE writes all four (``usbboot`` only on boards that have it); SAVEDEFAULTS writes the
factory image (order 20, LEDs on, no Pi powered at start-up, USB boot enabled).
"""

from __future__ import annotations

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import FACTORY_ORDER

# In the order SAVE writes them (spec §5.1 notes), with the driver method sending each one's command.
ITEMS = ('order', 'leds', 'power', 'usbboot')
SAVE_METHODS = {
    'order': 'eeprom_save_order',
    'leds': 'eeprom_save_leds',
    'power': 'eeprom_save_powerstate',
    'usbboot': 'eeprom_save_usbboot',
    'all': 'eeprom_save_all',
    'factory': 'eeprom_reset',
}
UNKNOWABLE = 'unknown'  # the image of an item that cannot be read back
FACTORY_LEDS = 'factory'  # the LED image SAVEDEFAULTS writes: PWR, ACT and every Pi LED enabled


def items_for(driver, requested):
    """Expand ``all`` and check each item exists on this board; return them in SAVE order.

    ``all`` means what SAVE writes: every item, ``usbboot`` only where the board has it, and
    ``power`` except on the DA, whose firmware never restores a saved power state.
    """
    spec = driver.spec
    wanted = set(requested)
    if 'all' in wanted:
        wanted.discard('all')
        wanted.update(['order', 'leds', 'power'] + (['usbboot'] if spec.has_usbboot else []))
        if spec.gpio == 'E' and 'power' not in requested:
            wanted.discard('power')
    if 'usbboot' in wanted and not spec.has_usbboot:
        raise ValueError(f'the {driver.type.product} has no USB boot control to save (only the Single and Triple have it)')
    if 'power' in wanted and spec.gpio == 'E':
        raise ValueError(f'the {driver.type.product} never restores a saved power state at power-up, so saving it would only wear the EEPROM')
    return [item for item in ITEMS if item in wanted]


def current_image(driver, items):
    """What saving ``items`` now would write, as JSON-friendly values; UNKNOWABLE for LEDs."""
    image = {}
    for item in items:
        if item == 'order':
            image[item] = driver.order
        elif item == 'power':
            image[item] = [driver.power_status(slot) for slot in range(1, driver.maxpi + 1)]
        elif item == 'usbboot':
            image[item] = [driver.usbboot_status(slot) for slot in range(1, driver.maxpi + 1)]
        else:
            image[item] = UNKNOWABLE
    return image


def factory_image(driver):
    """The image SAVEDEFAULTS writes (spec §5.1), in the same form as current_image()."""
    image = dict(order=FACTORY_ORDER, leds=FACTORY_LEDS, power=[False] * driver.maxpi)
    if driver.spec.has_usbboot:
        image['usbboot'] = [True] * driver.maxpi
    return image


def needs_write(item, wanted, saved):
    """A save is needed unless the record shows exactly this image saved (LEDs are never known)."""
    return wanted == UNKNOWABLE or saved.get(item) != wanted
