# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Register-level model of the XRA1200 / XRA1200P I/O expander of a ClusterHAT v2.x / v3.x (spec §7.3-§7.4).

The expander sits at 0x20 on the host Pi's own I2C bus 1 (§7.3), not behind an
i2c-tiny-usb adapter. ``XRA1200`` is a device object for the emulator's adapters
(``message(is_read, data_or_length)``, ``present``, ``drain_activity()``);
``HostI2CAdapter`` is the native Pi bus (i2c-bcm2835) it plugs into, so that
``EmulatedSMBus`` and ``BusJournal`` work unchanged::

    hat = XRA1200('2.5', part='xra1200p')
    adapter = HostI2CAdapter.for_hat(hat)        # bus 1, device at 0x20
    bus = EmulatedSMBus(adapter)

Registers (§7.3):

======  ====  =========================================================================
reg     name  model
======  ====  =========================================================================
0x00    IN    pin levels, read-only: an output pin reads its OUT bit, an input pin
              its external level (solder links, pull-ups; see ``pin_levels``)
0x01    OUT   output latch; 0xFF at power-up [UNCLEAR: not in the spec, chip default]
0x02    -     not used by any source (§7.3): stored and read back, no effect
0x03    DIR   1 = input, 0 = output; 0xFF at power-up
0x04    PUR   pull-up enable, 0xFF at power-up; **only on the XRA1200P**. On the plain
              part the register byte is NAKed, which is how the CLI tells the parts
              apart (``cli:469-472``, ``xra.py:36-41``)
0x05+   -     0x05-0x0A stored and read back, no effect (not used by any source);
              a register byte of 0x0B or more is NAKed
======  ====  =========================================================================

Register pointer [UNCLEAR, modelled as a plain I2C register device]: the first byte of a
write message loads the pointer; further bytes are stored from the pointer on, which
advances after each byte; a read returns bytes from the pointer on, advancing it. The
pointer persists between transactions. A register the part lacks reads as 0xFF inside a
multi-byte read and NAKs a byte written to it.

ClusterHAT wiring (§7.3 bit table): bits 0-3 Pi power (1 = on), bit 4 LED enable (v2
only; on v3 the pin does nothing), bit 5 USB hub enable (active-high on v2.0 only,
active-low on v2.1+ and v3.x: the DA firmware and the CLI's initialisation agree, §7.3),
bit 6 ALERT LED, bit 7 EEPROM write-protect (1 = protected).

External levels of pins that are inputs (every pin until the first-run initialisation
writes DIR = 0x00, §7.4):

* bits 0-3: the "POS" solder link. Intact, it holds the lines low (Pis off); cut, they
  read high, so ``(IN & 0x0F) == 0x0F`` and the CLI switches P1-P4 on (§7.4 step 3).
  While the pins are inputs the Pis' power follows these levels.
* bit 7: the WP solder link ties the line high when soldered, whatever the pin does
  (§7.4 step 2: with the pull-up dropped, IN bit 7 = 1 means "link soldered").
  Without the link an undriven line reads its pull-up: 1 with PUR bit 7 set, else 0.
* bits 4-6 [UNCLEAR, assumption]: the pull-up decides: 1 with the PUR bit set on a P
  part, 0 without pull-up (plain part).

Journal: a write message that stores at least one byte into a writable register (OUT,
DIR, PUR, or one of the unused registers) is mutating; a pointer-only write, a write to
the read-only IN and every read are not. ``drain_activity`` reports this through the
``order_written`` flag, the one channel the adapter has into ``BusJournal``'s
``mutating`` (no firmware commands exist here), and lists the writes under
``register_writes``.
"""

from __future__ import annotations

import errno

from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import (
    I2CTinyUsbAdapter,
    _TransferFailed,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.i2c_errors import Nak
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.state_fields import COUNTER_MAX, Fields, StateError, check_int

ADDRESS = 0x20
HOST_BUS = 1

REG_IN = 0x00
REG_OUT = 0x01
REG_DIR = 0x03
REG_PUR = 0x04
LAST_REGISTER = 0x0A
REGISTER_NAMES = {REG_IN: 'IN', REG_OUT: 'OUT', REG_DIR: 'DIR', REG_PUR: 'PUR'}

POWER_MASK = 0x0F
BIT_LED = 4
BIT_HUB = 5
BIT_ALERT = 6
BIT_WP = 7

# Power-up values (§7.3: DIR 0xFF; §7.4: PUR 0xFF is "restored"; OUT [UNCLEAR] chip default).
POWER_UP = {REG_OUT: 0xFF, 0x02: 0x00, REG_DIR: 0xFF, REG_PUR: 0xFF, 0x05: 0x00, 0x06: 0x00, 0x07: 0x00, 0x08: 0x00, 0x09: 0x00, 0x0A: 0x00}

PARTS = ('xra1200', 'xra1200p')
STATE_FORMAT = 1

# i2c-bcm2835: I2C_FUNC_I2C | I2C_FUNC_SMBUS_EMUL | I2C_FUNC_PROTOCOL_MANGLING, less SMBus PEC,
# which this emulation does not compute (so EmulatedSMBus refuses to enable it).
HOST_FUNCTIONALITY = 0x0EFF0005
WIRE_US_PER_BYTE = 90  # §10.2: about 90 µs per byte at 100 kHz


def parse_version(version):
    """``"2.5"`` / ``(2, 5)`` → ``(2, 5)`` for a v2.x / v3.x HAT; ValueError otherwise."""
    if isinstance(version, (tuple, list)) and len(version) == 2:
        major, minor = version
    else:
        text = str(version).strip()
        parts = text.split('.')
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f'a ClusterHAT version is "MAJOR.MINOR", got {version!r}')
        major, minor = int(parts[0]), int(parts[1])
    if isinstance(major, bool) or isinstance(minor, bool) or not isinstance(major, int) or not isinstance(minor, int):
        raise ValueError(f'a ClusterHAT version is "MAJOR.MINOR", got {version!r}')
    if major not in (2, 3) or not 0 <= minor <= 0x0F:
        raise ValueError('ClusterHAT version %d.%d has no XRA1200 expander: only v2.x and v3.x do' % (major, minor))
    return major, minor


def hub_active_high(version):
    """§7.3 recommendation: the hub bit is active-high on v2.0 only, active-low on v2.1+ and every v3.x."""
    return parse_version(version) == (2, 0)


class XRA1200:
    """The expander and the HAT's wiring around it.

    ``version``: "2.0".."2.x" or "3.0".."3.x"; ``part``: ``xra1200`` or ``xra1200p``;
    ``pos_link_cut``: the POS solder link is cut (Pis come on at initialisation);
    ``wp_link_soldered``: the WP solder link holds the EEPROM write-protected.
    """

    def __init__(self, version='2.5', part='xra1200p', pos_link_cut=False, wp_link_soldered=False):
        self.version = parse_version(version)
        if part not in PARTS:
            raise ValueError('part must be one of {}, got {!r}'.format(', '.join(PARTS), part))
        self.part = part
        self.pos_link_cut = bool(pos_link_cut)
        self.wp_link_soldered = bool(wp_link_soldered)
        self.present = True
        self.regs = {}
        self.ptr = 0
        self._writes = []
        self.power_cycle()

    # ------------------------------------------------------------------ identity
    @property
    def version_string(self):
        return '%d.%d' % self.version

    @property
    def has_pur(self):
        return self.part == 'xra1200p'

    @property
    def has_led(self):
        return self.version[0] == 2

    @property
    def hub_active_high(self):
        return self.version == (2, 0)

    def has_register(self, reg):
        if reg == REG_PUR:
            return self.has_pur
        return 0 <= reg <= LAST_REGISTER

    # ------------------------------------------------------------------ lifecycle
    def power_cycle(self):
        """The HAT loses power: every register back to its power-up value (DIR = 0xFF, §7.3)."""
        self.regs = dict(POWER_UP)
        if not self.has_pur:
            del self.regs[REG_PUR]
        self.ptr = 0
        self._writes = []

    def reenumerate(self):
        """Nothing to re-enumerate on a native bus; kept for the adapter's interface."""
        self.present = True

    # ------------------------------------------------------------------ pins
    def _pulled_up(self, bit):
        return self.has_pur and bool(self.regs[REG_PUR] & (1 << bit))

    def external_levels(self):
        """What each line reads when its pin is an input (see the module doc)."""
        value = POWER_MASK if self.pos_link_cut else 0
        for bit in (BIT_LED, BIT_HUB, BIT_ALERT, BIT_WP):
            if self._pulled_up(bit):
                value |= 1 << bit
        if self.wp_link_soldered:
            value |= 1 << BIT_WP
        return value

    def pin_levels(self):
        """IN: OUT for output pins, the external level for input pins; a soldered WP link wins."""
        direction = self.regs[REG_DIR]
        value = (self.regs[REG_OUT] & ~direction & 0xFF) | (self.external_levels() & direction)
        if self.wp_link_soldered:
            value |= 1 << BIT_WP
        return value

    def _register_value(self, reg):
        if reg == REG_IN:
            return self.pin_levels()
        if not self.has_register(reg):
            return 0xFF
        return self.regs[reg]

    def outputs(self):
        """What the HAT physically does now, from the pin levels (polarity-corrected hub)."""
        level = self.pin_levels()
        hub_bit = bool(level & (1 << BIT_HUB))
        return {
            'power': [bool(level & (1 << i)) for i in range(4)],
            'led': bool(level & (1 << BIT_LED)) if self.has_led else None,
            'hub_on': hub_bit if self.hub_active_high else not hub_bit,
            'alert': bool(level & (1 << BIT_ALERT)),
            'wp': bool(level & (1 << BIT_WP)),
            'initialized': self.regs[REG_DIR] != 0xFF,
        }

    # ------------------------------------------------------------------ transport
    def message(self, is_read, data_or_length):
        """One I2C message to 0x20: a read returns ``bytes``, a write stores and returns None; ``Nak`` on refusal."""
        if not self.present:
            raise Nak('no XRA1200 on the bus')
        if is_read:
            out = bytearray()
            for _count in range(int(data_or_length)):
                out.append(self._register_value(self.ptr))
                self.ptr = (self.ptr + 1) & 0xFF
            return bytes(out)
        data = bytearray(data_or_length)
        if not data:
            return None  # quick write: address ACK only
        if not self.has_register(data[0]):
            raise Nak(f'register 0x{data[0]:02X} does not exist on the {self.part.upper()}')
        self.ptr = data[0]
        for value in data[1:]:
            reg = self.ptr
            if not self.has_register(reg):
                raise Nak(f'register 0x{reg:02X} does not exist on the {self.part.upper()}')
            if reg != REG_IN:
                self.regs[reg] = value
                self._writes.append({'reg': reg, 'name': REGISTER_NAMES.get(reg, f'0x{reg:02X}'), 'value': value})
            self.ptr = (self.ptr + 1) & 0xFF
        return None

    def drain_activity(self):
        """For the journal: ``order_written`` is True when a register was written (see the module doc)."""
        writes, self._writes = self._writes, []
        return {'commands': [], 'order_written': bool(writes), 'register_writes': writes}

    # ------------------------------------------------------------------ persistence
    def to_dict(self):
        """Everything needed to restore this HAT exactly; JSON-serialisable."""
        return {
            'format': STATE_FORMAT,
            'kind': 'clusterhat',
            'version': self.version_string,
            'part': self.part,
            'pos_link_cut': self.pos_link_cut,
            'wp_link_soldered': self.wp_link_soldered,
            'present': self.present,
            'ptr': self.ptr,
            'regs': dict((f'0x{reg:02X}', value) for reg, value in sorted(self.regs.items())),
        }

    @classmethod
    def from_dict(cls, d):
        """Rebuild a HAT saved by ``to_dict``; a missing, unknown or wrong-typed field raises ``StateError`` naming it."""
        fields = Fields(d)
        if fields.integer('format', 0, COUNTER_MAX) != STATE_FORMAT:
            raise StateError('format', 'unknown XRA1200 state format {!r}'.format(d['format']))
        fields.text('kind', ['clusterhat'])
        version = fields.text('version')
        try:
            parse_version(version)
        except ValueError as exc:
            raise StateError('version', str(exc))
        self = cls(version, part=fields.text('part', PARTS), pos_link_cut=fields.boolean('pos_link_cut'), wp_link_soldered=fields.boolean('wp_link_soldered'))
        self.present = fields.boolean('present')
        self.ptr = fields.integer('ptr', 0, 0xFF)
        names = sorted(f'0x{reg:02X}' for reg in self.regs)
        saved = dict((key, (value, where)) for key, value, where in fields.items('regs'))
        if sorted(saved) != names:
            raise StateError('regs', 'the {} registers are {}, got {}'.format(self.part, ', '.join(names), ', '.join(sorted(saved)) or 'none'))
        for key, (value, where) in saved.items():
            self.regs[int(key, 16)] = check_int(where, value, 0, 0xFF)
        fields.finish()
        return self


class HostI2CAdapter(I2CTinyUsbAdapter):
    """The host Pi's native I2C bus (i2c-bcm2835) with devices on it, for ``EmulatedSMBus``.

    It reuses the i2c-tiny-usb adapter's journal, fault plan and message log, and changes
    what does not fit a native bus:

    * no USB: ``usb_transfers`` stays 0 in the journal (``usb_device`` is None, so the
      device can never "leave USB"); instead ``wire_bytes`` counts the bytes the wire
      carries, address bytes included (§10.2: read_byte_data 4, write_byte_data 3);
    * a NAK is EREMOTEIO, as i2c-bcm2835 reports it (not the i2c-tiny-usb ENXIO);
    * functionality: the bcm2835 mask (plain I2C and every emulated SMBus call), not the
      ClusterCTRL firmware's.
    """

    functionality = HOST_FUNCTIONALITY

    def __init__(self, devices, bus_number=HOST_BUS, fault_plan=None, journal=None, record_messages=False):
        super().__init__(devices, bus_number=bus_number, fault_plan=fault_plan, journal=journal, usb_address=None, record_messages=record_messages)
        self.usb_device = None
        self.wire_bytes = 0

    @classmethod
    def for_hat(cls, hat, **kwargs):
        """Bus 1 with the HAT's expander at 0x20 (§7.3)."""
        return cls({ADDRESS: hat}, **kwargs)

    @property
    def nak_errno(self):
        return errno.EREMOTEIO

    @property
    def usb_errno(self):
        return errno.EIO

    def wire_time_us(self):
        return self.wire_bytes * WIRE_US_PER_BYTE

    def _send(self, msgs, results):
        sent = 0
        for kind, payload, maddr in msgs:
            log = self._log(kind, payload, maddr) if hasattr(self, '_log') else {}
            self.wire_bytes += 1  # address byte
            dev = self.devices.get(maddr)
            if dev is None or not getattr(dev, 'present', True):
                log['nak'] = True
                raise _TransferFailed(self.nak_errno, 0)
            try:
                out = dev.message(kind == 'r', payload)
            except Nak:
                log['nak'] = True
                self.wire_bytes += 1 if kind == 'w' and payload else 0
                raise _TransferFailed(self.nak_errno, 0)
            sent += 1
            if kind == 'r':
                self.wire_bytes += len(out)
                results.append(bytes(out))
                log['result'] = list(bytearray(out))
            else:
                self.wire_bytes += len(payload)
        return sent, 0
