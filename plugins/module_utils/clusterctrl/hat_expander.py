# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ClusterHAT's XRA1200(P) expander as a chip: its registers, its probes and its first-run set-up.

Registers and pin assignment: spec §7.3; the part probe (a PUR read NAKs on the plain XRA1200,
§7.3, ``cli:469-472``); the WP solder link; the first-run initialisation of a HAT that has just
powered up (DIR == 0xFF, §7.4). ``HatExpanderMixin`` gives ``ClusterHATDriver`` these methods;
what the pins then do (power, LED, hub, ALERT, WP) is hat.py's business.
"""

from __future__ import annotations

from collections import namedtuple

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import ClusterCTRLError

REG_IN = 0x00
REG_OUT = 0x01
REG_DIR = 0x03
REG_PUR = 0x04
DIR_POWER_UP = 0xFF
PUR_ALL = 0xFF
PUR_WP_PROBE = 0x7F

POWER_MASK = 0x0F
BIT_LED = 4
BIT_HUB = 5
BIT_ALERT = 6
BIT_WP = 7

InitResult = namedtuple('InitResult', 'needed performed out wp_link pos_link_cut')
InitResult.__doc__ = """What ``initialize`` found and did: ``needed`` (DIR was 0xFF), ``performed`` (it wrote),
``out`` the OUT value it wrote (or would write), ``wp_link`` 1 / 0 / -1 (-1 plain part, None
unknown in check mode), ``pos_link_cut`` (IN & 0x0F == 0x0F before the first write)."""


class HatExpanderMixin:
    """Chip-level reads and the §7.4 set-up of ClusterHATDriver.

    Needs the driver's ``_io``, ``address``, ``label``, ``auto_initialize``, ``has_led`` and
    ``_hub_bits``, and keeps its probe results in ``_part``, ``_pur`` and ``_initialized``.
    """

    def read_in(self):
        """IN (0x00): every pin level in one ``read_byte_data``."""
        return self._io.read_byte(REG_IN)

    def initialized(self):
        """True unless DIR == 0xFF, i.e. the HAT has powered up since the last initialisation (§7.4). One read."""
        if self._initialized:
            return True
        self._initialized = self._io.read_byte(REG_DIR) != DIR_POWER_UP
        return self._initialized

    @property
    def part(self):
        """``xra1200p`` or ``xra1200``; probed once (a PUR read, which NAKs on the plain part, §7.3)."""
        if self._part is None:
            self._part = 'xra1200p' if self._read_pur() is not None else 'xra1200'
        return self._part

    @property
    def is_xra1200p(self):
        return self.part == 'xra1200p'

    def _read_pur(self):
        """PUR, or None when the chip refuses the access (plain XRA1200). One attempt, as the CLI makes (``cli:469-472``)."""
        try:
            self._pur = self._io.bus.read_byte_data(self.address, REG_PUR)
        except OSError:
            self._pur = None
        return self._pur

    def wp_link(self):
        """The WP solder link: 1 soldered, 0 not, -1 unknown on a plain XRA1200, None before initialisation.

        On a P part after initialisation it is PUR bit 7 (§7.4: restored to 1 when soldered).
        """
        if not self.is_xra1200p:
            return -1
        if not self.initialized():
            return None
        pur = self._io.read_byte(REG_PUR) if self._pur is None else self._pur  # the part probe's read serves once
        self._pur = None
        return 1 if pur & (1 << BIT_WP) else 0

    # ------------------------------------------------------------------ first-run initialisation (§7.4)
    def initialize(self, check_mode=False):
        """§7.4, only when DIR == 0xFF. Returns an InitResult; ``check_mode`` reads and computes but never writes.

        Traffic: read DIR, read IN, read OUT (and the PUR probe once if the part is unknown);
        on a P part write PUR = 0x7F, read IN, and restore PUR = 0xFF if the WP link is
        soldered; then one write of OUT with every bit decided, then DIR = 0x00 (outputs
        come up already at their final levels). The CLI's sequence of separate
        read-modify-writes gives the same OUT.
        """
        if self._io.read_byte(REG_DIR) != DIR_POWER_UP:
            self._initialized = True
            return InitResult(False, False, None, None, None)
        first_in = self.read_in()
        pos_link_cut = (first_in & POWER_MASK) == POWER_MASK
        p_part = self.is_xra1200p  # the PUR probe, as cli:469-472 (once per driver)
        out = self._io.read_byte(REG_OUT)
        wp_link = -1
        set_wp = True
        if p_part:
            if check_mode:
                wp_link = None  # finding out needs the PUR write
            else:
                self._pur = None  # PUR changes here: the probe's value no longer holds
                self._io.write_byte(REG_PUR, PUR_WP_PROBE)
                wp_link = 1 if self.read_in() & (1 << BIT_WP) else 0
                if wp_link:
                    self._io.write_byte(REG_PUR, PUR_ALL)
                    set_wp = False
        if set_wp:
            out |= 1 << BIT_WP
        out = (out | POWER_MASK) if pos_link_cut else (out & ~POWER_MASK)
        out &= ~(1 << BIT_ALERT)
        if self.has_led:
            out |= 1 << BIT_LED
        out = self._hub_bits(out, True)
        out &= 0xFF
        if check_mode:
            return InitResult(True, False, out, wp_link, pos_link_cut)
        self._io.write_byte(REG_OUT, out)
        self._io.write_byte(REG_DIR, 0x00)
        self._initialized = True
        return InitResult(True, True, out, wp_link, pos_link_cut)

    def _ensure_initialized(self, action):
        if self.initialized():
            return
        if not self.auto_initialize:
            raise ClusterCTRLError(f'{self.label} has not been initialised since it powered up (all its pins are still inputs); initialise it before {action}')
        self.initialize()
