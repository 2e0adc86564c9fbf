# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ClusterCTRL firmware's commands (§3) and GET_DATA sub-commands (§4), and how CMD runs them.

``FirmwareCommands`` is mixed into ``ClusterCTRLFirmware``. Each handler changes the model's RAM,
pins and registers as the firmware does and returns the time it took in ms, or ``(ms, reason)``
when the device then leaves the bus; the EEPROM save commands live in ``FirmwareEeprom``. Section
numbers point into the project's protocol spec (``clusterctrl-protocol.md``).
"""

from __future__ import annotations

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import (
    ADC_TEMP_MARKER,
    DATA_REGISTERS,
    HUB_CYCLE_MIN_UNITS,
    HUB_CYCLE_UNIT_MS,
    UNSUPPORTED_SENTINEL,
    Cmd,
    GetData,
    Reg,
    Status,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware_constants import (
    DA_MUX_SELECT_MS,
    RESET_SPIN_MS,
    USB_CONTROL_TIMEOUT_MS,
)


class FirmwareCommands:
    """Command side of ``ClusterCTRLFirmware``: run what CMD holds, one handler per command code."""

    def _execute(self):
        """Run the command in CMD (§1.6 step 3); returns a StatusStageLost reason or None."""
        code = self.regs[Reg.CMD]
        record = self._command_record(code, None, 0)
        self.written_data = []
        if self.has_act and self.enact:
            self.act_flashes += 1  # §3: ACT LED on while a command runs, off at the end
        handler = self._HANDLERS.get(code)
        if handler is None or (code in self._OPTIONAL and not self._OPTIONAL[code](self)):
            self.regs[Reg.STATUS] = Status.UNKNOWN_COMMAND  # §3 fall-through, data untouched
            duration, lost = 0, None
        else:
            result = getattr(self, handler)()
            duration, lost = result if isinstance(result, tuple) else (result or 0, None)
        self.regs[Reg.CMD] = 0
        record['status'] = self.regs[Reg.STATUS]
        record['duration_ms'] = round(duration, 3)
        self._activity.append(record)
        if lost is None and duration > USB_CONTROL_TIMEOUT_MS:
            lost = 'timeout'
        return lost

    def _ok(self):
        self.regs[Reg.STATUS] = Status.OK

    def _cmd_on(self):
        """ON (§3): power p on, record it, light its LED if enabled; DA drives the HAT expander."""
        p = self.data(0)
        duration = 0
        if self._valid_pi(p):
            if self.spec.gpio == 'E':
                duration = self._da_set_power(p, True)
            else:
                self.power_pins[p - 1] = True
                self._set_bit(self.enp, p, True)
                if self.spec.has_pi_leds and self._bit(self.enpled, p):
                    self.led_pins[p - 1] = True
        self._ok()
        return duration

    def _cmd_off(self):
        """OFF (§3): power p off, clear its state bit and LED; the LED-enable bit is kept."""
        p = self.data(0)
        duration = 0
        if self._valid_pi(p):
            if self.spec.gpio == 'E':
                duration = self._da_set_power(p, False)
            else:
                self.power_pins[p - 1] = False
                self._set_bit(self.enp, p, False)
                self.led_pins[p - 1] = False
        self._ok()
        return duration

    def _da_set_power(self, p, on):
        """DA GPIOE branch: DATA0 is decremented in place; Pi n is port (n-1)//4, bit (n-1)%4."""
        self.set_data(0, p - 1)
        port, bit = (p - 1) // 4, (p - 1) % 4
        hat = self.hats.get(port)
        if hat is None:
            return 0
        hat['power'][bit] = on
        self.alert = False  # §7.6 [BUG?]
        return DA_MUX_SELECT_MS

    def _cmd_alert_on(self):
        if self.spec.has_alert_led:
            self.alert = True
        self._ok()

    def _cmd_alert_off(self):
        if self.spec.has_alert_led:
            self.alert = False
        self._ok()

    def _cmd_hub_cycle(self):
        """HUB_CYCLE (§3): DATA0 clamped to >= 10 units of 13.33 ms; STATUS is not written."""
        if self.data(0) < HUB_CYCLE_MIN_UNITS:
            self.set_data(0, HUB_CYCLE_MIN_UNITS)
        duration = self.data(0) * HUB_CYCLE_UNIT_MS
        self.hub_cycles += 1
        if self.spec.hub:
            # The hub goes off and on again; the controller behind it drops off USB [INFERRED].
            self.hub_on = True
            self.present = False
            return duration, 'gone'
        return duration, None

    def _cmd_led_en(self):
        """LED_EN (§3), including the GPIOD LED_EN(0) bug and the GPIOD 'only if on' quirk."""
        p = self.data(0)
        gpio = self.spec.gpio
        if p == 0:
            self.enpwr = True
            self.pwr_led = True
            if gpio == 'D' and not self.fix_led_en_bug:
                # [BUG] every Pi is powered and the whole power bitfield becomes 0xFF.
                for q in range(1, self.spec.maxpi + 1):
                    self.power_pins[q - 1] = True
                    self.led_pins[q - 1] = True
                self.enp[0] = 0xFF
                self.enpled[0] = 0xFF
            elif gpio == 'D':
                self.enpled[0] = 0xFF
                for q in range(1, self.spec.maxpi + 1):
                    self.led_pins[q - 1] = self.power_pins[q - 1] or self.led_pins[q - 1]
            elif gpio == 'A':
                for q in range(1, self.spec.maxpi + 1):
                    self._set_bit(self.enpled, q, True)
                    if self.spec.has_pi_leds and self._bit(self.enp, q):
                        self.led_pins[q - 1] = True
        elif self._valid_pi(p):
            if gpio == 'D':
                if self._bit(self.enp, p):
                    self._set_bit(self.enpled, p, True)
                    self.led_pins[p - 1] = True
            elif gpio == 'A':
                self._set_bit(self.enpled, p, True)
                if self.spec.has_pi_leds and self._bit(self.enp, p):
                    self.led_pins[p - 1] = True
        self._ok()

    def _cmd_led_dis(self):
        """LED_DIS (§3): 0 = PWR LED and every Pi LED off (power untouched); p = that Pi's LED."""
        p = self.data(0)
        gpio = self.spec.gpio
        if p == 0:
            self.enpwr = False
            self.pwr_led = False
            if gpio == 'D':
                self.enpled[0] = 0x00
                self.led_pins = [False] * self.spec.maxpi
            elif gpio == 'A':
                # [UNCLEAR] only bits 1..maxpi are cleared (the loop of the GPIOA branch).
                for q in range(1, self.spec.maxpi + 1):
                    self._set_bit(self.enpled, q, False)
                self.led_pins = [False] * self.spec.maxpi
        elif self._valid_pi(p) and gpio in 'AD':
            self._set_bit(self.enpled, p, False)
            self.led_pins[p - 1] = False
        self._ok()

    def _cmd_pwr_on(self):
        self.enpwr = True
        self.pwr_led = True
        self._ok()

    def _cmd_pwr_off(self):
        self.enpwr = False
        self.pwr_led = False
        self._ok()

    def _cmd_reset(self):
        """RESET (§3): watchdog reset, boot from EEPROM, the device re-enumerates."""
        self._restart('reset')
        return RESET_SPIN_MS + self.boot_ms, 'gone'

    def _cmd_get_pstatus(self):
        """GET_PSTATUS (§3): 1/0, or 0xFF with STATUS 0x02 for an invalid p (DA absent HAT: 0x00)."""
        p = self.data(0)
        if not self._valid_pi(p):
            self.set_data(0, UNSUPPORTED_SENTINEL)
            self.regs[Reg.STATUS] = Status.NO_SUCH_PI
            return 0
        duration = 0
        if self.spec.gpio == 'A':
            value = int(self.power_pins[p - 1])  # output latch
        elif self.spec.gpio == 'D':
            value = int(self._bit(self.enp, p))  # RAM bitfield
        else:
            hat = self.hats.get((p - 1) // 4)
            if hat is None:
                value = UNSUPPORTED_SENTINEL
            else:
                value = int(hat['power'][(p - 1) % 4])
                self.alert = False  # §7.6 [BUG?]
                duration = DA_MUX_SELECT_MS
        self.set_data(0, value)
        self._ok()
        return duration

    def _cmd_fan(self):
        """FAN (§3): Triple/A+6 pin = (data0 == 1); fanstatus = raw data0 (Stack fans follow it)."""
        d0 = self.data(0)
        if self.spec.fan == 'pin':
            self.fan_pin = d0 == 1
        self.fanstatus = d0
        self._ok()

    def _cmd_getpath(self):
        """GETPATH (§3): data7..data0 = path[x][0..7], unused hops 0xFF; Stack (NOPATHS) always 0x01."""
        x = self.data(0)
        paths = self.spec.paths
        if paths is None or x > self.spec.maxpi:
            hops = ()
            self.regs[Reg.STATUS] = Status.NOT_SUPPORTED
        else:
            hops = paths[x]
            self._ok()
        for i in range(DATA_REGISTERS):
            self.set_data(7 - i, hops[i] if i < len(hops) else 0xFF)

    def _cmd_usbboot(self, on):
        p = self.data(0)
        if self._valid_pi(p):
            self.usbboot_pins[p - 1] = on
            self._set_bit(self.usbboot, p, on)
        self._ok()

    def _cmd_usbboot_en(self):
        self._cmd_usbboot(True)

    def _cmd_usbboot_dis(self):
        self._cmd_usbboot(False)

    def _cmd_get_ustatus(self):
        """GET_USTATUS (§3): 0/1 on USBBOOT boards with a valid p, 0xFF otherwise; STATUS always 0x00."""
        p = self.data(0)
        if self.spec.has_usbboot and self._valid_pi(p):
            self.set_data(0, int(self.usbboot_pins[p - 1]))
        else:
            self.set_data(0, UNSUPPORTED_SENTINEL)
        self._ok()

    def _cmd_set_order(self):
        d0 = self.data(0)
        if d0 > 0:
            self.regs[Reg.ORDER] = d0
            self._ok()
        else:
            self.regs[Reg.STATUS] = Status.NOT_SUPPORTED

    def _cmd_act_en(self):
        self.enact = True
        self._ok()

    def _cmd_act_dis(self):
        self.enact = False
        self._ok()

    def _cmd_get_data(self):
        """GET_DATA (§4): STATUS 0x01 as fallback, overwritten by each supported sub-command."""
        self.regs[Reg.STATUS] = Status.NOT_SUPPORTED
        sub = self.data(0)
        if sub == GetData.VERSION:
            major, minor = self.version
            self.set_data(0, minor)
            self.set_data(1, major)
            for k in range(2, DATA_REGISTERS):
                self.set_data(k, 0xFF)
            self._ok()
        elif sub == GetData.ADC_CNT:
            self.set_data(0, len(self.spec.adc_channels))
            self._ok()
        elif sub == GetData.ADC_READ:
            for chan in self.spec.adc_channels:
                if chan.channel == self.data(1):
                    raw = self.adc_raw[chan.channel]
                    self.set_data(0, chan.type_code)
                    self.set_data(1, raw & 0xFF)
                    self.set_data(2, raw >> 8)
                    self._ok()
                    break
        elif sub == GetData.ADC_TEMP:
            if self.spec.has_temperature:
                self.set_data(0, ADC_TEMP_MARKER)
                self.set_data(1, self.temperature_raw & 0xFF)
                self.set_data(2, self.temperature_raw >> 8)
                self._ok()
        elif sub == GetData.FANSTATUS and self.has_fanstatus:
            value = self.fanstatus
            if self.spec.fan == 'stack':
                value |= self.cooling_requests << 1
            self.set_data(0, value & 0xFF)
            self._ok()

    # Command code -> name of the method that runs it (the save commands are ``FirmwareEeprom``'s).
    _HANDLERS = {
        Cmd.ON: '_cmd_on',
        Cmd.OFF: '_cmd_off',
        Cmd.ALERT_ON: '_cmd_alert_on',
        Cmd.ALERT_OFF: '_cmd_alert_off',
        Cmd.HUB_CYCLE: '_cmd_hub_cycle',
        Cmd.LED_EN: '_cmd_led_en',
        Cmd.LED_DIS: '_cmd_led_dis',
        Cmd.PWR_ON: '_cmd_pwr_on',
        Cmd.PWR_OFF: '_cmd_pwr_off',
        Cmd.RESET: '_cmd_reset',
        Cmd.GET_PSTATUS: '_cmd_get_pstatus',
        Cmd.FAN: '_cmd_fan',
        Cmd.GETPATH: '_cmd_getpath',
        Cmd.USBBOOT_EN: '_cmd_usbboot_en',
        Cmd.USBBOOT_DIS: '_cmd_usbboot_dis',
        Cmd.GET_USTATUS: '_cmd_get_ustatus',
        Cmd.SET_ORDER: '_cmd_set_order',
        Cmd.ACT_EN: '_cmd_act_en',
        Cmd.ACT_DIS: '_cmd_act_dis',
        Cmd.SAVE: '_cmd_save',
        Cmd.SAVEDEFAULTS: '_cmd_savedefaults',
        Cmd.GET_DATA: '_cmd_get_data',
        Cmd.SAVEORDER: '_cmd_saveorder',
        Cmd.SAVEUSBBOOT: '_cmd_saveusbboot',
        Cmd.SAVEPOS: '_cmd_savepos',
        Cmd.SAVELED: '_cmd_saveled',
    }

    # Commands compiled in only on some boards / firmware versions (§3 availability table).
    _OPTIONAL = {
        Cmd.FAN: lambda self: self.spec.fan != 'none',
        Cmd.USBBOOT_EN: lambda self: self.spec.has_usbboot,
        Cmd.USBBOOT_DIS: lambda self: self.spec.has_usbboot,
        Cmd.ACT_EN: lambda self: self.has_act,
        Cmd.ACT_DIS: lambda self: self.has_act,
    }
