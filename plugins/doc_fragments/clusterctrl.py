# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    """Options shared by every clusterctrl_* module: where the boards are."""

    DOCUMENTATION = r'''
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
notes:
  - Pis are numbered as the official CLI numbers them - a ClusterHAT's Pis first, then
    ClusterCTRL boards sorted by ascending order contribute consecutive numbers up to pN.
    Two boards with the same order are an error, as in the official CLI.
  - A ClusterHAT v2.x or v3.x is detected from C(/proc/device-tree/hat) as the official CLI
    detects it (C(CLUSTERHAT_FORCE) and C(CLUSTERHAT_SIZE) in C(/etc/default/clusterctrl) are
    honoured). ClusterHAT v1.x, driven by plain GPIO, is not supported.
  - Bus errors the kernel reports as transient (EIO, ENXIO, EREMOTEIO) are tried up to 5
    times with a short back-off before the module fails.
  - A module holds an exclusive lock (flock) on each I2C bus device it uses for its whole run,
    so two runs on one controller queue instead of interleaving their commands. The official
    CLI takes no such lock.
  - Outside check mode, each ClusterCTRL board gets a random token in MODE, the firmware's
    scratch register (never saved, 0 after any restart), and every command's status read checks
    it. A board that restarts during the run - RAM rebuilt from EEPROM, so states read or set
    before may no longer hold - fails the task with a message saying so, instead of a wrong result.
'''

    # Selecting Pis: shared by modules that act on Pis.
    PIS = r'''
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
'''
