# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ClusterCTRL firmware's EEPROM commands: SAVE, SAVEORDER, SAVELED, SAVEPOS, SAVEUSBBOOT, SAVEDEFAULTS.

``FirmwareEeprom`` is mixed into ``ClusterCTRLFirmware``. Every ``eeprom_write_byte`` is counted,
even when the value is unchanged, and takes ``EEPROM_BYTE_MS``; each handler returns the time it
took. Section numbers point into the project's protocol spec (``clusterctrl-protocol.md``, §5.1).
"""

from __future__ import annotations

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import FACTORY_ORDER, Eeprom, Reg
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware_constants import EEPROM_BYTE_MS


class FirmwareEeprom:
    """EEPROM writes of ``ClusterCTRLFirmware`` (§5.1): what each save command writes, and where."""

    def _eeprom_write(self, offset, value):
        self.eeprom[offset] = value & 0xFF
        self.eeprom_writes += 1
        self.eeprom_write_counts[offset] = self.eeprom_write_counts.get(offset, 0) + 1
        return EEPROM_BYTE_MS

    def _save_order(self):
        return self._eeprom_write(Eeprom.ORDER, self.regs[Reg.ORDER])

    def _save_led(self):
        t = self._eeprom_write(Eeprom.PWR_LED, 1 if self.enpwr else 0)
        if self.has_act:
            t += self._eeprom_write(Eeprom.ACT_LED, 1 if self.enact else 0)
        for i in range(self.ctrl_size):
            t += self._eeprom_write(Eeprom.LED_BITS + i, self.enpled[i])
        return t

    def _save_pos(self):
        t = 0
        for i in range(self.ctrl_size):
            t += self._eeprom_write(Eeprom.POS_BITS + i, self.enp[i])
        return t

    def _save_usbboot(self):
        t = 0
        if self.spec.has_usbboot:
            for i in range(self.ctrl_size):
                t += self._eeprom_write(Eeprom.USBBOOT_BITS + i, self.usbboot[i])
        return t

    def _cmd_save(self):
        """SAVE: SAVEORDER, SAVELED, SAVEPOS, then SAVEUSBBOOT on USBBOOT boards (§5.1)."""
        t = self._save_order() + self._save_led() + self._save_pos() + self._save_usbboot()
        self._ok()
        return t

    def _cmd_saveorder(self):
        t = self._save_order()
        self._ok()
        return t

    def _cmd_saveusbboot(self):
        t = self._save_usbboot()
        self._ok()
        return t

    def _cmd_savepos(self):
        t = self._save_pos()
        self._ok()
        return t

    def _cmd_saveled(self):
        t = self._save_led()
        self._ok()
        return t

    def _cmd_savedefaults(self):
        """SAVEDEFAULTS (§5.1): factory values into EEPROM only; RAM and outputs untouched."""
        t = self._eeprom_write(Eeprom.ORDER, FACTORY_ORDER)
        t += self._eeprom_write(Eeprom.PWR_LED, 0x01)
        t += self._eeprom_write(Eeprom.ACT_LED, 0x01)
        for i in range(self.ctrl_size):
            t += self._eeprom_write(Eeprom.LED_BITS + i, 0xFF)
            t += self._eeprom_write(Eeprom.POS_BITS + i, 0x00)
            if self.spec.has_usbboot:
                t += self._eeprom_write(Eeprom.USBBOOT_BITS + i, 0xFF)
        self._ok()
        return t
