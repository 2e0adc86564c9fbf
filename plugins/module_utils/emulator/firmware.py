# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Emulation of one ClusterCTRL board's MCU, at the level of I2C messages to address 0x20.

Everything here follows the project's protocol spec (``clusterctrl-protocol.md``); the
section numbers in the docstrings point into it. The class models the register file
(§2), the register pointer (§1.4), the 8-byte write-piece mis-parse (§1.9), every command
(§3) and GET_DATA sub-command (§4), the EEPROM and the power-up sequence (§5), the board
differences (§6.1) and the firmware-version differences (§6.3, 1.4 to 1.8). Appendix A is
the state model.

Interpretations of points the spec leaves open (each also noted where it is implemented):

* [UNCLEAR] GPIOA LED_DIS(0) clears only the enable bits of Pis 1..maxpi; GPIOD LED_DIS(0)
  clears the whole LED bitfield byte. DA LED_EN(0) / LED_DIS(0) change only the PWR LED
  (§3 "DA: only the PWR LED changes"; assumed symmetric for LED_DIS).
* The "fixed" GPIOD LED_EN(0) (``fix_led_en_bug=True``) behaves like the GPIOA branch: it
  sets the LED-enable bits and lights the LEDs of Pis that are already on; power is left alone.
* DA ON / OFF decrement DATA0 whenever p is valid, whether or not the HAT is present (§3).
* DA [BUG?] §7.6: every transaction with a present HAT (ON, OFF, GET_PSTATUS, the boot scan)
  ends with the ALERT LED off, because the soft-I2C routines drive PB2. This is modelled.
* The DA ``expander_read`` bug (§7.6) is **not** modelled: what a bare read returns depends
  on the XRA1200's internal register pointer after earlier bus traffic, which the spec does
  not pin down. A guessed model would make driver tests pass or fail for invented reasons,
  so the emulator behaves as if the firmware read the register it asks for.
* Slow-command mode (§1.8, Appendix A): after the piece that sets CMD, the rest of that
  write message is thrown away (the firmware discards data while CMD != 0).
* RESET and HUB_CYCLE on a board with a hub pin make the device leave the bus while the
  kernel still waits for the GET_STATUS stage of the CMD write, so that write fails *after*
  taking effect (``StatusStageLost``). A command that blocks for longer than the kernel's
  2000 ms control-transfer timeout (a long HUB_CYCLE on Stack or DA) fails the same way.
  The command itself always completes (§1.7, ``kdrv`` usb_xfer).
* Firmware versions: any of ``SUPPORTED_FIRMWARE`` may be configured on any board, even
  where that image was never published (§6.2); the default is the newest published one.
  ``head=True`` (firmware 1.8 only) models the unpublished HEAD source: pHAT AUTOONDELAY
  1000 ms and ALERT during GPIOD auto power-on (§6.3).
"""

from __future__ import annotations

import re

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import (
    SUPPORTED_FIRMWARE,
    BoardType,
    ctrl_size,
    parse_firmware,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import (
    ADC_MV_PER_COUNT,
    ADC_TEMP_MARKER,
    FACTORY_ORDER,
    HUB_CYCLE_MIN_UNITS,
    HUB_CYCLE_UNIT_MS,
    MAX_WRITE_MESSAGE,
    REGISTER_FILE_SIZE,
    REGISTER_LAYOUT_VERSION,
    UNSUPPORTED_SENTINEL,
    Cmd,
    Eeprom,
    GetData,
    Reg,
    Status,
    command_name,
    data_register,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.state_fields import (
    COUNTER_MAX,
    Fields,
    StateError,
    check_int,
    describe,
)

# §1.2 / kdrv: the kernel waits this long for each control transfer.
USB_CONTROL_TIMEOUT_MS = 2000
# §5.1 / §10.4: datasheet time of one eeprom_write_byte.
EEPROM_BYTE_MS = 3.3
# §5.2 step 6 / §10.4: each TCA9548A mux select waits 100 ms (DA).
DA_MUX_SELECT_MS = 100
DA_MUX_PORTS = 8
# §5.2 step 7: D+/D- held low for about 13 ms before usbInit.
USB_RESET_MS = 13
# §3 RESET: watchdog 15 ms, then a 50 ms spin.
RESET_SPIN_MS = 50
# §6.1 Stack: cooling-request inputs P1..P5 and the spare input, FANSTATUS bits 1..6 (§4).
STACK_COOLING_INPUTS = 6

# Plausible default raw readings (§4): 5 V on a type-1 channel, 12 V on a type-2 channel,
# and about 27 degC with the CLI formula (raw - 247) / 1.22.
DEFAULT_ADC_MV = {1: 5000.0, 2: 12000.0}
DEFAULT_TEMPERATURE_RAW = 280

DATA_REGISTERS = 8


class Nak(Exception):
    """The firmware NAKed the address phase of an I2C message (§1.3, §1.8)."""


class StatusStageLost(Exception):
    """The message was handled, but the kernel's GET_STATUS control transfer that follows it fails.

    Raised after a command made the device leave the bus (RESET, HUB_CYCLE behind the
    board's own hub) or blocked USB for longer than the kernel's control-transfer timeout.
    ``reason`` is ``'gone'`` or ``'timeout'``. The i2c-tiny-usb driver reports both as a
    failed status read (EIO, EREMOTEIO before kpatch-2019).
    """

    def __init__(self, reason):
        super(StatusStageLost, self).__init__('GET_STATUS stage failed: %s' % reason)
        self.reason = reason


def default_adc_raw(type_code):
    """Raw 10-bit reading that a channel of this type shows for its nominal rail (§4)."""
    return min(1023, int(round(DEFAULT_ADC_MV[type_code] / ADC_MV_PER_COUNT[type_code])))


def factory_eeprom(board, order=None):
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


def _byte(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise ValueError('%s must be an integer 0..255, got %r' % (what, value))
    return value


class ClusterCTRLFirmware(object):
    """One ClusterCTRL board's MCU (spec Appendix A), driven one I2C message at a time.

    ``message(is_read, data_or_length)`` is the transport hook: a write returns None, a
    read returns ``bytes``; ``Nak`` signals an address NAK and ``StatusStageLost`` a
    handled message whose status stage fails. Addressing (only 0x20 exists, §1.3) is the
    adapter's job.

    Constructor options:

    * ``board``: a ``BoardType`` or its name.
    * ``firmware``: '1.4'..'1.8'; default the board's newest published image (§6.2).
    * ``order``: the lab/factory order written into the EEPROM image at 0x01.
    * ``blank_eeprom``: start from an all-0xFF EEPROM (§5.1); ``eeprom`` gives an explicit image.
    * ``fix_led_en_bug``: model a GPIOD LED_EN(0) that does not power every Pi (§3, Appendix A).
    * ``head``: model the unpublished HEAD source (firmware 1.8 only, §6.3).
    * ``da_hat_ports``: DA only, the TCA9548A ports (0-7) that hold a ClusterHAT (§7.6).
    * ``adc_raw``: {channel: raw 0..1023}; ``temperature_raw``: raw on-chip sensor value.
    * ``cooling_requests``: Stack only, bit i-1 set = input i requests cooling (P1..P5, 6 = spare).
    * ``busy_messages``: slow-command mode, CMD stays set for this many further messages (§1.8).
    """

    def __init__(self, board, firmware=None, order=None, blank_eeprom=False, eeprom=None, fix_led_en_bug=False,
                 head=False, da_hat_ports=(0,), adc_raw=None, temperature_raw=DEFAULT_TEMPERATURE_RAW,
                 cooling_requests=0, busy_messages=0):
        self.board = board if isinstance(board, BoardType) else BoardType.from_name(board)
        self.spec = self.board.spec
        self.firmware = self.spec.newest_firmware if firmware is None else str(firmware)
        if self.firmware not in SUPPORTED_FIRMWARE:
            raise ValueError('unsupported firmware %r (expected one of: %s)' % (firmware, ', '.join(SUPPORTED_FIRMWARE)))
        self.version = parse_firmware(self.firmware)
        if head and self.firmware != '1.8':
            raise ValueError('head=True models the unpublished HEAD source, which reports firmware 1.8')
        self.head = bool(head)
        self.fix_led_en_bug = bool(fix_led_en_bug)
        self.ctrl_size = ctrl_size(self.spec.maxpi)
        if order is not None:
            _byte(order, 'order')
        if eeprom is not None:
            image = bytearray(eeprom)
            if len(image) != self.spec.eeprom_size:
                raise ValueError('EEPROM image must be %d bytes for %s' % (self.spec.eeprom_size, self.spec.product))
            if order is not None:
                image[Eeprom.ORDER] = order
        elif blank_eeprom:
            image = bytearray([0xFF] * self.spec.eeprom_size)
            if order is not None:
                image[Eeprom.ORDER] = order
        else:
            image = factory_eeprom(self.board, order)
        self.eeprom = image
        self.eeprom_writes = 0
        self.eeprom_write_counts = {}
        self.hat_ports = sorted(set(int(p) for p in da_hat_ports)) if self.spec.gpio == 'E' else []
        for port in self.hat_ports:
            if not 0 <= port < DA_MUX_PORTS:
                raise ValueError('DA mux ports are 0..7, got %d' % port)
        self.adc_raw = {}
        for chan in self.spec.adc_channels:
            self.adc_raw[chan.channel] = default_adc_raw(chan.type_code)
        for chan, raw in (adc_raw or {}).items():
            self.set_adc_raw(int(chan), raw)
        self.set_temperature_raw(temperature_raw)
        self.cooling_requests = 0
        if cooling_requests:
            if self.spec.fan != 'stack':
                raise ValueError('cooling-request inputs exist only on the Stack')
            if not 0 <= cooling_requests < (1 << STACK_COOLING_INPUTS):
                raise ValueError('cooling_requests is a 6-bit mask')
            self.cooling_requests = cooling_requests
        self.busy_messages = 0
        self.set_busy_messages(busy_messages)
        self.present = True
        self.hub_cycles = 0
        self.boot_count = 0
        self.act_flashes = 0
        self._activity = []
        self._order_written = False
        self._boot('power-on')

    # ------------------------------------------------------------------ configuration

    @property
    def has_fanstatus(self):
        """GET_DATA sub-command 4 exists from firmware 1.6 (commit 54bd6c4, §4, §6.3)."""
        return self.version >= (1, 6)

    @property
    def has_act(self):
        """ACT_EN/ACT_DIS and EEPROM 0x03 exist on the A+6 from firmware 1.8 (§6.3)."""
        return self.spec.has_act_led and self.version >= (1, 8)

    @property
    def autoondelay_ms(self):
        """Wait before each saved-on Pi at power-up (§6.1, §10.5); the pHAT has one only in HEAD."""
        if self.spec.autoondelay_ms:
            return self.spec.autoondelay_ms
        if self.head and self.board is BoardType.PHAT:
            return 1000
        return 0

    def set_adc_raw(self, channel, raw):
        """Set the raw 10-bit reading of ADC channel ``channel`` (1-based, §4)."""
        if channel not in self.adc_raw:
            raise ValueError('%s has no ADC channel %r' % (self.spec.product, channel))
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 0x3FF:
            raise ValueError('ADC raw value must be 0..1023, got %r' % (raw,))
        self.adc_raw[channel] = raw

    def set_temperature_raw(self, raw):
        """Set the raw on-chip temperature reading (10-bit, §4)."""
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 0x3FF:
            raise ValueError('temperature raw value must be 0..1023, got %r' % (raw,))
        self.temperature_raw = raw

    def set_cooling_request(self, index, requesting):
        """Stack: drive cooling-request input ``index`` (1..5 = P1..P5, 6 = spare) (§4, §6.1)."""
        if self.spec.fan != 'stack':
            raise ValueError('cooling-request inputs exist only on the Stack')
        if not 1 <= index <= STACK_COOLING_INPUTS:
            raise ValueError('cooling-request input must be 1..6, got %r' % (index,))
        if requesting:
            self.cooling_requests |= 1 << (index - 1)
        else:
            self.cooling_requests &= ~(1 << (index - 1))

    def set_busy_messages(self, count):
        """Slow-command mode (§1.8): CMD stays set for ``count`` further messages; 0 disables it."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError('busy_messages must be a non-negative integer, got %r' % (count,))
        self.busy_messages = count

    # ------------------------------------------------------------------ lifecycle (§5.2)

    def reset(self):
        """The MCU resets (RESET command or watchdog): pins released, boot from EEPROM, off USB."""
        self._restart('reset')

    def power_cycle(self):
        """The board loses power and comes back: same boot as a reset, off USB until re-enumerated."""
        self._restart('power-cycle')

    def reenumerate(self):
        """The device is back on USB (after a reset or a hub cycle)."""
        self.present = True

    def _restart(self, cause):
        self._boot(cause)
        self.present = False

    def _boot(self, cause):
        """Power-up sequence of §5.2: RAM from EEPROM, auto power-on, USBBOOT pins, DA scan."""
        spec = self.spec
        self.boot_count += 1
        log = [{'t_ms': 0, 'event': 'boot', 'cause': cause}]
        # RAM zeroed (§5.2 "RAM after boot"), then the constants and ORDER from EEPROM[1].
        self.regs = bytearray(REGISTER_FILE_SIZE)
        self.regs[Reg.VERSION] = REGISTER_LAYOUT_VERSION
        self.regs[Reg.MAXPI] = spec.maxpi
        self.regs[Reg.TYPE] = spec.type_code
        self.regs[Reg.ORDER] = self.eeprom[Eeprom.ORDER]
        self.ptr = 0
        self.pending = 0
        self.written_data = []
        self.fanstatus = 0
        self.fan_pin = False
        # Step 2: pins are inputs after reset; hub enabled; ALERT off.
        self.power_pins = [False] * spec.maxpi
        self.led_pins = [False] * spec.maxpi
        self.usbboot_pins = [False] * spec.maxpi
        self.alert = False
        self.hub_on = True
        # Step 3: PWR LED from EEPROM[2] (exactly 0x01 = on); ACT from EEPROM[3] (A+6, 1.8).
        self.enpwr = self.eeprom[Eeprom.PWR_LED] == 0x01
        self.pwr_led = self.enpwr
        self.enact = self.eeprom[Eeprom.ACT_LED] != 0 if self.has_act else False
        # Step 4: bitfields. USBBOOT is loaded on USBBOOT boards only.
        n = self.ctrl_size
        self.enpled = bytearray(self.eeprom[Eeprom.LED_BITS:Eeprom.LED_BITS + n])
        self.enp = bytearray(self.eeprom[Eeprom.POS_BITS:Eeprom.POS_BITS + n])
        if spec.has_usbboot:
            self.usbboot = bytearray(self.eeprom[Eeprom.USBBOOT_BITS:Eeprom.USBBOOT_BITS + n])
        else:
            self.usbboot = bytearray(n)
        t = 0
        if spec.gpio in 'AD':
            t = self._auto_power_on(log)
        else:
            t = self._da_scan(log)
        t += USB_RESET_MS
        log.append({'t_ms': t, 'event': 'usb'})
        self.boot_ms = t
        self.boot_log = log

    def _auto_power_on(self, log):
        """§5.2 step 5 with the §6.3 version differences; returns the elapsed time in ms."""
        t = 0
        delay = self.autoondelay_ms
        alert_used = self.spec.has_alert_led and (
            (self.spec.gpio == 'A' and self.version >= (1, 7)) or (self.spec.gpio == 'D' and self.head))
        started = 0
        for p in range(1, self.spec.maxpi + 1):
            if self._bit(self.enp, p):
                if alert_used and not self.alert:
                    self.alert = True
                    log.append({'t_ms': t, 'event': 'alert', 'value': True})
                # 1.4/1.5 skip the delay before the first Pi; from 1.6 it precedes every Pi.
                if delay and (started > 0 or self.version >= (1, 6)):
                    t += delay
                started += 1
                self.power_pins[p - 1] = True
                log.append({'t_ms': t, 'event': 'power', 'pi': p, 'value': True})
                if self.spec.has_pi_leds and self._bit(self.enpled, p):
                    self.led_pins[p - 1] = True
            if self.spec.has_usbboot:
                self.usbboot_pins[p - 1] = self._bit(self.usbboot, p)
            if alert_used and (p % 8 == 0 or p == self.spec.maxpi) and self.alert:
                self.alert = False
                log.append({'t_ms': t, 'event': 'alert', 'value': False})
        return t

    def _da_scan(self, log):
        """§5.2 step 6: scan the 8 mux ports; each HAT found gets its Pis off, LED and hub on."""
        self.hats = {}
        exists = 0
        for port in self.hat_ports:
            exists |= 1 << port
            self.hats[port] = {'power': [False] * 4, 'led': True, 'hub': True}
        self.exists = exists
        t = DA_MUX_PORTS * DA_MUX_SELECT_MS
        if self.hats:
            self.alert = False  # §7.6 [BUG?]: HAT traffic leaves ALERT off
        log.append({'t_ms': t, 'event': 'da_scan', 'exists': exists})
        return t

    # ------------------------------------------------------------------ transport (§1.4, §1.8, §1.9)

    def message(self, is_read, data_or_length):
        """Handle one I2C message addressed to 0x20.

        A write takes ``bytes`` (or a list of ints) and returns None; a read takes a length
        and returns ``bytes``. Raises ``Nak`` for a write while CMD != 0 (§1.8) and
        ``StatusStageLost`` when a command run by this message drops the device (§3).
        """
        busy = self.pending > 0
        if busy:
            self.pending -= 1
        try:
            if is_read:
                return self._read(int(data_or_length))
            if busy or self.regs[Reg.CMD] != 0:
                raise Nak('write while a command is pending (CMD=0x%02X)' % self.regs[Reg.CMD])
            self._write(bytes(bytearray(data_or_length)))
            return None
        finally:
            if busy and self.pending == 0:
                self._run_pending()

    def _read(self, length):
        out = bytearray()
        for _unused in range(length):
            out.append(self._register_value(self.ptr))
            self.ptr = (self.ptr + 1) & 0xFF
        return bytes(out)

    def _register_value(self, addr):
        """§1.10 / §2: 0x00-0x0E from the register file, 0x20 = EXISTS on the DA, anything else 0xFF."""
        if addr < REGISTER_FILE_SIZE:
            return self.regs[addr]
        if addr == Reg.EXISTS and self.spec.gpio == 'E':
            return self.exists
        return 0xFF

    def _write(self, data):
        lost = None
        for start in range(0, len(data), MAX_WRITE_MESSAGE):
            piece = data[start:start + MAX_WRITE_MESSAGE]
            # §1.9 [BUG]: the first byte of every 8-byte piece loads the pointer.
            self.ptr = piece[0]
            for value in piece[1:]:
                self._store(self.ptr, value)
                self.ptr = (self.ptr + 1) & 0xFF
            if self.regs[Reg.CMD] != 0:
                if self.busy_messages:
                    # Slow mode: the command stays pending; the rest of this data stage is thrown away.
                    self.pending = self.busy_messages
                    self._activity.append(self._command_record(self.regs[Reg.CMD], None, 0, deferred=True))
                    break
                lost = self._execute() or lost
                if not self.present:
                    break
        if lost:
            raise StatusStageLost(lost)

    def _run_pending(self):
        lost = self._execute()
        if lost:
            raise StatusStageLost(lost)

    def _store(self, addr, value):
        """§2 / §1.10: which registers a write changes; the pointer advances regardless."""
        if addr == Reg.ORDER:
            self.regs[Reg.ORDER] = value if value else 1
            self._order_written = True
        elif addr == Reg.MODE or addr == Reg.CMD:
            self.regs[addr] = value
        elif Reg.DATA7 <= addr <= Reg.DATA0:
            self.regs[addr] = value
            k = Reg.DATA0 - addr
            if k not in self.written_data:
                self.written_data.append(k)

    def drain_activity(self):
        """Return and forget what happened since the last call (for the bus journal).

        ``{'commands': [record, ...], 'order_written': bool}``; each record is
        ``{code, name, args, status, deferred, duration_ms}`` (``status`` None while deferred).
        """
        out = {'commands': self._activity, 'order_written': self._order_written}
        self._activity = []
        self._order_written = False
        return out

    # ------------------------------------------------------------------ register helpers

    def data(self, k):
        return self.regs[data_register(k)]

    def set_data(self, k, value):
        self.regs[data_register(k)] = value & 0xFF

    def _bit(self, field, p):
        return bool((field[(p - 1) // 8] >> ((p - 1) % 8)) & 1)

    def _set_bit(self, field, p, on):
        if on:
            field[(p - 1) // 8] |= 1 << ((p - 1) % 8)
        else:
            field[(p - 1) // 8] &= ~(1 << ((p - 1) % 8)) & 0xFF

    def _valid_pi(self, p):
        return 1 <= p <= self.spec.maxpi

    def _command_record(self, code, status, duration_ms, deferred=False):
        args = []
        if self.written_data:
            args = [self.data(k) for k in range(max(self.written_data) + 1)]
        return {'code': code, 'name': command_name(code), 'args': args, 'status': status,
                'deferred': deferred, 'duration_ms': round(duration_ms, 3)}

    # ------------------------------------------------------------------ command dispatch (§3, §4)

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
            result = handler(self)
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

    # EEPROM (§5.1). Every eeprom_write_byte is counted, even when the value is unchanged.

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

    _HANDLERS = {
        Cmd.ON: _cmd_on,
        Cmd.OFF: _cmd_off,
        Cmd.ALERT_ON: _cmd_alert_on,
        Cmd.ALERT_OFF: _cmd_alert_off,
        Cmd.HUB_CYCLE: _cmd_hub_cycle,
        Cmd.LED_EN: _cmd_led_en,
        Cmd.LED_DIS: _cmd_led_dis,
        Cmd.PWR_ON: _cmd_pwr_on,
        Cmd.PWR_OFF: _cmd_pwr_off,
        Cmd.RESET: _cmd_reset,
        Cmd.GET_PSTATUS: _cmd_get_pstatus,
        Cmd.FAN: _cmd_fan,
        Cmd.GETPATH: _cmd_getpath,
        Cmd.USBBOOT_EN: _cmd_usbboot_en,
        Cmd.USBBOOT_DIS: _cmd_usbboot_dis,
        Cmd.GET_USTATUS: _cmd_get_ustatus,
        Cmd.SET_ORDER: _cmd_set_order,
        Cmd.ACT_EN: _cmd_act_en,
        Cmd.ACT_DIS: _cmd_act_dis,
        Cmd.SAVE: _cmd_save,
        Cmd.SAVEDEFAULTS: _cmd_savedefaults,
        Cmd.GET_DATA: _cmd_get_data,
        Cmd.SAVEORDER: _cmd_saveorder,
        Cmd.SAVEUSBBOOT: _cmd_saveusbboot,
        Cmd.SAVEPOS: _cmd_savepos,
        Cmd.SAVELED: _cmd_saveled,
    }

    # Commands compiled in only on some boards / firmware versions (§3 availability table).
    _OPTIONAL = {
        Cmd.FAN: lambda self: self.spec.fan != 'none',
        Cmd.USBBOOT_EN: lambda self: self.spec.has_usbboot,
        Cmd.USBBOOT_DIS: lambda self: self.spec.has_usbboot,
        Cmd.ACT_EN: lambda self: self.has_act,
        Cmd.ACT_DIS: lambda self: self.has_act,
    }

    # ------------------------------------------------------------------ observation

    def fans(self):
        """Fan outputs: [] (none), [pin] (Triple, A+6) or [fan1, fan2] (Stack logic, §6.1)."""
        if self.spec.fan == 'pin':
            return [self.fan_pin]
        if self.spec.fan == 'stack':
            req = self.cooling_requests
            forced = self.fanstatus != 0
            # fan 1: P1/P2 inputs; fan 2: PD4-PD7 = P3, P4, P5 and the spare input.
            return [forced or bool(req & 0x03), forced or bool(req & 0x3C)]
        return []

    def pi_power(self, p):
        """True if Pi p has power (DA: None when its HAT is absent)."""
        if self.spec.gpio == 'E':
            hat = self.hats.get((p - 1) // 4)
            return None if hat is None else hat['power'][(p - 1) % 4]
        return self.power_pins[p - 1]

    def outputs(self):
        """Observable pins and LEDs; None marks an output the board does not have."""
        maxpi = self.spec.maxpi
        pis = range(1, maxpi + 1)
        out = {
            'board': self.board.value,
            'firmware': self.firmware,
            'present': self.present,
            'pi_power': dict((p, self.pi_power(p)) for p in pis),
            'pi_led': dict((p, self.led_pins[p - 1] if self.spec.has_pi_leds else None) for p in pis),
            'pwr_led': self.pwr_led,
            'alert_led': self.alert if self.spec.has_alert_led else None,
            'act_enabled': self.enact if self.has_act else None,
            'hub_on': self.hub_on if self.spec.hub else None,
            'fans': self.fans(),
            'usbboot_pin': dict((p, self.usbboot_pins[p - 1] if self.spec.has_usbboot else None) for p in pis),
        }
        if self.spec.gpio == 'E':
            out['hats'] = dict((port, {'pi_power': list(h['power']), 'led': h['led'], 'hub': h['hub']})
                               for port, h in sorted(self.hats.items()))
        return out

    def counters(self):
        """Event counters: hub cycles, ACT LED flashes (A+6, one per command while enabled), boots, EEPROM writes."""
        return {'hub_cycles': self.hub_cycles, 'act_flashes': self.act_flashes, 'boot_count': self.boot_count,
                'eeprom_writes': self.eeprom_writes}

    def eeprom_counts(self):
        """EEPROM write counters: ``{'total': n, 'by_offset': {offset: n}}``."""
        return {'total': self.eeprom_writes, 'by_offset': dict(self.eeprom_write_counts)}

    # ------------------------------------------------------------------ persistence

    _RAM_BYTES = ('regs', 'enp', 'enpled', 'usbboot', 'eeprom')
    # Saved scalars: ``bool`` or the largest value of an integer one (the smallest is 0).
    _SCALARS = {'ptr': 0xFF, 'pending': COUNTER_MAX, 'fanstatus': 0xFF, 'fan_pin': bool, 'alert': bool, 'hub_on': bool,
                'enpwr': bool, 'pwr_led': bool, 'enact': bool, 'present': bool, 'hub_cycles': COUNTER_MAX,
                'boot_count': COUNTER_MAX, 'act_flashes': COUNTER_MAX, 'busy_messages': COUNTER_MAX,
                'temperature_raw': 0x3FF, 'cooling_requests': (1 << STACK_COOLING_INPUTS) - 1,
                'eeprom_writes': COUNTER_MAX, 'boot_ms': COUNTER_MAX, '_order_written': bool}
    _LISTS = ('power_pins', 'led_pins', 'usbboot_pins', 'written_data', 'hat_ports')

    def to_dict(self):
        """Everything needed to restore this board exactly; JSON-serialisable."""
        d = {
            'board': self.board.value,
            'firmware': self.firmware,
            'head': self.head,
            'fix_led_en_bug': self.fix_led_en_bug,
            'eeprom_write_counts': dict(('%d' % k, v) for k, v in sorted(self.eeprom_write_counts.items())),
            'adc_raw': dict(('%d' % k, v) for k, v in sorted(self.adc_raw.items())),
            'boot_log': [dict(e) for e in self.boot_log],
            'activity': [dict(r, args=list(r['args'])) for r in self._activity],
        }
        for name in self._RAM_BYTES:
            d[name.lstrip('_')] = list(getattr(self, name))
        for name in self._SCALARS:
            d[name.lstrip('_')] = getattr(self, name)
        for name in self._LISTS:
            d[name] = list(getattr(self, name))
        if self.spec.gpio == 'E':
            d['exists'] = self.exists
            d['hats'] = dict(('%d' % port, {'power': list(h['power']), 'led': h['led'], 'hub': h['hub']})
                             for port, h in sorted(self.hats.items()))
        return d

    @classmethod
    def from_dict(cls, d):
        """Rebuild a board saved by ``to_dict`` (RAM, pointer, pins, EEPROM, counters, presence).

        Every field is checked against the board's own sizes; a missing, unknown, wrong-typed or
        out-of-range field raises ``StateError`` (a ValueError) naming it, e.g. ``regs: expected a
        list of 15 integers 0-255``.
        """
        fields = Fields(d)
        board = BoardType.from_name(fields.text('board', [bt.value for bt in BoardType]))
        spec = board.spec
        firmware = fields.text('firmware', SUPPORTED_FIRMWARE)
        head = fields.boolean('head')
        if head and firmware != '1.8':
            raise StateError('head', 'true only with firmware 1.8 (HEAD reports 1.8)')
        da = spec.gpio == 'E'
        hat_ports = fields.int_list('hat_ports', 0, DA_MUX_PORTS - 1, DA_MUX_PORTS if da else 0, unique=True)
        self = cls(board, firmware=firmware, head=head, fix_led_en_bug=fields.boolean('fix_led_en_bug'),
                   eeprom=fields.byte_list('eeprom', spec.eeprom_size), da_hat_ports=hat_ports)
        for name, length in (('regs', REGISTER_FILE_SIZE), ('enp', self.ctrl_size), ('enpled', self.ctrl_size),
                             ('usbboot', self.ctrl_size)):
            setattr(self, name, fields.byte_list(name, length))
        for name, high in self._SCALARS.items():
            key = name.lstrip('_')
            setattr(self, name, fields.boolean(key) if high is bool else fields.integer(key, 0, high))
        for name in ('power_pins', 'led_pins', 'usbboot_pins'):
            setattr(self, name, fields.bool_list(name, spec.maxpi))
        self.written_data = fields.int_list('written_data', 0, DATA_REGISTERS - 1, DATA_REGISTERS, unique=True)
        self.eeprom_write_counts = dict((_decimal_key(key, where, spec.eeprom_size - 1), check_int(where, count, 0, COUNTER_MAX))
                                        for key, count, where in fields.items('eeprom_write_counts'))
        adc_raw = dict((_decimal_key(key, where, 0xFF), check_int(where, raw, 0, 0x3FF))
                       for key, raw, where in fields.items('adc_raw'))
        if sorted(adc_raw) != sorted(self.adc_raw):
            channels = ', '.join('"%d"' % c for c in sorted(self.adc_raw)) or 'none'
            raise StateError('adc_raw', 'the %s has ADC channels %s, got %s' % (spec.product, channels, sorted(adc_raw)))
        self.adc_raw = adc_raw
        self.boot_log = [_boot_event(entry, 'boot_log[%d]' % i) for i, entry in enumerate(fields.sequence('boot_log', max_length=1000))]
        self._activity = [_activity_record(entry, 'activity[%d]' % i)
                          for i, entry in enumerate(fields.sequence('activity', max_length=10000))]
        if da:
            self.exists = fields.integer('exists', 0, 0xFF)
            self.hats = {}
            for key, saved, where in fields.items('hats'):
                hat = Fields(saved, where)
                self.hats[_decimal_key(key, where, DA_MUX_PORTS - 1)] = {
                    'power': hat.bool_list('power', 4), 'led': hat.boolean('led'), 'hub': hat.boolean('hub')}
                hat.finish()
            if sorted(self.hats) != self.hat_ports:
                raise StateError('hats', 'expected one entry per port of hat_ports %s, got ports %s' % (self.hat_ports, sorted(self.hats)))
        fields.finish()
        return self


# Saved boot-log events (see ``_boot``): the fields each has besides t_ms and event, and their type.
BOOT_EVENTS = {'boot': {'cause': str}, 'alert': {'value': bool}, 'power': {'pi': int, 'value': bool}, 'usb': {},
               'da_scan': {'exists': int}}


def _decimal_key(key, where, high):
    """A mapping key written by ``'%d' % n`` (0 <= n <= high): decimal digits, no sign, no leading zero."""
    if not re.match(r'(0|[1-9][0-9]{0,5})\Z', key) or int(key) > high:
        raise StateError(where, 'expected a key "0" to "%d"' % high)
    return int(key)


def _boot_event(entry, where):
    fields = Fields(entry, where)
    event = {'t_ms': fields.integer('t_ms'), 'event': fields.text('event', sorted(BOOT_EVENTS))}
    for name, kind in BOOT_EVENTS[event['event']].items():
        if kind is str:
            event[name] = fields.text(name)
        elif kind is bool:
            event[name] = fields.boolean(name)
        else:
            event[name] = fields.integer(name, 0, 0xFF)
    fields.finish()
    return event


def _activity_record(entry, where):
    """One record of ``_command_record`` not yet drained by the adapter."""
    fields = Fields(entry, where)
    record = {'code': fields.integer('code', 0, 0xFF), 'name': fields.text('name'),
              'args': fields.int_list('args', 0, 0xFF, DATA_REGISTERS), 'deferred': fields.boolean('deferred')}
    status = fields.get('status')
    record['status'] = None if status is None else check_int(fields.path('status'), status, 0, 0xFF)
    duration = fields.get('duration_ms')
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 <= duration <= COUNTER_MAX:
        raise StateError(fields.path('duration_ms'), 'expected a number of milliseconds, got %s' % describe(duration))
    record['duration_ms'] = duration
    fields.finish()
    return record
