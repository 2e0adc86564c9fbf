# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Driver for a ClusterHAT v2.x / v3.x (XRA1200(P) expander at 0x20 on the host's I2C bus 1).

Written from the spec: §7.1 detection, §7.3 registers, bits and hub polarity, §7.4 first-run
initialisation, §7.5 USB ports, §8.3 numbering (the HAT's Pis come first), §8.4 what the
official CLI does on a HAT. ClusterHAT v1.x (host GPIO, §7.2) is not supported.

``ClusterHATDriver`` has the method names of ``ClusterCTRLv2Driver`` where the HAT has the
function, and raises ``NotSupportedError`` naming the HAT where it has not. Differences:

* construction sends nothing on the bus;
* reading never writes: ``read_state``, ``power_status``, ``power_status_all``,
  ``hub_status``, ``led_status``, ``alert_status``, ``wp_status``, ``initialized`` and
  ``initialize(check_mode=True)`` only read, so check mode leaves no mutating journal entry;
* a HAT that has just powered up (DIR == 0xFF) must be initialised (§7.4) before its pins
  drive anything. The official CLI does this on every call; here a writing method does it
  first (``auto_initialize=True``, the default) or raises (``auto_initialize=False``); the
  set-up, the expander's registers and its probes are hat_expander.py's ``HatExpanderMixin``;
* every change is one ``read_byte_data(OUT)`` and one ``write_byte_data(OUT)`` (§7.3), and
  the write is skipped when OUT already holds the value; the methods return whether they
  wrote;
* ``order`` is 0: no ClusterCTRL can have ORDER 0 (writing 0 stores 1, §11 fact 5), so a
  cluster sorted by order puts the HAT first, as §8.3 requires.
"""

from __future__ import annotations

import time
from collections import namedtuple

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import (
    AddressingError,
    ClusterCTRLError,
    NotSupportedError,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.hat_detect import (  # noqa: F401 pylint: disable=unused-import
    DEFAULTS_FILE,
    HAT_MAXPI,
    V1_REASON,
    HatType,
    detect_clusterhat,
    hub_active_high,
    parse_hat_version,
    read_defaults,
    usb_port,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.hat_expander import (
    BIT_ALERT,
    BIT_HUB,
    BIT_LED,
    BIT_WP,
    REG_OUT,
    HatExpanderMixin,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.transport import RetryingBus
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.values import PiRef

HAT_ADDRESS = 0x20
HAT_BUS = 1
HAT_ORDER = 0

HatState = namedtuple('HatState', 'initialized power led hub alert wp in_value')
HatState.__doc__ = """State decoded from one read of IN (plus DIR for ``initialized``; None when not read).

``power`` is a list of booleans for P1..P4 (the HAT's size), ``led`` None on v3, ``hub`` the
hub being on (polarity-corrected), ``in_value`` the raw byte."""


class ClusterHATDriver(HatExpanderMixin):
    """One ClusterHAT v2.x / v3.x behind ``bus`` (smbus2.SMBus(1) or an EmulatedSMBus).

    ``version``: "2.0".."2.x" / "3.0".."3.x" (from ``detect_clusterhat``); ``size``: the
    number of Pis (CLUSTERHAT_SIZE, at most 4); ``part``: ``xra1200`` / ``xra1200p`` when
    known, otherwise probed once by reading PUR (a NAK means the plain part, §7.3);
    ``hub_active_high``: override the §7.3 polarity (None = active-high only on v2.0);
    ``auto_initialize``: run the §7.4 first-run initialisation before the first write when
    the HAT needs it (the CLI's behaviour), else raise.
    """

    def __init__(
        self,
        bus,
        version,
        size=HAT_MAXPI,
        label=None,
        address=HAT_ADDRESS,
        attempts=None,
        part=None,
        hub_active_high=None,  # noqa: F811 - a parameter of the public API, named like the re-exported function
        auto_initialize=True,
        sleep=time.sleep,
    ):
        self.version = parse_hat_version(version)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError('a ClusterHAT has 1 to %d Pis, got size %r' % (HAT_MAXPI, size))
        self._maxpi = min(size, HAT_MAXPI)
        if part not in (None, 'xra1200', 'xra1200p'):
            raise ValueError(f'part must be xra1200, xra1200p or None, got {part!r}')
        self._part = part
        self.active_high = (self.version == (2, 0)) if hub_active_high is None else bool(hub_active_high)
        self.label = label or 'ClusterHAT v%d.%d (I2C bus %s, 0x%02X)' % (self.version + (getattr(bus, 'bus_number', HAT_BUS), address))
        kwargs = {} if attempts is None else {'attempts': attempts}
        self._io = bus if isinstance(bus, RetryingBus) else RetryingBus(bus, self.label, address=address, sleep=sleep, **kwargs)
        self.address = address
        self.auto_initialize = auto_initialize
        self._sleep = sleep
        self._initialized = None  # cached after the first DIR read that found the HAT initialised
        self._pur = None  # PUR as the part probe read it, until wp_link uses it
        self._type = HatType(self.version, self._maxpi, self.active_high)
        self.stale = False

    # ------------------------------------------------------------------ identity
    def __repr__(self):
        return '<%s %s maxpi=%d>' % (type(self).__name__, self._type.product, self._maxpi)

    @property
    def type(self):
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
        """0: sorts before every ClusterCTRL (ORDER >= 1), so the HAT's Pis are p1..p4 (§8.3)."""
        return HAT_ORDER

    @property
    def version_string(self):
        return '%d.%d' % self.version

    @property
    def has_led(self):
        """Only v2.x drives the LED enable (bit 4); the CLI never touches it on v3 (§7.3)."""
        return self.version[0] == 2

    @property
    def min_pi(self):
        """The HAT's first Pi as a PiRef (also callable, as ClusterCTRLv2Driver.min_pi)."""
        return PiRef(HAT_ORDER, 1)

    @property
    def max_pi(self):
        return PiRef(HAT_ORDER, self._maxpi)

    def pis(self):
        for pi in range(1, self._maxpi + 1):
            yield PiRef(HAT_ORDER, pi)

    def _local(self, pi):
        if isinstance(pi, PiRef):
            if pi.board_id != HAT_ORDER:
                raise AddressingError('%s: %r belongs to the board with order %d, not to the ClusterHAT' % (self.label, pi, pi.board_id))
            pi = pi.pi_id
        if isinstance(pi, bool) or not isinstance(pi, int):
            raise AddressingError(f'{self.label}: a Pi is an integer slot or a PiRef, got {pi!r}')
        if not 1 <= pi <= self._maxpi:
            raise AddressingError('%s: Pi %d does not exist: this ClusterHAT has Pis 1 to %d' % (self.label, pi, self._maxpi))
        return pi

    def _unsupported(self, feature):
        raise NotSupportedError(f'{self.label}: a ClusterHAT has no {feature}')

    # ------------------------------------------------------------------ reading (never writes)
    def decode(self, in_value, initialized=None):
        """A HatState from an IN byte."""
        hub_bit = bool(in_value & (1 << BIT_HUB))
        return HatState(
            initialized=initialized,
            power=[bool(in_value & (1 << i)) for i in range(self._maxpi)],
            led=bool(in_value & (1 << BIT_LED)) if self.has_led else None,
            hub=hub_bit if self.active_high else not hub_bit,
            alert=bool(in_value & (1 << BIT_ALERT)),
            wp=bool(in_value & (1 << BIT_WP)),
            in_value=in_value,
        )

    def read_state(self, check_initialized=True):
        """Every readable output from one read of IN, plus one DIR read (cached once True) for ``initialized``.

        Before initialisation the pins are inputs: the power bits show the POS link levels
        (what the Pis really get); hub, LED and ALERT show pulled levels, not settings.
        """
        initialized = self.initialized() if check_initialized else None
        return self.decode(self.read_in(), initialized)

    def effective_state(self):
        """The settings as they are or, before the §7.4 first-run set-up, as it will make them.

        Every write runs that set-up first, and before it the pins are inputs whose levels
        are not settings; so this is what a write should be compared with. It never writes.
        """
        state = self.read_state()
        if state.initialized:
            return state
        return self.decode(self.initialize(check_mode=True).out, False)

    def power_status(self, pi):
        pi = self._local(pi)
        return bool(self.read_in() & (1 << (pi - 1)))

    def power_status_all(self):
        """{slot: bool} for every Pi of the HAT from ONE read of IN (§7.3, ``cli:794-796``)."""
        value = self.read_in()
        return dict((pi, bool(value & (1 << (pi - 1)))) for pi in range(1, self._maxpi + 1))

    def power_status_many(self, pis):
        """``{slot: bool}`` for the given Pis, all from the one read of IN."""
        slots = [self._local(pi) for pi in pis]
        state = self.power_status_all()
        return dict((slot, state[slot]) for slot in slots)

    def hub_status(self):
        return self.decode(self.read_in()).hub

    def alert_status(self):
        return self.decode(self.read_in()).alert

    def wp_status(self):
        """EEPROM write-protect as the pin reads (a soldered WP link always reads protected)."""
        return self.decode(self.read_in()).wp

    def led_status(self):
        self._require_led()
        return self.decode(self.read_in()).led

    # ------------------------------------------------------------------ writing OUT
    def _update_out(self, action, set_mask=0, clear_mask=0):
        """Read-modify-write OUT (``read_byte_data`` + ``write_byte_data``, §7.3); skip the write when unchanged."""
        self._ensure_initialized(action)
        out = self._io.read_byte(REG_OUT)
        new = ((out | set_mask) & ~clear_mask) & 0xFF
        if new == out:
            return False
        self._io.write_byte(REG_OUT, new)
        return True

    def _hub_bits(self, out, on):
        bit = 1 << BIT_HUB
        return (out | bit) if on == self.active_high else (out & ~bit)

    # ------------------------------------------------------------------ power
    def power_on(self, pi):
        pi = self._local(pi)
        return self._update_out('switching P%d on' % pi, set_mask=1 << (pi - 1))

    def power_off(self, pi):
        pi = self._local(pi)
        return self._update_out('switching P%d off' % pi, clear_mask=1 << (pi - 1))

    def power_all_on(self, delay=0.0):
        """Switch on every Pi that is off; with ``delay`` one at a time, ``delay`` s apart. Returns how many."""
        status = self.power_status_all()
        off = [pi for pi in sorted(status) if not status[pi]]
        if not off:
            return 0
        if not delay:
            self._update_out('switching Pis on', set_mask=sum(1 << (pi - 1) for pi in off))
            return len(off)
        for index, pi in enumerate(off):
            if index:
                self._sleep(delay)
            self.power_on(pi)
        return len(off)

    def power_all_off(self):
        return self._update_out('switching Pis off', clear_mask=(1 << self._maxpi) - 1)

    # ------------------------------------------------------------------ alert, LED, hub, WP
    def alert_on(self):
        return self._update_out('switching ALERT on', set_mask=1 << BIT_ALERT)

    def alert_off(self):
        return self._update_out('switching ALERT off', clear_mask=1 << BIT_ALERT)

    def _require_led(self):
        if not self.has_led:
            raise NotSupportedError(f'{self.label}: ClusterHAT v3.x has no LED control (only v2.x has one)')

    def led_all_on(self):
        """LED enable (bit 4) for every LED of the HAT: v2.x only."""
        self._require_led()
        return self._update_out('switching the LEDs on', set_mask=1 << BIT_LED)

    def led_all_off(self):
        self._require_led()
        return self._update_out('switching the LEDs off', clear_mask=1 << BIT_LED)

    def led_on(self, pi=None):
        """All LEDs (the HAT has one LED enable); a Pi argument is refused."""
        if pi is not None:
            self._unsupported('per-Pi LED control (one LED enable for the whole HAT)')
        return self.led_all_on()

    def led_off(self, pi=None):
        if pi is not None:
            self._unsupported('per-Pi LED control (one LED enable for the whole HAT)')
        return self.led_all_off()

    def hub_on(self):
        return self._update_out('switching the USB hub on', **self._hub_masks(True))

    def hub_off(self):
        return self._update_out('switching the USB hub off', **self._hub_masks(False))

    def _hub_masks(self, on):
        bit = 1 << BIT_HUB
        return {'set_mask': bit} if on == self.active_high else {'clear_mask': bit}

    def hub_reset(self, delay=1.0):
        """Hub off, ``delay`` seconds, hub on (the CLI's ``hub reset`` on a HAT, with CLUSTERCTRL_DELAY, §8.4)."""
        self.hub_off()
        if delay:
            self._sleep(delay)
        self.hub_on()

    def wp_on(self):
        return self._update_out('write-protecting the HAT EEPROM', set_mask=1 << BIT_WP)

    def wp_off(self):
        """Clear WP; refused when the WP link is soldered (``cli:954-963``).

        On a plain XRA1200 the link cannot be probed (-1): the pin is read back after the
        write, and a line still high means a soldered link.
        """
        self._ensure_initialized('clearing write-protect')
        link = self.wp_link()
        if link == 1:
            raise ClusterCTRLError(f'{self.label}: the EEPROM write-protect solder link is fitted, so write-protect cannot be switched off')
        changed = self._update_out('clearing write-protect', clear_mask=1 << BIT_WP)
        if link == -1 and self.read_in() & (1 << BIT_WP):
            raise ClusterCTRLError(f'{self.label}: write-protect still reads on after clearing it: the WP solder link must be fitted')
        return changed

    # ------------------------------------------------------------------ USB
    def usb_port(self, pi):
        """§7.5 hub port of Pi ``pi`` on this HAT's hub."""
        return usb_port(self.version, self._local(pi))

    # ------------------------------------------------------------------ what a HAT does not have
    def pwr_led_on(self):
        self._unsupported('PWR LED control')

    pwr_led_off = pwr_led_on

    def act_on(self):
        self._unsupported('ACT LED')

    act_off = act_on

    def fan_on(self):
        self._unsupported('fan on its expander (the CLI drives a host GPIO, FANGPIO, for it)')

    fan_off = fan_on
    fan_status = fan_on

    def usbboot_on(self, pi):
        self._unsupported('USB boot control')

    usbboot_off = usbboot_on
    usbboot_status = usbboot_on

    def read_temp(self):
        self._unsupported('temperature sensor')

    read_temperature = read_temp

    def read_adc(self, channel):
        self._unsupported('ADC')

    def get_order(self):
        return HAT_ORDER

    def set_order(self, order):
        self._unsupported('order (its Pis always come first)')

    def get_path(self, index):
        self._unsupported('GETPATH (its hub is found by toggling it; see usb_port)')

    def reset(self):
        self._unsupported('reset command')

    def _no_eeprom(self, *args):
        self._unsupported('saved settings: its power-up state is set by the POS solder link')

    eeprom_save_powerstate = eeprom_save_order = eeprom_save_leds = eeprom_save_usbboot = _no_eeprom
    eeprom_save_all = eeprom_reset = _no_eeprom
