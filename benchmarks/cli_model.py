# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A MODEL of the official ``clusterctrl`` CLI's bus traffic, written from the spec's description.

This is not the official CLI. It replays the call sequences that
/work/shared/spec/clusterctrl-protocol.md attributes to it (§8.2 discovery, §8.4 commands,
§8.5 ``status``, §7.4 ClusterHAT set-up) against the same emulated SMBus the driver uses, so
both are counted by the same journal:

* ``send(cmd, d0, d1, ...)``: ``write_byte_data`` for each given data register from the
  highest down to DATA0, then ``write_byte_data(0x0D, cmd)`` (``cli:192-205``);
* ``read(r)``: ``read_byte_data``; ``readN(r, n)``: ``read_i2c_block_data``.

Assumptions where the spec does not spell out the calls (stated so they can be checked):
FAN status (printed on firmware 1.6 only) is ``send(GET_DATA, 4)`` + ``read(0x0C)``; on a
ClusterHAT v2/v3 every invocation runs the §7.4 check (``read`` DIR, IN, and PUR on an
XRA1200P), each ``hat_*`` status key is one ``read`` of IN, and ``p1``-``p4`` one more.

Run as a script it executes one CLI command against a virtual lab (used by
playbook_walltime.py to time "the CLI's status" as a playbook task):
``python benchmarks/cli_model.py status LAB_FILE``.
"""

from __future__ import annotations

import sys
import time

ADDR = 0x20
REG_MAXPI, REG_ORDER, REG_DATA0, REG_CMD = 0x01, 0x02, 0x0C, 0x0D
ALERT_ON, ALERT_OFF, ON, OFF, GET_PSTATUS, GET_USTATUS, GET_DATA = 0x05, 0x06, 0x03, 0x04, 0x0F, 0x14, 0xF2
XRA_IN, XRA_OUT, XRA_DIR, XRA_PUR = 0x00, 0x01, 0x03, 0x04


class CliController:
    """One ClusterCTRL as the CLI sees it: bus, order, maxpi (read at discovery)."""

    def __init__(self, bus):
        self.bus = bus
        # §8.2 step 3: order, then maxpi; TYPE and VERSION are never read.
        self.order = bus.read_byte_data(ADDR, REG_ORDER)
        self.maxpi = bus.read_byte_data(ADDR, REG_MAXPI)

    def send(self, cmd, *data):
        for index in reversed(range(len(data))):
            self.bus.write_byte_data(ADDR, REG_DATA0 - index, data[index])
        self.bus.write_byte_data(ADDR, REG_CMD, cmd)

    def read(self, register):
        return self.bus.read_byte_data(ADDR, register)

    def readN(self, register, length):  # pylint: disable=invalid-name
        return self.bus.read_i2c_block_data(ADDR, register, length)

    # §8.5 status, controller part.
    def status(self):
        lines = []
        self.send(GET_DATA, 0)
        major, minor = self.readN(0x0B, 2)
        lines.append('FW:%d.%d' % (major, minor))
        self.send(GET_DATA, 1)
        for channel in range(1, self.read(REG_DATA0) + 1):
            self.send(GET_DATA, 2, channel)
            lines.append('ADC%d:%r' % (channel, self.readN(0x0A, 3)))
        self.send(GET_DATA, 3)
        lines.append(f'T1:{self.readN(0x0A, 3)!r}')
        if (major, minor) == (1, 6):
            self.send(GET_DATA, 4)
            lines.append('FAN:%d' % self.read(REG_DATA0))
        for pi in range(1, self.maxpi + 1):
            self.send(GET_PSTATUS, pi)
            lines.append('p%d:%d' % (pi, self.read(REG_DATA0)))
            self.send(GET_USTATUS, pi)
            lines.append('u%d:%d' % (pi, self.read(REG_DATA0)))
        return lines

    # §8.4 "on pN" for one local Pi.
    def on_one(self, pi, last=True, delay=0.0):
        self.send(GET_PSTATUS, pi)
        if self.read(REG_DATA0) == 0:
            self.send(ALERT_ON, pi)
            self.send(ON, pi)
            if not last and delay:
                time.sleep(delay)
        self.send(ALERT_OFF, pi)

    # §8.4 "on" (all Pis of this controller).
    def on_all(self, delay=0.0):
        self.send(ALERT_ON)
        for pi in range(1, self.maxpi + 1):
            self.send(GET_PSTATUS, pi)
            if self.read(REG_DATA0) == 0:
                self.send(ON, pi)
                if pi != self.maxpi and delay:
                    time.sleep(delay)
        self.send(ALERT_OFF)


class CliHat:
    """A ClusterHAT v2/v3 (XRA1200 at 0x20 on bus 1), as the CLI drives it (§7.3, §7.4)."""

    def __init__(self, bus, version, part='xra1200p'):
        self.bus = bus
        self.version = version
        # §7.4, on every invocation: DIR and IN; on a P part (already set up) PUR for the WP link.
        self.bus.read_byte_data(ADDR, XRA_DIR)
        self.bus.read_byte_data(ADDR, XRA_IN)
        if part == 'xra1200p':
            self.bus.read_byte_data(ADDR, XRA_PUR)

    def status(self):
        keys = ['hat_alert', 'hat_hub', 'hat_wp'] + (['hat_led'] if self.version.startswith('2') else [])
        lines = ['%s:%d' % (key, self.bus.read_byte_data(ADDR, XRA_IN)) for key in keys]
        value = self.bus.read_byte_data(ADDR, XRA_IN)
        lines.extend('p%d:%d' % (pi, (value >> (pi - 1)) & 1) for pi in range(1, 5))
        return lines


def cli_status(controllers, hat=None):
    """``clusterctrl status``: every controller (sorted by order) and the HAT."""
    lines = hat.status() if hat is not None else []
    for controller in sorted(controllers, key=lambda c: c.order):
        lines.extend(controller.status())
    return lines


def main(argv):
    """``cli_model.py status LAB_FILE``: run the modelled CLI status against a virtual lab."""
    if len(argv) != 3 or argv[1] != 'status':
        sys.stderr.write('usage: cli_model.py status LAB_FILE\n')
        return 2
    sys.path.insert(0, __import__('os').path.dirname(__import__('os').path.abspath(__file__)))
    from _common import ensure_collection_importable

    ensure_collection_importable()
    from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.store import VirtualLab

    with VirtualLab(argv[2]).session(check_mode=True) as session:
        hat = None
        if session.hat is not None:
            hat = CliHat(session.hat.smbus, session.hat.config.version, session.hat.config.part or 'xra1200p')
        controllers = [CliController(c.smbus) for c in session.controllers]
        print('\n'.join(cli_status(controllers, hat)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
