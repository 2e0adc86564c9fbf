# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Options shared by every clusterctrl_* module: where the boards are."""

    DOCUMENTATION = r"""
options:
  virtual_lab:
    description:
      - Path of a virtual lab file (YAML or JSON) on the managed node. The emulated boards it
        describes replace hardware discovery, so playbooks can be tried and tested with no
        ClusterCTRL hardware. Board state (RAM and EEPROM) persists between tasks in a state
        file beside the lab file, locked so that parallel forks lose no update.
      - If not set, the environment variable E(PICLUSTER_VIRTUAL_LAB) is used. If neither is
        set, the module talks to real boards.
      - Mutually exclusive with O(buses).
    type: path
  buses:
    description:
      - I2C buses to use instead of discovering every ClusterCTRL board, as bus numbers
        (V(3)) or device paths (V(/dev/ClusterCTRL-3)).
      - With this option the module does not look for a ClusterHAT.
      - Without this option, the module finds the ClusterHAT and every ClusterCTRL board as the official
        C(clusterctrl) CLI does, from the i2c-tiny-usb adapters with USB vendor 0x3171
        (sysfs) and the C(/dev/ClusterCTRL-*) links of the vendor udev rule.
    type: list
    elements: str
requirements:
  - smbus2 >= 0.4.2 on the managed node, to talk to real boards (not needed with O(virtual_lab)).
  - PyYAML on the managed node, only for a virtual lab file written in YAML (O(virtual_lab)); a lab file
    in JSON needs nothing more.
notes:
  - Pis are numbered as the official CLI numbers them - a ClusterHAT's Pis first, then
    ClusterCTRL boards sorted by ascending order contribute consecutive numbers up to pN.
    Two boards with the same order are an error, as in the official CLI.
  - A ClusterHAT v2.x or v3.x is detected from C(/proc/device-tree/hat) as the official CLI
    detects it (C(CLUSTERHAT_FORCE) and C(CLUSTERHAT_SIZE) in C(/etc/default/clusterctrl) are
    honoured). ClusterHAT v1.x, driven by plain GPIO, is not supported.
  - Bus errors the kernel reports as transient (EIO, ENXIO, EREMOTEIO) are tried up to 5
    times with a short back-off before the module fails. Commands that write the EEPROM, reset
    the board or cycle its hub are never sent twice - once a write carrying one may have reached
    the board, it is not retried.
  - A module holds an exclusive lock (flock) on each I2C bus device it uses for its whole run,
    so two runs on one controller queue instead of interleaving their commands. The official
    CLI takes no such lock.
  - Every module, read-only and check-mode runs included, keeps a token in MODE, each ClusterCTRL
    board's scratch register (never saved, 0 after any restart; written once, only when it reads
    0), and every command's status read checks it. A board that restarts during the run - RAM
    rebuilt from EEPROM, so states read or set before may no longer hold - fails the task with a
    message naming it, instead of a silent mix of states from before and after the restart.
  - "Every module reads first, plans, then sends only what the plan needs, and reports in one shape:
    per item its value now, C(previous), C(changed); C(steps), each with its commands and status
    (C(planned) in check mode, C(taken), C(not_taken), C(uncertain)); C(diff) in diff mode. A step whose
    write may have reached the board before an error is reported C(uncertain), with the reason, and the
    item's value as null, unless one read of the board settles it; it counts as a change. On failure
    the result also lists the steps C(taken), C(uncertain) and C(not_taken). In check mode the plan is
    the result, so C(changed) and C(diff) are what the real run reports."
"""

    # Selecting Pis: shared by modules that act on Pis.
    PIS = r"""
options:
  pis:
    description:
      - The Pis to act on. V(all) means every Pi.
      - Without O(controller), global names V(p1) to V(pN) as the official CLI numbers them.
      - With O(controller), slot numbers on that board (V(1) to its number of Pis).
    type: list
    elements: str
    required: true
  controller:
    description:
      - The board whose Pis O(pis) numbers by slot - its order (board identity, V(1) to V(255)),
        or V(hat) for the ClusterHAT.
    type: str
"""

    # Naming one board by where it is: modules that take controller.
    BOARD = r"""
options:
  usb_path:
    description:
      - The board at this USB path (as C(clusterctrl_info) reports it, for example V(1-1.2)), instead of O(controller).
      - Naming a board by where it is works whatever the orders are, so two boards that share an order (two new boards
        at the factory order 20) can be told apart.
      - Mutually exclusive with O(controller) and O(bus).
    type: str
  bus:
    description:
      - The board on this I2C bus (its number, as C(clusterctrl_info) reports it), instead of O(controller).
      - Mutually exclusive with O(controller) and O(usb_path).
    type: str
"""
