# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixed figures of the ClusterCTRL firmware model: timings, port and input counts, register counts.

Section numbers point into the project's protocol spec (``clusterctrl-protocol.md``).
"""

from __future__ import annotations

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
