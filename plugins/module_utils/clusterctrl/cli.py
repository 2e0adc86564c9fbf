# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``clusterctrl`` command: the official CLI's commands and output (spec §8), on this collection's drivers.

Same command words and arguments as ``/usr/sbin/clusterctrl`` (§8.4; cli_actions.py), the same
``status`` lines (§8.5; cli_status.py), the same Pi numbering (§8.3: the ClusterHAT's Pis,
then each controller by ascending order) and the same gating (§8.1: nothing happens unless
/etc/default/clusterctrl says TYPE=c or cnat). Options, anywhere on the line:

``--json``        print the command's facts as one JSON document instead of text;
``--lab FILE``    work on a virtual lab (virtual_lab/store.py) instead of the hardware;
``--dry-run``     send only reads; print every write it would send (dry_run.py) instead;
``--delay S``     seconds between power-ons (default CLUSTERCTRL_DELAY, else 1).

Exit codes are the official CLI's: 0 on success and for help; 0, silently, on a Pi that is
not a controller (§8.1); 1 when no board is found, when orders clash (§8.2; ``setorder`` then
still works), for a Pi out of range or an invalid order. Where the official CLI prints an
error and still exits 0 (an unknown command or wrong arguments, an order no board has, ``wp
off`` with the link soldered) this command exits 1; where it silently does nothing (``hub
on`` without a ClusterHAT) this command does nothing either, says why on stderr, and exits 0.
A failing bus or command exits 1 with a message naming the board, never with a traceback.
Messages go to stderr; output to stdout.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass, field

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards_open import hardware_boards, lab_boards
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.cli_actions import COMMANDS, Context, UsageError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.cluster import Cluster
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.dry_run import DryRunBus
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import ClusterCTRLError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.host import MAX_POWER_DELAY, Host

EXIT_OK = 0
EXIT_ERROR = 1
HELP_WORDS = ('help', '--help', '-h', '/?')

USAGE = """Usage: clusterctrl [--json] [--lab FILE] [--dry-run] [--delay SECONDS] <cmd>

# <devices> can be a single device 'p1' or a list 'p2 p3 p5'
# <order> is the order listed by 'clusterctrl status' (default 20)

clusterctrl on|off [<devices>]          # Power on/off all or listed device(s)
clusterctrl status                      # Show status of ClusterHAT/CTRL
clusterctrl maxpi                       # Get number of controllable Pi
sudo clusterctrl init                   # Create/update symlinks for rpiboot [root]
clusterctrl alert on|off [<devices>]    # Turn ALERT LED on/off for all or listed device(s)
clusterctrl led on|off                  # Enable/disable LED (Power/pX/etc.)
clusterctrl hub on|off|reset            # Turns on/off or resets the USB HUB
clusterctrl wp on|off                   # ClusterHAT EEPROM write-protect
clusterctrl usbboot on|off <devices>    # USB boot on/off (ClusterCTRL Single/Triple)

## The following are only available on ClusterCTRL devices
clusterctrl setorder <old> <new>        # Set order on device <old> to <new>
clusterctrl getpath [<devices>]         # Get USB path to Px
clusterctrl fan on|off [<order>|c]      # Turns FAN on/off (all, CTRL with <order>, or the controller's own)
clusterctrl act on|off [<order>]        # Enable/Disable ACT LED
clusterctrl save <order>                # Save current settings to EEPROM
clusterctrl saveorder <order>           # Save current order to EEPROM
clusterctrl saveusbboot <order>         # Save current USBBOOT settings to EEPROM
clusterctrl savepos <order>             # Save current Power On State to EEPROM
clusterctrl savedefaults <order>        # Save factory default settings to EEPROM
clusterctrl reset <order>               # Reset the Cluster CTRL device with <order>

Options: --json (JSON output), --lab FILE (a virtual lab instead of the hardware),
--dry-run (send only reads, print the writes instead), --delay SECONDS (between power-ons)."""


@dataclass
class Invocation:
    """A parsed command line."""

    words: list = field(default_factory=list)
    json: bool = False
    lab: str | None = None
    dry_run: bool = False
    delay: float | None = None


def _delay(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or not 0 <= value <= MAX_POWER_DELAY:
        raise UsageError(f'--delay takes seconds from 0 to {MAX_POWER_DELAY:g}, got {text!r}')
    return value


def parse_line(argv) -> Invocation:
    """Split options (anywhere, ``--`` ends them) from the command words."""
    parsed = Invocation()
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, has_value, value = arg.partition('=')
        if arg == '--':
            parsed.words.extend(args)
            break
        if arg in ('--json', '--dry-run'):
            setattr(parsed, arg[2:].replace('-', '_'), True)
        elif name in ('--lab', '--delay'):
            if not has_value:
                if not args:
                    raise UsageError(f'{name} needs a value')
                value = args.pop(0)
            if name == '--lab':
                parsed.lab = value
            else:
                parsed.delay = _delay(value)
        elif arg.startswith('--') and arg not in HELP_WORDS:
            raise UsageError(f'unknown option {arg!r}; the options are --json, --lab FILE, --dry-run and --delay SECONDS')
        else:
            parsed.words.append(arg)
    return parsed


def _duplicate_orders(cluster) -> str:
    """§8.2 step 4, as the CLI words it, plus the way out it lacks (§8.3)."""
    lines = ["Duplicate ClusterCTRL 'order' found"]
    lines += [f'I2C Bus: {b.bus} Order: {b.order}' for b in cluster.boards if not b.is_hat]
    lines.append(
        'Give each board its own order: "clusterctrl setorder <order> <new order>" renumbers one board of a clashing '
        'pair per call (then "clusterctrl saveorder <new order>")'
    )
    return '\n'.join(lines)


@contextlib.contextmanager
def open_cluster(invocation: Invocation, host: Host, report, warn):
    """Yield the Cluster of the lab or the hardware; in a dry run every bus is wrapped by DryRunBus (which tells ``report``)."""

    def wrap(bus, label, is_hat):
        return DryRunBus(bus, label, report, expander=is_hat) if invocation.dry_run else bus

    options = dict(combined_transfers=True)
    if invocation.lab is not None:
        # Imported only here: the emulator and the lab files cost time a run on hardware does not need.
        from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.store import VirtualLab  # pylint: disable=import-outside-toplevel

        with VirtualLab(invocation.lab).session(check_mode=invocation.dry_run) as session:
            yield Cluster(lab_boards(session, wrap=wrap, **options))
        return
    handles = []
    try:
        yield Cluster(hardware_boards(handles, warn=warn, wrap=wrap, hat=host.hat, **options))
    finally:
        for handle in handles:
            handle.close()


def _prepare_hat(cluster) -> None:
    """§7.4: the official CLI sets up a ClusterHAT that has just powered up (DIR = 0xFF) on every call."""
    for board in cluster.boards:
        if board.is_hat:
            board.driver.initialize()


def execute(invocation: Invocation, out, err) -> int:
    """Run a parsed command line; messages to ``err``, output to ``out``."""
    words = invocation.words
    if not words or words[0] in HELP_WORDS:
        out.write(USAGE + '\n')
        return EXIT_OK
    host = Host.virtual_lab() if invocation.lab is not None else Host.read()
    if not host.is_controller:
        return EXIT_OK  # §8.1: not a controller image: the CLI exits silently, whatever the command
    if words[0] not in COMMANDS:
        raise UsageError(f'Missing arguments: unknown command {words[0]!r}; "clusterctrl help" lists the commands')
    parse, run = COMMANDS[words[0]]
    kwargs = parse(words[1:])
    dry_run = []
    report = dry_run.append if invocation.json else (lambda text: out.write(f'dry-run: {text}\n'))
    delay = host.power_delay if invocation.delay is None else invocation.delay
    with open_cluster(invocation, host, report, lambda text: err.write(f'warning: {text}\n')) as cluster:
        if not cluster.boards:
            raise ClusterCTRLError('No ClusterHAT/CTRL devices found')
        if cluster.clashes and words[0] != 'setorder':
            raise ClusterCTRLError(_duplicate_orders(cluster))
        _prepare_hat(cluster)
        ctx = Context(cluster, host, delay, dry_run=invocation.dry_run)
        try:
            result = run(ctx, **kwargs)
        finally:
            for note in ctx.notes:
                err.write(f'{note}\n')
    if invocation.json:
        data = dict(result.data)
        if invocation.dry_run:
            data['dry_run'] = dry_run
        out.write(json.dumps(data, sort_keys=True) + '\n')
    else:
        out.write(''.join(f'{line}\n' for line in result.lines))
    return EXIT_OK


def main(argv=None) -> int:
    """Entry point of the ``clusterctrl`` command; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    out, err = sys.stdout, sys.stderr
    try:
        return execute(parse_line(argv), out, err)
    except ClusterCTRLError as exc:  # UsageError, bus and command failures, a bad lab file: all name what failed
        err.write(f'ERROR: {exc}\n')
    except (OSError, subprocess.SubprocessError) as exc:  # a device node, a file or a program the command needs
        err.write(f'ERROR: {exc}\n')
    except KeyboardInterrupt:
        err.write('ERROR: interrupted\n')
    except Exception as exc:  # pylint: disable=broad-except
        # the promise is a message, never a traceback
        if os.environ.get('CLUSTERCTRL_DEBUG'):
            raise
        err.write(f'ERROR: unexpected {type(exc).__name__}: {exc} (set CLUSTERCTRL_DEBUG=1 to see where)\n')
    return EXIT_ERROR


if __name__ == '__main__':
    sys.exit(main())  # pylint: disable=ansible-bad-function
