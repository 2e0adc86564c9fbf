# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Driver for one ClusterCTRL board (register layout version 2), written from the spec.

It keeps the public API of the earlier arrdem/source ``clusterctrl`` driver (spec §9.1):
``ClusterCTRLv2Driver(bus, address=0x20, delay=0, clear=False)``; the names ``I2C_ADDRESS``,
``BoardType``, ``Reg``, ``Cmd``, ``Status``, ``Data``, ``PiRef``, ``once`` (earlier enum member
names are aliases: protocol.py, boards.py); ``min_pi``/``max_pi`` as attributes and as calls;
the keywords ``id=`` (now ``pi``) and ``adc_id=`` (now ``channel``); action methods return the
DATA0 byte read after the command; ``read_temp()`` is integer kelvin. Its bugs (§9.2) are fixed:

* B1 values are cached per instance; B3 multi-byte reads use ``read_i2c_block_data``;
* B2/B4 every command checks CMD (completion) and STATUS; any STATUS but OK raises a
  CommandError naming the command, the Pi and the code; transient bus errors are retried;
* B5/B6 ADC channels are scaled by their real type codes (1 and 2); ``read_temperature()``
  gives the raw count and °C (the CLI's formula, §4), ``read_temp()`` kelvin from that °C
  (these GET_DATA reads are readings.py's ``BoardReadingsMixin``);
* B7 ``BoardType`` has a member per board (Single and A+6 share TYPE 3: MAXPI tells);
* B8 the factory-order randomisation picks from 1..255 except 20 and never fails;
* B9 Pi numbers are validated (0 is not "all") without re-reading the board;
* B10/B11 ``hub_reset`` documents its real units; ``reset`` marks the driver stale.

Traffic is the minimum the spec derives (§1.6, §10.3): one combined write carries the
arguments and the command, one block read returns ``[DATA0 or more outputs..., CMD, STATUS]``
(command.py; with ``combined_transfers``, one I2C transfer for a read-only command).
"""

from __future__ import annotations

import numbers
import random
import time

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import BoardType
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.command import CommandChannel
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.compat import once, renamed_keywords
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import (
    AddressingError,
    BoardResetError,
    ClusterCTRLError,
    CommandError,
    NotSupportedError,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import (
    ADDRESS,
    FACTORY_ORDER,
    HUB_CYCLE_MIN_UNITS,
    I2C_ADDRESS,
    REGISTER_FILE_SIZE,
    REGISTER_LAYOUT_VERSION,
    UNSUPPORTED_SENTINEL,
    Cmd,
    Data,
    Reg,
    Status,
    command_name,
    status_text,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.readings import BoardReadingsMixin
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.transport import RetryingBus
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.values import AdcReading, PiRef, TemperatureReading

# The earlier driver's public names, importable from here as they were (spec §9.1).
__all__ = ['AdcReading', 'BoardType', 'ClusterCTRLv2Driver', 'Cmd', 'Data', 'I2C_ADDRESS', 'PiRef', 'Reg', 'Status', 'TemperatureReading', 'once']


class ClusterCTRLv2Driver(BoardReadingsMixin):
    """One ClusterCTRL board behind ``bus`` (an smbus2.SMBus or anything with its methods).

    Constructing the driver reads all 15 registers in one block read and refuses a device
    whose register-layout version is not 2. ``randomize_factory_order`` keeps the earlier
    driver's behaviour of giving a board still at the factory order 20 a random order
    (saved to EEPROM) in ``_post_init``; the collection's modules turn it off, because a
    module never writes EEPROM unless asked.

    ``delay`` and ``clear`` are the earlier driver's (command.py); ``combined_transfers`` sends
    a read-only command and its read as one I2C transfer (the ``clusterctrl`` command uses it).

    ``detect_resets`` (every module turns it on, read-only and check-mode runs included) keeps a
    token in MODE, the firmware's scratch register: MODE is never saved and reads 0 after any
    restart (spec §2, §11 fact 8). A non-zero MODE found by the first read (an earlier run's
    token) is adopted as it is; only a 0 gets a random token written, right after the first read.
    Every command's status read then starts at ORDER (the same single SMBus call, a few more
    bytes), so a board that restarts while a run is reading or changing it raises
    BoardResetError instead of being silently mis-reported. The same read also checks ORDER,
    which covers a restart between the first read and the token write. It costs at most one
    write per board, of a register no command reads and no save keeps (not a mutating command).
    """

    def __init__(
        self,
        bus,
        address=ADDRESS,
        delay=0,
        clear=False,
        *,
        label=None,
        attempts=None,
        randomize_factory_order=True,
        sleep=time.sleep,
        detect_resets=False,
        combined_transfers=False,
    ):
        if isinstance(delay, bool) or not isinstance(delay, numbers.Real) or not 0 <= delay <= 60:
            raise ValueError(f'delay is seconds between a command and the read of its result, 0 to 60, got {delay!r}')
        self.label = label or f'ClusterCTRL at 0x{address:02X}'
        kwargs = {} if attempts is None else {'attempts': attempts}
        self._io = bus if isinstance(bus, RetryingBus) else RetryingBus(bus, self.label, address=address, sleep=sleep, **kwargs)
        self._channel = CommandChannel(self._io, self.label, sleep=sleep, delay=delay, clear=bool(clear), combine=combined_transfers)
        self._sleep = sleep
        self.randomize_factory_order = randomize_factory_order
        self.stale = False
        self._reset_marker = None
        regs = self._io.read_block(Reg.VERSION, REGISTER_FILE_SIZE)
        if regs[Reg.VERSION] != REGISTER_LAYOUT_VERSION:
            raise ClusterCTRLError(
                f'{self.label}: register layout version {regs[Reg.VERSION]} is not supported (expected {REGISTER_LAYOUT_VERSION}); is this a ClusterCTRL board?'
            )
        self._maxpi = regs[Reg.MAXPI]
        self._order = regs[Reg.ORDER]
        self._type_code = regs[Reg.TYPE]
        try:
            self._type = BoardType.from_registers(self._type_code, self._maxpi)
        except ValueError as exc:
            raise ClusterCTRLError(f'{self.label}: {exc}') from exc
        if detect_resets:
            # A token already in MODE (left by an earlier run; a restart clears it) serves as it is: no write.
            self._reset_marker = regs[Reg.MODE]
            if not self._reset_marker:
                self._reset_marker = random.SystemRandom().randint(1, 255)
                self._io.write_byte(Reg.MODE, self._reset_marker)
        self._post_init()

    def _post_init(self):
        """Hook run at the end of construction. Default: randomise a factory order (see class doc)."""
        if self.randomize_factory_order and self._order == FACTORY_ORDER:
            choices = [n for n in range(1, 256) if n != FACTORY_ORDER]
            self.set_order(random.SystemRandom().choice(choices))
            self.eeprom_save_order()

    # ------------------------------------------------------------------ identity
    def __repr__(self):
        return f'<{type(self).__name__} {self._type.product} order={self._order} maxpi={self._maxpi}>'

    @property
    def type(self):
        """The BoardType (read once at construction)."""
        return self._type

    @property
    def spec(self):
        return self._type.spec

    @property
    def maxpi(self):
        return self._maxpi

    @property
    def writes_accepted(self):
        """Writes the bus accepted so far (see RetryingBus.writes)."""
        return self._io.writes

    @property
    def order(self):
        """ORDER as last read or set through this driver."""
        return self._order

    @property
    def min_pi(self):
        """This board's first Pi as a PiRef; also callable, as the earlier driver's method was."""
        return PiRef(self._order, 1)

    @property
    def max_pi(self):
        """This board's last Pi as a PiRef; also callable (``max_pi()``)."""
        return PiRef(self._order, self._maxpi)

    def pis(self):
        """Every Pi of this board as a PiRef, in slot order."""
        for pi in range(1, self._maxpi + 1):
            yield PiRef(self._order, pi)

    def _local(self, pi):
        """Validate a Pi given as an int slot or a PiRef; return the slot number (no bus traffic)."""
        if isinstance(pi, PiRef):
            if pi.board_id != self._order:
                raise AddressingError(f'{self.label}: {pi!r} belongs to the board with order {pi.board_id}, not {self._order}')
            pi = pi.pi_id
        if isinstance(pi, bool) or not isinstance(pi, int):
            raise AddressingError(f'{self.label}: a Pi is an integer slot or a PiRef, got {pi!r}')
        if not 1 <= pi <= self._maxpi:
            raise AddressingError(f'{self.label}: Pi {pi} does not exist: this {self._type.product} has Pis 1 to {self._maxpi}')
        return pi

    # ------------------------------------------------------------------ command core
    def _command(self, cmd, args=(), outputs=0, pi=None):
        """Run one firmware command; return DATA0..DATA(n-1), DATA0 first, n = max(outputs, 1).

        Wire traffic (spec §1.6/§1.7, command.py): one write of ``[args..., cmd]`` ending at CMD,
        then one block read of ``[outputs..., CMD, STATUS]`` (DATA0 at least: the earlier
        driver's methods returned it, §9.1).
        """
        if self.stale:
            raise ClusterCTRLError(f'{self.label} was reset or re-enumerated; rediscover it before sending {command_name(cmd)}')
        outputs = max(outputs, 1)
        # [outputs..., CMD, STATUS]; with reset detection from ORDER on, in the same single read.
        first = Reg.ORDER if self._reset_marker is not None else Reg.CMD - outputs
        data = self._channel.send(cmd, args, first, pi=pi)
        if self._reset_marker is not None:
            self._check_not_reset(data[0], data[1], cmd)
        if data[-1] != Status.OK:
            raise CommandError(self.label, command_name(cmd), data[-1], pi, status_text(data[-1]))
        # DATA0..DATAn come before CMD and STATUS, the last two of the register block.
        return list(reversed(data[:-2][-outputs:])) if outputs else []

    def _check_not_reset(self, order, mode, cmd):
        """MODE must still hold the token, and ORDER what this driver read or set.

        A lost token means a restart since the token was written; a changed ORDER with the
        token intact means a restart between the first read and the token write (RAM order
        rebuilt from EEPROM), or another program changed it: either way the run cannot trust
        what it read.
        """
        if mode != self._reset_marker:
            raise BoardResetError(
                f'{self.label} restarted during this run (its RAM was rebuilt from EEPROM), so what was read or '
                'set before may no longer hold; run the task again to converge'
            )
        if order != self._order and cmd != Cmd.SET_ORDER:
            raise BoardResetError(
                f'{self.label}: its order changed from {self._order} to {order} during this run (a restart, or '
                'another program), so what was read before may no longer hold; run the task again'
            )

    def _action(self, cmd, args=(), pi=None):
        """A command run for its effect; returns the DATA0 byte read after it, as the earlier driver did."""
        return self._command(cmd, args, pi=pi)[0]

    def _require(self, available, feature):
        if not available:
            raise NotSupportedError(f'{self.label}: the {self._type.product} has no {feature}')

    def _require_firmware(self, minimum, feature):
        if self.fw_version < minimum:
            raise NotSupportedError(f'{self.label}: {feature} needs firmware {minimum[0]}.{minimum[1]} or later; this board runs {self.fw_version_string}')

    # ------------------------------------------------------------------ power
    @renamed_keywords(id='pi')
    def power_on(self, pi):
        pi = self._local(pi)
        return self._action(Cmd.ON, [pi], pi=pi)

    @renamed_keywords(id='pi')
    def power_off(self, pi):
        pi = self._local(pi)
        return self._action(Cmd.OFF, [pi], pi=pi)

    @renamed_keywords(id='pi')
    def power_status(self, pi):
        """True when the Pi is powered (GET_PSTATUS)."""
        pi = self._local(pi)
        (state,) = self._command(Cmd.GET_PSTATUS, [pi], outputs=1, pi=pi)
        if state == UNSUPPORTED_SENTINEL:
            # DA: the Pi's ClusterHAT is not present (spec §3 GET_PSTATUS).
            raise CommandError(self.label, 'GET_PSTATUS', Status.OK, pi, 'no ClusterHAT answers for this Pi')
        return state == 1

    def power_status_many(self, pis):
        """``{slot: bool}`` for the given Pis (one GET_PSTATUS each: the firmware answers one Pi per command)."""
        return dict((self._local(pi), self.power_status(pi)) for pi in pis)

    def power_all_on(self, delay=0.0):
        """Switch on every Pi that is off, waiting ``delay`` seconds between power-ons; returns how many."""
        sent = 0
        for pi in range(1, self._maxpi + 1):
            if not self.power_status(pi):
                if sent and delay:
                    self._sleep(delay)
                self.power_on(pi)
                sent += 1
        return sent

    def power_all_off(self):
        for pi in range(1, self._maxpi + 1):
            self.power_off(pi)

    def eeprom_save_powerstate(self):
        return self._action(Cmd.SAVEPOS)

    # ------------------------------------------------------------------ order
    def get_order(self):
        """Read ORDER from the board (and refresh the cached value)."""
        self._order = self._io.read_byte(Reg.ORDER)
        return self._order

    def set_order(self, order):
        """Set ORDER (1..255) in RAM; ``eeprom_save_order`` makes it survive a reset."""
        if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= 255:
            raise AddressingError(f'{self.label}: order must be an integer from 1 to 255, got {order!r}')
        data0 = self._action(Cmd.SET_ORDER, [order])
        self._order = order
        return data0

    def eeprom_save_order(self):
        return self._action(Cmd.SAVEORDER)

    # ------------------------------------------------------------------ LEDs
    def alert_on(self):
        return self._action(Cmd.ALERT_ON)

    def alert_off(self):
        return self._action(Cmd.ALERT_OFF)

    @renamed_keywords(id='pi')
    def led_on(self, pi):
        """Enable one Pi's LED. Note (spec §3): on Single and pHAT the firmware ignores this while the Pi is off."""
        self._require(self.spec.has_pi_leds, 'per-Pi LEDs')
        pi = self._local(pi)
        return self._action(Cmd.LED_EN, [pi], pi=pi)

    @renamed_keywords(id='pi')
    def led_off(self, pi):
        self._require(self.spec.has_pi_leds, 'per-Pi LEDs')
        pi = self._local(pi)
        return self._action(Cmd.LED_DIS, [pi], pi=pi)

    def led_all_on(self):
        """LED_EN(0): PWR LED and every Pi LED. Refused on Single and pHAT, where it powers every Pi (spec §3 [BUG])."""
        if self.spec.gpio == 'D':
            raise NotSupportedError(f'{self.label}: "all LEDs on" powers every Pi on the {self._type.product} (a firmware bug); enable LEDs one Pi at a time')
        return self._action(Cmd.LED_EN, [0])

    def led_all_off(self):
        return self._action(Cmd.LED_DIS, [0])

    def pwr_led_on(self):
        return self._action(Cmd.PWR_ON)

    def pwr_led_off(self):
        return self._action(Cmd.PWR_OFF)

    def act_on(self):
        self._require(self.spec.has_act_led, 'ACT LED')
        self._require_firmware((1, 8), 'the ACT LED command')
        return self._action(Cmd.ACT_EN)

    def act_off(self):
        self._require(self.spec.has_act_led, 'ACT LED')
        self._require_firmware((1, 8), 'the ACT LED command')
        return self._action(Cmd.ACT_DIS)

    def eeprom_save_leds(self):
        return self._action(Cmd.SAVELED)

    # ------------------------------------------------------------------ fan
    def fan_on(self):
        self._require(self.spec.fan != 'none', 'fan')
        return self._action(Cmd.FAN, [1])

    def fan_off(self):
        self._require(self.spec.fan != 'none', 'fan')
        return self._action(Cmd.FAN, [0])

    # ------------------------------------------------------------------ USB hub, paths, reset
    def hub_on(self):
        """The firmware never dispatches HUB_ON / HUB_OFF (spec §3); only ``hub_reset`` exists."""
        raise NotSupportedError(f'{self.label}: ClusterCTRL firmware has no hub on/off command (HUB_ON is never dispatched); use hub_reset()')

    def hub_off(self):  # pylint: disable=missing-function-docstring
        raise NotSupportedError(f'{self.label}: ClusterCTRL firmware has no hub on/off command (HUB_OFF is never dispatched); use hub_reset()')

    @renamed_keywords(delay='units')
    def hub_reset(self, units=HUB_CYCLE_MIN_UNITS):
        """HUB_CYCLE: hub off for ``units`` x 13.33 ms (10 to 255 units: 133 ms to 3.4 s), then on.

        The firmware leaves STATUS untouched for this command (spec §3), so STATUS is not
        checked; on boards with a hub the controller itself drops off USB and re-enumerates,
        after which this driver is stale. Returns what DATA0 holds afterwards: ``units``
        (not read back: the board may be gone). ``delay=`` is the earlier driver's keyword.
        """
        if isinstance(units, bool) or not isinstance(units, int) or not HUB_CYCLE_MIN_UNITS <= units <= 255:
            raise AddressingError(f'{self.label}: hub off-time must be {HUB_CYCLE_MIN_UNITS} to 255 units of 13.33 ms, got {units!r}')
        self._send_and_lose_device(Reg.DATA0, [units, Cmd.HUB_CYCLE], drops_off=self.spec.hub is not None)
        return units

    def get_path(self, index):
        """GETPATH: USB hub ports from the board's hub to the controller (0) or to Pi ``index``."""
        if self.spec.paths is None:
            raise NotSupportedError(f'{self.label}: the {self._type.product} reports no USB paths')
        if index != 0:
            index = self._local(index)
        hops = self._command(Cmd.GETPATH, [index], outputs=8)  # DATA0 first
        return [h for h in reversed(hops) if h != 0xFF]  # DATA7 holds the first hop

    def hats_present(self):
        """DA only: the mux ports (0-7) where the boot scan found a ClusterHAT (EXISTS register 0x20, spec §2)."""
        self._require(self._type is BoardType.DA, 'ClusterHAT expansion ports')
        mask = self._io.read_byte(Reg.EXISTS)
        return [port for port in range(8) if mask & (1 << port)]

    def reset(self):
        """RESET: the MCU restarts from EEPROM and re-enumerates on USB; this driver becomes stale. Returns None."""
        self._send_and_lose_device(Reg.CMD, [Cmd.RESET], drops_off=True)

    def _send_and_lose_device(self, register, payload, drops_off):
        """Send a command after which the device leaves USB (HUB_CYCLE on hub boards, RESET): CommandChannel.send_once."""
        self._channel.send_once(register, payload, drops_off, self._reset_marker)
        if drops_off:
            self.stale = True

    reset_all = reset  # the earlier driver's name

    # ------------------------------------------------------------------ USB boot
    @renamed_keywords(id='pi')
    def usbboot_on(self, pi):
        self._require(self.spec.has_usbboot, 'USB boot control')
        pi = self._local(pi)
        return self._action(Cmd.USBBOOT_EN, [pi], pi=pi)

    @renamed_keywords(id='pi')
    def usbboot_off(self, pi):
        self._require(self.spec.has_usbboot, 'USB boot control')
        pi = self._local(pi)
        return self._action(Cmd.USBBOOT_DIS, [pi], pi=pi)

    @renamed_keywords(id='pi')
    def usbboot_status(self, pi):
        self._require(self.spec.has_usbboot, 'USB boot control')
        pi = self._local(pi)
        (state,) = self._command(Cmd.GET_USTATUS, [pi], outputs=1, pi=pi)
        if state == UNSUPPORTED_SENTINEL:
            raise CommandError(self.label, 'GET_USTATUS', Status.OK, pi, 'the firmware reports no USB boot state')
        return state == 1

    def eeprom_save_usbboot(self):
        return self._action(Cmd.SAVEUSBBOOT)

    # ------------------------------------------------------------------ EEPROM
    def eeprom_reset(self):
        """SAVEDEFAULTS: factory image into EEPROM (order 20); RAM and outputs change only at the next reset."""
        return self._action(Cmd.SAVEDEFAULTS)

    def eeprom_save_all(self):
        return self._action(Cmd.SAVE)
