# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The commands of ``clusterctrl`` (spec §8.4): each parses its words first, then runs on the open cluster.

``COMMANDS`` maps a command word to ``(parse, run)``: ``parse(words)`` checks the arguments
without touching a board and returns keyword arguments (UsageError when they are wrong);
``run(ctx, **kwargs)`` acts through the drivers and returns a ``Result``: the lines the
official CLI prints, and the same facts for ``--json``.

Differences from the official CLI, each deliberate (see also cli.py):

* ``on``: no CLUSTERCTRL_DELAY after the last Pi switched on (the CLI also waits after it);
  ALERT is lit only while Pis are switched on; Pis already on are left alone;
* ``usbboot``: each ``pN`` reaches only its own controller (the CLI sends it to every later
  controller too, with a negative Pi number: no ``break``, ``cli:727-736``);
* ``hub on|off`` uses the ClusterHAT's real polarity on v3.0 (§7.3);
* ``hub reset`` on a ClusterCTRL sends HUB_CYCLE with an explicit off-time (10 units, 133 ms)
  instead of whatever DATA0 held (§8.4);
* ``led on`` on a pHAT or Single lights the PWR LED and the LEDs of Pis that are on, one at a
  time, instead of LED_EN(0), which powers every Pi there (§3 [BUG]);
* ``setorder`` works while orders clash: it renumbers one board (the first by USB path, then
  bus) per call; it refuses an order another board has;
* ``wp`` works on ClusterHAT v3 as on v2 (bit 7 is WP on both, §7.3);
* an order that no board has is an error (exit 1), not a message followed by exit 0.
"""

from __future__ import annotations

import glob
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl import cli_status
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import ClusterCTRLError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.host import RPIBOOT_BOOT, RPIBOOT_NFS
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import HUB_CYCLE_MIN_UNITS

_PI = re.compile(r'^p([0-9]{1,6})$')
ON_OFF = ('on', 'off')


class UsageError(ClusterCTRLError):
    """The command line is wrong (nothing was sent)."""


@dataclass
class Result:
    """What a command prints (``lines``) and the same facts for ``--json`` (``data``)."""

    lines: list = field(default_factory=list)
    data: dict = field(default_factory=dict)


@dataclass
class Context:
    """The open cluster and what a command needs besides it."""

    cluster: object
    host: object
    delay: float
    dry_run: bool = False
    notes: list = field(default_factory=list)  # printed on stderr
    sleep: object = None  # default: time.sleep, looked up when waiting
    _switched_on: int = 0

    def stagger(self) -> None:
        """CLUSTERCTRL_DELAY between two power-ons, none before the first or after the last (§8.4, §10.5)."""
        if self._switched_on and self.delay and not self.dry_run:
            (self.sleep or time.sleep)(self.delay)
        self._switched_on += 1

    def controllers(self) -> list:
        return [board for board in self.cluster.boards if not board.is_hat]

    def hat(self):
        return next((board for board in self.cluster.boards if board.is_hat), None)

    def board_with_order(self, order: int):
        """The ClusterCTRL with this order; with clashing orders (only ``setorder`` gets here) the first by USB path, then bus."""
        for board in self.controllers():
            if board.order == order:
                return board
        raise ClusterCTRLError(
            f'Unable to find Cluster CTRL device with that order: no ClusterCTRL has order {order}; orders '
            f'present: {", ".join(str(b.order) for b in self.controllers()) or "none"}'
        )

    def pis(self, tokens) -> list:
        """PiAddress of each ``pN`` (all Pis when none), with the CLI's message when one is out of range (§8.4)."""
        numbers = [int(_PI.match(token).group(1)) for token in tokens]
        if any(not 1 <= number <= self.cluster.size for number in numbers):
            raise ClusterCTRLError(f'Valid options are p1-p{self.cluster.size}')
        return self.cluster.resolve([f'p{number}' for number in numbers] or ['all'])


# ---------------------------------------------------------------------------- argument checks (no board touched)


def _words(words, count, usage):
    if len(words) != count:
        raise UsageError(f'Missing arguments: expected "clusterctrl {usage}"')
    return words


def _choice(word, choices, usage):
    if word not in choices:
        raise UsageError(f'Missing arguments: expected "clusterctrl {usage}", got {word!r}')
    return word


def _order(text, what='order'):
    if not re.fullmatch(r'[0-9]{1,3}', text) or not 1 <= int(text) <= 255:
        raise UsageError(f'Invalid {what}: {text!r} (an order is a number from 1 to 255)')
    return int(text)


def _pi_tokens(tokens):
    for token in tokens:
        if not _PI.match(token):
            raise UsageError(f'{token!r} is not a Pi: name Pis p1, p2, ... as "clusterctrl status" numbers them')
    return list(tokens)


def _parse_none(words, name):
    _words(words, 0, name)
    return {}


def _parse_switch_pis(usage, need_pis=False):
    def parse(words):
        if not words:
            raise UsageError(f'Missing arguments: expected "clusterctrl {usage}"')
        state = _choice(words[0], ON_OFF, usage)
        if need_pis and len(words) < 2:
            raise UsageError(f'Missing arguments: name the Pis: "clusterctrl {usage}"')
        return dict(on=state == 'on', tokens=_pi_tokens(words[1:]))

    return parse


def _parse_switch(usage, choices=ON_OFF):
    def parse(words):
        _words(words, 1, usage)
        return dict(state=_choice(words[0], choices, usage))

    return parse


def _parse_order_command(name):
    def parse(words):
        _words(words, 1, f'{name} <order>')
        return dict(order=_order(words[0]))

    return parse


# ---------------------------------------------------------------------------- power


def _switch_on(ctx, board, slots):
    """Switch on the given slots that are off, ALERT lit meanwhile (§8.4 on)."""
    driver = board.driver
    if board.is_hat:
        state = driver.decode(driver.read_in())  # one read: power and ALERT
        off = [slot for slot in slots if not state.power[slot - 1]]
        alert = not state.alert
    else:
        off = [slot for slot in slots if not driver.power_status(slot)]
        alert = driver.spec.has_alert_led
    if off and alert:
        driver.alert_on()
    for slot in off:
        ctx.stagger()
        driver.power_on(slot)
    if off and alert:
        driver.alert_off()
    return off


def _by_board(addrs):
    groups = OrderedDict()
    for addr in addrs:
        groups.setdefault(addr.board, []).append(addr)
    return groups


def run_power(ctx, on, tokens):
    addrs = ctx.pis(tokens)
    changed = []
    for board, group in _by_board(addrs).items():
        slots = [a.slot for a in group]
        if on:
            switched = set(_switch_on(ctx, board, slots))
            changed += [a.name for a in group if a.slot in switched]
        elif board.is_hat and not tokens:
            board.driver.power_all_off()
        else:
            for slot in slots:
                board.driver.power_off(slot)
    return Result(data=dict(pis=[a.name for a in addrs], switched_on=changed if on else None))


def run_usbboot(ctx, on, tokens):
    addrs = [a for a in ctx.pis(tokens) if not a.board.is_hat]  # §8.4: HAT Pis are skipped silently
    unable = [a.name for a in addrs if not a.board.driver.spec.has_usbboot]
    if unable:
        ctx.notes.append(f'skipped {", ".join(unable)}: their controllers have no USB boot control (only Single and Triple do)')
    for addr in addrs:
        if addr.board.driver.spec.has_usbboot:
            (addr.board.driver.usbboot_on if on else addr.board.driver.usbboot_off)(addr.slot)
    return Result(data=dict(pis=[a.name for a in addrs if a.name not in unable], skipped=unable))


# ---------------------------------------------------------------------------- LEDs, hub, write-protect, fan


def run_alert(ctx, on, tokens):
    boards = list(_by_board(ctx.pis(tokens))) if tokens else ctx.cluster.boards
    for board in boards:
        if board.is_hat or board.driver.spec.has_alert_led:
            (board.driver.alert_on if on else board.driver.alert_off)()
    return Result()


def run_led(ctx, state):
    for board in ctx.cluster.boards:
        driver = board.driver
        if board.is_hat:
            if driver.has_led:  # v2 only (§7.3)
                (driver.led_all_on if state == 'on' else driver.led_all_off)()
        elif state == 'off':
            driver.led_all_off()
        elif driver.spec.gpio == 'D':  # §3 [BUG]: LED_EN(0) would power every Pi here
            driver.pwr_led_on()
            for slot in range(1, driver.maxpi + 1):
                if driver.power_status(slot):
                    driver.led_on(slot)
        else:
            driver.led_all_on()
    return Result()


def parse_act(words):
    usage = 'act on|off [<order>]'
    if len(words) not in (1, 2):
        raise UsageError(f'Missing arguments: expected "clusterctrl {usage}"')
    return dict(on=_choice(words[0], ON_OFF, usage) == 'on', order=_order(words[1]) if len(words) == 2 else None)


def run_act(ctx, on, order):
    boards = [ctx.board_with_order(order)] if order is not None else [b for b in ctx.controllers() if b.driver.spec.has_act_led]
    if not boards:
        ctx.notes.append('no ClusterCTRL here has an ACT LED (only the A+6 has one)')
    for board in boards:
        (board.driver.act_on if on else board.driver.act_off)()
    return Result()


def run_hub(ctx, state):
    hat = ctx.hat()
    if state == 'reset':
        if hat is not None:
            hat.driver.hub_reset(delay=0 if ctx.dry_run else ctx.delay)
        for board in ctx.controllers():
            board.driver.hub_reset(HUB_CYCLE_MIN_UNITS)
        return Result()
    if hat is None:
        ctx.notes.append('hub on|off needs a ClusterHAT: a ClusterCTRL can only reset its hub ("clusterctrl hub reset")')
    else:
        (hat.driver.hub_on if state == 'on' else hat.driver.hub_off)()
    return Result()


def run_wp(ctx, state):
    hat = ctx.hat()
    if hat is None:
        ctx.notes.append('wp needs a ClusterHAT (the write-protect of its EEPROM)')
    else:
        (hat.driver.wp_on if state == 'on' else hat.driver.wp_off)()
    return Result()


def parse_fan(words):
    usage = 'fan on|off [<order>|c]'
    if len(words) not in (1, 2):
        raise UsageError(f'Missing arguments: expected "clusterctrl {usage}"')
    target = None
    if len(words) == 2:
        target = 'c' if words[1] == 'c' else _order(words[1])
    return dict(on=_choice(words[0], ON_OFF, usage) == 'on', target=target)


def run_fan(ctx, on, target):
    if target in (None, 'c') and ctx.host.fan_gpio is not None:  # the controller Pi's own fan (FANGPIO, §8.4)
        if ctx.dry_run:
            ctx.notes.append(f'dry run: would set GPIO {ctx.host.fan_gpio} {"high" if on else "low"} with pinctrl')
        else:
            ctx.host.set_fan_gpio(on)
    if target == 'c':
        return Result()
    boards = [ctx.board_with_order(target)] if target is not None else [b for b in ctx.controllers() if b.driver.spec.fan != 'none']
    for board in boards:
        (board.driver.fan_on if on else board.driver.fan_off)()
    return Result()


# ---------------------------------------------------------------------------- order, EEPROM, reset


def parse_setorder(words):
    _words(words, 2, 'setorder <old> <new>')
    return dict(old=_order(words[0], 'order old'), new=_order(words[1], 'order new'))


def run_setorder(ctx, old, new):
    board = ctx.board_with_order(old)
    others = [b for b in ctx.controllers() if b.order == new and b is not board]
    if others:
        raise ClusterCTRLError(f'order {new} is already used by the {others[0].driver.type.product} ({others[0].where}); orders must be distinct')
    if old in ctx.cluster.clashes:
        ctx.notes.append(
            f'orders clash: gave order {new} to the {board.driver.type.product} ({board.where}) only; '
            'run setorder again for the next board that shares an order, then saveorder'
        )
    board.driver.set_order(new)
    return Result(data=dict(old=old, new=new, bus=board.bus, usb_path=board.usb_path))


def _saver(method, printed):
    def run(ctx, order):
        board = ctx.board_with_order(order)
        getattr(board.driver, method)()
        return Result(lines=[printed], data=dict(order=order))

    return run


# ---------------------------------------------------------------------------- information


def run_maxpi(ctx):
    return Result(lines=[str(ctx.cluster.size)], data=dict(maxpi=ctx.cluster.size))


def run_status(ctx):
    status = cli_status.collect(ctx.cluster, ctx.host)
    return Result(lines=cli_status.render(status), data=cli_status.as_json(status))


def usb_paths(ctx, tokens) -> dict:
    """``{pN: USB path}`` as ``getpath`` prints it: '' where a controller cannot tell (§8.6: Stack); no ClusterHAT Pis (§7.5)."""
    paths, controller_hops = OrderedDict(), {}
    for addr in ctx.pis(tokens):
        board = addr.board
        if board.is_hat:
            continue  # the CLI finds a HAT's hub by switching it off and on and scanning USB; not done here
        if board not in controller_hops:
            known = board.usb_path is not None and board.driver.spec.paths is not None
            controller_hops[board] = board.driver.get_path(0) if known else None
        path = board.pi_usb_path(addr.slot, controller_hops[board]) if controller_hops[board] is not None else None
        paths[addr.name] = path or ''
    return paths


def run_getpath(ctx, tokens):
    paths = usb_paths(ctx, tokens)
    return Result(lines=[f'{name}:{path}' for name, path in paths.items()], data=dict(paths=dict(paths)))


def run_init(ctx):
    """§8.4 init: the ClusterHAT's first-run set-up (done by every invocation) and, with LINK=1 as root, the rpiboot links."""
    if not ctx.host.links_rpiboot:
        return Result()
    paths = {name[1:]: path for name, path in usb_paths(ctx, []).items() if path}
    done = []
    for link in glob.glob(os.path.join(RPIBOOT_BOOT, '*-*')):
        target = os.path.realpath(link)
        if os.path.islink(link) and target.startswith(RPIBOOT_NFS):
            number = target.removeprefix(RPIBOOT_NFS).split('/', 1)[0][1:]
            if number in paths:
                done.append(f'remove {link}')
                if not ctx.dry_run:
                    os.unlink(link)
    for number, path in sorted(paths.items(), key=lambda item: int(item[0])):
        link = os.path.join(RPIBOOT_BOOT, path)
        firmware = os.path.join(RPIBOOT_NFS, f'p{number}', 'boot', 'firmware')
        target = (firmware if os.path.isdir(firmware) else os.path.join(RPIBOOT_NFS, f'p{number}', 'boot')) + '/'
        done.append(f'link {link} -> {target}')
        if not ctx.dry_run:
            if os.path.islink(link):
                os.unlink(link)
            os.symlink(target, link)
    if ctx.dry_run:
        ctx.notes.extend(f'dry run: would {step}' for step in done)
    return Result(data=dict(links=done))


# ---------------------------------------------------------------------------- the table

COMMANDS = {
    'on': (lambda words: dict(on=True, tokens=_pi_tokens(words)), run_power),
    'off': (lambda words: dict(on=False, tokens=_pi_tokens(words)), run_power),
    'status': (lambda words: _parse_none(words, 'status'), run_status),
    'maxpi': (lambda words: _parse_none(words, 'maxpi'), run_maxpi),
    'init': (lambda words: _parse_none(words, 'init'), run_init),
    'getpath': (lambda words: dict(tokens=_pi_tokens(words)), run_getpath),
    'alert': (_parse_switch_pis('alert on|off [<devices>]'), run_alert),
    'usbboot': (_parse_switch_pis('usbboot on|off <devices>', need_pis=True), run_usbboot),
    'led': (_parse_switch('led on|off'), run_led),
    'hub': (_parse_switch('hub on|off|reset', ('on', 'off', 'reset')), run_hub),
    'wp': (_parse_switch('wp on|off'), run_wp),
    'act': (parse_act, run_act),
    'fan': (parse_fan, run_fan),
    'setorder': (parse_setorder, run_setorder),
    'save': (_parse_order_command('save'), _saver('eeprom_save_all', 'saved')),
    'saveorder': (_parse_order_command('saveorder'), _saver('eeprom_save_order', 'saved')),
    'saveusbboot': (_parse_order_command('saveusbboot'), _saver('eeprom_save_usbboot', 'saved')),
    'savepos': (_parse_order_command('savepos'), _saver('eeprom_save_powerstate', 'saved')),
    'savedefaults': (_parse_order_command('savedefaults'), _saver('eeprom_reset', 'saved')),
    'reset': (_parse_order_command('reset'), _saver('reset', 'reset')),
}
