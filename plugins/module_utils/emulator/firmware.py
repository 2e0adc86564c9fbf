# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Emulation of one ClusterCTRL board's MCU, at the level of I2C messages to address 0x20.

Everything here follows the project's protocol spec (``clusterctrl-protocol.md``); the
section numbers in the docstrings point into it. The class models the register file
(§2), the register pointer (§1.4), the 8-byte write-piece mis-parse (§1.9), every command
(§3) and GET_DATA sub-command (§4), the EEPROM and the power-up sequence (§5), the board
differences (§6.1) and the firmware-version differences (§6.3, 1.4 to 1.8). Appendix A is
the state model. The model is one class made of one part per job: this file holds its
construction, configuration, power-up sequence and observable outputs; ``firmware_registers``
the register file as I2C messages see it, ``firmware_commands`` the commands, ``firmware_eeprom``
the EEPROM save commands and ``firmware_state`` saving and restoring a board.

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

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import (
    SUPPORTED_FIRMWARE,
    BoardType,
    ctrl_size,
    parse_firmware,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import (
    REGISTER_FILE_SIZE,
    REGISTER_LAYOUT_VERSION,
    Eeprom,
    Reg,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.factory_defaults import (
    DEFAULT_TEMPERATURE_RAW,
    default_adc_raw,
    factory_eeprom,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware_commands import FirmwareCommands
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware_constants import (
    DA_MUX_PORTS,
    DA_MUX_SELECT_MS,
    STACK_COOLING_INPUTS,
    USB_RESET_MS,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware_eeprom import FirmwareEeprom
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware_registers import FirmwareRegisters
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware_state import FirmwareState


def _byte(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise ValueError(f'{what} must be an integer 0..255, got {value!r}')
    return value


class ClusterCTRLFirmware(FirmwareRegisters, FirmwareCommands, FirmwareEeprom, FirmwareState):
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

    def __init__(
        self,
        board: BoardType | str,
        firmware: str | None = None,
        order: int | None = None,
        blank_eeprom: bool = False,
        eeprom: Iterable[int] | None = None,
        fix_led_en_bug: bool = False,
        head: bool = False,
        da_hat_ports: Iterable[int] = (0,),
        adc_raw: Mapping[int, int] | None = None,
        temperature_raw: int = DEFAULT_TEMPERATURE_RAW,
        cooling_requests: int = 0,
        busy_messages: int = 0,
    ):
        self.board = board if isinstance(board, BoardType) else BoardType.from_name(board)
        self.spec = self.board.spec
        self.firmware = self.spec.newest_firmware if firmware is None else str(firmware)
        if self.firmware not in SUPPORTED_FIRMWARE:
            raise ValueError(f'unsupported firmware {firmware!r} (expected one of: {", ".join(SUPPORTED_FIRMWARE)})')
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
                raise ValueError(f'EEPROM image must be {self.spec.eeprom_size} bytes for {self.spec.product}')
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
        self.hat_ports = sorted({int(p) for p in da_hat_ports}) if self.spec.gpio == 'E' else []
        for port in self.hat_ports:
            if not 0 <= port < DA_MUX_PORTS:
                raise ValueError(f'DA mux ports are 0..7, got {port}')
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
    def has_fanstatus(self) -> bool:
        """GET_DATA sub-command 4 exists from firmware 1.6 (commit 54bd6c4, §4, §6.3)."""
        return self.version >= (1, 6)

    @property
    def has_act(self) -> bool:
        """ACT_EN/ACT_DIS and EEPROM 0x03 exist on the A+6 from firmware 1.8 (§6.3)."""
        return self.spec.has_act_led and self.version >= (1, 8)

    @property
    def autoondelay_ms(self) -> int:
        """Wait before each saved-on Pi at power-up (§6.1, §10.5); the pHAT has one only in HEAD."""
        if self.spec.autoondelay_ms:
            return self.spec.autoondelay_ms
        if self.head and self.board is BoardType.PHAT:
            return 1000
        return 0

    def set_adc_raw(self, channel: int, raw: int) -> None:
        """Set the raw 10-bit reading of ADC channel ``channel`` (1-based, §4)."""
        if channel not in self.adc_raw:
            raise ValueError(f'{self.spec.product} has no ADC channel {channel!r}')
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 0x3FF:
            raise ValueError(f'ADC raw value must be 0..1023, got {raw!r}')
        self.adc_raw[channel] = raw

    def set_temperature_raw(self, raw: int) -> None:
        """Set the raw on-chip temperature reading (10-bit, §4)."""
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 0x3FF:
            raise ValueError(f'temperature raw value must be 0..1023, got {raw!r}')
        self.temperature_raw = raw

    def set_cooling_request(self, index: int, requesting: bool) -> None:
        """Stack: drive cooling-request input ``index`` (1..5 = P1..P5, 6 = spare) (§4, §6.1)."""
        if self.spec.fan != 'stack':
            raise ValueError('cooling-request inputs exist only on the Stack')
        if not 1 <= index <= STACK_COOLING_INPUTS:
            raise ValueError(f'cooling-request input must be 1..6, got {index!r}')
        if requesting:
            self.cooling_requests |= 1 << (index - 1)
        else:
            self.cooling_requests &= ~(1 << (index - 1))

    def set_busy_messages(self, count: int) -> None:
        """Slow-command mode (§1.8): CMD stays set for ``count`` further messages; 0 disables it."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f'busy_messages must be a non-negative integer, got {count!r}')
        self.busy_messages = count

    # ------------------------------------------------------------------ lifecycle (§5.2)

    def reset(self) -> None:
        """The MCU resets (RESET command or watchdog): pins released, boot from EEPROM, off USB."""
        self._restart('reset')

    def power_cycle(self) -> None:
        """The board loses power and comes back: same boot as a reset, off USB until re-enumerated."""
        self._restart('power-cycle')

    def reenumerate(self) -> None:
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
        bitfield = {offset: bytearray(self.eeprom[offset:][:n]) for offset in (Eeprom.LED_BITS, Eeprom.POS_BITS, Eeprom.USBBOOT_BITS)}
        self.enpled = bitfield[Eeprom.LED_BITS]
        self.enp = bitfield[Eeprom.POS_BITS]
        self.usbboot = bitfield[Eeprom.USBBOOT_BITS] if spec.has_usbboot else bytearray(n)
        # Step 5 (GPIOA/GPIOD: auto power-on) or step 6 (DA: scan the mux for HATs).
        t = self._auto_power_on(log) if spec.gpio in 'AD' else self._da_scan(log)
        t += USB_RESET_MS
        log.append({'t_ms': t, 'event': 'usb'})
        self.boot_ms = t
        self.boot_log = log

    def _auto_power_on(self, log):
        """§5.2 step 5 with the §6.3 version differences; returns the elapsed time in ms."""
        t = 0
        delay = self.autoondelay_ms
        alert_used = self.spec.has_alert_led and ((self.spec.gpio == 'A' and self.version >= (1, 7)) or (self.spec.gpio == 'D' and self.head))
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

    # ------------------------------------------------------------------ observation

    def fans(self) -> list[bool]:
        """Fan outputs: [] (none), [pin] (Triple, A+6) or [fan1, fan2] (Stack logic, §6.1)."""
        if self.spec.fan == 'pin':
            return [self.fan_pin]
        if self.spec.fan == 'stack':
            req = self.cooling_requests
            forced = self.fanstatus != 0
            # fan 1: P1/P2 inputs; fan 2: PD4-PD7 = P3, P4, P5 and the spare input.
            return [forced or bool(req & 0x03), forced or bool(req & 0x3C)]
        return []

    def pi_power(self, p: int) -> bool | None:
        """True if Pi p has power (DA: None when its HAT is absent)."""
        if self.spec.gpio == 'E':
            hat = self.hats.get((p - 1) // 4)
            return None if hat is None else hat['power'][(p - 1) % 4]
        return self.power_pins[p - 1]

    def outputs(self) -> dict[str, Any]:
        """Observable pins and LEDs; None marks an output the board does not have."""
        maxpi = self.spec.maxpi
        pis = range(1, maxpi + 1)
        out = {
            'board': self.board.value,
            'firmware': self.firmware,
            'present': self.present,
            'pi_power': {p: self.pi_power(p) for p in pis},
            'pi_led': {p: self.led_pins[p - 1] if self.spec.has_pi_leds else None for p in pis},
            'pwr_led': self.pwr_led,
            'alert_led': self.alert if self.spec.has_alert_led else None,
            'act_enabled': self.enact if self.has_act else None,
            'hub_on': self.hub_on if self.spec.hub else None,
            'fans': self.fans(),
            'usbboot_pin': {p: self.usbboot_pins[p - 1] if self.spec.has_usbboot else None for p in pis},
        }
        if self.spec.gpio == 'E':
            out['hats'] = {port: {'pi_power': list(h['power']), 'led': h['led'], 'hub': h['hub']} for port, h in sorted(self.hats.items())}
        return out

    def counters(self) -> dict[str, int]:
        """Event counters: hub cycles, ACT LED flashes (A+6, one per command while enabled), boots, EEPROM writes."""
        return {'hub_cycles': self.hub_cycles, 'act_flashes': self.act_flashes, 'boot_count': self.boot_count, 'eeprom_writes': self.eeprom_writes}

    def eeprom_counts(self) -> dict[str, Any]:
        """EEPROM write counters: ``{'total': n, 'by_offset': {offset: n}}``."""
        return {'total': self.eeprom_writes, 'by_offset': dict(self.eeprom_write_counts)}
