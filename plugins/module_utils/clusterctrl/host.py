# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the ``clusterctrl`` command learns from the Pi it runs on (spec §7.1, §8.1, §8.5).

``Host.read()`` reads /etc/default/clusterctrl (§8.1: keys lower-cased, values cut at ``#``),
the ClusterHAT's device tree (§7.1), the board revision, ``vcgencmd get_throttled`` and
/proc/cpuinfo, as the official CLI does. ``Host.virtual()`` is the host of a virtual lab: no
configuration file, no device tree, none of those facts (printed as the CLI prints a fact it
cannot read).
"""

from __future__ import annotations

import functools
import math
import os
import re
import subprocess
from dataclasses import dataclass, field

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.hat_detect import (
    DEFAULTS_FILE,
    detect_clusterhat,
    read_defaults,
)

VCGENCMD = '/usr/bin/vcgencmd'
PINCTRL = '/usr/bin/pinctrl'
# §8.1: TYPE values of a controller image; on any other image the CLI does nothing.
CONTROLLER_TYPES = ('c', 'cnat')
# §8.1 / §10.5: CLUSTERCTRL_DELAY, seconds between power-ons.
DEFAULT_POWER_DELAY = 1.0
MAX_POWER_DELAY = 3600.0
# §8.4 init: the rpiboot directories (boot/<usb path> -> nfs/p<N>/boot).
RPIBOOT_BOOT = '/var/lib/clusterctrl/boot/'
RPIBOOT_NFS = '/var/lib/clusterctrl/nfs/'
_PI5_REVISION = re.compile(r'^Revision\s*:\s*[ 123][0-9a-fA-F][0-9a-fA-F]4[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]$')
UNKNOWN_REVISION = 'Unknown'
NOT_AVAILABLE = 'NA'


def read_pi_revision(proc_root: str = '/proc') -> str:
    """``0x`` + the hex of /proc/device-tree/system/linux,revision, or ``Unknown`` (§8.5)."""
    try:
        with open(os.path.join(proc_root, 'device-tree', 'system', 'linux,revision'), 'rb') as handle:
            return '0x' + handle.read().hex()
    except OSError:
        return UNKNOWN_REVISION


def read_throttled(vcgencmd: str = VCGENCMD) -> str:
    """The value of ``vcgencmd get_throttled``, or ``NA`` without vcgencmd (§8.5)."""
    if not os.path.isfile(vcgencmd) or not os.access(vcgencmd, os.X_OK):
        return NOT_AVAILABLE
    try:
        out = subprocess.run(  # pylint: disable=ansible-bad-function
            [vcgencmd, 'get_throttled'],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return NOT_AVAILABLE
    lines = out.splitlines()
    return lines[0].split('=', 1)[-1].strip() if lines else ''


def read_is_pi5(cpuinfo: str = '/proc/cpuinfo') -> bool:
    """True on a Raspberry Pi 5, told from the Revision line of /proc/cpuinfo as the CLI tells it."""
    try:
        with open(cpuinfo) as handle:
            return any(_PI5_REVISION.match(line.rstrip('\n')) for line in handle)
    except OSError:
        return False


@dataclass
class Host:
    """The controller Pi's configuration and facts; ``hat`` is ``detect_clusterhat()``'s result or None.

    The facts only ``status`` prints (board revision, throttling, Pi 5) are read when first asked for.
    """

    config: dict = field(default_factory=dict)
    hat: dict | None = None
    virtual: bool = True
    proc_root: str = '/proc'

    @classmethod
    def read(cls, defaults_file: str = DEFAULTS_FILE, proc_root: str = '/proc') -> Host:
        return cls(config=read_defaults(defaults_file), hat=detect_clusterhat(proc_root, defaults_file), virtual=False, proc_root=proc_root)

    @classmethod
    def virtual_lab(cls) -> Host:
        return cls()

    @functools.cached_property
    def pirevision(self) -> str:
        return UNKNOWN_REVISION if self.virtual else read_pi_revision(self.proc_root)

    @functools.cached_property
    def throttled(self) -> str:
        return NOT_AVAILABLE if self.virtual else read_throttled()

    @functools.cached_property
    def is_pi5(self) -> bool:
        return False if self.virtual else read_is_pi5(os.path.join(self.proc_root, 'cpuinfo'))

    @property
    def is_controller(self) -> bool:
        """§8.1: only a controller image (TYPE=c or cnat) runs commands; a virtual lab always does."""
        return self.virtual or self.config.get('type') in CONTROLLER_TYPES

    @property
    def power_delay(self) -> float:
        """CLUSTERCTRL_DELAY as a number (§8.1 [BUG]: the official CLI sleeps on the string and fails); default 1 s."""
        try:
            value = float(self.config.get('clusterctrl_delay', DEFAULT_POWER_DELAY))
        except ValueError:
            return DEFAULT_POWER_DELAY
        return value if math.isfinite(value) and 0 <= value <= MAX_POWER_DELAY else DEFAULT_POWER_DELAY

    @property
    def fan_gpio(self) -> int | None:
        """FANGPIO (BCM number of a fan on the controller Pi, §8.1), only with a ClusterHAT as the CLI reads it."""
        text = self.config.get('fangpio')
        if self.virtual or not self.hat or not text or not text.isdigit():
            return None
        return int(text)

    @property
    def links_rpiboot(self) -> bool:
        """§8.4 init: LINK=1, run as root, both rpiboot directories present."""
        return not self.virtual and self.config.get('link') == '1' and os.geteuid() == 0 and os.path.isdir(RPIBOOT_BOOT) and os.path.isdir(RPIBOOT_NFS)

    def set_fan_gpio(self, on: bool) -> None:
        """Drive the controller's fan GPIO high or low with ``pinctrl`` (§8.4 fan)."""
        subprocess.run([PINCTRL, 'set', str(self.fan_gpio), 'op', 'dh' if on else 'dl'], check=True, timeout=10)  # pylint: disable=ansible-bad-function
